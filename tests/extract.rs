//! End-to-end tests of container extraction through the binary: real
//! archives, office documents, mail, images and PDFs made by real tools
//! (see `tests/fixtures/containers/make.sh`), and hostile inputs (bombs,
//! lies, corruption, nesting, PDFs that crash or hang their parser) that
//! must end normally, in bounded memory and time, with a report of what
//! was not scanned. (Peak memory, from `/usr/bin/time`, is the largest of
//! the scanner and its PDF helper processes.)
//!
//! Every run gets a fixed fingerprint key and a private state directory,
//! runs in the fixtures directory (so paths are short and relative), and is
//! checked for raw numbers and personal mail data in stdout and stderr.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

use common::scan::{BIN, Run, Scan, Suite, pairs, some};

const KEY: &str = "extract-test-fingerprint-key";
const TIMEOUT: Duration = Duration::from_secs(120);

/// What must never appear in any output: every planted number in its raw
/// forms, and the addresses, names and subjects of the fixture mails.
const NEVER: &[&str] = &[
    "4526018159083012",
    "4526 0181",
    "0181 59",
    "4111111111111111",
    "5478778932879219",
    "536-22-8726",
    "85120312343",
    "1971204123457",
    "DE89370400440532013000",
    "DE89 3704",
    "11010519491231002X",
    "jan.kowalski",
    "anna.nowak",
    "Kowalski",
    "Nowak",
    "example.pl",
    "example.org",
    "Zamówienie",
    "poufne",
    "Secret forwarded",
    "Private matter",
    "Personal 1",
    "Note 3",
];

const SUITE: Suite = Suite {
    key: KEY,
    fixtures: "tests/fixtures/containers",
    timeout: TIMEOUT,
    never: NEVER,
};

fn fixtures() -> PathBuf {
    SUITE.fixtures()
}

/// A fully scanned container: status scanned, no reason, its findings and
/// format, no member records.
fn assert_scanned(run: &Run, path: &str, findings: u64, encoding: &str) {
    let top = run.top(path);
    assert_eq!(top["status"], "scanned", "{top}");
    assert!(top["reason"].is_null(), "{top}");
    assert_eq!(top["findings"], findings, "{top}");
    assert_eq!(top["encoding"], encoding, "{top}");
    assert_eq!(run.member_records(path), vec![], "{}", run.stdout);
}

// ---------------------------------------------------------------------------
// Real inputs.
// ---------------------------------------------------------------------------

#[test]
fn compressed_text_is_found_with_no_member() {
    let sc = Scan::new(&SUITE);
    for (file, format) in [
        ("card.txt.gz", "gzip"),
        ("card.txt.bz2", "bzip2"),
        ("card.txt.xz", "xz"),
        ("card.txt.zst", "zstd"),
    ] {
        let run = sc.run(&[file]);
        run.expect_code(1);
        assert_eq!(run.members(), pairs(&[(None, "card_visa")]), "{file}");
        assert_eq!(run.of_type("finding")[0]["line"], 2, "{file}");
        assert_scanned(&run, file, 1, format);
    }
    // Two gzip members one after the other: both are read.
    let run = sc.run(&["multi.gz"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[(None, "card_visa"), (None, "us_ssn")])
    );
    assert_scanned(&run, "multi.gz", 2, "gzip");
}

#[test]
fn tar_gz_members() {
    let run = Scan::new(&SUITE).run(&["several.tar.gz"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("a.txt"), "card_visa"),
            (Some("docs/b.csv"), "us_ssn"),
            (Some("docs/d.txt"), "pl_pesel"),
        ])
    );
    assert_scanned(&run, "several.tar.gz", 3, "gzip");
}

#[test]
fn zip_members_with_every_method() {
    let sc = Scan::new(&SUITE);
    // The zip CLI: stored, deflated, bzip2.
    let run = sc.run(&["methods.zip"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("stored.txt"), "card_visa"),
            (Some("deflated.txt"), "us_ssn"),
            (Some("bzip2.txt"), "iban"),
        ])
    );
    assert_scanned(&run, "methods.zip", 3, "zip");
    // Python: bzip2 and lzma members.
    let run = sc.run(&["pymethods.zip"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[(Some("bz.txt"), "ro_cnp"), (Some("lz.txt"), "cn_ric")])
    );
    assert_scanned(&run, "pymethods.zip", 2, "zip");
    // Zip64 extra fields.
    let run = sc.run(&["zip64.zip"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[(Some("big.txt"), "card_mastercard")])
    );
    assert_scanned(&run, "zip64.zip", 1, "zip");
}

#[test]
fn nested_containers_name_the_whole_path() {
    let sc = Scan::new(&SUITE);
    let run = sc.run(&["nested.zip"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[(Some("outer.tar.gz!inner.zip!deep.txt"), "iban")])
    );
    assert_scanned(&run, "nested.zip", 1, "zip");

    let run = sc.run(&["nested3.zip"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[(Some("level2.zip!level3.zip!leaf.txt"), "card_visa")])
    );
    assert_scanned(&run, "nested3.zip", 1, "zip");
}

