//! Named, versioned normalisers.
//!
//! "Exact match" means different things in different tools; here each normaliser has one
//! written definition (README, "Normalisers") and a version, and every score row records the
//! label (`squad@1`) of the one used. Changing what a normaliser does means a new version.
//!
//! Normalising writes into caller-owned buffers so that the scoring hot path does not allocate
//! once the buffers have grown to the size of the longest answer.

use regex::Regex;

use crate::spec::{LmEvalOptions, NormalizeSpec, NormalizerName};

/// Version of every normaliser's current definition.
pub const VERSION: u32 = 1;

/// A ready-to-run normaliser.
#[derive(Clone, Debug)]
pub enum Normalizer {
    /// SQuAD v1.1 `normalize_answer`.
    Squad,
    /// lm-evaluation-harness `exact_match` options.
    LmEval(LmEval),
    /// Trim surrounding whitespace.
    Strip,
    /// The text as given.
    None,
}

/// Compiled lm-eval options.
#[derive(Clone, Debug, Default)]
pub struct LmEval {
    regexes: Vec<Regex>,
    options: LmEvalOptions,
}

impl PartialEq for Normalizer {
    fn eq(&self, other: &Self) -> bool {
        self.label() == other.label()
    }
}

/// Scratch space for normalising without allocating.
#[derive(Debug, Default)]
pub struct Buffers {
    a: String,
    b: String,
}

impl Normalizer {
    /// Build from the spec; an invalid `regexes_to_ignore` pattern is reported with its index.
    pub fn from_spec(spec: &NormalizeSpec) -> Result<Normalizer, (usize, String)> {
        Ok(match spec {
            NormalizeSpec::Named(NormalizerName::Squad) => Normalizer::Squad,
            NormalizeSpec::Named(NormalizerName::Strip) => Normalizer::Strip,
            NormalizeSpec::Named(NormalizerName::None) => Normalizer::None,
            NormalizeSpec::Named(NormalizerName::LmEval) => Normalizer::LmEval(LmEval::default()),
            NormalizeSpec::LmEval(l) => {
                let mut regexes = Vec::new();
                for (i, p) in l.lm_eval.regexes_to_ignore.iter().enumerate() {
                    regexes.push(Regex::new(p).map_err(|e| (i, regex_error(&e)))?);
                }
                Normalizer::LmEval(LmEval {
                    regexes,
                    options: l.lm_eval.clone(),
                })
            }
        })
    }

    /// The label stored in `scores.normalizer`: `squad@1`, `strip@1`, `none@1`, or
    /// `lm_eval@1` followed by the options that are on, e.g.
    /// `lm_eval@1(regexes_to_ignore=[","],ignore_case,ignore_punctuation)`.
    pub fn label(&self) -> String {
        match self {
            Normalizer::Squad => format!("squad@{VERSION}"),
            Normalizer::Strip => format!("strip@{VERSION}"),
            Normalizer::None => format!("none@{VERSION}"),
            Normalizer::LmEval(l) => {
                let o = &l.options;
                let mut parts = Vec::new();
                if !o.regexes_to_ignore.is_empty() {
                    parts.push(format!(
                        "regexes_to_ignore={}",
                        serde_json::to_string(&o.regexes_to_ignore).unwrap_or_default()
                    ));
                }
                for (on, name) in [
                    (o.ignore_case, "ignore_case"),
                    (o.ignore_punctuation, "ignore_punctuation"),
                    (o.ignore_numbers, "ignore_numbers"),
                ] {
                    if on {
                        parts.push(name.to_string());
                    }
                }
                if parts.is_empty() {
                    format!("lm_eval@{VERSION}")
                } else {
                    format!("lm_eval@{VERSION}({})", parts.join(","))
                }
            }
        }
    }

    /// Normalise `text` into `out` (cleared first), using `bufs` as scratch.
    pub fn apply_into(&self, text: &str, out: &mut String, bufs: &mut Buffers) {
        out.clear();
        match self {
            Normalizer::None => out.push_str(text),
            Normalizer::Strip => out.push_str(text.trim()),
            Normalizer::Squad => squad_into(text, out, bufs),
            Normalizer::LmEval(l) => l.apply_into(text, out, bufs),
        }
    }

    /// Normalise `text` into a new string.
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::new();
        self.apply_into(text, &mut out, &mut Buffers::default());
        out
    }
}

/// The regex crate's message without the pattern echo, on one line.
pub(crate) fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    format!(
        "invalid regular expression: {}",
        last.trim_start_matches("error: ")
    )
}

/// Python's `string.punctuation`: exactly the ASCII punctuation characters.
fn is_python_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
}

/// Python's `\w` (approximately: Unicode alphanumerics and `_`).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// SQuAD v1.1 `normalize_answer`: lowercase, remove `string.punctuation`, replace the words
/// a/an/the (`\b(a|an|the)\b`) by a space, then `' '.join(text.split())`.
fn squad_into(text: &str, out: &mut String, bufs: &mut Buffers) {
    let lowered = &mut bufs.a;
    lowered.clear();
    if text.is_ascii() {
        lowered.extend(
            text.bytes()
                .filter(|b| !b.is_ascii_punctuation())
                .map(|b| char::from(b.to_ascii_lowercase())),
        );
    } else {
        // `str::to_lowercase` handles context (a final sigma) as Python's `str.lower` does.
        lowered.extend(
            text.to_lowercase()
                .chars()
                .filter(|c| !is_python_punctuation(*c)),
        );
    }
    // Articles: a maximal run of word characters equal to a, an or the becomes a space.
    let no_articles = &mut bufs.b;
    no_articles.clear();
    let mut rest = lowered.as_str();
    while let Some(start) = rest.find(is_word_char) {
        no_articles.push_str(&rest[..start]);
        let word = &rest[start..];
        let len = word.find(|c: char| !is_word_char(c)).unwrap_or(word.len());
        let w = &word[..len];
        if matches!(w, "a" | "an" | "the") {
            no_articles.push(' ');
        } else {
            no_articles.push_str(w);
        }
        rest = &word[len..];
    }
    no_articles.push_str(rest);
    collapse_whitespace(no_articles, out);
}

