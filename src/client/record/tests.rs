//! Recorded-stream tests: bodies shaped like real servers' (vLLM, SGLang, llama.cpp's
//! llama-server, OpenAI, TGI), replayed frame by frame with synthetic arrival times.

use super::*;
use crate::client::Usage;

/// Frame `i` arrives at `(i + 1) * 1000` ns.
fn at(i: usize) -> i64 {
    (i as i64 + 1) * 1000
}

/// Replay `frames` (one network frame each); `eof` says whether the body then ends cleanly.
fn replay_with(frames: &[&str], eof: bool) -> CallOutcome {
    let mut rec = Recorder::new();
    for (i, frame) in frames.iter().enumerate() {
        if rec.sse_frame(frame.as_bytes(), at(i)).is_break() {
            return rec.into_outcome();
        }
    }
    if eof {
        rec.sse_eof(at(frames.len()));
    }
    rec.into_outcome()
}

fn replay(frames: &[&str]) -> CallOutcome {
    replay_with(frames, true)
}

fn kind(out: &CallOutcome) -> Option<ErrorKind> {
    out.error.as_ref().map(|e| e.kind)
}

const VLLM_CHAT: &[&str] = &[
    "data: {\"id\":\"chatcmpl-9f1\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-9f1\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-9f1\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" capital\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    // Speculative decoding: one chunk, several tokens.
    "data: {\"id\":\"chatcmpl-9f1\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" is Paris.\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-9f1\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-9f1\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[],\"usage\":{\"prompt_tokens\":42,\"total_tokens\":47,\"completion_tokens\":5,\"prompt_tokens_details\":null}}\n\n",
    "data: [DONE]\n\n",
];

#[test]
fn vllm_chat_role_chunk_and_usage_only_chunk() {
    let out = replay(VLLM_CHAT);
    assert_eq!(out.error, None);
    assert_eq!(out.text, "The capital is Paris.");
    assert_eq!(out.reasoning_text, "");
    assert_eq!(out.chunk_count, 6);
    assert_eq!(
        out.token_chunk_count, 3,
        "role-only and empty chunks are not tokens"
    );
    assert_eq!(out.first_token_ns, Some(at(1)));
    assert_eq!(out.first_content_ns, Some(at(1)));
    assert_eq!(out.last_token_ns, Some(at(3)));
    assert_eq!(out.token_chunk_ns, vec![at(1), at(2), at(3)]);
    assert_eq!(out.end_ns, Some(at(6)), "end at [DONE]");
    assert_eq!(out.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        out.usage,
        Usage {
            prompt_tokens: Some(42),
            completion_tokens: Some(5),
            reasoning_tokens: None,
        }
    );
}

#[test]
fn whole_stream_in_one_frame_gives_one_timestamp() {
    let whole: String = VLLM_CHAT.concat();
    let out = replay(&[&whole]);
    let by_frame = replay(VLLM_CHAT);
    assert_eq!(out.text, by_frame.text);
    assert_eq!(out.token_chunk_count, by_frame.token_chunk_count);
    assert_eq!(out.first_token_ns, Some(at(0)));
    assert_eq!(out.last_token_ns, Some(at(0)));
    assert_eq!(out.token_chunk_ns, vec![at(0); 3]);
    assert_eq!(out.end_ns, Some(at(0)));
}

#[test]
fn every_two_way_split_of_a_recorded_stream_gives_the_same_outcome() {
    let whole: String = VLLM_CHAT.concat();
    let reference = replay(&[&whole]);
    for split in 0..=whole.len() {
        let (a, b) = whole.as_bytes().split_at(split);
        let mut rec = Recorder::new();
        // Same timestamp for both halves so the outcome must be identical.
        if rec.sse_frame(a, at(0)).is_continue() && rec.sse_frame(b, at(0)).is_continue() {
            rec.sse_eof(at(0));
        }
        assert_eq!(rec.into_outcome(), reference, "split at {split}");
    }
}

