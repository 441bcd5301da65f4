//! `.dockerignore`: which files of the build context are left out, with Docker's rules
//! (moby/patternmatcher and its `ignorefile` reader).
//!
//! - a line starting with `#` (in its first column) is a comment; blank lines are skipped;
//! - each pattern is trimmed and cleaned like Go's `filepath.Clean` (`./a/` is `a`, `a//b`
//!   is `a/b`), and a leading `/` is dropped: patterns are relative to the context's root;
//! - `!pattern` re-includes what earlier patterns excluded; the last matching pattern wins;
//! - `*` matches any run of characters except `/`, `?` one character except `/`, `[a-z]` a
//!   class, `\` escapes; `**` matches any number of directories (`**/x`, `a/**/b`, `a/**`);
//! - a pattern matching a directory excludes everything below it.

/// A parsed `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
    invalid: Vec<String>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned pattern, without its `!`.
    text: String,
    exclusion: bool,
    matcher: Matcher,
}

/// How a pattern matches, as patternmatcher decides it.
#[derive(Debug, Clone)]
enum Matcher {
    /// No wildcard: the path is the pattern.
    Exact,
    /// `prefix**`: the path starts with the prefix.
    Prefix(String),
    /// `**suffix` without other wildcards: the path ends with the suffix.
    Suffix(String),
    Glob(Vec<Token>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(char),
    /// `*`: any run of non-`/` characters.
    Star,
    /// `?`: one non-`/` character.
    One,
    /// `**` followed by more: any run of whole directories, possibly none (`(.*/)?`).
    Dirs,
    /// `**` at the end: anything.
    Rest,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl DockerIgnore {
    /// Reads a `.dockerignore`'s text. Patterns Docker would refuse (`!` alone, an
    /// unterminated `[`, a trailing `\`) are left out; see [`DockerIgnore::invalid_patterns`].
    pub fn parse(text: &str) -> DockerIgnore {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut ignore = DockerIgnore::default();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (exclusion, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if pattern.is_empty() {
                ignore.invalid.push(line.to_string());
                continue;
            }
            let mut text = clean(pattern);
            if text.len() > 1 && text.starts_with('/') {
                text.remove(0);
            }
            match compile(&text) {
                Some(matcher) => ignore.patterns.push(Pattern {
                    text,
                    exclusion,
                    matcher,
                }),
                None => ignore.invalid.push(line.to_string()),
            }
        }
        ignore
    }

    /// Lines that are not valid patterns (Docker refuses the build over them).
    pub fn invalid_patterns(&self) -> &[String] {
        &self.invalid
    }

    /// Whether there is no pattern at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `rel_path` (relative to the context root, `/`-separated, like `src/main.rs`)
    /// is left out of the context: by the last pattern matching it or one of its parent
    /// directories.
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        let path = normalize(rel_path);
        if path == "." {
            return false;
        }
        let parents: Vec<&str> = match path.rfind('/') {
            Some(at) => path[..at].split('/').collect(),
            None => Vec::new(),
        };
        let mut excluded = false;
        for pattern in &self.patterns {
            // An exclusion only matters once something is excluded, and the reverse.
            if pattern.exclusion != excluded {
                continue;
            }
            let matched = pattern.matches(&path)
                || (1..=parents.len()).any(|n| pattern.matches(&parents[..n].join("/")));
            if matched {
                excluded = !pattern.exclusion;
            }
        }
        excluded
    }

    /// Whether a walk of the context must still enter the excluded directory `rel_dir`:
    /// true when some `!` pattern could match a path below it. A directory for which this is
    /// false can be skipped whole.
    pub fn may_contain_included(&self, rel_dir: &str) -> bool {
        let dir = normalize(rel_dir);
        let dir_parts: Vec<&str> = if dir == "." {
            Vec::new()
        } else {
            dir.split('/').collect()
        };
        self.patterns
            .iter()
            .filter(|pattern| pattern.exclusion)
            .any(|pattern| {
                for (i, part) in pattern.text.split('/').enumerate() {
                    if part.contains("**") {
                        return true;
                    }
                    let Some(dir_part) = dir_parts.get(i) else {
                        // The pattern goes deeper than the directory, along a matching path.
                        return true;
                    };
                    let matches = compile(part).is_none_or(|matcher| {
                        Pattern {
                            text: part.to_string(),
                            exclusion: true,
                            matcher,
                        }
                        .matches(dir_part)
                    });
                    if !matches {
                        return false;
                    }
                }
                // The pattern matches the directory itself or a parent: all is re-included.
                true
            })
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.matcher {
            Matcher::Exact => path == self.text,
            Matcher::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Matcher::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    || suffix.strip_prefix('/').is_some_and(|bare| path == bare)
            }
            Matcher::Glob(tokens) => {
                let chars: Vec<char> = path.chars().collect();
                glob_matches(tokens, &chars)
            }
        }
    }
}

