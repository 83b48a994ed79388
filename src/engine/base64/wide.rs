//! The run finder for CPUs with AVX-512 (F, BW, VBMI, VBMI2) and GFNI:
//! the same runs as [`super::runs_with`], found 512 bytes at a time.
//!
//! Why a second finder: the pass must cost about a tenth of a scan, and
//! most of a log's runs are not payloads (hex ids, UUIDs, words). Each
//! 64-byte block is classified by one 128-entry byte lookup (`vpermi2b`)
//! into two bit masks, alphabet bytes and hex-like alphabet bytes
//! (`0-9a-f-`), packed by `gf2p8affineqb` and gathered so that eight
//! blocks' masks sit in the eight 64-bit lanes of one vector; the run test
//! then runs on all eight at once: the windows of [`MIN_RUN`] alphabet
//! bytes that start in each block (shift-and doubling, with the next
//! block's bits funnelled in), less the windows of as many hex-like bytes.
//! What is left, a window that holds a byte that is not hex-like (what a
//! run must hold for [`super::Finder::digits`]; without it, any window),
//! is a *hit*: its first byte lies in a run to hand on. On the benchmark
//! log one block in twenty has a hit.
//!
//! Blocks with hits are packed into a short list (`vpcompressq`) and
//! walked out after a few batches, so the batch loop has no branch that
//! goes one way or the other at random. From a hit the run is walked out
//! both ways (its start may lie blocks back) and handed on once: `done`,
//! the end of the last run handed on, keeps later hits in the same run
//! from handing it again. The last bytes of a buffer, where eight blocks
//! and the next one do not fit, go to the exact finder of the parent
//! module.

use std::arch::x86_64::*;
use std::ops::Range;

use super::{Flow, MIN_RUN, is_alphabet};

/// Whether this CPU has what [`for_each_run`] needs.
pub fn detect() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vbmi")
        && is_x86_feature_detected!("avx512vbmi2")
        && is_x86_feature_detected!("gfni")
        && is_x86_feature_detected!("bmi1")
        && is_x86_feature_detected!("lzcnt")
        && is_x86_feature_detected!("popcnt")
}

/// Bytes per block: one mask bit each.
const BLOCK: usize = 64;

/// Blocks per batch: one 64-bit vector lane each.
const LANES: usize = 8;

/// Class of each ASCII byte: bit 0, in either base64 alphabet; bit 1, in
/// it and hex-like (`0-9a-f-`). Bytes from 0x80 are looked up as 0x7F
/// (DEL), which is in no class.
const CLASS: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        let alpha = b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
        let hexish = b.is_ascii_digit() || (b >= b'a' && b <= b'f') || b == b'-';
        t[i] = alpha as u8 | ((alpha && hexish) as u8) << 1;
        i += 1;
    }
    t
};

/// The alphabet mask and the not-hex-like mask of the 64 bytes at `p`
/// (for walking a run out from a hit).
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VBMI; `p` must point to 64
/// readable bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
unsafe fn block_masks(p: *const u8) -> (u64, u64) {
    unsafe {
        let lo = _mm512_loadu_si512(CLASS.as_ptr().cast());
        let hi = _mm512_loadu_si512(CLASS.as_ptr().add(64).cast());
        let v = _mm512_min_epu8(_mm512_loadu_si512(p.cast()), _mm512_set1_epi8(0x7F));
        let class = _mm512_permutex2var_epi8(lo, v, hi);
        let alpha = _mm512_test_epi8_mask(class, _mm512_set1_epi8(1));
        let hexish = _mm512_test_epi8_mask(class, _mm512_set1_epi8(2));
        (alpha, alpha & !hexish)
    }
}

/// [`block_masks`] at `at` in `buf`, bytes past its end in no class.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn masks_at(buf: &[u8], at: usize) -> (u64, u64) {
    match buf.get(at..at + BLOCK) {
        // SAFETY: the features are enabled here; the block has 64 bytes.
        Some(block) => unsafe { block_masks(block.as_ptr()) },
        None => super::masks64_scalar(buf, at),
    }
}

/// For `vpermt2b` on the packed bits of blocks `2k` (first source) and
/// `2k + 1`: their alphabet bytes (byte 0 of each qword) to lanes `2k` and
/// `2k + 1`, their hex-like bytes (byte 1) to lanes `2k + 4` and `2k + 5`
/// (mod 8).
const fn gather_index(k: usize) -> [u8; 64] {
    let mut t = [0u8; 64];
    let mut j = 0;
    while j < 8 {
        t[8 * (2 * k) + j] = (8 * j) as u8;
        t[8 * (2 * k + 1) + j] = (64 + 8 * j) as u8;
        t[8 * ((2 * k + 4) % 8) + j] = (8 * j + 1) as u8;
        t[8 * ((2 * k + 5) % 8) + j] = (64 + 8 * j + 1) as u8;
        j += 1;
    }
    t
}

