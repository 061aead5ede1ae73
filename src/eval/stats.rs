//! Statistics over scores (README, "Score statistics"): means with Student-t intervals,
//! percentile-bootstrap intervals for medians and corpus-level metrics, and the repeat-based
//! estimators pass@k, pass^k, majority vote and flip rate.
//!
//! Only `scored` values enter these numbers; `unscored` and `error` cases are counted apart and
//! never become 0 or 1.

use rayon::prelude::*;

use crate::rng::splitmix64;

/// Mean and the half-width of its 95% Student-t confidence interval (`None` below 2 values
/// for the interval, below 1 for the mean).
pub fn mean_ci95(values: &[f64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (Some(mean), crate::exec::stats::ci95_half_width(values))
}

/// Median (linear interpolation, as every percentile in frontier).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    crate::exec::stats::percentile_sorted(&v, 0.5)
}

/// Resamples of the percentile bootstrap.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;

/// 95% percentile-bootstrap interval `(low, high)` of `statistic` over `items`: `resamples`
/// resamples with replacement drawn from a generator seeded by `seed` (so the interval is
/// reproducible), then the 2.5th and 97.5th percentiles of the resampled statistics. `None`
/// below 2 items or when the statistic is undefined on every resample. The resamples run in
/// parallel on the rayon pool, resample j entering the generator's stream at draw `j * n`
/// (the numbers of drawing them one after another).
pub fn bootstrap_ci95<T: Sync>(
    items: &[T],
    statistic: impl Fn(&[&T]) -> Option<f64> + Sync,
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    let n = items.len();
    if n < 2 {
        return None;
    }
    let mut stats: Vec<f64> = map_resamples(
        n,
        resamples,
        || Vec::with_capacity(n),
        |sample: &mut Vec<&T>, j| {
            let mut state = resample_state(seed, j, n);
            sample.clear();
            for _ in 0..n {
                sample.push(&items[draw_index(&mut state, n)]);
            }
            statistic(sample).filter(|s| s.is_finite())
        },
    )
    .into_iter()
    .flatten()
    .collect();
    stats.sort_by(f64::total_cmp);
    let lo = crate::exec::stats::percentile_sorted(&stats, 0.025)?;
    let hi = crate::exec::stats::percentile_sorted(&stats, 0.975)?;
    Some((lo, hi))
}

/// The generator's state where resample `j` of `n` draws starts: the seed's, advanced by the
/// `j * n` draws before it (splitmix64 only adds a constant per draw).
fn resample_state(seed: u64, j: usize, n: usize) -> u64 {
    (seed ^ 0x5bd1_e995_0000_0001).wrapping_add(
        (j as u64)
            .wrapping_mul(n as u64)
            .wrapping_mul(crate::rng::SPLITMIX64_GAMMA),
    )
}

/// The next draw's index in `0..n` (Lemire's multiply-shift: unbiased enough for n far below
/// 2^32).
fn draw_index(state: &mut u64, n: usize) -> usize {
    ((u128::from(splitmix64(state)) * n as u128) >> 64) as usize
}

/// `f(buffer, j)` for every resample j in order: on the rayon pool when there are at least
/// 2^20 draws in all (a task then draws at least 65,536 items), else on the calling thread,
/// where a small input's resamples take less time than handing them to the pool would.
fn map_resamples<B, R: Send>(
    n: usize,
    resamples: usize,
    init: impl Fn() -> B + Sync + Send,
    f: impl Fn(&mut B, usize) -> R + Sync + Send,
) -> Vec<R> {
    if n.saturating_mul(resamples) < 1 << 20 {
        let mut buffer = init();
        return (0..resamples).map(|j| f(&mut buffer, j)).collect();
    }
    (0..resamples)
        .into_par_iter()
        .with_min_len((65_536 / n.max(1)).max(8))
        .map_init(init, f)
        .collect()
}

