//! The part of Go templates `--format` uses: `{{.Field}}` placeholders, `\t` and `\n`.

/// Replaces each `{{.Field}}` (spaces allowed inside the braces) with its value.
pub fn render(template: &str, fields: &[(&str, String)]) -> String {
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
        match fields.iter().find(|(k, _)| *k == key) {
            Some((_, v)) => out.push_str(v),
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
    }
}
