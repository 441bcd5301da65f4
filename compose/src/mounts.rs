//! A service's `volumes:`: the short form `SOURCE:TARGET[:OPTIONS]` (a bind when the source is
//! a path, `.`/`..`/`~` relative ones resolved by the loader; a named volume otherwise; a target
//! alone is an anonymous volume) and the long form with `bind`, `volume` and `tmpfs` options.

use std::path::Path;

use serde::Serialize;

use crate::de::{self, err, Fields};
use crate::error::{Result, Warnings};
use crate::node::{Node, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    Bind,
    Volume,
    Tmpfs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    Consistent,
    Cached,
    Delegated,
}

/// SELinux relabelling: `z` (shared) or `Z` (private).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Selinux {
    #[serde(rename = "z")]
    Shared,
    #[serde(rename = "Z")]
    Private,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BindOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
    /// Create the host directory when missing (the short form always does).
    pub create_host_path: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selinux: Option<Selinux>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VolumeOptions {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nocopy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subpath: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TmpfsOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceVolume {
    #[serde(rename = "type")]
    pub kind: MountType,
    /// A bind's absolute host path, a named volume's key; None for an anonymous volume or a
    /// tmpfs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub target: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<TmpfsOptions>,
}

/// Whether a short form's source is a host path rather than a volume's name.
pub fn is_path(source: &str) -> bool {
    source.starts_with('/') || source.starts_with('.') || source.starts_with('~')
}

/// A relative or `~` path made absolute: `~` from `home`, others against `base`; `.` and `..`
/// components folded.
pub fn absolute(path: &str, base: &Path, home: Option<&str>) -> String {
    let joined = if path == "~" || path.starts_with("~/") {
        match home {
            Some(h) => Path::new(h).join(path.trim_start_matches('~').trim_start_matches('/')),
            None => base.join(path),
        }
    } else {
        base.join(path)
    };
    let mut out = std::path::PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.to_string_lossy().into_owned()
}

/// The short form with its relative source made absolute (the loader does this per file,
/// before files are merged).
pub fn resolve_short(spec: &str, base: &Path, home: Option<&str>) -> String {
    match spec.split_once(':') {
        Some((src, rest)) if is_path(src) && !src.starts_with('/') => {
            format!("{}:{rest}", absolute(src, base, home))
        }
        _ => spec.to_string(),
    }
}

/// The target of a volume entry, short or long, for merging by target.
pub fn target_of(n: &Node) -> Option<String> {
    match &n.value {
        Value::Scalar(..) => {
            let s = n.as_scalar()?;
            let parts: Vec<&str> = s.split(':').collect();
            Some(if parts.len() == 1 { parts[0] } else { parts[1] }.to_string())
        }
        Value::Map(m) => m
            .get("target")
            .and_then(|t| t.as_scalar())
            .map(str::to_string),
        Value::Seq(_) => None,
    }
}

pub fn parse_short(spec: &str) -> std::result::Result<ServiceVolume, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, opts) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, t] => (Some(*s), *t, None),
        [s, t, o] => (Some(*s), *t, Some(*o)),
        _ => return Err(format!("{spec:?} is not [SOURCE:]TARGET[:OPTIONS]")),
    };
    if target.is_empty() || !target.starts_with('/') {
        return Err(format!(
            "{spec:?}: the target {target:?} must be an absolute path"
        ));
    }
    let kind = match source {
        Some(s) if is_path(s) => MountType::Bind,
        Some("") => return Err(format!("{spec:?}: the source is empty")),
        _ => MountType::Volume,
    };
    let mut v = ServiceVolume {
        kind,
        source: source.map(str::to_string),
        target: target.to_string(),
        read_only: false,
        consistency: None,
        bind: (kind == MountType::Bind).then(|| BindOptions {
            create_host_path: true,
            ..Default::default()
        }),
        volume: None,
        tmpfs: None,
    };
    for o in opts.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => v.read_only = true,
            "rw" => v.read_only = false,
            "cached" => v.consistency = Some(Consistency::Cached),
            "delegated" => v.consistency = Some(Consistency::Delegated),
            "consistent" => v.consistency = Some(Consistency::Consistent),
            "z" | "Z" if kind == MountType::Bind => {
                let b = v.bind.get_or_insert_with(Default::default);
                b.selinux = Some(if o == "z" {
                    Selinux::Shared
                } else {
                    Selinux::Private
                });
            }
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
                if kind == MountType::Bind =>
            {
                v.bind.get_or_insert_with(Default::default).propagation = Some(o.to_string());
            }
            "nocopy" if kind == MountType::Volume => {
                v.volume.get_or_insert_with(Default::default).nocopy = true;
            }
            _ => return Err(format!("{spec:?}: unknown volume option {o:?}")),
        }
    }
    Ok(v)
}

/// The `volumes:` list of a service.
pub fn parse(n: &Node, warnings: &mut Warnings) -> Result<Vec<ServiceVolume>> {
    let Value::Seq(items) = &n.value else {
        return err(n, format!("volumes must be a list, not {}", n.describe()));
    };
    let mut out = Vec::new();
    for item in items {
        match &item.value {
            Value::Map(_) => out.push(long(item, warnings)?),
            _ => {
                let s = de::string(item)?;
                out.push(parse_short(&s).or_else(|m| err(item, m))?);
            }
        }
    }
    Ok(out)
}

