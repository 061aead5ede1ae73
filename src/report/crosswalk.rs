//! The metric crosswalk: frontier's result columns next to the nearest key in the JSON output of
//! four peer tools, and how each differs (README, "Metric crosswalk"; `frontier crosswalk`).
//!
//! The peers disagree on names as much as on definitions (AIPerf's "ITL" is vLLM's TPOT;
//! GuideLLM's "TPOT" includes the time to the first token), so every cell says what the peer's
//! key measures, not only what it is called. Everything here was read from each tool's own
//! source or documentation; where the source is ambiguous, or a definition changed between
//! releases, the note says so instead of guessing.
//!
//! Sources, per peer:
//! - vLLM (`vllm bench serve`, result JSON from `--save-result`; per-request arrays with
//!   `--save-detailed`): `vllm-project/vllm` `vllm/benchmarks/serve.py` (`calculate_metrics`,
//!   the `result` dict of `benchmark`, `--percentile-metrics` / `--metric-percentiles` /
//!   `--goodput`) and `vllm/benchmarks/lib/endpoint_request_func.py`
//!   (`async_request_openai_chat_completions`, `async_request_openai_completions`); earlier
//!   releases kept the same code in `benchmarks/backend_request_func.py` and
//!   `benchmarks/benchmark_serving.py`.
//! - SGLang (`python -m sglang.bench_serving`, JSONL from `--output-file`, per-request arrays
//!   with `--output-details`): `sgl-project/sglang` `python/sglang/bench_serving.py`
//!   (`async_request_openai_chat_completions`, `async_request_sglang_generate`,
//!   `calculate_metrics`, the `result` dict) and `docs/developer_guide/bench_serving.md`.
//! - GuideLLM (`benchmarks.json` report): `vllm-project/guidellm`
//!   `src/guidellm/schemas/request_stats.py` (`GenerativeRequestStats`),
//!   `src/guidellm/benchmark/schemas/generative/metrics.py` (`GenerativeMetrics.compile`),
//!   `src/guidellm/backends/openai/request_handlers.py` (what counts as a token iteration),
//!   `src/guidellm/schemas/benchmark/goodput.py`, `docs/guides/metrics.md` and
//!   `docs/guides/service_level_objectives.md`.
//! - AIPerf (`profile_export_aiperf.json`; per-record values in `profile_export.jsonl`):
//!   <https://docs.nvidia.com/aiperf/reference/ai-perf-metrics-reference> (`ai-dynamo/aiperf`
//!   `docs/metrics-reference.md`), `docs/reference/json-export-schema.md`,
//!   `docs/reference/list-metric-aggregation.md` and `src/aiperf/metrics/types/*.py`
//!   (`ttft_metric.py`, `time_to_first_output_token_metric.py`,
//!   `inter_token_latency_metric.py`, `inter_chunk_latency_metric.py`,
//!   `request_latency_metric.py`, `request_error_rate_metric.py`).

use std::fmt::Write as _;

use serde::Serialize;

/// Which results table a frontier column lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    /// `requests.parquet`: one row per LLM call.
    Requests,
    /// `configs.parquet`: one row per trial and stage.
    Configs,
}

/// A peer tool's nearest equivalent of one frontier column.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Peer {
    /// The key(s) as they appear in the peer's JSON output (comma-separated when several);
    /// `None` when the peer has no equivalent.
    pub key: Option<&'static str>,
    /// How it differs from frontier's column: `same`, or the difference.
    pub note: &'static str,
}

/// One row of the crosswalk.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Entry {
    /// frontier's column name(s), comma-separated when one definition covers several.
    pub frontier: &'static str,
    /// The table holding the column(s).
    pub table: Table,
    /// frontier's definition, short (README, "Metrics").
    pub definition: &'static str,
    /// `vllm bench serve`.
    pub vllm: Peer,
    /// `sglang.bench_serving`.
    pub sglang: Peer,
    /// GuideLLM.
    pub guidellm: Peer,
    /// AIPerf.
    pub aiperf: Peer,
}

impl Entry {
    /// The frontier column names of this entry.
    pub fn columns(&self) -> impl Iterator<Item = &'static str> {
        self.frontier.split(", ")
    }

    /// The four peers with their display names, in table order.
    pub fn peers(&self) -> [(&'static str, &Peer); 4] {
        [
            ("vllm", &self.vllm),
            ("sglang", &self.sglang),
            ("guidellm", &self.guidellm),
            ("aiperf", &self.aiperf),
        ]
    }
}

const fn key(key: &'static str, note: &'static str) -> Peer {
    Peer {
        key: Some(key),
        note,
    }
}

const fn none(note: &'static str) -> Peer {
    Peer { key: None, note }
}

use Table::{Configs, Requests};

