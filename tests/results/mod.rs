//! Running `frontier run` and reading the run's Parquet files back in the integration tests
//! (with the `parquet` crate, as any Arrow reader would): `mod results;` in a test file. Each
//! test file uses some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};

/// A fresh folder under the system's temp dir, named after the test file, `name`, the
/// process and the time.
pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = std::env::temp_dir().join(format!(
        "frontier-{}-{name}-{}-{nanos}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run `queries` in one DuckDB session over the Parquet files `tables` in `dir`
/// (tests/common_query/run_duckdb.py, with the project's .venv when there is one): per query
/// its JSON result, `{"rows": [[...], ...]}` or `{"error": "..."}`.
pub fn duckdb_json<T: serde::Serialize>(
    dir: &Path,
    tables: &[T],
    queries: &[String],
) -> Vec<serde_json::Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/common_query/run_duckdb.py");
    let venv = root.join(".venv/bin/python3");
    let python = if venv.exists() {
        venv.to_string_lossy().into_owned()
    } else {
        "python3".to_string()
    };
    let request = serde_json::json!({
        "dir": dir.to_string_lossy(),
        "tables": tables,
        "queries": queries,
    });
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (pip install duckdb)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(request.to_string().as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "DuckDB helper failed (pip install duckdb?): {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).expect("helper prints JSON")
}

/// The run folder `frontier run` printed (`results in DIR:`).
pub fn run_dir_of(stdout: &str) -> Option<PathBuf> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("results in ")?.strip_suffix(':'))
        .map(PathBuf::from)
}

/// `frontier run FILE --out OUT`, which must succeed; the run folder.
pub fn run_ok(file: &Path, out: &Path) -> PathBuf {
    let o = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .output()
        .expect("frontier runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{}: {stdout}\n{stderr}", file.display());
    run_dir_of(&stdout).unwrap_or_else(|| panic!("no results line:\n{stdout}"))
}

/// The whole file as one batch.
pub fn read(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let batches: Vec<RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
    let schema = batches.first().map(|b| b.schema()).unwrap();
    arrow_select::concat::concat_batches(&schema, &batches).unwrap()
}

fn column<'b>(b: &'b RecordBatch, name: &str) -> &'b arrow_array::ArrayRef {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

/// A Utf8 column.
pub fn strings(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let a = column(b, name).as_string::<i32>();
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
        .collect()
}

/// Any numeric (or boolean) column, cast to f64.
pub fn floats(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let c = arrow_cast::cast::cast(column(b, name), &arrow_schema::DataType::Float64).unwrap();
    let a = c.as_primitive::<Float64Type>();
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i)))
        .collect()
}

/// An Int64 column.
pub fn ints(b: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let a = column(b, name).as_primitive::<Int64Type>();
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i)))
        .collect()
}

/// A List(Int64) column (per-chunk series), one vector per row.
#[allow(dead_code)]
pub fn int_lists(b: &RecordBatch, name: &str) -> Vec<Vec<i64>> {
    let a = column(b, name).as_list::<i32>();
    (0..a.len())
        .map(|i| {
            let v = a.value(i);
            v.as_primitive::<Int64Type>().values().to_vec()
        })
        .collect()
}

/// A Boolean column.
pub fn bools(b: &RecordBatch, name: &str) -> Vec<Option<bool>> {
    let a = column(b, name).as_boolean();
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i)))
        .collect()
}
