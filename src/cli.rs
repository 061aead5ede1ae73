//! The command line: argument types (clap), one function per command, and the one place where
//! errors become messages and exit codes (README, "Exit codes").

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::error::Error;
use crate::plan::Plan;
use crate::spec::load::load;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: the run failed (every request failed, interrupted, I/O error).
pub const EXIT_RUN_FAILED: i32 = 1;
/// Exit code: invalid pipeline, arguments or query.
pub const EXIT_INVALID: i32 = 2;

/// Declarative LLM deployment experiments: latency, cost and accuracy on one Pareto frontier.
#[derive(Debug, Parser)]
#[command(name = "frontier", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline and write its results.
    Run {
        /// The pipeline file.
        file: PathBuf,
        /// Results root: the run goes to OUT/<pipeline name>/<run id>/.
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Override a value of the pipeline, e.g. --set workload.requests=10 (YAML value).
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        set: Vec<String>,
        /// Never draw the progress bar (it is off anyway when stdout is not a terminal).
        #[arg(long)]
        no_progress: bool,
    },
    /// Check pipelines without sending anything (exit 2 if any is invalid).
    Validate {
        /// Pipeline files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Override values before validating.
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        set: Vec<String>,
    },
    /// Print the expanded grid, the number of requests and the first rendered prompt.
    Plan {
        /// The pipeline file.
        file: PathBuf,
        /// Override values.
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        set: Vec<String>,
    },
    /// Print the JSON Schema of the pipeline format.
    Schema,
    /// Print the crosswalk of frontier's metrics to vLLM bench, SGLang, GuideLLM and AIPerf.
    Crosswalk {
        /// Print JSON (an array of objects with each peer's key and note) instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// Run SQL over a finished run's tables (requests, cases, scores, judgements, score_stats,
    /// configs, each named query's result).
    Query {
        /// The run folder (OUT/<pipeline>/<run id>).
        run_dir: PathBuf,
        /// The SQL (the subset in the README; `pareto(table, min(col), max(col))` in FROM).
        sql: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Measure the highest open-loop rate this client sustains on this machine (achieved >= 99%
    /// of target, schedule-lag p99 < 1 ms) against a zero-delay simulated engine, and its TTFT
    /// error against the engine's own send times.
    Calibrate {
        /// First rate tried, requests per second (rates double from here, then bisect).
        #[arg(long, default_value_t = 1000.0)]
        start_rate: f64,
        /// Highest rate tried.
        #[arg(long, default_value_t = 64000.0)]
        max_rate: f64,
        /// Measured seconds per rate.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Output tokens per streamed response.
        #[arg(long, default_value_t = 16)]
        tokens: u32,
        /// Keep each rate's run under this folder (default: a temporary folder, removed).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Serve the simulated engine over HTTP (OpenAI-compatible) until Ctrl-C.
    SimServer {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8000", value_parser = parse_listen)]
        listen: SocketAddr,
        /// Model name to serve [default: `sim`; with --pipeline, the endpoint's `model`, else
        /// its name].
        #[arg(long)]
        model: Option<String>,
        /// Take the profile (and the datasets the engine knows) from this pipeline's
        /// simulated endpoint named by --endpoint.
        #[arg(long, requires = "endpoint")]
        pipeline: Option<PathBuf>,
        /// The simulated endpoint of --pipeline to serve.
        #[arg(long, requires = "pipeline")]
        endpoint: Option<String>,
        /// Continuous-batching slots (at most 1048576).
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..=i64::from(crate::spec::MAX_SLOTS)))]
        slots: Option<u32>,
        /// Decode step time with one sequence, ms (0 to 3600000).
        #[arg(long, allow_negative_numbers = true, value_parser = parse_decode_ms)]
        decode_ms: Option<f64>,
        /// Prefill throughput, prompt tokens per second (0 for free prefill, or 0.001 to 1e9).
        #[arg(long, allow_negative_numbers = true, value_parser = parse_prefill_tok_s)]
        prefill_tok_s: Option<f64>,
        /// Probability of a correct answer at temperature 0 (0 to 1).
        #[arg(long, allow_negative_numbers = true, value_parser = parse_quality)]
        quality: Option<f64>,
        /// Oracle seed.
        #[arg(long)]
        seed: Option<u64>,
    },
}

