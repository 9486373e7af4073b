//! A driver facing bad peers: malformed, truncated and oversized frames close that
//! peer's connection with a reason, and the driver goes on serving real executors.

mod common;

use common::wait_for;
use neptune_dataflow::cluster::protocol::{
    ExecutorEvent, Launch, Register, Registered, TaskDone, TaskResult, TaskUpdate,
    MAX_CONTROL_FRAME,
};
use neptune_dataflow::cluster::wire::{read_frame, write_frame, WIRE_VERSION};
use neptune_dataflow::cluster::{
    fingerprint, run_executor, Builders, DriverConfig, ExecutorConfig,
};
use neptune_dataflow::{Context, Dataset};
use neptune_runtime::quic::{self, ClusterCa, ClusterIdentity};
use neptune_runtime::Runtime;
use std::net::SocketAddr;
use std::time::Duration;

fn squares(ctx: &Context, n: u64) -> Dataset<u64> {
    ctx.range(0..n, 2).map(|x| x * x)
}

fn builders() -> Builders {
    Builders::new().register("squares", squares)
}

/// A driver of `ca` on an ephemeral loopback port, expecting no executor.
fn driver(ca: &ClusterCa) -> Context {
    Context::builder()
        .builders(builders())
        .cluster(DriverConfig {
            wait: Duration::from_secs(1),
            ..DriverConfig::new(
                "127.0.0.1:0".parse().unwrap(),
                ca.issue("driver").unwrap(),
                0,
            )
        })
        .build()
        .unwrap()
}

/// Registers on `conn` as an executor of this binary and its builders.
async fn register(conn: &quinn::Connection) {
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let register = Register {
        fingerprint: fingerprint::of_this_binary(),
        builders: builders().names(),
        slots: 1,
        policy: "neptune".into(),
        pauses_batch: true,
        shuffle_addr: "127.0.0.1:9".parse().unwrap(),
        pid: std::process::id(),
    };
    write_frame(&mut send, &register, MAX_CONTROL_FRAME)
        .await
        .unwrap();
    let answer: Option<Registered> = read_frame(&mut recv, MAX_CONTROL_FRAME).await.unwrap();
    assert!(
        matches!(answer, Some(Registered::Accepted { .. })),
        "{answer:?}"
    );
}

/// Opens a connection to the driver as `who`, runs `send` on a fresh stream, and
/// returns the reason the driver gave when it closed the connection.
fn closed_after(
    rt: &Runtime,
    who: &ClusterIdentity,
    driver: SocketAddr,
    bytes: Vec<u8>,
    uni: bool,
) -> String {
    rt.block_on(async move {
        let client = quic::client("127.0.0.1:0".parse().unwrap(), who).unwrap();
        let conn = quic::connect(&client, driver, "driver").await.unwrap();
        if uni {
            // A valid registration first, then the bad event.
            register(&conn).await;
            let mut s = conn.open_uni().await.unwrap();
            s.write_all(&bytes).await.unwrap();
            let _ = s.finish();
        } else {
            let (mut s, _r) = conn.open_bi().await.unwrap();
            s.write_all(&bytes).await.unwrap();
            let _ = s.finish();
        }
        let reason = neptune_runtime::time::timeout(Duration::from_secs(30), conn.closed())
            .await
            .expect("the driver closes a bad peer's connection");
        reason.to_string()
    })
}

