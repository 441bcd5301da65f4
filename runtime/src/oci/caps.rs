//! Capabilities: Docker's default set, the names `--cap-add` and `--cap-drop` take, and
//! the set a container gets.

use crate::error::{Error, Result};
use crate::model::container::ContainerConfig;

/// Docker's default capability set.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability the kernel knows (through CAP_CHECKPOINT_RESTORE, Linux 5.9).
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// `CAP_X` for `x`, `X` or `CAP_X`; an error names the flag for an unknown one.
pub fn normalize_cap(name: &str, flag: &str) -> Result<String> {
    let up = name.to_ascii_uppercase();
    if up == "ALL" {
        return Ok(up);
    }
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    if ALL_CAPS.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(Error::InvalidOption {
            flag: flag.into(),
            reason: format!("unknown capability {name:?}"),
        })
    }
}

/// The capabilities rbox itself may hand out: those in its own bounding set (a host may
/// withhold some, as this one does CAP_SYS_RESOURCE).
pub fn grantable_caps() -> Vec<String> {
    let bnd = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    ALL_CAPS
        .iter()
        .enumerate()
        .filter(|(bit, _)| bnd & (1u64 << bit) != 0)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// The capability set of a container: the default set, minus `cap_drop`, plus `cap_add`
/// (`ALL` in either means all); every capability with `--privileged` — all that rbox
/// itself holds.
pub fn capabilities(c: &ContainerConfig) -> Result<Vec<String>> {
    let grantable = grantable_caps();
    if c.host.privileged {
        return Ok(grantable);
    }
    let add = c
        .host
        .cap_add
        .iter()
        .map(|n| normalize_cap(n, "--cap-add"))
        .collect::<Result<Vec<_>>>()?;
    let drop = c
        .host
        .cap_drop
        .iter()
        .map(|n| normalize_cap(n, "--cap-drop"))
        .collect::<Result<Vec<_>>>()?;
    let mut caps: Vec<String> = if drop.iter().any(|d| d == "ALL") {
        Vec::new()
    } else {
        DEFAULT_CAPS
            .iter()
            .map(|s| s.to_string())
            .filter(|c| !drop.contains(c))
            .collect()
    };
    if add.iter().any(|a| a == "ALL") {
        caps = grantable;
    } else {
        for a in add {
            if !grantable.contains(&a) {
                return Err(Error::InvalidOption {
                    flag: "--cap-add".into(),
                    reason: format!("{a}: rbox itself does not hold this capability here"),
                });
            }
            if !caps.contains(&a) {
                caps.push(a);
            }
        }
    }
    Ok(caps)
}
