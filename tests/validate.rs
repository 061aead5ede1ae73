//! Pipeline validation: every shipped pipeline validates, and every broken pipeline in
//! tests/broken/ gives the message in its `.expected` snapshot (regenerate with
//! `UPDATE_SNAPSHOTS=1 cargo test --test validate`, then review the diff).

use std::path::{Path, PathBuf};
use std::process::Command;

fn check(path: &Path) -> Result<frontier::plan::Plan, String> {
    let loaded = frontier::spec::load::load(path, &[]).map_err(|e| e.render())?;
    frontier::plan::build(&loaded).map_err(|e| e.render())
}

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from(dir)];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn shipped_pipelines_validate() {
    let files: Vec<PathBuf> = yaml_files("pipelines")
        .into_iter()
        .chain(yaml_files("examples"))
        .chain(yaml_files("benches"))
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with("quickstart.yaml")),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.ends_with("million.yaml")),
        "{files:?}"
    );
    for f in files {
        if let Err(e) = check(&f) {
            panic!("{} does not validate:\n{e}", f.display());
        }
    }
}

#[test]
fn every_evaluator_file_validates() {
    let files = yaml_files("evaluators");
    for name in [
        "short-answer",
        "numeric",
        "multiple-choice",
        "json-extraction",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(format!("{name}.yaml"))),
            "evaluators/{name}.yaml is missing: {files:?}"
        );
    }
    for f in &files {
        let scorers = frontier::plan::evaluators::check_file(f).unwrap_or_else(|e| panic!("{e}"));
        assert!(!scorers.is_empty(), "{} defines no evaluator", f.display());
    }
}

#[test]
fn use_expands_named_evaluators_in_order() {
    let pipeline = PathBuf::from("tests/fixtures/use/uses.yaml");
    let plan = check(&pipeline).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = plan.scorers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "exact",
            "token_f1",
            "numeric",
            "choice",
            "json_valid",
            "json_schema",
            "rouge_l"
        ]
    );
    // The manifest's pipeline has `use:` expanded and the schema file inlined.
    let spec = serde_json::to_value(&plan.spec.evaluators).unwrap();
    let text = spec.to_string();
    assert!(!text.contains("\"use\""), "{text}");
    assert!(text.contains("\"minLength\":1"), "{text}");
}

#[test]
fn mistakes_in_an_evaluator_file_are_reported_at_the_use_line() {
    let e = check(Path::new("tests/fixtures/use/broken.yaml")).unwrap_err();
    assert!(
        e.contains(
            "in tests/fixtures/use/evaluators/broken-entry.yaml:3:14: unknown key `normalise`"
        ),
        "{e}"
    );
    assert!(e.contains("did you mean `normalize`?"), "{e}");
    assert!(e.contains("--> tests/fixtures/use/broken.yaml:9:10"), "{e}");
    // Structural problems stop the file there; a valid structure gets its patterns checked.
    assert!(!e.contains("unclosed group"), "{e}");
}

#[test]
fn pipeline_checks_of_an_evaluator_file_entry_name_the_files_line() {
    // Checks that need the pipeline (endpoint names, the rubric against the dataset, unique
    // names) point at the `use:` line and name the evaluator file's own line:column and key.
    let e = check(Path::new("tests/fixtures/use/broken-judge.yaml")).unwrap_err();
    let file = "tests/fixtures/use/evaluators/judge-entry.yaml";
    for want in [
        format!("in {file}:7:16 (evaluators[1].llm_judge.judges[0]): unknown endpoint `grader`"),
        format!("in {file}:8:15 (evaluators[1].llm_judge.rubric): undefined variable `nothere`"),
        format!("in {file}:5:5 (evaluators[0]): two evaluators are named `exact`"),
    ] {
        assert!(e.contains(&want), "{want}\nnot in\n{e}");
    }
    assert_eq!(
        e.matches("--> tests/fixtures/use/broken-judge.yaml:11:10")
            .count(),
        3,
        "{e}"
    );
}

