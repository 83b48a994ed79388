//! Byte classes for 128-byte windows, as `u128` bit masks.
//!
//! The prefilter never looks at bytes one at a time: it turns each window of
//! 128 bytes into a handful of masks (bit `i` set when byte `i` is an ASCII
//! digit, a separator, an upper-case letter, or the lead byte of a Persian or
//! Arabic-Indic digit) and combines them with shifts. On x86_64 the masks
//! come from SIMD compares and `movemask`: AVX2 when the CPU has it (chosen
//! once at run time), else SSE2, which every x86_64 CPU has. Elsewhere a
//! scalar loop computes the same masks.

/// Bytes per window.
pub const WIDTH: usize = 128;

/// Whether `LEAKHOUND_SIMD=avx2` asks for the AVX2 code on a CPU that has
/// AVX-512 too (to measure it): the window classes here and the base64
/// run finder both read it.
pub fn avx2_only() -> bool {
    std::env::var_os("LEAKHOUND_SIMD").is_some_and(|v| v == "avx2")
}

/// The class masks of one window. Bit `i` describes byte `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Masks {
    /// ASCII `0`..=`9`.
    pub digit: u128,
    /// A group separator: space, `-` or `.`.
    pub sep: u128,
    /// ASCII `A`..=`Z`.
    pub upper: u128,
    /// A byte `0xC2` or above, `%` or `+`: the first byte of a digit of
    /// another script (Arabic-Indic, Persian, Devanagari, Bengali,
    /// full-width) or of a separator other than ` `, `-`, `.` (no-break and
    /// thin spaces, dashes, the ideographic space, `%20`, `+`). One mask
    /// for both, with one range compare, so ASCII text pays little for it.
    pub wide: u128,
}

/// A way to compute [`Masks`].
pub trait Classifier: Copy {
    /// Classifies one full window.
    fn classify(self, window: &[u8; WIDTH]) -> Masks;
}

/// Classifies the window starting at `at`; bytes past the end of `buf`
/// count as no class at all.
#[inline(always)]
pub fn classify_at<C: Classifier>(c: C, buf: &[u8], at: usize) -> Masks {
    if let Some(w) = buf.get(at..at + WIDTH) {
        c.classify(w.try_into().expect("128 bytes"))
    } else if at < buf.len() {
        let mut padded = [0u8; WIDTH];
        let rest = &buf[at..];
        padded[..rest.len()].copy_from_slice(rest);
        c.classify(&padded)
    } else {
        Masks::default()
    }
}

/// The portable definition of the masks; the SIMD versions must agree.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar;

