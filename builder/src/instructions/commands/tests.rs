use crate::instructions::test_support::*;
use crate::instructions::*;

#[test]
fn arg_values_kept_as_written() {
    assert_eq!(
        one("ARG V=\"a b\" W=${V:-x} EMPTY=\n"),
        Instruction::Arg(vec![
            ArgDecl {
                name: "V".into(),
                default: Some("\"a b\"".into())
            },
            ArgDecl {
                name: "W".into(),
                default: Some("${V:-x}".into())
            },
            ArgDecl {
                name: "EMPTY".into(),
                default: Some(String::new())
            },
        ])
    );
    assert_eq!(
        error("FROM x\nARG\n"),
        "line 2: ARG requires at least one argument"
    );
    assert_eq!(
        error("FROM x\nARG =x\n"),
        "line 2: ARG names can not be blank"
    );
}

#[test]
fn run_shell_exec_and_flags() {
    assert_eq!(
        one("RUN echo hi\n"),
        Instruction::Run {
            command: ShellOrExec::Shell("echo hi".into()),
            heredocs: vec![],
            network: None,
            mounts: vec![],
            security: None,
        }
    );
    assert_eq!(
        one("RUN [\"echo\", \"hi\"]\n"),
        Instruction::Run {
            command: ShellOrExec::Exec(strings(&["echo", "hi"])),
            heredocs: vec![],
            network: None,
            mounts: vec![],
            security: None,
        }
    );
    assert_eq!(
        one("RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=x --network=none make\n"),
        Instruction::Run {
            command: ShellOrExec::Shell("make".into()),
            heredocs: vec![],
            network: Some("none".into()),
            mounts: strings(&["type=cache,target=/root/.cache", "type=secret,id=x"]),
            security: None,
        }
    );
    // Invalid JSON falls back to the shell form.
    assert_eq!(
        one("RUN [ -f /etc/os-release ] && cat /etc/os-release\n"),
        Instruction::Run {
            command: ShellOrExec::Shell("[ -f /etc/os-release ] && cat /etc/os-release".into()),
            heredocs: vec![],
            network: None,
            mounts: vec![],
            security: None,
        }
    );
}

#[test]
fn run_errors() {
    assert_eq!(
        error("FROM x\nRUN\n"),
        "line 2: RUN requires at least one argument"
    );
    assert!(error("FROM x\nRUN --network=bridge x\n").contains("unsupported network mode"));
    assert!(error("FROM x\nRUN --mount x\n").contains("missing a value on flag: mount"));
    assert!(error("FROM x\nRUN --network=none --network=host x\n")
        .contains("duplicate flag specified: network"));
    assert_eq!(
        error("FROM x\nRUN --netwrk=none x\n"),
        "line 2: unknown flag: netwrk (did you mean network?)"
    );
    assert_eq!(
        error("FROM x\nRUN [\"echo\", \"hi\"\n"),
        "line 2: unterminated JSON array in RUN: [\"echo\", \"hi\""
    );
    assert!(error("FROM x\nRUN [\"a\", 1]\n").contains("arrays must be comprised of strings only"));
}

#[test]
fn run_heredocs() {
    let Instruction::Run {
        command, heredocs, ..
    } = one("RUN <<EOF\napt-get update\napt-get install -y curl\nEOF\n")
    else {
        panic!()
    };
    assert_eq!(command, ShellOrExec::Shell("<<EOF".into()));
    assert_eq!(heredocs.len(), 1);
    assert_eq!(
        heredocs[0].content,
        "apt-get update\napt-get install -y curl\n"
    );

    let Instruction::Run { heredocs, .. } =
        one("RUN python3 <<'PY' > /out && cat <<-SH\nprint('$x')\nPY\n\techo\n\tSH\n")
    else {
        panic!()
    };
    assert_eq!(heredocs.len(), 2);
    assert_eq!(heredocs[0].name, "PY");
    assert!(!heredocs[0].expand);
    assert_eq!(heredocs[1].name, "SH");
    assert!(heredocs[1].strip_tabs);
    assert_eq!(heredocs[1].body(), "echo\n");
}

