//! Base64 payloads: finds runs of base64 in a text window, decodes those
//! that hold text, and scans the decoded text with the same engine.
//!
//! Bytes enter as a window of text (the buffer the stream scanner hands the
//! engine) with its report range; matches found in decoded payloads leave
//! through a callback with the place of the run that held them. This is a
//! second, separate pass over the window, after the engine's own: the
//! engine's single pass stays as it was, and this one costs one AVX2
//! nibble lookup and a few shifts per 64 bytes, plus a cheap first look
//! at each run of 16 (docs/DESIGN.md, "Written forms"; what it costs:
//! README, "Performance").
//!
//! What counts as a payload:
//! - a *run*: at least [`MIN_RUN`] bytes of the base64 alphabets
//!   (`A-Za-z0-9` with `+/` or with `-_`, not both), then up to two `=`;
//! - that decodes to *text*: UTF-8 (or UTF-16LE, with a BOM or a zero byte
//!   in at least two of five odd places) of which at least
//!   [`PRINTABLE_PERCENT`] % of the characters are printable. Base64 of
//!   images, keys, hashes and random bytes fails this at once (a random
//!   byte is printable ASCII about one time in three).
//!
//! Depth is 1: the decoded text goes to [`Engine::scan`], never back here,
//! so base64 inside decoded base64 is not decoded again. A run is decoded
//! up to [`MAX_DECODED`] bytes; a longer one is cut there and the caller
//! is told ([`Scratch::cut`]) so the file is reported `partial`.

use std::ops::Range;

use super::{Engine, Flow, Match};

/// Whether the pass is on when nothing asks (`Engine::new`): off until it
/// is cheap enough for every scan (docs/DESIGN.md, "Written forms").
pub const DEFAULT_ON: bool = false;

/// The shortest run decoded, in alphabet bytes (padding not counted): 16
/// characters hold 12 bytes, the shortest national ID alone (base64 of a
/// bare 12-digit number is 16 characters).
pub const MIN_RUN: usize = 16;

/// The most bytes one run is decoded to (1 MiB); what follows is not
/// decoded and the scan is `partial`.
pub const MAX_DECODED: usize = 1 << 20;

/// Base64 bytes that decode to [`MAX_DECODED`] bytes.
pub const MAX_RUN: usize = MAX_DECODED / 3 * 4;

/// Share of printable characters the decoded text must have, in percent.
pub const PRINTABLE_PERCENT: usize = 90;

/// Bytes decoded first to judge a run, before the whole run is decoded.
const PROBE: usize = 48;

/// Reusable buffers of the pass, kept by the stream scanner.
#[derive(Debug, Default)]
pub struct Scratch {
    decoded: Vec<u8>,
    utf8: Vec<u8>,
    /// Offset (in the caller's buffer) of the first run cut at
    /// [`MAX_DECODED`] since the caller last took it.
    pub cut: Option<usize>,
}

impl Scratch {
    /// Drops buffers grown by one very long run.
    pub fn shrink(&mut self) {
        for b in [&mut self.decoded, &mut self.utf8] {
            b.clear();
            if b.capacity() > 1 << 20 {
                b.shrink_to(64 << 10);
            }
        }
    }
}

/// A match found in a decoded run.
#[derive(Debug)]
pub struct Found<'e> {
    /// The match; its `start` and `end` are offsets in the decoded text.
    pub m: Match<'e>,
    /// The run in the caller's buffer (padding included).
    pub run: Range<usize>,
    /// The base64 bytes that encode the match, in the caller's buffer (for
    /// UTF-16 payloads, the whole run).
    pub encoded: Range<usize>,
}

/// Bit set for the bytes of either base64 alphabet (not `=`).
static ALPHABET: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
        i += 1;
    }
    t
};

/// Whether `b` is in either base64 alphabet (padding excluded).
#[inline(always)]
pub fn is_alphabet(b: u8) -> bool {
    ALPHABET[b as usize]
}

