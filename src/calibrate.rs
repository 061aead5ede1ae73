//! `frontier calibrate`: how fast can this client send on this machine?
//!
//! Starts the simulated engine with zero delay (no prefill or decode time, unlimited slots) on
//! an ephemeral loopback port and runs the ordinary run path against it (`kind: openai`, the
//! pacer, the pooled client, the Parquet writer) at rising open-loop Poisson rates with
//! 16-token streaming responses. A rate is sustained when the achieved send rate is at least
//! 99% of the schedule's and the schedule-lag p99 is below 1 ms. Rates double from the start
//! until one fails, then the gap is bisected. At the first (lowest) rate the engine also logs
//! when it handed each response's first token to the connection, and the client's measured
//! first-token times are compared with those: the TTFT error.
//!
//! Both sides share this process (and its cores): the figure is what this client sustains
//! while also hosting a trivial server, i.e. a lower bound on the client alone.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::Error;
use crate::exec::pacer::{Pacer, PacerKind};
use crate::exec::schedule::Schedule;
use crate::exec::stats::percentile_sorted;
use crate::exec::{RunOptions, case_of_index};
use crate::plan::{Load, OpenProcess, Rate};
use crate::sim::{Knowledge, SimConfig, SimServer};
use crate::spec::SimProfile;

/// What to measure.
#[derive(Clone, Debug)]
pub struct CalibrateOptions {
    /// First rate tried (requests per second).
    pub start_rate: f64,
    /// Highest rate tried.
    pub max_rate: f64,
    /// Measured time per rate.
    pub duration: Duration,
    /// Output tokens per response.
    pub tokens: u32,
    /// Bisection steps after the first failing rate.
    pub refine: u32,
    /// Schedule-lag p99 limit.
    pub max_lag_ms: f64,
    /// Where the runs go (a temporary folder, removed afterwards, when `None`).
    pub out: Option<PathBuf>,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        CalibrateOptions {
            start_rate: 1000.0,
            max_rate: 64_000.0,
            duration: Duration::from_secs(3),
            tokens: 16,
            refine: 3,
            max_lag_ms: 1.0,
            out: None,
        }
    }
}

/// One rate's result.
#[derive(Clone, Debug, Serialize)]
pub struct Rung {
    /// Nominal target rate.
    pub rate: f64,
    /// Measured requests.
    pub requests: i64,
    /// The schedule's own rate over the measured requests.
    pub target_rate: Option<f64>,
    /// Achieved dispatch rate.
    pub achieved_rate: Option<f64>,
    /// Schedule lag percentiles, ms.
    pub lag_p50_ms: Option<f64>,
    /// p99.
    pub lag_p99_ms: Option<f64>,
    /// Max.
    pub lag_max_ms: Option<f64>,
    /// Queue (sent - intended) p99, ms.
    pub queue_p99_ms: Option<f64>,
    /// Process CPU time / wall time (2.0 = two cores busy).
    pub cpu_util: Option<f64>,
    /// The client's CPU time per request, µs: this process's CPU over the whole run (warm-up,
    /// measured requests, setup and the Parquet files) minus the engine thread's, divided by
    /// the requests sent.
    pub client_cpu_us: Option<f64>,
    /// The zero-delay engine thread's CPU time per request over the same run, µs.
    pub engine_cpu_us: Option<f64>,
    /// Failed share.
    pub error_rate: Option<f64>,
    /// Achieved >= 99% of target and lag p99 below the limit, with no errors.
    pub sustained: bool,
    /// The machine's floor at this rate, measured just before the rate's (last) attempt.
    pub floor: Floor,
    /// Attempts: a rate that fails while its floor is itself over the lag limit (the machine,
    /// not the client, was late) is tried again, up to [`ATTEMPTS`] times; one that fails on
    /// the lag limit alone (achieved rate held, no errors) once more, so a single passing
    /// spike of the host does not decide it.
    pub attempts: u32,
    /// The last attempt failed with its floor over the lag limit: the verdict is the machine's.
    pub noisy: bool,
}

