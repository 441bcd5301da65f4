//! Go's text/template for `--format`/`-f`, over the JSON documents rbox prints.
//!
//! The language as Go has it: text and `{{actions}}` with `{{-`/`-}}` trimming and
//! `{{/* comments */}}`; pipelines (`a | b`), parenthesized pipelines, field chains
//! (`.A.B`, `$x.A`, `(…).A`), variables (`$x := …`, `$x = …`, `$`), `if`/`else if`/`else`,
//! `range` (with `$i, $e :=`, `else`, `break`, `continue`), `with`/`else`; Go's builtins
//! (`and or not len index slice print printf println eq ne lt le gt ge`) and docker's
//! (`json split join title lower upper pad truncate`). Values are `serde_json::Value`s and
//! print as Go's `fmt` prints the decoded document: `[a b]`, `map[k:v]` (keys sorted),
//! `<nil>` inside them, `<no value>` for a null printed on its own.
//!
//! Docker's inspect documents are structs: a field that isn't there is an error
//! (`map has no entry for key "X"`), as docker's raw fallback says; under the fields that
//! are Go maps in docker's types (`Labels`, `Networks`, `Ports`, … [`MAP_FIELDS`]) a
//! missing key is `<no value>`, as there. A row of a listing may have methods (docker's
//! `.Label "k"`), given to [`Template::execute`]. Not supported: `define`, `template`,
//! `block` (a parse error says so) and the `html`, `js`, `urlquery`, `call` functions.
//!
//! Not the gtmpl crate (0.7.1): it prints lists and maps with Rust's `Debug` form and maps
//! in hash order, prints nil as `nil`, runs `range`'s `else` after a non-empty range,
//! returns `<no value>` for a missing field, and takes functions as bare `fn` pointers, so
//! neither docker's printing, nor its errors, nor per-row methods can be had from it.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// A template that failed to parse or to execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Go's parse error, `template: :LINE: MESSAGE`.
    Parse(String),
    /// Go's execution error, `template: :LINE:COL: executing "" at <NODE>: MESSAGE`.
    Exec(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Parse(m) => write!(f, "template parsing error: {m}"),
            Error::Exec(m) => f.write_str(m),
        }
    }
}

/// A row's methods (`.Label "k"`): called for a field a map doesn't have, with its
/// arguments; `None` if there is no such method.
pub type Methods<'a> = &'a dyn Fn(&str, &[Value]) -> Option<Result<Value, String>>;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    src: String,
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    Break,
    Continue,
}

#[derive(Debug, Clone)]
struct Pipe {
    decl: Vec<String>,
    assign: bool,
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct Cmd {
    pos: usize,
    text: String,
    args: Vec<Arg>,
}

#[derive(Debug, Clone)]
enum ArgKind {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Lit(Value),
    Sub(Box<Pipe>, Vec<String>),
}

#[derive(Debug, Clone)]
struct Arg {
    pos: usize,
    text: String,
    kind: ArgKind,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Ident(String),
    Lit(Value),
    Pipe,
    Open,
    Close(Vec<String>),
    Declare,
    Assign,
    Comma,
}

const BUILTINS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
];

/// `\t` and `\n` written as two characters become a tab and a newline, as docker's CLI
/// reads a listing's `--format` (not inspect's).
pub fn unescape(format: &str) -> String {
    format.replace("\\t", "\t").replace("\\n", "\n")
}

impl Template {
    /// Parses `src` as Go's text/template does.
    pub fn parse(src: &str) -> Result<Template, Error> {
        let src = src.to_owned();
        let mut p = Parser {
            src: &src,
            pos: 0,
            vars: vec!["$".into()],
            depth: 0,
            range_depth: 0,
        };
        let (nodes, end) = p.list()?;
        if let Some(e) = end {
            return Err(p.err(&format!("unexpected {{{{{e}}}}}")));
        }
        Ok(Template {
            src: src.clone(),
            nodes,
        })
    }

    /// Runs the template on `data`.
    pub fn execute(&self, data: &Value, methods: Option<Methods>) -> Result<String, Error> {
        let mut ex = Exec {
            src: &self.src,
            vars: vec![("$".into(), data.clone())],
            methods,
            header: false,
            out: String::new(),
        };
        ex.list(&self.nodes, data).map_err(Error::Exec)?;
        Ok(ex.out)
    }

    /// Runs the template on a table's header: `headers` maps each field to its title, a field
    /// it lacks is the field's name in capitals, docker's functions give back their first
    /// argument, and what fails leaves what was written so far (as docker's header).
    pub fn execute_header(&self, headers: &Value) -> String {
        let mut ex = Exec {
            src: &self.src,
            vars: vec![("$".into(), headers.clone())],
            methods: None,
            header: true,
            out: String::new(),
        };
        let _ = ex.list(&self.nodes, headers);
        ex.out
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    vars: Vec<String>,
    depth: usize,
    range_depth: usize,
}

/// What ended a list: `end`, `else`, or `else if …`/`else with …`.
enum End {
    Plain,
    Else,
    ElseChain(String, Pipe),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Plain => f.write_str("end"),
            _ => f.write_str("else"),
        }
    }
}

