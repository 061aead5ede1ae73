//! Terminal output: tables of Arrow batches, the end-of-run summary with the Pareto frontier
//! marked, named-query execution (SQL, then the Pareto reduction), and the metric crosswalk
//! ([`crosswalk`]).

pub mod crosswalk;

use std::fmt::Write as _;
use std::path::Path;

use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;

use crate::error::Error;
use crate::exec::RunOutcome;
use crate::query::pareto::{Direction, Objective};
use crate::query::{Tables, duckdb_command, execute};
use crate::spec::QuerySpec;

/// Run a named query: its SQL, then the Pareto marking from `pareto:` if given.
pub fn run_named_query(
    tables: &Tables,
    run_dir: &Path,
    q: &QuerySpec,
) -> Result<RecordBatch, Error> {
    let batch = execute(tables, &q.sql).map_err(|e| query_error(&e, tables, run_dir, &q.sql))?;
    match &q.pareto {
        None => Ok(batch),
        Some(p) => {
            let objectives: Vec<Objective> = p
                .minimize
                .iter()
                .map(|c| Objective {
                    column: c.clone(),
                    direction: Direction::Minimize,
                })
                .chain(p.maximize.iter().map(|c| Objective {
                    column: c.clone(),
                    direction: Direction::Maximize,
                }))
                .collect();
            crate::query::pareto::mark(&batch, &objectives)
                .map_err(|e| query_error(&e, tables, run_dir, &q.sql))
        }
    }
}

/// A query error; for SQL outside the supported subset, with the DuckDB command that runs the
/// same SQL on the same files.
pub fn query_error(
    e: &crate::query::QueryError,
    tables: &Tables,
    run_dir: &Path,
    sql: &str,
) -> Error {
    match e {
        crate::query::QueryError::Unsupported { .. } => Error::Query(format!(
            "query failed: {e}\n  help: run it in DuckDB instead (README, \"Queries\"):\n    {}",
            duckdb_command(run_dir, &tables.names(), sql)
        )),
        crate::query::QueryError::Parquet { .. } if run_unfinished(run_dir) => {
            Error::Query(format!(
                "query failed: {e}\n  help: manifest.json says the run is still `running`: it \
                 was stopped before it closed its files (a second signal, a kill or a crash), \
                 so files it was writing are unreadable; tables it had finished still read"
            ))
        }
        _ => Error::Query(format!("query failed: {e}")),
    }
}

