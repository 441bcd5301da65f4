//! What applies to every flag of the command tree at once: a boolean flag takes docker's
//! `=true|false` (`--rm=true`, `--all=false`, `-d=false`), and a bare `--rm` is `true`.

use clap::builder::{ArgAction, BoolishValueParser};
use clap::{Arg, Command};

/// Every boolean flag of `cmd` and its subcommands, made to take an optional `=VALUE`.
pub fn bool_values(cmd: Command) -> Command {
    let cmd = cmd.mut_args(bool_value);
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    names
        .iter()
        .fold(cmd, |cmd, name| cmd.mut_subcommand(name, bool_values))
}

/// A `true`/`false` flag (clap's SetTrue) as one that takes an optional `=VALUE`: a bare
/// flag is true, `=true|false` (also 1/0, yes/no, on/off) sets it, its absence is false.
/// It needs the `=`: `--rm false` is the flag and then the word `false`, as in docker.
fn bool_value(arg: Arg) -> Arg {
    if !matches!(arg.get_action(), ArgAction::SetTrue) {
        return arg;
    }
    arg.action(ArgAction::Set)
        .num_args(0..=1)
        .require_equals(true)
        .default_missing_value("true")
        .default_value("false")
        .value_parser(BoolishValueParser::new())
        .value_name("true|false")
        .hide_possible_values(true)
        .hide_default_value(true)
}

/// Whether `arg` is one of the boolean flags [`bool_value`] made.
#[cfg(test)]
pub fn is_bool_flag(arg: &Arg) -> bool {
    arg.get_num_args() == Some((0..=1).into())
        && matches!(arg.get_action(), ArgAction::Set)
        && arg.is_require_equals_set()
}

/// A flag of docker's that rbox takes without effect, or refuses: where (`container run`,
/// `image build`: the verb under its management command, which its short form shares), the
/// flag as docker's help shows it (`-a/--all`; a trailing `=` when it takes a value), and
/// why.
pub struct DockerFlag {
    pub path: &'static str,
    pub flag: &'static str,
    pub why: &'static str,
}

impl DockerFlag {
    /// Whether the flag is one of the verb at `path` (`path` may name several, `a|b`).
    fn of(&self, path: &str) -> bool {
        self.path.split('|').any(|p| p == path)
    }

    fn short(&self) -> Option<char> {
        self.flag
            .strip_prefix('-')
            .filter(|f| !f.starts_with('-'))
            .and_then(|f| f.chars().next())
    }

    fn long(&self) -> &'static str {
        let l = &self.flag[self.flag.find("--").map_or(0, |i| i + 2)..];
        l.trim_end_matches('=')
    }

    fn takes_value(&self) -> bool {
        self.flag.ends_with('=')
    }

    fn arg(&self, id: String, help: String) -> Arg {
        // The command tree is made once a process.
        let id: &'static str = Box::leak(id.into_boxed_str());
        let mut arg = Arg::new(id).long(self.long()).help(help);
        if let Some(s) = self.short() {
            arg = arg.short(s);
        }
        if self.takes_value() {
            arg.action(ArgAction::Append).value_name("VALUE")
        } else {
            arg.action(ArgAction::SetTrue)
        }
    }
}

/// Refused flags' ids start with this, followed by the long name.
const REFUSED_ID: &str = "refused:";

/// The verb path `path` (names from the top) as [`DockerFlag::path`] names it: a top-level
/// verb is the one of `container` or `image` it shares its definition with.
fn canonical(top: &Command, path: &[String]) -> String {
    if let [verb] = path {
        let under = |group: &str| {
            top.find_subcommand(group)
                .is_some_and(|g| g.get_subcommands().any(|s| s.get_name() == verb))
        };
        return match verb.as_str() {
            "ps" => "container ls".into(),
            "images" => "image ls".into(),
            "rmi" => "image rm".into(),
            "info" | "events" => format!("system {verb}"),
            "inspect" => verb.clone(),
            _ if under("container") => format!("container {verb}"),
            _ if under("image") => format!("image {verb}"),
            _ => verb.clone(),
        };
    }
    path.join(" ")
}

/// Adds docker's no-op flags (shown in `--help` as such) and the refused ones (hidden, an
/// error when given) to every verb of `cmd` they belong to.
pub fn docker_flags(cmd: Command) -> Command {
    let top = cmd.clone();
    add_docker_flags(cmd, &top, &mut Vec::new())
}

