//! Golden tables for every scorer (through [`Scorer`], so normalisers, extraction and statuses
//! are exercised together) and property tests.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::spec::{
    BasicScorer, FuzzyScorer, JsonSchemaScorer, LmEvalNormalizer, LmEvalOptions, MatchPolicy,
    NormalizerName, NumericScorer, RegexExtract, RegexScorer, TextScorer, Tolerance,
};

fn refs(r: &[&str]) -> Vec<String> {
    r.iter().map(|s| s.to_string()).collect()
}

fn text(normalize: NormalizeSpec) -> TextScorer {
    TextScorer {
        normalize,
        ..TextScorer::default()
    }
}

fn named(n: NormalizerName) -> NormalizeSpec {
    NormalizeSpec::Named(n)
}

fn scored(value: f64) -> Score {
    Score::Scored { value, raw: None }
}

/// `(answer, references, expected)` rows through one scorer.
fn table(scorer: &Scorer, rows: &[(&str, &[&str], Score)]) {
    for (answer, references, want) in rows {
        let got = scorer.score(answer, &refs(references));
        match (&got, want) {
            (Score::Scored { value: g, .. }, Score::Scored { value: w, .. }) => assert!(
                (g - w).abs() < 1e-9,
                "{}: {answer:?} vs {references:?}: got {g}, want {w}",
                scorer.name
            ),
            _ => assert_eq!(&got, want, "{}: {answer:?} vs {references:?}", scorer.name),
        }
    }
}

#[test]
fn exact_golden() {
    let squad = Scorer::from_spec(&EvaluatorSpec::Exact(TextScorer::default()));
    assert_eq!(squad.normalizer_label().map(|l| &**l), Some("squad@1"));
    table(
        &squad,
        &[
            ("The Paris.", &["paris"], scored(1.0)),
            ("Paris, France", &["paris", "Paris, France"], scored(1.0)),
            ("Lyon", &["paris", "Marseille"], scored(0.0)),
            ("U.S.", &["US"], scored(1.0)),
            ("the U.S.A", &["USA"], scored(1.0)),
            // Hyphens are removed, not turned into spaces (SQuAD): the words run together.
            ("state-of-the-art", &["stateoftheart"], scored(1.0)),
            ("state-of-the-art", &["state of the art"], scored(0.0)),
            // Curly quotes are not ASCII punctuation: SQuAD keeps them.
            ("“Paris”", &["Paris"], scored(0.0)),
            ("’Paris’", &["’paris’"], scored(1.0)),
            // Numbers as words are different words; use `numeric` for numbers.
            ("two", &["2"], scored(0.0)),
            // Thousands separators and currency symbols are ASCII punctuation.
            ("1,234", &["1234"], scored(1.0)),
            ("$5", &["5"], scored(1.0)),
            ("", &["x"], scored(0.0)),
            ("", &[""], scored(1.0)),
            ("the", &["a"], scored(1.0)),
            ("x", &[], Score::Unscored("no_reference")),
        ],
    );
    let strip = Scorer::from_spec(&EvaluatorSpec::Exact(text(named(NormalizerName::Strip))));
    assert_eq!(strip.normalizer_label().map(|l| &**l), Some("strip@1"));
    table(
        &strip,
        &[
            ("  Paris \n", &["Paris"], scored(1.0)),
            ("paris", &["Paris"], scored(0.0)),
            ("Paris.", &["Paris"], scored(0.0)),
            ("Paris  France", &["Paris France"], scored(0.0)),
        ],
    );
    let none = Scorer::from_spec(&EvaluatorSpec::Exact(text(named(NormalizerName::None))));
    table(
        &none,
        &[
            (" Paris", &["Paris"], scored(0.0)),
            ("Paris", &["Paris"], scored(1.0)),
        ],
    );
    let lm = Scorer::from_spec(&EvaluatorSpec::Exact(text(NormalizeSpec::LmEval(
        LmEvalNormalizer {
            lm_eval: LmEvalOptions {
                ignore_case: true,
                ignore_punctuation: true,
                ..Default::default()
            },
        },
    ))));
    assert_eq!(
        lm.normalizer_label().map(|l| &**l),
        Some("lm_eval@1(ignore_case,ignore_punctuation)")
    );
    table(
        &lm,
        &[
            ("The U.S.", &["the us"], scored(1.0)),
            // Articles stay and whitespace is not collapsed.
            ("The U.S.", &["us"], scored(0.0)),
            ("the  us", &["the us"], scored(0.0)),
            (" us", &["us"], scored(0.0)),
        ],
    );
}

