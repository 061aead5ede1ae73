//! The pipeline as written: serde types for format v1.
//!
//! These types are the single source of truth for the pipeline format. The JSON Schema printed
//! by `frontier schema` is derived from them (doc comments become descriptions), and the
//! validator in [`validate`] walks a YAML tree against that schema, so that the schema, the
//! validator and the deserializer cannot drift apart. Nothing here does I/O or resolves
//! defaults that depend on other sections: that is the job of [`crate::plan`].

pub mod duration;
pub mod evaluator;
pub mod judge;
pub mod load;
pub mod node;
pub mod schema;
pub mod synthetic;
pub mod trace;
pub mod validate;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use duration::HumanDuration;
pub use evaluator::{
    BasicScorer, EvaluatorFile, EvaluatorSpec, ExtractSpec, FuzzyMetric, FuzzyScorer, GroupSpec,
    JsonSchemaScorer, LmEvalNormalizer, LmEvalOptions, MatchPolicy, NormalizeSpec, NormalizerName,
    NumericScorer, RegexExtract, RegexScorer, TextScorer, Tolerance,
};
pub use synthetic::{
    EmpiricalLength, LengthSpec, NormalLength, PrefixSpec, SyntheticDatasetSpec, SyntheticSpec,
    UniformLength,
};
pub use trace::{TimeUnit, TraceSpec};

/// A frontier pipeline (format version 1).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Format version. Only `1` exists.
    pub version: u32,
    /// Pipeline name: names the results folder `<out>/<name>/<run_id>/`. Letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// Free text shown in `frontier plan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Constants available to every template as `vars.<name>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// Named model servers. Steps refer to them by name (possibly through `{{ grid.x }}`).
    pub endpoints: BTreeMap<String, EndpointSpec>,
    /// Named datasets. The workload's dataset supplies one case per row. May be omitted when
    /// the workload replays a trace (whose records are the cases).
    #[serde(default)]
    pub datasets: BTreeMap<String, DatasetSpec>,
    /// How requests arrive and when a trial stops.
    pub workload: WorkloadSpec,
    /// The steps run for every case, in order.
    pub flow: Vec<StepSpec>,
    /// Parameters swept across trials. Without a grid the pipeline runs one trial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<GridSpec>,
    /// Scorers applied to the final step's answer against the dataset's references. The first
    /// one defines `accuracy` in `configs.parquet`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evaluators: Vec<EvaluatorSpec>,
    /// Per-request service-level objectives: a request meets the SLO when it succeeded and every
    /// objective given here holds. `goodput` counts such requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloSpec>,
    /// Named SQL queries run over the results when the run ends; each writes `<name>.parquet`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, QuerySpec>,
    /// What the results store beyond the columns every run has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<ResultsSpec>,
}

/// What the results store beyond the columns every run has.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResultsSpec {
    /// Store each request's per-chunk series (`requests.token_chunk_ns` and
    /// `token_chunk_tokens`: two integers per token-bearing chunk). Default true; `false`
    /// writes them as null, which keeps `requests.parquet` small for long answers. Every gap
    /// statistic is computed either way.
    #[serde(default = "yes")]
    pub chunk_timings: bool,
}

fn yes() -> bool {
    true
}

/// A value that is either given literally or as a minijinja template resolved per trial
/// (with `grid` and `vars` in scope), e.g. `"{{ grid.temperature }}"`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum Templated<T> {
    /// The value itself.
    Value(T),
    /// A template whose rendering is parsed as the value.
    Template(String),
}

/// A model server.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EndpointSpec {
    /// Any OpenAI-compatible server: vLLM, SGLang, TGI, llama.cpp's llama-server, hosted APIs.
    Openai(OpenaiEndpoint),
    /// The built-in simulated engine, served on an ephemeral loopback port for each trial.
    Simulated(SimulatedEndpoint),
}

/// An OpenAI-compatible server.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenaiEndpoint {
    /// Base URL up to and including `/v1`, e.g. `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// Model name sent in every request.
    pub model: String,
    /// Environment variable holding the API key (sent as a bearer token). Keys never go in YAML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Ask for a cumulative `usage` object in every chunk
    /// (`stream_options.continuous_usage_stats`, vLLM's extension), so that a chunk carrying
    /// several tokens is counted as such (`chunk_tokens_basis = usage`). Only for servers that
    /// support it: others may reject the request. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continuous_usage: bool,
    /// The served model's Hugging Face `tokenizer.json` (path relative to the pipeline file):
    /// frontier counts each answer with it (`requests.client_tokens`), off the I/O path, to
    /// compare with the server's `usage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
    /// Prices used to compute cost. Without pricing, cost is null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<PricingSpec>,
}

