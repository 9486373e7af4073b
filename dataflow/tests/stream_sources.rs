//! Micro-batch streams end to end: from a generator, a TCP socket (loopback only), a
//! file being appended to, and memory; sinks to channels and JSON lines files; and
//! micro-batch jobs running as Stream tasks that get through batch work.
//!
//! Nothing here asserts a duration: tests wait for what they expect (with a generous
//! bound that only a hang reaches) and check exact contents.

mod common;

use common::{wait_for, TempDir};
use neptune_dataflow::stream::{batches, generator, memory, sinks, socket, tail};
use neptune_dataflow::{Class, Context};
use neptune_runtime::TaskState;
use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

#[test]
fn generator_stream_delivers_every_record_once_in_order() {
    let ctx = common::ctx();
    let (sink, out) = sinks::channel();
    let stats = ctx
        .stream(generator(20_000.0, |seq, _time| seq).limit(3_000))
        .trigger(Duration::from_millis(5))
        .partitions(3)
        .map(|x| x * 2)
        .start(sink)
        .unwrap()
        .wait()
        .unwrap();
    let got: Vec<u64> = out.try_iter().collect();
    assert_eq!(got, (0..3_000).map(|x| x * 2).collect::<Vec<_>>());
    assert_eq!((stats.records_in, stats.records_out), (3_000, 3_000));
    assert!(stats.micro_batches >= 1);
    assert_eq!(stats.batch_latencies_us.len() as u64, stats.micro_batches);
}

#[test]
fn generator_event_times_follow_the_rate() {
    let ctx = common::ctx();
    let (sink, out) = sinks::channel();
    ctx.stream(generator(1_000.0, |seq, time| (seq, time)).limit(50))
        .trigger(Duration::from_millis(2))
        .start(sink)
        .unwrap()
        .wait()
        .unwrap();
    let got: Vec<(u64, i64)> = out.try_iter().collect();
    assert_eq!(got.len(), 50);
    let t0 = got[0].1;
    for (seq, time) in got {
        assert_eq!(time - t0, seq as i64, "1 000 records a second: one per ms");
    }
}

#[test]
fn socket_stream_reads_lines_until_the_server_hangs_up() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        for i in 0..2_000 {
            write!(conn, "line {i}\r\n").unwrap();
        }
        // A last line without a newline still counts.
        conn.write_all(b"tail").unwrap();
    });
    let ctx = common::ctx();
    let (sink, out) = sinks::channel();
    let stats = ctx
        .stream(socket(addr))
        .trigger(Duration::from_millis(5))
        .map(|line| line.to_uppercase())
        .start(sink)
        .unwrap()
        .wait()
        .unwrap();
    server.join().unwrap();
    let got: Vec<String> = out.try_iter().collect();
    let mut expected: Vec<String> = (0..2_000).map(|i| format!("LINE {i}")).collect();
    expected.push("TAIL".into());
    assert_eq!(got, expected);
    assert_eq!(stats.records_in, 2_001);
}

#[test]
fn socket_stream_reports_a_refused_connection() {
    // A port that was free a moment ago: nothing listens there.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let ctx = common::ctx();
    let (sink, _out) = sinks::channel::<String>();
    let err = ctx
        .stream(socket(addr))
        .trigger(Duration::from_millis(5))
        .start(sink)
        .unwrap()
        .wait()
        .unwrap_err();
    assert!(err.to_string().contains(&format!("tcp://{addr}")), "{err}");
}

#[test]
fn tail_stream_reads_lines_as_they_are_appended() {
    let dir = TempDir::new("tail");
    let path = dir.file("log.txt", "first\nsecond\npart");
    let ctx = common::ctx();
    let (sink, out) = sinks::channel();
    let stream = ctx
        .stream(tail(&path))
        .trigger(Duration::from_millis(2))
        .start(sink)
        .unwrap();
    let mut got: Vec<String> = Vec::new();
    wait_for("the complete lines", || {
        got.extend(out.try_iter());
        got.len() == 2
    });
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"ial\n").unwrap(); // completes "partial"
    for i in 0..500 {
        writeln!(file, "appended {i}").unwrap();
    }
    file.flush().unwrap();
    wait_for("the appended lines", || {
        got.extend(out.try_iter());
        got.len() == 503
    });
    let stats = stream.stop().unwrap();
    got.extend(out.try_iter());
    let mut expected = vec!["first".to_owned(), "second".into(), "partial".into()];
    expected.extend((0..500).map(|i| format!("appended {i}")));
    assert_eq!(got, expected);
    assert_eq!(stats.records_in, 503);
}

#[test]
fn tail_from_end_skips_what_was_there() {
    let dir = TempDir::new("tail-end");
    let path = dir.file("log.txt", "old\n");
    let ctx = common::ctx();
    let (sink, out) = sinks::channel();
    let stream = ctx
        .stream(tail(&path).from_end())
        .trigger(Duration::from_millis(2))
        .start(sink)
        .unwrap();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    writeln!(file, "new").unwrap();
    let mut got: Vec<String> = Vec::new();
    wait_for("the new line", || {
        got.extend(out.try_iter());
        !got.is_empty()
    });
    stream.stop().unwrap();
    assert_eq!(got, ["new"]);
}

