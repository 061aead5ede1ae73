//! The HTTP client: one pooled reqwest client that streams OpenAI-compatible chat and
//! completions responses over SSE and records, per request, monotonic timestamps, the
//! server's token counts and the raw text.
//!
//! Nothing heavy happens per chunk: the SSE parser ([`sse`]) works on bytes, each `data:` event
//! is parsed once into borrowed fields, and only text deltas are appended.

pub mod sse;

use std::time::Duration;

use bytes::Bytes;

use crate::clock::Clock;

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
    /// Full URL, e.g. `http://127.0.0.1:8000/v1/chat/completions`.
    pub url: String,
    /// Bearer token, if any.
    pub api_key: Option<String>,
    /// JSON body with `"stream": true` and `"stream_options": {"include_usage": true}`.
    pub body: Bytes,
    /// API shape.
    pub api: Api,
    /// Whole-request timeout (connect to end of stream).
    pub timeout: Duration,
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
    /// Finish reason of the (first) choice.
    pub finish_reason: Option<String>,
    /// Set when the request failed.
    pub error: Option<CallError>,
}

/// The pooled HTTP client.
#[derive(Clone)]
pub struct LlmClient {
    http: reqwest::Client,
}

impl LlmClient {
    /// A client with connection pooling and rustls (ring provider).
    pub fn new() -> Result<Self, reqwest::Error> {
        todo!("client helper")
    }

    /// Send one request and stream the answer, recording timestamps on `clock`.
    /// Never panics and never returns early without an outcome: failures are in `error`.
    pub async fn call(&self, req: &LlmRequest, clock: &Clock) -> CallOutcome {
        let _ = (req, clock, &self.http);
        todo!("client helper")
    }
}