/// A number of `frontier sim-server`'s flags within the bounds a pipeline's profile has.
fn parse_bounded(text: &str, lo: f64, hi: f64, unit: &str) -> Result<f64, String> {
    let range = format!(
        "from {} to {}{unit}",
        crate::spec::duration::compact_number(lo),
        crate::spec::duration::compact_number(hi)
    );
    match text.trim().parse::<f64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        Ok(_) => Err(format!("give a number {range}")),
        Err(_) => Err(format!("not a number: give a number {range}")),
    }
}

/// `--listen`: an IP address and port; `localhost:PORT` is read as `127.0.0.1:PORT`, as the
/// loopback address it almost always means (no name is looked up).
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Some(port) = text.strip_prefix("localhost:") {
        return parse_listen(&format!("127.0.0.1:{port}"));
    }
    text.parse().map_err(|_| {
        "expected IP:PORT, such as 127.0.0.1:8000 (port 0 picks a free port; 0.0.0.0:PORT listens on every interface)".to_string()
    })
}

/// `--decode-ms`: as `profile.decode_ms`.
fn parse_decode_ms(text: &str) -> Result<f64, String> {
    parse_bounded(
        text,
        0.0,
        crate::spec::MAX_STEP_MS,
        " (milliseconds, at most an hour)",
    )
}

/// `--quality`: as `profile.quality`.
fn parse_quality(text: &str) -> Result<f64, String> {
    parse_bounded(text, 0.0, 1.0, " (a probability)")
}

/// `--prefill-tok-s`: as `profile.prefill_tok_s`.
fn parse_prefill_tok_s(text: &str) -> Result<f64, String> {
    let v = parse_bounded(
        text,
        0.0,
        crate::spec::MAX_PREFILL_TOK_S,
        " (prompt tokens per second; 0 for free prefill)",
    )?;
    match crate::spec::SimProfile::prefill_tok_s_problem(v) {
        None => Ok(v),
        Some(problem) => Err(format!("{problem}; {}", crate::spec::PREFILL_TOK_S_HELP)),
    }
}

/// Output formats of `frontier query`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text.
    Table,
    /// CSV with a header.
    Csv,
    /// One JSON object per row.
    Jsonl,
}

/// Parse arguments, run, render errors; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                EXIT_INVALID
            } else {
                EXIT_OK
            };
        }
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let text = e.to_string();
            let text = text.trim_end();
            // Every message starts with `error:` (pipeline errors render their own).
            let prefix = if text.starts_with("error") {
                ""
            } else {
                "error: "
            };
            let _ = writeln!(std::io::stderr(), "{prefix}{text}");
            e.exit_code()
        }
    }
}

/// Raise the open-file soft limit to the hard limit (Unix): every in-flight request holds a
/// connection, and a limit of 1,024 (a common default) would fail requests as `connect` errors
/// long before the client or the server is the bottleneck. Failure leaves the limit as it was.
fn raise_open_file_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit read and write one plain struct we own.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            // Some systems report an unlimited hard limit that setrlimit refuses: cap it.
            let want = lim.rlim_max.min(1 << 20);
            if want > lim.rlim_cur {
                lim.rlim_cur = want;
                let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    raise_open_file_limit();
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(runtime_workers());
    b.enable_all()
        // Check the queue of tasks woken from other threads (the thread pacer's releases, the
        // writer's back-pressure) often, so a released case is not kept waiting behind a busy
        // worker's local tasks.
        .global_queue_interval(8)
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
}