/// The crosswalk, per-request columns first, then per-configuration ones.
pub const ENTRIES: &[Entry] = &[
    Entry {
        frontier: "ttft_ms",
        table: Requests,
        definition: "first_token - sent: first chunk carrying a token of any channel (content, reasoning, tool call); role-only and empty chunks are not tokens",
        vllm: key(
            "ttfts",
            "fires on the first data chunk whose `choices` is non-empty, even a role-only or empty delta, so it can be earlier",
        ),
        sglang: key(
            "ttfts",
            "chat backends: first chunk with non-empty `delta.content`, so reasoning-only and tool-call chunks are skipped (closer to ttfo_ms); native /generate: first chunk with text",
        ),
        guidellm: key(
            "time_to_first_token_ms",
            "first token iteration - request_start; recent releases count content, reasoning and tool-call deltas, older ones fewer channels (version-dependent)",
        ),
        aiperf: key(
            "time_to_first_token",
            "same: first non-empty content response (reasoning and tool-call responses count; empty ones do not)",
        ),
    },
    Entry {
        frontier: "ttfo_ms",
        table: Requests,
        definition: "first_content - sent: first chunk carrying `content` (not reasoning, not a tool call)",
        vllm: none("no equivalent"),
        sglang: none("no separate metric; its chat-backend TTFT already ignores reasoning chunks"),
        guidellm: key(
            "time_to_first_output_token_ms",
            "recent releases; first content or tool-call delta (frontier counts content only)",
        ),
        aiperf: key(
            "time_to_first_output_token",
            "first non-reasoning response: content or tool-call text (frontier counts content only)",
        ),
    },
    Entry {
        frontier: "tpot_ms",
        table: Requests,
        definition: "(last_token - first_token) / (completion_tokens - 1), server usage; null if <= 1",
        vllm: none(
            "not written per request; computed as (latency - ttft) / (output_len - 1) with its own ttft and latency ends (see those rows)",
        ),
        sglang: none(
            "not written per request; (latency - ttft) / (output_len - 1), where latency ends at the last SSE line including [DONE]",
        ),
        guidellm: key(
            "inter_token_latency_ms",
            "(last_token - first_token) / (output_tokens - 1): this is frontier's TPOT; GuideLLM's `time_per_output_token_ms` is (last_token - request_start) / output_tokens, TTFT included",
        ),
        aiperf: key(
            "inter_token_latency",
            "(request_latency - ttft) / (OSL - 1): AIPerf's ITL is this TPOT; OSL is client-tokenized content + reasoning unless --use-server-token-count; `output_token_throughput_per_user` = 1 / it",
        ),
    },
    Entry {
        frontier: "e2e_ms",
        table: Requests,
        definition: "last_token - sent",
        vllm: key(
            "latencies",
            "current chat code ends at the last chunk with non-empty `choices`; some releases also advanced it on the trailing usage-only chunk",
        ),
        sglang: none(
            "not written per request; its latency ends at the last SSE line read, including [DONE]",
        ),
        guidellm: key(
            "request_latency",
            "seconds; request_end - request_start, where request_end is taken after the stream is read to its end, not at the last token",
        ),
        aiperf: key(
            "request_latency",
            "same: last content response (usage-only chunks excluded)",
        ),
    },
    Entry {
        frontier: "e2e_from_intended_ms",
        table: Requests,
        definition: "last_token - intended: coordinated-omission corrected, from the schedule's send time",
        vllm: key(
            "mean_e2el_including_client_queue_ms, median_e2el_including_client_queue_ms, p99_e2el_including_client_queue_ms",
            "aggregates only, with --max-concurrency, a finite rate and the metric selected in --percentile-metrics: latency + client queue time, counted from when the pacer released the request, so pacer lateness is missed",
        ),
        sglang: none("no equivalent"),
        guidellm: none("no equivalent"),
        aiperf: none("no equivalent"),
    },
    Entry {
        frontier: "queue_ms",
        table: Requests,
        definition: "sent - intended: schedule lag, cap wait, request building, connection wait",
        vllm: key(
            "queue_times",
            "time waiting for the --max-concurrency semaphore after the pacer released the request (closer to cap_wait_ms); aggregates `*_client_queue_time_ms` when selected in --percentile-metrics",
        ),
        sglang: none("no equivalent"),
        guidellm: key(
            "request_targeted_start_delay_avg",
            "scheduler metrics: the mean \"delay to targeted request start time\", seconds; no per-request value or percentiles",
        ),
        aiperf: none(
            "no per-request equivalent; trace replays report schedule lag percentiles (see lag)",
        ),
    },
    Entry {
        frontier: "schedule_lag_ms",
        table: Requests,
        definition: "dispatched - intended: the client's own lateness against its schedule (first step of open-loop cases; 0 in closed loops)",
        vllm: none("not measured"),
        sglang: none("not measured"),
        guidellm: none(
            "no per-request value; scheduler metrics hold mean delays to the targeted start (see queue_ms)",
        ),
        aiperf: none("no per-request value; trace replays report percentiles (see lag)"),
    },
    Entry {
        frontier: "cap_wait_ms",
        table: Requests,
        definition: "acquired - dispatched: waiting for a place under max_concurrency (open loops with a cap)",
        vllm: key(
            "queue_times",
            "same idea: time waiting for the --max-concurrency semaphore after the pacer released the request",
        ),
        sglang: none("no equivalent: the wait for --max-concurrency is inside the latencies"),
        guidellm: none("not found"),
        aiperf: none("not found"),
    },
    Entry {
        frontier: "client_tokens",
        table: Requests,
        definition: "completion tokens counted by the client from the streamed text with a local tokenizer.json (null without one); beside the server's usage and the token-bearing chunk count",
        vllm: key(
            "output_lens",
            "one count only: the server's usage when reported, else the client's re-tokenization of the text",
        ),
        sglang: key(
            "total_output_tokens_retokenized",
            "run total only (printed as \"Total generated tokens (retokenized)\"): the generated text re-tokenized with the benchmark's tokenizer",
        ),
        guidellm: none("not found"),
        aiperf: key(
            "output_sequence_length",
            "client-side tokenization of the output (content and reasoning), the count its throughput uses",
        ),
    },
    Entry {
        frontier: "itl_p50_ms, itl_p99_ms",
        table: Requests,
        definition: "percentiles of per-token gaps: a chunk advancing the token count by k gives k gaps of gap/k; the first chunk's extra tokens give zero gaps",
        vllm: key(
            "itls",
            "the raw chunk gaps (one per chunk with non-empty `choices`, not split per token): frontier's icl series",
        ),
        sglang: key(
            "itls",
            "native /generate: gap / new tokens, repeated per token (like frontier, without the first chunk's zero gaps); OpenAI backends: raw gaps between content chunks",
        ),
        guidellm: none("no gap series: only first and last token times are kept"),
        aiperf: none(
            "no per-token gaps; `inter_token_latency` is a per-request average (frontier's tpot)",
        ),
    },
    Entry {
        frontier: "icl_p50_ms, icl_max_ms",
        table: Requests,
        definition: "percentile and maximum of gaps between token-bearing chunks",
        vllm: key(
            "itls",
            "same gaps, but the first may start at a role-only chunk",
        ),
        sglang: key(
            "itls",
            "OpenAI backends: gaps between chunks with non-empty content (reasoning and tool-call chunks skipped)",
        ),
        guidellm: none("no per-chunk timings"),
        aiperf: key(
            "inter_chunk_latency",
            "same: gaps between content responses (a list per record in profile_export.jsonl)",
        ),
    },
    Entry {
        frontier: "token_chunk_ns, token_chunk_tokens",
        table: Requests,
        definition: "arrival time of every token-bearing chunk (run clock, ns) and the tokens each carried: the raw series every gap metric is computed from",
        vllm: key(
            "itls",
            "per-request gap lists in the --save-detailed result file, not arrival times or token counts",
        ),
        sglang: key(
            "itls",
            "per-request gap lists in the --output-details result file, not arrival times or token counts",
        ),
        guidellm: none("no per-chunk timings: only first and last token times are kept"),
        aiperf: key(
            "inter_chunk_latency",
            "per-record gap list in profile_export.jsonl, content responses only, no token counts",
        ),
    },
    Entry {
        frontier: "prompt_tokens",
        table: Requests,
        definition: "server usage.prompt_tokens",
        vllm: key(
            "input_lens",
            "usage.prompt_tokens when the stream carries usage (current source), else the dataset's prompt length",
        ),
        sglang: key(
            "input_lens",
            "the dataset's client-tokenized prompt length, not server usage",
        ),
        guidellm: key("prompt_tokens", "same: usage.prompt_tokens"),
        aiperf: key(
            "usage_prompt_tokens",
            "same; `input_sequence_length` is the client-tokenized count",
        ),
    },
    Entry {
        frontier: "completion_tokens",
        table: Requests,
        definition: "server usage.completion_tokens",
        vllm: key(
            "output_lens",
            "usage.completion_tokens when reported, else the generated text re-tokenized by the client",
        ),
        sglang: key(
            "output_lens",
            "completion_tokens from usage or meta_info; without them the requested output length",
        ),
        guidellm: key(
            "output_tokens",
            "usage.completion_tokens; without usage, the number of token iterations (chunks)",
        ),
        aiperf: key(
            "usage_completion_tokens",
            "same; `output_sequence_length` (client-tokenized content + reasoning) is what its ITL and throughput use by default",
        ),
    },
    Entry {
        frontier: "reasoning_tokens",
        table: Requests,
        definition: "server usage.completion_tokens_details.reasoning_tokens",
        vllm: none("not recorded"),
        sglang: none("not recorded"),
        guidellm: none("not found in its request stats"),
        aiperf: key(
            "usage_reasoning_tokens",
            "same; `reasoning_token_count` is the client-tokenized count",
        ),
    },
    Entry {
        frontier: "token_chunk_count",
        table: Requests,
        definition: "chunks that carried at least one token",
        vllm: none("not recorded (len(itls) + 1 counts chunks with non-empty `choices`)"),
        sglang: none("not recorded"),
        guidellm: key(
            "info.timings.token_iterations",
            "iterations that carried content, reasoning or a tool call (channels vary by release)",
        ),
        aiperf: none("no per-request count in the metrics reference"),
    },
    Entry {
        frontier: "chunk_count",
        table: Requests,
        definition: "SSE data events received, excluding [DONE]",
        vllm: none("not recorded"),
        sglang: none("not recorded"),
        guidellm: key(
            "info.timings.request_iterations",
            "stream iterations; whether it excludes [DONE] was not verified",
        ),
        aiperf: none(
            "no per-request count in the metrics reference (its HTTP trace \"chunks received\" counts transport chunks)",
        ),
    },
    Entry {
        frontier: "token_count_discrepancy",
        table: Requests,
        definition: "token_chunk_count - completion_tokens",
        vllm: none("not recorded"),
        sglang: none(
            "no per-request value; `total_output_tokens_retokenized` vs `total_output_tokens` compares client re-tokenization with the server",
        ),
        guidellm: none(
            "no equivalent; `output_tokens_per_iteration` is the related tokens-per-chunk ratio",
        ),
        aiperf: key(
            "usage_completion_tokens_diff_pct",
            "a different pair: |usage - client-tokenized OSL| / OSL in percent",
        ),
    },
    Entry {
        frontier: "chunk_tokens_basis",
        table: Requests,
        definition: "where per-chunk token counts came from: usage (continuous usage), chunks (one per chunk) or mixed",
        vllm: none("no equivalent: ITL gaps are never split per token"),
        sglang: none(
            "no equivalent; native /generate always splits by meta_info completion_tokens",
        ),
        guidellm: none("no equivalent"),
        aiperf: none(
            "no equivalent; --per-chunk-usage uses per-chunk usage only for the first chunk's token count (the ITL divisor)",
        ),
    },
    Entry {
        frontier: "ttft_mean_ms, ttft_p50_ms, ttft_p90_ms, ttft_p95_ms, ttft_p99_ms",
        table: Configs,
        definition: "TTFT over successful measured requests; exact percentiles, linear interpolation",
        vllm: key(
            "mean_ttft_ms, median_ttft_ms, p99_ttft_ms",
            "NumPy over successful requests; percentiles from --metric-percentiles (default 99) as `p{N}_ttft_ms`; TTFT as in the ttft_ms row",
        ),
        sglang: key(
            "mean_ttft_ms, median_ttft_ms, p99_ttft_ms",
            "NumPy over successful requests; only p99 besides the median; TTFT as in the ttft_ms row",
        ),
        guidellm: key(
            "metrics.time_to_first_token_ms",
            "a distribution per status (`successful.mean`, `successful.percentiles.p50`...); percentile method not verified",
        ),
        aiperf: key(
            "time_to_first_token",
            "stats block `avg`, `p50`, `p90`, `p95`, `p99`; percentile method not stated in the docs",
        ),
    },
    Entry {
        frontier: "tpot_mean_ms, tpot_p50_ms, tpot_p90_ms, tpot_p95_ms, tpot_p99_ms",
        table: Configs,
        definition: "tpot_ms statistics, one sample per request",
        vllm: key(
            "mean_tpot_ms, median_tpot_ms, p99_tpot_ms",
            "one sample per request with output_len > 1, as frontier",
        ),
        sglang: key(
            "mean_tpot_ms, median_tpot_ms, p99_tpot_ms",
            "one sample per request with output_len > 1, as frontier",
        ),
        guidellm: key(
            "metrics.inter_token_latency_ms",
            "weighted by output_tokens - 1 in the releases read (so the mean is total gaps / gap count, frontier's itl_mean_ms); one stored release is unweighted",
        ),
        aiperf: key(
            "inter_token_latency",
            "one sample per request; OSL client-tokenized by default",
        ),
    },
    Entry {
        frontier: "e2e_mean_ms, e2e_p50_ms, e2e_p90_ms, e2e_p95_ms, e2e_p99_ms",
        table: Configs,
        definition: "e2e_ms statistics over successful measured requests",
        vllm: key(
            "mean_e2el_ms, median_e2el_ms, p99_e2el_ms",
            "only when `e2el` is in --percentile-metrics (default ttft,tpot,itl)",
        ),
        sglang: key(
            "mean_e2e_latency_ms, median_e2e_latency_ms, p90_e2e_latency_ms, p99_e2e_latency_ms",
            "latency ends at the last SSE line including [DONE]",
        ),
        guidellm: key(
            "metrics.request_latency",
            "seconds; ends when the stream is read to its end",
        ),
        aiperf: key("request_latency", "same end (last content response)"),
    },
    Entry {
        frontier: "itl_mean_ms, itl_p50_ms, itl_p90_ms, itl_p95_ms, itl_p99_ms",
        table: Configs,
        definition: "per-token gaps of all measured successful requests, token-weighted; exact percentiles up to 1,000,000 gap entries per stage, then an HDR histogram (within 0.1%)",
        vllm: key(
            "mean_itl_ms, median_itl_ms, p99_itl_ms",
            "pooled chunk gaps, one sample per chunk: equal to frontier's only when every chunk carries one token (compare icl_*)",
        ),
        sglang: key(
            "mean_itl_ms, median_itl_ms, p95_itl_ms, p99_itl_ms",
            "native /generate: per-token gaps like frontier's; OpenAI backends: chunk gaps (icl_*) unless use_retokenized_itl splits them by re-tokenized chunk length",
        ),
        guidellm: none(
            "no per-token distribution; where `metrics.inter_token_latency_ms` is token-weighted, its mean equals itl_mean_ms (with chunk_tokens_basis = usage)",
        ),
        aiperf: none(
            "no per-token distribution; AIPerf's `inter_token_latency` is frontier's tpot",
        ),
    },
    Entry {
        frontier: "icl_mean_ms, icl_p50_ms, icl_p99_ms",
        table: Configs,
        definition: "gaps between token-bearing chunks, pooled over requests; exact percentiles up to 1,000,000 gaps per stage, then an HDR histogram (within 0.1%)",
        vllm: key(
            "mean_itl_ms, median_itl_ms, p99_itl_ms",
            "same pooled chunk gaps (exact NumPy); the first gap may start at a role-only chunk",
        ),
        sglang: key(
            "mean_itl_ms, median_itl_ms, p99_itl_ms",
            "OpenAI backends: gaps between content chunks (reasoning and tool-call chunks skipped)",
        ),
        guidellm: none("no per-chunk timings"),
        aiperf: key(
            "inter_chunk_latency",
            "same pooled gaps; percentiles from a t-digest (approximate), mean and max exact",
        ),
    },
    Entry {
        frontier: "window_s",
        table: Configs,
        definition: "measured window: earliest intended to latest end of measured calls (warm-up and cool-down excluded)",
        vllm: key(
            "duration",
            "from the start of the main run (after warm-ups) until every request finished",
        ),
        sglang: key(
            "duration",
            "from the start of the main run until every request finished",
        ),
        guidellm: key(
            "measure_start_time, measure_end_time",
            "scheduler metrics: the measurement window between warm-up and cool-down",
        ),
        aiperf: key(
            "benchmark_duration",
            "first request sent to last response received",
        ),
    },
    Entry {
        frontier: "request_rate",
        table: Configs,
        definition: "measured requests (failures included) / window_s",
        vllm: key("request_throughput", "successful requests only / duration"),
        sglang: key("request_throughput", "successful requests only / duration"),
        guidellm: key(
            "metrics.requests_per_second",
            "a distribution of completion rate over the window, per status",
        ),
        aiperf: key(
            "request_throughput",
            "successful requests only / benchmark_duration",
        ),
    },
    Entry {
        frontier: "output_tok_s",
        table: Configs,
        definition: "sum of completion_tokens (server usage) of successful calls / window_s",
        vllm: key(
            "output_throughput",
            "sum of output_lens (usage, else re-tokenized) / duration",
        ),
        sglang: key(
            "output_throughput",
            "sum of output_lens (usage, else the requested length) / duration",
        ),
        guidellm: key(
            "metrics.output_tokens_per_second",
            "a distribution over time with each request's tokens spread evenly between its first and last token",
        ),
        aiperf: key(
            "output_token_throughput",
            "total client-tokenized OSL (content + reasoning) / benchmark_duration",
        ),
    },
    Entry {
        frontier: "input_tokens, output_tokens",
        table: Configs,
        definition: "sums of server-reported prompt and completion tokens of successful calls",
        vllm: key(
            "total_input_tokens, total_output_tokens",
            "input from usage when reported, else dataset lengths; output from usage, else re-tokenized",
        ),
        sglang: key(
            "total_input_tokens, total_output_tokens",
            "input is the dataset's client-tokenized length; also `total_output_tokens_retokenized`",
        ),
        guidellm: key(
            "metrics.prompt_token_count, metrics.output_token_count",
            "distributions per status; `total_sum` is the total",
        ),
        aiperf: key(
            "total_usage_prompt_tokens, total_usage_completion_tokens",
            "same; `total_isl` and `total_osl` are client-tokenized",
        ),
    },
    Entry {
        frontier: "goodput",
        table: Configs,
        definition: "successful calls meeting every SLO / window_s (errors count as failing; a call of at most one token meets any TPOT objective; null when an objective could not be evaluated)",
        vllm: key(
            "request_goodput",
            "successful requests meeting every --goodput SLO (ttft, tpot, e2el) / duration; null without --goodput",
        ),
        sglang: none("not reported"),
        guidellm: none(
            "recent releases report request goodput for ttft_ms, tpot_ms (= its ITL) and e2el_ms objectives; the JSON key was not verified",
        ),
        aiperf: key("goodput", "good_request_count / benchmark_duration"),
    },
    Entry {
        frontier: "slo_attainment",
        table: Configs,
        definition: "fraction of measured calls that succeeded and met every SLO",
        vllm: none("not reported"),
        sglang: none("not reported"),
        guidellm: none(
            "recent releases report SLO attainment (errors count against, cancelled requests excluded); the JSON key was not verified",
        ),
        aiperf: key(
            "good_request_fraction",
            "same: good / (successful + errored requests)",
        ),
    },
    Entry {
        frontier: "error_rate",
        table: Configs,
        definition: "errors / requests (measured calls)",
        vllm: key("failed", "a count; completed + failed is the total"),
        sglang: none("not reported: only `completed` is counted"),
        guidellm: key(
            "metrics.request_totals",
            "counts per status (successful, incomplete, errored, total)",
        ),
        aiperf: key(
            "request_error_rate",
            "percent (0-100) of errors / (successes + errors)",
        ),
    },
    Entry {
        frontier: "lag_p50_ms, lag_p99_ms, lag_max_ms",
        table: Configs,
        definition: "schedule lag (dispatched - intended) of measured first-step calls, open loops",
        vllm: none("not measured"),
        sglang: none("not measured"),
        guidellm: none(
            "scheduler metrics hold mean delays to the targeted start (seconds), no percentiles",
        ),
        aiperf: key(
            "replay_sched_lag_p50, replay_sched_lag_p90, replay_sched_lag_p99",
            "fixed-schedule (trace) runs only; relative to the least-late request, so a constant delay is invisible",
        ),
    },
    Entry {
        frontier: "target_rate",
        table: Configs,
        definition: "the schedule's own rate over the measured cases: (n - 1) / (last intended - first intended), open loops",
        vllm: key(
            "request_rate",
            "the configured --request-rate, not the realised schedule (the JSON key was not verified)",
        ),
        sglang: key(
            "request_rate",
            "the configured --request-rate, not the realised schedule",
        ),
        guidellm: none("the strategy's configured rate only"),
        aiperf: none("the configured --request-rate only"),
    },
    Entry {
        frontier: "client_saturated",
        table: Configs,
        definition: "open loop: lag_p99_ms over max_lag (default 1 ms) or achieved_rate below 99% of target_rate; null for closed loops",
        vllm: none("not reported: a client that falls behind lowers the offered load silently"),
        sglang: none("not reported"),
        guidellm: none("not reported"),
        aiperf: none("not reported"),
    },
    Entry {
        frontier: "achieved_rate",
        table: Configs,
        definition: "dispatch rate (n - 1) / (last dispatched - first dispatched), beside target_rate",
        vllm: none("not reported (the configured rate only)"),
        sglang: none("not reported (the configured rate only)"),
        guidellm: none("not found"),
        aiperf: none("not found"),
    },
    Entry {
        frontier: "cost_per_mtok_usd",
        table: Configs,
        definition: "cost_usd / output_tokens x 1e6; null when the cost is unknown",
        vllm: none("no cost metrics"),
        sglang: none("no cost metrics"),
        guidellm: none("no cost metrics"),
        aiperf: none("no cost metrics (energy metrics only)"),
    },
];

