//! Typed instructions: the syntax layer's nodes checked and turned into [`Instruction`]s,
//! grouped into [`Stage`]s (BuildKit's `instructions` package).
//!
//! Arguments are kept as written, before expansion: Docker expands them at build time with
//! the ARG and ENV values in effect at that step (`ENV PATH=$PATH:/x`), so the executor
//! dispatches each instruction through [`Instruction::expand`], which expands every word
//! Docker expands, once. Quotes that the expansion removes are therefore still in the words
//! here (`ENV A="x y"` gives the value `"x y"`).

mod commands;
mod expansion;
mod flags;

pub use crate::syntax::{Diagnostic, Heredoc};
pub use expansion::MAX_EXPANDED_SIZE;
pub use rbox_runtime::model::duration::parse_duration;

use crate::syntax::{self, Directives};

/// Something parsed from the Dockerfile, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// 1-based first line of the instruction.
    pub line: usize,
    /// 1-based last line (continuations and heredoc bodies included).
    pub end_line: usize,
    /// The instruction as one line (continuations joined), for messages and history.
    pub original: String,
    /// The parsed value.
    pub inner: T,
}

/// The two forms of RUN, CMD, ENTRYPOINT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellOrExec {
    /// Shell form: the text, to be run by the stage's SHELL (`/bin/sh -c` by default).
    Shell(String),
    /// Exec form: a JSON array, run as it is.
    Exec(Vec<String>),
}

/// One `NAME[=default]` of an ARG instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// The argument's name.
    pub name: String,
    /// The default value as written (expanded at build time; `--build-arg` overrides it).
    pub default: Option<String>,
}

/// A HEALTHCHECK other than `HEALTHCHECK NONE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD", args...]` for the exec form, `["CMD-SHELL", "command"]` for the shell form
    /// (the image config's `Healthcheck.Test`). `HEALTHCHECK NONE` is
    /// `Instruction::Healthcheck(None)`, which the config records as `["NONE"]`.
    pub test: Vec<String>,
    /// `--interval`, a Go duration as written (`30s`), checked; see [`parse_duration`].
    pub interval: Option<String>,
    /// `--timeout`, as `interval`.
    pub timeout: Option<String>,
    /// `--start-period`, as `interval`.
    pub start_period: Option<String>,
    /// `--start-interval`, as `interval`.
    pub start_interval: Option<String>,
    /// `--retries`.
    pub retries: Option<u32>,
}

