//! Synthetic run tables shaped like frontier's (requests, configs, scores, cases), written as
//! Parquet, plus the plumbing to run the same SQL in DuckDB.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// SplitMix64: a tiny seeded PRNG so the data is the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// 2024-05-01T00:00:00Z in microseconds.
const RUN_START_US: i64 = 1_714_521_600_000_000;

/// A unique, empty directory under the system temp dir.
pub fn temp_dir(label: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "frontier-{label}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

pub struct RunTables {
    pub tables: Vec<(String, RecordBatch)>,
}

impl RunTables {
    pub fn names(&self) -> Vec<String> {
        self.tables.iter().map(|(n, _)| n.clone()).collect()
    }

    pub fn write_parquet(&self, dir: &Path) {
        for (name, batch) in &self.tables {
            let file = std::fs::File::create(dir.join(format!("{name}.parquet"))).unwrap();
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
            writer.write(batch).unwrap();
            writer.close().unwrap();
        }
    }

    /// Same schemas, zero rows: what the pipeline validator sees before a run.
    pub fn empty_tables(&self) -> frontier::query::Tables {
        let mut tables = frontier::query::Tables::new();
        for (name, batch) in &self.tables {
            tables.insert(name, batch.schema(), vec![]);
        }
        tables
    }
}

pub fn build() -> RunTables {
    let mut rng = Rng::new(20240501);
    RunTables {
        tables: vec![
            ("configs".into(), configs()),
            ("requests".into(), requests(&mut rng)),
            ("scores".into(), scores(&mut rng)),
            ("cases".into(), cases()),
        ],
    }
}

/// Hand-written so the Pareto cases are known: ties, an exact duplicate point, NULL and NaN
/// objectives, dominated rows.
fn configs() -> RecordBatch {
    #[allow(clippy::type_complexity)]
    let rows: &[(
        &str,
        &str,
        f64,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        i64,
        i32,
    )] = &[
        (
            "t00",
            "local-vllm",
            0.0,
            Some(120.5),
            Some(0.81),
            Some(0.12),
            500,
            64,
        ),
        (
            "t01",
            "local-vllm",
            0.7,
            Some(130.0),
            Some(0.84),
            Some(0.12),
            500,
            256,
        ),
        (
            "t02",
            "sim",
            0.0,
            Some(95.25),
            Some(0.78),
            Some(0.0),
            500,
            64,
        ),
        (
            "t03",
            "sim",
            0.7,
            Some(95.25),
            Some(0.78),
            Some(0.0),
            480,
            256,
        ),
        (
            "t04",
            "openai",
            0.0,
            Some(410.0),
            Some(0.93),
            Some(2.5),
            500,
            64,
        ),
        (
            "t05",
            "openai",
            0.7,
            Some(450.0),
            Some(0.91),
            Some(2.5),
            500,
            64,
        ),
        (
            "t06",
            "local-vllm",
            0.0,
            Some(150.0),
            None,
            Some(0.15),
            0,
            128,
        ),
        ("t07", "sim", 0.7, None, Some(0.95), None, 10, 128),
        (
            "t08",
            "local-vllm",
            0.7,
            Some(130.0),
            Some(0.80),
            Some(0.10),
            500,
            64,
        ),
        (
            "t09",
            "openai",
            0.0,
            Some(380.0),
            Some(f64::NAN),
            Some(3.0),
            500,
            256,
        ),
        (
            "t10",
            "sim",
            0.0,
            Some(88.0),
            Some(0.62),
            Some(0.0),
            250,
            64,
        ),
        (
            "t11",
            "local-vllm",
            0.0,
            Some(1999.0),
            Some(0.99),
            Some(0.2),
            500,
            512,
        ),
    ];
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("trial_id", DataType::Utf8, true),
        Field::new("endpoint", DataType::Utf8, true),
        Field::new("temperature", DataType::Float64, true),
        Field::new("ttft_p95_ms", DataType::Float64, true),
        Field::new("accuracy", DataType::Float64, true),
        Field::new("cost_per_1k_requests_usd", DataType::Float64, true),
        Field::new("requests", DataType::Int64, true),
        Field::new("max_num_seqs", DataType::Int32, true),
        Field::new("started_at", utc(), true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.3))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.4))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.5))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.6))),
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.7))),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                (0..rows.len() as i64).map(|i| RUN_START_US + i * 60_000_000),
            )
            .with_timezone("UTC"),
        ),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