/// Attempts per rate when the machine's floor is over the lag limit.
pub const ATTEMPTS: u32 = 3;

/// The TTFT error at the first rate.
#[derive(Clone, Debug, Serialize)]
pub struct TtftError {
    /// Rate it was measured at.
    pub rate: f64,
    /// Requests compared.
    pub requests: usize,
    /// Min, ms (negative would mean the client saw a token before the engine sent it).
    pub min_ms: Option<f64>,
    /// Median of (client first token - engine first-token send), ms.
    pub p50_ms: Option<f64>,
    /// p99, ms.
    pub p99_ms: Option<f64>,
    /// Max, ms.
    pub max_ms: Option<f64>,
}

/// The machine's own floor: the schedule lag of the pacer and the runtime alone, releasing
/// no-op cases at a rate with nothing else running. A lag p99 at or above the limit here
/// means no client could be sustained on this machine at that moment (a busy or noisy host),
/// whatever its own cost per request.
#[derive(Clone, Debug, Serialize)]
pub struct Floor {
    /// Rate it was measured at.
    pub rate: f64,
    /// Cases released.
    pub releases: usize,
    /// Lag (case start - deadline) median, ms.
    pub lag_p50_ms: Option<f64>,
    /// p99.
    pub lag_p99_ms: Option<f64>,
    /// Max.
    pub lag_max_ms: Option<f64>,
}

/// The calibration.
#[derive(Clone, Debug, Serialize)]
pub struct Calibration {
    /// Highest sustained rate (requests per second), if any.
    pub sustained_rate: Option<f64>,
    /// Every rate tried, in order.
    pub rungs: Vec<Rung>,
    /// TTFT error at the first rate.
    pub ttft_error: Option<TtftError>,
    /// Output tokens per response.
    pub tokens: u32,
    /// Measured seconds per rate.
    pub duration_s: f64,
    /// Logical CPUs of this machine.
    pub cpus: usize,
    /// The pacer used: `timer` or `thread`.
    pub pacer: &'static str,
    /// The HTTP client used: `own` or `reqwest`.
    pub http_client: &'static str,
    /// The schedule-lag p99 limit used, ms.
    pub max_lag_ms: f64,
    /// A signal (Ctrl-C, SIGTERM, SIGHUP) stopped the search: the rates before it are shown,
    /// the one it interrupted is not.
    pub interrupted: bool,
}

/// The most requests one rate may send (`--max-rate x --seconds`): the prompts are written
/// to a file and the first tokens logged in memory.
pub const MAX_REQUESTS_PER_RATE: f64 = 10_000_000.0;

/// The longest stream `--tokens` may ask for.
pub const MAX_TOKENS: u32 = 1_000_000;

fn profile(tokens: u32) -> SimProfile {
    SimProfile {
        slots: 1 << 20,
        kv_tokens: 0,
        prefill_tok_s: 0.0,
        decode_ms: 0.0,
        decode_ms_per_seq: 0.0,
        default_output_tokens: tokens,
        // Room for `--tokens` (at most MAX_TOKENS) plus the short prompt (a quarter of its
        // 30 bytes in tokens).
        max_model_len: tokens
            .min(MAX_TOKENS)
            .saturating_add(1024)
            .max(SimProfile::default().max_model_len),
        ..SimProfile::default()
    }
}

fn prompt(row: u64) -> String {
    format!("calibration request {row:08}")
}

