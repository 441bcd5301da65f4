use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "A" => Some("a".into()),
        "B" => Some("bee".into()),
        "EMPTY" => Some(String::new()),
        "PATH" => Some("/usr/bin:/bin".into()),
        "FILE" => Some("dir/sub/file.tar.gz".into()),
        "SPACED" => Some("x  y".into()),
        "1" => Some("one".into()),
        _ => None,
    }
}

fn x(word: &str) -> String {
    expand(word, '\\', &env).unwrap_or_else(|e| panic!("{word}: {e}"))
}

fn xb(word: &str) -> String {
    expand(word, '`', &env).unwrap_or_else(|e| panic!("{word}: {e}"))
}

fn err(word: &str) -> String {
    expand(word, '\\', &env).expect_err(word)
}

#[test]
fn plain_variables() {
    assert_eq!(x("$A"), "a");
    assert_eq!(x("${A}"), "a");
    assert_eq!(x("x$A-y"), "xa-y");
    assert_eq!(x("${A}b"), "ab");
    assert_eq!(x("$Ab"), "");
    assert_eq!(x("$UNKNOWN"), "");
    assert_eq!(x("${UNKNOWN}"), "");
    assert_eq!(x("$PATH:/usr/local/bin"), "/usr/bin:/bin:/usr/local/bin");
    assert_eq!(x("$1"), "one");
    assert_eq!(x("$"), "$");
    assert_eq!(x("a$ b"), "a$ b");
    assert_eq!(x("$/x"), "$/x");
}

#[test]
fn whitespace_is_kept() {
    assert_eq!(x("a  b"), "a  b");
    assert_eq!(x("$SPACED"), "x  y");
    assert_eq!(x(" lead"), " lead");
}

#[test]
fn default_operators() {
    assert_eq!(x("${A:-x}"), "a");
    assert_eq!(x("${UNKNOWN:-x}"), "x");
    assert_eq!(x("${EMPTY:-x}"), "x");
    assert_eq!(x("${A-x}"), "a");
    assert_eq!(x("${UNKNOWN-x}"), "x");
    assert_eq!(x("${EMPTY-x}"), "");
    assert_eq!(x("${UNKNOWN:-}"), "");
    assert_eq!(x("${UNKNOWN:-a b}"), "a b");
}

#[test]
fn alternate_operators() {
    assert_eq!(x("${A:+x}"), "x");
    assert_eq!(x("${UNKNOWN:+x}"), "");
    assert_eq!(x("${EMPTY:+x}"), "");
    assert_eq!(x("${A+x}"), "x");
    assert_eq!(x("${UNKNOWN+x}"), "");
    assert_eq!(x("${EMPTY+x}"), "x");
}

#[test]
fn required_operators() {
    assert_eq!(x("${A:?x}"), "a");
    assert_eq!(x("${EMPTY?x}"), "");
    assert!(err("${UNKNOWN?}").contains("UNKNOWN: is not allowed to be unset"));
    assert!(err("${EMPTY:?}").contains("EMPTY: is not allowed to be empty"));
    assert!(err("${UNKNOWN:?set it}").contains("UNKNOWN: set it"));
}

#[test]
fn nested_words() {
    assert_eq!(x("${UNKNOWN:-${B}}"), "bee");
    assert_eq!(x("${UNKNOWN:-${OTHER:-deep}}"), "deep");
    assert_eq!(x("${A:+[${B}]}"), "[bee]");
    assert_eq!(x("${UNKNOWN:-$A/x}"), "a/x");
    assert_eq!(x("${UNKNOWN:-\"q }\"}"), "q }");
}

#[test]
fn pattern_removal() {
    assert_eq!(x("${FILE#*/}"), "sub/file.tar.gz");
    assert_eq!(x("${FILE##*/}"), "file.tar.gz");
    assert_eq!(x("${FILE%.*}"), "dir/sub/file.tar");
    assert_eq!(x("${FILE%%.*}"), "dir/sub/file");
    assert_eq!(x("${FILE#nomatch}"), "dir/sub/file.tar.gz");
    assert_eq!(x("${FILE#d?r}"), "/sub/file.tar.gz");
    assert_eq!(x("${UNKNOWN#x}"), "");
    assert_eq!(x("${A#\\*}"), "a");
    assert!(err("${A#\\x}").contains("invalid escape"));
}

#[test]
fn replacement() {
    assert_eq!(x("${PATH/bin/sbin}"), "/usr/sbin:/bin");
    assert_eq!(x("${PATH//bin/sbin}"), "/usr/sbin:/sbin");
    assert_eq!(x("${PATH/:*/}"), "/usr/bin");
    assert_eq!(x("${B/e/E}"), "bEe");
    assert_eq!(x("${B//e/E}"), "bEE");
    assert_eq!(x("${B/x/y}"), "bee");
    assert!(err("${B/x}").contains("missing '/'"));
}

