//! Datasets: JSONL and CSV files mapped to cases (an id, an input, references and the raw
//! fields for templates). Synthetic datasets ([`super::synthetic`]) and traces
//! ([`super::trace`]) produce the same [`Dataset`].

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::tokenizer::HfTokenizer;
use crate::spec::{DatasetFormat, FileDatasetSpec};

/// One dataset row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// Stable case id (the `id` field, else the 0-based row number).
    pub id: String,
    /// The input text.
    pub input: String,
    /// Acceptable answers (empty: the case is not scored).
    pub references: Vec<String>,
    /// Every field of the row, plus `input`, `id` and `references`, for templates as `item`.
    pub item: Value,
    /// Completion tokens this row asks for (synthetic and trace rows): sent as the request's
    /// `max_tokens`, overriding the step's.
    pub output_tokens: Option<u32>,
}

/// A loaded dataset.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// Name in the pipeline.
    pub name: String,
    /// Rows in file order.
    pub rows: Vec<Row>,
    /// Replace the first words of `item.input` with each execution's nonce (synthetic
    /// datasets with `nonce: true`).
    pub nonce: bool,
    /// Send `ignore_eos: true` with rows that set `output_tokens`.
    pub ignore_eos: bool,
    /// The words each execution's nonce is drawn from (`None`: all of
    /// [`super::synthetic::VOCAB`]): with a tokenizer, its one-token words, so that a nonce
    /// keeps the input's count.
    pub nonce_words: Option<Arc<[&'static str]>>,
    /// The tokenizer generated prompts were fitted to (`None`: the simulated engine's
    /// `ceil(bytes / 4)`); shared for counting other text with the same tokenizer.
    pub tokenizer: Option<Arc<HfTokenizer>>,
    /// Rows whose generated text could not be built to its exact length (their
    /// `item.input_tokens` is the text's real count).
    pub inexact_rows: usize,
}

/// Why a dataset could not be loaded. `field` errors point at the mapping key in the pipeline.
#[derive(Clone, Debug, PartialEq)]
pub enum DatasetError {
    /// The file could not be read.
    Read(String),
    /// The format could not be inferred.
    Format(String),
    /// A line of the file is malformed.
    Parse {
        /// 1-based line in the dataset file.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A mapped field is missing from a row.
    Field {
        /// `input`, `reference`, `id` or `output_tokens`.
        mapping: &'static str,
        /// The field name the pipeline gave.
        field: String,
        /// 1-based line in the dataset file.
        line: usize,
        /// Fields the row does have.
        available: Vec<String>,
    },
    /// The file has no rows.
    Empty,
}

/// A parsed row with its 1-based line in the file.
type Record = (usize, Map<String, Value>);

/// Load `spec` relative to `base_dir`.
pub fn load(name: &str, spec: &FileDatasetSpec, base_dir: &Path) -> Result<Dataset, DatasetError> {
    let path = base_dir.join(&spec.path);
    let format = match spec.format {
        Some(f) => f,
        None => match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl") | Some("ndjson") => DatasetFormat::Jsonl,
            Some("csv") => DatasetFormat::Csv,
            _ => {
                return Err(DatasetError::Format(format!(
                    "cannot tell the format of `{}` from its extension; add `format: jsonl` or `format: csv`",
                    spec.path
                )));
            }
        },
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| DatasetError::Read(format!("{}: {e}", path.display())))?;
    let text = without_bom(&text);
    let records = match format {
        DatasetFormat::Jsonl => parse_jsonl(text)?,
        DatasetFormat::Csv => parse_csv(text)?,
    };
    let limit = spec.limit.map(|l| l as usize).unwrap_or(usize::MAX);
    let mut rows = Vec::new();
    for (index, (line, record)) in records.into_iter().enumerate().take(limit) {
        rows.push(to_row(spec, index, line, record, format)?);
    }
    if rows.is_empty() {
        return Err(DatasetError::Empty);
    }
    Ok(Dataset {
        name: name.to_string(),
        rows,
        ignore_eos: spec.ignore_eos,
        ..Dataset::default()
    })
}

