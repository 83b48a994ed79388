//! Baselines: the findings a project already knows about, so the gate
//! fails only on new ones.
//!
//! An entry is rule + keyed fingerprint + path relative to the scan root;
//! no line or offset, so editing a file does not resurrect what is in it.
//! The file is sorted JSON without timestamps, so it diffs cleanly and two
//! runners make the same file. It records which key made the fingerprints
//! (a check value, not the key): a baseline read with another key cannot
//! match anything, and is refused rather than silently failing every
//! finding.
//!
//! ```json
//! {"version": 1, "fingerprint_key": "env", "key_check": "1f0c...",
//!  "entries": [{"rule": "payment-card", "fingerprint": "6b5d...", "path": "exports/a.csv"}]}
//! ```

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fingerprint::Fingerprinter;
use crate::report::event::{BaselineEntry, BaselineSummary, FindingEvent};

/// Version of the baseline file format.
pub const VERSION: u32 = 1;

/// The default file name.
pub const DEFAULT_FILE: &str = ".leakhound-baseline.json";

/// The baseline file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BaselineFile {
    pub version: u32,
    /// `env`, `file`, `local` or `ephemeral`: where the key came from.
    pub fingerprint_key: String,
    /// A value derived from the key, to tell whether two keys are the same.
    pub key_check: String,
    pub entries: Vec<BaselineEntry>,
}

/// Why a baseline cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{path}: cannot read the baseline: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: not a leakhound baseline: {message}")]
    Format { path: PathBuf, message: String },
    #[error(
        "{path}: the baseline was made with a different fingerprint key, so nothing in it can match; \
         give this run the key it was made with (LEAKHOUND_FINGERPRINT_KEY or --fingerprint-key-file) \
         or make it again with `leakhound baseline create`"
    )]
    KeyMismatch { path: PathBuf },
}

/// The check value of a key: the first 64 bits of the fingerprint of a
/// fixed text that is no number.
pub fn key_check(fp: &Fingerprinter) -> String {
    fp.fingerprint_bytes(b"leakhound baseline key check")[..16].to_string()
}

/// The entry a finding is recorded as; `path` is already relative.
pub fn entry_of(f: &FindingEvent) -> BaselineEntry {
    BaselineEntry {
        rule: f.rule.clone(),
        fingerprint: f.fingerprint.clone(),
        path: location_of(&f.path, f.member.as_deref()),
    }
}

/// `path` or `path!member`.
pub fn location_of(path: &str, member: Option<&str>) -> String {
    match member {
        Some(m) => format!("{path}!{m}"),
        None => path.to_string(),
    }
}

