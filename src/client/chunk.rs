//! Interpretation of one JSON payload: a streamed chunk (`data:` event), a whole non-streaming
//! response, or an error body.
//!
//! Each payload is parsed once into borrowed structs: text is a `Cow<str>` that borrows from the
//! frame unless the JSON string has escapes, unknown fields are skipped without being built, and
//! only the first choice with index 0 is kept (no `Vec` per chunk). The plain shapes servers
//! stream go through a one-pass scanner ([`super::fast_chunk`]); everything else, and every
//! error, through the serde_json types below, which define the result. Typed
//! OpenAI client crates are not used because they drop the fields servers add (`reasoning`,
//! `reasoning_content`, vLLM's `object: "error"`, llama.cpp's `timings`).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Usage;

/// One chunk or response body, as far as frontier cares.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Chunk<'a> {
    /// The first choice whose `index` is 0 (or absent).
    #[serde(borrow, default, rename = "choices", deserialize_with = "first_choice")]
    pub choice: Option<Choice<'a>>,
    /// `usage`, when present and not null.
    #[serde(default)]
    pub usage: Option<UsageJson>,
    /// `error`: an object with `message`, or a bare string (TGI). `null` is no error.
    #[serde(borrow, default, deserialize_with = "error_field")]
    pub error: Option<ErrorInfo<'a>>,
    /// `object`; vLLM and SGLang error bodies say `"error"` here.
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub object: Option<Cow<'a, str>>,
    /// Top-level `message` of such error bodies.
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub message: Option<Cow<'a, str>>,
    /// FastAPI's `detail` (string form), seen in some error bodies.
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub detail: Option<Cow<'a, str>>,
}

/// One choice of a chunk (`delta`) or of a whole response (`message`, or `text` for completions).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Choice<'a> {
    #[serde(default)]
    pub index: Option<i64>,
    #[serde(borrow, default)]
    pub delta: Option<Delta<'a>>,
    /// Boxed: only whole (non-streamed) responses have it, and an inline `Delta` would make
    /// every streamed chunk's struct, moved several times per chunk, 112 bytes larger.
    #[serde(borrow, default)]
    pub message: Option<Box<Delta<'a>>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    pub finish_reason: Option<Cow<'a, str>>,
}

/// A chat delta or message.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Delta<'a> {
    #[serde(borrow, default, deserialize_with = "opt_str")]
    pub content: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    pub reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    pub reasoning: Option<Cow<'a, str>>,
    /// The generated text in `tool_calls` (function names and argument fragments); `None`
    /// when it carries none.
    #[serde(borrow, default, deserialize_with = "tool_calls_text")]
    pub tool_calls: Option<Cow<'a, str>>,
    /// Legacy `function_call` delta, same rule.
    #[serde(borrow, default, deserialize_with = "function_text")]
    pub function_call: Option<Cow<'a, str>>,
}

/// The `usage` object.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct UsageJson {
    #[serde(default)]
    pub prompt_tokens: Option<i64>,
    #[serde(default)]
    pub completion_tokens: Option<i64>,
    #[serde(default)]
    pub completion_tokens_details: Option<CompletionDetails>,
}

/// `usage.completion_tokens_details`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CompletionDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<i64>,
}

impl From<UsageJson> for Usage {
    /// A negative token count is not a count: it is taken as not reported (so every count
    /// downstream is in `0..=i64::MAX`, and differences of counts cannot overflow).
    fn from(u: UsageJson) -> Usage {
        let count = |v: Option<i64>| v.filter(|&v| v >= 0);
        Usage {
            prompt_tokens: count(u.prompt_tokens),
            completion_tokens: count(u.completion_tokens),
            reasoning_tokens: count(u.completion_tokens_details.and_then(|d| d.reasoning_tokens)),
        }
    }
}

/// What an `error` value said.
#[derive(Debug, Default)]
pub(crate) struct ErrorInfo<'a> {
    pub message: Option<Cow<'a, str>>,
    pub kind: Option<Cow<'a, str>>,
}

/// The parts of a choice that matter per chunk, with empty strings already treated as absent.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Tokens<'c> {
    pub content: Option<&'c str>,
    pub reasoning: Option<&'c str>,
    /// Tool-call text (a function name or argument fragment).
    pub tool: Option<&'c str>,
}

impl Tokens<'_> {
    /// Does this chunk carry any generated token?
    pub fn any(&self) -> bool {
        self.content.is_some() || self.reasoning.is_some() || self.tool.is_some()
    }
}

fn non_empty<'c>(s: &'c Option<Cow<'_, str>>) -> Option<&'c str> {
    s.as_deref().filter(|s| !s.is_empty())
}

