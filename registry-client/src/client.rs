//! The HTTP side of the distribution API: the connection to one registry, its scheme
//! (plain HTTP for loopback and insecure registries), authentication, and error replies.

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use ureq::http::{header, Response};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::Body;

use crate::auth::{Challenge, Credentials};
use crate::error::{Error, Result};

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct Options {
    /// Verify TLS certificates. `false` (podman's `--tls-verify=false`) also allows plain
    /// HTTP when the registry doesn't speak TLS.
    pub tls_verify: bool,
    /// Credentials for the registry, if any.
    pub credentials: Option<Credentials>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tls_verify: true,
            credentials: None,
        }
    }
}

/// How requests are authorized, learned from the registry's first challenge.
#[derive(Debug, Clone, Default)]
enum AuthState {
    /// Nothing asked for yet.
    #[default]
    Anonymous,
    /// Basic credentials with every request.
    Basic,
    /// Bearer tokens from a token service, one per scope.
    Bearer {
        realm: String,
        service: Option<String>,
        tokens: HashMap<String, String>,
    },
}

/// A connection to one registry.
pub struct Client {
    agent: ureq::Agent,
    registry: String,
    base: String,
    credentials: Option<Credentials>,
    auth: Mutex<AuthState>,
}

/// Whether `registry` (host[:port]) is this machine, spoken to in plain HTTP as Docker
/// does: a loopback address, or a name whose addresses are all loopback. The name alone
/// decides nothing: `x.localhost` that resolves to another machine gets HTTPS.
pub fn is_loopback(registry: &str) -> bool {
    loopback_by(registry, resolve)
}

/// The host of `host[:port]` or `[v6]:port`.
fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    }
}

/// The addresses `host` resolves to (none if it doesn't).
fn resolve(host: &str) -> Vec<IpAddr> {
    (host, 0)
        .to_socket_addrs()
        .map(|a| a.map(|a| a.ip()).collect())
        .unwrap_or_default()
}

/// [`is_loopback`] with the resolver given.
fn loopback_by(registry: &str, resolve: impl Fn(&str) -> Vec<IpAddr>) -> bool {
    let host = host_of(api_host(registry));
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    let addrs = resolve(host);
    !addrs.is_empty() && addrs.iter().all(IpAddr::is_loopback)
}

/// The resolver of a registry spoken to in plain HTTP because it is loopback: every
/// connection to it checks again that all its addresses are loopback, so a name that
/// resolves elsewhere later (DNS rebinding) is never sent plain HTTP. Other hosts (a token
/// service) resolve as usual.
#[derive(Debug)]
struct LoopbackOnly {
    host: String,
}

impl Resolver for LoopbackOnly {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        let addrs = DefaultResolver::default().resolve(uri, config, timeout)?;
        let ours = uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .is_some_and(|h| h.eq_ignore_ascii_case(&self.host));
        if ours && uri.scheme_str() == Some("http") {
            if let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback()) {
                return Err(ureq::Error::Io(std::io::Error::other(format!(
                    "{} resolves to {}, not only to loopback addresses: plain HTTP refused",
                    self.host,
                    a.ip()
                ))));
            }
        }
        Ok(addrs)
    }
}

fn agent(verify: bool, loopback_only: Option<&str>) -> ureq::Agent {
    let mut tls = ureq::tls::TlsConfig::builder().disable_verification(!verify);
    if let Some(roots) = system_roots() {
        tls = tls.root_certs(roots);
    }
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(120)))
        .user_agent(concat!("rbox/", env!("CARGO_PKG_VERSION")))
        .accept_encoding("identity")
        .tls_config(tls.build())
        .build();
    match loopback_only {
        Some(host) => ureq::Agent::with_parts(
            config,
            DefaultConnector::default(),
            LoopbackOnly {
                host: host.to_owned(),
            },
        ),
        None => config.new_agent(),
    }
}

/// The system's CA bundle (Debian's, or `$SSL_CERT_FILE`), so registries behind a private
/// CA that the system trusts work; Mozilla's roots built into ureq otherwise.
fn system_roots() -> Option<ureq::tls::RootCerts> {
    let path = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    let pem = std::fs::read(path).ok()?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    (!certs.is_empty()).then(|| ureq::tls::RootCerts::new_with_certs(&certs))
}

/// The host the API of `registry` is served from (Docker Hub's differs from its name).
fn api_host(registry: &str) -> &str {
    if registry == "docker.io" {
        "registry-1.docker.io"
    } else {
        registry
    }
}

