//! `.leakhound.yaml`: a project's own settings for the CI gate.
//!
//! Distinct from the system `leakhound.yaml` ([`crate::config`]), which is
//! an operator's and holds daemon actions; this one is committed with the
//! code and only ever narrows what is reported. It is found from the scan
//! root upward. It may allow findings by keyed fingerprint, never by
//! number: a value that is not a 32-digit hex fingerprint is refused, and
//! the error does not repeat it.
//!
//! ```yaml
//! exclude: ["tests/fixtures/**", "*.min.js"]
//! rules:
//!   packs: [default, eu]
//!   disable: [iban]
//!   severity: { us-ssn: medium }
//! allow:
//!   fingerprints: [6b5d9aca9ac5379c6282600f528ae680]
//!   test_cards: true
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::rules::{RuleSet, Severity};

/// The file name looked for.
pub const FILE_NAME: &str = ".leakhound.yaml";

/// The whole project file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProjectConfig {
    /// Globs of paths not to scan, added to `--exclude`.
    pub exclude: Vec<String>,
    pub rules: RulesSection,
    pub allow: AllowSection,
}

/// `rules:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesSection {
    /// Rule ids whose findings are not reported.
    pub disable: Vec<String>,
    /// Rule id or kind -> severity (`low`, `medium`, `high`).
    pub severity: BTreeMap<String, String>,
    /// The rule packs to use when `--rules-pack` is not given
    /// (docs/rules.md, "Rule packs").
    pub packs: Option<Vec<String>>,
}

/// `allow:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllowSection {
    /// Keyed fingerprints (32 hex digits) of values that may stay.
    pub fingerprints: Vec<String>,
    /// Payment-processor test cards (`4111 1111 1111 1111`) are allowed.
    pub test_cards: bool,
}

/// Why a project file cannot be used. Messages name the file, the line and
/// the key, and never quote a value.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{path}: cannot read: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}{at}: {message} (see docs/ci.md for the keys of {FILE_NAME})")]
    Syntax {
        path: PathBuf,
        at: String,
        message: String,
    },
    #[error("{path}: not usable:{}", problems.iter().map(|p| format!("\n  - {p}")).collect::<String>())]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

/// The project file that applies to `start`: the first `.leakhound.yaml`
/// in `start` or a directory above it.
pub fn find(start: &Path) -> Option<PathBuf> {
    let abs = std::fs::canonicalize(start).ok()?;
    let mut dir = if abs.is_dir() {
        abs.as_path()
    } else {
        abs.parent()?
    };
    loop {
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = dir.parent()?;
    }
}

impl ProjectConfig {
    /// Reads and checks a project file against the rules in use.
    pub fn load(path: &Path, rules: &RuleSet) -> Result<ProjectConfig, ProjectError> {
        let text = std::fs::read_to_string(path).map_err(|error| ProjectError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        ProjectConfig::parse(path, &text, rules)
    }

    /// Parses and checks project text; `path` only names it in errors.
    pub fn parse(path: &Path, text: &str, rules: &RuleSet) -> Result<ProjectConfig, ProjectError> {
        let blank = text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
        let config: ProjectConfig = if blank {
            ProjectConfig::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| {
                let at = e
                    .location()
                    .map(|l| format!(":{}:{}", l.line(), l.column()))
                    .unwrap_or_default();
                // The parser's message can quote the offending scalar, which
                // could be a number someone pasted: hide digit runs.
                let message = scrub_digits(&without_location(&e.without_snippet().to_string()));
                ProjectError::Syntax {
                    path: path.to_path_buf(),
                    at,
                    message,
                }
            })?
        };
        let problems = config.problems(rules);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ProjectError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
        }
    }

    fn problems(&self, rules: &RuleSet) -> Vec<String> {
        let mut out = Vec::new();
        let known_rule = |id: &str| rules.rules.iter().any(|r| r.id == id);
        for pack in self.rules.packs.iter().flatten() {
            if !rules.rules.iter().any(|r| r.in_pack(pack)) {
                out.push(format!(
                    "rules.packs: no rule is in pack `{}` (packs: {})",
                    crate::report::names::escape_text(pack),
                    rules.pack_names().join(", ")
                ));
            }
        }
        let known_kind = |k: &str| rules.rules.iter().any(|r| r.kinds().contains(&k));
        for id in &self.rules.disable {
            if !known_rule(id) {
                out.push(format!(
                    "rules.disable: no rule `{}` (see `leakhound rules list`)",
                    safe_name(id)
                ));
            }
        }
        for (id, sev) in &self.rules.severity {
            if !known_rule(id) && !known_kind(id) {
                out.push(format!(
                    "rules.severity: no rule or kind `{}` (see `leakhound rules list`)",
                    safe_name(id)
                ));
            }
            if Severity::parse(sev).is_none() {
                out.push(format!(
                    "rules.severity.{}: must be low, medium or high",
                    safe_name(id)
                ));
            }
        }
        for (i, fp) in self.allow.fingerprints.iter().enumerate() {
            if !is_fingerprint(fp) {
                out.push(format!(
                    "allow.fingerprints[{i}]: not a fingerprint (32 hex digits from a report's \
                     `fingerprint` field); never put a raw number here"
                ));
            }
        }
        out
    }

    /// The severity the project gives a finding of `rule` and `kind`, if it
    /// sets one (a kind's setting wins over its rule's).
    pub fn severity_for(&self, rule: &str, kind: &str) -> Option<Severity> {
        self.rules
            .severity
            .get(kind)
            .or_else(|| self.rules.severity.get(rule))
            .and_then(|s| Severity::parse(s))
    }
}

