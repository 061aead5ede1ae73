//! Scoring answers against references with named scorers and normalisers.
//!
//! Each scorer has one written meaning (README, "Scorers"): `exact` with the `squad` normaliser
//! is SQuAD v1.1's exact match, `token_f1` its multiset token F1, and so on. A case without
//! references is `unscored` (with a reason), a failed request is `error`; neither is ever
//! turned into 0 or 1, so accuracy is the mean over scored cases only.

pub mod judge;
pub mod stats;

use rayon::prelude::*;

use crate::spec::{EvaluatorSpec, FuzzyMetric, Normalizer};

/// A ready-to-run scorer.
#[derive(Clone, Debug, PartialEq)]
pub struct Scorer {
    /// Name in `scores.scorer` and `configs.score_<name>`.
    pub name: String,
    kind: Kind,
    normalize: Normalizer,
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Exact,
    TokenF1,
    Contains,
    Fuzzy {
        metric: FuzzyMetric,
        threshold: f64,
    },
    /// Graded by an LLM judge after the trial (`crate::exec::judge`), not here.
    Judge,
}

/// The outcome of scoring one case.
#[derive(Clone, Debug, PartialEq)]
pub enum Score {
    /// A score in [0, 1]; `raw` is the underlying measure where it differs (fuzzy similarity).
    Scored {
        /// The score.
        value: f64,
        /// Raw similarity before thresholding.
        raw: Option<f64>,
    },
    /// Not scorable; the reason is stored.
    Unscored(&'static str),
    /// The request failed; the error kind is stored.
    Error(String),
}

impl Scorer {
    /// Build from the pipeline's evaluator entry.
    pub fn from_spec(spec: &EvaluatorSpec) -> Scorer {
        let (default_name, kind, s) = match spec {
            EvaluatorSpec::Exact(s) => ("exact", Kind::Exact, (&s.name, s.normalize)),
            EvaluatorSpec::TokenF1(s) => ("token_f1", Kind::TokenF1, (&s.name, s.normalize)),
            EvaluatorSpec::Contains(s) => ("contains", Kind::Contains, (&s.name, s.normalize)),
            EvaluatorSpec::Fuzzy(f) => (
                "fuzzy",
                Kind::Fuzzy {
                    metric: f.metric,
                    threshold: f.threshold,
                },
                (&f.name, f.normalize),
            ),
            EvaluatorSpec::LlmJudge(j) => ("llm_judge", Kind::Judge, (&j.name, Normalizer::None)),
        };
        Scorer {
            name: s.0.clone().unwrap_or_else(|| default_name.to_string()),
            kind,
            normalize: s.1,
        }
    }

    /// Whether this scorer is an LLM judge (graded after the trial by its judges).
    pub fn is_judge(&self) -> bool {
        self.kind == Kind::Judge
    }