#[test]
fn cmd_and_entrypoint() {
    assert_eq!(
        one("CMD [\"nginx\", \"-g\", \"daemon off;\"]\n"),
        Instruction::Cmd(ShellOrExec::Exec(strings(&["nginx", "-g", "daemon off;"])))
    );
    assert_eq!(
        one("cmd node server.js\n"),
        Instruction::Cmd(ShellOrExec::Shell("node server.js".into()))
    );
    assert_eq!(
        one("ENTRYPOINT [\"/entrypoint.sh\"]\n"),
        Instruction::Entrypoint(ShellOrExec::Exec(strings(&["/entrypoint.sh"])))
    );
    assert_eq!(
        one("ENTRYPOINT exec top -b\n"),
        Instruction::Entrypoint(ShellOrExec::Shell("exec top -b".into()))
    );
    assert_eq!(one("CMD []\n"), Instruction::Cmd(ShellOrExec::Exec(vec![])));
    // Flags are split off every instruction, so this is Docker's error too.
    assert!(error("FROM x\nCMD --help\n").contains("unknown flag: help"));
    assert!(error("FROM x\nENTRYPOINT [\"a\",\n").contains("unterminated JSON array"));
}

#[test]
fn copy_forms_and_flags() {
    assert_eq!(
        one("COPY --from=build --chown=app:app --chmod=755 --link a b /dst/\n"),
        Instruction::Copy {
            sources: strings(&["a", "b"]),
            dest: "/dst/".into(),
            from: Some("build".into()),
            chown: Some("app:app".into()),
            chmod: Some("755".into()),
            link: true,
            heredocs: vec![],
        }
    );
    assert_eq!(
        one("COPY [\"my file\", \"/dst dir/\"]\n"),
        Instruction::Copy {
            sources: strings(&["my file"]),
            dest: "/dst dir/".into(),
            from: None,
            chown: None,
            chmod: None,
            link: false,
            heredocs: vec![],
        }
    );
    let Instruction::Copy { sources, link, .. } = one("COPY --link=false \"a b\" c*.txt ./\n")
    else {
        panic!()
    };
    assert_eq!(sources, strings(&["\"a b\"", "c*.txt"]));
    assert!(!link);
}

#[test]
fn copy_heredocs() {
    let Instruction::Copy {
        sources,
        dest,
        heredocs,
        ..
    } = one("COPY <<EOF /etc/motd\nHello $USER\nEOF\n")
    else {
        panic!()
    };
    assert!(sources.is_empty());
    assert_eq!(dest, "/etc/motd");
    assert_eq!(heredocs.len(), 1);
    assert_eq!(heredocs[0].name, "EOF");
    assert_eq!(heredocs[0].content, "Hello $USER\n");
    assert!(heredocs[0].expand);

    let Instruction::Copy {
        sources, heredocs, ..
    } = one("COPY real.txt <<a.txt <<\"b.txt\" /dir/\nA\na.txt\nB\nb.txt\n")
    else {
        panic!()
    };
    assert_eq!(sources, strings(&["real.txt"]));
    let names: Vec<&str> = heredocs.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["a.txt", "b.txt"]);
    assert!(heredocs[0].expand);
    assert!(!heredocs[1].expand);
}

