//! The monitor: one small process per running container, with no daemon above it.
//!
//! It is rbox re-executed from a sealed copy of itself, single-threaded (libcontainer
//! clones, and cloning a multi-threaded process can deadlock), in a session of its own and a
//! child subreaper. It mounts the rootfs, creates and starts the container through
//! libcontainer, holds the container's output (pipes, or a pty's master), writes the log,
//! relays output to an attached `rbox run`, waits for the exit, records it, applies the
//! restart policy and `--rm`, and cleans up. The container's first process dies with it
//! (parent-death signal), so a killed monitor never leaves a container nobody watches.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use rustix::event::{poll, PollFd, PollFlags, Timespec};

use crate::error::{Error, IoContext, Result};
use crate::model::container::{ContainerConfig, Status};
use crate::oci::executor::{RboxExecutor, NOT_EXECUTABLE, NOT_FOUND};
use crate::store::containers::{mark_exited, Containers};
use crate::store::logs::{LogWriter, Stream};
use crate::supervise::teardown::{self, delete_libcontainer_state};
use crate::{host::rootfs, host::sealed, oci::etc, oci::spec, oci::user, store::process};

/// The hidden verb the CLI maps to [`main`].
pub const MONITOR_VERB: &str = "__monitor";
/// How long the monitor waits with nothing to do before it gives memory back.
const IDLE_RELEASE: Duration = Duration::from_secs(2);
/// The environment variable naming the fd the monitor reports its start on.
const SYNC_ENV: &str = "_RBOX_MONITOR_SYNC";
/// Set when the monitor relays the container's stdio to its own (`rbox run` attached).
const ATTACH_ENV: &str = "_RBOX_MONITOR_ATTACH";

/// Signals the monitor handles through its signalfd.
pub(crate) fn handled_signals() -> SigSet {
    let mut s = SigSet::empty();
    for sig in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        s.add(sig);
    }
    s
}

/// A started monitor, as its starter sees it.
pub struct Spawned {
    /// The monitor process.
    pub child: Child,
    sync: File,
}

/// How a start went, as the monitor reports it.
#[derive(Debug)]
pub enum Started {
    /// Running, with the container's first process's host pid.
    Running(i32),
    /// Failed, with the exit code `run` should end with and the reason.
    Failed(u8, String),
}

impl Spawned {
    /// Waits for the monitor to report that the container runs (or why it doesn't).
    pub fn wait_started(&mut self) -> Started {
        let mut msg = String::new();
        let _ = self.sync.read_to_string(&mut msg);
        let msg = msg.trim_end();
        if let Some(pid) = msg.strip_prefix("ok ") {
            return Started::Running(pid.parse().unwrap_or(0));
        }
        if let Some(rest) = msg.strip_prefix("err ") {
            let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
            return Started::Failed(code.parse().unwrap_or(125), reason.to_owned());
        }
        Started::Failed(125, "the container's monitor died while starting it".into())
    }
}

/// Starts a monitor for container `id`. Attached, it inherits this process's stdio and
/// relays the container's to it; detached, its stdio is /dev/null.
pub fn spawn(root: &Path, id: &str, attached: bool) -> Result<Spawned> {
    let exe = sealed::protected_exe()?;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut cmd = Command::new(sealed::exec_path(&exe));
    cmd.arg0("rbox")
        .arg(MONITOR_VERB)
        .arg("--root")
        .arg(root)
        .arg(id)
        .env(SYNC_ENV, w.as_raw_fd().to_string());
    if attached {
        cmd.env(ATTACH_ENV, "1");
    } else {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    let wfd = w.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid()?;
            // The sync pipe crosses exec; everything else stays close-on-exec.
            let flags = nix::libc::fcntl(wfd, nix::libc::F_GETFD);
            nix::libc::fcntl(wfd, nix::libc::F_SETFD, flags & !nix::libc::FD_CLOEXEC);
            Ok(())
        });
    }
    let child = cmd.spawn().at("rbox monitor")?;
    drop(w);
    drop(exe);
    Ok(Spawned {
        child,
        sync: File::from(r),
    })
}

