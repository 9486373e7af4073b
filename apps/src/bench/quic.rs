//! quinn on Neptune's runtime against the same quinn on tokio, over loopback.
//!
//! ```text
//! neptune bench quic [--json] [--rounds R] [--workers N]
//!     [--requests N] [--bulk-mib M] [--streams S] [--handshakes H] [--only NAME,…]
//!     [--side neptune|tokio]
//! ```
//!
//! (`cargo run --release --example quic_bench -- …` runs the same.)
//!
//! Both sides use the same quinn version, the same rustls configuration (TLS 1.3, ring,
//! mutual TLS with an ephemeral cluster CA: `neptune::runtime::quic::{server_config,
//! client_config}`), the same transport settings and the same socket buffer sizes; only
//! the `quinn::Runtime` differs. Each runtime has `--workers` worker threads (default:
//! one per core) and both stay up for the whole run. Each workload runs a warm-up on both
//! sides, then `--rounds` rounds alternating neptune, tokio, neptune, tokio …; the figure
//! reported for each side is the median over its rounds.
//!
//! Workloads (client and server endpoints in this process, on the runtime measured):
//! - `rtt_64b_p50`, `rtt_64b_p99`: a 64-byte request answered by 64 bytes, each on a
//!   fresh bidirectional stream of one connection, one at a time (µs);
//! - `bulk_256mib`: one stream carrying `--bulk-mib` MiB to the server (MiB/s);
//! - `streams_1000`: `--streams` concurrent streams of 64 KiB each, all answered (ms);
//! - `handshake`: a new mutual-TLS connection to the server, p50 (µs).
//!
//! `ratio` is neptune/tokio for times and tokio/neptune for throughput: below 1 is
//! better for neptune. With `--json` each workload is one line
//! `{"workload", "neptune", "tokio", "unit", "ratio", "rounds", "workers"}`.

use crate::progress::Progress;
use clap::builder::PossibleValuesParser;
use clap::Parser;
use neptune::runtime::quic::{self, ClusterCa, ClusterIdentity};
use neptune_support::args::{at_least_one, available_cores};
use neptune_support::stats::{median_interpolated, quantile, round};
use serde::Serialize;
use std::future::Future;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes of each request and answer in `rtt_64b`.
const SMALL: usize = 64;
/// Bytes of each stream in `streams_1000`.
const STREAM_BYTES: usize = 64 << 10;
/// A workload that takes longer than this on one side is reported as a hang.
const HANG_AFTER: Duration = Duration::from_secs(120);

/// What the benchmark needs of a runtime.
trait Side: Sized {
    const NAME: &'static str;
    fn build(workers: usize) -> Self;
    fn block_on<F: Future>(&self, f: F) -> F::Output;
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, f: F);
    /// Spawns on the runtime the calling task runs in.
    fn spawn_here<F: Future<Output = ()> + Send + 'static>(f: F);
    fn quinn(&self) -> Arc<dyn quinn::Runtime>;
}

struct Neptune(neptune::runtime::Runtime);

impl Side for Neptune {
    const NAME: &'static str = "neptune";
    fn build(workers: usize) -> Self {
        Neptune(
            neptune::runtime::Builder::new()
                .slots(workers)
                .thread_name("bench-neptune")
                .build()
                .expect("neptune runtime"),
        )
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, f: F) {
        drop(self.0.spawn(f));
    }
    fn spawn_here<F: Future<Output = ()> + Send + 'static>(f: F) {
        drop(neptune::runtime::spawn(f));
    }
    fn quinn(&self) -> Arc<dyn quinn::Runtime> {
        Arc::new(quic::QuicRuntime::new(self.0.handle().clone()))
    }
}

struct Tokio(tokio::runtime::Runtime);

impl Side for Tokio {
    const NAME: &'static str = "tokio";
    fn build(workers: usize) -> Self {
        Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name("bench-tokio")
                .enable_all()
                .build()
                .expect("tokio runtime"),
        )
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, f: F) {
        drop(self.0.spawn(f));
    }
    fn spawn_here<F: Future<Output = ()> + Send + 'static>(f: F) {
        drop(tokio::spawn(f));
    }
    fn quinn(&self) -> Arc<dyn quinn::Runtime> {
        Arc::new(quinn::TokioRuntime)
    }
}

