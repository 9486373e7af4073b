//! [`ToSocketAddrs`]: the addresses the socket constructors take, and their
//! resolution, which never blocks a slot.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// An address the sockets of this module can bind or connect to: a socket address, an
/// IP address and a port, a list of socket addresses, or a `HOST:PORT` string or
/// `(HOST, PORT)` pair.
///
/// A literal address (an IP address, in any of these forms, `"127.0.0.1:80"` and
/// `"[::1]:80"` included) is used as it is, at once. A host name is looked up on the
/// runtime's blocking pool (see [`spawn_blocking`](crate::spawn_blocking)), because
/// the system resolver blocks the thread that calls it, for as long as DNS takes; the
/// task awaiting the socket waits, its slot does not.
///
/// Implemented for [`SocketAddr`], [`SocketAddrV4`], [`SocketAddrV6`],
/// `(IpAddr, u16)`, `(Ipv4Addr, u16)`, `(Ipv6Addr, u16)`, `[SocketAddr]` (as
/// `&[SocketAddr]`), `str` (as `&str`), [`String`], `(&str, u16)`, `(String, u16)`,
/// and references to any of them. The trait is sealed: its method is not part of the
/// public API, so it cannot be implemented outside this crate.
pub trait ToSocketAddrs: sealed::ToSocketAddrsPriv {}

pub(crate) mod sealed {
    use super::Resolve;

    /// The part of [`ToSocketAddrs`](super::ToSocketAddrs) that stays private.
    pub trait ToSocketAddrsPriv {
        /// The addresses, or the host name to look up.
        fn to_addrs(&self) -> Resolve;
    }
}

use sealed::ToSocketAddrsPriv;

/// What an address needs before a socket can use it.
pub enum Resolve {
    /// Nothing: these are its addresses (or why it has none).
    Ready(io::Result<Addrs>),
    /// A lookup of `host` (not an IP address), off the slot.
    Lookup {
        /// The name to look up.
        host: String,
        /// The port every address it resolves to gets.
        port: u16,
    },
}

/// The addresses an address resolved to, in the resolver's order.
///
/// One address, the common case (and every datagram sent with `send_to`), is held
/// without allocating.
pub struct Addrs(AddrsRepr);

enum AddrsRepr {
    One(Option<SocketAddr>),
    Many(std::vec::IntoIter<SocketAddr>),
}

impl Addrs {
    fn one(addr: SocketAddr) -> Addrs {
        Addrs(AddrsRepr::One(Some(addr)))
    }

    fn many(addrs: Vec<SocketAddr>) -> Addrs {
        Addrs(AddrsRepr::Many(addrs.into_iter()))
    }
}

impl Iterator for Addrs {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        match &mut self.0 {
            AddrsRepr::One(addr) => addr.take(),
            AddrsRepr::Many(addrs) => addrs.next(),
        }
    }
}

/// The addresses `addr` resolves to, in the resolver's order: a literal address at
/// once, a host name through a lookup on the runtime's blocking pool (see
/// [`ToSocketAddrs`]).
///
/// ```
/// let rt = neptune_runtime::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut addrs = neptune_runtime::net::lookup_host("localhost:53").await.unwrap();
///     assert!(addrs.all(|a| a.ip().is_loopback() && a.port() == 53));
/// });
/// ```
pub async fn lookup_host<A: ToSocketAddrs>(
    addr: A,
) -> io::Result<impl Iterator<Item = SocketAddr> + Send + 'static> {
    resolve(addr).await
}

/// Resolves `addr`: at once for literal addresses, on the blocking pool for host
/// names.
pub(crate) async fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Addrs> {
    match addr.to_addrs() {
        Resolve::Ready(addrs) => addrs,
        Resolve::Lookup { host, port } => lookup(host, port).await,
    }
}

