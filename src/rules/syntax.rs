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
