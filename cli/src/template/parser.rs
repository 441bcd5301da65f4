//! Parsing: the text of a template into nodes, an action's tokens into pipelines.
use super::ast::{Arg, ArgKind, Cmd, Node, Pipe, Tok};
use super::funcs::BUILTINS;
use super::Error;

pub(super) struct Parser<'a> {
    pub(super) src: &'a str,
    pub(super) pos: usize,
    pub(super) vars: Vec<String>,
    pub(super) depth: usize,
    pub(super) range_depth: usize,
}

/// What ended a list: `end`, `else`, or `else if …`/`else with …`.
pub(super) enum End {
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
    pub(super) fn line(&self, pos: usize) -> usize {
        1 + self.src[..pos.min(self.src.len())].matches('\n').count()
    }

    pub(super) fn err(&self, msg: &str) -> Error {
        Error::Parse(format!("template: :{}: {msg}", self.line(self.pos)))
    }

    pub(super) fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    /// Nodes up to the end of the input or an `end`/`else` (returned).
    pub(super) fn list(&mut self) -> Result<(Vec<Node>, Option<End>), Error> {
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
    pub(super) fn control(&mut self, kw: &str, pipe: Pipe, mark: usize) -> Result<Node, Error> {
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
}

impl Parser<'_> {
    /// A pipeline from tokens: `[$a[, $b] :=|=] cmd | cmd …`.
    pub(super) fn pipe(
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

    pub(super) fn cmd(&mut self, toks: &[(Tok, usize, usize)], start: usize) -> Result<Cmd, Error> {
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