/// The built-in simulated engine.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulatedEndpoint {
    /// Model name the engine reports. Defaults to the endpoint's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Performance and quality model.
    #[serde(default)]
    pub profile: SimProfile,
    /// A Hugging Face `tokenizer.json` to count answers with (`requests.client_tokens`), as
    /// for `openai` endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
    /// Prices used to compute cost. Without pricing, cost is null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<PricingSpec>,
}

/// The simulated engine's model of a server (see README, "The simulated engine").
///
/// Every number is bounded (the schema's `minimum`/`maximum`, checked by `frontier validate`
/// and by `frontier sim-server`'s flags): beyond the bounds a value is a typo, and a step time
/// past what a timer can wait for would stall a run forever.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SimProfile {
    /// Sequences decoded together (continuous-batching slots, vLLM's max_num_seqs); 0 acts
    /// as 1. At most 1048576.
    #[schemars(range(max = MAX_SLOTS))]
    pub slots: u32,
    /// KV-cache capacity in tokens: a request is admitted only while the running sequences'
    /// prompt plus maximum output tokens fit. 0 means unlimited. At most 10^12.
    #[schemars(range(max = MAX_KV_TOKENS))]
    pub kv_tokens: u64,
    /// Prefill throughput in prompt tokens per second; a step that admits new sequences takes
    /// their prompt tokens / prefill_tok_s longer. 0 makes prefill free; otherwise from 0.001
    /// (1000 s per token) to 10^9 (1 ns per token).
    #[schemars(range(min = 0.0, max = MAX_PREFILL_TOK_S))]
    pub prefill_tok_s: f64,
    /// Decode step time in milliseconds with one running sequence, at most 3600000 (an hour).
    #[schemars(range(min = 0.0, max = MAX_STEP_MS))]
    pub decode_ms: f64,
    /// Extra decode step time in milliseconds for each additional running sequence, at most
    /// 3600000 (an hour).
    #[schemars(range(min = 0.0, max = MAX_STEP_MS))]
    pub decode_ms_per_seq: f64,
    /// Probability of answering a known question with its reference at temperature 0 (0 to 1).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub quality: f64,
    /// How much the probability of a correct answer drops per unit of temperature (0 to 100).
    #[schemars(range(min = 0.0, max = MAX_TEMPERATURE_SENSITIVITY))]
    pub temperature_sensitivity: f64,
    /// Tokens generated for prompts the engine has no reference for when the request sets no
    /// `max_tokens` (with `max_tokens` such prompts get exactly that many), and for `ignore_eos`
    /// without `max_tokens`; 0 acts as 1. At most 10000000.
    #[schemars(range(max = MAX_CONTEXT_TOKENS))]
    pub default_output_tokens: u32,
    /// Fraction of requests answered with HTTP 500 (fault injection), 0 to 1.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub error_rate: f64,
    /// Tokens per streamed chunk (as servers that stream every few steps, or with speculative
    /// decoding, send); the last chunk may hold fewer. 0 acts as 1. At most 10000000.
    #[schemars(range(max = MAX_CONTEXT_TOKENS))]
    pub tokens_per_chunk: u32,
    /// Context length in tokens (vLLM's `max_model_len`): a request whose prompt plus
    /// `max_tokens` exceeds it is refused with HTTP 400, as vLLM does; without `max_tokens` the
    /// answer stops at the context's end. Default 32768; 0 acts as 1. At most 10000000.
    #[schemars(range(max = MAX_CONTEXT_TOKENS))]
    pub max_model_len: u32,
    /// Seed of the quality oracle and the fault injector.
    pub seed: u64,
}

