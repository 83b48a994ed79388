//! Outlook PST/OST mail stores through the binary and the daemon, on
//! stores made by Outlook (`tests/fixtures/pst/`, gzipped: java-libpst's
//! test suite; `card-in-body` is one of them with two numbers patched in
//! by `make_card_pst.py`) and one built to [MS-PST] by
//! `make_attachment_pst.py` (`attachment.pst`: attachments and a recipient
//! table), cross-checked with an independent reader
//! (`readpst`, Debian `pst-utils`), and hostile variants made here (a
//! truncated store, a node B-tree whose pages point at themselves, bytes
//! flipped at random) that must end `partial` or `error` with a reason,
//! in bounded memory and time, with the scanner alive.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command as Std;
use std::time::Duration;

use assert_cmd::Command;
use tempfile::TempDir;

use common::daemon::{Daemon, findings_of};
use common::scan::{BIN, Run, Scan, Suite, pairs};

const KEY: &str = "pst-test-fingerprint-key";
const TIMEOUT: Duration = Duration::from_secs(120);

/// Raw numbers planted in the fixtures: never in any output.
const NEVER: &[&str] = &[
    "4556737586891720",
    "5412753166482070",
    // attachment.pst (make_attachment_pst.py): the text attachment, the
    // zip attachment, a recipient's display name.
    "4539160477528115",
    "5424188329170054",
    "4916529963631893",
    // embedded.pst (make_attachment_pst.py --embedded): the attached
    // message's body, its own text attachment.
    "4716538204193672",
    "5221830466172956",
];

const SUITE: Suite = Suite {
    key: KEY,
    fixtures: "tests/fixtures/pst",
    timeout: TIMEOUT,
    never: NEVER,
};

/// Where the calendar item of `dist-list.pst` is: its folder, then the
/// message (first in its folder, node id 0x2000c4).
const CALENDAR_ITEM: &str = "Top of Personal Folders/Calendar!message 1 nid 0x2000c4";

fn fixtures() -> PathBuf {
    SUITE.fixtures()
}

/// A fixture, un-gzipped.
fn store(name: &str) -> Vec<u8> {
    let gz = std::fs::read(fixtures().join(format!("{name}.pst.gz"))).unwrap();
    let mut data = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut data)
        .unwrap();
    data
}

fn scan(cwd: &Path, measure: bool, args: &[&str]) -> Run {
    Scan::in_dir(&SUITE, cwd.to_path_buf()).run_with(measure, args, None)
}

/// The helper run by hand: `(name line, text)` of each part it writes for
/// `data`, and its exit code.
fn helper_parts(data: &[u8]) -> (Vec<(String, String)>, Option<i32>) {
    let out = Command::new(BIN)
        .args(["__extract", "pst", "--max-input"])
        .arg(data.len().to_string())
        .args(["--max-memory", "1073741824", "--max-cpu", "60"])
        .write_stdin(data.to_vec())
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    let parts = out
        .stdout
        .split(|&b| b == 0x0c)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let p = String::from_utf8_lossy(p);
            let (name, text) = p.split_once('\n').unwrap_or((&p, ""));
            (name.to_string(), text.trim().to_string())
        })
        .collect();
    (parts, out.status.code())
}

