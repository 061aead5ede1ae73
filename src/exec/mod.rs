//! Running a plan: trials one after another; in each, one schedule drives one worker loop that
//! starts flow executions (cases), each running its steps through the client; records stream
//! to the store as they complete; measured cases are scored as they finish, beside the trial
//! (`scoring`; with LLM judges, when it ends); the run ends with `configs.parquet`, the named
//! queries and the manifest.

pub mod judge;
pub mod manifest;
pub mod pacer;
pub mod schedule;
pub mod scoring;
pub mod stats;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::client::{Api, CallError, CallOutcome, ErrorKind, LlmClient, LlmRequest};
use crate::clock::Clock;
use crate::error::Error;
use crate::plan::{Load, Plan, Trial};
use crate::sim::{Knowledge, SimConfig, SimServer};
use crate::spec::{ApiKind, EndpointSpec, PricingSpec};
use crate::store::{CaseRow, Columns, ConfigRow, Record, RequestRow, RunWriter, configs_schema};
use pacer::Pacer;
use schedule::Schedule;
use scoring::{MeasuredCase, RowSink, Scored, Scoring};
use stats::{Phase, RequestMetrics, StageRun, TokenStats, TrialResults};

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Results root (`<out>/<pipeline>/<run_id>/`).
    pub out_dir: PathBuf,
    /// Draw a progress bar (only when stdout is a terminal).
    pub progress: bool,
    /// Print nothing while running (no per-trial lines).
    pub quiet: bool,
    /// The stop flag of a caller that listens for signals itself ([`stop_on_signals`]) across
    /// several runs (`frontier calibrate`); `None`: the run listens for its own.
    pub interrupt: Option<watch::Receiver<bool>>,
    /// Every endpoint is frontier's own engine on loopback (`frontier calibrate`'s `openai`
    /// endpoint): no request goes through a proxy from the environment. Simulated endpoints
    /// never do.
    pub direct: bool,
}

/// What a finished run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// Run id.
    pub run_id: String,
    /// The run's folder.
    pub run_dir: PathBuf,
    /// Files written with their row counts.
    pub files: Vec<(PathBuf, u64)>,
    /// The `configs` table.
    pub configs: RecordBatch,
    /// Each named query's result.
    pub queries: Vec<(String, RecordBatch)>,
    /// LLM calls (all phases; `not_sent` cases excluded).
    pub requests: u64,
    /// LLM calls that failed.
    pub failed: u64,
    /// Of `requests`, those never sent (a template that failed on the row).
    pub unsent: u64,
    /// The run was interrupted (Ctrl-C).
    pub interrupted: bool,
    /// Wall time in seconds.
    pub wall_s: f64,
    /// The run's clock (the `*_ns` columns are nanoseconds since its epoch).
    pub clock: Clock,
}

/// Where a step's requests go during one trial.
#[derive(Clone)]
struct StepTarget {
    url: reqwest::Url,
    api_key: Option<String>,
    api: Api,
    token_prices: Option<(f64, f64)>,
    /// Served by frontier's own engine: never through a proxy (`LlmRequest::direct`).
    direct: bool,
}

/// State shared by the tasks of one trial.
struct TrialShared {
    plan: Arc<Plan>,
    trial: Trial,
    trial_id: Arc<str>,
    targets: Vec<StepTarget>,
    step_names: Vec<(Arc<str>, Arc<str>, Arc<str>)>,
    client: LlmClient,
    clock: Clock,
    tx: tokio::sync::mpsc::Sender<Record>,
    metrics: Mutex<Vec<RequestMetrics>>,
    /// Token and chunk gaps of measured successful requests, per stage.
    tokens: Vec<Mutex<TokenStats>>,
    /// Measured cases go to the trial's scoring thread (`None` without scorers).
    scoring: Option<std::sync::mpsc::Sender<MeasuredCase>>,
    progress: ProgressBar,
    /// Failed requests so far (all phases).
    errors: AtomicU64,
    /// Finished requests so far (all phases).
    finished: AtomicU64,
    /// Measured cases per stage.
    measured_cases: Vec<AtomicU64>,
    /// Cases per stage released by the schedule but never sent: still waiting for a place
    /// under `max_concurrency` when the trial stopped.
    not_sent: Vec<AtomicU64>,
    /// Measured failed calls per stage, by error kind, for the trial's summary line.
    error_kinds: Vec<Mutex<ErrorKinds>>,
    cancel: watch::Receiver<bool>,
    /// Set when the trial must stop scheduling (error limits); `stop_reason` says why.
    halt: watch::Sender<bool>,
    stop_reason: Mutex<Option<&'static str>>,
    /// The trial's start (offsets for `warmup_duration` / `cooldown_duration`).
    start: Instant,
    /// Progress-bar label of the trial.
    label: String,
}

/// When and how one execution was started.
#[derive(Clone, Copy, Debug)]
struct CaseStart {
    index: u64,
    stage: usize,
    /// The stage's actual start.
    stage_start: Instant,
    /// The schedule's send time (closed loop: when a place freed up).
    intended: Instant,
    /// When the case's task started running (after the pacer released it).
    dispatched: Instant,
    /// When it got a place under `max_concurrency` (`None`: no cap).
    acquired: Option<Instant>,
}

/// Resolves once `cancel` is raised (Ctrl-C / SIGTERM): a call's interruption.
pub(crate) fn cancelled(
    cancel: &watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> + use<> {
    let mut cancel = cancel.clone();
    async move {
        let _ = cancel.wait_for(|c| *c).await;
    }
}

/// A flag raised by the first SIGINT (Ctrl-C), SIGTERM (what `timeout`, `docker stop`, systemd
/// and CI cancellation send) or SIGHUP, and the task that waits for them. The handlers are in
/// place when this returns. A raised flag stops scheduling, cancels calls in flight (stored as
/// `cancelled`) and closes every file, as README "Exit codes" says. A second signal exits at
/// once with 128 + its number (130 for Ctrl-C), leaving the files being written unfinished:
/// the way out when the orderly stop is not wanted.
/// The notices go around the progress bar, once there is one (`bar`), so that its redraw does
/// not erase them.
pub fn stop_on_signals(
    bar: Arc<std::sync::OnceLock<ProgressBar>>,
) -> Result<(watch::Receiver<bool>, AbortOnDrop), Error> {
    let (tx, rx) = watch::channel(false);
    let say = move |line: &str| match bar.get() {
        Some(pb) => pb.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    };
    let announce = "frontier: stopping: cancelling calls in flight and closing every file \
                    (signal again to exit at once, leaving them unfinished)";
    #[cfg(unix)]
    let task = {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let listen = |kind: SignalKind| {
            signal(kind).map_err(|e| Error::Run(format!("cannot listen for signals: {e}")))
        };
        let mut signals = [
            (listen(SignalKind::interrupt())?, libc::SIGINT),
            (listen(SignalKind::terminate())?, libc::SIGTERM),
            (listen(SignalKind::hangup())?, libc::SIGHUP),
        ];
        async fn next(signals: &mut [(Signal, libc::c_int); 3]) -> libc::c_int {
            let [(int, a), (term, b), (hup, c)] = signals;
            tokio::select! {
                _ = int.recv() => *a,
                _ = term.recv() => *b,
                _ = hup.recv() => *c,
            }
        }
        tokio::spawn(async move {
            next(&mut signals).await;
            let _ = tx.send(true);
            say(announce);
            let second = next(&mut signals).await;
            say("error: a second signal: exiting now; the run's files are unfinished");
            std::process::exit(128 + second);
        })
    };
    #[cfg(not(unix))]
    let task = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = tx.send(true);
            say(announce);
            if tokio::signal::ctrl_c().await.is_ok() {
                say("error: a second Ctrl-C: exiting now; the run's files are unfinished");
                std::process::exit(130);
            }
        }
    });
    Ok((rx, AbortOnDrop(task)))
}

