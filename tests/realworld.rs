//! Numbers written the ways real programs write them (issue 12), found end
//! to end through the binary: fixtures under `tests/fixtures/realworld/`
//! were made by programs we did not write (python's `http.server` and
//! `curl`, python's `email` package, `iconv`, `zip`); its README says how.
//! Each fixture's findings are listed in full, so a form that stops being
//! found, or a decoy that starts being reported, fails here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_leakhound");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/realworld")
        .join(name)
}

/// `(member, line, kind)` of every finding of `leakhound scan` on the
/// fixture, sorted; and the whole output, to check that nothing leaked.
fn scan(name: &str) -> (Vec<(String, u64, String)>, String) {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .env("LEAKHOUND_FINGERPRINT_KEY", "realworld-test-key")
        .env("LEAKHOUND_STATE_DIR", state.path())
        .env_remove("LEAKHOUND_LOG")
        .timeout(Duration::from_secs(120))
        .args(["scan", "--format", "jsonl"])
        .arg(fixture(name))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let mut found: Vec<(String, u64, String)> = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "finding")
        .map(|v| {
            (
                v["member"].as_str().unwrap_or("").to_string(),
                v["line"].as_u64().unwrap_or(0),
                v["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    (found, all)
}

fn f(member: &str, line: u64, kind: &str) -> (String, u64, String) {
    (member.to_string(), line, kind.to_string())
}

/// The numbers in the fixtures, as they would leak.
const RAW: [&str; 5] = [
    "4539148803436467",
    "4539 1488 0343 6467",
    "1090 1014 0000 0712",
    "370400440532013000",
    "11010519491231002",
];

fn assert_no_leak(output: &str) {
    for raw in RAW {
        assert!(!output.contains(raw), "raw number in the output");
    }
}

/// The findings of the mail fixture, in the member `member`.
fn mail_findings(member: &str) -> Vec<(String, u64, String)> {
    vec![
        f(member, 2, "card_visa"),
        f(member, 3, "iban"),
        f(member, 4, "card_visa"),
        f(member, 5, "cn_ric"),
    ]
}

/// Items 1, 2, 5: a quoted-printable mail written by python's `email`
/// package with a card grouped by no-break spaces, a lower-case IBAN, a
/// full-width card grouped by ideographic spaces and a full-width
/// resident id ending in a full-width `Ｘ`.
#[test]
fn f1_f2_f5_wide_forms_in_a_quoted_printable_mail() {
    let (found, out) = scan("mail-qp-wide-forms.eml");
    assert_eq!(found, mail_findings("message!part 0 text/plain"));
    assert_no_leak(&out);
}

/// Item 4: an access log written by python's `http.server` for requests
/// sent by `curl`: `card%3D<number>%26`, groups joined by `%20`, and `+`
/// from `--data-urlencode`; the decoys on line 10 (`%3A` + 16 digits glued
/// to letters, and a number failing Luhn) and the timestamps on line 12
/// are not reported.
#[test]
fn f3_percent_encoded_numbers_in_an_access_log() {
    let (found, out) = scan("access-http-server.log");
    assert_eq!(
        found,
        vec![
            f("", 2, "card_visa"),
            f("", 4, "card_visa"),
            f("", 6, "card_visa"),
            f("", 8, "iban"),
        ]
    );
    assert_no_leak(&out);
}

/// Items 1 and 8: UTF-16LE without a BOM made by `iconv`, with an IBAN
/// grouped by no-break spaces and a card grouped by non-breaking hyphens.
#[test]
fn f1_wide_separators_in_utf16_without_bom() {
    let (found, out) = scan("utf16le-nobom-wide-separators.txt");
    assert_eq!(found, vec![f("", 1, "iban"), f("", 2, "card_visa")]);
    assert_no_leak(&out);
}

/// The same forms inside a zip made by `zip`: the mail and the log.
#[test]
fn f_realworld_forms_inside_a_zip() {
    let (found, out) = scan("mail-in-zip.zip");
    let mut want = vec![
        f("access-http-server.log", 2, "card_visa"),
        f("access-http-server.log", 4, "card_visa"),
        f("access-http-server.log", 6, "card_visa"),
        f("access-http-server.log", 8, "iban"),
    ];
    want.extend(mail_findings(
        "mail-qp-wide-forms.eml!message!part 0 text/plain",
    ));
    want.sort();
    assert_eq!(found, want);
    assert_no_leak(&out);
}

/// Item 8: a Subject with encoded words beside a plain number (python's
/// `email` package writes `Zahlung =?utf-8?q?f=C3=BCr?= Karte 4539 ...`)
/// is reported once, as `header Subject`, not also in `headers`.
#[test]
fn f8_number_in_an_encoded_subject_is_reported_once() {
    let (found, out) = scan("mail-encoded-subject.eml");
    assert_eq!(found, vec![f("message!header Subject", 1, "card_visa")]);
    assert_no_leak(&out);
    // B-encoded (base64) words: found in the decoded Subject, once.
    let (found, out) = scan("mail-b-encoded-subject.eml");
    assert_eq!(found, vec![f("message!header Subject", 1, "card_visa")]);
    assert_no_leak(&out);
}

/// Item 8: Persian text in UTF-16 (both byte orders) without a BOM, made
/// by `iconv`: almost no zero bytes, told by its code units; the Iranian
/// code and the card in Persian digits are found.
#[test]
fn f8_persian_utf16_without_bom() {
    for name in ["utf16le-nobom-persian.txt", "utf16be-nobom-persian.txt"] {
        let (found, out) = scan(name);
        assert_eq!(
            found,
            vec![f("", 1, "ir_melli"), f("", 2, "card_visa")],
            "{name}"
        );
        assert_no_leak(&out);
    }
}
