//! The pipeline resolved and checked: datasets opened, grid expanded into trials with stable
//! ids, per-trial values rendered, templates compiled and rendered once against the first
//! dataset row (strict mode), endpoints and queries checked. `frontier validate` stops here;
//! `frontier plan` prints the result; `frontier run` executes it.
//!
//! Every problem is collected (not only the first) and located in the pipeline file by key path.

pub mod dataset;
pub mod evaluators;
pub mod grid;
pub mod synthetic;
pub mod template;
pub mod tokenizer;
pub mod trace;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::error::PipelineErrors;
use crate::eval::Scorer;
use crate::spec::load::Loaded;
use crate::spec::node::KeyPath;
use crate::spec::validate::{Issue, Note, did_you_mean, suggestion};
use crate::spec::{
    ApiKind, ArrivalSpec, DatasetSpec, EndpointSpec, ParamsSpec, QuerySpec, Role, SloSpec, Spec,
    Templated,
};

pub use dataset::{Dataset, Row};
pub use grid::GridPoint;
pub use template::Templates;

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Default schedule-lag p99 above which a trial is flagged `client_saturated`.
pub const DEFAULT_MAX_LAG: Duration = Duration::from_millis(1);

/// A runnable pipeline.
#[derive(Debug)]
pub struct Plan {
    /// Pipeline name.
    pub name: String,
    /// The pipeline file.
    pub file: PathBuf,
    /// The pipeline as loaded (with overrides), for the manifest.
    pub spec: Spec,
    /// The workload's dataset.
    pub dataset: Arc<Dataset>,
    /// Every dataset by name (the simulated engine learns all of them).
    pub datasets: BTreeMap<String, Arc<Dataset>>,
    /// Trials in grid order.
    pub trials: Vec<Trial>,
    /// Compiled templates, named `<step id>.prompt` / `<step id>.messages.<i>`.
    pub templates: Arc<Templates>,
    /// Scorers; the first defines `accuracy`.
    pub scorers: Vec<Scorer>,
    /// Per-request SLO.
    pub slo: SloSpec,
    /// Store the per-chunk series in `requests.parquet` (`results.chunk_timings`).
    pub chunk_timings: bool,
    /// Named queries.
    pub queries: Vec<(String, QuerySpec)>,
    /// The cases are a trace's records, replayed in order (execution i is record i).
    pub replay: bool,
    /// Pause between a session's turns.
    pub think_time: Duration,
    /// Warm-up cases per trial.
    pub warmup: u64,
    /// Cases scheduled this soon after a trial's start are warm-up too.
    pub warmup_duration: Option<Duration>,
    /// The last N cases of a trial are cool-down.
    pub cooldown: u64,
    /// Cases scheduled this close to a trial's end are cool-down.
    pub cooldown_duration: Option<Duration>,
    /// Stop a trial after this many failed requests.
    pub max_errors: Option<u64>,
    /// Stop a trial once the failed share exceeds this (from the 20th finished request).
    pub max_error_rate: Option<f64>,
    /// Schedule-lag p99 above which a trial is flagged `client_saturated`.
    pub max_lag: Duration,
    /// Repeats of each case per trial.
    pub repeats: u32,
    /// Seed.
    pub seed: u64,
    /// `vars` as a template value, converted once for every case's context.
    pub vars_value: minijinja::Value,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The first rendered prompt (of the first trial's first step), for `frontier plan`.
    pub first_prompt: String,
    /// Grid keys with the Arrow type of their `configs.grid_<key>` column.
    pub grid_types: Vec<(String, arrow_schema::DataType)>,
    /// Client tokenizers by endpoint name (`endpoints.<name>.tokenizer`).
    pub endpoint_tokenizers: BTreeMap<String, Arc<tokenizer::HfTokenizer>>,
    /// LLM judges, in evaluator order.
    pub judges: Vec<JudgePlan>,
    /// Problems that do not stop a run (printed as `warning:` on stderr).
    pub warnings: Warnings,
}

/// Problems `validate` reports without failing: the pipeline runs, but not as its author
/// probably meant. Printed on stderr by `validate`, `plan` and `run`; the exit code is not
/// affected.
#[derive(Clone, Debug, Default)]
pub struct Warnings {
    file: PathBuf,
    source: String,
    overrides: Vec<String>,
    /// About the pipeline: scorers that need references on a dataset without any.
    pub issues: Vec<Issue>,
    /// Endpoints a trial or judge calls whose `api_key_env` names a variable that is not set
    /// in this environment (`run` refuses to start with an error instead).
    pub unset_api_keys: Vec<Issue>,
}

impl Warnings {
    /// Whether there is nothing to print (`api_keys`: counting the unset API keys).
    pub fn is_empty(&self, api_keys: bool) -> bool {
        self.issues.is_empty() && (!api_keys || self.unset_api_keys.is_empty())
    }

    /// Every warning rendered as errors are (message, `file:line:col`, the source line, the key
    /// path, the help), headed `warning:`; with `api_keys`, the unset API keys too.
    pub fn render(&self, api_keys: bool) -> String {
        let keys: &[Issue] = if api_keys { &self.unset_api_keys } else { &[] };
        let mut all: Vec<&Issue> = self.issues.iter().chain(keys).collect();
        all.sort_by_key(|i| (i.loc.line == 0, i.loc.line, i.loc.col));
        let tail = format!(
            "error: {} is not a valid pipeline (1 error)\n",
            self.file.display()
        );
        let mut out = String::new();
        for issue in all {
            let text = PipelineErrors {
                file: self.file.clone(),
                source: self.source.clone(),
                overrides: self.overrides.clone(),
                issues: vec![issue.clone()],
                structural: false,
            }
            .render();
            let body = text.strip_suffix(&tail).unwrap_or(&text);
            out.push_str("warning: ");
            out.push_str(body.strip_prefix("error: ").unwrap_or(body));
        }
        out
    }
}

/// An `llm_judge` evaluator, resolved.
#[derive(Clone, Debug)]
pub struct JudgePlan {
    /// The evaluator's name (`scores.scorer`).
    pub name: String,
    /// Its position among the scorers.
    pub scorer_index: usize,
    /// Judge endpoint names.
    pub judges: Vec<String>,
    /// The compiled rubric's template name.
    pub template: String,
    /// Grade pattern (last match wins).
    pub pattern: regex::Regex,
    /// Grade scale `(min, max)`.
    pub scale: (f64, f64),
    /// Pass threshold on the mapped grade.
    pub pass: Option<f64>,
    /// Calls per judge and case.
    pub samples: u32,
    /// Judge temperature.
    pub temperature: f64,
    /// Judge seed (sample i uses seed + i).
    pub seed: i64,
    /// `max_tokens` per judge call.
    pub max_tokens: u32,
    /// Judge calls in flight.
    pub concurrency: u32,
}

/// One grid point, resolved.
#[derive(Clone, Debug)]
pub struct Trial {
    /// Position in the grid (0-based).
    pub index: usize,
    /// Stable id: hash of the grid point.
    pub id: String,
    /// The grid values.
    pub grid: GridPoint,
    /// Arrival process.
    pub arrival: Arrival,
    /// Case executions (including warm-up); `None` runs until `duration`.
    pub cases: Option<u64>,
    /// Stop scheduling after this long.
    pub duration: Option<Duration>,
    /// The flow's steps with per-trial values resolved.
    pub steps: Vec<TrialStep>,
    /// Turns per case (1 unless `workload.session`).
    pub turns: u32,
    /// `grid` as a template value, converted once for every case's context.
    pub grid_value: minijinja::Value,
}

impl Trial {
    /// Requests this trial sends: every turn of every step of every case (`None` when bounded by
    /// duration only; saturating at `u64::MAX`).
    pub fn requests(&self) -> Option<u64> {
        Some(
            self.cases?
                .saturating_mul(self.steps.len() as u64)
                .saturating_mul(u64::from(self.turns)),
        )
    }
}

/// A resolved arrival process: one or more stages run back to back (one stage unless the
/// pipeline uses `steps`). A stage starts when the previous stage's cases have finished.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrival {
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

/// One stage of a trial's load.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// How cases arrive.
    pub load: Load,
    /// The stage schedules no case later than this after its start.
    pub duration: Option<Duration>,
}

/// How cases arrive during a stage.
#[derive(Clone, Debug, PartialEq)]
pub enum Load {
    /// N cases in flight.
    Closed {
        /// Concurrency.
        concurrency: u32,
    },
    /// Precomputed send times.
    Open {
        /// Gap distribution.
        process: OpenProcess,
        /// Cases per second, possibly changing over time.
        rate: Rate,
        /// Cap on cases in flight.
        max_concurrency: Option<u32>,
    },
    /// Recorded send times (seconds from the start, non-decreasing), one per case.
    Trace {
        /// Offsets in seconds, already divided by the speedup.
        offsets_s: Arc<[f64]>,
        /// The speedup applied.
        speedup: f64,
        /// Cap on cases in flight.
        max_concurrency: Option<u32>,
    },
}

impl Load {
    /// Open loop (a schedule with deadlines)?
    pub fn is_open(&self) -> bool {
        !matches!(self, Load::Closed { .. })
    }

    /// The cap on cases in flight of an open loop.
    pub fn max_concurrency(&self) -> Option<u32> {
        match self {
            Load::Closed { .. } => None,
            Load::Open {
                max_concurrency, ..
            }
            | Load::Trace {
                max_concurrency, ..
            } => *max_concurrency,
        }
    }
}

/// Open-loop gap distributions (in the time scale of the rate function).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OpenProcess {
    /// Equal gaps of 1/rate.
    Constant,
    /// Exponential gaps with mean 1/rate.
    Poisson,
    /// Gamma gaps with mean 1/rate and this shape (coefficient of variation 1/sqrt(shape)).
    Gamma {
        /// Shape k > 0.
        shape: f64,
    },
}

/// An open-loop rate in cases per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// Constant.
    Fixed(f64),
    /// Linear from `from` to `to` over `over_s` seconds, then `to`.
    Linear {
        /// Rate at the start.
        from: f64,
        /// Rate at the end of the ramp.
        to: f64,
        /// Ramp length in seconds.
        over_s: f64,
    },
}

impl Rate {
    /// Expected arrivals in `[0, t]` (the integral of the rate).
    pub fn cumulative(&self, t: f64) -> f64 {
        match *self {
            Rate::Fixed(r) => r * t,
            Rate::Linear { from, to, over_s } => {
                if t <= over_s {
                    from * t + (to - from) * t * t / (2.0 * over_s)
                } else {
                    (from + to) * over_s / 2.0 + to * (t - over_s)
                }
            }
        }
    }

