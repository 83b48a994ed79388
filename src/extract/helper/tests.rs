//! The helper's PDF extraction on real PDFs (the fixtures of
//! `tests/fixtures/containers`), and the scanner's reading of how a helper
//! ended. The whole round trip, through the binary and its child process,
//! and the hostile PDFs that crash a parser, are tested end to end in
//! `tests/extract.rs`.

use std::io::{self, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;

use super::parent::{Ended, HexReader, Run, judge};
use super::pdf::{FailedPages, extract_pages};
use super::pdf_notes;
use super::*;
use crate::extract::{Budget, LeafSink, Limits, Member, Place, Problem};
use crate::report::event::FileStatus;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/containers")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The helper's output for a fixture, split into pages.
fn pages_of(name: &str) -> (Result<FailedPages, String>, Vec<String>) {
    let mut out = Vec::new();
    let result = extract_pages(&fixture(name), &mut out).map_err(|e| e.to_string());
    let text = String::from_utf8(out).expect("the text is UTF-8");
    let mut pages: Vec<String> = text.split('\x0c').map(str::to_string).collect();
    // Every page ends with a form feed: what follows the last is nothing.
    assert_eq!(pages.pop().as_deref(), Some(""), "{text:?}");
    (result, pages)
}

#[test]
fn every_line_of_a_ghostscript_pdf_is_read_page_by_page() {
    let (result, pages) = pages_of("pages.pdf");
    assert_eq!(result, Ok(vec![]));
    assert_eq!(pages.len(), 2, "{pages:?}");
    // The lines after the first of each block are shown with `'`.
    assert!(pages[0].contains("Invoice 2024-17"), "{pages:?}");
    assert!(pages[0].contains("4526 0181 5908 3012"), "{pages:?}");
    assert!(pages[0].contains("Thank you"), "{pages:?}");
    assert!(pages[1].contains("536-22-8726"), "{pages:?}");
    assert!(pages[1].contains("85120312343"), "{pages:?}");
}

#[test]
fn an_owner_password_alone_does_not_lock_the_text() {
    let (result, pages) = pages_of("owner-only.pdf");
    assert_eq!(result, Ok(vec![]));
    assert!(pages[0].contains("4526 0181 5908 3012"), "{pages:?}");
}

#[test]
fn a_user_password_is_reported_as_encrypted() {
    let (result, pages) = pages_of("encrypted.pdf");
    assert_eq!(result, Err("encrypted".to_string()));
    assert!(pages.is_empty());
}

#[test]
fn a_truncated_pdf_fails_with_a_reason_that_quotes_nothing() {
    let (result, pages) = pages_of("truncated.pdf");
    let why = result.unwrap_err();
    assert!(why.contains("cross-reference"), "{why}");
    assert!(pages.is_empty());
}

#[test]
fn an_image_only_pdf_has_a_page_and_no_text() {
    let (result, pages) = pages_of("scan.pdf");
    assert_eq!(result, Ok(vec![]));
    assert_eq!(pages.len(), 1);
    assert!(pages[0].trim().is_empty(), "{pages:?}");
}

#[test]
fn random_bytes_are_not_a_document() {
    let mut out = Vec::new();
    let result = extract_pages(b"%PDF-1.4\n\x00\x01 4111111111111111 garbage", &mut out)
        .map_err(|e| e.to_string());
    let why = result.unwrap_err();
    assert!(!why.contains("4111"), "{why}");
    assert!(out.is_empty());
}

#[test]
fn clean_replaces_digits_and_control_characters() {
    assert_eq!(clean("card 4111\x07ok\nnext", 200), "card #### ok\nnext");
    assert_eq!(clean("abcdef", 3), "abc");
}

#[test]
fn helper_memory_grows_with_max_buffer() {
    let limits = Limits::default();
    assert_eq!(helper_memory(&limits), 384 << 20);
    let small = Limits {
        max_buffer: 8 << 20,
        ..limits
    };
    assert_eq!(helper_memory(&small), 160 << 20);
}

/// A run of the helper that ended with `status` after `pages` pages.
fn ended(status: ExitStatus, pages: u32, text: u64, stderr: &str) -> Run {
    Run {
        ended: Ended::Exited(status),
        pages,
        cut: false,
        text,
        stopped: None,
        stderr: stderr.to_string(),
    }
}

fn exit(code: u8) -> ExitStatus {
    ExitStatus::from_raw(i32::from(code) << 8)
}

fn signal(sig: i32) -> ExitStatus {
    ExitStatus::from_raw(sig)
}

fn judged(run: &Run) -> Vec<(Option<String>, String)> {
    let budget = Budget::new(Limits::default());
    let at = Member::parse("mail!attachment a.pdf");
    judge(Kind::Pdf, run, Some(&at), &budget, 384)
        .into_iter()
        .map(|p| {
            assert_eq!(p.status, FileStatus::Partial);
            (p.member.map(|m| m.to_string()), p.reason)
        })
        .collect()
}

#[test]
fn a_complete_run_with_text_is_clean() {
    assert_eq!(judged(&ended(exit(EXIT_OK), 3, 120, "")), vec![]);
}

#[test]
fn a_complete_run_without_text_says_there_is_no_text_layer() {
    let got = judged(&ended(exit(EXIT_OK), 2, 0, ""));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0.as_deref(), Some("mail!attachment a.pdf"));
    assert!(got[0].1.starts_with("no text layer"), "{got:?}");
}

