//! Variable interpolation as compose does it: `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`,
//! `${VAR:?err}`, `${VAR?err}`, `${VAR:+alt}`, `${VAR+alt}`, defaults nested to any depth,
//! `$$` for a literal `$`. A `$` followed by anything else is an error, as in compose.
//!
//! Hand-written: compose's grammar (nesting, the `?` error messages, `$$`) is not the grammar
//! of any shell-expansion crate, and the unset-variable warnings must name each variable.

use crate::error::{Error, Pos, Result, Warning, Warnings};
use crate::node::{Kind, Node, Value};

/// Why a template failed: a `?` rule (variable, message) or a malformed template.
#[derive(Debug, PartialEq, Eq)]
pub enum Fail {
    Required { name: String, message: String },
    Syntax(String),
}

/// Substitute `text`. `lookup` gives a variable's value (None when unset); the names of unset
/// variables used without a default are pushed to `unset`.
pub fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> std::result::Result<String, Fail> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        i = step(&chars, i, lookup, unset, &mut out)?;
    }
    Ok(out)
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// One character or one `$` form at `i`, appended to `out`; the index after it.
fn step(
    chars: &[char],
    i: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
    out: &mut String,
) -> std::result::Result<usize, Fail> {
    if chars[i] != '$' {
        out.push(chars[i]);
        return Ok(i + 1);
    }
    match chars.get(i + 1) {
        Some('$') => {
            out.push('$');
            Ok(i + 2)
        }
        Some(&c) if is_name_start(c) => {
            let mut j = i + 1;
            while j < chars.len() && is_name(chars[j]) {
                j += 1;
            }
            let name: String = chars[i + 1..j].iter().collect();
            match lookup(&name) {
                Some(v) => out.push_str(&v),
                None => unset.push(name),
            }
            Ok(j)
        }
        Some('{') => braced(chars, i + 2, lookup, unset, out),
        _ => Err(Fail::Syntax(
            "a $ starts a variable; write $$ for a literal $".into(),
        )),
    }
}

/// `${…}` from just after the brace.
fn braced(
    chars: &[char],
    start: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
    out: &mut String,
) -> std::result::Result<usize, Fail> {
    let mut j = start;
    while j < chars.len() && is_name(chars[j]) {
        j += 1;
    }
    let name: String = chars[start..j].iter().collect();
    if name.is_empty() || !is_name_start(name.chars().next().unwrap_or('0')) {
        return Err(Fail::Syntax("a variable name is missing after ${".into()));
    }
    // The operator, then the word up to the matching brace.
    let (op, word_start) = match (chars.get(j), chars.get(j + 1)) {
        (Some('}'), _) => ("", j),
        (Some(':'), Some(&c)) if matches!(c, '-' | '?' | '+') => (
            if c == '-' {
                ":-"
            } else if c == '?' {
                ":?"
            } else {
                ":+"
            },
            j + 2,
        ),
        (Some('-'), _) => ("-", j + 1),
        (Some('?'), _) => ("?", j + 1),
        (Some('+'), _) => ("+", j + 1),
        (None, _) => return Err(Fail::Syntax("a ${ is not closed".into())),
        (Some(c), _) => return Err(Fail::Syntax(format!("unexpected {c:?} in ${{{name}…}}"))),
    };
    // Find the closing brace, skipping nested ${…}.
    let mut depth = 0usize;
    let mut k = word_start;
    loop {
        match chars.get(k) {
            None => return Err(Fail::Syntax("a ${ is not closed".into())),
            Some('$') if chars.get(k + 1) == Some(&'{') => {
                depth += 1;
                k += 2;
            }
            Some('$') if chars.get(k + 1) == Some(&'$') => k += 2,
            Some('}') if depth == 0 => break,
            Some('}') => {
                depth -= 1;
                k += 1;
            }
            Some(_) => k += 1,
        }
    }
    let word = &chars[word_start..k];
    let value = lookup(&name);
    let expand = |unset: &mut Vec<String>| -> std::result::Result<String, Fail> {
        let mut s = String::new();
        let mut m = 0;
        while m < word.len() {
            m = step(word, m, lookup, unset, &mut s)?;
        }
        Ok(s)
    };
    let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    match op {
        "" => match value {
            Some(v) => out.push_str(&v),
            None => unset.push(name),
        },
        ":-" => out.push_str(&if set_nonempty {
            value.unwrap_or_default()
        } else {
            expand(unset)?
        }),
        "-" => out.push_str(&match value {
            Some(v) => v,
            None => expand(unset)?,
        }),
        ":?" | "?" => {
            let ok = if op == ":?" {
                set_nonempty
            } else {
                value.is_some()
            };
            if !ok {
                return Err(Fail::Required {
                    name,
                    message: expand(unset)?,
                });
            }
            out.push_str(&value.unwrap_or_default());
        }
        ":+" => {
            if set_nonempty {
                out.push_str(&expand(unset)?)
            }
        }
        "+" => {
            if value.is_some() {
                out.push_str(&expand(unset)?)
            }
        }
        _ => unreachable!("operators are the ones matched above"),
    }
    Ok(k + 1)
}

