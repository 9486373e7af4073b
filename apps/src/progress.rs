//! Progress on standard error while a harness runs: indicatif's bar, redrawn in place,
//! when standard error is a terminal; otherwise a plain line per tenth of the work (and
//! one at the end), so logs and CI output stay readable and short.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Progress through `len` steps of one piece of work.
pub struct Progress {
    len: u64,
    prefix: String,
    /// On a terminal: the bar.
    bar: Option<ProgressBar>,
    /// Otherwise: where lines go, and the last tenth a line was written for.
    plain: Mutex<(Box<dyn Write + Send>, Option<u64>)>,
}

impl Progress {
    /// Progress through `len` steps, labelled `prefix` (`run 1/3 neptune`).
    pub fn new(len: u64, prefix: impl Into<String>) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        Progress::drawn(len, prefix.into(), terminal, Box::new(std::io::stderr()))
    }

    fn drawn(len: u64, prefix: String, terminal: bool, out: Box<dyn Write + Send>) -> Progress {
        let len = len.max(1);
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{prefix:<18} [{bar:30}] {percent:>3}% {msg}")
                    .expect("a valid template")
                    .progress_chars("#>-"),
            );
            bar.set_prefix(prefix.clone());
            bar
        });
        Progress {
            len,
            prefix,
            bar,
            plain: Mutex::new((out, None)),
        }
    }

    /// Shows step `pos` of `len`, with `msg` (figures so far).
    pub fn set(&self, pos: u64, msg: impl Into<String>) {
        let pos = pos.min(self.len);
        match &self.bar {
            Some(bar) => {
                bar.set_position(pos);
                bar.set_message(msg.into());
            }
            None => {
                let tenth = pos * 10 / self.len;
                let mut plain = self.plain.lock().unwrap_or_else(|e| e.into_inner());
                let (out, last) = &mut *plain;
                if *last != Some(tenth) {
                    *last = Some(tenth);
                    let _ = writeln!(
                        out,
                        "{} {:>3}% {}",
                        self.prefix,
                        pos * 100 / self.len,
                        msg.into()
                    );
                    let _ = out.flush();
                }
            }
        }
    }

    /// Marks the work done, leaving the bar (or a last line) with `msg`.
    pub fn finish(&self, msg: impl Into<String>) {
        match &self.bar {
            Some(bar) => bar.finish_with_message(msg.into()),
            None => self.set(self.len, msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_progress_writes_a_line_per_tenth_only() {
        let lines = Lines::default();
        let p = Progress::drawn(100, "run".into(), false, Box::new(lines.clone()));
        for pos in 0..=100 {
            p.set(pos, format!("{pos} done"));
        }
        p.finish("all done");
        let text = lines.text();
        assert_eq!(text.lines().count(), 11, "{text}");
        assert!(text.starts_with("run   0% 0 done\n"));
        assert!(text.ends_with("run 100% 100 done\n"));
    }

    /// A writer whose output a test reads back.
    #[derive(Clone, Default)]
    struct Lines(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Lines {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