const SGLANG_CHAT: &[&str] = &[
    "data: {\"id\":\"4b5e\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"default\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"reasoning_content\":null,\"tool_calls\":null},\"logprobs\":null,\"finish_reason\":null,\"matched_stop\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"4b5e\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"default\",\"choices\":[{\"index\":0,\"delta\":{\"role\":null,\"content\":null,\"reasoning_content\":\"Let me think.\",\"tool_calls\":null},\"logprobs\":null,\"finish_reason\":null,\"matched_stop\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"4b5e\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"default\",\"choices\":[{\"index\":0,\"delta\":{\"role\":null,\"content\":\"4\",\"reasoning_content\":null,\"tool_calls\":null},\"logprobs\":null,\"finish_reason\":null,\"matched_stop\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"4b5e\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"default\",\"choices\":[{\"index\":0,\"delta\":{\"role\":null,\"content\":null,\"reasoning_content\":null,\"tool_calls\":null},\"logprobs\":null,\"finish_reason\":\"stop\",\"matched_stop\":128009}],\"usage\":null}\n\n",
    "data: {\"id\":\"4b5e\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"default\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"total_tokens\":27,\"completion_tokens\":7,\"prompt_tokens_details\":null,\"completion_tokens_details\":{\"reasoning_tokens\":5}}}\n\n",
    "data: [DONE]\n\n",
];

#[test]
fn sglang_reasoning_then_content() {
    let out = replay(SGLANG_CHAT);
    assert_eq!(out.error, None);
    assert_eq!(out.reasoning_text, "Let me think.");
    assert_eq!(out.text, "4");
    assert_eq!(out.token_chunk_count, 2);
    assert_eq!(
        out.first_token_ns,
        Some(at(1)),
        "reasoning is the first token"
    );
    assert_eq!(out.first_content_ns, Some(at(2)));
    assert_eq!(out.last_token_ns, Some(at(2)));
    assert_eq!(out.usage.reasoning_tokens, Some(5));
    assert_eq!(out.usage.completion_tokens, Some(7));
}

const LLAMA_SERVER_CHAT: &[&str] = &[
    "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null}}],\"created\":1740866276,\"id\":\"chatcmpl-eWAC\",\"model\":\"gpt-3.5-turbo\",\"system_fingerprint\":\"b4764-7ad0779f\",\"object\":\"chat.completion.chunk\"}\n\n",
    "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{\"content\":\"Hello\"}}],\"created\":1740866276,\"id\":\"chatcmpl-eWAC\",\"model\":\"gpt-3.5-turbo\",\"system_fingerprint\":\"b4764-7ad0779f\",\"object\":\"chat.completion.chunk\"}\n\n",
    "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{\"content\":\"!\"}}],\"created\":1740866276,\"id\":\"chatcmpl-eWAC\",\"model\":\"gpt-3.5-turbo\",\"system_fingerprint\":\"b4764-7ad0779f\",\"object\":\"chat.completion.chunk\"}\n\n",
    "data: {\"choices\":[{\"finish_reason\":\"stop\",\"index\":0,\"delta\":{}}],\"created\":1740866276,\"id\":\"chatcmpl-eWAC\",\"model\":\"gpt-3.5-turbo\",\"system_fingerprint\":\"b4764-7ad0779f\",\"object\":\"chat.completion.chunk\",\"usage\":{\"completion_tokens\":2,\"prompt_tokens\":43,\"total_tokens\":45},\"timings\":{\"prompt_n\":43,\"prompt_ms\":246.082,\"prompt_per_token_ms\":5.72,\"prompt_per_second\":174.7,\"predicted_n\":2,\"predicted_ms\":20.5,\"predicted_per_token_ms\":10.25,\"predicted_per_second\":97.5}}\n\n",
];

#[test]
fn llama_server_with_done() {
    let mut frames = LLAMA_SERVER_CHAT.to_vec();
    frames.push("data: [DONE]\n\n");
    let out = replay(&frames);
    assert_eq!(out.error, None);
    assert_eq!(out.text, "Hello!");
    assert_eq!(out.token_chunk_count, 2);
    assert_eq!(out.usage.completion_tokens, Some(2));
    assert_eq!(out.usage.prompt_tokens, Some(43));
    assert_eq!(out.end_ns, Some(at(4)));
}

#[test]
fn llama_server_without_done_succeeds_after_finish_reason() {
    let out = replay(LLAMA_SERVER_CHAT);
    assert_eq!(out.error, None);
    assert_eq!(out.text, "Hello!");
    assert_eq!(out.finish_reason.as_deref(), Some("stop"));
    assert_eq!(out.end_ns, Some(at(4)), "end at EOF");
}

