//! `.env` and `env_file` files in compose's syntax: `KEY=value`, `export KEY=value`,
//! `# comments`, single quotes (literal), double quotes (escapes, several lines, `${VAR}`),
//! unquoted values trimmed with a ` #` comment cut and `${VAR}` expanded, `KEY` alone (the
//! value from the environment, or unset when the environment has none).
//!
//! Hand-written: the dotenv crates differ from compose on `KEY` alone, on `${VAR:-d}` and on
//! expanding from the earlier lines of the same file.

use indexmap::IndexMap;

use crate::error::{Error, Result};
use crate::interp::{substitute, Fail};

/// Parse `text` (named `file` in errors). `lookup` gives the environment's values for `KEY`
/// alone and for `${VAR}` not defined earlier in the file.
pub fn parse(
    file: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<IndexMap<String, String>> {
    let mut vars: IndexMap<String, String> = IndexMap::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut n = 0;
    while n < lines.len() {
        let lineno = n + 1;
        let err = |message: String| Error::EnvFile {
            file: file.to_string(),
            line: lineno,
            message,
        };
        let mut line = lines[n].trim_start();
        n += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("export ") {
            line = rest.trim_start();
        }
        let sep = line.find(['=', ':']);
        let (key, rest) = match sep {
            Some(i) => (line[..i].trim(), Some(&line[i + 1..])),
            None => (line.trim(), None),
        };
        if key.is_empty() || key.chars().any(|c| c.is_whitespace()) {
            return Err(err(format!("{line:?} is not KEY=VALUE")));
        }
        let Some(rest) = rest else {
            if let Some(v) = vars.get(key).cloned().or_else(|| lookup(key)) {
                vars.insert(key.to_string(), v);
            }
            continue;
        };
        let rest = rest.trim_start();
        let earlier = vars.clone();
        let look = |k: &str| earlier.get(k).cloned().or_else(|| lookup(k));
        let expand = |s: &str| -> Result<String> {
            let mut unset = Vec::new();
            substitute(s, &look, &mut unset).map_err(|f| match f {
                Fail::Required { name, message } => err(format!(
                    "required variable {name} is missing a value: {message}"
                )),
                Fail::Syntax(m) => err(format!("invalid interpolation in {s:?}: {m}")),
            })
        };
        let value = if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
            // A quoted value, perhaps over several lines.
            let mut body = rest[1..].to_string();
            let close = loop {
                if let Some(i) = find_close(&body, q) {
                    break i;
                }
                if n >= lines.len() {
                    return Err(err(format!("the {q} quote is not closed")));
                }
                body.push('\n');
                body.push_str(lines[n]);
                n += 1;
            };
            let inner = &body[..close];
            if q == '\'' {
                inner.to_string()
            } else {
                expand(&unescape(inner))?
            }
        } else {
            let v = match rest.find(" #") {
                Some(i) => &rest[..i],
                None => rest,
            };
            expand(v.trim())?
        };
        vars.insert(key.to_string(), value);
    }
    Ok(vars)
}

/// The index of the closing quote `q` in `s` (a `\"` does not close a double-quoted value).
fn find_close(s: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if q == '"' && c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        if c == q && !escaped {
            return Some(i);
        }
        escaped = false;
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('$') => out.push_str("$$"),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str) -> IndexMap<String, String> {
        let look = |k: &str| (k == "SHELL_V").then(|| "from-shell".to_string());
        parse(".env", t, &look).unwrap()
    }

    #[test]
    fn syntax() {
        let v = p(
            "# comment\n\nA=1\nexport B = two words \nC='lit $A # x'\nD=\"q $A\\n\"\n\
                   E=x # comment\nF=a#b\nSHELL_V\nMISSING\nG=${A}-${H:-dflt}\nI: colon\n",
        );
        assert_eq!(v["A"], "1");
        assert_eq!(v["B"], "two words");
        assert_eq!(v["C"], "lit $A # x");
        assert_eq!(v["D"], "q 1\n");
        assert_eq!(v["E"], "x");
        assert_eq!(v["F"], "a#b");
        assert_eq!(v["SHELL_V"], "from-shell");
        assert!(!v.contains_key("MISSING"));
        assert_eq!(v["G"], "1-dflt");
        assert_eq!(v["I"], "colon");
    }

    #[test]
    fn multiline_and_empty() {
        let v = p("K=\"line1\nline2\"\nE=\nQ=\"a \\\"b\\\"\"\n");
        assert_eq!(v["K"], "line1\nline2");
        assert_eq!(v["E"], "");
        assert_eq!(v["Q"], "a \"b\"");
    }

    #[test]
    fn errors_name_the_line() {
        let look = |_: &str| None;
        let e = parse("x.env", "A=1\nB=\"open\n", &look)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.env:2:"), "{e}");
        let e = parse("x.env", "A=1\nnot a pair\n", &look)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.env:2:"), "{e}");
    }
}
