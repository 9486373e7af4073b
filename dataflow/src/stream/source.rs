//! Stream sources: where a stream's records come from, one micro-batch per trigger.
//!
//! A [`Source`] is asked, at every trigger, for the records that arrived since the
//! previous trigger. The sources here:
//!
//! - [`generator`]: records made by a function at a target rate (records per second),
//!   each with its scheduled event time, optionally up to a limit;
//! - [`socket`]: lines read from a TCP connection (the stream connects, as a client, to
//!   a server that writes lines), until the server closes it;
//! - [`tail`]: lines appended to a file, as `tail -f` shows them;
//! - [`memory`] and [`batches`]: micro-batches handed over by the program, one per
//!   trigger, for replaying recorded input and for tests.

use crate::context::Context;
use crate::error::{DataflowError, Result};
use futures::io::{AsyncBufReadExt, BufReader};
use neptune_runtime::net::TcpStream;
use neptune_runtime::{JoinHandle, SpawnOptions};
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What a source delivers at one trigger.
#[derive(Debug)]
pub struct SourceBatch<T> {
    /// The records that arrived since the previous trigger, in arrival order.
    pub records: Vec<T>,
    /// True when the source has nothing more to give, ever: the stream ends after this
    /// micro-batch.
    pub finished: bool,
}

impl<T> SourceBatch<T> {
    /// A micro-batch of `records`, more to come.
    pub fn more(records: Vec<T>) -> SourceBatch<T> {
        SourceBatch {
            records,
            finished: false,
        }
    }

    /// The last micro-batch.
    pub fn last(records: Vec<T>) -> SourceBatch<T> {
        SourceBatch {
            records,
            finished: true,
        }
    }
}

/// Where a stream's records come from.
///
/// The stream calls [`start`](Self::start) once before its first trigger, then
/// [`next_batch`](Self::next_batch) at every trigger, on the stream's own thread (never
/// on an executor's slot), and [`stop`](Self::stop) once when it ends. A source that
/// waits for input (a socket) does so in a task of its own and hands over what it
/// buffered.
///
/// A source of your own is a struct implementing `next_batch`:
///
/// ```
/// use neptune_dataflow::stream::{Source, SourceBatch};
/// use neptune_dataflow::Result;
/// use std::time::Instant;
///
/// /// Counts up, three numbers per trigger, to 9.
/// struct Counter(u32);
///
/// impl Source<u32> for Counter {
///     fn next_batch(&mut self, _trigger: Instant) -> Result<SourceBatch<u32>> {
///         let batch: Vec<u32> = (self.0..(self.0 + 3).min(10)).collect();
///         self.0 += batch.len() as u32;
///         Ok(SourceBatch { records: batch, finished: self.0 == 10 })
///     }
/// }
/// ```
pub trait Source<T>: Send + 'static {
    /// Prepares the source (opens connections); `ctx` is the stream's context.
    fn start(&mut self, ctx: &Context) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// The records that arrived since the previous call; `trigger` is the trigger's
    /// time.
    fn next_batch(&mut self, trigger: Instant) -> Result<SourceBatch<T>>;

    /// Releases what the source holds (closes connections). Called once, last.
    fn stop(&mut self) {}
}

/// Milliseconds since the UNIX epoch, now.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Microseconds since the UNIX epoch, now.
pub(crate) fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

// ---------------------------------------------------------------------------------
// Generator

/// Records made by a function at a target rate: see [`generator`].
pub struct Generator<F> {
    rate: f64,
    make: F,
    limit: Option<u64>,
    emitted: u64,
    /// When the stream started, as an instant and in milliseconds since the epoch.
    start: Option<(Instant, i64)>,
}

impl<F> fmt::Debug for Generator<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generator")
            .field("rate", &self.rate)
            .field("limit", &self.limit)
            .field("emitted", &self.emitted)
            .finish()
    }
}

