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

/// At most this many issues of one file are printed (the count in the last line is of all):
/// a list or file of thousands of wrong values would otherwise bury the first, which is often
/// the cause of the rest.
pub const MAX_SHOWN_ISSUES: usize = 100;

/// A quoted value (between backticks) longer than this many characters is shortened in
/// messages, and a source line longer than [`SNIPPET_WIDTH`] is shown as a window around the
/// caret: a value of a megabyte must not make a message of a megabyte.
const MAX_QUOTED_CHARS: usize = 120;
/// The widest source line shown whole.
const SNIPPET_WIDTH: usize = 120;
/// The longest line of a message (past this it is cut).
const MAX_MESSAGE_LINE: usize = 10_000;

impl PipelineErrors {
    /// Render every issue rustc-style: message, `file:line:col`, the source line with a caret,
    /// the key path and the suggestion (the first [`MAX_SHOWN_ISSUES`] of them).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let lines: Vec<&str> = self.source.lines().collect();
        for issue in self.issues.iter().take(MAX_SHOWN_ISSUES) {
            render_issue(&mut out, self, &lines, issue);
            out.push('\n');
        }
        let n = self.issues.len();
        if n > MAX_SHOWN_ISSUES {
            let _ = writeln!(
                out,
                "note: {} more errors are not shown; fix these first\n",
                n - MAX_SHOWN_ISSUES
            );
        }
        if self.structural {
            out.push_str("note: the remaining checks (datasets, templates, endpoint names, SQL) run once these are fixed\n\n");
        }
        let _ = writeln!(
            out,
            "error: {} is not a valid pipeline ({n} error{})",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        );
        out
    }
}

