//! Prompts built to exact lengths for a real tokenizer (`tokenizer:` on synthetic datasets and
//! traces), with the small Hugging Face `tokenizer.json` fixtures of tests/fixtures/ (made by
//! `regenerate_fixtures` below; see tests/fixtures/README.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use frontier::plan::synthetic::TokenCounter;
use frontier::plan::tokenizer::HfTokenizer;
use frontier::plan::{Plan, Row};
use serde_json::Map;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const TOKENIZERS: [&str; 3] = [
    "tokenizer-bpe.json",
    "tokenizer-wordpiece.json",
    "tokenizer-unigram.json",
];

fn tokenizer(name: &str) -> HfTokenizer {
    HfTokenizer::load(Path::new(FIXTURES), name).unwrap()
}

/// A fresh folder for pipelines written by one test.
fn scratch(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("frontier-tokenizer-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn plan(path: &Path, overrides: &[&str]) -> Plan {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded =
        frontier::spec::load::load(path, &overrides).unwrap_or_else(|e| panic!("{}", e.render()));
    frontier::plan::build(&loaded).unwrap_or_else(|e| panic!("{}", e.render()))
}

/// A synthetic pipeline in `dir` whose dataset uses `tokenizer` (absent: `None`).
fn synthetic_pipeline(dir: &Path, tokenizer: Option<&str>, extra: &str) -> PathBuf {
    let tokenizer = tokenizer
        .map(|t| format!("      tokenizer: {FIXTURES}/{t}\n"))
        .unwrap_or_default();
    let text = format!(
        "version: 1
name: tok
endpoints:
  sim: {{ kind: simulated }}
datasets:
  synth:
    synthetic:
      count: 40
      input_tokens: {{ uniform: {{ min: 1, max: 300 }} }}
      output_tokens: {{ fixed: 8 }}
{extra}{tokenizer}workload:
  arrival: {{ concurrency: 2 }}
  requests: 40
  seed: 5
flow:
  - id: generate
    llm:
      endpoint: sim
      messages:
        - {{ role: system, content: \"{{{{ item.prefix }}}}\" }}
        - {{ role: user, content: \"{{{{ item.input }}}}\" }}
"
    );
    let path = dir.join("synthetic.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn tokens(row: &Row, key: &str) -> usize {
    row.item[key].as_u64().unwrap() as usize
}

#[test]
fn synthetic_inputs_count_exactly_the_drawn_lengths() {
    let dir = scratch("synthetic");
    // Lengths are drawn from their own stream: the same with and without a tokenizer.
    let sim = plan(&synthetic_pipeline(&dir, None, ""), &[]);
    for name in TOKENIZERS {
        let t = tokenizer(name);
        let p = plan(&synthetic_pipeline(&dir, Some(name), ""), &[]);
        assert_eq!(p.dataset.inexact_rows, 0, "{name}");
        assert_eq!(
            p.dataset.tokenizer.as_ref().unwrap().file(),
            format!("{FIXTURES}/{name}")
        );
        assert_eq!(p.dataset.rows.len(), 40);
        for (row, drawn) in p.dataset.rows.iter().zip(&sim.dataset.rows) {
            let n = tokens(drawn, "input_tokens");
            assert_eq!(
                t.count_text(&row.input),
                n,
                "{name}: row {}: {}",
                row.id,
                row.input
            );
            assert_eq!(tokens(row, "input_tokens"), n);
            assert_eq!(row.output_tokens, Some(8));
            assert_eq!(row.item["prefix"], "");
        }
        // The BPE fixture splits rare words: the texts differ from the simulated ones.
        if name == "tokenizer-bpe.json" {
            assert!(
                p.dataset
                    .rows
                    .iter()
                    .zip(&sim.dataset.rows)
                    .any(|(a, b)| a.input != b.input)
            );
        }
    }
}

#[test]
fn one_token_prefixes_of_many_groups_are_exact_and_distinct() {
    let dir = scratch("groups");
    for name in TOKENIZERS {
        // As many groups as the tokenizer has one-token words (16 for BPE, capped at the 40
        // rows): each group's prefix is one of them. With two tokens, 40 groups.
        let singles = tokenizer(name).single_token_words().len();
        let groups = singles.min(40);
        assert!(groups >= 16, "{name}: {singles}");
        let extra = format!("      prefix: {{ groups: {groups}, tokens: 1 }}\n");
        let p = plan(&synthetic_pipeline(&dir, Some(name), &extra), &[]);
        assert_eq!(p.dataset.inexact_rows, 0, "{name}: {groups} groups");
        let two = plan(
            &synthetic_pipeline(
                &dir,
                Some(name),
                "      prefix: { groups: 40, tokens: 2 }\n",
            ),
            &[],
        );
        assert_eq!(two.dataset.inexact_rows, 0, "{name}: 40 groups of 2 tokens");
        let distinct: std::collections::HashSet<&str> = two
            .dataset
            .rows
            .iter()
            .map(|r| r.item["prefix"].as_str().unwrap())
            .collect();
        assert_eq!(distinct.len(), 40, "{name}");
        let t = tokenizer(name);
        let prefixes: std::collections::HashSet<&str> = p
            .dataset
            .rows
            .iter()
            .map(|r| r.item["prefix"].as_str().unwrap())
            .collect();
        assert_eq!(prefixes.len(), groups, "{name}");
        for prefix in prefixes {
            assert_eq!(t.count_text(prefix), 1, "{name}: {prefix}");
        }
    }
}

#[test]
fn prefixes_and_nonces_count_exactly() {
    let dir = scratch("prefix");
    let extra = "      prefix: { groups: 3, tokens: 64 }\n      nonce: true\n";
    for name in TOKENIZERS {
        let t = tokenizer(name);
        let path = synthetic_pipeline(&dir, Some(name), extra);
        let p = plan(&path, &[]);
        assert_eq!(p.dataset.inexact_rows, 0, "{name}");
        let trial = &p.trials[0];
        for (i, row) in p.dataset.rows.iter().enumerate() {
            let prefix = row.item["prefix"].as_str().unwrap();
            assert_eq!(t.count_text(prefix), 64, "{name}: {prefix}");
            assert_eq!(tokens(row, "prefix_tokens"), 64);
            assert_eq!(
                prefix,
                p.dataset.rows[i % 3].item["prefix"].as_str().unwrap()
            );
            let n = tokens(row, "input_tokens");
            assert_eq!(t.count_text(&row.input), n, "{name}");
            // Every execution's nonce keeps the count.
            for index in [i as u64, 1000 + i as u64, 77_777] {
                let ctx = p.context(row, trial, index, 0, &Map::new());
                let input = ctx["item"]["input"].as_str().unwrap();
                assert_eq!(t.count_text(input), n, "{name}: execution {index}: {input}");
                let nonce = ctx["case"]["nonce"].as_str().unwrap();
                let k = n.min(8);
                let first: Vec<&str> = input.split(' ').take(k).collect();
                let nonce_words: Vec<&str> = nonce.split(' ').take(k).collect();
                assert_eq!(first, nonce_words);
            }
        }
        // Deterministic by seed; another seed gives other texts.
        let again = plan(&path, &[]);
        assert_eq!(again.dataset.rows, p.dataset.rows);
        let other = plan(&path, &["workload.seed=6"]);
        assert_ne!(other.dataset.rows, p.dataset.rows);
        let ctx = |p: &Plan| p.context(&p.dataset.rows[0], &p.trials[0], 3, 0, &Map::new());
        assert_eq!(ctx(&again)["case"]["nonce"], ctx(&p)["case"]["nonce"]);
    }
}

#[test]
fn trace_prompts_count_exactly() {
    let dir = scratch("trace");
    std::fs::write(
        dir.join("trace.jsonl"),
        "{\"timestamp\": 0, \"input_length\": 120, \"output_length\": 4, \"hash_ids\": [1, 2]}\n\
         {\"timestamp\": 5, \"input_length\": 117, \"output_length\": 4, \"hash_ids\": [1, 2, 3]}\n\
         {\"timestamp\": 9, \"input_length\": 1, \"output_length\": 4}\n\
         {\"timestamp\": 9, \"input_length\": 513, \"output_length\": 4, \"hash_ids\": [9]}\n\
         {\"timestamp\": 12, \"prompt\": \"the sea and the sky\", \"output_length\": 4}\n",
    )
    .unwrap();
    for name in TOKENIZERS {
        let t = tokenizer(name);
        let path = dir.join("trace.yaml");
        std::fs::write(
            &path,
            format!(
                "version: 1
name: trace
endpoints:
  sim: {{ kind: simulated }}
workload:
  arrival:
    trace:
      path: trace.jsonl
      hash_ids_field: hash_ids
      content_field: prompt
      block_tokens: 16
      tokenizer: {FIXTURES}/{name}
  seed: 3
flow:
  - id: generate
    llm: {{ endpoint: sim, prompt: \"{{{{ item.input }}}}\" }}
"
            ),
        )
        .unwrap();
        let p = plan(&path, &[]);
        let rows = &p.dataset.rows;
        assert_eq!(p.dataset.inexact_rows, 0, "{name}");
        assert!(p.dataset.tokenizer.is_some());
        for (row, n) in rows.iter().zip([120, 117, 1, 513]) {
            assert_eq!(t.count_text(&row.input), n, "{name}: {}", row.input);
            assert_eq!(tokens(row, "input_tokens"), n);
        }
        // Text without a recorded length is counted with the tokenizer.
        assert_eq!(rows[4].input, "the sea and the sky");
        assert_eq!(
            tokens(&rows[4], "input_tokens"),
            t.count_text("the sea and the sky")
        );
        // Records sharing block ids share their leading words (two blocks of 16 words).
        let words = |i: usize| {
            rows[i]
                .input
                .split(' ')
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(words(0)[..32], words(1)[..32], "{name}");
        assert_ne!(words(0)[..16], words(3)[..16], "{name}");
        assert_eq!(plan(&path, &[]).dataset.rows, *rows);
    }
}

#[test]
fn plan_command_says_lengths_are_exact() {
    let out = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["plan", "examples/synthetic-tokenizer.yaml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "prompt lengths: exact under tokenizer ../tests/fixtures/tokenizer-bpe.json (without special tokens)"
        ),
        "{stdout}"
    );
}

#[test]
fn schema_has_the_tokenizer_keys() {
    let schema = frontier::spec::schema::pipeline_schema();
    let defs = &schema["$defs"];
    for def in ["SyntheticSpec", "TraceSpec"] {
        let tokenizer = &defs[def]["properties"]["tokenizer"];
        assert!(
            tokenizer["description"]
                .as_str()
                .unwrap()
                .contains("tokenizer.json"),
            "{def}: {tokenizer}"
        );
    }
}

/// Regenerates the fixtures: `cargo test --test tokenizer -- --ignored regenerate_fixtures`.
/// Each is trained by the `tokenizers` crate on a fixed corpus of the synthetic vocabulary's
/// words with Zipf-like frequencies, so frequent words become single tokens and rare ones stay
/// split (the fitting has work to do), with the post-processor a model of that family has (so
/// special tokens are there to be left out of counts).
#[test]
#[ignore]
fn regenerate_fixtures() {
    use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
    use tokenizers::models::TrainerWrapper;
    use tokenizers::models::bpe::{BPE, BpeTrainer};
    use tokenizers::models::unigram::{Unigram, UnigramTrainer};
    use tokenizers::models::wordpiece::{WordPiece, WordPieceTrainer};
    use tokenizers::normalizers::bert::BertNormalizer;
    use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
    use tokenizers::processors::bert::BertProcessing;
    use tokenizers::processors::template::TemplateProcessing;
    use tokenizers::{AddedToken, Tokenizer};

    let corpus = corpus();
    let special = |names: &[&str]| -> Vec<AddedToken> {
        names
            .iter()
            .map(|n| AddedToken::from(n.to_string(), true))
            .collect()
    };
    let save = |t: &Tokenizer, name: &str| {
        t.save(Path::new(FIXTURES).join(name), true).unwrap();
    };

    // GPT-2 / Llama 3 style: byte-level BPE, no prefix space (a text's first word is another
    // token than the same word after a space), `<s>` added in front.
    let mut bpe = Tokenizer::new(BPE::default());
    bpe.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    bpe.with_decoder(Some(ByteLevel::default()));
    let mut trainer: TrainerWrapper = BpeTrainer::builder()
        .vocab_size(258 + 220)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(special(&["<s>", "</s>"]))
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build()
        .into();
    bpe.train(&mut trainer, corpus.iter()).unwrap();
    let bos = bpe.token_to_id("<s>").unwrap();
    bpe.with_post_processor(Some(
        TemplateProcessing::builder()
            .try_single("<s> $A")
            .unwrap()
            .special_tokens(vec![("<s>", bos)])
            .build()
            .unwrap(),
    ));
    save(&bpe, "tokenizer-bpe.json");

    // BERT style: lowercasing normalizer, WordPiece with `##` pieces, `[CLS] .. [SEP]`.
    let mut wordpiece = Tokenizer::new(WordPiece::default());
    wordpiece
        .with_normalizer(Some(BertNormalizer::default()))
        .unwrap();
    wordpiece.with_pre_tokenizer(Some(BertPreTokenizer));
    wordpiece.with_decoder(Some(WordPieceDecoder::default()));
    let mut trainer: TrainerWrapper = WordPieceTrainer::builder()
        .vocab_size(130)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(special(&["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
        .build()
        .into();
    wordpiece.train(&mut trainer, corpus.iter()).unwrap();
    let id = |t: &Tokenizer, s: &str| (s.to_string(), t.token_to_id(s).unwrap());
    let (sep, cls) = (id(&wordpiece, "[SEP]"), id(&wordpiece, "[CLS]"));
    wordpiece.with_post_processor(Some(BertProcessing::new(sep, cls)));
    save(&wordpiece, "tokenizer-wordpiece.json");

    // T5 / SentencePiece style: Metaspace (`▁`) and a Unigram model, `</s>` appended.
    let mut unigram = Tokenizer::new(Unigram::default());
    unigram.with_pre_tokenizer(Some(Metaspace::new('▁', PrependScheme::Always, true)));
    unigram.with_decoder(Some(Metaspace::new('▁', PrependScheme::Always, true)));
    let mut trainer: TrainerWrapper = UnigramTrainer::builder()
        .vocab_size(120)
        .show_progress(false)
        .special_tokens(special(&["<unk>", "</s>"]))
        .unk_token(Some("<unk>".into()))
        .build()
        .unwrap()
        .into();
    unigram.train(&mut trainer, corpus.iter()).unwrap();
    let eos = unigram.token_to_id("</s>").unwrap();
    unigram.with_post_processor(Some(
        TemplateProcessing::builder()
            .try_single("$A </s>")
            .unwrap()
            .special_tokens(vec![("</s>", eos)])
            .build()
            .unwrap(),
    ));
    save(&unigram, "tokenizer-unigram.json");
}

/// 4,000 sentences of 12 vocabulary words, word `i` of the vocabulary drawn with weight
/// `1 / (i + 1)`, from a fixed linear congruential generator.
fn corpus() -> Vec<String> {
    let vocab = frontier::plan::synthetic::VOCAB;
    let weights: Vec<f64> = (0..vocab.len()).map(|i| 1.0 / (i as f64 + 1.0)).collect();
    let total: f64 = weights.iter().sum();
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..4000)
        .map(|_| {
            let words: Vec<&str> = (0..12)
                .map(|_| {
                    let mut u = next() * total;
                    let mut i = 0;
                    while i + 1 < vocab.len() && u >= weights[i] {
                        u -= weights[i];
                        i += 1;
                    }
                    vocab[i]
                })
                .collect();
            // Punctuation after some words: SentencePiece-style trainers seed their pieces
            // from substrings that occur in more than one distinct word (`sea` in `sea.`).
            format!("{}, {}.", words[..6].join(" "), words[6..].join(" "))
        })
        .collect()
}

#[test]
fn fixtures_are_small() {
    for name in TOKENIZERS {
        let len = std::fs::metadata(Path::new(FIXTURES).join(name))
            .unwrap()
            .len();
        assert!(len < 200_000, "{name}: {len} bytes");
    }
}

#[test]
fn answers_are_counted_with_the_endpoint_tokenizer() {
    // The client count (`requests.client_tokens`) is the endpoint's tokenizer applied to the
    // answer, stored beside the server's usage with the difference.
    let dir = scratch("client-count");
    let p = dir.join("p.yaml");
    std::fs::write(
        &p,
        format!(
            r#"
version: 1
name: client-count
endpoints:
  sim:
    kind: simulated
    tokenizer: {FIXTURES}/tokenizer-bpe.json
    profile: {{ decode_ms: 0, prefill_tok_s: 0, default_output_tokens: 7 }}
datasets:
  qa: {{ path: {root}/datasets/qa-mini.jsonl, input: question }}
workload:
  arrival: {{ concurrency: 2 }}
  requests: 6
flow:
  - id: answer
    llm: {{ endpoint: sim, prompt: "{{{{ item.question }}}}", params: {{ max_tokens: 7 }} }}
"#,
            root = env!("CARGO_MANIFEST_DIR"),
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = walk(&out)
        .into_iter()
        .find(|f| f.ends_with("requests.parquet"))
        .expect("requests.parquet");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(file).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let bpe = tokenizer("tokenizer-bpe.json");
    let mut rows = 0;
    for batch in reader {
        let b = batch.unwrap();
        use arrow_array::Array;
        use arrow_array::cast::AsArray;
        use arrow_array::types::Int64Type;
        let text = b.column_by_name("output_text").unwrap().as_string::<i32>();
        let client = b
            .column_by_name("client_tokens")
            .unwrap()
            .as_primitive::<Int64Type>();
        let usage = b
            .column_by_name("completion_tokens")
            .unwrap()
            .as_primitive::<Int64Type>();
        let diff = b
            .column_by_name("client_token_discrepancy")
            .unwrap()
            .as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            assert!(!client.is_null(i));
            assert_eq!(client.value(i) as usize, bpe.count_text(text.value(i)));
            assert_eq!(diff.value(i), client.value(i) - usage.value(i));
            rows += 1;
        }
    }
    assert_eq!(rows, 6);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