/// A name as it may appear in an error: anything with a run of digits that
/// could be a number we look for is left out.
fn safe_name(s: &str) -> String {
    if crate::locate::risky_name(s) {
        "(a value with digits, not repeated)".to_string()
    } else {
        s.to_string()
    }
}

/// `text` with every run of digits and separators that holds six digits
/// or more replaced by `…`, so an error message cannot carry a number.
pub fn scrub_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().filter(|c| c.is_numeric()).count() >= 6 {
            out.push('…');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_numeric() || (!run.is_empty() && " -.".contains(c)) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// 32 lower- or upper-case hex digits.
pub fn is_fingerprint(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A parser message without its trailing "at line L, column C".
fn without_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ProjectConfig, ProjectError> {
        ProjectConfig::parse(
            Path::new(".leakhound.yaml"),
            text,
            &RuleSet::builtin().unwrap(),
        )
    }

    #[test]
    fn a_full_file_parses() {
        let c = parse(
            "exclude: [\"fixtures/**\"]\nrules:\n  disable: [iban]\n  severity: {us-ssn: medium, card_amex: low}\nallow:\n  fingerprints: [6b5d9aca9ac5379c6282600f528ae680]\n  test_cards: true\n",
        )
        .unwrap();
        assert_eq!(c.exclude, ["fixtures/**"]);
        assert_eq!(c.severity_for("us-ssn", "us_ssn"), Some(Severity::Medium));
        assert_eq!(
            c.severity_for("payment-card", "card_amex"),
            Some(Severity::Low)
        );
        assert_eq!(c.severity_for("payment-card", "card_visa"), None);
        assert!(c.allow.test_cards);
    }

    #[test]
    fn a_raw_number_as_fingerprint_is_refused_without_repeating_it() {
        let err = parse("allow:\n  fingerprints: [\"4526018159083012\"]\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("allow.fingerprints[0]"), "{text}");
        assert!(!text.contains("4526018159083012"), "{text}");
    }

    #[test]
    fn unknown_rules_and_keys_are_named() {
        let text = parse("rules:\n  disable: [nope]\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("`nope`"), "{text}");
        let text = parse("allow:\n  test_cards: 4526018159083012\n")
            .unwrap_err()
            .to_string();
        assert!(
            !text.contains("4526018159083012") && text.contains(":2:"),
            "{text}"
        );
        let text = parse("exclud: []\n").unwrap_err().to_string();
        assert!(text.contains(":1:"), "{text}");
        let text = parse("rules:\n  severity: {us-ssn: urgent}\n")
            .unwrap_err()
            .to_string();
        assert!(text.contains("low, medium or high"), "{text}");
    }
}
