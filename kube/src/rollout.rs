//! A Deployment's revisions, as Kubernetes keeps them on its ReplicaSets, as data the engine
//! stores in a file; and the order of a rolling update as a function of counts.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::types::{PodTemplateSpec, Strategy};

/// The annotation whose value `rollout history` shows as CHANGE-CAUSE.
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

/// One revision: a template the Deployment has run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    pub number: u64,
    pub template_hash: String,
    pub change_cause: Option<String>,
    pub template: PodTemplateSpec,
}

/// A Deployment's revisions, oldest first; the last is the current one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub deployment: String,
    pub revisions: Vec<Revision>,
}

/// What [`History::record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The template is the current one: nothing changes (a changed replicas count lands here).
    Unchanged,
    /// A new template: a new revision of this number.
    New(u64),
    /// An earlier template again: its revision moves to this new number, as Kubernetes
    /// renumbers the ReplicaSet it reuses.
    Reused { from: u64, to: u64 },
}

impl History {
    /// An empty history.
    pub fn new(deployment: &str) -> Self {
        History {
            deployment: deployment.to_string(),
            revisions: Vec::new(),
        }
    }

    /// The current revision.
    pub fn current(&self) -> Option<&Revision> {
        self.revisions.last()
    }

    /// A revision by number.
    pub fn revision(&self, number: u64) -> Option<&Revision> {
        self.revisions.iter().find(|r| r.number == number)
    }

    fn next_number(&self) -> u64 {
        self.revisions.iter().map(|r| r.number).max().unwrap_or(0) + 1
    }

    /// Records the template a play runs (`hash` from [`crate::naming::template_hash`]).
    pub fn record(
        &mut self,
        template: &PodTemplateSpec,
        hash: &str,
        change_cause: Option<String>,
    ) -> Recorded {
        if self.current().is_some_and(|r| r.template_hash == hash) {
            return Recorded::Unchanged;
        }
        let to = self.next_number();
        if let Some(i) = self.revisions.iter().position(|r| r.template_hash == hash) {
            let mut r = self.revisions.remove(i);
            let from = r.number;
            r.number = to;
            if change_cause.is_some() {
                r.change_cause = change_cause;
            }
            self.revisions.push(r);
            return Recorded::Reused { from, to };
        }
        self.revisions.push(Revision {
            number: to,
            template_hash: hash.to_string(),
            change_cause,
            template: template.clone(),
        });
        Recorded::New(to)
    }

    /// `rollout undo [--to-revision N]`: the revision to roll back to (the previous one when
    /// `to` is None or 0), made the newest as Kubernetes does — its old number disappears
    /// and it comes back under a new one. Returns the template to roll to.
    pub fn undo(&mut self, to: Option<u64>) -> Result<&Revision, Error> {
        let target = match to.filter(|n| *n != 0) {
            Some(n) => self
                .revisions
                .iter()
                .position(|r| r.number == n)
                .ok_or_else(|| {
                    Error::Rollout(format!(
                        "unable to find the specified revision {n} of deployment {}",
                        self.deployment
                    ))
                })?,
            None if self.revisions.len() >= 2 => self.revisions.len() - 2,
            None => {
                return Err(Error::Rollout(format!(
                    "no rollout history found for deployment {}",
                    self.deployment
                )))
            }
        };
        if target + 1 != self.revisions.len() {
            let number = self.next_number();
            let mut r = self.revisions.remove(target);
            r.number = number;
            self.revisions.push(r);
        }
        Ok(self.revisions.last().expect("a revision"))
    }

    /// Keeps the current revision and the `limit` newest before it (revisionHistoryLimit).
    /// Returns the template hashes dropped (their ReplicaSets, if any, can go).
    pub fn prune(&mut self, limit: u32) -> Vec<String> {
        let keep = limit as usize + 1;
        if self.revisions.len() <= keep {
            return Vec::new();
        }
        let n = self.revisions.len() - keep;
        self.revisions.drain(..n).map(|r| r.template_hash).collect()
    }

    /// kubectl's `rollout history deployment NAME`.
    pub fn table(&self) -> String {
        let mut out = format!("deployment.apps/{}\n", self.deployment);
        let rows: Vec<(String, String)> = self
            .revisions
            .iter()
            .map(|r| {
                (
                    r.number.to_string(),
                    r.change_cause.clone().unwrap_or_else(|| "<none>".into()),
                )
            })
            .collect();
        let width = rows
            .iter()
            .map(|(n, _)| n.len())
            .chain(["REVISION".len()])
            .max()
            .unwrap_or(8)
            + 2;
        out.push_str(&format!("{:<width$}CHANGE-CAUSE\n", "REVISION"));
        for (n, cause) in rows {
            out.push_str(&format!("{n:<width$}{cause}\n"));
        }
        out.push('\n');
        out
    }

