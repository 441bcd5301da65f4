//! Docker's word expansion (BuildKit's `shell.Lex`): variables, quotes and escapes in the
//! arguments of ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG
//! and some flags. RUN, CMD and ENTRYPOINT are not expanded here: their shell does it.
//!
//! Supported: `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`,
//! `${VAR:?msg}`, `${VAR?msg}`, `${VAR#pat}`, `${VAR##pat}`, `${VAR%pat}`, `${VAR%%pat}`,
//! `${VAR/pat/repl}`, `${VAR//pat/repl}` (patterns with `*` and `?`), words nested in
//! defaults (`${A:-${B}}`), `'single'` quotes (literal), `"double"` quotes (variables
//! expanded, the escape character escapes only `"`, `$` and itself), and the escape
//! character outside quotes. Unknown variables expand to nothing.
//!
//! A Dockerfile is hostile input, so expansion is bounded: `${…}` nests at most
//! [`MAX_NESTING`] deep, a word grows by at most [`MAX_WORD_GROWTH`] bytes over its own text,
//! and the pattern operators (`#`, `%`, `/`) do at most [`MAX_PATTERN_WORK`] steps of
//! matching per word. Past a limit the word is refused with a message saying which.

mod pattern;

use pattern::{pattern_tokens, replace, trim_prefix, trim_suffix};

/// How deep `${…}` may nest inside the words of another `${…}`.
pub const MAX_NESTING: usize = 64;

/// How many bytes an expanded word may have beyond the length of its text (1 MiB).
pub const MAX_WORD_GROWTH: usize = 1 << 20;

/// Steps of pattern matching (pattern tokens × characters looked at) one word may take.
pub const MAX_PATTERN_WORK: u64 = 1 << 28;

/// Expands one word: quotes are removed, variables replaced, whitespace kept as it is.
/// `lookup` gives a variable's value (`None`: not set, which differs from set-but-empty for
/// `${VAR-word}` and `${VAR+word}`).
pub fn expand(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    expand_with(word, escape, lookup, Mode::default())
}

/// Expands variables in a heredoc's content when [`crate::Heredoc::expand`] says so (COPY
/// and ADD heredocs): as BuildKit does, quotes are part of the content and stay, `\`
/// escapes the next character (`\$HOME` gives `$HOME`).
pub fn expand_heredoc(
    content: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mode = Mode {
        skip_quotes: true,
        ..Mode::default()
    };
    expand_with(content, '\\', lookup, mode)
}

/// Splits a shell-form list of words (ENV, LABEL, ARG, EXPOSE, VOLUME, COPY/ADD arguments) at
/// unquoted whitespace, as Docker's `parseWords` does. Quotes and escapes stay in the words:
/// each word is to be given to [`expand`] later. An unterminated quote is an error.
pub fn split_words(s: &str, escape: char) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    // The quote character while inside quotes.
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match quote {
            None => {
                if ch.is_whitespace() {
                    if in_word && (blank_ok || !word.is_empty()) {
                        words.push(std::mem::take(&mut word));
                    }
                    in_word = false;
                    blank_ok = false;
                    continue;
                }
                in_word = true;
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    match chars.next() {
                        // An escape character at the very end is dropped.
                        None => continue,
                        Some(next) => {
                            word.push(ch);
                            word.push(next);
                            continue;
                        }
                    }
                }
                word.push(ch);
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                } else if ch == escape && q != '\'' {
                    match chars.next() {
                        None => {
                            quote = None;
                            continue;
                        }
                        Some(next) => {
                            word.push(ch);
                            word.push(next);
                            continue;
                        }
                    }
                }
                word.push(ch);
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated {q} quote in: {s}"));
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    Ok(words)
}

/// How the lexer treats quotes, escapes and unset variables (BuildKit's `Lex` switches).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Mode {
    /// Quotes are ordinary characters.
    pub skip_quotes: bool,
    /// Quotes are processed but kept in the result.
    pub raw_quotes: bool,
    /// Escape characters are kept in the result (the escaped character is still literal).
    pub raw_escapes: bool,
    /// An unset variable is left as written (`$X`, `${X:-y}`) instead of expanding to "".
    pub skip_unset: bool,
}

pub(crate) fn expand_with(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
    mode: Mode,
) -> Result<String, String> {
    let mut lexer = Lexer {
        chars: word.chars().collect(),
        pos: 0,
        escape,
        lookup,
        mode,
        raw_escapes: mode.raw_escapes,
        depth: 0,
        max_len: word.len().saturating_add(MAX_WORD_GROWTH),
        work: MAX_PATTERN_WORK,
    };
    lexer
        .until(None, mode.raw_escapes)
        .map_err(|error| format!("failed to process \"{}\": {error}", shorten(word)))
}

/// The word as an error message shows it: at most 80 characters of it.
fn shorten(word: &str) -> String {
    match word.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &word[..i]),
        None => word.to_owned(),
    }
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    mode: Mode,
    raw_escapes: bool,
    /// How many `${` enclose the current position.
    depth: usize,
    /// The longest any part of the result may be, in bytes.
    max_len: usize,
    /// Pattern matching steps left.
    work: u64,
}

