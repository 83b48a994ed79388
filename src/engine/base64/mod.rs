//! Base64 payloads: finds runs of base64 in a text window, decodes those
//! that hold text, and scans the decoded text with the same engine.
//!
//! Bytes enter as a window of text (the buffer the stream scanner hands the
//! engine) with its report range; matches found in decoded payloads leave
//! through a callback with the place of the run that held them. This is a
//! second, separate pass over the window, before the engine's own: the
//! engine's single pass stays as it was. On CPUs with AVX-512 VBMI2 and
//! GFNI the runs are found 512 bytes at a time (`wide.rs`); elsewhere one
//! AVX2 nibble lookup and a few shifts per 64 bytes find them, plus a
//! cheap first look at each run of 24 (docs/DESIGN.md, "Written forms";
//! what it costs: README, "Performance").
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

#[cfg(target_arch = "x86_64")]
mod wide;

/// Whether the pass is on when nothing asks (`Engine::new`): on, since the
/// 512-bit finder (`wide.rs`) brought its cost on the benchmark log under a
/// tenth of a scan (README, "Performance"); `--no-base64` or
/// `limits.base64: false` turn it off.
pub const DEFAULT_ON: bool = true;

/// The shortest run decoded, in alphabet bytes (padding not counted): 24
/// characters hold 18 bytes, as issue 12 sets ("at least ~24
/// characters"); base64 of a bare 16-digit card is 24 characters. A
/// shorter payload (an SSN alone, `123-45-6789`, is 15 characters, 16
/// with its padding) is not decoded: the documented limit (docs/DESIGN.md,
/// "Written forms"). The finder rejects shorter runs by mask arithmetic
/// (`runs24_128`), so the many 16-23 character runs of a log (ids,
/// tokens) cost nothing.
pub const MIN_RUN: usize = 24;

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
    /// The characters of a wrapped payload, lines joined.
    joined: Vec<u8>,
    /// Offset (in the caller's buffer) of the first run cut at
    /// [`MAX_DECODED`] since the caller last took it.
    pub cut: Option<usize>,
}

