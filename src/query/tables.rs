//! The tables a query can read: a run's Parquet files, or batches handed over in memory.
//!
//! Columns are normalised once on the way in so the evaluator meets few types: every integer
//! becomes Int64, every float and decimal Float64, every string Utf8, every timestamp
//! Timestamp(Microsecond, tz). Other types pass through `SELECT *` untouched but cannot be
//! computed on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::error::{QueryError, Result};

/// One table: its normalised schema, and its rows as one normalised batch, read from Parquet
/// on first use (a query over `configs` never reads a large `requests` file).
#[derive(Debug, Clone)]
struct Entry {
    schema: SchemaRef,
    rows: Arc<OnceLock<RecordBatch>>,
    path: Option<PathBuf>,
}

/// Named tables a query runs against. Cheap to clone (loaded rows are shared).
#[derive(Debug, Clone, Default)]
pub struct Tables {
    tables: BTreeMap<String, Entry>,
}

impl Tables {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or replace) a table. Batches must match `schema`; they are concatenated and their
    /// columns normalised (see the module docs). Panics only if a batch's columns do not match
    /// the schema, which is a caller bug; use [`Tables::try_insert`] to get an error instead.
    pub fn insert(&mut self, name: &str, schema: SchemaRef, batches: Vec<RecordBatch>) {
        if let Err(err) = self.try_insert(name, schema, batches) {
            panic!("Tables::insert({name}): {err}");
        }
    }

    /// [`Tables::insert`] that reports batches not matching the schema as an error.
    pub fn try_insert(
        &mut self,
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<()> {
        let batch = normalise(&schema, &batches)?;
        let entry = Entry {
            schema: batch.schema(),
            rows: Arc::new(OnceLock::from(batch)),
            path: None,
        };
        self.tables.insert(name.to_string(), entry);
        Ok(())
    }

    /// Every `*.parquet` file directly in `dir` becomes a table named by its file stem
    /// (requests, scores, configs, cases, ...). Only the footers are read here; rows are read
    /// when a query first uses the table.
    pub fn load_run(dir: &Path) -> Result<Tables, QueryError> {
        let io = |source| QueryError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == "parquet") && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        let mut tables = Tables::new();
        for path in paths {
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            // A file that cannot be read (a run killed before it closed its files) fails the
            // queries that use it, not every query over the run.
            let schema = read_parquet_schema(&path)
                .map(|s| normalised_schema(&s))
                .unwrap_or_else(|_| Arc::new(Schema::empty()));
            let entry = Entry {
                schema,
                rows: Arc::new(OnceLock::new()),
                path: Some(path.clone()),
            };
            tables.tables.insert(stem.to_string(), entry);
        }
        Ok(tables)
    }

    /// Table names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }

    /// The normalised schema of a table, as queries see it.
    pub fn schema(&self, name: &str) -> Option<SchemaRef> {
        self.entry(name).map(|e| e.schema.clone())
    }

    /// The rows of a table (read from Parquet on first use); `None` if there is no such table.
    pub(crate) fn get(&self, name: &str) -> Option<Result<RecordBatch>> {
        let entry = self.entry(name)?;
        if let Some(batch) = entry.rows.get() {
            return Some(Ok(batch.clone()));
        }
        let path = entry.path.as_ref()?;
        Some(read_parquet(path).and_then(|(schema, batches)| {
            let batch = normalise(&schema, &batches)?;
            Ok(entry.rows.get_or_init(|| batch).clone())
        }))
    }

    /// Exact name first, then a case-insensitive match (SQL identifiers are case-insensitive).
    fn entry(&self, name: &str) -> Option<&Entry> {
        self.tables.get(name).or_else(|| {
            self.tables
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, t)| t)
        })
    }
}

fn read_parquet_schema(path: &Path) -> Result<SchemaRef> {
    let file = std::fs::File::open(path).map_err(|source| QueryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|source| QueryError::Parquet {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(builder.schema().clone())
}

fn read_parquet(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let parquet_err = |source| QueryError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(|source| QueryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(parquet_err)?;
    let schema = builder.schema().clone();
    let reader = builder
        .with_batch_size(64 * 1024)
        .build()
        .map_err(parquet_err)?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| QueryError::Parquet {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
    Ok((schema, batches))
}

/// The type the evaluator uses for a column of type `ty`.
pub(crate) fn normalised_type(ty: &DataType) -> DataType {
    match ty {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DataType::Int64,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => DataType::Float64,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::Dictionary(_, value) if normalised_type(value) == DataType::Utf8 => {
            DataType::Utf8
        }
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        other => other.clone(),
    }
}

fn normalised_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            Field::new(f.name(), normalised_type(f.data_type()), true)
                .with_metadata(f.metadata().clone())
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

fn normalise(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    let target = normalised_schema(schema);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut columns = Vec::with_capacity(target.fields().len());
    for (i, field) in target.fields().iter().enumerate() {
        let parts = batches
            .iter()
            .map(|b| {
                if b.num_columns() != schema.fields().len() {
                    return Err(QueryError::Internal(format!(
                        "batch has {} columns, schema has {}",
                        b.num_columns(),
                        schema.fields().len()
                    )));
                }
                let col = b.column(i);
                if col.data_type() == field.data_type() {
                    Ok(col.clone())
                } else {
                    Ok(arrow_cast::cast(col, field.data_type())?)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let column = match parts.len() {
            0 => arrow_array::new_empty_array(field.data_type()),
            1 => parts[0].clone(),
            _ => {
                let refs: Vec<&dyn arrow_array::Array> = parts.iter().map(|a| a.as_ref()).collect();
                arrow_select::concat::concat(&refs)?
            }
        };
        columns.push(column);
    }
    Ok(RecordBatch::try_new_with_options(
        target,
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}
