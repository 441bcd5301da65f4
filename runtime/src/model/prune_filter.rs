//! docker's `prune --filter`: `until=TIME` (only what was created before it) and
//! `label=KEY[=VALUE]` / `label!=KEY[=VALUE]` (only what has, or hasn't, the label).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// Which of the unused objects a prune may remove. The default admits every one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneFilter {
    /// `until`: created before this time.
    pub until: Option<DateTime<Utc>>,
    /// `label=`: every one of these labels (`KEY` or `KEY=VALUE`) is on it.
    pub labels: Vec<String>,
    /// `label!=`: none of these is on it.
    pub not_labels: Vec<String>,
}

impl PruneFilter {
    /// Whether an object created at `created` (RFC 3339; unreadable or missing counts as
    /// not before any time) with `labels` may go.
    pub fn admits<'a>(
        &self,
        created: Option<&str>,
        labels: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> bool {
        if let Some(until) = self.until {
            let before = created
                .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
                .is_some_and(|c| c.with_timezone(&Utc) < until);
            if !before {
                return false;
            }
        }
        if self.labels.is_empty() && self.not_labels.is_empty() {
            return true;
        }
        let labels: BTreeMap<&str, &str> = labels
            .into_iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.labels.iter().all(|l| label_matches(&labels, l))
            && !self.not_labels.iter().any(|l| label_matches(&labels, l))
    }
}

/// Docker's `KEY` (the label is there) or `KEY=VALUE` (with that value) against labels.
pub fn label_matches(labels: &BTreeMap<&str, &str>, spec: &str) -> bool {
    match spec.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|l| *l == v),
        None => labels.contains_key(spec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn until_and_labels_admit_as_dockers() {
        let all = PruneFilter::default();
        assert!(all.admits(None, &labels(&[])));
        let until = PruneFilter {
            until: Some("2026-01-01T00:00:00Z".parse().unwrap()),
            ..Default::default()
        };
        assert!(until.admits(Some("2025-12-31T23:59:59.5Z"), &labels(&[])));
        assert!(!until.admits(Some("2026-01-01T00:00:01+00:00"), &labels(&[])));
        assert!(!until.admits(None, &labels(&[])));
        let l = PruneFilter {
            labels: vec!["tier".into(), "env=dev".into()],
            not_labels: vec!["keep".into()],
            ..Default::default()
        };
        assert!(l.admits(None, &labels(&[("tier", "x"), ("env", "dev")])));
        assert!(!l.admits(None, &labels(&[("tier", "x"), ("env", "prod")])));
        assert!(!l.admits(None, &labels(&[("tier", ""), ("env", "dev"), ("keep", "")])));
        assert!(!l.admits(None, &labels(&[("env", "dev")])));
    }
}