#[test]
fn pst_card_in_subject_and_body_is_found_with_folder_message_and_node_id() {
    let run = scan(&fixtures(), false, &["card-in-body.pst.gz"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.members(),
        pairs(&[
            (Some(&format!("{CALENDAR_ITEM}!subject")), "card_mastercard"),
            (Some(&format!("{CALENDAR_ITEM}!body")), "card_visa"),
        ])
    );
    // The member never holds a subject: the node id names the message.
    for f in run.of_type("finding") {
        assert!(!f["member"].as_str().unwrap().contains("appointment"));
    }
}

#[test]
fn pst_messages_match_what_readpst_extracts() {
    // The independent reader: every subject and plain body we read is in
    // what readpst writes for the same store, and we read as many items.
    let have_readpst = Std::new("readpst").arg("-V").output().is_ok();
    assert!(
        have_readpst,
        "readpst is missing: install pst-utils (scripts/setup.sh)"
    );
    for name in ["dist-list", "passworded", "card-in-body"] {
        let data = store(name);
        let dir = TempDir::new().unwrap();
        let pst = dir.path().join("store.pst");
        std::fs::write(&pst, &data).unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let status = Std::new("readpst")
            .args(["-D", "-S", "-q", "-o"])
            .arg(&out)
            .arg(&pst)
            .status()
            .unwrap();
        assert!(status.success(), "readpst failed on {name}");
        let mut theirs = String::new();
        for entry in walk(&out) {
            theirs.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
        }
        let (parts, _) = helper_parts(&data);
        let texts: Vec<&(String, String)> = parts
            .iter()
            .filter(|(n, t)| (n.ends_with("\tsubject") || n.ends_with("\tbody")) && !t.is_empty())
            .collect();
        // Free/busy data is an internal message readpst does not export,
        // and it skips distribution lists (`1 items skipped`): the one in
        // these stores is message 2 of Contacts, node 0x200024. Nor does
        // it export a recurring appointment's exceptions (the attached
        // messages of the calendar item: checked against java-libpst's
        // tests in d2_pst_attached_messages_the_reader_refused_are_read).
        let ours: Vec<_> = texts
            .iter()
            .filter(|(n, _)| !n.starts_with("text\tFreebusy Data"))
            .filter(|(n, _)| !n.contains("\tmessage 2 nid 0x200024\t"))
            .filter(|(n, _)| !n.contains("\tattachment "))
            .collect();
        assert!(!ours.is_empty(), "{name}: no text read: {parts:?}");
        for (n, t) in ours {
            // Word by word: readpst writes a contact as a vCard, whose
            // `FN` orders the name's words its own way.
            let first = t.lines().next().unwrap();
            for word in first.split_whitespace() {
                assert!(
                    theirs.contains(word),
                    "{name}: {n}: {word:?} of {first:?} not in readpst's output"
                );
            }
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files.extend(walk(&p));
        } else {
            files.push(p);
        }
    }
    files
}

#[test]
fn pst_password_protected_store_is_read_not_refused() {
    // A PST password is checked by Outlook only: the data is not
    // encrypted by it, so the store is read like any other.
    let (parts, _) = helper_parts(&store("passworded"));
    assert!(
        parts.iter().any(|(n, t)| n
            == "text\tTop of Personal Folders/Contacts\tmessage 1 nid 0x200064\tsubject"
            && t == "contact name 1"),
        "{parts:?}"
    );
}

#[test]
fn d2_pst_attached_messages_the_reader_refused_are_read() {
    // The calendar item in dist-list.pst (made by Outlook) has two
    // attachments that outlook-pst refused ("Missing PidTagAttachMethod":
    // it stops reading an attachment's properties at its PtypObject
    // PidTagAttachDataObject): they are attached messages (the exceptions
    // of a recurring appointment), read from the raw layers; the store
    // was partial, it is now read in full. Their bodies are the
    // descriptions java-libpst's own tests (AppointmentTest) read from
    // this store's two exceptions; readpst does not export them.
    let (parts, code) = helper_parts(&store("dist-list"));
    assert_eq!(code, Some(0), "{parts:?}");
    for (n, text) in [
        (1, "This is the appointment at 9"),
        (2, "This is the one at 10"),
    ] {
        let want = format!(
            "text\tTop of Personal Folders/Calendar\tmessage 1 nid 0x2000c4\tattachment {n} Untitled\tbody"
        );
        assert!(
            parts.iter().any(|(p, t)| *p == want && t == text),
            "{want}: {parts:?}"
        );
    }
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("store.pst"), store("dist-list")).unwrap();
    let run = scan(dir.path(), false, &["store.pst"]);
    let top = run.top("store.pst");
    assert_eq!(top["status"], "scanned", "{top}");
    assert_eq!(top["encoding"], "pst", "{top}");
    assert!(run.member_records("store.pst").is_empty(), "{}", run.stdout);
}

#[test]
fn d1_pst_message_without_sub_node_tree_is_read_not_refused() {
    // A distribution list has no recipient table and no attachments, so
    // no sub-node tree: the reader refused it (`Missing Sub-Node Tree`)
    // and the store was partial; its properties are read from its heap.
    let (parts, code) = helper_parts(&store("passworded"));
    assert!(
        parts.iter().any(|(n, t)| n
            == "text\tTop of Personal Folders/Contacts\tmessage 2 nid 0x200024\tsubject"
            && t == "test dist list"),
        "{parts:?}"
    );
    assert_eq!(code, Some(0));
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("store.pst"), store("passworded")).unwrap();
    let run = scan(dir.path(), false, &["store.pst"]);
    assert_eq!(run.top("store.pst")["status"], "scanned", "{}", run.stdout);
}

