//! The Parquet column contract: one schema and one row type per table. The README's
//! "Results" section documents every column; change both together.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde_json::Value;

use super::Columns;
use crate::eval::Scorer;
use crate::plan::QueryPart;
use crate::spec::ParetoSpec;

/// Names of the built-in tables (query names may not reuse them).
pub const TABLE_NAMES: &[&str] = &[
    "requests",
    "cases",
    "scores",
    "judgements",
    "score_stats",
    "configs",
];

fn f(name: &str, dt: DataType, nullable: bool) -> Field {
    Field::new(name, dt, nullable)
}

/// A list of 64-bit integers (the element field as Arrow's list builder names it).
fn i64_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)))
}

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// `requests.parquet`: one row per LLM call.
pub fn requests_schema() -> SchemaRef {
    use DataType::*;
    Arc::new(Schema::new(vec![
        f("run_id", Utf8, false),
        f("trial_id", Utf8, false),
        f("trial_index", Int64, false),
        f("case_index", Int64, false),
        f("case_id", Utf8, false),
        f("repeat", Int64, false),
        f("phase", Utf8, false),
        f("stage", Int64, false),
        f("turn", Int64, false),
        f("step_id", Utf8, false),
        f("endpoint", Utf8, false),
        f("model", Utf8, false),
        f("sent_at", ts(), true),
        f("intended_ns", Int64, false),
        f("sent_ns", Int64, true),
        f("first_token_ns", Int64, true),
        f("first_content_ns", Int64, true),
        f("last_token_ns", Int64, true),
        f("end_ns", Int64, true),
        f("queue_ms", Float64, true),
        f("schedule_lag_ms", Float64, true),
        f("cap_wait_ms", Float64, true),
        f("ttft_ms", Float64, true),
        f("ttfo_ms", Float64, true),
        f("tpot_ms", Float64, true),
        f("e2e_ms", Float64, true),
        f("e2e_from_intended_ms", Float64, true),
        f("itl_p50_ms", Float64, true),
        f("itl_p99_ms", Float64, true),
        f("icl_p50_ms", Float64, true),
        f("icl_max_ms", Float64, true),
        f("prompt_tokens", Int64, true),
        f("completion_tokens", Int64, true),
        f("reasoning_tokens", Int64, true),
        f("chunk_count", Int64, false),
        f("token_chunk_count", Int64, false),
        f("chunk_tokens_basis", Utf8, true),
        f("token_chunk_ns", i64_list(), true),
        f("token_chunk_tokens", i64_list(), true),
        f("token_count_discrepancy", Int64, true),
        f("client_tokens", Int64, true),
        f("client_token_discrepancy", Int64, true),
        f("http_status", Int64, true),
        f("ok", Boolean, false),
        f("error_kind", Utf8, true),
        f("error_message", Utf8, true),
        f("finish_reason", Utf8, true),
        f("slo_met", Boolean, true),
        f("cost_usd", Float64, true),
        f("output_text", Utf8, false),
        f("reasoning_text", Utf8, true),
    ]))
}