/// The longest simulated step time a profile may ask for, in milliseconds (an hour): per
/// decode step (`decode_ms`) and per additional sequence (`decode_ms_per_seq`).
pub const MAX_STEP_MS: f64 = 3_600_000.0;
/// The fastest prefill (`prefill_tok_s`): a nanosecond per token, the resolution of the
/// engine's clock (faster would round to free prefill).
pub const MAX_PREFILL_TOK_S: f64 = 1e9;
/// The slowest prefill other than 0 (free): 1000 s per prompt token.
pub const MIN_PREFILL_TOK_S: f64 = 0.001;
/// The most `slots` (2^20, far beyond any server's batch; `benches/peer-compare.sh` uses it
/// as "unlimited").
pub const MAX_SLOTS: u32 = 1 << 20;
/// The largest `kv_tokens` (10^12, far beyond any server's KV cache; 0 is unlimited).
pub const MAX_KV_TOKENS: u64 = 1_000_000_000_000;
/// The largest `max_model_len`, `default_output_tokens` and `tokens_per_chunk`: ten million
/// tokens, the longest context of today's models. The engine holds an answer whole, so a
/// context of billions of tokens would let one request take gigabytes.
pub const MAX_CONTEXT_TOKENS: u32 = 10_000_000;
/// The largest `temperature_sensitivity` (at 100, a temperature of 0.01 already costs a
/// probability of 1).
pub const MAX_TEMPERATURE_SENSITIVITY: f64 = 100.0;

impl SimProfile {
    /// Why `prefill_tok_s` is out of range, if it is: 0 (free prefill) or from
    /// [`MIN_PREFILL_TOK_S`] to [`MAX_PREFILL_TOK_S`]. The schema holds the outer bounds; this
    /// is also the one check the schema cannot say (a positive rate below the minimum).
    pub fn prefill_tok_s_problem(v: f64) -> Option<String> {
        if v == 0.0 || (MIN_PREFILL_TOK_S..=MAX_PREFILL_TOK_S).contains(&v) {
            return None;
        }
        Some(if v > 0.0 && v < MIN_PREFILL_TOK_S {
            format!(
                "prefill_tok_s {} is too low: a prompt token would take more than 1000 s",
                duration::compact_number(v)
            )
        } else {
            format!(
                "prefill_tok_s must be 0 or from 0.001 to 1000000000, found {}",
                duration::compact_number(v)
            )
        })
    }
}

/// The help line for a `prefill_tok_s` out of range.
pub const PREFILL_TOK_S_HELP: &str =
    "give 0 for free prefill, or prompt tokens per second from 0.001 to 1000000000";

/// The simulated engine's default context length, a common one for today's models.
pub const DEFAULT_MAX_MODEL_LEN: u32 = 32_768;

impl Default for SimProfile {
    fn default() -> Self {
        SimProfile {
            slots: 8,
            kv_tokens: 0,
            prefill_tok_s: 10_000.0,
            decode_ms: 10.0,
            decode_ms_per_seq: 0.5,
            quality: 0.8,
            temperature_sensitivity: 0.1,
            default_output_tokens: 64,
            error_rate: 0.0,
            tokens_per_chunk: 1,
            max_model_len: DEFAULT_MAX_MODEL_LEN,
            seed: 0,
        }
    }
}

/// How to price an endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum PricingSpec {
    /// Per-token prices (hosted APIs): cost per request from its token counts.
    Tokens(TokenPricing),
    /// Per-GPU-hour price (self-hosted): cost per trial from its measured window.
    GpuHour(GpuHourPricing),
}

/// Per-token prices in USD per million tokens.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenPricing {
    /// USD per million prompt tokens.
    pub input_per_mtok: f64,
    /// USD per million completion tokens.
    pub output_per_mtok: f64,
}

/// Rental price of the hardware serving the endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GpuHourPricing {
    /// USD per GPU-hour.
    pub gpu_hour_usd: f64,
    /// GPUs the deployment uses.
    #[serde(default = "one")]
    pub gpus: u32,
}

fn one() -> u32 {
    1
}

/// A dataset: a JSONL or CSV file (`path: ...`), or prompts generated to token lengths
/// (`synthetic: {...}`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum DatasetSpec {
    /// Rows read from a file.
    File(FileDatasetSpec),
    /// Rows generated from seeded length distributions.
    Synthetic(SyntheticDatasetSpec),
}

/// A dataset file.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileDatasetSpec {
    /// Path to a `.jsonl` or `.csv` file, relative to the pipeline file.
    pub path: String,
    /// File format. Inferred from the extension when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<DatasetFormat>,
    /// Field holding the input (available to templates as `item.input` and by its own name).
    pub input: String,
    /// Field holding the reference answer: a string, or a list of acceptable answers (in CSV,
    /// several answers are separated by `|`). Without it, cases are not scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Field holding a stable case id. Defaults to the row number (0-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Use only the first N rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Field holding each row's completion length in tokens (a whole number), sent as the
    /// request's `max_tokens` in place of the step's (as trace rows do): replay a dataset's
    /// recorded output lengths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<String>,
    /// Send vLLM's and SGLang's `ignore_eos: true` with rows that set `output_tokens`, so the
    /// server generates exactly that many tokens.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_eos: bool,
}