/// The same interval as [`bootstrap_ci95`] with the median as the statistic (the same
/// resamples, drawn from the same generator, so the same numbers), in O(n) per resample instead
/// of a sort: the values are sorted once, each resample only counts how often it drew each
/// distinct value (or, with more than 65,536 of them, each sorted position), and the median's
/// one or two order statistics are read off the running sum of those counts. Counting per
/// distinct value through a one- or two-byte label per item keeps each draw's lookups in cache
/// (most scorers give few distinct values: exact match two), which is what the cost per draw
/// is made of once there are a million cases.
pub fn bootstrap_median_ci95(values: &[f64], resamples: usize, seed: u64) -> Option<(f64, f64)> {
    median_ci95_labelled(values, resamples, seed, [1 << 8, 1 << 16])
}

/// [`bootstrap_median_ci95`] with one-byte labels up to `limits[0]` distinct values, two-byte
/// labels up to `limits[1]`, sorted positions beyond (tests lower the limits to compare the
/// three ways).
fn median_ci95_labelled(
    values: &[f64],
    resamples: usize,
    seed: u64,
    limits: [usize; 2],
) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    // rank[i]: position of values[i] in sorted order (ties by index, as a stable sort).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    // Distinct values in order (equal under `total_cmp`, so bit for bit) and each item's.
    let mut distinct: Vec<f64> = Vec::new();
    let mut label = vec![0u32; n];
    for &i in &order {
        if distinct
            .last()
            .is_none_or(|d| d.total_cmp(&values[i]).is_ne())
        {
            distinct.push(values[i]);
        }
        label[i] = (distinct.len() - 1) as u32;
    }
    let resampler = Resampler {
        n,
        resamples,
        seed,
        values: &distinct,
    };
    let stats = if distinct.len() <= limits[0].min(1 << 8) {
        let label: Vec<u8> = label.iter().map(|&l| l as u8).collect();
        resampler.medians::<_, 4>(&label)
    } else if distinct.len() <= limits[1].min(1 << 16) {
        let label: Vec<u16> = label.iter().map(|&l| l as u16).collect();
        resampler.medians::<_, 1>(&label)
    } else {
        // Many distinct values: count per sorted position (ties are then separate positions
        // holding the same value, which reads the same order statistics).
        let sorted: Vec<f64> = order.iter().map(|&i| values[i]).collect();
        for (pos, &i) in order.iter().enumerate() {
            label[i] = pos as u32;
        }
        Resampler {
            values: &sorted,
            ..resampler
        }
        .medians::<_, 1>(&label)
    };
    let mut stats = stats?;
    stats.sort_by(f64::total_cmp);
    let lo = crate::exec::stats::percentile_sorted(&stats, 0.025)?;
    let hi = crate::exec::stats::percentile_sorted(&stats, 0.975)?;
    Some((lo, hi))
}

/// The resampling of [`bootstrap_median_ci95`] over items labelled by the index of their
/// value in `values` (sorted).
struct Resampler<'a> {
    n: usize,
    resamples: usize,
    seed: u64,
    values: &'a [f64],
}

