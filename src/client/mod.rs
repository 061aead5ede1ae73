//! The HTTP client: streams OpenAI-compatible chat and completions responses over SSE and
//! records, per request, monotonic timestamps, the server's token counts and the raw text.
//! `http://` URLs go through frontier's own pooled HTTP/1.1 client (`h1.rs`); `https://` URLs,
//! and every URL when a proxy is configured or `FRONTIER_HTTP=reqwest`, through one pooled
//! reqwest client (see [`Transport`]). Both feed the same recorder, so outcomes, error kinds and
//! timestamps have one definition.
//!
//! Nothing heavy happens per chunk: the SSE parser ([`sse`]) works on bytes, each `data:` event
//! is parsed once into borrowed fields, and only text deltas are appended.
//!
//! # Timestamps
//! - `sent_ns`: taken immediately before the request is handed to the connection pool, so it
//!   includes connecting when no pooled connection is free (as every serving benchmark does).
//! - One `Instant` per network frame (a socket read on the own client, a body frame from
//!   reqwest); every event completed by that frame gets it. An event split
//!   across frames is timed by the frame that completes it.
//! - `first_token_ns` / `last_token_ns`: frames of the first / last chunk with non-empty content,
//!   reasoning (`reasoning_content` or `reasoning`) or a tool-call delta (function name or
//!   argument text). Role-only, empty, finish-only and usage-only chunks are not tokens.
//!   `first_content_ns`: first chunk with non-empty `content` (or completions `text`).
//! - `end_ns`: the frame with `[DONE]`, the clean end of the body, or the moment the error was
//!   observed (including the timeout firing).
//! - Non-streaming JSON (2xx `application/json`): first/last token and end are the moment the
//!   whole body had arrived.
//!
//! # Error kinds
//! - `Connect`: the request could not be built (bad URL) or sending it failed before a response
//!   head arrived (refused, DNS, TLS, connection closed before answering).
//! - `HttpStatus`: non-2xx (redirects are not followed); message `"<status>: <server message>"`,
//!   the message taken from a JSON error body (first 64 KiB) or else the body text.
//! - `ServerError`: an error object in the stream (`{"error": ...}`, `{"object": "error"}`,
//!   llama.cpp's `error:` field, `event: error`) or a 2xx JSON body that is an error. Text so far
//!   is kept.
//! - `MalformedChunk`: a `data:` payload that is not a JSON object of the expected shape, or a
//!   2xx JSON body without choices; or a response past a size limit: a JSON body over
//!   [`JSON_BODY_MAX_BYTES`], an SSE event over [`MAX_EVENT_BYTES`] (a line never ended, or
//!   `data:` lines never followed by the blank line ending the event), more than
//!   [`MAX_TEXT_BYTES`] of text or [`MAX_TOKEN_CHUNKS`] token chunks in one answer. Text so
//!   far is kept. Memory per request is bounded whatever the server sends.
//! - `StreamCut`: the transport failed while reading the body (e.g. the socket closed inside a
//!   chunked body or before `Content-Length` bytes).
//! - `Incomplete`: the body ended cleanly (chunked terminator, or close for a close-delimited
//!   body) without `[DONE]` and without any finish reason. With a finish reason it is a success.
//! - `Timeout`: `LlmRequest::timeout` elapsed (it covers the whole exchange).
//! - `Cancelled`: the future given to [`LlmClient::call_until`] completed first.

mod chunk;
mod fast_chunk;
pub mod gaps;
mod h1;
mod record;
pub mod sse;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderValue};

use crate::clock::Clock;
use record::Recorder;
pub use record::replay_sse;

/// Which OpenAI API a request uses (decides where the delta text is in each chunk).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `/chat/completions`: text in `choices[].delta.content`.
    Chat,
    /// `/completions`: text in `choices[].text`.
    Completions,
}

