//! The action policy: which action (report, redact, quarantine) applies to
//! which finding, and how redaction and quarantine are done.
//!
//! Read from the `policy` section of `leakhound.yaml`; `leakhound scan
//! --action` overrides the choice of action for a one-off run. Rules are
//! tried in order and the first that matches a finding decides its action;
//! a file gets the strongest action any of its findings asks for
//! (quarantine over redact over report). See `docs/config.md`.

use std::path::PathBuf;

use globset::Glob;
use serde::Deserialize;

use super::Section;
use crate::rules::Severity;

/// Default quarantine store.
pub const DEFAULT_QUARANTINE_DIR: &str = "/var/lib/leakhound/quarantine";

/// What to do with a file that has findings. Ordered: a stronger action
/// compares greater.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// Only report the findings.
    Report,
    /// Rewrite the file with every match masked.
    Redact,
    /// Move the file into the quarantine store.
    Quarantine,
}

impl ActionKind {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Report => "report",
            ActionKind::Redact => "redact",
            ActionKind::Quarantine => "quarantine",
        }
    }
}

/// What to do with a file that should be redacted but cannot be rewritten
/// safely (zip, Office, PDF, binaries, mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fallback {
    Quarantine,
    Report,
}

/// The `policy` section of `leakhound.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Action for findings no rule below matches.
    pub default: ActionKind,
    /// Tried in order; the first that matches a finding decides.
    pub rules: Vec<PolicyRule>,
    /// For files that should be redacted but cannot be.
    pub fallback: Fallback,
    /// Act on files with more than one hard link (redacting one name
    /// rewrites what the others see; quarantining one leaves the others).
    pub allow_hardlinks: bool,
    pub redact: Redact,
    pub quarantine: Quarantine,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            default: ActionKind::Report,
            rules: Vec::new(),
            fallback: Fallback::Quarantine,
            allow_hardlinks: false,
            redact: Redact::default(),
            quarantine: Quarantine::default(),
        }
    }
}

/// One policy rule: every condition given must hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    pub action: ActionKind,
    /// Rule ids (`payment-card`); empty: any rule.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Lowest severity (`low`, `medium`, `high`); absent: any.
    #[serde(default)]
    pub min_severity: Option<String>,
    /// Path globs (`/srv/share/**`, `*.csv`); empty: any path.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// How redaction masks a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedactStyle {
    /// Same length, separators kept: `**** **** **** 1111`.
    Mask,
    /// A token from the fingerprint: `[CARD:ab12cd34]`.
    Token,
    /// A format-preserving, reversible pseudonym (FF1 with the FPE key):
    /// `4111 1824 9013 1111` (`actions::fpe`).
    Fpe,
}

/// `policy.redact`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Redact {
    pub style: RedactStyle,
    /// The character that replaces hidden digits and letters.
    pub mask_char: char,
    /// Characters left visible at the end (at most 4, and never more than
    /// the masked form of the finding shows).
    pub keep_last: usize,
    /// Larger files are not redacted (they are read whole into memory);
    /// the fallback applies.
    pub max_bytes: u64,
    /// The FF1 key of `style: fpe` (32 bytes or 64 hex characters, mode
    /// 600; never the fingerprint key).
    pub fpe_key_file: Option<std::path::PathBuf>,
    /// The age identity file that decrypts `<state_dir>/fpe.key.age`
    /// (`leakhound fpe-key init`), when there is no `fpe_key_file`.
    pub fpe_identity_file: Option<std::path::PathBuf>,
}

impl Default for Redact {
    fn default() -> Self {
        Redact {
            style: RedactStyle::Mask,
            mask_char: '*',
            keep_last: 4,
            max_bytes: 256 << 20,
            fpe_key_file: None,
            fpe_identity_file: None,
        }
    }
}

/// `policy.quarantine`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quarantine {
    /// The store: a directory on this host (mode 0700).
    pub dir: PathBuf,
    /// Leave a short text file at the original path.
    pub tombstone: bool,
    /// Whom to ask, written in the tombstone.
    pub contact: String,
    /// age X25519 recipients (`age1...`): stored copies are encrypted to
    /// them, so this host can lock files away but not read them back.
    pub recipients: Vec<String>,
}

impl Default for Quarantine {
    fn default() -> Self {
        Quarantine {
            dir: PathBuf::from(DEFAULT_QUARANTINE_DIR),
            tombstone: false,
            contact: "your security team".to_string(),
            recipients: Vec::new(),
        }
    }
}