/// A response as the caller gets it.
pub type Reply = Response<Body>;

/// Adds an `Authorization` header, if there is one.
pub fn authorized<B>(req: ureq::RequestBuilder<B>, auth: Option<&str>) -> ureq::RequestBuilder<B> {
    match auth {
        Some(a) => req.header(header::AUTHORIZATION, a),
        None => req,
    }
}

impl Client {
    /// Connects to `registry` (host[:port] as in a reference): picks the scheme and learns
    /// how the registry wants requests authorized, with one `GET /v2/`.
    pub fn connect(registry: &str, opts: &Options) -> Result<Client> {
        let host = api_host(registry);
        // (base, verify TLS, plain HTTP only while the host stays loopback)
        let mut candidates: Vec<(String, bool, bool)> = Vec::new();
        if is_loopback(registry) {
            candidates.push((format!("http://{host}"), true, true));
        } else {
            candidates.push((format!("https://{host}"), opts.tls_verify, false));
            if !opts.tls_verify {
                candidates.push((format!("http://{host}"), false, false));
            }
        }
        let mut last: Option<Error> = None;
        for (base, verify, loopback_only) in candidates {
            let client = Client {
                agent: agent(verify, loopback_only.then_some(host_of(host))),
                registry: registry.to_owned(),
                base,
                credentials: opts.credentials.clone(),
                auth: Mutex::new(AuthState::Anonymous),
            };
            match client.ping() {
                Ok(()) => return Ok(client),
                Err(e @ Error::Transport { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        let mut e = last.expect("at least one scheme is tried");
        if let Error::Transport { message, .. } = &mut e {
            // A TLS failure: the registry may serve plain HTTP, or have a certificate the
            // system doesn't trust.
            let tls = [
                "corrupt message",
                "InvalidContentType",
                "certificate",
                "Tls",
                "tls",
            ];
            if opts.tls_verify && tls.iter().any(|t| message.contains(t)) {
                message.push_str(
                    " (TLS failed: for a registry with plain HTTP or an untrusted certificate, \
                     list it as insecure in registries.json or use --tls-verify=false)",
                );
            }
        }
        Err(e)
    }

    /// The registry's name.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// `scheme://host`.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn transport(&self, e: ureq::Error) -> Error {
        let message = match &e {
            ureq::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    "connection refused (is the registry running?)".to_owned()
                }
                _ => io.to_string(),
            },
            other => other.to_string(),
        };
        Error::Transport {
            registry: self.registry.clone(),
            message,
        }
    }

    /// `GET /v2/`: checks that a registry answers, and records its challenge.
    fn ping(&self) -> Result<()> {
        let url = format!("{}/v2/", self.base);
        let resp = self.agent.get(&url).call().map_err(|e| self.transport(e))?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            401 => {
                self.learn(&resp)?;
                Ok(())
            }
            s => Err(Error::Registry {
                what: format!("registry {}", self.registry),
                status: s,
                code: None,
                message: format!("{url} answered {s}: not a registry (v2 API)"),
            }),
        }
    }

    /// Records the challenge of a 401 reply.
    fn learn(&self, resp: &Reply) -> Result<Option<String>> {
        let challenge = resp
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(Challenge::parse);
        let mut state = self.auth.lock().expect("auth state lock");
        match challenge {
            Some(Challenge::Basic) => {
                *state = AuthState::Basic;
                Ok(None)
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let tokens = match &*state {
                    AuthState::Bearer { tokens, .. } => tokens.clone(),
                    _ => HashMap::new(),
                };
                *state = AuthState::Bearer {
                    realm,
                    service,
                    tokens,
                };
                Ok(scope)
            }
            None => Err(Error::Unauthorized {
                registry: self.registry.clone(),
                message: "authentication required, with no challenge this client knows".into(),
            }),
        }
    }

