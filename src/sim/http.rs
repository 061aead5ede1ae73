//! The OpenAI-compatible HTTP surface, shaped like vLLM's.
//!
//! Routes: `POST /v1/chat/completions`, `POST /v1/completions`, `GET /v1/models`, `GET /health`.
//! Everything a request needs is decided before its first token (answer text, token
//! boundaries, usage), so streaming only glues pre-built bytes: each chunk is
//! `prefix + escaped token + suffix`, with the prefix and suffixes rendered once per request
//! and the answer JSON-escaped once.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::engine::EngineHandle;
use super::hash::{hash_bytes, mix64, unit_f64};
use super::oracle::{AnswerRequest, FinishReason, PlannedOutput, plan_output};
use super::tokens::prompt_tokens;
use super::{Knowledge, SimConfig};
use crate::spec::SimProfile;

/// Response body type of every route.
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 16 << 20;

/// Salt separating the fault injector's stream from the oracle's.
const FAULT_SALT: u64 = 0x6661_756C_7473_2121;

/// State shared by every connection of one server.
pub(crate) struct AppState {
    model: String,
    profile: SimProfile,
    knowledge: Arc<Knowledge>,
    engine: EngineHandle,
    first_token_log: Option<super::FirstTokenLog>,
    /// Requests answered so far: with `id_base`, the response ids.
    next_id: AtomicU64,
    /// Where this engine's response ids start: drawn per start, so that two engines (two
    /// trials, two runs) never hand out the same ids.
    id_base: u64,
    /// How many times the fault injector has seen each request (by the hash of its body).
    fault_seen: std::sync::Mutex<std::collections::HashMap<u64, u64>>,
    created: u64,
}

impl AppState {
    pub(crate) fn new(config: SimConfig, engine: EngineHandle) -> Self {
        let id_base = id_base(config.profile.seed);
        AppState {
            model: config.model,
            profile: config.profile,
            knowledge: config.knowledge,
            engine,
            first_token_log: config.first_token_log,
            next_id: AtomicU64::new(0),
            id_base,
            fault_seen: std::sync::Mutex::new(std::collections::HashMap::new()),
            created: unix_now(),
        }
    }
}

/// A fresh start for response ids: the profile seed mixed with per-process random keys and the
/// clock. Ids are `mix64(base + i)`, distinct within an engine because `mix64` is a bijection.
fn id_base(seed: u64) -> u64 {
    use std::hash::BuildHasher;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    mix64(seed ^ std::collections::hash_map::RandomState::new().hash_one(nanos))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Which completion API a request uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    Chat,
    Completions,
}

/// Route one request.
pub(crate) async fn handle(state: Arc<AppState>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    match (req.method(), path) {
        (&Method::GET, "/health") => full(StatusCode::OK, None, Bytes::new()),
        (&Method::GET, "/v1/models") => models(&state),
        (&Method::POST, "/v1/chat/completions") => completion(&state, req, Api::Chat).await,
        (&Method::POST, "/v1/completions") => completion(&state, req, Api::Completions).await,
        (_, "/health" | "/v1/models" | "/v1/chat/completions" | "/v1/completions") => error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method {} not allowed on {path}", req.method()),
        ),
        _ => error(StatusCode::NOT_FOUND, format!("No route for {path}")),
    }
}

fn full(status: StatusCode, content_type: Option<&'static str>, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(body).boxed_unsync());
    *response.status_mut() = status;
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    response
}

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let body = serde_json::to_vec(value).expect("JSON values serialise");
    full(status, Some("application/json"), Bytes::from(body))
}

/// An error in vLLM's shape: `{"error": {"message", "type", "param", "code"}}` with the HTTP
/// status as `code`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    let kind = match status {
        StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => "BadRequestError",
        StatusCode::NOT_FOUND => "NotFoundError",
        StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowedError",
        StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailableError",
        _ => "InternalServerError",
    };
    let body = json!({
        "error": {
            "message": message.into(),
            "type": kind,
            "param": null,
            "code": status.as_u16(),
        }
    });
    json_response(status, &body)
}