    /// kubectl's `rollout history deployment NAME --revision=N`: the revision's pod template.
    pub fn describe(&self, number: u64) -> Result<String, Error> {
        let r = self.revision(number).ok_or_else(|| {
            Error::Rollout(format!(
                "unable to find the specified revision {number} of deployment {}",
                self.deployment
            ))
        })?;
        let t = &r.template;
        let mut out = format!(
            "deployment.apps/{} with revision #{number}\nPod Template:\n",
            self.deployment
        );
        let pairs = |m: &std::collections::BTreeMap<String, String>, sep: &str| {
            let mut v: Vec<String> = m.iter().map(|(k, v)| format!("{k}{sep}{v}")).collect();
            v.push(format!("pod-template-hash{sep}{}", r.template_hash));
            v.sort();
            v.dedup();
            v.join("\n\t")
        };
        out.push_str(&format!("  Labels:\t{}\n", pairs(&t.metadata.labels, "=")));
        if let Some(c) = &r.change_cause {
            out.push_str(&format!("  Annotations:\t{CHANGE_CAUSE}: {c}\n"));
        }
        out.push_str("  Containers:\n");
        for c in &t.spec.containers {
            out.push_str(&format!(
                "   {}:\n    Image:\t{}\n",
                c.name,
                c.image.as_deref().unwrap_or("")
            ));
            let ports: Vec<String> = c
                .ports
                .iter()
                .map(|p| {
                    format!(
                        "{}/{}",
                        p.container_port,
                        format!("{:?}", p.protocol.unwrap_or_default()).to_uppercase()
                    )
                })
                .collect();
            out.push_str(&format!(
                "    Port:\t{}\n",
                if ports.is_empty() {
                    "<none>".into()
                } else {
                    ports.join(", ")
                }
            ));
            if !c.command.is_empty() {
                out.push_str(&format!(
                    "    Command:\n      {}\n",
                    c.command.join("\n      ")
                ));
            }
            if !c.args.is_empty() {
                out.push_str(&format!("    Args:\n      {}\n", c.args.join("\n      ")));
            }
            out.push_str("    Environment:");
            if c.env.is_empty() {
                out.push_str("\t<none>\n");
            } else {
                out.push('\n');
                for e in &c.env {
                    let v = e
                        .value
                        .clone()
                        .unwrap_or_else(|| "<set from a reference>".into());
                    out.push_str(&format!("      {}:\t{v}\n", e.name));
                }
            }
            out.push_str("    Mounts:");
            if c.volume_mounts.is_empty() {
                out.push_str("\t<none>\n");
            } else {
                out.push('\n');
                for m in &c.volume_mounts {
                    out.push_str(&format!("      {} from {}\n", m.mount_path, m.name));
                }
            }
        }
        out.push_str(&format!(
            "  Volumes:\t{}\n",
            if t.spec.volumes.is_empty() {
                "<none>".to_string()
            } else {
                t.spec
                    .volumes
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
        Ok(out)
    }
}

/// Pod counts during a rollout: old pods (of earlier templates) and new ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutState {
    /// The Deployment's replicas.
    pub desired: u32,
    pub old_total: u32,
    /// Old pods ready (passing readiness, or running when there is no readiness probe).
    pub old_ready: u32,
    pub new_total: u32,
    pub new_ready: u32,
}

/// The next thing a rollout does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Make this many pods of the new template.
    CreateNew(u32),
    /// Remove this many old pods (unready ones first).
    RemoveOld(u32),
    /// Remove this many new pods (the replicas count went down).
    RemoveNew(u32),
    /// Wait for pods to become ready.
    Wait,
    /// Every pod is of the new template and ready.
    Done,
}

/// The next step, as Kubernetes' Deployment controller takes them: with RollingUpdate,
/// never more than `desired + maxSurge` pods (surge rounded up) and never fewer than
/// `desired - maxUnavailable` ready (rounded down; if both are 0, one may be unavailable);
/// with Recreate, every old pod goes before any new one is made.
pub fn next_step(s: RolloutState, strategy: &Strategy) -> Step {
    if s.new_total > s.desired {
        return Step::RemoveNew(s.new_total - s.desired);
    }
    match strategy {
        Strategy::Recreate => {
            if s.old_total > 0 {
                return Step::RemoveOld(s.old_total);
            }
            if s.new_total < s.desired {
                return Step::CreateNew(s.desired - s.new_total);
            }
        }
        Strategy::RollingUpdate {
            max_surge,
            max_unavailable,
        } => {
            let surge = max_surge.scaled(s.desired, true).unwrap_or(0);
            let mut unavailable = max_unavailable.scaled(s.desired, false).unwrap_or(0);
            if surge == 0 && unavailable == 0 {
                unavailable = 1;
            }
            let total = s.old_total + s.new_total;
            let room = (s.desired + surge).saturating_sub(total);
            let create = room.min(s.desired - s.new_total);
            if create > 0 {
                return Step::CreateNew(create);
            }
            if s.old_total > 0 {
                let unready_old = s.old_total - s.old_ready.min(s.old_total);
                let min_available = s.desired.saturating_sub(unavailable);
                let available = s.old_ready + s.new_ready;
                let removable = unready_old
                    .max(available.saturating_sub(min_available))
                    .min(s.old_total);
                if removable > 0 {
                    return Step::RemoveOld(removable);
                }
            }
        }
    }
    if s.old_total == 0 && s.new_total == s.desired && s.new_ready >= s.desired {
        Step::Done
    } else {
        Step::Wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IntOrString;

    fn t(image: &str) -> PodTemplateSpec {
        let mut t = PodTemplateSpec::default();
        t.spec.containers.push(crate::types::Container {
            name: "c".into(),
            image: Some(image.into()),
            ..Default::default()
        });
        t
    }

    #[test]
    fn revisions_as_the_notes_use_them() {
        let mut h = History::new("echo");
        assert_eq!(h.record(&t("v1"), "h1", None), Recorded::New(1));
        assert_eq!(h.record(&t("v1"), "h1", None), Recorded::Unchanged);
        assert_eq!(h.record(&t("v2"), "h2", None), Recorded::New(2));
        assert_eq!(
            h.record(&t("v3"), "h3", Some("image v3".into())),
            Recorded::New(3)
        );
        assert_eq!(h.table(), "deployment.apps/echo\nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n3         image v3\n\n");
        // undo to the first: 1 disappears and comes back as 4.
        let r = h.undo(Some(1)).unwrap();
        assert_eq!((r.number, r.template_hash.as_str()), (4, "h1"));
        let numbers: Vec<u64> = h.revisions.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [2, 3, 4]);
        // plain undo: the previous one (3).
        assert_eq!(h.undo(None).unwrap().template_hash, "h3");
        assert_eq!(h.current().unwrap().number, 5);
        assert!(h.undo(Some(1)).is_err());
        // playing an older template again reuses its revision.
        assert_eq!(
            h.record(&t("v2"), "h2", None),
            Recorded::Reused { from: 2, to: 6 }
        );
        assert_eq!(h.prune(1), vec!["h1".to_string()]);
        assert_eq!(h.revisions.len(), 2);
        let stored = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<History>(&stored).unwrap(), h);
        assert!(h.describe(6).unwrap().starts_with("deployment.apps/echo with revision #6\nPod Template:\n  Labels:\tpod-template-hash=h2\n"));
    }

