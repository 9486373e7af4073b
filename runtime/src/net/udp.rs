use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use mio::Interest;

use super::{addr, each_addr, no_addresses, ToSocketAddrs};
use crate::driver::{Direction, PollEvented, Ready};

/// A UDP socket.
///
/// Every operation takes `&self`, and any number of tasks may await operations on one
/// socket (shared through `Arc<UdpSocket>`) at the same time: when a datagram arrives,
/// all tasks waiting to receive are woken and one of them gets it, the others go back to
/// waiting. This is what a protocol layer with several tasks reading one socket needs.
///
/// The `poll_*` methods keep only the waker of their latest call per direction, so each
/// of them should be used by one task at a time.
pub struct UdpSocket {
    io: PollEvented<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds a socket to `addr`, trying each address it resolves to until one works
    /// (a host name is looked up off the slot: see [`ToSocketAddrs`]). Binding to port 0
    /// picks a free port.
    ///
    /// # Panics
    ///
    /// Panics with "must be called from within a neptune runtime" outside a runtime.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let socket = each_addr(addr, mio::net::UdpSocket::bind).await?;
        UdpSocket::from_mio(socket)
    }

    /// Wraps a socket created by the standard library, switching it to non-blocking mode
    /// and registering it with the current runtime.
    ///
    /// # Panics
    ///
    /// Panics with "must be called from within a neptune runtime" outside a runtime.
    #[track_caller]
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::from_mio(mio::net::UdpSocket::from_std(socket))
    }

    #[track_caller]
    fn from_mio(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        // Assumed ready at first: sending usually succeeds at once and datagrams may
        // already be queued, so the first operation tries the syscall directly.
        let io = PollEvented::new(
            socket,
            Interest::READABLE | Interest::WRITABLE,
            Ready::READABLE | Ready::WRITABLE,
        )?;
        Ok(UdpSocket { io })
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// The address the socket is connected to.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.peer_addr()
    }

    /// Connects the socket to `addr` (the first address it resolves to that works):
    /// [`send`](UdpSocket::send) then sends there and [`recv`](UdpSocket::recv) only
    /// receives datagrams from there.
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |addr| self.io.connect(addr)).await
    }

    /// Sends `buf` to `target` (the first address it resolves to); returns the number of
    /// bytes sent. A host name is looked up off the slot, at every call: to send many
    /// datagrams to one host, look it up once with [`lookup_host`](super::lookup_host)
    /// and pass the [`SocketAddr`].
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let target = addr::resolve(target)
            .await?
            .next()
            .ok_or_else(no_addresses)?;
        self.io
            .registration()
            .async_io(Direction::Write, || self.io.send_to(buf, target))
            .await
    }

    /// Receives one datagram into `buf`; returns its length and sender. Bytes that do
    /// not fit in `buf` are discarded.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .registration()
            .async_io(Direction::Read, || self.io.recv_from(buf))
            .await
    }

    /// Sends `buf` to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .registration()
            .async_io(Direction::Write, || self.io.send(buf))
            .await
    }

    /// Receives one datagram from the connected peer into `buf`; returns its length.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .registration()
            .async_io(Direction::Read, || self.io.recv(buf))
            .await
    }

    /// Polls to send `buf` to `target`. Keeps only the latest waker (see the type docs).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io
            .registration()
            .poll_io(cx, Direction::Write, || self.io.send_to(buf, target))
    }

    /// Polls to receive a datagram into `buf`. Keeps only the latest waker (see the type
    /// docs).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io
            .registration()
            .poll_io(cx, Direction::Read, || self.io.recv_from(buf))
    }

    /// Polls to send `buf` to the connected peer. Keeps only the latest waker.
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io
            .registration()
            .poll_io(cx, Direction::Write, || self.io.send(buf))
    }

    /// Polls to receive a datagram from the connected peer. Keeps only the latest waker.
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io
            .registration()
            .poll_io(cx, Direction::Read, || self.io.recv(buf))
    }

    /// Sets `SO_BROADCAST`, allowing sends to broadcast addresses.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.broadcast()
    }

    /// Sets the IP time-to-live of outgoing datagrams.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.set_ttl(ttl)
    }

    /// The IP time-to-live of outgoing datagrams.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.take_error()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{enter, Handle};
    use futures::executor::block_on;
    use std::collections::HashSet;
    use std::future::Future;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn round_trip_and_connected_mode() {
        let handle = Handle::start("neptune-test-udp").unwrap();
        let _guard = enter(handle.clone());
        block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b_addr = b.local_addr().unwrap();
            a.send_to(b"ping", b_addr).await.unwrap();
            let mut buf = [0u8; 16];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));

            b.connect(from).await.unwrap();
            a.connect(b_addr).await.unwrap();
            assert_eq!(b.peer_addr().unwrap(), from);
            b.send(b"pong").await.unwrap();
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"pong");
        });
        handle.shutdown();
    }

    #[test]
    fn many_threads_wait_on_one_socket() {
        const WAITERS: usize = 8;
        let handle = Handle::start("neptune-test-udp").unwrap();
        let _guard = enter(handle.clone());
        let socket = Arc::new(block_on(UdpSocket::bind("127.0.0.1:0")).unwrap());
        let addr = socket.local_addr().unwrap();
        let receivers: Vec<_> = (0..WAITERS)
            .map(|_| {
                let socket = socket.clone();
                let handle = handle.clone();
                std::thread::spawn(move || {
                    let _guard = enter(handle);
                    let mut buf = [0u8; 8];
                    let (n, _) = block_on(socket.recv_from(&mut buf)).unwrap();
                    buf[..n].to_vec()
                })
            })
            .collect();
        // Let every receiver park on the socket before anything arrives.
        std::thread::sleep(Duration::from_millis(100));
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..WAITERS {
            sender.send_to(&[i as u8], addr).unwrap();
        }
        let got: HashSet<Vec<u8>> = receivers.into_iter().map(|r| r.join().unwrap()).collect();
        let expected: HashSet<Vec<u8>> = (0..WAITERS).map(|i| vec![i as u8]).collect();
        assert_eq!(got, expected);
        handle.shutdown();
    }

    #[test]
    fn dropping_a_pending_receive_removes_its_waiter() {
        let handle = Handle::start("neptune-test-udp").unwrap();
        let _guard = enter(handle.clone());
        let socket = block_on(UdpSocket::bind("127.0.0.1:0")).unwrap();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        {
            let mut buf = [0u8; 8];
            let mut recv = Box::pin(socket.recv_from(&mut buf));
            assert!(recv.as_mut().poll(&mut cx).is_pending());
            assert_eq!(socket.io.registration().shared().waiter_count(), 1);
        }
        assert_eq!(socket.io.registration().shared().waiter_count(), 0);
        let addr = socket.local_addr().unwrap();
        drop(socket);
        assert_eq!(handle.inner().reactor.registration_count(), 0);
        // The port is free again: the socket was closed, not leaked.
        drop(block_on(UdpSocket::bind(addr)).unwrap());
        handle.shutdown();
    }

    /// A slot that counts as a harvester but never harvests (one inside a long Stream
    /// poll) must not leave I/O unseen: the dormant driver thread takes over.
    #[test]
    fn a_dormant_driver_takes_over_from_harvesters_that_stopped() {
        let handle = Handle::start("neptune-test-udp").unwrap();
        let _guard = enter(handle.clone());
        // A pretend slot, awake and never harvesting.
        handle.slot_wakes();
        // Events nobody reads, until the driver thread leaves epoll_wait to the
        // (pretend) harvester. A clone of the socket, outside the reactor, empties it
        // as it goes: a full receive buffer drops datagrams without an event, and a
        // driver thread that got little CPU before the buffer filled would then wait
        // in epoll_wait for good.
        let noise_std = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let drain = noise_std.try_clone().unwrap();
        drain.set_nonblocking(true).unwrap();
        let noise = UdpSocket::from_std(noise_std).unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let noise_addr = noise.local_addr().unwrap();
        let mut sink = [0u8; 8];
        // Bounded in time, not in sends: on a loaded machine the driver thread may
        // get little CPU while this loop spins.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !handle.is_dormant() {
            assert!(
                std::time::Instant::now() < deadline,
                "the driver thread never went dormant"
            );
            sender.send_to(b"noise", noise_addr).unwrap();
            while drain.recv(&mut sink).is_ok() {}
            std::thread::yield_now();
        }
        let receiver = Arc::new(block_on(UdpSocket::bind("127.0.0.1:0")).unwrap());
        let to = receiver.local_addr().unwrap();
        let (done, result) = std::sync::mpsc::channel();
        {
            let receiver = receiver.clone();
            let handle = handle.clone();
            std::thread::spawn(move || {
                let _guard = enter(handle);
                let mut buf = [0u8; 8];
                let got = block_on(receiver.recv_from(&mut buf)).map(|(n, _)| buf[..n].to_vec());
                let _ = done.send(got);
            });
        }
        // The reader found nothing and waits for the reactor.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while receiver.io.registration().shared().waiter_count() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the reader never waited"
            );
            std::thread::yield_now();
        }
        sender.send_to(b"late", to).unwrap();
        let got = result
            .recv_timeout(Duration::from_secs(30))
            .expect("the datagram was never seen");
        assert_eq!(got.unwrap(), b"late");
        handle.slot_parks();
        handle.shutdown();
    }

    #[test]
    fn shutdown_fails_pending_receive() {
        let handle = Handle::start("neptune-test-udp").unwrap();
        let _guard = enter(handle.clone());
        let socket = Arc::new(block_on(UdpSocket::bind("127.0.0.1:0")).unwrap());
        let waiter = {
            let socket = socket.clone();
            let handle = handle.clone();
            std::thread::spawn(move || {
                let _guard = enter(handle);
                let mut buf = [0u8; 8];
                block_on(socket.recv_from(&mut buf)).map(|_| ())
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        handle.shutdown();
        let err = waiter.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other);
        let err = block_on(socket.send_to(b"x", "127.0.0.1:9")).unwrap_err();
        assert_eq!(err.to_string(), "runtime is shutting down");
    }
}
