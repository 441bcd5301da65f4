//! Log lines as runc writes them: to `--log` (or stderr), as text or as JSON lines
//! (`{"level":"error","msg":"…","time":"…"}`, which containerd's shim reads back for the
//! reason of a failure). A command's error also goes to stderr, as runc prints it.

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

use crate::cli::{Cli, LogFormat};

#[derive(Clone)]
pub struct Logger {
    /// The --log file; stderr when there is none.
    file: Option<Arc<Mutex<File>>>,
    json: bool,
    max: Level,
}

impl Logger {
    /// Opens `--log` (appending, close-on-exec: the container never inherits it) and
    /// installs the logger as the global tracing subscriber.
    pub fn init(cli: &Cli) -> std::io::Result<Logger> {
        let file = match &cli.log {
            Some(p) => Some(Arc::new(Mutex::new(
                File::options().create(true).append(true).open(p)?,
            ))),
            None => None,
        };
        let logger = Logger {
            file,
            json: cli.log_format == LogFormat::Json,
            max: if cli.debug {
                Level::DEBUG
            } else {
                Level::ERROR
            },
        };
        let sub = tracing_subscriber::registry().with(logger.clone());
        let _ = tracing::subscriber::set_global_default(sub);
        Ok(logger)
    }

    /// One log line.
    pub fn line(&self, level: &Level, msg: &str) {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let level = level.as_str().to_ascii_lowercase();
        let text = if self.json {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
        } else {
            format!("time={time:?} level={level} msg={msg:?}")
        };
        match &self.file {
            Some(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = writeln!(f, "{text}");
                }
            }
            None => eprintln!("{text}"),
        }
    }

    /// A command's error: a log line, and the bare message on stderr (once, when the log
    /// is stderr).
    pub fn error(&self, msg: &str) {
        if self.file.is_some() {
            self.line(&Level::ERROR, msg);
        }
        eprintln!("{msg}");
    }
}

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let v = format!("{value:?}");
            self.0 = if self.0.is_empty() {
                v
            } else {
                format!("{v} {}", self.0)
            };
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(&format!("{}={value:?}", field.name()));
        }
    }
}

impl<S: Subscriber> Layer<S> for Logger {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        *meta.level() <= self.max
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut m = Message::default();
        event.record(&mut m);
        self.line(event.metadata().level(), &m.0);
    }
}
