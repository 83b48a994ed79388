//! Engine tests: semantics of candidates, the prefilter against a naive
//! walk, and exactness across stream windows.

use super::candidate::{self, Candidate, Shape};
use super::stream::{Located, StreamScanner};
use super::*;
use crate::rules::RuleSet;
use proptest::prelude::*;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::new(RuleSet::builtin().expect("built-in rules compile")))
}

/// `(start, end, kind)` of every match.
fn spans(text: &str) -> Vec<(usize, usize, String)> {
    engine()
        .find_all(text.as_bytes())
        .into_iter()
        .map(|m| (m.start, m.end, m.kind.to_string()))
        .collect()
}

fn kinds(text: &str) -> Vec<String> {
    spans(text).into_iter().map(|s| s.2).collect()
}

#[test]
fn finds_each_kind() {
    assert_eq!(kinds("Card number: 4526 0181 5908 3012"), ["card_visa"]);
    assert_eq!(kinds("SSN: 536-22-8726"), ["us_ssn"]);
    assert_eq!(kinds("PESEL: 85120312343"), ["pl_pesel"]);
    assert_eq!(kinds("CNP 1971204123457"), ["ro_cnp"]);
    assert_eq!(kinds("身份证号码11010519491231002X"), ["cn_ric"]);
    assert_eq!(kinds("کد ملی: ۴۴۷۲۸۱۹۶۳۵"), ["ir_melli"]);
    assert_eq!(kinds("IBAN DE89 3704 0044 0532 0130 00"), ["iban"]);
    assert_eq!(kinds("PL61 1090 1014 0000 0712 1981 2874 EUR"), ["iban"]);
    assert_eq!(kinds("mir 2201742180967929"), ["card_mir"]);
}

#[test]
fn ascii_glue_rejects_and_cjk_glue_accepts() {
    assert!(kinds("INV4526018159083012").is_empty());
    assert!(kinds("4526018159083012EUR").is_empty());
    assert!(
        kinds("12345478778932879219").is_empty(),
        "16 digits inside 20"
    );
    assert_eq!(kinds("卡号4526018159083012。"), ["card_visa"]);
    assert_eq!(kinds("pan=4526018159083012&x=1"), ["card_visa"]);
    assert_eq!(kinds("/items/4526018159083012/"), ["card_visa"]);
}

#[test]
fn separators_must_be_consistent_and_shapes_known() {
    assert!(kinds("4526 0181-5908 3012").is_empty());
    assert!(kinds("45260 18159 08301 2").is_empty());
    assert_eq!(kinds("4526.0181.5908.3012"), ["card_visa"]);
    assert_eq!(kinds("3731-948757-49111"), ["card_amex"]);
    assert_eq!(kinds("4909 9603 0824 6281 946"), ["card_visa"]);
    // A 4-6-5 grouping is for Amex only: a 15-digit Visa does not exist,
    // and the Visa number written 4-6-5 has 15 digits.
    assert!(kinds("4526 018159 08301").is_empty());
}

#[test]
fn the_span_covers_the_written_number() {
    let text = "x 4526-0181-5908-3012 y";
    let s = spans(text);
    assert_eq!(&text[s[0].0..s[0].1], "4526-0181-5908-3012");
    let text = "ID: ۴۴۷۲۸۱۹۶۳۵.";
    let s = spans(text);
    assert_eq!(&text[s[0].0..s[0].1], "۴۴۷۲۸۱۹۶۳۵");
}

#[test]
fn test_cards_are_low_severity_test_data() {
    let ms = engine().find_all(b"card 4111 1111 1111 1111");
    assert_eq!(ms.len(), 1);
    assert!(ms[0].test_data);
    assert_eq!(ms[0].severity, Severity::Low);
    let ms = engine().find_all(b"card 4526 0181 5908 3012");
    assert!(!ms[0].test_data);
    assert_eq!(ms[0].severity, Severity::High);
}

/// The confidence of each Iranian code found in `text`, in order.
fn melli_confidences(text: &str) -> Vec<Confidence> {
    engine()
        .find_all(text.as_bytes())
        .into_iter()
        .filter(|m| m.kind == "ir_melli")
        .map(|m| m.confidence)
        .collect()
}

#[test]
fn i18_kin_lifts_a_bare_number_before_or_after_a_confirmed_one_of_the_same_kind() {
    let bare = "charge ok ref=5606079828 amount=12\n";
    // On its own, a bare valid code with no context is low.
    assert_eq!(melli_confidences(bare), [Confidence::Low]);
    // After a code confirmed by its keyword: medium.
    // The filler keeps the keyword out of the other code's window.
    let filler = format!("{}\n", "lorem ipsum ".repeat(20));
    let confirmed = format!("melli code: 0099026570\n{filler}");
    let confirmed = confirmed.as_str();
    assert_eq!(
        melli_confidences(&format!("{confirmed}{bare}")),
        [Confidence::High, Confidence::Medium]
    );
    // Forward too: a bare code before the confirmed one is lifted.
    assert_eq!(
        melli_confidences(&format!("{bare}{filler}{confirmed}")),
        [Confidence::Medium, Confidence::High]
    );
    // Another kind confirmed (an SSN) on another line lifts nothing.
    let kinds: Vec<_> = engine()
        .find_all(format!("SSN: 536-22-8726\n{bare}").as_bytes())
        .into_iter()
        .map(|m| (m.kind, m.confidence))
        .collect();
    assert_eq!(
        kinds,
        [("us_ssn", Confidence::High), ("ir_melli", Confidence::Low)]
    );
}

/// More than the 256 KiB the first round of kin reached.
const KIN_FAR: usize = 300 * 1024;

