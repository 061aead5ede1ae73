//! Differential tests: every supported query form runs in frontier's evaluator and in DuckDB
//! (Python package) over the same Parquet files, and must give the same rows.
//!
//! The queries live in `tests/common_query/differential.sql`. DuckDB is required: without it
//! these tests fail with "pip install duckdb"; they never skip.

mod common_query;
mod results;

use std::path::PathBuf;

use common_query::{DuckResult, Val, batch_rows, build, load_cases, require_duckdb, run_duckdb};
use frontier::query::{QueryError, Tables, duckdb_command, execute};

/// A run directory with the Parquet files, removed when dropped (also on panic).
struct TempRun(PathBuf);

impl TempRun {
    fn new() -> Self {
        let dir = common_query::temp_dir("query-duckdb");
        build().write_parquet(&dir);
        TempRun(dir)
    }
}

impl Drop for TempRun {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn table_names() -> Vec<String> {
    build().names()
}

fn is_ordered(sql: &str) -> bool {
    let statements =
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::DuckDbDialect {}, sql)
            .expect("test SQL parses");
    matches!(&statements[0], sqlparser::ast::Statement::Query(q) if q.order_by.is_some())
}

fn show(rows: &[Vec<Val>]) -> String {
    rows.iter()
        .take(20)
        .map(|r| format!("  {r:?}"))
        .collect::<Vec<_>>()
        .join("\n")
        + if rows.len() > 20 { "\n  ..." } else { "" }
}

fn rows_equal(a: &[Vec<Val>], b: &[Vec<Val>]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(u, v)| u.same(v)))
}

/// Same rows ignoring order: sort both, compare; if float rounding put equal rows in
/// different sort positions, fall back to greedy matching.
fn multiset_equal(a: &[Vec<Val>], b: &[Vec<Val>]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let key = |r: &Vec<Val>| {
        r.iter()
            .map(Val::sort_key)
            .collect::<Vec<_>>()
            .join("\u{1}")
    };
    let mut sa = a.to_vec();
    let mut sb = b.to_vec();
    sa.sort_by_key(key);
    sb.sort_by_key(key);
    if rows_equal(&sa, &sb) {
        return true;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|row| {
        let found = (0..b.len()).find(|&j| {
            !used[j] && rows_equal(std::slice::from_ref(row), std::slice::from_ref(&b[j]))
        });
        found.map(|j| used[j] = true).is_some()
    })
}