/// The six bits of a base64 character of either alphabet.
static SEXTET: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0u8;
    while i < 26 {
        t[(b'A' + i) as usize] = i;
        t[(b'a' + i) as usize] = 26 + i;
        i += 1;
    }
    let mut d = 0u8;
    while d < 10 {
        t[(b'0' + d) as usize] = 52 + d;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'-' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'_' as usize] = 63;
    t
};

/// 64-bit mask of the alphabet bytes of `buf[at..at + 64]` (bytes past the
/// end count as not in it). `avx2`: the CPU has AVX2 and the caller is
/// compiled for it (so the lookup inlines).
#[inline(always)]
fn mask64(avx2: bool, buf: &[u8], at: usize) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if avx2 && let Some(block) = buf.get(at..at + 64) {
        // SAFETY: `avx2` is true only when the CPU has AVX2 (checked once
        // in `Engine::new`); the block has 64 bytes.
        return unsafe { x86::mask64_avx2(block.as_ptr()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = avx2;
    mask64_scalar(buf, at)
}

/// [`mask64`] one byte at a time.
fn mask64_scalar(buf: &[u8], at: usize) -> u64 {
    let end = (at + 64).min(buf.len());
    let mut m = 0u64;
    for (i, &b) in buf[at.min(end)..end].iter().enumerate() {
        m |= (is_alphabet(b) as u64) << i;
    }
    m
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// The alphabet mask of 64 bytes by nibble lookup: the low nibble and
    /// the high nibble each select a set of classes, and a byte is in the
    /// alphabet when the two sets meet. Classes: bit 0 `+-/` (high 2), bit
    /// 1 digits (high 3), bit 2 `A-O`/`a-o` (high 4, 6), bit 3 `P-Z`/`p-z`
    /// (high 5, 7), bit 4 `_` (high 5). Bytes from 0x80 look up 0 (the
    /// shuffle zeroes them).
    ///
    /// # Safety
    /// The CPU must have AVX2 and `p` must point to 64 readable bytes.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn mask64_avx2(p: *const u8) -> u64 {
        const LO: [i8; 16] = {
            let mut t = [0i8; 16];
            let mut l = 0;
            while l < 16 {
                let mut bits = 0u8;
                if l == 0xB || l == 0xD || l == 0xF {
                    bits |= 1;
                }
                if l <= 9 {
                    bits |= 2;
                }
                if l >= 1 {
                    bits |= 4;
                }
                if l <= 0xA {
                    bits |= 8;
                }
                if l == 0xF {
                    bits |= 16;
                }
                t[l] = bits as i8;
                l += 1;
            }
            t
        };
        const HI: [i8; 16] = [0, 0, 1, 2, 4, 8 | 16, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0];
        unsafe {
            let lo_t = _mm256_broadcastsi128_si256(_mm_loadu_si128(LO.as_ptr().cast()));
            let hi_t = _mm256_broadcastsi128_si256(_mm_loadu_si128(HI.as_ptr().cast()));
            let nib = _mm256_set1_epi8(0x0F);
            let zero = _mm256_setzero_si256();
            let mut out = 0u64;
            for half in 0..2 {
                let v = _mm256_loadu_si256(p.add(32 * half).cast());
                // Bytes >= 0x80 have bit 7 set: the shuffle gives 0.
                let lo = _mm256_shuffle_epi8(lo_t, v);
                let hi = _mm256_shuffle_epi8(hi_t, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib));
                let none = _mm256_cmpeq_epi8(_mm256_and_si256(lo, hi), zero);
                let m = !(_mm256_movemask_epi8(none) as u32);
                out |= (m as u64) << (32 * half);
            }
            out
        }
    }
}

/// Calls `f` with every maximal run of alphabet bytes at least [`MIN_RUN`]
/// long that starts in `from..to` (a run going on from before `from` is
/// not one: the window before owns it). A run may end past `to`, up to the
/// end of `buf`. Stops when `f` breaks.
pub fn for_each_run(
    avx2: bool,
    buf: &[u8],
    from: usize,
    to: usize,
    f: &mut dyn FnMut(Range<usize>) -> Flow,
) -> Flow {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only when the CPU has AVX2.
        return unsafe { for_each_run_avx2(buf, from, to, f) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = avx2;
    runs_with(false, buf, from, to, f)
}

/// [`for_each_run`] compiled for AVX2, so that the lookup inlines.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn for_each_run_avx2(
    buf: &[u8],
    from: usize,
    to: usize,
    f: &mut dyn FnMut(Range<usize>) -> Flow,
) -> Flow {
    runs_with(true, buf, from, to, f)
}

