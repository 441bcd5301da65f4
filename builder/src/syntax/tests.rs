use super::*;

fn nodes(text: &str) -> Vec<Node> {
    parse_nodes(text).expect("parses").1
}

fn one(text: &str) -> Node {
    let mut nodes = nodes(text);
    assert_eq!(nodes.len(), 1, "{nodes:#?}");
    nodes.remove(0)
}

#[test]
fn keyword_flags_rest_and_lines() {
    let all = nodes("FROM alpine\n\nrun echo hi\n  Copy --from=build --chown=1:1 /a /b\n");
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].keyword, "FROM");
    assert_eq!(all[0].rest, "alpine");
    assert_eq!((all[0].start_line, all[0].end_line), (1, 1));
    assert_eq!(all[1].keyword, "RUN");
    assert_eq!(all[1].rest, "echo hi");
    assert_eq!(all[1].original, "run echo hi");
    assert_eq!((all[1].start_line, all[1].end_line), (3, 3));
    assert_eq!(all[2].keyword, "COPY");
    assert_eq!(all[2].flags, vec!["--from=build", "--chown=1:1"]);
    assert_eq!(all[2].rest, "/a /b");
    assert_eq!(all[2].start_line, 4);
}

#[test]
fn keywords_are_case_insensitive() {
    for keyword in ["from", "From", "fRoM", "FROM"] {
        assert_eq!(one(&format!("{keyword} x")).keyword, "FROM");
    }
}

#[test]
fn comments_and_blank_lines_are_skipped() {
    let all = nodes(
        "# a comment\n\n   # indented comment\nFROM x\n\t\n# another\nRUN y # not a comment\n",
    );
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].rest, "y # not a comment");
    assert_eq!(all[1].start_line, 7);
}

#[test]
fn continuation_joins_lines_without_separator() {
    let node = one("RUN apt-get update && \\\n    apt-get install -y curl\n");
    assert_eq!(node.rest, "apt-get update &&     apt-get install -y curl");
    assert_eq!((node.start_line, node.end_line), (1, 2));
    // Docker adds no space: `a\` + `b` is `ab`.
    assert_eq!(one("RUN a\\\nb").rest, "ab");
}

#[test]
fn continuation_allows_trailing_blanks_after_escape() {
    let node = one("RUN a \\  \t\n  b\n");
    assert_eq!(node.rest, "a   b");
}

#[test]
fn comment_lines_inside_continuation_are_dropped() {
    let node = one("RUN a \\\n# comment \\\n   # indented comment\n  b \\\n  c\n");
    assert_eq!(node.rest, "a   b   c");
    assert_eq!((node.start_line, node.end_line), (1, 5));
}

#[test]
fn blank_lines_inside_continuation_are_skipped_with_a_warning() {
    let parsed = parse_all("FROM x\nRUN a \\\n\n  b\nRUN c\n");
    assert!(parsed.errors.is_empty());
    assert_eq!(parsed.nodes[1].rest, "a   b");
    assert_eq!(parsed.nodes[1].end_line, 4);
    assert_eq!(parsed.nodes[2].start_line, 5);
    assert_eq!(parsed.warnings.len(), 1);
    assert_eq!(parsed.warnings[0].line, 2);
}

#[test]
fn continuation_at_end_of_file() {
    let node = one("RUN a \\");
    assert_eq!(node.rest, "a");
    assert_eq!(node.end_line, 1);
}

#[test]
fn escape_directive_backtick() {
    let (directives, all) =
        parse_nodes("# escape=`\nFROM windows\nRUN dir `\n   c:\\windows\nCOPY a\\b c:\\\n")
            .unwrap();
    assert_eq!(directives.escape, '`');
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].rest, "dir    c:\\windows");
    assert_eq!((all[1].start_line, all[1].end_line), (3, 4));
    // With the backtick as escape, a trailing backslash is an ordinary character.
    assert_eq!(all[2].rest, "a\\b c:\\");
    assert_eq!(all[2].end_line, 5);
}

