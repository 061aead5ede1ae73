//! Pareto frontier marking.
//!
//! A row is on the frontier iff no other row is at least as good in every objective and
//! strictly better in at least one. Dominated rows are kept and flagged `false`, so reports can
//! show how far off the frontier a configuration is.
//!
//! **Null rule:** a row with a NULL or NaN value in any objective is never on the frontier and
//! never dominates another row: an unknown cost or accuracy cannot be compared, and it must not
//! push a known configuration off the frontier. Duplicate points (equal in every objective)
//! do not dominate each other: if one is on the frontier, all are.
//!
//! The algorithm sorts points lexicographically (best first) and keeps a running frontier: a
//! point can only be dominated by a point that sorts before it, and if it is dominated at all it
//! is dominated by a frontier point (dominance is transitive). O(n log n + n * f * d) for f
//! frontier points in d dimensions.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_schema::{DataType, Field, Schema};

use super::error::{QueryError, SqlLocation, closest};

/// Whether smaller or larger values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Minimize,
    Maximize,
}

/// One objective: a numeric column and its direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Objective {
    pub column: String,
    pub direction: Direction,
}

impl Objective {
    pub fn minimize(column: impl Into<String>) -> Self {
        Objective {
            column: column.into(),
            direction: Direction::Minimize,
        }
    }

    pub fn maximize(column: impl Into<String>) -> Self {
        Objective {
            column: column.into(),
            direction: Direction::Maximize,
        }
    }
}

/// Name of the column [`mark`] appends.
pub const ON_FRONTIER: &str = "on_frontier";

/// Returns the batch with a Boolean `on_frontier` column appended (replaced if present).
/// Dominated rows are KEPT and flagged false.
///
/// A row is on the frontier iff no other row is at least as good in every objective and
/// strictly better in one. Rows with a null/NaN objective are never on the frontier and never
/// dominate. Objective columns may be any numeric type (integers, floats, decimals).
pub fn mark(batch: &RecordBatch, objectives: &[Objective]) -> Result<RecordBatch, QueryError> {
    if objectives.is_empty() {
        return Err(QueryError::Invalid(
            "a Pareto frontier needs at least one objective".into(),
        ));
    }
    let schema = batch.schema();
    let mut columns = Vec::with_capacity(objectives.len());
    for objective in objectives {
        let index = schema
            .fields()
            .iter()
            .position(|f| f.name() == &objective.column)
            .or_else(|| {
                schema
                    .fields()
                    .iter()
                    .position(|f| f.name().eq_ignore_ascii_case(&objective.column))
            })
            .ok_or_else(|| {
                let available: Vec<String> =
                    schema.fields().iter().map(|f| f.name().clone()).collect();
                QueryError::UnknownColumn {
                    suggestion: closest(&objective.column, available.iter().map(String::as_str)),
                    name: objective.column.clone(),
                    available,
                    location: None::<SqlLocation>,
                }
            })?;
        let column = batch.column(index);
        if !column.data_type().is_numeric() {
            return Err(QueryError::Type(format!(
                "Pareto objective `{}` must be numeric, got {}",
                objective.column,
                column.data_type()
            )));
        }
        columns.push(arrow_cast::cast(column, &DataType::Float64)?);
    }
    let directions: Vec<Direction> = objectives.iter().map(|o| o.direction).collect();
    with_frontier_column(batch, &columns, &directions)
}

/// Append (or replace) `on_frontier` computed from Float64 objective columns.
pub(crate) fn with_frontier_column(
    batch: &RecordBatch,
    objective_columns: &[ArrayRef],
    directions: &[Direction],
) -> Result<RecordBatch, QueryError> {
    let rows = batch.num_rows();
    let mut points = vec![Vec::with_capacity(directions.len()); rows];
    for column in objective_columns {
        let column = column.as_primitive::<Float64Type>();
        for (row, point) in points.iter_mut().enumerate() {
            point.push(if column.is_valid(row) {
                column.value(row)
            } else {
                f64::NAN
            });
        }
    }
    let mask = frontier_mask(&points, directions);
    let schema = batch.schema();
    let mut fields: Vec<Arc<Field>> = Vec::with_capacity(schema.fields().len() + 1);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len() + 1);
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if field.name() != ON_FRONTIER {
            fields.push(field.clone());
            columns.push(column.clone());
        }
    }
    fields.push(Arc::new(Field::new(ON_FRONTIER, DataType::Boolean, true)));
    columns.push(Arc::new(BooleanArray::from(mask)));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}

/// The core: `true` for every point on the frontier. Each point has one value per direction;
/// NaN marks an unknown value (never on the frontier, never dominates).
pub fn frontier_mask(points: &[Vec<f64>], directions: &[Direction]) -> Vec<bool> {
    let d = directions.len();
    // Everything as "smaller is better".
    let oriented: Vec<Option<Vec<f64>>> = points
        .iter()
        .map(|p| {
            if p.len() != d || p.iter().any(|v| v.is_nan()) {
                return None;
            }
            Some(
                p.iter()
                    .zip(directions)
                    .map(|(v, dir)| match dir {
                        Direction::Minimize => *v,
                        // Normalise -0.0 so equal points compare equal.
                        Direction::Maximize => -*v + 0.0,
                    })
                    .collect(),
            )
        })
        .collect();
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| oriented[i].is_some())
        .collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (oriented[a].as_ref().unwrap(), oriented[b].as_ref().unwrap());
        pa.iter()
            .zip(pb)
            .map(|(x, y)| x.partial_cmp(y).expect("no NaN"))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut mask = vec![false; points.len()];
    let mut frontier: Vec<&[f64]> = Vec::new();
    for i in order {
        let p = oriented[i].as_deref().expect("filtered");
        if !frontier.iter().any(|f| dominates(f, p)) {
            frontier.push(p);
            mask[i] = true;
        }
    }
    mask
}

