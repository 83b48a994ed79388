//! US Social Security Number: area (3 digits), group (2), serial (4).
//!
//! SSNs carry no check digit, so the only checks are structural. The rules are
//! python-stdnum 2.2's `stdnum.us.ssn`: area 000, 666 and 900-999 are never
//! issued (9xx also covers the advertising range and ITINs), group 00 and serial
//! 0000 are never issued, and three numbers famous from advertising and misuse
//! (078-05-1120 from a wallet insert, 457-55-5462 and 219-09-9999) are
//! rejected outright.

use super::{Invalid, Verdict, ascii_digits, decimal};

/// Numbers stdnum rejects by name even though their parts are all issuable.
const BLACKLISTED: [[u8; 9]; 3] = [
    [0, 7, 8, 0, 5, 1, 1, 2, 0],
    [4, 5, 7, 5, 5, 5, 4, 6, 2],
    [2, 1, 9, 0, 9, 9, 9, 9, 9],
];

/// US Social Security Number: 9 digits.
pub fn us_ssn(value: &[u8]) -> Verdict {
    let digits = ascii_digits::<9>(value)?;
    let area = decimal(&digits[0..3]);
    let group = decimal(&digits[3..5]);
    let serial = decimal(&digits[5..9]);
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return Err(Invalid::Component);
    }
    if BLACKLISTED.contains(&digits) {
        return Err(Invalid::Component);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_issuable_numbers() {
        assert_eq!(us_ssn(b"536904399"), Ok(())); // stdnum doctest
        assert_eq!(us_ssn(b"001010001"), Ok(()));
        assert_eq!(us_ssn(b"899999999"), Ok(()));
        assert_eq!(us_ssn(b"665999999"), Ok(()));
        assert_eq!(us_ssn(b"667010001"), Ok(()));
    }

    #[test]
    fn rejects_unissued_areas_groups_and_serials() {
        assert_eq!(us_ssn(b"000123456"), Err(Invalid::Component));
        assert_eq!(us_ssn(b"666123456"), Err(Invalid::Component));
        assert_eq!(us_ssn(b"900123456"), Err(Invalid::Component));
        assert_eq!(us_ssn(b"987654321"), Err(Invalid::Component)); // advertising range
        assert_eq!(us_ssn(b"123001234"), Err(Invalid::Component));
        assert_eq!(us_ssn(b"123450000"), Err(Invalid::Component));
        assert_eq!(us_ssn(b"666000000"), Err(Invalid::Component)); // stdnum doctest
    }

    #[test]
    fn rejects_blacklisted_numbers_but_not_their_neighbours() {
        assert_eq!(us_ssn(b"078051120"), Err(Invalid::Component));
        assert_eq!(us_ssn(b"457555462"), Err(Invalid::Component));
        assert_eq!(us_ssn(b"219099999"), Err(Invalid::Component));
        assert_eq!(us_ssn(b"078051121"), Ok(()));
        assert_eq!(us_ssn(b"219099998"), Ok(()));
    }

    #[test]
    fn rejects_wrong_length_and_format() {
        assert_eq!(us_ssn(b""), Err(Invalid::Length));
        assert_eq!(us_ssn(b"53690439"), Err(Invalid::Length));
        assert_eq!(us_ssn(b"5369043990"), Err(Invalid::Length));
        assert_eq!(us_ssn(b"536-90-4399"), Err(Invalid::Length));
        assert_eq!(us_ssn(b"53690439X"), Err(Invalid::Format));
        assert_eq!(us_ssn(b" 53690439"), Err(Invalid::Format));
    }
}
