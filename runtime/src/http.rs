//! hyper 1.x on this runtime: its `rt` traits over the runtime's sockets, timers and
//! spawner (feature `http`).
//!
//! hyper does no I/O of its own: it is generic over three small traits, and this module
//! implements them for the runtime.
//!
//! - [`HyperIo`] wraps anything implementing [`futures::io::AsyncRead`] and
//!   [`futures::io::AsyncWrite`], such as [`TcpStream`](crate::net::TcpStream), as
//!   [`hyper::rt::Read`] and [`hyper::rt::Write`]. Reads go straight into hyper's buffer;
//!   writes, flushes and shutdowns are passed through (a shutdown is `poll_close`, which
//!   for a `TcpStream` sends FIN).
//! - [`HyperTimer`] implements [`hyper::rt::Timer`] with the runtime's [`Sleep`], so
//!   hyper's timeouts (such as `http1::Builder::header_read_timeout`) sit in the driver's
//!   timer heap like any other timer. Resetting one moves its deadline in place with
//!   [`Sleep::reset`] instead of allocating a new timer.
//! - [`HyperExecutor`] implements [`hyper::rt::Executor`] for the hyper parts that spawn
//!   background tasks, spawning them as Stream tasks.
//!
//! The HTTP/1 server needs no executor: each connection is one future, returned by
//! `serve_connection`, which the accept loop spawns itself. Spawn it as a Stream task
//! (`spawn_with(SpawnOptions::stream(), ..)`), like [`HyperExecutor`] does: serving
//! requests is control-plane work, and a Stream task never queues behind Batch work.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use hyper::body::Incoming;
//! use hyper::server::conn::http1;
//! use hyper::service::service_fn;
//! use hyper::{Request, Response};
//! use neptune_runtime::http::{HyperIo, HyperTimer};
//! use neptune_runtime::net::{TcpListener, TcpStream};
//! use neptune_runtime::{spawn_with, Runtime, SpawnOptions};
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! let rt = Runtime::new().unwrap();
//! let reply = rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     // Serves one connection; a real server accepts in a loop and spawns each one.
//!     let server = spawn_with(SpawnOptions::stream(), async move {
//!         let (stream, _) = listener.accept().await?;
//!         let hello = service_fn(|_: Request<Incoming>| async {
//!             Ok::<_, Infallible>(Response::new(String::from("hello")))
//!         });
//!         http1::Builder::new()
//!             .timer(HyperTimer::new())
//!             .header_read_timeout(Duration::from_secs(5))
//!             .serve_connection(HyperIo::new(stream), hello)
//!             .await
//!             .map_err(std::io::Error::other)
//!     });
//!     let mut client = TcpStream::connect(addr).await?;
//!     client
//!         .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
//!         .await?;
//!     let mut reply = String::new();
//!     client.read_to_string(&mut reply).await?; // the server closes after replying
//!     server.await.expect("server task")?;
//!     Ok::<_, std::io::Error>(reply)
//! })
//! .unwrap();
//! assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
//! assert!(reply.ends_with("\r\n\r\nhello"), "{reply}");
//! ```

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures::io::{AsyncRead, AsyncWrite};
use hyper::rt::{Executor, ReadBufCursor, Timer};
use pin_project_lite::pin_project;

use crate::time::{self, Sleep};
use crate::{Handle, SpawnOptions};

/// The most bytes of hyper's buffer one read offers to the reader.
///
/// hyper hands out all the spare capacity of its read buffer, which grows to hundreds of
/// KiB, and a `futures` reader needs it zeroed first; zeroing it all on every read would
/// cost more than the read.
const MAX_READ: usize = 64 * 1024;

pin_project! {
    /// An [`AsyncRead`] + [`AsyncWrite`] byte stream (a [`TcpStream`](crate::net::TcpStream),
    /// say) seen through hyper's I/O traits, [`hyper::rt::Read`] and [`hyper::rt::Write`].
    ///
    /// Reports no efficient vectored writes: `futures`' traits cannot say whether the
    /// stream has them, so hyper copies headers and body into one buffer and writes it
    /// with one call. A `TcpStream` does have them (`writev`); to use them, set
    /// `http1::Builder::writev(true)`, and this wrapper passes hyper's vectored writes on.
    #[derive(Debug)]
    pub struct HyperIo<T> {
        #[pin]
        inner: T,
    }
}

