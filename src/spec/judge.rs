//! The LLM-judge evaluator as written (`evaluators: - llm_judge: {...}`). The protocol (nonce
//! blocks, last-match grades, votes) is [`crate::eval::judge`]; README, "LLM judges".

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An LLM judge: each measured case's answer is graded by one or more judge endpoints, each
/// asked `samples` times, with a rubric; the grades are put to a majority vote.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JudgeScorer {
    /// Name in `scores.scorer`, `judgements.scorer` and `configs.score_<name>`. Default
    /// `llm_judge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The judge endpoint(s): names from `endpoints:`. Several make a panel whose grades are
    /// voted on together.
    pub judges: Vec<String>,
    /// The rubric, a minijinja template sent as the user message. In scope: `question`,
    /// `answer`, `reference` (the first), `references` (all) and `contexts` (the row's
    /// `contexts` field, if any), each already wrapped in nonce-tagged blocks
    /// (`<answer-NONCE>...</answer-NONCE>`), and `item` (the dataset row).
    pub rubric: String,
    /// Regular expression whose *last* match in the judge's output gives the grade (its first
    /// capture group, parsed as a number). Default `(?i)grade\s*:\s*(-?\d+(?:\.\d+)?)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The grade scale `[min, max]`, mapped linearly to a score in [0, 1]. Default `[0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<[f64; 2]>,
    /// Score 1 when the voted grade, mapped to [0, 1], reaches this; 0 otherwise. Without it
    /// the mapped grade is the score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<f64>,
    /// Calls per judge and case (sample `i` is sent with seed `seed + i`). Default 1.
    #[serde(default = "one")]
    pub samples: u32,
    /// Sampling temperature of the judge. Default 0.
    #[serde(default)]
    pub temperature: f64,
    /// Seed sent to the judge (pinned so that grades are reproducible). Default 0.
    #[serde(default)]
    pub seed: i64,
    /// `max_tokens` of each judge call. Default 512.
    #[serde(default = "default_judge_tokens")]
    pub max_tokens: u32,
    /// Judge calls in flight at once. Default 8.
    #[serde(default = "default_judge_concurrency")]
    pub concurrency: u32,
}

fn one() -> u32 {
    1
}

fn default_judge_tokens() -> u32 {
    512
}

fn default_judge_concurrency() -> u32 {
    8
}
