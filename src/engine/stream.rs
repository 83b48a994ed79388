//! Streaming: scan any reader in fixed-size windows, in bounded memory.
//!
//! Bytes enter from a `Read`; located matches (offset, line, column in the
//! decoded text) leave through a callback. The first chunk decides the
//! encoding: UTF-8 (with or without BOM; invalid sequences are scanned as
//! they are), UTF-16 LE/BE (by BOM or by the pattern of zero bytes; decoded
//! to UTF-8 before matching, lone surrogates become U+FFFD), or binary (a NUL
//! byte and no UTF-16 pattern). A binary file is scanned as raw bytes, which
//! finds what `strings` would show in ASCII, and through two "wide" views
//! (even and odd offsets) that keep one byte of every two-byte unit: the
//! byte if it is printable ASCII with a NUL beside it, else a NUL. That is
//! how ASCII text looks in UTF-16 of either byte order, so the views find
//! what `strings -e l` and `strings -e b` would show, each string once.
//!
//! Windows overlap: each window keeps [`MARGIN`] bytes before its report
//! range and needs [`MARGIN`] bytes after it, so a number that straddles a
//! chunk boundary is found exactly once. Memory per scanner is the chunk
//! size plus margins, whatever the size of the input or the length of its
//! lines.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::base64;
use super::evidence::{Columns, Kin, Weighed};
use super::{Engine, Flow, MARGIN, Match};

/// Default bytes read per window.
pub const DEFAULT_CHUNK: usize = 256 * 1024;

/// How the bytes of a stream were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8 { bom: bool },
    Utf16 { big_endian: bool, bom: bool },
    Binary,
}

impl Encoding {
    /// A short name for reports: `utf-8`, `utf-16le`, `binary` ...
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 { bom: false } => "utf-8",
            Encoding::Utf8 { bom: true } => "utf-8-bom",
            Encoding::Utf16 {
                big_endian: false, ..
            } => "utf-16le",
            Encoding::Utf16 {
                big_endian: true, ..
            } => "utf-16be",
            Encoding::Binary => "binary",
        }
    }
}

/// A match with its place in the stream.
#[derive(Debug, Clone)]
pub struct Located<'e> {
    pub m: Match<'e>,
    /// Byte offset of the match in the decoded text (UTF-8); for binary
    /// files, in the raw bytes.
    pub offset: u64,
    /// Length of the match in the same units as `offset`.
    pub length: u64,
    /// 1-based line; `None` for binary files.
    pub line: Option<u64>,
    /// 1-based column in Unicode code points; `None` for binary files.
    pub column: Option<u64>,
    /// For a match in the decoded text of a base64 payload: the offset of
    /// the payload's run (its first byte, in the units of `offset`). Then
    /// `offset` and `length` are those of the base64 characters that
    /// encode the match (the whole run for UTF-16 payloads).
    pub base64: Option<u64>,
}

impl<'e> Weighed<'e> for Located<'e> {
    fn weighed(&mut self) -> &mut Match<'e> {
        &mut self.m
    }
}

impl<'e> Weighed<'e> for SegmentMatch<'e> {
    fn weighed(&mut self) -> &mut Match<'e> {
        &mut self.located.m
    }
}

/// What a finished (or stopped) stream scan saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamStats {
    /// Raw bytes read from the reader.
    pub bytes: u64,
    pub encoding: Encoding,
    /// The callback asked to stop before the end of the stream.
    pub stopped: bool,
    /// The offset of the first base64 run longer than
    /// [`base64::MAX_DECODED`] decoded bytes: only its start was decoded.
    pub base64_cut: Option<u64>,
}

/// An I/O error part-way through a stream.
#[derive(Debug)]
pub struct StreamError {
    pub error: io::Error,
    /// Raw bytes read (and scanned) before the error.
    pub bytes: u64,
}

/// The buffers a scanner reads into: keep one set per thread and hand it
/// from stream to stream, so memory is allocated once per thread.
#[derive(Debug, Default)]
pub struct ScanBuffers {
    window: Vec<u8>,
    raw: Vec<u8>,
    view: Vec<u8>,
    b64: base64::Scratch,
    /// The named columns of the last large file scanned in segments, by
    /// (device, inode, length): read once per file, not per segment.
    header: Option<((u64, u64, u64), Option<Columns>)>,
}

/// Counts bytes read, for the stream's stats and for a progress display.
struct ReadCount {
    total: u64,
    progress: Option<Arc<AtomicU64>>,
}

