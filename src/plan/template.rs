//! minijinja templates in strict mode: an undefined variable is an error, never an empty
//! string. Errors name the variable and suggest the closest defined one.
//!
//! A null value (a dataset field written as `null`) follows the same rule when printed:
//! `{{ item.x }}` with `x: null` is an error naming the field and the row, not the text
//! "none" sent to the model. Tests and defaults work as usual (`{% if item.x %}`,
//! `{{ item.x or "" }}`, `{{ item.x | default("n/a", true) }}`).

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

use crate::spec::validate::did_you_mean;

/// A set of named, compiled templates.
pub struct Templates {
    env: Environment<'static>,
    /// Names whose source did not compile (reported when added; rendering them is pointless).
    failed: std::collections::HashSet<String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// An empty, strict set.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_formatter(|out, state, value| {
            if value.is_none() {
                return Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    NULL_PRINTED,
                ));
            }
            minijinja::escape_formatter(out, state, value)
        });
        Templates {
            env,
            failed: Default::default(),
        }
    }

    /// Compile `source` under `name`.
    pub fn add(&mut self, name: &str, source: &str) -> Result<(), String> {
        let added = self
            .env
            .add_template_owned(name.to_string(), source.to_string())
            .map_err(|e| describe_error(&e));
        if added.is_err() {
            self.failed.insert(name.to_string());
        }
        added
    }

    /// Whether the template `name` was added and did not compile.
    pub fn failed(&self, name: &str) -> bool {
        self.failed.contains(name)
    }

    /// Render template `name` with `ctx`.
    pub fn render(&self, name: &str, ctx: &Value) -> Result<String, String> {
        self.render_value(name, &to_value(ctx), &|| ctx.clone())
    }

    /// Render template `name` with a context already built as a template value (the hot path:
    /// no JSON tree is built per case). `explain_ctx` gives the same context as JSON, and is
    /// called only when rendering fails, to name the undefined variable and its neighbours.
    pub fn render_value(
        &self,
        name: &str,
        ctx: &minijinja::Value,
        explain_ctx: &dyn Fn() -> Value,
    ) -> Result<String, String> {
        let t = self
            .env
            .get_template(name)
            .map_err(|e| describe_error(&e))?;
        t.render(ctx)
            .map_err(|e| explain(&e, t.undeclared_variables(true), &explain_ctx()))
    }

    /// Compile and render `source` once (for per-trial values such as `"{{ grid.t }}"`).
    pub fn render_str(&self, source: &str, ctx: &Value) -> Result<String, String> {
        let t = self
            .env
            .template_from_str(source)
            .map_err(|e| describe_error(&e))?;
        t.render(minijinja::Value::from(minijinja::value::Serde(ctx)))
            .map_err(|e| explain(&e, t.undeclared_variables(true), ctx))
    }
}

/// A template value from any serializable value (JSON trees, grid points, `vars`).
pub fn to_value<T: serde::Serialize>(v: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(v))
}