#[test]
fn copy_errors() {
    assert_eq!(
        error("FROM x\nCOPY /only\n"),
        "line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined."
    );
    assert!(error("FROM x\nCOPY\n").contains("COPY requires at least two arguments"));
    assert!(error("FROM x\nCOPY --link\n").contains("COPY requires at least two arguments"));
    assert!(error("FROM x\nCOPY [\"\", \"/x\"]\n").contains("source can not be an empty string"));
    assert_eq!(
        error("FROM x\nCOPY a <<EOF\nx\nEOF\n"),
        "line 2: COPY cannot accept a heredoc as a destination"
    );
    assert!(error("FROM x\nCOPY --checksum=sha256:0 a b\n").contains("unknown flag: checksum"));
    assert!(error("FROM x\nCOPY --from a b\n").contains("missing a value on flag: from"));
    assert!(error("FROM x\nCOPY --link=maybe a b\n").contains("expecting boolean value"));
    assert!(error("FROM x\nCOPY \"a b\n").contains("unterminated"));
    assert!(error("FROM x\nCOPY --parents a/b /x/\n").contains("COPY --parents is not supported"));
    assert!(
        error("FROM x\nCOPY --exclude=*.md . /x/\n").contains("COPY --exclude is not supported")
    );
    assert!(error("FROM x\nADD --keep-git-dir https://h/r.git /x\n").contains("not supported"));
    for git in [
        "https://github.com/moby/buildkit.git",
        "https://github.com/moby/buildkit.git#v0.10.1",
        "git@github.com:moby/buildkit.git",
        "git://h/r",
    ] {
        let e = error(&format!("FROM x\nADD {git} /src\n"));
        assert!(
            e.contains("adding a git repository is not supported"),
            "{git}: {e}"
        );
    }
    assert_eq!(
        error("FROM x\nRUN --mount=type=volume,target=/x true\n"),
        "line 2: RUN --mount=type=volume,target=/x: unknown mount type \"volume\" (bind, cache, tmpfs, secret or ssh)"
    );
}

#[test]
fn add_forms_and_flags() {
    assert_eq!(
        one("ADD --checksum=sha256:abc --chown=1:2 --chmod=644 --link https://example.com/x.tar.gz /tmp/\n"),
        Instruction::Add {
            sources: strings(&["https://example.com/x.tar.gz"]),
            dest: "/tmp/".into(),
            chown: Some("1:2".into()),
            chmod: Some("644".into()),
            checksum: Some("sha256:abc".into()),
            link: true,
            heredocs: vec![],
        }
    );
    let Instruction::Add { heredocs, .. } = one("ADD <<EOF /x\nhi\nEOF\n") else {
        panic!()
    };
    assert_eq!(heredocs[0].content, "hi\n");
    assert!(error("FROM x\nADD --checksum=sha256:abc a b /c/\n").contains("multiple sources"));
    assert!(error("FROM x\nADD --from=x a b\n").contains("unknown flag: from"));
    assert!(error("FROM x\nADD a\n").contains("ADD requires at least two arguments"));
}

#[test]
fn env_forms() {
    assert_eq!(
        one("ENV A=1 B=\"two words\" C=${A}x D=\n"),
        Instruction::Env(pairs(&[
            ("A", "1"),
            ("B", "\"two words\""),
            ("C", "${A}x"),
            ("D", "")
        ]))
    );
    assert_eq!(
        one("ENV A=a\\ b\n"),
        Instruction::Env(pairs(&[("A", "a\\ b")]))
    );
    assert_eq!(
        one("ENV MULTI=1 \\\n    OTHER=2\n"),
        Instruction::Env(pairs(&[("MULTI", "1"), ("OTHER", "2")]))
    );
}

#[test]
fn env_legacy_form_with_warning() {
    let dockerfile = ok("FROM x\nENV NAME some value  here\n");
    assert_eq!(
        dockerfile.stages[0].instructions[0].inner,
        Instruction::Env(pairs(&[("NAME", "some value  here")]))
    );
    assert_eq!(dockerfile.warnings.len(), 1);
    assert_eq!(dockerfile.warnings[0].line, 2);
    assert!(dockerfile.warnings[0].message.contains("legacy"));
}

