use super::print::go_float;
use super::*;
use serde_json::json;

fn run(t: &str, v: &Value) -> String {
    Template::parse(t)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
        .execute(v, None)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
}

fn exec_err(t: &str, v: &Value) -> String {
    Template::parse(t)
        .unwrap()
        .execute(v, None)
        .unwrap_err()
        .to_string()
}

fn doc() -> Value {
    json!({
        "Id": "abc",
        "Name": "/web",
        "Config": {"Labels": {"x": "1", "a.b": "two"}, "Env": ["A=1", "B=2"], "Cmd": null},
        "Mounts": [{"Source": "/s1", "Destination": "/d1"}, {"Source": "/s2", "Destination": "/d2"}],
        "State": {"Pid": 42, "Running": true, "ExitCode": 0, "Health": null},
        "Ratio": 0.25,
        "Big": 1e21,
        "Empty": [],
    })
}

#[test]
fn fields_and_printing() {
    let v = doc();
    assert_eq!(run("{{.Name}} {{ .State.Pid }}", &v), "/web 42");
    assert_eq!(run("{{.Config.Env}}", &v), "[A=1 B=2]");
    assert_eq!(run("{{.Config.Labels}}", &v), "map[a.b:two x:1]");
    assert_eq!(
        run("{{.Mounts}}", &v),
        "[map[Destination:/d1 Source:/s1] map[Destination:/d2 Source:/s2]]"
    );
    assert_eq!(
        run("{{.State.Running}} {{.Ratio}} {{.Big}}", &v),
        "true 0.25 1e+21"
    );
    assert_eq!(run("{{.Config.Cmd}}", &v), "<no value>");
    assert_eq!(run("{{print .Config.Cmd}} {{.Empty}}", &v), "<nil> []");
    assert_eq!(run(&unescape("a\\tb\\nc"), &v), "a\tb\nc");
    assert_eq!(run("a\\tb", &v), "a\\tb");
    assert_eq!(run("{{.}}", &json!("s")), "s");
}

#[test]
fn range_if_with_and_variables() {
    let v = doc();
    assert_eq!(run("{{range .Mounts}}{{.Source}}{{end}}", &v), "/s1/s2");
    assert_eq!(
        run(
            "{{range $i, $m := .Mounts}}{{$i}}={{$m.Destination}} {{end}}",
            &v
        ),
        "0=/d1 1=/d2 "
    );
    assert_eq!(
        run(
            "{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}};{{end}}",
            &v
        ),
        "a.b:two;x:1;"
    );
    assert_eq!(run("{{range .Empty}}x{{else}}none{{end}}", &v), "none");
    assert_eq!(
        run(
            "{{range .Config.Env}}{{if eq . \"B=2\"}}{{break}}{{end}}{{.}} {{end}}",
            &v
        ),
        "A=1 "
    );
    assert_eq!(
        run(
            "{{range .Config.Env}}{{if eq . \"A=1\"}}{{continue}}{{end}}{{.}}{{end}}",
            &v
        ),
        "B=2"
    );
    assert_eq!(run("{{if .State.Running}}up{{else}}down{{end}}", &v), "up");
    assert_eq!(
        run("{{if eq .State.ExitCode 1}}one{{else if eq .State.ExitCode 0}}zero{{else}}other{{end}}", &v),
        "zero"
    );
    assert_eq!(run("{{with .State}}{{.Pid}}{{end}}", &v), "42");
    assert_eq!(run("{{with .Empty}}x{{else}}empty{{end}}", &v), "empty");
    assert_eq!(
        run("{{if $e := .Empty}}x{{else}}{{len $e}}{{end}}", &v),
        "0"
    );
    assert_eq!(
        run("{{$n := .Name}}{{range .Mounts}}{{$n}}{{end}}", &v),
        "/web/web"
    );
    assert_eq!(
        run("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", &v),
        "2"
    );
    assert_eq!(run("{{range .Mounts}}{{$.Id}}{{end}}", &v), "abcabc");
    assert_eq!(run("{{- \"a\" }}  \n  {{- \"b\" -}}  c", &v), "abc");
    assert_eq!(run("x{{/* a comment */}}y", &v), "xy");
    assert_eq!(run("{{range 3}}{{.}}{{end}}", &v), "012");
    assert_eq!(
        run(
            "{{$n := 0}}{{range $i, $e := .Mounts}}{{$n = $i}}{{end}}{{$n}}",
            &v
        ),
        "1"
    );
}