/// The monitor process: runs container `id` of data root `root` until it is done for
/// good, and returns the exit code of its last run.
pub fn main(root: &Path, id: &str) -> i32 {
    let sync = std::env::var(SYNC_ENV)
        .ok()
        .and_then(|s| s.parse::<RawFd>().ok())
        // SAFETY: the fd was left open across exec for us by `spawn`, and is ours alone.
        .map(|fd| unsafe { File::from_raw_fd(fd) });
    let attached = std::env::var_os(ATTACH_ENV).is_some();
    // Our children must not inherit these.
    std::env::remove_var(SYNC_ENV);
    std::env::remove_var(ATTACH_ENV);
    let mut m = Monitor {
        containers: match Containers::open(root) {
            Ok(c) => c,
            Err(e) => return report_failure(sync, &e),
        },
        id: id.to_owned(),
        sync,
        attached,
        network: None,
    };
    m.run()
}

fn report_failure(sync: Option<File>, e: &Error) -> i32 {
    let code = e.run_exit_code();
    if let Some(mut s) = sync {
        let _ = writeln!(s, "err {code} {e}");
    }
    code as i32
}

struct Monitor {
    containers: Containers,
    id: String,
    sync: Option<File>,
    attached: bool,
    /// The network of the current run: its namespace and the host ports it holds.
    network: Option<rbox_network::Attachment>,
}

/// What one run of the container ended with.
struct Exit {
    code: i32,
    oom_killed: bool,
}

impl Monitor {
    fn dir(&self) -> PathBuf {
        self.containers.dir(&self.id)
    }

