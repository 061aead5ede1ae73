//! frontier's own HTTP/1.1 client for plain `http://` endpoints (every local inference server:
//! vLLM, SGLang, TGI, llama.cpp), used instead of reqwest/hyper there. `https://` endpoints,
//! and every endpoint when a proxy is configured, stay on reqwest (see `LlmClient::new`).
//!
//! Why: the request task owns its connection and reads the socket itself, so each network frame
//! costs one read and one decode, with no hand-off to a separate connection task, no channel
//! per body frame and no allocation per frame (hyper's path cost a task wake-up, a `Bytes` and
//! several trait-object polls per frame: about a fifth of the client's CPU while streaming).
//! Body bytes are decoded in the connection's read buffer and handed to the SSE parser as
//! slices.
//!
//! What it speaks: one request per connection at a time (no pipelining), `Content-Length`,
//! `Transfer-Encoding: chunked` and close-delimited response bodies, interim 1xx responses
//! skipped, keep-alive unless the server says `Connection: close` or answers HTTP/1.0 without
//! keep-alive. Framing follows RFC 9112 6.3 as hyper reads it, so both transports agree:
//! chunked wins over a `Content-Length` (and the connection is then not reused); repeated
//! lengths must agree; a length is digits only; `Transfer-Encoding` in an HTTP/1.0 response,
//! or a malformed chunk size, is an error; 1xx (but `101`), 204 and 304 have no body.
//! A connection whose response was read to its end goes back to the pool whatever the outcome
//! (an error status too), unless bytes past the response were read with it. Idle connections
//! are pooled per host and port; one the server has closed while idle is noticed (its
//! readiness shows the close) and discarded at checkout. Nothing is ever sent twice: a
//! connection that closes after the request was written (the server's idle timeout racing the
//! send, or a crash) is a `connect` error row, as with reqwest.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::record::Recorder;
use super::{
    BodyRead, DRAIN_AFTER_DONE, DRAIN_MAX_BYTES, ERROR_BODY_MAX_BYTES, ERROR_BODY_WAIT, ErrorKind,
    JSON_BODY_MAX_BYTES, LlmRequest, compressed, record_json,
};
use crate::clock::Clock;

/// Largest response head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most response headers parsed.
const MAX_HEADERS: usize = 96;
/// Bytes read per `read` call at least (the buffer grows when a frame is larger).
const READ_CHUNK: usize = 16 * 1024;
/// Longest chunk-size line (with extensions) or trailer line accepted.
const MAX_LINE: usize = 4096;

/// Where a connection goes: host (as in the URL, without IPv6 brackets) and port.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Origin {
    host: String,
    port: u16,
}

/// Idle keep-alive connections per origin.
#[derive(Debug)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<Origin, Vec<Conn>>>,
    max_idle_per_origin: usize,
}

impl Pool {
    pub(crate) fn new(max_idle_per_origin: usize) -> Pool {
        Pool {
            idle: Mutex::new(HashMap::new()),
            max_idle_per_origin,
        }
    }

    /// A pooled connection that is still open, if any.
    fn checkout(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle.lock().ok()?;
        let conns = idle.get_mut(origin)?;
        while let Some(conn) = conns.pop() {
            if conn.is_reusable() {
                return Some(conn);
            }
        }
        None
    }

    /// Back to the pool after a response whose body was read to its end (`body_done`), when
    /// the connection may serve another request and nothing past the response was read.
    fn release(&self, origin: Origin, conn: Conn, head: &Head, body_done: bool) {
        if body_done && head.keep_alive && conn.unread().is_empty() {
            self.checkin(origin, conn);
        }
    }

    fn checkin(&self, origin: Origin, mut conn: Conn) {
        conn.buf.clear();
        conn.start = 0;
        if conn.buf.capacity() > 4 * READ_CHUNK {
            // A large body grew it: idle connections keep only a small buffer.
            conn.buf = Vec::new();
        }
        if let Ok(mut idle) = self.idle.lock() {
            let conns = idle.entry(origin).or_default();
            if conns.len() < self.max_idle_per_origin {
                conns.push(conn);
            }
        }
    }
}

