//! `healthcheck:`: the test in its forms (`["CMD", …]`, `["CMD-SHELL", "…"]`, a string,
//! `["NONE"]`) and the durations and retries around it.

use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::de::{self, err, Fields};
use crate::error::{Result, Warnings};
use crate::node::{Node, Value};
use crate::parts::{duration, ser_duration};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE", tag = "kind", content = "args")]
pub enum HealthTest {
    /// `["CMD", arg…]`: run directly.
    Cmd(Vec<String>),
    /// `["CMD-SHELL", "…"]` or a string: run by `/bin/sh -c`.
    CmdShell(String),
    /// `["NONE"]`: the image's health check disabled.
    None,
}

impl HealthTest {
    /// The compose list form (`["CMD-SHELL", "…"]`).
    pub fn to_list(&self) -> Vec<String> {
        match self {
            HealthTest::Cmd(a) => std::iter::once("CMD".to_string())
                .chain(a.iter().cloned())
                .collect(),
            HealthTest::CmdShell(s) => vec!["CMD-SHELL".into(), s.clone()],
            HealthTest::None => vec!["NONE".into()],
        }
    }
}

fn ser_test<S: Serializer>(t: &Option<HealthTest>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => t.to_list().serialize(s),
        None => s.serialize_none(),
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    #[serde(serialize_with = "ser_test", skip_serializing_if = "Option::is_none")]
    pub test: Option<HealthTest>,
    #[serde(
        serialize_with = "ser_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<Duration>,
    #[serde(
        serialize_with = "ser_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(
        serialize_with = "ser_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_period: Option<Duration>,
    #[serde(
        serialize_with = "ser_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_interval: Option<Duration>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disable: bool,
}

pub fn healthcheck(n: &Node, w: &mut Warnings) -> Result<Healthcheck> {
    let mut f = Fields::new(n, "healthcheck")?;
    let test = match f.get("test") {
        None => None,
        Some(t) => Some(match &t.value {
            Value::Seq(_) => {
                let l = de::strings(t, false)?;
                match l.first().map(String::as_str) {
                    Some("CMD") => HealthTest::Cmd(l[1..].to_vec()),
                    Some("CMD-SHELL") if l.len() == 2 => HealthTest::CmdShell(l[1].clone()),
                    Some("NONE") => HealthTest::None,
                    _ => return err(t, "healthcheck test is [\"CMD\", …], [\"CMD-SHELL\", \"command\"], [\"NONE\"] or a string"),
                }
            }
            _ => HealthTest::CmdShell(de::string(t)?),
        }),
    };
    let h = Healthcheck {
        test,
        interval: f.get("interval").map(duration).transpose()?,
        timeout: f.get("timeout").map(duration).transpose()?,
        retries: f.get("retries").map(de::int).transpose()?,
        start_period: f.get("start_period").map(duration).transpose()?,
        start_interval: f.get("start_interval").map(duration).transpose()?,
        disable: f
            .get("disable")
            .map(de::boolean)
            .transpose()?
            .unwrap_or(false),
    };
    f.finish("healthcheck", w);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn hc(text: &str) -> Result<Healthcheck> {
        let n = crate::node::parse(&Arc::from("c.yaml"), text).unwrap();
        healthcheck(n.get("h").unwrap(), &mut Warnings::default())
    }

    #[test]
    fn test_forms() {
        let t = |s: &str| hc(s).unwrap().test.unwrap();
        assert_eq!(
            t("h: {test: [CMD, curl, -f, x]}"),
            HealthTest::Cmd(vec!["curl".into(), "-f".into(), "x".into()])
        );
        assert_eq!(
            t("h: {test: [CMD-SHELL, \"curl x || exit 1\"]}"),
            HealthTest::CmdShell("curl x || exit 1".into())
        );
        assert_eq!(
            t("h: {test: curl x}"),
            HealthTest::CmdShell("curl x".into())
        );
        assert_eq!(t("h: {test: [NONE]}"), HealthTest::None);
        assert!(hc("h: {test: [curl]}").is_err());
        assert_eq!(HealthTest::Cmd(vec!["a".into()]).to_list(), ["CMD", "a"]);
    }

    #[test]
    fn timings() {
        let h = hc("h: {test: x, interval: 10s, timeout: 1s, retries: 3, start_period: 1m, start_interval: 500ms, disable: false}").unwrap();
        assert_eq!(h.interval, Some(Duration::from_secs(10)));
        assert_eq!(h.start_period, Some(Duration::from_secs(60)));
        assert_eq!(h.start_interval, Some(Duration::from_millis(500)));
        assert_eq!(h.retries, Some(3));
        assert!(hc("h: {disable: true}").unwrap().disable);
        assert!(hc("h: {interval: soon}").is_err());
    }
}