    fn run(&mut self) -> i32 {
        tracing::debug!("monitor up");
        let _ = nix::sys::prctl::set_child_subreaper(true);
        let mask = handled_signals();
        let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None);
        let sigfd =
            match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
                Ok(fd) => fd,
                Err(e) => return report_failure(self.sync.take(), &e.into()),
            };
        let config = match self.containers.read_config(&self.id) {
            Ok(c) => c,
            Err(e) => return report_failure(self.sync.take(), &e),
        };
        // The runtime directory is the cwd: the console socket is bound there by a relative
        // name (a socket path has a length limit).
        let run = self.containers.run_path(&self.id);
        if let Err(e) = fs::create_dir_all(&run).and_then(|_| std::env::set_current_dir(&run)) {
            return report_failure(self.sync.take(), &Error::io(run, e));
        }
        let me = std::process::id() as i32;
        let claimed = self.containers.update_state(&self.id, |s| {
            s.monitor_pid = me;
            s.monitor_start = process::start_time(me).unwrap_or(0);
            s.stopped_by_user = false;
            s.error.clear();
        });
        if let Err(e) = claimed {
            return report_failure(self.sync.take(), &e);
        }

        let mut backoff = Duration::from_millis(100);
        let code = loop {
            let started_at = Instant::now();
            let exit = match self.run_once(&config, &sigfd) {
                Ok(exit) => exit,
                Err(e) => {
                    let code = e.run_exit_code() as i32;
                    self.cleanup(&config);
                    let _ = self.containers.update_state(&self.id, |s| {
                        let restarted = s.restart_count > 0;
                        mark_exited(s, code);
                        if !restarted {
                            // As Docker: a container that never started stays "created".
                            s.status = Status::Created;
                        }
                        s.error = e.to_string();
                    });
                    report_failure(self.sync.take(), &e);
                    break code;
                }
            };
            if config.host.auto_remove {
                // Nothing to record or restart: the container goes (see below).
                break exit.code;
            }
            self.cleanup(&config);
            tracing::debug!("cleaned up");
            let state = match self.containers.update_state(&self.id, |s| {
                mark_exited(s, exit.code);
                s.oom_killed = exit.oom_killed;
                s.monitor_pid = me;
                s.monitor_start = process::start_time(me).unwrap_or(0);
            }) {
                Ok(s) => s,
                Err(_) => break exit.code,
            };
            let policy = &config.host.restart_policy;
            if config.host.auto_remove
                || !policy.should_restart(exit.code, state.restart_count, state.stopped_by_user)
            {
                break exit.code;
            }
            if started_at.elapsed() >= Duration::from_secs(10) {
                backoff = Duration::from_millis(100);
            }
            let _ = self.containers.update_state(&self.id, |s| {
                s.status = Status::Restarting;
                s.restart_count += 1;
            });
            if !wait_backoff(&sigfd, backoff) {
                // Told to stop while waiting to restart.
                let _ = self.containers.update_state(&self.id, |s| {
                    s.status = Status::Exited;
                    s.stopped_by_user = true;
                });
                break exit.code;
            }
            backoff = (backoff * 2).min(Duration::from_secs(60));
        };
        if !config.host.auto_remove {
            // No monitor any more: the state moves from the tmpfs to the disk.
            let _ = self.containers.update_state(&self.id, |s| {
                s.monitor_pid = 0;
                s.monitor_start = 0;
            });
        }
        tracing::debug!("state recorded");
        if config.host.auto_remove {
            let _ = std::env::set_current_dir("/");
            self.remove_now_clean_later(&config);
            tracing::debug!("removed");
        }
        code
    }

    /// `--rm`: the container vanishes at once (its directory renamed away, its name freed),
    /// so that `rbox run --rm` returns as soon as the container's code is known; unmounting,
    /// cgroups, its files and its anonymous volumes are cleaned up by a child of the
    /// monitor that outlives it by a few milliseconds.
    fn remove_now_clean_later(&mut self, config: &ContainerConfig) {
        let lock = self.containers.lock(&self.id);
        let trash = match self.containers.detach_for_removal(&self.id) {
            Ok(t) => t,
            Err(_) => {
                // Removed by someone else meanwhile (rm -f): only what the run left.
                self.cleanup(config);
                return;
            }
        };
        // The host ports are free at once; the rest of the network goes with the files.
        let published = self.network.take().map(|n| n.ports).unwrap_or_default();
        crate::host::net::release(&self.containers, config);
        // SAFETY: the monitor is single-threaded; the child only does file system work and
        // exits.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
                    for fd in 0..3 {
                        let _ = nix::unistd::dup2(null.as_raw_fd(), fd);
                    }
                }
                teardown::removed(&self.containers, config, &published, &trash);
                drop(lock);
                // SAFETY: leaving the forked child without running the parent's exit code.
                unsafe { nix::libc::_exit(0) }
            }
            Ok(nix::unistd::ForkResult::Parent { .. }) => {}
            Err(_) => teardown::removed(&self.containers, config, &published, &trash),
        }
    }

    /// Starts the container once and relays its output until it exits.
    fn run_once(&mut self, config: &ContainerConfig, sigfd: &SignalFd) -> Result<Exit> {
        let dir = self.dir();
        let rootfs_dir = dir.join("rootfs");
        let images = rbox_image::Store::open(self.containers.root())?;
        let lowers: Vec<PathBuf> = config
            .layers
            .iter()
            .map(|l| l.parse().map(|d| images.snapshot_fs(&d)))
            .collect::<rbox_image::Result<_>>()?;
        rootfs::mount_overlay(&lowers, &dir.join("upper"), &dir.join("work"), &rootfs_dir)?;
        tracing::debug!("rootfs mounted");

        let passwd = rootfs::read_in_root(&rootfs_dir, "/etc/passwd")?.unwrap_or_default();
        let group = rootfs::read_in_root(&rootfs_dir, "/etc/group")?.unwrap_or_default();
        let user = user::resolve(&config.config.user, &passwd, &group)?;
        if !config.config.working_dir.is_empty() {
            rootfs::mkdir_all_in_root(
                &rootfs_dir,
                Path::new(&config.config.working_dir),
                user.uid,
                user.gid,
            )?;
        }
        let run = self.containers.run_path(&self.id);
        self.network = crate::host::net::attach(&self.containers, config)?;
        tracing::debug!("network attached");
        etc::write_files(
            config,
            &run,
            &crate::host::net::peer_hosts(&self.containers, config),
        )?;
        let args = spec::process_args(config)?;
        let init = config.host.init.then(etc::init_binary).transpose()?;
        let mounts = self.prepare_volumes(config, &rootfs_dir)?;
        let files = spec::EtcFiles {
            dir: &run,
            init: init.as_deref(),
            mounts: &mounts,
            netns: self.network.as_ref().map(|n| n.netns.as_path()),
        };
        let spec = spec::build(config, &user, &args, &rootfs_dir, &files)?;
        let bundle = run.join("bundle");
        fs::create_dir_all(&bundle).at(&bundle)?;
        crate::store::containers::write_json(&bundle.join("config.json"), &spec)?;
        tracing::debug!("spec written");

        let log_path = dir.join("container.log");
        let (max_size, max_file) =
            config
                .host
                .log_config
                .limits()
                .map_err(|e| Error::InvalidOption {
                    flag: "--log-opt".into(),
                    reason: e,
                })?;
        let log = LogWriter::open(&log_path, max_size, max_file).at(&log_path)?;
        let run_dir = self.containers.run_dir();
        // A previous run's libcontainer state (a crash) would make the id "exist".
        if run_dir.join(&self.id).exists() {
            delete_libcontainer_state(&run_dir, &self.id);
        }
        let mut builder = ContainerBuilder::new(self.id.clone(), SyscallType::Linux)
            .with_root_path(&run_dir)
            .map_err(runtime_error)?
            .with_executor(RboxExecutor {
                die_with_parent: true,
                seccomp: spec::seccomp_filter(
                    config,
                    &self.containers.runtime_dir().join("seccomp"),
                )?,
                drop_sys_admin: spec::holds_sys_admin_for_seccomp(
                    config,
                    &spec::capabilities(config)?,
                ),
            });
        let mut outputs: Vec<(OwnedFd, Stream)> = Vec::new();
        let mut stdin_pipe: Option<OwnedFd> = None;
        let console = if config.config.tty {
            let sock = run.join("console.sock");
            let _ = fs::remove_file(&sock);
            // Bound by a relative name: the full path may be longer than a socket's.
            let listener = UnixListener::bind("console.sock").at(&sock)?;
            builder = builder.with_console_socket(Some(&sock));
            Some(listener)
        } else {
            let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            // The caller's own descriptors never reach the container (it could reopen a
            // host file through /proc/self/fd/N, for writing): input comes through a pipe.
            let stdin: OwnedFd = if config.config.open_stdin && self.attached {
                let (in_r, in_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
                stdin_pipe = Some(in_w);
                in_r
            } else {
                File::open("/dev/null")?.into()
            };
            builder = builder
                .with_stdin(stdin)
                .with_stdout(out_w)
                .with_stderr(err_w);
            outputs.push((out_r, Stream::Stdout));
            outputs.push((err_r, Stream::Stderr));
            None
        };
        crate::host::cgroup::enter_named(&config.id)
            .map_err(|e| Error::Runtime(format!("the container's named cgroups: {e}")))?;
        let mut container = builder
            .as_init(&bundle)
            .with_systemd(false)
            .with_detach(true)
            .build()
            .map_err(|e| start_error(e, &args[0]))?;
        let mut master: Option<OwnedFd> = None;
        if let Some(listener) = &console {
            master = Some(receive_fd(listener).at(run.join("console.sock"))?);
            let _ = fs::remove_file(run.join("console.sock"));
        }
        container.start().map_err(|e| start_error(e, &args[0]))?;
        tracing::debug!("container started");
        let pid = container.pid().map(|p| p.as_raw()).unwrap_or(0);
        let now = crate::now();
        let ports = self
            .network
            .as_ref()
            .map(|n| n.ports.clone())
            .unwrap_or_default();
        self.containers.update_state(&self.id, |s| {
            s.ports = ports;
            s.status = Status::Running;
            s.pid = pid;
            s.pid_start = process::start_time(pid).unwrap_or(0);
            s.started_at = Some(now);
            s.exit_code = 0;
            s.oom_killed = false;
            s.finished_at = None;
        })?;
        // Containers sharing a user-defined network learn the new one's name.
        crate::host::net::refresh_peers(&self.containers, config);
        if let Some(mut s) = self.sync.take() {
            let _ = writeln!(s, "ok {pid}");
        }
        // Startup memory is given back after the first quiet spell (Relay::run), not now:
        // reading smaps would delay noticing a container that exits at once.
        if let Some(m) = &master {
            outputs.push((m.try_clone()?, Stream::Stdout));
            if self.attached {
                copy_winsize(io::stdin().as_fd(), m.as_fd());
            }
        }
        let mut relay = Relay {
            log: Some(log),
            attached: self.attached,
            stdin_to: master
                .filter(|_| self.attached && config.config.open_stdin)
                .or(stdin_pipe),
        };
        let code = relay.run(pid, outputs, sigfd);
        tracing::debug!(code, "container exited");
        crate::host::cgroup::remove_named(&config.id);
        let oom_killed = oom_killed(&config.id);
        Ok(Exit { code, oom_killed })
    }

    /// The host source of each mount; a new, empty volume is first filled with what the
    /// image has at its mount point (as Docker does), ownership, modes and links kept.
    fn prepare_volumes(
        &self,
        config: &ContainerConfig,
        rootfs_dir: &Path,
    ) -> Result<Vec<(crate::store::volumes::Mount, PathBuf)>> {
        crate::host::fill::fill_empty_volumes(&self.containers, config, rootfs_dir)?;
        let mut out = Vec::new();
        for m in &config.host.mounts {
            let source = match m.kind {
                crate::store::volumes::MountKind::Bind => PathBuf::from(&m.source),
                crate::store::volumes::MountKind::Tmpfs => PathBuf::new(),
                crate::store::volumes::MountKind::Volume => self.containers.volume_data(&m.source),
            };
            let mut m = m.clone();
            m.destination = in_root_destination(rootfs_dir, &m.destination, &source)?;
            out.push((m, source));
        }
        Ok(out)
    }

    /// Removes what a run leaves: libcontainer's state and cgroups, and the rootfs mount.
    fn cleanup(&mut self, config: &ContainerConfig) {
        let published = self.network.take().map(|n| n.ports).unwrap_or_default();
        let _ = teardown::run(&self.containers, config, &published, &self.dir());
    }
}