    /// The time `t` at which [`Rate::cumulative`] reaches `area` (its inverse).
    pub fn time_at(&self, area: f64) -> f64 {
        match *self {
            Rate::Fixed(r) => area / r,
            Rate::Linear { from, to, over_s } => {
                if area <= 0.0 {
                    return 0.0;
                }
                let ramp_area = (from + to) * over_s / 2.0;
                if area >= ramp_area {
                    return over_s + (area - ramp_area) / to;
                }
                let a = (to - from) / (2.0 * over_s);
                if a.abs() < 1e-12 {
                    return area / from;
                }
                // a t^2 + from t - area = 0, the root in [0, over_s]; written to stay accurate
                // when `from` is near zero.
                let disc = (from * from + 4.0 * a * area).max(0.0);
                2.0 * area / (from + disc.sqrt())
            }
        }
    }

    /// The mean rate over the first `t` seconds.
    pub fn mean_over(&self, t: f64) -> f64 {
        if t > 0.0 {
            self.cumulative(t) / t
        } else {
            match *self {
                Rate::Fixed(r) => r,
                Rate::Linear { from, .. } => from,
            }
        }
    }
}

impl Load {
    /// A short description, e.g. `poisson 20/s (max 8 in flight)`.
    pub fn describe(&self) -> String {
        match self {
            Load::Closed { concurrency } => format!("concurrency {concurrency}"),
            Load::Trace {
                offsets_s,
                speedup,
                max_concurrency,
            } => format!(
                "trace {} records x{speedup}{}",
                offsets_s.len(),
                max_concurrency
                    .map(|c| format!(" (max {c} in flight)"))
                    .unwrap_or_default()
            ),
            Load::Open {
                process,
                rate,
                max_concurrency,
            } => {
                let p = match process {
                    OpenProcess::Constant => "constant".to_string(),
                    OpenProcess::Poisson => "poisson".to_string(),
                    OpenProcess::Gamma { shape } => format!("gamma(shape {shape})"),
                };
                let r = match rate {
                    Rate::Fixed(r) => format!("{r}/s"),
                    Rate::Linear { from, to, over_s } => format!("{from}->{to}/s over {over_s}s"),
                };
                let cap = max_concurrency
                    .map(|c| format!(" (max {c} in flight)"))
                    .unwrap_or_default();
                format!("{p} {r}{cap}")
            }
        }
    }
}

/// An `llm` step resolved for one trial.
#[derive(Clone, Debug)]
pub struct TrialStep {
    /// Step id.
    pub step_id: String,
    /// Endpoint name (a key of `endpoints`).
    pub endpoint: String,
    /// The endpoint's definition.
    pub endpoint_spec: EndpointSpec,
    /// Model name sent.
    pub model: String,
    /// API shape.
    pub api: ApiKind,
    /// How the prompt is built.
    pub prompt: PromptPlan,
    /// Request body fields other than the prompt/messages (model, sampling, stream options),
    /// serialised once per trial as a JSON object without its leading `{`.
    pub body_tail: Arc<str>,
    /// `body_tail` without `max_tokens`, `max_completion_tokens` and `ignore_eos`: the tail
    /// for rows that ask for their own output length ([`Row::output_tokens`]).
    pub body_tail_sized: Arc<str>,
    /// The key a row's output length is sent under: `max_completion_tokens` when the step's
    /// parameters use that key, else `max_tokens`.
    pub length_key: &'static str,
    /// The step's parameters ask for `ignore_eos: true` (in `extra`).
    pub ignore_eos: bool,
    /// Resolved sampling parameters (for `requests.parquet` and the oracle).
    pub temperature: Option<f64>,
    /// Resolved max_tokens.
    pub max_tokens: Option<u32>,
}

/// How a step's prompt is rendered per request.
#[derive(Clone, Debug)]
pub enum PromptPlan {
    /// A single prompt template (sent as one user message on chat).
    Prompt {
        /// Template name.
        template: String,
    },
    /// Chat messages: role and template name each.
    Messages(Vec<(Role, String)>),
}

impl Plan {
    /// Total requests the run will send (`None` when a trial is bounded by duration only;
    /// saturating at `u64::MAX`: `requests` may be any `u64`).
    pub fn total_requests(&self) -> Option<u64> {
        let mut total = 0u64;
        for t in &self.trials {
            total = total.saturating_add(t.requests()?);
        }
        Some(total)
    }

    /// The words case nonces are drawn from.
    fn nonce_words(&self) -> &[&'static str] {
        self.dataset
            .nonce_words
            .as_deref()
            .unwrap_or(&synthetic::VOCAB)
    }

    /// The template context for execution `index` (the `case_index`) of `trial` on `row`.
    pub fn context(
        &self,
        row: &Row,
        trial: &Trial,
        index: u64,
        turn: u32,
        steps: &Map<String, Value>,
    ) -> Value {
        case_context(&CaseContext {
            row,
            nonce: self.dataset.nonce,
            nonce_words: self.nonce_words(),
            seed: self.seed,
            trial_id: &trial.id,
            index,
            turn,
            turns: trial.turns,
            grid: &trial.grid,
            vars: &self.spec.vars,
            steps,
        })
    }

    /// The same context as [`Plan::context`], built directly as a template value: no JSON tree
    /// is cloned per case, and the trial's grid and the pipeline's `vars` are converted once.
    /// This is what requests are rendered with; [`Plan::context`] explains render errors.
    pub fn template_context(
        &self,
        row: &Row,
        trial: &Trial,
        index: u64,
        turn: u32,
        steps: &Map<String, Value>,
    ) -> minijinja::Value {
        let nonce = synthetic::nonce_from(self.nonce_words(), self.seed, &trial.id, index);
        let item = item_with_nonce(row, self.dataset.nonce, &nonce);
        minijinja::context! {
            item => template::to_value(&*item),
            case => minijinja::context! { index => index, nonce => nonce },
            turn => minijinja::context! { index => turn, count => trial.turns },
            grid => trial.grid_value.clone(),
            vars => self.vars_value.clone(),
            steps => template::to_value(steps),
        }
    }

    /// Render a step's prompt for one case (the hot path: see [`Plan::template_context`]).
    pub fn render_case_prompt(
        &self,
        step: &TrialStep,
        row: &Row,
        trial: &Trial,
        index: u64,
        turn: u32,
        steps: &Map<String, Value>,
    ) -> Result<Value, String> {
        let ctx = self.template_context(row, trial, index, turn, steps);
        let explain = || self.context(row, trial, index, turn, steps);
        self.render_prompt_with(step, &ctx, &explain)
    }

    /// Render a step's messages as the JSON `messages` array, or its completions prompt.
    pub fn render_prompt(&self, step: &TrialStep, ctx: &Value) -> Result<Value, String> {
        self.render_prompt_with(step, &template::to_value(ctx), &|| ctx.clone())
    }

    fn render_prompt_with(
        &self,
        step: &TrialStep,
        ctx: &minijinja::Value,
        explain: &dyn Fn() -> Value,
    ) -> Result<Value, String> {
        match &step.prompt {
            PromptPlan::Prompt { template } => {
                let text = self.templates.render_value(template, ctx, explain)?;
                Ok(match step.api {
                    ApiKind::Chat => json!([{"role": "user", "content": text}]),
                    ApiKind::Completions => Value::String(text),
                })
            }
            PromptPlan::Messages(msgs) => {
                let mut out = Vec::with_capacity(msgs.len());
                for (role, template) in msgs {
                    let role = match role {
                        Role::System => "system",
                        Role::User => "user",
                        Role::Assistant => "assistant",
                    };
                    out.push(json!({
                        "role": role,
                        "content": self.templates.render_value(template, ctx, explain)?,
                    }));
                }
                Ok(Value::Array(out))
            }
        }
    }

    /// The request body for a rendered prompt: `{"messages": ...,` or `{"prompt": ...,`
    /// followed by the trial's precomputed tail. A row with its own output length (synthetic
    /// and trace rows) sends it as `max_tokens` in place of the step's, with `ignore_eos`
    /// when its dataset or the step asks for it.
    pub fn body(&self, step: &TrialStep, rendered: &Value, row: &Row) -> bytes::Bytes {
        let key = match step.api {
            ApiKind::Chat => "messages",
            ApiKind::Completions => "prompt",
        };
        let mut s = String::with_capacity(256 + step.body_tail.len());
        s.push_str("{\"");
        s.push_str(key);
        s.push_str("\":");
        s.push_str(&serde_json::to_string(rendered).unwrap_or_else(|_| "null".into()));
        s.push(',');
        match row.output_tokens {
            Some(n) => {
                s.push_str(&format!("\"{}\":{n},", step.length_key));
                if self.dataset.ignore_eos || step.ignore_eos {
                    s.push_str("\"ignore_eos\":true,");
                }
                s.push_str(&step.body_tail_sized);
            }
            None => s.push_str(&step.body_tail),
        }
        bytes::Bytes::from(s)
    }
}

/// What the template context of one execution is made of.
struct CaseContext<'a> {
    row: &'a Row,
    /// The dataset puts the nonce at the start of `item.input`.
    nonce: bool,
    /// The words nonces are drawn from.
    nonce_words: &'a [&'static str],
    seed: u64,
    trial_id: &'a str,
    index: u64,
    turn: u32,
    turns: u32,
    grid: &'a GridPoint,
    vars: &'a BTreeMap<String, Value>,
    steps: &'a Map<String, Value>,
}

/// The template context: `item` (with the nonce applied for datasets that ask for it),
/// `case.index` and `case.nonce`, `grid`, `vars`, `steps`.
fn case_context(c: &CaseContext<'_>) -> Value {
    let nonce = synthetic::nonce_from(c.nonce_words, c.seed, c.trial_id, c.index);
    let item = item_with_nonce(c.row, c.nonce, &nonce);
    json!({
        "item": item,
        "case": {"index": c.index, "nonce": nonce},
        "turn": {"index": c.turn, "count": c.turns},
        "grid": c.grid,
        "vars": c.vars,
        "steps": c.steps,
    })
}

/// The row's `item` for templates: as loaded, or with `nonce` at the start of `item.input` when
/// the dataset asks for nonces.
fn item_with_nonce<'r>(row: &'r Row, apply: bool, nonce: &str) -> std::borrow::Cow<'r, Value> {
    use std::borrow::Cow;
    match row.item.get("input") {
        Some(Value::String(input)) if apply => {
            let mut item = row.item.clone();
            item["input"] = Value::String(synthetic::apply_nonce(input, nonce));
            Cow::Owned(item)
        }
        _ => Cow::Borrowed(&row.item),
    }
}