/// A source of `rate` records per second: record number `seq` (from 0) is due
/// `seq / rate` seconds after the stream starts, and is made by `make(seq, time)` where
/// `time` is that due time in milliseconds since the UNIX epoch (its event time, for
/// windows). At each trigger the source makes every record that has come due, so a
/// stream that falls behind gets larger micro-batches, never fewer records.
///
/// # Panics
/// If `rate` is not a positive, finite number.
///
/// ```
/// use neptune_dataflow::stream::{generator, Source};
/// use std::time::{Duration, Instant};
///
/// let mut ticks = generator(1000.0, |seq, _time_ms| seq).limit(5);
/// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
/// ticks.start(&ctx).unwrap();
/// let batch = ticks.next_batch(Instant::now() + Duration::from_secs(1)).unwrap();
/// assert_eq!((batch.records, batch.finished), (vec![0, 1, 2, 3, 4], true));
/// ```
pub fn generator<T, F>(rate: f64, make: F) -> Generator<F>
where
    F: FnMut(u64, i64) -> T + Send + 'static,
{
    assert!(
        rate > 0.0 && rate.is_finite(),
        "a generator's rate must be a positive number of records per second, not {rate}"
    );
    Generator {
        rate,
        make,
        limit: None,
        emitted: 0,
        start: None,
    }
}

impl<F> Generator<F> {
    /// Ends the stream after `n` records.
    pub fn limit(mut self, n: u64) -> Generator<F> {
        self.limit = Some(n);
        self
    }

    /// The target rate, in records per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

impl<T, F> Source<T> for Generator<F>
where
    T: Send + 'static,
    F: FnMut(u64, i64) -> T + Send + 'static,
{
    fn start(&mut self, _ctx: &Context) -> Result<()> {
        self.start = Some((Instant::now(), now_millis()));
        Ok(())
    }

    fn next_batch(&mut self, trigger: Instant) -> Result<SourceBatch<T>> {
        let (start, start_ms) = *self.start.get_or_insert_with(|| (trigger, now_millis()));
        let elapsed = trigger.saturating_duration_since(start).as_secs_f64();
        let mut due = (elapsed * self.rate).floor() as u64;
        if let Some(limit) = self.limit {
            due = due.min(limit);
        }
        let from = self.emitted.min(due);
        let mut records = Vec::with_capacity((due - from) as usize);
        for seq in from..due {
            let time = start_ms + (seq as f64 * 1000.0 / self.rate) as i64;
            records.push((self.make)(seq, time));
        }
        self.emitted = due.max(self.emitted);
        let finished = self.limit.is_some_and(|l| self.emitted >= l);
        Ok(SourceBatch { records, finished })
    }
}

// ---------------------------------------------------------------------------------
// Memory

struct Queue<T> {
    batches: VecDeque<Vec<T>>,
    closed: bool,
}

type SharedQueue<T> = Arc<Mutex<Queue<T>>>;

fn lock<T>(q: &Mutex<T>) -> MutexGuard<'_, T> {
    q.lock().unwrap_or_else(|e| e.into_inner())
}

/// Micro-batches handed over by the program: see [`memory`].
pub struct MemorySource<T> {
    queue: SharedQueue<T>,
}

impl<T> fmt::Debug for MemorySource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = lock(&self.queue);
        f.debug_struct("MemorySource")
            .field("queued", &q.batches.len())
            .field("closed", &q.closed)
            .finish()
    }
}

/// The program's end of a [`MemorySource`]: pushes micro-batches, closes the stream.
/// Dropping it closes the stream too.
pub struct MemoryInput<T> {
    queue: SharedQueue<T>,
}

impl<T> fmt::Debug for MemoryInput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryInput").finish_non_exhaustive()
    }
}