impl ReadCount {
    fn add(&mut self, n: usize) {
        self.total += n as u64;
        if let Some(p) = &self.progress {
            p.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// A scanner over streams, with its own buffers.
pub struct StreamScanner<'e> {
    engine: &'e Engine,
    chunk: usize,
    window: Vec<u8>,
    raw: Vec<u8>,
    view: Vec<u8>,
    b64: base64::Scratch,
    /// See [`StreamStats::base64_cut`].
    base64_cut: Option<u64>,
    progress: Option<Arc<AtomicU64>>,
    /// The named columns of the text being scanned, when its first line is
    /// a table header that names a kind.
    columns: Option<Columns>,
    header: Option<((u64, u64, u64), Option<Columns>)>,
}

/// Line and column bookkeeping for the current window.
#[derive(Debug, Default)]
struct Lines {
    /// Newlines before the window's first byte.
    before: u64,
    /// Window position up to which `at_cursor` counts.
    cursor: usize,
    /// Newlines in `window[..cursor]`.
    at_cursor: u64,
    /// Code points between the last newline before the window and its first byte.
    partial_chars: u64,
}

impl Lines {
    fn move_to(&mut self, buf: &[u8], p: usize) {
        if p >= self.cursor {
            self.at_cursor += count_byte(&buf[self.cursor..p], b'\n') as u64;
        } else {
            self.at_cursor -= count_byte(&buf[p..self.cursor], b'\n') as u64;
        }
        self.cursor = p;
    }

    /// 1-based line and column of window position `p`.
    fn locate(&mut self, buf: &[u8], p: usize) -> (u64, u64) {
        self.move_to(buf, p);
        let line = self.before + self.at_cursor + 1;
        let column = match memchr::memrchr(b'\n', &buf[..p]) {
            Some(nl) => count_chars(&buf[nl + 1..p]),
            None => self.partial_chars + count_chars(&buf[..p]),
        };
        (line, column + 1)
    }

    /// The first `keep` bytes of the window are dropped.
    fn drain(&mut self, buf: &[u8], keep: usize) {
        self.move_to(buf, keep);
        self.before += self.at_cursor;
        self.at_cursor = 0;
        self.cursor = 0;
        let dropped = &buf[..keep];
        match memchr::memrchr(b'\n', dropped) {
            Some(nl) => self.partial_chars = count_chars(&dropped[nl + 1..]),
            None => self.partial_chars += count_chars(dropped),
        }
    }
}

/// Code points in UTF-8 text: bytes that are not continuation bytes.
fn count_chars(b: &[u8]) -> u64 {
    b.iter().filter(|&&x| (x as i8) >= -0x40).count() as u64
}

/// Occurrences of `needle` in `hay`. Every byte of a scan is counted
/// here once (newlines, for line numbers), so it is a SIMD loop of its
/// own: compare, and add the 0/1 bytes up in the vector (memchr's
/// iterator, built to find matches one by one, counts at a third of the
/// speed on text with a newline every line).
pub fn count_byte(hay: &[u8], needle: u8) -> usize {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { count_byte_avx2(hay, needle) };
    }
    hay.iter().filter(|&&b| b == needle).count()
}

/// [`count_byte`] with AVX2: each of 32 byte lanes counts its matches
/// (up to 255 blocks at a time), then `vpsadbw` adds the lanes up.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn count_byte_avx2(hay: &[u8], needle: u8) -> usize {
    use std::arch::x86_64::*;
    let want = _mm256_set1_epi8(needle as i8);
    let zero = _mm256_setzero_si256();
    let mut total = 0u64;
    let mut blocks = hay.chunks_exact(32);
    loop {
        let mut lanes = zero;
        let mut n = 0;
        for block in blocks.by_ref().take(255) {
            // SAFETY: the block has 32 bytes.
            let v = unsafe { _mm256_loadu_si256(block.as_ptr().cast()) };
            // A match is -1: subtracting it adds one.
            lanes = _mm256_sub_epi8(lanes, _mm256_cmpeq_epi8(v, want));
            n += 1;
        }
        let sums = _mm256_sad_epu8(lanes, zero);
        let mut parts = [0u64; 4];
        // SAFETY: `parts` holds 32 bytes.
        unsafe { _mm256_storeu_si256(parts.as_mut_ptr().cast(), sums) };
        total += parts.iter().sum::<u64>();
        if n < 255 {
            break;
        }
    }
    let rest = blocks.remainder();
    total as usize + rest.iter().filter(|&&b| b == needle).count()
}

/// Decides the encoding from the first bytes of a stream.
pub fn detect_encoding(head: &[u8]) -> Encoding {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Encoding::Utf8 { bom: true };
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return Encoding::Utf16 {
            big_endian: false,
            bom: true,
        };
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return Encoding::Utf16 {
            big_endian: true,
            bom: true,
        };
    }
    // Without a BOM, UTF-16 text of mostly ASCII shows zero bytes at every
    // other position and almost nowhere else.
    let sample = &head[..head.len().min(4096) & !1];
    let pairs = sample.len() / 2;
    if pairs >= 8 {
        let (mut zero_even, mut zero_odd) = (0usize, 0usize);
        for pair in sample.chunks_exact(2) {
            zero_even += (pair[0] == 0) as usize;
            zero_odd += (pair[1] == 0) as usize;
        }
        if zero_odd * 10 >= pairs * 4 && zero_even * 20 <= pairs {
            return Encoding::Utf16 {
                big_endian: false,
                bom: false,
            };
        }
        if zero_even * 10 >= pairs * 4 && zero_odd * 20 <= pairs {
            return Encoding::Utf16 {
                big_endian: true,
                bom: false,
            };
        }
    }
    if pairs >= 32
        && let Some(big_endian) = non_latin_utf16(sample)
    {
        return Encoding::Utf16 {
            big_endian,
            bom: false,
        };
    }
    if memchr::memchr(0, &head[..head.len().min(8192)]).is_some() {
        return Encoding::Binary;
    }
    Encoding::Utf8 { bom: false }
}

/// UTF-16 without a BOM in a script other than Latin (Persian, Arabic,
/// Hebrew, Cyrillic, Greek, Devanagari, Thai ...): `Some(big_endian)`.
/// Such text has few zero bytes, so it is told by the distribution of its
/// code units instead: the high byte of nearly every unit is 0 (spaces,
/// ASCII digits, punctuation) or the script's block, `0x03`..`0x0E`, a
/// control byte UTF-8 text almost never holds; the low bytes are spread. UTF-8 Arabic
/// (`D9 85 D8 A7`) and ASCII have no such bytes, and a binary file would
/// need nine in ten of one parity in that narrow range.
fn non_latin_utf16(sample: &[u8]) -> Option<bool> {
    let pairs = sample.len() / 2;
    let block = |b: u8| (0x03..=0x0E).contains(&b) && !matches!(b, 0x09 | 0x0A | 0x0D);
    for big_endian in [false, true] {
        let (mut high_ok, mut high_block, mut low_block) = (0usize, 0usize, 0usize);
        for pair in sample.chunks_exact(2) {
            let (lo, hi) = if big_endian {
                (pair[1], pair[0])
            } else {
                (pair[0], pair[1])
            };
            high_ok += usize::from(hi == 0 || block(hi));
            high_block += usize::from(block(hi));
            low_block += usize::from(block(lo) || lo == 0);
        }
        if high_ok * 10 >= pairs * 9 && high_block * 10 >= pairs * 3 && low_block * 5 <= pairs {
            return Some(big_endian);
        }
    }
    None
}

