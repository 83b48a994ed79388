//! Iranian national code (کد ملی, kod-e melli): nine digits and a mod-11 check
//! digit.
//!
//! python-stdnum 2.2 has no Iranian module; the reference is the project's
//! `dlpref.melli_valid` (tests corpus): the weighted sum of the first nine
//! digits with weights 10 down to 2 is taken modulo 11; a remainder below 2 is
//! the check digit itself, otherwise the check digit is 11 minus it. Codes made
//! of one repeated digit pass that arithmetic for some digits but are never
//! issued, so they are rejected.

use super::{Invalid, Verdict, ascii_digits};

/// Iranian national code (kod-e melli): 10 digits.
pub fn ir_melli(value: &[u8]) -> Verdict {
    let digits = ascii_digits::<10>(value)?;
    if digits.iter().all(|&digit| digit == digits[0]) {
        return Err(Invalid::Component);
    }
    if digits[9] != check_digit(&digits) {
        return Err(Invalid::Checksum);
    }
    Ok(())
}

fn check_digit(digits: &[u8; 10]) -> u8 {
    let weighted_sum: u32 = (2..=10u32)
        .rev()
        .zip(digits)
        .map(|(weight, &digit)| weight * u32::from(digit))
        .sum();
    // Both branches are below 10, so the narrowing cannot lose anything.
    match weighted_sum % 11 {
        remainder @ 0..2 => remainder as u8,
        remainder => (11 - remainder) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_codes() {
        assert_eq!(ir_melli(b"0499370899"), Ok(()));
        assert_eq!(ir_melli(b"0790419904"), Ok(()));
        assert_eq!(ir_melli(b"0084575948"), Ok(()));
    }

    #[test]
    fn rejects_wrong_check_digit() {
        assert_eq!(ir_melli(b"0499370898"), Err(Invalid::Checksum));
        assert_eq!(ir_melli(b"0084575949"), Err(Invalid::Checksum));
    }

    #[test]
    fn rejects_repeated_digits_even_when_the_checksum_fits() {
        // 1111111111: sum 54, remainder 10, check digit 1 -- arithmetic passes.
        assert_eq!(ir_melli(b"1111111111"), Err(Invalid::Component));
        assert_eq!(ir_melli(b"0000000000"), Err(Invalid::Component));
        for digit in b'0'..=b'9' {
            assert!(ir_melli(&[digit; 10]).is_err());
        }
    }

    #[test]
    fn rejects_wrong_length_and_format() {
        assert_eq!(ir_melli(b"049937089"), Err(Invalid::Length));
        assert_eq!(ir_melli(b"04993708990"), Err(Invalid::Length));
        assert_eq!(ir_melli(b"049937089X"), Err(Invalid::Format));
        // Persian digits must be mapped to ASCII before validation.
        assert_eq!(ir_melli("۰۴۹۹۳۷۰۸۹۹".as_bytes()), Err(Invalid::Length));
    }
}