/// Run `fut` to completion as a task on the runtime's workers, not on the main thread that
/// `block_on` would poll it on. A run's stage loop then lives on a worker: the pacer's releases
/// (its timer's readiness, or the thread pacer's channel) wake that worker directly, and the cases it spawns land in its local queue rather than
/// crossing from the main thread to a worker with a second wake-up. Measured with
/// `frontier calibrate`'s floor on 2 cores (three runs each, interleaved): lag p50 0.046-0.053 ms
/// and p99 0.26-0.71 ms, against 0.090-0.105 ms and 1.1-2.6 ms from the main thread.
fn on_worker<F>(fut: F) -> Result<F::Output, Error>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = runtime()?;
    let task = rt.spawn(fut);
    rt.block_on(task)
        .map_err(|e| Error::Internal(format!("the run task failed: {e}")))
}

/// Async runtime worker threads: `FRONTIER_WORKERS` if set (a positive integer), else one
/// fewer than the machine's CPUs (at least 1), leaving a core for the results writer, a server
/// on the same machine and the OS. Measured on 2 cores (`frontier calibrate`), one worker kept the
/// achieved rate at 10,000 requests/s (ratio 0.9965) with a third of the schedule-lag tail of
/// two workers, whose tasks migrate between threads with a wake-up each time.
pub fn runtime_workers() -> usize {
    if let Some(n) = std::env::var("FRONTIER_WORKERS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return n;
    }
    std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1).max(1))
        .unwrap_or(1)
}

/// Write to stdout; a closed pipe (`frontier ... | head`) ends the program successfully.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(EXIT_OK);
    }
}

/// Print the plan's warnings on stderr (`api_keys`: with the unset API keys). They do not
/// change the exit code.
fn warn(plan: &Plan, api_keys: bool) {
    if !plan.warnings.is_empty(api_keys) {
        let text = plan.warnings.render(api_keys);
        let _ = writeln!(std::io::stderr(), "{}\n", text.trim_end());
    }
}

fn load_plan(file: &Path, set: &[String]) -> Result<Plan, Error> {
    let loaded = load(file, set)?;
    Ok(crate::plan::build(&loaded)?)
}

