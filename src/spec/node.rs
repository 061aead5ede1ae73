//! A YAML document as a tree of nodes that remember where they were written.
//!
//! serde stops at the first error, but a user fixing a pipeline wants every error at once, each
//! with its line and column. So the YAML is first read (by serde-saphyr, which reports syntax
//! errors with a snippet) into this position-carrying tree; [`super::validate`] walks the tree
//! against the JSON Schema and collects every problem; only then is the tree turned into the
//! typed [`super::Spec`]. Plan-time checks look positions up by key path with [`Node::find`].

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a node was written: 1-based line and column in the pipeline file, or the `--set`
/// argument that gave it. `line == 0` means no position (a file that could not be read, or a
/// value given with `--set`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loc {
    /// 1-based line (0: none).
    pub line: u32,
    /// 1-based column (0: none).
    pub col: u32,
    /// Where the value came from.
    pub origin: Origin,
}

/// The source of a value: the pipeline file or a `--set` argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    /// The pipeline file.
    #[default]
    File,
    /// The `--set` argument with this index (0-based, in the order given).
    Set(u32),
}

impl Loc {
    /// A position in the pipeline file.
    pub fn at(line: u32, col: u32) -> Loc {
        Loc {
            line,
            col,
            origin: Origin::File,
        }
    }

    /// The value given by the `index`-th `--set` argument.
    pub fn set(index: usize) -> Loc {
        Loc {
            line: 0,
            col: 0,
            origin: Origin::Set(u32::try_from(index).unwrap_or(u32::MAX)),
        }
    }

    /// Whether this is a place in the pipeline file (not a `--set` value, not unknown).
    pub fn in_file(&self) -> bool {
        self.origin == Origin::File && self.line > 0
    }

    fn from_saphyr(l: &serde_saphyr::Location) -> Loc {
        Loc::at(l.line() as u32, l.column() as u32)
    }
}

/// One step of a key path: a mapping key or a sequence index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSeg {
    /// Mapping key.
    Key(String),
    /// Sequence index (0-based).
    Index(usize),
}

/// A key path such as `flow[0].llm.params.temperature`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath(pub Vec<PathSeg>);

impl KeyPath {
    /// The empty path (the document root).
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path extended by a key.
    pub fn key(&self, k: &str) -> Self {
        let mut v = self.0.clone();
        v.push(PathSeg::Key(k.to_string()));
        KeyPath(v)
    }

    /// This path extended by an index.
    pub fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(PathSeg::Index(i));
        KeyPath(v)
    }

    /// Parse a dotted path as written in `--set` (`a.b.0.c` or `a.b[0].c`).
    pub fn parse_dotted(text: &str) -> Option<Self> {
        let mut segs = Vec::new();
        for part in text.split('.') {
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !name.is_empty() {
                match name.parse::<usize>() {
                    Ok(i) if !segs.is_empty() => segs.push(PathSeg::Index(i)),
                    _ => segs.push(PathSeg::Key(name.to_string())),
                }
            } else if rest.is_empty() {
                return None;
            }
            while let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']')?;
                segs.push(PathSeg::Index(r[..end].trim().parse().ok()?));
                rest = &r[end + 1..];
            }
            if !rest.is_empty() {
                return None;
            }
        }
        if segs.is_empty() {
            None
        } else {
            Some(KeyPath(segs))
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                PathSeg::Key(k) if i == 0 => write!(f, "{k}")?,
                PathSeg::Key(k) => write!(f, ".{k}")?,
                PathSeg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A YAML node with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub kind: NodeKind,
    /// Where the value starts.
    pub loc: Loc,
}

/// A mapping key with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// The key as text.
    pub name: String,
    /// Where the key starts.
    pub loc: Loc,
    /// YAML read the key as a boolean (a bare `n`, `yes`, `off`...): `name` is then `true` or
    /// `false`, almost never what was meant; validation reports it.
    pub from_bool: bool,
    /// An earlier key of the same mapping has this name. The entry is kept (so validation can
    /// point at it) but ignored by lookups and the typed pipeline; validation reports it.
    pub duplicate: bool,
}

/// YAML values (core schema).
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer (wide enough for every `u64` and `i64`; YAML integers beyond `i128` are
    /// read as floats).
    Int(i128),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Key, Node)>),
}

impl NodeKind {
    /// The YAML/JSON type name used in messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "boolean",
            NodeKind::Int(_) => "integer",
            NodeKind::Float(_) => "number",
            NodeKind::Str(_) => "string",
            NodeKind::Seq(_) => "list",
            NodeKind::Map(_) => "mapping",
        }
    }
}

