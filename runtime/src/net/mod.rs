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
//! # Addresses
//!
//! Constructors and `send_to` take any [`ToSocketAddrs`]: a [`SocketAddr`], an IP
//! address and a port, a list of addresses, or a `HOST:PORT` string. The rule: **a
//! literal address is used at once, a host name is looked up on the runtime's blocking
//! pool** ([`spawn_blocking`](crate::spawn_blocking)), never on a slot. The system
//! resolver blocks its thread for as long as DNS takes (seconds, with a server that
//! does not answer), and a slot blocked there runs none of its other tasks; so the
//! task that asked waits for the lookup, and the slot goes on with other work. Strings
//! such as `"127.0.0.1:8080"` or `"[::1]:8080"` are literal addresses too: they are
//! parsed on the spot, without the round trip to the pool.
//!
//! ```
//! use neptune_runtime::net::{TcpListener, TcpStream};
//!
//! let rt = neptune_runtime::Runtime::new().unwrap();
//! rt.block_on(async {
//!     // Literal: bound at once.
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let port = listener.local_addr().unwrap().port();
//!     // A host name: looked up on a blocking thread while this task waits.
//!     let stream = TcpStream::connect(("localhost", port)).await.unwrap();
//!     assert!(stream.peer_addr().unwrap().ip().is_loopback());
//!     // A name that does not resolve is an error naming it.
//!     let err = TcpStream::connect("no-such-host.invalid:80").await.unwrap_err();
//!     assert!(err.to_string().contains("no-such-host.invalid:80"));
//! });
//! ```
//!
//! # Panics
//!
//! Creating a socket outside a runtime panics with "must be called from within a neptune
//! runtime".

mod addr;
mod tcp;
mod udp;

pub use addr::{lookup_host, ToSocketAddrs};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;

use std::io;
use std::net::SocketAddr;

/// Resolves `addr` (see [`ToSocketAddrs`]), then calls `f` with each address until one
/// succeeds; returns the last error otherwise, like the std socket constructors do.
async fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last_err = None;
    for addr in addr::resolve(addr).await? {
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
