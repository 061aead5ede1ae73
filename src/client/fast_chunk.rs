//! A fast path for [`Chunk::parse`](super::chunk::Chunk::parse): one pass over the bytes of a
//! streamed chunk, without serde.
//!
//! Why: every streamed token arrives as a JSON chunk, and serde_json's derive-based parse of a
//! typical 190-byte vLLM-shaped chunk cost about 6,700 instructions (a UTF-8 check and an escape
//! scan per key, large structs moved through every nesting level), a third of the client's
//! instructions per request. This scanner reads only what [`Chunk`] keeps, skips the rest
//! (strings eight bytes at a time), and checks UTF-8 only of keys and of the strings it keeps:
//! about 4,000 instructions per such chunk (`valgrind --tool=callgrind`, 3,000 requests of 17
//! chunks; see the README's "Benchmarks").
//!
//! It is a fast path, not a second parser: it returns `None` for anything outside the plain
//! shape it knows (tool-call deltas, `error` values, numbers other than plain integers where
//! an integer is read, control characters or unknown escapes in strings, a duplicate known key,
//! deep nesting, trailing bytes, ...), and the caller then parses with serde as before. When it
//! returns `Some`, the result is the one serde gives (checked by the differential tests below:
//! generated JSON, arbitrary bytes, and every one-byte edit of the known shapes).

use std::borrow::Cow;

use super::chunk::{Choice, Chunk, CompletionDetails, Delta, UsageJson};

/// Deepest nesting skipped before giving up (serde_json's own limit is 128).
const MAX_DEPTH: u32 = 64;

const PLAIN: u8 = 0;
const QUOTE: u8 = 1;
const BACKSLASH: u8 = 2;
const CONTROL: u8 = 3;

/// Bit 7 of each byte of `w` that is `"`, `\\` or below 0x20, by the classic zero-byte trick
/// (a byte of `x` is zero iff its bit 7 survives in `(x - 0x01..) & !x & 0x80..`). The lowest
/// flagged byte is always a true one (a borrow can only flag bytes above a true one); zero
/// means the eight bytes are plain.
fn special_lanes(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let quote = zero(w ^ (ONES * u64::from(b'"')));
    let backslash = zero(w ^ (ONES * u64::from(b'\\')));
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    quote | backslash | control
}

/// What each byte is inside a JSON string.
static STRING_CLASS: [u8; 256] = {
    let mut t = [PLAIN; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = CONTROL;
        c += 1;
    }
    t[b'"' as usize] = QUOTE;
    t[b'\\' as usize] = BACKSLASH;
    t
};

/// Parse `payload` if it has the plain shape; `None` means "ask serde".
pub(crate) fn parse(payload: &[u8]) -> Option<Chunk<'_>> {
    let mut s = Scanner { b: payload, i: 0 };
    let chunk = s.chunk()?;
    s.ws();
    (s.i == s.b.len()).then_some(chunk)
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

