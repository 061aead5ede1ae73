//! Synthetic datasets as written: prompts generated to token lengths drawn from seeded
//! distributions, optionally in groups that share a system prompt (for prefix-cache studies).
//! The generator is [`crate::plan::synthetic`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A dataset of generated prompts: `synthetic: { count, input_tokens, output_tokens, ... }`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyntheticDatasetSpec {
    /// Prompts generated to token lengths drawn from seeded distributions. Each row is
    /// `item.input` (the prompt text), `item.input_tokens`, `item.output_tokens`, and with
    /// `prefix` also `item.prefix` (the group's shared system prompt), `item.prefix_tokens` and
    /// `item.prefix_group`.
    pub synthetic: SyntheticSpec,
}

/// How synthetic prompts are generated. The same spec and seed give the same rows.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyntheticSpec {
    /// Distinct prompts (rows). Cases cycle through them, so more requests than rows repeat
    /// prompts (see `nonce`).
    pub count: u32,
    /// Tokens of each row's `item.input`, not counting the shared prefix: `{fixed: N}`,
    /// `{uniform: {min, max}}`, `{normal: {mean, stddev, min, max}}` or
    /// `{empirical: {values, weights}}`.
    pub input_tokens: LengthSpec,
    /// Completion tokens each row asks for: sent as the request's `max_tokens` (overriding
    /// the step's), and `item.output_tokens` in templates. Same forms as `input_tokens`.
    pub output_tokens: LengthSpec,
    /// Shared system prompts: row i belongs to group `i mod groups`, and every row of a group
    /// has the same `item.prefix` text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<PrefixSpec>,
    /// Cache busting: the first words of `item.input` (up to 8 tokens, within
    /// `input_tokens`) are replaced by a nonce unique to each execution (derived from
    /// `workload.seed`, the trial id and the execution index), so repeated rows never hit a
    /// prefix cache beyond the shared prefix.
    #[serde(default)]
    pub nonce: bool,
    /// Send vLLM's and SGLang's `ignore_eos: true` with every request, so the server generates
    /// exactly `output_tokens` (servers without the extension may reject or ignore it).
    #[serde(default)]
    pub ignore_eos: bool,
    /// Seed of the lengths and texts. Defaults to `workload.seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// A Hugging Face `tokenizer.json` (the model's, read locally; path relative to the
    /// pipeline file). Texts are then built to exactly `input_tokens` and `prefix.tokens`
    /// tokens of this tokenizer (without special tokens; a nonce keeps the count). Without
    /// it, lengths are exact under the simulated engine's `ceil(bytes / 4)` and approximate
    /// for real models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
}

/// A distribution of token lengths. Draws are rounded to whole tokens and are at least 1.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LengthSpec {
    /// Always this many tokens.
    Fixed(u32),
    /// Uniform over the integers `min..=max`.
    Uniform(UniformLength),
    /// Normal with `mean` and `stddev`, rounded and clipped to `[min, max]` (draws outside
    /// are set to the bound, not redrawn).
    Normal(NormalLength),
    /// One of `values`, drawn with probability proportional to `weights` (equal without
    /// weights): for example the lengths of a real workload.
    Empirical(EmpiricalLength),
}

/// Uniform token lengths.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UniformLength {
    /// Smallest length (inclusive, at least 1).
    pub min: u32,
    /// Largest length (inclusive).
    pub max: u32,
}

/// Normal token lengths, clipped.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NormalLength {
    /// Mean in tokens.
    pub mean: f64,
    /// Standard deviation in tokens (0 gives the mean every time).
    pub stddev: f64,
    /// Lower clip (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    /// Upper clip (default: mean + 8 stddev rounded up, at most 1048576).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

/// Token lengths drawn from a list.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmpiricalLength {
    /// The lengths (each at least 1).
    pub values: Vec<u32>,
    /// Relative weight of each value (non-negative, same length as `values`). Default: equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
}

/// Groups of rows sharing a system prompt.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrefixSpec {
    /// Number of distinct shared prefixes.
    pub groups: u32,
    /// Tokens of each shared prefix.
    pub tokens: u32,
}
