//! A real model's tokenizer, read locally from a Hugging Face `tokenizer.json`, for building
//! synthetic and trace prompts to exact token lengths (and, later, counting output text).
//!
//! Why only `tokenizer.json`: it is the one self-contained format (normalizer, pre-tokenizer,
//! model, post-processor in one file) that every model on the Hugging Face hub ships, and the
//! `tokenizers` crate reads it without Python or network access. Files are never downloaded:
//! the pipeline names a local path.
//!
//! Counts are of the text alone, *without* special tokens (BOS, `[CLS]`, ...): a chat template
//! adds its own, and the server's `usage.prompt_tokens` includes them. Truncation and padding
//! that a `tokenizer.json` may configure are switched off, so long texts are counted in full.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use super::synthetic::{TokenCounter, VOCAB};

/// A Hugging Face tokenizer loaded from a local `tokenizer.json`. `Send + Sync`: share one
/// behind an `Arc` between the planner and writer threads.
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    /// The file as the pipeline names it, for messages.
    file: String,
    /// Words of [`VOCAB`] that are one token both at the start of a text and after a space.
    single_token_words: Vec<&'static str>,
    /// Tokens of each word of [`VOCAB`] at the start of a text and after a space, when a
    /// text's count is the sum of its words' (checked on a sample at load).
    word_tokens: Option<HashMap<&'static str, (usize, usize)>>,
}

/// Why a tokenizer could not be loaded.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TokenizerError {
    /// The file could not be read.
    #[error("cannot read tokenizer: {path}: {message}")]
    Read {
        /// The path tried (the pipeline's folder joined with the `tokenizer` value).
        path: String,
        /// The operating system's reason.
        message: String,
    },
    /// The file is not a `tokenizer.json` this build can load.
    #[error("{path} is not a valid Hugging Face tokenizer.json: {message}")]
    Invalid {
        /// The path read.
        path: String,
        /// The parser's reason.
        message: String,
    },
    /// The tokenizer encodes plain English words as nothing (a model without the letters).
    #[error("{path}: the tokenizer encodes plain English words (`the and for`) as no tokens")]
    NoTokens {
        /// The path read.
        path: String,
    },
}

impl TokenizerError {
    /// A suggestion for the pipeline author, given the pipeline file's folder.
    pub fn help(&self, base_dir: &Path) -> String {
        match self {
            TokenizerError::Read { .. } => format!(
                "paths are relative to the pipeline file's folder ({})",
                base_dir.display()
            ),
            TokenizerError::Invalid { .. } => "give the model's `tokenizer.json` from its Hugging \
                 Face repository (not `tokenizer_config.json` or a SentencePiece `.model` file)"
                .into(),
            TokenizerError::NoTokens { .. } => {
                "synthetic prompts are English words; use the tokenizer of the model under test"
                    .into()
            }
        }
    }
}

impl HfTokenizer {
    /// Load `base_dir/file` (`file` as written in the pipeline, relative to its folder).
    pub fn load(base_dir: &Path, file: &str) -> Result<Self, TokenizerError> {
        let path = base_dir.join(file);
        let shown = path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|e| TokenizerError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        Self::from_bytes(&bytes, file, &shown)
    }

    /// A tokenizer from the bytes of a `tokenizer.json`; `file` names it (as written in the
    /// pipeline) and `shown` is the path used in errors.
    pub fn from_bytes(bytes: &[u8], file: &str, shown: &str) -> Result<Self, TokenizerError> {
        let invalid = |message: String| TokenizerError::Invalid {
            path: shown.to_string(),
            message,
        };
        let mut inner = tokenizers::Tokenizer::from_bytes(bytes)
            .map_err(|e| invalid(explain_invalid(bytes, &e.to_string())))?;
        inner
            .with_truncation(None)
            .map_err(|e| invalid(e.to_string()))?;
        inner.with_padding(None);
        let mut tokenizer = HfTokenizer {
            inner,
            file: file.to_string(),
            single_token_words: Vec::new(),
            word_tokens: None,
        };
        if tokenizer.count_text("the and for") == 0 {
            return Err(TokenizerError::NoTokens {
                path: shown.to_string(),
            });
        }
        tokenizer.single_token_words = VOCAB
            .iter()
            .copied()
            .filter(|w| {
                tokenizer.count_text(w) == 1 && tokenizer.count_text(&format!("{w} {w} {w}")) == 3
            })
            .collect();
        tokenizer.word_tokens = tokenizer.measure_word_tokens();
        Ok(tokenizer)
    }

