//! Trace files: JSON Lines of timestamped requests, turned into arrival offsets and a
//! [`Dataset`] with one row per record.
//!
//! A record needs an arrival time and an output length, and either a prompt length or the
//! prompt text (`content_field`). Records without text get generated text of their prompt
//! length (three-letter words, exact under the simulated tokenizer, see
//! [`super::synthetic`]); with `hash_ids_field` (Mooncake's `hash_ids`), each block id stands
//! for the same `block_tokens` words wherever it occurs, so records that shared a prefix in the
//! traced system share it here. Times must not decrease: a trace is replayed in file order.

use std::fmt;
use std::path::Path;

use rayon::prelude::*;
use serde_json::{Map, Value, json};

use super::dataset::{Dataset, Row};
use super::synthetic::{
    Fitted, MAX_LENGTH_TOKENS, MAX_PLAN_TOKENS, SimTokens, TokenCounter, derive_seed, fit_words,
    word,
};
use crate::rng::Rng;
use crate::spec::TraceSpec;
use crate::spec::load::Loaded;
use crate::spec::node::KeyPath;
use crate::spec::validate::Issue;

/// A loaded trace.
#[derive(Clone, Debug)]
pub struct Trace {
    /// Arrival offset of each record in seconds from the first record, divided by `speedup`
    /// (non-decreasing; the first is 0). `offsets_s[i]` belongs to `dataset.rows[i]`.
    pub offsets_s: Vec<f64>,
    /// One row per record, in file order: `item.input` (the record's text or generated text),
    /// `item.input_tokens`, `item.output_tokens` (also `Row::output_tokens`, sent as
    /// `max_tokens`), the record's own fields, and `item.prefix` (empty), `item.prefix_tokens`
    /// (0) and `item.prefix_group` (0) so that templates written for synthetic datasets work.
    pub dataset: Dataset,
}

/// Why a trace could not be loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceError {
    /// The trace file as written in the pipeline.
    pub file: String,
    /// 1-based line of the offending record (`None`: the file as a whole).
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: TraceErrorKind,
}

/// The kinds of [`TraceError`].
#[derive(Clone, Debug, PartialEq)]
pub enum TraceErrorKind {
    /// The file could not be read.
    Read(String),
    /// A line is not a JSON object.
    Parse(String),
    /// A configured field is missing from a record.
    MissingField {
        /// The `TraceSpec` key naming the field (`time_field`, `input_field`, ...).
        key: &'static str,
        /// The field name.
        field: String,
        /// Fields the record does have.
        available: Vec<String>,
    },
    /// A field has a value of the wrong kind.
    BadField {
        /// The `TraceSpec` key naming the field.
        key: &'static str,
        /// The field name.
        field: String,
        /// What was expected and found.
        message: String,
    },
    /// A record's time is earlier than the previous record's.
    NotMonotonic {
        /// This record's time (in the trace's unit).
        time: f64,
        /// The previous record's time.
        previous: f64,
        /// The previous record's line.
        previous_line: usize,
    },
    /// A length past [`MAX_LENGTH_TOKENS`].
    TooLong {
        /// The `TraceSpec` key naming the field.
        key: &'static str,
        /// The field name.
        field: String,
        /// The length found.
        tokens: u64,
    },
    /// The records up to this one ask for more generated text than is built at plan time
    /// ([`MAX_PLAN_TOKENS`]).
    TooMuchText {
        /// Prompt tokens of generated text up to and including this record.
        tokens: u64,
    },
    /// `speedup` is not a positive number.
    Speedup(f64),
    /// The file has no records.
    Empty,
}