fn models(state: &AppState) -> Response<Body> {
    let body = json!({
        "object": "list",
        "data": [{
            "id": state.model,
            "object": "model",
            "created": state.created,
            "owned_by": "frontier",
            "root": state.model,
            "parent": null,
            "max_model_len": state.profile.max_model_len,
        }],
    });
    json_response(StatusCode::OK, &body)
}

/// The request fields both completion APIs understand. Unknown fields are ignored, as
/// OpenAI-compatible servers do; every field may be `null`, meaning absent (vLLM's optional
/// fields accept `null`).
#[derive(Deserialize)]
struct CompletionRequest {
    model: Option<String>,
    messages: Option<Vec<Message>>,
    prompt: Option<Value>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    temperature: Option<f64>,
    seed: Option<i64>,
    stream: Option<bool>,
    /// Kept as given: vLLM refuses it without `stream` only when it is a non-empty object,
    /// and its defaults depend on which keys are present.
    stream_options: Option<serde_json::Map<String, Value>>,
    ignore_eos: Option<bool>,
    n: Option<u64>,
}

#[derive(Deserialize)]
struct Message {
    /// Required, any string: vLLM accepts custom roles besides system, user, assistant,
    /// tool, developer and function.
    #[serde(default)]
    role: Value,
    #[serde(default)]
    content: Value,
}

/// What `stream_options` asks for, with vLLM's defaults.
struct StreamOptions {
    /// A final chunk with `usage`; true unless given as false or null (vLLM's default inside
    /// `stream_options`; without `stream_options`, no usage chunk).
    include_usage: bool,
    /// vLLM's extension: a cumulative `usage` object in every chunk (with `include_usage`).
    continuous_usage_stats: bool,
}

impl StreamOptions {
    /// Read `stream_options`; `None` without it.
    fn parse(options: Option<&serde_json::Map<String, Value>>) -> Result<Option<Self>, String> {
        let Some(options) = options else {
            return Ok(None);
        };
        let flag = |key: &str, default: bool| match options.get(key) {
            None => Ok(default),
            Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(format!(
                "stream_options.{key} must be a boolean, got {other}"
            )),
        };
        Ok(Some(StreamOptions {
            include_usage: flag("include_usage", true)?,
            continuous_usage_stats: flag("continuous_usage_stats", false)?,
        }))
    }
}

/// A message content: a string, or a list of parts whose `text` fields are concatenated.
fn push_content(content: &Value, out: &mut String) -> Result<(), String> {
    match content {
        Value::Null => Ok(()),
        Value::String(s) => {
            out.push_str(s);
            Ok(())
        }
        Value::Array(parts) => {
            for part in parts {
                match part.get("text").and_then(Value::as_str) {
                    Some(text) => out.push_str(text),
                    None => return Err("only text content parts are supported".into()),
                }
            }
            Ok(())
        }
        _ => Err("message content must be a string or a list of parts".into()),
    }
}

/// The prompt text the tokenizer and the oracle see.
fn prompt_text(req: &CompletionRequest, api: Api) -> Result<String, String> {
    match api {
        Api::Chat => {
            let messages = req.messages.as_ref().ok_or("missing field `messages`")?;
            if messages.is_empty() {
                return Err("`messages` must not be empty".into());
            }
            let mut text = String::new();
            for (i, message) in messages.iter().enumerate() {
                match &message.role {
                    Value::String(_) => {}
                    Value::Null => return Err(format!("messages[{i}]: missing field `role`")),
                    other => {
                        return Err(format!("messages[{i}].role must be a string, got {other}"));
                    }
                }
                if i > 0 {
                    text.push('\n');
                }
                push_content(&message.content, &mut text)?;
            }
            Ok(text)
        }
        Api::Completions => {
            // vLLM's message for a missing, null or empty prompt.
            const EMPTY: &str = "Either prompt or prompt_embeds must be provided and non-empty.";
            const NOT_TEXT: &str =
                "`prompt` must be a string (batched and token prompts are not supported)";
            let text = match req.prompt.as_ref() {
                None => return Err(EMPTY.into()),
                Some(Value::String(s)) => s.as_str(),
                Some(Value::Array(items)) if items.len() == 1 && items[0].is_string() => {
                    items[0].as_str().expect("string")
                }
                Some(_) => return Err(NOT_TEXT.into()),
            };
            if text.is_empty() {
                return Err(EMPTY.into());
            }
            Ok(text.to_owned())
        }
    }
}

