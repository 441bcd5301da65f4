use super::super::test_support::{one, pairs, strings};
use super::*;
use crate::instructions::ShellOrExec;

fn vars(name: &str) -> Option<String> {
    match name {
        "A" => Some("a".into()),
        "DIR" => Some("/srv".into()),
        "SUM" => Some("sha256:00".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn expanded(body: &str) -> Instruction {
    one(body).expand('\\', &vars).expect("expands")
}

#[test]
fn env_values_see_those_before_them_on_the_line_and_keys_stay_as_written() {
    assert_eq!(
        expanded("ENV B=$A C=${B}x A=z D=$A \"E\"='$A'\n"),
        Instruction::Env(pairs(&[
            ("B", "a"),
            ("C", "ax"),
            ("A", "z"),
            ("D", "z"),
            ("\"E\"", "$A")
        ]))
    );
}

#[test]
fn copy_and_add_expand_sources_dest_and_checksum_not_the_other_flags() {
    let copy = expanded("COPY --from=$A --chown=$A --chmod=$A $A ${DIR}/b \"$DIR/\"\n");
    assert_eq!(
        copy,
        Instruction::Copy {
            sources: strings(&["a", "/srv/b"]),
            dest: "/srv/".into(),
            from: Some("$A".into()),
            chown: Some("$A".into()),
            chmod: Some("$A".into()),
            link: false,
            heredocs: vec![],
        }
    );
    let Instruction::Add {
        sources,
        dest,
        checksum,
        ..
    } = expanded("ADD --checksum=$SUM https://x/$A $DIR\n")
    else {
        panic!("not an ADD");
    };
    assert_eq!(sources, strings(&["https://x/a"]));
    assert_eq!(dest, "/srv");
    assert_eq!(checksum.as_deref(), Some("sha256:00"));
}

#[test]
fn copy_heredocs_are_expanded_unless_quoted_and_come_out_as_is() {
    let Instruction::Copy { heredocs, .. } =
        expanded("COPY <<one <<\"two\" /d/\n$A \"$A\"\none\n$A\ntwo\n")
    else {
        panic!("not a COPY");
    };
    assert_eq!(heredocs[0].content, "a \"a\"\n");
    assert!(!heredocs[0].expand && !heredocs[0].strip_tabs);
    assert_eq!(heredocs[1].content, "$A\n");
    assert_eq!(heredocs[1].body(), "$A\n");
    let Instruction::Copy { heredocs, .. } = expanded("COPY <<-one /f\n\t$A\n\tone\n") else {
        panic!("not a COPY");
    };
    assert_eq!(heredocs[0].body(), "a\n");
}

#[test]
fn words_of_the_other_instructions() {
    assert_eq!(
        expanded("WORKDIR $DIR/$A\n"),
        Instruction::Workdir("/srv/a".into())
    );
    assert_eq!(expanded("USER ${A}:$A\n"), Instruction::User("a:a".into()));
    assert_eq!(
        expanded("STOPSIGNAL SIG$A\n"),
        Instruction::StopSignal("SIGa".into())
    );
    assert_eq!(
        expanded("VOLUME $DIR \"$A b\"\n"),
        Instruction::Volume(strings(&["/srv", "a b"]))
    );
    assert_eq!(
        expanded("EXPOSE 8$A ${EMPTY}80/udp\n"),
        Instruction::Expose(strings(&["8a", "80/udp"]))
    );
    assert_eq!(
        expanded("LABEL $A=$DIR \"k $A\"=\"v $A\"\n"),
        Instruction::Label(pairs(&[("a", "/srv"), ("k a", "v a")]))
    );
    let Instruction::Arg(decls) = expanded("ARG X=$A Y Z=${X:-none}\n") else {
        panic!("not an ARG");
    };
    let defaults: Vec<_> = decls.iter().map(|d| d.default.as_deref()).collect();
    assert_eq!(defaults, [Some("a"), None, Some("none")]);
}

#[test]
fn what_the_shell_or_the_config_takes_is_left_as_written() {
    for body in [
        "RUN echo $A\n",
        "RUN [\"echo\", \"$A\"]\n",
        "CMD echo $A\n",
        "ENTRYPOINT [\"$A\"]\n",
        "SHELL [\"/bin/$A\", \"-c\"]\n",
        "HEALTHCHECK CMD echo $A\n",
        "HEALTHCHECK NONE\n",
        "ONBUILD RUN echo $A\n",
        "MAINTAINER $A\n",
    ] {
        assert_eq!(expanded(body), one(body), "{body}");
    }
    let Instruction::Run {
        command, mounts, ..
    } = expanded("RUN --mount=type=cache,target=$DIR echo $A <<EOF\n$A\nEOF\n")
    else {
        panic!("not a RUN");
    };
    assert_eq!(command, ShellOrExec::Shell("echo $A <<EOF".into()));
    assert_eq!(mounts, strings(&["type=cache,target=/srv"]));
}

#[test]
fn expansion_errors_and_the_size_bound() {
    let e = one("WORKDIR ${NOPE:?is needed}\n")
        .expand('\\', &vars)
        .unwrap_err();
    assert!(e.contains("is needed"), "{e}");
    // Each word under the growth bound, the line over the instruction's.
    let big = "x".repeat(900 << 10);
    let lookup = |n: &str| (n == "BIG").then(|| big.clone());
    let label = one(&format!("LABEL {}\n", "a=$BIG ".repeat(5)));
    let e = label.expand('\\', &lookup).unwrap_err();
    assert!(e.contains(&MAX_EXPANDED_SIZE.to_string()), "{e}");
    let label = one(&format!("LABEL {}\n", "a=$BIG ".repeat(4)));
    assert!(label.expand('\\', &lookup).is_ok());
}

#[test]
fn the_escape_directive_is_the_escape_character() {
    let ins = one("WORKDIR /a`$A\n");
    assert_eq!(
        ins.expand('`', &vars).unwrap(),
        Instruction::Workdir("/a$A".into())
    );
    assert_eq!(
        ins.expand('\\', &vars).unwrap(),
        Instruction::Workdir("/a`a".into())
    );
}

#[test]
fn an_arg_declaration_alone() {
    let Instruction::Arg(decls) = one("ARG X=${A}b Y\n") else {
        panic!("not an ARG");
    };
    let x = decls[0].expand('\\', &vars).unwrap();
    assert_eq!((x.name.as_str(), x.default.as_deref()), ("X", Some("ab")));
    assert_eq!(decls[1].expand('\\', &vars).unwrap(), decls[1]);
    assert!(ArgDecl {
        name: "Z".into(),
        default: Some("${NOPE:?unset}".into()),
    }
    .expand('\\', &vars)
    .is_err());
}
