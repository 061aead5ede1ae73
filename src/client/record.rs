//! Turns a response body, frame by frame, into a [`CallOutcome`]: timestamps, counts, text and
//! the error kind. Kept apart from the HTTP code so recorded streams can be replayed in tests
//! with synthetic frame times.
//!
//! Every event in a frame gets that frame's timestamp (taken once, when the frame arrived).

use std::ops::ControlFlow;

use super::chunk::{Chunk, error_body_message, quote};
use super::sse::{Event, SseParser};
use super::{
    CallError, CallOutcome, ErrorKind, MAX_EVENT_BYTES, MAX_TEXT_BYTES, MAX_TOKEN_CHUNKS, Usage,
};

/// Whether the body should keep being read.
pub(crate) type Flow = ControlFlow<()>;

/// Accumulates one request's outcome.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub out: CallOutcome,
    parser: SseParser,
    saw_done: bool,
    /// The running `usage.completion_tokens` of the stream so far.
    cumulative: UsageTotal,
    limits: Limits,
}

/// What one streamed request may hold (see [`MAX_EVENT_BYTES`] and the others); smaller in
/// tests.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Bytes buffered for one unfinished SSE event.
    pub event_bytes: usize,
    /// Content, reasoning and tool-call text together.
    pub text_bytes: usize,
    /// Token-bearing chunks.
    pub token_chunks: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            event_bytes: MAX_EVENT_BYTES,
            text_bytes: MAX_TEXT_BYTES,
            token_chunks: MAX_TOKEN_CHUNKS,
        }
    }
}

/// The stream's `usage.completion_tokens` as a running total (continuous usage stats).
#[derive(Clone, Copy, Debug)]
struct UsageTotal {
    /// The last value seen in a chunk.
    last: i64,
    /// Every token chunk so far carried usage: the next usage is a running total, and its
    /// advance is the tokens of its chunk. A usage that first appears after token chunks
    /// without one (a server that reports usage once, in the last content chunk) is a total,
    /// not an advance.
    running: bool,
}

impl Default for UsageTotal {
    fn default() -> Self {
        UsageTotal {
            last: 0,
            running: true,
        }
    }
}

impl Recorder {
    pub fn new() -> Self {
        Recorder::default()
    }

    /// Record a failure observed at `now_ns` (keeps everything measured so far). The first
    /// error wins.
    pub fn fail(&mut self, kind: ErrorKind, message: impl Into<String>, now_ns: i64) {
        if self.out.error.is_none() {
            self.out.error = Some(CallError {
                kind,
                message: message.into(),
            });
            self.out.end_ns = Some(now_ns);
        }
    }

    /// A recorder with other limits (tests).
    #[cfg(test)]
    pub fn with_limits(limits: Limits) -> Self {
        Recorder {
            limits,
            ..Recorder::default()
        }
    }

