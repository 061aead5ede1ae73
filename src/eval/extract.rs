//! Extraction: the stage before scoring that picks the part of an answer to score.
//!
//! It is its own stage so that "nothing could be extracted" is recorded as such
//! (`scores.extraction_failed`, status `unscored`, reason `extraction_failed`) instead of being
//! scored as a wrong answer, and so that the extracted text is stored beside the score.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::normalize::regex_error;
use crate::spec::{ExtractSpec, GroupSpec, MatchPolicy};

/// A ready-to-run extractor.
#[derive(Clone, Debug)]
pub enum Extractor {
    /// The last number.
    LastNumber,
    /// A regex match or group.
    Regex {
        /// The pattern.
        re: Regex,
        /// Group index.
        group: usize,
        /// First or last match.
        policy: MatchPolicy,
    },
    /// Text after the last marker, to the end of its line.
    After(String),
    /// A JSON path.
    JsonPath(Vec<PathStep>),
}

/// One step of a JSON path.
#[derive(Clone, Debug, PartialEq)]
pub enum PathStep {
    /// An object member.
    Key(String),
    /// An array element (negative: from the end).
    Index(i64),
}

/// A problem with an extraction spec: the key (under `extract`) and the message.
pub type SpecError = (&'static str, String);

impl Extractor {
    /// Build from the spec, checking patterns, groups and paths.
    pub fn from_spec(spec: &ExtractSpec) -> Result<Extractor, SpecError> {
        Ok(match spec {
            ExtractSpec::LastNumber => Extractor::LastNumber,
            ExtractSpec::After(marker) => {
                if marker.is_empty() {
                    return Err(("after", "the marker is empty".into()));
                }
                Extractor::After(marker.clone())
            }
            ExtractSpec::JsonPath(p) => {
                Extractor::JsonPath(parse_json_path(p).map_err(|e| ("json_path", e))?)
            }
            ExtractSpec::Regex(r) => {
                let re = Regex::new(&r.pattern).map_err(|e| ("regex.pattern", regex_error(&e)))?;
                let groups = re.captures_len();
                let group = match &r.group {
                    None => usize::from(groups > 1),
                    Some(GroupSpec::Index(i)) => {
                        let i = *i as usize;
                        if i >= groups {
                            return Err((
                                "regex.group",
                                format!(
                                    "group {i} does not exist: the pattern has {} group(s)",
                                    groups - 1
                                ),
                            ));
                        }
                        i
                    }
                    Some(GroupSpec::Name(name)) => re
                        .capture_names()
                        .position(|n| n == Some(name.as_str()))
                        .ok_or_else(|| {
                            let names: Vec<&str> = re.capture_names().flatten().collect();
                            (
                                "regex.group",
                                format!(
                                    "the pattern has no group named `{name}` (named groups: {})",
                                    if names.is_empty() {
                                        "none".to_string()
                                    } else {
                                        names.join(", ")
                                    }
                                ),
                            )
                        })?,
                };
                Extractor::Regex {
                    re,
                    group,
                    policy: r.match_,
                }
            }
        })
    }

    /// The extractor's key (`last_number`, `regex`, `after`, `json_path`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Extractor::LastNumber => "last_number",
            Extractor::Regex { .. } => "regex",
            Extractor::After(_) => "after",
            Extractor::JsonPath(_) => "json_path",
        }
    }

    /// The extracted text, or `None` when nothing could be extracted.
    pub fn extract<'a>(&self, answer: &'a str) -> Option<Cow<'a, str>> {
        match self {
            Extractor::LastNumber => last_number(answer).map(Cow::Borrowed),
            Extractor::After(marker) => {
                let start = answer.rfind(marker.as_str())? + marker.len();
                let rest = &answer[start..];
                let line = rest.split('\n').next().unwrap_or("").trim();
                (!line.is_empty()).then_some(Cow::Borrowed(line))
            }
            Extractor::Regex { re, group, policy } => {
                let caps = match policy {
                    MatchPolicy::First => re.captures(answer),
                    MatchPolicy::Last => re.captures_iter(answer).last(),
                }?;
                caps.get(*group).map(|m| Cow::Borrowed(m.as_str()))
            }
            Extractor::JsonPath(steps) => {
                let doc = find_json(answer)?;
                let mut v = &doc;
                for s in steps {
                    v = match (s, v) {
                        (PathStep::Key(k), Value::Object(m)) => m.get(k)?,
                        (PathStep::Index(i), Value::Array(a)) => {
                            let i = if *i < 0 { a.len() as i64 + i } else { *i };
                            a.get(usize::try_from(i).ok()?)?
                        }
                        _ => return None,
                    };
                }
                match v {
                    Value::Null => None,
                    Value::String(s) => Some(Cow::Owned(s.clone())),
                    other => Some(Cow::Owned(canonical_json(other))),
                }
            }
        }
    }
}

