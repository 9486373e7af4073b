use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};
use mio::Interest;

use super::{addr, each_addr, no_addresses, ToSocketAddrs};
use crate::driver::{Direction, PollEvented, Ready};

/// A TCP socket listening for connections.
///
/// [`accept`](TcpListener::accept) takes `&self`, so several tasks may accept on one
/// listener (shared through `Arc`) at the same time; each connection goes to one of them.
pub struct TcpListener {
    io: PollEvented<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds a listener to `addr`, trying each address it resolves to until one works
    /// (a host name is looked up off the slot: see [`ToSocketAddrs`]).
    ///
    /// Binding to port 0 picks a free port; [`local_addr`](TcpListener::local_addr)
    /// tells which. On Unix, `SO_REUSEADDR` is set so that a restarted server can bind
    /// while old connections linger in `TIME_WAIT`.
    ///
    /// # Panics
    ///
    /// Panics with "must be called from within a neptune runtime" outside a runtime.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let listener = each_addr(addr, mio::net::TcpListener::bind).await?;
        TcpListener::from_mio(listener)
    }

    /// Wraps a listener created by the standard library, switching it to non-blocking
    /// mode and registering it with the current runtime.
    ///
    /// # Panics
    ///
    /// Panics with "must be called from within a neptune runtime" outside a runtime.
    #[track_caller]
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_mio(mio::net::TcpListener::from_std(listener))
    }

    #[track_caller]
    fn from_mio(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        // Assumed readable at first: a connection may already be queued.
        let io = PollEvented::new(listener, Interest::READABLE, Ready::READABLE)?;
        Ok(TcpListener { io })
    }

    /// Waits for a connection and returns it together with the peer's address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self
            .io
            .registration()
            .async_io(Direction::Read, || self.io.accept())
            .await?;
        Ok((TcpStream::accepted(stream)?, addr))
    }

    /// Polls for a connection. Only the waker of the latest call is kept, so use this
    /// from one task at a time; [`accept`](TcpListener::accept) has no such limit.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        match self
            .io
            .registration()
            .poll_io(cx, Direction::Read, || self.io.accept())
        {
            Poll::Ready(Ok((stream, addr))) => {
                Poll::Ready(TcpStream::accepted(stream).map(|s| (s, addr)))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// Sets the IP time-to-live of accepted connections.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.set_ttl(ttl)
    }

    /// The IP time-to-live of accepted connections.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.ttl()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

/// A TCP connection.
///
/// Reading and writing go through [`futures::io::AsyncRead`] and
/// [`futures::io::AsyncWrite`] (use `futures::io::AsyncReadExt` / `AsyncWriteExt`).
/// Both are also implemented for `&TcpStream`, so one task can read while another writes
/// through a shared `Arc<TcpStream>`. Each direction keeps only the waker of its latest
/// poll, so at most one task should read and one task write at a time.
///
/// [`poll_close`](AsyncWrite::poll_close) shuts down the write half, which sends FIN to
/// the peer; the connection is closed when the stream is dropped.
pub struct TcpStream {
    io: PollEvented<mio::net::TcpStream>,
}

impl TcpStream {
    /// Opens a connection to `addr`, trying each address it resolves to until one
    /// connects; returns the last error otherwise. A host name is looked up off the
    /// slot (see [`ToSocketAddrs`]).
    ///
    /// # Panics
    ///
    /// Panics with "must be called from within a neptune runtime" outside a runtime.
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let mut last_err = None;
        for addr in addr::resolve(addr).await? {
            match TcpStream::connect_addr(addr).await {
                Ok(stream) => return Ok(stream),
                Err(err) => last_err = Some(err),
            }
        }
        Err(last_err.unwrap_or_else(no_addresses))
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = mio::net::TcpStream::connect(addr)?;
        // The connection is in progress: it is established (or has failed) once the
        // driver reports the socket writable, so nothing is assumed ready.
        let stream = TcpStream {
            io: PollEvented::new(
                stream,
                Interest::READABLE | Interest::WRITABLE,
                Ready::EMPTY,
            )?,
        };
        let registration = stream.io.registration();
        loop {
            let event = registration.readiness(Direction::Write).await?;
            if let Some(err) = stream.io.take_error()? {
                return Err(err);
            }
            match stream.io.peer_addr() {
                Ok(_) => return Ok(stream),
                // Spurious wake-up: not connected yet.
                Err(err) if err.kind() == io::ErrorKind::NotConnected => {
                    registration.clear_readiness(event)
                }
                Err(err) => return Err(err),
            }
        }
    }

    fn accepted(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        TcpStream::registered(stream)
    }

    /// Wraps a connected stream created by the standard library, switching it to
    /// non-blocking mode and registering it with the current runtime.
    ///
    /// # Panics
    ///
    /// Panics with "must be called from within a neptune runtime" outside a runtime.
    #[track_caller]
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::registered(mio::net::TcpStream::from_std(stream))
    }

    #[track_caller]
    fn registered(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        // A connected stream is assumed readable and writable until a syscall says
        // otherwise, which saves a round trip through the driver on the first operation.
        let io = PollEvented::new(
            stream,
            Interest::READABLE | Interest::WRITABLE,
            Ready::READABLE | Ready::WRITABLE,
        )?;
        Ok(TcpStream { io })
    }

    /// The local address of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// The remote address of the connection.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.peer_addr()
    }

    /// Sets `TCP_NODELAY`: when `true`, small writes are sent at once instead of being
    /// coalesced by Nagle's algorithm, which lowers latency for request/response traffic.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.nodelay()
    }

    /// Sets the IP time-to-live of outgoing packets.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.set_ttl(ttl)
    }

    /// The IP time-to-live of outgoing packets.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.ttl()
    }

    /// Shuts down the read half, the write half or both (see [`std::net::Shutdown`]).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.shutdown(how)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.take_error()
    }

    fn poll_read_ref(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut io: &mio::net::TcpStream = &self.io;
        self.io
            .registration()
            .poll_io(cx, Direction::Read, || io.read(buf))
    }

    fn poll_write_ref(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut io: &mio::net::TcpStream = &self.io;
        self.io
            .registration()
            .poll_io(cx, Direction::Write, || io.write(buf))
    }

    fn poll_write_vectored_ref(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|buf| buf.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        let mut io: &mio::net::TcpStream = &self.io;
        self.io
            .registration()
            .poll_io(cx, Direction::Write, || io.write_vectored(bufs))
    }

    fn poll_close_ref(&self) -> Poll<io::Result<()>> {
        Poll::Ready(self.io.shutdown(Shutdown::Write))
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_ref(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_ref(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_ref(cx, bufs)
    }

    /// Writes are not buffered, so there is nothing to flush.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_close_ref()
    }
}