fn dispatch(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Run {
            file,
            out,
            set,
            no_progress,
        } => {
            let plan = Arc::new(load_plan(&file, &set)?);
            // An unset API key is the run's own error, reported once, before anything is created.
            warn(&plan, false);
            let opts = crate::exec::RunOptions {
                out_dir: out,
                progress: !no_progress,
                quiet: false,
                interrupt: None,
                direct: false,
            };
            let outcome = on_worker(async move { crate::exec::run(plan, &opts).await })??;
            emit(&crate::report::summary(&outcome));
            // An interrupted run says so (the summary's last line); its cancelled calls are
            // not a verdict on the server.
            if outcome.interrupted {
                return Ok(EXIT_RUN_FAILED);
            }
            if outcome.requests > 0 && outcome.failed == outcome.requests {
                let _ = writeln!(
                    std::io::stderr(),
                    "error: every request failed (see error_kind and error_message in requests.parquet)"
                );
                return Ok(EXIT_RUN_FAILED);
            }
            if outcome.requests == 0 {
                let _ = writeln!(std::io::stderr(), "error: no request was sent");
                return Ok(EXIT_RUN_FAILED);
            }
            Ok(EXIT_OK)
        }
        Command::Calibrate {
            start_rate,
            max_rate,
            seconds,
            tokens,
            out,
            json,
        } => {
            if let Some(problem) = calibrate_args_problem(start_rate, max_rate, seconds, tokens) {
                return Err(Error::Usage(format!("calibrate: {problem}")));
            }
            let opts = crate::calibrate::CalibrateOptions {
                start_rate,
                max_rate,
                duration: std::time::Duration::from_secs_f64(seconds),
                tokens,
                out,
                ..Default::default()
            };
            let c = on_worker(async move { crate::calibrate::calibrate(&opts).await })??;
            if json {
                emit(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&c)
                        .map_err(|e| Error::Internal(format!("JSON: {e}")))?
                ));
            } else {
                emit(&crate::calibrate::render(&c));
            }
            // Interrupted: what it measured is shown, but the search did not finish.
            Ok(if c.interrupted {
                EXIT_RUN_FAILED
            } else {
                EXIT_OK
            })
        }
        Command::Validate { files, set } => {
            let mut failed = 0;
            for f in &files {
                match load_plan(f, &set) {
                    Ok(plan) => {
                        warn(&plan, true);
                        emit(&format!(
                            "ok: {} ({} trial{}, {} requests)\n",
                            f.display(),
                            plan.trials.len(),
                            if plan.trials.len() == 1 { "" } else { "s" },
                            plan.total_requests()
                                .map(|n| n.to_string())
                                .unwrap_or_else(|| "duration-bounded".into())
                        ))
                    }
                    Err(e) => {
                        failed += 1;
                        let _ = writeln!(std::io::stderr(), "{}", e.to_string().trim_end());
                    }
                }
            }
            Ok(if failed > 0 { EXIT_INVALID } else { EXIT_OK })
        }
        Command::Plan { file, set } => {
            let plan = load_plan(&file, &set)?;
            warn(&plan, true);
            emit(&describe_plan(&plan));
            Ok(EXIT_OK)
        }
        Command::Schema => {
            let schema = crate::spec::schema::pipeline_schema();
            emit(&(serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"));
            Ok(EXIT_OK)
        }
        Command::Crosswalk { json } => {
            emit(&if json {
                crate::report::crosswalk::json() + "\n"
            } else {
                crate::report::crosswalk::markdown()
            });
            Ok(EXIT_OK)
        }
        Command::Query {
            run_dir,
            sql,
            format,
        } => {
            if let Some(problem) = not_a_run_folder(&run_dir) {
                return Err(Error::Usage(problem));
            }
            let tables = crate::query::Tables::load_run(&run_dir)
                .map_err(|e| Error::Run(format!("{}: {e}", run_dir.display())))?;
            let batch = crate::query::execute(&tables, &sql)
                .map_err(|e| crate::report::query_error(&e, &tables, &run_dir, &sql))?;
            emit(&match format {
                Format::Table => crate::report::render_table(&batch, None, None),
                Format::Csv => to_csv(&batch),
                Format::Jsonl => to_jsonl(&batch),
            });
            Ok(EXIT_OK)
        }
        Command::SimServer {
            listen,
            model,
            pipeline,
            endpoint,
            slots,
            decode_ms,
            prefill_tok_s,
            quality,
            seed,
        } => {
            // Flags override the profile's values (with --pipeline, before its seed is mixed
            // with workload.seed, as `profile.seed` in the file would be).
            let apply_flags = |profile: &mut crate::spec::SimProfile| {
                if let Some(v) = slots {
                    profile.slots = v;
                }
                if let Some(v) = decode_ms {
                    profile.decode_ms = v;
                }
                if let Some(v) = prefill_tok_s {
                    profile.prefill_tok_s = v;
                }
                if let Some(v) = quality {
                    profile.quality = v;
                }
                if let Some(v) = seed {
                    profile.seed = v;
                }
            };
            let cfg = if let (Some(p), Some(name)) = (pipeline, endpoint) {
                let plan = load_plan(&p, &[])?;
                let Some(crate::spec::EndpointSpec::Simulated(s)) = plan.spec.endpoints.get(&name)
                else {
                    let simulated: Vec<&str> = plan
                        .spec
                        .endpoints
                        .iter()
                        .filter(|(_, e)| matches!(e, crate::spec::EndpointSpec::Simulated(_)))
                        .map(|(n, _)| n.as_str())
                        .collect();
                    return Err(Error::Usage(format!(
                        "{} has no simulated endpoint named `{name}` ({})",
                        p.display(),
                        if simulated.is_empty() {
                            "it has none".to_string()
                        } else {
                            format!("its simulated endpoints: {}", simulated.join(", "))
                        }
                    )));
                };
                let mut profile = s.profile.clone();
                apply_flags(&mut profile);
                let served = s.model.clone().unwrap_or_else(|| name.clone());
                // The engine `frontier run` starts for this endpoint, so both answer alike.
                crate::sim::SimConfig::for_pipeline(
                    &plan,
                    &model.unwrap_or(served),
                    profile,
                    Arc::new(crate::sim::Knowledge::of_plan(&plan)),
                )
            } else {
                let mut profile = crate::spec::SimProfile::default();
                apply_flags(&mut profile);
                crate::sim::SimConfig {
                    model: model.unwrap_or_else(|| "sim".to_string()),
                    profile,
                    knowledge: Arc::new(crate::sim::Knowledge::default()),
                    first_token_log: None,
                }
            };
            // The engine prints where it listens once bound (the real port when --listen asks
            // for port 0).
            runtime()?
                .block_on(crate::sim::serve_forever(cfg, listen))
                .map_err(|e| {
                    let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                        " (another server listens there: give --listen another port, or port 0 for a free one)"
                    } else {
                        ""
                    };
                    Error::Run(format!("sim-server on {listen}: {e}{hint}"))
                })?;
            Ok(EXIT_OK)
        }
    }
}