/// The peers' display names, in column order.
pub const PEER_NAMES: [&str; 4] = [
    "vLLM bench serve",
    "SGLang bench_serving",
    "GuideLLM",
    "AIPerf",
];

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn peer_cell(p: &Peer) -> String {
    match p.key {
        Some(k) => {
            let keys: Vec<String> = k.split(", ").map(|k| format!("`{k}`")).collect();
            cell(&format!("{}: {}", keys.join(", "), p.note))
        }
        None => cell(&format!("none: {}", p.note)),
    }
}

fn table_md(out: &mut String, table: Table) {
    let _ = writeln!(
        out,
        "| frontier | definition | {} |",
        PEER_NAMES.join(" | ")
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for e in ENTRIES.iter().filter(|e| e.table == table) {
        let cols: Vec<String> = e.columns().map(|c| format!("`{c}`")).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cols.join(", "),
            cell(e.definition),
            peer_cell(&e.vllm),
            peer_cell(&e.sglang),
            peer_cell(&e.guidellm),
            peer_cell(&e.aiperf)
        );
    }
}

/// The crosswalk as Markdown (the text of `frontier crosswalk`, and of the README between the
/// `crosswalk` markers).
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "Each peer cell gives the key(s) in that tool's JSON output, then how it differs from \
         frontier's column (`none` = no equivalent). Keys: vLLM `vllm bench serve \
         --save-result` (per-request arrays with `--save-detailed`), SGLang \
         `sglang.bench_serving --output-file` (per-request arrays with `--output-details`), \
         GuideLLM `benchmarks.json` (per-request fields under each benchmark's `requests`), \
         AIPerf `profile_export_aiperf.json` (per-record values in `profile_export.jsonl`). \
         Read from each tool's source; definitions change between releases, and \"not \
         verified\" marks what the source left open.\n\n",
    );
    out.push_str("**Per request** (`requests.parquet`)\n\n");
    table_md(&mut out, Requests);
    out.push_str("\n**Per configuration** (`configs.parquet`)\n\n");
    table_md(&mut out, Configs);
    out.push_str(
        "\nSources: vLLM `vllm/benchmarks/serve.py` and \
         `vllm/benchmarks/lib/endpoint_request_func.py`; SGLang \
         `python/sglang/bench_serving.py` and `docs/developer_guide/bench_serving.md`; \
         GuideLLM `src/guidellm/schemas/request_stats.py`, \
         `src/guidellm/benchmark/schemas/generative/metrics.py`, \
         `src/guidellm/backends/openai/request_handlers.py` and \
         `docs/guides/service_level_objectives.md`; AIPerf \
         <https://docs.nvidia.com/aiperf/reference/ai-perf-metrics-reference> and \
         `src/aiperf/metrics/types/`.\n",
    );
    out
}