impl Classifier for Scalar {
    fn classify(self, window: &[u8; WIDTH]) -> Masks {
        let mut m = Masks::default();
        for (i, &b) in window.iter().enumerate() {
            let bit = 1u128 << i;
            if b.is_ascii_digit() {
                m.digit |= bit;
            }
            if b == b' ' || b == b'-' || b == b'.' {
                m.sep |= bit;
            }
            if b.is_ascii_uppercase() {
                m.upper |= bit;
            }
            if b >= 0xC2 || b == b'%' || b == b'+' {
                m.wide |= bit;
            }
        }
        m
    }
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512, Sse2};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Classifier, Masks, WIDTH};
    use std::arch::x86_64::*;

    /// SSE2, 16 bytes at a time.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Sse2;

    /// AVX2, 32 bytes at a time. Only construct it through [`Avx2::detect`].
    #[derive(Debug, Clone, Copy)]
    pub struct Avx2(());

    impl Avx2 {
        /// `Some` when this CPU has AVX2.
        pub fn detect() -> Option<Avx2> {
            is_x86_feature_detected!("avx2").then_some(Avx2(()))
        }
    }

    /// AVX-512 (F and BW), 64 bytes at a time, compares straight into
    /// mask registers (no `movemask`). Only construct it through
    /// [`Avx512::detect`].
    #[derive(Debug, Clone, Copy)]
    pub struct Avx512(());

    impl Avx512 {
        /// `Some` when this CPU has AVX-512 F and BW, and
        /// `LEAKHOUND_SIMD` does not say `avx2` (to measure the AVX2 code
        /// on a CPU that has both).
        pub fn detect() -> Option<Avx512> {
            let avx2_only = super::avx2_only();
            (!avx2_only
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw"))
            .then_some(Avx512(()))
        }
    }

    impl Classifier for Avx512 {
        #[inline(always)]
        fn classify(self, window: &[u8; WIDTH]) -> Masks {
            // SAFETY: an `Avx512` value exists only when the CPU has
            // AVX-512 F and BW.
            unsafe { avx512_window(window) }
        }
    }

    /// [`Masks`] of a window by AVX-512 F and BW. Not `#[target_feature]`,
    /// so that it inlines into the scan loop (which is compiled for
    /// AVX-512 and calls it for every window): a call per window and its
    /// 64-byte result cost more than the compares.
    ///
    /// # Safety
    /// Call it only from a function compiled with AVX-512 F and BW.
    #[inline(always)]
    unsafe fn avx512_window(window: &[u8; WIDTH]) -> Masks {
        // SAFETY: the caller is compiled with the features (see above);
        // each load reads half * 64 .. half * 64 + 64 <= 128 bytes.
        unsafe {
            let mut m = Masks::default();
            for half in 0..WIDTH / 64 {
                let v = _mm512_loadu_si512(window.as_ptr().add(half * 64).cast());
                let eq = |b: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b as i8));
                let below = |lo: u8, n: u8| {
                    let x = _mm512_sub_epi8(v, _mm512_set1_epi8(lo as i8));
                    _mm512_cmplt_epu8_mask(x, _mm512_set1_epi8(n as i8))
                };
                let digit = below(b'0', 10);
                let upper = below(b'A', 26);
                let sep = eq(b' ') | eq(b'-') | eq(b'.');
                let high = _mm512_cmpge_epu8_mask(v, _mm512_set1_epi8(0xC2u8 as i8));
                let wide = high | eq(b'%') | eq(b'+');
                let shift = half * 64;
                m.digit |= (digit as u128) << shift;
                m.sep |= (sep as u128) << shift;
                m.upper |= (upper as u128) << shift;
                m.wide |= (wide as u128) << shift;
            }
            m
        }
    }

    impl Classifier for Sse2 {
        #[inline(always)]
        fn classify(self, window: &[u8; WIDTH]) -> Masks {
            let mut m = Masks::default();
            for lane in 0..WIDTH / 16 {
                // SAFETY: SSE2 is part of x86_64; lane * 16 + 16 <= 128.
                let (d, s, u, w) = unsafe { sse2_lane(window.as_ptr().add(lane * 16)) };
                let shift = lane * 16;
                m.digit |= (d as u128) << shift;
                m.sep |= (s as u128) << shift;
                m.upper |= (u as u128) << shift;
                m.wide |= (w as u128) << shift;
            }
            m
        }
    }

    impl Classifier for Avx2 {
        #[inline(always)]
        fn classify(self, window: &[u8; WIDTH]) -> Masks {
            // SAFETY: an `Avx2` value exists only when the CPU has AVX2.
            unsafe { avx2_window(window) }
        }
    }

    /// `lo <= v <= lo + span` for unsigned bytes, as a byte mask.
    #[inline(always)]
    unsafe fn in_range(v: __m128i, lo: i8, span: i8) -> __m128i {
        unsafe {
            let x = _mm_sub_epi8(v, _mm_set1_epi8(lo));
            _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(span)), x)
        }
    }

    #[inline(always)]
    unsafe fn sse2_lane(p: *const u8) -> (u16, u16, u16, u16) {
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
            // `v >= 0xC2` unsigned: max(v, 0xC2) == v.
            let high = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0xC2u8 as i8)), v);
            let wide = _mm_or_si128(
                high,
                _mm_or_si128(
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'%' as i8)),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'+' as i8)),
                ),
            );
            (
                _mm_movemask_epi8(digit) as u16,
                _mm_movemask_epi8(sep) as u16,
                _mm_movemask_epi8(upper) as u16,
                _mm_movemask_epi8(wide) as u16,
            )
        }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn in_range_256(v: __m256i, lo: i8, span: i8) -> __m256i {
        let x = _mm256_sub_epi8(v, _mm256_set1_epi8(lo));
        _mm256_cmpeq_epi8(_mm256_min_epu8(x, _mm256_set1_epi8(span)), x)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn avx2_window(window: &[u8; WIDTH]) -> Masks {
        let mut m = Masks::default();
        for lane in 0..WIDTH / 32 {
            // SAFETY: lane * 32 + 32 <= 128 = window.len().
            let v = unsafe { _mm256_loadu_si256(window.as_ptr().add(lane * 32) as *const __m256i) };
            let digit = in_range_256(v, b'0' as i8, 9);
            let upper = in_range_256(v, b'A' as i8, 25);
            let sep = _mm256_or_si256(
                _mm256_or_si256(
                    _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b' ' as i8)),
                    _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'-' as i8)),
                ),
                _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'.' as i8)),
            );
            let high = _mm256_cmpeq_epi8(_mm256_max_epu8(v, _mm256_set1_epi8(0xC2u8 as i8)), v);
            let wide = _mm256_or_si256(
                high,
                _mm256_or_si256(
                    _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'%' as i8)),
                    _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'+' as i8)),
                ),
            );
            let shift = lane * 32;
            m.digit |= (_mm256_movemask_epi8(digit) as u32 as u128) << shift;
            m.sep |= (_mm256_movemask_epi8(sep) as u32 as u128) << shift;
            m.upper |= (_mm256_movemask_epi8(upper) as u32 as u128) << shift;
            m.wide |= (_mm256_movemask_epi8(wide) as u32 as u128) << shift;
        }
        m
    }
}

