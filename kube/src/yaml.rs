//! A serde deserializer over saphyr's positioned YAML nodes.
//!
//! serde_yaml reports a wrong type with a line, but drops unknown fields without a word; a
//! deserializer of our own sees every mapping key against the struct's field list, so an
//! unknown field becomes a warning with its path and line, and a wrong value an error with
//! both, without a second parse to find the positions.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use saphyr::{MarkedYaml, Scalar, YamlData};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use crate::error::Warning;

/// Fields Kubernetes knows that mean nothing on one host: warned about in their own words.
const NO_MEANING_HERE: &[&str] = &[
    "nodeSelector",
    "nodeName",
    "tolerations",
    "affinity",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "priorityClassName",
    "priority",
    "schedulerName",
    "topologySpreadConstraints",
    "enableServiceLinks",
    "preemptionPolicy",
    "runtimeClassName",
    "imagePullSecrets",
];

/// Fields the cluster sets (found in `kubectl get -o yaml` output): warned about as such.
const SET_BY_THE_CLUSTER: &[&str] = &[
    "status",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "ownerReferences",
];

/// What one document's deserialization collects besides the value.
pub(crate) struct Context<'f> {
    pub file: &'f str,
    /// The text, to read plain integers as written (see [`Context::integer`]).
    source: &'f str,
    /// Byte offsets of characters, when the text is not ASCII (positions count characters).
    char_offsets: Option<Vec<usize>>,
    pub warnings: RefCell<Vec<Warning>>,
    /// The line of every field read, by path: validation cites them.
    pub lines: RefCell<BTreeMap<String, usize>>,
}

impl<'f> Context<'f> {
    pub fn new(file: &'f str, source: &'f str) -> Self {
        Context {
            file,
            source,
            char_offsets: (!source.is_ascii())
                .then(|| source.char_indices().map(|(i, _)| i).collect()),
            warnings: RefCell::new(Vec::new()),
            lines: RefCell::new(BTreeMap::new()),
        }
    }

    /// The text a node was written as.
    fn raw(&self, node: &MarkedYaml<'_>) -> &'f str {
        let byte = |i: usize| match &self.char_offsets {
            None => Some(i),
            Some(o) => o
                .get(i)
                .copied()
                .or((i == o.len()).then_some(self.source.len())),
        };
        byte(node.span.start.index())
            .zip(byte(node.span.end.index()))
            .and_then(|(a, b)| self.source.get(a..b))
            .unwrap_or("")
    }

    /// A plain integer as Kubernetes reads it: its YAML is 1.1, where `0644` is octal (modes
    /// are written so), while saphyr reads YAML 1.2, where it is 644.
    fn integer(&self, node: &MarkedYaml<'_>, value: i64) -> i64 {
        let raw = self.raw(node);
        let (sign, digits) = match raw.strip_prefix('-') {
            Some(d) => (-1, d),
            None => (1, raw.strip_prefix('+').unwrap_or(raw)),
        };
        if digits.len() > 1
            && digits.starts_with('0')
            && digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
        {
            if let Ok(v) = i64::from_str_radix(digits, 8) {
                return sign * v;
            }
        }
        value
    }

    fn ignored(&self, path: &str, field: &str, line: usize) {
        let message = if SET_BY_THE_CLUSTER.contains(&field) {
            format!("{path} is set by the cluster; ignored")
        } else if NO_MEANING_HERE.contains(&field) {
            format!("{path} has no meaning on a single host; ignored")
        } else {
            format!("{path} is not supported; ignored")
        };
        self.warnings.borrow_mut().push(Warning {
            file: self.file.to_string(),
            line,
            message,
        });
    }
}

/// A deserialization failure, with the innermost node it happened at.
#[derive(Debug)]
pub(crate) struct DeError {
    pub message: String,
    /// (line, path) of the node, once known.
    pub at: Option<(usize, String)>,
}

impl DeError {
    fn locate(mut self, line: usize, path: &str) -> Self {
        if self.at.is_none() {
            self.at = Some((line, path.to_string()));
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            at: None,
        }
    }
}

/// The line (1-based) a node starts on.
pub(crate) fn line_of(node: &MarkedYaml<'_>) -> usize {
    node.span.start.line()
}

/// A mapping key as a string, when it is a scalar.
pub(crate) fn key_str<'a>(node: &'a MarkedYaml<'_>) -> Option<std::borrow::Cow<'a, str>> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(std::borrow::Cow::Borrowed(s.as_ref())),
        YamlData::Value(Scalar::Integer(i)) => Some(i.to_string().into()),
        YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string().into()),
        YamlData::Representation(s, ..) => Some(std::borrow::Cow::Borrowed(s.as_ref())),
        _ => None,
    }
}

