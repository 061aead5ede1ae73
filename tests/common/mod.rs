//! A scripted HTTP/1.1 test server: it reads each request, then plays a [`Script`] of writes
//! and sleeps byte for byte, so tests control framing (chunked, connection-close, fixed length),
//! timing, and failures (a socket closed mid-body) exactly.
//!
//! Use from any integration test with `mod common;` and [`start`]:
//!
//! ```ignore
//! let server = common::start(Script::sse(Framing::Chunked).sleep_ms(50).data("{}").done()).await;
//! let url = server.url("/v1/chat/completions");
//! ```
//!
//! Sleeps are cumulative offsets from the moment the request was fully read (absolute deadlines,
//! so timer overshoot does not accumulate), and the server logs, per exchange, when the request
//! arrived and when each write started, on the same `Instant` clock as the client's.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Transfer-Encoding: chunked`; each body write is one chunk.
    Chunked,
    /// No length: the body ends when the server closes the connection.
    Close,
}

/// One scripted action.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write these bytes as they are.
    Write(Vec<u8>),
    /// Advance the script's deadline by this much and sleep until it.
    Sleep(Duration),
    /// Close the connection now (whatever the framing says).
    Close,
}

/// The server's answer to every request.
#[derive(Clone, Debug)]
pub struct Script {
    framing: Framing,
    steps: Vec<Step>,
    /// Whether the connection may serve another request after the script.
    keep_alive: bool,
}

impl Script {
    /// A response head with `status` and `content_type`, delimited by `framing`.
    pub fn response(status: u16, content_type: &str, framing: Framing) -> Script {
        let framing_header = match framing {
            Framing::Chunked => "transfer-encoding: chunked\r\n",
            Framing::Close => "connection: close\r\n",
        };
        let head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\n{framing_header}\r\n",
            reason(status)
        );
        Script {
            framing,
            steps: vec![Step::Write(head.into_bytes())],
            keep_alive: false,
        }
    }

    /// No response head yet: for scripts that sleep or close before answering.
    pub fn silent(framing: Framing) -> Script {
        Script {
            framing,
            steps: Vec::new(),
            keep_alive: false,
        }
    }

    /// A 200 `text/event-stream` response head.
    pub fn sse(framing: Framing) -> Script {
        Script::response(200, "text/event-stream", framing)
    }

    /// A complete response with `Content-Length` (the connection stays open for the next
    /// request).
    pub fn full(status: u16, content_type: &str, body: &str) -> Script {
        let head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            reason(status),
            body.len()
        );
        Script {
            framing: Framing::Close,
            steps: vec![Step::Write([head.as_bytes(), body.as_bytes()].concat())],
            keep_alive: true,
        }
    }

    /// Body bytes in one write (one chunk when chunked).
    pub fn body(mut self, bytes: impl AsRef<[u8]>) -> Script {
        let bytes = bytes.as_ref();
        let framed = match self.framing {
            Framing::Chunked => {
                [format!("{:x}\r\n", bytes.len()).as_bytes(), bytes, b"\r\n"].concat()
            }
            Framing::Close => bytes.to_vec(),
        };
        self.steps.push(Step::Write(framed));
        self
    }

    /// One SSE event `data: {payload}` in one write.
    pub fn data(self, payload: &str) -> Script {
        self.body(format!("data: {payload}\n\n"))
    }

    /// A chat chunk carrying `content`.
    pub fn content(self, content: &str) -> Script {
        let payload = serde_json::json!({
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}],
        });
        self.data(&payload.to_string())
    }

    /// A chat chunk with a finish reason and no content.
    pub fn finish(self, reason: &str) -> Script {
        let payload = serde_json::json!({
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": reason}],
        });
        self.data(&payload.to_string())
    }

    /// A usage-only chunk (`choices: []`).
    pub fn usage(self, prompt_tokens: i64, completion_tokens: i64) -> Script {
        let payload = serde_json::json!({
            "object": "chat.completion.chunk",
            "choices": [],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        });
        self.data(&payload.to_string())
    }

    /// Bytes written as they are, outside any framing.
    pub fn raw(mut self, bytes: impl AsRef<[u8]>) -> Script {
        self.steps.push(Step::Write(bytes.as_ref().to_vec()));
        self
    }

    /// Wait `ms` milliseconds (cumulative from the request's arrival).
    pub fn sleep_ms(mut self, ms: u64) -> Script {
        self.steps.push(Step::Sleep(Duration::from_millis(ms)));
        self
    }

    /// End the body properly: the chunked terminator (keeping the connection for the next
    /// request), or closing the connection for [`Framing::Close`].
    pub fn end(mut self) -> Script {
        match self.framing {
            Framing::Chunked => {
                self.steps.push(Step::Write(b"0\r\n\r\n".to_vec()));
                self.keep_alive = true;
            }
            Framing::Close => self.steps.push(Step::Close),
        }
        self
    }

    /// `data: [DONE]` then [`end`](Script::end).
    pub fn done(self) -> Script {
        self.data("[DONE]").end()
    }

    /// Close the socket now, without ending the body.
    pub fn cut(mut self) -> Script {
        self.steps.push(Step::Close);
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// What the server saw and did for one request.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// Which accepted connection (0-based) carried it.
    pub connection: usize,
    /// Request line and headers.
    pub head: String,
    /// Request body.
    pub body: Vec<u8>,
    /// When the request had been read completely.
    pub received: Instant,
    /// When each `Write` step started, in order (the head is write 0).
    pub writes: Vec<Instant>,
}

/// A running test server; stops when dropped.
pub struct TestServer {
    /// The bound loopback address.
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Exchange>>>,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Exchanges so far, in the order their requests arrived.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start a server on 127.0.0.1 with an ephemeral port that answers every request with `script`.
pub async fn start(script: Script) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let script = Arc::new(script);
    let task = {
        let log = log.clone();
        let connections = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let connection = connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, connection, script.clone(), log.clone()));
            }
        })
    };
    TestServer {
        addr,
        log,
        connections,
        task,
    }
}

/// An address where nothing listens (bound, then released).
pub async fn refused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    addr
}

async fn serve(
    mut stream: TcpStream,
    connection: usize,
    script: Arc<Script>,
    log: Arc<Mutex<Vec<Exchange>>>,
) {
    // Small scripted writes must leave at once, not wait for an ACK (Nagle).
    let _ = stream.set_nodelay(true);
    let mut pending = Vec::new();
    loop {
        let Some((head, body)) = read_request(&mut stream, &mut pending).await else {
            return;
        };
        let received = Instant::now();
        let index = {
            let mut log = log.lock().unwrap();
            log.push(Exchange {
                connection,
                head,
                body,
                received,
                writes: Vec::new(),
            });
            log.len() - 1
        };
        let mut deadline = tokio::time::Instant::from_std(received);
        for step in &script.steps {
            match step {
                Step::Write(bytes) => {
                    log.lock().unwrap()[index].writes.push(Instant::now());
                    if stream.write_all(bytes).await.is_err() {
                        return;
                    }
                }
                Step::Sleep(d) => {
                    deadline += *d;
                    tokio::time::sleep_until(deadline).await;
                }
                Step::Close => {
                    let _ = stream.shutdown().await;
                    return;
                }
            }
        }
        if !script.keep_alive {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Read one request (head and `Content-Length` body). `None` at EOF or on error.
async fn read_request(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&pending[..head_end]).into_owned();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while pending.len() < head_end + length {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&buf[..n]);
    }
    let body = pending[head_end..head_end + length].to_vec();
    pending.drain(..head_end + length);
    Some((head, body))
}
