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
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use rustix::event::{poll, PollFd, PollFlags, Timespec};

use crate::error::{Error, IoContext, Result};
use crate::model::container::{ContainerConfig, Status};
use crate::oci::executor::{CommandProblem, RboxExecutor, Verdict};
use crate::store::containers::{mark_exited, Containers};
use crate::store::logs::{LogWriter, Stream};
use crate::supervise::attach_server::AttachServer;
use crate::supervise::health::Prober;
pub use crate::supervise::protocol::{spawn, Attach, Report, Spawned, Started, MONITOR_VERB};
use crate::supervise::protocol::{ATTACH_ENV, SYNC_ENV};
use crate::supervise::relay::{copy_winsize, reap_all, receive_fd, Caller, Relay};
use crate::supervise::teardown::{self, delete_libcontainer_state};
use crate::{host::rootfs, oci::etc, oci::spec, oci::user, store::process};

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

/// The monitor process: runs container `id` of data root `root` until it is done for
/// good, and returns the exit code of its last run.
pub fn main(root: &Path, id: &str) -> i32 {
    let sync = std::env::var(SYNC_ENV)
        .ok()
        .and_then(|s| s.parse::<RawFd>().ok())
        // SAFETY: the fd was left open across exec for us by `spawn`, and is ours alone.
        .map(|fd| unsafe { File::from_raw_fd(fd) });
    let caller = std::env::var(ATTACH_ENV)
        .ok()
        .and_then(|s| Attach::decode(&s))
        .map(|(a, fd)| {
            // SAFETY: the fd was left open across exec for us by `spawn`, and is ours alone.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // Nothing the monitor starts may hold it: its caller learns of a detach on it.
            let _ = rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC);
            Caller::attached(a, fd)
        });
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
        caller,
        network: None,
    };
    m.run()
}

fn report_failure(sync: Option<File>, e: &Error) -> i32 {
    let code = e.run_exit_code();
    if let Some(mut s) = sync {
        Started::Failed(code, e.to_string()).send(&mut s);
    }
    code as i32
}

struct Monitor {
    containers: Containers,
    id: String,
    sync: Option<File>,
    /// The attached caller (`rbox run` in the foreground), until it detaches.
    caller: Option<Caller>,
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

