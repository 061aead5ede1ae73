//! The built-in simulated engine: an OpenAI-compatible server with a continuous-batching
//! performance model and a seeded quality oracle (README, "The simulated engine").

use std::net::SocketAddr;
use std::sync::Arc;

use crate::spec::SimProfile;

/// What the engine knows: inputs and their reference answers, so that it can answer a known
/// question correctly with the profile's probability.
#[derive(Debug, Default)]
pub struct Knowledge {
    entries: Vec<(String, Vec<String>)>,
}

impl Knowledge {
    /// Build from (input text, acceptable answers) pairs.
    pub fn new(entries: Vec<(String, Vec<String>)>) -> Self {
        Knowledge { entries }
    }

    /// The references of the known input contained in `prompt`, if any.
    pub fn lookup(&self, prompt: &str) -> Option<&[String]> {
        let _ = (prompt, &self.entries);
        todo!("sim helper")
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
}

/// A running engine.
pub struct SimServer {
    addr: SocketAddr,
}

impl SimServer {
    /// Bind `addr` (port 0 for an ephemeral port) and serve until [`SimServer::shutdown`].
    pub async fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<SimServer> {
        let _ = config;
        let _ = addr;
        todo!("sim helper")
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
    pub async fn shutdown(self) {
        todo!("sim helper")
    }
}

/// Serve until Ctrl-C (for `frontier sim-server`).
pub async fn serve_forever(config: SimConfig, addr: SocketAddr) -> std::io::Result<()> {
    let _ = (config, addr);
    todo!("sim helper")
}
