//! QUIC on the neptune runtime, over loopback: quinn through `QuicRuntime`, with mutual
//! TLS 1.3 against a cluster CA.
//!
//! - A valid pair of nodes talks on many concurrent streams and each side reads the
//!   other's node name from its certificate.
//! - Every refusal (no client certificate, another CA, an expired certificate, a server
//!   of another CA, the wrong server name, the wrong ALPN) is an error on both sides,
//!   carrying the TLS alert that says why, never a hang.
//! - quinn's drivers make progress while CPU-bound Batch tasks hold every slot of a
//!   NEPTUNE runtime, and only those Batch tasks are ever paused.
//!
//! Every test body runs under a 60 s bound, so a failure is an error instead of a hang;
//! no test asserts on how long anything took.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::channel::mpsc;
use futures::future::join_all;
use futures::StreamExt;
use neptune::runtime::metrics::SlotMetrics;
use neptune::runtime::policy::{
    Check, CheckView, Policy, PolicyStatus, Preempt, Preemption, Queueing, SlotClasses, SlotView,
};
use neptune::runtime::quic::{self, ClusterCa, ClusterIdentity, QuicError, ALPN};
use neptune::runtime::{
    preemption_point, spawn_with, time, Builder, Class, JoinHandle, Runtime, SpawnOptions,
    TaskHandle, TaskId, TaskState,
};
use neptune::scheduler::local::Neptune;
use quinn::crypto::rustls::QuicClientConfig;
use quinn::{ConnectionError, TransportErrorCode};
use rustls::pki_types::CertificateDer;
use rustls::AlertDescription;

/// The most any test may take before it counts as hung.
const BOUND: Duration = Duration::from_secs(60);
/// The most bytes any test reads from one stream.
const MAX_MESSAGE: usize = 64 * 1024;
/// Streams open at once in the concurrency test.
const CONCURRENT_STREAMS: usize = 200;
/// Echo round trips made while Batch work holds every slot.
const ECHOES: usize = 200;

/// Runs `test` on `rt` within [`BOUND`].
fn run_on<F: Future<Output = ()>>(rt: &Runtime, test: F) {
    rt.block_on(async {
        time::timeout(BOUND, test)
            .await
            .expect("the test did not finish within its 60 s bound")
    });
}

/// Runs `test` on a two-slot runtime with the default policy, within [`BOUND`].
fn run<F: Future<Output = ()>>(test: F) {
    let rt = Builder::new().slots(2).build().unwrap();
    run_on(&rt, test);
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// What stream `i` of the concurrency test sends: a few KiB, unlike any other stream's
/// (its index leads).
fn request(i: usize) -> Vec<u8> {
    let len = 2048 + (i * 97) % 4096;
    let mut bytes = (i as u32).to_be_bytes().to_vec();
    bytes.extend((0..len).map(|j| (i.wrapping_mul(131) ^ j.wrapping_mul(7)) as u8));
    bytes
}

/// The server's answer to `request`: reversed and scrambled, so that an echo (or
/// another stream's answer) never passes for it.
fn answer(request: &[u8]) -> Vec<u8> {
    request.iter().rev().map(|b| b ^ 0xA5).collect()
}

/// The QUIC error code of TLS alert `alert`.
fn tls_alert(alert: AlertDescription) -> TransportErrorCode {
    TransportErrorCode::crypto(u8::from(alert))
}

/// `err` is the peer closing the connection with TLS alert `alert`.
fn assert_closed_by_peer(err: &ConnectionError, alert: AlertDescription) {
    match err {
        ConnectionError::ConnectionClosed(close) => {
            assert_eq!(close.error_code, tls_alert(alert), "{err}")
        }
        other => panic!("expected the peer to close with TLS alert {alert:?}, got {other:?}"),
    }
}

/// `err` is this side failing the handshake with TLS alert `alert` (which it sent).
fn assert_failed_here(err: &ConnectionError, alert: AlertDescription) {
    match err {
        ConnectionError::TransportError(e) => assert_eq!(e.code, tls_alert(alert), "{err}"),
        other => panic!("expected a local TLS failure with alert {alert:?}, got {other:?}"),
    }
}

/// A client TLS configuration built by hand, as a peer outside the cluster's tooling
/// would: TLS 1.3 and ring like the cluster's, trusting `ca`, presenting `identity`'s
/// certificate (or none) and offering `alpn`.
fn hand_made_client_config(
    ca: &CertificateDer<'static>,
    identity: Option<&ClusterIdentity>,
    alpn: &[u8],
) -> quinn::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots);
    let mut tls = match identity {
        Some(id) => builder
            .with_client_auth_cert(id.cert_chain().to_vec(), id.private_key().clone_key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![alpn.to_vec()];
    let mut config = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls).unwrap()));
    config.transport_config(Arc::new(quic::transport_config()));
    config
}

