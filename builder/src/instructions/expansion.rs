//! Word expansion at dispatch (BuildKit's `Expand` on each command): an instruction as
//! written becomes the instruction the executor runs, with every word Docker expands
//! expanded with the ARG and ENV values of its step, once.

use super::{ArgDecl, Heredoc, Instruction};
use crate::expand::{expand, expand_heredoc};

/// The most bytes one instruction's expanded words may take together (4 MiB, as a stage's
/// ENV and ARG values and its config): each word's growth is bounded by
/// [`crate::expand::MAX_WORD_GROWTH`], and this bounds a line of many words.
pub const MAX_EXPANDED_SIZE: usize = 4 << 20;

impl Instruction {
    /// The instruction with its words expanded, `lookup` giving the step's ARG and ENV
    /// values (`None`: not set) and `escape` the Dockerfile's escape character.
    ///
    /// Expanded: RUN's `--mount` values; COPY's and ADD's sources, destination and
    /// `--checksum`, and the content of their heredocs unless a quoted delimiter says not
    /// to (the result is then a heredoc to take as it is: `expand` and `strip_tabs` false);
    /// WORKDIR, USER, STOPSIGNAL; each word of VOLUME and EXPOSE; LABEL's keys and values;
    /// ENV's values, each seeing the values set before it on the same line
    /// (`ENV A=1 B=$A` gives B `1`); ARG's defaults, with the values before the instruction
    /// (an ARG sets each of its names in turn, and only a default that is used is expanded:
    /// the executor expands an ARG one declaration at a time).
    ///
    /// As written: RUN's command and heredocs (the shell expands them), CMD, ENTRYPOINT,
    /// SHELL, HEALTHCHECK, ONBUILD, MAINTAINER, ENV's keys, and COPY's `--from`, `--chown`
    /// and `--chmod`.
    pub fn expand(
        &self,
        escape: char,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Instruction, String> {
        let mut words = Words {
            escape,
            lookup,
            set: Vec::new(),
            size: 0,
        };
        Ok(match self {
            Instruction::Run {
                command,
                heredocs,
                network,
                mounts,
                security,
            } => Instruction::Run {
                command: command.clone(),
                heredocs: heredocs.clone(),
                network: network.clone(),
                mounts: words.all(mounts)?,
                security: security.clone(),
            },
            Instruction::Copy {
                sources,
                dest,
                from,
                chown,
                chmod,
                link,
                heredocs,
            } => Instruction::Copy {
                sources: words.all(sources)?,
                dest: words.one(dest)?,
                from: from.clone(),
                chown: chown.clone(),
                chmod: chmod.clone(),
                link: *link,
                heredocs: words.heredocs(heredocs)?,
            },
            Instruction::Add {
                sources,
                dest,
                chown,
                chmod,
                checksum,
                link,
                heredocs,
            } => Instruction::Add {
                sources: words.all(sources)?,
                dest: words.one(dest)?,
                chown: chown.clone(),
                chmod: chmod.clone(),
                checksum: checksum.as_deref().map(|c| words.one(c)).transpose()?,
                link: *link,
                heredocs: words.heredocs(heredocs)?,
            },
            Instruction::Workdir(w) => Instruction::Workdir(words.one(w)?),
            Instruction::User(u) => Instruction::User(words.one(u)?),
            Instruction::StopSignal(s) => Instruction::StopSignal(words.one(s)?),
            Instruction::Volume(v) => Instruction::Volume(words.all(v)?),
            Instruction::Expose(p) => Instruction::Expose(words.all(p)?),
            Instruction::Label(pairs) => Instruction::Label(
                pairs
                    .iter()
                    .map(|(k, v)| Ok((words.one(k)?, words.one(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Instruction::Env(pairs) => {
                let mut out = Vec::with_capacity(pairs.len());
                for (k, v) in pairs {
                    let v = words.one(v)?;
                    words.set.push((k.clone(), v.clone()));
                    out.push((k.clone(), v));
                }
                Instruction::Env(out)
            }
            Instruction::Arg(decls) => Instruction::Arg(
                decls
                    .iter()
                    .map(|d| {
                        Ok(ArgDecl {
                            name: d.name.clone(),
                            default: d.default.as_deref().map(|v| words.one(v)).transpose()?,
                        })
                    })
                    .collect::<Result<_, String>>()?,
            ),
            Instruction::Cmd(_)
            | Instruction::Entrypoint(_)
            | Instruction::Shell(_)
            | Instruction::Healthcheck(_)
            | Instruction::Onbuild(_)
            | Instruction::Maintainer(_) => self.clone(),
        })
    }
}

impl ArgDecl {
    /// The declaration with its default expanded, as [`Instruction::expand`] does: ARG is
    /// dispatched one declaration at a time, as each sets a variable the next may use, and
    /// only when its default is used.
    pub fn expand(
        &self,
        escape: char,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ArgDecl, String> {
        match Instruction::Arg(vec![self.clone()]).expand(escape, lookup)? {
            Instruction::Arg(mut decls) if decls.len() == 1 => Ok(decls.remove(0)),
            other => unreachable!("an ARG expands to itself: {other:?}"),
        }
    }
}

/// The words of one instruction as they are expanded.
struct Words<'a> {
    escape: char,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Variables the instruction has set so far (ENV), latest last.
    set: Vec<(String, String)>,
    /// Bytes expanded so far.
    size: usize,
}

impl Words<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.set
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| (self.lookup)(name))
    }

    fn count(&mut self, word: String) -> Result<String, String> {
        self.size += word.len();
        if self.size > MAX_EXPANDED_SIZE {
            return Err(format!(
                "the instruction's expanded words would take over {MAX_EXPANDED_SIZE} bytes"
            ));
        }
        Ok(word)
    }

    fn one(&mut self, word: &str) -> Result<String, String> {
        let expanded = expand(word, self.escape, &|n| self.get(n))?;
        self.count(expanded)
    }

    fn all(&mut self, words: &[String]) -> Result<Vec<String>, String> {
        words.iter().map(|w| self.one(w)).collect()
    }

    fn heredocs(&mut self, heredocs: &[Heredoc]) -> Result<Vec<Heredoc>, String> {
        heredocs
            .iter()
            .map(|h| {
                if !h.expand {
                    return Ok(h.clone());
                }
                let content = expand_heredoc(&h.body(), &|n| self.get(n))?;
                Ok(Heredoc {
                    name: h.name.clone(),
                    content: self.count(content)?,
                    expand: false,
                    strip_tabs: false,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