#[test]
fn i18_kin_reaches_the_whole_file_both_ways_at_any_window_size() {
    let bare = "charge ok ref=5606079828 amount=12\n";
    let filler = format!("{}\n", "lorem ipsum ".repeat(20));
    let confirmed = format!("melli code: 0099026570\n{filler}");
    let confirmed = confirmed.as_str();
    let gap = format!("{}\n", "x".repeat(KIN_FAR));
    // A bare code far before, or far after, the confirmed one is lifted:
    // the file is an export of that kind wherever the codes sit in it.
    let far_before = format!("{bare}{gap}{confirmed}");
    let far_after = format!("{confirmed}{gap}{bare}");
    assert_eq!(
        melli_confidences(&far_before),
        [Confidence::Medium, Confidence::High]
    );
    assert_eq!(
        melli_confidences(&far_after),
        [Confidence::High, Confidence::Medium]
    );
    // No chains: a code lifted by kin lifts no bare number of another kind
    // in its record (a bare SSN on its line stays low).
    let row = "7,Jane Roe,5606079828,x,536228726,y\n";
    let chain = format!("{row}{gap}{confirmed}");
    let kinds: Vec<_> = engine()
        .find_all(chain.as_bytes())
        .into_iter()
        .map(|m| (m.kind, m.confidence))
        .collect();
    assert_eq!(
        kinds,
        [
            ("ir_melli", Confidence::Medium),
            ("us_ssn", Confidence::Low),
            ("ir_melli", Confidence::High)
        ]
    );
    // The streaming scanner judges alike, at any window size, before and
    // after, and in the order the numbers come.
    let both = format!("{bare}{filler}{confirmed}{bare}{filler}");
    for (text, want) in [
        (
            format!("{confirmed}{bare}"),
            vec![Confidence::High, Confidence::Medium],
        ),
        (
            both.clone(),
            vec![Confidence::Medium, Confidence::High, Confidence::Medium],
        ),
        (far_before, vec![Confidence::Medium, Confidence::High]),
        (far_after, vec![Confidence::High, Confidence::Medium]),
        (
            format!("{bare}{gap}{bare}{gap}{confirmed}"),
            vec![Confidence::Medium, Confidence::Medium, Confidence::High],
        ),
        // Nothing of the kind confirmed: held to the end, then low.
        (
            format!("{bare}{gap}{bare}"),
            vec![Confidence::Low, Confidence::Low],
        ),
    ] {
        assert_eq!(melli_confidences(&text), want);
        for chunk in [64, 4096, 1 << 20] {
            let mut s = StreamScanner::new(engine(), chunk);
            let mut got = Vec::new();
            let mut offsets = Vec::new();
            s.scan_bytes(text.as_bytes(), &mut |l: Located<'_>| {
                if l.m.kind == "ir_melli" {
                    got.push(l.m.confidence);
                }
                offsets.push(l.offset);
                Flow::Continue(())
            });
            assert_eq!(got, want, "chunk {chunk}");
            assert!(offsets.is_sorted(), "chunk {chunk}: {offsets:?}");
        }
    }
    // A stop asked while findings are held stops the stream.
    let mut s = StreamScanner::new(engine(), 4096);
    let mut n = 0;
    let stats = s.scan_bytes(both.as_bytes(), &mut |_| {
        n += 1;
        Flow::Break(())
    });
    assert!(stats.stopped);
    assert_eq!(n, 1);
}

#[test]
fn i18_kin_hold_cap_lets_the_oldest_waiting_finding_leave_unlifted() {
    use super::evidence::KIN_HOLD;
    let filler = format!("{}\n", "lorem ipsum ".repeat(20));
    let confirmed = format!("{filler}melli code: 0099026570\n");
    // KIN_HOLD + 1 bare codes wait for a confirmed one: the first leaves
    // unlifted when the queue is full, every later one is lifted.
    let text = format!("{}{confirmed}", "ref=5606079828 ok\n".repeat(KIN_HOLD + 1));
    let want: Vec<_> = std::iter::once(Confidence::Low)
        .chain(std::iter::repeat_n(Confidence::Medium, KIN_HOLD))
        .chain([Confidence::High])
        .collect();
    assert_eq!(melli_confidences(&text), want);
    // With one fewer, every one is lifted.
    let text = format!("{}{confirmed}", "ref=5606079828 ok\n".repeat(KIN_HOLD));
    let lows = melli_confidences(&text)
        .into_iter()
        .filter(|&c| c == Confidence::Low)
        .count();
    assert_eq!(lows, 0);
}

#[test]
fn i18_kin_does_not_lift_a_demoted_number() {
    let filler = format!("{}\n", "lorem ipsum ".repeat(20));
    let confirmed = format!("melli code: 0099026570\n{filler}");
    let confirmed = confirmed.as_str();
    // A number a negative signal demoted stays low: a dotted token, before
    // or after the confirmed one.
    assert_eq!(
        melli_confidences(&format!("{confirmed}v = 1.5606079828\n")),
        [Confidence::High, Confidence::Low]
    );
    assert_eq!(
        melli_confidences(&format!("v = 1.5606079828\n{filler}{confirmed}")),
        [Confidence::Low, Confidence::High]
    );
}

#[test]
fn i18_record_lifts_a_bare_number_beside_a_confirmed_one_of_another_kind() {
    let kinds = |text: &str| -> Vec<(&'static str, Confidence)> {
        engine()
            .find_all(text.as_bytes())
            .into_iter()
            .map(|m| (m.kind, m.confidence))
            .collect()
    };
    // A bare melli code alone on its line: low.
    assert_eq!(
        kinds("7,Jane Roe,5606079828,Tehran\n"),
        [("ir_melli", Confidence::Low)]
    );
    // In the same CSV row as a card (medium on its own): lifted, whether
    // the card comes after or before it.
    assert_eq!(
        kinds("7,Jane Roe,5606079828,4526018159083012,Tehran\n"),
        [
            ("ir_melli", Confidence::Medium),
            ("card_visa", Confidence::Medium)
        ]
    );
    assert_eq!(
        kinds("{\"card\": \"4526 0181 5908 3012\", \"ref\": 5606079828}\n"),
        [
            ("card_visa", Confidence::High),
            ("ir_melli", Confidence::Medium)
        ]
    );
    // On the next line, or more than a record's reach away on a long
    // line: not one record.
    assert_eq!(
        kinds("SSN: 536-22-8726\nref=5606079828\n"),
        [("us_ssn", Confidence::High), ("ir_melli", Confidence::Low)]
    );
    let long = format!(
        "SSN: 536-22-8726 {} ref=5606079828\n",
        "word ".repeat(super::evidence::RECORD_REACH as usize / 5 + 10)
    );
    assert_eq!(
        kinds(&long),
        [("us_ssn", Confidence::High), ("ir_melli", Confidence::Low)]
    );
    // Test data confirms nothing, and a demoted number is not lifted.
    assert_eq!(
        kinds("4111 1111 1111 1111,5606079828\n")[1],
        ("ir_melli", Confidence::Low)
    );
    assert_eq!(
        kinds("4526018159083012,v=1.5606079828\n")[1],
        ("ir_melli", Confidence::Low)
    );
    // The streaming scanner reads the record alike at any window size.
    let row = format!(
        "{}\n7,Jane Roe,5606079828,4526018159083012,x\n",
        "a,b\n".repeat(300)
    );
    for chunk in [64, 4096] {
        let mut s = StreamScanner::new(engine(), chunk);
        let mut got = Vec::new();
        s.scan_bytes(row.as_bytes(), &mut |l: Located<'_>| {
            got.push((l.m.kind, l.m.confidence));
            Flow::Continue(())
        });
        assert_eq!(
            got,
            [
                ("ir_melli", Confidence::Medium),
                ("card_visa", Confidence::Medium)
            ],
            "chunk {chunk}"
        );
    }
}

