//! Shell completions (`rbox completion bash|zsh|fish`) and man pages (`rbox __man DIR`, one
//! page per verb), both made from the command tree rbox parses with.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Command, ValueEnum};

use crate::CliResult;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell: bash, zsh or fish.
    shell: Shell,
}

/// Writes the completion script of `a.shell` to standard output.
pub fn completion(a: CompletionArgs) -> CliResult {
    let mut cmd = crate::command();
    let shell = match a.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "rbox", &mut io::stdout().lock());
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// The directory the pages are written to (rbox.1, rbox-run.1, rbox-container-ls.1, …).
    dir: PathBuf,
}

/// Writes a man page for rbox and for each of its verbs into `a.dir`.
pub fn man(a: ManArgs) -> CliResult {
    std::fs::create_dir_all(&a.dir)?;
    let mut cmd = crate::command();
    cmd.build();
    write_pages(&cmd, "rbox", &a.dir)?;
    Ok(ExitCode::SUCCESS)
}

fn write_pages(cmd: &Command, name: &str, dir: &Path) -> io::Result<()> {
    // The process ends after writing the pages.
    let title: &'static str = Box::leak(name.to_owned().into_boxed_str());
    let page = cmd.clone().name(title).bin_name(name.replace('-', " "));
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    std::fs::write(dir.join(format!("{name}.1")), out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}