impl<'a> Parser<'a> {
    fn line(&self, pos: usize) -> usize {
        1 + self.src[..pos.min(self.src.len())].matches('\n').count()
    }

    fn err(&self, msg: &str) -> Error {
        Error::Parse(format!("template: :{}: {msg}", self.line(self.pos)))
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    /// Nodes up to the end of the input or an `end`/`else` (returned).
    fn list(&mut self) -> Result<(Vec<Node>, Option<End>), Error> {
        let mut nodes = Vec::new();
        loop {
            let Some(open) = self.rest().find("{{") else {
                let t = self.rest().to_owned();
                if !t.is_empty() {
                    nodes.push(Node::Text(t));
                }
                self.pos = self.src.len();
                return Ok((nodes, None));
            };
            let mut text = self.rest()[..open].to_owned();
            self.pos += open + 2;
            let r = self.rest();
            if r.starts_with('-') && r[1..].starts_with([' ', '\t', '\n', '\r']) {
                text.truncate(text.trim_end().len());
                self.pos += 1;
            }
            if !text.is_empty() {
                nodes.push(Node::Text(text));
            }
            self.skip_space();
            if self.rest().starts_with("/*") {
                let Some(end) = self.rest().find("*/") else {
                    return Err(self.err("unclosed comment"));
                };
                self.pos += end + 2;
                self.close_action()?;
                continue;
            }
            let start = self.pos;
            let toks = self.action_tokens()?;
            let word = match toks.first() {
                Some((Tok::Ident(w), ..))
                    if matches!(
                        w.as_str(),
                        "end" | "else" | "if" | "range" | "with" | "break" | "continue"
                    ) =>
                {
                    w.clone()
                }
                Some((Tok::Ident(w), ..))
                    if matches!(w.as_str(), "define" | "template" | "block") =>
                {
                    return Err(self.err(&format!("{{{{{w}}}}} is not supported")))
                }
                _ => {
                    nodes.push(Node::Action(self.pipe(&toks, start, false)?));
                    continue;
                }
            };
            if matches!(word.as_str(), "end" | "break" | "continue") && toks.len() > 1 {
                return Err(self.err(&format!(
                    "unexpected {:?} in {word}",
                    &self.src[toks[1].1..toks[1].2]
                )));
            }
            match word.as_str() {
                "end" => {
                    if self.depth == 0 {
                        return Err(self.err("unexpected {{end}}"));
                    }
                    return Ok((nodes, Some(End::Plain)));
                }
                "else" => {
                    if self.depth == 0 {
                        return Err(self.err("unexpected {{else}}"));
                    }
                    if toks.len() == 1 {
                        return Ok((nodes, Some(End::Else)));
                    }
                    let Some((Tok::Ident(kw), ..)) = toks.get(1) else {
                        return Err(self.err("unexpected token in else"));
                    };
                    if kw != "if" && kw != "with" {
                        return Err(self.err(&format!("unexpected {kw:?} in else")));
                    }
                    let kw = kw.clone();
                    let pipe = self.pipe(&toks[2..], start, true)?;
                    return Ok((nodes, Some(End::ElseChain(kw, pipe))));
                }
                "break" | "continue" => {
                    if self.range_depth == 0 {
                        return Err(self.err(&format!("{{{{{word}}}}} outside {{{{range}}}}")));
                    }
                    nodes.push(if word == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    });
                }
                kw => {
                    if toks.len() == 1 {
                        return Err(self.err(&format!("missing value for {kw}")));
                    }
                    let mark = self.vars.len();
                    let pipe = self.pipe(&toks[1..], start, true)?;
                    nodes.push(self.control(kw, pipe, mark)?);
                }
            }
        }
    }

    /// The body and else of `if`/`range`/`with` whose pipeline is parsed (its variables
    /// declared after `mark`).
    fn control(&mut self, kw: &str, pipe: Pipe, mark: usize) -> Result<Node, Error> {
        self.depth += 1;
        if kw == "range" {
            self.range_depth += 1;
        }
        let (body, end) = self.list()?;
        if kw == "range" {
            self.range_depth -= 1;
        }
        let els = match end {
            None => return Err(self.err("unexpected EOF")),
            Some(End::Plain) => Vec::new(),
            // The pipeline's variables are seen in the else branch too, as Go's.
            Some(End::Else) => {
                let (els, end) = self.list()?;
                match end {
                    Some(End::Plain) => els,
                    None => return Err(self.err("unexpected EOF")),
                    Some(_) => return Err(self.err("expected end; found {{else}}")),
                }
            }
            Some(End::ElseChain(kw2, pipe2)) => {
                // `{{else if x}}…{{end}}` is `{{else}}{{if x}}…{{end}}{{end}}`.
                self.depth -= 1;
                let inner_mark = self.vars.len() - if pipe2.assign { 0 } else { pipe2.decl.len() };
                let inner = self.control(&kw2, pipe2, inner_mark)?;
                self.depth += 1;
                vec![inner]
            }
        };
        self.depth -= 1;
        self.vars.truncate(mark);
        Ok(match kw {
            "if" => Node::If(pipe, body, els),
            "range" => Node::Range(pipe, body, els),
            _ => Node::With(pipe, body, els),
        })
    }