/// One request, ready to send: everything per-request (templating, JSON encoding) is done
/// before the client sees it.
#[derive(Clone, Debug)]
pub struct LlmRequest {
    /// Full URL, e.g. `http://127.0.0.1:8000/v1/chat/completions`, parsed once per endpoint
    /// (parsing it per request cost about 2% of the client's CPU).
    pub url: reqwest::Url,
    /// Bearer token, if any.
    pub api_key: Option<String>,
    /// JSON body with `"stream": true` and `"stream_options": {"include_usage": true}`.
    pub body: Bytes,
    /// API shape.
    pub api: Api,
    /// Whole-request timeout (connect to end of stream).
    pub timeout: Duration,
    /// The server is frontier's own engine on loopback (a simulated endpoint, `frontier
    /// calibrate`'s engine): the request never goes through a proxy configured in the
    /// environment, which could not reach it (or would measure itself).
    pub direct: bool,
}

/// Why a request failed. Stored as `requests.error_kind` (the snake_case name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Could not connect or send the request.
    Connect,
    /// The request timeout expired.
    Timeout,
    /// The server answered with a non-2xx status (see `http_status`).
    HttpStatus,
    /// The stream carried an error object (`{"error": ...}`).
    ServerError,
    /// A `data:` event was not valid JSON or not a completion chunk.
    MalformedChunk,
    /// The connection broke while reading the body.
    StreamCut,
    /// The body ended cleanly but without `[DONE]` and without a finish reason.
    Incomplete,
    /// The run was interrupted before the request finished.
    Cancelled,
}

impl ErrorKind {
    /// The name stored in Parquet.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::ServerError => "server_error",
            ErrorKind::MalformedChunk => "malformed_chunk",
            ErrorKind::StreamCut => "stream_cut",
            ErrorKind::Incomplete => "incomplete",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

/// A failed request's error.
#[derive(Clone, Debug, PartialEq)]
pub struct CallError {
    /// Category.
    pub kind: ErrorKind,
    /// Human-readable detail (server message, status line, parser error).
    pub message: String,
}

/// The server's `usage` object, when it sent one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: Option<i64>,
    /// Completion tokens (including reasoning tokens).
    pub completion_tokens: Option<i64>,
    /// Reasoning tokens, when the server breaks them out.
    pub reasoning_tokens: Option<i64>,
}

/// What one request produced. Timestamps are nanoseconds on the run's [`Clock`]; `None` means
/// the event did not happen (e.g. no token before an error).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallOutcome {
    /// When the request was handed to the connection.
    pub sent_ns: Option<i64>,
    /// First chunk carrying any token (content, reasoning or tool call).
    pub first_token_ns: Option<i64>,
    /// First chunk carrying content.
    pub first_content_ns: Option<i64>,
    /// Last chunk carrying any token.
    pub last_token_ns: Option<i64>,
    /// Stream closed (or the error was observed).
    pub end_ns: Option<i64>,
    /// Arrival time of every token-bearing chunk, in order (`len() == token_chunk_count`):
    /// the raw material for inter-chunk and inter-token latency.
    pub token_chunk_ns: Vec<i64>,
    /// Tokens carried by each token-bearing chunk (parallel to `token_chunk_ns`): the advance
    /// of the chunk's cumulative `usage.completion_tokens` when the server sends one per chunk
    /// (vLLM's `continuous_usage_stats`), else 1.
    pub chunk_tokens: Vec<u32>,
    /// Token-bearing chunks whose count came from a cumulative per-chunk `usage`.
    pub chunks_with_usage: u32,
    /// HTTP status of the response, if one arrived.
    pub http_status: Option<u16>,
    /// Server-reported usage (authoritative token counts).
    pub usage: Usage,
    /// `data:` events received, excluding `[DONE]`.
    pub chunk_count: u32,
    /// Chunks that carried at least one token (content, reasoning or tool-call delta).
    pub token_chunk_count: u32,
    /// Concatenated content.
    pub text: String,
    /// Concatenated reasoning (`reasoning_content` or `reasoning`).
    pub reasoning_text: String,
    /// Concatenated tool-call text (function names and argument fragments, in arrival order):
    /// generated tokens too, counted with a client tokenizer; not stored as a column.
    pub tool_text: String,
    /// Finish reason of the (first) choice.
    pub finish_reason: Option<String>,
    /// Set when the request failed.
    pub error: Option<CallError>,
}