/// Reads until `buf` holds `want` bytes or the reader is exhausted.
/// Returns whether the end of the stream was reached.
///
/// `take(..).read_to_end` reads into the vector's spare capacity through
/// `read_buf`, which files implement without initialising the memory first,
/// so the buffer is not zeroed before every read.
fn fill(
    r: &mut dyn Read,
    buf: &mut Vec<u8>,
    want: usize,
    read: &mut ReadCount,
) -> io::Result<bool> {
    if buf.len() >= want {
        return Ok(false);
    }
    let need = want - buf.len();
    buf.reserve(need);
    let before = buf.len();
    let result = r.take(need as u64).read_to_end(buf);
    read.add(buf.len() - before);
    result?;
    Ok(buf.len() < want)
}

/// Where [`Utf16Decoder::decode_units`] writes: the UTF-8 text alone (the
/// engine's windows), or the text with the offset of the unit each byte came
/// from ([`decode_utf16_mapped`], for redaction). Generic so the engine's
/// path pays nothing for the map.
trait Utf16Out {
    fn reserve(&mut self, n: usize);
    /// `bytes` decoded from the unit at `at`.
    fn text(&mut self, bytes: &[u8], at: usize);
    /// One ASCII byte decoded from the unit at `at`.
    fn byte(&mut self, b: u8, at: usize);
    /// Eight ASCII units from `block` (16 bytes at `at`), the ASCII byte of
    /// each at `low`.
    fn ascii8(&mut self, block: &[u8], low: usize, at: usize);
}

impl Utf16Out for Vec<u8> {
    #[inline]
    fn reserve(&mut self, n: usize) {
        Vec::reserve(self, n);
    }
    #[inline]
    fn text(&mut self, bytes: &[u8], _at: usize) {
        self.extend_from_slice(bytes);
    }
    #[inline]
    fn byte(&mut self, b: u8, _at: usize) {
        self.push(b);
    }
    #[inline]
    fn ascii8(&mut self, block: &[u8], low: usize, _at: usize) {
        self.extend((0..8).map(|k| block[2 * k + low]));
    }
}

/// UTF-8 text and, per byte, the offset of the unit it came from.
struct Mapped<'a> {
    text: &'a mut Vec<u8>,
    map: &'a mut Vec<usize>,
    base: usize,
}

impl Utf16Out for Mapped<'_> {
    fn reserve(&mut self, n: usize) {
        self.text.reserve(n);
        self.map.reserve(n + 1);
    }
    fn text(&mut self, bytes: &[u8], at: usize) {
        self.text.extend_from_slice(bytes);
        let at = self.base + at;
        self.map.extend(std::iter::repeat_n(at, bytes.len()));
    }
    fn byte(&mut self, b: u8, at: usize) {
        self.text.push(b);
        self.map.push(self.base + at);
    }
    fn ascii8(&mut self, block: &[u8], low: usize, at: usize) {
        self.text.extend((0..8).map(|k| block[2 * k + low]));
        let at = self.base + at;
        self.map.extend((0..8).map(|k| at + 2 * k));
    }
}

/// Decodes the whole of `data` (UTF-16, no BOM) to UTF-8 onto `out`, as the
/// engine's streaming decoder does at the end of a stream: a lone surrogate
/// and an odd trailing byte each become U+FFFD.
pub fn decode_utf16(data: &[u8], big_endian: bool, out: &mut Vec<u8>) {
    let decoder = Utf16Decoder {
        big_endian,
        pending: Vec::new(),
    };
    decoder.decode_units(data, out, true);
}

/// [`decode_utf16`] with a map: the UTF-8 text, and for each of its bytes
/// the offset (`base` + the offset in `data`) of the code unit it came
/// from, plus one entry for the end (`base + data.len()`). Redaction uses
/// the map to replace a match in the original encoding.
pub fn decode_utf16_mapped(data: &[u8], big_endian: bool, base: usize) -> (Vec<u8>, Vec<usize>) {
    let decoder = Utf16Decoder {
        big_endian,
        pending: Vec::new(),
    };
    let mut text = Vec::new();
    let mut map = Vec::new();
    let used = decoder.decode_units(
        data,
        &mut Mapped {
            text: &mut text,
            map: &mut map,
            base,
        },
        true,
    );
    map.push(base + used);
    (text, map)
}

/// Streaming UTF-16 to UTF-8 decoder that keeps a split code unit or
/// surrogate pair for the next chunk.
struct Utf16Decoder {
    big_endian: bool,
    pending: Vec<u8>,
}

impl Utf16Decoder {
    /// Decodes `input`, the next bytes of the stream, onto `out`; `last`
    /// when no more will come (a dangling unit then becomes U+FFFD).
    fn decode(&mut self, input: &[u8], out: &mut Vec<u8>, last: bool) {
        let mut input = input;
        if !self.pending.is_empty() {
            // Finish what the previous chunk split (at most 3 bytes: an odd
            // byte, a high surrogate, or both) with up to 4 new bytes.
            let take = input.len().min(4);
            self.pending.extend_from_slice(&input[..take]);
            let finished = last && take == input.len();
            let used = self.decode_units(&self.pending, out, finished);
            let left = self.pending.len() - used;
            if left > take {
                // Too few new bytes to finish anything: keep them all.
                self.pending.drain(..used);
                return;
            }
            self.pending.clear();
            input = &input[take - left..];
        }
        let used = self.decode_units(input, out, last);
        if !last {
            self.pending.extend_from_slice(&input[used..]);
        }
    }