    fn skip_space(&mut self) {
        let n = self.rest().len() - self.rest().trim_start().len();
        self.pos += n;
    }

    /// After a comment: `}}` or ` -}}`.
    fn close_action(&mut self) -> Result<(), Error> {
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

    fn ident_chars(&mut self) -> String {
        let n = self
            .rest()
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        let s = self.rest()[..n].to_owned();
        self.pos += n;
        s
    }

    /// `.A.B` after the current position (none if no dot follows).
    fn chain(&mut self) -> Vec<String> {
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
    fn action_tokens(&mut self) -> Result<Vec<(Tok, usize, usize)>, Error> {
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

    fn number(&mut self) -> Result<Tok, Error> {
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
    fn quoted(&mut self) -> Result<String, Error> {
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

    /// A pipeline from tokens: `[$a[, $b] :=|=] cmd | cmd …`.
    fn pipe(
        &mut self,
        toks: &[(Tok, usize, usize)],
        start: usize,
        control: bool,
    ) -> Result<Pipe, Error> {
        let mut decl = Vec::new();
        let mut assign = false;
        let mut rest = toks;
        // `$x :=`, `$x =`, or `$i, $e :=` (range).
        let names: Vec<String> = match rest {
            [(Tok::Var(a, ca), ..), (Tok::Comma, ..), (Tok::Var(b, cb), ..), (Tok::Declare | Tok::Assign, ..), ..]
                if ca.is_empty() && cb.is_empty() =>
            {
                vec![a.clone(), b.clone()]
            }
            [(Tok::Var(a, ca), ..), (Tok::Declare | Tok::Assign, ..), ..] if ca.is_empty() => {
                vec![a.clone()]
            }
            _ => Vec::new(),
        };
        if !names.is_empty() {
            let op = &rest[names.len() * 2 - 1].0;
            assign = *op == Tok::Assign;
            rest = &rest[names.len() * 2..];
            if assign {
                for n in &names {
                    if !self.vars.contains(n) {
                        return Err(self.err(&format!("undefined variable {n:?}")));
                    }
                }
            }
            decl = names;
        }
        if rest.is_empty() {
            return Err(self.err(if control {
                "missing value for control"
            } else {
                "missing value for command"
            }));
        }
        let mut cmds = Vec::new();
        let (mut depth, mut from) = (0i32, 0);
        for (i, t) in rest.iter().enumerate() {
            match t.0 {
                Tok::Open => depth += 1,
                Tok::Close(_) => depth -= 1,
                Tok::Pipe if depth == 0 => {
                    cmds.push(self.cmd(&rest[from..i], start)?);
                    from = i + 1;
                }
                _ => {}
            }
        }
        cmds.push(self.cmd(&rest[from..], start)?);
        if !assign {
            self.vars.extend(decl.iter().cloned());
        }
        Ok(Pipe { decl, assign, cmds })
    }

    fn cmd(&mut self, toks: &[(Tok, usize, usize)], start: usize) -> Result<Cmd, Error> {
        let Some(first) = toks.first() else {
            return Err(self.err("missing value for command"));
        };
        let end = toks.last().map_or(start, |t| t.2);
        let src = self.src;
        let mut args = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let (tok, s, e) = &toks[i];
            let arg = |kind| Arg {
                pos: *s,
                text: src[*s..*e].to_owned(),
                kind,
            };
            let a = match tok {
                Tok::Dot => arg(ArgKind::Dot),
                Tok::Field(c) => arg(ArgKind::Field(c.clone())),
                Tok::Var(v, c) => {
                    if !self.vars.contains(v) {
                        return Err(self.err(&format!("undefined variable {v:?}")));
                    }
                    arg(ArgKind::Var(v.clone(), c.clone()))
                }
                Tok::Ident(f) => {
                    if !BUILTINS.contains(&f.as_str()) {
                        return Err(self.err(&format!("function {f:?} not defined")));
                    }
                    arg(ArgKind::Func(f.clone()))
                }
                Tok::Lit(v) => arg(ArgKind::Lit(v.clone())),
                Tok::Open => {
                    // Up to the matching `)`.
                    let mut depth = 0;
                    let mut j = i;
                    let close = loop {
                        match toks.get(j).map(|t| &t.0) {
                            Some(Tok::Open) => depth += 1,
                            Some(Tok::Close(_)) => {
                                depth -= 1;
                                if depth == 0 {
                                    break j;
                                }
                            }
                            Some(_) => {}
                            None => return Err(self.err("unclosed left paren")),
                        }
                        j += 1;
                    };
                    let Tok::Close(chain) = &toks[close].0 else {
                        unreachable!("a close paren")
                    };
                    let mark = self.vars.len();
                    let inner = self.pipe(&toks[i + 1..close], *s, false)?;
                    self.vars.truncate(mark);
                    let a = Arg {
                        pos: *s,
                        text: self.src[*s..toks[close].2].to_owned(),
                        kind: ArgKind::Sub(Box::new(inner), chain.clone()),
                    };
                    i = close;
                    a
                }
                Tok::Close(_) => return Err(self.err("unexpected right paren")),
                Tok::Declare | Tok::Assign | Tok::Comma | Tok::Pipe => {
                    return Err(self.err(&format!("unexpected {:?} in operand", &self.src[*s..*e])))
                }
            };
            args.push(a);
            i += 1;
        }
        let plain = match &args[0].kind {
            ArgKind::Lit(_) | ArgKind::Dot => true,
            ArgKind::Var(_, c) => c.is_empty(),
            _ => false,
        };
        if args.len() > 1 && plain {
            return Err(self.err(&format!(
                "can't give argument to non-function {}",
                args[0].text
            )));
        }
        Ok(Cmd {
            pos: first.1,
            text: self.src[first.1..end].to_owned(),
            args,
        })
    }
}

/// How a list of nodes ended.
enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'a> {
    src: &'a str,
    vars: Vec<(String, Value)>,
    methods: Option<Methods<'a>>,
    header: bool,
    out: String,
}

impl Exec<'_> {
    fn fail(&self, pos: usize, node: &str, msg: &str) -> String {
        let before = &self.src[..pos.min(self.src.len())];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(nl) => pos - nl - 1,
            None => pos,
        };
        format!("template: :{line}:{col}: executing \"\" at <{node}>: {msg}")
    }

    fn list(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, String> {
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        let s = print_top(&v);
                        self.out.push_str(&s);
                    }
                }
                Node::If(p, body, els) | Node::With(p, body, els) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot)?;
                    let flow = if truth(&v) {
                        let d = if matches!(n, Node::With(..)) { &v } else { dot };
                        self.list(body, d)?
                    } else {
                        self.list(els, dot)?
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(p, body, els) => {
                    let mark = self.vars.len();
                    let v = self.pipe_value(p, dot)?;
                    let items: Box<dyn Iterator<Item = (Value, Value)>> = match v {
                        Value::Array(a) => {
                            Box::new(a.into_iter().enumerate().map(|(i, e)| (Value::from(i), e)))
                        }
                        Value::Object(m) => {
                            Box::new(m.into_iter().map(|(k, e)| (Value::String(k), e)))
                        }
                        Value::Null => Box::new(std::iter::empty()),
                        Value::Number(n) if n.as_i64().is_some() => Box::new(
                            (0..n.as_i64().unwrap_or(0)).map(|i| (Value::from(i), Value::from(i))),
                        ),
                        other => {
                            let c = &p.cmds[0];
                            return Err(self.fail(
                                c.pos,
                                &c.text,
                                &format!("range can't iterate over {}", go_print(&other)),
                            ));
                        }
                    };
                    let mut empty = true;
                    for (k, e) in items {
                        empty = false;
                        self.vars.truncate(mark);
                        match p.decl.len() {
                            1 => self.set(&p.decl[0], e.clone(), p.assign),
                            2 => {
                                self.set(&p.decl[0], k, p.assign);
                                self.set(&p.decl[1], e.clone(), p.assign);
                            }
                            _ => {}
                        }
                        let inner = self.vars.len();
                        let flow = self.list(body, &e)?;
                        self.vars.truncate(inner);
                        if matches!(flow, Flow::Break) {
                            break;
                        }
                    }
                    if empty {
                        self.list(els, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn set(&mut self, name: &str, v: Value, assign: bool) {
        if assign {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v;
            }
        } else {
            self.vars.push((name.to_owned(), v));
        }
    }

    /// A pipeline's value, its variables set.
    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value, String> {
        let v = self.pipe_value(p, dot)?;
        if let Some(name) = p.decl.first() {
            self.set(name, v.clone(), p.assign);
        }
        Ok(v)
    }

    /// A pipeline's value without setting its variables (range sets them per element).
    fn pipe_value(&mut self, p: &Pipe, dot: &Value) -> Result<Value, String> {
        let mut last: Option<Value> = None;
        for c in &p.cmds {
            last = Some(self.cmd(c, dot, last)?);
        }
        Ok(last.unwrap_or(Value::Null))
    }

    fn cmd(&mut self, c: &Cmd, dot: &Value, piped: Option<Value>) -> Result<Value, String> {
        let first = &c.args[0];
        match &first.kind {
            ArgKind::Func(name) => {
                let name = name.clone();
                if name == "and" || name == "or" {
                    let mut v = Value::Null;
                    let n = c.args.len() - 1 + usize::from(piped.is_some());
                    if n == 0 {
                        return Err(self.fail(
                            c.pos,
                            &c.text,
                            &format!("wrong number of args for {name}: want at least 1 got 0"),
                        ));
                    }
                    for a in &c.args[1..] {
                        v = self.arg(a, dot)?;
                        if truth(&v) == (name == "or") {
                            return Ok(v);
                        }
                    }
                    if let Some(p) = piped {
                        v = p;
                    }
                    return Ok(v);
                }
                let mut args = Vec::new();
                for a in &c.args[1..] {
                    args.push(self.arg(a, dot)?);
                }
                args.extend(piped);
                if self.header && HEADER_FUNCS.contains(&name.as_str()) {
                    return Ok(args.into_iter().next().unwrap_or(Value::Null));
                }
                call(&name, &args).map_err(|m| self.fail(c.pos, &c.text, &m))
            }
            ArgKind::Field(chain) if c.args.len() > 1 || piped.is_some() => {
                let mut args = Vec::new();
                for a in &c.args[1..] {
                    args.push(self.arg(a, dot)?);
                }
                args.extend(piped);
                self.chain(dot, chain, first, &args)
            }
            _ => {
                if piped.is_some() {
                    return Err(self.fail(
                        c.pos,
                        &c.text,
                        &format!("can't give argument to non-function {}", first.text),
                    ));
                }
                self.arg(first, dot)
            }
        }
    }

    fn arg(&mut self, a: &Arg, dot: &Value) -> Result<Value, String> {
        match &a.kind {
            ArgKind::Dot => Ok(dot.clone()),
            ArgKind::Field(chain) => self.chain(dot, chain, a, &[]),
            ArgKind::Var(name, chain) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or(Value::Null);
                self.chain(&v, chain, a, &[])
            }
            ArgKind::Func(name) => {
                if name == "and" || name == "or" {
                    return Err(self.fail(
                        a.pos,
                        &a.text,
                        &format!("wrong number of args for {name}: want at least 1 got 0"),
                    ));
                }
                if self.header && HEADER_FUNCS.contains(&name.as_str()) {
                    return Ok(Value::Null);
                }
                call(name, &[]).map_err(|m| self.fail(a.pos, &a.text, &m))
            }
            ArgKind::Lit(v) => Ok(v.clone()),
            ArgKind::Sub(p, chain) => {
                let mark = self.vars.len();
                let v = self.pipe(p, dot)?;
                self.vars.truncate(mark);
                self.chain(&v, chain, a, &[])
            }
        }
    }

    /// `.A.B` from `v`; the last field is called as a method with `args` if there are any.
    fn chain(
        &self,
        v: &Value,
        chain: &[String],
        node: &Arg,
        args: &[Value],
    ) -> Result<Value, String> {
        let mut v = v.clone();
        // The key `v` was reached by, and whether a map had no entry on the way.
        let mut via: Option<&str> = None;
        let mut missing = false;
        for (i, name) in chain.iter().enumerate() {
            let last = i + 1 == chain.len();
            let in_map = via.is_some_and(|k| MAP_FIELDS.contains(&k));
            via = Some(name);
            if missing {
                continue;
            }
            v = match &v {
                // A Go map lacking the key, or nil: no value, and none further down.
                Value::Object(m) if in_map && !m.contains_key(name) && args.is_empty() => {
                    missing = true;
                    Value::Null
                }
                Value::Null if in_map => {
                    missing = true;
                    Value::Null
                }
                Value::Object(m) => {
                    match m.get(name) {
                        Some(_) if !args.is_empty() && last => {
                            return Err(self.fail(
                                node.pos,
                                &node.text,
                                &format!("{name} is not a method but has arguments"),
                            ));
                        }
                        Some(x) => x.clone(),
                        None => {
                            if let Some(r) = self.methods.and_then(|f| f(name, args)) {
                                if !last {
                                    return Err(self.fail(node.pos, &node.text, &format!("{name} has arguments but cannot be invoked as function")));
                                }
                                return r.map_err(|m| {
                                    self.fail(
                                        node.pos,
                                        &node.text,
                                        &format!("error calling {name}: {m}"),
                                    )
                                });
                            }
                            if self.header {
                                Value::String(name.to_uppercase())
                            } else if OPTIONAL_FIELDS.contains(&name.as_str()) {
                                Value::Null
                            } else {
                                return Err(self.fail(
                                    node.pos,
                                    &node.text,
                                    &format!("map has no entry for key {name:?}"),
                                ));
                            }
                        }
                    }
                }
                Value::Null => {
                    return Err(self.fail(
                        node.pos,
                        &node.text,
                        &format!("nil pointer evaluating interface {{}}.{name}"),
                    ))
                }
                other => {
                    return Err(self.fail(
                        node.pos,
                        &node.text,
                        &format!("can't evaluate field {name} in type {}", go_type(other)),
                    ))
                }
            };
        }
        Ok(v)
    }
}

/// The fields of docker's documents that are Go maps, not structs: a key they lack is no
/// value (`{{.Config.Labels.nope}}`), as docker prints it, where a struct's missing field
/// is an error.
const MAP_FIELDS: &[&str] = &[
    "Labels",
    "ExposedPorts",
    "Volumes",
    "Networks",
    "Ports",
    "PortBindings",
    "Options",
    "Containers",
    "Sysctls",
    "StorageOpt",
    "Tmpfs",
    "Data",
    "DriverOpts",
    "Annotations",
];

/// Fields of docker's structs that its JSON leaves out when empty (`omitempty`): one
/// a document lacks is a nil or empty field there, no value here, not an error.
const OPTIONAL_FIELDS: &[&str] = &[
    "Health",
    "Healthcheck",
    "StopSignal",
    "StopTimeout",
    "ExposedPorts",
    "Shell",
    "ArgsEscaped",
    "MacAddress",
    "SizeRw",
    "SizeRootFs",
    "Node",
];

/// Docker's functions that give a table's header back as it is (`pad` pads it, to keep
/// the columns).
const HEADER_FUNCS: &[&str] = &[
    "json", "split", "join", "title", "lower", "upper", "truncate",
];

/// Go's type name of a decoded JSON value, for messages.
fn go_type(v: &Value) -> &'static str {
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
fn truth(v: &Value) -> bool {
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
fn print_top(v: &Value) -> String {
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

fn write_go(out: &mut String, v: &Value) {
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

fn go_number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => go_float(f, None, 'g'),
        _ => n.to_string(),
    }
}

/// A float as Go's `%v`/`%g` (shortest digits, exponent below 1e-4 or from 1e21 for `%v`),
/// `%e` and `%f` with a precision.
fn go_float(f: f64, prec: Option<usize>, verb: char) -> String {
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
fn go_exp(rust: &str) -> String {
    let (m, e) = rust.split_once('e').expect("an exponent");
    let (sign, digits) = match e.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', e),
    };
    format!("{m}e{sign}{digits:0>2}")
}

fn want(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

/// A string argument; other values as Go's `%v` prints them.
fn text(v: &Value) -> String {
    go_print(v)
}

fn int_arg(name: &str, v: &Value) -> Result<i64, String> {
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
fn call(name: &str, args: &[Value]) -> Result<Value, String> {
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
fn compare(a: &Value, b: &Value, equality: bool) -> Result<Option<std::cmp::Ordering>, String> {
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

/// Go's `fmt.Sprintf` for the verbs a format uses: `%v %s %d %q %t %f %e %g %x %X %c %%`
/// with flags `-+0 ` and width and precision.
fn sprintf(f: &str, args: &[Value]) -> String {
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

/// An object from pairs, for rows.
pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v))
            .collect::<Map<_, _>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(t: &str, v: &Value) -> String {
        Template::parse(t)
            .unwrap_or_else(|e| panic!("{t}: {e}"))
            .execute(v, None)
            .unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    fn exec_err(t: &str, v: &Value) -> String {
        Template::parse(t)
            .unwrap()
            .execute(v, None)
            .unwrap_err()
            .to_string()
    }

    fn doc() -> Value {
        json!({
            "Id": "abc",
            "Name": "/web",
            "Config": {"Labels": {"x": "1", "a.b": "two"}, "Env": ["A=1", "B=2"], "Cmd": null},
            "Mounts": [{"Source": "/s1", "Destination": "/d1"}, {"Source": "/s2", "Destination": "/d2"}],
            "State": {"Pid": 42, "Running": true, "ExitCode": 0, "Health": null},
            "Ratio": 0.25,
            "Big": 1e21,
            "Empty": [],
        })
    }

    #[test]
    fn fields_and_printing() {
        let v = doc();
        assert_eq!(run("{{.Name}} {{ .State.Pid }}", &v), "/web 42");
        assert_eq!(run("{{.Config.Env}}", &v), "[A=1 B=2]");
        assert_eq!(run("{{.Config.Labels}}", &v), "map[a.b:two x:1]");
        assert_eq!(
            run("{{.Mounts}}", &v),
            "[map[Destination:/d1 Source:/s1] map[Destination:/d2 Source:/s2]]"
        );
        assert_eq!(
            run("{{.State.Running}} {{.Ratio}} {{.Big}}", &v),
            "true 0.25 1e+21"
        );
        assert_eq!(run("{{.Config.Cmd}}", &v), "<no value>");
        assert_eq!(run("{{print .Config.Cmd}} {{.Empty}}", &v), "<nil> []");
        assert_eq!(run(&unescape("a\\tb\\nc"), &v), "a\tb\nc");
        assert_eq!(run("a\\tb", &v), "a\\tb");
        assert_eq!(run("{{.}}", &json!("s")), "s");
    }

    #[test]
    fn range_if_with_and_variables() {
        let v = doc();
        assert_eq!(run("{{range .Mounts}}{{.Source}}{{end}}", &v), "/s1/s2");
        assert_eq!(
            run(
                "{{range $i, $m := .Mounts}}{{$i}}={{$m.Destination}} {{end}}",
                &v
            ),
            "0=/d1 1=/d2 "
        );
        assert_eq!(
            run(
                "{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}};{{end}}",
                &v
            ),
            "a.b:two;x:1;"
        );
        assert_eq!(run("{{range .Empty}}x{{else}}none{{end}}", &v), "none");
        assert_eq!(
            run(
                "{{range .Config.Env}}{{if eq . \"B=2\"}}{{break}}{{end}}{{.}} {{end}}",
                &v
            ),
            "A=1 "
        );
        assert_eq!(
            run(
                "{{range .Config.Env}}{{if eq . \"A=1\"}}{{continue}}{{end}}{{.}}{{end}}",
                &v
            ),
            "B=2"
        );
        assert_eq!(run("{{if .State.Running}}up{{else}}down{{end}}", &v), "up");
        assert_eq!(
            run("{{if eq .State.ExitCode 1}}one{{else if eq .State.ExitCode 0}}zero{{else}}other{{end}}", &v),
            "zero"
        );
        assert_eq!(run("{{with .State}}{{.Pid}}{{end}}", &v), "42");
        assert_eq!(run("{{with .Empty}}x{{else}}empty{{end}}", &v), "empty");
        assert_eq!(
            run("{{if $e := .Empty}}x{{else}}{{len $e}}{{end}}", &v),
            "0"
        );
        assert_eq!(
            run("{{$n := .Name}}{{range .Mounts}}{{$n}}{{end}}", &v),
            "/web/web"
        );
        assert_eq!(
            run("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", &v),
            "2"
        );
        assert_eq!(run("{{range .Mounts}}{{$.Id}}{{end}}", &v), "abcabc");
        assert_eq!(run("{{- \"a\" }}  \n  {{- \"b\" -}}  c", &v), "abc");
        assert_eq!(run("x{{/* a comment */}}y", &v), "xy");
        assert_eq!(run("{{range 3}}{{.}}{{end}}", &v), "012");
        assert_eq!(
            run(
                "{{$n := 0}}{{range $i, $e := .Mounts}}{{$n = $i}}{{end}}{{$n}}",
                &v
            ),
            "1"
        );
    }

    #[test]
    fn functions() {
        let v = doc();
        assert_eq!(run("{{index .Config.Labels \"x\"}}", &v), "1");
        assert_eq!(run("{{index .Config.Labels \"nope\"}}|", &v), "|");
        assert_eq!(run("{{index .Mounts 1 \"Source\"}}", &v), "/s2");
        assert_eq!(
            run("{{json .Config.Labels}}", &v),
            r#"{"a.b":"two","x":"1"}"#
        );
        assert_eq!(
            run("{{json .Name}} {{json .Config.Cmd}}", &v),
            r#""/web" null"#
        );
        assert_eq!(
            run(
                "{{upper .Name}} {{lower \"AB\"}} {{title \"hello big-world o'neil\"}}",
                &v
            ),
            "/WEB ab Hello Big-World O'Neil"
        );
        assert_eq!(run("{{printf \"%s-%d-%5.2f|%-4s|%q|%v\" .Name .State.Pid .Ratio \"ab\" \"q\" .Config.Env}}", &v), "/web-42- 0.25|ab  |\"q\"|[A=1 B=2]");
        assert_eq!(
            run("{{printf \"%03d %x %t %%\" 7 255 true}}", &v),
            "007 ff true %"
        );
        assert_eq!(run("{{printf \"%d\"}}", &v), "%!d(MISSING)");
        assert_eq!(
            run("{{printf \"%s %d\" 5 \"x\"}}", &v),
            "%!s(int=5) %!d(string=x)"
        );
        assert_eq!(
            run("{{len .Mounts}} {{len .Name}} {{len .Config.Labels}}", &v),
            "2 4 2"
        );
        assert_eq!(run("{{join .Config.Env \",\"}}", &v), "A=1,B=2");
        assert_eq!(
            run(
                "{{split \"a:b:c\" \":\"}} {{len (split \"a:b\" \":\")}}",
                &v
            ),
            "[a b c] 2"
        );
        assert_eq!(
            run("[{{pad .Name 1 2}}] [{{pad \"\" 1 2}}]", &v),
            "[ /web  ] []"
        );
        assert_eq!(run("{{truncate .Id 2}} {{truncate .Id 10}}", &v), "ab abc");
        assert_eq!(run("{{println .Name 1}}", &v), "/web 1\n");
        assert_eq!(run("{{print \"a\" 1 2 \"b\"}}", &v), "a1 2b");
        assert_eq!(run("{{.Name | upper | printf \"<%s>\"}}", &v), "</WEB>");
        assert_eq!(run("{{(index .Mounts 0).Source}}", &v), "/s1");
        assert_eq!(
            run("{{slice .Id 1}} {{slice .Config.Env 0 1}}", &v),
            "bc [A=1]"
        );
        assert_eq!(
            run(
                "{{and .State.Running .Name}} {{or .Empty \"dflt\"}} {{not .Empty}}",
                &v
            ),
            "/web dflt true"
        );
        assert_eq!(
            run("{{eq .Name \"x\" \"/web\"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2}}", &v),
            "true true true true true false"
        );
    }

    #[test]
    fn methods() {
        let m = |name: &str, args: &[Value]| match (name, args) {
            ("Label", [Value::String(k)]) => Some(Ok(Value::String(format!("<{k}>")))),
            _ => None,
        };
        let t = Template::parse("{{.Label \"com.x\"}} {{.Names}}").unwrap();
        assert_eq!(
            t.execute(&json!({"Names": "web"}), Some(&m)).unwrap(),
            "<com.x> web"
        );
    }

    #[test]
    fn errors_read_like_gos() {
        let v = doc();
        assert_eq!(
            exec_err("{{.Nope}}", &v),
            r#"template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope""#
        );
        assert_eq!(
            exec_err("ab\n {{.Config.Nope}}", &v),
            r#"template: :2:3: executing "" at <.Config.Nope>: map has no entry for key "Nope""#
        );
        assert_eq!(
            exec_err("{{.State.Health.Status}}", &v),
            r#"template: :1:2: executing "" at <.State.Health.Status>: nil pointer evaluating interface {}.Status"#
        );
        assert!(exec_err("{{.Name.X}}", &v).contains("can't evaluate field X in type string"));
        // A field docker's JSON omits when empty is no value; below it, nil.
        assert_eq!(run("{{.State.Healthcheck}}", &v), "<no value>");
        // A Go map (docker's labels) lacking a key is no value, not an error.
        assert_eq!(
            run(
                "{{.Config.Labels.x}} {{.Config.Labels.nope}} {{.Config.Labels.nope.y}}",
                &v
            ),
            "1 <no value> <no value>"
        );
        assert_eq!(
            run(
                "{{.NetworkSettings.Networks.none}}",
                &json!({"NetworkSettings": {"Networks": null}})
            ),
            "<no value>"
        );
        assert!(exec_err("{{index .Mounts 5}}", &v)
            .contains("at <index .Mounts 5>: error calling index: index out of range: 5"));
        assert!(exec_err("{{eq .Name 1}}", &v).contains("incompatible types for comparison"));
        assert!(
            exec_err("{{join .Name}}", &v).contains("wrong number of args for join: want 2 got 1")
        );
        for (t, msg) in [
            (
                "{{.Name",
                "template parsing error: template: :1: unclosed action",
            ),
            (
                "{{nope .Name}}",
                "template parsing error: template: :1: function \"nope\" not defined",
            ),
            (
                "{{range .Mounts}}",
                "template parsing error: template: :1: unexpected EOF",
            ),
            (
                "{{end}}",
                "template parsing error: template: :1: unexpected {{end}}",
            ),
            (
                "{{$x}}",
                "template parsing error: template: :1: undefined variable \"$x\"",
            ),
            (
                "a\n{{\"x}}",
                "template parsing error: template: :2: unterminated quoted string",
            ),
            (
                "{{else}}",
                "template parsing error: template: :1: unexpected {{else}}",
            ),
            (
                "{{break}}",
                "template parsing error: template: :1: {{break}} outside {{range}}",
            ),
            (
                "{{if}}{{end}}",
                "template parsing error: template: :1: missing value for if",
            ),
        ] {
            assert_eq!(Template::parse(t).unwrap_err().to_string(), msg, "{t}");
        }
    }

    #[test]
    fn headers() {
        let t = Template::parse(
            "{{.ID}}\t{{.Names | upper}}\t{{json .Labels}}\t{{.Other}}|{{pad .ID 1 1}}",
        )
        .unwrap();
        let h = json!({"ID": "CONTAINER ID", "Names": "NAMES", "Labels": "LABELS"});
        assert_eq!(
            t.execute_header(&h),
            "CONTAINER ID\tNAMES\tLABELS\tOTHER| CONTAINER ID "
        );
    }

    #[test]
    fn no_input_panics() {
        // Templates glued from pieces by a fixed pseudo-random sequence: each parses or
        // fails, and runs or fails, without a panic.
        let pieces = [
            "{{",
            "}}",
            "{{-",
            "-}}",
            " ",
            ".",
            ".Name",
            ".Mounts",
            "$",
            "$x",
            ":=",
            "=",
            "|",
            "(",
            ")",
            ",",
            "\"",
            "`",
            "'é'",
            "é",
            "range",
            "if",
            "else",
            "end",
            "with",
            "break",
            "index",
            "len",
            "printf",
            "\"%d %s %5.1f %q\"",
            "slice",
            "-1",
            "1.5e3",
            "0x1f",
            "nil",
            "true",
            "/*",
            "*/",
            "\n",
            "eq",
            "and",
            "or",
            "not",
            "json",
            "split",
            "join",
            "pad",
            "truncate",
            "\"a\\\"b\"",
        ];
        let v = doc();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let mut t = String::new();
            let n = 1 + (seed % 9) as usize;
            for _ in 0..n {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                t.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            if let Ok(tmpl) = Template::parse(&t) {
                let _ = tmpl.execute(&v, None);
                let _ = tmpl.execute_header(&v);
            }
        }
    }

    #[test]
    fn floats_print_as_go() {
        assert_eq!(go_float(1e6, None, 'g'), "1e+06");
        assert_eq!(go_float(123456.0, None, 'g'), "123456");
        assert_eq!(go_float(0.0001, None, 'g'), "0.0001");
        assert_eq!(go_float(0.00001, None, 'g'), "1e-05");
        assert_eq!(go_float(2.5, Some(2), 'f'), "2.50");
        assert_eq!(go_float(1234.5, Some(2), 'e'), "1.23e+03");
    }
}
