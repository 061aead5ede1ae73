//! Per-trial summaries (`configs.parquet`) from the compact per-request metrics a trial keeps.
//! Definitions: README "Metrics"; percentiles are exact over stored samples with linear
//! interpolation (NumPy's default).

use std::collections::BTreeMap;

use crate::eval::stats::CaseScore;
use crate::exec::scoring::Kept;
use crate::plan::{Plan, Trial};
use crate::spec::{EndpointSpec, PricingSpec};
use crate::store::ConfigRow;

/// Which part of a trial an execution belongs to. Only `Measure` enters statistics and scores;
/// the others are stored with their phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    /// Before the measured window (`warmup`, `warmup_duration`).
    Warmup,
    /// Measured.
    #[default]
    Measure,
    /// After the measured window (`cooldown`, `cooldown_duration`).
    Cooldown,
}

impl Phase {
    /// The name stored in the `phase` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Warmup => "warmup",
            Phase::Measure => "measure",
            Phase::Cooldown => "cooldown",
        }
    }
}

/// What a trial keeps per request: a few raw timestamps and counts (80 bytes), not the record,
/// so that memory stays small in run length. Metrics are derived on demand with the same
/// arithmetic as the `requests.parquet` columns, so summaries match the stored rows exactly.
#[derive(Clone, Copy, Debug)]
pub struct RequestMetrics {
    /// Scheduled send, ns.
    pub intended_ns: i64,
    dispatched: i64,
    acquired: i64,
    sent: i64,
    first_token: i64,
    last_token: i64,
    end: i64,
    cost: f64,
    prompt: i32,
    completion: i32,
    /// Stage of the arrival process.
    pub stage: u16,
    /// Index of the step (for per-endpoint pricing).
    pub step: u16,
    /// Phase; only `Measure` enters the statistics.
    pub phase: Phase,
    /// Success.
    pub ok: bool,
    /// Succeeded and met every SLO (null: an objective could not be evaluated).
    pub slo_met: Option<bool>,
}

const NONE: i64 = i64::MIN;

fn pack(v: Option<i64>) -> i64 {
    v.unwrap_or(NONE)
}

fn unpack(v: i64) -> Option<i64> {
    (v != NONE).then_some(v)
}

fn pack_tokens(v: Option<i64>) -> i32 {
    v.map_or(-1, |t| t.clamp(0, i64::from(i32::MAX)) as i32)
}

fn ms(a: i64, b: i64) -> Option<f64> {
    (a != NONE && b != NONE).then(|| (a - b) as f64 / 1e6)
}

impl RequestMetrics {
    /// From a request's row and its scheduling times.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        row: &crate::store::RequestRow,
        phase: Phase,
        stage: usize,
        step: usize,
        dispatched_ns: Option<i64>,
        acquired_ns: Option<i64>,
    ) -> Self {
        RequestMetrics {
            intended_ns: row.intended_ns,
            dispatched: pack(dispatched_ns),
            acquired: pack(acquired_ns),
            sent: pack(row.sent_ns),
            first_token: pack(row.first_token_ns),
            last_token: pack(row.last_token_ns),
            end: pack(row.end_ns),
            cost: row.cost_usd.unwrap_or(f64::NAN),
            prompt: pack_tokens(row.prompt_tokens),
            completion: pack_tokens(row.completion_tokens),
            stage: stage.min(usize::from(u16::MAX)) as u16,
            step: step.min(usize::from(u16::MAX)) as u16,
            phase,
            ok: row.ok(),
            slo_met: row.slo_met,
        }
    }

    /// Whether the request was sent (a template that failed on its row sends nothing).
    pub fn was_sent(&self) -> bool {
        self.sent != NONE
    }
    /// When the case started running (first step only), ns.
    pub fn dispatched_ns(&self) -> Option<i64> {
        unpack(self.dispatched)
    }
    /// Stream end (or failure), ns.
    pub fn end_ns(&self) -> Option<i64> {
        unpack(self.end)
    }
    /// Dispatch minus intended, ms (first step only).
    pub fn schedule_lag_ms(&self) -> Option<f64> {
        ms(self.dispatched, self.intended_ns)
    }
    /// Waiting for a place under `max_concurrency`, ms.
    pub fn cap_wait_ms(&self) -> Option<f64> {
        ms(self.acquired, self.dispatched)
    }
    /// TTFT (successful requests only).
    pub fn ttft_ms(&self) -> Option<f64> {
        ms(self.first_token, self.sent).filter(|_| self.ok)
    }
    /// E2E (successful requests only).
    pub fn e2e_ms(&self) -> Option<f64> {
        ms(self.last_token, self.sent).filter(|_| self.ok)
    }
    /// Lateness: sent - intended.
    pub fn queue_ms(&self) -> Option<f64> {
        ms(self.sent, self.intended_ns)
    }
    /// TPOT (successful requests only), as `RequestRow::tpot_ms`.
    pub fn tpot_ms(&self) -> Option<f64> {
        let n = i64::from(self.completion);
        if !self.ok || n <= 1 {
            return None;
        }
        Some(ms(self.last_token, self.first_token)? / (n - 1) as f64)
    }
    /// Server prompt tokens.
    pub fn prompt_tokens(&self) -> Option<i64> {
        (self.prompt >= 0).then(|| i64::from(self.prompt))
    }
    /// Server completion tokens.
    pub fn completion_tokens(&self) -> Option<i64> {
        (self.completion >= 0).then(|| i64::from(self.completion))
    }
    /// Token-priced cost.
    pub fn cost_usd(&self) -> Option<f64> {
        (!self.cost.is_nan()).then_some(self.cost)
    }
}