/// Set a field once; a second occurrence of a known key is left to serde (which rejects it).
fn once<T>(slot: &mut Option<T>, seen: &mut bool, value: Option<T>) -> Option<()> {
    if std::mem::replace(seen, true) {
        return None;
    }
    *slot = value;
    Some(())
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Skip whitespace and consume `c`.
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b[self.i..]
            .starts_with(word)
            .then(|| self.i += word.len())
    }

    /// At a value (whitespace skipped): is it `null`? Consumes it if so.
    fn null(&mut self) -> bool {
        self.ws();
        self.peek() == Some(b'n') && self.literal(b"null").is_some()
    }

    /// The raw bytes of a string (after its opening quote) up to its closing quote, and
    /// whether they hold escapes. Control characters are left to serde. A byte loop over a
    /// class table: chunk strings are short, shorter than a SIMD search's setup pays for.
    fn raw_string(&mut self) -> Option<(&'a [u8], bool)> {
        let start = self.i;
        let mut escaped = false;
        let mut i = self.i;
        loop {
            // Eight bytes at a time to the next quote, backslash or control character (the
            // lowest flagged lane is exact), then the table for that byte and the last few.
            while let Some(word) = self.b.get(i..i + 8) {
                let flags = special_lanes(u64::from_le_bytes(word.try_into().expect("8 bytes")));
                if flags != 0 {
                    i += (flags.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            match STRING_CLASS[usize::from(*self.b.get(i)?)] {
                PLAIN => i += 1,
                QUOTE => {
                    self.i = i + 1;
                    return Some((&self.b[start..i], escaped));
                }
                // A backslash: the escaped character is never the closing quote (and is
                // checked when the string is decoded).
                BACKSLASH => {
                    escaped = true;
                    i += 2;
                }
                _ => return None,
            }
        }
    }

    /// A string value kept as text (whitespace skipped; must start with `"`).
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.ws();
        if self.peek()? != b'"' {
            return None;
        }
        self.i += 1;
        let (raw, escaped) = self.raw_string()?;
        if escaped {
            unescape(raw).map(Cow::Owned)
        } else {
            std::str::from_utf8(raw).ok().map(Cow::Borrowed)
        }
    }

    /// An object key, as raw bytes. A key with escapes might decode to a known name: serde
    /// decides.
    fn key(&mut self) -> Option<&'a [u8]> {
        self.ws();
        if self.peek()? != b'"' {
            return None;
        }
        self.i += 1;
        let (raw, escaped) = self.raw_string()?;
        // serde reads every key as text, so a key that is not UTF-8 fails the whole parse.
        // (A plain loop: keys are short, shorter than `is_ascii`'s word-at-a-time setup.)
        if escaped || !(raw.iter().all(|&b| b < 0x80) || std::str::from_utf8(raw).is_ok()) {
            return None;
        }
        self.eat(b':')?;
        Some(raw)
    }

    /// Iterate the members of an object: `f(scanner, key)` must consume the value.
    fn object(&mut self, mut f: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.key()?;
            f(self, key)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `null` or a string (`opt_str`).
    fn opt_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.null() {
            return Some(None);
        }
        self.string().map(Some)
    }

    /// A string, or `None` for any other value (`lenient_str`).
    fn lenient_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        self.ws();
        if self.peek()? == b'"' {
            return self.string().map(Some);
        }
        self.skip(0)?;
        Some(None)
    }

    /// `null` or a plain integer that fits an i64 (`Option<i64>`).
    fn opt_int(&mut self) -> Option<Option<i64>> {
        if self.null() {
            return Some(None);
        }
        let start = self.i;
        if self.peek()? == b'-' {
            self.i += 1;
        }
        let digits = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        let n = self.i - digits;
        // No fraction or exponent, no leading zero, at most 18 digits (always fits an i64);
        // serde_json reads `-0` as a float, which an integer field rejects.
        if n == 0 || n > 18 || (self.b[digits] == b'0' && (n > 1 || digits > start)) {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return None;
        }
        std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()
            .map(Some)
    }

    /// Skip any JSON value, checking its syntax as far as serde would reject it.
    fn skip(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'"' => {
                self.i += 1;
                let (raw, escaped) = self.raw_string()?;
                // Escapes in skipped strings must still be valid JSON escapes.
                if escaped {
                    unescape(raw)?;
                }
                Some(())
            }
            b'{' => self.object(|s, _| s.skip(depth + 1)),
            b'[' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// Skip a number with JSON's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        let digits = |s: &mut Self| {
            let start = s.i;
            while let Some(b'0'..=b'9') = s.peek() {
                s.i += 1;
            }
            s.i - start
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let first = self.i;
        let n = digits(self);
        if n == 0 || (n > 1 && self.b[first] == b'0') {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if digits(self) == 0 {
                return None;
            }
        }
        // Huge or very precise numbers: serde may reject what a float would swallow.
        (self.i - first <= 40).then_some(())
    }

    fn chunk(&mut self) -> Option<Chunk<'a>> {
        let mut c = Chunk::default();
        let mut seen = [false; 6];
        self.object(|s, key| match key {
            b"choices" => {
                let v = s.choices()?;
                once(&mut c.choice, &mut seen[0], v)
            }
            b"usage" => {
                let v = s.usage()?;
                once(&mut c.usage, &mut seen[1], v)
            }
            b"error" => {
                // Only the absent-error case is fast; error values go to serde.
                if !s.null() {
                    return None;
                }
                once(&mut c.error, &mut seen[2], None)
            }
            b"object" => {
                let v = s.lenient_str()?;
                once(&mut c.object, &mut seen[3], v)
            }
            b"message" => {
                let v = s.lenient_str()?;
                once(&mut c.message, &mut seen[4], v)
            }
            b"detail" => {
                let v = s.lenient_str()?;
                once(&mut c.detail, &mut seen[5], v)
            }
            _ => s.skip(1),
        })?;
        Some(c)
    }

    /// `choices`: `null`, or an array of choice objects; the first with index 0 (or none).
    fn choices(&mut self) -> Option<Option<Choice<'a>>> {
        if self.null() {
            return Some(None);
        }
        self.eat(b'[')?;
        self.ws();
        let mut first = None;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(None);
        }
        loop {
            let choice = self.choice()?;
            if first.is_none() && choice.index.unwrap_or(0) == 0 {
                first = Some(choice);
            }
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(first);
                }
                _ => return None,
            }
        }
    }

    fn choice(&mut self) -> Option<Choice<'a>> {
        let mut c = Choice::default();
        let mut seen = [false; 5];
        self.object(|s, key| match key {
            b"index" => {
                let v = s.opt_int()?;
                once(&mut c.index, &mut seen[0], v)
            }
            b"delta" => {
                let v = s.opt_delta()?;
                once(&mut c.delta, &mut seen[1], v)
            }
            b"message" => {
                let v = s.opt_delta()?.map(Box::new);
                once(&mut c.message, &mut seen[2], v)
            }
            b"text" => {
                let v = s.opt_str()?;
                once(&mut c.text, &mut seen[3], v)
            }
            b"finish_reason" => {
                let v = s.opt_str()?;
                once(&mut c.finish_reason, &mut seen[4], v)
            }
            _ => s.skip(2),
        })?;
        Some(c)
    }

    fn opt_delta(&mut self) -> Option<Option<Delta<'a>>> {
        if self.null() {
            return Some(None);
        }
        let mut d = Delta::default();
        let mut seen = [false; 5];
        self.object(|s, key| match key {
            b"content" => {
                let v = s.opt_str()?;
                once(&mut d.content, &mut seen[0], v)
            }
            b"reasoning_content" => {
                let v = s.opt_str()?;
                once(&mut d.reasoning_content, &mut seen[1], v)
            }
            b"reasoning" => {
                let v = s.opt_str()?;
                once(&mut d.reasoning, &mut seen[2], v)
            }
            // Tool-call text has its own rules (several elements, name + arguments): serde.
            b"tool_calls" => {
                s.null().then_some(())?;
                once(&mut d.tool_calls, &mut seen[3], None)
            }
            b"function_call" => {
                s.null().then_some(())?;
                once(&mut d.function_call, &mut seen[4], None)
            }
            _ => s.skip(3),
        })?;
        Some(Some(d))
    }

    fn usage(&mut self) -> Option<Option<UsageJson>> {
        if self.null() {
            return Some(None);
        }
        let mut u = UsageJson::default();
        let mut seen = [false; 3];
        self.object(|s, key| match key {
            b"prompt_tokens" => {
                let v = s.opt_int()?;
                once(&mut u.prompt_tokens, &mut seen[0], v)
            }
            b"completion_tokens" => {
                let v = s.opt_int()?;
                once(&mut u.completion_tokens, &mut seen[1], v)
            }
            b"completion_tokens_details" => {
                let v = s.completion_details()?;
                once(&mut u.completion_tokens_details, &mut seen[2], v)
            }
            _ => s.skip(2),
        })?;
        Some(Some(u))
    }

    fn completion_details(&mut self) -> Option<Option<CompletionDetails>> {
        if self.null() {
            return Some(None);
        }
        let mut d = CompletionDetails::default();
        let mut seen = false;
        self.object(|s, key| match key {
            b"reasoning_tokens" => {
                let v = s.opt_int()?;
                once(&mut d.reasoning_tokens, &mut seen, v)
            }
            _ => s.skip(3),
        })?;
        Some(Some(d))
    }
}

