//! TCP and UDP sockets driven by the runtime's I/O driver.
//!
//! The sockets are non-blocking mio sockets registered with the driver thread of the
//! runtime they were created in. An operation first tries the syscall when the socket is
//! believed ready; if that returns `WouldBlock`, the task clears the readiness it saw and
//! waits until the driver reports the socket ready again, then retries. Readiness that
//! arrives while a task is in the middle of this is never lost, and every task waiting for
//! the same direction of a socket is woken, so a socket shared through `Arc` can be awaited
//! by many tasks at once (see [`UdpSocket`]).
//!
//! Dropping a socket deregisters it from the driver and closes it. Once the runtime has
//! shut down, pending and new operations fail with an `io::ErrorKind::Other` error
//! ("runtime is shutting down").
//!
//! Addresses are resolved with [`std::net::ToSocketAddrs`], which blocks the calling
//! thread while resolving host names; pass [`SocketAddr`]s to avoid that.
//!
//! # Panics
//!
//! Creating a socket outside a runtime panics with "must be called from within a neptune
//! runtime".

mod tcp;
mod udp;

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Calls `f` with each address `addr` resolves to until one succeeds; returns the last
/// error otherwise, like the std socket constructors do.
fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last_err = None;
    for addr in addr.to_socket_addrs()? {
        match f(addr) {
            Ok(value) => return Ok(value),
            Err(err) => last_err = Some(err),
        }
    }
    Err(last_err.unwrap_or_else(no_addresses))
}

fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any addresses",
    )
}
