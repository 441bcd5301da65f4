//! rbox as an OCI runtime: the command line of runc (`rbox-runc`, also `rbox oci`), which
//! runs a bundle it is given, with no rbox monitor in between. containerd's runc shims,
//! CRI, Podman's `--runtime` and dockerd's `--add-runtime` drive it.
//!
//! `create` leaves the container's first process waiting for `start`, a child of the
//! caller (reaped by the caller, or by the subreaper it is reparented to once `create` has
//! exited); its stdio is the caller's, untouched, or a pty whose master is sent over
//! `--console-socket`. The state of each container lives in `--root`/ID (libcontainer's
//! state, which survives the caller reaping the init). Errors are runc's texts, on stderr
//! and as JSON lines in `--log`.

mod cli;
mod commands;
mod container;
mod exec;
mod log;
mod spec_check;
mod update;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

pub use cli::Cli;

/// The name rbox answers to as the OCI runtime.
pub const RUNC_NAME: &str = "rbox-runc";

/// The OCI runtime's command line when rbox is called as `rbox-runc`, or as `rbox oci …`;
/// `None` for every other command line.
pub fn dispatch(argv: &[OsString]) -> Option<ExitCode> {
    let called = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if called == RUNC_NAME {
        return Some(main(argv.to_vec()));
    }
    if argv.get(1).is_some_and(|a| a == "oci") {
        let mut args = vec![OsString::from(RUNC_NAME)];
        args.extend(argv[2..].iter().cloned());
        return Some(main(args));
    }
    None
}

/// Runs the command line `args` (`args[0]` is the program's name) and returns its status.
pub fn main(args: Vec<OsString>) -> ExitCode {
    use clap::Parser;
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let logger = match log::Logger::init(&cli) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    match commands::run(&cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            logger.error(&e.0);
            ExitCode::from(1)
        }
    }
}

/// A failed command: runc's kind of message.
#[derive(Debug)]
pub struct Failure(pub String);

impl<T: std::fmt::Display> From<T> for Failure {
    fn from(e: T) -> Self {
        Failure(e.to_string())
    }
}

/// The result of a command.
pub type Result<T> = std::result::Result<T, Failure>;

/// Fails with message `m`.
pub(crate) fn fail<T>(m: impl Into<String>) -> Result<T> {
    Err(Failure(m.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn answers_to_its_name_and_to_rbox_oci_only() {
        assert!(dispatch(&os(&["/usr/local/bin/rbox", "ps"])).is_none());
        assert!(dispatch(&os(&["rbuild", "oci"])).is_some());
        assert!(dispatch(&os(&["/usr/local/bin/rbox-runc", "--version"])).is_some());
        assert!(dispatch(&os(&["rbox", "oci", "--version"])).is_some());
    }

    #[test]
    fn parses_the_shims_command_lines() {
        let c = Cli::try_parse_from([
            "rbox-runc",
            "--root",
            "/run/r",
            "--log",
            "/b/log.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/b/init.pid",
            "id1",
        ])
        .unwrap();
        assert_eq!(c.log_format, cli::LogFormat::Json);
        let Some(cli::Command::Create(a)) = c.command else {
            panic!("not create")
        };
        assert_eq!((a.id.as_str(), a.bundle.to_str()), ("id1", Some("/b")));
        // Options after the id, and `=` forms (Podman's).
        let c = Cli::try_parse_from([
            "rbox-runc",
            "--log-format=json",
            "create",
            "id2",
            "-b",
            "/b",
            "--preserve-fds=2",
        ])
        .unwrap();
        let Some(cli::Command::Create(a)) = c.command else {
            panic!("not create")
        };
        assert_eq!((a.id.as_str(), a.preserve_fds), ("id2", 2));
        let c = Cli::try_parse_from(["rbox-runc", "kill", "--all", "id3", "9"]).unwrap();
        let Some(cli::Command::Kill(k)) = c.command else {
            panic!("not kill")
        };
        assert!(k.all);
        assert_eq!(k.signal, "9");
        let c = Cli::try_parse_from([
            "rbox-runc",
            "exec",
            "--process",
            "/p.json",
            "--detach",
            "--pid-file",
            "/e.pid",
            "id4",
        ])
        .unwrap();
        assert!(
            matches!(c.command, Some(cli::Command::Exec(ref e)) if e.detach && e.command.is_empty())
        );
        let c = Cli::try_parse_from(["rbox-runc", "exec", "id5", "sh", "-c", "echo -n x"]).unwrap();
        let Some(cli::Command::Exec(e)) = c.command else {
            panic!("not exec")
        };
        assert_eq!(e.command, ["sh", "-c", "echo -n x"]);
    }

    #[test]
    fn signals_as_numbers_and_names() {
        for s in ["9", "KILL", "SIGKILL", "kill"] {
            let sig = commands::parse_signal(s).unwrap();
            assert_eq!(format!("{sig:?}"), "Signal(SIGKILL)");
        }
        assert!(commands::parse_signal("SIGNOPE").is_err());
        assert!(commands::parse_signal("99").is_err());
    }
}