#[test]
fn context_raises_confidence() {
    let with = engine().find_all(b"SSN: 536-22-8726");
    let without = engine().find_all(b"ref 536228726 done");
    assert_eq!(with[0].confidence, Confidence::High);
    assert_eq!(without[0].confidence, Confidence::Low);
    // `pan` inside a word is not context.
    let company = engine().find_all(b"company 4526018159083012");
    assert_eq!(company[0].confidence, Confidence::Medium);
}

#[test]
fn track_data_is_one_finding() {
    let k = kinds("%B4526018159083012^DOE/JOHN^2512101000000000000000000000000?");
    assert_eq!(k, ["card_track1"]);
    let k = kinds(";4526018159083012=25121010000000000000?");
    assert_eq!(k, ["card_track2"]);
    // A broken expiry is not track data, but the PAN is still a card number.
    let k = kinds(";4526018159083012=25131010000000000000?");
    assert_eq!(k, ["card_visa"]);
}

#[test]
fn match_value_is_masked() {
    let ms = engine().find_all(b"card 4526018159083012");
    assert_eq!(ms[0].value.masked(), "452601******3012");
    let dbg = format!("{:?}", ms[0]);
    assert!(!dbg.contains("4526018159083012"), "{dbg}");
}

#[test]
fn card_vectors_agree_with_the_reference_table() {
    // tests/vectors/cards.tsv: value, brand (python-stdnum's Luhn and the
    // reference IIN table, plus Mir) or "none".
    let data = include_str!("../../tests/vectors/cards.tsv");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in data
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (value, brand) = line.split_once('\t').expect("two columns");
        // The reference table rejects non-ASCII input; the engine maps
        // Persian and Arabic-Indic digits to ASCII before it validates, so
        // those vectors do not describe the engine.
        if !value.is_ascii() {
            continue;
        }
        let got = kinds(&format!("card {value} ."));
        let got = got.first().map(String::as_str).unwrap_or("none");
        // Lengths no card rule takes (e.g. 12 digits that are not Maestro)
        // may still be another kind of number; only card kinds count here.
        let got = if got.starts_with("card_") {
            got
        } else {
            "none"
        };
        if got != brand {
            wrong.push(format!("{}: expected {brand}, got {got}", value.len()));
        }
        checked += 1;
    }
    assert!(checked > 1000, "only {checked} vectors");
    assert!(
        wrong.is_empty(),
        "{} of {checked} wrong, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
}