/// Where a mount really goes inside the rootfs: symlinks in the image are followed as the
/// container would follow them, never out of the rootfs (as Docker resolves mount points in
/// scope). The mount point is made if missing (a directory, or a file for a file source).
fn in_root_destination(rootfs_dir: &Path, dest: &str, source: &Path) -> Result<String> {
    use rustix::fs::OFlags;
    let file_source = source.is_file();
    let target = Path::new(dest);
    let root = rootfs::open_root(rootfs_dir)?;
    let (dir, name) = match (target.parent(), target.file_name()) {
        (Some(d), Some(n)) if file_source => (d, Some(n)),
        _ => (target, None),
    };
    rootfs::mkdir_all_in_root(rootfs_dir, dir, 0, 0)?;
    let dirfd = rootfs::open_in_root(&root, dir, OFlags::DIRECTORY | OFlags::RDONLY)
        .map_err(|e| Error::io(rootfs_dir.join(rootfs::relative(dir)), e.into()))?;
    let fd = match name {
        Some(n) => {
            // A file mount point: open (or make) it in the resolved directory, no link followed.
            match rustix::fs::openat(
                &dirfd,
                n,
                OFlags::CREATE | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
                rustix::fs::Mode::from_raw_mode(0o644),
            ) {
                Ok(fd) => fd,
                Err(_) => rootfs::open_in_root(&root, target, OFlags::PATH)
                    .map_err(|e| Error::io(rootfs_dir.join(rootfs::relative(target)), e.into()))?,
            }
        }
        None => dirfd,
    };
    let real = fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| Error::io(rootfs_dir, e))?;
    let rel = real.strip_prefix(rootfs_dir).map_err(|_| {
        Error::Runtime(format!("mount point {dest} resolves outside the container"))
    })?;
    Ok(format!("/{}", rel.display()))
}