#[test]
fn env_and_label_errors() {
    assert_eq!(
        error("FROM x\nENV\n"),
        "line 2: ENV requires at least one argument"
    );
    assert_eq!(
        error("FROM x\nENV A\n"),
        "line 2: ENV must have two arguments"
    );
    assert!(error("FROM x\nENV A=1 B\n").contains("can't find = in \"B\""));
    assert_eq!(
        error("FROM x\nENV =1\n"),
        "line 2: ENV names can not be blank"
    );
    assert_eq!(
        error("FROM x\nLABEL\n"),
        "line 2: LABEL requires at least one argument"
    );
    assert!(error("FROM x\nLABEL a=1 b\n").contains("can't find = in \"b\""));
    assert!(error("FROM x\nENV A=\"unterminated\n").contains("unterminated"));
}

#[test]
fn label_forms() {
    assert_eq!(
        one("LABEL org.opencontainers.image.title=\"My App\" version=1.0 \"quoted key\"=v\n"),
        Instruction::Label(pairs(&[
            ("org.opencontainers.image.title", "\"My App\""),
            ("version", "1.0"),
            ("\"quoted key\"", "v"),
        ]))
    );
    assert_eq!(
        one("LABEL description This is a description\n"),
        Instruction::Label(pairs(&[("description", "This is a description")]))
    );
}

#[test]
fn single_argument_instructions() {
    assert_eq!(one("WORKDIR /app\n"), Instruction::Workdir("/app".into()));
    assert_eq!(
        one("WORKDIR /path with space\n"),
        Instruction::Workdir("/path with space".into())
    );
    assert_eq!(one("USER app:app\n"), Instruction::User("app:app".into()));
    assert_eq!(
        one("STOPSIGNAL SIGTERM\n"),
        Instruction::StopSignal("SIGTERM".into())
    );
    for keyword in ["WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"] {
        assert_eq!(
            error(&format!("FROM x\n{keyword}\n")),
            format!("line 2: {keyword} requires exactly one argument")
        );
    }
    assert!(error("FROM x\nUSER --x=1 a\n").contains("unknown flag"));
}

#[test]
fn maintainer_is_accepted_with_a_warning() {
    let dockerfile = ok("FROM x\nMAINTAINER Jane Doe <jane@example.com>\n");
    assert_eq!(
        dockerfile.stages[0].instructions[0].inner,
        Instruction::Maintainer("Jane Doe <jane@example.com>".into())
    );
    assert_eq!(dockerfile.warnings.len(), 1);
    assert!(dockerfile.warnings[0].message.contains("deprecated"));
}

#[test]
fn expose_and_volume() {
    assert_eq!(
        one("EXPOSE 80 443/tcp 53/udp ${PORT}\n"),
        Instruction::Expose(strings(&["80", "443/tcp", "53/udp", "${PORT}"]))
    );
    assert_eq!(
        one("VOLUME [\"/data\", \"/var/log\"]\n"),
        Instruction::Volume(strings(&["/data", "/var/log"]))
    );
    assert_eq!(
        one("VOLUME /data /cache\n"),
        Instruction::Volume(strings(&["/data", "/cache"]))
    );
    assert_eq!(
        error("FROM x\nEXPOSE\n"),
        "line 2: EXPOSE requires at least one argument"
    );
    assert_eq!(
        error("FROM x\nVOLUME\n"),
        "line 2: VOLUME requires at least one argument"
    );
    assert_eq!(
        error("FROM x\nVOLUME [\"\"]\n"),
        "line 2: VOLUME specified can not be an empty string"
    );
}

#[test]
fn shell_instruction() {
    assert_eq!(
        one("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n"),
        Instruction::Shell(strings(&["/bin/bash", "-o", "pipefail", "-c"]))
    );
    assert!(error("FROM x\nSHELL /bin/bash -c\n")
        .contains("SHELL requires the arguments to be in JSON form"));
    assert!(error("FROM x\nSHELL []\n").contains("SHELL requires at least one argument"));
    assert!(error("FROM x\nSHELL\n").contains("SHELL requires at least one argument"));
}