    /// Decodes whole units of `data` and returns the bytes used: all of
    /// them when `last`, else all but a split unit or surrogate pair at the
    /// end. Runs of ASCII are narrowed eight units at a time.
    fn decode_units<O: Utf16Out>(&self, data: &[u8], out: &mut O, last: bool) -> usize {
        out.reserve(data.len() / 2);
        // Per unit, the bits that are zero in an ASCII unit (high byte 0,
        // low byte below 0x80), for two units read as a little-endian u64.
        let not_ascii: u64 = if self.big_endian {
            0x80FF_80FF_80FF_80FF
        } else {
            0xFF80_FF80_FF80_FF80
        };
        let low = usize::from(self.big_endian);
        let to_u16 = |c: &[u8]| {
            if self.big_endian {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        };
        let mut buf = [0u8; 4];
        let mut i = 0;
        loop {
            while let Some(block) = data.get(i..i + 16) {
                let a = u64::from_le_bytes(block[..8].try_into().expect("8 bytes"));
                let b = u64::from_le_bytes(block[8..].try_into().expect("8 bytes"));
                if (a | b) & not_ascii != 0 {
                    break;
                }
                out.ascii8(block, low, i);
                i += 16;
            }
            let Some(c) = data.get(i..i + 2) else { break };
            let u = to_u16(c);
            if (0xD800..0xDC00).contains(&u) {
                // A high surrogate needs the next unit.
                match data.get(i + 2..i + 4) {
                    Some(next) => {
                        let lo = to_u16(next);
                        if (0xDC00..0xE000).contains(&lo) {
                            let cp = 0x10000 + (((u as u32) - 0xD800) << 10) + (lo as u32 - 0xDC00);
                            let ch = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                            out.text(ch.encode_utf8(&mut buf).as_bytes(), i);
                            i += 4;
                            continue;
                        }
                        out.text("\u{FFFD}".as_bytes(), i);
                    }
                    None if !last => return i,
                    None => out.text("\u{FFFD}".as_bytes(), i),
                }
            } else if (0xDC00..0xE000).contains(&u) {
                out.text("\u{FFFD}".as_bytes(), i);
            } else if u < 0x80 {
                out.byte(u as u8, i);
            } else {
                let ch = char::from_u32(u as u32).unwrap_or(char::REPLACEMENT_CHARACTER);
                out.text(ch.encode_utf8(&mut buf).as_bytes(), i);
            }
            i += 2;
        }
        if i < data.len() {
            if !last {
                return i;
            }
            // An odd trailing byte.
            out.text("\u{FFFD}".as_bytes(), i);
        }
        data.len()
    }
}

/// The report range of a window, and what to drop afterwards.
fn report_end(len: usize, eof: bool, margin: usize) -> usize {
    if eof { len } else { len.saturating_sub(margin) }
}

impl<'e> StreamScanner<'e> {
    /// A scanner reading `chunk` bytes per window (at least 4 KiB).
    pub fn new(engine: &'e Engine, chunk: usize) -> StreamScanner<'e> {
        Self::with_buffers(engine, chunk, ScanBuffers::default())
    }

    /// A scanner that reuses `buffers`.
    pub fn with_buffers(
        engine: &'e Engine,
        chunk: usize,
        buffers: ScanBuffers,
    ) -> StreamScanner<'e> {
        StreamScanner {
            engine,
            chunk: chunk.max(4096),
            window: buffers.window,
            raw: buffers.raw,
            view: buffers.view,
            b64: buffers.b64,
            base64_cut: None,
            progress: None,
            columns: None,
            header: buffers.header,
        }
    }

    /// Gives the buffers back for the next scanner on this thread.
    pub fn into_buffers(mut self) -> ScanBuffers {
        // Do not keep a huge buffer around after an odd stream.
        for b in [&mut self.window, &mut self.raw, &mut self.view] {
            b.clear();
            if b.capacity() > 4 * (self.chunk + 4 * MARGIN) {
                b.shrink_to(self.chunk + 4 * MARGIN);
            }
        }
        self.b64.shrink();
        ScanBuffers {
            window: self.window,
            raw: self.raw,
            view: self.view,
            b64: self.b64,
            header: self.header,
        }
    }

    /// Adds every byte read to `counter` as it is read.
    pub fn set_progress(&mut self, counter: Arc<AtomicU64>) {
        self.progress = Some(counter);
    }

    /// The engine this scanner uses.
    pub fn engine(&self) -> &'e Engine {
        self.engine
    }

    /// Scans everything `reader` yields.
    pub fn scan_reader(
        &mut self,
        reader: &mut dyn Read,
        on_match: &mut dyn FnMut(Located<'e>) -> Flow,
    ) -> Result<StreamStats, StreamError> {
        let mut read = ReadCount {
            total: 0,
            progress: self.progress.clone(),
        };
        self.raw.clear();
        self.base64_cut = None;
        let head_eof =
            fill(reader, &mut self.raw, self.chunk, &mut read).map_err(|error| StreamError {
                error,
                bytes: read.total,
            })?;
        let encoding = detect_encoding(&self.raw);
        // Kin evidence holds back a few findings; the record of a finding
        // is its line (binary data has none).
        let mut kin: Kin<'e, Located<'e>> = Kin::default();
        let outer = on_match;
        let on_match = &mut |l: Located<'e>| {
            let (offset, record) = (l.offset, l.line);
            kin.push(l, offset, record, outer)
        };
        let result = match encoding {
            Encoding::Utf8 { bom } => self.scan_utf8(reader, bom, head_eof, &mut read, on_match),
            Encoding::Utf16 { big_endian, bom } => {
                self.scan_utf16(reader, big_endian, bom, head_eof, &mut read, on_match)
            }
            Encoding::Binary => self.scan_binary(reader, head_eof, &mut read, on_match),
        };
        // What is still held leaves, even after an error: it was scanned.
        let flushed = kin.finish(outer);
        match result {
            Ok(stopped) => Ok(StreamStats {
                bytes: read.total,
                encoding,
                stopped: stopped || flushed.is_break(),
                base64_cut: self.base64_cut,
            }),
            Err(error) => Err(StreamError {
                error,
                bytes: read.total,
            }),
        }
    }

