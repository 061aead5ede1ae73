//! The reference datasets in datasets/ are well formed and correct: every file is JSON Lines
//! with unique ids and exactly the documented fields; QA rows list every acceptable answer;
//! arithmetic answers are recomputed here row by row; every JSON-extraction `expected` object
//! validates against datasets/json-extraction.schema.json (a small validator for the schema
//! subset the file uses, plus the `jsonschema` Python package when it is installed) and agrees
//! with its text; multiple-choice letters point at one of four choices; RAG answers appear in
//! their gold documents. Finally every dataset loads through frontier's own loader and
//! `frontier validate` accepts a pipeline over it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use regex::Regex;
use serde_json::{Map, Value, json};

/// A dataset row with its 1-based line number.
type Row = (usize, Map<String, Value>);

/// Parse a JSON Lines file strictly: UTF-8, `\n` line ends (last line included), no blank
/// lines, every line a JSON object.
fn jsonl(path: &str) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(!text.is_empty(), "{path}: empty");
    assert!(text.ends_with('\n'), "{path}: no newline at the end");
    assert!(!text.contains('\r'), "{path}: CR line ends");
    assert!(!text.starts_with('\u{feff}'), "{path}: byte-order mark");
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let n = i + 1;
            assert!(!line.trim().is_empty(), "{path}:{n}: blank line");
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(m)) => (n, m),
                Ok(_) => panic!("{path}:{n}: not a JSON object"),
                Err(e) => panic!("{path}:{n}: invalid JSON: {e}"),
            }
        })
        .collect()
}

/// Each row has exactly `keys` (no more, no fewer).
fn exact_keys(path: &str, rows: &[Row], keys: &[&str]) {
    let want: BTreeSet<&str> = keys.iter().copied().collect();
    for (n, row) in rows {
        let got: BTreeSet<&str> = row.keys().map(String::as_str).collect();
        assert_eq!(got, want, "{path}:{n}: fields");
    }
}

/// A non-empty string without surrounding whitespace.
fn text<'a>(path: &str, n: usize, row: &'a Map<String, Value>, key: &str) -> &'a str {
    let s = row[key]
        .as_str()
        .unwrap_or_else(|| panic!("{path}:{n}: `{key}` is not a string"));
    assert!(!s.trim().is_empty(), "{path}:{n}: `{key}` is empty");
    assert_eq!(
        s,
        s.trim(),
        "{path}:{n}: `{key}` has surrounding whitespace"
    );
    s
}

/// A non-empty list of distinct, non-empty, trimmed strings.
fn string_list(path: &str, n: usize, row: &Map<String, Value>, key: &str) -> Vec<String> {
    let items = row[key]
        .as_array()
        .unwrap_or_else(|| panic!("{path}:{n}: `{key}` is not a list"));
    assert!(!items.is_empty(), "{path}:{n}: `{key}` is empty");
    let mut seen = BTreeSet::new();
    items
        .iter()
        .map(|v| {
            let s = v
                .as_str()
                .unwrap_or_else(|| panic!("{path}:{n}: `{key}` holds a non-string: {v}"));
            assert!(!s.trim().is_empty(), "{path}:{n}: empty entry in `{key}`");
            assert_eq!(s, s.trim(), "{path}:{n}: `{key}` entry {s:?} not trimmed");
            assert!(seen.insert(s), "{path}:{n}: `{key}` lists {s:?} twice");
            s.to_string()
        })
        .collect()
}

