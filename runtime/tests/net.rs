//! TCP and UDP through the public runtime API, on loopback only.

// The timer and network modules do not exist in loom builds.
#![cfg(not(loom))]

use std::collections::HashSet;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::Either;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use neptune_runtime::net::{lookup_host, TcpListener, TcpStream, UdpSocket};
use neptune_runtime::time::{sleep, timeout};
use neptune_runtime::{spawn, Builder, Runtime};

fn runtime() -> Runtime {
    Builder::new().slots(2).build().unwrap()
}

/// Bounds a test step so that a bug shows up as a failure rather than a hung test.
async fn bounded<F: std::future::Future>(future: F) -> F::Output {
    timeout(Duration::from_secs(30), future)
        .await
        .expect("operation did not complete")
}

#[test]
fn tcp_echo_with_several_clients() {
    const CLIENTS: usize = 8;
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let mut connections = Vec::new();
            for _ in 0..CLIENTS {
                let (mut stream, peer) = listener.accept().await.unwrap();
                assert_eq!(stream.peer_addr().unwrap(), peer);
                connections.push(spawn(async move {
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = stream.read(&mut buf).await.unwrap();
                        if n == 0 {
                            break;
                        }
                        stream.write_all(&buf[..n]).await.unwrap();
                    }
                    stream.close().await.unwrap();
                }));
            }
            for connection in connections {
                connection.await.unwrap();
            }
        });

        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    assert_eq!(stream.peer_addr().unwrap(), addr);
                    let message: Vec<u8> = (0..10_000).map(|j| (i * 31 + j) as u8).collect();
                    stream.write_all(&message).await.unwrap();
                    stream.close().await.unwrap();
                    let mut echoed = Vec::new();
                    stream.read_to_end(&mut echoed).await.unwrap();
                    assert_eq!(echoed, message);
                })
            })
            .collect();
        for client in clients {
            bounded(client).await.unwrap();
        }
        bounded(server).await.unwrap();
    });
}

#[test]
fn tcp_stream_shared_by_a_reader_and_a_writer_task() {
    const LEN: usize = 4 * 1024 * 1024;
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (mut reader, mut writer) = (&stream, &stream);
            futures::io::copy(&mut reader, &mut writer).await.unwrap();
        });
        let stream = Arc::new(TcpStream::connect(addr).await.unwrap());
        // The payload is larger than the socket buffers, so reading and writing must
        // progress at the same time.
        let writer = {
            let stream = stream.clone();
            spawn(async move {
                let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
                (&*stream).write_all(&data).await.unwrap();
                (&*stream).close().await.unwrap();
            })
        };
        let reader = {
            let stream = stream.clone();
            spawn(async move {
                let mut received = Vec::with_capacity(LEN);
                (&*stream).read_to_end(&mut received).await.unwrap();
                received
            })
        };
        bounded(writer).await.unwrap();
        let received = bounded(reader).await.unwrap();
        assert_eq!(received.len(), LEN);
        assert!(received
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 251) as u8));
        bounded(server).await.unwrap();
    });
}

#[test]
fn several_tasks_accept_on_one_listener() {
    const ACCEPTORS: usize = 4;
    let rt = runtime();
    rt.block_on(async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let acceptors: Vec<_> = (0..ACCEPTORS)
            .map(|_| {
                let listener = listener.clone();
                spawn(async move { listener.accept().await.unwrap().1 })
            })
            .collect();
        sleep(Duration::from_millis(50)).await;
        let mut streams = Vec::new();
        for _ in 0..ACCEPTORS {
            streams.push(TcpStream::connect(addr).await.unwrap());
        }
        let mut peers = HashSet::new();
        for acceptor in acceptors {
            peers.insert(bounded(acceptor).await.unwrap());
        }
        let locals: HashSet<SocketAddr> = streams.iter().map(|s| s.local_addr().unwrap()).collect();
        assert_eq!(peers, locals);
    });
}

