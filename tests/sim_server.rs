//! `frontier sim-server` as other tools use it: a separate process on an ephemeral loopback
//! port, the OpenAI-compatible routes over real HTTP, and which model name it serves.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `frontier sim-server`, killed on drop.
struct Server {
    child: Child,
    base_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `frontier sim-server --listen 127.0.0.1:0 ARGS` and read the URL it prints.
fn start(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["sim-server", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("frontier runs");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let line = lines
        .next()
        .expect("sim-server printed a line")
        .expect("utf-8");
    // `frontier sim-server: serving model "sim" at http://127.0.0.1:PORT/v1 (Ctrl-C to stop)`
    let base_url = line
        .split(" at ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{line}");
    assert!(!base_url.starts_with("http://127.0.0.1:0/"), "{line}");
    Server { child, base_url }
}

fn runtime() -> tokio::runtime::Runtime {
    // reqwest is built without a default TLS provider; frontier's client installs ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// POST a streaming chat completion; the status and the body.
async fn chat(http: &reqwest::Client, base: &str, model: &str) -> (u16, String) {
    let body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 8,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    post_text(http, base, "chat/completions", body).await
}

/// POST a JSON body to `route`; the status and the body's text.
async fn post_text(
    http: &reqwest::Client,
    base: &str,
    route: &str,
    body: serde_json::Value,
) -> (u16, String) {
    let r = http
        .post(format!("{base}/{route}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the server answers");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

#[test]
fn serves_the_openai_routes_on_an_ephemeral_port() {
    let server = start(&["--decode-ms", "0", "--prefill-tok-s", "0"]);
    let base = server.base_url.clone();
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let health = http
            .get(base.replace("/v1", "/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status().as_u16(), 200);
        let models = http
            .get(format!("{base}/models"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(models.contains("\"sim\""), "{models}");

        let (status, text) = chat(&http, &base, "sim").await;
        assert_eq!(status, 200, "{text}");
        let data: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
        // 8 tokens of content, then usage.
        let usage = data
            .iter()
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .find_map(|v| v["usage"]["completion_tokens"].as_i64());
        assert_eq!(usage, Some(8), "{text}");

        let (status, text) = chat(&http, &base, "other").await;
        assert_eq!(status, 404, "{text}");
        assert!(text.contains("does not exist"), "{text}");
    });
}

#[test]
fn takes_a_pipelines_endpoint_and_model_overrides() {
    // With --pipeline/--endpoint the endpoint's name is the model, unless --model says
    // otherwise.
    let served = start(&[
        "--pipeline",
        "pipelines/quickstart.yaml",
        "--endpoint",
        "small",
    ]);
    let renamed = start(&[
        "--pipeline",
        "pipelines/quickstart.yaml",
        "--endpoint",
        "small",
        "--model",
        "mine",
    ]);
    runtime().block_on(async {
        let http = reqwest::Client::new();
        assert_eq!(chat(&http, &served.base_url, "small").await.0, 200);
        assert_eq!(chat(&http, &served.base_url, "sim").await.0, 404);
        assert_eq!(chat(&http, &renamed.base_url, "mine").await.0, 200);
        assert_eq!(chat(&http, &renamed.base_url, "small").await.0, 404);
    });
    // An endpoint that is not simulated (or does not exist) is a usage error (exit 2).
    let o = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args([
            "sim-server",
            "--listen",
            "127.0.0.1:0",
            "--pipeline",
            "pipelines/quickstart.yaml",
            "--endpoint",
            "nope",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(
            "no simulated endpoint named `nope` (its simulated endpoints: large, medium, small)"
        ),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // --endpoint means nothing without --pipeline: an argument error, not ignored.
    let o = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["sim-server", "--listen", "127.0.0.1:0", "--endpoint", "sim"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("--pipeline"), "{stderr}");
}

#[test]
fn listen_takes_localhost_and_a_busy_port_says_what_to_do() {
    // `localhost:PORT` is the loopback address (an IP address is otherwise required).
    let o = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["sim-server", "--listen", "local:8000"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("expected IP:PORT, such as 127.0.0.1:8000"),
        "{stderr}"
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let o = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["sim-server", "--listen", &format!("localhost:{port}")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!("sim-server on 127.0.0.1:{port}: "))
            && stderr.contains("give --listen another port, or port 0 for a free one"),
        "{stderr}"
    );
}

#[test]
fn profile_flags_have_the_pipelines_bounds() {
    // Out-of-range profile values are argument errors (exit 2) naming the flag and the range,
    // never an engine that stalls for ages (1e20 ms) or runs for free (1e300 ms, which used to
    // convert to a zero step).
    for (flag, value, says) in [
        ("--decode-ms", "1e20", "from 0 to 3600000"),
        ("--decode-ms", "1e300", "from 0 to 3600000"),
        ("--decode-ms", "-1", "from 0 to 3600000"),
        ("--decode-ms", "NaN", "from 0 to 3600000"),
        ("--prefill-tok-s", "1e-9", "from 0.001 to 1000000000"),
        ("--prefill-tok-s", "1e10", "from 0 to 1000000000"),
        ("--quality", "1.5", "from 0 to 1"),
        ("--slots", "2000000", "0..=1048576"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_frontier"))
            .args(["sim-server", "--listen", "127.0.0.1:0", flag, value])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '{flag}"))
                && stderr.contains(says),
            "{flag} {value}: {stderr}"
        );
    }
}

/// POST a JSON body to `route`; the status and the body as JSON.
async fn post(
    http: &reqwest::Client,
    base: &str,
    route: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let (status, text) = post_text(http, base, route, body).await;
    let json = serde_json::from_str(&text).unwrap_or_else(|_| serde_json::json!({ "raw": text }));
    (status, json)
}

#[test]
fn a_request_past_the_context_is_refused_like_vllm() {
    // The engine runs inside `frontier run` too: an absurd max_tokens must be answered, not
    // allocated (u64::MAX once aborted the process).
    let server = start(&["--decode-ms", "0", "--prefill-tok-s", "0"]);
    let base = server.base_url.clone();
    runtime().block_on(async {
        let http = reqwest::Client::new();
        for (key, value) in [
            ("max_tokens", serde_json::json!(u64::MAX)),
            ("max_tokens", serde_json::json!(20_000_000)),
            ("max_completion_tokens", serde_json::json!(32_768)),
        ] {
            let mut body = serde_json::json!({
                "model": "sim",
                "messages": [{"role": "user", "content": "Tell me a long story."}],
            });
            body[key] = value.clone();
            let (status, json) = post(&http, &base, "chat/completions", body).await;
            assert_eq!(status, 400, "{key}: {value}: {json}");
            let message = json["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(&format!("'{key}' is too large: {value}"))
                    && message.contains("maximum context length is 32768 tokens"),
                "{json}"
            );
            assert_eq!(json["error"]["type"], "BadRequestError", "{json}");
            assert_eq!(json["error"]["code"], 400, "{json}");
        }
        // A prompt alone past the context.
        let long = "word ".repeat(40_000);
        let (status, json) = post(
            &http,
            &base,
            "completions",
            serde_json::json!({"model": "sim", "prompt": long, "max_tokens": 1}),
        )
        .await;
        assert_eq!(status, 400, "{json}");
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("However, your request has 50000 input tokens"),
            "{json}"
        );
        // Up to the context's end is answered in full.
        let (status, json) = post(
            &http,
            &base,
            "completions",
            serde_json::json!({"model": "sim", "prompt": "Go on:", "max_tokens": 32_766}),
        )
        .await;
        assert_eq!(status, 200, "{json}");
        assert_eq!(json["usage"]["completion_tokens"], 32_766, "{json}");
        assert_eq!(json["choices"][0]["finish_reason"], "length", "{json}");
    });
}

/// A fresh folder under the system's temporary directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "frontier-sim-server-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn answers_a_pipelines_prompts_as_its_run_does() {
    // The engine `frontier run` starts for a simulated endpoint and `frontier sim-server
    // --pipeline --endpoint` must be the same engine: the profile seed mixed with
    // workload.seed (quality 0.5 makes half the answers depend on the seed), and only rows
    // with references known (the reference-less rows below contain known questions, and as
    // the longest match would hide them).
    let dir = TempDir::new("replay");
    let mut rows = String::new();
    for i in 0..40 {
        rows.push_str(&format!(
            "{{\"q\": \"What is item {i}?\", \"a\": \"answer {i}\"}}\n"
        ));
    }
    for i in 0..8 {
        rows.push_str(&format!(
            "{{\"q\": \"Unscored: What is item {i}? Think.\", \"a\": null}}\n"
        ));
    }
    std::fs::write(dir.0.join("qa.jsonl"), rows).unwrap();
    let pipeline = dir.0.join("replay.yaml");
    std::fs::write(
        &pipeline,
        r#"version: 1
name: replay
endpoints:
  sim:
    kind: simulated
    profile: { decode_ms: 0, decode_ms_per_seq: 0, prefill_tok_s: 0, quality: 0.5, seed: 3 }
datasets:
  qa: { path: qa.jsonl, input: q, reference: a }
workload:
  arrival: { concurrency: 4 }
  seed: 7
flow:
  - id: answer
    llm:
      endpoint: sim
      messages:
        - { role: user, content: "{{ item.q }}" }
      params: { temperature: 0.0, max_tokens: 16 }
"#,
    )
    .unwrap();
    let out_dir = dir.0.join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .arg("run")
        .arg(&pipeline)
        .arg("--out")
        .arg(&out_dir)
        .arg("--no-progress")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let run_dir = std::fs::read_dir(out_dir.join("replay"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let query = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .arg("query")
        .arg(&run_dir)
        .args([
            "SELECT input, answer FROM cases ORDER BY case_index",
            "--format",
            "jsonl",
        ])
        .output()
        .unwrap();
    assert!(
        query.status.success(),
        "{}",
        String::from_utf8_lossy(&query.stderr)
    );
    let in_run: Vec<(String, String)> = String::from_utf8(query.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                row["input"].as_str().unwrap().to_string(),
                row["answer"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(in_run.len(), 48);

    let server = start(&[
        "--pipeline",
        pipeline.to_str().unwrap(),
        "--endpoint",
        "sim",
    ]);
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let mut differing = Vec::new();
        for (input, answer) in &in_run {
            let (status, json) = post(
                &http,
                &server.base_url,
                "chat/completions",
                serde_json::json!({
                    "model": "sim",
                    "messages": [{"role": "user", "content": input}],
                    "temperature": 0.0,
                    "max_tokens": 16,
                }),
            )
            .await;
            assert_eq!(status, 200, "{json}");
            let served = json["choices"][0]["message"]["content"].as_str().unwrap();
            if served != answer {
                differing.push(format!("{input:?}: run {answer:?}, sim-server {served:?}"));
            }
        }
        assert!(differing.is_empty(), "{differing:#?}");
    });
}