/// The text of `frontier plan`.
/// The first of `frontier calibrate`'s argument bounds that the values break, naming it.
fn calibrate_args_problem(
    start_rate: f64,
    max_rate: f64,
    seconds: f64,
    tokens: u32,
) -> Option<String> {
    let max_requests = crate::calibrate::MAX_REQUESTS_PER_RATE;
    let max_tokens = crate::calibrate::MAX_TOKENS;
    if !(start_rate > 0.0 && start_rate.is_finite()) {
        Some(format!(
            "--start-rate {start_rate} must be a positive, finite number"
        ))
    } else if !(max_rate >= start_rate && max_rate.is_finite()) {
        Some(format!(
            "--max-rate {max_rate} must be at least --start-rate ({start_rate})"
        ))
    } else if !(seconds > 0.0 && seconds <= 3600.0) {
        Some(format!(
            "--seconds {seconds} must be above 0 and at most 3600"
        ))
    } else if max_rate * seconds > max_requests {
        Some(format!(
            "--max-rate x --seconds ({max_rate} x {seconds}) must be at most {max_requests:.0} requests per rate"
        ))
    } else if !(tokens > 0 && tokens <= max_tokens) {
        Some(format!(
            "--tokens {tokens} must be above 0 and at most {max_tokens}"
        ))
    } else {
        None
    }
}

/// Why `dir` is not a run folder (`OUT/<pipeline>/<run id>`, holding the `manifest.json` every
/// run writes first), naming the latest run it, its subfolders or its parent hold; `None` when
/// it is one.
fn not_a_run_folder(dir: &Path) -> Option<String> {
    if dir.join("manifest.json").is_file() {
        return None;
    }
    let shown = dir.display();
    let expected = "a run folder is OUT/<pipeline>/<run id>, as `frontier run` prints";
    // "holds one run, X" or "holds N runs; the latest is X".
    let holds = |runs: &[PathBuf]| match runs {
        [] => None,
        [one] => Some(format!("holds one run, {}", one.display())),
        [.., latest] => Some(format!(
            "holds {} runs; the latest is {}",
            runs.len(),
            latest.display()
        )),
    };
    if !dir.is_dir() {
        let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
        let hint = parent.and_then(|p| Some((p, holds(&runs_under(p))?)));
        return Some(match hint {
            Some((p, h)) => format!("{shown} does not exist; {} {h}", p.display()),
            None => format!("{shown} does not exist ({expected})"),
        });
    }
    Some(match holds(&runs_under(dir)) {
        Some(h) => format!("{shown} is not a run folder; it {h}"),
        None => format!("{shown} is not a run folder: it holds no manifest.json ({expected})"),
    })
}

