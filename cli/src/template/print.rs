//! Values as Go's `fmt` prints them: `%v` of decoded JSON, and `Sprintf`.

use std::fmt::Write as _;

use serde_json::{Number, Value};

/// Go's type name of a decoded JSON value, for messages.
pub(super) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "interface {}",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's truth: false, 0, nil and empty strings, lists and maps are false.
pub(super) fn truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// A value as an action prints it: a null on its own is `<no value>`.
pub(super) fn print_top(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        v => go_print(v),
    }
}

/// A value as Go's `%v` prints the decoded JSON: `[a b]`, `map[k:v]`, `<nil>`.
pub fn go_print(v: &Value) -> String {
    let mut s = String::new();
    write_go(&mut s, v);
    s
}

pub(super) fn write_go(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_go(out, e);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push_str("map[");
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_go(out, e);
            }
            out.push(']');
        }
    }
}

pub(super) fn go_number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => go_float(f, None, 'g'),
        _ => n.to_string(),
    }
}

/// A float as Go's `%v`/`%g` (shortest digits, exponent below 1e-4 or from 1e21 for `%v`),
/// `%e` and `%f` with a precision.
pub(super) fn go_float(f: f64, prec: Option<usize>, verb: char) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    match verb {
        'f' | 'F' => format!("{:.*}", prec.unwrap_or(6), f),
        'e' | 'E' => {
            let s = go_exp(&format!("{:.*e}", prec.unwrap_or(6), f));
            if verb == 'E' {
                s.to_uppercase()
            } else {
                s
            }
        }
        _ => {
            // Shortest digits, then Go's choice: %e when exp < -4 || exp >= eprec.
            let e = match prec {
                Some(p) => format!("{:.*e}", p.max(1) - 1, f),
                None => format!("{f:e}"),
            };
            let (mant, exp) = e.split_once('e').expect("an exponent");
            let mant = if mant.contains('.') {
                mant.trim_end_matches('0').trim_end_matches('.')
            } else {
                mant
            };
            let exp: i32 = exp.parse().unwrap_or(0);
            let digits = mant.replace(['-', '.'], "").len() as i32;
            // Go: the shortest form decides with precision 6; a given one with itself, or
            // with the digits it has when they all come before the point.
            let eprec = match prec {
                None => 6,
                Some(p) => {
                    let p = (p as i32).max(1);
                    if p > digits && digits > exp {
                        digits
                    } else {
                        p
                    }
                }
            };
            if exp < -4 || exp >= eprec {
                go_exp(&format!("{mant}e{exp}"))
            } else {
                let decimals = (digits - 1 - exp).max(0) as usize;
                format!("{:.*}", decimals, f)
            }
        }
    }
}

/// Rust's `1.5e3` as Go's `1.5e+03`.
pub(super) fn go_exp(rust: &str) -> String {
    let (m, e) = rust.split_once('e').expect("an exponent");
    let (sign, digits) = match e.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', e),
    };
    format!("{m}e{sign}{digits:0>2}")
}

/// Go's `fmt.Sprintf` for the verbs a format uses: `%v %s %d %q %t %f %e %g %x %X %c %%`
/// with flags `-+0 ` and width and precision.
pub(super) fn sprintf(f: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut it = f.chars().peekable();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut plus, mut zero, mut space) = (false, false, false, false);
        while let Some(&fl) = it.peek() {
            match fl {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => {}
                _ => break,
            }
            it.next();
        }
        let num = |it: &mut std::iter::Peekable<std::str::Chars>| {
            let mut n: Option<usize> = None;
            while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0) * 10 + d as usize);
                it.next();
            }
            n
        };
        let width = num(&mut it);
        let prec = if it.peek() == Some(&'.') {
            it.next();
            Some(num(&mut it).unwrap_or(0))
        } else {
            None
        };
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        let mut s = match (verb, arg) {
            ('d', Value::Number(n)) if !n.is_f64() => n.to_string(),
            ('x' | 'X', Value::Number(n)) if !n.is_f64() => {
                let i = n.as_i64().unwrap_or(0);
                let h = if i < 0 {
                    format!("-{:x}", -i)
                } else {
                    format!("{i:x}")
                };
                if verb == 'X' {
                    h.to_uppercase()
                } else {
                    h
                }
            }
            ('x' | 'X', Value::String(s)) => {
                let h: String = s.bytes().map(|b| format!("{b:02x}")).collect();
                if verb == 'X' {
                    h.to_uppercase()
                } else {
                    h
                }
            }
            ('c', Value::Number(n)) => n
                .as_u64()
                .and_then(|u| char::from_u32(u as u32))
                .map(String::from)
                .unwrap_or_default(),
            ('f' | 'F' | 'e' | 'E' | 'g' | 'G', Value::Number(n)) => go_float(
                n.as_f64().unwrap_or(0.0),
                prec.or(Some(6))
                    .filter(|_| verb != 'g' && verb != 'G')
                    .or(prec),
                verb.to_ascii_lowercase(),
            ),
            ('t', Value::Bool(b)) => b.to_string(),
            ('q', Value::String(s)) => serde_json::to_string(s).unwrap_or_default(),
            ('q', Value::Number(n)) if !n.is_f64() => format!(
                "'{}'",
                n.as_u64()
                    .and_then(|u| char::from_u32(u as u32))
                    .unwrap_or('\u{fffd}')
            ),
            ('s', Value::Null) => "%!s(<nil>)".into(),
            ('s', v @ (Value::Number(_) | Value::Bool(_))) => {
                format!("%!s({}={})", go_type(v), go_print(v))
            }
            ('s' | 'v', v) => {
                let s = go_print(v);
                match (verb, prec) {
                    ('s', Some(p)) => s.chars().take(p).collect(),
                    _ => s,
                }
            }
            (verb, v) => format!("%!{verb}({}={})", go_type(v), go_print(v)),
        };
        if matches!(verb, 'd' | 'f' | 'e' | 'g' | 'v') && arg.is_number() && !s.starts_with('-') {
            if plus {
                s.insert(0, '+');
            } else if space {
                s.insert(0, ' ');
            }
        }
        if let Some(w) = width {
            let n = s.chars().count();
            if n < w {
                let pad = w - n;
                if minus {
                    s.push_str(&" ".repeat(pad));
                } else if zero && arg.is_number() {
                    let sign = s.starts_with(['-', '+']);
                    let at = usize::from(sign);
                    s.insert_str(at, &"0".repeat(pad));
                } else {
                    s.insert_str(0, &" ".repeat(pad));
                }
            }
        }
        out.push_str(&s);
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", go_type(a), go_print(a)))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}
