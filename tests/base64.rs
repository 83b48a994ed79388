//! Base64 payloads (issue 12 item 5), end to end: numbers in base64 of text
//! in log lines, JSON lines, CSV cells, XML elements, data: URIs, JWTs,
//! UTF-16LE text and zip members are found and reported inside member
//! `base64@OFFSET`; base64 of binary (keys, images, random bytes) and of
//! text whose number fails its check is not reported.
//!
//! The fixtures under `tests/fixtures/realworld/base64/` were made by
//! coreutils `base64`, `openssl base64`, python's base64/json/hmac modules,
//! `iconv` and Info-ZIP `zip` (`make.sh` there remakes them). Bigger inputs
//! (window boundaries, the decoding bound, the property test) are built
//! here with a small encoder checked against coreutils `base64` first.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use leakhound::engine::Engine;
use leakhound::fingerprint::{Fingerprinter, KeySource};
use leakhound::report::event::{Event, FileStatus};
use leakhound::rules::{Confidence, RuleSet};
use leakhound::validate;
use proptest::prelude::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_leakhound");
const VISA: &str = "4539148803436467";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/realworld/base64")
        .join(name)
}

/// Runs `leakhound scan` on `path` with `args`: the finding and file
/// records, and the whole output.
fn scan_with(path: &Path, args: &[&str]) -> (Vec<Value>, Vec<Value>, String) {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .env("LEAKHOUND_FINGERPRINT_KEY", "base64-test-key")
        .env("LEAKHOUND_STATE_DIR", state.path())
        .env_remove("LEAKHOUND_LOG")
        .timeout(Duration::from_secs(300))
        .args(["scan", "--base64", "--format", "jsonl"])
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    let code = out.status.code();
    assert!(matches!(code, Some(0 | 1)), "exit {code:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of =
        |t: &str| -> Vec<Value> { events.iter().filter(|v| v["type"] == t).cloned().collect() };
    (of("finding"), of("file"), all)
}

/// `(member, line, kind)` of every finding, sorted.
fn summary(findings: &[Value]) -> Vec<(String, u64, String)> {
    let mut out: Vec<_> = findings
        .iter()
        .map(|v| {
            (
                v["member"].as_str().unwrap_or("").to_string(),
                v["line"].as_u64().unwrap_or(0),
                v["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn f(member: &str, line: u64, kind: &str) -> (String, u64, String) {
    (member.to_string(), line, kind.to_string())
}

fn assert_no_leak(output: &str) {
    for raw in [
        VISA,
        "4539 1488 0343 6467",
        "4539-1488-0343-6467",
        "370400440532013000",
    ] {
        assert!(!output.contains(raw), "raw number in the output");
    }
}

/// Base64 (RFC 4648), standard or URL-safe alphabet, with or without
/// padding.
fn encode(bytes: &[u8], url: bool, pad: bool) -> String {
    let abc: &[u8; 64] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..=c.len() {
            out.push(abc[(n >> (18 - 6 * k) & 63) as usize] as char);
        }
        if pad {
            for _ in c.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn b64_test_encoder_agrees_with_coreutils_base64() {
    for text in ["", "a", "ab", "abc", "card 4539 1488 0343 6467 ~~~ ???>>>"] {
        let out = std::process::Command::new("base64")
            .arg("-w0")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().unwrap().write_all(text.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            encode(text.as_bytes(), false, true)
        );
    }
}

/// Every fixture, with every finding it must give (member, line, kind).
#[test]
fn b64_real_world_payloads_are_found_inside_base64_at_offset() {
    type Want<'a> = &'a [(&'a str, u64, &'a str)];
    let table: &[(&str, Want)] = &[
        // HTTP Basic credentials in a logged header.
        ("authorization.log", &[("base64@75", 1, "card_visa")]),
        // A JSON field, standard alphabet padded; URL-safe unpadded.
        (
            "payload.jsonl",
            &[("base64@62", 1, "card_visa"), ("base64@227", 2, "iban")],
        ),
        // A CSV cell (openssl base64).
        ("cells.csv", &[("base64@32", 2, "card_visa")]),
        // An XML element.
        ("element.xml", &[("base64@112", 4, "card_visa")]),
        // A data: URI of text.
        ("data-uri.md", &[("base64@32", 1, "card_visa")]),
        // The payload of a JWT (its header and signature are runs of their
        // own, and the token without a card gives nothing).
        ("jwt.log", &[("base64@75", 1, "card_visa")]),
        // UTF-16LE text (PowerShell -EncodedCommand).
        ("utf16le.log", &[("base64@53", 1, "card_visa")]),
        // A run inside a zip member.
        (
            "payload.zip",
            &[
                ("payload.jsonl!base64@62", 1, "card_visa"),
                ("payload.jsonl!base64@227", 2, "iban"),
            ],
        ),
    ];
    for (name, want) in table {
        let (findings, files, all) = scan_with(&fixture(name), &[]);
        let mut want: Vec<_> = want.iter().map(|(m, l, k)| f(m, *l, k)).collect();
        want.sort();
        assert_eq!(summary(&findings), want, "{name}");
        assert_no_leak(&all);
        for v in &findings {
            let masked = v["masked"].as_str().unwrap();
            assert!(masked.contains('*'), "{name}: unmasked value");
            assert_eq!(v["fingerprint"].as_str().unwrap().len(), 32, "{name}");
        }
        // A file record is written only for what was not fully scanned.
        assert_eq!(files, Vec::<Value>::new(), "{name}");
    }
}

/// The offset in a member name is where the run starts: the bytes there,
/// decoded, hold the number; and `offset`/`length` of the finding are the
/// base64 characters that encode it.
#[test]
fn b64_member_offset_points_at_the_run_and_offset_at_the_encoded_number() {
    let path = fixture("payload.jsonl");
    let bytes = std::fs::read(&path).unwrap();
    let (findings, _, _) = scan_with(&path, &[]);
    let card = findings.iter().find(|v| v["kind"] == "card_visa").unwrap();
    let member = card["member"].as_str().unwrap();
    let run_at: usize = member.strip_prefix("base64@").unwrap().parse().unwrap();
    let run_end = run_at + bytes[run_at..].iter().position(|&b| b == b'"').unwrap();
    let run = std::str::from_utf8(&bytes[run_at..run_end]).unwrap();
    assert!(run.starts_with("eyJ"), "the run starts at the offset");
    let at = card["offset"].as_u64().unwrap() as usize;
    let len = card["length"].as_u64().unwrap() as usize;
    assert!(at >= run_at && at + len <= run_end);
    assert_eq!((at - run_at) % 4, 0, "whole base64 groups");
    // Those groups decode to text holding the number's digits.
    let decoded = decode(&bytes[at..at + len]);
    let digits: String = String::from_utf8_lossy(&decoded)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert!(digits.contains("45391488034364"), "the encoded number");
}

/// Base64 of binary data (a PEM key, an SSH key, a PNG image in a data:
/// URI, random bytes) and of text whose card number fails the Luhn check
/// gives no finding.
#[test]
fn b64_binary_payloads_and_invalid_numbers_give_nothing() {
    let (findings, files, _) = scan_with(&fixture("negatives.txt"), &[]);
    assert_eq!(summary(&findings), vec![]);
    assert_eq!(files, Vec::<Value>::new());
    // The same file with a valid card appended in base64: found (so the
    // file is read, and the negatives are negative for their content).
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("negatives-plus-one.txt");
    let mut body = std::fs::read(fixture("negatives.txt")).unwrap();
    let line = body.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let at = body.len() + "payload=".len();
    body.extend_from_slice(
        format!(
            "payload={}\n",
            encode(b"card 4539 1488 0343 6467", false, true)
        )
        .as_bytes(),
    );
    std::fs::write(&p, &body).unwrap();
    let (findings, _, _) = scan_with(&p, &[]);
    assert_eq!(
        summary(&findings),
        vec![f(&format!("base64@{at}"), line, "card_visa")]
    );
}

/// Decodes base64 of either alphabet (for checks only).
fn decode(chars: &[u8]) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' | b'-' => 62,
            _ => 63,
        }
    };
    let chars: Vec<u8> = chars.iter().copied().filter(|&c| c != b'=').collect();
    let mut out = Vec::new();
    for q in chars.chunks(4) {
        let mut n = 0u32;
        for (k, &c) in q.iter().enumerate() {
            n |= val(c) << (18 - 6 * k);
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..q.len() - 1]);
    }
    out
}

/// A text of `len` bytes of log lines without base64 runs (words of at
/// most 10 characters) and without numbers.
fn filler(len: usize) -> Vec<u8> {
    let line = b"2026-11-29 INFO worker ready; queue empty, nothing to do here.\n";
    line.iter().copied().cycle().take(len).collect()
}

/// A run straddling the 256 KiB window boundary, short and long (longer
/// than the margin the windows share), is found once, through the stream
/// (one thread), segmented scanning (a sparse file is cut into 256 KiB
/// segments) and at 4 KiB windows (`--chunk-size` is not a flag: the
/// stream scanner is used directly).
#[test]
fn b64_run_straddling_the_window_boundary_is_found_once() {
    let window: usize = 256 << 10;
    for payload_len in [60usize, 3000, 200_000] {
        let mut text = filler(payload_len / 2).to_vec();
        text.extend_from_slice(b" card 4539 1488 0343 6467 ok; ");
        text.extend(filler(payload_len / 2));
        let run = encode(&text, false, true);
        for before in [
            window.saturating_sub(run.len() / 2),
            window - 10,
            window - 600,
        ] {
            let mut body = filler(before);
            body.extend_from_slice(b"payload=");
            let at = body.len();
            body.extend_from_slice(run.as_bytes());
            body.extend_from_slice(b"\n");
            body.extend(filler(window));
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("big.log");
            std::fs::write(&p, &body).unwrap();
            let want_mk = vec![(format!("base64@{at}"), "card_visa".to_string())];
            let (found, _, all) = scan_with(&p, &["-j1"]);
            let got: Vec<_> = summary(&found)
                .into_iter()
                .map(|(m, _, k)| (m, k))
                .collect();
            assert_eq!(got, want_mk, "stream, payload {payload_len}, run at {at}");
            assert_no_leak(&all);
            // Sparse: a hole after the data makes the scanner cut it into
            // segments, each read with `pread`.
            let file = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            file.set_len(body.len() as u64 + (8 << 20)).unwrap();
            drop(file);
            let (found, _, _) = scan_with(&p, &["-j2"]);
            let got: Vec<_> = summary(&found)
                .into_iter()
                .map(|(m, _, k)| (m, k))
                .collect();
            assert_eq!(got, want_mk, "segments, payload {payload_len}, run at {at}");
            // Small windows, through the library.
            let engine = Engine::new(RuleSet::builtin().unwrap()).with_base64(true);
            for chunk in [4096, 64 << 10] {
                let mut s = leakhound::engine::stream::StreamScanner::new(&engine, chunk);
                let mut runs = Vec::new();
                s.scan_bytes(&body, &mut |l| {
                    runs.push(l.base64);
                    std::ops::ControlFlow::Continue(())
                });
                assert_eq!(
                    runs,
                    vec![Some(at as u64)],
                    "chunk {chunk}, payload {payload_len}"
                );
            }
        }
    }
}

/// A run that decodes to more than 1 MiB is decoded up to 1 MiB (what is
/// there is found) and the file is `partial`, saying where and why.
#[test]
fn b64_payload_over_the_bound_is_scanned_to_it_and_reported_partial() {
    let mut text = b"card 4539 1488 0343 6467 ok; ".to_vec();
    text.extend(filler((1 << 20) + 4096));
    text.extend_from_slice(b" late card 4556 7375 8689 9855 ok; ");
    let mut body = b"data=".to_vec();
    body.extend_from_slice(encode(&text, false, true).as_bytes());
    body.push(b'\n');
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.log");
    std::fs::write(&p, &body).unwrap();
    let (found, files, all) = scan_with(&p, &["-j1"]);
    assert_eq!(summary(&found), vec![f("base64@5", 1, "card_visa")]);
    let top = files.last().unwrap();
    assert_eq!(top["status"], "partial");
    let reason = top["reason"].as_str().unwrap();
    assert!(reason.contains("base64 payload at byte 5"), "{reason}");
    assert!(reason.contains("1 MiB"), "{reason}");
    assert_no_leak(&all);
}

// --- the property test

fn complete(
    mut digits: Vec<u8>,
    at: &[usize],
    values: &[&str],
    ok: impl Fn(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    for v in values {
        for (&i, b) in at.iter().zip(v.bytes()) {
            digits[i] = b;
        }
        if ok(&digits) {
            return Some(digits);
        }
    }
    None
}

/// A valid number of kind `k % 7` (the default kinds with a check: Visa,
/// Mastercard/Amex, PESEL, CNP, Chinese RIC, Iranian national code, IBAN)
/// from the random digits `r`, the keyword that names it, and the index of
/// a check digit to break.
fn valid(k: usize, r: &[u8]) -> Option<(&'static str, String, usize)> {
    let d = |i: usize| b'0' + r[i] % 10;
    let digits = |n: usize| -> Vec<u8> { (0..n).map(d).collect() };
    let tens: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    let tens: Vec<&str> = tens.iter().map(String::as_str).collect();
    let s = |v: Vec<u8>| String::from_utf8(v).unwrap();
    Some(match k % 7 {
        0 => {
            let mut v = b"4".to_vec();
            v.extend(digits(15));
            ("card", s(complete(v, &[15], &tens, validate::luhn)?), 15)
        }
        1 => {
            let mut v = if r[0].is_multiple_of(2) {
                b"53".to_vec()
            } else {
                b"37".to_vec()
            };
            let n = if v[0] == b'5' { 16 } else { 15 };
            v.extend(digits(n - 2));
            (
                "card",
                s(complete(v, &[n - 1], &tens, validate::luhn)?),
                n - 1,
            )
        }
        2 => {
            let mut v = vec![d(0), d(1), b'0', b'1' + r[2] % 9, b'1', b'0' + r[3] % 8];
            v.extend(digits(5));
            let ok = |x: &[u8]| validate::pl_pesel(x).is_ok();
            ("PESEL", s(complete(v, &[10], &tens, ok)?), 10)
        }
        3 => {
            let mut v = vec![
                b'1' + r[0] % 2,
                d(1),
                d(2),
                b'0',
                b'1' + r[3] % 9,
                b'1',
                b'0' + r[4] % 9,
            ];
            v.extend(format!("{:02}", 1 + r[5] % 40).bytes());
            v.extend(digits(3));
            v.push(b'0');
            let ok = |x: &[u8]| validate::ro_cnp(x).is_ok();
            ("CNP", s(complete(v, &[12], &tens, ok)?), 12)
        }
        4 => {
            let mut v = b"11010119".to_vec();
            v.extend([d(0), d(1), b'0', b'1' + r[2] % 9, b'1', b'0' + r[3] % 9]);
            v.extend(digits(3));
            v.push(b'0');
            let mut cands = tens.clone();
            cands.push("X");
            let ok = |x: &[u8]| validate::cn_ric(x).is_ok();
            ("身份证", s(complete(v, &[17], &cands, ok)?), 17)
        }
        5 => {
            let mut v = digits(10);
            v[0] = b'0' + (r[0] % 9) + 1;
            let ok = |x: &[u8]| validate::ir_melli(x).is_ok();
            ("کد ملی", s(complete(v, &[9], &tens, ok)?), 9)
        }
        _ => {
            let mut v = b"DE00".to_vec();
            v.extend(digits(18));
            let pairs: Vec<String> = (2..99).map(|x| format!("{x:02}")).collect();
            let pairs: Vec<&str> = pairs.iter().map(String::as_str).collect();
            let ok = |x: &[u8]| validate::iban(x).is_ok();
            ("IBAN", s(complete(v, &[2, 3], &pairs, ok)?), 3)
        }
    })
}

struct World {
    engine: Engine,
    fp: Fingerprinter,
}

fn world() -> &'static World {
    static W: std::sync::OnceLock<World> = std::sync::OnceLock::new();
    W.get_or_init(|| World {
        engine: Engine::new(RuleSet::builtin().unwrap()).with_base64(true),
        fp: Fingerprinter::with_key(&[7; 32], KeySource::Ephemeral),
    })
}

/// `(member, kind)` of the findings of `body`, and the file's status.
fn scan_lib(body: &[u8]) -> (Vec<(Option<String>, String)>, FileStatus) {
    let w = world();
    let events = leakhound::scan::scan_one(
        &w.engine,
        &w.fp,
        "line.log",
        &mut &body[..],
        Confidence::Low,
        leakhound::extract::Limits::default(),
    );
    let mut found = Vec::new();
    let mut status = FileStatus::Error;
    for e in events {
        match e {
            Event::Finding(f) => found.push((f.member, f.kind)),
            Event::File(r) if r.member.is_none() => status = r.status,
            _ => {}
        }
    }
    (found, status)
}

/// Words of random text around the number (no digits, so nothing else can
/// be found).
fn words() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-zA-Zçéłś]{1,9}", 0..6).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn b64_random_valid_numbers_in_base64_are_found_and_broken_ones_are_not(
        kind in 0usize..7,
        r in proptest::collection::vec(any::<u8>(), 24),
        before in words(),
        after in words(),
        prefix in "[a-z]{0,12}[ =:\"'>,(]",
        suffix in "[ \"'<,);][a-z ]{0,12}",
        url in any::<bool>(),
        pad in any::<bool>(),
        utf16 in any::<bool>(),
        broken_by in 1u8..10,
    ) {
        let Some((keyword, number, check)) = valid(kind, &r) else {
            return Ok(());
        };
        let make = |number: &str| -> (Vec<u8>, usize) {
            let text = format!("{before} {keyword}: {number} {after}");
            let bytes: Vec<u8> = if utf16 {
                text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
            } else {
                text.into_bytes()
            };
            let mut line = prefix.clone().into_bytes();
            let at = line.len();
            line.extend_from_slice(encode(&bytes, url, pad).as_bytes());
            line.extend_from_slice(suffix.as_bytes());
            line.push(b'\n');
            (line, at)
        };
        let (line, at) = make(&number);
        let (found, status) = scan_lib(&line);
        prop_assert_eq!(status, FileStatus::Scanned);
        let member = format!("base64@{at}");
        prop_assert!(
            found.len() == 1 && found[0].0.as_deref() == Some(member.as_str()),
            "kind {} not found once in {}: {:?}", kind, member, found
        );
        // The same number with its check digit changed: not found.
        let mut bad = number.clone().into_bytes();
        bad[check] = if bad[check] == b'X' {
            b'1'
        } else {
            b'0' + (bad[check] - b'0' + broken_by) % 10
        };
        let bad = String::from_utf8(bad).unwrap();
        let (line, _) = make(&bad);
        let (found, _) = scan_lib(&line);
        prop_assert!(found.is_empty(), "broken number found: {:?}", found);
    }
}