/// Interpolate every string value of a tree (never a key), in place. An unset variable without
/// a default is a warning naming it and its place.
pub fn interpolate(
    node: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Warnings,
) -> Result<()> {
    match &mut node.value {
        Value::Scalar(Kind::Str, s) if s.contains('$') => {
            let mut unset = Vec::new();
            let new = substitute(s, lookup, &mut unset).map_err(|f| match f {
                Fail::Required { name, message } => Error::Required {
                    pos: node.pos.clone(),
                    message: if message.is_empty() {
                        format!("set {name} or give it a default")
                    } else {
                        message
                    },
                    name,
                },
                Fail::Syntax(message) => Error::Interpolation {
                    pos: node.pos.clone(),
                    text: s.clone(),
                    message,
                },
            })?;
            for name in unset {
                warnings.push(unset_warning(&node.pos, &name));
            }
            *s = new;
        }
        Value::Seq(items) => {
            for i in items {
                interpolate(i, lookup, warnings)?;
            }
        }
        Value::Map(m) => {
            for v in m.values_mut() {
                interpolate(v, lookup, warnings)?;
            }
        }
        Value::Scalar(..) => {}
    }
    Ok(())
}

pub fn unset_warning(pos: &Pos, name: &str) -> Warning {
    Warning::at(
        pos,
        format!("the \"{name}\" variable is not set. Defaulting to a blank string."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn sub(t: &str) -> std::result::Result<(String, Vec<String>), Fail> {
        let env: HashMap<&str, &str> = [("A", "a"), ("E", ""), ("N", "3")].into();
        let look = |k: &str| env.get(k).map(|s| s.to_string());
        let mut unset = Vec::new();
        substitute(t, &look, &mut unset).map(|s| (s, unset))
    }

    fn ok(t: &str) -> String {
        sub(t).unwrap().0
    }

    #[test]
    fn forms() {
        assert_eq!(ok("x$A-${A}y"), "xa-ay");
        assert_eq!(ok("${U:-d} ${E:-d} ${E-d} ${U-d}"), "d d  d");
        assert_eq!(ok("${A:+alt}|${E:+alt}|${E+alt}|${U+alt}"), "alt||alt|");
        assert_eq!(ok("$$A $${A}"), "$A ${A}");
        assert_eq!(ok("${U:-${V:-${N}x}}"), "3x");
        assert_eq!(ok("${A:?must}"), "a");
        assert_eq!(ok("no vars"), "no vars");
    }

    #[test]
    fn unset_is_empty_and_named() {
        let (s, unset) = sub("[$U][${V}][${W:-ok}]").unwrap();
        assert_eq!(s, "[][][ok]");
        assert_eq!(unset, vec!["U", "V"]);
    }

    #[test]
    fn required_errors() {
        assert_eq!(
            sub("${U:?set U please}").unwrap_err(),
            Fail::Required {
                name: "U".into(),
                message: "set U please".into()
            }
        );
        assert!(matches!(sub("${E:?x}"), Err(Fail::Required { .. })));
        assert_eq!(ok("${E?x}"), "");
    }

    #[test]
    fn malformed() {
        assert!(matches!(sub("echo $(date)"), Err(Fail::Syntax(_))));
        assert!(matches!(sub("${A"), Err(Fail::Syntax(_))));
        assert!(matches!(sub("${}"), Err(Fail::Syntax(_))));
        assert!(matches!(sub("cost $"), Err(Fail::Syntax(_))));
    }

    #[test]
    fn tree_values_not_keys() {
        let f = std::sync::Arc::from("c.yaml");
        let mut n = crate::node::parse(&f, "$K: ${A}\nl: [\"${U}\"]\n").unwrap();
        let look = |k: &str| (k == "A").then(|| "v".to_string());
        let mut w = Warnings::default();
        interpolate(&mut n, &look, &mut w).unwrap();
        assert_eq!(n.get("$K").unwrap().as_scalar(), Some("v"));
        assert_eq!(w.0.len(), 1);
        assert_eq!(w.0[0].place, "c.yaml:2");
        assert!(w.0[0].message.contains("\"U\""));
        let mut n = crate::node::parse(&f, "a:\n  b: ${X:?no X}\n").unwrap();
        let e = interpolate(&mut n, &look, &mut w).unwrap_err().to_string();
        assert_eq!(e, "c.yaml:2: required variable X is missing a value: no X");
    }
}
