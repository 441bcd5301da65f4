//! Published ports: every short form (`"8080:80"`, `"80"`, `"9000-9002:80-82"`,
//! `"127.0.0.1:8080:80"`, `"[::1]:80:80"`, `"127.0.0.1::80"`, `/udp`) and the long form, into
//! one list of bindings (a range of container ports is one binding per port).

use serde::{Serialize, Serializer};

use crate::de::{self, err, Fields};
use crate::error::{Result, Warnings};
use crate::node::{Node, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortMode {
    Ingress,
    Host,
}

/// Host ports: one (`start == end`) or a range to pick one from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostPorts {
    pub start: u16,
    pub end: u16,
}

impl Serialize for HostPorts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.start == self.end {
            s.serialize_str(&self.start.to_string())
        } else {
            s.serialize_str(&format!("{}-{}", self.start, self.end))
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortBinding {
    pub mode: PortMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    pub target: u16,
    /// None: a random host port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<HostPorts>,
    pub protocol: Protocol,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

fn protocol(s: &str) -> Option<Protocol> {
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Some(Protocol::Tcp),
        "udp" => Some(Protocol::Udp),
        "sctp" => Some(Protocol::Sctp),
        _ => None,
    }
}

fn range(s: &str) -> std::result::Result<(u16, u16), String> {
    let one = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("{p:?} is not a port number"))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if a > b {
                return Err(format!("{s:?}: the range's end is before its start"));
            }
            Ok((a, b))
        }
        None => {
            let p = one(s)?;
            Ok((p, p))
        }
    }
}

/// Parse one short form into its bindings.
pub fn parse_short(spec: &str) -> std::result::Result<Vec<PortBinding>, String> {
    short(spec).map_err(|m| {
        let quoted = format!("{spec:?}");
        if m.starts_with(&quoted) {
            m
        } else {
            format!("{quoted}: {m}")
        }
    })
}

fn short(spec: &str) -> std::result::Result<Vec<PortBinding>, String> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (
            r,
            protocol(p).ok_or_else(|| format!("{p:?} is not tcp, udp or sctp"))?,
        ),
        None => (spec, Protocol::Tcp),
    };
    let (ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, after) = r.split_once("]:").ok_or_else(|| {
            format!("{spec:?}: an IPv6 address in brackets must be followed by :")
        })?;
        (Some(ip.to_string()), after.to_string())
    } else {
        (None, rest.to_string())
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, ctr) = match (ip, parts.as_slice()) {
        (None, [c]) => (None, None, *c),
        (None, [h, c]) => (None, Some(*h), *c),
        (None, [i, h, c]) => (Some(i.to_string()), Some(*h), *c),
        (Some(i), [h, c]) => (Some(i), Some(*h), *c),
        _ => return Err(format!("{spec:?} is not [IP:][HOST:]CONTAINER[/PROTOCOL]")),
    };
    let host = host.filter(|h| !h.is_empty()).map(range).transpose()?;
    let (cs, ce) = range(ctr)?;
    let make = |target, published| PortBinding {
        mode: PortMode::Ingress,
        host_ip: ip.clone().filter(|i| !i.is_empty()),
        target,
        published,
        protocol: proto,
        name: None,
        app_protocol: None,
    };
    let n_ctr = ce - cs;
    Ok(match host {
        None => (cs..=ce).map(|t| make(t, None)).collect(),
        Some((hs, he)) if he - hs == n_ctr => (0..=n_ctr)
            .map(|i| {
                let h = hs + i;
                make(cs + i, Some(HostPorts { start: h, end: h }))
            })
            .collect(),
        Some((hs, he)) if n_ctr == 0 => vec![make(cs, Some(HostPorts { start: hs, end: he }))],
        Some(_) => {
            return Err(format!(
                "{spec:?}: the host and container ranges differ in size"
            ))
        }
    })
}

/// The `ports:` list of a service.
pub fn parse(n: &Node, warnings: &mut Warnings) -> Result<Vec<PortBinding>> {
    let Value::Seq(items) = &n.value else {
        return err(n, format!("ports must be a list, not {}", n.describe()));
    };
    let mut out = Vec::new();
    for item in items {
        match &item.value {
            Value::Map(_) => out.push(long(item, warnings)?),
            Value::Scalar(..) if !item.is_null() => {
                let s = de::string(item)?;
                match parse_short(&s) {
                    Ok(b) => out.extend(b),
                    Err(m) => return err(item, m),
                }
            }
            _ => {
                return err(
                    item,
                    format!(
                        "a port must be a string or a mapping, not {}",
                        item.describe()
                    ),
                )
            }
        }
    }
    Ok(out)
}

