//! Plan-level tests of synthetic datasets: per-row output lengths in request bodies, and the
//! per-execution nonce in the template context.

use std::path::Path;

use serde_json::{Map, Value};

use super::{Plan, build};
use crate::spec::load::load_str;

const SYNTHETIC: &str = r#"
version: 1
name: t
endpoints:
  sim: { kind: simulated }
datasets:
  synth:
    synthetic:
      count: 6
      input_tokens: { uniform: { min: 4, max: 40 } }
      output_tokens: { uniform: { min: 1, max: 50 } }
      prefix: { groups: 2, tokens: 16 }
      nonce: true
workload:
  arrival: { concurrency: 1 }
  seed: 3
flow:
  - id: gen
    llm:
      endpoint: sim
      messages:
        - { role: system, content: "{{ item.prefix }}" }
        - { role: user, content: "{{ item.input }}" }
      params: { temperature: 0.5, max_tokens: 16 }
"#;

fn plan(yaml: &str) -> Plan {
    let loaded = load_str(Path::new("t.yaml"), yaml.to_string(), &[]).unwrap_or_else(|e| {
        panic!("{}", e.render());
    });
    build(&loaded).unwrap_or_else(|e| panic!("{}", e.render()))
}

fn body_json(plan: &Plan, row: usize) -> (String, Value) {
    let step = &plan.trials[0].steps[0];
    let row = &plan.dataset.rows[row];
    let ctx = plan.context(row, &plan.trials[0], 0, 0, &Map::new());
    let rendered = plan.render_prompt(step, &ctx).unwrap();
    let raw = String::from_utf8(plan.body(step, &rendered, row).to_vec()).unwrap();
    let v: Value = serde_json::from_str(&raw).unwrap();
    (raw, v)
}

#[test]
fn rows_send_their_output_length_once() {
    let p = plan(SYNTHETIC);
    for (i, row) in p.dataset.rows.iter().enumerate() {
        let (raw, v) = body_json(&p, i);
        assert_eq!(raw.matches("\"max_tokens\"").count(), 1, "{raw}");
        assert_eq!(v["max_tokens"], row.output_tokens.unwrap());
        assert_eq!(v["temperature"], 0.5);
        assert_eq!(v["stream"], true);
        assert!(v.get("ignore_eos").is_none());
    }
    // ignore_eos from the dataset; max_completion_tokens when the step uses that key.
    let p = plan(
        &SYNTHETIC
            .replace("nonce: true", "nonce: true\n      ignore_eos: true")
            .replace(
                "max_tokens: 16",
                "extra: { max_completion_tokens: 16, ignore_eos: false }",
            ),
    );
    let (raw, v) = body_json(&p, 0);
    assert!(!raw.contains("\"max_tokens\""), "{raw}");
    assert_eq!(raw.matches("ignore_eos").count(), 1, "{raw}");
    assert_eq!(
        v["max_completion_tokens"],
        p.dataset.rows[0].output_tokens.unwrap()
    );
    assert_eq!(v["ignore_eos"], true);
}

#[test]
fn file_rows_keep_the_step_parameters() {
    let yaml = SYNTHETIC
        .replace(
            "  synth:\n    synthetic:\n      count: 6\n      input_tokens: { uniform: { min: 4, max: 40 } }\n      output_tokens: { uniform: { min: 1, max: 50 } }\n      prefix: { groups: 2, tokens: 16 }\n      nonce: true\n",
            "  qa: { path: datasets/qa-mini.jsonl, input: question, reference: answers }\n",
        )
        .replace("{{ item.prefix }}", "Answer. {{ case.nonce }}")
        .replace("{{ item.input }}", "{{ item.question }}");
    let p = plan(&yaml);
    let (_, v) = body_json(&p, 0);
    assert_eq!(v["max_tokens"], 16);
    // `case.nonce` is there for file datasets too; `item.input` is untouched.
    let ctx = p.context(&p.dataset.rows[0], &p.trials[0], 5, 0, &Map::new());
    assert_eq!(ctx["item"]["input"], p.dataset.rows[0].input.as_str());
    assert_eq!(ctx["case"]["index"], 5);
    assert_eq!(
        ctx["case"]["nonce"].as_str().unwrap().split(' ').count(),
        super::synthetic::NONCE_TOKENS
    );
}

