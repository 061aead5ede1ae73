//! End to end: the `frontier` binary runs pipelines on the built-in simulated engine (real HTTP
//! on loopback), writes Parquet, and DuckDB (the Python package) reads every file back and
//! recomputes the summaries from the raw rows.

mod results;

use std::path::{Path, PathBuf};
use std::process::Command;

use results::{floats, read, temp_dir};

use arrow_array::Array;
use arrow_array::cast::AsArray;

/// `frontier run ... | head`: the reader goes away before the run prints anything. The run
/// still finishes and writes every file; only its lines are lost.
#[test]
fn a_closed_stdout_does_not_stop_the_run() {
    let out = temp_dir("closed-stdout");
    let mut child = Command::new(bin())
        .args([
            "run",
            "pipelines/quickstart.yaml",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("frontier runs");
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let runs: Vec<PathBuf> = std::fs::read_dir(out.join("quickstart"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runs[0].join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["status"], "completed", "{m}");
    assert_eq!(read(&runs[0].join("configs.parquet")).num_rows(), 6);
    assert!(runs[0].join("frontier.parquet").exists());
    let _ = std::fs::remove_dir_all(&out);
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_frontier")
}

/// Run `frontier run` and return (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("frontier runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The run folder and `file -> rows` as printed at the end of the run.
fn printed_files(stdout: &str) -> (PathBuf, Vec<(PathBuf, u64)>) {
    let dir = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("results in ")
                .and_then(|r| r.strip_suffix(':'))
        })
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no results line in:\n{stdout}"));
    let files = stdout
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let (path, rest) = l.split_once("  (")?;
            let rows = rest
                .strip_suffix(" rows)")
                .or_else(|| rest.strip_suffix(" row)"))?
                .parse()
                .ok()?;
            Some((PathBuf::from(path), rows))
        })
        .collect();
    (dir, files)
}

