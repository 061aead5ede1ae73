//! Structural validation: walk a YAML [`Node`] tree against the pipeline's JSON Schema and
//! collect *every* problem (unknown and misspelt keys, wrong types, missing fields, unknown
//! enum values), each with its key path, position and a suggestion.
//!
//! Using the schema generated from the spec types keeps validator, schema and deserializer in
//! agreement by construction. Only the subset of JSON Schema that schemars emits is understood.

use serde_json::{Map, Value};

use super::duration::compact_number;
use super::node::{KeyPath, Loc, Node, NodeKind};

/// One problem in a pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Issue {
    /// Key path of the offending value (or of the missing key).
    pub path: KeyPath,
    /// Where it is written (line 0: not in the file, e.g. from `--set`).
    pub loc: Loc,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Where values the problem comes from were given (e.g. the grid value a template
    /// rendered), each printed as a `= note:` line.
    pub notes: Vec<Note>,
}

/// A value behind an issue and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    /// What it says, e.g. `grid.product.endpoint[1] = nope`.
    pub text: String,
    /// Where the value was written: a place in the file, or a `--set` argument.
    pub loc: Loc,
}

impl Issue {
    /// An issue located at `path` in `root`.
    pub fn at(root: &Node, path: KeyPath, message: impl Into<String>) -> Issue {
        Issue {
            notes: Vec::new(),
            loc: root.locate(&path),
            path,
            message: message.into(),
            help: None,
        }
    }

    /// Add a suggestion.
    pub fn help(mut self, help: impl Into<String>) -> Issue {
        self.help = Some(help.into());
        self
    }
}

/// Every structural problem of `root` against `schema` (empty when it conforms).
pub fn validate(root: &Node, schema: &Value) -> Vec<Issue> {
    let mut out = Vec::new();
    boolean_keys(root, &KeyPath::root(), &mut out);
    duplicate_keys(root, &KeyPath::root(), &mut out);
    let walker = Walker {
        root_schema: schema,
    };
    walker.walk(root, schema, &KeyPath::root(), &mut out);
    out
}

/// Every mapping key YAML read as a boolean (`n: 41` under `vars` would otherwise define a
/// variable named `false`, and a template reading `vars.n` fail far from the cause).
fn boolean_keys(node: &Node, path: &KeyPath, out: &mut Vec<Issue>) {
    match &node.kind {
        NodeKind::Map(entries) => {
            for (key, value) in entries {
                let child = path.key(&key.name);
                if key.from_bool {
                    out.push(Issue {
                        notes: Vec::new(),
                        loc: key.loc,
                        path: child.clone(),
                        message: format!("this key is the boolean `{}`, not a name", key.name),
                        help: Some(format!(
                            "YAML reads a bare `y`, `n`, `yes`, `no`, `on`, `off`, `true` or `false` as a boolean: quote the key to use it as a name (e.g. `\"n\": ...`){}",
                            where_hint(path)
                        )),
                    });
                }
                boolean_keys(value, &child, out);
            }
        }
        NodeKind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                boolean_keys(item, &path.index(i), out);
            }
        }
        _ => {}
    }
}

/// Every key written twice in one mapping, reported at its second (third...) occurrence.
fn duplicate_keys(node: &Node, path: &KeyPath, out: &mut Vec<Issue>) {
    match &node.kind {
        NodeKind::Map(entries) => {
            for (key, value) in entries {
                let child = path.key(&key.name);
                if key.duplicate {
                    let first = entries
                        .iter()
                        .find(|(k, _)| k.name == key.name && !k.duplicate)
                        .map_or(0, |(k, _)| k.loc.line);
                    out.push(Issue {
                        notes: Vec::new(),
                        loc: key.loc,
                        path: child.clone(),
                        message: format!("duplicate key `{child}`"),
                        help: Some(format!(
                            "a key may appear once in a mapping; `{}` is already set{}: remove or rename one of them",
                            key.name,
                            if first > 0 {
                                format!(" on line {first}")
                            } else {
                                String::new()
                            }
                        )),
                    });
                    continue; // its contents are not part of the pipeline
                }
                duplicate_keys(value, &child, out);
            }
        }
        NodeKind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                duplicate_keys(item, &path.index(i), out);
            }
        }
        _ => {}
    }
}

/// ` in <where>` for a help line (empty at the root).
fn where_hint(path: &KeyPath) -> String {
    if path.0.is_empty() {
        String::new()
    } else {
        format!(" in {}", where_(path))
    }
}

