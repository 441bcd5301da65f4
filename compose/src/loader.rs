//! The load of a project: files found and read, `.env` and `--env-file` read, each file
//! interpolated, its paths resolved, its `include`s and `extends` applied, the files merged,
//! the result typed, validated and filtered by profiles.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;

use crate::convert;
use crate::de::{self, err};
use crate::discover;
use crate::dotenv;
use crate::error::{Error, Result, Warning, Warnings};
use crate::interp;
use crate::merge;
use crate::mounts;
use crate::node::{self, Node, Value};
use crate::paths;
use crate::profiles;
use crate::project::Project;
use crate::validate;

/// What a command line gives the loader. `env` is the shell's environment (the library never
/// reads the process's); `cwd` is the directory the command runs in (empty: the process's).
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub cwd: PathBuf,
    /// `-f` files in order; `-` is `stdin`.
    pub files: Vec<String>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_dir: Option<PathBuf>,
    /// `--env-file`, in order (instead of the project directory's `.env`).
    pub env_files: Vec<PathBuf>,
    /// `--profile`, in order (COMPOSE_PROFILES when empty).
    pub profiles: Vec<String>,
    /// Services named on the command line: enabled whatever their profiles, with what they
    /// depend on.
    pub services: Vec<String>,
    pub env: HashMap<String, String>,
    pub stdin: Option<Vec<u8>>,
}

#[derive(Debug)]
pub struct Loaded {
    pub project: Project,
    pub warnings: Vec<Warning>,
    /// The environment interpolation used: `.env` or `--env-file`, the shell's over it.
    pub environment: HashMap<String, String>,
}

const TOP_KEYS: [&str; 8] = [
    "version", "name", "services", "networks", "volumes", "secrets", "configs", "include",
];

struct Loader<'a> {
    opts: &'a Options,
    cwd: PathBuf,
    warnings: Warnings,
}

fn read_env_files(
    files: &[PathBuf],
    shell: &HashMap<String, String>,
    required: bool,
) -> Result<HashMap<String, String>> {
    let mut env = HashMap::new();
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(f.display(), e)),
        };
        let known = env.clone();
        let look = |k: &str| shell.get(k).or_else(|| known.get(k)).cloned();
        env.extend(dotenv::parse(&f.display().to_string(), &text, &look)?);
    }
    env.extend(shell.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(env)
}