#[test]
fn token_f1_golden() {
    let f1 = Scorer::from_spec(&EvaluatorSpec::TokenF1(TextScorer::default()));
    table(
        &f1,
        &[
            // pred {eiffel, tower, paris}, ref {eiffel, tower}: P = 2/3, R = 1.
            ("the Eiffel Tower, Paris", &["Eiffel Tower"], scored(0.8)),
            // The best of several references.
            ("Eiffel Tower", &["Paris", "the Eiffel tower"], scored(1.0)),
            ("", &["x"], scored(0.0)),
            ("x", &[""], scored(0.0)),
            ("the", &["a"], scored(1.0)),
            (
                "state-of-the-art model",
                &["state of the art model"],
                scored(1.0 / 3.0),
            ),
            ("x", &[], Score::Unscored("no_reference")),
        ],
    );
}

#[test]
fn contains_icontains_starts_with_golden() {
    let contains = Scorer::from_spec(&EvaluatorSpec::Contains(TextScorer::default()));
    table(
        &contains,
        &[
            ("It is 4 apples", &["4"], scored(1.0)),
            ("It is 14 apples", &["4"], scored(0.0)),
            (
                "I think it's Paris, France.",
                &["paris france"],
                scored(1.0),
            ),
        ],
    );
    let strip = || text(named(NormalizerName::Strip));
    let c = Scorer::from_spec(&EvaluatorSpec::Contains(strip()));
    let ic = Scorer::from_spec(&EvaluatorSpec::Icontains(strip()));
    let sw = Scorer::from_spec(&EvaluatorSpec::StartsWith(strip()));
    table(
        &c,
        &[
            ("It is PARIS.", &["Paris"], scored(0.0)),
            ("It is Paris.", &["Paris"], scored(1.0)),
        ],
    );
    table(
        &ic,
        &[
            ("It is PARIS.", &["Paris"], scored(1.0)),
            ("Parisian", &["paris"], scored(0.0)),
        ],
    );
    table(
        &sw,
        &[
            ("Paris. It is.", &["Paris"], scored(1.0)),
            ("Parisian", &["Paris"], scored(0.0)),
            ("It is Paris", &["Paris"], scored(0.0)),
            ("  Yes, because", &["Yes"], scored(1.0)),
        ],
    );
}

#[test]
fn regex_scorer_needs_no_reference() {
    let r = Scorer::from_spec(&EvaluatorSpec::Regex(RegexScorer {
        name: None,
        pattern: r"(?i)^\s*(yes|no)\b".into(),
        extract: None,
    }));
    assert_eq!(r.normalizer_label(), None);
    table(
        &r,
        &[
            ("Yes, it is.", &[], scored(1.0)),
            ("Maybe", &["x"], scored(0.0)),
        ],
    );
}

