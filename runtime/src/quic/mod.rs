//! QUIC on this runtime: quinn, with mutual TLS against a cluster CA.
//!
//! - [`QuicRuntime`] implements [`quinn::Runtime`]: quinn's endpoint and connection
//!   drivers run as Stream tasks (never paused, never behind Batch work), its timers are
//!   the runtime's resettable [`Sleep`](crate::time::Sleep), and its UDP socket is
//!   registered with the runtime's reactor while quinn-udp does the system calls.
//! - [`ClusterIdentity`] is what a node proves itself with: the cluster CA's
//!   certificate, its own certificate (whose subject alternative name is its node name)
//!   and key. [`ClusterCa`] mints them; they load back from PEM files with errors that
//!   name the file.
//! - [`server`] and [`client`] make endpoints whose every link is TLS 1.3 with ALPN
//!   `neptune/1` and certificates on both sides, checked against the cluster CA.
//!   [`peer_name`] reads the node name from the peer's certificate.
//!
//! TLS 1.3 lets a client finish its handshake before the server has checked the
//! client's certificate, so a client that the server refuses sees the refusal on its
//! first stream operation (`ConnectionLost` with the TLS alert), not at connect time.
//! Protocols that must know they were accepted make one round trip first.
//!
//! ```
//! use neptune_runtime::quic::{self, ClusterCa};
//!
//! let rt = neptune_runtime::Runtime::new().unwrap();
//! let ca = ClusterCa::generate("example cluster").unwrap();
//! let (driver, worker) = (ca.issue("driver").unwrap(), ca.issue("worker-1").unwrap());
//! let reply = rt.block_on(async move {
//!     let server = quic::server("127.0.0.1:0".parse().unwrap(), &driver).unwrap();
//!     let addr = server.local_addr().unwrap();
//!     let serve = neptune_runtime::spawn(async move {
//!         let conn = server.accept().await.unwrap().await.unwrap();
//!         let who = quic::peer_name(&conn).unwrap();
//!         let (mut send, mut recv) = conn.accept_bi().await.unwrap();
//!         let asked = recv.read_to_end(64).await.unwrap();
//!         send.write_all(format!("{} from {who}", String::from_utf8(asked).unwrap()).as_bytes())
//!             .await
//!             .unwrap();
//!         send.finish().unwrap();
//!         conn.closed().await;
//!     });
//!     let client = quic::client("127.0.0.1:0".parse().unwrap(), &worker).unwrap();
//!     let conn = quic::connect(&client, addr, "driver").await.unwrap();
//!     let (mut send, mut recv) = conn.open_bi().await.unwrap();
//!     send.write_all(b"hello").await.unwrap();
//!     send.finish().unwrap();
//!     let reply = recv.read_to_end(64).await.unwrap();
//!     conn.close(0u32.into(), b"done");
//!     serve.await.unwrap();
//!     String::from_utf8(reply).unwrap()
//! });
//! assert_eq!(reply, "hello from worker-1");
//! ```

mod identity;
mod runtime;
mod tls;

pub use identity::{ClusterCa, ClusterIdentity, IdentityError};
pub use runtime::{QuicRuntime, SOCKET_BUFFER_BYTES};
pub use tls::{
    client_config, client_tls_config, server_config, server_tls_config, transport_config, ALPN,
};

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::executor::runtime::Handle;

/// What can go wrong making or using a cluster endpoint.
#[derive(Debug)]
pub enum QuicError {
    /// Called outside a neptune runtime (endpoints need one to run their drivers).
    NoRuntime,
    /// Binding or configuring the socket failed.
    Io(io::Error),
    /// rustls refused the identity or configuration.
    Tls(rustls::Error),
    /// The TLS configuration could not be built (the message says what).
    Config(String),
    /// The connection could not be started (bad address or server name, endpoint
    /// closed).
    Connect(quinn::ConnectError),
    /// The connection failed or was refused (a TLS alert from the peer shows here).
    Connection(quinn::ConnectionError),
    /// The peer's certificate names no node (no DNS subject alternative name).
    NoPeerName,
}

impl fmt::Display for QuicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuicError::NoRuntime => f.write_str("must be called from within a neptune runtime"),
            QuicError::Io(err) => write!(f, "socket: {err}"),
            QuicError::Tls(err) => write!(f, "TLS: {err}"),
            QuicError::Config(msg) => f.write_str(msg),
            QuicError::Connect(err) => write!(f, "connect: {err}"),
            QuicError::Connection(err) => write!(f, "connection: {err}"),
            QuicError::NoPeerName => {
                f.write_str("the peer's certificate has no DNS subject alternative name")
            }
        }
    }
}

impl std::error::Error for QuicError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QuicError::Io(err) => Some(err),
            QuicError::Tls(err) => Some(err),
            QuicError::Connect(err) => Some(err),
            QuicError::Connection(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for QuicError {
    fn from(err: io::Error) -> QuicError {
        QuicError::Io(err)
    }
}

fn endpoint(
    addr: SocketAddr,
    server: Option<quinn::ServerConfig>,
    identity: &ClusterIdentity,
) -> Result<quinn::Endpoint, QuicError> {
    let handle = Handle::try_current().ok_or(QuicError::NoRuntime)?;
    let socket = std::net::UdpSocket::bind(addr)?;
    let mut endpoint = quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        server,
        socket,
        Arc::new(QuicRuntime::new(handle)),
    )?;
    endpoint.set_default_client_config(client_config(identity)?);
    Ok(endpoint)
}

/// A cluster listener on `addr`: accepts peers with a certificate from the cluster CA
/// and can also dial out (with `identity`), as an executor serving shuffle blocks does.
///
/// Must be called within a neptune runtime (a task or `block_on`): the endpoint's
/// drivers run there.
pub fn server(addr: SocketAddr, identity: &ClusterIdentity) -> Result<quinn::Endpoint, QuicError> {
    endpoint(addr, Some(server_config(identity)?), identity)
}

/// A cluster client bound to `addr` (port 0 picks one) that presents `identity` to the
/// servers it dials with [`connect`]. Must be called within a neptune runtime.
pub fn client(addr: SocketAddr, identity: &ClusterIdentity) -> Result<quinn::Endpoint, QuicError> {
    endpoint(addr, None, identity)
}

/// Dials the node called `server_name` at `addr` and completes the handshake; the
/// server's certificate must come from the cluster CA and name `server_name`.
pub async fn connect(
    endpoint: &quinn::Endpoint,
    addr: SocketAddr,
    server_name: &str,
) -> Result<quinn::Connection, QuicError> {
    endpoint
        .connect(addr, server_name)
        .map_err(QuicError::Connect)?
        .await
        .map_err(QuicError::Connection)
}

/// The node name of the peer of `connection`, read from the certificate it presented
/// (never from anything it said).
pub fn peer_name(connection: &quinn::Connection) -> Result<String, QuicError> {
    let identity = connection.peer_identity().ok_or(QuicError::NoPeerName)?;
    let chain = identity
        .downcast::<Vec<rustls_pki_types::CertificateDer<'static>>>()
        .map_err(|_| QuicError::NoPeerName)?;
    tls::node_name(&chain).ok_or(QuicError::NoPeerName)
}
