//! The syntax layer: a Dockerfile's text becomes one [`Node`] per instruction, each with its
//! line range.
//!
//! Like BuildKit's `parser` package it knows nothing of what an instruction means, except the
//! one thing the syntax itself depends on: which instructions may carry heredocs (RUN, COPY,
//! ADD, and ONBUILD of one of those), since their bodies are lines of the file.
//!
//! Rules, as BuildKit applies them:
//! - parser directives (`# escape=`, `# syntax=`, `# check=`) only at the very top, before any
//!   other line (a blank line or an ordinary comment ends them);
//! - a comment is a line whose first non-blank character is `#`;
//! - an instruction continues on the next line when it ends with the escape character
//!   (optionally followed by blanks); comment lines and blank lines inside a continuation are
//!   skipped; continuation lines are joined as they are, without adding a separator;
//! - flags (`--name[=value]`) right after the keyword are split off;
//! - heredoc bodies follow the instruction's last line, in the order the heredocs were opened.

use std::fmt;

use crate::expand::{self, Mode};

/// A problem found in a Dockerfile, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line where the instruction (or directive) in error starts.
    pub line: usize,
    /// What is wrong, without the line number.
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// A here-document opened on an instruction's line (`RUN <<EOF`, `COPY <<EOF /file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, quotes removed (`EOF` for `<<"EOF"`). For COPY and ADD it is also
    /// the name of the file made from the content when the destination is a directory
    /// (`COPY <<a.txt <<b.txt /dir/`); with a file destination the content becomes that file.
    pub name: String,
    /// The lines between the instruction and the delimiter line, each followed by `\n`,
    /// exactly as written: for `<<-` the leading tabs are still there (see [`Heredoc::body`]),
    /// and `$VAR` is not expanded (see [`crate::expand::expand_heredoc`]).
    pub content: String,
    /// Whether `$VAR` in the content is to be expanded: false when any part of the delimiter
    /// was quoted (`<<"EOF"`, `<<'EOF'`).
    pub expand: bool,
    /// Opened with `<<-`: leading tabs of the content's lines (and of the delimiter line) are
    /// not part of it.
    pub strip_tabs: bool,
}

impl Heredoc {
    /// The content as used directly (a COPY'd file, a single-heredoc RUN script): with the
    /// leading tabs of every line removed when the heredoc was opened with `<<-`.
    /// A shell that is given the heredoc text itself strips them on its own.
    pub fn body(&self) -> String {
        if !self.strip_tabs {
            return self.content.clone();
        }
        self.content
            .split_inclusive('\n')
            .map(|line| line.trim_start_matches('\t'))
            .collect()
    }
}

/// The parser directives at the top of a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// The escape character: `\` unless `# escape=`` ` `` chose the backtick.
    pub escape: char,
    /// `# syntax=` (a frontend image reference; rbox records it and uses its own frontend).
    pub syntax: Option<String>,
    /// `# check=` (BuildKit's lint configuration, e.g. `skip=JSONArgsRecommended`), as written.
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Directives {
        Directives {
            escape: '\\',
            syntax: None,
            check: None,
        }
    }
}

/// One instruction as the syntax sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The instruction keyword, uppercased (`RUN` for `run`). Not checked against known ones.
    pub keyword: String,
    /// The `--name[=value]` words right after the keyword, as `--from=x` (quotes and
    /// backslash escapes inside them removed, as BuildKit does).
    pub flags: Vec<String>,
    /// Everything after the keyword and flags, continuation lines joined, comment lines inside
    /// the continuation dropped, trimmed.
    pub rest: String,
    /// `rest` as a JSON array of strings, when it is one (`["echo", "hi"]`). As Docker does,
    /// text after the array's closing bracket is ignored.
    pub json: Option<Vec<String>>,
    /// Heredocs opened on this instruction, in order, with their content.
    pub heredocs: Vec<Heredoc>,
    /// 1-based line of the instruction's first line.
    pub start_line: usize,
    /// 1-based line of its last line (a continuation, or a heredoc's delimiter line).
    pub end_line: usize,
    /// The instruction as one line (continuations joined, comments dropped, trimmed), without
    /// heredoc bodies.
    pub original: String,
}

/// Splits a Dockerfile into directives and instruction nodes. Stops at the first syntax
/// error; [`crate::parse`] reports every problem instead.
pub fn parse_nodes(text: &str) -> Result<(Directives, Vec<Node>), Diagnostic> {
    let parsed = parse_all(text);
    match parsed.errors.into_iter().next() {
        Some(error) => Err(error),
        None => Ok((parsed.directives, parsed.nodes)),
    }
}

/// Everything the syntax layer found: nodes up to the first fatal problem, every problem, and
/// warnings (things Docker accepts but flags).
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub directives: Directives,
    pub nodes: Vec<Node>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

const DIRECTIVES: [&str; 3] = ["escape", "syntax", "check"];

