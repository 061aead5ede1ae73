//! End-to-end tests of the simulated engine over real HTTP on 127.0.0.1.
//!
//! Timing tests use scripted profiles whose model values are tens to hundreds of milliseconds,
//! so that the tolerances (a few ms for the runtime's 1 ms timer, more for a loaded CI machine)
//! stay small relative to what is being checked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Knowledge, SimConfig, SimServer};
use crate::spec::SimProfile;

const MODEL: &str = "sim-model";

/// A profile that costs no time at all.
fn instant_profile() -> SimProfile {
    SimProfile {
        decode_ms: 0.0,
        decode_ms_per_seq: 0.0,
        prefill_tok_s: 0.0,
        ..SimProfile::default()
    }
}

fn capital_knowledge() -> Knowledge {
    Knowledge::new(vec![
        (
            "What is the capital of France?".into(),
            vec!["Paris is the capital".into(), "Paris".into()],
        ),
        ("What is the capital of Italy?".into(), vec!["Rome".into()]),
    ])
}

async fn start(profile: SimProfile, knowledge: Knowledge) -> SimServer {
    let config = SimConfig {
        model: MODEL.into(),
        profile,
        knowledge: Arc::new(knowledge),
        first_token_log: None,
    };
    SimServer::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind")
}

/// JSON in and out without reqwest's `json` feature.
trait JsonExt {
    fn json_body(self, body: &Value) -> Self;
}

impl JsonExt for reqwest::RequestBuilder {
    fn json_body(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(serde_json::to_vec(body).expect("JSON"))
    }
}

async fn read_json(response: reqwest::Response) -> Value {
    let bytes = response.bytes().await.expect("body");
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"))
}

