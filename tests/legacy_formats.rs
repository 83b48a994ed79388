//! Legacy Office (OLE2 compound files: `.doc`, `.xls`, `.ppt`), Outlook
//! `.msg` and RTF through the binary, on fixtures made by real tools
//! (`tests/fixtures/legacy/`: LibreOffice converted the flat ODF sources
//! there; `make_msg.py` wrote the message with aspose-email-foss and
//! checked it with extract-msg), and hostile variants of them made here
//! (a FAT whose every chain loops, a truncated file, a declared size of
//! 4 GiB) that must end `partial` or `error` with a reason, in bounded
//! memory and time.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use tempfile::TempDir;

use common::daemon::{Daemon, findings_of};
use common::scan::{BIN, Run, Scan, Suite, pairs};

const KEY: &str = "legacy-test-fingerprint-key";
const TIMEOUT: Duration = Duration::from_secs(120);

/// Raw numbers planted in the fixtures: never in any output.
const NEVER: &[&str] = &[
    "4111111111111111",
    "4111 1111",
    "5555555555554444",
    "5555 5555",
    "44051401359",
    "DE89370400440532013000",
    "DE89 3704",
    "Quarterly invoice",
];

const SUITE: Suite = Suite {
    key: KEY,
    fixtures: "tests/fixtures/legacy",
    timeout: TIMEOUT,
    never: NEVER,
};

fn fixtures() -> PathBuf {
    SUITE.fixtures()
}

/// `leakhound scan --format jsonl -v ARGS` in `cwd`; `measure` runs it
/// under `/usr/bin/time -v`.
fn scan(cwd: &Path, measure: bool, args: &[&str]) -> Run {
    Scan::in_dir(&SUITE, cwd.to_path_buf()).run_with(measure, args, None)
}

fn assert_scanned(run: &Run, path: &str, encoding: &str) {
    let top = run.top(path);
    assert_eq!(top["status"], "scanned", "{top}");
    assert_eq!(top["encoding"], encoding, "{top}");
    assert_eq!(run.member_records(path), vec![], "{}", run.stdout);
}

#[test]
fn word_97_document_made_by_libreoffice() {
    // The card is split by bold formatting, the Mastercard is in a
    // footnote, the PESEL in the page header; the order number and the date
    // are not found.
    let run = scan(&fixtures(), false, &["footnote.doc"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("WordDocument"), "card_visa"),
            (Some("WordDocument"), "card_mastercard"),
            (Some("WordDocument"), "pl_pesel"),
        ])
    );
    assert_scanned(&run, "footnote.doc", "ole2");
}

#[test]
fn a_workbook_embedded_in_a_word_document_is_opened() {
    let run = scan(&fixtures(), false, &["embed.doc"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let member = run.members()[0].0.clone().unwrap();
    assert!(
        member.starts_with("ObjectPool/_") && member.ends_with("/Workbook"),
        "{member}"
    );
    assert_eq!(
        run.members(),
        pairs(&[(Some(&member), "card_visa"), (Some(&member), "pl_pesel"),])
    );
    assert_scanned(&run, "embed.doc", "ole2");
}

#[test]
fn comments_in_excel_cells_and_word_documents_are_read() {
    // The only number of each file is in a comment.
    for (file, member, kind) in [
        ("comments.xls", "Workbook", "card_mastercard"),
        ("comments.doc", "WordDocument", "card_visa"),
    ] {
        let run = scan(&fixtures(), false, &[file]);
        assert_eq!(run.code, Some(1), "{file}: {}", run.stderr);
        assert_eq!(run.members(), pairs(&[(Some(member), kind)]), "{file}");
        assert_scanned(&run, file, "ole2");
    }
}

#[test]
fn excel_97_numbers_in_numeric_cells_made_by_libreoffice() {
    // Both cards are numbers in numeric cells: IEEE doubles in the file.
    let run = scan(&fixtures(), false, &["numbers.xls"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("Workbook"), "card_visa"),
            (Some("Workbook"), "iban"),
            (Some("Workbook"), "card_mastercard"),
        ])
    );
    assert_scanned(&run, "numbers.xls", "ole2");
}

