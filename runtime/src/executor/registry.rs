//! The registry of live tasks: what shutdown cancels.
//!
//! Sharded by task id so that spawns on different slots rarely share a lock. Each entry
//! holds one counted reference, given up when the task completes or at shutdown.

use crate::sync::{lock, Mutex, Ordering::Relaxed};
use crate::task::{Header, RawTask, TaskRef};
use slab::Slab;

struct Shard {
    tasks: Slab<RawTask>,
    /// Of `tasks`, how many of each class (kept under the lock the slab needs anyway,
    /// for the task counts of the metrics).
    per_class: [usize; 2],
    closed: bool,
}

pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
}

impl Registry {
    pub(crate) fn new(shards: usize) -> Registry {
        let n = shards.next_power_of_two();
        Registry {
            shards: (0..n)
                .map(|_| {
                    Mutex::new(Shard {
                        tasks: Slab::new(),
                        per_class: [0; 2],
                        closed: false,
                    })
                })
                .collect(),
        }
    }

    fn shard(&self, h: &Header) -> &Mutex<Shard> {
        &self.shards[h.id.as_u64() as usize & (self.shards.len() - 1)]
    }

    /// Adds a task. Fails (returning the reference) once the registry is closed.
    pub(crate) fn insert(&self, task: TaskRef) -> Result<(), TaskRef> {
        let mut shard = lock(self.shard(task.header()));
        if shard.closed {
            return Err(task);
        }
        let key = shard.tasks.insert(task.raw());
        // A slab key counts live tasks: 2^32 of them (at 128 bytes or more each) would
        // not fit in memory.
        let key = u32::try_from(key).expect("fewer than 2^32 live tasks");
        task.header().owner_key.store(key, Relaxed);
        shard.per_class[task.header().class.index()] += 1;
        // The slab now holds the reference.
        let _ = task.into_raw();
        Ok(())
    }

    /// Removes a completed task; returns the number of references the caller must drop
    /// on the registry's behalf (1 if it was here, 0 if shutdown already took it).
    pub(crate) fn remove(&self, h: &Header) -> usize {
        let mut shard = lock(self.shard(h));
        let key = h.owner_key.load(Relaxed) as usize;
        match shard.tasks.get(key) {
            Some(t) if std::ptr::eq(t.header(), h) => {
                shard.tasks.remove(key);
                shard.per_class[h.class.index()] -= 1;
                1
            }
            _ => 0,
        }
    }

    /// Closes the registry to new tasks and takes every live one out of it.
    pub(crate) fn close_and_drain(&self) -> Vec<TaskRef> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            shard.closed = true;
            shard.per_class = [0; 2];
            for raw in shard.tasks.drain() {
                // SAFETY: each entry holds a counted reference, now handed to a TaskRef.
                out.push(unsafe { TaskRef::from_counted(raw) });
            }
        }
        out
    }

    /// Number of live tasks.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).tasks.len()).sum()
    }

    /// Number of live tasks per class (index with `Class::index`).
    pub(crate) fn len_per_class(&self) -> [usize; 2] {
        self.shards.iter().fold([0; 2], |acc, s| {
            let n = lock(s).per_class;
            [acc[0] + n[0], acc[1] + n[1]]
        })
    }
}
