//! IBAN (ISO 13616): two-letter country code, two check digits and a
//! country-specific BBAN.
//!
//! Rules from python-stdnum 2.2's `stdnum.iban` and the national modules it
//! calls:
//! * the country must be in stdnum's copy of the SWIFT registry and the BBAN
//!   must match that country's structure (which fixes the length); the table is
//!   generated into `iban_registry.rs`;
//! * ISO 7064 MOD 97-10 over the BBAN followed by the first four characters
//!   must leave 1. Like stdnum we do not require the check digits to be digits
//!   or to lie in 02-98: `GB..` with letters, or 99 where 02 would do, passes
//!   when the remainder works out;
//! * national checks stdnum adds for four countries: Belgium (bank code known to
//!   the National Bank of Belgium, BBAN mod 97 check digits), Spain (the two
//!   CCC check digits), Montenegro (BBAN mod 97 = 1) and Norway (account number
//!   mod 11 check, or Luhn over the last seven digits when the bank code is
//!   `0000`).
//!
//! stdnum upper-cases its input first, so ASCII lower-case letters are accepted
//! and treated as upper case.

use super::iban_registry::{BELGIAN_BANK_CODES, IBAN_COUNTRIES};
use super::luhn::luhn;
use super::{Invalid, Verdict, ascii_digits, decimal};

/// One country of the IBAN registry.
pub(super) struct IbanCountry {
    /// ISO 3166 alpha-2 code, upper case.
    pub code: [u8; 2],
    /// Length of the whole IBAN: 4 + the BBAN's length.
    pub length: usize,
    /// The BBAN structure, one registry class per position: `n` digit,
    /// `a` letter, `c` letter or digit.
    pub bban: &'static [u8],
}

/// IBAN, compact, upper case. ASCII lower case is accepted too, because
/// stdnum upper-cases before checking.
pub fn iban(value: &[u8]) -> Verdict {
    if !value.iter().all(u8::is_ascii_alphanumeric) {
        return Err(Invalid::Format);
    }
    let [first_letter, second_letter, ..] = *value else {
        return Err(Invalid::Length);
    };
    let country_code = [
        first_letter.to_ascii_uppercase(),
        second_letter.to_ascii_uppercase(),
    ];
    let country = find_country(country_code).ok_or(Invalid::Component)?;
    if value.len() != country.length {
        return Err(Invalid::Length);
    }
    let bban = &value[4..];
    if !matches_structure(bban, country.bban) {
        return Err(Invalid::Format);
    }
    if mod97(bban.iter().chain(&value[..4])) != 1 {
        return Err(Invalid::Checksum);
    }
    national_check(country.code, bban)
}

fn find_country(code: [u8; 2]) -> Option<&'static IbanCountry> {
    IBAN_COUNTRIES
        .binary_search_by(|country| country.code.cmp(&code))
        .ok()
        .map(|index| &IBAN_COUNTRIES[index])
}

fn matches_structure(bban: &[u8], structure: &[u8]) -> bool {
    bban.len() == structure.len()
        && bban.iter().zip(structure).all(|(byte, class)| match class {
            b'n' => byte.is_ascii_digit(),
            b'a' => byte.is_ascii_alphabetic(),
            _ => byte.is_ascii_alphanumeric(),
        })
}

/// Remainder modulo 97 of the number spelled by `characters`, with letters
/// standing for 10 (A) to 35 (Z) as ISO 7064 MOD 97-10 prescribes for IBANs.
/// Characters must be ASCII letters or digits, which `iban` checks first.
fn mod97<'a>(characters: impl IntoIterator<Item = &'a u8>) -> u32 {
    characters.into_iter().fold(0, |remainder, &byte| {
        if byte.is_ascii_digit() {
            (remainder * 10 + u32::from(byte - b'0')) % 97
        } else {
            let letter_value = u32::from(byte.to_ascii_uppercase() - b'A') + 10;
            (remainder * 100 + letter_value) % 97
        }
    })
}

/// The checks stdnum's national IBAN modules (`stdnum.be.iban`, `es.iban`,
/// `me.iban`, `no.iban`) add on top of the generic ones. Each reads its BBAN
/// as a fixed number of digits; the registry already guarantees that for these
/// countries, so that read only guards against a regenerated table that
/// changed shape.
fn national_check(country: [u8; 2], bban: &[u8]) -> Verdict {
    match &country {
        b"BE" => belgian_check(bban),
        b"ES" => spanish_ccc_check(bban),
        b"ME" => montenegrin_check(bban),
        b"NO" => norwegian_account_check(bban),
        _ => Ok(()),
    }
}

