//! Metadata instructions: ENV, LABEL, WORKDIR, USER, CMD, ENTRYPOINT, EXPOSE, VOLUME,
//! STOPSIGNAL, SHELL, HEALTHCHECK and ONBUILD change the image config only.

use rbox_image::config::{Field, Healthcheck};
use serde_json::json;

use super::cache::StepKey;
use super::StageState;
use crate::instructions::Instruction;

impl StageState {
    /// Expands a metadata instruction (one that changes only the config) with this stage's
    /// ARG and ENV values, `escape` the escape character of its words, and applies it;
    /// [`Meta::No`] for the others (RUN, COPY, ADD, ARG, MAINTAINER).
    pub(crate) fn apply_metadata(
        &mut self,
        ins: &Instruction,
        escape: char,
    ) -> Result<Meta, String> {
        let expanded = ins.expand(escape, &|n| self.lookup(n))?;
        self.apply(&expanded)
    }

    /// Applies a metadata instruction whose words are expanded ([`Instruction::expand`]);
    /// [`Meta::No`] for the others.
    pub(super) fn apply(&mut self, ins: &Instruction) -> Result<Meta, String> {
        let key = match ins {
            Instruction::Env(pairs) => {
                for (k, v) in pairs {
                    self.set_env(k, v)?;
                }
                Some(StepKey::Env { env: self.env() })
            }
            Instruction::Label(pairs) => {
                let labels = self.config.labels.get_mut_or_default();
                for (k, v) in pairs {
                    labels.insert(k.clone(), v.clone());
                }
                None
            }
            Instruction::Workdir(w) => {
                let w = w.clone();
                let full = if w.starts_with('/') {
                    w
                } else {
                    format!("{}/{w}", self.workdir().trim_end_matches('/'))
                };
                self.config.working_dir = Field::Set(full.clone());
                Some(StepKey::Workdir { path: full })
            }
            Instruction::User(u) => {
                self.config.user = Field::Set(u.clone());
                Some(StepKey::User { user: u.clone() })
            }
            Instruction::Cmd(c) => {
                self.config.cmd = Field::Set(self.shell_words(c));
                self.cmd_set_here = true;
                None
            }
            Instruction::Entrypoint(c) => {
                self.config.entrypoint = Field::Set(self.shell_words(c));
                // As Docker: an ENTRYPOINT drops a CMD inherited from the base image.
                if !self.cmd_set_here {
                    self.config.cmd = Field::Absent;
                }
                None
            }
            Instruction::Expose(ports) => {
                let exposed = self.config.exposed_ports.get_mut_or_default();
                for p in ports {
                    let p = if p.contains('/') {
                        p.clone()
                    } else {
                        format!("{p}/tcp")
                    };
                    exposed.insert(p, json!({}));
                }
                None
            }
            Instruction::Volume(vols) => {
                let v = self.config.volumes.get_mut_or_default();
                for p in vols {
                    v.insert(p.clone(), json!({}));
                }
                Some(StepKey::Volume {
                    volumes: vols.clone(),
                })
            }
            Instruction::StopSignal(s) => {
                self.config.stop_signal = Field::Set(s.clone());
                None
            }
            Instruction::Shell(s) => {
                self.config.shell = Field::Set(s.clone());
                Some(StepKey::Shell { shell: s.clone() })
            }
            Instruction::Healthcheck(h) => {
                let check = match h {
                    None => Healthcheck {
                        test: Some(vec!["NONE".into()]),
                        ..Default::default()
                    },
                    Some(h) => {
                        let ns = |d: &Option<String>| -> Result<Option<i64>, String> {
                            d.as_deref()
                                .map(|d| {
                                    rbox_runtime::model::options::duration_ns(d)
                                        .map(|n| n as i64)
                                        .ok_or_else(|| format!("bad duration {d:?}"))
                                })
                                .transpose()
                        };
                        Healthcheck {
                            test: Some(h.test.clone()),
                            interval: ns(&h.interval)?,
                            timeout: ns(&h.timeout)?,
                            start_period: ns(&h.start_period)?,
                            start_interval: ns(&h.start_interval)?,
                            retries: h.retries.map(|r| r as i64),
                            ..Default::default()
                        }
                    }
                };
                self.config.healthcheck = Field::Set(check);
                None
            }
            Instruction::Onbuild(t) => {
                self.config.on_build.get_mut_or_default().push(t.clone());
                None
            }
            _ => return Ok(Meta::No),
        };
        Ok(Meta::Applied(key))
    }
}

/// The most bytes a stage's image config may take (4 MiB): labels and the like, line after
/// line, are bounded too (the store reads no document over 8 MiB).
pub const MAX_CONFIG_SIZE: usize = 4 << 20;

/// What [`StageState::apply_metadata`] did.
pub(crate) enum Meta {
    /// Not a metadata instruction.
    No,
    /// Applied; what it adds to the cache key, if anything.
    Applied(Option<StepKey>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instructions::parse;

    fn instruction(text: &str) -> Instruction {
        let df = parse(&format!("FROM scratch\n{text}\n")).expect("parses");
        df.stages[0].instructions[0].inner.clone()
    }

    #[test]
    fn words_are_expanded_once_at_dispatch() {
        let mut st = StageState::with_config(Default::default());
        st.set_env("B", "x").unwrap();
        st.apply_metadata(&instruction("ENV A='$B' C=$B D=$C"), '\\')
            .unwrap();
        assert_eq!(st.env(), ["B=x", "A=$B", "C=x", "D=x"]);
        // A value holding `$B` is a value: the next step doesn't expand it again.
        st.apply_metadata(&instruction("WORKDIR /w/$A"), '\\')
            .unwrap();
        st.apply_metadata(&instruction("LABEL l=$A"), '\\').unwrap();
        assert_eq!(st.workdir(), "/w/$B");
        assert_eq!(st.config.labels.get().unwrap()["l"], "$B");
        // An expanded instruction is applied as it is.
        let expanded = instruction("USER $C")
            .expand('\\', &|n| st.lookup(n))
            .unwrap();
        assert_eq!(expanded, Instruction::User("x".into()));
        st.apply(&expanded).unwrap();
        assert_eq!(st.config.user.get().unwrap(), "x");
        let e = st
            .apply_metadata(&instruction("STOPSIGNAL ${NOPE:?unset}"), '\\')
            .err()
            .unwrap();
        assert!(e.contains("unset"), "{e}");
    }
}
