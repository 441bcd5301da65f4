use super::*;

fn ignore(text: &str) -> DockerIgnore {
    DockerIgnore::parse(text)
}

#[test]
fn star_matches_within_one_directory() {
    let di = ignore("*.log\n");
    assert!(di.is_excluded("a.log"));
    assert!(di.is_excluded(".log"));
    assert!(!di.is_excluded("dir/a.log"));
    assert!(!di.is_excluded("a.log.txt"));
    assert!(!di.is_excluded("a.txt"));
}

#[test]
fn double_star_matches_any_depth() {
    let di = ignore("**/*.log\n");
    assert!(di.is_excluded("a.log"));
    assert!(di.is_excluded("dir/a.log"));
    assert!(di.is_excluded("d/e/f/a.log"));
    assert!(!di.is_excluded("d/e/f/a.txt"));

    let di = ignore("**/tmp\n");
    assert!(di.is_excluded("tmp"));
    assert!(di.is_excluded("a/tmp"));
    assert!(di.is_excluded("a/b/tmp/file"));
    assert!(!di.is_excluded("a/tmpx"));
    assert!(!di.is_excluded("tmpx"));

    let di = ignore("a/**/b\n");
    assert!(di.is_excluded("a/b"));
    assert!(di.is_excluded("a/x/y/b"));
    assert!(di.is_excluded("a/x/b/c"));
    assert!(!di.is_excluded("a/xb"));

    let di = ignore("build/**\n");
    assert!(di.is_excluded("build/x"));
    assert!(di.is_excluded("build/x/y"));
    assert!(!di.is_excluded("build"));

    let di = ignore("**\n");
    assert!(di.is_excluded("anything"));
    assert!(di.is_excluded("a/b/c"));
}

#[test]
fn exceptions_reinclude_and_last_match_wins() {
    let di = ignore("*.log\n!keep.log\n");
    assert!(di.is_excluded("a.log"));
    assert!(!di.is_excluded("keep.log"));

    let di = ignore("!keep.log\n*.log\n");
    assert!(di.is_excluded("keep.log"));

    let di = ignore("*\n!src\n*.tmp\n");
    assert!(di.is_excluded("README.md"));
    assert!(!di.is_excluded("src"));
    assert!(!di.is_excluded("src/main.rs"));
    assert!(di.is_excluded("x.tmp"));
}

#[test]
fn parent_directory_match_excludes_children() {
    let di = ignore("node_modules\n");
    assert!(di.is_excluded("node_modules"));
    assert!(di.is_excluded("node_modules/a/b.js"));
    assert!(!di.is_excluded("src/node_modules"));

    let di = ignore("docs\n!docs/keep.md\n");
    assert!(di.is_excluded("docs/other.md"));
    assert!(!di.is_excluded("docs/keep.md"));
}

#[test]
fn leading_slash_and_dot_slash_are_relative() {
    let di = ignore("/abs\n./rel\n/dir/file\n");
    assert!(di.is_excluded("abs"));
    assert!(di.is_excluded("rel"));
    assert!(di.is_excluded("dir/file"));
    assert!(!di.is_excluded("x/abs"));
}

#[test]
fn trailing_slash_and_cleaning() {
    let di = ignore("dir/\na//b\nc/./d\ne/../f\n");
    assert!(di.is_excluded("dir"));
    assert!(di.is_excluded("dir/x"));
    assert!(di.is_excluded("a/b"));
    assert!(di.is_excluded("c/d"));
    assert!(di.is_excluded("f"));
    assert!(!di.is_excluded("e"));
}

#[test]
fn comments_blank_lines_and_whitespace() {
    let di = ignore("# comment\n\n   \n  spaced.txt  \n #notcomment\n");
    assert!(!di.is_excluded("# comment"));
    assert!(di.is_excluded("spaced.txt"));
    // `#` is a comment only in the first column.
    assert!(di.is_excluded("#notcomment"));
}

#[test]
fn question_mark_and_classes() {
    let di = ignore("file?.txt\n[abc].md\n[^x]y\nr[0-9]\n");
    assert!(di.is_excluded("file1.txt"));
    assert!(!di.is_excluded("file10.txt"));
    assert!(!di.is_excluded("file/.txt"));
    assert!(di.is_excluded("a.md"));
    assert!(!di.is_excluded("d.md"));
    assert!(di.is_excluded("ay"));
    assert!(!di.is_excluded("xy"));
    assert!(di.is_excluded("r5"));
    assert!(!di.is_excluded("ra"));
}

#[test]
fn escapes_and_regex_characters_are_literal() {
    let di = ignore("a\\*b\nv1.0+(x)\n");
    assert!(di.is_excluded("a*b"));
    assert!(!di.is_excluded("axb"));
    assert!(di.is_excluded("v1.0+(x)"));
    assert!(!di.is_excluded("v1x0+(x)"));
}

#[test]
fn paths_given_with_prefixes() {
    let di = ignore("a/b\n");
    assert!(di.is_excluded("./a/b"));
    assert!(di.is_excluded("/a/b"));
    assert!(di.is_excluded("a/b/"));
    assert!(!di.is_excluded("."));
    assert!(!di.is_excluded(""));
}

#[test]
fn invalid_patterns_are_reported() {
    let di = ignore("!\n[abc\nok\ntrailing\\\n[]\n");
    assert_eq!(di.invalid_patterns(), ["!", "[abc", "trailing\\", "[]"]);
    assert!(di.is_excluded("ok"));
}

#[test]
fn empty_file() {
    let di = ignore("");
    assert!(di.is_empty());
    assert!(!di.is_excluded("anything"));
    assert!(!di.may_contain_included("anything"));
}

#[test]
fn walking_into_excluded_directories() {
    // No exception: an excluded directory can be skipped whole.
    let di = ignore("vendor\n");
    assert!(!di.may_contain_included("vendor"));

    let di = ignore("vendor\n!vendor/keep\n");
    assert!(di.may_contain_included("vendor"));
    assert!(!di.may_contain_included("other"));
    assert!(di.may_contain_included("vendor/keep"));

    let di = ignore("*\n!src/*/main.rs\n");
    assert!(di.may_contain_included("src"));
    assert!(di.may_contain_included("src/app"));
    assert!(!di.may_contain_included("docs"));

    let di = ignore("*\n!**/keep.txt\n");
    assert!(di.may_contain_included("anything/deep"));

    // `!dir` re-includes everything below it.
    let di = ignore("*\n!dir\n");
    assert!(di.may_contain_included("dir/sub"));
}
