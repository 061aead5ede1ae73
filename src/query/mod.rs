//! SQL over a run's tables: sqlparser for parsing, an in-tree evaluator over Arrow record
//! batches for a documented subset, and the Pareto reduction.
//!
//! Why in-tree: DataFusion gave identical results but cost ~41 min of cold release build and a
//! 158 MB binary on 2 cores. The subset below covers what frontier's query step and ad-hoc
//! analysis need; anything else is rejected with an `Unsupported` error that names the
//! construct, and [`duckdb_command`] prints the command that runs the same SQL in DuckDB over
//! the same Parquet files. Every supported form is tested against DuckDB for identical rows
//! (`tests/query_duckdb.rs`).
//!
//! # Supported SQL
//!
//! - `SELECT [DISTINCT] expr [AS alias], *, t.* FROM ... [WHERE] [GROUP BY] [HAVING]
//!   [ORDER BY] [LIMIT n] [OFFSET m]`; `SELECT` without `FROM`; `WITH name AS (...)`;
//!   subqueries in FROM (`(SELECT ...) AS t(a, b)`).
//! - FROM: a table (by file stem: `requests`, `configs`, ...) with an optional alias;
//!   `[INNER] JOIN` and `LEFT [OUTER] JOIN` on equalities (`ON c.trial_id = s.trial_id [AND
//!   ...]`) or `USING (trial_id)`, chained; qualified names `c.x`. A NULL key matches nothing.
//! - `pareto(table_or_subquery, min(expr), max(expr), ...)` in FROM: all rows of the source
//!   with a Boolean `on_frontier` column (rules in [`pareto`]: a row with a NULL or NaN
//!   objective is never on the frontier and never dominates).
//! - WHERE, GROUP BY and HAVING may use SELECT aliases (as DuckDB); GROUP BY expressions,
//!   positions (`GROUP BY 1`) or `GROUP BY ALL` (constants are not keys, as DuckDB); NULLs
//!   form one group.
//! - Aggregates: `count(*)`, `count(x)`, `count(DISTINCT x)` (DISTINCT also for `sum`/`avg`),
//!   `sum`, `avg`, `min`, `max`, `stddev`/`stddev_samp`, `stddev_pop`, `variance`/`var_samp`,
//!   `var_pop`, `any_value`, `median`, `percentile_cont(p) WITHIN GROUP (ORDER BY x [DESC])`
//!   (linear interpolation, as DuckDB and NumPy), `percentile_disc(p) WITHIN GROUP (...)`,
//!   `quantile_cont(x, p)`, `quantile_disc(x, p)`; without GROUP BY one row, also on no input.
//! - ORDER BY output names, positions or expressions (also aggregates not selected),
//!   ASC/DESC, NULLS FIRST/LAST. The default is DuckDB's: NULLS LAST for both ASC and DESC.
//!   NaN (whatever its sign bit) sorts after every number and before NULL; -0.0 ties with 0.0.
//!   A negative position and a literal that is not an integer are errors, as in DuckDB.
//! - Expressions: column references, literals (integer, decimal, string, boolean, NULL,
//!   `TIMESTAMPTZ '...'`), `+ - * / % //` (`/` is always floating division, as DuckDB; integer
//!   overflow and `%`/`//` by zero are errors, `/` by zero gives inf/NaN), comparisons (a string
//!   literal compared with a number is cast to it), `AND`/`OR`/`NOT` with three-valued NULL
//!   logic, `IS [NOT] NULL`, `IS [NOT] DISTINCT FROM`, `IS [NOT] TRUE/FALSE`,
//!   `[NOT] IN (list)`, `[NOT] BETWEEN`, `[NOT] LIKE`/`ILIKE` `[ESCAPE 'c']`, `CASE` (branches
//!   only see their rows), `CAST`/`TRY_CAST`/`::` to DOUBLE, BIGINT, INTEGER, SMALLINT,
//!   VARCHAR, BOOLEAN, TIMESTAMPTZ, `||`, and the functions `round(x[, n])`, `abs`, `ceil`,
//!   `floor` (both DOUBLE), `coalesce`, `nullif`, `greatest`, `least`, `lower`, `upper`, `length`, `concat`.
//! - Not supported (an `Unsupported` error naming it): window functions, QUALIFY, subqueries
//!   in expressions (scalar, IN, EXISTS), UNION/INTERSECT/EXCEPT, RIGHT/FULL/CROSS joins and
//!   non-equality join conditions, comma joins, ROLLUP/CUBE, DISTINCT ON, `* EXCLUDE`,
//!   aggregate FILTER, WITH RECURSIVE, CAST to the 32-bit FLOAT, other table functions,
//!   non-SELECT statements.
//!
//! - Depth: an expression may nest at most 200 levels (`bind::MAX_EXPR_DEPTH`; each operator
//!   of a chain like `1+1+...+1` is a level, as are casts and `IS` tests); deeper is an
//!   `Unsupported` error, never a stack overflow. Chains of AND or of OR and `IN (list)` are
//!   bound as balanced trees, so thousands of them are fine. sqlparser limits parenthesised
//!   nesting itself (its default recursion limit, 50, applies since `parse_sql` uses it).
//!
//! Types: integer columns are read as BIGINT (Int64), floats and decimals as DOUBLE
//! (Float64), strings as VARCHAR (Utf8), timestamps as microseconds (zone kept). Results are
//! Int64, Float64, Utf8, Boolean or timestamps.
//!
//! Known differences from DuckDB (by design, documented here and in the tests):
//! - decimal literals are DOUBLE, not DECIMAL: `round(1.005, 2)` is 1.0 here (as
//!   `round(1.005::DOUBLE, 2)` in DuckDB), 1.01 in DuckDB;
//! - integer results are BIGINT: `sum` of integers beyond BIGINT is an overflow error (DuckDB
//!   widens to HUGEINT) and INTEGER-column arithmetic does not overflow at 2^31;
//! - `pareto()` is frontier's own table function; [`duckdb_command`] rewrites it into a
//!   `NOT EXISTS` dominance subquery that DuckDB runs.

