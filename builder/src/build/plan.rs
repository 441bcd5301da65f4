//! The stage graph: which stages the target needs, and what each stage starts FROM.

use std::collections::{BTreeMap, HashSet};

use rbox_image::{Digest, Reference};
use serde_json::Value;

use super::cache::StepKey;
use super::{Builder, Result, StageState};
use crate::expand::expand;
use crate::instructions::{Dockerfile, Instruction, Stage};

/// The stages the target needs: itself, the stages it builds FROM, and those it copies from.
pub(super) fn needed_stages(
    df: &Dockerfile,
    target: usize,
    global: &BTreeMap<String, String>,
) -> HashSet<usize> {
    let mut needed = HashSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !needed.insert(i) {
            continue;
        }
        let stage = &df.stages[i];
        let base = expand(&stage.base, '\\', &|n| global.get(n).cloned()).unwrap_or_default();
        if let Some(j) = df.stage_index(&base).filter(|j| *j < i) {
            todo.push(j);
        }
        for ins in &stage.instructions {
            if let Instruction::Copy { from: Some(f), .. } = &ins.inner {
                if let Some(j) = df.stage_index(f).filter(|j| *j < i) {
                    todo.push(j);
                }
            }
        }
    }
    needed
}

impl Builder<'_> {
    pub(super) fn base_state(
        &mut self,
        df: &Dockerfile,
        stage: &Stage,
        base: &str,
    ) -> Result<StageState> {
        let arch = rbox_image::import::oci_arch().to_owned();
        if base == "scratch" {
            return Ok(StageState {
                arch,
                os: "linux".into(),
                key: Some(StepKey::Scratch.key(None)),
                ..Default::default()
            });
        }
        if let Some(i) = df.stage_index(base).filter(|i| *i < stage.index) {
            let mut s = self
                .done
                .get(&i)
                .cloned()
                .ok_or_else(|| self.fail(stage.line, format!("stage {base} was not built")))?;
            s.args.clear();
            s.cmd_set_here = false;
            return Ok(s);
        }
        let image = match (self.store.resolve(base), self.o.pull) {
            (Err(rbox_image::Error::NoSuchImage(_)), Some(pull))
                if Reference::parse(base).is_ok() =>
            {
                pull(base).map_err(|e| self.fail(stage.line, e))?;
                self.store.resolve(base)
            }
            (r, _) => r,
        }
        .map_err(|e| self.fail(stage.line, e.to_string()))?;
        let chain = self.store.ensure_snapshots(&image)?;
        let raw: Value = serde_json::from_slice(&self.store.read_document(image.id(), "config")?)
            .map_err(|e| self.fail(stage.line, format!("image config: {e}")))?;
        let layers = image
            .manifest
            .layers()
            .iter()
            .map(|l| {
                Ok((
                    l.media_type().to_string(),
                    Digest::try_from(l.digest())?,
                    l.size(),
                ))
            })
            .collect::<rbox_image::Result<Vec<_>>>()?;
        Ok(StageState {
            layers,
            diff_ids: image.diff_ids()?,
            chain,
            config: raw
                .get("config")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            history: raw
                .get("history")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            args: BTreeMap::new(),
            key: Some(
                StepKey::Image {
                    id: image.id().to_string(),
                }
                .key(None),
            ),
            cmd_set_here: false,
            arch: raw
                .get("architecture")
                .and_then(Value::as_str)
                .unwrap_or(&arch)
                .to_owned(),
            os: raw
                .get("os")
                .and_then(Value::as_str)
                .unwrap_or("linux")
                .to_owned(),
        })
    }
}