pub(crate) fn parse_all(text: &str) -> Parsed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut parsed = Parsed::default();
    let mut directives_done = false;
    let mut seen_directives: Vec<String> = Vec::new();
    let mut next = 0;

    while next < lines.len() {
        let first = lines[next].trim_start();
        next += 1;
        let start_line = next;

        if !directives_done {
            match directive(first) {
                Some((name, value)) if DIRECTIVES.contains(&name.as_str()) => {
                    if seen_directives.contains(&name) {
                        parsed.errors.push(Diagnostic::new(
                            start_line,
                            format!("only one {name} parser directive can be used"),
                        ));
                    } else {
                        apply_directive(&mut parsed, &name, value, start_line);
                        seen_directives.push(name);
                    }
                    continue;
                }
                _ => directives_done = true,
            }
        }
        if first.starts_with('#') {
            continue;
        }

        let escape = parsed.directives.escape;
        let (text, mut continues) = trim_continuation(first, escape);
        let mut line = text.to_string();
        if !continues && line.is_empty() {
            continue;
        }
        let mut empty_continuation = false;
        while continues && next < lines.len() {
            let raw = lines[next];
            next += 1;
            if raw.trim_start().starts_with('#') {
                continue;
            }
            if raw.trim_start().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (text, more) = trim_continuation(raw, escape);
            line.push_str(text);
            continues = more;
        }
        if empty_continuation {
            parsed.warnings.push(Diagnostic::new(
                start_line,
                "empty continuation line (Docker will make this an error)",
            ));
        }

        let mut node = node_from_line(&line, start_line, next);
        if line.contains("<<") && can_contain_heredoc(&node) {
            for mut heredoc in heredocs_in_line(&line) {
                let mut terminated = false;
                while next < lines.len() {
                    let body_line = lines[next];
                    next += 1;
                    let candidate = if heredoc.strip_tabs {
                        body_line.trim_start_matches('\t')
                    } else {
                        body_line
                    };
                    if candidate == heredoc.name {
                        terminated = true;
                        break;
                    }
                    heredoc.content.push_str(body_line);
                    heredoc.content.push('\n');
                }
                if !terminated {
                    parsed.errors.push(Diagnostic::new(
                        start_line,
                        format!(
                            "unterminated heredoc <<{0}: no line \"{0}\" ends it before the end of the file",
                            heredoc.name
                        ),
                    ));
                    break;
                }
                node.heredocs.push(heredoc);
            }
            node.end_line = next;
        }
        parsed.nodes.push(node);
    }
    parsed
}

fn apply_directive(parsed: &mut Parsed, name: &str, value: String, line: usize) {
    match name {
        "escape" => match value.as_str() {
            "\\" => parsed.directives.escape = '\\',
            "`" => parsed.directives.escape = '`',
            _ => parsed.errors.push(Diagnostic::new(
                line,
                format!("invalid escape token '{value}' does not match ` or \\"),
            )),
        },
        "syntax" => parsed.directives.syntax = Some(value),
        _ => parsed.directives.check = Some(value),
    }
}

/// `# name = value` with a directive-shaped name, lowercased; `None` for any other line.
fn directive(line: &str) -> Option<(String, String)> {
    let blank = |c: char| c == ' ' || c == '\t';
    let rest = line.strip_prefix('#')?.trim_start_matches(blank);
    let name_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let name = &rest[..name_len];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest[name_len..]
        .trim_start_matches(blank)
        .strip_prefix('=')?
        .trim_matches(blank);
    if value.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), value.to_string()))
}

/// Removes a trailing escape character (and blanks after it): `(text, continues)`.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    match line.trim_end_matches([' ', '\t']).strip_suffix(escape) {
        Some(text) => (text, true),
        None => (line, false),
    }
}

/// Splits one joined instruction line into keyword, flags and the rest.
pub(crate) fn node_from_line(line: &str, start_line: usize, end_line: usize) -> Node {
    let line = line.trim();
    let is_separator = |c: char| matches!(c, ' ' | '\t' | '\u{b}' | '\u{c}' | '\r');
    let (keyword, args) = match line.find(is_separator) {
        Some(at) => (&line[..at], line[at..].trim_start_matches(is_separator)),
        None => (line, ""),
    };
    let (rest, flags) = extract_flags(args);
    let rest = rest.trim().to_string();
    let json = match json_form(&rest) {
        JsonForm::Array(items) => Some(items),
        _ => None,
    };
    Node {
        keyword: keyword.to_ascii_uppercase(),
        flags,
        rest,
        json,
        heredocs: Vec::new(),
        start_line,
        end_line,
        original: line.to_string(),
    }
}

fn can_contain_heredoc(node: &Node) -> bool {
    if node.keyword == "ONBUILD" {
        let trigger = node_from_line(&node.rest, node.start_line, node.end_line);
        return trigger.keyword != "ONBUILD" && can_contain_heredoc(&trigger);
    }
    matches!(node.keyword.as_str(), "RUN" | "COPY" | "ADD") && node.json.is_none()
}

