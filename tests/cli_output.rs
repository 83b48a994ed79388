//! End-to-end tests of the report itself: fingerprints (they follow the
//! number and the key; the local key kept in the state directory), the JSON
//! document and the human report.

use serde_json::Value;

mod common;

use common::cli::*;

// ---------------------------------------------------------------------------
// 10. Fingerprints.
// ---------------------------------------------------------------------------

fn fingerprints(run: &Run) -> Vec<String> {
    let mut v: Vec<(String, String)> = run
        .findings()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["fingerprint"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, fp)| fp).collect()
}

#[test]
fn fingerprints_follow_the_number_and_the_key() {
    let sc = Scratch::new();
    // The same number, written two ways, in two files; and another number.
    sc.write("a.txt", format!("card {VISA}\n"));
    sc.write("b.txt", format!("card no. {VISA_GROUPED}\n"));
    sc.write("c.txt", format!("card {MASTERCARD}\n"));
    let run = sc.jsonl(["."]);
    run.expect_code(1);
    let fp = fingerprints(&run);
    assert_eq!(fp.len(), 3);
    assert_eq!(fp[0], fp[1], "same number, same key");
    assert_ne!(fp[0], fp[2], "different numbers");

    // Repeatable across runs with the same key.
    assert_eq!(fingerprints(&sc.jsonl(["."])), fp);

    // Another key, other fingerprints.
    let other = Run::parse(
        sc.cmd()
            .env("LEAKHOUND_FINGERPRINT_KEY", "another key")
            .args(["scan", ".", "--format", "jsonl"])
            .output()
            .unwrap(),
    );
    let fp2 = fingerprints(&other);
    assert_eq!(fp2[0], fp2[1]);
    assert_ne!(fp2[0], fp[0]);

    // A key file wins over the environment; its trailing newline is not
    // part of the key.
    let key_file = sc.state.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let from_file = Run::parse(
        sc.cmd()
            .env("LEAKHOUND_FINGERPRINT_KEY", "another key")
            .args(["scan", ".", "--format", "jsonl", "--fingerprint-key-file"])
            .arg(&key_file)
            .output()
            .unwrap(),
    );
    assert_eq!(fingerprints(&from_file), fp);
    assert_eq!(from_file.summary()["fingerprint_key"], "file");

    std::fs::write(&key_file, "a different key").unwrap();
    let from_file2 = Run::parse(
        sc.cmd()
            .args(["scan", ".", "--format", "jsonl", "--fingerprint-key-file"])
            .arg(&key_file)
            .output()
            .unwrap(),
    );
    let fp3 = fingerprints(&from_file2);
    assert_eq!(fp3[0], fp3[1]);
    assert_ne!(fp3[0], fp[0]);
    assert_ne!(fp3[0], fp2[0]);

    // A key file that is missing or empty is an error.
    for (contents, needle) in [(None, "cannot read"), (Some(""), "empty")] {
        let k = sc.state.path().join("bad-key");
        let _ = std::fs::remove_file(&k);
        if let Some(c) = contents {
            std::fs::write(&k, c).unwrap();
        }
        sc.cmd()
            .args(["scan", ".", "--fingerprint-key-file"])
            .arg(&k)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(needle));
    }
}

#[test]
fn local_key_is_kept_in_the_state_dir() {
    let sc = Scratch::new();
    sc.write("a.txt", format!("card {VISA}\n"));
    let run_local = || {
        Run::parse(
            sc.cmd()
                .env_remove("LEAKHOUND_FINGERPRINT_KEY")
                .args(["scan", "a.txt", "--format", "jsonl"])
                .output()
                .unwrap(),
        )
    };
    let first = run_local();
    first.expect_code(1);
    assert_eq!(first.summary()["fingerprint_key"], "local");
    // The key was created under the state dir and is used again.
    assert!(
        std::fs::read_dir(sc.state.path()).unwrap().next().is_some(),
        "no key written to the state dir"
    );
    let second = run_local();
    assert_eq!(fingerprints(&first), fingerprints(&second));
    // And it is not the env key.
    assert_ne!(fingerprints(&first), fingerprints(&sc.jsonl(["a.txt"])));
}

// ---------------------------------------------------------------------------
// 11. One JSON document.
// ---------------------------------------------------------------------------

#[test]
fn json_format_is_one_document() {
    let sc = layout();
    mkfifo(&sc.join("pipe"));
    let out = sc
        .cmd()
        .args(["scan", ".", "--format", "json", "--show-test-data"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["schema"], 1);
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), EXPECTED.len());
    assert!(findings.iter().all(|f| f["type"] == "finding"));
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{doc}");
    assert_eq!(files[0]["path"], "./pipe");
    assert_eq!(files[0]["status"], "skipped");
    let sum = &doc["summary"];
    assert_eq!(sum["type"], "summary");
    assert_eq!(sum["findings"], EXPECTED.len());
    assert_eq!(sum["files"]["total"], 4);
    assert_eq!(sum["exit_code"], 1);

    // With -v every file is listed; clean runs still give a document.
    let out = sc
        .cmd()
        .args(["scan", "ids.txt", "-v", "--format", "json", "-o", "r.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let doc: Value = serde_json::from_slice(&std::fs::read(sc.join("r.json")).unwrap()).unwrap();
    assert_eq!(doc["files"].as_array().unwrap().len(), 1);
    assert_eq!(doc["files"][0]["status"], "scanned");

    sc.write("clean/x.txt", "nothing\n");
    let out = sc
        .cmd()
        .args(["scan", "clean", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["findings"], Value::Array(vec![]));
    assert_eq!(doc["summary"]["result"], "clean");
}

#[test]
fn human_report_groups_findings_by_file() {
    let sc = layout();
    let out = sc
        .cmd()
        .args(["scan", "cards.txt", "--color", "never", "--show-test-data"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "cards.txt");
    assert!(
        lines[1].contains("1:7")
            && lines[1].contains("high")
            && lines[1].contains("card_visa")
            && lines[1].contains(VISA_MASKED),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.contains("411111******1111")
            && l.contains("low")
            && l.contains("test data")),
        "{stdout}"
    );
    assert!(stdout.contains("5 findings: high 4, low 1"), "{stdout}");
    assert!(stdout.contains("Fingerprints: LEAKHOUND_FINGERPRINT_KEY"));
    assert!(!stdout.contains('\x1b'), "colour with --color never");

    let out = sc
        .cmd()
        .args(["scan", "cards.txt", "--color", "always"])
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains('\x1b'));
}