/// One connection and its read buffer (`buf[start..]` is read but not yet consumed).
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
}

impl Conn {
    /// Still open with nothing unexpected to read: a close (or stray bytes) shows as
    /// readiness, checked without a system call when there is none.
    fn is_reusable(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Read more bytes after the unread ones; `Ok(0)` at the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        // Into the spare capacity: no zeroing per read.
        self.buf.reserve(READ_CHUNK);
        self.stream.read_buf(&mut self.buf).await
    }
}

/// How the response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// `Content-Length`: bytes still to come.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked(Chunked),
    /// Until the server closes the connection.
    Close,
}

/// Position in a chunked body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunked {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk: data bytes left.
    Data(u64),
    /// After a chunk's data: expecting its CRLF.
    DataEnd,
    /// After the last (zero) chunk: trailer lines until an empty one.
    Trailers,
}

/// The body decoder's verdict on the bytes so far.
#[derive(Debug, PartialEq, Eq)]
enum Decoded {
    /// Consumed this many bytes; the body goes on.
    More(usize),
    /// Consumed this many bytes and the body is complete.
    Done(usize),
}

impl Framing {
    /// Decode body bytes from `input`, handing each run of data to `data` (which may stop the
    /// decoding by returning `false`). Consumes whole syntactic units only: a partial size or
    /// trailer line is left for the next call.
    fn decode<'a>(
        &mut self,
        input: &'a [u8],
        mut data: impl FnMut(&'a [u8]) -> bool,
    ) -> Result<Decoded, String> {
        let mut at = 0;
        loop {
            match self {
                Framing::Close => {
                    if at < input.len() {
                        data(&input[at..]);
                    }
                    return Ok(Decoded::More(input.len()));
                }
                Framing::Length(0) => return Ok(Decoded::Done(at)),
                Framing::Length(left) => {
                    let take = (input.len() - at).min(usize::try_from(*left).unwrap_or(usize::MAX));
                    if take == 0 {
                        return Ok(Decoded::More(at));
                    }
                    *left -= take as u64;
                    let more = data(&input[at..at + take]);
                    at += take;
                    if !more {
                        return Ok(if *left == 0 {
                            Decoded::Done(at)
                        } else {
                            Decoded::More(at)
                        });
                    }
                }
                Framing::Chunked(state) => match *state {
                    Chunked::Size => {
                        let Some(line) = line_at(input, at)? else {
                            return Ok(Decoded::More(at));
                        };
                        let size = chunk_size(&input[at..at + line])?;
                        at += line + 2;
                        *state = if size == 0 {
                            Chunked::Trailers
                        } else {
                            Chunked::Data(size)
                        };
                    }
                    Chunked::Data(left) => {
                        let take =
                            (input.len() - at).min(usize::try_from(left).unwrap_or(usize::MAX));
                        if take == 0 {
                            return Ok(Decoded::More(at));
                        }
                        let left = left - take as u64;
                        *state = if left == 0 {
                            Chunked::DataEnd
                        } else {
                            Chunked::Data(left)
                        };
                        let more = data(&input[at..at + take]);
                        at += take;
                        if !more {
                            return Ok(Decoded::More(at));
                        }
                    }
                    Chunked::DataEnd => {
                        if input.len() - at < 2 {
                            return Ok(Decoded::More(at));
                        }
                        if &input[at..at + 2] != b"\r\n" {
                            return Err("invalid chunked body: no CRLF after a chunk's data".into());
                        }
                        at += 2;
                        *state = Chunked::Size;
                    }
                    Chunked::Trailers => {
                        let Some(line) = line_at(input, at)? else {
                            return Ok(Decoded::More(at));
                        };
                        at += line + 2;
                        if line == 0 {
                            return Ok(Decoded::Done(at));
                        }
                    }
                },
            }
        }
    }

    /// The body is complete (nothing more belongs to it).
    fn is_done(&self) -> bool {
        *self == Framing::Length(0)
    }
}

