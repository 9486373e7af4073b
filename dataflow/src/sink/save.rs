//! `save_json_lines` and `save_csv`: one file per partition in a new directory.
//!
//! A task serializes its records into memory, on its slot, and hands the bytes to the
//! blocking pool a chunk at a time ([`ChunkedFile`]) to be written while it goes on
//! with the next chunk: the slot never waits on the disk. The output directory is
//! made by the job's submitter (`prepare_output_dir`, on the thread that starts the
//! job), not by a task.

use super::{Output, Sink};
use crate::error::{DataflowError, Result};
use crate::exec::blocking::blocking;
use crate::exec::TaskEnv;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::Serialize;
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What a save wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaveSummary {
    /// The output directory.
    pub dir: PathBuf,
    /// One file per partition, `part-NNNNN.EXT`, in partition order.
    pub files: Vec<PathBuf>,
    /// Records written.
    pub records: u64,
}

/// Makes `dir` (and its parents) unless it exists; an existing directory must be empty.
pub(crate) fn prepare_output_dir(dir: &Path) -> Result<()> {
    let io = |source| DataflowError::Io {
        path: dir.to_owned(),
        source,
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(DataflowError::OutputExists(dir.to_owned()));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io)
        }
        Err(e) => Err(io(e)),
    }
}

fn part_file(dir: &Path, part: usize, ext: &str) -> PathBuf {
    dir.join(format!("part-{part:05}.{ext}"))
}

/// Serialized bytes handed to the blocking pool at a time: large enough that a
/// thread hop is rare next to the serializing, small enough to bound a task's memory
/// (this and the chunk being written).
const CHUNK: usize = 1 << 18;

fn io_error(path: &Path, source: io::Error) -> DataflowError {
    DataflowError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A file written on the blocking pool, one chunk at a time and in the order the
/// chunks are given; the task fills the next chunk while the pool writes the last.
///
/// A write that fails is the error of the next call ([`write`](Self::write) or
/// [`finish`](Self::finish)), as [`DataflowError::Io`] naming the file.
struct ChunkedFile {
    path: PathBuf,
    /// The file, while no write is in flight.
    idle: Option<File>,
    /// The write in flight, which hands the file back.
    writing: Option<BoxFuture<'static, io::Result<io::Result<File>>>>,
}

impl ChunkedFile {
    /// Creates (or empties) the file at `path`, on the blocking pool.
    async fn create(path: PathBuf) -> Result<ChunkedFile> {
        let at = path.clone();
        let file = blocking(move || File::create(at))
            .await
            .and_then(|created| created)
            .map_err(|source| io_error(&path, source))?;
        Ok(ChunkedFile {
            path,
            idle: Some(file),
            writing: None,
        })
    }

    /// Waits for the write in flight, if any, and takes the file.
    async fn settle(&mut self) -> Result<File> {
        if let Some(writing) = self.writing.take() {
            return writing
                .await
                .and_then(|written| written)
                .map_err(|source| io_error(&self.path, source));
        }
        self.idle.take().ok_or_else(|| {
            // Only after a failed write, whose error the caller was given.
            io_error(
                &self.path,
                io::Error::other("an earlier write to this file failed"),
            )
        })
    }

    /// Starts writing `chunk` after the chunks before it; waits only for the write
    /// before it, so that one chunk is written while the next is filled.
    async fn write(&mut self, chunk: Vec<u8>) -> Result<()> {
        let mut file = self.settle().await?;
        self.writing = Some(blocking(move || file.write_all(&chunk).map(|()| file)));
        Ok(())
    }

    /// Writes `last` and waits until every chunk is written.
    async fn finish(mut self, last: Vec<u8>) -> Result<()> {
        if !last.is_empty() {
            self.write(last).await?;
        }
        // Dropping the file closes it: as a `BufWriter`'s, its close is not checked
        // (the data reached the kernel with the writes).
        self.settle().await.map(drop)
    }
}

/// Where a `csv::Writer` puts its bytes, to be taken a chunk at a time: the writer
/// only lends its inner writer by `&`, so the buffer is reached through a `RefCell`
/// (never borrowed across an `await`).
#[derive(Default)]
struct Spool(RefCell<Vec<u8>>);

impl Spool {
    fn len(&self) -> usize {
        self.0.borrow().len()
    }

    fn take(&self) -> Vec<u8> {
        self.0.replace(Vec::with_capacity(CHUNK))
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.get_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn summary(dir: &Path, parts: Vec<(PathBuf, u64)>) -> SaveSummary {
    SaveSummary {
        dir: dir.to_owned(),
        records: parts.iter().map(|p| p.1).sum(),
        files: parts.into_iter().map(|p| p.0).collect(),
    }
}

/// One JSON value per line.
pub(crate) struct SaveJsonLines(pub(crate) PathBuf);

impl<T: Serialize + Send + 'static> Sink<T> for SaveJsonLines {
    type Part = (PathBuf, u64);
    type Answer = SaveSummary;
    const ACTION: &'static str = "save_json_lines";

    fn consume(
        &self,
        part: usize,
        mut records: Output<T>,
        _env: &TaskEnv,
    ) -> BoxFuture<'static, Result<(PathBuf, u64)>> {
        let path = part_file(&self.0, part, "jsonl");
        async move {
            let mut out = ChunkedFile::create(path.clone()).await?;
            let mut chunk = Vec::with_capacity(CHUNK);
            let mut n = 0u64;
            let write_error = |message: String| DataflowError::Write {
                path: path.clone(),
                message,
            };
            while let Some(records) = records.next().await {
                for r in records? {
                    serde_json::to_writer(&mut chunk, &r)
                        .map_err(|e| write_error(e.to_string()))?;
                    chunk.push(b'\n');
                    n += 1;
                    if chunk.len() >= CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                        out.write(full).await?;
                    }
                }
            }
            out.finish(chunk).await?;
            Ok((path, n))
        }
        .boxed()
    }

    fn combine(&self, parts: Vec<(PathBuf, u64)>) -> Result<SaveSummary> {
        Ok(summary(&self.0, parts))
    }
}