/// `bits >> s` for a shift known to be below 64: the compiler then needs no
/// fix-up for shifts of 64 and more, which a plain `u128` shift pays on
/// every use.
#[inline(always)]
pub fn shr(bits: u128, s: u32) -> u128 {
    bits >> (s & 63)
}

/// Runs of set bits, by doubling: `r[j]` has bit `i` set when bits
/// `i .. i + 2^j` of the input are all set.
#[derive(Debug, Clone, Copy)]
pub struct Runs {
    r: [u128; 5],
}

impl Runs {
    /// Runs of length 1, 2, 4, 8 and 16 of `bits`.
    #[inline(always)]
    pub fn new(bits: u128) -> Runs {
        let r1 = bits;
        let r2 = r1 & (r1 >> 1);
        let r4 = r2 & (r2 >> 2);
        let r8 = r4 & (r4 >> 4);
        let r16 = r8 & (r8 >> 8);
        Runs {
            r: [r1, r2, r4, r8, r16],
        }
    }

    /// Bit `i` set when bits `i .. i + k` are all set (`1 <= k <= 31`);
    /// exact for `i + k <= 128`.
    #[inline(always)]
    pub fn of(&self, k: u32) -> u128 {
        debug_assert!((1..=31).contains(&k));
        let p = 31 - k.leading_zeros(); // log2 of the largest power of two <= k
        let base = self.r[(p as usize).min(4)];
        base & shr(base, k - (1 << p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn runs_find_run_starts() {
        // digits at 2..=6 (5 long) and 10..=12 (3 long)
        let bits: u128 = 0b1_1100_0111_1100;
        let r = Runs::new(bits);
        assert_eq!(r.of(1), bits);
        assert_eq!(r.of(3), 0b100_0001_1100);
        assert_eq!(r.of(5), 0b100);
        assert_eq!(r.of(6), 0);
    }

    fn naive_runs(bits: u128, k: u32) -> u128 {
        let mut out = 0u128;
        for i in 0..128u32 {
            if i + k <= 128 && (i..i + k).all(|j| bits >> j & 1 == 1) {
                out |= 1 << i;
            }
        }
        out
    }

    proptest! {
        #[test]
        fn runs_match_naive(bits in any::<u128>(), k in 1u32..=31) {
            prop_assert_eq!(Runs::new(bits).of(k), naive_runs(bits, k));
        }

        #[test]
        fn simd_agrees_with_scalar(bytes in proptest::collection::vec(any::<u8>(), WIDTH)) {
            let w: [u8; WIDTH] = bytes.try_into().unwrap();
            let expected = Scalar.classify(&w);
            #[cfg(target_arch = "x86_64")]
            {
                prop_assert_eq!(Sse2.classify(&w), expected);
                if let Some(avx) = Avx2::detect() {
                    prop_assert_eq!(avx.classify(&w), expected);
                }
                if let Some(avx) = Avx512::detect() {
                    prop_assert_eq!(avx.classify(&w), expected);
                }
            }
            let _ = expected;
        }
    }
}