impl<'a> Choice<'a> {
    /// Content, reasoning and tool-call presence, from `delta`, `message` or `text`.
    pub fn tokens(&self) -> Tokens<'_> {
        let delta = self.delta.as_ref().or(self.message.as_deref());
        let content = delta
            .and_then(|d| non_empty(&d.content))
            .or_else(|| non_empty(&self.text));
        // Some servers send both names with the same text; take one, never both.
        let reasoning =
            delta.and_then(|d| non_empty(&d.reasoning_content).or_else(|| non_empty(&d.reasoning)));
        let tool = delta.and_then(|d| d.tool_calls.as_deref().or(d.function_call.as_deref()));
        Tokens {
            content,
            reasoning,
            tool,
        }
    }

    /// The finish reason, if set and non-empty.
    pub fn finish_reason(&self) -> Option<&str> {
        non_empty(&self.finish_reason)
    }
}

impl<'a> Chunk<'a> {
    /// Parse one payload.
    ///
    /// The plain shapes servers stream (text, content and reasoning deltas, usage) take a
    /// hand-written scan ([`super::fast_chunk`]); anything else, and every error, is serde's.
    pub fn parse(payload: &'a [u8]) -> serde_json::Result<Chunk<'a>> {
        match super::fast_chunk::parse(payload) {
            Some(chunk) => Ok(chunk),
            None => serde_json::from_slice(payload),
        }
    }

    /// The server's error message, if this payload is an error (`{"error": ...}` or
    /// `{"object": "error", "message": ...}`).
    pub fn error_message(&self) -> Option<String> {
        if let Some(err) = &self.error {
            return Some(match (&err.message, &err.kind) {
                (Some(m), _) if !m.is_empty() => m.to_string(),
                (_, Some(k)) => format!("server error of type {k}"),
                _ => "server error without a message".to_string(),
            });
        }
        if self.object.as_deref() == Some("error") {
            return Some(
                self.message
                    .as_deref()
                    .unwrap_or("server error without a message")
                    .to_string(),
            );
        }
        None
    }
}

/// Longest slice of raw body text quoted in error messages.
const QUOTE_MAX: usize = 500;

/// Lossy, trimmed, truncated text of a payload, for error messages.
pub(crate) fn quote(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(payload);
    let text = text.trim();
    match text.char_indices().nth(QUOTE_MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// The human message in an error body: the JSON error's message when the body is a JSON error
/// (OpenAI, vLLM, SGLang, TGI, llama.cpp and FastAPI shapes), else the body text itself.
pub(crate) fn error_body_message(body: &[u8]) -> String {
    if let Ok(chunk) = Chunk::parse(body) {
        if let Some(message) = chunk.error_message() {
            return message;
        }
        if let Some(m) = chunk.message.as_deref().or(chunk.detail.as_deref()) {
            return m.to_string();
        }
    }
    quote(body)
}

// ---- custom field deserializers (no allocation beyond escaped strings) ----

/// `choices`: keep the first element with index 0 (or no index), skip the rest; `null` is none.
fn first_choice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Choice<'de>>, D::Error> {
    struct FirstChoice;
    impl<'de> Visitor<'de> for FirstChoice {
        type Value = Option<Choice<'de>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of choices")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut first = None;
            while let Some(choice) = seq.next_element::<Choice<'de>>()? {
                if first.is_none() && choice.index.unwrap_or(0) == 0 {
                    first = Some(choice);
                }
            }
            Ok(first)
        }
    }
    d.deserialize_any(FirstChoice)
}

/// `error`: null -> none; string -> message; object -> `message` and `type`; `false` -> none;
/// anything else -> an error without a message.
fn error_field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ErrorInfo<'de>>, D::Error> {
    struct ErrorValue;
    impl<'de> Visitor<'de> for ErrorValue {
        type Value = Option<ErrorInfo<'de>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an error object or message")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(v.then(ErrorInfo::default))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(ErrorInfo {
                message: Some(Cow::Owned(format!("error code {v}"))),
                kind: None,
            }))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.visit_i64(v as i64)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Some(ErrorInfo::default()))
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(ErrorInfo {
                message: Some(Cow::Borrowed(v)),
                kind: None,
            }))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(ErrorInfo {
                message: Some(Cow::Owned(v.to_string())),
                kind: None,
            }))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Some(ErrorInfo::default()))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut info = ErrorInfo::default();
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                match key.as_ref() {
                    "message" => info.message = map.next_value_seed(LenientStr)?,
                    "type" => info.kind = map.next_value_seed(LenientStr)?,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(Some(info))
        }
    }
    d.deserialize_any(ErrorValue)
}

/// An optional string that borrows from the payload when it has no escapes. (`#[serde(borrow)]`
/// alone does not reach through `Option`: serde would allocate every delta.) Null is `None`;
/// any other non-string is an error.
fn opt_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct OptStr;
    impl<'de> Visitor<'de> for OptStr {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(OptStr)
}

