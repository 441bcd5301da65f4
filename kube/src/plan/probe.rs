//! Probes as health checks: what to run inside the container, and how often.

use serde::{Deserialize, Serialize};

use crate::types::Probe;

/// A liveness, readiness or startup probe, with Kubernetes' defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub test: ProbeTest,
    /// The argv to run inside the container for this test (exec: the command itself).
    pub command: Vec<String>,
    /// periodSeconds (10).
    pub interval_seconds: u32,
    /// timeoutSeconds (1).
    pub timeout_seconds: u32,
    /// failureThreshold (3): failures in a row before the container counts as failed.
    pub retries: u32,
    /// successThreshold (1): successes in a row before it counts as passing again.
    pub success_threshold: u32,
    /// initialDelaySeconds (0): no test before.
    pub start_period_seconds: u32,
}

/// The probe's handler, its port resolved against the container's ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProbeTest {
    Exec(Vec<String>),
    Http {
        https: bool,
        host: String,
        port: u16,
        path: String,
        headers: Vec<(String, String)>,
    },
    Tcp {
        host: String,
        port: u16,
    },
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl ProbeTest {
    /// An argv that runs the test inside the container: exec as is; httpGet and tcpSocket
    /// through `sh` and `nc` (busybox's and the BSD one: `-z` where it has it, `-e true`
    /// where it has not), so that images without curl or wget work. HTTP counts 200 to 399
    /// as success, as the kubelet does; HTTPS needs a wget in the image.
    pub fn command(&self, timeout: u32) -> Vec<String> {
        let sh = |script: String| vec!["/bin/sh".to_string(), "-c".to_string(), script];
        match self {
            ProbeTest::Exec(argv) => argv.clone(),
            ProbeTest::Tcp { host, port } => sh(format!(
                "nc -z -w {timeout} {h} {port} 2>/dev/null || nc -w {timeout} {h} {port} -e true </dev/null",
                h = quote(host)
            )),
            ProbeTest::Http { https: true, host, port, path, .. } => sh(format!(
                "wget -q -T {timeout} --no-check-certificate -O /dev/null {}",
                quote(&format!("https://{host}:{port}{path}"))
            )),
            ProbeTest::Http { https: false, host, port, path, headers } => {
                let mut request = format!("GET {path} HTTP/1.0\\r\\nHost: {host}:{port}\\r\\n");
                for (k, v) in headers {
                    request.push_str(&format!("{k}: {v}\\r\\n"));
                }
                request.push_str("\\r\\n");
                sh(format!(
                    "printf {} | nc -w {timeout} {} {port} | head -n 1 | grep -q '^HTTP/[0-9.]* [23][0-9][0-9]'",
                    quote(&request),
                    quote(host)
                ))
            }
        }
    }
}

/// A probe's health check; `port` resolves a named port; None when the port names nothing.
pub(crate) fn resolve(
    p: &Probe,
    port: impl Fn(&crate::IntOrString) -> Option<u16>,
) -> Result<HealthCheck, String> {
    let test = if let Some(e) = &p.exec {
        ProbeTest::Exec(e.command.clone())
    } else if let Some(h) = &p.http_get {
        ProbeTest::Http {
            https: h
                .scheme
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("https")),
            // The probe runs inside the pod's network namespace: the pod's address is localhost.
            host: h.host.clone().unwrap_or_else(|| "127.0.0.1".into()),
            port: port(&h.port)
                .ok_or_else(|| format!("port {} names no port of the container", h.port))?,
            path: h
                .path
                .clone()
                .filter(|p| p.starts_with('/'))
                .unwrap_or_else(|| "/".into()),
            headers: h
                .http_headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
        }
    } else if let Some(t) = &p.tcp_socket {
        ProbeTest::Tcp {
            host: t.host.clone().unwrap_or_else(|| "127.0.0.1".into()),
            port: port(&t.port)
                .ok_or_else(|| format!("port {} names no port of the container", t.port))?,
        }
    } else if p.grpc.is_some() {
        // Left out by the caller, with a warning.
        ProbeTest::Exec(Vec::new())
    } else {
        return Err("no handler".into());
    };
    let n = |v: Option<i32>, d: u32| v.map_or(d, |v| v.max(0) as u32);
    let timeout = n(p.timeout_seconds, 1).max(1);
    Ok(HealthCheck {
        command: test.command(timeout),
        test,
        interval_seconds: n(p.period_seconds, 10).max(1),
        timeout_seconds: timeout,
        retries: n(p.failure_threshold, 3).max(1),
        success_threshold: n(p.success_threshold, 1).max(1),
        start_period_seconds: n(p.initial_delay_seconds, 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{HttpGetAction, TcpSocketAction};
    use crate::IntOrString;

    #[test]
    fn defaults_and_commands() {
        let p = Probe {
            http_get: Some(HttpGetAction {
                path: Some("/healthz".into()),
                port: IntOrString::String("http".into()),
                host: None,
                scheme: None,
                http_headers: vec![],
            }),
            period_seconds: Some(5),
            ..Default::default()
        };
        let h = resolve(&p, |p| p.port(|n| (n == "http").then_some(8080))).unwrap();
        assert_eq!(
            (
                h.interval_seconds,
                h.timeout_seconds,
                h.retries,
                h.start_period_seconds
            ),
            (5, 1, 3, 0)
        );
        assert_eq!(h.command[..2], ["/bin/sh", "-c"]);
        assert!(
            h.command[2].contains("GET /healthz HTTP/1.0")
                && h.command[2].contains("nc -w 1 '127.0.0.1' 8080"),
            "{}",
            h.command[2]
        );
        let t = Probe {
            tcp_socket: Some(TcpSocketAction {
                port: IntOrString::String("grpc".into()),
                host: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            resolve(&t, |p| p.port(|_| None)).unwrap_err(),
            "port grpc names no port of the container"
        );
    }

    /// The generated scripts run as they are under the machine's sh and busybox nc.
    #[test]
    fn commands_run_against_a_listener() {
        if std::process::Command::new("busybox")
            .arg("true")
            .status()
            .is_err()
        {
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            for _ in 0..2 {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.0 204 No Content\r\n\r\n");
            }
        });
        let run = |argv: Vec<String>| {
            let script = argv[2]
                .replace("nc ", "busybox nc ")
                .replace("| head", "| busybox head");
            std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .status()
                .unwrap()
                .success()
        };
        let http = ProbeTest::Http {
            https: false,
            host: "127.0.0.1".into(),
            port,
            path: "/".into(),
            headers: vec![],
        };
        assert!(run(http.command(2)));
        assert!(run(ProbeTest::Tcp {
            host: "127.0.0.1".into(),
            port
        }
        .command(2)));
        server.join().unwrap();
    }
}