#[test]
fn default_escape_is_backslash_and_backtick_is_ordinary() {
    let (directives, all) = parse_nodes("FROM x\nRUN echo `\nRUN b\n").unwrap();
    assert_eq!(directives.escape, '\\');
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].rest, "echo `");
}

#[test]
fn directives_syntax_and_check() {
    let (directives, _) = parse_nodes(
        "# syntax=docker/dockerfile:1.7\n#check=skip=JSONArgsRecommended\n# ESCAPE = \\\nFROM x\n",
    )
    .unwrap();
    assert_eq!(directives.syntax.as_deref(), Some("docker/dockerfile:1.7"));
    assert_eq!(
        directives.check.as_deref(),
        Some("skip=JSONArgsRecommended")
    );
    assert_eq!(directives.escape, '\\');
}

#[test]
fn directives_only_count_at_the_top() {
    // After an ordinary comment, a blank line or an instruction, they are comments.
    for text in [
        "# hello\n# escape=`\nFROM x\nRUN a \\\n b\n",
        "\n# escape=`\nFROM x\nRUN a \\\n b\n",
        "FROM x\n# escape=`\nRUN a \\\n b\n",
        "# unknown=1\n# escape=`\nFROM x\nRUN a \\\n b\n",
    ] {
        let (directives, all) = parse_nodes(text).unwrap();
        assert_eq!(directives.escape, '\\', "{text}");
        assert_eq!(all.last().unwrap().rest, "a  b", "{text}");
    }
}

#[test]
fn bad_and_repeated_directives() {
    let error = parse_nodes("# escape=x\nFROM a\n").unwrap_err();
    assert_eq!(error.line, 1);
    assert!(
        error.message.contains("invalid escape token 'x'"),
        "{error}"
    );
    let error = parse_nodes("# escape=`\n# escape=\\\nFROM a\n").unwrap_err();
    assert_eq!(error.line, 2);
    assert_eq!(
        error.message,
        "only one escape parser directive can be used"
    );
    assert_eq!(
        error.to_string(),
        "line 2: only one escape parser directive can be used"
    );
}

#[test]
fn byte_order_mark_and_crlf() {
    let all = nodes("\u{feff}# escape=`\r\nFROM x\r\nRUN a `\r\n  b\r\n");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].rest, "x");
    assert_eq!(all[1].rest, "a   b");
}

