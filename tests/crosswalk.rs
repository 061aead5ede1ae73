//! `frontier crosswalk`: the README's crosswalk block is exactly what the command prints (so the
//! two cannot drift), the JSON form parses, names only columns the Parquet schemas really have,
//! and gives every row all four peers.

use std::collections::BTreeSet;
use std::process::Command;

const BEGIN: &str = "<!-- crosswalk:begin -->";
const END: &str = "<!-- crosswalk:end -->";

fn crosswalk(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_frontier"))
        .arg("crosswalk")
        .args(args)
        .output()
        .expect("frontier runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
fn readme_block_is_the_command_output() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find(BEGIN)
        .expect("README has the crosswalk begin marker")
        + BEGIN.len();
    let end = readme
        .find(END)
        .expect("README has the crosswalk end marker");
    assert!(start < end, "markers out of order");
    assert_eq!(
        readme.matches(BEGIN).count() + readme.matches(END).count(),
        2,
        "one pair of markers"
    );
    let block = readme[start..end].trim_matches('\n');
    let printed = crosswalk(&[]);
    assert_eq!(
        block,
        printed.trim_end_matches('\n'),
        "README crosswalk block differs from `frontier crosswalk`; paste its output between the markers"
    );
}

#[test]
fn json_names_real_columns_and_every_peer() {
    let text = crosswalk(&["--json"]);
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let rows = v.as_array().expect("an array");
    assert!(rows.len() >= 20, "only {} rows", rows.len());

    let names = |schema: arrow_schema::SchemaRef| -> BTreeSet<String> {
        schema.fields().iter().map(|f| f.name().clone()).collect()
    };
    let requests = names(frontier::store::tables::requests_schema());
    let configs = names(frontier::store::configs_schema(&[], &[]));

    let mut seen = BTreeSet::new();
    for r in rows {
        let frontier = r["frontier"].as_str().expect("frontier is a string");
        assert!(
            r["definition"].as_str().is_some_and(|d| !d.is_empty()),
            "{frontier}: no definition"
        );
        let table_name = r["table"].as_str().unwrap_or_default();
        let table = match table_name {
            "requests" => &requests,
            "configs" => &configs,
            other => panic!("{frontier}: unknown table {other:?}"),
        };
        for col in frontier.split(", ") {
            assert!(
                table.contains(col),
                "{frontier}: `{col}` is not a column of {table_name}"
            );
            assert!(
                seen.insert(format!("{table_name}.{col}")),
                "`{col}` appears twice"
            );
        }
        let obj = r.as_object().unwrap();
        for peer in ["vllm", "sglang", "guidellm", "aiperf"] {
            let p = obj
                .get(peer)
                .unwrap_or_else(|| panic!("{frontier}: no `{peer}`"));
            assert!(
                p["note"].as_str().is_some_and(|n| !n.is_empty()),
                "{frontier}/{peer}: no note"
            );
            assert!(
                p["key"].is_null() || p["key"].as_str().is_some_and(|k| !k.is_empty()),
                "{frontier}/{peer}: key must be a name or null"
            );
        }
    }
    // The headline metrics are all mapped.
    for col in [
        "requests.ttft_ms",
        "requests.ttfo_ms",
        "requests.tpot_ms",
        "requests.e2e_ms",
        "requests.itl_p50_ms",
        "requests.icl_p50_ms",
        "requests.completion_tokens",
        "configs.itl_p99_ms",
        "configs.output_tok_s",
        "configs.goodput",
    ] {
        assert!(seen.contains(col), "{col} is not in the crosswalk");
    }
}

#[test]
fn markdown_and_json_cover_the_same_rows() {
    let md = crosswalk(&[]);
    let v: serde_json::Value = serde_json::from_str(&crosswalk(&["--json"])).unwrap();
    for r in v.as_array().unwrap() {
        let first = r["frontier"].as_str().unwrap().split(", ").next().unwrap();
        assert!(
            md.contains(&format!("| `{first}`")),
            "{first} missing from the Markdown"
        );
    }
}