/// `--action redact` masks a number inside a base64 payload: the payload
/// is decoded, redacted like text and encoded again in its own alphabet,
/// with or without its padding as it was; a UTF-16LE payload stays
/// UTF-16LE. A rescan then finds nothing.
#[test]
fn b64_redact_rewrites_the_payload_in_its_alphabet_and_padding() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for name in [
        "payload.jsonl",
        "authorization.log",
        "utf16le.log",
        "jwt.log",
    ] {
        let p = dir.path().join(name);
        std::fs::copy(fixture(name), &p).unwrap();
        paths.push(p);
    }
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .env("LEAKHOUND_FINGERPRINT_KEY", "base64-test-key")
        .env("LEAKHOUND_STATE_DIR", state.path())
        .timeout(Duration::from_secs(120))
        .args([
            "scan", "--base64", "--action", "redact", "--format", "jsonl",
        ])
        .args(&paths)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_no_leak(&stdout);
    let actions: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "action")
        .collect();
    assert_eq!(actions.len(), 4, "{stdout}");
    for a in &actions {
        assert_eq!(a["action"], "redacted", "{a}");
    }
    for p in &paths {
        let (findings, _, _) = scan_with(p, &[]);
        assert_eq!(summary(&findings), vec![], "{}", p.display());
    }
    // The JSON lines: the same fields, each payload decodes to its text
    // with the digits masked, the URL-safe one still unpadded.
    let text = std::fs::read_to_string(&paths[0]).unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let payload = |i: usize| rows[i]["payload"].as_str().unwrap().to_string();
    let first = String::from_utf8(decode(payload(0).as_bytes())).unwrap();
    assert_eq!(
        first,
        r#"{"customer": "Jan Kowalski", "card": "**** **** **** 6467", "exp": "12/28"}"#
    );
    let second = payload(1);
    assert!(
        !second.contains('=') && second.contains('-'),
        "URL-safe, unpadded"
    );
    let second = String::from_utf8(decode(second.as_bytes())).unwrap();
    assert!(second.starts_with(r#"{"iban": "**** "#), "{second}");
    assert_eq!(rows[0]["event"], "charge");
    // UTF-16LE stays UTF-16LE.
    let log = std::fs::read_to_string(&paths[2]).unwrap();
    let run = log.split("-EncodedCommand ").nth(1).unwrap().trim_end();
    let units: Vec<u16> = decode(run.as_bytes())
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    assert_eq!(
        String::from_utf16(&units).unwrap(),
        r#"Write-Output "karta **** **** **** 6467""#
    );
}

/// Runs `leakhound scan` (without `--base64`: the default) on `path` with
/// `args`: the finding records and the whole output.
fn scan_plain(path: &Path, args: &[&str]) -> (Vec<Value>, String) {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .env("LEAKHOUND_FINGERPRINT_KEY", "base64-test-key")
        .env("LEAKHOUND_STATE_DIR", state.path())
        .env_remove("LEAKHOUND_LOG")
        .env_remove("LEAKHOUND_CONFIG")
        .timeout(Duration::from_secs(120))
        .args(["scan", "--format", "jsonl"])
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let findings = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "finding")
        .collect();
    (findings, all)
}