/// Run the calibration.
pub async fn calibrate(opts: &CalibrateOptions) -> Result<Calibration, Error> {
    let (root, remove) = match &opts.out {
        Some(p) => (p.clone(), false),
        None => (
            std::env::temp_dir().join(format!("frontier-calibrate-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    // One listener for the whole search, handed to every run: a signal between two runs stops
    // it too (each run's own listener would leave those moments deaf).
    let (interrupt, _signals) = crate::exec::stop_on_signals(Arc::new(std::sync::OnceLock::new()))?;
    let result = ladder(opts, &root, &interrupt).await;
    if remove {
        let _ = std::fs::remove_dir_all(&root);
    }
    result
}

/// Release no-op cases at `rate` for `duration` exactly as an open-loop stage does (the pacer,
/// one spawned task per slot) and measure how late each starts.
async fn floor(rate: f64, duration: Duration) -> Result<Floor, Error> {
    let load = Load::Open {
        process: OpenProcess::Poisson,
        rate: Rate::Fixed(rate),
        max_concurrency: None,
    };
    let n = (rate * duration.as_secs_f64()).ceil().max(10.0) as u64;
    let start = Instant::now() + Duration::from_millis(5);
    let schedule = Schedule::new(&load, start, 0, Some(n), None, 1);
    let mut pacer = Pacer::start(schedule, Arc::new(AtomicBool::new(false)))
        .map_err(|e| Error::Run(format!("cannot start the pacer: {e}")))?;
    let mut tasks = JoinSet::new();
    let mut lags: Vec<f64> = Vec::with_capacity(n as usize);
    while let Some(slot) = pacer.next().await {
        tasks.spawn(async move {
            slot.deadline
                .map(|d| Instant::now().saturating_duration_since(d).as_secs_f64() * 1e3)
        });
        while let Some(r) = tasks.try_join_next() {
            lags.extend(r.ok().flatten());
        }
    }
    pacer.finish();
    while let Some(r) = tasks.join_next().await {
        lags.extend(r.ok().flatten());
    }
    lags.sort_by(f64::total_cmp);
    Ok(Floor {
        rate,
        releases: lags.len(),
        lag_p50_ms: percentile_sorted(&lags, 0.5),
        lag_p99_ms: percentile_sorted(&lags, 0.99),
        lag_max_ms: lags.last().copied(),
    })
}

/// Longest floor measurement before each attempt.
const FLOOR_TIME: Duration = Duration::from_secs(1);

/// One rate: the floor, then the run; again (up to [`ATTEMPTS`]) while the run fails with the
/// floor over the limit, and a second time when it failed on the lag limit alone.
async fn attempt_rate(
    opts: &CalibrateOptions,
    root: &Path,
    rate: f64,
    log_first_tokens: bool,
    interrupt: &watch::Receiver<bool>,
) -> Result<(Rung, Option<TtftError>), Error> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let floor = floor(rate, opts.duration.min(FLOOR_TIME)).await?;
        let (mut rung, ttft) =
            one_rate(opts, root, rate, log_first_tokens, floor, interrupt).await?;
        if *interrupt.borrow() {
            return Ok((rung, ttft));
        }
        rung.attempts = attempts;
        rung.noisy = !rung.sustained && rung.floor.lag_p99_ms.is_some_and(|l| l >= opts.max_lag_ms);
        let lag_only = !rung.sustained
            && rung.error_rate == Some(0.0)
            && rate_held(rung.target_rate, rung.achieved_rate);
        let again = (rung.noisy && attempts < ATTEMPTS) || (lag_only && attempts < 2);
        if !again {
            return Ok((rung, ttft));
        }
    }
}

/// The achieved rate is at least 99% of the target.
fn rate_held(target: Option<f64>, achieved: Option<f64>) -> bool {
    matches!((target, achieved), (Some(t), Some(a)) if a >= 0.99 * t)
}

/// The search over rates: double from the start rate until one fails (or the maximum passes);
/// when the start rate already fails, halve until one passes (down to [`MIN_RATE`]), so a slow
/// host still gets a figure; then bisect between the highest pass and the lowest failure above
/// it, `refine` times at most.
#[derive(Debug)]
struct Search {
    max_rate: f64,
    refine: u32,
    /// Highest sustained rate so far.
    pass: Option<f64>,
    /// Lowest failed rate above `pass`.
    fail: Option<f64>,
    /// Still doubling or halving (not bisecting yet).
    bracketing: bool,
}

impl Search {
    fn new(max_rate: f64, refine: u32) -> Self {
        Search {
            max_rate,
            refine,
            pass: None,
            fail: None,
            bracketing: true,
        }
    }

    /// Record the verdict at `rate`; the next rate to try, or `None` when done.
    fn record(&mut self, rate: f64, sustained: bool) -> Option<f64> {
        if sustained {
            self.pass = Some(self.pass.map_or(rate, |p| p.max(rate)));
        } else {
            self.fail = Some(self.fail.map_or(rate, |f| f.min(rate)));
        }
        if self.bracketing {
            match (self.pass, self.fail) {
                (Some(_), None) if rate < self.max_rate => {
                    return Some((rate * 2.0).min(self.max_rate));
                }
                (None, Some(_)) if rate > MIN_RATE => {
                    return Some(round_rate(rate / 2.0, rate / 2.0).max(MIN_RATE));
                }
                _ => self.bracketing = false,
            }
        } else {
            self.refine = self.refine.saturating_sub(1);
        }
        let (lo, hi) = (self.pass?, self.fail?);
        if self.refine == 0 {
            return None;
        }
        let mid = round_rate((lo + hi) / 2.0, lo);
        (mid > lo && mid < hi).then_some(mid)
    }
}

/// The lowest rate the search goes down to when the start rate fails.
const MIN_RATE: f64 = 50.0;

/// `r` rounded to a tidy step: a tenth of the order of magnitude of `lo` (100 from 1,000/s,
/// 10 from 100/s), so that the rates tried read well at every scale.
fn round_rate(r: f64, lo: f64) -> f64 {
    let step = 10f64.powf(lo.max(1.0).log10().floor() - 1.0).max(1.0);
    (r / step).round() * step
}

async fn ladder(
    opts: &CalibrateOptions,
    root: &Path,
    interrupt: &watch::Receiver<bool>,
) -> Result<Calibration, Error> {
    let mut rungs: Vec<Rung> = Vec::new();
    let mut ttft_error = None;
    let mut search = Search::new(opts.max_rate, opts.refine);
    let mut rate = opts.start_rate;
    let mut interrupted = false;
    loop {
        if *interrupt.borrow() {
            interrupted = true;
            break;
        }
        // The TTFT error is measured at the start rate.
        let (rung, ttft) = attempt_rate(opts, root, rate, rungs.is_empty(), interrupt).await?;
        if *interrupt.borrow() {
            // The rate's run was cut short: its numbers describe no complete run.
            interrupted = true;
            break;
        }
        if ttft.is_some() {
            ttft_error = ttft;
        }
        let ok = rung.sustained;
        rungs.push(rung);
        match search.record(rate, ok) {
            Some(next) => rate = next,
            None => break,
        }
    }
    let pass = search.pass;
    Ok(Calibration {
        sustained_rate: pass,
        rungs,
        ttft_error,
        tokens: opts.tokens,
        duration_s: opts.duration.as_secs_f64(),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        pacer: PacerKind::from_env().as_str(),
        http_client: crate::client::Transport::from_env().as_str(),
        max_lag_ms: opts.max_lag_ms,
        interrupted,
    })
}

async fn one_rate(
    opts: &CalibrateOptions,
    root: &Path,
    rate: f64,
    log_first_tokens: bool,
    floor: Floor,
    interrupt: &watch::Receiver<bool>,
) -> Result<(Rung, Option<TtftError>), Error> {
    let requests = (rate * opts.duration.as_secs_f64()).ceil().max(10.0) as u64;
    let warmup = (rate / 4.0).ceil().max(5.0) as u64;
    let rows = requests + warmup;
    let dir = root.join(format!("rate-{rate:.0}"));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let data = dir.join("prompts.jsonl");
    let mut text = String::with_capacity(rows as usize * 40);
    for r in 0..rows {
        text.push_str("{\"text\":\"");
        text.push_str(&prompt(r));
        text.push_str("\"}\n");
    }
    std::fs::write(&data, text).map_err(|e| Error::io(&data, e))?;

    let log = log_first_tokens.then(|| Arc::new(Mutex::new(Vec::with_capacity(rows as usize))));
    let config = SimConfig {
        model: "calibrate".into(),
        profile: profile(opts.tokens),
        knowledge: Arc::new(Knowledge::default()),
        first_token_log: log.clone(),
    };
    let server = EngineThread::start(config)?;

    let yaml = format!(
        r#"version: 1
name: calibrate
endpoints:
  engine:
    kind: openai
    base_url: {base}
    model: calibrate
datasets:
  prompts:
    path: prompts.jsonl
    input: text
workload:
  arrival:
    poisson:
      rate: {rate}
  requests: {total}
  warmup: {warmup}
  seed: 1
  timeout: 30s
  max_lag: {lag}ms
flow:
  - id: ask
    llm:
      endpoint: engine
      api: completions
      prompt: "{{{{ item.text }}}}"
      params:
        max_tokens: {tokens}
"#,
        base = server.base_url(),
        total = requests + warmup,
        lag = opts.max_lag_ms,
        tokens = opts.tokens,
    );
    let file = dir.join("calibrate.yaml");
    let loaded = crate::spec::load::load_str(&file, yaml, &[])?;
    let plan = Arc::new(crate::plan::build(&loaded)?);
    let run_opts = RunOptions {
        out_dir: dir.join("results"),
        progress: false,
        quiet: true,
        interrupt: Some(interrupt.clone()),
        direct: true,
    };
    let cpu0 = (crate::exec::cpu_time_s(), server.cpu_time_s());
    let outcome = crate::exec::run(plan, &run_opts).await;
    let cpu1 = (crate::exec::cpu_time_s(), server.cpu_time_s());
    server.shutdown();
    let outcome = outcome?;
    let per_request = |s: f64| s / rows as f64 * 1e6;
    let engine_cpu_us = match (cpu0.1, cpu1.1) {
        (Some(a), Some(b)) => Some(per_request(b - a)),
        _ => None,
    };
    let client_cpu_us = match (cpu0.0, cpu1.0, engine_cpu_us) {
        (Some(a), Some(b), Some(e)) => Some(per_request(b - a) - e),
        _ => None,
    };

    let c = &outcome.configs;
    let f = |name: &str| float(c, name);
    let target_rate = f("target_rate");
    let achieved_rate = f("achieved_rate");
    let lag_p99_ms = f("lag_p99_ms");
    let error_rate = f("error_rate");
    let sustained = rate_held(target_rate, achieved_rate)
        && lag_p99_ms.is_some_and(|l| l < opts.max_lag_ms)
        && error_rate == Some(0.0);
    let rung = Rung {
        rate,
        requests: int(c, "requests").unwrap_or(0),
        target_rate,
        achieved_rate,
        lag_p50_ms: f("lag_p50_ms"),
        lag_p99_ms,
        lag_max_ms: f("lag_max_ms"),
        queue_p99_ms: f("queue_p99_ms"),
        cpu_util: f("client_cpu_util"),
        client_cpu_us,
        engine_cpu_us,
        error_rate,
        sustained,
        floor,
        attempts: 1,
        noisy: false,
    };

    let ttft = match log {
        None => None,
        Some(log) => {
            let server_ns: std::collections::HashMap<String, i64> = log
                .lock()
                .map(|l| {
                    l.iter()
                        .map(|(p, t)| (p.clone(), outcome.clock.ns(*t)))
                        .collect()
                })
                .unwrap_or_default();
            let tables = crate::query::Tables::load_run(&outcome.run_dir)
                .map_err(|e| Error::Run(format!("reading the calibration run: {e}")))?;
            let batch = crate::query::execute(
                &tables,
                "SELECT case_index, first_token_ns FROM requests WHERE phase = 'measure' AND ok",
            )
            .map_err(|e| Error::Internal(format!("calibration query: {e}")))?;
            let idx = column::<Int64Array>(&batch, 0);
            let first = column::<Int64Array>(&batch, 1);
            let mut errors: Vec<f64> = Vec::new();
            if let (Some(idx), Some(first)) = (idx, first) {
                for i in 0..batch.num_rows() {
                    if first.is_null(i) {
                        continue;
                    }
                    let (row, _, _) = case_of_index(idx.value(i) as u64, warmup, rows, 1);
                    if let Some(s) = server_ns.get(&prompt(row)) {
                        errors.push((first.value(i) - s) as f64 / 1e6);
                    }
                }
            }
            errors.sort_by(f64::total_cmp);
            Some(TtftError {
                rate,
                requests: errors.len(),
                min_ms: errors.first().copied(),
                p50_ms: percentile_sorted(&errors, 0.5),
                p99_ms: percentile_sorted(&errors, 0.99),
                max_ms: errors.last().copied(),
            })
        }
    };
    Ok((rung, ttft))
}

/// The zero-delay engine on its own thread and single-threaded runtime, so that its tasks
/// never migrate between the client's runtime workers.
struct EngineThread {
    base_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The engine thread's CPU-time clock, so that its share can be told from the client's.
    cpu_clock: Option<libc::clockid_t>,
}

impl EngineThread {
    fn start(config: SimConfig) -> Result<Self, Error> {
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("frontier-engine".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = url_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(async move {
                    match SimServer::start(config, ([127, 0, 0, 1], 0).into()).await {
                        Ok(server) => {
                            let _ = url_tx.send(Ok(server.base_url()));
                            let _ = stop_rx.await;
                            server.shutdown().await;
                        }
                        Err(e) => {
                            let _ = url_tx.send(Err(e.to_string()));
                        }
                    }
                });
            })
            .map_err(|e| Error::Run(format!("cannot start the engine thread: {e}")))?;
        let base_url = url_rx
            .recv()
            .map_err(|_| Error::Run("the engine thread ended before it started".into()))?
            .map_err(|e| Error::Run(format!("cannot start the simulated engine: {e}")))?;
        let cpu_clock = {
            use std::os::unix::thread::JoinHandleExt;
            let mut clock: libc::clockid_t = 0;
            // SAFETY: the thread is alive (it is waiting for `stop`), and the call only writes
            // the clock id into `clock`.
            let rc = unsafe { libc::pthread_getcpuclockid(thread.as_pthread_t(), &mut clock) };
            (rc == 0).then_some(clock)
        };
        Ok(EngineThread {
            base_url,
            stop: Some(stop),
            thread: Some(thread),
            cpu_clock,
        })
    }

    /// CPU time the engine thread has used so far, seconds.
    fn cpu_time_s(&self) -> Option<f64> {
        let clock = self.cpu_clock?;
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `clock` names the engine thread's CPU clock, and the thread is alive until
        // `shutdown` joins it (which takes `self`); the call only writes `ts`.
        let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
        (rc == 0).then(|| ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
    }

    fn base_url(&self) -> String {
        self.base_url.clone()
    }

    fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EngineThread {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn column<T: 'static>(b: &RecordBatch, i: usize) -> Option<&T> {
    b.columns().get(i)?.as_any().downcast_ref::<T>()
}

fn float(b: &RecordBatch, name: &str) -> Option<f64> {
    let a = b
        .column_by_name(name)?
        .as_any()
        .downcast_ref::<Float64Array>()?;
    (!a.is_empty() && !a.is_null(0)).then(|| a.value(0))
}

fn int(b: &RecordBatch, name: &str) -> Option<i64> {
    let a = b
        .column_by_name(name)?
        .as_any()
        .downcast_ref::<Int64Array>()?;
    (!a.is_empty() && !a.is_null(0)).then(|| a.value(0))
}

/// The terminal report.
pub fn render(c: &Calibration) -> String {
    use std::fmt::Write;
    let opt = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |x| format!("{x:.d$}"));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "frontier calibrate: open-loop Poisson, {}-token streams, zero-delay simulated engine in this process on 127.0.0.1, {} s per rate, {} CPUs, {} pacer, {} HTTP client",
        c.tokens, c.duration_s, c.cpus, c.pacer, c.http_client
    );
    let _ = writeln!(
        s,
        "{:>9} {:>9} {:>9} {:>10} {:>7} {:>10} {:>10} {:>10} {:>12} {:>8} {:>10} {:>10} {:>8} {:>14}  sustained",
        "rate/s",
        "requests",
        "target/s",
        "achieved/s",
        "ratio",
        "lag p50 ms",
        "lag p99 ms",
        "lag max ms",
        "queue p99 ms",
        "cpu",
        "client us",
        "engine us",
        "err rate",
        "floor p99 ms"
    );
    for r in &c.rungs {
        let ratio = match (r.achieved_rate, r.target_rate) {
            (Some(a), Some(t)) if t > 0.0 => Some(a / t),
            _ => None,
        };
        let _ = writeln!(
            s,
            "{:>9.0} {:>9} {:>9} {:>10} {:>7} {:>10} {:>10} {:>10} {:>12} {:>8} {:>10} {:>10} {:>8} {:>14}  {}{}",
            r.rate,
            r.requests,
            opt(r.target_rate, 0),
            opt(r.achieved_rate, 0),
            opt(ratio, 3),
            opt(r.lag_p50_ms, 3),
            opt(r.lag_p99_ms, 3),
            opt(r.lag_max_ms, 2),
            opt(r.queue_p99_ms, 3),
            opt(r.cpu_util, 2),
            opt(r.client_cpu_us, 0),
            opt(r.engine_cpu_us, 0),
            opt(r.error_rate, 3),
            opt(r.floor.lag_p99_ms, 3),
            match (r.sustained, r.noisy) {
                (true, _) => "yes",
                (false, true) => "no (noisy)",
                (false, false) => "no",
            },
            if r.attempts > 1 {
                format!(" after {} attempts", r.attempts)
            } else {
                String::new()
            }
        );
    }
    if c.rungs.iter().any(|r| r.noisy) {
        let _ = writeln!(
            s,
            "noisy: the machine's floor (the pacer and runtime alone, no requests, measured just before the rate) was itself over the {} ms limit on every attempt: this machine could not hold the schedule then (busy or noisy host); those verdicts measure the machine, not the client",
            c.max_lag_ms
        );
    }
    if c.interrupted {
        let _ = writeln!(
            s,
            "interrupted: the search stopped at a signal; the rates above are the ones it finished"
        );
    }
    match c.sustained_rate {
        Some(r) => {
            // No rate above it failed: the search stopped at --max-rate, not at the client.
            let ceiling = !c.interrupted && !c.rungs.iter().any(|x| !x.sustained && x.rate > r);
            let _ = writeln!(
                s,
                "sustained: {r:.0} requests/s (achieved >= 99% of target, schedule-lag p99 < 1 ms, no errors){}",
                if ceiling {
                    "; the highest rate tried (--max-rate): the client may sustain more"
                } else {
                    ""
                }
            );
        }
        None => {
            let _ = writeln!(s, "sustained: none of the rates tried");
        }
    }
    if let Some((r, client)) = c
        .rungs
        .iter()
        .filter_map(|r| Some((r, r.client_cpu_us?)))
        .max_by(|a, b| a.0.rate.total_cmp(&b.0.rate))
    {
        let _ = writeln!(
            s,
            "CPU per request at {:.0}/s: client {client:.0} us, engine {} us (us: CPU microseconds per request); at that cost the client alone would need {:.2} cores for 10,000 requests/s",
            r.rate,
            opt(r.engine_cpu_us, 0),
            client * 10_000.0 / 1e6
        );
    }
    if let Some(t) = &c.ttft_error {
        let _ = writeln!(
            s,
            "TTFT error at {:.0}/s over {} requests (client first token - engine's first-token send): median {} ms, p99 {} ms, max {} ms",
            t.rate,
            t.requests,
            opt(t.p50_ms, 3),
            opt(t.p99_ms, 3),
            opt(t.max_ms, 3)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rates tried and the result for a client that sustains up to `limit`.
    fn run(start: f64, max: f64, refine: u32, limit: f64) -> (Vec<f64>, Option<f64>) {
        let mut s = Search::new(max, refine);
        let mut rate = start;
        let mut tried = vec![];
        loop {
            tried.push(rate);
            match s.record(rate, rate <= limit) {
                Some(r) => rate = r,
                None => break,
            }
        }
        (tried, s.pass)
    }

    #[test]
    fn doubles_then_bisects() {
        let (tried, pass) = run(1000.0, 64_000.0, 3, 5000.0);
        assert_eq!(
            tried,
            vec![1000.0, 2000.0, 4000.0, 8000.0, 6000.0, 5000.0, 5500.0]
        );
        assert_eq!(pass, Some(5000.0));
    }

    #[test]
    fn halves_when_the_start_rate_fails() {
        let (tried, pass) = run(1000.0, 64_000.0, 3, 300.0);
        assert_eq!(tried, vec![1000.0, 500.0, 250.0, 380.0, 320.0, 290.0]);
        assert_eq!(pass, Some(290.0));
        // Nothing passes: down to the floor, then stop.
        let (tried, pass) = run(1000.0, 64_000.0, 3, 10.0);
        assert_eq!(tried, vec![1000.0, 500.0, 250.0, 130.0, 65.0, MIN_RATE]);
        assert_eq!(pass, None);
    }

    #[test]
    fn stops_at_the_maximum() {
        let (tried, pass) = run(1000.0, 3000.0, 3, 1e9);
        assert_eq!(tried, vec![1000.0, 2000.0, 3000.0]);
        assert_eq!(pass, Some(3000.0));
    }

    #[test]
    fn the_engine_has_room_for_every_allowed_token_count_and_the_prompt() {
        let prompt_tokens = crate::sim::tokens::prompt_tokens(&prompt(u64::MAX)) as u32;
        for tokens in [1, 16, 40_000, MAX_TOKENS] {
            let p = profile(tokens);
            assert!(p.max_model_len >= tokens + prompt_tokens, "{tokens}");
        }
    }

    #[test]
    fn the_summary_says_when_the_search_stopped_at_the_maximum_rate() {
        let rung = |rate: f64, sustained: bool| Rung {
            rate,
            requests: 10,
            target_rate: None,
            achieved_rate: None,
            lag_p50_ms: None,
            lag_p99_ms: None,
            lag_max_ms: None,
            queue_p99_ms: None,
            cpu_util: None,
            client_cpu_us: None,
            engine_cpu_us: None,
            error_rate: None,
            sustained,
            floor: Floor {
                rate,
                releases: 0,
                lag_p50_ms: None,
                lag_p99_ms: None,
                lag_max_ms: None,
            },
            attempts: 1,
            noisy: false,
        };
        let calibration = |rungs: Vec<Rung>| Calibration {
            sustained_rate: Some(2000.0),
            rungs,
            ttft_error: None,
            tokens: 16,
            duration_s: 1.0,
            cpus: 2,
            pacer: "timer",
            http_client: "own",
            max_lag_ms: 1.0,
            interrupted: false,
        };
        let capped = render(&calibration(vec![rung(1000.0, true), rung(2000.0, true)]));
        // The error column is a share of the requests, not a count.
        assert!(capped.contains(" err rate "), "{capped}");
        assert!(
            capped.contains("the highest rate tried (--max-rate)"),
            "{capped}"
        );
        let limited = render(&calibration(vec![
            rung(1000.0, true),
            rung(2000.0, true),
            rung(4000.0, false),
        ]));
        assert!(limited.contains("sustained: 2000 requests/s"), "{limited}");
        assert!(!limited.contains("--max-rate"), "{limited}");
    }

    #[test]
    fn rates_are_rounded_to_a_tenth_of_their_magnitude() {
        assert_eq!(round_rate(1_550.0, 1_000.0), 1_600.0);
        assert_eq!(round_rate(187.5, 125.0), 190.0);
        assert_eq!(round_rate(56.2, 50.0), 56.0);
        assert_eq!(round_rate(15_000.0, 10_000.0), 15_000.0);
    }
}