/// One request/answer on a fresh bidirectional stream.
async fn exchange(conn: &quinn::Connection, message: &[u8]) -> Result<Vec<u8>, ConnectionError> {
    let (mut send, mut recv) = conn.open_bi().await?;
    match send.write_all(message).await {
        Ok(()) => {}
        Err(quinn::WriteError::ConnectionLost(e)) => return Err(e),
        Err(e) => panic!("write: {e}"),
    }
    if send.finish().is_err() {
        // Only a stream the connection already dropped refuses to finish.
        return Err(conn
            .close_reason()
            .expect("finish fails only on a closed connection"));
    }
    match recv.read_to_end(MAX_MESSAGE).await {
        Ok(reply) => Ok(reply),
        Err(quinn::ReadToEndError::Read(quinn::ReadError::ConnectionLost(e))) => Err(e),
        Err(e) => panic!("read: {e}"),
    }
}

/// The server's side of a refused peer: the handshake of the next incoming connection
/// must fail.
async fn refused_by_server(server: &quinn::Endpoint) -> ConnectionError {
    let incoming = server.accept().await.expect("the server endpoint is open");
    match incoming.await {
        Ok(conn) => panic!(
            "the server accepted a connection from {:?}",
            quic::peer_name(&conn)
        ),
        Err(err) => err,
    }
}

/// The client's side of a peer the server refuses: TLS 1.3 lets the client finish its
/// handshake before the server has checked its certificate, so the refusal shows at
/// connect or at the first stream operation, whichever the server's alert reaches.
async fn refused_client(
    client: &quinn::Endpoint,
    config: Option<quinn::ClientConfig>,
    server: SocketAddr,
) -> ConnectionError {
    let connecting = match config {
        Some(config) => client.connect_with(config, server, "driver"),
        None => client.connect(server, "driver"),
    }
    .expect("the connection starts");
    let conn = match connecting.await {
        Ok(conn) => conn,
        Err(err) => return err,
    };
    match exchange(&conn, b"let me in").await {
        Ok(reply) => panic!("a refused client got an answer: {reply:?}"),
        Err(err) => {
            assert_eq!(conn.close_reason().as_ref(), Some(&err));
            err
        }
    }
}

/// A client the server must refuse, seen from both sides: what the client saw, what
/// the server's accept gave.
async fn client_refusal(
    server_identity: &ClusterIdentity,
    client_identity: &ClusterIdentity,
    config: Option<quinn::ClientConfig>,
) -> (ConnectionError, ConnectionError) {
    let server = quic::server(loopback(), server_identity).unwrap();
    let client = quic::client(loopback(), client_identity).unwrap();
    let addr = server.local_addr().unwrap();
    let (client_saw, server_saw) = futures::join!(
        refused_client(&client, config, addr),
        refused_by_server(&server)
    );
    client.close(0u32.into(), b"done");
    server.close(0u32.into(), b"done");
    futures::join!(client.wait_idle(), server.wait_idle());
    (client_saw, server_saw)
}

