//! Scoring answers against references with named scorers and normalisers.
//!
//! Each scorer has one written meaning (README, "Scorers"): `exact` with the `squad` normaliser
//! is SQuAD v1.1's exact match, `token_f1` its multiset token F1, and so on. Scoring a case is
//! three stages: extraction ([`extract`]: which part of the answer is scored), normalisation
//! ([`normalize`]: named and versioned, recorded on every row) and the measure ([`scorers`]).
//!
//! Every outcome has a status. A case that failed is `error`; a case that cannot be scored
//! (no reference, nothing extracted, no number, ...) is `unscored` with a reason; neither is
//! ever turned into 0 or 1, and a measure that is not a finite number in [0, 1] is never
//! stored as a score. Accuracy is the mean over scored cases only.

pub mod extract;
pub mod json_schema;
pub mod judge;
pub mod normalize;
pub mod scorers;
pub mod stats;

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

pub use extract::Extractor;
pub use json_schema::Schema;
pub use normalize::Normalizer;
pub use scorers::BleuStats;

use crate::spec::{EvaluatorSpec, ExtractSpec, FuzzyMetric, NormalizeSpec};

/// Reasons stored in `scores.reason` for `unscored` rows.
pub mod reason {
    /// The case has no reference (and the scorer needs one).
    pub const NO_REFERENCE: &str = "no_reference";
    /// The extraction stage found nothing.
    pub const EXTRACTION_FAILED: &str = "extraction_failed";
    /// `numeric`: the answer is not a number.
    pub const NOT_A_NUMBER: &str = "not_a_number";
    /// `numeric`: no reference is a number.
    pub const REFERENCE_NOT_A_NUMBER: &str = "reference_not_a_number";
    /// `json_schema`: the answer is not JSON.
    pub const INVALID_JSON: &str = "invalid_json";
    /// `choice`: no choice letter in the answer.
    pub const NO_CHOICE: &str = "no_choice";
    /// `choice`: no reference is a choice letter.
    pub const REFERENCE_NOT_A_CHOICE: &str = "reference_not_a_choice";
    /// The measure was not a finite number in [0, 1] (a bug; never stored as a score).
    pub const NOT_FINITE: &str = "not_finite";
}

/// A ready-to-run scorer.
#[derive(Clone, Debug)]
pub struct Scorer {
    /// Name in `scores.scorer` and `configs.score_<name>`.
    pub name: String,
    kind: Kind,
    normalizer: Option<Normalizer>,
    /// `scores.normalizer` value (null for scorers that do not normalise).
    label: Option<Arc<str>>,
    extractor: Option<Extractor>,
}

impl PartialEq for Scorer {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.label == other.label
    }
}

#[derive(Clone, Debug)]
enum Kind {
    Exact,
    TokenF1,
    Contains,
    IContains,
    StartsWith,
    Regex(regex::Regex),
    Fuzzy {
        metric: FuzzyMetric,
        threshold: f64,
    },
    Numeric {
        abs: f64,
        rel: f64,
    },
    JsonValid,
    JsonSchema(Box<Schema>),
    RougeL,
    Bleu,
    Choice,
    /// Graded by an LLM judge after the trial (`crate::exec::judge`), not here.
    Judge,
}

/// The outcome of scoring one case.
#[derive(Clone, Debug, PartialEq)]
pub enum Score {
    /// A score in [0, 1]; `raw` is the underlying measure where it differs (fuzzy similarity,
    /// numeric difference).
    Scored {
        /// The score.
        value: f64,
        /// Raw measure before thresholding.
        raw: Option<f64>,
    },
    /// Not scorable; the reason is stored (see [`reason`]).
    Unscored(&'static str),
    /// The case failed; the error kind is stored.
    Error(String),
}

/// A score with what the extraction stage did.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The score.
    pub score: Score,
    /// The extracted text (`None` when the scorer has no extraction or it failed).
    pub extracted: Option<String>,
    /// The scorer has an extraction stage and it found nothing (`None` without extraction).
    pub extraction_failed: Option<bool>,
    /// `bleu` scorers: the case's n-gram counts, kept so that corpus BLEU sums them without
    /// tokenising and counting the answer again (`None` for other scorers and unscored cases).
    pub bleu: Option<Box<BleuStats>>,
}

