//! Image commands: images, tag, rmi, import, save, load, image inspect, image prune.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use rbox_image::{Reference, Store};
use rbox_runtime::ops::images;
use rbox_runtime::Containers;
use serde_json::Value;

use crate::each::{collect_each, print_each};
use crate::format::{self, ago, go_time, human_size, InspectFormat, Listing};
use crate::template;
use crate::{CliError, CliResult};

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only show image ids.
    #[arg(short, long)]
    quiet: bool,
    /// Show full image ids.
    #[arg(long)]
    no_trunc: bool,
    /// A Go template for each row ("{{.Repository}}:{{.Tag}}"), "table TEMPLATE" for
    /// aligned columns under a header, "table" for the default, or "json".
    #[arg(long)]
    format: Option<String>,
    /// Show digests (a DIGEST column).
    #[arg(long)]
    digests: bool,
    /// Filter: dangling=true|false, reference=PATTERN (`*` and `?` wildcards),
    /// label=KEY[=VALUE], before=IMAGE, since=IMAGE.
    #[arg(short, long)]
    filter: Vec<String>,
    /// Show only images of this repository (and tag); may hold `*` and `?` wildcards.
    reference: Option<String>,
}

/// One of `images --filter`.
enum ImageFilter {
    Dangling(bool),
    Reference(String),
    Label(String, Option<String>),
    Before(Option<String>),
    Since(Option<String>),
}

impl ImageFilter {
    fn parse(store: &Store, f: &str) -> Result<ImageFilter, CliError> {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            CliError::Failed(format!("bad format of filter (expected name=value): {f}"))
        })?;
        let created = |name: &str| -> Result<Option<String>, CliError> {
            let image = store.resolve(name)?;
            Ok(store.image_config(image.id())?.created)
        };
        Ok(match k {
            "dangling" => match v {
                "true" | "1" => ImageFilter::Dangling(true),
                "false" | "0" => ImageFilter::Dangling(false),
                _ => {
                    return Err(CliError::Failed(format!(
                        "invalid filter 'dangling={v}': true or false"
                    )))
                }
            },
            "reference" => ImageFilter::Reference(v.to_owned()),
            "label" => match v.split_once('=') {
                Some((k, v)) => ImageFilter::Label(k.to_owned(), Some(v.to_owned())),
                None => ImageFilter::Label(v.to_owned(), None),
            },
            "before" => ImageFilter::Before(created(v)?),
            "since" => ImageFilter::Since(created(v)?),
            _ => return Err(CliError::Failed(format!("invalid filter '{k}'"))),
        })
    }

    fn matches(&self, store: &Store, r: &images::Row) -> bool {
        match self {
            ImageFilter::Dangling(d) => (r.repository == "<none>" && r.tag == "<none>") == *d,
            ImageFilter::Reference(p) => reference_matches(p, r),
            ImageFilter::Label(k, v) => {
                let labels = store
                    .image_config(&r.id)
                    .ok()
                    .and_then(|c| c.config)
                    .map(|c| c.labels.cloned_or_default())
                    .unwrap_or_default();
                labels
                    .get(k)
                    .is_some_and(|l| v.as_ref().is_none_or(|v| v == l))
            }
            // RFC 3339 times of one form compare as text.
            ImageFilter::Before(t) => r.created.is_some() && r.created < *t,
            ImageFilter::Since(t) => r.created > *t,
        }
    }
}

/// Whether a row's name matches a reference pattern as docker's filter does: the pattern
/// against `REPOSITORY` or `REPOSITORY:TAG`, `*` and `?` not crossing a `/`.
fn reference_matches(pattern: &str, r: &images::Row) -> bool {
    if r.repository == "<none>" {
        return false;
    }
    glob(pattern, &r.repository) || glob(pattern, &format!("{}:{}", r.repository, r.tag))
}

/// Go's `path.Match` for `*` and `?` (and a `\` escape).
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len())
                .take_while(|&i| i == 0 || n[i - 1] != '/')
                .any(|i| go(&p[1..], &n[i..])),
            Some('?') => n.first().is_some_and(|c| *c != '/') && go(&p[1..], &n[1..]),
            Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && go(&p[2..], &n[1..]),
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