fn long(n: &Node, warnings: &mut Warnings) -> Result<PortBinding> {
    let mut f = Fields::new(n, "a port")?;
    let target = match f.get("target") {
        Some(t) => de::int(t)?,
        None => return err(n, "a port needs target"),
    };
    let published = match f.get("published") {
        Some(p) => {
            let s = de::string(p)?;
            let (start, end) = range(&s).or_else(|m| err(p, m))?;
            Some(HostPorts { start, end })
        }
        None => None,
    };
    let protocol = match f.get("protocol") {
        Some(p) => Some(
            protocol(&de::string(p)?)
                .ok_or(())
                .or_else(|_| err(p, "protocol is tcp, udp or sctp"))?,
        ),
        None => None,
    };
    let mode = match f.get("mode") {
        Some(m) => match de::one_of(m, &["ingress", "host"])? {
            "host" => PortMode::Host,
            _ => PortMode::Ingress,
        },
        None => PortMode::Ingress,
    };
    let b = PortBinding {
        mode,
        host_ip: f.get("host_ip").map(de::string).transpose()?,
        target,
        published,
        protocol: protocol.unwrap_or(Protocol::Tcp),
        name: f.get("name").map(de::string).transpose()?,
        app_protocol: f.get("app_protocol").map(de::string).transpose()?,
    };
    f.finish("a port", warnings);
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(p: u16) -> Option<HostPorts> {
        Some(HostPorts { start: p, end: p })
    }

    #[test]
    fn short_forms() {
        let b = parse_short("8080:80").unwrap();
        assert_eq!(
            (b[0].target, b[0].published, b[0].protocol),
            (80, hp(8080), Protocol::Tcp)
        );
        let b = parse_short("80").unwrap();
        assert_eq!((b[0].target, b[0].published), (80, None));
        let b = parse_short("9000-9002:80-82").unwrap();
        let pairs: Vec<_> = b
            .iter()
            .map(|b| (b.published.unwrap().start, b.target))
            .collect();
        assert_eq!(pairs, [(9000, 80), (9001, 81), (9002, 82)]);
        let b = parse_short("127.0.0.1:5353:53/udp").unwrap();
        assert_eq!(
            (b[0].host_ip.as_deref(), b[0].protocol),
            (Some("127.0.0.1"), Protocol::Udp)
        );
        let b = parse_short("[::1]:80:8080").unwrap();
        assert_eq!(
            (b[0].host_ip.as_deref(), b[0].published, b[0].target),
            (Some("::1"), hp(80), 8080)
        );
        let b = parse_short("127.0.0.1::80").unwrap();
        assert_eq!(
            (b[0].host_ip.as_deref(), b[0].published),
            (Some("127.0.0.1"), None)
        );
        let b = parse_short("9000-9010:80").unwrap();
        assert_eq!(
            b[0].published,
            Some(HostPorts {
                start: 9000,
                end: 9010
            })
        );
        assert_eq!(parse_short("3000-3001").unwrap().len(), 2);
    }

    #[test]
    fn bad_short_forms() {
        assert!(parse_short("80/icmp").is_err());
        assert!(parse_short("x:80").is_err());
        assert!(parse_short("70000").is_err());
        assert!(parse_short("1-3:1-2").is_err());
        assert!(parse_short("a:b:c:d").is_err());
    }

    #[test]
    fn list_and_long_form() {
        let n = crate::node::parse(
            &std::sync::Arc::from("c.yaml"),
            "p:\n  - \"8080:80\"\n  - target: 53\n    published: 5353\n    protocol: udp\n    mode: host\n",
        )
        .unwrap();
        let mut w = Warnings::default();
        let b = parse(n.get("p").unwrap(), &mut w).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[1].target, b[1].published, b[1].mode),
            (53, hp(5353), PortMode::Host)
        );
        let n = crate::node::parse(&std::sync::Arc::from("c.yaml"), "p: 5\n").unwrap();
        let e = parse(n.get("p").unwrap(), &mut w).unwrap_err().to_string();
        assert_eq!(e, "c.yaml:1:4: ports must be a list, not an integer");
    }
}
