//! Differential tests against the reference implementations our scorers claim to match:
//! sacrebleu (BLEU with the `13a` tokeniser and add-one smoothing, sentence and corpus level),
//! Google's `rouge_score` (ROUGE-L F on ASCII text) and Python's `jsonschema` (Draft 2020-12
//! verdicts for the keywords frontier supports). The Python packages are installed by
//! `.ci/run`; without them these tests fail with the command that installs them.

mod python;

use frontier::eval::scorers::{rouge_l, rouge_tokens, tokenize_13a};
use frontier::eval::{BleuStats, Schema};
use python::python;
use serde_json::{Value, json};

/// A deterministic stream of pseudo-random numbers (no dependency on `rand` in tests).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Words chosen to exercise the 13a tokeniser: punctuation next to words, numbers with
/// separators, hyphens after digits, HTML entities, apostrophes, non-ASCII text.
const WORDS: &[&str] = &[
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "The",
    "dog",
    "ran",
    "home",
    "a",
    "big",
    "red",
    "house",
    "1,000",
    "3.14",
    "42.",
    "U.S.",
    "e.g.",
    "state-of-the-art",
    "10-15",
    "rock'n'roll",
    "don't",
    "\"quoted\"",
    "(aside)",
    "end.",
    "yes,",
    "no;",
    "why?",
    "wow!",
    "&quot;",
    "&amp;",
    "&lt;tag&gt;",
    "café",
    "naïve",
    "—",
    "50%",
    "$5",
    "x/y",
    "<skipped>",
    "a:b",
];

