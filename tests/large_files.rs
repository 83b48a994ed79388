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

/// Runs `leakhound scan -v --format jsonl ARGS PATH` and returns its events,
/// killing it (and failing) if it runs for more than `guard`: a hang guard
/// far above what the scan needs, not a timing assertion.
fn scan_guarded(
    path: &std::path::Path,
    args: &[&str],
    guard: std::time::Duration,
) -> Vec<serde_json::Value> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .args(["scan", "-v", "--format", "jsonl", "--progress", "never"])
        .args(args)
        .arg(path)
        .env("LEAKHOUND_FINGERPRINT_KEY", "segments")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > guard {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the scan of {} ran for over {guard:?}", path.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// D15: holes in a sparse file were read as data (a 4 GiB sparse file
/// took 21-32 s, 1 TiB about 2 hours). Now only the data extents are read
/// (SEEK_DATA/SEEK_HOLE): a 4 GiB sparse file with a card in a data extent
/// at its end is scanned within `--max-time 30s` (reading 4 GiB of zeros
/// in a debug build would not be), the card is found at its offset, and
/// the file counts as scanned in full.
#[test]
fn d15_a_sparse_file_is_read_by_its_data_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    let len = 4u64 << 30;
    let text = b"card 4526 0181 5908 3012\n";
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(len).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, text, len - 4096).unwrap();
    drop(f);
    for threads in ["1", "2"] {
        let events = scan_guarded(
            &path,
            &["-j", threads, "--max-time", "30s"],
            std::time::Duration::from_secs(120),
        );
        let found: Vec<_> = events.iter().filter(|e| e["type"] == "finding").collect();
        assert_eq!(found.len(), 1, "-j{threads}: {events:#?}");
        assert_eq!(found[0]["offset"], len - 4096 + 5);
        assert_eq!(found[0]["masked"], "452601******3012");
        let rec = events.iter().find(|e| e["type"] == "file").unwrap();
        assert_eq!(rec["status"], "scanned", "{rec}");
        assert_eq!(rec["bytes"], len, "{rec}");
    }
}

/// D15: a sparse text file gets the same findings, lines and columns as
/// the same bytes written out in full (holes are zeros without newlines).
#[test]
fn d15_a_sparse_text_file_has_the_lines_and_columns_of_its_dense_copy() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = dir.path().join("sparse.log");
    let dense = dir.path().join("dense.log");
    let len = 8u64 << 20;
    let mut bytes = vec![0u8; len as usize];
    let mut put = |at: usize, s: &str| bytes[at..at + s.len()].copy_from_slice(s.as_bytes());
    put(0, "first line\ncard 4526 0181 5908 3012 at the start\n");
    put(3 << 20, "\nmiddle 536-22-8726 ssn\n");
    put((len - 100) as usize, "tail card 5478-7789-3287-9219");
    std::fs::write(&dense, &bytes).unwrap();
    let f = std::fs::File::create(&sparse).unwrap();
    f.set_len(len).unwrap();
    for (at, piece) in [
        (0usize, 4096usize),
        (3 << 20, 4096),
        ((len - 4096) as usize, 4096),
    ] {
        std::os::unix::fs::FileExt::write_all_at(&f, &bytes[at..at + piece], at as u64).unwrap();
    }
    drop(f);
    use std::os::unix::fs::MetadataExt;
    assert!(
        std::fs::metadata(&sparse).unwrap().blocks() * 512 < len,
        "this file system does not keep holes"
    );
    let want = findings(&dense, "1");
    assert_eq!(want.len(), 3, "{want:?}");
    assert_eq!(findings(&sparse, "1"), want);
    assert_eq!(findings(&sparse, "2"), want);
}

/// D15: `--max-time` was not enforced on plain files. A 65 MiB text file
/// scanned with a 10 ms limit (far less than reading it takes) is reported
/// `partial`, the reason naming the limit and how to raise it, through the
/// streaming path (-j1) and the segmented one (-j2).
#[test]
fn d15_max_time_applies_to_plain_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let mut v = big_text();
    v.truncate((65 << 20) + 1);
    std::fs::write(&path, &v).unwrap();
    for threads in ["1", "2"] {
        let events = scan_guarded(
            &path,
            &["-j", threads, "--max-time", "10ms"],
            std::time::Duration::from_secs(300),
        );
        let rec = events.iter().find(|e| e["type"] == "file").unwrap();
        assert_eq!(rec["status"], "partial", "-j{threads}: {rec}");
        let reason = rec["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("time limit of 10ms reached (raise limits.max_time or --max-time)"),
            "{reason}"
        );
        assert!(rec["bytes"].as_u64().unwrap() < v.len() as u64, "{rec}");
    }
}

/// D15: standard input without end (`< /dev/zero`) used to be read for
/// ever; `--max-time` stops it, `partial`, naming the limit.
#[test]
fn d15_max_time_applies_to_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .args(["scan", "-v", "--format", "jsonl", "--progress", "never"])
        .args(["--max-time", "1s", "-"])
        .env("LEAKHOUND_FINGERPRINT_KEY", "segments")
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a scan of endless standard input ignored --max-time");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let rec: serde_json::Value = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["type"] == "file")
        .unwrap();
    assert_eq!(rec["status"], "partial", "{rec}");
    assert!(
        rec["reason"]
            .as_str()
            .unwrap()
            .starts_with("time limit of 1s reached (raise limits.max_time or --max-time)"),
        "{rec}"
    );
}
