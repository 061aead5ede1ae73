//! The measures behind each scorer, as plain functions of already normalised (or extracted)
//! text. Each function's doc comment is its definition; the README repeats them.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

use crate::spec::FuzzyMetric;

/// Token arrays on the stack up to this many tokens; longer texts fall back to the heap.
const STACK_TOKENS: usize = 32;

/// SQuAD token F1: tokens are the whitespace-separated words; `common` is the size of the
/// multiset intersection (a token repeated twice on both sides counts twice);
/// `F1 = 2PR / (P + R)` with `P = common / |answer|`, `R = common / |reference|`. Two empty
/// token lists score 1 and one empty list scores 0 (SQuAD v2.0's rule; v1.1's script scored
/// empty-vs-empty 0 by accident of `num_same == 0`). Symmetric in its arguments.
pub fn token_f1(answer: &str, reference: &str) -> f64 {
    let mut a_stack = [""; STACK_TOKENS];
    let mut r_stack = [""; STACK_TOKENS];
    let (mut na, mut nr) = (0usize, 0usize);
    let mut overflow = false;
    for t in answer.split_whitespace() {
        if na == STACK_TOKENS {
            overflow = true;
            break;
        }
        a_stack[na] = t;
        na += 1;
    }
    for t in reference.split_whitespace() {
        if overflow || nr == STACK_TOKENS {
            overflow = true;
            break;
        }
        r_stack[nr] = t;
        nr += 1;
    }
    if overflow {
        let mut a: Vec<&str> = answer.split_whitespace().collect();
        let mut r: Vec<&str> = reference.split_whitespace().collect();
        return f1_of_sorted(&mut a, &mut r);
    }
    f1_of_sorted(&mut a_stack[..na], &mut r_stack[..nr])
}

fn f1_of_sorted(a: &mut [&str], r: &mut [&str]) -> f64 {
    if a.is_empty() || r.is_empty() {
        return f64::from(u8::from(a.is_empty() && r.is_empty()));
    }
    a.sort_unstable();
    r.sort_unstable();
    // Sorted-merge intersection of the two multisets.
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < r.len() {
        match a[i].cmp(r[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    if common == 0 {
        return 0.0;
    }
    let p = common as f64 / a.len() as f64;
    let rc = common as f64 / r.len() as f64;
    2.0 * p * rc / (p + rc)
}

fn is_alnum(c: Option<char>) -> bool {
    c.is_some_and(char::is_alphanumeric)
}

/// Whether `needle` occurs in `hay` on word boundaries: where the needle begins (ends) with an
/// alphanumeric character, the character before (after) the occurrence must not be one, so `4`
/// is not found in `14` but `$5` is found in `cost: $5.` An empty needle is found only in an
/// empty haystack.
pub fn contains_words(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return hay.is_empty();
    }
    let first_alnum = is_alnum(needle.chars().next());
    let last_alnum = is_alnum(needle.chars().next_back());
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        let glued_before = first_alnum && is_alnum(before);
        let glued_after = last_alnum && is_alnum(after);
        !glued_before && !glued_after
    })
}

/// Whether `hay` starts with `needle`, ending on a word boundary (`Paris` starts `Paris.` but
/// not `Parisian`). An empty needle starts only an empty haystack.
pub fn starts_with_words(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return hay.is_empty();
    }
    hay.starts_with(needle)
        && !(is_alnum(needle.chars().next_back()) && is_alnum(hay[needle.len()..].chars().next()))
}

/// Similarity in [0, 1]: Jaro-Winkler and the normalised (Damerau-)Levenshtein from strsim
/// (which count characters), Sørensen-Dice from [`sorensen_dice`].
pub fn similarity(metric: FuzzyMetric, a: &str, r: &str) -> f64 {
    match metric {
        FuzzyMetric::JaroWinkler => strsim::jaro_winkler(a, r),
        FuzzyMetric::Levenshtein => strsim::normalized_levenshtein(a, r),
        FuzzyMetric::Damerau => strsim::normalized_damerau_levenshtein(a, r),
        FuzzyMetric::SorensenDice => sorensen_dice(a, r),
    }
}