/// Per-token and per-chunk gaps of one stage's measured successful requests, kept as HDR
/// histograms (3 significant digits: a relative error of at most 0.1%) so that memory does not
/// grow with the number of tokens; means are exact.
#[derive(Clone, Debug)]
pub struct TokenStats {
    itl: hdrhistogram::Histogram<u64>,
    itl_sum_ns: f64,
    icl: hdrhistogram::Histogram<u64>,
    icl_sum_ns: f64,
    /// Every per-token gap as `(gap_ns, count)` runs, while there are at most [`EXACT_GAPS`]
    /// entries: percentiles are then exact; past it only the histograms are kept.
    itl_exact: Option<Vec<(f64, u32)>>,
    /// Every chunk gap (ns), under the same cap.
    icl_exact: Option<Vec<f64>>,
    /// Token-bearing chunks.
    pub token_chunks: i64,
    /// Requests per chunk-token basis: usage, chunks, mixed.
    pub basis: [u64; 3],
}

impl Default for TokenStats {
    fn default() -> Self {
        let hist = || hdrhistogram::Histogram::new(3).expect("3 significant digits are valid");
        TokenStats {
            itl: hist(),
            itl_sum_ns: 0.0,
            icl: hist(),
            icl_sum_ns: 0.0,
            itl_exact: Some(Vec::new()),
            icl_exact: Some(Vec::new()),
            token_chunks: 0,
            basis: [0; 3],
        }
    }
}

impl TokenStats {
    /// Add one successful request's chunks.
    pub fn record(
        &mut self,
        gaps: &crate::client::gaps::Gaps,
        token_chunks: usize,
        basis: Option<&str>,
    ) {
        for &(gap, n) in &gaps.runs {
            let _ = self.itl.record_n(gap.max(0.0).round() as u64, u64::from(n));
            self.itl_sum_ns += gap * f64::from(n);
        }
        for &gap in &gaps.chunks {
            let _ = self.icl.record(gap.max(0.0) as u64);
            self.icl_sum_ns += gap;
        }
        keep_exact(&mut self.itl_exact, &gaps.runs);
        keep_exact(&mut self.icl_exact, &gaps.chunks);
        self.token_chunks += token_chunks as i64;
        match basis {
            Some("usage") => self.basis[0] += 1,
            Some("chunks") => self.basis[1] += 1,
            Some(_) => self.basis[2] += 1,
            None => {}
        }
    }

