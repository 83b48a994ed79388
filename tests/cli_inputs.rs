//! End-to-end tests of what `leakhound scan` reads: standard input (text,
//! binary, UTF-16), symbolic links (skipped, followed with `-L`, loops), and
//! what a walk visits (hidden files, `.git`, include and exclude globs).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

mod common;

use common::cli::*;

// ---------------------------------------------------------------------------
// 4. Standard input.
// ---------------------------------------------------------------------------

#[test]
fn stdin_is_scanned_as_stdin() {
    let sc = Scratch::new();
    let file = sc.write("input.txt", format!("hello\ncard {VISA}\n"));
    let out = sc
        .cmd()
        .args(["scan", "-", "--format", "jsonl", "-v"])
        .pipe_stdin(&file)
        .unwrap()
        .output()
        .unwrap();
    let run = Run::parse(out);
    run.expect_code(1);
    let f = run.findings();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["path"], "<stdin>");
    assert_eq!(
        (&f[0]["offset"], &f[0]["line"], &f[0]["column"]),
        (&Value::from(11), &Value::from(2), &Value::from(6))
    );
    assert_eq!(f[0]["masked"], VISA_MASKED);
    assert_eq!(run.file("<stdin>")["encoding"], "utf-8");
    assert_eq!(run.file("<stdin>")["bytes"], 28);

    // Standard input beside a file.
    sc.write("other.txt", format!("mc {MASTERCARD}\n"));
    let out = sc
        .cmd()
        .args(["scan", "-", "other.txt", "--format", "jsonl"])
        .write_stdin(format!("card {VISA}\n"))
        .output()
        .unwrap();
    let run = Run::parse(out);
    run.expect_code(1);
    assert_eq!(
        run.finding_paths(),
        BTreeSet::from(["<stdin>".to_string(), "other.txt".to_string()])
    );
}

#[test]
fn binary_stdin_is_scanned() {
    let sc = Scratch::new();
    let mut input: Vec<u8> = vec![0x7f, b'E', b'L', b'F', 0, 1, 2, 0xff, 0xfe, 0];
    input.extend_from_slice(b" card ");
    let at = input.len() as u64;
    input.extend_from_slice(VISA.as_bytes());
    input.extend_from_slice(&[0, 0x80, 0x81, 0]);
    // And once more as UTF-16 inside the binary (what `strings -e l` shows).
    input.extend_from_slice(&[0u8; 6]);
    let wide_at = input.len() as u64;
    for b in MASTERCARD.bytes() {
        input.extend_from_slice(&[b, 0]);
    }
    input.extend_from_slice(&[0, 0, 0xde, 0xad]);
    let out = sc
        .cmd()
        .args(["scan", "-", "--format", "jsonl", "-v"])
        .write_stdin(input.clone())
        .output()
        .unwrap();
    let run = Run::parse(out);
    run.expect_code(1);
    assert_eq!(run.file("<stdin>")["encoding"], "binary");
    assert_eq!(run.file("<stdin>")["bytes"], input.len());
    let f = run.findings();
    assert_eq!(f.len(), 2, "{}", run.stdout);
    let visa = f.iter().find(|f| f["kind"] == "card_visa").unwrap();
    assert_eq!(visa["offset"], at);
    assert!(visa["line"].is_null() && visa["column"].is_null());
    let mc = f.iter().find(|f| f["kind"] == "card_mastercard").unwrap();
    assert_eq!(mc["offset"], wide_at);
    // The human report places binary findings by offset.
    sc.cmd()
        .args(["scan", "-"])
        .write_stdin(input)
        .assert()
        .code(1)
        .stdout(predicates::str::contains(format!("@{at}")));
}

#[test]
fn utf16le_stdin_with_and_without_bom() {
    let sc = Scratch::new();
    let text = format!("hello\nкарта {VISA}\n");
    let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    for bom in [false, true] {
        let mut input = Vec::new();
        if bom {
            input.extend_from_slice(&[0xff, 0xfe]);
        }
        input.extend_from_slice(&utf16);
        let out = sc
            .cmd()
            .args(["scan", "-", "--format", "jsonl", "-v"])
            .write_stdin(input.clone())
            .output()
            .unwrap();
        let run = Run::parse(out);
        run.expect_code(1);
        let f = run.findings();
        assert_eq!(f.len(), 1, "bom={bom}: {}", run.stdout);
        // Places are in the decoded text.
        let (line, column, offset) = locate(&text, VISA);
        assert_eq!(
            (&f[0]["offset"], &f[0]["line"], &f[0]["column"]),
            (
                &Value::from(offset),
                &Value::from(line),
                &Value::from(column)
            ),
            "bom={bom}"
        );
        assert_eq!(f[0]["masked"], VISA_MASKED);
        let rec = run.file("<stdin>");
        assert_eq!(rec["encoding"], "utf-16le", "bom={bom}");
        assert_eq!(rec["bytes"], input.len());
    }
}