impl AsyncRead for &TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_ref(cx, buf)
    }
}

impl AsyncWrite for &TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_ref(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_ref(cx, bufs)
    }

    /// Writes are not buffered, so there is nothing to flush.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_close_ref()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{enter, Handle};
    use futures::executor::block_on;
    use futures::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn echo_between_threads() {
        let handle = Handle::start("neptune-test-tcp").unwrap();
        let _guard = enter(handle.clone());
        let listener = block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = {
            let handle = handle.clone();
            std::thread::spawn(move || {
                let _guard = enter(handle);
                block_on(async {
                    let (mut stream, peer) = listener.accept().await.unwrap();
                    assert_eq!(peer, stream.peer_addr().unwrap());
                    let mut buf = Vec::new();
                    stream.read_to_end(&mut buf).await.unwrap();
                    stream.write_all(&buf).await.unwrap();
                    stream.close().await.unwrap();
                })
            })
        };
        block_on(async {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            assert!(stream.nodelay().unwrap());
            let message = vec![7u8; 256 * 1024];
            stream.write_all(&message).await.unwrap();
            stream.close().await.unwrap();
            let mut echoed = Vec::new();
            stream.read_to_end(&mut echoed).await.unwrap();
            assert_eq!(echoed, message);
        });
        server.join().unwrap();
        assert_eq!(handle.inner().reactor.registration_count(), 0);
        handle.shutdown();
    }

    #[test]
    fn connect_refused_is_an_error() {
        let handle = Handle::start("neptune-test-tcp").unwrap();
        let _guard = enter(handle.clone());
        // Bind and drop a listener to get a port that nothing listens on.
        let addr = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let err = block_on(TcpStream::connect(addr)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        handle.shutdown();
    }

    #[test]
    fn shutdown_fails_pending_accept() {
        let handle = Handle::start("neptune-test-tcp").unwrap();
        let _guard = enter(handle.clone());
        let listener = block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let waiter = {
            let handle = handle.clone();
            std::thread::spawn(move || {
                let _guard = enter(handle);
                block_on(listener.accept()).map(|_| ())
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        handle.shutdown();
        let err = waiter.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert_eq!(err.to_string(), "runtime is shutting down");
        assert_eq!(
            TcpListener::from_std(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
                .unwrap_err()
                .to_string(),
            "runtime is shutting down"
        );
    }
}
