//! Chinese resident identity card number (居民身份证号码, RIC): 6-digit
//! administrative-division code of the place of registration, `YYYYMMDD` date
//! of birth, 3-digit order code and an ISO 7064 MOD 11-2 check character
//! (`0`-`9` or `X` for ten), as in GB 11643-1999.
//!
//! Rules from python-stdnum 2.2's `stdnum.cn.ric`: check character first, then
//! a real date (years 1-9999, no comparison with today), then the division code
//! must be listed in stdnum's `cn/loc.dat` *and* in use in the birth year (many
//! codes carry `[start-end]` validity ranges). The generated table
//! `cn_regions.rs` holds those codes and ranges.
//!
//! stdnum upper-cases its input before checking, so a lower-case `x` check
//! character is accepted too.

use super::cn_regions::CN_REGIONS;
use super::date::is_real_date;
use super::{Invalid, Verdict, decimal};

/// ISO 7064 MOD 11-2 weights: `2^(17 - position) mod 11` for positions 0-16.
const WEIGHTS: [u8; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check value that is written as `X`.
const CHECK_TEN: u8 = 10;

/// Chinese resident identity card number: 17 digits and a check character (digit or `X`).
pub fn cn_ric(value: &[u8]) -> Verdict {
    let bytes: &[u8; 18] = value.try_into().map_err(|_| Invalid::Length)?;
    let mut digits = [0u8; 17];
    for (digit, &byte) in digits.iter_mut().zip(&bytes[..17]) {
        if !byte.is_ascii_digit() {
            return Err(Invalid::Format);
        }
        *digit = byte - b'0';
    }
    let written_check = match bytes[17] {
        byte @ b'0'..=b'9' => byte - b'0',
        b'X' | b'x' => CHECK_TEN,
        _ => return Err(Invalid::Format),
    };
    if written_check != check_value(&digits) {
        return Err(Invalid::Checksum);
    }
    let year = decimal(&digits[6..10]);
    if !is_real_date(year, decimal(&digits[10..12]), decimal(&digits[12..14])) {
        return Err(Invalid::Date);
    }
    if !region_in_use(decimal(&digits[0..6]), year) {
        return Err(Invalid::Component);
    }
    Ok(())
}

/// ISO 7064 MOD 11-2 check value (0-10) of the first 17 digits. stdnum writes
/// this as `(1 - 2 * int(body, 13)) % 11`, which is the same number because
/// 13 is congruent to 2 modulo 11.
fn check_value(digits: &[u8; 17]) -> u8 {
    let weighted_sum: u32 = WEIGHTS
        .iter()
        .zip(digits)
        .map(|(&weight, &digit)| u32::from(weight) * u32::from(digit))
        .sum();
    // The result is below 11, so the narrowing cannot lose anything.
    ((12 - weighted_sum % 11) % 11) as u8
}

/// Whether stdnum accepts `code` as the birth place of someone born in `year`.
fn region_in_use(code: u32, year: u32) -> bool {
    // A code may have several rows (one per validity range); find the first.
    let first = CN_REGIONS.partition_point(|&(row_code, _, _)| row_code < code);
    CN_REGIONS[first..]
        .iter()
        .take_while(|&&(row_code, _, _)| row_code == code)
        .any(|&(_, first_year, last_year)| {
            (u32::from(first_year)..=u32::from(last_year)).contains(&year)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a RIC with a correct check character from its first 17 digits.
    fn with_check(body: &[u8; 17]) -> [u8; 18] {
        let mut digits = [0u8; 17];
        for (digit, &byte) in digits.iter_mut().zip(body) {
            *digit = byte - b'0';
        }
        let mut value = [0u8; 18];
        value[..17].copy_from_slice(body);
        value[17] = match check_value(&digits) {
            CHECK_TEN => b'X',
            check => b'0' + check,
        };
        value
    }

    #[test]
    fn stdnum_doctest() {
        assert_eq!(cn_ric(b"360426199101010071"), Ok(()));
        assert_eq!(cn_ric(b"360426199101010072"), Err(Invalid::Checksum));
    }

    #[test]
    fn check_character_x_in_either_case() {
        let value = with_check(b"11010519491231002");
        assert_eq!(&value, b"11010519491231002X");
        assert_eq!(cn_ric(&value), Ok(()));
        let mut lower = value;
        lower[17] = b'x';
        assert_eq!(cn_ric(&lower), Ok(()));
        lower[17] = b'0';
        assert_eq!(cn_ric(&lower), Err(Invalid::Checksum));
    }

    #[test]
    fn table_is_sorted_and_ranges_are_ordered() {
        assert!(CN_REGIONS.windows(2).all(|pair| pair[0] <= pair[1]));
        assert!(
            CN_REGIONS
                .iter()
                .all(|&(code, first, last)| { (110000..=999999).contains(&code) && first <= last })
        );
    }

    #[test]
    fn region_must_exist_and_be_in_use_in_the_birth_year() {
        // 110103 (Chongwen District, Beijing) was merged away in 2010.
        assert_eq!(cn_ric(&with_check(b"11010320100101001")), Ok(()));
        assert_eq!(
            cn_ric(&with_check(b"11010320110101001")),
            Err(Invalid::Component)
        );
        // 110111 (Fangshan District) exists from 1986 on.
        assert_eq!(
            cn_ric(&with_check(b"11011119850101001")),
            Err(Invalid::Component)
        );
        assert_eq!(cn_ric(&with_check(b"11011119860101001")), Ok(()));
        // Unknown county in a known province, and an unknown province.
        assert_eq!(
            cn_ric(&with_check(b"11999919900101001")),
            Err(Invalid::Component)
        );
        assert_eq!(
            cn_ric(&with_check(b"99010119900101001")),
            Err(Invalid::Component)
        );
    }

    #[test]
    fn birth_date_must_exist() {
        assert_eq!(cn_ric(&with_check(b"11010520000229001")), Ok(()));
        assert_eq!(
            cn_ric(&with_check(b"11010519000229001")),
            Err(Invalid::Date)
        );
        assert_eq!(
            cn_ric(&with_check(b"11010519901301001")),
            Err(Invalid::Date)
        );
        assert_eq!(
            cn_ric(&with_check(b"11010519900431001")),
            Err(Invalid::Date)
        );
        assert_eq!(
            cn_ric(&with_check(b"11010500000101001")),
            Err(Invalid::Date)
        );
        assert_eq!(cn_ric(&with_check(b"11010599991231001")), Ok(()));
    }

    #[test]
    fn rejects_wrong_length_and_format() {
        assert_eq!(cn_ric(b"36042619910101007"), Err(Invalid::Length));
        assert_eq!(cn_ric(b"3604261991010100710"), Err(Invalid::Length));
        assert_eq!(cn_ric(b"36042619910101007Y"), Err(Invalid::Format));
        assert_eq!(cn_ric(b"3604261991010100X1"), Err(Invalid::Format));
    }
}
