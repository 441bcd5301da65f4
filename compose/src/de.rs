//! Reading typed values out of [`Node`]s: every wrong shape is an error at the node's
//! file:line:column, every key left unread is a warning naming it and its line.
//!
//! Hand-written rather than serde's derive: a derived `Deserialize` has no positions to give
//! its errors, turns an unknown key into silence or an error (compose wants a warning), and
//! cannot take compose's many "string or list", "mapping or `KEY=VALUE` list" and "string
//! after interpolation" shapes without a custom visitor per field anyway.

use std::collections::HashSet;
use std::str::FromStr;

use indexmap::IndexMap;

use crate::error::{Error, Pos, Result, Warning, Warnings};
use crate::node::{Kind, Node, Value};

/// The keys of one mapping, read one by one; [`Fields::finish`] warns about the others.
pub struct Fields<'a> {
    pub node: &'a Node,
    map: &'a IndexMap<String, Node>,
    used: HashSet<&'a str>,
}

impl<'a> Fields<'a> {
    pub fn new(node: &'a Node, what: &str) -> Result<Fields<'a>> {
        let map = node.as_map().ok_or_else(|| {
            Error::value(
                &node.pos,
                format!("{what} must be a mapping, not {}", node.describe()),
            )
        })?;
        Ok(Fields {
            node,
            map,
            used: HashSet::new(),
        })
    }

    /// The value of `key`, unless absent or null.
    pub fn get(&mut self, key: &'a str) -> Option<&'a Node> {
        self.used.insert(key);
        self.map.get(key).filter(|n| !n.is_null())
    }

    /// Warn about each key not read (extension fields `x-…` are for the user and never warned
    /// about). `what` names the mapping (`service "web"`).
    pub fn finish(self, what: &str, warnings: &mut Warnings) {
        for (k, v) in self.map {
            if !self.used.contains(k.as_str()) && !k.starts_with("x-") {
                warnings.push(Warning::at(
                    &v.key_pos,
                    format!("{what}: unsupported key {k:?} ignored"),
                ));
            }
        }
    }
}

pub fn err<T>(n: &Node, message: impl Into<String>) -> Result<T> {
    Err(Error::value(&n.pos, message))
}

/// Any scalar as its text.
pub fn string(n: &Node) -> Result<String> {
    match &n.value {
        Value::Scalar(Kind::Null, _) => err(n, "expected a string, not null"),
        Value::Scalar(_, s) => Ok(s.clone()),
        _ => err(n, format!("expected a string, not {}", n.describe())),
    }
}

pub fn boolean(n: &Node) -> Result<bool> {
    match &n.value {
        Value::Scalar(Kind::Bool | Kind::Str, s) => match s.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => err(n, format!("expected true or false, not {s:?}")),
        },
        _ => err(n, format!("expected true or false, not {}", n.describe())),
    }
}

/// An integer (from an integer, or a string after interpolation).
pub fn int<T: FromStr>(n: &Node) -> Result<T> {
    match &n.value {
        Value::Scalar(Kind::Int | Kind::Str, s) => s
            .trim()
            .parse()
            .or_else(|_| err(n, format!("expected an integer, not {s:?}"))),
        _ => err(n, format!("expected an integer, not {}", n.describe())),
    }
}

pub fn float(n: &Node) -> Result<f64> {
    match &n.value {
        Value::Scalar(Kind::Int | Kind::Float | Kind::Str, s) => s
            .trim()
            .parse()
            .or_else(|_| err(n, format!("expected a number, not {s:?}"))),
        _ => err(n, format!("expected a number, not {}", n.describe())),
    }
}

/// A list of strings; a single string is a list of one where `single` allows it.
pub fn strings(n: &Node, single: bool) -> Result<Vec<String>> {
    match &n.value {
        Value::Seq(items) => items.iter().map(string).collect(),
        Value::Scalar(k, s) if single && *k != Kind::Null => Ok(vec![s.clone()]),
        _ => err(
            n,
            format!(
                "expected a list{}, not {}",
                if single { " or a string" } else { "" },
                n.describe()
            ),
        ),
    }
}

/// A mapping of strings or a list of `KEY=VALUE` (`KEY` alone: no value). A mapping's null
/// value is no value too. `sep` is `=` (environment, labels) or `:` too (extra_hosts).
pub fn map_or_list(n: &Node, seps: &[char]) -> Result<IndexMap<String, Option<String>>> {
    let mut out = IndexMap::new();
    match &n.value {
        Value::Map(m) => {
            for (k, v) in m {
                let value = match &v.value {
                    Value::Scalar(Kind::Null, _) => None,
                    Value::Scalar(_, s) => Some(s.clone()),
                    _ => {
                        return err(
                            v,
                            format!("the value of {k:?} must be a string, not {}", v.describe()),
                        )
                    }
                };
                out.insert(k.clone(), value);
            }
        }
        Value::Seq(items) => {
            for i in items {
                let s = string(i)?;
                match s.find(seps) {
                    Some(at) => out.insert(s[..at].to_string(), Some(s[at + 1..].to_string())),
                    None => out.insert(s, None),
                };
            }
        }
        _ => {
            return err(
                n,
                format!("expected a mapping or a list, not {}", n.describe()),
            )
        }
    }
    Ok(out)
}

/// A mapping or list of `KEY=VALUE` whose every key has a value (a missing one is empty).
pub fn string_map(n: &Node) -> Result<IndexMap<String, String>> {
    Ok(map_or_list(n, &['='])?
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

/// A value one of `names`, for the enums of the model.
pub fn one_of<'n>(n: &'n Node, names: &[&str]) -> Result<&'n str> {
    let s = n.as_scalar().ok_or_else(|| {
        Error::value(
            &n.pos,
            format!("expected one of {}, not {}", names.join(", "), n.describe()),
        )
    })?;
    if names.contains(&s) {
        Ok(s)
    } else {
        err(n, format!("{s:?} is not one of {}", names.join(", ")))
    }
}

/// A position for values the loader makes.
pub fn here(n: &Node) -> Pos {
    n.pos.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn p(s: &str) -> Node {
        crate::node::parse(&Arc::from("c.yaml"), s).unwrap()
    }

    #[test]
    fn scalars() {
        let n = p("a: 5\nb: \"7\"\nc: x\nd: true\ne: 'false'\n");
        assert_eq!(int::<u32>(n.get("a").unwrap()).unwrap(), 5);
        assert_eq!(int::<u32>(n.get("b").unwrap()).unwrap(), 7);
        let e = int::<u32>(n.get("c").unwrap()).unwrap_err().to_string();
        assert_eq!(e, "c.yaml:3:4: expected an integer, not \"x\"");
        assert!(boolean(n.get("d").unwrap()).unwrap());
        assert!(!boolean(n.get("e").unwrap()).unwrap());
    }

    #[test]
    fn maps_and_lists() {
        let n = p("m: {A: 1, B: null, C: ''}\nl: [A=1, B, C=]\n");
        let m = map_or_list(n.get("m").unwrap(), &['=']).unwrap();
        let l = map_or_list(n.get("l").unwrap(), &['=']).unwrap();
        assert_eq!(m, l);
        assert_eq!(m["B"], None);
        assert_eq!(m["A"].as_deref(), Some("1"));
    }

    #[test]
    fn unknown_keys_warn_with_line() {
        let n = p("image: x\nbogus: 1\nx-mine: 2\n");
        let mut f = Fields::new(&n, "service").unwrap();
        assert!(f.get("image").is_some());
        let mut w = Warnings::default();
        f.finish("service \"web\"", &mut w);
        assert_eq!(w.0.len(), 1);
        assert_eq!(
            w.0[0].to_string(),
            "c.yaml:2: service \"web\": unsupported key \"bogus\" ignored"
        );
    }
}