/// Most of an error body read for its message; the rest is not waited for.
const ERROR_BODY_MAX_BYTES: usize = 64 * 1024;
/// How long an error response's body is waited for (its message); the status is recorded
/// either way, with what arrived by then.
const ERROR_BODY_WAIT: Duration = Duration::from_secs(1);
/// Largest non-streaming JSON response accepted.
const JSON_BODY_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Most bytes one SSE event may hold before it ends: its unterminated line, its `data:` (and
/// `error:`) lines so far, its type and the last event id. The largest real events (a whole
/// answer in one chunk, or a chunk with per-token logprobs) are kilobytes to a few MiB; a
/// server that never ends a line or an event is stopped here instead of growing the buffer
/// until the timeout (tens of GB at loopback speed).
pub(crate) const MAX_EVENT_BYTES: usize = 16 << 20;
/// Most generated text kept per streamed request (content, reasoning and tool-call text
/// together): 64 MiB, as for a whole JSON response, far above any answer a model writes.
pub(crate) const MAX_TEXT_BYTES: usize = JSON_BODY_MAX_BYTES;
/// Most token-bearing chunks per request (each keeps a timestamp and a token count, 12 bytes):
/// 4,194,304, 30 times the longest outputs servers allow.
pub(crate) const MAX_TOKEN_CHUNKS: usize = 1 << 22;
/// How long to wait, after `[DONE]`, for the body's end so the connection can be reused.
const DRAIN_AFTER_DONE: Duration = Duration::from_millis(200);
/// Most bytes read while draining after `[DONE]`.
const DRAIN_MAX_BYTES: usize = 1024 * 1024;
/// Idle connections kept per host, so high concurrency reuses connections.
const IDLE_PER_HOST: usize = 4096;

/// Which HTTP implementation serves `http://` URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// frontier's own HTTP/1.1 client (`src/client/h1.rs`); `https://` still uses reqwest.
    Own,
    /// reqwest (hyper) for every URL.
    Reqwest,
}

impl Transport {
    /// `Own` unless `FRONTIER_HTTP=reqwest`, or a proxy is configured in the environment
    /// (`http_proxy`, `HTTP_PROXY`, `all_proxy`, `ALL_PROXY`), which only reqwest honours.
    pub fn from_env() -> Transport {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let proxied = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
            .iter()
            .any(|v| set(v));
        let asked = std::env::var_os("FRONTIER_HTTP").is_some_and(|v| v == "reqwest");
        if proxied || asked {
            Transport::Reqwest
        } else {
            Transport::Own
        }
    }

    /// `own` or `reqwest` (as in `manifest.json`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Own => "own",
            Transport::Reqwest => "reqwest",
        }
    }
}

/// The pooled HTTP client. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    /// reqwest without the environment's proxies, for [`LlmRequest::direct`] requests.
    direct: reqwest::Client,
    /// The own HTTP/1.1 client's pool, for `http://` URLs (`None`: reqwest for everything).
    h1: Option<Arc<h1::Pool>>,
}

impl LlmClient {
    /// A client with connection pooling and rustls (ring provider).
    ///
    /// No global timeout (each [`LlmRequest`] carries its own), no redirects (a POST must not
    /// silently become a GET; a 3xx is reported as `http_status`), no retries (a request sent
    /// twice would be measured as one slow request and charge the server twice), `TCP_NODELAY`
    /// so small request writes are not delayed, and a large idle pool so high concurrency
    /// reuses connections.
    pub fn new() -> Result<Self, reqwest::Error> {
        LlmClient::with_transport(Transport::from_env())
    }

