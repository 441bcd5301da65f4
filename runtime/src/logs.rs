//! Container logs in Docker's json-file format: one JSON object a line,
//! `{"log":"text\n","stream":"stdout","time":"2026-11-22T00:00:00.000000000Z"}`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

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

/// Appends a container's output to its log, a line at a time.
pub struct LogWriter {
    file: File,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    /// Opens (creating) the log at `path` for appending.
    pub fn open(path: &Path) -> io::Result<LogWriter> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(LogWriter {
            file,
            partial: [Vec::new(), Vec::new()],
        })
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
        self.file.write_all(&json)
    }
}

/// Reads every record of a log, skipping lines that don't parse (a torn last line).
pub fn read_all(path: &Path) -> io::Result<Vec<Record>> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for line in BufReader::new(f).lines() {
        if let Ok(rec) = serde_json::from_str::<Record>(&line?) {
            out.push(rec);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_records_and_partial_lines_wait() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let mut w = LogWriter::open(&p).unwrap();
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
}