/// Length of the CRLF-terminated line starting at `at` (without the CRLF), if complete.
fn line_at(input: &[u8], at: usize) -> Result<Option<usize>, String> {
    let rest = &input[at..];
    match memchr::memchr(b'\n', rest) {
        Some(nl) if nl > 0 && rest[nl - 1] == b'\r' => Ok(Some(nl - 1)),
        Some(_) => Err("invalid chunked body: a line not ended by CRLF".into()),
        None if rest.len() > MAX_LINE => Err("invalid chunked body: line too long".into()),
        None => Ok(None),
    }
}

/// The hexadecimal size of a chunk-size line (extensions after `;` ignored; any number of
/// leading zeros; a size past `u64` is an error).
fn chunk_size(line: &[u8]) -> Result<u64, String> {
    let digits = line.split(|&b| b == b';').next().unwrap_or(b"");
    let digits = digits.trim_ascii();
    let size = (!digits.is_empty())
        .then(|| {
            digits.iter().try_fold(0u64, |size, &d| {
                let digit = char::from(d).to_digit(16)?;
                size.checked_mul(16)?.checked_add(u64::from(digit))
            })
        })
        .flatten();
    size.ok_or_else(|| {
        format!(
            "invalid chunked body: chunk size {:?}",
            String::from_utf8_lossy(line)
        )
    })
}

/// What the response head says.
#[derive(Debug)]
struct Head {
    status: u16,
    framing: Framing,
    /// The connection can serve another request once this body is read.
    keep_alive: bool,
    /// `Content-Type` is `application/json`.
    json: bool,
    /// A `Content-Encoding` other than `identity` (frontier decodes none).
    encoding: Option<String>,
}

impl Head {
    /// An interim (1xx) response: the final one follows. `101 Switching Protocols` is final
    /// (the connection then speaks another protocol; frontier never asks for one).
    fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// Parse a complete head from `input`: `Ok(None)` if more bytes are needed, with the head's
/// length when complete. Header values are looked at as bytes (they need not be UTF-8).
fn parse_head(input: &[u8]) -> Result<Option<(usize, Head)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("invalid HTTP response head: {e}")),
    };
    let status = response.code.unwrap_or(0);
    let http10 = response.version == Some(0);
    let mut length: Result<Option<u64>, String> = Ok(None);
    let (mut transfer_coded, mut chunked, mut json) = (false, false, false);
    let (mut close, mut keep_alive_asked) = (false, false);
    let mut encoding = None;
    for h in response.headers.iter() {
        let value = h.value.trim_ascii();
        if h.name.eq_ignore_ascii_case("content-length") {
            // Repeated headers and comma-separated lists are fine when every value is the
            // same number (RFC 9110, 8.6); digits only (`+5` is not a length).
            for v in value.split(|&b| b == b',') {
                length = match (length, decimal(v.trim_ascii())) {
                    (Err(e), _) => Err(e),
                    (Ok(_), None) => Err(format!(
                        "invalid Content-Length {:?}",
                        String::from_utf8_lossy(value)
                    )),
                    (Ok(Some(l)), Some(n)) if l != n => {
                        Err("conflicting Content-Length headers".into())
                    }
                    (Ok(_), Some(n)) => Ok(Some(n)),
                };
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked is the last coding when present (RFC 9112, 6.1).
            transfer_coded = true;
            chunked = value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_asked |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if h.name.eq_ignore_ascii_case("content-encoding") {
            let coding = String::from_utf8_lossy(value.trim_ascii());
            if !coding.is_empty() && !coding.eq_ignore_ascii_case("identity") {
                encoding = Some(coding.into_owned());
            }
        } else if h.name.eq_ignore_ascii_case("content-type") {
            // Visible ASCII only, as reqwest reads it.
            let mime = value.split(|&b| b == b';').next().unwrap_or(b"");
            json = value.is_ascii() && mime.trim_ascii().eq_ignore_ascii_case(b"application/json");
        }
    }
    // `close` wins over `keep-alive`; HTTP/1.0 closes unless it asked to keep the connection.
    let mut keep_alive = !close && (!http10 || keep_alive_asked);
    // RFC 9112 6.3, for a response to a POST.
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        // No body, whatever the head says; after a 101 the connection is not HTTP any more.
        keep_alive &= status != 101;
        Framing::Length(0)
    } else if transfer_coded {
        if http10 {
            // Transfer-Encoding is HTTP/1.1's: the framing is faulty (RFC 9112, 6.1).
            return Err(
                "invalid HTTP response head: Transfer-Encoding in an HTTP/1.0 response".into(),
            );
        }
        // With a Content-Length too, the message may be a smuggling attempt (RFC 9112, 6.3):
        // the chunked coding decides its end, and the connection is closed after it.
        if !matches!(length, Ok(None)) {
            keep_alive = false;
        }
        if chunked {
            Framing::Chunked(Chunked::Size)
        } else {
            keep_alive = false;
            Framing::Close
        }
    } else if let Some(n) = length? {
        Framing::Length(n)
    } else {
        keep_alive = false;
        Framing::Close
    };
    Ok(Some((
        len,
        Head {
            status,
            framing,
            keep_alive,
            json,
            encoding,
        },
    )))
}

