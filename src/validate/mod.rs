//! Checksum and structure validators for the numbers leakhound detects.
//!
//! Every validator takes a *compact* value: separators removed, Persian and
//! Arabic-Indic digits already mapped to ASCII, letters upper-cased. It answers
//! `Ok(())` for a valid number or the first reason it is not one. Validators
//! never allocate and never panic, whatever bytes they are given.

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

/// Luhn (mod 10) check over ASCII digits.
pub fn luhn(digits: &[u8]) -> bool {
    let _ = digits;
    unimplemented!()
}

/// US Social Security Number: 9 digits.
pub fn us_ssn(value: &[u8]) -> Verdict {
    let _ = value;
    unimplemented!()
}

/// Polish PESEL: 11 digits.
pub fn pl_pesel(value: &[u8]) -> Verdict {
    let _ = value;
    unimplemented!()
}

/// Romanian CNP: 13 digits.
pub fn ro_cnp(value: &[u8]) -> Verdict {
    let _ = value;
    unimplemented!()
}

/// Chinese resident identity card number: 17 digits and a check character (digit or `X`).
pub fn cn_ric(value: &[u8]) -> Verdict {
    let _ = value;
    unimplemented!()
}

/// Iranian national code (kod-e melli): 10 digits.
pub fn ir_melli(value: &[u8]) -> Verdict {
    let _ = value;
    unimplemented!()
}

/// IBAN, compact, upper case.
pub fn iban(value: &[u8]) -> Verdict {
    let _ = value;
    unimplemented!()
}