#[test]
fn max_depth_leaves_deeper_containers_closed_and_says_so() {
    let sc = Scan::new(&SUITE);
    let run = sc.run(&["nested3.zip", "--max-depth", "2"]);
    run.expect_code(0);
    assert!(run.findings().is_empty(), "{}", run.stdout);
    let records = run.member_records("nested3.zip");
    assert_eq!(records.len(), 1, "{records:?}");
    let (member, status, reason) = &records[0];
    assert_eq!(member, "level2.zip!level3.zip");
    assert_eq!(status, "partial");
    assert!(
        reason.contains("--max-depth") && reason.contains("max_depth"),
        "{reason}"
    );
    let top = run.top("nested3.zip");
    assert_eq!(top["status"], "partial");
    assert!(
        top["reason"]
            .as_str()
            .unwrap()
            .starts_with("level2.zip!level3.zip: zip nested"),
        "{top}"
    );
    // Nothing found, but not everything read: exit 3 when asked.
    sc.run(&["nested3.zip", "--max-depth", "2", "--fail-on-incomplete"])
        .expect_code(3);
}

#[test]
fn office_documents() {
    let sc = Scan::new(&SUITE);
    // The card is split over three Word runs; the field code's digits are
    // not visible text and are not found.
    let run = sc.run(&["split.docx"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[(Some("word/document.xml"), "card_visa")])
    );
    assert_scanned(&run, "split.docx", 1, "zip");

    let run = sc.run(&["sheet.xlsx"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("xl/sharedStrings.xml"), "us_ssn"),
            (Some("xl/worksheets/sheet1.xml"), "pl_pesel"),
        ])
    );
    assert_scanned(&run, "sheet.xlsx", 2, "zip");

    let run = sc.run(&["doc.odt"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("content.xml"), "ro_cnp"),
            (Some("content.xml"), "iban")
        ])
    );
    assert_scanned(&run, "doc.odt", 2, "zip");
}

#[test]
fn png_text_chunks() {
    let run = Scan::new(&SUITE).run(&["comment.png"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("png tEXt 2"), "card_visa"),
            (Some("png zTXt 4"), "us_ssn"),
            (Some("png iTXt 5"), "pl_pesel"),
        ])
    );
    assert_scanned(&run, "comment.png", 3, "png");
}

#[test]
fn eml_parts_attachments_and_forwarded_messages() {
    let run = Scan::new(&SUITE).run(&["rich.eml"]);
    run.expect_code(1);
    let m = "<fixture-rich@mail.example.net>";
    assert_eq!(
        run.members(),
        vec![
            // RFC 2047 (base64) subject.
            (some(&format!("{m}!header Subject")), "ro_cnp".to_string()),
            // Quoted-printable UTF-8 body.
            (some(&format!("{m}!part 1 text/plain")), "card_visa".into()),
            // Quoted-printable windows-1250 body.
            (some(&format!("{m}!part 2 text/plain")), "pl_pesel".into()),
            // Base64 CSV attachment.
            (some(&format!("{m}!attachment people.csv")), "us_ssn".into()),
            // A zip attached, a CSV inside.
            (
                some(&format!("{m}!attachment bank.zip!iban.csv")),
                "iban".into()
            ),
            // A forwarded message/rfc822.
            (
                some(&format!("{m}!part 5 message/rfc822!part 0 text/plain")),
                "cn_ric".into()
            ),
        ]
    );
    assert_scanned(&run, "rich.eml", 6, "mail");
    // The windows-1250 text was decoded: the PESEL sits after "PESEL: ".
    let pesel = &run.of_type("finding")[2];
    assert_eq!((&pesel["line"], &pesel["column"]), (&1.into(), &27.into()));
}

#[test]
fn mbox_messages_and_escaped_from_lines() {
    let run = Scan::new(&SUITE).run(&["three.mbox"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[
            (
                Some("msg 1 <fixture-mbox1@mail.example.net>!part 0 text/plain"),
                "card_visa"
            ),
            (
                Some("msg 2 <fixture-mbox2@mail.example.net>!part 0 text/plain"),
                "us_ssn"
            ),
            (
                Some("msg 3 <fixture-mbox3@mail.example.net>!part 0 text/plain"),
                "iban"
            ),
        ])
    );
    assert_scanned(&run, "three.mbox", 3, "mbox");
    // `>From the desk of HR: ssn ...` did not start a message, and its `>`
    // was taken away: the SSN is at column 26 of line 2.
    let ssn = &run.of_type("finding")[1];
    assert_eq!((&ssn["line"], &ssn["column"]), (&2.into(), &26.into()));
}

#[test]
fn maildir_cur_and_new() {
    let run = Scan::new(&SUITE).run(&["maildir"]);
    run.expect_code(1);
    let mut found = run.findings();
    found.sort();
    assert_eq!(
        found,
        vec![
            (
                "maildir/cur/1704164645.M2P1.fixture:2,S".to_string(),
                some("<fixture-md2@mail.example.net>!part 0 text/plain"),
                "card_visa".to_string()
            ),
            (
                "maildir/new/1704164645.M1P1.fixture".to_string(),
                some("<fixture-md1@mail.example.net>!part 0 text/plain"),
                "pl_pesel".to_string()
            ),
        ]
    );
    assert_scanned(&run, "maildir/cur/1704164645.M2P1.fixture:2,S", 1, "mail");
    assert_scanned(&run, "maildir/new/1704164645.M1P1.fixture", 1, "mail");
}