/// Turns a cleaned pattern into a matcher as patternmatcher's `compile` does; `None` for a
/// malformed pattern.
fn compile(pattern: &str) -> Option<Matcher> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Glob,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut kind = Kind::Exact;
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        tokens.push(Token::Rest);
                        kind = Kind::Glob;
                    }
                } else {
                    tokens.push(Token::Dirs);
                    kind = Kind::Glob;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                tokens.push(Token::Star);
                kind = Kind::Glob;
            }
            '?' => {
                tokens.push(Token::One);
                kind = Kind::Glob;
            }
            '\\' => {
                let escaped = *chars.get(i)?;
                i += 1;
                tokens.push(Token::Literal(escaped));
                kind = Kind::Glob;
            }
            '[' => {
                let (class, next) = class(&chars, i)?;
                tokens.push(class);
                i = next;
                kind = Kind::Glob;
            }
            c => tokens.push(Token::Literal(c)),
        }
        first = false;
    }
    Some(match kind {
        Kind::Exact => Matcher::Exact,
        Kind::Prefix => Matcher::Prefix(pattern[..pattern.len() - 2].to_string()),
        Kind::Suffix => Matcher::Suffix(pattern[2..].to_string()),
        Kind::Glob => Matcher::Glob(tokens),
    })
}

/// A `[...]` class starting after the `[` at `start`: the token and the index after `]`.
fn class(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut i = start;
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if chars.get(i) == Some(&']') && !ranges.is_empty() {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        let (lo, next) = class_char(chars, i)?;
        i = next;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            let (h, next) = class_char(chars, i + 1)?;
            hi = h;
            i = next;
        }
        ranges.push((lo, hi));
    }
}

fn class_char(chars: &[char], i: usize) -> Option<(char, usize)> {
    match *chars.get(i)? {
        '-' | ']' => None,
        '\\' => Some((*chars.get(i + 1)?, i + 2)),
        c => Some((c, i + 1)),
    }
}

fn glob_matches(tokens: &[Token], s: &[char]) -> bool {
    // memo[t * (n + 1) + i]: 0 unknown, 1 false, 2 true.
    let n = s.len();
    let mut memo = vec![0u8; (tokens.len() + 1) * (n + 1)];
    glob_at(tokens, s, 0, 0, &mut memo)
}

fn glob_at(tokens: &[Token], s: &[char], t: usize, i: usize, memo: &mut [u8]) -> bool {
    let n = s.len();
    let key = t * (n + 1) + i;
    if memo[key] != 0 {
        return memo[key] == 2;
    }
    let result = match tokens.get(t) {
        None => i == n,
        Some(Token::Literal(c)) => s.get(i) == Some(c) && glob_at(tokens, s, t + 1, i + 1, memo),
        Some(Token::One) => {
            s.get(i).is_some_and(|&c| c != '/') && glob_at(tokens, s, t + 1, i + 1, memo)
        }
        Some(Token::Class { negated, ranges }) => {
            s.get(i)
                .is_some_and(|&c| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated)
                && glob_at(tokens, s, t + 1, i + 1, memo)
        }
        Some(Token::Star) => {
            let mut j = i;
            loop {
                if glob_at(tokens, s, t + 1, j, memo) {
                    break true;
                }
                if j == n || s[j] == '/' {
                    break false;
                }
                j += 1;
            }
        }
        Some(Token::Dirs) => {
            glob_at(tokens, s, t + 1, i, memo)
                || (i..n).any(|j| s[j] == '/' && glob_at(tokens, s, t + 1, j + 1, memo))
        }
        Some(Token::Rest) => (i..=n).any(|j| glob_at(tokens, s, t + 1, j, memo)),
    };
    memo[key] = if result { 2 } else { 1 };
    result
}

/// A path given by the caller: `./` and `/` prefixes and trailing `/` removed, cleaned.
fn normalize(path: &str) -> String {
    let path = path.strip_prefix("./").unwrap_or(path);
    let cleaned = clean(path);
    match cleaned.strip_prefix('/') {
        Some("") => ".".to_string(),
        Some(rest) => rest.to_string(),
        None => cleaned,
    }
}

/// Go's `filepath.Clean` for `/`-separated paths.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests;
