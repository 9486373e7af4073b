//! Shared state between jobs: a batch job publishes versions of a model that a stream
//! job reads. Readers never block (not even while a writer is in the middle of making
//! the next version) and see versions in order.

mod common;

use neptune_dataflow::stream::{batches, sinks, Published};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

#[test]
fn readers_see_versions_monotonically_and_whole() {
    // The value is a vector whose every element equals its version: a torn read would
    // show mixed elements.
    let cell = Published::new(vec![0u64; 64]);
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let cell = cell.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut last = 0;
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) || reads == 0 {
                    let v = cell.latest();
                    assert!(v.version >= last, "went back from {last} to {}", v.version);
                    assert!(v.iter().all(|&x| x == v.version), "a torn version");
                    last = v.version;
                    reads += 1;
                }
                last
            })
        })
        .collect();
    for version in 1..=2_000u64 {
        assert_eq!(cell.publish(vec![version; 64]), version);
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() <= 2_000);
    }
    assert_eq!(cell.version(), 2_000);
}

#[test]
fn a_reader_is_not_held_up_by_a_writer_making_the_next_version() {
    let cell = Published::new(1u32);
    let writer_inside = Arc::new(Barrier::new(2));
    let reader_done = Arc::new(Barrier::new(2));
    let writer = {
        let cell = cell.clone();
        let (inside, done) = (writer_inside.clone(), reader_done.clone());
        std::thread::spawn(move || {
            cell.update(|old| {
                inside.wait(); // the writer is now in the middle of publishing
                done.wait(); // and stays there until the reader got through
                old.value + 1
            })
        })
    };
    writer_inside.wait();
    // Would deadlock if reading waited for the writer.
    let seen = cell.latest();
    assert_eq!((seen.version, seen.value), (0, 1));
    reader_done.wait();
    assert_eq!(writer.join().unwrap(), 1);
    assert_eq!(
        *cell.latest(),
        neptune_dataflow::stream::Versioned {
            version: 1,
            value: 2
        }
    );
}

#[test]
fn concurrent_writers_lose_no_publication() {
    let cell = Published::new(0u64);
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let cell = cell.clone();
            std::thread::spawn(move || {
                for _ in 0..500 {
                    cell.update(|v| v.value + 1);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let latest = cell.latest();
    assert_eq!((latest.version, latest.value), (2_000, 2_000));
}

#[test]
fn a_stream_job_scores_with_the_version_a_batch_job_published() {
    let ctx = common::ctx();
    // The "model" is a threshold; a batch job trains it (here: the maximum of a data
    // set) and publishes it.
    let model = Published::new(0u64);
    let trained = ctx.range(0..1_000, 4).reduce(|a, b| a.max(b)).unwrap();
    model.publish(trained.value.unwrap());

    let (sink, out) = sinks::channel();
    let reader = model.clone();
    ctx.stream(batches(vec![vec![10u64, 2_000, 999], vec![1_000]]))
        .trigger(Duration::ZERO)
        .map_batches(move |events| {
            // Read once per micro-batch: every record of it sees the same version.
            let m = reader.latest();
            events.map(move |e| (e, e > m.value, m.version))
        })
        .start(sink)
        .unwrap()
        .wait()
        .unwrap();
    let got: Vec<_> = out.try_iter().collect();
    assert_eq!(
        got,
        [
            (10, false, 1),
            (2_000, true, 1),
            (999, false, 1),
            (1_000, true, 1)
        ]
    );
}