impl BaselineFile {
    /// A baseline of `entries` (sorted, without duplicates).
    pub fn new(fp: &Fingerprinter, entries: BTreeSet<BaselineEntry>) -> BaselineFile {
        BaselineFile {
            version: VERSION,
            fingerprint_key: fp.source().kind().to_string(),
            key_check: key_check(fp),
            entries: entries.into_iter().collect(),
        }
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// A baseline being matched against a scan.
#[derive(Debug)]
pub struct Baseline {
    file: String,
    entries: HashSet<BaselineEntry>,
    matched: HashSet<BaselineEntry>,
    matched_findings: u64,
}

impl Baseline {
    /// Reads a baseline and checks it was made with `fp`'s key.
    pub fn load(path: &Path, fp: &Fingerprinter) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|error| BaselineError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let file: BaselineFile =
            serde_json::from_str(&text).map_err(|e| BaselineError::Format {
                path: path.to_path_buf(),
                message: format!("line {}: {}", e.line(), e.classify_message()),
            })?;
        if file.version != VERSION {
            return Err(BaselineError::Format {
                path: path.to_path_buf(),
                message: format!("version {} (this leakhound reads {VERSION})", file.version),
            });
        }
        if file.key_check != key_check(fp) {
            return Err(BaselineError::KeyMismatch {
                path: path.to_path_buf(),
            });
        }
        Ok(Baseline {
            file: path.to_string_lossy().into_owned(),
            entries: file.entries.into_iter().collect(),
            matched: HashSet::new(),
            matched_findings: 0,
        })
    }

    /// True (and noted) when the baseline holds this finding.
    pub fn covers(&mut self, f: &FindingEvent) -> bool {
        let e = entry_of(f);
        if self.entries.contains(&e) {
            self.matched_findings += 1;
            self.matched.insert(e);
            true
        } else {
            false
        }
    }

    /// The summary. An entry that matched nothing is stale when its file
    /// was fully scanned in this run (`scanned`) or no longer exists under
    /// `root`. Entries for files not looked at (outside `--since`, not
    /// readable) are not judged.
    pub fn summary(&self, scanned: &HashSet<String>, root: &Path) -> BaselineSummary {
        let mut stale: Vec<BaselineEntry> = self
            .entries
            .iter()
            .filter(|e| !self.matched.contains(*e))
            .filter(|e| {
                let file = e.path.split('!').next().unwrap_or(&e.path);
                scanned.contains(&e.path) || std::fs::symlink_metadata(root.join(file)).is_err()
            })
            .cloned()
            .collect();
        stale.sort();
        BaselineSummary {
            file: self.file.clone(),
            entries: self.entries.len() as u64,
            matched: self.matched_findings,
            stale,
        }
    }
}

/// Message-only text of a serde_json error (no input is quoted).
trait ClassifyMessage {
    fn classify_message(&self) -> String;
}

impl ClassifyMessage for serde_json::Error {
    fn classify_message(&self) -> String {
        match self.classify() {
            serde_json::error::Category::Io => "cannot read".to_string(),
            serde_json::error::Category::Syntax => "not valid JSON".to_string(),
            serde_json::error::Category::Data => {
                "unexpected structure (a key or a value of the wrong type)".to_string()
            }
            serde_json::error::Category::Eof => "ends too early".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::KeySource;
    use crate::rules::{Confidence, Severity};

    fn finding(path: &str, fp: &str) -> FindingEvent {
        FindingEvent {
            rule: "payment-card".into(),
            kind: "card_visa".into(),
            severity: Severity::High,
            confidence: Confidence::High,
            path: path.into(),
            member: None,
            offset: 0,
            length: 16,
            line: Some(1),
            column: Some(1),
            masked: "452601******3012".into(),
            fingerprint: fp.into(),
            test_data: false,
            data_location: None,
            location: crate::report::event::Location::Content,
        }
    }

    #[test]
    fn round_trip_match_and_stale() {
        let fp = Fingerprinter::with_key(b"k1", KeySource::Env);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        let entries: BTreeSet<_> = [
            finding("a.csv", "aa"),
            finding("a.csv", "bb"),
            finding("gone.csv", "cc"),
        ]
        .iter()
        .map(entry_of)
        .collect();
        std::fs::write(&path, BaselineFile::new(&fp, entries).to_json()).unwrap();
        let mut b = Baseline::load(&path, &fp).unwrap();
        assert!(b.covers(&finding("a.csv", "aa")));
        assert!(!b.covers(&finding("b.csv", "aa")), "another path is new");
        std::fs::write(dir.path().join("a.csv"), "").unwrap();
        let scanned: HashSet<String> = ["a.csv".to_string()].into();
        let s = b.summary(&scanned, dir.path());
        assert_eq!((s.entries, s.matched), (3, 1));
        let stale: Vec<_> = s
            .stale
            .iter()
            .map(|e| (e.path.as_str(), e.fingerprint.as_str()))
            .collect();
        assert_eq!(stale, [("a.csv", "bb"), ("gone.csv", "cc")]);
        let mut b = Baseline::load(&path, &fp).unwrap();
        std::fs::write(dir.path().join("gone.csv"), "").unwrap();
        assert!(b.covers(&finding("a.csv", "bb")));
        let s = b.summary(&HashSet::new(), dir.path());
        assert!(
            s.stale.is_empty(),
            "files not scanned are not judged: {:?}",
            s.stale
        );

        let other = Fingerprinter::with_key(b"k2", KeySource::Env);
        assert!(matches!(
            Baseline::load(&path, &other),
            Err(BaselineError::KeyMismatch { .. })
        ));
    }
}
