//! `version` and `info` (≡ `system info`): rbox's own values in the sections and under the
//! field names docker prints, and `--format` over the same documents.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use rbox_runtime::container::Status;
use rbox_runtime::Containers;
use serde_json::{json, Value};

use crate::format::human_size;
use crate::template::Template;
use crate::{CliError, CliResult};

#[derive(Args, Debug)]
pub struct FormatArgs {
    /// A Go template over the document ('{{.Server.Version}}'), or "json".
    #[arg(short, long)]
    format: Option<String>,
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The architecture as Go names it (GOARCH).
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// A value of /proc/sys/kernel (`osrelease`, `hostname`).
fn kernel_value(name: &str) -> String {
    std::fs::read_to_string(Path::new("/proc/sys/kernel").join(name))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

fn kernel() -> String {
    kernel_value("osrelease")
}

fn hostname() -> String {
    kernel_value("hostname")
}

/// `PRETTY_NAME` of /etc/os-release.
fn operating_system() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| "Linux".into())
}

fn cgroup_version() -> &'static str {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2"
    } else {
        "1"
    }
}

/// Writes `doc` through `--format` ("json" for one line), or `text` without one.
fn write(format: Option<&str>, doc: &Value, text: impl FnOnce() -> String) -> CliResult {
    let out = match format {
        None | Some("") => text(),
        Some("json") => serde_json::to_string(doc).map_err(io::Error::other)? + "\n",
        Some(f) => {
            let t = Template::parse(f).map_err(|e| CliError::Failed(e.to_string()))?;
            let line = t
                .execute(doc, None)
                .map_err(|e| CliError::Failed(format!("template parsing error: {e}")))?;
            line + "\n"
        }
    };
    io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `version`: the client's section and the engine's (the same binary: rbox has no daemon).
pub fn version(a: FormatArgs) -> CliResult {
    let os = std::env::consts::OS;
    let doc = json!({
        "Client": {
            "Platform": {"Name": "rbox"},
            "Version": VERSION,
            "Os": os,
            "Arch": arch(),
            "Context": "default",
        },
        "Server": {
            "Platform": {"Name": "rbox (daemonless)"},
            "Version": VERSION,
            "Os": os,
            "Arch": arch(),
            "KernelVersion": kernel(),
            "Components": [{"Name": "Engine", "Version": VERSION}],
        },
    });
    write(a.format.as_deref(), &doc, || {
        format!(
            "Client:\n Version:           {VERSION}\n OS/Arch:           {os}/{arch}\n \
             Context:           default\n\nServer: rbox (daemonless)\n Engine:\n  \
             Version:          {VERSION}\n  OS/Arch:          {os}/{arch}\n  \
             Kernel Version:   {kernel}\n",
            arch = arch(),
            kernel = kernel(),
        )
    })
}

/// `info`: counts of containers and images, and the host the engine runs on.
pub fn info(root: &Path, a: FormatArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let list = rbox_runtime::lifecycle::reconcile_all(&containers)?;
    let count = |f: &dyn Fn(&rbox_runtime::Container) -> bool| list.iter().filter(|c| f(c)).count();
    let paused = count(&|c| c.state.paused);
    let running = count(&|c| c.state.is_running() && !c.state.paused);
    let stopped = count(&|c| matches!(c.state.status, Status::Exited | Status::Created));
    let images = rbox_image::Store::open(root)
        .and_then(|s| s.images())
        .map(|i| i.len())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let doc = json!({
        "Containers": list.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": stopped,
        "Images": images,
        "Driver": "overlay2",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version(),
        "KernelVersion": kernel(),
        "OperatingSystem": operating_system(),
        "OSType": std::env::consts::OS,
        "Architecture": std::env::consts::ARCH,
        "NCPU": ncpu,
        "MemTotal": mem,
        "Name": hostname(),
        "ServerVersion": VERSION,
        "DockerRootDir": root.display().to_string(),
        "LoggingDriver": "json-file",
    });
    let d = &doc;
    write(a.format.as_deref(), &doc, || {
        format!(
            "Client:\n Version:    {VERSION}\n Context:    default\n\nServer:\n \
             Containers: {}\n  Running: {running}\n  Paused: {paused}\n  Stopped: {stopped}\n \
             Images: {images}\n Server Version: {VERSION}\n Storage Driver: overlay2\n \
             Logging Driver: json-file\n Cgroup Driver: cgroupfs\n Cgroup Version: {}\n \
             Kernel Version: {}\n Operating System: {}\n OSType: {}\n Architecture: {}\n \
             CPUs: {ncpu}\n Total Memory: {}\n Name: {}\n Docker Root Dir: {}\n",
            list.len(),
            d["CgroupVersion"].as_str().unwrap_or_default(),
            d["KernelVersion"].as_str().unwrap_or_default(),
            d["OperatingSystem"].as_str().unwrap_or_default(),
            d["OSType"].as_str().unwrap_or_default(),
            d["Architecture"].as_str().unwrap_or_default(),
            human_size(mem),
            d["Name"].as_str().unwrap_or_default(),
            root.display(),
        )
    })
}