/// Sørensen-Dice similarity over character bigrams: whitespace is removed (every Unicode
/// whitespace character), then `2 |A ∩ B| / (|A| + |B|)` with `A` and `B` the multisets of
/// adjacent character pairs (a pair repeated twice on both sides counts twice). Equal strings
/// (after removing whitespace) score 1, including two empty ones; otherwise a side with fewer
/// than two characters has no bigram and scores 0. This is strsim 0.11's definition, except
/// that lengths are counted in characters: strsim divides by byte lengths, which lowers the
/// score of any text with a non-ASCII character (`“paris”` vs `paris`: 0.571, not 0.8).
pub fn sorensen_dice(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().filter(|c| !c.is_whitespace()).collect();
    let b: Vec<char> = b.chars().filter(|c| !c.is_whitespace()).collect();
    if a == b {
        return 1.0;
    }
    if a.len() < 2 || b.len() < 2 {
        return 0.0;
    }
    let mut a_bigrams: HashMap<(char, char), usize> = HashMap::with_capacity(a.len());
    for w in a.windows(2) {
        *a_bigrams.entry((w[0], w[1])).or_insert(0) += 1;
    }
    let mut common = 0usize;
    for w in b.windows(2) {
        if let Some(n) = a_bigrams.get_mut(&(w[0], w[1]))
            && *n > 0
        {
            *n -= 1;
            common += 1;
        }
    }
    (2 * common) as f64 / (a.len() - 1 + b.len() - 1) as f64
}

/// Parse a number as people write it: surrounding whitespace, a leading sign (`+`, `-`, `−`),
/// a currency symbol (`$`, `€`, `£`) before or after the sign or after the number, thousands
/// separators (`1,234,567.5`, groups of exactly three digits), a decimal part, an exponent
/// (`1e-3`), a trailing `%` (dropped: `50%` is 50) and a trailing full stop (`42.`). Words
/// (`two`), fractions (`1/2`) and spaces inside the number are not numbers.
pub fn parse_number(text: &str) -> Option<f64> {
    let mut s = text.trim();
    s = s.strip_suffix('.').unwrap_or(s);
    s = s.strip_suffix('%').unwrap_or(s).trim_end();
    for sym in ['$', '€', '£'] {
        if let Some(rest) = s.strip_suffix(sym) {
            s = rest.trim_end();
            break;
        }
    }
    let strip_currency = |s: &str| -> Option<String> {
        let s = s.trim_start();
        let s = ['$', '€', '£']
            .iter()
            .find_map(|c| s.strip_prefix(*c))
            .unwrap_or(s);
        Some(s.trim_start().to_string())
    };
    let mut negative = false;
    let mut body = strip_currency(s)?;
    if let Some(rest) = body
        .strip_prefix('-')
        .or_else(|| body.strip_prefix('\u{2212}'))
    {
        negative = true;
        body = strip_currency(rest)?;
    } else if let Some(rest) = body.strip_prefix('+') {
        body = strip_currency(rest)?;
    }
    static CORE: OnceLock<Regex> = OnceLock::new();
    let core = CORE.get_or_init(|| {
        Regex::new(r"^(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
            .expect("number pattern")
    });
    if !core.is_match(&body) {
        return None;
    }
    let v: f64 = body.replace(',', "").parse().ok()?;
    v.is_finite().then_some(if negative { -v } else { v })
}

/// The multiple-choice letter (A-E, upper case) an answer gives. Markdown emphasis (`*`, `_`)
/// is removed first (`**B**` is `B`), then, in order: the whole answer is a letter, possibly
/// after `option`/`choice` (`B`, `(B)`, `B)`, `B.`, `Option B`); the last `answer is B` /
/// `Answer: (B)` / `answer is option B`; only when there is none, the last affirmative
/// `the correct option is B` / `my choice is B` / `option B is correct` (a mere `option C`
/// may be a rejected one: "Option C is wrong"); a leading `B)` / `(B)`, or `B.` / `B:` /
/// `B -` followed by a space or the end (so `E.g.` is not `E`); the only letter written in
/// parentheses. The words are in any case, the letter upper case and ending a word.
pub fn find_choice(answer: &str) -> Option<char> {
    static PATTERNS: OnceLock<[Regex; 5]> = OnceLock::new();
    let [whole, stated, affirmed, leading, paren] = PATTERNS.get_or_init(|| {
        [
            Regex::new(r"^\s*(?i:(?:option|choice)\s+)?\(?([A-E])\)?\s*[.:)]?\s*$"),
            Regex::new(
                r"(?i:answer)(?:\s+is)?\s*[:\-]?\s*(?i:(?:option|choice)\s+)?\(?([A-E])\b",
            ),
            Regex::new(concat!(
                // the correct option is B / correct choice: (B) / my choice is option B
                r"(?i:(?:correct|right|best|my)\s+(?:option|choice)(?:\s+is)?\s*[:\-]?\s*",
                r"(?:(?:option|choice)\s+)?)\(?([A-E])\b",
                // option B is correct / choice (B) is the right one
                r"|(?i:option|choice)\s+\(?([A-E])\)?\s+(?i:is\s+(?:the\s+)?(?:correct|right|best)\b)",
            )),
            Regex::new(r"^\s*(?:\(([A-E])\)|([A-E])(?:\)|[.:](?:\s|$)|\s*[-\x{2013}\x{2014}](?:\s|$)))"),
            Regex::new(r"\(([A-E])\)"),
        ]
        .map(|r| r.expect("choice pattern"))
    });
    let plain: std::borrow::Cow<'_, str> = if answer.contains(['*', '_']) {
        answer.replace(['*', '_'], "").into()
    } else {
        answer.into()
    };
    let answer = plain.as_ref();
    let letter = |c: regex::Captures<'_>| {
        c.iter()
            .skip(1)
            .flatten()
            .next()
            .and_then(|m| m.as_str().chars().next())
    };
    if let Some(c) = whole.captures(answer) {
        return letter(c);
    }
    if let Some(c) = stated.captures_iter(answer).last() {
        return letter(c);
    }
    if let Some(c) = affirmed.captures_iter(answer).last() {
        return letter(c);
    }
    if let Some(c) = leading.captures(answer) {
        return letter(c);
    }
    let mut found: Option<char> = None;
    for c in paren.captures_iter(answer) {
        let l = letter(c)?;
        if found.is_some_and(|f| f != l) {
            return None;
        }
        found = Some(l);
    }
    found
}

