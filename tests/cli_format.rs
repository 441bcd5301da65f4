//! `--format` as a Docker user types it: Go templates on `inspect` (containers, images,
//! volumes, networks) and on every listing, `table` with docker's headers and aligned
//! columns, `json`, and docker's errors for a field that isn't there or a template that
//! doesn't parse.

mod harness;

use harness::{busybox, TestRoot};

/// The column at which `word` starts in `line`, in characters.
fn column(line: &str, word: &str) -> usize {
    let at = line
        .find(word)
        .unwrap_or_else(|| panic!("{word:?} in {line:?}"));
    line[..at].chars().count()
}

#[test]
fn inspect_runs_go_templates() {
    let t = busybox();
    let bind = tempfile::tempdir().expect("a directory");
    let mount = format!("{}:/mnt", bind.path().display());
    t.ok([
        "create", "--name", "web", "--label", "x=1", "--label", "y=two", "-v", &mount, "busybox",
        "sleep", "60",
    ]);
    let f = |tmpl: &str| t.ok(["inspect", "-f", tmpl, "web"]);
    assert_eq!(
        f("{{range .Mounts}}{{.Source}}{{end}}"),
        format!("{}\n", bind.path().display())
    );
    assert_eq!(f(r#"{{index .Config.Labels "x"}}"#), "1\n");
    // A map (labels) lacking a key is no value, as docker prints it.
    assert_eq!(
        f("{{.Config.Labels.y}} {{.Config.Labels.nope}}"),
        "two <no value>\n"
    );
    let labels: serde_json::Value =
        serde_json::from_str(&f("{{json .Config.Labels}}")).expect("JSON");
    assert_eq!(labels["x"], "1");
    assert_eq!(labels["y"], "two");
    // Go's printing: a map as map[k:v] with its keys sorted, a list as [a b].
    assert!(f("{{.Config.Labels}}").contains("x:1 y:two"));
    assert_eq!(f("{{.Config.Cmd}}"), "[sleep 60]\n");
    assert_eq!(f("{{upper .Name}} {{len .Mounts}}"), "/WEB 1\n");
    assert_eq!(
        f(r#"{{if eq .State.Status "created"}}new{{else}}old{{end}}"#),
        "new\n"
    );
    assert_eq!(
        f(r#"{{printf "%s=%d" .Name (len .Mounts)}}|{{join .Config.Cmd ","}}"#),
        "/web=1|sleep,60\n"
    );
    assert_eq!(
        f(r#"{{range $i, $m := .Mounts}}{{$i}}:{{$m.Destination}}{{end}}"#),
        "0:/mnt\n"
    );
    // `json` is the list on one line.
    let all: serde_json::Value =
        serde_json::from_str(&t.ok(["inspect", "--format", "json", "web"])).expect("JSON");
    assert_eq!(all[0]["Name"], "/web");

    // A field that isn't there fails naming it (exit 1), an empty line for output as
    // docker's; the objects it doesn't fail on are printed.
    let r = t.run(["inspect", "-f", "{{.Nope}}", "web"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout, "\n");
    assert!(
        r.stderr
            .contains(r#"executing "" at <.Nope>: map has no entry for key "Nope""#),
        "{}",
        r.stderr
    );
    let r = t.run(["inspect", "-f", "{{.State.Status}}", "web", "busybox"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout, "created\n");
    assert!(
        r.stderr.contains(r#"map has no entry for key "State""#),
        "{}",
        r.stderr
    );
    // A template that doesn't parse fails with Go's message, exit code 64 as docker's.
    let (code, err) = t.fails(["inspect", "-f", "{{.Name", "web"]);
    assert_eq!(code, 64);
    assert!(
        err.contains("template parsing error: template: :1: unclosed action"),
        "{err}"
    );
    let (_, err) = t.fails(["inspect", "-f", "{{nope .Name}}", "web"]);
    assert!(err.contains(r#"function "nope" not defined"#), "{err}");
    t.ok(["rm", "web"]);
}

#[test]
fn ps_formats_tables_json_and_templates() {
    let t = busybox();
    t.ok([
        "create",
        "--name",
        "web",
        "--label",
        "tier=front",
        "-v",
        "fmtdata:/data",
        "busybox",
        "true",
    ]);
    t.ok(["create", "--name", "a-much-longer-name", "busybox", "true"]);
    let table = t.ok(["ps", "-a", "--format", r"table {{.Names}}\t{{.Status}}"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    // Go's tabwriter as docker sets it: the widest cell plus three spaces.
    assert_eq!(lines[0], format!("NAMES{}STATUS", " ".repeat(18 + 3 - 5)));
    for l in &lines[1..] {
        assert_eq!(column(l, "Created"), 21, "{table}");
    }
    // A bare `table` is the default table; header names are docker's.
    let default = t.ok(["ps", "-a", "--format", "table"]);
    assert!(
        default.starts_with("CONTAINER ID   IMAGE     COMMAND   CREATED"),
        "{default}"
    );
    assert_eq!(default, t.ok(["ps", "-a"]));
    let header = t.ok([
        "ps",
        "-a",
        "--format",
        r"table {{.ID}}\t{{.Image}}\t{{.State}}",
    ]);
    assert!(
        header.starts_with("CONTAINER ID   IMAGE     STATE\n"),
        "{header}"
    );
    // One JSON object per line.
    let json = t.ok(["ps", "-a", "--format", "json"]);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .any(|r| r["Names"] == "web" && r["State"] == "created"));
    // docker's `.Label`, functions and conditionals.
    let out = t.ok([
        "ps",
        "-a",
        "--format",
        r#"{{.Names}}:{{.Label "tier"}}:{{if .Labels}}labelled{{else}}none{{end}}"#,
    ]);
    let mut got: Vec<&str> = out.lines().collect();
    got.sort();
    assert_eq!(got, ["a-much-longer-name::none", "web:front:labelled"]);
    // A field ps rows don't have fails naming it.
    let (code, err) = t.fails(["ps", "-a", "--format", "{{.Nope}}"]);
    assert_eq!(code, 1);
    assert!(err.contains(r#"map has no entry for key "Nope""#), "{err}");
    // Mounts, networks and volumes as docker's ps shows them.
    assert_eq!(
        t.ok([
            "ps",
            "-a",
            "--filter",
            "name=web",
            "--format",
            "{{.Mounts}} {{.Networks}} {{.LocalVolumes}}",
        ]),
        "fmtdata bridge 1\n"
    );
    // A format that shows .Size works sizes out, as docker's; --size adds the column.
    let size = t.ok(["ps", "-a", "--filter", "name=web", "--format", "{{.Size}}"]);
    assert!(
        size.starts_with("0B (virtual ") && size.ends_with("B)\n"),
        "{size}"
    );
    let sized = t.ok(["ps", "-a", "--size"]);
    assert!(
        sized
            .lines()
            .next()
            .is_some_and(|h| h.ends_with("   NAMES                SIZE")),
        "{sized}"
    );
    t.ok(["rm", "web", "a-much-longer-name"]);
    t.ok(["volume", "rm", "fmtdata"]);
}

#[test]
fn images_volumes_and_networks_format() {
    let t = busybox();
    assert_eq!(
        t.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "busybox:latest\n"
    );
    let table = t.ok([
        "images",
        "--format",
        r"table {{.Repository}}\t{{.ID}}\t{{.Size}}",
    ]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("REPOSITORY   IMAGE ID       SIZE"),
        "{table}"
    );
    assert!(lines[1].starts_with("busybox      "), "{table}");
    let size_at = lines[1].rfind("   ").expect("aligned cells") + 3;
    assert_eq!(column(lines[0], "SIZE"), size_at, "{table}");
    let row: serde_json::Value =
        serde_json::from_str(&t.ok(["images", "--format", "json"])).expect("JSON");
    assert_eq!(row["Repository"], "busybox");
    assert_eq!(row["Tag"], "latest");
    let id = t.ok(["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    assert!(id.starts_with("sha256:"), "{id}");
    // Docker's Config keys are there for any image, null where the image sets none.
    let cmd = t.ok([
        "image",
        "inspect",
        "-f",
        "{{.Config.Cmd}}|{{.Config.User}}|",
        "busybox",
    ]);
    assert!(cmd == "<no value>||\n" || cmd == "[sh]||\n", "{cmd}");
    let (code, err) = t.fails(["image", "inspect", "-f", "{{.Nope}}", "busybox"]);
    assert_eq!(code, 1);
    let (code, _) = t.fails(["image", "inspect", "-f", "{{if}}", "busybox"]);
    assert_eq!(code, 64);
    // Inspect reads `\n` as it is; listings make it a newline.
    assert_eq!(
        t.ok(["image", "inspect", "-f", r"{{.Os}}\n", "busybox"]),
        "linux\\n\n"
    );
    assert!(err.contains("\"Nope\""), "{err}");

    assert_eq!(
        t.ok(["system", "df", "--format", "{{.Type}}"]),
        "Images\nContainers\nLocal Volumes\nBuild Cache\n"
    );
    assert!(t.ok(["system", "df"]).starts_with(
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\nImages          1 "
    ));

    t.ok(["volume", "create", "--label", "k=v", "data"]);
    let mountpoint = t.ok(["volume", "inspect", "-f", "{{.Mountpoint}}", "data"]);
    assert!(mountpoint.trim().ends_with("_data"), "{mountpoint}");
    assert_eq!(
        t.ok([
            "volume",
            "ls",
            "--format",
            r#"{{.Name}} {{.Driver}} {{.Label "k"}}"#
        ]),
        "data local v\n"
    );
    assert_eq!(
        t.ok(["volume", "ls", "--format", r"table {{.Name}}\t{{.Driver}}"]),
        "VOLUME NAME   DRIVER\ndata          local\n"
    );
    assert_eq!(
        t.ok(["volume", "ls"]),
        "DRIVER    VOLUME NAME\nlocal     data\n"
    );
    t.ok(["volume", "rm", "data"]);

    let nets = t.ok([
        "network",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
    ]);
    assert!(nets.lines().any(|l| l == "bridge bridge local"), "{nets}");
    let table = t.ok(["network", "ls", "--format", r"table {{.Name}}\t{{.Driver}}"]);
    assert!(table.starts_with("NAME      DRIVER\n"), "{table}");
    assert!(t
        .ok(["network", "ls"])
        .starts_with("NETWORK ID     NAME      DRIVER    SCOPE\n"));
    let subnet = t.ok([
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
        "bridge",
    ]);
    assert!(subnet.trim().contains('/'), "{subnet}");
}

#[test]
fn stats_formats_tables_and_json() {
    let t = busybox();
    t.ok(["run", "-d", "--name", "statbox", "busybox", "sleep", "60"]);
    let table = t.ok([
        "stats",
        "--no-stream",
        "--format",
        r"table {{.Name}}\t{{.PIDs}}",
        "statbox",
    ]);
    assert_eq!(table, "NAME      PIDS\nstatbox   1\n");
    let row: serde_json::Value =
        serde_json::from_str(&t.ok(["stats", "--no-stream", "--format", "json", "statbox"]))
            .expect("JSON");
    assert_eq!(row["Name"], "statbox");
    assert!(
        row["MemUsage"].as_str().is_some_and(|m| m.contains(" / ")),
        "{row}"
    );
    t.ok(["rm", "-f", "statbox"]);
}

#[test]
fn a_template_that_does_not_parse_fails_everywhere() {
    let t = TestRoot::new();
    for args in [
        &["ps", "--format", "{{.Names"][..],
        &["images", "--format", "{{if .ID}}"],
        &["volume", "ls", "--format", "{{end}}"],
        &["network", "ls", "--format", "{{.Name | nope}}"],
        &["stats", "--no-stream", "--format", "{{.Name"],
        &["system", "df", "--format", "{{.Type"],
    ] {
        let (code, err) = t.fails(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains("template parsing error"), "{args:?}: {err}");
    }
}