/// The ids of `rows` under `key`, checked unique and matching `pattern`, in file order.
fn ids(path: &str, rows: &[Row], key: &str, pattern: &str) -> Vec<String> {
    let re = Regex::new(pattern).unwrap();
    let mut seen = BTreeSet::new();
    rows.iter()
        .map(|(n, row)| {
            let id = text(path, *n, row, key);
            assert!(
                re.is_match(id),
                "{path}:{n}: id {id:?} does not match {pattern}"
            );
            assert!(seen.insert(id.to_string()), "{path}:{n}: duplicate id {id}");
            id.to_string()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// qa-mini

/// English words for 0..=999 ("three hundred sixty-six").
fn number_words(n: u32) -> String {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    assert!(n < 1000);
    let below_100 = |n: u32| -> String {
        if n < 20 {
            ONES[n as usize].to_string()
        } else if n.is_multiple_of(10) {
            TENS[(n / 10) as usize].to_string()
        } else {
            format!("{}-{}", TENS[(n / 10) as usize], ONES[(n % 10) as usize])
        }
    };
    match (n / 100, n % 100) {
        (0, r) => below_100(r),
        (h, 0) => format!("{} hundred", ONES[h as usize]),
        (h, r) => format!("{} hundred {}", ONES[h as usize], below_100(r)),
    }
}

#[test]
fn qa_mini() {
    let path = "datasets/qa-mini.jsonl";
    let rows = jsonl(path);
    assert_eq!(rows.len(), 40, "{path}: row count");
    exact_keys(path, &rows, &["id", "question", "answers"]);
    let ids = ids(path, &rows, "id", r"^q\d{3}$");
    // Ids are stable: q001..q040 in order.
    let want: Vec<String> = (1..=40).map(|i| format!("q{i:03}")).collect();
    assert_eq!(ids, want, "{path}: ids");
    let mut several = 0;
    for (n, row) in &rows {
        let q = text(path, *n, row, "question");
        assert!(
            q.ends_with('?'),
            "{path}:{n}: question does not end with `?`"
        );
        let answers = string_list(path, *n, row, "answers");
        if answers.len() > 1 {
            several += 1;
        }
        // A one-character alphabetic answer such as "D" would be found inside almost any
        // prediction by a `contains` scorer.
        for a in &answers {
            assert!(
                a.chars().count() > 1 || a.chars().all(|c| c.is_ascii_digit()),
                "{path}:{n}: answer {a:?} is too short to score safely"
            );
        }
        // Small whole numbers are also accepted written as words.
        if let Ok(num) = answers[0].parse::<u32>()
            && num < 1000
        {
            let words = number_words(num);
            assert!(
                answers.contains(&words),
                "{path}:{n}: {num} without the words {words:?}"
            );
        }
    }
    assert!(
        several >= 30,
        "{path}: only {several} rows list several answers"
    );
}

#[test]
fn number_words_spelling() {
    assert_eq!(number_words(0), "zero");
    assert_eq!(number_words(8), "eight");
    assert_eq!(number_words(60), "sixty");
    assert_eq!(number_words(144), "one hundred forty-four");
    assert_eq!(number_words(212), "two hundred twelve");
    assert_eq!(number_words(366), "three hundred sixty-six");
    assert_eq!(number_words(700), "seven hundred");
}

// ---------------------------------------------------------------------------------------------
// arithmetic

/// Every arithmetic answer, worked out again from the question's numbers.
const ARITHMETIC: &[(&str, f64)] = &[
    ("a001", 1250.0 + 875.0),                    // books on two floors
    ("a002", 3.0 * 2.40 + 1.15),                 // notebooks and a pen
    ("a003", 80.0 * 3.5),                        // train distance
    ("a004", 40.0 * (1.0 - 0.25)),               // 25% off $40
    ("a005", 24.0 * 5.0 / 8.0),                  // five-eighths of 24
    ("a006", 1440.0 / 12.0),                     // egg cartons
    ("a007", 360.0 * 0.15),                      // 15% of 360 households
    ("a008", 250.0 * 14.0 / 1000.0),             // grams to kilograms
    ("a009", 18.50 * 32.0),                      // weekly pay
    ("a010", 2400.0 * 0.35),                     // tank 35% full
    ("a011", 50.0 - 12.75 - 8.40),               // money left
    ("a012", 18.0 * 24.0 - 397.0),               // empty seats
    ("a013", (69.0 - 60.0) / 60.0 * 100.0),      // % increase
    ("a014", (42.0 + 37.0 + 47.0) / 3.0),        // average distance
    ("a015", 36.0 * 144.0),                      // pencils
    ("a016", 35.0 * 12.0 + 20.0),                // phone plan, first year
    ("a017", 12.5 * 8.0),                        // garden area
    ("a018", 6.5 * 340.0 / 100.0),               // fuel for 340 km
    ("a019", 87.60 / 3.0),                       // bill split three ways
    ("a020", 2306.0 - 1872.0),                   // April minus March
    ("a021", 120.0 * 0.80 * 0.90),               // 20% then 10% off
    ("a022", 2500.0 * 0.04 * 3.0),               // simple interest
    ("a023", 42.195 - 30.0),                     // marathon left
    ("a024", 18.0 / 24.0 * 100.0),               // % passed
    ("a025", 1150.0 * 16.0 * 5.0),               // bottles in 5 days
    ("a026", 1260.0 / 45.0),                     // printing minutes
    ("a027", 20.0 - 2.5 * 3.20),                 // change from $20
    ("a028", (80.0 - 70.0) / 80.0 * 100.0),      // % decrease
    ("a029", 14.0 * 23.0 * 85.0),                // apples
    ("a030", 640.0 * 1.15),                      // staff after +15%
    ("a031", 2085.0 - 1320.0),                   // climb
    ("a032", 5.20 / 8.0),                        // one granola bar
    ("a033", 27000.0 / 150.0 / 60.0),            // pool hours
    ("a034", -4.0 + 11.0),                       // temperature at noon
    ("a035", 14.99 * 6.0),                       // six novels
    ("a036", 85.0 * 4.0 - (72.0 + 85.0 + 91.0)), // score needed
    ("a037", 3.50 + 4.0 * 2.25),                 // parking 5 hours
    ("a038", 12000.0 * 1.10 * 1.10),             // birds after 2 years
    ("a039", 1500.0 / 250.0),                    // glasses of juice
    ("a040", 899.0 * 1.08),                      // price with tax
];

/// The number an `answer_text` stands for ("$1,234.50" -> 1234.5, "15%" -> 15).
fn text_number(s: &str) -> f64 {
    s.trim_start_matches('$')
        .trim_end_matches('%')
        .replace(',', "")
        .parse()
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn arithmetic() {
    let path = "datasets/arithmetic.jsonl";
    let rows = jsonl(path);
    assert_eq!(rows.len(), ARITHMETIC.len(), "{path}: row count");
    exact_keys(path, &rows, &["id", "question", "answer", "answer_text"]);
    let ids = ids(path, &rows, "id", r"^a\d{3}$");
    let checked: Vec<&str> = ARITHMETIC.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, checked, "{path}: ids differ from the checker's");
    let money = Regex::new(r"^\$\d{1,3}(,\d{3})*\.\d{2}$").unwrap();
    let percent = Regex::new(r"^\d{1,3}(,\d{3})*(\.\d+)?%$").unwrap();
    let plain = Regex::new(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$").unwrap();
    let (mut n_money, mut n_percent, mut n_thousands, mut n_decimal) = (0, 0, 0, 0);
    for ((n, row), (id, want)) in rows.iter().zip(ARITHMETIC) {
        let q = text(path, *n, row, "question");
        assert!(
            q.ends_with('?'),
            "{path}:{n}: question does not end with `?`"
        );
        let answer = &row["answer"];
        let value = answer
            .as_f64()
            .unwrap_or_else(|| panic!("{path}:{n}: `answer` is not a number"));
        assert!(
            close(value, *want),
            "{path}:{n} ({id}): answer {value}, but the checker computes {want}"
        );
        // Whole answers are JSON integers (so frontier's loader reads "30", not "30.0").
        assert_eq!(
            value.fract() == 0.0,
            answer.is_i64() || answer.is_u64(),
            "{path}:{n}: write whole answers as integers and others with a decimal point"
        );
        let shown = text(path, *n, row, "answer_text");
        assert!(
            close(text_number(shown), value),
            "{path}:{n}: answer_text {shown:?} is not {value}"
        );
        if shown.starts_with('$') {
            assert!(money.is_match(shown), "{path}:{n}: money {shown:?}");
            assert!(
                q.contains('$'),
                "{path}:{n}: a money answer to a question without $"
            );
            n_money += 1;
        } else if shown.ends_with('%') {
            assert!(percent.is_match(shown), "{path}:{n}: percentage {shown:?}");
            assert!(q.contains('%') || q.contains("percent"), "{path}:{n}");
            n_percent += 1;
        } else {
            assert!(plain.is_match(shown), "{path}:{n}: number {shown:?}");
        }
        if value.abs() >= 1000.0 {
            assert!(shown.contains(','), "{path}:{n}: no thousands separator");
            n_thousands += 1;
        }
        if value.fract() != 0.0 {
            n_decimal += 1;
        }
    }
    assert!(n_money >= 10, "only {n_money} money answers");
    assert!(n_percent >= 3, "only {n_percent} percentages");
    assert!(
        n_thousands >= 5,
        "only {n_thousands} answers in the thousands"
    );
    assert!(n_decimal >= 8, "only {n_decimal} decimal answers");
}

// ---------------------------------------------------------------------------------------------
// json-extraction

const SCHEMA_KEYWORDS: &[&str] = &[
    "$schema",
    "title",
    "description",
    "type",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minimum",
    "maximum",
    "pattern",
];

/// The schema uses only the keywords [`validate`] implements (and `additionalProperties` only
/// as `false`).
fn check_subset(schema: &Value, at: &str) {
    let obj = schema
        .as_object()
        .unwrap_or_else(|| panic!("{at}: a schema must be an object"));
    for (k, v) in obj {
        assert!(
            SCHEMA_KEYWORDS.contains(&k.as_str()),
            "{at}: unsupported keyword `{k}`"
        );
        match k.as_str() {
            "additionalProperties" => assert_eq!(v, &json!(false), "{at}"),
            "properties" => {
                for (name, sub) in v.as_object().unwrap() {
                    check_subset(sub, &format!("{at}.properties.{name}"));
                }
            }
            "items" => check_subset(v, &format!("{at}.items")),
            "pattern" => {
                Regex::new(v.as_str().unwrap()).unwrap();
            }
            "required" => {
                let props = obj["properties"].as_object().unwrap();
                for r in v.as_array().unwrap() {
                    assert!(props.contains_key(r.as_str().unwrap()), "{at}: {r}");
                }
            }
            _ => {}
        }
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.as_f64().is_some_and(|x| x.fract() == 0.0),
        other => panic!("unknown type {other}"),
    }
}

/// Validate `v` against the JSON Schema subset in [`SCHEMA_KEYWORDS`]; errors as `path: why`.
fn validate(schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let s = schema.as_object().unwrap();
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
            _ => panic!("bad type {t}"),
        };
        if !types.iter().any(|t| has_type(v, t)) {
            errors.push(format!("{at}: {v} is not of type {t}"));
            return;
        }
    }
    if let Some(e) = s.get("enum")
        && !e.as_array().unwrap().contains(v)
    {
        errors.push(format!("{at}: {v} is not one of {e}"));
    }
    if let (Some(p), Some(text)) = (s.get("pattern"), v.as_str())
        && !Regex::new(p.as_str().unwrap()).unwrap().is_match(text)
    {
        errors.push(format!("{at}: {text:?} does not match {p}"));
    }
    if let Some(x) = v.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && x < min
        {
            errors.push(format!("{at}: {x} < minimum {min}"));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && x > max
        {
            errors.push(format!("{at}: {x} > maximum {max}"));
        }
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap();
            if !obj.contains_key(r) {
                errors.push(format!("{at}: missing required `{r}`"));
            }
        }
        for (k, sub) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(ps, sub, &format!("{at}.{k}"), errors),
                None if s.get("additionalProperties") == Some(&json!(false)) => {
                    errors.push(format!("{at}: unexpected key `{k}`"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            validate(items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

fn schema_errors(schema: &Value, v: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate(schema, v, "$", &mut errors);
    errors
}

fn load_schema() -> Value {
    let text = std::fs::read_to_string("datasets/json-extraction.schema.json").unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    check_subset(&schema, "$");
    schema
}

/// Days in `month` of `year` (Gregorian).
fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Day of the week, 0 = Sunday (Sakamoto's method).
fn weekday(year: i64, month: u32, day: u32) -> usize {
    const T: [i64; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if month < 3 { year - 1 } else { year };
    ((y + y / 4 - y / 100 + y / 400 + T[month as usize - 1] + day as i64) % 7) as usize
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Every number written in `text` ("1,200" -> 1200, "£48.50" -> 48.5).
fn numbers_in(text: &str) -> Vec<f64> {
    let re = Regex::new(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?").unwrap();
    re.find_iter(text)
        .map(|m| m.as_str().replace(',', "").parse().unwrap())
        .collect()
}

/// Every phone-number-like run in `text`, normalised as the schema asks (digits, and a
/// leading + when written).
fn phones_in(text: &str) -> BTreeSet<String> {
    let re = Regex::new(r"\+?\(?\d[\d ().\-]{5,}\d").unwrap();
    re.find_iter(text)
        .map(|m| {
            let s = m.as_str();
            let digits: String = s.chars().filter(char::is_ascii_digit).collect();
            if s.starts_with('+') {
                format!("+{digits}")
            } else {
                digits
            }
        })
        .collect()
}

/// Check one `expected` object against its text beyond what the schema can say.
fn check_extraction(at: &str, text: &str, e: &Map<String, Value>) {
    let kind = e["kind"].as_str().unwrap();
    let s = |k: &str| e[k].as_str();
    // Strings copied from the text appear in it verbatim.
    for k in ["name", "city", "company", "email"] {
        if let Some(v) = s(k) {
            assert!(text.contains(v), "{at}: {k} {v:?} is not in the text");
        }
    }
    if let Some(p) = s("phone") {
        let found = phones_in(text);
        assert!(found.contains(p), "{at}: phone {p} not in {found:?}");
    } else {
        assert!(
            phones_in(text).is_empty() || kind == "invoice",
            "{at}: phone missed"
        );
    }
    if s("email").is_none() {
        let email = Regex::new(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}").unwrap();
        assert!(!email.is_match(text), "{at}: email missed");
    }
    // A real date, written in the text in one of the usual ways; a weekday named in the
    // text is that date's.
    if let Some(d) = s("date") {
        let (y, m, day): (i64, u32, u32) = (
            d[0..4].parse().unwrap(),
            d[5..7].parse().unwrap(),
            d[8..10].parse().unwrap(),
        );
        assert!(day <= days_in_month(y, m), "{at}: no such date {d}");
        let month = MONTHS[m as usize - 1];
        let forms = [
            d.to_string(),
            format!("{day} {month} {y}"),
            format!("{month} {day}, {y}"),
        ];
        assert!(
            forms.iter().any(|f| text.contains(f.as_str())),
            "{at}: date {d} is not written in the text as any of {forms:?}"
        );
        let named: Vec<&str> = WEEKDAYS
            .iter()
            .copied()
            .filter(|w| text.contains(w))
            .collect();
        if named.len() == 1 {
            assert_eq!(named[0], WEEKDAYS[weekday(y, m, day)], "{at}: {d}");
        }
    }
    if let Some(t) = s("time") {
        let (h, m): (u32, u32) = (t[0..2].parse().unwrap(), t[3..5].parse().unwrap());
        let (h12, half) = (
            if h % 12 == 0 { 12 } else { h % 12 },
            if h < 12 { "am" } else { "pm" },
        );
        let mut forms = vec![t.to_string(), format!("{h12}:{m:02} {half}")];
        if m == 0 {
            forms.push(format!("{h12} {half}"));
        }
        assert!(
            forms.iter().any(|f| text.contains(f.as_str())),
            "{at}: time {t} is not written in the text as any of {forms:?}"
        );
    }
    let numbers = numbers_in(text);
    let amount = e["amount"].as_f64();
    if let Some(a) = amount {
        if a == 0.0 {
            assert!(
                text.to_lowercase().contains("free"),
                "{at}: amount 0 but not free"
            );
        } else {
            assert!(numbers.iter().any(|x| close(*x, a)), "{at}: amount {a}");
        }
    }
    // The currency is null exactly when there is no (non-zero) amount, and the text names it.
    match (s("currency"), amount) {
        (None, None) => {}
        (None, Some(a)) => assert_eq!(a, 0.0, "{at}: an amount without a currency"),
        (Some(c), Some(a)) if a > 0.0 => {
            let marker = match c {
                "USD" => "USD",
                "EUR" => "€",
                "GBP" => "£",
                "JPY" => "JPY",
                "CAD" => "CA$",
                "AUD" => "AUD",
                "CHF" => "CHF",
                other => panic!("{at}: currency {other} has no marker here"),
            };
            assert!(
                text.contains(marker),
                "{at}: {c} but no {marker} in the text"
            );
        }
        (Some(c), a) => panic!("{at}: currency {c} with amount {a:?}"),
    }
    let items = e["line_items"].as_array().unwrap();
    let null = |k: &str| assert!(e[k].is_null(), "{at}: `{k}` must be null for a {kind}");
    match kind {
        "invoice" => {
            null("time");
            null("company");
            assert!(!items.is_empty(), "{at}: an invoice without line items");
            let mut sum = 0.0;
            for item in items {
                let d = item["description"].as_str().unwrap();
                let q = item["quantity"].as_f64().unwrap();
                let p = item["unit_price"].as_f64().unwrap();
                assert!(text.contains(d), "{at}: item {d:?} is not in the text");
                assert!(numbers.iter().any(|x| close(*x, q)), "{at}: quantity {q}");
                assert!(numbers.iter().any(|x| close(*x, p)), "{at}: unit price {p}");
                sum += q * p;
            }
            let total = amount.unwrap_or_else(|| panic!("{at}: an invoice without a total"));
            assert!(close(sum, total), "{at}: items sum to {sum}, total {total}");
        }
        "event" => {
            null("company");
            assert!(items.is_empty(), "{at}: line items on an event");
            assert!(s("date").is_some(), "{at}: an event without a date");
        }
        "contact" => {
            for k in ["date", "time", "amount", "currency"] {
                null(k);
            }
            assert!(items.is_empty(), "{at}: line items on a contact");
        }
        other => panic!("{at}: kind {other}"),
    }
}

#[test]
fn json_extraction() {
    let path = "datasets/json-extraction.jsonl";
    let schema = load_schema();
    let rows = jsonl(path);
    assert!(rows.len() >= 30, "{path}: {} rows", rows.len());
    exact_keys(path, &rows, &["id", "text", "expected"]);
    ids(path, &rows, "id", r"^j\d{3}$");
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (n, row) in &rows {
        let at = format!("{path}:{n}");
        let text = text(path, *n, row, "text");
        let expected = &row["expected"];
        let errors = schema_errors(&schema, expected);
        assert!(
            errors.is_empty(),
            "{at}: expected does not validate:\n{errors:#?}"
        );
        check_extraction(&at, text, expected.as_object().unwrap());
        *kinds
            .entry(expected["kind"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for kind in ["invoice", "event", "contact"] {
        let count = kinds.get(kind).copied().unwrap_or(0);
        assert!(count >= 8, "{path}: only {count} rows of kind {kind}");
    }
}

/// A named change to a valid record.
type Mutation = (&'static str, Box<dyn Fn(&mut Value)>);

/// The validator is not vacuous: each kind of mistake in a valid record is caught.
#[test]
fn json_extraction_schema_rejects_mistakes() {
    let schema = load_schema();
    let rows = jsonl("datasets/json-extraction.jsonl");
    let invoice = rows
        .iter()
        .map(|(_, r)| r["expected"].clone())
        .find(|e| e["kind"] == "invoice")
        .unwrap();
    assert_eq!(schema_errors(&schema, &invoice), Vec::<String>::new());
    let mutations: Vec<Mutation> = vec![
        (
            "missing key",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("kind");
            }),
        ),
        ("extra key", Box::new(|v| v["notes"] = json!("x"))),
        ("unknown kind", Box::new(|v| v["kind"] = json!("receipt"))),
        ("name not a string", Box::new(|v| v["name"] = json!(7))),
        ("blank name", Box::new(|v| v["name"] = json!("  "))),
        (
            "date as written",
            Box::new(|v| v["date"] = json!("5 March 2024")),
        ),
        ("month 13", Box::new(|v| v["date"] = json!("2024-13-01"))),
        ("12-hour time", Box::new(|v| v["time"] = json!("7:30 pm"))),
        (
            "phone with spaces",
            Box::new(|v| v["phone"] = json!("+44 161 496 0321")),
        ),
        (
            "bad email",
            Box::new(|v| v["email"] = json!("not an email")),
        ),
        (
            "amount as a string",
            Box::new(|v| v["amount"] = json!("48.50")),
        ),
        ("negative amount", Box::new(|v| v["amount"] = json!(-1))),
        (
            "lower-case currency",
            Box::new(|v| v["currency"] = json!("usd")),
        ),
        (
            "line items not a list",
            Box::new(|v| v["line_items"] = json!({})),
        ),
        (
            "fractional quantity",
            Box::new(|v| v["line_items"][0]["quantity"] = json!(1.5)),
        ),
        (
            "zero quantity",
            Box::new(|v| v["line_items"][0]["quantity"] = json!(0)),
        ),
        (
            "extra item key",
            Box::new(|v| v["line_items"][0]["sku"] = json!("A1")),
        ),
        (
            "missing item key",
            Box::new(|v| {
                v["line_items"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("unit_price");
            }),
        ),
    ];
    for (what, mutate) in mutations {
        let mut v = invoice.clone();
        mutate(&mut v);
        assert!(
            !schema_errors(&schema, &v).is_empty(),
            "{what}: not caught in {v}"
        );
    }
}

/// Cross-check with the reference implementation, Python's `jsonschema` (installed by
/// `.ci/run`).
#[test]
fn json_extraction_against_python_jsonschema() {
    let probe = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "python3 with the jsonschema package is needed: run `python3 -m pip install jsonschema==4.26.0` (.ci/run installs it)"
    );
    let script = r#"
import json, sys, jsonschema
schema = json.load(open("datasets/json-extraction.schema.json"))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
bad = 0
for n, line in enumerate(open("datasets/json-extraction.jsonl"), 1):
    for e in v.iter_errors(json.loads(line)["expected"]):
        bad += 1
        print(f"line {n}: {e.message}")
sys.exit(1 if bad else 0)
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// multiple-choice

#[test]
fn multiple_choice() {
    let path = "datasets/multiple-choice.jsonl";
    let rows = jsonl(path);
    assert!(rows.len() >= 40, "{path}: {} rows", rows.len());
    exact_keys(path, &rows, &["id", "question", "choices", "answer"]);
    ids(path, &rows, "id", r"^m\d{3}$");
    let mut letters: BTreeMap<String, usize> = BTreeMap::new();
    for (n, row) in &rows {
        let q = text(path, *n, row, "question");
        assert!(
            q.ends_with('?'),
            "{path}:{n}: question does not end with `?`"
        );
        let choices = string_list(path, *n, row, "choices");
        assert_eq!(choices.len(), 4, "{path}:{n}: {} choices", choices.len());
        let lower: BTreeSet<String> = choices.iter().map(|c| c.to_lowercase()).collect();
        assert_eq!(lower.len(), 4, "{path}:{n}: choices differ only in case");
        for c in &choices {
            let l = c.to_lowercase();
            assert!(
                !l.contains("of the above") && !l.contains("of these"),
                "{path}:{n}: {c:?}"
            );
        }
        let answer = text(path, *n, row, "answer");
        assert!(
            ["A", "B", "C", "D"].contains(&answer),
            "{path}:{n}: answer {answer:?} is not a letter A-D"
        );
        *letters.entry(answer.to_string()).or_default() += 1;
    }
    // Correct letters are spread evenly, so always answering one letter scores about 25%.
    let quarter = rows.len() / 4;
    for l in ["A", "B", "C", "D"] {
        let count = letters.get(l).copied().unwrap_or(0);
        assert!(
            count.abs_diff(quarter) <= 2,
            "{path}: {count} answers are {l} (expected about {quarter}): {letters:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// rag

#[test]
fn rag() {
    let cpath = "datasets/rag/corpus.jsonl";
    let corpus = jsonl(cpath);
    assert!(corpus.len() >= 30, "{cpath}: {} documents", corpus.len());
    exact_keys(cpath, &corpus, &["doc_id", "title", "text"]);
    let doc_ids = ids(cpath, &corpus, "doc_id", r"^crt-\d{2}$");
    // Each document's text as written: a question's `contexts` must be exactly these.
    let doc_texts: BTreeMap<String, String> = corpus
        .iter()
        .map(|(n, d)| {
            (
                text(cpath, *n, d, "doc_id").to_string(),
                text(cpath, *n, d, "text").to_string(),
            )
        })
        .collect();
    let docs: BTreeMap<String, String> = corpus
        .iter()
        .map(|(n, d)| {
            text(cpath, *n, d, "title");
            (
                text(cpath, *n, d, "doc_id").to_string(),
                text(cpath, *n, d, "text").to_lowercase(),
            )
        })
        .collect();

    let qpath = "datasets/rag/questions.jsonl";
    let questions = jsonl(qpath);
    assert!(
        questions.len() >= 30,
        "{qpath}: {} questions",
        questions.len()
    );
    exact_keys(
        qpath,
        &questions,
        &["id", "question", "answers", "gold_doc_ids", "contexts"],
    );
    ids(qpath, &questions, "id", r"^r\d{3}$");
    let mut cited = BTreeSet::new();
    let mut multi_doc = 0;
    for (n, q) in &questions {
        let question = text(qpath, *n, q, "question");
        assert!(
            question.ends_with('?'),
            "{qpath}:{n}: question does not end with `?`"
        );
        let answers = string_list(qpath, *n, q, "answers");
        let gold = string_list(qpath, *n, q, "gold_doc_ids");
        // `contexts` is generated from the corpus: the gold documents' text, in the order of
        // `gold_doc_ids` (what a pipeline puts in the prompt and a judge sees as `contexts`).
        let contexts: Vec<String> = q["contexts"]
            .as_array()
            .unwrap_or_else(|| panic!("{qpath}:{n}: `contexts` is not a list"))
            .iter()
            .map(|c| {
                c.as_str()
                    .unwrap_or_else(|| panic!("{qpath}:{n}: `contexts` holds a non-string"))
                    .to_string()
            })
            .collect();
        let want: Vec<String> = gold
            .iter()
            .map(|g| doc_texts.get(g).cloned().unwrap_or_default())
            .collect();
        assert_eq!(
            contexts, want,
            "{qpath}:{n}: `contexts` must be the text of the gold documents {gold:?}, in order \
             (regenerate it from rag/corpus.jsonl)"
        );
        for g in &gold {
            assert!(
                docs.contains_key(g),
                "{qpath}:{n}: unknown gold document {g}"
            );
            cited.insert(g.clone());
        }
        if gold.len() > 1 {
            multi_doc += 1;
        }
        for a in &answers {
            let a_lower = a.to_lowercase();
            assert!(
                gold.iter().any(|g| docs[g].contains(&a_lower)),
                "{qpath}:{n}: answer {a:?} appears in none of its gold documents {gold:?}"
            );
        }
    }
    assert!(
        multi_doc >= 2,
        "{qpath}: only {multi_doc} multi-document questions"
    );
    let uncited: Vec<&String> = doc_ids.iter().filter(|d| !cited.contains(*d)).collect();
    assert!(
        uncited.is_empty(),
        "documents no question needs: {uncited:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// through frontier

struct Mapping {
    name: &'static str,
    path: &'static str,
    input: &'static str,
    reference: Option<&'static str>,
    id: &'static str,
    prompt: &'static str,
}

const MAPPINGS: &[Mapping] = &[
    Mapping {
        name: "qa",
        path: "datasets/qa-mini.jsonl",
        input: "question",
        reference: Some("answers"),
        id: "id",
        prompt: "Question: {{ item.question }}",
    },
    Mapping {
        name: "arithmetic",
        path: "datasets/arithmetic.jsonl",
        input: "question",
        reference: Some("answer"),
        id: "id",
        prompt: "{{ item.question }} End with ANSWER: and the number ({{ item.answer_text }}).",
    },
    Mapping {
        name: "extraction",
        path: "datasets/json-extraction.jsonl",
        input: "text",
        reference: Some("expected"),
        id: "id",
        prompt: "Extract one JSON object from this text.\\n{{ item.text }}",
    },
    Mapping {
        name: "choice",
        path: "datasets/multiple-choice.jsonl",
        input: "question",
        reference: Some("answer"),
        id: "id",
        prompt: "{{ item.question }}\\nA. {{ item.choices[0] }}\\nB. {{ item.choices[1] }}\\nC. {{ item.choices[2] }}\\nD. {{ item.choices[3] }}",
    },
    Mapping {
        name: "rag",
        path: "datasets/rag/questions.jsonl",
        input: "question",
        reference: Some("answers"),
        id: "id",
        prompt: "Documents:\\n{{ item.contexts | join('\\n\\n') }}\\nQuestion: {{ item.question }}",
    },
    Mapping {
        name: "corpus",
        path: "datasets/rag/corpus.jsonl",
        input: "text",
        reference: None,
        id: "doc_id",
        prompt: "{{ item.title }}\\n{{ item.text }}",
    },
];

fn pipeline_yaml(m: &Mapping) -> String {
    let abs = std::fs::canonicalize(m.path).unwrap();
    let reference = m
        .reference
        .map(|r| format!(", reference: {r}"))
        .unwrap_or_default();
    format!(
        "version: 1\n\
         name: dataset-{name}\n\
         endpoints:\n  sim: {{ kind: simulated }}\n\
         datasets:\n  {name}: {{ path: {path:?}, input: {input}{reference}, id: {id} }}\n\
         workload:\n  arrival: {{ concurrency: 1 }}\n\
         flow:\n  - id: answer\n    llm:\n      endpoint: sim\n      prompt: \"{prompt}\"\n",
        name = m.name,
        path = abs.display().to_string(),
        input = m.input,
        id = m.id,
        prompt = m.prompt,
    )
}

fn temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = std::env::temp_dir().join(format!("frontier-datasets-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every dataset loads through frontier's loader with the documented mapping: same rows,
/// same ids, the references the file holds; and `frontier validate` accepts the pipelines
/// (templates rendered against the first row).
#[test]
fn datasets_load_through_frontier() {
    let dir = temp_dir();
    let mut files = Vec::new();
    for m in MAPPINGS {
        let yaml = pipeline_yaml(m);
        let file = dir.join(format!("{}.yaml", m.name));
        std::fs::write(&file, &yaml).unwrap();
        let loaded = frontier::spec::load::load(&file, &[])
            .unwrap_or_else(|e| panic!("{}:\n{}\n{yaml}", m.name, e.render()));
        let plan = frontier::plan::build(&loaded)
            .unwrap_or_else(|e| panic!("{}:\n{}\n{yaml}", m.name, e.render()));
        let ds = &plan.datasets[m.name];
        let rows = jsonl(m.path);
        assert_eq!(ds.rows.len(), rows.len(), "{}", m.name);
        for (loaded, (n, row)) in ds.rows.iter().zip(&rows) {
            assert_eq!(loaded.id, row[m.id].as_str().unwrap(), "{}:{n}", m.path);
            assert_eq!(
                loaded.input,
                row[m.input].as_str().unwrap(),
                "{}:{n}",
                m.path
            );
            let want: Vec<String> = match m.reference.map(|r| &row[r]) {
                None => Vec::new(),
                Some(Value::Array(a)) => a.iter().map(|v| v.as_str().unwrap().into()).collect(),
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Number(x)) => vec![x.to_string()],
                Some(Value::Object(o)) => {
                    // The object arrives as JSON text that parses back to itself.
                    let back: Value = serde_json::from_str(&loaded.references[0]).unwrap();
                    assert_eq!(&back, &Value::Object(o.clone()), "{}:{n}", m.path);
                    vec![loaded.references[0].clone()]
                }
                Some(other) => panic!("{}:{n}: reference {other}", m.path),
            };
            assert_eq!(loaded.references, want, "{}:{n}", m.path);
        }
        files.push(file);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .arg("validate")
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// datasets/README.md has a row for every dataset file, with its row count.
#[test]
fn readme_lists_every_dataset() {
    let readme = std::fs::read_to_string("datasets/README.md").unwrap();
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::from("datasets")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 7, "{files:?}");
    for f in files {
        let rel = f.strip_prefix("datasets").unwrap().display().to_string();
        let count = std::fs::read_to_string(&f).unwrap().lines().count();
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{rel}` |")))
            .unwrap_or_else(|| panic!("datasets/README.md has no row for `{rel}`"));
        assert!(
            row.contains(&format!("| {count} |")),
            "datasets/README.md: `{rel}` has {count} rows: {row}"
        );
    }
    assert!(Path::new("datasets/json-extraction.schema.json").exists());
    assert!(readme.contains("`json-extraction.schema.json`"));
}

/// The datasets carry their own explicit licence (CC0-1.0), stated in the README and in a
/// LICENSE file beside them, not a reference to terms that do not exist.
#[test]
fn datasets_state_an_explicit_licence() {
    let readme = std::fs::read_to_string("datasets/README.md").unwrap();
    assert!(
        readme.contains("CC0-1.0"),
        "datasets/README.md names no licence"
    );
    assert!(
        !readme.contains("same terms as frontier"),
        "datasets/README.md defers to frontier's terms, which are not stated anywhere"
    );
    let licence = std::fs::read_to_string("datasets/LICENSE").unwrap();
    assert!(
        licence.starts_with("SPDX-License-Identifier: CC0-1.0\n"),
        "{licence}"
    );
}
