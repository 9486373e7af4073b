//! JSON lines: one JSON value per line.

use super::csv::missing_field;
use super::file::{FormatName, RecordFormat};
use crate::error::{BadRecord, DataflowError, Format, Result};
use crate::exec::feed::BytesRead;
use crate::exec::TaskCounters;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

pub(crate) struct JsonFormat<T>(PhantomData<fn() -> T>);

impl<T> JsonFormat<T> {
    pub(crate) fn new() -> Self {
        JsonFormat(PhantomData)
    }
}

impl<T: 'static> FormatName for JsonFormat<T> {
    const OP: &'static str = "read_json_lines";
}

impl<T: DeserializeOwned + Send + 'static> RecordFormat<T> for JsonFormat<T> {
    type Records = JsonRecords<T>;

    fn open(&self, path: Arc<Path>, skip: bool, counters: Arc<TaskCounters>) -> JsonRecords<T> {
        JsonRecords {
            path,
            opened: false,
            reader: None,
            failed: None,
            line: 0,
            read: 0,
            buf: Vec::new(),
            skip,
            counters,
            _record: PhantomData,
        }
    }
}

/// The records of one JSON lines file, which is opened when the first record is asked
/// for: on the blocking pool, as the rest of the reading.
pub(crate) struct JsonRecords<T> {
    path: Arc<Path>,
    /// Whether the file was opened (or failed to open) yet.
    opened: bool,
    /// `None` before the file is opened, and once it is exhausted or failed.
    reader: Option<BufReader<File>>,
    failed: Option<DataflowError>,
    /// The line last read, counting from 1.
    line: u64,
    /// Bytes of the file read so far.
    read: u64,
    buf: Vec<u8>,
    skip: bool,
    counters: Arc<TaskCounters>,
    _record: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> JsonRecords<T> {
    /// Opens the file; a failure is kept in `failed`.
    fn start(&mut self) {
        self.opened = true;
        match File::open(&self.path) {
            Ok(f) => self.reader = Some(BufReader::with_capacity(1 << 16, f)),
            Err(source) => {
                self.failed = Some(DataflowError::Io {
                    path: self.path.to_path_buf(),
                    source,
                })
            }
        }
    }

    fn parse(&self, text: &[u8]) -> std::result::Result<T, BadRecord> {
        let mut de = serde_json::Deserializer::from_slice(text);
        let bad = |field: Option<String>, e: &serde_json::Error| {
            let message = message(e);
            BadRecord {
                format: Format::JsonLines,
                file: self.path.to_path_buf(),
                line: self.line,
                field: field.or_else(|| missing_field(&message)),
                message,
            }
        };
        let record = serde_path_to_error::deserialize::<_, T>(&mut de)
            .map_err(|e| bad(field_path(e.path()), e.inner()))?;
        de.end().map_err(|e| bad(None, &e))?;
        Ok(record)
    }
}

/// The field a deserialization error is in, as `a.b[2].c`; `None` at the top level.
/// Trailing segments serde could not name (a key being parsed when the text ended)
/// are left out.
fn field_path(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut segments: Vec<&Segment> = path.iter().collect();
    while matches!(segments.last(), Some(Segment::Unknown)) {
        segments.pop();
    }
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// serde_json's message without its position (always line 1 of a one-line document),
/// with the column kept.
fn message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&position) {
        Some(text) => format!("{text} (column {})", e.column()),
        None => full,
    }
}

impl<T: DeserializeOwned> Iterator for JsonRecords<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if !self.opened {
            self.start();
        }
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        loop {
            let reader = self.reader.as_mut()?;
            self.buf.clear();
            match reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => {
                    self.reader = None;
                    return None;
                }
                Ok(n) => {
                    self.line += 1;
                    self.read += n as u64;
                }
                Err(source) => {
                    self.reader = None;
                    return Some(Err(DataflowError::Io {
                        path: self.path.to_path_buf(),
                        source,
                    }));
                }
            }
            let text = self.buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            match self.parse(text) {
                Ok(record) => return Some(Ok(record)),
                Err(bad) if self.skip => self.counters.skip(bad),
                Err(bad) => {
                    self.reader = None;
                    return Some(Err(bad.into()));
                }
            }
        }
    }
}

impl<T> BytesRead for JsonRecords<T> {
    fn bytes_read(&self) -> u64 {
        self.read
    }
}