impl Resampler<'_> {
    /// The median of every resample (finite ones), or `None` if an order statistic is missing.
    /// Resamples run in parallel on the rayon pool: the generator only adds a constant per
    /// draw, so resample j starts from the seed's state advanced by `j * n` draws, the state
    /// it would have reached drawing them one after another (same draws, same numbers).
    /// Within a resample, draw j is counted in lane `j % LANES`, the lanes summed after: with
    /// few distinct values most draws add to the same counter, and one counter per lane lets
    /// consecutive draws' additions overlap instead of each waiting on the last.
    fn medians<L, const LANES: usize>(&self, label: &[L]) -> Option<Vec<f64>>
    where
        L: Copy + Into<u32> + Sync,
    {
        let n = self.n;
        // The median's order statistics, as `percentile_sorted(_, 0.5)` interpolates them.
        let h = (n - 1) as f64 * 0.5;
        let lo_k = h.floor() as usize;
        let hi_k = (lo_k + 1).min(n - 1);
        let frac = h - lo_k as f64;
        let m = self.values.len();
        let draw = |state: &mut u64| label[draw_index(state, n)].into() as usize;
        let median_of = |j: usize, (lanes, counts): &mut (Vec<u32>, Vec<u32>)| {
            let mut state = resample_state(self.seed, j, n);
            lanes.iter_mut().for_each(|c| *c = 0);
            for _ in 0..n / LANES {
                for lane in 0..LANES {
                    lanes[lane * m + draw(&mut state)] += 1;
                }
            }
            for lane in 0..n % LANES {
                lanes[lane * m + draw(&mut state)] += 1;
            }
            for (v, c) in counts.iter_mut().enumerate() {
                *c = (0..LANES).map(|lane| lanes[lane * m + v]).sum();
            }
            // The k-th smallest drawn value (0-based) for k = lo_k and hi_k.
            let (mut lo_v, mut hi_v) = (None, None);
            let mut seen = 0usize;
            for (v, &c) in counts.iter().enumerate() {
                seen += c as usize;
                if lo_v.is_none() && seen > lo_k {
                    lo_v = Some(self.values[v]);
                }
                if seen > hi_k {
                    hi_v = Some(self.values[v]);
                    break;
                }
            }
            Some(lo_v? + frac * (hi_v? - lo_v?))
        };
        let medians: Option<Vec<f64>> = map_resamples(
            n,
            self.resamples,
            || (vec![0u32; m * LANES], vec![0u32; m]),
            |bufs, j| median_of(j, bufs),
        )
        .into_iter()
        .collect();
        Some(medians?.into_iter().filter(|m| m.is_finite()).collect())
    }
}

/// Unbiased pass@k (Chen et al. 2021): the probability that at least one of k repeats drawn
/// without replacement from `n`, of which `c` passed, passes: `1 - C(n-c, k) / C(n, k)`,
/// computed as a product to stay exact for large n. `None` when `k > n` or `k == 0`.
pub fn pass_at_k(n: u64, c: u64, k: u64) -> Option<f64> {
    if k == 0 || k > n || c > n {
        return None;
    }
    if n - c < k {
        return Some(1.0);
    }
    let mut fail = 1.0;
    for i in (n - c + 1)..=n {
        fail *= 1.0 - k as f64 / i as f64;
    }
    Some(1.0 - fail)
}

/// Unbiased pass^k (Yao et al. 2024, tau-bench): the probability that all of k repeats drawn
/// without replacement pass: `C(c, k) / C(n, k)`. `None` when `k > n` or `k == 0`.
pub fn pass_hat_k(n: u64, c: u64, k: u64) -> Option<f64> {
    if k == 0 || k > n || c > n {
        return None;
    }
    if c < k {
        return Some(0.0);
    }
    let mut p = 1.0;
    for i in 0..k {
        p *= (c - i) as f64 / (n - i) as f64;
    }
    Some(p)
}

/// Majority vote over one case's repeats: the score of the most frequent answer (`key`: the
/// extracted or normalised answer); ties go to the lowest score among the tied answers.
/// Sorting the repeats by answer keeps this O(k log k) in the number of repeats.
pub fn majority<K: Ord>(repeats: impl IntoIterator<Item = (K, f64)>) -> Option<f64> {
    let mut sorted: Vec<(K, f64)> = repeats.into_iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    // (count, lowest score) of the most frequent answers so far.
    let mut best: Option<(usize, f64)> = None;
    for run in sorted.chunk_by(|a, b| a.0 == b.0) {
        let low = run.iter().map(|r| r.1).min_by(f64::total_cmp)?;
        best = match best {
            Some((n, s)) if n > run.len() || (n == run.len() && s.total_cmp(&low).is_le()) => {
                Some((n, s))
            }
            _ => Some((run.len(), low)),
        };
    }
    best.map(|(_, s)| s)
}

