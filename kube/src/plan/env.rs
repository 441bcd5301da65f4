//! Environment from `env` and `envFrom`: values, ConfigMap and Secret keys of the same
//! input, and the pod's fields.

use std::collections::BTreeMap;

use super::container::{EnvEntry, EnvValue, PodField};
use crate::object::{Object, Resource};
use crate::types::{Container, KeySelector, ObjectMeta};

/// A `fieldRef.fieldPath` rbox fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldPath {
    Name,
    Namespace,
    Label(String),
    Annotation(String),
    PodIp,
    HostIp,
    NodeName,
}

impl FieldPath {
    /// Reads `metadata.name`, `metadata.labels['app']`, `status.podIP`...
    pub fn parse(s: &str) -> Option<FieldPath> {
        let key = |prefix: &str| {
            let inner = s.strip_prefix(prefix)?.strip_suffix(']')?;
            let k = inner
                .strip_prefix('\'')
                .and_then(|k| k.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|k| k.strip_suffix('"')))?;
            Some(k.to_string())
        };
        Some(match s {
            "metadata.name" => FieldPath::Name,
            "metadata.namespace" => FieldPath::Namespace,
            "status.podIP" => FieldPath::PodIp,
            "status.hostIP" => FieldPath::HostIp,
            "spec.nodeName" => FieldPath::NodeName,
            _ => {
                if let Some(k) = key("metadata.labels[") {
                    FieldPath::Label(k)
                } else {
                    FieldPath::Annotation(key("metadata.annotations[")?)
                }
            }
        })
    }
}

/// The ConfigMaps and Secrets of the input, their values as bytes.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    config_maps: BTreeMap<(String, String), BTreeMap<String, Vec<u8>>>,
    secrets: BTreeMap<(String, String), BTreeMap<String, Vec<u8>>>,
}

/// Which kind of source a reference reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceKind {
    ConfigMap,
    Secret,
}

impl Sources {
    pub fn new(objects: &[Object]) -> Self {
        let mut s = Sources::default();
        for o in objects {
            let key = |m: &ObjectMeta| (m.namespace().to_string(), m.name.clone());
            match &o.resource {
                Resource::ConfigMap(c) => {
                    let mut data: BTreeMap<String, Vec<u8>> = c
                        .data
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
                        .collect();
                    for (k, v) in &c.binary_data {
                        data.insert(k.clone(), crate::base64::decode(v).unwrap_or_default());
                    }
                    s.config_maps.insert(key(&c.metadata), data);
                }
                Resource::Secret(c) => {
                    let mut data: BTreeMap<String, Vec<u8>> = c
                        .data
                        .iter()
                        .map(|(k, v)| (k.clone(), crate::base64::decode(v).unwrap_or_default()))
                        .collect();
                    for (k, v) in &c.string_data {
                        data.insert(k.clone(), v.clone().into_bytes());
                    }
                    s.secrets.insert(key(&c.metadata), data);
                }
                _ => {}
            }
        }
        s
    }

    pub fn get(
        &self,
        kind: SourceKind,
        namespace: &str,
        name: &str,
    ) -> Option<&BTreeMap<String, Vec<u8>>> {
        let map = match kind {
            SourceKind::ConfigMap => &self.config_maps,
            SourceKind::Secret => &self.secrets,
        };
        map.get(&(namespace.to_string(), name.to_string()))
    }
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::ConfigMap => "ConfigMap",
            SourceKind::Secret => "Secret",
        }
    }
}

/// One key: its value, None when absent and optional, an error message when absent.
fn key_value(
    sources: &Sources,
    kind: SourceKind,
    ns: &str,
    r: &KeySelector,
) -> Result<Option<String>, String> {
    let optional = r.optional.unwrap_or(false);
    match sources.get(kind, ns, &r.name) {
        None if optional => Ok(None),
        None => Err(format!(
            "no {} {:?} in the input (optional: true allows it)",
            kind.name(),
            r.name
        )),
        Some(data) => match data.get(&r.key) {
            Some(v) => Ok(Some(String::from_utf8_lossy(v).into_owned())),
            None if optional => Ok(None),
            None => Err(format!(
                "{} {:?} has no key {:?} (optional: true allows it)",
                kind.name(),
                r.name,
                r.key
            )),
        },
    }
}