mod aggregate;
mod bind;
mod cast;
mod duckdb_sql;
mod error;
mod eval;
mod expr;
mod join;
mod like;
pub mod pareto;
mod rel;
mod select;
mod tables;

use std::path::Path;

use arrow_array::RecordBatch;
use sqlparser::ast::Statement;

pub use error::{QueryError, SqlLocation};
pub use tables::Tables;

/// Run one SELECT; the result is a single RecordBatch.
///
/// Names, types and the subset are checked before any row is read, so running on tables with
/// schemas but no rows validates a query (unknown tables/columns, unsupported constructs, type
/// errors) without data.
pub fn execute(tables: &Tables, sql: &str) -> Result<RecordBatch, QueryError> {
    let statements =
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::DuckDbDialect {}, sql)
            .map_err(|e| QueryError::from_parser(e, sql))?;
    let statement = match statements.as_slice() {
        [one] => one,
        [] => return Err(QueryError::Invalid("no SQL statement given".into())),
        [_, second, ..] => {
            return Err(QueryError::unsupported_at(
                "more than one statement",
                error::span_of(second),
            ));
        }
    };
    let Statement::Query(query) = statement else {
        let keyword = statement
            .to_string()
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        return Err(QueryError::unsupported_at(
            format!("{keyword} statement (only SELECT queries are evaluated)"),
            error::span_of(statement),
        ));
    };
    let batch = select::run_query(&select::Catalog::new(tables), query)?;
    untyped_nulls_as_bigint(batch)
}

/// A column that is only `NULL` literals has Arrow's Null type; results use BIGINT instead
/// (DuckDB's INTEGER), so consumers meet only Int64, Float64, Utf8, Boolean and timestamps.
fn untyped_nulls_as_bigint(batch: RecordBatch) -> Result<RecordBatch, QueryError> {
    use arrow_schema::DataType;
    if !batch
        .columns()
        .iter()
        .any(|c| *c.data_type() == DataType::Null)
    {
        return Ok(batch);
    }
    let rows = batch.num_rows();
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let columns = batch
        .columns()
        .iter()
        .map(|c| {
            if *c.data_type() == DataType::Null {
                arrow_array::new_null_array(&DataType::Int64, rows)
            } else {
                c.clone()
            }
        })
        .collect();
    rel::to_batch(&names, columns, rows)
}