#[test]
fn powerpoint_97_and_rtf_made_by_libreoffice() {
    let run = scan(&fixtures(), false, &["slides.ppt.gz"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("PowerPoint Document"), "card_visa"),
            (Some("PowerPoint Document"), "pl_pesel"),
        ])
    );
    assert_scanned(&run, "slides.ppt.gz", "gzip");

    // RTF: the header's PESEL, the card split by `\b`, the footnote's
    // card (a `{\*\footnote}` destination, which a person sees).
    let run = scan(&fixtures(), false, &["footnote.rtf"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.members(),
        pairs(&[
            (None, "pl_pesel"),
            (None, "card_visa"),
            (None, "card_mastercard"),
        ])
    );
    assert_scanned(&run, "footnote.rtf", "rtf");
}

#[test]
fn outlook_msg_bodies_attachments_and_attached_message() {
    let run = scan(&fixtures(), false, &["message.msg"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some("body"), "card_visa"),
            (Some("body rtf"), "card_mastercard"),
            (Some("attachment 1 notes.txt"), "iban"),
            (Some("attachment 2 numbers.xls!Workbook"), "card_visa"),
            (Some("attachment 2 numbers.xls!Workbook"), "iban"),
            (Some("attachment 2 numbers.xls!Workbook"), "card_mastercard"),
            (Some("attachment 3 forwarded.msg!body"), "pl_pesel"),
        ])
    );
    assert_scanned(&run, "message.msg", "ole2");
}

/// Offsets in a compound file's header ([MS-CFB] 2.2).
fn sector_size(data: &[u8]) -> usize {
    1 << u16::from_le_bytes([data[0x1E], data[0x1F]])
}

/// Every FAT entry pointing at its own sector: every chain loops.
fn cyclic_fat(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let ss = sector_size(data);
    for i in 0..109 {
        let at = 0x4C + 4 * i;
        let fat_sector = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
        if fat_sector >= 0xFFFF_FFFA {
            continue;
        }
        let base = (fat_sector as usize + 1) * ss;
        for j in 0..ss / 4 {
            let id = (i * (ss / 4) + j) as u32;
            if base + 4 * j + 4 <= out.len() {
                out[base + 4 * j..base + 4 * j + 4].copy_from_slice(&id.to_le_bytes());
            }
        }
    }
    out
}

