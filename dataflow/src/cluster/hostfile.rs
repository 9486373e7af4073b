//! Static hostfiles: one text file that names every process of a cluster, for starting
//! it with ssh or under Slurm (`neptune hostfile --file FILE --index I`).
//!
//! Every process is started with the same file and its own index: index 0 is the
//! driver, index `i ≥ 1` the `i`-th executor line. The file is line-oriented; `#` starts
//! a comment, blank lines are ignored, words are separated by spaces or tabs:
//!
//! ```text
//! # The first entry is the driver: executors dial HOST:PORT.
//! driver   10.0.0.1:7077
//! # Then one line per executor: the address other executors fetch its shuffle
//! # blocks from (PORT defaults to 7078), and its slots.
//! executor 10.0.0.2:7078 slots=8
//! executor 10.0.0.3      slots=8 name=big-3 policy=fifo
//! executor node4.example slots=4
//! ```
//!
//! - `driver HOST:PORT [name=NODE]`: the driver listens on `HOST:PORT` when `HOST` is
//!   an IP address, else on every interface (`0.0.0.0:PORT`): a host name may resolve
//!   to a loopback address on its own host (Debian maps its hostname to 127.0.1.1).
//!   `NODE` is the name in its certificate, `driver` by default.
//! - `executor HOST[:PORT] slots=K [name=NODE] [policy=POLICY]`: 1 to 65535 slots; other
//!   executors dial `HOST:PORT` for shuffle blocks, and the executor binds `HOST:PORT`
//!   (an IP address) or `0.0.0.0:PORT` (a name). `NODE` defaults to `executor-<i>` for
//!   the `i`-th executor, `POLICY` (its local scheduling policy) to `neptune`.
//! - `HOST` is an IPv4 address, an IPv6 address in brackets (`[fd00::2]:7078`) or a
//!   DNS name; names are resolved by the process that needs the address.
//!
//! The parser refuses, naming the line: an unknown keyword or key, a key given twice, a
//! missing port (driver) or `slots`, a bad port (not 1–65535) or slot count, an
//! unknown policy, a node name or an address used twice, a second driver or an
//! executor before the driver. A file without a driver or without executors is
//! refused as a whole, and [`Hostfile::role`] refuses an index past the last entry.
//!
//! ```
//! use neptune_dataflow::cluster::hostfile::{Hostfile, Role};
//!
//! let file = Hostfile::parse("driver 10.0.0.1:7077\nexecutor 10.0.0.2 slots=4\n")?;
//! assert_eq!(file.executors.len(), 1);
//! match file.role(1)? {
//!     Role::Executor(e) => {
//!         assert_eq!((e.name.as_str(), e.slots), ("executor-1", 4));
//!         assert_eq!(e.address(), "10.0.0.2:7078");
//!     }
//!     Role::Driver(_) => unreachable!(),
//! }
//! assert!(file.role(2).is_err());
//! # Ok::<(), neptune_dataflow::cluster::hostfile::HostfileError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The shuffle port of an executor line that names none.
pub const DEFAULT_EXECUTOR_PORT: u16 = 7078;

/// A parsed hostfile: the driver and the executors, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hostfile {
    /// Index 0.
    pub driver: DriverEntry,
    /// Indices 1, 2, …: `executors[i - 1]` is index `i`.
    pub executors: Vec<ExecutorEntry>,
}

/// The driver's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverEntry {
    /// The line it was read from (1-based).
    pub line: usize,
    /// Where executors dial it.
    pub host: Host,
    /// Its port.
    pub port: u16,
    /// The node name in its certificate.
    pub name: String,
}

/// An executor's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutorEntry {
    /// The line it was read from (1-based).
    pub line: usize,
    /// Where other executors fetch its shuffle blocks.
    pub host: Host,
    /// The port it serves shuffle blocks on.
    pub port: u16,
    /// Slots (worker threads) for tasks, at least 1.
    pub slots: u16,
    /// The node name in its certificate.
    pub name: String,
    /// Its local scheduling policy.
    pub policy: String,
}

/// A host as written in a hostfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// An IP address.
    Ip(IpAddr),
    /// A DNS name, resolved where it is needed.
    Name(String),
}