#[test]
fn stdin_containers_are_opened() {
    let sc = Scan::new(&SUITE);
    let input = std::fs::read(fixtures().join("several.tar.gz")).unwrap();
    let run = sc.run_with(false, &["-"], Some(input));
    run.expect_code(1);
    assert_eq!(
        run.findings(),
        vec![
            ("<stdin>".into(), some("a.txt"), "card_visa".into()),
            ("<stdin>".into(), some("docs/b.csv"), "us_ssn".into()),
            ("<stdin>".into(), some("docs/d.txt"), "pl_pesel".into()),
        ]
    );
    assert_eq!(run.top("<stdin>")["status"], "scanned");
    // A zip from a pipe is held in memory and read the same way.
    let input = std::fs::read(fixtures().join("nested.zip")).unwrap();
    let run = sc.run_with(false, &["-"], Some(input));
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[(Some("outer.tar.gz!inner.zip!deep.txt"), "iban")])
    );
}

// ---------------------------------------------------------------------------
// Hostile inputs.
// ---------------------------------------------------------------------------

/// The reason in a record, checked to say that a limit stopped the scan.
fn reason(v: &Value) -> &str {
    v["reason"].as_str().unwrap_or("")
}

#[test]
fn nested_zip_bomb_stops_at_the_whole_file_ratio() {
    // 5.7 KB: 8 zips of 8 zips of 8 zips, each holding 64 MiB of zeros
    // (32 GiB in all). Every layer alone stays near deflate's 1030:1.
    let sc = Scan::new(&SUITE);
    for (what, run) in [
        ("bomb42.zip", sc.measured(&["bomb42.zip"])),
        (
            "bomb42.zip on stdin",
            sc.run_with(
                true,
                &["-"],
                Some(std::fs::read(fixtures().join("bomb42.zip")).unwrap()),
            ),
        ),
    ] {
        run.expect_code(0).expect_bounded(what);
        assert!(run.findings().is_empty());
        let path = if what.ends_with("stdin") {
            "<stdin>"
        } else {
            "bomb42.zip"
        };
        let records = run.member_records(path);
        assert_eq!(records.len(), 1, "{what}: {records:?}");
        assert_eq!(records[0].0, "l2-0.zip!l1-0.zip!l0-0.zip!zeros.bin");
        assert_eq!(records[0].1, "partial");
        assert!(records[0].2.contains("1000:1 in all"), "{records:?}");
        let top = run.top(path);
        assert_eq!(top["status"], "partial");
        assert!(reason(top).contains("--max-ratio"), "{top}");
        assert!(run.elapsed < Duration::from_secs(60), "{what}");
    }
}

#[test]
fn overlapping_zip_members_are_not_opened() {
    // One local file, 32 central directory entries pointing at it.
    let run = Scan::new(&SUITE).measured(&["overlap.zip"]);
    run.expect_code(1).expect_bounded("overlap.zip");
    assert_eq!(run.members(), pairs(&[(Some("copy00.txt"), "card_visa")]));
    let top = run.top("overlap.zip");
    assert_eq!(top["status"], "partial");
    assert!(reason(top).contains("31 members overlap"), "{top}");
}

#[test]
fn ten_gib_gzip_of_zeros_stops_at_the_ratio_limit() {
    // 640 copies of one gzip member of 16 MiB of zeros: a valid 10 GiB
    // multi-member gzip in 10 MB.
    let member = std::fs::read(fixtures().join("zeros16m.gz")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        use std::io::Write;
        let f = std::fs::File::create(dir.path().join("zeros.gz")).unwrap();
        let mut w = std::io::BufWriter::new(f);
        for _ in 0..640 {
            w.write_all(&member).unwrap();
        }
        w.flush().unwrap();
    }
    let run = Scan::in_dir(&SUITE, dir.path().to_path_buf()).measured(&["zeros.gz"]);
    run.expect_code(0).expect_bounded("10 GiB of zeros in gzip");
    assert!(run.findings().is_empty());
    let top = run.top("zeros.gz");
    assert_eq!(top["status"], "partial");
    assert!(
        reason(top).contains("compression ratio above 1000:1"),
        "{top}"
    );
    assert!(run.elapsed < Duration::from_secs(60));
}

#[test]
fn tar_header_that_lies_about_its_size() {
    // The second header claims 1 MiB; the file ends one block later.
    let run = Scan::new(&SUITE).measured(&["liar.tar"]);
    run.expect_code(1).expect_bounded("liar.tar");
    // What came before the lie is kept, and what little follows it.
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("first.txt"), "card_visa"),
            (Some("second.txt"), "us_ssn")
        ])
    );
    let top = run.top("liar.tar");
    assert_eq!(top["status"], "partial");
    assert!(
        reason(top).contains("tar archive is corrupt or truncated"),
        "{top}"
    );
}