#[test]
fn failed_pages_are_named() {
    let got = judged(&ended(
        exit(EXIT_PAGES),
        4,
        50,
        "page 2: the parser failed\npage 4: a malformed stream 4111\nand 7 more pages\n",
    ));
    let members: Vec<_> = got.iter().map(|g| g.0.as_deref()).collect();
    assert_eq!(
        members,
        [
            Some("mail!attachment a.pdf!page 2"),
            Some("mail!attachment a.pdf!page 4"),
            Some("mail!attachment a.pdf"),
        ]
    );
    // The helper's page numbers are kept; digits in a reason are not.
    assert!(got[1].1.contains("(a malformed stream ####)"), "{got:?}");
    assert!(got[2].1.starts_with("the text of 7 more pages"), "{got:?}");
}

#[test]
fn document_failures_and_crashes_say_what_happened() {
    let cases: &[(Run, &str)] = &[
        (
            ended(exit(EXIT_DOCUMENT), 0, 0, "encrypted\n"),
            "encrypted: the PDF cannot be opened without its password",
        ),
        (
            ended(
                exit(EXIT_DOCUMENT),
                0,
                0,
                "a syntax error: invalid file trailer\n",
            ),
            "PDF could not be parsed (a syntax error: invalid file trailer): only the raw bytes",
        ),
        (
            ended(signal(6), 0, 0, "memory allocation of ### bytes failed\n"),
            "PDF could not be parsed (the parser ran out of its 384 MiB memory limit",
        ),
        (
            ended(signal(6), 0, 0, "thread 'main' has overflowed its stack\n"),
            "PDF could not be parsed (the parser overflowed its stack",
        ),
        (
            ended(signal(24), 0, 0, ""),
            "PDF could not be parsed (the parser used up its CPU time",
        ),
        (
            ended(signal(11), 2, 10, ""),
            "PDF could not be parsed (the parser crashed, signal 11, after page 2)",
        ),
        (
            ended(exit(2), 0, 0, "error: unexpected argument\n"),
            "PDF could not be parsed (the parser failed, exit status 2)",
        ),
    ];
    for (run, expected) in cases {
        let got = judged(run);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0.as_deref(), Some("mail!attachment a.pdf"));
        assert!(
            got[0].1.starts_with(expected),
            "{got:?}\nexpected {expected}"
        );
    }
}

#[test]
fn a_page_cut_off_by_a_crash_is_not_a_complete_run() {
    let mut run = ended(exit(EXIT_OK), 1, 10, "");
    run.cut = true;
    // A helper that exits 0 always ends its last page: this one did not.
    let got = judged(&run);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].1.contains("in page 2"), "{got:?}");
}

#[test]
fn a_helper_killed_at_the_deadline_names_the_time_limit() {
    let run = Run {
        ended: Ended::TimedOut,
        pages: 0,
        cut: false,
        text: 0,
        stopped: None,
        stderr: String::new(),
    };
    let got = judged(&run);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].1.contains("PDF text extraction was stopped"),
        "{got:?}"
    );
}

