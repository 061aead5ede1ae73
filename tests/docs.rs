//! The README's contract blocks match the code, so the two cannot drift: the crosswalk block is
//! exactly what `frontier crosswalk` prints (whose JSON form parses, names only columns the
//! Parquet schemas really have, and gives every row all four peers), and every "Results" table
//! lists exactly the columns of its Parquet file, in order, with their types.

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

/// The README's type words, as Arrow types.
fn readme_type(word: &str) -> Option<arrow_schema::DataType> {
    use arrow_schema::{DataType, Field, TimeUnit};
    Some(match word {
        "string" => DataType::Utf8,
        "int64" => DataType::Int64,
        "double" => DataType::Float64,
        "bool" => DataType::Boolean,
        "timestamp(µs, UTC)" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "list<int64>" => DataType::List(std::sync::Arc::new(Field::new_list_field(
            DataType::Int64,
            true,
        ))),
        _ => return None,
    })
}

/// `ttft_{mean,p50}_ms` -> `ttft_mean_ms`, `ttft_p50_ms`.
fn expand_braces(name: &str) -> Vec<String> {
    match (name.find('{'), name.find('}')) {
        (Some(open), Some(close)) if open < close => name[open + 1..close]
            .split(',')
            .flat_map(|alt| expand_braces(&format!("{}{alt}{}", &name[..open], &name[close + 1..])))
            .collect(),
        _ => vec![name.to_string()],
    }
}

/// One documented row: its column names (a `<placeholder>` name stands for a family of
/// columns) and its type word (empty: "as in" an earlier table).
struct DocRow {
    names: Vec<String>,
    type_word: String,
}

/// The rows of the table under the README heading `### `file``.
fn readme_table(readme: &str, file: &str) -> Vec<DocRow> {
    let heading = format!("### `{file}`");
    let start = readme
        .lines()
        .position(|l| l.trim() == heading)
        .unwrap_or_else(|| panic!("README has no `{heading}` section"));
    let mut rows = Vec::new();
    for line in readme.lines().skip(start + 1) {
        if line.starts_with('#') {
            break;
        }
        let Some(body) = line.strip_prefix("| `") else {
            continue;
        };
        let line = format!("`{body}");
        // Names and types never hold a `|`; the meaning may, but it is not read.
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let names = cells[0]
            .split('`')
            .skip(1)
            .step_by(2)
            .flat_map(expand_braces)
            .collect();
        rows.push(DocRow {
            names,
            type_word: cells.get(1).copied().unwrap_or_default().to_string(),
        });
    }
    assert!(!rows.is_empty(), "README's `{heading}` table has no rows");
    rows
}

#[test]
fn readme_results_tables_are_the_parquet_schemas() {
    use frontier::store::tables;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    // configs' columns depend on the grid and the evaluators: the annotated pipeline has grid
    // keys of several types and evaluators with and without extraction.
    let loaded = frontier::spec::load::load(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/annotated/pipeline.yaml"
        )),
        &[],
    )
    .expect("the annotated pipeline loads");
    let plan = frontier::plan::build(&loaded).expect("the annotated pipeline plans");

    // A column documented with a type keeps it in later tables that say "as in".
    let mut known: std::collections::HashMap<String, arrow_schema::DataType> = Default::default();
    for (file, schema) in [
        ("requests.parquet", tables::requests_schema()),
        ("cases.parquet", tables::cases_schema()),
        ("scores.parquet", tables::scores_schema()),
        ("judgements.parquet", tables::judgements_schema()),
        ("score_stats.parquet", tables::score_stats_schema()),
        (
            "configs.parquet",
            frontier::store::configs_schema(&plan.grid_types, &plan.scorers),
        ),
    ] {
        let fields = schema.fields();
        let mut at = 0;
        for row in readme_table(&readme, file) {
            let ty = (!row.type_word.is_empty() && row.type_word != "per key").then(|| {
                readme_type(&row.type_word)
                    .unwrap_or_else(|| panic!("{file}: unknown type word {:?}", row.type_word))
            });
            for name in &row.names {
                // `grid_<key>`: the run of schema columns with that prefix (at least one).
                let family = name.split_once('<').map(|(prefix, _)| prefix);
                let matches = |n: &str| match family {
                    Some(prefix) => n.starts_with(prefix),
                    None => n == name,
                };
                let first = at;
                while at < fields.len() && matches(fields[at].name()) {
                    let field = &fields[at];
                    let expected = match &ty {
                        Some(t) => Some(t.clone()),
                        None if family.is_some() => None,
                        None => Some(known.get(name).cloned().unwrap_or_else(|| {
                            panic!("{file}: `{name}` has no type and no earlier table gives one")
                        })),
                    };
                    if let Some(expected) = expected {
                        assert_eq!(
                            field.data_type(),
                            &expected,
                            "{file}: `{}` is documented as {:?}",
                            field.name(),
                            row.type_word
                        );
                    }
                    known
                        .entry(field.name().clone())
                        .or_insert_with(|| field.data_type().clone());
                    at += 1;
                    if family.is_none() {
                        break;
                    }
                }
                assert!(
                    at > first,
                    "{file}: README documents `{name}` here, but the schema has `{}` at position {at}",
                    fields.get(at).map(|f| f.name().as_str()).unwrap_or("(end)")
                );
            }
        }
        assert_eq!(
            at,
            fields.len(),
            "{file}: column `{}` is not in the README",
            fields
                .get(at)
                .map(|f| f.name().as_str())
                .unwrap_or_default()
        );
    }
}