pub(crate) fn runtime_error(e: impl std::fmt::Display) -> Error {
    Error::Runtime(e.to_string())
}

/// Turns a libcontainer start failure into the error `run` reports.
pub(crate) fn start_error(e: libcontainer::error::LibcontainerError, command: &str) -> Error {
    let msg = e.to_string();
    if msg.contains(NOT_FOUND) {
        Error::CommandNotFound(command.to_owned())
    } else if msg.contains(NOT_EXECUTABLE) {
        Error::CommandNotExecutable(command.to_owned())
    } else {
        Error::Runtime(format!("starting the container failed: {msg}"))
    }
}

/// Gives back what starting the container needed and waiting for it doesn't: free heap,
/// and the resident pages of program text (read-only and file-backed, so dropping them
/// loses nothing: what the wait loop runs faults back in). The monitor stays small for the
/// container's whole life.
fn release_startup_memory() {
    // SAFETY: malloc_trim only returns free heap memory to the system.
    unsafe {
        nix::libc::malloc_trim(0);
    }
    let Ok(smaps) = fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    // Each mapping: a header line ("start-end perms offset dev inode path") then fields.
    let mut current: Option<(usize, usize, bool)> = None;
    let mut droppable = Vec::new();
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            let perms = f.next().unwrap_or("");
            let path = f.nth(3).unwrap_or("");
            // Read-only, private, backed by a file: program text and constants.
            let candidate = (perms == "r-xp" || perms == "r--p") && path.starts_with('/');
            current = match (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                (Ok(s), Ok(e)) if candidate => Some((s, e, true)),
                _ => None,
            };
        } else if first == "Anonymous:" {
            // A page written once (relocated data made read-only afterwards) exists only
            // in memory: such a mapping is kept whole.
            if let Some((s, e, true)) = current {
                if f.next() == Some("0") {
                    droppable.push((s, e));
                }
                current = None;
            }
        }
    }
    for (start, end) in droppable {
        if let Some(ptr) = std::ptr::NonNull::new(start as *mut std::ffi::c_void) {
            // SAFETY: a private, read-only, file-backed mapping none of whose pages was
            // ever written: its pages are re-read from the file on the next access. Random
            // access also stops the kernel from mapping neighbours with each page faulted.
            unsafe {
                let _ = nix::sys::mman::madvise(
                    ptr,
                    end - start,
                    nix::sys::mman::MmapAdvise::MADV_DONTNEED,
                );
                let _ = nix::sys::mman::madvise(
                    ptr,
                    end - start,
                    nix::sys::mman::MmapAdvise::MADV_RANDOM,
                );
            }
        }
    }
}