#[test]
fn functions() {
    let v = doc();
    assert_eq!(run("{{index .Config.Labels \"x\"}}", &v), "1");
    assert_eq!(run("{{index .Config.Labels \"nope\"}}|", &v), "|");
    assert_eq!(run("{{index .Mounts 1 \"Source\"}}", &v), "/s2");
    assert_eq!(
        run("{{json .Config.Labels}}", &v),
        r#"{"a.b":"two","x":"1"}"#
    );
    assert_eq!(
        run("{{json .Name}} {{json .Config.Cmd}}", &v),
        r#""/web" null"#
    );
    assert_eq!(
        run(
            "{{upper .Name}} {{lower \"AB\"}} {{title \"hello big-world o'neil\"}}",
            &v
        ),
        "/WEB ab Hello Big-World O'Neil"
    );
    assert_eq!(run("{{printf \"%s-%d-%5.2f|%-4s|%q|%v\" .Name .State.Pid .Ratio \"ab\" \"q\" .Config.Env}}", &v), "/web-42- 0.25|ab  |\"q\"|[A=1 B=2]");
    assert_eq!(
        run("{{printf \"%03d %x %t %%\" 7 255 true}}", &v),
        "007 ff true %"
    );
    assert_eq!(run("{{printf \"%d\"}}", &v), "%!d(MISSING)");
    assert_eq!(
        run("{{printf \"%s %d\" 5 \"x\"}}", &v),
        "%!s(int=5) %!d(string=x)"
    );
    assert_eq!(
        run("{{len .Mounts}} {{len .Name}} {{len .Config.Labels}}", &v),
        "2 4 2"
    );
    assert_eq!(run("{{join .Config.Env \",\"}}", &v), "A=1,B=2");
    assert_eq!(
        run(
            "{{split \"a:b:c\" \":\"}} {{len (split \"a:b\" \":\")}}",
            &v
        ),
        "[a b c] 2"
    );
    assert_eq!(
        run("[{{pad .Name 1 2}}] [{{pad \"\" 1 2}}]", &v),
        "[ /web  ] []"
    );
    assert_eq!(run("{{truncate .Id 2}} {{truncate .Id 10}}", &v), "ab abc");
    assert_eq!(run("{{println .Name 1}}", &v), "/web 1\n");
    assert_eq!(run("{{print \"a\" 1 2 \"b\"}}", &v), "a1 2b");
    assert_eq!(run("{{.Name | upper | printf \"<%s>\"}}", &v), "</WEB>");
    assert_eq!(run("{{(index .Mounts 0).Source}}", &v), "/s1");
    assert_eq!(
        run("{{slice .Id 1}} {{slice .Config.Env 0 1}}", &v),
        "bc [A=1]"
    );
    assert_eq!(
        run(
            "{{and .State.Running .Name}} {{or .Empty \"dflt\"}} {{not .Empty}}",
            &v
        ),
        "/web dflt true"
    );
    assert_eq!(
        run("{{eq .Name \"x\" \"/web\"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2}}", &v),
        "true true true true true false"
    );
}

#[test]
fn methods() {
    let m = |name: &str, args: &[Value]| match (name, args) {
        ("Label", [Value::String(k)]) => Some(Ok(Value::String(format!("<{k}>")))),
        _ => None,
    };
    let t = Template::parse("{{.Label \"com.x\"}} {{.Names}}").unwrap();
    assert_eq!(
        t.execute(&json!({"Names": "web"}), Some(&m)).unwrap(),
        "<com.x> web"
    );
}

