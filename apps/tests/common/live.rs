//! Running the `neptune` binary with `--ui` and reading its UI over plain HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A run of the binary with a UI: killed when dropped, also when the test fails.
pub struct Served {
    pub child: Child,
    /// Where its UI listens.
    pub addr: SocketAddr,
    /// Standard error, drained so the child never blocks on a full pipe.
    pub stderr: Option<JoinHandle<Vec<String>>>,
}

impl Served {
    /// Starts `neptune ARGS` (which must include `--ui 127.0.0.1:0`) and waits for the
    /// UI's address on its standard error.
    pub fn start(args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_neptune"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let drain = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("UI: http://") {
                    let _ = tx.send(url.trim_end_matches('/').to_owned());
                }
                lines.push(line);
            }
            lines
        });
        let mut served = Served {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr: Some(drain),
        };
        served.addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the UI's address on standard error")
            .parse()
            .unwrap();
        served
    }
}

impl Served {
    /// Scrapes `/metrics` about every 100 ms until `done` holds for a scrape, the run
    /// ends (and its UI with it) or `bound` passes; whether `done` held, and the last
    /// scrape.
    pub fn scrape_until(
        &self,
        bound: Duration,
        mut done: impl FnMut(&str) -> bool,
    ) -> (bool, String) {
        let deadline = Instant::now() + bound;
        let mut last = String::new();
        while Instant::now() < deadline {
            let Some(metrics) = get(self.addr, "/metrics") else {
                break;
            };
            let held = done(&metrics);
            last = metrics;
            if held {
                return (true, last);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (false, last)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(drain) = self.stderr.take() {
            let _ = drain.join();
        }
    }
}

/// A GET's body, or `None` if the server did not answer 200.
pub fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut conn = TcpStream::connect(addr).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).ok()?;
    let mut reply = String::new();
    conn.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// The sum of a family's samples whose line has every one of `with`.
pub fn total(metrics: &str, family: &str, with: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(family) && l[family.len()..].starts_with(['{', ' ']))
        .filter(|l| with.iter().all(|w| l.contains(w)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