#[test]
fn fuzzy_golden() {
    let fuzzy = |metric: FuzzyMetric, threshold: f64| {
        Scorer::from_spec(&EvaluatorSpec::Fuzzy(FuzzyScorer {
            name: None,
            metric,
            threshold,
            normalize: NormalizeSpec::default(),
            extract: None,
        }))
    };
    for (metric, answer, reference, raw) in [
        (
            FuzzyMetric::Levenshtein,
            "kitten",
            "sitting",
            1.0 - 3.0 / 7.0,
        ),
        (FuzzyMetric::Damerau, "ab", "ba", 0.5),
        (FuzzyMetric::Levenshtein, "ab", "ba", 0.0),
        (FuzzyMetric::SorensenDice, "night", "nacht", 0.25),
        (
            FuzzyMetric::JaroWinkler,
            "martha",
            "marhta",
            0.961_111_111_111_111_1,
        ),
        (FuzzyMetric::Levenshtein, "", "", 1.0),
        // Curly quotes and accents (kept by `squad`), every metric counting characters, not
        // bytes. Expected values computed independently (Python, character-level definitions:
        // Jaro-Winkler with prefix scale 0.1 above 0.7, Levenshtein and unrestricted Damerau
        // over the longer length, Dice over multiset bigrams without whitespace).
        (FuzzyMetric::SorensenDice, "“Paris”", "Paris", 0.8),
        (
            FuzzyMetric::SorensenDice,
            "Café au lait",
            "cafe au lait",
            14.0 / 18.0,
        ),
        (FuzzyMetric::SorensenDice, "naïve", "naive", 0.5),
        (FuzzyMetric::SorensenDice, "Zürich", "zurich", 0.6),
        (
            FuzzyMetric::SorensenDice,
            "crème brûlée",
            "creme brulee",
            0.4,
        ),
        (FuzzyMetric::SorensenDice, "  ", "", 1.0),
        (FuzzyMetric::SorensenDice, "a", "b", 0.0),
        (FuzzyMetric::Levenshtein, "“Paris”", "Paris", 5.0 / 7.0),
        (
            FuzzyMetric::Levenshtein,
            "Café au lait",
            "cafe au lait",
            11.0 / 12.0,
        ),
        (FuzzyMetric::Levenshtein, "naïve", "naive", 0.8),
        (FuzzyMetric::Levenshtein, "Zürich", "zurich", 5.0 / 6.0),
        (FuzzyMetric::Damerau, "“Paris”", "Paris", 5.0 / 7.0),
        (
            FuzzyMetric::Damerau,
            "Café au lait",
            "cafe au lait",
            11.0 / 12.0,
        ),
        (FuzzyMetric::Damerau, "naïve", "naive", 0.8),
        (FuzzyMetric::Damerau, "zürcih", "zürich", 5.0 / 6.0),
        (
            FuzzyMetric::JaroWinkler,
            "“Paris”",
            "Paris",
            0.904_761_904_761_904_8,
        ),
        (
            FuzzyMetric::JaroWinkler,
            "Café au lait",
            "cafe au lait",
            0.961_111_111_111_111,
        ),
        (
            FuzzyMetric::JaroWinkler,
            "naïve",
            "naive",
            0.893_333_333_333_333_3,
        ),
        (FuzzyMetric::JaroWinkler, "Zürich", "zurich", 0.9),
        (
            FuzzyMetric::JaroWinkler,
            "crème brûlée",
            "creme brulee",
            0.837_037_037_037_037,
        ),
    ] {
        match fuzzy(metric, 0.5).score(answer, &refs(&[reference])) {
            Score::Scored {
                value,
                raw: Some(r),
            } => {
                assert!(
                    (r - raw).abs() < 1e-9,
                    "{metric:?} {answer} {reference}: {r}"
                );
                assert_eq!(value, f64::from(u8::from(r >= 0.5)));
            }
            other => panic!("{other:?}"),
        }
    }
    let jw = fuzzy(FuzzyMetric::JaroWinkler, 0.9);
    assert_eq!(
        jw.score("Marlowe", &refs(&["Shakespeare"])),
        Score::Scored {
            value: 0.0,
            raw: Some(strsim::jaro_winkler("marlowe", "shakespeare"))
        }
    );
}

fn numeric(abs: Option<f64>, rel: Option<f64>) -> Scorer {
    Scorer::from_spec(&EvaluatorSpec::Numeric(NumericScorer {
        name: None,
        tolerance: Some(Tolerance { abs, rel }),
        extract: None,
    }))
}