/// Looks a key up in a mapping node.
pub(crate) fn get<'a, 'i>(node: &'a MarkedYaml<'i>, key: &str) -> Option<&'a MarkedYaml<'i>> {
    match &node.data {
        YamlData::Mapping(m) => m
            .iter()
            .find(|(k, _)| key_str(k).as_deref() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// Deserializes one node at `path`.
pub(crate) struct NodeDeserializer<'a, 'i, 'f> {
    pub node: &'a MarkedYaml<'i>,
    pub path: String,
    pub cx: &'a Context<'f>,
}

impl<'a, 'i, 'f> NodeDeserializer<'a, 'i, 'f> {
    pub fn new(node: &'a MarkedYaml<'i>, path: String, cx: &'a Context<'f>) -> Self {
        Self::at_line(node, path, cx, line_of(node))
    }

    /// A node whose field is cited at `line` (its key's: a block mapping's value starts on
    /// the line after the key).
    fn at_line(node: &'a MarkedYaml<'i>, path: String, cx: &'a Context<'f>, line: usize) -> Self {
        cx.lines.borrow_mut().insert(path.clone(), line);
        NodeDeserializer { node, path, cx }
    }

    fn line(&self) -> usize {
        line_of(self.node)
    }

    fn child(&self, node: &'a MarkedYaml<'i>, key: &str, line: usize) -> Self {
        let path = if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        };
        NodeDeserializer::at_line(node, path, self.cx, line)
    }

    fn inner(&self) -> &'a MarkedYaml<'i> {
        let mut node = self.node;
        while let YamlData::Tagged(_, inner) = &node.data {
            node = inner;
        }
        node
    }

    fn is_null(&self) -> bool {
        matches!(self.inner().data, YamlData::Value(Scalar::Null))
    }
}

struct Seq<'a, 'i, 'f> {
    items: std::iter::Enumerate<std::slice::Iter<'a, MarkedYaml<'i>>>,
    parent: &'a NodeDeserializer<'a, 'i, 'f>,
}

impl<'de, 'a, 'i, 'f> SeqAccess<'de> for Seq<'a, 'i, 'f> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            None => Ok(None),
            Some((i, node)) => {
                let path = format!("{}[{i}]", self.parent.path);
                seed.deserialize(NodeDeserializer::new(node, path, self.parent.cx))
                    .map(Some)
            }
        }
    }
}

struct Map<'a, 'i, 'f> {
    entries: std::vec::IntoIter<(&'a MarkedYaml<'i>, &'a MarkedYaml<'i>)>,
    value: Option<(&'a MarkedYaml<'i>, String, usize)>,
    parent: &'a NodeDeserializer<'a, 'i, 'f>,
}

impl<'de, 'a, 'i, 'f> MapAccess<'de> for Map<'a, 'i, 'f> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            None => Ok(None),
            Some((k, v)) => {
                let name = key_str(k).map(|s| s.into_owned()).unwrap_or_default();
                let key_de = NodeDeserializer {
                    node: k,
                    path: self.parent.path.clone(),
                    cx: self.parent.cx,
                };
                self.value = Some((v, name, line_of(k)));
                seed.deserialize(key_de).map(Some)
            }
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (v, name, line) = self.value.take().expect("value after key");
        seed.deserialize(self.parent.child(v, &name, line))
    }
}