impl TraceError {
    /// The `TraceSpec` key the problem belongs to, for locating it in the pipeline (`path`
    /// for problems of the file itself).
    pub fn spec_key(&self) -> &'static str {
        match &self.kind {
            TraceErrorKind::MissingField { key, .. }
            | TraceErrorKind::BadField { key, .. }
            | TraceErrorKind::TooLong { key, .. } => key,
            TraceErrorKind::Speedup(_) => "speedup",
            TraceErrorKind::TooMuchText { .. } => "limit",
            _ => "path",
        }
    }

    /// A suggestion, where there is one.
    pub fn help(&self) -> Option<String> {
        match &self.kind {
            TraceErrorKind::MissingField {
                key,
                field,
                available,
            } => {
                let refs: Vec<&str> = available.iter().map(String::as_str).collect();
                if refs.is_empty() {
                    return Some(format!("add `{field}` to every record, or set `{key}`"));
                }
                Some(
                    match crate::spec::validate::did_you_mean(field, refs.iter().copied()) {
                        Some(s) => format!("did you mean `{key}: {s}`?"),
                        None => format!(
                            "set `{key}` to one of the record's fields: {}",
                            refs.iter()
                                .map(|r| format!("`{r}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    },
                )
            }
            TraceErrorKind::NotMonotonic { .. } => {
                Some("a trace is replayed in file order; sort it by time".into())
            }
            TraceErrorKind::Read(_) => {
                Some("paths are relative to the pipeline file's folder".into())
            }
            TraceErrorKind::TooMuchText { .. } => Some(
                "replay the records before this line with `limit`, or split the trace; records \
                 with their own text (`content_field`) need no generated text"
                    .into(),
            ),
            TraceErrorKind::TooLong { .. } => Some(super::synthetic::TOO_LONG_HELP.into()),
            _ => None,
        }
    }
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: ", self.file)?,
            None => write!(f, "{}: ", self.file)?,
        }
        match &self.kind {
            TraceErrorKind::Read(e) => write!(f, "cannot read the trace: {e}"),
            TraceErrorKind::Parse(e) => write!(f, "{e}"),
            TraceErrorKind::MissingField { key, field, .. } => {
                write!(f, "the record has no `{field}` field (`{key}`)")
            }
            TraceErrorKind::BadField { field, message, .. } => write!(f, "`{field}`: {message}"),
            TraceErrorKind::NotMonotonic {
                time,
                previous,
                previous_line,
            } => write!(
                f,
                "time {time} is earlier than {previous} on line {previous_line}"
            ),
            TraceErrorKind::TooLong { field, tokens, .. } => write!(
                f,
                "`{field}`: {tokens} tokens is more than the longest length, {MAX_LENGTH_TOKENS} \
                 tokens"
            ),
            TraceErrorKind::TooMuchText { tokens } => write!(
                f,
                "the records up to here ask for {tokens} tokens of generated prompt text, more \
                 than the {MAX_PLAN_TOKENS} built at plan time"
            ),
            TraceErrorKind::Speedup(s) => write!(f, "speedup must be a positive number, found {s}"),
            TraceErrorKind::Empty => write!(f, "the trace has no records"),
        }
    }
}

impl std::error::Error for TraceError {}

/// The pipeline issue for `e`, located at the key it concerns under `trace_path` (the key path
/// of the [`TraceSpec`], e.g. `workload.arrival.trace`).
pub fn trace_issue(loaded: &Loaded, trace_path: &KeyPath, e: &TraceError) -> Issue {
    let mut issue = loaded.issue(trace_path.key(e.spec_key()), e.to_string());
    issue.help = e.help();
    issue
}

/// Salts of the trace's random streams (see [`derive_seed`]).
const SALT_ROW_TEXT: u64 = 0x7a5c_e000_0000_0001;
const SALT_BLOCK: u64 = 0x7a5c_e000_0000_0002;

/// Read the trace of `spec` (its `path` relative to `base_dir`). `seed` (the workload's)
/// seeds generated prompt text, which is fitted to its length under `counter` (the simulated
/// engine's [`SimTokens`], or the tokenizer of `spec.tokenizer`).
pub fn load_trace(
    spec: &TraceSpec,
    base_dir: &Path,
    seed: u64,
    counter: &dyn TokenCounter,
) -> Result<Trace, TraceError> {
    let path = base_dir.join(&spec.path);
    let text = std::fs::read_to_string(&path).map_err(|e| TraceError {
        file: spec.path.clone(),
        line: None,
        kind: TraceErrorKind::Read(format!("{}: {e}", path.display())),
    })?;
    parse_trace_with(super::dataset::without_bom(&text), spec, seed, counter)
}

/// [`load_trace`] for text already in memory (`spec.path` names it in errors), under the
/// simulated tokenizer.
pub fn parse_trace(text: &str, spec: &TraceSpec, seed: u64) -> Result<Trace, TraceError> {
    parse_trace_with(text, spec, seed, &SimTokens)
}

/// [`parse_trace`] with generated text fitted to `counter`. Records whose text could not be
/// made exact are counted in [`Dataset::inexact_rows`] (their `item.input_tokens` is the real
/// count); records with their own text (`content_field`) and no recorded length are counted
/// with `counter`.
pub fn parse_trace_with(
    text: &str,
    spec: &TraceSpec,
    seed: u64,
    counter: &dyn TokenCounter,
) -> Result<Trace, TraceError> {
    let err = |line: Option<usize>, kind: TraceErrorKind| TraceError {
        file: spec.path.clone(),
        line,
        kind,
    };
    if !(spec.speedup.is_finite() && spec.speedup > 0.0) {
        return Err(err(None, TraceErrorKind::Speedup(spec.speedup)));
    }
    let limit = spec.limit.map_or(usize::MAX, |l| l as usize);
    let scale = spec.time_unit.seconds() / spec.speedup;
    let mut offsets_s = Vec::new();
    let mut rows = Vec::new();
    let mut first_time: Option<f64> = None;
    // Records whose text is generated: (row, length, block ids).
    let mut to_generate: Vec<(usize, u32, Vec<u64>)> = Vec::new();
    let mut previous: Option<(f64, usize)> = None;
    // Tokens of text to generate, checked against `MAX_PLAN_TOKENS` before any is built.
    let mut generated_tokens = 0u64;
    for (i, line) in text.lines().enumerate() {
        if rows.len() >= limit {
            break;
        }
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let at = |kind| err(Some(line_no), unmapped_suggestions(kind, spec));
        let mut record = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(at(TraceErrorKind::Parse(
                    "each line must be a JSON object".into(),
                )));
            }
            Err(e) => return Err(at(TraceErrorKind::Parse(format!("invalid JSON: {e}")))),
        };
        let time = number(&record, "time_field", &spec.time_field).map_err(at)?;
        if let Some((prev, prev_line)) = previous
            && time < prev
        {
            return Err(at(TraceErrorKind::NotMonotonic {
                time,
                previous: prev,
                previous_line: prev_line,
            }));
        }
        previous = Some((time, line_no));
        let t0 = *first_time.get_or_insert(time);
        let output_tokens = length(&record, "output_field", &spec.output_field)
            .and_then(|o| o.ok_or_else(|| missing(&record, "output_field", &spec.output_field)))
            .map_err(at)?;
        let content = match &spec.content_field {
            Some(field) => match record.get(field) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    return Err(at(TraceErrorKind::BadField {
                        key: "content_field",
                        field: field.clone(),
                        message: format!("expected a string, found {}", kind_of(other)),
                    }));
                }
            },
            None => None,
        };
        let recorded_input = length(&record, "input_field", &spec.input_field).map_err(at)?;
        let index = rows.len();
        let (input, input_tokens) = match (content, recorded_input) {
            (Some(text), recorded) => {
                let n = recorded.unwrap_or_else(|| counter.count(&text) as u32);
                (text, n)
            }
            (None, Some(n)) => {
                generated_tokens += u64::from(n);
                if generated_tokens > MAX_PLAN_TOKENS {
                    return Err(at(TraceErrorKind::TooMuchText {
                        tokens: generated_tokens,
                    }));
                }
                let blocks = match &spec.hash_ids_field {
                    Some(field) => block_ids(&record, field).map_err(at)?,
                    None => Vec::new(),
                };
                // Generated after reading, in parallel.
                to_generate.push((index, n, blocks));
                (String::new(), n)
            }
            (None, None) => {
                return Err(at(missing(&record, "input_field", &spec.input_field)));
            }
        };
        let id = index.to_string();
        record.insert("id".into(), Value::String(id.clone()));
        record.insert("input".into(), Value::String(input.clone()));
        record.insert("references".into(), json!([]));
        record.insert("input_tokens".into(), json!(input_tokens));
        record.insert("output_tokens".into(), json!(output_tokens));
        record.insert("prefix".into(), json!(""));
        record.insert("prefix_tokens".into(), json!(0));
        record.insert("prefix_group".into(), json!(0));
        let offset_s = (time - t0) * scale;
        // The pacer turns offsets into `Duration`s: one past any sensible replay is a typo
        // (a unit mix-up), reported here rather than overflowing there.
        if offset_s > crate::spec::duration::MAX_SECONDS {
            return Err(at(TraceErrorKind::BadField {
                key: "time_field",
                field: spec.time_field.clone(),
                message: format!(
                    "time {} is more than 100 years after the first record's (at speedup {})",
                    crate::spec::duration::compact_number(time),
                    crate::spec::duration::compact_number(spec.speedup)
                ),
            }));
        }
        offsets_s.push(offset_s);
        rows.push(Row {
            id,
            input,
            references: Vec::new(),
            item: Value::Object(record),
            output_tokens: Some(output_tokens),
        });
    }
    if rows.is_empty() {
        return Err(err(None, TraceErrorKind::Empty));
    }
    let generated: Vec<(usize, u32, Fitted)> = to_generate
        .into_par_iter()
        .map(|(index, n, blocks)| {
            let fitted = generated_text(counter, seed, index, n, &blocks, spec.block_tokens);
            (index, n, fitted)
        })
        .collect();
    let mut inexact_rows = 0;
    for (index, n, fitted) in generated {
        if !fitted.is_exact(n as usize) {
            inexact_rows += 1;
        }
        let row = &mut rows[index];
        row.item["input_tokens"] = json!(fitted.tokens);
        row.item["input"] = Value::String(fitted.text.clone());
        row.input = fitted.text;
    }
    Ok(Trace {
        offsets_s,
        dataset: Dataset {
            name: spec.path.clone(),
            rows,
            ignore_eos: spec.ignore_eos,
            inexact_rows,
            ..Dataset::default()
        },
    })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A missing field's suggestions leave out the fields already mapped to other options (the