/// Resolve and check a loaded pipeline. Collects every problem.
pub fn build(loaded: &Loaded) -> Result<Plan, PipelineErrors> {
    let spec = &loaded.spec;
    let mut issues: Vec<Issue> = Vec::new();
    let at = |path: KeyPath, msg: String| loaded.issue(path, msg);
    let root = KeyPath::root();
    let base_dir = loaded
        .path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        })
        .unwrap_or_else(|| PathBuf::from("."));

    if spec.version != 1 {
        issues.push(
            at(
                root.key("version"),
                format!("unsupported version {}", spec.version),
            )
            .help("this frontier reads version 1"),
        );
    }
    if spec.name.is_empty()
        || !spec
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        issues.push(
            at(
                root.key("name"),
                format!("pipeline name `{}` cannot name a folder", spec.name),
            )
            .help("use letters, digits, `-`, `_` and `.` only"),
        );
    }
    if spec.endpoints.is_empty() {
        issues.push(
            at(root.key("endpoints"), "no endpoints are defined".into())
                .help("add e.g. `sim: { kind: simulated }`"),
        );
    }

    // A positive prefill rate below the minimum (the schema bounds the rest of the profile).
    for (name, e) in &spec.endpoints {
        if let EndpointSpec::Simulated(s) = e
            && let Some(problem) =
                crate::spec::SimProfile::prefill_tok_s_problem(s.profile.prefill_tok_s)
        {
            issues.push(
                at(
                    root.key("endpoints")
                        .key(name)
                        .key("profile")
                        .key("prefill_tok_s"),
                    problem,
                )
                .help(crate::spec::PREFILL_TOK_S_HELP),
            );
        }
    }

    // An `openai` endpoint's base URL, which a run would otherwise reject only when it starts.
    for (name, e) in &spec.endpoints {
        if let EndpointSpec::Openai(o) = e
            && let Some(problem) = base_url_problem(&o.base_url)
        {
            issues.push(
                at(root.key("endpoints").key(name).key("base_url"), problem)
                    .help("write the server's address with its scheme, port and /v1, e.g. http://127.0.0.1:8000/v1"),
            );
        }
    }

    // Datasets. Tokenizers are loaded once per file, whoever names them.
    let mut tokenizers = Tokenizers::default();
    let mut endpoint_tokenizers = BTreeMap::new();
    for (name, e) in &spec.endpoints {
        let file = match e {
            EndpointSpec::Openai(o) => o.tokenizer.as_ref(),
            EndpointSpec::Simulated(s) => s.tokenizer.as_ref(),
        };
        if let Some(file) = file {
            let key = root.key("endpoints").key(name).key("tokenizer");
            match tokenizers.load(loaded, &base_dir, file, key) {
                Ok(t) => {
                    endpoint_tokenizers.insert(name.clone(), t);
                }
                Err(issue) => issues.push(issue),
            }
        }
    }
    let mut datasets: BTreeMap<String, Arc<Dataset>> = BTreeMap::new();
    for (name, ds) in &spec.datasets {
        let p = root.key("datasets").key(name);
        match ds {
            DatasetSpec::File(file) => match dataset::load(name, file, &base_dir) {
                Ok(d) => {
                    datasets.insert(name.clone(), Arc::new(d));
                }
                Err(e) => issues.push(dataset_issue(loaded, &p, &base_dir, file, e)),
            },
            DatasetSpec::Synthetic(s) => {
                let problems = synthetic::check(&s.synthetic, &p.key("synthetic"));
                let tokenizer = s.synthetic.tokenizer.as_ref().map(|file| {
                    tokenizers.load(loaded, &base_dir, file, p.key("synthetic").key("tokenizer"))
                });
                if problems.is_empty() {
                    match tokenizer {
                        None => {
                            let d = synthetic::generate(
                                name,
                                &s.synthetic,
                                spec.workload.seed,
                                &synthetic::SimTokens,
                            );
                            datasets.insert(name.clone(), Arc::new(d));
                        }
                        Some(Ok(t)) => {
                            // Checks that need the tokenizer's words (prefix groups).
                            let more =
                                synthetic::check_counter(&s.synthetic, &*t, &p.key("synthetic"));
                            if more.is_empty() {
                                let mut d = synthetic::generate(
                                    name,
                                    &s.synthetic,
                                    spec.workload.seed,
                                    &*t,
                                );
                                d.tokenizer = Some(t);
                                datasets.insert(name.clone(), Arc::new(d));
                            }
                            for pr in more {
                                issues.push(with_help(at(pr.path, pr.message), pr.help));
                            }
                        }
                        Some(Err(issue)) => issues.push(issue),
                    }
                } else if let Some(Err(issue)) = tokenizer {
                    issues.push(issue);
                }
                for pr in problems {
                    issues.push(with_help(at(pr.path, pr.message), pr.help));
                }
            }
        }
    }
    // A trace brings its own cases (its records) and their send times.
    let mut trace_offsets: Option<Arc<[f64]>> = None;
    let mut trace_dataset: Option<Arc<Dataset>> = None;
    if let ArrivalSpec::Trace(tr) = &spec.workload.arrival {
        let tp = root.key("workload").key("arrival").key("trace");
        if spec.workload.dataset.is_some() {
            issues.push(
                at(
                    root.key("workload").key("dataset"),
                    "`workload.dataset` cannot be combined with `arrival.trace`".into(),
                )
                .help("a trace's records are the cases; remove `dataset:`"),
            );
        }
        let tokenizer = match &tr.tokenizer {
            None => Ok(None),
            Some(file) => tokenizers
                .load(loaded, &base_dir, file, tp.key("tokenizer"))
                .map(Some),
        };
        match tokenizer {
            Ok(tokenizer) => {
                let counter: &dyn synthetic::TokenCounter = match &tokenizer {
                    Some(t) => &**t,
                    None => &synthetic::SimTokens,
                };
                match trace::load_trace(tr, &base_dir, spec.workload.seed, counter) {
                    Ok(mut t) => {
                        t.dataset.tokenizer = tokenizer;
                        trace_offsets = Some(Arc::from(t.offsets_s));
                        trace_dataset = Some(Arc::new(t.dataset));
                    }
                    Err(e) => issues.push(trace::trace_issue(loaded, &tp, &e)),
                }
            }
            Err(issue) => issues.push(issue),
        }
    }
    let dataset_name = match &spec.workload.dataset {
        _ if matches!(spec.workload.arrival, ArrivalSpec::Trace(_)) => None,
        Some(n) => {
            if !spec.datasets.contains_key(n) {
                let names: Vec<&str> = spec.datasets.keys().map(String::as_str).collect();
                issues.push(
                    at(
                        root.key("workload").key("dataset"),
                        format!("unknown dataset `{n}`"),
                    )
                    .help(suggestion(n, &names)),
                );
            }
            Some(n.clone())
        }
        None => match spec.datasets.len() {
            1 => spec.datasets.keys().next().cloned(),
            0 => {
                issues.push(
                    at(root.key("datasets"), "no datasets are defined".into())
                        .help("add a dataset; its rows become the cases"),
                );
                None
            }
            _ => {
                issues.push(
                    at(
                        root.key("workload"),
                        "several datasets are defined; say which one drives the workload".into(),
                    )
                    .help(format!(
                        "add `dataset:` with one of: {}",
                        spec.datasets.keys().cloned().collect::<Vec<_>>().join(", ")
                    )),
                );
                None
            }
        },
    };
    let dataset = match &trace_dataset {
        Some(d) => Some(d.clone()),
        None => dataset_name.as_ref().and_then(|n| datasets.get(n).cloned()),
    };

    // Grid.
    let points = match grid::expand(spec.grid.as_ref()) {
        Ok(p) => p,
        Err(errors) => {
            for e in errors {
                issues.push(match e {
                    grid::GridError::Empty { section, key } => at(
                        root.key("grid").key(section).key(&key),
                        format!("grid list `{key}` is empty, so the grid has no trials"),
                    )
                    .help("give at least one value, or remove the key"),
                    grid::GridError::ZipLength { key, len, first, expected } => at(
                        root.key("grid").key("zip").key(&key),
                        format!("zip list `{key}` has {len} values but zip list `{first}` has {expected}"),
                    )
                    .help("zip lists go in lockstep and must have the same length; use `product` for combinations"),
                    grid::GridError::Duplicate { key } => at(
                        root.key("grid").key("zip").key(&key),
                        format!("grid key `{key}` is in both `product` and `zip`"),
                    ),
                    grid::GridError::TooMany { trials } => at(
                        root.key("grid"),
                        format!(
                            "the grid has {} trials; a pipeline may have at most {}",
                            trials.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string()),
                            grid::MAX_TRIALS
                        ),
                    )
                    .help("a product of lists has as many trials as their lengths multiplied: sweep fewer values, or split the sweep into several pipelines (`--set grid.product.KEY=[...]`)"),
                    grid::GridError::Repeated { section, key, value, at: (i, j) } => {
                        let (path, what) = if section == "zip" {
                            (root.key("grid").key("zip"), format!("zip rows {i} and {j} are the same ({value})"))
                        } else {
                            (root.key("grid").key("product").key(&key).index(j), format!("`{key}` lists {value} twice (positions {i} and {j})"))
                        };
                        at(path, format!("{what}: two trials would be the same grid point, with one trial id"))
                            .help("remove the repeat; to run a point several times use `grid.repeats`")
                    }
                });
            }
            Vec::new()
        }
    };
    // A grid key that nothing references would run identical trials under different ids.
    if let Some(g) = &spec.grid {
        let referenced_in = serde_json::to_string(&(&spec.flow, &spec.workload, &spec.endpoints))
            .unwrap_or_default();
        // A template using the grid as a whole may use any of its keys.
        let whole = uses_whole_grid(&referenced_in);
        for (section, map) in [("product", &g.product), ("zip", &g.zip)] {
            for key in map.keys() {
                if !whole && !references_grid_key(&referenced_in, key) {
                    issues.push(
                        at(root.key("grid").key(section).key(key), format!("grid key `{key}` is not used by any template, so its trials would be identical"))
                            .help(format!("reference it as `{{{{ grid.{key} }}}}` (e.g. in a step's params) or remove it")),
                    );
                }
            }
        }
    }
    // At least 1: the schema says so, and it is checked before `build`.
    let repeats = spec.grid.as_ref().map(|g| g.repeats).unwrap_or(1);

    // Steps: structure, templates.
    let mut templates = Templates::new();
    let mut step_ids: Vec<&str> = Vec::new();
    if spec.flow.is_empty() {
        issues.push(at(root.key("flow"), "the flow has no steps".into()).help("add an `llm` step"));
    }
    for (i, step) in spec.flow.iter().enumerate() {
        let p = root.key("flow").index(i);
        if step.id.is_empty()
            || !step
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            issues.push(at(p.key("id"), format!("step id `{}` must be letters, digits and `_` (it is used as `steps.{}` in templates)", step.id, step.id)));
        }
        if step_ids.contains(&step.id.as_str()) {
            issues.push(
                at(p.key("id"), format!("duplicate step id `{}`", step.id))
                    .help("step ids name `steps.<id>` in templates and must be unique"),
            );
            continue;
        }
        step_ids.push(&step.id);
        let Some(llm) = &step.llm else {
            issues
                .push(at(p.clone(), format!("step `{}` has no kind", step.id)).help("add `llm:`"));
            continue;
        };
        let lp = p.key("llm");
        match (&llm.prompt, &llm.messages) {
            (Some(prompt), Some(_)) => {
                issues.push(at(
                    lp.key("messages"),
                    "give either `prompt` or `messages`, not both".into(),
                ));
                let _ = templates.add(&format!("{}.prompt", step.id), prompt);
            }
            (None, None) => issues.push(
                at(
                    lp.clone(),
                    "the step has neither `prompt` nor `messages`".into(),
                )
                .help("add `prompt: \"{{ item.input }}\"`"),
            ),
            (None, Some(_)) if llm.api == ApiKind::Completions => issues.push(at(
                lp.key("messages"),
                "`messages` needs `api: chat`; the completions API takes a `prompt`".into(),
            )),
            (Some(msgs_or_prompt), None) => {
                if let Err(e) = templates.add(&format!("{}.prompt", step.id), msgs_or_prompt) {
                    issues.push(with_help(
                        at(lp.key("prompt"), e),
                        template::syntax_help(msgs_or_prompt),
                    ));
                }
            }
            (None, Some(msgs)) => {
                if msgs.is_empty() {
                    issues.push(at(lp.key("messages"), "`messages` is empty".into()));
                }
                for (j, m) in msgs.iter().enumerate() {
                    if let Err(e) = templates.add(&format!("{}.messages.{j}", step.id), &m.content)
                    {
                        issues.push(with_help(
                            at(lp.key("messages").index(j).key("content"), e),
                            template::syntax_help(&m.content),
                        ));
                    }
                }
            }
        }
    }

    // Evaluators: `use:` expanded, patterns compiled, schema files read.
    let resolved = evaluators::resolve(loaded, &base_dir, &mut issues);
    for (i, s) in resolved.scorers.iter().enumerate() {
        // Located in the pipeline, or for an entry from an evaluator file, in that file.
        let at = |path: KeyPath, msg: String| resolved.issue(loaded, i, path, msg);
        let origin = resolved.origins[i].clone();
        if resolved.scorers[..i].iter().any(|o| o.name == s.name) {
            issues.push(
                at(
                    origin.clone(),
                    format!("two evaluators are named `{}`", s.name),
                )
                .help("give one of them a `name:`"),
            );
        }
        if !s
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            issues.push(at(origin, format!("evaluator name `{}` must be letters, digits and `_` (it names the column `score_{}`)", s.name, s.name)));
        }
    }
    let mut judges = Vec::new();
    for (i, e) in resolved.specs.iter().enumerate() {
        let crate::spec::EvaluatorSpec::LlmJudge(j) = e else {
            continue;
        };
        let at = |path: KeyPath, msg: String| resolved.issue(loaded, i, path, msg);
        let jp = resolved.origins[i].key("llm_judge");
        let names: Vec<&str> = spec.endpoints.keys().map(String::as_str).collect();
        if j.judges.is_empty() {
            issues.push(
                at(jp.key("judges"), "`judges` is empty".into())
                    .help("name at least one endpoint, e.g. `judges: [judge]`"),
            );
        }
        for (k, name) in j.judges.iter().enumerate() {
            if j.judges[..k].contains(name) {
                issues.push(
                    at(
                        jp.key("judges").index(k),
                        format!("judge `{name}` is listed twice"),
                    )
                    .help("for several grades from one judge, use `samples`"),
                );
            }
            if !spec.endpoints.contains_key(name) {
                issues.push(
                    at(
                        jp.key("judges").index(k),
                        format!("unknown endpoint `{name}`"),
                    )
                    .help(suggestion(name, &names)),
                );
            }
        }
        let pattern_text = j
            .pattern
            .clone()
            .unwrap_or_else(|| crate::eval::judge::DEFAULT_PATTERN.to_string());
        let pattern = match regex::Regex::new(&pattern_text) {
            Ok(p) => Some(p),
            Err(e) => {
                issues.push(
                    at(jp.key("pattern"), crate::eval::normalize::regex_error(&e))
                        .help("the grade is the first capture group of the last match, e.g. `GRADE: (\\d)`"),
                );
                None
            }
        };
        let scale = j.scale.unwrap_or([0.0, 1.0]);
        if !(scale[0].is_finite() && scale[1].is_finite() && scale[0] < scale[1]) {
            issues.push(
                at(
                    jp.key("scale"),
                    format!("scale [{}, {}] is not an interval", scale[0], scale[1]),
                )
                .help("give `[min, max]` with min < max, e.g. `[1, 5]`"),
            );
        }
        if j.pass.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            issues.push(at(
                jp.key("pass"),
                "`pass` is a threshold on the grade mapped to [0, 1]".into(),
            ));
        }
        if j.samples == 0 {
            issues.push(at(jp.key("samples"), "`samples` must be at least 1".into()));
        }
        let template = format!("evaluators.{i}.rubric");
        if let Err(e) = templates.add(&template, &j.rubric) {
            issues.push(with_help(
                at(jp.key("rubric"), e),
                template::syntax_help(&j.rubric),
            ));
        } else if let Some(row) = dataset.as_ref().and_then(|d| d.rows.first()) {
            // Strict mode, against the first row, as every template is checked before a run.
            let probe = serde_json::json!({
                "question": "q", "answer": "a", "reference": "r", "references": "r",
                "contexts": "", "item": row.item,
            });
            if let Err(e) = templates.render(&template, &probe) {
                issues.push(at(jp.key("rubric"), e).help(
                    "the rubric sees `question`, `answer`, `reference`, `references`, `contexts` and `item`",
                ));
            }
        }
        if let Some(pattern) = pattern {
            judges.push(JudgePlan {
                name: resolved
                    .scorers
                    .get(i)
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                scorer_index: i,
                judges: j.judges.clone(),
                template,
                pattern,
                scale: (scale[0], scale[1]),
                pass: j.pass,
                samples: j.samples.max(1),
                temperature: j.temperature,
                seed: j.seed,
                max_tokens: j.max_tokens,
                concurrency: j.concurrency,
            });
        }
    }
    let scorers = resolved.scorers;
    if let Some(slo) = &spec.slo {
        for (k, v) in [
            ("ttft_ms", slo.ttft_ms),
            ("tpot_ms", slo.tpot_ms),
            ("e2e_ms", slo.e2e_ms),
        ] {
            if v.is_some_and(|v| v.is_nan() || v <= 0.0) {
                issues.push(at(
                    root.key("slo").key(k),
                    format!("SLO `{k}` must be a positive number of milliseconds"),
                ));
            }
        }
    }

    // Workload constants.
    let warmup = spec.workload.warmup;
    let cooldown = spec.workload.cooldown;
    let opt_duration =
        |d: &Option<crate::spec::HumanDuration>, key: &str, issues: &mut Vec<Issue>| {
            d.as_ref().and_then(|d| match d.to_duration() {
                Ok(d) => Some(d),
                Err(e) => {
                    issues.push(at(root.key("workload").key(key), e));
                    None
                }
            })
        };
    let think_time = spec
        .workload
        .session
        .as_ref()
        .and_then(|sess| sess.think_time.as_ref())
        .and_then(|d| match d.to_duration() {
            Ok(d) => Some(d),
            Err(e) => {
                issues.push(at(root.key("workload").key("session").key("think_time"), e));
                None
            }
        })
        .unwrap_or(Duration::ZERO);
    let warmup_duration = opt_duration(
        &spec.workload.warmup_duration,
        "warmup_duration",
        &mut issues,
    );
    let cooldown_duration = opt_duration(
        &spec.workload.cooldown_duration,
        "cooldown_duration",
        &mut issues,
    );
    let max_lag =
        opt_duration(&spec.workload.max_lag, "max_lag", &mut issues).unwrap_or(DEFAULT_MAX_LAG);
    if let Some(r) = spec.workload.max_error_rate
        && !(0.0..=1.0).contains(&r)
    {
        issues.push(
            at(
                root.key("workload").key("max_error_rate"),
                format!("max_error_rate is a fraction between 0 and 1, found {r}"),
            )
            .help("e.g. 0.5 stops a trial once more than half of its requests fail"),
        );
    }
    let duration = match &spec.workload.duration {
        None => None,
        Some(d) => match d.to_duration() {
            Ok(d) => Some(d),
            Err(e) => {
                issues.push(at(root.key("workload").key("duration"), e));
                None
            }
        },
    };
    let timeout = match &spec.workload.timeout {
        None => DEFAULT_TIMEOUT,
        Some(d) => match d.to_duration() {
            Ok(d) if d > Duration::ZERO => d,
            Ok(_) => {
                issues.push(at(
                    root.key("workload").key("timeout"),
                    "timeout must be positive".into(),
                ));
                DEFAULT_TIMEOUT
            }
            Err(e) => {
                issues.push(at(root.key("workload").key("timeout"), e));
                DEFAULT_TIMEOUT
            }
        },
    };

    // Trials.
    let first_row = dataset.as_ref().and_then(|d| d.rows.first());
    let mut trials = Vec::new();
    let mut first_prompt = String::new();
    let mut reported: std::collections::BTreeSet<String> = Default::default();
    for (index, point) in points.iter().enumerate() {
        let trial_id = grid::trial_id(point);
        let trial_ctx = json!({"grid": point, "vars": spec.vars});
        let mut trial_issues = Vec::new();
        let arrival = resolve_arrival(
            &spec.workload.arrival,
            duration,
            trace_offsets.as_ref(),
            &trial_ctx,
            &templates,
            loaded,
            &mut trial_issues,
        );
        let turns = match &spec.workload.session {
            None => 1,
            Some(sess) => {
                let t = resolve(
                    &sess.turns,
                    &trial_ctx,
                    &templates,
                    loaded,
                    root.key("workload").key("session").key("turns"),
                    &mut trial_issues,
                )
                .unwrap_or(1);
                if t == 0 {
                    trial_issues.push(at(
                        root.key("workload").key("session").key("turns"),
                        "a session needs at least 1 turn".into(),
                    ));
                }
                t.max(1)
            }
        };
        // With stages, the trial lasts the sum of their durations.
        let duration = if matches!(spec.workload.arrival, ArrivalSpec::Steps(_)) {
            arrival.stages.iter().map(|st| st.duration).sum()
        } else {
            duration
        };
        let cases = match &spec.workload.requests {
            Some(r) => resolve(
                r,
                &trial_ctx,
                &templates,
                loaded,
                root.key("workload").key("requests"),
                &mut trial_issues,
            ),
            None if duration.is_some() => None,
            // A trace replays each record once, warm-up included.
            None if trace_dataset.is_some() => dataset.as_ref().map(|d| d.rows.len() as u64),
            None => dataset.as_ref().map(|d| {
                warmup
                    .saturating_add((d.rows.len() as u64).saturating_mul(u64::from(repeats.max(1))))
            }),
        };
        // With nonces, a row run more often than its input holds distinct nonces repeats.
        if let (Some(c), Some(d), Some(name), None) =
            (cases, &dataset, &dataset_name, &trace_dataset)
            && let Some(pr) = synthetic::check_nonces(
                d,
                &root.key("datasets").key(name).key("synthetic"),
                c,
                warmup,
                repeats,
            )
        {
            trial_issues.push(with_help(at(pr.path, pr.message), pr.help));
        }
        if cases == Some(0) {
            trial_issues.push(at(
                root.key("workload").key("requests"),
                "requests must be at least 1".into(),
            ));
        }
        if let Some(c) = cases
            && warmup.saturating_add(cooldown) >= c
            && c > 0
        {
            let (key, what) = if warmup >= c || cooldown == 0 {
                ("warmup", format!("warmup ({warmup}) leaves"))
            } else if cooldown >= c || warmup == 0 {
                ("cooldown", format!("cooldown ({cooldown}) leaves"))
            } else {
                (
                    "cooldown",
                    format!("warmup ({warmup}) and cooldown ({cooldown}) leave"),
                )
            };
            trial_issues.push(at(
                root.key("workload").key(key),
                format!("{what} none of the {c} requests to measure"),
            ));
        }
        if cooldown > 0 && cases.is_none() {
            trial_issues.push(
                at(
                    root.key("workload").key("cooldown"),
                    "`cooldown` counts the last requests of a trial, but this trial has no request count".into(),
                )
                .help("set `workload.requests`, or use `cooldown_duration` with `duration`"),
            );
        }
        if cooldown_duration.is_some() && duration.is_none() {
            trial_issues.push(
                at(
                    root.key("workload").key("cooldown_duration"),
                    "`cooldown_duration` counts back from the end of the trial, which needs a `duration`".into(),
                )
                .help("set `workload.duration` (or use `steps`), or use `cooldown` with a request count"),
            );
        }
        if let (Some(d), Some(w), Some(c)) = (duration, warmup_duration, cooldown_duration)
            && w + c >= d
        {
            trial_issues.push(at(
                root.key("workload").key("cooldown_duration"),
                format!("warmup_duration and cooldown_duration leave none of the {d:?} to measure"),
            ));
        } else if let (Some(d), Some(w)) = (duration, warmup_duration)
            && w >= d
        {
            trial_issues.push(at(
                root.key("workload").key("warmup_duration"),
                format!("warmup_duration ({w:?}) leaves none of the {d:?} to measure"),
            ));
        }
        // Cool-down by time counts back from the scheduled end of the last stage (a stage
        // starts once the previous one has drained, so the trial's end is only known there).
        if let (Some(c), [.., _, last]) = (cooldown_duration, arrival.stages.as_slice())
            && last.duration.is_some_and(|d| c >= d)
        {
            trial_issues.push(
                at(
                    root.key("workload").key("cooldown_duration"),
                    format!(
                        "cooldown_duration ({c:?}) must be shorter than the last stage ({:?}): with `steps` the cool-down counts back from the end of the last stage",
                        last.duration.unwrap_or_default()
                    ),
                )
                .help("shorten `cooldown_duration` or lengthen the last stage"),
            );
        }
        let mut steps = Vec::new();
        // Every step's prompt is rendered below, whether or not its endpoint resolved, so
        // that one mistake does not hide another: (flow index, step id, prompt).
        // With, for a step on a simulated endpoint, (endpoint, max_model_len, max_tokens):
        // checked against the context once its prompt is rendered.
        let mut prompt_checks: Vec<PromptCheck> = Vec::new();
        for (i, step) in spec.flow.iter().enumerate() {
            let Some(llm) = &step.llm else { continue };
            let lp = root.key("flow").index(i).key("llm");
            let prompt = match (&llm.prompt, &llm.messages) {
                (Some(_), _) => Some(PromptPlan::Prompt {
                    template: format!("{}.prompt", step.id),
                }),
                (None, Some(msgs)) => Some(PromptPlan::Messages(
                    msgs.iter()
                        .enumerate()
                        .map(|(j, m)| (m.role, format!("{}.messages.{j}", step.id)))
                        .collect(),
                )),
                (None, None) => None,
            };
            if let Some(p) = &prompt {
                prompt_checks.push((i, step.id.clone(), p.clone(), None));
            }
            let endpoint = match templates.render_str(&llm.endpoint, &trial_ctx) {
                Ok(e) => e.trim().to_string(),
                Err(e) => {
                    trial_issues.push(with_help(
                        at(lp.key("endpoint"), e),
                        template::syntax_help(&llm.endpoint),
                    ));
                    continue;
                }
            };
            let Some(endpoint_spec) = spec.endpoints.get(&endpoint) else {
                let names: Vec<&str> = spec.endpoints.keys().map(String::as_str).collect();
                let via = if template::is_template(&llm.endpoint) {
                    format!(" (rendered from `{}`)", llm.endpoint)
                } else {
                    String::new()
                };
                trial_issues.push(
                    at(
                        lp.key("endpoint"),
                        format!("unknown endpoint `{endpoint}`{via}"),
                    )
                    .help(suggestion(&endpoint, &names)),
                );
                continue;
            };
            let model = match endpoint_spec {
                EndpointSpec::Openai(o) => o.model.clone(),
                EndpointSpec::Simulated(s) => s.model.clone().unwrap_or_else(|| endpoint.clone()),
            };
            let params = resolve_params(
                &llm.params,
                &trial_ctx,
                &templates,
                loaded,
                &lp.key("params"),
                &mut trial_issues,
            );
            // The simulated engine refuses a request past its context, as vLLM does: say so
            // now rather than with every request.
            if let (EndpointSpec::Simulated(sim), Some(m)) = (endpoint_spec, params.max_tokens)
                && m > sim.profile.max_model_len.max(1)
            {
                trial_issues.push(
                    at(
                        lp.key("params").key("max_tokens"),
                        format!(
                            "max_tokens {m} is more than the context of the simulated endpoint `{endpoint}` ({} tokens)",
                            sim.profile.max_model_len.max(1)
                        ),
                    )
                    .help(format!(
                        "lower max_tokens, or raise `endpoints.{endpoint}.profile.max_model_len`"
                    )),
                );
            } else if let EndpointSpec::Simulated(sim) = endpoint_spec {
                // This step's prompt check is the last one pushed (a step without a prompt
                // has none, and nothing to check).
                if let Some(check) = prompt_checks.last_mut().filter(|c| c.0 == i) {
                    check.3 = Some((
                        endpoint.clone(),
                        sim.profile.max_model_len,
                        params.max_tokens,
                    ));
                }
            }
            let mut tail = Map::new();
            tail.insert("model".into(), Value::String(model.clone()));
            tail.insert("stream".into(), Value::Bool(true));
            // The simulated engine always streams cumulative usage per chunk; other servers only
            // when the endpoint says they support it.
            let continuous = match endpoint_spec {
                EndpointSpec::Openai(o) => o.continuous_usage,
                EndpointSpec::Simulated(_) => true,
            };
            let stream_options = if continuous {
                json!({"include_usage": true, "continuous_usage_stats": true})
            } else {
                json!({"include_usage": true})
            };
            tail.insert("stream_options".into(), stream_options);
            for (k, v) in &params.fields {
                tail.insert(k.clone(), v.clone());
            }
            let tail_text = serde_json::to_string(&Value::Object(tail.clone())).unwrap_or_default();
            let length_key = if tail.contains_key("max_completion_tokens") {
                "max_completion_tokens"
            } else {
                "max_tokens"
            };
            let ignore_eos = tail.get("ignore_eos") == Some(&Value::Bool(true));
            for k in ["max_tokens", "max_completion_tokens", "ignore_eos"] {
                tail.remove(k);
            }
            let sized_text = serde_json::to_string(&Value::Object(tail)).unwrap_or_default();
            let Some(prompt) = prompt else { continue };
            steps.push(TrialStep {
                step_id: step.id.clone(),
                endpoint,
                endpoint_spec: endpoint_spec.clone(),
                model,
                api: llm.api,
                prompt,
                body_tail: Arc::from(&tail_text[1..]),
                body_tail_sized: Arc::from(&sized_text[1..]),
                length_key,
                ignore_eos,
                temperature: params.temperature,
                max_tokens: params.max_tokens,
            });
        }
        // Render every step's prompt against the first row, with earlier steps' outputs
        // standing in as empty text, so undefined variables fail before any request.
        if let Some(row) = first_row {
            let mut step_outputs = Map::new();
            for (si, (flow_index, step_id, prompt, context)) in prompt_checks.iter().enumerate() {
                let ctx = case_context(&CaseContext {
                    row,
                    nonce: dataset.as_ref().is_some_and(|d| d.nonce),
                    nonce_words: dataset
                        .as_ref()
                        .and_then(|d| d.nonce_words.as_deref())
                        .unwrap_or(&synthetic::VOCAB),
                    seed: spec.workload.seed,
                    trial_id: &trial_id,
                    index: 0,
                    turn: 0,
                    turns,
                    grid: point,
                    vars: &spec.vars,
                    steps: &step_outputs,
                });
                let lp = root.key("flow").index(*flow_index).key("llm");
                // A template that did not compile is reported already, once.
                // The rendered prompt, and its length in bytes as the simulated engine reads it
                // (chat messages' contents joined by newlines).
                let mut engine_bytes = 0usize;
                let rendered = match prompt {
                    PromptPlan::Prompt { template } if templates.failed(template) => {
                        Ok(String::new())
                    }
                    PromptPlan::Prompt { template } => templates
                        .render(template, &ctx)
                        .inspect(|s| engine_bytes = s.len())
                        .map_err(|e| (lp.key("prompt"), e)),
                    PromptPlan::Messages(m) => {
                        let mut all = String::new();
                        let mut err = None;
                        for (j, (role, t)) in m.iter().enumerate() {
                            if templates.failed(t) {
                                continue;
                            }
                            match templates.render(t, &ctx) {
                                Ok(s) => {
                                    engine_bytes += s.len() + usize::from(j > 0);
                                    all.push_str(&format!(
                                        "[{}] {s}\n",
                                        format!("{role:?}").to_lowercase()
                                    ));
                                }
                                Err(e) => {
                                    err = Some((lp.key("messages").index(j).key("content"), e));
                                    break;
                                }
                            }
                        }
                        match err {
                            Some(e) => Err(e),
                            None => Ok(all),
                        }
                    }
                };
                match rendered {
                    Ok(text) => {
                        if index == 0 && si == 0 {
                            first_prompt = text;
                        }
                        // The simulated engine refuses a request past its context, as vLLM
                        // does: say so now rather than with every request. The template's own
                        // text (and a synthetic prefix) is measured on the first row, less one
                        // token for rounding, and added to each row's input.
                        if let (Some((endpoint, max_model_len, max_tokens)), Some(d)) =
                            (context.as_ref(), dataset.as_ref())
                        {
                            let rendered_tokens = (engine_bytes as u64).div_ceil(4);
                            let overhead = rendered_tokens
                                .saturating_sub(crate::sim::tokens::prompt_tokens(&row.input))
                                .saturating_sub(1);
                            if let Some((bad, need)) =
                                past_context(d, *max_tokens, *max_model_len, overhead)
                            {
                                trial_issues.push(
                                    at(
                                        lp.key("params").key("max_tokens"),
                                        format!(
                                            "row `{}` needs at least {need} tokens (its prompt, counted as the simulated engine does, plus {}), more than the context of the simulated endpoint `{endpoint}` ({} tokens): the engine would refuse it",
                                            bad.id,
                                            if bad.output_tokens.is_some() { "its output length" } else { "max_tokens" },
                                            (*max_model_len).max(1)
                                        ),
                                    )
                                    .help(format!(
                                        "raise `endpoints.{endpoint}.profile.max_model_len`, or shorten the prompts or output lengths"
                                    )),
                                );
                            }
                        }
                    }
                    Err((path, e)) => trial_issues.push(at(
                        path,
                        format!("{e} (rendering against the first row of the dataset)"),
                    )),
                }
                step_outputs.insert(step_id.clone(), json!({"text": ""}));
            }
        }
        // The same message for every trial would be noise: report each once. A value
        // rendered from the grid is reported at its template: say where the grid value was
        // given too (the file's line, or a --set argument).
        for mut i in trial_issues {
            let key = format!("{}|{}", i.path, i.message);
            if reported.insert(key) {
                if let Some(grid) = &spec.grid {
                    i.notes
                        .extend(grid_notes(loaded, grid, index, point, &i.path));
                }
                issues.push(i);
            }
        }
        trials.push(Trial {
            index,
            id: trial_id,
            grid: point.clone(),
            arrival,
            cases,
            duration,
            steps,
            turns,
            grid_value: template::to_value(point),
        });
    }

    // Queries, checked against the tables' schemas.
    let grid_types: Vec<(String, arrow_schema::DataType)> = match (points.first(), &spec.grid) {
        (Some(first), _) => first
            .keys()
            .map(|k| {
                let dt =
                    crate::store::tables::grid_column_type(points.iter().filter_map(|p| p.get(k)));
                (k.clone(), dt)
            })
            .collect(),
        // The grid is in error (reported above): its columns are still those of its keys, so
        // that a query reading them is not reported too.
        (None, Some(g)) => {
            let mut keys: Vec<(&String, &Vec<serde_json::Value>)> =
                g.product.iter().chain(&g.zip).collect();
            keys.sort_by_key(|(k, _)| *k);
            keys.dedup_by_key(|(k, _)| *k);
            keys.into_iter()
                .map(|(k, values)| {
                    (
                        k.clone(),
                        crate::store::tables::grid_column_type(values.iter()),
                    )
                })
                .collect()
        }
        (None, None) => Vec::new(),
    };
    let configs_schema = crate::store::configs_schema(&grid_types, &scorers);
    let queries: Vec<(String, QuerySpec)> = spec
        .query
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, q) in &queries {
        let qp = root.key("query").key(name);
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            || crate::store::TABLE_NAMES.contains(&name.as_str())
        {
            issues.push(
                at(
                    qp.clone(),
                    format!("query name `{name}` cannot be used (it names `{name}.parquet`)"),
                )
                .help(format!(
                    "use letters, digits, `_` and `-`, and none of: {}",
                    crate::store::TABLE_NAMES.join(", ")
                )),
            );
        }
        for e in crate::store::check_query(&q.sql, q.pareto.as_ref(), configs_schema.clone()) {
            let (path, sql_at) = match e.0 {
                QueryPart::Sql(sql_at) => (qp.key("sql"), sql_at),
                QueryPart::Pareto(ref col) => (qp.key("pareto").key(col), None),
            };
            let mut issue = at(path, e.1);
            // Point at the SQL's own line and column in the file when its text stands there
            // as written (a block scalar, or a one-line plain or quoted value without escapes).
            if let Some((line, col)) = sql_at
                .and_then(|a| sql_in_file(&loaded.source, issue.loc.line, issue.loc.col, &q.sql, a))
            {
                issue.loc.line = line;
                issue.loc.col = col;
            }
            if let Some(h) = e.2 {
                issue = issue.help(h);
            }
            issues.push(issue);
        }
    }

    if !issues.is_empty() {
        issues.sort_by_key(|i| (i.loc.line == 0, i.loc.line, i.loc.col));
        return Err(loaded.errors(issues));
    }
    let dataset = dataset
        .ok_or_else(|| loaded.errors(vec![at(root.key("datasets"), "no dataset".into())]))?;
    let warnings = Warnings {
        file: loaded.path.clone(),
        source: loaded.source.clone(),
        overrides: loaded.overrides.clone(),
        issues: reference_warnings(
            loaded,
            (&resolved.specs, &resolved.origins, &scorers),
            &dataset,
            dataset_name.as_deref().filter(|_| trace_dataset.is_none()),
        ),
        unset_api_keys: unset_api_keys(loaded, &trials, &judges),
    };
    Ok(Plan {
        vars_value: template::to_value(&spec.vars),
        name: spec.name.clone(),
        file: loaded.path.clone(),
        spec: {
            let mut spec = spec.clone();
            spec.evaluators = resolved.specs;
            spec
        },
        dataset,
        datasets,
        trials,
        templates: Arc::new(templates),
        scorers,
        slo: spec.slo.clone().unwrap_or_default(),
        chunk_timings: spec.results.as_ref().is_none_or(|r| r.chunk_timings),
        queries,
        replay: trace_dataset.is_some(),
        think_time,
        warmup,
        warmup_duration,
        cooldown,
        cooldown_duration,
        max_errors: spec.workload.max_errors,
        max_error_rate: spec.workload.max_error_rate,
        max_lag,
        repeats: repeats.max(1),
        seed: spec.workload.seed,
        timeout,
        first_prompt,
        grid_types,
        endpoint_tokenizers,
        judges,
        warnings,
    })
}