/// `a` is at least as good as `b` everywhere and strictly better somewhere (smaller is better).
fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut strictly = false;
    for (x, y) in a.iter().zip(b) {
        if x > y {
            return false;
        }
        strictly |= x < y;
    }
    strictly
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int32Array, Int64Array, StringArray};

    /// SplitMix64: a tiny seeded PRNG, enough for property tests.
    struct SplitMix(u64);
    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn brute_force(points: &[Vec<f64>], directions: &[Direction]) -> Vec<bool> {
        let better_or_equal = |a: f64, b: f64, dir: Direction| match dir {
            Direction::Minimize => a <= b,
            Direction::Maximize => a >= b,
        };
        let strictly_better = |a: f64, b: f64, dir: Direction| match dir {
            Direction::Minimize => a < b,
            Direction::Maximize => a > b,
        };
        let known = |p: &Vec<f64>| p.iter().all(|v| !v.is_nan());
        (0..points.len())
            .map(|i| {
                known(&points[i])
                    && !(0..points.len()).any(|j| {
                        j != i
                            && known(&points[j])
                            && (0..directions.len())
                                .all(|k| better_or_equal(points[j][k], points[i][k], directions[k]))
                            && (0..directions.len())
                                .any(|k| strictly_better(points[j][k], points[i][k], directions[k]))
                    })
            })
            .collect()
    }

    #[test]
    fn frontier_mask_equals_brute_force_on_random_sets() {
        let mut rng = SplitMix(7);
        for case in 0..2000 {
            let n = rng.below(40) as usize;
            let d = 1 + rng.below(4) as usize;
            // Few distinct values per axis: many ties and exact duplicates.
            let levels = 1 + rng.below(if case % 2 == 0 { 4 } else { 50 });
            let directions: Vec<Direction> = (0..d)
                .map(|_| {
                    if rng.below(2) == 0 {
                        Direction::Minimize
                    } else {
                        Direction::Maximize
                    }
                })
                .collect();
            let mut points: Vec<Vec<f64>> = (0..n)
                .map(|_| {
                    (0..d)
                        .map(|_| {
                            if rng.below(25) == 0 {
                                f64::NAN
                            } else {
                                rng.below(levels) as f64 - (levels / 2) as f64
                            }
                        })
                        .collect()
                })
                .collect();
            // Exact copies of existing points.
            for _ in 0..rng.below(4) {
                if !points.is_empty() {
                    let p = points[rng.below(points.len() as u64) as usize].clone();
                    points.push(p);
                }
            }
            let fast = frontier_mask(&points, &directions);
            let slow = brute_force(&points, &directions);
            assert_eq!(fast, slow, "case {case}: {points:?} {directions:?}");
        }
    }

    #[test]
    fn duplicates_of_a_frontier_point_are_all_on_it() {
        let points = vec![
            vec![1.0, 5.0],
            vec![1.0, 5.0],
            vec![2.0, 4.0],
            vec![2.0, 6.0],
        ];
        let dirs = [Direction::Minimize, Direction::Minimize];
        assert_eq!(frontier_mask(&points, &dirs), vec![true, true, true, false]);
    }

    #[test]
    fn unknown_values_neither_join_nor_dominate() {
        let points = vec![vec![f64::NAN, 0.0], vec![1.0, 1.0], vec![0.0, f64::NAN]];
        let dirs = [Direction::Minimize, Direction::Minimize];
        assert_eq!(frontier_mask(&points, &dirs), vec![false, true, false]);
    }

    #[test]
    fn mark_appends_or_replaces_on_frontier_with_any_numeric_type() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("trial_id", DataType::Utf8, true),
            Field::new("ttft_p95_ms", DataType::Int32, true),
            Field::new("accuracy", DataType::Float64, true),
            Field::new("cost", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["a", "b", "c", "d"])),
                Arc::new(Int32Array::from(vec![Some(100), Some(200), Some(50), None])),
                Arc::new(Float64Array::from(vec![0.8, 0.9, 0.7, 0.99])),
                Arc::new(Int64Array::from(vec![1, 1, 1, 1])),
            ],
        )
        .unwrap();
        let objectives = [
            Objective::minimize("ttft_p95_ms"),
            Objective::maximize("accuracy"),
        ];
        let marked = mark(&batch, &objectives).unwrap();
        assert_eq!(marked.num_columns(), 5);
        let flags: Vec<Option<bool>> = marked.column(4).as_boolean().iter().collect();
        assert_eq!(flags, vec![Some(true), Some(true), Some(true), Some(false)]);
        // Marking again replaces the column instead of adding a second one.
        let again = mark(&marked, &[Objective::minimize("cost")]).unwrap();
        assert_eq!(again.num_columns(), 5);
        let flags: Vec<Option<bool>> = again.column(4).as_boolean().iter().collect();
        assert_eq!(flags, vec![Some(true); 4]);
    }

    #[test]
    fn mark_reports_unknown_and_non_numeric_columns() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "endpoint",
            DataType::Utf8,
            true,
        )]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec!["x"]))]).unwrap();
        let err = mark(&batch, &[Objective::minimize("endpont")]).unwrap_err();
        assert!(err.to_string().contains("did you mean `endpoint`"), "{err}");
        let err = mark(&batch, &[Objective::minimize("endpoint")]).unwrap_err();
        assert!(matches!(err, QueryError::Type(_)), "{err}");
    }
}