/// output length is no prompt length).
fn unmapped_suggestions(kind: TraceErrorKind, spec: &TraceSpec) -> TraceErrorKind {
    match kind {
        TraceErrorKind::MissingField {
            key,
            field,
            mut available,
        } => {
            let mapped = [
                Some(&spec.time_field),
                Some(&spec.input_field),
                Some(&spec.output_field),
                spec.content_field.as_ref(),
                spec.hash_ids_field.as_ref(),
            ];
            available.retain(|a| !mapped.contains(&Some(a)));
            TraceErrorKind::MissingField {
                key,
                field,
                available,
            }
        }
        other => other,
    }
}

fn missing(record: &Map<String, Value>, key: &'static str, field: &str) -> TraceErrorKind {
    TraceErrorKind::MissingField {
        key,
        field: field.to_string(),
        available: record.keys().cloned().collect(),
    }
}

/// A required finite number.
fn number(
    record: &Map<String, Value>,
    key: &'static str,
    field: &str,
) -> Result<f64, TraceErrorKind> {
    match record.get(field) {
        None => Err(missing(record, key, field)),
        Some(Value::Number(n)) => {
            n.as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| TraceErrorKind::BadField {
                    key,
                    field: field.to_string(),
                    message: format!("{n} is not a finite number"),
                })
        }
        Some(other) => Err(TraceErrorKind::BadField {
            key,
            field: field.to_string(),
            message: format!("expected a number, found {}", kind_of(other)),
        }),
    }
}

