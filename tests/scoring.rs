//! Scoring end to end: a pipeline with extraction and a numeric scorer runs on the simulated
//! engine (which answers with each case's first reference), and `scores.parquet` and
//! `configs.parquet` are read back.

mod results;

use std::collections::BTreeMap;

use results::{bools, floats, ints, read, run_ok, strings, temp_dir};

#[test]
fn extraction_and_numeric_scores_reach_parquet() {
    let dir = temp_dir("numeric");
    // The engine answers each question with its first reference; the second reference is the
    // number the answer should contain.
    let rows = [
        (
            "m1",
            "What is 1234 + 0.5?",
            "The total is $1,234.50.",
            "1234.5",
        ),
        ("m2", "What is 6 x 7?", "It is 42", "42"),
        ("m3", "Pick a number.", "I do not know", "7"),
        ("m4", "How many apples?", "There are 5 apples", "6"),
    ];
    let dataset: String = rows
        .iter()
        .map(|(id, q, said, num)| {
            serde_json::json!({"id": id, "question": q, "answers": [said, num]}).to_string() + "\n"
        })
        .collect();
    std::fs::write(dir.join("math.jsonl"), dataset).unwrap();
    let numeric_file = std::env::current_dir()
        .unwrap()
        .join("evaluators/numeric.yaml");
    let pipeline = format!(
        r#"version: 1
name: scoring
endpoints:
  sim: {{ kind: simulated, profile: {{ quality: 1.0, temperature_sensitivity: 0, decode_ms: 0 }} }}
datasets:
  math: {{ path: math.jsonl, input: question, reference: answers, id: id }}
workload: {{ arrival: {{ concurrency: 1 }} }}
flow:
  - id: answer
    llm: {{ endpoint: sim, prompt: "{{{{ item.question }}}}", params: {{ temperature: 0, max_tokens: 64 }} }}
evaluators:
  - use: {}
  - exact: {{ name: exact_after, extract: {{ after: "total is" }}, normalize: strip }}
"#,
        numeric_file.display()
    );
    let p = dir.join("p.yaml");
    std::fs::write(&p, pipeline).unwrap();
    let run_dir = run_ok(&p, &dir);

    let scores = read(&run_dir.join("scores.parquet"));
    assert_eq!(scores.num_rows(), 8);
    let case_ids = strings(&scores, "case_id");
    let scorer = strings(&scores, "scorer");
    let status = strings(&scores, "status");
    let score = floats(&scores, "score");
    let raw = floats(&scores, "raw");
    let reason = strings(&scores, "reason");
    let normalizer = strings(&scores, "normalizer");
    let extracted = strings(&scores, "extracted");
    let failed = bools(&scores, "extraction_failed");
    type Row = (
        String,
        Option<f64>,
        Option<f64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<bool>,
    );
    let mut by_key: BTreeMap<(String, String), Row> = BTreeMap::new();
    for i in 0..scores.num_rows() {
        by_key.insert(
            (case_ids[i].clone().unwrap(), scorer[i].clone().unwrap()),
            (
                status[i].clone().unwrap(),
                score[i],
                raw[i],
                reason[i].clone(),
                normalizer[i].clone(),
                extracted[i].clone(),
                failed[i],
            ),
        );
    }
    let get = |case: &str, s: &str| by_key[&(case.to_string(), s.to_string())].clone();
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        get("m1", "numeric"),
        (
            "scored".into(),
            Some(1.0),
            Some(0.0),
            None,
            None,
            s("$1,234.50"),
            Some(false)
        )
    );
    assert_eq!(
        get("m2", "numeric"),
        (
            "scored".into(),
            Some(1.0),
            Some(0.0),
            None,
            None,
            s("42"),
            Some(false)
        )
    );
    assert_eq!(
        get("m3", "numeric"),
        (
            "unscored".into(),
            None,
            None,
            s("extraction_failed"),
            None,
            None,
            Some(true)
        )
    );
    assert_eq!(
        get("m4", "numeric"),
        (
            "scored".into(),
            Some(0.0),
            Some(1.0),
            None,
            None,
            s("5"),
            Some(false)
        )
    );
    assert_eq!(
        get("m1", "exact_after"),
        (
            "scored".into(),
            Some(0.0),
            None,
            None,
            s("strip@1"),
            s("$1,234.50."),
            Some(false)
        )
    );
    assert_eq!(get("m2", "exact_after").3, s("extraction_failed"));

    let configs = read(&run_dir.join("configs.parquet"));
    let accuracy = floats(&configs, "accuracy")[0].unwrap();
    assert!((accuracy - 2.0 / 3.0).abs() < 1e-12, "{accuracy}");
    assert_eq!(ints(&configs, "scored"), vec![Some(3)]);
    assert_eq!(ints(&configs, "unscored"), vec![Some(1)]);
    assert_eq!(ints(&configs, "extraction_failed_numeric"), vec![Some(1)]);
    assert_eq!(
        ints(&configs, "extraction_failed_exact_after"),
        vec![Some(3)]
    );
    assert_eq!(floats(&configs, "score_exact_after"), vec![Some(0.0)]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `records_exact` (evaluators/records-extraction.yaml) compares JSON as data: the dataset's
/// own `expected` object, echoed verbatim as written in the file, scores 1, and so does the
/// same record re-indented, with keys reordered, in a fence, or with `18.0` for `18`; a record
/// that differs in one value scores 0.
#[test]
fn records_exact_accepts_the_expected_record_as_written() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = frontier::spec::load::load(&root.join("examples/eval-json-extraction.yaml"), &[])
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let plan = frontier::plan::build(&loaded).unwrap_or_else(|e| panic!("{}", e.render()));
    let exact = plan
        .scorers
        .iter()
        .find(|s| s.name == "records_exact")
        .expect("records_exact");
    let lines = std::fs::read_to_string(root.join("datasets/json-extraction.jsonl")).unwrap();
    let score = |answer: &str, refs: &[String]| exact.score_case(answer, refs).score;
    let one = frontier::eval::Score::Scored {
        value: 1.0,
        raw: None,
    };
    let zero = frontier::eval::Score::Scored {
        value: 0.0,
        raw: None,
    };
    for (row, line) in plan.dataset.rows.iter().zip(lines.lines()) {
        // The `expected` object exactly as the file writes it (spaces, key order).
        let start = line.find("\"expected\": ").unwrap() + "\"expected\": ".len();
        let as_written = &line[start..line.len() - 1];
        let parsed: serde_json::Value = serde_json::from_str(as_written).unwrap();
        assert_eq!(parsed, row.item["expected"], "{}", row.id);
        assert_eq!(
            score(as_written, &row.references),
            one,
            "{}: {as_written}",
            row.id
        );
        // Pretty-printed, keys in reverse order, inside a fence with text around it.
        let mut pretty = String::from("{\n");
        let fields: Vec<String> = parsed
            .as_object()
            .unwrap()
            .iter()
            .rev()
            .map(|(k, v)| format!("  {}: {}", serde_json::json!(k), v))
            .collect();
        pretty.push_str(&fields.join(",\n"));
        pretty.push_str("\n}");
        let fenced = format!("Here is the record:\n```json\n{pretty}\n```\nDone.");
        assert_eq!(score(&fenced, &row.references), one, "{}: {fenced}", row.id);
        // One value changed: 0.
        let mut wrong = parsed.clone();
        wrong["kind"] = serde_json::json!("something else");
        assert_eq!(
            score(&wrong.to_string(), &row.references),
            zero,
            "{}",
            row.id
        );
    }
    // Integral numbers compare by value: `48.0` is `48`.
    let refs = vec![r#"{"amount":48,"kind":"invoice"}"#.to_string()];
    assert_eq!(score(r#"{"kind": "invoice", "amount": 48.0}"#, &refs), one);
    assert_eq!(score(r#"{"kind": "invoice", "amount": 48.5}"#, &refs), zero);
}

/// Non-string references are loaded in the canonical JSON that `json_path` extraction gives
/// answers: a dataset's `18.0` is the reference `18` (as a number, a list item or inside an
/// object), so `records_exact` scores the correct answer 1.
#[test]
fn integral_float_references_load_in_canonical_form() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = frontier::spec::load::load(&root.join("examples/eval-json-extraction.yaml"), &[])
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let plan = frontier::plan::build(&loaded).unwrap_or_else(|e| panic!("{}", e.render()));
    let exact = plan
        .scorers
        .iter()
        .find(|s| s.name == "records_exact")
        .expect("records_exact");
    let dir = temp_dir("canonical-refs");
    std::fs::write(
        dir.join("refs.jsonl"),
        concat!(
            "{\"text\": \"age?\", \"expected\": 18.0}\n",
            "{\"text\": \"ages?\", \"expected\": [18.0, 1e3]}\n",
            "{\"text\": \"record?\", \"expected\": {\"kind\": \"invoice\", \"amount\": 18.0}}\n",
        ),
    )
    .unwrap();
    let spec = frontier::spec::FileDatasetSpec {
        path: "refs.jsonl".into(),
        format: None,
        input: "text".into(),
        reference: Some("expected".into()),
        id: None,
        limit: None,
        output_tokens: None,
        ignore_eos: false,
    };
    let dataset = frontier::plan::dataset::load("refs", &spec, &dir).unwrap();
    let references: Vec<&[String]> = dataset
        .rows
        .iter()
        .map(|r| r.references.as_slice())
        .collect();
    assert_eq!(
        references,
        [
            &["18".to_string()][..],
            &["18".to_string(), "1000".to_string()][..],
            &[r#"{"amount":18,"kind":"invoice"}"#.to_string()][..],
        ]
    );
    let one = frontier::eval::Score::Scored {
        value: 1.0,
        raw: None,
    };
    for (answer, row) in [
        "18",
        "```json\n1000\n```",
        r#"{"kind": "invoice", "amount": 18}"#,
    ]
    .into_iter()
    .zip(&dataset.rows)
    {
        assert_eq!(
            exact.score_case(answer, &row.references).score,
            one,
            "{answer}"
        );
    }
}