/// The settings of one run.
struct Config {
    requests: usize,
    bulk_bytes: u64,
    streams: usize,
    handshakes: usize,
    server: ClusterIdentity,
    client: ClusterIdentity,
}

/// A UDP socket on loopback with the buffer sizes the neptune adapter asks for, so that
/// both sides run with the same socket settings.
fn socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind loopback");
    let state = quinn::udp::UdpSocketState::new((&socket).into()).expect("socket state");
    let _ = state.set_recv_buffer_size((&socket).into(), quic::SOCKET_BUFFER_BYTES);
    let _ = state.set_send_buffer_size((&socket).into(), quic::SOCKET_BUFFER_BYTES);
    socket
}

/// A server endpoint answering every stream: it reads the request to its end, then
/// answers with `min(len, 64)` bytes, the first eight of which are the length read.
fn serve<S: Side>(side: &S, cfg: &Config) -> (quinn::Endpoint, SocketAddr) {
    let server = quic::server_config(&cfg.server).expect("server config");
    // Inside the runtime: tokio's adapter registers the socket with the current reactor.
    let endpoint = side.block_on(async {
        quinn::Endpoint::new(
            quinn::EndpointConfig::default(),
            Some(server),
            socket(),
            side.quinn(),
        )
        .expect("server endpoint")
    });
    let addr = endpoint.local_addr().expect("server address");
    let accepting = endpoint.clone();
    side.spawn(async move {
        while let Some(incoming) = accepting.accept().await {
            S::spawn_here(async move {
                let Ok(conn) = incoming.await else { return };
                while let Ok((send, recv)) = conn.accept_bi().await {
                    S::spawn_here(answer(send, recv));
                }
            });
        }
    });
    (endpoint, addr)
}

async fn answer(mut send: quinn::SendStream, mut recv: quinn::RecvStream) {
    let mut len = 0u64;
    while let Ok(Some(chunk)) = recv.read_chunk(usize::MAX, true).await {
        len += chunk.bytes.len() as u64;
    }
    let mut reply = vec![0u8; (len as usize).min(SMALL)];
    let head = reply.len().min(8);
    reply[..head].copy_from_slice(&len.to_le_bytes()[..head]);
    let _ = send.write_all(&reply).await;
    let _ = send.finish();
}

fn client<S: Side>(side: &S, cfg: &Config) -> quinn::Endpoint {
    let mut endpoint = side.block_on(async {
        quinn::Endpoint::new(
            quinn::EndpointConfig::default(),
            None,
            socket(),
            side.quinn(),
        )
        .expect("client endpoint")
    });
    endpoint.set_default_client_config(quic::client_config(&cfg.client).expect("client config"));
    endpoint
}

async fn connect(endpoint: &quinn::Endpoint, addr: SocketAddr) -> quinn::Connection {
    endpoint
        .connect(addr, "bench-server")
        .expect("connect")
        .await
        .expect("handshake")
}

/// Sends `body` on a fresh stream and returns the answer.
async fn request(conn: &quinn::Connection, body: &[u8]) -> Vec<u8> {
    let (mut send, mut recv) = conn.open_bi().await.expect("open stream");
    send.write_all(body).await.expect("send request");
    send.finish().expect("finish request");
    recv.read_to_end(SMALL).await.expect("read answer")
}

/// One measurement of every workload on one side.
#[derive(Default, Clone, Copy)]
struct Figures {
    rtt_p50_us: f64,
    rtt_p99_us: f64,
    bulk_mib_s: f64,
    streams_ms: f64,
    handshake_p50_us: f64,
}