/// Stops the signal task (and so drops its handlers' streams) when dropped.
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Run every trial of `plan` and write the results.
pub async fn run(plan: Arc<Plan>, opts: &RunOptions) -> Result<RunOutcome, Error> {
    // First, so that a signal arriving while the run starts is not lost.
    // Listening until the run returns: a second signal while results are written still exits.
    let bar = Arc::new(std::sync::OnceLock::new());
    let (cancel_rx, _signals) = match &opts.interrupt {
        Some(rx) => (rx.clone(), None),
        None => {
            let (rx, guard) = stop_on_signals(bar.clone())?;
            (rx, Some(guard))
        }
    };
    let wall_start = Instant::now();
    let started = chrono::Utc::now();
    let run_id = format!("{}-{:04x}", started.format("%Y%m%dT%H%M%SZ"), run_suffix());
    // Before anything is created: a missing key must not leave an empty run folder behind.
    let targets_by_endpoint = resolve_api_keys(&plan)?;
    let run_dir = opts.out_dir.join(&plan.name).join(&run_id);
    std::fs::create_dir_all(&run_dir).map_err(|e| Error::io(&run_dir, e))?;
    let dataset_digests = manifest::dataset_digests(&plan);
    manifest::write(
        &run_dir,
        &manifest::Manifest::running(&plan, &run_id, started, &dataset_digests),
    )?;

    let clock = Clock::start();
    let started_unix_us = started.timestamp_micros() - clock.now_ns() / 1000;
    let writer = RunWriter::start(&run_dir, &run_id, started_unix_us)?;
    let client =
        LlmClient::new().map_err(|e| Error::Run(format!("cannot build the HTTP client: {e}")))?;
    let knowledge = Arc::new(Knowledge::of_plan(&plan));

    let total = plan.total_requests();
    let progress = if opts.progress && !opts.quiet && std::io::stdout().is_terminal() {
        let pb = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(10));
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} requests  {per_sec}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        pb
    } else {
        ProgressBar::hidden()
    };
    let _ = bar.set(progress.clone());

    let mut config_rows: Vec<ConfigRow> = Vec::new();
    let (mut sent, mut failed, mut unsent) = (0u64, 0u64, 0u64);
    let mut run_error: Option<Error> = None;
    for trial in &plan.trials {
        if *cancel_rx.borrow() {
            break;
        }
        let label = format!(
            "trial {}/{} {}",
            trial.index + 1,
            plan.trials.len(),
            crate::plan::grid::describe(&trial.grid)
        );
        progress.set_message(label.clone());
        let ctx = TrialContext {
            plan: &plan,
            keys: &targets_by_endpoint,
            knowledge: &knowledge,
            client: &client,
            clock,
            writer: &writer,
            progress: &progress,
            cancel: &cancel_rx,
            quiet: opts.quiet,
            direct: opts.direct,
        };
        match run_one_trial(&ctx, trial, label).await {
            Ok((rows, [trial_sent, trial_failed, trial_unsent])) => {
                sent += trial_sent;
                failed += trial_failed;
                unsent += trial_unsent;
                config_rows.extend(rows);
            }
            Err(e) => {
                // Stop, but still close the files so that everything so far stays readable.
                run_error = Some(e);
                break;
            }
        }
    }
    progress.finish_and_clear();
    let interrupted = *cancel_rx.borrow();

    let mut files = writer.finish()?;
    // configs.parquet
    let schema = configs_schema(&plan.grid_types, &plan.scorers);
    let mut cols = Columns::new(schema);
    for r in &config_rows {
        r.fill(&mut cols, &run_id, &plan.grid_types);
    }
    let configs = cols.finish();
    let configs_path = run_dir.join("configs.parquet");
    crate::store::write_batch(&configs_path, &configs, &run_id)?;
    files.push((configs_path, configs.num_rows() as u64));

    // Named queries over the finished tables. One that fails on the results (`%` by zero, an
    // overflow: what checking it against empty tables cannot find) fails the run, but the
    // others are still written and the manifest is finished, saying so.
    let mut queries = Vec::new();
    if !plan.queries.is_empty() {
        let tables = crate::query::Tables::load_run(&run_dir)
            .map_err(|e| Error::Run(format!("loading results for queries: {e}")))?;
        for (name, q) in &plan.queries {
            let batch = match crate::report::run_named_query(&tables, &run_dir, q) {
                Ok(batch) => batch,
                Err(e) => {
                    if run_error.is_none() {
                        run_error = Some(Error::Run(format!("named query `{name}`: {e}")));
                    }
                    continue;
                }
            };
            let path = run_dir.join(format!("{name}.parquet"));
            crate::store::write_batch(&path, &batch, &run_id)?;
            files.push((path, batch.num_rows() as u64));
            queries.push((name.clone(), batch));
        }
    }

    let ended = chrono::Utc::now();
    let mut m = manifest::Manifest::running(&plan, &run_id, started, &dataset_digests);
    m.finish(ended, interrupted, sent, failed, &files, &run_dir);
    if let Some(e) = &run_error {
        m.status = "failed";
        m.error = Some(e.to_string());
    }
    manifest::write(&run_dir, &m)?;
    if let Some(e) = run_error {
        return Err(e);
    }
    files.push((run_dir.join("manifest.json"), 0));
    Ok(RunOutcome {
        run_id,
        run_dir,
        files,
        configs,
        queries,
        requests: sent,
        failed,
        unsent,
        interrupted,
        wall_s: wall_start.elapsed().as_secs_f64(),
        clock,
    })
}

/// What every trial of a run shares.
struct TrialContext<'a> {
    plan: &'a Arc<Plan>,
    keys: &'a HashMap<String, Option<String>>,
    knowledge: &'a Arc<Knowledge>,
    client: &'a LlmClient,
    clock: Clock,
    writer: &'a RunWriter,
    progress: &'a ProgressBar,
    cancel: &'a watch::Receiver<bool>,
    quiet: bool,
    direct: bool,
}