/// The run folders in `dir` (a pipeline's folder) or else in its subfolders (an output folder),
/// oldest first: run ids start with their UTC start time.
fn runs_under(dir: &Path) -> Vec<PathBuf> {
    let subfolders = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        v.sort();
        v
    };
    let is_run = |p: &PathBuf| p.join("manifest.json").is_file();
    let mut runs: Vec<PathBuf> = subfolders(dir).into_iter().filter(is_run).collect();
    if runs.is_empty() {
        runs = subfolders(dir)
            .iter()
            .flat_map(|d| subfolders(d).into_iter().filter(is_run))
            .collect();
        runs.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    }
    runs
}

pub fn describe_plan(plan: &Plan) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "pipeline {} ({})", plan.name, plan.file.display());
    if let Some(d) = &plan.spec.description {
        let _ = writeln!(out, "  {}", d.trim());
    }
    let _ = writeln!(
        out,
        "dataset `{}`: {} rows; warmup {}, repeats {}, seed {}",
        plan.dataset.name,
        plan.dataset.rows.len(),
        plan.warmup,
        plan.repeats,
        plan.seed
    );
    if let Some(t) = &plan.dataset.tokenizer {
        let _ = match plan.dataset.inexact_rows {
            0 => writeln!(
                out,
                "prompt lengths: exact under tokenizer {} (without special tokens)",
                t.file()
            ),
            n => writeln!(
                out,
                "prompt lengths: tokenizer {}; {n} of {} rows could not be built to their exact \
                 length (the closest was kept; `item.input_tokens` and `item.prefix_tokens` hold the real counts)",
                t.file(),
                plan.dataset.rows.len()
            ),
        };
    }
    let _ = writeln!(
        out,
        "{} trial{}:",
        plan.trials.len(),
        if plan.trials.len() == 1 { "" } else { "s" }
    );
    for t in &plan.trials {
        let arrival = t
            .arrival
            .stages
            .iter()
            .map(|st| match (t.arrival.stages.len(), st.duration) {
                (n, Some(d)) if n > 1 => format!("{} for {d:?}", st.load.describe()),
                _ => st.load.describe(),
            })
            .collect::<Vec<_>>()
            .join(", then ");
        let size = match (t.requests(), t.duration) {
            (Some(n), _) => format!("{n} requests"),
            (None, Some(d)) => format!("for {:?}", d),
            (None, None) => "unbounded".into(),
        };
        let endpoints: Vec<&str> = t.steps.iter().map(|s| s.endpoint.as_str()).collect();
        let grid = crate::plan::grid::describe(&t.grid);
        // The endpoints the steps call, unless a grid value already says it (`endpoint=small`).
        let called = format!("endpoint={}", endpoints.join(","));
        let called = if grid.split_whitespace().any(|w| w == called) {
            String::new()
        } else {
            format!("  {called}")
        };
        let _ = writeln!(
            out,
            "  [{}] {}  {grid}{called}  {}  {}",
            t.index, t.id, arrival, size
        );
    }
    match plan.total_requests() {
        Some(n) => {
            let _ = writeln!(out, "requests to send: {n}");
        }
        None => {
            let _ = writeln!(out, "requests to send: bounded by duration");
        }
    }
    let _ = writeln!(
        out,
        "scorers: {}",
        if plan.scorers.is_empty() {
            "(none)".to_string()
        } else {
            plan.scorers
                .iter()
                .map(|s| s.describe())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let _ = writeln!(
        out,
        "queries: {}",
        if plan.queries.is_empty() {
            "(none)".to_string()
        } else {
            plan.queries
                .iter()
                .map(|(n, _)| n.clone())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let _ = writeln!(
        out,
        "first rendered prompt (trial 0, first row):\n---\n{}\n---",
        plan.first_prompt
    );
    out
}

fn to_csv(batch: &arrow_array::RecordBatch) -> String {
    let rows = crate::report::rows_as_text(batch);
    let esc = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    let header: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| esc(f.name()))
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for r in rows {
        out.push_str(
            &r.iter()
                .map(|c| c.as_deref().map(esc).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

fn to_jsonl(batch: &arrow_array::RecordBatch) -> String {
    let mut out = String::new();
    for r in crate::report::rows_as_json(batch) {
        out.push_str(&r.to_string());
        out.push('\n');
    }
    out
}