/// A reference letter: `B`, `b`, `(B)` or `B.`; `None` for anything else.
pub fn reference_choice(reference: &str) -> Option<char> {
    let t = reference
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(['.', ')']);
    let mut chars = t.chars();
    let c = chars.next()?.to_ascii_uppercase();
    (chars.next().is_none() && ('A'..='E').contains(&c)).then_some(c)
}

/// ROUGE-L tokens: the text lowercased, split on every character that is not alphanumeric
/// (Unicode), empty pieces dropped. (Google's `rouge_score` keeps only `[a-z0-9]`; on ASCII
/// text the two agree.)
pub fn rouge_tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// ROUGE-L F-measure (beta = 1): with `L` the length of the longest common subsequence of the
/// token lists, `P = L / |answer|`, `R = L / |reference|`, `F = 2PR / (P + R)`; 0 when either
/// list is empty (as `rouge_score` does). Symmetric.
pub fn rouge_l(answer: &[String], reference: &[String]) -> f64 {
    if answer.is_empty() || reference.is_empty() {
        return 0.0;
    }
    let lcs = lcs_len(answer, reference);
    if lcs == 0 {
        return 0.0;
    }
    let p = lcs as f64 / answer.len() as f64;
    let r = lcs as f64 / reference.len() as f64;
    2.0 * p * r / (p + r)
}

