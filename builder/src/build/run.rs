//! RUN: a container over the stage's snapshots, whose changes become the next layer.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rbox_image::{Digest, Store};
use rbox_runtime::container::{ContainerConfig, HostConfig, ProcessConfig};
use rbox_runtime::lifecycle;
use rbox_runtime::monitor::Started;

use super::cache::StepKey;
use super::mounts::drop_mount_stubs;
use super::{Builder, Result, StageState};
use crate::instructions::{Dockerfile, Instruction, Located, ShellOrExec};

/// The network a RUN step runs on (a runtime network mode), from its `--network` flag and
/// `rbox build --network`: `default` (the default bridge, as docker build: a namespace of
/// its own that reaches out through NAT but not the host's loopback), `none` (loopback
/// only), or `host`. As BuildKit's `network.host` entitlement, the host's network is given
/// only when `rbox build --network host` asks for it: a Dockerfile (or a base image's
/// ONBUILD trigger) can't choose it on its own.
pub fn run_network(step: Option<&str>, build: Option<&str>) -> Result<&'static str, String> {
    let mode = |v: &str, what: &str| match v {
        "default" | "bridge" => Ok("bridge"),
        "none" => Ok("none"),
        "host" => Ok("host"),
        other => Err(format!("{what} {other:?}: use default, none or host")),
    };
    let build = build.map(|b| mode(b, "--network")).transpose()?;
    let step = step.map(|s| mode(s, "RUN --network")).transpose()?;
    match (step, build) {
        (Some("host"), Some("host")) => Ok("host"),
        (Some("host"), _) => Err(
            "RUN --network=host needs the host's network granted: rbox build --network host".into(),
        ),
        // The build's choice is the default of its steps: `default` there means it.
        (Some("bridge"), Some(b)) => Ok(b),
        (Some(s), _) => Ok(s),
        (None, Some(b)) => Ok(b),
        (None, None) => Ok("bridge"),
    }
}

/// The address `--add-host NAME:host-gateway` stands for, as docker's: the host as the
/// containers of the default network reach it (its bridge's address).
pub const HOST_GATEWAY: &str = "host-gateway";

/// Parses `rbox build --add-host` as docker does: `NAME:IP` or `NAME=IP`, the address IPv4,
/// IPv6 (in brackets or not) or `host-gateway`; returns the name and the address.
pub fn parse_add_host(v: &str) -> Result<(String, String), String> {
    let bad = || format!("--add-host {v}: use HOST:IP, HOST=IP or HOST:{HOST_GATEWAY}");
    // `=` first: an IPv6 address has colons of its own.
    let (name, ip) = v
        .split_once('=')
        .or_else(|| v.split_once(':'))
        .ok_or_else(bad)?;
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '#') {
        return Err(bad());
    }
    let ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    if ip != HOST_GATEWAY && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!(
            "--add-host {v}: {ip:?} is not an IP address (or {HOST_GATEWAY})"
        ));
    }
    Ok((name.to_owned(), ip.to_owned()))
}

/// `--add-host`'s entries as the runtime takes them (`NAME:IP`), `host-gateway` made the
/// default network's gateway.
pub(super) fn resolve_hosts(
    containers: &rbox_runtime::Containers,
    hosts: &[(String, String)],
) -> Result<Vec<String>> {
    let mut gateway = None;
    let mut out = Vec::new();
    for (name, ip) in hosts {
        let ip = if ip == HOST_GATEWAY {
            if gateway.is_none() {
                let net = rbox_runtime::net::networks(containers)
                    // The default network, which RUN's `default` is.
                    .get("bridge")
                    .map_err(|e| {
                        super::BuildError::Failed(format!("--add-host {name}:{HOST_GATEWAY}: {e}"))
                    })?;
                gateway = Some(net.gateway.to_string());
            }
            gateway.clone().unwrap_or_default()
        } else {
            ip.clone()
        };
        out.push(format!("{name}:{ip}"));
    }
    Ok(out)
}

