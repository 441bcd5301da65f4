//! `search`: the repositories of a registry's v2 catalog (`GET /v2/_catalog`, page by page
//! as its `Link` header leads) whose name holds a term. A registry without a catalog (Docker
//! Hub, most hosted registries: 404, 401, `UNSUPPORTED`) is an error that says so.

use serde::Deserialize;

use crate::client::{authorized, read_small, Client};
use crate::error::{Error, Result};

/// At most this many pages are read (of `PAGE` names each).
const MAX_PAGES: usize = 100;
const PAGE: usize = 1000;

#[derive(Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Vec<String>,
}

/// The repositories of `client`'s registry whose name contains `term` (all of them for an
/// empty term), sorted, at most `limit`.
pub fn search(client: &Client, term: &str, limit: usize) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut url = client.url(&format!("_catalog?n={PAGE}"));
    for _ in 0..MAX_PAGES {
        let mut resp = client.send("registry:catalog:*", |auth| {
            authorized(client.agent().get(&url), auth).call()
        })?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            let e = client.error("search", resp);
            return Err(match (status, &e) {
                (404 | 401 | 403 | 405, _) => no_catalog(client, status),
                (_, Error::Registry { code: Some(c), .. }) if c == "UNSUPPORTED" => {
                    no_catalog(client, status)
                }
                _ => e,
            });
        }
        let next = resp
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(next_link);
        let body = read_small(&mut resp)?;
        let page: Catalog = serde_json::from_slice(&body).map_err(|e| Error::Registry {
            what: "search".into(),
            status,
            code: None,
            message: format!("the catalog is not JSON: {e}"),
        })?;
        found.extend(page.repositories.into_iter().filter(|r| r.contains(term)));
        match next {
            Some(n) => url = format!("{}{n}", client.base()),
            None => break,
        }
    }
    found.sort();
    found.dedup();
    found.truncate(limit);
    Ok(found)
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// The tags of `repository` (`GET /v2/<repository>/tags/list`, page by page), sorted.
pub fn tags(client: &Client, repository: &str) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut url = client.url(&format!("{repository}/tags/list?n={PAGE}"));
    let scope = format!("repository:{repository}:pull");
    for _ in 0..MAX_PAGES {
        let mut resp = client.send(&scope, |auth| {
            authorized(client.agent().get(&url), auth).call()
        })?;
        if !resp.status().is_success() {
            return Err(client.error(&format!("tags of {repository}"), resp));
        }
        let next = resp
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(next_link);
        let body = read_small(&mut resp)?;
        let page: TagList = serde_json::from_slice(&body).map_err(|e| Error::Registry {
            what: format!("tags of {repository}"),
            status: 200,
            code: None,
            message: format!("the tag list is not JSON: {e}"),
        })?;
        found.extend(page.tags.unwrap_or_default());
        match next {
            Some(n) => url = format!("{}{n}", client.base()),
            None => break,
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn no_catalog(client: &Client, status: u16) -> Error {
    Error::Registry {
        what: format!("search {}", client.registry()),
        status,
        code: None,
        message: format!(
            "the registry has no catalog to search (GET /v2/_catalog answered {status})"
        ),
    }
}

/// The path of a `Link: </v2/_catalog?last=x&n=1000>; rel="next"` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|l| {
        let (target, params) = l.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        assert_eq!(
            super::next_link("</v2/_catalog?last=b&n=2>; rel=\"next\"").as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(super::next_link("</x>; rel=\"prev\""), None);
    }
}
