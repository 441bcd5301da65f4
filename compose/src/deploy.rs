//! `deploy:` as one host can honour it: replicas, resources, restart policy; `placement` and
//! `mode` kept so the engine can warn that there is one node.

use std::time::Duration;

use serde::Serialize;

use crate::de::{self, err, Fields};
use crate::error::{Result, Warnings};
use crate::node::Node;
use crate::parts::{bytes, duration, ser_duration};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Resources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartCondition {
    None,
    OnFailure,
    Any,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RestartPolicy {
    pub condition: RestartCondition,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(
        serialize_with = "ser_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub delay: Option<Duration>,
    #[serde(
        serialize_with = "ser_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub window: Option<Duration>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Deploy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Resources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservations: Option<Resources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// Swarm placement as written: one host has no nodes to choose, the engine warns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "indexmap::IndexMap::is_empty")]
    pub labels: indexmap::IndexMap<String, String>,
}

fn resources(n: &Node, what: &str, w: &mut Warnings) -> Result<Resources> {
    let mut f = Fields::new(n, what)?;
    let r = Resources {
        cpus: f.get("cpus").map(de::float).transpose()?,
        memory: f.get("memory").map(bytes).transpose()?,
        pids: f.get("pids").map(de::int).transpose()?,
    };
    f.finish(what, w);
    Ok(r)
}

pub fn deploy(n: &Node, w: &mut Warnings) -> Result<Deploy> {
    let mut f = Fields::new(n, "deploy")?;
    let mode = match f.get("mode") {
        Some(m) => Some(de::one_of(m, &["replicated", "global"])?.to_string()),
        None => None,
    };
    let (mut limits, mut reservations) = (None, None);
    if let Some(r) = f.get("resources") {
        let mut rf = Fields::new(r, "deploy.resources")?;
        limits = rf
            .get("limits")
            .map(|l| resources(l, "deploy.resources.limits", w))
            .transpose()?;
        reservations = rf
            .get("reservations")
            .map(|l| resources(l, "deploy.resources.reservations", w))
            .transpose()?;
        rf.finish("deploy.resources", w);
    }
    let restart_policy = match f.get("restart_policy") {
        Some(r) => {
            let mut rf = Fields::new(r, "deploy.restart_policy")?;
            let condition = match rf.get("condition") {
                Some(c) => match de::one_of(c, &["none", "on-failure", "any"])? {
                    "none" => RestartCondition::None,
                    "on-failure" => RestartCondition::OnFailure,
                    _ => RestartCondition::Any,
                },
                None => RestartCondition::Any,
            };
            let p = RestartPolicy {
                condition,
                max_attempts: rf.get("max_attempts").map(de::int).transpose()?,
                delay: rf.get("delay").map(duration).transpose()?,
                window: rf.get("window").map(duration).transpose()?,
            };
            rf.finish("deploy.restart_policy", w);
            Some(p)
        }
        None => None,
    };
    let replicas = match f.get("replicas") {
        Some(r) => Some(
            de::int::<u32>(r)
                .or_else(|_| err(r, format!("replicas must be a count, not {}", r.describe())))?,
        ),
        None => None,
    };
    let d = Deploy {
        mode,
        replicas,
        limits,
        reservations,
        restart_policy,
        placement: f.get("placement").map(Node::to_json),
        labels: f
            .get("labels")
            .map(de::string_map)
            .transpose()?
            .unwrap_or_default(),
    };
    f.finish("deploy", w);
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn d(text: &str, w: &mut Warnings) -> Result<Deploy> {
        let n = crate::node::parse(&Arc::from("c.yaml"), text).unwrap();
        deploy(n.get("d").unwrap(), w)
    }

    #[test]
    fn resources_and_restart_policy() {
        let mut w = Warnings::default();
        let x = d(
            "d:\n  replicas: 2\n  resources:\n    limits: {cpus: '0.5', memory: 512M, pids: 100}\n    reservations: {memory: 128m}\n  \
             restart_policy: {condition: on-failure, max_attempts: 3, delay: 5s}\n  update_config: {parallelism: 2}\n",
            &mut w,
        )
        .unwrap();
        assert_eq!(x.replicas, Some(2));
        let l = x.limits.unwrap();
        assert_eq!(
            (l.cpus, l.memory, l.pids),
            (Some(0.5), Some(512 << 20), Some(100))
        );
        assert_eq!(x.reservations.unwrap().memory, Some(128 << 20));
        let r = x.restart_policy.unwrap();
        assert_eq!(
            (r.condition, r.max_attempts),
            (RestartCondition::OnFailure, Some(3))
        );
        // Swarm's update_config has no meaning on one host: a warning, not silence.
        assert_eq!(w.0.len(), 1);
        assert!(w.0[0].message.contains("update_config"));
        let e = d("d:\n  replicas: \"x\"\n", &mut w)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.yaml:2:13:"), "{e}");
    }
}