#[test]
fn llama_server_completions_api() {
    let out = replay(&[
        "data: {\"choices\":[{\"text\":\"Hello\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}],\"created\":1757389182,\"model\":\"m\",\"object\":\"text_completion\",\"id\":\"c1\"}\n\n",
        "data: {\"choices\":[{\"text\":\" there\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}],\"created\":1757389182,\"model\":\"m\",\"object\":\"text_completion\",\"id\":\"c1\"}\n\n",
        "data: {\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"length\"}],\"created\":1757389182,\"model\":\"m\",\"object\":\"text_completion\",\"id\":\"c1\",\"usage\":{\"completion_tokens\":2,\"prompt_tokens\":3,\"total_tokens\":5}}\n\n",
        "data: [DONE]\n\n",
    ]);
    assert_eq!(out.error, None);
    assert_eq!(out.text, "Hello there");
    assert_eq!(out.token_chunk_count, 2);
    assert_eq!(out.finish_reason.as_deref(), Some("length"));
}

#[test]
fn llama_server_error_field_mid_stream() {
    let out = replay(&[
        LLAMA_SERVER_CHAT[1],
        "error: {\"code\":500,\"message\":\"the request exceeds the available context size\",\"type\":\"exceed_context_size_error\"}\n\n",
        "data: [DONE]\n\n",
    ]);
    assert_eq!(kind(&out), Some(ErrorKind::ServerError));
    assert_eq!(
        out.error.unwrap().message,
        "the request exceeds the available context size"
    );
    assert_eq!(out.text, "Hello", "text so far is kept");
    assert_eq!(out.end_ns, Some(at(1)));
}

const OPENAI_TOOL_CALL: &[&str] = &[
    "data: {\"id\":\"chatcmpl-A1\",\"object\":\"chat.completion.chunk\",\"created\":1727000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_abc\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}],\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-A1\",\"object\":\"chat.completion.chunk\",\"created\":1727000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-A1\",\"object\":\"chat.completion.chunk\",\"created\":1727000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"city\\\":\\\"Paris\\\"}\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-A1\",\"object\":\"chat.completion.chunk\",\"created\":1727000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-A1\",\"object\":\"chat.completion.chunk\",\"created\":1727000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_1\",\"choices\":[],\"usage\":{\"prompt_tokens\":80,\"completion_tokens\":17,\"total_tokens\":97,\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n",
    "data: [DONE]\n\n",
];