    /// A client whose `http://` requests go through `transport`.
    pub fn with_transport(transport: Transport) -> Result<Self, reqwest::Error> {
        // Another part of the process may have installed a provider first; that is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = || {
            reqwest::Client::builder()
                .pool_max_idle_per_host(IDLE_PER_HOST)
                .tcp_nodelay(true)
                .redirect(reqwest::redirect::Policy::none())
                .retry(reqwest::retry::never())
        };
        let http = builder().build()?;
        let direct = builder().no_proxy().build()?;
        let h1 = (transport == Transport::Own).then(|| Arc::new(h1::Pool::new(IDLE_PER_HOST)));
        Ok(LlmClient { http, direct, h1 })
    }

    /// The transport serving `http://` URLs.
    pub fn transport(&self) -> Transport {
        if self.h1.is_some() {
            Transport::Own
        } else {
            Transport::Reqwest
        }
    }

    /// Send one request and stream the answer, recording timestamps on `clock`.
    /// Never panics and never returns early without an outcome: failures are in `error`.
    pub async fn call(&self, req: &LlmRequest, clock: &Clock) -> CallOutcome {
        self.call_until(req, clock, std::future::pending()).await
    }

    /// Like [`call`](LlmClient::call), but stops when `cancel` completes, returning what was
    /// measured so far with [`ErrorKind::Cancelled`] (unless the request already finished).
    pub async fn call_until(
        &self,
        req: &LlmRequest,
        clock: &Clock,
        cancel: impl Future<Output = ()>,
    ) -> CallOutcome {
        let deadline = tokio::time::Instant::now().checked_add(req.timeout);
        let mut rec = Recorder::new();
        match self.h1.as_ref().filter(|_| req.url.scheme() == "http") {
            Some(pool) => {
                let ended = race(pool.exchange(req, clock, &mut rec), deadline, cancel).await;
                if let Some(leftover) = settle(ended, &mut rec, req, clock) {
                    pool.drain(leftover, deadline).await;
                }
            }
            None => {
                let ended = race(self.exchange(req, clock, &mut rec), deadline, cancel).await;
                if let Some(response) = settle(ended, &mut rec, req, clock) {
                    drain(response, deadline).await;
                }
            }
        }
        rec.into_outcome()
    }

    /// The whole exchange. Returns the response when its body should be drained (the outcome is
    /// decided but the connection could still go back to the pool).
    async fn exchange(
        &self,
        req: &LlmRequest,
        clock: &Clock,
        rec: &mut Recorder,
    ) -> Option<reqwest::Response> {
        let http = if req.direct { &self.direct } else { &self.http };
        let mut builder = http
            .post(req.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(req.body.clone());
        if let Some(key) = &req.api_key {
            builder = builder.bearer_auth(key);
        }
        let request = match builder.build() {
            Ok(request) => request,
            Err(e) => {
                let message = format!("invalid request: {}", error_chain(&e));
                rec.fail(ErrorKind::Connect, message, clock.now_ns());
                return None;
            }
        };
        rec.out.sent_ns = Some(clock.now_ns());
        let mut response = match http.execute(request).await {
            Ok(response) => response,
            Err(e) => {
                if e.is_builder() {
                    // Rejected before any connection (e.g. a scheme other than http/https):
                    // nothing was sent.
                    rec.out.sent_ns = None;
                }
                rec.fail(ErrorKind::Connect, error_chain(&e), clock.now_ns());
                return None;
            }
        };
        let status = response.status();
        rec.out.http_status = Some(status.as_u16());

        if !status.is_success() {
            // The status decides the row; the body is read for its message, briefly.
            let mut body = Vec::new();
            let _ = tokio::time::timeout(
                ERROR_BODY_WAIT,
                read_body_into(&mut response, ERROR_BODY_MAX_BYTES, clock, &mut body),
            )
            .await;
            rec.http_status(status, &body, &req.url, clock.now_ns());
            return None;
        }
        if let Some(coding) = response
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"))
        {
            rec.fail(
                ErrorKind::MalformedChunk,
                compressed(&coding),
                clock.now_ns(),
            );
            return None;
        }

        if is_json(&response) {
            let (body, read) = read_body(&mut response, JSON_BODY_MAX_BYTES, clock).await;
            record_json(rec, &body, read);
            return None;
        }

        loop {
            match response.chunk().await {
                Ok(Some(frame)) => {
                    // One timestamp per network frame, shared by every event in it.
                    let now_ns = clock.now_ns();
                    if rec.sse_frame(&frame, now_ns).is_break() {
                        // Drain only after a clean `[DONE]`; after an error the connection is dropped.
                        return rec.out.error.is_none().then_some(response);
                    }
                }
                Ok(None) => {
                    rec.sse_eof(clock.now_ns());
                    return None;
                }
                Err(e) => {
                    rec.fail(ErrorKind::StreamCut, error_chain(&e), clock.now_ns());
                    return None;
                }
            }
        }
    }
}

