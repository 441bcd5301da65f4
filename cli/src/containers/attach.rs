//! `attach`: this terminal joined to a running container's input and output.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use rbox_runtime::ops::attach::{attach as attach_to, parse_detach_keys, AttachOptions, Ended};
use rbox_runtime::Containers;

use crate::CliResult;

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach standard input.
    #[arg(long)]
    no_stdin: bool,
    /// Pass signals this process receives on to the container (not with a terminal).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    sig_proxy: bool,
    /// The keys that detach, leaving the container running (ctrl-p,ctrl-q).
    #[arg(long, default_value = "ctrl-p,ctrl-q")]
    detach_keys: String,
    /// The container.
    container: String,
}

pub fn attach(root: &Path, a: AttachArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let o = AttachOptions {
        no_stdin: a.no_stdin,
        sig_proxy: a.sig_proxy,
        detach_keys: parse_detach_keys(&a.detach_keys)?,
    };
    Ok(match attach_to(&containers, &a.container, &o)? {
        Ended::Exited(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Ended::Detached => ExitCode::SUCCESS,
    })
}