fn to_row(
    spec: &FileDatasetSpec,
    index: usize,
    line: usize,
    mut record: Map<String, Value>,
    format: DatasetFormat,
) -> Result<Row, DatasetError> {
    let missing =
        |mapping: &'static str, field: &str, record: &Map<String, Value>| DatasetError::Field {
            mapping,
            field: field.to_string(),
            line,
            available: record.keys().cloned().collect(),
        };
    let input = match record.get(&spec.input) {
        Some(v) => scalar_text(v),
        None => return Err(missing("input", &spec.input, &record)),
    };
    let references = match &spec.reference {
        None => Vec::new(),
        Some(field) => match record.get(field) {
            None => return Err(missing("reference", field, &record)),
            Some(Value::Array(items)) => items.iter().map(reference_text).collect(),
            Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) if format == DatasetFormat::Csv => s
                .split('|')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
            Some(v) => vec![reference_text(v)],
        },
    };
    let id = match &spec.id {
        None => index.to_string(),
        Some(field) => match record.get(field) {
            Some(v) => scalar_text(v),
            None => return Err(missing("id", field, &record)),
        },
    };
    let output_tokens = match &spec.output_tokens {
        None => None,
        Some(field) => match record.get(field) {
            None => return Err(missing("output_tokens", field, &record)),
            Some(v) => Some(whole_tokens(v).ok_or_else(|| DatasetError::Parse {
                line,
                message: format!(
                    "field `{field}` (output_tokens) must be a whole number of tokens, got {}",
                    match v {
                        Value::String(s) => format!("{s:?}"),
                        other => other.to_string(),
                    }
                ),
            })?),
        },
    };
    record.insert("input".into(), Value::String(input.clone()));
    record.insert("id".into(), Value::String(id.clone()));
    record.insert(
        "references".into(),
        Value::Array(references.iter().cloned().map(Value::String).collect()),
    );
    Ok(Row {
        id,
        input,
        references,
        item: Value::Object(record),
        output_tokens,
    })
}

/// A token count from JSON (`12`, `12.0`) or CSV text (`"12"`): a whole number that fits u32.
fn whole_tokens(v: &Value) -> Option<u32> {
    let n = match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        })?,
        Value::String(s) => s.trim().parse::<u64>().ok()?,
        _ => return None,
    };
    u32::try_from(n).ok()
}

/// A reference as scorers compare it: strings as they are, other JSON values in the canonical
/// form that `json_path` extraction gives answers (`18.0` is `18`, keys sorted), so a correct
/// answer equals its reference as text.
fn reference_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => crate::eval::extract::canonical_json(other),
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `text` without a leading UTF-8 byte order mark, which Excel and Windows editors write at the
/// start of a "UTF-8" file; left in, it would be part of the first field's name (CSV) or make
/// the first line invalid JSON.
pub(crate) fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

fn parse_jsonl(text: &str) -> Result<Vec<Record>, DatasetError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => out.push((i + 1, m)),
            Ok(_) => {
                return Err(DatasetError::Parse {
                    line: i + 1,
                    message: "each line must be a JSON object".into(),
                });
            }
            Err(e) => {
                return Err(DatasetError::Parse {
                    line: i + 1,
                    message: format!("invalid JSON: {e}"),
                });
            }
        }
    }
    Ok(out)
}

/// RFC 4180 CSV with a header row: quoted fields may hold commas, newlines and `""` quotes.
fn parse_csv(text: &str) -> Result<Vec<Record>, DatasetError> {
    let records = split_csv(text)?;
    let mut iter = records.into_iter();
    let Some((_, header)) = iter.next() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = header.into_iter().map(|h| h.trim().to_string()).collect();
    let mut out = Vec::new();
    for (line, fields) in iter {
        if fields.len() == 1 && fields[0].is_empty() {
            continue;
        }
        if fields.len() != header.len() {
            return Err(DatasetError::Parse {
                line,
                message: format!(
                    "{} fields, but the header has {}",
                    fields.len(),
                    header.len()
                ),
            });
        }
        let map = header
            .iter()
            .cloned()
            .zip(fields.into_iter().map(Value::String))
            .collect();
        out.push((line, map));
    }
    Ok(out)
}