/// Dataset file formats.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DatasetFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

/// How requests arrive and when a trial stops.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Dataset whose rows become cases. May be omitted when there is exactly one dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Arrival process.
    pub arrival: ArrivalSpec,
    /// Cases to run per trial (cycling through the dataset; each case runs `grid.repeats`
    /// times). Defaults to one pass over the dataset when neither `requests` nor `duration` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Templated<u64>>,
    /// Stop scheduling new cases after this long (e.g. `30s`, `2m`); in-flight ones finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
    /// The first N cases of each trial are warm-up: sent and stored with `phase = warmup`, but
    /// excluded from every statistic and score.
    #[serde(default)]
    pub warmup: u64,
    /// Cases scheduled within this long of the trial's start are warm-up too (e.g. `10s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_duration: Option<HumanDuration>,
    /// The last N cases of each trial are cool-down (`phase = cooldown`): sent and stored, but
    /// excluded from statistics and scores. Needs a request count (`requests` or one pass over
    /// the dataset).
    #[serde(default)]
    pub cooldown: u64,
    /// Cases scheduled within this long of the trial's end are cool-down. Needs `duration` (or
    /// `steps`, whose durations add up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_duration: Option<HumanDuration>,
    /// Stop the trial early (no new cases; in-flight ones finish) once this many requests have
    /// failed. The trial's `stop_reason` says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<u64>,
    /// Stop the trial early once the share of failed requests exceeds this fraction (0-1),
    /// checked from the 20th finished request on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    /// A trial is flagged `client_saturated` when its schedule lag p99 exceeds this (default
    /// `1ms`) or its achieved send rate falls below 99% of the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lag: Option<HumanDuration>,
    /// Multi-turn sessions: each case runs the flow `turns` times as one conversation, each
    /// turn's request carrying the earlier turns' messages and real responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionSpec>,
    /// Seed for arrival times and case order.
    #[serde(default)]
    pub seed: u64,
    /// Per-request timeout (default 120s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
}

/// A multi-turn session. Sessions arrive by the arrival process; within a session, turn t + 1
/// is sent `think_time` after turn t ends. On chat steps a turn's request is the conversation
/// so far (earlier turns' messages and the model's real answers, system messages once) plus
/// this turn's rendered messages; on completions steps, the earlier prompts and answers are
/// prepended to this turn's prompt. Templates see `turn.index` (0-based) and `turn.count`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SessionSpec {
    /// Turns per session (at least 1).
    pub turns: Templated<u32>,
    /// Pause between a turn's end and the next turn's send (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_time: Option<HumanDuration>,
}

/// Arrival process. Closed-loop `concurrency` keeps N cases in flight; the open-loop processes
/// send at precomputed times whether or not earlier requests finished.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ArrivalSpec {
    /// Closed loop: N cases in flight at all times.
    Concurrency(Templated<u32>),
    /// Open loop: evenly spaced arrivals at `rate` per second.
    Constant(RateSpec),
    /// Open loop: Poisson arrivals (exponential gaps) at mean `rate` per second.
    Poisson(RateSpec),
    /// Open loop: gamma-distributed gaps at mean `rate` per second. `shape` sets burstiness:
    /// 1 is Poisson, below 1 is burstier (gap coefficient of variation = 1/sqrt(shape)), above
    /// 1 is more regular.
    Gamma(GammaSpec),
    /// Open loop: the rate changes linearly from `from` to `to` over `over`, then stays at `to`.
    Ramp(RampSpec),
    /// A list of stages run back to back, each with its own load and duration; each stage is
    /// summarised separately (`configs.stage`).
    Steps(Vec<StageSpec>),
    /// Replay a request trace (JSON Lines of arrival times and token lengths): requests go at
    /// the recorded times (divided by `speedup`) with the recorded lengths. The trace's records
    /// are the cases: no `datasets` entry is needed, and `workload.dataset` must not be set.
    Trace(TraceSpec),
}

/// Gamma arrivals.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GammaSpec {
    /// Mean cases per second.
    pub rate: Templated<f64>,
    /// Shape of the gap distribution (positive); 1 is Poisson.
    pub shape: Templated<f64>,
    /// At most this many cases in flight; waiting for a place is recorded (`cap_wait_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<Templated<u32>>,
}