/// A decimal number of digits only (no sign, no spaces), if it fits in a `u64`.
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let digit = char::from(d).to_digit(10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// A finished SSE exchange whose body should be read to its end, so the connection can go
/// back to the pool.
pub(crate) struct Leftover {
    conn: Conn,
    framing: Framing,
    origin: Origin,
}

impl Pool {
    /// The whole exchange over HTTP/1.1 (see [`super::LlmClient::exchange`] for the contract).
    pub(crate) async fn exchange(
        &self,
        req: &LlmRequest,
        clock: &Clock,
        rec: &mut Recorder,
    ) -> Option<Leftover> {
        let Some(origin) = origin_of(&req.url) else {
            let message = format!("invalid request: URL {} has no host", req.url);
            rec.fail(ErrorKind::Connect, message, clock.now_ns());
            return None;
        };
        if let Some(key) = &req.api_key
            && !is_header_value(key.as_bytes())
        {
            // Written as it is, a CR or LF would end the header early and start another one.
            let message = "invalid request: the API key is not a valid header value";
            rec.fail(ErrorKind::Connect, message, clock.now_ns());
            return None;
        }
        let request = request_bytes(req);
        rec.out.sent_ns = Some(clock.now_ns());
        let mut conn = match self.checkout(&origin) {
            Some(conn) => conn,
            None => match connect(&origin.host, origin.port).await {
                Ok(conn) => conn,
                Err(e) => {
                    rec.fail(ErrorKind::Connect, e, clock.now_ns());
                    return None;
                }
            },
        };
        let head = match send_and_read_head(&mut conn, &request).await {
            Ok(head) => head,
            Err(e) => {
                rec.fail(ErrorKind::Connect, e, clock.now_ns());
                return None;
            }
        };
        rec.out.http_status = Some(head.status);
        let mut framing = head.framing;

        // Whatever the outcome, a connection whose response was read to its end can serve the
        // next request (under a storm of 429s, a new connection per request would run the
        // client out of ports).
        if !(200..300).contains(&head.status) {
            // The status decides the row; the body is read for its message, briefly, so that
            // a server whose error body stalls does not hold the request until its timeout.
            let mut body = Vec::new();
            let read = tokio::time::timeout(
                ERROR_BODY_WAIT,
                read_body_into(
                    &mut conn,
                    &mut framing,
                    ERROR_BODY_MAX_BYTES,
                    clock,
                    &mut body,
                ),
            )
            .await;
            let status = reqwest::StatusCode::from_u16(head.status)
                .unwrap_or(reqwest::StatusCode::INTERNAL_SERVER_ERROR);
            rec.http_status(status, &body, &req.url, clock.now_ns());
            self.release(origin, conn, &head, read.is_ok() && framing.is_done());
            return None;
        }

        if let Some(coding) = &head.encoding {
            // The connection is dropped: its body is not read.
            rec.fail(
                ErrorKind::MalformedChunk,
                compressed(coding),
                clock.now_ns(),
            );
            return None;
        }
        if head.json {
            let (body, read) = read_body(&mut conn, &mut framing, JSON_BODY_MAX_BYTES, clock).await;
            record_json(rec, &body, read);
            self.release(origin, conn, &head, framing.is_done());
            return None;
        }

        // The event stream: bytes already read with the head arrived with it.
        let mut now_ns = clock.now_ns();
        loop {
            let mut stopped = false;
            let decoded = framing.decode(conn.unread(), |data| {
                stopped = rec.sse_frame(data, now_ns).is_break();
                !stopped
            });
            match decoded {
                Err(e) => {
                    rec.fail(ErrorKind::StreamCut, e, now_ns);
                    return None;
                }
                Ok(Decoded::Done(n)) => {
                    conn.consume(n);
                    if !stopped {
                        rec.sse_eof(now_ns);
                    }
                    self.release(origin, conn, &head, true);
                    return None;
                }
                Ok(Decoded::More(n)) => conn.consume(n),
            }
            if stopped {
                // Drain only after a clean `[DONE]`; after an error the connection is dropped.
                return (rec.out.error.is_none() && head.keep_alive).then_some(Leftover {
                    conn,
                    framing,
                    origin,
                });
            }
            match conn.fill().await {
                Ok(0) => {
                    now_ns = clock.now_ns();
                    if framing == Framing::Close {
                        rec.sse_eof(now_ns);
                    } else {
                        let message = "connection closed before the end of the response body";
                        rec.fail(ErrorKind::StreamCut, message, now_ns);
                    }
                    return None;
                }
                // One timestamp per network read, shared by every event it completes.
                Ok(_) => now_ns = clock.now_ns(),
                Err(e) => {
                    rec.fail(
                        ErrorKind::StreamCut,
                        format!("reading the response body: {e}"),
                        clock.now_ns(),
                    );
                    return None;
                }
            }
        }
    }

    /// After `[DONE]`, read the rest of the body briefly so the connection returns to the
    /// pool; give up (closing the connection) if it does not end promptly.
    pub(crate) async fn drain(&self, leftover: Leftover, deadline: Option<tokio::time::Instant>) {
        let Leftover {
            mut conn,
            mut framing,
            origin,
        } = leftover;
        let mut limit = tokio::time::Instant::now() + DRAIN_AFTER_DONE;
        if let Some(deadline) = deadline {
            limit = limit.min(deadline);
        }
        let ended = tokio::time::timeout_at(limit, async {
            let mut read = 0usize;
            loop {
                match framing.decode(conn.unread(), |data| {
                    read += data.len();
                    true
                }) {
                    Ok(Decoded::Done(n)) => {
                        conn.consume(n);
                        return conn.unread().is_empty();
                    }
                    Ok(Decoded::More(n)) => conn.consume(n),
                    Err(_) => return false,
                }
                if read > DRAIN_MAX_BYTES || framing == Framing::Close {
                    return false;
                }
                match conn.fill().await {
                    Ok(0) | Err(_) => return false,
                    Ok(_) => {}
                }
            }
        })
        .await;
        if ended == Ok(true) {
            self.checkin(origin, conn);
        }
    }
}

/// The origin of an `http://` URL (the host to connect to and the port).
fn origin_of(url: &reqwest::Url) -> Option<Origin> {
    let host = match url.host()? {
        url::Host::Domain(d) => d.to_string(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    };
    let port = url.port_or_known_default()?;
    Some(Origin { host, port })
}

/// Bytes a header value may hold (as `http::HeaderValue` accepts them, so reqwest rejects the
/// same values): no control characters but tab.
fn is_header_value(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| (b >= b' ' && b != 0x7f) || b == b'\t')
}

/// The request's bytes: head and body, written with one system call.
fn request_bytes(req: &LlmRequest) -> Vec<u8> {
    use std::io::Write;
    let url = &req.url;
    let mut out = Vec::with_capacity(256 + req.body.len());
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let path = if path.is_empty() { "/" } else { path };
    let host = url.host_str().unwrap_or("");
    let _ = write!(out, "POST {path} HTTP/1.1\r\nhost: {host}");
    if let Some(port) = url.port() {
        let _ = write!(out, ":{port}");
    }
    out.extend_from_slice(b"\r\ncontent-type: application/json\r\naccept: */*\r\n");
    if let Some(key) = &req.api_key {
        let _ = write!(out, "authorization: Bearer {key}\r\n");
    }
    let _ = write!(out, "content-length: {}\r\n\r\n", req.body.len());
    out.extend_from_slice(&req.body);
    out
}

async fn connect(host: &str, port: u16) -> Result<Conn, String> {
    let stream = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => TcpStream::connect(SocketAddr::new(ip, port)).await,
        Err(_) => TcpStream::connect((host, port)).await,
    }
    .map_err(|e| {
        let hint = super::connect_hint(&e).unwrap_or_default();
        format!("error sending request: connecting to {host}:{port}: {e}{hint}")
    })?;
    // Small request writes go out at once.
    let _ = stream.set_nodelay(true);
    Ok(Conn {
        stream,
        buf: Vec::with_capacity(READ_CHUNK),
        start: 0,
    })
}

