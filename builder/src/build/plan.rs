//! The stage graph: which stages the target needs, and what each stage starts FROM.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::cache::StepKey;
use super::{Builder, Result, StageState};
use crate::expand::expand;
use crate::instructions::{Dockerfile, Instruction, Stage};

/// What a build runs: the values of the global ARGs, the target stage, and the stages it
/// needs.
pub(super) struct Plan {
    /// The ARGs before the first FROM: `--build-arg` values, else their defaults.
    pub(super) global: BTreeMap<String, String>,
    /// The index of the stage the image is made of.
    pub(super) target: usize,
    /// The stages the target needs, itself included.
    pub(super) needed: HashSet<usize>,
}

impl Plan {
    /// The plan for `target` (`--target`; the last stage without it).
    pub(super) fn new(
        df: &Dockerfile,
        build_args: &HashMap<String, String>,
        target: Option<&str>,
    ) -> Result<Plan, String> {
        let mut global = BTreeMap::new();
        for a in &df.global_args {
            let v = build_args
                .get(&a.inner.name)
                .cloned()
                .or_else(|| a.inner.default.clone());
            if let Some(v) = v {
                global.insert(a.inner.name.clone(), v);
            }
        }
        let target = match target {
            Some(t) => df
                .stage_index(t)
                .ok_or_else(|| format!("--target {t}: no such stage"))?,
            None => df
                .stages
                .len()
                .checked_sub(1)
                .ok_or("no FROM instruction")?,
        };
        let needed = needed_stages(df, target, &global);
        Ok(Plan {
            global,
            target,
            needed,
        })
    }

    /// How many steps the build announces: each needed stage's FROM and instructions.
    pub(super) fn steps(&self, df: &Dockerfile) -> usize {
        df.stages
            .iter()
            .filter(|s| self.needed.contains(&s.index))
            .map(|s| s.instructions.len() + 1)
            .sum()
    }
}

/// What `stage` is built FROM, expanded with the global ARGs.
pub(super) fn stage_base(
    df: &Dockerfile,
    stage: &Stage,
    global: &BTreeMap<String, String>,
) -> Result<String, String> {
    expand(&stage.base, df.directives.escape, &|n| {
        global.get(n).cloned()
    })
}

/// The earlier stage `base` names, if it names one (else an image, or scratch).
pub(super) fn base_stage(df: &Dockerfile, stage: &Stage, base: &str) -> Option<usize> {
    df.stage_index(base).filter(|i| *i < stage.index)
}

/// Docker's `PATH` on Linux, which `docker build` gives a stage whose base has none.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Adds [`DEFAULT_PATH`] to an environment without PATH, as BuildKit does at each FROM.
fn with_default_path(config: &mut rbox_image::config::RunConfig) {
    let env = config.env.get_mut_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(DEFAULT_PATH.to_owned());
    }
}

/// The earlier stages `stage` needs built first: the one it is FROM, and those it copies
/// or mounts from.
pub(super) fn stage_deps(
    df: &Dockerfile,
    stage: &Stage,
    global: &BTreeMap<String, String>,
) -> Vec<usize> {
    let i = stage.index;
    let mut deps = Vec::new();
    // A FROM that doesn't expand fails when its stage runs.
    let base = stage_base(df, stage, global).unwrap_or_default();
    if let Some(j) = base_stage(df, stage, &base) {
        deps.push(j);
    }
    for ins in &stage.instructions {
        let froms: Vec<&str> = match &ins.inner {
            Instruction::Copy { from: Some(f), .. } => vec![f.as_str()],
            // `RUN --mount=...,from=stage`.
            Instruction::Run { mounts, .. } => mounts
                .iter()
                .flat_map(|m| m.split(','))
                .filter_map(|f| f.trim().strip_prefix("from="))
                .collect(),
            _ => Vec::new(),
        };
        for f in froms {
            if let Some(j) = df.stage_index(f).filter(|j| *j < i) {
                if !deps.contains(&j) {
                    deps.push(j);
                }
            }
        }
    }
    deps
}

/// The stages the target needs: itself, the stages it builds FROM, and those it copies from.
fn needed_stages(
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
        todo.extend(stage_deps(df, &df.stages[i], global));
    }
    needed
}