/// Whether `text` contains template syntax.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// The help line for a template that does not compile, pointing at the likely fix: a `{{`
/// or `{%` without its closing `}}` or `%}`, an `{% if %}` or `{% for %}` without its end tag,
/// and how to write braces that are meant as text. `None` when `source` compiles (its errors,
/// if any, are about rendering and say what to fix themselves).
pub fn syntax_help(source: &str) -> Option<String> {
    let env = Environment::new();
    let e = env.template_from_str(source).err()?;
    if e.kind() != minijinja::ErrorKind::SyntaxError {
        return None;
    }
    let detail = e.detail().unwrap_or_default();
    // The delimiters whose openings and closings differ in number, with their counts.
    let unbalanced: Vec<(&str, &str, usize, usize)> = [("{{", "}}"), ("{%", "%}")]
        .into_iter()
        .map(|(open, close)| {
            (
                open,
                close,
                source.matches(open).count(),
                source.matches(close).count(),
            )
        })
        .filter(|(_, _, n, m)| n != m)
        .collect();
    let fix = if detail.contains("end of comment") {
        "close the comment `{#` with `#}`".to_string()
    } else if detail.contains("raw block") {
        "close `{% raw %}` with `{% endraw %}`".to_string()
    } else if !unbalanced.is_empty() {
        let pairs: Vec<String> = unbalanced
            .iter()
            .map(|(open, close, _, _)| format!("every `{open}` is closed by `{close}`"))
            .collect();
        let counts: Vec<String> = unbalanced
            .iter()
            .map(|(open, close, n, m)| format!("{n} `{open}` and {m} `{close}`"))
            .collect();
        format!(
            "check that {} (this template has {})",
            pairs.join(" and "),
            counts.join(", ")
        )
    } else if detail.contains("unknown statement") || detail.contains("end of block") {
        "check the statements: `{% if %}` needs its `{% endif %}` and `{% for %}` its `{% endfor %}`".to_string()
    } else {
        "`{{ ... }}` holds an expression such as `item.question` or `grid.temperature`".to_string()
    };
    Some(format!(
        "{fix}; braces meant as text are written `{{{{ '{{{{' }}}}` and `{{{{ '}}}}' }}}}`, or put the text between `{{% raw %}}` and `{{% endraw %}}`"
    ))
}

/// The detail of the error raised when a template prints a null value.
const NULL_PRINTED: &str = "a null value cannot be printed";

fn describe_error(e: &minijinja::Error) -> String {
    let what = e
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| e.kind().to_string());
    match e.line() {
        Some(l) => format!("template error on template line {l}: {what}"),
        None => format!("template error: {what}"),
    }
}

