//! Compound files end to end in memory: built with the test writer, walked
//! as the scan pipeline walks them.

use std::io::{self, Read};
use std::time::Duration;

use super::reader::build;
use crate::extract::{Budget, LeafSink, Limits, Member, Place, Problem, peek, sniff, walk};
use crate::report::event::FileStatus;

#[derive(Default)]
struct Collect {
    leaves: Vec<(Option<String>, String)>,
    problems: Vec<Problem>,
}

impl LeafSink for Collect {
    fn leaf(&mut self, member: Option<&Member>, reader: &mut dyn Read) -> io::Result<()> {
        let mut data = Vec::new();
        reader.read_to_end(&mut data)?;
        self.leaves.push((
            member.map(Member::to_string),
            String::from_utf8_lossy(&data).into(),
        ));
        Ok(())
    }
    fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }
}

fn limits() -> Limits {
    Limits {
        max_depth: 8,
        max_expanded: 64 << 20,
        max_ratio: 1000,
        max_members: 1000,
        max_time: Duration::from_secs(10),
        max_buffer: 8 << 20,
    }
}

fn run(data: &[u8]) -> Collect {
    let mut sink = Collect::default();
    let budget = Budget::new(limits());
    budget.add_input(data.len() as u64);
    let mut reader = data;
    let (head, _) = peek(&mut reader).unwrap();
    walk(
        sniff(&head),
        head,
        &mut reader,
        None,
        Place::TOP,
        &budget,
        &mut sink,
    );
    sink
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

/// A message with a subject, a body, and an attached message holding a
/// text file.
fn message() -> Vec<u8> {
    let subject = utf16("invoice");
    let body = utf16("card 4111 1111 1111 1111");
    let inner_body = utf16("PESEL 44051401359");
    let file = b"IBAN DE89370400440532013000".to_vec();
    let name = utf16("notes.txt");
    build::cfb(&[
        ("__substg1.0_0037001F", &subject),
        ("__substg1.0_1000001F", &body),
        ("__attach_version1.0_#00000000/__substg1.0_3707001F", &name),
        ("__attach_version1.0_#00000000/__substg1.0_37010102", &file),
        (
            "__attach_version1.0_#00000001/__substg1.0_3701000D/__substg1.0_1000001F",
            &inner_body,
        ),
        (
            "__recip_version1.0_#00000000/__substg1.0_3001001F",
            &utf16("Jan"),
        ),
    ])
}

#[test]
fn msg_subject_body_attachments_and_attached_messages() {
    let got = run(&message());
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    let leaves: Vec<(Option<&str>, &str)> = got
        .leaves
        .iter()
        .map(|(m, t)| (m.as_deref(), t.as_str()))
        .collect();
    assert_eq!(
        leaves,
        [
            (Some("subject"), "invoice"),
            (Some("body"), "card 4111 1111 1111 1111"),
            (
                Some("attachment 1 notes.txt"),
                "IBAN DE89370400440532013000"
            ),
            (Some("attachment 2!body"), "PESEL 44051401359"),
        ]
    );
}

/// A message's HTML body (PidTagHtml) is scanned as the text it shows: a
/// card split by `<b>` and written with `&nbsp;` reads as one number.
#[test]
fn msg_html_body_is_read_through_the_html_view() {
    let html =
        b"<html><body><p>card&nbsp;4539&nbsp;<b>1488</b>&nbsp;0343&nbsp;6467</p></body></html>";
    let got = run(&build::cfb(&[("__substg1.0_10130102", &html[..])]));
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    assert_eq!(
        got.leaves,
        [(
            Some("body html".to_string()),
            "\ncard\u{A0}4539\u{A0}1488\u{A0}0343\u{A0}6467\n".to_string()
        )]
    );
}

#[test]
fn embedded_objects_are_opened_as_members() {
    // A storage with an OOXML-less zip as `Package`, and an Ole10Native
    // package holding a text file.
    let mut zip = io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut zip);
        w.start_file("a.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        io::Write::write_all(&mut w, b"card 4111111111111111").unwrap();
        w.finish().unwrap();
    }
    let mut native = Vec::new();
    let mut body = vec![2u8, 0];
    body.extend_from_slice(b"label\0C:\\f.txt\0");
    body.extend_from_slice(&[0, 0, 3, 0]);
    body.extend_from_slice(&7u32.to_le_bytes());
    body.extend_from_slice(b"C:\\tmp\0");
    body.extend_from_slice(&9u32.to_le_bytes());
    body.extend_from_slice(b"id 123456");
    native.extend_from_slice(&(body.len() as u32).to_le_bytes());
    native.extend_from_slice(&body);
    let data = build::cfb(&[
        ("ObjectPool/_1/Package", zip.get_ref()),
        ("ObjectPool/_2/\u{1}Ole10Native", &native),
        ("ObjectPool/_2/\u{1}CompObj", b"ignored"),
    ]);
    let got = run(&data);
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    let members: Vec<&str> = got.leaves.iter().filter_map(|l| l.0.as_deref()).collect();
    assert_eq!(
        members,
        [
            "ObjectPool/_1/Package!a.txt",
            "ObjectPool/_2/_u{1}Ole10Native"
        ]
        .map(|m| m.replace("_u{1}", &crate::extract::clean_name("\u{1}")))
    );
    assert_eq!(got.leaves[1].1, "id 123456");
}