#[test]
fn numeric_golden() {
    let exact = numeric(None, None);
    table(
        &exact,
        &[
            ("42", &["42"], scored(1.0)),
            ("42.0", &["42"], scored(1.0)),
            ("$1,234.50", &["1234.5"], scored(1.0)),
            ("1,234", &["1234"], scored(1.0)),
            ("-3", &["3"], scored(0.0)),
            ("50%", &["50"], scored(1.0)),
            ("7", &["eight", "7"], scored(1.0)),
            ("two", &["2"], Score::Unscored("not_a_number")),
            ("The answer is 4", &["4"], Score::Unscored("not_a_number")),
            ("4", &["four"], Score::Unscored("reference_not_a_number")),
            ("4", &[], Score::Unscored("no_reference")),
        ],
    );
    assert_eq!(
        exact.score("10", &refs(&["12", "10.5"])),
        Score::Scored {
            value: 0.0,
            raw: Some(0.5)
        }
    );
    table(
        &numeric(Some(0.01), None),
        &[
            ("3.14", &["3.14159"], scored(1.0)),
            ("3.1", &["3.14159"], scored(0.0)),
        ],
    );
    table(
        &numeric(None, Some(0.05)),
        &[
            ("104", &["100"], scored(1.0)),
            ("106", &["100"], scored(0.0)),
        ],
    );
    // Either tolerance may accept: |a - r| <= max(abs, rel * |r|).
    table(
        &numeric(Some(1.0), Some(0.001)),
        &[("101", &["100"], scored(1.0))],
    );
}

