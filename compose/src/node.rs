//! A compose file as a tree of nodes that keep their file:line:column, read with saphyr.
//!
//! saphyr gives spans and resolves aliases; this module turns its documents into [`Node`]s
//! (scalars keep their source text, so `1.10` stays `1.10` in an environment value) and applies
//! YAML merge keys (`<<: *base`, `<<: [*a, *b]`): saphyr leaves those to the application, and
//! serde_yaml_ng's `apply_merge` works on a tree without positions.

use std::borrow::Cow;
use std::sync::Arc;

use indexmap::IndexMap;
use saphyr::{MarkedYaml, Scalar, ScalarStyle, YamlData, YamlLoader};
use saphyr_parser::Parser;

use crate::error::{Error, Pos, Result};

/// A scalar's resolved kind (YAML 1.2 core schema; quoted scalars are strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Str,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// The scalar's text as written (for a null, the empty string or `null`/`~`).
    Scalar(Kind, String),
    Seq(Vec<Node>),
    Map(IndexMap<String, Node>),
}

/// One node: where its value is, where its key is (for a mapping's value; else the value's
/// position) and the value.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub key_pos: Pos,
    pub value: Value,
    /// A local tag as written (`!reset`, `!override`: compose's merge directives).
    pub tag: Option<String>,
}

impl Node {
    pub fn new(pos: Pos, value: Value) -> Node {
        Node {
            key_pos: pos.clone(),
            pos,
            value,
            tag: None,
        }
    }

    pub fn str(pos: Pos, s: impl Into<String>) -> Node {
        Node::new(pos, Value::Scalar(Kind::Str, s.into()))
    }

