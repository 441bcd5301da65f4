//! One manifest object as read: its resource, and where it was written.

use std::collections::BTreeMap;

use crate::types::*;

/// A resource of a supported kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    Pod(Pod),
    Deployment(Deployment),
    ReplicaSet(ReplicaSet),
    DaemonSet(DaemonSet),
    Job(Job),
    ConfigMap(ConfigMap),
    Secret(Secret),
    PersistentVolumeClaim(PersistentVolumeClaim),
    Service(Service),
}

/// The kinds read, with their apiVersion.
pub(crate) const KINDS: &[(&str, &str)] = &[
    ("Pod", "v1"),
    ("Deployment", "apps/v1"),
    ("ReplicaSet", "apps/v1"),
    ("DaemonSet", "apps/v1"),
    ("Job", "batch/v1"),
    ("ConfigMap", "v1"),
    ("Secret", "v1"),
    ("PersistentVolumeClaim", "v1"),
    ("Service", "v1"),
];

impl Resource {
    /// The kind, as written in manifests.
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Pod(_) => "Pod",
            Resource::Deployment(_) => "Deployment",
            Resource::ReplicaSet(_) => "ReplicaSet",
            Resource::DaemonSet(_) => "DaemonSet",
            Resource::Job(_) => "Job",
            Resource::ConfigMap(_) => "ConfigMap",
            Resource::Secret(_) => "Secret",
            Resource::PersistentVolumeClaim(_) => "PersistentVolumeClaim",
            Resource::Service(_) => "Service",
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Resource::Pod(o) => &o.metadata,
            Resource::Deployment(o) => &o.metadata,
            Resource::ReplicaSet(o) => &o.metadata,
            Resource::DaemonSet(o) => &o.metadata,
            Resource::Job(o) => &o.metadata,
            Resource::ConfigMap(o) => &o.metadata,
            Resource::Secret(o) => &o.metadata,
            Resource::PersistentVolumeClaim(o) => &o.metadata,
            Resource::Service(o) => &o.metadata,
        }
    }

    /// The pod template of a workload controller.
    pub fn template(&self) -> Option<&PodTemplateSpec> {
        match self {
            Resource::Deployment(o) => Some(&o.spec.template),
            Resource::ReplicaSet(o) => Some(&o.spec.template),
            Resource::DaemonSet(o) => Some(&o.spec.template),
            Resource::Job(o) => Some(&o.spec.template),
            _ => None,
        }
    }

    /// The pod spec of a Pod or of a controller's template, with the path it is at.
    pub fn pod_spec(&self) -> Option<(&PodSpec, &'static str)> {
        match self {
            Resource::Pod(p) => Some((&p.spec, "spec")),
            r => r.template().map(|t| (&t.spec, "spec.template.spec")),
        }
    }
}

/// An object read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The file as named to [`crate::parse`].
    pub file: String,
    /// The line its document starts on.
    pub line: usize,
    pub resource: Resource,
    /// The line of each field, by path, for messages.
    pub(crate) lines: BTreeMap<String, usize>,
}

impl Object {
    /// An object made in code, not read from a file (its lines are all `line`).
    pub fn new(file: &str, line: usize, resource: Resource) -> Self {
        Object {
            file: file.to_string(),
            line,
            resource,
            lines: BTreeMap::new(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> &'static str {
        self.resource.kind()
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        &self.resource.metadata().name
    }

    /// kubectl's name for it: `Deployment/echo`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }

    /// The line of a field, or of its nearest written parent.
    pub fn line_of(&self, path: &str) -> usize {
        let mut p = path;
        loop {
            if let Some(l) = self.lines.get(p) {
                return *l;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return self.line,
            }
        }
    }
}