/// A source fed by the program: each [`MemoryInput::push`] queues one micro-batch, and
/// each trigger takes the oldest queued one (a trigger with nothing queued runs no
/// job). The stream ends once the input is closed and every batch was taken.
///
/// ```
/// use neptune_dataflow::stream::{memory, Source};
/// use std::time::Instant;
///
/// let (mut source, input) = memory();
/// input.push(vec!["a", "b"]);
/// input.push(vec!["c"]);
/// input.close();
/// assert_eq!(source.next_batch(Instant::now()).unwrap().records, ["a", "b"]);
/// let last = source.next_batch(Instant::now()).unwrap();
/// assert_eq!((last.records, last.finished), (vec!["c"], true));
/// ```
pub fn memory<T>() -> (MemorySource<T>, MemoryInput<T>) {
    let queue = Arc::new(Mutex::new(Queue {
        batches: VecDeque::new(),
        closed: false,
    }));
    (
        MemorySource {
            queue: queue.clone(),
        },
        MemoryInput { queue },
    )
}

/// A source that replays `batches`, one per trigger, then ends.
pub fn batches<T>(batches: Vec<Vec<T>>) -> MemorySource<T> {
    MemorySource {
        queue: Arc::new(Mutex::new(Queue {
            batches: batches.into(),
            closed: true,
        })),
    }
}

impl<T> MemoryInput<T> {
    /// Queues one micro-batch.
    pub fn push(&self, batch: Vec<T>) {
        lock(&self.queue).batches.push_back(batch);
    }

    /// Ends the stream once the queued batches are taken.
    pub fn close(&self) {
        lock(&self.queue).closed = true;
    }

    /// Micro-batches queued and not yet taken by a trigger.
    pub fn queued(&self) -> usize {
        lock(&self.queue).batches.len()
    }
}

impl<T> Drop for MemoryInput<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T: Send + 'static> Source<T> for MemorySource<T> {
    fn next_batch(&mut self, _trigger: Instant) -> Result<SourceBatch<T>> {
        let mut q = lock(&self.queue);
        let records = q.batches.pop_front().unwrap_or_default();
        Ok(SourceBatch {
            records,
            finished: q.closed && q.batches.is_empty(),
        })
    }
}

// ---------------------------------------------------------------------------------
// Socket

/// What the socket's reader task hands over.
#[derive(Default)]
struct Inbox {
    lines: Vec<String>,
    closed: bool,
    error: Option<io::Error>,
}

/// Lines read from a TCP connection: see [`socket`].
pub struct SocketSource {
    addr: SocketAddr,
    inbox: Arc<Mutex<Inbox>>,
    reader: Option<JoinHandle<()>>,
}

impl fmt::Debug for SocketSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketSource")
            .field("addr", &self.addr)
            .finish()
    }
}

/// A source of the lines a TCP server writes: the stream connects to `addr` when it
/// starts and reads lines (without their `\n` or `\r\n`) until the server closes the
/// connection, which ends the stream. A last line without a newline counts.
///
/// The reading runs in a Stream-class task on the context's first executor, so it is
/// never paused behind batch work; it only wakes when bytes arrive.
///
/// ```no_run
/// use neptune_dataflow::stream::{socket, sinks};
/// # let ctx = neptune_dataflow::Context::builder().build().unwrap();
/// let lines = ctx.stream(socket("127.0.0.1:9999".parse().unwrap()));
/// let handle = lines.map(|l| l.len()).start(sinks::stdout()).unwrap();
/// let stats = handle.wait().unwrap(); // until the server hangs up
/// println!("{} lines", stats.records_in);
/// ```
pub fn socket(addr: SocketAddr) -> SocketSource {
    SocketSource {
        addr,
        inbox: Arc::default(),
        reader: None,
    }
}

impl Source<String> for SocketSource {
    fn start(&mut self, ctx: &Context) -> Result<()> {
        let executor = ctx
            .executors()
            .first()
            .ok_or_else(|| DataflowError::Config("a context without executors".into()))?;
        let inbox = self.inbox.clone();
        let addr = self.addr;
        let options = SpawnOptions::stream().name(format!("socket-source {addr}"));
        let reader = executor.handle().spawn_with(options, async move {
            let outcome = read_lines(addr, &inbox).await;
            let mut inbox = lock(&inbox);
            inbox.closed = true;
            if let Err(e) = outcome {
                inbox.error = Some(e);
            }
        });
        self.reader = Some(reader);
        Ok(())
    }