    pub fn map(pos: Pos, m: IndexMap<String, Node>) -> Node {
        Node::new(pos, Value::Map(m))
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Scalar(Kind::Null, _))
    }

    /// The scalar's text, whatever its kind (not for a null).
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(Kind::Null, _) => None,
            Value::Scalar(_, s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&IndexMap<String, Node>> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut IndexMap<String, Node>> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// A name for the node's shape in messages ("a string", "a mapping", …).
    pub fn describe(&self) -> &'static str {
        match &self.value {
            Value::Scalar(Kind::Null, _) => "null",
            Value::Scalar(Kind::Bool, _) => "a boolean",
            Value::Scalar(Kind::Int, _) => "an integer",
            Value::Scalar(Kind::Float, _) => "a number",
            Value::Scalar(Kind::Str, _) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The node as plain JSON (for extension fields and options kept as they are).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Scalar(Kind::Null, _) => J::Null,
            Value::Scalar(Kind::Bool, s) => J::Bool(s.eq_ignore_ascii_case("true")),
            Value::Scalar(Kind::Int, s) => s
                .parse::<i64>()
                .map(J::from)
                .unwrap_or_else(|_| J::String(s.clone())),
            Value::Scalar(Kind::Float, s) => s
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(J::Number)
                .unwrap_or_else(|| J::String(s.clone())),
            Value::Scalar(Kind::Str, s) => J::String(s.clone()),
            Value::Seq(v) => J::Array(v.iter().map(Node::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }
}

/// Parse one YAML document (an empty file is an empty mapping). `file` names the file in
/// positions.
pub fn parse(file: &Arc<str>, text: &str) -> Result<Node> {
    let mut parser = Parser::new_from_str(text);
    let mut loader: YamlLoader<MarkedYaml> = YamlLoader::default();
    loader.early_parse(false);
    let scan = parser.load(&mut loader, true);
    let err = scan.err().or_else(|| loader.error().cloned());
    if let Some(e) = err {
        let m = e.marker();
        return Err(Error::Syntax {
            pos: Pos::new(file, m.line(), m.col() + 1),
            message: e.info().to_string(),
        });
    }
    let mut docs = loader.into_documents();
    if docs.len() > 1 {
        let span = docs[1].span;
        return Err(Error::Syntax {
            pos: Pos::new(file, span.start.line(), span.start.col() + 1),
            message: "a compose file holds one YAML document".into(),
        });
    }
    let Some(doc) = docs.pop() else {
        return Ok(Node::map(Pos::new(file, 1, 1), IndexMap::new()));
    };
    let node = convert(file, doc)?;
    if node.is_null() {
        return Ok(Node::map(Pos::new(file, 1, 1), IndexMap::new()));
    }
    Ok(node)
}

fn pos_of(file: &Arc<str>, y: &MarkedYaml) -> Pos {
    Pos::new(file, y.span.start.line(), y.span.start.col() + 1)
}

fn scalar_kind(text: &str, style: ScalarStyle) -> Kind {
    if style != ScalarStyle::Plain {
        return Kind::Str;
    }
    if text.is_empty() {
        return Kind::Null;
    }
    match Scalar::parse_from_cow(Cow::Borrowed(text)) {
        Scalar::Null => Kind::Null,
        Scalar::Boolean(_) => Kind::Bool,
        Scalar::Integer(_) => Kind::Int,
        Scalar::FloatingPoint(_) => Kind::Float,
        Scalar::String(_) => Kind::Str,
    }
}

fn convert(file: &Arc<str>, y: MarkedYaml) -> Result<Node> {
    let pos = pos_of(file, &y);
    let value = match y.data {
        YamlData::Representation(text, style, tag) => {
            let kind = match tag.as_deref() {
                Some(t) if t.is_yaml_core_schema() && t.suffix == "str" => Kind::Str,
                Some(t) if !t.is_yaml_core_schema() => {
                    let mut n = Node::new(
                        pos,
                        Value::Scalar(scalar_kind(&text, style), text.into_owned()),
                    );
                    n.tag = Some(t.to_string());
                    return Ok(n);
                }
                _ => scalar_kind(&text, style),
            };
            Value::Scalar(kind, text.into_owned())
        }
        YamlData::Value(s) => match s {
            Scalar::Null => Value::Scalar(Kind::Null, String::new()),
            Scalar::Boolean(b) => Value::Scalar(Kind::Bool, b.to_string()),
            Scalar::Integer(i) => Value::Scalar(Kind::Int, i.to_string()),
            Scalar::FloatingPoint(f) => Value::Scalar(Kind::Float, f.to_string()),
            Scalar::String(s) => Value::Scalar(Kind::Str, s.into_owned()),
        },
        YamlData::Sequence(items) => Value::Seq(
            items
                .into_iter()
                .map(|i| convert(file, i))
                .collect::<Result<_>>()?,
        ),
        YamlData::Mapping(entries) => {
            let mut map = IndexMap::new();
            let mut merges = Vec::new();
            for (k, v) in entries {
                let kpos = pos_of(file, &k);
                let key = match convert(file, k)?.value {
                    Value::Scalar(_, s) => s,
                    _ => return Err(Error::value(&kpos, "a mapping key must be a scalar")),
                };
                let mut node = convert(file, v)?;
                if key == "<<" {
                    merges.push(node);
                    continue;
                }
                node.key_pos = kpos;
                map.insert(key, node);
            }
            for m in merges {
                apply_merge(&mut map, m)?;
            }
            Value::Map(map)
        }
        YamlData::Tagged(tag, inner) => {
            let mut n = convert(file, *inner)?;
            n.tag = Some(tag.to_string());
            return Ok(n);
        }
        YamlData::Alias(_) | YamlData::BadValue => {
            return Err(Error::value(&pos, "unknown YAML alias or bad value"))
        }
    };
    Ok(Node::new(pos, value))
}

/// `<<` merge: a mapping or a list of mappings whose keys fill those the mapping lacks (the
/// mapping's own keys win, and earlier mappings of the list win over later ones).
fn apply_merge(map: &mut IndexMap<String, Node>, merged: Node) -> Result<()> {
    let sources = match merged.value {
        Value::Map(m) => vec![m],
        Value::Seq(items) => {
            let mut v = Vec::new();
            for i in items {
                match i.value {
                    Value::Map(m) => v.push(m),
                    _ => return Err(Error::value(&i.pos, "a merge key (<<) takes mappings")),
                }
            }
            v
        }
        _ => {
            return Err(Error::value(
                &merged.pos,
                "a merge key (<<) takes a mapping",
            ))
        }
    };
    for source in sources {
        for (k, v) in source {
            map.entry(k).or_insert(v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Node> {
        parse(&Arc::from("c.yaml"), s)
    }

    #[test]
    fn positions_and_kinds() {
        let n = p("a:\n  b: 1.10\n  c: 'x'\n  d: true\n  e:\n").unwrap();
        let a = n.get("a").unwrap();
        let b = a.get("b").unwrap();
        assert_eq!(b.value, Value::Scalar(Kind::Float, "1.10".into()));
        assert_eq!((b.pos.line, b.pos.column), (2, 6));
        assert_eq!((b.key_pos.line, b.key_pos.column), (2, 3));
        assert_eq!(
            a.get("c").unwrap().value,
            Value::Scalar(Kind::Str, "x".into())
        );
        assert_eq!(
            a.get("d").unwrap().value,
            Value::Scalar(Kind::Bool, "true".into())
        );
        assert!(a.get("e").unwrap().is_null());
    }

    #[test]
    fn anchors_and_merge_keys() {
        let n = p("x-base: &b\n  image: busybox\n  tty: true\ns:\n  <<: *b\n  tty: false\nt: *b\n")
            .unwrap();
        let s = n.get("s").unwrap();
        assert_eq!(s.get("image").unwrap().as_scalar(), Some("busybox"));
        assert_eq!(s.get("tty").unwrap().as_scalar(), Some("false"));
        assert_eq!(
            n.get("t").unwrap().get("tty").unwrap().as_scalar(),
            Some("true")
        );
        let n = p("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n").unwrap();
        let c = n.get("c").unwrap();
        assert_eq!(c.get("x").unwrap().as_scalar(), Some("1"));
        assert_eq!(c.get("y").unwrap().as_scalar(), Some("2"));
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let e = p("services:\n  web:\n    image: [a\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.yaml:"), "{e}");
        let e = p("a: 1\na: 2\n").unwrap_err().to_string();
        assert!(e.starts_with("c.yaml:2:"), "{e}");
    }

    #[test]
    fn tags_are_kept() {
        let n = p("a: !reset []\nb: !override {x: 1}\nc: !reset null\nd: !!str 80\n").unwrap();
        assert_eq!(n.get("a").unwrap().tag.as_deref(), Some("!reset"));
        assert_eq!(n.get("b").unwrap().tag.as_deref(), Some("!override"));
        assert_eq!(n.get("c").unwrap().tag.as_deref(), Some("!reset"));
        assert_eq!(
            n.get("d").unwrap().value,
            Value::Scalar(Kind::Str, "80".into())
        );
        assert_eq!(n.get("d").unwrap().tag, None);
    }

    #[test]
    fn empty_file_is_an_empty_mapping() {
        assert_eq!(p("").unwrap().as_map().unwrap().len(), 0);
    }
}
