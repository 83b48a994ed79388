//! Rule syntax -> checked [`Rule`]s.
//!
//! Every value a user can get wrong is checked here, and every problem is
//! reported with the file, the rule id and the field, so `rules check` can
//! list all of them at once.

use std::collections::HashSet;

use super::program::{self, TableSource};
use super::syntax::{
    CardSyntax, ConfidenceSyntax, ContextSyntax, DigitsSyntax, LengthSyntax, MatchSyntax,
    NegativeContextSyntax, PrefixSyntax, RegexSyntax, RuleFile, RuleSyntax, ValidateSyntax,
};
use super::{
    Brand, CardTable, Confidence, ConfidencePolicy, Context, DigitShape, Matcher, NegativeContext,
    PrefixRange, RegexMatcher, Rule, RuleError, RuleErrors, RuleSet, SEP_DASH, SEP_DOT, SEP_SPACE,
    Script, Severity, Signal, Validator, separator_bit, version_of,
};

/// Longest bare number or group shape, in digits.
pub const MAX_DIGITS: usize = 31;
/// Longest written group shape (digits and separators), in bytes: the
/// prefilter tests a whole shape inside two 64-byte blocks.
pub const MAX_SHAPE_BYTES: usize = 48;
/// Longest regex match, in bytes.
pub const MAX_REGEX_LENGTH: usize = 64;
/// Largest context window, in bytes.
pub const MAX_CONTEXT_WINDOW: usize = 256;
/// Default context window, in bytes on each side.
pub const DEFAULT_CONTEXT_WINDOW: usize = 64;
/// Default window for negative keywords, in bytes before the match.
pub const DEFAULT_NEGATIVE_WINDOW: usize = 32;
/// Largest window for negative keywords: the engine decides about a match
/// from a bounded neighbourhood (`engine::MARGIN`).
pub const MAX_NEGATIVE_WINDOW: usize = 128;

/// Parses and checks rule files given as `(file name, text)` pairs, with
/// the built-in tables.
pub fn compile_sources(sources: &[(String, String)], origin: &str) -> Result<RuleSet, RuleErrors> {
    compile_sources_in(sources, origin, &TableSource::Builtin)
}

/// Parses and checks rule files, reading `field.table` files from `tables`.
pub fn compile_sources_in(
    sources: &[(String, String)],
    origin: &str,
    tables: &TableSource,
) -> Result<RuleSet, RuleErrors> {
    let mut errors = Vec::new();
    let mut rules = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (file, text) in sources {
        let parsed: RuleFile = match serde_saphyr::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                errors.push(syntax_error(file, text, &e));
                continue;
            }
        };
        for syntax in parsed.rules {
            let id = syntax.id.clone();
            match compile_rule(syntax, file, tables) {
                Ok(rule) => {
                    if !seen.insert(rule.id.clone()) {
                        errors.push(invalid(file, &id, "this id is used by another rule"));
                    }
                    rules.push(rule);
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
    }
    if rules.is_empty() && errors.is_empty() {
        // Files were found but hold no rule (`rules: []`): say which,
        // rather than that there are no files.
        errors.push(if sources.is_empty() {
            RuleError::NoRules {
                dir: origin.to_string(),
            }
        } else {
            RuleError::EmptyFiles {
                files: sources
                    .iter()
                    .map(|(f, _)| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        });
    }
    if !errors.is_empty() {
        return Err(RuleErrors(errors));
    }
    Ok(RuleSet {
        rules,
        version: version_of(sources),
        origin: origin.to_string(),
    })
}

/// A rule file that does not parse (an unknown field, a value of the wrong
/// type ...).
///
/// serde-saphyr's `Display` quotes the lines around the error, and rule files
/// hold example numbers next to every field: only the message, with its line
/// and column, is kept, as `rules check` never prints examples either. And
/// like every other problem, it names the rule it is in when the rule's id
/// can be read.
fn syntax_error(file: &str, text: &str, e: &serde_saphyr::Error) -> RuleError {
    let message = e.without_snippet().to_string();
    match e.location().and_then(|l| rule_at_line(text, l.line())) {
        Some(rule) => invalid(file, &rule, message),
        None => RuleError::Syntax {
            file: file.to_string(),
            message,
        },
    }
}

/// The id of the rule whose entry holds 1-based `line` of a rule file, read
/// leniently (every other field ignored); `None` if that cannot be told.
fn rule_at_line(text: &str, line: u64) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Ids {
        rules: Vec<serde_saphyr::Spanned<Id>>,
    }
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<String>,
    }
    let ids: Ids = serde_saphyr::from_str(text).ok()?;
    ids.rules
        .into_iter()
        .rev()
        .find(|r| (1..=line).contains(&r.referenced.line()))?
        .value
        .id
}

fn invalid(file: &str, rule: &str, message: impl Into<String>) -> RuleError {
    RuleError::Invalid {
        file: file.to_string(),
        rule: rule.to_string(),
        message: message.into(),
    }
}

/// Collects the problems of one rule.
struct Problems<'a> {
    file: &'a str,
    rule: &'a str,
    list: Vec<RuleError>,
}