/// Looks `host` up with the system resolver, off the calling thread: on the current
/// runtime's blocking pool, or, where no runtime is current (a socket used from a
/// thread of its own), on a thread started for it.
async fn lookup(host: String, port: u16) -> io::Result<Addrs> {
    let name = Name(host, port);
    let addrs = match crate::Handle::try_current() {
        Some(handle) => {
            let job = handle.spawn_blocking(move || blocking_lookup(name));
            match job.await {
                Ok(result) => result?,
                Err(e) if e.is_cancelled() => return Err(shutting_down()),
                // The waiting task reports a job dropped by shutdown as a panic; a
                // panic in the resolver itself is just as much a failed lookup.
                Err(e) => return Err(io::Error::other(format!("name lookup failed: {e}"))),
            }
        }
        None => {
            let (tx, rx) = futures::channel::oneshot::channel();
            std::thread::Builder::new()
                .name("neptune-resolve".to_owned())
                .spawn(move || {
                    let _ = tx.send(blocking_lookup(name));
                })?;
            rx.await
                .map_err(|_| io::Error::other("the name lookup thread stopped"))??
        }
    };
    Ok(addrs)
}

/// A host name and a port, as `HOST:PORT`.
struct Name(String, u16);

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0, self.1)
    }
}

/// The lookup itself, which blocks; errors name what was looked up.
fn blocking_lookup(name: Name) -> io::Result<Addrs> {
    match std::net::ToSocketAddrs::to_socket_addrs(&(name.0.as_str(), name.1)) {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("could not resolve {name}: it has no addresses"),
                ))
            } else {
                Ok(Addrs::many(addrs))
            }
        }
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("could not resolve {name}: {e}"),
        )),
    }
}

fn shutting_down() -> io::Error {
    io::Error::other("runtime is shutting down")
}

fn ready(addr: SocketAddr) -> Resolve {
    Resolve::Ready(Ok(Addrs::one(addr)))
}

impl ToSocketAddrs for SocketAddr {}
impl ToSocketAddrsPriv for SocketAddr {
    fn to_addrs(&self) -> Resolve {
        ready(*self)
    }
}

impl ToSocketAddrs for SocketAddrV4 {}
impl ToSocketAddrsPriv for SocketAddrV4 {
    fn to_addrs(&self) -> Resolve {
        ready(SocketAddr::V4(*self))
    }
}

impl ToSocketAddrs for SocketAddrV6 {}
impl ToSocketAddrsPriv for SocketAddrV6 {
    fn to_addrs(&self) -> Resolve {
        ready(SocketAddr::V6(*self))
    }
}

