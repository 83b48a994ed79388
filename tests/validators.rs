//! Replays the vectors in `tests/vectors/` against `leakhound::validate`.
//!
//! The vectors were recorded from python-stdnum 2.2's `is_valid` (and, for the
//! Iranian national code, the corpus reference `dlpref.melli_valid`) by
//! `tools/gen_vectors.py`; each line is `value<TAB>1|0`. Python is not needed
//! to run these tests. `cards.tsv` belongs to the card classifier and is not
//! read here.

use std::path::{Path, PathBuf};

use leakhound::validate;

/// How many disagreeing values a failure lists.
const SHOWN_DISAGREEMENTS: usize = 8;

/// A validator reduced to a yes/no answer, as the vectors record it.
type YesNoValidator = fn(&[u8]) -> bool;

/// Vector files and the validator each one checks.
const CHECKED_FILES: &[(&str, YesNoValidator)] = &[
    ("luhn", validate::luhn),
    ("us_ssn", |value| validate::us_ssn(value).is_ok()),
    ("pl_pesel", |value| validate::pl_pesel(value).is_ok()),
    ("ro_cnp", |value| validate::ro_cnp(value).is_ok()),
    ("cn_ric", |value| validate::cn_ric(value).is_ok()),
    ("ir_melli", |value| validate::ir_melli(value).is_ok()),
    ("iban", |value| validate::iban(value).is_ok()),
];

/// Vector files that other modules' tests read.
const FILES_FOR_OTHERS: &[&str] = &["cards"];

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// One recorded case: the value and whether the reference calls it valid.
struct Vector {
    value: Vec<u8>,
    valid: bool,
}

/// Reads `tests/vectors/<name>.tsv`, skipping `#` header lines.
fn read_vectors(name: &str) -> Vec<Vector> {
    let path = vectors_dir().join(format!("{name}.tsv"));
    let contents =
        std::fs::read(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    let mut vectors = Vec::new();
    for (index, line) in contents.split(|&byte| byte == b'\n').enumerate() {
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let line_number = index + 1;
        let Some(tab) = line.iter().rposition(|&byte| byte == b'\t') else {
            panic!("{name}.tsv:{line_number}: no tab");
        };
        let valid = match &line[tab + 1..] {
            b"1" => true,
            b"0" => false,
            other => panic!(
                "{name}.tsv:{line_number}: verdict {:?}",
                other.escape_ascii()
            ),
        };
        vectors.push(Vector {
            value: line[..tab].to_vec(),
            valid,
        });
    }
    vectors
}

/// Asserts that `validator` agrees with the reference on every vector of
/// `name`, reporting only a count and the first few disagreements.
fn assert_agrees(name: &str, validator: YesNoValidator) {
    let vectors = read_vectors(name);
    assert!(
        vectors.len() > 1000,
        "{name}.tsv has only {} vectors",
        vectors.len()
    );
    let disagreements: Vec<&Vector> = vectors
        .iter()
        .filter(|vector| validator(&vector.value) != vector.valid)
        .collect();
    if disagreements.is_empty() {
        return;
    }
    let shown: Vec<String> = disagreements
        .iter()
        .take(SHOWN_DISAGREEMENTS)
        .map(|vector| {
            let reference = if vector.valid { "valid" } else { "invalid" };
            format!(
                "\"{}\" (reference: {reference})",
                vector.value.escape_ascii()
            )
        })
        .collect();
    panic!(
        "{name}: {} of {} vectors disagree with the reference; first: {}",
        disagreements.len(),
        vectors.len(),
        shown.join(", ")
    );
}

fn check(name: &str) {
    let (_, validator) = CHECKED_FILES
        .iter()
        .find(|(file, _)| *file == name)
        .unwrap_or_else(|| panic!("no validator registered for {name}"));
    assert_agrees(name, *validator);
}

#[test]
fn luhn_agrees_with_stdnum() {
    check("luhn");
}

#[test]
fn us_ssn_agrees_with_stdnum() {
    check("us_ssn");
}

#[test]
fn pl_pesel_agrees_with_stdnum() {
    check("pl_pesel");
}

#[test]
fn ro_cnp_agrees_with_stdnum() {
    check("ro_cnp");
}

#[test]
fn cn_ric_agrees_with_stdnum() {
    check("cn_ric");
}

#[test]
fn ir_melli_agrees_with_reference() {
    check("ir_melli");
}

#[test]
fn iban_agrees_with_stdnum() {
    check("iban");
}

/// A vector file nobody reads would be a silent gap.
#[test]
fn every_vector_file_is_accounted_for() {
    let entries = std::fs::read_dir(vectors_dir()).expect("tests/vectors exists");
    for entry in entries {
        let path = entry.expect("directory entry").path();
        let Some(name) = path.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        let known = CHECKED_FILES.iter().any(|(file, _)| *file == name)
            || FILES_FOR_OTHERS.contains(&name)
            || is_regional_kind(name);
        assert!(known, "{} is not checked by any test", path.display());
    }
}

/// Kinds of the regional packs (`rules/regional-ids-*.yaml`): their vectors
/// are replayed through the rules by tests/id_vectors.rs.
fn is_regional_kind(name: &str) -> bool {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    std::fs::read_dir(rules)
        .expect("rules/ exists")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("regional-ids-") && n.ends_with(".yaml"))
        })
        .any(|path| {
            std::fs::read_to_string(&path)
                .expect("a rule file")
                .lines()
                .any(|line| line.trim() == format!("kind: {name}"))
        })
}
