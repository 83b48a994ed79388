//! The rule file format, exactly as written in YAML.
//!
//! These structs mirror `docs/rules.md`. They only describe syntax: every
//! struct denies unknown fields so a typo is an error, and all checking of
//! values (lengths, shapes, prefixes, regexes) happens in `compile`, which
//! turns them into the engine's tables.

use serde::Deserialize;

/// One rule file: a list of rules.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub rules: Vec<RuleSyntax>,
}

/// A rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSyntax {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub kind: String,
    pub severity: String,
    /// The issuing country: ISO 3166-1 alpha-2, lower case (`pl`, `us`).
    /// Also a pack name: `--rules-pack pl` selects it.
    #[serde(default)]
    pub country: Option<String>,
    /// The packs the rule belongs to (`default`, `eu`, `americas` ...).
    /// Absent: the rule is in `default` only (docs/rules.md, "Rule packs").
    #[serde(default)]
    pub packs: Option<Vec<String>>,
    #[serde(rename = "match")]
    pub matcher: MatchSyntax,
    #[serde(default)]
    pub validate: Option<ValidateSyntax>,
    #[serde(default)]
    pub context: Option<ContextSyntax>,
    #[serde(default)]
    pub confidence: Option<ConfidenceSyntax>,
    /// Evidence that a validated number is something else (a constant in a
    /// table, a literal in source code, part of a float or an address).
    #[serde(default)]
    pub negative_context: Option<NegativeContextSyntax>,
    /// Documented example numbers (textbook, published test values):
    /// still reported, as test data with low severity.
    #[serde(default)]
    pub test_numbers: Vec<String>,
    #[serde(default)]
    pub examples: Vec<String>,
    #[serde(default)]
    pub negative_examples: Vec<String>,
    /// Texts the rule finds, but at low confidence because a negative
    /// signal fires (each proves a signal is wired).
    #[serde(default)]
    pub demoted_examples: Vec<String>,
}

/// How candidates are found: exactly one of the keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSyntax {
    #[serde(default)]
    pub digits: Option<DigitsSyntax>,
    #[serde(default)]
    pub iban: Option<Empty>,
    #[serde(default)]
    pub track1: Option<Empty>,
    #[serde(default)]
    pub track2: Option<Empty>,
    #[serde(default)]
    pub regex: Option<RegexSyntax>,
}

/// An empty mapping (`iban: {}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Built-in shape: a number written as bare digits or as digit groups.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitsSyntax {
    /// Accepted digit counts of a bare (ungrouped) number, e.g. `[9]` or
    /// `["12-19"]`.
    pub lengths: Vec<LengthSyntax>,
    /// Accepted group shapes, e.g. `"4-4-4-4"`.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Characters that may join groups; default `" -."`.
    #[serde(default)]
    pub separators: Option<String>,
    /// A check character that may end a bare number (`X` for Chinese IDs).
    #[serde(default)]
    pub check_char: Option<String>,
}

/// A length or a range of lengths: `16` or `"12-19"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum LengthSyntax {
    One(u32),
    Range(String),
}

/// A user-written regular expression.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexSyntax {
    pub pattern: String,
    /// Capture group holding the value; default: the whole match.
    #[serde(default)]
    pub group: Option<usize>,
    /// Longest match in bytes (at most 64); needed to stream across chunks.
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Characters besides letters and digits that stay in the value (any
    /// of `+ - / . *`), for checks that read them (a century sign).
    #[serde(default)]
    pub keep: Option<String>,
}

/// The validator: one of the keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateSyntax {
    #[serde(default)]
    pub card: Option<CardSyntax>,
    #[serde(default)]
    pub luhn: Option<Empty>,
    #[serde(default)]
    pub us_ssn: Option<Empty>,
    #[serde(default)]
    pub pl_pesel: Option<Empty>,
    #[serde(default)]
    pub ro_cnp: Option<Empty>,
    #[serde(default)]
    pub cn_ric: Option<Empty>,
    #[serde(default)]
    pub ir_melli: Option<Empty>,
    #[serde(default)]
    pub iban: Option<Empty>,
    /// The checksum language: a list of checks, all of which must pass
    /// (docs/rules.md, "The checksum language").
    #[serde(default)]
    pub checks: Option<Vec<CheckSyntax>>,
    /// With `checks`: the characters the compact value may hold, position by
    /// position (`"[0-9]{10}"`, `"[A-Z]{2}[0-9]{6}[A-D]"`), or a list of
    /// alternatives. Default: any digits and upper-case letters.
    #[serde(default)]
    pub shape: Option<OneOrMany<String>>,
    /// With `checks`: named tables of character values, each an alphabet
    /// string (a character's value is its index) or a map from character to
    /// value, for `weighted.values`.
    #[serde(default)]
    pub values: Option<std::collections::BTreeMap<String, ValueTableSyntax>>,
}

