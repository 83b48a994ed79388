//! Large files are scanned in parallel segments: the findings, lines and
//! columns must be exactly those of a single-threaded streaming scan.

use std::io::Write;
use std::process::Command;

/// `(offset, line, column, kind, masked, fingerprint)` of one finding.
type Finding = (u64, Option<u64>, Option<u64>, String, String, String);

/// Every finding of a scan of `path` with `threads` workers.
fn findings(path: &std::path::Path, threads: &str) -> Vec<Finding> {
    let out = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .args([
            "scan",
            "--format",
            "jsonl",
            "--progress",
            "never",
            "-j",
            threads,
        ])
        .arg(path)
        .env("LEAKHOUND_FINGERPRINT_KEY", "segments")
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["type"] == "finding" {
            rows.push((
                e["offset"].as_u64().unwrap(),
                e["line"].as_u64(),
                e["column"].as_u64(),
                e["kind"].as_str().unwrap().to_string(),
                e["masked"].as_str().unwrap().to_string(),
                e["fingerprint"].as_str().unwrap().to_string(),
            ));
        }
        if e["type"] == "file" {
            panic!("a file was not fully scanned: {e}");
        }
    }
    rows.sort();
    rows
}

const SEGMENT: usize = 256 << 10;
const NUMBERS: [&str; 4] = [
    "4526 0181 5908 3012",
    "536-22-8726",
    "身份证11010519491231002X",
    "DE89 3704 0044 0532 0130 00",
];

/// A 70 MB file (past the 64 MiB threshold) with numbers planted across
/// every segment edge, lines of many lengths, multi-byte characters, and a
/// long line that spans two segments.
fn big_text() -> Vec<u8> {
    let mut v: Vec<u8> = Vec::with_capacity(70 << 20);
    let mut n = 0usize;
    while v.len() < 70 << 20 {
        let edge = (v.len() / SEGMENT + 1) * SEGMENT;
        let number = NUMBERS[n % NUMBERS.len()];
        if v.len() + 4096 > edge {
            // Pad so the number starts a few bytes before the edge.
            let start = edge - (n % number.len()) - 1;
            while v.len() < start - 1 {
                v.push(if v.len().is_multiple_of(97) {
                    b'\n'
                } else {
                    b'x'
                });
            }
            v.push(b' ');
            v.extend_from_slice(number.as_bytes());
            v.extend_from_slice(" ünïcödé ".as_bytes());
            n += 1;
            continue;
        }
        if n % 7 == 3 {
            // A line with no newline across most of a segment.
            v.extend(std::iter::repeat_n(b'a', SEGMENT - 100));
            v.push(b' ');
            v.extend_from_slice(NUMBERS[0].as_bytes());
            v.push(b'\n');
            n += 1;
            continue;
        }
        v.extend_from_slice(format!("line {} 2024-08-19 200 103133 ok ", v.len()).as_bytes());
        v.extend_from_slice("żółć 身份证 ".as_bytes());
        v.push(b'\n');
    }
    v
}

#[test]
fn segmented_text_scan_matches_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&big_text())
        .unwrap();
    let one = findings(&path, "1");
    let many = findings(&path, "4");
    assert!(one.len() > 30, "only {} findings", one.len());
    assert!(one.iter().all(|r| r.1.is_some() && r.2.is_some()));
    assert_eq!(one, many);
}

#[test]
fn segmented_binary_scan_matches_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let mut v = big_text();
    // NUL bytes make it binary; UTF-16 strings across segment edges too.
    v[10] = 0;
    for k in 1..30usize {
        let at = k * SEGMENT - 9;
        let wide: Vec<u8> = "PESEL 85120312343 "
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        v[at..at + wide.len()].copy_from_slice(&wide);
    }
    std::fs::File::create(&path).unwrap().write_all(&v).unwrap();
    let one = findings(&path, "1");
    let many = findings(&path, "4");
    assert!(one.iter().any(|r| r.3 == "pl_pesel"));
    assert!(one.iter().all(|r| r.1.is_none()));
    assert_eq!(one, many);
}
