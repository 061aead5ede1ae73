//! Synthetic prompts: rows generated to token lengths drawn from seeded distributions, with
//! optional shared-prefix groups and a per-execution cache-busting nonce.
//!
//! Why words of three letters: the text is a sequence of common English words, each three
//! ASCII letters, joined by single spaces. Under the simulated engine's tokenizer
//! (`ceil(bytes / 4)`) `n` such words are `4n - 1` bytes, exactly `n` tokens, and texts joined
//! by one or two separator bytes (a space, or the `\n` the engine puts between chat messages)
//! still count exactly as the sum of their parts. The words are common enough to be single
//! tokens (with their leading space) in widely used BPE vocabularies (GPT, Llama; chosen by
//! hand, not checked against each tokenizer), and BPE pre-tokenizers split at each space, so
//! the same text should be within a few tokens of its target for real models too.
//! A real tokenizer plugs in through [`TokenCounter`] (a Hugging Face `tokenizer.json`:
//! [`super::tokenizer::HfTokenizer`]); [`fit_words`] then changes the words at the end of a
//! text until the tokenizer counts exactly the target. The guarantee: the result is exact when
//! some choice of trailing words reaches the target (with any tokenizer that has one-token
//! words, which real models' tokenizers do), otherwise it is the closest text found and
//! [`Fitted::tokens`] says how far it is.
//!
//! Everything is seeded: the same spec and seed give the same rows, row `i` does not depend on
//! `count` (more rows only add rows), and lengths, texts and prefixes come from separate
//! streams, so changing one distribution leaves the others' draws alone.

use rayon::prelude::*;
use serde_json::{Map, Value, json};

use super::dataset::{Dataset, Row};
use crate::rng::{Rng, fnv1a64, splitmix64};
use crate::spec::node::KeyPath;
use crate::spec::{LengthSpec, NormalLength, SyntheticSpec};

/// The vocabulary: common English words of three lowercase ASCII letters, chosen to be single
/// tokens (with a leading space) in common BPE vocabularies.
pub const VOCAB: [&str; 128] = [
    "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was",
    "one", "our", "out", "day", "get", "has", "him", "his", "how", "man", "new", "now", "old",
    "see", "two", "way", "who", "did", "its", "let", "put", "say", "she", "too", "use", "act",
    "add", "age", "ago", "air", "arm", "art", "ask", "bad", "bag", "bar", "bed", "big", "bit",
    "box", "bus", "buy", "car", "cat", "cup", "cut", "dog", "dry", "due", "ear", "eat", "egg",
    "end", "eye", "far", "few", "fit", "fly", "fun", "gas", "hat", "hit", "hot", "ice", "job",
    "key", "kid", "lab", "law", "lay", "leg", "lot", "low", "map", "mix", "net", "off", "oil",
    "pay", "pen", "per", "pet", "pop", "pot", "raw", "red", "row", "run", "sea", "set", "sit",
    "six", "sky", "son", "sun", "tax", "tea", "ten", "tie", "tip", "top", "toy", "try", "web",
    "wet", "win", "yes", "yet", "zoo", "own", "why", "may", "men", "got", "led",
];

/// Tokens of the nonce at the start of each execution's input (7 bits each: 56 bits).
pub const NONCE_TOKENS: usize = 8;

/// Counts prompt tokens. The simulated engine's tokenizer is [`SimTokens`]; a real one (for
/// example a Hugging Face `tokenizer.json` read locally) implements this to build prompts of
/// exact length for a real model. `Sync`: rows are built in parallel.
pub trait TokenCounter: Sync {
    /// Tokens of `text` as a prompt (without special tokens).
    fn count(&self, text: &str) -> usize;

    /// Words of [`VOCAB`] that are one token each both at the start of a text and after a
    /// space, so that swapping one for another keeps a text's count: the nonce and the words
    /// it replaces are drawn from these. All of [`VOCAB`] by default.
    fn single_token_words(&self) -> &[&'static str] {
        &VOCAB
    }

    /// Tokens of the vocabulary word `word` at the start of a text (`first`) or after a space,
    /// for a counter whose counts are the sum of its words' (as for tokenizers that split at
    /// spaces): [`fit_words`] then predicts a fit before it counts. `None` (unknown) by default.
    fn word_tokens(&self, word: &str, first: bool) -> Option<usize> {
        let _ = (word, first);
        None
    }
}

/// The simulated engine's tokenizer: `ceil(bytes / 4)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimTokens;

impl TokenCounter for SimTokens {
    fn count(&self, text: &str) -> usize {
        crate::sim::prompt_tokens(text) as usize
    }
}

/// Salts separating the random streams of one seed.
const SALT_INPUT_LENGTHS: u64 = 0x1a2b_3c4d_0000_0001;
const SALT_OUTPUT_LENGTHS: u64 = 0x1a2b_3c4d_0000_0002;
const SALT_TEXT: u64 = 0x1a2b_3c4d_0000_0003;
const SALT_PREFIX: u64 = 0x1a2b_3c4d_0000_0004;
const SALT_NONCE: u64 = 0x1a2b_3c4d_0000_0005;

/// A seed derived from `seed` and `salt` (and so independent of other salts' streams).
pub fn derive_seed(seed: u64, salt: u64) -> u64 {
    let mut x = seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    splitmix64(&mut x)
}

/// A uniformly drawn vocabulary word.
pub fn word(rng: &mut Rng) -> &'static str {
    pick(rng, &VOCAB)
}