#[test]
fn pst_truncated_store_is_partial_or_error_with_a_reason() {
    let data = store("card-in-body");
    let dir = TempDir::new().unwrap();
    for (name, len) in [("head.pst", 600), ("half.pst", data.len() / 2)] {
        std::fs::write(dir.path().join(name), &data[..len]).unwrap();
    }
    let run = scan(dir.path(), true, &["head.pst", "half.pst"]);
    run.expect_bounded("truncated PST");
    for name in ["head.pst", "half.pst"] {
        let top = run.top(name);
        let status = top["status"].as_str().unwrap();
        assert!(matches!(status, "partial" | "error"), "{top}");
        assert!(!top["reason"].as_str().unwrap_or("").is_empty(), "{top}");
    }
}

/// [MS-PST] 5.3: the reflected CRC-32 table, started at 0, no final xor.
fn crc(data: &[u8]) -> u32 {
    let mut v = 0u32;
    for &b in data {
        let mut c = (v ^ u32::from(b)) & 0xff;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
        v = c ^ (v >> 8);
    }
    v
}

#[test]
fn pst_node_btree_that_points_at_itself_stays_bounded() {
    // The root page of the node B-tree (a Unicode store: its BREF at 216 in
    // the header) is an intermediate page; every entry is made to point
    // at the page itself, with a valid CRC, so a reader that follows it
    // descends forever.
    let mut data = store("dist-list");
    let at = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap());
    let (bid, ib) = (at(216), at(224) as usize);
    assert_eq!(
        data[ib + 491],
        1,
        "the NBT root is not an intermediate page"
    );
    let entries = data[ib + 488] as usize;
    for i in 0..entries {
        let e = ib + i * 24;
        data[e + 8..e + 16].copy_from_slice(&bid.to_le_bytes());
        data[e + 16..e + 24].copy_from_slice(&(ib as u64).to_le_bytes());
    }
    let sum = crc(&data[ib..ib + 496]);
    data[ib + 500..ib + 504].copy_from_slice(&sum.to_le_bytes());
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("cyclic.pst"), &data).unwrap();
    let run = scan(dir.path(), true, &["cyclic.pst"]);
    run.expect_bounded("cyclic PST");
    let top = run.top("cyclic.pst");
    assert!(
        matches!(top["status"].as_str(), Some("partial" | "error")),
        "{top}"
    );
    assert!(top["reason"].as_str().unwrap().contains("PST"), "{top}");
}

#[test]
fn pst_bytes_flipped_at_random_never_crash_the_scanner() {
    // A small deterministic generator: the same damage on every run.
    let base = store("card-in-body");
    scan_flipped_copies(&base, 0x2545_f491_4f6c_dd1d, 8, 64, 0, "flipped PSTs");
}

/// Writes `copies` copies of `base`, each with `flips` bytes at or past
/// `from` overwritten by a small deterministic generator (the same damage
/// on every run), scans them, and checks every store ends with a record
/// (no scanner crash ate it) in bounded memory and time.
fn scan_flipped_copies(
    base: &[u8],
    mut seed: u64,
    copies: usize,
    flips: usize,
    from: usize,
    what: &str,
) {
    let dir = TempDir::new().unwrap();
    let mut names = Vec::new();
    for n in 0..copies {
        let mut data = base.to_vec();
        for _ in 0..flips {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = from + (seed as usize) % (data.len() - from);
            data[at] = (seed >> 32) as u8;
        }
        let name = format!("flipped-{n}.pst");
        std::fs::write(dir.path().join(&name), &data).unwrap();
        names.push(name);
    }
    let args: Vec<&str> = names.iter().map(String::as_str).collect();
    let run = scan(dir.path(), true, &args);
    run.expect_bounded(what);
    for name in &names {
        let top = run.top(name);
        assert!(top["status"].is_string(), "{top}");
    }
}

#[test]
fn daemon_opens_a_pst_moved_into_a_root() {
    let daemon = Daemon::start(&SUITE);
    let staged = daemon.dir.join("export.pst");
    std::fs::write(&staged, store("card-in-body")).unwrap();
    let want = daemon.move_in(&staged, "mailbox.pst");
    let found = daemon.wait_scanned(&[&want], "not scanned");
    assert_eq!(
        findings_of(&found, &want),
        [
            (format!("{CALENDAR_ITEM}!subject"), "card_mastercard".into()),
            (format!("{CALENDAR_ITEM}!body"), "card_visa".into()),
        ]
    );
}