/// The last number in `text` as written, read with the grammar of
/// [`parse_number`](super::scorers::parse_number): an optional sign and currency symbol,
/// digits with comma groups, a decimal part, a leading decimal point (`.5`), an exponent
/// (`2.5e-4`, `1e6`) and a percent sign, e.g. `-$1,234.50`, `45%`.
///
/// - A sign directly after a letter or digit is a hyphen, not a sign (`5-3` ends with `3`).
/// - A number glued to the letter or digit before it is not a number (`H2O`, and the `.3` of
///   `1.2.3`), so the last number is never the tail of a longer token.
/// - Comma groups are taken as written, whole: `1,5` and `12,3456` are extracted as they are
///   (not as `5` or `6`), and `numeric` then finds them `not_a_number`: a malformed group (not
///   exactly three digits) never silently becomes a different number.
pub fn last_number(text: &str) -> Option<&str> {
    static NUMBER: OnceLock<Regex> = OnceLock::new();
    let re = NUMBER.get_or_init(|| {
        Regex::new(
            r"[-+\x{2212}]?[$€£]?(?:[0-9]+(?:,[0-9]+)*(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?%?",
        )
        .expect("number pattern")
    });
    let glued = |end: usize| {
        text[..end]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
    };
    let mut last = None;
    for m in re.find_iter(text) {
        let s = m.as_str();
        if s.starts_with(['-', '+', '\u{2212}']) {
            if glued(m.start()) {
                // A hyphen: the number starts after it (and the hyphen is its boundary).
                let sign_len = s.chars().next().map_or(0, char::len_utf8);
                last = Some(&s[sign_len..]);
            } else {
                last = Some(s);
            }
        } else if s.starts_with(['$', '€', '£']) || !glued(m.start()) {
            last = Some(s);
        }
    }
    last
}

/// `value` as canonical compact JSON: no whitespace, object keys sorted, and numbers with an
/// integral value written as integers (`18.0` is `18`, `1e3` is `1000`), so that JSON values
/// equal as data are equal as text. A dataset field used as a reference arrives in the same
/// form (compact, keys sorted), which is what lets `exact` compare extracted JSON with it.
pub fn canonical_json(value: &Value) -> String {
    canonical_value(value).to_string()
}

fn canonical_value(value: &Value) -> Value {
    // Integers up to 2^53 are exact in an f64; larger floats keep their float form.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() <= EXACT => Value::from(f as i64),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(canonical_value).collect()),
        // serde_json's map is ordered by key (no `preserve_order`): sorted on output.
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), canonical_value(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The answer parsed as JSON, strictly: the whole text (trimmed), or the body of a ``` fence
/// that wraps the whole text (```` ```json ```` or ```` ``` ````).
pub fn parse_json_answer(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(strip_fence(text.trim()))
}

fn strip_fence(t: &str) -> &str {
    if let Some(rest) = t.strip_prefix("```")
        && let Some(body) = rest.strip_suffix("```")
    {
        // Drop the info string (`json`) on the opening line.
        return match body.find('\n') {
            Some(nl) => body[nl + 1..].trim(),
            None => body.trim(),
        };
    }
    t
}

/// JSON found anywhere in the answer: the whole text or a fenced block if either parses,
/// else the first complete JSON object or array starting at one of the first 16 `{` or `[`.
pub fn find_json(text: &str) -> Option<Value> {
    if let Ok(v) = parse_json_answer(text) {
        return Some(v);
    }
    if let Some(open) = text.find("```") {
        let after = &text[open + 3..];
        let body_start = after.find('\n').map_or(0, |i| i + 1);
        let body = &after[body_start..];
        let body = body.find("```").map_or(body, |end| &body[..end]);
        if let Ok(v) = serde_json::from_str(body.trim()) {
            return Some(v);
        }
    }
    for (i, _) in text.match_indices(['{', '[']).take(16) {
        let mut it = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
        if let Some(Ok(v)) = it.next() {
            return Some(v);
        }
    }
    None
}

