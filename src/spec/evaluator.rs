//! Evaluators as written: scorers, their normalisers and their extraction stage.
//!
//! The meaning of every scorer, normaliser and extractor is written down in the README
//! ("Scorers"); [`crate::eval`] implements it. These types only describe the YAML.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A scorer, or `use:` of named evaluators. The key picks the kind.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EvaluatorSpec {
    /// 1 when the normalised answer equals a normalised reference, else 0.
    Exact(TextScorer),
    /// SQuAD token F1 (multiset overlap of whitespace tokens) against the best reference.
    TokenF1(TextScorer),
    /// 1 when a normalised reference occurs in the normalised answer on word boundaries.
    Contains(TextScorer),
    /// `contains`, ignoring case (both sides lowercased after normalising).
    Icontains(TextScorer),
    /// 1 when the normalised answer starts with a normalised reference (ending on a word
    /// boundary).
    StartsWith(TextScorer),
    /// 1 when the (extracted) answer matches a regular expression; needs no reference.
    Regex(RegexScorer),
    /// 1 when a string similarity (strsim) to the best reference reaches the threshold; the
    /// similarity is kept in `scores.raw`.
    Fuzzy(FuzzyScorer),
    /// 1 when the answer's number equals a reference number within a tolerance; `scores.raw`
    /// holds the smallest absolute difference.
    Numeric(NumericScorer),
    /// 1 when the (extracted) answer is valid JSON (a ```json fence is tolerated); needs no
    /// reference.
    JsonValid(BasicScorer),
    /// 1 when the (extracted) answer's JSON conforms to a JSON Schema (the subset in the README);
    /// needs no reference.
    JsonSchema(JsonSchemaScorer),
    /// ROUGE-L F-measure (longest common subsequence of lowercase alphanumeric words) against
    /// the best reference.
    RougeL(BasicScorer),
    /// Sentence BLEU-4 (13a tokenisation, add-one smoothing) against all references.
    Bleu(BasicScorer),
    /// Multiple choice: the letter A-E found in the answer equals the reference letter.
    Choice(BasicScorer),
    /// An LLM judge grades the answer with a rubric (README, "LLM judges").
    LlmJudge(super::judge::JudgeScorer),
    /// Named evaluators from `evaluators/<name>.yaml` (searched upward from the pipeline's
    /// folder), or from a YAML file given by a path relative to the pipeline (`./x.yaml`).
    Use(String),
}

/// A scorer over normalised text.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TextScorer {
    /// Name in `scores.scorer` and `configs.score_<name>`. Defaults to the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Normaliser applied to the answer and the references. Default `squad`.
    #[serde(default)]
    pub normalize: NormalizeSpec,
    /// Extraction applied to the answer before normalising (references are used as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExtractSpec>,
}

/// A scorer without options of its own.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BasicScorer {
    /// Name in `scores.scorer` and `configs.score_<name>`. Defaults to the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Extraction applied to the answer before scoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExtractSpec>,
}

/// A regular-expression scorer.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegexScorer {
    /// Name in `scores.scorer` and `configs.score_<name>`. Defaults to `regex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Pattern (Rust `regex` syntax) searched anywhere in the answer; anchor it with `^...$`
    /// for a full match. `(?i)` ignores case.
    pub pattern: String,
    /// Extraction applied to the answer before matching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExtractSpec>,
}

/// A fuzzy scorer.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FuzzyScorer {
    /// Name in `scores.scorer` and `configs.score_<name>`. Defaults to `fuzzy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Similarity measure.
    #[serde(default)]
    pub metric: FuzzyMetric,
    /// Similarity at or above which the answer scores 1 (else 0). The raw similarity is kept
    /// in `scores.raw`.
    pub threshold: f64,
    /// Normaliser applied before comparing. Default `squad`.
    #[serde(default)]
    pub normalize: NormalizeSpec,
    /// Extraction applied to the answer before normalising.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExtractSpec>,
}

/// A numeric scorer.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NumericScorer {
    /// Name in `scores.scorer` and `configs.score_<name>`. Defaults to `numeric`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Accepted difference. Default: equal values only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Tolerance>,
    /// Extraction applied to the answer before parsing its number (often `last_number`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExtractSpec>,
}

/// Accepted difference between the answer's number `a` and a reference `r`:
/// `|a - r| <= max(abs, rel * |r|)`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    /// Absolute tolerance (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abs: Option<f64>,
    /// Relative tolerance, a fraction of the reference (0.01 = 1%; default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel: Option<f64>,
}

/// A JSON Schema scorer.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonSchemaScorer {
    /// Name in `scores.scorer` and `configs.score_<name>`. Defaults to `json_schema`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The schema: a mapping written inline, or the path of a JSON (or YAML) file relative to
    /// the file that declares this evaluator.
    pub schema: serde_json::Value,
    /// Extraction applied to the answer before parsing it as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExtractSpec>,
}

/// A normaliser: a name, or `{ lm_eval: { options } }`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum NormalizeSpec {
    /// A normaliser by name (`lm_eval` alone means lm-eval with every option off).
    Named(NormalizerName),
    /// lm-evaluation-harness `exact_match` options.
    LmEval(LmEvalNormalizer),
}