pub fn list(root: &Path, a: ListArgs) -> CliResult {
    let store = Store::open(root)?;
    let mut filters = a
        .filter
        .iter()
        .map(|f| ImageFilter::parse(&store, f))
        .collect::<Result<Vec<_>, _>>()?;
    let pattern = a.reference.as_deref();
    let wildcard = pattern.is_some_and(|p| p.contains(['*', '?']));
    if let (Some(p), true) = (pattern, wildcard) {
        filters.push(ImageFilter::Reference(p.to_owned()));
    }
    let mut listed =
        rbox_runtime::ops::images::list(&store, if wildcard { None } else { pattern })?;
    listed.retain(|r| filters.iter().all(|f| f.matches(&store, r)));
    let id = |r: &images::Row| {
        if a.no_trunc {
            r.id.to_string()
        } else {
            r.id.short().to_owned()
        }
    };
    let mut out = io::stdout().lock();
    if a.quiet {
        let mut ids: Vec<String> = Vec::new();
        for r in &listed {
            let id = id(r);
            if !ids.contains(&id) {
                writeln!(out, "{id}")?;
                ids.push(id);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<format::Row> = listed
        .iter()
        .map(|r| {
            let created = r.created.as_deref();
            let fields = template::object([
                ("ID", Value::String(id(r))),
                ("Repository", Value::String(r.repository.clone())),
                ("Tag", Value::String(r.tag.clone())),
                // rbox keeps no repository digests (inspect's RepoDigests is empty too).
                ("Digest", Value::String("<none>".into())),
                ("CreatedSince", Value::String(ago(created))),
                (
                    "CreatedAt",
                    Value::String(created.map(go_time).unwrap_or_default()),
                ),
                ("Size", Value::String(human_size(r.size))),
                ("VirtualSize", Value::String(human_size(r.size))),
                ("SharedSize", Value::String("N/A".into())),
                ("UniqueSize", Value::String("N/A".into())),
                ("Containers", Value::String("N/A".into())),
            ]);
            format::Row {
                fields,
                labels: Default::default(),
            }
        })
        .collect();
    let listing = if a.digests { &WITH_DIGESTS } else { &LISTING };
    let text = format::render_rows(a.format.as_deref(), listing, &rows)?;
    out.write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `images --digests`' default table.
const WITH_DIGESTS: Listing = Listing {
    default: "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
    headers: LISTING.headers,
};

/// `images`' default table and docker's column titles.
const LISTING: Listing = Listing {
    default: "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
    headers: &[
        ("ID", "IMAGE ID"),
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("Digest", "DIGEST"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("Size", "SIZE"),
        ("VirtualSize", "VIRTUAL SIZE"),
        ("SharedSize", "SHARED SIZE"),
        ("UniqueSize", "UNIQUE SIZE"),
        ("Containers", "CONTAINERS"),
    ],
};

#[derive(Args, Debug)]
pub struct TagArgs {
    /// The image to tag: a name, a tag or an id.
    source: String,
    /// The new name: NAME[:TAG].
    target: String,
}

pub fn tag(root: &Path, a: TagArgs) -> CliResult {
    let store = Store::open(root)?;
    let image = store.resolve(&a.source)?;
    let target = Reference::parse(&a.target)?;
    if target.digest().is_some() {
        return Err(CliError::Failed(format!(
            "{}: a tag can't name a digest",
            a.target
        )));
    }
    store.tag(&image, &target)?;
    let name = target.familiar();
    rbox_runtime::store::events::other(
        root,
        "image",
        "tag",
        &image.id().to_string(),
        &[("name", name)],
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Remove the image even if several tags point to it.
    #[arg(short, long)]
    force: bool,
    /// Images to remove, by name, tag or id.
    #[arg(required = true)]
    images: Vec<String>,
}

pub fn rmi(root: &Path, a: RmiArgs) -> CliResult {
    let store = Store::open(root)?;
    let containers = Containers::open(root)?;
    let remover = images::Remover::new(&store, &containers)?;
    let code = print_each(&a.images, |name| {
        remover.remove(name, a.force).map(|r| {
            let lines: Vec<String> = r
                .untagged
                .iter()
                .map(|t| format!("Untagged: {}", t.familiar()))
                .chain(r.deleted.iter().map(|d| format!("Deleted: {d}")))
                .collect();
            (!lines.is_empty()).then(|| lines.join("\n"))
        })
    })?;
    remover.collect()?;
    Ok(code)
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The rootfs tarball (tar, tar.gz or tar.zst), or - for standard input.
    file: String,
    /// The name to give the image: NAME[:TAG].
    reference: Option<String>,
    /// A comment for the image's history.
    #[arg(short, long)]
    message: Option<String>,
}

pub fn import(root: &Path, a: ImportArgs) -> CliResult {
    let reference = a.reference.as_deref().map(Reference::parse).transpose()?;
    let store = Store::open(root)?;
    let input: Box<dyn Read> = if a.file == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(&a.file).map_err(|e| CliError::Failed(format!("{}: {e}", a.file)))?)
    };
    let created_by = match &a.message {
        Some(m) => format!("rbox import {}: {m}", a.file),
        None => format!("rbox import {}", a.file),
    };
    let image = store
        .import_rootfs(input, reference.as_ref(), &created_by)
        .map_err(|e| CliError::Failed(format!("{}: {e}", a.file)))?;
    println!("{}", image.id());
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Images to save.
    #[arg(required = true)]
    images: Vec<String>,
}

pub fn save(root: &Path, a: SaveArgs) -> CliResult {
    let store = Store::open(root)?;
    let mut images = Vec::new();
    for name in &a.images {
        let image = store.resolve(name)?;
        let named = Reference::parse(name)
            .ok()
            .filter(|r| r.digest().is_none())
            .filter(|r| {
                store
                    .entries()
                    .map(|es| es.iter().any(|e| e.reference.as_ref() == Some(r)))
                    .unwrap_or(false)
            });
        images.push((image, named));
    }
    match &a.output {
        Some(path) => {
            // Written beside the target and renamed: a failed save leaves no half archive.
            let tmp = path.with_file_name(format!(
                ".{}.partial",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
            let f = File::create(&tmp)
                .map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))?;
            let res = store
                .save(&images, BufWriter::new(&f))
                .and_then(|_| f.sync_all().map_err(Into::into));
            if let Err(e) = res.and_then(|_| std::fs::rename(&tmp, path).map_err(Into::into)) {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
        }
        None => {
            if io::stdout().is_terminal() {
                return Err(CliError::Failed(
                    "refusing to write an archive to a terminal: use -o FILE or redirect".into(),
                ));
            }
            store.save(&images, BufWriter::new(io::stdout().lock()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from this file instead of standard input.
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Print nothing.
    #[arg(short, long)]
    quiet: bool,
}

pub fn load(root: &Path, a: LoadArgs) -> CliResult {
    let store = Store::open(root)?;
    let input: Box<dyn Read> = match &a.input {
        Some(p) => {
            Box::new(File::open(p).map_err(|e| CliError::Failed(format!("{}: {e}", p.display())))?)
        }
        None => Box::new(io::stdin().lock()),
    };
    let what = a
        .input
        .as_ref()
        .map_or("standard input".to_owned(), |p| p.display().to_string());
    let loaded = store
        .load(input)
        .map_err(|e| CliError::Failed(format!("{what}: {e}")))?;
    if !a.quiet {
        for l in loaded {
            if l.references.is_empty() {
                println!("Loaded image ID: {}", l.image.id());
            }
            for r in l.references {
                println!("Loaded image: {}", r.familiar());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Print each image through a Go template ('{{.Id}} {{.Size}}'), or "json" for the
    /// list on one line.
    #[arg(short, long)]
    format: Option<String>,
    /// Images to inspect.
    #[arg(required = true)]
    images: Vec<String>,
}

/// One image as `docker image inspect` shows it, as JSON (keys sorted).
pub fn inspect_one(root: &Path, name: &str) -> Result<Value, CliError> {
    let store = Store::open(root)?;
    let doc = images::ImageJson::new(&store, name)?;
    let mut v = serde_json::to_value(doc).map_err(|e| CliError::Failed(e.to_string()))?;
    // Docker's Config has these keys whatever the image says (a template reads
    // `{{.Config.Cmd}}` of any image): empty strings and nulls where the image has none.
    if let Some(Value::Object(config)) = v.get_mut("Config") {
        for (key, zero) in [
            ("User", Value::String(String::new())),
            ("Env", Value::Null),
            ("Cmd", Value::Null),
            ("WorkingDir", Value::String(String::new())),
            ("Entrypoint", Value::Null),
            ("Volumes", Value::Null),
            ("OnBuild", Value::Null),
            ("Labels", Value::Null),
        ] {
            config.entry(key).or_insert(zero);
        }
    }
    Ok(v)
}

pub fn inspect(root: &Path, a: InspectArgs) -> CliResult {
    let format = match InspectFormat::parse(a.format.as_deref()) {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let (out, failed) = collect_each(&a.images, |name| inspect_one(root, name));
    format.write(&out, failed)
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove every image no container uses, not only dangling ones.
    #[arg(short, long)]
    all: bool,
    /// Don't ask for confirmation.
    #[arg(short, long)]
    force: bool,
    /// Only what matches: until=TIME (created before), label=KEY[=VALUE], label!=KEY[=VALUE].
    #[arg(long)]
    filter: Vec<String>,
}

pub fn prune(root: &Path, a: PruneArgs) -> CliResult {
    let filter = crate::format::prune_filter(&a.filter, crate::format::PRUNE_FILTERS)?;
    let store = Store::open(root)?;
    if !a.force {
        let what = if a.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        eprint!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
        let mut answer = String::new();
        io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let pruned =
        rbox_runtime::prune::prune_images(&store, &Containers::open(root)?, a.all, &filter)?;
    let deleted = pruned.deleted;
    let mut out = io::stdout().lock();
    if !deleted.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for d in &deleted {
            writeln!(out, "deleted: {d}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "Total reclaimed space: {}", human_size(pruned.space))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn wildcards_match_as_gos_path_match() {
        assert!(glob("ux-*", "ux-web"));
        assert!(glob("ux-*:latest", "ux-web:latest"));
        assert!(!glob("ux-*", "example.com/ux-web"));
        assert!(glob("*/ux-*", "example.com/ux-web"));
        assert!(glob("b?sybox", "busybox"));
        assert!(!glob("busy", "busybox"));
        assert!(glob("busybox", "busybox"));
    }
}
