//! The run options past the basics, read as Docker reads them: `--ulimit`, `--sysctl`,
//! `--device`, `--security-opt`, `--platform`. Each parser names its flag in its errors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

fn invalid(flag: &str, reason: String) -> Error {
    Error::InvalidOption {
        flag: flag.into(),
        reason,
    }
}

/// A resource limit of the container's processes (`--ulimit nofile=1024:2048`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    /// `nofile`, `nproc`, `core`, …
    pub name: String,
    /// The soft limit.
    pub soft: i64,
    /// The hard limit.
    pub hard: i64,
}

/// The limits `--ulimit` knows, with their resource numbers.
const ULIMITS: &[(&str, i32)] = &[
    ("as", nix::libc::RLIMIT_AS as i32),
    ("core", nix::libc::RLIMIT_CORE as i32),
    ("cpu", nix::libc::RLIMIT_CPU as i32),
    ("data", nix::libc::RLIMIT_DATA as i32),
    ("fsize", nix::libc::RLIMIT_FSIZE as i32),
    ("locks", nix::libc::RLIMIT_LOCKS as i32),
    ("memlock", nix::libc::RLIMIT_MEMLOCK as i32),
    ("msgqueue", nix::libc::RLIMIT_MSGQUEUE as i32),
    ("nice", nix::libc::RLIMIT_NICE as i32),
    ("nofile", nix::libc::RLIMIT_NOFILE as i32),
    ("nproc", nix::libc::RLIMIT_NPROC as i32),
    ("rss", nix::libc::RLIMIT_RSS as i32),
    ("rtprio", nix::libc::RLIMIT_RTPRIO as i32),
    ("rttime", nix::libc::RLIMIT_RTTIME as i32),
    ("sigpending", nix::libc::RLIMIT_SIGPENDING as i32),
    ("stack", nix::libc::RLIMIT_STACK as i32),
];

impl Ulimit {
    /// Reads `NAME=SOFT[:HARD]` (`-1`: unlimited). A hard limit above this process's own
    /// can't be granted without CAP_SYS_RESOURCE, which rbox may not hold: refused here.
    pub fn parse(s: &str) -> Result<Ulimit> {
        let flag = "--ulimit";
        let (name, values) = s
            .split_once('=')
            .ok_or_else(|| invalid(flag, format!("{s:?}: use NAME=SOFT[:HARD]")))?;
        let Some(&(_, resource)) = ULIMITS.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = ULIMITS.iter().map(|(n, _)| *n).collect();
            return Err(invalid(
                flag,
                format!("invalid ulimit type {name:?} (one of {})", names.join(", ")),
            ));
        };
        let number = |v: &str| {
            v.parse::<i64>()
                .map_err(|_| invalid(flag, format!("{s:?}: {v:?} is not a number")))
        };
        let (soft, hard) = match values.split_once(':') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(values)?, number(values)?),
        };
        let unl = |v: i64| if v < 0 { i64::MAX } else { v };
        if unl(soft) > unl(hard) {
            return Err(invalid(
                flag,
                format!("{s:?}: soft limit {soft} is above the hard limit {hard}"),
            ));
        }
        let mut own = nix::libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the struct it is given.
        if unsafe { nix::libc::getrlimit(resource as _, &mut own) } == 0 {
            let max = own.rlim_max;
            if max != nix::libc::RLIM_INFINITY && (hard < 0 || hard as u64 > max) {
                return Err(invalid(
                    flag,
                    format!("{name}: hard limit {hard} is above this host's {max}"),
                ));
            }
        }
        Ok(Ulimit {
            name: name.to_owned(),
            soft,
            hard,
        })
    }

    /// Its OCI name (`RLIMIT_NOFILE`).
    pub fn oci_name(&self) -> String {
        format!("RLIMIT_{}", self.name.to_ascii_uppercase())
    }
}

/// `--sysctl KEY=VALUE`: only the namespaced ones a container may set (IPC's `kernel.msg*`,
/// `kernel.sem`, `kernel.shm*`, `fs.mqueue.*`, and `net.*` when it has a network
/// namespace of its own), as Docker allows.
pub fn parse_sysctl(s: &str, own_network: bool) -> Result<(String, String)> {
    let flag = "--sysctl";
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| invalid(flag, format!("{s:?}: use KEY=VALUE")))?;
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&k) || k.starts_with("fs.mqueue.") {
        return Ok((k.to_owned(), v.to_owned()));
    }
    if k.starts_with("net.") {
        if !own_network {
            return Err(invalid(
                flag,
                format!("{k}: net.* needs a network namespace of the container's own"),
            ));
        }
        return Ok((k.to_owned(), v.to_owned()));
    }
    Err(invalid(
        flag,
        format!("{k} is not a namespaced sysctl a container may set"),
    ))
}

