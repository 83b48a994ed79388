//! Checksum and structure validators for the numbers leakhound detects.
//!
//! Every validator takes a *compact* value: separators removed, Persian and
//! Arabic-Indic digits already mapped to ASCII, letters upper-cased. It answers
//! `Ok(())` for a valid number or the first reason it is not one. Validators
//! never allocate and never panic, whatever bytes they are given.
//!
//! The reference for every rule is python-stdnum 2.2 (`is_valid` of the
//! matching module); for the Iranian national code, which stdnum lacks, it is the
//! project's `dlpref.melli_valid`. `tests/validators.rs` replays thousands of
//! vectors recorded from those references (`tools/gen_vectors.py`), and the
//! data tables (`cn_regions.rs`, `iban_registry.rs`) are generated from stdnum's
//! own data files by `tools/gen_tables.py`.

mod cn_regions;
mod cn_ric;
mod cnp;
mod date;
mod iban;
mod iban_registry;
mod ir_melli;
mod luhn;
mod pesel;
mod ssn;

pub use cn_ric::cn_ric;
pub use cnp::ro_cnp;
pub use iban::iban;
pub use ir_melli::ir_melli;
pub use luhn::luhn;
pub use pesel::pl_pesel;
pub use ssn::us_ssn;

/// Why a value is not a valid number of its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Wrong number of characters.
    Length,
    /// A character that may not appear at that place.
    Format,
    /// The check digit or checksum does not match.
    Checksum,
    /// The embedded date of birth is not a real calendar date.
    Date,
    /// A component (area, county, region, country) that is not issued.
    Component,
}

/// The outcome of validating one value.
pub type Verdict = Result<(), Invalid>;

/// Checks that `value` is exactly `N` ASCII digits and returns their numeric
/// values (0-9), so callers can do arithmetic without re-checking each byte.
fn ascii_digits<const N: usize>(value: &[u8]) -> Result<[u8; N], Invalid> {
    let bytes: &[u8; N] = value.try_into().map_err(|_| Invalid::Length)?;
    let mut digits = [0u8; N];
    for (digit, &byte) in digits.iter_mut().zip(bytes) {
        if !byte.is_ascii_digit() {
            return Err(Invalid::Format);
        }
        *digit = byte - b'0';
    }
    Ok(digits)
}

/// The decimal number spelled by `digits` (values 0-9, at most 9 of them so
/// the result fits in a `u32`).
fn decimal(digits: &[u8]) -> u32 {
    debug_assert!(digits.len() <= 9);
    digits
        .iter()
        .fold(0, |number, &digit| number * 10 + u32::from(digit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ascii_digits_checks_length_before_characters() {
        assert_eq!(ascii_digits::<3>(b"12"), Err(Invalid::Length));
        assert_eq!(ascii_digits::<3>(b"1234"), Err(Invalid::Length));
        assert_eq!(ascii_digits::<3>(b"1a3"), Err(Invalid::Format));
        assert_eq!(ascii_digits::<3>(b"\xd9\xa3"), Err(Invalid::Length));
        assert_eq!(ascii_digits::<3>(b"907"), Ok([9, 0, 7]));
    }

    #[test]
    fn decimal_reads_digits_most_significant_first() {
        assert_eq!(decimal(&[]), 0);
        assert_eq!(decimal(&[0, 4, 2]), 42);
        assert_eq!(decimal(&[9; 9]), 999_999_999);
    }

    /// Runs every validator on `value`; the point is that none of them panics.
    fn run_all(value: &[u8]) {
        let _ = luhn(value);
        let _ = us_ssn(value);
        let _ = pl_pesel(value);
        let _ = ro_cnp(value);
        let _ = cn_ric(value);
        let _ = ir_melli(value);
        let _ = iban(value);
    }

    /// Bytes that reach the validators' deeper checks more often than
    /// uniformly random bytes would: digits, the RIC check letter, IBAN letters,
    /// lower case, a separator and a non-ASCII lead byte.
    fn plausible_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            6 => b'0'..=b'9',
            1 => Just(b'X'),
            1 => b'A'..=b'Z',
            1 => Just(b'x'),
            1 => Just(b'-'),
            1 => Just(0xd9),
        ]
    }

    proptest! {
        #[test]
        fn no_validator_panics_on_arbitrary_bytes(value in proptest::collection::vec(any::<u8>(), 0..40)) {
            run_all(&value);
        }

        #[test]
        fn no_validator_panics_on_plausible_bytes(value in proptest::collection::vec(plausible_byte(), 0..36)) {
            run_all(&value);
        }

        #[test]
        fn no_validator_panics_on_iban_shaped_bytes(
            country in "[A-Z]{2}",
            check in "[0-9A-Z]{2}",
            bban in "[0-9A-Za-z]{0,34}",
        ) {
            run_all(format!("{country}{check}{bban}").as_bytes());
        }
    }
}
