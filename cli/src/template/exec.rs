//! Execution: a parsed template run over a JSON value.

use serde_json::Value;

use super::ast::{Arg, ArgKind, Cmd, Node, Pipe};
use super::funcs::call;
use super::print::{go_print, go_type, print_top, truth};
use super::Methods;

/// How a list of nodes ended.
pub(super) enum Flow {
    Normal,
    Break,
    Continue,
}

pub(super) struct Exec<'a> {
    pub(super) src: &'a str,
    pub(super) vars: Vec<(String, Value)>,
    pub(super) methods: Option<Methods<'a>>,
    pub(super) header: bool,
    pub(super) out: String,
}

impl Exec<'_> {
    pub(super) fn fail(&self, pos: usize, node: &str, msg: &str) -> String {
        let before = &self.src[..pos.min(self.src.len())];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(nl) => pos - nl - 1,
            None => pos,
        };
        format!("template: :{line}:{col}: executing \"\" at <{node}>: {msg}")
    }

    pub(super) fn list(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, String> {
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

    pub(super) fn set(&mut self, name: &str, v: Value, assign: bool) {
        if assign {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v;
            }
        } else {
            self.vars.push((name.to_owned(), v));
        }
    }

    /// A pipeline's value, its variables set.
    pub(super) fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value, String> {
        let v = self.pipe_value(p, dot)?;
        if let Some(name) = p.decl.first() {
            self.set(name, v.clone(), p.assign);
        }
        Ok(v)
    }

    /// A pipeline's value without setting its variables (range sets them per element).
    pub(super) fn pipe_value(&mut self, p: &Pipe, dot: &Value) -> Result<Value, String> {
        let mut last: Option<Value> = None;
        for c in &p.cmds {
            last = Some(self.cmd(c, dot, last)?);
        }
        Ok(last.unwrap_or(Value::Null))
    }

    pub(super) fn cmd(
        &mut self,
        c: &Cmd,
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, String> {
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

    pub(super) fn arg(&mut self, a: &Arg, dot: &Value) -> Result<Value, String> {
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
    pub(super) fn chain(
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
pub(super) const MAP_FIELDS: &[&str] = &[
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
pub(super) const OPTIONAL_FIELDS: &[&str] = &[
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
pub(super) const HEADER_FUNCS: &[&str] = &[
    "json", "split", "join", "title", "lower", "upper", "truncate",
];
