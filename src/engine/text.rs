//! Small byte-level helpers shared by the candidate scanner: digits in any
//! of the scripts we read, group separators as people and programs write
//! them, and the "not ASCII alphanumeric" boundary.
//!
//! Boundaries are deliberately ASCII-only, never Unicode `\b`: a number glued
//! to Chinese or Persian text (`身份证号码110105...`) is a match, a number
//! glued to an ASCII letter or digit (`INV4111...`) is part of a bigger token.
//! One exception: the two hex digits of a percent escape (`card%3D4539...`)
//! are a boundary, because they stand for one punctuation byte.

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

/// True when the byte just before `i` exists and is ASCII alphanumeric, and
/// is not the last hex digit of a percent escape (`%3D`): an escape
/// stands for punctuation in a URL or a form body, so it bounds a number.
#[inline]
pub fn alnum_before(buf: &[u8], i: usize) -> bool {
    i > 0 && is_alnum(buf[i - 1]) && !escape_ends_at(buf, i)
}

/// True when `buf[i - 3..i]` is a percent escape `%XX`.
#[inline]
pub fn escape_ends_at(buf: &[u8], i: usize) -> bool {
    i >= 3
        && i <= buf.len()
        && buf[i - 3] == b'%'
        && buf[i - 2].is_ascii_hexdigit()
        && buf[i - 1].is_ascii_hexdigit()
}

/// The decimal digits of every script we read, as one table: the UTF-8
/// bytes before the last one, the last byte of digit zero, and the width.
/// ASCII is handled before the table. Adding a script is one row; every
/// rule sees it (rules never list scripts of digits).
const DIGIT_SCRIPTS: &[(&[u8], u8)] = &[
    // Arabic-Indic U+0660..U+0669
    (&[0xD9], 0xA0),
    // Extended Arabic-Indic (Persian, Urdu) U+06F0..U+06F9
    (&[0xDB], 0xB0),
    // Devanagari U+0966..U+096F (Hindi: Aadhaar, PAN cards)
    (&[0xE0, 0xA5], 0xA6),
    // Bengali U+09E6..U+09EF
    (&[0xE0, 0xA7], 0xA6),
    // Full-width U+FF10..U+FF19 (Chinese and Japanese text)
    (&[0xEF, 0xBC], 0x90),
];

/// A non-ASCII decimal digit starting at `i` ([`DIGIT_SCRIPTS`]): its
/// value and its width in bytes.
#[inline]
pub fn wide_digit_at(buf: &[u8], i: usize) -> Option<(u8, usize)> {
    let lead = *buf.get(i)?;
    if lead < 0xD9 {
        return None;
    }
    for &(prefix, zero) in DIGIT_SCRIPTS {
        if prefix[0] != lead {
            continue;
        }
        let w = prefix.len() + 1;
        let Some(bytes) = buf.get(i..i + w) else {
            continue;
        };
        let last = bytes[w - 1];
        if bytes[..w - 1] == *prefix && (zero..=zero + 9).contains(&last) {
            return Some((last - zero, w));
        }
    }
    None
}

/// A Persian, Arabic-Indic, Devanagari, Bengali or full-width digit
/// starting at `i`: its value.
#[inline]
pub fn native_digit_at(buf: &[u8], i: usize) -> Option<u8> {
    wide_digit_at(buf, i).map(|(d, _)| d)
}

/// The digit (any script) starting at `i`: its value and width in bytes.
#[inline]
pub fn digit_at(buf: &[u8], i: usize) -> Option<(u8, usize)> {
    let b = *buf.get(i)?;
    if b.is_ascii_digit() {
        return Some((b - b'0', 1));
    }
    wide_digit_at(buf, i)
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
    if b < 0x80 {
        return None;
    }
    for w in [2, 3] {
        if end >= w
            && let Some((d, dw)) = wide_digit_at(buf, end - w)
            && dw == w
        {
            return Some((d, w));
        }
    }
    None
}

/// A check character (`X`) at `i`, ASCII or full-width (`Ｘ`, `ｘ`):
/// upper-case ASCII and its width.
#[inline]
pub fn check_char_at(buf: &[u8], i: usize) -> Option<(u8, usize)> {
    let b = *buf.get(i)?;
    if b.is_ascii_alphabetic() {
        return Some((b.to_ascii_uppercase(), 1));
    }
    // Full-width Latin letters: U+FF21..U+FF3A (EF BC A1..BA) and
    // U+FF41..U+FF5A (EF BD 81..9A).
    match buf.get(i..i + 3)? {
        [0xEF, 0xBC, c @ 0xA1..=0xBA] => Some((b'A' + (c - 0xA1), 3)),
        [0xEF, 0xBD, c @ 0x81..=0x9A] => Some((b'A' + (c - 0x81), 3)),
        _ => None,
    }
}

/// A group separator: space, `-` or `.`.
#[inline]
pub fn is_sep(b: u8) -> bool {
    b == b' ' || b == b'-' || b == b'.'
}

