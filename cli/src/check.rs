//! `rbox system check [--repair]`: verifies the image store.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use crate::CliResult;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Remove corrupt blobs, images missing a part and unfinished snapshots, then reclaim
    /// what only they used.
    #[arg(long)]
    repair: bool,
}

/// Prints every problem found; exits 1 if any was found and not repaired.
pub fn check(root: &Path, a: CheckArgs) -> CliResult {
    let store = rbox_image::Store::open(root)?;
    let report = store.check(a.repair)?;
    for p in &report.problems {
        if a.repair {
            println!("removed: {p}");
        } else {
            println!("{p}");
        }
    }
    if a.repair && !report.problems.is_empty() {
        store.gc(&[])?;
    }
    eprintln!(
        "checked {} blobs, {} images, {} snapshots: {}",
        report.blobs,
        report.images,
        report.snapshots,
        match (report.problems.len(), a.repair) {
            (0, _) => "no problem".to_owned(),
            (n, true) => format!("{n} problems repaired"),
            (n, false) => format!("{n} problems (rbox system check --repair removes them)"),
        }
    );
    Ok(if report.problems.is_empty() || a.repair {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