/// Issue 13: a store on disk bigger than `limits.max_buffer` was not
/// opened (raw bytes scanned, `partial`), so a real mailbox of gigabytes
/// was never read. It is now read in place through its descriptor, and
/// finds what the buffer path finds, at the same members; a store inside
/// an archive still goes through the buffer and its limit.
#[test]
fn d13_pst_on_disk_larger_than_max_buffer_is_read_in_place() {
    let data = store("card-in-body");
    assert!(
        data.len() > 64 << 10,
        "the fixture must exceed the test's limit"
    );
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("big.pst"), &data).unwrap();
    // The same store as a zip's member: the buffer path.
    let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.path().join("in.zip")).unwrap());
    zip.start_file("big.pst", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, &data).unwrap();
    zip.finish().unwrap();
    // A store padded (sparse) past the default 64 MiB `max_buffer`: the
    // scanner must neither hold it nor give up on it.
    let padded = dir.path().join("padded.pst");
    std::fs::write(&padded, &data).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&padded)
        .unwrap()
        .set_len(66 << 20)
        .unwrap();

    // The buffer path, under the default limit: what must be found.
    let reference = scan(&fixtures(), false, &["card-in-body.pst.gz"]);
    let expected = reference.members();
    assert_eq!(expected.len(), 2, "{}", reference.stdout);

    let run = scan(
        dir.path(),
        false,
        &["--max-buffer", "64K", "big.pst", "in.zip"],
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    // The fixture has a message whose attachment the reader refuses: the
    // same failed part, with the same reason, on both paths; never the
    // limit.
    let top = run.top("big.pst");
    let want = reference.top("card-in-body.pst.gz");
    assert_eq!(top["status"], want["status"], "{top}");
    assert_eq!(top["reason"], want["reason"], "{top}");
    assert!(!top["reason"].as_str().unwrap_or("").contains("larger than"));
    assert_eq!(
        run.member_records("big.pst"),
        reference.member_records("card-in-body.pst.gz")
    );
    let in_place: Vec<_> = run
        .findings()
        .into_iter()
        .filter(|(path, _, _)| path == "big.pst")
        .map(|(_, member, rule)| (member, rule))
        .collect();
    assert_eq!(in_place, expected);
    // Inside an archive: over the limit, partial with the reason as before.
    let zipped = run.top("in.zip");
    assert_eq!(zipped["status"], "partial", "{zipped}");
    let records = run.member_records("in.zip");
    assert!(
        records
            .iter()
            .any(|(_, _, reason)| reason.starts_with("PST larger than 65536 bytes")),
        "{records:?}"
    );

    let run = scan(dir.path(), true, &["padded.pst"]);
    run.expect_bounded("a PST past max_buffer");
    let top = run.top("padded.pst");
    assert_eq!(top["reason"], want["reason"], "{top}");
    let found: Vec<_> = run.members();
    assert_eq!(found, expected, "{}", run.stdout);
}

/// Issue 13, the helper's side: a store given as a file on standard input
/// (read in place, seeking) gives the very parts, in the same order, that
/// the same store written into its pipe gives; and a file longer than the
/// scanner announced is refused, not read.
#[test]
fn d13_helper_reads_a_store_given_as_a_file_like_one_piped_in() {
    let data = store("card-in-body");
    let (piped, piped_code) = helper_parts(&data);
    assert!(piped.len() > 2, "{piped:?}");
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("store.pst");
    std::fs::write(&path, &data).unwrap();
    let run = |announced: usize| {
        Std::new(BIN)
            .args(["__extract", "pst", "--max-input"])
            .arg(announced.to_string())
            .args(["--max-memory", "1073741824", "--max-cpu", "60"])
            .stdin(std::fs::File::open(&path).unwrap())
            .output()
            .unwrap()
    };
    let out = run(data.len());
    let in_place: Vec<(String, String)> = out
        .stdout
        .split(|&b| b == 0x0c)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let p = String::from_utf8_lossy(p);
            let (name, text) = p.split_once('\n').unwrap_or((&p, ""));
            (name.to_string(), text.trim().to_string())
        })
        .collect();
    assert_eq!(out.status.code(), piped_code);
    assert_eq!(in_place, piped);
    let out = run(data.len() - 1);
    assert_eq!(out.status.code(), Some(10));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("larger than it was announced"));
}