/// Whether the kernel's OOM killer acted in the container's cgroup.
fn oom_killed(id: &str) -> bool {
    let read_count = |p: &str, key: &str| -> u64 {
        fs::read_to_string(p)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix(key).map(|v| v.trim().parse().unwrap_or(0)))
            })
            .unwrap_or(0)
    };
    read_count(
        &format!("/sys/fs/cgroup/memory/rbox/{id}/memory.oom_control"),
        "oom_kill ",
    ) > 0
        || read_count(
            &format!("/sys/fs/cgroup/rbox/{id}/memory.events"),
            "oom_kill ",
        ) > 0
}

/// Sleeps `d` unless a terminating signal arrives first; false if one did.
fn wait_backoff(sigfd: &SignalFd, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        let ts = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as i64,
        };
        let mut fds = [PollFd::new(sigfd, PollFlags::IN)];
        let _ = poll(&mut fds, Some(&ts));
        while let Ok(Some(info)) = sigfd.read_signal() {
            let sig = info.ssi_signo as i32;
            if sig == Signal::SIGCHLD as i32 {
                reap_all();
            } else if sig != Signal::SIGWINCH as i32 {
                return false;
            }
        }
    }
}

fn reap_all() -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, c)) => out.push((p.as_raw(), c)),
            Ok(WaitStatus::Signaled(p, s, _)) => out.push((p.as_raw(), 128 + s as i32)),
            Ok(WaitStatus::StillAlive) | Err(_) => return out,
            Ok(_) => {}
        }
    }
}

/// Receives the pty master libcontainer sends over the console socket.
pub(crate) fn receive_fd(listener: &UnixListener) -> io::Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let (stream, _) = listener.accept()?;
    let mut buf = [0u8; 4096];
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )?;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: SCM_RIGHTS gave us a new fd that nothing else owns.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(io::Error::other(
        "no terminal received on the console socket",
    ))
}

pub(crate) fn copy_winsize(from: BorrowedFd<'_>, to: BorrowedFd<'_>) {
    if let Ok(ws) = rustix::termios::tcgetwinsize(from) {
        let _ = rustix::termios::tcsetwinsize(to, ws);
    }
}

/// Copies the container's output to its log (and to an attached `run`), and an attached
/// terminal's input to the container.
pub(crate) struct Relay {
    pub(crate) log: Option<LogWriter>,
    pub(crate) attached: bool,
    pub(crate) stdin_to: Option<OwnedFd>,
}