    /// Each vocabulary word's tokens first in a text and after a space, if the counts of two
    /// sample texts of every word (in two orders) are the sums of their words'.
    fn measure_word_tokens(&self) -> Option<HashMap<&'static str, (usize, usize)>> {
        let costs: HashMap<&'static str, (usize, usize)> = VOCAB
            .iter()
            .map(|w| {
                let first = self.count_text(w);
                let three = self.count_text(&format!("{w} {w} {w}"));
                (*w, (first, three.saturating_sub(first) / 2))
            })
            .collect();
        let additive = |words: &mut dyn Iterator<Item = &&'static str>| {
            let words: Vec<&str> = words.copied().collect();
            let predicted: usize = words
                .iter()
                .enumerate()
                .map(|(i, w)| if i == 0 { costs[w].0 } else { costs[w].1 })
                .sum();
            predicted == self.count_text(&words.join(" "))
        };
        (additive(&mut VOCAB.iter()) && additive(&mut VOCAB.iter().rev())).then_some(costs)
    }

    /// The file as the pipeline names it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Tokens of `text`, without special tokens. A text the tokenizer cannot encode (which a
    /// loaded `tokenizer.json` does not produce for valid UTF-8) counts as 0.
    pub fn count_text(&self, text: &str) -> usize {
        self.inner
            .encode_fast(text, false)
            .map_or(0, |encoding| encoding.len())
    }
}

/// Why `bytes` is not a tokenizer, more plainly than the deserializer's `error` where the
/// file is JSON but of another kind (such as `tokenizer_config.json`).
fn explain_invalid(bytes: &[u8], error: &str) -> String {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Err(e) => format!("not JSON: {e}"),
        Ok(serde_json::Value::Object(map)) if !map.contains_key("model") => {
            let keys: Vec<String> = map.keys().take(8).map(|k| format!("`{k}`")).collect();
            format!(
                "it has no `model` (its keys: {}{})",
                keys.join(", "),
                if map.len() > keys.len() { ", ..." } else { "" }
            )
        }
        Ok(serde_json::Value::Object(_)) => error.to_string(),
        Ok(_) => "not a JSON object".into(),
    }
}

impl TokenCounter for HfTokenizer {
    fn count(&self, text: &str) -> usize {
        self.count_text(text)
    }

    fn single_token_words(&self) -> &[&'static str] {
        &self.single_token_words
    }

    fn word_tokens(&self, word: &str, first: bool) -> Option<usize> {
        let (at_start, after_space) = *self.word_tokens.as_ref()?.get(word)?;
        Some(if first { at_start } else { after_space })
    }
}

impl fmt::Debug for HfTokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HfTokenizer")
            .field("file", &self.file)
            .field("single_token_words", &self.single_token_words.len())
            .finish_non_exhaustive()
    }
}