fn collapse_whitespace(text: &str, out: &mut String) {
    for (i, tok) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(tok);
    }
}

impl LmEval {
    /// lm-evaluation-harness (HF `evaluate`) `exact_match`: `re.sub(p, "", x)` for each
    /// pattern in order, then `lower()`, then `translate` away `string.punctuation`, then
    /// `string.digits`. Nothing else: whitespace and articles stay.
    fn apply_into(&self, text: &str, out: &mut String, bufs: &mut Buffers) {
        let cur = &mut bufs.a;
        cur.clear();
        cur.push_str(text);
        for re in &self.regexes {
            let replaced = re.replace_all(cur, "");
            if let std::borrow::Cow::Owned(s) = replaced {
                *cur = s;
            }
        }
        let o = &self.options;
        if o.ignore_case {
            let lowered = cur.to_lowercase();
            *cur = lowered;
        }
        out.extend(cur.chars().filter(|c| {
            !(o.ignore_punctuation && is_python_punctuation(*c)
                || o.ignore_numbers && c.is_ascii_digit())
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::LmEvalNormalizer;

    fn lm(opts: LmEvalOptions) -> Normalizer {
        Normalizer::from_spec(&NormalizeSpec::LmEval(LmEvalNormalizer { lm_eval: opts })).unwrap()
    }

    #[test]
    fn squad_golden() {
        // Expected values are what SQuAD v1.1's evaluate-v1.1.py `normalize_answer` returns.
        for (input, want) in [
            ("The Eiffel Tower!", "eiffel tower"),
            ("  a  cat, an owl and THE dog. ", "cat owl and dog"),
            ("U.S.", "us"),
            ("state-of-the-art", "stateoftheart"),
            ("state of the art", "state of art"),
            ("“Quoted”", "“quoted”"),
            ("“the” answer", "“ ” answer"),
            ("it’s", "it’s"),
            ("", ""),
            ("   ", ""),
            ("the", ""),
            ("Theory", "theory"),
            ("A-B", "ab"),
            ("an_the", "anthe"),
            ("$1,234.50", "123450"),
            ("ΟΔΟΣ", "\u{3bf}\u{3b4}\u{3bf}\u{3c2}"),
            ("two", "two"),
            ("tab\tand\nnewline", "tab and newline"),
        ] {
            assert_eq!(Normalizer::Squad.apply(input), want, "{input:?}");
        }
    }

    #[test]
    fn strip_and_none_golden() {
        assert_eq!(Normalizer::Strip.apply("  X  y \n"), "X  y");
        assert_eq!(Normalizer::Strip.apply("\u{a0}x\u{2003}"), "x");
        assert_eq!(Normalizer::None.apply(" X "), " X ");
    }

    #[test]
    fn lm_eval_golden() {
        // Expected values follow HF evaluate's exact_match (lm-eval's `exact_match`).
        let all = lm(LmEvalOptions {
            regexes_to_ignore: vec![",".into(), "\\$".into()],
            ignore_case: true,
            ignore_punctuation: true,
            ignore_numbers: false,
        });
        assert_eq!(all.apply("The $1,234.5 Answer!"), "the 12345 answer");
        assert_eq!(all.apply("  The  U.S. "), "  the  us ");
        let case_only = lm(LmEvalOptions {
            ignore_case: true,
            ..Default::default()
        });
        assert_eq!(case_only.apply("The  Cat."), "the  cat.");
        let numbers = lm(LmEvalOptions {
            ignore_numbers: true,
            ..Default::default()
        });
        assert_eq!(numbers.apply("Room 101, floor ٣"), "Room , floor ٣");
        let plain = Normalizer::from_spec(&NormalizeSpec::Named(NormalizerName::LmEval)).unwrap();
        assert_eq!(plain.apply(" A "), " A ");
        assert_eq!(plain.label(), "lm_eval@1");
        // Regexes run before lowercasing: a lowercase pattern does not see uppercase text.
        let order = lm(LmEvalOptions {
            regexes_to_ignore: vec!["the ".into()],
            ignore_case: true,
            ..Default::default()
        });
        assert_eq!(order.apply("The cat and the dog"), "the cat and dog");
        assert_eq!(
            order.label(),
            r#"lm_eval@1(regexes_to_ignore=["the "],ignore_case)"#
        );
    }

    #[test]
    fn labels() {
        assert_eq!(Normalizer::Squad.label(), "squad@1");
        assert_eq!(Normalizer::Strip.label(), "strip@1");
        assert_eq!(Normalizer::None.label(), "none@1");
    }

    #[test]
    fn bad_regex_is_reported_with_its_index() {
        let e = Normalizer::from_spec(&NormalizeSpec::LmEval(LmEvalNormalizer {
            lm_eval: LmEvalOptions {
                regexes_to_ignore: vec!["ok".into(), "(".into()],
                ..Default::default()
            },
        }))
        .unwrap_err();
        assert_eq!(e.0, 1);
        assert!(e.1.contains("unclosed group"), "{}", e.1);
    }
}
