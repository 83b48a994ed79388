//! One table of labelled fixtures run through every read path (issue 19),
//! as ripgrep's `testutil.rs` runs every case through every searcher
//! configuration: a named file, the same bytes on stdin, a tiny chunk size,
//! `-j1` beside the default threads, and (for a big sparse text file) the
//! segmented scanner. Every path must give the findings of the table
//! (kind, member, masked value, in order) and the same top-level file record
//! (status and encoding); a path that legitimately differs says so in the
//! table.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

mod common;

use common::cli::{Scratch, lh};

/// One finding: `(kind, member, masked value)`.
type Finding = (&'static str, Option<&'static str>, &'static str);

/// What a case scans.
enum Input {
    /// A file under `tests/fixtures/`.
    Fixture(&'static str),
    /// Bytes made by the test, written to a scratch file.
    Made(&'static str, fn() -> Vec<u8>),
}

/// One row of the table.
struct Case {
    input: Input,
    /// Top-level file record: `(status, encoding)`.
    record: (&'static str, &'static str),
    findings: &'static [Finding],
}

/// The read paths every case goes through.
#[derive(Debug, Clone, Copy)]
enum ReadPath {
    File,
    Stdin,
    TinyChunk,
    OneThread,
    /// Two threads: segments big files (see [`SEGMENTED_FROM`]).
    TwoThreads,
}

const ALL: [ReadPath; 4] = [
    ReadPath::File,
    ReadPath::Stdin,
    ReadPath::TinyChunk,
    ReadPath::OneThread,
];

/// The smallest chunk size `--chunk-size` takes (see `tests/cli_chunks.rs`).
const TINY_CHUNK: &str = "4096";

const VISA_RW: &str = "453914******6467";
const IBAN_PL: &str = "************************2874";
const IBAN_DE: &str = "******************3000";
const VISA: &str = "452601******3012";
const SSN: &str = "*****8726";
const PESEL: &str = "*******2343";

/// `customer card <VISA> paid in full` as UTF-16LE with a BOM (no fixture
/// has a BOM; `utf16le-nobom-*` covers the sniffed form).
fn utf16le_bom() -> Vec<u8> {
    let text = "invoice 17\r\ncustomer card 4526018159083012 paid in full\r\nthanks\r\n";
    let mut b = vec![0xff, 0xfe];
    b.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    b
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The findings and the top-level file record of one run.
#[derive(Debug, PartialEq)]
struct Seen {
    findings: Vec<(String, Option<String>, String)>,
    record: (String, String),
}

/// Raw values planted in the fixtures: never in any output.
const NEVER: &[&str] = &[
    "4526018159083012",
    "4539148803436467",
    "DE89370400440532013000",
    "PL61109010140000071219812874",
];

fn seen(out: std::process::Output, what: &str) -> Seen {
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The assertion names the value's index, never the value.
    for (i, raw) in NEVER.iter().enumerate() {
        assert!(!stdout.contains(raw), "{what}: raw value {i} in stdout");
        assert!(!stderr.contains(raw), "{what}: raw value {i} in stderr");
    }
    assert_eq!(
        out.status.code(),
        Some(if stdout.contains("\"type\":\"finding\"") {
            1
        } else {
            0
        }),
        "{what}: exit code\n{stdout}\n{stderr}"
    );
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: {e}: {l}")))
        .collect();
    let findings = events
        .iter()
        .filter(|e| e["type"] == "finding")
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["member"].as_str().map(str::to_string),
                f["masked"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let tops: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "file" && e["member"].is_null())
        .collect();
    assert_eq!(tops.len(), 1, "{what}: top-level file records\n{stdout}");
    let record = (
        tops[0]["status"].as_str().unwrap().to_string(),
        tops[0]["encoding"].as_str().unwrap_or("").to_string(),
    );
    Seen { findings, record }
}

fn scan(sc: &Scratch, file: &Path, path: ReadPath) -> Seen {
    let mut c: Command = lh(sc.state.path());
    c.args(["scan", "--format", "jsonl", "-v", "--show-test-data"]);
    match path {
        ReadPath::File => c.arg(file),
        ReadPath::Stdin => c.arg("-").pipe_stdin(file).unwrap(),
        ReadPath::TinyChunk => c.args(["--chunk-size", TINY_CHUNK]).arg(file),
        ReadPath::OneThread => c.arg("-j1").arg(file),
        ReadPath::TwoThreads => c.arg("-j2").arg(file),
    };
    seen(c.output().unwrap(), &format!("{path:?} {}", file.display()))
}

fn expected(record: (&str, &str), findings: &[Finding]) -> Seen {
    Seen {
        findings: findings
            .iter()
            .map(|(k, m, v)| (k.to_string(), m.map(str::to_string), v.to_string()))
            .collect(),
        record: (record.0.to_string(), record.1.to_string()),
    }
}

/// Runs `case` through every read path: the named file must match the
/// table, and every other path the named file.
fn run(case: &Case) {
    let sc = Scratch::new();
    let file = match case.input {
        Input::Fixture(rel) => fixtures().join(rel),
        Input::Made(name, make) => sc.write(name, make()),
    };
    let want = expected(case.record, case.findings);
    let first = scan(&sc, &file, ReadPath::File);
    assert_eq!(first, want, "File {} against the table", file.display());
    for path in &ALL[1..] {
        let got = scan(&sc, &file, *path);
        assert_eq!(got, first, "{path:?} against File for {}", file.display());
    }
}

macro_rules! cases {
    ($($name:ident: $case:expr;)*) => {
        $(
            #[test]
            fn $name() {
                run(&$case);
            }
        )*
    };
}

cases! {
    plain_text: Case {
        input: Input::Fixture("realworld/access-http-server.log"),
        record: ("scanned", "utf-8"),
        findings: &[
            ("card_visa", None, VISA_RW),
            ("card_visa", None, VISA_RW),
            ("card_visa", None, VISA_RW),
            ("iban", None, IBAN_PL),
        ],
    };
    utf16le_with_bom: Case {
        input: Input::Made("bom.txt", utf16le_bom),
        record: ("scanned", "utf-16le"),
        findings: &[("card_visa", None, VISA)],
    };
    utf16le_without_bom: Case {
        input: Input::Fixture("realworld/utf16le-nobom-wide-separators.txt"),
        record: ("scanned", "utf-16le"),
        findings: &[("iban", None, IBAN_DE), ("card_visa", None, VISA_RW)],
    };
    gzip: Case {
        input: Input::Fixture("containers/card.txt.gz"),
        record: ("scanned", "gzip"),
        findings: &[("card_visa", None, VISA)],
    };
    nested_zip: Case {
        input: Input::Fixture("containers/nested.zip"),
        record: ("scanned", "zip"),
        findings: &[("iban", Some("outer.tar.gz!inner.zip!deep.txt"), IBAN_DE)],
    };
    docx: Case {
        input: Input::Fixture("containers/split.docx"),
        record: ("scanned", "zip"),
        findings: &[("card_visa", Some("word/document.xml"), VISA)],
    };
    xlsx: Case {
        input: Input::Fixture("containers/sheet.xlsx"),
        record: ("scanned", "zip"),
        findings: &[
            ("us_ssn", Some("xl/sharedStrings.xml"), SSN),
            ("pl_pesel", Some("xl/worksheets/sheet1.xml"), PESEL),
        ],
    };
    eml_with_attachments: Case {
        input: Input::Fixture("containers/rich.eml"),
        record: ("scanned", "mail"),
        findings: &[
            ("ro_cnp", Some("<fixture-rich@mail.example.net>!header Subject"), "*********3457"),
            ("card_visa", Some("<fixture-rich@mail.example.net>!part 1 text/plain"), VISA),
            ("pl_pesel", Some("<fixture-rich@mail.example.net>!part 2 text/plain"), PESEL),
            ("us_ssn", Some("<fixture-rich@mail.example.net>!attachment people.csv"), SSN),
            ("iban", Some("<fixture-rich@mail.example.net>!attachment bank.zip!iban.csv"), IBAN_DE),
            ("cn_ric", Some("<fixture-rich@mail.example.net>!part 5 message/rfc822!part 0 text/plain"), "**************002X"),
        ],
    };
    mbox: Case {
        input: Input::Fixture("containers/three.mbox"),
        record: ("scanned", "mbox"),
        findings: &[
            ("card_visa", Some("msg 1 <fixture-mbox1@mail.example.net>!part 0 text/plain"), VISA),
            ("us_ssn", Some("msg 2 <fixture-mbox2@mail.example.net>!part 0 text/plain"), SSN),
            ("iban", Some("msg 3 <fixture-mbox3@mail.example.net>!part 0 text/plain"), IBAN_DE),
        ],
    };
    tar_gz: Case {
        input: Input::Fixture("containers/several.tar.gz"),
        record: ("scanned", "gzip"),
        findings: &[
            ("card_visa", Some("a.txt"), VISA),
            ("us_ssn", Some("docs/b.csv"), SSN),
            ("pl_pesel", Some("docs/d.txt"), PESEL),
        ],
    };
    html: Case {
        input: Input::Fixture("realworld/markdown-python.html"),
        record: ("scanned", "html"),
        findings: &[("card_visa", None, VISA_RW), ("iban", None, IBAN_PL)],
    };
    html_in_zip: Case {
        input: Input::Fixture("realworld/html-in-zip.zip"),
        record: ("scanned", "zip"),
        findings: &[
            ("card_visa", Some("markdown-python.html"), VISA_RW),
            ("iban", Some("markdown-python.html"), IBAN_PL),
            ("card_visa", Some("pydoc-module.html"), VISA_RW),
        ],
    };
    zstd: Case {
        input: Input::Fixture("containers/card.txt.zst"),
        record: ("scanned", "zstd"),
        findings: &[("card_visa", None, VISA)],
    };
    pdf: Case {
        input: Input::Fixture("containers/notes.pdf"),
        record: ("scanned", "pdf"),
        findings: &[
            ("card_visa", Some("page 1"), VISA),
            ("us_ssn", Some("page 2"), SSN),
            ("pl_pesel", Some("page 2"), PESEL),
            ("card_visa", Some("note 1"), "453201******0366"),
            ("card_mastercard", Some("note 2"), "542523******9903"),
            ("card_visa", Some("note 3"), "491633******2832"),
        ],
    };
}

/// Where the segmented scanner starts with more than one thread
/// (`SEGMENTED_FROM` in `src/scan.rs`); a sparse file is segmented from one
/// segment (`SEGMENT`, 256 KiB) on, with any number of threads.
const SEGMENTED_FROM: u64 = 64 << 20;
const SEGMENT: u64 = 256 << 10;
const TAIL: &str = "customer card 4526018159083012 paid in full\n";

/// The text fixture, then a card across the first segment boundary, then
/// filler (lines, or a hole when `sparse`) to past `SEGMENTED_FROM`, then a
/// card in the last segment.
fn padded(sc: &Scratch, name: &str, sparse: bool) -> PathBuf {
    use std::io::{Seek, SeekFrom, Write};
    let log = std::fs::read(fixtures().join("realworld/access-http-server.log")).unwrap();
    let path = sc.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&log).unwrap();
    let across = SEGMENT - 8;
    let line = format!("{}\n", "x".repeat(99));
    let mut at = log.len() as u64;
    while at + line.len() as u64 <= across - 20 {
        f.write_all(line.as_bytes()).unwrap();
        at += line.len() as u64;
    }
    f.write_all(" ".repeat((across - 15 - at) as usize).as_bytes())
        .unwrap();
    // The number starts 8 bytes before the boundary: it straddles it.
    f.write_all(b"\ncustomer card 4526018159083012 paid\n")
        .unwrap();
    let end = SEGMENTED_FROM + SEGMENT;
    if sparse {
        // A hole of zeros up to the last text: it holds nothing to find.
        f.seek(SeekFrom::Start(end)).unwrap();
    } else {
        let mut at = f.stream_position().unwrap();
        let block = line.repeat(10_000);
        while at + block.len() as u64 <= end {
            f.write_all(block.as_bytes()).unwrap();
            at += block.len() as u64;
        }
        while at + line.len() as u64 <= end {
            f.write_all(line.as_bytes()).unwrap();
            at += line.len() as u64;
        }
    }
    f.write_all(TAIL.as_bytes()).unwrap();
    path
}

/// The findings of the padded file: the text fixture's, then the card
/// across the first segment boundary and the one in the last segment.
const PADDED: &[Finding] = &[
    ("card_visa", None, VISA_RW),
    ("card_visa", None, VISA_RW),
    ("card_visa", None, VISA_RW),
    ("iban", None, IBAN_PL),
    ("card_visa", None, VISA),
    ("card_visa", None, VISA),
];

/// A dense text file past `SEGMENTED_FROM`: `-j2` scans it in segments,
/// `-j1`, stdin and the tiny chunk size with one thread read it as a
/// stream; all give the same findings.
#[test]
fn segmented_dense_text_matches_the_stream() {
    let sc = Scratch::new();
    let file = padded(&sc, "dense.log", false);
    let want = expected(("scanned", "utf-8"), PADDED);
    for path in [
        ReadPath::TwoThreads,
        ReadPath::OneThread,
        ReadPath::Stdin,
        ReadPath::TinyChunk,
    ] {
        let got = scan(&sc, &file, path);
        assert_eq!(got, want, "{path:?} on the dense padded file");
    }
}

/// The same text with a hole instead of the filler: a sparse file is
/// segmented with any number of threads, and only its data extents read.
/// Stdin reads the hole as zeros (a stream has no extents).
#[test]
fn segmented_sparse_text_matches_the_stream() {
    let sc = Scratch::new();
    let file = padded(&sc, "sparse.log", true);
    let want = expected(("scanned", "utf-8"), PADDED);
    for path in [ReadPath::TwoThreads, ReadPath::OneThread, ReadPath::Stdin] {
        let got = scan(&sc, &file, path);
        assert_eq!(got, want, "{path:?} on the sparse padded file");
    }
}