/// The separators a grouped number may use, beyond the ASCII ones: the
/// bytes, the code the engine keeps for them (one code per character, so a
/// number that mixes two is not one number) and the ASCII separator whose
/// rule setting (`separators:`) admits them.
const WIDE_SEPS: &[(&[u8], u8, u8)] = &[
    // Word processors, HTML `&nbsp;`, French grouping.
    ("\u{00A0}".as_bytes(), 0x01, b' '),
    ("\u{202F}".as_bytes(), 0x02, b' '),
    ("\u{2009}".as_bytes(), 0x03, b' '),
    ("\u{2007}".as_bytes(), 0x04, b' '),
    ("\u{2008}".as_bytes(), 0x05, b' '),
    // CJK text.
    ("\u{3000}".as_bytes(), 0x06, b' '),
    ("\u{2013}".as_bytes(), 0x07, b'-'),
    ("\u{2011}".as_bytes(), 0x08, b'-'),
    ("\u{2212}".as_bytes(), 0x09, b'-'),
    ("\u{2010}".as_bytes(), 0x0A, b'-'),
    ("\u{2012}".as_bytes(), 0x0B, b'-'),
    // Full-width hyphen-minus.
    ("\u{FF0D}".as_bytes(), 0x0C, b'-'),
    // URLs and form bodies: `%20` and `+` are a space, `%2D` a dash.
    (b"%20", 0x0D, b' '),
    (b"+", 0x0E, b' '),
    (b"%2D", 0x0F, b'-'),
    (b"%2d", 0x0F, b'-'),
];

/// True for a byte that may start a separator of [`WIDE_SEPS`]: what the
/// prefilter looks for after a digit.
#[inline]
pub fn is_wide_sep_lead(b: u8) -> bool {
    matches!(b, 0xC2 | 0xE2 | 0xE3 | 0xEF | b'%' | b'+')
}

/// The separator starting at `i`: its code (the ASCII byte for ` `, `-`,
/// `.`; a code below 0x10 for the others) and its width in bytes.
#[inline]
pub fn sep_at(buf: &[u8], i: usize) -> Option<(u8, usize)> {
    let b = *buf.get(i)?;
    if is_sep(b) {
        return Some((b, 1));
    }
    if !is_wide_sep_lead(b) {
        return None;
    }
    let rest = &buf[i..];
    WIDE_SEPS
        .iter()
        .find(|(bytes, _, _)| rest.starts_with(bytes))
        .map(|&(bytes, code, _)| (code, bytes.len()))
}

/// The separator that ends just before `end`: its code and width.
#[inline]
pub fn sep_before(buf: &[u8], end: usize) -> Option<(u8, usize)> {
    if end == 0 || end > buf.len() {
        return None;
    }
    let b = buf[end - 1];
    if is_sep(b) {
        return Some((b, 1));
    }
    let head = &buf[..end];
    WIDE_SEPS
        .iter()
        .find(|(bytes, _, _)| head.ends_with(bytes))
        .map(|&(bytes, code, _)| (code, bytes.len()))
}

/// The ASCII separator (` `, `-`, `.`) whose rule setting admits the
/// separator with this code.
#[inline]
pub fn sep_class(code: u8) -> u8 {
    if is_sep(code) {
        return code;
    }
    WIDE_SEPS
        .iter()
        .find(|&&(_, c, _)| c == code)
        .map_or(0, |&(_, _, class)| class)
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
    fn full_width_and_devanagari_digits() {
        let s = "１२৩4".as_bytes();
        assert_eq!(digit_at(s, 0), Some((1, 3)));
        assert_eq!(digit_at(s, 3), Some((2, 3)));
        assert_eq!(digit_at(s, 6), Some((3, 3)));
        assert_eq!(digit_before(s, 3), Some((1, 3)));
        assert_eq!(digit_before(s, 6), Some((2, 3)));
        assert_eq!(digit_before(s, 9), Some((3, 3)));
        // Full-width letters and other CJK punctuation are not digits.
        assert_eq!(digit_at("Ａ：".as_bytes(), 0), None);
        assert_eq!(digit_at("：".as_bytes(), 0), None);
        assert_eq!(check_char_at("Ｘ".as_bytes(), 0), Some((b'X', 3)));
        assert_eq!(check_char_at("ｘ".as_bytes(), 0), Some((b'X', 3)));
    }

    #[test]
    fn wide_separators() {
        for (s, class) in [
            ("1\u{00A0}2", b' '),
            ("1\u{202F}2", b' '),
            ("1\u{3000}2", b' '),
            ("1\u{2013}2", b'-'),
            ("1\u{2212}2", b'-'),
            ("1%202", b' '),
            ("1+2", b' '),
        ] {
            let b = s.as_bytes();
            let (code, w) = sep_at(b, 1).unwrap();
            assert_eq!(sep_class(code), class, "{s}");
            assert_eq!(sep_before(b, 1 + w), Some((code, w)), "{s}");
        }
        assert_eq!(
            sep_at("1\u{2019}2".as_bytes(), 1),
            None,
            "a quote is no separator"
        );
        assert_ne!(
            sep_at("\u{00A0}".as_bytes(), 0),
            sep_at("\u{202F}".as_bytes(), 0)
        );
    }

    #[test]
    fn boundaries_are_ascii_only() {
        let s = "号1".as_bytes();
        assert!(!alnum_before(s, s.len() - 1));
        assert!(alnum_before(b"A1", 1));
        assert!(!alnum_at(b"1", 1));
    }

    #[test]
    fn percent_escapes_are_boundaries() {
        assert!(!alnum_before(b"card%3D4", 7));
        assert!(!alnum_before(b"a%2F4", 4));
        assert!(alnum_before(b"a3D4", 3));
        assert!(alnum_before(b"%3DA4", 4));
    }
}