#[test]
fn triggers_skip_dates_ips_and_ports() {
    assert_eq!(
        minimal_cover(vec![
            vec![4, 4, 4],
            vec![4, 6],
            vec![4, 6, 4],
            vec![3, 2, 4],
            vec![3, 6, 1],
            vec![4, 4, 4]
        ]),
        vec![vec![3, 2, 4], vec![3, 6, 1], vec![4, 4, 4], vec![4, 6]],
        "4-6 fires wherever 4-6-4 does; 3-6-1 is not covered by 3-2-4"
    );
    assert_eq!(
        minimal_cover(vec![vec![3, 6], vec![4, 6]]),
        vec![vec![3, 6], vec![4, 6]],
        "first groups are exact: 3-6 does not fire on 4-6"
    );
    assert_eq!(trigger_prefix(&[4, 4, 4, 4]), vec![4, 4, 4]);
    assert_eq!(trigger_prefix(&[4, 4, 4, 4, 3]), vec![4, 4, 4]);
    assert_eq!(trigger_prefix(&[4, 6, 5]), vec![4, 6]);
    assert_eq!(trigger_prefix(&[4, 6, 4]), vec![4, 6, 4]);
    assert_eq!(trigger_prefix(&[3, 2, 4]), vec![3, 2, 4]);
    assert_eq!(trigger_prefix(&[3, 6, 1]), vec![3, 6, 1]);
    let e = engine();
    for line in [
        &b"2024-08-19T14:16:35.680Z INFO [api] 192.168.1.10:8080 took 4523 ms 2024-03-15 "[..],
        b"10.1.2.3 - - [12/Mar/2024:02:54:53 +0000] \"GET / HTTP/1.1\" 304 166153 \"-\" x",
        b"sshd[56970]: Accepted publickey for deploy port 5168 ssh2: key SHA256:De1BiI+i99",
        b"order 12345 678901 then 2024 1234 567 and id 99 123456 x",
    ] {
        let m = classify::classify_at(classify::Scalar, line, 0);
        assert_eq!(
            e.trigger_mask(line, 0, &m),
            0,
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    // A pattern fires at the start of the number only.
    let line = b"card 4111 1111 1111 1111, ssn 123-45-6789, IBAN DE89 3704, id 1234567890 ";
    let m = classify::classify_at(classify::Scalar, line, 0);
    let fired: Vec<usize> = (0..128)
        .filter(|&i| e.trigger_mask(line, 0, &m) >> i & 1 == 1)
        .collect();
    let at = |needle: &str| {
        line.windows(needle.len())
            .position(|w| w == needle.as_bytes())
            .unwrap()
    };
    // The card's second group starts a 4-4-4 of its own (after a space, not
    // a digit); the run it finds is then part of the chain already seen.
    assert_eq!(
        fired,
        vec![
            at("4111"),
            at("4111") + 5,
            at("123-"),
            at("DE89"),
            at("1234567890")
        ]
    );
    assert_eq!(
        e.triggers.step,
        128 - 14,
        "4-4-4 with separators is the longest pattern"
    );
}

// ---------------------------------------------------------------- naive

/// Every match found by walking every candidate, without the prefilter.
fn naive(text: &[u8]) -> Vec<(usize, usize, usize)> {
    let e = engine();
    let columns = e.columns(text);
    let cols = columns.as_ref();
    let mut out = Vec::new();
    let mut track_spans: Vec<(usize, usize)> = Vec::new();
    let mut cands: Vec<Candidate> = Vec::new();
    candidate::for_each_candidate(text, e.check_chars(), &mut |c| cands.push(c.clone()));
    for c in &cands {
        let rules = match c.shape {
            Shape::Track1 => e.dispatch.track1.as_slice(),
            Shape::Track2 => e.dispatch.track2.as_slice(),
            _ => continue,
        };
        if let Some(m) = e.best_match(text, c, rules, cols) {
            track_spans.push((m.start, m.end));
            out.push((m.start, m.end, m.rule_index));
        }
    }
    let mut iban_starts: Vec<usize> = Vec::new();
    for c in &cands {
        let rules = match c.shape {
            // Alternatives share a start: the first that validates wins.
            Shape::Iban if iban_starts.contains(&c.start) => continue,
            Shape::Bare => {
                if track_spans.iter().any(|&(s, e)| s <= c.start && c.end <= e) {
                    continue;
                }
                e.bare_rules(c)
            }
            Shape::Grouped { .. } => e.grouped_rules(c),
            Shape::Iban => e.dispatch.iban.as_slice(),
            _ => continue,
        };
        if let Some(m) = e.best_match(text, c, rules, cols) {
            if c.shape == Shape::Iban {
                iban_starts.push(c.start);
            }
            out.push((m.start, m.end, m.rule_index));
        }
    }
    out.sort();
    out.dedup();
    out
}

fn fast(text: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut v: Vec<_> = engine()
        .find_all(text)
        .into_iter()
        .map(|m| (m.start, m.end, m.rule_index))
        .collect();
    v.sort();
    v
}

/// Text made of the pieces numbers are written with, and real numbers.
fn texty() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("4526018159083012".to_string()),
        Just("4526 0181 5908 3012".to_string()),
        Just("3731-948757-49111".to_string()),
        Just("536-22-8726".to_string()),
        Just("85120312343".to_string()),
        Just("11010519491231002X".to_string()),
        Just("۴۴۷۲۸۱۹۶۳۵".to_string()),
        Just("447-281963-5".to_string()),
        Just("DE89 3704 0044 0532 0130 00".to_string()),
        Just("GB29NWBK60161331926819".to_string()),
        Just(";4526018159083012=25121010000000000000?".to_string()),
        Just("%B5478778932879219^SMITH/ANNA^2709101000?".to_string()),
        "[0-9]{1,20}",
        "[0-9 .-]{1,12}",
        // Digit groups: the shape triggers are exact about group lengths.
        "([0-9]{1,6}[ .-]){1,4}[0-9]{1,6}",
        "[3-6][0-9]{3}[ .-][0-9]{4}[ .-][0-9]{4}[ .-][0-9]{4}",
        "[0-9]{3}[ .-][0-9]{6}[ .-][0-9]",
        "[A-Z]{1,3}",
        "[a-z]{1,3}",
        Just(" ".to_string()),
        Just("-".to_string()),
        Just("身份证号码".to_string()),
        Just("۱۲".to_string()),
        Just("\n".to_string()),
        // Written forms (issue 12): wide separators, URL escapes, digits
        // of other scripts.
        Just("\u{a0}".to_string()),
        Just("\u{202f}".to_string()),
        Just("\u{2013}".to_string()),
        Just("\u{3000}".to_string()),
        Just("%20".to_string()),
        Just("%3D".to_string()),
        Just("+".to_string()),
        Just("4526\u{a0}0181\u{a0}5908\u{a0}3012".to_string()),
        Just("4526%200181%205908%203012".to_string()),
        Just("４５２６０１８１５９０８３０１２".to_string()),
        Just("１１０１０５１９４９１２３１００２Ｘ".to_string()),
        "[０-９]{1,5}",
        Just("pl61 1090 1014 0000 0712 1981 2874".to_string()),
        Just("iban de89370400440532013000".to_string()),
        Just("SA٠٣٨٠٠٠٠٠٠٠٦٠٨٠١٠١٦٧٥١٩".to_string()),
        Just("DE89\u{a0}3704\u{a0}0044\u{a0}0532\u{a0}0130\u{a0}00".to_string()),
        "[0-9]{1,5}(\u{a0}|\u{2013}|%20|\\+)[0-9]{1,5}",
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn prefilter_misses_nothing(text in texty()) {
        prop_assert_eq!(fast(text.as_bytes()), naive(text.as_bytes()));
    }

    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = engine().find_all(&bytes);
        let _ = naive(&bytes);
    }
}

// ---------------------------------------------------------------- windows

/// `(offset, length, rule, line, column)` of a streamed match.
type Streamed = (u64, u64, usize, Option<u64>, Option<u64>);

/// Matches found by streaming `text` with small windows.
fn streamed(text: &[u8], chunk: usize) -> Vec<Streamed> {
    let mut s = StreamScanner::new(engine(), chunk);
    let mut out = Vec::new();
    s.scan_bytes(text, &mut |l: Located<'_>| {
        out.push((l.offset, l.length, l.m.rule_index, l.line, l.column));
        Flow::Continue(())
    });
    out.sort();
    out
}

#[test]
fn numbers_straddling_window_edges_are_found_once() {
    let chunk = 4096;
    let numbers = [
        "4526 0181 5908 3012",
        "11010519491231002X",
        "DE89 3704 0044 0532 0130 00",
        "۴۴۷۲۸۱۹۶۳۵",
        "%B4526018159083012^DOE/JOHN^2512101000000000000000000000000?",
    ];
    for number in numbers {
        // Put the number across every byte of the first window edges.
        for shift in 0..number.len() + 2 {
            for edge in [chunk - MARGIN, chunk, 2 * chunk - MARGIN] {
                let at = edge - shift;
                let mut text = "x".repeat(at - 1);
                text.push(' ');
                text.push_str(number);
                text.push(' ');
                text.push_str(&"y ".repeat(3 * chunk));
                let got = streamed(text.as_bytes(), chunk);
                assert_eq!(got.len(), 1, "{number:?} at {at}: {got:?}");
                assert_eq!(got[0].0, at as u64);
                assert_eq!(got[0].3, Some(1));
                assert_eq!(got[0].4, Some(at as u64 + 1));
            }
        }
    }
}

#[test]
fn lines_and_columns_count_code_points() {
    let text = "第一行\nحساب ۴۴۷۲۸۱۹۶۳۵\nab 4526018159083012";
    let got = streamed(text.as_bytes(), 4096);
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].3, got[0].4), (Some(2), Some(6)));
    assert_eq!((got[1].3, got[1].4), (Some(3), Some(4)));
}

#[test]
fn long_lines_keep_columns_across_windows() {
    let mut text = "a".repeat(20_000);
    text.push_str(" 4526018159083012");
    let got = streamed(text.as_bytes(), 4096);
    assert_eq!(got, vec![(20_001, 16, 0, Some(1), Some(20_002))]);
}