/// Turn a render error into a message; for undefined variables, find which one and suggest a
/// defined neighbour.
fn explain(e: &minijinja::Error, vars: std::collections::HashSet<String>, ctx: &Value) -> String {
    let line = e
        .line()
        .map(|l| format!(" (template line {l})"))
        .unwrap_or_default();
    if e.detail() == Some(NULL_PRINTED) {
        let mut nulls: Vec<&String> = vars
            .iter()
            .filter(|v| v.split('.').try_fold(ctx, |cur, seg| cur.get(seg)) == Some(&Value::Null))
            .collect();
        nulls.sort();
        let what = match nulls.as_slice() {
            [] => "a value".to_string(),
            [one] => format!("`{one}`"),
            many => many
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(" or "),
        };
        let row = match ctx.get("item").and_then(|i| i.get("id")) {
            Some(Value::String(id)) => format!(" in the row with id `{id}`"),
            Some(Value::Number(id)) => format!(" in the row with id `{id}`"),
            _ => String::new(),
        };
        return format!(
            "{what} is null{row} and is printed{line}; test it (`{{% if ... %}}`) or give a default (`{{{{ x or \"\" }}}}`)"
        );
    }
    if e.kind() == minijinja::ErrorKind::UndefinedError {
        let mut vars: Vec<String> = vars.into_iter().collect();
        vars.sort();
        for var in vars {
            if let Some((defined, missing, siblings)) = first_undefined(ctx, &var) {
                let sibling_refs: Vec<&str> = siblings.iter().map(String::as_str).collect();
                let full = if defined.is_empty() {
                    missing.clone()
                } else {
                    format!("{defined}.{missing}")
                };
                let help = match did_you_mean(&missing, sibling_refs.iter().copied()) {
                    Some(s) if defined.is_empty() => format!("; did you mean `{s}`?"),
                    Some(s) => format!("; did you mean `{defined}.{s}`?"),
                    None if siblings.is_empty() => String::new(),
                    None => format!(
                        "; defined {}: {}",
                        if defined.is_empty() {
                            "variables".to_string()
                        } else {
                            format!("in `{defined}`")
                        },
                        sibling_refs
                            .iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                let line = e
                    .line()
                    .map(|l| format!(" (template line {l})"))
                    .unwrap_or_default();
                return format!("undefined variable `{full}`{line}{help}");
            }
        }
    }
    describe_error(e)
}

/// For a dotted variable, the defined prefix, the first missing segment and the keys available
/// beside it.
fn first_undefined(ctx: &Value, var: &str) -> Option<(String, String, Vec<String>)> {
    let mut cur = ctx;
    let mut prefix: Vec<&str> = Vec::new();
    for seg in var.split('.') {
        match cur {
            Value::Object(m) => match m.get(seg) {
                Some(v) => {
                    prefix.push(seg);
                    cur = v;
                }
                None => {
                    let mut keys: Vec<String> = m.keys().cloned().collect();
                    keys.sort();
                    return Some((prefix.join("."), seg.to_string(), keys));
                }
            },
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_undefined_names_the_variable() {
        let mut t = Templates::new();
        t.add("p", "Q: {{ item.questoin }}").unwrap();
        let ctx = json!({"item": {"question": "x", "id": "0"}, "grid": {}});
        let e = t.render("p", &ctx).unwrap_err();
        assert_eq!(
            e,
            "undefined variable `item.questoin` (template line 1); did you mean `item.question`?"
        );
        let e = t.render_str("{{ grid.temperature }}", &ctx).unwrap_err();
        assert!(
            e.starts_with("undefined variable `grid.temperature`"),
            "{e}"
        );
    }

    #[test]
    fn a_printed_null_is_an_error_naming_field_and_row() {
        let mut t = Templates::new();
        t.add("p", "Q: {{ item.question }} C: {{ item.context }}")
            .unwrap();
        let ctx = json!({"item": {"question": "x", "context": null, "id": "q7"}});
        assert_eq!(
            t.render("p", &ctx).unwrap_err(),
            "`item.context` is null in the row with id `q7` and is printed (template line 1); test it (`{% if ... %}`) or give a default (`{{ x or \"\" }}`)"
        );
        // Tests and defaults see it as empty.
        t.add(
            "q",
            "{% if item.context %}C{% endif %}[{{ item.context or \"\" }}]",
        )
        .unwrap();
        assert_eq!(t.render("q", &ctx).unwrap(), "[]");
    }

    #[test]
    fn renders_and_reports_syntax_errors() {
        let mut t = Templates::new();
        t.add("p", "{% for d in item.docs %}{{ d }};{% endfor %}")
            .unwrap();
        assert_eq!(
            t.render("p", &json!({"item": {"docs": ["a", "b"]}}))
                .unwrap(),
            "a;b;"
        );
        assert!(
            t.add("bad", "{{ item.x ")
                .unwrap_err()
                .contains("template line 1")
        );
        assert!(is_template("{{ x }}") && !is_template("plain"));
    }

    #[test]
    fn syntax_errors_get_a_help_that_works() {
        assert_eq!(syntax_help("Q: {{ item.question }}"), None);
        // A render error is not a syntax error: its message says what to fix.
        assert_eq!(syntax_help("{{ item.nope }}"), None);
        let help = syntax_help("{{ item.question }").unwrap();
        assert!(
            help.starts_with(
                "check that every `{{` is closed by `}}` (this template has 1 `{{` and 0 `}}`)"
            ),
            "{help}"
        );
        let help = syntax_help("{% if item.x %}yes").unwrap();
        assert!(help.contains("needs its `{% endif %}`"), "{help}");
        // The literal-brace forms the help gives render as braces.
        let mut t = Templates::new();
        t.add(
            "lit",
            "{{ '{{' }}\"a\": 1{{ '}}' }} {% raw %}{{x}}{% endraw %}",
        )
        .unwrap();
        assert_eq!(t.render("lit", &json!({})).unwrap(), "{{\"a\": 1}} {{x}}");
        assert!(help.contains("`{{ '{{' }}` and `{{ '}}' }}`"), "{help}");
        assert!(help.contains("`{% raw %}` and `{% endraw %}`"), "{help}");
    }
}
