//! Replays every vector in `tests/vectors/` through the **built-in rule**
//! of that kind, as the engine runs it: the compact value (upper-cased, as
//! the engine hands it to a validator) through the rule's compiled checks.
//!
//! `tests/validators.rs` holds the Rust validators to the same vectors; this
//! file holds the rule pack to them, so a national ID rewritten as data in
//! the checksum language (docs/rules.md) is proven equal to python-stdnum 2.2
//! on every recorded value. Python is not needed to run it.

use std::path::{Path, PathBuf};

use leakhound::rules::RuleSet;

/// Vector files whose kind is written in the checksum language: the test
/// fails if one of them is missing or its rule went back to Rust.
const DATA_KINDS: &[&str] = &["us_ssn", "pl_pesel", "ro_cnp", "cn_ric", "ir_melli", "iban"];

/// Vector files read by other tests (no rule of that kind).
const NOT_RULES: &[&str] = &["cards", "luhn"];

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// `(value, valid)` pairs of `tests/vectors/<name>.tsv`.
fn read_vectors(path: &Path) -> Vec<(Vec<u8>, bool)> {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let tab = line
            .iter()
            .rposition(|&b| b == b'\t')
            .unwrap_or_else(|| panic!("{}:{}: no tab", path.display(), n + 1));
        let valid = match &line[tab + 1..] {
            b"1" => true,
            b"0" => false,
            _ => panic!("{}:{}: verdict is not 0 or 1", path.display(), n + 1),
        };
        out.push((line[..tab].to_ascii_uppercase(), valid));
    }
    out
}

#[test]
fn builtin_rules_agree_with_stdnum_on_every_vector() {
    let set = RuleSet::builtin().expect("built-in rules compile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("tests/vectors")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    let mut checked = Vec::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if NOT_RULES.contains(&name.as_str()) {
            continue;
        }
        let Some(rule) = set.rules.iter().find(|r| r.kind == name) else {
            // A kind whose rule is still being written ("ids" adds vectors
            // first); DATA_KINDS below makes sure ours are all here.
            continue;
        };
        let vectors = read_vectors(path);
        assert!(
            vectors.len() > 100,
            "{name}.tsv has only {} vectors",
            vectors.len()
        );
        let wrong: Vec<&(Vec<u8>, bool)> = vectors
            .iter()
            .filter(|(v, valid)| rule.validator.accepts(v) != *valid)
            .collect();
        if !wrong.is_empty() {
            let first: Vec<String> = wrong
                .iter()
                .take(5)
                .map(|(v, valid)| format!("{} (stdnum: {valid})", v.escape_ascii()))
                .collect();
            failures.push(format!(
                "{name}: rule `{}` disagrees on {} of {} vectors, first: {}",
                rule.id,
                wrong.len(),
                vectors.len(),
                first.join(", ")
            ));
        }
        checked.push((name, rule.validator.name()));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for kind in DATA_KINDS {
        let found = checked.iter().find(|(n, _)| n == kind);
        assert_eq!(
            found.map(|(_, v)| *v),
            Some("checks"),
            "{kind}: its built-in rule must be written in the checksum language and have vectors"
        );
    }
}