/// A RUN step's words and flags, expanded.
pub(super) struct RunStep<'s> {
    pub(super) command: &'s ShellOrExec,
    pub(super) heredocs: &'s [crate::Heredoc],
    pub(super) network: Option<&'s str>,
    pub(super) mounts: &'s [String],
    pub(super) security: Option<&'s str>,
}

impl Builder<'_> {
    pub(super) fn run(
        &mut self,
        df: &Dockerfile,
        st: &mut StageState,
        ins: &Located<Instruction>,
        step: RunStep<'_>,
    ) -> Result<()> {
        let RunStep {
            command,
            heredocs,
            network,
            mounts,
            security,
        } = step;
        let insecure = security == Some("insecure");
        if insecure && !self.o.allow_insecure {
            return Err(self.fail(
                ins.line,
                "RUN --security=insecure needs the entitlement granted: rbox build --allow security.insecure",
            ));
        }
        let mode =
            run_network(network, self.o.network.as_deref()).map_err(|e| self.fail(ins.line, e))?;
        let (mounts, mount_keys) = self.resolve_mounts(df, st, ins.line, mounts)?;
        let words = match (command, heredocs) {
            (ShellOrExec::Shell(text), [h, ..]) => {
                // `RUN <<EOF` alone runs the heredoc as a script; `RUN cmd <<EOF` gives the
                // shell the command followed by the document, as BuildKit does.
                let lone = text
                    .trim()
                    .trim_start_matches("<<")
                    .trim_start_matches('-')
                    .trim_matches(|c| c == '"' || c == '\'')
                    == h.name;
                let script = if lone && heredocs.len() == 1 {
                    h.body()
                } else {
                    let mut s = text.clone();
                    for h in heredocs {
                        s.push('\n');
                        s.push_str(&h.body());
                        if !s.ends_with('\n') {
                            s.push('\n');
                        }
                        s.push_str(&h.name);
                    }
                    s
                };
                st.shell_words(&ShellOrExec::Shell(script))
            }
            _ => st.shell_words(command),
        };
        let mut env = st.env();
        for (k, v) in &st.args {
            if !env.iter().any(|e| e.split('=').next() == Some(k.as_str())) {
                env.push(format!("{k}={v}"));
            }
        }
        let key = st.next_key(&StepKey::Run {
            argv: words.clone(),
            env: env.clone(),
            mounts: mount_keys,
            insecure,
            hosts: self.o.extra_hosts.clone(),
        });
        let created_by = ins.original.trim().to_owned();
        if self.cached(&key, st)? {
            self.history(st, &created_by, false);
            return Ok(());
        }
        if st.chain.is_empty() {
            return Err(self.fail(
                ins.line,
                "RUN needs a base image with a shell: this stage is FROM scratch",
            ));
        }
        let mut prepared = self.prepare_mounts(ins.line, &mounts)?;
        // Secrets given as variables and SSH_AUTH_SOCK: in the container, not in the key.
        for e in &prepared.env {
            let name = e.split('=').next().unwrap_or_default();
            env.retain(|x| x.split('=').next() != Some(name));
            env.push(e.clone());
        }
        let id = rbox_runtime::create::random_hex(32);
        let config = ContainerConfig {
            id: id.clone(),
            name: format!("rbox-build-{}", &id[..12]),
            created: rbox_runtime::now(),
            image: "build".into(),
            image_id: String::new(),
            manifest: String::new(),
            layers: st.chain.iter().map(|c| c.to_string()).collect(),
            config: ProcessConfig {
                hostname: id[..12].to_owned(),
                user: st.config.user.cloned_or_default(),
                env,
                cmd: words,
                entrypoint: vec![],
                working_dir: st.config.working_dir.cloned_or_default(),
                ..Default::default()
            },
            host: HostConfig {
                network_mode: mode.to_owned(),
                networks: Vec::new(),
                mounts: prepared.mounts.clone(),
                privileged: insecure,
                extra_hosts: self.o.extra_hosts.clone(),
                ..Default::default()
            },
        };
        let mut config = config;
        // On the default bridge, as docker build: an address taken now, given back when the
        // step's container is removed.
        config.host.networks = rbox_runtime::net::join(self.containers, &id, mode, None, &[])?;
        if let Err(e) = self.containers.create(&config) {
            let nets = rbox_runtime::net::networks(self.containers);
            for ep in &config.host.networks {
                ep.leave(&nets, &id);
            }
            return Err(e.into());
        }
        let _ = self.log.flush();
        let follow = !self.attached && !self.o.quiet;
        let result = (|| -> Result<i32> {
            // Attached, the step's output is this build's; it takes no input to detach on.
            let attach = rbox_runtime::monitor::Attach {
                detach_keys: Vec::new(),
                ..Default::default()
            };
            let attached = (self.attached && !self.o.quiet).then_some(&attach);
            let mut spawned = lifecycle::start(self.containers, &id, attached)?;
            match spawned.wait_started() {
                Started::Failed(code, msg) => {
                    let _ = spawned.child.wait();
                    Err(self.fail(
                        ins.line,
                        format!("{}: {msg} (exit {code})", ins.original.trim()),
                    ))
                }
                Started::Running(_) if follow => {
                    // Its output read from its log as it comes, through this stage's log.
                    let path = self.containers.dir(&id).join("container.log");
                    let mut log = rbox_runtime::store::logs::Follower::<
                        rbox_runtime::store::logs::Record,
                    >::new(&path);
                    loop {
                        let exited = spawned.child.try_wait()?;
                        if let Ok(records) = log.poll() {
                            for r in records {
                                self.output(r.log.as_bytes());
                            }
                        }
                        if let Some(status) = exited {
                            let _ = self.log.flush();
                            return Ok(status.code().unwrap_or(125));
                        }
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                }
                Started::Running(_) => {
                    let status = spawned.child.wait()?;
                    Ok(status.code().unwrap_or(125))
                }
            }
        })();
        let upper = self.store.tmp_path("build-upper");
        let moved = match &result {
            Ok(0) => fs::rename(self.containers.dir(&id).join("upper"), &upper).is_ok(),
            _ => false,
        };
        let _ = lifecycle::remove(self.containers, &id, true, true);
        let targets = std::mem::take(&mut prepared.targets);
        drop(prepared);
        match result {
            Ok(0) if moved => {
                drop_mount_points(&upper, &st.chain, self.store);
                drop_mount_stubs(&upper, &st.chain, self.store, &targets);
                self.add_layer(st, &upper, &key, &created_by, None)
            }
            Ok(0) => Err(self.fail(ins.line, "the container's changes could not be kept")),
            Ok(code) => Err(self.fail(
                ins.line,
                format!("{}: exited with {code}", ins.original.trim()),
            )),
            Err(e) => Err(e),
        }
    }
}