/// One instruction of a stage. "Expanded" below means: word expansion applies to it at
/// dispatch ([`Instruction::expand`], with the step's ARG and ENV values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// `RUN [--mount=...] [--network=...] [--security=...] command`. Not expanded (the shell does it).
    /// With heredocs, `command` still holds the `<<EOF` words: Docker runs a lone `<<EOF` as
    /// a script made of the heredoc's body (executed directly when it starts with `#!`), and
    /// otherwise gives the shell the command followed by each heredoc's text
    /// (`command\n<content>EOF`).
    Run {
        /// Shell or exec form.
        command: ShellOrExec,
        /// Heredocs opened on the line, in order.
        heredocs: Vec<Heredoc>,
        /// `--network=default|none|host`.
        network: Option<String>,
        /// Each `--mount=` value as written (`type=cache,target=/root/.cache`), expanded.
        mounts: Vec<String>,
        /// `--security=sandbox|insecure`.
        security: Option<String>,
    },
    /// `COPY [--from] [--chown] [--chmod] [--link] src... dest`; sources and dest are
    /// expanded, the flags' values are used as written. Heredoc sources (`COPY <<EOF /file`) are in `heredocs`, not in
    /// `sources`; `sources` and `heredocs` are never both empty.
    Copy {
        /// Source paths or globs, relative to the context (or to the `from` stage/image).
        sources: Vec<String>,
        /// Destination; a trailing `/` makes it a directory.
        dest: String,
        /// `--from=stage-name|stage-index|image`.
        from: Option<String>,
        /// `--chown=user[:group]`.
        chown: Option<String>,
        /// `--chmod=mode`.
        chmod: Option<String>,
        /// `--link`.
        link: bool,
        /// Heredoc sources, each a file named by its delimiter in a directory `dest`, or
        /// `dest` itself.
        heredocs: Vec<Heredoc>,
    },
    /// `ADD [--chown] [--chmod] [--checksum] [--link] src... dest`: as Copy, and a source may
    /// be an http(s) URL (fetched, checked against `checksum`) or a local tar archive
    /// (extracted).
    Add {
        /// Source paths, globs or URLs.
        sources: Vec<String>,
        /// Destination.
        dest: String,
        /// `--chown=user[:group]`.
        chown: Option<String>,
        /// `--chmod=mode`.
        chmod: Option<String>,
        /// `--checksum=sha256:...` (only with one source).
        checksum: Option<String>,
        /// `--link`.
        link: bool,
        /// Heredoc sources.
        heredocs: Vec<Heredoc>,
    },
    /// `WORKDIR path`, expanded.
    Workdir(String),
    /// `CMD`; not expanded. An empty `CMD` is `Shell("")`.
    Cmd(ShellOrExec),
    /// `ENTRYPOINT`; not expanded. An empty `ENTRYPOINT` is `Shell("")`.
    Entrypoint(ShellOrExec),
    /// `ENV K=V ...` or the legacy `ENV K V` (the whole rest of the line is the value); values
    /// expanded, each seeing those before it on the line.
    Env(Vec<(String, String)>),
    /// `ARG NAME[=default] ...`.
    Arg(Vec<ArgDecl>),
    /// `LABEL K=V ...` (or legacy `LABEL K V`); keys and values expanded.
    Label(Vec<(String, String)>),
    /// `USER user[:group]`, expanded.
    User(String),
    /// `VOLUME ["/a", "/b"]` or `VOLUME /a /b`; each expanded.
    Volume(Vec<String>),
    /// `EXPOSE 80 443/udp ...`; each expanded.
    Expose(Vec<String>),
    /// `STOPSIGNAL signal`, expanded.
    StopSignal(String),
    /// `HEALTHCHECK [flags] CMD ...`, or `None` for `HEALTHCHECK NONE`.
    Healthcheck(Option<Healthcheck>),
    /// `SHELL ["executable", "args"...]`.
    Shell(Vec<String>),
    /// `ONBUILD INSTRUCTION`: the trigger's text (heredoc bodies appended as they were
    /// written), checked to parse, recorded in the image config.
    Onbuild(String),
    /// `MAINTAINER name` (deprecated: the image config's author field).
    Maintainer(String),
}

impl Instruction {
    /// The instruction's keyword, as a Dockerfile writes it (`RUN`, `COPY`, ...).
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::Run { .. } => "RUN",
            Instruction::Copy { .. } => "COPY",
            Instruction::Add { .. } => "ADD",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Env(_) => "ENV",
            Instruction::Arg(_) => "ARG",
            Instruction::Label(_) => "LABEL",
            Instruction::User(_) => "USER",
            Instruction::Volume(_) => "VOLUME",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Shell(_) => "SHELL",
            Instruction::Onbuild(_) => "ONBUILD",
            Instruction::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// A build stage: one FROM and the instructions up to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// 0-based position among the stages (`COPY --from=0`).
    pub index: usize,
    /// `AS name`, lowercased.
    pub name: Option<String>,
    /// The base image as written (`scratch`, `node:20-alpine`, `$BASE`, or an earlier
    /// stage's name), expanded at build time with the global ARGs only.
    pub base: String,
    /// `--platform=...` as written (expanded with the global ARGs).
    pub platform: Option<String>,
    /// Line of the FROM instruction.
    pub line: usize,
    /// The stage's instructions, in order.
    pub instructions: Vec<Located<Instruction>>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The parser directives at its top.
    pub directives: Directives,
    /// ARGs before the first FROM: usable in FROM lines, and in a stage after a bare
    /// `ARG NAME` redeclares them.
    pub global_args: Vec<Located<ArgDecl>>,
    /// The stages, in order (at least one).
    pub stages: Vec<Stage>,
    /// What Docker accepts but warns about (MAINTAINER, legacy `ENV K V`, empty continuation
    /// lines), each with its line.
    pub warnings: Vec<Diagnostic>,
}