#[test]
fn json_golden() {
    let valid = Scorer::from_spec(&EvaluatorSpec::JsonValid(BasicScorer::default()));
    table(
        &valid,
        &[
            ("{\"a\": 1}", &[], scored(1.0)),
            ("```json\n[1, 2]\n```", &[], scored(1.0)),
            ("Here: {\"a\": 1}", &[], scored(0.0)),
            ("{'a': 1}", &[], scored(0.0)),
            ("", &[], scored(0.0)),
        ],
    );
    let schema = Scorer::from_spec(&EvaluatorSpec::JsonSchema(JsonSchemaScorer {
        name: None,
        schema: json!({"type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}}),
        extract: None,
    }));
    table(
        &schema,
        &[
            (r#"{"name": "Ada", "age": 36}"#, &[], scored(1.0)),
            (r#"{"name": "Ada", "age": -1}"#, &[], scored(0.0)),
            (r#"{"age": 1}"#, &[], scored(0.0)),
            ("not json", &[], Score::Unscored("invalid_json")),
        ],
    );
}

#[test]
fn rouge_bleu_choice_golden() {
    let rouge = Scorer::from_spec(&EvaluatorSpec::RougeL(BasicScorer::default()));
    assert_eq!(
        rouge.normalizer_label().map(|l| &**l),
        Some("rouge_words@1")
    );
    table(
        &rouge,
        &[
            (
                "The cat sat on the mat.",
                &["the cat was on a mat"],
                scored(4.0 / 6.0),
            ),
            ("the cat", &["dog", "The CAT!"], scored(1.0)),
            ("", &["x"], scored(0.0)),
        ],
    );
    let bleu = Scorer::from_spec(&EvaluatorSpec::Bleu(BasicScorer::default()));
    assert_eq!(bleu.normalizer_label().map(|l| &**l), Some("13a@1"));
    table(
        &bleu,
        &[
            (
                "the cat sat on the mat",
                &["the cat sat on the mat"],
                scored(1.0),
            ),
            ("xyz", &["the cat"], scored(0.0)),
        ],
    );
    let choice = Scorer::from_spec(&EvaluatorSpec::Choice(BasicScorer::default()));
    table(
        &choice,
        &[
            ("B", &["B"], scored(1.0)),
            ("(B)", &["b"], scored(1.0)),
            ("Answer: C", &["B"], scored(0.0)),
            ("the answer is B.", &["(B)"], scored(1.0)),
            ("I am not sure", &["B"], Score::Unscored("no_choice")),
            ("B", &["Paris"], Score::Unscored("reference_not_a_choice")),
        ],
    );
}

#[test]
fn bleu_keeps_its_counts_for_corpus_bleu() {
    // Corpus BLEU sums the counts the sentence scorer computed; they must be those counts.
    let bleu = Scorer::from_spec(&EvaluatorSpec::Bleu(BasicScorer::default()));
    let r = refs(&["the cat sat on the mat", "a cat sat on a mat"]);
    let o = bleu.score_case("the cat sat on a mat", &r);
    let want = BleuStats::new(
        &scorers::tokenize_13a("the cat sat on a mat"),
        &r.iter()
            .map(|x| scorers::tokenize_13a(x))
            .collect::<Vec<_>>(),
    );
    assert_eq!(o.bleu.as_deref(), Some(&want));
    assert_eq!(o.score, scored(want.smoothed_bleu()));
    // The case path (which keeps the counts) and the plain score read the text one way.
    assert_eq!(scorers::bleu_stats("the cat sat on a mat", &r), want);
    assert_eq!(bleu.score("the cat sat on a mat", &r), o.score);
    let pairs = [("the cat sat on a mat", &r[..])];
    assert_eq!(
        stats::corpus_bleu_of(&[want], 4),
        stats::corpus_bleu(&pairs, 4)
    );
    // Other scorers and unscored cases keep nothing.
    assert_eq!(bleu.score_case("x", &[]).bleu, None);
    let exact = Scorer::from_spec(&EvaluatorSpec::Exact(TextScorer::default()));
    assert_eq!(exact.score_case("x", &r).bleu, None);
}

#[test]
fn extraction_stage() {
    let spec = EvaluatorSpec::Numeric(NumericScorer {
        name: Some("math".into()),
        tolerance: None,
        extract: Some(ExtractSpec::LastNumber),
    });
    let s = Scorer::from_spec(&spec);
    assert!(s.has_extraction());
    let r = refs(&["1234.5"]);
    assert_eq!(
        s.score_case("Step 1: 1,000 + 234.5. So the total is $1,234.50.", &r),
        Outcome {
            score: Score::Scored {
                value: 1.0,
                raw: Some(0.0)
            },
            extracted: Some("$1,234.50".into()),
            extraction_failed: Some(false),
            bleu: None,
        }
    );
    // Nothing extracted: unscored with a reason, never 0.
    assert_eq!(
        s.score_case("I cannot compute that.", &r),
        Outcome {
            score: Score::Unscored("extraction_failed"),
            extracted: None,
            extraction_failed: Some(true),
            bleu: None,
        }
    );
    // The last number is read with `parse_number`'s grammar, so these score, not 0.
    for (answer, reference, extracted) in [
        ("The probability is .5", "0.5", ".5"),
        ("It is 2.5e-4", "0.00025", "2.5e-4"),
        ("About 1e6 people", "1000000", "1e6"),
        ("In total 12,345 people", "12345", "12,345"),
    ] {
        let o = s.score_case(answer, &refs(&[reference]));
        assert_eq!(
            o.score,
            Score::Scored {
                value: 1.0,
                raw: Some(0.0)
            },
            "{answer:?}"
        );
        assert_eq!(o.extracted.as_deref(), Some(extracted), "{answer:?}");
    }
    // A malformed comma group is taken as written and is not a number: unscored with the
    // reason, never read as another number (`5`, `6`) and scored 0.
    for (answer, extracted) in [("1,5 litres", "1,5"), ("12,3456", "12,3456")] {
        let o = s.score_case(answer, &refs(&["5", "6", "1.5"]));
        assert_eq!(o.score, Score::Unscored("not_a_number"), "{answer:?}");
        assert_eq!(o.extracted.as_deref(), Some(extracted), "{answer:?}");
        assert_eq!(o.extraction_failed, Some(false));
    }
    // Without extraction the columns are null.
    let plain = Scorer::from_spec(&EvaluatorSpec::Exact(TextScorer::default()));
    assert_eq!(plain.score_case("x", &refs(&["x"])).extraction_failed, None);
    // First and last match policies reach the scorer.
    let regex = |policy| {
        Scorer::from_spec(&EvaluatorSpec::Exact(TextScorer {
            extract: Some(ExtractSpec::Regex(RegexExtract {
                pattern: r"ANSWER: (\w+)".into(),
                group: None,
                match_: policy,
            })),
            ..TextScorer::default()
        }))
    };
    let answer = "ANSWER: Lyon ... wait, ANSWER: Paris";
    assert_eq!(
        regex(MatchPolicy::First)
            .score_case(answer, &refs(&["Paris"]))
            .score,
        scored(0.0)
    );
    assert_eq!(
        regex(MatchPolicy::Last)
            .score_case(answer, &refs(&["Paris"]))
            .score,
        scored(1.0)
    );
    let after = Scorer::from_spec(&EvaluatorSpec::Exact(TextScorer {
        extract: Some(ExtractSpec::After("ANSWER:".into())),
        ..TextScorer::default()
    }));
    let o = after.score_case("Thinking...\nANSWER: The Paris\nDone", &refs(&["paris"]));
    assert_eq!(
        (o.score, o.extracted.as_deref()),
        (scored(1.0), Some("The Paris"))
    );
}

#[test]
fn build_errors_are_located() {
    let bad = EvaluatorSpec::Regex(RegexScorer {
        name: None,
        pattern: "(".into(),
        extract: Some(ExtractSpec::JsonPath("a.b".into())),
    });
    let errors = Scorer::build(&bad, Path::new(".")).unwrap_err();
    let keys: Vec<Vec<String>> = errors.iter().map(|e| e.keys.clone()).collect();
    assert_eq!(
        keys,
        vec![
            vec!["pattern".to_string()],
            vec!["extract".into(), "json_path".into()]
        ]
    );
    let missing = EvaluatorSpec::JsonSchema(JsonSchemaScorer {
        name: None,
        schema: json!("no/such/schema.json"),
        extract: None,
    });
    let errors = Scorer::build(&missing, Path::new(".")).unwrap_err();
    assert!(
        errors[0].message.starts_with("cannot read the schema file"),
        "{errors:?}"
    );
}

#[test]
fn not_finite_measures_are_never_scores() {
    assert_eq!(
        checked(Score::Scored {
            value: f64::NAN,
            raw: None
        }),
        Score::Unscored("not_finite")
    );
    assert_eq!(
        checked(Score::Scored {
            value: 1.0,
            raw: Some(f64::INFINITY)
        }),
        Score::Unscored("not_finite")
    );
    assert_eq!(checked(scored(1.5)), Score::Unscored("not_finite"));
    assert_eq!(checked(scored(0.5)), scored(0.5));
}

#[test]
fn errors_are_not_scores() {
    let exact = Scorer::from_spec(&EvaluatorSpec::Exact(TextScorer::default()));
    let r = refs(&["x"]);
    let out = score_all(
        std::slice::from_ref(&exact),
        &[
            Answer {
                text: "x",
                references: &r,
                error: None,
            },
            Answer {
                text: "",
                references: &r,
                error: Some("timeout"),
            },
        ],
    );
    assert_eq!(out[0][0].score, scored(1.0));
    assert_eq!(out[1][0].score, Score::Error("timeout".into()));
}

fn words() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "a",
        "the",
        "Paris",
        "paris",
        "tower",
        "4",
        "14",
        "x",
        "U.S.",
        "state-of-the-art",
        "’",
        "“x”",
        "",
        "  ",
        "é",
        "1,234",
        "$5",
    ]);
    prop::collection::vec(word, 0..8).prop_map(|w| w.join(" "))
}

fn every_scorer() -> Vec<Scorer> {
    let n = NormalizeSpec::default;
    vec![
        Scorer::from_spec(&EvaluatorSpec::Exact(TextScorer::default())),
        Scorer::from_spec(&EvaluatorSpec::TokenF1(TextScorer::default())),
        Scorer::from_spec(&EvaluatorSpec::Contains(TextScorer::default())),
        Scorer::from_spec(&EvaluatorSpec::Icontains(text(named(
            NormalizerName::Strip,
        )))),
        Scorer::from_spec(&EvaluatorSpec::StartsWith(text(named(
            NormalizerName::None,
        )))),
        Scorer::from_spec(&EvaluatorSpec::Fuzzy(FuzzyScorer {
            name: None,
            metric: FuzzyMetric::Damerau,
            threshold: 0.8,
            normalize: n(),
            extract: None,
        })),
        Scorer::from_spec(&EvaluatorSpec::Fuzzy(FuzzyScorer {
            name: None,
            metric: FuzzyMetric::SorensenDice,
            threshold: 0.8,
            normalize: n(),
            extract: None,
        })),
        Scorer::from_spec(&EvaluatorSpec::Fuzzy(FuzzyScorer {
            name: None,
            metric: FuzzyMetric::JaroWinkler,
            threshold: 0.8,
            normalize: named(NormalizerName::None),
            extract: None,
        })),
        Scorer::from_spec(&EvaluatorSpec::Fuzzy(FuzzyScorer {
            name: None,
            metric: FuzzyMetric::Levenshtein,
            threshold: 0.8,
            normalize: named(NormalizerName::None),
            extract: None,
        })),
        numeric(Some(0.5), Some(0.1)),
        Scorer::from_spec(&EvaluatorSpec::RougeL(BasicScorer::default())),
        Scorer::from_spec(&EvaluatorSpec::Bleu(BasicScorer::default())),
        Scorer::from_spec(&EvaluatorSpec::Choice(BasicScorer::default())),
        Scorer::from_spec(&EvaluatorSpec::JsonValid(BasicScorer::default())),
    ]
}

proptest! {
    #[test]
    fn scores_are_in_unit_interval(a in words(), r1 in words(), r2 in words()) {
        // The raw measure, before `checked` would turn a NaN or out-of-range value into
        // `Unscored("not_finite")` (which would hide it from a test of the final score).
        let r = vec![r1, r2];
        for s in every_scorer() {
            let raw = s.raw_score(&a, &r);
            if let Score::Scored { value, raw: underlying } = raw {
                prop_assert!(
                    value.is_finite() && (0.0..=1.0).contains(&value),
                    "{} {a:?} {r:?}: {value}", s.name
                );
                prop_assert!(underlying.is_none_or(f64::is_finite), "{} {a:?} {r:?}", s.name);
            }
            let score = s.score(&a, &r);
            prop_assert_ne!(&score, &Score::Unscored(reason::NOT_FINITE), "{} {:?} {:?}", s.name, a, r);
            prop_assert_eq!(score, raw, "{}: `checked` changed a valid measure", s.name);
        }
    }

    #[test]
    fn token_f1_is_symmetric_and_exact_implies_one(a in words(), b in words()) {
        let n = Normalizer::Squad;
        let (na, nb) = (n.apply(&a), n.apply(&b));
        let f = scorers::token_f1(&na, &nb);
        prop_assert!((0.0..=1.0).contains(&f));
        prop_assert!((f - scorers::token_f1(&nb, &na)).abs() < 1e-12);
        if na == nb {
            prop_assert_eq!(f, 1.0);
        }
        let exact = Scorer::from_spec(&EvaluatorSpec::Exact(TextScorer::default()));
        let f1 = Scorer::from_spec(&EvaluatorSpec::TokenF1(TextScorer::default()));
        if exact.score(&a, std::slice::from_ref(&b)) == scored(1.0) {
            prop_assert_eq!(f1.score(&a, std::slice::from_ref(&b)), scored(1.0));
        }
    }

    #[test]
    fn rouge_l_is_symmetric(a in words(), b in words()) {
        let (ta, tb) = (scorers::rouge_tokens(&a), scorers::rouge_tokens(&b));
        let f = scorers::rouge_l(&ta, &tb);
        prop_assert!((0.0..=1.0).contains(&f));
        prop_assert!((f - scorers::rouge_l(&tb, &ta)).abs() < 1e-12);
    }

    #[test]
    fn squad_is_idempotent(a in words()) {
        let once = Normalizer::Squad.apply(&a);
        prop_assert_eq!(Normalizer::Squad.apply(&once), once);
    }
}