/// One row of `requests.parquet`. Timestamps are ns on the run's monotonic clock.
#[derive(Clone, Debug, Default)]
pub struct RequestRow {
    /// Trial id.
    pub trial_id: Arc<str>,
    /// Trial position.
    pub trial_index: i64,
    /// Execution index within the trial.
    pub case_index: i64,
    /// Dataset row id.
    pub case_id: Arc<str>,
    /// Repeat number.
    pub repeat: i64,
    /// `warmup`, `measure` or `cooldown`.
    pub phase: &'static str,
    /// Stage of the arrival process.
    pub stage: i64,
    /// Turn of a multi-turn session (0 otherwise).
    pub turn: i64,
    /// Step id.
    pub step_id: Arc<str>,
    /// Endpoint name.
    pub endpoint: Arc<str>,
    /// Model name.
    pub model: Arc<str>,
    /// Scheduled send time.
    pub intended_ns: i64,
    /// Dispatch minus intended (first step only).
    pub schedule_lag_ms: Option<f64>,
    /// Wait for a place under `max_concurrency` (first step of capped open loops).
    pub cap_wait_ms: Option<f64>,
    /// Actual send time.
    pub sent_ns: Option<i64>,
    /// First token of any channel.
    pub first_token_ns: Option<i64>,
    /// First content token.
    pub first_content_ns: Option<i64>,
    /// Last token.
    pub last_token_ns: Option<i64>,
    /// Stream end.
    pub end_ns: Option<i64>,
    /// Server prompt tokens.
    pub prompt_tokens: Option<i64>,
    /// Server completion tokens.
    pub completion_tokens: Option<i64>,
    /// Server reasoning tokens.
    pub reasoning_tokens: Option<i64>,
    /// SSE data events.
    pub chunk_count: i64,
    /// Token-bearing chunks.
    pub token_chunk_count: i64,
    /// Where per-chunk token counts came from: `usage`, `chunks` or `mixed` (None: no tokens).
    pub chunk_tokens_basis: Option<&'static str>,
    /// Arrival of every token-bearing chunk, in order.
    pub token_chunk_ns: Option<Vec<i64>>,
    /// Tokens carried by each token-bearing chunk (parallel to `token_chunk_ns`).
    pub token_chunk_tokens: Option<Vec<u32>>,
    /// Per-token and per-chunk gap statistics.
    pub gaps: crate::client::gaps::GapSummary,
    /// HTTP status.
    pub http_status: Option<i64>,
    /// Error kind (None: success).
    pub error_kind: Option<&'static str>,
    /// Error detail.
    pub error_message: Option<String>,
    /// Finish reason.
    pub finish_reason: Option<String>,
    /// Every SLO held (null: succeeded, but an objective could not be evaluated).
    pub slo_met: Option<bool>,
    /// Token-priced cost.
    pub cost_usd: Option<f64>,
    /// Content text.
    pub output_text: String,
    /// Reasoning text (`reasoning_content` or `reasoning`).
    pub reasoning_text: String,
    /// Tool-call text (function names and arguments), counted but not stored.
    pub tool_text: String,
    /// The endpoint's client tokenizer, if configured: the writer counts the answer with it.
    pub client_tokenizer: Option<Arc<crate::plan::tokenizer::HfTokenizer>>,
}

fn ms(a: Option<i64>, b: Option<i64>) -> Option<f64> {
    Some((a? - b?) as f64 / 1e6)
}

impl RequestRow {
    /// Time to first token (any channel) in ms.
    pub fn ttft_ms(&self) -> Option<f64> {
        ms(self.first_token_ns, self.sent_ns)
    }
    /// Time to first content token in ms.
    pub fn ttfo_ms(&self) -> Option<f64> {
        ms(self.first_content_ns, self.sent_ns)
    }
    /// End-to-end latency (send to last token) in ms.
    pub fn e2e_ms(&self) -> Option<f64> {
        ms(self.last_token_ns, self.sent_ns)
    }
    /// Client lateness / cap wait in ms.
    pub fn queue_ms(&self) -> Option<f64> {
        ms(self.sent_ns, Some(self.intended_ns))
    }
    /// Coordinated-omission-corrected latency in ms.
    pub fn e2e_from_intended_ms(&self) -> Option<f64> {
        ms(self.last_token_ns, Some(self.intended_ns))
    }
    /// Time per output token after the first (vLLM's TPOT); null when fewer than 2 tokens or
    /// no server usage.
    pub fn tpot_ms(&self) -> Option<f64> {
        let n = self.completion_tokens?;
        if n <= 1 {
            return None;
        }
        Some(ms(self.last_token_ns, self.first_token_ns)? / (n - 1) as f64)
    }
    /// Token-bearing chunks minus the server's completion tokens: how far counting chunks as
    /// tokens would be off (null without usage).
    pub fn token_count_discrepancy(&self) -> Option<i64> {
        Some(self.token_chunk_count - self.completion_tokens?)
    }
    /// The generated text (content, reasoning and tool-call text, each counted on its own)
    /// counted with the endpoint's client tokenizer.
    pub fn client_tokens(&self) -> Option<i64> {
        let t = self.client_tokenizer.as_ref()?;
        let mut n = t.count_text(&self.output_text);
        for part in [&self.reasoning_text, &self.tool_text] {
            if !part.is_empty() {
                n += t.count_text(part);
            }
        }
        i64::try_from(n).ok()
    }
    /// Whether the call succeeded.
    pub fn ok(&self) -> bool {
        self.error_kind.is_none()
    }