    /// Sort the exact gaps, once, before the percentiles are read.
    pub fn sort_exact(&mut self) {
        if let Some(runs) = &mut self.itl_exact {
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        if let Some(gaps) = &mut self.icl_exact {
            gaps.sort_by(f64::total_cmp);
        }
    }

    /// Per-token gap percentiles (ms) for `qs`: exact with linear interpolation while every
    /// gap is kept (sorted by [`TokenStats::sort_exact`]), else from the histogram (the
    /// nearest rank, within 0.1%).
    fn itl_ms(&self, qs: &[f64]) -> Vec<Option<f64>> {
        match &self.itl_exact {
            Some(runs) => {
                debug_assert!(runs.is_sorted_by(|a, b| a.0 <= b.0), "sort_exact first");
                qs.iter()
                    .map(|&q| crate::client::gaps::run_percentile(runs, q).map(|v| v / 1e6))
                    .collect()
            }
            None => qs.iter().map(|&q| hist_ms(&self.itl, q)).collect(),
        }
    }

    /// Chunk gap percentiles (ms) for `qs`, as [`TokenStats::itl_ms`].
    fn icl_ms(&self, qs: &[f64]) -> Vec<Option<f64>> {
        match &self.icl_exact {
            Some(gaps) => {
                debug_assert!(gaps.is_sorted(), "sort_exact first");
                qs.iter()
                    .map(|&q| percentile_sorted(gaps, q).map(|v| v / 1e6))
                    .collect()
            }
            None => qs.iter().map(|&q| hist_ms(&self.icl, q)).collect(),
        }
    }

    /// The stage's basis: `usage` or `chunks` when every request agrees, else `mixed`.
    pub fn basis(&self) -> Option<&'static str> {
        match self.basis {
            [0, 0, 0] => None,
            [_, 0, 0] => Some("usage"),
            [0, _, 0] => Some("chunks"),
            _ => Some("mixed"),
        }
    }
}

/// Gap entries (token-gap runs, or chunk gaps) a stage keeps for exact percentiles: 16 MB of
/// runs at most; a stage with more falls back to its histogram.
pub const EXACT_GAPS: usize = 1_000_000;

/// Append `new` to the exact samples, or drop them all once they would pass [`EXACT_GAPS`].
fn keep_exact<T: Copy>(exact: &mut Option<Vec<T>>, new: &[T]) {
    if let Some(v) = exact {
        if v.len() + new.len() > EXACT_GAPS {
            *exact = None;
        } else {
            v.extend_from_slice(new);
        }
    }
}

/// A histogram's `q` quantile in ms (`None` when empty).
fn hist_ms(h: &hdrhistogram::Histogram<u64>, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1e6)
}

/// How one stage of a trial ran.
#[derive(Clone, Debug)]
pub struct StageRun {
    /// Stage index.
    pub stage: usize,
    /// Its load.
    pub load: crate::plan::Load,
    /// Why scheduling ended: `requests`, `duration`, `max_errors`, `max_error_rate` or
    /// `interrupted`.
    pub stop_reason: &'static str,
    /// Process CPU time during the stage (user + system), seconds.
    pub cpu_s: Option<f64>,
    /// Stage wall time including draining in-flight cases, seconds.
    pub wall_s: f64,
    /// Cases released by the schedule but never sent (the trial stopped while they waited
    /// for a place under `max_concurrency`).
    pub not_sent: u64,
}

/// Linear-interpolation percentile of sorted samples (`p` in [0, 1]).
pub fn percentile_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

fn mean(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        None
    } else {
        Some(v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// Two-sided 97.5% quantile of Student's t with `df` degrees of freedom.
pub fn t975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    if df == 0 {
        return f64::NAN;
    }
    if df <= 30 {
        return TABLE[df - 1];
    }
    // Cornish-Fisher expansion around the normal quantile.
    let z: f64 = 1.959_963_984_540_054;
    let d = df as f64;
    z + (z.powi(3) + z) / (4.0 * d)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
}

/// Half-width of the 95% Student-t confidence interval of the mean (null below 2 samples).
pub fn ci95_half_width(v: &[f64]) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    let m = mean(v)?;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
    Some(t975(v.len() - 1) * (var / v.len() as f64).sqrt())
}

/// Everything needed to summarise one trial.
pub struct TrialResults<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// The trial.
    pub trial: &'a Trial,
    /// The stage to summarise.
    pub stage: &'a StageRun,
    /// Per-request metrics of the whole trial (every phase and stage, flagged).
    pub requests: &'a [RequestMetrics],
    /// Measured cases of the stage.
    pub cases: u64,
    /// Scores `[case][scorer]` of the stage's measured cases.
    pub scores: &'a [&'a [Kept]],
    /// Token and chunk gaps of the stage's measured successful requests.
    pub tokens: &'a TokenStats,
    /// LLM-judge calls made for the stage's cases (None: no judge).
    pub judges: Option<&'a crate::exec::judge::JudgeUsage>,
}