/// One value or a list of values.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// The values as a list.
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// A number or a string: positions (`3`, `"3-4"`, `-1`), table entries
/// (`51`, `"80-83"`, `"X"`), map keys written either way.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Int(i64),
    Text(String),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Int(n) => write!(f, "{n}"),
            Scalar::Text(s) => f.write_str(s),
        }
    }
}

/// A table of character values: `"0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ"`
/// (index = value) or `{"0": 1, "1": 0, "A": 1}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ValueTableSyntax {
    Alphabet(String),
    Map(std::collections::BTreeMap<String, i64>),
}

/// One check of the checksum language: exactly one key per list item.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckSyntax {
    /// Weighted sum of character values modulo N.
    Weighted(WeightedSyntax),
    /// The positions read as one decimal number, modulo N (Belgian
    /// national number: `97 - (first nine digits mod 97)`).
    Number(NumberSyntax),
    /// Luhn (mod 10 double-add-double) over positions ending with the check.
    Luhn(AlgorithmSyntax),
    /// Verhoeff (dihedral group D5) over positions ending with the check.
    Verhoeff(AlgorithmSyntax),
    /// Damm (quasigroup of order 10) over positions ending with the check.
    Damm(AlgorithmSyntax),
    /// ISO 7064 pure systems over positions ending with the check
    /// character(s).
    Iso7064(Iso7064Syntax),
    /// Letters as numbers (A=10 ... Z=35), mod 97 (IBAN-style).
    Mod97(Mod97Syntax),
    /// A date written at a position, with its century rules.
    Date(DateSyntax),
    /// A field's value must be in (or not in) a list, ranges or a table
    /// file.
    Field(FieldSyntax),
    /// Values the whole number (or a field) must not be.
    Forbid(ForbidSyntax),
    /// How often characters repeat (German Steuer-IdNr: one digit two or
    /// three times in the first ten, the others once).
    Repeats(RepeatsSyntax),
    /// Passes when any one of the lists of checks passes.
    AnyOf(AnyOfSyntax),
    /// The value fits one of these patterns (the syntax of `validate.shape`),
    /// as a check among the others (IBAN: one pattern per country).
    Shape(ShapeSyntax),
}

/// `shape` as a check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapeSyntax {
    #[serde(default)]
    pub name: Option<String>,
    pub patterns: Vec<String>,
}

/// `weighted`: see docs/rules.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedSyntax {
    #[serde(default)]
    pub name: Option<String>,
    /// Positions summed; default: every position before `check` (or the
    /// whole value with `expect`).
    #[serde(default)]
    pub over: Option<OneOrMany<Scalar>>,
    /// Weights, cycled when shorter than `over`; may be negative.
    pub weights: Vec<i64>,
    /// `left` (default): the first weight goes with the first position of
    /// `over`; `right`: with the last.
    #[serde(default)]
    pub weights_from: Option<String>,
    /// Used instead of `weights` when the first remainder is 10 (Estonian
    /// and Lithuanian personal codes).
    #[serde(default)]
    pub second_weights: Option<Vec<i64>>,
    /// Each product adds the sum of its decimal digits (Luhn style).
    #[serde(default)]
    pub digit_sum: bool,
    /// Name of a table of `validate.values`, or a list cycled over the
    /// positions; default: digits 0-9, letters A=10 ... Z=35.
    #[serde(default)]
    pub values: Option<OneOrMany<String>>,
    pub modulus: i64,
    /// How the remainder `r` becomes the check value: `r`, `K - r`,
    /// `r mod M`, `(K - r) mod M`. Default `r`.
    #[serde(default)]
    pub value: Option<String>,
    /// Check value -> check character (`10: X`, `11: 0`, `10: reject`).
    #[serde(default)]
    pub map: Option<std::collections::BTreeMap<i64, Scalar>>,
    /// Check value v is written as the v-th character of this string.
    #[serde(default)]
    pub alphabet: Option<String>,
    /// Position (or positions, read as a decimal number) of the check.
    #[serde(default)]
    pub check: Option<Scalar>,
    /// Without `check`: the remainder the sum must leave (BSN: 0).
    #[serde(default)]
    pub expect: Option<i64>,
    /// Only for values of these lengths.
    #[serde(default)]
    pub when_length: Option<OneOrMany<u32>>,
}