/// Everything decided about a valid request before it reaches the engine.
struct Accepted {
    /// The prompt text (kept only when a first-token log is on).
    prompt: String,
    prompt_tokens: u64,
    max_tokens: Option<u32>,
    output: PlannedOutput,
    stream: bool,
    include_usage: bool,
    /// Cumulative usage in every chunk (with `include_usage`).
    continuous_usage: bool,
    /// The profile's tokens per chunk.
    tokens_per_chunk: u32,
}

/// A request refused before it reached the engine.
struct Rejection {
    status: StatusCode,
    message: String,
}

impl Rejection {
    fn into_response(self) -> Response<Body> {
        error(self.status, self.message)
    }
}

/// Parse and validate a completion request.
fn accept(state: &AppState, body: &[u8], api: Api) -> Result<Accepted, Rejection> {
    let bad = |message: String| Rejection {
        status: StatusCode::BAD_REQUEST,
        message,
    };
    let req: CompletionRequest =
        serde_json::from_slice(body).map_err(|e| bad(format!("Invalid request body: {e}")))?;
    let model = req
        .model
        .as_deref()
        .ok_or_else(|| bad("missing field `model`".into()))?;
    if model != state.model {
        return Err(Rejection {
            status: StatusCode::NOT_FOUND,
            message: format!("The model `{model}` does not exist."),
        });
    }
    let stream = req.stream.unwrap_or(false);
    // vLLM's check: a non-empty `stream_options` without `stream: true`.
    if !stream && req.stream_options.as_ref().is_some_and(|o| !o.is_empty()) {
        return Err(bad(
            "Stream options can only be defined when `stream=True`.".into(),
        ));
    }
    let stream_options = StreamOptions::parse(req.stream_options.as_ref()).map_err(bad)?;
    let prompt = prompt_text(&req, api).map_err(bad)?;
    let prompt_tokens = prompt_tokens(&prompt);
    // The context bounds what a request may ask for, so the answer planned below (held in
    // memory whole) is bounded too. vLLM's messages, word for word.
    let context = u64::from(state.profile.max_model_len.max(1));
    if prompt_tokens >= context {
        return Err(bad(format!(
            "This model's maximum context length is {context} tokens. However, your request \
             has {prompt_tokens} input tokens. Please reduce the length of the input messages."
        )));
    }
    let length_key = if req.max_completion_tokens.is_some() {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    let max_tokens = match req.max_completion_tokens.or(req.max_tokens) {
        None => None,
        Some(0) => return Err(bad(format!("{length_key} must be at least 1, got 0."))),
        Some(m) if prompt_tokens.saturating_add(m) > context => {
            return Err(bad(format!(
                "'{length_key}' is too large: {m}. This model's maximum context length is \
                 {context} tokens and your request has {prompt_tokens} input tokens \
                 ({m} > {context} - {prompt_tokens})."
            )));
        }
        Some(m) => Some(u32::try_from(m).unwrap_or(u32::MAX)),
    };
    if let Some(t) = req.temperature
        && !(t.is_finite() && t >= 0.0)
    {
        return Err(bad(format!("temperature must be non-negative, got {t}.")));
    }
    if let Some(n) = req.n
        && n != 1
    {
        return Err(bad(format!(
            "n must be 1 (the simulated engine returns one choice), got {n}."
        )));
    }

    let output = plan_output(
        &state.profile,
        &state.knowledge.entries,
        &state.knowledge.index,
        &AnswerRequest {
            prompt: &prompt,
            prompt_tokens,
            temperature: req.temperature,
            seed: req.seed,
            max_tokens,
            ignore_eos: req.ignore_eos.unwrap_or(false),
        },
    );
    Ok(Accepted {
        prompt_tokens,
        prompt: if state.first_token_log.is_some() {
            prompt
        } else {
            String::new()
        },
        max_tokens,
        output,
        stream,
        include_usage: stream_options.as_ref().is_some_and(|o| o.include_usage),
        continuous_usage: stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage && o.continuous_usage_stats),
        tokens_per_chunk: state.profile.tokens_per_chunk,
    })
}

