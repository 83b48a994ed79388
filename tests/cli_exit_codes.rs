//! End-to-end tests of the exit codes of `leakhound scan` (0 clean, 1
//! findings, 2 error, 3 incomplete), what counts as an error or as
//! incomplete (missing roots, unreadable files, FIFOs), and `--help`
//! that documents them.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::PredicateBooleanExt;

mod common;

use common::cli::*;

// ---------------------------------------------------------------------------
// 3. Exit codes.
// ---------------------------------------------------------------------------

#[test]
fn clean_directory_exits_0() {
    let sc = Scratch::new();
    sc.write("a.txt", "nothing to see: 4526018159083013 000-22-8726\n");
    sc.write("b/c.txt", "INV4526018159083012\n");
    let run = sc.jsonl(["."]);
    run.expect_code(0);
    assert!(run.findings().is_empty());
    assert_eq!(run.summary()["result"], "clean");
    assert_eq!(run.summary()["exit_code"], 0);
    assert_eq!(run.summary()["files"]["scanned"], 2);
    sc.cmd()
        .args(["scan", "."])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("No findings."));
}

#[test]
fn findings_exit_1_and_fail_on_sets_the_threshold() {
    let sc = Scratch::new();
    sc.write("test-card.txt", format!("test card {TEST_CARD}\n"));
    sc.write("iban.txt", format!("IBAN {IBAN_DE}\n"));
    sc.write("visa.txt", format!("card {VISA}\n"));
    let test_card = s(&sc.join("test-card.txt"));
    let iban = s(&sc.join("iban.txt"));
    let all = s(sc.path());
    let cases: &[(&str, &str, i32)] = &[
        // Default: any finding fails, test data included.
        (&test_card, "", 1),
        (&test_card, "low", 1),
        (&test_card, "medium", 0),
        (&test_card, "high", 0),
        (&iban, "medium", 1),
        (&iban, "high", 0),
        (&all, "high", 1),
        (&all, "none", 0),
    ];
    for (path, fail_on, code) in cases {
        let mut args = vec![path.to_string(), "--show-test-data".to_string()];
        if !fail_on.is_empty() {
            args.extend(["--fail-on".to_string(), fail_on.to_string()]);
        }
        let run = sc.jsonl(&args);
        assert_eq!(run.code, Some(*code), "{args:?}\n{}", run.stdout);
        // The findings are reported whatever the threshold.
        assert!(!run.findings().is_empty(), "{args:?}");
        assert_eq!(run.summary()["exit_code"], *code);
    }
}

#[test]
fn min_confidence_leaves_out_weak_findings() {
    let sc = Scratch::new();
    // Nine bare digits with no keyword near: an SSN of low confidence.
    sc.write("a.txt", "order 536228726 shipped\n");
    sc.write("b.txt", format!("SSN: {SSN}\n"));
    let run = sc.jsonl(["--min-confidence", "low", "."]);
    run.expect_code(1);
    let conf: BTreeSet<(String, String)> = run
        .findings()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["confidence"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        conf,
        BTreeSet::from([
            ("./a.txt".to_string(), "low".to_string()),
            ("./b.txt".to_string(), "high".to_string())
        ])
    );
    let run = sc.jsonl(["--min-confidence", "medium", "."]);
    run.expect_code(1);
    assert_eq!(run.finding_paths(), set(&["./b.txt"]));
    assert_eq!(run.summary()["findings"], 1);
    // Left out entirely: no finding, no failure.
    let run = sc.jsonl(["--min-confidence", "medium", "a.txt"]);
    run.expect_code(0);
    assert!(run.findings().is_empty());
}

#[test]
fn missing_root_exits_2_and_other_roots_are_still_scanned() {
    let sc = Scratch::new();
    sc.write("real.txt", format!("card {VISA}\n"));
    let missing = s(&sc.join("no-such-dir"));
    let run = sc.jsonl(["real.txt", &missing]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(&missing),
        "stderr does not name {missing}: {}",
        run.stderr
    );
    assert_eq!(run.findings().len(), 1);
    assert_eq!(run.findings()[0]["path"], "real.txt");
    let rec = run.file(&missing);
    assert_eq!(rec["status"], "error");
    let sum = run.summary();
    assert_eq!(sum["result"], "error");
    assert_eq!(sum["exit_code"], 2);
    assert_eq!(sum["files"]["error"], 1);

    // Even --fail-on none does not hide the error.
    let run = sc.jsonl(["--fail-on", "none", "real.txt", &missing]);
    run.expect_code(2);
    // The human report names it too.
    sc.cmd()
        .args(["scan", "real.txt", &missing])
        .assert()
        .code(2)
        .stdout(predicates::str::contains(VISA_MASKED))
        .stderr(predicates::str::contains(missing.as_str()));
}

#[test]
fn bad_arguments_exit_2() {
    let sc = Scratch::new();
    sc.write("a.txt", "x\n");
    for args in [
        vec!["scan", "--format", "xml", "a.txt"],
        vec!["scan", "--fail-on", "critical", "a.txt"],
        vec!["scan", "--no-such-flag", "a.txt"],
        vec!["frobnicate"],
    ] {
        sc.cmd().args(&args).assert().code(2);
    }
    // A glob that does not parse is named.
    sc.cmd()
        .args(["scan", "--include", "a[", "a.txt"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("a["));
    // A report that cannot be written.
    let bad_out = s(&sc.join("no-such-dir/report.json"));
    sc.cmd()
        .args(["scan", "a.txt", "-o", &bad_out])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(bad_out.as_str()));
    // An empty key in the environment.
    sc.cmd()
        .env("LEAKHOUND_FINGERPRINT_KEY", "")
        .args(["scan", "a.txt"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("LEAKHOUND_FINGERPRINT_KEY"));
}

/// Makes `path` unreadable and says whether that worked for this user (root
/// reads it anyway).
fn make_unreadable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::read(path).is_err()
}