fn lcs_len(a: &[String], b: &[String]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// sacrebleu's `13a` tokenisation (mteval-v13a): drop `<skipped>`, join `-\n` line breaks,
/// unescape `&quot; &amp; &lt; &gt;`, split off ASCII punctuation except `'`, split `.` and `,`
/// unless between digits, split `-` after a digit, then split on whitespace. Case is kept.
pub fn tokenize_13a(text: &str) -> Vec<String> {
    static RULES: OnceLock<[(Regex, &'static str); 4]> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            (r"([\{-\~\[-\` -\&\(-\+\:-\@/])", " $1 "),
            (r"([^0-9])([\.,])", "$1 $2 "),
            (r"([\.,])([^0-9])", " $1 $2"),
            (r"([0-9])(-)", "$1 $2 "),
        ]
        .map(|(p, r)| (Regex::new(p).expect("13a pattern"), r))
    });
    let mut line = text
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut s = format!(" {line} ");
    for (re, rep) in rules {
        s = re.replace_all(&s, *rep).into_owned();
    }
    s.split_whitespace().map(str::to_string).collect()
}

/// BLEU-4 counts of `answer` against `references`, both read with [`tokenize_13a`]: what the
/// `bleu` scorer's sentence score and corpus BLEU are computed from.
pub fn bleu_stats(answer: &str, references: &[String]) -> BleuStats {
    let refs: Vec<Vec<String>> = references.iter().map(|r| tokenize_13a(r)).collect();
    BleuStats::new(&tokenize_13a(answer), &refs)
}

/// The sufficient statistics of BLEU-4 for one answer: n-gram matches (clipped by the largest
/// count in any one reference) and totals for n = 1..4, the answer's length and the closest
/// reference length (ties go to the shorter). Summing them over cases gives corpus BLEU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BleuStats {
    /// Clipped n-gram matches, n = 1..4.
    pub matches: [u64; 4],
    /// Answer n-grams, n = 1..4.
    pub totals: [u64; 4],
    /// Answer tokens.
    pub answer_len: u64,
    /// Closest reference length.
    pub reference_len: u64,
}

impl BleuStats {
    /// Counts for `answer` against `references` (13a tokens).
    pub fn new(answer: &[String], references: &[Vec<String>]) -> BleuStats {
        let mut st = BleuStats {
            answer_len: answer.len() as u64,
            ..BleuStats::default()
        };
        let mut closest: Option<usize> = None;
        for r in references {
            let better = match closest {
                None => true,
                Some(c) => {
                    let (d, dc) = (r.len().abs_diff(answer.len()), c.abs_diff(answer.len()));
                    d < dc || (d == dc && r.len() < c)
                }
            };
            if better {
                closest = Some(r.len());
            }
        }
        st.reference_len = closest.unwrap_or(0) as u64;
        // Hash-map n-gram counts: linear in the lengths (a pairwise count is quadratic, and
        // long answers have thousands of tokens).
        let mut answer_counts: HashMap<&[String], u64> = HashMap::new();
        let mut ref_counts: HashMap<&[String], u64> = HashMap::new();
        let mut max_ref: HashMap<&[String], u64> = HashMap::new();
        for n in 1..=4usize {
            if answer.len() < n {
                continue;
            }
            answer_counts.clear();
            for g in answer.windows(n) {
                *answer_counts.entry(g).or_insert(0) += 1;
            }
            st.totals[n - 1] = (answer.len() + 1 - n) as u64;
            // Clip by the largest count in any one reference.
            max_ref.clear();
            for r in references {
                ref_counts.clear();
                for g in r.windows(n) {
                    if answer_counts.contains_key(g) {
                        *ref_counts.entry(g).or_insert(0) += 1;
                    }
                }
                for (g, c) in ref_counts.drain() {
                    let m = max_ref.entry(g).or_insert(0);
                    *m = (*m).max(c);
                }
            }
            st.matches[n - 1] = answer_counts
                .iter()
                .map(|(g, c)| (*c).min(max_ref.get(g).copied().unwrap_or(0)))
                .sum();
        }
        st
    }

    /// Add another answer's counts (for corpus BLEU).
    pub fn add(&mut self, other: &BleuStats) {
        for n in 0..4 {
            self.matches[n] += other.matches[n];
            self.totals[n] += other.totals[n];
        }
        self.answer_len += other.answer_len;
        self.reference_len += other.reference_len;
    }