/// Run one trial: start its engines, run its cases, score them, summarise it. Returns the
/// `configs` rows (one per stage) and the numbers of calls, of failed calls and of calls never
/// sent (a template that failed on the row).
async fn run_one_trial(
    ctx: &TrialContext<'_>,
    trial: &Trial,
    label: String,
) -> Result<(Vec<ConfigRow>, [u64; 3]), Error> {
    let plan = ctx.plan;
    let (targets, judge_targets, sims) =
        start_targets(plan, trial, ctx.keys, ctx.knowledge, ctx.direct).await?;
    let trial_id: Arc<str> = Arc::from(trial.id.as_str());
    let sink = RowSink {
        tx: ctx.writer.sender(),
        trial_id: trial_id.clone(),
        trial_index: trial.index as i64,
    };
    // Room for the measured cases when their number is known (at most the trial's cases).
    let capacity = trial.cases.map_or(0, |c| c.min(1 << 24) as usize);
    let scoring =
        (!plan.scorers.is_empty()).then(|| Scoring::start(plan.clone(), sink.clone(), capacity));
    let shared = Arc::new(TrialShared {
        plan: plan.clone(),
        trial: trial.clone(),
        trial_id,
        step_names: trial
            .steps
            .iter()
            .map(|s| {
                (
                    Arc::from(s.step_id.as_str()),
                    Arc::from(s.endpoint.as_str()),
                    Arc::from(s.model.as_str()),
                )
            })
            .collect(),
        targets,
        client: ctx.client.clone(),
        clock: ctx.clock,
        tx: ctx.writer.sender(),
        // Sized up front when the count is known, so the vector never doubles past it.
        metrics: Mutex::new(Vec::with_capacity(
            trial
                .cases
                .map_or(0, |c| {
                    c.saturating_mul(trial.steps.len() as u64 * u64::from(trial.turns))
                })
                .min(1 << 24) as usize,
        )),
        tokens: trial
            .arrival
            .stages
            .iter()
            .map(|_| Mutex::new(TokenStats::default()))
            .collect(),
        scoring: scoring.as_ref().and_then(Scoring::sender),
        progress: ctx.progress.clone(),
        errors: Default::default(),
        finished: Default::default(),
        measured_cases: trial
            .arrival
            .stages
            .iter()
            .map(|_| AtomicU64::new(0))
            .collect(),
        not_sent: trial
            .arrival
            .stages
            .iter()
            .map(|_| AtomicU64::new(0))
            .collect(),
        error_kinds: trial
            .arrival
            .stages
            .iter()
            .map(|_| Mutex::new(ErrorKinds::default()))
            .collect(),
        cancel: ctx.cancel.clone(),
        halt: watch::channel(false).0,
        stop_reason: Mutex::new(None),
        start: Instant::now(),
        label,
    });
    let stage_runs = run_trial(shared.clone()).await?;
    let mut shared = Arc::try_unwrap(shared)
        .map_err(|_| Error::Internal("trial tasks outlived their trial".into()))?;
    // Every case has been sent to the scorers: close the channel so that the thread drains.
    drop(shared.scoring.take());
    let metrics = shared
        .metrics
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let tokens: Vec<TokenStats> = shared
        .tokens
        .into_iter()
        .map(|t| {
            let mut t = t.into_inner().unwrap_or_else(|p| p.into_inner());
            t.sort_exact();
            t
        })
        .collect();
    let trial_sent = metrics.len() as u64;
    let trial_failed = metrics.iter().filter(|m| !m.ok).count() as u64;
    let trial_unsent = metrics.iter().filter(|m| !m.was_sent()).count() as u64;

    let stages = stage_runs.len().max(1);
    let mut judge_usage: Vec<Option<judge::JudgeUsage>> = vec![None; stages];
    let scores = match scoring {
        None => scoring::TrialScores::default(),
        Some(scoring) => match scoring.finish().await? {
            Scored::Streamed(scores) => scores,
            Scored::Held(held) => {
                // Scored on the rayon pool, away from the I/O tasks.
                let (held, mut scores) = {
                    let plan = Arc::clone(plan);
                    tokio::task::spawn_blocking(move || {
                        let scores = scoring::score_held(&plan, &held);
                        (held, scores)
                    })
                    .await
                    .map_err(|e| Error::Internal(format!("scoring task failed: {e}")))?
                };
                // LLM judges grade the answers over HTTP, now that the trial is over (their
                // engines are still up).
                let mut agreements: Vec<Vec<Option<f64>>> =
                    vec![vec![None; plan.scorers.len()]; held.len()];
                for jp in &plan.judges {
                    let cases: Vec<judge::JudgeCase<'_>> = held
                        .iter()
                        .map(|a| judge::JudgeCase {
                            case_index: a.case_index,
                            row: a.row,
                            repeat: a.repeat,
                            stage: a.stage,
                            answer: &a.answer,
                            error: a.error,
                        })
                        .collect();
                    let targets: Vec<judge::JudgeTarget> = jp
                        .judges
                        .iter()
                        .filter_map(|name| {
                            judge_targets.iter().find(|t| &*t.endpoint == name).cloned()
                        })
                        .collect();
                    let run = judge::JudgeRun {
                        plan,
                        judge: jp,
                        targets: &targets,
                        client: ctx.client,
                        clock: ctx.clock,
                        trial_id: shared.trial_id.clone(),
                        trial_index: trial.index as i64,
                        tx: &shared.tx,
                        stages,
                        cancel: ctx.cancel.clone(),
                    };
                    let (judged, usage) = judge::judge_all(&run, &cases).await;
                    for (i, j) in judged.into_iter().enumerate() {
                        if let Some(slot) =
                            scores.get_mut(i).and_then(|s| s.get_mut(jp.scorer_index))
                        {
                            slot.score = j.score;
                        }
                        agreements[i][jp.scorer_index] = j.agreement;
                    }
                    for (total, u) in judge_usage.iter_mut().zip(usage) {
                        *total = Some(match total.take() {
                            None => u,
                            Some(t) => t.add(&u),
                        });
                    }
                }
                scoring::write_held(plan, &sink, held, scores, agreements).await?
            }
        },
    };
    for s in sims {
        s.shutdown().await;
    }
    // Per stage and scorer: intervals and repeat statistics (`score_stats`), CPU work run on a
    // blocking thread, away from the I/O tasks; the scores go there and come back.
    let stage_ids: Vec<usize> = stage_runs.iter().map(|r| r.stage).collect();
    let (scores, stat_rows) = {
        let plan = Arc::clone(plan);
        let trial_id = shared.trial_id.clone();
        let trial_index = trial.index;
        tokio::task::spawn_blocking(move || {
            let rows = scoring::score_stats(&plan, &scores, &stage_ids, &trial_id, trial_index);
            (scores, rows)
        })
        .await
        .map_err(|e| Error::Internal(format!("score statistics task failed: {e}")))?
    };
    for row in stat_rows {
        send(&shared.tx, Record::ScoreStat(Box::new(row))).await?;
    }
    let order = scores.order();
    let empty_tokens = TokenStats::default();
    let mut rows = Vec::new();
    for run in &stage_runs {
        let stage_scores: Vec<&[scoring::Kept]> = order
            .iter()
            .filter(|&&p| scores.cases[p].stage() == run.stage)
            .map(|&p| scores.outcomes(p))
            .collect();
        let row = stats::summarise(&TrialResults {
            plan,
            trial,
            stage: run,
            requests: &metrics,
            cases: shared
                .measured_cases
                .get(run.stage)
                .map_or(0, |n| n.load(Ordering::Relaxed)),
            scores: &stage_scores,
            tokens: tokens.get(run.stage).unwrap_or(&empty_tokens),
            judges: judge_usage.get(run.stage).and_then(Option::as_ref),
        });
        let mut line = trial_line(trial, plan.trials.len(), &row);
        if let Some(Ok(kinds)) = shared.error_kinds.get(run.stage).map(|m| m.lock()) {
            line.push_str(&kinds.describe());
        }
        if ctx.progress.is_hidden() {
            if !ctx.quiet {
                // A closed stdout (`frontier run ... | head`) ends the lines, not the run: its
                // files are still written to the end.
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}").and_then(|()| out.flush());
            }
        } else {
            ctx.progress.println(line);
        }
        rows.push(row);
    }
    Ok((rows, [trial_sent, trial_failed, trial_unsent]))
}

