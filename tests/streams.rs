//! Recorded streams (tests/fixtures/streams/*.sse) in the shapes vLLM, SGLang, llama.cpp, Azure and
//! the OpenAI API send, replayed through frontier's recorder with their frame times, and through
//! a re-implementation of vLLM's benchmark formulas (`vllm bench serve`: the OpenAI chat request
//! function and its TTFT/TPOT/ITL), so that the tests show exactly where the two differ.

use std::path::Path;

use frontier::client::gaps::{chunk_gaps, summarise, token_gaps};
use frontier::client::{CallOutcome, replay_sse};

const MS: i64 = 1_000_000;

/// A recorded stream: frames with their arrival time (ns after the send).
struct Recorded {
    frames: Vec<(Vec<u8>, i64)>,
}

fn load(name: &str) -> Recorded {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/streams")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut frames: Vec<(Vec<u8>, i64)> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(ms) = line.strip_prefix('@') {
            let ms: f64 = ms.trim().parse().expect("frame time in ms");
            frames.push((Vec::new(), (ms * 1e6) as i64));
            continue;
        }
        let Some((bytes, _)) = frames.last_mut() else {
            assert!(line.starts_with('#') || line.trim().is_empty(), "{line}");
            continue;
        };
        match line.strip_suffix("\\\n") {
            Some(joined) => bytes.extend_from_slice(joined.as_bytes()),
            None => bytes.extend_from_slice(line.as_bytes()),
        }
    }
    assert!(!frames.is_empty(), "{name} has no frames");
    Recorded { frames }
}

impl Recorded {
    fn end_ns(&self) -> i64 {
        self.frames.last().unwrap().1
    }

    /// frontier's outcome, as a live request would have recorded it (sent at 0).
    fn frontier(&self) -> CallOutcome {
        replay_sse(
            0,
            self.frames.iter().map(|(b, t)| (b.as_slice(), *t)),
            self.end_ns(),
        )
    }

    /// Every event (the text of its `data:` lines) with the time of the frame completing it.
    fn events(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        let mut pending = String::new();
        for (bytes, t) in &self.frames {
            pending.push_str(std::str::from_utf8(bytes).unwrap());
            while let Some(end) = pending.find("\n\n") {
                let event: String = pending[..end]
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect::<Vec<_>>()
                    .join("\n");
                pending.drain(..end + 2);
                if !event.is_empty() {
                    out.push((event, *t));
                }
            }
        }
        out
    }

    /// vLLM's benchmark client (`vllm bench serve`, backend `openai-chat`,
    /// `vllm/benchmarks/lib/endpoint_request_func.py`): every data event other than `[DONE]`
    /// is timestamped; the first event whose `choices` is non-empty sets TTFT, each later one
    /// appends a gap to ITL; an event without choices but with `usage` sets the output length.
    /// Latency ends at the last event with choices (some earlier releases also advanced it on
    /// the usage-only event: `latency_any_ms`). TPOT = (latency - TTFT) / (output_len - 1).
    fn vllm(&self) -> Vllm {
        let mut ttft: Option<i64> = None;
        let mut itl = Vec::new();
        let mut most_recent = 0;
        let mut last_any = 0;
        let mut output_len = None;
        let mut text = String::new();
        for (event, t) in self.events() {
            if event == "[DONE]" {
                continue;
            }
            let data: serde_json::Value = serde_json::from_str(&event).unwrap();
            let choices = data["choices"].as_array().filter(|c| !c.is_empty());
            if let Some(choices) = choices {
                if ttft.is_none() {
                    ttft = Some(t);
                } else {
                    itl.push(t - most_recent);
                }
                text.push_str(choices[0]["delta"]["content"].as_str().unwrap_or(""));
                most_recent = t;
            } else if let Some(n) = data["usage"]["completion_tokens"].as_i64() {
                output_len = Some(n);
            }
            last_any = t;
        }
        let latency = most_recent;
        let ttft = ttft.unwrap();
        Vllm {
            ttft_ms: ttft as f64 / 1e6,
            itl_ms: itl.iter().map(|&g| g as f64 / 1e6).collect(),
            latency_ms: latency as f64 / 1e6,
            latency_any_ms: last_any as f64 / 1e6,
            output_len,
            tpot_ms: output_len.map(|n| (latency - ttft) as f64 / 1e6 / (n - 1) as f64),
            text,
        }
    }
}