#[test]
fn utf16_files_are_decoded() {
    let text = "Card: 4526 0181 5908 3012\r\nPESEL 85120312343\r\n";
    for big_endian in [false, true] {
        for bom in [false, true] {
            let mut bytes: Vec<u8> = Vec::new();
            if bom {
                bytes.extend(if big_endian {
                    [0xFE, 0xFF]
                } else {
                    [0xFF, 0xFE]
                });
            }
            for u in text.encode_utf16() {
                bytes.extend(if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                });
            }
            let got = streamed(&bytes, 4096);
            assert_eq!(got.len(), 2, "be={big_endian} bom={bom}");
            // Offsets are in the decoded UTF-8 text.
            assert_eq!(got[0].0, 6);
            assert_eq!(got[1].3, Some(2));
        }
    }
}

#[test]
fn binary_files_are_scanned_as_strings() {
    let mut bytes = vec![0u8, 1, 2, 3, 0xFF, 0x00];
    bytes.extend_from_slice(b"card=4526018159083012\0");
    let at_utf16 = bytes.len() + 1;
    bytes.push(0x07);
    for u in "PESEL 85120312343".encode_utf16() {
        bytes.extend(u.to_le_bytes());
    }
    bytes.extend([0u8; 7]);
    let got = streamed(&bytes, 4096);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, 11);
    assert_eq!(got[0].3, None);
    assert_eq!(got[1].0, (at_utf16 + 2 * 6) as u64);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn windows_agree_with_one_pass(text in proptest::collection::vec(texty(), 1..40)) {
        let text = text.join(" lorem ipsum ").repeat(8);
        let whole: Vec<(u64, u64, usize)> = fast(text.as_bytes())
            .into_iter()
            .map(|(s, e, r)| (s as u64, (e - s) as u64, r))
            .collect();
        let windowed: Vec<(u64, u64, usize)> = streamed(text.as_bytes(), 4096)
            .into_iter()
            .map(|(o, l, r, _, _)| (o, l, r))
            .collect();
        prop_assert_eq!(windowed, whole);
    }
}

// ------------------------------------------------- evidence (issue 18)

/// `(confidence, demoted_by, test_data)` of the only match in `text`.
fn judged(text: &str) -> (Confidence, Option<Signal>, bool) {
    let ms = engine().find_all(text.as_bytes());
    assert_eq!(ms.len(), 1, "{text}: {ms:?}");
    (ms[0].confidence, ms[0].demoted_by, ms[0].test_data)
}

#[test]
fn i18_luhn_valid_constant_in_a_table_of_failing_constants_is_low() {
    // Float-parsing tables: one of four passes Luhn by chance.
    let table = "    4503599627370496,\n    4526018159083012,\n    9007199254740992,\n    1125899906842624,\n";
    let ms = engine().find_all(table.as_bytes());
    assert!(!ms.is_empty());
    assert!(ms.iter().all(|m| m.confidence == Confidence::Low), "{ms:?}");
    // Without the code layout, the table alone demotes.
    let t = "4503599627370496 4526018159083012 9007199254740992 2251799813685248";
    assert_eq!(judged(t).1, Some(Signal::Table));
    // A list of real cards passes as a whole: not a table of constants.
    let cards = "4526018159083012 5478778932879219 4383470174681456 2223786579754327";
    let ms = engine().find_all(cards.as_bytes());
    assert_eq!(ms.len(), 4);
    assert!(ms.iter().all(|m| m.demoted_by.is_none()), "{ms:?}");
    // Two neighbours are not a table: a CSV row with a phone number.
    let row = "1,Jan,15927588199,85120312343,x,12345678901";
    assert_eq!(judged(row).1, None);
}

#[test]
fn i18_number_in_source_code_is_low() {
    for text in [
        "#define FOO_REQUEST 4526018159083012",
        "r = ioctl(fd, 4526018159083012, &arg);",
        "static const uint64_t k[] = {4526018159083012, 7};",
        "x = 4526018159083012;",
    ] {
        assert_eq!(
            judged(text),
            (Confidence::Low, Some(Signal::Code), false),
            "{text}"
        );
    }
    // Quoted in a log or prose, in a CSV row, as a JSON value: not code.
    for text in [
        "WARN [api] [4526018159083012]",
        "1,Doe,4526018159083012,2024",
        "{\"n\":4526018159083012,\"x\":1}",
    ] {
        assert_eq!(judged(text).1, None, "{text}");
    }
}

#[test]
fn i18_digits_of_a_float_address_or_dashed_token_are_low() {
    for text in [
        "x = 0.4526018159083012",
        "addr 10.1.4526018159083012",
        "t 12:4526018159083012",
        "uuid 550e8400-e29b-41d4-a716-4526018159083012",
    ] {
        assert_eq!(judged(text).1, Some(Signal::Structure), "{text}");
    }
    // A sentence's full stop is not a decimal point.
    assert_eq!(judged("paid with 4526018159083012.").1, None);
}

#[test]
fn i18_negative_words_demote_and_keywords_win() {
    assert_eq!(judged("build 4526018159083012").1, Some(Signal::Words));
    assert_eq!(judged("tel. 85120312343").1, Some(Signal::Words));
    // `telling` is not `tel`.
    assert_eq!(judged("telling 85120312343").1, None);
    // A keyword is stronger evidence than any negative signal.
    assert_eq!(
        judged("card = {4526018159083012, 7};"),
        (Confidence::High, None, false)
    );
    assert_eq!(judged("PESEL 3.85120312343").0, Confidence::High);
}

#[test]
fn i18_column_header_is_a_keyword_for_every_value_under_it() {
    // The header is far away: only the column says what the values are.
    let mut csv = String::from("id,name,ssn,city\n");
    for i in 0..40 {
        csv.push_str(&format!("{i},Person {i} with a long name,,Springfield\n"));
    }
    csv.push_str("41,Jane Roe,536228726,Springfield\n");
    let ms = engine().find_all(csv.as_bytes());
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].confidence, Confidence::High);
    // Streamed in small windows: the same.
    let mut s = StreamScanner::new(engine(), 4096);
    let mut conf = Vec::new();
    let long = csv.replace("Springfield", &"Springfield ".repeat(20));
    s.scan_bytes(long.as_bytes(), &mut |l: Located<'_>| {
        conf.push(l.m.confidence);
        Flow::Continue(())
    });
    assert_eq!(conf, [Confidence::High]);
    // Persian header `کد_ملی`, TSV.
    let tsv = "نام\tکد_ملی\nعلی\t4472819635\n";
    assert_eq!(judged(tsv).0, Confidence::High);
    // The same value in another column stays low.
    let other = "id,name,city\n41,Jane Roe,536228726\n";
    assert_eq!(judged(other).0, Confidence::Low);
}