/// A client that refuses the server: `quic::connect` expecting `expected_name` fails,
/// and so does the server's accept.
async fn server_refusal(
    server_identity: &ClusterIdentity,
    client_identity: &ClusterIdentity,
    expected_name: &str,
) -> (ConnectionError, ConnectionError) {
    let server = quic::server(loopback(), server_identity).unwrap();
    let client = quic::client(loopback(), client_identity).unwrap();
    let addr = server.local_addr().unwrap();
    let (client_saw, server_saw) = futures::join!(
        quic::connect(&client, addr, expected_name),
        refused_by_server(&server)
    );
    let client_saw = match client_saw {
        Ok(conn) => panic!(
            "the client accepted a server named {:?}",
            quic::peer_name(&conn)
        ),
        Err(QuicError::Connection(err)) => err,
        Err(err) => panic!("expected a failed handshake, got {err:?}"),
    };
    client.close(0u32.into(), b"done");
    server.close(0u32.into(), b"done");
    futures::join!(client.wait_idle(), server.wait_idle());
    (client_saw, server_saw)
}

#[test]
fn nodes_of_one_cluster_talk_on_many_concurrent_streams() {
    let ca = ClusterCa::generate("test cluster").unwrap();
    let driver = ca.issue("driver").unwrap();
    let worker = ca.issue("worker-1").unwrap();
    run(async move {
        let server = quic::server(loopback(), &driver).unwrap();
        let addr = server.local_addr().unwrap();
        let serve = spawn_with(SpawnOptions::stream().name("server"), async move {
            let conn = server.accept().await.unwrap().await.unwrap();
            let peer = quic::peer_name(&conn).unwrap();
            let mut handlers = Vec::new();
            let end = loop {
                match conn.accept_bi().await {
                    Ok((mut send, mut recv)) => {
                        handlers.push(spawn_with(SpawnOptions::stream(), async move {
                            let asked = recv.read_to_end(MAX_MESSAGE).await.unwrap();
                            send.write_all(&answer(&asked)).await.unwrap();
                            send.finish().unwrap();
                        }))
                    }
                    Err(end) => break end,
                }
            };
            let served = handlers.len();
            for handler in handlers {
                handler.await.unwrap();
            }
            (peer, served, end)
        });

        let client = quic::client(loopback(), &worker).unwrap();
        let conn = quic::connect(&client, addr, "driver").await.unwrap();
        assert_eq!(quic::peer_name(&conn).unwrap(), "driver");
        let requests: Vec<Vec<u8>> = (0..CONCURRENT_STREAMS).map(request).collect();
        assert_eq!(
            requests.iter().collect::<HashSet<_>>().len(),
            CONCURRENT_STREAMS,
            "every stream sends its own bytes"
        );
        // All at once: `join_all` opens every stream in its first poll.
        let replies = join_all(requests.iter().map(|r| exchange(&conn, r))).await;
        for (i, (req, reply)) in requests.iter().zip(replies).enumerate() {
            let reply = reply.unwrap_or_else(|e| panic!("stream {i}: {e}"));
            assert!(reply == answer(req), "stream {i}: wrong answer");
        }
        conn.close(0u32.into(), b"done");

        let (peer, served, end) = serve.await.unwrap();
        assert_eq!(peer, "worker-1");
        assert_eq!(served, CONCURRENT_STREAMS);
        assert!(
            matches!(end, ConnectionError::ApplicationClosed(_)),
            "{end:?}"
        );
        client.wait_idle().await;
    });
}

#[test]
fn a_client_without_a_certificate_is_refused() {
    let ca = ClusterCa::generate("test cluster").unwrap();
    let driver = ca.issue("driver").unwrap();
    let worker = ca.issue("worker-1").unwrap();
    let anonymous = hand_made_client_config(ca.cert_der(), None, ALPN);
    run(async move {
        let (client, server) = client_refusal(&driver, &worker, Some(anonymous)).await;
        assert_closed_by_peer(&client, AlertDescription::CertificateRequired);
        assert_failed_here(&server, AlertDescription::CertificateRequired);
    });
}