/// The statistic a column or key name carries (`mean`, `p50`, `p90`, `p95`, `p99`, `max`,
/// `std`), from frontier's `_p90_` infix, the `mean_` / `median_` / `p99_` / `std_` prefixes
/// of vLLM and SGLang, or an `_avg` / `_p50` / `_max` suffix (AIPerf).
fn statistic(name: &str) -> Option<String> {
    let name = name.rsplit('.').next().unwrap_or(name);
    let parts: Vec<&str> = name.split('_').collect();
    let norm = |p: &str| -> Option<String> {
        match p {
            "mean" | "avg" => Some("mean".into()),
            "median" => Some("p50".into()),
            "max" => Some("max".into()),
            "std" => Some("std".into()),
            p if p.len() > 1
                && p.starts_with('p')
                && p[1..].bytes().all(|b| b.is_ascii_digit()) =>
            {
                Some(p.into())
            }
            _ => None,
        }
    };
    match parts.as_slice() {
        // frontier: `<metric>_<stat>_ms` / `<metric>_<stat>`
        [_, stat, "ms"] | [_, stat] if norm(stat).is_some() && !name.starts_with(stat) => {
            norm(stat)
        }
        [first, .., last] => norm(first).or_else(|| norm(last)),
        _ => None,
    }
}

