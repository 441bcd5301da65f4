//! YAML out, for a cluster to read: block style as kubectl prints it, and every string that
//! YAML 1.1 (Kubernetes' YAML) would read as something else quoted.
//!
//! serde_yaml quotes by YAML 1.2's rules, so `yes`, `on`, `off`, `y`, `1_000` or `2:30` come
//! out plain, and Kubernetes reads them as booleans and numbers.

use serde::Serialize;
use serde_yaml_ng::{Mapping, Value};

/// The words YAML 1.1 reads as booleans or null.
const SPECIAL_WORDS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
];

/// Whether a string can be written without quotes and read back as the same string by YAML
/// 1.1 and 1.2: letters, digits and `-_./@:`; starting with a letter or `/` (no number, no
/// indicator), or with a digit when a letter other than `e` makes it no number (`1Gi`,
/// `500m`); no `: ` inside and no `:` at the end.
fn plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./@:".contains(c))
        || SPECIAL_WORDS.contains(&s)
        || s.ends_with(':')
    {
        return false;
    }
    if first.is_ascii_alphabetic() || first == '/' {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    first.is_ascii_digit()
        && !["0x", "0o", "0b"].iter().any(|p| lower.starts_with(p))
        && !s.contains(':')
        && s.chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
}

fn scalar(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        // JSON's escaping is YAML's double-quoted style.
        Value::String(s) if plain(s) => s.clone(),
        Value::String(s) => serde_json::to_string(s).expect("a string serializes"),
        Value::Sequence(a) if a.is_empty() => "[]".into(),
        Value::Mapping(o) if o.is_empty() => "{}".into(),
        Value::Tagged(t) => return scalar(&t.value),
        _ => return None,
    })
}

fn mapping(out: &mut String, m: &Mapping, indent: usize) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        out.push_str(&scalar(k).unwrap_or_else(|| "\"\"".into()));
        out.push(':');
        match (scalar(v), v) {
            (Some(s), _) => {
                out.push(' ');
                out.push_str(&s);
                out.push('\n');
            }
            (None, Value::Mapping(inner)) => {
                out.push('\n');
                mapping(out, inner, indent + 2);
            }
            (None, Value::Sequence(items)) => {
                out.push('\n');
                sequence(out, items, indent);
            }
            _ => unreachable!("scalars are handled above"),
        }
    }
}

fn sequence(out: &mut String, items: &[Value], indent: usize) {
    for v in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match (scalar(v), v) {
            (Some(s), _) => {
                out.push(' ');
                out.push_str(&s);
                out.push('\n');
            }
            (None, Value::Mapping(inner)) => {
                // The first key on the dash's line, the others under it.
                let mut block = String::new();
                mapping(&mut block, inner, indent + 2);
                out.push(' ');
                out.push_str(&block[indent + 2..]);
            }
            (None, Value::Sequence(inner)) => {
                out.push('\n');
                sequence(out, inner, indent + 2);
            }
            _ => unreachable!("scalars are handled above"),
        }
    }
}

/// One document (without its `---`).
pub fn to_yaml<T: Serialize>(value: &T) -> String {
    // serde_yaml's Value keeps fields in their order (serde_json's sorts them).
    let v = serde_yaml_ng::to_value(value).expect("Kubernetes objects serialize");
    let mut out = String::new();
    match (&v, scalar(&v)) {
        (Value::Mapping(m), None) => mapping(&mut out, m, 0),
        (Value::Sequence(a), None) => sequence(&mut out, a, 0),
        (_, Some(s)) => {
            out.push_str(&s);
            out.push('\n');
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_style_and_quoting() {
        let v = serde_json::json!({
            "name": "web",
            "env": [{"name": "A", "value": "yes"}, {"name": "B", "value": "0644"}],
            "args": ["sh", "-c", "echo hi\nexit 0", "on", "2:30", "1_000", "a: b", "1Gi", "1e3", "0x1F", "2006-01-02", "busybox:latest", "/srv/www"],
            "labels": {"app.kubernetes.io/name": "web", "y": "n"},
            "empty": {},
            "none": [],
            "port": 8080,
            "nested": [["a"]],
        });
        let v: Value = serde_json::from_value(v).unwrap();
        assert_eq!(
            to_yaml(&v),
            "\
args:
- sh
- \"-c\"
- \"echo hi\\nexit 0\"
- \"on\"
- \"2:30\"
- \"1_000\"
- \"a: b\"
- 1Gi
- \"1e3\"
- \"0x1F\"
- \"2006-01-02\"
- busybox:latest
- /srv/www
empty: {}
env:
- name: A
  value: \"yes\"
- name: B
  value: \"0644\"
labels:
  app.kubernetes.io/name: web
  \"y\": \"n\"
name: web
nested:
-
  - a
none: []
port: 8080
"
        );
    }

    /// What it writes, YAML reads back as the same value.
    #[test]
    fn reads_back() {
        let v = serde_json::json!({"a": [{"b": ["x", "-", "@", "#c", "'q'", "\"d\"", "é", ""]}], "e": {"f": {"g": true}}});
        let back: serde_json::Value = serde_yaml_ng::from_str(&to_yaml(&v)).unwrap();
        assert_eq!(back, v);
    }
}
