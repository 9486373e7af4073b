//! Event-time windows over scripted micro-batches: out-of-order records, late records
//! within the allowed lateness (the window's result is emitted again) and beyond it
//! (counted, not added), for tumbling and sliding windows.
//!
//! The `batches` source hands over one scripted micro-batch per trigger, so what each
//! micro-batch holds, and so every watermark, is the same on every run.

mod common;

use neptune_dataflow::stream::{batches, sinks, Window, WindowResult, Windows};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn w(start: i64, end: i64) -> Window {
    Window { start, end }
}

/// Runs `script` through windows counting records per key; returns every result in
/// emission order (keys sorted within one emission) and the stream's statistics.
fn run(
    windows: Windows,
    script: Vec<Vec<(char, i64)>>,
) -> (Vec<WindowResult<char, u64>>, neptune_dataflow::StreamStats) {
    let ctx = common::ctx();
    let (sink, out) = sinks::channel();
    let stats = ctx
        .stream(batches(script))
        .trigger(Duration::ZERO)
        .partitions(2)
        .window(windows, |(key, time)| (key, time, 1u64), |a, b| a + b)
        .start(sink)
        .unwrap()
        .wait()
        .unwrap();
    let results: Vec<_> = out.try_iter().collect();
    (results, stats)
}

fn r(window: Window, key: char, value: u64, update: bool) -> WindowResult<char, u64> {
    WindowResult {
        window,
        key,
        value,
        update,
    }
}

/// Sorts each run of results of one window and kind by key (the order of keys within
/// one emission is not fixed).
fn normalise(mut v: Vec<WindowResult<char, u64>>) -> Vec<WindowResult<char, u64>> {
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].window == v[i].window && v[j].update == v[i].update {
            j += 1;
        }
        v[i..j].sort_by_key(|r| r.key);
        i = j;
    }
    v
}

#[test]
fn tumbling_out_of_order_and_late() {
    let windows = Windows::tumbling(ms(10_000))
        .watermark_delay(ms(1_000))
        .allowed_lateness(ms(5_000));
    let script = vec![
        // Out of order within the batch; the watermark moves to 12 000 - 1 000 = 11 000,
        // past the end of [0, 10 000), which fires: a = 2, b = 1.
        vec![('a', 3_000), ('b', 2_000), ('a', 12_000), ('a', 1_000)],
        // Late for [0, 10 000) but within its lateness (until the watermark reaches
        // 15 000): the window's results are emitted again. 11 500 is out of order but
        // on time for [10 000, 20 000).
        vec![('b', 9_000), ('a', 11_500), ('a', 9_500)],
        // Watermark 15 500: [0, 10 000) is gone.
        vec![('a', 16_500)],
        // Too late for [0, 10 000): counted as dropped. 14 000 is on time.
        vec![('b', 5_000), ('a', 14_000)],
        // Watermark 20 000: [10 000, 20 000) fires with a = 4.
        vec![('a', 21_000)],
        // The end of the stream fires [20 000, 30 000).
    ];
    let (results, stats) = run(windows, script);
    assert_eq!(
        normalise(results),
        [
            r(w(0, 10_000), 'a', 2, false),
            r(w(0, 10_000), 'b', 1, false),
            r(w(0, 10_000), 'a', 3, true),
            r(w(0, 10_000), 'b', 2, true),
            r(w(10_000, 20_000), 'a', 4, false),
            r(w(20_000, 30_000), 'a', 1, false),
        ]
    );
    assert_eq!(stats.micro_batches, 5);
    assert_eq!(stats.records_in, 11);
    assert_eq!(stats.records_out, 6);
    assert_eq!(stats.late_accepted, 2);
    assert_eq!(stats.late_dropped, 1);
    assert_eq!(stats.window_updates, 2);
    assert_eq!(stats.windows_fired, 3);
    // Two windows fired on the watermark; the last one at the end of the stream.
    assert_eq!(stats.window_latencies_us.len(), 2);
    assert_eq!(stats.watermark, Some(i64::MAX));
}

#[test]
fn sliding_out_of_order_and_too_late() {
    let windows = Windows::sliding(ms(10_000), ms(5_000));
    let script = vec![
        // 1 000 is in [-5 000, 5 000) and [0, 10 000); 6 000 in [0, 10 000) and
        // [5 000, 15 000). Watermark 6 000: [-5 000, 5 000) fires.
        vec![('k', 6_000), ('k', 1_000)],
        // 4 000: on time for [0, 10 000), too late for [-5 000, 5 000) (no lateness):
        // one dropped assignment. Watermark 12 000: [0, 10 000) fires with 3.
        vec![('k', 4_000), ('k', 12_000), ('j', 7_000)],
    ];
    let (results, stats) = run(windows, script);
    assert_eq!(
        normalise(results),
        [
            r(w(-5_000, 5_000), 'k', 1, false),
            r(w(0, 10_000), 'j', 1, false),
            r(w(0, 10_000), 'k', 3, false),
            r(w(5_000, 15_000), 'j', 1, false),
            r(w(5_000, 15_000), 'k', 2, false),
            r(w(10_000, 15_000 + 5_000), 'k', 1, false),
        ]
    );
    assert_eq!(stats.late_dropped, 1);
    assert_eq!(stats.late_accepted, 0);
    assert_eq!(stats.window_updates, 0);
    assert_eq!(stats.windows_fired, 4);
}

#[test]
fn sliding_late_within_lateness_updates_every_window_it_belongs_to() {
    let windows = Windows::sliding(ms(10), ms(5)).allowed_lateness(ms(100));
    let script = vec![
        vec![('k', 3), ('k', 7)],
        // Watermark 40: [-5, 5), [0, 10), [5, 15) fire.
        vec![('k', 40)],
        // 8 is late for [0, 10) and [5, 15), within lateness: both are emitted again.
        vec![('k', 8)],
    ];
    let (results, stats) = run(windows, script);
    let updates: Vec<_> = results.iter().filter(|r| r.update).cloned().collect();
    assert_eq!(
        updates,
        [r(w(0, 10), 'k', 3, true), r(w(5, 15), 'k', 2, true)]
    );
    assert_eq!((stats.late_accepted, stats.late_dropped), (2, 0));
    // The last result of each window counts each of its records once: 3, 7 and 8 in
    // [0, 10); 7, 8 in [5, 15); 3 in [-5, 5); 40 in [35, 45) and [40, 50).
    let mut last = std::collections::BTreeMap::new();
    for res in &results {
        last.insert(res.window, res.value);
    }
    assert_eq!(
        last.into_iter().collect::<Vec<_>>(),
        [
            (w(-5, 5), 1),
            (w(0, 10), 3),
            (w(5, 15), 2),
            (w(35, 45), 1),
            (w(40, 50), 1)
        ]
    );
}