    /// BLEU-4 in [0, 1] with add-one smoothing of the 2- to 4-gram precisions (Lin & Och 2004;
    /// sacrebleu's `smooth_method="add-k", smooth_value=1`): `BP * exp(mean(log p_n))`, with
    /// `p_1 = m_1 / t_1` unsmoothed, `p_n = (m_n + 1) / (t_n + 1)` for n > 1, and
    /// `BP = exp(1 - ref_len / answer_len)` when the answer is shorter. An empty answer or no
    /// unigram match scores 0.
    pub fn smoothed_bleu(&self) -> f64 {
        if self.answer_len == 0 || self.matches[0] == 0 {
            return 0.0;
        }
        let mut log_sum = 0.0;
        for n in 0..4 {
            let (m, t) = if n == 0 {
                (self.matches[0] as f64, self.totals[0] as f64)
            } else {
                (self.matches[n] as f64 + 1.0, self.totals[n] as f64 + 1.0)
            };
            log_sum += (m / t).ln();
        }
        let bp = if self.answer_len < self.reference_len {
            (1.0 - self.reference_len as f64 / self.answer_len as f64).exp()
        } else {
            1.0
        };
        (bp * (log_sum / 4.0).exp()).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        tokenize_13a(s)
    }

    #[test]
    fn token_f1_golden() {
        assert!((token_f1("eiffel tower paris", "eiffel tower") - 0.8).abs() < 1e-12);
        assert_eq!(token_f1("", ""), 1.0);
        assert_eq!(token_f1("", "x"), 0.0);
        assert_eq!(token_f1("x", ""), 0.0);
        assert_eq!(token_f1("a b", "c d"), 0.0);
        assert!((token_f1("a a a", "a") - 0.5).abs() < 1e-12);
        // Multiset: two shared `a`s count twice. P = 2/3, R = 2/2.
        assert!((token_f1("a a b", "a a") - 0.8).abs() < 1e-12);
        // Long inputs take the heap path and agree with the stack path.
        let long_a = "w ".repeat(40) + "x";
        let long_r = "w ".repeat(20);
        let want = {
            let p = 20.0 / 41.0;
            let r = 1.0;
            2.0 * p * r / (p + r)
        };
        assert!((token_f1(&long_a, &long_r) - want).abs() < 1e-12);
    }

    #[test]
    fn words_golden() {
        assert!(contains_words("it is 4 apples", "4"));
        assert!(!contains_words("it is 14 apples", "4"));
        assert!(contains_words("cost: $5.", "$5"));
        assert!(contains_words("Paris, France", "Paris"));
        assert!(!contains_words("Parisian", "Paris"));
        assert!(contains_words("", ""));
        assert!(!contains_words("x", ""));
        assert!(starts_with_words("Paris. Capital", "Paris"));
        assert!(!starts_with_words("Parisian", "Paris"));
        assert!(starts_with_words("yes!", "yes"));
        assert!(!starts_with_words("ok yes", "yes"));
    }

    #[test]
    fn sorensen_dice_is_strsims_on_ascii_and_counts_characters() {
        // On ASCII text (whitespace included) the definition is strsim's.
        let mut state = 17u64;
        let alphabet = b"ab c\tde";
        for _ in 0..2000 {
            let mut word = || -> String {
                let len = crate::rng::splitmix64(&mut state) % 7;
                (0..len)
                    .map(|_| {
                        let i = crate::rng::splitmix64(&mut state) % alphabet.len() as u64;
                        alphabet[i as usize] as char
                    })
                    .collect()
            };
            let (a, b) = (word(), word());
            assert_eq!(
                sorensen_dice(&a, &b),
                strsim::sorensen_dice(&a, &b),
                "{a:?} {b:?}"
            );
        }
        // Non-ASCII: character bigrams over character counts (strsim: 0.571 and 0.737).
        assert!((sorensen_dice("“paris”", "paris") - 0.8).abs() < 1e-12);
        assert!((sorensen_dice("café au lait", "cafe au lait") - 14.0 / 18.0).abs() < 1e-12);
        assert_eq!(sorensen_dice("éé", "éé"), 1.0);
        assert_eq!(sorensen_dice("é", "e"), 0.0);
    }