#[test]
fn tcp_connect_to_closed_port_fails() {
    let rt = runtime();
    rt.block_on(async {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = bounded(TcpStream::connect(addr)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn udp_round_trip() {
    let rt = runtime();
    rt.block_on(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let echo = spawn(async move {
            let mut buf = [0u8; 1500];
            for _ in 0..3 {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                server.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut buf = [0u8; 1500];
        for message in [&b"one"[..], b"two", b"three"] {
            client.send_to(message, server_addr).await.unwrap();
            let (n, from) = bounded(client.recv_from(&mut buf)).await.unwrap();
            assert_eq!(from, server_addr);
            assert_eq!(&buf[..n], message);
        }
        bounded(echo).await.unwrap();

        // Connected mode.
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        a.send(b"hello").await.unwrap();
        let n = bounded(b.recv(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
    });
}

#[test]
fn many_tasks_receive_on_one_udp_socket() {
    const RECEIVERS: usize = 16;
    let rt = runtime();
    rt.block_on(async {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = socket.local_addr().unwrap();
        let receivers: Vec<_> = (0..RECEIVERS)
            .map(|_| {
                let socket = socket.clone();
                spawn(async move {
                    let mut buf = [0u8; 16];
                    let (n, _) = socket.recv_from(&mut buf).await.unwrap();
                    buf[..n].to_vec()
                })
            })
            .collect();
        // Give every receiver time to start waiting on the socket.
        sleep(Duration::from_millis(100)).await;
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for i in 0..RECEIVERS {
            sender.send_to(&[i as u8], addr).await.unwrap();
        }
        let mut received = HashSet::new();
        for receiver in receivers {
            received.insert(bounded(receiver).await.unwrap());
        }
        let expected: HashSet<Vec<u8>> = (0..RECEIVERS).map(|i| vec![i as u8]).collect();
        assert_eq!(received, expected, "each receiver got exactly one datagram");
    });
}

#[test]
fn dropping_a_socket_while_a_task_waits_on_it() {
    let rt = runtime();
    rt.block_on(async {
        // A task waiting on a socket it owns is cancelled: the receive future and the
        // socket are dropped while registered as waiting.
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let (cancel, cancelled) = oneshot::channel::<()>();
        let waiter = spawn(async move {
            let mut buf = [0u8; 16];
            let recv = Box::pin(socket.recv_from(&mut buf));
            let cancelled = matches!(
                futures::future::select(recv, cancelled).await,
                Either::Right(_)
            );
            drop(socket);
            cancelled
        });
        sleep(Duration::from_millis(50)).await;
        cancel.send(()).unwrap();
        assert!(bounded(waiter).await.unwrap());
        // The socket was closed, so its port can be bound again.
        let rebound = UdpSocket::bind(addr).await.unwrap();

        // A timeout drops a pending receive together with its socket.
        let result = timeout(Duration::from_millis(30), async move {
            let mut buf = [0u8; 16];
            rebound.recv_from(&mut buf).await
        })
        .await;
        assert!(result.is_err());
        drop(UdpSocket::bind(addr).await.unwrap());

        // The peer of a TCP connection drops it while a task waits to read: the read
        // ends with EOF instead of hanging.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp_addr = listener.local_addr().unwrap();
        let reader = spawn(async move {
            let mut stream = TcpStream::connect(tcp_addr).await.unwrap();
            let mut buf = [0u8; 16];
            stream.read(&mut buf).await.unwrap()
        });
        let (accepted, _) = listener.accept().await.unwrap();
        sleep(Duration::from_millis(50)).await;
        drop(accepted);
        assert_eq!(bounded(reader).await.unwrap(), 0);
    });
}

#[test]
fn sockets_from_std() {
    let rt = runtime();
    rt.block_on(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let listener = TcpListener::from_std(std_listener).unwrap();
        let client = std::thread::spawn(move || {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            std::io::Write::write_all(&mut stream, b"from std").unwrap();
        });
        let (mut stream, _) = bounded(listener.accept()).await.unwrap();
        let mut text = Vec::new();
        bounded(stream.read_to_end(&mut text)).await.unwrap();
        assert_eq!(text, b"from std");
        client.join().unwrap();

        let std_udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::from_std(std_udp).unwrap();
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(b"x", udp.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 4];
        let (n, from) = bounded(udp.recv_from(&mut buf)).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"x"[..], peer.local_addr().unwrap()));
    });
}

#[test]
#[should_panic(expected = "must be called from within a neptune runtime")]
fn socket_outside_runtime_panics() {
    let _ = UdpSocket::from_std(std::net::UdpSocket::bind("127.0.0.1:0").unwrap());
}

#[test]
fn connect_and_bind_by_host_name() {
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Every form of a host name; "localhost" may also resolve to ::1, where nothing
        // listens, and then the next address is tried.
        let by_string = bounded(TcpStream::connect(format!("localhost:{port}")))
            .await
            .unwrap();
        let by_pair = bounded(TcpStream::connect(("localhost", port)))
            .await
            .unwrap();
        let by_owned_pair = bounded(TcpStream::connect((String::from("localhost"), port)))
            .await
            .unwrap();
        for stream in [by_string, by_pair, by_owned_pair] {
            assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
            let (accepted, _) = bounded(listener.accept()).await.unwrap();
            assert_eq!(accepted.peer_addr().unwrap(), stream.local_addr().unwrap());
        }

        let by_name = bounded(TcpListener::bind("localhost:0")).await.unwrap();
        assert!(by_name.local_addr().unwrap().ip().is_loopback());

        // UDP: bound, and sent to, by name (the first address of the name both times).
        let server = bounded(UdpSocket::bind(("localhost", 0))).await.unwrap();
        let server_addr = server.local_addr().unwrap();
        assert!(server_addr.ip().is_loopback());
        let client = UdpSocket::bind((server_addr.ip(), 0)).await.unwrap();
        let target = format!("localhost:{}", server_addr.port());
        bounded(client.send_to(b"by name", &target)).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = bounded(server.recv_from(&mut buf)).await.unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"by name"[..], client.local_addr().unwrap())
        );

        let looked_up: Vec<SocketAddr> = lookup_host(("localhost", 7)).await.unwrap().collect();
        assert!(!looked_up.is_empty());
        assert!(looked_up
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 7));
    });
}

