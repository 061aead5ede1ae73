//! Results as Parquet: one file per table in `<out>/<pipeline>/<run_id>/`, written through a
//! dedicated thread that receives rows over a bounded channel and flushes row groups as the run
//! goes, so a long run never holds its results in memory and an interrupted run keeps what
//! completed.
//!
//! Column types are ones Spark, DuckDB, Polars and pandas read without casts: Int64, Float64,
//! Utf8, Boolean, Timestamp(µs, UTC). Key-value metadata carries the run id and schema version.

pub mod columns;
pub mod tables;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::error::Error;
pub use columns::Columns;
pub use tables::{
    CaseRow, ConfigRow, JudgementRow, RequestRow, ScoreRow, ScoreStatRow, TABLE_NAMES, check_query,
    configs_schema,
};

/// Version of the Parquet column contract (README, "Results").
pub const SCHEMA_VERSION: &str = "1";

/// Rows buffered before a row group is flushed to disk.
const FLUSH_ROWS: usize = 4096;

/// String and list bytes buffered before a row group is flushed, whatever the row count:
/// Arrow's string offsets are 32-bit, so a row group's text column must stay under 2 GiB
/// (4,096 answers of 512 KiB reached it), and a run's memory stays bounded.
const FLUSH_BYTES: usize = 256 << 20;

/// How long the writer thread naps after draining a batch while rows keep coming.
const WRITER_NAP: std::time::Duration = std::time::Duration::from_millis(5);

/// One table being written.
pub struct TableWriter {
    path: PathBuf,
    columns: Columns,
    writer: ArrowWriter<File>,
    rows_written: u64,
    /// [`FLUSH_BYTES`] (smaller in tests).
    flush_bytes: usize,
}

impl TableWriter {
    /// Create `<dir>/<name>.parquet` for `schema`.
    pub fn create(dir: &Path, name: &str, schema: SchemaRef, run_id: &str) -> Result<Self, Error> {
        let path = dir.join(format!("{name}.parquet"));
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
            .set_key_value_metadata(Some(vec![
                KeyValue::new("frontier.run_id".into(), run_id.to_string()),
                KeyValue::new("frontier.schema_version".into(), SCHEMA_VERSION.to_string()),
                KeyValue::new("frontier.table".into(), name.to_string()),
            ]));
        // Integer lists (per-chunk timestamps and token counts) are long runs of close values:
        // delta encoding stores them in a fraction of the space dictionaries would.
        for field in schema.fields() {
            if matches!(field.data_type(), arrow_schema::DataType::List(_)) {
                let path =
                    ColumnPath::new(vec![field.name().clone(), "list".into(), "item".into()]);
                props = props
                    .set_column_dictionary_enabled(path.clone(), false)
                    .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
            }
        }
        let props = props.build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|e| Error::Internal(format!("parquet writer for {}: {e}", path.display())))?;
        Ok(TableWriter {
            path,
            columns: Columns::new(schema),
            writer,
            rows_written: 0,
            flush_bytes: FLUSH_BYTES,
        })
    }

    /// Append one row through `fill` (which appends every column in order), flushing a row
    /// group when enough rows, or enough bytes of text and lists, are buffered.
    pub fn append(&mut self, fill: impl FnOnce(&mut Columns)) -> Result<(), Error> {
        fill(&mut self.columns);
        self.columns.end_row();
        if self.columns.len() >= FLUSH_ROWS || self.columns.bytes() >= self.flush_bytes {
            self.flush()?;
        }
        Ok(())
    }

    /// Write buffered rows as a row group.
    pub fn flush(&mut self) -> Result<(), Error> {
        if self.columns.is_empty() {
            return Ok(());
        }
        let n = self.columns.len() as u64;
        let batch = self.columns.finish();
        self.writer
            .write(&batch)
            .and_then(|_| self.writer.flush())
            .map_err(|e| Error::Run(format!("writing {}: {e}", self.path.display())))?;
        self.rows_written += n;
        Ok(())
    }

    /// Flush and write the footer. Returns the path and the row count.
    pub fn close(mut self) -> Result<(PathBuf, u64), Error> {
        self.flush()?;
        self.writer
            .close()
            .map_err(|e| Error::Run(format!("closing {}: {e}", self.path.display())))?;
        Ok((self.path, self.rows_written))
    }
}

/// Write a whole batch as a Parquet file (for query results and `configs`).
pub fn write_batch(
    path: &Path,
    batch: &arrow_array::RecordBatch,
    run_id: &str,
) -> Result<(), Error> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_key_value_metadata(Some(vec![
            KeyValue::new("frontier.run_id".into(), run_id.to_string()),
            KeyValue::new("frontier.schema_version".into(), SCHEMA_VERSION.to_string()),
        ]))
        .build();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props))
        .map_err(|e| Error::Internal(format!("parquet writer for {}: {e}", path.display())))?;
    w.write(batch)
        .and_then(|_| w.close().map(|_| ()))
        .map_err(|e| Error::Run(format!("writing {}: {e}", path.display())))
}