/// A message whose body is `depth` multiparts, each inside the last.
fn deep_multipart(depth: usize) -> String {
    let mut s = String::from(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n",
    );
    for i in 1..depth {
        s += &format!(
            "--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n",
            i - 1
        );
    }
    s += &format!(
        "--b{}\r\nContent-Type: text/plain\r\n\r\ncard 4526018159083012\r\n",
        depth - 1
    );
    for i in (0..depth).rev() {
        s += &format!("--b{i}--\r\n");
    }
    s
}

/// A message forwarding a message forwarding ... `depth` times.
fn deep_rfc822(depth: usize) -> String {
    let header =
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n";
    let mut s = String::new();
    for _ in 0..depth {
        s += header;
        s += "Content-Type: message/rfc822\r\n\r\n";
    }
    s += header;
    s += "Content-Type: text/plain\r\n\r\ncard 4526018159083012\r\n";
    s
}

#[test]
fn mime_nested_a_thousand_deep() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("multipart.eml"), deep_multipart(1000)).unwrap();
    std::fs::write(dir.path().join("rfc822.eml"), deep_rfc822(1000)).unwrap();
    let sc = Scan::in_dir(&SUITE, dir.path().to_path_buf());

    // Multiparts are flattened by the parser: the text at the bottom is
    // found, and nothing is left out.
    let run = sc.measured(&["multipart.eml"]);
    run.expect_code(1).expect_bounded("multipart 1000 deep");
    assert_eq!(
        run.members(),
        pairs(&[(Some("message!part 1000 text/plain"), "card_visa")])
    );
    assert_eq!(run.top("multipart.eml")["status"], "scanned");
    assert!(run.elapsed < Duration::from_secs(30));

    // Forwarded messages stop at max_depth, and say so.
    let run = sc.measured(&["rfc822.eml"]);
    run.expect_code(0)
        .expect_bounded("message/rfc822 1000 deep");
    assert!(run.findings().is_empty());
    let records = run.member_records("rfc822.eml");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].1, "partial");
    assert!(
        records[0]
            .2
            .starts_with("messages nested more than 16 levels deep"),
        "{records:?}"
    );
    assert_eq!(
        records[0].0.matches("message/rfc822").count(),
        15,
        "{records:?}"
    );
    assert_eq!(run.top("rfc822.eml")["status"], "partial");
    assert!(run.elapsed < Duration::from_secs(30));
}

#[test]
fn truncated_mbox_keeps_the_messages_before() {
    let run = Scan::new(&SUITE).measured(&["truncated.mbox"]);
    run.expect_code(1).expect_bounded("truncated.mbox");
    // Message 3's attachment is cut inside its base64: the part is read
    // as its text, base64 lines of 76 columns, which the payload pass
    // decodes as one wrapped payload (base64@0; the cut last line is left
    // out): the IBANs it holds are found, whole.
    let members = run.members();
    let (third, before): (Vec<_>, Vec<_>) = members.into_iter().partition(|(m, _)| {
        m.as_deref()
            .is_some_and(|m| m.starts_with("msg 3 <fixture-trunc3@mail.example.net>!"))
    });
    assert_eq!(
        before,
        pairs(&[
            (
                Some("msg 1 <fixture-trunc1@mail.example.net>!part 0 text/plain"),
                "card_visa"
            ),
            (
                Some("msg 2 <fixture-trunc2@mail.example.net>!part 0 text/plain"),
                "us_ssn"
            ),
        ])
    );
    let prefix = "msg 3 <fixture-trunc3@mail.example.net>!attachment data.bin!base64@";
    assert!(
        third
            .iter()
            .all(|(m, _)| m.as_deref().is_some_and(|m| m.starts_with(prefix))),
        "{third:?}"
    );
    assert!(
        third.iter().filter(|(_, kind)| kind == "iban").count() >= 30,
        "{third:?}"
    );
    let records = run.member_records("truncated.mbox");
    assert_eq!(
        records,
        vec![(
            "msg 3 <fixture-trunc3@mail.example.net>!attachment data.bin".to_string(),
            "partial".to_string(),
            "the part's transfer encoding is broken: it was scanned as far as it could be decoded"
                .to_string()
        )]
    );
    assert_eq!(run.top("truncated.mbox")["status"], "partial");
}

#[test]
fn corrupt_and_truncated_archives_are_errors() {
    let sc = Scan::new(&SUITE);
    let run = sc.measured(&["corrupt.gz"]);
    run.expect_code(0).expect_bounded("corrupt.gz");
    let top = run.top("corrupt.gz");
    assert_eq!(top["status"], "error");
    assert!(reason(top).starts_with("not a valid gzip stream"), "{top}");
    assert_eq!(run.member_records("corrupt.gz"), vec![]);

    let run = sc.measured(&["truncated.zip"]);
    run.expect_code(0).expect_bounded("truncated.zip");
    let top = run.top("truncated.zip");
    assert_eq!(top["status"], "error");
    assert!(
        reason(top).starts_with("not a readable zip archive"),
        "{top}"
    );
    // Both count as errors, and make --fail-on-incomplete exit 3.
    let run = sc.run(&["corrupt.gz", "truncated.zip", "--fail-on-incomplete"]);
    run.expect_code(3);
    assert_eq!(run.of_type("summary")[0]["files"]["error"], 2);
}