#[test]
fn i18_fixed_width_header_is_a_keyword_for_every_value_under_it() {
    // A report printed with spaces: only the header, far above, says what
    // the column holds.
    let mut report = String::from("EMPLOYEE              SSN          OFFICE\n");
    for i in 0..40 {
        report.push_str(&format!(
            "Person number {i:<8}                 Springfield\n"
        ));
    }
    report.push_str("Jane Roe              536228726    Springfield\n");
    let ms = engine().find_all(report.as_bytes());
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].confidence, Confidence::High);
    let mut s = StreamScanner::new(engine(), 4096);
    let mut conf = Vec::new();
    s.scan_bytes(report.repeat(3).as_bytes(), &mut |l: Located<'_>| {
        conf.push(l.m.confidence);
        Flow::Continue(())
    });
    assert_eq!(conf, [Confidence::High; 3]);
    // The same number under OFFICE stays low (the header beyond the
    // keyword window).
    let other = report.replace(
        "Jane Roe              536228726    Springfield",
        "Jane Roe                           536228726",
    );
    assert_eq!(judged(&other).0, Confidence::Low);
}

#[test]
fn i18_script_around_a_bare_number_is_weak_evidence() {
    // Persian text, or Persian digits: a bare melli code is lifted to medium.
    assert_eq!(
        judged("مشتری گرامی 4472819635 ثبت شد").0,
        Confidence::Medium
    );
    assert_eq!(judged("ref ۴۴۷۲۸۱۹۶۳۵").0, Confidence::Medium);
    // English text: it stays low.
    assert_eq!(judged("ref 4472819635 done").0, Confidence::Low);
    // A negative signal beats the script.
    assert_eq!(judged("مقدار 1.4472819635").1, Some(Signal::Structure));
}

#[test]
fn i18_textbook_ssns_are_test_data_and_advertising_ones_invalid() {
    let (confidence, _, test) = judged("ssn : 111-22-3333");
    assert!(test);
    assert_eq!(confidence, Confidence::High);
    let ms = engine().find_all(b"SSN 123-45-6789");
    assert_eq!(ms[0].severity, Severity::Low);
    assert!(engine().find_all(b"SSN 078-05-1120").is_empty());
    assert!(!judged("SSN 536-22-8726").2);
}

#[test]
fn i18_evidence_is_the_same_in_every_window() {
    // A table, code and a header, each across window edges: streaming with
    // tiny windows judges every match as one pass does.
    let mut text = String::from("id,name,pesel\n");
    for i in 0..300 {
        text.push_str(&format!("{i},x,85120312343\n"));
        text.push_str("    4503599627370496,\n    4526018159083012,\n    9007199254740992,\n");
        text.push_str("#define X 1971204123457 y 0.4472819635 z\n");
    }
    let whole: Vec<(usize, Confidence)> = engine()
        .find_all(text.as_bytes())
        .into_iter()
        .map(|m| (m.start, m.confidence))
        .collect();
    let mut s = StreamScanner::new(engine(), 4096);
    let mut got = Vec::new();
    s.scan_bytes(text.as_bytes(), &mut |l: Located<'_>| {
        got.push((l.offset as usize, l.m.confidence));
        Flow::Continue(())
    });
    got.sort();
    assert_eq!(got, whole);
    assert!(whole.iter().any(|w| w.1 == Confidence::High));
    assert!(whole.iter().any(|w| w.1 == Confidence::Low));
}

/// The pass rate of each shipped rule's validator on random strings of the
/// rule's bare shapes: the evidence each check gives (docs/DESIGN.md,
/// "Evidence"). Prints a Markdown table; `benches/pass_rates.sh` runs it.
#[test]
#[ignore = "prints the pass-rate table (benches/pass_rates.sh)"]
fn pass_rate_table() {
    const N: u32 = 1_000_000;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        // xorshift64*: deterministic, so the table is reproducible.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let e = engine();
    println!("| rule | shape | random strings | pass | pass rate | one in |");
    println!("|---|---|---:|---:|---:|---:|");
    for rule in e.rules() {
        let mut shapes: Vec<(String, Vec<u8>)> = Vec::new();
        match &rule.matcher {
            Matcher::Digits(d) => {
                for n in 1..=31u32 {
                    if d.bare_lengths & (1 << n) == 0 {
                        continue;
                    }
                    let n = n as usize;
                    match d.check_char {
                        Some(ch) => shapes.push((
                            format!("{} digits + [0-9{}]", n - 1, ch as char),
                            vec![b'd'; n - 1].into_iter().chain([b'c']).collect(),
                        )),
                        None => shapes.push((format!("{n} digits"), vec![b'd'; n])),
                    }
                }
            }
            Matcher::Iban => {
                for (cc, len) in [("DE", 18), ("PL", 24), ("FR", 23)] {
                    let mut s = cc.as_bytes().to_vec();
                    s.extend(vec![b'd'; 2 + len]);
                    shapes.push((format!("{cc} + {} digits", 2 + len), s));
                }
            }
            _ => continue,
        }
        for (label, shape) in shapes {
            let mut pass = 0u32;
            let mut buf = vec![0u8; shape.len()];
            for _ in 0..N {
                for (b, &s) in buf.iter_mut().zip(&shape) {
                    *b = match s {
                        b'd' => b'0' + (next() % 10) as u8,
                        b'c' => b"0123456789X"[(next() % 11) as usize],
                        other => other,
                    };
                }
                let c = Candidate::from_text(&buf, 0).expect("candidate");
                if e.validate(rule, &c).is_some() {
                    pass += 1;
                }
            }
            let rate = pass as f64 / N as f64;
            let one_in = if pass > 0 {
                format!("{:.0}", 1.0 / rate)
            } else {
                "never".into()
            };
            println!(
                "| {} | {label} | {N} | {pass} | {rate:.5} | {one_in} |",
                rule.id
            );
        }
    }
}

// ---------------------------------------------------------- written forms