impl Section for Policy {
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            if let Some(s) = &r.min_severity
                && Severity::parse(s).is_none()
            {
                out.push(format!(
                    "policy.rules[{i}].min_severity must be low, medium or high, not {s:?}"
                ));
            }
            for g in &r.paths {
                if let Err(e) = Glob::new(g) {
                    out.push(format!("policy.rules[{i}].paths: {g:?} is not a glob: {e}"));
                }
            }
        }
        let c = self.redact.mask_char;
        if c.is_alphanumeric() || c.is_control() || c.is_whitespace() {
            out.push(format!(
                "policy.redact.mask_char must be a visible character that is not a letter \
                 or digit (it must never form a number), not {c:?}"
            ));
        }
        if self.redact.style == RedactStyle::Fpe
            && self.redact.fpe_key_file.is_none()
            && self.redact.fpe_identity_file.is_none()
        {
            out.push(
                "policy.redact.style fpe needs policy.redact.fpe_key_file (a 32-byte key, mode \
                 600) or policy.redact.fpe_identity_file (for <state_dir>/fpe.key.age)"
                    .to_string(),
            );
        }
        if self.redact.keep_last > 4 {
            out.push("policy.redact.keep_last must be at most 4".to_string());
        }
        for (i, r) in self.quarantine.recipients.iter().enumerate() {
            if r.parse::<age::x25519::Recipient>().is_err() {
                out.push(format!(
                    "policy.quarantine.recipients[{i}] is not an age X25519 recipient (age1...)"
                ));
            }
        }
        if self.quarantine.dir.as_os_str().is_empty() || self.quarantine.dir.is_relative() {
            out.push("policy.quarantine.dir must be an absolute path".to_string());
        }
        out
    }
}

impl Quarantine {
    /// The parsed recipients (checked by `problems`, so bad ones are dropped
    /// only if the config was not checked).
    pub fn age_recipients(&self) -> Vec<age::x25519::Recipient> {
        self.recipients
            .iter()
            .filter_map(|r| r.parse().ok())
            .collect()
    }
}

impl Policy {
    /// The action for one finding: the first matching rule's, else the default.
    pub fn action_for(&self, rule: &str, severity: Severity, path: &str) -> ActionKind {
        for r in &self.rules {
            if !r.rules.is_empty() && !r.rules.iter().any(|x| x == rule) {
                continue;
            }
            if let Some(min) = r.min_severity.as_deref().and_then(Severity::parse)
                && severity < min
            {
                continue;
            }
            if !r.paths.is_empty() && !r.paths.iter().any(|g| glob_matches(g, path)) {
                continue;
            }
            return r.action;
        }
        self.default
    }
}

/// A glob without `/` matches the file name anywhere; with `/`, the whole path.
fn glob_matches(glob: &str, path: &str) -> bool {
    let Ok(g) = Glob::new(glob) else {
        return false;
    };
    let m = g.compile_matcher();
    if glob.contains('/') {
        m.is_match(path)
    } else {
        std::path::Path::new(path)
            .file_name()
            .is_some_and(|n| m.is_match(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, crate::config::ConfigError> {
        Config::parse(std::path::Path::new("t.yaml"), text)
    }

    #[test]
    fn first_matching_rule_decides() {
        let c = parse(
            "policy:\n  default: report\n  rules:\n    - action: quarantine\n      rules: [payment-card]\n      min_severity: high\n    - action: redact\n      paths: ['*.csv']\n",
        )
        .unwrap();
        let p = &c.policy;
        assert_eq!(
            p.action_for("payment-card", Severity::High, "a/b.txt"),
            ActionKind::Quarantine
        );
        assert_eq!(
            p.action_for("payment-card", Severity::Low, "a/b.csv"),
            ActionKind::Redact
        );
        assert_eq!(
            p.action_for("us-ssn", Severity::High, "a/b.txt"),
            ActionKind::Report
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = parse(
            "policy:\n  rules:\n    - action: redact\n      min_severity: huge\n  redact:\n    mask_char: '7'\n    keep_last: 9\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("policy.rules[0].min_severity"), "{err}");
        assert!(err.contains("policy.redact.mask_char"), "{err}");
        assert!(err.contains("policy.redact.keep_last"), "{err}");
        let err = parse("policy:\n  default: shred\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("t.yaml:2"), "{err}");
    }
}
