//! File I/O off the slots: tasks hand the blocking calls to their runtime's blocking
//! pool ([`neptune_runtime::spawn_blocking`]) and await them, so that a slot never
//! waits on a disk while it could run other tasks (a Stream task above all).

use futures::future::BoxFuture;
use futures::FutureExt;
use neptune_runtime::Handle;
use std::io;

/// Runs `f`, which blocks, on the current runtime's blocking pool; the future gives its
/// result without holding the slot meanwhile.
///
/// The job starts now, not when the future is first polled, so that a caller can
/// start the next chunk of work while it deals with the last one. Outside any runtime
/// (a stream polled by hand) `f` runs here and now.
///
/// A panic in `f` is raised again where the future is awaited, so that it fails the
/// task just as it would have, had `f` run in it. The future's only error is a
/// runtime that shut down before `f` ran.
pub(crate) fn blocking<T, F>(f: F) -> BoxFuture<'static, io::Result<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let Some(handle) = Handle::try_current() else {
        return futures::future::ready(Ok(f())).boxed();
    };
    let job = handle.spawn_blocking(f);
    async move {
        match job.await {
            Ok(value) => Ok(value),
            Err(e) => match e.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(e) => Err(io::Error::other(format!(
                    "the executor shut down before a file operation ran ({e})"
                ))),
            },
        }
    }
    .boxed()
}
