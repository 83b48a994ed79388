//! End-to-end tests of reading in windows: numbers across chunk boundaries
//! (UTF-8, UTF-16 and binary) are found once at their place, and a big file
//! without newlines is scanned in bounded memory.

use std::path::Path;

use assert_cmd::Command;

mod common;

use common::cli::*;

// ---------------------------------------------------------------------------
// 7. Chunk boundaries.
// ---------------------------------------------------------------------------

/// Text with `number` starting at byte `at`: lines of 100 bytes (98 code
/// points, one of them two bytes long), then spaces.
fn text_with_number_at(at: usize, number: &str) -> String {
    let line = format!("é{}\n", "x".repeat(97));
    assert_eq!(line.len(), 100);
    let mut t = line.repeat(at / 100);
    t.push_str(&" ".repeat(at % 100));
    t.push_str(number);
    t.push_str(" end\n");
    t.push_str(&"z".repeat(9000));
    t.push('\n');
    t
}

/// A finding's file name, offset, line and column (none for binary data),
/// and length.
type Placed = (String, u64, Option<(u64, u64)>, usize);

#[test]
fn numbers_across_chunk_boundaries_are_found_once() {
    const CHUNK: usize = 4096;
    let sc = Scratch::new();
    let mut offsets: Vec<usize> = Vec::new();
    // Every start from fully before to fully after each of the first
    // boundaries (windows overlap by 512 bytes).
    for boundary in [CHUNK, CHUNK + 512, 2 * CHUNK] {
        offsets.extend(boundary - 20..=boundary + 1);
    }
    offsets.extend([CHUNK - 512 - 1, CHUNK - 512, 3 * CHUNK - 8]);
    let mut wanted = Vec::new();
    for &at in &offsets {
        for (number, name) in [(VISA, "bare"), (VISA_GROUPED, "grouped")] {
            let text = text_with_number_at(at, number);
            let (line, column, offset) = locate(&text, number);
            assert_eq!(offset, at as u64);
            let utf8 = format!("{at:05}-{name}.txt");
            sc.write(&format!("t/{utf8}"), &text);
            wanted.push((utf8, offset, Some((line, column)), number.len()));
            // The same text in UTF-16: places are in the decoded text.
            let utf16 = format!("{at:05}-{name}.utf16");
            let mut bytes = vec![0xff, 0xfe];
            bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            sc.write(&format!("t/{utf16}"), bytes);
            wanted.push((utf16, offset, Some((line, column)), number.len()));
            // And behind a NUL byte, so it is read as binary: raw offsets.
            let bin = format!("{at:05}-{name}.bin");
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(text.as_bytes());
            sc.write(&format!("t/{bin}"), bytes);
            wanted.push((bin, offset + 1, None, number.len()));
        }
    }
    wanted.sort();
    // An odd chunk size also splits UTF-16 code units between reads.
    for chunk in ["4096", "4097"] {
        let run = sc.jsonl(["--chunk-size", chunk, "-j", "2", "t"]);
        run.expect_code(1);
        let mut got: Vec<Placed> = run
            .findings()
            .iter()
            .map(|f| {
                assert_eq!(f["masked"], VISA_MASKED, "{f}");
                let place = f["line"]
                    .as_u64()
                    .map(|l| (l, f["column"].as_u64().unwrap()));
                (
                    f["path"].as_str().unwrap()["t/".len()..].to_string(),
                    f["offset"].as_u64().unwrap(),
                    place,
                    f["length"].as_u64().unwrap() as usize,
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, wanted, "--chunk-size {chunk}");
    }
}

// ---------------------------------------------------------------------------
// 8. A big file without newlines.
// ---------------------------------------------------------------------------

#[test]
fn big_file_without_newlines_in_bounded_memory() {
    const SIZE: usize = 30_000_000;
    let sc = Scratch::new();
    let mut data = vec![b'a'; SIZE];
    let at = SIZE - 1000;
    data[at - 1] = b' ';
    data[at..at + 16].copy_from_slice(VISA.as_bytes());
    data[at + 16] = b' ';
    sc.write("big.txt", &data);
    drop(data);

    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-v").arg(BIN);
        c.env("LEAKHOUND_FINGERPRINT_KEY", KEY)
            .env("LEAKHOUND_STATE_DIR", sc.state.path())
            .current_dir(sc.path())
            .timeout(TIMEOUT);
        c
    } else {
        eprintln!("/usr/bin/time is not there: memory not measured");
        sc.cmd()
    };
    let out = cmd
        .args(["scan", "big.txt", "--format", "jsonl", "-j", "2"])
        .output()
        .unwrap();
    let run = Run::parse(out);
    run.expect_code(1);
    let f = run.findings();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["offset"], at);
    assert_eq!(f[0]["line"], 1);
    assert_eq!(f[0]["column"], at + 1);
    assert_eq!(run.summary()["bytes"], SIZE);

    if time.exists() {
        let rss_kb: u64 = run
            .stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .unwrap_or_else(|| panic!("no peak RSS from /usr/bin/time: {}", run.stderr))
            .trim()
            .parse()
            .unwrap();
        // Reading the whole file would take 30 MB on its own; streaming
        // takes a few 256 kB windows besides the program.
        assert!(
            rss_kb < 28_000,
            "peak RSS {rss_kb} kB for a {SIZE}-byte file"
        );
    }
}