/// The pass is on unless turned off: a plain scan finds the numbers in the
/// payloads; `limits.base64: false` in the config file or `--no-base64`
/// turns it off (nothing found in them), and `--base64` overrides the
/// file's `false`.
#[test]
fn b64_switch_on_by_default_and_off_by_config_key_or_flag() {
    let p = fixture("payload.jsonl");
    let want = vec![f("base64@227", 2, "iban"), f("base64@62", 1, "card_visa")];
    let (on, all) = scan_plain(&p, &[]);
    assert_eq!(summary(&on), want, "{all}");
    assert_no_leak(&all);
    let (off, all) = scan_plain(&p, &["--no-base64"]);
    assert_eq!(summary(&off), vec![], "{all}");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leakhound.yaml");
    std::fs::write(&config, "limits:\n  base64: false\n").unwrap();
    let (off, all) = scan_plain(&p, &["--config", config.to_str().unwrap()]);
    assert_eq!(summary(&off), vec![], "{all}");
    let (on, all) = scan_plain(&p, &["--config", config.to_str().unwrap(), "--base64"]);
    assert_eq!(summary(&on), want, "{all}");
    std::fs::write(&config, "limits:\n  base64: true\n").unwrap();
    let (on, all) = scan_plain(&p, &["--config", config.to_str().unwrap()]);
    assert_eq!(summary(&on), want, "{all}");
    let (off, all) = scan_plain(&p, &["--config", config.to_str().unwrap(), "--no-base64"]);
    assert_eq!(summary(&off), vec![], "{all}");
}

