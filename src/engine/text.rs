//! Small byte-level helpers shared by the candidate scanner: digits in any
//! of the scripts we read, and the "not ASCII alphanumeric" boundary.
//!
//! Boundaries are deliberately ASCII-only, never Unicode `\b`: a number glued
//! to Chinese or Persian text (`身份证号码110105...`) is a match, a number
//! glued to an ASCII letter or digit (`INV4111...`) is part of a bigger token.

/// True for ASCII letters and digits: the only bytes that glue onto a number.
#[inline]
pub fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// True when the byte at `i` exists and is ASCII alphanumeric.
#[inline]
pub fn alnum_at(buf: &[u8], i: usize) -> bool {
    buf.get(i).is_some_and(|&b| is_alnum(b))
}

/// True when the byte just before `i` exists and is ASCII alphanumeric.
#[inline]
pub fn alnum_before(buf: &[u8], i: usize) -> bool {
    i > 0 && is_alnum(buf[i - 1])
}

/// A Persian (U+06F0..U+06F9, UTF-8 `DB B0..B9`) or Arabic-Indic
/// (U+0660..U+0669, `D9 A0..A9`) digit starting at `i`: its value.
#[inline]
pub fn native_digit_at(buf: &[u8], i: usize) -> Option<u8> {
    match (buf.get(i), buf.get(i + 1)) {
        (Some(0xDB), Some(&c)) if (0xB0..=0xB9).contains(&c) => Some(c - 0xB0),
        (Some(0xD9), Some(&c)) if (0xA0..=0xA9).contains(&c) => Some(c - 0xA0),
        _ => None,
    }
}

/// The digit (any script) starting at `i`: its value and width in bytes.
#[inline]
pub fn digit_at(buf: &[u8], i: usize) -> Option<(u8, usize)> {
    let b = *buf.get(i)?;
    if b.is_ascii_digit() {
        return Some((b - b'0', 1));
    }
    native_digit_at(buf, i).map(|d| (d, 2))
}

/// The digit (any script) that ends just before `end`: value and width.
#[inline]
pub fn digit_before(buf: &[u8], end: usize) -> Option<(u8, usize)> {
    if end == 0 || end > buf.len() {
        return None;
    }
    let b = buf[end - 1];
    if b.is_ascii_digit() {
        return Some((b - b'0', 1));
    }
    if end >= 2 {
        return native_digit_at(buf, end - 2).map(|d| (d, 2));
    }
    None
}

/// A group separator: space, `-` or `.`.
#[inline]
pub fn is_sep(b: u8) -> bool {
    b == b' ' || b == b'-' || b == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persian_and_arabic_digits() {
        let s = "۴٣7".as_bytes();
        assert_eq!(digit_at(s, 0), Some((4, 2)));
        assert_eq!(digit_at(s, 2), Some((3, 2)));
        assert_eq!(digit_at(s, 4), Some((7, 1)));
        assert_eq!(digit_before(s, 4), Some((3, 2)));
        assert_eq!(digit_before(s, 2), Some((4, 2)));
        assert_eq!(digit_before(s, 5), Some((7, 1)));
        assert_eq!(digit_at(s, 1), None);
        // An Arabic letter that shares the lead byte is not a digit.
        assert_eq!(digit_at("م".as_bytes(), 0), None);
    }

    #[test]
    fn boundaries_are_ascii_only() {
        let s = "号1".as_bytes();
        assert!(!alnum_before(s, s.len() - 1));
        assert!(alnum_before(b"A1", 1));
        assert!(!alnum_at(b"1", 1));
    }
}