#[test]
fn d1_cyclic_fat_chain_ends_partial_with_a_reason() {
    let mut data = build::cfb(&[("WordDocument", &[0u8; 1500])]);
    // The stream starts at sector 2: its second sector points back to it.
    data[512 + 12..512 + 16].copy_from_slice(&2u32.to_le_bytes());
    let got = run(&data);
    assert!(
        got.problems
            .iter()
            .any(|p| p.status == FileStatus::Partial && p.reason.contains("loops back")),
        "{:?}",
        got.problems
    );
}

#[test]
fn truncated_compound_file_is_an_error_never_clean() {
    let data = message();
    let got = run(&data[..300]);
    assert_eq!(got.problems.len(), 1);
    assert_eq!(got.problems[0].status, FileStatus::Error);
    assert!(got.problems[0].reason.contains("compound"));
    // Cut inside the streams: what was read is scanned, the rest reported.
    let got = run(&data[..data.len() - 600]);
    assert!(!got.problems.is_empty());
}

/// The fixtures made by real tools (`tests/fixtures/legacy/`).
const REAL: [&[u8]; 3] = [
    include_bytes!("../../../tests/fixtures/legacy/footnote.doc"),
    include_bytes!("../../../tests/fixtures/legacy/numbers.xls"),
    include_bytes!("../../../tests/fixtures/legacy/message.msg"),
];

proptest::proptest! {
    /// Bytes flipped anywhere in a real compound file (its header, FAT,
    /// directory, streams): extraction ends, within the limits, and never
    /// panics.
    #[test]
    fn flipped_bytes_in_real_compound_files_never_panic(
        which in 0..REAL.len(),
        flips in proptest::collection::vec(
            (proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()),
            1..16,
        ),
    ) {
        let mut data = REAL[which].to_vec();
        for (at, byte) in flips {
            let i = at.index(data.len());
            data[i] = byte;
        }
        let got = run(&data);
        let expanded: usize = got.leaves.iter().map(|l| l.1.len()).sum();
        proptest::prop_assert!(expanded as u64 <= limits().max_expanded);
    }
}

/// LibreOffice's `strings.xls` (made by `tests/fixtures/legacy/make.sh`):
/// 1500 shared strings, a third of them 16-bit (Polish letters), split
/// over five `CONTINUE` records.
#[test]
fn shared_strings_over_continue_records_from_libreoffice_read_back_exactly() {
    let gz: &[u8] = include_bytes!("../../../tests/fixtures/legacy/strings.xls.gz");
    let mut data = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut data)
        .unwrap();
    let got = run(&data);
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    let (member, text) = &got.leaves[0];
    assert_eq!(member.as_deref(), Some("Workbook"));
    let cells: Vec<&str> = text
        .lines()
        .skip(1)
        .take(1500)
        .map(|l| l.trim_end_matches('\t'))
        .collect();
    for (i, cell) in cells.iter().enumerate() {
        let want = if i == 1200 {
            "karta 5555 5555 5555 4444 Zażółć".to_string()
        } else if i % 3 == 0 {
            format!("Zażółć gęślą jaźń {i}")
        } else {
            format!("customer note {i:05}")
        };
        assert_eq!(*cell, want, "row {i}");
    }
    assert_eq!(cells.len(), 1500);
}