#[inline(always)]
fn runs_with(
    avx2: bool,
    buf: &[u8],
    from: usize,
    to: usize,
    f: &mut dyn FnMut(Range<usize>) -> Flow,
) -> Flow {
    let to = to.min(buf.len());
    let mut p = from;
    // Skip a run that began before `from`.
    if p > 0 && p < buf.len() && is_alphabet(buf[p - 1]) {
        p = run_end(avx2, buf, p);
    }
    // The fast loop looks at 64 bytes and the 15 after them: one AVX2
    // lookup per 64 bytes and a few shifts tell whether 16 alphabet bytes
    // in a row start there. Every run of 16 is seen in the block where it
    // starts (a run that started in an earlier block was seen and walked
    // there), so the first such bit is a run's start, or lies in a run
    // that starts at `p`. `w` is the mask of the 128 bytes from `base`,
    // with the bits below `p` (taken by the last run) cleared: a run's end
    // and the next run are read from it, and only a run that goes past it
    // costs more lookups (most runs of a log are 16 to 40 bytes).
    let mut base = p;
    let mut w = mask128(avx2, buf, base);
    while base < to {
        let starts = runs16_128(w);
        if starts == 0 {
            base += 64;
            w = w >> 64 | (mask64(avx2, buf, base + 64) as u128) << 64;
            continue;
        }
        let i = starts.trailing_zeros() as usize;
        let at = base + i;
        let mut start = at;
        while start > p && is_alphabet(buf[start - 1]) {
            start -= 1;
        }
        if start >= to {
            break;
        }
        let ones = (w >> i).trailing_ones() as usize;
        let end = if i + ones < 128 {
            at + ones
        } else {
            run_end(avx2, buf, base + 128)
        };
        f(start..end)?;
        p = end;
        if end < base + 128 {
            if end >= base + 64 {
                base += 64;
                w = w >> 64 | (mask64(avx2, buf, base + 64) as u128) << 64;
            }
            w &= !0u128 << (end - base);
        } else {
            base = end;
            w = mask128(avx2, buf, base);
        }
    }
    Flow::Continue(())
}

/// The alphabet mask of the 128 bytes from `at` (see [`mask64`]).
#[inline(always)]
fn mask128(avx2: bool, buf: &[u8], at: usize) -> u128 {
    mask64(avx2, buf, at) as u128 | (mask64(avx2, buf, at + 64) as u128) << 64
}

/// Bits `i` of the low 64 of `m` that start 16 set bits in a row.
#[inline(always)]
fn runs16_128(m: u128) -> u64 {
    let mut x = m & (m >> 1);
    x &= x >> 2;
    x &= x >> 4;
    (x & (x >> 8)) as u64
}

/// The end of the run of alphabet bytes that goes on at `p`.
#[inline(always)]
fn run_end(avx2: bool, buf: &[u8], mut p: usize) -> usize {
    loop {
        let m = mask64(avx2, buf, p);
        let t = m.trailing_ones() as usize;
        if t < 64 {
            return (p + t).min(buf.len());
        }
        p += 64;
    }
}

/// Which characters a run uses for 62 and 63.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alphabet {
    Standard,
    UrlSafe,
}

/// The alphabet of a run: `None` when it mixes `+/` with `-_` (a path or
/// a word list, not base64).
fn alphabet_of(run: &[u8]) -> Option<Alphabet> {
    let std = memchr::memchr2(b'+', b'/', run).is_some();
    let url = memchr::memchr2(b'-', b'_', run).is_some();
    match (std, url) {
        (true, true) => None,
        (false, true) => Some(Alphabet::UrlSafe),
        _ => Some(Alphabet::Standard),
    }
}