/// Belgium: 3-digit bank code, 7-digit account, 2 check digits that are the
/// first ten digits mod 97 (97 when that is 0); the bank code must be one the
/// National Bank of Belgium lists.
fn belgian_check(bban: &[u8]) -> Verdict {
    let digits = ascii_digits::<12>(bban)?;
    let expected = match mod97(&bban[..10]) {
        0 => 97,
        remainder => remainder,
    };
    if decimal(&digits[10..12]) != expected {
        return Err(Invalid::Checksum);
    }
    let bank_code = decimal(&digits[..3]);
    let known_bank = BELGIAN_BANK_CODES
        .iter()
        .any(|&(low, high)| (u32::from(low)..=u32::from(high)).contains(&bank_code));
    if !known_bank {
        return Err(Invalid::Component);
    }
    Ok(())
}

/// Spain: the BBAN is the 20-digit CCC `EEEE OOOO D D NNNNNNNNNN` (bank,
/// office, two check digits, account). The first check digit covers bank and
/// office, weighted as if preceded by `00`; the second covers the account.
fn spanish_ccc_check(bban: &[u8]) -> Verdict {
    let digits = ascii_digits::<20>(bban)?;
    let mut padded_bank_office = [0u8; 10];
    padded_bank_office[2..].copy_from_slice(&digits[..8]);
    if digits[8] != ccc_check_digit(&padded_bank_office)
        || digits[9] != ccc_check_digit(&digits[10..])
    {
        return Err(Invalid::Checksum);
    }
    Ok(())
}

/// One CCC check digit over ten digits: weights `2^i mod 11`, sum mod 11; a
/// remainder of 0 or 1 is the digit itself, otherwise 11 minus it.
fn ccc_check_digit(ten_digits: &[u8]) -> u8 {
    const WEIGHTS: [u32; 10] = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6];
    let weighted_sum: u32 = WEIGHTS
        .iter()
        .zip(ten_digits)
        .map(|(&weight, &digit)| weight * u32::from(digit))
        .sum();
    // Both branches are below 10, so the narrowing cannot lose anything.
    match weighted_sum % 11 {
        remainder @ 0..2 => remainder as u8,
        remainder => (11 - remainder) as u8,
    }
}

/// Montenegro: the whole 18-digit BBAN (bank, account, 2 check digits) must
/// leave 1 modulo 97.
fn montenegrin_check(bban: &[u8]) -> Verdict {
    ascii_digits::<18>(bban)?;
    if mod97(bban) != 1 {
        return Err(Invalid::Checksum);
    }
    Ok(())
}