impl Lexer<'_> {
    /// Refuses a result (or a part of one) longer than the word may grow.
    fn check_len(&self, s: &str) -> Result<(), String> {
        if s.len() > self.max_len {
            return Err(format!(
                "the expanded word is over {} bytes (the limit is {MAX_WORD_GROWTH} bytes more than its text)",
                self.max_len
            ));
        }
        Ok(())
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn lookup(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// Processes up to `stop` (consumed) or the end of input when `stop` is `None`.
    fn until(&mut self, stop: Option<char>, raw_escapes: bool) -> Result<String, String> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let result = self.until_inner(stop);
        self.raw_escapes = saved;
        result
    }

    fn until_inner(&mut self, stop: Option<char>) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok(out);
            }
            match c {
                '$' => {
                    out.push_str(&self.dollar()?);
                    self.check_len(&out)?;
                }
                '\'' if !self.mode.skip_quotes => out.push_str(&self.single_quoted()?),
                '"' if !self.mode.skip_quotes => {
                    out.push_str(&self.double_quoted()?);
                    self.check_len(&out)?;
                }
                _ => {
                    self.pos += 1;
                    if c == self.escape {
                        if self.raw_escapes {
                            out.push(c);
                        }
                        match self.next() {
                            Some(escaped) => out.push(escaped),
                            None => break,
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
        }
        match stop {
            Some(stop) => Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            )),
            None => Ok(out),
        }
    }

    fn single_quoted(&mut self) -> Result<String, String> {
        let mut out = String::new();
        self.pos += 1;
        if self.mode.raw_quotes {
            out.push('\'');
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => {
                    if self.mode.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, String> {
        let mut out = String::new();
        self.pos += 1;
        if self.mode.raw_quotes {
            out.push('"');
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.pos += 1;
                    if self.mode.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => {
                    out.push_str(&self.dollar()?);
                    self.check_len(&out)?;
                }
                Some(c) => {
                    self.pos += 1;
                    let mut ch = c;
                    if c == self.escape {
                        if self.raw_escapes {
                            out.push(c);
                        }
                        match self.peek() {
                            None => continue,
                            // Only these can be escaped inside double quotes; before any
                            // other character the escape character stays.
                            Some(next) if next == '"' || next == '$' || next == self.escape => {
                                self.pos += 1;
                                ch = next;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    fn dollar(&mut self) -> Result<String, String> {
        if self.depth >= MAX_NESTING {
            return Err(format!("${{…}} nested more than {MAX_NESTING} deep"));
        }
        self.depth += 1;
        let result = self.dollar_inner();
        self.depth -= 1;
        result
    }

    fn dollar_inner(&mut self) -> Result<String, String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.lookup(&name) {
                Some(value) => value,
                None if self.mode.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let Some(mut op) = self.next() else {
            return Err("syntax error: missing '}'".into());
        };
        let mut op_text = op.to_string();
        let mut null_is_unset = false;
        match op {
            '}' => Ok(match self.lookup(&name) {
                Some(value) => value,
                None if self.mode.skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            ':' | '+' | '-' | '?' | '#' | '%' => {
                if op == ':' {
                    null_is_unset = true;
                    op = self.next().unwrap_or('\0');
                    op_text.push(op);
                }
                let pattern = op == '#' || op == '%';
                let word = self.until(Some('}'), pattern).map_err(|error| {
                    if self.peek().is_none() {
                        "syntax error: missing '}'".to_string()
                    } else {
                        error
                    }
                })?;
                let value = self.lookup(&name);
                if self.mode.skip_unset && value.is_none() {
                    return Ok(format!("${{{name}{op_text}{word}}}"));
                }
                let unset = match &value {
                    None => true,
                    Some(v) => null_is_unset && v.is_empty(),
                };
                match op {
                    '-' if unset => Ok(word),
                    '-' => Ok(value.unwrap_or_default()),
                    '+' if unset => Ok(String::new()),
                    '+' => Ok(word),
                    '?' => match value {
                        None => Err(format!(
                            "{name}: {}",
                            or(word, "is not allowed to be unset")
                        )),
                        Some(v) if null_is_unset && v.is_empty() => Err(format!(
                            "{name}: {}",
                            or(word, "is not allowed to be empty")
                        )),
                        Some(v) => Ok(v),
                    },
                    '#' | '%' => {
                        let (longest, pattern) = match word.strip_prefix(op) {
                            Some(rest) => (true, rest.to_string()),
                            None => (false, word),
                        };
                        let tokens = pattern_tokens(&pattern, self.escape)?;
                        let value: Vec<char> = value.unwrap_or_default().chars().collect();
                        if op == '#' {
                            trim_prefix(&tokens, &value, longest, &mut self.work)
                        } else {
                            trim_suffix(&tokens, &value, longest, &mut self.work)
                        }
                    }
                    _ => Err(format!("unsupported modifier ({op_text}) in substitution")),
                }
            }
            '/' => {
                let all = self.peek() == Some('/');
                if all {
                    self.pos += 1;
                }
                let pattern = self.until(Some('/'), true).map_err(|error| {
                    if self.peek().is_none() {
                        "syntax error: missing '/' in ${}".to_string()
                    } else {
                        error
                    }
                })?;
                let replacement = self.until(Some('}'), true).map_err(|error| {
                    if self.peek().is_none() {
                        "syntax error: missing '}'".to_string()
                    } else {
                        error
                    }
                })?;
                let value = self.lookup(&name);
                if self.mode.skip_unset && value.is_none() {
                    return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
                }
                let tokens = pattern_tokens(&pattern, self.escape)?;
                let replacement = unescape(&replacement, self.escape);
                let value: Vec<char> = value.unwrap_or_default().chars().collect();
                let max_len = self.max_len;
                replace(&tokens, &value, &replacement, all, &mut self.work, max_len)
            }
            _ => Err(format!("unsupported modifier ({op_text}) in substitution")),
        }
    }

    /// A variable name: letters, digits and `_`; or all digits; or one special parameter.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && "@*#?-$!0".contains(c) {
                self.pos += 1;
                return c.to_string();
            }
            if !c.is_alphanumeric() && c != '_' {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        name
    }
}

fn or(word: String, default: &str) -> String {
    if word.is_empty() {
        default.to_string()
    } else {
        word
    }
}

fn unescape(s: &str, escape: char) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == escape {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