    pub(crate) fn fill(&self, c: &mut Columns, run_id: &str, started_unix_us: i64) {
        let ok = self.ok();
        // Latencies of failed requests are kept as raw timestamps but never as metrics.
        let metric = |v: Option<f64>| if ok { v } else { None };
        // Counted here, on the writer thread, never on the I/O tasks.
        let client_tokens = self.client_tokens();
        c.str(Some(run_id))
            .str(Some(&self.trial_id))
            .i64(Some(self.trial_index))
            .i64(Some(self.case_index))
            .str(Some(&self.case_id))
            .i64(Some(self.repeat))
            .str(Some(self.phase))
            .i64(Some(self.stage))
            .i64(Some(self.turn))
            .str(Some(&self.step_id))
            .str(Some(&self.endpoint))
            .str(Some(&self.model))
            .ts(self.sent_ns.map(|ns| started_unix_us + ns / 1000))
            .i64(Some(self.intended_ns))
            .i64(self.sent_ns)
            .i64(self.first_token_ns)
            .i64(self.first_content_ns)
            .i64(self.last_token_ns)
            .i64(self.end_ns)
            .f64(self.queue_ms())
            .f64(self.schedule_lag_ms)
            .f64(self.cap_wait_ms)
            .f64(metric(self.ttft_ms()))
            .f64(metric(self.ttfo_ms()))
            .f64(metric(self.tpot_ms()))
            .f64(metric(self.e2e_ms()))
            .f64(metric(self.e2e_from_intended_ms()))
            .f64(metric(self.gaps.itl_p50_ms))
            .f64(metric(self.gaps.itl_p99_ms))
            .f64(metric(self.gaps.icl_p50_ms))
            .f64(metric(self.gaps.icl_max_ms))
            .i64(self.prompt_tokens)
            .i64(self.completion_tokens)
            .i64(self.reasoning_tokens)
            .i64(Some(self.chunk_count))
            .i64(Some(self.token_chunk_count))
            .str(self.chunk_tokens_basis)
            .i64_list(self.token_chunk_ns.as_ref().map(|v| v.iter().copied()))
            .i64_list(
                self.token_chunk_tokens
                    .as_ref()
                    .map(|v| v.iter().map(|&t| i64::from(t))),
            )
            .i64(self.token_count_discrepancy())
            .i64(client_tokens)
            .i64(
                client_tokens
                    .zip(self.completion_tokens)
                    .map(|(c, u)| c - u),
            )
            .i64(self.http_status)
            .bool(Some(ok))
            .str(self.error_kind)
            .str(self.error_message.as_deref())
            .str(self.finish_reason.as_deref())
            .bool(self.slo_met)
            .f64(self.cost_usd)
            .str(Some(&self.output_text))
            .str((!self.reasoning_text.is_empty()).then_some(self.reasoning_text.as_str()));
    }
}

/// `cases.parquet`: one row per flow execution (case x trial x repeat).
pub fn cases_schema() -> SchemaRef {
    use DataType::*;
    Arc::new(Schema::new(vec![
        f("run_id", Utf8, false),
        f("trial_id", Utf8, false),
        f("trial_index", Int64, false),
        f("case_index", Int64, false),
        f("case_id", Utf8, false),
        f("repeat", Int64, false),
        f("phase", Utf8, false),
        f("input", Utf8, false),
        f("references", Utf8, false),
        f("answer", Utf8, true),
        f("ok", Boolean, false),
        f("error_kind", Utf8, true),
        f("steps", Int64, false),
        f("e2e_ms", Float64, true),
    ]))
}

/// One row of `cases.parquet`.
#[derive(Clone, Debug, Default)]
pub struct CaseRow {
    /// Trial id.
    pub trial_id: Arc<str>,
    /// Trial position.
    pub trial_index: i64,
    /// Execution index within the trial.
    pub case_index: i64,
    /// Dataset row id.
    pub case_id: Arc<str>,
    /// Repeat number.
    pub repeat: i64,
    /// `warmup` or `measure`.
    pub phase: &'static str,
    /// The dataset input.
    pub input: String,
    /// References as a JSON array.
    pub references_json: String,
    /// The final step's answer (None when a step failed).
    pub answer: Option<String>,
    /// Error kind of the failing step.
    pub error_kind: Option<&'static str>,
    /// Steps executed.
    pub steps: i64,
    /// First step's send to last step's last token, ms.
    pub e2e_ms: Option<f64>,
}