#[test]
fn json_and_shell_forms() {
    assert_eq!(
        one(r#"CMD ["echo", "hi there"]"#).json,
        Some(vec!["echo".to_string(), "hi there".to_string()])
    );
    assert_eq!(one("CMD echo hi").json, None);
    assert_eq!(one("CMD []").json, Some(vec![]));
    assert_eq!(one(r#"RUN [ -f /x ] && echo"#).json, None);
    assert_eq!(one(r#"CMD ["a", 1]"#).json, None);
    // Like Docker, text after the array is ignored.
    assert_eq!(
        one(r#"CMD ["a"] trailing"#).json,
        Some(vec!["a".to_string()])
    );
    let node = one("ENTRYPOINT [\"a\", \\\n  \"b\"]\n");
    assert_eq!(node.json, Some(vec!["a".to_string(), "b".to_string()]));
}

#[test]
fn json_classification() {
    assert_eq!(json_form("echo"), JsonForm::NotJson);
    assert_eq!(json_form("[ -f x ]"), JsonForm::NotJson);
    assert_eq!(json_form(r#"["a", "b""#), JsonForm::Unterminated);
    assert_eq!(json_form("["), JsonForm::Unterminated);
    assert_eq!(json_form(r#"["a", true]"#), JsonForm::NotStrings);
    assert_eq!(
        json_form(r#"  ["a\"b"]"#),
        JsonForm::Array(vec!["a\"b".to_string()])
    );
}

#[test]
fn flags_are_split_from_the_rest() {
    let node = one("RUN --mount=type=cache,target=/root/.cache --network=none make");
    assert_eq!(
        node.flags,
        vec!["--mount=type=cache,target=/root/.cache", "--network=none"]
    );
    assert_eq!(node.rest, "make");
    let node = one(r#"COPY --chown="a b" --link src dst"#);
    assert_eq!(node.flags, vec!["--chown=a b", "--link"]);
    assert_eq!(node.rest, "src dst");
    // `--` ends the flags.
    let node = one("RUN -- --not-a-flag");
    assert!(node.flags.is_empty());
    assert_eq!(node.rest, "--not-a-flag");
    // A single dash is not a flag.
    let node = one("RUN -x");
    assert!(node.flags.is_empty());
    assert_eq!(node.rest, "-x");
    // Only flags.
    let node = one("COPY --link");
    assert_eq!(node.flags, vec!["--link"]);
    assert_eq!(node.rest, "");
}

#[test]
fn heredoc_single() {
    let node = one("RUN <<EOF\necho hello\necho $HOME\nEOF\n");
    assert_eq!(node.rest, "<<EOF");
    assert_eq!(
        node.heredocs,
        vec![Heredoc {
            name: "EOF".into(),
            content: "echo hello\necho $HOME\n".into(),
            expand: true,
            strip_tabs: false,
        }]
    );
    assert_eq!((node.start_line, node.end_line), (1, 4));
}

#[test]
fn heredoc_lines_are_not_syntax() {
    // Comments, continuations and blank lines inside a heredoc are content.
    let all = nodes("RUN <<EOF\n# not a comment\n\nline \\\nEOF\nRUN next\n");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].heredocs[0].content, "# not a comment\n\nline \\\n");
    assert_eq!(all[1].start_line, 6);
}

#[test]
fn heredoc_with_command_and_redirect() {
    let node = one("RUN python3 <<EOF > /out\nprint(1)\nEOF\n");
    assert_eq!(node.rest, "python3 <<EOF > /out");
    assert_eq!(node.heredocs.len(), 1);
    assert_eq!(node.heredocs[0].content, "print(1)\n");
}

#[test]
fn heredoc_quoted_delimiters_do_not_expand() {
    for opener in [r#"<<"EOF""#, "<<'EOF'", r#"<<E"OF""#] {
        let node = one(&format!("RUN {opener}\necho $X\nEOF\n"));
        assert_eq!(node.heredocs[0].name, "EOF", "{opener}");
        assert!(!node.heredocs[0].expand, "{opener}");
    }
    // An escaped quote is part of the name and does not count as quoting.
    let node = one("RUN <<eo\\'f\nx\neo'f\n");
    assert_eq!(node.heredocs[0].name, "eo'f");
    assert!(node.heredocs[0].expand);
}

#[test]
fn heredoc_strip_tabs() {
    let node = one("RUN <<-EOF\n\techo a\n\t\techo b\n\tEOF\n");
    let heredoc = &node.heredocs[0];
    assert!(heredoc.strip_tabs);
    assert_eq!(heredoc.content, "\techo a\n\t\techo b\n");
    assert_eq!(heredoc.body(), "echo a\necho b\n");
    // Without `-`, a tab-indented delimiter does not end the heredoc.
    assert!(parse_nodes("RUN <<EOF\n\techo\n\tEOF\n").is_err());
}

#[test]
fn heredocs_several_on_one_line_read_in_order() {
    let node = one("COPY <<X <<Y /dest/\nY\nX\nX\nY\n");
    assert_eq!(node.heredocs.len(), 2);
    assert_eq!(node.heredocs[0].name, "X");
    assert_eq!(node.heredocs[0].content, "Y\n");
    assert_eq!(node.heredocs[1].name, "Y");
    assert_eq!(node.heredocs[1].content, "X\n");
    assert_eq!(node.end_line, 5);
}

#[test]
fn heredoc_with_file_descriptor_and_space() {
    let node = one("RUN cat 3<<EOF\na\nEOF\n");
    assert_eq!(node.heredocs[0].name, "EOF");
    let node = one("RUN cat << EOF\na\nEOF\n");
    assert_eq!(node.heredocs[0].name, "EOF");
    assert_eq!(node.heredocs[0].content, "a\n");
}

#[test]
fn heredoc_after_continuation() {
    let node = one("RUN --network=none \\\n  cat <<EOF\nbody\nEOF\n");
    assert_eq!(node.flags, vec!["--network=none"]);
    assert_eq!(node.heredocs[0].content, "body\n");
    assert_eq!((node.start_line, node.end_line), (1, 4));
}

#[test]
fn heredocs_only_for_run_copy_add_and_not_json() {
    // Other instructions: `<<` is text, the next line is an instruction.
    let all = nodes("ENV A=<<EOF\nRUN x\n");
    assert_eq!(all.len(), 2);
    assert!(all[0].heredocs.is_empty());
    let all = nodes("RUN [\"cat\", \"<<EOF\"]\nRUN x\n");
    assert_eq!(all.len(), 2);
    // A quoted `<<` is not an opener, nor is `<<<`.
    assert_eq!(nodes("RUN echo \"<<EOF\"\nRUN x\n").len(), 2);
    assert_eq!(nodes("RUN cat <<<word\nRUN x\n").len(), 2);
    // ONBUILD of RUN/COPY/ADD takes heredocs.
    let node = one("ONBUILD RUN <<EOF\necho\nEOF\n");
    assert_eq!(node.heredocs[0].content, "echo\n");
}

#[test]
fn heredoc_variable_name_kept() {
    let node = one("RUN <<$EOF\nx\n$EOF\n");
    assert_eq!(node.heredocs[0].name, "$EOF");
}

#[test]
fn unterminated_heredoc_names_its_first_line() {
    let error = parse_nodes("FROM x\nRUN true\nRUN <<EOF\necho\n").unwrap_err();
    assert_eq!(error.line, 3);
    assert!(error.message.contains("unterminated heredoc"), "{error}");
    let parsed = parse_all("FROM x\nCOPY <<A <<B /x/\na\nA\nb\n");
    assert_eq!(parsed.errors.len(), 1);
    assert_eq!(parsed.errors[0].line, 2);
    assert!(parsed.errors[0].message.contains("<<B"));
}

#[test]
fn heredoc_word_parsing() {
    assert!(heredoc_word("<<").is_none());
    assert!(heredoc_word("<<-").is_none());
    assert!(heredoc_word("cat<<EOF").is_none());
    assert!(heredoc_word("<<<EOF").is_none());
    let heredoc = heredoc_word("<<-'END'").unwrap();
    assert_eq!(heredoc.name, "END");
    assert!(heredoc.strip_tabs);
    assert!(!heredoc.expand);
    assert_eq!(heredoc_word("12<<EOF").unwrap().name, "EOF");
}

#[test]
fn unknown_keywords_are_nodes_too() {
    let node = one("FOO bar baz");
    assert_eq!(node.keyword, "FOO");
    assert_eq!(node.rest, "bar baz");
}

#[test]
fn line_numbers_across_a_file() {
    let text = "# syntax=docker/dockerfile:1\n\
                FROM a AS b\n\
                \n\
                RUN one \\\n\
                \x20 two \\\n\
                \x20 # comment\n\
                \x20 three\n\
                COPY <<EOF /x\n\
                content\n\
                EOF\n\
                CMD [\"x\"]\n";
    let all = nodes(text);
    let ranges: Vec<(usize, usize)> = all.iter().map(|n| (n.start_line, n.end_line)).collect();
    assert_eq!(ranges, vec![(2, 2), (4, 7), (8, 10), (11, 11)]);
}

#[test]
fn empty_text_has_no_nodes() {
    assert!(nodes("").is_empty());
    assert!(nodes("# only a comment\n\n").is_empty());
}