/// Redaction follows the same switch: with `--no-base64` the payloads are
/// left as they are (nothing was found in them).
#[test]
fn b64_redact_with_the_pass_off_leaves_payloads_alone() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("payload.jsonl");
    std::fs::copy(fixture("payload.jsonl"), &p).unwrap();
    let before = std::fs::read(&p).unwrap();
    let (_, all) = scan_plain(&p, &["--no-base64", "--action", "redact"]);
    assert!(!all.contains("\"redacted\""), "{all}");
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

/// Wrapped base64 as coreutils `base64` (76 columns) and `openssl base64`
/// (64) write it by default: the lines are one payload, so the numbers
/// that cross a line break are found (the Visa number at 76 columns; the
/// IBAN and the Mastercard number at 64), once each, in member
/// `base64@0`, their `offset` and `length` spanning the break; text whose
/// number fails its check gives nothing.
#[test]
fn b64_wrapped_payloads_are_one_payload_and_numbers_across_lines_are_found() {
    for name in ["wrapped-76.b64", "wrapped-64.b64"] {
        let p = fixture(name);
        let (found, _, all) = scan_with(&p, &[]);
        let mut got: Vec<(String, String)> = found
            .iter()
            .map(|v| (v["member"].to_string(), v["kind"].to_string()))
            .collect();
        got.sort();
        let want: Vec<(String, String)> = ["card_mastercard", "card_visa", "iban"]
            .iter()
            .map(|k| ("\"base64@0\"".to_string(), format!("\"{k}\"")))
            .collect();
        assert_eq!(got, want, "{name}: {all}");
        assert_no_leak(&all);
        let body = std::fs::read(&p).unwrap();
        for v in &found {
            // The encoded characters, line breaks taken out, decode to
            // text that holds the number (whole groups of 4).
            let at = v["offset"].as_u64().unwrap() as usize;
            let len = v["length"].as_u64().unwrap() as usize;
            let chars: Vec<u8> = body[at..at + len]
                .iter()
                .copied()
                .filter(|&b| b != b'\n')
                .collect();
            let text = String::from_utf8_lossy(&decode(&chars)).into_owned();
            let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
            let tail = v["masked"].as_str().unwrap();
            let tail = &tail[tail.len() - 4..];
            assert!(
                digits.contains(tail),
                "{name}: the encoded span of a {} does not decode to its number",
                v["kind"]
            );
        }
        // The Visa number crosses a line break at 76 columns, the IBAN at
        // 64: their encoded characters hold one.
        let crossing = if name == "wrapped-76.b64" {
            "card_visa"
        } else {
            "iban"
        };
        let v = found.iter().find(|v| v["kind"] == crossing).unwrap();
        let at = v["offset"].as_u64().unwrap() as usize;
        let len = v["length"].as_u64().unwrap() as usize;
        assert!(body[at..at + len].contains(&b'\n'), "{name}: {v}");
    }
    let (found, _, all) = scan_with(&fixture("wrapped-negative.b64"), &[]);
    assert_eq!(summary(&found), vec![], "{all}");
}

