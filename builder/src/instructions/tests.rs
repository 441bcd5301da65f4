use super::test_support::*;
use super::*;

#[test]
fn from_forms() {
    let dockerfile = ok("FROM alpine:3.20\nFROM --platform=$BUILDPLATFORM golang:1.22 AS Build\nfrom scratch as final\n");
    let stages = &dockerfile.stages;
    assert_eq!(stages.len(), 3);
    assert_eq!(stages[0].base, "alpine:3.20");
    assert_eq!(stages[0].name, None);
    assert_eq!(stages[0].platform, None);
    assert_eq!(stages[0].line, 1);
    assert_eq!(stages[1].base, "golang:1.22");
    assert_eq!(stages[1].name.as_deref(), Some("build"));
    assert_eq!(stages[1].platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(stages[1].index, 1);
    assert_eq!(stages[2].base, "scratch");
    assert_eq!(stages[2].name.as_deref(), Some("final"));
    assert_eq!(stages[2].line, 3);
}

#[test]
fn from_errors() {
    assert_eq!(
        error("FROM\n"),
        "line 1: FROM requires either one or three arguments"
    );
    assert_eq!(
        error("FROM a b\n"),
        "line 1: FROM requires either one or three arguments"
    );
    assert_eq!(
        error("FROM a AS\n"),
        "line 1: FROM requires either one or three arguments"
    );
    assert!(error("FROM a AS 1st\n").contains("invalid name for build stage: \"1st\""));
    assert!(error("FROM a AS b$c\n").contains("invalid name for build stage"));
    assert_eq!(
        error("FROM a AS x\nFROM b AS X\n"),
        "line 2: duplicate stage name \"x\""
    );
    assert!(error("FROM --foo=1 a\n").contains("unknown flag: foo"));
}

#[test]
fn stage_index_by_name_or_number() {
    let dockerfile = ok("FROM a AS build\nFROM b\nFROM c AS final\n");
    assert_eq!(dockerfile.stage_index("build"), Some(0));
    assert_eq!(dockerfile.stage_index("BUILD"), Some(0));
    assert_eq!(dockerfile.stage_index("final"), Some(2));
    assert_eq!(dockerfile.stage_index("1"), Some(1));
    assert_eq!(dockerfile.stage_index("3"), None);
    assert_eq!(dockerfile.stage_index("alpine:3"), None);
}

#[test]
fn global_args_before_from() {
    let dockerfile = ok("ARG BASE=alpine\nARG A B=2\nFROM $BASE\nARG BASE\nRUN echo\n");
    let args: Vec<(String, Option<String>, usize)> = dockerfile
        .global_args
        .iter()
        .map(|a| (a.inner.name.clone(), a.inner.default.clone(), a.line))
        .collect();
    assert_eq!(
        args,
        vec![
            ("BASE".into(), Some("alpine".into()), 1),
            ("A".into(), None, 2),
            ("B".into(), Some("2".into()), 2),
        ]
    );
    assert_eq!(dockerfile.stages[0].base, "$BASE");
    assert_eq!(
        dockerfile.stages[0].instructions[0].inner,
        Instruction::Arg(vec![ArgDecl {
            name: "BASE".into(),
            default: None
        }])
    );
}

#[test]
fn no_from() {
    let message = error("RUN echo hi\n");
    assert!(
        message.starts_with("line 1: no FROM instruction before RUN"),
        "{message}"
    );
    let message = error("ARG A=1\nRUN echo\nCOPY a b\nFROM x\n");
    assert!(message.starts_with("line 2: no FROM"), "{message}");
    let message = error("ARG A=1\n");
    assert!(message.contains("no FROM instruction"), "{message}");
    assert_eq!(error(""), "line 1: the Dockerfile has no instructions");
    assert_eq!(
        error("# just a comment\n\n"),
        "line 1: the Dockerfile has no instructions"
    );
}

#[test]
fn unknown_instruction() {
    assert_eq!(
        error("FROM x\nFOO bar\n"),
        "line 2: unknown instruction: FOO"
    );
    assert_eq!(
        error("FROM x\nRUNN echo\n"),
        "line 2: unknown instruction: RUNN (did you mean RUN?)"
    );
    assert_eq!(
        error("FROM x\nfrom2 y\n"),
        "line 2: unknown instruction: FROM2 (did you mean FROM?)"
    );
    // Before FROM, only the unknown instruction is reported.
    assert_eq!(error("BAR\nFROM x\n"), "line 1: unknown instruction: BAR");
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let text = "FROM x\n\
                FOO\n\
                RUN echo ok\n\
                COPY onlyone\n\
                ENV\n\
                HEALTHCHECK CMD\n\
                EXPOSE 80\n\
                ONBUILD ONBUILD RUN x\n\
                WORKDIR\n";
    let lines: Vec<usize> = errors(text).iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 4, 5, 6, 8, 9]);
}

#[test]
fn errors_inside_continuations_name_the_first_line() {
    let errors = errors("FROM x\nRUN ok\nCOPY \\\n  --bad=1 \\\n  a b\n");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 3);
    assert!(errors[0].message.contains("unknown flag: bad"));
}

#[test]
fn located_lines_and_original() {
    let dockerfile = ok("FROM x\n\nRUN a \\\n  b\nCOPY <<EOF /f\nbody\nEOF\nCMD c\n");
    let located: Vec<(usize, usize, &str)> = dockerfile.stages[0]
        .instructions
        .iter()
        .map(|l| (l.line, l.end_line, l.original.as_str()))
        .collect();
    assert_eq!(
        located,
        vec![
            (3, 4, "RUN a   b"),
            (5, 7, "COPY <<EOF /f"),
            (8, 8, "CMD c")
        ]
    );
}

#[test]
fn escape_directive_changes_word_splitting() {
    let dockerfile = ok("# escape=`\nFROM x\nCOPY a` b c:\\dir\\ `\n  d\n");
    assert_eq!(dockerfile.directives.escape, '`');
    let Instruction::Copy { sources, dest, .. } = &dockerfile.stages[0].instructions[0].inner
    else {
        panic!()
    };
    assert_eq!(sources, &strings(&["a` b", "c:\\dir\\"]));
    assert_eq!(dest, "d");
}

#[test]
fn syntax_errors_are_collected_with_instruction_errors() {
    let errors = errors("# escape=x\nFROM a\nFOO\nRUN <<EOF\nnever closed\n");
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![1, 3, 4]);
    assert!(errors[2].message.contains("unterminated heredoc"));
}
