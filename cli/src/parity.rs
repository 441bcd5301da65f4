//! The command tree against docker's: every flag of docker 28's CLI on a verb rbox has is
//! one rbox takes (doing what docker does, or docker's no-op) or refuses by name, and every
//! boolean flag takes `=true|false`.

use clap::{ArgAction, Command};

use crate::flags::{is_bool_flag, NO_OPS, REFUSED};

/// Docker 28's flags (`docker VERB --help`), `=` after one that takes a value.
const DOCKER: &[(&str, &[&str])] = &[
    (
        "container run",
        &[
            "--add-host=",
            "-a/--attach=",
            "--blkio-weight=",
            "--blkio-weight-device=",
            "--cap-add=",
            "--cap-drop=",
            "--cgroup-parent=",
            "--cgroupns=",
            "--cidfile=",
            "--cpu-period=",
            "--cpu-quota=",
            "--cpu-rt-period=",
            "--cpu-rt-runtime=",
            "-c/--cpu-shares=",
            "--cpus=",
            "--cpuset-cpus=",
            "--cpuset-mems=",
            "-d/--detach",
            "--detach-keys=",
            "--device=",
            "--device-cgroup-rule=",
            "--device-read-bps=",
            "--device-read-iops=",
            "--device-write-bps=",
            "--device-write-iops=",
            "--disable-content-trust",
            "--dns=",
            "--dns-option=",
            "--dns-search=",
            "--domainname=",
            "--entrypoint=",
            "-e/--env=",
            "--env-file=",
            "--expose=",
            "--gpus",
            "--group-add=",
            "--health-cmd=",
            "--health-interval=",
            "--health-retries=",
            "--health-start-period=",
            "--health-timeout=",
            "-h/--hostname=",
            "--init",
            "-i/--interactive",
            "--ip=",
            "--ip6=",
            "--ipc=",
            "--isolation=",
            "--kernel-memory=",
            "-l/--label=",
            "--label-file=",
            "--link=",
            "--link-local-ip=",
            "--log-driver=",
            "--log-opt=",
            "--mac-address=",
            "-m/--memory=",
            "--memory-reservation=",
            "--memory-swap=",
            "--memory-swappiness=",
            "--mount=",
            "--name=",
            "--network=",
            "--network-alias=",
            "--no-healthcheck",
            "--oom-kill-disable",
            "--oom-score-adj=",
            "--pid=",
            "--pids-limit=",
            "--platform=",
            "--privileged",
            "-p/--publish=",
            "-P/--publish-all",
            "--pull=",
            "-q/--quiet",
            "--read-only",
            "--restart=",
            "--rm",
            "--runtime=",
            "--security-opt=",
            "--shm-size=",
            "--sig-proxy",
            "--stop-signal=",
            "--stop-timeout=",
            "--storage-opt=",
            "--sysctl=",
            "--tmpfs=",
            "-t/--tty",
            "--ulimit=",
            "--use-api-socket",
            "-u/--user=",
            "--userns=",
            "--uts=",
            "-v/--volume=",
            "--volume-driver=",
            "--volumes-from=",
            "-w/--workdir=",
        ],
    ),
    (
        "container create",
        &[
            "--add-host=",
            "-a/--attach=",
            "--blkio-weight=",
            "--blkio-weight-device=",
            "--cap-add=",
            "--cap-drop=",
            "--cgroup-parent=",
            "--cgroupns=",
            "--cidfile=",
            "--cpu-period=",
            "--cpu-quota=",
            "--cpu-rt-period=",
            "--cpu-rt-runtime=",
            "-c/--cpu-shares=",
            "--cpus=",
            "--cpuset-cpus=",
            "--cpuset-mems=",
            "--device=",
            "--device-cgroup-rule=",
            "--device-read-bps=",
            "--device-read-iops=",
            "--device-write-bps=",
            "--device-write-iops=",
            "--disable-content-trust",
            "--dns=",
            "--dns-option=",
            "--dns-search=",
            "--domainname=",
            "--entrypoint=",
            "-e/--env=",
            "--env-file=",
            "--expose=",
            "--gpus",
            "--group-add=",
            "--health-cmd=",
            "--health-interval=",
            "--health-retries=",
            "--health-start-period=",
            "--health-timeout=",
            "-h/--hostname=",
            "--init",
            "-i/--interactive",
            "--ip=",
            "--ip6=",
            "--ipc=",
            "--isolation=",
            "--kernel-memory=",
            "-l/--label=",
            "--label-file=",
            "--link=",
            "--link-local-ip=",
            "--log-driver=",
            "--log-opt=",
            "--mac-address=",
            "-m/--memory=",
            "--memory-reservation=",
            "--memory-swap=",
            "--memory-swappiness=",
            "--mount=",
            "--name=",
            "--network=",
            "--network-alias=",
            "--no-healthcheck",
            "--oom-kill-disable",
            "--oom-score-adj=",
            "--pid=",
            "--pids-limit=",
            "--platform=",
            "--privileged",
            "-p/--publish=",
            "-P/--publish-all",
            "--pull=",
            "-q/--quiet",
            "--read-only",
            "--restart=",
            "--rm",
            "--runtime=",
            "--security-opt=",
            "--shm-size=",
            "--stop-signal=",
            "--stop-timeout=",
            "--storage-opt=",
            "--sysctl=",
            "--tmpfs=",
            "-t/--tty",
            "--ulimit=",
            "--use-api-socket",
            "-u/--user=",
            "--userns=",
            "--uts=",
            "-v/--volume=",
            "--volume-driver=",
            "--volumes-from=",
            "-w/--workdir=",
        ],
    ),
    (
        "container start",
        &["-a/--attach", "--detach-keys=", "-i/--interactive"],
    ),
    ("container stop", &["-s/--signal=", "-t/--timeout="]),
    ("container restart", &["-s/--signal=", "-t/--timeout="]),
    ("container kill", &["-s/--signal="]),
    ("container pause", &[]),
    ("container unpause", &[]),
    (
        "container update",
        &[
            "--blkio-weight=",
            "--cpu-period=",
            "--cpu-quota=",
            "--cpu-rt-period=",
            "--cpu-rt-runtime=",
            "-c/--cpu-shares=",
            "--cpus=",
            "--cpuset-cpus=",
            "--cpuset-mems=",
            "-m/--memory=",
            "--memory-reservation=",
            "--memory-swap=",
            "--pids-limit=",
            "--restart=",
        ],
    ),
    ("container rm", &["-f/--force", "-l/--link", "-v/--volumes"]),
    (
        "container ls",
        &[
            "-a/--all",
            "-f/--filter=",
            "--format=",
            "-n/--last=",
            "-l/--latest",
            "--no-trunc",
            "-q/--quiet",
            "-s/--size",
        ],
    ),
    (
        "container logs",
        &[
            "--details",
            "-f/--follow",
            "--since=",
            "-n/--tail=",
            "-t/--timestamps",
            "--until=",
        ],
    ),
    ("container inspect", &["-f/--format=", "-s/--size"]),
    ("container wait", &[]),
    ("container rename", &[]),
    (
        "container exec",
        &[
            "-d/--detach",
            "--detach-keys=",
            "-e/--env=",
            "--env-file=",
            "-i/--interactive",
            "--privileged",
            "-t/--tty",
            "-u/--user=",
            "-w/--workdir=",
        ],
    ),
    (
        "container cp",
        &["-a/--archive", "-L/--follow-link", "-q/--quiet"],
    ),
    ("container top", &[]),
    (
        "container stats",
        &["-a/--all", "--format=", "--no-stream", "--no-trunc"],
    ),
    ("container port", &[]),
    (
        "container commit",
        &[
            "-a/--author=",
            "-c/--change=",
            "-m/--message=",
            "-p/--pause",
        ],
    ),
    ("container prune", &["--filter=", "-f/--force"]),
    ("container diff", &[]),
    ("container export", &["-o/--output="]),
    (
        "container attach",
        &["--detach-keys=", "--no-stdin", "--sig-proxy"],
    ),
    (
        "image build",
        &[
            "--add-host=",
            "--build-arg=",
            "--cache-from=",
            "--cgroup-parent=",
            "--compress",
            "--cpu-period=",
            "--cpu-quota=",
            "-c/--cpu-shares=",
            "--cpuset-cpus=",
            "--cpuset-mems=",
            "--disable-content-trust",
            "-f/--file=",
            "--force-rm",
            "--iidfile=",
            "--isolation=",
            "--label=",
            "-m/--memory=",
            "--memory-swap=",
            "--network=",
            "--no-cache",
            "-o/--output=",
            "--platform=",
            "--progress=",
            "--pull",
            "-q/--quiet",
            "--rm",
            "--security-opt=",
            "--shm-size=",
            "-t/--tag=",
            "--target=",
            "--ulimit=",
        ],
    ),
    (
        "image history",
        &["--format=", "-H/--human", "--no-trunc", "-q/--quiet"],
    ),
    ("image tag", &[]),
    (
        "image import",
        &["-c/--change=", "-m/--message=", "--platform="],
    ),
    ("image save", &["-o/--output="]),
    ("image load", &["-i/--input=", "-q/--quiet"]),
    (
        "image pull",
        &[
            "-a/--all-tags",
            "--disable-content-trust",
            "--platform=",
            "-q/--quiet",
        ],
    ),
    (
        "image push",
        &["-a/--all-tags", "--disable-content-trust", "-q/--quiet"],
    ),
    (
        "image ls",
        &[
            "-a/--all",
            "--digests",
            "-f/--filter=",
            "--format=",
            "--no-trunc",
            "-q/--quiet",
        ],
    ),
    ("image rm", &["-f/--force", "--no-prune"]),
    ("image inspect", &["-f/--format="]),
    ("image prune", &["-a/--all", "--filter=", "-f/--force"]),
    ("volume create", &["-d/--driver=", "--label=", "-o/--opt="]),
    ("volume ls", &["-f/--filter=", "--format=", "-q/--quiet"]),
    ("volume inspect", &["-f/--format="]),
    ("volume rm", &["-f/--force"]),
    ("volume prune", &["--filter=", "-f/--force"]),
    (
        "network create",
        &[
            "--attachable",
            "--aux-address=",
            "--config-from=",
            "--config-only",
            "-d/--driver=",
            "--gateway=",
            "--ingress",
            "--internal",
            "--ip-range=",
            "--ipam-driver=",
            "--ipam-opt=",
            "--ipv4",
            "--ipv6",
            "--label=",
            "-o/--opt=",
            "--scope=",
            "--subnet=",
        ],
    ),
    (
        "network ls",
        &["-f/--filter=", "--format=", "--no-trunc", "-q/--quiet"],
    ),
    ("network inspect", &["-f/--format=", "-v/--verbose"]),
    ("network rm", &["-f/--force"]),
    ("network prune", &["--filter=", "-f/--force"]),
    (
        "network connect",
        &[
            "--alias=",
            "--driver-opt=",
            "--gw-priority=",
            "--ip=",
            "--ip6=",
            "--link=",
            "--link-local-ip=",
        ],
    ),
    ("network disconnect", &["-f/--force"]),
    ("system df", &["--format=", "-v/--verbose"]),
    (
        "system prune",
        &["-a/--all", "--filter=", "-f/--force", "--volumes"],
    ),
    ("system info", &["-f/--format="]),
    (
        "system events",
        &["-f/--filter=", "--format=", "--since=", "--until="],
    ),
    ("inspect", &["-f/--format=", "-s/--size", "--type="]),
    (
        "login",
        &["-p/--password=", "--password-stdin", "-u/--username="],
    ),
    ("logout", &[]),
    (
        "search",
        &["-f/--filter=", "--format=", "--limit=", "--no-trunc"],
    ),
    ("version", &["-f/--format="]),
    ("info", &["-f/--format="]),
    (
        "events",
        &["-f/--filter=", "--format=", "--since=", "--until="],
    ),
];