impl Problems<'_> {
    fn add(&mut self, message: impl Into<String>) {
        self.list.push(invalid(self.file, self.rule, message));
    }
}

fn compile_rule(s: RuleSyntax, file: &str, tables: &TableSource) -> Result<Rule, Vec<RuleError>> {
    let id = s.id.clone();
    let mut p = Problems {
        file,
        rule: &id,
        list: Vec::new(),
    };
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    {
        p.add("id: use lower-case letters, digits, `.`, `_` and `-`");
    }
    if s.name.trim().is_empty() {
        p.add("name: must not be empty");
    }
    if !is_kind_name(&s.kind) {
        p.add(format!(
            "kind `{}`: use lower-case letters, digits and `_`",
            s.kind
        ));
    }
    let severity = Severity::parse(&s.severity).unwrap_or_else(|| {
        p.add(format!(
            "severity `{}`: expected low, medium or high",
            s.severity
        ));
        Severity::High
    });
    let country = s.country.clone();
    if let Some(c) = &country
        && !(c.len() == 2 && c.bytes().all(|b| b.is_ascii_lowercase()))
    {
        p.add(format!(
            "country `{c}`: an ISO 3166-1 alpha-2 code in lower case, like `pl`"
        ));
    }
    let packs = s
        .packs
        .clone()
        .unwrap_or_else(|| vec![DEFAULT_PACK.to_string()]);
    for pack in &packs {
        if !is_pack_name(pack) {
            p.add(format!(
                "packs: `{pack}`: use lower-case letters, digits and `-`"
            ));
        }
    }
    let matcher = compile_match(s.matcher, &mut p);
    let validator = compile_validate(s.validate, &mut p, tables);
    if let (Some(m), Some(v)) = (&matcher, &validator) {
        check_pairing(m, v, &mut p);
    }
    let context = compile_context(s.context, &mut p);
    let confidence = compile_confidence(s.confidence, &mut p);
    let negative_context = compile_negative(s.negative_context, &mut p);
    let test_numbers = compile_test_numbers(&s.test_numbers, &mut p);
    if s.examples.is_empty() {
        p.add("examples: give at least one text the rule must find");
    }
    if s.negative_examples.is_empty() {
        p.add("negative_examples: give at least one text the rule must not find");
    }
    match (matcher, validator) {
        (Some(matcher), Some(validator)) if p.list.is_empty() => Ok(Rule {
            id: s.id,
            name: s.name,
            description: s.description,
            kind: s.kind,
            severity,
            country,
            packs,
            matcher,
            validator,
            context,
            confidence,
            negative_context,
            test_numbers,
            examples: s.examples,
            negative_examples: s.negative_examples,
            demoted_examples: s.demoted_examples,
            source: file.to_string(),
        }),
        _ => Err(p.list),
    }
}

/// The pack of rules without `packs:`, and the one used when none is chosen.
pub const DEFAULT_PACK: &str = "default";