    /// One SSE body frame that arrived at `now_ns`. Breaks when the stream is over.
    pub fn sse_frame(&mut self, frame: &[u8], now_ns: i64) -> Flow {
        let Recorder {
            out,
            parser,
            saw_done,
            cumulative,
            limits,
        } = self;
        parser.feed(frame, |event| {
            on_event(out, saw_done, cumulative, event, now_ns)
        })?;
        // Once per frame: what a frame can add is bounded by its size.
        let l = *limits;
        if parser.buffered() > l.event_bytes
            || out.text.len() + out.reasoning_text.len() + out.tool_text.len() > l.text_bytes
            || out.token_chunk_ns.len() > l.token_chunks
        {
            self.over_limit(now_ns);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    /// The stream went past one of [`Limits`]: stop it with a `malformed_chunk` saying which.
    #[cold]
    fn over_limit(&mut self, now_ns: i64) {
        let l = self.limits;
        let out = &self.out;
        let events = out.chunk_count;
        let message = if self.parser.buffered() > l.event_bytes {
            format!(
                "an SSE event grew past {} bytes without ending (a line without a line ending, \
                 or data lines without the blank line that ends an event) after {events} data events",
                l.event_bytes
            )
        } else if out.token_chunk_ns.len() > l.token_chunks {
            format!(
                "the answer went past {} token-bearing chunks after {events} data events",
                l.token_chunks
            )
        } else {
            format!(
                "the answer went past {} bytes of text (content, reasoning and tool calls) \
                 after {events} data events",
                l.text_bytes
            )
        };
        self.fail(ErrorKind::MalformedChunk, message, now_ns);
    }

    /// The SSE body ended cleanly at `now_ns`: flush a last unterminated event, then decide.
    pub fn sse_eof(&mut self, now_ns: i64) {
        let Recorder {
            out,
            parser,
            saw_done,
            cumulative,
            ..
        } = self;
        // A body cut inside its last line: that event is what was cut, not a server's
        // malformed payload, if it does not parse.
        let cut = parser.in_line() && out.error.is_none();
        let flow = parser.finish(|event| on_event(out, saw_done, cumulative, event, now_ns));
        if cut
            && out
                .error
                .as_ref()
                .is_some_and(|e| e.kind == ErrorKind::MalformedChunk)
        {
            out.chunk_count = out.chunk_count.saturating_sub(1);
            out.error = Some(CallError {
                kind: ErrorKind::Incomplete,
                message: format!(
                    "stream ended inside an event (its last line has no line ending and is not a complete chunk) after {} data events",
                    out.chunk_count
                ),
            });
            return;
        }
        if flow.is_break() {
            return;
        }
        if self.out.finish_reason.is_some() {
            // Some servers (older llama.cpp) end after the finish reason without `[DONE]`.
            self.out.end_ns = Some(now_ns);
        } else {
            let message = format!(
                "stream ended without [DONE] or a finish_reason after {} data events",
                self.out.chunk_count
            );
            self.fail(ErrorKind::Incomplete, message, now_ns);
        }
    }

    /// A whole non-streaming JSON response body, complete at `now_ns`.
    pub fn json_body(&mut self, body: &[u8], now_ns: i64) {
        let out = &mut self.out;
        out.chunk_count = 1;
        match Chunk::parse(body) {
            Err(e) => {
                let message = format!("response body is not a completion ({e}): {}", quote(body));
                self.fail(ErrorKind::MalformedChunk, message, now_ns);
            }
            Ok(chunk) => {
                if let Some(message) = chunk.error_message() {
                    self.fail(ErrorKind::ServerError, message, now_ns);
                } else if chunk.choice.is_none() {
                    let message = format!("response has no choice with index 0: {}", quote(body));
                    self.fail(ErrorKind::MalformedChunk, message, now_ns);
                } else {
                    apply_chunk(out, &mut self.cumulative, chunk, now_ns);
                    out.end_ns = Some(now_ns);
                }
            }
        }
    }

    /// A non-2xx response to `url` with (the first bytes of) its body, complete at `now_ns`.
    pub fn http_status(
        &mut self,
        status: reqwest::StatusCode,
        body: &[u8],
        url: &reqwest::Url,
        now_ns: i64,
    ) {
        let detail = error_body_message(body);
        let mut message = if detail.is_empty() {
            status.to_string()
        } else {
            format!("{status}: {detail}")
        };
        message.push_str(&not_found_hint(status, url));
        self.fail(ErrorKind::HttpStatus, message, now_ns);
    }

    pub fn into_outcome(self) -> CallOutcome {
        self.out
    }
}

fn on_event(
    out: &mut CallOutcome,
    saw_done: &mut bool,
    cumulative: &mut UsageTotal,
    event: Event<'_>,
    now_ns: i64,
) -> Flow {
    let fail = |out: &mut CallOutcome, kind: ErrorKind, message: String| {
        out.error = Some(CallError { kind, message });
        out.end_ns = Some(now_ns);
        ControlFlow::Break(())
    };
    // llama.cpp's `error:` field, or a standard `event: error`.
    if !event.error.is_empty() || event.event == b"error" {
        let payload = if event.error.is_empty() {
            event.data
        } else {
            event.error
        };
        return fail(out, ErrorKind::ServerError, error_body_message(payload));
    }
    let data = event.data.trim_ascii();
    if data.is_empty() {
        // A keep-alive `data:` line with nothing in it.
        return ControlFlow::Continue(());
    }
    if data == b"[DONE]" {
        *saw_done = true;
        out.end_ns = Some(now_ns);
        return ControlFlow::Break(());
    }
    out.chunk_count = out.chunk_count.saturating_add(1);
    match Chunk::parse(data) {
        Err(e) => fail(
            out,
            ErrorKind::MalformedChunk,
            format!(
                "data event is not a completion chunk ({e}): {}",
                quote(data)
            ),
        ),
        Ok(chunk) => match chunk.error_message() {
            Some(message) => fail(out, ErrorKind::ServerError, message),
            None => {
                apply_chunk(out, cumulative, chunk, now_ns);
                ControlFlow::Continue(())
            }
        },
    }
}

/// Fold one (non-error) chunk into the outcome. `cumulative` is the running usage total, so
/// that a chunk's own token count is its advance while every token chunk carries usage.
fn apply_chunk(out: &mut CallOutcome, cumulative: &mut UsageTotal, chunk: Chunk<'_>, now_ns: i64) {
    let mut advance = None;
    let mut has_usage = false;
    if let Some(usage) = chunk.usage {
        // Servers with continuous usage stats send a cumulative object per chunk: last wins.
        let usage = Usage::from(usage);
        if let Some(c) = usage.completion_tokens {
            has_usage = true;
            if cumulative.running {
                // Both are counts (>= 0): no overflow.
                advance = Some(c - cumulative.last);
            }
            cumulative.last = c;
        }
        out.usage = usage;
    }
    let Some(choice) = chunk.choice else {
        return;
    };
    let tokens = choice.tokens();
    if tokens.any() {
        if !has_usage {
            cumulative.running = false;
        }
        out.token_chunk_count = out.token_chunk_count.saturating_add(1);
        out.first_token_ns.get_or_insert(now_ns);
        out.last_token_ns = Some(now_ns);
        out.token_chunk_ns.push(now_ns);
        // A chunk whose cumulative usage advanced by k carries k tokens; without per-chunk
        // usage (or with one that did not advance) it counts as one.
        let k = match advance {
            Some(k) if k >= 1 => {
                out.chunks_with_usage += 1;
                u32::try_from(k).unwrap_or(u32::MAX)
            }
            _ => 1,
        };
        out.chunk_tokens.push(k);
    }
    if let Some(content) = tokens.content {
        out.first_content_ns.get_or_insert(now_ns);
        out.text.push_str(content);
    }
    if let Some(reasoning) = tokens.reasoning {
        out.reasoning_text.push_str(reasoning);
    }
    if let Some(tool) = tokens.tool {
        out.tool_text.push_str(tool);
    }
    if out.finish_reason.is_none()
        && let Some(reason) = choice.finish_reason()
    {
        out.finish_reason = Some(reason.to_string());
    }
}

/// Replay a recorded SSE body through the recorder, frame by frame, as if each frame had
/// arrived at its timestamp (ns on the run clock), then the clean end of the body at
/// `end_ns`. The request is taken as sent at `sent_ns`. For tests and for tools that study
/// recorded streams: the outcome is exactly what a live request would have recorded.
pub fn replay_sse<'a>(
    sent_ns: i64,
    frames: impl IntoIterator<Item = (&'a [u8], i64)>,
    end_ns: i64,
) -> CallOutcome {
    let mut rec = Recorder::new();
    rec.out.sent_ns = Some(sent_ns);
    rec.out.http_status = Some(200);
    for (frame, now_ns) in frames {
        if rec.sse_frame(frame, now_ns).is_break() {
            return rec.into_outcome();
        }
    }
    rec.sse_eof(end_ns);
    rec.into_outcome()
}

#[cfg(test)]
mod tests;

/// A 404 from a URL without a `/v1/` segment: the usual cause is a `base_url` written without
/// the `/v1` that vLLM, SGLang, TGI and llama.cpp serve the OpenAI API under.
fn not_found_hint(status: reqwest::StatusCode, url: &reqwest::Url) -> String {
    if status != reqwest::StatusCode::NOT_FOUND || url.path().contains("/v1/") {
        return String::new();
    }
    format!(
        " (sent to {url}; OpenAI-compatible servers such as vLLM, SGLang, TGI and llama.cpp \
         serve it under /v1: should the endpoint's base_url end in /v1?)"
    )
}