fn rtt<S: Side>(side: &S, cfg: &Config) -> (f64, f64) {
    let (server, addr) = serve(side, cfg);
    let client = client(side, cfg);
    let mut times = side.block_on(async {
        let conn = connect(&client, addr).await;
        let body = [7u8; SMALL];
        let mut times = Vec::with_capacity(cfg.requests);
        for _ in 0..cfg.requests {
            let start = Instant::now();
            let answer = request(&conn, &body).await;
            times.push(start.elapsed().as_nanos() as u64);
            assert_eq!(answer.len(), SMALL);
        }
        conn.close(0u32.into(), b"done");
        times
    });
    finish(side, server, client);
    (
        quantile(&mut times, 0.5) as f64 / 1e3,
        quantile(&mut times, 0.99) as f64 / 1e3,
    )
}

fn bulk<S: Side>(side: &S, cfg: &Config) -> f64 {
    let (server, addr) = serve(side, cfg);
    let client = client(side, cfg);
    let secs = side.block_on(async {
        let conn = connect(&client, addr).await;
        let chunk = vec![0x5au8; 1 << 20];
        let start = Instant::now();
        let (mut send, mut recv) = conn.open_bi().await.expect("open stream");
        let mut left = cfg.bulk_bytes;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            send.write_all(&chunk[..n]).await.expect("send bulk");
            left -= n as u64;
        }
        send.finish().expect("finish bulk");
        let answer = recv.read_to_end(SMALL).await.expect("read answer");
        let secs = start.elapsed().as_secs_f64();
        let got = u64::from_le_bytes(answer[..8].try_into().expect("eight bytes"));
        assert_eq!(got, cfg.bulk_bytes, "the server read every byte");
        conn.close(0u32.into(), b"done");
        secs
    });
    finish(side, server, client);
    cfg.bulk_bytes as f64 / (1 << 20) as f64 / secs
}

fn streams<S: Side>(side: &S, cfg: &Config) -> f64 {
    use futures::stream::{FuturesUnordered, StreamExt};
    let (server, addr) = serve(side, cfg);
    let client = client(side, cfg);
    let secs = side.block_on(async {
        let conn = connect(&client, addr).await;
        let body = vec![0xa5u8; STREAM_BYTES];
        let start = Instant::now();
        let mut pending: FuturesUnordered<_> =
            (0..cfg.streams).map(|_| request(&conn, &body)).collect();
        let mut answered = 0;
        while let Some(answer) = pending.next().await {
            let got = u64::from_le_bytes(answer[..8].try_into().expect("eight bytes"));
            assert_eq!(got, STREAM_BYTES as u64, "the server read every byte");
            answered += 1;
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(answered, cfg.streams);
        conn.close(0u32.into(), b"done");
        secs
    });
    finish(side, server, client);
    secs * 1e3
}

fn handshake<S: Side>(side: &S, cfg: &Config) -> f64 {
    let (server, addr) = serve(side, cfg);
    let client = client(side, cfg);
    let mut times = side.block_on(async {
        let mut times = Vec::with_capacity(cfg.handshakes);
        for _ in 0..cfg.handshakes {
            let start = Instant::now();
            let conn = connect(&client, addr).await;
            times.push(start.elapsed().as_nanos() as u64);
            conn.close(0u32.into(), b"done");
        }
        times
    });
    finish(side, server, client);
    quantile(&mut times, 0.5) as f64 / 1e3
}

/// Closes both endpoints and waits until their connections are gone.
fn finish<S: Side>(side: &S, server: quinn::Endpoint, client: quinn::Endpoint) {
    side.block_on(async {
        client.close(0u32.into(), b"done");
        server.close(0u32.into(), b"done");
        client.wait_idle().await;
        server.wait_idle().await;
    });
}

/// The workloads, by name, and what each measures.
const WORKLOADS: [&str; 4] = ["rtt", "bulk", "streams", "handshake"];

fn measure<S: Side>(side: &S, cfg: &Config, which: &str, figures: &mut Figures) {
    let start = Instant::now();
    match which {
        "rtt" => (figures.rtt_p50_us, figures.rtt_p99_us) = rtt(side, cfg),
        "bulk" => figures.bulk_mib_s = bulk(side, cfg),
        "streams" => figures.streams_ms = streams(side, cfg),
        "handshake" => figures.handshake_p50_us = handshake(side, cfg),
        other => unreachable!("unknown workload {other}"),
    }
    if start.elapsed() > HANG_AFTER {
        eprintln!(
            "quic_bench: {which} on {} took {:?}",
            S::NAME,
            start.elapsed()
        );
    }
}

/// The median of one side's rounds (the mean of the middle two for an even count).
fn median(v: Vec<f64>) -> f64 {
    median_interpolated(v).expect("at least one round")
}

/// One workload's figures: its `--json` line, and a row of the table.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct Row {
    workload: &'static str,
    /// Each side's median, in `unit`, to 0.1.
    neptune: f64,
    tokio: f64,
    unit: &'static str,
    /// neptune/tokio for times, tokio/neptune for throughput, to 0.001: below 1 is
    /// better for neptune.
    ratio: f64,
    rounds: usize,
    workers: usize,
}