// ---------------------------------------------------------------------------
// 5. Symbolic links.
// ---------------------------------------------------------------------------

#[test]
fn symlinks_are_skipped_by_default_and_followed_with_l() {
    use std::os::unix::fs::symlink;
    let sc = Scratch::new();
    sc.write("real.txt", format!("card {VISA}\n"));
    sc.write("elsewhere/inner.txt", format!("mc {MASTERCARD}\n"));
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("far.txt"), format!("ssn {SSN}\n")).unwrap();
    std::fs::create_dir(sc.join("scan")).unwrap();
    symlink(sc.join("real.txt"), sc.join("scan/link.txt")).unwrap();
    symlink(outside.path(), sc.join("scan/linkdir")).unwrap();
    std::fs::write(sc.join("scan/own.txt"), "clean\n").unwrap();

    let run = sc.jsonl(["scan"]);
    run.expect_code(0);
    assert!(run.findings().is_empty(), "{}", run.stdout);
    for p in ["scan/link.txt", "scan/linkdir"] {
        let rec = run.file(p);
        assert_eq!(rec["status"], "skipped", "{rec}");
        assert!(
            rec["reason"].as_str().unwrap().contains("symbolic link"),
            "{rec}"
        );
    }

    let run = sc.jsonl(["-L", "scan"]);
    run.expect_code(1);
    assert_eq!(
        run.finding_paths(),
        BTreeSet::from([
            "scan/link.txt".to_string(),
            "scan/linkdir/far.txt".to_string()
        ])
    );
    assert!(run.files().is_empty(), "{}", run.stdout);
    assert_eq!(run.summary()["files"]["scanned"], 3);
}

#[test]
fn symlink_named_on_the_command_line_is_followed_to_a_file() {
    use std::os::unix::fs::symlink;
    let sc = Scratch::new();
    sc.write("real.txt", format!("card {VISA}\n"));
    symlink("real.txt", sc.join("link.txt")).unwrap();
    std::fs::create_dir(sc.join("dir")).unwrap();
    symlink("dir", sc.join("linkdir")).unwrap();
    // The user named the link: the file it points to is scanned, under the
    // name given.
    let run = sc.jsonl(["link.txt"]);
    run.expect_code(1);
    assert_eq!(run.findings().len(), 1, "{}", run.stdout);
    assert_eq!(run.findings()[0]["path"], "link.txt");
    // A link to a directory is not walked without -L.
    let run = sc.jsonl(["linkdir"]);
    run.expect_code(0);
    let rec = run.file("linkdir");
    assert_eq!(rec["status"], "skipped");
    assert!(
        rec["reason"].as_str().unwrap().contains("directory"),
        "{rec}"
    );
    // Links that lead nowhere, or to a FIFO, are skipped and say so.
    symlink("no-such-file", sc.join("dangling")).unwrap();
    symlink("self", sc.join("self")).unwrap();
    mkfifo(&sc.join("pipe"));
    symlink("pipe", sc.join("linkpipe")).unwrap();
    let run = sc.jsonl(["dangling", "self", "linkpipe"]);
    run.expect_code(0);
    for (p, says) in [
        ("dangling", "leads nowhere"),
        ("self", "leads nowhere"),
        ("linkpipe", "FIFO"),
    ] {
        let rec = run.file(p);
        assert_eq!(rec["status"], "skipped", "{rec}");
        let reason = rec["reason"].as_str().unwrap();
        assert!(reason.contains(says), "{rec}");
        assert!(!reason.contains("link to a directory"), "{rec}");
    }
}