    /// The `Authorization` header for a request needing `scope`, fetching a token if the
    /// registry uses bearer tokens (`refresh`: even if one is cached).
    fn authorization(&self, scope: &str, refresh: bool) -> Result<Option<String>> {
        let state = self.auth.lock().expect("auth state lock").clone();
        match state {
            AuthState::Anonymous => Ok(None),
            AuthState::Basic => Ok(self.credentials.as_ref().map(Credentials::basic)),
            AuthState::Bearer {
                realm,
                service,
                tokens,
            } => {
                if !refresh {
                    if let Some(t) = tokens.get(scope) {
                        return Ok(Some(format!("Bearer {t}")));
                    }
                }
                let token = self.fetch_token(&realm, service.as_deref(), Some(scope))?;
                if let AuthState::Bearer { tokens, .. } =
                    &mut *self.auth.lock().expect("auth state lock")
                {
                    tokens.insert(scope.to_owned(), token.clone());
                }
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// Asks the token service for a token (with our credentials, if any).
    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: Option<&str>,
    ) -> Result<String> {
        let mut req = self.agent.get(realm);
        if let Some(s) = service {
            req = req.query("service", s);
        }
        if let Some(s) = scope {
            req = req.query("scope", s);
        }
        if let Some(c) = &self.credentials {
            req = req
                .query("account", &c.username)
                .header(header::AUTHORIZATION, c.basic());
        }
        let mut resp = req.call().map_err(|e| self.transport(e))?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(Error::Unauthorized {
                registry: self.registry.clone(),
                message: if self.credentials.is_some() {
                    "the token service refused the credentials".into()
                } else {
                    "authentication required: run rbox login".into()
                },
            });
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body = read_small(&mut resp)?;
        if !(200..300).contains(&status) {
            return Err(Error::Unauthorized {
                registry: self.registry.clone(),
                message: format!(
                    "token service {realm} answered {status}: {}",
                    String::from_utf8_lossy(&body).trim()
                ),
            });
        }
        let t: Token = serde_json::from_slice(&body).map_err(|e| Error::Unauthorized {
            registry: self.registry.clone(),
            message: format!("token service {realm}: malformed reply: {e}"),
        })?;
        t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Unauthorized {
                registry: self.registry.clone(),
                message: format!("token service {realm} gave no token"),
            })
    }

    /// Checks the credentials: with basic auth against `/v2/`, with bearer tokens against
    /// the token service. Used by `login`.
    pub fn check_credentials(&self) -> Result<()> {
        let state = self.auth.lock().expect("auth state lock").clone();
        match state {
            AuthState::Anonymous => Ok(()),
            AuthState::Basic => {
                let auth = self.credentials.as_ref().map(Credentials::basic);
                let mut req = self.agent.get(format!("{}/v2/", self.base));
                if let Some(a) = auth {
                    req = req.header(header::AUTHORIZATION, a);
                }
                let resp = req.call().map_err(|e| self.transport(e))?;
                match resp.status().as_u16() {
                    200..=299 => Ok(()),
                    _ => Err(Error::Unauthorized {
                        registry: self.registry.clone(),
                        message: "wrong user name or password".into(),
                    }),
                }
            }
            AuthState::Bearer { realm, service, .. } => self
                .fetch_token(&realm, service.as_deref(), None)
                .map(|_| ()),
        }
    }

    /// `scheme://host/v2/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v2/{}", self.base, path)
    }

    /// Sends a request built by `send` (given the `Authorization` header to set, if any),
    /// answering one 401 by authenticating and sending it again. `send` is called again
    /// for the retry, so a streamed body is opened afresh.
    pub fn send(
        &self,
        scope: &str,
        send: impl Fn(Option<&str>) -> std::result::Result<Reply, ureq::Error>,
    ) -> Result<Reply> {
        let auth = self.authorization(scope, false)?;
        let resp = send(auth.as_deref()).map_err(|e| self.transport(e))?;
        if resp.status().as_u16() != 401 {
            return Ok(resp);
        }
        let asked = self.learn(&resp)?;
        let state = self.auth.lock().expect("auth state lock").clone();
        if matches!(state, AuthState::Basic) && self.credentials.is_none() {
            return Err(Error::Unauthorized {
                registry: self.registry.clone(),
                message: format!("authentication required: run rbox login {}", self.registry),
            });
        }
        let scope = asked.unwrap_or_else(|| scope.to_owned());
        let auth = self.authorization(&scope, true)?;
        let resp = send(auth.as_deref()).map_err(|e| self.transport(e))?;
        if resp.status().as_u16() == 401 {
            return Err(Error::Unauthorized {
                registry: self.registry.clone(),
                message: if self.credentials.is_some() {
                    "the registry refused the credentials".into()
                } else {
                    format!("authentication required: run rbox login {}", self.registry)
                },
            });
        }
        Ok(resp)
    }

