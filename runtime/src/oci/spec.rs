//! The OCI runtime spec of a container: its process, namespaces, mounts, cgroup limits and
//! Docker's security defaults (capabilities, seccomp, masked and read-only paths, device
//! allowlist). `--privileged` lifts the defaults as Docker does.

use std::path::Path;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::container::ContainerConfig;
pub use crate::oci::caps::{capabilities, grantable_caps, normalize_cap, ALL_CAPS, DEFAULT_CAPS};
use crate::oci::seccomp;
use crate::oci::user::ExecUser;

const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The default PATH when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where `--init`'s init is mounted in the container.
pub const INIT_PATH: &str = "/sbin/docker-init";

/// The environment: the image's and the user's (later wins by key), with PATH, HOSTNAME,
/// HOME and (with a terminal) TERM filled in as Docker does.
pub fn environment(c: &ContainerConfig, user: &ExecUser) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    let mut set = |kv: String| {
        let key = kv.split('=').next().unwrap_or("").to_owned();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(kv);
    };
    set(format!("PATH={DEFAULT_PATH}"));
    set(format!("HOSTNAME={}", c.config.hostname));
    for e in &c.config.env {
        set(e.clone());
    }
    let has = |k: &str, env: &[String]| env.iter().any(|e| e.split('=').next() == Some(k));
    if c.config.tty && !has("TERM", &env) {
        env.push("TERM=xterm".into());
    }
    // Never absent nor empty: the OCI runtime fills an empty HOME by asking the C library
    // for the user's entry inside the container, which loads the image's NSS modules into
    // the container's init before its seccomp filter is in force. The home comes from the
    // image's /etc/passwd, read by rbox (`user::resolve`), as for `-u`.
    env.retain(|e| e != "HOME=");
    if !has("HOME", &env) {
        env.push(format!("HOME={}", user.home));
    }
    env
}

/// Files the container gets from its directory: hostname, hosts, resolv.conf.
pub struct EtcFiles<'a> {
    /// The container's directory.
    pub dir: &'a Path,
    /// The init binary for `--init`, if any.
    pub init: Option<&'a Path>,
    /// The container's mounts with their host sources (volume data dirs, bind sources).
    pub mounts: &'a [(crate::store::volumes::Mount, std::path::PathBuf)],
    /// The network namespace to join (bridge networks), by path.
    pub netns: Option<&'a Path>,
    /// Namespaces of another container's to join (`--ipc`, `--pid`, `--network`
    /// `container:X`): OCI type and path.
    pub joined: &'a [(&'static str, std::path::PathBuf)],
}

/// Whether the container's first process holds CAP_SYS_ADMIN only to load its seccomp
/// filter (the executor drops it right after).
pub fn holds_sys_admin_for_seccomp(c: &ContainerConfig, caps: &[String]) -> bool {
    // With no_new_privs a filter loads without it.
    !c.host.privileged
        && !c.host.security.seccomp_unconfined
        && !c.host.security.no_new_privileges
        && !caps.iter().any(|x| x == "CAP_SYS_ADMIN")
}

/// The container's compiled seccomp filter (none with `--privileged`), cached in
/// `cache_dir`.
pub fn seccomp_filter(c: &ContainerConfig, cache_dir: &Path) -> Result<Option<Vec<u8>>> {
    if c.host.privileged || c.host.security.seccomp_unconfined {
        return Ok(None);
    }
    let profile = match &c.host.security.seccomp_profile {
        Some(text) => seccomp::from_docker(text, &capabilities(c)?)?,
        None => seccomp::default_profile(&capabilities(c)?),
    };
    seccomp::compiled(&profile, cache_dir).map(Some)
}

/// The runtime spec for a container whose rootfs is mounted at `rootfs`.
pub fn build(
    c: &ContainerConfig,
    user: &ExecUser,
    args: &[String],
    rootfs: &Path,
    files: &EtcFiles<'_>,
) -> Result<Value> {
    build_for(c, user, args, rootfs, files, &cgroup_mount_points())
}

