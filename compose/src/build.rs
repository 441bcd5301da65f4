//! `build:`: a context path (or URL), or the long form with dockerfile, args, target, labels,
//! tags, no_cache, pull, network and secrets.

use indexmap::IndexMap;
use serde::Serialize;

use crate::de::{self, err, Fields};
use crate::error::{Result, Warnings};
use crate::node::Node;
use crate::parts::{file_refs, FileRef};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Build {
    /// An absolute directory, or a URL (git, https) as written.
    pub context: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile_inline: Option<String>,
    /// A value of None: taken from the environment at build time (`args: [KEY]`).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub args: IndexMap<String, Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_cache: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pull: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileRef>,
}

/// Whether a build context is remote (left as written, never checked on disk).
pub fn is_remote_context(c: &str) -> bool {
    c.contains("://") || c.starts_with("git@") || c.starts_with("github.com/")
}

pub fn build(n: &Node, w: &mut Warnings) -> Result<Build> {
    if let Some(s) = n.as_scalar() {
        return Ok(Build {
            context: s.to_string(),
            ..Default::default()
        });
    }
    let mut f = Fields::new(n, "build")?;
    let b = Build {
        context: f
            .get("context")
            .map(de::string)
            .transpose()?
            .unwrap_or_else(|| ".".into()),
        dockerfile: f.get("dockerfile").map(de::string).transpose()?,
        dockerfile_inline: f.get("dockerfile_inline").map(de::string).transpose()?,
        args: f
            .get("args")
            .map(|a| de::map_or_list(a, &['=']))
            .transpose()?
            .unwrap_or_default(),
        target: f.get("target").map(de::string).transpose()?,
        labels: f
            .get("labels")
            .map(de::string_map)
            .transpose()?
            .unwrap_or_default(),
        tags: f
            .get("tags")
            .map(|t| de::strings(t, false))
            .transpose()?
            .unwrap_or_default(),
        no_cache: f
            .get("no_cache")
            .map(de::boolean)
            .transpose()?
            .unwrap_or(false),
        pull: f.get("pull").map(de::boolean).transpose()?.unwrap_or(false),
        network: f.get("network").map(de::string).transpose()?,
        secrets: f
            .get("secrets")
            .map(|s| file_refs(s, w))
            .transpose()?
            .unwrap_or_default(),
    };
    if b.dockerfile.is_some() && b.dockerfile_inline.is_some() {
        return err(
            n,
            "build: dockerfile and dockerfile_inline exclude each other",
        );
    }
    f.finish("build", w);
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn short_and_long_forms() {
        let n = crate::node::parse(
            &Arc::from("c.yaml"),
            "a: ./dir\nb:\n  context: ctx\n  dockerfile: Other.Dockerfile\n  args: [A=1, B]\n  target: dev\n  \
             labels: {l: v}\n  tags: [x:1]\n  no_cache: true\n  pull: true\n  network: host\n  secrets: [s]\n\
             c: {dockerfile: D, dockerfile_inline: 'FROM x'}\n",
        )
        .unwrap();
        let mut w = Warnings::default();
        assert_eq!(build(n.get("a").unwrap(), &mut w).unwrap().context, "./dir");
        let b = build(n.get("b").unwrap(), &mut w).unwrap();
        assert_eq!(b.dockerfile.as_deref(), Some("Other.Dockerfile"));
        assert_eq!(b.args["A"].as_deref(), Some("1"));
        assert_eq!(b.args["B"], None);
        assert!(b.no_cache && b.pull);
        assert_eq!(b.secrets[0].source, "s");
        assert!(build(n.get("c").unwrap(), &mut w).is_err());
        assert!(w.0.is_empty());
        assert!(is_remote_context("https://github.com/a/b.git#main"));
        assert!(!is_remote_context("/abs/dir"));
    }
}