/// Decodes base64 characters (one alphabet, no padding) onto `out`; a
/// dangling sixth-bit character at the end is dropped.
fn decode_into(chars: &[u8], out: &mut Vec<u8>) {
    out.reserve(chars.len() / 4 * 3 + 3);
    let mut quads = chars.chunks_exact(4);
    for q in &mut quads {
        let n = (SEXTET[q[0] as usize] as u32) << 18
            | (SEXTET[q[1] as usize] as u32) << 12
            | (SEXTET[q[2] as usize] as u32) << 6
            | SEXTET[q[3] as usize] as u32;
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let r = quads.remainder();
    if r.len() >= 2 {
        let mut n = (SEXTET[r[0] as usize] as u32) << 18 | (SEXTET[r[1] as usize] as u32) << 12;
        if r.len() == 3 {
            n |= (SEXTET[r[2] as usize] as u32) << 6;
        }
        out.push((n >> 16) as u8);
        if r.len() == 3 {
            out.push((n >> 8) as u8);
        }
    }
}

/// How decoded bytes read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    Utf8,
    Utf16Le,
}

/// Whether `bytes` look like UTF-16LE: a BOM, or a zero byte in at least
/// two of five odd places (ASCII and Latin text) with few in even places.
fn looks_utf16le(bytes: &[u8]) -> bool {
    if bytes.starts_with(&[0xFF, 0xFE]) {
        return true;
    }
    let pairs = bytes.len() / 2;
    if pairs < 4 {
        return false;
    }
    let (mut even, mut odd) = (0usize, 0usize);
    for p in bytes.chunks_exact(2) {
        even += usize::from(p[0] == 0);
        odd += usize::from(p[1] == 0);
    }
    odd * 5 >= pairs * 2 && even * 10 <= pairs
}

/// Whether at least [`PRINTABLE_PERCENT`] % of the characters of `text`
/// (UTF-8; an invalid byte counts as one character that is not) are
/// printable: not control characters other than tab, CR and LF.
fn printable_utf8(text: &[u8]) -> bool {
    let (mut good, mut all) = (0usize, 0usize);
    for chunk in text.utf8_chunks() {
        for ch in chunk.valid().chars() {
            all += 1;
            good += usize::from(!ch.is_control() || matches!(ch, '\t' | '\n' | '\r'));
        }
        all += chunk.invalid().len();
    }
    all > 0 && good * 100 >= all * PRINTABLE_PERCENT
}

/// Whether the probe (the first bytes decoded) can start text: judged as
/// UTF-8 or as UTF-16LE. A multi-byte character cut by the probe's end is
/// not held against it.
fn probe_kind(probe: &[u8]) -> Option<TextKind> {
    if looks_utf16le(probe) {
        return Some(TextKind::Utf16Le);
    }
    let mut p = probe;
    // Drop a UTF-8 sequence cut at the end.
    let cut = p.iter().rev().take(3).position(|&b| b >= 0xC0);
    if let Some(k) = cut {
        p = &p[..p.len() - k - 1];
    }
    printable_utf8(p).then_some(TextKind::Utf8)
}