/// [`build`] on a host whose cgroup hierarchies are mounted at `cgroup_mounts`.
fn build_for(
    c: &ContainerConfig,
    user: &ExecUser,
    args: &[String],
    rootfs: &Path,
    files: &EtcFiles<'_>,
    cgroup_mounts: &[String],
) -> Result<Value> {
    let privileged = c.host.privileged;
    let caps = capabilities(c)?;
    let host_net = c.host.network_mode == "host";
    let mut args = args.to_vec();
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
    ];
    let sys_ro = if privileged { "rw" } else { "ro" };
    if host_net {
        // sysfs can't be mounted anew without a network namespace of our own.
        mounts.push(
            json!({"destination": "/sys", "type": "bind", "source": "/sys",
                           "options": ["rbind", "nosuid", "noexec", "nodev", sys_ro]}),
        );
    } else {
        mounts.push(
            json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                           "options": ["nosuid", "noexec", "nodev", sys_ro]}),
        );
    }
    mounts.push(
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                       "options": ["nosuid", "noexec", "nodev", "relatime", sys_ro]}),
    );
    for f in ["hostname", "hosts", "resolv.conf"] {
        mounts.push(json!({
            "destination": format!("/etc/{f}"),
            "type": "bind",
            "source": files.dir.join(f),
            "options": ["rbind", "rprivate"],
        }));
    }
    for (m, source) in files.mounts {
        let ro = if m.read_only { "ro" } else { "rw" };
        mounts.push(match m.kind {
            crate::store::volumes::MountKind::Tmpfs => {
                let mut options = vec!["nosuid".to_string(), "nodev".into(), "noexec".into()];
                for o in &m.options {
                    match o.as_str() {
                        "exec" => options.retain(|x| x != "noexec"),
                        "suid" => options.retain(|x| x != "nosuid"),
                        "dev" => options.retain(|x| x != "nodev"),
                        other => options.push(other.to_owned()),
                    }
                }
                if m.read_only {
                    options.push("ro".into());
                }
                json!({"destination": m.destination, "type": "tmpfs", "source": "tmpfs", "options": options})
            }
            _ => json!({
                "destination": m.destination,
                "type": "bind",
                "source": source,
                "options": ["rbind", "rprivate", ro],
            }),
        });
    }
    if let Some(init) = files.init {
        mounts.push(
            json!({"destination": INIT_PATH, "type": "bind", "source": init,
                           "options": ["bind", "ro"]}),
        );
        args.splice(0..0, [INIT_PATH.to_string(), "--".to_string()]);
    }

    let joined = |t: &str| files.joined.iter().find(|(k, _)| *k == t).map(|(_, p)| p);
    let mut namespaces = Vec::new();
    for (kind, mode) in [
        ("pid", &c.host.pid_mode),
        ("ipc", &c.host.ipc_mode),
        ("uts", &c.host.uts_mode),
    ] {
        match joined(kind) {
            Some(path) => namespaces.push(json!({"type": kind, "path": path})),
            None if mode == "host" => {}
            None => namespaces.push(json!({"type": kind})),
        }
    }
    namespaces.push(json!({"type": "mount"}));
    namespaces.push(json!({"type": "cgroup"}));
    match files.netns.or(joined("network").map(|p| p.as_path())) {
        Some(path) => namespaces.push(json!({"type": "network", "path": path})),
        None if !host_net => namespaces.push(json!({"type": "network"})),
        None => {}
    }

    let mut resources = json!({});
    resources["devices"] = if privileged {
        json!([{"allow": true, "access": "rwm"}])
    } else {
        json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
            {"allow": true, "type": "c", "major": 136, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
            {"allow": true, "type": "c", "access": "m"},
            {"allow": true, "type": "b", "access": "m"},
        ])
    };
    if let (Some(all), Some(limits)) = (resources.as_object_mut(), limits(&c.host).as_object()) {
        all.extend(limits.clone());
    }

    let mut linux = json!({
        "namespaces": namespaces,
        "cgroupsPath": format!("/rbox/{}", c.id),
        "resources": resources,
    });
    if !privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS
            .iter()
            .map(|p| p.to_string())
            .chain(cgroup_mounts.iter().cloned())
            .collect::<Vec<_>>());
    }
    // The seccomp filter is not in the spec: rbox's executor loads it, compiled once
    // ([`seccomp_filter`]), right before exec. Loading one without no_new_privs takes
    // CAP_SYS_ADMIN, so the effective and permitted sets keep it until then; the bounding
    // set doesn't have it, so the workload never does.
    let mut held = caps.clone();
    if holds_sys_admin_for_seccomp(c, &caps) {
        held.push("CAP_SYS_ADMIN".into());
    }

    let cwd = if c.config.working_dir.is_empty() {
        "/".to_owned()
    } else {
        c.config.working_dir.clone()
    };
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": c.config.tty,
            "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
            "args": args,
            "env": environment(c, user),
            "cwd": cwd,
            "capabilities": {"bounding": caps, "effective": held, "permitted": held},
        },
        "root": {"path": rootfs, "readonly": c.host.readonly_rootfs},
        "hostname": c.config.hostname,
        "mounts": mounts,
        "linux": linux,
    });
    // The host's UTS namespace keeps the host's name.
    if c.host.uts_mode == "host" {
        if let Some(o) = spec.as_object_mut() {
            o.remove("hostname");
        }
    }
    crate::oci::host_options::apply(c, &mut spec)?;
    Ok(spec)
}