// Shared with writer threads behind an `Arc`.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<HfTokenizer>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::synthetic::{NONCE_TOKENS, apply_nonce, build_text, nonce_from};
    use crate::rng::Rng;

    fn fixture(name: &str) -> HfTokenizer {
        HfTokenizer::load(
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")),
            name,
        )
        .unwrap()
    }

    const FIXTURES: [&str; 3] = [
        "tokenizer-bpe.json",
        "tokenizer-wordpiece.json",
        "tokenizer-unigram.json",
    ];

    #[test]
    fn counts_without_special_tokens() {
        // Each fixture's post-processor adds special tokens (`<s>`, `[CLS]`/`[SEP]`, `</s>`)
        // that `encode(.., true)` would count.
        for name in FIXTURES {
            let t = fixture(name);
            let with = t.inner.encode("the sea", true).unwrap().len();
            assert!(with > t.count_text("the sea"), "{name}");
            assert_eq!(t.count_text(""), 0, "{name}");
            assert_eq!(t.file(), name);
        }
        let bpe = fixture("tokenizer-bpe.json");
        // Frequent words are single tokens; rare ones are not.
        assert_eq!(bpe.count_text("the"), 1);
        assert_eq!(bpe.count_text("the the the"), 3);
        assert!(bpe.count_text("zoo zoo zoo") > 3);
    }

    #[test]
    fn single_token_words_are_single_tokens_everywhere() {
        for name in FIXTURES {
            let t = fixture(name);
            let words = t.single_token_words();
            assert!(words.len() >= 16, "{name}: {}", words.len());
            let text = words.join(" ");
            assert_eq!(t.count_text(&text), words.len(), "{name}");
        }
        // The BPE fixture has words of several tokens too, so fitting has work to do.
        assert!(fixture("tokenizer-bpe.json").single_token_words().len() < VOCAB.len());
    }

    #[test]
    fn truncation_and_padding_in_the_file_are_ignored() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tokenizer-bpe.json"
        );
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        json["truncation"] = serde_json::json!({
            "direction": "Right", "max_length": 4, "strategy": "LongestFirst", "stride": 0
        });
        let t = HfTokenizer::from_bytes(json.to_string().as_bytes(), "t.json", "t.json").unwrap();
        assert_eq!(t.count_text("the the the the the the the the"), 8);
    }

    #[test]
    fn built_texts_are_exact_under_real_tokenizers() {
        for name in FIXTURES {
            let t = fixture(name);
            let mut rng = Rng::new(11);
            for n in [1u32, 2, 3, 5, 8, 13, 64, 257, 1000] {
                let text = build_text(&t, &mut rng, n);
                assert_eq!(t.count(&text), n as usize, "{name}: {n}: {text}");
            }
        }
    }

    /// A fixture without its word costs: fitting by counting alone.
    struct CountOnly<'a>(&'a HfTokenizer);
    impl TokenCounter for CountOnly<'_> {
        fn count(&self, text: &str) -> usize {
            self.0.count_text(text)
        }
        fn single_token_words(&self) -> &[&'static str] {
            self.0.single_token_words()
        }
    }

    #[test]
    fn fitting_is_exact_without_predictions_too() {
        for name in FIXTURES {
            let t = fixture(name);
            // The fixtures split at spaces, so word costs are known and add up.
            assert_eq!(t.word_tokens("the", false), Some(1), "{name}");
            let counter = CountOnly(&t);
            let mut rng = Rng::new(12);
            for n in [1u32, 2, 3, 7, 50, 400] {
                let text = build_text(&counter, &mut rng, n);
                assert_eq!(t.count(&text), n as usize, "{name}: {n}: {text}");
            }
        }
    }

    #[test]
    fn nonces_from_single_token_words_keep_counts() {
        let t = fixture("tokenizer-bpe.json");
        let words = t.single_token_words();
        let mut rng = Rng::new(3);
        let head: Vec<&str> = (0..NONCE_TOKENS)
            .map(|_| crate::plan::synthetic::pick(&mut rng, words))
            .collect();
        let text = format!("{} {}", head.join(" "), build_text(&t, &mut rng, 40));
        let n = t.count(&text);
        for i in 0..50 {
            let nonce = nonce_from(words, 1, "trial", i);
            assert_eq!(t.count(&apply_nonce(&text, &nonce)), n);
        }
    }

    #[test]
    fn errors_name_the_file() {
        let dir = Path::new("/nonexistent");
        let e = HfTokenizer::load(dir, "tok.json").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read tokenizer: /nonexistent/tok.json: "),
            "{e}"
        );
        assert_eq!(
            e.help(dir),
            "paths are relative to the pipeline file's folder (/nonexistent)"
        );
        let e =
            HfTokenizer::from_bytes(b"{\"version\": \"1.0\"}", "t.json", "dir/t.json").unwrap_err();
        assert_eq!(
            e.to_string(),
            "dir/t.json is not a valid Hugging Face tokenizer.json: it has no `model` (its keys: \
             `version`)"
        );
        let e = HfTokenizer::from_bytes(b"not json", "t.json", "dir/t.json").unwrap_err();
        assert_eq!(
            e.to_string(),
            "dir/t.json is not a valid Hugging Face tokenizer.json: not JSON: expected ident at \
             line 1 column 2"
        );
        // A model the deserializer rejects: its own message.
        let e = HfTokenizer::from_bytes(
            br#"{"version": "1.0", "model": {"type": "Nope"}}"#,
            "t.json",
            "t.json",
        )
        .unwrap_err();
        assert!(matches!(e, TokenizerError::Invalid { .. }), "{e}");
        // A tokenizer that knows none of the letters (and has no unknown token).
        let empty = r#"{"version": "1.0", "added_tokens": [], "normalizer": null,
            "pre_tokenizer": null, "post_processor": null, "decoder": null,
            "model": {"type": "BPE", "vocab": {}, "merges": []}}"#;
        assert_eq!(
            HfTokenizer::from_bytes(empty.as_bytes(), "t.json", "t.json")
                .unwrap_err()
                .to_string(),
            "t.json: the tokenizer encodes plain English words (`the and for`) as no tokens"
        );
    }
}
