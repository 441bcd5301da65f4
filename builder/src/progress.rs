//! A build's steps as they happen ([`Event`]s, given to a [`Watch`]), and [`TtyView`]: the
//! live view BuildKit's `--progress tty` draws on a terminal. Each step is a line with its
//! timer; the running steps show their last lines of output below them, collapsed when
//! they end; a failed step's output is printed in full after the view.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What happens to a step of a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'e> {
    /// A step begins: its number over the whole build (from 1), and its name as BuildKit
    /// shows it (`[2/3] RUN make`, `[build 1/2] FROM busybox`).
    Step {
        /// The step's number.
        id: usize,
        /// Its name.
        name: &'e str,
    },
    /// The step's layer was taken from the cache: it doesn't run.
    Cached {
        /// The step's number.
        id: usize,
    },
    /// Output of the step (a RUN's, or what the build says of the step).
    Output {
        /// The step's number.
        id: usize,
        /// The bytes, not necessarily whole lines.
        text: &'e [u8],
    },
    /// The step ended well.
    Done {
        /// The step's number.
        id: usize,
    },
}

/// Who is told of a build's steps (from the threads of its stages).
pub trait Watch: Sync {
    /// Takes one event.
    fn event(&self, e: Event<'_>);
}

/// Lines of output a running step shows under its own (BuildKit's six).
const SHOWN_LINES: usize = 6;
/// Lines of a failed step's output printed after the view.
const FAILED_LINES: usize = 10;
/// How often the timers are redrawn.
const TICK: Duration = Duration::from_millis(100);

struct StepView {
    id: usize,
    name: String,
    begun: Instant,
    ended: Option<Duration>,
    cached: bool,
    /// The last lines of output, and the line being written.
    lines: VecDeque<String>,
    partial: Vec<u8>,
}

struct State {
    out: Box<dyn Write + Send>,
    begun: Instant,
    steps: Vec<StepView>,
    /// Lines of the frame on the terminal now.
    drawn: usize,
    /// The terminal's size: columns and rows.
    size: Box<dyn Fn() -> (usize, usize) + Send>,
    finished: bool,
}

/// The live view of a build on a terminal.
pub struct TtyView {
    state: Arc<Mutex<State>>,
    stop: Option<Sender<()>>,
    ticker: Option<JoinHandle<()>>,
}

impl TtyView {
    /// Starts the view on `out` (a terminal), whose size `size` tells (columns, rows); it
    /// draws nothing until the first step begins.
    pub fn start(
        out: Box<dyn Write + Send>,
        size: Box<dyn Fn() -> (usize, usize) + Send>,
    ) -> TtyView {
        let state = Arc::new(Mutex::new(State {
            out,
            begun: Instant::now(),
            steps: Vec::new(),
            drawn: 0,
            size,
            finished: false,
        }));
        let (stop, stopped) = channel::<()>();
        let s = state.clone();
        let ticker = std::thread::spawn(move || loop {
            match stopped.recv_timeout(TICK) {
                Err(RecvTimeoutError::Timeout) => lock(&s).draw(),
                _ => return,
            }
        });
        TtyView {
            state,
            stop: Some(stop),
            ticker: Some(ticker),
        }
    }

    /// Stops the timers and draws the last frame: every step with its time, the header
    /// `FINISHED` when `ok`; otherwise the steps that didn't end are marked `ERROR` and
    /// their last lines of output printed below the view.
    pub fn finish(mut self, ok: bool) {
        self.stop_ticker();
        let mut s = lock(&self.state);
        let now = Instant::now();
        for st in &mut s.steps {
            st.flush_partial();
            if st.ended.is_none() && ok {
                st.ended = Some(now - st.begun);
            }
        }
        s.finished = true;
        s.draw();
        if !ok {
            let mut text = String::new();
            for st in s.steps.iter().filter(|st| st.ended.is_none()) {
                text.push_str("------\n");
                text.push_str(&format!(" > {}:\n", st.name));
                let skip = st.lines.len().saturating_sub(FAILED_LINES);
                for l in st.lines.iter().skip(skip) {
                    text.push_str(l);
                    text.push('\n');
                }
                text.push_str("------\n");
            }
            let _ = s.out.write_all(text.as_bytes());
        }
        let _ = s.out.flush();
    }