/// Parse `$`, `$.a.b`, `$.items[0]`, `$['a key'][-1]`.
pub fn parse_json_path(path: &str) -> Result<Vec<PathStep>, String> {
    let bad = |why: &str| format!("invalid JSON path `{path}`: {why}");
    let mut rest = path
        .trim()
        .strip_prefix('$')
        .ok_or_else(|| bad("it must start with `$`"))?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(bad("empty key after `.`"));
            }
            steps.push(PathStep::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| bad("missing `]`"))?;
            let inner = r[..end].trim();
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            match quoted {
                Some(k) => steps.push(PathStep::Key(k.to_string())),
                None => steps.push(PathStep::Index(
                    inner
                        .parse()
                        .map_err(|_| bad("`[...]` holds an integer or a quoted key"))?,
                )),
            }
            rest = &r[end + 1..];
        } else {
            return Err(bad("expected `.key` or `[index]`"));
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::RegexExtract;

    fn ex(spec: ExtractSpec, text: &str) -> Option<String> {
        Extractor::from_spec(&spec)
            .unwrap()
            .extract(text)
            .map(|c| c.into_owned())
    }

    fn re(pattern: &str, group: Option<GroupSpec>, policy: MatchPolicy) -> ExtractSpec {
        ExtractSpec::Regex(RegexExtract {
            pattern: pattern.into(),
            group,
            match_: policy,
        })
    }

    #[test]
    fn last_number_golden() {
        for (text, want) in [
            ("The answer is 42.", Some("42")),
            ("3 apples and 4 pears: 7 fruits", Some("7")),
            ("It costs $1,234.50 in total", Some("$1,234.50")),
            ("The change is -3 degrees", Some("-3")),
            ("5-3 = 2", Some("2")),
            ("ratio 5-3", Some("3")),
            ("growth of 45% this year", Some("45%")),
            ("pi is 3.14159", Some("3.14159")),
            ("no digits here", None),
            ("", None),
            ("€20 or £30", Some("£30")),
            // The same grammar as `parse_number`: leading decimal point, exponents.
            ("The probability is .5", Some(".5")),
            ("The probability is 0.5.", Some("0.5")),
            ("It is 2.5e-4", Some("2.5e-4")),
            ("About 1e6 people", Some("1e6")),
            ("About 3E+2 people", Some("3E+2")),
            ("It is -1.5e3 units", Some("-1.5e3")),
            // Comma groups as written: a malformed one stays whole (then `not_a_number`).
            ("1,5 litres", Some("1,5")),
            ("12,3456", Some("12,3456")),
            ("1,234,567 people", Some("1,234,567")),
            ("Pick 1, 2, or 3.", Some("3")),
            ("3 apples, 4 pears", Some("4")),
            // Word boundaries: not the tail of a longer token.
            ("version 1.2.3", Some("1.2")),
            ("H2O and 7 more", Some("7")),
            ("H2O", None),
            ("COVID-19", Some("19")),
            ("US$5", Some("$5")),
            ("5km", Some("5")),
        ] {
            assert_eq!(last_number(text), want, "{text:?}");
            assert_eq!(
                ex(ExtractSpec::LastNumber, text).as_deref(),
                want,
                "{text:?}"
            );
        }
    }

    #[test]
    fn regex_first_and_last_match() {
        let text = "Answer: 1. Revised answer: 2.";
        let p = r"[Aa]nswer: (\d+)";
        assert_eq!(
            ex(re(p, None, MatchPolicy::First), text).as_deref(),
            Some("1")
        );
        assert_eq!(
            ex(re(p, None, MatchPolicy::Last), text).as_deref(),
            Some("2")
        );
        // Group 0 is the whole match; without groups the default is the whole match.
        assert_eq!(
            ex(re(p, Some(GroupSpec::Index(0)), MatchPolicy::First), text).as_deref(),
            Some("Answer: 1")
        );
        assert_eq!(
            ex(re(r"\d+", None, MatchPolicy::Last), text).as_deref(),
            Some("2")
        );
        assert_eq!(
            ex(
                re(
                    r"(?P<n>\d+)",
                    Some(GroupSpec::Name("n".into())),
                    MatchPolicy::First
                ),
                text
            )
            .as_deref(),
            Some("1")
        );
        assert_eq!(ex(re(p, None, MatchPolicy::First), "no answer"), None);
        // A group that did not take part in the match is a failed extraction.
        assert_eq!(ex(re(r"x(y)?", None, MatchPolicy::First), "x"), None);
    }

    #[test]
    fn regex_spec_errors() {
        let e = Extractor::from_spec(&re("(", None, MatchPolicy::First)).unwrap_err();
        assert!(e.1.starts_with("invalid regular expression"), "{e:?}");
        let e = Extractor::from_spec(&re("(a)", Some(GroupSpec::Index(2)), MatchPolicy::First))
            .unwrap_err();
        assert_eq!(e.1, "group 2 does not exist: the pattern has 1 group(s)");
        let e = Extractor::from_spec(&re(
            "(?P<x>a)",
            Some(GroupSpec::Name("y".into())),
            MatchPolicy::First,
        ))
        .unwrap_err();
        assert_eq!(e.1, "the pattern has no group named `y` (named groups: x)");
    }

    #[test]
    fn after_marker() {
        let spec = || ExtractSpec::After("ANSWER:".into());
        assert_eq!(
            ex(spec(), "ANSWER: draft\nthinking...\nANSWER:  Paris \nbye").as_deref(),
            Some("Paris")
        );
        assert_eq!(ex(spec(), "Paris"), None);
        assert_eq!(ex(spec(), "ANSWER:   \n"), None);
        assert_eq!(ex(spec(), "answer: Paris"), None, "case-sensitive");
    }

    #[test]
    fn json_path_extraction() {
        let spec = |p: &str| ExtractSpec::JsonPath(p.into());
        let fenced =
            "Here you go:\n```json\n{\"a\": {\"b\": [10, \"x\", {\"c\": true}]}}\n```\nDone.";
        assert_eq!(ex(spec("$.a.b[0]"), fenced).as_deref(), Some("10"));
        assert_eq!(ex(spec("$.a.b[1]"), fenced).as_deref(), Some("x"));
        assert_eq!(ex(spec("$.a.b[-1].c"), fenced).as_deref(), Some("true"));
        assert_eq!(
            ex(spec("$['a']"), fenced).as_deref(),
            Some(r#"{"b":[10,"x",{"c":true}]}"#)
        );
        assert_eq!(ex(spec("$.a.z"), fenced), None);
        assert_eq!(ex(spec("$.a.b[9]"), fenced), None);
        assert_eq!(
            ex(
                spec("$.name"),
                r#"The result is {"name": "Ada"} as requested"#
            )
            .as_deref(),
            Some("Ada")
        );
        assert_eq!(ex(spec("$.n"), r#"{"n": null}"#), None);
        // Canonical JSON: keys sorted, no spaces, integral numbers as integers.
        assert_eq!(
            ex(
                spec("$"),
                "```json\n{ \"b\": [1.0, 2.5, -0.0], \"a\": {\"z\": 1e3, \"y\": \"\\u00e9\"} }\n```"
            )
            .as_deref(),
            Some(r#"{"a":{"y":"é","z":1000},"b":[1,2.5,0]}"#)
        );
        assert_eq!(ex(spec("$.n"), "not json"), None);
        assert!(parse_json_path("a.b").is_err());
        assert!(parse_json_path("$.a[x]").is_err());
        assert!(parse_json_path("$..a").is_err());
        assert_eq!(parse_json_path("$").unwrap(), vec![]);
    }

    #[test]
    fn strict_json_parse_tolerates_a_wrapping_fence_only() {
        assert!(parse_json_answer(" {\"a\": 1} ").is_ok());
        assert!(parse_json_answer("```json\n{\"a\": 1}\n```").is_ok());
        assert!(parse_json_answer("```\n[1]\n```").is_ok());
        assert!(parse_json_answer("Sure: {\"a\": 1}").is_err());
        assert!(parse_json_answer("{'a': 1}").is_err());
    }
}
