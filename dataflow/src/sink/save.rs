//! `save_json_lines` and `save_csv`: one file per partition in a new directory.

use super::{Output, Sink};
use crate::error::{DataflowError, Result};
use crate::exec::TaskEnv;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
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

fn create(path: &Path) -> Result<BufWriter<File>> {
    let file = File::create(path).map_err(|source| DataflowError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(BufWriter::with_capacity(1 << 16, file))
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
            let mut out = create(&path)?;
            let mut n = 0u64;
            let write_error = |message: String| DataflowError::Write {
                path: path.clone(),
                message,
            };
            while let Some(r) = records.next().await {
                serde_json::to_writer(&mut out, &r?).map_err(|e| write_error(e.to_string()))?;
                out.write_all(b"\n")
                    .map_err(|e| write_error(e.to_string()))?;
                n += 1;
            }
            out.flush().map_err(|e| write_error(e.to_string()))?;
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
            let mut out = csv::Writer::from_writer(create(&path)?);
            let mut n = 0u64;
            let write_error = |message: String| DataflowError::Write {
                path: path.clone(),
                message,
            };
            while let Some(r) = records.next().await {
                out.serialize(r?).map_err(|e| write_error(e.to_string()))?;
                n += 1;
            }
            out.flush().map_err(|e| write_error(e.to_string()))?;
            Ok((path, n))
        }
        .boxed()
    }

    fn combine(&self, parts: Vec<(PathBuf, u64)>) -> Result<SaveSummary> {
        Ok(summary(&self.0, parts))
    }
}