/// A first, cheap look at a run: its first 8 characters must decode to 6
/// bytes that can start text: printable ASCII and whitespace, or the
/// start of valid UTF-8 (no control character), or UTF-16LE text (see
/// below), or a UTF-16LE BOM.
/// Random bytes pass about two times in a hundred, hex strings and URL
/// paths (`/api/v1/users`) almost never: most runs of a log stop here.
fn quick_text(chars: &[u8]) -> bool {
    let mut b = [0u8; 6];
    for (q, out) in chars.chunks_exact(4).zip(b.chunks_exact_mut(3)) {
        let n = (SEXTET[q[0] as usize] as u32) << 18
            | (SEXTET[q[1] as usize] as u32) << 12
            | (SEXTET[q[2] as usize] as u32) << 6
            | SEXTET[q[3] as usize] as u32;
        out.copy_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let ascii = |x: u8| (0x20..0x7F).contains(&x) || matches!(x, b'\t' | b'\n' | b'\r');
    // UTF-16LE: a zero high byte among the first three units (the probe
    // then wants two in five; CJK text has spaces and ASCII digits too),
    // or three high bytes of scripts below U+0F00 (`łść`, Arabic ...).
    let utf16 = b[1] == 0 || b[3] == 0 || b[5] == 0 || b[1].max(b[3]).max(b[5]) <= 0x0E;
    if b.starts_with(&[0xFF, 0xFE]) || utf16 || b.iter().all(|&x| ascii(x)) {
        return true;
    }
    match std::str::from_utf8(&b) {
        Ok(s) => s
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r')),
        // A character cut at the end is fine; anything else is not text.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&b[..e.valid_up_to()]).is_ok_and(|s| {
                s.chars()
                    .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
            })
        }
        Err(_) => false,
    }
}

/// UTF-16LE bytes as UTF-8 text (a lone surrogate or an odd byte as
/// U+FFFD).
fn utf16le_to_utf8(bytes: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let body = bytes.strip_prefix(&[0xFF, 0xFE]).unwrap_or(bytes);
    // The engine's one decoder (`stream::decode_utf16`).
    super::stream::decode_utf16(body, false, out);
}

/// The run `run` of `buf` with its padding: the `=` after it (at most
/// two).
pub fn with_padding(buf: &[u8], run: Range<usize>) -> Range<usize> {
    let pad = buf[run.end..]
        .iter()
        .take(2)
        .take_while(|&&b| b == b'=')
        .count();
    run.start..run.end + pad
}

/// Decodes run `run` of `buf` if it holds text: the decoded text (UTF-8)
/// and its kind, in `scratch`. `None` when it is not base64 of text.
fn decode_text<'s>(
    buf: &[u8],
    run: Range<usize>,
    scratch: &'s mut Scratch,
) -> Option<(&'s [u8], TextKind)> {
    let chars = &buf[run.clone()];
    if !quick_text(&chars[..8]) {
        return None;
    }
    alphabet_of(chars)?;
    let probe_chars = &chars[..chars.len().min(PROBE / 3 * 4)];
    scratch.decoded.clear();
    decode_into(probe_chars, &mut scratch.decoded);
    let kind = probe_kind(&scratch.decoded)?;
    let chars = if chars.len() > MAX_RUN {
        scratch.cut.get_or_insert(run.start);
        &chars[..MAX_RUN]
    } else {
        chars
    };
    if chars.len() > probe_chars.len() {
        scratch.decoded.clear();
        decode_into(chars, &mut scratch.decoded);
    }
    match kind {
        TextKind::Utf8 => {
            printable_utf8(&scratch.decoded).then_some((&scratch.decoded[..], TextKind::Utf8))
        }
        TextKind::Utf16Le => {
            if !looks_utf16le(&scratch.decoded) {
                return None;
            }
            utf16le_to_utf8(&scratch.decoded, &mut scratch.utf8);
            printable_utf8(&scratch.utf8).then_some((&scratch.utf8[..], TextKind::Utf16Le))
        }
    }
}

/// Scans the base64 payloads of `buf` whose runs start in `report`: each
/// run that decodes to text is scanned whole with `engine`, and every
/// match is handed to `on_match`. Returns `Break` if `on_match` asked to
/// stop. Does nothing when the engine has the pass off
/// ([`Engine::base64`]).
pub fn scan<'e>(
    engine: &'e Engine,
    buf: &[u8],
    report: Range<usize>,
    scratch: &mut Scratch,
    on_match: &mut dyn FnMut(Found<'e>) -> Flow,
) -> Flow {
    if !engine.base64() {
        return Flow::Continue(());
    }
    let avx2 = engine.has_avx2();
    for_each_run(avx2, buf, report.start, report.end, &mut |run| {
        let Some((text, kind)) = decode_text(buf, run.clone(), scratch) else {
            return Flow::Continue(());
        };
        let padded = with_padding(buf, run.clone());
        engine.scan(text, 0..text.len(), &mut |m: Match<'e>| {
            let encoded = match kind {
                // Decoded byte i comes from characters 4 * (i / 3) ..
                TextKind::Utf8 => {
                    let s = run.start + m.start / 3 * 4;
                    let e = (run.start + m.end.div_ceil(3) * 4).min(run.end);
                    s..e
                }
                TextKind::Utf16Le => padded.clone(),
            };
            on_match(Found {
                m,
                run: padded.clone(),
                encoded,
            })
        })
    })
}