    #[test]
    fn rolling_order() {
        let default = Strategy::RollingUpdate {
            max_surge: IntOrString::String("25%".into()),
            max_unavailable: IntOrString::String("25%".into()),
        };
        let s = |old_total, old_ready, new_total, new_ready| RolloutState {
            desired: 1,
            old_total,
            old_ready,
            new_total,
            new_ready,
        };
        // one replica: a new pod up and ready before the old one goes.
        assert_eq!(next_step(s(1, 1, 0, 0), &default), Step::CreateNew(1));
        assert_eq!(next_step(s(1, 1, 1, 0), &default), Step::Wait);
        assert_eq!(next_step(s(1, 1, 1, 1), &default), Step::RemoveOld(1));
        assert_eq!(next_step(s(0, 0, 1, 1), &default), Step::Done);
        // three replicas, 25%: surge 1, unavailable 0.
        let s3 = |old_total, new_total, new_ready| RolloutState {
            desired: 3,
            old_total,
            old_ready: old_total,
            new_total,
            new_ready,
        };
        assert_eq!(next_step(s3(3, 0, 0), &default), Step::CreateNew(1));
        assert_eq!(next_step(s3(3, 1, 1), &default), Step::RemoveOld(1));
        assert_eq!(next_step(s3(2, 1, 1), &default), Step::CreateNew(1));
        let zero_surge = Strategy::RollingUpdate {
            max_surge: IntOrString::Int(0),
            max_unavailable: IntOrString::Int(0),
        };
        assert_eq!(next_step(s3(3, 0, 0), &zero_surge), Step::RemoveOld(1));
        assert_eq!(
            next_step(s3(3, 0, 0), &Strategy::Recreate),
            Step::RemoveOld(3)
        );
        assert_eq!(
            next_step(s3(0, 0, 0), &Strategy::Recreate),
            Step::CreateNew(3)
        );
        assert_eq!(next_step(s3(0, 4, 4), &default), Step::RemoveNew(1));
    }
}