#[test]
fn errors_read_like_gos() {
    let v = doc();
    assert_eq!(
        exec_err("{{.Nope}}", &v),
        r#"template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope""#
    );
    assert_eq!(
        exec_err("ab\n {{.Config.Nope}}", &v),
        r#"template: :2:3: executing "" at <.Config.Nope>: map has no entry for key "Nope""#
    );
    assert_eq!(
        exec_err("{{.State.Health.Status}}", &v),
        r#"template: :1:2: executing "" at <.State.Health.Status>: nil pointer evaluating interface {}.Status"#
    );
    assert!(exec_err("{{.Name.X}}", &v).contains("can't evaluate field X in type string"));
    // A field docker's JSON omits when empty is no value; below it, nil.
    assert_eq!(run("{{.State.Healthcheck}}", &v), "<no value>");
    // A Go map (docker's labels) lacking a key is no value, not an error.
    assert_eq!(
        run(
            "{{.Config.Labels.x}} {{.Config.Labels.nope}} {{.Config.Labels.nope.y}}",
            &v
        ),
        "1 <no value> <no value>"
    );
    assert_eq!(
        run(
            "{{.NetworkSettings.Networks.none}}",
            &json!({"NetworkSettings": {"Networks": null}})
        ),
        "<no value>"
    );
    assert!(exec_err("{{index .Mounts 5}}", &v)
        .contains("at <index .Mounts 5>: error calling index: index out of range: 5"));
    assert!(exec_err("{{eq .Name 1}}", &v).contains("incompatible types for comparison"));
    assert!(exec_err("{{join .Name}}", &v).contains("wrong number of args for join: want 2 got 1"));
    for (t, msg) in [
        (
            "{{.Name",
            "template parsing error: template: :1: unclosed action",
        ),
        (
            "{{nope .Name}}",
            "template parsing error: template: :1: function \"nope\" not defined",
        ),
        (
            "{{range .Mounts}}",
            "template parsing error: template: :1: unexpected EOF",
        ),
        (
            "{{end}}",
            "template parsing error: template: :1: unexpected {{end}}",
        ),
        (
            "{{$x}}",
            "template parsing error: template: :1: undefined variable \"$x\"",
        ),
        (
            "a\n{{\"x}}",
            "template parsing error: template: :2: unterminated quoted string",
        ),
        (
            "{{else}}",
            "template parsing error: template: :1: unexpected {{else}}",
        ),
        (
            "{{break}}",
            "template parsing error: template: :1: {{break}} outside {{range}}",
        ),
        (
            "{{if}}{{end}}",
            "template parsing error: template: :1: missing value for if",
        ),
    ] {
        assert_eq!(Template::parse(t).unwrap_err().to_string(), msg, "{t}");
    }
}

#[test]
fn headers() {
    let t = Template::parse(
        "{{.ID}}\t{{.Names | upper}}\t{{json .Labels}}\t{{.Other}}|{{pad .ID 1 1}}",
    )
    .unwrap();
    let h = json!({"ID": "CONTAINER ID", "Names": "NAMES", "Labels": "LABELS"});
    assert_eq!(
        t.execute_header(&h),
        "CONTAINER ID\tNAMES\tLABELS\tOTHER| CONTAINER ID "
    );
}

#[test]
fn no_input_panics() {
    // Templates glued from pieces by a fixed pseudo-random sequence: each parses or
    // fails, and runs or fails, without a panic.
    let pieces = [
        "{{",
        "}}",
        "{{-",
        "-}}",
        " ",
        ".",
        ".Name",
        ".Mounts",
        "$",
        "$x",
        ":=",
        "=",
        "|",
        "(",
        ")",
        ",",
        "\"",
        "`",
        "'é'",
        "é",
        "range",
        "if",
        "else",
        "end",
        "with",
        "break",
        "index",
        "len",
        "printf",
        "\"%d %s %5.1f %q\"",
        "slice",
        "-1",
        "1.5e3",
        "0x1f",
        "nil",
        "true",
        "/*",
        "*/",
        "\n",
        "eq",
        "and",
        "or",
        "not",
        "json",
        "split",
        "join",
        "pad",
        "truncate",
        "\"a\\\"b\"",
    ];
    let v = doc();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        let mut t = String::new();
        let n = 1 + (seed % 9) as usize;
        for _ in 0..n {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            t.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        if let Ok(tmpl) = Template::parse(&t) {
            let _ = tmpl.execute(&v, None);
            let _ = tmpl.execute_header(&v);
        }
    }
}

#[test]
fn floats_print_as_go() {
    assert_eq!(go_float(1e6, None, 'g'), "1e+06");
    assert_eq!(go_float(123456.0, None, 'g'), "123456");
    assert_eq!(go_float(0.0001, None, 'g'), "0.0001");
    assert_eq!(go_float(0.00001, None, 'g'), "1e-05");
    assert_eq!(go_float(2.5, Some(2), 'f'), "2.50");
    assert_eq!(go_float(1234.5, Some(2), 'e'), "1.23e+03");
}
