//! hyper's HTTP/1.1 server and client, both on the neptune runtime through
//! `neptune::runtime::http`, talking over loopback.
//!
//! Every test runs under one 30 s bound, so a broken server fails the test instead of
//! hanging it; no test asserts on how long anything took.

use futures::channel::mpsc;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, CONTENT_LENGTH, HOST};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use neptune::runtime::http::{HyperIo, HyperTimer};
use neptune::runtime::net::{TcpListener, TcpStream};
use neptune::runtime::{spawn_with, time, Builder, SpawnOptions};
use std::collections::HashSet;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

/// The most any test may take before it counts as hung.
const BOUND: Duration = Duration::from_secs(30);
/// Long enough never to fire while a test runs.
const PATIENT: Duration = Duration::from_secs(60);
/// The most connections a test server accepts.
const MAX_CONNECTIONS: usize = 64;
/// The most bytes a raw client reads before deciding the server talks too much.
const MAX_REPLY: usize = 64 * 1024;
/// Names the server connection that answered (connections are numbered from 0).
const CONNECTION: &str = "x-connection";

/// Runs `test` on a two-slot runtime, within [`BOUND`].
fn run<F: Future<Output = ()>>(test: F) {
    let rt = Builder::new().slots(2).build().unwrap();
    rt.block_on(async {
        time::timeout(BOUND, test)
            .await
            .expect("the test did not finish within its 30 s bound")
    });
}

/// A test server: its address, and the outcome of each connection it served, in the
/// order they ended.
struct Server {
    addr: SocketAddr,
    ended: mpsc::UnboundedReceiver<Result<(), hyper::Error>>,
}

/// Starts a server on 127.0.0.1 answering `GET /` with "hello" and echoing the body of
/// `POST /echo`; every response names its connection in [`CONNECTION`].
async fn start_server(header_read_timeout: Duration) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, ended) = mpsc::unbounded();
    let mut http = http1::Builder::new();
    http.timer(HyperTimer::new())
        .header_read_timeout(header_read_timeout);
    spawn_with(SpawnOptions::stream(), async move {
        for id in 0..MAX_CONNECTIONS {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = service_fn(move |req| respond(req, id));
            let connection = http.serve_connection(HyperIo::new(stream), service);
            let report = report.clone();
            spawn_with(SpawnOptions::stream(), async move {
                // The receiver may be gone once the test has what it needs.
                let _ = report.unbounded_send(connection.await);
            });
        }
    });
    Server { addr, ended }
}

async fn respond(req: Request<Incoming>, id: usize) -> Result<Response<String>, hyper::Error> {
    let (status, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => (StatusCode::OK, "hello".to_owned()),
        (&Method::POST, "/echo") => {
            let body = read_body(req.into_body()).await?;
            match String::from_utf8(body) {
                Ok(text) => (StatusCode::OK, text),
                Err(_) => (StatusCode::BAD_REQUEST, "not UTF-8".to_owned()),
            }
        }
        _ => (StatusCode::NOT_FOUND, "not found".to_owned()),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from(id));
    Ok(response)
}

/// Reads a whole body (the peer is a test client or server, so no size limit).
async fn read_body(mut body: Incoming) -> Result<Vec<u8>, hyper::Error> {
    let mut bytes = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame?.into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// Opens a hyper client connection to `addr`, driven by its own Stream task.
async fn connect(addr: SocketAddr) -> SendRequest<String> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
        .await
        .unwrap();
    spawn_with(SpawnOptions::stream(), async move {
        // Ends when the sender is dropped; the test sees failures through the sender.
        let _ = connection.await;
    });
    sender
}

/// A response, read whole: status, the server connection that answered, body.
struct Reply {
    status: StatusCode,
    connection: usize,
    body: String,
}

async fn send(sender: &mut SendRequest<String>, method: Method, path: &str, body: &str) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "localhost")
        .body(body.to_owned())
        .unwrap();
    sender.ready().await.unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let connection = response.headers()[CONNECTION]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let declared_length: usize = response.headers()[CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = String::from_utf8(read_body(response.into_body()).await.unwrap()).unwrap();
    assert_eq!(body.len(), declared_length);
    Reply {
        status,
        connection,
        body,
    }
}