#[test]
fn nonce_changes_each_execution_but_not_the_length() {
    let p = plan(SYNTHETIC);
    let row = &p.dataset.rows[2];
    let input_at = |index: u64| -> String {
        let ctx = p.context(row, &p.trials[0], index, 0, &Map::new());
        ctx["item"]["input"].as_str().unwrap().to_string()
    };
    let (a, b) = (input_at(0), input_at(1));
    assert_ne!(a, b);
    assert_ne!(a, row.input);
    assert_eq!(a, input_at(0), "deterministic");
    assert_eq!(a.len(), row.input.len());
    // The shared prefix is untouched.
    let ctx = p.context(row, &p.trials[0], 7, 0, &Map::new());
    assert_eq!(ctx["item"]["prefix"], row.item["prefix"]);
    // Without `nonce`, the input is the row's.
    let p = plan(&SYNTHETIC.replace("nonce: true", "nonce: false"));
    let row = &p.dataset.rows[2];
    let ctx = p.context(row, &p.trials[0], 1, 0, &Map::new());
    assert_eq!(ctx["item"]["input"], row.input.as_str());
}

#[test]
fn same_seed_same_prompts() {
    let a = plan(SYNTHETIC);
    let b = plan(SYNTHETIC);
    assert_eq!(a.dataset.rows, b.dataset.rows);
    let c = plan(&SYNTHETIC.replace("seed: 3", "seed: 4"));
    assert_ne!(a.dataset.rows, c.dataset.rows);
}

/// Requests are rendered from a context built directly as a template value
/// ([`Plan::template_context`]); it must render exactly as the JSON context
/// ([`Plan::context`]) does, for every part of it, and fail with the same explanation.
#[test]
fn direct_template_context_renders_as_the_json_context() {
    let template = "{{ item.input }}|{{ item.prefix }}|{{ item.id }}|{{ case.index }}|{{ case.nonce }}|\
        {{ turn.index }}/{{ turn.count }}|{{ grid.t }}|{{ vars.who }}|{{ steps.first | default('-') }}|\
        {% for k, v in item | items %}{{ k }}={{ v }};{% endfor %}|{{ grid }}|{{ vars.count + 1 }}";
    let yaml = SYNTHETIC
        .replace("  seed: 3\n", "  seed: 3\nvars: { who: \"world\", count: 41 }\ngrid:\n  product:\n    t: [0.0, 0.7]\n")
        .replace("{{ item.input }}", template)
        .replace("temperature: 0.5", "temperature: \"{{ grid.t }}\"")
        .replace("nonce: true", "nonce: false");
    for nonce in [true, false] {
        let p = plan(&yaml.replace("nonce: true", &format!("nonce: {nonce}")));
        assert_eq!(p.trials.len(), 2);
        let mut steps = Map::new();
        for (i, trial) in p.trials.iter().enumerate() {
            for (r, row) in p.dataset.rows.iter().enumerate() {
                let (index, turn) = (r as u64 * 3 + i as u64, (r % 2) as u32);
                let step = &trial.steps[0];
                let json = p.context(row, trial, index, turn, &steps);
                let expected = p.render_prompt(step, &json).unwrap();
                let direct = p
                    .render_case_prompt(step, row, trial, index, turn, &steps)
                    .unwrap();
                assert_eq!(direct, expected);
                assert!(expected.to_string().contains("world|"), "{expected}");
                steps.insert("first".into(), Value::String(format!("out {r}")));
            }
        }
    }
    // The same explanation for an undefined variable (on a later case: the first row renders
    // at validation).
    let p = plan(&SYNTHETIC.replace(
        "{{ item.input }}",
        "{% if case.index > 0 %}{{ item.inptu }}{% endif %}",
    ));
    let (trial, row) = (&p.trials[0], &p.dataset.rows[0]);
    let step = &trial.steps[0];
    let err = p
        .render_case_prompt(step, row, trial, 1, 0, &Map::new())
        .unwrap_err();
    let json = p.context(row, trial, 1, 0, &Map::new());
    assert_eq!(err, p.render_prompt(step, &json).unwrap_err());
    assert!(
        err.contains("`item.inptu`") && err.contains("did you mean `item.input`"),
        "{err}"
    );
}

/// The rendered errors of a pipeline that must not build.
fn errors(yaml: &str) -> String {
    let loaded = load_str(Path::new("t.yaml"), yaml.to_string(), &[]).unwrap_or_else(|e| {
        panic!("{}", e.render());
    });
    match build(&loaded) {
        Ok(_) => panic!("the pipeline built"),
        Err(e) => e.render(),
    }
}

fn with_workload(workload: &str) -> String {
    SYNTHETIC.replace(
        "workload:\n  arrival: { concurrency: 1 }\n  seed: 3\n",
        &format!("workload:\n{workload}"),
    )
}