    /// Scans an in-memory text (for tests, `rules check` and small blobs).
    pub fn scan_bytes(
        &mut self,
        bytes: &[u8],
        on_match: &mut dyn FnMut(Located<'e>) -> Flow,
    ) -> StreamStats {
        let mut r = bytes;
        match self.scan_reader(&mut r, on_match) {
            Ok(s) => s,
            Err(e) => StreamStats {
                bytes: e.bytes,
                encoding: Encoding::Utf8 { bom: false },
                stopped: true,
                base64_cut: None,
            },
        }
    }

    /// Scans one window of text and drops what the next window does not
    /// need. Returns `true` if the callback asked to stop.
    fn scan_text_window(
        &mut self,
        base: &mut u64,
        report_start: &mut usize,
        lines: &mut Lines,
        eof: bool,
        on_match: &mut dyn FnMut(Located<'e>) -> Flow,
    ) -> bool {
        let engine = self.engine;
        let buf = &self.window;
        let end = report_end(buf.len(), eof, MARGIN);
        let mut stopped = false;
        if end > *report_start {
            let b = *base;
            let columns = self.columns.as_ref();
            // Matches in base64 payloads, merged with the engine's in
            // offset order (same-kind evidence weighs them in order).
            let mut payload: std::collections::VecDeque<Located<'e>> = Default::default();
            let _ = base64::scan(engine, buf, *report_start..end, &mut self.b64, &mut |f| {
                let (line, column) = lines.locate(buf, f.encoded.start);
                payload.push_back(Located {
                    offset: b + f.encoded.start as u64,
                    length: f.encoded.len() as u64,
                    line: Some(line),
                    column: Some(column),
                    base64: Some(b + f.run.start as u64),
                    m: f.m,
                });
                Flow::Continue(())
            });
            if let Some(at) = self.b64.cut.take() {
                self.base64_cut.get_or_insert(b + at as u64);
            }
            let flow = engine.scan_table(buf, *report_start..end, columns, &mut |m: Match<'e>| {
                let (line, column) = lines.locate(buf, m.start);
                let located = Located {
                    offset: b + m.start as u64,
                    length: (m.end - m.start) as u64,
                    line: Some(line),
                    column: Some(column),
                    base64: None,
                    m,
                };
                while payload.front().is_some_and(|p| p.offset < located.offset) {
                    on_match(payload.pop_front().expect("checked"))?;
                }
                on_match(located)
            });
            stopped = flow.is_break();
            while !stopped && let Some(p) = payload.pop_front() {
                stopped = on_match(p).is_break();
            }
        }
        let keep_from = end.max(*report_start).saturating_sub(MARGIN);
        lines.drain(buf, keep_from);
        self.window.drain(..keep_from);
        *base += keep_from as u64;
        *report_start = end.max(*report_start) - keep_from;
        stopped
    }

    /// Whether the window ends inside a base64 run its report range owns.
    fn open_base64_run(&self, report_start: usize) -> bool {
        if !self.engine.base64() {
            return false;
        }
        let end = self.window.len().saturating_sub(MARGIN);
        base64::open_run_at_end(&self.window, report_start..end)
    }

    fn scan_utf8(
        &mut self,
        reader: &mut dyn Read,
        bom: bool,
        mut eof: bool,
        read: &mut ReadCount,
        on_match: &mut dyn FnMut(Located<'e>) -> Flow,
    ) -> io::Result<bool> {
        self.window.clear();
        let skip = if bom { 3 } else { 0 };
        self.window.extend_from_slice(&self.raw[skip..]);
        self.columns = self.engine.columns(&self.window);
        let mut base = 0u64;
        let mut report_start = 0usize;
        let mut lines = Lines::default();
        loop {
            if !eof {
                let want = report_start + self.chunk + MARGIN;
                eof = fill(reader, &mut self.window, want, read)?;
            }
            // A base64 run this window owns goes on past its end: read on
            // (up to the run's bound) so that it is decoded whole.
            while !eof && self.open_base64_run(report_start) {
                let want = self.window.len() + self.chunk;
                eof = fill(reader, &mut self.window, want, read)?;
            }
            if self.scan_text_window(&mut base, &mut report_start, &mut lines, eof, on_match) {
                return Ok(true);
            }
            if eof {
                return Ok(false);
            }
        }
    }

    fn scan_utf16(
        &mut self,
        reader: &mut dyn Read,
        big_endian: bool,
        bom: bool,
        mut eof: bool,
        read: &mut ReadCount,
        on_match: &mut dyn FnMut(Located<'e>) -> Flow,
    ) -> io::Result<bool> {
        let mut decoder = Utf16Decoder {
            big_endian,
            pending: Vec::new(),
        };
        self.window.clear();
        let skip = if bom { 2 } else { 0 };
        decoder.decode(&self.raw[skip..], &mut self.window, eof);
        self.columns = self.engine.columns(&self.window);
        let mut base = 0u64;
        let mut report_start = 0usize;
        let mut lines = Lines::default();
        loop {
            while !eof
                && (self.window.len() < report_start + self.chunk + MARGIN
                    || self.open_base64_run(report_start))
            {
                self.raw.clear();
                eof = fill(reader, &mut self.raw, self.chunk, read)?;
                decoder.decode(&self.raw, &mut self.window, eof);
            }
            if self.scan_text_window(&mut base, &mut report_start, &mut lines, eof, on_match) {
                return Ok(true);
            }
            if eof {
                return Ok(false);
            }
        }
    }

    fn scan_binary(
        &mut self,
        reader: &mut dyn Read,
        mut eof: bool,
        read: &mut ReadCount,
        on_match: &mut dyn FnMut(Located<'e>) -> Flow,
    ) -> io::Result<bool> {
        // The UTF-16 views halve the window, so the raw window keeps twice
        // the margin to give them a full margin of their own.
        let margin = 2 * MARGIN;
        self.window.clear();
        self.window.extend_from_slice(&self.raw);
        let mut base = 0u64;
        let mut report_start = 0usize;
        loop {
            if !eof {
                let want = report_start + self.chunk + margin;
                eof = fill(reader, &mut self.window, want, read)?;
            }
            let end = report_end(self.window.len(), eof, margin);
            if end > report_start && self.scan_binary_window(base, report_start..end, on_match) {
                return Ok(true);
            }
            let keep_from = end.max(report_start).saturating_sub(margin);
            self.window.drain(..keep_from);
            base += keep_from as u64;
            report_start = end.max(report_start) - keep_from;
            if eof {
                return Ok(false);
            }
        }
    }

    /// Raw bytes, then the two wide views of one binary window.
    fn scan_binary_window(
        &mut self,
        base: u64,
        report: std::ops::Range<usize>,
        on_match: &mut dyn FnMut(Located<'e>) -> Flow,
    ) -> bool {
        let engine = self.engine;
        let raw = &self.window;
        let flow = engine.scan(raw, report.clone(), &mut |m: Match<'e>| {
            on_match(Located {
                offset: base + m.start as u64,
                length: (m.end - m.start) as u64,
                line: None,
                column: None,
                base64: None,
                m,
            })
        });
        if flow.is_break() {
            return true;
        }
        for parity in 0..2usize {
            narrow_wide(raw, parity, &mut self.view);
            // View byte k is raw byte parity + 2k; keep those in the range.
            let lo = report.start.saturating_sub(parity).div_ceil(2);
            let hi = report.end.saturating_sub(parity).div_ceil(2);
            let view = &self.view;
            let flow = engine.scan(view, lo..hi, &mut |m: Match<'e>| {
                on_match(Located {
                    offset: base + (2 * m.start + parity) as u64,
                    length: (2 * (m.end - m.start)) as u64,
                    line: None,
                    column: None,
                    base64: None,
                    m,
                })
            });
            if flow.is_break() {
                return true;
            }
        }
        false
    }
}

/// A match found in one segment of a large file, placed relative to the
/// segment; [`LineFixup`] turns that into a line and a column once the
/// segments before it are known.
#[derive(Debug, Clone)]
pub struct SegmentMatch<'e> {
    /// The match; `offset` is absolute, `line` and `column` are `None` until
    /// fixed up.
    pub located: Located<'e>,
    /// Newlines between the segment start and the match.
    pub newlines_before: u64,
    /// The column, if the match's line starts inside the segment.
    pub column_in_segment: Option<u64>,
    /// Code points from the segment start to the match.
    pub chars_from_start: u64,
}

/// What a segment contributes to the line count of the segments after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentTotals {
    pub newlines: u64,
    /// Code points after the segment's last newline (all of them if it has
    /// none).
    pub trailing_chars: u64,
    pub has_newline: bool,
    /// See [`StreamStats::base64_cut`].
    pub base64_cut: Option<u64>,
}

/// Turns segment-relative places into lines and columns, segment by
/// segment in file order.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineFixup {
    lines_before: u64,
    /// Code points between the last newline before the segment and its start.
    carry_chars: u64,
}

