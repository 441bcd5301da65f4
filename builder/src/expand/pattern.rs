//! The pattern operators of word expansion (`${VAR#p}`, `${VAR%p}`, `${VAR/p/r}`): BuildKit's
//! patterns, matched in time linear in the value for each token, every step charged to the
//! word's budget of [`MAX_PATTERN_WORK`].

use super::{MAX_PATTERN_WORK, MAX_WORD_GROWTH};

/// One element of a `${VAR#pattern}` pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum PatternToken {
    /// `*`: any run of characters.
    Any,
    /// `?`: one character.
    One,
    Literal(char),
}

/// BuildKit's pattern rules: `*`, `?`; the escape character makes `*`, `?` or itself literal
/// and is dropped before `}` and `/`; any other escape is an error.
pub(super) fn pattern_tokens(pattern: &str, escape: char) -> Result<Vec<PatternToken>, String> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' => PatternToken::Any,
            '?' => PatternToken::One,
            c if c == escape => match chars.peek().copied() {
                Some('}' | '/') => continue,
                Some(next) if next == '*' || next == '?' || next == escape => {
                    chars.next();
                    PatternToken::Literal(next)
                }
                next => {
                    let shown = next.map(String::from).unwrap_or_default();
                    return Err(format!(
                        "invalid pattern ({pattern}) in substitution: invalid escape '{escape}{shown}'"
                    ));
                }
            },
            c => PatternToken::Literal(c),
        });
    }
    Ok(tokens)
}

/// The error when a word's pattern matching takes more than [`MAX_PATTERN_WORK`] steps.
fn too_much_work() -> String {
    format!("pattern matching in this word takes over {MAX_PATTERN_WORK} steps")
}

/// Every `k` in `0..=s.len()` such that `s[..k]` matches `tokens` as a whole: one pass per
/// token over the positions reached so far, so the time is linear in the length of `s` for
/// each token, whatever the pattern (a backtracking match is exponential in its `*`s). Only
/// the span of positions that can still be reached is held and looked at (a pattern without
/// `*` looks at no more characters than it has tokens); the steps are charged to `work`.
fn match_ends(tokens: &[PatternToken], s: &[char], work: &mut u64) -> Result<Ends, String> {
    // The reached positions are `lo + i` for each true `reached[i]`: only the span that can
    // still be reached is held, so a short pattern costs little on a long value.
    let mut lo = 0usize;
    let mut reached = vec![true];
    for t in tokens {
        *work = work
            .checked_sub(reached.len() as u64)
            .ok_or_else(too_much_work)?;
        let Some(first) = reached.iter().position(|r| *r) else {
            break;
        };
        match t {
            PatternToken::Any => {
                lo += first;
                *work = work
                    .checked_sub((s.len() - lo) as u64)
                    .ok_or_else(too_much_work)?;
                reached = vec![true; s.len() - lo + 1];
            }
            PatternToken::One | PatternToken::Literal(_) => {
                let mut next = Vec::with_capacity(reached.len());
                for (i, r) in reached.iter().enumerate() {
                    let k = lo + i;
                    if k >= s.len() {
                        break;
                    }
                    next.push(
                        *r && match t {
                            PatternToken::Literal(c) => s[k] == *c,
                            _ => true,
                        },
                    );
                }
                lo += 1;
                reached = next;
            }
        }
    }
    Ok(Ends { lo, reached })
}

/// Where matches of a pattern at the start of a value end: `lo + i` for each true
/// `reached[i]`.
struct Ends {
    lo: usize,
    reached: Vec<bool>,
}

impl Ends {
    /// The shortest match's length.
    fn shortest(&self) -> Option<usize> {
        self.reached.iter().position(|r| *r).map(|i| self.lo + i)
    }

    /// The longest match's length.
    fn longest(&self) -> Option<usize> {
        self.reached.iter().rposition(|r| *r).map(|i| self.lo + i)
    }
}

pub(super) fn trim_prefix(
    tokens: &[PatternToken],
    value: &[char],
    longest: bool,
    work: &mut u64,
) -> Result<String, String> {
    let ends = match_ends(tokens, value, work)?;
    let end = if longest {
        ends.longest()
    } else {
        ends.shortest()
    };
    Ok(match end {
        Some(end) => value[end..].iter().collect(),
        None => value.iter().collect(),
    })
}

pub(super) fn trim_suffix(
    tokens: &[PatternToken],
    value: &[char],
    longest: bool,
    work: &mut u64,
) -> Result<String, String> {
    // A suffix matching is a prefix of the reversed value matching the reversed pattern.
    let rev_tokens: Vec<PatternToken> = tokens.iter().rev().copied().collect();
    let rev_value: Vec<char> = value.iter().rev().copied().collect();
    let lens = match_ends(&rev_tokens, &rev_value, work)?;
    let len = if longest {
        lens.longest()
    } else {
        lens.shortest()
    };
    Ok(match len {
        Some(len) => value[..value.len() - len].iter().collect(),
        None => value.iter().collect(),
    })
}

/// Replaces the first (or every) leftmost-longest match of a non-empty pattern; a result
/// over `max_len` bytes is refused.
pub(super) fn replace(
    tokens: &[PatternToken],
    value: &[char],
    replacement: &str,
    all: bool,
    work: &mut u64,
    max_len: usize,
) -> Result<String, String> {
    let mut out = String::new();
    let mut pos = 0;
    let mut replaced = false;
    while pos < value.len() {
        let found = if tokens.is_empty() || (replaced && !all) {
            None
        } else {
            match_ends(tokens, &value[pos..], work)?
                .longest()
                .filter(|&len| len > 0)
                .map(|len| pos + len)
        };
        match found {
            Some(end) => {
                out.push_str(replacement);
                pos = end;
                replaced = true;
            }
            None => {
                out.push(value[pos]);
                pos += 1;
            }
        }
        if out.len() > max_len {
            return Err(format!(
                "the expanded word is over {max_len} bytes (the limit is {MAX_WORD_GROWTH} bytes more than its text)"
            ));
        }
    }
    Ok(out)
}