/// Decode a JSON string body with escapes; `None` for an invalid escape or invalid UTF-8.
fn unescape(raw: &[u8]) -> Option<String> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let Some(at) = memchr::memchr(b'\\', &raw[i..]) else {
            out.extend_from_slice(&raw[i..]);
            break;
        };
        out.extend_from_slice(&raw[i..i + at]);
        i += at + 1;
        let c = *raw.get(i)?;
        i += 1;
        let byte = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let hi = hex4(raw.get(i..i + 4)?)?;
                i += 4;
                let ch = if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate must be followed by an escaped low one.
                    if raw.get(i..i + 2)? != b"\\u" {
                        return None;
                    }
                    let lo = hex4(raw.get(i + 2..i + 6)?)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    i += 6;
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                } else {
                    // A lone low surrogate is not a character: serde decides.
                    char::from_u32(hi)?
                };
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            _ => return None,
        };
        out.push(byte);
    }
    String::from_utf8(out).ok()
}

fn hex4(h: &[u8]) -> Option<u32> {
    h.iter().try_fold(0u32, |acc, &c| {
        let d = (c as char).to_digit(16)?;
        Some(acc * 16 + d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// serde's answer, printed (Cow prints the same borrowed or owned).
    fn slow(payload: &[u8]) -> Option<String> {
        serde_json::from_slice::<Chunk<'_>>(payload)
            .ok()
            .map(|c| format!("{c:?}"))
    }

    fn fast(payload: &[u8]) -> Option<String> {
        parse(payload).map(|c| format!("{c:?}"))
    }

    /// The fast path either declines or agrees with serde.
    fn agrees(payload: &[u8]) {
        if let Some(f) = fast(payload) {
            assert_eq!(
                Some(f),
                slow(payload),
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
    }

    const SHAPES: &[&str] = &[
        // vLLM completions and chat, with usage-only final chunk.
        r#"{"id":"cmpl-1","object":"text_completion","created":1795933398,"model":"sim","choices":[{"index":0,"text":" ipsum","logprobs":null,"finish_reason":null,"stop_reason":null}]}"#,
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#,
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":5,"total_tokens":6,"completion_tokens":1}}"#,
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"total_tokens":21,"completion_tokens":16,"completion_tokens_details":{"reasoning_tokens":4}}}"#,
        // Reasoning deltas (DeepSeek / vLLM `reasoning_content`, OpenRouter `reasoning`).
        r#"{"choices":[{"index":0,"delta":{"reasoning_content":"Let me think","content":null}}]}"#,
        r#"{"choices":[{"delta":{"reasoning":"hmm"},"finish_reason":null}]}"#,
        // Escapes, unicode, surrogate pairs.
        r#"{"choices":[{"index":0,"delta":{"content":"line\nnext \"q\" \\ \/ \t \u00e9 \ud83d\ude00"}}]}"#,
        // Several choices: the first with index 0 wins.
        r#"{"choices":[{"index":1,"text":"b"},{"index":0,"text":"a"},{"index":0,"text":"c"}]}"#,
        // Whitespace everywhere; a whole non-streaming response.
        " { \"choices\" : [ { \"message\" : { \"role\" : \"assistant\" , \"content\" : \"Paris\" } , \"finish_reason\" : \"stop\" } ] , \"usage\" : { \"prompt_tokens\" : 9 , \"completion_tokens\" : 1 } } \n",
        // llama.cpp's timings and nested unknown values.
        r#"{"choices":[{"finish_reason":"stop","index":0,"delta":{}}],"timings":{"prompt_n":3,"predicted_ms":12.5,"x":[1,-2.5e-3,true,false,null,{"a":[]}]}}"#,
        // Error bodies as strings or objects (`object`/`message`/`detail`).
        r#"{"object":"error","message":"bad request","type":"BadRequestError","code":400}"#,
        r#"{"detail":"Not Found"}"#,
        r#"{"error":null,"choices":null,"usage":null}"#,
        r#"{}"#,
    ];

    #[test]
    fn the_lowest_flagged_lane_is_the_first_special_byte() {
        // Specials in two lanes, borrows and all: the first one is found.
        for lo in 0..8 {
            for hi in lo + 1..8 {
                for (a, b) in [(0u8, b'"'), (b'"', 0), (0x1f, b'\\'), (b'\\', 0x01), (0, 1)] {
                    // Plain bytes, high ones included.
                    let mut w = [0x61u8, 0xff, 0x21, 0x7e, 0x80, 0x20, 0x5b, 0x30];
                    w[lo] = a;
                    w[hi] = b;
                    let flags = special_lanes(u64::from_le_bytes(w));
                    assert_eq!(flags.trailing_zeros() / 8, lo as u32, "{w:?}");
                }
            }
        }
    }

    #[test]
    fn special_bytes_are_found_in_every_lane() {
        for lane in 0..8 {
            for b in 0..=255u8 {
                let mut w = *b"abcdefgh";
                w[lane] = b;
                let special = b == b'"' || b == b'\\' || b < 0x20;
                let flags = special_lanes(u64::from_le_bytes(w));
                assert_eq!(flags != 0, special, "byte {b} lane {lane}");
                if special {
                    assert_eq!(flags.trailing_zeros() / 8, lane as u32, "byte {b}");
                }
            }
        }
    }

    #[test]
    fn common_shapes_take_the_fast_path_and_agree_with_serde() {
        for shape in SHAPES {
            let f = fast(shape.as_bytes());
            assert!(f.is_some(), "declined: {shape}");
            assert_eq!(f, slow(shape.as_bytes()), "{shape}");
        }
        let c = parse(SHAPES[6].as_bytes()).unwrap();
        assert_eq!(
            c.choice.unwrap().delta.unwrap().content.as_deref(),
            Some("line\nnext \"q\" \\ / \t \u{e9} \u{1F600}")
        );
        // Plain strings are borrowed from the payload, not copied.
        let c = parse(SHAPES[0].as_bytes()).unwrap();
        assert!(matches!(
            c.choice.unwrap().text,
            Some(Cow::Borrowed(" ipsum"))
        ));
    }

    #[test]
    fn what_it_does_not_know_goes_to_serde() {
        for declined in [
            // Tool calls and error values: serde's own rules.
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{"}}]}}]}"#,
            r#"{"error":{"message":"boom","type":"x"}}"#,
            r#"{"error":"boom"}"#,
            // Not plain: float index, duplicate known key, escaped key, bad escape, raw
            // control character, trailing bytes, truncated, not an object, deep nesting.
            r#"{"choices":[{"index":0.0,"text":"a"}]}"#,
            r#"{"choices":[{"text":"a","text":"b"}]}"#,
            r#"{"choic\u0065s":[{"text":"a"}]}"#,
            r#"{"choices":[{"text":"a\qb"}]}"#,
            "{\"choices\":[{\"text\":\"a\u{1}b\"}]}",
            r#"{"choices":[]} x"#,
            r#"{"choices":[{"text":"a"#,
            r#"[1,2]"#,
            r#"{"choices":[{"text":1}]}"#,
        ] {
            assert_eq!(fast(declined.as_bytes()), None, "{declined}");
        }
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(fast(deep.as_bytes()), None);
        // What serde rejects, the fast path never accepts.
        for bad in [
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":1,}"#,
        ] {
            assert_eq!(fast(bad.as_bytes()), None, "{bad}");
            assert_eq!(slow(bad.as_bytes()), None, "{bad}");
        }
    }

    /// JSON text built from pieces that exercise the scanner: known and unknown keys in any
    /// order, every value type, escapes, whitespace, and occasional damage.
    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            Just("0".to_string()),
            Just("-12".to_string()),
            Just("3.5e2".to_string()),
            Just("1E-2".to_string()),
            Just("123456789012345678901".to_string()),
            Just("\"\"".to_string()),
            Just("\"text\"".to_string()),
            Just("\"a\\nb\\u00e9\\\"\"".to_string()),
            Just("\"\\ud83d\\ude00\"".to_string()),
            Just("\"\\udc00\"".to_string()),
            Just("\"caf\u{e9}\"".to_string()),
        ];
        let key = prop_oneof![
            Just("choices"),
            Just("usage"),
            Just("error"),
            Just("object"),
            Just("message"),
            Just("detail"),
            Just("index"),
            Just("delta"),
            Just("text"),
            Just("finish_reason"),
            Just("content"),
            Just("reasoning_content"),
            Just("reasoning"),
            Just("prompt_tokens"),
            Just("completion_tokens"),
            Just("completion_tokens_details"),
            Just("reasoning_tokens"),
            Just("tool_calls"),
            Just("id"),
            Just("model"),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((key.clone(), inner, prop::bool::ANY), 0..6).prop_map(
                    |members| {
                        let body: Vec<String> = members
                            .into_iter()
                            .map(|(k, v, spaced)| {
                                if spaced {
                                    format!(" \"{k}\" :\n {v} ")
                                } else {
                                    format!("\"{k}\":{v}")
                                }
                            })
                            .collect();
                        format!("{{{}}}", body.join(","))
                    }
                ),
            ]
        })
    }

    /// Every single-byte change (to a byte that matters to JSON) and every single-byte deletion
    /// of every shape: the fast path declines or agrees, and never panics.
    #[test]
    fn every_one_byte_edit_of_the_shapes_agrees() {
        const BYTES: &[u8] = b"\x00\x01\"\\{}[],: 0-e.nu\x80\xc3\xff";
        for shape in SHAPES {
            let base = shape.as_bytes();
            for at in 0..base.len() {
                let mut edited = base.to_vec();
                for &b in BYTES {
                    edited[at] = b;
                    agrees(&edited);
                }
                let mut deleted = base.to_vec();
                deleted.remove(at);
                agrees(&deleted);
            }
        }
    }

    /// The generators reach the fast path often (a differential test that always declined
    /// would prove nothing): sample them and count.
    #[test]
    fn generated_payloads_often_take_the_fast_path() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
        let mut runner = TestRunner::new_with_rng(
            Config::default(),
            TestRng::deterministic_rng(RngAlgorithm::ChaCha),
        );
        let strategy = value();
        let (mut taken, mut objects, n) = (0, 0, 3000);
        for _ in 0..n {
            let v = strategy.new_tree(&mut runner).unwrap().current();
            objects += usize::from(v.starts_with('{'));
            if fast(v.as_bytes()).is_some() {
                taken += 1;
                agrees(v.as_bytes());
            }
        }
        assert!(
            taken * 4 >= objects,
            "{taken} of {objects} objects took the fast path"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn fast_path_never_disagrees_with_serde(v in value(), cut in 0usize..400, damage in prop::bool::weighted(0.2)) {
            agrees(v.as_bytes());
            if damage {
                let cut = cut.min(v.len());
                agrees(&v.as_bytes()[..cut]);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic_or_disagree(
            bytes in prop::collection::vec(any::<u8>(), 0..300),
            shape in 0..SHAPES.len(),
            at in 0usize..400,
            byte in any::<u8>(),
        ) {
            agrees(&bytes);
            // One byte of a real chunk changed.
            let mut mutated = SHAPES[shape].as_bytes().to_vec();
            let at = at % mutated.len();
            mutated[at] = byte;
            agrees(&mutated);
        }

        #[test]
        fn chunk_shaped_values_agree(
            index in prop_oneof![Just("0"), Just("1"), Just("null"), Just("-0"), Just("2.0")],
            text in value(),
            reason in prop_oneof![Just("null"), Just("\"stop\""), Just("\"length\""), Just("7")],
            usage in value(),
        ) {
            let payload = format!(
                r#"{{"id":"x","choices":[{{"index":{index},"delta":{{"content":{text}}},"text":{text},"finish_reason":{reason}}}],"usage":{usage}}}"#
            );
            agrees(payload.as_bytes());
        }
    }
}
