//! `rbox commit`: a container's changes become a new layer on top of its image.
//!
//! The container's upper directory is written as a layer by the same code as a RUN step's
//! (layer.rs: read relative to open directory fds with `O_NOFOLLOW`, so a running container
//! swapping a directory for a link to the host has the link stored, never the host's
//! files), without the empty mount points the runtime made for /etc/hostname,
//! /etc/hosts and /etc/resolv.conf; the container keeps its upper directory, so the snapshot
//! is unpacked from the stored layer rather than moved. The config is the image's with the
//! container's own (Env, Cmd, Entrypoint, WorkingDir, User, Labels, StopSignal), as docker
//! commit keeps it, then the `--change` instructions applied as a Dockerfile would.

use std::path::{Path, PathBuf};

use rbox_image::config::{Field, History, ImageConfig, RootFs};
use rbox_image::{Digest, Image, Reference, Store};
use rbox_runtime::Containers;

use crate::build::{mount_points, BuildError, Meta, StageState};
use crate::instructions::{parse, Instruction};

/// What `rbox commit` was asked.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The container: name, id or id prefix.
    pub container: String,
    /// The tag for the new image; untagged when `None`.
    pub reference: Option<Reference>,
    /// `-m`: the history entry's comment.
    pub message: Option<String>,
    /// `-a`: the image's author.
    pub author: Option<String>,
    /// `-c`: Dockerfile instructions applied to the config (CMD, ENTRYPOINT, ENV, EXPOSE,
    /// LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR).
    pub changes: Vec<String>,
}