static GATHER: [[u8; 64]; 4] = [
    gather_index(0),
    gather_index(1),
    gather_index(2),
    gather_index(3),
];

/// For `vpermb` on the packed bits of block 8: its alphabet bytes to lane
/// 0, its hex-like bytes to lane 1.
static GATHER_NEXT: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut j = 0;
    while j < 8 {
        t[j] = (8 * j) as u8;
        t[8 + j] = (8 * j + 1) as u8;
        j += 1;
    }
    t
};

/// The hits of the batch of [`LANES`] blocks at `p` (which reads one block
/// more): the lanes' bit masks of the windows of [`MIN_RUN`] alphabet
/// bytes that start in block `i` and (with `SKIP_HEX`) hold a byte that
/// is not hex-like.
///
/// How the masks get into the lanes without leaving the vector unit: the
/// class lookup gives a byte per input byte; `gf2p8affineqb`, with the
/// class bytes as its bit matrix and a selector as its input, packs one
/// class bit of each 8 bytes into one byte (in reverse order; byte 0 of
/// each qword the alphabet bit, byte 1 the hex-like bit, so one
/// instruction packs both); a byte permute per two blocks gathers their
/// packed bytes into four lanes, and a second `gf2p8affineqb` puts the
/// bits of each byte back in order.
///
/// Returns the hits and block 8's packed bits (the next batch's first).
///
/// # Safety
/// The CPU must have what [`detect`] checks; `p` must point to
/// `(LANES + 1) * 64` readable bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,gfni")]
#[inline]
unsafe fn batch_hits<const SKIP_HEX: bool>(
    p: *const u8,
    first: Option<Packed>,
) -> (__m512i, Packed) {
    // SAFETY (whole body): the features are enabled; every load reads
    // within the `(LANES + 1) * 64` bytes at `p` or a static table.
    unsafe {
        let table_lo = _mm512_loadu_si512(CLASS.as_ptr().cast());
        let table_hi = _mm512_loadu_si512(CLASS.as_ptr().add(64).cast());
        let ascii_top = _mm512_set1_epi8(0x7F);
        // Byte 0 of each qword picks the alphabet bit, byte 1 the hex bit.
        let select = _mm512_set1_epi64(0x0201);
        // Reverses the bits of each byte.
        let reverse = _mm512_set1_epi64(0x8040_2010_0804_0201u64 as i64);
        // Block i's class bits packed: in each qword, byte 0 the alphabet
        // bits of its 8 bytes, byte 1 the hex-like bits (in reverse order).
        let packed = |i: usize| {
            let v = _mm512_min_epu8(_mm512_loadu_si512(p.add(BLOCK * i).cast()), ascii_top);
            let class = _mm512_permutex2var_epi8(table_lo, v, table_hi);
            _mm512_gf2p8affine_epi64_epi8::<0>(select, class)
        };
        let (mut alpha, mut hex_rot) = (_mm512_setzero_si512(), _mm512_setzero_si512());
        for (k, index) in GATHER.iter().enumerate() {
            let p0 = match first {
                Some(block) if k == 0 => block,
                _ => packed(2 * k),
            };
            let p1 = packed(2 * k + 1);
            let index = _mm512_loadu_si512(index.as_ptr().cast());
            // Lanes 2k, 2k + 1: the alphabet bits of blocks 2k, 2k + 1;
            // lanes 2k + 4, 2k + 5 (mod 8): their hex-like bits.
            let out = _mm512_permutex2var_epi8(p0, index, p1);
            alpha = _mm512_mask_mov_epi64(alpha, 0b11 << (2 * k), out);
            hex_rot = _mm512_mask_mov_epi64(hex_rot, 0b11 << ((2 * k + 4) % 8), out);
        }
        // The hex-like lanes are four lanes off: swap the halves.
        let hex = _mm512_shuffle_i64x2::<0b01_00_11_10>(hex_rot, hex_rot);
        let alpha = _mm512_gf2p8affine_epi64_epi8::<0>(alpha, reverse);
        let hex = _mm512_gf2p8affine_epi64_epi8::<0>(hex, reverse);
        // Lane i + 1's bits for lane i; lane 7 gets block 8's (gathered
        // into lane 0, its hex-like bits into lane 1).
        let p8 = packed(LANES);
        let index = _mm512_loadu_si512(GATHER_NEXT.as_ptr().cast());
        let b8 = _mm512_gf2p8affine_epi64_epi8::<0>(_mm512_permutexvar_epi8(index, p8), reverse);
        let a8 = b8;
        let h8 = _mm512_alignr_epi64::<1>(b8, b8);
        let next = |lanes: __m512i, block8: __m512i| _mm512_alignr_epi64::<1>(block8, lanes);
        // Windows of 24 set bits that start in block i, by doubling; the
        // low bits of block i + 1 come in through the funnel shifts.
        let windows = |m: __m512i, m1: __m512i| {
            let r2 = _mm512_and_si512(m, _mm512_shrdi_epi64::<1>(m, m1));
            let r2n = _mm512_and_si512(m1, _mm512_srli_epi64::<1>(m1));
            let r4 = _mm512_and_si512(r2, _mm512_shrdi_epi64::<2>(r2, r2n));
            let r4n = _mm512_and_si512(r2n, _mm512_srli_epi64::<2>(r2n));
            let r8 = _mm512_and_si512(r4, _mm512_shrdi_epi64::<4>(r4, r4n));
            let r8n = _mm512_and_si512(r4n, _mm512_srli_epi64::<4>(r4n));
            let r16 = _mm512_and_si512(r8, _mm512_shrdi_epi64::<8>(r8, r8n));
            const _: () = assert!(MIN_RUN == 24);
            _mm512_and_si512(r16, _mm512_shrdi_epi64::<16>(r8, r8n))
        };
        let all = windows(alpha, next(alpha, a8));
        if !SKIP_HEX {
            return (all, p8);
        }
        // A window with a byte that is not hex-like: one of alphabet bytes
        // that is not a window of hex-like ones.
        (_mm512_andnot_si512(windows(hex, next(hex, h8)), all), p8)
    }
}