/// Pack names: lower-case letters, digits and `-`.
pub fn is_pack_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_kind_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn compile_match(m: MatchSyntax, p: &mut Problems) -> Option<Matcher> {
    let count = [
        m.digits.is_some(),
        m.iban.is_some(),
        m.track1.is_some(),
        m.track2.is_some(),
        m.regex.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if count != 1 {
        p.add("match: give exactly one of digits, iban, track1, track2, regex");
        return None;
    }
    if let Some(d) = m.digits {
        return compile_digits(d, p).map(Matcher::Digits);
    }
    if m.iban.is_some() {
        return Some(Matcher::Iban);
    }
    if m.track1.is_some() {
        return Some(Matcher::Track1);
    }
    if m.track2.is_some() {
        return Some(Matcher::Track2);
    }
    m.regex
        .and_then(|r| compile_regex(r, p))
        .map(Matcher::Regex)
}

/// Parses `[16, "12-19"]` into a bit set of lengths.
fn compile_lengths(lengths: &[LengthSyntax], field: &str, p: &mut Problems) -> u32 {
    let mut bits = 0u32;
    for l in lengths {
        let (lo, hi) = match l {
            LengthSyntax::One(n) => (*n, *n),
            LengthSyntax::Range(s) => match parse_range(s) {
                Some((lo, hi)) => (lo as u32, hi as u32),
                None => {
                    p.add(format!(
                        "{field}: `{s}` is not a length or a range like 12-19"
                    ));
                    continue;
                }
            },
        };
        if lo == 0 || hi as usize > MAX_DIGITS || lo > hi {
            p.add(format!(
                "{field}: {lo}-{hi} is outside 1-{MAX_DIGITS} digits"
            ));
            continue;
        }
        for n in lo..=hi {
            bits |= 1 << n;
        }
    }
    if bits == 0 && lengths.is_empty() {
        p.add(format!("{field}: give at least one length"));
    }
    bits
}

fn parse_range(s: &str) -> Option<(u64, u64)> {
    let s = s.trim();
    match s.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => {
            let n = s.parse().ok()?;
            Some((n, n))
        }
    }
}

fn compile_digits(d: DigitsSyntax, p: &mut Problems) -> Option<DigitShape> {
    let bare_lengths = compile_lengths(&d.lengths, "match.digits.lengths", p);
    let mut groups = Vec::new();
    for g in &d.groups {
        let parts: Option<Vec<u8>> = g
            .split('-')
            .map(|x| x.trim().parse::<u8>().ok().filter(|n| (1..=19).contains(n)))
            .collect();
        match parts {
            Some(parts) if parts.len() >= 2 => {
                let digits: usize = parts.iter().map(|x| *x as usize).sum();
                let bytes = digits + parts.len() - 1;
                if digits > MAX_DIGITS || bytes > MAX_SHAPE_BYTES {
                    p.add(format!(
                        "match.digits.groups: `{g}` is longer than {MAX_SHAPE_BYTES} characters"
                    ));
                } else {
                    groups.push(parts);
                }
            }
            _ => p.add(format!(
                "match.digits.groups: `{g}` is not a shape like 4-4-4-4 (two or more groups of 1-19 digits)"
            )),
        }
    }
    let separators = match &d.separators {
        None => SEP_SPACE | SEP_DASH | SEP_DOT,
        Some(s) => {
            let mut bits = 0;
            for b in s.bytes() {
                let bit = separator_bit(b);
                if bit == 0 {
                    p.add(format!(
                        "match.digits.separators: `{}` is not one of space, `-`, `.`",
                        b as char
                    ));
                }
                bits |= bit;
            }
            if bits == 0 && !groups.is_empty() {
                p.add("match.digits.separators: give at least one separator for the groups");
            }
            bits
        }
    };
    let check_char = match &d.check_char {
        None => None,
        Some(c) if c.len() == 1 && c.as_bytes()[0].is_ascii_uppercase() => Some(c.as_bytes()[0]),
        Some(c) => {
            p.add(format!(
                "match.digits.check_char: `{c}` is not one upper-case ASCII letter"
            ));
            None
        }
    };
    Some(DigitShape {
        bare_lengths,
        groups,
        separators,
        check_char,
    })
}