/// Norway: the BBAN is the 11-digit kontonummer. stdnum strips a leading
/// `0000` (the old Postgiro bank code) and checks the remaining seven digits
/// with Luhn; otherwise the last digit must equal the weighted sum of the first
/// ten (weights 6,7,8,9,4,5,6,7,8,9) mod 11, so a remainder of 10 never passes.
fn norwegian_account_check(bban: &[u8]) -> Verdict {
    const WEIGHTS: [u32; 10] = [6, 7, 8, 9, 4, 5, 6, 7, 8, 9];
    let digits = ascii_digits::<11>(bban)?;
    let passes = if digits[..4] == [0; 4] {
        luhn(&bban[4..])
    } else {
        let weighted_sum: u32 = WEIGHTS
            .iter()
            .zip(&digits)
            .map(|(&weight, &digit)| weight * u32::from(digit))
            .sum();
        weighted_sum % 11 == u32::from(digits[10])
    };
    if !passes {
        return Err(Invalid::Checksum);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rewrites the check digits of `value` so that the MOD 97-10 check passes.
    fn with_check_digits(value: &str) -> String {
        let zeroed = format!("{}00{}", &value[..2], &value[4..]);
        let bytes = zeroed.as_bytes();
        let remainder = mod97(bytes[4..].iter().chain(&bytes[..4]));
        format!("{}{:02}{}", &value[..2], 98 - remainder, &value[4..])
    }

    #[test]
    fn registry_is_sorted_and_consistent() {
        assert!(
            IBAN_COUNTRIES
                .windows(2)
                .all(|pair| pair[0].code < pair[1].code)
        );
        for country in IBAN_COUNTRIES {
            assert_eq!(country.length, 4 + country.bban.len());
            assert!(country.bban.iter().all(|class| b"nac".contains(class)));
        }
        assert!(
            BELGIAN_BANK_CODES
                .windows(2)
                .all(|pair| pair[0].1 < pair[1].0)
        );
    }

    #[test]
    fn stdnum_doctests() {
        assert_eq!(iban(b"GR1601101050000010547023795"), Ok(()));
        assert_eq!(iban(b"BE31435411161155"), Ok(()));
        assert_eq!(iban(b"BE32123456789002"), Ok(()));
        assert_eq!(iban(b"BE41091811735141"), Err(Invalid::Checksum));
        assert_eq!(iban(b"BE83138811735115"), Err(Invalid::Component));
        assert_eq!(iban(b"ES7712341234161234567890"), Ok(()));
        assert_eq!(iban(b"ES1212341234161234567890"), Err(Invalid::Checksum));
        assert_eq!(iban(b"ES1512341234171234567890"), Err(Invalid::Checksum));
        assert_eq!(iban(b"ME25510000000006234133"), Ok(()));
        assert_eq!(iban(b"ME52510000000006234132"), Err(Invalid::Checksum));
        assert_eq!(iban(b"NO9386011117947"), Ok(()));
        assert_eq!(iban(b"NO9286011117947"), Err(Invalid::Checksum));
        assert_eq!(iban(b"NO2386011117946"), Err(Invalid::Checksum));
    }

    #[test]
    fn lower_case_is_accepted_like_stdnum() {
        assert_eq!(iban(b"GB82WEST12345698765432"), Ok(()));
        assert_eq!(iban(b"gb82west12345698765432"), Ok(()));
        assert_eq!(iban(b"Gb82WeSt12345698765432"), Ok(()));
    }

    #[test]
    fn unusual_check_digits_pass_when_the_remainder_works() {
        // Only the remainder matters to stdnum: 99 works where 02 does, 00
        // where 97 does, and letters can stand in for the check digits.
        assert_eq!(iban(b"DE02370400440532000016"), Ok(()));
        assert_eq!(iban(b"DE99370400440532000016"), Ok(()));
        assert_eq!(iban(b"DE97370400440532000052"), Ok(()));
        assert_eq!(iban(b"DE00370400440532000052"), Ok(()));
        assert_eq!(iban(b"GBAKWEST12345698765432"), Ok(()));
        assert_eq!(iban(b"GBM9WEST12345698765432"), Ok(()));
        assert_eq!(iban(b"GBM8WEST12345698765432"), Err(Invalid::Checksum));
    }

    #[test]
    fn structure_and_length_per_country() {
        assert_eq!(iban(b"GB82WEST1234569876543"), Err(Invalid::Length));
        assert_eq!(iban(b"GB82WEST123456987654321"), Err(Invalid::Length));
        // A digit where the registry wants a letter.
        let digit_for_letter = with_check_digits("GB001EST12345698765432");
        assert_eq!(iban(digit_for_letter.as_bytes()), Err(Invalid::Format));
        // Not in the registry (the US has no IBAN), and not letters at all.
        let american = with_check_digits("US0012345698765432");
        assert_eq!(iban(american.as_bytes()), Err(Invalid::Component));
        assert_eq!(iban(b"1234567890"), Err(Invalid::Component));
    }

    #[test]
    fn rejects_short_and_non_alphanumeric_input() {
        assert_eq!(iban(b""), Err(Invalid::Length));
        assert_eq!(iban(b"G"), Err(Invalid::Length));
        assert_eq!(iban(b"GB"), Err(Invalid::Length));
        assert_eq!(iban(b"GB82 WEST 1234 5698 7654 32"), Err(Invalid::Format));
        assert_eq!(
            iban("GB82WEST1234569876543²".as_bytes()),
            Err(Invalid::Format)
        );
    }

    #[test]
    fn norwegian_postgiro_accounts_use_luhn() {
        // Bank code 0000: the last seven digits must pass Luhn.
        let luhn_ok = with_check_digits("NO0000001234566");
        assert_eq!(iban(luhn_ok.as_bytes()), Ok(()));
        let luhn_bad = with_check_digits("NO0000001234567");
        assert_eq!(iban(luhn_bad.as_bytes()), Err(Invalid::Checksum));
    }
}
