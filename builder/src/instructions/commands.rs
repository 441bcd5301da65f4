//! One node → one typed instruction: the flags each accepts, the arguments it needs, and
//! BuildKit's messages when they are wrong.

use super::flags::{self, Kind};
use super::{ArgDecl, Diagnostic, Healthcheck, Heredoc, Instruction, ShellOrExec, Stage};
use crate::expand::split_words;
use crate::syntax::{self, JsonForm, Node};

/// Every instruction keyword.
pub(super) const KEYWORDS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

const NETWORK_MODES: [&str; 3] = ["default", "none", "host"];

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{b}' | '\u{c}' | '\r')
}

/// `FROM [--platform=...] image [AS name]`.
pub(super) fn parse_from(node: &Node, index: usize) -> Result<Stage, String> {
    let flags = flags::parse(&node.flags, &[("platform", Kind::Value)])?;
    let args: Vec<&str> = node
        .rest
        .split(is_blank)
        .filter(|s| !s.is_empty())
        .collect();
    let name = match args.as_slice() {
        [_] => None,
        [_, as_keyword, name] if as_keyword.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !valid_stage_name(&lower) {
                return Err(format!(
                    "invalid name for build stage: \"{name}\", name can't start with a number or contain symbols"
                ));
            }
            Some(lower)
        }
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    Ok(Stage {
        index,
        name,
        base: args[0].to_string(),
        platform: flags.value("platform").filter(|p| !p.is_empty()),
        line: node.start_line,
        instructions: Vec::new(),
    })
}

/// `^[a-z][a-z0-9-_.]*$`
fn valid_stage_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

