//! `rbox build` (`rbuild`), `rbox history`, `rbox commit`.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use rbox_builder::build::{build as run_build, BuildError, BuildOptions};
use rbox_builder::commit::{commit as run_commit, CommitOptions};
use rbox_image::{Reference, Store};
use rbox_runtime::Containers;
use serde_json::Value;

use crate::format::{ago, human_size, print_table};
use crate::{CliError, CliResult};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and tag the image (repeatable).
    #[arg(short, long)]
    tag: Vec<String>,
    /// The Dockerfile (default: CONTEXT/Dockerfile; - for standard input).
    #[arg(short, long)]
    file: Option<String>,
    /// Set a build-time variable (KEY=VALUE).
    #[arg(long)]
    build_arg: Vec<String>,
    /// Don't use the cache.
    #[arg(long)]
    no_cache: bool,
    /// Build up to this stage.
    #[arg(long)]
    target: Option<String>,
    /// Set metadata on the image (KEY=VALUE).
    #[arg(long)]
    label: Vec<String>,
    /// Network for RUN: host (default) or none.
    #[arg(long)]
    network: Option<String>,
    /// Print only the image id.
    #[arg(short, long)]
    quiet: bool,
    /// Progress output: auto or plain (the same here).
    #[arg(long, default_value = "auto")]
    progress: String,
    /// Only parse and check the Dockerfile: every problem with its line.
    #[arg(long)]
    check: bool,
    /// The build context directory.
    context: PathBuf,
}

fn pairs(v: &[String]) -> Vec<(String, String)> {
    v.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            // As docker: --build-arg KEY takes KEY from this environment.
            None => (kv.clone(), std::env::var(kv).unwrap_or_default()),
        })
        .collect()
}

pub fn build(root: &Path, a: BuildArgs) -> CliResult {
    let (name, text) = match a.file.as_deref() {
        Some("-") => {
            let mut s = String::new();
            io::stdin().read_to_string(&mut s)?;
            ("Dockerfile".to_owned(), s)
        }
        f => {
            let path = f
                .map(PathBuf::from)
                .unwrap_or_else(|| a.context.join("Dockerfile"));
            let text = std::fs::read_to_string(&path)
                .map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))?;
            (path.display().to_string(), text)
        }
    };
    if a.check {
        return Ok(match rbox_builder::parse(&text) {
            Ok(df) => {
                println!("{name}: {} stage(s), no problem found", df.stages.len());
                ExitCode::SUCCESS
            }
            Err(diags) => {
                for d in diags {
                    eprintln!("{name}:{}: {}", d.line, d.message);
                }
                ExitCode::FAILURE
            }
        });
    }
    let tags = a
        .tag
        .iter()
        .map(|t| Reference::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let store = Store::open(root)?;
    let containers = Containers::open(root)?;
    let pull = |image: &str| crate::registry::pull_missing(root, image).map_err(|e| e.to_string());
    let opts = BuildOptions {
        context: a.context.clone(),
        dockerfile: text,
        dockerfile_name: name,
        tags: tags.clone(),
        build_args: pairs(&a.build_arg),
        no_cache: a.no_cache,
        target: a.target.clone(),
        labels: pairs(&a.label),
        network: a.network.clone(),
        quiet: a.quiet,
        pull: Some(&pull),
    };
    let mut sink = io::sink();
    let mut out = io::stdout();
    let log: &mut dyn Write = if a.quiet { &mut sink } else { &mut out };
    match run_build(&store, &containers, &opts, log) {
        Ok(image) => {
            if !a.quiet {
                for t in &tags {
                    println!("Successfully tagged {}", t.familiar());
                }
            }
            println!("{}", image.id());
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ BuildError::Parse(_)) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("rbox: build failed: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Show full commands.
    #[arg(long)]
    no_trunc: bool,
    /// Only show image ids.
    #[arg(short, long)]
    quiet: bool,
    /// The image.
    image: String,
}

pub fn history(root: &Path, a: HistoryArgs) -> CliResult {
    let store = Store::open(root)?;
    let image = store.resolve(&a.image)?;
    let raw: Value = serde_json::from_slice(&store.read_document(image.id(), "config")?)
        .map_err(|e| CliError::Failed(format!("image config: {e}")))?;
    let history = raw
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let layers = image.manifest.layers();
    let mut layer = layers.len();
    let mut rows = vec![["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
        .map(String::from)
        .to_vec()];
    for (i, h) in history.iter().enumerate().rev() {
        let empty = h
            .get("empty_layer")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let size = if empty {
            0
        } else {
            layer = layer.saturating_sub(1);
            layers.get(layer).map_or(0, |l| l.size())
        };
        let by = h
            .get("created_by")
            .and_then(Value::as_str)
            .unwrap_or("")
            .replace('\n', " ");
        let by = if a.no_trunc || by.chars().count() <= 45 {
            by
        } else {
            format!("{}…", by.chars().take(44).collect::<String>())
        };
        let id = if i + 1 == history.len() {
            image.id().short().to_owned()
        } else {
            "<missing>".into()
        };
        if a.quiet {
            println!("{id}");
            continue;
        }
        rows.push(vec![
            id,
            ago(h.get("created").and_then(Value::as_str)),
            by,
            human_size(size),
            h.get("comment")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        ]);
    }
    if !a.quiet {
        print_table(&mut io::stdout().lock(), &rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Commit message (the history entry's comment).
    #[arg(short, long)]
    message: Option<String>,
    /// Author (e.g. "Jane Doe <jane@example.com>").
    #[arg(short, long)]
    author: Option<String>,
    /// Apply a Dockerfile instruction to the image's config: CMD, ENTRYPOINT, ENV, EXPOSE,
    /// LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR (repeatable).
    #[arg(short, long)]
    change: Vec<String>,
    /// Accepted for docker's sake: the container is not paused; a running container's
    /// changes are read as they are.
    #[arg(short, long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pause: bool,
    /// The container.
    container: String,
    /// The new image's name: REPOSITORY[:TAG].
    reference: Option<String>,
}

pub fn commit(root: &Path, a: CommitArgs) -> CliResult {
    let reference = a.reference.as_deref().map(Reference::parse).transpose()?;
    let store = Store::open(root)?;
    let containers = Containers::open(root)?;
    let _ = a.pause;
    let opts = CommitOptions {
        container: a.container,
        reference,
        message: a.message,
        author: a.author,
        changes: a.change,
    };
    match run_commit(&store, &containers, &opts) {
        Ok(image) => {
            println!("{}", image.id());
            Ok(ExitCode::SUCCESS)
        }
        Err(BuildError::Runtime(e)) => Err(e.into()),
        Err(BuildError::Image(e)) => Err(e.into()),
        Err(e) => Err(CliError::Failed(e.to_string())),
    }
}
