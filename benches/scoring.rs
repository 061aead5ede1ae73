//! Scoring throughput: EM + token F1 (both with the `squad` normaliser) over short answers.
//! One "pair" is one answer scored by both scorers against one reference. Target: at least
//! 1,000,000 pairs/s on a 2-core machine (README, "Benchmarks").
//!
//! `cargo bench --bench scoring` (criterion prints time per iteration and elements/s).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
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

criterion_group!(benches, bench);
criterion_main!(benches);