/// Write the request and read up to the end of the (final) response head.
async fn send_and_read_head(conn: &mut Conn, request: &[u8]) -> Result<Head, String> {
    if let Err(e) = conn.stream.write_all(request).await {
        return Err(format!("error sending request: {e}"));
    }
    let mut received = 0usize;
    loop {
        match parse_head(conn.unread())? {
            Some((len, head)) => {
                conn.consume(len);
                if !head.is_interim() {
                    return Ok(head);
                }
                continue;
            }
            None if conn.unread().len() > MAX_HEAD_BYTES => {
                return Err(format!("response head larger than {MAX_HEAD_BYTES} bytes"));
            }
            None => {}
        }
        match conn.fill().await {
            Ok(0) if received == 0 => {
                return Err("connection closed before the server answered".into());
            }
            Ok(0) => return Err("connection closed inside the response head".into()),
            Ok(n) => received += n,
            Err(e) => return Err(format!("reading the response head: {e}")),
        }
    }
}

/// Read a whole body up to `max` bytes.
async fn read_body(
    conn: &mut Conn,
    framing: &mut Framing,
    max: usize,
    clock: &Clock,
) -> (Vec<u8>, BodyRead) {
    let mut body = Vec::new();
    let read = read_body_into(conn, framing, max, clock, &mut body).await;
    (body, read)
}