/// `--action redact` on wrapped base64: the payload is decoded whole,
/// redacted and encoded again in lines of the same width (the file's
/// shape is kept: the same line lengths, the last one with its padding),
/// and a rescan finds nothing.
#[test]
fn b64_redact_keeps_wrapped_payloads_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["wrapped-76.b64", "wrapped-64.b64"] {
        let p = dir.path().join(name);
        std::fs::copy(fixture(name), &p).unwrap();
        let before = std::fs::read_to_string(&p).unwrap();
        let (_, _, all) = scan_with(&p, &["--action", "redact"]);
        assert!(all.contains("\"redacted\""), "{all}");
        let after = std::fs::read_to_string(&p).unwrap();
        let widths = |t: &str| t.lines().map(str::len).collect::<Vec<_>>();
        assert_eq!(widths(&after), widths(&before), "{name}: line widths");
        let joined: String = after.lines().collect();
        let text = String::from_utf8(decode(joined.trim_end_matches('=').as_bytes())).unwrap();
        assert!(
            text.contains("**** **** **** 6467"),
            "{name}: Visa not masked"
        );
        assert!(
            text.contains("Second card: ************5559"),
            "{name}: Mastercard not masked"
        );
        assert!(!text.contains("0532 0130"), "{name}: IBAN not masked");
        let (found, _, _) = scan_with(&p, &[]);
        assert_eq!(summary(&found), vec![], "{name} after redaction");
    }
}