/// Any instruction but FROM.
pub(super) fn parse_instruction(
    node: &Node,
    escape: char,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Instruction, String> {
    let keyword = node.keyword.as_str();
    match keyword {
        "RUN" => run(node),
        "CMD" => {
            no_flags(node)?;
            Ok(Instruction::Cmd(shell_or_exec(node)?))
        }
        "ENTRYPOINT" => {
            no_flags(node)?;
            Ok(Instruction::Entrypoint(shell_or_exec(node)?))
        }
        "SHELL" => shell(node),
        "COPY" => copy(node, escape),
        "ADD" => add(node, escape),
        "WORKDIR" => Ok(Instruction::Workdir(one_argument(node)?)),
        "USER" => Ok(Instruction::User(one_argument(node)?)),
        "STOPSIGNAL" => Ok(Instruction::StopSignal(one_argument(node)?)),
        "MAINTAINER" => {
            let name = one_argument(node)?;
            warnings.push(Diagnostic::new(
                node.start_line,
                "MAINTAINER is deprecated: use LABEL org.opencontainers.image.authors=... instead",
            ));
            Ok(Instruction::Maintainer(name))
        }
        "ENV" => Ok(Instruction::Env(key_values(node, escape, warnings)?)),
        "LABEL" => Ok(Instruction::Label(key_values(node, escape, warnings)?)),
        "ARG" => arg(node, escape),
        "EXPOSE" => {
            no_flags(node)?;
            Ok(Instruction::Expose(words(node, escape)?))
        }
        "VOLUME" => volume(node, escape),
        "HEALTHCHECK" => healthcheck(node),
        "ONBUILD" => onbuild(node, escape),
        "FROM" => Err("FROM is not allowed here".into()),
        _ => {
            let shown = if keyword.is_empty() {
                node.original.as_str()
            } else {
                keyword
            };
            Err(match flags::suggest(keyword, &KEYWORDS) {
                Some(near) => format!("unknown instruction: {shown} (did you mean {near}?)"),
                None => format!("unknown instruction: {shown}"),
            })
        }
    }
}

fn no_flags(node: &Node) -> Result<(), String> {
    flags::parse(&node.flags, &[]).map(|_| ())
}

/// The argument text as a JSON array, or `None` for the shell form.
fn json_or_shell(node: &Node, text: &str) -> Result<Option<Vec<String>>, String> {
    match syntax::json_form(text) {
        JsonForm::Array(items) => Ok(Some(items)),
        JsonForm::NotJson => Ok(None),
        JsonForm::NotStrings => Err(
            "when using JSON array syntax, arrays must be comprised of strings only".to_string(),
        ),
        JsonForm::Unterminated => Err(format!(
            "unterminated JSON array in {}: {text}",
            node.keyword
        )),
    }
}

fn shell_or_exec(node: &Node) -> Result<ShellOrExec, String> {
    Ok(match json_or_shell(node, &node.rest)? {
        Some(items) => ShellOrExec::Exec(items),
        None => ShellOrExec::Shell(node.rest.clone()),
    })
}

fn run(node: &Node) -> Result<Instruction, String> {
    let flags = flags::parse(
        &node.flags,
        &[
            ("mount", Kind::Values),
            ("network", Kind::Value),
            ("security", Kind::Value),
        ],
    )?;
    if node.rest.is_empty() {
        return Err("RUN requires at least one argument".into());
    }
    let network = flags.value("network");
    if let Some(mode) = &network {
        if !NETWORK_MODES.contains(&mode.as_str()) {
            return Err(format!(
                "unsupported network mode \"{mode}\" (RUN --network takes default, none or host)"
            ));
        }
    }
    let security = flags.value("security");
    if let Some(s) = &security {
        if s != "sandbox" && s != "insecure" {
            return Err(format!(
                "unsupported security mode \"{s}\" (RUN --security takes sandbox or insecure)"
            ));
        }
    }
    let mounts = flags.values("mount").to_vec();
    if mounts.iter().any(String::is_empty) {
        return Err("RUN --mount needs a value".into());
    }
    // A value without variables is checked now, so that a bad one fails before the build
    // does anything; the others are checked once expanded.
    for m in mounts.iter().filter(|m| !m.contains('$')) {
        crate::build::check_mount(m)?;
    }
    Ok(Instruction::Run {
        command: shell_or_exec(node)?,
        heredocs: node.heredocs.clone(),
        network,
        mounts,
        security,
    })
}

fn shell(node: &Node) -> Result<Instruction, String> {
    no_flags(node)?;
    match json_or_shell(node, &node.rest)? {
        Some(items) if items.is_empty() => Err("SHELL requires at least one argument".into()),
        Some(items) => Ok(Instruction::Shell(items)),
        None if node.rest.is_empty() => Err("SHELL requires at least one argument".into()),
        None => Err(format!(
            "SHELL requires the arguments to be in JSON form, as in SHELL [\"/bin/bash\", \"-c\"] (got: {})",
            node.rest
        )),
    }
}

/// COPY and ADD arguments: `(sources, dest, heredocs)`.
fn sources_and_dest(
    node: &Node,
    escape: char,
) -> Result<(Vec<String>, String, Vec<Heredoc>), String> {
    let keyword = &node.keyword;
    let (mut words, json) = match json_or_shell(node, &node.rest)? {
        Some(items) => (items, true),
        None => (split_words(&node.rest, escape)?, false),
    };
    match words.len() {
        0 => {
            return Err(format!(
                "{keyword} requires at least two arguments: one or more sources, then the destination"
            ))
        }
        1 => {
            return Err(format!(
                "{keyword} requires at least two arguments, but only one was provided. Destination could not be determined."
            ))
        }
        _ => {}
    }
    let dest = words.pop().unwrap_or_default();
    if !json && syntax::heredoc_word(&dest).is_some() {
        return Err(format!(
            "{keyword} cannot accept a heredoc as a destination"
        ));
    }
    let mut sources = Vec::new();
    let mut heredocs = Vec::new();
    for word in words {
        if !json {
            if let Some(opener) = syntax::heredoc_word(&word) {
                // Missing only when its body was cut short, which is reported already.
                if let Some(heredoc) = node.heredocs.iter().find(|h| h.name == opener.name) {
                    heredocs.push(heredoc.clone());
                }
                continue;
            }
        }
        if word.trim().is_empty() {
            return Err(format!("{keyword} source can not be an empty string"));
        }
        sources.push(word);
    }
    Ok((sources, dest, heredocs))
}

fn copy(node: &Node, escape: char) -> Result<Instruction, String> {
    let flags = flags::parse(
        &node.flags,
        &[
            ("from", Kind::Value),
            ("chown", Kind::Value),
            ("chmod", Kind::Value),
            ("link", Kind::Bool),
            ("parents", Kind::Bool),
            ("exclude", Kind::Values),
        ],
    )?;
    if flags.bool("parents") {
        return Err(
            "COPY --parents is not supported: copy each source to its own destination".into(),
        );
    }
    if !flags.values("exclude").is_empty() {
        return Err(
            "COPY --exclude is not supported: leave the files out with .dockerignore or name the sources to copy"
                .into(),
        );
    }
    let (sources, dest, heredocs) = sources_and_dest(node, escape)?;
    Ok(Instruction::Copy {
        sources,
        dest,
        from: flags.value("from"),
        chown: flags.value("chown"),
        chmod: flags.value("chmod"),
        link: flags.bool("link"),
        heredocs,
    })
}

fn add(node: &Node, escape: char) -> Result<Instruction, String> {
    let flags = flags::parse(
        &node.flags,
        &[
            ("chown", Kind::Value),
            ("chmod", Kind::Value),
            ("checksum", Kind::Value),
            ("link", Kind::Bool),
            ("keep-git-dir", Kind::Bool),
            ("exclude", Kind::Values),
        ],
    )?;
    if flags.value("keep-git-dir").is_some() {
        return Err(
            "ADD --keep-git-dir is not supported: ADD of a git repository is not supported".into(),
        );
    }
    if !flags.values("exclude").is_empty() {
        return Err(
            "ADD --exclude is not supported: leave the files out with .dockerignore or name the sources to add"
                .into(),
        );
    }
    let (sources, dest, heredocs) = sources_and_dest(node, escape)?;
    if let Some(git) = sources.iter().find(|s| is_git_url(s)) {
        return Err(format!(
            "ADD {git}: adding a git repository is not supported: clone it into the context, or RUN git clone"
        ));
    }
    let checksum = flags.value("checksum");
    if checksum.is_some() && sources.len() + heredocs.len() != 1 {
        return Err("ADD --checksum can't be specified for multiple sources".into());
    }
    Ok(Instruction::Add {
        sources,
        dest,
        chown: flags.value("chown"),
        chmod: flags.value("chmod"),
        checksum,
        link: flags.bool("link"),
        heredocs,
    })
}

/// Whether an ADD source names a git repository, as BuildKit tells them: `git@host:…`,
/// `git://…`, or an http(s) URL whose path ends in `.git` (before a `#ref`).
fn is_git_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("git@") || lower.starts_with("git://") || lower.starts_with("ssh://") {
        return true;
    }
    let base = lower.split('#').next().unwrap_or_default();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        && base.trim_end_matches('/').ends_with(".git")
}

