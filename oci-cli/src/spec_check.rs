//! Reading a bundle's config.json before anything is made, with errors that name the
//! field (`process.user.uid: invalid type: …`) and runc's message for a missing rootfs, and
//! a resource limit this runtime can't grant named before the container is half made.

use std::path::{Path, PathBuf};

use nix::sys::resource::{getrlimit, Resource};
use oci_spec::runtime::{PosixRlimitType, Spec};

use crate::{fail, Result};

/// The bundle's spec, checked: parsed, with a process and an existing root filesystem.
pub fn load(bundle: &Path) -> Result<Spec> {
    let file = bundle.join("config.json");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return fail(format!(
                "JSON specification file {} not found",
                file.display()
            ))
        }
        Err(e) => return fail(format!("open {}: {e}", file.display())),
    };
    let spec: Spec = serde_json::from_str(&text).map_err(|e| {
        let at = path_at(&text, e.line(), e.column());
        let field = if at.is_empty() {
            String::new()
        } else {
            format!("{at}: ")
        };
        crate::Failure(format!("{}: {field}{e}", file.display()))
    })?;
    if spec.process().is_none() {
        return fail(format!("{}: process: missing", file.display()));
    }
    let root = rootfs(bundle, &spec)?;
    if !root.is_dir() {
        return fail(format!("rootfs ({}) does not exist", root.display()));
    }
    let can_raise = caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_RESOURCE,
    )
    .unwrap_or(false);
    if !can_raise {
        for l in spec
            .process()
            .iter()
            .flat_map(|p| p.rlimits().iter().flatten())
        {
            let own = getrlimit(resource(l.typ())).ok().map(|o| o.1);
            if let Some(why) = beyond_own(l.typ(), l.hard(), own) {
                return fail(format!("{}: process.rlimits: {why}", file.display()));
            }
        }
    }
    Ok(spec)
}

/// Why a hard limit of `hard` for `typ` can't be set by a process whose own hard limit is
/// `own` and that lacks CAP_SYS_RESOURCE (the kernel's EPERM, said before anything is made).
fn beyond_own(typ: PosixRlimitType, hard: u64, own: Option<u64>) -> Option<String> {
    let own = own.filter(|o| *o != nix::libc::RLIM_INFINITY)?;
    (hard > own).then(|| {
        format!(
            "{typ}: hard limit {hard} is above this runtime's own {own}, and raising it needs CAP_SYS_RESOURCE (lower it, or raise the limit of what starts the runtime)"
        )
    })
}

/// The kernel's resource for an OCI limit (the ones Linux has).
fn resource(typ: PosixRlimitType) -> Resource {
    use PosixRlimitType as T;
    match typ {
        T::RlimitCpu => Resource::RLIMIT_CPU,
        T::RlimitFsize => Resource::RLIMIT_FSIZE,
        T::RlimitData => Resource::RLIMIT_DATA,
        T::RlimitStack => Resource::RLIMIT_STACK,
        T::RlimitCore => Resource::RLIMIT_CORE,
        T::RlimitRss => Resource::RLIMIT_RSS,
        T::RlimitNproc => Resource::RLIMIT_NPROC,
        T::RlimitNofile => Resource::RLIMIT_NOFILE,
        T::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        T::RlimitAs => Resource::RLIMIT_AS,
        T::RlimitLocks => Resource::RLIMIT_LOCKS,
        T::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        T::RlimitNice => Resource::RLIMIT_NICE,
        T::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        T::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// The spec's root filesystem, relative to the bundle.
pub fn rootfs(bundle: &Path, spec: &Spec) -> Result<PathBuf> {
    let Some(root) = spec.root() else {
        return fail("config.json: root: missing");
    };
    Ok(bundle.join(root.path()))
}

enum Frame {
    Object { key: Option<String>, want_key: bool },
    Array { index: usize },
}

/// The path (`linux.resources.memory.limit`, `process.args[1]`) of the JSON value at
/// `line`:`column` (1-based, as serde_json reports them) of `text`.
pub fn path_at(text: &str, line: usize, column: usize) -> String {
    let target = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>()
        + column;
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < bytes.len() && i < target {
        match bytes[i] {
            b'{' => stack.push(Frame::Object {
                key: None,
                want_key: true,
            }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                // The value ends here: an error right after it is about it.
                if i + 1 >= target {
                    break;
                }
                stack.pop();
            }
            b':' => {
                if let Some(Frame::Object { want_key, .. }) = stack.last_mut() {
                    *want_key = false;
                }
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { want_key, .. }) => *want_key = true,
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if let Some(Frame::Object {
                    key,
                    want_key: true,
                }) = stack.last_mut()
                {
                    *key = Some(String::from_utf8_lossy(&bytes[start..i.min(bytes.len())]).into());
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for f in &stack {
        match f {
            Frame::Object { key: Some(k), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            Frame::Object { key: None, .. } => {}
            Frame::Array { index } => path.push_str(&format!("[{index}]")),
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> String {
        let e = serde_json::from_str::<Spec>(text).unwrap_err();
        path_at(text, e.line(), e.column())
    }

    #[test]
    fn names_the_field_of_a_bad_value() {
        let t = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
"process":{"cwd":"/","args":["sh"],
  "user":{"uid":"zero","gid":0}}}"#;
        assert_eq!(at(t), "process.user.uid");
        let t = r#"{"ociVersion":"1.0.2","process":{"cwd":"/","args":["sh", 3]}}"#;
        assert_eq!(at(t), "process.args[1]");
        let t = r#"{"ociVersion":"1.0.2","linux":{"resources":{"memory":{"limit":"x"}}}}"#;
        assert_eq!(at(t), "linux.resources.memory.limit");
    }

    #[test]
    fn a_hard_limit_above_the_runtimes_own_is_named() {
        let why = beyond_own(PosixRlimitType::RlimitNofile, 1_048_576, Some(20_000)).unwrap();
        assert!(
            why.starts_with("RLIMIT_NOFILE: hard limit 1048576 is above this runtime's own 20000"),
            "{why}"
        );
        assert_eq!(
            beyond_own(PosixRlimitType::RlimitNofile, 20_000, Some(20_000)),
            None
        );
        assert_eq!(
            beyond_own(
                PosixRlimitType::RlimitCore,
                u64::MAX,
                Some(nix::libc::RLIM_INFINITY)
            ),
            None
        );
        assert_eq!(
            resource(PosixRlimitType::RlimitNofile),
            Resource::RLIMIT_NOFILE
        );
    }
}
