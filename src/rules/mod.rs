//! Detection rules: the YAML rule pack, loaded and checked.
//!
//! Rules are data, not code. `syntax` reads the files as written, `compile`
//! checks every value and turns them into [`Rule`]s; `leakhound rules check`
//! (`cli/rules_check.rs`, beside the command, because it runs the engine
//! and `rules` sits below `engine`) runs each rule's `examples` and
//! `negative_examples` through the real engine. The
//! shipped pack under `rules/` is compiled into the binary; `--rules DIR`
//! replaces it.

mod compile;
pub mod program;
pub mod syntax;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use compile::{compile_sources, compile_sources_in};
pub use program::{Failure, Program, Reason, TableSource};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    /// Parses `low`, `medium` or `high`.
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure we are that a match is what the rule says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    /// Parses `low`, `medium` or `high`.
    pub fn parse(s: &str) -> Option<Confidence> {
        match s {
            "low" => Some(Confidence::Low),
            "medium" => Some(Confidence::Medium),
            "high" => Some(Confidence::High),
            _ => None,
        }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Separator bits used by [`DigitShape::separators`].
pub const SEP_SPACE: u8 = 1;
/// `-`
pub const SEP_DASH: u8 = 2;
/// `.`
pub const SEP_DOT: u8 = 4;

/// The separator bit of a byte, or 0.
pub fn separator_bit(b: u8) -> u8 {
    match b {
        b' ' => SEP_SPACE,
        b'-' => SEP_DASH,
        b'.' => SEP_DOT,
        _ => 0,
    }
}

/// Built-in candidate shape: bare digits or digit groups.
#[derive(Debug, Clone)]
pub struct DigitShape {
    /// Bit `n` set: a bare run of `n` digits is a candidate.
    pub bare_lengths: u32,
    /// Accepted group shapes (digits per group).
    pub groups: Vec<Vec<u8>>,
    /// Accepted separators, as `SEP_*` bits.
    pub separators: u8,
    /// A check character that may end a bare number.
    pub check_char: Option<u8>,
}

/// A user regex.
#[derive(Debug, Clone)]
pub struct RegexMatcher {
    pub regex: regex::bytes::Regex,
    pub group: usize,
    pub max_length: usize,
    /// Characters besides letters and digits kept in the value.
    pub keep: Vec<u8>,
}

/// How a rule finds candidates.
#[derive(Debug, Clone)]
pub enum Matcher {
    Digits(DigitShape),
    Iban,
    Track1,
    Track2,
    Regex(RegexMatcher),
}

/// One card brand of the IIN table.
#[derive(Debug, Clone)]
pub struct Brand {
    pub kind: String,
    /// Inclusive prefix ranges, each with its number of digits.
    pub prefixes: Vec<PrefixRange>,
    /// Bit `n` set: `n` digits long.
    pub lengths: u32,
}

/// `lo..=hi` over the first `digits` digits of a number.
#[derive(Debug, Clone, Copy)]
pub struct PrefixRange {
    pub lo: u64,
    pub hi: u64,
    pub digits: u8,
}

impl PrefixRange {
    /// True when the leading digits of `value` fall in the range.
    pub fn contains(&self, value: &[u8]) -> bool {
        let n = self.digits as usize;
        if value.len() < n {
            return false;
        }
        let mut p = 0u64;
        for &b in &value[..n] {
            if !b.is_ascii_digit() {
                return false;
            }
            p = p * 10 + (b - b'0') as u64;
        }
        self.lo <= p && p <= self.hi
    }
}

/// The payment card validator's table.
#[derive(Debug, Clone)]
pub struct CardTable {
    pub brands: Vec<Brand>,
    pub brand_kinds: bool,
    pub test_numbers: HashSet<Vec<u8>>,
}

impl CardTable {
    /// The brand of a digit string by prefix and length (first match wins),
    /// without the Luhn check.
    pub fn brand(&self, digits: &[u8]) -> Option<&Brand> {
        let len_bit = 1u32.checked_shl(digits.len() as u32).unwrap_or(0);
        self.brands
            .iter()
            .find(|b| b.lengths & len_bit != 0 && b.prefixes.iter().any(|p| p.contains(digits)))
    }
}

/// The check a candidate must pass.
#[derive(Debug, Clone)]
pub enum Validator {
    /// No check beyond the match itself (user regex rules only).
    None,
    Luhn,
    Card(CardTable),
    UsSsn,
    PlPesel,
    RoCnp,
    CnRic,
    IrMelli,
    Iban,
    /// The checksum language: a compiled program of checks.
    Checks(Box<Program>),
}

impl Validator {
    /// Whether a compact value (ASCII digits, upper-case letters) passes
    /// the check, as the engine asks it of every candidate; for `card`, the
    /// value is the card number (Luhn and a brand of the table).
    pub fn accepts(&self, compact: &[u8]) -> bool {
        use crate::validate;
        match self {
            Validator::None => true,
            Validator::Luhn => validate::luhn(compact),
            Validator::Card(t) => validate::luhn(compact) && t.brand(compact).is_some(),
            Validator::UsSsn => validate::us_ssn(compact).is_ok(),
            Validator::PlPesel => validate::pl_pesel(compact).is_ok(),
            Validator::RoCnp => validate::ro_cnp(compact).is_ok(),
            Validator::CnRic => validate::cn_ric(compact).is_ok(),
            Validator::IrMelli => validate::ir_melli(compact).is_ok(),
            Validator::Iban => validate::iban(compact).is_ok(),
            Validator::Checks(p) => p.accepts(compact),
        }
    }

    /// The name used in rule files.
    pub fn name(&self) -> &'static str {
        match self {
            Validator::None => "none",
            Validator::Luhn => "luhn",
            Validator::Card(_) => "card",
            Validator::UsSsn => "us_ssn",
            Validator::PlPesel => "pl_pesel",
            Validator::RoCnp => "ro_cnp",
            Validator::CnRic => "cn_ric",
            Validator::IrMelli => "ir_melli",
            Validator::Iban => "iban",
            Validator::Checks(_) => "checks",
        }
    }
}

