//! Credentials: the Docker-compatible `auth.json`, and the registry's challenges.
//!
//! The file is `{"auths": {"host:port": {"auth": base64("user:password")}}}`, as docker,
//! podman and skopeo write it; entries and keys this client doesn't know are kept as they
//! are. It is replaced atomically with mode 0600.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}:***)", self.username)
    }
}

impl Credentials {
    /// The value of an `Authorization: Basic` header.
    pub fn basic(&self) -> String {
        format!(
            "Basic {}",
            base64_encode(format!("{}:{}", self.username, self.password).as_bytes())
        )
    }
}

/// Where credentials are kept: `$REGISTRY_AUTH_FILE` if set, else `<root>/auth.json`.
pub fn default_auth_file(root: &Path) -> PathBuf {
    match std::env::var_os("REGISTRY_AUTH_FILE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => root.join("auth.json"),
    }
}

/// The key a registry has in `auths`: Docker Hub is known under several names.
fn keys_for(registry: &str) -> Vec<String> {
    if registry == "docker.io" {
        vec![
            "docker.io".into(),
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "registry-1.docker.io".into(),
        ]
    } else {
        vec![registry.to_owned()]
    }
}

/// `https://host:port/v1/` → `host:port`, as docker keys entries.
fn normalize_key(k: &str) -> &str {
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    k.split('/').next().unwrap_or(k)
}

/// An `auth.json` file.
#[derive(Debug, Clone)]
pub struct AuthFile {
    path: PathBuf,
}

impl AuthFile {
    /// The file at `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> AuthFile {
        AuthFile { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<Value> {
        match fs::read(&self.path) {
            Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(json!({})),
            Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::AuthFile {
                path: self.path.clone(),
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(json!({})),
            Err(source) => Err(Error::AuthFile {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// The credentials stored for `registry`, if any. Docker's own
    /// `~/.docker/config.json` is consulted after this file.
    pub fn get(&self, registry: &str) -> Result<Option<Credentials>> {
        if let Some(c) = lookup(&self.read()?, registry) {
            return Ok(Some(c));
        }
        if let Some(home) = std::env::var_os("HOME") {
            let docker = Path::new(&home).join(".docker/config.json");
            if docker != self.path {
                if let Ok(Some(c)) = AuthFile::new(docker).read().map(|v| lookup(&v, registry)) {
                    return Ok(Some(c));
                }
            }
        }
        Ok(None)
    }

    /// Stores `creds` for `registry`.
    pub fn set(&self, registry: &str, creds: &Credentials) -> Result<()> {
        let mut v = self.read()?;
        if !v.is_object() {
            v = json!({});
        }
        if !v["auths"].is_object() {
            v["auths"] = json!({});
        }
        let key = keys_for(registry).remove(0);
        let auth = base64_encode(format!("{}:{}", creds.username, creds.password).as_bytes());
        v["auths"][key] = json!({ "auth": auth });
        self.write(&v)
    }

    /// Removes the credentials of `registry`; returns whether there were any.
    pub fn remove(&self, registry: &str) -> Result<bool> {
        let mut v = self.read()?;
        let keys = keys_for(registry);
        let Some(auths) = v.get_mut("auths").and_then(Value::as_object_mut) else {
            return Ok(false);
        };
        let before = auths.len();
        auths.retain(|k, _| !keys.iter().any(|x| x == normalize_key(k) || x == k));
        if auths.len() == before {
            return Ok(false);
        }
        self.write(&v)?;
        Ok(true)
    }

    fn write(&self, v: &Value) -> Result<()> {
        let err = |source| Error::AuthFile {
            path: self.path.clone(),
            source,
        };
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(err)?;
        let tmp = dir.join(format!(".auth.json.tmp-{}", std::process::id()));
        let res = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&serde_json::to_vec_pretty(v).expect("json serializes"))?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp);
            return Err(err(e));
        }
        Ok(())
    }
}

fn lookup(v: &Value, registry: &str) -> Option<Credentials> {
    let auths = v.get("auths")?.as_object()?;
    let keys = keys_for(registry);
    let entry = keys.iter().find_map(|k| auths.get(k)).or_else(|| {
        auths
            .iter()
            .find(|(k, _)| keys.iter().any(|x| x == normalize_key(k)))
            .map(|(_, e)| e)
    })?;
    let raw = base64_decode(entry.get("auth")?.as_str()?)?;
    let s = String::from_utf8(raw).ok()?;
    let (user, pass) = s.split_once(':')?;
    Some(Credentials {
        username: user.to_owned(),
        password: pass.to_owned(),
    })
}

/// Reads a line from the terminal on standard input without echoing it (for a password
/// prompt); the terminal's mode is restored afterwards.
pub fn read_secret_line() -> io::Result<String> {
    use rustix::termios::{self, LocalModes, OptionalActions};
    let stdin = io::stdin();
    let saved = termios::tcgetattr(&stdin).ok();
    if let Some(t) = &saved {
        let mut quiet = t.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        let _ = termios::tcsetattr(&stdin, OptionalActions::Now, &quiet);
    }
    let mut line = String::new();
    let res = stdin.read_line(&mut line);
    if let Some(t) = &saved {
        let _ = termios::tcsetattr(&stdin, OptionalActions::Now, t);
    }
    res?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="…"`: send the credentials with every request.
    Basic,
    /// `Bearer realm="…",service="…",scope="…"`: get a token from `realm`.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The `service` parameter to pass on.
        service: Option<String>,
        /// The scope the refused request needed.
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses a `WWW-Authenticate` header value.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let params = parse_params(rest);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Some(Challenge::Basic),
            "bearer" => Some(Challenge::Bearer {
                realm: params.get("realm")?.clone(),
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            }),
            _ => None,
        }
    }
}

/// `k="v", k2=v2` (quoted values may hold commas).
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, c2)) = chars.next() {
                            v.push(c2);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            (v, &q[end.min(q.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.insert(k, v);
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional); `None` if malformed.
pub fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in input.trim().bytes() {
        if c == b'=' {
            break;
        }
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in [
            "",
            "f",
            "fo",
            "foo",
            "foob",
            "fooba",
            "foobar",
            "user:pa:ss",
        ] {
            let e = base64_encode(s.as_bytes());
            assert_eq!(base64_decode(&e).unwrap(), s.as_bytes(), "{e}");
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
    }

    #[test]
    fn challenges_parse() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
    }

    #[test]
    fn auth_file_keeps_other_entries_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.json");
        fs::write(
            &p,
            r#"{"auths":{"other:1":{"auth":"eDp5"}},"credHelpers":{"x":"y"}}"#,
        )
        .unwrap();
        let f = AuthFile::new(&p);
        let c = Credentials {
            username: "me".into(),
            password: "secret".into(),
        };
        f.set("localhost:5000", &c).unwrap();
        assert_eq!(f.get("localhost:5000").unwrap(), Some(c));
        assert_eq!(f.get("other:1").unwrap().unwrap().username, "x");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(f.remove("localhost:5000").unwrap());
        assert!(!f.remove("localhost:5000").unwrap());
        let v: Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["credHelpers"]["x"], "y");
        assert!(v["auths"]["other:1"].is_object());
    }
}
