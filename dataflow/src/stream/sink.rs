//! Stream sinks: where each micro-batch's results go.
//!
//! A [`StreamSink`] receives, on the stream's thread, the results of every micro-batch
//! in order (for a windowed stream, the window results it emitted). The stream's
//! latency figures count the sink: a micro-batch's results are *emitted* when its
//! sink's [`emit`](StreamSink::emit) returns.

use crate::error::{DataflowError, Result};
use serde::Serialize;
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// Where a stream's results go.
pub trait StreamSink<R>: Send + 'static {
    /// Takes one micro-batch's results (possibly none).
    fn emit(&mut self, records: Vec<R>) -> Result<()>;

    /// Called once after the last micro-batch (flushes what is buffered).
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

fn write_error(path: &Path, e: impl fmt::Display) -> DataflowError {
    DataflowError::Write {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Writes each record as one line of JSON to standard output: see [`stdout`].
pub struct Stdout<R> {
    _records: PhantomData<fn(R)>,
}

impl<R> fmt::Debug for Stdout<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Stdout")
    }
}

/// A sink printing each record as one line of JSON on standard output, a micro-batch
/// at a time (the lock on standard output is taken once per micro-batch).
pub fn stdout<R: Serialize>() -> Stdout<R> {
    Stdout {
        _records: PhantomData,
    }
}

impl<R: Serialize + 'static> StreamSink<R> for Stdout<R> {
    fn emit(&mut self, records: Vec<R>) -> Result<()> {
        let path = Path::new("<stdout>");
        let mut out = std::io::stdout().lock();
        for r in &records {
            serde_json::to_writer(&mut out, r).map_err(|e| write_error(path, e))?;
            out.write_all(b"\n").map_err(|e| write_error(path, e))?;
        }
        out.flush().map_err(|e| write_error(path, e))
    }
}

/// Appends each record as one line of JSON to a file: see [`json_file`].
pub struct JsonFile<R> {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    _records: PhantomData<fn(R)>,
}

impl<R> fmt::Debug for JsonFile<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonFile")
            .field("path", &self.path)
            .finish()
    }
}

/// A sink writing each record as one line of JSON to the file at `path` (created, or
/// emptied if it exists, when the first micro-batch arrives), flushed after every
/// micro-batch so that a reader of the file sees whole micro-batches.
/// [`Context::read`](crate::Context::read)`(path).json_lines()` reads it back.
pub fn json_file<R: Serialize>(path: impl AsRef<Path>) -> JsonFile<R> {
    JsonFile {
        path: path.as_ref().to_owned(),
        out: None,
        _records: PhantomData,
    }
}

impl<R: Serialize + 'static> StreamSink<R> for JsonFile<R> {
    fn emit(&mut self, records: Vec<R>) -> Result<()> {
        let out = match &mut self.out {
            Some(out) => out,
            None => {
                let file = File::create(&self.path).map_err(|source| DataflowError::Io {
                    path: self.path.clone(),
                    source,
                })?;
                self.out.insert(BufWriter::with_capacity(1 << 16, file))
            }
        };
        for r in &records {
            serde_json::to_writer(&mut *out, r).map_err(|e| write_error(&self.path, e))?;
            out.write_all(b"\n")
                .map_err(|e| write_error(&self.path, e))?;
        }
        out.flush().map_err(|e| write_error(&self.path, e))
    }

    fn finish(&mut self) -> Result<()> {
        match &mut self.out {
            Some(out) => out.flush().map_err(|e| write_error(&self.path, e)),
            None => Ok(()),
        }
    }
}

/// Sends each record over a channel: see [`channel`].
pub struct Channel<R> {
    tx: mpsc::Sender<R>,
}

impl<R> fmt::Debug for Channel<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Channel")
    }
}

/// A sink sending each record over a channel, and the receiving end. A receiver that
/// hung up does not fail the stream: the records are dropped.
///
/// ```
/// use neptune_dataflow::stream::{batches, sinks};
/// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
/// let (sink, results) = sinks::channel();
/// let stream = ctx.stream(batches(vec![vec![1, 2], vec![3]])).map(|x| x * 10);
/// stream.start(sink).unwrap().wait().unwrap();
/// assert_eq!(results.try_iter().collect::<Vec<_>>(), [10, 20, 30]);
/// ```
pub fn channel<R>() -> (Channel<R>, mpsc::Receiver<R>) {
    let (tx, rx) = mpsc::channel();
    (Channel { tx }, rx)
}

impl<R: Send + 'static> StreamSink<R> for Channel<R> {
    fn emit(&mut self, records: Vec<R>) -> Result<()> {
        for r in records {
            if self.tx.send(r).is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// Calls a function with each micro-batch's results: see [`from_fn`].
pub struct FnSink<F, R> {
    f: F,
    _records: PhantomData<fn(R)>,
}

impl<F, R> fmt::Debug for FnSink<F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnSink")
    }
}

/// A sink calling `f` with each micro-batch's results, on the stream's thread.
///
/// ```
/// use neptune_dataflow::stream::{batches, sinks};
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
/// let total = Arc::new(AtomicU64::new(0));
/// let t = total.clone();
/// let sink = sinks::from_fn(move |batch: Vec<u64>| {
///     t.fetch_add(batch.iter().sum::<u64>(), Ordering::Relaxed);
/// });
/// ctx.stream(batches(vec![vec![1u64, 2], vec![3]])).start(sink).unwrap().wait().unwrap();
/// assert_eq!(total.load(Ordering::Relaxed), 6);
/// ```
pub fn from_fn<R, F: FnMut(Vec<R>) + Send + 'static>(f: F) -> FnSink<F, R> {
    FnSink {
        f,
        _records: PhantomData,
    }
}

impl<R: 'static, F: FnMut(Vec<R>) + Send + 'static> StreamSink<R> for FnSink<F, R> {
    fn emit(&mut self, records: Vec<R>) -> Result<()> {
        (self.f)(records);
        Ok(())
    }
}
