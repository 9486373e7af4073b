//! The driver thread: runs every job's driver (the code that plans stages, places and
//! spawns tasks, and gathers their results) as futures on one thread of the context,
//! off the executors' slots, so that drivers never occupy a slot nor get paused.

use futures::channel::mpsc;
use futures::future::{poll_fn, BoxFuture};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use neptune_runtime::time_slice::make_urgent;
use std::io;
use std::task::Poll;
use std::thread::{self, ThreadId};

pub(crate) struct Driver {
    jobs: Option<mpsc::UnboundedSender<BoxFuture<'static, ()>>>,
    thread: Option<thread::JoinHandle<()>>,
    thread_id: ThreadId,
}

impl Driver {
    pub(crate) fn start(name: String) -> io::Result<Driver> {
        let (tx, mut rx) = mpsc::unbounded::<BoxFuture<'static, ()>>();
        let thread = thread::Builder::new().name(name).spawn(move || {
            // Every job's stages start and end here: with every core busy with Batch
            // work, a wake of this thread would otherwise wait for a slot's kernel time
            // slice to end (milliseconds) before a Stream job's tasks are spawned or its
            // result handed on. Best effort.
            let _ = make_urgent();
            let mut running = FuturesUnordered::new();
            let mut open = true;
            futures::executor::block_on(poll_fn(|cx| {
                while open {
                    match rx.poll_next_unpin(cx) {
                        Poll::Ready(Some(job)) => running.push(job),
                        Poll::Ready(None) => open = false,
                        Poll::Pending => break,
                    }
                }
                while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
                if !open && running.is_empty() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }));
        })?;
        let thread_id = thread.thread().id();
        Ok(Driver {
            jobs: Some(tx),
            thread: Some(thread),
            thread_id,
        })
    }

    /// Runs `job` on the driver thread. A job submitted while the context shuts down is
    /// dropped, and its handle reports that the driver is gone.
    /// Where to send work for this thread from elsewhere (None once it stops).
    pub(crate) fn sender(&self) -> Option<mpsc::UnboundedSender<BoxFuture<'static, ()>>> {
        self.jobs.clone()
    }

    pub(crate) fn submit(&self, job: BoxFuture<'static, ()>) {
        if let Some(tx) = &self.jobs {
            let _ = tx.unbounded_send(job);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Closing the channel lets the thread end once its jobs are done. The context
        // is dropped on the driver thread itself when a job held its last reference:
        // that thread cannot wait for itself, and ends on its own.
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            if thread::current().id() != self.thread_id {
                let _ = t.join();
            }
        }
    }
}