/// Build one stage's `configs` row.
pub fn summarise(r: &TrialResults<'_>) -> ConfigRow {
    let stage = r.stage.stage as u16;
    let in_stage = || r.requests.iter().filter(move |m| m.stage == stage);
    let measured: Vec<&RequestMetrics> = in_stage().filter(|m| m.phase == Phase::Measure).collect();
    let n = measured.len() as i64;
    let ok = measured.iter().filter(|m| m.ok).count() as i64;
    let collect = |f: fn(&RequestMetrics) -> Option<f64>| {
        let mut v: Vec<f64> = measured
            .iter()
            .filter(|m| m.ok)
            .filter_map(|m| f(m))
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let ttft = collect(|m| m.ttft_ms());
    let tpot = collect(|m| m.tpot_ms());
    let e2e = collect(|m| m.e2e_ms());
    let mut queue: Vec<f64> = measured.iter().filter_map(|m| m.queue_ms()).collect();
    queue.sort_by(f64::total_cmp);

    let window_s = {
        let start = measured.iter().map(|m| m.intended_ns).min();
        let end = measured.iter().filter_map(|m| m.end_ns()).max();
        match (start, end) {
            (Some(s), Some(e)) if e > s => Some((e - s) as f64 / 1e9),
            _ => None,
        }
    };
    let per_s = |count: f64| window_s.map(|w| count / w);
    // Token totals are only stated when every successful request reported usage.
    let sum_tokens = |f: fn(&RequestMetrics) -> Option<i64>| -> Option<i64> {
        let mut total = 0i64;
        for m in measured.iter().filter(|m| m.ok) {
            total += f(m)?;
        }
        Some(total)
    };
    let input_tokens = sum_tokens(|m| m.prompt_tokens());
    let output_tokens = sum_tokens(|m| m.completion_tokens());
    let good = measured
        .iter()
        .filter(|m| m.ok && m.slo_met == Some(true))
        .count() as f64;
    // A successful request whose objectives could not be evaluated makes goodput unknown.
    let slo_known = measured.iter().all(|m| m.slo_met.is_some());

    // Cost: per-token prices per request, GPU-hour prices per endpoint over the window.
    let mut cost: Option<f64> = Some(0.0);
    let mut bases: Vec<&'static str> = Vec::new();
    let mut gpu_endpoints: Vec<&str> = Vec::new();
    for (i, step) in r.trial.steps.iter().enumerate() {
        let pricing = match &step.endpoint_spec {
            EndpointSpec::Openai(o) => o.pricing.as_ref(),
            EndpointSpec::Simulated(s) => s.pricing.as_ref(),
        };
        match pricing {
            None => cost = None,
            Some(PricingSpec::Tokens(_)) => {
                bases.push("tokens");
                for m in measured.iter().filter(|m| usize::from(m.step) == i) {
                    match (m.cost_usd(), m.ok) {
                        (Some(c), _) => cost = cost.map(|t| t + c),
                        // A failed request without usage cost nothing we can know of; a
                        // successful one without usage makes the total unknown.
                        (None, false) => {}
                        (None, true) => cost = None,
                    }
                }
            }
            Some(PricingSpec::GpuHour(g)) => {
                bases.push("gpu_hour");
                if !gpu_endpoints.contains(&step.endpoint.as_str()) {
                    gpu_endpoints.push(&step.endpoint);
                    cost = match (cost, window_s) {
                        (Some(t), Some(w)) => {
                            Some(t + g.gpu_hour_usd * f64::from(g.gpus) * w / 3600.0)
                        }
                        _ => None,
                    };
                }
            }
        }
    }
    bases.dedup();
    let cost_basis = match (cost.is_some(), bases.as_slice()) {
        (false, _) | (true, []) => None,
        (true, [one]) => Some(*one),
        (true, _) => Some("mixed"),
    };
    let cost = if cost_basis.is_some() { cost } else { None };

    // Scores: mean over scored cases per scorer; the first scorer is `accuracy`.
    let mut score_means = Vec::new();
    let mut extraction_failures = Vec::new();
    let mut first_values: Vec<f64> = Vec::new();
    let (mut scored, mut unscored, mut errored) = (0i64, 0i64, 0i64);
    for si in 0..r.plan.scorers.len() {
        let values: Vec<f64> = r
            .scores
            .iter()
            .filter_map(|case| match case.get(si).map(|o| o.score()) {
                Some(CaseScore::Scored(value)) => Some(value),
                _ => None,
            })
            .collect();
        if si == 0 {
            for case in r.scores.iter() {
                match case.first().map(|o| o.score()) {
                    Some(CaseScore::Scored(_)) => scored += 1,
                    Some(CaseScore::Unscored) => unscored += 1,
                    Some(CaseScore::Error) => errored += 1,
                    None => {}
                }
            }
            first_values = values.clone();
        }
        score_means.push(mean(&values));
        if r.plan.scorers[si].has_extraction() {
            // Failed extractions over the stage's measured cases (the stats part divides by
            // `cases` for the per-trial fallback rate).
            extraction_failures.push(Some(
                r.scores
                    .iter()
                    .filter(|case| case.get(si).and_then(|o| o.extraction_failed) == Some(true))
                    .count() as i64,
            ));
        }
    }
    let has_scorers = !r.plan.scorers.is_empty();

    let mut ints: BTreeMap<&'static str, Option<i64>> = BTreeMap::new();
    ints.insert("requests", Some(n));
    ints.insert("ok_requests", Some(ok));
    ints.insert("errors", Some(n - ok));
    ints.insert(
        "warmup_requests",
        Some(in_stage().filter(|m| m.phase == Phase::Warmup).count() as i64),
    );
    ints.insert(
        "cooldown_requests",
        Some(in_stage().filter(|m| m.phase == Phase::Cooldown).count() as i64),
    );
    ints.insert("cases", Some(r.cases as i64));
    ints.insert("not_sent", Some(r.stage.not_sent as i64));
    ints.insert("input_tokens", input_tokens);
    ints.insert("output_tokens", output_tokens);
    ints.insert("scored", has_scorers.then_some(scored));
    ints.insert("unscored", has_scorers.then_some(unscored));
    ints.insert("score_errors", has_scorers.then_some(errored));
    let mut floats: BTreeMap<&'static str, Option<f64>> = BTreeMap::new();
    floats.insert("error_rate", (n > 0).then(|| (n - ok) as f64 / n as f64));
    floats.insert("window_s", window_s);
    floats.insert("request_rate", per_s(n as f64));
    for (name, v) in [("ttft", &ttft), ("tpot", &tpot), ("e2e", &e2e)] {
        let key = |suffix: &str| -> &'static str {
            // The metric names are a fixed set; leak-free lookup in the static column list.
            match (name, suffix) {
                ("ttft", "mean") => "ttft_mean_ms",
                ("ttft", "p50") => "ttft_p50_ms",
                ("ttft", "p90") => "ttft_p90_ms",
                ("ttft", "p95") => "ttft_p95_ms",
                ("ttft", "p99") => "ttft_p99_ms",
                ("tpot", "mean") => "tpot_mean_ms",
                ("tpot", "p50") => "tpot_p50_ms",
                ("tpot", "p90") => "tpot_p90_ms",
                ("tpot", "p95") => "tpot_p95_ms",
                ("tpot", "p99") => "tpot_p99_ms",
                ("e2e", "mean") => "e2e_mean_ms",
                ("e2e", "p50") => "e2e_p50_ms",
                ("e2e", "p90") => "e2e_p90_ms",
                ("e2e", "p95") => "e2e_p95_ms",
                _ => "e2e_p99_ms",
            }
        };
        floats.insert(key("mean"), mean(v));
        floats.insert(key("p50"), percentile_sorted(v, 0.50));
        floats.insert(key("p90"), percentile_sorted(v, 0.90));
        floats.insert(key("p95"), percentile_sorted(v, 0.95));
        floats.insert(key("p99"), percentile_sorted(v, 0.99));
    }
    let t = r.tokens;
    floats.insert(
        "itl_mean_ms",
        (!t.itl.is_empty()).then(|| t.itl_sum_ns / t.itl.len() as f64 / 1e6),
    );
    let itl = t.itl_ms(&[0.50, 0.90, 0.95, 0.99]);
    floats.insert("itl_p50_ms", itl[0]);
    floats.insert("itl_p90_ms", itl[1]);
    floats.insert("itl_p95_ms", itl[2]);
    floats.insert("itl_p99_ms", itl[3]);
    floats.insert(
        "icl_mean_ms",
        (!t.icl.is_empty()).then(|| t.icl_sum_ns / t.icl.len() as f64 / 1e6),
    );
    let icl = t.icl_ms(&[0.50, 0.99]);
    floats.insert("icl_p50_ms", icl[0]);
    floats.insert("icl_p99_ms", icl[1]);
    let j = r.judges;
    ints.insert("judge_calls", j.map(|j| j.calls));
    ints.insert("judge_errors", j.map(|j| j.errors));
    ints.insert("judge_input_tokens", j.and_then(|j| j.input_tokens));
    ints.insert("judge_output_tokens", j.and_then(|j| j.output_tokens));
    floats.insert("judge_cost_usd", j.and_then(|j| j.cost_usd));
    ints.insert("token_chunks", Some(t.token_chunks));
    ints.insert(
        "token_count_discrepancy",
        output_tokens.map(|o| t.token_chunks - o),
    );
    floats.insert("queue_p50_ms", percentile_sorted(&queue, 0.50));
    floats.insert("queue_p99_ms", percentile_sorted(&queue, 0.99));

    // The client's own behaviour: schedule lag, cap waits, achieved against target rate.
    let scheduled: Vec<&&RequestMetrics> = measured
        .iter()
        .filter(|m| m.step == 0 && m.dispatched_ns().is_some())
        .collect();
    let open = r.stage.load.is_open();
    let sorted = |f: fn(&RequestMetrics) -> Option<f64>| {
        let mut v: Vec<f64> = scheduled.iter().filter_map(|m| f(m)).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let lag = if open {
        sorted(|m| m.schedule_lag_ms())
    } else {
        Vec::new()
    };
    let cap_wait = sorted(|m| m.cap_wait_ms());
    let rate_of = |times: &mut Vec<i64>| -> Option<f64> {
        times.sort_unstable();
        match (times.first(), times.last()) {
            (Some(a), Some(b)) if b > a => Some((times.len() - 1) as f64 / ((b - a) as f64 / 1e9)),
            _ => None,
        }
    };
    let target_rate = if open {
        rate_of(&mut scheduled.iter().map(|m| m.intended_ns).collect())
    } else {
        None
    };
    let achieved_rate = rate_of(&mut scheduled.iter().filter_map(|m| m.dispatched_ns()).collect());
    let lag_p99 = percentile_sorted(&lag, 0.99);
    let saturated = if open {
        match (lag_p99, target_rate, achieved_rate) {
            (Some(l), t, a) => Some(
                l > r.plan.max_lag.as_secs_f64() * 1e3
                    || matches!((t, a), (Some(t), Some(a)) if a < 0.99 * t),
            ),
            _ => None,
        }
    } else {
        None
    };
    floats.insert("lag_p50_ms", percentile_sorted(&lag, 0.50));
    floats.insert("lag_p99_ms", lag_p99);
    floats.insert("lag_max_ms", lag.last().copied());
    floats.insert("cap_wait_p50_ms", percentile_sorted(&cap_wait, 0.50));
    floats.insert("cap_wait_p99_ms", percentile_sorted(&cap_wait, 0.99));
    floats.insert("target_rate", target_rate);
    floats.insert("achieved_rate", achieved_rate);
    floats.insert("client_cpu_s", r.stage.cpu_s);
    floats.insert(
        "client_cpu_util",
        r.stage
            .cpu_s
            .filter(|_| r.stage.wall_s > 0.0)
            .map(|c| c / r.stage.wall_s),
    );
    floats.insert("output_tok_s", output_tokens.and_then(|t| per_s(t as f64)));
    floats.insert("goodput", per_s(good).filter(|_| slo_known));
    floats.insert(
        "slo_attainment",
        (n > 0 && slo_known).then(|| good / n as f64),
    );
    floats.insert("accuracy", score_means.first().copied().flatten());
    floats.insert("accuracy_ci95", ci95_half_width(&first_values));
    floats.insert("cost_usd", cost);
    // Per LLM call (the `requests` column) and per flow execution (`cases`): the same for
    // one-step flows.
    floats.insert(
        "cost_per_1k_requests_usd",
        cost.and_then(|c| (n > 0).then(|| c / n as f64 * 1000.0)),
    );
    floats.insert(
        "cost_per_1k_cases_usd",
        cost.and_then(|c| (r.cases > 0).then(|| c / r.cases as f64 * 1000.0)),
    );
    floats.insert(
        "cost_per_mtok_usd",
        cost.and_then(|c| output_tokens.filter(|t| *t > 0).map(|t| c / t as f64 * 1e6)),
    );

    let first = r.trial.steps.first();
    ConfigRow {
        trial_id: r.trial.id.clone(),
        trial_index: r.trial.index as i64,
        stage: r.stage.stage as i64,
        load: r.stage.load.describe(),
        stop_reason: r.stage.stop_reason,
        client_saturated: saturated,
        params: crate::plan::grid::describe(&r.trial.grid),
        endpoint: first.map(|s| s.endpoint.clone()).unwrap_or_default(),
        model: first.map(|s| s.model.clone()).unwrap_or_default(),
        grid: r.trial.grid.values().cloned().collect(),
        ints,
        floats,
        cost_basis,
        chunk_tokens_basis: r.tokens.basis(),
        scores: score_means,
        extraction_failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::gaps::Gaps;

    #[test]
    fn pooled_gap_percentiles_are_exact_then_fall_back_to_the_histogram() {
        // Two requests: chunk times in ms, one token per chunk except a 3-token chunk.
        let ms = 1_000_000;
        let mut t = TokenStats::default();
        t.record(
            &Gaps::new(&[0, 10 * ms, 13 * ms, 40 * ms], &[1, 1, 3, 1]),
            4,
            Some("usage"),
        );
        t.record(
            &Gaps::new(&[0, 7 * ms, 9 * ms], &[1, 1, 1]),
            3,
            Some("usage"),
        );
        // Per-token gaps: 10, 1, 1, 1, 27 and 7, 2 (the 3-token chunk's 3 ms as 3 x 1 ms).
        let mut all = vec![10.0, 1.0, 1.0, 1.0, 27.0, 7.0, 2.0];
        all.sort_by(f64::total_cmp);
        let qs = [0.5, 0.9, 0.95, 0.99];
        let want: Vec<Option<f64>> = qs.iter().map(|&q| percentile_sorted(&all, q)).collect();
        t.sort_exact();
        let got = t.itl_ms(&qs);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g.unwrap() - w.unwrap()).abs() < 1e-9,
                "{got:?} vs {want:?}"
            );
        }
        // Chunk gaps: 10, 3, 27 and 7, 2.
        let mut chunks = vec![10.0, 3.0, 27.0, 7.0, 2.0];
        chunks.sort_by(f64::total_cmp);
        assert_eq!(t.icl_ms(&[0.5]), vec![percentile_sorted(&chunks, 0.5)]);
        // Past the cap only the histogram is kept: the nearest rank, within 0.1%.
        let many: Vec<i64> = (0..=EXACT_GAPS as i64 + 1).map(|i| i * ms).collect();
        let ones = vec![1; many.len()];
        t.record(&Gaps::new(&many, &ones), many.len(), Some("usage"));
        assert!(t.itl_exact.is_none() && t.icl_exact.is_none());
        let p50 = t.itl_ms(&[0.5])[0].unwrap();
        assert!((p50 - 1.0).abs() <= 1e-3, "{p50}");
    }

    #[test]
    fn percentiles_match_numpy_linear() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_sorted(&v, 0.5), Some(2.5));
        assert_eq!(percentile_sorted(&v, 0.0), Some(1.0));
        assert_eq!(percentile_sorted(&v, 1.0), Some(4.0));
        // numpy.percentile([1,2,3,4], 90) == 3.7
        assert!((percentile_sorted(&v, 0.9).unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(percentile_sorted(&[], 0.5), None);
        assert_eq!(percentile_sorted(&[7.0], 0.99), Some(7.0));
    }

    #[test]
    fn t_quantiles() {
        assert!((t975(1) - 12.706).abs() < 1e-3);
        assert!((t975(60) - 2.000).abs() < 2e-3);
        assert!((t975(1000) - 1.962).abs() < 1e-3);
        // mean of [0, 1] x 50: sd 0.5025, n 100 -> 1.984 * 0.05025
        let v: Vec<f64> = (0..100).map(|i| f64::from(i % 2)).collect();
        assert!((ci95_half_width(&v).unwrap() - 0.0997).abs() < 1e-3);
        assert_eq!(ci95_half_width(&[1.0]), None);
    }
}