fn compile_regex(r: RegexSyntax, p: &mut Problems) -> Option<RegexMatcher> {
    let max_length = r.max_length.unwrap_or(MAX_REGEX_LENGTH);
    if max_length == 0 || max_length > MAX_REGEX_LENGTH {
        p.add(format!(
            "match.regex.max_length: {max_length} is outside 1-{MAX_REGEX_LENGTH}"
        ));
        return None;
    }
    let regex = match regex::bytes::RegexBuilder::new(&r.pattern)
        .size_limit(1 << 22)
        .build()
    {
        Ok(re) => re,
        Err(e) => {
            p.add(format!("match.regex.pattern: {e}"));
            return None;
        }
    };
    let keep = r.keep.clone().unwrap_or_default().into_bytes();
    if let Some(b) = keep.iter().find(|b| !super::program::KEEPABLE.contains(b)) {
        p.add(format!(
            "match.regex.keep: `{}` is not one of + - / . *",
            b.escape_ascii()
        ));
        return None;
    }
    let group = r.group.unwrap_or(0);
    if group >= regex.captures_len() {
        p.add(format!(
            "match.regex.group: the pattern has no capture group {group}"
        ));
        return None;
    }
    Some(RegexMatcher {
        regex,
        group,
        max_length,
        keep,
    })
}

fn compile_validate(
    v: Option<ValidateSyntax>,
    p: &mut Problems,
    tables: &TableSource,
) -> Option<Validator> {
    let Some(v) = v else {
        return Some(Validator::None);
    };
    let mut found: Vec<Validator> = Vec::new();
    if v.checks.is_none() && (v.shape.is_some() || v.values.is_some()) {
        p.add("validate: `shape` and `values` go with `checks`");
    }
    if let Some(checks) = &v.checks {
        match program::compile(v.shape.as_ref(), v.values.as_ref(), checks, tables) {
            Ok(prog) => found.push(Validator::Checks(Box::new(prog))),
            Err(errors) => {
                for e in errors {
                    p.add(e.to_string());
                }
                return None;
            }
        }
    }
    if let Some(c) = v.card
        && let Some(t) = compile_card(c, p)
    {
        found.push(Validator::Card(t));
    }
    let simple = [
        (v.luhn.is_some(), Validator::Luhn),
        (v.us_ssn.is_some(), Validator::UsSsn),
        (v.pl_pesel.is_some(), Validator::PlPesel),
        (v.ro_cnp.is_some(), Validator::RoCnp),
        (v.cn_ric.is_some(), Validator::CnRic),
        (v.ir_melli.is_some(), Validator::IrMelli),
        (v.iban.is_some(), Validator::Iban),
    ];
    for (present, validator) in simple {
        if present {
            found.push(validator);
        }
    }
    match found.len() {
        1 => found.pop(),
        0 => {
            // Either the card table had errors (already reported) or the
            // mapping was empty.
            if p.list.is_empty() {
                p.add("validate: name one validator (checks, card, luhn, us_ssn, pl_pesel, ro_cnp, cn_ric, ir_melli, iban)");
            }
            None
        }
        _ => {
            p.add("validate: name only one validator");
            None
        }
    }
}