impl CaseRow {
    pub(crate) fn fill(&self, c: &mut Columns, run_id: &str) {
        c.str(Some(run_id))
            .str(Some(&self.trial_id))
            .i64(Some(self.trial_index))
            .i64(Some(self.case_index))
            .str(Some(&self.case_id))
            .i64(Some(self.repeat))
            .str(Some(self.phase))
            .str(Some(&self.input))
            .str(Some(&self.references_json))
            .str(self.answer.as_deref())
            .bool(Some(self.error_kind.is_none()))
            .str(self.error_kind)
            .i64(Some(self.steps))
            .f64(self.e2e_ms);
    }
}

/// `scores.parquet`: one row per measured case x scorer.
pub fn scores_schema() -> SchemaRef {
    use DataType::*;
    Arc::new(Schema::new(vec![
        f("run_id", Utf8, false),
        f("trial_id", Utf8, false),
        f("trial_index", Int64, false),
        f("case_index", Int64, false),
        f("case_id", Utf8, false),
        f("repeat", Int64, false),
        f("scorer", Utf8, false),
        f("status", Utf8, false),
        f("score", Float64, true),
        f("raw", Float64, true),
        f("reason", Utf8, true),
        f("normalizer", Utf8, true),
        f("answer", Utf8, true),
        f("extracted", Utf8, true),
        f("extraction_failed", Boolean, true),
        f("agreement", Float64, true),
    ]))
}

/// One row of `scores.parquet`.
#[derive(Clone, Debug, Default)]
pub struct ScoreRow {
    /// Trial id.
    pub trial_id: Arc<str>,
    /// Trial position.
    pub trial_index: i64,
    /// Execution index.
    pub case_index: i64,
    /// Dataset row id.
    pub case_id: Arc<str>,
    /// Repeat number.
    pub repeat: i64,
    /// Scorer name.
    pub scorer: Arc<str>,
    /// `scored`, `unscored` or `error`.
    pub status: &'static str,
    /// Score in [0, 1] (null unless scored).
    pub score: Option<f64>,
    /// Raw similarity (fuzzy).
    pub raw: Option<f64>,
    /// Why unscored, or the error kind.
    pub reason: Option<String>,
    /// Normaliser label (`squad@1`), null for scorers that do not normalise.
    pub normalizer: Option<Arc<str>>,
    /// The raw output scored (the case's answer; null when the case failed).
    pub answer: Option<Arc<str>>,
    /// The extracted text (null without extraction, or when it failed).
    pub extracted: Option<String>,
    /// Whether extraction failed (null without extraction).
    pub extraction_failed: Option<bool>,
    /// LLM judges: share of the panel's parsed votes equal to the verdict.
    pub agreement: Option<f64>,
}

impl ScoreRow {
    pub(crate) fn fill(&self, c: &mut Columns, run_id: &str) {
        c.str(Some(run_id))
            .str(Some(&self.trial_id))
            .i64(Some(self.trial_index))
            .i64(Some(self.case_index))
            .str(Some(&self.case_id))
            .i64(Some(self.repeat))
            .str(Some(&self.scorer))
            .str(Some(self.status))
            .f64(self.score)
            .f64(self.raw)
            .str(self.reason.as_deref())
            .str(self.normalizer.as_deref())
            .str(self.answer.as_deref())
            .str(self.extracted.as_deref())
            .bool(self.extraction_failed)
            .f64(self.agreement);
    }
}