/// Context keywords.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub keywords: Vec<String>,
    pub window: usize,
    pub required: bool,
    /// Scripts that are weak evidence for the rule near a bare number.
    pub scripts: Vec<Script>,
}

/// A writing system whose text around a number is weak evidence for the
/// kinds of that language (docs/DESIGN.md, "Evidence").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    /// Arabic letters (Persian and Arabic text) or Persian/Arabic-Indic digits.
    Arabic,
    /// CJK ideographs, or full-width forms.
    Cjk,
    /// The Polish letters with diacritics (ą ć ę ł ń ó ś ź ż).
    Polish,
    /// The Romanian letters with diacritics (ă â î ș ț, and the cedilla forms).
    Romanian,
}

impl Script {
    /// Parses a name used in rule files.
    pub fn parse(s: &str) -> Option<Script> {
        match s {
            "arabic" => Some(Script::Arabic),
            "cjk" => Some(Script::Cjk),
            "polish" => Some(Script::Polish),
            "romanian" => Some(Script::Romanian),
            _ => None,
        }
    }

    /// The name used in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Script::Arabic => "arabic",
            Script::Cjk => "cjk",
            Script::Polish => "polish",
            Script::Romanian => "romanian",
        }
    }
}

/// A neighbourhood signal: evidence that a number that passed its check is
/// something else. Each is documented with its measured effect in
/// docs/DESIGN.md ("Neighbourhood signals").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Among other numbers of the same length, most of which fail the
    /// same check: a table of constants, a list of ids.
    Table,
    /// A literal in source code: an element of a bracketed, comma-separated
    /// list, or a `#define` / `ioctl` line.
    Code,
    /// Part of a bigger structure: joined by `.` or `:` to more digits
    /// (a float, an IP address, a version, a time), or by `-` to an
    /// alphanumeric token (a UUID, a date, a phone number).
    Structure,
    /// One of the rule's `negative_context.keywords` just before it.
    Words,
}

impl Signal {
    /// Parses a name used in rule files (`words` is implied by keywords).
    pub fn parse(s: &str) -> Option<Signal> {
        match s {
            "table" => Some(Signal::Table),
            "code" => Some(Signal::Code),
            "structure" => Some(Signal::Structure),
            _ => None,
        }
    }

    /// The name used in rule files and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Table => "table",
            Signal::Code => "code",
            Signal::Structure => "structure",
            Signal::Words => "words",
        }
    }
}