impl Default for NormalizeSpec {
    fn default() -> Self {
        NormalizeSpec::Named(NormalizerName::Squad)
    }
}

/// Named normalisers (each versioned; `scores.normalizer` records e.g. `squad@1`).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NormalizerName {
    /// SQuAD v1.1: lowercase, remove ASCII punctuation, remove the articles a/an/the, collapse
    /// whitespace.
    #[default]
    Squad,
    /// lm-evaluation-harness `exact_match` with every option off: the text as given.
    LmEval,
    /// Remove leading and trailing whitespace.
    Strip,
    /// The text as given.
    None,
}

/// `lm_eval` with options.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LmEvalNormalizer {
    /// The options.
    pub lm_eval: LmEvalOptions,
}

/// lm-evaluation-harness `exact_match` options, applied in this order: regexes, case,
/// punctuation, digits. Whitespace is not collapsed and articles are kept.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LmEvalOptions {
    /// Remove every match of each pattern (in order), before anything else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regexes_to_ignore: Vec<String>,
    /// Lowercase.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_case: bool,
    /// Remove ASCII punctuation (Python's `string.punctuation`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_punctuation: bool,
    /// Remove the digits 0-9.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_numbers: bool,
}

/// strsim similarity measures (all in [0, 1]).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FuzzyMetric {
    /// Jaro-Winkler similarity.
    #[default]
    JaroWinkler,
    /// 1 - normalised Levenshtein distance.
    Levenshtein,
    /// 1 - normalised Damerau-Levenshtein distance (transpositions count as one edit).
    Damerau,
    /// Sørensen-Dice coefficient over character bigrams.
    SorensenDice,
}

/// Extraction: what part of the answer is scored. A failed extraction makes the score
/// `unscored` with reason `extraction_failed`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExtractSpec {
    /// The last number in the answer (sign, currency symbol, thousands separators, decimals
    /// and a percent sign included).
    LastNumber,
    /// A regular expression's match or capture group.
    Regex(RegexExtract),
    /// The text after the last occurrence of this marker, up to the end of its line, trimmed.
    After(String),
    /// A path such as `$.answer.items[0]` into the JSON found in the answer.
    JsonPath(String),
}

/// Regex extraction.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegexExtract {
    /// Pattern (Rust `regex` syntax).
    pub pattern: String,
    /// Capture group: an index or a name. Default: 1 when the pattern has a group, else the
    /// whole match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupSpec>,
    /// Which match to take when there are several. Default `first`.
    #[serde(default, rename = "match")]
    pub match_: MatchPolicy,
}

/// A capture group by index or name.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum GroupSpec {
    /// Group index (0 = the whole match).
    Index(u32),
    /// Group name (`(?P<name>...)`).
    Name(String),
}

/// Which of several matches to take.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MatchPolicy {
    /// The first match.
    #[default]
    First,
    /// The last match.
    Last,
}

impl EvaluatorSpec {
    /// The kind's key as written (`exact`, `token_f1`, ...), also the default name.
    pub fn kind(&self) -> &'static str {
        match self {
            EvaluatorSpec::Exact(_) => "exact",
            EvaluatorSpec::TokenF1(_) => "token_f1",
            EvaluatorSpec::Contains(_) => "contains",
            EvaluatorSpec::Icontains(_) => "icontains",
            EvaluatorSpec::StartsWith(_) => "starts_with",
            EvaluatorSpec::Regex(_) => "regex",
            EvaluatorSpec::Fuzzy(_) => "fuzzy",
            EvaluatorSpec::Numeric(_) => "numeric",
            EvaluatorSpec::JsonValid(_) => "json_valid",
            EvaluatorSpec::JsonSchema(_) => "json_schema",
            EvaluatorSpec::RougeL(_) => "rouge_l",
            EvaluatorSpec::Bleu(_) => "bleu",
            EvaluatorSpec::Choice(_) => "choice",
            EvaluatorSpec::LlmJudge(_) => "llm_judge",
            EvaluatorSpec::Use(_) => "use",
        }
    }

    /// Whether the scorer measures the answer against the case's references, so that a case
    /// without any is `unscored` (`no_reference`): every kind but `regex`, `json_valid`,
    /// `json_schema` and `llm_judge` (whose rubric may show references but grades without
    /// them). `use:` is not a scorer.
    pub fn needs_reference(&self) -> bool {
        !matches!(
            self,
            EvaluatorSpec::Regex(_)
                | EvaluatorSpec::JsonValid(_)
                | EvaluatorSpec::JsonSchema(_)
                | EvaluatorSpec::LlmJudge(_)
                | EvaluatorSpec::Use(_)
        )
    }
}

/// A file of named evaluators (`evaluators/<name>.yaml`), used from a pipeline with
/// `- use: <name>`. Its entries are added to the pipeline's evaluators in order.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvaluatorFile {
    /// Free text: what these evaluators measure and when to use them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The evaluator entries (`use:` is not allowed inside an evaluator file).
    pub evaluators: Vec<EvaluatorSpec>,
}