/// The fixed metric columns of `configs.parquet`, in order, after the identity columns and
/// before the per-grid-key and per-scorer columns.
const CONFIG_METRICS: &[(&str, DataType)] = &[
    ("requests", DataType::Int64),
    ("ok_requests", DataType::Int64),
    ("errors", DataType::Int64),
    ("error_rate", DataType::Float64),
    ("warmup_requests", DataType::Int64),
    ("cooldown_requests", DataType::Int64),
    ("cases", DataType::Int64),
    ("not_sent", DataType::Int64),
    ("window_s", DataType::Float64),
    ("request_rate", DataType::Float64),
    ("ttft_mean_ms", DataType::Float64),
    ("ttft_p50_ms", DataType::Float64),
    ("ttft_p90_ms", DataType::Float64),
    ("ttft_p95_ms", DataType::Float64),
    ("ttft_p99_ms", DataType::Float64),
    ("tpot_mean_ms", DataType::Float64),
    ("tpot_p50_ms", DataType::Float64),
    ("tpot_p90_ms", DataType::Float64),
    ("tpot_p95_ms", DataType::Float64),
    ("tpot_p99_ms", DataType::Float64),
    ("e2e_mean_ms", DataType::Float64),
    ("e2e_p50_ms", DataType::Float64),
    ("e2e_p90_ms", DataType::Float64),
    ("e2e_p95_ms", DataType::Float64),
    ("e2e_p99_ms", DataType::Float64),
    ("itl_mean_ms", DataType::Float64),
    ("itl_p50_ms", DataType::Float64),
    ("itl_p90_ms", DataType::Float64),
    ("itl_p95_ms", DataType::Float64),
    ("itl_p99_ms", DataType::Float64),
    ("icl_mean_ms", DataType::Float64),
    ("icl_p50_ms", DataType::Float64),
    ("icl_p99_ms", DataType::Float64),
    ("queue_p50_ms", DataType::Float64),
    ("queue_p99_ms", DataType::Float64),
    ("lag_p50_ms", DataType::Float64),
    ("lag_p99_ms", DataType::Float64),
    ("lag_max_ms", DataType::Float64),
    ("cap_wait_p50_ms", DataType::Float64),
    ("cap_wait_p99_ms", DataType::Float64),
    ("target_rate", DataType::Float64),
    ("achieved_rate", DataType::Float64),
    ("client_cpu_s", DataType::Float64),
    ("client_cpu_util", DataType::Float64),
    ("input_tokens", DataType::Int64),
    ("output_tokens", DataType::Int64),
    ("token_chunks", DataType::Int64),
    ("token_count_discrepancy", DataType::Int64),
    ("chunk_tokens_basis", DataType::Utf8),
    ("output_tok_s", DataType::Float64),
    ("goodput", DataType::Float64),
    ("slo_attainment", DataType::Float64),
    ("accuracy", DataType::Float64),
    ("accuracy_ci95", DataType::Float64),
    ("scored", DataType::Int64),
    ("unscored", DataType::Int64),
    ("score_errors", DataType::Int64),
    ("cost_usd", DataType::Float64),
    ("cost_per_1k_requests_usd", DataType::Float64),
    ("cost_per_1k_cases_usd", DataType::Float64),
    ("cost_per_mtok_usd", DataType::Float64),
    ("cost_basis", DataType::Utf8),
    ("judge_calls", DataType::Int64),
    ("judge_errors", DataType::Int64),
    ("judge_input_tokens", DataType::Int64),
    ("judge_output_tokens", DataType::Int64),
    ("judge_cost_usd", DataType::Float64),
];

/// Arrow type of a grid key's column: Int64 if every value is an integer, Float64 if every
/// value is a number, Boolean if every value is a boolean, else Utf8 (strings as is, other
/// values as JSON).
pub fn grid_column_type<'a>(values: impl Iterator<Item = &'a Value>) -> DataType {
    let vals: Vec<&Value> = values.collect();
    if vals.iter().all(|v| v.is_i64()) {
        DataType::Int64
    } else if vals.iter().all(|v| v.is_number()) {
        DataType::Float64
    } else if vals.iter().all(|v| v.is_boolean()) {
        DataType::Boolean
    } else {
        DataType::Utf8
    }
}

/// `configs.parquet`: one row per trial. `grid` lists each grid key with its column type;
/// each scorer adds `score_<name>`.
pub fn configs_schema(grid: &[(String, DataType)], scorers: &[Scorer]) -> SchemaRef {
    use DataType::*;
    let mut fields = vec![
        f("run_id", Utf8, false),
        f("trial_id", Utf8, false),
        f("trial_index", Int64, false),
        f("stage", Int64, false),
        f("load", Utf8, false),
        f("params", Utf8, false),
        f("endpoint", Utf8, false),
        f("model", Utf8, false),
        f("stop_reason", Utf8, false),
        f("client_saturated", Boolean, true),
    ];
    for (k, dt) in grid {
        fields.push(f(&format!("grid_{k}"), dt.clone(), true));
    }
    for (name, dt) in CONFIG_METRICS {
        fields.push(f(name, dt.clone(), true));
    }
    for s in scorers {
        fields.push(f(&format!("score_{}", s.name), Float64, true));
    }
    for s in scorers.iter().filter(|s| s.has_extraction()) {
        fields.push(f(&format!("extraction_failed_{}", s.name), Int64, true));
    }
    Arc::new(Schema::new(fields))
}