/// Removes from a RUN's upper directory the empty mount points the runtime made for
/// /etc/hostname, /etc/hosts and /etc/resolv.conf when the image had none: they are not
/// the build's doing. Relative to the directory's fd: an /etc the step made a link is
/// never followed.
pub(super) fn drop_mount_points(upper: &Path, chain: &[Digest], store: &Store) {
    let Some(etc) = open_etc(upper) else {
        return;
    };
    for rel in mount_points(upper, chain, store) {
        match rel.strip_prefix("etc").ok().and_then(|r| r.file_name()) {
            Some(name) => {
                let _ = rustix::fs::unlinkat(&etc, name, rustix::fs::AtFlags::empty());
            }
            None => {
                if let Ok(top) = open_nofollow_dir(rustix::fs::CWD, upper.as_os_str()) {
                    let _ = rustix::fs::unlinkat(&top, "etc", rustix::fs::AtFlags::REMOVEDIR);
                }
            }
        }
    }
}

fn open_nofollow_dir(
    dir: impl std::os::fd::AsFd,
    name: &std::ffi::OsStr,
) -> rustix::io::Result<std::os::fd::OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        rustix::fs::OFlags::DIRECTORY
            | rustix::fs::OFlags::NOFOLLOW
            | rustix::fs::OFlags::RDONLY
            | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
}