impl ToSocketAddrs for (IpAddr, u16) {}
impl ToSocketAddrsPriv for (IpAddr, u16) {
    fn to_addrs(&self) -> Resolve {
        ready(SocketAddr::new(self.0, self.1))
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {}
impl ToSocketAddrsPriv for (Ipv4Addr, u16) {
    fn to_addrs(&self) -> Resolve {
        ready(SocketAddr::new(IpAddr::V4(self.0), self.1))
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {}
impl ToSocketAddrsPriv for (Ipv6Addr, u16) {
    fn to_addrs(&self) -> Resolve {
        ready(SocketAddr::new(IpAddr::V6(self.0), self.1))
    }
}

impl ToSocketAddrs for [SocketAddr] {}
impl ToSocketAddrsPriv for [SocketAddr] {
    fn to_addrs(&self) -> Resolve {
        match self {
            [one] => ready(*one),
            many => Resolve::Ready(Ok(Addrs::many(many.to_vec()))),
        }
    }
}

impl ToSocketAddrs for str {}
impl ToSocketAddrsPriv for str {
    fn to_addrs(&self) -> Resolve {
        // `IP:PORT` and `[IPv6]:PORT` need no lookup.
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return ready(addr);
        }
        // A string that is no `HOST:PORT` is refused here, without a thread hop (the
        // resolver would refuse it too).
        let Some((host, port)) = self.rsplit_once(':') else {
            return invalid(format!(
                "invalid socket address {self:?}: expected HOST:PORT"
            ));
        };
        match port.parse::<u16>() {
            Ok(port) => host_port(host, port),
            Err(_) => invalid(format!(
                "invalid port {port:?} in socket address {self:?}: expected HOST:PORT"
            )),
        }
    }
}

impl ToSocketAddrs for String {}
impl ToSocketAddrsPriv for String {
    fn to_addrs(&self) -> Resolve {
        self.as_str().to_addrs()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl ToSocketAddrsPriv for (&str, u16) {
    fn to_addrs(&self) -> Resolve {
        host_port(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {}
impl ToSocketAddrsPriv for (String, u16) {
    fn to_addrs(&self) -> Resolve {
        host_port(&self.0, self.1)
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrsPriv + ?Sized> ToSocketAddrsPriv for &T {
    fn to_addrs(&self) -> Resolve {
        (**self).to_addrs()
    }
}

/// `host` and `port`: an IP address at once, anything else through a lookup.
fn host_port(host: &str, port: u16) -> Resolve {
    match host.parse::<IpAddr>() {
        Ok(ip) => ready(SocketAddr::new(ip, port)),
        Err(_) => Resolve::Lookup {
            host: host.to_owned(),
            port,
        },
    }
}

fn invalid(message: String) -> Resolve {
    Resolve::Ready(Err(io::Error::new(io::ErrorKind::InvalidInput, message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn immediate(addr: impl ToSocketAddrs) -> Vec<SocketAddr> {
        match addr.to_addrs() {
            Resolve::Ready(addrs) => addrs.unwrap().collect(),
            Resolve::Lookup { host, port } => panic!("{host}:{port} needs a lookup"),
        }
    }

    fn lookup_of(addr: impl ToSocketAddrs) -> (String, u16) {
        match addr.to_addrs() {
            Resolve::Ready(_) => panic!("resolved without a lookup"),
            Resolve::Lookup { host, port } => (host, port),
        }
    }

    #[test]
    // The borrows test the impl for references.
    #[allow(clippy::needless_borrows_for_generic_args)]
    fn literal_addresses_resolve_without_a_lookup() {
        let v4: SocketAddr = "10.1.2.3:80".parse().unwrap();
        let v6: SocketAddr = "[fd00::1]:443".parse().unwrap();
        assert_eq!(immediate(v4), [v4]);
        assert_eq!(immediate("10.1.2.3:80"), [v4]);
        assert_eq!(immediate(String::from("[fd00::1]:443")), [v6]);
        assert_eq!(immediate(&String::from("10.1.2.3:80")), [v4]);
        assert_eq!(immediate(("10.1.2.3", 80)), [v4]);
        assert_eq!(immediate((String::from("fd00::1"), 443)), [v6]);
        assert_eq!(immediate((v4.ip(), 80)), [v4]);
        assert_eq!(immediate((Ipv4Addr::new(10, 1, 2, 3), 80)), [v4]);
        assert_eq!(
            immediate(("fd00::1".parse::<Ipv6Addr>().unwrap(), 443)),
            [v6]
        );
        let SocketAddr::V4(v4_only) = v4 else {
            unreachable!()
        };
        assert_eq!(immediate(v4_only), [v4]);
        assert_eq!(immediate(&[v4, v6][..]), [v4, v6]);
        assert_eq!(immediate(&&v6), [v6]);
    }

    #[test]
    #[allow(clippy::needless_borrows_for_generic_args)]
    fn host_names_are_looked_up() {
        assert_eq!(lookup_of("localhost:80"), ("localhost".to_owned(), 80));
        assert_eq!(
            lookup_of(("example.invalid", 7)),
            ("example.invalid".to_owned(), 7)
        );
        assert_eq!(
            lookup_of(&String::from("a.b:65535")),
            ("a.b".to_owned(), 65535)
        );
    }

    #[test]
    fn malformed_strings_are_refused_without_a_lookup() {
        for bad in ["localhost", "localhost:http", "host:70000", ""] {
            match bad.to_addrs() {
                Resolve::Ready(Err(e)) => {
                    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
                    assert!(e.to_string().contains("HOST:PORT"), "{e}");
                }
                _ => panic!("{bad:?} was accepted"),
            }
        }
    }
}