impl Row {
    fn text(&self) -> String {
        format!(
            "{:<14} {:>12.1} {:>12.1} {:>7}  {:.3}",
            self.workload, self.neptune, self.tokio, self.unit, self.ratio
        )
    }
}

/// quinn on Neptune's runtime against the same quinn on tokio, over loopback; rounds
/// alternate neptune, tokio, and each side's figure is the median over its rounds.
#[derive(Parser, Debug)]
#[command(name = "quic_bench")]
pub struct Args {
    /// Print one JSON object per workload instead of a table.
    #[arg(long)]
    json: bool,
    /// Measured rounds per side and workload (after one warm-up round).
    #[arg(long, value_name = "R", default_value_t = 5, value_parser = at_least_one::<usize>)]
    rounds: usize,
    /// Worker threads of each runtime, one per core by default.
    #[arg(long, value_name = "N", default_value_t = available_cores(), value_parser = at_least_one::<usize>)]
    workers: usize,
    /// Requests of the `rtt` workload, one at a time.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = at_least_one::<usize>)]
    requests: usize,
    /// MiB that the `bulk` workload sends on one stream.
    #[arg(long, value_name = "M", default_value_t = 256, value_parser = at_least_one::<u64>)]
    bulk_mib: u64,
    /// Concurrent streams of the `streams` workload, 64 KiB each.
    #[arg(long, value_name = "S", default_value_t = 1_000, value_parser = at_least_one::<usize>)]
    streams: usize,
    /// New connections of the `handshake` workload.
    #[arg(long, value_name = "H", default_value_t = 200, value_parser = at_least_one::<usize>)]
    handshakes: usize,
    /// The workloads to run, comma-separated.
    #[arg(
        long,
        value_name = "NAME,…",
        value_delimiter = ',',
        default_value = "rtt,bulk,streams,handshake",
        value_parser = PossibleValuesParser::new(WORKLOADS)
    )]
    only: Vec<String>,
    /// Measure one side alone (for profiling); the figures of the other side are then zero.
    #[arg(
        long,
        value_name = "SIDE",
        default_value = "both",
        value_parser = PossibleValuesParser::new(["both", "neptune", "tokio"])
    )]
    side: String,
}