impl LineFixup {
    /// Line and column of a match of the current segment (text only).
    pub fn place(&self, m: &SegmentMatch<'_>) -> (u64, u64) {
        let line = self.lines_before + m.newlines_before + 1;
        let column = m
            .column_in_segment
            .unwrap_or(self.carry_chars + m.chars_from_start);
        (line, column + 1)
    }

    /// Moves past a finished segment.
    pub fn advance(&mut self, t: &SegmentTotals) {
        self.lines_before += t.newlines;
        self.carry_chars = if t.has_newline {
            t.trailing_chars
        } else {
            self.carry_chars + t.trailing_chars
        };
    }
}

impl<'e> StreamScanner<'e> {
    /// Scans bytes `range` of `file` (plain UTF-8 without BOM, or binary)
    /// as one buffer read with `pread`, plus margins on both sides, so that
    /// many threads can scan one large file at once. Offsets are absolute;
    /// lines are relative to the segment (see [`SegmentMatch`]).
    pub fn scan_segment(
        &mut self,
        file: &std::fs::File,
        file_len: u64,
        range: std::ops::Range<u64>,
        binary: bool,
        on_match: &mut dyn FnMut(SegmentMatch<'e>) -> Flow,
    ) -> io::Result<SegmentTotals> {
        use std::os::unix::fs::FileExt;
        let margin = if binary { 2 * MARGIN } else { MARGIN } as u64;
        let read_start = range.start.saturating_sub(margin);
        let read_end = (range.end + margin).min(file_len);
        let len = (read_end - read_start) as usize;
        // Keep the buffer's length across segments: only growth is zeroed.
        if self.window.len() < len {
            self.window.resize(len, 0);
        } else {
            self.window.truncate(len);
        }
        file.read_exact_at(&mut self.window, read_start)?;
        if let Some(p) = &self.progress {
            p.fetch_add(range.end - range.start, Ordering::Relaxed);
        }
        let report = (range.start - read_start) as usize..(range.end - read_start) as usize;
        let mut kin: Kin<'e, SegmentMatch<'e>> = Kin::default();
        let outer = on_match;
        let on_match = &mut |sm: SegmentMatch<'e>| {
            // The record is the line (newlines are counted from the
            // segment's start); binary data has no lines.
            let (offset, record) = (sm.located.offset, (!binary).then_some(sm.newlines_before));
            kin.push(sm, offset, record, outer)
        };
        if binary {
            self.scan_binary_window(read_start, report, &mut |l| {
                on_match(SegmentMatch {
                    located: l,
                    newlines_before: 0,
                    column_in_segment: None,
                    chars_from_start: 0,
                })
            });
            let _ = kin.finish(outer);
            return Ok(SegmentTotals::default());
        }
        // A base64 run this segment owns goes on past the margin: read on
        // (up to the run's bound) so that it is decoded whole.
        let mut read_end = read_end;
        while read_end < file_len
            && self.engine.base64()
            && base64::open_run_at_end(&self.window, report.clone())
        {
            let more = (file_len - read_end).min(self.chunk as u64) as usize;
            let old = self.window.len();
            self.window.resize(old + more, 0);
            file.read_exact_at(&mut self.window[old..], read_end)?;
            read_end += more as u64;
        }
        let engine = self.engine;
        self.read_header(file, file_len)?;
        let columns = self.header.as_ref().and_then(|(_, c)| c.as_ref());
        let buf = &self.window;
        let seg_start = report.start;
        let mut cursor = seg_start;
        let mut newlines = 0u64;
        // Places a match at window position `p` (line counts are relative
        // to the segment; positions come in any order).
        let mut place = |p: usize, length: usize, base64: Option<u64>, m: Match<'e>| {
            if p >= cursor {
                newlines += count_byte(&buf[cursor..p], b'\n') as u64;
            } else {
                newlines -= count_byte(&buf[p..cursor], b'\n') as u64;
            }
            cursor = p;
            let column_in_segment = memchr::memrchr(b'\n', &buf[seg_start..p])
                .map(|nl| count_chars(&buf[seg_start + nl + 1..p]));
            SegmentMatch {
                located: Located {
                    offset: read_start + p as u64,
                    length: length as u64,
                    line: None,
                    column: None,
                    base64,
                    m,
                },
                newlines_before: newlines,
                column_in_segment,
                chars_from_start: if column_in_segment.is_some() {
                    0
                } else {
                    count_chars(&buf[seg_start..p])
                },
            }
        };
        // Matches in base64 payloads, merged with the engine's in offset
        // order (same-kind evidence weighs them in order).
        let mut payload: std::collections::VecDeque<SegmentMatch<'e>> = Default::default();
        let _ = base64::scan(engine, buf, report.clone(), &mut self.b64, &mut |f| {
            let at = Some(read_start + f.run.start as u64);
            payload.push_back(place(f.encoded.start, f.encoded.len(), at, f.m));
            Flow::Continue(())
        });
        let base64_cut = self.b64.cut.take().map(|at| read_start + at as u64);
        let flow = engine.scan_table(buf, report.clone(), columns, &mut |m: Match<'e>| {
            let sm = place(m.start, m.end - m.start, None, m);
            while payload
                .front()
                .is_some_and(|p| p.located.offset < sm.located.offset)
            {
                on_match(payload.pop_front().expect("checked"))?;
            }
            on_match(sm)
        });
        if flow.is_continue() {
            for p in payload {
                if on_match(p).is_break() {
                    break;
                }
            }
        }
        let _ = kin.finish(outer);
        let body = &buf[report];
        let last_nl = memchr::memrchr(b'\n', body);
        Ok(SegmentTotals {
            newlines: count_byte(body, b'\n') as u64,
            trailing_chars: match last_nl {
                Some(nl) => count_chars(&body[nl + 1..]),
                None => count_chars(body),
            },
            has_newline: last_nl.is_some(),
            base64_cut,
        })
    }
}

