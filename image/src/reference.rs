//! Image references, parsed and normalized as Docker does.
//!
//! `busybox` is `docker.io/library/busybox:latest`; `localhost:5000/example/echo` is
//! `localhost:5000/example/echo:latest`; `name@sha256:…` pins a manifest digest.

use std::fmt;
use std::str::FromStr;

use oci_spec::distribution::{ParseError, Reference as OciReference};

use crate::digest::Digest;
use crate::error::Error;

const DOCKER_HUB: &str = "docker.io";
const OFFICIAL_PREFIX: &str = "library/";

/// A normalized image reference: registry, repository, and a tag and/or a digest.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalizes `input` as `docker pull` would.
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
        let name_part = input.split('@').next().unwrap_or(input);
        let path_part = match name_part.rsplit_once(':') {
            Some((n, tag)) if !tag.contains('/') => n,
            _ => name_part,
        };
        let remote = match path_part.split_once('/') {
            Some((domain, rest)) if is_domain(domain) => rest,
            _ => path_part,
        };
        if remote.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad("repository name must be lowercase"));
        }
        let parsed = OciReference::try_from(input).map_err(|e| {
            bad(match e {
                ParseError::DigestInvalidFormat => "invalid digest format",
                ParseError::DigestInvalidLength => "invalid digest length",
                ParseError::DigestUnsupported => "unsupported digest algorithm (only sha256)",
                ParseError::NameContainsUppercase => "repository name must be lowercase",
                ParseError::NameEmpty => "repository name must have at least one component",
                ParseError::NameTooLong => "repository name must not be more than 255 characters",
                ParseError::TagInvalidFormat => "invalid tag format",
                ParseError::ReferenceInvalidFormat if input.contains('@') => "invalid digest",
                ParseError::ReferenceInvalidFormat => "not a valid image reference",
            })
        })?;
        let digest = match parsed.digest() {
            Some(d) => Some(
                d.parse::<Digest>()
                    .map_err(|_| bad("unsupported digest algorithm (only sha256)"))?,
            ),
            None => None,
        };
        Ok(Reference {
            registry: parsed.registry().to_owned(),
            repository: parsed.repository().to_owned(),
            tag: parsed.tag().map(str::to_owned),
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
            self.repository
                .strip_prefix(OFFICIAL_PREFIX)
                .unwrap_or(&self.repository)
                .to_owned()
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
            ("busybox:", "not a valid"),
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
    fn uppercase_registry_hosts_are_allowed() {
        assert_eq!(norm("Example.com/app"), "Example.com/app:latest");
    }
}