pub fn load(opts: &Options) -> Result<Loaded> {
    let cwd = if opts.cwd.is_absolute() {
        opts.cwd.clone()
    } else {
        let here = std::env::current_dir().map_err(|e| Error::io(".", e))?;
        PathBuf::from(mounts::absolute(&opts.cwd.to_string_lossy(), &here, None))
    };
    let abs = |p: &Path| PathBuf::from(mounts::absolute(&p.to_string_lossy(), &cwd, None));
    let mut l = Loader {
        opts,
        cwd: cwd.clone(),
        warnings: Warnings::default(),
    };
    let explicit_dir = opts.project_dir.as_deref().map(abs);
    let env_files: Vec<PathBuf> = opts.env_files.iter().map(|f| abs(f)).collect();
    // COMPOSE_* variables may come from the .env of the project directory (or the cwd).
    let pre_dir = explicit_dir.clone().unwrap_or_else(|| cwd.clone());
    let pre_env = if env_files.is_empty() {
        read_env_files(&[pre_dir.join(".env")], &opts.env, false)?
    } else {
        read_env_files(&env_files, &opts.env, true)?
    };
    let files: Vec<String> = if !opts.files.is_empty() {
        opts.files
            .iter()
            .map(|f| {
                if f == "-" {
                    f.clone()
                } else {
                    abs(Path::new(f)).display().to_string()
                }
            })
            .collect()
    } else if let Some(cf) = pre_env.get("COMPOSE_FILE").filter(|v| !v.is_empty()) {
        let sep = pre_env.get("COMPOSE_PATH_SEPARATOR").map(String::as_str);
        discover::split_compose_file(cf, sep, &cwd)
            .iter()
            .map(|p| abs(p).display().to_string())
            .collect()
    } else {
        discover::find_default_files(&pre_dir, &mut l.warnings)?
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    };
    let project_dir = match &explicit_dir {
        Some(d) => d.clone(),
        None => match files.iter().find(|f| *f != "-") {
            Some(f) if files[0] != "-" => Path::new(f)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or(cwd.clone()),
            _ => cwd.clone(),
        },
    };
    let env = if !env_files.is_empty() || project_dir == pre_dir {
        pre_env
    } else {
        read_env_files(&[project_dir.join(".env")], &opts.env, false)?
    };
    // Each file read, interpolated, its paths resolved against the project directory, merged.
    let mut root: Option<Node> = None;
    for f in &files {
        let tree = l.load_file(f, &env, &project_dir, &mut Vec::new())?;
        match &mut root {
            None => root = Some(tree),
            Some(r) => merge::merge_file(r, tree),
        }
    }
    let mut root = root.ok_or_else(|| Error::Discovery("no compose file given".into()))?;
    merge::strip_directives(&mut root);
    let name_pos = root.get("name").map(|n| n.pos.clone());
    let name = match (
        &opts.project_name,
        env.get("COMPOSE_PROJECT_NAME").filter(|v| !v.is_empty()),
    ) {
        (Some(p), _) => Some((p.clone(), None)),
        (None, Some(p)) => Some((p.clone(), None)),
        _ => root
            .get("name")
            .filter(|n| !n.is_null())
            .map(|n| de::string(n).map(|s| (s, name_pos.clone())))
            .transpose()?,
    };
    let name = match name {
        Some((n, pos)) => {
            if let Err(m) = discover::check_name(&n) {
                return Err(match pos {
                    Some(p) => Error::value(&p, m),
                    None => Error::Discovery(m),
                });
            }
            n
        }
        None => {
            let base = project_dir
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let n = discover::normalize_name(&base);
            if n.is_empty() {
                return Err(Error::Discovery(format!(
                    "the directory name {base:?} gives no project name; use -p or name:"
                )));
            }
            n
        }
    };
    let (mut project, refs) = convert::convert(&root, &name, &env, &project_dir, &mut l.warnings)?;
    project.working_dir = project_dir;
    project.config_files = files;
    validate::drop_missing_optional(&mut project, &mut l.warnings);
    profiles::apply(
        &mut project,
        &opts.profiles,
        env.get("COMPOSE_PROFILES").map(String::as_str),
        &opts.services,
        &mut l.warnings,
    )?;
    validate::validate(&project, &refs)?;
    Ok(Loaded {
        project,
        warnings: l.warnings.0,
        environment: env,
    })
}