    /// Makes this process (`me`) the container's monitor, unless another live one is
    /// (its pid): under the container's lock, so that of two commands starting it at once
    /// (a killed `compose up` and the next) exactly one monitor runs it.
    fn claim(&self, me: i32) -> Result<Option<i32>> {
        let _l = self.containers.lock(&self.id)?;
        let mut s = self.containers.read_state(&self.id)?;
        if s.monitor_pid > 0
            && s.monitor_pid != me
            && process::alive(s.monitor_pid, s.monitor_start)
        {
            return Ok(Some(s.monitor_pid));
        }
        s.monitor_pid = me;
        s.monitor_start = process::start_time(me).unwrap_or(0);
        s.stopped_by_user = false;
        s.error.clear();
        self.containers.write_state(&self.id, &s)?;
        Ok(None)
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
        let mut config = match self.containers.read_config(&self.id) {
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
        match self.claim(me) {
            Ok(None) => {}
            Ok(Some(other)) => {
                // Another command's monitor is starting it: nothing here is ours to touch.
                if let Some(mut s) = self.sync.take() {
                    Report::Busy(other).send(&mut s);
                }
                return 125;
            }
            Err(e) => return report_failure(self.sync.take(), &e),
        }
        let mark = self
            .containers
            .dir(&self.id)
            .join(crate::store::containers::RAN_MARK);
        if !mark.exists() {
            let _ = File::create(mark);
        }

        let mut backoff = Duration::from_millis(100);
        let code = loop {
            let started_at = Instant::now();
            let exit = match self.run_once(&config, &sigfd) {
                Ok(exit) => {
                    // The name may have changed meanwhile (rename).
                    if let Ok(c) = self.containers.read_config(&self.id) {
                        config = c;
                    }
                    let root = self.containers.root();
                    if exit.oom_killed {
                        crate::store::events::container(root, &config, "oom", &[]);
                    }
                    let code = ("exitCode", exit.code.to_string());
                    crate::store::events::container(root, &config, "die", &[code]);
                    exit
                }
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
            // `update` may have changed the policy and limits since this run started.
            if let Ok(c) = self.containers.read_config(&self.id) {
                config = c;
            }
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
        crate::store::events::container(self.containers.root(), config, "destroy", &[]);
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
        let mut user = user::resolve(&config.config.user, &passwd, &group)?;
        for g in &config.host.group_add {
            let id = user::group_id(g, &group)?;
            if id != user.gid && !user.additional_gids.contains(&id) {
                user.additional_gids.push(id);
            }
        }
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
        let joined = crate::host::shared::joined(&self.containers, config)?;
        crate::host::shared::copy_owner_files(&self.containers, config, &run)?;
        let args = spec::process_args(config)?;
        let init = config.host.init.then(etc::init_binary).transpose()?;
        let mounts = self.prepare_volumes(config, &rootfs_dir)?;
        let files = spec::EtcFiles {
            dir: &run,
            init: init.as_deref(),
            mounts: &mounts,
            netns: self.network.as_ref().map(|n| n.netns.as_path()),
            joined: &joined,
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
        let (verdict, verdict_fd) = Verdict::pipe()?;
        let mut builder = ContainerBuilder::new(self.id.clone(), SyscallType::Linux)
            .with_root_path(&run_dir)
            .map_err(runtime_error)?
            .with_executor(RboxExecutor {
                verdict: Some(verdict_fd),
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
            // `-i`: input through a pipe the monitor holds, from the attached caller or
            // from `rbox attach` clients.
            let stdin: OwnedFd = if config.config.open_stdin {
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
            .map_err(|e| start_error(e, &args[0], &verdict))?;
        let mut master: Option<OwnedFd> = None;
        if let Some(listener) = &console {
            master = Some(receive_fd(listener).at(run.join("console.sock"))?);
            let _ = fs::remove_file(run.join("console.sock"));
        }
        container
            .start()
            .map_err(|e| start_error(e, &args[0], &verdict))?;
        tracing::debug!("container started");
        let pid = container.pid().map(|p| p.as_raw()).unwrap_or(0);
        let now = crate::now();
        let ports = self
            .network
            .as_ref()
            .map(|n| n.ports.clone())
            .unwrap_or_default();
        let state = self.containers.update_state(&self.id, |s| {
            s.ports = ports;
            s.status = Status::Running;
            s.pid = pid;
            s.pid_start = process::start_time(pid).unwrap_or(0);
            s.started_at = Some(now);
            s.exit_code = 0;
            s.oom_killed = false;
            s.finished_at = None;
        })?;
        // A container that comes back after a reboot (`system boot`) has it on disk that it
        // ran and was not stopped by the user; the others keep their starts on the tmpfs.
        if matches!(
            config.host.restart_policy.name.as_str(),
            "always" | "unless-stopped"
        ) {
            self.containers.persist_state(&self.id, &state)?;
        }
        // Containers sharing a user-defined network learn the new one's name.
        crate::host::net::refresh_peers(&self.containers, config);
        crate::store::events::container(self.containers.root(), config, "start", &[]);
        if let Some(mut s) = self.sync.take() {
            Started::Running(pid).send(&mut s);
        }
        // Startup memory is given back after the first quiet spell (Relay::run), not now:
        // reading smaps would delay noticing a container that exits at once.
        if let Some(m) = &master {
            outputs.push((m.try_clone()?, Stream::Stdout));
            if self.caller.is_some() {
                copy_winsize(io::stdin().as_fd(), m.as_fd());
            }
        }
        let attached = self.caller.is_some();
        let mut relay = Relay {
            log: Some(log),
            caller: self.caller.take(),
            stdin_to: master.filter(|_| config.config.open_stdin).or(stdin_pipe),
            health: config
                .config
                .healthcheck
                .clone()
                .map(|h| Prober::new(&self.containers, &self.id, h)),
            deadline: None,
            attach: if attached {
                None
            } else {
                Some(AttachServer::bind().at(run.join(crate::supervise::attach_server::SOCKET))?)
            },
        };
        let code = relay.run(pid, outputs, sigfd);
        // A caller that detached stays detached for the runs a restart policy makes.
        self.caller = relay.caller.take();
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
    // Anything but a directory (a file, a socket) is mounted on a file.
    let file_source = fs::metadata(source).is_ok_and(|m| !m.is_dir());
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

/// A failure of the OCI runtime while setting up, kept as the error's source.
pub(crate) fn runtime_error(e: libcontainer::error::LibcontainerError) -> Error {
    Error::Oci {
        what: "the OCI runtime",
        source: Box::new(e),
    }
}

/// Turns a libcontainer start failure into the error `run` reports: the executor's
/// verdict on the command, else the runtime's error.
pub(crate) fn start_error(
    e: libcontainer::error::LibcontainerError,
    command: &str,
    verdict: &Verdict,
) -> Error {
    match verdict.problem() {
        Some(CommandProblem::NotFound) => Error::CommandNotFound(command.to_owned()),
        Some(CommandProblem::NotExecutable) => Error::CommandNotExecutable(command.to_owned()),
        None => Error::Oci {
            what: "starting the container failed",
            source: Box::new(e),
        },
    }
}

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