fn compile_card(c: CardSyntax, p: &mut Problems) -> Option<CardTable> {
    if c.brands.is_empty() {
        p.add("validate.card.brands: give at least one brand");
        return None;
    }
    let mut brands = Vec::new();
    for b in c.brands {
        if !is_kind_name(&b.kind) {
            p.add(format!(
                "validate.card.brands: kind `{}`: use lower-case letters, digits and `_`",
                b.kind
            ));
        }
        let mut prefixes = Vec::new();
        for pre in &b.prefixes {
            let text = match pre {
                PrefixSyntax::Number(n) => n.to_string(),
                PrefixSyntax::Text(s) => s.trim().to_string(),
            };
            match parse_prefix(&text) {
                Some(r) => prefixes.push(r),
                None => p.add(format!(
                    "validate.card.brands[{}]: prefix `{text}` is not digits or a range of digits of equal length like 51-55",
                    b.kind
                )),
            }
        }
        if prefixes.is_empty() {
            p.add(format!(
                "validate.card.brands[{}]: give at least one prefix",
                b.kind
            ));
        }
        let lengths = compile_lengths(
            &b.lengths,
            &format!("validate.card.brands[{}].lengths", b.kind),
            p,
        );
        brands.push(Brand {
            kind: b.kind,
            prefixes,
            lengths,
        });
    }
    let mut test_numbers = HashSet::new();
    for t in &c.test_numbers {
        let digits: Vec<u8> = t.bytes().filter(|b| b.is_ascii_digit()).collect();
        if digits.len() < 12 || t.bytes().any(|b| !(b.is_ascii_digit() || b == b' ')) {
            p.add(format!(
                "validate.card.test_numbers: `{t}` is not a card number"
            ));
            continue;
        }
        test_numbers.insert(digits);
    }
    Some(CardTable {
        brands,
        brand_kinds: c.brand_kinds,
        test_numbers,
    })
}

fn parse_prefix(s: &str) -> Option<PrefixRange> {
    let (lo_s, hi_s) = match s.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s, s),
    };
    let ok = |x: &str| !x.is_empty() && x.len() <= 8 && x.bytes().all(|b| b.is_ascii_digit());
    if !ok(lo_s) || !ok(hi_s) || lo_s.len() != hi_s.len() {
        return None;
    }
    let lo: u64 = lo_s.parse().ok()?;
    let hi: u64 = hi_s.parse().ok()?;
    if lo > hi {
        return None;
    }
    Some(PrefixRange {
        lo,
        hi,
        digits: lo_s.len() as u8,
    })
}

/// Matchers and validators that make sense together.
fn check_pairing(m: &Matcher, v: &Validator, p: &mut Problems) {
    match (m, v) {
        (Matcher::Track1 | Matcher::Track2, Validator::Card(_)) => {}
        (Matcher::Track1 | Matcher::Track2, _) => {
            p.add("track data rules need the card validator (the PAN is checked against the IIN table)")
        }
        (Matcher::Iban, Validator::Iban | Validator::Checks(_)) => {}
        (Matcher::Iban, _) => p.add("the iban shape needs the iban validator or checks"),
        (Matcher::Digits(_), Validator::None) => p.add(
            "a digits rule needs a validator: digit shapes alone match order numbers and timestamps",
        ),
        (Matcher::Digits(d), _) if d.bare_lengths == 0 && d.groups.is_empty() => {
            p.add("match.digits: give lengths or groups")
        }
        _ => {}
    }
}

fn compile_context(c: Option<ContextSyntax>, p: &mut Problems) -> Context {
    let Some(c) = c else {
        return Context {
            keywords: Vec::new(),
            window: DEFAULT_CONTEXT_WINDOW,
            required: false,
            scripts: Vec::new(),
        };
    };
    let window = c.window.unwrap_or(DEFAULT_CONTEXT_WINDOW);
    if window == 0 || window > MAX_CONTEXT_WINDOW {
        p.add(format!(
            "context.window: {window} is outside 1-{MAX_CONTEXT_WINDOW} bytes"
        ));
    }
    if c.keywords.iter().any(|k| k.trim().is_empty()) {
        p.add("context.keywords: a keyword is empty");
    }
    if c.required && c.keywords.is_empty() {
        p.add("context.required: needs keywords");
    }
    let mut scripts = Vec::new();
    for name in &c.scripts {
        match Script::parse(name) {
            Some(s) => scripts.push(s),
            None => p.add(format!(
                "context.scripts: `{name}` is not one of arabic, cjk, polish, romanian"
            )),
        }
    }
    Context {
        keywords: c.keywords,
        window: window.min(MAX_CONTEXT_WINDOW),
        required: c.required,
        scripts,
    }
}