/// Certificates of another CA, and the alert that refuses them: a CA of another name is
/// unknown; one that shares the cluster CA's name is found as the issuer, but its
/// signature does not verify.
const OTHER_CAS: [(&str, AlertDescription); 2] = [
    ("another cluster", AlertDescription::UnknownCA),
    ("test cluster", AlertDescription::DecryptError),
];

#[test]
fn a_client_certificate_from_another_ca_is_refused() {
    let ca = ClusterCa::generate("test cluster").unwrap();
    let driver = ca.issue("driver").unwrap();
    let worker = ca.issue("worker-1").unwrap();
    run(async move {
        for (common_name, alert) in OTHER_CAS {
            // The same node name: only the signature tells it from the real worker-1.
            let impostor = ClusterCa::generate(common_name)
                .unwrap()
                .issue("worker-1")
                .unwrap();
            // Trusts the cluster CA (so the client accepts the server) but proves itself
            // with the other CA's certificate.
            let config = hand_made_client_config(ca.cert_der(), Some(&impostor), ALPN);
            let (client, server) = client_refusal(&driver, &worker, Some(config)).await;
            assert_closed_by_peer(&client, alert);
            assert_failed_here(&server, alert);
        }
    });
}

#[test]
fn an_expired_client_certificate_is_refused() {
    let ca = ClusterCa::generate("test cluster").unwrap();
    let driver = ca.issue("driver").unwrap();
    let day = Duration::from_secs(24 * 3600);
    let now = SystemTime::now();
    let expired = ca
        .issue_with_validity("worker-1", now - 2 * day, now - day)
        .unwrap();
    run(async move {
        // The cluster's own client configuration, with the expired identity.
        let (client, server) = client_refusal(&driver, &expired, None).await;
        assert_closed_by_peer(&client, AlertDescription::CertificateExpired);
        assert_failed_here(&server, AlertDescription::CertificateExpired);
    });
}

#[test]
fn a_server_certificate_from_another_ca_is_refused() {
    let ca = ClusterCa::generate("test cluster").unwrap();
    let worker = ca.issue("worker-1").unwrap();
    run(async move {
        for (common_name, alert) in OTHER_CAS {
            let impostor = ClusterCa::generate(common_name)
                .unwrap()
                .issue("driver")
                .unwrap();
            let (client, server) = server_refusal(&impostor, &worker, "driver").await;
            assert_failed_here(&client, alert);
            assert_closed_by_peer(&server, alert);
        }
    });
}

#[test]
fn a_server_with_another_name_is_refused() {
    let ca = ClusterCa::generate("test cluster").unwrap();
    let executor = ca.issue("executor-9").unwrap();
    let worker = ca.issue("worker-1").unwrap();
    run(async move {
        // A valid certificate of this cluster, but not the node the client meant.
        let (client, server) = server_refusal(&executor, &worker, "driver").await;
        assert_failed_here(&client, AlertDescription::BadCertificate);
        assert_closed_by_peer(&server, AlertDescription::BadCertificate);
    });
}

#[test]
fn a_peer_speaking_another_protocol_is_refused() {
    let ca = ClusterCa::generate("test cluster").unwrap();
    let driver = ca.issue("driver").unwrap();
    let worker = ca.issue("worker-1").unwrap();
    // A valid cluster certificate, but offering HTTP/3 instead of `neptune/1`.
    let h3 = hand_made_client_config(ca.cert_der(), Some(&worker), b"h3");
    run(async move {
        let (client, server) = client_refusal(&driver, &worker, Some(h3)).await;
        assert_closed_by_peer(&client, AlertDescription::NoApplicationProtocol);
        assert_failed_here(&server, AlertDescription::NoApplicationProtocol);
    });
}

/// NEPTUNE, watched: every decision is its own (each call is forwarded); this records
/// what the runtime offered it and what it paused.
struct Watched {
    inner: Neptune,
    /// Running tasks offered as candidates that were not Batch tasks.
    offered_non_batch: AtomicUsize,
    /// Every task the policy asked to pause.
    paused: Mutex<Vec<TaskHandle>>,
    /// Every task the policy asked to cancel.
    cancelled: AtomicUsize,
}