/// A block's class bits packed by `gf2p8affineqb` (byte 0 of each qword
/// alphabet, byte 1 hex-like), before they are gathered into lanes: the
/// last block a batch reads is the first of the next, so it is packed once.
type Packed = __m512i;

/// Up to this many lanes with hits wait before their runs are walked out:
/// walking them in a separate loop keeps the batch loop free of branches
/// that go one way or the other at random.
const PENDING: usize = 64;

/// The first byte of the run of alphabet bytes that ends at `p` (`p` when
/// byte `p - 1` is not in the alphabet), not below `floor`.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn run_start(buf: &[u8], mut p: usize, floor: usize) -> usize {
    // Most hits are a run's first window: the byte before is not in the
    // alphabet, and no mask is needed.
    if p <= floor || !is_alphabet(buf[p - 1]) {
        return p.max(floor);
    }
    while p > floor {
        if p < BLOCK {
            if !is_alphabet(buf[p - 1]) {
                return p;
            }
            p -= 1;
            continue;
        }
        let ones = masks_at(buf, p - BLOCK).0.leading_ones() as usize;
        if ones < BLOCK {
            return (p - ones).max(floor);
        }
        p -= BLOCK;
    }
    floor
}

/// The end of the run of alphabet bytes that goes on at `p`.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn run_end(buf: &[u8], mut p: usize) -> usize {
    loop {
        let t = masks_at(buf, p).0.trailing_ones() as usize;
        if t < BLOCK {
            return (p + t).min(buf.len());
        }
        p += BLOCK;
    }
}

/// How [`walk`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walked {
    /// Every pending hit was walked.
    All,
    /// A run starts at `to` or later: no more runs to hand on.
    PastEnd,
    /// The callback asked to stop.
    Stopped,
}

/// Walks out the runs of the pending hits: `hits[j]`, window starts in the
/// block at `blocks[j]`, in order. `done`: as in [`for_each_run`].
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn walk(
    buf: &[u8],
    to: usize,
    blocks: &[usize],
    hits: &[u64],
    done: &mut usize,
    f: &mut dyn FnMut(Range<usize>) -> Flow,
) -> Walked {
    for (&block, &hits) in blocks.iter().zip(hits) {
        let mut hits = hits;
        loop {
            if *done > block {
                let d = *done - block;
                if d >= BLOCK {
                    break;
                }
                hits &= !0u64 << d;
            }
            if hits == 0 {
                break;
            }
            let at = block + hits.trailing_zeros() as usize;
            let start = run_start(buf, at, *done);
            if start >= to {
                return Walked::PastEnd;
            }
            let end = run_end(buf, at);
            let began_before = start == *done && start > 0 && is_alphabet(buf[start - 1]);
            if !began_before && f(start..end).is_break() {
                return Walked::Stopped;
            }
            *done = end;
        }
    }
    Walked::All
}