#[test]
fn phases_that_leave_nothing_to_measure_are_errors() {
    let e = errors(&with_workload(
        "  arrival:\n    steps:\n      - { concurrency: 1, duration: 2s }\n      - { rate: 5, duration: 300ms }\n  cooldown_duration: 500ms\n",
    ));
    assert!(
        e.contains("cooldown_duration (500ms) must be shorter than the last stage (300ms)"),
        "{e}"
    );
    let e = errors(&with_workload(
        "  arrival: { concurrency: 1 }\n  duration: 1s\n  warmup_duration: 2s\n",
    ));
    assert!(
        e.contains("warmup_duration (2s) leaves none of the 1s to measure"),
        "{e}"
    );
    let e = errors(&with_workload(
        "  arrival: { concurrency: 1 }\n  requests: 5\n  warmup: 6\n  cooldown: 1\n",
    ));
    assert!(
        e.contains("warmup (6) leaves none of the 5 requests"),
        "{e}"
    );
    assert!(e.contains("workload.warmup"), "{e}");
    // A stage-long cool-down fits when it is shorter than the last stage.
    plan(&with_workload(
        "  arrival:\n    steps:\n      - { concurrency: 1, duration: 2s }\n      - { rate: 5, duration: 1s }\n  cooldown_duration: 500ms\n",
    ));
}

#[test]
fn rows_past_a_simulated_context_are_errors() {
    let yaml = SYNTHETIC.replace(
        "sim: { kind: simulated }",
        "sim: { kind: simulated, profile: { max_model_len: 20 } }",
    );
    let e = errors(&yaml);
    assert!(
        e.contains("more than the context of the simulated endpoint `sim` (20 tokens)"),
        "{e}"
    );
    assert!(e.contains("flow[0].llm.params.max_tokens"), "{e}");
    // The same rows fit the default context.
    plan(SYNTHETIC);
}

#[test]
fn the_template_and_prefix_count_against_a_simulated_context() {
    let yaml = |max_model_len: u32| {
        format!(
            r#"
version: 1
name: t
endpoints:
  sim: {{ kind: simulated, profile: {{ max_model_len: {max_model_len} }} }}
datasets:
  synth:
    synthetic:
      count: 4
      input_tokens: {{ fixed: 20 }}
      output_tokens: {{ fixed: 10 }}
      prefix: {{ groups: 1, tokens: 40 }}
workload:
  arrival: {{ concurrency: 1 }}
flow:
  - id: gen
    llm:
      endpoint: sim
      messages:
        - {{ role: system, content: "{{{{ item.prefix }}}}" }}
        - {{ role: user, content: "{{{{ item.input }}}}" }}
"#
        )
    };
    // 40 prefix + 20 input + 10 output tokens (as the engine counts, give or take rounding):
    // past a 60-token context, although the input and output alone would fit.
    let e = errors(&yaml(60));
    assert!(
        e.contains("more than the context of the simulated endpoint `sim` (60 tokens)"),
        "{e}"
    );
    plan(&yaml(200));
}

#[test]
fn stop_and_extra_params_are_rendered_per_trial() {
    let p = plan(
        r#"
version: 1
name: t
endpoints:
  sim: { kind: simulated }
datasets:
  synth:
    synthetic: { count: 2, input_tokens: { fixed: 4 }, output_tokens: { fixed: 2 } }
workload:
  arrival: { concurrency: 1 }
grid:
  zip: { k: [20, 30], s: ["END", "STOP"] }
flow:
  - id: gen
    llm:
      endpoint: sim
      prompt: "{{ item.input }}"
      params:
        stop: ["{{ grid.s }}", "fixed"]
        extra: { top_k: "{{ grid.k }}", tag: "k={{ grid.k }}", nested: { big: "{{ grid.k > 25 }}" } }
"#,
    );
    let mut seen = Vec::new();
    for trial in &p.trials {
        let step = &trial.steps[0];
        let row = &p.dataset.rows[0];
        let ctx = p.context(row, trial, 0, 0, &Map::new());
        let rendered = p.render_prompt(step, &ctx).unwrap();
        let raw = String::from_utf8(p.body(step, &rendered, row).to_vec()).unwrap();
        let v: Value = serde_json::from_str(&raw).unwrap();
        seen.push((
            v["top_k"].clone(),
            v["tag"].clone(),
            v["nested"]["big"].clone(),
            v["stop"].clone(),
        ));
    }
    assert_eq!(
        seen,
        vec![
            (
                serde_json::json!(20),
                serde_json::json!("k=20"),
                serde_json::json!(false),
                serde_json::json!(["END", "fixed"])
            ),
            (
                serde_json::json!(30),
                serde_json::json!("k=30"),
                serde_json::json!(true),
                serde_json::json!(["STOP", "fixed"])
            ),
        ]
    );
}

#[test]
fn a_template_using_the_whole_grid_uses_every_key() {
    for uses in [
        "{{ grid }}",
        "{{ grid | length }}",
        "{% set g = grid %}{{ g.t }}",
    ] {
        whole_grid_case(uses, true);
    }
    // A key named only in plain text, or another variable ending in `grid`, is not a use.
    whole_grid_case("grid t", false);
    whole_grid_case("{{ item.grid }}", false);
}

