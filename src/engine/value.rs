//! The found value: a number we must never print.
//!
//! A [`SecretValue`] holds the compact form of a match (ASCII digits and
//! upper-case letters, separators removed) in a fixed-size buffer. It is the
//! only place a raw number lives in memory outside the scanned text itself:
//! `Debug` and `Display` print the masked form, there is no accessor that
//! returns a `String`, and the bytes are zeroed when the value is dropped, so
//! a stray `{:?}` in a log line or a panic message cannot leak it.

use std::fmt;

use zeroize::Zeroize;

/// Longest compact value we keep: an IBAN is at most 34 characters.
pub const MAX_VALUE_LEN: usize = 40;

/// How much of a value may be shown (a rule's property, defined in
/// `rules`; re-exported here, where it is applied).
pub use crate::rules::MaskStyle;

/// A found value, masked whenever it is formatted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue {
    bytes: [u8; MAX_VALUE_LEN],
    len: u8,
    style: MaskStyle,
}

impl SecretValue {
    /// Builds a value from compact bytes. Returns `None` when `compact` is
    /// longer than [`MAX_VALUE_LEN`].
    pub fn new(compact: &[u8], style: MaskStyle) -> Option<SecretValue> {
        if compact.len() > MAX_VALUE_LEN {
            return None;
        }
        let mut bytes = [0u8; MAX_VALUE_LEN];
        bytes[..compact.len()].copy_from_slice(compact);
        Some(SecretValue {
            bytes,
            len: compact.len() as u8,
            style,
        })
    }

    /// Number of characters in the compact value.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True for an empty value (never produced by the engine).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The masking style.
    pub fn style(&self) -> MaskStyle {
        self.style
    }

    /// Lets `f` read the raw compact bytes, for fingerprinting, redaction and
    /// comparison. The bytes must not be stored or printed by the caller.
    pub fn expose<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.bytes[..self.len as usize])
    }

    /// How many leading and trailing characters the mask keeps visible.
    fn visible(&self) -> (usize, usize) {
        let n = self.len as usize;
        match self.style {
            // First 6 + last 4 (the PCI DSS maximum) for 16 digits and
            // more; shorter numbers show less so that at least 6 digits
            // always stay hidden (10 of a 12-digit Maestro would not).
            MaskStyle::Card => {
                let tail = if n >= 10 { 4 } else { n / 3 };
                let head = 6.min(n.saturating_sub(tail + 6));
                (head, tail)
            }
            MaskStyle::Last4 => (0, 4.min(n / 2)),
        }
    }

    /// The masked form, e.g. `411111******1111` or `*******0029`: same
    /// length as the compact value, hidden characters as `*`.
    pub fn masked(&self) -> String {
        let n = self.len as usize;
        let (head, tail) = self.visible();
        let mut out = String::with_capacity(n);
        for (i, &b) in self.bytes[..n].iter().enumerate() {
            if i < head || i >= n - tail {
                out.push(b as char);
            } else {
                out.push('*');
            }
        }
        out
    }

    /// The visible last characters (at most 4), used by redaction to keep
    /// e.g. `**** **** **** 1111`.
    pub fn visible_tail(&self) -> usize {
        self.visible().1
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_masks_first6_last4() {
        let v = SecretValue::new(b"4111111111111111", MaskStyle::Card).unwrap();
        assert_eq!(v.masked(), "411111******1111");
        assert_eq!(format!("{v}"), "411111******1111");
        assert_eq!(format!("{v:?}"), "SecretValue(411111******1111)");
    }

    #[test]
    fn short_card_never_shows_most_digits() {
        let v = SecretValue::new(b"501800000009", MaskStyle::Card).unwrap();
        let m = v.masked();
        assert_eq!(m.len(), 12);
        let hidden = m.chars().filter(|c| *c == '*').count();
        assert!(hidden >= 6, "{m}");
        assert_eq!(m, "50******0009");
        let amex = SecretValue::new(b"373194875749111", MaskStyle::Card).unwrap();
        assert_eq!(amex.masked(), "37319******9111");
    }

    #[test]
    fn ids_show_last4_at_most() {
        let v = SecretValue::new(b"11010519491231002X", MaskStyle::Last4).unwrap();
        assert_eq!(v.masked(), "**************002X");
        let ssn = SecretValue::new(b"123456789", MaskStyle::Last4).unwrap();
        assert_eq!(ssn.masked(), "*****6789");
    }

    #[test]
    fn too_long_is_refused() {
        assert!(SecretValue::new(&[b'1'; 41], MaskStyle::Last4).is_none());
    }

    #[test]
    fn debug_of_containing_struct_is_masked() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            v: SecretValue,
        }
        let h = Holder {
            v: SecretValue::new(b"79927398713", MaskStyle::Last4).unwrap(),
        };
        let s = format!("{h:?}");
        assert!(!s.contains("79927398713"), "{s}");
    }
}