/// A row for one of the streamed tables.
pub enum Record {
    /// One LLM call.
    Request(Box<RequestRow>),
    /// One flow execution.
    Case(Box<CaseRow>),
    /// One score.
    Score(Box<ScoreRow>),
    /// One LLM-judge call.
    Judgement(Box<JudgementRow>),
    /// One scorer's statistics for a trial stage.
    ScoreStat(Box<ScoreStatRow>),
}

/// Files written with their row counts.
pub type Written = Vec<(PathBuf, u64)>;

/// The streamed tables (`requests`, `cases`, `scores`) behind a writer thread.
pub struct RunWriter {
    tx: Option<tokio::sync::mpsc::Sender<Record>>,
    thread: Option<std::thread::JoinHandle<Result<Written, Error>>>,
}

impl RunWriter {
    /// Create the files in `dir` and start the writer thread.
    pub fn start(dir: &Path, run_id: &str, started_unix_us: i64) -> Result<Self, Error> {
        let mut requests = TableWriter::create(dir, "requests", tables::requests_schema(), run_id)?;
        let mut cases = TableWriter::create(dir, "cases", tables::cases_schema(), run_id)?;
        let mut scores = TableWriter::create(dir, "scores", tables::scores_schema(), run_id)?;
        let mut judgements =
            TableWriter::create(dir, "judgements", tables::judgements_schema(), run_id)?;
        let mut score_stats =
            TableWriter::create(dir, "score_stats", tables::score_stats_schema(), run_id)?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Record>(8192);
        let run_id: Arc<str> = Arc::from(run_id);
        let thread = std::thread::Builder::new()
            .name("frontier-store".into())
            .spawn(move || {
                let mut first_error: Option<Error> = None;
                // Drain in batches and nap between them instead of waking for every record:
                // under load the I/O tasks then push rows without waking this thread (a wakeup
                // per row costs the client a futex call and a context switch per request).
                let mut pending: Vec<Record> = Vec::with_capacity(1024);
                loop {
                    while pending.len() < 4096 {
                        match rx.try_recv() {
                            Ok(rec) => pending.push(rec),
                            Err(_) => break,
                        }
                    }
                    if pending.is_empty() {
                        // Idle (or finished): park until the next record or the end.
                        match rx.blocking_recv() {
                            Some(rec) => pending.push(rec),
                            None => break,
                        }
                        continue;
                    }
                    let batch = pending.len();
                    for rec in pending.drain(..) {
                        let r = match rec {
                            Record::Request(r) => {
                                requests.append(|c| r.fill(c, &run_id, started_unix_us))
                            }
                            Record::Case(r) => cases.append(|c| r.fill(c, &run_id)),
                            Record::Score(r) => scores.append(|c| r.fill(c, &run_id)),
                            Record::Judgement(r) => judgements.append(|c| r.fill(c, &run_id)),
                            Record::ScoreStat(r) => score_stats.append(|c| r.fill(c, &run_id)),
                        };
                        if let Err(e) = r {
                            first_error.get_or_insert(e);
                        }
                    }
                    if batch < 4096 {
                        std::thread::sleep(WRITER_NAP);
                    }
                }
                let closed = [
                    requests.close(),
                    cases.close(),
                    scores.close(),
                    judgements.close(),
                    score_stats.close(),
                ];
                if let Some(e) = first_error {
                    return Err(e);
                }
                closed.into_iter().collect()
            })
            .map_err(|e| Error::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(RunWriter {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// A sender for worker tasks.
    pub fn sender(&self) -> tokio::sync::mpsc::Sender<Record> {
        self.tx.clone().expect("writer is open")
    }

    /// Close the channel, wait for the thread, and return each file with its row count.
    pub fn finish(mut self) -> Result<Vec<(PathBuf, u64)>, Error> {
        self.tx.take();
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(Error::Internal("the writer thread panicked".into())),
            None => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_schema::{DataType, Field, Schema};
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    #[test]
    fn a_row_group_is_flushed_by_bytes_as_well_as_rows() {
        let dir = std::env::temp_dir().join(format!("frontier-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("text", DataType::Utf8, true),
            Field::new(
                "list",
                DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
                true,
            ),
        ]));
        let mut w = TableWriter::create(&dir, "t", schema, "run").unwrap();
        w.flush_bytes = 1000;
        let text = "x".repeat(300);
        for _ in 0..10 {
            // 300 bytes of text and 2 list values (16 bytes) per row: 4 rows pass 1,000.
            w.append(|c| {
                c.str(Some(&text)).i64_list(Some([1, 2]));
            })
            .unwrap();
        }
        assert_eq!(
            w.columns.bytes(),
            2 * 316,
            "the count restarts at each flush"
        );
        let (path, rows) = w.close().unwrap();
        assert_eq!(rows, 10);
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let groups: Vec<i64> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(groups, vec![4, 4, 2]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
