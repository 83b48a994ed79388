//! Romanian CNP (Cod Numeric Personal): `S YY MM DD JJ NNN C`.
//!
//! Rules from python-stdnum 2.2's `stdnum.ro.cnp`:
//! * `S` (sex and century) must be 1-9: 1/2 mean 1900-1999, 3/4 1800-1899,
//!   5/6 2000-2099; 7/8 (foreign residents) and 9 (other foreigners) carry no
//!   century and stdnum assumes 1900-1999 for them.
//! * `YYMMDD` must be a real date in that century (stdnum has a TODO to reject
//!   future dates but does not, so neither do we).
//! * `JJ` must be a county code stdnum knows: 01-46 (counties and Bucharest
//!   sectors 1-6), 47 and 48 (Bucharest sectors 7 and 8, abolished but still
//!   accepted), 51, 52 (Calarasi, Giurgiu), 70 ("any") and 80-83 ("unknown").
//! * `C` is `sum(weight * digit) mod 11` with weights 279146358279, where a
//!   remainder of 10 gives check digit 1.

use super::date::is_real_date;
use super::{Invalid, Verdict, ascii_digits, decimal};

const WEIGHTS: [u8; 12] = [2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9];

/// Romanian CNP: 13 digits.
pub fn ro_cnp(value: &[u8]) -> Verdict {
    let digits = ascii_digits::<13>(value)?;
    let century_start = match digits[0] {
        0 => return Err(Invalid::Component),
        3 | 4 => 1800,
        5 | 6 => 2000,
        // 1 and 2 are 1900-1999; stdnum assumes the same for 7, 8 and 9.
        _ => 1900,
    };
    let year = century_start + decimal(&digits[1..3]);
    if !is_real_date(year, decimal(&digits[3..5]), decimal(&digits[5..7])) {
        return Err(Invalid::Date);
    }
    if !is_known_county(decimal(&digits[7..9])) {
        return Err(Invalid::Component);
    }
    if digits[12] != check_digit(&digits) {
        return Err(Invalid::Checksum);
    }
    Ok(())
}

fn is_known_county(code: u32) -> bool {
    matches!(code, 1..=48 | 51 | 52 | 70 | 80..=83)
}

fn check_digit(digits: &[u8; 13]) -> u8 {
    let weighted_sum: u32 = WEIGHTS
        .iter()
        .zip(digits)
        .map(|(&weight, &digit)| u32::from(weight) * u32::from(digit))
        .sum();
    match weighted_sum % 11 {
        10 => 1,
        // The remainder is below 10 here, so the narrowing cannot lose anything.
        remainder => remainder as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdnum_doctests() {
        assert_eq!(ro_cnp(b"1630615123457"), Ok(()));
        assert_eq!(ro_cnp(b"0800101221142"), Err(Invalid::Component));
        assert_eq!(ro_cnp(b"1632215123457"), Err(Invalid::Date));
        assert_eq!(ro_cnp(b"1630615993454"), Err(Invalid::Component));
        assert_eq!(ro_cnp(b"1630615123458"), Err(Invalid::Checksum));
    }

    /// Builds a CNP with a correct check digit from its first twelve digits.
    fn with_check_digit(first_twelve: &[u8; 12]) -> [u8; 13] {
        let mut value = [b'0'; 13];
        value[..12].copy_from_slice(first_twelve);
        let digits = ascii_digits::<13>(&value).expect("twelve digits and a zero");
        value[12] = b'0' + check_digit(&digits);
        value
    }

    #[test]
    fn century_digit_decides_leap_years() {
        // February 29 of year 00: only 2000 (first digit 5 or 6) was a leap year.
        for first in [b'1', b'2', b'3', b'4', b'7', b'8', b'9'] {
            let mut value = *b"100022912345";
            value[0] = first;
            assert_eq!(ro_cnp(&with_check_digit(&value)), Err(Invalid::Date));
        }
        assert_eq!(ro_cnp(&with_check_digit(b"500022912345")), Ok(()));
        assert_eq!(ro_cnp(&with_check_digit(b"600022912345")), Ok(()));
        assert_eq!(ro_cnp(&with_check_digit(b"304022912345")), Ok(())); // 1804
    }

    #[test]
    fn county_codes() {
        for (county, known) in [
            (b"00", false),
            (b"01", true),
            (b"46", true),
            (b"47", true),
            (b"48", true),
            (b"49", false),
            (b"50", false),
            (b"51", true),
            (b"52", true),
            (b"53", false),
            (b"69", false),
            (b"70", true),
            (b"71", false),
            (b"79", false),
            (b"80", true),
            (b"83", true),
            (b"84", false),
            (b"99", false),
        ] {
            let mut value = *b"163061512345";
            value[7..9].copy_from_slice(county);
            let expected = if known {
                Ok(())
            } else {
                Err(Invalid::Component)
            };
            assert_eq!(
                ro_cnp(&with_check_digit(&value)),
                expected,
                "county {county:?}"
            );
        }
    }

    #[test]
    fn remainder_ten_gives_check_digit_one() {
        let digits = ascii_digits::<13>(b"1000101010090").expect("digits");
        let weighted_sum: u32 = WEIGHTS
            .iter()
            .zip(&digits)
            .map(|(&w, &d)| u32::from(w) * u32::from(d))
            .sum();
        assert_eq!(weighted_sum % 11, 10);
        assert_eq!(ro_cnp(b"1000101010091"), Ok(()));
        assert_eq!(ro_cnp(b"1000101010090"), Err(Invalid::Checksum));
    }

    #[test]
    fn rejects_wrong_length_and_format() {
        assert_eq!(ro_cnp(b"163061512345"), Err(Invalid::Length));
        assert_eq!(ro_cnp(b"16306151234570"), Err(Invalid::Length));
        assert_eq!(ro_cnp(b"163061512345X"), Err(Invalid::Format));
    }
}