fn compile_negative(c: Option<NegativeContextSyntax>, p: &mut Problems) -> NegativeContext {
    let Some(c) = c else {
        return NegativeContext {
            window: DEFAULT_NEGATIVE_WINDOW,
            ..NegativeContext::default()
        };
    };
    let mut signals = Vec::new();
    for name in &c.signals {
        match Signal::parse(name) {
            Some(s) if !signals.contains(&s) => signals.push(s),
            Some(_) => {}
            None => p.add(format!(
                "negative_context.signals: `{name}` is not one of table, code, structure"
            )),
        }
    }
    let window = c.window.unwrap_or(DEFAULT_NEGATIVE_WINDOW);
    if window == 0 || window > MAX_NEGATIVE_WINDOW {
        p.add(format!(
            "negative_context.window: {window} is outside 1-{MAX_NEGATIVE_WINDOW} bytes"
        ));
    }
    if c.keywords.iter().any(|k| k.trim().is_empty()) {
        p.add("negative_context.keywords: a keyword is empty");
    }
    if !c.keywords.is_empty() {
        signals.push(Signal::Words);
    }
    NegativeContext {
        signals,
        keywords: c.keywords,
        window: window.min(MAX_NEGATIVE_WINDOW),
    }
}

/// Documented example numbers, compact: digits and upper-case letters.
fn compile_test_numbers(list: &[String], p: &mut Problems) -> HashSet<Vec<u8>> {
    let mut out = HashSet::new();
    for t in list {
        let compact: Vec<u8> = t
            .bytes()
            .filter(|b| b.is_ascii_alphanumeric())
            .map(|b| b.to_ascii_uppercase())
            .collect();
        if compact.is_empty()
            || t.bytes()
                .any(|b| !(b.is_ascii_alphanumeric() || b" -.".contains(&b)))
        {
            p.add(format!(
                "test_numbers: `{t}` is not a number (digits, letters and the separators space, `-`, `.`)"
            ));
            continue;
        }
        out.insert(compact);
    }
    out
}

