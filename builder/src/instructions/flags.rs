//! An instruction's `--name[=value]` flags, checked against the ones it accepts (BuildKit's
//! `BFlags`).

/// What a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--link`, `--link=true`, `--link=false`.
    Bool,
    /// `--from=x`, once.
    Value,
    /// `--mount=x`, any number of times.
    Values,
}

/// The flags given to one instruction.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    given: Vec<(&'static str, Vec<String>)>,
}

impl Flags {
    /// The value of a [`Kind::Value`] flag, if given.
    pub fn value(&self, name: &str) -> Option<String> {
        self.values(name).last().cloned()
    }

    /// Every value of a [`Kind::Values`] flag, in order.
    pub fn values(&self, name: &str) -> &[String] {
        self.given
            .iter()
            .find(|(given, _)| *given == name)
            .map(|(_, values)| values.as_slice())
            .unwrap_or(&[])
    }

    /// A [`Kind::Bool`] flag: false unless given as `--name` or `--name=true`.
    pub fn bool(&self, name: &str) -> bool {
        self.value(name).is_some_and(|v| v == "true")
    }
}

/// Checks `raw` (as `--from=x`) against `accepted`.
pub(crate) fn parse(raw: &[String], accepted: &[(&'static str, Kind)]) -> Result<Flags, String> {
    let mut flags = Flags::default();
    for arg in raw {
        let Some(body) = arg.strip_prefix("--") else {
            return Err(format!("arg should start with -- : {arg}"));
        };
        if body.is_empty() {
            break;
        }
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let Some(&(known, kind)) = accepted.iter().find(|(known, _)| *known == name) else {
            let names: Vec<&str> = accepted.iter().map(|(known, _)| *known).collect();
            return Err(match suggest(name, &names) {
                Some(near) => format!("unknown flag: {name} (did you mean {near}?)"),
                None => format!("unknown flag: {name}"),
            });
        };
        let index = match flags.given.iter().position(|(given, _)| *given == known) {
            Some(_) if kind != Kind::Values => {
                return Err(format!("duplicate flag specified: {name}"));
            }
            Some(index) => index,
            None => {
                flags.given.push((known, Vec::new()));
                flags.given.len() - 1
            }
        };
        let value = match (kind, value) {
            (Kind::Bool, None) => "true".to_string(),
            (Kind::Bool, Some(value)) => match value.to_ascii_lowercase().as_str() {
                "true" => "true".to_string(),
                "false" => "false".to_string(),
                "" => return Err(format!("missing a value on flag: {name}")),
                _ => {
                    return Err(format!(
                        "expecting boolean value for flag {name}, not: {value}"
                    ))
                }
            },
            (_, None) => return Err(format!("missing a value on flag: {name}")),
            (_, Some(value)) => value.to_string(),
        };
        flags.given[index].1.push(value);
    }
    Ok(flags)
}

/// The candidate closest to `word` (case-insensitively), if it is close enough to be a typo.
pub(crate) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|candidate| (distance(&word, &candidate.to_ascii_lowercase()), *candidate))
        .filter(|(d, candidate)| *d <= (candidate.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}
