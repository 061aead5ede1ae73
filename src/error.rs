//! Errors, sorted by who has to act: the user's pipeline or arguments (exit 2), the run
//! (exit 1), or a bug in frontier (`Internal`, exit 1). `main` renders them in one place.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::spec::node::{Loc, Origin};
use crate::spec::validate::Issue;

/// Every problem found in one pipeline file, with the source for snippets.
#[derive(Clone, Debug)]
pub struct PipelineErrors {
    /// The file as the user named it.
    pub file: PathBuf,
    /// Its text (empty when it could not be read).
    pub source: String,
    /// The `--set` arguments, as given: an issue whose location is [`Origin::Set`] quotes its
    /// argument from here.
    pub overrides: Vec<String>,
    /// The problems, in document order.
    pub issues: Vec<Issue>,
    /// Found by the structural pass (keys and types), which stops the semantic checks.
    pub structural: bool,
}

impl PipelineErrors {
    /// Render every issue rustc-style: message, `file:line:col`, the source line with a caret,
    /// the key path and the suggestion.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for issue in &self.issues {
            render_issue(&mut out, self, issue);
            out.push('\n');
        }
        if self.structural {
            out.push_str("note: the remaining checks (datasets, templates, endpoint names, SQL) run once these are fixed\n\n");
        }
        let n = self.issues.len();
        let _ = writeln!(
            out,
            "error: {} is not a valid pipeline ({n} error{})",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        );
        out
    }
}

fn render_issue(out: &mut String, errors: &PipelineErrors, issue: &Issue) {
    let file = errors.file.display();
    let _ = writeln!(out, "error: {}", issue.message);
    let Loc { line, col, origin } = issue.loc;
    let mut pad = " ".to_string();
    if let Origin::Set(i) = origin {
        match errors.overrides.get(i as usize) {
            Some(arg) => {
                let _ = writeln!(out, "  --> {file} (value given with --set {arg})");
            }
            None => {
                let _ = writeln!(out, "  --> {file} (value given with --set)");
            }
        }
    } else if line == 0 {
        // No position: the file itself (it could not be read, or the problem is its whole).
        let _ = writeln!(out, "  --> {file}");
    } else {
        let _ = writeln!(out, "  --> {file}:{line}:{col}");
        if let Some(text) = errors.source.lines().nth(line as usize - 1) {
            pad = " ".repeat(line.to_string().len());
            let caret_at: String = text
                .chars()
                .take(col.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{line} | {text}");
            let _ = writeln!(out, "{pad} | {caret_at}^");
        }
    }
    if !issue.path.0.is_empty() {
        let _ = writeln!(out, "{pad} = key: {}", issue.path);
    }
    if let Some(help) = &issue.help {
        let _ = writeln!(out, "{pad} = help: {help}");
    }
}

/// Every error frontier reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pipeline file is invalid (exit 2).
    #[error("{}", .0.render())]
    Pipeline(Box<PipelineErrors>),
    /// Bad command-line usage (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A query could not run (exit 2: the SQL is the user's).
    #[error("{0}")]
    Query(String),
    /// The run could not complete (exit 1).
    #[error("{0}")]
    Run(String),
    /// Reading or writing a file failed (exit 1).
    #[error("cannot read or write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A bug in frontier (exit 1). Please report it.
    #[error("internal error (a bug in frontier, please report it): {0}")]
    Internal(String),
}

impl Error {
    /// The documented exit code: 2 for invalid pipelines, arguments and queries; 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Pipeline(_) | Error::Usage(_) | Error::Query(_) => 2,
            Error::Run(_) | Error::Io { .. } | Error::Internal(_) => 1,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<PipelineErrors> for Error {
    fn from(e: PipelineErrors) -> Self {
        Error::Pipeline(Box::new(e))
    }
}