/// One frontier column's counterpart in one peer's output.
#[derive(Debug, Serialize, PartialEq)]
pub struct Pair {
    /// The peer's key, or null (no equivalent, or none with this statistic).
    pub key: Option<&'static str>,
    /// When the peer key is a distribution or a per-request list: the statistic of it that
    /// corresponds to the column (`p90`, `mean`, ...).
    pub statistic: Option<String>,
}

/// `column`'s counterpart in `peer` (one of the entry's columns, at position `i` of `n`).
pub fn pair(peer: &Peer, column: &str, i: usize, n: usize) -> Pair {
    let Some(keys) = peer.key else {
        return Pair {
            key: None,
            statistic: None,
        };
    };
    let keys: Vec<&'static str> = keys.split(", ").collect();
    let stat = statistic(column);
    let with_stats: Vec<(&'static str, Option<String>)> =
        keys.iter().map(|k| (*k, statistic(k))).collect();
    match stat {
        Some(st) if with_stats.iter().any(|(_, s)| s.is_some()) => Pair {
            key: with_stats
                .iter()
                .find(|(_, s)| s.as_deref() == Some(st.as_str()))
                .map(|(k, _)| *k),
            statistic: None,
        },
        // A single distribution (or list) key: the column is a statistic of it.
        Some(st) => Pair {
            key: Some(keys[0]),
            statistic: Some(st),
        },
        None if keys.len() == n => Pair {
            key: Some(keys[i]),
            statistic: None,
        },
        None => Pair {
            key: Some(keys[0]),
            statistic: None,
        },
    }
}

#[derive(Serialize)]
struct ColumnJson<'a> {
    column: &'a str,
    vllm: Pair,
    sglang: Pair,
    guidellm: Pair,
    aiperf: Pair,
}