/// The cgroup limits of a container's `resources` (memory, CPU, pids): what `run` sets
/// and `update` changes.
pub fn limits(h: &crate::model::container::HostConfig) -> Value {
    let mut r = json!({});
    if let Some(m) = h.memory {
        r["memory"] = json!({"limit": m});
        if let Some(s) = h.memory_swap {
            r["memory"]["swap"] = json!(s);
        }
    }
    if let Some(res) = h.memory_reservation {
        r["memory"]["reservation"] = json!(res);
    }
    if h.nano_cpus.is_some() || h.cpu_shares.is_some() {
        r["cpu"] = json!({});
    }
    if let Some(n) = h.nano_cpus {
        let period = 100_000i64;
        r["cpu"]["quota"] = json!(n * period / 1_000_000_000);
        r["cpu"]["period"] = json!(period);
    }
    if let Some(s) = h.cpu_shares {
        r["cpu"]["shares"] = json!(s);
    }
    if let Some(c) = &h.cpuset_cpus {
        r["cpu"]["cpus"] = json!(c);
    }
    if let Some(p) = h.pids_limit {
        r["pids"] = json!({"limit": p});
    }
    r
}

/// The process arguments: entrypoint then command, as Docker combines them.
pub fn process_args(c: &ContainerConfig) -> Result<Vec<String>> {
    let args: Vec<String> = c
        .config
        .entrypoint
        .iter()
        .chain(c.config.cmd.iter())
        .cloned()
        .collect();
    if args.is_empty() {
        return Err(Error::NoCommand);
    }
    Ok(args)
}