fn split_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, DatasetError> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut line = 1usize;
    let mut record_line = 1usize;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => in_quotes = true,
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                records.push((record_line, std::mem::take(&mut fields)));
                line += 1;
                record_line = line;
                any = false;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(DatasetError::Parse {
            line: record_line,
            message: "unterminated quoted field".into(),
        });
    }
    if any {
        fields.push(field);
        records.push((record_line, fields));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &str, reference: Option<&str>) -> FileDatasetSpec {
        FileDatasetSpec {
            path: path.into(),
            format: None,
            input: "q".into(),
            reference: reference.map(String::from),
            id: None,
            limit: None,
            output_tokens: None,
            ignore_eos: false,
        }
    }

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("frontier-ds-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
        dir
    }

    #[test]
    fn jsonl_with_list_references() {
        let dir = write(
            "a.jsonl",
            "{\"q\": \"2+2?\", \"a\": [\"4\", \"four\"]}\n\n{\"q\": \"x\", \"a\": \"y\"}\n",
        );
        let ds = load("d", &spec("a.jsonl", Some("a")), &dir).unwrap();
        assert_eq!(ds.rows.len(), 2);
        assert_eq!(ds.rows[0].references, vec!["4", "four"]);
        assert_eq!(ds.rows[1].references, vec!["y"]);
        assert_eq!(ds.rows[1].id, "1");
        assert_eq!(ds.rows[0].item["q"], "2+2?");
        assert_eq!(ds.rows[0].item["input"], "2+2?");
    }

    #[test]
    fn a_leading_byte_order_mark_is_ignored() {
        let dir = write("bom.csv", "\u{feff}id,q,a\n7,hello,x\n");
        let ds = load(
            "d",
            &FileDatasetSpec {
                id: Some("id".into()),
                ..spec("bom.csv", Some("a"))
            },
            &dir,
        )
        .unwrap();
        assert_eq!(
            (ds.rows[0].id.as_str(), ds.rows[0].input.as_str()),
            ("7", "hello")
        );
        let dir = write("bom.jsonl", "\u{feff}{\"q\": \"hi\", \"a\": \"x\"}\n");
        let ds = load("d", &spec("bom.jsonl", Some("a")), &dir).unwrap();
        assert_eq!(ds.rows[0].input, "hi");
    }

    #[test]
    fn csv_quotes_and_pipes() {
        let dir = write(
            "b.csv",
            "q,a\r\n\"Hello, \"\"world\"\"\",x|y\n\"multi\nline\",z\n",
        );
        let ds = load("d", &spec("b.csv", Some("a")), &dir).unwrap();
        assert_eq!(ds.rows[0].input, "Hello, \"world\"");
        assert_eq!(ds.rows[0].references, vec!["x", "y"]);
        assert_eq!(ds.rows[1].input, "multi\nline");
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let dir = write("c.jsonl", "{\"q\": 1}\n{\"question\": 2}\n");
        match load("d", &spec("c.jsonl", None), &dir) {
            Err(DatasetError::Field {
                line, available, ..
            }) => {
                assert_eq!(line, 2);
                assert_eq!(available, vec!["question"]);
            }
            other => panic!("{other:?}"),
        }
        let dir = write("d.jsonl", "{\"q\": 1}\n{oops\n");
        assert!(matches!(
            load("d", &spec("d.jsonl", None), &dir),
            Err(DatasetError::Parse { line: 2, .. })
        ));
        assert!(matches!(
            load("d", &spec("missing.jsonl", None), &dir),
            Err(DatasetError::Read(_))
        ));
        assert!(matches!(
            load("d", &spec("x.txt", None), &dir),
            Err(DatasetError::Format(_))
        ));
    }

    #[test]
    fn output_tokens_from_a_field() {
        let with = |path: &str| FileDatasetSpec {
            output_tokens: Some("n".into()),
            ignore_eos: true,
            ..spec(path, None)
        };
        let dir = write(
            "o.jsonl",
            "{\"q\": \"a\", \"n\": 3}\n{\"q\": \"b\", \"n\": 7.0}\n",
        );
        let d = load("d", &with("o.jsonl"), &dir).unwrap();
        let got: Vec<Option<u32>> = d.rows.iter().map(|r| r.output_tokens).collect();
        assert_eq!(got, vec![Some(3), Some(7)]);
        assert!(d.ignore_eos);
        let dir = write("o.csv", "q,n\na, 12\nb,0\n");
        let d = load("d", &with("o.csv"), &dir).unwrap();
        let got: Vec<Option<u32>> = d.rows.iter().map(|r| r.output_tokens).collect();
        assert_eq!(got, vec![Some(12), Some(0)]);
        // Without the mapping, rows keep the step's max_tokens.
        let d = load("d", &spec("o.csv", None), &dir).unwrap();
        assert!(d.rows.iter().all(|r| r.output_tokens.is_none()));
        assert!(!d.ignore_eos);
        for (name, text) in [
            (
                "f.jsonl",
                "{\"q\": \"a\", \"n\": 3}\n{\"q\": \"b\", \"n\": 2.5}\n",
            ),
            (
                "g.jsonl",
                "{\"q\": \"a\", \"n\": 3}\n{\"q\": \"b\", \"n\": -1}\n",
            ),
            (
                "h.jsonl",
                "{\"q\": \"a\", \"n\": 3}\n{\"q\": \"b\", \"n\": \"many\"}\n",
            ),
            (
                "i.jsonl",
                "{\"q\": \"a\", \"n\": 3}\n{\"q\": \"b\", \"n\": 99999999999}\n",
            ),
        ] {
            let dir = write(name, text);
            match load("d", &with(name), &dir) {
                Err(DatasetError::Parse { line: 2, message }) => {
                    assert!(
                        message.contains("field `n` (output_tokens) must be a whole number"),
                        "{message}"
                    )
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        let dir = write("j.jsonl", "{\"q\": \"a\", \"n\": 3}\n{\"q\": \"b\"}\n");
        match load("d", &with("j.jsonl"), &dir) {
            Err(DatasetError::Field { mapping, line, .. }) => {
                assert_eq!((mapping, line), ("output_tokens", 2));
            }
            other => panic!("{other:?}"),
        }
    }
}