/// One row of `configs.parquet` (metrics in [`CONFIG_METRICS`] order).
#[derive(Clone, Debug, Default)]
pub struct ConfigRow {
    /// Trial id.
    pub trial_id: String,
    /// Trial position.
    pub trial_index: i64,
    /// Stage of the arrival process (0 unless `steps`).
    pub stage: i64,
    /// The stage's load, described.
    pub load: String,
    /// Why scheduling ended.
    pub stop_reason: &'static str,
    /// The client fell behind its schedule (open loop only).
    pub client_saturated: Option<bool>,
    /// `key=value` grid description.
    pub params: String,
    /// First step's endpoint.
    pub endpoint: String,
    /// First step's model.
    pub model: String,
    /// Grid values in column order.
    pub grid: Vec<Value>,
    /// Integer metrics by name.
    pub ints: std::collections::BTreeMap<&'static str, Option<i64>>,
    /// Float metrics by name.
    pub floats: std::collections::BTreeMap<&'static str, Option<f64>>,
    /// `tokens`, `gpu_hour` or null.
    pub cost_basis: Option<&'static str>,
    /// `usage`, `chunks`, `mixed` or null (no tokens).
    pub chunk_tokens_basis: Option<&'static str>,
    /// Mean score per scorer, in scorer order.
    pub scores: Vec<Option<f64>>,
    /// Failed extractions per scorer that has an extraction stage, in scorer order.
    pub extraction_failures: Vec<Option<i64>>,
}

impl ConfigRow {
    /// Append this row to `c` (whose schema came from [`configs_schema`]).
    pub fn fill(&self, c: &mut Columns, run_id: &str, grid_types: &[(String, DataType)]) {
        c.str(Some(run_id))
            .str(Some(&self.trial_id))
            .i64(Some(self.trial_index))
            .i64(Some(self.stage))
            .str(Some(&self.load))
            .str(Some(&self.params))
            .str(Some(&self.endpoint))
            .str(Some(&self.model))
            .str(Some(self.stop_reason))
            .bool(self.client_saturated);
        for (v, (_, dt)) in self.grid.iter().zip(grid_types) {
            match dt {
                DataType::Int64 => {
                    c.i64(v.as_i64());
                }
                DataType::Float64 => {
                    c.f64(v.as_f64());
                }
                DataType::Boolean => {
                    c.bool(v.as_bool());
                }
                _ => {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    c.str(if v.is_null() { None } else { Some(&s) });
                }
            }
        }
        for (name, dt) in CONFIG_METRICS {
            match dt {
                DataType::Int64 => {
                    c.i64(self.ints.get(name).copied().flatten());
                }
                DataType::Utf8 => {
                    c.str(match *name {
                        "chunk_tokens_basis" => self.chunk_tokens_basis,
                        _ => self.cost_basis,
                    });
                }
                _ => {
                    c.f64(self.floats.get(name).copied().flatten());
                }
            }
        }
        for s in &self.scores {
            c.f64(*s);
        }
        for n in &self.extraction_failures {
            c.i64(*n);
        }
        c.end_row();
    }
}

/// Check a named query before the run against empty tables with the run's schemas: the SQL
/// must parse, stay in the supported subset and name existing tables and columns; Pareto
/// objectives must be numeric columns of its result. Returns (part, message, help) per problem.
pub fn check_query(
    sql: &str,
    pareto: Option<&ParetoSpec>,
    configs: SchemaRef,
) -> Vec<(QueryPart, String, Option<String>)> {
    let mut tables = crate::query::Tables::new();
    tables.insert("requests", requests_schema(), Vec::new());
    tables.insert("cases", cases_schema(), Vec::new());
    tables.insert("scores", scores_schema(), Vec::new());
    tables.insert("judgements", judgements_schema(), Vec::new());
    tables.insert("score_stats", score_stats_schema(), Vec::new());
    tables.insert("configs", configs, Vec::new());
    let result = match crate::query::execute(&tables, sql) {
        Ok(b) => b,
        Err(e) => {
            return vec![(
                QueryPart::Sql(e.location()),
                e.to_string(),
                Some("frontier runs a subset of SQL over the run's tables (requests, cases, scores, judgements, score_stats, configs; README, \"Queries\")".into()),
            )];
        }
    };
    let mut out = Vec::new();
    if let Some(p) = pareto {
        let schema = result.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        if p.minimize.is_empty() && p.maximize.is_empty() {
            out.push((
                QueryPart::Pareto("minimize".into()),
                "`pareto` needs at least one objective".into(),
                Some("add `minimize: [...]` and/or `maximize: [...]`".into()),
            ));
        }
        for (dir, cols) in [("minimize", &p.minimize), ("maximize", &p.maximize)] {
            for c in cols {
                match schema.field_with_name(c) {
                    Ok(f) if f.data_type().is_numeric() => {}
                    Ok(f) => out.push((
                        QueryPart::Pareto(dir.into()),
                        format!(
                            "pareto objective `{c}` is a {} column, not a number",
                            match f.data_type() {
                                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View =>
                                    "string".to_string(),
                                DataType::Boolean => "boolean".to_string(),
                                DataType::Timestamp(..) => "timestamp".to_string(),
                                DataType::List(_) | DataType::LargeList(_) => "list".to_string(),
                                other => other.to_string(),
                            }
                        ),
                        Some(format!(
                            "{dir} takes numeric columns of the query's result, such as ttft_p95_ms or accuracy"
                        )),
                    )),
                    Err(_) => out.push((
                        QueryPart::Pareto(dir.into()),
                        format!("pareto objective `{c}` is not a column of the query's result"),
                        Some(crate::spec::validate::suggestion(c, &names)),
                    )),
                }
            }
        }
    }
    out
}