impl Builder<'_> {
    /// `--platform` against a stage's base: OS, architecture and variant.
    fn check_platform(
        &self,
        line: usize,
        what: &str,
        os: &str,
        arch: &str,
        variant: Option<&str>,
    ) -> Result<()> {
        let Some(wanted) = &self.o.platform else {
            return Ok(());
        };
        rbox_runtime::model::host_options::check_platform(wanted, os, arch, variant).map_err(|e| {
            match e {
                rbox_runtime::Error::InvalidOption { reason, .. } => {
                    self.fail(line, format!("{what}: --platform {wanted}: {reason}"))
                }
                e => self.fail(line, format!("{what}: {e}")),
            }
        })
    }

    pub(super) fn base_state(
        &mut self,
        df: &Dockerfile,
        stage: &Stage,
        base: &str,
    ) -> Result<StageState> {
        let arch = rbox_image::import::oci_arch().to_owned();
        if base == "scratch" {
            // A stage of nothing is this host's platform.
            self.check_platform(stage.line, "FROM scratch", "linux", &arch, None)?;
            let mut st = StageState {
                arch,
                os: "linux".into(),
                key: Some(StepKey::Scratch.key(None)),
                ..Default::default()
            };
            with_default_path(&mut st.config);
            return Ok(st);
        }
        if let Some(i) = base_stage(df, stage, base) {
            let mut s = self
                .done
                .get(&i)
                .cloned()
                .ok_or_else(|| self.fail(stage.line, format!("stage {base} was not built")))?;
            s.args.clear();
            s.cmd_set_here = false;
            return Ok(s);
        }
        // An image the store lacked was pulled before the stages started.
        let base = match self.named(base) {
            Some(super::NamedContext::Image(r)) => r.as_str(),
            _ => base,
        };
        let image = self
            .store
            .resolve(base)
            .map_err(|e| self.fail(stage.line, e.to_string()))?;
        let chain = self.store.ensure_snapshots(&image)?;
        let ic = self
            .store
            .image_config(image.id())
            .map_err(|e| self.fail(stage.line, format!("image config: {e}")))?;
        self.check_platform(
            stage.line,
            &format!("FROM {base}"),
            &ic.os,
            &ic.architecture,
            ic.variant.as_deref(),
        )?;
        let layers = image.layer_refs()?;
        let mut config = ic.config.unwrap_or_default();
        with_default_path(&mut config);
        Ok(StageState {
            layers,
            diff_ids: image.diff_ids()?,
            chain,
            config,
            history: ic.history,
            args: BTreeMap::new(),
            key: Some(
                StepKey::Image {
                    id: image.id().to_string(),
                }
                .key(None),
            ),
            cmd_set_here: false,
            arch: Some(ic.architecture)
                .filter(|a| !a.is_empty())
                .unwrap_or(arch),
            os: Some(ic.os)
                .filter(|o| !o.is_empty())
                .unwrap_or_else(|| "linux".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instructions::parse;

    #[test]
    fn the_target_needs_the_stages_it_builds_from_and_copies_from() {
        let df = parse(
            "ARG BASE=one\nFROM scratch AS one\nFROM scratch AS two\nFROM $BASE AS three\nCOPY --from=two /a /b\nFROM scratch AS four\n",
        )
        .unwrap();
        let no_args = HashMap::new();
        let plan = Plan::new(&df, &no_args, Some("three")).unwrap();
        assert_eq!(plan.target, 2);
        assert_eq!(plan.needed, HashSet::from([0, 1, 2]));
        assert_eq!(plan.global["BASE"], "one");
        assert_eq!(plan.steps(&df), 4);
        let plan = Plan::new(&df, &no_args, None).unwrap();
        assert_eq!((plan.target, plan.needed), (3, HashSet::from([3])));
        let df = parse(
            "FROM scratch AS one\nFROM scratch AS two\nFROM scratch\nRUN --mount=type=bind,from=two,target=/t true\n",
        )
        .unwrap();
        let plan = Plan::new(&df, &no_args, None).unwrap();
        assert_eq!(plan.needed, HashSet::from([1, 2]));
        let args = HashMap::from([("BASE".to_owned(), "two".to_owned())]);
        let plan = Plan::new(&df, &args, Some("2")).unwrap();
        assert_eq!(plan.needed, HashSet::from([1, 2]));
        let e = Plan::new(&df, &no_args, Some("nope")).err().unwrap();
        assert_eq!(e, "--target nope: no such stage");
    }
}