fn run_suffix() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = u64::from(nanos) ^ (u64::from(std::process::id()) << 32);
    crate::rng::splitmix64(&mut x) as u16
}

/// Failed calls by error kind, each with the first message seen, so that a trial's summary
/// says why its calls failed without a query.
#[derive(Debug, Default)]
struct ErrorKinds(Vec<(&'static str, u64, Option<String>)>);

impl ErrorKinds {
    /// Longest message quoted (in characters).
    const MESSAGE_CHARS: usize = 400;

    fn add(&mut self, kind: &'static str, message: Option<&str>) {
        match self.0.iter_mut().find(|(k, _, _)| *k == kind) {
            Some((_, n, _)) => *n += 1,
            None => self.0.push((
                kind,
                1,
                message.map(|m| {
                    let mut cut: String = m.chars().take(Self::MESSAGE_CHARS).collect();
                    if cut.len() < m.len() {
                        cut.push_str("...");
                    }
                    cut
                }),
            )),
        }
    }

    /// Indented lines after the trial line, most frequent kind first; empty without failures.
    fn describe(&self) -> String {
        let mut kinds: Vec<_> = self.0.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        kinds
            .iter()
            .map(|(kind, n, message)| match message {
                Some(m) => format!("\n  {n} {kind}: {m}"),
                None => format!("\n  {n} {kind}"),
            })
            .collect()
    }
}

fn trial_line(trial: &Trial, n: usize, row: &ConfigRow) -> String {
    let f = |k: &str| row.floats.get(k).copied().flatten();
    // No value (every request failed, or nothing scored): `n/a`, not a number.
    let fmt = |v: Option<f64>, digits: usize, unit: &str| {
        v.map(|x| format!("{x:.digits$}{unit}"))
            .unwrap_or_else(|| "n/a".into())
    };
    let stages = trial.arrival.stages.len();
    let stage = if stages > 1 {
        format!(" stage {}/{stages} ({})", row.stage + 1, row.load)
    } else {
        String::new()
    };
    let not_sent = match row.ints.get("not_sent").copied().flatten() {
        Some(n) if n > 0 => format!(", {n} not sent ({})", row.stop_reason),
        _ => String::new(),
    };
    format!(
        "trial {}/{} {} {}{stage}: {} requests, {} errors{not_sent}, ttft p95 {}, e2e p95 {}, accuracy {}",
        trial.index + 1,
        n,
        trial.id,
        crate::plan::grid::describe(&trial.grid),
        row.ints.get("requests").copied().flatten().unwrap_or(0),
        row.ints.get("errors").copied().flatten().unwrap_or(0),
        fmt(f("ttft_p95_ms"), 1, " ms"),
        fmt(f("e2e_p95_ms"), 1, " ms"),
        fmt(f("accuracy"), 3, ""),
    )
}

/// API keys come from the environment, checked before anything is sent.
fn resolve_api_keys(plan: &Plan) -> Result<HashMap<String, Option<String>>, Error> {
    let mut keys = HashMap::new();
    for (name, ep) in &plan.spec.endpoints {
        if let EndpointSpec::Openai(o) = ep {
            let used = crate::plan::endpoint_used(&plan.trials, &plan.judges, name);
            let key = match (&o.api_key_env, used) {
                (Some(var), true) => match std::env::var(var) {
                    Ok(v) if !v.is_empty() => Some(v),
                    _ => {
                        return Err(Error::Usage(format!(
                            "endpoint `{name}` reads its API key from the environment variable `{var}` (endpoints.{name}.api_key_env), which is not set\n  help: export {var}=... before running"
                        )));
                    }
                },
                _ => None,
            };
            keys.insert(name.clone(), key);
        }
    }
    Ok(keys)
}

/// Start the trial's simulated engines (one per simulated endpoint its steps or judges use)
/// and resolve where each step and each judge endpoint is served.
async fn start_targets(
    plan: &Plan,
    trial: &Trial,
    keys: &HashMap<String, Option<String>>,
    knowledge: &Arc<Knowledge>,
    all_direct: bool,
) -> Result<(Vec<StepTarget>, Vec<judge::JudgeTarget>, Vec<SimServer>), Error> {
    let mut sims: Vec<(String, SimServer)> = Vec::new();
    let mut targets = Vec::new();
    for step in &trial.steps {
        let (base, api_key, pricing) = endpoint_base(
            plan,
            &step.endpoint,
            &step.endpoint_spec,
            &step.model,
            keys,
            knowledge,
            &mut sims,
        )
        .await?;
        let (path, api) = match step.api {
            ApiKind::Chat => ("/chat/completions", Api::Chat),
            ApiKind::Completions => ("/completions", Api::Completions),
        };
        targets.push(StepTarget {
            url: endpoint_url(&step.endpoint, &format!("{base}{path}"))?,
            api_key,
            api,
            token_prices: token_prices(pricing.as_ref()),
            direct: all_direct || matches!(step.endpoint_spec, EndpointSpec::Simulated(_)),
        });
    }
    let mut judges: Vec<judge::JudgeTarget> = Vec::new();
    for name in plan.judges.iter().flat_map(|j| &j.judges) {
        if judges.iter().any(|t| &*t.endpoint == name) {
            continue;
        }
        let Some(spec) = plan.spec.endpoints.get(name) else {
            continue;
        };
        let model = match spec {
            EndpointSpec::Openai(o) => o.model.clone(),
            EndpointSpec::Simulated(s) => s.model.clone().unwrap_or_else(|| name.clone()),
        };
        let (base, api_key, pricing) =
            endpoint_base(plan, name, spec, &model, keys, knowledge, &mut sims).await?;
        judges.push(judge::JudgeTarget {
            endpoint: Arc::from(name.as_str()),
            model: Arc::from(model.as_str()),
            url: endpoint_url(name, &format!("{base}/chat/completions"))?,
            api_key,
            token_prices: token_prices(pricing.as_ref()),
            direct: all_direct || matches!(spec, EndpointSpec::Simulated(_)),
        });
    }
    Ok((targets, judges, sims.into_iter().map(|(_, s)| s).collect()))
}

fn token_prices(pricing: Option<&PricingSpec>) -> Option<(f64, f64)> {
    match pricing {
        Some(PricingSpec::Tokens(t)) => Some((t.input_per_mtok, t.output_per_mtok)),
        _ => None,
    }
}

/// The base URL, API key and pricing of endpoint `name`, starting its simulated engine if it
/// is simulated and not started yet.
async fn endpoint_base(
    plan: &Plan,
    name: &str,
    spec: &EndpointSpec,
    model: &str,
    keys: &HashMap<String, Option<String>>,
    knowledge: &Arc<Knowledge>,
    sims: &mut Vec<(String, SimServer)>,
) -> Result<(String, Option<String>, Option<PricingSpec>), Error> {
    Ok(match spec {
        EndpointSpec::Openai(o) => (
            o.base_url.trim_end_matches('/').to_string(),
            keys.get(name).cloned().flatten(),
            o.pricing.clone(),
        ),
        EndpointSpec::Simulated(s) => {
            let base = match sims.iter().find(|(n, _)| n == name) {
                Some((_, srv)) => srv.base_url(),
                None => {
                    // The same engine as `frontier sim-server --pipeline` builds.
                    let cfg =
                        SimConfig::for_pipeline(plan, model, s.profile.clone(), knowledge.clone());
                    let srv = SimServer::start(cfg, ([127, 0, 0, 1], 0).into())
                        .await
                        .map_err(|e| {
                            Error::Run(format!(
                                "cannot start the simulated engine for `{name}`: {e}"
                            ))
                        })?;
                    let url = srv.base_url();
                    sims.push((name.to_string(), srv));
                    url
                }
            };
            (base, None, s.pricing.clone())
        }
    })
}

async fn send(tx: &tokio::sync::mpsc::Sender<Record>, rec: Record) -> Result<(), Error> {
    tx.send(rec)
        .await
        .map_err(|_| Error::Run("the results writer stopped (see the error above)".into()))
}

/// Run the trial's stages back to back. Each stage runs one worker loop (closed loop, or the
/// pacer's releases for open loop) and waits for its cases to finish before the next starts.
async fn run_trial(shared: Arc<TrialShared>) -> Result<Vec<StageRun>, Error> {
    let trial = &shared.trial;
    let mut next_index = 0u64;
    let mut runs = Vec::new();
    for (si, stage) in trial.arrival.stages.iter().enumerate() {
        if shared.halted() {
            break;
        }
        let limit = trial.cases.map(|c| c.saturating_sub(next_index));
        if limit == Some(0) {
            break;
        }
        let cpu_before = cpu_time_s();
        let stage_start = if si == 0 {
            shared.start
        } else {
            Instant::now()
        };
        let mut seed = shared.plan.seed ^ (trial.index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        if si > 0 {
            seed ^= crate::rng::splitmix64(&mut (si as u64));
        }
        let schedule = Schedule::new(
            &stage.load,
            stage_start,
            next_index,
            limit,
            stage.duration,
            seed,
        );
        let (count_exhausted, next) = match stage.load {
            Load::Closed { concurrency } => {
                closed_stage(&shared, si, schedule, concurrency, stage.duration).await
            }
            Load::Open { .. } | Load::Trace { .. } => {
                open_stage(&shared, si, schedule, stage.load.max_concurrency()).await?
            }
        };
        next_index = next;
        let stop_reason = if let Some(r) = *lock(&shared.stop_reason) {
            r
        } else if *shared.cancel.borrow() {
            "interrupted"
        } else if count_exhausted {
            "requests"
        } else {
            "duration"
        };
        runs.push(StageRun {
            stage: si,
            load: stage.load.clone(),
            stop_reason,
            cpu_s: match (cpu_before, cpu_time_s()) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            },
            wall_s: stage_start.elapsed().as_secs_f64(),
            not_sent: shared
                .not_sent
                .get(si)
                .map_or(0, |n| n.load(Ordering::Relaxed)),
        });
    }
    Ok(runs)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// This process's CPU time (user + system) in seconds, from `getrusage`. It includes the
/// in-process simulated engine when a trial uses one.
pub fn cpu_time_s() -> Option<f64> {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer it is given; RUSAGE_SELF is valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: getrusage succeeded, so the struct is initialised (and it was zeroed anyway).
    let u = unsafe { u.assume_init() };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(tv(u.ru_utime) + tv(u.ru_stime))
}

impl TrialShared {
    fn halted(&self) -> bool {
        *self.halt.borrow() || *self.cancel.borrow()
    }

    /// Stop scheduling new cases, for `reason` (the first reason wins).
    fn stop(&self, reason: &'static str) {
        lock(&self.stop_reason).get_or_insert(reason);
        self.halt.send_replace(true);
    }

    /// Resolves once the trial must stop scheduling (error limit or Ctrl-C).
    async fn halted_wait(&self) {
        let mut halt = self.halt.subscribe();
        let mut cancel = self.cancel.clone();
        tokio::select! {
            _ = halt.wait_for(|h| *h) => {}
            _ = cancel.wait_for(|c| *c) => {}
        }
    }
}

/// Closed loop: keep `concurrency` cases in flight until the count or the duration is reached.
/// Returns whether the count ended the stage, and the next execution index.
async fn closed_stage(
    shared: &Arc<TrialShared>,
    stage: usize,
    mut schedule: Schedule,
    concurrency: u32,
    duration: Option<Duration>,
) -> (bool, u64) {
    let start = schedule.start();
    let limiter = Arc::new(Semaphore::new(concurrency as usize));
    let mut tasks = JoinSet::new();
    loop {
        if shared.halted() {
            break;
        }
        let permit = tokio::select! {
            p = limiter.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shared.halted_wait() => break,
        };
        // Both may have become ready together (select picks at random): a stop wins.
        if shared.halted() || duration.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
        let Some(slot) = schedule.next_slot() else {
            break;
        };
        let now = Instant::now();
        let start = CaseStart {
            index: slot.index,
            stage,
            stage_start: schedule.start(),
            intended: now,
            dispatched: now,
            acquired: None,
        };
        let s = shared.clone();
        tasks.spawn(async move {
            run_case(&s, start).await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    (schedule.count_exhausted(), schedule.next_slot_index())
}

/// Open loop: the pacer releases each slot at its deadline; each released case starts
/// at once in its own task, waiting for a place first when `max_concurrency` caps it.
async fn open_stage(
    shared: &Arc<TrialShared>,
    stage: usize,
    schedule: Schedule,
    max_concurrency: Option<u32>,
) -> Result<(bool, u64), Error> {
    let first_index = schedule.next_slot_index();
    let stage_start = schedule.start();
    let mut pacer = Pacer::start(schedule, Arc::new(AtomicBool::new(false)))
        .map_err(|e| Error::Run(format!("cannot start the pacer: {e}")))?;
    let limiter = max_concurrency.map(|c| Arc::new(Semaphore::new(c as usize)));
    let mut tasks = JoinSet::new();
    let mut next_index = first_index;
    loop {
        let slot = tokio::select! {
            biased;
            s = pacer.next() => match s { Some(s) => s, None => break },
            _ = shared.halted_wait() => break,
        };
        if shared.halted() {
            break;
        }
        next_index = slot.index + 1;
        let intended = slot.deadline.unwrap_or_else(Instant::now);
        let s = shared.clone();
        let limiter = limiter.clone();
        tasks.spawn(async move {
            let mut start = CaseStart {
                index: slot.index,
                stage,
                stage_start,
                intended,
                dispatched: Instant::now(),
                acquired: None,
            };
            let permit = match limiter {
                None => None,
                Some(l) => {
                    let p = tokio::select! {
                        p = l.acquire_owned() => p.ok(),
                        _ = s.halted_wait() => None,
                    };
                    start.acquired = Some(Instant::now());
                    // A case still waiting for a place when the trial stops is never sent; it
                    // is stored as a `not_sent` row so that its wait is not lost.
                    if p.is_none() || s.halted() {
                        not_sent_case(&s, start).await;
                        return;
                    }
                    p
                }
            };
            run_case(&s, start).await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    let exhausted = pacer.finish();
    while tasks.join_next().await.is_some() {}
    Ok((exhausted, next_index))
}

/// An endpoint's request URL, parsed once.
fn endpoint_url(endpoint: &str, url: &str) -> Result<reqwest::Url, Error> {
    reqwest::Url::parse(url)
        .map_err(|e| Error::Run(format!("endpoint `{endpoint}`: invalid URL `{url}`: {e}")))
}

/// Which dataset row, repeat and phase an execution index maps to: warm-up executions walk the
/// rows from the start; measured ones go row by row, each `repeats` times, cycling.
fn case_of(plan: &Plan, index: u64) -> (usize, u64, bool) {
    if plan.replay {
        let rows = plan.dataset.rows.len().max(1) as u64;
        return ((index % rows) as usize, index / rows, index < plan.warmup);
    }
    let (row, repeat, warmup) = case_of_index(
        index,
        plan.warmup,
        plan.dataset.rows.len() as u64,
        u64::from(plan.repeats),
    );
    (row as usize, repeat, warmup)
}

/// `(row, repeat, is_warmup)` of execution `index` with `warmup` warm-up executions, `rows`
/// dataset rows and `repeats` repeats.
pub fn case_of_index(index: u64, warmup: u64, rows: u64, repeats: u64) -> (u64, u64, bool) {
    if index < warmup {
        return (index % rows, 0, true);
    }
    let m = index - warmup;
    let pass = m / (rows * repeats);
    ((m / repeats) % rows, m % repeats + pass * repeats, false)
}

/// The phase of an execution: warm-up by count or by time from the trial start (`offset`),
/// cool-down by count from the trial's last execution or by time before the scheduled end of
/// its last stage (`stage_offset` from that stage's actual start: a stage starts only once the
/// previous one has drained, so the trial's end is known only from there), else measured.
fn phase_of(
    plan: &Plan,
    trial: &Trial,
    index: u64,
    (stage, stage_offset): (usize, Duration),
    offset: Duration,
    count_warmup: bool,
) -> Phase {
    if count_warmup || plan.warmup_duration.is_some_and(|w| offset < w) {
        return Phase::Warmup;
    }
    let by_count = plan.cooldown > 0
        && trial
            .cases
            .is_some_and(|c| index >= c.saturating_sub(plan.cooldown));
    let last = trial.arrival.stages.len().saturating_sub(1);
    let by_time = match (plan.cooldown_duration, trial.arrival.stages.get(stage)) {
        (Some(c), Some(st)) if stage == last => st.duration.is_some_and(|d| stage_offset + c >= d),
        _ => false,
    };
    if by_count || by_time {
        Phase::Cooldown
    } else {
        Phase::Measure
    }
}

/// The dataset row, repeat and phase of a started case.
fn case_place(s: &TrialShared, start: &CaseStart) -> (usize, u64, Phase) {
    let (row_idx, repeat, count_warmup) = case_of(&s.plan, start.index);
    let phase = phase_of(
        &s.plan,
        &s.trial,
        start.index,
        (
            start.stage,
            start.intended.saturating_duration_since(start.stage_start),
        ),
        start.intended.saturating_duration_since(s.start),
        count_warmup,
    );
    (row_idx, repeat, phase)
}

/// Store a case that the schedule released but that was never sent because the trial stopped
/// while it waited for a place under `max_concurrency`: one `requests` row (error kind
/// `not_sent`, `cap_wait_ms` up to the stop) and one `cases` row. Such rows are counted in
/// `configs.not_sent` and enter no other statistic.
async fn not_sent_case(s: &TrialShared, start: CaseStart) {
    let (row_idx, repeat, phase) = case_place(s, &start);
    let row = &s.plan.dataset.rows[row_idx];
    let case_id: Arc<str> = Arc::from(row.id.as_str());
    let reason = lock(&s.stop_reason).unwrap_or("interrupted");
    let outcome = CallOutcome {
        error: Some(CallError {
            kind: ErrorKind::Cancelled,
            message: format!(
                "never sent: the trial stopped ({reason}) while this request waited for a place under max_concurrency"
            ),
        }),
        ..Default::default()
    };
    let timing = StepTiming {
        stage: start.stage,
        turn: 0,
        intended_ns: s.clock.ns(start.intended),
        dispatched_ns: Some(s.clock.ns(start.dispatched)),
        acquired_ns: start.acquired.map(|a| s.clock.ns(a)),
    };
    let rec = request_row(
        s,
        0,
        start.index,
        &case_id,
        repeat,
        phase,
        timing,
        outcome,
        Some(NOT_SENT),
    );
    let _ = send(&s.tx, Record::Request(Box::new(rec))).await;
    if let Some(n) = s.not_sent.get(start.stage) {
        n.fetch_add(1, Ordering::Relaxed);
    }
    let case = case_row(
        s,
        (start.index, case_id, repeat, phase),
        row,
        None,
        Some(NOT_SENT),
        0,
        None,
    );
    let _ = send(&s.tx, Record::Case(Box::new(case))).await;
}

/// A `cases` row: the case `(index, id, repeat, phase)` of dataset `row` and how it ended.
fn case_row(
    s: &TrialShared,
    (index, case_id, repeat, phase): (u64, Arc<str>, u64, Phase),
    row: &crate::plan::dataset::Row,
    answer: Option<String>,
    error_kind: Option<&'static str>,
    steps: i64,
    e2e_ms: Option<f64>,
) -> CaseRow {
    CaseRow {
        trial_id: s.trial_id.clone(),
        trial_index: s.trial.index as i64,
        case_index: index as i64,
        case_id,
        repeat: repeat as i64,
        phase: phase.as_str(),
        input: row.input.clone(),
        references_json: serde_json::to_string(&row.references).unwrap_or_else(|_| "[]".into()),
        answer,
        error_kind,
        steps,
        e2e_ms,
    }
}

/// Error kind of a case released by the schedule but never sent (see [`not_sent_case`]).
const NOT_SENT: &str = "not_sent";

async fn run_case(s: &TrialShared, start: CaseStart) {
    let plan = &s.plan;
    let index = start.index;
    let intended = start.intended;
    let (row_idx, repeat, phase) = case_place(s, &start);
    let row = &plan.dataset.rows[row_idx];
    let case_id: Arc<str> = Arc::from(row.id.as_str());
    let mut step_outputs = Map::new();
    let mut answer: Option<String> = None;
    let mut error_kind: Option<&'static str> = None;
    let mut first_sent: Option<i64> = None;
    let mut last_token: Option<i64> = None;
    let mut steps_run = 0;
    // Per step: the conversation so far (multi-turn sessions).
    let mut history: Vec<Option<Value>> = vec![None; s.trial.steps.len()];
    // When the previous turn's last request ended (multi-turn sessions).
    let mut turn_end: Option<i64> = None;
    // Whether a stop (signal, error limit) ended the session before its last turn.
    let mut cut_short = false;
    'session: for turn in 0..s.trial.turns {
        // A later turn is due `think_time` after the previous one ended: that is its
        // `intended_ns`, so a late wake-up shows in `queue_ms` rather than being hidden.
        let mut turn_intended = None;
        if turn > 0 {
            let due = turn_end.map_or_else(Instant::now, |ns| {
                s.clock.epoch() + Duration::from_nanos(ns.max(0) as u64)
            }) + plan.think_time;
            turn_intended = Some(due);
            // A stopping trial ends its sessions here.
            if due > Instant::now() {
                tokio::select! {
                    _ = tokio::time::sleep_until(due.into()) => {}
                    _ = s.halted_wait() => {
                        cut_short = true;
                        break 'session;
                    }
                }
            }
            if s.halted() {
                cut_short = true;
                break 'session;
            }
        }
        for (si, step) in s.trial.steps.iter().enumerate() {
            steps_run += 1;
            let scheduled = si == 0 && turn == 0;
            let step_intended = if scheduled {
                intended
            } else if si == 0
                && let Some(due) = turn_intended
            {
                due
            } else {
                Instant::now()
            };
            let mut sent_prompt: Option<Value> = None;
            let rendered = plan.render_case_prompt(step, row, &s.trial, index, turn, &step_outputs);
            let (outcome, forced_kind) = match rendered {
                Ok(rendered) => {
                    let rendered = with_history(history[si].as_ref(), rendered);
                    let body = plan.body(step, &rendered, row);
                    if s.trial.turns > 1 {
                        sent_prompt = Some(rendered);
                    }
                    let req = LlmRequest {
                        url: s.targets[si].url.clone(),
                        api_key: s.targets[si].api_key.clone(),
                        body,
                        api: s.targets[si].api,
                        timeout: plan.timeout,
                        direct: s.targets[si].direct,
                    };
                    let interrupted = cancelled(&s.cancel);
                    (s.client.call_until(&req, &s.clock, interrupted).await, None)
                }
                // A template that fails on this row (strict mode): the request is never sent.
                Err(e) => (
                    CallOutcome {
                        end_ns: Some(s.clock.now_ns()),
                        error: Some(CallError {
                            kind: ErrorKind::Connect,
                            message: e,
                        }),
                        ..Default::default()
                    },
                    Some("template"),
                ),
            };
            let timing = StepTiming {
                stage: start.stage,
                turn,
                intended_ns: s.clock.ns(step_intended),
                // Only the first step (of the first turn) was scheduled; later ones start when the
                // previous one ends.
                dispatched_ns: scheduled.then(|| s.clock.ns(start.dispatched)),
                acquired_ns: if scheduled {
                    start.acquired.map(|a| s.clock.ns(a))
                } else {
                    None
                },
            };
            let rec = request_row(
                s,
                si,
                index,
                &case_id,
                repeat,
                phase,
                timing,
                outcome,
                forced_kind,
            );
            let finished = s.finished.fetch_add(1, Ordering::Relaxed) + 1;
            first_sent = first_sent.or(rec.sent_ns);
            last_token = rec.last_token_ns.or(last_token);
            turn_end = rec.end_ns.or(turn_end);
            if let Some(k) = rec.error_kind {
                if phase == Phase::Measure
                    && let Some(Ok(mut kinds)) = s.error_kinds.get(start.stage).map(|m| m.lock())
                {
                    kinds.add(k, rec.error_message.as_deref());
                }
                let n = s.errors.fetch_add(1, Ordering::Relaxed) + 1;
                s.progress
                    .set_message(format!("{}  errors: {n} (last: {k})", s.label));
                error_kind = Some(k);
                if plan.max_errors.is_some_and(|m| n >= m) {
                    s.stop("max_errors");
                } else if let Some(r) = plan.max_error_rate
                    && finished >= MIN_FOR_ERROR_RATE
                    && n as f64 / finished as f64 > r
                {
                    s.stop("max_error_rate");
                }
            } else if let Some(r) = plan.max_error_rate
                && finished >= MIN_FOR_ERROR_RATE
                && s.errors.load(Ordering::Relaxed) as f64 / finished as f64 > r
            {
                s.stop("max_error_rate");
            }
            let ok = rec.ok();
            let text = rec.output_text.clone();
            let _ = send(&s.tx, Record::Request(Box::new(rec))).await;
            s.progress.inc(1);
            if !ok {
                answer = None;
                break 'session;
            }
            if let Some(p) = sent_prompt {
                history[si] = Some(after_turn(p, &text));
            }
            step_outputs.insert(step.step_id.clone(), json!({"text": text}));
            answer = Some(text);
        }
    }
    // A session ended before its last turn has no final answer: an earlier turn's answer is
    // not the case's, so it is stored as cancelled (and scored as an error), not as a success.
    if cut_short && error_kind.is_none() {
        error_kind = Some(ErrorKind::Cancelled.as_str());
        answer = None;
    }
    let e2e_ms = match (first_sent, last_token, error_kind) {
        (Some(a), Some(b), None) => Some((b - a) as f64 / 1e6),
        _ => None,
    };
    let case = case_row(
        s,
        (index, case_id, repeat, phase),
        row,
        answer.clone(),
        error_kind,
        steps_run,
        e2e_ms,
    );
    let _ = send(&s.tx, Record::Case(Box::new(case))).await;
    if phase == Phase::Measure
        && let Some(n) = s.measured_cases.get(start.stage)
    {
        n.fetch_add(1, Ordering::Relaxed);
    }
    // Measured answers go to the scorers.
    if phase == Phase::Measure
        && let Some(scoring) = &s.scoring
    {
        // A closed channel means the scoring thread stopped on a writer error, which the
        // trial reports when it ends.
        let _ = scoring.send(MeasuredCase {
            case_index: index,
            stage: start.stage,
            row: row_idx,
            repeat,
            answer: answer.unwrap_or_default(),
            error: error_kind,
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn request_row(
    s: &TrialShared,
    si: usize,
    index: u64,
    case_id: &Arc<str>,
    repeat: u64,
    phase: Phase,
    timing: StepTiming,
    mut o: CallOutcome,
    forced_kind: Option<&'static str>,
) -> RequestRow {
    let intended_ns = timing.intended_ns;
    let (step_id, endpoint, model) = s.step_names[si].clone();
    let error_kind = o
        .error
        .as_ref()
        .map(|e| forced_kind.unwrap_or(e.kind.as_str()));
    let chunk_ns = std::mem::take(&mut o.token_chunk_ns);
    let chunk_tokens = std::mem::take(&mut o.chunk_tokens);
    let gaps = crate::client::gaps::Gaps::new(&chunk_ns, &chunk_tokens);
    let mut row = RequestRow {
        trial_id: s.trial_id.clone(),
        trial_index: s.trial.index as i64,
        case_index: index as i64,
        case_id: case_id.clone(),
        repeat: repeat as i64,
        phase: phase.as_str(),
        stage: timing.stage as i64,
        turn: i64::from(timing.turn),
        step_id,
        endpoint,
        model,
        intended_ns,
        schedule_lag_ms: timing.dispatched_ns.map(|d| (d - intended_ns) as f64 / 1e6),
        cap_wait_ms: match (timing.acquired_ns, timing.dispatched_ns) {
            (Some(a), Some(d)) => Some((a - d) as f64 / 1e6),
            _ => None,
        },
        sent_ns: o.sent_ns,
        first_token_ns: o.first_token_ns,
        first_content_ns: o.first_content_ns,
        last_token_ns: o.last_token_ns,
        end_ns: o.end_ns,
        prompt_tokens: o.usage.prompt_tokens,
        completion_tokens: o.usage.completion_tokens,
        reasoning_tokens: o.usage.reasoning_tokens,
        chunk_count: i64::from(o.chunk_count),
        token_chunk_count: i64::from(o.token_chunk_count),
        chunk_tokens_basis: match (o.token_chunk_count, o.chunks_with_usage) {
            (0, _) => None,
            (n, u) if u == n => Some("usage"),
            (_, 0) => Some("chunks"),
            _ => Some("mixed"),
        },
        token_chunk_ns: None,
        token_chunk_tokens: None,
        gaps: gaps.summary(),
        http_status: o.http_status.map(i64::from),
        error_kind,
        error_message: o.error.map(|e| e.message),
        finish_reason: o.finish_reason,
        slo_met: None,
        cost_usd: None,
        output_text: o.text,
        reasoning_text: o.reasoning_text,
        tool_text: o.tool_text,
        client_tokenizer: s
            .plan
            .endpoint_tokenizers
            .get(&*s.step_names[si].1)
            .cloned(),
    };
    row.slo_met = slo_met(&s.plan.slo, &row);
    if let Some((input, output)) = s.targets[si].token_prices {
        row.cost_usd = match (row.prompt_tokens, row.completion_tokens) {
            (Some(p), Some(c)) => Some(p as f64 * input / 1e6 + c as f64 * output / 1e6),
            _ => None,
        };
    }
    // A request never sent is in no statistic (`configs.not_sent` counts it).
    if forced_kind != Some(NOT_SENT) {
        let metric = RequestMetrics::new(
            &row,
            phase,
            timing.stage,
            si,
            timing.dispatched_ns,
            timing.acquired_ns,
        );
        if let Ok(mut m) = s.metrics.lock() {
            m.push(metric);
        }
    }
    if phase == Phase::Measure
        && row.ok()
        && let Some(Ok(mut t)) = s.tokens.get(timing.stage).map(|t| t.lock())
    {
        t.record(&gaps, chunk_ns.len(), row.chunk_tokens_basis);
    }
    drop(gaps);
    if s.plan.chunk_timings {
        row.token_chunk_ns = Some(chunk_ns);
        row.token_chunk_tokens = Some(chunk_tokens);
    }
    row
}

/// Whether a request met every objective of `slo`: false when it failed; for a successful one,
/// null when an objective cannot be evaluated (a `tpot_ms` objective without the server's
/// token count). An answer of at most one token has no gap between tokens, so it meets any
/// `tpot_ms` objective (vLLM's goodput counts its TPOT as 0).
pub fn slo_met(slo: &crate::spec::SloSpec, row: &RequestRow) -> Option<bool> {
    if !row.ok() {
        return Some(false);
    }
    let tpot = match row.completion_tokens {
        Some(n) if n <= 1 => Some(0.0),
        _ => row.tpot_ms(),
    };
    let mut met = Some(true);
    for (limit, value) in [
        (slo.ttft_ms, row.ttft_ms()),
        (slo.tpot_ms, tpot),
        (slo.e2e_ms, row.e2e_ms()),
    ] {
        let Some(limit) = limit else { continue };
        match value {
            Some(v) if v > limit => return Some(false),
            Some(_) => {}
            None => met = None,
        }
    }
    met
}

/// Error-rate stops are only checked from this many finished requests on.
const MIN_FOR_ERROR_RATE: u64 = 20;

/// This turn's request: the conversation so far, then this turn's rendered prompt (chat:
/// messages, with system messages only from the first turn; completions: text appended).
fn with_history(history: Option<&Value>, rendered: Value) -> Value {
    match (history, rendered) {
        (Some(Value::Array(h)), Value::Array(new)) => {
            let mut out = h.clone();
            out.extend(new.into_iter().filter(|m| m["role"] != "system"));
            Value::Array(out)
        }
        (Some(Value::String(h)), Value::String(p)) => Value::String(format!("{h}{p}")),
        (_, r) => r,
    }
}

/// The conversation after a turn: the request and the model's answer.
fn after_turn(request: Value, answer: &str) -> Value {
    match request {
        Value::Array(mut m) => {
            m.push(json!({"role": "assistant", "content": answer}));
            Value::Array(m)
        }
        Value::String(p) => Value::String(format!("{p}{answer}\n")),
        other => other,
    }
}

/// Scheduling times of one request.
#[derive(Clone, Copy, Debug)]
struct StepTiming {
    stage: usize,
    /// Turn of a multi-turn session (0 otherwise).
    turn: u32,
    intended_ns: i64,
    dispatched_ns: Option<i64>,
    acquired_ns: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slo_met_is_unknown_only_when_an_objective_cannot_be_evaluated() {
        let slo = crate::spec::SloSpec {
            ttft_ms: Some(100.0),
            tpot_ms: Some(10.0),
            e2e_ms: None,
        };
        let ms = 1_000_000;
        let row = |tokens: Option<i64>, ttft: i64, last: i64| RequestRow {
            sent_ns: Some(0),
            first_token_ns: Some(ttft * ms),
            last_token_ns: Some(last * ms),
            completion_tokens: tokens,
            ..Default::default()
        };
        // 5 tokens over 40 ms after the first: TPOT 10 ms, at the limit.
        assert_eq!(slo_met(&slo, &row(Some(5), 50, 90)), Some(true));
        assert_eq!(slo_met(&slo, &row(Some(5), 50, 91)), Some(false));
        assert_eq!(slo_met(&slo, &row(Some(5), 150, 190)), Some(false));
        // One token: no gap between tokens, so the TPOT objective holds.
        assert_eq!(slo_met(&slo, &row(Some(1), 50, 50)), Some(true));
        // No token count from the server: TPOT unknown, so the verdict is unknown...
        assert_eq!(slo_met(&slo, &row(None, 50, 90)), None);
        // ... unless another objective already failed.
        assert_eq!(slo_met(&slo, &row(None, 150, 190)), Some(false));
        // Without a TPOT objective the count is not needed.
        let ttft_only = crate::spec::SloSpec {
            ttft_ms: Some(100.0),
            ..Default::default()
        };
        assert_eq!(slo_met(&ttft_only, &row(None, 50, 90)), Some(true));
        // A failed request never meets the SLO.
        let failed = RequestRow {
            error_kind: Some("timeout"),
            ..row(Some(5), 50, 90)
        };
        assert_eq!(slo_met(&slo, &failed), Some(false));
    }

    #[test]
    fn case_mapping_covers_rows_and_repeats() {
        // 3 rows, 2 repeats, 1 warm-up: index 0 is warm-up row 0; then (row, repeat) pairs
        // (0,0) (0,1) (1,0) (1,1) (2,0) (2,1) and a second pass with repeats 2, 3.
        let got: Vec<(u64, u64, bool)> = (0..9).map(|i| case_of_index(i, 1, 3, 2)).collect();
        assert_eq!(
            got,
            vec![
                (0, 0, true),
                (0, 0, false),
                (0, 1, false),
                (1, 0, false),
                (1, 1, false),
                (2, 0, false),
                (2, 1, false),
                (0, 2, false),
                (0, 3, false)
            ]
        );
    }
}