#[test]
fn json_file_sink_writes_json_lines_that_read_back() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Row {
        start: i64,
        end: i64,
        key: String,
        value: u64,
        update: bool,
    }
    let dir = TempDir::new("sink");
    let path = dir.path().join("out.jsonl");
    let ctx = common::ctx();
    let windows = neptune_dataflow::Windows::tumbling(Duration::from_millis(10));
    ctx.stream(batches(vec![
        vec![("x".to_owned(), 1i64), ("y".to_owned(), 2)],
        vec![("x".to_owned(), 15)],
    ]))
    .trigger(Duration::ZERO)
    .window(windows, |(k, t)| (k, t, 1u64), |a, b| a + b)
    .start(sinks::json_file(&path))
    .unwrap()
    .wait()
    .unwrap();
    let mut rows = ctx
        .read(&path)
        .json_lines::<Row>()
        .unwrap()
        .collect()
        .unwrap()
        .into_value();
    rows.sort_by(|a, b| (a.start, &a.key).cmp(&(b.start, &b.key)));
    let row = |start, key: &str| Row {
        start,
        end: start + 10,
        key: key.into(),
        value: 1,
        update: false,
    };
    assert_eq!(rows, [row(0, "x"), row(0, "y"), row(10, "x")]);
}

#[test]
fn a_pipeline_that_reads_its_micro_batch_twice_sees_every_record_twice() {
    let ctx = common::ctx();
    let (sink, out) = sinks::channel();
    let (source, input) = memory();
    let stream = ctx
        .stream(source)
        .trigger(Duration::from_millis(1))
        .partitions(2)
        .map_batches(|ds| {
            let doubled = ds.map(|x: u32| (x % 3, x * 2));
            ds.map(|x| (x % 3, x)).join(&doubled).map(|(_, pair)| pair)
        });
    let handle = stream.start(sink).unwrap();
    input.push(vec![1u32, 2, 3, 4]);
    input.close();
    handle.wait().unwrap();
    let mut got: Vec<(u32, u32)> = out.try_iter().collect();
    got.sort();
    // Pairs of records with the same remainder mod 3.
    let mut expected = Vec::new();
    for a in [1u32, 2, 3, 4] {
        for b in [1u32, 2, 3, 4] {
            if a % 3 == b % 3 {
                expected.push((a, b * 2));
            }
        }
    }
    expected.sort();
    assert_eq!(got, expected);
}

#[test]
#[cfg_attr(
    feature = "no-yield-points",
    ignore = "without yield points a running batch task cannot be paused"
)]
fn micro_batches_run_as_stream_tasks_that_get_through_batch_work() {
    // One slot, held by a batch job that never ends by itself: a micro-batch job gets
    // through only because its tasks are Stream tasks, for which the policy pauses the
    // batch task.
    let ctx = Context::builder()
        .executors(1)
        .slots_per_executor(1)
        .policy("neptune")
        .build()
        .unwrap();
    let endless = ctx
        .generate(1, |_| 0u64..)
        .map(|x| x.wrapping_mul(3))
        .job()
        .count();
    wait_for("the batch task to run", || {
        endless
            .tasks()
            .first()
            .is_some_and(|t| t.handle.state() == TaskState::Running)
    });
    let (sink, out) = sinks::channel();
    let stats = ctx
        .stream(batches(vec![vec![1u64, 2, 3], vec![4, 5]]))
        .trigger(Duration::from_millis(1))
        .map(|x| x + 100)
        .start(sink)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(
        out.try_iter().collect::<Vec<_>>(),
        [101, 102, 103, 104, 105]
    );
    assert_eq!(stats.micro_batches, 2);
    // A slot publishes its counters after the poll that finished the task returns, which
    // can be just after the job's output was delivered: wait for the figure.
    let executor = &ctx.executors()[0];
    wait_for("both micro-batches' tasks to be counted", || {
        executor.metrics().total(|s| s.tasks_of(Class::Stream)) >= 2
    });
    assert!(endless.tasks()[0].handle.suspensions() >= 1);
    endless.cancel();
    assert!(endless.wait().is_err());
}

#[test]
fn stop_runs_the_last_micro_batch_and_fires_open_windows() {
    let ctx = common::ctx();
    let (source, input) = memory();
    let (sink, out) = sinks::channel();
    let windows = neptune_dataflow::Windows::tumbling(Duration::from_secs(60));
    let stream = ctx
        .stream(source)
        .trigger(Duration::from_millis(1))
        .window(windows, |t: i64| ((), t, 1u32), |a, b| a + b)
        .start(sink)
        .unwrap();
    input.push(vec![1, 2, 3]);
    wait_for("the micro-batch", || input.queued() == 0);
    let stats = stream.stop().unwrap();
    let results: Vec<_> = out.try_iter().collect();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].value, 3);
    assert_eq!(stats.windows_fired, 1);
    assert!(stats.window_latencies_us.is_empty());
}