fn render_issue(out: &mut String, errors: &PipelineErrors, lines: &[&str], issue: &Issue) {
    let file = errors.file.display();
    let _ = writeln!(out, "error: {}", shorten(&issue.message));
    let Loc { line, col, origin } = issue.loc;
    let mut pad = " ".to_string();
    if let Origin::Set(i) = origin {
        match errors.overrides.get(i as usize) {
            Some(arg) => {
                let _ = writeln!(
                    out,
                    "  --> {file} (value given with --set {})",
                    shorten_text(arg, MAX_QUOTED_CHARS)
                );
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
        if let Some(text) = lines.get(line as usize - 1) {
            pad = " ".repeat(line.to_string().len());
            let (shown, caret) = snippet_window(text, col.saturating_sub(1) as usize);
            let caret_at: String = shown
                .chars()
                .take(caret)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{line} | {shown}");
            let _ = writeln!(out, "{pad} | {caret_at}^");
        }
    }
    if !issue.path.0.is_empty() {
        let _ = writeln!(
            out,
            "{pad} = key: {}",
            shorten_text(&issue.path.to_string(), 2 * MAX_QUOTED_CHARS)
        );
    }
    if let Some(help) = &issue.help {
        let _ = writeln!(out, "{pad} = help: {}", shorten(help));
    }
    for note in &issue.notes {
        let text = shorten_text(&note.text, 2 * MAX_QUOTED_CHARS);
        let _ = match note.loc.origin {
            Origin::Set(i) => match errors.overrides.get(i as usize) {
                Some(arg) => writeln!(
                    out,
                    "{pad} = note: {text} (value given with --set {})",
                    shorten_text(arg, MAX_QUOTED_CHARS)
                ),
                None => writeln!(out, "{pad} = note: {text} (value given with --set)"),
            },
            Origin::File if note.loc.line > 0 => writeln!(
                out,
                "{pad} = note: {text} ({file}:{}:{})",
                note.loc.line, note.loc.col
            ),
            Origin::File => writeln!(out, "{pad} = note: {text}"),
        };
    }
}

/// The part of a source line to show, and the caret's position in it (in characters): the whole
/// line when it is short, else [`SNIPPET_WIDTH`] characters around the caret with `...` for
/// what is left out.
fn snippet_window(text: &str, caret: usize) -> (String, usize) {
    let len = text.chars().count();
    if len <= SNIPPET_WIDTH {
        return (text.to_string(), caret);
    }
    let caret = caret.min(len);
    let start = caret.saturating_sub(SNIPPET_WIDTH / 3);
    let end = (start + SNIPPET_WIDTH).min(len);
    let mut shown = String::new();
    let mut at = caret - start;
    if start > 0 {
        shown.push_str("...");
        at += 3;
    }
    shown.extend(text.chars().skip(start).take(end - start));
    if end < len {
        shown.push_str("...");
    }
    (shown, at)
}

/// A message with every quoted value (between backticks) longer than [`MAX_QUOTED_CHARS`]
/// shortened, and every line cut at [`MAX_MESSAGE_LINE`] characters.
fn shorten(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4 * MAX_MESSAGE_LINE));
    let mut parts = message.split('`');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    // Odd parts are quoted (a lone backtick leaves its tail as one long "quoted" part, which
    // is then shortened too).
    for (i, part) in parts.enumerate() {
        out.push('`');
        if i % 2 == 0 {
            out.push_str(&shorten_text(part, MAX_QUOTED_CHARS));
        } else {
            out.push_str(part);
        }
    }
    out.split('\n')
        .map(|l| shorten_text(l, MAX_MESSAGE_LINE))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` whole when it has at most `max` characters, else its start, `...`, its end and the
/// full length.
fn shorten_text(text: &str, max: usize) -> String {
    let len = text.chars().count();
    if len <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max * 2 / 3).collect();
    let tail: String = text.chars().skip(len - max / 6).collect();
    format!("{head}...{tail} ({len} characters)")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::node::KeyPath;

    fn errors(source: String, issues: Vec<Issue>) -> PipelineErrors {
        PipelineErrors {
            file: PathBuf::from("p.yaml"),
            source,
            overrides: vec![],
            issues,
            structural: false,
        }
    }

    fn issue(line: u32, col: u32, message: String) -> Issue {
        Issue {
            notes: Vec::new(),
            path: KeyPath::root().key("name"),
            loc: Loc::at(line, col),
            message,
            help: None,
        }
    }

    #[test]
    fn long_values_and_lines_are_shortened() {
        let value = "x".repeat(100_000);
        let source = format!("version: 1\nname: {value}\n");
        let e = errors(
            source,
            vec![issue(
                2,
                7,
                format!("unknown name `{value}`, did you mean `q`?"),
            )],
        );
        let text = e.render();
        assert!(text.len() < 2_000, "{} bytes:\n{text}", text.len());
        assert!(
            text.contains("xxx (100000 characters)`, did you mean `q`?"),
            "{text}"
        );
        // The caret still points at the value's start.
        let lines: Vec<&str> = text.lines().collect();
        let (src, caret) = (lines[3], lines[4]);
        assert!(
            src.starts_with("2 | name: xxx") && src.ends_with("..."),
            "{text}"
        );
        assert_eq!(caret.find('^'), src.find('x'), "{text}");
        // Far into a long line, the window moves to the caret.
        let e = errors(
            format!("a: [{}]\n", "1, ".repeat(10_000)),
            vec![issue(1, 20_000, "here".into())],
        );
        let text = e.render();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[3].starts_with("1 | ...") && lines[3].ends_with("..."),
            "{text}"
        );
        assert!(lines[3].len() < 200, "{text}");
        assert_eq!(lines[4].find('^').unwrap(), 4 + 40 + 3, "{text}");
    }

    #[test]
    fn long_keys_in_key_paths_are_shortened() {
        let key = "k".repeat(5_000);
        let mut i = issue(1, 1, format!("unknown key `{key}`"));
        i.path = KeyPath::root().key(&key).key("x");
        let text = errors(format!("{key}: {{x: 1}}\n"), vec![i]).render();
        assert!(text.len() < 1_500, "{} bytes:\n{text}", text.len());
        assert!(text.contains("kkk.x (5002 characters)\n"), "{text}");
    }

    #[test]
    fn at_most_max_shown_issues_are_printed() {
        let n = 20_000;
        let source: String = (0..n).map(|i| format!("- {i}\n")).collect();
        let issues = (0..n)
            .map(|i| issue(i + 1, 3, format!("bad {i}")))
            .collect();
        let started = std::time::Instant::now();
        let text = errors(source, issues).render();
        assert!(started.elapsed().as_secs() < 2, "{:?}", started.elapsed());
        assert_eq!(text.matches("error: bad").count(), MAX_SHOWN_ISSUES);
        assert!(
            text.contains(&format!(
                "note: {} more errors are not shown; fix these first",
                n as usize - MAX_SHOWN_ISSUES
            )),
            "{text}"
        );
        assert!(text.ends_with(&format!(
            "error: p.yaml is not a valid pipeline ({n} errors)\n"
        )));
    }
}
