//! SQL over a run's tables: sqlparser for parsing, an in-tree evaluator over Arrow record
//! batches for a documented subset, and the Pareto reduction.

pub mod pareto;
