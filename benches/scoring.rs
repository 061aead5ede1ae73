//! Scoring throughput: EM + token F1 (both with the `squad` normaliser) over short answers.
//! One "pair" is one answer scored by both scorers against one reference. Target: at least
//! 1,000,000 pairs/s on a 2-core machine (README, "Benchmarks").
//!
//! The `score_stats` step after a trial is measured too (`summarise/*`): `summarise_scores`
//! over 100,000 cases (all distinct rows, and 25,000 rows of 4 repeats) and corpus BLEU over 16
//! answers of 3,000 tokens from the n-gram counts the `bleu` scorer kept (`corpus_bleu_of`, as
//! a run does; the answers are not tokenised again). Beside it, `bleu_counts_*` is the
//! per-answer cost a run pays when scoring (13a tokens and n-gram counts, `bleu_stats`). These
//! must stay near-linear in the case count and answer length.
//!
//! `cargo bench --bench scoring` (criterion prints time per iteration and elements/s).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use frontier::eval::scorers::bleu_stats;
use frontier::eval::stats::{CaseScore, corpus_bleu_of, summarise_scores};
use frontier::eval::{Answer, Scorer, score_all};
use frontier::spec::{EvaluatorSpec, TextScorer};

/// Short answers and references in the style of SQuAD / TriviaQA answers.
fn pairs(n: usize) -> Vec<(String, Vec<String>)> {
    let answers = [
        "The Eiffel Tower",
        "Paris, France",
        "in 1889",
        "Gustave Eiffel's company",
        "about 330 metres",
        "the U.S.",
        "state-of-the-art",
        "Mars",
        "eight legs",
        "William Shakespeare",
        "It is the capital of France.",
        "Blue whale",
    ];
    let references = [
        "Eiffel Tower",
        "Paris",
        "1889",
        "Gustave Eiffel",
        "330 m",
        "United States",
        "state of the art",
        "Mars",
        "8",
        "Shakespeare",
        "Paris",
        "the blue whale",
    ];
    (0..n)
        .map(|i| {
            (
                answers[i % answers.len()].to_string(),
                vec![references[(i * 7) % references.len()].to_string()],
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let scorers = vec![
        Scorer::from_spec(&EvaluatorSpec::Exact(TextScorer::default())),
        Scorer::from_spec(&EvaluatorSpec::TokenF1(TextScorer::default())),
    ];
    let data = pairs(100_000);
    let answers: Vec<Answer<'_>> = data
        .iter()
        .map(|(a, r)| Answer {
            text: a,
            references: r,
            error: None,
        })
        .collect();
    let mut group = c.benchmark_group("scoring");
    group.sample_size(20);
    group.throughput(Throughput::Elements(answers.len() as u64));
    // The production path: rayon over every core, outcomes collected per case.
    group.bench_function("em_f1_pairs_rayon", |b| {
        b.iter(|| black_box(score_all(&scorers, black_box(&answers))))
    });
    // One core, no collection: the cost of the scorers themselves.
    group.bench_function("em_f1_pairs_one_core", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for a in &answers {
                for s in &scorers {
                    if let frontier::eval::Score::Scored { value, .. } =
                        s.score(black_box(a.text), a.references)
                    {
                        sum += value;
                    }
                }
            }
            black_box(sum)
        })
    });
    group.finish();
}

/// `n` measured cases over `n / repeats` dataset rows, with exact-match-like 0/1 scores and a
/// few unscored and failed cases, as `summarise_scores` receives them.
fn summary_cases(n: usize, repeats: usize) -> Vec<(String, String, CaseScore)> {
    (0..n)
        .map(|i| {
            let row = i / repeats;
            let score = match i % 97 {
                0 => CaseScore::Unscored,
                1 => CaseScore::Error,
                m => CaseScore::Scored(f64::from(u8::from(m % 3 != 0))),
            };
            (format!("r{row:06}"), format!("{}", (i * 7) % 5), score)
        })
        .collect()
}

/// Answers of `tokens` words from a vocabulary of 1,000 (so most 2- to 4-grams are distinct,
/// as in long generated text), each with a reference that shares about half of its words.
fn long_answers(count: usize, tokens: usize) -> Vec<(String, Vec<String>)> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        // xorshift64: a fixed, dependency-free word sequence.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let answer: Vec<String> = (0..tokens).map(|_| format!("w{}", next() % 1000)).collect();
            let reference: Vec<String> = answer
                .iter()
                .map(|w| {
                    if next() % 2 == 0 {
                        w.clone()
                    } else {
                        format!("w{}", next() % 1000)
                    }
                })
                .collect();
            (answer.join(" "), vec![reference.join(" ")])
        })
        .collect()
}

fn bench_summarise(c: &mut Criterion) {
    let mut group = c.benchmark_group("summarise");
    group.sample_size(10);
    for (name, repeats) in [
        ("100k_cases_distinct_rows", 1),
        ("100k_cases_25k_rows_x4", 4),
    ] {
        let owned = summary_cases(100_000, repeats);
        let cases: Vec<(&str, &str, CaseScore)> = owned
            .iter()
            .map(|(row, answer, score)| (row.as_str(), answer.as_str(), *score))
            .collect();
        group.throughput(Throughput::Elements(cases.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| black_box(summarise_scores(black_box(&cases), repeats as u32, 7)))
        });
    }
    let owned = long_answers(16, 3_000);
    group.throughput(Throughput::Elements(owned.len() as u64));
    // Scoring: each answer's counts, as the `bleu` scorer computes and keeps them.
    group.bench_function("bleu_counts_16_answers_3000_tokens", |b| {
        b.iter(|| {
            for (answer, references) in black_box(&owned) {
                black_box(bleu_stats(answer, references));
            }
        })
    });
    // The summary: corpus BLEU and its bootstrap from the kept counts, as `score_stats` does.
    let counts: Vec<_> = owned.iter().map(|(a, r)| bleu_stats(a, r)).collect();
    group.bench_function("corpus_bleu_16_answers_3000_tokens", |b| {
        b.iter(|| black_box(corpus_bleu_of(black_box(&counts), 7)))
    });
    group.finish();
}

criterion_group!(benches, bench, bench_summarise);
criterion_main!(benches);