/// How `call_until`'s race ended (`L`: what is left to drain after a clean `[DONE]`).
enum Ended<L> {
    Exchanged(Option<L>),
    TimedOut,
    Cancelled,
}

/// Run the exchange against the request's deadline and the caller's cancellation.
async fn race<L>(
    exchange: impl Future<Output = Option<L>>,
    deadline: Option<tokio::time::Instant>,
    cancel: impl Future<Output = ()>,
) -> Ended<L> {
    let expiry = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    // The deadline and the cancellation are polled outside tokio's cooperative budget: a server
    // whose bytes never stop (comments, keep-alives, role-only chunks) keeps every read ready,
    // so the exchange spends the task's whole budget on each poll, and a budgeted timer polled
    // after it would never see its deadline (the request ran until the server stopped, far
    // past its timeout). `tokio::time::timeout` does the same for its own timer.
    let expiry = tokio::task::unconstrained(expiry);
    let cancel = tokio::task::unconstrained(cancel);
    tokio::select! {
        biased;
        leftover = exchange => Ended::Exchanged(leftover),
        () = expiry => Ended::TimedOut,
        () = cancel => Ended::Cancelled,
    }
}

/// Record a timeout or cancellation; return what should be drained, if anything.
fn settle<L>(ended: Ended<L>, rec: &mut Recorder, req: &LlmRequest, clock: &Clock) -> Option<L> {
    match ended {
        Ended::Exchanged(leftover) => leftover,
        Ended::TimedOut => {
            let message = format!(
                "no complete response within {:?} ({} data events received)",
                req.timeout, rec.out.chunk_count
            );
            rec.fail(ErrorKind::Timeout, message, clock.now_ns());
            None
        }
        Ended::Cancelled => {
            rec.fail(ErrorKind::Cancelled, "run interrupted", clock.now_ns());
            None
        }
    }
}

/// Is the response a whole JSON document rather than an event stream?
fn is_json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or("").trim();
            mime.eq_ignore_ascii_case("application/json")
        })
}

/// How a capped body read ended, with the time it ended.
pub(crate) enum BodyRead {
    Complete(i64),
    TooLarge(i64),
    Failed(String, i64),
}

/// Record a non-streaming JSON response read up to [`JSON_BODY_MAX_BYTES`].
pub(crate) fn record_json(rec: &mut Recorder, body: &[u8], read: BodyRead) {
    match read {
        BodyRead::Complete(now_ns) => rec.json_body(body, now_ns),
        BodyRead::TooLarge(now_ns) => {
            let message = format!("JSON response larger than {JSON_BODY_MAX_BYTES} bytes");
            rec.fail(ErrorKind::MalformedChunk, message, now_ns);
        }
        BodyRead::Failed(e, now_ns) => rec.fail(ErrorKind::StreamCut, e, now_ns),
    }
}

/// Read a body up to `max` bytes (the bytes read, and how the read ended).
async fn read_body(
    response: &mut reqwest::Response,
    max: usize,
    clock: &Clock,
) -> (Vec<u8>, BodyRead) {
    let mut body = Vec::new();
    let read = read_body_into(response, max, clock, &mut body).await;
    (body, read)
}

/// [`read_body`] into `body`, which keeps what arrived if the caller stops waiting.
async fn read_body_into(
    response: &mut reqwest::Response,
    max: usize,
    clock: &Clock,
    body: &mut Vec<u8>,
) -> BodyRead {
    loop {
        match response.chunk().await {
            Ok(Some(frame)) => {
                let room = max - body.len();
                if frame.len() > room {
                    body.extend_from_slice(&frame[..room]);
                    return BodyRead::TooLarge(clock.now_ns());
                }
                body.extend_from_slice(&frame);
            }
            Ok(None) => return BodyRead::Complete(clock.now_ns()),
            Err(e) => return BodyRead::Failed(error_chain(&e), clock.now_ns()),
        }
    }
}

