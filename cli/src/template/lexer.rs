//! The lexer: the text inside an action as tokens, numbers and quoted strings.

use serde_json::{Number, Value};

use super::ast::Tok;
use super::parser::Parser;
use super::Error;

impl<'a> Parser<'a> {
    pub(super) fn skip_space(&mut self) {
        let n = self.rest().len() - self.rest().trim_start().len();
        self.pos += n;
    }

    /// After a comment: `}}` or ` -}}`.
    pub(super) fn close_action(&mut self) -> Result<(), Error> {
        self.skip_space();
        if self.rest().starts_with("-}}") {
            self.pos += 3;
            self.skip_space();
            Ok(())
        } else if self.rest().starts_with("}}") {
            self.pos += 2;
            Ok(())
        } else {
            Err(self.err("comment ends before closing delimiter"))
        }
    }

    pub(super) fn ident_chars(&mut self) -> String {
        let n = self
            .rest()
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        let s = self.rest()[..n].to_owned();
        self.pos += n;
        s
    }

    /// `.A.B` after the current position (none if no dot follows).
    pub(super) fn chain(&mut self) -> Vec<String> {
        let mut chain = Vec::new();
        while self.rest().starts_with('.')
            && self.rest()[1..].starts_with(|c: char| c.is_alphabetic() || c == '_')
        {
            self.pos += 1;
            chain.push(self.ident_chars());
        }
        chain
    }

    /// The tokens of one action, with their positions, through its `}}`.
    pub(super) fn action_tokens(&mut self) -> Result<Vec<(Tok, usize, usize)>, Error> {
        let mut toks = Vec::new();
        loop {
            self.skip_space();
            let r = self.rest();
            if r.is_empty() {
                return Err(self.err("unclosed action"));
            }
            if r.starts_with("-}}") && self.src[..self.pos].ends_with([' ', '\t', '\n', '\r']) {
                self.pos += 3;
                self.skip_space();
                return Ok(toks);
            }
            if r.starts_with("}}") {
                self.pos += 2;
                return Ok(toks);
            }
            let start = self.pos;
            let c = r.chars().next().expect("not empty");
            let tok = match c {
                '|' => {
                    self.pos += 1;
                    Tok::Pipe
                }
                '(' => {
                    self.pos += 1;
                    Tok::Open
                }
                ')' => {
                    self.pos += 1;
                    Tok::Close(self.chain())
                }
                ',' => {
                    self.pos += 1;
                    Tok::Comma
                }
                ':' if r.starts_with(":=") => {
                    self.pos += 2;
                    Tok::Declare
                }
                '=' => {
                    self.pos += 1;
                    Tok::Assign
                }
                '.' => {
                    let chain = self.chain();
                    if chain.is_empty() {
                        self.pos += 1;
                        if self.rest().starts_with(|c: char| c.is_ascii_digit()) {
                            self.pos = start;
                            self.number()?
                        } else {
                            Tok::Dot
                        }
                    } else {
                        Tok::Field(chain)
                    }
                }
                '$' => {
                    self.pos += 1;
                    let name = format!("${}", self.ident_chars());
                    Tok::Var(name, self.chain())
                }
                '"' => Tok::Lit(Value::String(self.quoted()?)),
                '`' => {
                    let Some(end) = r[1..].find('`') else {
                        return Err(self.err("unterminated raw quoted string"));
                    };
                    self.pos += end + 2;
                    Tok::Lit(Value::String(r[1..end + 1].to_owned()))
                }
                '\'' => {
                    let mut it = r[1..].chars();
                    let ch = match it.next() {
                        Some('\\') => match it.next() {
                            Some('n') => '\n',
                            Some('t') => '\t',
                            Some(c) => c,
                            None => return Err(self.err("unterminated character constant")),
                        },
                        Some(c) => c,
                        None => return Err(self.err("unterminated character constant")),
                    };
                    let len = r[1..].len() - it.as_str().len() + 1;
                    if !r[len..].starts_with('\'') {
                        return Err(self.err("unterminated character constant"));
                    }
                    self.pos += len + 1;
                    Tok::Lit(Value::from(ch as u32))
                }
                c if c.is_ascii_digit() || c == '-' || c == '+' => self.number()?,
                c if c.is_alphabetic() || c == '_' => {
                    let w = self.ident_chars();
                    match w.as_str() {
                        "true" => Tok::Lit(Value::Bool(true)),
                        "false" => Tok::Lit(Value::Bool(false)),
                        "nil" => Tok::Lit(Value::Null),
                        _ => Tok::Ident(w),
                    }
                }
                c => return Err(self.err(&format!("unexpected {c:?} in command"))),
            };
            toks.push((tok, start, self.pos));
        }
    }

    pub(super) fn number(&mut self) -> Result<Tok, Error> {
        let r = self.rest();
        let n = r
            .char_indices()
            .find(|&(i, c)| {
                !(c.is_ascii_alphanumeric()
                    || c == '.'
                    || c == '_'
                    || (i == 0 && (c == '-' || c == '+'))
                    || ((c == '-' || c == '+') && r[..i].ends_with(['e', 'E'])))
            })
            .map_or(r.len(), |(i, _)| i);
        let text = r[..n].replace('_', "");
        self.pos += n;
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text.trim_start_matches('+')),
        };
        let int = if let Some(h) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
            i64::from_str_radix(h, 16).ok()
        } else if let Some(b) = digits.strip_prefix("0b") {
            i64::from_str_radix(b, 2).ok()
        } else if let Some(o) = digits.strip_prefix("0o") {
            i64::from_str_radix(o, 8).ok()
        } else {
            digits.parse::<i64>().ok()
        };
        if let Some(i) = int {
            return Ok(Tok::Lit(Value::from(if neg { -i } else { i })));
        }
        match text.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(f) => Ok(Tok::Lit(Value::Number(f))),
            None => Err(self.err(&format!("bad number syntax: {:?}", &r[..n]))),
        }
    }

    /// A double-quoted string with Go's escapes.
    pub(super) fn quoted(&mut self) -> Result<String, Error> {
        let mut out = String::new();
        let mut it = self.rest()[1..].char_indices();
        while let Some((i, c)) = it.next() {
            match c {
                '"' => {
                    self.pos += i + 2;
                    return Ok(out);
                }
                '\n' => break,
                '\\' => match it.next().map(|(_, c)| c) {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('a') => out.push('\x07'),
                    Some('b') => out.push('\x08'),
                    Some('f') => out.push('\x0c'),
                    Some('v') => out.push('\x0b'),
                    Some('0') => out.push('\0'),
                    Some(c @ ('\\' | '"' | '\'')) => out.push(c),
                    Some(c) => {
                        return Err(self.err(&format!("invalid syntax: unknown escape \\{c}")))
                    }
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err(self.err("unterminated quoted string"))
    }
}
