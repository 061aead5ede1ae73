//! Query errors, sorted into categories as DataFusion does: what the user wrote (parse,
//! unsupported, unknown names, types, invalid queries), what the data did at run time
//! (execution), the environment (I/O, Parquet, Arrow) and `Internal` meaning a bug here.

use std::fmt;
use std::path::PathBuf;

use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::Span;

/// A position in the SQL text, 1-based, as sqlparser reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlLocation {
    pub line: u64,
    pub column: u64,
}

impl SqlLocation {
    /// `None` for sqlparser's empty span (line 0), which some AST nodes carry.
    pub(crate) fn from_span(span: sqlparser::tokenizer::Span) -> Option<SqlLocation> {
        (span.start.line > 0).then_some(SqlLocation {
            line: span.start.line,
            column: span.start.column,
        })
    }
}

impl fmt::Display for SqlLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // "of the SQL": in a pipeline the error's arrow points into the YAML file, whose line
        // and column differ from the query's own.
        write!(f, "line {}, column {} of the SQL", self.line, self.column)
    }
}

/// Everything that can go wrong between SQL text and a result batch.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The text is not SQL that sqlparser understands.
    #[error("SQL parse error at line {line}, column {column} of the SQL: {message}")]
    Parse {
        message: String,
        line: u64,
        column: u64,
    },
    /// Valid SQL outside the subset frontier evaluates; `construct` names it.
    #[error(
        "unsupported SQL{}: {construct}; frontier evaluates a documented subset of SQL, \
         DuckDB can run the full query over the same Parquet files",
        at(location)
    )]
    Unsupported {
        construct: String,
        location: Option<SqlLocation>,
    },
    #[error("unknown table `{name}`{}{} (tables: {})", at(location), did_you_mean(suggestion), available.join(", "))]
    UnknownTable {
        name: String,
        suggestion: Option<String>,
        available: Vec<String>,
        location: Option<SqlLocation>,
    },
    #[error("unknown column `{name}`{}{} (columns: {})", at(location), did_you_mean(suggestion), available.join(", "))]
    UnknownColumn {
        name: String,
        suggestion: Option<String>,
        available: Vec<String>,
        location: Option<SqlLocation>,
    },
    #[error("ambiguous column `{name}`{}: it could be {}; qualify it with a table name or alias", at(location), candidates.join(" or "))]
    AmbiguousColumn {
        name: String,
        candidates: Vec<String>,
        location: Option<SqlLocation>,
    },
    /// An operator or function applied to types it does not accept.
    #[error("type error: {0}")]
    Type(String),
    /// SQL in the subset that is still not a valid query (e.g. a column neither grouped nor
    /// aggregated, an aggregate in WHERE).
    #[error("invalid query: {0}")]
    Invalid(String),
    /// The data made evaluation fail: integer overflow, modulo by zero, a failed CAST.
    #[error("execution error: {0}")]
    Execution(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read Parquet file {path}: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A bug in frontier's query engine, never the user's fault.
    #[error("internal error in frontier's query engine (please report): {0}")]
    Internal(String),
}

fn at(location: &Option<SqlLocation>) -> String {
    match location {
        Some(l) => format!(" at {l}"),
        None => String::new(),
    }
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

impl QueryError {
    pub(crate) fn unsupported(construct: impl Into<String>) -> Self {
        QueryError::Unsupported {
            construct: construct.into(),
            location: None,
        }
    }

    pub(crate) fn unsupported_at(
        construct: impl Into<String>,
        span: sqlparser::tokenizer::Span,
    ) -> Self {
        QueryError::Unsupported {
            construct: construct.into(),
            location: SqlLocation::from_span(span),
        }
    }

    /// Where in the SQL text the error is, when known.
    pub fn location(&self) -> Option<SqlLocation> {
        match self {
            QueryError::Parse { line, column, .. } => Some(SqlLocation {
                line: *line,
                column: *column,
            }),
            QueryError::Unsupported { location, .. }
            | QueryError::UnknownTable { location, .. }
            | QueryError::UnknownColumn { location, .. }
            | QueryError::AmbiguousColumn { location, .. } => *location,
            _ => None,
        }
    }

    /// True for errors caused by the SQL text rather than the data or the environment:
    /// the pipeline validator rejects these before a run.
    pub fn is_sql_error(&self) -> bool {
        matches!(
            self,
            QueryError::Parse { .. }
                | QueryError::Unsupported { .. }
                | QueryError::UnknownTable { .. }
                | QueryError::UnknownColumn { .. }
                | QueryError::AmbiguousColumn { .. }
                | QueryError::Type(_)
                | QueryError::Invalid(_)
        )
    }

    /// sqlparser's error with its "at Line: L, Column: C" suffix split off; an error at the
    /// end of input (which sqlparser reports without a position) points just past the text.
    pub(crate) fn from_parser(err: sqlparser::parser::ParserError, sql: &str) -> Self {
        use sqlparser::parser::ParserError;
        let text = match err {
            ParserError::TokenizerError(s) | ParserError::ParserError(s) => s,
            ParserError::RecursionLimitExceeded => {
                return QueryError::Parse {
                    message: "expression nested too deeply".to_string(),
                    line: 1,
                    column: 1,
                };
            }
        };
        // sqlparser appends " at Line: L, Column: C" to its messages.
        if let Some(pos) = text.rfind(" at Line: ") {
            let tail = &text[pos + " at Line: ".len()..];
            if let Some((line, column)) = tail.split_once(", Column: ")
                && let (Ok(line), Ok(column)) = (line.trim().parse(), column.trim().parse())
            {
                return QueryError::Parse {
                    message: text[..pos].to_string(),
                    line,
                    column,
                };
            }
        }
        let line = sql.trim_end().lines().count().max(1);
        let column = sql
            .trim_end()
            .lines()
            .last()
            .map_or(0, |l| l.chars().count())
            + 1;
        QueryError::Parse {
            message: text,
            line: line as u64,
            column: column as u64,
        }
    }
}

/// The candidate most similar to `name` by normalised Levenshtein distance, if it is similar
/// enough to be a plausible typo.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::normalized_levenshtein(&name, &candidate.to_ascii_lowercase());
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, candidate));
        }
    }
    best.filter(|(score, _)| *score >= 0.5)
        .map(|(_, c)| c.to_string())
}