#[derive(Debug)]
struct Vllm {
    ttft_ms: f64,
    itl_ms: Vec<f64>,
    latency_ms: f64,
    /// Latency as releases that also advanced it on the usage-only event measured it.
    latency_any_ms: f64,
    /// From a usage-only event; `None` makes vLLM count the text with the model's tokenizer.
    output_len: Option<i64>,
    tpot_ms: Option<f64>,
    text: String,
}

fn ms(ns: Option<i64>) -> Option<f64> {
    ns.map(|n| n as f64 / 1e6)
}

/// frontier's metrics of one outcome, as the requests.parquet columns define them.
struct Ours {
    ttft_ms: Option<f64>,
    ttfo_ms: Option<f64>,
    e2e_ms: Option<f64>,
    tpot_ms: Option<f64>,
    /// Per-token gaps, expanded.
    itl_ms: Vec<f64>,
    icl_ms: Vec<f64>,
}

fn ours(o: &CallOutcome) -> Ours {
    assert!(o.error.is_none(), "{:?}", o.error);
    let sent = o.sent_ns.unwrap();
    let tpot_ms = match (o.usage.completion_tokens, o.first_token_ns, o.last_token_ns) {
        (Some(n), Some(a), Some(b)) if n > 1 => Some((b - a) as f64 / 1e6 / (n - 1) as f64),
        _ => None,
    };
    Ours {
        ttft_ms: ms(o.first_token_ns.map(|t| t - sent)),
        ttfo_ms: ms(o.first_content_ns.map(|t| t - sent)),
        e2e_ms: ms(o.last_token_ns.map(|t| t - sent)),
        tpot_ms,
        itl_ms: token_gaps(&o.token_chunk_ns, &o.chunk_tokens)
            .flat_map(|(g, n)| std::iter::repeat_n(g / 1e6, n as usize))
            .collect(),
        icl_ms: chunk_gaps(&o.token_chunk_ns)
            .map(|g| g as f64 / 1e6)
            .collect(),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn vllm_continuous_usage_with_multi_token_chunks() {
    let rec = load("vllm-chat-continuous.sse");
    let o = rec.frontier();
    assert_eq!(o.text, "The quick brown fox jumps over it");
    assert_eq!(o.usage.completion_tokens, Some(8));
    assert_eq!(o.usage.prompt_tokens, Some(12));
    // The role-only opening chunk, the finish-only chunk and the usage-only chunk carry no
    // tokens; the others carry 1, 2, 3 and 1 tokens by their cumulative usage.
    assert_eq!(o.chunk_count, 7);
    assert_eq!(o.token_chunk_count, 4);
    assert_eq!(o.chunk_tokens, vec![1, 2, 3, 1]);
    assert_eq!(
        o.chunks_with_usage, 4,
        "every token chunk had usage: basis `usage`"
    );
    // Counting chunks as tokens would be 4 short (3 tokens hidden in multi-token chunks, and
    // the end-of-sequence token that has no text).
    assert_eq!(
        i64::from(o.token_chunk_count) - o.usage.completion_tokens.unwrap(),
        -4
    );

    let us = ours(&o);
    assert_eq!(
        us.ttft_ms,
        Some(150.0),
        "first content token, not the role chunk"
    );
    assert_eq!(us.ttfo_ms, Some(150.0));
    assert_eq!(us.e2e_ms, Some(250.0));
    assert!(close(us.tpot_ms.unwrap(), 100.0 / 7.0));
    // k tokens of a chunk share its gap: 2 x 10 ms, 3 x 20 ms, 1 x 20 ms.
    assert_eq!(us.itl_ms, vec![10.0, 10.0, 20.0, 20.0, 20.0, 20.0]);
    assert!(close(us.itl_ms.iter().sum(), 250.0 - 150.0));
    assert_eq!(us.icl_ms, vec![20.0, 60.0, 20.0]);
    let s = summarise(&o.token_chunk_ns, &o.chunk_tokens);
    assert_eq!(s.itl_p50_ms, Some(20.0));
    assert_eq!(s.icl_max_ms, Some(60.0));

    let v = rec.vllm();
    assert_eq!(v.text, o.text);
    // vLLM's TTFT fires on the role-only chunk (any chunk with choices): 30 ms early.
    assert_eq!(v.ttft_ms, 120.0);
    // Its ITL is one gap per chunk with choices, including role -> first token and the
    // finish-only chunk, and a multi-token chunk is one 60 ms gap, not three of 20 ms.
    assert_eq!(v.itl_ms, vec![30.0, 20.0, 60.0, 20.0, 30.0]);
    // Its latency ends at the finish-only chunk (at the usage-only one in some releases), so
    // its TPOT is inflated by the role chunk's head start and the 30 ms after the last token.
    assert_eq!(v.latency_ms, 280.0);
    assert_eq!(v.latency_any_ms, 281.0);
    assert_eq!(v.output_len, Some(8));
    assert!(close(v.tpot_ms.unwrap(), 160.0 / 7.0));
    assert!(v.tpot_ms.unwrap() > us.tpot_ms.unwrap());
}

#[test]
fn sglang_reasoning_tokens_start_ttft_and_content_starts_ttfo() {
    let rec = load("sglang-reasoning.sse");
    let o = rec.frontier();
    assert_eq!(o.reasoning_text, "Two plus two is four.");
    assert_eq!(o.text, "4");
    assert_eq!(o.token_chunk_count, 4);
    assert_eq!(o.chunk_tokens, vec![1, 1, 1, 1]);
    assert_eq!(
        o.chunks_with_usage, 0,
        "usage is null per chunk: basis `chunks`"
    );
    assert_eq!(o.usage.completion_tokens, Some(10));
    let us = ours(&o);
    assert_eq!(us.ttft_ms, Some(300.0));
    assert_eq!(
        us.ttfo_ms,
        Some(400.0),
        "first content token after the reasoning"
    );
    assert_eq!(us.e2e_ms, Some(400.0));
    assert!(close(us.tpot_ms.unwrap(), 100.0 / 9.0));
    // Without per-chunk usage each chunk counts as one token.
    assert_eq!(us.itl_ms, vec![20.0, 20.0, 60.0]);

    let v = rec.vllm();
    assert_eq!(v.ttft_ms, 300.0, "same first chunk here");
    // vLLM's client keeps only `content`: the reasoning text is not in its output.
    assert_eq!(v.text, "4");
    assert_eq!(v.itl_ms, vec![20.0, 20.0, 60.0, 20.0]);
    // Its latency runs to the finish-only chunk, 20 ms after the last token.
    assert!(close(v.tpot_ms.unwrap(), 120.0 / 9.0));
}

#[test]
fn llama_server_split_event_and_usage_in_the_finish_chunk() {
    let rec = load("llama-cpp-chat.sse");
    let o = rec.frontier();
    assert_eq!(o.text, "Paris is the capital");
    assert_eq!(o.finish_reason.as_deref(), Some("stop"));
    // The event split across frames is timed by the frame that completed it (125 ms).
    assert_eq!(o.token_chunk_ns, vec![95 * MS, 125 * MS, 140 * MS]);
    assert_eq!(o.usage.completion_tokens, Some(4));
    assert_eq!(o.usage.prompt_tokens, Some(9));
    let us = ours(&o);
    assert_eq!(us.ttft_ms, Some(95.0));
    assert!(close(us.tpot_ms.unwrap(), 45.0 / 3.0));
    assert_eq!(us.icl_ms, vec![30.0, 15.0]);

    let v = rec.vllm();
    // A role-only chunk with `content: null` still has choices: vLLM's TTFT is 5 ms early.
    assert_eq!(v.ttft_ms, 90.0);
    assert_eq!(v.itl_ms, vec![5.0, 30.0, 15.0, 15.0]);
    assert_eq!(v.latency_ms, 155.0);
    // llama-server puts usage in a chunk that also has choices, which vLLM's client never
    // reads: it would count the text with the model's tokenizer instead.
    assert_eq!(v.output_len, None);
    assert_eq!(v.tpot_ms, None);
}

#[test]
fn openai_tool_call_deltas_are_tokens_without_content() {
    let rec = load("openai-tool-call.sse");
    let o = rec.frontier();
    assert_eq!(o.text, "");
    // The call's generated text is kept (for a client tokenizer's count), apart from content.
    assert_eq!(o.tool_text, "get_weather{\"city\": \"Oslo\"}");
    assert_eq!(o.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(o.token_chunk_count, 3);
    assert_eq!(o.usage.completion_tokens, Some(9));
    assert_eq!(o.usage.reasoning_tokens, Some(0));
    let us = ours(&o);
    assert_eq!(
        us.ttft_ms,
        Some(200.0),
        "the function name is the first token"
    );
    assert_eq!(us.ttfo_ms, None, "no content at all");
    assert!(close(us.tpot_ms.unwrap(), 45.0 / 8.0));

    let v = rec.vllm();
    assert_eq!(v.ttft_ms, 200.0);
    assert_eq!(
        v.text, "",
        "vLLM's client sees no output text for a tool call"
    );
    assert_eq!(v.itl_ms, vec![30.0, 15.0, 15.0]);
    assert!(close(v.tpot_ms.unwrap(), 60.0 / 8.0));
    assert_eq!(v.latency_any_ms, 262.0);
}

#[test]
fn azure_content_filter_events_are_neither_tokens_nor_malformed() {
    let rec = load("azure-openai-content-filter.sse");
    let o = rec.frontier();
    assert_eq!(o.text, "The capital is Oslo.");
    assert_eq!(o.finish_reason.as_deref(), Some("stop"));
    assert_eq!(o.chunk_count, 8, "every data event but [DONE]");
    assert_eq!(
        o.token_chunk_count, 3,
        "the prompt-filter event, the empty role chunk and the filter-only chunks carry no token"
    );
    assert_eq!(o.usage.prompt_tokens, Some(14));
    assert_eq!(o.usage.completion_tokens, Some(5));
    let us = ours(&o);
    assert_eq!(us.ttft_ms, Some(200.0));
    assert_eq!(us.ttfo_ms, Some(200.0));
    assert_eq!(
        us.e2e_ms,
        Some(230.0),
        "the last token, not the filter results after it"
    );
    assert!(close(us.tpot_ms.unwrap(), 30.0 / 4.0));

    let v = rec.vllm();
    assert_eq!(v.text, "The capital is Oslo.");
    assert_eq!(
        v.ttft_ms, 180.0,
        "vLLM's client skips the event without choices but starts TTFT at the empty role chunk"
    );
}

#[test]
fn one_frame_holding_the_whole_stream_gives_one_timestamp() {
    let rec = load("vllm-chat-continuous.sse");
    let all: Vec<u8> = rec.frames.iter().flat_map(|(b, _)| b.clone()).collect();
    let o = replay_sse(0, [(all.as_slice(), 7 * MS)], 7 * MS);
    assert_eq!(o.chunk_tokens, vec![1, 2, 3, 1]);
    assert!(o.token_chunk_ns.iter().all(|&t| t == 7 * MS));
    let us = ours(&o);
    assert_eq!(us.itl_ms, vec![0.0; 6]);
}

#[test]
fn every_fixture_replays_the_same_when_frames_are_split_anywhere() {
    for name in [
        "azure-openai-content-filter.sse",
        "vllm-chat-continuous.sse",
        "sglang-reasoning.sse",
        "llama-cpp-chat.sse",
        "openai-tool-call.sse",
    ] {
        let rec = load(name);
        let all: Vec<u8> = rec.frames.iter().flat_map(|(b, _)| b.clone()).collect();
        let whole = replay_sse(0, [(all.as_slice(), MS)], MS);
        for cut in 1..all.len() {
            let split = replay_sse(0, [(&all[..cut], MS), (&all[cut..], MS)], MS);
            assert_eq!(split, whole, "{name} split at byte {cut}");
        }
    }
}
