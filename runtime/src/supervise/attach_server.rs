//! The monitor's end of `rbox attach`: a socket in the container's runtime directory
//! (`attach.sock`) on which any number of clients get the container's output as it comes
//! and send it input and terminal sizes, while the monitor keeps the only copy of the
//! container's stdio. Frames both ways are a kind byte, a big-endian u32 length and the
//! bytes: output is `1` (stdout) or `2` (stderr); input is `0` (data) or `3` (a terminal
//! size: rows and columns as two big-endian u16).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use crate::store::logs::Stream;

/// The socket's name in the runtime directory.
pub const SOCKET: &str = "attach.sock";

/// Frame kinds.
pub const STDIN: u8 = 0;
/// Standard output.
pub const STDOUT: u8 = 1;
/// Standard error.
pub const STDERR: u8 = 2;
/// A terminal size.
pub const RESIZE: u8 = 3;

/// The longest frame a client may send.
const MAX_FRAME: usize = 1 << 20;

/// One frame: its kind and bytes.
pub fn frame(kind: u8, bytes: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(bytes.len() + 5);
    f.push(kind);
    f.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    f.extend_from_slice(bytes);
    f
}

/// Takes the whole frames at the start of `buf` off it.
pub fn frames(buf: &mut Vec<u8>) -> io::Result<Vec<(u8, Vec<u8>)>> {
    let mut out = Vec::new();
    while buf.len() >= 5 {
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "frame too long"));
        }
        if buf.len() < 5 + len {
            break;
        }
        let kind = buf[0];
        let bytes = buf[5..5 + len].to_vec();
        buf.drain(..5 + len);
        out.push((kind, bytes));
    }
    Ok(out)
}

struct Client {
    stream: UnixStream,
    pending: Vec<u8>,
}

/// The attach socket of one run.
pub(crate) struct AttachServer {
    listener: UnixListener,
    clients: Vec<Client>,
}

impl AttachServer {
    /// Listens on [`SOCKET`] in the current directory (the runtime directory: a socket's
    /// path has a length limit).
    pub(crate) fn bind() -> io::Result<AttachServer> {
        let _ = std::fs::remove_file(SOCKET);
        let listener = UnixListener::bind(SOCKET)?;
        listener.set_nonblocking(true)?;
        Ok(AttachServer {
            listener,
            clients: Vec::new(),
        })
    }

    /// What to poll: the listener first, then each client.
    pub(crate) fn fds(&self) -> Vec<BorrowedFd<'_>> {
        std::iter::once(self.listener.as_fd())
            .chain(self.clients.iter().map(|c| c.stream.as_fd()))
            .collect()
    }

    /// Handles what `ready` (one flag per [`AttachServer::fds`]) says: new clients, and
    /// the input of others, written to `stdin_to` (a terminal size to `tty`).
    pub(crate) fn serve(&mut self, ready: &[bool], stdin_to: Option<&OwnedFd>, tty: bool) {
        let mut gone = Vec::new();
        for (i, c) in self.clients.iter_mut().enumerate() {
            if !ready.get(i + 1).copied().unwrap_or(false) {
                continue;
            }
            let mut buf = [0u8; 16 * 1024];
            let n = match c.stream.read(&mut buf) {
                Ok(0) | Err(_) => {
                    gone.push(i);
                    continue;
                }
                Ok(n) => n,
            };
            c.pending.extend_from_slice(&buf[..n]);
            let Ok(fs) = frames(&mut c.pending) else {
                gone.push(i);
                continue;
            };
            for (kind, bytes) in fs {
                match (kind, stdin_to) {
                    (STDIN, Some(to)) => {
                        let _ = super::relay::write_all(to.as_fd(), &bytes);
                    }
                    (RESIZE, Some(to)) if tty && bytes.len() == 4 => {
                        let ws = rustix::termios::Winsize {
                            ws_row: u16::from_be_bytes([bytes[0], bytes[1]]),
                            ws_col: u16::from_be_bytes([bytes[2], bytes[3]]),
                            ws_xpixel: 0,
                            ws_ypixel: 0,
                        };
                        let _ = rustix::termios::tcsetwinsize(to, ws);
                    }
                    _ => {}
                }
            }
        }
        for i in gone.into_iter().rev() {
            self.clients.remove(i);
        }
        if ready.first().copied().unwrap_or(false) {
            while let Ok((stream, _)) = self.listener.accept() {
                let _ = stream.set_nonblocking(false);
                // A client that stops reading is dropped, not waited for.
                let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
                let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
                self.clients.push(Client {
                    stream,
                    pending: Vec::new(),
                });
            }
        }
    }

    /// Sends output to every client.
    pub(crate) fn broadcast(&mut self, stream: Stream, bytes: &[u8]) {
        if self.clients.is_empty() {
            return;
        }
        let kind = match stream {
            Stream::Stdout => STDOUT,
            Stream::Stderr => STDERR,
        };
        let f = frame(kind, bytes);
        self.clients.retain_mut(|c| c.stream.write_all(&f).is_ok());
    }
}

impl Drop for AttachServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(SOCKET);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_back_whole_and_in_order() {
        let mut buf = frame(STDIN, b"hello");
        buf.extend(frame(RESIZE, &[0, 24, 0, 80]));
        buf.extend(&frame(STDOUT, b"partial")[..6]);
        let got = frames(&mut buf).unwrap();
        assert_eq!(
            got,
            vec![(STDIN, b"hello".to_vec()), (RESIZE, vec![0, 24, 0, 80])]
        );
        assert_eq!(buf.len(), 6);
        let mut bad = vec![0, 0xff, 0xff, 0xff, 0xff];
        assert!(frames(&mut bad).is_err());
    }
}