/// Encodes `bytes` as base64 in `alphabet`, with padding when `pad`.
fn encode_into(bytes: &[u8], alphabet: Alphabet, pad: bool, out: &mut Vec<u8>) {
    let abc: &[u8; 64] = match alphabet {
        Alphabet::Standard => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        Alphabet::UrlSafe => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    };
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..=c.len() {
            out.push(abc[(n >> (18 - 6 * k) & 63) as usize]);
        }
        if pad {
            out.extend(std::iter::repeat_n(b'=', 3 - c.len()));
        }
    }
}

/// A payload that cannot be rewritten: a UTF-16 file, or one cut at
/// [`MAX_DECODED`] whose edit changes its length.
#[derive(Debug, thiserror::Error)]
#[error("the base64 payload at byte {at} holds a match but cannot be rewritten: {why}")]
pub struct RewriteError {
    pub at: usize,
    pub why: &'static str,
}

/// For redaction: `text` with every base64 payload that `edit` changes
/// encoded again, in its alphabet and with its padding (`None` when no
/// payload changed). `edit` gets the decoded text of each payload (UTF-8)
/// and returns its new text, or `None` to leave it. A UTF-16LE payload is
/// written back as UTF-16LE (with its BOM, if it had one). Payloads are
/// found as the scanner finds them (the same runs, the same text test).
pub fn rewrite_payloads(
    avx2: bool,
    text: &[u8],
    edit: &mut dyn FnMut(&[u8]) -> Option<Vec<u8>>,
) -> Result<Option<Vec<u8>>, RewriteError> {
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let mut copied = 0usize;
    let mut error = None;
    let _ = for_each_run(avx2, text, 0, text.len(), &mut |run| {
        let Some(alphabet) = alphabet_of(&text[run.clone()]) else {
            return Flow::Continue(());
        };
        let Some((decoded, kind)) = decode_text(text, run.clone(), &mut scratch) else {
            return Flow::Continue(());
        };
        let original_len = decoded.len();
        let Some(edited) = edit(decoded) else {
            return Flow::Continue(());
        };
        let padded = with_padding(text, run.clone());
        let pad = padded.end > run.end;
        let cut = run.len() > MAX_RUN;
        let bytes = match kind {
            TextKind::Utf8 => edited,
            TextKind::Utf16Le => {
                let mut units: Vec<u8> = Vec::with_capacity(edited.len() * 2 + 2);
                if scratch.decoded.starts_with(&[0xFF, 0xFE]) {
                    units.extend_from_slice(&[0xFF, 0xFE]);
                }
                let s = String::from_utf8_lossy(&edited);
                units.extend(s.encode_utf16().flat_map(|u| u.to_le_bytes()));
                units
            }
        };
        if cut && (kind == TextKind::Utf16Le || bytes.len() != original_len) {
            error = Some(RewriteError {
                at: run.start,
                why: "it decodes to more than 1 MiB and its edit changes its length",
            });
            return Flow::Break(());
        }
        out.extend_from_slice(&text[copied..run.start]);
        encode_into(&bytes, alphabet, pad && !cut, &mut out);
        copied = if cut { run.start + MAX_RUN } else { padded.end };
        Flow::Continue(())
    });
    if let Some(e) = error {
        return Err(e);
    }
    if copied == 0 {
        return Ok(None);
    }
    out.extend_from_slice(&text[copied..]);
    Ok(Some(out))
}