/// A string if the value is one, `None` for anything else (never fails on type).
fn lenient_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    de::DeserializeSeed::deserialize(LenientStr, d)
}

struct LenientStr;

impl<'de> de::DeserializeSeed<'de> for LenientStr {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LenientStr {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// A function-call delta: tokens if `name` or `arguments` is a non-empty string.
#[derive(Default, Deserialize)]
struct FunctionDelta<'a> {
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    arguments: Option<Cow<'a, str>>,
}

impl<'a> FunctionDelta<'a> {
    /// The name and argument text it carries (`None`: neither is a non-empty string).
    fn text(self) -> Option<Cow<'a, str>> {
        let keep = |s: Option<Cow<'a, str>>| s.filter(|s| !s.is_empty());
        match (keep(self.name), keep(self.arguments)) {
            (Some(n), Some(a)) => Some(Cow::Owned(format!("{n}{a}"))),
            (n, a) => n.or(a),
        }
    }
}

/// One element of `tool_calls`.
#[derive(Default, Deserialize)]
struct ToolCallDelta<'a> {
    #[serde(borrow, default)]
    function: Option<FunctionDelta<'a>>,
}

/// `tool_calls`: the function names and argument text of its elements, in order (borrowed
/// when one element carries text, as streamed deltas do); null, `[]` or only empty strings
/// give `None`.
fn tool_calls_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct ToolCalls;
    impl<'de> Visitor<'de> for ToolCalls {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of tool-call deltas")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut text: Option<Cow<'de, str>> = None;
            while let Some(call) = seq.next_element::<ToolCallDelta<'de>>()? {
                if let Some(t) = call.function.and_then(FunctionDelta::text) {
                    text = Some(match text {
                        None => t,
                        Some(prev) => Cow::Owned(prev.into_owned() + &t),
                    });
                }
            }
            Ok(text)
        }
    }
    d.deserialize_any(ToolCalls)
}

