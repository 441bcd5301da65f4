//! Container tools: cp, top, stats, container prune, system df, system prune.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use rbox_runtime::copy::{CopyError, CopyOptions};
use rbox_runtime::ops::sampler::Sampler;
use rbox_runtime::prune::{self, Usage};
use rbox_runtime::Containers;

use crate::format::{self, human_size, size, Listing, Units};
use crate::template;
use crate::{CliError, CliResult};
use serde_json::Value;

impl From<CopyError> for CliError {
    fn from(e: CopyError) -> Self {
        match e {
            CopyError::Runtime(e) => CliError::Runtime(e),
            e => CliError::Failed(e.to_string()),
        }
    }
}

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Always follow symbolic links in SRC_PATH.
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// Archive mode: keep uid and gid (else the receiving side's user owns the copy).
    #[arg(short, long)]
    archive: bool,
    /// Print no summary (the default when standard output is not a terminal).
    #[arg(short, long)]
    quiet: bool,
    /// CONTAINER:SRC_PATH, a host path, or - (a tar stream on standard input, unpacked
    /// into the container's DEST directory).
    #[arg(value_name = "SRC", allow_hyphen_values = true)]
    source: String,
    /// CONTAINER:DEST_PATH, a host path, or - (SRC as a tar stream on standard output).
    #[arg(value_name = "DEST", allow_hyphen_values = true)]
    destination: String,
}

