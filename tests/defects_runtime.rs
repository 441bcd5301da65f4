//! Defects a Docker user hits on day one, runtime side: each test is the command as typed.

mod harness;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::busybox;

/// A terminal for the test: the master side, read by a thread into `out`.
struct Terminal {
    master: std::fs::File,
    slave: std::fs::File,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Terminal {
    fn new(rows: u16, cols: u16) -> Terminal {
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let p = nix::pty::openpty(Some(&ws), None).unwrap();
        let master = std::fs::File::from(p.master);
        let out = Arc::new(Mutex::new(Vec::new()));
        let fd = nix::unistd::dup(master.as_raw_fd()).unwrap();
        let sink = out.clone();
        std::thread::spawn(move || {
            // SAFETY: `fd` is a fresh dup owned by this thread.
            let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
            let mut buf = [0u8; 4096];
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal {
            master,
            slave: std::fs::File::from(p.slave),
            out,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Waits until the terminal has shown `needle`.
    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.text().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the terminal never showed {needle:?}:\n{}", self.text());
    }

    fn type_in(&mut self, keys: &[u8]) {
        self.master.write_all(keys).unwrap();
    }

    fn resize(&self, rows: u16, cols: u16) {
        let ws = nix::libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer given.
        let r = unsafe { nix::libc::ioctl(self.slave.as_raw_fd(), nix::libc::TIOCSWINSZ, &ws) };
        assert_eq!(r, 0);
    }
}

fn wait_exit(child: &mut std::process::Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command never ended");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn exec_it_is_a_real_terminal_with_size_resize_ctrl_c_ctrl_d_and_the_exit_code() {
    let t = busybox();
    // Started as docker users do: -d, and -dit.
    t.ok(["run", "-d", "--name", "plain", "busybox", "sleep", "300"]);
    t.ok(["run", "-dit", "--name", "tty", "busybox", "sh"]);
    for name in ["plain", "tty"] {
        let mut term = Terminal::new(30, 90);
        let mut child = t
            .cmd(["exec", "-it", name, "sh"])
            .stdin(term.slave.try_clone().unwrap())
            .stdout(term.slave.try_clone().unwrap())
            .stderr(term.slave.try_clone().unwrap())
            .spawn()
            .unwrap();
        term.type_in(b"tty; echo TERM=$TERM; stty -F $(tty) size\n");
        term.wait_for("/dev/pts/");
        term.wait_for("TERM=xterm");
        term.wait_for("30 90");
        // The window changes: the terminal in the container follows.
        term.resize(40, 120);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGWINCH,
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        term.type_in(b"stty -F $(tty) size\n");
        term.wait_for("40 120");
        // ctrl-c interrupts the command in the container, not exec.
        term.type_in(b"sleep 30\n");
        std::thread::sleep(Duration::from_millis(500));
        let typed = Instant::now();
        term.type_in(b"\x03");
        term.type_in(b"echo after=$?\n");
        term.wait_for("after=130");
        assert!(typed.elapsed() < Duration::from_secs(10));
        assert!(child.try_wait().unwrap().is_none(), "ctrl-c ended exec");
        // ctrl-d at the prompt ends the shell, and exec with it.
        term.type_in(b"(exit 3)\n");
        std::thread::sleep(Duration::from_millis(200));
        term.type_in(b"\x04");
        assert_eq!(wait_exit(&mut child), 3, "{}", term.text());
        assert!(!term.text().contains('\0'), "a NUL reached the terminal");
    }
    // -t alone: a terminal without input; the command's exit code.
    let term = Terminal::new(24, 80);
    let mut child = t
        .cmd(["exec", "-t", "plain", "sh", "-c", "tty; exit 7"])
        .stdin(std::process::Stdio::null())
        .stdout(term.slave.try_clone().unwrap())
        .stderr(term.slave.try_clone().unwrap())
        .spawn()
        .unwrap();
    assert_eq!(wait_exit(&mut child), 7);
    term.wait_for("/dev/pts/");
    t.ok(["rm", "-f", "plain", "tty"]);
}

#[test]
fn volume_modes_from_docker_for_mac_and_selinux_are_accepted() {
    let t = busybox();
    let dir = tempfile::tempdir().unwrap();
    harness::write_file(dir.path(), "f", b"content\n");
    for mode in ["cached", "delegated", "consistent", "z", "Z", "ro,cached"] {
        let spec = format!("{}:/code:{mode}", dir.path().display());
        assert_eq!(
            t.ok(["run", "--rm", "-v", &spec, "busybox", "cat", "/code/f"]),
            "content\n",
            "-v …:{mode}"
        );
    }
    // ro still means read-only, whatever comes with it.
    let spec = format!("{}:/code:ro,cached", dir.path().display());
    let r = t.run(["run", "--rm", "-v", &spec, "busybox", "touch", "/code/g"]);
    assert_ne!(r.code, 0);
    let (code, err) = t.fails(["run", "--rm", "-v", "/tmp:/x:sideways", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("sideways") && err.contains("--volume"),
        "{err}"
    );
}

#[test]
fn a_missing_command_or_user_is_told_as_docker_tells_it() {
    let t = busybox();
    let r = t.run(["run", "--rm", "busybox", "/nonexistent"]);
    assert_eq!(r.code, 127);
    assert!(
        r.stderr
            .contains("exec: \"/nonexistent\": stat /nonexistent: no such file or directory"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("$PATH"), "{}", r.stderr);
    let r = t.run(["run", "--rm", "busybox", "nonexistent"]);
    assert_eq!(r.code, 127);
    assert!(
        r.stderr.contains("executable file not found in $PATH"),
        "{}",
        r.stderr
    );
    let r = t.run(["run", "--rm", "-u", "nosuchuser", "busybox", "true"]);
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(
        r.stderr.contains("unable to find user nosuchuser"),
        "{}",
        r.stderr
    );
    assert!(t.container_ids().is_empty());
}
