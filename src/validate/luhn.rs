//! Luhn (mod 10) check, as used by payment card numbers.
//!
//! Mirrors python-stdnum 2.2 `stdnum.luhn.is_valid` with the default decimal
//! alphabet: every character must be an ASCII digit, the empty string is
//! invalid, and any length is allowed (length rules belong to the card brand
//! table, not to the checksum).

/// Luhn (mod 10) check over ASCII digits.
///
/// Returns `false` for an empty value or one containing anything but ASCII
/// digits, like stdnum.
pub fn luhn(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum = 0u32;
    // Walk from the check digit leftwards: every second digit is doubled and,
    // when the double has two digits, replaced by their sum (double - 9).
    for (position_from_right, &byte) in digits.iter().rev().enumerate() {
        if !byte.is_ascii_digit() {
            return false;
        }
        let digit = u32::from(byte - b'0');
        let contribution = if !position_from_right.is_multiple_of(2) {
            let doubled = digit * 2;
            if doubled > 9 { doubled - 9 } else { doubled }
        } else {
            digit
        };
        // Reduce as we go so arbitrarily long input cannot overflow.
        sum = (sum + contribution) % 10;
    }
    sum == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_numbers() {
        assert!(luhn(b"78949")); // stdnum doctest
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"378282246310005"));
        assert!(luhn(b"0"));
        assert!(luhn(b"18"));
    }

    #[test]
    fn rejects_wrong_check_digit() {
        assert!(!luhn(b"7894")); // stdnum doctest
        assert!(!luhn(b"4111111111111112"));
        assert!(!luhn(b"1"));
    }

    #[test]
    fn rejects_empty_and_non_digits() {
        assert!(!luhn(b""));
        assert!(!luhn(b"4111 1111 1111 1111"));
        assert!(!luhn(b"4111-1111-1111-1111"));
        assert!(!luhn(b"7894x"));
        // Arabic-Indic digits are not ASCII digits.
        assert!(!luhn("٧٨٩٤٩".as_bytes()));
    }

    #[test]
    fn swapping_09_is_the_known_blind_spot() {
        // Luhn cannot see a 09 <-> 90 transposition; stdnum agrees.
        assert!(luhn(b"0901"));
        assert!(luhn(b"9001"));
    }

    #[test]
    fn very_long_input_does_not_overflow() {
        let zeros = [b'0'; 100_000];
        assert!(luhn(&zeros));
    }
}