/// A linear rate ramp.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RampSpec {
    /// Cases per second at the start.
    pub from: Templated<f64>,
    /// Cases per second at the end of the ramp (and after it).
    pub to: Templated<f64>,
    /// How long the ramp lasts, e.g. `60s`.
    pub over: HumanDuration,
    /// `poisson` (default): a Poisson process whose rate follows the ramp; `constant`: evenly
    /// spaced in the ramp's time scale.
    #[serde(default)]
    pub process: RampProcess,
    /// At most this many cases in flight; waiting for a place is recorded (`cap_wait_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<Templated<u32>>,
}

/// How arrivals follow a time-varying rate.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RampProcess {
    /// Poisson.
    #[default]
    Poisson,
    /// Evenly spaced.
    Constant,
}

/// One stage of `steps`: either `concurrency` (closed loop) or `rate` (open loop), for
/// `duration`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// Closed loop: N cases in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Templated<u32>>,
    /// Open loop: cases per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Templated<f64>>,
    /// Open-loop gap distribution: `poisson` (default) or `constant`.
    #[serde(default)]
    pub process: RampProcess,
    /// Open loop: at most this many cases in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<Templated<u32>>,
    /// How long the stage schedules new cases.
    pub duration: HumanDuration,
}

/// An open-loop rate.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateSpec {
    /// Cases per second.
    pub rate: Templated<f64>,
    /// At most this many cases in flight; time spent waiting for a free place is recorded
    /// (`cap_wait_ms`, and within `queue_ms`), never hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<Templated<u32>>,
}

/// One step of the flow. Exactly one kind key (`llm`, ...) besides `id`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Step id: names the step in `requests.step_id` and in templates as `steps.<id>`.
    pub id: String,
    /// Call a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmStepSpec>,
}

/// Call a model and stream its answer.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmStepSpec {
    /// Endpoint name, or a template such as `"{{ grid.endpoint }}"`.
    pub endpoint: String,
    /// Which API to call. `chat` (default) sends `messages` (a `prompt` becomes one user
    /// message); `completions` sends `prompt` to `/completions`.
    #[serde(default)]
    pub api: ApiKind,
    /// Prompt template (minijinja; `item`, `grid`, `vars` and `steps` are in scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Chat messages; each content is a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageSpec>>,
    /// Sampling parameters; each may be a template resolved per trial.
    #[serde(default)]
    pub params: ParamsSpec,
}

/// The OpenAI API a step calls.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ApiKind {
    /// `POST {base_url}/chat/completions`.
    #[default]
    Chat,
    /// `POST {base_url}/completions`.
    Completions,
}

/// A chat message.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    /// `system`, `user` or `assistant`.
    pub role: Role,
    /// Content template.
    pub content: String,
}

/// Chat roles.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// System prompt.
    System,
    /// User turn.
    User,
    /// Assistant turn.
    Assistant,
}

/// Sampling parameters sent with every request of a step.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParamsSpec {
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Templated<f64>>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Templated<f64>>,
    /// Maximum completion tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<Templated<u32>>,
    /// Sampling seed sent to the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<Templated<i64>>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// Extra fields merged into the request body as given (server-specific options such as
    /// vLLM's `ignore_eos` or `top_k`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Parameters swept across trials. `product` takes the cartesian product of its lists; `zip`
/// walks its lists in lockstep (all the same length) and is crossed with `product`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    /// Cartesian product: every combination of the listed values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub product: BTreeMap<String, Vec<serde_json::Value>>,
    /// Lockstep: the i-th values of every list go together.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub zip: BTreeMap<String, Vec<serde_json::Value>>,
    /// Run every case this many times per trial (for pass@k and flip rates). Default 1.
    #[serde(default = "one")]
    #[schemars(range(min = 1))]
    pub repeats: u32,
}

/// Per-request service-level objectives (all optional; the ones given must all hold).
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    /// Maximum time to first token, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Maximum time per output token after the first, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_ms: Option<f64>,
    /// Maximum end-to-end latency, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_ms: Option<f64>,
}

/// A named query over the run's tables.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    /// SQL over `requests`, `scores`, `configs` (the subset in the README).
    pub sql: String,
    /// Mark the Pareto frontier of the query's rows in an `on_frontier` column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pareto: Option<ParetoSpec>,
}

/// Pareto objectives: columns of the query's result.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParetoSpec {
    /// Columns where lower is better.
    #[serde(default)]
    pub minimize: Vec<String>,
    /// Columns where higher is better.
    #[serde(default)]
    pub maximize: Vec<String>,
}
