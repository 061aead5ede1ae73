//! The simulated tokenizer.
//!
//! Real tokenizers average about four bytes of English per token, so a prompt counts as
//! `ceil(bytes / 4)` tokens: cheap, deterministic and close enough for prefill costs and usage.
//! Output text is split into words that carry their leading whitespace (`"Paris"`, `" is"`),
//! which is how BPE vocabularies tend to split prose, so a streamed answer looks like a real
//! one chunk by chunk.

/// Prompt tokens of `text`: `ceil(len_in_bytes / 4)`.
pub(crate) fn prompt_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

/// End offsets (in bytes) of the word tokens of `text`, appended to `ends`.
///
/// A token is a run of ASCII whitespace followed by a run of anything else; whitespace at the
/// very end of the text belongs to the last token. Splits happen only at ASCII bytes, so every
/// token is valid UTF-8. Text without any non-whitespace yields one token (possibly empty):
/// a model always emits at least one token before it stops.
pub(crate) fn word_ends(text: &str, ends: &mut Vec<usize>) {
    let bytes = text.as_bytes();
    let start = ends.len();
    let mut seen_word = false;
    for (i, &b) in bytes.iter().enumerate() {
        let space = b.is_ascii_whitespace();
        if space && seen_word && i > 0 && !bytes[i - 1].is_ascii_whitespace() {
            // A new token starts here, unless only whitespace follows.
            if bytes[i..].iter().any(|c| !c.is_ascii_whitespace()) {
                ends.push(i);
            } else {
                break;
            }
        }
        seen_word |= !space;
    }
    if ends.len() == start || ends.last() != Some(&bytes.len()) {
        ends.push(bytes.len());
    }
}

/// Words used for filler output (prompts the engine has no answer for, and `ignore_eos`).
const FILLER_WORDS: [&str; 16] = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
];

/// Append `count` filler tokens to `text`, recording each token's end in `ends`. The first
/// token has no leading space when `text` is empty.
pub(crate) fn push_filler(text: &mut String, ends: &mut Vec<usize>, count: usize) {
    for i in 0..count {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(FILLER_WORDS[i % FILLER_WORDS.len()]);
        ends.push(text.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        let mut ends = Vec::new();
        word_ends(text, &mut ends);
        let mut start = 0;
        ends.iter()
            .map(|&end| {
                let w = &text[start..end];
                start = end;
                w
            })
            .collect()
    }

    #[test]
    fn prompt_tokens_are_a_quarter_of_the_bytes_rounded_up() {
        assert_eq!(prompt_tokens(""), 0);
        assert_eq!(prompt_tokens("abc"), 1);
        assert_eq!(prompt_tokens("abcd"), 1);
        assert_eq!(prompt_tokens("abcde"), 2);
        assert_eq!(prompt_tokens(&"x".repeat(400)), 100);
        // Bytes, not characters.
        assert_eq!(prompt_tokens("éé"), 1);
        assert_eq!(prompt_tokens("ééé"), 2);
    }

    #[test]
    fn words_carry_their_leading_space() {
        assert_eq!(words("Paris is nice"), ["Paris", " is", " nice"]);
        assert_eq!(words("  two  spaces "), ["  two", "  spaces "]);
        assert_eq!(words("line\nbreak"), ["line", "\nbreak"]);
        assert_eq!(words("Zürich über"), ["Zürich", " über"]);
        assert_eq!(words("one"), ["one"]);
    }

    #[test]
    fn empty_text_is_one_token() {
        assert_eq!(words(""), [""]);
        assert_eq!(words("   "), ["   "]);
    }

    #[test]
    fn filler_is_space_separated_words() {
        let mut text = String::new();
        let mut ends = Vec::new();
        push_filler(&mut text, &mut ends, 3);
        assert_eq!(text, "lorem ipsum dolor");
        assert_eq!(ends, [5, 11, 17]);
        let mut text = String::from("Paris");
        let mut ends = vec![5];
        push_filler(&mut text, &mut ends, 2);
        assert_eq!(text, "Paris lorem ipsum");
        assert_eq!(ends, [5, 11, 17]);
    }
}