impl Node {
    /// Parse one YAML document. Syntax errors come back as serde-saphyr's rendered message.
    pub fn parse(text: &str) -> Result<Node, YamlSyntaxError> {
        // Duplicate keys reach our visitor, which marks them for validation to report with
        // their key path (the parser's own error names an option of the parser).
        let mut options = serde_saphyr::Options::default();
        options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
        options.budget = Some(budget());
        let spanned: Spanned<RawKind> = serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| {
                let loc = e
                    .location()
                    .map(|l| Loc::from_saphyr(&l))
                    .unwrap_or_default();
                match limit_message(&e) {
                    Some((message, help)) => YamlSyntaxError {
                        loc,
                        message,
                        help: Some(help),
                    },
                    None => YamlSyntaxError {
                        loc,
                        message: format!("invalid YAML: {}", e.without_snippet()),
                        help: None,
                    },
                }
            })?;
        Ok(Node::from_spanned(spanned))
    }

    fn from_spanned(s: Spanned<RawKind>) -> Node {
        Node {
            loc: Loc::from_saphyr(&s.referenced),
            kind: s.value.0,
        }
    }

    /// The child at `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == key && !k.duplicate)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The entry (key and value) at `key` of a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Key, &Node)> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == key && !k.duplicate)
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The node at `path`, if it exists.
    pub fn find(&self, path: &KeyPath) -> Option<&Node> {
        let mut node = self;
        for seg in &path.0 {
            node = match (seg, &node.kind) {
                (PathSeg::Key(k), _) => node.get(k)?,
                (PathSeg::Index(i), NodeKind::Seq(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The best position for a message about `path`: the node itself, else the key that would
    /// hold it, else the nearest existing ancestor.
    pub fn locate(&self, path: &KeyPath) -> Loc {
        let mut node = self;
        let mut loc = self.loc;
        for seg in &path.0 {
            let next = match (seg, &node.kind) {
                (PathSeg::Key(k), _) => node.entry(k).map(|(key, v)| (key.loc, v)),
                (PathSeg::Index(i), NodeKind::Seq(items)) => items.get(*i).map(|v| (v.loc, v)),
                _ => None,
            };
            match next {
                Some((l, v)) => {
                    // A value without a position of its own (created on the way to a `--set`
                    // value) is found at its key.
                    loc = if matches!(seg, PathSeg::Key(_))
                        && v.loc.origin == Origin::File
                        && v.loc.line == 0
                    {
                        l
                    } else {
                        v.loc
                    };
                    node = v;
                }
                None => break,
            }
        }
        loc
    }

    /// Set the value at `path`, creating mappings along the way (located where `value` is).
    /// Fails (with the prefix that could not be entered) when a path step goes through a
    /// scalar or past a list's end.
    pub fn set(&mut self, path: &KeyPath, value: Node) -> Result<(), KeyPath> {
        let origin = value.loc;
        let mut node = self;
        for (depth, seg) in path.0.iter().enumerate() {
            let prefix = || KeyPath(path.0[..=depth].to_vec());
            let last = depth + 1 == path.0.len();
            if matches!(node.kind, NodeKind::Null) {
                node.kind = NodeKind::Map(Vec::new());
                node.loc = origin;
            }
            node = match (seg, &mut node.kind) {
                (PathSeg::Key(k), NodeKind::Map(entries)) => {
                    let pos = match entries
                        .iter()
                        .position(|(key, _)| &key.name == k && !key.duplicate)
                    {
                        Some(p) => p,
                        None => {
                            entries.push((
                                Key {
                                    name: k.clone(),
                                    loc: origin,
                                    from_bool: false,
                                    duplicate: false,
                                },
                                Node {
                                    kind: NodeKind::Null,
                                    loc: origin,
                                },
                            ));
                            entries.len() - 1
                        }
                    };
                    &mut entries[pos].1
                }
                (PathSeg::Index(i), NodeKind::Seq(items)) if *i < items.len() => &mut items[*i],
                _ => return Err(prefix()),
            };
            if last {
                *node = value;
                return Ok(());
            }
        }
        *node = value;
        Ok(())
    }

    /// Convert to JSON (for the typed deserialisation and for templates).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => match (i64::try_from(*i), u64::try_from(*i)) {
                (Ok(i), _) => Value::from(i),
                (_, Ok(u)) => Value::from(u),
                // Beyond u64: validation reports it against the field's range first.
                _ => serde_json::Number::from_f64(*i as f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
            },
            NodeKind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .filter(|(k, _)| !k.duplicate)
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// A node without position from JSON (used for `--set` values).
    pub fn from_json(v: &serde_json::Value) -> Node {
        use serde_json::Value;
        let kind = match v {
            Value::Null => NodeKind::Null,
            Value::Bool(b) => NodeKind::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => NodeKind::Int(i.into()),
                (_, Some(u)) => NodeKind::Int(u.into()),
                _ => NodeKind::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => NodeKind::Str(s.clone()),
            Value::Array(a) => NodeKind::Seq(a.iter().map(Node::from_json).collect()),
            Value::Object(o) => NodeKind::Map(
                o.iter()
                    .map(|(k, v)| {
                        (
                            Key {
                                name: k.clone(),
                                loc: Loc::default(),
                                from_bool: false,
                                duplicate: false,
                            },
                            Node::from_json(v),
                        )
                    })
                    .collect(),
            ),
        };
        Node {
            kind,
            loc: Loc::default(),
        }
    }
}

/// The most levels of mappings and lists a document may nest. Pipelines need fewer than ten
/// (a JSON Schema inlined in an evaluator a few more); each level takes stack in the parser and
/// in every walk of the tree, so a bound well under the parser's default of 64 keeps them
/// all clear of the stack's end, even in a debug build on a 2 MiB thread.
pub const MAX_DEPTH: usize = 32;

/// The parser's resource limits: its defaults (which stop alias bombs such as "billion
/// laughs") with nesting at most [`MAX_DEPTH`].
fn budget() -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget
}

/// The parser's limits on the document's size (which stop alias bombs such as "billion
/// laughs" and runaway nesting before they take memory or stack), said in the pipeline's terms
/// with a suggestion; `None` for other errors (the parser's own text for these is its budget's
/// debug form).
fn limit_message(e: &serde_saphyr::Error) -> Option<(String, String)> {
    use serde_saphyr::budget::BudgetBreach;
    let budget = budget();
    let nesting = || {
        (
            format!(
                "the document nests mappings and lists more than {} levels deep",
                budget.max_depth
            ),
            "a pipeline needs a few levels: check for brackets that are not closed, or flatten the structure".to_string(),
        )
    };
    let large = "a pipeline is a short configuration: keep long data (prompts, rows, many values) in dataset files";
    let mut e = e;
    while let serde_saphyr::Error::WithSnippet { error, .. }
    | serde_saphyr::Error::AliasError { error, .. } = e
    {
        e = error;
    }
    let serde_saphyr::Error::Budget { breach, .. } = e else {
        return e
            .to_string()
            .starts_with("recursion limit exceeded")
            .then(nesting);
    };
    let message = match breach {
        BudgetBreach::Depth { .. } => return Some(nesting()),
        BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } => format!(
            "the document is too large: more than {} values (keys, values and list items, counting each use of an alias `*name` in full)",
            budget.max_nodes
        ),
        BudgetBreach::Aliases { .. } | BudgetBreach::AliasAnchorRatio { .. } => {
            "too many aliases (`*name`): aliases may repeat a value a few times, not build large documents".into()
        }
        BudgetBreach::Anchors { .. } => {
            format!("too many anchors (`&name`): at most {}", budget.max_anchors)
        }
        BudgetBreach::MergeKeys { .. } => format!(
            "too many merge keys (`<<`): at most {}",
            budget.max_merge_keys
        ),
        BudgetBreach::Documents { .. } => {
            "too many YAML documents (`---`): a pipeline is one document".into()
        }
        _ => "the document is too large for a pipeline".into(),
    };
    Some((message, large.into()))
}

/// A YAML syntax error.
#[derive(Clone, Debug, PartialEq)]
pub struct YamlSyntaxError {
    /// Where the parser stopped.
    pub loc: Loc,
    /// What is wrong (`invalid YAML: ...` with the parser's message, or a limit exceeded).
    pub message: String,
    /// A suggestion particular to the problem (none for syntax errors).
    pub help: Option<String>,
}

/// Deserialisation helper: the value of a node whose children are spanned.
struct RawKind(NodeKind);

/// A mapping key: any scalar, kept as text, and whether YAML read it as a boolean.
struct RawKey(String, bool);

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string(), false))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawKey, E> {
                Ok(RawKey(v, false))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string(), false))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string(), false))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string(), false))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string(), true))
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawKey, E> {
                Ok(RawKey("null".into(), false))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawKind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawKind, E> {
                Ok(RawKind(NodeKind::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<RawKind, E> {
                Ok(RawKind(NodeKind::Null))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<RawKind, D2::Error> {
                RawKind::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawKind, E> {
                Ok(RawKind(NodeKind::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawKind, E> {
                Ok(RawKind(NodeKind::Int(v.into())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawKind, E> {
                Ok(RawKind(NodeKind::Int(v.into())))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawKind, E> {
                Ok(RawKind(NodeKind::Int(v)))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawKind, E> {
                Ok(RawKind(match i128::try_from(v) {
                    Ok(i) => NodeKind::Int(i),
                    Err(_) => NodeKind::Float(v as f64),
                }))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawKind, E> {
                Ok(RawKind(NodeKind::Float(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawKind, E> {
                Ok(RawKind(NodeKind::Str(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawKind, E> {
                Ok(RawKind(NodeKind::Str(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawKind, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<RawKind>>()? {
                    items.push(Node::from_spanned(item));
                }
                Ok(RawKind(NodeKind::Seq(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawKind, A::Error> {
                let mut entries: Vec<(Key, Node)> = Vec::new();
                while let Some(key) = map.next_key::<Spanned<RawKey>>()? {
                    let value = map.next_value::<Spanned<RawKind>>()?;
                    let duplicate = entries.iter().any(|(k, _)| k.name == key.value.0);
                    let key = Key {
                        name: key.value.0,
                        loc: Loc::from_saphyr(&key.referenced),
                        from_bool: key.value.1,
                        duplicate,
                    };
                    entries.push((key, Node::from_spanned(value)));
                }
                Ok(RawKind(NodeKind::Map(entries)))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_and_values() {
        let text = "a: 1\nb:\n  c: [x, 2.5]\n  d: true\n";
        let n = Node::parse(text).unwrap();
        let c = n.find(&KeyPath::parse_dotted("b.c").unwrap()).unwrap();
        assert_eq!(c.loc, Loc::at(3, 6));
        let x = n.find(&KeyPath::parse_dotted("b.c[1]").unwrap()).unwrap();
        assert_eq!(x.kind, NodeKind::Float(2.5));
        assert_eq!(n.get("a").unwrap().kind, NodeKind::Int(1));
        assert_eq!(
            n.find(&KeyPath::parse_dotted("b.d").unwrap()).unwrap().kind,
            NodeKind::Bool(true)
        );
        let (k, _) = n.entry("b").unwrap();
        assert_eq!(k.loc, Loc::at(2, 1));
    }

    #[test]
    fn syntax_error_has_position() {
        let e = Node::parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.loc.line >= 1, "{e:?}");
    }

    #[test]
    fn boolean_keys_are_marked() {
        let n = Node::parse("vars:\n  n: 41\n  \"y\": 1\n  x: 2\n").unwrap();
        let NodeKind::Map(entries) = &n.get("vars").unwrap().kind else {
            panic!("a map")
        };
        let keys: Vec<_> = entries
            .iter()
            .map(|(k, _)| (k.name.as_str(), k.from_bool))
            .collect();
        assert_eq!(keys, [("false", true), ("y", false), ("x", false)]);
    }

    #[test]
    fn duplicate_keys_are_kept_and_marked() {
        let n = Node::parse("a: 1\nb: 3\na: 2\n").unwrap();
        let NodeKind::Map(entries) = &n.kind else {
            panic!("a map")
        };
        let marks: Vec<_> = entries
            .iter()
            .map(|(k, _)| (k.name.as_str(), k.duplicate, k.loc.line))
            .collect();
        assert_eq!(marks, [("a", false, 1), ("b", false, 2), ("a", true, 3)]);
        // The first one counts.
        assert_eq!(n.get("a").unwrap().kind, NodeKind::Int(1));
        assert_eq!(n.to_json(), serde_json::json!({"a": 1, "b": 3}));
    }

    #[test]
    fn integers_keep_the_whole_u64_range() {
        let n = Node::parse(
            "a: 18446744073709551615\nb: -9223372036854775808\nc: 99999999999999999999999\n",
        )
        .unwrap();
        assert_eq!(n.to_json()["a"], serde_json::json!(u64::MAX));
        assert_eq!(n.to_json()["b"], serde_json::json!(i64::MIN));
        assert!(matches!(
            n.get("c").unwrap().kind,
            NodeKind::Int(_) | NodeKind::Float(_)
        ));
    }

    #[test]
    fn set_creates_and_replaces() {
        let mut n = Node::parse("a:\n  b: 1\nl: [1, 2]\n").unwrap();
        n.set(
            &KeyPath::parse_dotted("a.b").unwrap(),
            Node::from_json(&2.into()),
        )
        .unwrap();
        n.set(
            &KeyPath::parse_dotted("a.c.d").unwrap(),
            Node::from_json(&"x".into()),
        )
        .unwrap();
        n.set(
            &KeyPath::parse_dotted("l[1]").unwrap(),
            Node::from_json(&5.into()),
        )
        .unwrap();
        assert!(
            n.set(
                &KeyPath::parse_dotted("l[7]").unwrap(),
                Node::from_json(&5.into())
            )
            .is_err()
        );
        assert_eq!(
            n.to_json(),
            serde_json::json!({"a": {"b": 2, "c": {"d": "x"}}, "l": [1, 5]})
        );
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(
            KeyPath::parse_dotted("flow[0].llm.params")
                .unwrap()
                .to_string(),
            "flow[0].llm.params"
        );
        assert_eq!(
            KeyPath::parse_dotted("flow.0.llm").unwrap().to_string(),
            "flow[0].llm"
        );
        assert!(KeyPath::parse_dotted("").is_none());
        assert!(KeyPath::parse_dotted("a[x]").is_none());
    }
}