#[test]
fn d3_storages_sharing_their_entries_stop_as_tangled_not_quadratic() {
    let names: Vec<String> = (0..80).map(|i| format!("s{i:03}/x")).collect();
    let streams: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"1"[..])).collect();
    let mut data = build::cfb(&streams);
    // Entry 2k+1 is storage k: point every storage's child at storage 0,
    // whose right siblings are all the storages.
    for k in 0..80 {
        let at = 1024 + 128 * (2 * k + 1) + 76;
        data[at..at + 4].copy_from_slice(&1u32.to_le_bytes());
    }
    let got = run(&data);
    assert!(
        got.problems
            .iter()
            .any(|p| p.status == FileStatus::Partial && p.reason.contains("tangled")),
        "{:?}",
        got.problems
    );
}

#[test]
fn d4_streams_sharing_one_chain_count_against_max_expanded() {
    // Ten small streams whose directory entries all point at one 30 KiB
    // chain: read ten times over, they stop at max_expanded.
    let big = vec![b'7'; 30 << 10];
    let mut streams: Vec<(String, Vec<u8>)> = vec![("big".into(), big)];
    for i in 0..10 {
        streams.push((format!("s{i}"), vec![b'x'; 10]));
    }
    let refs: Vec<(&str, &[u8])> = streams
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let mut data = build::cfb(&refs);
    // Entry 1 is "big" (start sector and size at 116 and 120).
    let entry = |i: usize| 1024 + 128 * i;
    let start: [u8; 4] = data[entry(1) + 116..entry(1) + 120].try_into().unwrap();
    let size: [u8; 4] = data[entry(1) + 120..entry(1) + 124].try_into().unwrap();
    for i in 2..12 {
        data[entry(i) + 116..entry(i) + 120].copy_from_slice(&start);
        data[entry(i) + 120..entry(i) + 124].copy_from_slice(&size);
    }
    let mut sink = Collect::default();
    let budget = Budget::new(Limits {
        max_expanded: 100 << 10,
        ..limits()
    });
    let mut reader = &data[..];
    let (head, _) = peek(&mut reader).unwrap();
    walk(
        sniff(&head),
        head,
        &mut reader,
        None,
        Place::TOP,
        &budget,
        &mut sink,
    );
    assert!(
        sink.problems
            .iter()
            .any(|p| p.status == FileStatus::Partial && p.reason.contains("max_expanded")),
        "{:?}",
        sink.problems
    );
    assert!(sink.leaves.len() < 5, "{}", sink.leaves.len());
}

#[test]
fn d6_a_compound_file_bigger_than_max_buffer_is_scanned_raw_and_partial() {
    let data = message();
    let mut sink = Collect::default();
    let budget = Budget::new(Limits {
        max_buffer: 4096,
        ..limits()
    });
    let mut reader = &data[..];
    let (head, _) = peek(&mut reader).unwrap();
    walk(
        sniff(&head),
        head,
        &mut reader,
        None,
        Place::TOP,
        &budget,
        &mut sink,
    );
    assert_eq!(sink.leaves.len(), 1);
    assert_eq!(sink.leaves[0].0, None);
    assert_eq!(
        sink.leaves[0].1,
        String::from_utf8_lossy(&data),
        "every raw byte scanned"
    );
    assert_eq!(sink.problems.len(), 1);
    assert_eq!(sink.problems[0].status, FileStatus::Partial);
    assert!(sink.problems[0].reason.contains("--max-buffer"));
}

#[test]
fn msg_8bit_strings_are_decoded_in_the_message_code_page() {
    // "Płatność" in windows-1250, and PidTagMessageCodepage = 1250.
    let body = b"P\xb3atno\x9c\xe6 4111 1111 1111 1111".to_vec();
    let mut props = vec![0u8; 32];
    props.extend_from_slice(&0x3FFD_0003u32.to_le_bytes());
    props.extend_from_slice(&6u32.to_le_bytes());
    props.extend_from_slice(&1250u32.to_le_bytes());
    props.extend_from_slice(&0u32.to_le_bytes());
    let data = build::cfb(&[
        ("__properties_version1.0", &props),
        ("__substg1.0_1000001E", &body),
    ]);
    let got = run(&data);
    assert_eq!(
        got.leaves,
        [(
            Some("body".to_string()),
            "Płatność 4111 1111 1111 1111".to_string()
        )]
    );
}
