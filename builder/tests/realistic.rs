//! Dockerfiles as people write them, through the public API only.

use rbox_builder::expand::{expand, split_words};
use rbox_builder::{parse, Dockerfile, Healthcheck, Instruction, ShellOrExec};

fn ok(text: &str) -> Dockerfile {
    parse(text).unwrap_or_else(|errors| {
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("{}", shown.join("\n"))
    })
}

fn keywords(dockerfile: &Dockerfile, stage: usize) -> Vec<&'static str> {
    dockerfile.stages[stage]
        .instructions
        .iter()
        .map(|located| located.inner.keyword())
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn getting_started_node_app() {
    let dockerfile = ok(r#"# syntax=docker/dockerfile:1

FROM node:18-alpine
WORKDIR /app
COPY . .
RUN yarn install --production
CMD ["node", "src/index.js"]
EXPOSE 3000
"#);
    assert_eq!(
        dockerfile.directives.syntax.as_deref(),
        Some("docker/dockerfile:1")
    );
    assert_eq!(dockerfile.stages.len(), 1);
    let stage = &dockerfile.stages[0];
    assert_eq!(stage.base, "node:18-alpine");
    assert_eq!(stage.line, 3);
    assert_eq!(
        keywords(&dockerfile, 0),
        ["WORKDIR", "COPY", "RUN", "CMD", "EXPOSE"]
    );
    let inner: Vec<&Instruction> = stage.instructions.iter().map(|l| &l.inner).collect();
    assert_eq!(inner[0], &Instruction::Workdir("/app".into()));
    assert_eq!(
        inner[1],
        &Instruction::Copy {
            sources: strings(&["."]),
            dest: ".".into(),
            from: None,
            chown: None,
            chmod: None,
            link: false,
            heredocs: vec![],
        }
    );
    assert_eq!(
        inner[3],
        &Instruction::Cmd(ShellOrExec::Exec(strings(&["node", "src/index.js"])))
    );
    assert_eq!(inner[4], &Instruction::Expose(strings(&["3000"])));
    assert_eq!(stage.instructions[2].line, 6);
}

#[test]
fn getting_started_hello_script_and_data_volume() {
    let hello =
        ok("FROM busybox\nCOPY hello.sh /hello.sh\nRUN chmod +x /hello.sh\nCMD [\"/hello.sh\"]\n");
    assert_eq!(keywords(&hello, 0), ["COPY", "RUN", "CMD"]);
    assert_eq!(
        hello.stages[0].instructions[1].inner,
        Instruction::Run {
            command: ShellOrExec::Shell("chmod +x /hello.sh".into()),
            heredocs: vec![],
            network: None,
            mounts: vec![],
            security: None,
        }
    );

    let data = ok("FROM busybox\nRUN mkdir /data && echo hello > /data/greeting\nVOLUME /data\nCMD [\"cat\", \"/data/greeting\"]\n");
    assert_eq!(
        data.stages[0].instructions[1].inner,
        Instruction::Volume(strings(&["/data"]))
    );

    let combos = ok(r#"FROM busybox
WORKDIR /srv
EXPOSE 8080
ENTRYPOINT ["httpd", "-f"]
CMD ["-p", "8080"]
"#);
    assert_eq!(
        keywords(&combos, 0),
        ["WORKDIR", "EXPOSE", "ENTRYPOINT", "CMD"]
    );
}

#[test]
fn go_multi_stage_build() {
    let text = r#"# syntax=docker/dockerfile:1

ARG GO_VERSION=1.22
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build
WORKDIR /src

# Download dependencies as a separate step to take advantage of Docker's caching.
RUN --mount=type=cache,target=/go/pkg/mod/ \
    --mount=type=bind,source=go.sum,target=go.sum \
    --mount=type=bind,source=go.mod,target=go.mod \
    go mod download -x

ARG TARGETARCH

RUN --mount=type=cache,target=/go/pkg/mod/ \
    --mount=type=bind,target=. \
    CGO_ENABLED=0 GOARCH=$TARGETARCH go build -o /bin/server .

FROM alpine:latest AS final

RUN --mount=type=cache,target=/var/cache/apk \
    apk --update add \
        ca-certificates \
        tzdata \
        && \
        update-ca-certificates

ARG UID=10001
RUN adduser \
    --disabled-password \
    --gecos "" \
    --home "/nonexistent" \
    --shell "/sbin/nologin" \
    --no-create-home \
    --uid "${UID}" \
    appuser
USER appuser

COPY --from=build /bin/server /bin/

EXPOSE 8000

ENTRYPOINT [ "/bin/server" ]
"#;
    let dockerfile = ok(text);
    assert_eq!(dockerfile.global_args.len(), 1);
    assert_eq!(dockerfile.global_args[0].inner.name, "GO_VERSION");
    assert_eq!(
        dockerfile.global_args[0].inner.default.as_deref(),
        Some("1.22")
    );
    assert_eq!(dockerfile.stages.len(), 2);

    let build = &dockerfile.stages[0];
    assert_eq!(build.name.as_deref(), Some("build"));
    assert_eq!(build.base, "golang:${GO_VERSION}-alpine");
    assert_eq!(build.platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(keywords(&dockerfile, 0), ["WORKDIR", "RUN", "ARG", "RUN"]);
    let Instruction::Run {
        command, mounts, ..
    } = &build.instructions[1].inner
    else {
        panic!()
    };
    assert_eq!(
        mounts,
        &strings(&[
            "type=cache,target=/go/pkg/mod/",
            "type=bind,source=go.sum,target=go.sum",
            "type=bind,source=go.mod,target=go.mod",
        ])
    );
    assert_eq!(command, &ShellOrExec::Shell("go mod download -x".into()));
    assert_eq!(
        (build.instructions[1].line, build.instructions[1].end_line),
        (8, 11)
    );

    let last = &dockerfile.stages[1];
    assert_eq!(last.name.as_deref(), Some("final"));
    assert_eq!(
        keywords(&dockerfile, 1),
        ["RUN", "ARG", "RUN", "USER", "COPY", "EXPOSE", "ENTRYPOINT"]
    );
    let Instruction::Run { command, .. } = &last.instructions[2].inner else {
        panic!()
    };
    let ShellOrExec::Shell(script) = command else {
        panic!()
    };
    assert!(script.starts_with("adduser     --disabled-password"));
    assert!(script.ends_with("--uid \"${UID}\"     appuser"));
    let Instruction::Copy {
        from,
        sources,
        dest,
        ..
    } = &last.instructions[4].inner
    else {
        panic!()
    };
    assert_eq!(from.as_deref(), Some("build"));
    assert_eq!(sources, &strings(&["/bin/server"]));
    assert_eq!(dest, "/bin/");
    assert_eq!(dockerfile.stage_index(from.as_deref().unwrap()), Some(0));
    assert_eq!(
        last.instructions[6].inner,
        Instruction::Entrypoint(ShellOrExec::Exec(strings(&["/bin/server"])))
    );
    assert_eq!(dockerfile.stage_index("final"), Some(1));
}

#[test]
fn nginx_style_with_comments_in_continuations() {
    let text = r#"FROM debian:bookworm-slim

LABEL maintainer="NGINX Docker Maintainers <docker-maint@nginx.com>"

ENV NGINX_VERSION   1.25.4
ENV NJS_VERSION     0.8.3

RUN set -x \
# create nginx user/group first, to be consistent throughout docker variants
    && groupadd --system --gid 101 nginx \
    && useradd --system --gid nginx --no-create-home --home /nonexistent \
       --comment "nginx user" --shell /bin/false --uid 101 nginx \
# forward request and error logs to docker log collector
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log

COPY docker-entrypoint.sh /
ENTRYPOINT ["/docker-entrypoint.sh"]

EXPOSE 80

STOPSIGNAL SIGQUIT

HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS http://localhost/ || exit 1

CMD ["nginx", "-g", "daemon off;"]
"#;
    let dockerfile = ok(text);
    assert_eq!(
        keywords(&dockerfile, 0),
        [
            "LABEL",
            "ENV",
            "ENV",
            "RUN",
            "COPY",
            "ENTRYPOINT",
            "EXPOSE",
            "STOPSIGNAL",
            "HEALTHCHECK",
            "CMD"
        ]
    );
    let instructions = &dockerfile.stages[0].instructions;
    assert_eq!(
        instructions[0].inner,
        Instruction::Label(vec![(
            "maintainer".into(),
            "\"NGINX Docker Maintainers <docker-maint@nginx.com>\"".into()
        )])
    );
    assert_eq!(
        instructions[1].inner,
        Instruction::Env(vec![("NGINX_VERSION".into(), "1.25.4".into())])
    );
    // Two legacy ENVs: two warnings.
    assert_eq!(dockerfile.warnings.len(), 2);
    let Instruction::Run { command, .. } = &instructions[3].inner else {
        panic!()
    };
    let ShellOrExec::Shell(script) = command else {
        panic!()
    };
    assert!(!script.contains('#'));
    assert!(script.contains("&& ln -sf /dev/stderr /var/log/nginx/error.log"));
    assert_eq!((instructions[3].line, instructions[3].end_line), (8, 15));
    assert_eq!(instructions[4].line, 17);
    assert_eq!(
        instructions[8].inner,
        Instruction::Healthcheck(Some(Healthcheck {
            test: strings(&["CMD-SHELL", "curl -fsS http://localhost/ || exit 1"]),
            interval: Some("30s".into()),
            timeout: Some("5s".into()),
            start_period: None,
            start_interval: None,
            retries: None,
        }))
    );
    // The label value is expanded at build time.
    let Instruction::Label(labels) = &instructions[0].inner else {
        panic!()
    };
    assert_eq!(
        expand(&labels[0].1, '\\', &|_| None).unwrap(),
        "NGINX Docker Maintainers <docker-maint@nginx.com>"
    );
}

#[test]
fn windows_style_with_backtick_escape() {
    let text = "# escape=`\n\
                FROM mcr.microsoft.com/windows/servercore:ltsc2022\n\
                SHELL [\"powershell\", \"-Command\", \"$ErrorActionPreference = 'Stop';\"]\n\
                COPY testfile.txt c:\\\n\
                RUN dir c:\\ `\n\
                \x20   && echo done\n\
                WORKDIR c:\\app\n";
    let dockerfile = ok(text);
    assert_eq!(dockerfile.directives.escape, '`');
    let instructions = &dockerfile.stages[0].instructions;
    assert_eq!(
        instructions[1].inner,
        Instruction::Copy {
            sources: strings(&["testfile.txt"]),
            dest: "c:\\".into(),
            from: None,
            chown: None,
            chmod: None,
            link: false,
            heredocs: vec![],
        }
    );
    assert_eq!(
        instructions[2].inner,
        Instruction::Run {
            command: ShellOrExec::Shell("dir c:\\     && echo done".into()),
            heredocs: vec![],
            network: None,
            mounts: vec![],
            security: None,
        }
    );
    assert_eq!(
        instructions[3].inner,
        Instruction::Workdir("c:\\app".into())
    );
    assert_eq!(instructions[3].line, 7);
}

#[test]
fn heredoc_examples_from_the_buildkit_docs() {
    let text = "# syntax=docker/dockerfile:1\n\
                FROM debian\n\
                RUN <<EOT bash\n\
                \x20 set -ex\n\
                \x20 apt-get update\n\
                \x20 apt-get install -y vim\n\
                EOT\n\
                COPY <<-EOT /app/script.sh\n\
                \techo hello ${FOO}\n\
                \tEOT\n\
                RUN python3 <<EOF\n\
                with open(\"/hello\", \"w\") as f:\n\
                \x20   print(\"Hello\", file=f)\n\
                EOF\n\
                CMD [\"bash\"]\n";
    let dockerfile = ok(text);
    let instructions = &dockerfile.stages[0].instructions;
    assert_eq!(keywords(&dockerfile, 0), ["RUN", "COPY", "RUN", "CMD"]);
    let Instruction::Run {
        command, heredocs, ..
    } = &instructions[0].inner
    else {
        panic!()
    };
    assert_eq!(command, &ShellOrExec::Shell("<<EOT bash".into()));
    assert_eq!(
        heredocs[0].content,
        "  set -ex\n  apt-get update\n  apt-get install -y vim\n"
    );
    let Instruction::Copy {
        sources,
        dest,
        heredocs,
        ..
    } = &instructions[1].inner
    else {
        panic!()
    };
    assert!(sources.is_empty());
    assert_eq!(dest, "/app/script.sh");
    assert_eq!(heredocs[0].body(), "echo hello ${FOO}\n");
    let lookup = |name: &str| (name == "FOO").then(|| "world".to_string());
    assert_eq!(
        rbox_builder::expand::expand_heredoc(&heredocs[0].body(), &lookup).unwrap(),
        "echo hello world\n"
    );
    let lines: Vec<(usize, usize)> = instructions.iter().map(|l| (l.line, l.end_line)).collect();
    assert_eq!(lines, vec![(3, 7), (8, 10), (11, 14), (15, 15)]);
}

#[test]
fn arguments_expand_with_build_values() {
    let dockerfile = ok("ARG VERSION=1.0\nFROM alpine\nARG VERSION\nENV APP_VERSION=$VERSION \\\n    PATH=/opt/app/bin:$PATH\nLABEL version=\"${VERSION:-dev}\"\n");
    let Instruction::Env(pairs) = &dockerfile.stages[0].instructions[1].inner else {
        panic!()
    };
    let lookup = |name: &str| match name {
        "VERSION" => Some("2.1".to_string()),
        "PATH" => Some("/usr/bin".to_string()),
        _ => None,
    };
    let expanded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", expand(v, '\\', &lookup).unwrap()))
        .collect();
    assert_eq!(expanded, ["APP_VERSION=2.1", "PATH=/opt/app/bin:/usr/bin"]);
    assert_eq!(
        split_words("a \"b c\" d", '\\').unwrap(),
        ["a", "\"b c\"", "d"]
    );
}

#[test]
fn check_reports_every_problem() {
    let text = "FROM alpine AS base\n\
                RUN apk add curl\n\
                COPYY . /app\n\
                FROM base AS BASE\n\
                COPY --from=base\n\
                HEALTHCHECK --interval=10 CMD true\n\
                RUN <<EOF\n\
                echo never closed\n";
    let errors = parse(text).unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "line 3: unknown instruction: COPYY (did you mean COPY?)",
            "line 4: duplicate stage name \"base\"",
            "line 5: COPY requires at least two arguments: one or more sources, then the destination",
            "line 6: time: missing unit in duration \"10\"",
            "line 7: unterminated heredoc <<EOF: no line \"EOF\" ends it before the end of the file",
        ]
    );
}
