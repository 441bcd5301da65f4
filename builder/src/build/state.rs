//! The state of a stage as its instructions run: layers, config, ARG values, cache key.

use std::collections::BTreeMap;

use rbox_image::config::{Field, History, RunConfig};
use rbox_image::Digest;

use crate::instructions::ShellOrExec;

/// The state of a stage as its instructions run.
#[derive(Clone, Default)]
pub(crate) struct StageState {
    pub(super) layers: Vec<(String, Digest, u64)>,
    pub(super) diff_ids: Vec<Digest>,
    pub(super) chain: Vec<Digest>,
    pub(crate) config: RunConfig,
    pub(super) history: Vec<History>,
    pub(super) args: BTreeMap<String, String>,
    pub(super) key: Option<Digest>,
    pub(super) cmd_set_here: bool,
    pub(super) arch: String,
    pub(super) os: String,
}

impl StageState {
    /// A state holding only `config`, for applying metadata instructions to it.
    pub(crate) fn with_config(config: RunConfig) -> StageState {
        StageState {
            config,
            ..Default::default()
        }
    }

    pub(super) fn env(&self) -> Vec<String> {
        self.config.env.cloned_or_default()
    }

    pub(super) fn lookup(&self, name: &str) -> Option<String> {
        for e in self.env().iter().rev() {
            if let Some(v) = e.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                return Some(v.to_owned());
            }
        }
        self.args.get(name).cloned()
    }

    pub(super) fn set_env(&mut self, key: &str, value: &str) -> Result<(), String> {
        let mut env = self.env();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(format!("{key}={value}"));
        check_variables_size(&env, &self.args)?;
        self.config.env = Field::Set(env);
        Ok(())
    }

    /// Sets build argument `key` for the rest of the stage.
    pub(super) fn set_arg(&mut self, key: &str, value: String) -> Result<(), String> {
        let mut args = std::mem::take(&mut self.args);
        args.insert(key.to_owned(), value);
        let checked = check_variables_size(&self.env(), &args);
        if checked.is_ok() {
            self.args = args;
        }
        checked
    }

    /// A command as the config keeps it: the exec form as it is, the shell form run by the
    /// stage's SHELL (`/bin/sh -c` by default).
    pub(super) fn shell_words(&self, c: &ShellOrExec) -> Vec<String> {
        match c {
            ShellOrExec::Exec(v) => v.clone(),
            ShellOrExec::Shell(s) => {
                let mut shell: Vec<String> = self
                    .config
                    .shell
                    .get()
                    .cloned()
                    .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                shell.push(s.clone());
                shell
            }
        }
    }

    /// The working directory, `/` when none is set.
    pub(super) fn workdir(&self) -> &str {
        self.config.working_dir.get().map_or("/", String::as_str)
    }
}

/// The most bytes a stage's ENV and ARG values may hold together (4 MiB): far more than
/// a process can be given (Linux takes 128 KiB per variable), and a bound on what a
/// Dockerfile doubling a variable line after line can make the builder hold.
pub const MAX_VARIABLES_SIZE: usize = 4 << 20;

/// Refuses ENV and ARG values over [`MAX_VARIABLES_SIZE`] in all.
pub(super) fn check_variables_size(
    env: &[String],
    args: &BTreeMap<String, String>,
) -> Result<(), String> {
    let total: usize = env.iter().map(String::len).sum::<usize>()
        + args
            .iter()
            .map(|(k, v)| k.len() + v.len() + 1)
            .sum::<usize>();
    if total > MAX_VARIABLES_SIZE {
        return Err(format!(
            "the stage's ENV and ARG values would take {total} bytes, over the limit of {MAX_VARIABLES_SIZE}"
        ));
    }
    Ok(())
}
