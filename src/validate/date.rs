//! Calendar-date check shared by the validators whose numbers embed a date of
//! birth (PESEL, CNP, Chinese RIC).
//!
//! python-stdnum decides whether such a date exists by calling
//! `datetime.date(year, month, day)`, which uses the proleptic Gregorian
//! calendar and accepts years 1 to 9999. This module answers the same question
//! without building a date. None of the stdnum validators we mirror compares the
//! date with today's date, so neither do we.

/// Whether `year-month-day` exists in the proleptic Gregorian calendar, within
/// the years Python's `datetime` accepts (1 to 9999).
pub(super) fn is_real_date(year: u32, month: u32, day: u32) -> bool {
    (1..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
}

fn is_leap_year(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1-12) of `year`; 0 for a month that does not exist.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn february_29_only_in_gregorian_leap_years() {
        assert!(is_real_date(2000, 2, 29));
        assert!(is_real_date(2024, 2, 29));
        assert!(is_real_date(1804, 2, 29));
        assert!(!is_real_date(1900, 2, 29));
        assert!(!is_real_date(2100, 2, 29));
        assert!(!is_real_date(1800, 2, 29));
        assert!(!is_real_date(2023, 2, 29));
        assert!(!is_real_date(2000, 2, 30));
    }

    #[test]
    fn month_and_day_bounds() {
        assert!(is_real_date(1999, 12, 31));
        assert!(is_real_date(1999, 1, 1));
        assert!(!is_real_date(1999, 13, 1));
        assert!(!is_real_date(1999, 0, 1));
        assert!(!is_real_date(1999, 1, 0));
        assert!(!is_real_date(1999, 1, 32));
        for thirty_day_month in [4, 6, 9, 11] {
            assert!(is_real_date(1999, thirty_day_month, 30));
            assert!(!is_real_date(1999, thirty_day_month, 31));
        }
    }

    #[test]
    fn years_outside_python_datetime_are_rejected() {
        assert!(!is_real_date(0, 1, 1));
        assert!(is_real_date(1, 1, 1));
        assert!(is_real_date(9999, 12, 31));
        assert!(!is_real_date(10000, 1, 1));
    }
}