/// Scorers that need a reference (README, "Scorers": the reason `no_reference`) on a
/// dataset with none, where every case would be `unscored`: one warning per `evaluators` entry
/// (a `use:` may bring several). `dataset_name` is the workload's dataset (`None` for a trace).
fn reference_warnings(
    loaded: &Loaded,
    (specs, origins, scorers): (&[crate::spec::EvaluatorSpec], &[KeyPath], &[Scorer]),
    dataset: &Dataset,
    dataset_name: Option<&str>,
) -> Vec<Issue> {
    if dataset.rows.is_empty() || dataset.rows.iter().any(|r| !r.references.is_empty()) {
        return Vec::new();
    }
    let file_spec = dataset_name.and_then(|n| match loaded.spec.datasets.get(n) {
        Some(DatasetSpec::File(f)) => Some(f),
        _ => None,
    });
    let (why, fix) = match (dataset_name, file_spec) {
        (None, _) => (
            "a trace's records have no references".to_string(),
            String::new(),
        ),
        (Some(n), Some(f)) if f.reference.is_none() => (
            format!("the dataset `{n}` has no `reference:` field"),
            format!("name the field holding the answers with `datasets.{n}.reference`, or "),
        ),
        (Some(n), Some(_)) => (
            format!("no row of the dataset `{n}` has a reference"),
            "give the rows references, or ".to_string(),
        ),
        (Some(n), None) => (
            format!("the synthetic dataset `{n}` has no references"),
            String::new(),
        ),
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < specs.len() {
        // The expanded entries of one `evaluators` entry are consecutive.
        let origin = &origins[i];
        let end = i + origins[i..].iter().take_while(|o| *o == origin).count();
        let names: Vec<String> = (i..end)
            .filter(|&k| specs[k].needs_reference())
            .map(|k| format!("`{}`", scorers[k].name))
            .collect();
        if !names.is_empty() {
            let (who, verb) = match names.len() {
                1 => (format!("scorer {}", names[0]), "needs"),
                _ => (format!("scorers {}", names.join(", ")), "need"),
            };
            out.push(
                loaded
                    .issue(
                        origin.clone(),
                        format!(
                            "{who} {verb} a reference to score against, but {why}: every case will be `unscored` (no_reference)"
                        ),
                    )
                    .help(format!(
                        "{fix}use scorers that need no reference (`regex`, `json_valid`, `json_schema`, `llm_judge`), or remove the entry"
                    )),
            );
        }
        i = end;
    }
    out
}

/// The `openai` endpoints a trial's steps or a judge call whose `api_key_env` names a variable
/// that is unset or empty here: `run` refuses to start, and `validate` says so beforehand.
/// Whether a trial's step or an LLM judge calls the endpoint `name` (a judge-only endpoint is
/// as real as a step's: it needs its key, and its engine started).
pub(crate) fn endpoint_used(trials: &[Trial], judges: &[JudgePlan], name: &str) -> bool {
    trials
        .iter()
        .any(|t| t.steps.iter().any(|s| s.endpoint == name))
        || judges.iter().any(|j| j.judges.iter().any(|n| n == name))
}

fn unset_api_keys(loaded: &Loaded, trials: &[Trial], judges: &[JudgePlan]) -> Vec<Issue> {
    let mut out = Vec::new();
    for (name, ep) in &loaded.spec.endpoints {
        let EndpointSpec::Openai(o) = ep else {
            continue;
        };
        let Some(var) = &o.api_key_env else {
            continue;
        };
        if endpoint_used(trials, judges, name) && std::env::var(var).map_or(true, |v| v.is_empty())
        {
            out.push(
                loaded
                    .issue(
                        KeyPath::root().key("endpoints").key(name).key("api_key_env"),
                        format!(
                            "endpoint `{name}` reads its API key from the environment variable `{var}`, which is not set: `frontier run` will refuse to start"
                        ),
                    )
                    .help(format!("export {var}=... before running")),
            );
        }
    }
    out
}

/// For an issue of the `index`-th trial at `path`: each grid value that a template at or
/// under `path` uses, as `grid.<product|zip>.<key>[i] = value` located where it was written
/// (so that a value given with `--set` is not blamed on the template in the file).
fn grid_notes(
    loaded: &Loaded,
    grid: &crate::spec::GridSpec,
    index: usize,
    point: &grid::GridPoint,
    path: &KeyPath,
) -> Vec<Note> {
    let mut texts = Vec::new();
    if let Some(node) = loaded.root.find(path) {
        template_texts(node, &mut texts);
    }
    if texts.is_empty() {
        return Vec::new();
    }
    let whole = texts.iter().any(|t| uses_whole_grid(t));
    grid::sources(grid, index)
        .into_iter()
        .filter(|(key, _, _)| whole || texts.iter().any(|t| references_grid_key(t, key)))
        .filter_map(|(key, section, at)| {
            let value = point.get(key)?;
            let listed = KeyPath::root().key("grid").key(section).key(key).index(at);
            let shown = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(Note {
                text: format!("{listed} = {shown}"),
                loc: loaded.root.locate(&listed),
            })
        })
        .collect()
}

/// The template strings at or under `node`.
fn template_texts<'n>(node: &'n crate::spec::node::Node, out: &mut Vec<&'n str>) {
    use crate::spec::node::NodeKind;
    match &node.kind {
        NodeKind::Str(s) if template::is_template(s) => out.push(s),
        NodeKind::Seq(items) => items.iter().for_each(|i| template_texts(i, out)),
        NodeKind::Map(entries) => entries.iter().for_each(|(_, v)| template_texts(v, out)),
        _ => {}
    }
}