/// The stores `make_attachment_pst.py` writes: Unicode, then ANSI.
const ATTACHMENT_STORES: [&str; 2] = ["attachment.pst", "attachment-ansi.pst"];

/// The message of `attachment.pst`.
const ATTACHED: &str = "Top of Personal Folders/Inbox!message 1 nid 0x200024";

/// `s` with every digit hidden, for assertion messages (the fixtures'
/// numbers are never printed).
fn hide_digits(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

fn unhex(hex: &str) -> Vec<u8> {
    let hex = hex.trim().as_bytes();
    hex.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// readpst's files for `data`, and its debug log, in `dir`.
fn readpst(dir: &Path, data: &[u8]) -> (Vec<PathBuf>, String) {
    let pst = dir.join("store.pst");
    std::fs::write(&pst, data).unwrap();
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let log = dir.join("debug.log");
    let status = Std::new("readpst")
        .args(["-D", "-S", "-q", "-d"])
        .arg(&log)
        .arg("-o")
        .arg(&out)
        .arg(&pst)
        .status()
        .expect("readpst is missing: install pst-utils (scripts/setup.sh)");
    assert!(status.success(), "readpst failed");
    let log = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    (walk(&out), log)
}

#[test]
fn pst_cards_in_attachments_and_recipients_are_found_by_attachment_name() {
    // attachment.pst is a top-level file on disk (read in place by the
    // helper): a card in a text attachment, one in a text file inside a
    // zip attachment (opened as a nested member), one in a recipient's
    // display name (the recipient table; the message's own To/Cc names
    // hold no number). The same store as an ANSI (32-bit) file gives the
    // same findings.
    for name in ATTACHMENT_STORES {
        let run = scan(&fixtures(), false, &[name]);
        assert_eq!(run.code, Some(1), "{name}: {}", run.stderr);
        let mut members = run.members();
        members.sort();
        let attachment = format!("{ATTACHED}!attachment 1 statement.txt");
        let zipped = format!("{ATTACHED}!attachment 2 cards.zip!cards.txt");
        let recipients = format!("{ATTACHED}!recipients");
        assert_eq!(
            members,
            pairs(&[
                (Some(&attachment), "card_visa"),
                (Some(&zipped), "card_mastercard"),
                (Some(&recipients), "card_visa"),
            ]),
            "{name}"
        );
        assert_eq!(run.top(name)["status"], "scanned", "{}", run.stdout);
    }
}

#[test]
fn pst_attachment_finding_in_json_report_is_masked_and_names_the_attachment() {
    let state = TempDir::new().unwrap();
    let out = Command::new(BIN)
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", state.path())
        .current_dir(fixtures())
        .args(["scan", "--format", "json", "attachment.pst"])
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for never in NEVER {
        assert!(!stdout.contains(never) && !stderr.contains(never));
    }
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let text = doc.to_string();
    let member = format!("{ATTACHED}!attachment 1 statement.txt");
    let finding = find_finding(&doc, &member).unwrap_or_else(|| panic!("{}", hide_digits(&text)));
    let shown = finding.to_string();
    // Masked: the first six and last four digits at most.
    assert!(shown.contains("453916"), "{}", hide_digits(&shown));
    assert!(!shown.contains("4539160477"), "{}", hide_digits(&shown));
}

/// The finding object whose `member` is `member`, anywhere in `v`.
fn find_finding<'a>(v: &'a serde_json::Value, member: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(o) => {
            if o.get("member").and_then(|m| m.as_str()) == Some(member) && o.contains_key("kind") {
                return Some(v);
            }
            o.values().find_map(|x| find_finding(x, member))
        }
        serde_json::Value::Array(a) => a.iter().find_map(|x| find_finding(x, member)),
        _ => None,
    }
}

#[test]
fn pst_attachments_and_recipients_match_what_readpst_extracts() {
    // The independent reader lists the message and extracts each
    // attachment; the bytes the helper hands the scanner for each are the
    // same. Every value of the `recipients` part is a recipient row value
    // readpst parsed (its debug log names each property it reads). For
    // the Unicode and the ANSI store.
    for store in ATTACHMENT_STORES {
        readpst_agrees_on_attachments_and_recipients(store);
    }
}

