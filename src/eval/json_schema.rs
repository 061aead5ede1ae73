//! A small, documented subset of JSON Schema, hand-written to keep the build lean.
//!
//! Supported keywords: `type` (a name or a list; `integer` accepts `1.0`), `properties`,
//! `required`, `additionalProperties` (boolean or schema), `items` (one schema for every
//! element), `minItems`/`maxItems`, `enum`, `const`, `minimum`/`maximum`,
//! `exclusiveMinimum`/`exclusiveMaximum` (numbers), `minLength`/`maxLength` (in characters),
//! `pattern` (Rust `regex`, searched, not anchored). Annotations (`$schema`, `$id`, `title`,
//! `description`, `default`, `examples`, `$comment`, `format`) are ignored. Any other keyword
//! is rejected when the pipeline is checked, so a schema never passes by being half-understood.

use regex::Regex;
use serde_json::{Map, Value};

use super::normalize::regex_error;

/// A compiled schema.
#[derive(Clone, Debug)]
pub enum Schema {
    /// `true` (anything) or `false` (nothing).
    Bool(bool),
    /// An object schema.
    Object(Box<Rules>),
}

/// The rules of an object schema.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    types: Option<Vec<String>>,
    properties: Vec<(String, Schema)>,
    required: Vec<String>,
    additional: Option<Schema>,
    items: Option<Schema>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    enum_: Option<Vec<Value>>,
    const_: Option<Value>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<Regex>,
}

const TYPES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "integer", "string",
];
const IGNORED: &[&str] = &[
    "$schema",
    "$id",
    "title",
    "description",
    "default",
    "examples",
    "$comment",
    "format",
];
/// The keywords understood, for messages.
pub const SUPPORTED: &str = "type, properties, required, additionalProperties, items, minItems, \
maxItems, enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, \
maxLength, pattern";

impl Schema {
    /// Compile `v`; errors name the JSON pointer of the offending keyword.
    pub fn compile(v: &Value) -> Result<Schema, String> {
        compile_at(v, "")
    }

    /// `Ok` when `v` conforms, else the first violation (with its JSON pointer).
    pub fn check(&self, v: &Value) -> Result<(), String> {
        check_at(self, v, "")
    }
}

fn compile_at(v: &Value, at: &str) -> Result<Schema, String> {
    let obj = match v {
        Value::Bool(b) => return Ok(Schema::Bool(*b)),
        Value::Object(o) => o,
        other => {
            return Err(format!(
                "schema at `{}` must be a mapping or a boolean, found {other}",
                pointer(at)
            ));
        }
    };
    let mut r = Rules::default();
    for (k, val) in obj {
        let here = format!("{at}/{k}");
        let bad = |what: &str| format!("`{}`: {what}", pointer(&here));
        let num = || val.as_f64().ok_or_else(|| bad("expected a number"));
        let count = || {
            val.as_u64()
                .ok_or_else(|| bad("expected a non-negative integer"))
        };
        match k.as_str() {
            "type" => {
                let names: Vec<String> = match val {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a
                        .iter()
                        .map(|t| t.as_str().map(str::to_string))
                        .collect::<Option<_>>()
                        .ok_or_else(|| bad("expected a type name or a list of them"))?,
                    _ => return Err(bad("expected a type name or a list of them")),
                };
                if let Some(u) = names.iter().find(|t| !TYPES.contains(&t.as_str())) {
                    return Err(bad(&format!(
                        "unknown type `{u}` (one of: {})",
                        TYPES.join(", ")
                    )));
                }
                r.types = Some(names);
            }
            "properties" => {
                let props = val.as_object().ok_or_else(|| bad("expected a mapping"))?;
                for (name, s) in props {
                    r.properties
                        .push((name.clone(), compile_at(s, &format!("{here}/{name}"))?));
                }
            }
            "required" => {
                r.required = val
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .map(|x| x.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| bad("expected a list of property names"))?;
            }
            "additionalProperties" => r.additional = Some(compile_at(val, &here)?),
            "items" => r.items = Some(compile_at(val, &here)?),
            "minItems" => r.min_items = Some(count()?),
            "maxItems" => r.max_items = Some(count()?),
            "enum" => {
                r.enum_ = Some(
                    val.as_array()
                        .cloned()
                        .ok_or_else(|| bad("expected a list"))?,
                )
            }
            "const" => r.const_ = Some(val.clone()),
            "minimum" => r.minimum = Some(num()?),
            "maximum" => r.maximum = Some(num()?),
            "exclusiveMinimum" => r.exclusive_minimum = Some(num()?),
            "exclusiveMaximum" => r.exclusive_maximum = Some(num()?),
            "minLength" => r.min_length = Some(count()?),
            "maxLength" => r.max_length = Some(count()?),
            "pattern" => {
                let p = val.as_str().ok_or_else(|| bad("expected a string"))?;
                r.pattern = Some(Regex::new(p).map_err(|e| bad(&regex_error(&e)))?);
            }
            k if IGNORED.contains(&k) => {}
            k => {
                return Err(format!(
                    "unsupported JSON Schema keyword `{k}` at `{}` (supported: {SUPPORTED})",
                    pointer(at)
                ));
            }
        }
    }
    Ok(Schema::Object(Box::new(r)))
}