/// Whether `text` mentions `grid.<key>` (or `grid["key"]` / `grid['key']`) as a whole name.
fn references_grid_key(text: &str, key: &str) -> bool {
    let dotted = format!("grid.{key}");
    let mut from = 0;
    while let Some(i) = text[from..].find(&dotted) {
        let end = from + i + dotted.len();
        let next = text[end..].chars().next();
        if !next.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return true;
        }
        from = end;
    }
    text.contains(&format!("grid[\\\"{key}\\\"]")) || text.contains(&format!("grid['{key}']"))
}

/// A step's prompt to render at validation: (flow index, step id, prompt, and for a simulated
/// endpoint (endpoint, max_model_len, max_tokens) for the context check).
type PromptCheck = (
    usize,
    String,
    PromptPlan,
    Option<(String, u32, Option<u32>)>,
);

/// `issue` with `help` (a synthetic dataset's problem carries its own).
fn with_help(mut issue: Issue, help: Option<String>) -> Issue {
    issue.help = help;
    issue
}

/// Whether a template block in `text` uses `grid` as a whole (`{{ grid }}`,
/// `{{ grid | length }}`, `{% set g = grid %}`), which may use any of its keys.
fn uses_whole_grid(text: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut rest = text;
    loop {
        let open = match (rest.find("{{"), rest.find("{%")) {
            (None, None) => return false,
            (a, b) => a.unwrap_or(usize::MAX).min(b.unwrap_or(usize::MAX)),
        };
        let body = &rest[open + 2..];
        let end = [body.find("}}"), body.find("%}")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(body.len());
        let block = &body[..end];
        let mut from = 0;
        while let Some(i) = block[from..].find("grid") {
            let at = from + i;
            let before = block[..at].chars().next_back();
            let after = block[at + 4..].chars().next();
            if !before.is_some_and(|c| ident(c) || c == '.')
                && !after.is_some_and(|c| ident(c) || c == '.' || c == '[')
            {
                return true;
            }
            from = at + 4;
        }
        rest = &body[end..];
    }
}

/// The file's line and column (1-based, in characters) of position `at` of `sql`, a scalar
/// whose value starts at `line`:`col` of `source`; `None` unless every SQL line up to `at`'s
/// stands verbatim in the file at that column (a literal block), or the SQL is one line that
/// does (plain, or inside the quote at `col`). Folded or escaped text keeps the scalar's start.
fn sql_in_file(
    source: &str,
    line: u32,
    col: u32,
    sql: &str,
    at: crate::query::SqlLocation,
) -> Option<(u32, u32)> {
    let file_lines: Vec<&str> = source.lines().collect();
    let sql_lines: Vec<&str> = sql.lines().collect();
    let (at_line, at_col) = (u32::try_from(at.line).ok()?, u32::try_from(at.column).ok()?);
    if line == 0 || col == 0 || at_line == 0 || at_col == 0 || at_line as usize > sql_lines.len() {
        return None;
    }
    let from = |l: u32, c: u32| -> Option<String> {
        let text = file_lines.get(l as usize - 1)?;
        Some(text.chars().skip(c as usize - 1).collect())
    };
    let first = from(line, col)?;
    let col = if first.starts_with(['"', '\'']) && sql_lines.len() == 1 {
        col + 1
    } else {
        col
    };
    for (i, sql_line) in sql_lines.iter().take(at_line as usize).enumerate() {
        if !from(line + i as u32, col)?.starts_with(sql_line) {
            return None;
        }
    }
    Some((line + at_line - 1, col + at_col - 1))
}

/// Which part of a named query a problem is in.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryPart {
    /// The SQL text, and where in it the problem is when known.
    Sql(Option<crate::query::SqlLocation>),
    /// A Pareto objective (`minimize`/`maximize`).
    Pareto(String),
}

