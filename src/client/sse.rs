//! An incremental Server-Sent Events parser over bytes.
//!
//! Why hand-written: the body arrives as network frames of any size, and we want to dispatch each
//! event in the frame that completes it (so the frame's timestamp is the event's), without
//! copying a line more than once or allocating per line. The parser follows the WHATWG
//! "event stream interpretation" algorithm:
//!
//! - lines end in LF, CRLF or CR; a CRLF split across two frames is still one line ending
//!   (the line is dispatched at the CR, and a leading LF in the next frame is skipped);
//! - a leading UTF-8 byte-order mark is ignored;
//! - `:` starts a comment; `field: value` strips one optional space after the colon; a line
//!   without a colon is a field with an empty value;
//! - `data` lines are joined with `\n`; `event` sets the type of the next event; `id` sets the
//!   last event id (kept across events, ignored if it contains NUL); `retry` (ASCII digits only)
//!   sets the reconnection time; other fields are ignored;
//! - a blank line dispatches the event if any `data` line was seen, then resets data and type.
//!
//! Two deliberate extensions for LLM servers:
//! - llama.cpp's llama-server reports a failure mid-stream as an `error: {json}` *field*, which
//!   the standard algorithm would silently drop. `error` lines are collected like `data` lines and
//!   an event is dispatched if either buffer is non-empty.
//! - [`SseParser::finish`] flushes a final event that lacks its trailing blank line at end of
//!   stream (the standard discards it; some servers omit the last blank line).
//!
//! Buffers (partial line, data, event type, id) are reused across events, so steady-state parsing
//! does not allocate: a line wholly inside one frame is processed in place, and only a line split
//! across frames is copied into the carry-over buffer.

use std::ops::ControlFlow;

/// One dispatched event. Slices borrow the parser's buffers and are valid during the callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// The `event:` type; empty means the default type, `message`.
    pub event: &'a [u8],
    /// The `data:` lines joined with `\n` (no trailing newline).
    pub data: &'a [u8],
    /// The `error:` lines joined with `\n` (llama.cpp extension; empty if none).
    pub error: &'a [u8],
    /// The last event id seen in the stream so far (empty if none).
    pub id: &'a [u8],
}

impl Event<'_> {
    /// The event type, with the standard default `message`.
    pub fn event_type(&self) -> &[u8] {
        if self.event.is_empty() {
            b"message"
        } else {
            self.event
        }
    }
}

/// Field buffers of the event being assembled (separate from the line buffer so a carried-over
/// line can be read while these are written).
#[derive(Debug, Default)]
struct Fields {
    data: Vec<u8>,
    has_data: bool,
    error: Vec<u8>,
    has_error: bool,
    event: Vec<u8>,
    id: Vec<u8>,
    retry_ms: Option<u64>,
    seen_first_line: bool,
}

