//! Image references, parsed and normalized as Docker does.
//!
//! `busybox` is `docker.io/library/busybox:latest`; `localhost:5000/example/echo` is
//! `localhost:5000/example/echo:latest`; `name@sha256:…` pins a manifest digest.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::Error;

const DOCKER_HUB: &str = "docker.io";
const LEGACY_DOCKER_HUB: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
const NAME_MAX: usize = 255;

/// A normalized image reference: registry, repository, and a tag and/or a digest.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// A path component: alphanumeric runs joined by `.`, `_`, `__` or runs of `-`.
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_lowercase() || b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A separator: ".", "_", "__", or one or more "-".
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || i >= b.len() || !(b[i].is_ascii_lowercase() || b[i].is_ascii_digit()) {
            return false;
        }
    }
    true
}

/// `host[:port]`: DNS-like labels (letters, digits, inner hyphens), an IPv4 address, or a
/// bracketed IPv6 address; the port all digits.
fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, after)) => {
                if v6.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                (None, after.strip_prefix(':'))
            }
            None => return false,
        }
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(d), None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    match host {
        None => true,
        Some(h) => {
            !h.is_empty()
                && h.split('.').all(|label| {
                    let b = label.as_bytes();
                    !b.is_empty()
                        && b[0].is_ascii_alphanumeric()
                        && b[b.len() - 1].is_ascii_alphanumeric()
                        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                })
        }
    }
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

impl Reference {
    /// Parses and normalizes `input` as `docker pull` would (the grammar of Docker's
    /// distribution/reference package).
    pub fn parse(input: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::InvalidReference {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if input.is_empty() {
            return Err(bad("empty reference"));
        }
        if input.len() == 64 && input.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("cannot specify 64-byte hexadecimal strings"));
        }
        let (named, digest) = match input.split_once('@') {
            Some((n, d)) => {
                let (algo, hex) = d
                    .split_once(':')
                    .ok_or_else(|| bad("invalid digest format"))?;
                if algo != "sha256" {
                    return Err(bad(if ["sha384", "sha512"].contains(&algo) {
                        "unsupported digest algorithm (only sha256)"
                    } else {
                        "invalid digest format"
                    }));
                }
                if hex.len() != 64 {
                    return Err(bad("invalid digest length"));
                }
                let digest = Digest::from_hex(hex).map_err(|_| bad("invalid digest format"))?;
                (n, Some(digest))
            }
            None => (input, None),
        };
        // A tag follows the last ':' that comes after the last '/'.
        let (name, tag) = match named.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t)),
            _ => (named, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(bad("invalid tag format"));
            }
        }
        if name.is_empty() {
            return Err(bad("repository name must have at least one component"));
        }
        let (domain, remote) = match name.split_once('/') {
            Some((d, rest)) if is_domain(d) => (Some(d), rest),
            _ => (None, name),
        };
        if let Some(d) = domain {
            if !valid_domain(d) {
                return Err(bad("not a valid image reference"));
            }
        }
        if remote.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad("repository name must be lowercase"));
        }
        if !remote.split('/').all(valid_path_component) {
            return Err(bad("not a valid image reference"));
        }
        let mut registry = domain.unwrap_or(DOCKER_HUB).to_owned();
        if registry == LEGACY_DOCKER_HUB {
            registry = DOCKER_HUB.to_owned();
        }
        let repository = if registry == DOCKER_HUB && !remote.contains('/') {
            format!("{OFFICIAL_PREFIX}{remote}")
        } else {
            remote.to_owned()
        };
        // As Docker: the limit is on the normalized name (`docker.io/library/…`), so that
        // every name that parses prints as one that parses too.
        if registry.len() + 1 + repository.len() > NAME_MAX {
            return Err(bad("repository name must not be more than 255 characters"));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_owned()),
            (None, None) => Some("latest".to_owned()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The registry host (and port): `docker.io`, `localhost:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path within the registry: `library/busybox`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if any (`latest` when neither tag nor digest was given).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The pinned manifest digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, e.g. `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The name as `docker images` shows it: `busybox`, `someone/app`,
    /// `localhost:5000/example/echo`.
    pub fn familiar_name(&self) -> String {
        if self.registry == DOCKER_HUB {
            // As Docker: `library/` goes only when one component follows it; and the name
            // keeps its registry when its first component would be read as one.
            let path = match self.repository.strip_prefix(OFFICIAL_PREFIX) {
                Some(rest) if !rest.contains('/') => rest,
                _ => &self.repository,
            };
            match path.split_once('/') {
                Some((first, _)) if is_domain(first) => self.name(),
                _ => path.to_owned(),
            }
        } else {
            self.name()
        }
    }

    /// The same name with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        }
    }

    /// The familiar form with tag: `busybox:latest`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