/// Legacy `function_call`: its name and argument text, if any.
fn function_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    let f: Option<FunctionDelta<'de>> = Option::deserialize(d)?;
    Ok(f.and_then(FunctionDelta::text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_borrows_from_the_payload_unless_escaped() {
        let payload = br#"{"choices":[{"index":0,"delta":{"content":"plain"}}]}"#;
        let chunk = Chunk::parse(payload).unwrap();
        let content = &chunk
            .choice
            .as_ref()
            .unwrap()
            .delta
            .as_ref()
            .unwrap()
            .content;
        assert!(matches!(content, Some(Cow::Borrowed("plain"))));
        let payload = br#"{"choices":[{"delta":{"content":"a\nb"}}]}"#;
        let chunk = Chunk::parse(payload).unwrap();
        let choice = chunk.choice.unwrap();
        assert_eq!(choice.tokens().content, Some("a\nb"));
    }

    #[test]
    fn role_only_and_empty_chunks_carry_no_tokens() {
        for payload in [
            &br#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#[..],
            br#"{"choices":[{"index":0,"delta":{"role":"assistant"}}]}"#,
            br#"{"choices":[{"index":0,"delta":{"content":null,"reasoning_content":null,"tool_calls":null}}]}"#,
            br#"{"choices":[{"index":0,"delta":{"tool_calls":[]}}]}"#,
            br#"{"choices":[{"index":0,"delta":{}, "finish_reason":"stop"}]}"#,
        ] {
            let chunk = Chunk::parse(payload).unwrap();
            assert!(!chunk.choice.unwrap().tokens().any(), "{payload:?}");
        }
    }

    #[test]
    fn reasoning_from_either_field_never_both() {
        let chunk =
            Chunk::parse(br#"{"choices":[{"delta":{"reasoning_content":"r","reasoning":"r"}}]}"#)
                .unwrap();
        assert_eq!(chunk.choice.unwrap().tokens().reasoning, Some("r"));
        let chunk = Chunk::parse(br#"{"choices":[{"delta":{"reasoning":"s"}}]}"#).unwrap();
        assert_eq!(chunk.choice.unwrap().tokens().reasoning, Some("s"));
    }

    #[test]
    fn only_the_choice_with_index_zero_counts() {
        let chunk = Chunk::parse(
            br#"{"choices":[{"index":1,"delta":{"content":"one"}},{"index":0,"delta":{"content":"zero"}}]}"#,
        )
        .unwrap();
        assert_eq!(chunk.choice.unwrap().tokens().content, Some("zero"));
        let chunk =
            Chunk::parse(br#"{"choices":[{"index":1,"delta":{"content":"one"}}]}"#).unwrap();
        assert!(chunk.choice.is_none());
    }

    #[test]
    fn usage_with_reasoning_details() {
        let chunk = Chunk::parse(
            br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9,"total_tokens":12,
                "completion_tokens_details":{"reasoning_tokens":4}}}"#,
        )
        .unwrap();
        assert!(chunk.choice.is_none());
        let usage: Usage = chunk.usage.unwrap().into();
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: Some(3),
                completion_tokens: Some(9),
                reasoning_tokens: Some(4),
            }
        );
        let chunk = Chunk::parse(br#"{"usage":null,"choices":null}"#).unwrap();
        assert!(chunk.usage.is_none() && chunk.choice.is_none());
    }

    #[test]
    fn error_shapes() {
        let cases: [(&[u8], Option<&str>); 8] = [
            (
                br#"{"error":{"message":"bad things","type":"server_error","code":null}}"#,
                Some("bad things"),
            ),
            (
                br#"{"error":{"object":"error","message":"vllm says no","type":"BadRequestError","param":null,"code":400}}"#,
                Some("vllm says no"),
            ),
            (
                br#"{"object":"error","message":"old vllm","type":"BadRequestError","code":400}"#,
                Some("old vllm"),
            ),
            (
                br#"{"error":"Input validation error","error_type":"validation"}"#,
                Some("Input validation error"),
            ),
            (
                br#"{"error":{"type":"overloaded"}}"#,
                Some("server error of type overloaded"),
            ),
            (br#"{"error":null,"choices":[]}"#, None),
            (br#"{"object":"chat.completion.chunk","choices":[]}"#, None),
            (br#"{"error":false}"#, None),
        ];
        for (payload, expected) in cases {
            let chunk = Chunk::parse(payload).unwrap();
            assert_eq!(chunk.error_message().as_deref(), expected, "{payload:?}");
        }
    }

    #[test]
    fn error_body_messages() {
        assert_eq!(
            error_body_message(br#"{"error":{"message":"Rate limit reached","type":"requests"}}"#),
            "Rate limit reached"
        );
        assert_eq!(
            error_body_message(br#"{"detail":"Not Found"}"#),
            "Not Found"
        );
        assert_eq!(
            error_body_message(b"  <html>Bad Gateway</html>\n"),
            "<html>Bad Gateway</html>"
        );
        let long = vec![b'x'; 2000];
        assert_eq!(error_body_message(&long).len(), QUOTE_MAX + 3);
    }

    #[test]
    fn tool_call_deltas() {
        let first = br#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}"#;
        assert!(
            Chunk::parse(first)
                .unwrap()
                .choice
                .unwrap()
                .tokens()
                .tool
                .is_some()
        );
        let args = br#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\""}}]}}]}"#;
        assert!(
            Chunk::parse(args)
                .unwrap()
                .choice
                .unwrap()
                .tokens()
                .tool
                .is_some()
        );
        let empty =
            br#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":""}}]}}]}"#;
        assert!(
            Chunk::parse(empty)
                .unwrap()
                .choice
                .unwrap()
                .tokens()
                .tool
                .is_none()
        );
        // The text itself, for counting with a client tokenizer.
        let text = |b: &[u8]| {
            Chunk::parse(b)
                .unwrap()
                .choice
                .unwrap()
                .tokens()
                .tool
                .map(String::from)
        };
        assert_eq!(text(first).as_deref(), Some("get_weather"));
        assert_eq!(text(args).as_deref(), Some("{\""));
        let two = br#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{"}},{"index":1,"function":{"arguments":"}"}}]}}]}"#;
        assert_eq!(text(two).as_deref(), Some("f{}"));
        let legacy = br#"{"choices":[{"delta":{"function_call":{"arguments":"{}"}}}]}"#;
        assert_eq!(text(legacy).as_deref(), Some("{}"));
        assert!(
            Chunk::parse(legacy)
                .unwrap()
                .choice
                .unwrap()
                .tokens()
                .tool
                .is_some()
        );
    }

    #[test]
    fn completions_text_and_whole_messages() {
        let chunk = Chunk::parse(
            br#"{"choices":[{"text":" world","index":0,"logprobs":null,"finish_reason":null}]}"#,
        )
        .unwrap();
        assert_eq!(chunk.choice.unwrap().tokens().content, Some(" world"));
        let chunk = Chunk::parse(
            br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"hi","reasoning_content":"think"},"finish_reason":"stop"}]}"#,
        )
        .unwrap();
        let choice = chunk.choice.unwrap();
        assert_eq!(
            choice.tokens(),
            Tokens {
                content: Some("hi"),
                reasoning: Some("think"),
                tool: None
            }
        );
        assert_eq!(choice.finish_reason(), Some("stop"));
    }

    #[test]
    fn non_object_payloads_are_errors() {
        assert!(Chunk::parse(b"42").is_err());
        assert!(Chunk::parse(b"not json").is_err());
        assert!(Chunk::parse(br#"{"choices":[{"delta":{"content":7}}]}"#).is_err());
    }
}