/// `number`: see docs/rules.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberSyntax {
    #[serde(default)]
    pub name: Option<String>,
    /// Positions read as a decimal number; default: every position before
    /// `check`.
    #[serde(default)]
    pub over: Option<OneOrMany<Scalar>>,
    /// Digits put before the number first (`"2"` for Belgians born in 2000
    /// and later).
    #[serde(default)]
    pub prefix: Option<String>,
    pub modulus: i64,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub map: Option<std::collections::BTreeMap<i64, Scalar>>,
    #[serde(default)]
    pub alphabet: Option<String>,
    #[serde(default)]
    pub check: Option<Scalar>,
    #[serde(default)]
    pub expect: Option<i64>,
    #[serde(default)]
    pub when_length: Option<OneOrMany<u32>>,
}

/// `luhn`, `verhoeff`, `damm`: the positions, the last of which is the
/// check digit; default the whole value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlgorithmSyntax {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub over: Option<OneOrMany<Scalar>>,
    #[serde(default)]
    pub when_length: Option<OneOrMany<u32>>,
}

/// `iso7064`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Iso7064Syntax {
    #[serde(default)]
    pub name: Option<String>,
    /// `mod11_2`, `mod11_10`, `mod37_2`, `mod37_36`, `mod97_10`.
    pub algorithm: String,
    #[serde(default)]
    pub over: Option<OneOrMany<Scalar>>,
    #[serde(default)]
    pub when_length: Option<OneOrMany<u32>>,
}

/// `mod97`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mod97Syntax {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub over: Option<OneOrMany<Scalar>>,
    /// Characters moved from the front to the end first (4 for IBAN).
    #[serde(default)]
    pub rotate: Option<u32>,
    /// The remainder required; default 1.
    #[serde(default)]
    pub expect: Option<i64>,
    #[serde(default)]
    pub when_length: Option<OneOrMany<u32>>,
}

/// `date`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateSyntax {
    #[serde(default)]
    pub name: Option<String>,
    /// First position of the date.
    pub at: i64,
    /// `YYMMDD`, `DDMMYY`, `YYYYMMDD`, `DDMMYYYY` ...: the tokens `YYYY`,
    /// `YY`, `MM`, `DD` in any order, contiguous.
    pub format: String,
    /// With `YY`: a fixed century (`1900`), `past` (the latest century
    /// that does not put the date after today) or `{pivot: 1920}` (years
    /// 1920-2019).
    #[serde(default)]
    pub century: Option<CenturyRuleSyntax>,
    /// With `YY`: the century from other characters.
    #[serde(default)]
    pub century_from: Option<CenturyFromSyntax>,
    /// Month offsets: a map offset -> century (PESEL) or a list of
    /// accepted offsets (Czech +20, +50, +70).
    #[serde(default)]
    pub month_offsets: Option<OffsetsSyntax>,
    /// Accepted day offsets (Norwegian D-numbers +40, Swedish +60).
    #[serde(default)]
    pub day_offsets: Option<Vec<i64>>,
    /// Months written as letters: the i-th letter is month i+1 (Italian
    /// `ABCDEHLMPRST`).
    #[serde(default)]
    pub month_letters: Option<String>,
    /// Earliest year accepted.
    #[serde(default)]
    pub earliest: Option<i64>,
    /// Latest year accepted, or `today`: the date must not be after today.
    #[serde(default)]
    pub latest: Option<Scalar>,
    /// The name of a `validate.values` table through which the digits of
    /// the year, month and day are read (Italian omocodia: `L`-`V` for
    /// 0-9). Default: only the digits 0-9.
    #[serde(default)]
    pub digit_values: Option<String>,
    #[serde(default)]
    pub when_length: Option<OneOrMany<u32>>,
}

/// `date.century`: a fixed century, `past`, or a pivot year.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CenturyRuleSyntax {
    /// `1900` or `past`.
    Scalar(Scalar),
    /// `{pivot: 1920}`.
    Pivot(PivotSyntax),
}

/// `date.century: {pivot: YEAR}`: a two-digit year is read into
/// `YEAR ..= YEAR + 99`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PivotSyntax {
    pub pivot: i64,
}

/// `date.century_from`: characters that give the century.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CenturyFromSyntax {
    /// The position(s) read.
    pub at: Scalar,
    /// Character, digits or range of digits -> century, or -> list of
    /// `{years, century}` when the century also depends on the year.
    pub map: std::collections::BTreeMap<String, CenturySyntax>,
}