impl Fields {
    fn process_line<B>(
        &mut self,
        mut line: &[u8],
        on_event: &mut impl FnMut(Event<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        if !self.seen_first_line {
            self.seen_first_line = true;
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.is_empty() {
            return self.dispatch(on_event);
        }
        if line[0] == b':' {
            return ControlFlow::Continue(());
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"error" => {
                if self.has_error {
                    self.error.push(b'\n');
                }
                self.error.extend_from_slice(value);
                self.has_error = true;
            }
            b"event" => {
                self.event.clear();
                self.event.extend_from_slice(value);
            }
            b"id" if !value.contains(&0) => {
                self.id.clear();
                self.id.extend_from_slice(value);
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // Saturate instead of failing on absurd values.
                self.retry_ms = Some(value.iter().fold(0u64, |acc, &d| {
                    acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                }));
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn dispatch<B>(
        &mut self,
        on_event: &mut impl FnMut(Event<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let flow = if self.has_data || self.has_error {
            on_event(Event {
                event: &self.event,
                data: &self.data,
                error: &self.error,
                id: &self.id,
            })
        } else {
            ControlFlow::Continue(())
        };
        self.data.clear();
        self.has_data = false;
        self.error.clear();
        self.has_error = false;
        self.event.clear();
        flow
    }
}

/// Incremental SSE parser: [`feed`](SseParser::feed) it frames as they arrive, then
/// [`finish`](SseParser::finish) at end of stream.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of a line not yet terminated in earlier frames.
    line: Vec<u8>,
    /// The previous frame ended in CR: a leading LF in the next frame belongs to that CRLF.
    skip_lf: bool,
    fields: Fields,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        SseParser::default()
    }

    /// The last `retry:` value, in milliseconds.
    pub fn retry_ms(&self) -> Option<u64> {
        self.fields.retry_ms
    }

    /// Parse one frame, calling `on_event` for every event the frame completes. If the callback
    /// breaks, parsing stops at once and the rest of the frame is not consumed (the caller is
    /// expected to stop reading the stream).
    pub fn feed<B>(
        &mut self,
        frame: &[u8],
        mut on_event: impl FnMut(Event<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let mut rest = frame;
        if self.skip_lf && !rest.is_empty() {
            self.skip_lf = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            let flow = if self.line.is_empty() {
                self.fields.process_line(&rest[..end], &mut on_event)
            } else {
                self.line.extend_from_slice(&rest[..end]);
                let flow = self.fields.process_line(&self.line, &mut on_event);
                self.line.clear();
                flow
            };
            let ended_in_cr = rest[end] == b'\r';
            rest = &rest[end + 1..];
            if ended_in_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            flow?;
        }
        self.line.extend_from_slice(rest);
        ControlFlow::Continue(())
    }

    /// Bytes held for the event being assembled: its unterminated line, its `data` and
    /// `error` lines so far, its type and the last event id. The parser itself never limits
    /// them (a line or an event may be any length); a caller reading from a network checks
    /// this after each [`feed`](SseParser::feed) and gives up past its own limit, so a
    /// server that never ends a line or an event cannot take unbounded memory.
    pub fn buffered(&self) -> usize {
        let f = &self.fields;
        self.line.len() + f.data.len() + f.error.len() + f.event.len() + f.id.len()
    }

    /// Whether the input so far ends inside a line (no line ending after its last bytes).
    pub fn in_line(&self) -> bool {
        !self.line.is_empty()
    }

    /// End of stream: an unterminated last line counts as a line, and a pending event is
    /// dispatched even without its blank line.
    pub fn finish<B>(
        &mut self,
        mut on_event: impl FnMut(Event<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        self.skip_lf = false;
        if !self.line.is_empty() {
            let flow = self.fields.process_line(&self.line, &mut on_event);
            self.line.clear();
            flow?;
        }
        self.fields.dispatch(&mut on_event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An owned copy of an event, for comparisons.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Owned {
        event: String,
        data: String,
        error: String,
        id: String,
    }

    fn own(e: Event<'_>) -> Owned {
        let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        Owned {
            event: s(e.event),
            data: s(e.data),
            error: s(e.error),
            id: s(e.id),
        }
    }

    fn msg(data: &str) -> Owned {
        Owned {
            event: String::new(),
            data: data.into(),
            error: String::new(),
            id: String::new(),
        }
    }

    /// Parse `frames` in order, then finish.
    fn parse_frames(frames: &[&[u8]]) -> Vec<Owned> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for frame in frames {
            let _: ControlFlow<()> = parser.feed(frame, |e| {
                out.push(own(e));
                ControlFlow::Continue(())
            });
        }
        let _: ControlFlow<()> = parser.finish(|e| {
            out.push(own(e));
            ControlFlow::Continue(())
        });
        out
    }

    fn parse(stream: &str) -> Vec<Owned> {
        parse_frames(&[stream.as_bytes()])
    }

    #[test]
    fn lf_crlf_and_cr_line_endings_give_the_same_events() {
        let lf = "data: a\n\ndata: b\n\n";
        let crlf = lf.replace('\n', "\r\n");
        let cr = lf.replace('\n', "\r");
        let expected = vec![msg("a"), msg("b")];
        assert_eq!(parse(lf), expected);
        assert_eq!(parse(&crlf), expected);
        assert_eq!(parse(&cr), expected);
        // Mixed endings in one stream.
        assert_eq!(parse("data: a\r\n\rdata: b\n\r\n"), expected);
    }

    #[test]
    fn comments_are_ignored_and_do_not_dispatch() {
        let events = parse(": ping\n\n:another\ndata: x\n: inside\n\n");
        assert_eq!(events, vec![msg("x")]);
    }

    #[test]
    fn multi_line_data_is_joined_with_newline() {
        assert_eq!(
            parse("data: {\"a\":\ndata:  1}\ndata\n\n"),
            vec![msg("{\"a\":\n 1}\n")]
        );
    }

    #[test]
    fn only_one_space_after_the_colon_is_stripped() {
        assert_eq!(parse("data:x\n\n"), vec![msg("x")]);
        assert_eq!(parse("data:  x\n\n"), vec![msg(" x")]);
        assert_eq!(parse("data: x \n\n"), vec![msg("x ")]);
    }

    #[test]
    fn event_id_and_retry_fields() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        let stream = b"event: update\nid: 7\nretry: 1500\ndata: one\n\nid\0: bad\ndata: two\n\n\
                       id: 8\0\ndata: three\n\nretry: 12x\nevent: error\ndata: four\n\n";
        let _: ControlFlow<()> = parser.feed(stream, |e| {
            out.push(own(e));
            ControlFlow::Continue(())
        });
        assert_eq!(parser.retry_ms(), Some(1500), "invalid retry is ignored");
        let ev = |event: &str, data: &str, id: &str| Owned {
            event: event.into(),
            data: data.into(),
            error: String::new(),
            id: id.into(),
        };
        assert_eq!(
            out,
            vec![
                ev("update", "one", "7"),
                // The event type resets after dispatch; the id persists; `id\0` is another field.
                ev("", "two", "7"),
                // An id containing NUL is ignored.
                ev("", "three", "7"),
                ev("error", "four", "7"),
            ]
        );
        let first = Event {
            event: b"",
            data: b"",
            error: b"",
            id: b"",
        };
        assert_eq!(first.event_type(), b"message");
    }

    #[test]
    fn blank_lines_without_data_do_not_dispatch() {
        assert_eq!(parse("\n\n\r\n\nevent: x\n\nid: 3\n\n"), vec![]);
        // A bare `data` line dispatches an empty event, as the standard says.
        assert_eq!(parse("data\n\n"), vec![msg("")]);
    }

    #[test]
    fn final_event_without_trailing_blank_line_is_flushed() {
        assert_eq!(parse("data: a\n\ndata: b\n"), vec![msg("a"), msg("b")]);
        assert_eq!(parse("data: a\n\ndata: b"), vec![msg("a"), msg("b")]);
        assert_eq!(parse("data: a\r"), vec![msg("a")]);
    }

    #[test]
    fn done_sentinel_is_an_ordinary_event() {
        assert_eq!(
            parse("data: {}\n\ndata: [DONE]\n\n"),
            vec![msg("{}"), msg("[DONE]")]
        );
    }

    #[test]
    fn byte_order_mark_is_skipped_only_at_the_start() {
        assert_eq!(
            parse_frames(&[b"\xEF\xBB", b"\xBFdata: a\n\n"]),
            vec![msg("a")]
        );
        let events = parse_frames(&[b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"]);
        assert_eq!(
            events,
            vec![msg("a")],
            "a BOM later is part of a field name"
        );
    }

    #[test]
    fn llama_cpp_error_field_dispatches() {
        let events = parse("data: {\"x\":1}\n\nerror: {\"code\":500,\"message\":\"boom\"}\n\n");
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].error, "{\"code\":500,\"message\":\"boom\"}");
        assert_eq!(events[1].data, "");
    }

    #[test]
    fn breaking_stops_parsing() {
        let mut parser = SseParser::new();
        let mut seen = 0;
        let flow = parser.feed(b"data: 1\n\ndata: 2\n\n", |_| {
            seen += 1;
            ControlFlow::Break("stop")
        });
        assert_eq!(flow, ControlFlow::Break("stop"));
        assert_eq!(seen, 1);
    }

    /// A recorded-style stream that mixes every line ending, comments, fields and multi-line data.
    const MIXED: &[u8] = b"\xEF\xBB\xBF: keep-alive\r\n\
        data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\r\n\r\n\
        event: message\nid: 1\ndata: {\"a\":\ndata: 2}\n\n\
        data: caf\xC3\xA9\r\rretry: 10\rdata: x\r\n\
        data: y\r\n\r\n\
        error: {\"message\":\"late\"}\n\n\
        data: [DONE]\r\n\r\n\
        data: tail-without-blank-line";

    #[test]
    fn every_split_point_gives_identical_events() {
        let whole = parse_frames(&[MIXED]);
        assert_eq!(whole.len(), 7, "{whole:?}");
        assert_eq!(whole[2].data, "café");
        assert_eq!(whole[3].data, "x\ny");
        assert_eq!(whole[6].data, "tail-without-blank-line");
        for split in 0..=MIXED.len() {
            let (a, b) = MIXED.split_at(split);
            assert_eq!(parse_frames(&[a, b]), whole, "split at {split}");
        }
        for first in 0..=MIXED.len() {
            for second in first..=MIXED.len() {
                let parts = [&MIXED[..first], &MIXED[first..second], &MIXED[second..]];
                assert_eq!(parse_frames(&parts), whole, "split at {first},{second}");
            }
        }
        // One byte per frame.
        let bytes: Vec<&[u8]> = MIXED.chunks(1).collect();
        assert_eq!(parse_frames(&bytes), whole);
    }

    #[test]
    fn crlf_split_inside_is_one_line_ending() {
        // "data: a\r" | "\n" | "\r\n": without the LF skip this would see an extra blank line
        // and dispatch early; with it the events are the same either way.
        assert_eq!(
            parse_frames(&[b"data: a\r", b"\n", b"data: b\r", b"\n\r", b"\n"]),
            vec![msg("a\nb")]
        );
    }

    #[test]
    fn buffered_counts_what_an_unfinished_event_holds() {
        let mut parser = SseParser::new();
        let _: ControlFlow<()> = parser.feed(
            b"id: 12\nevent: x\ndata: abc\nerror: e\ndata: partial",
            |_| ControlFlow::Continue(()),
        );
        // id "12", event "x", data "abc", error "e", line "data: partial".
        assert_eq!(parser.buffered(), 2 + 1 + 3 + 1 + 13);
        let _: ControlFlow<()> = parser.feed(b"\n\n", |_| ControlFlow::Continue(()));
        assert_eq!(parser.buffered(), 2, "only the last event id is kept");
    }

    #[test]
    fn steady_state_reuses_buffers() {
        let mut parser = SseParser::new();
        let frame = b"data: {\"choices\":[{\"delta\":{\"content\":\"hello\"}}]}\n\n";
        let _: ControlFlow<()> = parser.feed(frame, |_| ControlFlow::Continue(()));
        let capacity = parser.fields.data.capacity();
        for _ in 0..100 {
            let _: ControlFlow<()> = parser.feed(frame, |_| ControlFlow::Continue(()));
        }
        assert_eq!(parser.fields.data.capacity(), capacity);
        assert_eq!(parser.line.capacity(), 0, "no line was split across frames");
    }
}
