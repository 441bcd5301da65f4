//! The verbs that act on several names (`rm`, `stop`, `kill`, `wait`, `rmi`, `volume rm`,
//! `network rm`, the `inspect`s …) report each the same way: a name's result on standard
//! output or its error on standard error; an error for one doesn't stop the others but
//! makes the exit code 1.

use std::fmt::Display;
use std::process::ExitCode;

use crate::CliResult;

/// Runs `f` on each name and prints what it returns (nothing for `None`), or the error.
pub fn print_each<E: Display>(
    names: &[String],
    mut f: impl FnMut(&str) -> Result<Option<String>, E>,
) -> CliResult {
    let mut failed = false;
    for n in names {
        match f(n) {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) => {}
            Err(e) => {
                eprintln!("rbox: {e}");
                failed = true;
            }
        }
    }
    Ok(exit(failed))
}

/// Runs `f` on each name, keeping what it returns and printing the errors; the second
/// value tells whether one failed.
pub fn collect_each<T, E: Display>(
    names: &[String],
    mut f: impl FnMut(&str) -> Result<T, E>,
) -> (Vec<T>, bool) {
    let mut out = Vec::new();
    let mut failed = false;
    for n in names {
        match f(n) {
            Ok(v) => out.push(v),
            Err(e) => {
                eprintln!("rbox: {e}");
                failed = true;
            }
        }
    }
    (out, failed)
}

/// Exit 1 when one failed.
pub fn exit(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