impl<T> HyperIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> HyperIo<T> {
        HyperIo { inner }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Gives back the wrapped stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let len = buf.remaining().min(MAX_READ);
        // `AsyncRead` takes initialised bytes, hyper's buffer may not be.
        let dst = buf.initialize_unfilled_to(len);
        let n = ready!(self.project().inner.poll_read(cx, dst))?;
        if n > len {
            // A safe reader can claim anything; advancing past the buffer would be UB.
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("reader claimed {n} bytes read into a {len}-byte buffer"),
            )));
        }
        // SAFETY: `initialize_unfilled_to(len)` initialised the first `len` unfilled
        // bytes, and `n <= len`. Advancing in place saves copying through a temporary
        // buffer with `put_slice` on every read.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite> hyper::rt::Write for HyperIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_close(cx)
    }
}

/// hyper's [`Timer`] on the runtime's timers: its sleeps are [`Sleep`]s.
///
/// Pass it to hyper's builders (`http1::Builder::timer`); hyper then needs it for its
/// timeouts, such as `header_read_timeout`, which closes connections that do not send a
/// complete request head in time.
///
/// # Panics
///
/// Like [`time::sleep`], its sleeps must be made inside a runtime (in a task, or in
/// `block_on`): hyper makes them while its connection futures are polled, so spawn those
/// on the runtime or poll them in `block_on`.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct HyperTimer;

impl HyperTimer {
    /// A timer on the runtime that polls hyper's futures.
    pub fn new() -> HyperTimer {
        HyperTimer
    }
}

