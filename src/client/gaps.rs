//! Inter-token (`itl`) and inter-chunk (`icl`) latency of one request, from the arrival times
//! of its token-bearing chunks and the tokens each carried (README, "Metrics").
//!
//! - Inter-chunk gaps: `t[i] - t[i-1]` between successive token-bearing chunks (role-only,
//!   empty, finish-only and usage-only chunks are not in the list). This is what vLLM's
//!   benchmark calls ITL.
//! - Inter-token gaps: a chunk that advances the token count by `k` contributes `k` gaps of
//!   `(t[i] - t[i-1]) / k`; the first chunk's extra `k - 1` tokens arrived with the first
//!   token and contribute `k - 1` gaps of 0. So a request of `N` tokens has `N - 1` token gaps
//!   summing to `last_token - first_token`, and their mean is its TPOT when the token counts
//!   come from the server (`chunk_tokens_basis = usage`).
//!
//! Computed once per request when it ends (never per chunk on the I/O path).

/// Per-token gaps as runs `(gap_ns, count)`: `count` tokens each `gap_ns` after the previous.
pub fn token_gaps<'a>(
    chunk_ns: &'a [i64],
    chunk_tokens: &'a [u32],
) -> impl Iterator<Item = (f64, u32)> + 'a {
    let first = chunk_tokens
        .first()
        .map(|&k| (0.0, k.saturating_sub(1)))
        .filter(|&(_, n)| n > 0);
    let rest = chunk_ns
        .windows(2)
        .zip(chunk_tokens.iter().skip(1))
        .map(|(w, &k)| {
            let k = k.max(1);
            ((w[1] - w[0]) as f64 / f64::from(k), k)
        });
    first.into_iter().chain(rest)
}

/// Gaps between successive token-bearing chunks, ns.
pub fn chunk_gaps(chunk_ns: &[i64]) -> impl Iterator<Item = i64> + '_ {
    chunk_ns.windows(2).map(|w| w[1] - w[0])
}

/// Linear-interpolation percentile (`p` in [0, 1], NumPy's default) of the multiset that
/// repeats each value of `runs` (sorted by value) `count` times, without expanding it.
pub fn run_percentile(runs: &[(f64, u32)], p: f64) -> Option<f64> {
    let total: u64 = runs.iter().map(|&(_, n)| u64::from(n)).sum();
    if total == 0 {
        return None;
    }
    let h = (total - 1) as f64 * p;
    let lo = h.floor() as u64;
    let hi = (lo + 1).min(total - 1);
    let at = |index: u64| {
        let mut seen = 0u64;
        for &(v, n) in runs {
            seen += u64::from(n);
            if index < seen {
                return v;
            }
        }
        runs.last().map_or(f64::NAN, |r| r.0)
    };
    let (a, b) = (at(lo), at(hi));
    Some(a + (h - lo as f64) * (b - a))
}

/// A request's gap statistics (ms), for `requests.parquet`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GapSummary {
    /// Median per-token gap.
    pub itl_p50_ms: Option<f64>,
    /// 99th-percentile per-token gap.
    pub itl_p99_ms: Option<f64>,
    /// Median chunk gap.
    pub icl_p50_ms: Option<f64>,
    /// Largest chunk gap (the longest stall in the stream).
    pub icl_max_ms: Option<f64>,
}

/// One request's gaps, computed once when it ends and used both for its own summary and for
/// its trial's histograms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gaps {
    /// Per-token gaps as runs `(gap_ns, count)`, sorted by gap.
    pub runs: Vec<(f64, u32)>,
    /// Chunk gaps in ns, sorted.
    pub chunks: Vec<f64>,
}

impl Gaps {
    /// The gaps of one request's token-bearing chunks.
    pub fn new(chunk_ns: &[i64], chunk_tokens: &[u32]) -> Gaps {
        let mut runs: Vec<(f64, u32)> = token_gaps(chunk_ns, chunk_tokens).collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut chunks: Vec<f64> = chunk_gaps(chunk_ns).map(|g| g as f64).collect();
        chunks.sort_by(f64::total_cmp);
        Gaps { runs, chunks }
    }

    /// The request's gap statistics.
    pub fn summary(&self) -> GapSummary {
        let ms = |v: Option<f64>| v.map(|ns| ns / 1e6);
        GapSummary {
            itl_p50_ms: ms(run_percentile(&self.runs, 0.50)),
            itl_p99_ms: ms(run_percentile(&self.runs, 0.99)),
            icl_p50_ms: ms(crate::exec::stats::percentile_sorted(&self.chunks, 0.50)),
            icl_max_ms: ms(self.chunks.last().copied()),
        }
    }
}

/// Summarise one request's chunks.
pub fn summarise(chunk_ns: &[i64], chunk_tokens: &[u32]) -> GapSummary {
    Gaps::new(chunk_ns, chunk_tokens).summary()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_token_chunks_spread_their_gap() {
        // Chunks at 0, 10, 40 ms carrying 2, 1, 3 tokens: 6 tokens, 5 token gaps.
        let ns = [0, 10_000_000, 40_000_000];
        let k = [2, 1, 3];
        let runs: Vec<(f64, u32)> = token_gaps(&ns, &k).collect();
        assert_eq!(runs, vec![(0.0, 1), (10e6, 1), (10e6, 3)]);
        let sum: f64 = runs.iter().map(|&(g, n)| g * f64::from(n)).sum();
        assert_eq!(sum, 40e6, "token gaps sum to last - first");
        assert_eq!(runs.iter().map(|r| r.1).sum::<u32>(), 5);
        let s = summarise(&ns, &k);
        assert_eq!(s.itl_p50_ms, Some(10.0));
        assert_eq!(s.icl_p50_ms, Some(20.0));
        assert_eq!(s.icl_max_ms, Some(30.0));
    }

    #[test]
    fn run_percentile_matches_the_expanded_list() {
        let runs = [(1.0, 3), (2.0, 1), (5.0, 2)];
        let expanded = [1.0, 1.0, 1.0, 2.0, 5.0, 5.0];
        for p in [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0] {
            assert_eq!(
                run_percentile(&runs, p),
                crate::exec::stats::percentile_sorted(&expanded, p),
                "p={p}"
            );
        }
        assert_eq!(run_percentile(&[], 0.5), None);
        assert_eq!(run_percentile(&[(3.0, 0)], 0.5), None);
    }

    #[test]
    fn single_chunk_has_no_chunk_gap() {
        let s = summarise(&[5], &[1]);
        assert_eq!(s.itl_p50_ms, None);
        assert_eq!(s.icl_max_ms, None);
        // A whole response in one chunk: its tokens arrived together.
        let s = summarise(&[5], &[4]);
        assert_eq!(s.itl_p50_ms, Some(0.0));
        assert_eq!(s.icl_p50_ms, None);
    }
}
