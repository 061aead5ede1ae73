//! SQL LIKE: `%` matches any run of characters, `_` exactly one; no escape character unless
//! `ESCAPE` names one (DuckDB's default).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    One,
    Any,
}

/// A compiled LIKE pattern.
#[derive(Debug, Clone)]
pub(crate) struct LikePattern {
    tokens: Vec<Token>,
    case_insensitive: bool,
}

impl LikePattern {
    /// A pattern ending in its escape character is an error, as in DuckDB.
    pub(crate) fn new(
        pattern: &str,
        escape: Option<char>,
        case_insensitive: bool,
    ) -> Result<Self, String> {
        let pattern = if case_insensitive {
            pattern.to_lowercase()
        } else {
            pattern.to_string()
        };
        let mut tokens = Vec::with_capacity(pattern.len());
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            let token = if Some(c) == escape {
                match chars.next() {
                    Some(next) => Token::Char(next),
                    None => {
                        return Err(format!(
                            "LIKE pattern {pattern:?} ends with its escape character {c:?}"
                        ));
                    }
                }
            } else if c == '%' {
                if tokens.last() == Some(&Token::Any) {
                    continue;
                }
                Token::Any
            } else if c == '_' {
                Token::One
            } else {
                Token::Char(c)
            };
            tokens.push(token);
        }
        Ok(LikePattern {
            tokens,
            case_insensitive,
        })
    }

    /// `buf` is scratch space reused across rows to avoid an allocation per row.
    pub(crate) fn matches(&self, text: &str, buf: &mut Vec<char>) -> bool {
        buf.clear();
        if self.case_insensitive {
            buf.extend(text.chars().flat_map(char::to_lowercase));
        } else {
            buf.extend(text.chars());
        }
        wildcard_match(&self.tokens, buf)
    }
}

/// Greedy wildcard matching with backtracking to the last `%`: linear in practice.
fn wildcard_match(pattern: &[Token], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Token::One) => {
                p += 1;
                t += 1;
            }
            Some(Token::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|tok| *tok == Token::Any)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn like(text: &str, pattern: &str) -> bool {
        LikePattern::new(pattern, None, false)
            .unwrap()
            .matches(text, &mut Vec::new())
    }

    #[test]
    fn wildcards() {
        assert!(like("abc", "a%"));
        assert!(like("abc", "%c"));
        assert!(like("abc", "%b%"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_"));
        assert!(like("", "%"));
        assert!(!like("", "_"));
        assert!(like("aé", "a_"));
        assert!(like("mississippi", "%iss%ppi"));
        assert!(!like("mississippi", "%iss%ppx"));
        // Without ESCAPE a backslash is an ordinary character (DuckDB).
        assert!(!like("a_c", "a\\_c"));
        assert!(!like("ab", "a"));
    }

    #[test]
    fn escape_and_case() {
        let p = LikePattern::new("a\\%c", Some('\\'), false).unwrap();
        assert!(p.matches("a%c", &mut Vec::new()));
        assert!(!p.matches("abc", &mut Vec::new()));
        let p = LikePattern::new("A%", None, true).unwrap();
        assert!(p.matches("abc", &mut Vec::new()));
        // A trailing escape is an error (DuckDB: "Like pattern must not end with escape
        // character!"), not a literal.
        let e = LikePattern::new("abc!", Some('!'), false).unwrap_err();
        assert_eq!(
            e,
            r#"LIKE pattern "abc!" ends with its escape character '!'"#
        );
        assert!(LikePattern::new("abc!!", Some('!'), false).is_ok());
    }
}