fn add_docker_flags(mut cmd: Command, top: &Command, path: &mut Vec<String>) -> Command {
    if !path.is_empty() {
        let at = canonical(top, path);
        // A flag the verb has (done since the table was written) is the verb's.
        let has = |cmd: &Command, f: &DockerFlag| {
            cmd.get_arguments().any(|a| a.get_long() == Some(f.long()))
        };
        for (path, long, values) in CHOICES {
            let id = (*path == at)
                .then(|| cmd.get_arguments().find(|a| a.get_long() == Some(long)))
                .flatten()
                .map(|a| a.get_id().clone());
            if let Some(id) = id {
                cmd = cmd.mut_arg(id, |a| {
                    a.value_parser(clap::builder::PossibleValuesParser::new(values.iter()))
                });
            }
        }
        for f in NO_OPS.iter().filter(|f| f.of(&at)) {
            if has(&cmd, f) {
                continue;
            }
            let help = format!("Accepted as docker's; no effect: {}", f.why);
            cmd = cmd.arg(f.arg(format!("noop:{}", f.long()), help));
        }
        for f in REFUSED.iter().filter(|f| f.of(&at)) {
            if has(&cmd, f) {
                continue;
            }
            cmd = cmd.arg(
                f.arg(format!("{REFUSED_ID}{}", f.long()), String::new())
                    .hide(true),
            );
        }
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        path.push(name.clone());
        cmd = cmd.mut_subcommand(&name, |s| add_docker_flags(s, top, path));
        path.pop();
    }
    cmd
}

/// The one-line error for a refused flag on the command line, if one is there.
pub fn refused(top: &Command, m: &clap::ArgMatches) -> Option<String> {
    let mut path = Vec::new();
    let mut m = m;
    while let Some((name, sub)) = m.subcommand() {
        path.push(name.to_owned());
        m = sub;
    }
    let id = m.ids().map(|id| id.as_str()).find(|id| {
        id.starts_with(REFUSED_ID)
            && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
    })?;
    let long = &id[REFUSED_ID.len()..];
    let at = canonical(top, &path);
    let f = REFUSED.iter().find(|f| f.of(&at) && f.long() == long)?;
    Some(format!(
        "rbox {}: --{long} is not supported: {}",
        path.join(" "),
        f.why
    ))
}

/// Flags whose value must be one of docker's that rbox does (any other is an error naming
/// it, as docker's): the verb path, the flag, the values.
const CHOICES: &[(&str, &str, &[&str])] = &[(
    "image build",
    "progress",
    &["auto", "plain", "tty", "quiet"],
)];

/// Docker's flags that rbox takes and that do nothing here, as they do nothing in docker
/// (or have no meaning without its daemon).
pub const NO_OPS: &[DockerFlag] = &[
    DockerFlag {
        path: "container run|container create|image build|image pull|image push",
        flag: "--disable-content-trust",
        why: "rbox does not verify content trust signatures (docker's default too)",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--kernel-memory=",
        why: "kernel memory limits are gone from cgroup v2; docker ignores it too",
    },
    DockerFlag {
        path: "image build",
        flag: "--force-rm",
        why: "rbox always removes the build's intermediate containers",
    },
    DockerFlag {
        path: "image build",
        flag: "--rm",
        why: "rbox always removes the build's intermediate containers (docker's default)",
    },
    DockerFlag {
        path: "image build",
        flag: "--compress",
        why: "rbox reads the build context in place; nothing is sent to a daemon",
    },
    DockerFlag {
        path: "image ls",
        flag: "-a/--all",
        why: "rbox keeps no intermediate images; every image is listed",
    },
    DockerFlag {
        path: "image rm",
        flag: "--no-prune",
        why: "rbox keeps no untagged parent images to prune",
    },
    DockerFlag {
        path: "network inspect",
        flag: "-v/--verbose",
        why: "verbose output adds swarm services; rbox has none",
    },
];