#[test]
fn differential_queries_match_duckdb() {
    require_duckdb();
    let run = TempRun::new();
    let dir = &run.0;
    let tables = Tables::load_run(dir).expect("load run");
    assert_eq!(tables.names(), {
        let mut n = table_names();
        n.sort();
        n
    });
    let cases = load_cases();
    let duck_sql: Vec<String> = cases.iter().map(|c| c.duckdb_sql.clone()).collect();
    let duck = run_duckdb(dir, &table_names(), &duck_sql);
    let mut failures = Vec::new();
    let mut compared = 0;
    for (case, duck) in cases.iter().zip(&duck) {
        let ours = execute(&tables, &case.sql);
        match (&case.expect_error, ours, duck) {
            (Some(expected), Err(err), DuckResult::Error(_)) => {
                if !err.to_string().contains(expected.as_str()) {
                    failures.push(format!(
                        "{}: error should mention {expected:?}, got: {err}",
                        case.name
                    ));
                }
            }
            (Some(_), ours, duck) => failures.push(format!(
                "{}: both engines should fail; frontier: {}, duckdb: {}",
                case.name,
                match ours {
                    Ok(_) => "ok".to_string(),
                    Err(e) => e.to_string(),
                },
                match duck {
                    DuckResult::Rows(_) => "ok".to_string(),
                    DuckResult::Error(e) => e.clone(),
                }
            )),
            (None, Err(err), _) => failures.push(format!("{}: frontier failed: {err}", case.name)),
            (None, Ok(_), DuckResult::Error(e)) => {
                failures.push(format!("{}: DuckDB failed: {e}", case.name))
            }
            (None, Ok(batch), DuckResult::Rows(expected)) => {
                compared += 1;
                let got = batch_rows(&batch);
                let width_ok = expected
                    .first()
                    .is_none_or(|r| r.len() == batch.num_columns());
                let ordered = is_ordered(&case.sql);
                let same = width_ok
                    && if ordered {
                        rows_equal(&got, expected)
                    } else {
                        multiset_equal(&got, expected)
                    };
                if !same {
                    failures.push(format!(
                        "{} ({}): rows differ\nfrontier ({} rows):\n{}\nduckdb ({} rows):\n{}",
                        case.name,
                        if ordered { "ordered" } else { "multiset" },
                        got.len(),
                        show(&got),
                        expected.len(),
                        show(expected)
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    assert!(
        compared >= 40,
        "only {compared} queries compared row by row"
    );
}

/// The pipeline validator runs queries on tables with schemas and no rows: every query of the
/// golden file must pass there, and SQL errors (names, types, grouping) must still be caught.
#[test]
fn validation_on_empty_tables_matches_full_run() {
    let run = build();
    let empty = run.empty_tables();
    let mut full = Tables::new();
    for (name, batch) in &run.tables {
        full.insert(name, batch.schema(), vec![batch.clone()]);
    }
    for case in load_cases() {
        let on_full = execute(&full, &case.sql);
        let on_empty = execute(&empty, &case.sql);
        match (on_full, on_empty) {
            (Ok(_), Ok(batch)) => {
                // Aggregates without GROUP BY give one row even on empty input.
                assert!(
                    batch.num_rows() <= 1,
                    "{}: rows from empty tables",
                    case.name
                )
            }
            (Err(e), Ok(_)) => assert!(
                !e.is_sql_error(),
                "{}: SQL error not caught on empty tables: {e}",
                case.name
            ),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{}", case.name),
            (Ok(_), Err(e)) => panic!("{}: fails only on empty tables: {e}", case.name),
        }
    }
}

/// Outside the subset: an `Unsupported` error that names the construct, on empty tables as on
/// full ones, while DuckDB runs the same SQL (the fallback `duckdb_command` offers).
#[test]
fn unsupported_constructs_are_named_and_run_in_duckdb() {
    require_duckdb();
    let cases: &[(&str, &str)] = &[
        (
            "SELECT trial_id, rank() OVER (ORDER BY accuracy) FROM configs",
            "window function",
        ),
        (
            "SELECT trial_id FROM configs WHERE requests > (SELECT avg(requests) FROM configs)",
            "subquery in an expression",
        ),
        (
            "SELECT trial_id FROM configs WHERE trial_id IN (SELECT trial_id FROM scores)",
            "IN (subquery)",
        ),
        (
            "SELECT trial_id FROM configs c WHERE EXISTS (SELECT 1 FROM scores s WHERE s.trial_id = c.trial_id)",
            "EXISTS",
        ),
        (
            "SELECT trial_id FROM configs UNION SELECT trial_id FROM scores",
            "UNION",
        ),
        (
            "SELECT trial_id FROM configs UNION ALL SELECT trial_id FROM scores",
            "UNION ALL",
        ),
        (
            "SELECT trial_id FROM configs INTERSECT SELECT trial_id FROM scores",
            "INTERSECT",
        ),
        (
            "SELECT c.trial_id FROM configs c RIGHT JOIN scores s ON c.trial_id = s.trial_id",
            "RIGHT JOIN",
        ),
        (
            "SELECT c.trial_id FROM configs c FULL JOIN scores s ON c.trial_id = s.trial_id",
            "FULL JOIN",
        ),
        (
            "SELECT c.trial_id FROM configs c CROSS JOIN scores s",
            "CROSS JOIN",
        ),
        (
            "SELECT c.trial_id FROM configs c, scores s",
            "separated by commas",
        ),
        (
            "SELECT c.trial_id FROM configs c JOIN scores s ON c.trial_id = s.trial_id AND s.score > 0.5",
            "join condition",
        ),
        (
            "SELECT c.trial_id FROM configs c JOIN scores s ON c.requests > s.case_index",
            "join condition",
        ),
        ("SELECT list(trial_id) FROM configs", "function `list`"),
        (
            "SELECT DISTINCT ON (endpoint) endpoint, trial_id FROM configs",
            "DISTINCT ON",
        ),
        (
            "SELECT trial_id FROM configs QUALIFY row_number() OVER (PARTITION BY endpoint ORDER BY trial_id) = 1",
            "QUALIFY",
        ),
        (
            "SELECT endpoint, temperature, count(*) FROM configs GROUP BY ROLLUP (endpoint, temperature)",
            "ROLLUP",
        ),
        ("SELECT * EXCLUDE (endpoint) FROM configs", "EXCLUDE"),
        (
            "SELECT count(*) FILTER (WHERE requests > 0) FROM configs",
            "FILTER",
        ),
        (
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r",
            "WITH RECURSIVE",
        ),
        (
            "SELECT * FROM read_parquet('configs.parquet')",
            "table function `read_parquet`",
        ),
        (
            "SELECT CAST(started_at AS DATE) FROM configs",
            "CAST to DATE",
        ),
        (
            // DuckDB computes in 32 bits on a FLOAT; frontier would in 64.
            "SELECT CAST(accuracy AS FLOAT) * 3 FROM configs",
            "CAST to FLOAT",
        ),
        (
            // A HUGEINT in DuckDB.
            "SELECT 9223372036854775808 AS big",
            "beyond BIGINT",
        ),
        ("SELECT 1; SELECT 2", "more than one statement"),
        ("CREATE TABLE x AS SELECT 1", "CREATE statement"),
        ("VALUES (1), (2)", "VALUES"),
    ];
    let run = TempRun::new();
    let full = Tables::load_run(&run.0).unwrap();
    let empty = build().empty_tables();
    let mut in_duckdb = Vec::new();
    for (sql, construct) in cases {
        for (label, tables) in [("full", &full), ("empty", &empty)] {
            let err = execute(tables, sql).expect_err(sql);
            assert!(
                matches!(err, QueryError::Unsupported { .. }),
                "{sql} ({label}): expected Unsupported, got {err:?}"
            );
            let message = err.to_string();
            assert!(
                message.contains(construct),
                "{sql}: {message:?} should name {construct:?}"
            );
        }
        if !sql.contains(';') && !sql.starts_with("CREATE") && !sql.contains("read_parquet") {
            in_duckdb.push(sql.to_string());
        }
    }
    let results = run_duckdb(&run.0, &table_names(), &in_duckdb);
    for (sql, result) in in_duckdb.iter().zip(results) {
        if let DuckResult::Error(e) = result {
            panic!("DuckDB should run what frontier rejects: {sql}: {e}");
        }
    }
}

/// Run `command` with `sh -c`; it must succeed. Its stdout.
fn sh(command: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", command])
        .output()
        .expect("sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{command}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn duckdb_command_runs_in_duckdb() {
    require_duckdb();
    let sql = "SELECT trial_id, endpoint, accuracy FROM configs WHERE endpoint = 'openai' ORDER BY trial_id";
    let run = TempRun::new();
    let command = duckdb_command(&run.0, &table_names(), sql);
    let stdout = sh(&command);
    for trial in ["t04", "t05", "t09"] {
        assert!(stdout.contains(trial), "{trial} missing from:\n{stdout}");
    }
    assert!(!stdout.contains("t00"), "{stdout}");
}

/// The fallback command rewrites frontier's `pareto(...)` into DuckDB SQL (DuckDB has no such
/// table function: "Table Function with name pareto does not exist"). Each query runs in
/// DuckDB through the printed command; every row's `trial_id:on_frontier` from frontier's
/// evaluator must be in its output.
#[test]
fn duckdb_command_rewrites_pareto() {
    require_duckdb();
    let run = TempRun::new();
    let tables = Tables::load_run(&run.0).unwrap();
    let cases = [
        // (query for DuckDB, the same rows in frontier's subset)
        (
            "SELECT trial_id || ':' || on_frontier AS x FROM pareto(configs, min(ttft_p95_ms), max(accuracy)) ORDER BY 1",
            None,
        ),
        (
            "SELECT p.trial_id || ':' || p.on_frontier AS x FROM pareto((SELECT * FROM configs WHERE ttft_p95_ms < 1000), min(ttft_p95_ms), min(cost_per_1k_requests_usd), max(accuracy)) AS p ORDER BY 1",
            None,
        ),
        (
            // A window function: unsupported here, so this is the command users get.
            "WITH f AS (SELECT * FROM pareto(configs, max(accuracy), min(ttft_p95_ms * 2))) \
             SELECT trial_id || ':' || on_frontier AS x, row_number() OVER (ORDER BY trial_id) AS rn FROM f ORDER BY 1",
            Some(
                "WITH f AS (SELECT * FROM pareto(configs, max(accuracy), min(ttft_p95_ms * 2))) \
                 SELECT trial_id || ':' || on_frontier AS x FROM f ORDER BY 1",
            ),
        ),
        (
            // Pareto over a Pareto result, which already has `on_frontier`: the new column
            // replaces it (two would make `on_frontier` ambiguous in DuckDB).
            "SELECT trial_id || ':' || on_frontier AS x FROM pareto((SELECT * FROM pareto(configs, min(ttft_p95_ms), max(accuracy))), min(cost_per_1k_requests_usd), max(accuracy)) ORDER BY 1",
            None,
        ),
        (
            "SELECT p.trial_id || ':' || p.on_frontier AS x FROM pareto((SELECT * FROM pareto(configs, min(ttft_p95_ms), max(accuracy)) WHERE on_frontier OR accuracy > 0), max(accuracy), min(ttft_p95_ms * 2)) AS p ORDER BY 1",
            None,
        ),
    ];
    for (sql, supported) in cases {
        let expected = execute(&tables, supported.unwrap_or(sql)).unwrap();
        let expected: Vec<String> = batch_rows(&expected)
            .into_iter()
            .map(|row| match &row[0] {
                Val::Str(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(
            expected.iter().any(|x| x.ends_with(":true")),
            "{expected:?}"
        );
        assert!(
            expected.iter().any(|x| x.ends_with(":false")),
            "{expected:?}"
        );
        let command = duckdb_command(&run.0, &table_names(), sql);
        let stdout = sh(&command);
        for x in &expected {
            assert!(
                stdout.contains(x.as_str()),
                "{x} missing from:\n{stdout}\n{command}"
            );
        }
        let shown = stdout.matches(":true").count() + stdout.matches(":false").count();
        assert_eq!(shown, expected.len(), "{stdout}");
    }
}

/// Error messages are part of the interface: they are kept in a golden file so a change shows
/// up in review. Regenerate with `FRONTIER_BLESS=1 cargo test --test query_duckdb`.
#[test]
fn error_messages_match_golden_file() {
    let queries = [
        "SELECT *\nFROM configs WHERE",
        "SELECT 'unterminated FROM configs",
        "SELECT trial_id,\n  ttft_p59_ms\nFROM configs",
        "SELECT c.acuracy FROM configs c",
        "SELECT * FROM confgs",
        "SELECT trial_id FROM configs c JOIN scores s ON c.trial_id = s.trial_id",
        "SELECT trial_id, count(*) FROM configs",
        "SELECT trial_id FROM configs WHERE max(requests) > 1",
        "SELECT sum(count(*)) FROM configs",
        "SELECT endpoint + 1 FROM configs",
        "SELECT trial_id FROM configs WHERE endpoint",
        "SELECT stdev(ttft_ms) FROM requests",
        "SELECT trial_id, rank() OVER (ORDER BY accuracy) FROM configs",
        "SELECT trial_id FROM configs UNION SELECT trial_id FROM scores",
        "SELECT trial_id FROM configs ORDER BY 3",
        "SELECT percentile_cont(1.5) WITHIN GROUP (ORDER BY ttft_ms) FROM requests",
        "SELECT percentile_cont(0.5) FROM requests",
        "SELECT * FROM pareto(configs)",
        "SELECT * FROM pareto(configs, min(endpoint))",
        "SELECT * FROM pareto(configs, lowest(ttft_p95_ms))",
        "SELECT * FROM parteo(configs, min(ttft_p95_ms))",
        "SELECT 9223372036854775807 + 1",
        "SELECT CAST('fast' AS DOUBLE)",
        "SELECT 10 // 0",
        "DELETE FROM configs",
    ];
    let tables = build().empty_tables();
    let mut actual = String::new();
    for sql in queries {
        let message = match execute(&tables, sql) {
            Ok(_) => "(no error)".to_string(),
            Err(e) => e.to_string(),
        };
        actual.push_str(&format!("{sql}\n=> {message}\n\n"));
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/common_query/error_messages.txt");
    if std::env::var_os("FRONTIER_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert!(
        expected == actual,
        "error messages changed (FRONTIER_BLESS=1 to accept):\n{actual}"
    );
}

#[test]
fn errors_carry_locations_and_suggestions() {
    let tables = build().empty_tables();
    let err = execute(&tables, "SELECT trial_id,\n  ttft_p59_ms\nFROM configs").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(
            "unknown column `ttft_p59_ms` at line 2, column 3 of the SQL; did you mean `ttft_p95_ms`?"
        ),
        "{message}"
    );
    let err = execute(&tables, "SELECT * FROM confgs").unwrap_err();
    assert!(err.to_string().contains("did you mean `configs`?"), "{err}");
    let err = execute(&tables, "SELECT stdev(ttft_ms) FROM requests").unwrap_err();
    assert!(err.to_string().contains("did you mean `stddev`?"), "{err}");
    let err = execute(&tables, "SELECT * FROM configs WHERE").unwrap_err();
    assert!(matches!(err, QueryError::Parse { line: 1, .. }), "{err:?}");
}

/// The brief's performance bar: a 1M-row GROUP BY over ~10 groups well under a second in
/// release. Run with `cargo test --release --test query_duckdb -- --ignored --nocapture`.
#[test]
#[ignore = "timing; meaningful in release builds only"]
fn million_row_group_by_timing() {
    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let rows = 1_000_000;
    let mut rng = common_query::Rng::new(1);
    let trials: Vec<String> = (0..10)
        .map(|t| format!("trial-{t:02}-0123456789abcdef"))
        .collect();
    let trial_id: StringArray = (0..rows)
        .map(|_| Some(trials[rng.below(10) as usize].as_str()))
        .collect();
    let ttft: Float64Array = (0..rows)
        .map(|_| (rng.below(50) != 0).then(|| 50.0 + rng.unit() * 400.0))
        .collect();
    let tokens: Int64Array = (0..rows).map(|_| Some(1 + rng.below(500) as i64)).collect();
    let phase: StringArray = (0..rows)
        .map(|i| Some(if i % 50 == 0 { "warmup" } else { "measure" }))
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("trial_id", DataType::Utf8, true),
        Field::new("ttft_ms", DataType::Float64, true),
        Field::new("completion_tokens", DataType::Int64, true),
        Field::new("phase", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(trial_id),
        Arc::new(ttft),
        Arc::new(tokens),
        Arc::new(phase),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut tables = Tables::new();
    tables.insert("requests", schema, vec![batch]);
    let queries = [
        "SELECT trial_id, count(*), avg(ttft_ms), sum(completion_tokens), min(ttft_ms), max(ttft_ms) \
         FROM requests GROUP BY trial_id",
        "SELECT trial_id, count(ttft_ms), stddev(ttft_ms), \
         percentile_cont(0.5) WITHIN GROUP (ORDER BY ttft_ms) AS p50, \
         percentile_cont(0.95) WITHIN GROUP (ORDER BY ttft_ms) AS p95 \
         FROM requests WHERE phase = 'measure' AND ttft_ms > 60 GROUP BY trial_id ORDER BY p95 DESC",
    ];
    for sql in queries {
        let start = std::time::Instant::now();
        let out = execute(&tables, sql).unwrap();
        let elapsed = start.elapsed();
        println!(
            "{rows} rows, {} groups: {elapsed:?} for {sql}",
            out.num_rows()
        );
        assert_eq!(out.num_rows(), 10);
        if !cfg!(debug_assertions) {
            assert!(elapsed.as_secs_f64() < 1.0, "{elapsed:?}: {sql}");
        }
    }
}

#[test]
fn load_run_reads_parquet_files_by_stem() {
    let dir = common_query::temp_dir("load-run");
    build().write_parquet(&dir);
    std::fs::write(dir.join("manifest.json"), "{}").unwrap();
    std::fs::create_dir(dir.join("shard-1")).unwrap();
    std::fs::write(dir.join("shard-1").join("ignored.parquet"), "not parquet").unwrap();
    let tables = Tables::load_run(&dir).unwrap();
    assert_eq!(tables.names(), ["cases", "configs", "requests", "scores"]);
    // Int32 columns are read as BIGINT.
    let schema = tables.schema("requests").unwrap();
    let queue = schema.field_with_name("queue_us").unwrap();
    assert_eq!(queue.data_type(), &arrow_schema::DataType::Int64);
    let out = execute(&tables, "SELECT count(*) AS n FROM REQUESTS").unwrap();
    assert_eq!(out.num_rows(), 1);

    // A file that cannot be read (a run killed before it closed its files) fails only the
    // queries that read it.
    std::fs::write(dir.join("broken.parquet"), "not parquet").unwrap();
    let tables = Tables::load_run(&dir).unwrap();
    let out = execute(&tables, "SELECT count(*) AS n FROM requests").unwrap();
    assert_eq!(out.num_rows(), 1);
    let err = execute(&tables, "SELECT count(*) AS n FROM broken").unwrap_err();
    assert!(err.to_string().contains("broken.parquet"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