/// Negative evidence of a rule.
#[derive(Debug, Clone, Default)]
pub struct NegativeContext {
    /// The built-in signals the rule uses.
    pub signals: Vec<Signal>,
    /// Words that mark the number as something else.
    pub keywords: Vec<String>,
    /// Bytes before the match searched for `keywords`.
    pub window: usize,
}

impl NegativeContext {
    /// True when the rule uses `signal`.
    pub fn uses(&self, signal: Signal) -> bool {
        self.signals.contains(&signal)
    }
}

/// Confidence of a validated match.
#[derive(Debug, Clone, Copy)]
pub struct ConfidencePolicy {
    pub default: Confidence,
    pub with_context: Confidence,
    pub bare_without_context: Confidence,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: String,
    pub severity: Severity,
    /// ISO 3166-1 alpha-2, lower case.
    pub country: Option<String>,
    /// The packs the rule is in (`default`, `eu` ...), without the implied
    /// country and `all` (see [`Rule::in_pack`]).
    pub packs: Vec<String>,
    pub matcher: Matcher,
    pub validator: Validator,
    pub context: Context,
    pub confidence: ConfidencePolicy,
    pub negative_context: NegativeContext,
    /// Documented example numbers (compact form): reported as test data.
    pub test_numbers: HashSet<Vec<u8>>,
    pub examples: Vec<String>,
    pub negative_examples: Vec<String>,
    /// Found, but demoted to low by a negative signal.
    pub demoted_examples: Vec<String>,
    /// The file the rule came from.
    pub source: String,
}

/// How much of a value may be shown. A rule's property (its validator or
/// matcher says whether it finds cards); the engine's `SecretValue` applies
/// it (`engine::value` re-exports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskStyle {
    /// Payment cards: at most the first 6 and the last 4 digits.
    Card,
    /// National IDs and IBANs: at most the last 4 characters.
    Last4,
}

impl Rule {
    /// How findings of this rule are masked.
    pub fn mask_style(&self) -> MaskStyle {
        match (&self.matcher, &self.validator) {
            (Matcher::Track1 | Matcher::Track2, _) => MaskStyle::Card,
            (_, Validator::Card(_) | Validator::Luhn) => MaskStyle::Card,
            _ => MaskStyle::Last4,
        }
    }

    /// True when the rule belongs to pack `name`: one of its `packs`, its
    /// country, or `all`.
    pub fn in_pack(&self, name: &str) -> bool {
        name == "all"
            || self.country.as_deref() == Some(name)
            || self.packs.iter().any(|p| p == name)
    }

    /// The kinds this rule can report.
    pub fn kinds(&self) -> Vec<&str> {
        match &self.validator {
            Validator::Card(t) if t.brand_kinds => {
                t.brands.iter().map(|b| b.kind.as_str()).collect()
            }
            _ => vec![self.kind.as_str()],
        }
    }
}

/// A loaded, checked set of rules.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// A short hash of the rule sources: findings say which rules made them.
    pub version: String,
    /// `built-in` or the directory the rules came from.
    pub origin: String,
}

// The shipped rule pack, compiled into the binary: `BUILTIN_RULE_FILES`
// (every `rules/*.yaml`, in name order) and `BUILTIN_TABLE_FILES` (every
// `rules/tables/*.txt`), written by `build.rs`.
include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// A problem with one rule file or rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{file}: cannot read rule file: {message}")]
    Io { file: String, message: String },
    #[error("{file}: not a valid rule file: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: rule `{rule}`: {message}")]
    Invalid {
        file: String,
        rule: String,
        message: String,
    },
    #[error("{dir}: no rule files (*.yaml, *.yml) found")]
    NoRules { dir: String },
    #[error(
        "{files}: no rules in the rule file (its `rules:` list is empty); \
         add at least one rule, or use the built-in rules"
    )]
    EmptyFiles { files: String },
    #[error("{origin}: no rule is in pack `{pack}` (packs: {known}); see `leakhound rules list`")]
    UnknownPack {
        origin: String,
        pack: String,
        known: String,
    },
}

/// All problems found while loading rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleErrors(pub Vec<RuleError>);

impl fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleErrors {}