fn readpst_agrees_on_attachments_and_recipients(store: &str) {
    let data = std::fs::read(fixtures().join(store)).unwrap();
    let dir = TempDir::new().unwrap();
    let (files, log) = readpst(dir.path(), &data);
    let (parts, code) = helper_parts(&data);
    assert_eq!(code, Some(0));
    let prefix = "Top of Personal Folders/Inbox\tmessage 1 nid 0x200024";
    for (n, name) in [(1, "statement.txt"), (2, "cards.zip")] {
        let ours = parts
            .iter()
            .find(|(p, _)| *p == format!("file\t{prefix}\tattachment {n} {name}"))
            .map(|(_, hex)| unhex(hex))
            .unwrap_or_else(|| panic!("no attachment {n}: {parts:?}"));
        let theirs = files
            .iter()
            .find(|f| f.file_name().unwrap().to_string_lossy() == format!("1-{name}"))
            .map(|f| std::fs::read(f).unwrap())
            .unwrap_or_else(|| panic!("readpst wrote no {name}: {files:?}"));
        assert_eq!(ours.len(), theirs.len(), "{name}");
        assert!(ours == theirs, "{name}: our bytes differ from readpst's");
    }
    // The message itself: readpst's file `1` has the subject we read.
    let message = files
        .iter()
        .find(|f| f.file_name().unwrap() == "1")
        .expect("readpst wrote no message");
    let message = std::fs::read_to_string(message).unwrap();
    assert!(
        message.contains("Subject: Quarterly statement"),
        "{message}"
    );
    let (_, recipients) = parts
        .iter()
        .find(|(p, _)| *p == format!("text\t{prefix}\trecipients"))
        .unwrap_or_else(|| panic!("no recipients part: {parts:?}"));
    let lines: Vec<&str> = recipients.lines().collect();
    for want in [
        "Anna Nowak",
        "anna.nowak@example.com",
        "refunds@example.com",
    ] {
        assert!(lines.contains(&want), "{want} not in {lines:?}");
    }
    assert!(lines.iter().any(|l| l.starts_with("Refunds card ")));
    for line in lines {
        assert!(
            log.lines()
                .any(|l| l.contains("pst_process") && l.ends_with(&format!(" - {line}"))),
            "{} is no value readpst read",
            hide_digits(line)
        );
    }
}

#[test]
fn pst_attachment_fixture_is_what_its_generator_writes() {
    // The stores are generated, not edited by hand: each committed file
    // is what make_attachment_pst.py writes (stdlib only, deterministic).
    for (store, args) in [
        ("attachment.pst", &[][..]),
        ("attachment-ansi.pst", &["--ansi"][..]),
        ("embedded.pst", &["--embedded"][..]),
    ] {
        let dir = TempDir::new().unwrap();
        let out = dir.path().join(store);
        let status = Std::new("python3")
            .arg(fixtures().join("make_attachment_pst.py"))
            .args(args)
            .arg(&out)
            .status()
            .expect("python3");
        assert!(status.success());
        let made = std::fs::read(&out).unwrap();
        let committed = std::fs::read(fixtures().join(store)).unwrap();
        assert!(made == committed, "regenerate tests/fixtures/pst/{store}");
    }
}

/// A store `make_attachment_pst.py` writes with `args`, made now.
fn generated(args: &[&str]) -> Vec<u8> {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("made.pst");
    let status = Std::new("python3")
        .arg(fixtures().join("make_attachment_pst.py"))
        .args(args)
        .arg(&out)
        .status()
        .expect("python3");
    assert!(status.success());
    std::fs::read(&out).unwrap()
}

/// The attached message of `embedded.pst`: the first attachment of its
/// message, named by its display name (it has no file name).
const FORWARDED: &str =
    "Top of Personal Folders/Inbox!message 1 nid 0x200024!attachment 1 Order confirmation";

#[test]
fn pst_cards_in_attached_message_body_and_its_attachment_are_found() {
    // embedded.pst: a message whose attachment is a message
    // (afEmbeddedMessage), with a card in its body and one in its own
    // text attachment. outlook-pst refuses the attachment; the helper
    // reads it from the raw layers, and the findings are named by the
    // attachment, then the attached message's part. The same store as an
    // ANSI file (generated now) gives the same findings.
    let ansi = TempDir::new().unwrap();
    std::fs::write(
        ansi.path().join("embedded-ansi.pst"),
        generated(&["--ansi", "--embedded"]),
    )
    .unwrap();
    for (dir, name) in [
        (fixtures(), "embedded.pst"),
        (ansi.path().to_path_buf(), "embedded-ansi.pst"),
    ] {
        let run = scan(&dir, false, &[name]);
        assert_eq!(run.code, Some(1), "{name}: {}", run.stderr);
        let mut members = run.members();
        members.sort();
        let body = format!("{FORWARDED}!body");
        let receipt = format!("{FORWARDED}!attachment 1 receipt.txt");
        assert_eq!(
            members,
            pairs(&[
                (Some(&receipt), "card_mastercard"),
                (Some(&body), "card_visa"),
            ]),
            "{name}"
        );
        assert_eq!(run.top(name)["status"], "scanned", "{}", run.stdout);
    }
}

