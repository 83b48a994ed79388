//! Polish PESEL: `YYMMDD` date of birth, 4-digit serial (its last digit gives
//! the sex) and a check digit.
//!
//! Rules from python-stdnum 2.2's `stdnum.pl.pesel`: the check digit is
//! `(10 - sum(weight * digit)) mod 10` with weights 1,3,7,9 repeated, and the
//! century is folded into the month: +80 for 1800-1899, +0 for 1900-1999, +20
//! for 2000-2099, +40 for 2100-2199, +60 for 2200-2299. The resulting date must
//! exist (stdnum does not compare it with today).

use super::date::is_real_date;
use super::{Invalid, Verdict, ascii_digits, decimal};

const WEIGHTS: [u8; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];

/// Polish PESEL: 11 digits.
pub fn pl_pesel(value: &[u8]) -> Verdict {
    let digits = ascii_digits::<11>(value)?;
    if digits[10] != check_digit(&digits) {
        return Err(Invalid::Checksum);
    }
    if !birth_date_exists(&digits) {
        return Err(Invalid::Date);
    }
    Ok(())
}

fn check_digit(digits: &[u8; 11]) -> u8 {
    let weighted_sum: u32 = WEIGHTS
        .iter()
        .zip(digits)
        .map(|(&weight, &digit)| u32::from(weight) * u32::from(digit))
        .sum();
    // The result is below 10, so the narrowing cannot lose anything.
    ((10 - weighted_sum % 10) % 10) as u8
}

fn birth_date_exists(digits: &[u8; 11]) -> bool {
    let year_in_century = decimal(&digits[0..2]);
    let encoded_month = decimal(&digits[2..4]);
    let day = decimal(&digits[4..6]);
    // Every encoded month 00-99 falls in one of five 20-wide bands.
    let century_start = match encoded_month / 20 {
        0 => 1900,
        1 => 2000,
        2 => 2100,
        3 => 2200,
        _ => 1800,
    };
    is_real_date(century_start + year_in_century, encoded_month % 20, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdnum_doctests() {
        assert_eq!(pl_pesel(b"44051401359"), Ok(()));
        assert_eq!(pl_pesel(b"44051401358"), Err(Invalid::Checksum));
        assert_eq!(pl_pesel(b"02381307589"), Err(Invalid::Date));
        assert_eq!(pl_pesel(b"02122401358"), Ok(())); // 1902-12-24
        assert_eq!(pl_pesel(b"02211307589"), Ok(())); // 2002-01-13
    }

    /// Builds a PESEL with a correct check digit from its first ten digits.
    fn with_check_digit(first_ten: &[u8; 10]) -> [u8; 11] {
        let mut value = [b'0'; 11];
        value[..10].copy_from_slice(first_ten);
        let digits = ascii_digits::<11>(&value).expect("ten digits and a zero");
        value[10] = b'0' + check_digit(&digits);
        value
    }

    #[test]
    fn every_century_encoding() {
        // February 29 of year 00 exists only in 2000 (month + 20).
        assert_eq!(
            pl_pesel(&with_check_digit(b"0082291234")),
            Err(Invalid::Date)
        ); // 1800
        assert_eq!(
            pl_pesel(&with_check_digit(b"0002291234")),
            Err(Invalid::Date)
        ); // 1900
        assert_eq!(pl_pesel(&with_check_digit(b"0022291234")), Ok(())); // 2000
        assert_eq!(
            pl_pesel(&with_check_digit(b"0042291234")),
            Err(Invalid::Date)
        ); // 2100
        assert_eq!(
            pl_pesel(&with_check_digit(b"0062291234")),
            Err(Invalid::Date)
        ); // 2200
        assert_eq!(pl_pesel(&with_check_digit(b"0482291234")), Ok(())); // 1804
        assert_eq!(pl_pesel(&with_check_digit(b"9672291234")), Ok(())); // 2296
    }

    #[test]
    fn impossible_months_and_days() {
        assert_eq!(
            pl_pesel(&with_check_digit(b"9013011234")),
            Err(Invalid::Date)
        );
        assert_eq!(
            pl_pesel(&with_check_digit(b"9000011234")),
            Err(Invalid::Date)
        );
        assert_eq!(
            pl_pesel(&with_check_digit(b"9020011234")),
            Err(Invalid::Date)
        );
        assert_eq!(
            pl_pesel(&with_check_digit(b"9099011234")),
            Err(Invalid::Date)
        );
        assert_eq!(
            pl_pesel(&with_check_digit(b"9001001234")),
            Err(Invalid::Date)
        );
        assert_eq!(
            pl_pesel(&with_check_digit(b"9004311234")),
            Err(Invalid::Date)
        );
        assert_eq!(pl_pesel(&with_check_digit(b"9004301234")), Ok(()));
    }

    #[test]
    fn rejects_wrong_length_and_format() {
        assert_eq!(pl_pesel(b"4405140135"), Err(Invalid::Length));
        assert_eq!(pl_pesel(b"440514013590"), Err(Invalid::Length));
        assert_eq!(pl_pesel(b"4405140135X"), Err(Invalid::Format));
        assert_eq!(pl_pesel(b""), Err(Invalid::Length));
    }
}
