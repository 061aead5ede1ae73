//! Load generation end to end: the `frontier` binary drives the simulated engine (real HTTP on
//! loopback) with capped open loops, stages, phases and error stops, and the Parquet rows
//! show what happened: cap waits, schedule lag, stages, phases and stop reasons.

mod results;

use std::path::PathBuf;
use std::process::Command;

use results::{floats, int_lists, ints, read, run_dir_of, run_ok, strings, temp_dir};

use arrow_array::Array;
use arrow_array::cast::AsArray;

/// Write the pipeline (DATASET becomes the shipped QA file), run it, return (exit code,
/// stdout, stderr, run folder).
fn run_pipeline(name: &str, body: &str) -> (i32, String, String, PathBuf, PathBuf) {
    run_pipeline_env(name, body, &[])
}

/// [`run_pipeline`] with extra environment variables for `frontier`.
fn run_pipeline_env(
    name: &str,
    body: &str,
    env: &[(&str, &str)],
) -> (i32, String, String, PathBuf, PathBuf) {
    let out = temp_dir(name);
    let root = std::env::current_dir().unwrap();
    let text = body.replace(
        "DATASET",
        &root.join("datasets/qa-mini.jsonl").display().to_string(),
    );
    let p = out.join("p.yaml");
    std::fs::write(&p, text).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .envs(env.iter().copied())
        .output()
        .expect("frontier runs");
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let run_dir =
        run_dir_of(&stdout).unwrap_or_else(|| panic!("no results line in:\n{stdout}\n{stderr}"));
    (o.status.code().unwrap_or(-1), stdout, stderr, run_dir, out)
}