/// A problem with an evaluator entry: the key path below the entry's kind (e.g.
/// `["extract", "regex"]`) and the message.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecError {
    /// Keys below `evaluators[i].<kind>`.
    pub keys: Vec<String>,
    /// What is wrong.
    pub message: String,
}

/// Scratch buffers reused across calls on one thread.
#[derive(Default)]
struct Scratch {
    answer: Memo,
    reference: Memo,
    bufs: normalize::Buffers,
}

/// The last text normalised into this slot, by which normaliser, and the result: several
/// scorers with the same normaliser on one case (EM and F1) normalise each text once.
#[derive(Default)]
struct Memo {
    input: String,
    label: Option<Arc<str>>,
    output: String,
}

impl Memo {
    fn normalize(
        &mut self,
        n: &Normalizer,
        label: &Option<Arc<str>>,
        text: &str,
        bufs: &mut normalize::Buffers,
    ) -> &str {
        if self.label.is_none() || self.label != *label || self.input != text {
            n.apply_into(text, &mut self.output, bufs);
            self.input.clear();
            self.input.push_str(text);
            self.label.clone_from(label);
        }
        &self.output
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Scorer {
    /// Build from one (non-`use`) evaluator entry. `base_dir` resolves schema file paths (the
    /// folder of the file that declared the entry).
    pub fn build(spec: &EvaluatorSpec, base_dir: &Path) -> Result<Scorer, Vec<SpecError>> {
        let mut errors = Vec::new();
        let err = |keys: &[&str], message: String| SpecError {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            message,
        };
        let mut normalizer = None;
        let mut normalize =
            |n: &NormalizeSpec, errors: &mut Vec<SpecError>| match Normalizer::from_spec(n) {
                Ok(n) => normalizer = Some(n),
                Err((i, m)) => errors.push(SpecError {
                    keys: vec![
                        "normalize".into(),
                        "lm_eval".into(),
                        "regexes_to_ignore".into(),
                        format!("[{i}]"),
                    ],
                    message: m,
                }),
            };
        let (name, extract, kind): (&Option<String>, &Option<ExtractSpec>, Kind) = match spec {
            EvaluatorSpec::Exact(s)
            | EvaluatorSpec::TokenF1(s)
            | EvaluatorSpec::Contains(s)
            | EvaluatorSpec::Icontains(s)
            | EvaluatorSpec::StartsWith(s) => {
                normalize(&s.normalize, &mut errors);
                let kind = match spec {
                    EvaluatorSpec::Exact(_) => Kind::Exact,
                    EvaluatorSpec::TokenF1(_) => Kind::TokenF1,
                    EvaluatorSpec::Contains(_) => Kind::Contains,
                    EvaluatorSpec::Icontains(_) => Kind::IContains,
                    _ => Kind::StartsWith,
                };
                (&s.name, &s.extract, kind)
            }
            EvaluatorSpec::Fuzzy(f) => {
                normalize(&f.normalize, &mut errors);
                if !(0.0..=1.0).contains(&f.threshold) {
                    errors.push(err(
                        &["threshold"],
                        format!("threshold {} is outside [0, 1]", f.threshold),
                    ));
                }
                (
                    &f.name,
                    &f.extract,
                    Kind::Fuzzy {
                        metric: f.metric,
                        threshold: f.threshold,
                    },
                )
            }
            EvaluatorSpec::Regex(r) => {
                let kind = match regex::Regex::new(&r.pattern) {
                    Ok(re) => Kind::Regex(re),
                    Err(e) => {
                        errors.push(err(&["pattern"], normalize::regex_error(&e)));
                        Kind::Exact
                    }
                };
                (&r.name, &r.extract, kind)
            }
            EvaluatorSpec::Numeric(n) => {
                let t = n.tolerance.clone().unwrap_or_default();
                let (abs, rel) = (t.abs.unwrap_or(0.0), t.rel.unwrap_or(0.0));
                for (k, v) in [("abs", abs), ("rel", rel)] {
                    if !(v.is_finite() && v >= 0.0) {
                        errors.push(err(
                            &["tolerance", k],
                            format!("tolerance `{k}` must be a finite number >= 0, found {v}"),
                        ));
                    }
                }
                (&n.name, &n.extract, Kind::Numeric { abs, rel })
            }
            EvaluatorSpec::JsonSchema(j) => {
                let kind = match load_schema(&j.schema, base_dir) {
                    Ok(s) => Kind::JsonSchema(Box::new(s)),
                    Err(m) => {
                        errors.push(err(
                            &["schema"],
                            format!("{m} (a schema path is relative to the file that declares the evaluator)"),
                        ));
                        Kind::JsonValid
                    }
                };
                (&j.name, &j.extract, kind)
            }
            EvaluatorSpec::JsonValid(b) => (&b.name, &b.extract, Kind::JsonValid),
            EvaluatorSpec::RougeL(b) => (&b.name, &b.extract, Kind::RougeL),
            EvaluatorSpec::Bleu(b) => (&b.name, &b.extract, Kind::Bleu),
            EvaluatorSpec::Choice(b) => (&b.name, &b.extract, Kind::Choice),
            EvaluatorSpec::LlmJudge(j) => (&j.name, &None, Kind::Judge),
            EvaluatorSpec::Use(_) => {
                return Err(vec![err(
                    &[],
                    "`use:` entries are resolved by the plan, not built as scorers".into(),
                )]);
            }
        };
        let extractor = match extract.as_ref().map(Extractor::from_spec) {
            None => None,
            Some(Ok(x)) => Some(x),
            Some(Err((key, message))) => {
                let mut keys = vec!["extract"];
                keys.extend(key.split('.'));
                errors.push(err(&keys, message));
                None
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let label = match (&kind, &normalizer) {
            (_, Some(n)) => Some(n.label()),
            // Fixed tokenisations, recorded so that the row says how the text was read.
            (Kind::RougeL, None) => Some(format!("rouge_words@{}", normalize::VERSION)),
            (Kind::Bleu, None) => Some(format!("13a@{}", normalize::VERSION)),
            _ => None,
        };
        Ok(Scorer {
            name: name.clone().unwrap_or_else(|| spec.kind().to_string()),
            kind,
            normalizer,
            label: label.map(Arc::from),
            extractor,
        })
    }

    /// Build from a spec known to be valid (tests, benchmarks). Panics on an invalid spec.
    pub fn from_spec(spec: &EvaluatorSpec) -> Scorer {
        Scorer::build(spec, Path::new(".")).unwrap_or_else(|e| panic!("invalid evaluator: {e:?}"))
    }

    /// The `scores.normalizer` label (`squad@1`, ...), or `None` for scorers that do not
    /// normalise.
    pub fn normalizer_label(&self) -> Option<&Arc<str>> {
        self.label.as_ref()
    }

    /// `name (kind, normaliser, extract: how)` for `frontier plan`.
    pub fn describe(&self) -> String {
        let mut parts = vec![self.kind_name().to_string()];
        if let Some(l) = &self.label {
            parts.push(l.to_string());
        }
        if let Some(x) = &self.extractor {
            parts.push(format!("extract: {}", x.kind_name()));
        }
        format!("{} ({})", self.name, parts.join(", "))
    }

    fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Exact => "exact",
            Kind::TokenF1 => "token_f1",
            Kind::Contains => "contains",
            Kind::IContains => "icontains",
            Kind::StartsWith => "starts_with",
            Kind::Regex(_) => "regex",
            Kind::Fuzzy { .. } => "fuzzy",
            Kind::Numeric { .. } => "numeric",
            Kind::JsonValid => "json_valid",
            Kind::JsonSchema(_) => "json_schema",
            Kind::RougeL => "rouge_l",
            Kind::Bleu => "bleu",
            Kind::Choice => "choice",
            Kind::Judge => "llm_judge",
        }
    }

    /// Whether this scorer has an extraction stage (and so a
    /// `configs.extraction_failed_<name>` column).
    pub fn has_extraction(&self) -> bool {
        self.extractor.is_some()
    }

    fn needs_reference(&self) -> bool {
        !matches!(
            self.kind,
            Kind::Regex(_) | Kind::JsonValid | Kind::JsonSchema(_)
        )
    }

    /// Score `answer` against `references` (the best reference wins), with extraction. A
    /// `choice` scorer records the letter it read as the extracted value.
    pub fn score_case(&self, answer: &str, references: &[String]) -> Outcome {
        let choice = |text: &str| {
            matches!(self.kind, Kind::Choice)
                .then(|| scorers::find_choice(text).map(String::from))
                .flatten()
        };
        let Some(x) = &self.extractor else {
            let (score, bleu) = self.measure(answer, references);
            return Outcome {
                score,
                extracted: choice(answer),
                extraction_failed: None,
                bleu,
            };
        };
        match x.extract(answer) {
            None => Outcome {
                score: Score::Unscored(reason::EXTRACTION_FAILED),
                extracted: None,
                extraction_failed: Some(true),
                bleu: None,
            },
            Some(text) => {
                let (score, bleu) = self.measure(&text, references);
                Outcome {
                    score,
                    extracted: Some(choice(&text).unwrap_or_else(|| text.into_owned())),
                    extraction_failed: Some(false),
                    bleu,
                }
            }
        }
    }

    /// Whether this scorer is sentence BLEU (so `score_stats` also gets corpus BLEU).
    pub fn is_bleu(&self) -> bool {
        matches!(self.kind, Kind::Bleu)
    }

    /// Whether this scorer is an LLM judge (graded after the trial by its judges).
    pub fn is_judge(&self) -> bool {
        matches!(self.kind, Kind::Judge)
    }

    /// Score already extracted text against `references` (the best reference wins).
    pub fn score(&self, answer: &str, references: &[String]) -> Score {
        checked(self.raw_score(answer, references))
    }

    /// [`Scorer::score`] with a `bleu` scorer's n-gram counts (kept for corpus BLEU).
    fn measure(&self, answer: &str, references: &[String]) -> (Score, Option<Box<BleuStats>>) {
        if self.is_bleu() && !references.is_empty() {
            let stats = scorers::bleu_stats(answer, references);
            let score = checked(Score::Scored {
                value: stats.smoothed_bleu(),
                raw: None,
            });
            let kept = matches!(score, Score::Scored { .. }).then(|| Box::new(stats));
            return (score, kept);
        }
        (self.score(answer, references), None)
    }

    /// The measure before [`checked`]: may be NaN or outside [0, 1] only through a bug, which
    /// the property tests look for here (after `checked` such a value is `Unscored`).
    fn raw_score(&self, answer: &str, references: &[String]) -> Score {
        if self.is_judge() {
            return Score::Unscored("judge_pending");
        }
        if references.is_empty() && self.needs_reference() {
            return Score::Unscored(reason::NO_REFERENCE);
        }
        match &self.normalizer {
            Some(n) => SCRATCH.with(|s| {
                let mut s = s.borrow_mut();
                let Scratch {
                    answer: a,
                    reference: r,
                    bufs,
                } = &mut *s;
                let a = a.normalize(n, &self.label, answer, bufs);
                let mut best = f64::NEG_INFINITY;
                for reference in references {
                    let r = r.normalize(n, &self.label, reference, bufs);
                    best = best.max(self.text_measure(a, r));
                    if best >= 1.0 {
                        break;
                    }
                }
                match self.kind {
                    Kind::Fuzzy { threshold, .. } => Score::Scored {
                        value: f64::from(u8::from(best >= threshold)),
                        raw: Some(best),
                    },
                    _ => Score::Scored {
                        value: best,
                        raw: None,
                    },
                }
            }),
            None => self.other_measure(answer, references),
        }
    }

    fn text_measure(&self, a: &str, r: &str) -> f64 {
        match &self.kind {
            Kind::Exact => f64::from(u8::from(a == r)),
            Kind::TokenF1 => scorers::token_f1(a, r),
            Kind::Contains => f64::from(u8::from(scorers::contains_words(a, r))),
            Kind::IContains => f64::from(u8::from(scorers::contains_words(
                &a.to_lowercase(),
                &r.to_lowercase(),
            ))),
            Kind::StartsWith => f64::from(u8::from(scorers::starts_with_words(a, r))),
            Kind::Fuzzy { metric, .. } => scorers::similarity(*metric, a, r),
            _ => f64::NAN,
        }
    }

    fn other_measure(&self, answer: &str, references: &[String]) -> Score {
        let binary = |b: bool| Score::Scored {
            value: f64::from(u8::from(b)),
            raw: None,
        };
        match &self.kind {
            Kind::Regex(re) => binary(re.is_match(answer)),
            Kind::JsonValid => binary(extract::parse_json_answer(answer).is_ok()),
            Kind::JsonSchema(schema) => match extract::parse_json_answer(answer) {
                Ok(v) => binary(schema.check(&v).is_ok()),
                Err(_) => Score::Unscored(reason::INVALID_JSON),
            },
            Kind::Numeric { abs, rel } => {
                let Some(a) = scorers::parse_number(answer) else {
                    return Score::Unscored(reason::NOT_A_NUMBER);
                };
                let mut best: Option<(f64, bool)> = None;
                for r in references.iter().filter_map(|r| scorers::parse_number(r)) {
                    let diff = (a - r).abs();
                    let ok = diff <= abs.max(rel * r.abs());
                    best = Some(match best {
                        Some((d, o)) => (d.min(diff), o || ok),
                        None => (diff, ok),
                    });
                }
                match best {
                    Some((diff, ok)) => Score::Scored {
                        value: f64::from(u8::from(ok)),
                        raw: Some(diff),
                    },
                    None => Score::Unscored(reason::REFERENCE_NOT_A_NUMBER),
                }
            }
            Kind::Choice => {
                let Some(letter) = scorers::find_choice(answer) else {
                    return Score::Unscored(reason::NO_CHOICE);
                };
                let refs: Vec<char> = references
                    .iter()
                    .filter_map(|r| scorers::reference_choice(r))
                    .collect();
                if refs.is_empty() {
                    return Score::Unscored(reason::REFERENCE_NOT_A_CHOICE);
                }
                binary(refs.contains(&letter))
            }
            Kind::RougeL => {
                let a = scorers::rouge_tokens(answer);
                let best = references
                    .iter()
                    .map(|r| scorers::rouge_l(&a, &scorers::rouge_tokens(r)))
                    .fold(f64::NEG_INFINITY, f64::max);
                Score::Scored {
                    value: best,
                    raw: None,
                }
            }
            Kind::Bleu => Score::Scored {
                value: scorers::bleu_stats(answer, references).smoothed_bleu(),
                raw: None,
            },
            _ => Score::Unscored(reason::NOT_FINITE),
        }
    }
}

/// A NaN or out-of-range measure must never reach a mean as a score.
fn checked(score: Score) -> Score {
    match score {
        Score::Scored { value, raw }
            if !(value.is_finite() && (0.0..=1.0).contains(&value))
                || raw.is_some_and(|r| !r.is_finite()) =>
        {
            Score::Unscored(reason::NOT_FINITE)
        }
        s => s,
    }
}

/// Compile a `json_schema` scorer's schema: inline, or a file relative to `base_dir`.
fn load_schema(spec: &serde_json::Value, base_dir: &Path) -> Result<Schema, String> {
    Schema::compile(&load_schema_value(spec, base_dir)?)
}

/// A `json_schema` scorer's schema as JSON: the inline mapping, or the contents of the file a
/// string names (relative to `base_dir`; `.yaml`/`.yml` files are read as YAML, others as JSON).
pub fn load_schema_value(
    spec: &serde_json::Value,
    base_dir: &Path,
) -> Result<serde_json::Value, String> {
    let serde_json::Value::String(rel) = spec else {
        return Ok(spec.clone());
    };
    let path = base_dir.join(rel);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the schema file {}: {e}", path.display()))?;
    let is_yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    if is_yaml {
        serde_saphyr::from_str::<serde_json::Value>(&text)
            .map_err(|e| format!("{} is not valid YAML: {e}", path.display()))
    } else {
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))
    }
}