    fn stop_ticker(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

impl TtyView {
    /// The view on standard error, sized as the terminal there is.
    pub fn on_stderr() -> TtyView {
        TtyView::start(
            Box::new(std::io::stderr()),
            Box::new(|| {
                rustix::termios::tcgetwinsize(std::io::stderr())
                    .map(|w| (usize::from(w.ws_col), usize::from(w.ws_row)))
                    .ok()
                    .filter(|(c, r)| *c > 0 && *r > 0)
                    .unwrap_or((80, 24))
            }),
        )
    }
}

impl Drop for TtyView {
    fn drop(&mut self) {
        self.stop_ticker();
    }
}

fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

impl Watch for TtyView {
    fn event(&self, e: Event<'_>) {
        let mut s = lock(&self.state);
        match e {
            Event::Step { id, name } => {
                s.steps.push(StepView {
                    id,
                    name: name.to_owned(),
                    begun: Instant::now(),
                    ended: None,
                    cached: false,
                    lines: VecDeque::new(),
                    partial: Vec::new(),
                });
            }
            Event::Cached { id } => {
                if let Some(st) = s.step(id) {
                    st.cached = true;
                }
            }
            Event::Output { id, text } => {
                if let Some(st) = s.step(id) {
                    st.output(text);
                }
            }
            Event::Done { id } => {
                if let Some(st) = s.step(id) {
                    st.flush_partial();
                    st.ended = Some(st.begun.elapsed());
                }
            }
        }
        s.draw();
    }
}

impl StepView {
    fn output(&mut self, text: &[u8]) {
        self.partial.extend_from_slice(text);
        while let Some(n) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=n).collect();
            self.push_line(&line[..line.len() - 1]);
        }
    }

    fn flush_partial(&mut self) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.push_line(&line);
        }
    }

    fn push_line(&mut self, line: &[u8]) {
        // What a line redraws over itself (a progress bar's `\r`) shows its last state.
        let line = line.rsplit(|b| *b == b'\r').next().unwrap_or(line);
        let text: String = String::from_utf8_lossy(line)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        self.lines.push_back(text);
        while self.lines.len() > FAILED_LINES.max(SHOWN_LINES) {
            self.lines.pop_front();
        }
    }
}

