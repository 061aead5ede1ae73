//! Running Python reference implementations (DuckDB, sacrebleu, rouge-score, jsonschema) from
//! the integration tests: `mod python;` in a test file.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Run the Python `script` (which imports `module`) with `input` as JSON on stdin; its stdout
/// parsed as JSON. A missing package fails with the command that installs it.
pub fn python(module: &str, script: &str, input: &Value) -> Value {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains(&format!("No module named '{module}'")),
        "the Python package `{module}` is missing: run `python3 -m pip install duckdb==2.0.1 sacrebleu==2.5.1 rouge-score==0.1.2 jsonschema==4.26.0` (.ci/run installs them)"
    );
    assert!(out.status.success(), "python failed: {stderr}");
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}