/// The command at `path` under `top`.
fn find<'a>(top: &'a Command, path: &[&str]) -> Option<&'a Command> {
    path.iter().try_fold(top, |c, name| c.find_subcommand(name))
}

/// `cmd` and its subcommands with nothing required, so one flag parses on its own.
fn lenient(cmd: Command) -> Command {
    let cmd = cmd
        .mut_args(|a| a.required(false))
        .subcommand_required(false)
        .arg_required_else_help(false);
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    names.iter().fold(cmd, |c, n| c.mut_subcommand(n, lenient))
}

/// Every `(path, command)` of the tree.
fn walk<'a>(cmd: &'a Command, path: Vec<String>, out: &mut Vec<(Vec<String>, &'a Command)>) {
    for s in cmd.get_subcommands() {
        let mut p = path.clone();
        p.push(s.get_name().to_owned());
        out.push((p.clone(), s));
        walk(s, p, out);
    }
}

/// The paths a docker verb has in rbox: `container run` and `run`, `image ls` and `images`.
fn forms(path: &str) -> Vec<Vec<&str>> {
    let mut forms = vec![path.split(' ').collect::<Vec<_>>()];
    let short = match path {
        "container ls" => Some("ps"),
        "image ls" => Some("images"),
        "image rm" => Some("rmi"),
        "system info" => Some("info"),
        "system events" => Some("events"),
        p => p
            .strip_prefix("container ")
            .or_else(|| p.strip_prefix("image ")),
    };
    let top = crate::command();
    if let Some(s) = short.filter(|s| top.find_subcommand(s).is_some()) {
        forms.push(vec![s]);
    }
    forms
}