/// Whether the fault injector fails this request: a draw keyed by the profile's seed, the
/// request's body and how many identical bodies came before it. Keyed by the request rather
/// than by arrival order, so that the same requests fail in every run with the same seed even
/// when concurrent requests arrive in another order (with an arrival-order stream, about one
/// failure in two moved to another case between two runs at concurrency 32); the occurrence
/// count gives repeats of an identical request independent draws. Costs a map entry per
/// distinct request, only with `error_rate > 0`.
fn inject_fault(state: &AppState, body: &[u8]) -> bool {
    let rate = state.profile.error_rate;
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    let key = hash_bytes(mix64(state.profile.seed ^ FAULT_SALT), body);
    let occurrence = {
        let mut seen = state
            .fault_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = seen.entry(key).or_insert(0);
        let occurrence = *count;
        *count += 1;
        occurrence
    };
    unit_f64(mix64(key ^ mix64(occurrence.wrapping_add(FAULT_SALT)))) < rate
}

async fn completion(state: &AppState, req: Request<Incoming>, api: Api) -> Response<Body> {
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return if e.is::<http_body_util::LengthLimitError>() {
                error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("Request body larger than {MAX_BODY_BYTES} bytes."),
                )
            } else {
                error(
                    StatusCode::BAD_REQUEST,
                    format!("Could not read the body: {e}"),
                )
            };
        }
    };
    let accepted = match accept(state, &body, api) {
        Ok(accepted) => accepted,
        Err(rejection) => return rejection.into_response(),
    };
    if inject_fault(state, &body) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Injected fault (simulated engine error_rate).",
        );
    }

    let completion_tokens = accepted.output.tokens();
    // KV reservation: prompt plus the most the sequence may generate.
    let max_output = accepted.max_tokens.unwrap_or(completion_tokens);
    let reserve = accepted.prompt_tokens + u64::from(max_output.max(completion_tokens));
    let kv = state.profile.kv_tokens;
    if kv > 0 && reserve > kv {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "This request needs {reserve} tokens of KV cache ({} in the prompt, \
                 {max_output} for the completion), more than the engine's KV capacity of {kv} \
                 tokens (kv_tokens), so it can never be scheduled. Please reduce the length of \
                 the messages or completion.",
                accepted.prompt_tokens
            ),
        );
    }
    let Some(progress) = state
        .engine
        .submit(accepted.prompt_tokens, completion_tokens, reserve)
    else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "The engine has stopped.");
    };

    let id_number = mix64(
        state
            .id_base
            .wrapping_add(state.next_id.fetch_add(1, Ordering::Relaxed)),
    );
    let id = match api {
        Api::Chat => format!("chatcmpl-{id_number:016x}"),
        Api::Completions => format!("cmpl-{id_number:016x}"),
    };
    let created = unix_now();
    if accepted.stream && zero_cost(&state.profile) {
        // Zero-delay engine: every token is ready at once, so the whole event stream is one
        // body with a length, written in one go (as a fast server's would be).
        let total = accepted.output.tokens();
        let mut progress = progress;
        if !wait_for(&mut progress, total).await {
            return error(StatusCode::SERVICE_UNAVAILABLE, "The engine stopped.");
        }
        let mut stream = SseStream::new(StreamPlan {
            api,
            id: &id,
            created,
            model: &state.model,
            accepted: &accepted,
            progress,
            log: state
                .first_token_log
                .as_ref()
                .map(|l| (l.clone(), accepted.prompt.clone())),
        });
        let body = stream.next_chunk().await.unwrap_or_default();
        full(
            StatusCode::OK,
            Some("text/event-stream; charset=utf-8"),
            body,
        )
    } else if accepted.stream {
        stream_response(StreamPlan {
            api,
            id: &id,
            created,
            model: &state.model,
            accepted: &accepted,
            progress,
            log: state
                .first_token_log
                .as_ref()
                .map(|l| (l.clone(), accepted.prompt.clone())),
        })
    } else {
        whole_response(api, &id, created, &state.model, accepted, progress).await
    }
}