/// A Luhn-valid 16-digit Visa number from 15 random digits after the 4,
/// and the same number with its check digit broken.
fn visa_pair(body: &[u8]) -> (String, String) {
    let mut digits: Vec<u8> = std::iter::once(4)
        .chain(body.iter().map(|d| d % 10))
        .collect();
    digits.truncate(15);
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    let check = ((10 - sum % 10) % 10) as u8;
    let good: String = digits
        .iter()
        .chain([&check])
        .map(|d| (b'0' + d) as char)
        .collect();
    let bad: String = digits
        .iter()
        .chain([&((check + 1) % 10)])
        .map(|d| (b'0' + d) as char)
        .collect();
    (good, bad)
}

/// `number` in groups of four joined by `sep`.
fn grouped(number: &str, sep: &str) -> String {
    number
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(sep)
}

/// `number` in full-width digits.
fn full_width(number: &str) -> String {
    number
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0xFF10 + d).unwrap(),
            None => c,
        })
        .collect()
}

/// `number` in the digits of the script whose zero is `zero`.
fn script_digits(number: &str, zero: u32) -> String {
    number
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(zero + d).unwrap(),
            None => c,
        })
        .collect()
}

const WIDE_SEPS: [&str; 12] = [
    "\u{00A0}", "\u{202F}", "\u{2009}", "\u{2007}", "\u{2008}", "\u{3000}", "\u{2013}", "\u{2011}",
    "\u{2212}", "%20", "+", "%2D",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Issue 12 item 1 and the URL forms of item 4: a valid card grouped by
    /// any separator people and programs write is found; with a broken
    /// check digit, nothing is.
    #[test]
    fn f1_cards_grouped_by_wide_separators_are_found(
        body in proptest::collection::vec(0u8..10, 15),
        sep in 0usize..WIDE_SEPS.len(),
        before in prop_oneof![Just("card "), Just("卡号："), Just("q=card%3D"), Just("x=")],
    ) {
        let (good, bad) = visa_pair(&body);
        let sep = WIDE_SEPS[sep];
        let text = format!("{before}{} end", grouped(&good, sep));
        let found = engine().find_all(text.as_bytes());
        prop_assert_eq!(found.len(), 1, "{:?}", found);
        prop_assert_eq!(found[0].start, before.len());
        prop_assert_eq!(found[0].end, before.len() + grouped(&good, sep).len());
        let text = format!("{before}{} end", grouped(&bad, sep));
        prop_assert!(engine().find_all(text.as_bytes()).is_empty());
    }

    /// One separator kind per number: mixing two is not a number.
    #[test]
    fn f1_mixed_wide_separators_are_not_a_number(
        body in proptest::collection::vec(0u8..10, 15),
        a in 0usize..WIDE_SEPS.len(),
        b in 0usize..WIDE_SEPS.len(),
    ) {
        prop_assume!(WIDE_SEPS[a] != WIDE_SEPS[b]);
        let (good, _) = visa_pair(&body);
        let g = grouped(&good, " ");
        let mut parts = g.split(' ');
        let text = format!(
            "card {}{}{}{}{}{}{} end",
            parts.next().unwrap(), WIDE_SEPS[a], parts.next().unwrap(), WIDE_SEPS[b],
            parts.next().unwrap(), WIDE_SEPS[a], parts.next().unwrap(),
        );
        prop_assert!(engine().find_all(text.as_bytes()).is_empty(), "{}", text.len());
    }

    /// Item 2: full-width, Devanagari, Bengali, Arabic-Indic and Persian
    /// digits, bare and grouped.
    #[test]
    fn f2_cards_in_other_digit_scripts_are_found(
        body in proptest::collection::vec(0u8..10, 15),
        zero in prop_oneof![Just(0xFF10u32), Just(0x0966), Just(0x09E6), Just(0x0660), Just(0x06F0)],
        sep in prop_oneof![Just(""), Just(" "), Just("\u{3000}"), Just("-")],
    ) {
        let (good, bad) = visa_pair(&body);
        let text = format!("卡号：{}。", script_digits(&grouped(&good, sep), zero));
        let found = engine().find_all(text.as_bytes());
        prop_assert_eq!(found.len(), 1);
        prop_assert_eq!(found[0].kind, "card_visa");
        let text = format!("卡号：{}。", script_digits(&grouped(&bad, sep), zero));
        prop_assert!(engine().find_all(text.as_bytes()).is_empty());
    }

    /// Percent escapes bound a number; a decoy glued to letters after it
    /// is still judged by the same rules (and refused).
    #[test]
    fn f3_percent_escapes_bound_numbers(
        body in proptest::collection::vec(0u8..10, 15),
        esc in prop_oneof![Just("%3D"), Just("%3A"), Just("%2F"), Just("%20"), Just("%22")],
    ) {
        let (good, bad) = visa_pair(&body);
        let text = format!("GET /p?card{esc}{good}%26n=1 HTTP/1.1");
        prop_assert_eq!(engine().find_all(text.as_bytes()).len(), 1);
        let text = format!("GET /p?card{esc}{bad}%26n=1 HTTP/1.1");
        prop_assert!(engine().find_all(text.as_bytes()).is_empty());
        let text = format!("GET /p?card{esc}{good}abc HTTP/1.1");
        prop_assert!(engine().find_all(text.as_bytes()).is_empty());
    }
}

#[test]
fn f2_full_width_cn_ric_with_full_width_x() {
    let text = format!("身份证号码：{}Ｘ。", full_width("11010519491231002"));
    assert_eq!(kinds(&text), ["cn_ric"]);
    let text = format!("身份证号码：{}Ｘ。", full_width("11010519491231003"));
    assert!(kinds(&text).is_empty());
}