/// `text` cut to `width` columns (characters).
fn cut(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

/// A step's line: ` => NAME` and its time at the right edge.
fn step_line(prefix: &str, name: &str, time: Duration, width: usize) -> String {
    let time = format!("{:.1}s", time.as_secs_f64());
    let left = format!(" => {prefix}{name}");
    let room = width.saturating_sub(time.len() + 1).max(1);
    let left = cut(&left, room);
    let pad = width
        .saturating_sub(left.chars().count() + time.len())
        .max(1);
    format!("{left}{}{time}", " ".repeat(pad))
}

impl State {
    fn step(&mut self, id: usize) -> Option<&mut StepView> {
        self.steps.iter_mut().find(|s| s.id == id)
    }

    /// The frame as it is now: the header, then each step, the running ones followed by
    /// their last lines of output.
    fn frame(&self) -> Vec<String> {
        let (width, rows) = (self.size)();
        let width = width.max(20);
        let done = self.steps.iter().filter(|s| s.ended.is_some()).count();
        let mut header = format!(
            "[+] Building {:.1}s ({done}/{})",
            self.begun.elapsed().as_secs_f64(),
            self.steps.len()
        );
        if self.finished && done == self.steps.len() {
            header.push_str(" FINISHED");
        }
        let mut lines = vec![cut(&header, width)];
        let mut body = Vec::new();
        for st in &self.steps {
            let (prefix, time) = match st.ended {
                Some(t) if st.cached => ("CACHED ", t),
                Some(t) => ("", t),
                None if self.finished => ("ERROR ", st.begun.elapsed()),
                None => ("", st.begun.elapsed()),
            };
            body.push(step_line(prefix, &st.name, time, width));
            if st.ended.is_none() && !self.finished {
                let skip = st.lines.len().saturating_sub(SHOWN_LINES);
                for l in st.lines.iter().skip(skip) {
                    body.push(cut(&format!(" => => # {l}"), width));
                }
            }
        }
        // On a small terminal, the newest lines.
        let room = rows.max(3) - 1;
        if !self.finished && body.len() > room {
            body.drain(..body.len() - room);
        }
        lines.extend(body);
        lines
    }

    /// Draws the frame over the one on the terminal.
    fn draw(&mut self) {
        if self.steps.is_empty() {
            return;
        }
        let lines = self.frame();
        let mut text = String::new();
        if self.drawn > 0 {
            text.push_str(&format!("\x1b[{}A", self.drawn));
        }
        for l in &lines {
            text.push('\r');
            text.push_str(l);
            text.push_str("\x1b[K\n");
        }
        // A frame shorter than the last: the lines below it are cleared.
        let extra = self.drawn.saturating_sub(lines.len());
        for _ in 0..extra {
            text.push_str("\r\x1b[K\n");
        }
        if extra > 0 {
            text.push_str(&format!("\x1b[{extra}A"));
        }
        self.drawn = lines.len();
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Screen(Arc<Mutex<Vec<u8>>>);

    impl Write for Screen {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn last_frame(screen: &Screen) -> String {
        let text = String::from_utf8(screen.0.lock().unwrap().clone()).unwrap();
        let at = text.rfind("[+] Building").unwrap();
        text[at..].to_owned()
    }

    #[test]
    fn running_steps_show_their_last_lines_and_collapse_when_done() {
        let screen = Screen::default();
        let view = TtyView::start(Box::new(screen.clone()), Box::new(|| (60, 40)));
        view.event(Event::Step {
            id: 1,
            name: "[1/2] FROM busybox",
        });
        view.event(Event::Done { id: 1 });
        view.event(Event::Step {
            id: 2,
            name: "[2/2] RUN make",
        });
        for i in 0..8 {
            view.event(Event::Output {
                id: 2,
                text: format!("line {i}\n").as_bytes(),
            });
        }
        let frame = last_frame(&screen);
        assert!(frame.contains(" => => # line 7"), "{frame:?}");
        assert!(frame.contains(" => => # line 2"), "{frame:?}");
        assert!(!frame.contains("# line 1"), "only six lines: {frame:?}");
        assert!(frame.contains("(1/2)"), "{frame:?}");
        view.event(Event::Done { id: 2 });
        let frame = last_frame(&screen);
        assert!(!frame.contains("# line"), "collapsed: {frame:?}");
        view.finish(true);
        let frame = last_frame(&screen);
        assert!(
            frame.starts_with("[+] Building") && frame.contains("(2/2) FINISHED"),
            "{frame:?}"
        );
        let step = frame
            .lines()
            .find(|l| l.contains("RUN make"))
            .unwrap()
            .replace("\x1b[K", "");
        assert!(
            step.trim_start_matches('\r')
                .starts_with(" => [2/2] RUN make"),
            "{step:?}"
        );
        assert!(
            step.ends_with('s') && step.chars().count() == 61,
            "{step:?}"
        );
    }

    #[test]
    fn a_failed_step_is_marked_and_its_output_printed() {
        let screen = Screen::default();
        let view = TtyView::start(Box::new(screen.clone()), Box::new(|| (80, 24)));
        view.event(Event::Step {
            id: 1,
            name: "[1/2] FROM busybox",
        });
        view.event(Event::Done { id: 1 });
        view.event(Event::Step {
            id: 2,
            name: "[2/2] RUN false",
        });
        view.event(Event::Cached { id: 1 });
        view.event(Event::Output {
            id: 2,
            text: b"it went wrong",
        });
        view.finish(false);
        let frame = last_frame(&screen);
        assert!(frame.contains(" => ERROR [2/2] RUN false"), "{frame:?}");
        assert!(frame.contains(" => CACHED [1/2] FROM busybox"), "{frame:?}");
        assert!(!frame.contains("FINISHED"), "{frame:?}");
        assert!(
            frame.contains(" > [2/2] RUN false:\nit went wrong\n------"),
            "{frame:?}"
        );
    }
}