impl Dockerfile {
    /// The index of the stage named `name_or_index` (case-insensitively), or of the stage at
    /// that index; `None` when neither exists (then `COPY --from` names an image).
    pub fn stage_index(&self, name_or_index: &str) -> Option<usize> {
        let lower = name_or_index.to_lowercase();
        if let Some(stage) = self
            .stages
            .iter()
            .find(|stage| stage.name.as_deref() == Some(lower.as_str()))
        {
            return Some(stage.index);
        }
        name_or_index
            .parse::<usize>()
            .ok()
            .filter(|&index| index < self.stages.len())
    }
}

/// Parses a whole Dockerfile. On failure returns every problem found (with its line), not
/// just the first, sorted by line.
pub fn parse(text: &str) -> Result<Dockerfile, Vec<Diagnostic>> {
    let parsed = syntax::parse_all(text);
    let escape = parsed.directives.escape;
    let mut errors = parsed.errors;
    let mut warnings = parsed.warnings;
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    let mut missing_from_reported = false;

    for node in &parsed.nodes {
        if node.keyword == "FROM" {
            let index = stages.len();
            let stage = match commands::parse_from(node, index) {
                Ok(stage) => stage,
                Err(message) => {
                    errors.push(Diagnostic::new(node.start_line, message));
                    // A stand-in, so that the stage's instructions are still checked.
                    Stage {
                        index,
                        name: None,
                        base: String::new(),
                        platform: None,
                        line: node.start_line,
                        instructions: Vec::new(),
                    }
                }
            };
            if let Some(name) = &stage.name {
                if stages.iter().any(|s| s.name.as_ref() == Some(name)) {
                    errors.push(Diagnostic::new(
                        node.start_line,
                        format!("duplicate stage name \"{name}\""),
                    ));
                }
            }
            stages.push(stage);
            continue;
        }

        let result = commands::parse_instruction(node, escape, &mut warnings);
        if stages.is_empty()
            && !missing_from_reported
            && node.keyword != "ARG"
            && commands::KEYWORDS.contains(&node.keyword.as_str())
        {
            errors.push(Diagnostic::new(
                node.start_line,
                format!(
                    "no FROM instruction before {}: a Dockerfile must start with FROM (only ARG may come before it)",
                    node.keyword
                ),
            ));
            missing_from_reported = true;
        }
        match result {
            Err(message) => errors.push(Diagnostic::new(node.start_line, message)),
            Ok(Instruction::Arg(decls)) if stages.is_empty() => {
                global_args.extend(decls.into_iter().map(|decl| locate(node, decl)));
            }
            Ok(instruction) => {
                if let Some(stage) = stages.last_mut() {
                    stage.instructions.push(locate(node, instruction));
                }
            }
        }
    }

    if parsed.nodes.is_empty() {
        if errors.is_empty() {
            errors.push(Diagnostic::new(1, "the Dockerfile has no instructions"));
        }
    } else if stages.is_empty() && !missing_from_reported {
        let line = parsed.nodes.first().map_or(1, |node| node.start_line);
        errors.push(Diagnostic::new(
            line,
            "no FROM instruction: the Dockerfile has no build stage",
        ));
    }

    if errors.is_empty() {
        Ok(Dockerfile {
            directives: parsed.directives,
            global_args,
            stages,
            warnings,
        })
    } else {
        errors.sort_by_key(|error| error.line);
        Err(errors)
    }
}

fn locate<T>(node: &syntax::Node, inner: T) -> Located<T> {
    Located {
        line: node.start_line,
        end_line: node.end_line,
        original: node.original.clone(),
        inner,
    }
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