#[test]
fn a_concurrency_cap_shows_up_as_cap_wait_and_queue_in_every_row() {
    // 200/s offered to an engine that serves one sequence at a time (~30 ms each), with at
    // most 2 in flight: cases pile up behind the cap.
    let (code, stdout, stderr, run_dir, out) = run_pipeline(
        "cap",
        r#"
version: 1
name: cap
endpoints:
  slow:
    kind: simulated
    profile: { slots: 1, decode_ms: 5, decode_ms_per_seq: 0, prefill_tok_s: 0, default_output_tokens: 6 }
datasets:
  qa: { path: DATASET, input: question }
workload:
  arrival: { constant: { rate: 200, max_concurrency: 2 } }
  requests: 30
flow:
  - id: answer
    llm: { endpoint: slow, prompt: "{{ item.question }}", params: { max_tokens: 6 } }
"#,
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let r = read(&run_dir.join("requests.parquet"));
    assert_eq!(r.num_rows(), 30);
    let lag = floats(&r, "schedule_lag_ms");
    let cap = floats(&r, "cap_wait_ms");
    let queue = floats(&r, "queue_ms");
    let e2e = floats(&r, "e2e_ms");
    let e2e_i = floats(&r, "e2e_from_intended_ms");
    for i in 0..30 {
        let (l, c, q) = (lag[i].unwrap(), cap[i].unwrap(), queue[i].unwrap());
        assert!(l >= 0.0 && c >= 0.0, "row {i}: lag {l} cap {c}");
        // sent - intended covers the lag and the cap wait (plus building the request).
        assert!(q + 1e-6 >= l + c, "row {i}: queue {q} < lag {l} + cap {c}");
        // The coordinated-omission-corrected latency includes the queueing.
        assert!(e2e_i[i].unwrap() + 1e-6 >= e2e[i].unwrap() + q);
    }
    // Late cases waited for a place far longer than the 5 ms gaps between arrivals.
    let max_cap = cap.iter().flatten().fold(0.0f64, |a, b| a.max(*b));
    assert!(max_cap > 50.0, "max cap wait {max_cap} ms");
    let c = read(&run_dir.join("configs.parquet"));
    assert!(floats(&c, "cap_wait_p99_ms")[0].unwrap() > 50.0);
    // The schedule itself is 200/s; the client dispatched every case (the cap is the
    // server's bottleneck, not the client's).
    let target = floats(&c, "target_rate")[0].unwrap();
    assert!((target - 200.0).abs() < 1.0, "target {target}");
    assert!(floats(&c, "achieved_rate")[0].is_some());
    assert!(floats(&c, "lag_p99_ms")[0].is_some());
    assert!(floats(&c, "client_cpu_s")[0].is_some_and(|s| s > 0.0));
    assert_eq!(strings(&c, "stop_reason"), vec![Some("requests".into())]);
    assert_eq!(floats(&c, "client_saturated").len(), 1);
    assert!(!c.column_by_name("client_saturated").unwrap().is_null(0));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn stages_are_summarised_separately_with_warmup_and_cooldown_phases() {
    let (code, stdout, stderr, run_dir, out) = run_pipeline(
        "steps",
        r#"
version: 1
name: steps
endpoints:
  sim:
    kind: simulated
    profile: { slots: 4, decode_ms: 2, prefill_tok_s: 0, default_output_tokens: 4 }
datasets:
  qa: { path: DATASET, input: question }
workload:
  arrival:
    steps:
      - { concurrency: 2, duration: 600ms }
      - { rate: 60, duration: 600ms }
  warmup_duration: 150ms
  cooldown_duration: 150ms
flow:
  - id: answer
    llm: { endpoint: sim, prompt: "{{ item.question }}", params: { max_tokens: 4 } }
"#,
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let r = read(&run_dir.join("requests.parquet"));
    let stage = floats(&r, "stage");
    let phase = strings(&r, "phase");
    let lag = floats(&r, "schedule_lag_ms");
    let count = |s: f64, p: &str| {
        (0..r.num_rows())
            .filter(|i| stage[*i] == Some(s) && phase[*i].as_deref() == Some(p))
            .count()
    };
    assert!(
        count(0.0, "warmup") > 0,
        "warm-up by time in the first stage"
    );
    assert!(count(0.0, "measure") > 0 && count(1.0, "measure") > 0);
    assert!(count(1.0, "cooldown") > 0, "cool-down by time at the end");
    assert_eq!(count(1.0, "warmup") + count(0.0, "cooldown"), 0);
    // Every first-step request records its schedule lag (zero by construction in the closed
    // loop, where a case is dispatched the moment a place frees up).
    assert!(lag.iter().all(Option::is_some));
    let c = read(&run_dir.join("configs.parquet"));
    assert_eq!(c.num_rows(), 2, "one configs row per stage");
    // The terminal says which stage each line is.
    assert!(stdout.contains("stage 1/2 (concurrency 2)"), "{stdout}");
    assert!(stdout.contains("stage 2/2 (poisson 60/s)"), "{stdout}");
    assert_eq!(floats(&c, "stage"), vec![Some(0.0), Some(1.0)]);
    let load = strings(&c, "load");
    assert_eq!(load[0].as_deref(), Some("concurrency 2"));
    assert_eq!(load[1].as_deref(), Some("poisson 60/s"));
    assert_eq!(
        strings(&c, "stop_reason"),
        vec![Some("duration".into()), Some("duration".into())]
    );
    // Closed loops have no schedule to fall behind: lag, target and saturation are null.
    assert_eq!(floats(&c, "lag_p99_ms")[0], None);
    assert_eq!(floats(&c, "target_rate")[0], None);
    assert!(c.column_by_name("client_saturated").unwrap().is_null(0));
    assert!(floats(&c, "target_rate")[1].is_some());
    assert!(!c.column_by_name("client_saturated").unwrap().is_null(1));
    // Counts per stage match the rows.
    let measured = floats(&c, "requests");
    assert_eq!(measured[0], Some(count(0.0, "measure") as f64));
    assert_eq!(measured[1], Some(count(1.0, "measure") as f64));
    assert_eq!(
        floats(&c, "warmup_requests")[0],
        Some(count(0.0, "warmup") as f64)
    );
    assert_eq!(
        floats(&c, "cooldown_requests")[1],
        Some(count(1.0, "cooldown") as f64)
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn cool_down_by_time_counts_back_from_the_end_of_the_last_stage() {
    // The first stage's cases take ~150 ms each on one slot, so the second stage starts well
    // after the first stage's 300 ms: the cool-down must follow the second stage's real start.
    let (code, stdout, stderr, run_dir, out) = run_pipeline(
        "cooldown-steps",
        r#"
version: 1
name: cooldown-steps
endpoints:
  sim:
    kind: simulated
    profile: { slots: 1, decode_ms: 25, decode_ms_per_seq: 0, prefill_tok_s: 0, default_output_tokens: 6 }
datasets:
  qa: { path: DATASET, input: question }
workload:
  arrival:
    steps:
      - { concurrency: 3, duration: 300ms }
      - { rate: 40, process: constant, duration: 500ms }
  cooldown_duration: 150ms
flow:
  - id: answer
    llm: { endpoint: sim, prompt: "{{ item.question }}", params: { max_tokens: 6 } }
"#,
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let r = read(&run_dir.join("requests.parquet"));
    let stage = ints(&r, "stage");
    let phase = strings(&r, "phase");
    let intended = ints(&r, "intended_ns");
    let stage = &stage;
    let rows = |s: i64| (0..r.num_rows()).filter(move |i| stage[*i] == Some(s));
    assert!(rows(0).count() > 0);
    assert!(
        rows(0).all(|i| phase[i].as_deref() == Some("measure")),
        "no cool-down in the first stage: {:?}",
        rows(0).map(|i| phase[i].clone()).collect::<Vec<_>>()
    );
    // The second stage's first arrival is at its start; cool-down is exactly the arrivals
    // within 150 ms of its scheduled end (500 ms after that start).
    let start = rows(1).filter_map(|i| intended[i]).min().unwrap();
    let (mut measured, mut cooled) = (0, 0);
    for i in rows(1) {
        let offset_ms = (intended[i].unwrap() - start) as f64 / 1e6;
        let want = if offset_ms + 150.0 >= 500.0 {
            "cooldown"
        } else {
            "measure"
        };
        assert_eq!(phase[i].as_deref(), Some(want), "offset {offset_ms} ms");
        if want == "measure" {
            measured += 1
        } else {
            cooled += 1
        }
    }
    assert!(
        measured > 0 && cooled > 0,
        "{measured} measured, {cooled} cool-down"
    );
    let c = read(&run_dir.join("configs.parquet"));
    assert_eq!(ints(&c, "cooldown_requests"), vec![Some(0), Some(cooled)]);
    assert_eq!(ints(&c, "requests")[1], Some(measured));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn cases_waiting_at_the_cap_when_a_trial_stops_are_stored_as_not_sent() {
    // 200/s offered, one in flight at a time on a slow engine that fails half its requests:
    // cases pile up behind the cap, and the third error stops the trial while they wait.
    let (code, stdout, stderr, run_dir, out) = run_pipeline(
        "not-sent",
        r#"
version: 1
name: not-sent
endpoints:
  sim:
    kind: simulated
    profile: { slots: 1, decode_ms: 10, decode_ms_per_seq: 0, prefill_tok_s: 0, default_output_tokens: 6, error_rate: 0.5, seed: 6 }
datasets:
  qa: { path: DATASET, input: question }
workload:
  arrival: { constant: { rate: 200, max_concurrency: 1 } }
  requests: 200
  max_errors: 3
flow:
  - id: answer
    llm: { endpoint: sim, prompt: "{{ item.question }}", params: { max_tokens: 6 } }
"#,
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let r = read(&run_dir.join("requests.parquet"));
    let kind = strings(&r, "error_kind");
    let sent = ints(&r, "sent_ns");
    let cap = floats(&r, "cap_wait_ms");
    let msg = strings(&r, "error_message");
    let not_sent: Vec<usize> = (0..r.num_rows())
        .filter(|i| kind[*i].as_deref() == Some("not_sent"))
        .collect();
    assert!(!not_sent.is_empty(), "cases were waiting at the cap");
    for &i in &not_sent {
        assert_eq!(sent[i], None);
        assert!(cap[i].is_some_and(|w| w >= 0.0));
        assert!(
            msg[i].as_deref().unwrap().contains("max_errors"),
            "{:?}",
            msg[i]
        );
    }
    // Every case the schedule released is a row: the case indices have no gap.
    let mut idx: Vec<i64> = ints(&r, "case_index").into_iter().flatten().collect();
    idx.sort_unstable();
    assert_eq!(idx, (0..r.num_rows() as i64).collect::<Vec<_>>());
    let c = read(&run_dir.join("configs.parquet"));
    assert_eq!(strings(&c, "stop_reason"), vec![Some("max_errors".into())]);
    assert_eq!(ints(&c, "not_sent"), vec![Some(not_sent.len() as i64)]);
    assert!(
        stdout.contains(&format!("{} not sent (max_errors)", not_sent.len())),
        "{stdout}"
    );
    // Requests never sent are in no statistic.
    assert_eq!(
        ints(&c, "requests")[0],
        Some((r.num_rows() - not_sent.len()) as i64)
    );
    assert_eq!(ints(&c, "errors")[0], Some(3));
    let cases = read(&run_dir.join("cases.parquet"));
    assert_eq!(cases.num_rows(), r.num_rows());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn error_limits_stop_a_trial_early_and_say_why() {
    let (code, stdout, stderr, run_dir, out) = run_pipeline(
        "stops",
        r#"
version: 1
name: stops
endpoints:
  broken:
    kind: simulated
    profile: { decode_ms: 1, error_rate: 1.0 }
  flaky:
    kind: simulated
    profile: { decode_ms: 1, error_rate: 0.5, seed: 5 }
datasets:
  qa: { path: DATASET, input: question }
grid:
  product:
    endpoint: [broken, flaky]
workload:
  arrival: { concurrency: 1 }
  requests: 400
  max_errors: 5
  max_error_rate: 0.2
flow:
  - id: answer
    llm: { endpoint: "{{ grid.endpoint }}", prompt: "{{ item.question }}", params: { max_tokens: 4 } }
"#,
    );
    // Some requests of the flaky trial succeeded, so the run as a whole is not all-failed.
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let c = read(&run_dir.join("configs.parquet"));
    let reasons = strings(&c, "stop_reason");
    assert_eq!(reasons[0].as_deref(), Some("max_errors"));
    // The flaky trial fails half its requests: the rate limit trips from the 20th request on
    // (unless 5 errors came first).
    assert!(
        matches!(reasons[1].as_deref(), Some("max_error_rate" | "max_errors")),
        "{reasons:?}"
    );
    let requests = floats(&c, "requests");
    assert_eq!(
        requests[0],
        Some(5.0),
        "closed loop of 1 stops at the 5th error"
    );
    assert!(requests[1].unwrap() < 400.0);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn both_pacers_send_every_open_loop_request_at_or_after_its_deadline() {
    let body = r#"
version: 1
name: pacers
endpoints:
  sim: { kind: simulated, profile: { decode_ms: 1, prefill_tok_s: 0, default_output_tokens: 4 } }
datasets:
  qa: { path: DATASET, input: question }
workload:
  arrival: { poisson: { rate: 400 } }
  requests: 80
flow:
  - id: answer
    llm: { endpoint: sim, prompt: "{{ item.question }}", params: { max_tokens: 4 } }
"#;
    let default = if cfg!(target_os = "linux") {
        "timer"
    } else {
        "thread"
    };
    for (env, pacer) in [(None, default), (Some("thread"), "thread")] {
        let vars: Vec<(&str, &str)> = env.map(|v| ("FRONTIER_PACER", v)).into_iter().collect();
        let (code, stdout, stderr, run_dir, out) = run_pipeline_env("pacer", body, &vars);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap())
                .unwrap();
        if env.is_some() || std::env::var_os("FRONTIER_PACER").is_none() {
            assert_eq!(m["pacer"], pacer);
        }
        let r = read(&run_dir.join("requests.parquet"));
        assert_eq!(r.num_rows(), 80, "{pacer}");
        assert!(
            r.column_by_name("ok")
                .unwrap()
                .as_boolean()
                .iter()
                .all(|v| v == Some(true))
        );
        // Never before the deadline: the lag is non-negative and every send follows it.
        for lag in floats(&r, "schedule_lag_ms") {
            assert!(lag.unwrap() >= 0.0, "{pacer}: {lag:?}");
        }
        for (sent, intended) in floats(&r, "sent_ns").iter().zip(floats(&r, "intended_ns")) {
            assert!(sent.unwrap() >= intended.unwrap(), "{pacer}");
        }
        let c = read(&run_dir.join("configs.parquet"));
        assert_eq!(strings(&c, "stop_reason"), vec![Some("requests".into())]);
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn gamma_and_ramp_arrivals_run() {
    for (name, arrival) in [
        ("gamma", "{ gamma: { rate: 200, shape: 0.5 } }"),
        (
            "ramp",
            "{ ramp: { from: 50, to: 400, over: 300ms, max_concurrency: 16 } }",
        ),
    ] {
        let body = format!(
            r#"
version: 1
name: {name}
endpoints:
  sim: {{ kind: simulated, profile: {{ decode_ms: 1, prefill_tok_s: 0, default_output_tokens: 4 }} }}
datasets:
  qa: {{ path: DATASET, input: question }}
workload:
  arrival: {arrival}
  requests: 60
flow:
  - id: answer
    llm: {{ endpoint: sim, prompt: "{{{{ item.question }}}}", params: {{ max_tokens: 4 }} }}
"#
        );
        let (code, stdout, stderr, run_dir, out) = run_pipeline(name, &body);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        let r = read(&run_dir.join("requests.parquet"));
        assert_eq!(r.num_rows(), 60);
        // Deadlines are non-decreasing in execution order.
        let intended = floats(&r, "intended_ns");
        let idx = floats(&r, "case_index");
        let mut by_index: Vec<(f64, f64)> = idx
            .iter()
            .zip(&intended)
            .map(|(a, b)| (a.unwrap(), b.unwrap()))
            .collect();
        by_index.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(by_index.windows(2).all(|w| w[0].1 <= w[1].1));
        let c = read(&run_dir.join("configs.parquet"));
        assert_eq!(strings(&c, "stop_reason"), vec![Some("requests".into())]);
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn a_trace_is_replayed_at_its_recorded_times_and_lengths() {
    let root = std::env::current_dir().unwrap();
    let body = std::fs::read_to_string(root.join("examples/trace-replay.yaml"))
        .unwrap()
        .replace(
            "../datasets/trace-mini.jsonl",
            &root.join("datasets/trace-mini.jsonl").display().to_string(),
        );
    let (code, stdout, stderr, run_dir, out) = run_pipeline("trace", &body);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let records: Vec<serde_json::Value> =
        std::fs::read_to_string(root.join("datasets/trace-mini.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let r = read(&run_dir.join("requests.parquet"));
    assert_eq!(r.num_rows(), records.len());
    let idx = floats(&r, "case_index");
    let intended = floats(&r, "intended_ns");
    let prompt = floats(&r, "prompt_tokens");
    let completion = floats(&r, "completion_tokens");
    let mut rows: Vec<usize> = (0..r.num_rows()).collect();
    rows.sort_by(|a, b| idx[*a].unwrap().total_cmp(&idx[*b].unwrap()));
    let t0 = records[0]["timestamp"].as_f64().unwrap();
    let start = intended[rows[0]].unwrap();
    for (k, &i) in rows.iter().enumerate() {
        let rec = &records[k];
        // Send times: recorded offsets in ms, divided by the speedup of 4 (to the nanosecond).
        let want_ns = (rec["timestamp"].as_f64().unwrap() - t0) * 1e-3 / 4.0 * 1e9;
        let got_ns = intended[i].unwrap() - start;
        assert!(
            (got_ns - want_ns).abs() < 2.0,
            "record {k}: {got_ns} vs {want_ns}"
        );
        assert_eq!(
            completion[i],
            rec["output_length"].as_f64(),
            "record {k}: the recorded output length"
        );
        if let Some(n) = rec["input_length"].as_f64() {
            assert_eq!(prompt[i], Some(n), "record {k}: the recorded prompt length");
        }
    }
    let c = read(&run_dir.join("configs.parquet"));
    assert_eq!(strings(&c, "stop_reason"), vec![Some("requests".into())]);
    assert!(
        strings(&c, "load")[0]
            .as_deref()
            .unwrap()
            .starts_with("trace 40 records x4")
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn sessions_feed_each_turn_back_with_think_time() {
    let root = std::env::current_dir().unwrap();
    let body = std::fs::read_to_string(root.join("examples/multi-turn.yaml"))
        .unwrap()
        .replace("../datasets/qa-mini.jsonl", "DATASET");
    let (code, stdout, stderr, run_dir, out) = run_pipeline("session", &body);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let r = read(&run_dir.join("requests.parquet"));
    assert_eq!(r.num_rows(), 12 * 3, "12 sessions x 3 turns");
    let case = floats(&r, "case_index");
    let turn = floats(&r, "turn");
    let prompt = floats(&r, "prompt_tokens");
    let completion = floats(&r, "completion_tokens");
    let intended = floats(&r, "intended_ns");
    let end = floats(&r, "end_ns");
    let sent = floats(&r, "sent_ns");
    let queue = floats(&r, "queue_ms");
    let lag = floats(&r, "schedule_lag_ms");
    for c in 0..12 {
        let mut turns: Vec<usize> = (0..r.num_rows())
            .filter(|i| case[*i] == Some(c as f64))
            .collect();
        turns.sort_by(|a, b| turn[*a].unwrap().total_cmp(&turn[*b].unwrap()));
        assert_eq!(turns.len(), 3);
        for w in turns.windows(2) {
            let (a, b) = (w[0], w[1]);
            // The next turn carries the previous request and its answer.
            assert!(
                prompt[b].unwrap() >= prompt[a].unwrap() + completion[a].unwrap(),
                "case {c}: prompt {} after {} + {}",
                prompt[b].unwrap(),
                prompt[a].unwrap(),
                completion[a].unwrap()
            );
            // Due exactly the think time after the previous turn ended, and sent no earlier:
            // a late wake-up shows in queue_ms.
            assert_eq!(intended[b].unwrap(), end[a].unwrap() + 50e6, "case {c}");
            assert!(sent[b].unwrap() >= intended[b].unwrap());
            assert!(queue[b].unwrap() >= 0.0);
            assert!(
                lag[b].is_none(),
                "only the session's first request was scheduled"
            );
        }
        assert!(lag[turns[0]].is_some());
    }
    let cases = read(&run_dir.join("cases.parquet"));
    assert_eq!(cases.num_rows(), 12);
    assert!(floats(&cases, "steps").iter().all(|s| *s == Some(3.0)));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_datasets_own_output_lengths_are_sent_per_row() {
    // `output_tokens: out_len` on a file dataset: each row's length goes out as its max_tokens (the
    // step's 50 is the fallback for no row here), and the engine generates exactly that many.
    let out = temp_dir("output-tokens");
    let rows = [("a", 3), ("b", 9), ("c", 1), ("d", 14)];
    let text: String = rows
        .iter()
        .map(|(q, n)| format!("{{\"q\": \"question {q}\", \"out_len\": {n}}}\n"))
        .collect();
    std::fs::write(out.join("rows.jsonl"), text).unwrap();
    let p = out.join("p.yaml");
    std::fs::write(
        &p,
        r#"
version: 1
name: lengths
endpoints:
  sim: { kind: simulated, profile: { decode_ms: 0, prefill_tok_s: 0, default_output_tokens: 40 } }
datasets:
  rows: { path: rows.jsonl, input: q, output_tokens: out_len, ignore_eos: true }
workload:
  arrival: { concurrency: 2 }
flow:
  - id: ask
    llm: { endpoint: sim, prompt: "{{ item.q }}", params: { max_tokens: 50 } }
"#,
    )
    .unwrap();
    let run_dir = run_ok(&p, &out);
    let r = read(&run_dir.join("requests.parquet"));
    let cases = read(&run_dir.join("cases.parquet"));
    assert_eq!(r.num_rows(), 4);
    let ids = strings(&cases, "case_id");
    let tokens = floats(&r, "completion_tokens");
    let case_index = floats(&r, "case_index");
    let case_of = floats(&cases, "case_index");
    for i in 0..4 {
        let c = case_of.iter().position(|x| *x == case_index[i]).unwrap();
        let row: usize = ids[c].as_deref().unwrap().parse().unwrap();
        assert_eq!(tokens[i], Some(f64::from(rows[row].1)), "row {row}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_client_that_fell_behind_says_so_on_the_terminal() {
    // A 1 µs lag limit no real dispatch meets: the stage is flagged, and the summary says so
    // (not only configs.parquet).
    let (code, stdout, stderr, run_dir, out) = run_pipeline(
        "saturated",
        r#"
version: 1
name: saturated
endpoints:
  sim: { kind: simulated, profile: { decode_ms: 0, prefill_tok_s: 0, default_output_tokens: 2 } }
datasets:
  qa: { path: DATASET, input: question }
workload:
  arrival: { constant: { rate: 500 } }
  requests: 20
  max_lag: 0.001ms
flow:
  - id: answer
    llm: { endpoint: sim, prompt: "{{ item.question }}" }
"#,
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let c = read(&run_dir.join("configs.parquet"));
    let flag = c
        .column_by_name("client_saturated")
        .unwrap()
        .as_boolean()
        .value(0);
    assert!(flag);
    assert!(
        stdout.contains("warning: trial 1 stage 1: the client fell behind its schedule (client_saturated: lag p99 "),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn calibrate_rejects_out_of_range_arguments() {
    // Each message names the argument that is out of range.
    for (args, names) in [
        (["--seconds", "1e30"], "calibrate: --seconds 1"),
        (["--seconds", "0"], "calibrate: --seconds 0 must be above 0"),
        (
            ["--start-rate", "inf"],
            "calibrate: --start-rate inf must be",
        ),
        (["--tokens", "0"], "calibrate: --tokens 0 must be above 0"),
        (
            ["--tokens", "4294967295"],
            "calibrate: --tokens 4294967295 must",
        ),
        (
            ["--max-rate", "1e9"],
            "calibrate: --max-rate x --seconds (1000000000 x 3)",
        ),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_frontier"))
            .arg("calibrate")
            .args(args)
            .output()
            .expect("frontier runs");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(names), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// A signal stops the whole search, whether it arrives during a rate's run or between two runs
/// (before, a signal between runs was swallowed and the search went on): the finished rates
/// are printed, the interrupted one is not, and the exit code is 1.
#[test]
fn a_signal_stops_calibrate() {
    let child = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["calibrate", "--start-rate", "200", "--seconds", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let signalled = std::time::Instant::now();
    // SAFETY: kill(2) on our own child's pid with a standard signal.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    let waited = signalled.elapsed();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("interrupted: the search stopped at a signal"),
        "{stdout}"
    );
    // A rate lasts 30 s here: stopping within seconds means the run in flight was cut short.
    assert!(waited.as_secs() < 15, "{waited:?}");
}

#[test]
fn calibrate_reports_rates_lag_and_ttft_error_as_json() {
    let o = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args([
            "calibrate",
            "--start-rate",
            "200",
            "--max-rate",
            "400",
            "--seconds",
            "0.5",
            "--json",
        ])
        .output()
        .expect("frontier runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let rungs = v["rungs"].as_array().unwrap();
    assert!(!rungs.is_empty());
    assert_eq!(rungs[0]["rate"], 200.0);
    assert_eq!(rungs[0]["requests"], 100);
    assert_eq!(rungs[0]["error_rate"], 0.0);
    for key in [
        "target_rate",
        "achieved_rate",
        "lag_p50_ms",
        "lag_p99_ms",
        "cpu_util",
    ] {
        assert!(rungs[0][key].as_f64().is_some(), "{key}: {}", rungs[0]);
    }
    // CPU per request, split between the client and the engine thread that served it: both
    // did work for every request (thread CPU clocks count nanoseconds), neither a second's worth.
    for key in ["client_cpu_us", "engine_cpu_us"] {
        let us = rungs[0][key].as_f64().unwrap_or(f64::NAN);
        assert!(us > 0.0 && us < 1e6, "{key}: {}", rungs[0]);
    }
    // Every measured request was matched with the engine's own first-token send time, and the
    // client saw each first token after the engine sent it.
    let t = &v["ttft_error"];
    assert_eq!(t["requests"], 100);
    assert!(t["min_ms"].as_f64().unwrap() >= 0.0, "{t}");
    assert!(t["p50_ms"].as_f64().unwrap() >= t["min_ms"].as_f64().unwrap());
    assert!(t["max_ms"].as_f64().unwrap() < 1000.0);
    assert_eq!(v["tokens"], 16);
    assert!(
        v["pacer"] == "timer" || v["pacer"] == "thread",
        "{}",
        v["pacer"]
    );
    assert!(v["http_client"] == "own" || v["http_client"] == "reqwest");
    assert_eq!(v["interrupted"], false);
    // The machine's floor before each rate: the pacer and runtime alone released every slot
    // at that rate (0.5 s here), never before its deadline.
    let f = &rungs[0]["floor"];
    assert_eq!(f["rate"], 200.0);
    assert_eq!(f["releases"], 100);
    let attempts = rungs[0]["attempts"].as_u64().unwrap();
    assert!((1..=3).contains(&attempts));
    // Only a failed rate can be noisy, and a noisy one was tried every time.
    for r in rungs {
        if r["noisy"] == true {
            assert_eq!(r["sustained"], false);
            assert_eq!(r["attempts"], 3);
        }
    }
    let p50 = f["lag_p50_ms"].as_f64().unwrap();
    let p99 = f["lag_p99_ms"].as_f64().unwrap();
    assert!(0.0 <= p50 && p50 <= p99 && p99 <= f["lag_max_ms"].as_f64().unwrap());
    assert_eq!(v["max_lag_ms"], 1.0);
}

#[test]
fn chunk_timings_false_stores_null_series_and_keeps_every_gap_statistic() {
    let (code, stdout, stderr, run_dir, out) = run_pipeline(
        "no-chunks",
        r#"
version: 1
name: no-chunks
endpoints:
  sim:
    kind: simulated
    profile: { slots: 4, decode_ms: 2, decode_ms_per_seq: 0, prefill_tok_s: 0, tokens_per_chunk: 3, default_output_tokens: 10 }
datasets:
  qa: { path: DATASET, input: question }
workload:
  arrival: { concurrency: 2 }
  requests: 6
flow:
  - id: answer
    llm: { endpoint: sim, prompt: "{{ item.question }} (unknown to the oracle)", params: { max_tokens: 10, extra: { ignore_eos: true } } }
results: { chunk_timings: false }
"#,
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let r = read(&run_dir.join("requests.parquet"));
    assert_eq!(r.num_rows(), 6);
    for name in ["token_chunk_ns", "token_chunk_tokens"] {
        let col = r.column_by_name(name).unwrap();
        assert_eq!(col.null_count(), 6, "{name} is null in every row");
    }
    assert!(floats(&r, "itl_p50_ms").iter().all(Option::is_some));
    assert!(floats(&r, "icl_max_ms").iter().all(Option::is_some));
    assert_eq!(floats(&r, "token_chunk_count"), vec![Some(4.0); 6]);
    let c = read(&run_dir.join("configs.parquet"));
    for key in ["itl_p99_ms", "icl_p99_ms", "tpot_p50_ms"] {
        assert!(floats(&c, key)[0].is_some(), "{key}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn multi_token_chunks_are_counted_from_continuous_usage_end_to_end() {
    // The simulated engine streams 3 tokens per chunk with cumulative usage in every chunk
    // (frontier asks simulated endpoints for `continuous_usage_stats`): per-chunk token counts
    // come from usage, and counting chunks would undercount.
    let (code, stdout, stderr, run_dir, out) = run_pipeline(
        "chunks",
        r#"
version: 1
name: chunks
endpoints:
  sim:
    kind: simulated
    profile: { slots: 4, decode_ms: 2, decode_ms_per_seq: 0, prefill_tok_s: 0, tokens_per_chunk: 3, default_output_tokens: 10 }
datasets:
  qa: { path: DATASET, input: question }
workload:
  arrival: { concurrency: 2 }
  requests: 12
flow:
  - id: answer
    llm: { endpoint: sim, prompt: "{{ item.question }} (unknown to the oracle)", params: { max_tokens: 10, extra: { ignore_eos: true } } }
"#,
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let r = read(&run_dir.join("requests.parquet"));
    assert_eq!(r.num_rows(), 12);
    let completion = floats(&r, "completion_tokens");
    let chunks = floats(&r, "token_chunk_count");
    let discrepancy = floats(&r, "token_count_discrepancy");
    let basis = strings(&r, "chunk_tokens_basis");
    let tpot = floats(&r, "tpot_ms");
    let itl = floats(&r, "itl_p50_ms");
    let icl = floats(&r, "icl_p50_ms");
    let icl_max = floats(&r, "icl_max_ms");
    let first = floats(&r, "first_token_ns");
    let last = floats(&r, "last_token_ns");
    let chunk_ns = int_lists(&r, "token_chunk_ns");
    let chunk_tokens = int_lists(&r, "token_chunk_tokens");
    for i in 0..12 {
        // The stored series: 4 chunks carrying 3, 3, 3 and 1 tokens, from the first token's
        // time to the last's, never going back.
        assert_eq!(chunk_tokens[i], vec![3, 3, 3, 1], "row {i}");
        let t = &chunk_ns[i];
        assert_eq!(t.len(), 4, "row {i}");
        assert_eq!(Some(t[0] as f64), first[i], "row {i}");
        assert_eq!(Some(t[3] as f64), last[i], "row {i}");
        assert!(t.windows(2).all(|w| w[0] <= w[1]), "row {i}: {t:?}");
        // The per-request gap metrics follow from it, recomputed independently: each chunk
        // of k tokens is k gaps of gap/k, the first chunk's 2 extra tokens 0-gaps, so 9 token
        // gaps; the chunk gaps are the plain differences.
        let mut token_gaps = vec![0.0, 0.0];
        for j in 1..4 {
            let k = chunk_tokens[i][j] as f64;
            token_gaps.extend(std::iter::repeat_n(
                (t[j] - t[j - 1]) as f64 / k / 1e6,
                k as usize,
            ));
        }
        token_gaps.sort_by(f64::total_cmp);
        assert_eq!(token_gaps.len(), 9);
        let itl_p50 = token_gaps[4];
        assert!(
            (itl[i].unwrap() - itl_p50).abs() < 1e-9,
            "row {i}: {itl_p50} vs {:?}",
            itl[i]
        );
        let longest = t.windows(2).map(|w| w[1] - w[0]).max().unwrap() as f64 / 1e6;
        assert!((icl_max[i].unwrap() - longest).abs() < 1e-9, "row {i}");
        let n = completion[i].unwrap();
        assert_eq!(n, 10.0, "row {i}");
        // 10 tokens in chunks of 3, 3, 3 and 1.
        assert_eq!(chunks[i], Some(4.0), "row {i}");
        assert_eq!(discrepancy[i], Some(-6.0), "row {i}");
        assert_eq!(basis[i].as_deref(), Some("usage"), "row {i}");
        // A chunk of 3 tokens spreads its gap over 3 token gaps: the median per-token gap is
        // about a third of the median chunk gap (the first chunk's 2 extra tokens add 0 gaps).
        let (itl, icl) = (itl[i].unwrap(), icl[i].unwrap());
        assert!(icl > 0.0 && itl < icl, "row {i}: itl {itl} icl {icl}");
        assert!(tpot[i].unwrap() > 0.0);
    }
    let c = read(&run_dir.join("configs.parquet"));
    assert_eq!(
        strings(&c, "chunk_tokens_basis"),
        vec![Some("usage".into())]
    );
    assert_eq!(floats(&c, "token_chunks"), vec![Some(48.0)]);
    assert_eq!(floats(&c, "output_tokens"), vec![Some(120.0)]);
    assert_eq!(floats(&c, "token_count_discrepancy"), vec![Some(-72.0)]);
    // Token-weighted mean ITL: all gaps of all requests over their number, which is
    // (last - first) summed over requests / 9 tokens each, the mean TPOT (within the
    // histogram's 0.1%: the mean is exact).
    let itl_mean = floats(&c, "itl_mean_ms")[0].unwrap();
    let tpot_mean = floats(&c, "tpot_mean_ms")[0].unwrap();
    assert!(
        (itl_mean - tpot_mean).abs() < 1e-6 * tpot_mean.max(1.0),
        "itl mean {itl_mean} tpot mean {tpot_mean}"
    );
    for key in [
        "itl_p50_ms",
        "itl_p99_ms",
        "icl_mean_ms",
        "icl_p50_ms",
        "icl_p99_ms",
    ] {
        assert!(floats(&c, key)[0].is_some(), "{key}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// `frontier run p --out out`, its output piped.
fn spawn_run(p: &std::path::Path, out: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// A pipeline (`name: signal`) in `out` whose 200 calls of 40 tokens at 50 ms a token run 2
/// at a time: a run still going when a test signals it.
fn slow_pipeline(out: &std::path::Path) -> std::path::PathBuf {
    let root = std::env::current_dir().unwrap();
    let p = out.join("p.yaml");
    std::fs::write(
        &p,
        format!(
            r#"
version: 1
name: signal
endpoints:
  slow:
    kind: simulated
    profile: {{ slots: 2, decode_ms: 50, decode_ms_per_seq: 0, prefill_tok_s: 0, default_output_tokens: 40 }}
datasets:
  qa: {{ path: {}, input: question }}
workload:
  arrival: {{ concurrency: 2 }}
  requests: 200
flow:
  - id: answer
    llm: {{ endpoint: slow, prompt: "{{{{ item.question }}}}", params: {{ max_tokens: 40 }} }}
"#,
            root.join("datasets/qa-mini.jsonl").display()
        ),
    )
    .unwrap();
    p
}

/// Run pipeline `p` into `out`, send `sig` after `after_ms`; the output and how long the run
/// took to end after the signal.
fn run_and_signal(
    p: &std::path::Path,
    out: &std::path::Path,
    sig: libc::c_int,
    after_ms: u64,
) -> (std::process::Output, std::time::Duration) {
    let child = spawn_run(p, out);
    std::thread::sleep(std::time::Duration::from_millis(after_ms));
    let signalled = std::time::Instant::now();
    // SAFETY: kill(2) on our own child's pid with a standard signal.
    unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    let o = child.wait_with_output().unwrap();
    (o, signalled.elapsed())
}

#[test]
fn sigterm_and_sigint_end_a_run_with_every_file_written() {
    for (sig, name) in [(libc::SIGTERM, "term"), (libc::SIGINT, "int")] {
        let out = temp_dir(&format!("signal-{name}"));
        let p = slow_pipeline(&out);
        let (o, _) = run_and_signal(&p, &out, sig, 1500);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{name}: {stdout}");
        assert!(stdout.contains("interrupted"), "{name}: {stdout}");
        let run_dir = run_dir_of(&stdout).unwrap_or_else(|| panic!("{name}: {stdout}"));
        let manifest = std::fs::read_to_string(run_dir.join("manifest.json")).unwrap();
        assert!(
            manifest.contains("\"status\": \"interrupted\""),
            "{name}: {manifest}"
        );
        let r = read(&run_dir.join("requests.parquet"));
        assert!(
            r.num_rows() > 0 && r.num_rows() < 200,
            "{name}: {}",
            r.num_rows()
        );
        let kinds = strings(&r, "error_kind");
        assert!(
            kinds.iter().any(|k| k.as_deref() == Some("cancelled")),
            "{name}: calls in flight are stored as cancelled"
        );
        let cases = read(&run_dir.join("cases.parquet"));
        assert_eq!(cases.num_rows(), r.num_rows(), "{name}: no row lost");
        let c = read(&run_dir.join("configs.parquet"));
        assert_eq!(strings(&c, "stop_reason"), vec![Some("interrupted".into())]);
        let _ = std::fs::remove_dir_all(&out);
    }
}

/// A second signal exits at once (128 + its number) without the orderly stop. Both signals are
/// made pending while the process is stopped, so the second is there before any orderly stop
/// could finish: the outcome does not depend on timing.
#[test]
fn a_second_signal_exits_at_once() {
    let out = temp_dir("signal-twice");
    let p = slow_pipeline(&out);
    let child = spawn_run(&p, &out);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill(2) on our own child's pid with standard signals.
    unsafe {
        libc::kill(pid, libc::SIGSTOP);
        libc::kill(pid, libc::SIGINT);
        libc::kill(pid, libc::SIGTERM);
        libc::kill(pid, libc::SIGCONT);
    }
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        matches!(o.status.code(), Some(130 | 143)),
        "{:?}: {stderr}",
        o.status
    );
    assert!(stderr.contains("frontier: stopping"), "{stderr}");
    assert!(
        stderr.contains("error: a second signal: exiting now"),
        "{stderr}"
    );
    // The unfinished run: a query over a file it was writing says why that file is unreadable.
    let run_dir = std::fs::read_dir(out.join("signal"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let q = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args([
            "query",
            run_dir.to_str().unwrap(),
            "SELECT count(*) AS n FROM requests",
        ])
        .output()
        .unwrap();
    let qerr = String::from_utf8_lossy(&q.stderr);
    assert_eq!(q.status.code(), Some(2), "{qerr}");
    assert!(
        qerr.contains("manifest.json says the run is still `running`"),
        "{qerr}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_signal_during_judging_cancels_the_judge_calls_promptly() {
    let root = std::env::current_dir().unwrap();
    let body = std::fs::read_to_string(root.join("examples/eval-judge.yaml"))
        .unwrap()
        .replace("../datasets/", &format!("{}/datasets/", root.display()))
        .replace("- use: short-answer", "- exact: {}")
        // Judges that take about 10 s a call (100 tokens at 100 ms).
        .replace(
            "profile: { decode_ms: 1, prefill_tok_s: 100000, quality: 0.95, seed: 1 }",
            "profile: { decode_ms: 100, decode_ms_per_seq: 0, prefill_tok_s: 0, quality: 0.95, seed: 1, default_output_tokens: 100 }",
        );
    let out = temp_dir("signal-judge");
    let p = out.join("p.yaml");
    std::fs::write(&p, body).unwrap();
    let (o, waited) = run_and_signal(&p, &out, libc::SIGINT, 2000);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        waited < std::time::Duration::from_secs(6),
        "the run ended {waited:?} after the signal"
    );
    let run_dir = run_dir_of(&stdout).unwrap_or_else(|| panic!("{stdout}"));
    let j = read(&run_dir.join("judgements.parquet"));
    let kinds = strings(&j, "error_kind");
    assert!(
        kinds.iter().any(|k| k.as_deref() == Some("cancelled")),
        "judge calls in flight are stored as cancelled: {kinds:?}"
    );
    let _ = std::fs::remove_dir_all(&out);
}