#[test]
fn encrypted_zip_member_is_partial() {
    let run = Scan::new(&SUITE).measured(&["encrypted.zip"]);
    run.expect_code(1).expect_bounded("encrypted.zip");
    assert_eq!(run.members(), pairs(&[(Some("open.txt"), "us_ssn")]));
    assert_eq!(
        run.member_records("encrypted.zip"),
        vec![(
            "secret.txt".to_string(),
            "partial".to_string(),
            "encrypted: this member cannot be read without its password".to_string()
        )]
    );
    let top = run.top("encrypted.zip");
    assert_eq!(top["status"], "partial");
    assert!(reason(top).starts_with("secret.txt: encrypted"), "{top}");
}

// ---------------------------------------------------------------------------
// PDF: text extracted by a confined child process (`leakhound __extract pdf`).
// ---------------------------------------------------------------------------

/// Options that keep the raw-byte fallback's noise out of exit codes: the
/// cross-reference table of a PDF is full of 10-digit offsets, a few of
/// which pass some national ID's checksum (low confidence findings).
const NO_NOISE: &[&str] = &["--min-confidence", "medium"];

fn with(args: &[&str], more: &[&str]) -> Vec<String> {
    args.iter().chain(more).map(|s| s.to_string()).collect()
}

impl Scan {
    fn pdf(&self, measure: bool, args: &[&str]) -> Run {
        let args = with(args, NO_NOISE);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run_with(measure, &args, None)
    }
}

/// The `file` record of a PDF whose text could not be fully read: partial,
/// with a reason that starts with `start`.
fn assert_pdf_partial<'r>(run: &'r Run, path: &str, start: &str) -> &'r Value {
    let top = run.top(path);
    assert_eq!(top["status"], "partial", "{top}");
    assert_eq!(top["encoding"], "pdf", "{top}");
    assert!(reason(top).starts_with(start), "{top}\nexpected: {start}");
    top
}

#[test]
fn pdf_text_is_read_page_by_page() {
    let sc = Scan::new(&SUITE);
    // Ghostscript compresses its content streams: the numbers are not in
    // the file's bytes, so they are found only thanks to extraction.
    for file in ["pages.pdf", "owner-only.pdf"] {
        let bytes = std::fs::read(fixtures().join(file)).unwrap();
        for raw in ["4526", "536-22-8726", "85120312343"] {
            assert!(
                !bytes.windows(raw.len()).any(|w| w == raw.as_bytes()),
                "{file} holds {raw} in the clear"
            );
        }
        let run = sc.run(&[file]);
        run.expect_code(1);
        assert_eq!(
            run.members(),
            pairs(&[
                (Some("page 1"), "card_visa"),
                (Some("page 2"), "us_ssn"),
                (Some("page 2"), "pl_pesel"),
            ]),
            "{file}"
        );
        // Lines and columns are in the page's text.
        let card = &run.of_type("finding")[0];
        assert_eq!(card["masked"], "452601******3012");
        assert!(card["line"].as_u64().is_some(), "{card}");
        assert_scanned(&run, file, 3, "pdf");
    }
}

/// Issue 13 item 6: a number typed into a comment or a form field is not
/// drawn by any page, so the text extractor never sees it. The second
/// extractor of the generic helper (`__extract pdf-notes`) reads them as
/// members `note N`: an annotation's /Contents, a field's /V, and a kid
/// field's value written as UTF-16 (not in the file's bytes as digits).
#[test]
fn pdf_annotations_and_form_field_values_are_read_as_notes() {
    let bytes = std::fs::read(fixtures().join("notes.pdf")).unwrap();
    assert!(
        !bytes.windows(9).any(|w| w == b"4916 3385"),
        "notes.pdf holds the UTF-16 field value as ASCII"
    );
    let sc = Scan::new(&SUITE);
    let run = sc.run(&["notes.pdf"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("page 1"), "card_visa"),
            (Some("page 2"), "us_ssn"),
            (Some("page 2"), "pl_pesel"),
            (Some("note 1"), "card_visa"),
            (Some("note 2"), "card_mastercard"),
            (Some("note 3"), "card_visa"),
        ])
    );
    let masked: Vec<&str> = run
        .of_type("finding")
        .iter()
        .filter_map(|f| f["masked"].as_str())
        .collect();
    assert!(masked.contains(&"491633******2832"), "{masked:?}");
    // Read in full: scanned, and the raw bytes were not scanned as well.
    assert_scanned(&run, "notes.pdf", 6, "pdf");
    // No digit of the file reaches the output unmasked.
    assert!(!run.stdout.contains("4532015112830366"));
    assert!(!run.stdout.contains("4532 0151 1283 0366"));
}