/// A uniformly drawn word of `words` (not empty). For the 128 words of [`VOCAB`] this is the
/// draw's top 7 bits, so [`word`] and `pick(rng, &VOCAB)` agree.
pub fn pick(rng: &mut Rng, words: &[&'static str]) -> &'static str {
    // Multiply-high: an unbiased-enough index in [0, len) without division.
    words[((u128::from(rng.next_u64()) * words.len() as u128) >> 64) as usize]
}

/// A generated text and its token count under the counter it was built for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fitted {
    /// The words joined by single spaces.
    pub text: String,
    /// Its token count: the target when [`fit_words`] reached it, else the closest found.
    pub tokens: usize,
}

impl Fitted {
    /// The count is the target.
    pub fn is_exact(&self, target: usize) -> bool {
        self.tokens == target
    }
}

/// `tokens` words from `rng` joined by single spaces, fitted until `counter` counts exactly
/// `tokens` (see [`fit_words`] for the guarantee). Exact at the first count for [`SimTokens`].
pub fn build_text(counter: &dyn TokenCounter, rng: &mut Rng, tokens: u32) -> String {
    let words = (0..tokens).map(|_| word(rng)).collect();
    fit_words(counter, rng, words, 0, tokens as usize).text
}

/// `words` joined by single spaces, with the words after the first `keep` changed until
/// `counter` counts exactly `target` tokens; more words come from `rng`.
///
/// With word costs from the counter ([`TokenCounter::word_tokens`]) the words are first
/// adjusted to a predicted fit, so one count usually confirms it. Then a coarse phase adds or
/// drops as many words at the end as the miss divided by the text's tokens per word (so a
/// tokenizer that splits some words in two converges in a few counts), then a fine phase: drop
/// words until at or below the target, append the first word (in a seeded order, one-token
/// words first) that gets closer without overshooting, and, when every word overshoots a small
/// remaining gap, replace the last one or two words by a combination of words whose measured
/// costs add up to the gap. The result is exact when such a choice of trailing words
/// exists (always, for a tokenizer with a one-token word after a space); otherwise it is the
/// closest text seen, and [`Fitted::tokens`] tells. When the first count agrees (as under
/// [`SimTokens`], for `words.len() == target`) the text is `words` unchanged.
pub fn fit_words(
    counter: &dyn TokenCounter,
    rng: &mut Rng,
    mut words: Vec<&'static str>,
    keep: usize,
    target: usize,
) -> Fitted {
    let keep = keep.min(words.len());
    predict(counter, rng, &mut words, keep, target);
    let mut text = words.join(" ");
    let mut count = counter.count(&text);
    let mut best = Fitted {
        text: String::new(),
        tokens: usize::MAX,
    };
    // The closest text so far (never an empty one for a non-empty target).
    let mut note = |text: &str, count: usize| {
        if count.abs_diff(target) < best.tokens.abs_diff(target) && !text.is_empty() {
            best = Fitted {
                text: text.to_string(),
                tokens: count,
            };
        }
    };

    // Coarse: scale the miss by the text's tokens per word.
    let mut last_miss = usize::MAX;
    for _ in 0..8 {
        let miss = count.abs_diff(target);
        if miss == 0 || miss >= last_miss {
            break;
        }
        last_miss = miss;
        let per_word = count.max(1) as f64 / words.len().max(1) as f64;
        let step = (miss as f64 / per_word).round() as usize;
        if step < 2 {
            break;
        }
        if count < target {
            words.extend((0..step).map(|_| word(rng)));
        } else {
            let floor = keep.max(1);
            if words.len() <= floor {
                break;
            }
            words.truncate(words.len().saturating_sub(step).max(floor));
        }
        note(&text, count);
        text = words.join(" ");
        count = counter.count(&text);
    }
    if count == target {
        return Fitted {
            text,
            tokens: count,
        };
    }

    // Fine: at or below the target by dropping words, then up by single words.
    while count > target && words.len() > keep {
        note(&text, count);
        words.pop();
        text = words.join(" ");
        count = counter.count(&text);
    }
    // Candidates in a seeded order, one-token words first (each adds exactly one token).
    let start = (rng.next_u64() >> 57) as usize;
    let singles = counter.single_token_words();
    let mut order: Vec<&'static str> = Vec::with_capacity(VOCAB.len());
    for j in 0..VOCAB.len() {
        let w = VOCAB[(start + j) % VOCAB.len()];
        if singles.contains(&w) {
            order.push(w);
        }
    }
    for j in 0..VOCAB.len() {
        let w = VOCAB[(start + j) % VOCAB.len()];
        if !singles.contains(&w) {
            order.push(w);
        }
    }
    let appended = |text: &str, w: &str| {
        if text.is_empty() {
            w.to_string()
        } else {
            format!("{text} {w}")
        }
    };
    // Costs of appending each word to the text as it was when no word fitted any more.
    let mut costs: Vec<(usize, &'static str)> = Vec::new();
    while count < target {
        note(&text, count);
        costs.clear();
        let mut next = None;
        for &w in &order {
            let candidate = appended(&text, w);
            let c = counter.count(&candidate);
            if c <= target && c > count {
                next = Some((w, candidate, c));
                break;
            }
            note(&candidate, c);
            if c > count {
                costs.push((c - count, w));
            }
        }
        match next {
            Some((w, candidate, c)) => {
                words.push(w);
                text = candidate;
                count = c;
            }
            None => break,
        }
    }
    if count == target {
        return Fitted {
            text,
            tokens: count,
        };
    }
    note(&text, count);

    // Every word overshoots the remaining gap: drop the last one or two words and refill the
    // larger gap with up to three words whose costs add up to it.
    if count < target && !costs.is_empty() {
        let mut distinct: Vec<(usize, &'static str)> = Vec::new();
        for (c, w) in &costs {
            if !distinct.iter().any(|(d, _)| d == c) {
                distinct.push((*c, w));
            }
        }
        for drop in 1..=2 {
            if words.len() < keep + drop {
                break;
            }
            let base = words[..words.len() - drop].join(" ");
            let base_count = counter.count(&base);
            let Some(gap) = target.checked_sub(base_count) else {
                continue;
            };
            if let Some(fill) = combination(&distinct, gap) {
                let candidate = fill.iter().fold(base, |t, w| appended(&t, w));
                let c = counter.count(&candidate);
                if c == target {
                    return Fitted {
                        text: candidate,
                        tokens: c,
                    };
                }
                note(&candidate, c);
            }
        }
    }
    if best.tokens == usize::MAX {
        // Nothing but the empty text was seen.
        return Fitted {
            text,
            tokens: count,
        };
    }
    best
}

/// With word costs from `counter` ([`TokenCounter::word_tokens`]), change the words after
/// the first `keep` until their predicted count is `target`, so that the first real count
/// usually agrees: drop words from the end while over, then append words of `rng` that do not
/// overshoot (one-token words once a few draws have). Leaves `words` alone without costs.
fn predict(
    counter: &dyn TokenCounter,
    rng: &mut Rng,
    words: &mut Vec<&'static str>,
    keep: usize,
    target: usize,
) {
    let cost = |i: usize, w: &str| counter.word_tokens(w, i == 0);
    let mut predicted = 0;
    for (i, w) in words.iter().enumerate() {
        match cost(i, w) {
            Some(c) => predicted += c,
            None => return,
        }
    }
    while predicted > target && words.len() > keep {
        let i = words.len() - 1;
        predicted -= cost(i, words[i]).unwrap_or(0);
        words.pop();
    }
    let singles = counter.single_token_words();
    let mut misses = 0;
    while predicted < target && misses < 64 {
        let i = words.len();
        let w = if misses < 8 || singles.is_empty() {
            word(rng)
        } else {
            pick(rng, singles)
        };
        match cost(i, w) {
            Some(c) if c >= 1 && c <= target - predicted => {
                words.push(w);
                predicted += c;
            }
            _ => misses += 1,
        }
    }
}

/// Up to three words whose costs add up to `gap` (costs as `(cost, word)`, distinct).
fn combination(costs: &[(usize, &'static str)], gap: usize) -> Option<Vec<&'static str>> {
    for (a, wa) in costs {
        if *a == gap {
            return Some(vec![wa]);
        }
        for (b, wb) in costs {
            if a + b == gap {
                return Some(vec![wa, wb]);
            }
            for (c, wc) in costs {
                if a + b + c == gap {
                    return Some(vec![wa, wb, wc]);
                }
            }
        }
    }
    None
}

/// Draws lengths from a [`LengthSpec`] (checked with [`check`] first).
#[derive(Clone, Debug)]
pub struct LengthSampler {
    spec: LengthSpec,
    /// Cumulative weights for `empirical`.
    cumulative: Vec<f64>,
}

impl LengthSampler {
    /// A sampler for `spec`.
    pub fn new(spec: &LengthSpec) -> Self {
        let cumulative = match spec {
            LengthSpec::Empirical(e) => {
                let mut total = 0.0;
                (0..e.values.len())
                    .map(|i| {
                        total += e.weights.as_ref().map_or(1.0, |w| w[i].max(0.0));
                        total
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        LengthSampler {
            spec: spec.clone(),
            cumulative,
        }
    }

    /// One length (at least 1).
    pub fn sample(&self, rng: &mut Rng) -> u32 {
        let v = match &self.spec {
            LengthSpec::Fixed(n) => *n,
            LengthSpec::Uniform(u) => {
                let span = u64::from(u.max.saturating_sub(u.min)) + 1;
                // Multiply-high: an unbiased-enough draw in [0, span) without division.
                let k = ((u128::from(rng.next_u64()) * u128::from(span)) >> 64) as u32;
                u.min + k
            }
            LengthSpec::Normal(n) => {
                let x = (n.mean + n.stddev * rng.standard_normal()).round();
                let lo = f64::from(normal_min(n));
                let hi = f64::from(normal_max(n));
                x.clamp(lo, hi.max(lo)) as u32
            }
            LengthSpec::Empirical(e) => {
                let total = self.cumulative.last().copied().unwrap_or(0.0);
                let u = rng.next_f64() * total;
                let i = self.cumulative.partition_point(|c| *c <= u);
                e.values[i.min(e.values.len() - 1)]
            }
        };
        v.max(1)
    }
}

/// A problem in a synthetic spec, located by key path.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// Where (under the dataset's `synthetic` key).
    pub path: KeyPath,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

/// Most rows a synthetic dataset may have (they are held in memory).
pub const MAX_COUNT: u32 = 1_000_000;

/// The longest prompt or output length, in tokens (2^20): the longest context windows served
/// today are about a million tokens, and a prompt of this length is 4 MB of text and about a
/// second of fitting under a real tokenizer. Longer lengths are typos (a unit or an extra
/// digit), rejected before any text is built.
pub const MAX_LENGTH_TOKENS: u32 = 1 << 20;

/// Most prompt tokens a dataset may have built at plan time (`validate` too): synthetic
/// `count` x the longest possible input plus the prefixes, or a trace's generated records.
/// Each token is 4 bytes of text, held twice (the row and its `item.input`): at most about
/// 1.6 GB. It admits a million rows of up to 200 tokens, or 190 prompts of the longest length.
pub const MAX_PLAN_TOKENS: u64 = 200_000_000;

/// Normal draws beyond this many standard deviations above the mean are clipped when no
/// `max` is given: the odds of one are below 1e-15, and the bound makes the longest possible
/// length (and so the text built at plan time) known before drawing.
const NORMAL_DEFAULT_MAX_SDS: f64 = 8.0;

/// The lower clip of a normal length: `min`, by default 1 token.
fn normal_min(n: &NormalLength) -> u32 {
    n.min.unwrap_or(1)
}

/// The upper clip of a normal length: `max`, by default `mean + 8 stddev` rounded up (within
/// `[min, MAX_LENGTH_TOKENS]`).
fn normal_max(n: &NormalLength) -> u32 {
    n.max.unwrap_or_else(|| {
        let hi = (n.mean + NORMAL_DEFAULT_MAX_SDS * n.stddev).ceil();
        // `as` saturates; NaN (a spec that failed `check`) becomes 0.
        (hi.min(f64::from(MAX_LENGTH_TOKENS)) as u32).max(normal_min(n))
    })
}

/// The longest length `length` can draw.
pub fn longest(length: &LengthSpec) -> u32 {
    match length {
        LengthSpec::Fixed(n) => *n,
        LengthSpec::Uniform(u) => u.max.max(u.min),
        LengthSpec::Normal(n) => normal_max(n).max(normal_min(n)),
        LengthSpec::Empirical(e) => e.values.iter().copied().max().unwrap_or(1),
    }
    .max(1)
}

/// The shortest length `length` can draw.
pub fn shortest(length: &LengthSpec) -> u32 {
    match length {
        LengthSpec::Fixed(n) => *n,
        LengthSpec::Uniform(u) => u.min,
        LengthSpec::Normal(n) => normal_min(n).min(normal_max(n)),
        LengthSpec::Empirical(e) => e.values.iter().copied().min().unwrap_or(1),
    }
    .max(1)
}

/// Every problem of `spec`, located under `path` (the `synthetic` key).
pub fn check(spec: &SyntheticSpec, path: &KeyPath) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut push = |path: KeyPath, message: String, help: Option<&str>| {
        out.push(Problem {
            path,
            message,
            help: help.map(String::from),
        })
    };
    if spec.count == 0 || spec.count > MAX_COUNT {
        push(
            path.key("count"),
            format!(
                "count must be between 1 and {MAX_COUNT}, found {}",
                spec.count
            ),
            Some("`count` is the number of distinct prompts; cases cycle through them"),
        );
    }
    for (key, length) in [
        ("input_tokens", &spec.input_tokens),
        ("output_tokens", &spec.output_tokens),
    ] {
        let p = path.key(key);
        match length {
            LengthSpec::Fixed(n) => {
                if *n == 0 {
                    push(
                        p.key("fixed"),
                        "a length must be at least 1 token".into(),
                        None,
                    );
                }
                too_long(&mut push, p.key("fixed"), "fixed", *n);
            }
            LengthSpec::Uniform(u) => {
                if u.min == 0 {
                    push(
                        p.key("uniform").key("min"),
                        "a length must be at least 1 token".into(),
                        None,
                    );
                }
                if u.min > u.max {
                    push(
                        p.key("uniform").key("max"),
                        format!("max ({}) is below min ({})", u.max, u.min),
                        Some("the range is min..=max"),
                    );
                }
                too_long(&mut push, p.key("uniform").key("max"), "max", u.max);
            }
            LengthSpec::Normal(n) => {
                if !n.mean.is_finite() {
                    push(
                        p.key("normal").key("mean"),
                        "mean must be a finite number".into(),
                        None,
                    );
                }
                if !(n.stddev.is_finite() && n.stddev >= 0.0) {
                    push(
                        p.key("normal").key("stddev"),
                        format!("stddev must be a non-negative number, found {}", n.stddev),
                        None,
                    );
                }
                if n.min == Some(0) {
                    push(
                        p.key("normal").key("min"),
                        "a length must be at least 1 token".into(),
                        None,
                    );
                }
                // The default min (1) counts too: `max: 0` would give all 1s.
                if let Some(hi) = n.max
                    && normal_min(n) > hi
                {
                    let lo = match n.min {
                        Some(lo) => format!("min ({lo})"),
                        None => "min (1, the default)".into(),
                    };
                    push(
                        p.key("normal").key("max"),
                        format!("max ({hi}) is below {lo}"),
                        Some("lengths are clipped to min..=max; a length is at least 1 token"),
                    );
                }
                if let Some(lo) = n.min {
                    too_long(&mut push, p.key("normal").key("min"), "min", lo);
                }
                match n.max {
                    Some(hi) => too_long(&mut push, p.key("normal").key("max"), "max", hi),
                    None if n.mean > f64::from(MAX_LENGTH_TOKENS) => push(
                        p.key("normal").key("mean"),
                        format!(
                            "mean ({}) is more than the longest length, {MAX_LENGTH_TOKENS} tokens",
                            crate::spec::duration::compact_number(n.mean)
                        ),
                        Some(TOO_LONG_HELP),
                    ),
                    None => {}
                }
            }
            LengthSpec::Empirical(e) => {
                let ep = p.key("empirical");
                if e.values.is_empty() {
                    push(
                        ep.key("values"),
                        "values is empty".into(),
                        Some("list the lengths to draw from, e.g. [128, 512, 2048]"),
                    );
                }
                if let Some(i) = e.values.iter().position(|v| *v == 0) {
                    push(
                        ep.key("values").index(i),
                        "a length must be at least 1 token".into(),
                        None,
                    );
                }
                if let Some(i) = e.values.iter().position(|v| *v > MAX_LENGTH_TOKENS) {
                    too_long(&mut push, ep.key("values").index(i), "value", e.values[i]);
                }
                if let Some(w) = &e.weights {
                    if w.len() != e.values.len() {
                        push(
                            ep.key("weights"),
                            format!("{} weights for {} values", w.len(), e.values.len()),
                            Some("give one weight per value, or no weights for equal ones"),
                        );
                    } else if let Some(i) = w.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
                        push(
                            ep.key("weights").index(i),
                            format!("weights must be non-negative numbers, found {}", w[i]),
                            None,
                        );
                    } else if !e.values.is_empty() && w.iter().sum::<f64>() <= 0.0 {
                        push(ep.key("weights"), "the weights add up to 0".into(), None);
                    }
                }
            }
        }
    }
    if let Some(prefix) = &spec.prefix {
        if prefix.groups == 0 {
            push(
                path.key("prefix").key("groups"),
                "groups must be at least 1".into(),
                None,
            );
        }
        if prefix.tokens == 0 {
            push(
                path.key("prefix").key("tokens"),
                "prefix tokens must be at least 1".into(),
                Some("remove `prefix` for prompts without a shared system prompt"),
            );
        }
        too_long(
            &mut push,
            path.key("prefix").key("tokens"),
            "tokens",
            prefix.tokens,
        );
        if prefix.tokens >= 1 && prefix.tokens <= MAX_LENGTH_TOKENS {
            for p in check_groups(prefix.groups, prefix.tokens, VOCAB.len(), path) {
                push(p.path, p.message, p.help.as_deref());
            }
        }
    }
    // Everything built at plan time, from the longest lengths (only when each is in range).
    let longest_input = longest(&spec.input_tokens);
    let (groups, prefix_tokens) = spec
        .prefix
        .as_ref()
        .map_or((0, 0), |p| (p.groups.min(spec.count), p.tokens));
    if longest_input <= MAX_LENGTH_TOKENS && prefix_tokens <= MAX_LENGTH_TOKENS {
        let inputs = u64::from(spec.count) * u64::from(longest_input);
        let prefixes = u64::from(groups) * u64::from(prefix_tokens);
        if inputs + prefixes > MAX_PLAN_TOKENS {
            let prefix_part = if prefixes > 0 {
                format!(" and {groups} prefixes x {prefix_tokens}")
            } else {
                String::new()
            };
            push(
                path.key("count"),
                format!(
                    "the prompts could be up to {} tokens ({} rows x up to {longest_input} input \
                     tokens{prefix_part}), more than the {MAX_PLAN_TOKENS} built at plan time",
                    inputs + prefixes,
                    spec.count,
                ),
                Some(
                    "lower `count` or the longest `input_tokens`: cases cycle through the rows \
                     (with `nonce: true` each execution's input still differs)",
                ),
            );
        }
    }
    out
}

/// The help for a length past [`MAX_LENGTH_TOKENS`].
pub(crate) const TOO_LONG_HELP: &str =
    "lengths are in tokens; a prompt or output is at most 1048576 (2^20) tokens";

/// Reports `value` (the length at `path`, called `what`) past [`MAX_LENGTH_TOKENS`].
fn too_long(
    push: &mut impl FnMut(KeyPath, String, Option<&str>),
    path: KeyPath,
    what: &str,
    value: u32,
) {
    if value > MAX_LENGTH_TOKENS {
        push(
            path,
            format!("{what} ({value}) is more than the longest length, {MAX_LENGTH_TOKENS} tokens"),
            Some(TOO_LONG_HELP),
        );
    }
}

/// Distinct prefixes of `tokens` words from a vocabulary of `vocabulary` words
/// (`vocabulary^tokens`, saturating).
pub fn distinct_prefixes(vocabulary: usize, tokens: u32) -> u128 {
    (vocabulary as u128).saturating_pow(tokens)
}

/// The problem of `groups` prefix groups of `tokens` tokens each when prefixes are made of
/// `vocabulary` one-token words (at most `vocabulary^tokens` of them differ), located under
/// `path` (the `synthetic` key).
pub fn check_groups(groups: u32, tokens: u32, vocabulary: usize, path: &KeyPath) -> Vec<Problem> {
    let possible = distinct_prefixes(vocabulary, tokens);
    if u128::from(groups) <= possible {
        return Vec::new();
    }
    // The fewest tokens that hold `groups` distinct prefixes.
    let needed = (1..=32)
        .find(|t| distinct_prefixes(vocabulary, *t) >= u128::from(groups))
        .unwrap_or(32);
    vec![Problem {
        path: path.key("prefix").key("groups"),
        message: format!(
            "{groups} groups need {groups} distinct prefixes, but prefixes of {tokens} token{} \
             from {vocabulary} one-token words allow only {possible}",
            if tokens == 1 { "" } else { "s" },
        ),
        help: Some(format!(
            "set `prefix.tokens` to at least {needed}, or use at most {possible} groups"
        )),
    }]
}

/// The words that encode a prefix's group for `counter`: its one-token words (so the
/// group's words keep the prefix's count), all of [`VOCAB`] when it has none.
pub fn prefix_words(counter: &dyn TokenCounter) -> &[&'static str] {
    let words = counter.single_token_words();
    if words.is_empty() { &VOCAB } else { words }
}

/// The problems of `spec` that depend on `counter` (run after [`check`] found none): prefix
/// groups against the number of distinct prefixes its one-token words allow.
pub fn check_counter(
    spec: &SyntheticSpec,
    counter: &dyn TokenCounter,
    path: &KeyPath,
) -> Vec<Problem> {
    match &spec.prefix {
        Some(p) => check_groups(p.groups, p.tokens, prefix_words(counter).len(), path),
        None => Vec::new(),
    }
}

/// The shared prefix text of group `group` of `groups` (`tokens` tokens under `counter`).
/// Its first words encode the group number (see [`prefix_fitted`]), so no two groups'
/// prefixes are the same text.
pub fn prefix_text(
    counter: &dyn TokenCounter,
    seed: u64,
    group: u32,
    groups: u32,
    tokens: u32,
) -> String {
    prefix_fitted(counter, seed, group, groups, tokens).text
}

/// [`prefix_text`] with its count. The first `d` words, `d` the digits of `groups - 1` in base
/// `|W|` (`W`: [`prefix_words`]), are the group number's digits, least significant first,
/// each shifted by a seeded offset: two groups differ in at least one of them, and for up
/// to `|W|` groups the first word alone differs. The rest is random and fitted around them.
/// With more groups than `|W|^tokens` ([`check_counter`]) `W` is all of [`VOCAB`], whose
/// words may take more tokens (the prefix may then miss its length); past `128^tokens`
/// ([`check`]) the digits wrap.
fn prefix_fitted(
    counter: &dyn TokenCounter,
    seed: u64,
    group: u32,
    groups: u32,
    tokens: u32,
) -> Fitted {
    let prefix_seed = derive_seed(seed, SALT_PREFIX);
    let mut rng = Rng::new(derive_seed(prefix_seed, u64::from(group)));
    let mut words: Vec<&'static str> = (0..tokens).map(|_| word(&mut rng)).collect();
    // The counter's one-token words when they give every group its own prefix; else (more
    // groups than `check_counter` allows) all of VOCAB: distinct, but maybe not exact.
    let singles = prefix_words(counter);
    let alphabet = if distinct_prefixes(singles.len(), tokens) >= u128::from(groups) {
        singles
    } else {
        &VOCAB
    };
    let base = alphabet.len() as u64;
    let mut digits = 1;
    let mut span = base;
    while span < u64::from(groups) && digits < words.len() {
        digits += 1;
        span = span.saturating_mul(base);
    }
    let digits = digits.min(words.len());
    let mut rest = u64::from(group);
    for (j, w) in words.iter_mut().take(digits).enumerate() {
        // The first offset is the seed itself, as before groups took more than one word.
        let offset = if j == 0 {
            prefix_seed
        } else {
            derive_seed(prefix_seed, j as u64)
        };
        *w = alphabet[((offset % base + rest % base) % base) as usize];
        rest /= base;
    }
    // The group's words stay; the rest is fitted around them.
    fit_words(counter, &mut rng, words, digits, tokens as usize)
}

/// The words the nonce is drawn from for `counter`: its one-token words when there are
/// enough of them for distinct nonces (16 words: 32 bits), else all of [`VOCAB`].
pub fn nonce_words(counter: &dyn TokenCounter) -> &[&'static str] {
    let words = counter.single_token_words();
    if words.len() >= 16 { words } else { &VOCAB }
}

/// Generate the rows of `spec` (checked with [`check`] first). `default_seed` is
/// `workload.seed`, used when the spec has no seed of its own.
///
/// Texts are fitted to their lengths under `counter` ([`fit_words`]). With `nonce`, the first
/// words of each input (up to [`NONCE_TOKENS`]) are drawn from [`nonce_words`], as every
/// nonce is, so a nonce keeps the count; each row is checked with one nonce. Rows whose text
/// could not be made exact (or whose count a nonce changes) are counted in
/// [`Dataset::inexact_rows`], and their `item.input_tokens` is the text's real count.
pub fn generate(
    name: &str,
    spec: &SyntheticSpec,
    default_seed: u64,
    counter: &dyn TokenCounter,
) -> Dataset {
    let seed = spec.seed.unwrap_or(default_seed);
    let inputs = LengthSampler::new(&spec.input_tokens);
    let outputs = LengthSampler::new(&spec.output_tokens);
    let mut input_rng = Rng::new(derive_seed(seed, SALT_INPUT_LENGTHS));
    let mut output_rng = Rng::new(derive_seed(seed, SALT_OUTPUT_LENGTHS));
    let text_seed = derive_seed(seed, SALT_TEXT);
    let nonce_vocab = nonce_words(counter);
    let (groups, prefix_tokens) = match &spec.prefix {
        Some(p) => (p.groups.max(1), p.tokens),
        None => (1, 0),
    };
    // Row i is in group i mod groups: groups past `count` have no rows.
    let prefixes: Vec<Fitted> = (0..groups.min(spec.count.max(1)))
        .into_par_iter()
        .map(|g| {
            if prefix_tokens == 0 {
                Fitted {
                    text: String::new(),
                    tokens: 0,
                }
            } else {
                prefix_fitted(counter, seed, g, groups, prefix_tokens)
            }
        })
        .collect();
    // Lengths in row order (one stream each), then texts in parallel (one stream per row).
    let lengths: Vec<(u32, u32)> = (0..spec.count)
        .map(|_| {
            let input_tokens = inputs.sample(&mut input_rng);
            (input_tokens, outputs.sample(&mut output_rng))
        })
        .collect();
    let built: Vec<(Row, bool)> = lengths
        .into_par_iter()
        .enumerate()
        .map(|(i, (input_tokens, output_tokens))| {
            let i = i as u32;
            let mut rng = Rng::new(derive_seed(text_seed, u64::from(i)));
            let fixed = if spec.nonce {
                (input_tokens as usize).min(NONCE_TOKENS)
            } else {
                0
            };
            let words = (0..input_tokens as usize)
                .map(|j| {
                    if j < fixed {
                        pick(&mut rng, nonce_vocab)
                    } else {
                        word(&mut rng)
                    }
                })
                .collect();
            let fitted = fit_words(counter, &mut rng, words, fixed, input_tokens as usize);
            let group = i % groups;
            let prefix = &prefixes[group as usize];
            let nonce_keeps = !spec.nonce || {
                let probe = nonce_from(nonce_vocab, seed, "check", u64::from(i));
                counter.count(&apply_nonce(&fitted.text, &probe)) == fitted.tokens
            };
            let exact = fitted.is_exact(input_tokens as usize)
                && nonce_keeps
                && prefix.is_exact(prefix_tokens as usize);
            let input = fitted.text;
            let id = i.to_string();
            let mut item = Map::new();
            item.insert("id".into(), Value::String(id.clone()));
            item.insert("input".into(), Value::String(input.clone()));
            item.insert("references".into(), json!([]));
            item.insert("input_tokens".into(), json!(fitted.tokens));
            item.insert("output_tokens".into(), json!(output_tokens));
            item.insert("prefix".into(), Value::String(prefix.text.clone()));
            item.insert("prefix_tokens".into(), json!(prefix.tokens));
            item.insert("prefix_group".into(), json!(group));
            let row = Row {
                id,
                input,
                references: Vec::new(),
                item: Value::Object(item),
                output_tokens: Some(output_tokens),
            };
            (row, exact)
        })
        .collect();
    let inexact_rows = built.iter().filter(|(_, exact)| !exact).count();
    let rows = built.into_iter().map(|(row, _)| row).collect();
    Dataset {
        name: name.to_string(),
        rows,
        nonce: spec.nonce,
        ignore_eos: spec.ignore_eos,
        nonce_words: (nonce_vocab.len() != VOCAB.len()).then(|| nonce_vocab.into()),
        tokenizer: None,
        inexact_rows,
    }
}

/// The nonce of one execution: [`NONCE_TOKENS`] vocabulary words derived from the run's seed,
/// the trial id and the execution index (so it differs between executions of the same row
/// and between trials, and is the same in every run with the same seed).
pub fn nonce(seed: u64, trial_id: &str, index: u64) -> String {
    nonce_from(&VOCAB, seed, trial_id, index)
}

/// [`nonce`] drawn from `words` (a dataset's [`nonce_words`]); the same as [`nonce`] for
/// [`VOCAB`].
pub fn nonce_from(words: &[&'static str], seed: u64, trial_id: &str, index: u64) -> String {
    let trial = derive_seed(derive_seed(seed, SALT_NONCE), fnv1a64(trial_id.as_bytes()));
    let mut rng = Rng::new(derive_seed(trial, index));
    let words: Vec<&str> = (0..NONCE_TOKENS).map(|_| pick(&mut rng, words)).collect();
    words.join(" ")
}

/// Distinct nonces an input of `input_words` words can hold: its first
/// `min(input_words, NONCE_TOKENS)` words, each one of `vocabulary` (saturating).
pub fn distinct_nonces(vocabulary: usize, input_words: usize) -> u128 {
    distinct_prefixes(vocabulary, input_words.min(NONCE_TOKENS) as u32)
}

/// Executions of row `row` in a trial of `cases` executions over `rows` rows, the first
/// `warmup` walking the rows from the start and the others going row by row, each `repeats`
/// times, cycling (as the executor assigns them: `exec::case_of_index`).
pub fn executions_of_row(row: u64, cases: u64, warmup: u64, rows: u64, repeats: u64) -> u64 {
    let rows = rows.max(1);
    let repeats = repeats.max(1);
    let warm = cases.min(warmup);
    let warm_runs = warm / rows + u64::from(row < warm % rows);
    let measured = cases - warm;
    let pass = rows.saturating_mul(repeats);
    let rest = measured % pass;
    let this_pass = rest.saturating_sub(row * repeats).min(repeats);
    warm_runs + (measured / pass) * repeats + this_pass
}

/// The problem when a trial of `cases` executions (`warmup` of them warm-up, each measured
/// row `repeats` times in a row) runs some row of `dataset` more often than its input holds
/// distinct nonces ([`distinct_nonces`]), so that its prompt is certainly sent twice; `None`
/// without `nonce` or when every row has nonces enough. Located at `input_tokens` under
/// `path` (the dataset's `synthetic` key). Nonces are drawn at random, so fewer executions
/// can repeat too (about `e^2 / 2N` pairs for `e` executions of a row with `N` nonces).
pub fn check_nonces(
    dataset: &Dataset,
    path: &KeyPath,
    cases: u64,
    warmup: u64,
    repeats: u32,
) -> Option<Problem> {
    if !dataset.nonce || dataset.rows.is_empty() {
        return None;
    }
    let vocabulary = dataset
        .nonce_words
        .as_ref()
        .map_or(VOCAB.len(), |w| w.len());
    let rows = dataset.rows.len() as u64;
    // The row that overruns its nonces most: (row, input words, executions, possible).
    let mut worst: Option<(usize, usize, u64, u128)> = None;
    for (r, row) in dataset.rows.iter().enumerate() {
        let words = row.input.split(' ').count();
        let possible = distinct_nonces(vocabulary, words);
        if possible >= u128::from(cases) {
            continue;
        }
        let runs = executions_of_row(r as u64, cases, warmup, rows, u64::from(repeats));
        if u128::from(runs) > possible
            && worst.is_none_or(|(_, _, w_runs, w_possible)| {
                u128::from(runs) - possible > u128::from(w_runs) - w_possible
            })
        {
            worst = Some((r, words, runs, possible));
        }
    }
    let (row, _, runs, possible) = worst?;
    let tokens = dataset.rows[row].item["input_tokens"]
        .as_u64()
        .unwrap_or_default();
    // Row 0 runs most often (warm-up and every pass start there).
    let most = executions_of_row(0, cases, warmup, rows, u64::from(repeats));
    let longer = (1..=NONCE_TOKENS)
        .find(|w| distinct_nonces(vocabulary, *w) >= u128::from(most))
        .map(|w| {
            format!(
                "inputs of at least {w} tokens (`input_tokens` min: {} nonces), ",
                distinct_nonces(vocabulary, w)
            )
        })
        .unwrap_or_default();
    Some(Problem {
        path: path.key("input_tokens"),
        message: format!(
            "row {row} runs {runs} times in a trial of {cases} requests, but the nonce in its \
             input of {tokens} token{} can take only {possible} values: with `nonce: true` its \
             prompt would repeat",
            if tokens == 1 { "" } else { "s" },
        ),
        help: Some(format!(
            "use {longer}more rows (`count`), or fewer requests"
        )),
    })
}

/// `input` with its first words replaced by the first words of `nonce` (as many as both
/// have). For synthetic text, whose words all have three letters, the byte length, and so the
/// simulated token count, is unchanged.
pub fn apply_nonce(input: &str, nonce: &str) -> String {
    let k = nonce.split(' ').count().min(input.split(' ').count());
    let cut = |text: &str| -> usize {
        text.match_indices(' ')
            .nth(k - 1)
            .map_or(text.len(), |(i, _)| i)
    };
    let mut out = String::with_capacity(input.len());
    out.push_str(&nonce[..cut(nonce)]);
    out.push_str(&input[cut(input)..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{EmpiricalLength, NormalLength, PrefixSpec, UniformLength};

    /// `check`'s problems as `path: message` lines.
    fn problems(s: &SyntheticSpec, p: &KeyPath) -> Vec<String> {
        check(s, p)
            .into_iter()
            .map(|x| format!("{}: {}", x.path, x.message))
            .collect()
    }

    fn spec(input: LengthSpec, output: LengthSpec) -> SyntheticSpec {
        SyntheticSpec {
            count: 50,
            input_tokens: input,
            output_tokens: output,
            prefix: None,
            nonce: false,
            ignore_eos: false,
            seed: Some(7),
            tokenizer: None,
        }
    }

    fn draws(l: &LengthSpec, seed: u64, n: usize) -> Vec<u32> {
        let s = LengthSampler::new(l);
        let mut rng = Rng::new(seed);
        (0..n).map(|_| s.sample(&mut rng)).collect()
    }

    fn mean_sd(v: &[u32]) -> (f64, f64) {
        let m = v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (f64::from(*x) - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
        (m, var.sqrt())
    }

    #[test]
    fn vocabulary_words_are_three_distinct_lowercase_letters() {
        let mut seen = std::collections::HashSet::new();
        for w in VOCAB {
            assert!(
                w.len() == 3 && w.bytes().all(|b| b.is_ascii_lowercase()),
                "{w}"
            );
            assert!(seen.insert(w), "duplicate {w}");
        }
    }

    #[test]
    fn fixed_is_constant() {
        assert!(
            draws(&LengthSpec::Fixed(128), 1, 1000)
                .iter()
                .all(|x| *x == 128)
        );
    }

    #[test]
    fn uniform_covers_its_range_evenly() {
        let l = LengthSpec::Uniform(UniformLength { min: 10, max: 19 });
        let v = draws(&l, 2, 100_000);
        assert!(v.iter().all(|x| (10..=19).contains(x)));
        let mut counts = [0usize; 10];
        for x in &v {
            counts[(*x - 10) as usize] += 1;
        }
        // Each value's share within 1 point of 10%.
        for c in counts {
            assert!((c as f64 / 1e5 - 0.1).abs() < 0.01, "{counts:?}");
        }
        let (m, _) = mean_sd(&v);
        assert!((m - 14.5).abs() < 0.05, "{m}");
        // A one-value range.
        let one = LengthSpec::Uniform(UniformLength { min: 5, max: 5 });
        assert!(draws(&one, 3, 100).iter().all(|x| *x == 5));
    }

    #[test]
    fn normal_has_its_moments_and_is_clipped() {
        let wide = LengthSpec::Normal(NormalLength {
            mean: 512.0,
            stddev: 128.0,
            min: None,
            max: None,
        });
        let (m, sd) = mean_sd(&draws(&wide, 4, 100_000));
        assert!((m - 512.0).abs() < 2.0, "{m}");
        assert!((sd - 128.0).abs() < 2.0, "{sd}");
        // Clipped at one standard deviation each side: about 15.9% at each bound.
        let clipped = LengthSpec::Normal(NormalLength {
            mean: 100.0,
            stddev: 20.0,
            min: Some(80),
            max: Some(120),
        });
        let v = draws(&clipped, 5, 100_000);
        assert!(v.iter().all(|x| (80..=120).contains(x)));
        for bound in [80, 120] {
            let share = v.iter().filter(|x| **x == bound).count() as f64 / 1e5;
            // Draws that round to the bound or beyond: P(z <= -0.975) = 0.165.
            assert!((share - 0.165).abs() < 0.01, "{bound}: {share}");
        }
        // The default lower clip is 1 token.
        let low = LengthSpec::Normal(NormalLength {
            mean: 0.0,
            stddev: 5.0,
            min: None,
            max: None,
        });
        assert!(draws(&low, 6, 10_000).iter().all(|x| *x >= 1));
    }

    #[test]
    fn empirical_follows_its_weights() {
        let l = LengthSpec::Empirical(EmpiricalLength {
            values: vec![100, 200, 300],
            weights: Some(vec![1.0, 2.0, 7.0]),
        });
        let v = draws(&l, 8, 100_000);
        for (value, p) in [(100, 0.1), (200, 0.2), (300, 0.7)] {
            let share = v.iter().filter(|x| **x == value).count() as f64 / 1e5;
            assert!((share - p).abs() < 0.01, "{value}: {share}");
        }
        let equal = LengthSpec::Empirical(EmpiricalLength {
            values: vec![1, 2],
            weights: None,
        });
        let share = draws(&equal, 9, 100_000)
            .iter()
            .filter(|x| **x == 1)
            .count() as f64
            / 1e5;
        assert!((share - 0.5).abs() < 0.01, "{share}");
        // A zero weight is never drawn.
        let zero = LengthSpec::Empirical(EmpiricalLength {
            values: vec![1, 2, 3],
            weights: Some(vec![0.0, 1.0, 0.0]),
        });
        assert!(draws(&zero, 10, 10_000).iter().all(|x| *x == 2));
    }

    #[test]
    fn draws_are_deterministic_by_seed() {
        for l in [
            LengthSpec::Uniform(UniformLength { min: 1, max: 1000 }),
            LengthSpec::Normal(NormalLength {
                mean: 50.0,
                stddev: 10.0,
                min: None,
                max: None,
            }),
            LengthSpec::Empirical(EmpiricalLength {
                values: vec![1, 2, 3, 4],
                weights: None,
            }),
        ] {
            assert_eq!(draws(&l, 11, 100), draws(&l, 11, 100));
            assert_ne!(draws(&l, 11, 100), draws(&l, 12, 100));
        }
    }

    #[test]
    fn texts_have_exact_simulated_token_counts() {
        let mut rng = Rng::new(1);
        for n in [1u32, 2, 3, 7, 64, 1000] {
            let t = build_text(&SimTokens, &mut rng, n);
            assert_eq!(SimTokens.count(&t), n as usize, "{t}");
            assert_eq!(t.len(), 4 * n as usize - 1);
            assert_eq!(t.split(' ').count(), n as usize);
        }
        // Joined with one or two separator bytes, counts add up.
        let a = build_text(&SimTokens, &mut rng, 100);
        let b = build_text(&SimTokens, &mut rng, 37);
        assert_eq!(SimTokens.count(&format!("{a}\n{b}")), 137);
        assert_eq!(SimTokens.count(&format!("{a}\n\n{b}")), 137);
    }

    /// A stand-in for a real tokenizer that disagrees with the word count: every word of
    /// `the` counts twice.
    struct Doubling;
    impl TokenCounter for Doubling {
        fn count(&self, text: &str) -> usize {
            text.split(' ')
                .filter(|w| !w.is_empty())
                .map(|w| if w == "the" { 2 } else { 1 })
                .sum()
        }
    }

    #[test]
    fn other_tokenizers_get_exact_lengths() {
        let mut rng = Rng::new(3);
        for n in [1u32, 2, 10, 100, 500] {
            let t = build_text(&Doubling, &mut rng, n);
            assert_eq!(Doubling.count(&t), n as usize, "{n}");
        }
    }

    /// Words from `a` to `m` count 2 tokens, the others 3: no one-token word at all.
    struct TwoOrThree;
    impl TokenCounter for TwoOrThree {
        fn count(&self, text: &str) -> usize {
            text.split(' ')
                .filter(|w| !w.is_empty())
                .map(|w| if w.as_bytes()[0] <= b'm' { 2 } else { 3 })
                .sum()
        }
        fn single_token_words(&self) -> &[&'static str] {
            &[]
        }
    }

    /// Every word counts 2: odd lengths are out of reach.
    struct Pairs;
    impl TokenCounter for Pairs {
        fn count(&self, text: &str) -> usize {
            2 * text.split(' ').filter(|w| !w.is_empty()).count()
        }
    }

    #[test]
    fn lengths_are_exact_when_reachable_and_closest_otherwise() {
        let mut rng = Rng::new(4);
        // 2a + 3b reaches every length from 2; the last gap of 1 needs words replaced.
        for n in 2..60usize {
            let words = (0..n).map(|_| word(&mut rng)).collect();
            let f = fit_words(&TwoOrThree, &mut rng, words, 0, n);
            assert_eq!(f.tokens, n, "{n}: {}", f.text);
            assert_eq!(TwoOrThree.count(&f.text), n);
        }
        let f = fit_words(&TwoOrThree, &mut rng, vec!["the"], 0, 1);
        assert_eq!((f.tokens, f.is_exact(1)), (2, false));
        for n in [1usize, 7, 99] {
            let words = (0..n).map(|_| word(&mut rng)).collect();
            let f = fit_words(&Pairs, &mut rng, words, 0, n);
            assert_eq!(f.tokens.abs_diff(n), 1, "{n}");
            assert_eq!(Pairs.count(&f.text), f.tokens);
        }
        // Kept words stay, even when they alone overshoot.
        let f = fit_words(&Doubling, &mut rng, vec!["the", "the", "sea"], 2, 3);
        assert!(f.text.starts_with("the the"));
        assert_eq!(f.tokens, 4);
    }

    #[test]
    fn picking_from_the_vocabulary_is_drawing_a_word() {
        let (mut a, mut b) = (Rng::new(9), Rng::new(9));
        for _ in 0..1000 {
            assert_eq!(word(&mut a), pick(&mut b, &VOCAB));
        }
        assert_eq!(nonce(1, "t", 2), nonce_from(&VOCAB, 1, "t", 2));
        let few = ["sea", "sky"];
        assert!(
            nonce_from(&few, 1, "t", 2)
                .split(' ')
                .all(|w| few.contains(&w))
        );
    }

    #[test]
    fn rows_match_their_lengths_and_are_deterministic() {
        let s = spec(
            LengthSpec::Uniform(UniformLength { min: 5, max: 50 }),
            LengthSpec::Fixed(16),
        );
        let d = generate("s", &s, 0, &SimTokens);
        assert_eq!(d.rows.len(), 50);
        for r in &d.rows {
            let n = r.item["input_tokens"].as_u64().unwrap() as usize;
            assert_eq!(SimTokens.count(&r.input), n);
            assert_eq!(r.item["input"], Value::String(r.input.clone()));
            assert_eq!(r.output_tokens, Some(16));
            assert_eq!(r.item["output_tokens"], 16);
            assert_eq!(r.item["prefix"], "");
            assert!(r.references.is_empty());
        }
        let again = generate("s", &s, 0, &SimTokens);
        assert_eq!(d.rows, again.rows);
        // The spec's seed wins over the default; without one the default is used.
        let mut unseeded = s.clone();
        unseeded.seed = None;
        assert_eq!(generate("s", &unseeded, 7, &SimTokens).rows, d.rows);
        assert_ne!(generate("s", &unseeded, 8, &SimTokens).rows, d.rows);
        // More rows keep the earlier ones.
        let mut more = s.clone();
        more.count = 80;
        assert_eq!(generate("s", &more, 0, &SimTokens).rows[..50], d.rows[..]);
        // Changing the output distribution leaves inputs alone.
        let mut other_out = s.clone();
        other_out.output_tokens = LengthSpec::Fixed(3);
        let o = generate("s", &other_out, 0, &SimTokens);
        assert!(o.rows.iter().zip(&d.rows).all(|(a, b)| a.input == b.input));
    }

    #[test]
    fn prefix_groups_share_identical_prefixes() {
        let mut s = spec(LengthSpec::Fixed(20), LengthSpec::Fixed(4));
        s.count = 12;
        s.prefix = Some(PrefixSpec {
            groups: 4,
            tokens: 64,
        });
        let d = generate("s", &s, 0, &SimTokens);
        let prefix = |i: usize| d.rows[i].item["prefix"].as_str().unwrap().to_string();
        for i in 0..12 {
            assert_eq!(d.rows[i].item["prefix_group"], (i % 4) as u64);
            assert_eq!(prefix(i), prefix(i % 4), "row {i}");
            assert_eq!(SimTokens.count(&prefix(i)), 64);
            assert_eq!(d.rows[i].item["prefix_tokens"], 64);
        }
        for a in 0..4 {
            for b in a + 1..4 {
                assert_ne!(prefix(a), prefix(b));
            }
        }
        // Up to 128 groups differ from their first word on.
        let firsts: std::collections::HashSet<String> = (0..128)
            .map(|g| prefix_text(&SimTokens, 9, g, 128, 3)[..3].to_string())
            .collect();
        assert_eq!(firsts.len(), 128);
        // System prompt and input as two chat messages (joined by `\n` in the engine).
        let joined = format!("{}\n{}", prefix(5), d.rows[5].input);
        assert_eq!(SimTokens.count(&joined), 64 + 20);
    }

    #[test]
    fn every_group_has_its_own_prefix() {
        // More groups than words: the group number takes two words (one-token prefixes allow
        // 128 groups at most, which `check` enforces).
        for (groups, tokens) in [(128u32, 1u32), (200, 2), (1000, 2), (3000, 5)] {
            let prefixes: std::collections::HashSet<String> = (0..groups)
                .map(|g| prefix_text(&SimTokens, 3, g, groups, tokens))
                .collect();
            assert_eq!(prefixes.len(), groups as usize, "{groups} x {tokens}");
            assert!(
                prefixes
                    .iter()
                    .all(|p| SimTokens.count(p) == tokens as usize)
            );
        }
        // Up to 128 groups, a group's prefix does not depend on how many there are.
        assert_eq!(
            prefix_text(&SimTokens, 3, 5, 4, 20),
            prefix_text(&SimTokens, 3, 5, 128, 20)
        );
        let p = KeyPath::root().key("s");
        assert!(check_groups(128, 1, 128, &p).is_empty());
        assert!(check_groups(16384, 2, 128, &p).is_empty());
        let too_many = check_groups(200, 1, 128, &p);
        assert_eq!(too_many.len(), 1);
        assert_eq!(too_many[0].path.to_string(), "s.prefix.groups");
        assert_eq!(
            too_many[0].message,
            "200 groups need 200 distinct prefixes, but prefixes of 1 token from 128 one-token \
             words allow only 128"
        );
        assert_eq!(
            too_many[0].help.as_deref(),
            Some("set `prefix.tokens` to at least 2, or use at most 128 groups")
        );
        // A counter with few one-token words allows fewer groups.
        let mut s = spec(LengthSpec::Fixed(8), LengthSpec::Fixed(1));
        s.prefix = Some(PrefixSpec {
            groups: 20,
            tokens: 1,
        });
        assert!(check_counter(&s, &SimTokens, &p).is_empty());
        assert_eq!(check_counter(&s, &FewSingles, &p).len(), 1);
        s.prefix = Some(PrefixSpec {
            groups: 20,
            tokens: 5,
        });
        assert!(check_counter(&s, &FewSingles, &p).is_empty());
    }

    /// Only `the` and `sea` are one token; other words count 2.
    struct FewSingles;
    impl TokenCounter for FewSingles {
        fn count(&self, text: &str) -> usize {
            text.split(' ')
                .filter(|w| !w.is_empty())
                .map(|w| if w == "the" || w == "sea" { 1 } else { 2 })
                .sum()
        }
        fn single_token_words(&self) -> &[&'static str] {
            &["the", "sea"]
        }
    }

    #[test]
    fn group_words_come_from_one_token_words() {
        // 4 groups of 2 one-token words from a 2-word vocabulary: exact and distinct.
        let prefixes: Vec<Fitted> = (0..4)
            .map(|g| prefix_fitted(&FewSingles, 1, g, 4, 2))
            .collect();
        for p in &prefixes {
            assert!(p.is_exact(2), "{p:?}");
        }
        let distinct: std::collections::HashSet<&str> =
            prefixes.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(distinct.len(), 4);
        // More groups than its one-token words allow (`check_counter` rejects them): words of
        // all of VOCAB keep the prefixes distinct, though not exact.
        let texts: std::collections::HashSet<String> = (0..5)
            .map(|g| prefix_text(&FewSingles, 1, g, 5, 2))
            .collect();
        assert_eq!(texts.len(), 5);
    }

    #[test]
    fn too_long_lengths_are_rejected_before_building() {
        let p = KeyPath::root().key("s");
        let problems_of = |s: &SyntheticSpec| problems(s, &p);
        let normal = |mean: f64, stddev: f64, min: Option<u32>, max: Option<u32>| {
            LengthSpec::Normal(NormalLength {
                mean,
                stddev,
                min,
                max,
            })
        };
        let mut s = spec(LengthSpec::Fixed(4_000_000_000), LengthSpec::Fixed(1));
        s.count = 1;
        assert_eq!(
            problems_of(&s),
            vec![
                "s.input_tokens.fixed: fixed (4000000000) is more than the longest length, 1048576 tokens"
            ]
        );
        s.input_tokens = normal(1e12, 1.0, None, None);
        assert_eq!(
            problems_of(&s),
            vec![
                "s.input_tokens.normal.mean: mean (1000000000000) is more than the longest length, 1048576 tokens"
            ]
        );
        s.input_tokens = LengthSpec::Uniform(UniformLength {
            min: 1,
            max: 2_000_000,
        });
        s.output_tokens = normal(10.0, 1.0, Some(2_000_000), Some(3_000_000));
        assert_eq!(
            problems_of(&s),
            vec![
                "s.input_tokens.uniform.max: max (2000000) is more than the longest length, 1048576 tokens",
                "s.output_tokens.normal.min: min (2000000) is more than the longest length, 1048576 tokens",
                "s.output_tokens.normal.max: max (3000000) is more than the longest length, 1048576 tokens",
            ]
        );
        s.input_tokens = LengthSpec::Empirical(EmpiricalLength {
            values: vec![5, 1_048_577],
            weights: None,
        });
        s.output_tokens = LengthSpec::Fixed(MAX_LENGTH_TOKENS);
        s.prefix = Some(PrefixSpec {
            groups: 1,
            tokens: 1_048_577,
        });
        assert_eq!(
            problems_of(&s),
            vec![
                "s.input_tokens.empirical.values[1]: value (1048577) is more than the longest length, 1048576 tokens",
                "s.prefix.tokens: tokens (1048577) is more than the longest length, 1048576 tokens",
            ]
        );
        // The longest lengths themselves are fine, within the total.
        s.prefix = None;
        s.input_tokens = LengthSpec::Fixed(MAX_LENGTH_TOKENS);
        assert!(problems_of(&s).is_empty());
        // count x the longest input, plus the prefixes of groups that have rows.
        s.count = 190;
        assert!(problems_of(&s).is_empty());
        s.count = 191;
        assert_eq!(
            problems_of(&s),
            vec![
                "s.count: the prompts could be up to 200278016 tokens (191 rows x up to 1048576 input tokens), more than the 200000000 built at plan time"
            ]
        );
        s.count = 1_000_000;
        s.input_tokens = normal(50.0, 10.0, None, Some(200));
        assert!(problems_of(&s).is_empty());
        s.prefix = Some(PrefixSpec {
            groups: 4_000_000_000,
            tokens: 100,
        });
        assert_eq!(
            problems_of(&s),
            vec![
                "s.count: the prompts could be up to 300000000 tokens (1000000 rows x up to 200 input tokens and 1000000 prefixes x 100), more than the 200000000 built at plan time"
            ]
        );
        // A normal length without `max` is clipped 8 standard deviations above its mean.
        s.prefix = None;
        s.input_tokens = normal(50.0, 10.0, None, None);
        assert_eq!(longest(&s.input_tokens), 130);
        assert!(problems_of(&s).is_empty());
        s.input_tokens = normal(1000.0, 100.0, None, None);
        assert!(
            problems_of(&s)[0].contains("1000000 rows x up to 1800 input tokens"),
            "{:?}",
            problems_of(&s)
        );
        assert_eq!(longest(&normal(1e6, 1e6, None, None)), MAX_LENGTH_TOKENS);
        let sampler = LengthSampler::new(&normal(1e6, 1e6, None, None));
        let mut rng = Rng::new(1);
        assert!((0..10_000).all(|_| sampler.sample(&mut rng) <= MAX_LENGTH_TOKENS));
    }

    #[test]
    fn a_normal_max_below_the_default_min_is_rejected() {
        let p = KeyPath::root().key("s");
        let s = spec(
            LengthSpec::Normal(NormalLength {
                mean: 50.0,
                stddev: 5.0,
                min: None,
                max: Some(0),
            }),
            LengthSpec::Fixed(1),
        );
        let got = problems(&s, &p);
        assert_eq!(
            got,
            vec!["s.input_tokens.normal.max: max (0) is below min (1, the default)"]
        );
    }

    #[test]
    fn executions_per_row_follow_the_executor() {
        for (cases, warmup, rows, repeats) in [
            (100u64, 0u64, 7u64, 1u64),
            (100, 13, 7, 3),
            (5, 9, 4, 2),
            (1, 0, 1, 1),
            (64, 3, 64, 5),
        ] {
            let mut counts = vec![0u64; rows as usize];
            for i in 0..cases {
                let (row, _, _) = crate::exec::case_of_index(i, warmup, rows, repeats);
                counts[row as usize] += 1;
            }
            for (r, c) in counts.iter().enumerate() {
                assert_eq!(
                    executions_of_row(r as u64, cases, warmup, rows, repeats),
                    *c,
                    "{cases} {warmup} {rows} {repeats} row {r}"
                );
            }
        }
    }

    #[test]
    fn rows_run_more_often_than_their_nonces_are_reported() {
        let p = KeyPath::root().key("s");
        let mut s = spec(
            LengthSpec::Uniform(UniformLength { min: 1, max: 3 }),
            LengthSpec::Fixed(1),
        );
        s.count = 4;
        s.nonce = true;
        let d = generate("s", &s, 0, &SimTokens);
        let shortest_row = (0..4)
            .min_by_key(|r| d.rows[*r].item["input_tokens"].as_u64())
            .unwrap();
        let tokens = d.rows[shortest_row].item["input_tokens"].as_u64().unwrap();
        assert_eq!(tokens, 1, "the seed draws a 1-token input");
        // 128 executions of a 1-token row are fine (128 nonces), 129 are not.
        assert!(check_nonces(&d, &p, 4 * 128, 0, 1).is_none());
        let e = check_nonces(&d, &p, 4 * 129, 0, 1).unwrap();
        assert_eq!(e.path.to_string(), "s.input_tokens");
        assert_eq!(
            e.message,
            format!(
                "row {shortest_row} runs 129 times in a trial of 516 requests, but the nonce in \
                 its input of 1 token can take only 128 values: with `nonce: true` its prompt \
                 would repeat"
            )
        );
        assert_eq!(
            e.help.as_deref(),
            Some(
                "use inputs of at least 2 tokens (`input_tokens` min: 16384 nonces), more rows \
                 (`count`), or fewer requests"
            )
        );
        // Without nonces nothing is promised.
        let mut plain = d.clone();
        plain.nonce = false;
        assert!(check_nonces(&plain, &p, 1_000_000, 0, 1).is_none());
        // A smaller nonce vocabulary holds fewer.
        let mut few = d.clone();
        few.nonce_words = Some(VOCAB[..16].into());
        assert!(check_nonces(&few, &p, 4 * 16, 0, 1).is_none());
        assert!(check_nonces(&few, &p, 4 * 17, 0, 1).is_some());
        assert_eq!(distinct_nonces(16, 1), 16);
        assert_eq!(distinct_nonces(128, 100), 1u128 << 56);
    }

    #[test]
    fn nonces_differ_per_execution_and_keep_lengths() {
        let a = nonce(7, "t1", 0);
        assert_eq!(a, nonce(7, "t1", 0));
        assert_ne!(a, nonce(7, "t1", 1));
        assert_ne!(a, nonce(7, "t2", 0));
        assert_ne!(a, nonce(8, "t1", 0));
        assert_eq!(a.split(' ').count(), NONCE_TOKENS);
        let mut rng = Rng::new(5);
        for n in [1u32, 3, 8, 9, 100] {
            let input = build_text(&SimTokens, &mut rng, n);
            let busted = apply_nonce(&input, &a);
            assert_eq!(busted.len(), input.len(), "{n}");
            assert_eq!(SimTokens.count(&busted), n as usize);
            let k = (n as usize).min(NONCE_TOKENS);
            let nonce_words: Vec<&str> = a.split(' ').take(k).collect();
            let got: Vec<&str> = busted.split(' ').collect();
            assert_eq!(&got[..k], &nonce_words[..]);
            let orig: Vec<&str> = input.split(' ').collect();
            assert_eq!(&got[k..], &orig[k..]);
        }
        // Many executions, no collisions.
        let all: std::collections::HashSet<String> =
            (0..20_000).map(|i| nonce(1, "t", i)).collect();
        assert_eq!(all.len(), 20_000);
    }

    #[test]
    fn check_locates_problems() {
        let p = KeyPath::root().key("datasets").key("s").key("synthetic");
        let mut s = spec(
            LengthSpec::Uniform(UniformLength { min: 10, max: 5 }),
            LengthSpec::Empirical(EmpiricalLength {
                values: vec![1, 2],
                weights: Some(vec![1.0]),
            }),
        );
        s.count = 0;
        s.prefix = Some(PrefixSpec {
            groups: 0,
            tokens: 8,
        });
        let got = problems(&s, &p);
        assert_eq!(
            got,
            vec![
                "datasets.s.synthetic.count: count must be between 1 and 1000000, found 0",
                "datasets.s.synthetic.input_tokens.uniform.max: max (5) is below min (10)",
                "datasets.s.synthetic.output_tokens.empirical.weights: 1 weights for 2 values",
                "datasets.s.synthetic.prefix.groups: groups must be at least 1",
            ]
        );
        let ok = spec(LengthSpec::Fixed(1), LengthSpec::Fixed(1));
        assert!(check(&ok, &p).is_empty());
    }
}