/// A shell command that runs the same SQL in DuckDB on the run's Parquet files (one view per
/// table), for users who need more SQL. It uses the DuckDB Python package
/// (`pip install duckdb`), since the `duckdb` CLI is often not installed. The `pareto()` table
/// function is frontier's own: it is rewritten into DuckDB SQL with the same rows and
/// `on_frontier` column (a `NOT EXISTS` dominance subquery, see `duckdb_sql`).
pub fn duckdb_command(run_dir: &Path, table_names: &[String], sql: &str) -> String {
    let mut program = String::from("import duckdb; con = duckdb.connect()");
    for name in table_names {
        let path = run_dir.join(format!("{name}.parquet"));
        let view = format!(
            "CREATE VIEW {} AS SELECT * FROM read_parquet({})",
            sql_identifier(name),
            sql_string(&path.to_string_lossy())
        );
        program.push_str(&format!("; con.execute({})", python_string(&view)));
    }
    program.push_str(&format!(
        "; con.sql({}).show(max_rows=1000000, max_width=1000000)",
        python_string(duckdb_sql::rewrite_pareto(sql).trim().trim_end_matches(';'))
    ));
    format!("python3 -c {}", shell_quote(&program))
}

fn sql_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A JSON string literal is also a valid Python string literal.
fn python_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings always serialise")
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;

    fn configs(rows: usize) -> Tables {
        let schema = Arc::new(Schema::new(vec![
            Field::new("trial_id", DataType::Utf8, true),
            Field::new("ttft_p95_ms", DataType::Float64, true),
            Field::new("accuracy", DataType::Float64, true),
            Field::new("requests", DataType::Int32, true),
        ]));
        let ids: Vec<String> = (0..rows).map(|i| format!("t{i}")).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(ids)) as ArrayRef,
                Arc::new(Float64Array::from_iter_values(
                    (0..rows).map(|i| 100.0 + i as f64),
                )),
                Arc::new(Float64Array::from_iter_values(
                    (0..rows).map(|i| i as f64 / 10.0),
                )),
                Arc::new(arrow_array::Int32Array::from_iter_values(
                    (0..rows).map(|i| i as i32),
                )),
            ],
        )
        .unwrap();
        let mut tables = Tables::new();
        tables.insert("configs", schema, vec![batch]);
        tables
    }

    #[test]
    fn validation_on_empty_tables_reports_names_and_constructs() {
        let tables = configs(0);
        let err = execute(&tables, "SELECT ttft_p59_ms FROM configs").unwrap_err();
        assert!(
            err.to_string().contains("did you mean `ttft_p95_ms`"),
            "{err}"
        );
        let err = execute(&tables, "SELECT * FROM config").unwrap_err();
        assert!(matches!(err, QueryError::UnknownTable { .. }), "{err}");
        assert!(err.to_string().contains("did you mean `configs`"), "{err}");
        let err = execute(
            &tables,
            "SELECT rank() OVER (ORDER BY accuracy) FROM configs",
        )
        .unwrap_err();
        assert!(matches!(err, QueryError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("window function"), "{err}");
        let err = execute(&tables, "SELECT accuracy + trial_id FROM configs").unwrap_err();
        assert!(matches!(err, QueryError::Type(_)), "{err}");
        let err = execute(&tables, "SELECT trial_id, count(*) FROM configs").unwrap_err();
        assert!(err.to_string().contains("GROUP BY"), "{err}");
        let ok = execute(&tables, "SELECT count(*) AS n, avg(accuracy) FROM configs").unwrap();
        assert_eq!(ok.num_rows(), 1);
    }

    #[test]
    fn parse_errors_carry_line_and_column() {
        let err = execute(&configs(1), "SELECT *\nFROM configs WHERE").unwrap_err();
        match err {
            QueryError::Parse { line, .. } => assert_eq!(line, 2),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn integer_columns_become_int64_and_division_is_floating() {
        let out = execute(
            &configs(4),
            "SELECT requests, requests / 2 AS half, requests // 2 AS whole FROM configs ORDER BY 1",
        )
        .unwrap();
        assert_eq!(out.column(0).data_type(), &DataType::Int64);
        let half = out.column(1).as_primitive::<Float64Type>();
        assert_eq!(half.value(3), 1.5);
        let whole = out.column(2).as_primitive::<Int64Type>();
        assert_eq!(whole.value(3), 1);
    }

    #[test]
    fn case_only_evaluates_branches_on_their_rows() {
        let out = execute(
            &configs(3),
            "SELECT CASE WHEN requests = 0 THEN -1 ELSE 10 % requests END AS m FROM configs",
        )
        .unwrap();
        let m = out.column(0).as_primitive::<Int64Type>();
        assert_eq!(m.values().to_vec(), vec![-1, 0, 0]);
        let err = execute(&configs(3), "SELECT 10 % requests FROM configs").unwrap_err();
        assert!(matches!(err, QueryError::Execution(_)), "{err}");
    }

    #[test]
    fn pareto_table_function_marks_rows() {
        let out = execute(
            &configs(3),
            "SELECT trial_id, on_frontier FROM pareto(configs, min(ttft_p95_ms), max(accuracy)) ORDER BY trial_id",
        )
        .unwrap();
        // Lower latency comes with lower accuracy: every row is a trade-off.
        assert_eq!(out.column(1).as_boolean().true_count(), 3);
        let out = execute(
            &configs(3),
            "SELECT on_frontier FROM pareto((SELECT * FROM configs WHERE requests > 0), min(ttft_p95_ms), min(accuracy))",
        )
        .unwrap();
        let flags: Vec<Option<bool>> = out.column(0).as_boolean().iter().collect();
        assert_eq!(flags, vec![Some(true), Some(false)]);
    }

    #[test]
    fn null_literal_columns_are_bigint() {
        let out = execute(&configs(2), "SELECT NULL AS nothing, trial_id FROM configs").unwrap();
        assert_eq!(out.column(0).data_type(), &DataType::Int64);
        assert_eq!(out.column(0).null_count(), 2);
    }

    #[test]
    fn duckdb_command_quotes_everything() {
        let cmd = duckdb_command(
            Path::new("/tmp/it's here"),
            &["configs".to_string()],
            "SELECT 'a' AS \"x\"",
        );
        assert!(cmd.starts_with("python3 -c '"), "{cmd}");
        // The path's quote is doubled for SQL, then escaped for the shell.
        assert!(
            cmd.contains("/tmp/it'\\'''\\''s here/configs.parquet"),
            "{cmd}"
        );
    }

    /// Long operator chains used to overflow the stack (an abort, not an error): sqlparser
    /// nests a chain of n operators n levels deep. These run on a test thread's 2 MiB stack in
    /// debug builds, smaller than the main thread's.
    #[test]
    fn long_operator_chains_are_errors_or_results_never_crashes() {
        let tables = configs(3);
        let plus = |n: usize| format!("SELECT {} AS s FROM configs", vec!["1"; n].join(" + "));
        let err = execute(&tables, &plus(5000)).unwrap_err();
        assert!(matches!(err, QueryError::Unsupported { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("nested more than 200 levels"), "{text}");
        assert!(text.contains("`+`"), "{text}");
        assert!(text.contains("DuckDB"), "{text}");
        // Just under the limit evaluates (the SELECT item is one level), for each kind of chain.
        let n = bind::MAX_EXPR_DEPTH - 2;
        let out = execute(&tables, &plus(n)).unwrap();
        let sums = out.column(0).as_primitive::<Int64Type>();
        assert_eq!(sums.value(0), n as i64);
        let column_chain = format!(
            "SELECT {} FROM configs ORDER BY 1",
            vec!["ttft_p95_ms"; n].join(" - ")
        );
        execute(&tables, &column_chain).unwrap();
        let casts = format!("SELECT requests{} FROM configs", "::DOUBLE".repeat(n));
        execute(&tables, &casts).unwrap();
        let concat = format!("SELECT {} FROM configs", vec!["trial_id"; n].join(" || "));
        execute(&tables, &concat).unwrap();
        let is_null = format!(
            "SELECT requests IS NULL{} FROM configs",
            " IS NOT TRUE".repeat(n / 2)
        );
        execute(&tables, &is_null).unwrap();
        // Postfix chains and chains inside a function or a rejected construct.
        let postfix = format!("SELECT requests{} FROM configs", " IS NULL".repeat(5000));
        assert!(matches!(
            execute(&tables, &postfix),
            Err(QueryError::Unsupported { .. })
        ));
        let chain = vec!["requests"; 5000].join(" * ");
        for sql in [
            format!("SELECT round({chain}) FROM configs"),
            format!("SELECT nosuchfunction({chain}) FROM configs"),
            format!("SELECT ({chain}) IN (SELECT 1) FROM configs"),
            format!("SELECT requests FROM configs ORDER BY {chain}"),
            format!("SELECT 1; SELECT {chain}"),
        ] {
            let err = execute(&tables, &sql).unwrap_err();
            assert!(err.is_sql_error(), "{err}");
        }
    }

    /// sqlparser's own recursion limit (50 by default) is in force for nesting.
    #[test]
    fn deep_parentheses_are_a_parse_error() {
        let sql = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
        let err = execute(&configs(1), &sql).unwrap_err();
        assert!(matches!(err, QueryError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("nested too deeply"), "{err}");
        let sql = format!("SELECT {}1{}", "(".repeat(20), ")".repeat(20));
        execute(&configs(1), &sql).unwrap();
    }

    #[test]
    fn thousands_of_ors_and_in_items_evaluate() {
        let tables = configs(5);
        let ors: Vec<String> = (0..3000).map(|i| format!("requests = {}", i * 2)).collect();
        let sql = format!(
            "SELECT trial_id FROM configs WHERE {} ORDER BY 1",
            ors.join(" OR ")
        );
        let out = execute(&tables, &sql).unwrap();
        let ids: Vec<&str> = out.column(0).as_string::<i32>().iter().flatten().collect();
        assert_eq!(ids, vec!["t0", "t2", "t4"]);
        let ands: Vec<String> = (0..3000)
            .map(|i| format!("requests <> {}", i * 2))
            .collect();
        let sql = format!("SELECT count(*) FROM configs WHERE {}", ands.join(" AND "));
        let out = execute(&tables, &sql).unwrap();
        assert_eq!(out.column(0).as_primitive::<Int64Type>().value(0), 2);
        let items: Vec<String> = (0..5000).map(|i| (i * 3).to_string()).collect();
        let sql = format!(
            "SELECT count(*) FROM configs WHERE requests IN ({})",
            items.join(", ")
        );
        let out = execute(&tables, &sql).unwrap();
        assert_eq!(out.column(0).as_primitive::<Int64Type>().value(0), 2);
        // A type error about a long chain is reported, not a crash.
        let sql = format!("SELECT ({}) + 1 FROM configs", ors.join(" OR "));
        assert!(matches!(execute(&tables, &sql), Err(QueryError::Type(_))));
    }

    #[test]
    fn insert_concatenates_batches() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let a = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2]))])
            .unwrap();
        let b = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![3]))])
            .unwrap();
        let mut tables = Tables::new();
        tables.insert("t", schema, vec![a, b]);
        let out = execute(&tables, "SELECT sum(x) FROM t").unwrap();
        assert_eq!(out.column(0).as_primitive::<Int64Type>().value(0), 6);
        assert_eq!(tables.names(), vec!["t".to_string()]);
        assert!(out.column(0).is_valid(0));
    }
}
