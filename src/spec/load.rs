//! Reading a pipeline file: YAML text -> position-carrying tree -> `--set` overrides ->
//! structural validation against the schema -> typed [`Spec`].

use std::path::{Path, PathBuf};

use super::Spec;
use super::node::{KeyPath, Loc, MAX_DEPTH, Node, NodeKind, PathSeg};
use super::schema::pipeline_schema;
use super::validate::{Issue, validate};
use crate::error::PipelineErrors;

/// A pipeline that passed structural validation.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The file as named by the user.
    pub path: PathBuf,
    /// Its text.
    pub source: String,
    /// The tree (with overrides applied), for positions of later messages.
    pub root: Node,
    /// The `--set` arguments, as given (messages about their values quote them).
    pub overrides: Vec<String>,
    /// The typed pipeline.
    pub spec: Spec,
}

impl Loaded {
    /// A located issue about `path`.
    pub fn issue(&self, path: KeyPath, message: impl Into<String>) -> Issue {
        Issue::at(&self.root, path, message)
    }

    /// Wrap issues into the error type with this file's source.
    pub fn errors(&self, issues: Vec<Issue>) -> PipelineErrors {
        PipelineErrors {
            file: self.path.clone(),
            source: self.source.clone(),
            overrides: self.overrides.clone(),
            issues,
            structural: false,
        }
    }
}

/// Read and structurally validate the pipeline at `path`, applying `key.path=value` overrides.
pub fn load(path: &Path, overrides: &[String]) -> Result<Loaded, PipelineErrors> {
    let source = std::fs::read_to_string(path).map_err(|e| PipelineErrors {
        file: path.to_path_buf(),
        source: String::new(),
        overrides: overrides.to_vec(),
        structural: false,
        issues: vec![Issue {
            notes: Vec::new(),
            path: KeyPath::root(),
            loc: Loc::default(),
            message: format!("cannot read the pipeline file: {e}"),
            help: Some(if e.kind() == std::io::ErrorKind::InvalidData {
                "a pipeline is a YAML text file (UTF-8), such as pipelines/quickstart.yaml".into()
            } else if path.is_dir() {
                folder_help(path)
            } else {
                "check the path; pipelines are YAML files such as pipelines/quickstart.yaml".into()
            }),
        }],
    })?;
    load_str(path, source, overrides)
}

/// What to give instead of the folder `dir`: the YAML files it holds.
fn folder_help(dir: &Path) -> String {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    match files.len() {
        0 => "this is a folder with no .yaml files; give a pipeline file".into(),
        n => format!(
            "this is a folder; give a pipeline file in it ({}{})",
            files[..n.min(5)].join(", "),
            if n > 5 { ", ..." } else { "" }
        ),
    }
}

/// Like [`load`] for text already in memory (`path` names it in messages).
pub fn load_str(
    path: &Path,
    source: String,
    overrides: &[String],
) -> Result<Loaded, PipelineErrors> {
    let fail = |source: &String, issues: Vec<Issue>| PipelineErrors {
        file: path.to_path_buf(),
        source: source.clone(),
        overrides: overrides.to_vec(),
        issues,
        structural: true,
    };
    let mut root = match Node::parse(&source) {
        Ok(n) => n,
        Err(e) => {
            let tab = e.message.contains("tabs");
            return Err(fail(
                &source,
                vec![Issue {
                    notes: Vec::new(),
                    path: KeyPath::root(),
                    loc: e.loc,
                    message: e.message,
                    help: Some(e.help.unwrap_or_else(|| {
                        if tab {
                            "YAML indents with spaces only: replace the tab with spaces".into()
                        } else {
                            "check indentation, quotes and brackets around this line".into()
                        }
                    })),
                }],
            ));
        }
    };
    if matches!(root.kind, NodeKind::Null) {
        return Err(fail(
            &source,
            vec![Issue {
                notes: Vec::new(),
                path: KeyPath::root(),
                loc: Loc::at(1, 1),
                message: "the pipeline file is empty".into(),
                help: Some("start from pipelines/quickstart.yaml or `frontier schema`".into()),
            }],
        ));
    }
    let mut issues = Vec::new();
    for (index, o) in overrides.iter().enumerate() {
        if let Err(i) = apply_override(&mut root, index, o) {
            issues.push(i);
        }
    }
    issues.extend(validate(&root, &pipeline_schema()));
    if !issues.is_empty() {
        return Err(fail(&source, issues));
    }
    match serde_json::from_value::<Spec>(root.to_json()) {
        Ok(spec) => Ok(Loaded {
            path: path.to_path_buf(),
            source,
            root,
            overrides: overrides.to_vec(),
            spec,
        }),
        // The schema walk should have caught everything serde rejects; if not, still report
        // it as the user's error with serde's message rather than panicking.
        Err(e) => Err(fail(
            &source,
            vec![Issue {
                notes: Vec::new(),
                path: KeyPath::root(),
                loc: Loc::at(1, 1),
                message: format!("invalid pipeline: {e}"),
                help: None,
            }],
        )),
    }
}