/// 8 trials x 250 requests, with failed requests (NULL timings), missing usage, warm-up rows.
fn requests(rng: &mut Rng) -> RecordBatch {
    let mut trial_id = Vec::new();
    let mut request_index = Vec::new();
    let mut ttft_ms = Vec::new();
    let mut e2e_ms = Vec::new();
    let mut completion_tokens = Vec::new();
    let mut error_kind = Vec::new();
    let mut phase = Vec::new();
    let mut ok = Vec::new();
    let mut queue_us = Vec::new();
    let mut sent_at = Vec::new();
    for trial in 0..8i64 {
        let base = 80.0 + trial as f64 * 35.0;
        for i in 0..250i64 {
            trial_id.push(format!("t{trial:02}"));
            request_index.push(i);
            phase.push(if i < 20 { "warmup" } else { "measure" });
            queue_us.push(Some(rng.below(5000) as i32));
            sent_at.push(RUN_START_US + trial * 1_000_000_000 + i * 37_000);
            let failure = rng.below(100);
            if failure < 5 {
                ttft_ms.push(None);
                completion_tokens.push(None);
                error_kind.push(Some(match failure {
                    0 | 1 => "timeout",
                    2 => "http_500",
                    _ => "http_503",
                }));
                ok.push(Some(false));
                e2e_ms.push(Some((rng.unit() * 30_000.0).round() / 10.0));
                continue;
            }
            // Millisecond values with three decimals, plus a heavy tail.
            let ttft = ((base + rng.unit() * 120.0 + if rng.below(20) == 0 { 900.0 } else { 0.0 })
                * 1000.0)
                .round()
                / 1000.0;
            let tokens = 1 + rng.below(200) as i64;
            ttft_ms.push(Some(ttft));
            e2e_ms.push(Some(
                ((ttft + tokens as f64 * (8.0 + trial as f64)) * 1000.0).round() / 1000.0,
            ));
            completion_tokens.push(if rng.below(25) == 0 {
                None
            } else {
                Some(tokens)
            });
            error_kind.push(None);
            ok.push(if rng.below(50) == 0 { None } else { Some(true) });
        }
    }
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("trial_id", DataType::Utf8, true),
        Field::new("request_index", DataType::Int64, true),
        Field::new("ttft_ms", DataType::Float64, true),
        Field::new("e2e_ms", DataType::Float64, true),
        Field::new("completion_tokens", DataType::Int64, true),
        Field::new("error_kind", DataType::Utf8, true),
        Field::new("phase", DataType::Utf8, true),
        Field::new("ok", DataType::Boolean, true),
        Field::new("queue_us", DataType::Int32, true),
        Field::new("sent_at", utc(), true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(trial_id)),
        Arc::new(Int64Array::from(request_index)),
        Arc::new(Float64Array::from(ttft_ms)),
        Arc::new(Float64Array::from(e2e_ms)),
        Arc::new(Int64Array::from(completion_tokens)),
        Arc::new(StringArray::from(error_kind)),
        Arc::new(StringArray::from(phase)),
        Arc::new(BooleanArray::from(ok)),
        Arc::new(Int32Array::from(queue_us)),
        Arc::new(TimestampMicrosecondArray::from(sent_at).with_timezone("UTC")),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Two scorers x 20 cases for t00..t09 (so t10, t11 have no scores) and an orphan trial t99.
fn scores(rng: &mut Rng) -> RecordBatch {
    let mut trial_id = Vec::new();
    let mut case_index = Vec::new();
    let mut scorer = Vec::new();
    let mut score = Vec::new();
    let mut status = Vec::new();
    let trials: Vec<String> = (0..10)
        .map(|t| format!("t{t:02}"))
        .chain(["t99".to_string()])
        .collect();
    for t in &trials {
        for case in 0..20i64 {
            for name in ["exact", "token_f1"] {
                trial_id.push(t.clone());
                case_index.push(case);
                scorer.push(name);
                if rng.below(30) == 0 {
                    score.push(None);
                    status.push("unscored");
                    continue;
                }
                status.push("scored");
                score.push(Some(if name == "exact" {
                    rng.below(2) as f64
                } else {
                    (rng.unit() * 1000.0).round() / 1000.0
                }));
            }
        }
    }
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("trial_id", DataType::Utf8, true),
        Field::new("case_index", DataType::Int64, true),
        Field::new("scorer", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
        Field::new("status", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(trial_id)),
        Arc::new(Int64Array::from(case_index)),
        Arc::new(StringArray::from(scorer)),
        Arc::new(Float64Array::from(score)),
        Arc::new(StringArray::from(status)),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

/// A table with a schema and no rows.
fn cases() -> RecordBatch {
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("trial_id", DataType::Utf8, true),
        Field::new("case_index", DataType::Int64, true),
        Field::new("latency_ms", DataType::Float64, true),
    ]));
    RecordBatch::new_empty(schema)
}