impl StreamScanner<'_> {
    /// The named columns of a large text file scanned in segments, read
    /// from its first line once per file (and kept with the buffers).
    fn read_header(&mut self, file: &std::fs::File, file_len: u64) -> io::Result<()> {
        use std::os::unix::fs::{FileExt, MetadataExt};
        let meta = file.metadata()?;
        let key = (meta.dev(), meta.ino(), file_len);
        if self.header.as_ref().is_none_or(|(k, _)| *k != key) {
            let mut head = [0u8; 4096];
            let n = (file_len as usize).min(head.len());
            file.read_exact_at(&mut head[..n], 0)?;
            self.header = Some((key, self.engine.columns(&head[..n])));
        }
        Ok(())
    }
}

/// Every other byte of `raw` from `parity` on: kept if it is printable
/// ASCII (or tab or newline) with a NUL byte right before or after it, else
/// replaced by NUL.
fn narrow_wide(raw: &[u8], parity: usize, out: &mut Vec<u8>) {
    out.clear();
    let mut i = parity;
    while i < raw.len() {
        let ch = raw[i];
        let printable = (0x20..0x7F).contains(&ch) || ch == b'\n' || ch == b'\t';
        let nul_beside = raw.get(i + 1) == Some(&0) || (i > 0 && raw[i - 1] == 0);
        out.push(if printable && nul_beside { ch } else { 0 });
        i += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bytes() {
        let s = b"a\nb\n\nc".repeat(1000);
        assert_eq!(count_byte(&s, b'\n'), 3000);
        // Every length and place around the vector's 32-byte blocks and
        // its 255-block rounds, against a plain count.
        let text: Vec<u8> = (0..20_000u32)
            .map(|i| {
                if i % 7 == 0 || i % 11 == 0 {
                    b'\n'
                } else {
                    b'x'
                }
            })
            .collect();
        for (from, len) in [
            (0, 0),
            (1, 31),
            (3, 32),
            (5, 33),
            (0, 8160),
            (7, 8161),
            (0, 20_000),
            (13, 16_333),
        ] {
            let hay = &text[from..from + len];
            assert_eq!(
                count_byte(hay, b'\n'),
                hay.iter().filter(|&&b| b == b'\n').count(),
                "{from} {len}"
            );
        }
        assert_eq!(count_byte(&s[..5], b'\n'), 3);
        let big = vec![b'\n'; 16 * 300 + 7];
        assert_eq!(count_byte(&big, b'\n'), big.len());
    }

    #[test]
    fn detects_encodings() {
        assert_eq!(detect_encoding(b"hello"), Encoding::Utf8 { bom: false });
        assert_eq!(
            detect_encoding(b"\xEF\xBB\xBFhello"),
            Encoding::Utf8 { bom: true }
        );
        let le: Vec<u8> = "hello world, card"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(
            detect_encoding(&le),
            Encoding::Utf16 {
                big_endian: false,
                bom: false
            }
        );
        let be: Vec<u8> = "hello world, card"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(
            detect_encoding(&be),
            Encoding::Utf16 {
                big_endian: true,
                bom: false
            }
        );
        assert_eq!(
            detect_encoding(b"PNG\0\x01\x02\xff\xfe\x00abc"),
            Encoding::Binary
        );
    }

    /// Issue 12 item 8: UTF-16 without a BOM whose text is not Latin has
    /// almost no zero bytes; it is told by its code units.
    #[test]
    fn f8_non_latin_utf16_without_bom_is_detected() {
        let text = "کد ملی شما ۴۴۷۲۸۱۹۶۳۵ است و شماره کارت ۴۵۳۹۱۴۸۸۰۳۴۳۶۴۶۷ ثبت شد.\r\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert_eq!(
            detect_encoding(&le),
            Encoding::Utf16 {
                big_endian: false,
                bom: false
            }
        );
        assert_eq!(
            detect_encoding(&be),
            Encoding::Utf16 {
                big_endian: true,
                bom: false
            }
        );
        let ru: Vec<u8> = "Номер карты клиента указан в договоре, смотрите приложение."
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert!(matches!(
            detect_encoding(&ru),
            Encoding::Utf16 {
                big_endian: false,
                ..
            }
        ));
        // The same text in UTF-8 is UTF-8, and so is ASCII.
        assert_eq!(
            detect_encoding(text.as_bytes()),
            Encoding::Utf8 { bom: false }
        );
        assert_eq!(
            detect_encoding("plain ascii text, nothing else here at all, really".as_bytes()),
            Encoding::Utf8 { bom: false }
        );
        // Small binary integers are not text.
        let ints: Vec<u8> = (0u16..200).flat_map(|i| (i * 7).to_le_bytes()).collect();
        assert_ne!(
            detect_encoding(&ints),
            Encoding::Utf16 {
                big_endian: false,
                bom: false
            }
        );
    }

    #[test]
    fn utf16_decoder_handles_splits_and_bad_surrogates() {
        let text = "a😀b";
        let bytes: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        for cut in 0..bytes.len() {
            let mut d = Utf16Decoder {
                big_endian: false,
                pending: Vec::new(),
            };
            let mut out = Vec::new();
            d.decode(&bytes[..cut], &mut out, false);
            d.decode(&bytes[cut..], &mut out, true);
            assert_eq!(String::from_utf8(out).unwrap(), text, "cut at {cut}");
        }
        // A lone high surrogate, a lone low surrogate and an odd byte.
        let bad = [0x00, 0xD8, 0x41, 0x00, 0x00, 0xDC, 0x42];
        let mut d = Utf16Decoder {
            big_endian: false,
            pending: Vec::new(),
        };
        let mut out = Vec::new();
        d.decode(&bad, &mut out, true);
        assert_eq!(String::from_utf8(out).unwrap(), "\u{FFFD}A\u{FFFD}\u{FFFD}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        #[test]
        fn utf16_decoder_matches_std_across_any_split(
            // Mostly ASCII, so that runs of eight take the fast path.
            units in proptest::collection::vec(
                proptest::prop_oneof![
                    24 => 0x00u16..0x80,
                    // Latin-1 and units whose high byte alone is set: one
                    // byte of the pair looks like ASCII.
                    2 => 0x80u16..0x100,
                    2 => proptest::strategy::Strategy::prop_map(1u16..0xD8, |hi| hi << 8),
                    1 => 0x80u16..0xD800,
                    1 => 0xD800u16..0xE000,
                    1 => 0xE000u16..=0xFFFF,
                ],
                0..80,
            ),
            odd_tail in proptest::bool::ANY,
            cuts in proptest::collection::vec(0usize..170, 0..4),
            big_endian in proptest::bool::ANY,
        ) {
            let mut bytes: Vec<u8> = units
                .iter()
                .flat_map(|u| if big_endian { u.to_be_bytes() } else { u.to_le_bytes() })
                .collect();
            let mut want: String = char::decode_utf16(units.iter().copied())
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect();
            if odd_tail {
                bytes.push(0x41);
                want.push(char::REPLACEMENT_CHARACTER);
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut d = Utf16Decoder { big_endian, pending: Vec::new() };
            let mut out = Vec::new();
            let mut from = 0;
            for c in cuts {
                d.decode(&bytes[from..c], &mut out, false);
                from = c;
            }
            d.decode(&bytes[from..], &mut out, true);
            proptest::prop_assert_eq!(String::from_utf8(out).ok(), Some(want.clone()));
            // The whole-buffer forms (redaction's map, base64's payloads)
            // are the same decoder: the same text, and a map that points
            // at the unit each byte came from.
            let mut whole = Vec::new();
            decode_utf16(&bytes, big_endian, &mut whole);
            proptest::prop_assert_eq!(&whole, want.as_bytes());
            let (text, map) = decode_utf16_mapped(&bytes, big_endian, 3);
            proptest::prop_assert_eq!(&text, want.as_bytes());
            proptest::prop_assert_eq!(map.len(), text.len() + 1);
            proptest::prop_assert_eq!(map[text.len()], 3 + bytes.len());
            proptest::prop_assert!(map.windows(2).all(|w| w[0] <= w[1]));
            proptest::prop_assert!(map[..text.len()].iter().all(|&m| (m - 3) % 2 == 0));
        }
    }

    #[test]
    fn wide_views_see_both_byte_orders_once() {
        let le: Vec<u8> = "AB1".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let mut out = Vec::new();
        narrow_wide(&le, 0, &mut out);
        assert_eq!(out, b"AB1");
        narrow_wide(&le, 1, &mut out);
        assert_eq!(out, b"\0\0\0");
        // Big-endian, followed by a byte that is not NUL.
        let mut be: Vec<u8> = "AB1".encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        be.push(0x99);
        narrow_wide(&be, 1, &mut out);
        assert_eq!(out, b"AB1");
        narrow_wide(&be, 0, &mut out);
        assert_eq!(out, b"\0\0\0\0");
    }
}
