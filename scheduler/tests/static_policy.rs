//! STATIC on a real runtime: Batch work never runs on the Stream slot, and Stream work
//! only runs there.

use neptune_runtime::{preemption_point, yield_now, Builder, SpawnOptions};
use neptune_scheduler::local::Static;
use std::sync::{Arc, Mutex};

fn slot_name() -> String {
    std::thread::current().name().unwrap_or("?").to_owned()
}

#[test]
fn batch_stays_off_the_stream_slot() {
    let rt = Builder::new()
        .slots(2)
        .thread_name("st")
        .policy(Static::default())
        .build()
        .unwrap();
    let seen: Arc<Mutex<Vec<(&'static str, String)>>> = Arc::default();
    let mut joins = Vec::new();
    for _ in 0..6 {
        let seen = seen.clone();
        joins.push(rt.spawn(async move {
            for round in 0..20u32 {
                seen.lock().unwrap().push(("batch", slot_name()));
                for _ in 0..1_000 {
                    preemption_point().await;
                }
                if round % 2 == 0 {
                    // Back to the queue, where an idle slot could steal it.
                    yield_now().await;
                }
            }
        }));
    }
    for _ in 0..6 {
        let seen = seen.clone();
        joins.push(rt.spawn_with(SpawnOptions::stream(), async move {
            for _ in 0..5 {
                seen.lock().unwrap().push(("stream", slot_name()));
                yield_now().await;
            }
        }));
    }
    for j in joins {
        rt.block_on(j).unwrap();
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 6 * 20 + 6 * 5);
    for (class, slot) in seen.iter() {
        match *class {
            "batch" => assert_eq!(slot, "st-1", "batch ran on {slot}"),
            _ => assert_eq!(slot, "st-0", "stream ran on {slot}"),
        }
    }
}