#[test]
fn healthcheck_forms() {
    assert_eq!(one("HEALTHCHECK NONE\n"), Instruction::Healthcheck(None));
    assert_eq!(
        one("HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --start-interval=1s --retries=3 \\\n  CMD curl -f http://localhost/ || exit 1\n"),
        Instruction::Healthcheck(Some(Healthcheck {
            test: strings(&["CMD-SHELL", "curl -f http://localhost/ || exit 1"]),
            interval: Some("30s".into()),
            timeout: Some("3s".into()),
            start_period: Some("5s".into()),
            start_interval: Some("1s".into()),
            retries: Some(3),
        }))
    );
    assert_eq!(
        one("healthcheck cmd [\"/bin/check\", \"--quick\"]\n"),
        Instruction::Healthcheck(Some(Healthcheck {
            test: strings(&["CMD", "/bin/check", "--quick"]),
            interval: None,
            timeout: None,
            start_period: None,
            start_interval: None,
            retries: None,
        }))
    );
}

#[test]
fn healthcheck_errors() {
    assert_eq!(
        error("FROM x\nHEALTHCHECK\n"),
        "line 2: HEALTHCHECK requires at least one argument"
    );
    assert_eq!(
        error("FROM x\nHEALTHCHECK NONE x\n"),
        "line 2: HEALTHCHECK NONE takes no arguments"
    );
    assert_eq!(
        error("FROM x\nHEALTHCHECK CMD\n"),
        "line 2: Missing command after HEALTHCHECK CMD"
    );
    assert_eq!(
        error("FROM x\nHEALTHCHECK CMD []\n"),
        "line 2: Missing command after HEALTHCHECK CMD"
    );
    assert!(error("FROM x\nHEALTHCHECK PING x\n").contains("Unknown type \"PING\" in HEALTHCHECK"));
    assert!(error("FROM x\nHEALTHCHECK --interval=5 CMD x\n").contains("missing unit"));
    assert!(
        error("FROM x\nHEALTHCHECK --interval=10us CMD x\n").contains("cannot be less than 1ms")
    );
    assert!(error("FROM x\nHEALTHCHECK --retries=-1 CMD x\n").contains("cannot be negative"));
    assert!(error("FROM x\nHEALTHCHECK --retries=x CMD x\n").contains("--retries"));
    assert!(error("FROM x\nHEALTHCHECK --bogus=1 CMD x\n").contains("unknown flag: bogus"));
    assert!(error("FROM x\nHEALTHCHECK --interval=1s NONE\n").contains("takes no options"));
}

#[test]
fn onbuild_triggers() {
    assert_eq!(
        one("ONBUILD COPY --chown=app . /app\n"),
        Instruction::Onbuild("COPY --chown=app . /app".into())
    );
    assert_eq!(
        one("onbuild run echo hi\n"),
        Instruction::Onbuild("run echo hi".into())
    );
    assert_eq!(
        one("ONBUILD RUN <<EOF\necho a\nEOF\n"),
        Instruction::Onbuild("RUN <<EOF\necho a\nEOF".into())
    );
    assert_eq!(
        error("FROM x\nONBUILD ONBUILD RUN x\n"),
        "line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
    assert_eq!(
        error("FROM x\nONBUILD FROM alpine\n"),
        "line 2: FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        error("FROM x\nONBUILD MAINTAINER me\n"),
        "line 2: MAINTAINER isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        error("FROM x\nONBUILD\n"),
        "line 2: ONBUILD requires at least one argument"
    );
    assert!(error("FROM x\nONBUILD FOO\n").contains("unknown instruction: FOO"));
    assert!(error("FROM x\nONBUILD COPY a\n").contains("ONBUILD COPY: COPY requires"));
}

#[test]
fn instruction_keywords() {
    for (body, keyword) in [
        ("RUN x", "RUN"),
        ("COPY a b", "COPY"),
        ("ADD a b", "ADD"),
        ("HEALTHCHECK NONE", "HEALTHCHECK"),
        ("ONBUILD RUN x", "ONBUILD"),
    ] {
        assert_eq!(one(body).keyword(), keyword);
    }
}
