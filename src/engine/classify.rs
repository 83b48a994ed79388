//! Byte classes for 64-byte blocks, as bit masks.
//!
//! The prefilter never looks at bytes one at a time: it turns each 64-byte
//! block into a handful of `u64` masks (bit `i` set when byte `i` is an ASCII
//! digit, a separator, an upper-case letter, or the lead byte of a Persian or
//! Arabic-Indic digit) and combines them with shifts. On x86_64 the masks
//! come from SSE2 compares and `movemask` (SSE2 is part of the base ISA, so no
//! runtime detection is needed); elsewhere a scalar loop computes the same
//! masks.

/// The class masks of one block. Bit `i` describes byte `i` of the block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockMasks {
    /// ASCII `0`..=`9`.
    pub digit: u64,
    /// A group separator: space, `-` or `.`.
    pub sep: u64,
    /// ASCII `A`..=`Z`.
    pub upper: u64,
    /// `0xD9` or `0xDB`: the first byte of an Arabic-Indic (U+0660..) or
    /// Persian (U+06F0..) digit in UTF-8, and of many other Arabic letters.
    pub native_lead: u64,
}

/// Bytes per block.
pub const BLOCK: usize = 64;

/// Classifies the 64 bytes starting at `at`; bytes past the end of `buf`
/// count as no class at all.
#[inline]
pub fn classify_at(buf: &[u8], at: usize) -> BlockMasks {
    if at + BLOCK <= buf.len() {
        let block: &[u8; BLOCK] = buf[at..at + BLOCK].try_into().expect("64 bytes");
        classify(block)
    } else if at < buf.len() {
        let mut padded = [0u8; BLOCK];
        let rest = &buf[at..];
        padded[..rest.len()].copy_from_slice(rest);
        classify(&padded)
    } else {
        BlockMasks::default()
    }
}

/// Classifies one full block.
#[inline]
pub fn classify(block: &[u8; BLOCK]) -> BlockMasks {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is always available on x86_64.
        unsafe { sse2::classify(block) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        classify_scalar(block)
    }
}

/// The portable definition of the masks; the SIMD version must agree with it.
pub fn classify_scalar(block: &[u8; BLOCK]) -> BlockMasks {
    let mut m = BlockMasks::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        if b.is_ascii_digit() {
            m.digit |= bit;
        }
        if b == b' ' || b == b'-' || b == b'.' {
            m.sep |= bit;
        }
        if b.is_ascii_uppercase() {
            m.upper |= bit;
        }
        if b == 0xD9 || b == 0xDB {
            m.native_lead |= bit;
        }
    }
    m
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use super::{BLOCK, BlockMasks};
    use std::arch::x86_64::*;

    /// `lo <= v <= lo + span` for unsigned bytes, as a byte mask.
    #[inline(always)]
    unsafe fn in_range(v: __m128i, lo: i8, span: i8) -> __m128i {
        unsafe {
            let x = _mm_sub_epi8(v, _mm_set1_epi8(lo));
            _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(span)), x)
        }
    }

    #[inline(always)]
    unsafe fn classify16(p: *const u8) -> (u64, u64, u64, u64) {
        unsafe {
            let v = _mm_loadu_si128(p as *const __m128i);
            let digit = in_range(v, b'0' as i8, 9);
            let upper = in_range(v, b'A' as i8, 25);
            let sep = _mm_or_si128(
                _mm_or_si128(
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8)),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8)),
                ),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8)),
            );
            let lead = _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(0xD9u8 as i8)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(0xDBu8 as i8)),
            );
            (
                _mm_movemask_epi8(digit) as u16 as u64,
                _mm_movemask_epi8(sep) as u16 as u64,
                _mm_movemask_epi8(upper) as u16 as u64,
                _mm_movemask_epi8(lead) as u16 as u64,
            )
        }
    }

    /// # Safety
    /// Requires SSE2, which every x86_64 CPU has.
    #[inline]
    pub unsafe fn classify(block: &[u8; BLOCK]) -> BlockMasks {
        let mut m = BlockMasks::default();
        for lane in 0..4 {
            // SAFETY: lane * 16 + 16 <= 64 = block.len().
            let (d, s, u, l) = unsafe { classify16(block.as_ptr().add(lane * 16)) };
            let shift = lane * 16;
            m.digit |= d << shift;
            m.sep |= s << shift;
            m.upper |= u << shift;
            m.native_lead |= l << shift;
        }
        m
    }
}

/// Bit `i` of the result is set when bits `i .. i + k` of `bits` are all set
/// (`k >= 1`). `bits` holds two blocks (the current one in the low half), so
/// the answer is exact for the low 64 positions as long as `k <= 64`.
#[inline]
pub fn runs_of(bits: u128, k: u32) -> u64 {
    debug_assert!((1..=64).contains(&k));
    let mut acc = bits;
    let mut have = 1u32;
    while have * 2 <= k {
        acc &= acc >> have;
        have *= 2;
    }
    if have < k {
        acc &= acc >> (k - have);
    }
    acc as u64
}

/// Joins the masks of a block and the block after it.
#[inline]
pub fn pair(cur: u64, next: u64) -> u128 {
    cur as u128 | ((next as u128) << 64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn runs_of_finds_run_starts() {
        // digits at 2..=6 (5 long) and 10..=12 (3 long)
        let bits: u128 = 0b1_1100_0111_1100;
        assert_eq!(runs_of(bits, 1), bits as u64);
        assert_eq!(runs_of(bits, 3), 0b100_0001_1100);
        assert_eq!(runs_of(bits, 5), 0b100);
        assert_eq!(runs_of(bits, 6), 0);
    }

    #[test]
    fn runs_cross_into_next_block() {
        let cur = 0xF000_0000_0000_0000u64; // last 4 bytes of the block
        let next = 0b11111u64; // first 5 bytes of the next one
        assert_eq!(runs_of(pair(cur, next), 9), 1u64 << 60);
        assert_eq!(runs_of(pair(cur, next), 10), 0);
    }

    proptest! {
        #[test]
        fn simd_agrees_with_scalar(bytes in proptest::collection::vec(any::<u8>(), 64)) {
            let block: [u8; 64] = bytes.try_into().unwrap();
            prop_assert_eq!(classify(&block), classify_scalar(&block));
        }

        #[test]
        fn runs_of_matches_naive(bits in any::<u128>(), k in 1u32..=64) {
            let fast = runs_of(bits, k);
            let mut naive = 0u64;
            for i in 0..64u32 {
                if (i..i + k).all(|j| j < 128 && bits >> j & 1 == 1) {
                    naive |= 1 << i;
                }
            }
            prop_assert_eq!(fast, naive);
        }
    }
}
