//! The helper's extraction on real PDFs, and the scanner's judgement of
//! how a helper ended. (The whole round trip, through the binary, is tested
//! in `tests/extract.rs`.)

use super::*;

#[test]
fn clean_replaces_digits_and_control_characters() {
    assert_eq!(
        clean("card 4111\x07ok\nnext", 200),
        "card ####\u{20}ok\nnext"
    );
    assert_eq!(clean("abcdef", 3), "abc");
}
