//! Evaluators resolved: `use:` entries expanded from evaluator files, every entry built into a
//! [`Scorer`] (patterns compiled, schema files read), every problem located.
//!
//! `- use: NAME` looks for `evaluators/NAME.yaml` (or `.yml`) in the pipeline's folder, then
//! in each parent folder up to the repository root (the first folder holding `.git`) or the
//! filesystem root; the first file found wins, so a project can keep shared evaluators at its
//! root and override one beside a pipeline. `- use: ./path/file.yaml` (anything with a `/` or
//! a `.yaml`/`.yml` ending) names a file relative to the pipeline instead.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::eval::{Scorer, SpecError};
use crate::spec::load::Loaded;
use crate::spec::node::{KeyPath, Node, NodeKind, PathSeg};
use crate::spec::schema::evaluator_file_schema;
use crate::spec::validate::{Issue, did_you_mean, validate};
use crate::spec::{EvaluatorFile, EvaluatorSpec};

/// The pipeline's evaluators, expanded and built.
#[derive(Debug, Default)]
pub struct Resolved {
    /// One scorer per expanded entry.
    pub scorers: Vec<Scorer>,
    /// The expanded entries (no `use:`; schema files inlined), for the manifest.
    pub specs: Vec<EvaluatorSpec>,
    /// For each expanded entry, the pipeline key path it came from (`evaluators[i]`).
    pub origins: Vec<KeyPath>,
    /// For each expanded entry from an evaluator file, where in that file it is.
    pub from_files: Vec<Option<FromFile>>,
}

/// An entry's place in the evaluator file a `use:` brought it from.
#[derive(Clone, Debug)]
pub struct FromFile {
    /// The file, as shown in messages.
    pub shown: String,
    /// The file's parsed document (for line:column).
    pub root: Arc<Node>,
    /// The entry's index in the file's `evaluators`.
    pub index: usize,
}

impl Resolved {
    /// An issue about expanded entry `i` at `path` (a pipeline key path starting with the
    /// entry's origin, e.g. `evaluators[2].llm_judge.judges[0]`). For an entry from an
    /// evaluator file the issue points at the `use:` line, and its message names the file's
    /// own line:column and key path.
    pub fn issue(&self, loaded: &Loaded, i: usize, path: KeyPath, message: String) -> Issue {
        let origin = &self.origins[i];
        match self.from_files.get(i).and_then(Option::as_ref) {
            Some(f) if path.0.starts_with(&origin.0) => {
                let mut inner = KeyPath::root().key("evaluators").index(f.index);
                inner.0.extend(path.0[origin.0.len()..].iter().cloned());
                let loc = f.root.locate(&inner);
                loaded.issue(
                    origin.key("use"),
                    format!(
                        "in {}:{}:{} ({inner}): {message}",
                        f.shown, loc.line, loc.col
                    ),
                )
            }
            _ => loaded.issue(path, message),
        }
    }
}