/// [`super::runs_with`] (the runs of [`super::for_each_run`], or with
/// `SKIP_HEX` those of [`super::for_each_candidate_run`], leaving out every
/// run of only `0-9a-f-`), in the same order.
///
/// # Safety
/// The CPU must have what [`detect`] checks.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,gfni,bmi1,lzcnt,popcnt")]
pub unsafe fn for_each_run<const SKIP_HEX: bool>(
    buf: &[u8],
    from: usize,
    to: usize,
    f: &mut dyn FnMut(Range<usize>) -> Flow,
) -> Flow {
    let to = to.min(buf.len());
    let mut base = from;
    // Runs starting below `done` were handed on, or began before `from`
    // (the caller's window before owns them).
    let mut done = from;
    // Room for one more batch past `PENDING`.
    let mut blocks = [0usize; PENDING + LANES];
    let mut hits = [0u64; PENDING + LANES];
    let mut pending = 0;
    let offsets = _mm512_set_epi64(448, 384, 320, 256, 192, 128, 64, 0);
    let mut walked = Walked::All;
    // The packed bits of the block at `base`, when the last batch read it.
    let mut first = None;
    while base < to && base + (LANES + 1) * BLOCK <= buf.len() {
        // SAFETY: the features are enabled here; the batch and the block
        // after it lie in `buf`.
        let (found, last) = unsafe { batch_hits::<SKIP_HEX>(buf.as_ptr().add(base), first) };
        first = Some(last);
        let lanes = _mm512_test_epi64_mask(found, found);
        // The lanes with hits, packed to the front, written whole: the
        // next batch writes over what is past them.
        let at = _mm512_add_epi64(_mm512_set1_epi64(base as i64), offsets);
        // SAFETY: `pending <= PENDING`, so 8 u64 fit from there.
        unsafe {
            _mm512_storeu_si512(
                hits.as_mut_ptr().add(pending).cast(),
                _mm512_maskz_compress_epi64(lanes, found),
            );
            _mm512_storeu_si512(
                blocks.as_mut_ptr().add(pending).cast(),
                _mm512_maskz_compress_epi64(lanes, at),
            );
        }
        pending += lanes.count_ones() as usize;
        base += LANES * BLOCK;
        if pending > PENDING - LANES {
            walked = walk(buf, to, &blocks[..pending], &hits[..pending], &mut done, f);
            pending = 0;
            if walked != Walked::All {
                break;
            }
            // A run handed on may end past this batch: nothing starts in
            // it.
            if done > base {
                base = done;
                first = None;
            }
        }
    }
    if walked == Walked::All {
        walked = walk(buf, to, &blocks[..pending], &hits[..pending], &mut done, f);
    }
    match walked {
        Walked::All => {}
        Walked::PastEnd => return Flow::Continue(()),
        Walked::Stopped => return Flow::Break(()),
    }
    base = base.max(done);
    // The rest: the bytes after the last batch (too few for one), and a
    // run open at `base` that starts before `to` (its hit may lie in a
    // window that starts past `to`, in no batch). The exact finder there
    // hands on a hex-only run it cannot see whole; this one never does.
    let start = run_start(buf, base, done);
    if start < to {
        let mut exact = |run: Range<usize>| {
            if SKIP_HEX && buf[run.clone()].iter().all(|&b| super::is_hexish(b)) {
                return Flow::Continue(());
            }
            f(run)
        };
        // SAFETY: AVX-512 F implies AVX2.
        return unsafe { super::for_each_run_avx2::<SKIP_HEX>(buf, start, to, &mut exact) };
    }
    Flow::Continue(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lookup gives the masks of the portable definition, for every
    /// byte value at every place of a block.
    #[test]
    fn block_masks_agree_with_the_scalar_ones() {
        if !detect() {
            return;
        }
        let all: Vec<u8> = (0..=255u8).chain(0..=255u8).chain(0..=255u8).collect();
        for at in (0..all.len()).step_by(13) {
            // SAFETY: `detect` said the CPU has the features.
            let got = unsafe { masks_at(&all, at) };
            assert_eq!(got, super::super::masks64_scalar(&all, at), "at {at}");
        }
    }
}