    /// The agent, for requests `request` doesn't fit.
    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// Turns an unexpected reply into an error naming `what`, with the registry's message.
    pub fn error(&self, what: &str, mut resp: Reply) -> Error {
        let status = resp.status().as_u16();
        #[derive(Deserialize)]
        struct Errors {
            errors: Vec<One>,
        }
        #[derive(Deserialize)]
        struct One {
            code: Option<String>,
            message: Option<String>,
        }
        let body = read_small(&mut resp).unwrap_or_default();
        let parsed: Option<Errors> = serde_json::from_slice(&body).ok();
        let code = parsed
            .as_ref()
            .and_then(|e| e.errors.first())
            .and_then(|e| e.code.clone());
        let message = match parsed {
            Some(e) if !e.errors.is_empty() => e
                .errors
                .iter()
                .map(|x| {
                    x.message
                        .clone()
                        .or_else(|| x.code.clone())
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => match status {
                404 => "not found".to_owned(),
                _ => {
                    let text = String::from_utf8_lossy(&body);
                    let first = text.lines().next().unwrap_or("").trim();
                    if first.is_empty() {
                        format!("the registry answered {status}")
                    } else {
                        format!("the registry answered {status}: {first}")
                    }
                }
            },
        };
        Error::Registry {
            what: what.to_owned(),
            status,
            code,
            message,
        }
    }
}

/// Reads a small reply body whole (at most 8 MiB, the store's document limit); a reply
/// whose `Content-Length` is over the limit is refused before its body is read.
pub fn read_small(resp: &mut Reply) -> Result<Vec<u8>> {
    let limit = rbox_image::store::MAX_DOCUMENT_SIZE;
    let announced = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = announced.filter(|n| *n > limit) {
        return Err(Error::Manifest(format!(
            "a reply of the registry is {n} bytes, over the limit of {limit}"
        )));
    }
    let mut buf = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(limit + 1)
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(Error::Manifest(format!(
            "a reply of the registry is over {limit} bytes"
        )));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_recognized() {
        // Only literals and `localhost` (from /etc/hosts): nothing is looked up in DNS.
        for r in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
        ] {
            assert!(is_loopback(r), "{r}");
        }
        for r in [
            "10.0.0.1:5000",
            "[::ffff:127.0.0.1]:5000",
            "[2001:db8::1]:443",
        ] {
            assert!(!is_loopback(r), "{r}");
        }
    }

    /// A resolver answering from a table, so no name is looked up on the network.
    fn table(host: &str) -> Vec<IpAddr> {
        let ips: &[&str] = match host {
            "localhost" => &["127.0.0.1", "::1"],
            "x.localhost" | "v6.localhost" => &["::1"],
            "evil.localhost" => &["10.0.0.1"],
            "half.localhost" => &["127.0.0.1", "192.0.2.7"],
            "mapped.localhost" => &["::ffff:127.0.0.1"],
            "lan-name" => &["127.0.1.1"],
            "registry-1.docker.io" => &["203.0.113.9"],
            _ => &[],
        };
        ips.iter().map(|i| i.parse().unwrap()).collect()
    }

    #[test]
    fn plain_http_is_decided_by_the_resolved_addresses_not_the_name() {
        for r in [
            "localhost",
            "localhost:5000",
            "x.localhost:5000",
            "v6.localhost",
            "lan-name:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
        ] {
            assert!(loopback_by(r, table), "{r}");
        }
        // Names ending in localhost that resolve to another machine (or partly to one),
        // names that don't resolve, and the rest: HTTPS.
        for r in [
            "evil.localhost",
            "evil.localhost:5000",
            "half.localhost:5000",
            "mapped.localhost:5000",
            "gone.localhost:5000",
            "docker.io",
            "quay.io",
        ] {
            assert!(!loopback_by(r, table), "{r}");
        }
    }

    #[test]
    fn the_plain_http_resolver_refuses_a_host_that_stopped_being_loopback() {
        // A literal address needs no lookup: 192.0.2.1 (TEST-NET) is never contacted.
        let r = LoopbackOnly {
            host: "192.0.2.1".into(),
        };
        let config = ureq::config::Config::default();
        let uri: ureq::http::Uri = "http://192.0.2.1:5000/v2/".parse().unwrap();
        let err = r
            .resolve(&uri, &config, NextTimeout::default())
            .unwrap_err();
        assert!(err.to_string().contains("plain HTTP refused"), "{err}");
        // The same host over HTTPS (a token service), and other hosts, resolve as usual.
        let uri: ureq::http::Uri = "https://192.0.2.1/token".parse().unwrap();
        assert!(r.resolve(&uri, &config, NextTimeout::default()).is_ok());
        let r = LoopbackOnly {
            host: "127.0.0.1".into(),
        };
        let uri: ureq::http::Uri = "http://127.0.0.1:5000/v2/".parse().unwrap();
        assert!(r.resolve(&uri, &config, NextTimeout::default()).is_ok());
    }
}