/// The run's manifest says it never finished (status `running`).
fn run_unfinished(run_dir: &Path) -> bool {
    std::fs::read_to_string(run_dir.join("manifest.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|m| m["status"] == "running")
}

/// Format one cell for the terminal: floats with up to 4 significant decimals, nulls as `-`.
fn cell(array: &dyn Array, row: usize) -> String {
    if array.is_null(row) {
        return "-".into();
    }
    match array.data_type() {
        DataType::Float64 | DataType::Float32 => {
            let v = arrow_cast::cast::cast(&array.slice(row, 1), &DataType::Float64)
                .ok()
                .and_then(|a| {
                    a.as_any()
                        .downcast_ref::<arrow_array::Float64Array>()
                        .map(|f| f.value(0))
                });
            match v {
                Some(v) => format_float(v),
                None => "?".into(),
            }
        }
        DataType::Boolean => {
            let b = array
                .as_any()
                .downcast_ref::<BooleanArray>()
                .map(|b| b.value(row))
                .unwrap_or(false);
            if b { "yes".into() } else { "no".into() }
        }
        // The same instant and digits as CSV and JSONL, read more easily: a space for the `T`,
        // ` UTC` for the `Z` of a zone-aware column; a column without a zone claims none.
        DataType::Timestamp(..) => match TimestampCell::read(array, row) {
            Ok(t) => t.text(" ", " UTC"),
            Err(_) => "?".into(),
        },
        _ => {
            let opts = FormatOptions::default().with_null("-");
            match ArrayFormatter::try_new(array, &opts) {
                Ok(f) => f.value(row).to_string(),
                Err(_) => "?".into(),
            }
        }
    }
}

/// Floats: at most 4 decimals (fewer for large values), trailing zeros trimmed.
pub fn format_float(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    let decimals = if a >= 1000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 10.0 {
        2
    } else if a >= 1.0 {
        3
    } else {
        4
    };
    let s = format!("{v:.decimals$}");
    // 0.8000 reads as 0.8; keep one decimal so floats stay recognisable (40.0, 0.0).
    if s.contains('.') {
        let t = s.trim_end_matches('0');
        if t.ends_with('.') {
            format!("{t}0")
        } else {
            t.to_string()
        }
    } else {
        s
    }
}

/// Render a batch as an aligned text table. `marker` names a Boolean column rendered as a
/// leading `*` column instead of its own.
pub fn render_table(batch: &RecordBatch, columns: Option<&[&str]>, marker: Option<&str>) -> String {
    let schema = batch.schema();
    let indices: Vec<usize> = match columns {
        Some(cols) => cols
            .iter()
            .filter_map(|c| schema.index_of(c).ok())
            .collect(),
        None => (0..schema.fields().len())
            .filter(|i| Some(schema.field(*i).name().as_str()) != marker)
            .collect(),
    };
    let mark_col = marker.and_then(|m| schema.index_of(m).ok()).and_then(|i| {
        batch
            .column(i)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .cloned()
    });
    let mut header: Vec<String> = indices
        .iter()
        .map(|i| schema.field(*i).name().clone())
        .collect();
    if mark_col.is_some() {
        header.insert(0, "frontier".into());
    }
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(batch.num_rows());
    for r in 0..batch.num_rows() {
        let mut row: Vec<String> = indices
            .iter()
            .map(|i| cell(batch.column(*i).as_ref(), r))
            .collect();
        if let Some(m) = &mark_col {
            row.insert(
                0,
                if m.is_valid(r) && m.value(r) {
                    "*".into()
                } else {
                    String::new()
                },
            );
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let numeric: Vec<bool> = {
        let mut v: Vec<bool> = indices
            .iter()
            .map(|i| schema.field(*i).data_type().is_numeric())
            .collect();
        if mark_col.is_some() {
            v.insert(0, false);
        }
        v
    };
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, s)| {
                let pad = widths[c].saturating_sub(s.chars().count());
                if numeric[c] {
                    format!("{}{s}", " ".repeat(pad))
                } else {
                    format!("{s}{}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&mut out, &header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(out, "{}", rule.join("  "));
    for r in &rows {
        line(&mut out, r);
    }
    let _ = writeln!(
        out,
        "({} row{})",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    out
}

/// The columns of `configs` shown at the end of a run.
pub const SUMMARY_COLUMNS: &[&str] = &[
    "trial_id",
    "params",
    "requests",
    "error_rate",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "tpot_p50_ms",
    "e2e_p95_ms",
    "output_tok_s",
    "goodput",
    "accuracy",
    "cost_per_1k_requests_usd",
];

/// The end-of-run report: each named query's result (frontier rows marked `*`), then the files.
pub fn summary(outcome: &RunOutcome) -> String {
    let mut out = String::new();
    if outcome.queries.is_empty() {
        let _ = writeln!(out, "\nconfigs ({}):", rows(outcome.configs.num_rows()));
        out.push_str(&render_table(&outcome.configs, Some(SUMMARY_COLUMNS), None));
    }
    for (name, batch) in &outcome.queries {
        let marked = batch.schema().index_of("on_frontier").is_ok();
        let _ = writeln!(
            out,
            "\nquery `{name}` ({}{}):",
            rows(batch.num_rows()),
            if marked {
                ", * = on the Pareto frontier"
            } else {
                ""
            }
        );
        out.push_str(&render_table(batch, None, marked.then_some("on_frontier")));
    }
    out.push_str(&saturation_warnings(&outcome.configs));
    let _ = writeln!(
        out,
        "\n{} requests{}, {} failed, in {:.1} s{}",
        outcome.requests,
        if outcome.unsent > 0 {
            format!(
                " ({} never sent: the template failed on their row)",
                outcome.unsent
            )
        } else {
            String::new()
        },
        outcome.failed,
        outcome.wall_s,
        if outcome.interrupted {
            " (interrupted: results so far are written)"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "results in {}:", outcome.run_dir.display());
    for (path, n) in &outcome.files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name == "manifest.json" {
            let _ = writeln!(out, "  {}", path.display());
        } else {
            let _ = writeln!(out, "  {}  ({})", path.display(), rows(*n as usize));
        }
    }
    out
}

/// `1 row`, `6 rows`.
fn rows(n: usize) -> String {
    format!("{n} row{}", if n == 1 { "" } else { "s" })
}

/// Every cell as text (`None` only for SQL NULL), full precision, for CSV. Timestamps are
/// RFC 3339 (`2025-11-29T00:00:57.881475Z`; see [`timestamp_rfc3339`]); floats print `inf`,
/// `-inf` and `NaN` as such.
pub fn rows_as_text(batch: &RecordBatch) -> Vec<Vec<Option<String>>> {
    let opts = FormatOptions::default();
    let formatters: Vec<Option<ArrayFormatter<'_>>> = batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Timestamp(..) => None,
            _ => ArrayFormatter::try_new(c.as_ref(), &opts).ok(),
        })
        .collect();
    (0..batch.num_rows())
        .map(|r| {
            batch
                .columns()
                .iter()
                .zip(&formatters)
                .map(|(c, f)| {
                    if c.is_null(r) {
                        return None;
                    }
                    Some(match (c.data_type(), f) {
                        (DataType::Timestamp(..), _) => timestamp_rfc3339(c.as_ref(), r),
                        (_, Some(f)) => f.value(r).to_string(),
                        // Never a silent empty cell: say what could not be printed.
                        (other, None) => format!("<{other} value>"),
                    })
                })
                .collect()
        })
        .collect()
}

/// A timestamp cell as RFC 3339. The stored value is the UTC instant whatever the column's
/// zone, so a zone-aware column prints in UTC with `Z` (Arrow's own formatter needs chrono-tz
/// for named zones such as "UTC" and failed on them); a column without a zone prints without
/// one. Fractional seconds: 6 digits (9 for nanosecond columns).
pub fn timestamp_rfc3339(array: &dyn Array, row: usize) -> String {
    match TimestampCell::read(array, row) {
        Ok(t) => t.text("T", "Z"),
        Err(message) => message,
    }
}

/// One timestamp value as every output prints it ([`cell`] for tables, [`timestamp_rfc3339`]
/// for CSV and JSONL), so that they agree on the instant, the digits and the zone.
struct TimestampCell {
    /// The stored instant, which is UTC whatever the column's zone.
    utc: chrono::NaiveDateTime,
    /// A nanosecond column: 9 fractional digits, else 6.
    nanosecond_digits: bool,
    /// The column has a zone (the instant is printed as UTC, marked so).
    zoned: bool,
}

impl TimestampCell {
    /// The value at `row`, or the text to print instead: `<type value>` for a column that is
    /// not a timestamp, `<timestamp out of range: ...>` past chrono's range.
    fn read(array: &dyn Array, row: usize) -> Result<TimestampCell, String> {
        use arrow_array::cast::AsArray;
        use arrow_array::types::{
            TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
            TimestampSecondType,
        };
        use arrow_schema::TimeUnit;
        let DataType::Timestamp(unit, zone) = array.data_type() else {
            return Err(format!("<{} value>", array.data_type()));
        };
        let instant = match unit {
            TimeUnit::Second => chrono::DateTime::from_timestamp(
                array.as_primitive::<TimestampSecondType>().value(row),
                0,
            ),
            TimeUnit::Millisecond => chrono::DateTime::from_timestamp_millis(
                array.as_primitive::<TimestampMillisecondType>().value(row),
            ),
            TimeUnit::Microsecond => chrono::DateTime::from_timestamp_micros(
                array.as_primitive::<TimestampMicrosecondType>().value(row),
            ),
            TimeUnit::Nanosecond => Some(chrono::DateTime::from_timestamp_nanos(
                array.as_primitive::<TimestampNanosecondType>().value(row),
            )),
        };
        let Some(instant) = instant else {
            return Err(format!(
                "<timestamp out of range: {:?}>",
                array.slice(row, 1)
            ));
        };
        Ok(TimestampCell {
            utc: instant.naive_utc(),
            nanosecond_digits: *unit == TimeUnit::Nanosecond,
            zoned: zone.is_some(),
        })
    }

    /// `2025-11-29{separator}00:00:57.881475`, then `utc_mark` for a zone-aware column.
    fn text(&self, separator: &str, utc_mark: &str) -> String {
        let time = if self.nanosecond_digits {
            "%H:%M:%S%.9f"
        } else {
            "%H:%M:%S%.6f"
        };
        format!(
            "{}{separator}{}{}",
            self.utc.format("%Y-%m-%d"),
            self.utc.format(time),
            if self.zoned { utc_mark } else { "" }
        )
    }
}

/// One row as a JSON object, for JSON Lines: keys in column order (a duplicate column name
/// gets a suffix, `x`, `x_1`, `x_2`, as DuckDB's JSON export does); its `Display` is the
/// object's compact JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonRow(pub Vec<(String, serde_json::Value)>);

impl std::fmt::Display for JsonRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("{")?;
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}:{value}", serde_json::Value::from(key.as_str()))?;
        }
        f.write_str("}")
    }
}

/// Column names made distinct for JSON keys: the second `x` becomes `x_1` (skipping names
/// already taken), as DuckDB names duplicates.
fn distinct_names(batch: &RecordBatch) -> Vec<String> {
    let names: Vec<&String> = batch
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name())
        .collect();
    let mut taken: std::collections::HashSet<String> =
        names.iter().map(|n| n.to_string()).collect();
    let mut seen = std::collections::HashSet::new();
    names
        .iter()
        .map(|name| {
            if seen.insert(name.to_string()) {
                return name.to_string();
            }
            let unique = (1..)
                .map(|i| format!("{name}_{i}"))
                .find(|candidate| !taken.contains(candidate))
                .expect("an unused suffix exists");
            taken.insert(unique.clone());
            unique
        })
        .collect()
}