/// The instructions `--change` accepts, as docker commit.
const CHANGE_KEYWORDS: [&str; 10] = [
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Parses the `--change` instructions, each one line of a Dockerfile; every problem is
/// reported.
pub fn parse_changes(changes: &[String]) -> Result<Vec<Instruction>, BuildError> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for c in changes {
        let keyword = c
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_uppercase();
        if !CHANGE_KEYWORDS.contains(&keyword.as_str()) {
            problems.push(format!(
                "--change {c:?}: {} is not one of {}",
                if keyword.is_empty() {
                    "an empty instruction"
                } else {
                    &keyword
                },
                CHANGE_KEYWORDS.join(", ")
            ));
            continue;
        }
        match parse(&format!("FROM scratch\n{c}\n")) {
            Ok(df) => match df.stages.into_iter().next().map(|s| s.instructions) {
                Some(mut ins) if ins.len() == 1 => out.push(ins.remove(0).inner),
                _ => problems.push(format!("--change {c:?}: not one instruction")),
            },
            Err(diags) => {
                for d in diags {
                    problems.push(format!("--change {c:?}: {}", d.message));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(BuildError::Parse(problems))
    }
}

/// `KEY=value` pairs with one value per key (the last one given), in the order the keys
/// first appear.
fn dedup_env(env: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in env {
        let key = e.split('=').next().unwrap_or_default();
        match out
            .iter_mut()
            .find(|o| o.split('=').next().unwrap_or_default() == key)
        {
            Some(o) => *o = e.clone(),
            None => out.push(e.clone()),
        }
    }
    out
}

/// Commits container `o.container`; returns the new image (tagged `o.reference` if given).
pub fn commit(
    store: &Store,
    containers: &Containers,
    o: &CommitOptions,
) -> Result<Image, BuildError> {
    let changes = parse_changes(&o.changes)?;
    let id = containers.resolve(&o.container)?;
    let container = containers.load(&id)?;
    // A stopped container is kept from starting or going away while it is read; a running
    // one is read live (its monitor must stay free to record its exit).
    let _lock = if container.state.is_running() {
        None
    } else {
        Some(containers.lock(&id)?)
    };
    let cc = &container.config;
    let fail = |m: String| BuildError::Failed(format!("container {}: {m}", cc.name));
    let manifest: Digest = cc
        .manifest
        .parse()
        .map_err(|_| fail("the container has no image to commit onto".into()))?;
    // Nothing this adds is collected before it is tagged.
    let _content = store.lock_content()?;
    let image = store.image(&manifest)?;
    let chain: Vec<Digest> = cc
        .layers
        .iter()
        .map(|c| c.parse())
        .collect::<Result<_, _>>()
        .map_err(|e: rbox_image::Error| fail(e.to_string()))?;
    let base = store
        .image_config(image.id())
        .map_err(|e| fail(format!("image config: {e}")))?;

    // The config: the image's, the container's, then the changes.
    let mut config = base.run();
    let p = &cc.config;
    let non_empty = |v: &Vec<String>| Field::from((!v.is_empty()).then(|| v.clone()));
    config.env = Field::Set(dedup_env(&p.env));
    config.cmd = non_empty(&p.cmd);
    config.entrypoint = non_empty(&p.entrypoint);
    config.working_dir = Field::from((!p.working_dir.is_empty()).then(|| p.working_dir.clone()));
    config.user = Field::from((!p.user.is_empty()).then(|| p.user.clone()));
    config.labels = Field::from((!p.labels.is_empty()).then(|| p.labels.clone()));
    if let Some(s) = &p.stop_signal {
        config.stop_signal = Field::Set(s.clone());
    }
    let mut st = StageState::with_config(config);
    for c in &changes {
        match st.apply_metadata(c, '\\') {
            Ok(Meta::Applied(_)) => {}
            Ok(Meta::No) => unreachable!("parse_changes keeps metadata instructions only"),
            Err(e) => return Err(BuildError::Parse(vec![format!("--change: {e}")])),
        }
    }

    // The layer: the upper directory without the runtime's mount points.
    let upper = containers.dir(&id).join("upper");
    let skipped: Vec<PathBuf> = mount_points(&upper, &chain, store);
    let skip = |p: &Path| skipped.iter().any(|s| s == p);
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    let (diff, _chain_id) = crate::layer::commit_copy(store, &upper, chain.last(), epoch, &skip)?;

    let created = match epoch {
        Some(e) => chrono::DateTime::from_timestamp(e as i64, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(rbox_runtime::now),
        None => rbox_runtime::now(),
    };
    let mut history = base.history;
    history.push(History {
        created: Some(created.clone()),
        created_by: Some(
            p.entrypoint
                .iter()
                .chain(&p.cmd)
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
        ),
        author: o.author.clone(),
        comment: o.message.clone(),
        ..Default::default()
    });
    let mut diff_ids: Vec<String> = image.diff_ids()?.iter().map(|d| d.to_string()).collect();
    diff_ids.push(diff.digest.to_string());
    let new = ImageConfig {
        created: Some(created),
        author: o.author.clone(),
        architecture: Some(base.architecture)
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| rbox_image::import::oci_arch().to_owned()),
        os: Some(base.os)
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| "linux".into()),
        config: Some(st.config),
        rootfs: RootFs {
            diff_ids,
            ..Default::default()
        },
        history,
        ..Default::default()
    };
    let mut layers = image.layer_refs()?;
    layers.push((
        "application/vnd.oci.image.layer.v1.tar".into(),
        diff.digest,
        diff.size,
    ));
    let committed = store.commit_image(&new, &layers)?;
    match &o.reference {
        Some(r) => store.tag(&committed, r)?,
        None => store.add_untagged(&committed)?,
    }
    Ok(committed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_metadata_instructions_only() {
        let ins = parse_changes(&[
            "CMD [\"cat\", \"/new\"]".into(),
            "ENV A=1 B=2".into(),
            "expose 80".into(),
        ])
        .unwrap();
        assert_eq!(ins.len(), 3);
        assert!(matches!(ins[0], Instruction::Cmd(_)));
        let e = parse_changes(&["RUN rm -rf /".into(), "FOO bar".into(), String::new()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("RUN is not one of") && e.contains("FOO is not one of"),
            "{e}"
        );
        assert!(e.contains("an empty instruction"), "{e}");
        let e = parse_changes(&["CMD [\"unterminated\"".into()]);
        assert!(e.is_err());
    }

    #[test]
    fn env_keeps_one_value_per_key() {
        assert_eq!(
            dedup_env(&["PATH=/bin".into(), "A=1".into(), "PATH=/usr/bin".into()]),
            vec!["PATH=/usr/bin".to_owned(), "A=1".to_owned()]
        );
    }
}