/// `data` of standard base64 (readpst's attachments), decoded.
fn unbase64(text: &str) -> Vec<u8> {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| ABC.contains(c)) {
        acc = (acc << 6) | ABC.iter().position(|&a| a == c).unwrap() as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[test]
fn pst_attached_message_matches_what_readpst_extracts() {
    // readpst writes the attached message into the message's file as a
    // message/rfc822 part: its subject, its body and its attachment
    // (base64) are what the helper hands the scanner.
    let data = std::fs::read(fixtures().join("embedded.pst")).unwrap();
    let dir = TempDir::new().unwrap();
    let (files, _) = readpst(dir.path(), &data);
    let message = files
        .iter()
        .find(|f| f.file_name().unwrap() == "1")
        .expect("readpst wrote no message");
    let theirs = std::fs::read_to_string(message)
        .unwrap()
        .replace("\r\n", "\n");
    let (_, inner) = theirs
        .split_once("Content-Type: message/rfc822")
        .expect("readpst wrote no attached message");
    assert!(inner.contains("Subject: Order confirmation"), "no subject");
    let (parts, code) = helper_parts(&data);
    assert_eq!(code, Some(0));
    let prefix =
        "Top of Personal Folders/Inbox\tmessage 1 nid 0x200024\tattachment 1 Order confirmation";
    let part = |last: &str| {
        parts
            .iter()
            .find(|(p, _)| {
                *p == format!("{prefix}\t{last}") || p.ends_with(&format!("\t{prefix}\t{last}"))
            })
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("no {last}: {}", hide_digits(&format!("{parts:?}"))))
    };
    assert_eq!(part("subject"), "Order confirmation");
    let body = part("body").replace("\r\n", "\n");
    assert!(
        inner.contains(body.trim()),
        "our body is not readpst's: {}",
        hide_digits(&body)
    );
    let ours = unhex(&part("attachment 1 receipt.txt"));
    let (_, after) = inner
        .split_once("filename=\"receipt.txt\"")
        .expect("readpst wrote no receipt.txt");
    let encoded = after.trim_start().split("\n\n").next().unwrap();
    assert!(
        ours == unbase64(encoded),
        "receipt.txt: our bytes differ from readpst's"
    );
}

#[test]
fn pst_attached_message_that_contains_itself_is_partial_not_a_loop() {
    // make_attachment_pst.py --loop: the attached message's sub-node tree
    // is its outer message's, so its attachment holds it again, for ever
    // (readpst crashes on it). Its parts are read once; its attachments
    // are left out and the store is partial, naming the attachment.
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("loop.pst"), generated(&["--loop"])).unwrap();
    let run = scan(dir.path(), true, &["loop.pst"]);
    run.expect_bounded("attached message inside itself");
    assert_eq!(run.top("loop.pst")["status"], "partial", "{}", run.stdout);
    let records = run.member_records("loop.pst");
    assert_eq!(records.len(), 1, "{records:?}");
    let (member, status, reason) = &records[0];
    assert_eq!((member.as_str(), status.as_str()), ("message 1", "partial"));
    assert!(
        reason.contains("attachment #: an attached message that contains itself"),
        "{reason}"
    );
    // The attached message's body was read, once.
    let body = format!("{FORWARDED}!body");
    let found: Vec<_> = run
        .members()
        .into_iter()
        .filter(|(m, _)| m.as_deref() == Some(body.as_str()))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
}