/// `dir/etc` opened as a directory, following no link on the way.
fn open_etc(dir: &Path) -> Option<std::os::fd::OwnedFd> {
    let top = open_nofollow_dir(rustix::fs::CWD, dir.as_os_str()).ok()?;
    open_nofollow_dir(&top, std::ffi::OsStr::new("etc")).ok()
}

/// The status of `dir/etc/name`, following no link.
fn etc_entry(dir: &Path, name: &str) -> Option<rustix::fs::Stat> {
    let etc = open_etc(dir)?;
    rustix::fs::statat(&etc, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).ok()
}

/// The runtime's leftovers in a container's upper directory (relative paths, files before
/// the directory holding them): the empty mount points of /etc/hostname, /etc/hosts and
/// /etc/resolv.conf when the image (`chain`) has none, and /etc itself when they are all it
/// holds and the image has an /etc. Looked at relative to directory fds, following no link.
pub(crate) fn mount_points(upper: &Path, chain: &[Digest], store: &Store) -> Vec<PathBuf> {
    use rustix::fs::FileType;
    let mut out = Vec::new();
    let names = ["hostname", "hosts", "resolv.conf"];
    for f in names {
        let empty_file = etc_entry(upper, f).is_some_and(|st| {
            FileType::from_raw_mode(st.st_mode) == FileType::RegularFile && st.st_size == 0
        });
        let in_image = chain
            .iter()
            .any(|c| etc_entry(&store.snapshot_fs(c), f).is_some());
        if empty_file && !in_image {
            out.push(Path::new("etc").join(f));
        }
    }
    let only_leftovers = open_etc(upper).is_some_and(|etc| {
        rustix::fs::Dir::read_from(&etc).is_ok_and(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| std::ffi::OsStr::from_bytes(e.file_name().to_bytes()).to_owned())
                .filter(|n| n != "." && n != "..")
                .all(|n| out.contains(&Path::new("etc").join(n)))
        })
    });
    if only_leftovers
        && chain
            .iter()
            .any(|c| open_etc(&store.snapshot_fs(c)).is_some())
    {
        out.push(PathBuf::from("etc"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_network_only_when_the_build_grants_it() {
        assert_eq!(run_network(None, None), Ok("bridge"));
        assert_eq!(run_network(Some("default"), None), Ok("bridge"));
        assert_eq!(run_network(Some("none"), None), Ok("none"));
        assert_eq!(run_network(None, Some("none")), Ok("none"));
        assert_eq!(run_network(Some("default"), Some("none")), Ok("none"));
        assert_eq!(run_network(None, Some("host")), Ok("host"));
        assert_eq!(run_network(Some("none"), Some("host")), Ok("none"));
        assert_eq!(run_network(Some("host"), Some("host")), Ok("host"));
        let e = run_network(Some("host"), None).unwrap_err();
        assert!(e.contains("rbox build --network host"), "{e}");
        assert!(run_network(Some("host"), Some("default")).is_err());
        assert!(run_network(None, Some("mynet")).is_err());
        assert!(run_network(Some("container:x"), None).is_err());
    }

    #[test]
    fn extra_hosts_read_as_dockers() {
        let ok = |v: &str| parse_add_host(v).unwrap();
        assert_eq!(ok("db:10.1.2.3"), ("db".into(), "10.1.2.3".into()));
        assert_eq!(ok("db=10.1.2.3"), ("db".into(), "10.1.2.3".into()));
        assert_eq!(ok("v6:::1"), ("v6".into(), "::1".into()));
        assert_eq!(ok("v6=[fe80::1]"), ("v6".into(), "fe80::1".into()));
        assert_eq!(ok("gw:host-gateway"), ("gw".into(), "host-gateway".into()));
        for bad in [
            "db",
            ":1.2.3.4",
            "db:",
            "db:nope",
            "d b:1.2.3.4",
            "db:1.2.3",
        ] {
            let e = parse_add_host(bad).unwrap_err();
            assert!(e.starts_with(&format!("--add-host {bad}: ")), "{e}");
        }
    }
}