fn pointer(at: &str) -> &str {
    if at.is_empty() { "/" } else { at }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::Number(_) => "number",
        Value::String(_) => "string",
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        other => type_of(v) == other,
    }
}

/// JSON equality with numbers compared by value (`1 == 1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn check_at(s: &Schema, v: &Value, at: &str) -> Result<(), String> {
    let r = match s {
        Schema::Bool(true) => return Ok(()),
        Schema::Bool(false) => return Err(format!("`{}`: no value is allowed", pointer(at))),
        Schema::Object(r) => r,
    };
    let fail = |what: String| Err(format!("`{}`: {what}", pointer(at)));
    if let Some(types) = &r.types
        && !types.iter().any(|t| has_type(v, t))
    {
        return fail(format!(
            "expected {}, found {}",
            types.join(" or "),
            type_of(v)
        ));
    }
    if let Some(c) = &r.const_
        && !json_eq(c, v)
    {
        return fail(format!("expected {c}"));
    }
    if let Some(e) = &r.enum_
        && !e.iter().any(|x| json_eq(x, v))
    {
        return fail(format!("{v} is not one of {}", Value::Array(e.clone())));
    }
    if let Some(n) = v.as_f64() {
        for (bound, ok, word) in [
            (
                r.minimum,
                n >= r.minimum.unwrap_or(f64::NEG_INFINITY),
                "minimum",
            ),
            (
                r.maximum,
                n <= r.maximum.unwrap_or(f64::INFINITY),
                "maximum",
            ),
            (
                r.exclusive_minimum,
                n > r.exclusive_minimum.unwrap_or(f64::NEG_INFINITY),
                "exclusiveMinimum",
            ),
            (
                r.exclusive_maximum,
                n < r.exclusive_maximum.unwrap_or(f64::INFINITY),
                "exclusiveMaximum",
            ),
        ] {
            if let Some(b) = bound
                && !ok
            {
                return fail(format!("{n} violates {word} {b}"));
            }
        }
    }
    if let Value::String(text) = v {
        let len = text.chars().count() as u64;
        if r.min_length.is_some_and(|m| len < m) || r.max_length.is_some_and(|m| len > m) {
            return fail(format!("length {len} is out of bounds"));
        }
        if let Some(p) = &r.pattern
            && !p.is_match(text)
        {
            return fail(format!("does not match pattern `{}`", p.as_str()));
        }
    }
    if let Value::Array(items) = v {
        let n = items.len() as u64;
        if r.min_items.is_some_and(|m| n < m) || r.max_items.is_some_and(|m| n > m) {
            return fail(format!("{n} items is out of bounds"));
        }
        if let Some(item) = &r.items {
            for (i, x) in items.iter().enumerate() {
                check_at(item, x, &format!("{at}/{i}"))?;
            }
        }
    }
    if let Value::Object(map) = v {
        check_object(r, map, at)?;
    }
    Ok(())
}