fn apply_override(root: &mut Node, index: usize, text: &str) -> Result<(), Issue> {
    let loc = Loc::set(index);
    let bad = |message: String| Issue {
        notes: Vec::new(),
        path: KeyPath::root(),
        loc,
        message,
        help: Some("write --set key.path=value, e.g. --set workload.requests=10".into()),
    };
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| bad(format!("--set `{text}` has no `=`")))?;
    let path = KeyPath::parse_dotted(key.trim())
        .ok_or_else(|| bad(format!("--set `{text}`: `{key}` is not a key path")))?;
    // The file's nesting is bounded by the parser; a key path builds levels of its own.
    if path.0.len() > MAX_DEPTH {
        return Err(Issue {
            notes: Vec::new(),
            help: Some(
                "pipeline keys are a few levels deep, such as `flow[0].llm.params.max_tokens`"
                    .into(),
            ),
            ..bad(format!(
                "--set `{text}`: the key path has {} parts, more than the {MAX_DEPTH} levels a pipeline may nest",
                path.0.len()
            ))
        });
    }
    // The value is YAML, so numbers, booleans and lists keep their types; anything that does
    // not parse as YAML is taken as a plain string.
    let mut node = match Node::parse(value) {
        Ok(n) => n,
        Err(_) => Node::from_json(&serde_json::Value::String(value.to_string())),
    };
    locate_at(&mut node, loc);
    root.set(&path, node).map_err(|prefix| {
        // Say what stands where the path could not go on: a list too short, or a scalar.
        let parent = KeyPath(prefix.0[..prefix.0.len().saturating_sub(1)].to_vec());
        let why = match (prefix.0.last(), root.find(&parent).map(|n| &n.kind)) {
            (Some(PathSeg::Index(_)), Some(NodeKind::Seq(items))) => format!(
                "`{parent}` has {} item{}, so `{prefix}` does not exist",
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            ),
            (Some(PathSeg::Index(_)), Some(kind)) => {
                format!("`{parent}` is {}, not a list", a(kind.type_name()))
            }
            (Some(PathSeg::Key(_)), Some(kind)) => {
                format!("`{parent}` is {}, not a mapping", a(kind.type_name()))
            }
            _ => format!("`{prefix}` is not a mapping or list entry that can be set"),
        };
        Issue {
            notes: Vec::new(),
            path: path.clone(),
            loc,
            message: format!("--set `{text}`: {why}"),
            help: Some("only keys of mappings and existing list items can be overridden".into()),
        }
    })
}

/// A type name with its article: `an integer`, `a list`.
fn a(name: &str) -> String {
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

/// Give every node of a `--set` value the argument's location (positions within the
/// argument's own text would be taken for lines of the file).
fn locate_at(node: &mut Node, loc: Loc) {
    node.loc = loc;
    match &mut node.kind {
        NodeKind::Seq(items) => items.iter_mut().for_each(|i| locate_at(i, loc)),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            k.loc = loc;
            locate_at(v, loc);
        }),
        _ => {}
    }
}