/// The candidate closest to `word` by normalised Levenshtein / Jaro-Winkler, if close enough.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let w = word.to_lowercase();
    let mut best: Option<(&str, f64)> = None;
    for c in candidates {
        let cl = c.to_lowercase();
        let score =
            strsim::normalized_levenshtein(&w, &cl).max(strsim::jaro_winkler(&w, &cl) - 0.15);
        if score >= 0.6 && best.is_none_or(|(_, s)| score > s) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

/// A "did you mean" help line, or the list of valid choices.
pub fn suggestion(word: &str, candidates: &[&str]) -> String {
    match did_you_mean(word, candidates.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("expected one of: {}", quoted_list(candidates)),
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Walker<'s> {
    root_schema: &'s Value,
}

impl<'s> Walker<'s> {
    fn resolve(&self, mut schema: &'s Value) -> &'s Value {
        // Follow `$ref` chains (schemars only emits local `#/$defs/...` references).
        for _ in 0..32 {
            let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(name) = r.strip_prefix("#/$defs/") else {
                break;
            };
            match self.root_schema.get("$defs").and_then(|d| d.get(name)) {
                Some(s) => schema = s,
                None => break,
            }
        }
        schema
    }

    fn walk(&self, node: &Node, schema: &'s Value, path: &KeyPath, out: &mut Vec<Issue>) {
        let schema = self.resolve(schema);
        if let Some(Value::Bool(false)) = Some(schema) {
            out.push(issue(node, path, "no value is allowed here"));
            return;
        }
        if let Some(branches) = schema
            .get("oneOf")
            .or_else(|| schema.get("anyOf"))
            .and_then(Value::as_array)
        {
            self.walk_alternatives(node, branches, path, out);
            // A schema may combine alternatives with sibling keywords; none of ours do beyond
            // descriptions, so the alternatives decide.
            return;
        }
        // YAML reads `1e6`, and integers too large for any integer type, as floats.
        if let (NodeKind::Float(f), Some(types)) = (&node.kind, schema.get("type"))
            && wants_integer_only(types)
            && f.is_finite()
            && f.fract() == 0.0
        {
            if !self.check_numeric_bounds(node, schema, path, out) {
                out.push(
                    issue(
                        node,
                        path,
                        format!("expected an integer, found number `{}`", compact_number(*f)),
                    )
                    .with_help(Some(format!("write it as digits: {}", *f as i128))),
                );
            }
            return;
        }
        if let Some(types) = schema.get("type")
            && !type_matches(&node.kind, types)
        {
            out.push(
                issue(
                    node,
                    path,
                    format!(
                        "expected {}, found {}",
                        describe_types(types),
                        describe_node(node)
                    ),
                )
                .with_help(type_help(types, node).or_else(|| one_field_help(schema, node))),
            );
            return;
        }
        if let Some(c) = schema.get("const")
            && !node_equals(node, c)
        {
            out.push(issue(
                node,
                path,
                format!("expected `{}`, found {}", plain(c), describe_node(node)),
            ));
            return;
        }
        if let Some(choices) = schema.get("enum").and_then(Value::as_array)
            && !choices.iter().any(|c| node_equals(node, c))
        {
            let names: Vec<String> = choices.iter().map(plain).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let found = match &node.kind {
                NodeKind::Str(s) => s.clone(),
                _ => describe_node(node),
            };
            out.push(
                issue(node, path, format!("unknown value `{found}`"))
                    .with_help(Some(suggestion(&found, &names))),
            );
            return;
        }
        self.check_numeric_bounds(node, schema, path, out);
        match &node.kind {
            NodeKind::Map(entries) => self.walk_map(node, entries, schema, path, out),
            NodeKind::Seq(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.walk(item, item_schema, &path.index(i), out);
                    }
                }
                if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                    && (items.len() as u64) < min
                {
                    out.push(issue(node, path, format!("needs at least {min} item(s)")));
                }
            }
            _ => {}
        }
    }

    fn walk_map(
        &self,
        node: &Node,
        entries: &[(super::node::Key, Node)],
        schema: &'s Value,
        path: &KeyPath,
        out: &mut Vec<Issue>,
    ) {
        let empty = Map::new();
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let additional = schema.get("additionalProperties");
        let known: Vec<&str> = props.keys().map(String::as_str).collect();
        // A misspelt required key is reported once, as the misspelling, not again as missing.
        let mut suggested: Vec<&str> = Vec::new();
        for (key, value) in entries {
            if key.from_bool || key.duplicate {
                continue; // reported once by `boolean_keys` / `duplicate_keys`
            }
            let child = path.key(&key.name);
            if let Some(prop_schema) = props.get(&key.name) {
                self.walk(value, prop_schema, &child, out);
            } else {
                match additional {
                    Some(Value::Bool(false)) => {
                        if let Some(s) = did_you_mean(&key.name, known.iter().copied()) {
                            suggested.push(s);
                        }
                        let help = if known.is_empty() {
                            None
                        } else {
                            Some(suggestion(&key.name, &known))
                        };
                        out.push(Issue {
                            notes: Vec::new(),
                            loc: key.loc,
                            path: child,
                            message: format!("unknown key `{}` in {}", key.name, where_(path)),
                            help,
                        });
                    }
                    Some(s @ Value::Object(_)) => self.walk(value, s, &child, out),
                    _ => {}
                }
            }
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for r in required.iter().filter_map(Value::as_str) {
                if !entries.iter().any(|(k, _)| k.name == r) && !suggested.contains(&r) {
                    out.push(Issue {
                        notes: Vec::new(),
                        loc: node.loc,
                        path: path.key(r),
                        message: format!("missing field `{r}` in {}", where_(path)),
                        help: props
                            .get(r)
                            .map(|p| self.resolve(p))
                            .and_then(|p| p.get("description"))
                            .and_then(Value::as_str)
                            .map(|d| format!("`{r}`: {}", first_sentence(d))),
                    });
                }
            }
        }
    }

    fn walk_alternatives(
        &self,
        node: &Node,
        branches: &'s [Value],
        path: &KeyPath,
        out: &mut Vec<Issue>,
    ) {
        let non_null: Vec<&Value> = branches
            .iter()
            .filter(|b| self.resolve(b).get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        if matches!(node.kind, NodeKind::Null) && non_null.len() < branches.len() {
            return; // an optional value written as null
        }
        let mut attempts: Vec<(usize, Vec<Issue>)> = Vec::new();
        for (i, b) in non_null.iter().enumerate() {
            let mut issues = Vec::new();
            self.walk(node, b, path, &mut issues);
            if issues.is_empty() {
                return;
            }
            attempts.push((i, issues));
        }
        if non_null.is_empty() {
            return;
        }
        if attempts.len() == 1 {
            out.extend(attempts.swap_remove(0).1);
            return;
        }
        // Externally tagged enum: each branch is an object with exactly one required key.
        let tags: Vec<&str> = non_null
            .iter()
            .filter_map(|b| single_required_key(self.resolve(b)))
            .collect();
        let consts: Vec<String> = non_null
            .iter()
            .filter_map(|b| self.resolve(b).get("const").map(plain))
            .collect();
        // A mapping written where scalars are also accepted (`extract: last_number` or
        // `extract: { after: ... }`) is meant as one of the tagged mappings.
        let scalar_or_tagged = non_null.iter().all(|b| {
            let r = self.resolve(b);
            single_required_key(r).is_some()
                || r.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t != "object")
        });
        if let NodeKind::Map(entries) = &node.kind {
            if tags.len() == non_null.len() || (!tags.is_empty() && scalar_or_tagged) {
                if let Some((i, _)) = non_null.iter().enumerate().find(|(_, b)| {
                    single_required_key(self.resolve(b))
                        .is_some_and(|t| entries.iter().any(|(k, _)| k.name == t))
                }) {
                    out.extend(attempts.swap_remove(i).1);
                    return;
                }
                let written: Vec<&str> = entries.iter().map(|(k, _)| k.name.as_str()).collect();
                let (loc, first) = entries
                    .first()
                    .map(|(k, _)| (k.loc, k.name.clone()))
                    .unwrap_or((node.loc, String::new()));
                out.push(Issue {
                    notes: Vec::new(),
                    loc,
                    path: if first.is_empty() {
                        path.clone()
                    } else {
                        path.key(&first)
                    },
                    message: if written.is_empty() {
                        format!("{} needs one of: {}", where_(path), quoted_list(&tags))
                    } else {
                        format!(
                            "unknown kind `{}` in {}",
                            written.join("`, `"),
                            where_(path)
                        )
                    },
                    help: Some(suggestion(&first, &tags)),
                });
                return;
            }
            // Internally tagged enum (`kind: openai`): pick the branch by its tag's const.
            if let Some((tag_key, tag_values)) = self.internal_tag(&non_null) {
                let written = entries.iter().find(|(k, _)| k.name == tag_key);
                match written {
                    Some((_, v)) => {
                        if let Some(i) = tag_values
                            .iter()
                            .position(|t| node_equals(v, &Value::String(t.clone())))
                        {
                            out.extend(attempts.swap_remove(i).1);
                        } else {
                            let names: Vec<&str> = tag_values.iter().map(String::as_str).collect();
                            let found = match &v.kind {
                                NodeKind::Str(s) => s.clone(),
                                _ => describe_node(v),
                            };
                            out.push(
                                issue(
                                    v,
                                    &path.key(&tag_key),
                                    format!("unknown {tag_key} `{found}`"),
                                )
                                .with_help(Some(suggestion(&found, &names))),
                            );
                        }
                    }
                    None => out.push(Issue {
                        notes: Vec::new(),
                        loc: node.loc,
                        path: path.key(&tag_key),
                        message: format!("missing field `{tag_key}` in {}", where_(path)),
                        help: Some(format!(
                            "one of: {}",
                            quoted_list(&tag_values.iter().map(String::as_str).collect::<Vec<_>>())
                        )),
                    }),
                }
                return;
            }
            // Untagged alternatives of different shapes (a dataset file or `synthetic`): the
            // branch that knows the most of the written keys is the one meant, so its
            // problems are the ones to report.
            let known_keys = |b: &Value| -> usize {
                self.resolve(b)
                    .get("properties")
                    .and_then(Value::as_object)
                    .map_or(0, |props| {
                        entries
                            .iter()
                            .filter(|(k, _)| props.contains_key(&k.name))
                            .count()
                    })
            };
            let scores: Vec<usize> = non_null.iter().map(|b| known_keys(b)).collect();
            if let Some(&best) = scores.iter().max()
                && best > 0
                && scores.iter().filter(|s| **s == best).count() == 1
            {
                let i = scores.iter().position(|s| *s == best).unwrap_or(0);
                if let Some(pos) = attempts.iter().position(|(j, _)| *j == i) {
                    out.extend(attempts.swap_remove(pos).1);
                    return;
                }
            }
            // An empty mapping matches no shape: name what each one needs.
            let required: Vec<Vec<&str>> = non_null
                .iter()
                .filter_map(|b| {
                    let req = self.resolve(b).get("required")?.as_array()?;
                    Some(req.iter().filter_map(Value::as_str).collect::<Vec<_>>())
                })
                .filter(|r| !r.is_empty())
                .collect();
            if entries.is_empty() && required.len() == non_null.len() {
                let shapes: Vec<String> = required
                    .iter()
                    .map(|r| quoted_list(r).replace(", ", " and "))
                    .collect();
                out.push(
                    issue(node, path, format!("{} is empty", where_(path)))
                        .with_help(Some(format!("give {}", shapes.join(", or ")))),
                );
                return;
            }
        }
        // A string enum written as one branch per value.
        if consts.len() == non_null.len() {
            let names: Vec<&str> = consts.iter().map(String::as_str).collect();
            let found = match &node.kind {
                NodeKind::Str(s) => s.clone(),
                _ => describe_node(node),
            };
            out.push(
                issue(node, path, format!("unknown value `{found}`"))
                    .with_help(Some(suggestion(&found, &names))),
            );
            return;
        }
        // Mismatched type for every branch: one message listing the accepted types.
        let all_type_errors = attempts.iter().all(|(_, is)| {
            is.len() == 1 && is[0].path == *path && is[0].message.starts_with("expected ")
        });
        if all_type_errors {
            let mut accepted: Vec<String> = Vec::new();
            for b in &non_null {
                let d = self.describe_branch(b);
                if !accepted.contains(&d) {
                    accepted.push(d);
                }
            }
            out.push(
                issue(
                    node,
                    path,
                    format!(
                        "expected {}, found {}",
                        accepted.join(" or "),
                        describe_node(node)
                    ),
                )
                .with_help(self.tagged_help(node, &non_null)),
            );
            return;
        }
        // Otherwise report the branch that came closest.
        if let Some((_, best)) = attempts.into_iter().min_by_key(|(_, is)| is.len()) {
            out.extend(best);
        }
    }

    fn internal_tag(&self, branches: &[&'s Value]) -> Option<(String, Vec<String>)> {
        let mut key: Option<String> = None;
        let mut values = Vec::new();
        for b in branches {
            let props = self.resolve(b).get("properties")?.as_object()?;
            let (k, v) = props.iter().find(|(_, p)| p.get("const").is_some())?;
            if key.as_deref().is_some_and(|existing| existing != k) {
                return None;
            }
            key = Some(k.clone());
            values.push(plain(v.get("const")?));
        }
        key.map(|k| (k, values))
    }

    /// For a value where one of several single-key mappings is expected (an externally tagged
    /// choice such as `{ fixed: 16 }` / `{ uniform: {...} }`): the shapes, and when the value
    /// itself fits one of them, that one written out (`input_tokens: 16` -> `{ fixed: 16 }`;
    /// `arrival: poisson` -> `{ poisson: ... }`).
    fn tagged_help(&self, node: &Node, branches: &[&'s Value]) -> Option<String> {
        let mut tags: Vec<(&str, &Value)> = Vec::new();
        for b in branches {
            let b = self.resolve(b);
            let props = b.get("properties")?.as_object()?;
            let required = b.get("required")?.as_array()?;
            let [(tag, inner)] = props.iter().collect::<Vec<_>>()[..] else {
                return None;
            };
            if required.len() != 1 || required[0].as_str() != Some(tag.as_str()) {
                return None;
            }
            tags.push((tag.as_str(), self.resolve(inner)));
        }
        let shapes: Vec<String> = tags
            .iter()
            .map(|(t, _)| format!("`{{ {t}: ... }}`"))
            .collect();
        let fits = |inner: &Value| {
            inner
                .get("type")
                .is_some_and(|t| type_matches(&node.kind, t))
        };
        let example = match &node.kind {
            NodeKind::Str(s) if tags.iter().any(|(t, _)| t == s) => Some(format!(
                "`{{ {s}: ... }}`, with its settings under its name"
            )),
            NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) | NodeKind::Str(_) => tags
                .iter()
                .find(|(_, inner)| fits(inner))
                .map(|(t, _)| format!("`{{ {t}: {} }}`", node_text(node))),
            _ => None,
        };
        Some(match example {
            Some(e) => format!("write {e} (one of {})", shapes.join(", ")),
            None => format!("write one of {}", shapes.join(", ")),
        })
    }

    fn describe_branch(&self, b: &Value) -> String {
        let b = self.resolve(b);
        if let Some(t) = b.get("type") {
            return describe_types(t);
        }
        if let Some(c) = b.get("const") {
            return format!("`{}`", plain(c));
        }
        if let Some(alts) = b
            .get("oneOf")
            .or_else(|| b.get("anyOf"))
            .and_then(Value::as_array)
        {
            let mut names: Vec<String> = Vec::new();
            for a in alts {
                let d = self.describe_branch(a);
                if d != "null" && !names.contains(&d) {
                    names.push(d);
                }
            }
            return names.join(" or ");
        }
        "a value".into()
    }

    /// Report a number outside the schema's bounds or its integer format's range; true when
    /// something was reported.
    fn check_numeric_bounds(
        &self,
        node: &Node,
        schema: &Value,
        path: &KeyPath,
        out: &mut Vec<Issue>,
    ) -> bool {
        let (v, shown) = match node.kind {
            NodeKind::Int(i) => (i as f64, i.to_string()),
            NodeKind::Float(f) => (f, compact_number(f)),
            _ => return false,
        };
        let min = schema.get("minimum").and_then(Value::as_f64);
        let max = schema.get("maximum").and_then(Value::as_f64);
        // A field bounded on both sides says its range (a one-sided bound says it already).
        let range_help = match (min, max) {
            (Some(lo), Some(hi)) => Some(format!(
                "give a {} from {} to {}",
                if schema.get("type").is_some_and(wants_integer_only) {
                    "whole number"
                } else {
                    "number"
                },
                compact_number(lo),
                compact_number(hi)
            )),
            _ => None,
        };
        if let Some(min) = min
            && v < min
        {
            out.push(
                issue(
                    node,
                    path,
                    format!("must be at least {}, found {shown}", compact_number(min)),
                )
                .with_help(range_help),
            );
            return true;
        }
        if let Some(max) = max
            && v > max
        {
            out.push(
                issue(
                    node,
                    path,
                    format!("must be at most {}, found {shown}", compact_number(max)),
                )
                .with_help(range_help),
            );
            return true;
        }
        let Some((lo, hi, name)) = schema
            .get("format")
            .and_then(Value::as_str)
            .and_then(integer_range)
        else {
            return false;
        };
        // `as` saturates, and every integer range here is far inside i128's.
        let whole = match node.kind {
            NodeKind::Int(i) => i,
            _ => v as i128,
        };
        let fits = (lo..=hi).contains(&whole);
        if !fits {
            out.push(
                issue(node, path, format!("{shown} does not fit {name}"))
                    .with_help(Some(format!("give a whole number from {lo} to {hi}"))),
            );
        }
        !fits
    }
}

/// The range and name of an integer `format` as schemars writes it.
fn integer_range(format: &str) -> Option<(i128, i128, &'static str)> {
    Some(match format {
        "uint8" => (0, u8::MAX.into(), "an unsigned 8-bit integer"),
        "uint16" => (0, u16::MAX.into(), "an unsigned 16-bit integer"),
        "uint32" => (0, u32::MAX.into(), "an unsigned 32-bit integer"),
        "uint64" | "uint" => (0, u64::MAX.into(), "an unsigned 64-bit integer"),
        "int8" => (i8::MIN.into(), i8::MAX.into(), "a signed 8-bit integer"),
        "int16" => (i16::MIN.into(), i16::MAX.into(), "a signed 16-bit integer"),
        "int32" => (i32::MIN.into(), i32::MAX.into(), "a signed 32-bit integer"),
        "int64" | "int" => (i64::MIN.into(), i64::MAX.into(), "a signed 64-bit integer"),
        _ => return None,
    })
}

/// The schema's type is `integer` (possibly with `null`), not also `number`.
fn wants_integer_only(types: &Value) -> bool {
    let names: Vec<&str> = match types {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return false,
    };
    names.contains(&"integer") && !names.contains(&"number")
}

fn single_required_key(schema: &Value) -> Option<&str> {
    let req = schema.get("required")?.as_array()?;
    let props = schema.get("properties")?.as_object()?;
    if req.len() == 1 && props.len() == 1 {
        req[0].as_str()
    } else {
        None
    }
}

fn first_sentence(d: &str) -> String {
    let one_line = d.replace('\n', " ");
    match one_line.find(". ") {
        Some(i) => one_line[..=i].to_string(),
        None => one_line,
    }
}

fn where_(path: &KeyPath) -> String {
    if path.0.is_empty() {
        "the pipeline".into()
    } else {
        format!("`{path}`")
    }
}

fn issue(node: &Node, path: &KeyPath, message: impl Into<String>) -> Issue {
    Issue {
        notes: Vec::new(),
        path: path.clone(),
        loc: node.loc,
        message: message.into(),
        help: None,
    }
}

trait WithHelp {
    fn with_help(self, help: Option<String>) -> Self;
}

impl WithHelp for Issue {
    fn with_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

fn type_matches(kind: &NodeKind, types: &Value) -> bool {
    let one = |t: &str| {
        matches!(
            (t, kind),
            ("null", NodeKind::Null)
                | ("boolean", NodeKind::Bool(_))
                | ("integer", NodeKind::Int(_))
                | ("number", NodeKind::Int(_) | NodeKind::Float(_))
                | ("string", NodeKind::Str(_))
                | ("array", NodeKind::Seq(_))
                | ("object", NodeKind::Map(_))
        )
    };
    match types {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(one),
        _ => true,
    }
}

fn describe_types(types: &Value) -> String {
    let name = |t: &str| match t {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "true or false",
        "null" => "null",
        _ => "a value",
    };
    match types {
        Value::String(t) => name(t).to_string(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .map(name)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "a value".into(),
    }
}

fn type_help(types: &Value, node: &Node) -> Option<String> {
    let wants = |t: &str| match types {
        Value::String(s) => s == t,
        Value::Array(ts) => ts.iter().any(|x| x.as_str() == Some(t)),
        _ => false,
    };
    match &node.kind {
        NodeKind::Str(s)
            if (wants("number") || wants("integer")) && s.trim().parse::<f64>().is_ok() =>
        {
            Some(format!("write the number without quotes: {}", s.trim()))
        }
        NodeKind::Seq(_) if wants("string") || wants("number") || wants("integer") => {
            Some("give a single value, not a list".into())
        }
        NodeKind::Map(_) if wants("array") => {
            Some("give a list (`- item` lines or `[a, b]`)".into())
        }
        NodeKind::Str(_) | NodeKind::Int(_) | NodeKind::Float(_) if wants("array") => Some(
            format!("give a list, even of one value: [{}]", node_text(node)),
        ),
        NodeKind::Bool(_) if wants("string") => Some(
            "YAML reads a bare `y`, `n`, `yes`, `no`, `on`, `off`, `true` or `false` as a boolean: quote it if you meant text (e.g. `\"n\"`)".into(),
        ),
        _ => None,
    }
}

/// A scalar given where a mapping with one required field is expected (`poisson: 20`): the
/// mapping it probably means (`{ rate: 20 }`).
fn one_field_help(schema: &Value, node: &Node) -> Option<String> {
    if matches!(
        node.kind,
        NodeKind::Map(_) | NodeKind::Seq(_) | NodeKind::Null
    ) || schema.get("type").and_then(Value::as_str) != Some("object")
    {
        return None;
    }
    match schema.get("required").and_then(Value::as_array)?.as_slice() {
        [Value::String(field)] => Some(format!(
            "write it as a mapping: {{ {field}: {} }}",
            node_text(node)
        )),
        _ => None,
    }
}

/// A scalar as it would be written back in YAML (long strings cut), for examples in help.
fn node_text(node: &Node) -> String {
    match &node.kind {
        NodeKind::Bool(b) => b.to_string(),
        NodeKind::Int(i) => i.to_string(),
        NodeKind::Float(f) => compact_number(*f),
        NodeKind::Str(s) if s.chars().count() > 40 => {
            format!("{}...", s.chars().take(40).collect::<String>())
        }
        NodeKind::Str(s) => s.clone(),
        NodeKind::Null => "null".into(),
        NodeKind::Seq(_) => "[...]".into(),
        NodeKind::Map(_) => "{...}".into(),
    }
}

fn describe_node(node: &Node) -> String {
    match &node.kind {
        NodeKind::Null => "null".into(),
        NodeKind::Bool(b) => format!("boolean `{b}`"),
        NodeKind::Int(i) => format!("integer `{i}`"),
        NodeKind::Float(f) => format!("number `{}`", compact_number(*f)),
        NodeKind::Str(s) => {
            let short: String = s.chars().take(40).collect();
            format!(
                "string `{short}`{}",
                if s.chars().count() > 40 { "..." } else { "" }
            )
        }
        NodeKind::Seq(_) => "a list".into(),
        NodeKind::Map(_) => "a mapping".into(),
    }
}

fn node_equals(node: &Node, v: &Value) -> bool {
    match (&node.kind, v) {
        (NodeKind::Str(s), Value::String(t)) => s == t,
        (NodeKind::Bool(a), Value::Bool(b)) => a == b,
        (NodeKind::Int(a), Value::Number(n)) => {
            n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)) == Some(*a)
        }
        (NodeKind::Float(a), Value::Number(n)) => n.as_f64() == Some(*a),
        (NodeKind::Null, Value::Null) => true,
        _ => false,
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::schema::pipeline_schema;

    fn issues(yaml: &str) -> Vec<Issue> {
        validate(&Node::parse(yaml).unwrap(), &pipeline_schema())
    }

    const OK: &str = r#"
version: 1
name: t
endpoints:
  sim: { kind: simulated }
datasets:
  qa: { path: qa.jsonl, input: question, reference: answers }
workload:
  arrival: { concurrency: 2 }
flow:
  - id: answer
    llm:
      endpoint: sim
      prompt: "{{ item.question }}"
      params: { temperature: "{{ grid.t }}", max_tokens: 16 }
grid:
  product: { t: [0.0, 0.5] }
evaluators:
  - exact: {}
  - fuzzy: { threshold: 0.9 }
"#;

    #[test]
    fn valid_pipeline_has_no_issues() {
        assert_eq!(issues(OK), vec![]);
    }

    #[test]
    fn misspelt_key_gets_suggestion() {
        let is = issues(&OK.replace("max_tokens", "max_tokns"));
        assert_eq!(is.len(), 1, "{is:?}");
        assert_eq!(is[0].path.to_string(), "flow[0].llm.params.max_tokns");
        assert_eq!(is[0].help.as_deref(), Some("did you mean `max_tokens`?"));
        assert_eq!(is[0].loc.line, 15);
    }

    #[test]
    fn every_error_is_reported() {
        let y = OK
            .replace("version: 1", "version: one")
            .replace("concurrency: 2", "concurency: 2")
            .replace("kind: simulated", "kind: simulatd")
            .replace("threshold: 0.9", "threshold: [1]");
        let is = issues(&y);
        let paths: Vec<String> = is.iter().map(|i| i.path.to_string()).collect();
        assert_eq!(
            paths,
            vec![
                "version",
                "endpoints.sim.kind",
                "workload.arrival.concurency",
                "evaluators[1].fuzzy.threshold"
            ],
            "{is:#?}"
        );
        assert_eq!(is[1].help.as_deref(), Some("did you mean `simulated`?"));
        assert_eq!(is[2].help.as_deref(), Some("did you mean `concurrency`?"));
    }

    #[test]
    fn missing_fields_are_named() {
        let is = issues("version: 1\nname: x\n");
        let paths: Vec<String> = is.iter().map(|i| i.path.to_string()).collect();
        // `datasets` may be omitted (a trace brings its own cases); the plan checks that one
        // drives the workload.
        assert_eq!(paths, vec!["endpoints", "workload", "flow"]);
    }

    #[test]
    fn templated_number_accepts_string_and_number_but_not_list() {
        assert!(issues(&OK.replace("max_tokens: 16", "max_tokens: \"{{ grid.m }}\"")).is_empty());
        let is = issues(&OK.replace("max_tokens: 16", "max_tokens: [16]"));
        assert_eq!(is.len(), 1);
        assert!(
            is[0].message.contains("expected an integer or a string"),
            "{is:?}"
        );
    }

    #[test]
    fn a_scalar_where_a_tagged_choice_goes_gets_it_written_out() {
        let is = issues(&OK.replace("{ concurrency: 2 }", "poisson"));
        assert_eq!(is.len(), 1, "{is:?}");
        assert_eq!(is[0].message, "expected a mapping, found string `poisson`");
        let help = is[0].help.as_deref().unwrap();
        assert!(
            help.starts_with("write `{ poisson: ... }`, with its settings under its name (one of `{ concurrency: ... }`, `{ constant: ... }`, `{ poisson: ... }`"),
            "{help}"
        );
        let synthetic = OK.replace(
            "qa: { path: qa.jsonl, input: question, reference: answers }",
            "qa: { synthetic: { count: 4, input_tokens: 16, output_tokens: { fixed: 4 } } }",
        );
        let is = issues(&synthetic);
        assert_eq!(is.len(), 1, "{is:?}");
        assert_eq!(is[0].path.to_string(), "datasets.qa.synthetic.input_tokens");
        assert_eq!(
            is[0].help.as_deref(),
            Some(
                "write `{ fixed: 16 }` (one of `{ fixed: ... }`, `{ uniform: ... }`, `{ normal: ... }`, `{ empirical: ... }`)"
            )
        );
        // A list fits no shape: the shapes alone.
        let is = issues(&OK.replace("{ concurrency: 2 }", "[2]"));
        assert!(
            is[0]
                .help
                .as_deref()
                .unwrap()
                .starts_with("write one of `{ concurrency: ... }`"),
            "{is:?}"
        );
    }

    #[test]
    fn negative_unsigned_is_rejected() {
        let is = issues(&OK.replace("max_tokens: 16", "max_tokens: -3"));
        assert_eq!(is.len(), 1, "{is:?}");
    }

    #[test]
    fn numbers_beyond_an_integer_type_are_range_errors() {
        let ok = OK.replace(
            "concurrency: 2 }",
            "concurrency: 2 }\n  seed: 18446744073709551615",
        );
        assert_eq!(issues(&ok), vec![]);
        for (key, value, want) in [
            (
                "requests",
                "99999999999999999999999",
                "1e23 does not fit an unsigned 64-bit integer",
            ),
            (
                "seed",
                "99999999999999999999999",
                "1e23 does not fit an unsigned 64-bit integer",
            ),
            (
                "seed",
                "18446744073709551616",
                "1.8446744073709552e19 does not fit an unsigned 64-bit integer",
            ),
            (
                "warmup",
                "1e308",
                "1e308 does not fit an unsigned 64-bit integer",
            ),
            ("seed", "1e6", "expected an integer, found number `1000000`"),
        ] {
            let y = OK.replace(
                "concurrency: 2 }",
                &format!("concurrency: 2 }}\n  {key}: {value}"),
            );
            let is = issues(&y);
            assert_eq!(is.len(), 1, "{key}: {value}: {is:?}");
            assert_eq!(is[0].message, want);
            assert_eq!(is[0].path.to_string(), format!("workload.{key}"));
            assert_eq!(is[0].loc, Loc::at(10, 3 + key.len() as u32 + 2));
        }
        let is = issues(&OK.replace("max_tokens: 16", "max_tokens: 1e308"));
        assert_eq!(
            is[0].message,
            "1e308 does not fit an unsigned 32-bit integer"
        );
    }

    #[test]
    fn duplicate_keys_are_reported_at_the_second() {
        let y = OK.replace(
            "sim: { kind: simulated }",
            "sim: { kind: simulated }\n  sim: { kind: simulatd }",
        );
        let is = issues(&y);
        assert_eq!(is.len(), 1, "{is:?}");
        assert_eq!(is[0].message, "duplicate key `endpoints.sim`");
        assert_eq!(is[0].loc, Loc::at(6, 3));
        assert!(is[0].help.as_deref().unwrap().contains("line 5"), "{is:?}");
    }

    #[test]
    fn unknown_enum_value() {
        let is = issues(&OK.replace("- exact: {}", "- exact: { normalize: squadd }"));
        assert_eq!(is.len(), 1, "{is:?}");
        assert_eq!(is[0].help.as_deref(), Some("did you mean `squad`?"));
    }
}