fn long(n: &Node, warnings: &mut Warnings) -> Result<ServiceVolume> {
    let mut f = Fields::new(n, "a volume")?;
    let kind = match f.get("type") {
        Some(t) => match de::one_of(t, &["bind", "volume", "tmpfs"])? {
            "bind" => MountType::Bind,
            "tmpfs" => MountType::Tmpfs,
            _ => MountType::Volume,
        },
        None => {
            return err(
                n,
                "a volume in the long form needs type (bind, volume or tmpfs)",
            )
        }
    };
    let source = f.get("source").map(de::string).transpose()?;
    if kind == MountType::Bind && source.is_none() {
        return err(n, "a bind mount needs source");
    }
    let target = match f.get("target") {
        Some(t) => de::string(t)?,
        None => return err(n, "a volume needs target"),
    };
    let consistency = match f.get("consistency") {
        Some(c) => Some(
            match de::one_of(c, &["consistent", "cached", "delegated"])? {
                "cached" => Consistency::Cached,
                "delegated" => Consistency::Delegated,
                _ => Consistency::Consistent,
            },
        ),
        None => None,
    };
    let mut v = ServiceVolume {
        kind,
        source,
        target,
        read_only: f
            .get("read_only")
            .map(de::boolean)
            .transpose()?
            .unwrap_or(false),
        consistency,
        bind: None,
        volume: None,
        tmpfs: None,
    };
    if let Some(b) = f.get("bind") {
        let mut bf = Fields::new(b, "bind")?;
        let selinux = match bf.get("selinux") {
            Some(s) => Some(match de::one_of(s, &["z", "Z"])? {
                "z" => Selinux::Shared,
                _ => Selinux::Private,
            }),
            None => None,
        };
        v.bind = Some(BindOptions {
            propagation: bf.get("propagation").map(de::string).transpose()?,
            create_host_path: bf
                .get("create_host_path")
                .map(de::boolean)
                .transpose()?
                .unwrap_or(false),
            selinux,
        });
        bf.finish("a bind mount", warnings);
    } else if kind == MountType::Bind {
        v.bind = Some(BindOptions::default());
    }
    if let Some(o) = f.get("volume") {
        let mut vf = Fields::new(o, "volume")?;
        v.volume = Some(VolumeOptions {
            nocopy: vf
                .get("nocopy")
                .map(de::boolean)
                .transpose()?
                .unwrap_or(false),
            subpath: vf.get("subpath").map(de::string).transpose()?,
        });
        vf.finish("a volume mount", warnings);
    }
    if let Some(t) = f.get("tmpfs") {
        let mut tf = Fields::new(t, "tmpfs")?;
        let size = match tf.get("size") {
            Some(s) => Some(crate::units::parse_bytes(&de::string(s)?).or_else(|m| err(s, m))?),
            None => None,
        };
        let mode = match tf.get("mode") {
            Some(m) => Some(octal(m)?),
            None => None,
        };
        v.tmpfs = Some(TmpfsOptions { size, mode });
        tf.finish("a tmpfs mount", warnings);
    }
    f.finish("a volume", warnings);
    Ok(v)
}

/// A file mode as written: `0755` and `0o755` are octal, as compose reads them.
pub fn octal(n: &Node) -> Result<u32> {
    let s = de::string(n)?;
    let t = s.trim_start_matches("0o");
    let parsed = if t.len() > 1 && t.starts_with('0') || t != s {
        u32::from_str_radix(t, 8)
    } else {
        t.parse()
    };
    parsed.or_else(|_| err(n, format!("{s:?} is not a file mode")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        let v = parse_short("/srv/app:/var/www/app:cached").unwrap();
        assert_eq!(v.kind, MountType::Bind);
        assert_eq!(v.consistency, Some(Consistency::Cached));
        assert!(v.bind.as_ref().unwrap().create_host_path);
        let v = parse_short("data:/var/lib/mysql:ro,nocopy").unwrap();
        assert_eq!((v.kind, v.read_only), (MountType::Volume, true));
        assert!(v.volume.unwrap().nocopy);
        let v = parse_short("/cache").unwrap();
        assert_eq!((v.kind, v.source), (MountType::Volume, None));
        let v = parse_short("/a:/b:Z,rw").unwrap();
        assert_eq!(v.bind.unwrap().selinux, Some(Selinux::Private));
        assert!(parse_short("/a:/b:bogus").is_err());
        assert!(parse_short("a:relative").is_err());
    }

    #[test]
    fn resolving() {
        let base = Path::new("/proj");
        assert_eq!(
            resolve_short("./app:/var/www/app", base, None),
            "/proj/app:/var/www/app"
        );
        assert_eq!(resolve_short("../x:/y:ro", base, None), "/x:/y:ro");
        assert_eq!(
            resolve_short("~/d:/d", base, Some("/home/u")),
            "/home/u/d:/d"
        );
        assert_eq!(resolve_short("named:/d", base, None), "named:/d");
        assert_eq!(resolve_short("/abs:/d", base, None), "/abs:/d");
    }

    #[test]
    fn long_form() {
        let n = crate::node::parse(
            &std::sync::Arc::from("c.yaml"),
            "v:\n - type: bind\n   source: /h\n   target: /c\n   bind: {create_host_path: true}\n\
             \x20- type: volume\n   source: data\n   target: /d\n   volume: {nocopy: true}\n\
             \x20- type: tmpfs\n   target: /t\n   tmpfs: {size: 64m, mode: 01777}\n",
        )
        .unwrap();
        let mut w = Warnings::default();
        let v = parse(n.get("v").unwrap(), &mut w).unwrap();
        assert!(v[0].bind.as_ref().unwrap().create_host_path);
        assert!(v[1].volume.as_ref().unwrap().nocopy);
        assert_eq!(
            v[2].tmpfs,
            Some(TmpfsOptions {
                size: Some(64 << 20),
                mode: Some(0o1777)
            })
        );
        assert!(w.0.is_empty());
    }
}
