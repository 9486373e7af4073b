//! CSV with a header line, records deserialized by column name.

use super::file::{FormatName, RecordFormat};
use crate::error::{BadRecord, DataflowError, Format, Result};
use crate::exec::feed::BytesRead;
use crate::exec::TaskCounters;
use csv::{ErrorKind, StringRecord};
use serde::de::DeserializeOwned;
use std::fs::File;
use std::io::BufReader;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

pub(crate) struct CsvFormat<T> {
    delimiter: u8,
    _record: PhantomData<fn() -> T>,
}

impl<T> CsvFormat<T> {
    pub(crate) fn new(delimiter: u8) -> Self {
        CsvFormat {
            delimiter,
            _record: PhantomData,
        }
    }
}

impl<T: 'static> FormatName for CsvFormat<T> {
    const OP: &'static str = "read_csv";
}

impl<T: DeserializeOwned + Send + 'static> RecordFormat<T> for CsvFormat<T> {
    type Records = CsvRecords<T>;

    fn open(&self, path: Arc<Path>, skip: bool, counters: Arc<TaskCounters>) -> CsvRecords<T> {
        CsvRecords::open(path, self.delimiter, skip, counters)
    }
}

/// The records of one CSV file, which is opened (and its header line read) when the
/// first record is asked for: on the blocking pool, as the rest of the reading.
pub(crate) struct CsvRecords<T> {
    path: Arc<Path>,
    delimiter: u8,
    /// Whether the file was opened (or failed to open) yet.
    opened: bool,
    /// `None` before the file is opened, and once it is exhausted or failed.
    reader: Option<csv::Reader<BufReader<File>>>,
    /// Bytes of the file parsed so far.
    read: u64,
    /// An error to report before anything else (the file could not be opened, or its
    /// header line could not be read).
    failed: Option<DataflowError>,
    headers: StringRecord,
    record: StringRecord,
    skip: bool,
    counters: Arc<TaskCounters>,
    _record: PhantomData<fn() -> T>,
}

/// What a CSV error means for the reader.
enum Failure {
    /// This record is bad; the next ones may be fine.
    Record(BadRecord),
    /// The file cannot be read on.
    File(DataflowError),
}

impl<T: DeserializeOwned> CsvRecords<T> {
    fn open(path: Arc<Path>, delimiter: u8, skip: bool, counters: Arc<TaskCounters>) -> Self {
        CsvRecords {
            path,
            delimiter,
            opened: false,
            reader: None,
            read: 0,
            failed: None,
            headers: StringRecord::new(),
            record: StringRecord::new(),
            skip,
            counters,
            _record: PhantomData,
        }
    }

    /// Opens the file and reads its header line; a failure is kept in `failed`.
    fn start(&mut self) {
        self.opened = true;
        match File::open(&self.path) {
            Err(source) => {
                self.failed = Some(DataflowError::Io {
                    path: self.path.to_path_buf(),
                    source,
                })
            }
            Ok(file) => {
                let mut reader = csv::ReaderBuilder::new()
                    .delimiter(self.delimiter)
                    .has_headers(true)
                    .from_reader(BufReader::with_capacity(1 << 16, file));
                match reader.headers() {
                    Ok(h) => {
                        self.headers = h.clone();
                        self.read = reader.position().byte();
                        self.reader = Some(reader);
                    }
                    // A header that cannot be read makes every record unreadable: it
                    // fails the job even when bad records are skipped.
                    Err(e) => {
                        self.failed = Some(match self.failure(e) {
                            Failure::Record(bad) => bad.into(),
                            Failure::File(e) => e,
                        })
                    }
                }
            }
        }
    }

    fn bad(&self, line: Option<u64>, field: Option<String>, message: String) -> BadRecord {
        let field = field.or_else(|| missing_field(&message));
        BadRecord {
            format: Format::Csv,
            file: self.path.to_path_buf(),
            line: line.unwrap_or(0),
            field,
            message,
        }
    }

    fn column(&self, index: u64) -> Option<String> {
        let name = self.headers.get(index as usize)?;
        Some(if name.is_empty() {
            format!("#{}", index + 1)
        } else {
            name.to_owned()
        })
    }

    fn failure(&self, e: csv::Error) -> Failure {
        let line = e.position().map(|p| p.line());
        let text = e.to_string();
        match e.into_kind() {
            ErrorKind::Io(source) => Failure::File(DataflowError::Io {
                path: self.path.to_path_buf(),
                source,
            }),
            ErrorKind::Deserialize { err, .. } => {
                let field = err.field().and_then(|i| self.column(i));
                Failure::Record(self.bad(line, field, err.kind().to_string()))
            }
            ErrorKind::Utf8 { err, .. } => {
                let field = self.column(err.field() as u64);
                let message = format!("invalid UTF-8 after byte {}", err.valid_up_to());
                Failure::Record(self.bad(line, field, message))
            }
            ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                let message = format!("the record has {len} fields, the header has {expected_len}");
                Failure::Record(self.bad(line, None, message))
            }
            _ => Failure::Record(self.bad(line, None, text)),
        }
    }
}

impl<T: DeserializeOwned> Iterator for CsvRecords<T> {
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
            let outcome = reader.read_record(&mut self.record);
            self.read = reader.position().byte();
            let failure = match outcome {
                Ok(false) => {
                    self.reader = None;
                    return None;
                }
                Ok(true) => match self.record.deserialize::<T>(Some(&self.headers)) {
                    Ok(record) => return Some(Ok(record)),
                    Err(e) => self.failure(e),
                },
                Err(e) => self.failure(e),
            };
            match failure {
                Failure::Record(bad) if self.skip => self.counters.skip(bad),
                Failure::Record(bad) => {
                    self.reader = None;
                    return Some(Err(bad.into()));
                }
                Failure::File(e) => {
                    self.reader = None;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl<T> BytesRead for CsvRecords<T> {
    fn bytes_read(&self) -> u64 {
        self.read
    }
}

/// The field a serde "missing field `NAME`" message names.
pub(crate) fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}