/// A container's environment; `problems` gets (field, message) of what cannot be resolved.
pub(crate) fn resolve(
    c: &Container,
    pod_meta: &ObjectMeta,
    namespace: &str,
    sources: &Sources,
    at: &str,
    problems: &mut Vec<(String, String)>,
) -> Vec<EnvEntry> {
    let mut out: Vec<EnvEntry> = Vec::new();
    let mut set = |name: &str, value: EnvValue| match out.iter_mut().find(|e| e.name == name) {
        Some(e) => e.value = value,
        None => out.push(EnvEntry {
            name: name.to_string(),
            value,
        }),
    };
    for (i, from) in c.env_from.iter().enumerate() {
        let (kind, r) = match (&from.config_map_ref, &from.secret_ref) {
            (Some(r), _) => (SourceKind::ConfigMap, r),
            (None, Some(r)) => (SourceKind::Secret, r),
            (None, None) => continue,
        };
        match sources.get(kind, namespace, &r.name) {
            Some(data) => {
                let prefix = from.prefix.as_deref().unwrap_or("");
                for (k, v) in data {
                    set(
                        &format!("{prefix}{k}"),
                        EnvValue::Literal(String::from_utf8_lossy(v).into_owned()),
                    );
                }
            }
            None if r.optional.unwrap_or(false) => {}
            None => problems.push((
                format!("{at}.envFrom[{i}]"),
                format!(
                    "no {} {:?} in the input (optional: true allows it)",
                    kind.name(),
                    r.name
                ),
            )),
        }
    }
    for (i, e) in c.env.iter().enumerate() {
        let Some(from) = &e.value_from else {
            set(
                &e.name,
                EnvValue::Literal(e.value.clone().unwrap_or_default()),
            );
            continue;
        };
        let field = format!("{at}.env[{i}].valueFrom");
        let refs = [
            (
                SourceKind::ConfigMap,
                &from.config_map_key_ref,
                "configMapKeyRef",
            ),
            (SourceKind::Secret, &from.secret_key_ref, "secretKeyRef"),
        ];
        if let Some((kind, Some(r), name)) = refs.iter().find(|(_, r, _)| r.is_some()) {
            match key_value(sources, *kind, namespace, r) {
                Ok(Some(v)) => set(&e.name, EnvValue::Literal(v)),
                Ok(None) => {}
                Err(m) => problems.push((format!("{field}.{name}"), m)),
            }
        } else if let Some(f) = &from.field_ref {
            let value = match FieldPath::parse(&f.field_path) {
                Some(FieldPath::Name) => EnvValue::Pod(PodField::Name),
                Some(FieldPath::Namespace) => EnvValue::Literal(namespace.to_string()),
                Some(FieldPath::Label(k)) => {
                    EnvValue::Literal(pod_meta.labels.get(&k).cloned().unwrap_or_default())
                }
                Some(FieldPath::Annotation(k)) => {
                    EnvValue::Literal(pod_meta.annotations.get(&k).cloned().unwrap_or_default())
                }
                Some(FieldPath::PodIp) => EnvValue::Pod(PodField::Ip),
                Some(FieldPath::HostIp) => EnvValue::Pod(PodField::HostIp),
                Some(FieldPath::NodeName) => EnvValue::Pod(PodField::NodeName),
                None => continue, // refused by validation
            };
            set(&e.name, value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths() {
        assert_eq!(
            FieldPath::parse("metadata.labels['app']"),
            Some(FieldPath::Label("app".into()))
        );
        assert_eq!(
            FieldPath::parse("metadata.annotations[\"a/b\"]"),
            Some(FieldPath::Annotation("a/b".into()))
        );
        assert_eq!(FieldPath::parse("status.podIP"), Some(FieldPath::PodIp));
        assert_eq!(FieldPath::parse("metadata.labels[app]"), None);
        assert_eq!(FieldPath::parse("spec.bogus"), None);
    }
}