#[test]
fn pst_damaged_attached_message_is_partial_with_a_reason() {
    // The attached message's heap loses its signature (its block's CRC
    // made right again, so that only the heap is wrong): the attachment
    // is a failed part with the reason, the rest of the store is read.
    let mut data = std::fs::read(fixtures().join("embedded.pst")).unwrap();
    let shop: Vec<u8> = "Shop Orders"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let hit = data
        .windows(shop.len())
        .position(|w| w == shop)
        .expect("the attached message's sender");
    // The block starts on a 64-byte boundary with the heap's header
    // (bSig 0xEC, bClientSig 0xBC); its trailer (cb, wSig, dwCRC, bid)
    // ends the last 64-byte unit it fills.
    let start = (0..=hit / 64)
        .rev()
        .map(|k| k * 64)
        .find(|&at| data[at + 2] == 0xEC && data[at + 3] == 0xBC)
        .unwrap();
    let (trailer, cb) = (1..)
        .map(|k| (start + 64 * k - 16, k))
        .map(|(t, k)| {
            (
                t,
                usize::from(u16::from_le_bytes([data[t], data[t + 1]])),
                k,
            )
        })
        .find(|&(_, cb, k)| cb + 16 <= 64 * k && cb + 16 > 64 * (k - 1))
        .map(|(t, cb, _)| (t, cb))
        .unwrap();
    data[start + 2] = 0x00;
    let sum = crc(&data[start..start + cb]);
    data[trailer + 4..trailer + 8].copy_from_slice(&sum.to_le_bytes());
    let (parts, code) = helper_parts(&data);
    assert!(matches!(code, Some(c) if c != 0), "{code:?}");
    assert!(!parts.iter().any(|(p, _)| p.contains("Order confirmation")));
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("damaged.pst"), &data).unwrap();
    let run = scan(dir.path(), false, &["damaged.pst"]);
    assert_eq!(
        run.top("damaged.pst")["status"],
        "partial",
        "{}",
        run.stdout
    );
    let records = run.member_records("damaged.pst");
    assert_eq!(records.len(), 1, "{records:?}");
    let (member, status, reason) = &records[0];
    assert_eq!((member.as_str(), status.as_str()), ("message 1", "partial"));
    assert!(
        reason.contains("attachment #: its attached message: a damaged property heap"),
        "{reason}"
    );
    // The message itself is read.
    assert!(
        parts
            .iter()
            .any(|(p, t)| p.ends_with("\tsubject") && t == "Quarterly statement")
    );
}

#[test]
fn pst_attached_messages_nested_past_the_limit_are_partial_not_opened() {
    // make_attachment_pst.py --nest 10: ten attached messages, each the
    // attachment of the one above, each body with the same card. The
    // first eight are read (eight findings); the ninth is not opened and
    // the store is partial, saying so. readpst reads the same layout
    // (checked by hand with --nest 3: three "Subject: Order
    // confirmation" parts).
    for args in [&["--nest", "10"][..], &["--ansi", "--nest", "10"][..]] {
        let dir = TempDir::new().unwrap();
        std::fs::write(dir.path().join("deep.pst"), generated(args)).unwrap();
        let run = scan(dir.path(), true, &["deep.pst"]);
        run.expect_bounded("attached messages nested ten deep");
        assert_eq!(run.top("deep.pst")["status"], "partial", "{}", run.stdout);
        let bodies: Vec<String> = run
            .members()
            .into_iter()
            .filter_map(|(m, _)| m)
            .filter(|m| m.ends_with("Order confirmation!body"))
            .collect();
        assert_eq!(bodies.len(), 8, "{args:?}: {bodies:?}");
        let deepest = format!(
            "{FORWARDED}{}!body",
            "!attachment 1 Order confirmation".repeat(7)
        );
        assert!(bodies.contains(&deepest), "{bodies:?}");
        let records = run.member_records("deep.pst");
        assert_eq!(records.len(), 1, "{records:?}");
        let (member, status, reason) = &records[0];
        assert_eq!((member.as_str(), status.as_str()), ("message 1", "partial"));
        assert!(
            reason.contains("attached messages nested more than # deep: not opened (in attachment # Order confirmation!"),
            "{reason}"
        );
    }
}

#[test]
fn pst_attached_message_bytes_flipped_at_random_never_crash_the_scanner() {
    // embedded.pst's blocks and pages (past the header), damaged at
    // random: the block B-tree pages and sub-node blocks our own reader
    // walks carry no CRC check of ours, so damage reaches it. Every
    // store ends with a record, in bounded memory and time.
    let base = std::fs::read(fixtures().join("embedded.pst")).unwrap();
    scan_flipped_copies(
        &base,
        0x9e37_79b9_7f4a_7c15,
        16,
        16,
        0x4600,
        "flipped attached messages",
    );
}