/// Docker's flags that rbox refuses, naming them, rather than taking them and doing
/// something else.
pub const REFUSED: &[DockerFlag] = &[
    DockerFlag {
        path: "container create",
        flag: "-a/--attach=",
        why: "`start -a` attaches its output (and -i its input)",
    },
    DockerFlag {
        path: "container exec",
        flag: "--detach-keys=",
        why: "an exec ends with its command; it does not detach",
    },
    DockerFlag {
        path: "container update",
        flag: "--blkio-weight=",
        why: "block I/O weights are not supported",
    },
    DockerFlag {
        path: "image import",
        flag: "-c/--change=",
        why: "use commit --change on a container of the image",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--blkio-weight=",
        why: "block I/O weights are not supported",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--blkio-weight-device=",
        why: "block I/O weights are not supported",
    },
    DockerFlag {
        path: "container run|container create|image build",
        flag: "--cgroup-parent=",
        why: "rbox places every container in its own cgroup",
    },
    DockerFlag {
        path: "container run|container create|container update|image build",
        flag: "--cpu-period=",
        why: "use --cpus",
    },
    DockerFlag {
        path: "container run|container create|container update|image build",
        flag: "--cpu-quota=",
        why: "use --cpus",
    },
    DockerFlag {
        path: "container run|container create|container update",
        flag: "--cpu-rt-period=",
        why: "real-time scheduling is not supported",
    },
    DockerFlag {
        path: "container run|container create|container update",
        flag: "--cpu-rt-runtime=",
        why: "real-time scheduling is not supported",
    },
    DockerFlag {
        path: "container run|container create|container update|image build",
        flag: "--cpuset-mems=",
        why: "memory node pinning is not supported",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--device-cgroup-rule=",
        why: "use --device",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--device-read-bps=",
        why: "device I/O limits are not supported",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--device-read-iops=",
        why: "device I/O limits are not supported",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--device-write-bps=",
        why: "device I/O limits are not supported",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--device-write-iops=",
        why: "device I/O limits are not supported",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--domainname=",
        why: "a NIS domain name is not supported",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--gpus=",
        why: "GPUs are not supported",
    },
    DockerFlag {
        path: "container run|container create|network connect",
        flag: "--ip6=",
        why: "rbox networks are IPv4 only",
    },
    DockerFlag {
        path: "container run|container create|image build",
        flag: "--isolation=",
        why: "Linux has only docker's default isolation",
    },
    DockerFlag {
        path: "container run|container create|network connect",
        flag: "--link=",
        why: "legacy links are not supported; use a user-defined network",
    },
    DockerFlag {
        path: "container run|container create|network connect",
        flag: "--link-local-ip=",
        why: "link-local addresses are not supported",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--mac-address=",
        why: "MAC addresses are not settable",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--memory-swappiness=",
        why: "swappiness is not settable on cgroup v2",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--oom-kill-disable",
        why: "the OOM killer cannot be disabled on cgroup v2",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "-q/--quiet",
        why: "rbox's pull before run shows no progress to quieten (use pull -q)",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--runtime=",
        why: "rbox is its own runtime",
    },
    DockerFlag {
        path: "container run|container create|volume create",
        flag: "--storage-opt=",
        why: "storage options are not supported",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--use-api-socket",
        why: "rbox has no API socket",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--userns=",
        why: "user namespaces are not supported",
    },
    DockerFlag {
        path: "container run|container create",
        flag: "--volume-driver=",
        why: "only the local volume driver exists",
    },
    DockerFlag {
        path: "container rm",
        flag: "-l/--link",
        why: "legacy links are not supported",
    },
    DockerFlag {
        path: "image build",
        flag: "-c/--cpu-shares=",
        why: "a build's steps have no resource limits",
    },
    DockerFlag {
        path: "image build",
        flag: "--cpuset-cpus=",
        why: "a build's steps have no resource limits",
    },
    DockerFlag {
        path: "image build",
        flag: "-m/--memory=",
        why: "a build's steps have no resource limits",
    },
    DockerFlag {
        path: "image build",
        flag: "--memory-swap=",
        why: "a build's steps have no resource limits",
    },
    DockerFlag {
        path: "image build",
        flag: "--security-opt=",
        why: "a build's steps have no security options",
    },
    DockerFlag {
        path: "image build",
        flag: "--shm-size=",
        why: "a build's steps have no resource limits",
    },
    DockerFlag {
        path: "image build",
        flag: "--ulimit=",
        why: "a build's steps have no resource limits",
    },
    DockerFlag {
        path: "image import",
        flag: "--platform=",
        why: "an imported image is this host's platform",
    },
    DockerFlag {
        path: "volume create",
        flag: "-d/--driver=",
        why: "only the local volume driver exists",
    },
    DockerFlag {
        path: "volume create",
        flag: "-o/--opt=",
        why: "the local driver takes no options here",
    },
    DockerFlag {
        path: "network create",
        flag: "--attachable",
        why: "swarm networks are not supported",
    },
    DockerFlag {
        path: "network create",
        flag: "--aux-address=",
        why: "auxiliary addresses are not supported",
    },
    DockerFlag {
        path: "network create",
        flag: "--config-from=",
        why: "swarm network configs are not supported",
    },
    DockerFlag {
        path: "network create",
        flag: "--config-only",
        why: "swarm network configs are not supported",
    },
    DockerFlag {
        path: "network create",
        flag: "--ingress",
        why: "swarm networks are not supported",
    },
    DockerFlag {
        path: "network create",
        flag: "--ip-range=",
        why: "rbox allocates from the whole subnet",
    },
    DockerFlag {
        path: "network create",
        flag: "--ipam-driver=",
        why: "only the default IPAM driver exists",
    },
    DockerFlag {
        path: "network create",
        flag: "--ipam-opt=",
        why: "only the default IPAM driver exists",
    },
    DockerFlag {
        path: "network create",
        flag: "--ipv4",
        why: "rbox networks are always IPv4",
    },
    DockerFlag {
        path: "network create",
        flag: "--ipv6",
        why: "rbox networks are IPv4 only",
    },
    DockerFlag {
        path: "network create",
        flag: "-o/--opt=",
        why: "driver options are not supported",
    },
    DockerFlag {
        path: "network create",
        flag: "--scope=",
        why: "swarm scopes are not supported",
    },
    DockerFlag {
        path: "network connect",
        flag: "--driver-opt=",
        why: "driver options are not supported",
    },
    DockerFlag {
        path: "network connect",
        flag: "--gw-priority=",
        why: "a container has one gateway",
    },
];