/// `setpriv` to run as `nobody` when the tests run as root, if it is there.
fn setpriv() -> Option<&'static str> {
    ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

#[test]
fn unreadable_file_with_fail_on_incomplete_exits_3() {
    use std::os::unix::fs::PermissionsExt;
    let sc = Scratch::new();
    sc.write("ok.txt", "nothing here\n");
    let locked = sc.write("locked.txt", format!("card {VISA}\n"));
    let as_nobody = if make_unreadable(&locked) {
        None
    } else {
        // Root reads anything: run the scanner as `nobody` instead, if the
        // files and the binary are reachable for it.
        let Some(setpriv) = setpriv() else {
            eprintln!("skipped: running as root and no setpriv to drop privileges");
            return;
        };
        let probe = std::process::Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .arg("--version")
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            eprintln!("skipped: running as root and `nobody` cannot run {BIN}");
            return;
        }
        std::fs::set_permissions(sc.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Some(setpriv)
    };
    let scan = |args: &[&str]| {
        let mut c = match as_nobody {
            None => sc.cmd(),
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
                    .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
                    .env("LEAKHOUND_STATE_DIR", sc.state.path())
                    .current_dir(sc.path())
                    .timeout(TIMEOUT);
                c
            }
        };
        Run::parse(
            c.args(["scan", "--format", "jsonl"])
                .args(args)
                .output()
                .unwrap(),
        )
    };

    let run = scan(&[".", "--fail-on-incomplete"]);
    run.expect_code(3);
    let rec = run.file("./locked.txt");
    assert_eq!(rec["status"], "error");
    assert!(
        rec["reason"]
            .as_str()
            .unwrap()
            .contains("permission denied"),
        "{rec}"
    );
    let sum = run.summary();
    assert_eq!(sum["result"], "incomplete");
    assert_eq!(sum["exit_code"], 3);
    assert_eq!(sum["files"]["scanned"], 1);
    assert_eq!(sum["files"]["error"], 1);

    // Without --fail-on-incomplete the run is clean, but says so.
    let run = scan(&["."]);
    run.expect_code(0);
    assert_eq!(run.file("./locked.txt")["status"], "error");
    assert_eq!(run.summary()["result"], "incomplete");

    // Findings win over incomplete.
    sc.write("found.txt", format!("mc {MASTERCARD}\n"));
    let run = scan(&[".", "--fail-on-incomplete"]);
    run.expect_code(1);
    assert_eq!(run.summary()["result"], "findings");
    // ... unless they are below --fail-on.
    let run = scan(&[".", "--fail-on-incomplete", "--fail-on", "none"]);
    run.expect_code(3);
}

#[test]
fn fifo_is_skipped_without_hanging() {
    let sc = Scratch::new();
    sc.write("a.txt", format!("card {VISA}\n"));
    mkfifo(&sc.join("pipe"));
    let mut c = sc.cmd();
    // Nobody ever writes to the FIFO: a scanner that opened it for reading
    // in blocking mode would wait forever.
    let out = c
        .timeout(Duration::from_secs(30))
        .args(["scan", ".", "--format", "jsonl", "--fail-on-incomplete"])
        .output()
        .unwrap();
    let run = Run::parse(out);
    run.expect_code(1);
    let rec = run.file("./pipe");
    assert_eq!(rec["status"], "skipped");
    assert!(rec["reason"].as_str().unwrap().contains("FIFO"), "{rec}");
    assert_eq!(run.findings().len(), 1);
    assert_eq!(run.summary()["files"]["skipped"], 1);

    // Skipped on purpose is not incomplete.
    std::fs::write(sc.join("a.txt"), "clean\n").unwrap();
    let run = sc.jsonl([".", "--fail-on-incomplete"]);
    run.expect_code(0);
    assert_eq!(run.file("./pipe")["status"], "skipped");

    // A FIFO named on the command line, too.
    let run = sc.jsonl(["pipe"]);
    run.expect_code(0);
    assert_eq!(run.file("pipe")["status"], "skipped");
}

// ---------------------------------------------------------------------------
// 12. Help.
// ---------------------------------------------------------------------------

#[test]
fn help_documents_the_exit_codes() {
    let sc = Scratch::new();
    for args in [vec!["--help"], vec!["scan", "--help"], vec!["help", "scan"]] {
        let out = sc.cmd().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Exit codes:"), "{args:?}: {text}");
        for line in [
            "0  no finding at or above --fail-on",
            "1  findings at or above --fail-on",
            "2  error",
            "3  with --fail-on-incomplete",
        ] {
            assert!(text.contains(line), "{args:?}: `{line}` missing:\n{text}");
        }
    }
    // The hidden test flag stays hidden.
    sc.cmd()
        .args(["scan", "--help"])
        .assert()
        .stdout(predicates::str::contains("chunk-size").not());
    sc.cmd()
        .arg("--version")
        .assert()
        .code(0)
        .stdout(predicates::str::contains(env!("CARGO_PKG_VERSION")));
}
