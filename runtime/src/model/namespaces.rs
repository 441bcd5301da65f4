//! Which namespaces a container shares: `--network`, `--ipc`, `--pid` and `--uts` modes as
//! Docker reads them. A container joining another's namespace is stored as
//! `container:<full id>`, as Docker stores it.

use crate::error::{Error, Result};

/// A container's network mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// A network of rbox's: `bridge` (the default network) or a user-defined one.
    Network(String),
    /// No network: loopback only.
    None,
    /// The host's network namespace.
    Host,
    /// Another container's network namespace (its id, or a name before create resolves it).
    Container(String),
    /// The network namespace of a pod (its id).
    Pod(String),
}

impl NetworkMode {
    /// Reads a stored or given `--network` value.
    pub fn parse(mode: &str) -> NetworkMode {
        match mode {
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            m => match (m.strip_prefix("container:"), m.strip_prefix("pod:")) {
                (Some(c), _) => NetworkMode::Container(c.to_owned()),
                (_, Some(p)) => NetworkMode::Pod(p.to_owned()),
                _ => NetworkMode::Network(m.to_owned()),
            },
        }
    }

    /// Whether the container is on networks of its own (with addresses, veths, ports).
    pub fn has_networks(&self) -> bool {
        matches!(self, NetworkMode::Network(_))
    }
}

/// The mode of one of `--ipc`, `--pid`, `--uts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceMode {
    /// A namespace of its own (`private`, or the empty default).
    Private,
    /// Its own, and others may join it (`--ipc shareable`).
    Shareable,
    /// The host's.
    Host,
    /// Another container's (its id, or a name before create resolves it).
    Container(String),
}

/// Which namespace a mode is for: the values each flag takes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--ipc`: private, shareable, host, container:X (and `none`, read as private).
    Ipc,
    /// `--pid`: host, container:X.
    Pid,
    /// `--uts`: host.
    Uts,
}

impl Kind {
    /// The flag.
    pub fn flag(self) -> &'static str {
        match self {
            Kind::Ipc => "--ipc",
            Kind::Pid => "--pid",
            Kind::Uts => "--uts",
        }
    }

    /// The OCI namespace type.
    pub fn oci(self) -> &'static str {
        match self {
            Kind::Ipc => "ipc",
            Kind::Pid => "pid",
            Kind::Uts => "uts",
        }
    }
}

impl NamespaceMode {
    /// Reads a mode of `kind` (stored or given); an error names the flag and what it takes.
    pub fn parse(kind: Kind, mode: &str) -> Result<NamespaceMode> {
        let m = match (kind, mode) {
            (_, "") | (Kind::Ipc, "private" | "none") => NamespaceMode::Private,
            (Kind::Ipc, "shareable") => NamespaceMode::Shareable,
            (_, "host") => NamespaceMode::Host,
            (Kind::Ipc | Kind::Pid, m) if m.starts_with("container:") && m.len() > 10 => {
                NamespaceMode::Container(m["container:".len()..].to_owned())
            }
            (_, m) => {
                let takes = match kind {
                    Kind::Ipc => "private, shareable, host or container:NAME",
                    Kind::Pid => "host or container:NAME",
                    Kind::Uts => "host",
                };
                return Err(Error::InvalidOption {
                    flag: kind.flag().into(),
                    reason: format!("invalid mode {m:?}: it takes {takes}"),
                });
            }
        };
        Ok(m)
    }

    /// How it is stored (`container:<id>` with the id resolved).
    pub fn stored(&self, kind: Kind) -> String {
        match self {
            NamespaceMode::Private if kind == Kind::Ipc => "private".into(),
            NamespaceMode::Private => String::new(),
            NamespaceMode::Shareable => "shareable".into(),
            NamespaceMode::Host => "host".into(),
            NamespaceMode::Container(c) => format!("container:{c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_as_dockers() {
        assert_eq!(NetworkMode::parse("host"), NetworkMode::Host);
        assert_eq!(
            NetworkMode::parse("container:web"),
            NetworkMode::Container("web".into())
        );
        assert!(NetworkMode::parse("backend").has_networks());
        assert!(!NetworkMode::parse("container:web").has_networks());
        assert_eq!(
            NamespaceMode::parse(Kind::Ipc, "shareable").unwrap(),
            NamespaceMode::Shareable
        );
        assert_eq!(
            NamespaceMode::parse(Kind::Pid, "container:db").unwrap(),
            NamespaceMode::Container("db".into())
        );
        assert_eq!(
            NamespaceMode::parse(Kind::Uts, "").unwrap(),
            NamespaceMode::Private
        );
        for (kind, bad) in [
            (Kind::Uts, "container:x"),
            (Kind::Pid, "shareable"),
            (Kind::Ipc, "container:"),
            (Kind::Ipc, "weird"),
        ] {
            let e = NamespaceMode::parse(kind, bad).unwrap_err().to_string();
            assert!(e.contains(kind.flag()), "{e}");
        }
        assert_eq!(
            NamespaceMode::Container("ab".into()).stored(Kind::Pid),
            "container:ab"
        );
        assert_eq!(NamespaceMode::Private.stored(Kind::Ipc), "private");
    }
}
