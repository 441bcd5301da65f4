//! Docker's detach keys (`--detach-keys`, ctrl-p ctrl-q by default): read from their
//! flag, and found in a terminal's input as it is typed.

use crate::error::{Error, Result};

/// Docker's default: ctrl-p ctrl-q.
pub const DEFAULT: &[u8] = &[0x10, 0x11];

/// Reads docker's `--detach-keys`: comma-separated `ctrl-<a-z@[\]^_>` or single characters.
pub fn parse(s: &str) -> Result<Vec<u8>> {
    let bad = || Error::InvalidOption {
        flag: "--detach-keys".into(),
        reason: format!("invalid detach keys {s:?} (e.g. ctrl-p,ctrl-q)"),
    };
    s.split(',')
        .map(|k| match k.strip_prefix("ctrl-") {
            Some(c) if c.len() == 1 => {
                let b = c.as_bytes()[0].to_ascii_lowercase();
                match b {
                    b'a'..=b'z' => Ok(b - b'a' + 1),
                    b'@' => Ok(0),
                    b'[' => Ok(27),
                    b'\\' => Ok(28),
                    b']' => Ok(29),
                    b'^' => Ok(30),
                    b'_' => Ok(31),
                    _ => Err(bad()),
                }
            }
            None if k.len() == 1 => Ok(k.as_bytes()[0]),
            _ => Err(bad()),
        })
        .collect()
}

/// The detach keys being looked for in input, across reads.
#[derive(Debug, Clone, Default)]
pub struct DetachKeys {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachKeys {
    /// Looks for `keys` (none: never detaches).
    pub fn new(keys: Vec<u8>) -> DetachKeys {
        DetachKeys { keys, matched: 0 }
    }

    /// The keys looked for.
    pub fn keys(&self) -> &[u8] {
        &self.keys
    }

    /// What of `input` goes on to the container, and whether the keys were typed (what
    /// follows them is dropped). The keys typed in a row are not sent; a partial match
    /// that breaks off is sent as it was typed.
    pub fn filter(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut data = Vec::with_capacity(input.len());
        for &b in input {
            if !self.keys.is_empty() && b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (data, true);
                }
                continue;
            }
            data.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            data.push(b);
        }
        (data, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_read_as_dockers() {
        assert_eq!(parse("ctrl-p,ctrl-q").unwrap(), [0x10, 0x11]);
        assert_eq!(parse("ctrl-a,x").unwrap(), [1, b'x']);
        assert_eq!(parse("ctrl-@").unwrap(), [0]);
        assert!(parse("ctrl-").is_err());
        assert!(parse("alt-p").is_err());
    }

    #[test]
    fn keys_are_found_across_reads_and_broken_matches_pass() {
        let mut k = DetachKeys::new(DEFAULT.to_vec());
        assert_eq!(k.filter(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(k.filter(b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(k.filter(b"x\x10"), (b"x".to_vec(), false));
        assert_eq!(k.filter(b"\x11rest"), (Vec::new(), true));
        let mut none = DetachKeys::default();
        assert_eq!(none.filter(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