fn sentence(rng: &mut Lcg, min: usize, max: usize) -> String {
    let n = min + rng.below(max - min + 1);
    (0..n)
        .map(|_| WORDS[rng.below(WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A hypothesis that shares part of its reference, so every n-gram order sees matches.
fn perturb(rng: &mut Lcg, reference: &str) -> String {
    let mut words: Vec<&str> = reference.split(' ').collect();
    for w in words.iter_mut() {
        if rng.below(4) == 0 {
            *w = WORDS[rng.below(WORDS.len())];
        }
    }
    if rng.below(3) == 0 && words.len() > 2 {
        words.truncate(words.len() - 1 - rng.below(2));
    }
    if rng.below(4) == 0 {
        words.push(WORDS[rng.below(WORDS.len())]);
    }
    words.join(" ")
}

const SACREBLEU: &str = r#"
import json, sys
from sacrebleu.metrics import BLEU
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
cases = json.load(sys.stdin)
tok = Tokenizer13a()
sent = BLEU(tokenize="13a", smooth_method="add-k", smooth_value=1, effective_order=True)
corp = BLEU(tokenize="13a", smooth_method="add-k", smooth_value=1)
out = {
    "tokens": [tok(c["hyp"]).split() for c in cases],
    "sentence": [sent.sentence_score(c["hyp"], c["refs"]).score / 100 for c in cases],
    "corpus": corp.corpus_score([c["hyp"] for c in cases],
                                [list(r) for r in zip(*[c["refs"] for c in cases])]).score / 100,
}
print(json.dumps(out))
"#;

#[test]
fn bleu_matches_sacrebleu_sentence_and_corpus() {
    let mut rng = Lcg(7);
    let mut cases: Vec<(String, Vec<String>)> = Vec::new();
    for i in 0..300 {
        let r1 = sentence(&mut rng, 1, 14);
        let r2 = if i % 5 == 0 {
            sentence(&mut rng, 1, 14)
        } else {
            perturb(&mut rng, &r1)
        };
        let hyp = match i % 10 {
            0 => sentence(&mut rng, 1, 14),
            1 => r1.clone(),
            _ => perturb(&mut rng, &r1),
        };
        cases.push((hyp, vec![r1, r2]));
    }
    // Hand-picked edge cases: empty answer, no unigram match, a single word, entities.
    for (hyp, r1, r2) in [
        ("", "the cat", "a cat"),
        ("zebra", "the cat", "a cat"),
        ("cat", "cat", "the cat sat"),
        ("&quot;Hi&quot; &amp; bye.", "\"Hi\" & bye.", "hi and bye"),
        (
            "It cost $1,000.50 in 2019-2020.",
            "It cost $1,000.50 in 2019-2020.",
            "It cost 1000",
        ),
    ] {
        cases.push((hyp.into(), vec![r1.into(), r2.into()]));
    }
    let input = Value::Array(
        cases
            .iter()
            .map(|(h, r)| json!({"hyp": h, "refs": r}))
            .collect(),
    );
    let got = python("sacrebleu", SACREBLEU, &input);

    // The cases span the range (not all 0 or 1), so agreement is not trivial.
    let partial = (0..cases.len())
        .filter(|&i| (0.05..0.95).contains(&got["sentence"][i].as_f64().unwrap()))
        .count();
    assert!(partial > 150, "{partial} partial scores");
    let mut total = BleuStats::default();
    for (i, (hyp, refs)) in cases.iter().enumerate() {
        let ours = tokenize_13a(hyp);
        let theirs: Vec<String> = serde_json::from_value(got["tokens"][i].clone()).unwrap();
        assert_eq!(ours, theirs, "13a tokens of {hyp:?}");
        let refs: Vec<Vec<String>> = refs.iter().map(|r| tokenize_13a(r)).collect();
        let stats = BleuStats::new(&ours, &refs);
        let want = got["sentence"][i].as_f64().unwrap();
        let have = stats.smoothed_bleu();
        assert!(
            (have - want).abs() < 1e-9,
            "sentence BLEU of {hyp:?} against {:?}: frontier {have}, sacrebleu {want}",
            cases[i].1
        );
        total.add(&stats);
    }
    let want = got["corpus"].as_f64().unwrap();
    let have = total.smoothed_bleu();
    assert!(
        (have - want).abs() < 1e-9,
        "corpus BLEU: frontier {have}, sacrebleu {want}"
    );
    // The corpus statistic `score_stats` reports is the same sum.
    let pairs: Vec<(&str, &[String])> = cases
        .iter()
        .map(|(h, r)| (h.as_str(), r.as_slice()))
        .collect();
    let (value, _) = frontier::eval::stats::corpus_bleu(&pairs, 1).unwrap();
    assert!((value - want).abs() < 1e-9, "{value} vs {want}");
}

const ROUGE: &str = r#"
import json, sys
from rouge_score import rouge_scorer, tokenizers
tok = tokenizers.DefaultTokenizer(use_stemmer=False)
scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
cases = json.load(sys.stdin)
print(json.dumps({
    "tokens": [tok.tokenize(c["hyp"]) for c in cases],
    "f": [scorer.score(c["ref"], c["hyp"])["rougeL"].fmeasure for c in cases],
}))
"#;

#[test]
fn rouge_l_matches_rouge_score_on_ascii_text() {
    let mut rng = Lcg(11);
    let ascii: Vec<&str> = WORDS.iter().copied().filter(|w| w.is_ascii()).collect();
    let mut cases: Vec<(String, String)> = Vec::new();
    for i in 0..300 {
        let n = 1 + rng.below(14);
        let r: Vec<&str> = (0..n).map(|_| ascii[rng.below(ascii.len())]).collect();
        let h: Vec<&str> = if i % 7 == 0 {
            (0..1 + rng.below(14))
                .map(|_| ascii[rng.below(ascii.len())])
                .collect()
        } else {
            r.iter()
                .map(|w| {
                    if rng.below(3) == 0 {
                        ascii[rng.below(ascii.len())]
                    } else {
                        w
                    }
                })
                .collect()
        };
        cases.push((h.join(" "), r.join(" ")));
    }
    cases.push((String::new(), "the cat".into()));
    cases.push(("... !!!".into(), "the cat".into()));
    cases.push(("The CAT".into(), "the cat".into()));
    let input = Value::Array(
        cases
            .iter()
            .map(|(h, r)| json!({"hyp": h, "ref": r}))
            .collect(),
    );
    let got = python("rouge_score", ROUGE, &input);
    let mut partial = 0;
    for (i, (hyp, reference)) in cases.iter().enumerate() {
        let ours = rouge_tokens(hyp);
        let theirs: Vec<String> = serde_json::from_value(got["tokens"][i].clone()).unwrap();
        assert_eq!(ours, theirs, "ROUGE tokens of {hyp:?}");
        let have = rouge_l(&ours, &rouge_tokens(reference));
        let want = got["f"][i].as_f64().unwrap();
        assert!(
            (have - want).abs() < 1e-12,
            "ROUGE-L of {hyp:?} against {reference:?}: frontier {have}, rouge_score {want}"
        );
        partial += usize::from(0.0 < want && want < 1.0);
    }
    assert!(partial > 150, "{partial} partial scores");
}

const JSONSCHEMA: &str = r#"
import json, sys, jsonschema
out = []
for schema, instance in json.load(sys.stdin):
    jsonschema.Draft202012Validator.check_schema(schema)
    out.append(jsonschema.Draft202012Validator(schema).is_valid(instance))
print(json.dumps(out))
"#;

#[test]
fn json_schema_verdicts_match_python_jsonschema() {
    // Every supported keyword, each with instances on both sides of its boundary.
    let person = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 5},
            "age": {"type": "integer", "minimum": 0, "exclusiveMaximum": 150},
            "email": {"type": ["string", "null"], "pattern": "@"},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 1, "maxItems": 2},
            "kind": {"const": "person"},
            "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}
        },
        "required": ["name", "age"],
        "additionalProperties": false
    });
    let instances = [
        json!({"name": "Ann", "age": 30}),
        json!({"name": "Ann", "age": 30.0}),
        json!({"name": "Ann", "age": 30.5}),
        json!({"name": "Ann", "age": -1}),
        json!({"name": "Ann", "age": 150}),
        json!({"name": "Ann", "age": 149}),
        json!({"name": "", "age": 1}),
        json!({"name": "Annabel", "age": 1}),
        json!({"name": "Zoë", "age": 1}),
        json!({"name": "日本語です", "age": 1}),
        json!({"name": "Ann"}),
        json!({"age": 3}),
        json!({"name": "Ann", "age": 3, "extra": 1}),
        json!({"name": "Ann", "age": 3, "email": null}),
        json!({"name": "Ann", "age": 3, "email": "a@b"}),
        json!({"name": "Ann", "age": 3, "email": "ab"}),
        json!({"name": "Ann", "age": 3, "email": 5}),
        json!({"name": "Ann", "age": 3, "tags": []}),
        json!({"name": "Ann", "age": 3, "tags": ["a"]}),
        json!({"name": "Ann", "age": 3, "tags": ["a", "b"]}),
        json!({"name": "Ann", "age": 3, "tags": ["a", "b", "a"]}),
        json!({"name": "Ann", "age": 3, "tags": ["c"]}),
        json!({"name": "Ann", "age": 3, "kind": "person"}),
        json!({"name": "Ann", "age": 3, "kind": "robot"}),
        json!({"name": "Ann", "age": 3, "score": 0}),
        json!({"name": "Ann", "age": 3, "score": 0.5}),
        json!({"name": "Ann", "age": 3, "score": 1}),
        json!({"name": "Ann", "age": 3, "score": 1.01}),
        json!({"name": "Ann", "age": true}),
        json!(["Ann", 3]),
        json!(null),
        json!("Ann"),
    ];
    let mut pairs: Vec<(Value, Value)> = instances
        .iter()
        .map(|i| (person.clone(), i.clone()))
        .collect();
    // Boolean schemas, type lists, additionalProperties as a schema, nested items, enum of
    // mixed values (1 and 1.0 are equal in JSON Schema).
    let extra = [
        (json!(true), json!({"x": 1})),
        (json!(false), json!(null)),
        (json!({"type": "integer"}), json!(1.0)),
        (json!({"type": "integer"}), json!(1.5)),
        (json!({"type": "number"}), json!(1)),
        (json!({"type": ["null", "boolean"]}), json!(false)),
        (json!({"type": ["null", "boolean"]}), json!(0)),
        (
            json!({"additionalProperties": {"type": "string"}}),
            json!({"a": "x"}),
        ),
        (
            json!({"additionalProperties": {"type": "string"}}),
            json!({"a": 1}),
        ),
        (
            json!({"properties": {"a": {"type": "string"}}, "additionalProperties": false}),
            json!({"a": "x", "b": 1}),
        ),
        (
            json!({"items": {"items": {"type": "integer"}}}),
            json!([[1, 2], [3]]),
        ),
        (
            json!({"items": {"items": {"type": "integer"}}}),
            json!([[1, "2"]]),
        ),
        (json!({"enum": [1, "1", null]}), json!(1.0)),
        (json!({"enum": [1, "1", null]}), json!(2)),
        (json!({"const": {"a": [1, 2]}}), json!({"a": [1, 2]})),
        (json!({"const": {"a": [1, 2]}}), json!({"a": [2, 1]})),
        (json!({"pattern": "^a+$"}), json!("aaa")),
        (json!({"pattern": "^a+$"}), json!("aab")),
        (json!({"pattern": "^a+$"}), json!(5)),
        (json!({"minimum": 5}), json!("not a number")),
        (json!({"maxLength": 2}), json!("ab")),
        (json!({"maxLength": 2}), json!("abc")),
        (json!({"required": ["a"]}), json!([1])),
        (
            json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "t", "description": "d", "type": "string", "format": "email"}),
            json!("not an email"),
        ),
    ];
    pairs.extend(extra);
    let input = Value::Array(pairs.iter().map(|(s, i)| json!([s, i])).collect());
    let verdicts = python("jsonschema", JSONSCHEMA, &input);
    for (k, (schema, instance)) in pairs.iter().enumerate() {
        let compiled = Schema::compile(schema).unwrap_or_else(|e| panic!("{schema}: {e}"));
        let ours = compiled.check(instance).is_ok();
        let theirs = verdicts[k].as_bool().unwrap();
        assert_eq!(
            ours, theirs,
            "schema {schema}\ninstance {instance}\nfrontier says valid={ours}, jsonschema says valid={theirs}"
        );
    }
}
