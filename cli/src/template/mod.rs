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

mod ast;
mod exec;
mod funcs;
mod lexer;
mod parser;
mod print;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

use ast::Node;
use exec::Exec;
use parser::Parser;

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

/// An object from pairs, for rows.
pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v))
            .collect::<Map<_, _>>(),
    )
}
