//! Which compose files a command reads and what the project is called, as compose decides:
//! `-f` files, else `COMPOSE_FILE`, else `compose.yaml` (or the other default names) in the
//! working directory or its nearest parent that has one, with its `.override` file.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result, Warning, Warnings};

/// compose's default names, in its order of preference.
pub const FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];
pub const OVERRIDE_NAMES: [&str; 4] = [
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// The default files of the nearest directory from `dir` upwards that has one: the file and
/// its override file, if any. More than one candidate in a directory is a warning (the first
/// is used), as compose gives.
pub fn find_default_files(dir: &Path, warnings: &mut Warnings) -> Result<Vec<PathBuf>> {
    let mut d = Some(dir);
    while let Some(here) = d {
        let found: Vec<PathBuf> = FILE_NAMES
            .iter()
            .map(|n| here.join(n))
            .filter(|p| p.is_file())
            .collect();
        if let Some(first) = found.first() {
            let mut files = vec![first.clone()];
            if found.len() > 1 {
                warnings.push(several(&found));
            }
            let overrides: Vec<PathBuf> = OVERRIDE_NAMES
                .iter()
                .map(|n| here.join(n))
                .filter(|p| p.is_file())
                .collect();
            if let Some(o) = overrides.first() {
                files.push(o.clone());
                if overrides.len() > 1 {
                    warnings.push(several(&overrides));
                }
            }
            return Ok(files);
        }
        d = here.parent();
    }
    Err(Error::Discovery(format!(
        "no configuration file provided: not found in {} or its parents ({})",
        dir.display(),
        FILE_NAMES.join(", ")
    )))
}

fn several(found: &[PathBuf]) -> Warning {
    let names: Vec<String> = found.iter().map(|p| p.display().to_string()).collect();
    Warning {
        place: String::new(),
        message: format!(
            "found multiple config files with supported names: {}; using {}",
            names.join(", "),
            names[0]
        ),
    }
}

/// `COMPOSE_FILE`: paths separated by `:` (or `COMPOSE_PATH_SEPARATOR`), relative ones from
/// `cwd`.
pub fn split_compose_file(value: &str, separator: Option<&str>, cwd: &Path) -> Vec<PathBuf> {
    let sep = separator.filter(|s| !s.is_empty()).unwrap_or(":");
    value
        .split(sep)
        .filter(|p| !p.is_empty())
        .map(|p| cwd.join(p))
        .collect()
}

/// A directory's name as a project name: lowercase, only `[a-z0-9_-]`, starting with a letter
/// or a digit.
pub fn normalize_name(name: &str) -> String {
    let lower: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    lower.trim_start_matches(['_', '-']).to_string()
}

/// A project name given by `-p`, `COMPOSE_PROJECT_NAME` or `name:` must already be normal.
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid project name: only lowercase letters, digits, dashes and underscores, starting with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize_name("My App.v2"), "myappv2");
        assert_eq!(normalize_name("_-Front_End"), "front_end");
        assert_eq!(normalize_name("backend"), "backend");
        assert!(check_name("web-1_x").is_ok());
        assert!(check_name("Web").is_err());
        assert!(check_name("-web").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn finds_in_parents_with_override() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("docker-compose.yml"), "services: {}\n").unwrap();
        std::fs::write(
            t.path().join("docker-compose.override.yml"),
            "services: {}\n",
        )
        .unwrap();
        let sub = t.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let mut w = Warnings::default();
        let f = find_default_files(&sub, &mut w).unwrap();
        assert_eq!(
            f,
            vec![
                t.path().join("docker-compose.yml"),
                t.path().join("docker-compose.override.yml")
            ]
        );
        assert!(w.0.is_empty());
        std::fs::write(t.path().join("compose.yaml"), "services: {}\n").unwrap();
        let f = find_default_files(&sub, &mut w).unwrap();
        assert_eq!(f[0], t.path().join("compose.yaml"));
        assert_eq!(w.0.len(), 1);
        // Nothing in a fresh directory (unless a parent of the temporary directory has one).
        let empty = tempfile::tempdir().unwrap();
        let above = empty
            .path()
            .ancestors()
            .any(|a| FILE_NAMES.iter().any(|n| a.join(n).is_file()));
        let found = find_default_files(empty.path(), &mut w);
        assert_eq!(found.is_err(), !above);
        if let Err(e) = found {
            assert!(e.to_string().starts_with("no configuration file provided"));
        }
    }

    #[test]
    fn compose_file_variable() {
        let cwd = Path::new("/w");
        assert_eq!(
            split_compose_file("a.yml:/b/c.yml", None, cwd),
            vec![PathBuf::from("/w/a.yml"), PathBuf::from("/b/c.yml")]
        );
        assert_eq!(split_compose_file("a.yml;b.yml", Some(";"), cwd).len(), 2);
    }
}
