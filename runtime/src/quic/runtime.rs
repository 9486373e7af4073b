//! quinn on this runtime: the [`quinn::Runtime`] adapter.
//!
//! quinn needs four things from a runtime, and each maps onto one piece of ours:
//!
//! - **spawn**: the endpoint and connection drivers become *Stream* tasks. They are
//!   never paused (policies pause Batch tasks only) and never queue behind Batch work
//!   (a slot runs every runnable Stream task first, and a waiting Stream task makes the
//!   policy pause Batch work to free a slot). A paused connection driver would look like
//!   a dead peer; a queued one would add a Batch task's run to every round trip.
//! - **timers**: [`crate::time::Sleep`], whose `reset` only records a later deadline —
//!   quinn resets its loss and idle timers on almost every packet.
//! - **the UDP socket**: a mio socket registered with the runtime's reactor, with
//!   quinn-udp doing the system calls (GSO, GRO, ECN, packet info) unchanged. Sends go
//!   through [`Registration::try_io`]: when the kernel says `WouldBlock`, the readiness
//!   the attempt saw is cleared, unless the reactor reported new readiness meanwhile.
//! - **write readiness for many tasks**: every connection driver sends on the one
//!   endpoint socket, so each gets a [`UdpPoller`] that holds its own entry in the
//!   socket's waiter list; one writable event wakes them all. Receiving is done by the
//!   endpoint driver alone, so it uses the socket's single read waker.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use mio::Interest;
use quinn::udp::{RecvMeta, Transmit, UdpSocketState};
use quinn::{AsyncTimer, AsyncUdpSocket, UdpPoller};

use crate::driver::{self, Direction, PollEvented, Ready};
use crate::executor::runtime::Handle;
use crate::task::SpawnOptions;
use crate::time::Sleep;

/// Socket buffer size asked of the kernel for each endpoint socket, both directions.
///
/// The default (about 200 KiB on Linux) holds fewer than 150 full-size datagrams: a
/// burst from a fast sender overflows it and quinn reads the drops as congestion. The
/// kernel caps the request at `net.core.{r,w}mem_max`; what it grants is kept.
pub const SOCKET_BUFFER_BYTES: usize = 8 << 20;

/// A [`quinn::Runtime`] that runs quinn on a neptune runtime.
///
/// ```
/// use std::sync::Arc;
/// use neptune_runtime::quic::QuicRuntime;
///
/// let rt = neptune_runtime::Runtime::new().unwrap();
/// let quic: Arc<dyn quinn::Runtime> = Arc::new(QuicRuntime::new(rt.handle().clone()));
/// let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// let endpoint = quinn::Endpoint::new(quinn::EndpointConfig::default(), None, socket, quic)
///     .unwrap();
/// assert!(endpoint.local_addr().unwrap().ip().is_loopback());
/// ```
#[derive(Clone)]
pub struct QuicRuntime {
    handle: Handle,
}

impl QuicRuntime {
    /// An adapter that spawns quinn's tasks, timers and sockets on the runtime behind
    /// `handle`. The endpoint may then be created and used from any thread.
    pub fn new(handle: Handle) -> QuicRuntime {
        QuicRuntime { handle }
    }

    /// An adapter for the runtime this thread runs in.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    pub fn current() -> QuicRuntime {
        QuicRuntime::new(Handle::current())
    }
}

impl fmt::Debug for QuicRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuicRuntime")
            .field("runtime", &self.handle)
            .finish()
    }
}

impl quinn::Runtime for QuicRuntime {
    fn new_timer(&self, deadline: Instant) -> Pin<Box<dyn AsyncTimer>> {
        // quinn may create timers outside our threads (an endpoint built on `main`).
        let _driver = driver::enter(self.handle.driver.clone());
        Box::pin(Timer(crate::time::sleep_until(deadline)))
    }

    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) {
        // Detached: quinn's drivers end by themselves when their endpoint or connection
        // is gone.
        drop(
            self.handle
                .spawn_with(SpawnOptions::stream().name("quic-driver"), future),
        );
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let _driver = driver::enter(self.handle.driver.clone());
        Ok(Arc::new(UdpSocket::new(socket)?))
    }
}

/// quinn's timer: a [`Sleep`], which resets without allocating or waking anything.
#[derive(Debug)]
struct Timer(Sleep);

impl AsyncTimer for Timer {
    fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.0.reset(deadline)
    }

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

/// An endpoint's UDP socket: registered with the reactor, driven by quinn-udp.
struct UdpSocket {
    io: PollEvented<mio::net::UdpSocket>,
    state: UdpSocketState,
}

impl UdpSocket {
    fn new(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        let state = UdpSocketState::new((&socket).into())?;
        // Best effort (see `SOCKET_BUFFER_BYTES`): a smaller buffer still works.
        let _ = state.set_recv_buffer_size((&socket).into(), SOCKET_BUFFER_BYTES);
        let _ = state.set_send_buffer_size((&socket).into(), SOCKET_BUFFER_BYTES);
        // Assumed ready at first, so that the first send and receive try the system
        // call at once instead of waiting for the reactor's first report.
        let io = PollEvented::new(
            mio::net::UdpSocket::from_std(socket),
            Interest::READABLE | Interest::WRITABLE,
            Ready::READABLE | Ready::WRITABLE,
        )?;
        Ok(UdpSocket { io, state })
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.io.local_addr().ok())
            .finish()
    }
}

impl AsyncUdpSocket for UdpSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(WritePoller {
            socket: self,
            waiter: None,
        })
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        let registration = self.io.registration();
        registration.try_io(Direction::Write, || {
            self.state.send((&*self.io).into(), transmit)
        })
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        // Only the endpoint driver receives, so one read waker is enough.
        self.io.registration().poll_io(cx, Direction::Read, || {
            self.state.recv((&*self.io).into(), bufs, meta)
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.state.gro_segments()
    }

    fn may_fragment(&self) -> bool {
        self.state.may_fragment()
    }
}

/// One task's wait for the endpoint socket to become writable: its own entry in the
/// socket's waiter list, so that every connection blocked on a full socket is woken.
struct WritePoller {
    socket: Arc<UdpSocket>,
    /// The entry in the waiter list while waiting.
    waiter: Option<usize>,
}

impl UdpPoller for WritePoller {
    fn poll_writable(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // quinn asks before every send: while the socket is writable this is one load.
        let this = &mut *self;
        this.socket
            .io
            .registration()
            .poll_waiter(cx, Direction::Write, &mut this.waiter)
            .map_ok(|_| ())
    }
}

impl Drop for WritePoller {
    fn drop(&mut self) {
        if let Some(key) = self.waiter.take() {
            self.socket.io.registration().remove_waiter(key);
        }
    }
}

impl fmt::Debug for WritePoller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WritePoller")
            .field("waiting", &self.waiter.is_some())
            .finish()
    }
}