fn python_duckdb(script: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'duckdb'") {
        panic!(
            "the DuckDB Python package is missing: run `pip install duckdb` (.ci/run installs it)"
        );
    }
    assert!(out.status.success(), "python failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn quickstart_end_to_end_with_duckdb_readback() {
    let out = temp_dir("quickstart");
    let (code, stdout, stderr) = run(&[
        "run",
        "pipelines/quickstart.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let (run_dir, files) = printed_files(&stdout);
    assert!(
        run_dir.starts_with(out.join("quickstart")),
        "{}",
        run_dir.display()
    );
    for name in [
        "requests.parquet",
        "cases.parquet",
        "scores.parquet",
        "configs.parquet",
        "frontier.parquet",
        "manifest.json",
    ] {
        assert!(
            run_dir.join(name).is_file(),
            "{name} missing in {}",
            run_dir.display()
        );
    }
    let rows = |name: &str| {
        files
            .iter()
            .find(|(p, _)| p.ends_with(name))
            .map(|(_, r)| *r)
            .unwrap_or_else(|| panic!("{name} not printed"))
    };

    // One row per request sent: 6 trials x (4 warm-up + 40 measured) cases x 1 step.
    let requests = read(&run_dir.join("requests.parquet"));
    assert_eq!(requests.num_rows(), 264);
    assert_eq!(rows("requests.parquet"), 264);
    assert!(stdout.contains("264 requests, 0 failed"), "{stdout}");
    let configs = read(&run_dir.join("configs.parquet"));
    assert_eq!(configs.num_rows(), 6);

    // The frontier: non-empty, and no row on it is dominated by another row.
    let frontier = read(&run_dir.join("frontier.parquet"));
    let on = frontier
        .column_by_name("on_frontier")
        .unwrap()
        .as_boolean()
        .clone();
    let ttft = floats(&frontier, "ttft_p95_ms");
    let cost = floats(&frontier, "cost_per_1k_requests_usd");
    let acc = floats(&frontier, "accuracy");
    let n = frontier.num_rows();
    assert!(n > 0 && (0..n).any(|i| on.value(i)), "empty frontier");
    let dominates = |a: usize, b: usize| {
        let (ta, tb, ca, cb, aa, ab) = (
            ttft[a].unwrap(),
            ttft[b].unwrap(),
            cost[a].unwrap(),
            cost[b].unwrap(),
            acc[a].unwrap(),
            acc[b].unwrap(),
        );
        ta <= tb && ca <= cb && aa >= ab && (ta < tb || ca < cb || aa > ab)
    };
    for i in (0..n).filter(|i| on.value(*i)) {
        for j in 0..n {
            assert!(!dominates(j, i), "frontier row {i} is dominated by row {j}");
        }
    }
    // Every dominated row is dominated by someone.
    for i in (0..n).filter(|i| !on.value(*i)) {
        assert!(
            (0..n).any(|j| dominates(j, i)),
            "row {i} is off the frontier but undominated"
        );
    }
    // Accuracy differs across profiles: the large model beats the small one at temperature 0.
    let endpoints = configs
        .column_by_name("endpoint")
        .unwrap()
        .as_string::<i32>()
        .clone();
    let temps = floats(&configs, "grid_temperature");
    let accs = floats(&configs, "accuracy");
    let acc_of = |ep: &str, t: f64| {
        (0..6)
            .find(|i| endpoints.value(*i) == ep && temps[*i] == Some(t))
            .and_then(|i| accs[i])
            .unwrap()
    };
    assert!(
        acc_of("large", 0.0) > acc_of("small", 0.0),
        "large {} small {}",
        acc_of("large", 0.0),
        acc_of("small", 0.0)
    );

    // DuckDB reads every file as is; its row counts and recomputed metrics match frontier's.
    let d = run_dir.display();
    let script = format!(
        r#"
import duckdb, json
d = "{d}"
con = duckdb.connect()
for t in ["requests", "cases", "scores", "configs", "frontier"]:
    con.execute(f"CREATE VIEW {{t}} AS SELECT * FROM read_parquet('{{d}}/{{t}}.parquet')")
out = {{}}
out["counts"] = {{t: con.execute(f"SELECT count(*) FROM {{t}}").fetchone()[0] for t in ["requests", "cases", "scores", "configs", "frontier"]}}
out["types"] = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE requests)").fetchall())
out["check"] = con.execute('''
  WITH r AS (
    SELECT trial_id,
           count(*) AS n,
           quantile_cont(ttft_ms, 0.5) FILTER (WHERE ok) AS ttft_p50,
           quantile_cont(ttft_ms, 0.95) FILTER (WHERE ok) AS ttft_p95,
           quantile_cont(e2e_ms, 0.99) FILTER (WHERE ok) AS e2e_p99,
           sum(completion_tokens) AS out_tok
    FROM requests WHERE phase = 'measure' GROUP BY trial_id),
  s AS (SELECT trial_id, avg(score) AS acc, count(*) AS scored FROM scores WHERE scorer = 'exact' AND status = 'scored' GROUP BY trial_id)
  SELECT c.trial_id,
         max(abs(c.ttft_p50_ms - r.ttft_p50)), max(abs(c.ttft_p95_ms - r.ttft_p95)), max(abs(c.e2e_p99_ms - r.e2e_p99)),
         max(abs(c.accuracy - s.acc)), sum(c.requests - r.n), sum(c.output_tokens - r.out_tok), sum(c.scored - s.scored)
  FROM configs c JOIN r USING (trial_id) JOIN s USING (trial_id) GROUP BY c.trial_id
''').fetchall()
out["warmup"] = con.execute("SELECT count(*) FROM requests WHERE phase = 'warmup'").fetchone()[0]
# Per-chunk arrival times and token counts: one per token chunk, bracketed by the first and
# last token times; the longest gap between them, recomputed here, is icl_max_ms.
out["chunks"] = con.execute('''
  WITH u AS (SELECT trial_id, case_index, unnest(token_chunk_ns) AS t,
                    generate_subscripts(token_chunk_ns, 1) AS i FROM requests),
  g AS (SELECT trial_id, case_index, t - lag(t) OVER (PARTITION BY trial_id, case_index ORDER BY i) AS gap FROM u),
  m AS (SELECT trial_id, case_index, max(gap) AS mx FROM g GROUP BY ALL)
  SELECT (SELECT count(*) FROM requests WHERE len(token_chunk_ns) != token_chunk_count
                                           OR len(token_chunk_tokens) != token_chunk_count),
         (SELECT count(*) FROM requests WHERE token_chunk_count > 0
              AND (token_chunk_ns[1] != first_token_ns OR token_chunk_ns[-1] != last_token_ns)),
         (SELECT count(*) FROM requests WHERE list_sum(token_chunk_tokens) != token_chunk_count),
         (SELECT count(*) FROM m WHERE mx IS NOT NULL),
         (SELECT max(abs(r.icl_max_ms - m.mx / 1e6)) FROM m JOIN requests r USING (trial_id, case_index)),
         (SELECT count(*) FROM requests WHERE token_chunk_count > 1)
''').fetchone()
out["meta"] = con.execute(f"SELECT value FROM parquet_kv_metadata('{{d}}/requests.parquet') WHERE key = 'frontier.schema_version'").fetchone()[0].decode()
print(json.dumps(out, default=str))
"#
    );
    let v: serde_json::Value = serde_json::from_str(python_duckdb(&script).trim()).unwrap();
    for (t, file) in [
        ("requests", "requests.parquet"),
        ("cases", "cases.parquet"),
        ("scores", "scores.parquet"),
        ("configs", "configs.parquet"),
        ("frontier", "frontier.parquet"),
    ] {
        assert_eq!(
            v["counts"][t].as_u64(),
            Some(rows(file)),
            "{t}: DuckDB vs printed"
        );
    }
    assert_eq!(
        v["counts"]["scores"].as_u64(),
        Some(6 * 40 * 4),
        "6 trials x 40 measured cases x 4 scorers"
    );
    assert_eq!(v["warmup"].as_u64(), Some(24));
    assert_eq!(v["meta"], "1");
    assert_eq!(v["types"]["sent_at"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(v["types"]["ttft_ms"], "DOUBLE");
    assert_eq!(v["types"]["token_chunk_ns"], "BIGINT[]");
    assert_eq!(v["types"]["token_chunk_tokens"], "BIGINT[]");
    let chunks = &v["chunks"];
    assert_eq!(chunks[0], 0, "list lengths = token_chunk_count");
    assert_eq!(chunks[1], 0, "first/last = first_token_ns/last_token_ns");
    // The simulated engine streams one token per chunk here (no continuous usage asked).
    assert_eq!(chunks[2], 0, "one token per chunk");
    assert!(
        chunks[3].as_u64().unwrap() > 0,
        "requests with gaps: {chunks}"
    );
    assert_eq!(
        chunks[3], chunks[5],
        "a gap for every request of several chunks"
    );
    assert!(
        chunks[4].as_f64().unwrap() < 1e-9,
        "icl_max_ms recomputed: {chunks}"
    );
    assert_eq!(v["types"]["completion_tokens"], "BIGINT");
    let checks = v["check"].as_array().unwrap();
    assert_eq!(checks.len(), 6);
    for row in checks {
        let r = row.as_array().unwrap();
        for (i, what) in [
            (1, "ttft p50"),
            (2, "ttft p95"),
            (3, "e2e p99"),
            (4, "accuracy"),
        ] {
            assert!(
                r[i].as_f64().unwrap() < 1e-9,
                "{what} differs from DuckDB for {}: {row}",
                r[0]
            );
        }
        for (i, what) in [
            (5, "request count"),
            (6, "output tokens"),
            (7, "scored count"),
        ] {
            assert_eq!(
                r[i].as_i64(),
                Some(0),
                "{what} differs from DuckDB for {}: {row}",
                r[0]
            );
        }
    }

    // The manifest records the resolved pipeline, seed and status.
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["status"], "completed");
    assert_eq!(m["seed"], 7);
    assert_eq!(m["requests"], 264);
    assert_eq!(m["resolved_pipeline"]["name"], "quickstart");
    assert_eq!(m["trials"].as_array().unwrap().len(), 6);
    // The cases the run used: qa-mini's 40 rows, and their digest (pinned: it changes only
    // when the dataset file, its mapping or the digest's definition does).
    assert_eq!(
        m["datasets"],
        serde_json::json!({"qa": {"rows": 40, "digest": "3856fd07944e184e"}})
    );
    let expected_pacer = if cfg!(target_os = "linux") {
        "timer"
    } else {
        "thread"
    };
    if std::env::var_os("FRONTIER_PACER").is_none() {
        assert_eq!(m["pacer"], expected_pacer);
    }
    assert!(m["http_client"] == "own" || m["http_client"] == "reqwest");

    // `frontier query` runs SQL over the finished run.
    let (code, q, e) = run(&[
        "query",
        run_dir.to_str().unwrap(),
        "SELECT count(*) AS n FROM requests WHERE phase = 'measure'",
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 0, "{e}");
    assert_eq!(q.trim(), r#"{"n":240}"#);
    let (code, _, e) = run(&[
        "query",
        run_dir.to_str().unwrap(),
        "SELECT * FROM requests r WHERE r.trial_id IN (SELECT trial_id FROM configs)",
    ]);
    assert_eq!(code, 2);
    assert!(e.contains("duckdb"), "{e}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn query_refuses_a_folder_that_is_not_a_run_and_names_the_latest_run() {
    let out = temp_dir("query-run-dir");
    let pipeline = out.join("p");
    for id in ["20260101T000000Z-aaaa", "20260102T000000Z-bbbb"] {
        std::fs::create_dir_all(pipeline.join(id)).unwrap();
        std::fs::write(pipeline.join(id).join("manifest.json"), "{}").unwrap();
    }
    let latest = pipeline.join("20260102T000000Z-bbbb");
    // The output folder and a pipeline's folder are not runs (their tables would be empty).
    for dir in [&out, &pipeline] {
        let (code, _, e) = run(&["query", dir.to_str().unwrap(), "SELECT 1 AS one"]);
        assert_eq!(code, 2, "{e}");
        assert!(e.contains("is not a run folder; it holds 2 runs"), "{e}");
        assert!(e.contains(&latest.display().to_string()), "{e}");
    }
    let missing = pipeline.join("20260103T000000Z-cccc");
    let (code, _, e) = run(&["query", missing.to_str().unwrap(), "SELECT 1 AS one"]);
    assert_eq!(code, 2, "{e}");
    // A mistyped run id: the pipeline's folder names its latest run.
    assert!(e.contains("does not exist; "), "{e}");
    assert!(e.contains(&latest.display().to_string()), "{e}");
    let empty = out.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, e) = run(&["query", empty.to_str().unwrap(), "SELECT 1 AS one"]);
    assert_eq!(code, 2, "{e}");
    assert!(e.contains("holds no manifest.json"), "{e}");
    // A run folder is queried.
    let (code, q, e) = run(&["query", latest.to_str().unwrap(), "SELECT 1 AS one"]);
    assert_eq!(code, 0, "{e}");
    assert!(q.contains("(1 row)"), "{q}");
    // Its help names every table a run writes.
    let (code, help, _) = run(&["query", "--help"]);
    assert_eq!(code, 0);
    for table in [
        "requests",
        "cases",
        "scores",
        "judgements",
        "score_stats",
        "configs",
    ] {
        assert!(help.contains(table), "{table}: {help}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

fn write_pipeline(dir: &Path, body: &str) -> PathBuf {
    let root = std::env::current_dir().unwrap();
    let text = body.replace(
        "DATASET",
        &root.join("datasets/qa-mini.jsonl").display().to_string(),
    );
    let p = dir.join("p.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn every_request_failing_exits_1_with_error_rows() {
    let out = temp_dir("unreachable");
    // A loopback port that nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = write_pipeline(
        &out,
        &format!(
            r#"
version: 1
name: unreachable
endpoints:
  down: {{ kind: openai, base_url: "http://127.0.0.1:{port}/v1", model: m }}
datasets:
  qa: {{ path: DATASET, input: question, reference: answers, limit: 5 }}
workload: {{ arrival: {{ concurrency: 2 }} }}
flow:
  - id: answer
    llm: {{ endpoint: down, prompt: "{{{{ item.question }}}}" }}
evaluators: [ {{ exact: {{}} }} ]
"#
        ),
    );
    let (code, stdout, stderr) = run(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("every request failed"), "{stderr}");
    // The trial's error line says what a refused connection means.
    assert!(
        stdout.contains(
            "nothing listens there: is the server running, and is the endpoint's base_url right?"
        ),
        "{stdout}"
    );
    // No latency and no score: the trial line says n/a, not a number or a bare dash.
    assert!(
        stdout.contains(": 5 requests, 5 errors, ttft p95 n/a, e2e p95 n/a, accuracy n/a"),
        "{stdout}"
    );
    let (run_dir, _) = printed_files(&stdout);
    let requests = read(&run_dir.join("requests.parquet"));
    assert_eq!(requests.num_rows(), 5);
    let kinds = requests
        .column_by_name("error_kind")
        .unwrap()
        .as_string::<i32>()
        .clone();
    assert!((0..5).all(|i| kinds.value(i) == "connect"));
    assert!(floats(&requests, "ttft_ms").iter().all(Option::is_none));
    let scores = read(&run_dir.join("scores.parquet"));
    let status = scores
        .column_by_name("status")
        .unwrap()
        .as_string::<i32>()
        .clone();
    assert!((0..scores.num_rows()).all(|i| status.value(i) == "error"));
    let configs = read(&run_dir.join("configs.parquet"));
    assert_eq!(floats(&configs, "error_rate"), vec![Some(1.0)]);
    assert_eq!(
        floats(&configs, "accuracy"),
        vec![None],
        "no scored case: accuracy is null, not 0"
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["status"], "failed");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn injected_server_errors_are_rows_and_open_loop_records_queueing() {
    let out = temp_dir("faults");
    let p = write_pipeline(
        &out,
        r#"
version: 1
name: faults
endpoints:
  flaky:
    kind: simulated
    profile: { slots: 1, decode_ms: 5, decode_ms_per_seq: 0, prefill_tok_s: 100000, error_rate: 0.3, seed: 3 }
    pricing: { input_per_mtok: 1.0, output_per_mtok: 2.0 }
datasets:
  qa: { path: DATASET, input: question, reference: answers, limit: 20 }
workload:
  arrival: { constant: { rate: 400, max_concurrency: 2 } }
  requests: 40
flow:
  - id: answer
    llm: { endpoint: flaky, prompt: "{{ item.question }}", params: { max_tokens: 8 } }
evaluators: [ { exact: {} } ]
"#,
    );
    let (code, stdout, stderr) = run(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let (run_dir, _) = printed_files(&stdout);
    let requests = read(&run_dir.join("requests.parquet"));
    assert_eq!(requests.num_rows(), 40);
    let kinds = requests
        .column_by_name("error_kind")
        .unwrap()
        .as_string::<i32>()
        .clone();
    let status = floats(&requests, "http_status");
    let errors: Vec<usize> = (0..40).filter(|i| !kinds.is_null(*i)).collect();
    assert!(
        !errors.is_empty() && errors.len() < 40,
        "{} errors",
        errors.len()
    );
    for i in &errors {
        assert_eq!(kinds.value(*i), "http_status");
        assert_eq!(status[*i], Some(500.0));
    }
    // The trial's summary says why its calls failed: count, kind and the first message.
    let n = errors.len();
    assert!(
        stdout.contains(&format!(
            ": 40 requests, {n} errors, ttft p95 "
        )) && stdout.contains(&format!(
            "\n  {n} http_status: 500 Internal Server Error: Injected fault (simulated engine error_rate).\n"
        )),
        "{stdout}"
    );
    // 400/s offered to a server that serves one request at a time with a cap of 2 in flight:
    // the cap wait shows up as queue_ms.
    let queue = floats(&requests, "queue_ms");
    let max_queue = queue.iter().flatten().fold(0.0f64, |a, b| a.max(*b));
    assert!(max_queue > 20.0, "max queue_ms {max_queue}");
    // Token-priced cost per successful request.
    let cost = floats(&requests, "cost_usd");
    assert!(
        (0..40)
            .filter(|i| kinds.is_null(*i))
            .all(|i| cost[i].is_some_and(|c| c > 0.0))
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn synthetic_prompts_have_the_requested_token_lengths() {
    let pipeline = "examples/synthetic-prefix.yaml";
    let out = temp_dir("synthetic");
    let (code, stdout, stderr) = run(&["run", pipeline, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let (run_dir, _) = printed_files(&stdout);

    // The lengths each row asked for, from the same plan the run built (same seed).
    let loaded = frontier::spec::load::load(Path::new(pipeline), &[]).unwrap();
    let plan = frontier::plan::build(&loaded).unwrap();
    let expected: std::collections::HashMap<String, (u64, u64, u64)> = plan
        .dataset
        .rows
        .iter()
        .map(|r| {
            let n = |k: &str| r.item[k].as_u64().unwrap();
            (
                r.id.clone(),
                (n("prefix_tokens"), n("input_tokens"), n("output_tokens")),
            )
        })
        .collect();
    assert_eq!(expected.len(), 48);

    let script = format!(
        "import duckdb, json\n\
         rows = duckdb.sql(\"SELECT case_id, prompt_tokens, completion_tokens, finish_reason, ok \
         FROM read_parquet('{}') ORDER BY case_index\").fetchall()\n\
         print(json.dumps(rows))",
        run_dir.join("requests.parquet").display()
    );
    let rows: Vec<(String, i64, i64, String, bool)> =
        serde_json::from_str(python_duckdb(&script).trim()).unwrap();
    assert_eq!(rows.len(), 96);
    for (case_id, prompt, completion, finish, ok) in rows {
        assert!(ok, "{case_id}");
        let (prefix, input, output) = expected[&case_id];
        // The engine joins chat messages with `\n` and counts ceil(bytes / 4): the synthetic
        // text is built so that system prompt + `\n` + input is exactly prefix + input tokens.
        assert_eq!(prompt as u64, prefix + input, "prompt tokens of {case_id}");
        assert_eq!(completion as u64, output, "completion tokens of {case_id}");
        assert_eq!(finish, "length");
    }
}

#[test]
fn simulated_endpoints_never_go_through_a_proxy_from_the_environment() {
    // With `http_proxy` set, `openai` endpoints go through it (reqwest), but a simulated
    // endpoint is frontier's own engine on loopback: sent through a proxy it failed every
    // request (`connect`), so the quick start broke on machines with a proxy configured.
    let out = temp_dir("proxy");
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let proxied = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = proxied.clone();
    std::thread::spawn(move || {
        // Accepts and closes: every request sent through it fails.
        for conn in proxy.incoming() {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(conn);
        }
    });
    let p = write_pipeline(
        &out,
        r#"
version: 1
name: proxied
endpoints:
  sim: { kind: simulated, profile: { decode_ms: 0, prefill_tok_s: 0 } }
  remote: { kind: openai, base_url: "http://192.0.2.1:8000/v1", model: m }
datasets:
  qa: { path: DATASET, input: question, reference: answers, limit: 3 }
workload: { arrival: { concurrency: 1 }, timeout: 10s }
flow:
  - id: answer
    llm: { endpoint: "{{ grid.endpoint }}", prompt: "{{ item.question }}", params: { max_tokens: 8 } }
grid:
  product: { endpoint: [sim, remote] }
"#,
    );
    let o = Command::new(bin())
        .args(["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env("http_proxy", &proxy_url)
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let (run_dir, _) = printed_files(&stdout);
    let requests = read(&run_dir.join("requests.parquet"));
    let endpoint = requests
        .column_by_name("endpoint")
        .unwrap()
        .as_string::<i32>()
        .clone();
    let ok = requests.column_by_name("ok").unwrap().as_boolean().clone();
    for i in 0..requests.num_rows() {
        assert_eq!(
            ok.value(i),
            endpoint.value(i) == "sim",
            "row {i}: the simulated endpoint answers directly, the remote one only via the proxy"
        );
    }
    // The remote endpoint's requests did go to the proxy (its address is unroutable).
    assert!(proxied.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_named_query_failing_on_the_results_fails_the_run_and_finishes_the_manifest() {
    // `%` by zero passes `validate` (the queries are checked against empty tables) and fails
    // on the results: the run exits 1 (it failed, the pipeline was valid), the other queries
    // are written, and the manifest says `failed` with the message (it stayed `running`).
    let out = temp_dir("query-fails");
    let p = write_pipeline(
        &out,
        r#"
version: 1
name: query_fails
endpoints:
  sim: { kind: simulated, profile: { decode_ms: 0, prefill_tok_s: 0 } }
datasets:
  qa: { path: DATASET, input: question, reference: answers, limit: 3 }
workload: { arrival: { concurrency: 1 } }
flow:
  - id: answer
    llm: { endpoint: sim, prompt: "{{ item.question }}", params: { max_tokens: 8 } }
query:
  broken: { sql: "SELECT requests % 0 AS x FROM configs" }
  fine: { sql: "SELECT requests FROM configs" }
"#,
    );
    let (code, stdout, stderr) = run(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let (code, stdout, stderr) = run(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("named query `broken`") && stderr.contains("division by zero"),
        "{stderr}"
    );
    let run_dir = std::fs::read_dir(out.join("query_fails"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(run_dir.join("fine.parquet").exists());
    assert!(!run_dir.join("broken.parquet").exists());
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["status"], "failed");
    assert!(
        m["error"].as_str().unwrap().contains("division by zero"),
        "{m}"
    );
    assert!(m["ended_at"].is_string());
    let _ = std::fs::remove_dir_all(&out);
}

/// A missing API key stops `run` before it creates anything: no `<out>/<pipeline>/<run_id>/`
/// folder is left behind without a manifest.
#[test]
fn an_unset_api_key_stops_the_run_before_the_run_folder_is_created() {
    let dir = temp_dir("unset-key");
    let p = write_pipeline(
        &dir,
        r#"
version: 1
name: needs-key
endpoints:
  hosted: { kind: openai, base_url: "http://127.0.0.1:9/v1", model: m, api_key_env: FRONTIER_E2E_UNSET_KEY }
datasets:
  qa: { path: DATASET, input: question, reference: answers, limit: 2 }
workload: { arrival: { concurrency: 1 } }
flow:
  - id: answer
    llm: { endpoint: hosted, prompt: "{{ item.question }}" }
evaluators: [ { exact: {} } ]
"#,
    );
    let out = dir.join("results");
    let o = Command::new(bin())
        .args(["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env_remove("FRONTIER_E2E_UNSET_KEY")
        .output()
        .expect("frontier runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "error: endpoint `hosted` reads its API key from the environment variable `FRONTIER_E2E_UNSET_KEY` (endpoints.hosted.api_key_env), which is not set"
        ),
        "{stderr}"
    );
    // Said once, as the run's error (not also as a validation warning).
    assert_eq!(
        stderr.matches("FRONTIER_E2E_UNSET_KEY`").count(),
        1,
        "{stderr}"
    );
    assert!(
        !out.exists(),
        "{} was created: {:?}",
        out.display(),
        std::fs::read_dir(&out).map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
    );
    let _ = std::fs::remove_dir_all(&dir);
}