/// Whether the profile's steps cost nothing (no decode or prefill time).
fn zero_cost(p: &SimProfile) -> bool {
    let params = super::engine::EngineParams::from_profile(p);
    params.step(usize::MAX, u64::MAX).is_zero()
}

/// Wait until the engine has emitted `total` tokens; false if it stopped first.
async fn wait_for(progress: &mut watch::Receiver<u32>, total: u32) -> bool {
    loop {
        if *progress.borrow_and_update() >= total {
            return true;
        }
        if progress.changed().await.is_err() {
            return *progress.borrow() >= total;
        }
    }
}

async fn whole_response(
    api: Api,
    id: &str,
    created: u64,
    model: &str,
    accepted: Accepted,
    mut progress: watch::Receiver<u32>,
) -> Response<Body> {
    let output = accepted.output;
    let completion_tokens = output.tokens();
    if !wait_for(&mut progress, completion_tokens).await {
        return error(StatusCode::SERVICE_UNAVAILABLE, "The engine stopped.");
    }
    let usage = json!({
        "prompt_tokens": accepted.prompt_tokens,
        "total_tokens": accepted.prompt_tokens + u64::from(completion_tokens),
        "completion_tokens": completion_tokens,
    });
    let body = match api {
        Api::Chat => json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": output.text},
                "logprobs": null,
                "finish_reason": output.finish.as_str(),
                "stop_reason": null,
            }],
            "usage": usage,
        }),
        Api::Completions => json!({
            "id": id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "text": output.text,
                "logprobs": null,
                "finish_reason": output.finish.as_str(),
                "stop_reason": null,
            }],
            "usage": usage,
        }),
    };
    json_response(StatusCode::OK, &body)
}

/// Append `text` JSON-escaped (without quotes) to `out`.
pub(crate) fn escape_json_into(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Inputs of [`stream_response`].
struct StreamPlan<'a> {
    api: Api,
    id: &'a str,
    created: u64,
    model: &'a str,
    accepted: &'a Accepted,
    progress: watch::Receiver<u32>,
    /// Where to record the first token's send time, with the prompt.
    log: Option<(super::FirstTokenLog, String)>,
}

/// A streaming response's pre-rendered pieces and progress.
struct SseStream {
    progress: watch::Receiver<u32>,
    total: u32,
    /// Tokens written so far.
    sent: u32,
    /// The completion text, JSON-escaped.
    escaped: Vec<u8>,
    /// End of each token in `escaped`.
    ends: Vec<usize>,
    /// `data: {...,"choices":[{"index":0,"delta":{"content":"` (chat) or `..."text":"`.
    token_prefix: Vec<u8>,
    /// Closes a token chunk that is not the last.
    token_suffix: &'static [u8],
    /// Closes the last token's chunk (carries the finish reason).
    last_suffix: &'static [u8],
    /// Chat's role-only opening chunk, written just before the first token (as vLLM does).
    role_event: Option<Vec<u8>>,
    /// The usage chunk, when requested.
    usage_event: Option<Vec<u8>>,
    /// Tokens per chunk (at least 1).
    per_chunk: u32,
    /// Prompt tokens, for the cumulative usage of every chunk (`None`: not requested).
    continuous_usage: Option<u64>,
    /// Taken when the first token is written.
    log: Option<(super::FirstTokenLog, String)>,
    finished: bool,
}

const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";