#[test]
fn literal_addresses_in_every_form() {
    let rt = runtime();
    rt.block_on(async {
        let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = v4.local_addr().unwrap();
        let SocketAddr::V4(addr_v4) = addr else {
            panic!("{addr} is not IPv4")
        };
        let streams = [
            TcpStream::connect(addr).await.unwrap(),
            TcpStream::connect(addr_v4).await.unwrap(),
            TcpStream::connect((addr.ip(), addr.port())).await.unwrap(),
            TcpStream::connect(addr.to_string()).await.unwrap(),
            TcpStream::connect(&addr.to_string()).await.unwrap(),
            TcpStream::connect(("127.0.0.1", addr.port()))
                .await
                .unwrap(),
        ];
        for stream in &streams {
            assert_eq!(stream.peer_addr().unwrap(), addr);
        }

        // A list is tried in order: 192.0.2.1 (TEST-NET-1) is no local address, so
        // binding to it fails and the next one is used.
        let unbindable = SocketAddr::from(([192, 0, 2, 1], 0));
        let loopback = SocketAddr::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
        let udp = UdpSocket::bind(&[unbindable, loopback][..]).await.unwrap();
        assert_eq!(udp.local_addr().unwrap().ip(), loopback.ip());
        let err = UdpSocket::bind(&[unbindable][..]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrNotAvailable);
        let err = UdpSocket::bind(&[][..]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    });
}

#[test]
fn a_name_that_does_not_resolve_is_a_clear_error() {
    let rt = runtime();
    rt.block_on(async {
        // `.invalid` is reserved (RFC 2606): no such name ever resolves.
        let err = bounded(TcpStream::connect("no-such-host.invalid:80"))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("could not resolve no-such-host.invalid:80: "),
            "{text}"
        );
        let err = bounded(UdpSocket::bind(("no-such-host.invalid", 0)))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no-such-host.invalid:0"), "{err}");

        // Not HOST:PORT at all: refused as it is, and says what was expected.
        for bad in ["localhost", "localhost:http", "127.0.0.1:99999"] {
            let err = TcpListener::bind(bad).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}");
            assert!(err.to_string().contains("HOST:PORT"), "{bad}: {err}");
        }
    });
}

/// The lookup of a host name waits for a blocking thread: with the runtime's only one
/// held by another job, a connection by name cannot finish (it would, were the name
/// looked up on the slot), while one to a literal address does.
#[test]
fn host_names_are_looked_up_on_the_blocking_pool() {
    let rt = Builder::new()
        .slots(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();

        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let holder = rt.handle().spawn_blocking(move || {
            let _ = started_tx.send(());
            let _ = gate.recv();
        });
        started
            .recv_timeout(Duration::from_secs(30))
            .expect("the blocking job never started");

        let by_name = spawn(TcpStream::connect(("localhost", addr.port())));
        let literal = spawn(TcpStream::connect(addr));
        // Not looked up: connected although the pool is busy.
        bounded(literal).await.unwrap().unwrap();
        sleep(Duration::from_millis(300)).await;
        assert!(
            !by_name.is_finished(),
            "the name was looked up although no blocking thread was free"
        );

        release.send(()).unwrap();
        bounded(holder).await.unwrap();
        let stream = bounded(by_name).await.unwrap().unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addr);
    });
}

/// A socket used from a thread outside any runtime still looks names up without
/// blocking that thread's executor (on a thread of its own).
#[test]
fn a_socket_used_outside_the_runtime_resolves_names() {
    let rt = runtime();
    let (server, client) = rt.block_on(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        (server, client)
    });
    let port = server.local_addr().unwrap().port();
    let sent = std::thread::spawn(move || {
        futures::executor::block_on(client.send_to(b"away", ("localhost", port)))
    })
    .join()
    .unwrap();
    // "localhost" may resolve to ::1 first, which an IPv4 socket cannot reach.
    if let Err(e) = sent {
        assert_ne!(
            e.kind(),
            io::ErrorKind::Other,
            "the lookup itself failed: {e}"
        );
        return;
    }
    rt.block_on(async {
        let mut buf = [0u8; 8];
        let (n, _) = bounded(server.recv_from(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"away");
    });
}