/// Every stream's declared size set to 4 GiB - 1 (the directory's
/// sectors found through the FAT, as a reader does).
fn huge_sizes(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let ss = sector_size(data);
    let u32_at = |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
    let fat: Vec<u32> = (0..109)
        .map(|i| u32_at(0x4C + 4 * i))
        .filter(|&s| s < 0xFFFF_FFFA)
        .flat_map(|s| (0..ss / 4).map(move |j| (s as usize + 1) * ss + 4 * j))
        .map(u32_at)
        .collect();
    let mut sector = u32_at(0x30);
    let mut steps = 0;
    while sector < 0xFFFF_FFFA && steps < 1000 {
        let base = (sector as usize + 1) * ss;
        for e in 0..ss / 128 {
            if out[base + 128 * e + 66] == 2 {
                let at = base + 128 * e + 120;
                out[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
            }
        }
        sector = fat[sector as usize];
        steps += 1;
    }
    out
}

#[test]
fn d1_hostile_compound_files_end_partial_or_error_with_a_reason_bounded() {
    let dir = TempDir::new().unwrap();
    let mut cases = Vec::new();
    for src in ["footnote.doc", "numbers.xls", "message.msg"] {
        let data = std::fs::read(fixtures().join(src)).unwrap();
        let variants = [
            ("cyclic", cyclic_fat(&data)),
            ("truncated", data[..data.len() / 2].to_vec()),
            ("header-only", data[..600].to_vec()),
            ("huge", huge_sizes(&data)),
        ];
        for (what, bytes) in variants {
            let name = format!("{what}-{src}");
            std::fs::write(dir.path().join(&name), bytes).unwrap();
            cases.push(name);
        }
    }
    for name in &cases {
        let run = scan(dir.path(), true, &[name]);
        run.expect_bounded(name);
        let top = run.top(name);
        let status = top["status"].as_str().unwrap();
        let records = run.member_records(name);
        let reasons: Vec<String> =
            std::iter::once(top["reason"].as_str().unwrap_or("").to_string())
                .chain(records.iter().map(|r| r.2.clone()))
                .collect();
        assert!(
            status == "partial" || status == "error",
            "{name}: never clean: {}",
            run.stdout
        );
        assert!(
            reasons.iter().any(|r| r.contains("compound")
                || r.contains("piece table")
                || r.contains("truncated")),
            "{name}: a reason that says what happened: {reasons:?}"
        );
        if name.starts_with("cyclic") {
            assert!(
                reasons.iter().any(|r| r.contains("loops back")),
                "{name}: {reasons:?}"
            );
        }
    }
}

/// A message and a workbook moved into a watched directory: the daemon
/// opens both and names the members.
#[test]
fn daemon_opens_msg_and_xls_dropped_into_a_root() {
    let daemon = Daemon::start(&SUITE);
    // Written elsewhere and moved in, as a mail client's export would be.
    let want = [
        daemon.move_in(&fixtures().join("message.msg"), "export.msg"),
        daemon.move_in(&fixtures().join("numbers.xls"), "old.xls"),
    ];
    let found = daemon.wait_scanned(&[&want[0], &want[1]], "not scanned");
    let msg = findings_of(&found, &want[0]);
    assert!(
        msg.contains(&("body".into(), "card_visa".into()))
            && msg.contains(&("attachment 3 forwarded.msg!body".into(), "pl_pesel".into())),
        "{msg:?}"
    );
    assert_eq!(
        findings_of(&found, &want[1]),
        [
            ("Workbook".to_string(), "card_visa".to_string()),
            ("Workbook".into(), "iban".into()),
            ("Workbook".into(), "card_mastercard".into()),
        ]
    );
}

/// A PST/OST mail store that cannot be opened (here: a header and
/// nothing else) must never be reported clean, and its raw bytes are
/// still scanned. Stores that open: tests/pst.rs.
#[test]
fn d2_pst_mail_store_is_partial_never_clean() {
    let dir = TempDir::new().unwrap();
    let mut data = b"!BDN\x00\x00\x00\x00SM\x17\x00".to_vec();
    data.resize(512, 0);
    data.extend_from_slice(b"raw note 4111 1111 1111 1111\n");
    std::fs::write(dir.path().join("mailbox.pst"), &data).unwrap();
    let run = scan(dir.path(), false, &["mailbox.pst"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.members(), pairs(&[(None, "card_visa")]));
    let top = run.top("mailbox.pst");
    assert_eq!(top["status"], "partial", "{top}");
    assert!(
        top["reason"]
            .as_str()
            .unwrap()
            .contains("PST could not be parsed"),
        "{top}"
    );
}

/// RTF was redacted in place as text before it had a reader of its own;
/// it still is, and a number only the reader sees (split by formatting)
/// refuses the rewrite (the fallback applies) instead of being left
/// behind.
#[test]
fn d5_rtf_is_still_redacted_in_place_and_a_split_number_refuses() {
    let dir = TempDir::new().unwrap();
    let store = TempDir::new().unwrap();
    let state = TempDir::new().unwrap();
    let plain = dir.path().join("plain.rtf");
    let split = dir.path().join("split.rtf");
    std::fs::write(&plain, r"{\rtf1\ansi card 4111 1111 1111 1111\par}").unwrap();
    let split_text = r"{\rtf1\ansi card 4111 1111 {\b 1111} 1111\par}";
    std::fs::write(&split, split_text).unwrap();
    let out = Command::new(BIN)
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", state.path())
        .env_remove("LEAKHOUND_CONFIG")
        .timeout(TIMEOUT)
        .arg("scan")
        .arg(dir.path())
        .args([
            "--format",
            "jsonl",
            "--progress",
            "never",
            "--action",
            "redact",
        ])
        .arg("--quarantine-dir")
        .arg(store.path().join("q"))
        .output()
        .unwrap();
    let run = Run::parse(&SUITE, out, Duration::ZERO);
    let action = |name: &str| {
        run.of_type("action")
            .into_iter()
            .find(|a| a["path"].as_str().unwrap().ends_with(name))
            .cloned()
            .unwrap_or_else(|| panic!("no action for {name}: {}", run.stdout))
    };
    assert_eq!(action("plain.rtf")["action"], "redacted");
    assert_eq!(
        std::fs::read_to_string(&plain).unwrap(),
        r"{\rtf1\ansi card **** **** **** 1111\par}"
    );
    // Refused, so the fallback (quarantine) applies: never a half-redacted
    // file left in place.
    let refused = action("split.rtf");
    assert_ne!(refused["action"], "redacted", "{refused}");
    match std::fs::read_to_string(&split) {
        Ok(text) => assert_eq!(text, split_text, "{refused}"),
        Err(_) => assert_eq!(refused["action"], "quarantined", "{refused}"),
    }
}