pub(crate) type Result<T, E = QueryError> = std::result::Result<T, E>;

/// Longest SQL text (as sqlparser displays a node) whose span is computed with sqlparser's
/// `Spanned`. That trait recurses through the whole subtree with large frames (about 8 KiB a
/// level in debug builds) and is not stack-protected, so on a long operator chain such as
/// `1+1+...+1` it overflowed the stack; a node of at most this many characters is at most this
/// many levels deep. (sqlparser's `Display` is stack-protected, so measuring is safe.)
const MAX_SPANNED_TEXT: usize = 120;

/// The span of a small node, or an empty span (no location in the message) for a large one.
pub(crate) fn span_of<T: Spanned + fmt::Display + ?Sized>(node: &T) -> Span {
    if node.to_string().len() <= MAX_SPANNED_TEXT {
        node.span()
    } else {
        Span::empty()
    }
}

/// Where `e` starts (only the start is shown in messages), found without recursion: the
/// leftmost operand of infix and postfix chains (the only constructs sqlparser nests without
/// its recursion limit) is followed iteratively, then [`span_of`] takes over.
pub(crate) fn expr_span(mut e: &ast::Expr) -> Span {
    use ast::Expr as E;
    loop {
        e = match e {
            E::BinaryOp { left, .. } | E::AnyOp { left, .. } | E::AllOp { left, .. } => left,
            E::Nested(x)
            | E::IsNull(x)
            | E::IsNotNull(x)
            | E::IsTrue(x)
            | E::IsNotTrue(x)
            | E::IsFalse(x)
            | E::IsNotFalse(x)
            | E::IsUnknown(x)
            | E::IsNotUnknown(x)
            | E::IsDistinctFrom(x, _)
            | E::IsNotDistinctFrom(x, _) => x,
            E::Like { expr, .. }
            | E::ILike { expr, .. }
            | E::SimilarTo { expr, .. }
            | E::RLike { expr, .. }
            | E::In { expr, .. }
            | E::Between { expr, .. }
            | E::IsJson { expr, .. }
            | E::IsNormalized { expr, .. }
            | E::Collate { expr, .. }
            | E::Cast {
                kind: ast::CastKind::DoubleColon,
                expr,
                ..
            } => expr,
            E::AtTimeZone { timestamp, .. } => timestamp,
            E::JsonAccess { value, .. } => value,
            E::Function(f) => return span_of(&f.name),
            _ => return span_of(e),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_error_keeps_line_and_column() {
        let err = sqlparser::parser::Parser::parse_sql(
            &sqlparser::dialect::DuckDbDialect {},
            "SELECT a,\n b frm t",
        )
        .unwrap_err();
        match QueryError::from_parser(err, "") {
            QueryError::Parse { line, column, .. } => assert_eq!((line, column), (2, 8)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn closest_suggests_typos_only() {
        let names = ["ttft_p95_ms", "accuracy", "trial_id"];
        assert_eq!(closest("ttft_p59_ms", names), Some("ttft_p95_ms".into()));
        assert_eq!(closest("acuracy", names), Some("accuracy".into()));
        assert_eq!(closest("zzz", names), None);
    }
}