/// Tokenizers loaded while planning, by path, so that a file named twice is read once.
#[derive(Default)]
struct Tokenizers {
    loaded: BTreeMap<PathBuf, Result<Arc<tokenizer::HfTokenizer>, tokenizer::TokenizerError>>,
}

impl Tokenizers {
    /// The tokenizer `file` (relative to `base_dir`), or the issue at `key` (the `tokenizer`
    /// key that names it) saying why it cannot be used.
    fn load(
        &mut self,
        loaded: &Loaded,
        base_dir: &std::path::Path,
        file: &str,
        key: KeyPath,
    ) -> Result<Arc<tokenizer::HfTokenizer>, Issue> {
        self.loaded
            .entry(base_dir.join(file))
            .or_insert_with(|| tokenizer::HfTokenizer::load(base_dir, file).map(Arc::new))
            .clone()
            .map_err(|e| {
                let help = e.help(base_dir);
                loaded.issue(key, e.to_string()).help(help)
            })
    }
}

/// `path` (relative to `base_dir`) with its file name replaced by the closest name in its
/// folder, when the file does not exist and one is close.
fn similar_file(base_dir: &std::path::Path, path: &str) -> Option<String> {
    let full = base_dir.join(path);
    if full.exists() {
        return None;
    }
    let name = full.file_name()?.to_str()?;
    let names: Vec<String> = std::fs::read_dir(full.parent()?)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    let close = did_you_mean(name, names.iter().map(String::as_str))?;
    Some(format!("{}{close}", path.strip_suffix(name)?))
}