impl Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(time::sleep(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(time::sleep_until(deadline))
    }

    /// Moves a sleep made by this timer with [`Sleep::reset`]: no allocation, and the
    /// driver thread is only woken if the deadline becomes its earliest. A sleep made by
    /// another timer is replaced.
    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            Some(ours) => ours.get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// `Sleep` is this crate's own type, `Send`, `Sync` and `Unpin`, so it needs no wrapper.
impl hyper::rt::Sleep for Sleep {}

/// hyper's [`Executor`]: spawns the futures hyper hands it on a runtime, as Stream tasks.
///
/// They are Stream tasks because HTTP is the control plane: a request must never queue
/// behind Batch work, and a Stream task runs before any Batch task on its slot (and, with
/// every slot busy, makes the policy pause Batch work for it).
///
/// hyper's HTTP/1 server and client spawn nothing, so they do not need it; it is for the
/// parts of hyper (and of crates built on it) that take an executor.
#[derive(Clone, Debug)]
pub struct HyperExecutor {
    handle: Handle,
}

impl HyperExecutor {
    /// An executor that spawns on the current runtime (the one running this task or
    /// `block_on`), wherever it is used later.
    ///
    /// # Panics
    ///
    /// Panics with "must be called from within a neptune runtime" outside a runtime; use
    /// [`HyperExecutor::with_handle`] there.
    pub fn current() -> HyperExecutor {
        HyperExecutor::with_handle(Handle::current())
    }

    /// An executor that spawns on the runtime of `handle`, from any thread.
    pub fn with_handle(handle: Handle) -> HyperExecutor {
        HyperExecutor { handle }
    }
}

impl<F> Executor<F> for HyperExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        // Detached: hyper tracks its background tasks itself.
        drop(self.handle.spawn_with(SpawnOptions::stream(), future));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Runtime;
    use futures::channel::oneshot;
    use futures::executor::block_on;
    use hyper::rt::{Read, ReadBuf};
    use std::future::poll_fn;

    fn runtime() -> Runtime {
        crate::Builder::new().slots(1).build().unwrap()
    }

    /// Reads once through hyper's `Read` into a buffer of `capacity` bytes.
    fn read_once<R: Read + Unpin>(reader: &mut R, capacity: usize) -> io::Result<Vec<u8>> {
        let mut storage = vec![0u8; capacity];
        let mut buf = ReadBuf::new(&mut storage);
        block_on(poll_fn(|cx| {
            Pin::new(&mut *reader).poll_read(cx, buf.unfilled())
        }))?;
        Ok(buf.filled().to_vec())
    }

    #[test]
    fn reads_fill_hyper_buffers_up_to_their_capacity() {
        let mut io = HyperIo::new(futures::io::Cursor::new(b"hello".to_vec()));
        assert_eq!(read_once(&mut io, 4).unwrap(), b"hell");
        assert_eq!(read_once(&mut io, 4).unwrap(), b"o");
        assert_eq!(read_once(&mut io, 4).unwrap(), b"", "end of stream");
    }

    /// Claims to have read more than it was given.
    struct Liar;

    impl AsyncRead for Liar {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len() + 1))
        }
    }

    #[test]
    fn a_reader_overstating_its_read_is_an_error() {
        let err = read_once(&mut HyperIo::new(Liar), 8).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn writes_and_shutdown_pass_through() {
        use hyper::rt::Write;
        let mut io = HyperIo::new(futures::io::Cursor::new(Vec::new()));
        let n = block_on(poll_fn(|cx| {
            let bufs = [IoSlice::new(b"ab"), IoSlice::new(b"cd")];
            Pin::new(&mut io).poll_write_vectored(cx, &bufs)
        }))
        .unwrap();
        block_on(poll_fn(|cx| Pin::new(&mut io).poll_write(cx, b"!"))).unwrap();
        block_on(poll_fn(|cx| Pin::new(&mut io).poll_flush(cx))).unwrap();
        block_on(poll_fn(|cx| Pin::new(&mut io).poll_shutdown(cx))).unwrap();
        let written = io.into_inner().into_inner();
        assert_eq!(written, [&b"abcd"[..n], b"!"].concat());
        assert!(!Write::is_write_vectored(&HyperIo::new(Sink)));
    }

    /// A writer that takes everything.
    struct Sink;

    impl AsyncWrite for Sink {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            b: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(b.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn reset_moves_the_same_sleep() {
        let rt = runtime();
        rt.block_on(async {
            let timer = HyperTimer::new();
            let mut sleep = timer.sleep(Duration::from_secs(3600));
            // Registered with the driver for an hour from now.
            assert!(futures::poll!(sleep.as_mut()).is_pending());
            let before: *const () = (&*sleep as *const dyn hyper::rt::Sleep).cast();
            let deadline = Instant::now() + Duration::from_millis(5);
            timer.reset(&mut sleep, deadline);
            let after: *const () = (&*sleep as *const dyn hyper::rt::Sleep).cast();
            assert_eq!(before, after, "reset in place, not replaced");
            let ours = sleep.as_mut().downcast_mut_pin::<Sleep>().unwrap();
            assert_eq!(ours.deadline(), deadline);
            // Fires at the new deadline; the bound only keeps a broken reset from hanging.
            time::timeout(Duration::from_secs(30), sleep)
                .await
                .expect("the reset sleep fired");
        });
    }

    /// A sleep from some other timer.
    struct Foreign;

    impl Future for Foreign {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Pending
        }
    }

    impl hyper::rt::Sleep for Foreign {}

    #[test]
    fn reset_replaces_a_foreign_sleep() {
        let rt = runtime();
        rt.block_on(async {
            let mut sleep: Pin<Box<dyn hyper::rt::Sleep>> = Box::pin(Foreign);
            let deadline = Instant::now();
            HyperTimer::new().reset(&mut sleep, deadline);
            let ours = sleep.as_mut().downcast_mut_pin::<Sleep>().unwrap();
            assert_eq!(ours.deadline(), deadline);
            sleep.await;
        });
    }

    #[test]
    fn executor_runs_futures_on_its_runtime() {
        let rt = runtime();
        let executor = HyperExecutor::with_handle(rt.handle().clone());
        let (tx, rx) = oneshot::channel();
        // From a thread outside the runtime: the executor holds its handle.
        executor.execute(async move {
            let on_runtime = Handle::try_current().is_some();
            tx.send(on_runtime).unwrap();
        });
        assert!(rt.block_on(rx).unwrap());

        let (tx, rx) = oneshot::channel();
        rt.block_on(async {
            HyperExecutor::current().execute(async move { tx.send(()).unwrap() });
            rx.await.unwrap();
        });
    }
}