impl RuleSet {
    /// The built-in rules of the `default` pack: what a scan runs when no
    /// pack is named.
    pub fn builtin() -> Result<RuleSet, RuleErrors> {
        RuleSet::builtin_all()?.select_packs(&[])
    }

    /// Every built-in rule, whatever its packs (`rules check`, and the
    /// set `--rules-pack` selects from).
    pub fn builtin_all() -> Result<RuleSet, RuleErrors> {
        let sources: Vec<(String, String)> = BUILTIN_RULE_FILES
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        compile_sources(&sources, "built-in")
    }

    /// Every `*.yaml` / `*.yml` file in `dir`, in name order; or the one
    /// rule file `dir` names. Tables are read from `tables/` beside them.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RuleErrors> {
        let (files, table_dir) = if dir.is_file() {
            let parent = dir.parent().unwrap_or(Path::new("."));
            (vec![dir.to_path_buf()], parent.to_path_buf())
        } else {
            (
                rule_files(dir).map_err(|e| RuleErrors(vec![e]))?,
                dir.to_path_buf(),
            )
        };
        let mut sources = Vec::new();
        let mut errors = Vec::new();
        for path in files {
            let name = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(text) => sources.push((name, text)),
                Err(e) => errors.push(RuleError::Io {
                    file: name,
                    message: e.to_string(),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(RuleErrors(errors));
        }
        compile_sources_in(
            &sources,
            &dir.display().to_string(),
            &TableSource::Dir(&table_dir),
        )
    }

    /// The rules of the packs named (docs/rules.md, "Rule packs"): those in
    /// at least one of them. `packs` empty means the `default` pack. A pack
    /// no rule belongs to is an error, so a typo cannot scan with nothing.
    pub fn select_packs(self, packs: &[String]) -> Result<RuleSet, RuleErrors> {
        let default = [compile::DEFAULT_PACK.to_string()];
        let chosen: &[String] = if packs.is_empty() { &default } else { packs };
        let mut errors = Vec::new();
        for pack in chosen {
            if !self.rules.iter().any(|r| r.in_pack(pack)) {
                errors.push(RuleError::UnknownPack {
                    origin: self.origin.clone(),
                    pack: pack.clone(),
                    known: self.pack_names().join(", "),
                });
            }
        }
        if !errors.is_empty() {
            return Err(RuleErrors(errors));
        }
        if chosen == default {
            // Every rule of the default pack: nothing to rename.
            let rules = self
                .rules
                .into_iter()
                .filter(|r| r.in_pack(&default[0]))
                .collect();
            return Ok(RuleSet { rules, ..self });
        }
        let rules = self
            .rules
            .into_iter()
            .filter(|r| chosen.iter().any(|p| r.in_pack(p)))
            .collect();
        // Findings say which rules made them: a selection is another set.
        let mut h = Sha256::new();
        h.update(self.version.as_bytes());
        for p in chosen {
            h.update([0]);
            h.update(p.as_bytes());
        }
        let version = h.finalize()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(RuleSet {
            rules,
            version,
            origin: self.origin,
        })
    }

    /// Every pack name some rule is in, sorted (`all` included).
    pub fn pack_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .rules
            .iter()
            .flat_map(|r| r.packs.iter().cloned().chain(r.country.clone()))
            .chain(std::iter::once("all".to_string()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Looks a rule up by id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, RuleError> {
    let entries = std::fs::read_dir(dir).map_err(|e| RuleError::Io {
        file: dir.display().to_string(),
        message: format!("{e} (give a directory of *.yaml rule files)"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml") | Some("yml")
                )
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(RuleError::NoRules {
            dir: dir.display().to_string(),
        });
    }
    Ok(files)
}

/// The version string of a set of sources: a short SHA-256 of names and texts.
pub(crate) fn version_of(sources: &[(String, String)]) -> String {
    // Sorted by base name, so the built-in pack and the same files loaded
    // with `--rules rules/` carry the same version.
    let mut named: Vec<(String, &str)> = sources
        .iter()
        .map(|(name, text)| {
            let base = Path::new(name)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (base, text.as_str())
        })
        .collect();
    named.sort();
    let mut h = Sha256::new();
    for (base, text) in named {
        h.update(base.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    hex
}
