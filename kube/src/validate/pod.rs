//! A pod spec's checks: containers, ports, mounts, env, resources, probes, volumes.

use std::collections::{BTreeMap, BTreeSet};

use super::Checker;
use crate::names::*;
use crate::types::*;

impl Checker<'_> {
    pub(super) fn pod_spec(&mut self, spec: &PodSpec, at: &str) {
        if spec.containers.is_empty() {
            self.bad(
                &format!("{at}.containers"),
                "a pod has one container at least",
            );
        }
        let mut volumes = BTreeSet::new();
        for (i, v) in spec.volumes.iter().enumerate() {
            let f = format!("{at}.volumes[{i}]");
            if !is_dns1123_label(&v.name) {
                self.bad(
                    &format!("{f}.name"),
                    format!("{:?} is not a DNS-1123 label", v.name),
                );
            }
            if !volumes.insert(v.name.as_str()) {
                self.bad(
                    &format!("{f}.name"),
                    format!("a second volume named {:?}", v.name),
                );
            }
            if v.source_count() != 1 {
                self.bad(&f, "a volume has exactly one source (hostPath, emptyDir, configMap, secret, persistentVolumeClaim)");
            }
            if let Some(h) = &v.host_path {
                if !h.path.starts_with('/') {
                    self.bad(&format!("{f}.hostPath.path"), "an absolute path");
                }
            }
            if let Some(Err(e)) = v
                .empty_dir
                .as_ref()
                .and_then(|e| e.size_limit.as_ref())
                .map(|q| q.bytes())
            {
                self.bad(&format!("{f}.emptyDir.sizeLimit"), e.to_string());
            }
            let items = v
                .config_map
                .as_ref()
                .map(|c| (&c.items, c.default_mode, "configMap"))
                .or(v
                    .secret
                    .as_ref()
                    .map(|s| (&s.items, s.default_mode, "secret")));
            if let Some((items, mode, source)) = items {
                if mode.is_some_and(|m| !(0..=0o777).contains(&m)) {
                    self.bad(
                        &format!("{f}.{source}.defaultMode"),
                        "a mode from 0 to 0777",
                    );
                }
                for (j, item) in items.iter().enumerate() {
                    if item.path.starts_with('/')
                        || item.path.split('/').any(|p| p == "..")
                        || item.path.is_empty()
                    {
                        self.bad(
                            &format!("{f}.{source}.items[{j}].path"),
                            "a relative path without '..'",
                        );
                    }
                    if item.mode.is_some_and(|m| !(0..=0o777).contains(&m)) {
                        self.bad(
                            &format!("{f}.{source}.items[{j}].mode"),
                            "a mode from 0 to 0777",
                        );
                    }
                }
            }
        }
        let mut names = BTreeSet::new();
        let all = spec
            .init_containers
            .iter()
            .map(|c| (c, "initContainers"))
            .chain(spec.containers.iter().map(|c| (c, "containers")));
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        for (c, list) in all {
            let i = index.entry(list).or_default();
            let f = format!("{at}.{list}[{i}]");
            *i += 1;
            if !is_dns1123_label(&c.name) {
                self.bad(
                    &format!("{f}.name"),
                    format!(
                        "{:?} is not a DNS-1123 label (a-z, 0-9, '-', at most 63)",
                        c.name
                    ),
                );
            } else if !names.insert(c.name.as_str()) {
                self.bad(
                    &format!("{f}.name"),
                    format!("a second container named {:?}", c.name),
                );
            }
            self.container(c, &f, &volumes, list == "initContainers");
            // On the host's network a container's port is the host's.
            if spec.host_network == Some(true) {
                for (j, p) in c.ports.iter().enumerate() {
                    if p.host_port.is_some_and(|h| h != p.container_port) {
                        self.bad(
                            &format!("{f}.ports[{j}].hostPort"),
                            "must match containerPort when hostNetwork is true",
                        );
                    }
                }
            }
        }
    }

    fn container(&mut self, c: &Container, f: &str, volumes: &BTreeSet<&str>, init: bool) {
        if c.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
            self.bad(&format!("{f}.image"), "required");
        }
        let mut port_names = BTreeSet::new();
        for (i, p) in c.ports.iter().enumerate() {
            let pf = format!("{f}.ports[{i}]");
            if !(1..=65535).contains(&p.container_port) {
                self.bad(&format!("{pf}.containerPort"), "a port from 1 to 65535");
            }
            if p.host_port.is_some_and(|h| !(1..=65535).contains(&h)) {
                self.bad(&format!("{pf}.hostPort"), "a port from 1 to 65535");
            }
            if let Some(n) = &p.name {
                if !is_iana_svc_name(n) {
                    self.bad(&format!("{pf}.name"), format!("{n:?} is not a port name (at most 15 of a-z, 0-9, '-', a letter at least)"));
                } else if !port_names.insert(n.as_str()) {
                    self.bad(&format!("{pf}.name"), format!("a second port named {n:?}"));
                }
            }
        }
        for (i, m) in c.volume_mounts.iter().enumerate() {
            let mf = format!("{f}.volumeMounts[{i}]");
            if !volumes.contains(m.name.as_str()) {
                self.bad(
                    &format!("{mf}.name"),
                    format!("no volume named {:?} in the pod", m.name),
                );
            }
            if m.mount_path.is_empty() {
                self.bad(&format!("{mf}.mountPath"), "required");
            }
            if m.sub_path
                .as_deref()
                .is_some_and(|s| s.starts_with('/') || s.split('/').any(|p| p == ".."))
            {
                self.bad(&format!("{mf}.subPath"), "a relative path without '..'");
            }
        }
        for (i, e) in c.env.iter().enumerate() {
            let ef = format!("{f}.env[{i}]");
            if e.name.is_empty() || e.name.contains('=') {
                self.bad(&format!("{ef}.name"), "a name without '='");
            }
            if let Some(from) = &e.value_from {
                if e.value.is_some() {
                    self.bad(&format!("{ef}.valueFrom"), "may not be set with value");
                }
                let n = [
                    from.config_map_key_ref.is_some(),
                    from.secret_key_ref.is_some(),
                    from.field_ref.is_some(),
                ]
                .iter()
                .filter(|s| **s)
                .count();
                if n != 1 {
                    self.bad(
                        &format!("{ef}.valueFrom"),
                        "exactly one of configMapKeyRef, secretKeyRef, fieldRef",
                    );
                }
                if let Some(r) = &from.field_ref {
                    if crate::plan::FieldPath::parse(&r.field_path).is_none() {
                        self.bad(&format!("{ef}.valueFrom.fieldRef.fieldPath"), format!("{:?} is not a supported field (metadata.name, metadata.namespace, metadata.labels['…'], metadata.annotations['…'], status.podIP)", r.field_path));
                    }
                }
            }
        }
        for (i, e) in c.env_from.iter().enumerate() {
            if e.config_map_ref.is_some() == e.secret_ref.is_some() {
                self.bad(
                    &format!("{f}.envFrom[{i}]"),
                    "exactly one of configMapRef, secretRef",
                );
            }
        }
        if let Some(r) = &c.resources {
            for (kind, map) in [("limits", &r.limits), ("requests", &r.requests)] {
                for (name, q) in map {
                    let v = if name == "cpu" {
                        q.millicores()
                    } else {
                        q.bytes()
                    };
                    if let Err(e) = v {
                        self.bad(&format!("{f}.resources.{kind}.{name}"), e.to_string());
                    }
                }
            }
            for name in ["cpu", "memory"] {
                let value = |m: &BTreeMap<String, crate::Quantity>| {
                    m.get(name).and_then(|q| {
                        if name == "cpu" {
                            q.millicores()
                        } else {
                            q.bytes()
                        }
                        .ok()
                    })
                };
                if let (Some(req), Some(lim)) = (value(&r.requests), value(&r.limits)) {
                    if req > lim {
                        self.bad(
                            &format!("{f}.resources.requests.{name}"),
                            format!("must be less than or equal to the {name} limit"),
                        );
                    }
                }
            }
        }
        for (p, n) in [
            (&c.liveness_probe, "livenessProbe"),
            (&c.readiness_probe, "readinessProbe"),
            (&c.startup_probe, "startupProbe"),
        ] {
            let Some(p) = p else { continue };
            if init {
                self.bad(&format!("{f}.{n}"), "init containers have no probes");
            }
            let handlers = [
                p.exec.is_some(),
                p.http_get.is_some(),
                p.tcp_socket.is_some(),
                p.grpc.is_some(),
            ]
            .iter()
            .filter(|h| **h)
            .count();
            if handlers != 1 {
                self.bad(
                    &format!("{f}.{n}"),
                    "exactly one of exec, httpGet, tcpSocket, grpc",
                );
            }
            if n != "readinessProbe" && p.success_threshold.is_some_and(|s| s != 1) {
                self.bad(
                    &format!("{f}.{n}.successThreshold"),
                    "must be 1 for liveness and startup probes",
                );
            }
        }
    }
}
