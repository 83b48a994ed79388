//! End-to-end tests of rules on the command line: custom rule directories
//! (`--rules`), bad rule files named with their rule, `rules list` and
//! `rules check`, and the rules version of built-in and on-disk rules.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use predicates::prelude::PredicateBooleanExt;
use serde_json::Value;

mod common;

use common::cli::*;

#[test]
fn custom_rules_are_used() {
    let sc = Scratch::new();
    sc.write("rules/ssn.yaml", rule_yaml("my-ssn", "medium", ""));
    sc.write("data/a.txt", format!("SSN {SSN} card {VISA}\n"));
    let run = sc.jsonl(["--rules", "rules", "data"]);
    run.expect_code(1);
    // Only the custom rule runs: the card is not found.
    assert_eq!(run.findings().len(), 1, "{}", run.stdout);
    assert_eq!(run.findings()[0]["rule"], "my-ssn");
    assert_eq!(run.findings()[0]["severity"], "medium");
    assert_eq!(run.summary()["rules"], "rules");
    sc.cmd()
        .args(["rules", "check", "rules"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("OK"));
}

/// A problem `rules check` must report: the file, the rule id and a word of
/// the message.
type RuleProblem = (&'static str, &'static str, &'static str);

#[test]
fn bad_rules_exit_2_naming_the_file_and_the_rule() {
    let sc = Scratch::new();
    sc.write("data/a.txt", format!("card {VISA}\n"));
    // An unknown field, placed after the examples.
    let unknown = rule_yaml("typo-rule", "high", "");
    let unknown = format!("{unknown}    colour: red\n");
    sc.write("rules-unknown/a.yaml", &unknown);
    sc.write(
        "rules-severity/b.yaml",
        rule_yaml("severe-rule", "critical", ""),
    );
    sc.write("rules-both/a.yaml", &unknown);
    sc.write(
        "rules-both/b.yaml",
        rule_yaml("severe-rule", "critical", ""),
    );

    let cases: &[(&str, &[RuleProblem])] = &[
        ("rules-unknown", &[("a.yaml", "typo-rule", "colour")]),
        ("rules-severity", &[("b.yaml", "severe-rule", "critical")]),
        (
            "rules-both",
            &[
                ("a.yaml", "typo-rule", "colour"),
                ("b.yaml", "severe-rule", "critical"),
            ],
        ),
    ];
    for (dir, problems) in cases {
        let runs = [
            sc.cmd()
                .args(["scan", "--rules", dir, "data"])
                .output()
                .unwrap(),
            sc.cmd()
                .args(["rules", "list", "--rules", dir])
                .output()
                .unwrap(),
            sc.cmd().args(["rules", "check", dir]).output().unwrap(),
        ];
        for out in runs {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(2), "{dir}: {stderr}");
            // Nothing was scanned or listed.
            assert!(!stdout.contains(VISA_MASKED), "{dir}: {stdout}");
            for (file, rule, word) in *problems {
                // Each problem on one line that names the file, the rule and
                // what is wrong.
                let line = stderr
                    .lines()
                    .find(|l| l.contains(file))
                    .unwrap_or_else(|| panic!("{dir}: stderr does not name {file}:\n{stderr}"));
                assert!(
                    line.contains(&format!("`{rule}`")),
                    "{dir}: the line for {file} does not name rule {rule}:\n{stderr}"
                );
                assert!(
                    line.contains(word),
                    "{dir}: the line for {file} does not say `{word}`:\n{stderr}"
                );
            }
            // Rule files hold example numbers: error messages must not
            // echo them.
            assert!(!stderr.contains(SSN), "{dir}: example echoed:\n{stderr}");
        }
    }
}

// ---------------------------------------------------------------------------
// 9. Rules commands.
// ---------------------------------------------------------------------------

/// The ids of the shipped rules, read from `rules/*.yaml`.
fn shipped_rule_ids() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut ids = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for f in files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            if let Some(id) = line.strip_prefix("  - id: ") {
                ids.push(id.trim().to_string());
            }
        }
    }
    assert!(ids.len() >= 9, "{ids:?}");
    ids
}