impl Loader<'_> {
    fn read(&self, f: &str) -> Result<(Arc<str>, String)> {
        if f == "-" {
            let bytes = self.opts.stdin.clone().unwrap_or_default();
            let text = String::from_utf8(bytes).map_err(|_| {
                Error::Discovery("-: the compose file on stdin is not UTF-8".into())
            })?;
            return Ok((Arc::from("-"), text));
        }
        let text = std::fs::read_to_string(f).map_err(|e| Error::io(f, e))?;
        Ok((Arc::from(f), text))
    }

    /// One file as a tree: parsed, checked at the top level, interpolated, paths resolved
    /// against `base`, includes merged in, services normalized, extends applied. `chain` is the
    /// include/extends path that led here, to refuse cycles.
    fn load_file(
        &mut self,
        f: &str,
        env: &HashMap<String, String>,
        base: &Path,
        chain: &mut Vec<String>,
    ) -> Result<Node> {
        let (name, text) = self.read(f)?;
        let mut tree = node::parse(&name, &text)?;
        if tree.as_map().is_none() {
            return err(
                &tree,
                format!("a compose file is a mapping, not {}", tree.describe()),
            );
        }
        let lookup = |k: &str| env.get(k).cloned();
        interp::interpolate(&mut tree, &lookup, &mut self.warnings)?;
        let home = env.get("HOME").map(String::as_str);
        paths::resolve_file(&mut tree, base, home);
        let map = tree.as_map_mut().expect("checked above");
        if let Some(v) = map.shift_remove("version") {
            self.warnings.push(Warning::at(
                &v.key_pos,
                "the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion",
            ));
        }
        for (k, v) in map.iter() {
            if !TOP_KEYS.contains(&k.as_str()) && !k.starts_with("x-") {
                self.warnings.push(Warning::at(
                    &v.key_pos,
                    format!("unsupported top-level key {k:?} ignored"),
                ));
            }
        }
        if let Some(s) = map.get_mut("services") {
            let null = s.is_null();
            match &mut s.value {
                Value::Map(services) => {
                    for svc in services.values_mut() {
                        merge::normalize_service(svc);
                    }
                }
                _ if null => {}
                _ => {
                    return err(
                        s,
                        format!("services must be a mapping, not {}", s.describe()),
                    )
                }
            }
        }
        chain.push(f.to_string());
        if let Some(inc) = map.shift_remove("include") {
            for included in self.includes(&inc, base, chain)? {
                merge_included(&mut tree, included)?;
            }
        }
        self.apply_extends(&mut tree, env, chain)?;
        chain.pop();
        Ok(tree)
    }

    /// `include:` entries loaded as their own little projects (their own directory and
    /// env files) to be merged into the including file.
    fn includes(&mut self, inc: &Node, base: &Path, chain: &mut Vec<String>) -> Result<Vec<Node>> {
        let Some(items) = inc.as_seq() else {
            return err(inc, "include must be a list");
        };
        let mut out = Vec::new();
        for item in items {
            let (paths, dir, env_files) = if item.as_map().is_some() {
                let mut f = de::Fields::new(item, "an include")?;
                let paths = match f.get("path") {
                    Some(p) => de::strings(p, true)?,
                    None => return err(item, "an include needs path"),
                };
                let dir = f.get("project_directory").map(de::string).transpose()?;
                let env_files = f
                    .get("env_file")
                    .map(|e| de::strings(e, true))
                    .transpose()?
                    .unwrap_or_default();
                f.finish("include", &mut self.warnings);
                (paths, dir, env_files)
            } else {
                (vec![de::string(item)?], None, Vec::new())
            };
            if paths.is_empty() {
                return err(item, "an include needs at least one path");
            }
            let files: Vec<PathBuf> = paths
                .iter()
                .map(|p| PathBuf::from(mounts::absolute(p, base, None)))
                .collect();
            let dir = match dir {
                Some(d) => PathBuf::from(mounts::absolute(&d, base, None)),
                None => files[0]
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or(base.to_path_buf()),
            };
            let env_paths: Vec<PathBuf> = if env_files.is_empty() {
                vec![dir.join(".env")]
            } else {
                env_files
                    .iter()
                    .map(|e| PathBuf::from(mounts::absolute(e, base, None)))
                    .collect()
            };
            let inc_env = read_env_files(&env_paths, &self.opts.env, !env_files.is_empty())?;
            let mut merged: Option<Node> = None;
            for file in &files {
                let key = file.display().to_string();
                if chain.contains(&key) {
                    return err(
                        item,
                        format!("include cycle: {} -> {key}", chain.join(" -> ")),
                    );
                }
                let tree = self.load_file(&key, &inc_env, &dir, chain)?;
                match &mut merged {
                    None => merged = Some(tree),
                    Some(m) => merge::merge_file(m, tree),
                }
            }
            out.extend(merged);
        }
        Ok(out)
    }

    fn apply_extends(
        &mut self,
        tree: &mut Node,
        env: &HashMap<String, String>,
        chain: &mut Vec<String>,
    ) -> Result<()> {
        let names: Vec<String> = tree
            .get("services")
            .and_then(Node::as_map)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for n in names {
            self.extend_one(tree, &n, env, chain, &mut Vec::new())?;
        }
        Ok(())
    }

    fn extend_one(
        &mut self,
        tree: &mut Node,
        name: &str,
        env: &HashMap<String, String>,
        chain: &mut Vec<String>,
        seen: &mut Vec<String>,
    ) -> Result<()> {
        let services = tree
            .as_map_mut()
            .and_then(|m| m.get_mut("services"))
            .and_then(Node::as_map_mut)
            .expect("a service's tree has services");
        let Some(ext) = services
            .get_mut(name)
            .and_then(Node::as_map_mut)
            .and_then(|m| m.shift_remove("extends"))
        else {
            return Ok(());
        };
        let (base_name, file) = match ext.as_map() {
            Some(_) => {
                let mut f = de::Fields::new(&ext, "extends")?;
                let s = match f.get("service") {
                    Some(s) => de::string(s)?,
                    None => return err(&ext, "extends needs service"),
                };
                let file = f.get("file").map(de::string).transpose()?;
                f.finish("extends", &mut self.warnings);
                (s, file)
            }
            None => (de::string(&ext)?, None),
        };
        let base = match file {
            None => {
                if seen.contains(&base_name) || base_name == name {
                    return err(
                        &ext,
                        format!(
                            "extends cycle: {} -> {name} -> {base_name}",
                            seen.join(" -> ")
                        ),
                    );
                }
                seen.push(name.to_string());
                let exists = tree
                    .get("services")
                    .and_then(|s| s.get(&base_name))
                    .is_some();
                if !exists {
                    return err(
                        &ext,
                        format!("service {name:?} extends undefined service {base_name:?}"),
                    );
                }
                self.extend_one(tree, &base_name, env, chain, seen)?;
                seen.pop();
                tree.get("services")
                    .and_then(|s| s.get(&base_name))
                    .cloned()
                    .expect("checked above")
            }
            Some(path) => {
                if chain.contains(&path) {
                    return err(&ext, format!("extends cycle through {path}"));
                }
                let dir = Path::new(&path)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or(self.cwd.clone());
                let other = self.load_file(&path, env, &dir, chain)?;
                match other.get("services").and_then(|s| s.get(&base_name)) {
                    Some(b) => b.clone(),
                    None => return err(&ext, format!("{path} has no service {base_name:?}")),
                }
            }
        };
        let services = tree
            .as_map_mut()
            .and_then(|m| m.get_mut("services"))
            .and_then(Node::as_map_mut)
            .expect("checked");
        let own = services.get_mut(name).expect("the service being extended");
        let mut merged = base;
        merged.key_pos = own.key_pos.clone();
        merged.pos = own.pos.clone();
        merge::merge_service(&mut merged, own.clone());
        *own = merged;
        Ok(())
    }
}

/// An included project's resources added to the including file's; one defined in both is an
/// error, as compose gives.
fn merge_included(tree: &mut Node, included: Node) -> Result<()> {
    let Value::Map(inc) = included.value else {
        return Ok(());
    };
    let root = tree.as_map_mut().expect("a file's tree is a mapping");
    for (section, v) in inc {
        let Value::Map(items) = v.value else { continue };
        if !["services", "networks", "volumes", "secrets", "configs"].contains(&section.as_str()) {
            continue;
        }
        let pos = v.pos.clone();
        let target = root
            .entry(section.clone())
            .or_insert_with(|| Node::map(pos, IndexMap::new()));
        if target.is_null() {
            target.value = Value::Map(IndexMap::new());
        }
        let Some(t) = target.as_map_mut() else {
            return err(target, format!("{section} must be a mapping"));
        };
        for (k, item) in items {
            if let Some(existing) = t.get(&k) {
                return Err(Error::Invalid {
                    pos: existing.key_pos.clone(),
                    message: format!(
                        "{section}.{k} conflicts with the one included from {}",
                        item.key_pos.line_only()
                    ),
                });
            }
            t.insert(k, item);
        }
    }
    Ok(())
}