/// A host device given to the container (`--device /dev/fuse[:/dev/fuse[:rwm]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    /// The device on the host.
    pub path_on_host: String,
    /// Where it is in the container.
    pub path_in_container: String,
    /// `r`, `w`, `m` (read, write, mknod).
    pub cgroup_permissions: String,
}

impl DeviceMapping {
    /// Reads `HOST[:CONTAINER][:PERMS]`; the host path must be a character or block device.
    pub fn parse(s: &str) -> Result<DeviceMapping> {
        let flag = "--device";
        let parts: Vec<&str> = s.split(':').collect();
        let perms_ok = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
        let (host, container, perms) = match parts.as_slice() {
            [h] => (*h, *h, "rwm"),
            [h, p] if perms_ok(p) => (*h, *h, *p),
            [h, c] => (*h, *c, "rwm"),
            [h, c, p] if perms_ok(p) => (*h, *c, *p),
            _ => return Err(invalid(flag, format!("{s:?}: use HOST[:CONTAINER][:rwm]"))),
        };
        if !host.starts_with('/') || !container.starts_with('/') {
            return Err(invalid(flag, format!("{s:?}: paths must be absolute")));
        }
        use std::os::unix::fs::FileTypeExt;
        let meta = std::fs::metadata(host).map_err(|e| invalid(flag, format!("{host}: {e}")))?;
        let ft = meta.file_type();
        if !ft.is_char_device() && !ft.is_block_device() {
            return Err(invalid(flag, format!("{host} is not a device")));
        }
        Ok(DeviceMapping {
            path_on_host: host.to_owned(),
            path_in_container: container.to_owned(),
            cgroup_permissions: perms.to_owned(),
        })
    }
}

/// What `--security-opt` asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityOptions {
    /// `seccomp=unconfined`: no filter.
    #[serde(default)]
    pub seccomp_unconfined: bool,
    /// `seccomp=FILE`: the profile's JSON (Docker's profile format), read at create.
    #[serde(default)]
    pub seccomp_profile: Option<String>,
    /// `no-new-privileges`.
    #[serde(default)]
    pub no_new_privileges: bool,
}

/// Reads each `--security-opt`: `seccomp=unconfined|FILE`, `no-new-privileges[=true|false]`
/// and `label=disable` (there is no SELinux labelling to disable); `=` or Docker's older
/// `:`. Anything else is refused by name.
pub fn parse_security_opts(opts: &[String]) -> Result<SecurityOptions> {
    let flag = "--security-opt";
    let mut out = SecurityOptions::default();
    for o in opts {
        let (k, v) = match o.split_once(['=', ':']) {
            Some((k, v)) => (k, Some(v)),
            None => (o.as_str(), None),
        };
        match (k, v) {
            ("no-new-privileges", None | Some("true")) => out.no_new_privileges = true,
            ("no-new-privileges", Some("false")) => out.no_new_privileges = false,
            ("seccomp", Some("unconfined")) => out.seccomp_unconfined = true,
            ("seccomp", Some(path)) if !path.is_empty() => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| invalid(flag, format!("seccomp profile {path}: {e}")))?;
                serde_json::from_str::<serde_json::Value>(&text)
                    .map_err(|e| invalid(flag, format!("seccomp profile {path}: {e}")))?;
                out.seccomp_profile = Some(text);
            }
            ("label", Some("disable")) => {}
            _ => {
                return Err(invalid(
                    flag,
                    format!("{o:?} is not supported (seccomp=unconfined|FILE, no-new-privileges, label=disable)"),
                ))
            }
        }
    }
    Ok(out)
}

/// This host's architecture as libseccomp and Docker's profiles name it
/// (`SCMP_ARCH_X86_64`).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "aarch64" => "SCMP_ARCH_AARCH64",
        "x86" => "SCMP_ARCH_X86",
        "arm" => "SCMP_ARCH_ARM",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "s390x" => "SCMP_ARCH_S390X",
        "powerpc64" => "SCMP_ARCH_PPC64LE",
        _ => "SCMP_ARCH_NATIVE",
    }
}