impl Scratch {
    /// Drops buffers grown by one very long run.
    pub fn shrink(&mut self) {
        for b in [&mut self.decoded, &mut self.utf8, &mut self.joined] {
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
const SEXTETS: [u8; 256] = {
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

/// [`SEXTETS`] for lookups at run time.
static SEXTET: [u8; 256] = SEXTETS;

/// How the pass looks for runs: chosen once per engine
/// ([`Engine::base64_finder`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Finder {
    /// The CPU has AVX2 (the caller checked it once).
    pub avx2: bool,
    /// The CPU has AVX-512 F, BW, VBMI and VBMI2 ([`has_avx512`]): runs are
    /// found 512 bytes at a time (`wide.rs`).
    pub avx512: bool,
    /// Every rule of the engine needs three digits in a row or an IBAN's
    /// head, so a run without a pair of [`PAIRS`] is dropped unread
    /// ([`may_hold_number`]). Off when a rule can match with fewer digits
    /// (a user regex, a digits rule whose every group is shorter than 3).
    pub digits: bool,
}

/// The pairs of adjacent base64 characters (by their six bits, so `+`
/// stands for `-` and `/` for `_` too) that any base64 of text holding a
/// number of the shipped kinds contains: each row is a first character
/// and the characters that may follow it.
///
/// Why a pair must be there: every digits rule's every written form has
/// three digits in a row (bare runs of 9 or more, groups such as 4-4-4-4,
/// 3-2-4, 3-6-1; an IBAN's head is two letters and two digits), and a
/// digit is a fixed byte pattern. Three ASCII digits cover the three
/// places of a 3-byte group, so the one in first place encodes as `M`,
/// `N` or `O` and the character next to it is fixed too (`[MNO][DTjz]`,
/// `[wxyz0-5][MNO]`; in UTF-16LE `[MNO][AQgw]`). The rest are the other
/// forms: an IBAN's head `CCdd` in either case (a letter in first place
/// then a digit: `[Q-W][DTjz]`, `[Y-e][DTjz]`), and Arabic-Indic,
/// Persian, Devanagari, Bengali and full-width digits in UTF-8 and
/// UTF-16LE. For each form and each of the three alignments the table
/// holds every pair at one place that is fixed by the digits alone,
/// chosen where the pairs are rarest in logs. The test
/// `every_number_form_encodes_to_a_listed_pair` checks every digit value,
/// script, letter, encoding and alignment; hex ids, UUIDs and lower-case
/// paths hold none of these pairs.
const PAIR_ROWS: &[(&[u8], &[u8])] = &[
    (b"A", b"BDGMNOPZbn"),
    (b"B", b"mv"),
    (b"C", b"ln"),
    (b"G", b"YZa"),
    (b"M", b"DTjz"),
    (b"N", b"DTjmuz"),
    (b"O", b"DT"),
    (b"Q", b"TZbjnz"),
    (b"R", b"DTjz"),
    (b"S", b"DTjz"),
    (b"T", b"DTjz"),
    (b"U", b"DTjz"),
    (b"V", b"DTjz"),
    (b"W", b"DTj"),
    (b"Y", b"Tjz"),
    (b"Z", b"DTjopqz"),
    (b"a", b"DTjz"),
    (b"b", b"DTjstuz"),
    (b"c", b"DTjz"),
    (b"d", b"DTjmuz"),
    (b"e", b"DTj"),
    (b"g", b"Zbnp"),
    (b"m", b"C4"),
    (b"n", b"C4"),
    (b"o", b"C4"),
    (b"p", b"C4"),
    (b"q", b"C4"),
    (b"r", b"C4"),
    (b"s", b"C4"),
    (b"t", b"Cmu4"),
    (b"u", b"C4"),
    (b"v", b"Cv4"),
    (b"w", b"MNOZbn"),
    (b"x", b"MNO"),
    (b"y", b"MNO"),
    (b"z", b"MNO"),
    (b"0", b"MNO"),
    (b"1", b"MNO"),
    (b"2", b"MNO"),
    (b"3", b"MNO"),
    (b"4", b"MNO"),
    (b"5", b"MNO"),
    (b"7", b"y"),
    (b"8", b"QRSTUVWXYZklm"),
    (b"9", b"mu"),
    (b"/", b"x"),
];

/// [`PAIR_ROWS`] as bits: bit `b` of row `a` is the pair of sextets
/// `a`, `b`.
static PAIRS: [u64; 64] = {
    let mut t = [0u64; 64];
    let mut r = 0;
    while r < PAIR_ROWS.len() {
        let (first, seconds) = PAIR_ROWS[r];
        let a = SEXTETS[first[0] as usize] as usize;
        let mut k = 0;
        while k < seconds.len() {
            t[a] |= 1 << SEXTETS[seconds[k] as usize];
            k += 1;
        }
        r += 1;
    }
    t
};

/// Whether the base64 characters `chars` hold a pair of [`PAIRS`]: when
/// not, they cannot decode to text that holds a number any rule of a
/// [`Finder::digits`] engine accepts, in UTF-8 or UTF-16LE.
pub fn may_hold_number(chars: &[u8]) -> bool {
    let Some((&first, rest)) = chars.split_first() else {
        return false;
    };
    let mut row = PAIRS[(SEXTET[first as usize] & 63) as usize];
    for &c in rest {
        let s = SEXTET[c as usize] & 63;
        if row >> s & 1 != 0 {
            return true;
        }
        row = PAIRS[s as usize];
    }
    false
}

/// 64-bit mask of the alphabet bytes of `buf[at..at + 64]` (bytes past the
/// end count as not in it). `avx2`: the CPU has AVX2 and the caller is
/// compiled for it (so the lookup inlines).
#[inline(always)]
fn mask64(avx2: bool, buf: &[u8], at: usize) -> u64 {
    masks64(avx2, buf, at).0
}

/// [`mask64`], and the mask of those alphabet bytes that are not hex
/// digits or `-` (`0-9a-f-`: hex ids and UUIDs, which hold no pair of
/// [`PAIRS`]).
#[inline(always)]
fn masks64(avx2: bool, buf: &[u8], at: usize) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    if avx2 && let Some(block) = buf.get(at..at + 64) {
        // SAFETY: `avx2` is true only when the CPU has AVX2 (checked once
        // in `Engine::new`); the block has 64 bytes.
        return unsafe { x86::masks64_avx2(block.as_ptr()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = avx2;
    masks64_scalar(buf, at)
}

/// Whether `b` is a hex digit (lower case) or `-`.
#[inline(always)]
fn is_hexish(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-'
}

/// [`masks64`] one byte at a time.
fn masks64_scalar(buf: &[u8], at: usize) -> (u64, u64) {
    let end = (at + 64).min(buf.len());
    let (mut m, mut n) = (0u64, 0u64);
    for (i, &b) in buf[at.min(end)..end].iter().enumerate() {
        m |= (is_alphabet(b) as u64) << i;
        n |= ((is_alphabet(b) && !is_hexish(b)) as u64) << i;
    }
    (m, n)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// The alphabet mask of 64 bytes by nibble lookup, and the mask of
    /// its bytes that are not `0-9a-f-`: the low nibble and the high
    /// nibble each select a set of classes, and a byte is in the alphabet
    /// when the two sets meet. Classes: bit 0 `+-/` (high 2), bit 1 digits
    /// (high 3), bit 2 `A-O`/`a-o` (high 4, 6), bit 3 `P-Z`/`p-z` (high 5,
    /// 7), bit 4 `_` (high 5), bit 5 `a-f` (high 6), bit 6 `-` (high 2):
    /// a byte of bits 1, 5 or 6 is hex-like. Bytes from 0x80 look up 0
    /// (the shuffle zeroes them).
    ///
    /// # Safety
    /// The CPU must have AVX2 and `p` must point to 64 readable bytes.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn masks64_avx2(p: *const u8) -> (u64, u64) {
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
                if l >= 1 && l <= 6 {
                    bits |= 32;
                }
                if l == 0xD {
                    bits |= 64;
                }
                t[l] = bits as i8;
                l += 1;
            }
            t
        };
        const HI: [i8; 16] = [
            0,
            0,
            1 | 64,
            2,
            4,
            8 | 16,
            4 | 32,
            8,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ];
        unsafe {
            let lo_t = _mm256_broadcastsi128_si256(_mm_loadu_si128(LO.as_ptr().cast()));
            let hi_t = _mm256_broadcastsi128_si256(_mm_loadu_si128(HI.as_ptr().cast()));
            let nib = _mm256_set1_epi8(0x0F);
            let hexish = _mm256_set1_epi8(2 | 32 | 64);
            let zero = _mm256_setzero_si256();
            let (mut out, mut other) = (0u64, 0u64);
            for half in 0..2 {
                let v = _mm256_loadu_si256(p.add(32 * half).cast());
                // Bytes >= 0x80 have bit 7 set: the shuffle gives 0.
                let lo = _mm256_shuffle_epi8(lo_t, v);
                let hi = _mm256_shuffle_epi8(hi_t, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib));
                let class = _mm256_and_si256(lo, hi);
                let none = _mm256_cmpeq_epi8(class, zero);
                let m = !(_mm256_movemask_epi8(none) as u32);
                let not_hex = _mm256_cmpeq_epi8(_mm256_and_si256(class, hexish), zero);
                let n = m & _mm256_movemask_epi8(not_hex) as u32;
                out |= (m as u64) << (32 * half);
                other |= (n as u64) << (32 * half);
            }
            (out, other)
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
        return unsafe { for_each_run_avx2::<false>(buf, from, to, f) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = avx2;
    runs_with::<false>(false, buf, from, to, f)
}

/// Whether this CPU has what the 512-bit finder needs (checked once per
/// engine). `LEAKHOUND_SIMD=avx2` turns it off, to measure the AVX2
/// finder on a CPU that has both.
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    if !super::classify::avx2_only() {
        return wide::detect();
    }
    false
}

/// The runs of [`for_each_run`] that may hold a payload for `finder`: with
/// [`Finder::digits`], a run of only `0-9a-f-` (a hex id, a UUID) is left
/// out where the finder's masks show it whole (it holds no pair of
/// [`PAIRS`]: [`decode_text`] would drop it), so most runs of a log cost
/// no call at all.
pub fn for_each_candidate_run(
    finder: Finder,
    buf: &[u8],
    from: usize,
    to: usize,
    f: &mut dyn FnMut(Range<usize>) -> Flow,
) -> Flow {
    #[cfg(target_arch = "x86_64")]
    if finder.avx512 {
        // SAFETY: `avx512` is true only when `wide::detect` said so.
        return unsafe {
            if finder.digits {
                wide::for_each_run::<true>(buf, from, to, f)
            } else {
                wide::for_each_run::<false>(buf, from, to, f)
            }
        };
    }
    if !finder.digits {
        return for_each_run(finder.avx2, buf, from, to, f);
    }
    #[cfg(target_arch = "x86_64")]
    if finder.avx2 {
        // SAFETY: `avx2` is true only when the CPU has AVX2.
        return unsafe { for_each_run_avx2::<true>(buf, from, to, f) };
    }
    runs_with::<true>(false, buf, from, to, f)
}

/// [`runs_with`] compiled for AVX2, so that the lookup inlines.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn for_each_run_avx2<const SKIP_HEX: bool>(
    buf: &[u8],
    from: usize,
    to: usize,
    f: &mut dyn FnMut(Range<usize>) -> Flow,
) -> Flow {
    runs_with::<SKIP_HEX>(true, buf, from, to, f)
}

/// The finder; `SKIP_HEX`: runs seen whole in the mask with no byte
/// outside `0-9a-f-` are not handed to `f`.
#[inline(always)]
fn runs_with<const SKIP_HEX: bool>(
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
    // The fast loop looks at 64 bytes and the 64 after them: one AVX2
    // lookup per 64 bytes and a few shifts tell whether a run of 24
    // alphabet bytes starts there ([`runs24_128`]). Every such run is seen
    // in the block where it starts (a run that started in an earlier block
    // was seen and walked there). `w` is the mask of the 128 bytes from
    // `base`, with the bits below `p` (taken by the last run) cleared: a
    // run's start and end are read from it, and only a run that goes past
    // it costs more lookups (most runs of a log are 24 to 40 bytes;
    // shorter ones never show). `h` is the mask of the bytes of `w` that
    // are not `0-9a-f-`: with `SKIP_HEX`, the runs of a block that are
    // hex-only are dropped all at once by [`long_run_seeds`] (a carry
    // through each run), so they cost no step of this loop.
    let mut base = p;
    let (mut w, mut h) = masks128(avx2, buf, base);
    while base < to {
        let seeds = long_run_seeds::<SKIP_HEX>(w, h);
        if seeds == 0 {
            base += 64;
            let (m, n) = masks64(avx2, buf, base + 64);
            w = w >> 64 | (m as u128) << 64;
            h = h >> 64 | (n as u128) << 64;
            continue;
        }
        // The run of the lowest seed starts above the last clear bit of
        // `w` below the seed (bits below `p` are clear).
        let seed = seeds.trailing_zeros();
        let below = !w & ((1u128 << seed) - 1);
        let i = (128 - below.leading_zeros()) as usize;
        let start = base + i;
        if start >= to {
            break;
        }
        let ones = (w >> i).trailing_ones() as usize;
        let end = if i + ones < 128 {
            start + ones
        } else {
            run_end(avx2, buf, base + 128)
        };
        f(start..end)?;
        if end < base + 128 {
            if end >= base + 64 {
                base += 64;
                let (m, n) = masks64(avx2, buf, base + 64);
                w = w >> 64 | (m as u128) << 64;
                h = h >> 64 | (n as u128) << 64;
            }
            w &= !0u128 << (end - base);
        } else {
            base = end;
            (w, h) = masks128(avx2, buf, base);
        }
    }
    Flow::Continue(())
}

/// For the runs of at least [`MIN_RUN`] set bits of `w` that start in its
/// low 64 bits: their first bits, or, with `SKIP_HEX`, a bit in each of
/// them that holds a byte outside `0-9a-f-` (a bit of `h`) or goes on past
/// the mask (bit 127). A run of only hex digits and dashes seen whole
/// (a hex id, a UUID: [`PAIRS`] holds none of their pairs) has no bit in
/// the result. Each run is found by a carry: adding its first bit to `w`
/// clears the whole run, whatever its length.
#[inline(always)]
fn long_run_seeds<const SKIP_HEX: bool>(w: u128, h: u128) -> u128 {
    if !may_start_long_run(w) {
        return 0;
    }
    let starts = runs24_128(w) as u128;
    if starts == 0 {
        return 0;
    }
    // The first bit of each long run that starts in the low 64.
    let first = starts & !(w << 1);
    if !SKIP_HEX {
        return first;
    }
    // The bits of those runs: the carry from each first bit runs through
    // its run (and lands past its end, on a clear bit of `w`, or leaves
    // the 128 bits).
    let long = w & !w.wrapping_add(first);
    (h | (w & (1 << 127))) & long
}

/// The masks of [`masks64`] for the 128 bytes from `at`.
#[inline(always)]
fn masks128(avx2: bool, buf: &[u8], at: usize) -> (u128, u128) {
    let (m0, n0) = masks64(avx2, buf, at);
    let (m1, n1) = masks64(avx2, buf, at + 64);
    (
        m0 as u128 | (m1 as u128) << 64,
        n0 as u128 | (n1 as u128) << 64,
    )
}

/// A cheap test that most blocks fail: `false` when no run of
/// [`MIN_RUN`] (24) set bits starts in the low 64 bits of `w`. Such a run
/// holds two whole aligned bytes of the mask in a row (24 >= 2 * 8 + 7),
/// within its first ten bytes (a run starting at bit 63 reaches bit 86).
#[inline(always)]
fn may_start_long_run(w: u128) -> bool {
    const _: () = assert!(MIN_RUN >= 23);
    let lo = w as u64;
    let hi = (w >> 64) as u64;
    // Bit 8k: byte k of `lo` is all ones.
    let mut x = lo & (lo >> 1);
    x &= x >> 2;
    x &= x >> 4;
    let full = x & 0x0101_0101_0101_0101;
    full & (full >> 8) != 0 || (lo >> 56 == 0xFF && hi & 0xFF == 0xFF) || hi & 0xFFFF == 0xFFFF
}

/// Bits `i` of the low 64 of `m` that start [`MIN_RUN`] (24) set bits
/// in a row: runs of 8 by doubling, then 16 = 8 + 8 and 24 = 16 + 8
/// (bit `i + 24` is at most 87, inside the 128 bits).
#[inline(always)]
fn runs24_128(m: u128) -> u64 {
    const _: () = assert!(MIN_RUN == 24);
    let mut x8 = m & (m >> 1);
    x8 &= x8 >> 2;
    x8 &= x8 >> 4;
    let x16 = x8 & (x8 >> 8);
    (x16 & (x8 >> 16)) as u64
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
pub(super) enum Alphabet {
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
    let quad = |q: &[u8]| {
        (SEXTET[q[0] as usize] as u32) << 18
            | (SEXTET[q[1] as usize] as u32) << 12
            | (SEXTET[q[2] as usize] as u32) << 6
            | SEXTET[q[3] as usize] as u32
    };
    let (n0, n1) = (quad(&chars[..4]), quad(&chars[4..8]));
    let b = [
        (n0 >> 16) as u8,
        (n0 >> 8) as u8,
        n0 as u8,
        (n1 >> 16) as u8,
        (n1 >> 8) as u8,
        n1 as u8,
    ];
    // UTF-16LE: a zero high byte among the first three units (the probe
    // then wants two in five; CJK text has spaces and ASCII digits too),
    // or three high bytes of scripts below U+0F00 (`łść`, Arabic ...).
    let utf16 = b[1] == 0 || b[3] == 0 || b[5] == 0 || b[1].max(b[3]).max(b[5]) <= 0x0E;
    if utf16 || (b[0] == 0xFF && b[1] == 0xFE) {
        return true;
    }
    // One table look-up per byte, no branch: most runs of a log that get
    // here are base64 of random bytes (keys, hashes), and a control byte
    // or a byte that cannot start UTF-8 rejects them before any decoding.
    let mut class = 0u8;
    for x in b {
        class |= QUICK[x as usize];
    }
    if class & !WHITE == 0 {
        return true;
    }
    if class & (CONTROL | NEVER) != 0 || QUICK[b[0] as usize] & CONTINUATION != 0 {
        return false;
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

/// [`QUICK`] bits: printable ASCII and tab, CR, LF have none but this.
const WHITE: u8 = 1;
/// A C0 control other than tab, CR and LF, or DEL: never text.
const CONTROL: u8 = 2;
/// Not ASCII.
const HIGH: u8 = 4;
/// A UTF-8 continuation byte (cannot start a character).
const CONTINUATION: u8 = 8;
/// A byte that is never in UTF-8 (0xC0, 0xC1, 0xF5 and above).
const NEVER: u8 = 16;

/// The class of each byte for [`quick_text`].
static QUICK: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b >= 0x80 {
            HIGH | if b < 0xC0 {
                CONTINUATION
            } else if b < 0xC2 || b >= 0xF5 {
                NEVER
            } else {
                0
            }
        } else if (b >= 0x20 && b < 0x7F) || b == b'\t' || b == b'\n' || b == b'\r' {
            WHITE
        } else {
            CONTROL
        };
        i += 1;
    }
    t
};

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

/// A payload written over lines of one width, as `base64` (76 characters)
/// and `openssl base64` or PEM (64) write it: each line starts a line of
/// the text, every line but the last is `width` long (a multiple of 4, so
/// each decodes on its own and the lines' characters join into one
/// payload), and the same line end follows each.
#[derive(Debug)]
struct Wrapped {
    /// Where each line starts.
    starts: Vec<usize>,
    /// The characters of every line but the last.
    width: usize,
    /// The end of the last line (its padding not counted).
    end: usize,
}

impl Wrapped {
    /// The place in the buffer of character `j` of the joined lines.
    fn place(&self, j: usize) -> usize {
        self.starts[j / self.width] + j % self.width
    }

    /// The lines' characters, joined, onto `out`.
    fn join(&self, buf: &[u8], out: &mut Vec<u8>) {
        out.clear();
        for (k, &s) in self.starts.iter().enumerate() {
            let e = if k + 1 == self.starts.len() {
                self.end
            } else {
                s + self.width
            };
            out.extend_from_slice(&buf[s..e]);
        }
    }
}

/// The line end at `at`: 1 for `\n`, 2 for `\r\n`.
fn line_end_at(buf: &[u8], at: usize) -> Option<usize> {
    match buf.get(at..) {
        Some([b'\n', ..]) => Some(1),
        Some([b'\r', b'\n', ..]) => Some(2),
        _ => None,
    }
}

/// Whether the `len` characters at `at` can be the short last line of a
/// wrapped payload: whole groups of 4 with their padding, the unused bits
/// of a padded group zero (as every encoder writes them), then the end of
/// the line. A short word on the line after a payload (`OK`, `Done.`) is
/// not taken in: decoded and encoded again it would not come back the same.
fn ends_payload(buf: &[u8], at: usize, len: usize) -> bool {
    let end = at + len;
    let pad = buf[end..]
        .iter()
        .take(2)
        .take_while(|&&b| b == b'=')
        .count();
    let unused = match (len % 4, pad) {
        (0, 0) => 0,
        (3, 1) => 0b11,
        (2, 2) => 0b1111,
        _ => return false,
    };
    let last = SEXTET[buf[end - 1] as usize];
    last & unused == 0 && (end + pad == buf.len() || line_end_at(buf, end + pad).is_some())
}

/// The wrapped payload whose first line is `run`, or `None` when `run`
/// is not one: it must start a line, be a multiple of 4 long, and be
/// followed by a line end and at least one more line of the payload (a
/// full one, or a shorter last one). Lines are taken up to [`MAX_RUN`]
/// characters in all, so a wrapped payload is never cut: the lines after
/// are the next one.
fn wrapped(buf: &[u8], run: Range<usize>) -> Option<Wrapped> {
    let width = run.len();
    if !width.is_multiple_of(4) || (run.start > 0 && buf[run.start - 1] != b'\n') {
        return None;
    }
    let newline = line_end_at(buf, run.end)?;
    let mut lines = Wrapped {
        starts: vec![run.start],
        width,
        end: run.end,
    };
    let mut at = run.end + newline;
    while (lines.starts.len() + 1) * width <= MAX_RUN {
        let len = buf[at.min(buf.len())..]
            .iter()
            .take(width + 1)
            .take_while(|&&b| is_alphabet(b))
            .count();
        if len == 0 || len > width || (len < width && !ends_payload(buf, at, len)) {
            break;
        }
        lines.starts.push(at);
        lines.end = at + len;
        if len < width || line_end_at(buf, lines.end) != Some(newline) {
            break;
        }
        at = lines.end + newline;
    }
    (lines.starts.len() > 1).then_some(lines)
}

/// Decodes the characters `chars` (a run, or the lines of a wrapped
/// payload joined), which start at `at` in the caller's buffer, if they
/// hold text: the decoded text (UTF-8) and its kind, in `scratch`. `None`
/// when they are not base64 of text, or, with `digits`
/// ([`Finder::digits`]), when they hold no pair of [`PAIRS`]. The caller
/// has run [`quick_text`] on the first 8 characters (the first test every
/// run meets, before its lines are looked for).
fn decode_text<'s>(
    chars: &[u8],
    at: usize,
    digits: bool,
    scratch: &'s mut Scratch,
) -> Option<(&'s [u8], TextKind)> {
    // Text that cannot hold a number of the engine's rules is not read
    // further ([`Finder::digits`]).
    if digits && !may_hold_number(chars) {
        return None;
    }
    alphabet_of(chars)?;
    let probe_chars = &chars[..chars.len().min(PROBE / 3 * 4)];
    scratch.decoded.clear();
    decode_into(probe_chars, &mut scratch.decoded);
    let kind = probe_kind(&scratch.decoded)?;
    let chars = if chars.len() > MAX_RUN {
        scratch.cut.get_or_insert(at);
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
    let finder = engine.base64_finder();
    // The end of the last wrapped payload scanned: its later lines are
    // not runs of their own.
    let mut joined_until = 0;
    for_each_candidate_run(finder, buf, report.start, report.end, &mut |run| {
        // The first test of every payload, before its lines are looked for:
        // a file of wrapped base64 of random bytes costs one test a line.
        if run.start < joined_until || !quick_text(&buf[run.start..run.start + 8]) {
            return Flow::Continue(());
        }
        if let Some(lines) = wrapped(buf, run.clone()) {
            // Its lines are its own, whether it holds text or not (so each
            // line is looked at once).
            joined_until = lines.end;
            let mut joined = std::mem::take(&mut scratch.joined);
            lines.join(buf, &mut joined);
            let flow = match decode_text(&joined, run.start, finder.digits, scratch) {
                Some((text, kind)) => {
                    let padded = with_padding(buf, run.start..lines.end);
                    let total = joined.len().min(MAX_RUN);
                    Some(engine.scan(text, 0..text.len(), &mut |m: Match<'e>| {
                        let encoded = match kind {
                            TextKind::Utf8 => {
                                let s = m.start / 3 * 4;
                                let e = (m.end.div_ceil(3) * 4).min(total);
                                lines.place(s)..lines.place(e - 1) + 1
                            }
                            TextKind::Utf16Le => padded.clone(),
                        };
                        on_match(Found {
                            m,
                            run: padded.clone(),
                            encoded,
                        })
                    }))
                }
                None => None,
            };
            scratch.joined = joined;
            if let Some(flow) = flow {
                return flow;
            }
            // Not text as a whole: its first line alone, as below.
        }
        let Some((text, kind)) = decode_text(&buf[run.clone()], run.start, finder.digits, scratch)
        else {
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
pub(super) fn encode_into(bytes: &[u8], alphabet: Alphabet, pad: bool, out: &mut Vec<u8>) {
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
/// found as the scanner finds them (the same runs, the same text test,
/// the same `finder`: [`Engine::base64_finder`]).
pub fn rewrite_payloads(
    finder: Finder,
    text: &[u8],
    edit: &mut dyn FnMut(&[u8]) -> Option<Vec<u8>>,
) -> Result<Option<Vec<u8>>, RewriteError> {
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let mut copied = 0usize;
    let mut error = None;
    // As in `scan`: the later lines of a wrapped payload are its own.
    let mut joined_until = 0;
    let _ = for_each_candidate_run(finder, text, 0, text.len(), &mut |run| {
        if run.start < joined_until || !quick_text(&text[run.start..run.start + 8]) {
            return Flow::Continue(());
        }
        if let Some(lines) = wrapped(text, run.clone()) {
            joined_until = lines.end;
            let mut joined = std::mem::take(&mut scratch.joined);
            lines.join(text, &mut joined);
            let alphabet = alphabet_of(&joined);
            let decoded =
                alphabet.and_then(|_| decode_text(&joined, run.start, finder.digits, &mut scratch));
            if let (Some(alphabet), Some((decoded, kind))) = (alphabet, decoded) {
                if let Some(edited) = edit(decoded) {
                    let bytes = reencode_text(&scratch, kind, edited);
                    let padded = with_padding(text, run.start..lines.end);
                    // Encoded again and wrapped as it was: lines of the
                    // same width, the same line end between them.
                    let newline = &text[run.end..lines.starts[1]];
                    let mut chars = Vec::with_capacity(joined.len() + 4);
                    encode_into(&bytes, alphabet, padded.end > lines.end, &mut chars);
                    out.extend_from_slice(&text[copied..run.start]);
                    for (k, line) in chars.chunks(lines.width).enumerate() {
                        if k > 0 {
                            out.extend_from_slice(newline);
                        }
                        out.extend_from_slice(line);
                    }
                    copied = padded.end;
                }
                scratch.joined = joined;
                return Flow::Continue(());
            }
            scratch.joined = joined;
        }
        let Some(alphabet) = alphabet_of(&text[run.clone()]) else {
            return Flow::Continue(());
        };
        let Some((decoded, kind)) =
            decode_text(&text[run.clone()], run.start, finder.digits, &mut scratch)
        else {
            return Flow::Continue(());
        };
        let original_len = decoded.len();
        let Some(edited) = edit(decoded) else {
            return Flow::Continue(());
        };
        let padded = with_padding(text, run.clone());
        let pad = padded.end > run.end;
        let cut = run.len() > MAX_RUN;
        let bytes = reencode_text(&scratch, kind, edited);
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

/// The bytes a payload's edited text (UTF-8) is encoded from: itself, or
/// UTF-16LE for a UTF-16LE payload (with its BOM, if it had one: the BOM
/// is read from the decoded bytes in `scratch`).
fn reencode_text(scratch: &Scratch, kind: TextKind, edited: Vec<u8>) -> Vec<u8> {
    match kind {
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
    }
}

/// Whether the window's buffer ends inside a run that starts in `report`
/// and is shorter than [`MAX_RUN`]: the caller should read more before
/// scanning, so that the run is decoded whole. Not when the run's first 8
/// characters cannot start text ([`quick_text`], the first test a run
/// meets): it will not be decoded however long it is, so a long run of
/// junk (a 30 MB line of `a`) does not grow the window.
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
    let open = start >= report.start && start < report.end && buf.len() - start < MAX_RUN;
    open && buf.get(start..start + 8).is_none_or(quick_text)
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
            let want = masks64(false, &all, at);
            #[cfg(target_arch = "x86_64")]
            if is_x86_feature_detected!("avx2") {
                assert_eq!(masks64(true, &all, at), want, "at {at}");
            }
            for i in 0..64 {
                let b = all[at + i];
                assert_eq!(want.0 >> i & 1 == 1, is_alphabet(b));
                let other = is_alphabet(b) && !b"0123456789abcdef-".contains(&b);
                assert_eq!(want.1 >> i & 1 == 1, other, "{b:#x}");
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

    /// The UTF-8 bytes of every decimal digit the engine reads, by script
    /// (ASCII first): every character of the Basic Multilingual Plane
    /// that `text::digit_at` takes whole, so a script added there is
    /// checked here too.
    fn digit_scripts() -> Vec<[Vec<u8>; 10]> {
        let mut by_zero: Vec<(u32, [Vec<u8>; 10])> = Vec::new();
        for cp in 0..0x1_0000u32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let mut b = [0u8; 4];
            let bytes = c.encode_utf8(&mut b).as_bytes();
            if let Some((d, w)) = super::super::text::digit_at(bytes, 0)
                && w == bytes.len()
            {
                let zero = cp - d as u32;
                match by_zero.iter_mut().find(|(z, _)| *z == zero) {
                    Some((_, digits)) => digits[d as usize] = bytes.to_vec(),
                    None => {
                        let mut digits: [Vec<u8>; 10] = Default::default();
                        digits[d as usize] = bytes.to_vec();
                        by_zero.push((zero, digits));
                    }
                }
            }
        }
        assert!(by_zero.len() >= 6, "ASCII and five other scripts");
        assert_eq!(by_zero[0].0, u32::from(b'0'));
        by_zero.into_iter().map(|(_, d)| d).collect()
    }

    /// Whether `text` placed `align` bytes into a base64 stream encodes to
    /// characters holding a pair of [`PAIRS`] made of its own bits alone:
    /// the stream is encoded twice, with the bytes around `text` all zero
    /// and all one, and only characters equal in both count (a character
    /// that takes a bit from around `text` differs).
    fn fixed_pairs_hit(text: &[u8], align: usize) -> bool {
        let enc = |fill: u8| {
            let mut bytes = vec![fill; align];
            bytes.extend_from_slice(text);
            bytes.extend([fill; 3]);
            let mut out = Vec::new();
            encode_into(&bytes, Alphabet::Standard, false, &mut out);
            out
        };
        let (a, b) = (enc(0x00), enc(0xFF));
        (1..a.len()).any(|i| {
            a[i - 1] == b[i - 1]
                && a[i] == b[i]
                && PAIRS[SEXTET[a[i - 1] as usize] as usize] >> SEXTET[a[i] as usize] & 1 != 0
        })
    }

    /// `text` (UTF-8) as UTF-16LE.
    fn utf16le(text: &[u8]) -> Vec<u8> {
        std::str::from_utf8(text)
            .unwrap()
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect()
    }

    /// The argument of [`PAIRS`], checked in full: three digits in a row
    /// of each script (every value), and an IBAN's head (two letters of
    /// either case, two digits of each script), in UTF-8 and UTF-16LE, at
    /// each of the three places in a base64 group, encode to a listed
    /// pair fixed by their own bits, whatever surrounds them.
    #[test]
    fn every_number_form_encodes_to_a_listed_pair() {
        let scripts = digit_scripts();
        let letters: Vec<u8> = (b'A'..=b'Z').chain(b'a'..=b'z').collect();
        let mut forms = 0usize;
        let mut check = |text: &[u8]| {
            for bytes in [text.to_vec(), utf16le(text)] {
                for align in 0..3 {
                    assert!(
                        fixed_pairs_hit(&bytes, align),
                        "{:?} at {align} ({} bytes)",
                        String::from_utf8_lossy(text),
                        bytes.len()
                    );
                    forms += 1;
                }
            }
        };
        for digits in &scripts {
            for n in 0..1000 {
                let text = [
                    digits[n / 100].as_slice(),
                    &digits[n / 10 % 10],
                    &digits[n % 10],
                ]
                .concat();
                check(&text);
            }
            for &l1 in &letters {
                for &l2 in &letters {
                    for n in 0..100 {
                        let text = [&[l1, l2][..], &digits[n / 10], &digits[n % 10]].concat();
                        check(&text);
                    }
                }
            }
        }
        assert!(forms > 3_000_000, "{forms}");
    }

    /// The runs that fill logs hold no pair: hex ids, UUIDs, lower-case
    /// URL paths and words, dates.
    #[test]
    fn hex_ids_uuids_and_paths_hold_no_pair() {
        for run in [
            &b"856467b7bf42cb0ab2292a2a21cc35a6"[..],
            b"45b38bee-4832-4d4e-affe-79e45134e2ca",
            b"/api/v1/users/84250",
            b"/static/app/vendor/jquery",
            b"2024-03-06T08",
            b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert!(!may_hold_number(run), "{}", String::from_utf8_lossy(run));
        }
        // Base64 of a card number, of an IBAN's head, of Persian digits.
        let mut out = Vec::new();
        for text in ["card 4539 1488 0343 6467", "pl61 ", "\u{6f1}\u{6f2}\u{6f3}"] {
            out.clear();
            encode_into(text.as_bytes(), Alphabet::UrlSafe, true, &mut out);
            assert!(may_hold_number(&out), "{text}");
        }
    }

    /// The candidate runs (hex-only runs left out) against all runs.
    fn candidates_agree(
        bytes: &[u8],
        from: usize,
        len: usize,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let from = from.min(bytes.len());
        let to = (from + len).min(bytes.len());
        let all = runs_slow(bytes, from, to);
        for avx2 in [false, true] {
            #[cfg(target_arch = "x86_64")]
            if avx2 && !is_x86_feature_detected!("avx2") {
                continue;
            }
            let mut got = Vec::new();
            let finder = Finder {
                avx2,
                avx512: false,
                digits: true,
            };
            let _ = for_each_candidate_run(finder, bytes, from, to, &mut |r| {
                got.push(r);
                Flow::Continue(())
            });
            // Every run it gives is a run, and every run it leaves out is
            // hex-only (so `decode_text` would drop it too).
            for r in &got {
                proptest::prop_assert!(all.contains(r), "{r:?} is not a run");
            }
            for r in &all {
                if !got.contains(r) {
                    proptest::prop_assert!(bytes[r.clone()].iter().all(|&b| is_hexish(b)));
                    proptest::prop_assert!(!may_hold_number(&bytes[r.clone()]));
                }
            }
        }
        Ok(())
    }

    /// [`quick_text`] without its shortcuts: decode, then judge.
    fn quick_text_plain(chars: &[u8]) -> bool {
        let mut b = Vec::new();
        decode_into(&chars[..8], &mut b);
        let ascii = |x: u8| (0x20..0x7F).contains(&x) || matches!(x, b'\t' | b'\n' | b'\r');
        let utf16 = b[1] == 0 || b[3] == 0 || b[5] == 0 || b[1].max(b[3]).max(b[5]) <= 0x0E;
        if b.starts_with(&[0xFF, 0xFE]) || utf16 || b.iter().all(|&x| ascii(x)) {
            return true;
        }
        let text = |s: &str| {
            s.chars()
                .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        };
        match std::str::from_utf8(&b) {
            Ok(s) => text(s),
            Err(e) if e.error_len().is_none() => {
                std::str::from_utf8(&b[..e.valid_up_to()]).is_ok_and(text)
            }
            Err(_) => false,
        }
    }

    /// What counts as a wrapped payload: lines of one width (a multiple of
    /// 4) from a line start, the same line end after each, a shorter last
    /// line; not a run inside a line, a line longer than the first, a
    /// width that is not a multiple of 4, or a run alone.
    #[test]
    fn wrapped_payloads_are_lines_of_one_width() {
        let line = "QUJD".repeat(7); // 28
        let lines = |text: &str| {
            let buf = text.as_bytes();
            let end = buf
                .iter()
                .position(|&b| !is_alphabet(b))
                .unwrap_or(buf.len());
            wrapped(buf, 0..end).map(|w| (w.starts, w.width, w.end))
        };
        let t = format!("{line}\n{line}\nQQ==\nnext");
        assert_eq!(lines(&t), Some((vec![0, 29, 58], 28, 60)));
        let t = format!("{line}\r\n{line}\r\nQUJD\r\n");
        assert_eq!(lines(&t), Some((vec![0, 30, 60], 28, 64)));
        // A full last line, then text.
        let t = format!("{line}\n{line}\n\nnext");
        assert_eq!(lines(&t), Some((vec![0, 29], 28, 57)));
        // Mixed line ends stop at the change.
        let t = format!("{line}\n{line}\r\n{line}\n");
        assert_eq!(lines(&t), Some((vec![0, 29], 28, 57)));
        // Not wrapped: alone, a longer next line, a width not a multiple
        // of 4, a run that does not start its line.
        assert_eq!(lines(&format!("{line}\n")), None);
        assert_eq!(lines(&format!("{line}\nx\n")), None);
        assert_eq!(lines(&format!("{line}\nOK\n")), None);
        assert_eq!(
            lines(&format!("{line}\nDone\n")).map(|l| l.0.len()),
            Some(2)
        );
        assert_eq!(lines(&format!("{line}\nQUJD more\n")), None);
        // Padding with unused bits set is not how encoders end a payload.
        assert_eq!(lines(&format!("{line}\nQUJ=\n")).map(|l| l.0.len()), None);
        assert_eq!(
            lines(&format!("{line}\nQUI=\n")).map(|l| l.0.len()),
            Some(2)
        );
        assert_eq!(lines(&format!("{line}\n{line}QUJD\n")), None);
        assert_eq!(lines(&format!("{line}Q\n{line}\n")), None);
        let t = format!("x={line}\n{line}\n");
        assert_eq!(wrapped(t.as_bytes(), 2..30).map(|w| w.starts), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// Text with a card number, encoded and wrapped at any width (a
        /// multiple of 4 from 24) with either line end, in either
        /// alphabet: the card is found once, in the payload that starts
        /// at the first line, wherever the line breaks fall.
        #[test]
        fn wrapped_base64_of_text_with_a_card_is_found_once(
            before in "[a-zA-Z ]{0,120}",
            after in "[a-zA-Z ]{0,60}",
            quads in 6usize..20,
            crlf in proptest::prelude::any::<bool>(),
            url in proptest::prelude::any::<bool>(),
        ) {
            let engine = Engine::new(crate::rules::RuleSet::builtin().unwrap()).with_base64(true);
            let text = format!("{before} card 4539 1488 0343 6467 {after}");
            let alphabet = if url { Alphabet::UrlSafe } else { Alphabet::Standard };
            let mut chars = Vec::new();
            encode_into(text.as_bytes(), alphabet, true, &mut chars);
            let newline: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let mut buf = Vec::new();
            for (k, line) in chars.chunks(quads * 4).enumerate() {
                if k > 0 {
                    buf.extend_from_slice(newline);
                }
                buf.extend_from_slice(line);
            }
            buf.extend_from_slice(newline);
            let mut found = Vec::new();
            let _ = scan(&engine, &buf, 0..buf.len(), &mut Scratch::default(), &mut |f| {
                found.push((f.run.start, f.m.kind.to_string(), f.encoded.clone()));
                Flow::Continue(())
            });
            let kinds: Vec<&str> = found.iter().map(|f| f.1.as_str()).collect();
            proptest::prop_assert_eq!(kinds, vec!["card_visa"], "{:?}", found);
            proptest::prop_assert_eq!(found[0].0, 0);
            // The encoded characters, line ends taken out, decode to text
            // that holds the number.
            let enc: Vec<u8> = buf[found[0].2.clone()]
                .iter()
                .copied()
                .filter(|&b| b != b'\r' && b != b'\n')
                .collect();
            let mut dec = Vec::new();
            decode_into(&enc, &mut dec);
            let digits: String = String::from_utf8_lossy(&dec).chars().filter(char::is_ascii_digit).collect();
            // (The message does not show the decoded text: it holds the number.)
            proptest::prop_assert!(digits.contains("4539148803436467"), "span {:?}", found[0].2);
        }
    }

    /// The 512-bit finder against the plain loop, exactly: every run with
    /// `digits` off; with it on, every run but those of only `0-9a-f-`.
    /// Skipped on CPUs without AVX-512 VBMI2.
    fn wide_agrees(
        bytes: &[u8],
        from: usize,
        len: usize,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        if !has_avx512() {
            return Ok(());
        }
        let from = from.min(bytes.len());
        let to = (from + len).min(bytes.len());
        let all = runs_slow(bytes, from, to);
        for digits in [false, true] {
            let want: Vec<_> = all
                .iter()
                .filter(|r| !digits || !bytes[(*r).clone()].iter().all(|&b| is_hexish(b)))
                .cloned()
                .collect();
            let mut got = Vec::new();
            let finder = Finder {
                avx2: true,
                avx512: true,
                digits,
            };
            let _ = for_each_candidate_run(finder, bytes, from, to, &mut |r| {
                got.push(r);
                Flow::Continue(())
            });
            proptest::prop_assert_eq!(&got, &want, "digits {}", digits);
        }
        Ok(())
    }

    /// The 512-bit finder on the cases that test its seams: runs across
    /// blocks and batches, a hit far from its run's start, runs handed on
    /// that end past a batch, runs that began before `from`, the tail.
    #[test]
    fn wide_finder_finds_the_plain_loops_runs() {
        if !has_avx512() {
            return;
        }
        let hex = "e3b0c44298fc1c149afbf4c8996fb924";
        let mut text = String::new();
        for lead in 0..150 {
            text.push_str(&" ".repeat(lead % 11));
            // A long hex run with its one other byte at its end.
            text.push_str(&hex.repeat(1 + lead % 5));
            text.push_str("Z ");
            text.push_str(&"QUJD".repeat(6 + lead % 40));
            text.push('\n');
            text.push_str(hex);
            text.push('=');
        }
        let bytes = text.as_bytes();
        for (from, len) in [(0, bytes.len()), (5, 3000), (700, 64), (1, 1)] {
            wide_agrees(bytes, from, len).unwrap();
        }
        // Every start inside the first runs: a run begun before `from` is
        // never handed on.
        for from in 0..200 {
            wide_agrees(bytes, from, 2000).unwrap();
        }
    }

    /// The cheap first test of a block never hides a run of 24: checked
    /// for every run of 24 to 40 bits at every place it can start.
    #[test]
    fn first_test_of_a_block_keeps_every_run_of_24() {
        for len in 24..=40u32 {
            for at in 0..64u32 {
                let run = ((1u128 << len) - 1) << at;
                assert!(runs24_128(run) != 0, "{len} at {at}");
                assert!(may_start_long_run(run), "{len} at {at}");
            }
        }
        assert!(!may_start_long_run(0));
        assert!(!may_start_long_run(
            0x00FF_00FF_00FF_00FF_00FF_00FF_00FF_00FF
        ));
    }

    /// Runs shorter than [`MIN_RUN`] are never handed on, and the runs
    /// of only `0-9a-f-` seen whole in the finder's mask are left out by
    /// the carry of `long_run_seeds`, wherever they lie in it; a run with
    /// one other byte anywhere (first, last, past the mask) is kept.
    #[test]
    fn short_and_hex_only_runs_are_left_out_and_the_others_kept() {
        let uuid = "45b38bee-4832-4d4e-affe-79e45134e2ca";
        let hex = "e3b0c44298fc1c149afbf4c8996fb924";
        let mut text = String::new();
        let mut want = Vec::new();
        let mut push = |text: &mut String, run: &str, kept: bool| {
            if kept {
                want.push(text.len()..text.len() + run.len());
            }
            text.push_str(run);
            text.push(' ');
        };
        for lead in 0..70 {
            text.push_str(&" ".repeat(lead % 7));
            push(&mut text, uuid, false);
            push(&mut text, &"QUJD".repeat(5), false); // 20 < MIN_RUN
            push(&mut text, hex, false);
            push(&mut text, &format!("G{hex}"), true);
            push(&mut text, &format!("{hex}z"), true);
            // 64 bytes: always whole in the mask of the block it starts in.
            push(&mut text, &format!("{hex}{hex}"), false);
            push(&mut text, &format!("{uuid}{hex}{uuid}_{hex}"), true);
            push(&mut text, &"QUJD".repeat(6), true);
        }
        let bytes = text.as_bytes();
        for avx2 in [false, true] {
            #[cfg(target_arch = "x86_64")]
            if avx2 && !is_x86_feature_detected!("avx2") {
                continue;
            }
            let mut got = Vec::new();
            let finder = Finder {
                avx2,
                avx512: false,
                digits: true,
            };
            let _ = for_each_candidate_run(finder, bytes, 0, bytes.len(), &mut |r| {
                got.push(r);
                Flow::Continue(())
            });
            assert_eq!(got, want, "avx2 {avx2}");
        }
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

        /// Runs of hex ids, UUIDs and other text, some long.
        #[test]
        fn candidate_runs_leave_out_only_hex_runs(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    40 => proptest::sample::select(b"0123456789abcdef-".to_vec()),
                    3 => proptest::sample::select(b"gzAZ+/_".to_vec()),
                    2 => proptest::sample::select(b" .=:\n\x80".to_vec()),
                ],
                0..800,
            ),
            from in 0usize..800,
            len in 0usize..800,
        ) {
            candidates_agree(&bytes, from, len)?;
        }

        /// The 512-bit finder over texts long enough for its batches: base64
        /// runs, hex runs and separators mixed in changing shares.
        #[test]
        fn wide_runs_agree_with_a_plain_loop(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    30 => proptest::sample::select(b"0123456789abcdef-".to_vec()),
                    20 => proptest::sample::select(b"gzAZ+/_QUJD".to_vec()),
                    3 => proptest::sample::select(b" .=:\n\x80\xff".to_vec()),
                ],
                0..5000,
            ),
            from in 0usize..5000,
            len in 0usize..5000,
        ) {
            wide_agrees(&bytes, from, len)?;
        }

        /// Long runs (many blocks) with rare separators.
        #[test]
        fn wide_long_runs_agree_with_a_plain_loop(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    200 => proptest::sample::select(b"0123456789abcdef".to_vec()),
                    2 => proptest::sample::select(b"Zz+".to_vec()),
                    1 => proptest::sample::select(b" \n".to_vec()),
                ],
                0..5000,
            ),
            from in 0usize..5000,
            len in 0usize..5000,
        ) {
            wide_agrees(&bytes, from, len)?;
        }

        /// The quick test's table and early answers change nothing: it
        /// agrees with decoding the six bytes and judging them whole.
        #[test]
        fn quick_text_agrees_with_the_plain_judgement(
            chars in proptest::collection::vec(
                proptest::sample::select(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".to_vec(),
                ),
                8,
            ),
        ) {
            proptest::prop_assert_eq!(quick_text(&chars), quick_text_plain(&chars));
        }

        /// The same on base64 of text (any script, controls among it).
        #[test]
        fn quick_text_agrees_on_base64_of_text(text in "[\\PC\\x00-\\x1f]{6,8}") {
            let mut chars = Vec::new();
            encode_into(text.as_bytes(), Alphabet::Standard, false, &mut chars);
            proptest::prop_assert_eq!(quick_text(&chars), quick_text_plain(&chars));
        }

        /// Base64 of text that holds a number of three or more digits
        /// anywhere (any offset modulo 3), in either alphabet, padded or
        /// not, as UTF-8 or UTF-16LE, holds a pair.
        #[test]
        fn base64_of_text_with_a_number_holds_a_pair(
            before in "[ -~]{0,40}",
            number in "[0-9]{3,19}",
            after in "[ -~]{0,40}",
            utf16 in proptest::prelude::any::<bool>(),
            url in proptest::prelude::any::<bool>(),
            pad in proptest::prelude::any::<bool>(),
        ) {
            let text = format!("{before}{number}{after}");
            let bytes = if utf16 { utf16le(text.as_bytes()) } else { text.into_bytes() };
            let alphabet = if url { Alphabet::UrlSafe } else { Alphabet::Standard };
            let mut chars = Vec::new();
            encode_into(&bytes, alphabet, pad, &mut chars);
            proptest::prop_assert!(may_hold_number(&chars));
        }
    }
}