#[test]
fn without_a_helper_the_raw_bytes_are_scanned_and_reported_partial() {
    // Unit tests never set the helper.
    let mut sink = Collect::default();
    let budget = Budget::new(Limits::default());
    let data = fixture("pages.pdf");
    scan(Kind::Pdf, &mut &data[..], Place::TOP, &budget, &mut sink);
    assert_eq!(sink.leaves, vec![(None, data.len())]);
    assert_eq!(sink.problems.len(), 1);
    assert!(
        sink.problems[0]
            .reason
            .starts_with("PDF text extraction not available"),
        "{:?}",
        sink.problems
    );
}

#[test]
fn a_pdf_over_max_buffer_is_scanned_raw_and_names_the_limit() {
    let mut sink = Collect::default();
    let budget = Budget::new(Limits {
        max_buffer: 1000,
        ..Limits::default()
    });
    let data = fixture("pages.pdf");
    scan(Kind::Pdf, &mut &data[..], Place::TOP, &budget, &mut sink);
    // All of it, not only what fitted in the buffer.
    assert_eq!(sink.leaves, vec![(None, data.len())]);
    assert!(
        sink.problems[0].reason.contains("--max-buffer"),
        "{:?}",
        sink.problems
    );
}

/// Collects leaves (member and length) and problems.
#[derive(Default)]
struct Collect {
    leaves: Vec<(Option<String>, usize)>,
    problems: Vec<Problem>,
}

impl LeafSink for Collect {
    fn leaf(&mut self, member: Option<&Member>, reader: &mut dyn Read) -> io::Result<()> {
        let mut data = Vec::new();
        reader.read_to_end(&mut data)?;
        self.leaves
            .push((member.map(Member::to_string), data.len()));
        Ok(())
    }

    fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }
}

#[test]
fn every_kind_is_named_on_the_command_line_by_the_name_it_parses_from() {
    for &kind in Kind::ALL {
        assert_eq!(kind.name().parse::<Kind>().unwrap(), kind);
        assert_eq!(kind.to_string(), kind.name());
    }
    let err = "rar".parse::<Kind>().unwrap_err().to_string();
    assert!(
        err.starts_with("unknown extractor \"rar\" (known: pdf, pdf-notes, pdf-files, "),
        "{err}"
    );
    assert!(err.contains("ocr, pdf-ocr, parquet"), "{err}");
}

/// The notes extractor's output for a PDF, split into notes.
fn notes_of(data: &[u8]) -> (Result<FailedParts, String>, Vec<String>) {
    let mut out = Vec::new();
    let result = pdf_notes::extract_notes(data, &mut out).map_err(|e| e.to_string());
    let text = String::from_utf8(out).expect("the text is UTF-8");
    let mut notes: Vec<String> = text.split('\x0c').map(str::to_string).collect();
    assert_eq!(notes.pop().as_deref(), Some(""), "{text:?}");
    (result, notes)
}

#[test]
fn notes_are_annotation_contents_then_field_values_decoded() {
    let (result, notes) = notes_of(&fixture("notes.pdf"));
    assert_eq!(result, Ok(vec![]));
    assert_eq!(
        notes,
        [
            "Card on file: 4532 0151 1283 0366",
            "Customer card 5425 2334 3010 9903",
            // UTF-16BE in the file.
            "Карта 4916 3385 0608 2832",
        ]
    );
    // A PDF without annotations or a form has no note, and that is fine.
    assert_eq!(notes_of(&fixture("pages.pdf")), (Ok(vec![]), vec![]));
    // One that cannot be opened says why, as the text extractor does.
    assert_eq!(
        notes_of(&fixture("encrypted.pdf")).0,
        Err("encrypted".to_string())
    );
}

