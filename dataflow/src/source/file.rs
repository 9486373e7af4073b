//! File sources: `FileReader` (the builder returned by `Context::read`) and the node
//! that reads one file per partition.

use super::csv::CsvFormat;
use super::json::JsonFormat;
use crate::context::ContextInner;
use crate::dataset::Dataset;
use crate::error::{DataflowError, Result};
use crate::exec::feed::{BlockingIterStream, BytesRead};
use crate::exec::{TaskCounters, TaskEnv};
use crate::plan::{AnyNode, Dep, Node, NodeId, NodeRef, Records, ShuffleId};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file format's name in the plan (`read_csv`, `read_json_lines`).
pub(crate) trait FormatName: Send + Sync + 'static {
    const OP: &'static str;
}

/// How records of one format are read from one file.
pub(crate) trait RecordFormat<T>: FormatName {
    /// The records; iterating reads the file, so it runs on the blocking pool (see
    /// [`BlockingIterStream`]).
    type Records: Iterator<Item = Result<T>> + BytesRead + Send + 'static;

    /// The records of `path`, which is opened when the first one is asked for (on the
    /// blocking pool, then, not here on the slot). Errors (opening included) come out
    /// of the iterator; bad records are counted in `counters` and skipped when `skip`
    /// is set, else they end it.
    fn open(&self, path: Arc<Path>, skip: bool, counters: Arc<TaskCounters>) -> Self::Records;
}

/// Reads files into a dataset: one partition per file.
///
/// Made by [`Context::read`](crate::Context::read) with a file or a directory (whose
/// visible files are read in name order, as [`save_json_lines`](crate::Dataset::save_json_lines)
/// and [`save_csv`](crate::Dataset::save_csv) write them). The files are listed when
/// the dataset is made and read when a job runs.
///
/// A record that cannot be read fails the job with
/// [`DataflowError::BadRecord`], naming the file, the line and the field, unless
/// [`skip_bad_records`](Self::skip_bad_records) was asked for; then it is skipped and
/// counted in [`JobStats::skipped_bad_records`](crate::JobStats::skipped_bad_records).
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("neptune-doc-read-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let path = dir.join("people.csv");
/// std::fs::write(&path, "name,age\nada,36\nbob,not-a-number\n").unwrap();
///
/// #[derive(serde::Deserialize)]
/// struct Person { name: String, age: u32 }
///
/// let ctx = neptune_dataflow::Context::builder().executors(1).slots_per_executor(1).build().unwrap();
/// let err = ctx.read(&path).csv::<Person>().unwrap().count().unwrap_err();
/// assert!(err.to_string().ends_with("people.csv:3: field `age`: invalid digit found in string"));
///
/// let n = ctx.read(&path).skip_bad_records().csv::<Person>().unwrap().count().unwrap();
/// assert_eq!((*n, n.stats.skipped_bad_records), (1, 1));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct FileReader {
    ctx: Arc<ContextInner>,
    path: PathBuf,
    skip: bool,
    delimiter: u8,
}

impl fmt::Debug for FileReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileReader")
            .field("path", &self.path)
            .field("skip_bad_records", &self.skip)
            .field("delimiter", &(self.delimiter as char))
            .finish()
    }
}

impl FileReader {
    pub(crate) fn new(ctx: Arc<ContextInner>, path: PathBuf) -> FileReader {
        FileReader {
            ctx,
            path,
            skip: false,
            delimiter: b',',
        }
    }

    /// Skips records that cannot be read instead of failing the job, and counts them
    /// in the job's statistics (with the first few as examples).
    pub fn skip_bad_records(mut self) -> FileReader {
        self.skip = true;
        self
    }

    /// The CSV field delimiter (`,` unless set).
    pub fn delimiter(mut self, delimiter: u8) -> FileReader {
        self.delimiter = delimiter;
        self
    }

    /// CSV with a header line: each record is deserialized by header name (serde), so
    /// `#[derive(Deserialize)]` on a struct whose fields are named as the columns is
    /// all it takes. Quoting follows RFC 4180.
    ///
    /// # Errors
    /// If the path does not exist or a directory cannot be listed.
    pub fn csv<T: DeserializeOwned + Send + 'static>(self) -> Result<Dataset<T>> {
        let format = CsvFormat::new(self.delimiter);
        self.dataset(format)
    }

    /// JSON lines: one JSON value per line, deserialized with serde. Blank lines are
    /// not records and are passed over.
    ///
    /// # Errors
    /// If the path does not exist or a directory cannot be listed.
    pub fn json_lines<T: DeserializeOwned + Send + 'static>(self) -> Result<Dataset<T>> {
        self.dataset(JsonFormat::new())
    }

    fn dataset<T: Send + 'static, R: RecordFormat<T>>(self, format: R) -> Result<Dataset<T>> {
        let files = list_files(&self.path)?;
        let node = FileNode {
            id: self.ctx.next_node(),
            partitions: files.len(),
            files,
            format,
            skip: self.skip,
        };
        Ok(Dataset::from_node(self.ctx, NodeRef::new(node)))
    }
}

/// The files to read: `path` itself, or the visible files of the directory `path`
/// (names not starting with `.` or `_`), sorted by name.
fn list_files(path: &Path) -> Result<Vec<Arc<Path>>> {
    let io = |source| DataflowError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        return Ok(vec![Arc::from(path)]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if entry.file_type().map_err(io)?.is_file() {
            files.push(Arc::from(entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

/// One partition per file.
struct FileNode<R> {
    id: NodeId,
    files: Vec<Arc<Path>>,
    partitions: usize,
    format: R,
    skip: bool,
}

impl<R: FormatName> AnyNode for FileNode<R> {
    fn id(&self) -> NodeId {
        self.id
    }

    fn op(&self) -> &'static str {
        R::OP
    }

    fn partitions(&self) -> usize {
        self.partitions
    }

    fn deps(&self) -> Vec<Dep> {
        Vec::new()
    }

    fn shuffle_reads(&self, _part: usize, _out: &mut Vec<(ShuffleId, usize)>) {}
}

impl<T: Send + 'static, R: RecordFormat<T>> Node<T> for FileNode<R> {
    /// The file is read and parsed on the blocking pool a read at a time; the task
    /// hands the records on in chunks, one per yield point.
    fn compute(&self, part: usize, env: &TaskEnv) -> Records<T> {
        let path = self.files[part].clone();
        let records = self
            .format
            .open(path.clone(), self.skip, env.counters.clone());
        BlockingIterStream::counted(records, path, env.counters.clone()).boxed()
    }
}