#[test]
fn bad_frames_cost_their_connection_and_the_driver_serves_on() {
    let ca = ClusterCa::generate("peers test").unwrap();
    let ctx = driver(&ca);
    let driver = ctx.cluster_addr().unwrap();
    let rt = Runtime::new().unwrap();
    let peer = ca.issue("executor-bad").unwrap();

    // Another wire version.
    let mut frame = vec![WIRE_VERSION + 1, 1, 0, 0, 0, 0];
    let reason = closed_after(&rt, &peer, driver, frame.clone(), false);
    assert!(reason.contains("version"), "{reason}");
    // A frame that claims more than the limit.
    frame = vec![WIRE_VERSION, 0xff, 0xff, 0xff, 0x7f];
    let reason = closed_after(&rt, &peer, driver, frame, false);
    assert!(
        reason.contains("limit") || reason.contains("oversized") || reason.contains("large"),
        "{reason}"
    );
    // A frame cut short.
    let reason = closed_after(
        &rt,
        &peer,
        driver,
        vec![WIRE_VERSION, 10, 0, 0, 0, 1, 2],
        false,
    );
    assert!(
        reason.contains("truncated") || reason.contains("short") || reason.contains("ended"),
        "{reason}"
    );
    // A registered peer whose heartbeat is garbage.
    let mut garbage = Vec::new();
    garbage.extend(
        neptune_dataflow::cluster::wire::encode(
            &ExecutorEvent::Heartbeat(vec![9; 7]),
            MAX_CONTROL_FRAME,
        )
        .unwrap(),
    );
    let reason = closed_after(&rt, &peer, driver, garbage, true);
    assert!(reason.contains("heartbeat"), "{reason}");

    // A real executor (this same binary, in a thread) still registers and works.
    let config = ExecutorConfig::new(driver, ca.issue("executor-good").unwrap(), 2);
    let executor = std::thread::spawn(move || run_executor(config, &builders()));
    wait_for("the good executor to register", || {
        ctx.cluster_executors()
            .iter()
            .any(|e| e.name == "executor-good")
    });
    let ds: Dataset<u64> = ctx.build("squares", 100u64).unwrap();
    assert_eq!(
        ds.collect().unwrap().into_value(),
        (0..100).map(|x| x * x).collect::<Vec<u64>>()
    );
    drop(ds);
    drop(ctx);
    executor.join().unwrap().unwrap();
}

/// An executor that registers properly, then answers every launch with `answer`.
fn lying_executor(
    rt: Runtime,
    who: ClusterIdentity,
    driver: SocketAddr,
    answer: TaskUpdate,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        rt.block_on(async move {
            let client = quic::client("127.0.0.1:0".parse().unwrap(), &who).unwrap();
            let conn = quic::connect(&client, driver, "driver").await.unwrap();
            register(&conn).await;
            // Until the driver goes away.
            while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                let launch: Option<Launch> =
                    read_frame(&mut recv, MAX_CONTROL_FRAME).await.unwrap();
                assert!(launch.is_some());
                let _ = write_frame(&mut send, &answer, MAX_CONTROL_FRAME).await;
                let _ = send.finish();
            }
        })
    })
}

#[test]
fn malformed_task_reports_fail_the_job_with_the_reason_not_the_driver() {
    let ca = ClusterCa::generate("lying executors").unwrap();
    let wrong_shuffle = TaskUpdate::Finished(TaskDone {
        output: TaskResult::Shuffle {
            shuffle: 99,
            records: vec![1, 2, 3],
        },
        counters: [0; 5],
        suspensions: 0,
        published: Vec::new(),
        finished_ns: 0,
    });
    let garbage_result = TaskUpdate::Finished(TaskDone {
        output: TaskResult::Result(vec![0xff; 3]),
        counters: [0; 5],
        suspensions: 0,
        published: Vec::new(),
        finished_ns: 0,
    });
    for (answer, reason) in [
        (wrong_shuffle, "not this stage's shuffle output"),
        (garbage_result, "malformed"),
    ] {
        let ctx = driver(&ca);
        let liar = lying_executor(
            Runtime::new().unwrap(),
            ca.issue("executor-liar").unwrap(),
            ctx.cluster_addr().unwrap(),
            answer,
        );
        wait_for("the lying executor to register", || {
            ctx.cluster_executors().len() == 1
        });
        let ds: Dataset<u64> = ctx.build("squares", 10u64).unwrap();
        let e = ds.collect().expect_err("a malformed report");
        assert!(e.to_string().contains(reason), "{e}");
        drop(ds);
        drop(ctx);
        liar.join().unwrap();
    }
}