#[test]
fn rules_list_shows_every_shipped_rule() {
    let sc = Scratch::new();
    let ids = shipped_rule_ids();
    // Every pack: the regional ones are shipped but not in `default`.
    let out = sc
        .cmd()
        .args(["rules", "list", "--rules-pack", "all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let listed: Vec<&str> = stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let shipped: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(listed.len(), ids.len(), "{stdout}");
    assert_eq!(
        BTreeSet::from_iter(listed.iter().copied()),
        shipped,
        "{stdout}"
    );
    assert!(stdout.contains(&format!("{} rules", ids.len())), "{stdout}");

    let out = sc
        .cmd()
        .args(["rules", "list", "--rules-pack", "all", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let json_ids: Vec<&str> = doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(json_ids, listed);
    assert_eq!(doc["origin"], "built-in");
    let card = &doc["rules"][0];
    assert_eq!(card["id"], "payment-card");
    assert!(
        card["kinds"]
            .as_array()
            .unwrap()
            .contains(&Value::from("card_visa"))
    );

    // The shipped pack loaded from its directory is the same set.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let out = sc
        .cmd()
        .args([
            "rules",
            "list",
            "--rules-pack",
            "all",
            "--format",
            "json",
            "--rules",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let from_dir: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir_ids: BTreeSet<&str> = from_dir["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(dir_ids, shipped);
    assert_eq!(from_dir["origin"], s(&dir));
}

#[test]
fn rules_check_passes_on_the_shipped_pack() {
    let sc = Scratch::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    sc.cmd()
        .args(["rules", "check"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("built-in").and(predicates::str::contains(": OK")));
    sc.cmd()
        .args(["rules", "check"])
        .arg(&dir)
        .assert()
        .code(0)
        .stdout(predicates::str::contains(": OK"));
}

#[test]
fn rules_check_names_a_rule_whose_example_is_not_found() {
    let sc = Scratch::new();
    sc.write("rules/good.yaml", rule_yaml("good-ssn", "high", ""));
    let bad = rule_yaml("bad-example", "high", "").replace(
        &format!("examples: [\"SSN {SSN}\"]"),
        // Area 000 is never issued: the validator rejects this example.
        "examples: [\"SSN 000-22-8726\"]",
    );
    sc.write("rules/zz-bad.yml", bad);
    let out = sc.cmd().args(["rules", "check", "rules"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("`bad-example`"))
        .unwrap_or_else(|| panic!("rule not named:\n{stderr}"));
    assert!(line.contains("zz-bad.yml"), "{stderr}");
    assert!(line.contains("examples[0]"), "{stderr}");
    assert!(!stderr.contains("good-ssn"), "{stderr}");
    assert!(stderr.contains("1 problems"), "{stderr}");
}

#[test]
fn rules_dir_without_yaml_exits_2() {
    let sc = Scratch::new();
    sc.write("rules/README.md", "# no rules here\n");
    sc.write("rules/sub/nested.yaml", rule_yaml("nested", "high", ""));
    for args in [
        vec!["rules", "check", "rules"],
        vec!["rules", "list", "--rules", "rules"],
        vec!["scan", "--rules", "rules", "."],
    ] {
        sc.cmd()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains("no rule files"));
    }
    // A rules directory that does not exist.
    sc.cmd()
        .args(["rules", "check", "no-such-dir"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no-such-dir"));
}

#[test]
fn built_in_rules_and_the_same_files_from_disk_share_a_version() {
    let s = Scratch::new();
    s.write("a.txt", "nothing here\n");
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
    let builtin = s.jsonl(["a.txt"]);
    let from_disk = s.jsonl(["--rules", rules, "a.txt"]);
    let v1 = builtin.summary()["rules_version"].clone();
    let v2 = from_disk.summary()["rules_version"].clone();
    assert!(v1.is_string(), "{}", builtin.stdout);
    assert_eq!(v1, v2);
}