#[test]
fn the_command_tree_is_consistent() {
    crate::command().debug_assert();
}

#[test]
fn every_bool_flag_takes_true_or_false() {
    let raw = <crate::Cli as clap::CommandFactory>::command();
    let top = lenient(crate::command());
    let mut all = Vec::new();
    walk(&raw, Vec::new(), &mut all);
    let mut checked = 0;
    for (path, cmd) in all {
        for arg in cmd.get_arguments() {
            if !matches!(arg.get_action(), ArgAction::SetTrue) || arg.get_id() == "root" {
                continue;
            }
            let id = arg.get_id().as_str();
            let Some(long) = arg.get_long() else { continue };
            for (given, want) in [("", true), ("=true", true), ("=false", false), ("=1", true)] {
                let mut argv = vec!["rbox".to_owned()];
                argv.extend(path.iter().cloned());
                argv.push(format!("--{long}{given}"));
                let m = top
                    .clone()
                    .try_get_matches_from(&argv)
                    .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
                let mut m = &m;
                for p in &path {
                    m = m.subcommand_matches(p).unwrap();
                }
                assert_eq!(m.get_one::<bool>(id), Some(&want), "{argv:?}");
            }
            if let Some(short) = arg.get_short() {
                let mut argv = vec!["rbox".to_owned()];
                argv.extend(path.iter().cloned());
                argv.push(format!("-{short}=false"));
                top.clone()
                    .try_get_matches_from(&argv)
                    .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} boolean flags");
}

#[test]
fn every_docker_flag_is_taken_or_refused() {
    let top = crate::command();
    let mut missing = Vec::new();
    for (path, flags) in DOCKER {
        for form in forms(path) {
            let Some(cmd) = find(&top, &form) else {
                if form.len() == path.split(' ').count() {
                    missing.push(format!("{path}: (verb)"));
                }
                continue;
            };
            for flag in *flags {
                let takes = flag.ends_with('=');
                let long = flag[flag.find("--").unwrap() + 2..].trim_end_matches('=');
                let short = flag
                    .strip_prefix('-')
                    .filter(|f| !f.starts_with('-'))
                    .and_then(|f| f.chars().next());
                let Some(arg) = cmd.get_arguments().find(|a| {
                    a.get_long() == Some(long)
                        || a.get_long_and_visible_aliases()
                            .is_some_and(|l| l.contains(&long))
                }) else {
                    missing.push(format!("{}: {flag}", form.join(" ")));
                    continue;
                };
                if short.is_some() && arg.get_short() != short {
                    missing.push(format!("{}: {flag} (short)", form.join(" ")));
                }
                let bool_flag = is_bool_flag(arg)
                    || matches!(arg.get_action(), ArgAction::SetTrue)
                    || arg.get_num_args() == Some((0..=1).into());
                if takes == bool_flag && !arg.is_hide_set() {
                    missing.push(format!("{}: {flag} (value)", form.join(" ")));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docker's flags rbox lacks:\n{}",
        missing.join("\n")
    );
}

#[test]
fn refused_flags_name_themselves_and_no_ops_parse() {
    for (f, path) in REFUSED
        .iter()
        .flat_map(|f| f.path.split('|').map(move |p| (f, p)))
    {
        let long = f.flag[f.flag.find("--").unwrap() + 2..].trim_end_matches('=');
        let raw = <crate::Cli as clap::CommandFactory>::command();
        let parts: Vec<&str> = path.split(' ').collect();
        if find(&raw, &parts).is_some_and(|c| c.get_arguments().any(|a| a.get_long() == Some(long)))
        {
            continue; // the verb's own flag now
        }
        let mut argv: Vec<String> = vec!["rbox".into()];
        argv.extend(path.split(' ').map(String::from));
        argv.push(if f.flag.ends_with('=') {
            format!("--{long}=x")
        } else {
            format!("--{long}")
        });
        let top = lenient(crate::command());
        let m = top
            .clone()
            .try_get_matches_from(&argv)
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        let msg = crate::flags::refused(&top, &m).unwrap_or_else(|| panic!("{argv:?} not refused"));
        assert!(msg.contains(&format!("--{long}")), "{msg}");
    }
    for (f, path) in NO_OPS
        .iter()
        .flat_map(|f| f.path.split('|').map(move |p| (f, p)))
    {
        let long = f.flag[f.flag.find("--").unwrap() + 2..].trim_end_matches('=');
        let raw = <crate::Cli as clap::CommandFactory>::command();
        let parts: Vec<&str> = path.split(' ').collect();
        if find(&raw, &parts).is_some_and(|c| c.get_arguments().any(|a| a.get_long() == Some(long)))
        {
            continue; // the verb's own flag now
        }
        let mut argv: Vec<String> = vec!["rbox".into()];
        argv.extend(path.split(' ').map(String::from));
        argv.push(if f.flag.ends_with('=') {
            format!("--{long}=x")
        } else {
            format!("--{long}")
        });
        let top = lenient(crate::command());
        let m = top
            .clone()
            .try_get_matches_from(&argv)
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        assert!(crate::flags::refused(&top, &m).is_none(), "{argv:?}");
    }
}
