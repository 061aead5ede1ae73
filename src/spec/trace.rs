//! Trace replay as written: a JSON Lines file of timestamped requests (arrival time, prompt
//! and output lengths, optional prompt text), replayed at its own pace or faster. The reader
//! is [`crate::plan::trace`]; the arrival process (`workload.arrival: {trace: ...}`) takes
//! this struct.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A request trace: one JSON object per line with an arrival time and token lengths, e.g.
/// Mooncake's `{"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids":
/// [...]}`. Requests are sent at the recorded times (relative to the first record, divided by
/// `speedup`) with the recorded lengths.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TraceSpec {
    /// Path to the `.jsonl` trace, relative to the pipeline file.
    pub path: String,
    /// Replay this many times faster than recorded (2 halves every gap). Default 1.
    #[serde(default = "one_f64")]
    pub speedup: f64,
    /// Field holding the arrival time. Default `timestamp`.
    #[serde(default = "default_time_field")]
    pub time_field: String,
    /// Unit of the arrival time: `ms` (default, as in Mooncake traces) or `s`.
    #[serde(default)]
    pub time_unit: TimeUnit,
    /// Field holding the prompt length in tokens. Default `input_length`. Optional in records
    /// that carry their prompt text in `content_field`.
    #[serde(default = "default_input_field")]
    pub input_field: String,
    /// Field holding the completion length in tokens, sent as `max_tokens`. Default
    /// `output_length`.
    #[serde(default = "default_output_field")]
    pub output_field: String,
    /// Field holding the prompt text. Records that have it are sent as written; the others get
    /// generated text of their prompt length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_field: Option<String>,
    /// Field holding a list of prompt block ids (Mooncake's `hash_ids`): records sharing a
    /// leading run of ids share that prefix of their generated prompts, as they did in the
    /// traced system's prefix cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_ids_field: Option<String>,
    /// Tokens per block id in `hash_ids_field` (Mooncake uses 512). Default 512.
    #[serde(default = "default_block_tokens")]
    pub block_tokens: u32,
    /// Send `ignore_eos: true` (vLLM, SGLang) so servers generate exactly the recorded output
    /// lengths.
    #[serde(default)]
    pub ignore_eos: bool,
    /// Replay only the first N records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// At most this many cases in flight; waiting for a place is recorded (`cap_wait_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<super::Templated<u32>>,
    /// A Hugging Face `tokenizer.json` (the model's, read locally; path relative to the
    /// pipeline file). Generated prompts are then built to exactly their recorded length in
    /// this tokenizer's tokens (without special tokens), and records with text but no length
    /// are counted with it. Without it, lengths are exact under the simulated engine's
    /// `ceil(bytes / 4)` and approximate for real models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
}

/// Unit of trace timestamps.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Milliseconds.
    #[default]
    Ms,
    /// Seconds.
    S,
}

impl TimeUnit {
    /// Seconds per unit.
    pub fn seconds(self) -> f64 {
        match self {
            TimeUnit::Ms => 1e-3,
            TimeUnit::S => 1.0,
        }
    }
}

impl TraceSpec {
    /// A spec for `path` with every other field at its default.
    pub fn new(path: impl Into<String>) -> Self {
        TraceSpec {
            path: path.into(),
            speedup: 1.0,
            time_field: default_time_field(),
            time_unit: TimeUnit::Ms,
            input_field: default_input_field(),
            output_field: default_output_field(),
            content_field: None,
            hash_ids_field: None,
            block_tokens: default_block_tokens(),
            ignore_eos: false,
            limit: None,
            max_concurrency: None,
            tokenizer: None,
        }
    }
}

fn one_f64() -> f64 {
    1.0
}

fn default_time_field() -> String {
    "timestamp".into()
}

fn default_input_field() -> String {
    "input_length".into()
}

fn default_output_field() -> String {
    "output_length".into()
}

fn default_block_tokens() -> u32 {
    512
}