#[test]
fn symlink_loops_with_l_do_not_hang() {
    use std::os::unix::fs::symlink;
    let sc = Scratch::new();
    sc.write("top/a.txt", format!("card {VISA}\n"));
    sc.write("top/sub/b.txt", format!("mc {MASTERCARD}\n"));
    symlink("..", sc.join("top/sub/up")).unwrap();
    symlink(".", sc.join("top/sub/here")).unwrap();
    symlink("loop2", sc.join("top/loop1")).unwrap();
    symlink("loop1", sc.join("top/loop2")).unwrap();
    let out = sc
        .cmd()
        .timeout(Duration::from_secs(30))
        .args(["scan", "-L", "top", "--format", "jsonl"])
        .output()
        .unwrap();
    let run = Run::parse(out);
    run.expect_code(1);
    // Each file found once, however many ways lead to it.
    let mut paths: Vec<&str> = run
        .findings()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(paths, ["top/a.txt", "top/sub/b.txt"], "{}", run.stdout);
    for p in ["top/sub/up", "top/sub/here"] {
        let rec = run.file(p);
        assert_eq!(rec["status"], "skipped", "{rec}");
        assert!(rec["reason"].as_str().unwrap().contains("loop"), "{rec}");
    }
    // The two links that point at each other lead nowhere; each is reported.
    for p in ["top/loop1", "top/loop2"] {
        let rec = run.file(p);
        assert_ne!(rec["status"], "scanned", "{rec}");
    }
}

// ---------------------------------------------------------------------------
// 6. What is walked: globs, hidden files, .git.
// ---------------------------------------------------------------------------

fn glob_tree() -> Scratch {
    let sc = Scratch::new();
    for f in [
        "a.csv",
        "b.txt",
        ".secret",
        ".git/config",
        ".git/objects/ab/cdef",
        "logs/x.log",
        "build/z.txt",
        "sub/build/y.txt",
        "sub/deep/c.csv",
    ] {
        sc.write(f, format!("card {VISA}\n"));
    }
    sc
}

#[test]
fn hidden_files_and_git_directories_are_scanned() {
    let sc = glob_tree();
    let run = sc.jsonl(["."]);
    run.expect_code(1);
    assert_eq!(
        run.finding_paths(),
        set(&[
            "./.git/config",
            "./.git/objects/ab/cdef",
            "./.secret",
            "./a.csv",
            "./b.txt",
            "./build/z.txt",
            "./logs/x.log",
            "./sub/build/y.txt",
            "./sub/deep/c.csv",
        ])
    );
    assert_eq!(run.summary()["excluded"], 0);
}

#[test]
fn include_and_exclude_globs() {
    let sc = glob_tree();
    let cases: &[(&[&str], &[&str], u64)] = &[
        (&["--include", "*.csv"], &["./a.csv", "./sub/deep/c.csv"], 7),
        (
            &["--exclude", "*.log", "--exclude", "build/**"],
            &[
                "./.git/config",
                "./.git/objects/ab/cdef",
                "./.secret",
                "./a.csv",
                "./b.txt",
                "./sub/build/y.txt",
                "./sub/deep/c.csv",
            ],
            2,
        ),
        (
            &["--include", "sub/**", "--exclude", "*.csv"],
            &["./sub/build/y.txt"],
            8,
        ),
        (
            &["--include", "*.txt", "--include", ".secret"],
            &["./.secret", "./b.txt", "./build/z.txt", "./sub/build/y.txt"],
            5,
        ),
    ];
    for (args, wanted, excluded) in cases {
        let mut a: Vec<&str> = args.to_vec();
        a.push(".");
        let run = sc.jsonl(&a);
        run.expect_code(1);
        assert_eq!(run.finding_paths(), set(wanted), "{args:?}");
        assert_eq!(run.summary()["excluded"], *excluded, "{args:?}");
        assert_eq!(run.summary()["files"]["scanned"], wanted.len(), "{args:?}");
    }
    // Excluding a directory by name leaves out everything under it.
    let run = sc.jsonl(["--exclude", ".git", "--exclude", "build", "."]);
    assert_eq!(
        run.finding_paths(),
        set(&[
            "./.secret",
            "./a.csv",
            "./b.txt",
            "./logs/x.log",
            "./sub/deep/c.csv"
        ])
    );
    // A file named on the command line is scanned whatever the globs say.
    let run = sc.jsonl(["--exclude", "*.log", "logs/x.log"]);
    run.expect_code(1);
    assert_eq!(run.finding_paths(), set(&["logs/x.log"]));
}