    fn next_batch(&mut self, _trigger: Instant) -> Result<SourceBatch<String>> {
        let mut inbox = lock(&self.inbox);
        if let Some(source) = inbox.error.take() {
            return Err(DataflowError::Io {
                path: PathBuf::from(format!("tcp://{}", self.addr)),
                source,
            });
        }
        Ok(SourceBatch {
            records: std::mem::take(&mut inbox.lines),
            finished: inbox.closed,
        })
    }

    fn stop(&mut self) {
        if let Some(reader) = self.reader.take() {
            reader.task().cancel();
        }
    }
}

async fn read_lines(addr: SocketAddr, inbox: &Mutex<Inbox>) -> io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let text = line.strip_suffix('\n').unwrap_or(&line);
        let text = text.strip_suffix('\r').unwrap_or(text);
        lock(inbox).lines.push(text.to_owned());
    }
}

// ---------------------------------------------------------------------------------
// Tail

/// Lines appended to a file: see [`tail`].
#[derive(Debug)]
pub struct TailSource {
    path: PathBuf,
    file: Option<File>,
    /// Bytes of the file consumed so far (complete lines).
    offset: u64,
    /// Bytes read past the last complete line.
    partial: Vec<u8>,
}

/// A source of the lines appended to the file at `path`, as `tail -f` shows them: at
/// each trigger it reads the complete lines (ending in `\n`) written since the
/// previous one; a line still being written waits for its newline. The file is read
/// from its beginning (see [`TailSource::from_end`]) and may not exist yet: it is
/// opened once it does. A file that shrinks (truncated, or replaced by a shorter one)
/// is read again from its beginning. The stream runs until it is stopped.
///
/// Lines that are not valid UTF-8 are converted lossily.
pub fn tail(path: impl AsRef<Path>) -> TailSource {
    TailSource {
        path: path.as_ref().to_owned(),
        file: None,
        offset: 0,
        partial: Vec::new(),
    }
}

impl TailSource {
    /// Skips what the file holds now, when this is called: only lines appended later
    /// are read. (A file that does not exist yet is read from its beginning once it
    /// does.)
    pub fn from_end(mut self) -> TailSource {
        self.offset = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        self
    }

    fn io(&self, source: io::Error) -> DataflowError {
        DataflowError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Opens the file if it exists; `Ok(false)` if it does not yet.
    fn open(&mut self) -> Result<bool> {
        if self.file.is_some() {
            return Ok(true);
        }
        match File::open(&self.path) {
            Ok(f) => {
                self.file = Some(f);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io(e)),
        }
    }

    fn read_new(&mut self) -> io::Result<Vec<String>> {
        let file = self.file.as_mut().expect("opened");
        let len = file.metadata()?.len();
        let read_to = self.offset + self.partial.len() as u64;
        if len < read_to {
            // Truncated or replaced: start over.
            self.offset = 0;
            self.partial.clear();
        }
        let read_to = self.offset + self.partial.len() as u64;
        file.seek(SeekFrom::Start(read_to))?;
        let mut fresh = Vec::new();
        file.read_to_end(&mut fresh)?;
        self.partial.extend_from_slice(&fresh);
        let Some(last_newline) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(Vec::new());
        };
        let rest = self.partial.split_off(last_newline + 1);
        let complete = std::mem::replace(&mut self.partial, rest);
        self.offset += complete.len() as u64;
        let text = String::from_utf8_lossy(&complete[..complete.len() - 1]);
        Ok(text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
            .collect())
    }
}

impl Source<String> for TailSource {
    fn next_batch(&mut self, _trigger: Instant) -> Result<SourceBatch<String>> {
        if !self.open()? {
            return Ok(SourceBatch::more(Vec::new()));
        }
        let lines = self.read_new().map_err(|e| self.io(e))?;
        Ok(SourceBatch::more(lines))
    }

    fn stop(&mut self) {
        self.file = None;
    }
}