/// `judgements.parquet`: one row per LLM-judge call, kept apart from the system under test's
/// `requests` (tokens and cost included).
pub fn judgements_schema() -> SchemaRef {
    use DataType::*;
    Arc::new(Schema::new(vec![
        f("run_id", Utf8, false),
        f("trial_id", Utf8, false),
        f("trial_index", Int64, false),
        f("case_index", Int64, false),
        f("case_id", Utf8, false),
        f("repeat", Int64, false),
        f("scorer", Utf8, false),
        f("judge", Utf8, false),
        f("model", Utf8, false),
        f("sample", Int64, false),
        f("grade", Float64, true),
        f("ok", Boolean, false),
        f("error_kind", Utf8, true),
        f("error_message", Utf8, true),
        f("prompt_tokens", Int64, true),
        f("completion_tokens", Int64, true),
        f("cost_usd", Float64, true),
        f("e2e_ms", Float64, true),
        f("output_text", Utf8, false),
    ]))
}

/// One row of `judgements.parquet`.
#[derive(Clone, Debug, Default)]
pub struct JudgementRow {
    /// Trial id.
    pub trial_id: Arc<str>,
    /// Trial position.
    pub trial_index: i64,
    /// Execution index of the judged case.
    pub case_index: i64,
    /// Dataset row id.
    pub case_id: Arc<str>,
    /// Repeat number.
    pub repeat: i64,
    /// The judge evaluator's name.
    pub scorer: Arc<str>,
    /// The judge's endpoint.
    pub judge: Arc<str>,
    /// The judge's model.
    pub model: Arc<str>,
    /// Sample number (0-based) of this judge on this case.
    pub sample: i64,
    /// The parsed grade on the judge's scale (null: the call failed or no grade parsed).
    pub grade: Option<f64>,
    /// The call succeeded.
    pub ok: bool,
    /// Error kind of a failed call, or `no_grade` when the output held no grade.
    pub error_kind: Option<&'static str>,
    /// Error detail.
    pub error_message: Option<String>,
    /// Server prompt tokens.
    pub prompt_tokens: Option<i64>,
    /// Server completion tokens.
    pub completion_tokens: Option<i64>,
    /// Token-priced cost of the call.
    pub cost_usd: Option<f64>,
    /// Send to last token, ms.
    pub e2e_ms: Option<f64>,
    /// The judge's output.
    pub output_text: String,
}

impl JudgementRow {
    pub(crate) fn fill(&self, c: &mut Columns, run_id: &str) {
        c.str(Some(run_id))
            .str(Some(&self.trial_id))
            .i64(Some(self.trial_index))
            .i64(Some(self.case_index))
            .str(Some(&self.case_id))
            .i64(Some(self.repeat))
            .str(Some(&self.scorer))
            .str(Some(&self.judge))
            .str(Some(&self.model))
            .i64(Some(self.sample))
            .f64(self.grade)
            .bool(Some(self.ok))
            .str(self.error_kind)
            .str(self.error_message.as_deref())
            .i64(self.prompt_tokens)
            .i64(self.completion_tokens)
            .f64(self.cost_usd)
            .f64(self.e2e_ms)
            .str(Some(&self.output_text));
    }
}