/// Issue 13 item 6: files attached inside a PDF (`/EmbeddedFiles`) are
/// opened as members `file N` by the third extractor of the helper
/// (`__extract pdf-files`), and a container inside is opened in turn.
/// Their streams are compressed: nothing is in the PDF's bytes.
#[test]
fn pdf_embedded_files_are_opened_as_members() {
    let bytes = std::fs::read(fixtures().join("attach.pdf")).unwrap();
    for raw in [&b"4539 1488"[..], b"5312 6789", b"Kowalski"] {
        assert!(!bytes.windows(raw.len()).any(|w| w == raw));
    }
    let sc = Scan::new(&SUITE);
    let run = sc.run(&["attach.pdf"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("page 1"), "card_visa"),
            (Some("page 2"), "us_ssn"),
            (Some("page 2"), "pl_pesel"),
            (Some("file 1!inner/cards.txt"), "card_mastercard"),
            (Some("file 2"), "card_visa"),
        ])
    );
    assert_scanned(&run, "attach.pdf", 5, "pdf");
    assert!(!run.stdout.contains("4539 1488 0343 6467"));
}

#[test]
fn pdf_inside_containers_and_from_stdin() {
    let pdf = std::fs::read(fixtures().join("pages.pdf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A gzip adds no member; a zip adds its member's name.
    {
        use std::io::Write;
        let f = std::fs::File::create(dir.path().join("pages.pdf.gz")).unwrap();
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        gz.write_all(&pdf).unwrap();
        gz.finish().unwrap();
        let f = std::fs::File::create(dir.path().join("docs.zip")).unwrap();
        let mut zip = zip::ZipWriter::new(f);
        zip.start_file(
            "scans/invoice.pdf",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(&pdf).unwrap();
        zip.finish().unwrap();
    }
    let sc = Scan::in_dir(&SUITE, dir.path().to_path_buf());
    let run = sc.run(&["pages.pdf.gz"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("page 1"), "card_visa"),
            (Some("page 2"), "us_ssn"),
            (Some("page 2"), "pl_pesel"),
        ])
    );
    assert_scanned(&run, "pages.pdf.gz", 3, "gzip");

    let run = sc.run(&["docs.zip"]);
    run.expect_code(1);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("scans/invoice.pdf!page 1"), "card_visa"),
            (Some("scans/invoice.pdf!page 2"), "us_ssn"),
            (Some("scans/invoice.pdf!page 2"), "pl_pesel"),
        ])
    );
    assert_scanned(&run, "docs.zip", 3, "zip");

    let run = sc.run_with(false, &["-"], Some(pdf));
    run.expect_code(1);
    assert_eq!(run.findings().len(), 3);
    assert_eq!(run.top("<stdin>")["status"], "scanned");
}

#[test]
fn encrypted_pdf_is_partial_and_never_clean() {
    let sc = Scan::new(&SUITE);
    let run = sc.pdf(true, &["encrypted.pdf"]);
    run.expect_code(0).expect_bounded("encrypted.pdf");
    assert!(run.findings().is_empty(), "{}", run.stdout);
    assert_pdf_partial(&run, "encrypted.pdf", "encrypted: ");
    assert_eq!(run.member_records("encrypted.pdf"), vec![]);
    // Not fully scanned: exit 3 when asked.
    sc.pdf(false, &["encrypted.pdf", "--fail-on-incomplete"])
        .expect_code(3);
}

#[test]
fn damaged_and_image_only_pdfs_fall_back_to_the_raw_bytes() {
    let sc = Scan::new(&SUITE);
    let run = sc.pdf(true, &["truncated.pdf"]);
    run.expect_code(0).expect_bounded("truncated.pdf");
    assert_pdf_partial(
        &run,
        "truncated.pdf",
        "PDF could not be parsed (a damaged cross-reference table",
    );
    assert!(reason(run.top("truncated.pdf")).contains("pdftotext"));

    // A scanned page, OCR off: nothing to read, and nothing claimed clean
    // (with OCR, tests/media_formats.rs).
    let run = sc.pdf(true, &["--ocr", "off", "scan.pdf"]);
    run.expect_code(0).expect_bounded("scan.pdf");
    assert_pdf_partial(&run, "scan.pdf", "no text layer (an image-only PDF");
    assert!(reason(run.top("scan.pdf")).contains("OCR"));
}

#[test]
fn pdf_page_that_fails_is_named_and_the_others_are_read() {
    // Page 2 has no MediaBox, which the parser requires; its content
    // stream alone is not compressed.
    let run = Scan::new(&SUITE).pdf(true, &["badpage.pdf"]);
    run.expect_code(1).expect_bounded("badpage.pdf");
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("page 1"), "card_visa"),
            (Some("page 3"), "pl_pesel"),
            // The raw bytes, scanned because a page was not read.
            (None, "us_ssn"),
        ])
    );
    assert_eq!(
        run.member_records("badpage.pdf"),
        vec![(
            "page 2".to_string(),
            "partial".to_string(),
            "the text of this page could not be extracted (the parser failed): \
             the raw bytes of the PDF were scanned instead"
                .to_string()
        )]
    );
    assert_pdf_partial(&run, "badpage.pdf", "page 2: the text of this page");
}