impl Policy for Watched {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn preemption(&self) -> Preemption {
        self.inner.preemption()
    }
    fn queueing(&self) -> Queueing {
        self.inner.queueing()
    }
    fn slot_classes(&self, slot: usize, slots: usize) -> SlotClasses {
        self.inner.slot_classes(slot, slots)
    }
    fn on_stream_waiting(&self, waiting: usize, slots: &[SlotView]) -> Vec<Preempt> {
        let non_batch = slots
            .iter()
            .filter(|s| s.running.task.class() != Class::Batch)
            .count();
        self.offered_non_batch.fetch_add(non_batch, Relaxed);
        let decisions = self.inner.on_stream_waiting(waiting, slots);
        for d in &decisions {
            match d {
                Preempt::Pause(t) => self.paused.lock().unwrap().push(t.clone()),
                Preempt::Cancel(_) => {
                    self.cancelled.fetch_add(1, Relaxed);
                }
                Preempt::AskAgainAt(_) => {}
            }
        }
        decisions
    }
    fn on_stream_drained(&self, slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        self.inner.on_stream_drained(slot, suspended)
    }
    fn on_check(&self, view: &CheckView<'_>) -> Check {
        self.inner.on_check(view)
    }
    fn status(&self) -> PolicyStatus {
        self.inner.status()
    }
}

/// Sets the flag when dropped: spinning Batch tasks stop even when the test fails
/// half-way, so that the runtime's drop (which joins its slots) does not hang.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Relaxed);
    }
}

/// Waits (spinning through the runtime) until `done` holds; bounded by the test's
/// timeout, which is polled in between.
async fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        neptune::runtime::yield_now().await;
    }
}