/// What the process with a given index runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role<'a> {
    /// Index 0: the driver, waiting for every executor of the file.
    Driver(&'a DriverEntry),
    /// Index `i ≥ 1`: the `i`-th executor.
    Executor(&'a ExecutorEntry),
}

/// Why a hostfile or an index was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostfileError {
    /// The offending line (1-based), where the fault is on one line.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for HostfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for HostfileError {}

fn at(line: usize, message: impl Into<String>) -> HostfileError {
    HostfileError {
        line: Some(line),
        message: message.into(),
    }
}

impl fmt::Display for Host {
    /// As `HOST` in `HOST:PORT`: IPv6 addresses in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

impl Host {
    /// The address to listen on at `port`: the host's own address if it is an IP
    /// address, else every IPv4 interface (a name may resolve to a loopback address
    /// on its own host, which no other host could reach).
    pub fn bind_addr(&self, port: u16) -> SocketAddr {
        match self {
            Host::Ip(ip) => SocketAddr::new(*ip, port),
            Host::Name(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        }
    }
}

impl DriverEntry {
    /// `HOST:PORT`, for resolving (`std::net::ToSocketAddrs`).
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Where the driver listens: see [`Host::bind_addr`].
    pub fn listen(&self) -> SocketAddr {
        self.host.bind_addr(self.port)
    }
}

impl ExecutorEntry {
    /// `HOST:PORT`, for resolving (`std::net::ToSocketAddrs`).
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Where the executor serves shuffle blocks: see [`Host::bind_addr`].
    pub fn bind(&self) -> SocketAddr {
        self.host.bind_addr(self.port)
    }
}

impl Hostfile {
    /// Parses a hostfile's text (format in the [module docs](self)).
    pub fn parse(text: &str) -> Result<Hostfile, HostfileError> {
        let mut driver: Option<DriverEntry> = None;
        let mut executors: Vec<ExecutorEntry> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.split_once('#').map_or(raw, |(before, _)| before);
            let mut words = content.split_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword {
                "driver" => {
                    if let Some(first) = &driver {
                        return Err(at(
                            line,
                            format!("a second driver (the driver is on line {})", first.line),
                        ));
                    }
                    driver = Some(parse_driver(line, words)?);
                }
                "executor" => {
                    if driver.is_none() {
                        return Err(at(
                            line,
                            "an executor before the driver: the first entry must be `driver \
                             HOST:PORT`",
                        ));
                    }
                    executors.push(parse_executor(line, executors.len() + 1, words)?);
                }
                other => {
                    return Err(at(
                        line,
                        format!("unknown keyword {other:?} (expected `driver` or `executor`)"),
                    ))
                }
            }
        }
        let Some(driver) = driver else {
            return Err(HostfileError {
                line: None,
                message: "no driver: the first entry must be `driver HOST:PORT`".to_owned(),
            });
        };
        if executors.is_empty() {
            return Err(HostfileError {
                line: None,
                message: "no executors: add `executor HOST[:PORT] slots=K` lines after the \
                          driver"
                    .to_owned(),
            });
        }
        let file = Hostfile { driver, executors };
        file.check_unique()?;
        Ok(file)
    }

    /// What the process with `index` runs: 0 the driver, `i ≥ 1` the `i`-th executor.
    pub fn role(&self, index: usize) -> Result<Role<'_>, HostfileError> {
        match index {
            0 => Ok(Role::Driver(&self.driver)),
            i => self
                .executors
                .get(i - 1)
                .map(Role::Executor)
                .ok_or_else(|| HostfileError {
                    line: None,
                    message: format!(
                        "index {i} is out of range: the hostfile has the driver (0) and {} \
                         executors (1 to {})",
                        self.executors.len(),
                        self.executors.len()
                    ),
                }),
        }
    }

    /// Refuses a node name or an address that two lines share: each process needs its
    /// own certificate name and its own port.
    fn check_unique(&self) -> Result<(), HostfileError> {
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut addresses: HashMap<String, usize> = HashMap::new();
        let entries = std::iter::once((self.driver.line, &self.driver.name, self.driver.address()))
            .chain(
                self.executors
                    .iter()
                    .map(|e| (e.line, &e.name, e.address())),
            );
        for (line, name, address) in entries {
            if let Some(first) = names.insert(name, line) {
                return Err(at(
                    line,
                    format!("node name {name:?} is already used on line {first}"),
                ));
            }
            if let Some(first) = addresses.insert(address.clone(), line) {
                return Err(at(
                    line,
                    format!("address {address} is already used on line {first}"),
                ));
            }
        }
        Ok(())
    }
}

fn parse_driver<'a>(
    line: usize,
    mut words: impl Iterator<Item = &'a str>,
) -> Result<DriverEntry, HostfileError> {
    let address = words
        .next()
        .ok_or_else(|| at(line, "`driver` needs HOST:PORT"))?;
    let (host, port) = parse_address(line, address)?;
    let port = port.ok_or_else(|| {
        at(
            line,
            format!("the driver's address {address:?} has no port (HOST:PORT)"),
        )
    })?;
    let mut keys = Keys::parse(line, words, &["name"])?;
    let name = keys.take("name").unwrap_or_else(|| "driver".to_owned());
    Ok(DriverEntry {
        line,
        host,
        port,
        name,
    })
}