/// A hostile form whose field is its own kid (and a chain deeper than any
/// form): the walk ends, each value read once.
#[test]
fn a_field_tree_that_loops_is_walked_once() {
    use pdf_extract::{Dictionary, Document, Object, StringFormat};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut pages = Dictionary::new();
    pages.set("Type", Object::Name(b"Pages".to_vec()));
    pages.set("Kids", Object::Array(vec![]));
    pages.set("Count", Object::Integer(0));
    doc.objects.insert(pages_id, Object::Dictionary(pages));
    let field_id = doc.new_object_id();
    let mut field = Dictionary::new();
    field.set("T", Object::String(b"loop".to_vec(), StringFormat::Literal));
    field.set(
        "V",
        Object::String(b"value 1".to_vec(), StringFormat::Literal),
    );
    field.set("Kids", Object::Array(vec![Object::Reference(field_id)]));
    doc.objects.insert(field_id, Object::Dictionary(field));
    // A chain of 10,000 kids, each with a value.
    let mut next = None;
    for _ in 0..10_000 {
        let id = doc.new_object_id();
        let mut kid = Dictionary::new();
        kid.set("V", Object::String(b"deep".to_vec(), StringFormat::Literal));
        if let Some(n) = next {
            kid.set("Kids", Object::Array(vec![Object::Reference(n)]));
        }
        doc.objects.insert(id, Object::Dictionary(kid));
        next = Some(id);
    }
    let mut form = Dictionary::new();
    form.set(
        "Fields",
        Object::Array(vec![
            Object::Reference(field_id),
            Object::Reference(next.unwrap()),
        ]),
    );
    let mut catalog = Dictionary::new();
    catalog.set("Type", Object::Name(b"Catalog".to_vec()));
    catalog.set("Pages", Object::Reference(pages_id));
    catalog.set("AcroForm", Object::Dictionary(form));
    let catalog_id = doc.add_object(Object::Dictionary(catalog));
    doc.trailer.set("Root", Object::Reference(catalog_id));
    let mut data = Vec::new();
    doc.save_to(&mut data).unwrap();
    let (result, notes) = notes_of(&data);
    assert_eq!(result, Ok(vec![]));
    assert_eq!(notes[0], "value 1");
    // The looping field once; the chain cut at its depth limit.
    assert_eq!(notes.iter().filter(|n| *n == "value 1").count(), 1);
    assert_eq!(notes.len(), 1 + 65, "{}", notes.len());
}

#[test]
fn embedded_files_are_written_whole_in_hex_in_name_tree_order() {
    let mut out = Vec::new();
    let result = pdf_files::extract_files(&fixture("attach.pdf"), &mut out);
    assert_eq!(result, Ok(vec![]));
    let parts: Vec<&[u8]> = out.split(|&b| b == PART_END).collect();
    assert_eq!(parts.len(), 3, "two files and nothing after");
    // archive.zip sorts before customers.csv in the name tree.
    let zip = pdf_files::decode(parts[0]).unwrap();
    assert!(zip.starts_with(b"PK\x03\x04"));
    let csv = pdf_files::decode(parts[1]).unwrap();
    assert_eq!(csv, b"name,card\nJan Kowalski,4539 1488 0343 6467\n");
    // None in a PDF without attachments.
    let mut out = Vec::new();
    assert_eq!(
        pdf_files::extract_files(&fixture("pages.pdf"), &mut out),
        Ok(vec![])
    );
    assert!(out.is_empty());
}

#[test]
fn hex_parts_decode_only_what_was_encoded() {
    assert_eq!(
        pdf_files::decode(b"00ff0c1b"),
        Some(vec![0, 0xff, 0x0c, 0x1b])
    );
    assert_eq!(pdf_files::decode(b""), Some(vec![]));
    assert_eq!(pdf_files::decode(b"0"), None);
    assert_eq!(pdf_files::decode(b"0G"), None);
    assert_eq!(pdf_files::decode(b"0A"), None);
}

/// Decodes `hex` through [`HexReader`], `chunk` bytes of output at a time.
fn hex_read(hex: &[u8], chunk: usize) -> io::Result<Vec<u8>> {
    let mut reader = HexReader {
        inner: hex,
        odd: None,
    };
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn the_scanner_decodes_hex_parts_as_they_stream_in() {
    let file: Vec<u8> = (0..=255u8).cycle().take(20_000).collect();
    let mut hex = Vec::new();
    for b in &file {
        hex.extend_from_slice(format!("{b:02x}").as_bytes());
    }
    for chunk in [1, 3, 4096, 100_000] {
        assert_eq!(hex_read(&hex, chunk).unwrap(), file, "chunk {chunk}");
    }
    // A lone digit at the end, or anything but lower-case hex, is an error.
    assert!(hex_read(b"0a0", 1).is_err());
    assert!(hex_read(b"0A", 1).is_err());
    assert!(hex_read(b"0a\x0c", 1).is_err());
}
