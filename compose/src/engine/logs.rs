//! The output of the project's containers: `logs` and the foreground `up`, each line
//! prefixed with its container (`web-1  | …`), coloured on a terminal as compose does.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rbox_runtime::ops::logs::{stream, Query};
use rbox_runtime::store::logs::Record;

use super::{Engine, Member, Result};

/// How lines are shown.
#[derive(Debug, Clone, Default)]
pub struct LogStyle {
    pub prefix: bool,
    pub colour: bool,
    pub timestamps: bool,
}

/// Compose's colours, in the order services get them.
const COLOURS: [&str; 12] = [
    "36", "33", "32", "35", "34", "96", "93", "92", "95", "94", "91", "31",
];

/// A container's name without its project's prefix, as compose shows it (`web-1`).
pub fn short_name(project: &str, name: &str) -> String {
    name.strip_prefix(&format!("{project}-"))
        .unwrap_or(name)
        .to_string()
}

struct Prefixes {
    by_id: Vec<(String, String)>,
}

impl Prefixes {
    fn new(project: &str, members: &[Member], style: &LogStyle) -> Prefixes {
        let width = members
            .iter()
            .map(|m| short_name(project, m.name()).len())
            .max()
            .unwrap_or(0);
        let by_id = members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let p = if style.prefix {
                    let n = short_name(project, m.name());
                    let text = format!("{n:width$}  | ");
                    if style.colour {
                        format!("\x1b[{}m{text}\x1b[0m", COLOURS[i % COLOURS.len()])
                    } else {
                        text
                    }
                } else {
                    String::new()
                };
                (m.id().to_string(), p)
            })
            .collect();
        Prefixes { by_id }
    }

    fn of(&self, id: &str) -> &str {
        self.by_id
            .iter()
            .find(|(i, _)| i == id)
            .map_or("", |(_, p)| p.as_str())
    }
}

fn line(prefix: &str, r: &Record, style: &LogStyle) -> String {
    let text = r.log.strip_suffix('\n').unwrap_or(&r.log);
    if style.timestamps {
        format!("{prefix}{} {text}\n", r.time)
    } else {
        format!("{prefix}{text}\n")
    }
}

impl Engine<'_> {
    /// Shows the logs of `members`: without `follow`, every container's kept lines merged
    /// by time; with it, then each new line as it comes until every container stopped
    /// (or `stop` is set).
    pub fn logs(
        &self,
        members: &[Member],
        query: &Query,
        style: &LogStyle,
        out: &Mutex<Box<dyn Write + Send + '_>>,
        stop: Option<&AtomicBool>,
    ) -> Result<()> {
        let prefixes = Prefixes::new(&self.project.name, members, style);
        if !query.follow {
            let mut all: Vec<(String, String)> = Vec::new();
            for m in members {
                let p = prefixes.of(m.id());
                stream(&self.containers, m.id(), query, |r| {
                    all.push((r.time.clone(), line(p, r, style)));
                    Ok(())
                })?;
            }
            all.sort_by(|a, b| a.0.cmp(&b.0));
            let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
            for (_, l) in all {
                o.write_all(l.as_bytes())
                    .map_err(rbox_runtime::Error::PlainIo)?;
            }
            return Ok(());
        }
        std::thread::scope(|s| {
            for m in members {
                let p = prefixes.of(m.id()).to_string();
                s.spawn(move || {
                    let _ = stream(&self.containers, m.id(), query, |r| {
                        if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                            return Err(std::io::Error::other("stopped"));
                        }
                        let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
                        o.write_all(line(&p, r, style).as_bytes())?;
                        o.flush()
                    });
                });
            }
        });
        Ok(())
    }
}

/// Set by SIGINT and SIGTERM while a foreground `up` runs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// What ends a foreground `up`.
#[derive(Debug, Clone, Default)]
pub struct Foreground {
    pub abort_on_container_exit: bool,
    /// `--exit-code-from SERVICE` (implies abort on exit).
    pub exit_code_from: Option<String>,
    pub timeout: Option<u32>,
    pub style: LogStyle,
}

impl Engine<'_> {
    /// The foreground part of `up`: every attached container's output until they all
    /// stopped, one exited (with `--abort-on-container-exit`) or Ctrl-C, which stops the
    /// project's containers. Returns the exit code.
    pub fn foreground(&self, services: &[String], f: &Foreground) -> Result<i32> {
        let members: Vec<Member> = self
            .service_members(services)?
            .into_iter()
            .filter(|m| {
                self.project
                    .services
                    .get(&m.service)
                    .is_none_or(|s| s.attach != Some(false))
            })
            .collect();
        use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::empty(),
            SigSet::empty(),
        );
        // SAFETY: the handler only stores to an atomic.
        unsafe {
            let _ = sigaction(Signal::SIGINT, &action);
            let _ = sigaction(Signal::SIGTERM, &action);
        }
        let out: Mutex<Box<dyn Write + Send>> = Mutex::new(Box::new(std::io::stdout()));
        let abort = f.abort_on_container_exit || f.exit_code_from.is_some();
        let query = Query {
            follow: true,
            ..Default::default()
        };
        let mut code = 0;
        std::thread::scope(|s| -> Result<()> {
            // The followers end as their containers stop, their last lines shown.
            let followers = s.spawn(|| self.logs(&members, &query, &f.style, &out, None));
            let mut exited: Option<Member> = None;
            loop {
                std::thread::sleep(Duration::from_millis(100));
                if INTERRUPTED.load(Ordering::SeqCst) {
                    self.note("Gracefully stopping... (press Ctrl+C again to force)");
                    code = 130;
                    break;
                }
                let now = self.service_members(services)?;
                let running = now.iter().filter(|m| m.running()).count();
                if abort {
                    if let Some(m) = now
                        .iter()
                        .find(|m| !m.running() && members.iter().any(|x| x.id() == m.id()))
                    {
                        exited = Some(m.clone());
                        break;
                    }
                }
                if running == 0 {
                    break;
                }
            }
            if let Some(m) = &exited {
                self.note(&format!(
                    "{} exited with code {}",
                    super::logs::short_name(&self.project.name, m.name()),
                    m.container.state.exit_code
                ));
                self.note("Aborting on container exit...");
            }
            let all = self.service_members(services)?;
            self.stop_members(&all, f.timeout)?;
            let _ = followers.join();
            if code != 130 {
                code = match (&f.exit_code_from, &exited) {
                    (Some(svc), _) => self
                        .service_members(std::slice::from_ref(svc))?
                        .first()
                        .map_or(0, |m| m.container.state.exit_code),
                    (None, Some(m)) => m.container.state.exit_code,
                    (None, None) => 0,
                };
            }
            Ok(())
        })?;
        Ok(code)
    }
}