#[test]
fn broken_pipelines_match_snapshots() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let files = yaml_files("tests/broken");
    assert!(files.len() >= 15, "only {} broken pipelines", files.len());
    let mut mismatches = Vec::new();
    for f in &files {
        let got = match check(f) {
            Ok(_) => format!("UNEXPECTEDLY VALID: {}\n", f.display()),
            Err(e) => e,
        };
        let snap = f.with_extension("expected");
        if update {
            std::fs::write(&snap, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&snap)
            .unwrap_or_else(|_| format!("(missing snapshot {})", snap.display()));
        if got != want {
            mismatches.push(format!("--- {}\n+++ actual\n{got}", snap.display()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} snapshot(s) differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_broken_pipeline_locates_its_error() {
    for f in yaml_files("tests/broken") {
        let e = check(&f).expect_err("broken pipeline validated");
        assert!(
            e.contains(&format!("--> {}", f.display())),
            "{}: no location:\n{e}",
            f.display()
        );
        // YAML the parser refuses has no key path yet (yaml-*: over the parser's limits, or a tab).
        let unparsed = f.ends_with("invalid-yaml.yaml")
            || f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("yaml-"));
        if !f.ends_with("empty-file.yaml") && !unparsed {
            assert!(e.contains("= key: "), "{}: no key path:\n{e}", f.display());
        }
    }
}

#[test]
fn validate_command_exit_codes() {
    let bin = env!("CARGO_BIN_EXE_frontier");
    let ok = Command::new(bin)
        .args(["validate", "pipelines/quickstart.yaml"])
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = Command::new(bin)
        .args([
            "validate",
            "pipelines/quickstart.yaml",
            "tests/broken/misspelt-key.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("did you mean `arrival`?"), "{stderr}");
    let missing = Command::new(bin)
        .args(["validate", "no/such/file.yaml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let usage = Command::new(bin).args(["run"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn set_overrides_apply_and_are_validated() {
    let loaded = frontier::spec::load::load(
        Path::new("pipelines/quickstart.yaml"),
        &[
            "workload.requests=6".into(),
            "grid.product.temperature=[0.3]".into(),
        ],
    )
    .unwrap();
    let plan = frontier::plan::build(&loaded).unwrap();
    assert_eq!(plan.trials.len(), 3);
    assert_eq!(plan.total_requests(), Some(18));
    let err = frontier::spec::load::load(
        Path::new("pipelines/quickstart.yaml"),
        &["workload.requestz=6".into()],
    )
    .unwrap_err();
    let text = err.render();
    assert!(text.contains("did you mean `requests`?"), "{text}");
    assert!(
        text.contains("(value given with --set workload.requestz=6)"),
        "{text}"
    );
}

#[test]
fn errors_in_set_values_found_by_later_checks_name_the_argument() {
    let file = Path::new("pipelines/quickstart.yaml");
    for (arg, key) in [
        ("workload.requests=abc", "workload.requests"),
        ("version=2", "version"),
        ("datasets.qa.path=no-such.jsonl", "datasets.qa.path"),
        (
            "query.frontier.sql=SELECT nope FROM configs",
            "query.frontier.sql",
        ),
        (
            "workload.arrival={constant: {rate: 0}}",
            "workload.arrival.constant.rate",
        ),
    ] {
        let loaded = frontier::spec::load::load(file, &[arg.to_string()]).unwrap();
        let text = frontier::plan::build(&loaded).unwrap_err().render();
        assert!(
            text.contains(&format!(
                "--> pipelines/quickstart.yaml (value given with --set {arg})"
            )),
            "{arg}:\n{text}"
        );
        assert!(text.contains(&format!("= key: {key}")), "{arg}:\n{text}");
        // No snippet of the file's line that the value replaced.
        assert!(!text.contains("quickstart.yaml:"), "{arg}:\n{text}");
    }
}

#[test]
fn simulated_profile_bounds_apply_to_set_values() {
    // 1e20 ms stalled a run for ages and 1e300 ms ran it for free; both are errors now, with
    // the range, wherever the value comes from.
    let file = Path::new("pipelines/quickstart.yaml");
    for (arg, says) in [
        (
            "endpoints.small.profile.decode_ms=1e20",
            "must be at most 3600000, found 1e20",
        ),
        (
            "endpoints.small.profile.decode_ms=1e300",
            "must be at most 3600000, found 1e300",
        ),
        (
            "endpoints.large.profile.slots=1e7",
            "must be at most 1048576, found 10000000",
        ),
        (
            "endpoints.medium.profile.quality=-0.1",
            "must be at least 0, found -0.1",
        ),
    ] {
        let text = frontier::spec::load::load(file, &[arg.to_string()])
            .unwrap_err()
            .render();
        let key = arg.split('=').next().unwrap();
        assert!(text.contains(&format!("error: {says}\n")), "{arg}:\n{text}");
        assert!(
            text.contains(&format!("(value given with --set {arg})")),
            "{arg}:\n{text}"
        );
        assert!(text.contains(&format!("= key: {key}")), "{arg}:\n{text}");
        assert!(text.contains("= help: give a "), "{arg}:\n{text}");
    }
    // A positive prefill rate below the minimum is found by the plan's checks.
    let arg = "endpoints.small.profile.prefill_tok_s=0.0001";
    let loaded = frontier::spec::load::load(file, &[arg.to_string()]).unwrap();
    let text = frontier::plan::build(&loaded).unwrap_err().render();
    assert!(text.contains("prefill_tok_s 0.0001 is too low"), "{text}");
    assert!(
        text.contains(&format!("(value given with --set {arg})")),
        "{text}"
    );
    // The bounds themselves are valid.
    let edges = [
        "endpoints.small.profile.decode_ms=3600000".to_string(),
        "endpoints.small.profile.prefill_tok_s=0.001".to_string(),
        "endpoints.medium.profile.prefill_tok_s=1e9".to_string(),
        "endpoints.large.profile.slots=1048576".to_string(),
    ];
    let loaded =
        frontier::spec::load::load(file, &edges).unwrap_or_else(|e| panic!("{}", e.render()));
    frontier::plan::build(&loaded).unwrap_or_else(|e| panic!("{}", e.render()));
}

#[test]
fn grid_values_given_with_set_are_named_where_a_template_renders_them() {
    // The template is in the file, the bad value on the command line: the message is at the
    // template and a note names the value and the argument.
    let file = Path::new("pipelines/quickstart.yaml");
    for (arg, note) in [
        (
            "grid.product.endpoint=[small,nope]",
            "= note: grid.product.endpoint[1] = nope (value given with --set grid.product.endpoint=[small,nope])",
        ),
        (
            "grid.product.endpoint.2=nope",
            "= note: grid.product.endpoint[2] = nope (value given with --set grid.product.endpoint.2=nope)",
        ),
        (
            "grid.product.temperature=[0.0,hot]",
            "= note: grid.product.temperature[1] = hot (value given with --set grid.product.temperature=[0.0,hot])",
        ),
    ] {
        let loaded = frontier::spec::load::load(file, &[arg.to_string()]).unwrap();
        let text = frontier::plan::build(&loaded).unwrap_err().render();
        assert!(
            text.contains("--> pipelines/quickstart.yaml:"),
            "{arg}:\n{text}"
        );
        assert!(text.contains(note), "{arg}:\n{text}");
        assert_eq!(text.matches("= note:").count(), 1, "{arg}:\n{text}");
    }
    // A template given with --set that renders a grid value of the file: the note has the
    // value's line.
    let loaded = frontier::spec::load::load(
        file,
        &["flow.0.llm.params.max_tokens={{ grid.temperature }}".to_string()],
    )
    .unwrap();
    let text = frontier::plan::build(&loaded).unwrap_err().render();
    assert!(
        text.contains("= note: grid.product.temperature[1] = 0.8 (pipelines/quickstart.yaml:"),
        "{text}"
    );
}

#[test]
fn set_key_paths_are_as_shallow_as_the_file_must_be() {
    let file = Path::new("pipelines/quickstart.yaml");
    // 60,000 levels overflowed the stack of every walk of the tree.
    let deep = format!("vars.{}b=1", "a.".repeat(60_000));
    let text = frontier::spec::load::load(file, &[deep])
        .unwrap_err()
        .render();
    assert!(
        text.contains("the key path has 60002 parts, more than the 32 levels a pipeline may nest"),
        "{text}"
    );
    assert!(text.len() < 2_000, "{} bytes", text.len());
    let ok = format!("vars.{}b=1", "a.".repeat(30));
    frontier::spec::load::load(file, &[ok]).unwrap_or_else(|e| panic!("{}", e.render()));
}

#[test]
fn an_unreadable_pipeline_is_not_blamed_on_set() {
    let dir = std::env::temp_dir().join(format!("frontier-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let binary = dir.join("binary.yaml");
    std::fs::write(&binary, [0xff_u8, 0xfe, 0x00, 0x9c, 0x01]).unwrap();
    for path in [Path::new("no/such/file.yaml"), binary.as_path()] {
        let text = frontier::spec::load::load(path, &[]).unwrap_err().render();
        assert!(!text.contains("--set"), "{text}");
        assert!(
            text.contains(&format!("--> {}\n", path.display())),
            "{text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plan_names_each_trials_endpoint_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["plan", "pipelines/quickstart.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    // The grid value `endpoint=small` is the endpoint called: printed once.
    let line = text
        .lines()
        .find(|l| l.starts_with("  [0] "))
        .expect("a trial line");
    assert_eq!(line.matches("endpoint=small").count(), 1, "{text}");
    assert!(line.contains("concurrency 4  44 requests"), "{text}");
    // Without an endpoint in the grid, the endpoint called is printed.
    let out = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["plan", "examples/eval-arithmetic.yaml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("  [0] ") && l.contains("  endpoint=")),
        "{text}"
    );
}

#[test]
fn a_set_path_that_cannot_go_on_says_what_stands_there() {
    let path = Path::new("pipelines/quickstart.yaml");
    for (arg, says) in [
        (
            "flow[1].llm.params.max_tokens=8",
            "`flow` has 1 item, so `flow[1]` does not exist",
        ),
        (
            "workload.seed.x=1",
            "`workload.seed` is an integer, not a mapping",
        ),
        ("name[0]=x", "`name` is a string, not a list"),
    ] {
        let text = frontier::spec::load::load(path, &[arg.to_string()])
            .unwrap_err()
            .render();
        assert!(text.contains(says), "{arg}: {text}");
    }
}

#[test]
fn a_folder_given_as_the_pipeline_names_the_files_in_it() {
    let text = frontier::spec::load::load(Path::new("pipelines"), &[])
        .unwrap_err()
        .render();
    assert!(
        text.contains("this is a folder; give a pipeline file in it (pipelines/quickstart.yaml"),
        "{text}"
    );
}

#[test]
fn schema_command_prints_the_schema() {
    let out = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .arg("schema")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["additionalProperties"], serde_json::json!(false));
    for key in [
        "version",
        "name",
        "endpoints",
        "datasets",
        "workload",
        "flow",
        "grid",
        "evaluators",
        "slo",
        "query",
    ] {
        assert!(v["properties"].get(key).is_some(), "schema lacks {key}");
    }
    // The simulated profile carries the bounds `frontier validate` checks.
    let profile = &v["$defs"]["SimProfile"]["properties"];
    for (field, min, max) in [
        ("decode_ms", 0.0, 3_600_000.0),
        ("decode_ms_per_seq", 0.0, 3_600_000.0),
        ("prefill_tok_s", 0.0, 1e9),
        ("quality", 0.0, 1.0),
        ("error_rate", 0.0, 1.0),
        ("temperature_sensitivity", 0.0, 100.0),
        ("slots", 0.0, 1_048_576.0),
        ("kv_tokens", 0.0, 1e12),
        ("max_model_len", 0.0, 1e7),
        ("default_output_tokens", 0.0, 1e7),
        ("tokens_per_chunk", 0.0, 1e7),
    ] {
        assert_eq!(profile[field]["minimum"].as_f64(), Some(min), "{field}");
        assert_eq!(profile[field]["maximum"].as_f64(), Some(max), "{field}");
    }
}

#[test]
fn readme_pipeline_is_the_shipped_example() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let section = &readme[readme
        .find("## A complete pipeline, annotated")
        .expect("section")..];
    let start = section.find("```yaml\n").unwrap() + "```yaml\n".len();
    let end = start + section[start..].find("```").unwrap();
    let file = std::fs::read_to_string("examples/annotated/pipeline.yaml").unwrap();
    assert_eq!(
        &section[start..end],
        file,
        "README's annotated pipeline and examples/annotated/pipeline.yaml differ"
    );
}

/// A pipeline given as text, read as if it were `tests/<name>.yaml` (paths in it are relative
/// to tests/, and `use:` finds the repository's evaluators/).
fn plan_of(name: &str, text: &str) -> frontier::plan::Plan {
    let path = PathBuf::from(format!("tests/{name}.yaml"));
    let loaded = frontier::spec::load::load_str(&path, text.to_string(), &[])
        .unwrap_or_else(|e| panic!("{}", e.render()));
    frontier::plan::build(&loaded).unwrap_or_else(|e| panic!("{}", e.render()))
}

const SYNTHETIC_WITH_SCORERS: &str = r#"version: 1
name: warn
endpoints: { sim: { kind: simulated } }
datasets:
  gen: { synthetic: { count: 4, input_tokens: { fixed: 8 }, output_tokens: { fixed: 4 } } }
workload: { arrival: { concurrency: 1 } }
flow:
  - id: answer
    llm: { endpoint: sim, prompt: "{{ item.input }}" }
evaluators:
  - exact: { name: strict }
  - json_valid: {}
  - regex: { pattern: "\\w+" }
  - json_schema: { schema: { type: object } }
  - llm_judge: { judges: [sim], rubric: "Grade {{ answer }}: GRADE: 0 or 1" }
  - use: short-answer
"#;

#[test]
fn scorers_that_need_references_warn_on_a_dataset_without_any() {
    let plan = plan_of("warn-synthetic", SYNTHETIC_WITH_SCORERS);
    let w = &plan.warnings;
    let keys: Vec<String> = w.issues.iter().map(|i| i.path.to_string()).collect();
    // Not json_valid, regex, json_schema or the judge: they need no reference.
    assert_eq!(keys, vec!["evaluators[0]", "evaluators[5]"], "{w:?}");
    let text = w.render(true);
    for want in [
        "warning: scorer `strict` needs a reference to score against, but the synthetic dataset `gen` has no references: every case will be `unscored` (no_reference)\n  --> tests/warn-synthetic.yaml:11:5\n",
        "warning: scorers `exact`, `token_f1` need a reference",
        "= key: evaluators[5]\n",
        "= help: use scorers that need no reference (`regex`, `json_valid`, `json_schema`, `llm_judge`), or remove the entry\n",
    ] {
        assert!(text.contains(want), "{want}\nnot in\n{text}");
    }
    assert!(!text.contains("error"), "{text}");

    // A file dataset without `reference:` says which key to add.
    let plan = plan_of(
        "warn-file",
        r#"version: 1
name: warn
endpoints: { sim: { kind: simulated } }
datasets:
  qa: { path: ../datasets/qa-mini.jsonl, input: question }
workload: { arrival: { concurrency: 1 } }
flow:
  - id: answer
    llm: { endpoint: sim, prompt: "{{ item.question }}" }
evaluators: [ { numeric: {} } ]
"#,
    );
    let text = plan.warnings.render(true);
    assert!(
        text.contains("warning: scorer `numeric` needs a reference to score against, but the dataset `qa` has no `reference:` field"),
        "{text}"
    );
    assert!(
        text.contains("= help: name the field holding the answers with `datasets.qa.reference`, or use scorers"),
        "{text}"
    );
    assert!(text.contains("--> tests/warn-file.yaml:10:15"), "{text}");

    // With references, or with only scorers that need none, nothing is said.
    let plan = plan_of(
        "warn-none",
        r#"version: 1
name: warn
endpoints: { sim: { kind: simulated } }
datasets:
  qa: { path: ../datasets/qa-mini.jsonl, input: question, reference: answers }
workload: { arrival: { concurrency: 1 } }
flow:
  - id: answer
    llm: { endpoint: sim, prompt: "{{ item.question }}" }
evaluators: [ { use: short-answer }, { numeric: {} } ]
"#,
    );
    assert!(plan.warnings.is_empty(true), "{:?}", plan.warnings);
}

#[test]
fn needs_reference_agrees_with_the_scorers() {
    // The warning's rule is the scorers' own: a case without references is `no_reference`
    // exactly for the kinds that need one (a judge grades later, without references).
    for spec in [
        serde_json::json!({"exact": {}}),
        serde_json::json!({"token_f1": {}}),
        serde_json::json!({"contains": {}}),
        serde_json::json!({"icontains": {}}),
        serde_json::json!({"starts_with": {}}),
        serde_json::json!({"regex": {"pattern": "x"}}),
        serde_json::json!({"fuzzy": {"threshold": 0.5}}),
        serde_json::json!({"numeric": {}}),
        serde_json::json!({"json_valid": {}}),
        serde_json::json!({"json_schema": {"schema": {"type": "object"}}}),
        serde_json::json!({"rouge_l": {}}),
        serde_json::json!({"bleu": {}}),
        serde_json::json!({"choice": {}}),
    ] {
        let spec: frontier::spec::EvaluatorSpec = serde_json::from_value(spec).unwrap();
        let outcome = frontier::eval::Scorer::from_spec(&spec).score_case("{\"a\": 1}", &[]);
        let no_reference = matches!(
            outcome.score,
            frontier::eval::Score::Unscored("no_reference")
        );
        assert_eq!(spec.needs_reference(), no_reference, "{}", spec.kind());
    }
}

#[test]
fn validate_warns_on_stderr_and_still_exits_0() {
    let dir = std::env::temp_dir().join(format!("frontier-warn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("p.yaml");
    let text = SYNTHETIC_WITH_SCORERS
        .replace("  - use: short-answer\n", "")
        .replace(
            "endpoints: { sim: { kind: simulated } }",
            "endpoints:\n  sim: { kind: simulated }\n  api: { kind: openai, base_url: \"http://127.0.0.1:9/v1\", model: m, api_key_env: FRONTIER_TEST_UNSET_KEY }\n  spare: { kind: openai, base_url: \"http://127.0.0.1:9/v1\", model: m, api_key_env: FRONTIER_TEST_UNSET_KEY }",
        )
        .replace("endpoint: sim,", "endpoint: \"{{ grid.e }}\",")
        .replace("evaluators:", "grid: { product: { e: [sim, api] } }\nevaluators:");
    std::fs::write(&p, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["validate", p.to_str().unwrap()])
        .env_remove("FRONTIER_TEST_UNSET_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.starts_with("ok: "), "{stdout}");
    let file = p.display();
    for want in [
        "warning: scorer `strict` needs a reference to score against".to_string(),
        format!("  --> {file}:"),
        "= key: evaluators[0]".to_string(),
        "warning: endpoint `api` reads its API key from the environment variable `FRONTIER_TEST_UNSET_KEY`, which is not set: `frontier run` will refuse to start".to_string(),
        "= key: endpoints.api.api_key_env".to_string(),
        "= help: export FRONTIER_TEST_UNSET_KEY=... before running".to_string(),
    ] {
        assert!(stderr.contains(&want), "{want}\nnot in\n{stderr}");
    }
    // `spare` is called by nothing: a run does not read its key, so neither does validate.
    assert!(!stderr.contains("`spare`"), "{stderr}");
    assert_eq!(stderr.matches("warning:").count(), 2, "{stderr}");
    // With the variable set, only the scorer's warning is left.
    let out = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .args(["validate", p.to_str().unwrap()])
        .env("FRONTIER_TEST_UNSET_KEY", "k")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.matches("warning:").count(), 1, "{stderr}");
    assert!(!stderr.contains("API key"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shipped_pipelines_validate_without_warnings_about_references() {
    for f in yaml_files("pipelines")
        .into_iter()
        .chain(yaml_files("examples"))
        .chain(yaml_files("benches"))
    {
        let plan = check(&f).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            plan.warnings.is_empty(false),
            "{}:\n{}",
            f.display(),
            plan.warnings.render(false)
        );
    }
}
