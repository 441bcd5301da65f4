//! Kubernetes' name rules (DNS-1123 labels and subdomains, DNS-1035 labels, IANA service
//! names, label keys and values), and making a name that follows them from one that doesn't.

fn alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// A DNS-1123 label: at most 63 of `a-z0-9-`, starting and ending alphanumeric (container
/// names, port and volume names).
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| alnum(c) || c == '-')
        && s.starts_with(alnum)
        && s.ends_with(alnum)
}

/// A DNS-1123 subdomain: at most 253, dot-separated labels (most object names).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars().all(|c| alnum(c) || c == '-' || c == '.')
        && s.starts_with(alnum)
        && s.ends_with(alnum)
}

/// A DNS-1035 label: a DNS-1123 label starting with a letter (Service names).
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// An IANA service name: at most 15 of `a-z0-9-`, one letter at least, no `--`, no
/// hyphen at either end (container port names, service port names).
pub fn is_iana_svc_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.chars().all(|c| alnum(c) || c == '-')
        && s.chars().any(|c| c.is_ascii_lowercase())
        && !s.contains("--")
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_label_name(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric();
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| ok(c) || "-_.".contains(c))
        && s.starts_with(ok)
        && s.ends_with(ok)
}

/// A label or annotation key: `[prefix/]name`, the prefix a DNS subdomain.
pub fn is_qualified_name(s: &str) -> bool {
    match s.rsplit_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_label_name(name),
        None => is_label_name(s),
    }
}

/// A label value: empty, or at most 63 alphanumerics with `-_.` inside.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_label_name(s)
}

/// A ConfigMap or Secret key: `[-._a-zA-Z0-9]+`, at most 253.
pub fn is_config_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        && s != "."
        && s != ".."
}

/// A DNS-1123 label made from any name: lowercased, other characters as `-`, trimmed to
/// 63. `my_App.1` → `my-app-1`; a name with nothing usable becomes `x`.
pub fn to_dns1123_label(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = if alnum(c) { c } else { '-' };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    out.truncate(63);
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push('x');
    }
    out
}

/// A DNS-1035 label from any name (a Service's): as [`to_dns1123_label`], with a letter first.
pub fn to_dns1035_label(s: &str) -> String {
    let l = to_dns1123_label(s);
    if l.starts_with(|c: char| c.is_ascii_lowercase()) {
        l
    } else {
        let mut l = format!("x-{l}");
        l.truncate(63);
        l.trim_end_matches('-').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(is_dns1123_label("echo-1"));
        assert!(!is_dns1123_label("Echo"));
        assert!(!is_dns1123_label("-echo"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain("simple-echo.v2"));
        assert!(!is_dns1123_subdomain("simple_echo"));
        assert!(!is_dns1035_label("1echo"));
        assert!(is_iana_svc_name("http"));
        assert!(!is_iana_svc_name("8080"));
        assert!(!is_iana_svc_name("a--b"));
        assert!(!is_iana_svc_name("sixteen-chars-xx"));
        assert!(is_qualified_name("app.kubernetes.io/name"));
        assert!(is_qualified_name("App_1"));
        assert!(!is_qualified_name("bad key"));
        assert!(is_label_value(""));
        assert!(!is_label_value("-x"));
        assert!(is_config_key("app.properties"));
        assert!(!is_config_key("a/b"));
    }

    #[test]
    fn sanitizing() {
        assert_eq!(to_dns1123_label("my_App.1"), "my-app-1");
        assert_eq!(to_dns1123_label("--x--"), "x");
        assert_eq!(to_dns1123_label("__"), "x");
        assert_eq!(to_dns1123_label(&"a".repeat(70)).len(), 63);
        assert_eq!(to_dns1035_label("1web"), "x-1web");
        assert!(is_dns1123_label(&to_dns1123_label("php-fpm/Ünïcode")));
    }
}
