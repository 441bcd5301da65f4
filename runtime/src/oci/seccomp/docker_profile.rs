//! A seccomp profile in Docker's format (`--security-opt seccomp=FILE`): `defaultAction`,
//! `defaultErrnoRet`, `syscalls` with `names`, `action`, `errnoRet`, `args`, and the
//! `includes`/`excludes` conditions on capabilities, read into the OCI profile that rbox
//! compiles. Architectures are those of this host (as rbox's default profile).

use oci_spec::runtime::{Arch, LinuxSeccomp};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    syscalls: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<Value>>,
    #[serde(default)]
    includes: Condition,
    #[serde(default)]
    excludes: Condition,
}

#[derive(Deserialize, Default)]
struct Condition {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
}

fn bad(reason: String) -> Error {
    Error::InvalidOption {
        flag: "--security-opt".into(),
        reason,
    }
}

/// The OCI profile of Docker profile `text` for a container holding `caps`.
pub fn from_docker(text: &str, caps: &[String]) -> Result<LinuxSeccomp> {
    let p: Profile =
        serde_json::from_str(text).map_err(|e| bad(format!("seccomp profile: {e}")))?;
    let arch = crate::model::host_options::host_arch();
    let has = |c: &String| caps.contains(c);
    let mut syscalls = Vec::new();
    for r in p.syscalls {
        let included = r.includes.caps.iter().all(has)
            && (r.includes.arches.is_empty() || r.includes.arches.iter().any(|a| a == arch));
        let excluded =
            r.excludes.caps.iter().any(has) || r.excludes.arches.iter().any(|a| a == arch);
        if !included || excluded {
            continue;
        }
        let mut names = r.names;
        names.extend(r.name);
        let mut rule = json!({"names": names, "action": r.action});
        if let Some(e) = r.errno_ret {
            rule["errnoRet"] = json!(e);
        }
        if let Some(a) = r.args {
            rule["args"] = json!(a);
        }
        syscalls.push(rule);
    }
    let mut profile = json!({"defaultAction": p.default_action, "syscalls": syscalls});
    if let Some(e) = p.default_errno_ret {
        profile["defaultErrnoRet"] = json!(e);
    }
    let mut seccomp: LinuxSeccomp =
        serde_json::from_value(profile).map_err(|e| bad(format!("seccomp profile: {e}")))?;
    seccomp.set_architectures(Some(Vec::<Arch>::new()));
    Ok(seccomp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_profile_reads_with_its_conditions() {
        let text = r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
          "archMap": [{"architecture": "SCMP_ARCH_X86_64"}],
          "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
          ]}"#;
        let p = from_docker(text, &["CAP_CHOWN".into()]).unwrap();
        let calls = p.syscalls().as_ref().unwrap();
        assert_eq!(calls.len(), 2, "the CAP_SYS_ADMIN rule is left out");
        assert_eq!(calls[1].errno_ret(), Some(13));
        assert!(from_docker("{}", &[]).is_err());
        assert!(from_docker(r#"{"defaultAction": "SCMP_ACT_NOPE"}"#, &[]).is_err());
    }
}
