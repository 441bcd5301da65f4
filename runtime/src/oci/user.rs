//! Resolving `-u user[:group]` against the image's /etc/passwd and /etc/group, as Docker
//! does.

use crate::error::{Error, Result};

/// Who the container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Supplementary groups from /etc/group membership.
    pub additional_gids: Vec<u32>,
    /// Home directory (for HOME).
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    passwd.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 6 || l.starts_with('#') {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

fn group_entries(group: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    group.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 3 || l.starts_with('#') {
            return None;
        }
        let members = f
            .get(3)
            .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

/// A group by name (in `group`, the image's /etc/group) or number (`--group-add`).
pub fn group_id(name: &str, group: &str) -> Result<u32> {
    match group_entries(group).find(|(n, _, _)| *n == name) {
        Some((_, id, _)) => Ok(id),
        None => name
            .parse()
            .map_err(|_| Error::NoSuchGroup(name.to_owned())),
    }
}

/// Resolves `spec` (`""`, `name`, `uid`, `name:group`, `uid:gid`) against the image's
/// passwd and group files (absent files count as empty).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ExecUser> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let by_name = passwd_entries(passwd).find(|e| e.name == user);
    let numeric: Option<u32> = user.parse().ok();
    let entry =
        by_name.or_else(|| numeric.and_then(|n| passwd_entries(passwd).find(|e| e.uid == n)));
    let (uid, mut gid, home, name) = match (&entry, numeric) {
        (Some(e), _) => (e.uid, e.gid, e.home.to_owned(), Some(e.name)),
        (None, Some(n)) => (n, 0, "/".to_owned(), None),
        (None, None) => return Err(Error::NoSuchUser(user.to_owned())),
    };
    if let Some(g) = grp.filter(|g| !g.is_empty()) {
        gid = group_id(g, group)?;
    }
    let mut additional_gids = Vec::new();
    if grp.is_none() {
        if let Some(name) = name {
            for (_, id, members) in group_entries(group) {
                if members.contains(&name) && id != gid && !additional_gids.contains(&id) {
                    additional_gids.push(id);
                }
            }
        }
    }
    Ok(ExecUser {
        uid,
        gid,
        additional_gids,
        home: if home.is_empty() { "/".into() } else { home },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str =
        "root:x:0:\nwww-data:x:33:\nalice:x:1000:\nwheel:x:10:alice,root\nstaff:x:50:alice\n";

    #[test]
    fn names_and_ids_resolve_as_docker_does() {
        let root = resolve("", PASSWD, GROUP).unwrap();
        assert_eq!((root.uid, root.gid, root.home.as_str()), (0, 0, "/root"));
        assert_eq!(root.additional_gids, vec![10]);
        let www = resolve("www-data", PASSWD, GROUP).unwrap();
        assert_eq!((www.uid, www.gid, www.home.as_str()), (33, 33, "/var/www"));
        let alice = resolve("1000", PASSWD, GROUP).unwrap();
        assert_eq!(alice.additional_gids, vec![10, 50]);
        let odd = resolve("4242", PASSWD, GROUP).unwrap();
        assert_eq!((odd.uid, odd.gid, odd.home.as_str()), (4242, 0, "/"));
        let both = resolve("alice:staff", PASSWD, GROUP).unwrap();
        assert_eq!((both.uid, both.gid), (1000, 50));
        assert!(both.additional_gids.is_empty());
        assert_eq!(resolve("33:7", PASSWD, GROUP).unwrap().gid, 7);
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(matches!(resolve("bob", PASSWD, GROUP), Err(Error::NoSuchUser(u)) if u == "bob"));
        assert!(matches!(
            resolve("alice:nogroup", PASSWD, GROUP),
            Err(Error::NoSuchGroup(_))
        ));
    }
}
