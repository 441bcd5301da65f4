//! The default seccomp profile: an allowlist of system calls, the others failing with
//! EPERM, in the spirit of Docker's default. Calls that only make sense with a capability
//! (mount with CAP_SYS_ADMIN, ptrace helpers with CAP_SYS_PTRACE, …) are allowed when the
//! container has it. `--privileged` runs without a profile.
//!
//! The profile is compiled to BPF once ([`compiled`]) and loaded by rbox's executor right
//! before the workload's exec ([`load`]).

use std::path::Path;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};

use crate::error::{Error, Result};

mod docker_profile;
mod syscalls;

pub use docker_profile::from_docker;

use syscalls::{ALLOWED, BY_CAPABILITY};

/// Namespace flags a clone without CAP_SYS_ADMIN may not ask for (CLONE_NEWNS,
/// NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET): 0x7E020000.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

fn rule(names: &[&str], action: LinuxSeccompAction) -> LinuxSyscall {
    LinuxSyscallBuilder::default()
        .names(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .action(action)
        .build()
        .expect("a syscall rule builds")
}

/// The profile for a container with capabilities `caps` (names like `CAP_CHOWN`).
pub fn default_profile(caps: &[String]) -> LinuxSeccomp {
    let has = |c: &str| caps.iter().any(|x| x == c);
    let mut allowed: Vec<&str> = ALLOWED.to_vec();
    for (cap, calls) in BY_CAPABILITY {
        if has(cap) {
            allowed.extend_from_slice(calls);
        }
    }
    allowed.sort_unstable();
    allowed.dedup();
    let mut syscalls = vec![rule(&allowed, LinuxSeccompAction::ScmpActAllow)];
    if !has("CAP_SYS_ADMIN") {
        // clone without namespace flags; clone3 can't be filtered on its flags (they are
        // behind a pointer), so it reports ENOSYS and libc falls back to clone.
        syscalls.push(
            LinuxSyscallBuilder::default()
                .names(vec!["clone".to_string()])
                .action(LinuxSeccompAction::ScmpActAllow)
                .args(vec![LinuxSeccompArgBuilder::default()
                    .index(0usize)
                    .value(0u64)
                    .value_two(CLONE_NAMESPACE_FLAGS)
                    .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
                    .build()
                    .expect("a seccomp arg builds")])
                .build()
                .expect("a syscall rule builds"),
        );
        syscalls.push(
            LinuxSyscallBuilder::default()
                .names(vec!["clone3".to_string()])
                .action(LinuxSeccompAction::ScmpActErrno)
                .errno_ret(nix::libc::ENOSYS as u32)
                .build()
                .expect("a syscall rule builds"),
        );
    }
    // personality: only the harmless personas (PER_LINUX, PER_LINUX32, UNAME26 variants).
    for persona in [0x0u64, 0x0008, 0x20000, 0x20008, 0xffff_ffff] {
        syscalls.push(
            LinuxSyscallBuilder::default()
                .names(vec!["personality".to_string()])
                .action(LinuxSeccompAction::ScmpActAllow)
                .args(vec![LinuxSeccompArgBuilder::default()
                    .index(0usize)
                    .value(persona)
                    .op(LinuxSeccompOperator::ScmpCmpEq)
                    .build()
                    .expect("a seccomp arg builds")])
                .build()
                .expect("a syscall rule builds"),
        );
    }
    LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .default_errno_ret(nix::libc::EPERM as u32)
        // The native architecture only: a call made through another ABI (int 0x80, x32)
        // matches no architecture of the filter and is refused outright. It also keeps the
        // filter a third of the size, and its compilation at every start that much shorter.
        .architectures(Vec::<Arch>::new())
        .syscalls(syscalls)
        .build()
        .expect("a seccomp profile builds")
}

/// The filter of `profile` as the kernel takes it (an array of classic BPF `sock_filter`s),
/// compiled by libseccomp once per profile and kept in `cache_dir` (on the runtime tmpfs):
/// compiling it costs most of a millisecond, reading it back a few microseconds. The file's
/// name is the SHA-256 of the profile.
pub fn compiled(profile: &LinuxSeccomp, cache_dir: &Path) -> Result<Vec<u8>> {
    use sha2::Digest as _;
    let json = serde_json::to_vec(profile).expect("a seccomp profile serializes");
    let mut h = sha2::Sha256::new();
    h.update(b"rbox seccomp bpf 1\0");
    h.update(&json);
    let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let path = cache_dir.join(format!("{key}.bpf"));
    if let Ok(bpf) = std::fs::read(&path) {
        if !bpf.is_empty() && bpf.len() % 8 == 0 {
            return Ok(bpf);
        }
    }
    let ctx = filter_context(profile)?;
    std::fs::create_dir_all(cache_dir).map_err(|e| Error::io(cache_dir, e))?;
    let tmp = cache_dir.join(format!(".{key}.{}", std::process::id()));
    let written = std::fs::File::create(&tmp)
        .map_err(|e| Error::io(&tmp, e))
        .and_then(|f| {
            ctx.export_bpf(&f)
                .map_err(|e| Error::Runtime(format!("seccomp: exporting the filter: {e}")))
        })
        .and_then(|_| std::fs::read(&tmp).map_err(|e| Error::io(&tmp, e)))
        .and_then(|bpf| {
            std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
            Ok(bpf)
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// libseccomp's filter for `profile`, as libcontainer would build it (native architecture,
/// names the kernel doesn't know skipped, one rule per argument index).
fn filter_context(profile: &LinuxSeccomp) -> Result<libseccomp::ScmpFilterContext> {
    use libseccomp::{ScmpAction, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
    let bad = |e: libseccomp::error::SeccompError| Error::Runtime(format!("seccomp: {e}"));
    let action = |a: LinuxSeccompAction, errno: Option<u32>| -> Result<ScmpAction> {
        Ok(match a {
            LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
            LinuxSeccompAction::ScmpActErrno => {
                ScmpAction::Errno(errno.unwrap_or(nix::libc::EPERM as u32) as i32)
            }
            LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
                ScmpAction::KillThread
            }
            LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
            LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
            other => {
                return Err(Error::Runtime(format!(
                    "seccomp: action {other:?} is not supported"
                )))
            }
        })
    };
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default).map_err(bad)?;
    for rule in profile.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue;
        }
        let compares: Vec<ScmpArgCompare> = rule
            .args()
            .iter()
            .flatten()
            .map(|a| {
                let op = match a.op() {
                    LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
                    LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
                    LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
                    LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
                    LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
                    LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
                    LinuxSeccompOperator::ScmpCmpMaskedEq => {
                        ScmpCompareOp::MaskedEqual(a.value_two().unwrap_or(0))
                    }
                };
                ScmpArgCompare::new(a.index() as u32, op, a.value())
            })
            .collect();
        let mut indexes: Vec<usize> = rule.args().iter().flatten().map(|a| a.index()).collect();
        indexes.sort_unstable();
        let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
        for name in rule.names() {
            let Ok(call) = ScmpSyscall::from_name(name) else {
                continue;
            };
            if compares.is_empty() {
                ctx.add_rule(act, call).map_err(bad)?;
            } else if repeated {
                for c in &compares {
                    ctx.add_rule_conditional(act, call, std::slice::from_ref(c))
                        .map_err(bad)?;
                }
            } else {
                ctx.add_rule_conditional(act, call, &compares)
                    .map_err(bad)?;
            }
        }
    }
    Ok(ctx)
}

/// Loads a compiled filter into the calling thread (it needs no_new_privs or
/// CAP_SYS_ADMIN).
pub fn load(bpf: &[u8]) -> std::io::Result<()> {
    let prog = nix::libc::sock_fprog {
        len: (bpf.len() / std::mem::size_of::<nix::libc::sock_filter>()) as u16,
        filter: bpf.as_ptr() as *mut nix::libc::sock_filter,
    };
    // SAFETY: `prog` points into `bpf`, which outlives the call; the kernel copies it.
    let r = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_seccomp,
            nix::libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const nix::libc::sock_fprog,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed_names(p: &LinuxSeccomp) -> Vec<String> {
        p.syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .filter(|s| s.action() == LinuxSeccompAction::ScmpActAllow && s.args().is_none())
            .flat_map(|s| s.names().clone())
            .collect()
    }

    #[test]
    fn dangerous_calls_are_not_allowed_by_default() {
        let p = default_profile(&["CAP_CHOWN".into()]);
        let names = allowed_names(&p);
        for bad in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "init_module",
            "kexec_load",
            "reboot",
            "ptrace",
            "keyctl",
            "add_key",
            "bpf",
        ] {
            assert!(!names.iter().any(|n| n == bad), "{bad} allowed");
        }
        assert!(names.iter().any(|n| n == "read"));
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
    }

    #[test]
    fn capabilities_open_their_calls() {
        let p = default_profile(&["CAP_SYS_ADMIN".into()]);
        assert!(allowed_names(&p).iter().any(|n| n == "mount"));
    }
}