/// Build a pipeline whose prompt is `prompt` with one grid key `t`; whether it validates.
fn whole_grid_case(prompt: &str, valid: bool) {
    let yaml = format!(
        r#"
version: 1
name: t
endpoints:
  sim: {{ kind: simulated }}
datasets:
  synth:
    synthetic: {{ count: 2, input_tokens: {{ fixed: 4 }}, output_tokens: {{ fixed: 2 }} }}
workload:
  arrival: {{ concurrency: 1 }}
grid:
  product: {{ t: [1, 2] }}
flow:
  - id: gen
    llm: {{ endpoint: sim, prompt: "{prompt} {{{{ item.input }}}}" }}
"#
    );
    let loaded =
        load_str(Path::new("t.yaml"), yaml, &[]).unwrap_or_else(|e| panic!("{}", e.render()));
    match build(&loaded) {
        Ok(_) => assert!(valid, "{prompt}: expected the unused-key error"),
        Err(e) => {
            let e = e.render();
            assert!(
                !valid && e.contains("grid key `t` is not used"),
                "{prompt}: {e}"
            );
        }
    }
}

#[test]
fn request_counts_near_u64_max_saturate_instead_of_overflowing() {
    let max = u64::MAX;
    let two_trials = format!("{SYNTHETIC}grid:\n  product: {{ t: [1, 2] }}\n")
        .replace("temperature: 0.5", "temperature: \"{{ grid.t }}\"")
        .replace("nonce: true", "nonce: false");
    let load = |sets: &[String]| load_str(Path::new("t.yaml"), two_trials.clone(), sets);
    // Any u64 is a valid request count; the total saturates.
    let loaded =
        load(&[format!("workload.requests={max}")]).unwrap_or_else(|e| panic!("{}", e.render()));
    let p = build(&loaded).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(p.trials.len(), 2);
    assert_eq!(p.trials[0].requests(), Some(max));
    assert_eq!(p.total_requests(), Some(max));
    // Warm-up and cool-down past the count are reported, not added up.
    for (sets, want) in [
        (
            vec![format!("workload.warmup={max}")],
            "warmup (18446744073709551615) leaves none",
        ),
        (
            vec![
                "workload.requests=10".into(),
                format!("workload.cooldown={max}"),
            ],
            "cooldown (18446744073709551615) leaves none of the 10 requests",
        ),
        (
            vec![
                format!("workload.requests={max}"),
                format!("workload.warmup={}", max - 1),
                "workload.cooldown=2".into(),
            ],
            "warmup (18446744073709551614) and cooldown (2) leave none of the 18446744073709551615 requests",
        ),
    ] {
        let loaded = load(&sets).unwrap_or_else(|e| panic!("{}", e.render()));
        let e = build(&loaded).map(|_| ()).unwrap_err().render();
        assert!(e.contains(want), "{sets:?}: {e}");
    }
}

#[test]
fn base_url_must_be_an_http_url_with_a_host() {
    for ok in [
        "http://127.0.0.1:8000/v1",
        "https://api.example.com/v1",
        "http://localhost:8000/v1/",
    ] {
        assert_eq!(super::base_url_problem(ok), None, "{ok}");
    }
    for (bad, says) in [
        (
            "localhost:8000/v1",
            "did you mean `http://localhost:8000/v1`?",
        ),
        ("127.0.0.1:8000/v1", "has no scheme"),
        ("http://127.0.0.1:99999/v1", "invalid port number"),
        ("htp://127.0.0.1:8000/v1", "has the scheme `htp`"),
    ] {
        let problem = super::base_url_problem(bad).unwrap_or_default();
        assert!(problem.contains(says), "{bad}: {problem}");
    }
}

#[test]
fn sql_errors_point_into_the_file_where_the_text_stands_as_written() {
    let at = |line, column| crate::query::SqlLocation { line, column };
    let block = "query:\n  q:\n    sql: |\n      SELECT a\n        FROM t\n";
    let sql = "SELECT a\n  FROM t\n";
    // The scalar starts at 4:7; SQL 2:3 is `FROM`, at 5:9.
    assert_eq!(super::sql_in_file(block, 4, 7, sql, at(2, 3)), Some((5, 9)));
    let quoted = "    sql: 'SELECT b FROM t'\n";
    assert_eq!(
        super::sql_in_file(quoted, 1, 10, "SELECT b FROM t", at(1, 8)),
        Some((1, 18))
    );
    // Folded text (a multi-line quoted value) keeps the scalar's start.
    let folded = "    sql: \"SELECT a\n      FROM t\"\n";
    assert_eq!(
        super::sql_in_file(folded, 1, 10, "SELECT a FROM t", at(1, 10)),
        None
    );
    // From --set: no place in the file.
    assert_eq!(super::sql_in_file(block, 0, 0, sql, at(1, 1)), None);
}
