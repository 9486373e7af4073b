//! An HTTP/1.1 server on the neptune runtime: hyper, through `neptune::runtime::http`.
//!
//! `GET /` answers a greeting and `GET /slots` the runtime's slot count, in plain text;
//! other paths get 404 and other methods 405. Each connection is a Stream task, so
//! requests never queue behind Batch work. A client that does not send a complete
//! request head within 10 s has its connection closed.
//!
//! ```text
//! cargo run --example hyper_server -- [--listen 127.0.0.1:8080]
//! curl http://127.0.0.1:8080/slots
//! ```

use clap::Parser;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use neptune::runtime::http::{HyperIo, HyperTimer};
use neptune::runtime::net::TcpListener;
use neptune::runtime::{spawn_with, time, Runtime, SpawnOptions};
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// How long a client has to send a complete request head (on a new connection, and
/// between requests on a kept-alive one).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP/1.1 server on the neptune runtime.
#[derive(Parser)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("hyper_server: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let slots = rt.slots();
    match rt.block_on(serve(args.listen, slots)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hyper_server: {}: {err}", args.listen);
            ExitCode::FAILURE
        }
    }
}

/// Accepts connections on `addr` and serves each in its own Stream task.
async fn serve(addr: SocketAddr, slots: usize) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let mut http = http1::Builder::new();
    http.timer(HyperTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors, say: retrying at once would only spin.
                eprintln!("accept: {err}");
                time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Responses are small and written whole: send them without Nagle's delay.
        if let Err(err) = stream.set_nodelay(true) {
            eprintln!("{peer}: TCP_NODELAY: {err}");
        }
        let service = service_fn(move |req| respond(req, slots));
        let connection = http.serve_connection(HyperIo::new(stream), service);
        spawn_with(SpawnOptions::stream(), async move {
            if let Err(err) = connection.await {
                eprintln!("{peer}: {err}");
            }
        });
    }
}

async fn respond(req: Request<Incoming>, slots: usize) -> Result<Response<String>, Infallible> {
    let (status, body) = match (req.uri().path(), req.method()) {
        ("/", &Method::GET) => (StatusCode::OK, "Hello from neptune\n".to_owned()),
        ("/slots", &Method::GET) => (StatusCode::OK, format!("{slots}\n")),
        ("/" | "/slots", _) => (
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n".to_owned(),
        ),
        _ => (StatusCode::NOT_FOUND, "not found\n".to_owned()),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
    }
    Ok(response)
}
