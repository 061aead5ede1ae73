//! The built-in simulated engine: an OpenAI-compatible server with a continuous-batching
//! performance model and a seeded quality oracle (README, "The simulated engine").
//!
//! Why a simulator: every pipeline must run with no real server (quick start, tests, CI), and
//! the numbers it produces must behave like a real deployment's, or the frontier built from
//! them teaches nothing. So latency comes from a scheduler that batches like vLLM (TTFT and
//! tails grow with load and shrink with slots), and accuracy from an oracle that answers
//! known questions correctly with a configured, temperature-dependent probability.
//!
//! - `engine`: the scheduler task (slots, FIFO queue, KV capacity, step timing).
//! - `oracle`: which answer a request gets, and finding known inputs in prompts.
//! - `tokens`: the simulated tokenizer (`ceil(bytes / 4)` prompt tokens, word output tokens).
//! - `http`: routes, request validation and vLLM-shaped JSON and SSE.

mod engine;
mod hash;
mod http;
mod oracle;
pub(crate) mod tokens;

#[cfg(test)]
mod tests;

/// The simulated tokenizer's prompt count (`ceil(bytes / 4)`), for prompt builders that aim at
/// exact lengths.
pub(crate) use tokens::prompt_tokens;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::plan::Plan;
use crate::spec::SimProfile;

/// What the engine knows: inputs and their reference answers, so that it can answer a known
/// question correctly with the profile's probability.
///
/// A prompt "is" a known input when it contains that input's text anywhere (templates wrap
/// questions in instructions and retrieved context); when several inputs occur, the longest
/// wins. Inputs are indexed once, so a lookup costs one pass over the prompt however many
/// inputs are known.
#[derive(Debug, Default)]
pub struct Knowledge {
    entries: Vec<(String, Vec<String>)>,
    index: oracle::InputIndex,
}

impl Knowledge {
    /// Build from (input text, acceptable answers) pairs. Empty inputs never match.
    pub fn new(entries: Vec<(String, Vec<String>)>) -> Self {
        let index = oracle::InputIndex::build(&entries);
        Knowledge { entries, index }
    }

    /// The references of the known input contained in `prompt`, if any (the longest such
    /// input; the earliest entry among equally long ones).
    pub fn lookup(&self, prompt: &str) -> Option<&[String]> {
        self.index
            .find(&self.entries, prompt)
            .map(|id| self.entries[id].1.as_slice())
    }

    /// Number of known inputs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What the simulated engines of `plan` know: every row of every dataset that has
    /// references, in dataset-name then row order. A row without references cannot be
    /// answered correctly, and as the longest match it would hide a shorter known input that
    /// its text contains.
    pub fn of_plan(plan: &Plan) -> Self {
        Knowledge::new(
            plan.datasets
                .values()
                .flat_map(|d| {
                    d.rows
                        .iter()
                        .filter(|r| !r.references.is_empty())
                        .map(|r| (r.input.clone(), r.references.clone()))
                })
                .collect(),
        )
    }
}

/// Everything needed to start an engine.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Model name reported by `/v1/models` and in responses.
    pub model: String,
    /// Performance and quality model.
    pub profile: SimProfile,
    /// Known questions and answers.
    pub knowledge: Arc<Knowledge>,
    /// When set, every streamed response records its prompt and the moment its first token's
    /// bytes were handed to the connection (`frontier calibrate` compares these with the
    /// client's first-token times). Off in normal runs: it costs an allocation per request.
    pub first_token_log: Option<FirstTokenLog>,
}

impl SimConfig {
    /// The engine of a simulated endpoint of `plan`, built the same way by `frontier run`
    /// and `frontier sim-server --pipeline`, so that both answer a prompt alike: `profile`
    /// with its seed mixed with `workload.seed` (another workload seed draws other answers),
    /// serving `model`, knowing `knowledge` (from [`Knowledge::of_plan`]).
    pub fn for_pipeline(
        plan: &Plan,
        model: &str,
        mut profile: SimProfile,
        knowledge: Arc<Knowledge>,
    ) -> SimConfig {
        let mut state = plan.seed;
        profile.seed ^= crate::rng::splitmix64(&mut state);
        SimConfig {
            model: model.to_string(),
            profile,
            knowledge,
            first_token_log: None,
        }
    }
}

/// (prompt, first-token send time) of each streamed response, in completion order.
pub type FirstTokenLog = Arc<std::sync::Mutex<Vec<(String, std::time::Instant)>>>;

/// A running engine: an HTTP/1.1 server (keep-alive, `TCP_NODELAY`) in front of one
/// continuous-batching scheduler task.
///
/// Dropping a `SimServer` without [`SimServer::shutdown`] aborts its tasks.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
    engine_task: JoinHandle<()>,
}

/// How long [`SimServer::shutdown`] lets in-flight responses finish before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl SimServer {
    /// Bind `addr` (port 0 for an ephemeral port) and serve until [`SimServer::shutdown`].
    /// Must be called within a tokio runtime; the server's tasks run on it.
    pub async fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<SimServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (engine, engine_task) =
            engine::spawn(engine::EngineParams::from_profile(&config.profile));
        let state = Arc::new(http::AppState::new(config, engine));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let accept_task = tokio::spawn(accept_loop(listener, state, shutdown_rx));
        Ok(SimServer {
            addr,
            shutdown,
            accept_task,
            engine_task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Stop accepting and end the engine task.
    ///
    /// Gracefully: the listener closes at once, idle connections close, and responses in
    /// flight may finish for up to 5 seconds before their connections are cut.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let _ = (&mut self.accept_task).await;
        // Every connection is gone, so nothing can read the engine's output any more.
        self.engine_task.abort();
        let _ = (&mut self.engine_task).await;
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.engine_task.abort();
    }
}

/// Serve `config` on `addr` until Ctrl-C (`frontier sim-server --listen ADDR`).
///
/// Prints one line to stderr with the base URL once listening (useful with port 0).
pub async fn serve_forever(config: SimConfig, addr: SocketAddr) -> std::io::Result<()> {
    let model = config.model.clone();
    let server = SimServer::start(config, addr).await?;
    eprintln!(
        "frontier sim-server: serving model {model:?} at {} (Ctrl-C to stop)",
        server.base_url()
    );
    let stopped = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    stopped
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<http::AppState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Token chunks are small writes that must leave at once.
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(stream, state.clone(), shutdown.clone()));
                }
                // Out of file descriptors or a connection reset before accept: back off a little.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    drop(state);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
}

async fn serve_connection(
    stream: TcpStream,
    state: Arc<http::AppState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let service = service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(http::handle(state, req).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    if *shutdown.borrow_and_update() {
        connection.as_mut().graceful_shutdown();
    } else {
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = shutdown.changed() => connection.as_mut().graceful_shutdown(),
        }
    }
    let _ = connection.await;
}
