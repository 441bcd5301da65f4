//! An image's configuration, typed and lossless: every field Docker writes (the OCI ones
//! and Docker's own: Healthcheck, OnBuild, Shell, ArgsEscaped, …), and whatever else a
//! tool wrote kept as it came (`extra`), so that reading a config and writing it back
//! changes nothing. The store, the builder, commit and inspect share it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The image configuration document (`application/vnd.oci.image.config.v1+json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// When the image was made (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// CPU architecture (`amd64`).
    #[serde(default)]
    pub architecture: String,
    /// Operating system (`linux`).
    #[serde(default)]
    pub os: String,
    /// Architecture variant (`v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// What a container of it runs with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RunConfig>,
    /// Its layers' diff IDs.
    #[serde(default)]
    pub rootfs: RootFs,
    /// One entry per instruction that made it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Any other field, as it came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `config` of an image: Docker's `Config` (OCI's fields and Docker's own). Each
/// field is absent, `null` (Docker writes `"Entrypoint": null`, `"Volumes": null`) or a
/// value, and is written back as it came.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// `user`, `uid`, `user:group`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub user: Field<String>,
    /// `"8080/tcp": {}`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub exposed_ports: Field<BTreeMap<String, Value>>,
    /// `KEY=value`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub env: Field<Vec<String>>,
    /// The entrypoint.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub entrypoint: Field<Vec<String>>,
    /// The command.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub cmd: Field<Vec<String>>,
    /// `"/data": {}`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub volumes: Field<BTreeMap<String, Value>>,
    /// The working directory.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub working_dir: Field<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub labels: Field<BTreeMap<String, String>>,
    /// The signal `stop` sends.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub stop_signal: Field<String>,
    /// Docker: the command line of a Windows image is already escaped.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub args_escaped: Field<bool>,
    /// Docker: the image's HEALTHCHECK.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub healthcheck: Field<Healthcheck>,
    /// Docker: ONBUILD triggers, as Dockerfile lines.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub on_build: Field<Vec<String>>,
    /// Docker: the shell of RUN, CMD and ENTRYPOINT's shell forms.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub shell: Field<Vec<String>>,
    /// Any other field, as it came (Hostname, Domainname, AttachStdin, Tty, Image, …).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Docker's HEALTHCHECK: `Test` is `["NONE"]`, `["CMD", args…]` or `["CMD-SHELL", line]`;
/// durations in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// What to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    /// Between probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    /// A probe's longest run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Failures in a row that make the container unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Time to start, during which failures don't count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i64>,
    /// Between probes during the start period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<i64>,
    /// Any other field, as it came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The image's layers, by diff ID.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The uncompressed layers' digests, bottom first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> RootFs {
        RootFs {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        }
    }
}

/// One instruction's entry in an image's history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction (`/bin/sh -c #(nop) CMD ["sh"]`, `RUN …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The instruction made no layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
    /// Any other field, as it came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A field that is absent, `null`, or set: what serde's `Option` can't tell apart, and a
/// config written back must.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Field<T> {
    /// Not in the document.
    #[default]
    Absent,
    /// `null`.
    Null,
    /// A value.
    Set(T),
}

impl<T> Field<T> {
    /// Not in the document (what `skip_serializing_if` asks).
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    /// The value, if set.
    pub fn get(&self) -> Option<&T> {
        match self {
            Field::Set(v) => Some(v),
            _ => None,
        }
    }

    /// The value to change: set to `T::default()` first if it isn't set.
    pub fn get_mut_or_default(&mut self) -> &mut T
    where
        T: Default,
    {
        if !matches!(self, Field::Set(_)) {
            *self = Field::Set(T::default());
        }
        match self {
            Field::Set(v) => v,
            _ => unreachable!("set above"),
        }
    }

    /// The value, taken out; the field is absent afterwards.
    pub fn take(&mut self) -> Option<T> {
        match std::mem::take(self) {
            Field::Set(v) => Some(v),
            _ => None,
        }
    }
}

impl<T: Clone + Default> Field<T> {
    /// A copy of the value, or `T::default()`.
    pub fn cloned_or_default(&self) -> T {
        self.get().cloned().unwrap_or_default()
    }
}

