//! Refusing what Kubernetes' API server refuses, before anything is made.

use std::collections::{BTreeSet, HashSet};

use crate::error::{Error, Problem};
use crate::names::*;
use crate::object::{Object, Resource};
use crate::types::*;
use crate::IntOrString;

mod pod;

/// Checks every object, and the set of them (no two of a kind with one name); returns every
/// problem found, each naming file, line, `Kind/name` and field.
pub fn validate(objects: &[Object]) -> Result<(), Error> {
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for o in objects {
        let mut c = Checker {
            o,
            problems: &mut problems,
        };
        let key = (
            o.kind(),
            o.resource.metadata().namespace().to_string(),
            o.name().to_string(),
        );
        if !o.name().is_empty() && !seen.insert(key) {
            c.bad(
                "metadata.name",
                "a second object of this kind with this name",
            );
        }
        c.object();
    }
    // In the order of the files, as a reader goes through them.
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(problems))
    }
}

struct Checker<'a> {
    o: &'a Object,
    problems: &'a mut Vec<Problem>,
}

impl Checker<'_> {
    fn bad(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.o.file.clone(),
            line: self.o.line_of(field),
            object: self.o.id(),
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn object(&mut self) {
        let o = self.o;
        let meta = o.resource.metadata();
        let name = &meta.name;
        if name.is_empty() {
            self.bad("metadata.name", "required");
        } else if matches!(o.resource, Resource::Service(_)) {
            if !is_dns1035_label(name) {
                self.bad("metadata.name", format!("{name:?} is not a DNS-1035 label (a-z, 0-9, '-', a letter first, at most 63)"));
            }
        } else if !is_dns1123_subdomain(name) {
            self.bad(
                "metadata.name",
                format!("{name:?} is not a DNS-1123 subdomain (a-z, 0-9, '-', '.', at most 253)"),
            );
        }
        if let Some(ns) = &meta.namespace {
            if !is_dns1123_label(ns) {
                self.bad(
                    "metadata.namespace",
                    format!("{ns:?} is not a DNS-1123 label"),
                );
            }
        }
        self.meta(meta, "metadata");
        match &o.resource {
            Resource::Pod(p) => self.pod_spec(&p.spec, "spec"),
            Resource::Deployment(d) => {
                self.count(d.spec.replicas, "spec.replicas");
                self.count(d.spec.revision_history_limit, "spec.revisionHistoryLimit");
                self.controller(&d.spec.selector, &d.spec.template);
                self.strategy(d.spec.strategy.as_ref());
            }
            Resource::ReplicaSet(r) => {
                self.count(r.spec.replicas, "spec.replicas");
                self.controller(&r.spec.selector, &r.spec.template);
            }
            Resource::DaemonSet(d) => self.controller(&d.spec.selector, &d.spec.template),
            Resource::Job(j) => {
                self.count(j.spec.completions, "spec.completions");
                self.count(j.spec.parallelism, "spec.parallelism");
                self.count(j.spec.backoff_limit, "spec.backoffLimit");
                self.meta(&j.spec.template.metadata, "spec.template.metadata");
                self.pod_spec(&j.spec.template.spec, "spec.template.spec");
                match j.spec.template.spec.restart_policy {
                    Some(RestartPolicy::Never | RestartPolicy::OnFailure) => {}
                    _ => self.bad(
                        "spec.template.spec.restartPolicy",
                        "a Job's pods restart Never or OnFailure (Always, the default, is refused)",
                    ),
                }
            }
            Resource::ConfigMap(c) => {
                self.keys(c.data.keys(), "data");
                self.keys(c.binary_data.keys(), "binaryData");
                for (k, v) in &c.binary_data {
                    if crate::base64::decode(v).is_none() {
                        self.bad(&format!("binaryData.{k}"), "not base64");
                    }
                    if c.data.contains_key(k) {
                        self.bad(&format!("binaryData.{k}"), "the key is in data too");
                    }
                }
            }
            Resource::Secret(s) => {
                self.keys(s.data.keys(), "data");
                self.keys(s.string_data.keys(), "stringData");
                for (k, v) in &s.data {
                    if crate::base64::decode(v).is_none() {
                        self.bad(&format!("data.{k}"), "not base64");
                    }
                }
            }
            Resource::PersistentVolumeClaim(p) => {
                let size = p
                    .spec
                    .resources
                    .as_ref()
                    .and_then(|r| r.requests.get("storage"));
                if let Some(Err(e)) = size.map(|q| q.bytes()) {
                    self.bad("spec.resources.requests.storage", e.to_string());
                }
            }
            Resource::Service(s) => self.service(&s.spec),
        }
    }

    fn meta(&mut self, meta: &ObjectMeta, at: &str) {
        for (k, v) in &meta.labels {
            if !is_qualified_name(k) {
                self.bad(&format!("{at}.labels"), format!("{k:?} is not a label key"));
            }
            if !is_label_value(v) {
                self.bad(
                    &format!("{at}.labels.{k}"),
                    format!(
                        "{v:?} is not a label value (at most 63 of a-z, A-Z, 0-9, '-', '_', '.')"
                    ),
                );
            }
        }
        for k in meta.annotations.keys() {
            if !is_qualified_name(k) {
                self.bad(
                    &format!("{at}.annotations"),
                    format!("{k:?} is not an annotation key"),
                );
            }
        }
    }

    fn keys<'k>(&mut self, keys: impl Iterator<Item = &'k String>, at: &str) {
        for k in keys {
            if !is_config_key(k) {
                self.bad(
                    at,
                    format!("{k:?} is not a key (a-z, A-Z, 0-9, '-', '_', '.')"),
                );
            }
        }
    }

    fn count(&mut self, n: Option<i32>, field: &str) {
        if n.is_some_and(|n| n < 0) {
            self.bad(field, "must be 0 or more");
        }
    }

    fn controller(&mut self, selector: &LabelSelector, template: &PodTemplateSpec) {
        self.meta(&template.metadata, "spec.template.metadata");
        if selector.is_empty() {
            self.bad(
                "spec.selector",
                "required (apps/v1 has no default selector)",
            );
        } else if !selector.matches(&template.metadata.labels) {
            self.bad(
                "spec.template.metadata.labels",
                "`selector` does not match template `labels`",
            );
        }
        for (i, e) in selector.match_expressions.iter().enumerate() {
            let in_op = matches!(e.operator, SelectorOperator::In | SelectorOperator::NotIn);
            if in_op == e.values.is_empty() {
                self.bad(
                    &format!("spec.selector.matchExpressions[{i}].values"),
                    "values are required with In and NotIn, and refused with Exists and DoesNotExist",
                );
            }
        }
        self.pod_spec(&template.spec, "spec.template.spec");
        if let Some(p) = template
            .spec
            .restart_policy
            .filter(|p| *p != RestartPolicy::Always)
        {
            self.bad(
                "spec.template.spec.restartPolicy",
                format!("{p:?}: only Always is allowed here"),
            );
        }
    }

    fn strategy(&mut self, s: Option<&DeploymentStrategy>) {
        let Some(s) = s else { return };
        let Some(r) = &s.rolling_update else { return };
        if s.type_ == Some(StrategyType::Recreate) {
            self.bad(
                "spec.strategy.rollingUpdate",
                "may not be set with type Recreate",
            );
            return;
        }
        let mut zero = true;
        for (v, f) in [
            (&r.max_surge, "maxSurge"),
            (&r.max_unavailable, "maxUnavailable"),
        ] {
            match v {
                Some(v @ IntOrString::String(s))
                    if v.scaled(100, false).is_none() || !s.ends_with('%') =>
                {
                    self.bad(
                        &format!("spec.strategy.rollingUpdate.{f}"),
                        format!("{s:?} is neither a number nor a percentage"),
                    )
                }
                Some(IntOrString::Int(i)) if *i < 0 => self.bad(
                    &format!("spec.strategy.rollingUpdate.{f}"),
                    "must be 0 or more",
                ),
                Some(v) if v.scaled(100, true) == Some(0) => {}
                _ => zero = false,
            }
        }
        if zero {
            self.bad(
                "spec.strategy.rollingUpdate.maxUnavailable",
                "may not be 0 when maxSurge is 0",
            );
        }
    }

    fn service(&mut self, s: &ServiceSpec) {
        let ty = s.type_.unwrap_or_default();
        if ty == ServiceType::ExternalName {
            if s.external_name
                .as_deref()
                .is_none_or(|n| !is_dns1123_subdomain(&n.to_lowercase()))
            {
                self.bad(
                    "spec.externalName",
                    "an ExternalName Service needs a host name",
                );
            }
            return;
        }
        if s.ports.is_empty() && s.cluster_ip.as_deref() != Some("None") {
            self.bad("spec.ports", "a Service has one port at least");
        }
        let mut names = BTreeSet::new();
        for (i, p) in s.ports.iter().enumerate() {
            let f = format!("spec.ports[{i}]");
            if !(1..=65535).contains(&p.port) {
                self.bad(&format!("{f}.port"), "a port from 1 to 65535");
            }
            match &p.name {
                None if s.ports.len() > 1 => self.bad(
                    &format!("{f}.name"),
                    "required when a Service has more than one port",
                ),
                Some(n) if !is_dns1123_label(n) => self.bad(
                    &format!("{f}.name"),
                    format!("{n:?} is not a DNS-1123 label"),
                ),
                Some(n) if !names.insert(n.as_str()) => {
                    self.bad(&format!("{f}.name"), format!("a second port named {n:?}"))
                }
                _ => {}
            }
            if p.node_port.is_some()
                && !matches!(ty, ServiceType::NodePort | ServiceType::LoadBalancer)
            {
                self.bad(
                    &format!("{f}.nodePort"),
                    "only a NodePort or LoadBalancer Service has node ports",
                );
            }
            if p.node_port.is_some_and(|n| !(1..=65535).contains(&n)) {
                self.bad(&format!("{f}.nodePort"), "a port from 1 to 65535");
            }
            match &p.target_port {
                Some(IntOrString::Int(t)) if !(1..=65535).contains(t) => {
                    self.bad(&format!("{f}.targetPort"), "a port from 1 to 65535")
                }
                Some(IntOrString::String(n)) if !is_iana_svc_name(n) => self.bad(
                    &format!("{f}.targetPort"),
                    format!("{n:?} is not a port name"),
                ),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn problems(text: &str) -> Vec<String> {
        let p = parse("v.yaml", text).unwrap();
        match validate(&p.objects) {
            Ok(()) => vec![],
            Err(Error::Invalid(ps)) => ps.iter().map(|p| p.to_string()).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn selector_must_match_template() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: echo}\nspec:\n  selector:\n    matchLabels: {app: echo}\n  template:\n    metadata:\n      labels: {app: other}\n    spec:\n      containers: [{name: c, image: busybox}]\n";
        assert_eq!(
            problems(text),
            ["v.yaml:9: Deployment/echo: spec.template.metadata.labels: `selector` does not match template `labels`"]
        );
    }

    #[test]
    fn pods_as_the_api_server_refuses_them() {
        let text = "\
apiVersion: v1
kind: Pod
metadata: {name: Bad_Name}
spec:
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: a
    image: busybox
    volumeMounts: [{name: nothing, mountPath: /x}]
  - name: a
  - name: B
    image: busybox
    resources: {limits: {memory: lots}}
";
        assert_eq!(
            problems(text),
            [
                "v.yaml:3: Pod/Bad_Name: metadata.name: \"Bad_Name\" is not a DNS-1123 subdomain (a-z, 0-9, '-', '.', at most 253)",
                "v.yaml:9: Pod/Bad_Name: spec.containers[0].volumeMounts[0].name: no volume named \"nothing\" in the pod",
                "v.yaml:10: Pod/Bad_Name: spec.containers[1].name: a second container named \"a\"",
                "v.yaml:10: Pod/Bad_Name: spec.containers[1].image: required",
                "v.yaml:11: Pod/Bad_Name: spec.containers[2].name: \"B\" is not a DNS-1123 label (a-z, 0-9, '-', at most 63)",
                "v.yaml:13: Pod/Bad_Name: spec.containers[2].resources.limits.memory: \"lots\" is not a quantity (no number)",
            ]
        );
    }

    #[test]
    fn jobs_refuse_always() {
        let text = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: busybox}]\n";
        assert_eq!(
            problems(text),
            ["v.yaml:6: Job/j: spec.template.spec.restartPolicy: a Job's pods restart Never or OnFailure (Always, the default, is refused)"]
        );
        assert!(
            problems(&text.replace("    spec:\n", "    spec:\n      restartPolicy: Never\n"))
                .is_empty()
        );
    }

    #[test]
    fn a_host_network_pod_publishes_its_own_ports() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: true\n  containers:\n  - name: c\n    image: busybox\n    ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 81, hostPort: 81}]\n";
        let found = problems(text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("spec.containers[0].ports[0].hostPort: must match containerPort"),
            "{found:?}"
        );
        assert!(problems(&text.replace("hostNetwork: true", "hostNetwork: false")).is_empty());
    }

    #[test]
    fn services_and_secrets() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}, {port: 443, nodePort: 30443}]\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: '!!'}\n";
        assert_eq!(
            problems(text),
            [
                "v.yaml:5: Service/web: spec.ports[0].name: required when a Service has more than one port",
                "v.yaml:5: Service/web: spec.ports[1].name: required when a Service has more than one port",
                "v.yaml:5: Service/web: spec.ports[1].nodePort: only a NodePort or LoadBalancer Service has node ports",
                "v.yaml:10: Secret/s: data.password: not base64",
            ]
        );
    }
}