/// One value of a result row, engine-neutral.
#[derive(Debug, Clone)]
pub enum Val {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

impl Val {
    fn number(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Equal, with floats equal within 1e-9 relative (NaN equals NaN; an infinity equals only
    /// itself: the relative bound is infinite next to one).
    pub fn same(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::Null, Val::Null) => true,
            (Val::Int(a), Val::Int(b)) => a == b,
            (Val::Str(a), Val::Str(b)) => a == b,
            (Val::Bool(a), Val::Bool(b)) => a == b,
            _ => match (self.number(), other.number()) {
                (Some(a), Some(b)) => {
                    (a.is_nan() && b.is_nan())
                        || a == b
                        || (a.is_finite()
                            && b.is_finite()
                            && (a - b).abs() <= 1e-9 * a.abs().max(b.abs()))
                }
                _ => false,
            },
        }
    }

    /// A sort key that puts equal values next to each other (floats rounded for the key only).
    pub fn sort_key(&self) -> String {
        match self {
            Val::Null => "0".into(),
            Val::Bool(b) => format!("1{b}"),
            Val::Str(s) => format!("3{s}"),
            other => {
                let n = other.number().unwrap();
                if n.is_nan() {
                    "2nan".into()
                } else {
                    format!("2{n:+.6e}")
                }
            }
        }
    }

    pub fn from_json(v: &serde_json::Value) -> Val {
        use serde_json::Value as J;
        match v {
            J::Null => Val::Null,
            J::Bool(b) => Val::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Float(n.as_f64().unwrap()),
            },
            J::String(s) => Val::Str(s.clone()),
            J::Object(o) => match o.get("float").and_then(|f| f.as_str()) {
                Some("nan") => Val::Float(f64::NAN),
                Some("inf") => Val::Float(f64::INFINITY),
                Some("-inf") => Val::Float(f64::NEG_INFINITY),
                _ => Val::Str(format!("{v}")),
            },
            J::Array(_) => Val::Str(format!("{v}")),
        }
    }
}

/// A frontier result as rows of [`Val`].
pub fn batch_rows(batch: &RecordBatch) -> Vec<Vec<Val>> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
    (0..batch.num_rows())
        .map(|row| {
            batch
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(row) {
                        return Val::Null;
                    }
                    match c.data_type() {
                        DataType::Int64 => Val::Int(c.as_primitive::<Int64Type>().value(row)),
                        DataType::Float64 => Val::Float(c.as_primitive::<Float64Type>().value(row)),
                        DataType::Utf8 => Val::Str(c.as_string::<i32>().value(row).to_string()),
                        DataType::Boolean => Val::Bool(c.as_boolean().value(row)),
                        DataType::Timestamp(TimeUnit::Microsecond, _) => {
                            Val::Int(c.as_primitive::<TimestampMicrosecondType>().value(row))
                        }
                        other => panic!("unexpected result type {other}"),
                    }
                })
                .collect()
        })
        .collect()
}