impl<T> From<Option<T>> for Field<T> {
    /// `None` is absent.
    fn from(o: Option<T>) -> Field<T> {
        o.map_or(Field::Absent, Field::Set)
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Set(v) => v.serialize(s),
            _ => s.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Field<T>, D::Error> {
        Ok(Option::<T>::deserialize(d)?.map_or(Field::Null, Field::Set))
    }
}

impl ImageConfig {
    /// Parses a config document.
    pub fn parse(bytes: &[u8]) -> serde_json::Result<ImageConfig> {
        serde_json::from_slice(bytes)
    }

    /// The document as the store writes it: compact JSON, keys in sorted order, so the
    /// same config is always the same bytes (and the same digest).
    pub fn to_bytes(&self) -> Vec<u8> {
        let v = serde_json::to_value(self).expect("a config serializes");
        serde_json::to_vec(&v).expect("a config serializes")
    }

    /// The run config, empty when the image has none.
    pub fn run(&self) -> RunConfig {
        self.config.clone().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config as docker 20.10 writes one (with Docker's own fields and some no one
    /// else knows).
    const DOCKER: &str = r#"{
      "architecture": "amd64",
      "config": {
        "Hostname": "", "Domainname": "", "User": "app", "AttachStdin": false,
        "ExposedPorts": {"8080/tcp": {}}, "Tty": false,
        "Env": ["PATH=/usr/bin:/bin", "MODE=prod"],
        "Cmd": ["serve"], "Entrypoint": ["/app"], "ArgsEscaped": true,
        "Healthcheck": {"Test": ["CMD-SHELL", "wget -q localhost:8080"], "Interval": 5000000000,
                        "Timeout": 1000000000, "Retries": 3, "StartPeriod": 2000000000},
        "Image": "sha256:abc", "Volumes": {"/data": {}}, "WorkingDir": "/srv",
        "OnBuild": ["RUN echo child"], "Labels": {"a": "b"}, "StopSignal": "SIGINT",
        "Shell": ["/bin/bash", "-c"], "SomethingNew": {"x": 1}
      },
      "container": "0123", "docker_version": "20.10.24",
      "created": "2026-12-01T00:00:00.123456789Z",
      "history": [{"created": "2026-12-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) CMD", "empty_layer": true, "extra_note": 7}],
      "os": "linux",
      "rootfs": {"type": "layers", "diff_ids": ["sha256:1111"]}
    }"#;

    #[test]
    fn every_field_docker_writes_survives_a_round_trip() {
        let c = ImageConfig::parse(DOCKER.as_bytes()).unwrap();
        let run = c.run();
        assert_eq!(run.user.get().map(String::as_str), Some("app"));
        assert_eq!(
            run.on_build.get().map(Vec::as_slice),
            Some(&["RUN echo child".to_string()][..])
        );
        assert_eq!(run.shell.get().unwrap()[0], "/bin/bash");
        assert_eq!(run.args_escaped, Field::Set(true));
        let h = run.healthcheck.get().unwrap().clone();
        assert_eq!(h.retries, Some(3));
        assert_eq!(h.interval, Some(5_000_000_000));
        assert_eq!(c.extra["docker_version"], "20.10.24");
        assert_eq!(c.history[0].extra["extra_note"], 7);
        // Written back, it is the same document.
        let back = serde_json::to_value(&c).unwrap();
        let want: Value = serde_json::from_str(DOCKER).unwrap();
        assert_eq!(back, want);
    }

    #[test]
    fn nulls_stay_nulls_and_absent_stays_absent() {
        let doc = r#"{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"Entrypoint":null,"Volumes":null,"OnBuild":null},"rootfs":{"type":"layers","diff_ids":[]}}"#;
        let c = ImageConfig::parse(doc.as_bytes()).unwrap();
        let run = c.run();
        assert_eq!(run.entrypoint, Field::Null);
        assert!(run.env.is_absent());
        assert_eq!(run.cmd.get().unwrap(), &["sh".to_string()]);
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::from_str::<Value>(doc).unwrap()
        );
    }

    #[test]
    fn a_minimal_config_reads_and_writes_minimal() {
        let c = ImageConfig::parse(
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .unwrap();
        assert!(c.config.is_none() && c.history.is_empty());
        assert_eq!(c.run(), RunConfig::default());
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})
        );
    }
}