    #[test]
    fn numbers_golden() {
        for (text, want) in [
            ("42", Some(42.0)),
            (" 42. ", Some(42.0)),
            ("1,234.5", Some(1234.5)),
            ("$1,234.50", Some(1234.5)),
            ("-$3", Some(-3.0)),
            ("$-3", Some(-3.0)),
            ("+7", Some(7.0)),
            ("\u{2212}2.5", Some(-2.5)),
            ("€12", Some(12.0)),
            ("12 €", Some(12.0)),
            ("£0.99", Some(0.99)),
            ("50%", Some(50.0)),
            (".5", Some(0.5)),
            ("1e3", Some(1000.0)),
            ("1,000,000", Some(1e6)),
            ("1,23", None),
            ("12,3456", None),
            ("two", None),
            ("1/2", None),
            ("1 234", None),
            ("", None),
            ("NaN", None),
            ("inf", None),
            ("4 apples", None),
        ] {
            assert_eq!(parse_number(text), want, "{text:?}");
        }
    }

    #[test]
    fn choice_golden() {
        for (text, want) in [
            ("B", Some('B')),
            ("(B)", Some('B')),
            ("B)", Some('B')),
            (" C. ", Some('C')),
            ("Answer: B", Some('B')),
            ("answer: (D)", Some('D')),
            ("I think the answer is B.", Some('B')),
            ("The answer is option E", Some('E')),
            (
                "First I thought the answer is A, but the answer is C.",
                Some('C'),
            ),
            ("A) Paris, because ...", Some('A')),
            ("It must be (C), since ...", Some('C')),
            // Markdown emphasis and option/choice wording.
            ("**B**", Some('B')),
            ("__C__", Some('C')),
            ("The correct answer is **B**.", Some('B')),
            ("**Answer: D**", Some('D')),
            ("Option B", Some('B')),
            ("option C is right", Some('C')),
            ("The correct option is B", Some('B')),
            ("The right choice is (E).", Some('E')),
            (
                "Option A looks tempting, but option D is correct.",
                Some('D'),
            ),
            // A stated answer beats a later option/choice; a leading letter beats a later
            // rejected option; option/choice counts only when affirmed.
            ("The answer is B. Option C is wrong because ...", Some('B')),
            ("B) Nitrogen. Option A is incorrect", Some('B')),
            ("(B) Nitrogen; option A is not correct.", Some('B')),
            ("Answer: D. The correct option is not A.", Some('D')),
            ("My choice is C", Some('C')),
            ("Correct option: (A)", Some('A')),
            ("Choice (E) is the right one.", Some('E')),
            ("Option C is wrong.", None),
            ("Option A is incorrect and option B is wrong", None),
            // A leading letter needs `)`, or `.` / `:` / a dash and then a space or the end.
            ("B - Nitrogen", Some('B')),
            ("B – Nitrogen", Some('B')),
            ("**B) Nitrogen**", Some('B')),
            ("C: Oxygen", Some('C')),
            ("E.g. nitrogen, so B", None),
            ("A.k.a. the red planet", None),
            ("Either (A) or (B)", None),
            ("The answer is Because", None),
            ("A cat", None),
            ("F", None),
            ("b", None),
            ("", None),
        ] {
            assert_eq!(find_choice(text), want, "{text:?}");
        }
        assert_eq!(reference_choice("b"), Some('B'));
        assert_eq!(reference_choice("(C)"), Some('C'));
        assert_eq!(reference_choice("Paris"), None);
        assert_eq!(reference_choice("F"), None);
    }