/// Runs the workloads as `args` say and prints the figures.
pub fn main(args: Args) -> ExitCode {
    let Args {
        json,
        rounds,
        workers,
        requests,
        bulk_mib,
        streams,
        handshakes,
        only,
        side,
    } = args;
    let selected: Vec<&str> = only.iter().map(String::as_str).collect();
    let ca = ClusterCa::generate("quic_bench").expect("CA");
    let cfg = Config {
        requests,
        bulk_bytes: bulk_mib << 20,
        streams,
        handshakes,
        server: ca.issue("bench-server").expect("server identity"),
        client: ca.issue("bench-client").expect("client identity"),
    };
    let neptune = Neptune::build(workers);
    let tokio = Tokio::build(workers);

    let mut ours = vec![Figures::default(); rounds];
    let mut theirs = vec![Figures::default(); rounds];
    let progress = Progress::new((selected.len() * (rounds + 1)) as u64, "quic_bench");
    for (done, which) in selected.iter().enumerate() {
        let mut scratch = Figures::default();
        for round in 0..=rounds {
            // Round 0 warms up: connection set-up paths, allocator pools, thread wake-ups.
            let (a, b) = match round {
                0 => (&mut scratch, &mut Figures::default()),
                r => (&mut ours[r - 1], &mut theirs[r - 1]),
            };
            if side != "tokio" {
                measure(&neptune, &cfg, which, a);
            }
            if side != "neptune" {
                measure(&tokio, &cfg, which, b);
            }
            let what = if round == 0 { "warm-up" } else { "round" };
            progress.set(
                (done * (rounds + 1) + round + 1) as u64,
                format!("{which} {what}"),
            );
        }
    }
    progress.finish(format!("{} workloads", selected.len()));

    let mut rows = Vec::new();
    let mut row = |workload, unit, get: fn(&Figures) -> f64, higher_better: bool| {
        let n = median(ours.iter().map(get).collect());
        let t = median(theirs.iter().map(get).collect());
        let ratio = if higher_better { t / n } else { n / t };
        rows.push(Row {
            workload,
            neptune: round(n, 1),
            tokio: round(t, 1),
            unit,
            ratio: round(ratio, 3),
            rounds,
            workers,
        });
    };
    if selected.contains(&"rtt") {
        row("rtt_64b_p50", "us", |f| f.rtt_p50_us, false);
        row("rtt_64b_p99", "us", |f| f.rtt_p99_us, false);
    }
    if selected.contains(&"bulk") {
        row("bulk_256mib", "MiB/s", |f| f.bulk_mib_s, true);
    }
    if selected.contains(&"streams") {
        row("streams_1000", "ms", |f| f.streams_ms, false);
    }
    if selected.contains(&"handshake") {
        row("handshake", "us", |f| f.handshake_p50_us, false);
    }

    if json {
        for row in &rows {
            match serde_json::to_string(row) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    eprintln!("quic_bench: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    } else {
        println!(
            "quinn on neptune vs quinn on tokio: {workers} workers, median of {rounds} rounds each"
        );
        println!(
            "{:<14} {:>12} {:>12} {:>7}  ratio (< 1: neptune better)",
            "workload", "neptune", "tokio", "unit"
        );
        for row in &rows {
            println!("{}", row.text());
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use neptune_support::args::assert_refused;

    #[test]
    fn cli() {
        Args::command().debug_assert();
        let c = Args::try_parse_from(["quic_bench"]).unwrap();
        assert!(!c.json);
        assert_eq!((c.rounds, c.workers), (5, available_cores()));
        assert_eq!(
            (c.requests, c.bulk_mib, c.streams, c.handshakes),
            (10_000, 256, 1_000, 200)
        );
        assert_eq!(c.only, WORKLOADS);
        assert_eq!(c.side, "both");
        let c = Args::try_parse_from([
            "quic_bench",
            "--json",
            "--only",
            "bulk,rtt",
            "--bulk-mib=8",
            "--side",
            "tokio",
        ])
        .unwrap();
        assert!(c.json);
        assert_eq!(c.only, ["bulk", "rtt"]);
        assert_eq!((c.bulk_mib, c.side.as_str()), (8, "tokio"));
        assert_refused::<Args>(&[
            &["--jsno"][..],
            &["--rounds", "0"],
            &["--bulk-mib", "0"],
            &["--streams", "many"],
            &["--only", "rtt,nope"],
            &["--side", "quinn"],
        ]);
    }

    #[test]
    fn a_workload_line_has_the_keys_it_always_had() {
        let row = Row {
            workload: "bulk_256mib",
            neptune: round(812.345, 1),
            unit: "MiB/s",
            ratio: round(0.987_65, 3),
            ..Row::default()
        };
        let line = serde_json::to_string(&row).unwrap();
        let keys = neptune_support::json::sorted_keys(&line);
        assert_eq!(
            keys,
            ["neptune", "ratio", "rounds", "tokio", "unit", "workers", "workload"]
        );
        assert!(
            line.starts_with(r#"{"workload":"bulk_256mib","neptune":812.3,"#),
            "{line}"
        );
        assert!(line.contains(r#""ratio":0.988,"#), "{line}");
    }
}