fn dataset_issue(
    loaded: &Loaded,
    p: &KeyPath,
    base_dir: &std::path::Path,
    ds: &crate::spec::FileDatasetSpec,
    e: dataset::DatasetError,
) -> Issue {
    use dataset::DatasetError as E;
    match e {
        E::Read(msg) => {
            let mut issue = loaded.issue(p.key("path"), format!("cannot read dataset: {msg}"));
            let folder = match base_dir.to_str() {
                Some("" | ".") => "the current folder".to_string(),
                _ => base_dir.display().to_string(),
            };
            issue.help = Some(match similar_file(base_dir, &ds.path) {
                Some(close) => format!(
                    "did you mean `{close}`? (paths are relative to the pipeline file's folder, {folder})"
                ),
                None => format!("paths are relative to the pipeline file's folder ({folder})"),
            });
            issue
        }
        E::Format(msg) => loaded.issue(p.key("path"), msg),
        E::Parse { line, message } => {
            loaded.issue(p.key("path"), format!("{}:{line}: {message}", ds.path))
        }
        E::Field {
            mapping,
            field,
            line,
            available,
        } => {
            let refs: Vec<&str> = available.iter().map(String::as_str).collect();
            let help = match did_you_mean(&field, refs.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "the row has: {}",
                    refs.iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            loaded
                .issue(
                    p.key(mapping),
                    format!("field `{field}` is missing from {}:{line}", ds.path),
                )
                .help(help)
        }
        E::Empty => loaded.issue(p.key("path"), format!("dataset `{}` has no rows", ds.path)),
    }
}

/// What is wrong with an `openai` endpoint's `base_url`, if anything: it must parse as an
/// `http` or `https` URL (which the URL parser requires to have a host).
fn base_url_problem(base_url: &str) -> Option<String> {
    if !base_url.contains("://") {
        return Some(format!(
            "`{base_url}` has no scheme; did you mean `http://{base_url}`?"
        ));
    }
    match url::Url::parse(base_url) {
        Err(e) => Some(format!("`{base_url}` is not a valid URL: {e}")),
        Ok(u) if u.scheme() != "http" && u.scheme() != "https" => Some(format!(
            "`{base_url}` has the scheme `{}`; frontier sends requests over http or https",
            u.scheme()
        )),
        Ok(_) => None,
    }
}

/// Parse a templated value for one trial.
fn resolve<T: std::str::FromStr + Clone>(
    v: &Templated<T>,
    ctx: &Value,
    templates: &Templates,
    loaded: &Loaded,
    path: KeyPath,
    issues: &mut Vec<Issue>,
) -> Option<T> {
    match v {
        Templated::Value(x) => Some(x.clone()),
        Templated::Template(t) => match templates.render_str(t, ctx) {
            Ok(text) => match text.trim().parse::<T>() {
                Ok(x) => Some(x),
                // Text without template syntax is a literal: no rendering to speak of.
                Err(_) if !t.contains("{{") && !t.contains("{%") => {
                    issues.push(
                        loaded
                            .issue(
                                path,
                                format!("expected a {}, found string `{t}`", short_type::<T>()),
                            )
                            .help(format!(
                                "write a {}, or a template such as \"{{{{ grid.x }}}}\" that renders to one",
                                short_type::<T>()
                            )),
                    );
                    None
                }
                Err(_) => {
                    issues.push(loaded.issue(
                        path,
                        format!(
                            "`{t}` rendered to `{text}`, which is not a valid {}",
                            short_type::<T>()
                        ),
                    ));
                    None
                }
            },
            Err(e) => {
                issues.push(with_help(loaded.issue(path, e), template::syntax_help(t)));
                None
            }
        },
    }
}

fn short_type<T>() -> &'static str {
    let n = std::any::type_name::<T>();
    match n {
        "f64" => "number",
        "u32" | "u64" => "non-negative integer",
        "i64" => "integer",
        _ => "value",
    }
}

/// The first row whose input (counted as the simulated engine counts a prompt) plus
/// `overhead` (the template's own text) plus its output length (the row's own, else
/// `max_tokens`) is past `max_model_len`, with that sum. Rows without an output length and no
/// `max_tokens` are not checked: the engine then stops the answer at the end of the context.
fn past_context(
    d: &Dataset,
    max_tokens: Option<u32>,
    max_model_len: u32,
    overhead: u64,
) -> Option<(&Row, u64)> {
    d.rows.iter().find_map(|row| {
        let out = row.output_tokens.or(max_tokens)?;
        let need = crate::sim::tokens::prompt_tokens(&row.input) + overhead + u64::from(out);
        (need > u64::from(max_model_len.max(1))).then_some((row, need))
    })
}