/// The outcome of one query in DuckDB.
pub enum DuckResult {
    Rows(Vec<Vec<Val>>),
    Error(String),
}

/// Fail loudly (never skip) when DuckDB's Python package is missing or too old: the golden
/// file follows DuckDB 2.x semantics (e.g. `1 / 0` is inf, not NULL as in 1.x).
pub fn require_duckdb() {
    let check = "import duckdb, sys; major = int(duckdb.__version__.split('.')[0]); \
                 sys.exit(0 if major >= 2 else 'DuckDB ' + duckdb.__version__ + ' is too old: pip install -U duckdb')";
    let out = Command::new("python3")
        .args(["-c", check])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "python3 is needed for the DuckDB differential tests ({e}); then pip install duckdb"
            )
        });
    assert!(
        out.status.success(),
        "DuckDB's Python package (2.x) is missing; the differential tests need it: pip install duckdb\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run all queries in one DuckDB session over the Parquet files in `dir`.
pub fn run_duckdb(dir: &Path, tables: &[String], queries: &[String]) -> Vec<DuckResult> {
    crate::results::duckdb_json(dir, tables, queries)
        .iter()
        .map(|r| match r.get("error") {
            Some(e) => DuckResult::Error(e.as_str().unwrap_or_default().to_string()),
            None => DuckResult::Rows(
                r["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|row| row.as_array().unwrap().iter().map(Val::from_json).collect())
                    .collect(),
            ),
        })
        .collect()
}

/// One entry of the golden query file.
#[derive(Debug)]
pub struct Case {
    pub name: String,
    /// What frontier runs.
    pub sql: String,
    /// What DuckDB runs (the same SQL unless the file gives a `-- duckdb:` formulation).
    pub duckdb_sql: String,
    /// `-- error: text`: both engines must fail, frontier's message must contain the text.
    pub expect_error: Option<String>,
}

/// Parse `differential.sql`: entries start with `-- name: ...`; an optional `-- duckdb:` line
/// starts DuckDB's formulation; `-- error: ...` marks queries both engines must reject. Other
/// comment lines are dropped.
pub fn load_cases() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common_query/differential.sql");
    let text = std::fs::read_to_string(path).unwrap();
    let mut cases = Vec::new();
    let mut current: Option<(String, String, Option<String>, Option<String>)> = None;
    let finish = |c: Option<(String, String, Option<String>, Option<String>)>,
                  out: &mut Vec<Case>| {
        if let Some((name, sql, duck, err)) = c {
            let clean = |s: &str| s.trim().trim_end_matches(';').trim().to_string();
            let sql = clean(&sql);
            let duckdb_sql = duck.map(|d| clean(&d)).unwrap_or_else(|| sql.clone());
            out.push(Case {
                name,
                sql,
                duckdb_sql,
                expect_error: err,
            });
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("-- name:") {
            finish(current.take(), &mut cases);
            current = Some((name.trim().to_string(), String::new(), None, None));
        } else if trimmed.starts_with("-- duckdb:") {
            if let Some(c) = current.as_mut() {
                c.2 = Some(String::new());
            }
        } else if let Some(err) = trimmed.strip_prefix("-- error:") {
            if let Some(c) = current.as_mut() {
                c.3 = Some(err.trim().to_string());
            }
        } else if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        } else if let Some(c) = current.as_mut() {
            let target = match c.2.as_mut() {
                Some(duck) => duck,
                None => &mut c.1,
            };
            target.push_str(line);
            target.push('\n');
        }
    }
    finish(current.take(), &mut cases);
    cases
}