/// One case to score: the final answer (or the error that prevented it) and the references.
#[derive(Clone, Debug)]
pub struct Answer<'a> {
    /// The answer text.
    pub text: &'a str,
    /// The references.
    pub references: &'a [String],
    /// The error kind when the case failed.
    pub error: Option<&'a str>,
}

/// Score every answer with every scorer on the rayon pool. The result is indexed
/// `[answer][scorer]`.
pub fn score_all(scorers: &[Scorer], answers: &[Answer<'_>]) -> Vec<Vec<Outcome>> {
    answers.par_iter().map(|a| score_one(scorers, a)).collect()
}

/// [`score_all`] on the calling thread only (scoring beside a running trial, where the rayon
/// pool would take every core from the client).
pub fn score_each(scorers: &[Scorer], answers: &[Answer<'_>]) -> Vec<Vec<Outcome>> {
    answers.iter().map(|a| score_one(scorers, a)).collect()
}

fn score_one(scorers: &[Scorer], a: &Answer<'_>) -> Vec<Outcome> {
    scorers
        .iter()
        .map(|s| match a.error {
            Some(kind) => Outcome {
                score: Score::Error(kind.to_string()),
                extracted: None,
                extraction_failed: None,
                bleu: None,
            },
            None => s.score_case(a.text, a.references),
        })
        .collect()
}

#[cfg(test)]
mod tests;