fn compile_confidence(c: Option<ConfidenceSyntax>, p: &mut Problems) -> ConfidencePolicy {
    let mut parse = |v: &Option<String>, field: &str, default: Confidence| match v {
        None => default,
        Some(s) => Confidence::parse(s).unwrap_or_else(|| {
            p.add(format!(
                "confidence.{field}: `{s}` is not low, medium or high"
            ));
            default
        }),
    };
    let c = c.unwrap_or(ConfidenceSyntax {
        default: None,
        with_context: None,
        bare_without_context: None,
    });
    let default = parse(&c.default, "default", Confidence::Medium);
    let with_context = parse(&c.with_context, "with_context", Confidence::High);
    let bare_without_context = parse(&c.bare_without_context, "bare_without_context", default);
    ConfidencePolicy {
        default,
        with_context,
        bare_without_context,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_one(yaml: &str) -> Result<RuleSet, RuleErrors> {
        compile_sources(&[("test.yaml".into(), yaml.into())], "test")
    }

    const GOOD: &str = r#"
rules:
  - id: test-ssn
    name: SSN
    kind: us_ssn
    severity: high
    match:
      digits:
        lengths: [9]
        groups: ["3-2-4"]
    validate:
      us_ssn: {}
    examples: ["SSN 123-45-6789"]
    negative_examples: ["SSN 000-45-6789"]
"#;

    #[test]
    fn compiles_a_good_rule() {
        let set = compile_one(GOOD).unwrap();
        assert_eq!(set.rules.len(), 1);
        let r = &set.rules[0];
        assert_eq!(r.severity, Severity::High);
        match &r.matcher {
            Matcher::Digits(d) => {
                assert_eq!(d.bare_lengths, 1 << 9);
                assert_eq!(d.groups, vec![vec![3, 2, 4]]);
                assert_eq!(d.separators, SEP_SPACE | SEP_DASH | SEP_DOT);
            }
            other => panic!("unexpected matcher {other:?}"),
        }
        assert_eq!(set.version.len(), 12);
    }

    #[test]
    fn errors_name_file_rule_and_field() {
        let bad = GOOD
            .replace("severity: high", "severity: urgent")
            .replace("\"3-2-4\"", "\"3-x-4\"");
        let err = compile_one(&bad).unwrap_err().to_string();
        assert!(
            err.contains("test.yaml: rule `test-ssn`: severity `urgent`"),
            "{err}"
        );
        assert!(err.contains("match.digits.groups: `3-x-4`"), "{err}");
    }

    #[test]
    fn unknown_field_names_the_rule_and_quotes_no_example() {
        // After the examples, so a quoted snippet of the file would show them.
        let bad = format!("{GOOD}    sevrity: low\n");
        let err = compile_one(&bad).unwrap_err().to_string();
        assert!(
            err.contains("test.yaml: rule `test-ssn`: unknown field `sevrity`"),
            "{err}"
        );
        assert!(err.contains("line 15"), "{err}");
        assert!(!err.contains("123-45-6789"), "{err}");
        // Outside any rule: the file is named.
        let err = compile_one("rulez: []\n").unwrap_err().to_string();
        assert!(err.contains("test.yaml: not a valid rule file"), "{err}");
        assert!(err.contains("rulez"), "{err}");
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let two = format!("{GOOD}{}", GOOD.replace("rules:\n", ""));
        let err = compile_one(&two).unwrap_err().to_string();
        assert!(err.contains("used by another rule"), "{err}");
    }

    #[test]
    fn digits_without_validator_is_rejected() {
        let bad = GOOD.replace("    validate:\n      us_ssn: {}\n", "");
        let err = compile_one(&bad).unwrap_err().to_string();
        assert!(err.contains("needs a validator"), "{err}");
    }

    #[test]
    fn prefixes_parse() {
        let r = parse_prefix("2221-2720").unwrap();
        assert!(r.contains(b"2221000000000000"));
        assert!(r.contains(b"2720999999999999"));
        assert!(!r.contains(b"2721000000000000"));
        assert!(parse_prefix("51-5").is_none());
        assert!(parse_prefix("x").is_none());
    }

    const CHECKS: &str = r#"
rules:
  - id: rr-id
    name: RR
    kind: rr_id
    severity: high
    country: xr
    packs: [ruritania]
    match:
      digits:
        lengths: [10]
    validate:
      checks:
        - weighted: {weights: [10, 9, 8], modulus: 1, check: 9}
        - field: {name: region, at: "0-1", table: rr_regions}
    examples: ["RR 8501150010"]
    negative_examples: ["RR 8501150011"]
"#;

    #[test]
    fn checks_errors_name_file_rule_and_key() {
        let err = compile_one(CHECKS).unwrap_err().to_string();
        assert!(
            err.contains(
                "test.yaml: rule `rr-id`: validate.checks[0].weighted.modulus: 1 is outside 2-10000"
            ),
            "{err}"
        );
        assert!(
            err.contains("test.yaml: rule `rr-id`: validate.checks[1].field.table: table `rr_regions`: no built-in table"),
            "{err}"
        );
    }

    #[test]
    fn a_table_beside_the_rules_is_read_and_a_bad_line_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tables")).unwrap();
        let good = CHECKS.replace("modulus: 1,", "modulus: 11,");
        std::fs::write(dir.path().join("rr.yaml"), &good).unwrap();
        std::fs::write(
            dir.path().join("tables/rr_regions.txt"),
            "# regions\n85\n10-19\n",
        )
        .unwrap();
        let set = RuleSet::load_dir(dir.path()).unwrap();
        assert_eq!(set.rules[0].country.as_deref(), Some("xr"));
        assert!(set.rules[0].in_pack("ruritania") && set.rules[0].in_pack("xr"));
        assert!(!set.rules[0].in_pack("default"));
        std::fs::write(dir.path().join("tables/rr_regions.txt"), "85\n1x\n").unwrap();
        let err = RuleSet::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("table `rr_regions`: line 2:"), "{err}");
    }

    #[test]
    fn country_and_pack_names_are_checked() {
        let bad = CHECKS
            .replace("modulus: 1,", "modulus: 11,")
            .replace("country: xr", "country: XRR")
            .replace("packs: [ruritania]", "packs: [Rur itania]");
        let err = compile_one(&bad).unwrap_err().to_string();
        assert!(err.contains("country `XRR`"), "{err}");
        assert!(err.contains("packs: `Rur itania`"), "{err}");
    }
}