/// `/sys/fs/cgroup` and each hierarchy mounted below it on the host, as the container's
/// cgroup mount repeats them: libcontainer mounts them read-write whatever the spec says,
/// so each is made read-only again as a read-only path (else a container could raise its
/// own limits).
fn cgroup_mount_points() -> Vec<String> {
    let mut out = vec!["/sys/fs/cgroup".to_owned()];
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in info.lines() {
        let mut fields = line.split(' ');
        let Some(point) = fields.nth(4) else { continue };
        let fstype = line
            .split_once(" - ")
            .and_then(|(_, rest)| rest.split(' ').next());
        let hierarchy = point
            .strip_prefix("/sys/fs/cgroup/")
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
        if hierarchy
            && matches!(fstype, Some("cgroup" | "cgroup2"))
            && !out.iter().any(|p| p == point)
        {
            out.push(point.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::container::{HostConfig, ProcessConfig};

    fn config(host: HostConfig) -> ContainerConfig {
        ContainerConfig {
            id: "a".repeat(64),
            name: "t".into(),
            created: String::new(),
            image: "busybox".into(),
            image_id: String::new(),
            manifest: String::new(),
            layers: vec![],
            config: ProcessConfig {
                hostname: "h".into(),
                cmd: vec!["true".into()],
                ..Default::default()
            },
            host,
        }
    }

    #[test]
    fn capabilities_start_from_dockers_defaults() {
        let caps = capabilities(&config(HostConfig::default())).unwrap();
        assert_eq!(caps.len(), 14);
        let caps = capabilities(&config(HostConfig {
            cap_add: vec!["net_admin".into()],
            cap_drop: vec!["CHOWN".into(), "cap_kill".into()],
            ..Default::default()
        }))
        .unwrap();
        assert!(caps.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!caps.contains(&"CAP_CHOWN".to_string()));
        assert!(!caps.contains(&"CAP_KILL".to_string()));
        let none = capabilities(&config(HostConfig {
            cap_drop: vec!["all".into()],
            ..Default::default()
        }))
        .unwrap();
        assert!(none.is_empty());
        let bad = capabilities(&config(HostConfig {
            cap_add: vec!["FLY".into()],
            ..Default::default()
        }));
        assert!(bad.unwrap_err().to_string().contains("--cap-add"));
    }

    #[test]
    fn the_spec_is_a_valid_oci_spec_with_the_defaults() {
        let c = config(HostConfig {
            memory: Some(64 << 20),
            nano_cpus: Some(500_000_000),
            pids_limit: Some(10),
            ..Default::default()
        });
        let user = ExecUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            home: "/root".into(),
        };
        let files = EtcFiles {
            netns: None,
            joined: &[],
            dir: Path::new("/x"),
            init: None,
            mounts: &[],
        };
        let v = build(&c, &user, &["true".into()], Path::new("/r"), &files).unwrap();
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v.clone()).unwrap();
        // The filter is loaded by the executor: CAP_SYS_ADMIN is held for it, never bounded.
        assert!(spec.linux().as_ref().unwrap().seccomp().is_none());
        let caps = &v["process"]["capabilities"];
        let has = |set: &str| {
            caps[set]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "CAP_SYS_ADMIN")
        };
        assert!(
            has("effective") && has("permitted") && !has("bounding"),
            "{caps}"
        );
        let dir = tempfile::tempdir().unwrap();
        let bpf = seccomp_filter(&c, dir.path()).unwrap().unwrap();
        assert!(!bpf.is_empty() && bpf.len().is_multiple_of(8));
        // Compiled once: the second time it is read back, the same.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(seccomp_filter(&c, dir.path()).unwrap().unwrap(), bpf);
        assert_eq!(v["linux"]["resources"]["cpu"]["quota"], 50_000);
        assert!(v["linux"]["maskedPaths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "/proc/kcore"));
        let env = v["process"]["env"].as_array().unwrap();
        assert!(env.iter().any(|e| e == "HOME=/root"));
        assert!(env.iter().any(|e| e.as_str().unwrap().starts_with("PATH=")));
    }

    #[test]
    fn home_is_never_empty_whatever_the_image_says() {
        let user = ExecUser {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![],
            home: "/home/alice".into(),
        };
        for image_env in [vec!["HOME=".to_string()], vec![]] {
            let mut c = config(HostConfig::default());
            c.config.env = image_env;
            let env = environment(&c, &user);
            let homes: Vec<&String> = env.iter().filter(|e| e.starts_with("HOME=")).collect();
            assert_eq!(homes, ["HOME=/home/alice"], "{env:?}");
        }
        let mut c = config(HostConfig::default());
        c.config.env = vec!["HOME=/data".into()];
        assert!(environment(&c, &user).contains(&"HOME=/data".to_string()));
    }

    /// Every key of `spec` is one the OCI runtime spec knows: a misspelled key would be
    /// dropped by the runtime's parser, so it must survive a round trip through it.
    fn assert_keys_known(spec: &Value, back: &Value, at: &str) {
        match (spec, back) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in a {
                    let there = b
                        .get(k)
                        .unwrap_or_else(|| panic!("{at}.{k}: not an OCI spec key"));
                    assert_keys_known(v, there, &format!("{at}.{k}"));
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                assert_eq!(a.len(), b.len(), "{at}");
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    assert_keys_known(x, y, &format!("{at}[{i}]"));
                }
            }
            _ => {}
        }
    }

    fn golden(name: &str, got: &Value) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/oci/golden")
            .join(name);
        let text = serde_json::to_string_pretty(got).unwrap() + "\n";
        if std::env::var_os("RBOX_BLESS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, want, "{name} changed (RBOX_BLESS=1 writes it anew)");
    }

    #[test]
    fn generated_specs_are_their_golden_copies_with_only_oci_keys() {
        use crate::store::volumes::{Mount, MountKind};
        let root = ExecUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            home: "/root".into(),
        };
        let tmpfs = Mount {
            kind: MountKind::Tmpfs,
            source: String::new(),
            destination: "/scratch".into(),
            read_only: false,
            options: vec!["exec".into(), "size=1m".into(), "mode=1777".into()],
            borrowed: false,
        };
        type Mounts = Vec<(Mount, std::path::PathBuf)>;
        let cases: Vec<(&str, HostConfig, Mounts)> = vec![
            ("default.json", HostConfig::default(), vec![]),
            (
                "privileged.json",
                HostConfig {
                    privileged: true,
                    ..Default::default()
                },
                vec![],
            ),
            (
                "read-only.json",
                HostConfig {
                    readonly_rootfs: true,
                    ..Default::default()
                },
                vec![],
            ),
            (
                "host-network.json",
                HostConfig {
                    network_mode: "host".into(),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "tmpfs.json",
                HostConfig::default(),
                vec![(tmpfs, std::path::PathBuf::new())],
            ),
        ];
        let cgroups = ["/sys/fs/cgroup".to_string(), "/sys/fs/cgroup/memory".into()];
        for (name, host, mounts) in cases {
            let c = config(host);
            let netns = Path::new("/run/netns/rbox-aaaa");
            let files = EtcFiles {
                netns: (c.host.network_mode != "host").then_some(netns),
                joined: &[],
                dir: Path::new("/x"),
                init: None,
                mounts: &mounts,
            };
            let v =
                build_for(&c, &root, &["sh".into()], Path::new("/r"), &files, &cgroups).unwrap();
            let spec: oci_spec::runtime::Spec = serde_json::from_value(v.clone()).unwrap();
            assert_keys_known(&v, &serde_json::to_value(&spec).unwrap(), name);
            golden(name, &v);
        }
    }
}