/// Every row as a JSON object with typed values: numbers, strings, booleans, null for SQL
/// NULL. JSON has no infinity or NaN, so non-finite floats are the strings `"inf"`, `"-inf"`
/// and `"NaN"`; timestamps are RFC 3339 strings ([`timestamp_rfc3339`]).
pub fn rows_as_json(batch: &RecordBatch) -> Vec<JsonRow> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int32Type, Int64Type};
    use serde_json::Value;
    let names = distinct_names(batch);
    let text = rows_as_text(batch);
    (0..batch.num_rows())
        .map(|r| {
            let mut row = Vec::with_capacity(names.len());
            for (i, name) in names.iter().enumerate() {
                let c = batch.column(i);
                let v = if c.is_null(r) {
                    Value::Null
                } else {
                    match c.data_type() {
                        DataType::Int64 => Value::from(c.as_primitive::<Int64Type>().value(r)),
                        DataType::Int32 => Value::from(c.as_primitive::<Int32Type>().value(r)),
                        DataType::Float64 => float_json(c.as_primitive::<Float64Type>().value(r)),
                        DataType::Boolean => Value::Bool(c.as_boolean().value(r)),
                        DataType::List(item) if item.data_type() == &DataType::Int64 => {
                            let values = c.as_list::<i32>().value(r);
                            Value::Array(
                                values
                                    .as_primitive::<Int64Type>()
                                    .iter()
                                    .map(|v| v.map_or(Value::Null, Value::from))
                                    .collect(),
                            )
                        }
                        _ => text[r][i].clone().map_or(Value::Null, Value::String),
                    }
                };
                row.push((name.clone(), v));
            }
            JsonRow(row)
        })
        .collect()
}

