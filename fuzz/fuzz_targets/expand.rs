//! Word expansion: any word with any variables expands or is refused, never panics, and
//! a word without `$`, quotes or escapes expands to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line names variables (`K=V` separated by `;`), the rest is the word.
    let (vars, word) = text.split_once('\n').unwrap_or(("A=1;B=;C=x y", text));
    let vars: Vec<(String, String)> = vars
        .split(';')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let lookup = |name: &str| {
        vars.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    for escape in ['\\', '`'] {
        let out = rbox_builder::expand::expand(word, escape, &lookup);
        if !word.contains(['$', '\'', '"', escape]) {
            assert_eq!(out.as_deref(), Ok(word), "a plain word changed");
        }
        if let Ok(words) = rbox_builder::expand::split_words(word, escape) {
            for w in words {
                let _ = rbox_builder::expand::expand(&w, escape, &lookup);
            }
        }
    }
    let _ = rbox_builder::expand::expand_heredoc(word, &lookup);
});