impl SseStream {
    fn new(plan: StreamPlan<'_>) -> Self {
        let StreamPlan {
            api,
            id,
            created,
            model,
            accepted,
            progress,
            log,
        } = plan;
        let output = &accepted.output;

        // `{"id":"..","object":"..","created":N,"model":"..","choices":[`
        let mut head = Vec::with_capacity(96 + model.len());
        head.extend_from_slice(b"data: {\"id\":\"");
        escape_json_into(id, &mut head);
        head.extend_from_slice(match api {
            Api::Chat => b"\",\"object\":\"chat.completion.chunk\",\"created\":",
            Api::Completions => b"\",\"object\":\"text_completion\",\"created\":",
        });
        head.extend_from_slice(created.to_string().as_bytes());
        head.extend_from_slice(b",\"model\":\"");
        escape_json_into(model, &mut head);
        head.extend_from_slice(b"\",\"choices\":[");

        let mut token_prefix = head.clone();
        token_prefix.extend_from_slice(match api {
            Api::Chat => b"{\"index\":0,\"delta\":{\"content\":\"",
            Api::Completions => b"{\"index\":0,\"text\":\"",
        });
        let (token_suffix, last_suffix): (&'static [u8], &'static [u8]) = match (api, output.finish)
        {
            (Api::Chat, FinishReason::Stop) => (
                b"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
                b"\"},\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":null}]}\n\n",
            ),
            (Api::Chat, FinishReason::Length) => (
                b"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
                b"\"},\"logprobs\":null,\"finish_reason\":\"length\",\"stop_reason\":null}]}\n\n",
            ),
            (Api::Completions, FinishReason::Stop) => (
                b"\",\"logprobs\":null,\"finish_reason\":null,\"stop_reason\":null}]}\n\n",
                b"\",\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":null}]}\n\n",
            ),
            (Api::Completions, FinishReason::Length) => (
                b"\",\"logprobs\":null,\"finish_reason\":null,\"stop_reason\":null}]}\n\n",
                b"\",\"logprobs\":null,\"finish_reason\":\"length\",\"stop_reason\":null}]}\n\n",
            ),
        };
        let continuous_usage = accepted.continuous_usage.then_some(accepted.prompt_tokens);
        let role_event = (api == Api::Chat).then(|| {
            let mut event = head.clone();
            event.extend_from_slice(
                b"{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
            );
            if let Some(p) = continuous_usage {
                end_with_usage(&mut event, p, 0);
            }
            event
        });
        let total = output.tokens();
        let usage_event = accepted.include_usage.then(|| {
            let mut event = head;
            let p = accepted.prompt_tokens;
            let c = u64::from(total);
            event.extend_from_slice(
                format!(
                    "],\"usage\":{{\"prompt_tokens\":{p},\"total_tokens\":{},\"completion_tokens\":{c}}}}}\n\n",
                    p + c
                )
                .as_bytes(),
            );
            event
        });

        // Escape the text once, token by token, remembering where each token ends.
        let mut escaped = Vec::with_capacity(output.text.len() + 16);
        let mut ends = Vec::with_capacity(output.token_ends.len());
        let mut start = 0;
        for &end in &output.token_ends {
            escape_json_into(&output.text[start..end], &mut escaped);
            ends.push(escaped.len());
            start = end;
        }

        SseStream {
            progress,
            total,
            sent: 0,
            escaped,
            ends,
            token_prefix,
            token_suffix,
            last_suffix,
            role_event,
            usage_event,
            per_chunk: output_per_chunk(accepted),
            continuous_usage,
            log,
            finished: false,
        }
    }

    /// The next bytes to write: the tokens emitted since the last call, `per_chunk` to an SSE
    /// event (the last event may hold fewer), and after the last token the usage chunk and
    /// `[DONE]`. None at the end, or when the engine stopped (the stream then ends without
    /// `[DONE]`).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.finished {
            return None;
        }
        let per_chunk = self.per_chunk;
        let ready = loop {
            let emitted = (*self.progress.borrow_and_update()).min(self.total);
            // Whole chunks only, except at the end.
            let ready = if emitted == self.total {
                emitted
            } else {
                emitted / per_chunk * per_chunk
            };
            if ready > self.sent {
                break ready;
            }
            if self.progress.changed().await.is_err() {
                let emitted = (*self.progress.borrow()).min(self.total);
                if emitted > self.sent {
                    break emitted;
                }
                self.finished = true;
                return None;
            }
        };
        let from = self.sent as usize;
        let to = ready as usize;
        let done = ready == self.total;
        let token_start = if from == 0 { 0 } else { self.ends[from - 1] };
        let text_len = self.ends[to - 1] - token_start;
        let events = (to - from).div_ceil(per_chunk as usize);
        // Enough room for everything, so that the Vec is not reallocated.
        let mut capacity = text_len
            + events * (self.token_prefix.len() + self.last_suffix.len() + USAGE_ROOM)
            + self.role_event.as_ref().map_or(0, Vec::len);
        if done {
            capacity += self.usage_event.as_ref().map_or(0, Vec::len) + DONE_EVENT.len();
        }
        let mut out = Vec::with_capacity(capacity);
        if let Some(role) = self.role_event.take() {
            out.extend_from_slice(&role);
        }
        let mut first = from;
        while first < to {
            let last = (first + per_chunk as usize).min(to);
            let start = if first == 0 { 0 } else { self.ends[first - 1] };
            out.extend_from_slice(&self.token_prefix);
            out.extend_from_slice(&self.escaped[start..self.ends[last - 1]]);
            out.extend_from_slice(if last == self.total as usize {
                self.last_suffix
            } else {
                self.token_suffix
            });
            if let Some(p) = self.continuous_usage {
                end_with_usage(&mut out, p, last as u64);
            }
            first = last;
        }
        if done {
            if let Some(usage) = self.usage_event.take() {
                out.extend_from_slice(&usage);
            }
            out.extend_from_slice(DONE_EVENT);
            self.finished = true;
        }
        debug_assert!(out.len() <= capacity);
        self.sent = ready;
        if let Some((log, prompt)) = self.log.take()
            && let Ok(mut log) = log.lock()
        {
            log.push((prompt, std::time::Instant::now()));
        }
        Some(Bytes::from(out))
    }
}

