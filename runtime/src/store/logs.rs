//! Container logs in Docker's json-file format: one JSON object a line,
//! `{"log":"text\n","stream":"stdout","time":"2026-11-22T00:00:00.000000000Z"}`, rotated
//! as Docker's `max-size`/`max-file` options say: `container.log` is the newest file,
//! `container.log.1` … `container.log.<max-file − 1>` the older ones.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::model::log_config::*;

/// Longest partial line kept before it is written without its newline.
const MAX_PARTIAL: usize = 16 * 1024;

/// Which output a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output (and a terminal's output).
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One log record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The text, with its newline if it had one.
    pub log: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// RFC 3339 with nanoseconds.
    pub time: String,
}

/// The files of a log, oldest first: `path.N` … `path.1`, `path`.
pub fn files(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for n in (1..=1000).rev() {
        let p = rotated(path, n);
        if p.exists() {
            out.push(p);
        }
    }
    out.push(path.to_owned());
    out
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Appends a container's output to its log, a line at a time.
pub struct LogWriter {
    file: File,
    path: PathBuf,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    /// Opens (creating, mode 0600) the log at `path` for appending, rotated at
    /// `max_size` bytes into at most `max_file` files.
    pub fn open(path: &Path, max_size: Option<u64>, max_file: u32) -> io::Result<LogWriter> {
        let file = open_log(path)?;
        Ok(LogWriter {
            size: file.metadata()?.len(),
            file,
            path: path.to_owned(),
            max_size,
            max_file: max_file.max(1),
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Starts a new file: the older ones move up one number, the oldest goes (with one
    /// file only, it is emptied).
    fn rotate(&mut self) -> io::Result<()> {
        if self.max_file == 1 {
            self.file.set_len(0)?;
        } else {
            let _ = fs::remove_file(rotated(&self.path, self.max_file - 1));
            for n in (1..self.max_file - 1).rev() {
                let _ = fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1));
            }
            fs::rename(&self.path, rotated(&self.path, 1))?;
            self.file = open_log(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }

    /// Records output; complete lines are written at once, a partial line when it ends.
    pub fn write(&mut self, stream: Stream, mut bytes: &[u8]) -> io::Result<()> {
        let i = stream as usize;
        while let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
            let mut line = std::mem::take(&mut self.partial[i]);
            line.extend_from_slice(&bytes[..=nl]);
            self.record(stream, &line)?;
            bytes = &bytes[nl + 1..];
        }
        self.partial[i].extend_from_slice(bytes);
        if self.partial[i].len() >= MAX_PARTIAL {
            let line = std::mem::take(&mut self.partial[i]);
            self.record(stream, &line)?;
        }
        Ok(())
    }

    /// Writes out partial lines (at the end of a run).
    pub fn flush_partial(&mut self) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let line = std::mem::take(&mut self.partial[stream as usize]);
            if !line.is_empty() {
                self.record(stream, &line)?;
            }
        }
        Ok(())
    }

    fn record(&mut self, stream: Stream, line: &[u8]) -> io::Result<()> {
        let rec = Record {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: stream.name().into(),
            time: crate::now(),
        };
        let mut json = serde_json::to_vec(&rec).expect("a log record serializes");
        json.push(b'\n');
        if self
            .max_size
            .is_some_and(|m| self.size > 0 && self.size + json.len() as u64 > m)
        {
            self.rotate()?;
        }
        self.size += json.len() as u64;
        self.file.write_all(&json)
    }
}

fn open_log(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Reads every record of a log and its rotated files, oldest first, skipping lines that
/// don't parse (a torn last line).
pub fn read_all(path: &Path) -> io::Result<Vec<Record>> {
    let mut out = Vec::new();
    for p in files(path) {
        let f = match File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for line in BufReader::new(f).lines() {
            if let Ok(rec) = serde_json::from_str::<Record>(&line?) {
                out.push(rec);
            }
        }
    }
    Ok(out)
}

/// Reads a file of JSON lines as it grows and rotates (`logs`, `logs -f`, and the events
/// journal, whose lines are `T`): the first call returns every record kept, oldest first,
/// each later one the records written since, whole lines only.
pub struct Follower<T = Record> {
    path: PathBuf,
    older: Vec<PathBuf>,
    file: Option<(File, u64)>,
    offset: u64,
    pending: Vec<u8>,
    lines: std::marker::PhantomData<T>,
}

impl<T: serde::de::DeserializeOwned> Follower<T> {
    /// Follows `path` from its oldest kept record.
    pub fn new(path: &Path) -> Follower<T> {
        // The current file is opened first: a rotation meanwhile moves it to `.1`, which
        // is then read as it was (the same open file), never twice.
        let file = File::open(path).ok().and_then(|f| {
            let ino = f.metadata().ok()?.ino();
            Some((f, ino))
        });
        let current = file.as_ref().map(|(_, ino)| *ino);
        let mut older = files(path);
        older.pop();
        older.retain(|p| fs::metadata(p).ok().map(|m| m.ino()) != current);
        Follower {
            path: path.to_owned(),
            older,
            file,
            offset: 0,
            pending: Vec::new(),
            lines: std::marker::PhantomData,
        }
    }

    /// The records written since the last call.
    pub fn poll(&mut self) -> io::Result<Vec<T>> {
        let mut out = Vec::new();
        for p in std::mem::take(&mut self.older) {
            if let Ok(f) = File::open(&p) {
                for line in BufReader::new(f).lines() {
                    if let Ok(rec) = serde_json::from_str::<T>(&line?) {
                        out.push(rec);
                    }
                }
            }
        }
        loop {
            self.drain(&mut out)?;
            // Rotated (or made) since: what the old file got until then is read to its
            // end, then the new one from its start.
            let now = fs::metadata(&self.path).ok().map(|m| m.ino());
            let current = self.file.as_ref().map(|(_, ino)| *ino);
            match now {
                Some(ino) if Some(ino) != current => {
                    self.drain(&mut out)?;
                    self.file = File::open(&self.path).ok().map(|f| (f, ino));
                    self.offset = 0;
                    self.pending.clear();
                }
                _ => return Ok(out),
            }
        }
    }

    fn drain(&mut self, out: &mut Vec<T>) -> io::Result<()> {
        let Some((f, _)) = &mut self.file else {
            return Ok(());
        };
        f.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        io::Read::read_to_end(f, &mut buf)?;
        self.offset += buf.len() as u64;
        self.pending.extend_from_slice(&buf);
        while let Some(nl) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=nl).collect();
            if let Ok(rec) = serde_json::from_slice::<T>(&line) {
                out.push(rec);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_records_and_partial_lines_wait() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let mut w = LogWriter::open(&p, None, 1).unwrap();
        w.write(Stream::Stdout, b"hel").unwrap();
        w.write(Stream::Stderr, b"oops\n").unwrap();
        w.write(Stream::Stdout, b"lo\nwor").unwrap();
        w.flush_partial().unwrap();
        let recs = read_all(&p).unwrap();
        let got: Vec<(&str, &str)> = recs
            .iter()
            .map(|r| (r.stream.as_str(), r.log.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("stderr", "oops\n"),
                ("stdout", "hello\n"),
                ("stdout", "wor")
            ]
        );
        assert!(recs[0].time.ends_with('Z'));
    }

    #[test]
    fn logs_rotate_at_their_size_and_are_read_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let mut w = LogWriter::open(&p, Some(1000), 3).unwrap();
        let mut follow: Follower = Follower::new(&p);
        let mut followed = 0;
        for i in 0..100 {
            w.write(Stream::Stdout, format!("line {i:03}\n").as_bytes())
                .unwrap();
            if i % 7 == 0 {
                followed += follow.poll().unwrap().len();
            }
        }
        followed += follow.poll().unwrap().len();
        assert_eq!(
            followed, 100,
            "the follower saw every line across rotations"
        );
        assert!(files(&p).len() == 3 && !rotated(&p, 3).exists());
        for f in files(&p) {
            assert!(fs::metadata(&f).unwrap().len() <= 1000);
            assert_eq!(fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
        }
        let recs = read_all(&p).unwrap();
        // What is kept is the newest, in order.
        assert_eq!(recs.last().unwrap().log, "line 099\n");
        let n: Vec<u32> = recs.iter().map(|r| r.log[5..8].parse().unwrap()).collect();
        assert!(n.windows(2).all(|w| w[1] == w[0] + 1) && n.len() < 100);
    }
}