/// After `[DONE]`, read the rest of the body briefly so the connection returns to the pool;
/// give up (dropping the connection) if it does not end promptly.
async fn drain(mut response: reqwest::Response, deadline: Option<tokio::time::Instant>) {
    let mut limit = tokio::time::Instant::now() + DRAIN_AFTER_DONE;
    if let Some(deadline) = deadline {
        limit = limit.min(deadline);
    }
    let _ = tokio::time::timeout_at(limit, async {
        let mut read = 0;
        while let Ok(Some(frame)) = response.chunk().await {
            read += frame.len();
            if read > DRAIN_MAX_BYTES {
                break;
            }
        }
    })
    .await;
}

/// The message for a response body in a content coding (`gzip`, `br`, ...): frontier sends no
/// `Accept-Encoding` and decodes none, so something in between (a proxy, a gateway) compressed
/// it; its events cannot be read or timed.
pub(crate) fn compressed(coding: &str) -> String {
    let coding: String = coding.chars().take(64).collect();
    format!(
        "the response body is compressed (Content-Encoding: {coding}), which frontier does not \
         decode and did not ask for: is a proxy or gateway compressing the server's responses?"
    )
}

/// An error and its sources, joined with ": " (reqwest's top-level message alone hides the
/// cause, e.g. "connection refused"), with [`connect_hint`] when one of them has one.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut hint = None;
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            hint = hint.or_else(|| connect_hint(io));
        }
        source = cause.source();
    }
    if let Some(hint) = hint {
        message.push_str(&hint);
    }
    message
}

/// What to check when a connection could not be opened: nothing listening (refused), or no
/// file descriptors left ([`out_of_sockets_hint`]).
pub(crate) fn connect_hint(e: &std::io::Error) -> Option<String> {
    if e.kind() == std::io::ErrorKind::ConnectionRefused {
        return Some(
            ": nothing listens there: is the server running, and is the endpoint's base_url right?"
                .to_string(),
        );
    }
    out_of_sockets_hint(e)
}

/// What to do when a connection could not be opened because the process (`EMFILE`) or the
/// system (`ENFILE`) ran out of file descriptors: an open loop without `max_concurrency` keeps
/// one socket per request in flight, so a rate the server cannot keep up with ends here. The
/// row stays a `connect` error (nothing was sent); the message says why and what to change.
pub(crate) fn out_of_sockets_hint(e: &std::io::Error) -> Option<String> {
    let code = e.raw_os_error()?;
    if code != libc::EMFILE && code != libc::ENFILE {
        return None;
    }
    let limit = {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills one plain struct we own.
        let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
        ok.then_some(lim.rlim_cur)
    };
    let whose = if code == libc::EMFILE {
        let limit = limit.map_or(String::new(), |l| format!(" (limit {l}, `ulimit -n`)"));
        format!("this process is out of file descriptors{limit}")
    } else {
        "the system is out of file descriptors".to_string()
    };
    Some(format!(
        ": {whose}; each request in flight holds one: cap them with \
         `workload.max_concurrency`, lower the rate or raise the limit"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error wrapping another, as reqwest's and hyper's do.
    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("error sending request")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn running_out_of_sockets_says_why_and_what_to_change() {
        let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
        let hint = out_of_sockets_hint(&emfile).unwrap();
        assert!(
            hint.contains("this process is out of file descriptors (limit "),
            "{hint}"
        );
        assert!(hint.contains("workload.max_concurrency"), "{hint}");
        let enfile = std::io::Error::from_raw_os_error(libc::ENFILE);
        assert!(
            out_of_sockets_hint(&enfile)
                .unwrap()
                .contains("the system is")
        );
        let refused = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(out_of_sockets_hint(&refused), None);

        let chain = error_chain(&Wrapped(emfile));
        assert!(
            chain.starts_with("error sending request: Too many open files"),
            "{chain}"
        );
        assert!(chain.ends_with(&hint), "{chain}");
        assert_eq!(
            error_chain(&Wrapped(refused)),
            "error sending request: Connection refused (os error 111): nothing listens there: \
             is the server running, and is the endpoint's base_url right?"
        );
    }
}
