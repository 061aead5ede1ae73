//! Pareto frontier marking (shim).
use arrow_array::RecordBatch;

use super::QueryError;

/// Direction.
#[derive(Clone, Copy, Debug)]
pub enum Direction {
    /// Lower is better.
    Minimize,
    /// Higher is better.
    Maximize,
}

/// Objective.
#[derive(Clone, Debug)]
pub struct Objective {
    /// Column.
    pub column: String,
    /// Direction.
    pub direction: Direction,
}

/// Mark.
pub fn mark(batch: &RecordBatch, objectives: &[Objective]) -> Result<RecordBatch, QueryError> {
    let _ = (batch, objectives);
    todo!()
}