/// Reads from a raw connection until the server closes it (end of stream or an error
/// such as a reset), returning what the server sent first.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while reply.len() < MAX_REPLY {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return reply,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    panic!(
        "the server sent {} bytes and kept the connection open",
        reply.len()
    );
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    run(async {
        let server = start_server(PATIENT).await;
        let mut sender = connect(server.addr).await;
        let mut connections = HashSet::new();
        for i in 0..5 {
            let reply = send(&mut sender, Method::GET, "/", "").await;
            assert_eq!(
                (reply.status, reply.body.as_str()),
                (StatusCode::OK, "hello")
            );
            connections.insert(reply.connection);
            let echoed = format!("request {i}");
            let reply = send(&mut sender, Method::POST, "/echo", &echoed).await;
            assert_eq!(reply.body, echoed);
            connections.insert(reply.connection);
        }
        let reply = send(&mut sender, Method::GET, "/missing", "").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        connections.insert(reply.connection);
        assert_eq!(
            connections.len(),
            1,
            "one connection served all: {connections:?}"
        );
    });
}

#[test]
fn concurrent_connections_are_served_independently() {
    const CLIENTS: usize = 8;
    const REQUESTS: usize = 4;
    run(async {
        let addr = start_server(PATIENT).await.addr;
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                spawn_with(SpawnOptions::stream(), async move {
                    let mut sender = connect(addr).await;
                    let mut connections = HashSet::new();
                    for request in 0..REQUESTS {
                        let body = format!("client {client} request {request}");
                        let reply = send(&mut sender, Method::POST, "/echo", &body).await;
                        assert_eq!((reply.status, reply.body), (StatusCode::OK, body));
                        connections.insert(reply.connection);
                    }
                    assert_eq!(connections.len(), 1, "{connections:?}");
                    connections.into_iter().next().unwrap()
                })
            })
            .collect();
        let mut connections = HashSet::new();
        for client in clients {
            connections.insert(client.await.expect("client task"));
        }
        assert_eq!(connections.len(), CLIENTS, "{connections:?}");
    });
}

#[test]
fn a_posted_body_is_echoed_back() {
    run(async {
        let server = start_server(PATIENT).await;
        let mut sender = connect(server.addr).await;
        // Larger than one read and one write of either side.
        let large: String = (0..200_000u32)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        for body in ["", "ping", large.as_str()] {
            let reply = send(&mut sender, Method::POST, "/echo", body).await;
            assert_eq!(reply.status, StatusCode::OK);
            assert!(
                reply.body == body,
                "echoed {} bytes of {}",
                reply.body.len(),
                body.len()
            );
        }
    });
}

#[test]
fn header_read_timeout_closes_a_stalled_connection() {
    run(async {
        let mut server = start_server(Duration::from_millis(200)).await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        // An incomplete head (no blank line), then silence with the connection open.
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .unwrap();
        let reply = read_until_closed(&mut stream).await;
        assert!(
            reply.is_empty(),
            "closed without a response, got {:?}",
            String::from_utf8_lossy(&reply)
        );
        let outcome = server.ended.next().await.expect("the connection ended");
        let err = outcome.expect_err("the connection ended in an error");
        assert!(err.is_timeout(), "ended by the header read timeout: {err}");
    });
}

#[test]
fn garbage_gets_a_400_or_a_closed_connection() {
    run(async {
        let mut server = start_server(PATIENT).await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"\x16\x03\x01\x02\x00\x01 this is not HTTP \xff\xfe\r\n\r\n")
            .await
            .unwrap();
        let reply = read_until_closed(&mut stream).await;
        assert!(
            reply.is_empty() || reply.starts_with(b"HTTP/1.1 400 "),
            "got {:?}",
            String::from_utf8_lossy(&reply)
        );
        // The connection task finished (no panic) and reported the parse error.
        let outcome = server.ended.next().await.expect("the connection ended");
        let err = outcome.expect_err("the connection ended in an error");
        assert!(err.is_parse(), "a parse error: {err}");

        // The server still serves well-formed requests.
        let mut sender = connect(server.addr).await;
        let reply = send(&mut sender, Method::GET, "/", "").await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::OK, "hello")
        );
    });
}
