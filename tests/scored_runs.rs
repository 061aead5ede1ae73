//! Scored and judged runs that fail or are stopped, end to end: the `frontier` binary against
//! its simulated engine (and, as a judge, the scripted test server) on loopback, interrupted by
//! signals or stopped by its error limits, its Parquet files read back with DuckDB. However a
//! run ends, every measured case that has a `cases` row (and was sent) has exactly one `scores`
//! row per scorer, no other case has one, and `score_stats` and `configs` count what
//! `scores.parquet` holds. No assertion depends on how long anything took: a signal sent at an
//! arbitrary moment leaves files that satisfy the same checks.

mod common;
mod results;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use results::{duckdb_json, floats, read, run_dir_of, strings, temp_dir};
use serde_json::Value;

/// Write `body` (DATASET becomes the shipped QA file) as `out/p.yaml`.
fn pipeline(out: &Path, body: &str) -> PathBuf {
    let root = std::env::current_dir().unwrap();
    let text = body.replace(
        "DATASET",
        &root.join("datasets/qa-mini.jsonl").display().to_string(),
    );
    let p = out.join("p.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

/// `frontier run p --out out`, its output piped.
fn spawn_run(p: &Path, out: &Path, env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Send `sigs` to the child in one go (stopped meanwhile, so that all are pending together).
fn signal(child: &Child, sigs: &[libc::c_int]) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill(2) on our own child's pid with standard signals.
    unsafe {
        if sigs.len() > 1 {
            libc::kill(pid, libc::SIGSTOP);
        }
        for &s in sigs {
            libc::kill(pid, s);
        }
        if sigs.len() > 1 {
            libc::kill(pid, libc::SIGCONT);
        }
    }
}

/// Run to the end (a generous bound against a hang, not a timing assertion).
fn wait(child: Child) -> Output {
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(180)) {
        Ok(o) => o.unwrap(),
        Err(_) => {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("frontier run did not end within 180 s");
        }
    }
}

fn run_to_end(p: &Path, out: &Path) -> (Output, PathBuf) {
    let o = wait(spawn_run(p, out, &[]));
    let dir = run_dir_of(&String::from_utf8_lossy(&o.stdout)).unwrap_or_else(|| {
        panic!(
            "no results line:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o, dir)
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn manifest_status(run_dir: &Path) -> String {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap())
            .unwrap();
    m["status"].as_str().unwrap_or_default().to_string()
}

const TABLES: [&str; 6] = [
    "requests",
    "cases",
    "scores",
    "judgements",
    "score_stats",
    "configs",
];

/// Run `queries` in one DuckDB session over the run's tables; each query's rows (as JSON
/// values). Any DuckDB error fails the test: every file must be readable.
fn duck(run_dir: &Path, queries: &[String]) -> Vec<Vec<Vec<Value>>> {
    duckdb_json(run_dir, &TABLES, queries)
        .into_iter()
        .zip(queries)
        .map(|(r, q)| {
            if let Some(e) = r.get("error") {
                panic!("DuckDB failed on {q}: {e}");
            }
            r["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| row.as_array().unwrap().clone())
                .collect()
        })
        .collect()
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// The measured cases' stage: every request row of a case has the case's stage.
const STAGES: &str =
    "(SELECT DISTINCT trial_id, case_index, stage FROM requests WHERE phase = 'measure')";

/// The checks every scored run passes however it ended, for the `scorers` of the pipeline (in
/// order). Returns the number of `scores` rows per scorer.
fn check_scores_are_complete(run_dir: &Path, scorers: &[&str]) -> i64 {
    let scorer_list = scorers
        .iter()
        .map(|s| format!("('{s}')"))
        .collect::<Vec<_>>()
        .join(", ");
    let first = scorers[0];
    let queries = vec![
        // 0: every file reads.
        "SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM cases), \
         (SELECT count(*) FROM scores), (SELECT count(*) FROM judgements), \
         (SELECT count(*) FROM score_stats), (SELECT count(*) FROM configs)"
            .to_string(),
        // 1: one row per measured case that was sent and scorer, none for anything else.
        format!(
            "WITH want AS (SELECT c.trial_id, c.case_index, s.scorer FROM cases c \
               CROSS JOIN (VALUES {scorer_list}) s(scorer) \
               WHERE c.phase = 'measure' AND c.error_kind IS DISTINCT FROM 'not_sent'), \
             got AS (SELECT trial_id, case_index, scorer, count(*) AS n FROM scores GROUP BY ALL) \
             SELECT w.trial_id, w.case_index, w.scorer, g.trial_id, g.case_index, g.scorer, g.n \
             FROM want w FULL OUTER JOIN got g \
               ON w.trial_id = g.trial_id AND w.case_index = g.case_index AND w.scorer = g.scorer \
             WHERE w.trial_id IS NULL OR g.trial_id IS NULL OR g.n <> 1 LIMIT 20"
        ),
        // 2: one `cases` row per case, and the scores' repeat and case_id are the case's.
        "SELECT trial_id, case_index, count(*) FROM cases GROUP BY ALL HAVING count(*) <> 1 \
         UNION ALL SELECT s.trial_id, s.case_index, -1 FROM scores s JOIN cases c \
           USING (trial_id, case_index) \
         WHERE s.repeat <> c.repeat OR s.case_id <> c.case_id OR s.trial_index <> c.trial_index \
         LIMIT 20"
            .to_string(),
        // 3: score_stats counts what scores holds, per trial, stage and scorer.
        format!(
            "WITH agg AS (SELECT s.trial_id, st.stage, s.scorer, \
                 count(*) FILTER (WHERE status = 'scored') AS scored, \
                 count(*) FILTER (WHERE status = 'unscored') AS unscored, \
                 count(*) FILTER (WHERE status = 'error') AS errors, \
                 avg(score) FILTER (WHERE status = 'scored') AS mean \
               FROM scores s JOIN {STAGES} st USING (trial_id, case_index) GROUP BY ALL) \
             SELECT ss.trial_id, ss.stage, ss.scorer, a.trial_id, ss.scored, a.scored, \
               ss.unscored, a.unscored, ss.errors, a.errors, ss.mean, a.mean \
             FROM score_stats ss FULL OUTER JOIN agg a \
               ON ss.trial_id = a.trial_id AND ss.stage = a.stage AND ss.scorer = a.scorer \
             WHERE ss.trial_id IS NULL \
               OR (a.trial_id IS NULL AND ss.scored + ss.unscored + ss.errors > 0) \
               OR (a.trial_id IS NOT NULL AND (ss.scored <> a.scored OR ss.unscored <> a.unscored \
                 OR ss.errors <> a.errors OR (ss.mean IS NULL) <> (a.mean IS NULL) \
                 OR abs(ss.mean - a.mean) > 1e-9)) LIMIT 20"
        ),
        // 4: every trial, stage and scorer of `configs` has its score_stats row.
        format!(
            "SELECT c.trial_id, c.stage, s.scorer FROM configs c \
               CROSS JOIN (VALUES {scorer_list}) s(scorer) \
             ANTI JOIN score_stats ss \
               ON ss.trial_id = c.trial_id AND ss.stage = c.stage AND ss.scorer = s.scorer \
             UNION ALL SELECT trial_id, stage, scorer FROM score_stats \
               ANTI JOIN configs USING (trial_id, stage) LIMIT 20"
        ),
        // 5: configs counts the stage's measured cases and the first scorer's statuses.
        format!(
            "WITH agg AS (SELECT s.trial_id, st.stage, count(*) AS cases, \
                 count(*) FILTER (WHERE status = 'scored') AS scored, \
                 count(*) FILTER (WHERE status = 'unscored') AS unscored, \
                 count(*) FILTER (WHERE status = 'error') AS errors, \
                 avg(score) FILTER (WHERE status = 'scored') AS mean \
               FROM scores s JOIN {STAGES} st USING (trial_id, case_index) \
               WHERE scorer = '{first}' GROUP BY ALL) \
             SELECT c.trial_id, c.stage, c.cases, a.cases, c.scored, a.scored, c.unscored, \
               a.unscored, c.score_errors, a.errors, c.accuracy, a.mean \
             FROM configs c LEFT JOIN agg a USING (trial_id, stage) \
             WHERE c.cases <> coalesce(a.cases, 0) OR c.scored <> coalesce(a.scored, 0) \
               OR c.unscored <> coalesce(a.unscored, 0) \
               OR c.score_errors <> coalesce(a.errors, 0) \
               OR (c.accuracy IS NULL) <> (a.mean IS NULL) \
               OR abs(c.accuracy - a.mean) > 1e-9 LIMIT 20"
        ),
        // 6: configs.cases is the measured cases that were sent, per trial and stage.
        format!(
            "WITH m AS (SELECT st.trial_id, st.stage, count(*) AS n FROM cases c \
               JOIN {STAGES} st USING (trial_id, case_index) \
               WHERE c.phase = 'measure' AND c.error_kind IS DISTINCT FROM 'not_sent' \
               GROUP BY ALL) \
             SELECT c.trial_id, c.stage, c.cases, m.n FROM configs c \
               LEFT JOIN m USING (trial_id, stage) WHERE c.cases <> coalesce(m.n, 0) LIMIT 20"
        ),
        // 7: rows per scorer.
        format!(
            "SELECT s.scorer, (SELECT count(*) FROM scores x WHERE x.scorer = s.scorer) \
             FROM (VALUES {scorer_list}) s(scorer)"
        ),
    ];
    let r = duck(run_dir, &queries);
    let names = [
        "",
        "a measured case without exactly one score row per scorer, or a score row of no measured case",
        "a case twice, or a score row that disagrees with its case",
        "score_stats disagrees with scores.parquet",
        "a configs stage without its score_stats rows, or the reverse",
        "configs disagrees with scores.parquet",
        "configs.cases is not the measured cases that were sent",
    ];
    for (i, name) in names.iter().enumerate().skip(1) {
        assert!(r[i].is_empty(), "{}: {name}: {:?}", run_dir.display(), r[i]);
    }
    let per_scorer: Vec<i64> = r[7].iter().map(|row| int(&row[1])).collect();
    assert!(
        per_scorer.windows(2).all(|w| w[0] == w[1]),
        "{per_scorer:?}"
    );
    per_scorer[0]
}

/// A scored pipeline of two trials of 120 cases, 4 at a time: the first quick, the second slow
/// (each call 1 to 10 s of 300 ms tokens), so still running when a test signals it.
const SLOW_SCORED: &str = r#"
version: 1
name: slow-scored
endpoints:
  fast:
    kind: simulated
    profile: { slots: 4, decode_ms: 1, prefill_tok_s: 0, quality: 0.6 }
  slow:
    kind: simulated
    profile: { slots: 4, decode_ms: 300, decode_ms_per_seq: 0, prefill_tok_s: 0, default_output_tokens: 30, quality: 0.6 }
datasets:
  qa: { path: DATASET, input: question, reference: answers, id: id }
workload:
  arrival: { concurrency: 4 }
flow:
  - id: answer
    llm: { endpoint: "{{ grid.endpoint }}", prompt: "{{ item.question }}", params: { max_tokens: 30 } }
grid:
  repeats: 3
  product:
    endpoint: [fast, slow]
evaluators:
  - exact: {}
  - token_f1: {}
  - contains: { extract: { after: "ANSWER:" } }
"#;

const SLOW_SCORERS: [&str; 3] = ["exact", "token_f1", "contains"];

/// SIGTERM while a scored trial runs: exit 1, the manifest says `interrupted`, the calls in
/// flight are `cancelled` cases scored as errors, and no case is lost or scored twice.
#[test]
fn sigterm_during_a_scored_trial_keeps_one_score_per_case_and_scorer() {
    let out = temp_dir("term");
    let p = pipeline(&out, SLOW_SCORED);
    let child = spawn_run(&p, &out, &[]);
    std::thread::sleep(Duration::from_millis(2500));
    signal(&child, &[libc::SIGTERM]);
    let o = wait(child);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let run_dir = run_dir_of(&String::from_utf8_lossy(&o.stdout)).expect("results line");
    assert_eq!(manifest_status(&run_dir), "interrupted");
    // The trial the signal landed in (normally the second) stopped; any before it finished.
    let c = read(&run_dir.join("configs.parquet"));
    let reasons = strings(&c, "stop_reason");
    let (last, before) = reasons.split_last().unwrap();
    assert_eq!(last.as_deref(), Some("interrupted"), "{reasons:?}");
    assert!(
        before.iter().all(|r| r.as_deref() == Some("requests")),
        "{reasons:?}"
    );
    let n = check_scores_are_complete(&run_dir, &SLOW_SCORERS);
    let cases = read(&run_dir.join("cases.parquet"));
    assert_eq!(n as usize, cases.num_rows(), "every case is measured here");
    assert!(n > 0 && n < 240, "{n}");
    // The calls the signal cut are errors of every scorer, with the error kind as reason (in
    // the slow trial some call is always in flight when the signal lands).
    let s = read(&run_dir.join("scores.parquet"));
    let cancelled = strings(&s, "reason")
        .iter()
        .zip(strings(&s, "status"))
        .filter(|(r, st)| r.as_deref() == Some("cancelled") && st.as_deref() == Some("error"))
        .count();
    assert_eq!(cancelled % SLOW_SCORERS.len(), 0, "{cancelled}");
    if before.len() == 1 {
        assert!(cancelled > 0, "{reasons:?}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// A second signal exits at once with 128 + its number, without the orderly stop, while a
/// scored trial runs: nothing panics on the way out (the scoring thread is mid-run).
#[test]
fn a_second_signal_during_a_scored_trial_exits_without_a_panic() {
    let out = temp_dir("twice");
    let p = pipeline(&out, SLOW_SCORED);
    let child = spawn_run(&p, &out, &[]);
    std::thread::sleep(Duration::from_millis(2500));
    signal(&child, &[libc::SIGINT, libc::SIGTERM]);
    let o = wait(child);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(matches!(o.status.code(), Some(130 | 143)), "{}", text(&o));
    assert!(
        stderr.contains("error: a second signal: exiting now"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}

/// A judged pipeline (the shape of examples/eval-judge.yaml) with a panel (`panel`, in order) of
/// a simulated judge (`judge_a`) and the scripted server at `judge_url` (`judge_b`, with an API
/// key from the environment).
fn judged_pipeline(judge_url: &str, concurrency: u32, panel: &str) -> String {
    format!(
        r#"
version: 1
name: judged
endpoints:
  sut:
    kind: simulated
    profile: {{ decode_ms: 1, prefill_tok_s: 50000, quality: 0.6 }}
  judge_a:
    kind: simulated
    profile: {{ decode_ms: 1, prefill_tok_s: 100000, quality: 0.95, seed: 1 }}
  judge_b:
    kind: openai
    base_url: {judge_url}
    model: judge-model
    api_key_env: FRONTIER_TEST_JUDGE_KEY
datasets:
  qa: {{ path: DATASET, input: question, reference: answers, id: id }}
workload:
  arrival: {{ concurrency: 4 }}
flow:
  - id: answer
    llm: {{ endpoint: sut, prompt: "Answer briefly: {{{{ item.question }}}}", params: {{ temperature: 0, max_tokens: 32 }} }}
evaluators:
  - exact: {{}}
  - llm_judge:
      judges: [{panel}]
      concurrency: {concurrency}
      max_tokens: 16
      rubric: |
        Question: {{{{ question }}}}
        Answer under review: {{{{ answer }}}}
        Acceptable answers: {{{{ references }}}}
        Reply with GRADE: 1 if the answer is acceptable, else GRADE: 0.
"#
    )
}

fn judge_script(delay_ms: u64) -> common::Script {
    common::Script::sse(common::Framing::Chunked)
        .sleep_ms(delay_ms)
        .content("GRADE: 1")
        .finish("stop")
        .usage(50, 3)
        .done()
}

/// Wait until `server` has received `n` requests (a generous bound against a hang).
async fn received(server: &common::TestServer, n: usize) {
    let start = Instant::now();
    while server.exchanges().len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the judge received {} of {n} calls",
            server.exchanges().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ctrl-C while the judges grade: exit 1, manifest `interrupted`, the judge calls in flight and
/// those still to come are `cancelled` (and no call still to come is sent), every measured case
/// keeps exactly one row per scorer and one judgement per judge, an ungraded case's score is an
/// error for the interruption (`cancelled`, not `judge_failed`), and the statistics count what
/// the files hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_while_judging_keeps_one_score_per_case_and_scorer() {
    // Each case asks the panel's judges in order, and calls wait for a place in the order they
    // were made: with judge_b first, no judge has graded anything when the signal lands (the
    // calls still to come are not sent); with judge_a first, judge_a has graded (nearly) every
    // case and judge_b none, and a panel the signal cut short gives no verdict either.
    for (panel, graded_by_a) in [("judge_b, judge_a", false), ("judge_a, judge_b", true)] {
        signal_while_judging(panel, graded_by_a).await;
    }
}

async fn signal_while_judging(panel: &str, graded_by_a: bool) {
    // The scripted judge holds every call for a minute: the signal always lands while the
    // first calls wait for their grades.
    let server = common::start(judge_script(60_000)).await;
    let out = temp_dir("judging");
    let concurrency = 4;
    let p = pipeline(
        &out,
        &judged_pipeline(&server.url("/v1"), concurrency, panel),
    );
    let child = spawn_run(&p, &out, &[("FRONTIER_TEST_JUDGE_KEY", "sk-judge")]);
    received(&server, 1).await;
    signal(&child, &[libc::SIGINT]);
    let o = tokio::task::spawn_blocking(move || wait(child))
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{panel}: {}", text(&o));
    let run_dir = run_dir_of(&String::from_utf8_lossy(&o.stdout)).expect("results line");
    assert_eq!(manifest_status(&run_dir), "interrupted");
    // The trial itself had ended (every case scheduled) before its judging was interrupted.
    let c = read(&run_dir.join("configs.parquet"));
    assert_eq!(strings(&c, "stop_reason"), vec![Some("requests".into())]);
    let n = check_scores_are_complete(&run_dir, &["exact", "llm_judge"]);
    assert_eq!(
        n, 40,
        "{panel}: every case of the trial is judged or marked"
    );
    let exchanges = server.exchanges();
    assert!(
        exchanges.len() <= concurrency as usize,
        "{panel}: judge calls were sent after the signal: {} > {concurrency}",
        exchanges.len()
    );
    // The judge's API key is sent (a judge-only endpoint reads its key too).
    assert!(
        exchanges.iter().all(|e| e
            .head
            .to_ascii_lowercase()
            .contains("authorization: bearer sk-judge")),
        "{:?}",
        exchanges.first().map(|e| &e.head)
    );
    let r = duck(
        &run_dir,
        &[
            // One judgement per judged case and judge; none for failed cases.
            "WITH want AS (SELECT c.trial_id, c.case_index, j.judge FROM cases c \
               CROSS JOIN (VALUES ('judge_a'), ('judge_b')) j(judge) \
               WHERE c.phase = 'measure' AND c.ok), \
             got AS (SELECT trial_id, case_index, judge, count(*) AS n FROM judgements GROUP BY ALL) \
             SELECT * FROM want w FULL OUTER JOIN got g USING (trial_id, case_index, judge) \
             WHERE w.trial_id IS NULL OR g.n IS DISTINCT FROM 1"
                .to_string(),
            // Per judge: how its calls ended.
            "SELECT judge, error_kind, grade IS NOT NULL, count(*) FROM judgements \
             GROUP BY ALL ORDER BY ALL"
                .to_string(),
            // configs counts the judge calls that were sent (judgements.parquet also holds
            // those the signal kept from being sent), and those of them without a grade.
            "WITH made AS (SELECT * FROM judgements WHERE error_message IS DISTINCT FROM \
               'run interrupted before this judge call was sent') \
             SELECT c.judge_calls, (SELECT count(*) FROM made), c.judge_errors, \
               (SELECT count(*) FROM made WHERE grade IS NULL) FROM configs c"
                .to_string(),
            // A case the signal left without the panel's verdict is an error whose reason is
            // the interruption (not a judge failure); a failed case keeps its own error kind.
            "SELECT s.status, s.reason = coalesce(c.error_kind, 'cancelled'), \
               s.agreement IS NULL, count(*) \
             FROM scores s JOIN cases c USING (trial_id, case_index) \
             WHERE s.scorer = 'llm_judge' GROUP BY ALL"
                .to_string(),
            "SELECT judge_agreement FROM score_stats WHERE scorer = 'llm_judge'".to_string(),
        ],
    );
    assert!(r[0].is_empty(), "{panel}: judgements: {:?}", r[0]);
    let ended: Vec<(String, String, bool)> = r[1]
        .iter()
        .map(|row| {
            (
                row[0].as_str().unwrap().to_string(),
                row[1].as_str().unwrap_or("graded").to_string(),
                row[2].as_bool().unwrap(),
            )
        })
        .collect();
    // judge_b graded nothing. judge_a: asked after judge_b, it was never asked; asked first, it
    // graded every case but those whose calls were still in flight when the signal landed.
    let a_graded = ended.contains(&("judge_a".into(), "graded".into(), true));
    assert_eq!(a_graded, graded_by_a, "{panel}: {ended:?}");
    for e in &ended {
        assert!(
            e.2 || e.1 == "cancelled",
            "{panel}: an ungraded call that was not cancelled: {ended:?}"
        );
        assert!(e.0 == "judge_a" || !e.2, "{panel}: {ended:?}");
    }
    let counts = &r[2][0];
    assert_eq!(int(&counts[0]), int(&counts[1]), "{counts:?}");
    assert_eq!(int(&counts[2]), int(&counts[3]), "{counts:?}");
    assert_eq!(
        r[3],
        [vec![
            Value::from("error"),
            Value::from(true),
            Value::from(true),
            Value::from(40)
        ]],
        "{panel}"
    );
    assert_eq!(r[4], [vec![Value::Null]], "{panel}");
    let _ = std::fs::remove_dir_all(&out);
}

/// A second signal while the judges grade exits at once, without a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_while_judging_exits_without_a_panic() {
    let server = common::start(judge_script(60_000)).await;
    let out = temp_dir("judging-twice");
    let p = pipeline(
        &out,
        &judged_pipeline(&server.url("/v1"), 4, "judge_b, judge_a"),
    );
    let child = spawn_run(&p, &out, &[("FRONTIER_TEST_JUDGE_KEY", "sk-judge")]);
    received(&server, 1).await;
    signal(&child, &[libc::SIGTERM, libc::SIGINT]);
    let o = tokio::task::spawn_blocking(move || wait(child))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(matches!(o.status.code(), Some(130 | 143)), "{}", text(&o));
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}

/// Trials stopped by `max_errors` / `max_error_rate`, one of them an open loop whose capped
/// cases are stored as `not_sent`: the scored cases are the measured ones that were sent,
/// warm-up excluded, and the statistics of each trial count exactly those.
#[test]
fn error_limits_stop_scored_trials_with_every_sent_case_scored_once() {
    let out = temp_dir("limits");
    let p = pipeline(
        &out,
        r#"
version: 1
name: limits
endpoints:
  broken:
    kind: simulated
    profile: { decode_ms: 2, error_rate: 1.0 }
  flaky:
    kind: simulated
    profile: { slots: 2, decode_ms: 10, error_rate: 0.5, seed: 5, quality: 0.7 }
datasets:
  qa: { path: DATASET, input: question, reference: answers, id: id }
grid:
  product:
    endpoint: [broken, flaky]
  repeats: 2
workload:
  arrival: { poisson: { rate: 200, max_concurrency: 2 } }
  requests: 400
  warmup: 3
  max_errors: 15
  max_error_rate: 0.6
flow:
  - id: answer
    llm: { endpoint: "{{ grid.endpoint }}", prompt: "{{ item.question }}", params: { max_tokens: 8 } }
evaluators:
  - exact: {}
  - contains: { extract: { after: "ANSWER:" } }
"#,
    );
    let (o, run_dir) = run_to_end(&p, &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(manifest_status(&run_dir), "completed");
    let c = read(&run_dir.join("configs.parquet"));
    for reason in strings(&c, "stop_reason") {
        assert!(
            matches!(reason.as_deref(), Some("max_errors" | "max_error_rate")),
            "{reason:?}"
        );
    }
    let n = check_scores_are_complete(&run_dir, &["exact", "contains"]);
    let cases: f64 = floats(&c, "cases").iter().map(|v| v.unwrap()).sum();
    assert_eq!(n as f64, cases);
    let _ = std::fs::remove_dir_all(&out);
}

/// Two stages with time-based warm-up and cool-down: only measured cases are scored, and each
/// stage's score_stats and configs rows count that stage's cases.
#[test]
fn stages_with_warmup_and_cooldown_score_only_measured_cases_per_stage() {
    let out = temp_dir("steps");
    let p = pipeline(
        &out,
        r#"
version: 1
name: steps
endpoints:
  sim:
    kind: simulated
    profile: { slots: 4, decode_ms: 2, prefill_tok_s: 0, quality: 0.6 }
datasets:
  qa: { path: DATASET, input: question, reference: answers, id: id }
workload:
  arrival:
    steps:
      - { concurrency: 2, duration: 700ms }
      - { rate: 50, duration: 700ms }
  warmup_duration: 150ms
  cooldown_duration: 150ms
grid: { repeats: 2 }
flow:
  - id: answer
    llm: { endpoint: sim, prompt: "{{ item.question }}", params: { max_tokens: 8 } }
evaluators:
  - token_f1: {}
  - exact: {}
"#,
    );
    let (o, run_dir) = run_to_end(&p, &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    check_scores_are_complete(&run_dir, &["token_f1", "exact"]);
    let r = duck(
        &run_dir,
        &[
            "SELECT phase, count(*) FROM cases GROUP BY ALL ORDER BY ALL".to_string(),
            "SELECT stage, scorer, scored + unscored + errors FROM score_stats ORDER BY ALL"
                .to_string(),
        ],
    );
    let phases: Vec<String> = r[0]
        .iter()
        .map(|row| row[0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(phases, ["cooldown", "measure", "warmup"], "{:?}", r[0]);
    let stats: Vec<(i64, String)> = r[1]
        .iter()
        .map(|row| (int(&row[0]), row[1].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        stats,
        [
            (0, "exact".to_string()),
            (0, "token_f1".to_string()),
            (1, "exact".to_string()),
            (1, "token_f1".to_string())
        ]
    );
    assert!(r[1].iter().all(|row| int(&row[2]) > 0), "{:?}", r[1]);
    let _ = std::fs::remove_dir_all(&out);
}

/// SQuAD's normalisation in SQL (lowercase, no ASCII punctuation, articles out, whitespace
/// collapsed): what majority votes compare when nothing was extracted.
const SQUAD: &str = "trim(regexp_replace(regexp_replace(regexp_replace(lower(answer), \
                     '[!-/:-@\\[-`{-~]', '', 'g'), '\\b(a|an|the)\\b', ' ', 'g'), '\\s+', ' ', 'g'))";

/// Repeats: pass@k, pass^k, majority and flip rate in score_stats equal what SQL computes from
/// scores.parquet (per trial, stage and scorer), over two trials. Each execution's prompt
/// differs (its case index), so the engine's answers differ between repeats.
#[test]
fn repeat_statistics_match_sql_over_scores_parquet() {
    let out = temp_dir("repeats");
    let p = pipeline(
        &out,
        r#"
version: 1
name: repeats
endpoints:
  good:
    kind: simulated
    profile: { slots: 8, decode_ms: 1, prefill_tok_s: 0, quality: 0.7 }
  poor:
    kind: simulated
    profile: { slots: 8, decode_ms: 1, prefill_tok_s: 0, quality: 0.4, seed: 3 }
datasets:
  qa: { path: DATASET, input: question, reference: answers, id: id }
workload:
  arrival: { concurrency: 8 }
  warmup: 5
grid:
  repeats: 4
  product:
    endpoint: [good, poor]
flow:
  - id: answer
    llm: { endpoint: "{{ grid.endpoint }}", prompt: "{{ item.question }} (attempt {{ case.index }})", params: { max_tokens: 8 } }
evaluators:
  - exact: {}
  - token_f1: {}
  - contains: { extract: { regex: { pattern: '(\w+)' } } }
"#,
    );
    let (o, run_dir) = run_to_end(&p, &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    check_scores_are_complete(&run_dir, &["exact", "token_f1", "contains"]);
    let sql = format!(
        "WITH s AS (SELECT s.*, st.stage, coalesce(extracted, {SQUAD}) AS key \
           FROM scores s JOIN {STAGES} st USING (trial_id, case_index) WHERE status = 'scored'), \
         rows AS (SELECT trial_id, stage, scorer, case_id, count(*) AS n, \
             count(*) FILTER (WHERE score >= 0.5) AS c FROM s GROUP BY ALL), \
         keys AS (SELECT trial_id, stage, scorer, case_id, key, count(*) AS votes, \
             min(score) AS low FROM s GROUP BY ALL), \
         maj AS (SELECT trial_id, stage, scorer, case_id, \
             arg_min(low, (-votes, low)) AS majority FROM keys GROUP BY ALL), \
         k AS (SELECT DISTINCT trial_id, stage, scorer, k FROM score_stats), \
         per_row AS (SELECT r.*, k.k, m.majority, \
             CASE WHEN r.n < k.k THEN NULL WHEN r.n - r.c < k.k THEN 1.0 \
               ELSE 1 - exp(lgamma(r.n - r.c + 1) - lgamma(r.n - r.c - k.k + 1) \
                 - lgamma(r.n + 1) + lgamma(r.n - k.k + 1)) END AS pass_at_k, \
             CASE WHEN r.n < k.k THEN NULL WHEN r.c < k.k THEN 0.0 \
               ELSE exp(lgamma(r.c + 1) - lgamma(r.c - k.k + 1) \
                 - lgamma(r.n + 1) + lgamma(r.n - k.k + 1)) END AS pass_hat_k, \
             CASE WHEN r.n < 2 THEN NULL WHEN r.c > 0 AND r.c < r.n THEN 1.0 ELSE 0.0 END AS flip \
           FROM rows r JOIN k USING (trial_id, stage, scorer) \
           JOIN maj m USING (trial_id, stage, scorer, case_id)), \
         want AS (SELECT trial_id, stage, scorer, avg(pass_at_k) AS pass_at_k, \
             avg(pass_hat_k) AS pass_hat_k, avg(majority) AS majority, avg(flip) AS flip_rate \
           FROM per_row GROUP BY ALL) \
         SELECT ss.trial_id, ss.stage, ss.scorer, ss.pass_at_k, w.pass_at_k, ss.pass_hat_k, \
           w.pass_hat_k, ss.majority, w.majority, ss.flip_rate, w.flip_rate \
         FROM score_stats ss FULL OUTER JOIN want w USING (trial_id, stage, scorer) \
         ORDER BY ALL"
    );
    let r = duck(&run_dir, &[sql]);
    assert_eq!(r[0].len(), 6, "two trials x three scorers: {:?}", r[0]);
    let close = |a: &Value, b: &Value| match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        (None, None) => a.is_null() && b.is_null(),
        _ => false,
    };
    let mut flips = 0.0;
    for row in &r[0] {
        for (name, i) in [
            ("pass_at_k", 3),
            ("pass_hat_k", 5),
            ("majority", 7),
            ("flip_rate", 9),
        ] {
            assert!(
                close(&row[i], &row[i + 1]),
                "{name}: score_stats {} vs SQL {} in {row:?}",
                row[i],
                row[i + 1]
            );
        }
        flips += row[9].as_f64().unwrap_or(0.0);
    }
    // The mix exercises what it should: repeats that disagree.
    assert!(flips > 0.0, "{:?}", r[0]);
    let _ = std::fs::remove_dir_all(&out);
}

/// A signal while sessions wait out their think time ends them before their last turn: such a
/// case has no final answer, so it is stored as `cancelled` and scored as an error, not scored
/// on an earlier turn's answer as if the conversation had finished.
#[test]
fn a_session_cut_short_by_a_signal_is_not_scored_on_an_earlier_turn() {
    let out = temp_dir("sessions");
    let p = pipeline(
        &out,
        r#"
version: 1
name: sessions
endpoints:
  sim:
    kind: simulated
    profile: { slots: 4, decode_ms: 2, prefill_tok_s: 0, quality: 0.9 }
datasets:
  qa: { path: DATASET, input: question, reference: answers, id: id }
workload:
  arrival: { concurrency: 4 }
  session: { turns: 3, think_time: 60s }
flow:
  - id: answer
    llm: { endpoint: sim, prompt: "{% if turn.index == 0 %}{{ item.question }}{% else %}Go on.{% endif %}", params: { max_tokens: 8 } }
evaluators:
  - exact: {}
"#,
    );
    let child = spawn_run(&p, &out, &[]);
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, &[libc::SIGINT]);
    let o = wait(child);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let run_dir = run_dir_of(&String::from_utf8_lossy(&o.stdout)).expect("results line");
    assert_eq!(manifest_status(&run_dir), "interrupted");
    check_scores_are_complete(&run_dir, &["exact"]);
    // No session can have finished (a minute of think time between turns): every case is
    // cancelled, without an answer, and scored as an error for it.
    let r = duck(
        &run_dir,
        &[
            "SELECT c.ok, c.error_kind, c.answer IS NULL, s.status, s.reason, count(*) \
             FROM cases c JOIN scores s USING (trial_id, case_index) GROUP BY ALL"
                .to_string(),
        ],
    );
    assert_eq!(r[0].len(), 1, "{:?}", r[0]);
    let row = &r[0][0];
    assert_eq!(
        row[..5],
        [
            Value::from(false),
            Value::from("cancelled"),
            Value::from(true),
            Value::from("error"),
            Value::from("cancelled")
        ],
        "{row:?}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// A judge-only endpoint reads its API key from the environment like a step's endpoint: unset,
/// the run stops before it starts (exit 2) rather than sending every judge call without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judge_only_endpoint_without_its_api_key_stops_the_run() {
    let server = common::start(judge_script(0)).await;
    let out = temp_dir("judge-key");
    let p = pipeline(
        &out,
        &judged_pipeline(&server.url("/v1"), 4, "judge_b, judge_a"),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env_remove("FRONTIER_TEST_JUDGE_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = tokio::task::spawn_blocking(move || wait(child))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr.contains("FRONTIER_TEST_JUDGE_KEY") && stderr.contains("judge_b"),
        "{stderr}"
    );
    assert!(server.exchanges().is_empty());
    let _ = std::fs::remove_dir_all(&out);
}

/// Sessions that an error limit stops before their last turn are not scored on an earlier
/// turn's answer either: a case is scored only when its conversation finished.
#[test]
fn sessions_stopped_by_an_error_limit_are_scored_only_when_finished() {
    let out = temp_dir("sessions-limit");
    let p = pipeline(
        &out,
        r#"
version: 1
name: sessions-limit
endpoints:
  flaky:
    kind: simulated
    profile: { slots: 4, decode_ms: 2, prefill_tok_s: 0, error_rate: 0.2, seed: 7, quality: 0.9 }
datasets:
  qa: { path: DATASET, input: question, reference: answers, id: id }
workload:
  arrival: { concurrency: 4 }
  requests: 40
  max_errors: 3
  session: { turns: 3, think_time: 200ms }
flow:
  - id: answer
    llm: { endpoint: flaky, prompt: "{% if turn.index == 0 %}{{ item.question }}{% else %}Go on {{ turn.index }} {{ case.index }}.{% endif %}", params: { max_tokens: 8 } }
evaluators:
  - exact: {}
"#,
    );
    let (o, run_dir) = run_to_end(&p, &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let c = read(&run_dir.join("configs.parquet"));
    assert_eq!(strings(&c, "stop_reason"), vec![Some("max_errors".into())]);
    check_scores_are_complete(&run_dir, &["exact"]);
    let r = duck(
        &run_dir,
        &[
            // A case without an error ran all three turns; one scored ran all three turns.
            "SELECT c.case_index, c.steps, c.error_kind, s.status FROM cases c \
             JOIN scores s USING (trial_id, case_index) \
             WHERE (c.error_kind IS NULL OR s.status <> 'error') AND c.steps <> 3"
                .to_string(),
            "SELECT count(*) FILTER (WHERE steps = 3 AND ok), \
               count(*) FILTER (WHERE NOT ok AND error_kind = 'cancelled') FROM cases"
                .to_string(),
        ],
    );
    assert!(r[0].is_empty(), "unfinished sessions scored: {:?}", r[0]);
    assert!(int(&r[1][0][0]) > 0, "{:?}", r[1]);
    let _ = std::fs::remove_dir_all(&out);
}