/// A valid IBAN from a country code and a BBAN, and the same with a check
/// digit broken.
fn iban_pair(cc: &str, bban: &str) -> (String, String) {
    let rem = |s: &str| {
        s.chars().fold(0u64, |acc, ch| {
            let v = ch.to_digit(36).unwrap() as u64;
            if v > 9 {
                (acc * 100 + v) % 97
            } else {
                (acc * 10 + v) % 97
            }
        })
    };
    let check = 98 - rem(&format!("{bban}{cc}00"));
    let good = format!("{cc}{check:02}{bban}");
    let bad = format!("{cc}{:02}{bban}", (check + 1) % 100);
    (good, bad)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Issue 12 item 5 and item 8: IBANs in lower or mixed case (grouped,
    /// or compact with a keyword), with Arabic-Indic or Persian digits, or
    /// grouped by a no-break space, are found; a broken check is not.
    #[test]
    fn f5_iban_in_lower_case_or_other_digits_is_found(
        body in proptest::collection::vec(0u8..10, 24),
        form in 0usize..5,
    ) {
        // Poland: 24 digits; Saudi Arabia: 2 digits and 18 alphanumerics
        // (digits here).
        let (cc, bban) = if form % 2 == 0 { ("PL", 24) } else { ("SA", 20) };
        let bban: String = body[..bban].iter().map(|d| (b'0' + d) as char).collect();
        let (good, bad) = iban_pair(cc, &bban);
        let write = |iban: &str| match form {
            0 => format!("przelew na {} dzisiaj", grouped(&iban.to_lowercase(), " ")),
            1 => format!("الآيبان: {}", script_digits(iban, 0x0660)),
            2 => format!("IBAN: {}", iban.to_lowercase()),
            3 => format!("شبا {} تمام", script_digits(&grouped(iban, " "), 0x06F0)),
            _ => format!("to {} now", grouped(iban, "\u{a0}")),
        };
        let found = engine().find_all(write(&good).as_bytes());
        prop_assert_eq!(found.len(), 1, "form {}", form);
        prop_assert_eq!(found[0].kind, "iban");
        prop_assert!(engine().find_all(write(&bad).as_bytes()).is_empty());
    }
}

#[test]
fn f5_compact_lower_case_iban_needs_a_keyword() {
    let (good, _) = iban_pair("DE", "370400440532013000");
    assert_eq!(kinds(&format!("iban {}", good.to_lowercase())), ["iban"]);
    assert!(kinds(&format!("ref {} ok", good.to_lowercase())).is_empty());
    // Grouped lower case needs none.
    assert_eq!(
        kinds(&format!("ref {} ok", grouped(&good.to_lowercase(), " "))),
        ["iban"]
    );
}

#[test]
fn escapes_in_a_row_before_a_grouped_number_bound_it() {
    // Found by `prefilter_misses_nothing`: the `0` of the first `%20` is
    // an escape's hex digit, not a digit the second escape separates.
    let t = b"%20%20447-281963-5\n4526018159083012";
    assert_eq!(fast(t), naive(t));
    assert_eq!(kinds("q=%20%20447-281963-5"), ["ir_melli"]);
}

/// Base64 of `bytes` (`url`: `-_` for 62 and 63), without padding, by
/// the encoder redaction uses to write payloads back.
fn b64(bytes: &[u8], url: bool) -> String {
    let alphabet = if url {
        base64::Alphabet::UrlSafe
    } else {
        base64::Alphabet::Standard
    };
    let mut out = Vec::new();
    base64::encode_into(bytes, alphabet, false, &mut out);
    String::from_utf8(out).expect("base64 is ASCII")
}

/// The base64 pass's pair test (`base64::may_hold_number`) drops runs
/// before decoding them: every written form the engine finds in plain
/// text (native digits, full-width, lower-case IBANs, Unicode spaces) is
/// still found in its base64, in UTF-8 and UTF-16LE, in both alphabets,
/// at each alignment.
#[test]
fn base64_pair_test_keeps_every_written_form() {
    let engine = Engine::new(RuleSet::builtin().unwrap()).with_base64(true);
    assert!(engine.base64_finder().digits, "the default rules allow it");
    let texts = [
        "Card number: 4526 0181 5908 3012",
        // An SSN or a CNP with its keyword alone is shorter than
        // `base64::MIN_RUN` in base64 (the documented limit): these
        // carry a little more text, as payloads do.
        "SSN: 536-22-8726 ok",
        "PESEL: 85120312343",
        "CNP 1971204123457 ok",
        "身份证号码11010519491231002X",
        "身份证号码：１１０１０５１９４９１２３１００２Ｘ",
        "کد ملی: ۴۴۷۲۸۱۹۶۳۵",
        "کد ملی: ٤٤٧٢٨١٩٦٣٥",
        "IBAN DE89 3704 0044 0532 0130 00",
        "iban pl61 1090 1014 0000 0712 1981 2874",
        "card 4526\u{a0}0181\u{a0}5908\u{a0}3012",
        "%B4526018159083012^DOE/JOHN^2512101000000000000000000000000?",
    ];
    // Messages name the text by its index: no number in test output.
    for (i, text) in texts.into_iter().enumerate() {
        let want = kinds(text);
        assert!(
            !want.is_empty(),
            "text {i}: the engine finds it in plain text"
        );
        // Leading spaces move the number through the three places of a
        // base64 group (UTF-16LE: by 2 bytes, so also all three). The
        // UTF-16LE payload has a BOM: without one, text that opens with
        // CJK characters is not taken for UTF-16 (docs/DESIGN.md).
        for lead in 0..3 {
            let text = format!("{}{text}", " ".repeat(lead));
            let utf16: Vec<u8> = [0xFF, 0xFE]
                .into_iter()
                .chain(text.encode_utf16().flat_map(|u| u.to_le_bytes()))
                .collect();
            for (enc, payload) in [("utf-8", text.as_bytes().to_vec()), ("utf-16le", utf16)] {
                for url in [false, true] {
                    let line = format!("payload={}\n", b64(&payload, url));
                    let mut got = Vec::new();
                    let mut scratch = base64::Scratch::default();
                    let _ = base64::scan(
                        &engine,
                        line.as_bytes(),
                        0..line.len(),
                        &mut scratch,
                        &mut |f| {
                            got.push(f.m.kind.to_string());
                            Flow::Continue(())
                        },
                    );
                    assert_eq!(got, want, "text {i} {enc} lead {lead} url {url}");
                }
            }
        }
    }
}

/// The pair test holds only for rules that need three digits in a row
/// (or an IBAN's head): a user regex, or a digits rule of short groups
/// only, turns it off, so such payloads are still decoded.
#[test]
fn base64_pair_test_is_off_for_rules_that_need_fewer_digits() {
    let all = RuleSet::builtin_all().unwrap();
    assert!(
        all.rules
            .iter()
            .any(|r| matches!(r.matcher, crate::rules::Matcher::Regex(_)))
    );
    assert!(!Engine::new(all).base64_finder().digits);
    let short = crate::rules::Matcher::Digits(crate::rules::DigitShape {
        bare_lengths: 0,
        groups: vec![vec![2, 2, 2]],
        separators: crate::rules::SEP_SPACE,
        check_char: None,
    });
    assert!(!needs_three_digits(&short));
    let long = crate::rules::Matcher::Digits(crate::rules::DigitShape {
        bare_lengths: 1 << 9,
        groups: vec![vec![3, 2, 4]],
        separators: crate::rules::SEP_SPACE,
        check_char: None,
    });
    assert!(needs_three_digits(&long));
}