/// Checks `--platform OS/ARCH[/VARIANT]` against the image's platform.
pub fn check_platform(wanted: &str, os: &str, arch: &str, variant: Option<&str>) -> Result<()> {
    let flag = "--platform";
    let parts: Vec<&str> = wanted.split('/').collect();
    let (w_os, w_arch, w_variant) = match parts.as_slice() {
        [o, a] => (*o, *a, None),
        [o, a, v] => (*o, *a, Some(*v)),
        [a] if !a.is_empty() => ("linux", *a, None),
        _ => return Err(invalid(flag, format!("{wanted:?}: use OS/ARCH[/VARIANT]"))),
    };
    let normalize = |a: &str| match a {
        "x86_64" | "x86-64" => "amd64".to_owned(),
        "aarch64" => "arm64".to_owned(),
        a => a.to_owned(),
    };
    let have = format!(
        "{os}/{arch}{}",
        variant.map(|v| format!("/{v}")).unwrap_or_default()
    );
    if w_os != os
        || normalize(w_arch) != normalize(arch)
        || w_variant.is_some_and(|v| Some(v) != variant)
    {
        return Err(invalid(
            flag,
            format!("the image is {have}, not {wanted} (rbox runs images of this host's platform)"),
        ));
    }
    Ok(())
}

/// `--label-file` lines: `KEY=VALUE` (or `KEY`), comments and blank lines skipped.
pub fn label_file(path: &std::path::Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid("--label-file", format!("{}: {e}", path.display())))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// Sysctls as stored.
pub type Sysctls = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_read_as_dockers() {
        let u = Ulimit::parse("nofile=512:1024").unwrap();
        assert_eq!(
            (u.soft, u.hard, u.oci_name().as_str()),
            (512, 1024, "RLIMIT_NOFILE")
        );
        assert_eq!(Ulimit::parse("nproc=64").unwrap().hard, 64);
        for bad in ["nofile", "bogus=1", "nofile=x", "nofile=10:5"] {
            let e = Ulimit::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--ulimit"), "{e}");
        }
    }

    #[test]
    fn only_namespaced_sysctls_pass() {
        assert!(parse_sysctl("net.ipv4.ip_forward=1", true).is_ok());
        assert!(parse_sysctl("kernel.shmmax=1000", false).is_ok());
        assert!(parse_sysctl("net.ipv4.ip_forward=1", false).is_err());
        let e = parse_sysctl("kernel.panic=1", true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a namespaced"), "{e}");
    }

    #[test]
    fn security_opts_are_read_or_refused_by_name() {
        let o = parse_security_opts(&[
            "no-new-privileges".into(),
            "seccomp=unconfined".into(),
            "label=disable".into(),
        ])
        .unwrap();
        assert!(o.no_new_privileges && o.seccomp_unconfined);
        let o = parse_security_opts(&["no-new-privileges:false".into()]).unwrap();
        assert!(!o.no_new_privileges);
        let e = parse_security_opts(&["apparmor=x".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("apparmor=x"), "{e}");
        assert!(parse_security_opts(&["seccomp=/nonexistent.json".into()]).is_err());
    }

    #[test]
    fn platforms_are_checked_against_the_image() {
        assert!(check_platform("linux/amd64", "linux", "amd64", None).is_ok());
        assert!(check_platform("amd64", "linux", "amd64", None).is_ok());
        assert!(check_platform("linux/x86_64", "linux", "amd64", None).is_ok());
        let e = check_platform("linux/arm64", "linux", "amd64", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("linux/amd64") && e.contains("--platform"), "{e}");
        assert!(check_platform("windows/amd64", "linux", "amd64", None).is_err());
        assert!(check_platform("a/b/c/d", "linux", "amd64", None).is_err());
    }

    #[test]
    fn devices_must_be_devices() {
        let d = DeviceMapping::parse("/dev/null:/dev/mynull:rw").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
            ("/dev/mynull", "rw")
        );
        assert_eq!(
            DeviceMapping::parse("/dev/null:r")
                .unwrap()
                .path_in_container,
            "/dev/null"
        );
        assert!(DeviceMapping::parse("/etc/passwd").is_err());
        assert!(DeviceMapping::parse("/dev/nosuchdevice").is_err());
    }
}