/// WORKDIR, USER, STOPSIGNAL, MAINTAINER: the whole rest of the line.
fn one_argument(node: &Node) -> Result<String, String> {
    no_flags(node)?;
    if node.rest.is_empty() {
        return Err(format!("{} requires exactly one argument", node.keyword));
    }
    Ok(node.rest.clone())
}

fn words(node: &Node, escape: char) -> Result<Vec<String>, String> {
    let words = split_words(&node.rest, escape)?;
    if words.is_empty() {
        return Err(format!("{} requires at least one argument", node.keyword));
    }
    Ok(words)
}

/// ENV and LABEL: `K=V ...`, or the legacy `K V` where the value is the rest of the line.
fn key_values(
    node: &Node,
    escape: char,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<(String, String)>, String> {
    no_flags(node)?;
    let keyword = &node.keyword;
    let words = words(node, escape)?;
    if !words[0].contains('=') {
        let Some(at) = node.rest.find(is_blank) else {
            return Err(format!("{keyword} must have two arguments"));
        };
        let key = &node.rest[..at];
        let value = node.rest[at..].trim_start_matches(is_blank);
        warnings.push(Diagnostic::new(
            node.start_line,
            format!(
                "\"{keyword} key=value\" should be used instead of legacy \"{keyword} key value\" format"
            ),
        ));
        return Ok(vec![(key.to_string(), value.to_string())]);
    }
    let mut pairs = Vec::with_capacity(words.len());
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in \"{word}\". Must be of the form: name=value"
            ));
        };
        if key.is_empty() {
            return Err(format!("{keyword} names can not be blank"));
        }
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

fn arg(node: &Node, escape: char) -> Result<Instruction, String> {
    no_flags(node)?;
    let mut decls = Vec::new();
    for word in words(node, escape)? {
        let (name, default) = match word.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (word, None),
        };
        if name.is_empty() {
            return Err("ARG names can not be blank".into());
        }
        decls.push(ArgDecl { name, default });
    }
    Ok(Instruction::Arg(decls))
}