#[allow(clippy::too_many_arguments)]
fn resolve_arrival(
    a: &ArrivalSpec,
    duration: Option<Duration>,
    trace: Option<&Arc<[f64]>>,
    ctx: &Value,
    t: &Templates,
    loaded: &Loaded,
    issues: &mut Vec<Issue>,
) -> Arrival {
    let p = KeyPath::root().key("workload").key("arrival");
    let positive = |v: Option<f64>, path: KeyPath, what: &str, issues: &mut Vec<Issue>| -> f64 {
        match v {
            Some(x) if x > 0.0 && x.is_finite() => x,
            Some(x) => {
                issues.push(
                    loaded.issue(path, format!("{what} must be a positive number, found {x}")),
                );
                1.0
            }
            None => 1.0,
        }
    };
    // The pacer's gap between arrivals (1 / rate) must fit a `Duration`: a rate below one
    // request per `MAX_SECONDS` is a typo.
    let open_rate = |v: Option<f64>, path: KeyPath, issues: &mut Vec<Issue>| -> f64 {
        let x = positive(v, path.clone(), "rate (requests per second)", issues);
        if x * crate::spec::duration::MAX_SECONDS < 1.0 {
            issues.push(
                loaded
                    .issue(
                        path,
                        format!(
                            "rate {} is too low: its arrivals are more than 100 years apart",
                            crate::spec::duration::compact_number(x)
                        ),
                    )
                    .help("rates are requests per second, e.g. `rate: 0.5` for one every 2s"),
            );
            return 1.0;
        }
        x
    };
    let cap = |m: &Option<Templated<u32>>, path: KeyPath, issues: &mut Vec<Issue>| {
        let c = m
            .as_ref()
            .and_then(|m| resolve(m, ctx, t, loaded, path.clone(), issues));
        if c == Some(0) {
            issues.push(loaded.issue(path, "max_concurrency must be at least 1"));
        }
        c.map(|c| c.max(1))
    };
    let closed = |c: &Templated<u32>, path: KeyPath, issues: &mut Vec<Issue>| {
        let c = resolve(c, ctx, t, loaded, path.clone(), issues).unwrap_or(1);
        if c == 0 {
            issues.push(loaded.issue(path, "concurrency must be at least 1"));
        }
        Load::Closed {
            concurrency: c.max(1),
        }
    };
    let one = |load: Load| Arrival {
        stages: vec![Stage { load, duration }],
    };
    match a {
        ArrivalSpec::Concurrency(c) => one(closed(c, p.key("concurrency"), issues)),
        ArrivalSpec::Constant(r) | ArrivalSpec::Poisson(r) => {
            let (name, process) = match a {
                ArrivalSpec::Constant(_) => ("constant", OpenProcess::Constant),
                _ => ("poisson", OpenProcess::Poisson),
            };
            let path = p.key(name);
            let rate = resolve(&r.rate, ctx, t, loaded, path.key("rate"), issues);
            let rate = open_rate(rate, path.key("rate"), issues);
            one(Load::Open {
                process,
                rate: Rate::Fixed(rate),
                max_concurrency: cap(&r.max_concurrency, path.key("max_concurrency"), issues),
            })
        }
        ArrivalSpec::Gamma(g) => {
            let path = p.key("gamma");
            let rate = resolve(&g.rate, ctx, t, loaded, path.key("rate"), issues);
            let rate = open_rate(rate, path.key("rate"), issues);
            let shape = resolve(&g.shape, ctx, t, loaded, path.key("shape"), issues);
            let shape = positive(shape, path.key("shape"), "shape", issues);
            one(Load::Open {
                process: OpenProcess::Gamma { shape },
                rate: Rate::Fixed(rate),
                max_concurrency: cap(&g.max_concurrency, path.key("max_concurrency"), issues),
            })
        }
        ArrivalSpec::Ramp(r) => {
            let path = p.key("ramp");
            let from = resolve(&r.from, ctx, t, loaded, path.key("from"), issues).unwrap_or(1.0);
            let to = resolve(&r.to, ctx, t, loaded, path.key("to"), issues).unwrap_or(1.0);
            for (k, v) in [("from", from), ("to", to)] {
                if !(v >= 0.0 && v.is_finite()) {
                    issues.push(loaded.issue(
                        path.key(k),
                        format!("a rate must be a non-negative number, found {v}"),
                    ));
                }
            }
            if to <= 0.0 {
                issues.push(
                    loaded
                        .issue(path.key("to"), "the ramp must end at a positive rate")
                        .help("a ramp down to zero never ends; end it with `duration`"),
                );
            } else if to.is_finite() {
                open_rate(Some(to), path.key("to"), issues);
            }
            let over_s = match r.over.to_duration() {
                Ok(d) if d > Duration::ZERO => d.as_secs_f64(),
                Ok(_) => {
                    issues.push(loaded.issue(path.key("over"), "the ramp must last a while"));
                    1.0
                }
                Err(e) => {
                    issues.push(loaded.issue(path.key("over"), e));
                    1.0
                }
            };
            one(Load::Open {
                process: match r.process {
                    crate::spec::RampProcess::Poisson => OpenProcess::Poisson,
                    crate::spec::RampProcess::Constant => OpenProcess::Constant,
                },
                rate: Rate::Linear {
                    from: from.max(0.0),
                    to: if to > 0.0 { to } else { 1.0 },
                    over_s,
                },
                max_concurrency: cap(&r.max_concurrency, path.key("max_concurrency"), issues),
            })
        }
        ArrivalSpec::Trace(tr) => {
            // The trace reader checks the other options (speedup included).
            let path = p.key("trace");
            one(Load::Trace {
                offsets_s: trace.cloned().unwrap_or_else(|| Arc::from(Vec::new())),
                speedup: tr.speedup,
                max_concurrency: cap(&tr.max_concurrency, path.key("max_concurrency"), issues),
            })
        }
        ArrivalSpec::Steps(list) => {
            let path = p.key("steps");
            if list.is_empty() {
                issues.push(
                    loaded
                        .issue(path.clone(), "`steps` needs at least one stage")
                        .help("e.g. steps: [{rate: 10, duration: 30s}, {rate: 20, duration: 30s}]"),
                );
            }
            if duration.is_some() {
                issues.push(
                    loaded
                        .issue(
                            KeyPath::root().key("workload").key("duration"),
                            "`duration` cannot be combined with `arrival.steps`",
                        )
                        .help("each stage has its own `duration`; the trial lasts their sum"),
                );
            }
            let mut stages = Vec::new();
            for (i, st) in list.iter().enumerate() {
                let sp = path.index(i);
                let d = match st.duration.to_duration() {
                    Ok(d) if d > Duration::ZERO => d,
                    Ok(_) => {
                        issues.push(loaded.issue(sp.key("duration"), "a stage must last a while"));
                        Duration::from_secs(1)
                    }
                    Err(e) => {
                        issues.push(loaded.issue(sp.key("duration"), e));
                        Duration::from_secs(1)
                    }
                };
                let load = match (&st.concurrency, &st.rate) {
                    (Some(c), None) => {
                        if st.max_concurrency.is_some() {
                            issues.push(
                                loaded
                                    .issue(
                                        sp.key("max_concurrency"),
                                        "`max_concurrency` only applies to a `rate` stage",
                                    )
                                    .help("a `concurrency` stage already caps cases in flight"),
                            );
                        }
                        closed(c, sp.key("concurrency"), issues)
                    }
                    (None, Some(r)) => {
                        let rate = resolve(r, ctx, t, loaded, sp.key("rate"), issues);
                        let rate = open_rate(rate, sp.key("rate"), issues);
                        Load::Open {
                            process: match st.process {
                                crate::spec::RampProcess::Poisson => OpenProcess::Poisson,
                                crate::spec::RampProcess::Constant => OpenProcess::Constant,
                            },
                            rate: Rate::Fixed(rate),
                            max_concurrency: cap(
                                &st.max_concurrency,
                                sp.key("max_concurrency"),
                                issues,
                            ),
                        }
                    }
                    _ => {
                        issues.push(
                            loaded
                                .issue(
                                    sp.clone(),
                                    "a stage needs exactly one of `concurrency` and `rate`",
                                )
                                .help("e.g. {concurrency: 8, duration: 30s} or {rate: 20, duration: 30s}"),
                        );
                        Load::Closed { concurrency: 1 }
                    }
                };
                stages.push(Stage {
                    load,
                    duration: Some(d),
                });
            }
            if stages.is_empty() {
                stages.push(Stage {
                    load: Load::Closed { concurrency: 1 },
                    duration,
                });
            }
            Arrival { stages }
        }
    }
}

struct ResolvedParams {
    fields: Map<String, Value>,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
}

/// `v` with every string that holds a template rendered per trial. A string that is one
/// template and nothing else (`"{{ grid.k }}"`) becomes the number, boolean or null it renders
/// to, so that `top_k: "{{ grid.k }}"` sends a number; other strings stay strings.
fn render_json(v: &Value, ctx: &Value, t: &Templates) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) if template::is_template(s) => {
            let rendered = t.render_str(s, ctx)?;
            let whole = s.trim();
            let one = whole.starts_with("{{")
                && whole.ends_with("}}")
                && whole.matches("{{").count() == 1;
            // minijinja prints booleans and none the Python way.
            let json_text = match rendered.trim() {
                "True" => "true",
                "False" => "false",
                "none" | "None" => "null",
                other => other,
            };
            match serde_json::from_str::<Value>(json_text) {
                Ok(x @ (Value::Number(_) | Value::Bool(_) | Value::Null)) if one => x,
                _ => Value::String(rendered),
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|x| render_json(x, ctx, t))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), render_json(x, ctx, t)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// The help for the first template string in `v` that does not compile.
fn json_syntax_help(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if template::is_template(s) => template::syntax_help(s),
        Value::Array(items) => items.iter().find_map(json_syntax_help),
        Value::Object(m) => m.values().find_map(json_syntax_help),
        _ => None,
    }
}

fn resolve_params(
    p: &ParamsSpec,
    ctx: &Value,
    t: &Templates,
    loaded: &Loaded,
    path: &KeyPath,
    issues: &mut Vec<Issue>,
) -> ResolvedParams {
    let mut fields = Map::new();
    for (k, v) in &p.extra {
        match render_json(v, ctx, t) {
            Ok(v) => {
                fields.insert(k.clone(), v);
            }
            Err(e) => issues.push(with_help(
                loaded.issue(path.key("extra").key(k), e),
                json_syntax_help(v),
            )),
        }
    }
    let temperature = p
        .temperature
        .as_ref()
        .and_then(|v| resolve(v, ctx, t, loaded, path.key("temperature"), issues));
    if let Some(x) = temperature {
        if !(0.0..=10.0).contains(&x) {
            issues.push(
                loaded
                    .issue(
                        path.key("temperature"),
                        format!("temperature {x} is out of range"),
                    )
                    .help("temperatures are usually between 0 and 2"),
            );
        }
        fields.insert("temperature".into(), json!(x));
    }
    if let Some(x) = p
        .top_p
        .as_ref()
        .and_then(|v| resolve(v, ctx, t, loaded, path.key("top_p"), issues))
    {
        fields.insert("top_p".into(), json!(x));
    }
    let max_tokens = p
        .max_tokens
        .as_ref()
        .and_then(|v| resolve(v, ctx, t, loaded, path.key("max_tokens"), issues));
    if let Some(x) = max_tokens {
        fields.insert("max_tokens".into(), json!(x));
    }
    if let Some(x) = p
        .seed
        .as_ref()
        .and_then(|v| resolve(v, ctx, t, loaded, path.key("seed"), issues))
    {
        fields.insert("seed".into(), json!(x));
    }
    if let Some(stop) = &p.stop {
        let mut rendered = Vec::with_capacity(stop.len());
        for (i, s) in stop.iter().enumerate() {
            if template::is_template(s) {
                match t.render_str(s, ctx) {
                    Ok(r) => rendered.push(r),
                    Err(e) => issues.push(with_help(
                        loaded.issue(path.key("stop").index(i), e),
                        template::syntax_help(s),
                    )),
                }
            } else {
                rendered.push(s.clone());
            }
        }
        fields.insert("stop".into(), json!(rendered));
    }
    ResolvedParams {
        fields,
        temperature,
        max_tokens,
    }
}