fn parse_executor<'a>(
    line: usize,
    index: usize,
    mut words: impl Iterator<Item = &'a str>,
) -> Result<ExecutorEntry, HostfileError> {
    let address = words
        .next()
        .ok_or_else(|| at(line, "`executor` needs HOST[:PORT] and slots=K"))?;
    let (host, port) = parse_address(line, address)?;
    let mut keys = Keys::parse(line, words, &["slots", "name", "policy"])?;
    let slots = keys
        .take("slots")
        .ok_or_else(|| at(line, "an executor needs slots=K"))?;
    let slots = match slots.parse::<u16>() {
        Ok(k) if k >= 1 => k,
        _ => {
            return Err(at(
                line,
                format!("slots={slots:?}: expected a whole number from 1 to 65535"),
            ))
        }
    };
    let policy = keys.take("policy").unwrap_or_else(|| "neptune".to_owned());
    if let Err(e) = neptune_scheduler::policy_by_name(&policy, 1) {
        return Err(at(line, format!("policy={policy}: {e}")));
    }
    Ok(ExecutorEntry {
        line,
        host,
        port: port.unwrap_or(DEFAULT_EXECUTOR_PORT),
        slots,
        name: keys
            .take("name")
            .unwrap_or_else(|| format!("executor-{index}")),
        policy,
    })
}

/// A line's `key=value` words.
struct Keys(HashMap<&'static str, String>);

impl Keys {
    fn parse<'a>(
        line: usize,
        words: impl Iterator<Item = &'a str>,
        allowed: &[&'static str],
    ) -> Result<Keys, HostfileError> {
        let mut keys = HashMap::new();
        for word in words {
            let Some((key, value)) = word.split_once('=') else {
                return Err(at(
                    line,
                    format!("{word:?}: expected KEY=VALUE ({})", allowed.join(", ")),
                ));
            };
            let Some(&key) = allowed.iter().find(|k| **k == key) else {
                return Err(at(
                    line,
                    format!("unknown key {key:?} (expected {})", allowed.join(", ")),
                ));
            };
            if value.is_empty() {
                return Err(at(line, format!("{key}= has no value")));
            }
            if key == "name" && !is_node_name(value) {
                return Err(at(
                    line,
                    format!(
                        "name={value:?}: a node name is a DNS name (letters, digits, `-`, `.`)"
                    ),
                ));
            }
            if keys.insert(key, value.to_owned()).is_some() {
                return Err(at(line, format!("{key}= is given twice")));
            }
        }
        Ok(Keys(keys))
    }

    fn take(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }
}

/// A certificate's DNS name: what `neptune cert issue NAME` accepts, roughly.
fn is_node_name(name: &str) -> bool {
    !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// `HOST[:PORT]`: an IPv4 address, `[IPv6]`, or a DNS name, and an optional port.
fn parse_address(line: usize, word: &str) -> Result<(Host, Option<u16>), HostfileError> {
    let (host, port) = if let Some(rest) = word.strip_prefix('[') {
        let (ip, after) = rest
            .split_once(']')
            .ok_or_else(|| at(line, format!("{word:?}: `[` without `]`")))?;
        let ip = ip
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| at(line, format!("{word:?}: {ip:?} is not an IPv6 address")))?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(|| {
                at(
                    line,
                    format!("{word:?}: expected `:PORT` after `]`, found {after:?}"),
                )
            })?),
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (host, port) = match word.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (word, None),
        };
        if port.is_some_and(|p| p.contains(':')) {
            return Err(at(
                line,
                format!("{word:?}: an IPv6 address goes in brackets: [ADDRESS]:PORT"),
            ));
        }
        let host = if let Ok(ip) = host.parse::<Ipv4Addr>() {
            Host::Ip(IpAddr::V4(ip))
        } else if is_host_name(host) {
            Host::Name(host.to_owned())
        } else {
            return Err(at(line, format!("{host:?} is not a host name or address")));
        };
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => {
                return Err(at(
                    line,
                    format!("{word:?}: bad port {p:?} (expected 1 to 65535)"),
                ))
            }
        },
    };
    Ok((host, port))
}