impl Relay {
    /// Relays until the process `pid` exits and its output is drained; returns its code.
    pub(crate) fn run(
        &mut self,
        pid: i32,
        mut outputs: Vec<(OwnedFd, Stream)>,
        sigfd: &SignalFd,
    ) -> i32 {
        for (fd, _) in &outputs {
            let _ = rustix::fs::fcntl_setfl(fd, rustix::fs::OFlags::NONBLOCK);
        }
        let stdin = io::stdin();
        let mut stdin_open = self.stdin_to.is_some();
        let mut status: Option<i32> = None;
        let mut drain_until: Option<Instant> = None;
        let mut released = false;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if status.is_some()
                && (outputs.is_empty() || drain_until.is_some_and(|d| Instant::now() >= d))
            {
                break;
            }
            // After a quiet spell the monitor gives back what the last burst of work
            // paged in (a long-running container's monitor should stay small).
            let idle = Timespec {
                tv_sec: IDLE_RELEASE.as_secs() as i64,
                tv_nsec: 0,
            };
            let timeout = drain_until
                .map(|d| {
                    let left = d.saturating_duration_since(Instant::now());
                    Timespec {
                        tv_sec: left.as_secs() as i64,
                        tv_nsec: left.subsec_nanos() as i64,
                    }
                })
                .or((!released).then_some(idle));
            let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(outputs.len() + 2);
            fds.push(PollFd::new(sigfd, PollFlags::IN));
            for (fd, _) in &outputs {
                fds.push(PollFd::new(fd, PollFlags::IN));
            }
            if stdin_open {
                fds.push(PollFd::new(&stdin, PollFlags::IN));
            }
            if let Err(e) = poll(&mut fds, timeout.as_ref()) {
                if e != rustix::io::Errno::INTR {
                    break;
                }
                continue;
            }
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            drop(fds);
            if ready.iter().any(|r| *r) {
                released = false;
            } else if drain_until.is_none() {
                release_startup_memory();
                released = true;
            }
            if ready[0] {
                while let Ok(Some(info)) = sigfd.read_signal() {
                    let sig = info.ssi_signo as i32;
                    if sig == Signal::SIGCHLD as i32 {
                        for (p, code) in reap_all() {
                            if p == pid {
                                status = Some(code);
                                drain_until = Some(Instant::now() + Duration::from_millis(500));
                            }
                        }
                    } else if sig == Signal::SIGWINCH as i32 {
                        if let Some(m) = &self.stdin_to {
                            copy_winsize(stdin.as_fd(), m.as_fd());
                        }
                    } else if let Ok(s) = Signal::try_from(sig) {
                        let _ = kill(Pid::from_raw(pid), s);
                    }
                }
            }
            let stdin_ready = stdin_open && ready.get(outputs.len() + 1).copied().unwrap_or(false);
            let mut closed = Vec::new();
            for (i, (fd, stream)) in outputs.iter().enumerate() {
                if !ready[i + 1] {
                    continue;
                }
                loop {
                    match rustix::io::read(fd, &mut buf) {
                        Ok(0) => {
                            closed.push(i);
                            break;
                        }
                        Ok(n) => self.output(*stream, &buf[..n]),
                        Err(rustix::io::Errno::AGAIN) => break,
                        Err(rustix::io::Errno::INTR) => continue,
                        // A pty's master reads EIO once every slave is closed.
                        Err(_) => {
                            closed.push(i);
                            break;
                        }
                    }
                }
            }
            for i in closed.into_iter().rev() {
                outputs.remove(i);
            }
            if stdin_ready {
                match rustix::io::read(&stdin, &mut buf) {
                    Ok(0) | Err(_) => {
                        stdin_open = false;
                        // A pipe's end closed is the process's EOF; a terminal's master
                        // is also its output and stays.
                        if self.stdin_to.as_ref().is_some_and(|m| is_pipe(m.as_fd())) {
                            self.stdin_to = None;
                        }
                    }
                    Ok(n) => {
                        if let Some(m) = &self.stdin_to {
                            if write_all(m.as_fd(), &buf[..n]).is_err() {
                                // The process closed its input: stop reading ours.
                                stdin_open = false;
                                self.stdin_to = None;
                            }
                        }
                    }
                }
            }
        }
        if let Some(log) = &mut self.log {
            let _ = log.flush_partial();
        }
        status.unwrap_or(137)
    }

    fn output(&mut self, stream: Stream, bytes: &[u8]) {
        if let Some(log) = &mut self.log {
            let _ = log.write(stream, bytes);
        }
        if self.attached {
            let fd = match stream {
                Stream::Stdout => 1,
                Stream::Stderr => 2,
            };
            // SAFETY: fds 1 and 2 are the monitor's inherited stdio, open for its whole life.
            let _ = write_all(unsafe { BorrowedFd::borrow_raw(fd) }, bytes);
        }
    }
}

fn is_pipe(fd: BorrowedFd<'_>) -> bool {
    rustix::fs::fstat(fd).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo
    })
}

fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => {
                let mut f = [PollFd::new(&fd, PollFlags::OUT)];
                let _ = poll(&mut f, None);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