#[test]
fn pdf_decompression_bomb_hits_the_helpers_memory_limit() {
    // A page whose content stream is 1 GiB of spaces deflated twice. The
    // helper's address space is 4 x max_buffer + 128 MiB: 160 MiB here.
    let run = Scan::new(&SUITE).pdf(true, &["bomb.pdf", "--max-buffer", "8M"]);
    run.expect_code(0).expect_bounded("bomb.pdf");
    let top = assert_pdf_partial(
        &run,
        "bomb.pdf",
        "PDF could not be parsed (the parser ran out of its 160 MiB memory limit",
    );
    assert!(
        reason(top).contains("only the raw bytes were scanned"),
        "{top}"
    );
    assert!(run.elapsed < Duration::from_secs(30));
}

#[test]
fn pdf_form_that_draws_itself_overflows_the_helpers_stack_only() {
    let run = Scan::new(&SUITE).pdf(true, &["selfdraw.pdf"]);
    run.expect_code(0).expect_bounded("selfdraw.pdf");
    assert_pdf_partial(
        &run,
        "selfdraw.pdf",
        "PDF could not be parsed (the parser overflowed its stack",
    );
    assert!(run.elapsed < Duration::from_secs(30));
}

#[test]
fn pdf_text_bomb_stops_at_the_ratio_and_expanded_limits() {
    // Forms drawing forms ten times, nine deep: a billion "ha ha ha".
    let sc = Scan::new(&SUITE);
    let run = sc.pdf(true, &["laughs.pdf", "--max-expanded", "1M"]);
    run.expect_code(0)
        .expect_bounded("laughs.pdf, max_expanded");
    let records = run.member_records("laughs.pdf");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].0, "page 1");
    assert!(
        records[0].2.starts_with("expanded more than 1048576 bytes"),
        "{records:?}"
    );
    assert_pdf_partial(&run, "laughs.pdf", "page 1: expanded more than");

    let run = sc.pdf(true, &["laughs.pdf"]);
    run.expect_code(0).expect_bounded("laughs.pdf, max_ratio");
    assert_pdf_partial(
        &run,
        "laughs.pdf",
        "page 1: the PDF's text is more than 1000 times its size, a likely text bomb",
    );
    assert!(run.elapsed < Duration::from_secs(60));
}