/// Expand and build the evaluators of `loaded`, pushing every problem to `issues`.
pub fn resolve(loaded: &Loaded, base_dir: &Path, issues: &mut Vec<Issue>) -> Resolved {
    let mut out = Resolved::default();
    for (i, entry) in loaded.spec.evaluators.iter().enumerate() {
        let entry_path = KeyPath::root().key("evaluators").index(i);
        let EvaluatorSpec::Use(target) = entry else {
            match build(entry, base_dir) {
                Ok((scorer, spec)) => out.push(scorer, spec, entry_path, None),
                Err(errors) => {
                    for e in errors {
                        let path = join(&entry_path.key(entry.kind()), &e.keys);
                        issues.push(loaded.issue(path, e.message));
                    }
                }
            }
            continue;
        };
        let use_path = entry_path.key("use");
        let file = match find_file(target, base_dir) {
            Ok(f) => f,
            Err((message, help)) => {
                let mut issue = loaded.issue(use_path, message);
                issue.help = help;
                issues.push(issue);
                continue;
            }
        };
        let shown = display(&file);
        let (parsed, file_root) = match load_file(&file) {
            Ok(p) => p,
            Err(problems) => {
                for (loc, message, help) in problems {
                    let mut issue =
                        loaded.issue(use_path.clone(), format!("in {shown}{loc}: {message}"));
                    issue.help = help;
                    issues.push(issue);
                }
                continue;
            }
        };
        let file_dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        for (j, spec) in parsed.evaluators.iter().enumerate() {
            if let EvaluatorSpec::Use(_) = spec {
                issues.push(
                    loaded
                        .issue(
                            use_path.clone(),
                            format!("in {shown}: evaluators[{j}] is a `use:`; evaluator files cannot use other files"),
                        )
                        .help("list the entries themselves in the file"),
                );
                continue;
            }
            match build(spec, &file_dir) {
                Ok((scorer, spec)) => {
                    let from = FromFile {
                        shown: shown.clone(),
                        root: file_root.clone(),
                        index: j,
                    };
                    out.push(scorer, spec, entry_path.clone(), Some(from));
                }
                Err(errors) => {
                    for e in errors {
                        let inner = join(
                            &KeyPath::root().key("evaluators").index(j).key(spec.kind()),
                            &e.keys,
                        );
                        let loc = file_root.locate(&inner);
                        issues.push(loaded.issue(
                            use_path.clone(),
                            format!(
                                "in {shown}:{}:{} ({inner}): {}",
                                loc.line, loc.col, e.message
                            ),
                        ));
                    }
                }
            }
        }
    }
    out
}

impl Resolved {
    fn push(
        &mut self,
        scorer: Scorer,
        spec: EvaluatorSpec,
        origin: KeyPath,
        from: Option<FromFile>,
    ) {
        self.scorers.push(scorer);
        self.specs.push(spec);
        self.origins.push(origin);
        self.from_files.push(from);
    }
}

/// Build one entry; the returned spec has its schema file (if any) inlined.
fn build(spec: &EvaluatorSpec, base_dir: &Path) -> Result<(Scorer, EvaluatorSpec), Vec<SpecError>> {
    let scorer = Scorer::build(spec, base_dir)?;
    let mut spec = spec.clone();
    if let EvaluatorSpec::JsonSchema(j) = &mut spec
        && j.schema.is_string()
        && let Ok(v) = crate::eval::load_schema_value(&j.schema, base_dir)
    {
        j.schema = v;
    }
    Ok((scorer, spec))
}

fn join(base: &KeyPath, keys: &[String]) -> KeyPath {
    let mut p = base.clone();
    for k in keys {
        match k
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .and_then(|s| s.parse().ok())
        {
            Some(i) => p.0.push(PathSeg::Index(i)),
            None => p.0.push(PathSeg::Key(k.clone())),
        }
    }
    p
}

/// `path` relative to the working directory when it is below it (stable in messages).
fn display(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let cwd = cwd.and_then(|c| c.canonicalize().ok());
    match cwd.as_deref().and_then(|c| path.strip_prefix(c).ok()) {
        Some(rel) => rel.display().to_string(),
        None => path.display().to_string(),
    }
}

type Problem = (String, Option<String>);