/// `rbox cp`: prints docker's summary on standard error when output is a terminal.
pub fn cp(root: &Path, a: CpArgs) -> CliResult {
    if a.source.is_empty() || a.destination.is_empty() {
        return Err(CliError::Failed(
            "source and destination can not be empty".into(),
        ));
    }
    let containers = Containers::open(root)?;
    let opts = CopyOptions {
        follow_link: a.follow_link,
        archive: a.archive,
    };
    if a.source == "-" && a.destination == "-" {
        return Err(CliError::Failed(
            "copying between two tar streams is not supported".into(),
        ));
    }
    if a.destination == "-" {
        return cp_to_tar(root, &containers, &a.source, opts);
    }
    if a.source == "-" {
        return cp_from_tar(root, &containers, &a.destination, opts);
    }
    let copied = rbox_runtime::copy::copy(&containers, &a.source, &a.destination, opts)?;
    if !a.quiet && io::stdout().is_terminal() {
        eprintln!(
            "Successfully copied {} to {}",
            human_size(copied.bytes),
            copied.destination
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A scratch directory under the data root (0700), removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(root: &Path) -> Result<Scratch, CliError> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = root
            .join("tmp")
            .join(format!("cp-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `cp CONTAINER:PATH -`: the path as a tar stream on standard output, its owners kept, as
/// docker writes it.
fn cp_to_tar(root: &Path, containers: &Containers, src: &str, opts: CopyOptions) -> CliResult {
    if !src.contains(':') {
        return Err(CliError::Failed(format!(
            "{src}: the source of a copy to a tar stream is CONTAINER:PATH"
        )));
    }
    let scratch = Scratch::new(root)?;
    let opts = CopyOptions {
        archive: true,
        ..opts
    };
    let host = scratch.0.to_string_lossy().into_owned();
    rbox_runtime::copy::copy(containers, src, &host, opts)?;
    let out = io::BufWriter::new(io::stdout().lock());
    rbox_builder::write_layer(&scratch.0, out, None, &|_| false)?;
    Ok(ExitCode::SUCCESS)
}

/// `cp - CONTAINER:DIR`: a tar stream on standard input unpacked into the container's
/// directory (by the layer extractor: nothing in it reaches outside).
fn cp_from_tar(root: &Path, containers: &Containers, dst: &str, opts: CopyOptions) -> CliResult {
    if !dst.contains(':') {
        return Err(CliError::Failed(format!(
            "{dst}: the destination of a copy from a tar stream is CONTAINER:DIR"
        )));
    }
    let scratch = Scratch::new(root)?;
    let unpacked = scratch.0.join("in");
    std::fs::create_dir(&unpacked)?;
    rbox_image::layer::apply(io::stdin().lock(), &unpacked)?;
    // Into the directory, as docker's: DIR/ means "into it".
    let dst = if dst.ends_with('/') {
        dst.to_owned()
    } else {
        format!("{dst}/")
    };
    for entry in std::fs::read_dir(&unpacked)? {
        let host = entry?.path().to_string_lossy().into_owned();
        rbox_runtime::copy::copy(containers, &host, &dst, opts)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct TopArgs {
    /// The container.
    container: String,
    /// Options for the host's ps (default: the columns of ps -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_options: Vec<String>,
}

/// `rbox top`: the container's processes, in docker's 20-wide columns.
pub fn top(root: &Path, a: TopArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let id = containers.resolve(&a.container)?;
    let t = rbox_runtime::top::top(&containers, &id, &a.ps_options)?;
    let mut rows = vec![t.titles];
    rows.extend(t.processes);
    // As docker's tabwriter for top: columns at least 20 wide.
    print_columns(&mut io::stdout().lock(), &rows, 20)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default: running ones).
    #[arg(short, long)]
    all: bool,
    /// Print one sample and exit (else refresh every second until interrupted).
    #[arg(long)]
    no_stream: bool,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// A Go template for each row ("{{.Name}} {{.CPUPerc}}"), "table TEMPLATE" for aligned
    /// columns under a header, "table" for the default, or "json".
    #[arg(long)]
    format: Option<String>,
    /// Containers (default: every running one).
    containers: Vec<String>,
}

/// `docker stats`' default table and column titles.
const STATS: Listing = Listing {
    default: "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
    headers: &[
        ("ID", "CONTAINER ID"),
        ("Name", "NAME"),
        ("Container", "CONTAINER"),
        ("CPUPerc", "CPU %"),
        ("MemUsage", "MEM USAGE / LIMIT"),
        ("MemPerc", "MEM %"),
        ("NetIO", "NET I/O"),
        ("BlockIO", "BLOCK I/O"),
        ("PIDs", "PIDS"),
    ],
};

/// `rbox stats`: one sample with `--no-stream`, else a refreshed screen every second.
pub fn stats(root: &Path, a: StatsArgs) -> CliResult {
    if let Some(f) = &a.format {
        // A template that doesn't parse fails before any sample.
        format::render_rows(Some(f), &STATS, &[])?;
    }
    let containers = Containers::open(root)?;
    let mut sampler = Sampler::new(&containers, &a.containers, a.all)?;
    // The first figures come from two samples 100ms apart; then every second.
    std::thread::sleep(Duration::from_millis(100));
    loop {
        let mut rows = Vec::new();
        for f in sampler.round()? {
            let (c, u) = (&f.container, &f.usage);
            let id = if a.no_trunc { c.id() } else { &c.id()[..12] };
            let s = |t: String| Value::String(t);
            let fields = template::object([
                ("ID", s(id.to_owned())),
                ("Name", s(c.config.name.clone())),
                ("Container", s(f.shown.clone())),
                ("CPUPerc", s(format!("{:.2}%", u.cpu_percent))),
                (
                    "MemUsage",
                    s(format!(
                        "{} / {}",
                        binary_size(u.memory),
                        binary_size(u.memory_limit)
                    )),
                ),
                ("MemPerc", s(format!("{:.2}%", u.memory_percent))),
                (
                    "NetIO",
                    s(format!("{} / {}", human_size(u.net.0), human_size(u.net.1))),
                ),
                (
                    "BlockIO",
                    s(format!(
                        "{} / {}",
                        human_size(u.block.0),
                        human_size(u.block.1)
                    )),
                ),
                ("PIDs", s(u.pids.to_string())),
            ]);
            rows.push(format::Row {
                fields,
                labels: c.config.config.labels.clone(),
            });
        }
        let text = format::render_rows(a.format.as_deref(), &STATS, &rows)?;
        let mut out = io::stdout().lock();
        if !a.no_stream {
            // As docker: the screen is redrawn in place.
            write!(out, "\x1b[2J\x1b[H")?;
        }
        out.write_all(text.as_bytes())?;
        out.flush()?;
        if a.no_stream {
            return Ok(ExitCode::SUCCESS);
        }
        drop(out);
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A size in binary units with four significant digits, as docker's memory figures:
/// `1.234MiB`, `376KiB`, `0B`.
fn binary_size(bytes: u64) -> String {
    size(bytes, Units::Binary, 4)
}

/// A size in decimal units with four significant digits, as docker's reclaimed-space
/// figures: `16.43MB`, `212B`.
fn size4(bytes: u64) -> String {
    size(bytes, Units::Decimal, 4)
}

/// Prints rows as columns at least `min` wide (cell plus three spaces), the last one
/// unpadded, as Go's tabwriter does.
fn print_columns(out: &mut impl Write, rows: &[Vec<String>], min: usize) -> io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            let w = rows
                .iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0);
            (w + 3).max(min)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < r.len() {
                line.push_str(&" ".repeat(widths[c] - cell.chars().count()));
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Asks on standard error; true for yes.
fn confirm(warning: &str) -> io::Result<bool> {
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

#[derive(Args, Debug)]
pub struct ContainerPruneArgs {
    /// Don't ask for confirmation.
    #[arg(short, long)]
    force: bool,
    /// Only what matches: until=TIME (created before), label=KEY[=VALUE], label!=KEY[=VALUE].
    #[arg(long)]
    filter: Vec<String>,
}

/// `rbox container prune`.
pub fn container_prune(root: &Path, a: ContainerPruneArgs) -> CliResult {
    let filter = format::prune_filter(&a.filter, format::PRUNE_FILTERS)?;
    if !a.force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(ExitCode::SUCCESS);
    }
    let containers = Containers::open(root)?;
    let pruned = prune::prune_containers(&containers, &filter)?;
    let mut out = io::stdout().lock();
    print_deleted_containers(&mut out, &pruned.deleted)?;
    writeln!(out, "Total reclaimed space: {}", size4(pruned.space))?;
    Ok(ExitCode::SUCCESS)
}

fn print_deleted_containers(out: &mut impl Write, ids: &[String]) -> io::Result<()> {
    if !ids.is_empty() {
        writeln!(out, "Deleted Containers:")?;
        for id in ids {
            writeln!(out, "{id}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Show disk usage.
    Df(DfArgs),
    /// Remove stopped containers and unused images.
    Prune(SystemPruneArgs),
    /// Verify every blob's digest and every image's parts (--repair removes what is broken).
    Check(crate::check::CheckArgs),
    /// Show rbox's and the host's information.
    Info(crate::info::FormatArgs),
    /// Show what happens to containers, images, volumes and networks.
    Events(crate::events::EventsArgs),
    /// Run once at boot (contrib/rbox-boot.service): clear what the last boot left and start
    /// the containers whose restart policy says so (always; unless-stopped unless stopped).
    Boot,
}

#[derive(Args, Debug)]
pub struct DfArgs {
    /// A Go template for each row ("{{.Type}} {{.Size}}"), "table TEMPLATE" for aligned
    /// columns under a header, "table" for the default, or "json".
    #[arg(long)]
    format: Option<String>,
    /// Show each image, container and volume with its size.
    #[arg(short, long)]
    verbose: bool,
}

/// `system df`'s default table and docker's column titles.
const DF: Listing = Listing {
    default: "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
    headers: &[
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
    ],
};

#[derive(Args, Debug)]
pub struct SystemPruneArgs {
    /// Remove every image no container uses, not only dangling ones.
    #[arg(short, long)]
    all: bool,
    /// Don't ask for confirmation.
    #[arg(short, long)]
    force: bool,
    /// Prune unused anonymous volumes too.
    #[arg(long)]
    volumes: bool,
    /// Only what matches: until=TIME (created before), label=KEY[=VALUE], label!=KEY[=VALUE]
    /// (with a filter, the build cache is left alone).
    #[arg(long)]
    filter: Vec<String>,
}

/// `rbox system df` and `rbox system prune`.
pub fn system(root: &Path, c: SystemCommand) -> CliResult {
    match c {
        SystemCommand::Df(a) => system_df(root, a),
        SystemCommand::Prune(a) => system_prune(root, a),
        SystemCommand::Check(a) => crate::check::check(root, a),
        SystemCommand::Info(a) => crate::info::info(root, a),
        SystemCommand::Events(a) => crate::events::events(root, a),
        SystemCommand::Boot => system_boot(root),
    }
}

fn system_boot(root: &Path) -> CliResult {
    let containers = Containers::open(root)?;
    let booted = rbox_runtime::ops::system::boot(&containers)?;
    for name in &booted.started {
        println!("{name}");
    }
    for (name, e) in &booted.failed {
        eprintln!("rbox: {name}: {e}");
    }
    Ok(crate::each::exit(!booted.failed.is_empty()))
}

/// `system df -v`: docker's three tables, of images, containers and volumes.
fn system_df_verbose(root: &Path) -> CliResult {
    let store = rbox_image::Store::open(root)?;
    let containers = Containers::open(root)?;
    let all = rbox_runtime::lifecycle::reconcile_all(&containers)?;
    let mut text = String::from("Images space usage:\n\n");
    let mut t = String::from(
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n",
    );
    for r in rbox_runtime::ops::images::list(&store, None)? {
        let users = all
            .iter()
            .filter(|c| c.config.image_id == r.id.to_string())
            .count();
        t.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\tN/A\tN/A\t{users}\n",
            r.repository,
            r.tag,
            r.id.short(),
            format::ago(r.created.as_deref()),
            size4(r.size),
        ));
    }
    text.push_str(&format::tabwrite(&t));
    text.push_str("\nContainers space usage:\n\n");
    let mut t =
        String::from("CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n");
    let rows = rbox_runtime::ops::ps::list(
        &containers,
        &rbox_runtime::ops::ps::Query {
            all: true,
            latest: false,
            filters: Vec::new(),
        },
    )?;
    for r in &rows {
        let Some(c) = all.iter().find(|c| c.id() == r.id) else {
            continue;
        };
        let volumes = c
            .config
            .host
            .mounts
            .iter()
            .filter(|m| m.kind == rbox_runtime::model::mount::MountKind::Volume)
            .count();
        let command = r.command.chars().take(20).collect::<String>();
        t.push_str(&format!(
            "{}\t{}\t\"{command}\"\t{volumes}\t{}\t{}\t{}\t{}\n",
            &r.id[..12],
            r.image,
            size4(prune::dir_size(&containers.dir(&r.id).join("upper"))),
            format::ago(Some(&r.created)),
            crate::containers::status_text(r),
            c.config.name,
        ));
    }
    text.push_str(&format::tabwrite(&t));
    text.push_str("\nLocal Volumes space usage:\n\n");
    let mut t = String::from("VOLUME NAME\tLINKS\tSIZE\n");
    for v in containers.volumes()? {
        let links = containers.volume_users(&v.name)?.len();
        let size = prune::dir_size(&containers.volume_data(&v.name));
        t.push_str(&format!("{}\t{links}\t{}\n", v.name, size4(size)));
    }
    text.push_str(&format::tabwrite(&t));
    let cache = build_cache_usage(root, &store)?;
    text.push_str(&format!("\nBuild cache usage: {}\n", size4(cache.size)));
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The build cache, as `builder prune` frees it: the cache mounts (those a build is using
/// active) and the directories waiting in the trash.
fn build_cache_usage(root: &Path, store: &rbox_image::Store) -> Result<Usage, CliError> {
    let (total, active, size, free) = rbox_builder::build::cache_mounts_usage(root)?;
    let (waiting, bytes) = store.trash_usage()?;
    Ok(Usage {
        total: total + waiting,
        active,
        size: size + bytes,
        reclaimable: free + bytes,
    })
}

fn system_df(root: &Path, a: DfArgs) -> CliResult {
    if a.verbose && a.format.is_none() {
        return system_df_verbose(root);
    }
    // A template that doesn't parse fails before the store is read.
    format::render_rows(a.format.as_deref(), &DF, &[])?;
    let store = rbox_image::Store::open(root)?;
    let containers = Containers::open(root)?;
    let du = prune::disk_usage(&store, &containers)?;
    let row = |name: &str, u: &Usage| {
        // As docker: a percentage only when there is a size to take it of.
        let reclaimable = match (u.reclaimable * 100).checked_div(u.size) {
            Some(pct) => format!("{} ({pct}%)", size4(u.reclaimable)),
            None => size4(u.reclaimable),
        };
        let fields = template::object([
            ("Type", Value::String(name.to_owned())),
            ("TotalCount", Value::String(u.total.to_string())),
            ("Active", Value::String(u.active.to_string())),
            ("Size", Value::String(size4(u.size))),
            ("Reclaimable", Value::String(reclaimable)),
        ]);
        format::Row {
            fields,
            labels: Default::default(),
        }
    };
    let rows = [
        row("Images", &du.images),
        row("Containers", &du.containers),
        row("Local Volumes", &du.volumes),
        row("Build Cache", &build_cache_usage(root, &store)?),
    ];
    let text = format::render_rows(a.format.as_deref(), &DF, &rows)?;
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn system_prune(root: &Path, a: SystemPruneArgs) -> CliResult {
    let filter = format::prune_filter(&a.filter, format::PRUNE_FILTERS)?;
    if a.volumes && filter.until.is_some() {
        return Err(CliError::Failed(
            "--filter until is not supported with --volumes (volumes have no such filter)".into(),
        ));
    }
    if !a.force {
        let images = if a.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        let volumes = if a.volumes {
            "  - all anonymous volumes not used by at least one container\n"
        } else {
            ""
        };
        let warning = format!(
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n{volumes}  - {images}\n  - unused build cache\n"
        );
        if !confirm(&warning)? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let store = rbox_image::Store::open(root)?;
    let containers = Containers::open(root)?;
    let pruned = rbox_runtime::ops::system::prune(&store, &containers, a.all, a.volumes, &filter)?;
    // The build's cache mounts (RUN --mount=type=cache) no build is using, as docker's;
    // they have neither labels nor a creation time a filter could match.
    let build_cache = if a.filter.is_empty() {
        rbox_builder::build::prune_cache_mounts(root)?
    } else {
        0
    };
    let (cs, networks, volumes, images) = (
        &pruned.containers,
        &pruned.networks,
        &pruned.volumes,
        &pruned.images,
    );
    let mut out = io::stdout().lock();
    print_deleted_containers(&mut out, &cs.deleted)?;
    if !networks.is_empty() {
        writeln!(out, "Deleted Networks:")?;
        for n in networks {
            writeln!(out, "{n}")?;
        }
        writeln!(out)?;
    }
    if !volumes.is_empty() {
        writeln!(out, "Deleted Volumes:")?;
        for v in volumes {
            writeln!(out, "{v}")?;
        }
        writeln!(out)?;
    }
    if !images.untagged.is_empty() || !images.deleted.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for r in &images.untagged {
            writeln!(out, "untagged: {}", r.familiar())?;
        }
        for d in &images.deleted {
            writeln!(out, "deleted: {d}")?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        size4(pruned.space() + build_cache)
    )?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_columns_are_at_least_twenty_wide() {
        let mut out = Vec::new();
        let rows = vec![
            vec!["UID".to_string(), "PID".into(), "CMD".into()],
            vec!["root".to_string(), "42".into(), "sleep 60".into()],
        ];
        print_columns(&mut out, &rows, 20).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "UID{}PID{}CMD\nroot{}42{}sleep 60\n",
                " ".repeat(17),
                " ".repeat(17),
                " ".repeat(16),
                " ".repeat(18)
            )
        );
    }
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The container.
    container: String,
}

/// `diff`: the container's changes, `A`/`C`/`D` and the path, as docker prints them.
pub fn diff(root: &Path, a: DiffArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let id = containers.resolve(&a.container)?;
    let changes = rbox_runtime::ops::diff::changes(&containers, &id)?;
    let mut out = io::stdout().lock();
    for c in changes {
        writeln!(out, "{} {}", c.kind.letter(), c.path)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file instead of standard output.
    #[arg(short, long)]
    output: Option<std::path::PathBuf>,
    /// The container.
    container: String,
}

/// `export`: the container's filesystem as a tar stream.
pub fn export(root: &Path, a: ExportArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let id = containers.resolve(&a.container)?;
    if a.output.is_none() && io::stdout().is_terminal() {
        return Err(CliError::Failed(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect".into(),
        ));
    }
    let out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(
            std::fs::File::create(p)
                .map_err(|e| CliError::Failed(format!("{}: {e}", p.display())))?,
        ),
        None => Box::new(io::stdout().lock()),
    };
    let out = io::BufWriter::new(out);
    rbox_runtime::ops::export::export(&containers, &id, |rootfs| {
        rbox_builder::write_layer(rootfs, out, None, &|_| false)
    })??;
    Ok(ExitCode::SUCCESS)
}