/// A float as a JSON number, or `"inf"`/`"-inf"`/`"NaN"` (JSON has no such numbers).
fn float_json(v: f64) -> serde_json::Value {
    match serde_json::Number::from_f64(v) {
        Some(n) => serde_json::Value::Number(n),
        None if v.is_nan() => serde_json::Value::from("NaN"),
        None if v > 0.0 => serde_json::Value::from("inf"),
        None => serde_json::Value::from("-inf"),
    }
}

/// One warning line per trial stage flagged `client_saturated`: its latencies describe the
/// client as much as the server, and the terminal says so (not only `configs.parquet`).
pub fn saturation_warnings(configs: &RecordBatch) -> String {
    use arrow_array::{Float64Array, Int64Array};
    let col = |name: &str| configs.column_by_name(name);
    let Some(flag) =
        col("client_saturated").and_then(|c| c.as_any().downcast_ref::<BooleanArray>().cloned())
    else {
        return String::new();
    };
    let int = |name: &str| col(name).and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned());
    let float =
        |name: &str| col(name).and_then(|c| c.as_any().downcast_ref::<Float64Array>().cloned());
    let (trial, stage) = (int("trial_index"), int("stage"));
    let (lag, achieved, target) = (
        float("lag_p99_ms"),
        float("achieved_rate"),
        float("target_rate"),
    );
    let get = |a: &Option<Float64Array>, i: usize| {
        a.as_ref()
            .filter(|a| !a.is_null(i))
            .map_or("-".to_string(), |a| format!("{:.3}", a.value(i)))
    };
    // 1-based, as the progress lines number trials and stages.
    let get_ordinal = |a: &Option<Int64Array>, i: usize| {
        a.as_ref()
            .filter(|a| !a.is_null(i))
            .map_or("-".to_string(), |a| (a.value(i) + 1).to_string())
    };
    let mut out = String::new();
    for i in 0..configs.num_rows() {
        if flag.is_null(i) || !flag.value(i) {
            continue;
        }
        let _ = writeln!(
            out,
            "\nwarning: trial {} stage {}: the client fell behind its schedule (client_saturated: lag p99 {} ms, achieved {}/s of {}/s): its latencies describe the client as much as the server; lower the rate or give the client more cores (see `frontier calibrate`)",
            get_ordinal(&trial, i),
            get_ordinal(&stage, i),
            get(&lag, i),
            get(&achieved, i),
            get(&target, i),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow_array::{Float64Array, StringArray};
    use arrow_schema::{Field, Schema};

    #[test]
    fn utc_timestamps_are_printed() {
        let a =
            arrow_array::TimestampMicrosecondArray::from(vec![Some(1_764_374_457_881_475), None])
                .with_timezone("UTC");
        assert_eq!(cell(&a, 0), "2025-11-29 00:00:57.881475 UTC");
        assert_eq!(cell(&a, 1), "-");
    }

    /// The table printed ` UTC` after a column without a zone, and 6 digits for nanosecond
    /// columns, where CSV and JSONL print no zone and 9 digits.
    #[test]
    fn table_timestamps_agree_with_csv_and_jsonl() {
        let naive =
            arrow_array::TimestampNanosecondArray::from(vec![Some(1_764_374_457_881_475_123)]);
        let micros = arrow_array::TimestampMicrosecondArray::from(vec![Some(1_000_001)]);
        let offset = arrow_array::TimestampSecondArray::from(vec![Some(1)]).with_timezone("+02:00");
        assert_eq!(cell(&naive, 0), "2025-11-29 00:00:57.881475123");
        assert_eq!(
            timestamp_rfc3339(&naive, 0),
            "2025-11-29T00:00:57.881475123"
        );
        assert_eq!(cell(&micros, 0), "1970-01-01 00:00:01.000001");
        assert_eq!(timestamp_rfc3339(&micros, 0), "1970-01-01T00:00:01.000001");
        assert_eq!(cell(&offset, 0), "1970-01-01 00:00:01.000000 UTC");
        assert_eq!(timestamp_rfc3339(&offset, 0), "1970-01-01T00:00:01.000000Z");
        // Past chrono's range: the table shows `?`, CSV says why.
        let far = arrow_array::TimestampSecondArray::from(vec![Some(i64::MAX)]);
        assert_eq!(cell(&far, 0), "?");
        assert!(timestamp_rfc3339(&far, 0).starts_with("<timestamp out of range"));
    }

    fn batch_of(columns: Vec<(&str, arrow_array::ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, c)| Field::new(*n, c.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns.into_iter().map(|(_, c)| c).collect(),
        )
        .unwrap()
    }

    /// The CSV/JSONL text of a zone-aware timestamp used to be empty/null (Arrow's formatter
    /// failed on the named zone and the failure was dropped).
    #[test]
    fn text_and_json_keep_timestamps() {
        let utc =
            arrow_array::TimestampMicrosecondArray::from(vec![Some(1_764_374_457_881_475), None])
                .with_timezone("UTC");
        let offset = arrow_array::TimestampMillisecondArray::from(vec![Some(1_000), Some(-1)])
            .with_timezone("+02:00");
        let naive = arrow_array::TimestampNanosecondArray::from(vec![Some(5), Some(0)]);
        let batch = batch_of(vec![
            ("sent_at", Arc::new(utc)),
            ("t2", Arc::new(offset)),
            ("naive", Arc::new(naive)),
        ]);
        let text = rows_as_text(&batch);
        assert_eq!(
            text[0],
            vec![
                Some("2025-11-29T00:00:57.881475Z".to_string()),
                Some("1970-01-01T00:00:01.000000Z".to_string()),
                Some("1970-01-01T00:00:00.000000005".to_string()),
            ]
        );
        assert_eq!(text[1][0], None);
        assert_eq!(text[1][1].as_deref(), Some("1969-12-31T23:59:59.999000Z"));
        let json = rows_as_json(&batch);
        assert_eq!(
            json[0].to_string(),
            r#"{"sent_at":"2025-11-29T00:00:57.881475Z","t2":"1970-01-01T00:00:01.000000Z","naive":"1970-01-01T00:00:00.000000005"}"#
        );
        assert!(json[1].to_string().starts_with(r#"{"sent_at":null,"#));
    }

    /// JSONL used to sort keys alphabetically, merge duplicate names and print inf/NaN as null.
    #[test]
    fn json_rows_keep_order_names_and_non_finite_floats() {
        let batch = batch_of(vec![
            ("z", Arc::new(Float64Array::from(vec![f64::INFINITY]))),
            ("a", Arc::new(Float64Array::from(vec![f64::NEG_INFINITY]))),
            ("z", Arc::new(Float64Array::from(vec![f64::NAN]))),
            ("z_1", Arc::new(Float64Array::from(vec![Some(1.5)]))),
            ("a", Arc::new(Float64Array::from(vec![None]))),
            ("s", Arc::new(StringArray::from(vec!["q\"\n"]))),
        ]);
        let json = rows_as_json(&batch);
        let line = json[0].to_string();
        assert_eq!(
            line,
            r#"{"z":"inf","a":"-inf","z_2":"NaN","z_1":1.5,"a_1":null,"s":"q\"\n"}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed.as_object().unwrap().len(), 6);
        assert_eq!(
            rows_as_text(&batch)[0][..3],
            [Some("inf".into()), Some("-inf".into()), Some("NaN".into())]
        );
    }

    #[test]
    fn tables_align_and_mark() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("ttft_ms", DataType::Float64, true),
            Field::new("on_frontier", DataType::Boolean, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["a", "bbb"])),
                Arc::new(Float64Array::from(vec![Some(12.3456), None])),
                Arc::new(BooleanArray::from(vec![true, false])),
            ],
        )
        .unwrap();
        let t = render_table(&batch, None, Some("on_frontier"));
        assert_eq!(
            t,
            "frontier  name  ttft_ms\n--------  ----  -------\n*         a       12.35\n          bbb         -\n(2 rows)\n"
        );
    }

    #[test]
    fn floats() {
        assert_eq!(format_float(0.123456), "0.1235");
        assert_eq!(format_float(1234.5), "1234");
        assert_eq!(format_float(2.0), "2.0");
        assert_eq!(format_float(0.0), "0.0");
        assert_eq!(format_float(0.8), "0.8");
        assert_eq!(format_float(71.14), "71.14");
    }
}
