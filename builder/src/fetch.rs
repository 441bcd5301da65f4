//! ADD from http(s) URLs: the body streamed to a file while hashed, checked against
//! `--checksum` when given, with Docker's mode (0600) and the Last-Modified time.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rbox_image::Digest;
use sha2::{Digest as _, Sha256};

/// Whether an ADD source is a URL to fetch.
pub fn is_url(source: &str) -> bool {
    let lower = source.get(..8).unwrap_or(source).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The file name a URL ends with (`https://x/a/b.tar.gz?x=1` → `b.tar.gz`), if any.
pub fn url_file_name(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .split_once('/')
        .map_or("", |(_, p)| p);
    let name = path.rsplit('/').next().unwrap_or_default();
    (!name.is_empty() && name != "." && name != "..").then(|| name.to_owned())
}

/// `--checksum=sha256:HEX` as a digest.
pub fn parse_checksum(c: &str) -> Result<Digest, String> {
    match c.split_once(':') {
        Some(("sha256", _)) => c
            .parse::<Digest>()
            .map_err(|_| format!("--checksum={c}: not a sha256 digest")),
        Some((algo, _)) => Err(format!(
            "--checksum={c}: unsupported digest algorithm {algo:?} (sha256 only)"
        )),
        None => Err(format!("--checksum={c}: expected sha256:<64 hex digits>")),
    }
}

/// A URL's body in a file.
#[derive(Debug)]
pub struct Fetched {
    /// The file (mode 0600, mtime from Last-Modified when the server sent one).
    pub path: PathBuf,
    /// The sha256 of its content.
    pub digest: Digest,
}

fn agent() -> ureq::Agent {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(roots) = system_roots() {
        tls = tls.root_certs(roots);
    }
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(120)))
        .user_agent(concat!("rbox/", env!("CARGO_PKG_VERSION")))
        // The file must arrive as the server has it, not decoded.
        .accept_encoding("identity")
        .tls_config(tls.build())
        .build()
        .new_agent()
}

/// The system's CA bundle (or `$SSL_CERT_FILE`); ureq's built-in roots otherwise.
fn system_roots() -> Option<ureq::tls::RootCerts> {
    let path = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    let pem = fs::read(path).ok()?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    (!certs.is_empty()).then(|| ureq::tls::RootCerts::new_with_certs(&certs))
}

/// Fetches `url` into the new file `dest`, hashing it on the way; with `expected`, a body
/// of another digest is refused and its file removed.
pub fn fetch(url: &str, dest: &Path, expected: Option<&Digest>) -> Result<Fetched, String> {
    let result = fetch_into(url, dest, expected);
    if result.is_err() {
        let _ = fs::remove_file(dest);
    }
    result
}

fn fetch_into(url: &str, dest: &Path, expected: Option<&Digest>) -> Result<Fetched, String> {
    let resp = agent().get(url).call().map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("{url}: the server answered {status}"));
    }
    let modified = resp
        .headers()
        .get("last-modified")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .map(|t| t.timestamp());
    let mut body = resp.into_body().into_reader();
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("{url}: {e}")),
        };
        h.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    let digest = Digest::from_hex(&hex::encode(h.finalize())).expect("sha256 is 64 hex digits");
    if let Some(exp) = expected {
        if *exp != digest {
            return Err(format!(
                "{url}: checksum mismatch: expected {exp}, got {digest}"
            ));
        }
    }
    // As Docker: 0600 whatever the umask, the server's modification time when it gave one.
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    if let Some(t) = modified {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(t.max(0) as u64);
        file.set_modified(t)
            .map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    Ok(Fetched {
        path: dest.to_path_buf(),
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_their_file_names() {
        assert!(is_url("https://example.com/x") && is_url("HTTP://example.com"));
        assert!(!is_url("httpfile") && !is_url("./http://x"));
        assert_eq!(
            url_file_name("https://example.com/a/b.tar.gz?x=1#f").as_deref(),
            Some("b.tar.gz")
        );
        assert_eq!(url_file_name("https://example.com/a/"), None);
        assert_eq!(url_file_name("https://example.com"), None);
        assert_eq!(url_file_name("http://h:80/f").as_deref(), Some("f"));
    }

    #[test]
    fn checksums_are_sha256_digests() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert!(parse_checksum(&d).is_ok());
        assert!(parse_checksum("sha512:abc")
            .unwrap_err()
            .contains("sha256 only"));
        assert!(parse_checksum("abc").is_err());
        assert!(parse_checksum("sha256:xyz").is_err());
    }
}
