//! Go's builtin functions and docker's.

use serde_json::Value;

use super::print::{go_print, go_type, sprintf, truth};

pub(super) const BUILTINS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
];

pub(super) fn want(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

/// A string argument; other values as Go's `%v` prints them.
pub(super) fn text(v: &Value) -> String {
    go_print(v)
}

pub(super) fn int_arg(name: &str, v: &Value) -> Result<i64, String> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        .ok_or_else(|| {
            format!(
                "error calling {name}: expected an integer; found {}",
                go_print(v)
            )
        })
}

/// Calls a builtin or docker function.
pub(super) fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    match name {
        "not" => {
            want(name, args, 1)?;
            Ok(Value::Bool(!truth(&args[0])))
        }
        "len" => {
            want(name, args, 1)?;
            match &args[0] {
                Value::String(s) => Ok(Value::from(s.len())),
                Value::Array(a) => Ok(Value::from(a.len())),
                Value::Object(m) => Ok(Value::from(m.len())),
                Value::Null => Err("error calling len: len of nil pointer".into()),
                v => Err(format!("error calling len: len of type {}", go_type(v))),
            }
        }
        "index" => {
            if args.is_empty() {
                return Err("wrong number of args for index: want at least 1 got 0".into());
            }
            let mut v = args[0].clone();
            for k in &args[1..] {
                v = match (&v, k) {
                    (Value::Array(a), k) => {
                        let i = int_arg(name, k)?;
                        if i < 0 || i as usize >= a.len() {
                            return Err(format!("error calling index: index out of range: {i}"));
                        }
                        a[i as usize].clone()
                    }
                    (Value::Object(m), Value::String(k)) => match m.get(k) {
                        Some(x) => x.clone(),
                        // The zero value: "" in a map of strings (docker's labels), else nil.
                        None if !m.is_empty() && m.values().all(Value::is_string) => {
                            Value::String(String::new())
                        }
                        None => Value::Null,
                    },
                    (Value::Object(_), k) => {
                        return Err(format!(
                            "error calling index: value has type {}; should be string",
                            go_type(k)
                        ))
                    }
                    (Value::String(s), k) => {
                        let i = int_arg(name, k)?;
                        match s.as_bytes().get(i as usize) {
                            Some(b) if i >= 0 => Value::from(*b),
                            _ => {
                                return Err(format!("error calling index: index out of range: {i}"))
                            }
                        }
                    }
                    (Value::Null, _) => {
                        return Err("error calling index: index of untyped nil".into())
                    }
                    (v, _) => {
                        return Err(format!(
                            "error calling index: can't index item of type {}",
                            go_type(v)
                        ))
                    }
                };
            }
            Ok(v)
        }
        "slice" => {
            if args.is_empty() || args.len() > 4 {
                return Err(format!(
                    "wrong number of args for slice: want 1 to 4 got {}",
                    args.len()
                ));
            }
            let idx: Vec<i64> = args[1..]
                .iter()
                .map(|a| int_arg(name, a))
                .collect::<Result<_, _>>()?;
            let len = match &args[0] {
                Value::String(s) => s.len(),
                Value::Array(a) => a.len(),
                v => {
                    return Err(format!(
                        "error calling slice: can't slice item of type {}",
                        go_type(v)
                    ))
                }
            } as i64;
            let from = idx.first().copied().unwrap_or(0);
            let to = idx.get(1).copied().unwrap_or(len);
            if from < 0 || to < from || to > len {
                return Err(format!("error calling slice: index out of range: {to}"));
            }
            let (from, to) = (from as usize, to as usize);
            Ok(match &args[0] {
                Value::String(s) => Value::String(
                    s.get(from..to)
                        .ok_or("error calling slice: not at a character boundary")?
                        .to_owned(),
                ),
                Value::Array(a) => Value::Array(a[from..to].to_vec()),
                _ => unreachable!("checked above"),
            })
        }
        "print" => {
            let mut s = String::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 && !a.is_string() && !args[i - 1].is_string() {
                    s.push(' ');
                }
                s.push_str(&go_print(a));
            }
            Ok(Value::String(s))
        }
        "println" => {
            let parts: Vec<String> = args.iter().map(go_print).collect();
            Ok(Value::String(parts.join(" ") + "\n"))
        }
        "printf" => {
            let Some(Value::String(f)) = args.first() else {
                return Err("error calling printf: the format must be a string".into());
            };
            Ok(Value::String(sprintf(f, &args[1..])))
        }
        "eq" => {
            if args.len() < 2 {
                return Err("error calling eq: missing argument for comparison".into());
            }
            for b in &args[1..] {
                if compare(&args[0], b, true)? == Some(std::cmp::Ordering::Equal) {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" => {
            want(name, args, 2)?;
            Ok(Value::Bool(
                compare(&args[0], &args[1], true)? != Some(std::cmp::Ordering::Equal),
            ))
        }
        "lt" | "le" | "gt" | "ge" => {
            want(name, args, 2)?;
            let o = compare(&args[0], &args[1], false)?
                .ok_or_else(|| format!("error calling {name}: invalid type for comparison"))?;
            use std::cmp::Ordering::*;
            Ok(Value::Bool(match name {
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            }))
        }
        "json" => {
            want(name, args, 1)?;
            Ok(Value::String(
                serde_json::to_string(&args[0]).map_err(|e| e.to_string())?,
            ))
        }
        "split" => {
            want(name, args, 2)?;
            let (s, sep) = (text(&args[0]), text(&args[1]));
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep.as_str())
                    .map(|p| Value::String(p.into()))
                    .collect()
            };
            Ok(Value::Array(parts))
        }
        "join" => {
            want(name, args, 2)?;
            let sep = text(&args[1]);
            match &args[0] {
                Value::Array(a) => Ok(Value::String(
                    a.iter().map(text).collect::<Vec<_>>().join(&sep),
                )),
                Value::Null => Ok(Value::String(String::new())),
                v => Err(format!(
                    "wrong type for value; expected []string; got {}",
                    go_type(v)
                )),
            }
        }
        "lower" => {
            want(name, args, 1)?;
            Ok(Value::String(text(&args[0]).to_lowercase()))
        }
        "upper" => {
            want(name, args, 1)?;
            Ok(Value::String(text(&args[0]).to_uppercase()))
        }
        "title" => {
            want(name, args, 1)?;
            let mut out = String::new();
            let mut prev_letter = false;
            for c in text(&args[0]).chars() {
                if !prev_letter && c.is_alphabetic() {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                prev_letter = c.is_alphanumeric() || c == '_';
            }
            Ok(Value::String(out))
        }
        "pad" => {
            want(name, args, 3)?;
            let s = text(&args[0]);
            if s.is_empty() {
                return Ok(Value::String(s));
            }
            let (p, q) = (int_arg(name, &args[1])?, int_arg(name, &args[2])?);
            Ok(Value::String(format!(
                "{}{s}{}",
                " ".repeat(p.max(0) as usize),
                " ".repeat(q.max(0) as usize)
            )))
        }
        "truncate" => {
            want(name, args, 2)?;
            let s = text(&args[0]);
            let n = int_arg(name, &args[1])?.max(0) as usize;
            Ok(Value::String(s.chars().take(n).collect()))
        }
        _ => Err(format!("function {name:?} not defined")),
    }
}

/// Go's comparison of basic values: numbers with numbers, strings with strings, booleans
/// (only for equality), nil with nil; anything else is an error.
pub(super) fn compare(
    a: &Value,
    b: &Value,
    equality: bool,
) -> Result<Option<std::cmp::Ordering>, String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Ok(x
            .as_f64()
            .and_then(|x| y.as_f64().and_then(|y| x.partial_cmp(&y)))),
        (Value::String(x), Value::String(y)) => Ok(Some(x.cmp(y))),
        (Value::Bool(x), Value::Bool(y)) if equality => Ok(Some(x.cmp(y))),
        (Value::Null, Value::Null) if equality => Ok(Some(std::cmp::Ordering::Equal)),
        (Value::Null, _) | (_, Value::Null) if equality => Ok(None),
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
            Err("error calling eq: non-comparable type".into())
        }
        _ => Err(format!(
            "error calling {}: incompatible types for comparison",
            if equality { "eq" } else { "lt" }
        )),
    }
}