/// Docker's rule for whether the first path component names a registry.
fn is_domain(component: &str) -> bool {
    component.contains('.')
        || component.contains(':')
        || component == "localhost"
        || component.bytes().any(|b| b.is_ascii_uppercase())
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Reference::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs the fuzzer found (fuzz/fuzz_targets/reference.rs): the familiar form of a
    /// name must name the same image.
    #[test]
    fn familiar_forms_parse_back_to_the_same_reference() {
        for input in [
            "docker.io/libra127.0.0.1127.0.0.1ry/busybox:latest",
            "docker.io/my.org/app:1",
            "docker.io/localhost/app",
            "docker.io/library/a/b:c",
            "busybox",
            "someone/app:2",
        ] {
            let r = Reference::parse(input).unwrap();
            let familiar = r.familiar();
            assert_eq!(
                Reference::parse(&familiar).unwrap(),
                r,
                "{input} -> {familiar}"
            );
        }
        // A familiar name whose normalized form is over 255 characters is refused, as
        // Docker does, rather than accepted and printed as a name that doesn't parse.
        let long = "b".repeat(240);
        assert!(Reference::parse(&long).is_err());
        assert!(Reference::parse(&format!("docker.io/library/{}", "b".repeat(237))).is_ok());
        let r = Reference::parse(&"b".repeat(237)).unwrap();
        assert_eq!(Reference::parse(&r.familiar()).unwrap(), r);
        assert_eq!(
            Reference::parse("docker.io/my.org/app:1")
                .unwrap()
                .familiar(),
            "docker.io/my.org/app:1"
        );
        assert_eq!(
            Reference::parse("docker.io/library/a/b")
                .unwrap()
                .familiar(),
            "library/a/b:latest"
        );
        assert_eq!(
            Reference::parse("busybox").unwrap().familiar(),
            "busybox:latest"
        );
    }

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn one_part_names_go_to_the_official_library() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(
            norm("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            norm("index.docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
    }

    #[test]
    fn two_part_names_stay_on_docker_hub() {
        assert_eq!(norm("someone/app:v1"), "docker.io/someone/app:v1");
    }

    #[test]
    fn registries_are_recognized_by_dot_colon_or_localhost() {
        assert_eq!(
            norm("localhost:5000/example/echo"),
            "localhost:5000/example/echo:latest"
        );
        assert_eq!(norm("localhost/echo:1"), "localhost/echo:1");
        assert_eq!(norm("registry:5000/echo"), "registry:5000/echo:latest");
        assert_eq!(norm("quay.io/a/b:c"), "quay.io/a/b:c");
    }

    #[test]
    fn digests_pin_without_a_default_tag() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().unwrap().to_string(), d);
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{d}"));
        let both = Reference::parse(&format!("busybox:1@{d}")).unwrap();
        assert_eq!(both.tag(), Some("1"));
    }

    #[test]
    fn familiar_forms_match_docker_images() {
        assert_eq!(
            Reference::parse("busybox").unwrap().familiar(),
            "busybox:latest"
        );
        assert_eq!(
            Reference::parse("localhost:5000/example/echo")
                .unwrap()
                .familiar_name(),
            "localhost:5000/example/echo"
        );
        assert_eq!(Reference::parse("a/b").unwrap().familiar_name(), "a/b");
    }

    #[test]
    fn bad_references_are_refused_with_a_reason() {
        for (input, reason) in [
            ("", "empty"),
            ("Busybox", "lowercase"),
            ("busybox:", "tag"),
            ("busy box", "not a valid"),
            ("busybox@sha256:abc", "digest"),
            ("busybox@md5:d41d8cd98f00b204e9800998ecf8427e", "digest"),
            (
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "64-byte",
            ),
            ("a//b", "not a valid"),
            ("-a", "not a valid"),
        ] {
            let err = Reference::parse(input).unwrap_err().to_string();
            assert!(err.contains(reason), "{input:?}: {err}");
            assert!(err.contains(&format!("{input:?}")), "{input:?}: {err}");
        }
    }

    #[test]
    fn path_components_follow_dockers_grammar() {
        for ok in [
            "a__b",
            "a-b",
            "a--b",
            "a.b",
            "a_b",
            "a0/b1/c2",
            "[::1]:5000/x",
            "10.0.0.1:5000/x:y",
        ] {
            assert!(Reference::parse(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "a___b",
            "a..b",
            "a/",
            "/a",
            "a//b",
            "a_",
            "a.",
            "ab-",
            "host:port/x",
            "a:b:c",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad} accepted");
        }
        let long = format!("a/{}", "b".repeat(260));
        assert!(Reference::parse(&long)
            .unwrap_err()
            .to_string()
            .contains("255"));
    }

    #[test]
    fn uppercase_registry_hosts_are_allowed() {
        assert_eq!(norm("Example.com/app"), "Example.com/app:latest");
    }
}