fn client() -> reqwest::Client {
    // reqwest is built without a default TLS provider; plain http does not use it, but building
    // a client requires one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// One SSE `data:` payload and when it arrived.
struct Event {
    at: Instant,
    data: String,
}

impl Event {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {}", self.data))
    }

    /// Whether this chunk carries a token (content or text), as opposed to role-only or usage.
    fn is_token(&self) -> bool {
        if self.data == "[DONE]" {
            return false;
        }
        let chunk = self.json();
        let choice = &chunk["choices"][0];
        choice["delta"]["content"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
            || choice["text"].is_string()
    }
}

/// A streamed response: the raw body and its events.
struct Streamed {
    sent: Instant,
    raw: String,
    events: Vec<Event>,
}

impl Streamed {
    /// When the first token arrived.
    fn first_token_at(&self) -> Instant {
        self.events
            .iter()
            .find(|e| e.is_token())
            .expect("a token")
            .at
    }

    /// Time to first token, from just before the request was sent.
    fn first_token(&self) -> Duration {
        self.first_token_at() - self.sent
    }

    fn token_times(&self) -> Vec<Instant> {
        self.events
            .iter()
            .filter(|e| e.is_token())
            .map(|e| e.at)
            .collect()
    }

    fn text(&self) -> String {
        self.events
            .iter()
            .filter(|e| e.is_token())
            .map(|e| {
                let chunk = e.json();
                let choice = &chunk["choices"][0];
                choice["delta"]["content"]
                    .as_str()
                    .or(choice["text"].as_str())
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

async fn stream(client: &reqwest::Client, url: &str, body: Value) -> Streamed {
    let sent = Instant::now();
    let mut response = client
        .post(url)
        .json_body(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let mut raw = String::new();
    let mut pending = String::new();
    let mut events = Vec::new();
    while let Some(chunk) = response.chunk().await.expect("body") {
        let at = Instant::now();
        let text = std::str::from_utf8(&chunk).expect("utf-8");
        raw.push_str(text);
        pending.push_str(text);
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            let data = event
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data event: {event:?}"));
            events.push(Event {
                at,
                data: data.trim_end_matches('\n').to_owned(),
            });
        }
    }
    assert!(pending.is_empty(), "trailing bytes: {pending:?}");
    Streamed { sent, raw, events }
}

fn chat_body(prompt: &str, extra: Value) -> Value {
    let mut body = json!({
        "model": MODEL,
        "messages": [{"role": "user", "content": prompt}],
        "temperature": 0.0,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

fn perfect() -> SimProfile {
    SimProfile {
        quality: 1.0,
        ..instant_profile()
    }
}

#[tokio::test]
async fn chat_stream_is_vllm_shaped() {
    let server = start(perfect(), capital_knowledge()).await;
    let url = format!("{}/chat/completions", server.base_url());
    let prompt = "Answer briefly. What is the capital of France?";
    let got = stream(&client(), &url, chat_body(prompt, json!({}))).await;

    assert!(got.raw.starts_with("data: {"));
    assert!(got.raw.ends_with("}\n\ndata: [DONE]\n\n"));
    let events = &got.events;
    assert_eq!(events.len(), 1 + 4 + 1 + 1, "{}", got.raw);

    let role = events[0].json();
    assert_eq!(role["object"], "chat.completion.chunk");
    assert_eq!(role["model"], MODEL);
    assert!(role["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(
        role["choices"],
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}])
    );

    let tokens: Vec<Value> = events[1..5].iter().map(Event::json).collect();
    let texts: Vec<&str> = tokens
        .iter()
        .map(|t| t["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Paris", " is", " the", " capital"]);
    for token in &tokens[..3] {
        assert_eq!(token["choices"][0]["finish_reason"], Value::Null);
        assert_eq!(token["id"], role["id"]);
        assert!(token.get("usage").is_none());
    }
    assert_eq!(tokens[3]["choices"][0]["finish_reason"], "stop");

    let usage = events[5].json();
    assert_eq!(usage["choices"], json!([]));
    let prompt_tokens = prompt.len().div_ceil(4) as u64;
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": prompt_tokens, "completion_tokens": 4, "total_tokens": prompt_tokens + 4})
    );
    assert_eq!(events[6].data, "[DONE]");
    server.shutdown().await;
}

#[tokio::test]
async fn completions_stream_has_no_role_chunk() {
    let server = start(perfect(), capital_knowledge()).await;
    let url = format!("{}/completions", server.base_url());
    let body = json!({
        "model": MODEL,
        "prompt": "Q: What is the capital of Italy?\nA:",
        "temperature": 0,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let got = stream(&client(), &url, body).await;
    let events: Vec<Value> = got.events[..got.events.len() - 1]
        .iter()
        .map(Event::json)
        .collect();
    assert_eq!(events.len(), 2, "{}", got.raw);
    assert_eq!(events[0]["object"], "text_completion");
    assert_eq!(
        events[0]["choices"],
        json!([{"index": 0, "text": "Rome", "logprobs": null, "finish_reason": "stop", "stop_reason": null}])
    );
    assert_eq!(events[1]["choices"], json!([]));
    assert_eq!(events[1]["usage"]["completion_tokens"], 1);
    assert_eq!(got.events.last().unwrap().data, "[DONE]");
    server.shutdown().await;
}

#[tokio::test]
async fn usage_chunk_only_when_asked() {
    let server = start(perfect(), capital_knowledge()).await;
    let url = format!("{}/chat/completions", server.base_url());
    let body = chat_body(
        "What is the capital of France?",
        json!({"stream_options": {"include_usage": false}}),
    );
    let got = stream(&client(), &url, body).await;
    assert_eq!(got.events.len(), 1 + 4 + 1);
    assert!(got.events.iter().all(|e| !e.data.contains("usage")));
    assert_eq!(got.text(), "Paris is the capital");
    server.shutdown().await;
}

#[tokio::test]
async fn non_streaming_returns_one_completion_with_usage() {
    let server = start(perfect(), capital_knowledge()).await;
    let http = client();
    let chat = read_json(
        http
        .post(format!("{}/chat/completions", server.base_url()))
        .json_body(&json!({
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": [{"type": "text", "text": "What is the capital of Italy?"}]},
            ],
            "temperature": 0.0,
            "max_completion_tokens": 16,
        }))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(chat["object"], "chat.completion");
    assert_eq!(
        chat["choices"][0]["message"],
        json!({"role": "assistant", "content": "Rome"})
    );
    assert_eq!(chat["choices"][0]["finish_reason"], "stop");
    // "You are terse." + "\n" + "What is the capital of Italy?" = 44 bytes = 11 tokens.
    assert_eq!(
        chat["usage"],
        json!({"prompt_tokens": 11, "completion_tokens": 1, "total_tokens": 12})
    );

    let completion = read_json(
        http.post(format!("{}/completions", server.base_url()))
            .json_body(&json!({
                "model": MODEL,
                "prompt": ["What is the capital of France?"],
                "temperature": 0.0,
                "max_tokens": 2,
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(completion["object"], "text_completion");
    assert_eq!(completion["choices"][0]["text"], "Paris is");
    assert_eq!(completion["choices"][0]["finish_reason"], "length");
    assert_eq!(completion["usage"]["completion_tokens"], 2);
    server.shutdown().await;
}

#[tokio::test]
async fn models_and_health() {
    let server = start(instant_profile(), Knowledge::default()).await;
    let http = client();
    let base = format!("http://{}", server.addr());
    let health = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let models = read_json(http.get(format!("{base}/v1/models")).send().await.unwrap()).await;
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], MODEL);
    // vLLM's model card carries the context length.
    assert_eq!(models["data"][0]["max_model_len"], 32768);
    let missing = http.get(format!("{base}/v2/nothing")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let wrong_method = http
        .get(format!("{base}/v1/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    server.shutdown().await;
}

/// Assert an OpenAI-style error object and return its message.
async fn expect_error(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    let body = read_json(response).await;
    let error = &body["error"];
    assert!(error["type"].is_string(), "{body}");
    assert_eq!(error["code"], status, "{body}");
    error["message"].as_str().expect("message").to_owned()
}

#[tokio::test]
async fn wrong_model_is_404() {
    let server = start(instant_profile(), Knowledge::default()).await;
    let response = client()
        .post(format!("{}/chat/completions", server.base_url()))
        .json_body(&json!({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, 404).await;
    assert!(message.contains("gpt-9"), "{message}");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_requests_are_400() {
    let server = start(instant_profile(), Knowledge::default()).await;
    let http = client();
    let chat = format!("{}/chat/completions", server.base_url());
    let completions = format!("{}/completions", server.base_url());
    let cases: [(&str, String); 7] = [
        (&chat, "{not json".into()),
        (
            &chat,
            json!({"messages": [{"role": "user", "content": "hi"}]}).to_string(),
        ),
        (&chat, json!({"model": MODEL}).to_string()),
        (&chat, json!({"model": MODEL, "messages": []}).to_string()),
        (
            &completions,
            json!({"model": MODEL, "messages": [{"role": "user", "content": "x"}]}).to_string(),
        ),
        (
            &completions,
            json!({"model": MODEL, "prompt": "x", "max_tokens": 0}).to_string(),
        ),
        (
            &completions,
            json!({"model": MODEL, "prompt": "x", "max_tokens": "many"}).to_string(),
        ),
    ];
    for (url, body) in cases {
        let response = http
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let message = expect_error(response, 400).await;
        assert!(!message.is_empty(), "{body}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn ignore_eos_generates_exactly_max_tokens() {
    let server = start(perfect(), capital_knowledge()).await;
    let url = format!("{}/chat/completions", server.base_url());
    let http = client();
    for prompt in ["What is the capital of France?", "Tell me a story."] {
        let body = chat_body(prompt, json!({"max_tokens": 37, "ignore_eos": true}));
        let got = stream(&http, &url, body).await;
        assert_eq!(got.token_times().len(), 37, "{}", got.raw);
        let usage = got.events[got.events.len() - 2].json();
        assert_eq!(usage["usage"]["completion_tokens"], 37);
        let last_token = &got.events[got.events.len() - 3].json();
        assert_eq!(last_token["choices"][0]["finish_reason"], "length");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_prompts_get_default_output_tokens() {
    let profile = SimProfile {
        default_output_tokens: 12,
        ..instant_profile()
    };
    let server = start(profile, capital_knowledge()).await;
    let url = format!("{}/chat/completions", server.base_url());
    let http = client();
    let got = stream(&http, &url, chat_body("Hello there", json!({}))).await;
    assert_eq!(got.token_times().len(), 12);
    assert!(got.raw.contains("\"finish_reason\":\"stop\""));
    let got = stream(
        &http,
        &url,
        chat_body("Hello there", json!({"max_tokens": 5})),
    )
    .await;
    assert_eq!(got.token_times().len(), 5);
    assert!(got.raw.contains("\"finish_reason\":\"length\""));
    server.shutdown().await;
}

#[tokio::test]
async fn injected_faults_are_500_with_an_error_object() {
    let profile = SimProfile {
        error_rate: 1.0,
        ..instant_profile()
    };
    let server = start(profile, Knowledge::default()).await;
    let response = client()
        .post(format!("{}/completions", server.base_url()))
        .json_body(&json!({"model": MODEL, "prompt": "hi", "stream": true}))
        .send()
        .await
        .unwrap();
    expect_error(response, 500).await;
    server.shutdown().await;
}

/// Which of `n` requests fail, sent one after another.
async fn fault_pattern(seed: u64, n: usize) -> Vec<bool> {
    let profile = SimProfile {
        error_rate: 0.25,
        seed,
        ..instant_profile()
    };
    let server = start(profile, Knowledge::default()).await;
    let http = client();
    let url = format!("{}/completions", server.base_url());
    let mut failed = Vec::with_capacity(n);
    for i in 0..n {
        let response = http
            .post(&url)
            .json_body(&json!({"model": MODEL, "prompt": format!("request {i}"), "max_tokens": 1}))
            .send()
            .await
            .unwrap();
        failed.push(response.status() == 500);
    }
    server.shutdown().await;
    failed
}

#[tokio::test]
async fn fault_rate_is_seeded() {
    let n = 400;
    let first = fault_pattern(3, n).await;
    let rate = first.iter().filter(|&&f| f).count() as f64 / n as f64;
    // sd = sqrt(0.25 * 0.75 / 400) ~ 0.022.
    assert!((rate - 0.25).abs() < 0.09, "fault rate {rate}");
    assert_eq!(first, fault_pattern(3, n).await);
}

/// Which of the requests `prompts` fail, sent one after another in that order, each
/// `times` times.
async fn faults_of(seed: u64, prompts: &[String], times: usize) -> Vec<Vec<bool>> {
    let profile = SimProfile {
        error_rate: 0.25,
        seed,
        ..instant_profile()
    };
    let server = start(profile, Knowledge::default()).await;
    let http = client();
    let url = format!("{}/completions", server.base_url());
    let mut failed = Vec::with_capacity(prompts.len());
    for prompt in prompts {
        let mut each = Vec::with_capacity(times);
        for _ in 0..times {
            let response = http
                .post(&url)
                .json_body(&json!({"model": MODEL, "prompt": prompt, "max_tokens": 1}))
                .send()
                .await
                .unwrap();
            each.push(response.status() == 500);
        }
        failed.push(each);
    }
    server.shutdown().await;
    failed
}

#[tokio::test]
async fn faults_follow_the_request_not_the_arrival_order() {
    // Concurrent requests arrive in another order in every run; the same requests must still
    // fail (they were drawn in arrival order: about half the failures moved to other cases
    // between two runs of a pipeline at concurrency 32).
    let prompts: Vec<String> = (0..200).map(|i| format!("request {i}")).collect();
    let forward = faults_of(5, &prompts, 1).await;
    let mut reversed_prompts = prompts.clone();
    reversed_prompts.reverse();
    let mut backward = faults_of(5, &reversed_prompts, 1).await;
    backward.reverse();
    assert_eq!(forward, backward);
    let failed = forward.iter().filter(|f| f[0]).count();
    // sd = sqrt(200 * 0.25 * 0.75) ~ 6.1.
    assert!((20..=80).contains(&failed), "{failed} of 200 failed");
    // Repeats of one identical request are drawn independently, not all or none.
    let repeated = faults_of(5, &prompts[..1], 200).await;
    let failed = repeated[0].iter().filter(|&&f| f).count();
    assert!(
        (20..=80).contains(&failed),
        "{failed} of 200 repeats failed"
    );
    assert_eq!(repeated, faults_of(5, &prompts[..1], 200).await);
}

/// Answers to `n` distinct known questions asked over HTTP.
async fn answers(profile: SimProfile, n: usize) -> Vec<String> {
    let knowledge = Knowledge::new(
        (0..n)
            .map(|i| {
                (
                    format!("What is fact number {i}?"),
                    vec![format!("fact {i}")],
                )
            })
            .collect(),
    );
    let server = start(profile, knowledge).await;
    let http = client();
    let url = format!("{}/chat/completions", server.base_url());
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let body = read_json(
            http.post(&url)
                .json_body(&json!({
                    "model": MODEL,
                    "messages": [
                        {"role": "system", "content": "Answer with the fact only."},
                        {"role": "user", "content": format!("What is fact number {i}?")},
                    ],
                    "temperature": 0.5,
                }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        out.push(
            body["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    server.shutdown().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oracle_accuracy_over_http_matches_p_and_is_reproducible() {
    let n = 600;
    let profile = SimProfile {
        quality: 0.8,
        temperature_sensitivity: 0.4,
        seed: 11,
        ..instant_profile()
    };
    let p = 0.8 - 0.4 * 0.5;
    let first = answers(profile.clone(), n).await;
    let correct = first
        .iter()
        .enumerate()
        .filter(|(i, a)| **a == format!("fact {i}"))
        .count();
    let rate = correct as f64 / n as f64;
    let sd = (p * (1.0 - p) / n as f64).sqrt();
    assert!((rate - p).abs() < 4.0 * sd, "accuracy {rate} vs p {p}");
    // Wrong answers are other facts, never the right one.
    assert!(first.iter().all(|a| a.starts_with("fact ")));
    assert_eq!(first, answers(profile, n).await);
}

/// A profile where time matters: `decode_ms` per step, prefill at 1000 tokens/s.
fn timed_profile(slots: u32, decode_ms: f64, decode_ms_per_seq: f64) -> SimProfile {
    SimProfile {
        slots,
        decode_ms,
        decode_ms_per_seq,
        prefill_tok_s: 1000.0,
        ..SimProfile::default()
    }
}

/// Tests that compare measured times with the model run one at a time, so that they do not
/// load the (2-core) machine for each other.
static TIMED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_ttft_is_prefill_plus_one_decode_step() {
    let _timed = TIMED.lock().await;
    let server = start(timed_profile(4, 20.0, 0.0), Knowledge::default()).await;
    let url = format!("{}/completions", server.base_url());
    let http = client();
    // Warm the connection so the measurement has no TCP handshake in it.
    http.get(format!("http://{}/health", server.addr()))
        .send()
        .await
        .unwrap();
    // Scheduling noise on a shared machine delays tokens (and a late first token shortens the
    // apparent TPOT), while a modelling bug shows in every request: three sequential requests,
    // and one of them must match the model; none may ever be early.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let body = json!({
            "model": MODEL,
            "prompt": "x".repeat(400), // 100 tokens: 100 ms of prefill
            "max_tokens": 5,
            "stream": true,
        });
        let got = stream(&http, &url, body).await;
        let ttft = ms(got.first_token());
        assert!(
            ttft >= 119.0,
            "TTFT {ttft} ms is earlier than the model's 120 ms"
        );
        // Then one 20 ms decode step per token.
        let times = got.token_times();
        let tpot = ms(times[4] - times[0]) / 4.0;
        seen.push((ttft, tpot));
        if (119.0..135.0).contains(&ttft) && (19.0..24.0).contains(&tpot) {
            break;
        }
    }
    eprintln!("idle (TTFT, TPOT) ms: {seen:?}");
    assert!(
        seen.iter()
            .any(|(ttft, tpot)| (119.0..135.0).contains(ttft) && (19.0..24.0).contains(tpot)),
        "(TTFT, TPOT) {seen:?} ms, model (120, 20) ms"
    );
    server.shutdown().await;
}

/// Send `prompts` concurrently, `stagger` apart, and stream each.
async fn concurrent(
    server: &SimServer,
    count: usize,
    max_tokens: u32,
    stagger: Duration,
) -> Vec<Streamed> {
    let http = client();
    let url = format!("{}/completions", server.base_url());
    let mut tasks = Vec::new();
    for i in 0..count {
        let http = http.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(stagger * i as u32).await;
            let body = json!({
                "model": MODEL,
                "prompt": format!("{:0>40}", i), // 40 bytes: 10 tokens, 10 ms of prefill
                "max_tokens": max_tokens,
                "ignore_eos": true,
                "stream": true,
            });
            stream(&http, &url, body).await
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slot_queues_requests_behind_each_other() {
    let _timed = TIMED.lock().await;
    // 10 tokens each: 10 ms prefill + 10 steps of 20 ms = 210 ms per request when alone.
    // Scheduling noise on a loaded machine only adds time; a real queueing bug fails every
    // attempt, so the model has three attempts to show through.
    let mut last = String::new();
    for _ in 0..3 {
        let server = start(timed_profile(1, 20.0, 0.0), Knowledge::default()).await;
        let got = concurrent(&server, 3, 10, Duration::from_millis(5)).await;
        server.shutdown().await;
        match one_slot_check(&got) {
            Ok(()) => return,
            Err(e) => last = e,
        }
    }
    panic!("{last}");
}

fn one_slot_check(got: &[Streamed]) -> Result<(), String> {
    let ttfts: Vec<f64> = got.iter().map(|s| ms(s.first_token())).collect();
    eprintln!("one slot TTFTs {ttfts:?}");
    if !(29.0..50.0).contains(&ttfts[0]) {
        return Err(format!("first TTFT {ttfts:?}"));
    }
    for i in 1..3 {
        // Each request starts one step after the previous one finished: its first token comes
        // a full generation (210 ms) after the previous request's first token...
        let gap = ms(got[i].first_token_at() - got[i - 1].first_token_at());
        if !(200.0..225.0).contains(&gap) {
            return Err(format!("first tokens {gap} ms apart"));
        }
        // ...so its TTFT is larger by about that much (less the 5 ms stagger).
        let growth = ttfts[i] - ttfts[i - 1];
        if !(180.0..225.0).contains(&growth) {
            return Err(format!("TTFTs {ttfts:?}"));
        }
    }
    Ok(())
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let values: Vec<f64> = values.collect();
    values.iter().sum::<f64>() / values.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttft_grows_when_slots_are_few() {
    let _timed = TIMED.lock().await;
    let mut mean_ttft = Vec::new();
    for slots in [8, 2] {
        let server = start(timed_profile(slots, 10.0, 1.0), Knowledge::default()).await;
        let got = concurrent(&server, 8, 20, Duration::ZERO).await;
        mean_ttft.push(mean(got.iter().map(|s| ms(s.first_token()))));
        server.shutdown().await;
    }
    // 8 slots: everyone starts within the first two steps (at most ~80 ms of prefill plus a
    // 17 ms decode). 2 slots: pairs queue behind each other's 20-token generations (~220 ms).
    let (many, few) = (mean_ttft[0], mean_ttft[1]);
    eprintln!("mean TTFT 8 slots {many} ms, 2 slots {few} ms");
    assert!(many < 130.0, "mean TTFT with 8 slots {many} ms");
    assert!(
        few > 2.5 * many,
        "mean TTFT {few} ms with 2 slots vs {many} ms with 8"
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_step_time_grows_with_batch_size() {
    let _timed = TIMED.lock().await;
    // decode 10 ms + 5 ms per extra sequence: 10 ms alone, 35 ms for a batch of 6.
    let mut itls = Vec::new();
    for batch in [1, 6] {
        let profile = SimProfile {
            prefill_tok_s: 0.0, // free prefill: only decode steps between tokens
            ..timed_profile(8, 10.0, 5.0)
        };
        let server = start(profile, Knowledge::default()).await;
        let got = concurrent(&server, batch, 12, Duration::ZERO).await;
        let gaps = got
            .iter()
            .flat_map(|s| {
                let t = s.token_times();
                t.windows(2).map(|w| ms(w[1] - w[0])).collect::<Vec<_>>()
            })
            .collect();
        itls.push(median(gaps));
        server.shutdown().await;
    }
    eprintln!("median ITL {itls:?}");
    assert!((9.5..12.5).contains(&itls[0]), "median ITL alone {itls:?}");
    assert!(
        (34.0..38.0).contains(&itls[1]),
        "median ITL in a batch of 6 {itls:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_capacity_limits_the_batch() {
    let _timed = TIMED.lock().await;
    // Each request reserves 10 prompt + 10 output tokens; 30 fit one at a time.
    let profile = SimProfile {
        kv_tokens: 30,
        ..timed_profile(8, 20.0, 0.0)
    };
    let server = start(profile, Knowledge::default()).await;
    let got = concurrent(&server, 2, 10, Duration::from_millis(5)).await;
    let growth = ms(got[1].first_token_at() - got[0].first_token_at());
    eprintln!("kv growth {growth}");
    assert!(
        (200.0..225.0).contains(&growth),
        "second request should queue, growth {growth}"
    );

    // A request that can never fit is refused like vLLM's context-length error.
    let response = client()
        .post(format!("{}/completions", server.base_url()))
        .json_body(&json!({"model": MODEL, "prompt": "x".repeat(400), "max_tokens": 10}))
        .send()
        .await
        .unwrap();
    // It names the KV capacity, not the context length (32768 here) it is not.
    let message = expect_error(response, 400).await;
    assert!(
        message.contains("KV capacity of 30 tokens") && !message.contains("context length"),
        "{message}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnected_clients_free_their_slot() {
    let server = start(timed_profile(1, 20.0, 0.0), Knowledge::default()).await;
    let http = client();
    let url = format!("{}/completions", server.base_url());
    let long = json!({
        "model": MODEL, "prompt": "long", "max_tokens": 500, "ignore_eos": true, "stream": true,
    });
    let mut response = http.post(&url).json_body(&long).send().await.unwrap();
    let _first = response.chunk().await.unwrap();
    drop(response); // 500 tokens would hold the only slot for 10 s
    tokio::time::sleep(Duration::from_millis(50)).await;
    let short = json!({"model": MODEL, "prompt": "short", "max_tokens": 2, "stream": true});
    let got = stream(&http, &url, short).await;
    assert!(
        ms(got.first_token()) < 200.0,
        "{} ms",
        ms(got.first_token())
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_streams_in_flight_finish() {
    let server = start(timed_profile(4, 20.0, 0.0), Knowledge::default()).await;
    let url = format!("{}/completions", server.base_url());
    let body = json!({"model": MODEL, "prompt": "hi", "max_tokens": 20, "stream": true});
    let http = client();
    let in_flight = tokio::spawn(async move { stream(&http, &url, body).await });
    tokio::time::sleep(Duration::from_millis(150)).await; // of a ~420 ms stream
    server.shutdown().await;
    let got = in_flight.await.unwrap();
    assert_eq!(got.token_times().len(), 20);
    assert_eq!(got.events.last().unwrap().data, "[DONE]");
}

#[tokio::test]
async fn shutdown_stops_accepting() {
    let server = start(instant_profile(), Knowledge::default()).await;
    let addr = server.addr();
    let http = client();
    let health = format!("http://{addr}/health");
    assert_eq!(http.get(&health).send().await.unwrap().status(), 200);
    server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn lookup_finds_known_inputs() {
    let knowledge = capital_knowledge();
    assert_eq!(
        knowledge.lookup("Context...\nWhat is the capital of Italy?\nAnswer:"),
        Some(&["Rome".to_string()][..])
    );
    assert_eq!(knowledge.lookup("What is the capital of Spain?"), None);
    assert_eq!(knowledge.len(), 2);
}

/// POST `body` to `route` of `server`; the status and the body as JSON.
async fn post(server: &SimServer, route: &str, body: &Value) -> (u16, Value) {
    let response = client()
        .post(format!("{}/{route}", server.base_url()))
        .json_body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, read_json(response).await)
}

#[tokio::test]
async fn request_fields_are_checked_as_vllm_checks_them() {
    let server = start(perfect(), capital_knowledge()).await;
    let chat = |extra: Value| {
        let mut body = json!({
            "model": MODEL,
            "messages": [{"role": "user", "content": "What is the capital of Italy?"}],
            "temperature": 0.0,
        });
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let message = |json: &Value| json["error"]["message"].as_str().unwrap_or("").to_owned();

    // stream_options needs stream: true (an empty object is let through, as vLLM's
    // truthiness check does).
    for extra in [
        json!({"stream_options": {"include_usage": true}}),
        json!({"stream": false, "stream_options": {"include_usage": true}}),
        json!({"stream": null, "stream_options": {"continuous_usage_stats": true}}),
    ] {
        let (status, json) = post(&server, "chat/completions", &chat(extra.clone())).await;
        assert_eq!(status, 400, "{extra}: {json}");
        assert_eq!(
            message(&json),
            "Stream options can only be defined when `stream=True`."
        );
    }
    let (status, json) = post(
        &server,
        "chat/completions",
        &chat(json!({"stream": false, "stream_options": {}})),
    )
    .await;
    assert_eq!(status, 200, "{json}");

    // null means absent for optional fields.
    let (status, json) = post(
        &server,
        "chat/completions",
        &chat(json!({"stream": null, "ignore_eos": null, "n": null, "seed": null})),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["choices"][0]["message"]["content"], "Rome");

    // One choice only, whatever n asks for.
    for n in [0, 2] {
        let (status, json) = post(&server, "chat/completions", &chat(json!({"n": n}))).await;
        assert_eq!(status, 400, "{json}");
        assert!(message(&json).starts_with("n must be 1"), "{json}");
        assert!(message(&json).ends_with(&format!("got {n}.")), "{json}");
    }

    // A role is required and is a string; custom roles are accepted, as vLLM's
    // CustomChatCompletionMessageParam does.
    for messages in [
        json!([{"content": "What is the capital of Italy?"}]),
        json!([{"role": null, "content": "What is the capital of Italy?"}]),
        json!([{"role": 7, "content": "What is the capital of Italy?"}]),
        json!([{"role": "system", "content": "Be brief."}, {"content": "Hi"}]),
    ] {
        let (status, json) = post(
            &server,
            "chat/completions",
            &chat(json!({"messages": messages})),
        )
        .await;
        assert_eq!(status, 400, "{messages}: {json}");
        assert!(message(&json).contains("role"), "{json}");
    }
    for role in [
        "system",
        "user",
        "assistant",
        "tool",
        "developer",
        "narrator",
    ] {
        let (status, json) = post(
            &server,
            "chat/completions",
            &chat(
                json!({"messages": [{"role": role, "content": "What is the capital of Italy?"}]}),
            ),
        )
        .await;
        assert_eq!(status, 200, "{role}: {json}");
    }

    // An empty completions prompt is refused with vLLM's message.
    for prompt in [json!(""), json!([""]), Value::Null] {
        let (status, json) = post(
            &server,
            "completions",
            &json!({"model": MODEL, "prompt": prompt, "max_tokens": 4}),
        )
        .await;
        assert_eq!(status, 400, "{prompt}: {json}");
        assert_eq!(
            message(&json),
            "Either prompt or prompt_embeds must be provided and non-empty."
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn stream_options_default_to_usage_as_vllms_do() {
    // Inside stream_options, vLLM's include_usage defaults to true, so
    // continuous_usage_stats alone gives usage in every chunk; include_usage: false (or
    // null) turns both off.
    let server = start(perfect(), capital_knowledge()).await;
    let url = format!("{}/chat/completions", server.base_url());
    let http = client();
    let prompt = "What is the capital of France?";

    let got = stream(
        &http,
        &url,
        chat_body(
            prompt,
            json!({"stream_options": {"continuous_usage_stats": true}}),
        ),
    )
    .await;
    // Role, 4 tokens, usage, [DONE]: every chunk but [DONE] carries usage.
    assert_eq!(got.events.len(), 1 + 4 + 1 + 1, "{}", got.raw);
    for event in &got.events[..got.events.len() - 1] {
        assert!(event.json()["usage"].is_object(), "{}", event.data);
    }

    let got = stream(
        &http,
        &url,
        chat_body(prompt, json!({"stream_options": {}})),
    )
    .await;
    assert_eq!(got.events.len(), 1 + 4 + 1 + 1, "{}", got.raw);
    assert_eq!(got.events[5].json()["choices"], json!([]));
    assert!(got.events[..5].iter().all(|e| !e.data.contains("usage")));

    for options in [
        json!({"include_usage": false, "continuous_usage_stats": true}),
        json!({"include_usage": null, "continuous_usage_stats": true}),
    ] {
        let got = stream(
            &http,
            &url,
            chat_body(prompt, json!({"stream_options": options})),
        )
        .await;
        assert_eq!(got.events.len(), 1 + 4 + 1, "{options}: {}", got.raw);
        assert!(got.events.iter().all(|e| !e.data.contains("usage")));
    }

    // Without stream_options, no usage either.
    let mut body = chat_body(prompt, json!({}));
    body.as_object_mut().unwrap().remove("stream_options");
    let got = stream(&http, &url, body).await;
    assert_eq!(got.events.len(), 1 + 4 + 1, "{}", got.raw);
    server.shutdown().await;
}

#[tokio::test]
async fn response_ids_differ_across_engines_and_within_one() {
    // Every trial starts its own engine; ids that restart at the same value in each would
    // collide across trials (and runs) wherever responses are collected together.
    let mut first_ids = Vec::new();
    for _ in 0..2 {
        let server = start(perfect(), capital_knowledge()).await;
        let mut ids = std::collections::HashSet::new();
        for route in ["chat/completions", "completions", "chat/completions"] {
            let body = if route == "completions" {
                json!({"model": MODEL, "prompt": "What is the capital of Italy?", "max_tokens": 4})
            } else {
                chat_body(
                    "What is the capital of Italy?",
                    json!({"stream": false, "stream_options": null}),
                )
            };
            let (status, json) = post(&server, route, &body).await;
            assert_eq!(status, 200, "{json}");
            let id = json["id"].as_str().unwrap().to_owned();
            let number = id.rsplit('-').next().unwrap().to_owned();
            assert!(ids.insert(number), "{id} repeated");
            if ids.len() == 1 {
                first_ids.push(id);
            }
        }
        server.shutdown().await;
    }
    assert_ne!(first_ids[0], first_ids[1]);
}