/// The AVX2 code (`LEAKHOUND_SIMD=avx2`: the engine's classes and the
/// base64 run finder) and the AVX-512 code, where the CPU has it, report
/// the same findings at the same places on every base64 fixture; on a CPU
/// without AVX-512 both runs take the AVX2 code.
#[test]
fn b64_avx2_and_avx512_code_find_the_same() {
    let dir = fixture("");
    let run = |simd: Option<&str>| {
        let state = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(BIN);
        cmd.env("LEAKHOUND_FINGERPRINT_KEY", "base64-test-key")
            .env("LEAKHOUND_STATE_DIR", state.path())
            .env_remove("LEAKHOUND_LOG")
            .env_remove("LEAKHOUND_SIMD")
            .timeout(Duration::from_secs(120))
            .args(["scan", "--format", "jsonl", "-j1"])
            .arg(&dir);
        if let Some(v) = simd {
            cmd.env("LEAKHOUND_SIMD", v);
        }
        let out = cmd.output().unwrap();
        let mut found: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["type"] == "finding")
            .map(|v| {
                format!(
                    "{} {} {} {} {}",
                    v["path"], v["member"], v["kind"], v["offset"], v["length"]
                )
            })
            .collect();
        found.sort();
        found
    };
    let wide = run(None);
    assert!(wide.len() >= 10, "{wide:?}");
    assert_eq!(run(Some("avx2")), wide);
}
