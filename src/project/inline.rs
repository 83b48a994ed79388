//! Inline allows: `leakhound:allow` on the line of a finding.
//!
//! `leakhound:allow` alone allows every finding on its line;
//! `leakhound:allow:us-ssn,payment-card` (or `=` instead of the second
//! `:`) only findings of those rules or kinds. The marker sits in a comment
//! or a spare column of the same line, so it travels with the line.

/// The marker.
pub const MARKER: &str = "leakhound:allow";

/// Whether `line` allows a finding of `rule` and `kind`.
pub fn allows(line: &[u8], rule: &str, kind: &str) -> bool {
    let mut rest = line;
    while let Some(i) = memchr::memmem::find(rest, MARKER.as_bytes()) {
        let after = &rest[i + MARKER.len()..];
        match after.first() {
            Some(b':') | Some(b'=') => {
                let list: Vec<u8> = after[1..]
                    .iter()
                    .copied()
                    .take_while(|b| b.is_ascii_alphanumeric() || b"-_,".contains(b))
                    .collect();
                // `leakhound:allow:` with nothing after it allows nothing: a
                // list was meant but not written.
                if list
                    .split(|&b| b == b',')
                    .any(|id| !id.is_empty() && (id == rule.as_bytes() || id == kind.as_bytes()))
                {
                    return true;
                }
            }
            // A word character glued on (`leakhound:allowed`) is not the marker.
            Some(b) if b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-' => {}
            _ => return true,
        }
        rest = after;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_forms() {
        let card = |l: &str| allows(l.as_bytes(), "payment-card", "card_visa");
        assert!(card("x,4111 # leakhound:allow"));
        assert!(card("x,4111 // leakhound:allow fixture for tests"));
        assert!(card("x,4111 # leakhound:allow:payment-card"));
        assert!(card("x,4111 # leakhound:allow=us-ssn,card_visa"));
        assert!(!card("x,4111 # leakhound:allow:us-ssn"));
        assert!(!card("x,4111 # leakhound:allowed"));
        assert!(!card("x,4111 # leakhound:allow:"));
        assert!(!card("x,4111"));
        assert!(card("leakhound:allow:us-ssn leakhound:allow:payment-card"));
    }
}