/// Process ids of the PDF helpers started by the scanner `parent`.
fn helpers_of(parent: u32) -> Vec<u32> {
    let marker = "__extract\0pdf\0";
    let parent_arg = format!("--parent\0{parent}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains(marker) && c.contains(&parent_arg)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// `leakhound scan` on a fixture, started in the background.
fn spawn_scan(args: &[&str]) -> (std::process::Child, TempDir) {
    let state = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(BIN)
        .args(["scan", "--format", "jsonl", "-v"])
        .args(args)
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", state.path())
        .env_remove("LEAKHOUND_LOG")
        .current_dir(fixtures())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    (child, state)
}

/// Runs the helper by hand, as the scanner does, on a fixture.
fn run_helper(args: &[&str], fixture: &str) -> Output {
    let data = std::fs::read(fixtures().join(fixture)).unwrap();
    let len = data.len().to_string();
    let limits = [
        "--max-input",
        len.as_str(),
        "--max-memory",
        "402653184",
        "--max-cpu",
        "30",
    ];
    Command::new(BIN)
        .args(args)
        .args(limits)
        .write_stdin(data)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

/// The generic helper, `__extract pdf`, speaks the protocol of
/// `extract::helper`: pages ended by a form feed, exit 0 when all were
/// read; `__pdf-text`, its first name, does the same.
#[test]
fn extract_pdf_and_its_old_name_pdf_text_write_pages_ended_by_form_feeds() {
    for args in [&["__extract", "pdf"][..], &["__pdf-text"][..]] {
        let out = run_helper(args, "pages.pdf");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let pages: Vec<&str> = text.split('\x0c').collect();
        assert_eq!(pages.len(), 3, "{args:?}: two pages and nothing after");
        assert!(pages[0].contains("Invoice 2024-17"), "{args:?}: {pages:?}");
        assert!(pages[1].contains("536-22-8726"), "{args:?}: {pages:?}");
        assert_eq!(pages[2], "");
    }
    // A document it cannot open: exit 10, one line, no digit of the file.
    let out = run_helper(&["__extract", "pdf"], "encrypted.pdf");
    assert_eq!(out.status.code(), Some(10), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "encrypted\n");
}

/// An extractor the helper does not have is a usage error that names the
/// known ones; nothing is read.
#[test]
fn extract_with_an_unknown_kind_names_the_known_ones() {
    let out = run_helper(&["__extract", "tiff"], "pages.pdf");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown extractor \"tiff\" (known: pdf, pdf-notes, pdf-files, "),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn pdf_helper_that_spins_is_killed_at_the_time_limit_and_reaped() {
    // A billion empty forms: the parser only spins.
    let (child, _state) =
        spawn_scan(&["spin.pdf", "--max-time", "2s", "--min-confidence", "medium"]);
    let pid = child.id();
    let start = Instant::now();
    let out = child.wait_with_output().unwrap();
    let run = Run::parse(&SUITE, out, start.elapsed());
    run.expect_code(0);
    // The wall-clock deadline and the helper's CPU limit are both 2 s:
    // whichever the spinning parser reaches first stops it (on a busy
    // machine the deadline, on an idle one often the CPU limit).
    let top = run.top("spin.pdf");
    assert_eq!(top["status"], "partial", "{top}");
    let why = reason(top);
    assert!(
        why.starts_with("time limit of 2s reached")
            || why.contains("the parser used up its CPU time, 2s"),
        "{top}"
    );
    assert!(run.elapsed < Duration::from_secs(15), "{:?}", run.elapsed);
    // The helper is gone with the scan.
    assert_eq!(helpers_of(pid), Vec::<u32>::new());
}

#[test]
fn pdf_helper_dies_with_a_scanner_that_is_killed() {
    let (mut child, _state) = spawn_scan(&["spin.pdf", "--max-time", "60s"]);
    let pid = child.id();
    let start = Instant::now();
    let helper = loop {
        if let Some(&h) = helpers_of(pid).first() {
            break h;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no helper started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    // The parent-death signal (SIGKILL) takes it down at once.
    let gone = Instant::now();
    while Path::new(&format!("/proc/{helper}")).exists()
        && !std::fs::read_to_string(format!("/proc/{helper}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
    {
        assert!(
            gone.elapsed() < Duration::from_secs(5),
            "helper {helper} outlived its scanner"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What `/proc` says of a running helper.
#[derive(Debug, PartialEq)]
struct Confinement {
    no_new_privs: bool,
    capabilities: Vec<String>,
    core: String,
    file_size: String,
    address_space: String,
    fds: Vec<String>,
    oom_score_adj: String,
    environ: usize,
    cwd: PathBuf,
}

fn confinement(pid: u32) -> Option<Confinement> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let status = std::fs::read_to_string(proc.join("status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let limits = std::fs::read_to_string(proc.join("limits")).ok()?;
    let limit = |name: &str| {
        limits
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let mut fds: Vec<String> = std::fs::read_dir(proc.join("fd"))
        .ok()?
        .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
        .collect();
    fds.sort();
    Some(Confinement {
        no_new_privs: field("NoNewPrivs:") == "1",
        capabilities: ["CapEff:", "CapPrm:", "CapAmb:"]
            .iter()
            .map(|c| field(c))
            .collect(),
        core: limit("Max core file size"),
        file_size: limit("Max file size"),
        address_space: limit("Max address space"),
        fds,
        oom_score_adj: std::fs::read_to_string(proc.join("oom_score_adj"))
            .ok()?
            .trim()
            .to_string(),
        environ: std::fs::read(proc.join("environ")).ok()?.len(),
        cwd: std::fs::read_link(proc.join("cwd")).ok()?,
    })
}

#[test]
fn pdf_helper_is_confined() {
    let (mut child, _state) = spawn_scan(&["spin.pdf", "--max-time", "60s", "--max-buffer", "8M"]);
    let pid = child.id();
    let expected = Confinement {
        no_new_privs: true,
        capabilities: vec!["0000000000000000".to_string(); 3],
        core: "0 0".to_string(),
        file_size: "0 0".to_string(),
        // 4 x 8 MiB + 128 MiB.
        address_space: format!("{0} {0}", 160u64 << 20),
        fds: vec!["0".to_string(), "1".to_string(), "2".to_string()],
        oom_score_adj: "1000".to_string(),
        environ: 0,
        cwd: PathBuf::from("/"),
    };
    let start = Instant::now();
    let mut last = None;
    // The helper confines itself as it starts: look until it has.
    while start.elapsed() < Duration::from_secs(20) {
        if let Some(&helper) = helpers_of(pid).first() {
            last = confinement(helper);
            if last.as_ref() == Some(&expected) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(last, Some(expected));
}

/// `Seccomp_filters:` in `/proc/PID/status`: how many seccomp filters the
/// process runs under (a container may already have one on everything).
fn seccomp_filters(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp_filters:"))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn every_helper_kind_waits_for_its_input_under_its_system_call_filter() {
    // Each helper installs its filter before it reads a byte: one that is
    // still waiting for its input (standard input held open, empty) runs
    // under one more filter than the test that started it.
    let before = seccomp_filters(std::process::id()).expect("Seccomp_filters (Linux 5.9)");
    for kind in [
        "pdf",
        "pdf-notes",
        "pdf-files",
        "pdf-images",
        "parquet",
        "pst",
        "ocr",
        "pdf-ocr",
    ] {
        let mut child = std::process::Command::new(BIN)
            .args(["__extract", kind, "--max-input", "100"])
            .args(["--max-memory", "1073741824", "--max-cpu", "60"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut filters = seccomp_filters(child.id());
        while filters != Some(before + 1) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            filters = seccomp_filters(child.id());
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            filters,
            Some(before + 1),
            "{kind}: no filter on the waiting helper"
        );
    }
}