/// Whether one case's repeats disagree: some passed (score >= 0.5) and some did not. `None`
/// with fewer than 2 scored repeats.
pub fn flipped(scores: &[f64]) -> Option<bool> {
    if scores.len() < 2 {
        return None;
    }
    let passed = scores.iter().filter(|&&s| s >= 0.5).count();
    Some(passed != 0 && passed != scores.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binom(n: u64, k: u64) -> f64 {
        if k > n {
            return 0.0;
        }
        (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
    }

    #[test]
    fn pass_at_k_matches_the_binomial_formula() {
        for n in 1..=12u64 {
            for c in 0..=n {
                for k in 1..=n {
                    let want = 1.0 - binom(n - c, k) / binom(n, k);
                    let got = pass_at_k(n, c, k).unwrap();
                    assert!(
                        (got - want).abs() < 1e-12,
                        "n={n} c={c} k={k}: {got} vs {want}"
                    );
                    let want_hat = binom(c, k) / binom(n, k);
                    let got_hat = pass_hat_k(n, c, k).unwrap();
                    assert!(
                        (got_hat - want_hat).abs() < 1e-12,
                        "pass^k n={n} c={c} k={k}"
                    );
                }
            }
        }
        assert!(
            (pass_at_k(5, 2, 1).unwrap() - 0.4).abs() < 1e-12,
            "pass@1 is the pass rate"
        );
        assert_eq!(pass_at_k(3, 1, 4), None);
        assert_eq!(pass_hat_k(3, 3, 3), Some(1.0));
    }

    #[test]
    fn majority_and_flips() {
        assert_eq!(majority([("4", 1.0), ("5", 0.0), ("4", 1.0)]), Some(1.0));
        assert_eq!(
            majority([("4", 1.0), ("5", 0.0)]),
            Some(0.0),
            "a tie is not a pass"
        );
        assert_eq!(majority(std::iter::empty::<(&str, f64)>()), None);
        assert_eq!(flipped(&[1.0, 1.0, 1.0]), Some(false));
        assert_eq!(flipped(&[1.0, 0.0, 1.0]), Some(true));
        assert_eq!(flipped(&[0.0]), None);
    }

    #[test]
    fn bootstrap_interval_covers_the_median_and_is_reproducible() {
        let values: Vec<f64> = (0..101).map(f64::from).collect();
        let stat = |s: &[&f64]| median(&s.iter().map(|v| **v).collect::<Vec<_>>());
        let (lo, hi) = bootstrap_ci95(&values, stat, BOOTSTRAP_RESAMPLES, 7).unwrap();
        assert!(lo < 50.0 && 50.0 < hi, "({lo}, {hi})");
        assert!(hi - lo < 40.0, "({lo}, {hi})");
        assert_eq!(
            bootstrap_ci95(&values, stat, BOOTSTRAP_RESAMPLES, 7),
            Some((lo, hi))
        );
        assert_eq!(bootstrap_ci95(&values[..1], stat, 100, 7), None);
    }

    #[test]
    fn mean_interval() {
        let (m, h) = mean_ci95(&[1.0, 0.0, 1.0, 1.0]);
        assert_eq!(m, Some(0.75));
        // t(3) = 3.182, sd = 0.5, se = 0.25.
        assert!((h.unwrap() - 3.182 * 0.25).abs() < 1e-9);
        assert_eq!(mean_ci95(&[]), (None, None));
        assert_eq!(mean_ci95(&[1.0]), (Some(1.0), None));
    }
}

/// Corpus BLEU-4 of several answers (each with its references): n-gram counts summed over the
/// answers, then the same formula as sentence BLEU (add-one smoothing of the 2- to 4-gram
/// precisions, brevity penalty on the summed lengths), with a 95% percentile-bootstrap
/// interval over the answers (seeded). `None` without answers. Tokenises and counts every
/// answer; after scoring, use [`corpus_bleu_of`] with the counts the `bleu` scorer kept.
pub fn corpus_bleu(cases: &[(&str, &[String])], seed: u64) -> Option<(f64, Option<(f64, f64)>)> {
    let stats: Vec<crate::eval::BleuStats> = cases
        .iter()
        .map(|(answer, refs)| crate::eval::scorers::bleu_stats(answer, refs))
        .collect();
    corpus_bleu_of(&stats, seed)
}

/// Corpus BLEU-4 and its bootstrap interval from per-answer counts (as [`corpus_bleu`]).
pub fn corpus_bleu_of(
    stats: &[crate::eval::BleuStats],
    seed: u64,
) -> Option<(f64, Option<(f64, f64)>)> {
    use crate::eval::scorers::BleuStats;
    if stats.is_empty() {
        return None;
    }
    let total = |items: &[&BleuStats]| {
        let mut t = BleuStats::default();
        for s in items {
            t.add(s);
        }
        Some(t.smoothed_bleu())
    };
    let all: Vec<&BleuStats> = stats.iter().collect();
    let value = total(&all)?;
    let ci = bootstrap_ci95(stats, total, BOOTSTRAP_RESAMPLES, seed);
    Some((value, ci))
}

/// One case's score as the statistics see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CaseScore {
    /// Scored, in [0, 1].
    Scored(f64),
    /// Not scorable (no reference, extraction failed, no grade...).
    Unscored,
    /// The case (or its judge) failed.
    Error,
}

/// One scorer's statistics over one trial stage's measured cases (a `score_stats` row).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScoreSummary {
    /// Cases per status.
    pub scored: i64,
    /// Unscored cases.
    pub unscored: i64,
    /// Error cases.
    pub errors: i64,
    /// Mean of the scored values.
    pub mean: Option<f64>,
    /// 95% Student-t interval of the mean.
    pub mean_ci95: Option<(f64, f64)>,
    /// Median of the scored values.
    pub median: Option<f64>,
    /// 95% percentile-bootstrap interval of the median.
    pub median_ci95: Option<(f64, f64)>,
    /// Repeats per case (`grid.repeats`): the k of pass@k and pass^k.
    pub k: i64,
    /// Mean over cases of the unbiased pass@k (pass: score >= 0.5), over cases with at least
    /// k scored repeats.
    pub pass_at_k: Option<f64>,
    /// Mean over cases of the unbiased pass^k.
    pub pass_hat_k: Option<f64>,
    /// Mean over cases of the majority-vote score (most frequent answer's score).
    pub majority: Option<f64>,
    /// Share of cases with at least 2 scored repeats whose repeats disagree.
    pub flip_rate: Option<f64>,
}