#[test]
fn bad_substitutions() {
    assert!(err("${").contains("missing '}'"));
    assert!(err("${A").contains("missing '}'"));
    assert!(err("${A:-x").contains("missing '}'"));
    assert!(err("${}").contains("bad substitution"));
    assert!(err("${:-x}").contains("bad substitution"));
    assert!(err("${A!}").contains("unsupported modifier (!)"));
    assert!(err("${A:x}").contains("unsupported modifier (:x)"));
    assert!(err("${A}${").starts_with("failed to process \"${A}${\""));
}

#[test]
fn escapes() {
    assert_eq!(x("\\$A"), "$A");
    assert_eq!(x("\\${A}"), "${A}");
    assert_eq!(x("a\\ b"), "a b");
    assert_eq!(x("\\\\"), "\\");
    assert_eq!(x("\\\"x\\\""), "\"x\"");
    assert_eq!(x("c:\\\\dir"), "c:\\dir");
    // A trailing escape character is dropped.
    assert_eq!(x("abc\\"), "abc");
}

#[test]
fn backtick_escape() {
    assert_eq!(xb("`$A"), "$A");
    assert_eq!(xb("c:\\dir\\$A"), "c:\\dir\\a");
    assert_eq!(xb("\"`\"\""), "\"");
    assert_eq!(xb("``"), "`");
}

#[test]
fn single_quotes_are_literal() {
    assert_eq!(x("'$A'"), "$A");
    assert_eq!(x("'a \\ b'"), "a \\ b");
    assert_eq!(x("'${A'"), "${A");
    assert_eq!(x("x'y'z"), "xyz");
    assert!(err("'abc").contains("matching single-quote"));
}

#[test]
fn double_quotes() {
    assert_eq!(x("\"$A b\""), "a b");
    assert_eq!(x("\"'$A'\""), "'a'");
    assert_eq!(x("\"a\\\"b\""), "a\"b");
    assert_eq!(x("\"\\$A\""), "$A");
    assert_eq!(x("\"\\\\\""), "\\");
    // Before other characters the escape character stays.
    assert_eq!(x("\"\\n\""), "\\n");
    assert_eq!(x("\"${UNKNOWN:-d e}\""), "d e");
    assert_eq!(x("\"\""), "");
    assert!(err("\"abc").contains("matching double-quote"));
}

#[test]
fn heredoc_expansion_keeps_quotes() {
    let content = "echo \"$A\" '$B' \\$A\n";
    assert_eq!(
        expand_heredoc(content, &env).unwrap(),
        "echo \"a\" 'bee' $A\n"
    );
}

#[test]
fn skip_unset_mode_keeps_unknown_variables() {
    let mode = Mode {
        skip_unset: true,
        ..Mode::default()
    };
    let out = expand_with("$A $X ${Y} ${Z:-d}", '\\', &env, mode).unwrap();
    assert_eq!(out, "a $X ${Y} ${Z:-d}");
}

#[test]
fn raw_quotes_mode() {
    let mode = Mode {
        raw_quotes: true,
        ..Mode::default()
    };
    assert_eq!(
        expand_with("'a'\"$A\"", '\\', &env, mode).unwrap(),
        "'a'\"a\""
    );
}

#[test]
fn split_words_like_docker() {
    let split = |s: &str| split_words(s, '\\').unwrap();
    assert_eq!(split("a b  c"), vec!["a", "b", "c"]);
    assert_eq!(split("  "), Vec::<String>::new());
    assert_eq!(split("K=\"a b\" L='c d'"), vec!["K=\"a b\"", "L='c d'"]);
    assert_eq!(split("a\\ b c"), vec!["a\\ b", "c"]);
    assert_eq!(split("\"\" x"), vec!["\"\"", "x"]);
    assert_eq!(split("K=\"a \\\" b\""), vec!["K=\"a \\\" b\""]);
    assert_eq!(split("K='a \\' b"), vec!["K='a \\'", "b"]);
    assert_eq!(split("a\tb\nc"), vec!["a", "b", "c"]);
    // A trailing escape character is dropped.
    assert_eq!(split("a \\"), vec!["a"]);
    assert_eq!(
        split_words("a` b c\\ d", '`').unwrap(),
        vec!["a` b", "c\\", "d"]
    );
}