    /// Score `answer` against `references` (the best reference wins).
    pub fn score(&self, answer: &str, references: &[String]) -> Score {
        if self.kind == Kind::Judge {
            return Score::Unscored("judge_pending");
        }
        if references.is_empty() {
            return Score::Unscored("no_reference");
        }
        let a = normalize(self.normalize, answer);
        let mut best = f64::NEG_INFINITY;
        for r in references {
            let r = normalize(self.normalize, r);
            let s = match &self.kind {
                Kind::Exact => f64::from(u8::from(a == r)),
                Kind::TokenF1 => token_f1(&a, &r),
                Kind::Contains => f64::from(u8::from(contains_tokens(&a, &r))),
                Kind::Fuzzy { metric, .. } => similarity(*metric, &a, &r),
                Kind::Judge => f64::NAN,
            };
            best = best.max(s);
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
    }
}

/// Apply a named normaliser.
pub fn normalize(n: Normalizer, text: &str) -> String {
    match n {
        Normalizer::None => text.to_string(),
        Normalizer::Trim => text.trim().to_string(),
        Normalizer::Lower => text
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        Normalizer::Squad => squad(text),
    }
}

/// SQuAD v1.1 normalisation: lowercase, drop ASCII punctuation, drop the articles a/an/the,
/// collapse whitespace. (Non-ASCII punctuation such as curly quotes is kept, as in SQuAD.)
fn squad(text: &str) -> String {
    let lowered: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    let mut out = String::with_capacity(lowered.len());
    for tok in lowered.split_whitespace() {
        if matches!(tok, "a" | "an" | "the") {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(tok);
    }
    out
}

/// SQuAD token F1 over whitespace tokens (multiset overlap). Two empty strings score 1, one
/// empty string scores 0 (SQuAD v2's rule; v1.1's code scored both-empty as 0).
pub fn token_f1(a: &str, r: &str) -> f64 {
    let at: Vec<&str> = a.split_whitespace().collect();
    let rt: Vec<&str> = r.split_whitespace().collect();
    if at.is_empty() || rt.is_empty() {
        return f64::from(u8::from(at.is_empty() && rt.is_empty()));
    }
    let mut remaining = rt.clone();
    let mut common = 0usize;
    for t in &at {
        if let Some(i) = remaining.iter().position(|x| x == t) {
            remaining.swap_remove(i);
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let p = common as f64 / at.len() as f64;
    let rc = common as f64 / rt.len() as f64;
    2.0 * p * rc / (p + rc)
}

/// Whether `r`'s tokens appear contiguously in `a` (so "4" is not found in "14"). An empty
/// reference is contained only in an empty answer.
fn contains_tokens(a: &str, r: &str) -> bool {
    if r.is_empty() {
        return a.is_empty();
    }
    let padded_a = format!(" {} ", a.split_whitespace().collect::<Vec<_>>().join(" "));
    let padded_r = format!(" {} ", r.split_whitespace().collect::<Vec<_>>().join(" "));
    padded_a.contains(&padded_r)
}

fn similarity(m: FuzzyMetric, a: &str, r: &str) -> f64 {
    match m {
        FuzzyMetric::JaroWinkler => strsim::jaro_winkler(a, r),
        FuzzyMetric::Levenshtein => strsim::normalized_levenshtein(a, r),
        FuzzyMetric::SorensenDice => strsim::sorensen_dice(a, r),
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
pub fn score_all(scorers: &[Scorer], answers: &[Answer<'_>]) -> Vec<Vec<Score>> {
    answers
        .par_iter()
        .map(|a| {
            scorers
                .iter()
                .map(|s| match a.error {
                    Some(kind) => Score::Error(kind.to_string()),
                    None => s.score(a.text, a.references),
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{FuzzyScorer, NormalizedScorer};

    fn refs(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    fn value(s: Score) -> f64 {
        match s {
            Score::Scored { value, .. } => value,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn squad_normalisation_golden() {
        for (input, want) in [
            ("The Eiffel Tower!", "eiffel tower"),
            ("  a  cat, an owl and THE dog. ", "cat owl and dog"),
            ("U.S.", "us"),
            ("state-of-the-art", "stateoftheart"),
            ("“Quoted”", "“quoted”"),
            ("", ""),
            ("Theory", "theory"),
        ] {
            assert_eq!(normalize(Normalizer::Squad, input), want, "{input:?}");
        }
        assert_eq!(normalize(Normalizer::Trim, "  X y "), "X y");
        assert_eq!(normalize(Normalizer::Lower, " X   Y "), "x y");
        assert_eq!(normalize(Normalizer::None, " X "), " X ");
    }

    #[test]
    fn scorers_golden() {
        let exact = Scorer::from_spec(&EvaluatorSpec::Exact(NormalizedScorer::default()));
        assert_eq!(value(exact.score("The Paris.", &refs(&["paris"]))), 1.0);
        assert_eq!(
            value(exact.score("Paris, France", &refs(&["paris", "Paris, France"]))),
            1.0
        );
        assert_eq!(value(exact.score("Lyon", &refs(&["paris"]))), 0.0);
        assert_eq!(exact.score("x", &[]), Score::Unscored("no_reference"));

        let f1 = Scorer::from_spec(&EvaluatorSpec::TokenF1(NormalizedScorer::default()));
        // pred: {eiffel, tower, paris}, ref: {eiffel, tower}: p=2/3, r=1, f1=0.8
        assert!(
            (value(f1.score("the Eiffel Tower, Paris", &refs(&["Eiffel Tower"]))) - 0.8).abs()
                < 1e-12
        );
        assert_eq!(value(f1.score("", &refs(&["x"]))), 0.0);
        assert_eq!(value(f1.score("the", &refs(&["a"]))), 1.0); // both normalise to empty
        // multiset: repeated tokens count once per occurrence
        assert!((token_f1("a a a", "a") - 0.5).abs() < 1e-12);

        let contains = Scorer::from_spec(&EvaluatorSpec::Contains(NormalizedScorer::default()));
        assert_eq!(value(contains.score("It is 4 apples", &refs(&["4"]))), 1.0);
        assert_eq!(value(contains.score("It is 14 apples", &refs(&["4"]))), 0.0);

        let fuzzy = Scorer::from_spec(&EvaluatorSpec::Fuzzy(FuzzyScorer {
            name: Some("jw".into()),
            metric: FuzzyMetric::JaroWinkler,
            threshold: 0.9,
            normalize: Normalizer::Squad,
        }));
        assert_eq!(fuzzy.name, "jw");
        match fuzzy.score("Shakespear", &refs(&["Shakespeare"])) {
            Score::Scored { value, raw } => {
                assert_eq!(value, 1.0);
                assert!(raw.unwrap() > 0.95);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(value(fuzzy.score("Marlowe", &refs(&["Shakespeare"]))), 0.0);
    }

    #[test]
    fn scores_stay_in_unit_interval_and_f1_is_symmetric() {
        let words = ["a", "the", "paris", "tower", "4", "x", "eiffel", ""];
        let mut seed = 0x1234_5678u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let mut mk = || {
                let n = (next() % 5) as usize;
                (0..n)
                    .map(|_| words[(next() % words.len() as u64) as usize])
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let (a, b) = (mk(), mk());
            let (na, nb) = (squad(&a), squad(&b));
            let f = token_f1(&na, &nb);
            assert!((0.0..=1.0).contains(&f));
            assert!((f - token_f1(&nb, &na)).abs() < 1e-12, "{a:?} {b:?}");
        }
    }

    #[test]
    fn errors_are_not_scores() {
        let exact = Scorer::from_spec(&EvaluatorSpec::Exact(NormalizedScorer::default()));
        let r = refs(&["x"]);
        let out = score_all(
            std::slice::from_ref(&exact),
            &[
                Answer {
                    text: "x",
                    references: &r,
                    error: None,
                },
                Answer {
                    text: "",
                    references: &r,
                    error: Some("timeout"),
                },
            ],
        );
        assert_eq!(
            out[0][0],
            Score::Scored {
                value: 1.0,
                raw: None
            }
        );
        assert_eq!(out[1][0], Score::Error("timeout".into()));
    }
}