#[test]
fn quic_makes_progress_while_batch_work_holds_every_slot() {
    const SLOTS: usize = 2;
    let ca = ClusterCa::generate("test cluster").unwrap();
    let driver = ca.issue("driver").unwrap();
    let worker = ca.issue("worker-1").unwrap();
    let neptune = Neptune::new();
    let stats = neptune.stats();
    let policy = Arc::new(Watched {
        inner: neptune,
        offered_non_batch: AtomicUsize::new(0),
        paused: Mutex::new(Vec::new()),
        cancelled: AtomicUsize::new(0),
    });
    let rt = Builder::new()
        .slots(SLOTS)
        .policy(policy.clone())
        .build()
        .unwrap();
    assert_eq!(rt.policy_name(), "neptune");
    let stop = Arc::new(AtomicBool::new(false));
    // Declared after `rt`, so dropped before it.
    let _stop_on_drop = StopOnDrop(stop.clone());
    let units = Arc::new(AtomicU64::new(0));

    let mut batch: Vec<JoinHandle<u64>> = Vec::new();
    let mut batch_tasks: Vec<TaskHandle> = Vec::new();
    let mut server_task: Option<TaskHandle> = None;
    run_on(&rt, async {
        let server = quic::server(loopback(), &driver).unwrap();
        let addr = server.local_addr().unwrap();
        let serve = spawn_with(SpawnOptions::stream().name("echo-server"), async move {
            let conn = server.accept().await.unwrap().await.unwrap();
            let mut served = 0usize;
            loop {
                match conn.accept_bi().await {
                    Ok((mut send, mut recv)) => {
                        let asked = recv.read_to_end(MAX_MESSAGE).await.unwrap();
                        send.write_all(&asked).await.unwrap();
                        send.finish().unwrap();
                        served += 1;
                    }
                    Err(ConnectionError::ApplicationClosed(_)) => break served,
                    Err(e) => panic!("echo server: {e}"),
                }
            }
        });
        server_task = Some(serve.task());
        let client = quic::client(loopback(), &worker).unwrap();
        let conn = quic::connect(&client, addr, "driver").await.unwrap();
        assert_eq!(exchange(&conn, b"warm-up").await.unwrap(), b"warm-up");

        // Twice as many CPU-bound Batch tasks as slots; each says once that it runs.
        let (started, mut starts) = mpsc::unbounded();
        for i in 0..2 * SLOTS {
            let (stop, units, started) = (stop.clone(), units.clone(), started.clone());
            let task = spawn_with(
                SpawnOptions::batch().name(format!("spin-{i}")),
                async move {
                    let _ = started.unbounded_send(i);
                    let mut done = 0u64;
                    while !stop.load(Relaxed) {
                        done += 1;
                        units.fetch_add(1, Relaxed);
                        // Never yields the slot unless paused: only a pause frees it.
                        preemption_point().await;
                    }
                    done
                },
            );
            batch_tasks.push(task.task());
            batch.push(task);
        }
        // SLOTS tasks running: from now on every slot polls a Batch task that gives it
        // up only when paused, so Stream work gets a slot only through a pause.
        let mut running = HashSet::new();
        while running.len() < SLOTS {
            running.insert(starts.next().await.expect("the Batch tasks hold a sender"));
        }

        for k in 0..ECHOES {
            let message = format!("echo {k} ").repeat(k % 50 + 1).into_bytes();
            let reply = exchange(&conn, &message)
                .await
                .unwrap_or_else(|e| panic!("echo {k}: {e}"));
            assert!(reply == message, "echo {k}: wrong bytes");
        }

        // The echoes completed while the Batch work was still there, and it carries on.
        let after_echoes = units.load(Relaxed);
        for (i, task) in batch.iter().enumerate() {
            assert!(
                !task.is_finished(),
                "spin-{i} finished before it was told to"
            );
        }
        until(|| units.load(Relaxed) > after_echoes).await;
        let serve_state = serve.task().state();
        assert!(
            !matches!(serve_state, TaskState::Paused | TaskState::Pausing),
            "the echo server is {serve_state:?}"
        );

        stop.store(true, Relaxed);
        let mut total = 0;
        for (i, task) in batch.drain(..).enumerate() {
            total += task.await.unwrap_or_else(|e| panic!("spin-{i}: {e}"));
        }
        assert_eq!(total, units.load(Relaxed));

        conn.close(0u32.into(), b"done");
        assert_eq!(serve.await.unwrap(), ECHOES + 1);
        client.wait_idle().await;
    });

    // Every park was of a Batch task: the slots parked exactly as many times as the
    // Batch tasks were suspended (Batch tasks never idle, so each of their parks is one
    // a slot counts), so no Stream task (quinn's drivers, the echo server) ever parked.
    let suspensions: u64 = batch_tasks.iter().map(|t| u64::from(t.suspensions())).sum();
    let parks = rt.metrics().total(|s: &SlotMetrics| s.parks);
    // Joins the slots and the driver thread: no policy call is still under way below.
    drop(rt);
    assert!(suspensions > 0, "the echoes got slots only through pauses");
    assert_eq!(
        parks, suspensions,
        "a task other than the Batch ones parked"
    );
    // And the policy only ever paused those Batch tasks, and only Batch tasks were
    // offered to it.
    let ours: HashSet<TaskId> = batch_tasks.iter().map(|t| t.id()).collect();
    let paused = policy.paused.lock().unwrap();
    assert!(!paused.is_empty());
    assert_eq!(paused.len() as u64, stats.pauses());
    for t in paused.iter() {
        assert_eq!(t.class(), Class::Batch, "{t:?}");
        assert!(ours.contains(&t.id()), "paused a task not ours: {t:?}");
    }
    assert_eq!(policy.offered_non_batch.load(Relaxed), 0);
    assert_eq!(policy.cancelled.load(Relaxed), 0);
    let server_task = server_task.unwrap();
    assert_eq!(server_task.suspensions(), 0);
    assert_eq!(server_task.state(), TaskState::Completed);
}