fn check_object(r: &Rules, map: &Map<String, Value>, at: &str) -> Result<(), String> {
    for name in &r.required {
        if !map.contains_key(name) {
            return Err(format!(
                "`{}`: missing required property `{name}`",
                pointer(at)
            ));
        }
    }
    for (k, x) in map {
        let here = format!("{at}/{k}");
        match r.properties.iter().find(|(n, _)| n == k) {
            Some((_, s)) => check_at(s, x, &here)?,
            None => {
                if let Some(extra) = &r.additional {
                    check_at(extra, x, &here)
                        .map_err(|e| format!("{e} (additional property `{k}`)"))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ok(schema: Value, v: Value) -> bool {
        Schema::compile(&schema).unwrap().check(&v).is_ok()
    }

    #[test]
    fn keywords_golden() {
        let person = json!({
            "type": "object",
            "properties": {
                "name": { "type": "string", "minLength": 1, "pattern": "^[A-Z]" },
                "age": { "type": "integer", "minimum": 0, "maximum": 150 },
                "tags": { "type": "array", "items": { "type": "string" }, "maxItems": 2 },
                "kind": { "enum": ["a", "b"] },
                "v": { "const": 1 }
            },
            "required": ["name"],
            "additionalProperties": false
        });
        assert!(ok(person.clone(), json!({"name": "Ada", "age": 36})));
        assert!(ok(
            person.clone(),
            json!({"name": "Ada", "age": 36.0, "v": 1.0})
        ));
        for bad in [
            json!({"age": 3}),
            json!({"name": ""}),
            json!({"name": "ada"}),
            json!({"name": "Ada", "age": -1}),
            json!({"name": "Ada", "age": 1.5}),
            json!({"name": "Ada", "tags": ["x", 1]}),
            json!({"name": "Ada", "tags": ["x", "y", "z"]}),
            json!({"name": "Ada", "kind": "c"}),
            json!({"name": "Ada", "v": 2}),
            json!({"name": "Ada", "extra": 1}),
            json!([1]),
        ] {
            assert!(!ok(person.clone(), bad.clone()), "{bad}");
        }
        assert!(ok(json!(true), json!(null)));
        assert!(!ok(json!(false), json!(null)));
        assert!(ok(json!({"type": ["string", "null"]}), json!(null)));
        assert!(ok(
            json!({"additionalProperties": {"type": "number"}}),
            json!({"x": 1})
        ));
        assert!(!ok(
            json!({"additionalProperties": {"type": "number"}}),
            json!({"x": "1"})
        ));
        assert!(!ok(json!({"exclusiveMaximum": 1}), json!(1)));
        assert!(ok(
            json!({"$schema": "x", "title": "t", "format": "email"}),
            json!("not an email")
        ));
    }

    #[test]
    fn violations_name_the_pointer() {
        let s =
            Schema::compile(&json!({"properties": {"a": {"items": {"type": "string"}}}})).unwrap();
        assert_eq!(
            s.check(&json!({"a": ["x", 2]})).unwrap_err(),
            "`/a/1`: expected string, found number"
        );
    }

    #[test]
    fn unsupported_keywords_are_rejected() {
        let e = Schema::compile(&json!({"properties": {"a": {"oneOf": []}}})).unwrap_err();
        assert!(
            e.starts_with("unsupported JSON Schema keyword `oneOf` at `/properties/a`"),
            "{e}"
        );
        assert!(Schema::compile(&json!({"type": "strin"})).is_err());
        assert!(Schema::compile(&json!({"pattern": "("})).is_err());
        assert!(Schema::compile(&json!(3)).is_err());
    }
}
