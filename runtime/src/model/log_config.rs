//! A container's log driver and options (`--log-driver`, `--log-opt`), as Docker's
//! `HostConfig.LogConfig`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The only log driver: Docker's json-file.
pub const DRIVER: &str = "json-file";
/// A log file's size when neither the container nor the root says (Docker's `local`
/// driver's default): output can't fill the disk.
pub const DEFAULT_MAX_SIZE: u64 = 20 << 20;
/// Files kept when neither the container nor the root says.
pub const DEFAULT_MAX_FILE: u32 = 5;

/// Docker's `HostConfig.LogConfig`: the driver and its options as given
/// (`--log-opt max-size=10m`), with the limits in force filled in at create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    /// Always `json-file`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `max-size`, `max-file`.
    pub config: BTreeMap<String, String>,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            kind: DRIVER.into(),
            config: BTreeMap::from([
                ("max-size".into(), "20m".into()),
                ("max-file".into(), DEFAULT_MAX_FILE.to_string()),
            ]),
        }
    }
}

impl LogConfig {
    /// The driver and options of a container: `opts` (`KEY=VALUE`, from `--log-opt`) over
    /// `defaults` (the root's), over rbox's own. An unknown driver, option or value is an
    /// error that names it.
    pub fn new(
        driver: Option<&str>,
        opts: &[String],
        defaults: &BTreeMap<String, String>,
    ) -> Result<LogConfig, String> {
        match driver {
            None | Some(DRIVER) => {}
            Some(d) => return Err(format!("--log-driver {d:?}: only {DRIVER} is supported")),
        }
        let mut c = LogConfig::default();
        let given = opts.iter().map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| format!("--log-opt {kv:?}: expected KEY=VALUE"))
        });
        let defaults = defaults.iter().map(|(k, v)| Ok((k.clone(), v.clone())));
        for kv in defaults.chain(given) {
            let (k, v) = kv?;
            c.config.insert(k, v);
        }
        c.limits()?;
        Ok(c)
    }

    /// `(max-size in bytes, max-file)`; `max-size=-1` for no limit, as Docker.
    pub fn limits(&self) -> Result<(Option<u64>, u32), String> {
        let mut size = Some(DEFAULT_MAX_SIZE);
        let mut files = DEFAULT_MAX_FILE;
        for (k, v) in &self.config {
            match k.as_str() {
                "max-size" if v == "-1" => size = None,
                "max-size" => {
                    size = Some(
                        crate::model::options::parse_bytes(v, "--log-opt max-size")
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or_else(|| format!("--log-opt max-size={v}: not a size"))?
                            as u64,
                    )
                }
                "max-file" => {
                    files = v
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("--log-opt max-file={v}: a number from 1"))?
                }
                _ => return Err(format!("unknown log opt {k:?} for the {DRIVER} log driver")),
            }
        }
        Ok((size, files))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_options_are_checked() {
        let none = BTreeMap::new();
        let c = LogConfig::new(None, &["max-size=10k".into()], &none).unwrap();
        assert_eq!(c.limits().unwrap(), (Some(10 << 10), DEFAULT_MAX_FILE));
        let root = BTreeMap::from([("max-file".to_string(), "2".to_string())]);
        let c = LogConfig::new(None, &[], &root).unwrap();
        assert_eq!(c.limits().unwrap(), (Some(DEFAULT_MAX_SIZE), 2));
        for bad in ["compress=true", "max-size=lots", "max-file=0", "nonsense"] {
            let e = LogConfig::new(None, &[bad.into()], &none).unwrap_err();
            assert!(e.contains(bad.split('=').next().unwrap()), "{e}");
        }
        assert!(LogConfig::new(Some("syslog"), &[], &none).is_err());
    }
}