/// `score_stats.parquet`: one row per trial, stage and scorer, with intervals and the
/// repeat-based estimators (README, "Score statistics").
pub fn score_stats_schema() -> SchemaRef {
    use DataType::*;
    Arc::new(Schema::new(vec![
        f("run_id", Utf8, false),
        f("trial_id", Utf8, false),
        f("trial_index", Int64, false),
        f("stage", Int64, false),
        f("scorer", Utf8, false),
        f("scored", Int64, false),
        f("unscored", Int64, false),
        f("errors", Int64, false),
        f("mean", Float64, true),
        f("mean_ci95_low", Float64, true),
        f("mean_ci95_high", Float64, true),
        f("median", Float64, true),
        f("median_ci95_low", Float64, true),
        f("median_ci95_high", Float64, true),
        f("k", Int64, false),
        f("pass_at_k", Float64, true),
        f("pass_hat_k", Float64, true),
        f("majority", Float64, true),
        f("flip_rate", Float64, true),
        f("judge_agreement", Float64, true),
        f("extraction_failed", Int64, true),
        f("extraction_failure_rate", Float64, true),
        f("corpus_bleu", Float64, true),
        f("corpus_bleu_ci95_low", Float64, true),
        f("corpus_bleu_ci95_high", Float64, true),
    ]))
}

/// One row of `score_stats.parquet`.
#[derive(Clone, Debug, Default)]
pub struct ScoreStatRow {
    /// Trial id.
    pub trial_id: Arc<str>,
    /// Trial position.
    pub trial_index: i64,
    /// Stage.
    pub stage: i64,
    /// Scorer name.
    pub scorer: Arc<str>,
    /// The statistics.
    pub summary: crate::eval::stats::ScoreSummary,
    /// LLM judges: mean agreement of the panel over judged cases.
    pub agreement_mean: Option<f64>,
    /// BLEU scorers: corpus BLEU and its bootstrap interval.
    pub corpus_bleu: Option<(f64, Option<(f64, f64)>)>,
    /// Scorers with extraction: (cases whose extraction failed, cases it ran on).
    pub extraction: Option<(i64, i64)>,
}

impl ScoreStatRow {
    pub(crate) fn fill(&self, c: &mut Columns, run_id: &str) {
        let s = &self.summary;
        c.str(Some(run_id))
            .str(Some(&self.trial_id))
            .i64(Some(self.trial_index))
            .i64(Some(self.stage))
            .str(Some(&self.scorer))
            .i64(Some(s.scored))
            .i64(Some(s.unscored))
            .i64(Some(s.errors))
            .f64(s.mean)
            .f64(s.mean_ci95.map(|c| c.0))
            .f64(s.mean_ci95.map(|c| c.1))
            .f64(s.median)
            .f64(s.median_ci95.map(|c| c.0))
            .f64(s.median_ci95.map(|c| c.1))
            .i64(Some(s.k))
            .f64(s.pass_at_k)
            .f64(s.pass_hat_k)
            .f64(s.majority)
            .f64(s.flip_rate)
            .f64(self.agreement_mean)
            .i64(self.extraction.map(|e| e.0))
            .f64(
                self.extraction
                    .and_then(|(failed, ran)| (ran > 0).then(|| failed as f64 / ran as f64)),
            )
            .f64(self.corpus_bleu.map(|b| b.0))
            .f64(self.corpus_bleu.and_then(|b| b.1).map(|c| c.0))
            .f64(self.corpus_bleu.and_then(|b| b.1).map(|c| c.1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_tokens_count_content_reasoning_and_tool_call_text() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let t = Arc::new(
            crate::plan::tokenizer::HfTokenizer::load(&dir, "tokenizer-wordpiece.json").unwrap(),
        );
        let count = |s: &str| t.count_text(s) as i64;
        let mut row = RequestRow {
            output_text: "the answer".into(),
            client_tokenizer: Some(t.clone()),
            ..RequestRow::default()
        };
        assert_eq!(row.client_tokens(), Some(count("the answer")));
        row.reasoning_text = "let me think".into();
        row.tool_text = "get_weather{\"city\": \"Paris\"}".into();
        let want = count("the answer") + count("let me think") + count(&row.tool_text);
        assert!(count(&row.tool_text) > 0);
        assert_eq!(row.client_tokens(), Some(want));
        row.client_tokenizer = None;
        assert_eq!(row.client_tokens(), None);
    }
}