impl<'de, 'a, 'i, 'f> de::Deserializer<'de> for NodeDeserializer<'a, 'i, 'f> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.inner();
        let result = match &node.data {
            YamlData::Value(Scalar::Null) => visitor.visit_unit(),
            YamlData::Value(Scalar::Boolean(b)) => visitor.visit_bool(*b),
            YamlData::Value(Scalar::Integer(i)) => visitor.visit_i64(self.cx.integer(node, *i)),
            YamlData::Value(Scalar::FloatingPoint(f)) => visitor.visit_f64(f.into_inner()),
            YamlData::Value(Scalar::String(s)) => visitor.visit_str(s),
            YamlData::Representation(s, ..) => visitor.visit_str(s),
            YamlData::Sequence(items) => visitor.visit_seq(Seq {
                items: items.iter().enumerate(),
                parent: &self,
            }),
            YamlData::Mapping(m) => visitor.visit_map(Map {
                entries: m.iter().collect::<Vec<_>>().into_iter(),
                value: None,
                parent: &self,
            }),
            YamlData::Alias(_) => Err(de::Error::custom("YAML aliases are not supported")),
            YamlData::Tagged(..) | YamlData::BadValue => {
                Err(de::Error::custom("a value that cannot be read"))
            }
        };
        result.map_err(|e| e.locate(self.line(), &self.path))
    }

    /// YAML 1.1's booleans too (`yes`, `on`, `off`...), unquoted, as Kubernetes reads them.
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.inner();
        if let YamlData::Value(Scalar::String(s)) = &node.data {
            let word = match s.as_ref() {
                "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
                "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
                _ => None,
            };
            if let Some(b) = word.filter(|_| self.cx.raw(node) == s.as_ref()) {
                return visitor.visit_bool(b);
            }
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.inner();
        let result = match &node.data {
            YamlData::Mapping(m) => {
                let mut known = Vec::new();
                for (k, v) in m.iter() {
                    match key_str(k) {
                        Some(name) if fields.contains(&name.as_ref()) => known.push((k, v)),
                        name => {
                            let name = name.unwrap_or_default();
                            let path = if self.path.is_empty() {
                                name.to_string()
                            } else {
                                format!("{}.{name}", self.path)
                            };
                            self.cx.ignored(&path, &name, line_of(k));
                        }
                    }
                }
                visitor.visit_map(Map {
                    entries: known.into_iter(),
                    value: None,
                    parent: &self,
                })
            }
            // `spec:` with nothing under it is an empty object, as Kubernetes reads it.
            YamlData::Value(Scalar::Null) => visitor.visit_map(Map {
                entries: Vec::new().into_iter(),
                value: None,
                parent: &self,
            }),
            _ => return self.deserialize_any(visitor),
        };
        result.map_err(|e| e.locate(self.line(), &self.path))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            // `env:` with no items, as Kubernetes reads it.
            let empty: Vec<MarkedYaml<'i>> = Vec::new();
            return visitor
                .visit_seq(Seq {
                    items: empty.iter().enumerate(),
                    parent: &self,
                })
                .map_err(|e| e.locate(self.line(), &self.path));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null() {
            return visitor
                .visit_map(Map {
                    entries: Vec::new().into_iter(),
                    value: None,
                    parent: &self,
                })
                .map_err(|e| e.locate(self.line(), &self.path));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let result = match &self.inner().data {
            YamlData::Value(Scalar::String(s)) => {
                visitor.visit_enum(IntoDeserializer::<DeError>::into_deserializer(s.as_ref()))
            }
            _ => return self.deserialize_any(visitor),
        };
        result.map_err(|e| e.locate(self.line(), &self.path))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct identifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr::LoadableYamlNode;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        count: Option<u32>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    struct Outer {
        name: String,
        #[serde(default)]
        items: Vec<Inner>,
    }

    fn load(text: &str) -> MarkedYaml<'_> {
        MarkedYaml::load_from_str(text).unwrap().remove(0)
    }

    #[test]
    fn unknown_fields_are_warnings_with_path_and_line() {
        let doc = load("name: a\nitems:\n- count: 1\n  color: red\nextra: 1\n");
        let cx = Context::new("f.yaml", "");
        let v = Outer::deserialize(NodeDeserializer::new(&doc, String::new(), &cx)).unwrap();
        assert_eq!((v.name.as_str(), v.items[0].count), ("a", Some(1)));
        let mut w: Vec<String> = cx.warnings.borrow().iter().map(|w| w.to_string()).collect();
        w.sort();
        assert_eq!(
            w,
            [
                "f.yaml:4: items[0].color is not supported; ignored",
                "f.yaml:5: extra is not supported; ignored"
            ]
        );
        assert_eq!(cx.lines.borrow()["items[0].count"], 3);
    }

    #[test]
    fn wrong_types_name_path_and_line() {
        let doc = load("name: a\nitems:\n- count: many\n");
        let cx = Context::new("f.yaml", "");
        let e = Outer::deserialize(NodeDeserializer::new(&doc, String::new(), &cx)).unwrap_err();
        assert_eq!(e.at, Some((3, "items[0].count".to_string())));
        assert!(e.message.contains("invalid type"), "{}", e.message);
        let doc = load("items: []\n");
        let e = Outer::deserialize(NodeDeserializer::new(&doc, String::new(), &cx)).unwrap_err();
        assert_eq!(e.message, "missing field `name`");
    }

    #[test]
    fn leading_zero_integers_are_octal_as_kubernetes_reads_them() {
        #[derive(Deserialize)]
        struct Modes {
            a: i32,
            b: i32,
            c: i32,
            d: String,
        }
        let text = "# é\na: 0644\nb: 644\nc: 0o17\nd: '0644'\n";
        let doc = load(text);
        let cx = Context::new("f.yaml", text);
        let m = Modes::deserialize(NodeDeserializer::new(&doc, String::new(), &cx)).unwrap();
        assert_eq!((m.a, m.b, m.c, m.d.as_str()), (0o644, 644, 0o17, "0644"));
    }

    #[test]
    fn yaml_1_1_booleans_as_kubernetes_reads_them() {
        #[derive(Deserialize, Debug)]
        struct Flags {
            a: bool,
            b: bool,
            c: String,
        }
        let text = "a: yes\nb: off\nc: yes\n";
        let doc = load(text);
        let cx = Context::new("f.yaml", text);
        let f = Flags::deserialize(NodeDeserializer::new(&doc, String::new(), &cx)).unwrap();
        assert_eq!((f.a, f.b, f.c.as_str()), (true, false, "yes"));
        let text = "a: 'yes'\nb: true\nc: x\n";
        let doc = load(text);
        let cx = Context::new("f.yaml", text);
        let e = Flags::deserialize(NodeDeserializer::new(&doc, String::new(), &cx)).unwrap_err();
        assert_eq!(e.at, Some((1, "a".to_string())));
    }

    #[test]
    fn null_collections_are_empty() {
        let doc = load("name: a\nitems:\n");
        let cx = Context::new("f.yaml", "");
        let v = Outer::deserialize(NodeDeserializer::new(&doc, String::new(), &cx)).unwrap();
        assert!(v.items.is_empty());
    }
}