fn volume(node: &Node, escape: char) -> Result<Instruction, String> {
    no_flags(node)?;
    let volumes = match json_or_shell(node, &node.rest)? {
        Some(items) => items,
        None => split_words(&node.rest, escape)?,
    };
    if volumes.is_empty() {
        return Err("VOLUME requires at least one argument".into());
    }
    if volumes.iter().any(|v| v.trim().is_empty()) {
        return Err("VOLUME specified can not be an empty string".into());
    }
    Ok(Instruction::Volume(
        volumes.into_iter().map(|v| v.trim().to_string()).collect(),
    ))
}

fn healthcheck(node: &Node) -> Result<Instruction, String> {
    let rest = node.rest.as_str();
    let (kind, args) = match rest.find(char::is_whitespace) {
        Some(at) => (&rest[..at], rest[at..].trim_start()),
        None => (rest, ""),
    };
    if kind.is_empty() {
        return Err("HEALTHCHECK requires at least one argument".into());
    }
    match kind.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !args.is_empty() {
                return Err("HEALTHCHECK NONE takes no arguments".into());
            }
            if !node.flags.is_empty() {
                return Err("HEALTHCHECK NONE takes no options".into());
            }
            Ok(Instruction::Healthcheck(None))
        }
        "CMD" => {
            let flags = flags::parse(
                &node.flags,
                &[
                    ("interval", Kind::Value),
                    ("timeout", Kind::Value),
                    ("start-period", Kind::Value),
                    ("start-interval", Kind::Value),
                    ("retries", Kind::Value),
                ],
            )?;
            let test = match json_or_shell(node, args)? {
                Some(items) if !items.is_empty() => {
                    std::iter::once("CMD".to_string()).chain(items).collect()
                }
                None if !args.is_empty() => vec!["CMD-SHELL".to_string(), args.to_string()],
                _ => return Err("Missing command after HEALTHCHECK CMD".into()),
            };
            let interval = |name: &str| -> Result<Option<String>, String> {
                let Some(value) = flags.value(name).filter(|v| !v.is_empty()) else {
                    return Ok(None);
                };
                let duration = super::parse_duration(&value)?;
                if !duration.is_zero() && duration < std::time::Duration::from_millis(1) {
                    return Err(format!("Interval \"{name}\" cannot be less than 1ms"));
                }
                Ok(Some(value))
            };
            let retries = match flags.value("retries").filter(|v| !v.is_empty()) {
                None => None,
                Some(value) => {
                    let n: i64 = value
                        .parse()
                        .map_err(|_| format!("invalid --retries value \"{value}\""))?;
                    if n < 0 {
                        return Err(format!("--retries cannot be negative ({n})"));
                    }
                    Some(u32::try_from(n).map_err(|_| format!("--retries value too large ({n})"))?)
                }
            };
            Ok(Instruction::Healthcheck(Some(Healthcheck {
                test,
                interval: interval("interval")?,
                timeout: interval("timeout")?,
                start_period: interval("start-period")?,
                start_interval: interval("start-interval")?,
                retries,
            })))
        }
        _ => Err(format!("Unknown type \"{kind}\" in HEALTHCHECK (try CMD)")),
    }
}

fn onbuild(node: &Node, escape: char) -> Result<Instruction, String> {
    no_flags(node)?;
    let mut trigger = syntax::node_from_line(&node.rest, node.start_line, node.end_line);
    match trigger.keyword.as_str() {
        "" => return Err("ONBUILD requires at least one argument".into()),
        "ONBUILD" => {
            return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into());
        }
        "FROM" | "MAINTAINER" => {
            return Err(format!(
                "{} isn't allowed as an ONBUILD trigger",
                trigger.keyword
            ));
        }
        _ => {}
    }
    trigger.heredocs = node.heredocs.clone();
    parse_instruction(&trigger, escape, &mut Vec::new())
        .map_err(|error| format!("ONBUILD {}: {error}", trigger.keyword))?;
    let mut text = node.rest.clone();
    for heredoc in &node.heredocs {
        text.push('\n');
        text.push_str(&heredoc.content);
        text.push_str(&heredoc.name);
    }
    Ok(Instruction::Onbuild(text))
}

#[cfg(test)]
mod tests;