#[test]
fn openai_tool_call_deltas_are_tokens_but_not_content() {
    let out = replay(OPENAI_TOOL_CALL);
    assert_eq!(out.error, None);
    assert_eq!(
        out.token_chunk_count, 3,
        "name chunk and two argument chunks"
    );
    assert_eq!(out.first_token_ns, Some(at(0)));
    assert_eq!(out.last_token_ns, Some(at(2)));
    assert_eq!(out.first_content_ns, None);
    assert_eq!(out.text, "");
    assert_eq!(out.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(out.usage.completion_tokens, Some(17));
    assert_eq!(out.usage.reasoning_tokens, Some(0));
}

#[test]
fn reasoning_content_style_stream_over_crlf() {
    // DeepSeek-style `reasoning_content`, CRLF line endings and a keep-alive comment.
    let out = replay(&[
        "data: {\"id\":\"r1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"\"},\"finish_reason\":null}]}\r\n\r\n",
        ": keep-alive\r\n\r\n",
        "data: {\"id\":\"r1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":null,\"reasoning_content\":\"Two plus\"},\"finish_reason\":null}]}\r\n\r\n",
        "data: {\"id\":\"r1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":null,\"reasoning_content\":\" two.\"},\"finish_reason\":null}]}\r\n\r\n",
        "data: {\"id\":\"r1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"4\",\"reasoning_content\":null},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13,\"completion_tokens_details\":{\"reasoning_tokens\":3}}}\r\n\r\n",
        "data: [DONE]\r\n\r\n",
    ]);
    assert_eq!(out.error, None);
    assert_eq!(out.reasoning_text, "Two plus two.");
    assert_eq!(out.text, "4");
    assert_eq!(out.first_token_ns, Some(at(2)));
    assert_eq!(out.first_content_ns, Some(at(4)));
    assert_eq!(out.token_chunk_count, 3);
    assert_eq!(out.chunk_count, 4);
    assert_eq!(out.usage.reasoning_tokens, Some(3));
}

#[test]
fn vllm_reasoning_field_alias() {
    let out = replay(&[
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"hmm\",\"reasoning_content\":\"hmm\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    ]);
    assert_eq!(
        out.reasoning_text, "hmm",
        "both aliases in one delta count once"
    );
    assert_eq!(out.text, "ok");
}

#[test]
fn mid_stream_error_objects() {
    for error in [
        "{\"error\":{\"message\":\"CUDA out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}",
        "{\"error\":{\"object\":\"error\",\"message\":\"CUDA out of memory\",\"type\":\"InternalServerError\",\"param\":null,\"code\":500}}",
        "{\"object\":\"error\",\"message\":\"CUDA out of memory\",\"type\":\"InternalServerError\",\"param\":null,\"code\":500}",
        "{\"error\":\"CUDA out of memory\",\"error_type\":\"generation\"}",
    ] {
        let event = format!("data: {error}\n\n");
        let out = replay(&[
            VLLM_CHAT[0],
            VLLM_CHAT[1],
            &event,
            VLLM_CHAT[2],
            "data: [DONE]\n\n",
        ]);
        assert_eq!(kind(&out), Some(ErrorKind::ServerError), "{error}");
        assert_eq!(out.error.as_ref().unwrap().message, "CUDA out of memory");
        assert_eq!(out.text, "The", "text before the error is kept");
        assert_eq!(out.first_token_ns, Some(at(1)));
        assert_eq!(out.end_ns, Some(at(2)));
        assert_eq!(out.chunk_count, 3);
    }
}

#[test]
fn event_error_type_is_a_server_error() {
    let out = replay(&["event: error\ndata: overloaded, retry later\n\n"]);
    assert_eq!(kind(&out), Some(ErrorKind::ServerError));
    assert_eq!(out.error.unwrap().message, "overloaded, retry later");
}

#[test]
fn malformed_chunk_stops_the_stream() {
    let out = replay(&[
        VLLM_CHAT[1],
        "data: {\"choices\":[{\"delta\":\n\n",
        VLLM_CHAT[2],
    ]);
    assert_eq!(kind(&out), Some(ErrorKind::MalformedChunk));
    assert!(
        out.error
            .unwrap()
            .message
            .contains("{\"choices\":[{\"delta\":")
    );
    assert_eq!(out.text, "The");
    assert_eq!(out.end_ns, Some(at(1)));
    let out = replay(&["data: hello world\n\n"]);
    assert_eq!(kind(&out), Some(ErrorKind::MalformedChunk));
}

#[test]
fn eof_without_done_or_finish_reason_is_incomplete() {
    let out = replay(&VLLM_CHAT[..3]);
    assert_eq!(kind(&out), Some(ErrorKind::Incomplete));
    assert_eq!(out.text, "The capital");
    assert_eq!(out.end_ns, Some(at(3)));
    let empty = replay(&[]);
    assert_eq!(kind(&empty), Some(ErrorKind::Incomplete));
}

#[test]
fn last_event_without_blank_line_is_flushed_at_eof() {
    let out = replay(&[
        VLLM_CHAT[1],
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"!\"},\"finish_reason\":\"stop\"}]}",
    ]);
    assert_eq!(out.error, None);
    assert_eq!(out.text, "The!");
    assert_eq!(out.last_token_ns, Some(at(2)), "flushed at EOF time");
}

#[test]
fn data_after_done_is_ignored() {
    let out =
        replay(&["data: [DONE]\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n"]);
    assert_eq!(out.error, None);
    assert_eq!(out.text, "");
    assert_eq!(out.chunk_count, 0);
}

#[test]
fn tgi_stream_with_role_on_every_chunk() {
    let out = replay(&[
        "data: {\"object\":\"chat.completion.chunk\",\"id\":\"\",\"created\":1720000000,\"model\":\"tgi\",\"system_fingerprint\":\"2.4.0-native\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"object\":\"chat.completion.chunk\",\"id\":\"\",\"created\":1720000000,\"model\":\"tgi\",\"system_fingerprint\":\"2.4.0-native\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"!\"},\"logprobs\":null,\"finish_reason\":\"eos_token\"}],\"usage\":null}\n\n",
        "data: [DONE]\n\n",
    ]);
    assert_eq!(out.text, "Hi!");
    assert_eq!(out.token_chunk_count, 2, "role with content is a token");
    assert_eq!(out.first_token_ns, Some(at(0)));
}

#[test]
fn whole_json_responses() {
    let mut rec = Recorder::new();
    rec.json_body(
        br#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Paris","reasoning_content":"capital"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}"#,
        77,
    );
    let out = rec.into_outcome();
    assert_eq!(out.error, None);
    assert_eq!(out.text, "Paris");
    assert_eq!(out.reasoning_text, "capital");
    assert_eq!(out.first_token_ns, Some(77));
    assert_eq!(out.last_token_ns, Some(77));
    assert_eq!(out.end_ns, Some(77));
    assert_eq!((out.chunk_count, out.token_chunk_count), (1, 1));
    assert_eq!(out.usage.completion_tokens, Some(3));

    let mut rec = Recorder::new();
    rec.json_body(br#"{"error":{"message":"nope"}}"#, 5);
    assert_eq!(kind(&rec.out), Some(ErrorKind::ServerError));

    let mut rec = Recorder::new();
    rec.json_body(br#"{"id":"x"}"#, 5);
    assert_eq!(kind(&rec.out), Some(ErrorKind::MalformedChunk));

    let mut rec = Recorder::new();
    rec.json_body(b"<html>", 5);
    assert_eq!(kind(&rec.out), Some(ErrorKind::MalformedChunk));
}

#[test]
fn first_error_wins() {
    let mut rec = Recorder::new();
    rec.fail(ErrorKind::StreamCut, "cut", 10);
    rec.fail(ErrorKind::Timeout, "late", 20);
    let out = rec.into_outcome();
    assert_eq!(kind(&out), Some(ErrorKind::StreamCut));
    assert_eq!(out.end_ns, Some(10));
}

#[test]
fn usage_first_sent_in_the_last_content_chunk_is_a_total_not_an_advance() {
    // Nine content chunks without usage, then the tenth with finish_reason and usage 10: one
    // token per chunk (10 in all), not nine plus ten.
    let mut frames: Vec<String> = (0..9)
        .map(|i| {
            format!(
                "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"t{i} \"}}}}]}}\n\n"
            )
        })
        .collect();
    frames.push(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"end\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":10}}\n\n".to_string(),
    );
    frames.push("data: [DONE]\n\n".to_string());
    let refs: Vec<&str> = frames.iter().map(String::as_str).collect();
    let out = replay(&refs);
    assert_eq!(out.error, None);
    assert_eq!(out.chunk_tokens, vec![1; 10]);
    assert_eq!(out.chunks_with_usage, 0);
    assert_eq!(out.usage.completion_tokens, Some(10));
    // With usage in every chunk (continuous usage stats) the advances are the counts.
    let cont: Vec<String> = [2, 5, 6]
        .iter()
        .map(|c| format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"x\"}}}}],\"usage\":{{\"completion_tokens\":{c}}}}}\n\n"))
        .collect();
    let refs: Vec<&str> = cont.iter().map(String::as_str).collect();
    let out = replay(&refs);
    assert_eq!(out.chunk_tokens, vec![2, 3, 1]);
    assert_eq!(out.chunks_with_usage, 3);
}

#[test]
fn a_body_cut_inside_its_last_event_is_incomplete_not_malformed() {
    let ok = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n";
    let cut = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"c";
    let out = replay_with(&[ok, ok, cut], true);
    assert_eq!(
        out.error.as_ref().map(|e| e.kind),
        Some(ErrorKind::Incomplete),
        "{:?}",
        out.error
    );
    assert_eq!(out.chunk_count, 2, "the cut fragment is not a chunk");
    assert_eq!(out.text, "aa");
    // A complete last line without its blank line is still an event (lenient), and a
    // malformed line that was terminated is still malformed.
    let last = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}";
    let out = replay_with(&[ok, last], true);
    assert_eq!(out.error, None);
    assert_eq!(out.text, "ab");
    let bad = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"c\n\n";
    let out = replay_with(&[ok, bad], true);
    assert_eq!(out.error.map(|e| e.kind), Some(ErrorKind::MalformedChunk));
}

/// Replay `frames` through a recorder with `limits`.
fn replay_limited(limits: Limits, frames: &[&[u8]]) -> CallOutcome {
    let mut rec = Recorder::with_limits(limits);
    for (i, frame) in frames.iter().enumerate() {
        if rec.sse_frame(frame, at(i)).is_break() {
            return rec.into_outcome();
        }
    }
    rec.sse_eof(at(frames.len()));
    rec.into_outcome()
}

const SMALL: Limits = Limits {
    event_bytes: 100,
    text_bytes: 50,
    token_chunks: 4,
};

#[test]
fn an_event_that_never_ends_is_stopped_at_the_event_limit() {
    let content = "data: {\"choices\":[{\"delta\":{\"content\":\"ab\"}}]}\n\n";
    let line = [b"data: ".as_slice(), &[b'x'; 60]].concat();
    for frames in [
        // A line without a line ending, over several frames.
        vec![content.as_bytes(), &line, &line],
        // Data lines without the blank line that ends the event.
        vec![
            content.as_bytes(),
            b"data: 1234567890\n",
            b"data: 12345\n".repeat(20).as_slice(),
        ],
        // Error lines likewise, and an event type that never ends.
        vec![content.as_bytes(), b"error: 12345\n".repeat(20).as_slice()],
        vec![content.as_bytes(), b"event: ", &[b'e'; 101]],
    ] {
        let out = replay_limited(SMALL, &frames);
        assert_eq!(
            kind(&out),
            Some(ErrorKind::MalformedChunk),
            "{:?}",
            out.error
        );
        let message = &out.error.as_ref().unwrap().message;
        assert!(
            message.starts_with("an SSE event grew past 100 bytes without ending")
                && message.ends_with("after 1 data events"),
            "{message}"
        );
        assert_eq!(out.text, "ab", "text so far is kept");
        assert_eq!(out.end_ns, Some(at(frames.len() - 1)));
    }
    // Exactly at the limit is fine, and every event starts from nothing.
    let at_limit = [b"data: ".as_slice(), &[b' '; 94]].concat();
    let out = replay_limited(SMALL, &[&at_limit, b"\n\n", &at_limit, b"\n\n"]);
    assert_eq!(kind(&out), Some(ErrorKind::Incomplete), "{:?}", out.error);
}

#[test]
fn an_answer_is_stopped_at_the_text_and_token_chunk_limits() {
    let chunk = |field: &str, text: &str| {
        format!("data: {{\"choices\":[{{\"delta\":{{\"{field}\":\"{text}\"}}}}]}}\n\n")
    };
    // 20 + 20 + 20 bytes of content, reasoning and tool text: past 50 on the third frame.
    let tool = "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"cccccccccccccccccccc\"}}]}}]}\n\n";
    let frames = [
        chunk("content", &"a".repeat(20)),
        chunk("reasoning_content", &"b".repeat(20)),
        tool.to_string(),
        chunk("content", "never read"),
    ];
    let frames: Vec<&[u8]> = frames.iter().map(|f| f.as_bytes()).collect();
    let out = replay_limited(SMALL, &frames);
    assert_eq!(
        kind(&out),
        Some(ErrorKind::MalformedChunk),
        "{:?}",
        out.error
    );
    assert_eq!(
        out.error.unwrap().message,
        "the answer went past 50 bytes of text (content, reasoning and tool calls) after 3 data events"
    );
    assert_eq!((out.end_ns, out.text.len()), (Some(at(2)), 20));

    // Five one-byte token chunks, in one frame: past 4.
    let five = chunk("content", "x").repeat(5);
    let out = replay_limited(SMALL, &[five.as_bytes(), b"data: [DONE]\n\n"]);
    assert_eq!(
        out.error.unwrap().message,
        "the answer went past 4 token-bearing chunks after 5 data events"
    );
    let four = chunk("content", "x").repeat(4);
    let out = replay_limited(SMALL, &[four.as_bytes(), b"data: [DONE]\n\n"]);
    assert_eq!((out.error, out.token_chunk_count), (None, 4));
}

#[test]
fn negative_and_extreme_usage_counts_never_overflow() {
    let usage = |c: i64| {
        format!(
            "data: {{\"choices\":[{{\"delta\":{{\"content\":\"t\"}}}}],\"usage\":{{\"prompt_tokens\":{c},\"completion_tokens\":{c},\"completion_tokens_details\":{{\"reasoning_tokens\":{c}}}}}}}\n\n"
        )
    };
    // A running total that jumps between the extremes (a negative one made the advance
    // overflow); a negative count ends the running total like a chunk without usage does.
    let frames = [
        usage(i64::MAX),
        usage(0),
        usage(i64::MAX),
        usage(i64::MIN),
        usage(i64::MAX),
        "data: [DONE]\n\n".to_string(),
    ];
    let frames: Vec<&str> = frames.iter().map(String::as_str).collect();
    let out = replay(&frames);
    assert_eq!(out.error, None);
    assert_eq!(out.token_chunk_count, 5);
    assert_eq!(
        out.usage,
        Usage {
            prompt_tokens: Some(i64::MAX),
            completion_tokens: Some(i64::MAX),
            reasoning_tokens: Some(i64::MAX),
        }
    );
    assert_eq!(out.chunk_tokens, vec![u32::MAX, 1, u32::MAX, 1, 1]);
    // A negative count is not a count: not reported.
    let out = replay(&[&usage(-5), "data: [DONE]\n\n"]);
    assert_eq!(out.usage, Usage::default());
}