/// Summarise `cases`: `(case key, answer key, score)` of every measured execution, where the
/// case key groups the repeats of one dataset row and the answer key is what majority votes
/// compare (the extracted or normalised answer, or a hash of it). `seed` seeds the bootstrap.
pub fn summarise_scores<C, A>(cases: &[(C, A, CaseScore)], k: u32, seed: u64) -> ScoreSummary
where
    C: Copy + Eq + std::hash::Hash,
    A: Copy + Ord,
{
    let mut s = ScoreSummary {
        k: i64::from(k),
        ..Default::default()
    };
    let mut values = Vec::new();
    for (_, _, score) in cases {
        match score {
            CaseScore::Scored(v) => {
                s.scored += 1;
                values.push(*v);
            }
            CaseScore::Unscored => s.unscored += 1,
            CaseScore::Error => s.errors += 1,
        }
    }
    let (mean, half) = mean_ci95(&values);
    s.mean = mean;
    s.mean_ci95 = mean.zip(half).map(|(m, h)| (m - h, m + h));
    s.median = median(&values);
    s.median_ci95 = bootstrap_median_ci95(&values, BOOTSTRAP_RESAMPLES, seed);
    // Per case (dataset row): its scored repeats, rows in order of first appearance (a hash
    // map from the row to its group keeps this linear in the number of cases).
    let mut groups: Vec<(C, Vec<(A, f64)>)> = Vec::new();
    let mut group_of: std::collections::HashMap<C, usize> = std::collections::HashMap::new();
    for &(case, answer, score) in cases {
        if let CaseScore::Scored(v) = score {
            let g = *group_of.entry(case).or_insert_with(|| {
                groups.push((case, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push((answer, v));
        }
    }
    let mean_of = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let k64 = u64::from(k.max(1));
    let passes = |g: &[(A, f64)]| g.iter().filter(|(_, v)| *v >= 0.5).count() as u64;
    s.pass_at_k = mean_of(
        groups
            .iter()
            .filter_map(|(_, g)| pass_at_k(g.len() as u64, passes(g), k64))
            .collect(),
    );
    s.pass_hat_k = mean_of(
        groups
            .iter()
            .filter_map(|(_, g)| pass_hat_k(g.len() as u64, passes(g), k64))
            .collect(),
    );
    s.majority = mean_of(
        groups
            .iter()
            .filter_map(|(_, g)| majority(g.iter().copied()))
            .collect(),
    );
    let flips: Vec<f64> = groups
        .iter()
        .filter_map(|(_, g)| flipped(&g.iter().map(|(_, v)| *v).collect::<Vec<_>>()))
        .map(|f| f64::from(u8::from(f)))
        .collect();
    s.flip_rate = mean_of(flips);
    s
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    #[test]
    fn corpus_bleu_sums_counts_before_the_formula() {
        use crate::eval::scorers::{BleuStats, tokenize_13a};
        let r1 = ["the cat sat on the mat".to_string()];
        let r2 = ["a dog ran in the park today".to_string()];
        let cases = [
            ("the cat sat on a mat", &r1[..]),
            ("a dog ran in a park", &r2[..]),
        ];
        let (value, ci) = corpus_bleu(&cases, 9).unwrap();
        let mut t = BleuStats::new(&tokenize_13a(cases[0].0), &[tokenize_13a(&r1[0])]);
        t.add(&BleuStats::new(
            &tokenize_13a(cases[1].0),
            &[tokenize_13a(&r2[0])],
        ));
        assert!((value - t.smoothed_bleu()).abs() < 1e-12);
        let (lo, hi) = ci.unwrap();
        assert!(
            lo <= value + 1e-12 && value <= hi + 1e-12,
            "{lo} {value} {hi}"
        );
        let same = [("the cat sat on the mat", &r1[..])];
        assert!((corpus_bleu(&same, 1).unwrap().0 - 1.0).abs() < 1e-12);
        assert_eq!(corpus_bleu(&[], 1), None);
    }

    #[test]
    fn repeats_give_pass_at_k_majority_and_flips() {
        use CaseScore::*;
        // Row a: 3 repeats, 2 pass; row b: 3 repeats, none passes; row c: unscored once and
        // an error once (never 0 or 1).
        let cases = [
            ("a", "4", Scored(1.0)),
            ("a", "4", Scored(1.0)),
            ("a", "5", Scored(0.0)),
            ("b", "x", Scored(0.0)),
            ("b", "y", Scored(0.0)),
            ("b", "y", Scored(0.0)),
            ("c", "", Unscored),
            ("c", "", Error),
        ];
        let s = summarise_scores(&cases, 3, 1);
        assert_eq!((s.scored, s.unscored, s.errors), (6, 1, 1));
        assert!((s.mean.unwrap() - 2.0 / 6.0).abs() < 1e-12);
        let (lo, hi) = s.mean_ci95.unwrap();
        assert!(lo < s.mean.unwrap() && s.mean.unwrap() < hi);
        // pass@3: a passes for sure (1.0), b never (0.0).
        assert_eq!(s.pass_at_k, Some(0.5));
        // pass^3: a needs all 3 to pass (0.0), b (0.0).
        assert_eq!(s.pass_hat_k, Some(0.0));
        // Majority: a's most frequent answer "4" passes, b's "y" fails.
        assert_eq!(s.majority, Some(0.5));
        // a flips, b does not.
        assert_eq!(s.flip_rate, Some(0.5));
        assert_eq!(s.k, 3);
    }

    #[test]
    fn the_linear_median_bootstrap_gives_the_sorting_bootstrap_numbers() {
        let median_of = |v: &[&f64]| median(&v.iter().map(|x| **x).collect::<Vec<_>>());
        let mut state = 11u64;
        for n in [2usize, 3, 4, 7, 10, 51, 200, 400] {
            for distinct in [2u64, 5, 1000] {
                let values: Vec<f64> = (0..n)
                    .map(|_| (splitmix64(&mut state) % distinct) as f64 / distinct as f64)
                    .collect();
                for seed in [1u64, 99] {
                    let want = bootstrap_ci95(&values, median_of, 200, seed);
                    assert_eq!(
                        bootstrap_median_ci95(&values, 200, seed),
                        want,
                        "n={n} distinct={distinct} seed={seed}"
                    );
                    // Two-byte labels, and sorted positions: the same numbers.
                    for limits in [[0, 1 << 16], [0, 0]] {
                        assert_eq!(
                            median_ci95_labelled(&values, 200, seed, limits),
                            want,
                            "n={n} distinct={distinct} seed={seed} limits={limits:?}"
                        );
                    }
                }
            }
        }
        assert_eq!(bootstrap_median_ci95(&[1.0], 100, 1), None);
    }

    #[test]
    fn parallel_resamples_give_the_numbers_of_drawing_one_after_another() {
        // Enough draws (1,100 x 1,000) for the rayon path; the reference draws every resample
        // from one generator in turn and sorts it. 250 levels (one-byte labels) and values
        // all distinct (two-byte labels, sorted positions): fine enough that another
        // resampling would move the interval.
        let (n, resamples, seed) = (1_100usize, 1_000usize, 42u64);
        assert!(n * resamples >= 1 << 20);
        for levels in [250u64, u64::MAX] {
            let mut state = 3u64;
            let values: Vec<f64> = (0..n)
                .map(|_| (splitmix64(&mut state) % levels) as f64 / levels as f64)
                .collect();
            let mut state = seed ^ 0x5bd1_e995_0000_0001;
            let mut medians: Vec<f64> = (0..resamples)
                .map(|_| {
                    let sample: Vec<f64> = (0..n)
                        .map(|_| {
                            let r = splitmix64(&mut state);
                            values[((u128::from(r) * n as u128) >> 64) as usize]
                        })
                        .collect();
                    median(&sample).unwrap()
                })
                .collect();
            medians.sort_by(f64::total_cmp);
            let want = Some((
                crate::exec::stats::percentile_sorted(&medians, 0.025).unwrap(),
                crate::exec::stats::percentile_sorted(&medians, 0.975).unwrap(),
            ));
            let median_of = |v: &[&f64]| median(&v.iter().map(|x| **x).collect::<Vec<_>>());
            assert_eq!(bootstrap_ci95(&values, median_of, resamples, seed), want);
            for limits in [[1 << 8, 1 << 16], [0, 1 << 16], [0, 0]] {
                assert_eq!(
                    median_ci95_labelled(&values, resamples, seed, limits),
                    want,
                    "levels {levels} limits {limits:?}"
                );
            }
            // With every value distinct, another seed gives another interval: the comparison
            // can fail.
            if levels == u64::MAX {
                assert_ne!(bootstrap_median_ci95(&values, resamples, seed + 1), want);
            }
        }
    }

    #[test]
    fn repeats_of_many_rows_far_apart_are_grouped_by_row() {
        // 50,000 rows with 2 repeats each, interleaved (row i's repeats are 50,000 cases
        // apart); every row passes once and fails once, so only a grouping by row gives
        // these numbers. This checks the results, not the time: a pairwise search for each
        // case's row took minutes at this size, which shows only as a slow test.
        let rows: Vec<String> = (0..50_000).map(|i| format!("r{i}")).collect();
        let mut cases = Vec::new();
        for pass in [1.0, 0.0] {
            for r in &rows {
                cases.push((
                    r.as_str(),
                    if pass == 1.0 { "y" } else { "n" },
                    CaseScore::Scored(pass),
                ));
            }
        }
        let s = summarise_scores(&cases, 2, 3);
        assert_eq!(s.scored, 100_000);
        assert_eq!(s.pass_at_k, Some(1.0));
        assert_eq!(s.pass_hat_k, Some(0.0));
        assert_eq!(s.flip_rate, Some(1.0));
        // A tie between the two answers goes to the lower score.
        assert_eq!(s.majority, Some(0.0));
        assert_eq!(s.median, Some(0.5));
    }

    #[test]
    fn no_scores_no_numbers() {
        let s = summarise_scores(&[("a", "", CaseScore::Unscored)], 1, 1);
        assert_eq!(s.mean, None);
        assert_eq!(s.pass_at_k, None);
        assert_eq!(s.flip_rate, None);
        assert_eq!(s.unscored, 1);
    }
}
