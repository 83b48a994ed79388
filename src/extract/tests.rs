//! Extraction on hostile bytes: random data behind every format's magic,
//! and real archives with bytes flipped, must never panic, must stay within
//! the limits, and must say when something was not read.
//! (Real fixtures made by real tools are tested end to end in
//! `tests/extract.rs`.)

use std::io::Read;

use proptest::prelude::*;

use super::*;

/// Collects what extraction produces.
#[derive(Default)]
struct Collect {
    leaves: Vec<(Option<String>, Vec<u8>)>,
    problems: Vec<Problem>,
}

impl LeafSink for Collect {
    fn leaf(&mut self, member: Option<&Member>, reader: &mut dyn Read) -> io::Result<()> {
        let mut data = Vec::new();
        let result = reader.read_to_end(&mut data).map(|_| ());
        self.leaves.push((member.map(Member::to_string), data));
        result
    }
    fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }
}

fn small_limits() -> Limits {
    Limits {
        max_depth: 6,
        max_expanded: 4 << 20,
        max_ratio: 100,
        max_members: 200,
        max_time: Duration::from_secs(5),
        max_buffer: 1 << 20,
    }
}

/// Runs extraction on `data` as the scan pipeline does.
fn extract(data: &[u8]) -> Collect {
    extract_with(data, small_limits())
}

fn extract_with(data: &[u8], limits: Limits) -> Collect {
    let mut sink = Collect::default();
    let budget = Budget::new(limits);
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

/// A small zip made here, with a text member holding a card number.
fn zip_with_card() -> Vec<u8> {
    let mut out = io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default();
        w.start_file("a/cards.txt", opts).unwrap();
        std::io::Write::write_all(&mut w, b"card 4111 1111 1111 1111\n").unwrap();
        w.finish().unwrap();
    }
    out.into_inner()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn a_zip_in_a_gzip_names_its_member() {
    let got = extract(&gzip(&zip_with_card()));
    assert!(got.problems.is_empty(), "{:?}", got.problems);
    assert_eq!(got.leaves.len(), 1);
    assert_eq!(got.leaves[0].0.as_deref(), Some("a/cards.txt"));
    assert!(got.leaves[0].1.starts_with(b"card 4111"));
}

#[test]
fn sniffing_tells_formats_apart_and_leaves_text_alone() {
    assert_eq!(sniff(b"hello 4111 1111 1111 1111"), Format::Plain);
    assert_eq!(sniff(&gzip(b"x")), Format::Gzip);
    assert_eq!(sniff(&zip_with_card()), Format::Zip);
    assert_eq!(sniff(b"BZh91AY&SY"), Format::Bzip2);
    assert_eq!(sniff(b"BZh is not bzip2"), Format::Plain);
    assert_eq!(sniff(b"%PDF-1.7\n"), Format::Pdf);
}

#[test]
fn a_gzip_bomb_stops_at_the_ratio_limit() {
    let zeros = vec![0u8; 16 << 20];
    let limits = Limits {
        max_expanded: 1 << 30,
        ..small_limits()
    };
    let got = extract_with(&gzip(&zeros), limits);
    let expanded: usize = got.leaves.iter().map(|l| l.1.len()).sum();
    assert!(expanded < 16 << 20, "read all {expanded} bytes");
    assert!(
        got.problems
            .iter()
            .any(|p| p.status == FileStatus::Partial && p.reason.contains("ratio")),
        "{:?}",
        got.problems
    );
}

/// Magic numbers of every format, to put random bytes behind.
const MAGICS: &[&[u8]] = &[
    b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
    b"BZh91AY&SY",
    b"\xfd7zXZ\x00",
    b"\x28\xb5\x2f\xfd",
    b"PK\x03\x04",
    b"\x89PNG\r\n\x1a\n",
    b"From a@example.com Mon Jan  1 00:00:00 2024\nFrom: a@example.com\nDate: x\n\n",
    b"From: a@example.com\nTo: b@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\n",
    b"%PDF-1.4\n",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_behind_any_magic_never_panic(
        magic in 0..MAGICS.len(),
        tail in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let mut data = MAGICS[magic].to_vec();
        data.extend_from_slice(&tail);
        let got = extract(&data);
        let expanded: usize = got.leaves.iter().map(|l| l.1.len()).sum();
        prop_assert!(expanded as u64 <= small_limits().max_expanded + data.len() as u64 * 4);
    }

    #[test]
    fn flipped_bytes_in_a_real_archive_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        wrap in any::<bool>(),
    ) {
        let mut data = zip_with_card();
        for (at, byte) in flips {
            let i = at.index(data.len());
            data[i] = byte;
        }
        if wrap {
            data = gzip(&data);
        }
        let got = extract(&data);
        // Accounted for: the member was read, or a problem says what was
        // not, or the damage made it no zip and the raw bytes were scanned
        // (a leaf without a member).
        let found = got.leaves.iter().any(|l| l.1.windows(4).any(|w| w == b"4111"));
        let raw = got.leaves.iter().any(|l| l.0.is_none());
        prop_assert!(found || !got.problems.is_empty() || raw, "{:?}", got.problems);
    }
}