#[test]
fn split_words_unterminated_quote() {
    assert!(split_words("K=\"abc", '\\').is_err());
    assert!(split_words("it's", '\\').is_err());
}

#[test]
fn split_then_expand() {
    let words = split_words("NAME=\"a b\" OTHER=${A:-x}\\ y", '\\').unwrap();
    let expanded: Vec<String> = words.iter().map(|w| x(w)).collect();
    assert_eq!(expanded, vec!["NAME=a b", "OTHER=a y"]);
}

/// Patterns with many `*` against a long value: a backtracking match took exponential
/// time (the `expand` fuzz target hung on one); every form must finish at once.
#[test]
fn patterns_with_many_stars_match_in_linear_time() {
    let long = "a".repeat(1500);
    let lookup = |n: &str| (n == "L").then(|| long.clone());
    let stars = "*a".repeat(12) + "*b";
    let start = std::time::Instant::now();
    for form in ["#", "##", "%", "%%", "/", "//"] {
        let word = if form.starts_with('/') {
            format!("${{L{form}{stars}/x}}")
        } else {
            format!("${{L{form}{stars}}}")
        };
        assert_eq!(expand(&word, '\\', &lookup).unwrap(), long, "{form}");
    }
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // The results are still the shell's.
    let v = |n: &str| (n == "V").then(|| "x.a.b.c".to_owned());
    assert_eq!(expand("${V#*.*.}", '\\', &v).unwrap(), "b.c");
    assert_eq!(expand("${V##*.}", '\\', &v).unwrap(), "c");
    assert_eq!(expand("${V%.*.*}", '\\', &v).unwrap(), "x.a");
    assert_eq!(expand("${V%%.*}", '\\', &v).unwrap(), "x");
    assert_eq!(expand("${V/.*./-}", '\\', &v).unwrap(), "x-c");
    assert_eq!(expand("${V//?/_}", '\\', &v).unwrap(), "_______");
    assert_eq!(expand("${V/*/}", '\\', &v).unwrap(), "");
}

#[test]
fn nesting_is_limited_instead_of_overflowing_the_stack() {
    let deep = |n: usize| format!("{}x{}", "${a:-".repeat(n), "}".repeat(n));
    assert_eq!(x(&deep(MAX_NESTING)), "x");
    let e = err(&deep(MAX_NESTING + 1));
    assert!(e.contains("nested more than 64 deep"), "{e}");
    // 50,000 deep: an error, not a stack overflow; the message quotes only the start.
    let e = err(&deep(50_000));
    assert!(e.contains("nested more than 64 deep"), "{e}");
    assert!(e.len() < 400, "{}", e.len());
}

#[test]
fn an_expanded_word_is_limited_in_size() {
    let big = "a".repeat(600 << 10);
    let lookup = |n: &str| (n == "A").then(|| big.clone());
    assert_eq!(expand("${A}", '\\', &lookup).unwrap().len(), 600 << 10);
    let e = expand("${A}${A}", '\\', &lookup).unwrap_err();
    assert!(e.contains("expanded word is over"), "{e}");
    let e = expand("\"$A$A\"", '\\', &lookup).unwrap_err();
    assert!(e.contains("expanded word is over"), "{e}");
    // A replacement growing the value is cut at the limit too.
    let e = expand("${A//a/aaaaaaaa}", '\\', &lookup).unwrap_err();
    assert!(e.contains("expanded word is over"), "{e}");
    // A heredoc's own text doesn't count against it.
    let doc = "b".repeat(3 << 20);
    assert_eq!(expand_heredoc(&doc, &lookup).unwrap().len(), 3 << 20);
}

#[test]
fn pattern_matching_is_bounded_in_time() {
    let big = "a".repeat(1 << 20);
    let lookup = |n: &str| (n == "A").then(|| big.clone());
    let started = std::time::Instant::now();
    // Linear: a pattern without * looks at few characters per position.
    assert_eq!(
        expand("${A//a/b}", '\\', &lookup).unwrap(),
        "b".repeat(1 << 20)
    );
    assert_eq!(
        expand("${A%%a}", '\\', &lookup).unwrap().len(),
        (1 << 20) - 1
    );
    // Quadratic (a leading * that never matches, at every position): refused.
    let e = expand("${A//*b/c}", '\\', &lookup).unwrap_err();
    assert!(
        e.contains("pattern matching in this word takes over"),
        "{e}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // Small values still match as before.
    assert_eq!(x("${FILE//?/x}"), "x".repeat("dir/sub/file.tar.gz".len()));
    assert_eq!(x("${FILE%.*}"), "dir/sub/file.tar");
    assert_eq!(x("${FILE##*/}"), "file.tar.gz");
}