/// A century, or a list of year ranges each with its century.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CenturySyntax {
    Fixed(i64),
    ByYear(Vec<CenturyByYearSyntax>),
}

/// `{years: "00-36", century: 2000}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CenturyByYearSyntax {
    pub years: String,
    pub century: i64,
}

/// `date.month_offsets`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OffsetsSyntax {
    Centuries(std::collections::BTreeMap<i64, i64>),
    Accepted(Vec<i64>),
}

/// `field`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSyntax {
    #[serde(default)]
    pub name: Option<String>,
    pub at: Scalar,
    /// Accepted values and ranges: `[51, "01-48", "80-83", "X"]`.
    #[serde(rename = "in", default)]
    pub in_: Option<Vec<Scalar>>,
    /// Rejected values and ranges.
    #[serde(default)]
    pub not_in: Option<Vec<Scalar>>,
    /// Accepted values from `tables/<NAME>.txt` beside the rule file.
    #[serde(default)]
    pub table: Option<String>,
    /// With `table`: rows may carry `FROM-TO` years, checked against the
    /// year of the rule's `date` check.
    #[serde(default)]
    pub in_use_at_birth: bool,
    #[serde(default)]
    pub when_length: Option<OneOrMany<u32>>,
}

/// `forbid`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForbidSyntax {
    #[serde(default)]
    pub name: Option<String>,
    /// Default: the whole value.
    #[serde(default)]
    pub at: Option<Scalar>,
    /// Every character the same (`1111111111`).
    #[serde(default)]
    pub all_equal: bool,
    /// A value that reads the same backwards (`234565432`).
    #[serde(default)]
    pub palindrome: bool,
    /// Values and ranges: `["078051120", "900000000-999999999"]`.
    #[serde(default)]
    pub values: Vec<Scalar>,
    #[serde(default)]
    pub when_length: Option<OneOrMany<u32>>,
}

/// `repeats`: exactly `repeated` distinct characters of `over` occur more
/// than once, each of them a number of times listed in `times`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatsSyntax {
    #[serde(default)]
    pub name: Option<String>,
    /// Positions counted; default: the whole value.
    #[serde(default)]
    pub over: Option<OneOrMany<Scalar>>,
    /// How many distinct characters occur more than once.
    pub repeated: i64,
    /// How often each of them may occur (each at least 2).
    pub times: OneOrMany<i64>,
    #[serde(default)]
    pub when_length: Option<OneOrMany<u32>>,
}

/// `any_of`: a list of alternatives, each a list of checks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnyOfSyntax {
    #[serde(default)]
    pub name: Option<String>,
    pub alternatives: Vec<Vec<CheckSyntax>>,
}

/// The payment card validator: an IIN table and Luhn.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardSyntax {
    /// Brands in order; the first whose prefix and length match wins.
    pub brands: Vec<BrandSyntax>,
    /// Findings take the kind of their brand (`card_visa` ...) instead of
    /// the rule's kind.
    #[serde(default)]
    pub brand_kinds: bool,
    /// Published payment-processor test numbers: reported as test data.
    #[serde(default)]
    pub test_numbers: Vec<String>,
}

/// One card brand.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandSyntax {
    pub kind: String,
    /// IIN prefixes: `"4"`, `"51-55"`, `"622126-622925"`.
    pub prefixes: Vec<PrefixSyntax>,
    pub lengths: Vec<LengthSyntax>,
}

/// A prefix written as a number or a string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PrefixSyntax {
    Number(u64),
    Text(String),
}

/// Context keywords that raise confidence.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSyntax {
    pub keywords: Vec<String>,
    /// Bytes searched before and after the match; default 64.
    #[serde(default)]
    pub window: Option<usize>,
    /// Report only matches with a keyword nearby.
    #[serde(default)]
    pub required: bool,
    /// Scripts whose letters (or digits) near a bare number are weak
    /// evidence for the rule: `arabic` (Persian and Arabic), `cjk`,
    /// `polish`, `romanian`.
    #[serde(default)]
    pub scripts: Vec<String>,
}

/// Negative evidence: signals that lower a validated match to `low`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NegativeContextSyntax {
    /// Built-in neighbourhood signals: `table`, `code`, `structure`.
    #[serde(default)]
    pub signals: Vec<String>,
    /// Words that say the number is something else (`version`, `build`).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Bytes searched before the match for `keywords`; default 32.
    #[serde(default)]
    pub window: Option<usize>,
}

/// Confidence levels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfidenceSyntax {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub with_context: Option<String>,
    #[serde(default)]
    pub bare_without_context: Option<String>,
}