#[derive(Serialize)]
struct EntryJson<'a> {
    #[serde(flatten)]
    entry: &'a Entry,
    columns: Vec<ColumnJson<'a>>,
}

/// The crosswalk as pretty-printed JSON (the text of `frontier crosswalk --json`): an array of
/// objects with `frontier` (column names, comma-separated when several), `table` (`requests` or
/// `configs`), `definition`, one object `{key, note}` per peer (`vllm`, `sglang`, `guidellm`,
/// `aiperf`; `key` null when the peer has no equivalent, comma-separated when several), and
/// `columns`: one object per frontier column with, per peer, `{key, statistic}`: the single
/// key it corresponds to (null when the peer has none, or none with that statistic: vLLM's
/// default percentiles are p99 only) and, when that key is a distribution or a per-request
/// list, the statistic of it (`p90`, `mean`, ...). `columns` is what a program uses to
/// translate names.
pub fn json() -> String {
    let rows: Vec<EntryJson<'_>> = ENTRIES
        .iter()
        .map(|e| {
            let cols: Vec<&str> = e.columns().collect();
            let n = cols.len();
            EntryJson {
                entry: e,
                columns: cols
                    .iter()
                    .enumerate()
                    .map(|(i, c)| ColumnJson {
                        column: c,
                        vllm: pair(&e.vllm, c, i, n),
                        sglang: pair(&e.sglang, c, i, n),
                        guidellm: pair(&e.guidellm, c, i, n),
                        aiperf: pair(&e.aiperf, c, i, n),
                    })
                    .collect(),
            }
        })
        .collect();
    serde_json::to_string_pretty(&rows).expect("the crosswalk serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_a_definition_and_notes() {
        for e in ENTRIES {
            assert!(!e.definition.is_empty(), "{}", e.frontier);
            for (name, p) in e.peers() {
                assert!(!p.note.is_empty(), "{} / {name}", e.frontier);
                assert!(!p.note.contains('\n'), "{} / {name}", e.frontier);
            }
        }
    }

    #[test]
    fn markdown_rows_have_six_cells() {
        let md = markdown();
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| `")).collect();
        assert_eq!(rows.len(), ENTRIES.len());
        for r in rows {
            // Escaped pipes inside cells do not split them.
            let cells = r.replace("\\|", "").matches('|').count();
            assert_eq!(cells, 7, "{r}");
        }
    }

    fn keys(v: &serde_json::Value, column: &str, peer: &str) -> (Option<String>, Option<String>) {
        let rows = v.as_array().unwrap();
        let c = rows
            .iter()
            .flat_map(|r| r["columns"].as_array().unwrap())
            .find(|c| c["column"] == column)
            .unwrap_or_else(|| panic!("no column {column}"));
        let p = &c[peer];
        (
            p["key"].as_str().map(str::to_string),
            p["statistic"].as_str().map(str::to_string),
        )
    }

    #[test]
    fn json_pairs_each_column_with_one_key_and_statistic() {
        let v: serde_json::Value = serde_json::from_str(&json()).unwrap();
        let s = |x: &str| Some(x.to_string());
        assert_eq!(keys(&v, "ttft_p99_ms", "vllm"), (s("p99_ttft_ms"), None));
        assert_eq!(keys(&v, "ttft_p50_ms", "vllm"), (s("median_ttft_ms"), None));
        assert_eq!(
            keys(&v, "ttft_mean_ms", "sglang"),
            (s("mean_ttft_ms"), None)
        );
        // vLLM reports p99 by default, not p90.
        assert_eq!(keys(&v, "ttft_p90_ms", "vllm"), (None, None));
        // A distribution key: the column is a statistic of it.
        assert_eq!(
            keys(&v, "ttft_p90_ms", "aiperf"),
            (s("time_to_first_token"), s("p90"))
        );
        assert_eq!(
            keys(&v, "lag_p99_ms", "aiperf"),
            (s("replay_sched_lag_p99"), None)
        );
        assert_eq!(keys(&v, "lag_max_ms", "aiperf"), (None, None));
        assert_eq!(keys(&v, "ttft_ms", "vllm"), (s("ttfts"), None));
        assert_eq!(keys(&v, "client_saturated", "vllm"), (None, None));
        // Every paired key is one of the entry's keys.
        for r in v.as_array().unwrap() {
            for c in r["columns"].as_array().unwrap() {
                for peer in ["vllm", "sglang", "guidellm", "aiperf"] {
                    if let Some(k) = c[peer]["key"].as_str() {
                        let all = r[peer]["key"].as_str().unwrap();
                        assert!(all.split(", ").any(|x| x == k), "{k} not in {all}");
                    }
                }
            }
        }
    }

    #[test]
    fn statistics_are_read_from_every_naming_style() {
        for (name, want) in [
            ("ttft_p90_ms", Some("p90")),
            ("ttft_mean_ms", Some("mean")),
            ("lag_max_ms", Some("max")),
            ("median_ttft_ms", Some("p50")),
            ("p99_e2el_ms", Some("p99")),
            ("replay_sched_lag_p50", Some("p50")),
            ("request_targeted_start_delay_avg", Some("mean")),
            ("ttft_ms", None),
            ("time_to_first_token", None),
            ("metrics.time_to_first_token_ms", None),
            ("output_tok_s", None),
        ] {
            assert_eq!(statistic(name).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn json_has_every_peer() {
        let v: serde_json::Value = serde_json::from_str(&json()).unwrap();
        let rows = v.as_array().unwrap();
        assert_eq!(rows.len(), ENTRIES.len());
        for r in rows {
            for k in ["frontier", "table", "definition"] {
                assert!(r[k].is_string(), "{r}");
            }
            for k in ["vllm", "sglang", "guidellm", "aiperf"] {
                let p = &r[k];
                assert!(p["note"].is_string(), "{r}");
                assert!(p["key"].is_string() || p["key"].is_null(), "{r}");
            }
        }
    }
}