/// An optional token length (a whole number of at least 1).
fn length(
    record: &Map<String, Value>,
    key: &'static str,
    field: &str,
) -> Result<Option<u32>, TraceErrorKind> {
    match record.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n > u64::from(MAX_LENGTH_TOKENS) => Err(TraceErrorKind::TooLong {
                key,
                field: field.to_string(),
                tokens: n,
            }),
            Some(n) if n >= 1 => Ok(Some(n as u32)),
            _ => Err(TraceErrorKind::BadField {
                key,
                field: field.to_string(),
                message: format!("expected a whole number of tokens of at least 1, found {v}"),
            }),
        },
    }
}

fn block_ids(record: &Map<String, Value>, field: &str) -> Result<Vec<u64>, TraceErrorKind> {
    let bad = |v: &Value| TraceErrorKind::BadField {
        key: "hash_ids_field",
        field: field.to_string(),
        message: format!("expected a list of non-negative integers, found {v}"),
    };
    match record.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_u64().ok_or_else(|| bad(v)))
            .collect(),
        Some(other) => Err(bad(other)),
    }
}

/// Text of `tokens` tokens under `counter`: the blocks' words in order (each block id always
/// gives the same `block_tokens` words), cut or padded with words of this record's own stream,
/// then fitted at its end ([`fit_words`]), so records sharing leading block ids share a leading
/// run of identical words. Under a real tokenizer a block is `block_tokens` words, about as
/// many tokens.
fn generated_text(
    counter: &dyn TokenCounter,
    seed: u64,
    index: usize,
    tokens: u32,
    blocks: &[u64],
    block_tokens: u32,
) -> Fitted {
    let target = tokens as usize;
    let mut rng = Rng::new(derive_seed(derive_seed(seed, SALT_ROW_TEXT), index as u64));
    let mut words: Vec<&'static str> = Vec::with_capacity(target);
    if block_tokens > 0 {
        let block_seed = derive_seed(seed, SALT_BLOCK);
        for id in blocks {
            if words.len() >= target {
                break;
            }
            let mut block_rng = Rng::new(derive_seed(block_seed, *id));
            let n = (block_tokens as usize).min(target - words.len());
            words.extend((0..n).map(|_| word(&mut block_rng)));
        }
    }
    while words.len() < target {
        words.push(word(&mut rng));
    }
    fit_words(counter, &mut rng, words, 0, target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::TimeUnit;

    fn spec() -> TraceSpec {
        TraceSpec::new("t.jsonl")
    }

    fn error(text: &str, spec: &TraceSpec) -> String {
        parse_trace(text, spec, 0).unwrap_err().to_string()
    }

    #[test]
    fn offsets_lengths_and_rows() {
        let text = "{\"timestamp\": 1000, \"input_length\": 12, \"output_length\": 3}\n\
                    \n\
                    {\"timestamp\": 1500, \"input_length\": 5, \"output_length\": 1}\n\
                    {\"timestamp\": 1500, \"input_length\": 7, \"output_length\": 9}\n";
        let t = parse_trace(text, &spec(), 0).unwrap();
        assert_eq!(t.offsets_s, vec![0.0, 0.5, 0.5]);
        let rows = &t.dataset.rows;
        assert_eq!(rows.len(), 3);
        for (r, (i, o)) in rows.iter().zip([(12, 3), (5, 1), (7, 9)]) {
            assert_eq!(SimTokens.count(&r.input), i);
            assert_eq!(r.output_tokens, Some(o));
            assert_eq!(r.item["input_tokens"], i as u64);
            assert_eq!(r.item["output_tokens"], o);
            assert_eq!(r.item["prefix"], "");
        }
        assert_eq!(rows[1].item["timestamp"], 1500);
        assert_eq!(rows[2].id, "2");
        // Deterministic by seed.
        assert_eq!(parse_trace(text, &spec(), 0).unwrap().dataset.rows, *rows);
        assert_ne!(
            parse_trace(text, &spec(), 1).unwrap().dataset.rows[0].input,
            rows[0].input
        );
        // Seconds and speedup; limit.
        let s = TraceSpec {
            time_field: "t".into(),
            time_unit: TimeUnit::S,
            speedup: 4.0,
            input_field: "in".into(),
            output_field: "out".into(),
            limit: Some(2),
            ..spec()
        };
        let text = "{\"t\": 10.0, \"in\": 1, \"out\": 1}\n{\"t\": 12, \"in\": 1, \"out\": 1}\n{\"t\": 13, \"in\": 1, \"out\": 1}\n";
        let t = parse_trace(text, &s, 0).unwrap();
        assert_eq!(t.offsets_s, vec![0.0, 0.5]);
    }

    #[test]
    fn content_is_sent_as_written() {
        let s = TraceSpec {
            content_field: Some("prompt".into()),
            ..spec()
        };
        let text = "{\"timestamp\": 0, \"prompt\": \"Hello there, model\", \"output_length\": 4}\n\
                    {\"timestamp\": 1, \"input_length\": 6, \"output_length\": 2}\n";
        let t = parse_trace(text, &s, 0).unwrap();
        assert_eq!(t.dataset.rows[0].input, "Hello there, model");
        assert_eq!(t.dataset.rows[0].item["input_tokens"], 5);
        assert_eq!(SimTokens.count(&t.dataset.rows[1].input), 6);
    }

    #[test]
    fn hash_ids_share_prefixes() {
        let s = TraceSpec {
            hash_ids_field: Some("hash_ids".into()),
            block_tokens: 4,
            ..spec()
        };
        let text = "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1, 2, 3]}\n\
                    {\"timestamp\": 1, \"input_length\": 12, \"output_length\": 1, \"hash_ids\": [1, 2, 9]}\n\
                    {\"timestamp\": 2, \"input_length\": 6, \"output_length\": 1, \"hash_ids\": [7]}\n";
        let t = parse_trace(text, &s, 0).unwrap();
        let words = |i: usize| -> Vec<String> {
            t.dataset.rows[i]
                .input
                .split(' ')
                .map(String::from)
                .collect()
        };
        let (a, b, c) = (words(0), words(1), words(2));
        assert_eq!((a.len(), b.len(), c.len()), (10, 12, 6));
        assert_eq!(a[..8], b[..8], "blocks 1 and 2 are shared");
        assert_ne!(a[8..10], b[8..10], "block 3 differs from block 9");
        assert_ne!(a[..4], c[..4]);
        for i in 0..3 {
            assert_eq!(SimTokens.count(&t.dataset.rows[i].input), [10, 12, 6][i]);
        }
    }

    #[test]
    fn errors_name_file_and_line() {
        let ok = "{\"timestamp\": 5, \"input_length\": 1, \"output_length\": 1}\n";
        assert_eq!(
            error(&format!("{ok}{{oops\n"), &spec()),
            "t.jsonl:2: invalid JSON: key must be a string at line 1 column 2"
        );
        assert_eq!(
            error(&format!("{ok}[1]\n"), &spec()),
            "t.jsonl:2: each line must be a JSON object"
        );
        let e = parse_trace(
            &format!("{ok}\n{{\"timestamp\": 4, \"input_length\": 1, \"output_length\": 1}}\n"),
            &spec(),
            0,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.jsonl:3: time 4 is earlier than 5 on line 1"
        );
        assert_eq!(e.spec_key(), "path");
        let e = parse_trace(
            &format!("{ok}{{\"timestamp\": 6, \"input_len\": 1, \"output_length\": 1}}\n"),
            &spec(),
            0,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.jsonl:2: the record has no `input_length` field (`input_field`)"
        );
        assert_eq!(e.spec_key(), "input_field");
        assert_eq!(e.help().unwrap(), "did you mean `input_field: input_len`?");
        assert_eq!(
            error("{\"input_length\": 1, \"output_length\": 1}\n", &spec()),
            "t.jsonl:1: the record has no `timestamp` field (`time_field`)"
        );
        assert_eq!(
            error("{\"timestamp\": 1, \"input_length\": 1}\n", &spec()),
            "t.jsonl:1: the record has no `output_length` field (`output_field`)"
        );
        assert_eq!(
            error(
                "{\"timestamp\": \"9am\", \"input_length\": 1, \"output_length\": 1}\n",
                &spec()
            ),
            "t.jsonl:1: `timestamp`: expected a number, found a string"
        );
        assert_eq!(
            error(
                "{\"timestamp\": 1, \"input_length\": 0, \"output_length\": 1}\n",
                &spec()
            ),
            "t.jsonl:1: `input_length`: expected a whole number of tokens of at least 1, found 0"
        );
        assert_eq!(error("\n\n", &spec()), "t.jsonl: the trace has no records");
        let fast = TraceSpec {
            speedup: 0.0,
            ..spec()
        };
        assert_eq!(
            error(ok, &fast),
            "t.jsonl: speedup must be a positive number, found 0"
        );
        // A byte order mark before the first record is not part of it.
        let dir = std::env::temp_dir().join(format!("frontier-trace-bom-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("t.jsonl"), format!("\u{feff}{ok}")).unwrap();
        let t = load_trace(&spec(), &dir, 0, &SimTokens).unwrap();
        assert_eq!(t.dataset.rows.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
        let slow = TraceSpec {
            speedup: 1e-300,
            ..spec()
        };
        assert_eq!(
            error(
                &format!("{ok}{{\"timestamp\": 6, \"input_length\": 1, \"output_length\": 1}}\n"),
                &slow
            ),
            "t.jsonl:2: `timestamp`: time 6 is more than 100 years after the first record's (at speedup 1e-300)"
        );
        let missing = load_trace(
            &TraceSpec::new("no-such.jsonl"),
            Path::new("/nonexistent"),
            0,
            &SimTokens,
        )
        .unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("no-such.jsonl: cannot read the trace: "),
            "{missing}"
        );
    }

    #[test]
    fn lengths_past_the_longest_are_errors_before_any_text_is_built() {
        for n in ["4000000000", "5000000000", "1048577"] {
            let e = parse_trace(
                &format!("{{\"timestamp\": 1, \"input_length\": {n}, \"output_length\": 1}}\n"),
                &spec(),
                0,
            )
            .unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "t.jsonl:1: `input_length`: {n} tokens is more than the longest length, \
                     1048576 tokens"
                )
            );
            assert_eq!(e.spec_key(), "input_field");
            assert!(e.help().unwrap().contains("at most 1048576"));
        }
        let e = parse_trace(
            "{\"timestamp\": 1, \"input_length\": 1, \"output_length\": 4000000000}\n",
            &spec(),
            0,
        )
        .unwrap_err();
        assert_eq!(e.spec_key(), "output_field");
        // The longest length itself is fine.
        let t = parse_trace(
            "{\"timestamp\": 1, \"input_length\": 3, \"output_length\": 1048576}\n",
            &spec(),
            0,
        )
        .unwrap();
        assert_eq!(t.dataset.rows[0].output_tokens, Some(MAX_LENGTH_TOKENS));
        // The records' generated text adds up to at most MAX_PLAN_TOKENS; records with their
        // own text do not count.
        let long = "{\"timestamp\": 1, \"input_length\": 1048576, \"output_length\": 1}\n";
        let own = "{\"timestamp\": 1, \"prompt\": \"hi\", \"input_length\": 1048576, \"output_length\": 1}\n";
        let s = TraceSpec {
            content_field: Some("prompt".into()),
            ..spec()
        };
        let text = format!("{}{}", own.repeat(300), long.repeat(191));
        let e = parse_trace(&text, &s, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.jsonl:491: the records up to here ask for 200278016 tokens of generated prompt \
             text, more than the 200000000 built at plan time"
        );
        assert_eq!(e.spec_key(), "limit");
        assert!(
            e.help()
                .unwrap()
                .starts_with("replay the records before this line with `limit`")
        );
        // `limit` stops reading before the records past it count.
        let limited = TraceSpec {
            limit: Some(2),
            ..s
        };
        let t = parse_trace(&format!("{own}{own}{}", long.repeat(191)), &limited, 0).unwrap();
        assert_eq!(t.dataset.rows.len(), 2);
    }

    #[test]
    fn errors_become_located_issues() {
        let loaded = crate::spec::load::load(
            Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/pipelines/quickstart.yaml"
            )),
            &[],
        )
        .unwrap();
        let e = parse_trace("{\"timestamp\": 1, \"output_length\": 1}\n", &spec(), 0).unwrap_err();
        let at = KeyPath::root().key("workload").key("arrival").key("trace");
        let issue = trace_issue(&loaded, &at, &e);
        assert_eq!(issue.path.to_string(), "workload.arrival.trace.input_field");
        assert_eq!(
            issue.message,
            "t.jsonl:1: the record has no `input_length` field (`input_field`)"
        );
        assert_eq!(
            issue.help.as_deref(),
            Some("add `input_length` to every record, or set `input_field`")
        );
    }

    #[test]
    fn shipped_mini_trace_loads() {
        let spec = TraceSpec {
            hash_ids_field: Some("hash_ids".into()),
            content_field: Some("prompt".into()),
            ..TraceSpec::new("datasets/trace-mini.jsonl")
        };
        let t = load_trace(&spec, Path::new(env!("CARGO_MANIFEST_DIR")), 7, &SimTokens).unwrap();
        assert!(t.dataset.rows.len() >= 20);
        assert_eq!(t.offsets_s[0], 0.0);
        assert!(t.offsets_s.windows(2).all(|w| w[0] <= w[1]));
    }
}