/// Letters, digits, `-`, `_` and `.`, not starting with `-` or `.`: a DNS name, or a
/// name `/etc/hosts` knows.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && !host.starts_with(['-', '.'])
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
# a cluster of three
driver 10.0.0.1:7077   # the driver

executor 10.0.0.2:7000 slots=8
\texecutor   node-3.example   slots=2 name=big-3 policy=fifo
executor [fd00::4]:7078 slots=1
executor [fd00::5] slots=1
";

    fn error(text: &str) -> HostfileError {
        Hostfile::parse(text).expect_err("refused")
    }

    /// The error's line and a piece of its message.
    fn refused(text: &str, line: Option<usize>, says: &str) {
        let e = error(text);
        assert_eq!(e.line, line, "{e}");
        assert!(e.message.contains(says), "{e:?} does not say {says:?}");
    }

    #[test]
    fn a_good_file_parses_with_defaults() {
        let file = Hostfile::parse(GOOD).unwrap();
        assert_eq!(
            file.driver,
            DriverEntry {
                line: 2,
                host: Host::Ip("10.0.0.1".parse().unwrap()),
                port: 7077,
                name: "driver".into(),
            }
        );
        assert_eq!(file.driver.listen(), "10.0.0.1:7077".parse().unwrap());
        assert_eq!(file.executors.len(), 4);
        let e = &file.executors;
        assert_eq!(
            (e[0].line, e[0].address(), e[0].slots, e[0].name.as_str()),
            (4, "10.0.0.2:7000".to_owned(), 8, "executor-1")
        );
        assert_eq!(e[0].policy, "neptune");
        assert_eq!(e[1].host, Host::Name("node-3.example".into()));
        assert_eq!(
            (
                e[1].port,
                e[1].slots,
                e[1].name.as_str(),
                e[1].policy.as_str()
            ),
            (DEFAULT_EXECUTOR_PORT, 2, "big-3", "fifo")
        );
        // A name binds every interface; an address binds itself.
        assert_eq!(e[1].bind(), "0.0.0.0:7078".parse().unwrap());
        assert_eq!(e[2].address(), "[fd00::4]:7078");
        assert_eq!(e[2].bind(), "[fd00::4]:7078".parse().unwrap());
        assert_eq!(e[3].address(), "[fd00::5]:7078");
        assert_eq!(e[3].name, "executor-4");
        assert_eq!(file.role(0).unwrap(), Role::Driver(&file.driver));
        assert_eq!(file.role(2).unwrap(), Role::Executor(&e[1]));
        assert_eq!(file.role(4).unwrap(), Role::Executor(&e[3]));
    }

    #[test]
    fn a_driver_named_by_host_listens_everywhere() {
        let file = Hostfile::parse("driver head:7077 name=head\nexecutor w slots=1").unwrap();
        assert_eq!(file.driver.listen(), "0.0.0.0:7077".parse().unwrap());
        assert_eq!(file.driver.address(), "head:7077");
        assert_eq!(file.driver.name, "head");
    }

    #[test]
    fn an_index_past_the_last_entry_is_refused() {
        let file = Hostfile::parse(GOOD).unwrap();
        let e = file.role(5).unwrap_err();
        assert_eq!(e.line, None);
        assert!(e.to_string().contains("index 5 is out of range"), "{e}");
        assert!(e.to_string().contains("1 to 4"), "{e}");
    }

    #[test]
    fn unknown_keywords_and_keys_are_refused() {
        refused(
            "driver a:1\nexecutor b slots=1\nworker c slots=1",
            Some(3),
            "unknown keyword \"worker\"",
        );
        refused(
            "driver a:1\nexecutor b slots=1 cores=4",
            Some(2),
            "unknown key \"cores\"",
        );
        refused(
            "driver a:1 slots=4\nexecutor b slots=1",
            Some(1),
            "unknown key",
        );
        refused("driver a:1\nexecutor b slots=1 fast", Some(2), "KEY=VALUE");
        refused(
            "driver a:1\nexecutor b slots=1 slots=2",
            Some(2),
            "given twice",
        );
        refused("driver a:1\nexecutor b slots=1 name=", Some(2), "no value");
        refused(
            "driver a:1\nexecutor b slots=1 name=x/y",
            Some(2),
            "node name",
        );
        refused(
            "driver a:1\nexecutor b slots=1 policy=fastest",
            Some(2),
            "policy=fastest",
        );
    }

    #[test]
    fn missing_or_bad_slots_are_refused() {
        refused("driver a:1\n\nexecutor b:2", Some(3), "slots=K");
        refused("driver a:1\nexecutor b:2 slots=0", Some(2), "from 1 to");
        refused("driver a:1\nexecutor b:2 slots=70000", Some(2), "from 1 to");
        refused("driver a:1\nexecutor b:2 slots=many", Some(2), "\"many\"");
        refused("driver a:1\nexecutor", Some(2), "HOST[:PORT]");
    }

    #[test]
    fn bad_addresses_and_ports_are_refused() {
        refused("driver a\nexecutor b slots=1", Some(1), "no port");
        refused("driver\nexecutor b slots=1", Some(1), "HOST:PORT");
        refused("driver a:0\nexecutor b slots=1", Some(1), "bad port \"0\"");
        refused("driver a:70000\nexecutor b slots=1", Some(1), "bad port");
        refused("driver a:\nexecutor b slots=1", Some(1), "bad port \"\"");
        refused(
            "driver a:1\nexecutor b:x slots=1",
            Some(2),
            "bad port \"x\"",
        );
        refused(
            "driver fd00::1:7077\nexecutor b slots=1",
            Some(1),
            "brackets",
        );
        refused(
            "driver [fd00::1:7077\nexecutor b slots=1",
            Some(1),
            "without `]`",
        );
        refused("driver [nope]:7077\nexecutor b slots=1", Some(1), "IPv6");
        refused("driver [::1]7077\nexecutor b slots=1", Some(1), "`:PORT`");
        refused(
            "driver a/b:7077\nexecutor b slots=1",
            Some(1),
            "not a host name",
        );
        refused(
            "driver :7077\nexecutor b slots=1",
            Some(1),
            "not a host name",
        );
    }

    #[test]
    fn duplicate_names_and_addresses_are_refused() {
        // A name given on one line clashes with the default of another.
        refused(
            "driver a:1\nexecutor b slots=1 name=executor-2\nexecutor c slots=1",
            Some(3),
            "\"executor-2\" is already used on line 2",
        );
        refused(
            "driver a:1\nexecutor b slots=1 name=driver",
            Some(2),
            "already used on line 1",
        );
        refused(
            "driver a:1\nexecutor b slots=1\n# two on one host need two ports\nexecutor b:7078 slots=1",
            Some(4),
            "address b:7078 is already used on line 2",
        );
        refused(
            "driver a:7078\nexecutor a slots=1",
            Some(2),
            "already used on line 1",
        );
    }

    #[test]
    fn the_driver_comes_first_and_once() {
        refused("", None, "no driver");
        refused("# nothing but comments\n\n", None, "no driver");
        refused(
            "executor b slots=1\ndriver a:1",
            Some(1),
            "before the driver",
        );
        refused(
            "driver a:1\nexecutor b slots=1\ndriver c:1",
            Some(3),
            "the driver is on line 1",
        );
        refused("driver a:1\n", None, "no executors");
        assert!(error("executor b slots=1")
            .to_string()
            .starts_with("line 1: "));
    }
}