    #[test]
    fn rouge_l_golden() {
        let a = rouge_tokens("The cat sat on the mat.");
        let r = rouge_tokens("the cat was on a mat");
        // LCS: the cat on mat (4); P = 4/6, R = 4/6.
        assert!((rouge_l(&a, &r) - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(
            rouge_tokens("State-of-the-art U.S."),
            vec!["state", "of", "the", "art", "u", "s"]
        );
        assert_eq!(rouge_l(&[], &r), 0.0);
        assert_eq!(rouge_l(&a, &a), 1.0);
    }

    #[test]
    fn tokenize_13a_golden() {
        // sacrebleu: Tokenizer13a()("Hello, world! It's 3.5-4 km.")
        assert_eq!(
            toks("Hello, world! It's 3.5-4 km."),
            vec![
                "Hello", ",", "world", "!", "It's", "3.5", "-", "4", "km", "."
            ]
        );
        assert_eq!(toks("a&amp;b"), vec!["a", "&", "b"]);
        assert_eq!(toks("1,000 people."), vec!["1,000", "people", "."]);
    }

    /// BLEU counts the plain way: every n-gram compared with every other (quadratic, but
    /// obviously right), for checking the hash-map counts.
    fn naive_bleu_counts(answer: &[String], references: &[Vec<String>]) -> ([u64; 4], [u64; 4]) {
        let (mut matches, mut totals) = ([0u64; 4], [0u64; 4]);
        for n in 1..=4usize {
            if answer.len() < n {
                continue;
            }
            let grams: Vec<&[String]> = answer.windows(n).collect();
            totals[n - 1] = grams.len() as u64;
            let mut counted: Vec<&[String]> = Vec::new();
            for g in &grams {
                if counted.contains(g) {
                    continue;
                }
                counted.push(g);
                let in_answer = grams.iter().filter(|x| *x == g).count();
                let max_ref = references
                    .iter()
                    .map(|r| r.windows(n).filter(|x| x == g).count())
                    .max()
                    .unwrap_or(0);
                matches[n - 1] += in_answer.min(max_ref) as u64;
            }
        }
        (matches, totals)
    }

    #[test]
    fn bleu_counts_agree_with_pairwise_counting() {
        let mut state = 5u64;
        let mut words = |len: usize, vocab: u64| -> Vec<String> {
            (0..len)
                .map(|_| format!("w{}", crate::rng::splitmix64(&mut state) % vocab))
                .collect()
        };
        for (len, vocab) in [
            (0, 3),
            (1, 3),
            (3, 2),
            (12, 3),
            (40, 5),
            (200, 30),
            (300, 1000),
        ] {
            let answer = words(len, vocab);
            let refs = vec![
                words(len + 3, vocab),
                words(len / 2, vocab),
                words(len, vocab),
            ];
            let st = BleuStats::new(&answer, &refs);
            assert_eq!(
                (st.matches, st.totals),
                naive_bleu_counts(&answer, &refs),
                "len {len} vocab {vocab}"
            );
        }
    }

    #[test]
    fn bleu_golden() {
        let a = toks("the cat sat on the mat");
        let same = BleuStats::new(&a, std::slice::from_ref(&a));
        assert_eq!(same.matches, [6, 5, 4, 3]);
        assert!((same.smoothed_bleu() - 1.0).abs() < 1e-12);
        let r = toks("the cat is on the mat");
        let st = BleuStats::new(&a, &[r]);
        assert_eq!(st.matches, [5, 3, 1, 0]);
        assert_eq!(st.totals, [6, 5, 4, 3]);
        // exp((ln(5/6) + ln(4/6) + ln(2/5) + ln(1/4)) / 4), BP = 1
        let want =
            ((5.0f64 / 6.0).ln() + (4.0f64 / 6.0).ln() + (2.0f64 / 5.0).ln() + (1.0f64 / 4.0).ln())
                / 4.0;
        assert!((st.smoothed_bleu() - want.exp()).abs() < 1e-12);
        // Clipping: "the the the" against "the cat" matches one `the`.
        let clip = BleuStats::new(&toks("the the the"), &[toks("the cat")]);
        assert_eq!(clip.matches[0], 1);
        // Closest reference length, ties to the shorter.
        let lens = BleuStats::new(&toks("a b c"), &[toks("a b"), toks("a b c d")]);
        assert_eq!(lens.reference_len, 2);
        assert_eq!(BleuStats::new(&[], &[toks("x")]).smoothed_bleu(), 0.0);
        // Brevity penalty.
        let short = BleuStats::new(&toks("the cat"), &[toks("the cat sat on the mat")]);
        assert!(short.smoothed_bleu() < (1.0f64 - 3.0).exp() + 1e-12);
    }
}
