//! The part of Go templates `--format` uses: `{{.Field}}` placeholders, `\t` and `\n`.

/// Replaces each `{{.Field}}` (spaces allowed inside the braces) with its value.
pub fn render(template: &str, fields: &[(&str, String)]) -> String {
    render_with(template, |key| {
        fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    })
}

/// `inspect -f`: `{{.A.B}}` is the value at that path of `value` (a string as it is, anything
/// else as JSON), `{{json .A}}` its JSON, `{{.}}` the whole.
pub fn render_json(template: &str, value: &serde_json::Value) -> String {
    render_with(template, |key| {
        let (json, path) = match key.strip_prefix("json ") {
            Some(p) => (true, p.trim().trim_start_matches('.')),
            None => (false, key),
        };
        let mut v = value;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            v = v.get(part)?;
        }
        Some(match v {
            serde_json::Value::String(s) if !json => s.clone(),
            v => v.to_string(),
        })
    })
}

fn render_with(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let t = template.replace("\\t", "\t").replace("\\n", "\n");
    let mut out = String::new();
    let mut rest = t.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = after[..end].trim().trim_start_matches('.');
        match lookup(key) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&format!("<no value: {key}>")),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The header line of a `table` format: each placeholder's name in capitals, as docker
/// prints them (`CONTAINER ID` for `.ID`).
pub fn header(template: &str) -> String {
    let names = [
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Status", "STATUS"),
        ("State", "STATE"),
        ("Ports", "PORTS"),
        ("Names", "NAMES"),
        ("Labels", "LABELS"),
    ];
    let fields: Vec<(&str, String)> = names.iter().map(|(k, v)| (*k, v.to_string())).collect();
    render(template, &fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced() {
        let f = vec![
            ("Names", "web".to_string()),
            ("Status", "Up 1 second".to_string()),
        ];
        assert_eq!(render("{{.Names}}\\t{{ .Status }}", &f), "web\tUp 1 second");
        assert_eq!(render("{{.Nope}}", &f), "<no value: Nope>");
        assert_eq!(header("{{.ID}} {{.Names}}"), "CONTAINER ID NAMES");
        let v = serde_json::json!({"NetworkSettings": {"IPAddress": "10.66.0.2", "Ports": {}}, "Id": "ab"});
        assert_eq!(
            render_json("{{.NetworkSettings.IPAddress}}", &v),
            "10.66.0.2"
        );
        assert_eq!(render_json("{{json .NetworkSettings.Ports}}", &v), "{}");
        assert_eq!(
            render_json("{{.Id}}:{{.Nope.X}}", &v),
            "ab:<no value: Nope.X>"
        );
    }
}