/// Port of BuildKit's `extractBuilderFlags`: leading `--words` become flags (quotes removed,
/// `\` escapes one character); returns the text from the first non-flag word on.
fn extract_flags(line: &str) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let n = chars.len();
    let mut flags = Vec::new();
    let mut word = String::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= n {
        let (offset, mut ch) = chars.get(pos).copied().unwrap_or((line.len(), '\0'));
        if phase == Phase::Spaces {
            if pos == n {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            if ch != '-' || pos + 1 == n || chars[pos + 1].1 != '-' {
                return (line[offset..].to_string(), flags);
            }
            phase = Phase::Word;
        }
        if pos == n {
            if word != "--" && (blank_ok || !word.is_empty()) {
                flags.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if word == "--" {
                    return (line[offset..].to_string(), flags);
                }
                if blank_ok || !word.is_empty() {
                    flags.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            if ch == '\\' {
                if pos + 1 == n {
                    pos += 1;
                    continue;
                }
                pos += 1;
                ch = chars[pos].1;
            }
            word.push(ch);
            pos += 1;
            continue;
        }
        // Inside quotes.
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        if ch == '\\' {
            if pos + 1 == n {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            ch = chars[pos].1;
        }
        word.push(ch);
        pos += 1;
    }
    (String::new(), flags)
}

/// What an instruction's argument text is, seen as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonForm {
    /// A JSON array of strings: the exec form.
    Array(Vec<String>),
    /// Not JSON: the shell form (`[ -f x ] && y` is one).
    NotJson,
    /// Starts like a JSON array but the text ends inside it.
    Unterminated,
    /// A JSON array holding something other than strings.
    NotStrings,
}

/// Classifies `text` the way Docker's `parseJSON` does: the first JSON value is decoded and
/// anything after it is ignored.
pub(crate) fn json_form(text: &str) -> JsonForm {
    let text = text.trim_start();
    if !text.starts_with('[') {
        return JsonForm::NotJson;
    }
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    match values.next() {
        Some(Ok(serde_json::Value::Array(items))) => {
            let mut strings = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    serde_json::Value::String(s) => strings.push(s),
                    _ => return JsonForm::NotStrings,
                }
            }
            JsonForm::Array(strings)
        }
        Some(Err(error)) if error.is_eof() => JsonForm::Unterminated,
        _ => JsonForm::NotJson,
    }
}

/// The heredocs a line opens, in order, with empty content.
fn heredocs_in_line(line: &str) -> Vec<Heredoc> {
    raw_words(line)
        .iter()
        .filter_map(|word| heredoc_word(word))
        .collect()
}

/// Splits a line into words at unquoted blanks, keeping quotes and `\` escapes as written.
/// `<<` followed by blanks is joined to the next word (`<< EOF`), as BuildKit's lexer does.
fn raw_words(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                continue;
            }
            '\\' => {
                word.push(c);
                if let Some(&escaped) = chars.get(i) {
                    word.push(escaped);
                    i += 1;
                }
            }
            '\'' | '"' => {
                word.push(c);
                while let Some(&inner) = chars.get(i) {
                    i += 1;
                    word.push(inner);
                    if inner == c {
                        break;
                    }
                    if c == '"' && inner == '\\' {
                        if let Some(&escaped) = chars.get(i) {
                            word.push(escaped);
                            i += 1;
                        }
                    }
                }
            }
            '<' if chars.get(i) == Some(&'<') => {
                word.push_str("<<");
                i += 1;
                while matches!(chars.get(i), Some(' ' | '\t')) {
                    i += 1;
                }
            }
            _ => word.push(c),
        }
        in_word = true;
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Parses a word like `<<EOF`, `<<-"EOF"`, `3<<EOF` as a heredoc opener (content empty).
pub(crate) fn heredoc_word(word: &str) -> Option<Heredoc> {
    let digits = word
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(word.len());
    let rest = word[digits..].strip_prefix("<<")?;
    let (strip_tabs, rest) = match rest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let no_lookup = |_: &str| None;
    let mode = Mode {
        skip_unset: true,
        ..Mode::default()
    };
    let name = expand::expand_with(rest, '\\', &no_lookup, mode).ok()?;
    if name.is_empty() {
        return None;
    }
    let raw_mode = Mode {
        raw_quotes: true,
        ..mode
    };
    let raw = expand::expand_with(rest, '\\', &no_lookup, raw_mode).ok()?;
    let quotes = |s: &str| s.chars().filter(|c| matches!(c, '"' | '\'')).count();
    Some(Heredoc {
        expand: quotes(&name) == quotes(&raw),
        name,
        content: String::new(),
        strip_tabs,
    })
}

#[cfg(test)]
mod tests;