/// Room for a `,"usage":{...}` object with three 20-digit numbers.
const USAGE_ROOM: usize = 128;

/// Tokens per chunk for a request (the profile's, at least 1).
fn output_per_chunk(accepted: &Accepted) -> u32 {
    accepted.tokens_per_chunk.max(1)
}

/// Turn an event ending in `}\n\n` into one that ends with a cumulative usage object:
/// `,"usage":{"prompt_tokens":p,"total_tokens":p+c,"completion_tokens":c}}\n\n` (vLLM's
/// `continuous_usage_stats` shape). No allocation beyond `out`'s own growth.
fn end_with_usage(out: &mut Vec<u8>, prompt: u64, completion: u64) {
    use std::io::Write;
    debug_assert!(out.ends_with(b"}\n\n"));
    out.truncate(out.len() - 3);
    let _ = write!(
        out,
        ",\"usage\":{{\"prompt_tokens\":{prompt},\"total_tokens\":{},\"completion_tokens\":{completion}}}}}\n\n",
        prompt + completion
    );
}

fn stream_response(plan: StreamPlan<'_>) -> Response<Body> {
    let state = SseStream::new(plan);
    let frames = futures_util::stream::unfold(state, |mut state| async move {
        let chunk = state.next_chunk().await?;
        Some((Ok::<_, Infallible>(Frame::data(chunk)), state))
    });
    let mut response = Response::new(StreamBody::new(frames).boxed_unsync());
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::escape_json_into;

    #[test]
    fn escapes_like_serde_json() {
        for text in [
            "plain",
            "quote \" and \\",
            "new\nline\ttab\r",
            "\u{1}\u{1f}",
            "é ü 東京",
            "",
        ] {
            let mut out = Vec::new();
            escape_json_into(text, &mut out);
            let ours = format!("\"{}\"", String::from_utf8(out).unwrap());
            assert_eq!(ours, serde_json::to_string(text).unwrap());
        }
    }
}
