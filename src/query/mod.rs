//! SQL over a run's tables: sqlparser for parsing, an in-tree evaluator over Arrow record
//! batches for a documented subset, and the Pareto reduction.
//! (Temporary interface shim on main; the implementation lands from the `query` branch.)

pub mod pareto;

use std::path::Path;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

/// Tables by name.
#[derive(Default)]
pub struct Tables {}

impl Tables {
    /// Empty.
    pub fn new() -> Self {
        Tables {}
    }
    /// Add a table.
    pub fn insert(&mut self, name: &str, schema: SchemaRef, batches: Vec<RecordBatch>) {
        let _ = (name, schema, batches);
    }
    /// Load a run folder.
    pub fn load_run(dir: &Path) -> Result<Tables, QueryError> {
        let _ = dir;
        todo!()
    }
    /// Names.
    pub fn names(&self) -> Vec<String> {
        todo!()
    }
}

/// Query errors.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Placeholder.
    #[error("{0}")]
    Other(String),
}

/// Run one SELECT.
pub fn execute(tables: &Tables, sql: &str) -> Result<RecordBatch, QueryError> {
    let _ = (tables, sql);
    todo!()
}

/// DuckDB command.
pub fn duckdb_command(run_dir: &Path, table_names: &[String], sql: &str) -> String {
    let _ = (run_dir, table_names, sql);
    todo!()
}
