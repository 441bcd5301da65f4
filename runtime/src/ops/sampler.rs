//! `stats`: which containers are sampled (those named, else the running ones, or every
//! one with `-a`, listed again at each round) and their usage between two rounds.

use std::collections::HashMap;

use crate::ops::lifecycle;
use crate::ops::stats::{Sample, Usage};
use crate::store::containers::{Container, Containers};

/// Which containers a round samples.
#[derive(Debug, Clone)]
enum Selection {
    /// Those named, looked up once: (the name given, its id).
    Named(Vec<(String, String)>),
    /// Those running (`all`: every one), listed at each round.
    Listed { all: bool },
}

/// One container's figures in a round.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The container as named on the command line (its name when listed).
    pub shown: String,
    /// The container.
    pub container: Container,
    /// Its usage since the previous round.
    pub usage: Usage,
}

/// Samples containers round after round; each round's usage is taken against the round
/// before (the first against [`Sampler::new`]'s samples).
pub struct Sampler<'a> {
    containers: &'a Containers,
    selection: Selection,
    previous: HashMap<String, Sample>,
}

impl<'a> Sampler<'a> {
    /// Samples `names` (an unknown one is an error), or with none the running containers
    /// (`all`: every container).
    pub fn new(containers: &'a Containers, names: &[String], all: bool) -> crate::Result<Self> {
        let selection = if names.is_empty() {
            Selection::Listed { all }
        } else {
            let mut v = Vec::new();
            for n in names {
                v.push((n.clone(), containers.resolve(n)?));
            }
            Selection::Named(v)
        };
        let mut s = Sampler {
            containers,
            selection,
            previous: HashMap::new(),
        };
        for (_, c) in s.current()? {
            s.previous.insert(c.id().to_owned(), Sample::take(&c));
        }
        Ok(s)
    }

    fn current(&self) -> crate::Result<Vec<(String, Container)>> {
        Ok(match &self.selection {
            Selection::Named(v) => v
                .iter()
                .filter_map(|(n, id)| {
                    lifecycle::reconcile(self.containers, id)
                        .ok()
                        .map(|c| (n.clone(), c))
                })
                .collect(),
            Selection::Listed { all } => lifecycle::reconcile_all(self.containers)?
                .into_iter()
                .filter(|c| *all || c.state.is_running())
                .map(|c| (c.config.name.clone(), c))
                .collect(),
        })
    }

    /// The next round: each container's usage since the last.
    pub fn round(&mut self) -> crate::Result<Vec<Figures>> {
        let mut out = Vec::new();
        let mut next = HashMap::new();
        for (shown, c) in self.current()? {
            let now = Sample::take(&c);
            let usage = now.usage_since(self.previous.get(c.id()).unwrap_or(&now));
            next.insert(c.id().to_owned(), now);
            out.push(Figures {
                shown,
                container: c,
                usage,
            });
        }
        self.previous = next;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_name_is_an_error_and_no_names_list_nothing_when_none_run() {
        let dir = tempfile::tempdir().unwrap();
        let containers = Containers::open(dir.path()).unwrap();
        let names = ["nothing".to_owned()];
        assert!(matches!(
            Sampler::new(&containers, &names, false),
            Err(crate::Error::NoSuchContainer(_))
        ));
        let mut s = Sampler::new(&containers, &[], true).unwrap();
        assert!(s.round().unwrap().is_empty());
    }
}