/// [`read_body`] into `body`, which keeps what arrived if the caller stops waiting.
async fn read_body_into(
    conn: &mut Conn,
    framing: &mut Framing,
    max: usize,
    clock: &Clock,
    body: &mut Vec<u8>,
) -> BodyRead {
    loop {
        let mut too_large = false;
        let decoded = framing.decode(conn.unread(), |data| {
            let room = max - body.len();
            if data.len() > room {
                body.extend_from_slice(&data[..room]);
                too_large = true;
                return false;
            }
            body.extend_from_slice(data);
            true
        });
        match decoded {
            Err(e) => return BodyRead::Failed(e, clock.now_ns()),
            Ok(Decoded::Done(n)) => {
                conn.consume(n);
                *framing = Framing::Length(0);
                return BodyRead::Complete(clock.now_ns());
            }
            Ok(Decoded::More(n)) => conn.consume(n),
        }
        if too_large {
            return BodyRead::TooLarge(clock.now_ns());
        }
        match conn.fill().await {
            Ok(0) if *framing == Framing::Close => {
                return BodyRead::Complete(clock.now_ns());
            }
            Ok(0) => {
                let message = "connection closed before the end of the response body".to_string();
                return BodyRead::Failed(message, clock.now_ns());
            }
            Ok(_) => {}
            Err(e) => {
                let message = format!("reading the response body: {e}");
                return BodyRead::Failed(message, clock.now_ns());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feed `wire` to a decoder in pieces of `step` bytes, as reads would deliver them;
    /// return the data and whether the body completed (and how many bytes were left over).
    fn decode_all(
        mut framing: Framing,
        wire: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, bool, usize), String> {
        let mut buf: Vec<u8> = Vec::new();
        let mut start = 0;
        let mut out = Vec::new();
        for piece in wire.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            match framing.decode(&buf[start..], |d| {
                out.extend_from_slice(d);
                true
            })? {
                Decoded::Done(n) => return Ok((out, true, buf.len() - start - n)),
                Decoded::More(n) => start += n,
            }
        }
        Ok((out, false, buf.len() - start))
    }

    fn chunked() -> Framing {
        Framing::Chunked(Chunked::Size)
    }

    #[test]
    fn chunked_bodies_decode_at_every_read_split() {
        let wire = b"5;name=value\r\nhello\r\nA\r\n, world!!!\r\n0\r\nx-trailer: 1\r\n\r\n";
        for step in 1..=wire.len() {
            let (data, done, left) = decode_all(chunked(), wire, step).unwrap();
            assert_eq!(data, b"hello, world!!!", "step {step}");
            assert!(done && left == 0, "step {step}");
        }
    }

    #[test]
    fn bytes_after_the_terminator_are_left_unread() {
        let (data, done, left) = decode_all(chunked(), b"1\r\na\r\n0\r\n\r\nHTTP/1.1", 64).unwrap();
        assert_eq!((data.as_slice(), done, left), (&b"a"[..], true, 8));
    }

    #[test]
    fn broken_chunked_bodies_are_errors() {
        for wire in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhelloXX0\r\n\r\n",
            b"5\nhello\r\n",
            b"\r\n",
            b"10000000000000000\r\n",
        ] {
            assert!(
                decode_all(chunked(), wire, 3).is_err(),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
        assert_eq!(
            chunk_size(b"000000000000000000000000000000Ff;x=1"),
            Ok(255),
            "leading zeros"
        );
        assert_eq!(chunk_size(b"FFFFFFFFFFFFFFFF"), Ok(u64::MAX));
        assert!(chunk_size(b"10000000000000000").is_err(), "past u64");
        let long = vec![b'1'; MAX_LINE + 10];
        assert!(decode_all(chunked(), &long, long.len()).is_err());
    }

    #[test]
    fn length_and_close_framing() {
        let (data, done, left) = decode_all(Framing::Length(5), b"helloEXTRA", 64).unwrap();
        assert_eq!((data.as_slice(), done, left), (&b"hello"[..], true, 5));
        let (data, done, _) = decode_all(Framing::Length(9), b"hello", 2).unwrap();
        assert_eq!((data.as_slice(), done), (&b"hello"[..], false));
        let (data, done, _) = decode_all(Framing::Close, b"anything at all", 4).unwrap();
        assert_eq!((data.as_slice(), done), (&b"anything at all"[..], false));
    }

    #[test]
    fn a_consumer_can_stop_mid_body_and_resume() {
        let wire = b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
        let mut framing = chunked();
        let mut seen = Vec::new();
        let first = framing.decode(wire, |d| {
            seen.push(d.to_vec());
            false
        });
        let Ok(Decoded::More(n)) = first else {
            panic!("{first:?}")
        };
        assert_eq!(seen, vec![b"abc".to_vec()]);
        let rest = framing.decode(&wire[n..], |d| {
            seen.push(d.to_vec());
            true
        });
        assert_eq!(rest, Ok(Decoded::Done(wire.len() - n)));
        assert_eq!(seen, vec![b"abc".to_vec(), b"def".to_vec()]);
    }

    #[test]
    fn heads_give_framing_keep_alive_and_type() {
        let head = |text: &str| parse_head(text.as_bytes()).unwrap().unwrap().1;
        let h = head(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
        );
        assert_eq!(
            (h.status, h.framing, h.keep_alive, h.json),
            (200, chunked(), true, false)
        );
        let h = head(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 12\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(
            (h.framing, h.keep_alive, h.json),
            (Framing::Length(12), false, true)
        );
        let h = head("HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        let h = head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(0), true));
        let h = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 99\r\n\r\n",
        );
        assert_eq!(h.framing, chunked(), "chunked wins over a length");
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 99\r\n\r\n");
        assert_eq!(
            (h.framing, h.keep_alive),
            (Framing::Close, false),
            "RFC 9112 6.3"
        );
        let h = head("HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(0));
        let (len, h) = parse_head(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
            .unwrap()
            .unwrap();
        assert!(h.is_interim() && len == 25 && h.status == 100);
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-le")
                .unwrap()
                .is_none()
        );
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n")
                .is_err()
        );
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: +1\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\n").is_err());
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999\r\n\r\n").is_err()
        );
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\ncontent-length: 7\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(7), true));
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(
            (h.framing, h.keep_alive),
            (chunked(), false),
            "RFC 9112 6.3"
        );
        assert!(parse_head(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        let h = head("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
        assert!(!h.is_interim() && !h.keep_alive && h.framing == Framing::Length(0));
        let h = head("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n");
        assert!(h.is_interim());
        let h =
            head("HTTP/1.0 200 OK\r\nConnection: close, keep-alive\r\nContent-Length: 0\r\n\r\n");
        assert!(!h.keep_alive, "close wins");
        let (_, h) = parse_head(
            b"HTTP/1.1 200 \xc9t\xe9\r\nx: caf\xe9\r\nConnection: \xff, close\r\ncontent-length: 2\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (h.status, h.framing, h.keep_alive),
            (200, Framing::Length(2), false)
        );
        let h = head("HTTP/1.1 200\r\ncontent-length: 2\r\n\r\n");
        assert_eq!((h.status, h.framing), (200, Framing::Length(2)));
        assert!(parse_head(b"SMTP ready\r\n\r\n").is_err());
    }

    #[test]
    fn requests_carry_host_port_path_query_auth_and_length() {
        let req = LlmRequest {
            url: "http://example.test:8000/v1/chat/completions?x=1"
                .parse()
                .unwrap(),
            api_key: Some("k".into()),
            body: bytes::Bytes::from_static(b"{}"),
            api: super::super::Api::Chat,
            timeout: std::time::Duration::from_secs(1),
            direct: false,
        };
        let text = String::from_utf8(request_bytes(&req)).unwrap();
        assert_eq!(
            text,
            "POST /v1/chat/completions?x=1 HTTP/1.1\r\nhost: example.test:8000\r\ncontent-type: application/json\r\naccept: */*\r\nauthorization: Bearer k\r\ncontent-length: 2\r\n\r\n{}"
        );
        let origin = origin_of(&"http://[::1]/v1".parse().unwrap()).unwrap();
        assert_eq!((origin.host.as_str(), origin.port), ("::1", 80));
    }

    proptest! {
        #[test]
        fn any_body_in_any_chunks_and_reads_decodes_to_itself(
            body in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(1usize..300, 1..20),
            step in 1usize..200,
            upper in any::<bool>(),
        ) {
            let mut wire = Vec::new();
            let mut at = 0;
            let mut i = 0;
            while at < body.len() {
                let n = cuts[i % cuts.len()].min(body.len() - at);
                let size = if upper { format!("{n:X}") } else { format!("{n:x}") };
                wire.extend_from_slice(size.as_bytes());
                wire.extend_from_slice(b"\r\n");
                wire.extend_from_slice(&body[at..at + n]);
                wire.extend_from_slice(b"\r\n");
                at += n;
                i += 1;
            }
            wire.extend_from_slice(b"0\r\n\r\n");
            let (data, done, left) = decode_all(chunked(), &wire, step).unwrap();
            prop_assert_eq!(data, body);
            prop_assert!(done);
            prop_assert_eq!(left, 0);
        }
    }
}