/// CSV with a header line taken from the records' field names.
pub(crate) struct SaveCsv(pub(crate) PathBuf);

impl<T: Serialize + Send + 'static> Sink<T> for SaveCsv {
    type Part = (PathBuf, u64);
    type Answer = SaveSummary;
    const ACTION: &'static str = "save_csv";

    fn consume(
        &self,
        part: usize,
        mut records: Output<T>,
        _env: &TaskEnv,
    ) -> BoxFuture<'static, Result<(PathBuf, u64)>> {
        let path = part_file(&self.0, part, "csv");
        async move {
            let mut out = ChunkedFile::create(path.clone()).await?;
            // One writer for the whole file: it writes the header line once and checks
            // every record against it.
            let mut csv = csv::Writer::from_writer(Spool::default());
            let mut n = 0u64;
            let write_error = |message: String| DataflowError::Write {
                path: path.clone(),
                message,
            };
            while let Some(records) = records.next().await {
                for r in records? {
                    csv.serialize(r).map_err(|e| write_error(e.to_string()))?;
                    n += 1;
                    if csv.get_ref().len() >= CHUNK {
                        out.write(csv.get_ref().take()).await?;
                    }
                }
            }
            csv.flush().map_err(|e| write_error(e.to_string()))?;
            out.finish(csv.get_ref().take()).await?;
            Ok((path, n))
        }
        .boxed()
    }

    fn combine(&self, parts: Vec<(PathBuf, u64)>) -> Result<SaveSummary> {
        Ok(summary(&self.0, parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk that cannot be written (to a full device) fails the next call, as an I/O
    /// error naming the file; nothing after it is reported as written.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_write_is_an_error_naming_the_file() {
        let full = Path::new("/dev/full");
        if !full.exists() {
            eprintln!("skipped: no /dev/full");
            return;
        }
        let rt = neptune_runtime::Builder::new().slots(1).build().unwrap();
        let task = rt.spawn(async move {
            let mut out = ChunkedFile::create(full.to_owned()).await?;
            // Only started: it fails on the blocking pool meanwhile.
            out.write(vec![b'x'; CHUNK]).await?;
            let failed = out.write(b"more".to_vec()).await;
            let after = out.finish(b"last".to_vec()).await;
            Ok::<_, DataflowError>((failed, after))
        });
        let (failed, after) = rt.block_on(task).unwrap().unwrap();
        match failed {
            Err(DataflowError::Io { path, source }) => {
                assert_eq!(path, full);
                assert_eq!(source.kind(), io::ErrorKind::StorageFull, "{source}");
            }
            other => panic!("expected the write's error, got {other:?}"),
        }
        match after {
            Err(DataflowError::Io { path, source }) => {
                assert_eq!(path, full);
                assert_eq!(source.to_string(), "an earlier write to this file failed");
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// Chunks are written in the order they were given, however many there are.
    #[test]
    fn chunks_are_written_in_order() {
        let dir = std::env::temp_dir().join(format!("neptune-chunked-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ordered");
        let rt = neptune_runtime::Builder::new().slots(1).build().unwrap();
        let at = path.clone();
        rt.block_on(rt.spawn(async move {
            let mut out = ChunkedFile::create(at).await?;
            for i in 0..100u8 {
                out.write(vec![i; 1000]).await?;
            }
            out.finish(vec![100; 10]).await
        }))
        .unwrap()
        .unwrap();
        let written = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut expected: Vec<u8> = (0..100u8).flat_map(|i| vec![i; 1000]).collect();
        expected.extend([100; 10]);
        assert!(written == expected, "the chunks came out of order");
    }
}