/// Whether the window's buffer ends inside a run that starts in `report`
/// and is shorter than [`MAX_RUN`]: the caller should read more before
/// scanning, so that the run is decoded whole.
pub fn open_run_at_end(buf: &[u8], report: Range<usize>) -> bool {
    let Some(&last) = buf.last() else {
        return false;
    };
    if !is_alphabet(last) {
        return false;
    }
    let start = buf
        .iter()
        .rposition(|&b| !is_alphabet(b))
        .map_or(0, |i| i + 1);
    start >= report.start && start < report.end && buf.len() - start < MAX_RUN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(buf: &[u8], from: usize, to: usize, avx2: bool) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let _ = for_each_run(avx2, buf, from, to, &mut |r| {
            out.push(r);
            Flow::Continue(())
        });
        out
    }

    /// The runs by a plain loop: the definition the fast path must agree
    /// with.
    fn runs_slow(buf: &[u8], from: usize, to: usize) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < buf.len() {
            if !is_alphabet(buf[i]) {
                i += 1;
                continue;
            }
            let s = i;
            while i < buf.len() && is_alphabet(buf[i]) {
                i += 1;
            }
            if s >= from && s < to && i - s >= MIN_RUN {
                out.push(s..i);
            }
        }
        out
    }

    #[test]
    fn alphabet_mask_agrees_with_the_table() {
        let all: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        for at in [0usize, 64, 128, 192, 256, 448] {
            let want = mask64(false, &all, at);
            #[cfg(target_arch = "x86_64")]
            if is_x86_feature_detected!("avx2") {
                assert_eq!(mask64(true, &all, at), want, "at {at}");
            }
            for i in 0..64 {
                assert_eq!(want >> i & 1 == 1, is_alphabet(all[at + i]));
            }
        }
    }

    #[test]
    fn decodes_both_alphabets_with_and_without_padding() {
        let mut out = Vec::new();
        decode_into(b"aGVsbG8gd29ybGQ", &mut out);
        assert_eq!(out, b"hello world");
        out.clear();
        decode_into(b"-_-_", &mut out);
        assert_eq!(out, [0xfb, 0xff, 0xbf]);
        out.clear();
        decode_into(b"+/+/", &mut out);
        assert_eq!(out, [0xfb, 0xff, 0xbf]);
    }

    #[test]
    fn encodes_what_it_decodes() {
        for len in 0..20usize {
            let bytes: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
            for alphabet in [Alphabet::Standard, Alphabet::UrlSafe] {
                let mut chars = Vec::new();
                encode_into(&bytes, alphabet, false, &mut chars);
                let mut back = Vec::new();
                decode_into(&chars, &mut back);
                assert_eq!(back, bytes);
            }
        }
    }

    /// The finder (with and without AVX2) against `runs_slow` on
    /// `bytes[from..from + len]`, both clamped to the bytes.
    fn agrees_with_a_plain_loop(
        bytes: &[u8],
        from: usize,
        len: usize,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let from = from.min(bytes.len());
        let to = (from + len).min(bytes.len());
        let want = runs_slow(bytes, from, to);
        proptest::prop_assert_eq!(runs(bytes, from, to, false), want.clone());
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") {
            proptest::prop_assert_eq!(runs(bytes, from, to, true), want);
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        #[test]
        fn runs_agree_with_a_plain_loop(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![8 => proptest::sample::select(b"aZ09+/-_".to_vec()), 1 => proptest::sample::select(b" .=:\n\x80".to_vec())],
                0..400,
            ),
            from in 0usize..400,
            len in 0usize..400,
        ) {
            agrees_with_a_plain_loop(&bytes, from, len)?;
        }

        /// Long runs (past the finder's 128-byte mask, ending in any place
        /// of it) and runs that follow each other closely.
        #[test]
        fn long_runs_agree_with_a_plain_loop(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![60 => proptest::sample::select(b"aZ09+/-_".to_vec()), 1 => proptest::sample::select(b" .=:\n\x80".to_vec())],
                0..1200,
            ),
            from in 0usize..1200,
            len in 0usize..1200,
        ) {
            agrees_with_a_plain_loop(&bytes, from, len)?;
        }
    }
}