/// The file a `use:` names.
fn find_file(target: &str, base_dir: &Path) -> Result<PathBuf, Problem> {
    let is_path =
        target.contains(['/', '\\']) || target.ends_with(".yaml") || target.ends_with(".yml");
    if is_path {
        let p = base_dir.join(target);
        return match p.canonicalize() {
            Ok(abs) if abs.is_file() => Ok(abs),
            _ => Err((
                format!("evaluator file `{target}` not found (looked for {})", p.display()),
                Some("paths in `use:` are relative to the pipeline file; a bare name such as `short-answer` searches evaluators/ folders".into()),
            )),
        };
    }
    if target.is_empty()
        || !target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err((
            format!("`{target}` is not an evaluator name"),
            Some("a name is letters, digits, `-` and `_` (the file evaluators/<name>.yaml), or give a path such as ./my-evaluators.yaml".into()),
        ));
    }
    let start = base_dir
        .canonicalize()
        .unwrap_or_else(|_| base_dir.to_path_buf());
    let mut searched: Vec<PathBuf> = Vec::new();
    let mut dir = Some(start.as_path());
    while let Some(d) = dir {
        let folder = d.join("evaluators");
        if folder.is_dir() {
            for ext in ["yaml", "yml"] {
                let f = folder.join(format!("{target}.{ext}"));
                if f.is_file() {
                    return Ok(f);
                }
            }
            searched.push(folder);
        }
        if d.join(".git").exists() {
            break;
        }
        dir = d.parent();
    }
    if searched.is_empty() {
        return Err((
            format!("no evaluator named `{target}`: there is no evaluators/ folder in the pipeline's folder or above it"),
            Some("create evaluators/<name>.yaml at the repository root, or give a path such as ./my-evaluators.yaml".into()),
        ));
    }
    let mut names: Vec<String> = Vec::new();
    for folder in &searched {
        if let Ok(entries) = std::fs::read_dir(folder) {
            for e in entries.flatten() {
                let p = e.path();
                if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
                    && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
                {
                    names.push(stem.to_string());
                }
            }
        }
    }
    names.sort();
    names.dedup();
    let folders: Vec<String> = searched.iter().map(|f| display(f) + "/").collect();
    let help = match did_you_mean(target, names.iter().map(String::as_str)) {
        Some(n) => format!("did you mean `{n}`?"),
        None => format!(
            "available: {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Err((
        format!("no evaluator named `{target}` in {}", folders.join(", ")),
        Some(help),
    ))
}

/// Read and validate an evaluator file. Problems are `(":line:col", message, help)`.
/// A problem in an evaluator file: `:line:col` (or empty), the message, a suggestion.
type FileProblem = (String, String, Option<String>);

fn load_file(path: &Path) -> Result<(EvaluatorFile, Arc<Node>), Vec<FileProblem>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![(String::new(), format!("cannot read the file: {e}"), None)])?;
    let root = Node::parse(&text)
        .map_err(|e| vec![(format!(":{}:{}", e.loc.line, e.loc.col), e.message, e.help)])?;
    if matches!(root.kind, NodeKind::Null) {
        return Err(vec![(
            String::new(),
            "the file is empty".into(),
            Some("write `evaluators:` with a list of entries".into()),
        )]);
    }
    let issues = validate(&root, &evaluator_file_schema());
    if !issues.is_empty() {
        return Err(issues
            .into_iter()
            .map(|i| {
                (
                    format!(":{}:{}", i.loc.line, i.loc.col),
                    format!("{} (key {})", i.message, i.path),
                    i.help,
                )
            })
            .collect());
    }
    let file = serde_json::from_value(root.to_json())
        .map_err(|e| vec![(String::new(), format!("invalid evaluator file: {e}"), None)])?;
    Ok((file, Arc::new(root)))
}

/// Check one evaluator file on its own (for `evaluators/` in tests and tools): every entry
/// must build. Returns the scorers, or every problem as text.
pub fn check_file(path: &Path) -> Result<Vec<Scorer>, String> {
    let (file, _) = load_file(path).map_err(|problems| {
        problems
            .into_iter()
            .map(|(loc, m, help)| {
                format!(
                    "{}{loc}: {m}{}",
                    path.display(),
                    help.map(|h| format!(" (help: {h})")).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut scorers = Vec::new();
    let mut problems = Vec::new();
    for (j, spec) in file.evaluators.iter().enumerate() {
        if let EvaluatorSpec::Use(_) = spec {
            problems.push(format!(
                "evaluators[{j}]: `use:` is not allowed in an evaluator file"
            ));
            continue;
        }
        match Scorer::build(spec, dir) {
            Ok(s) => scorers.push(s),
            Err(errors) => problems.extend(errors.into_iter().map(|e| {
                format!(
                    "evaluators[{j}].{}.{}: {}",
                    spec.kind(),
                    e.keys.join("."),
                    e.message
                )
            })),
        }
    }
    if problems.is_empty() {
        Ok(scorers)
    } else {
        Err(format!("{}: {}", path.display(), problems.join("\n")))
    }
}
