//! The counts of reported findings: one type for the facts the summary
//! states and the gate decides on.
//!
//! A scan counts its findings once, after the project policy
//! (`project::filter::Stage`, which owns the scan's [`FindingCounts`]):
//! what the policy suppressed, and published test numbers it does not list,
//! are not in it. The exit gate (`--fail-on`) asks it
//! ([`FindingCounts::reaches`]) and the summary event is written from it
//! ([`FindingCounts::fill`]), so every output that reads the summary (the
//! human summary line, JSON, SARIF, JUnit, the SIEM formats, the HTML
//! report) states what the gate decided on. The HTML report, reading a
//! stream of events that lost its summary, counts them into the same type.
//!
//! Counted elsewhere, because they count something else: files by status
//! ([`super::event::FileCounts`], the pipeline's), the proof's per-file
//! entries (their sum is what `proof verify` checks), and the daemon's
//! lifetime counter of findings sent to its sinks (`watch::status::Stats`,
//! across re-scans, with no project policy).

use std::collections::BTreeMap;

use super::event::{FindingEvent, SummaryEvent};
use crate::rules::Severity;

/// Findings reported, after the project policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingCounts {
    pub findings: u64,
    /// Findings by kind (`payment_card`, `us_ssn` ...).
    pub by_kind: BTreeMap<String, u64>,
    /// Findings by severity, by its name (`high`, `medium`, `low`).
    pub by_severity: BTreeMap<String, u64>,
    /// Published test numbers among `findings` (listed: `--show-test-data`
    /// or `--min-confidence low`).
    pub test_data: u64,
    /// Highest severity counted; `None` when nothing was.
    pub max_severity: Option<Severity>,
}

impl FindingCounts {
    /// Counts one reported finding.
    pub fn add(&mut self, f: &FindingEvent) {
        self.count(&f.kind, f.severity.as_str(), Some(f.severity), f.test_data);
    }

    /// Counts one finding as an event stream names it (the HTML report
    /// reads events written by any version: a severity it does not know is
    /// counted by its name and left out of [`Self::max_severity`]).
    pub fn add_named(&mut self, kind: &str, severity: &str, test_data: bool) {
        self.count(kind, severity, Severity::parse(severity), test_data);
    }

    fn count(&mut self, kind: &str, severity_name: &str, severity: Option<Severity>, test: bool) {
        self.findings += 1;
        *self.by_kind.entry(kind.to_string()).or_default() += 1;
        *self
            .by_severity
            .entry(severity_name.to_string())
            .or_default() += 1;
        if test {
            self.test_data += 1;
        }
        self.max_severity = self.max_severity.max(severity);
    }

    /// True when a finding of `threshold` or higher was counted: the
    /// `--fail-on` gate.
    pub fn reaches(&self, threshold: Severity) -> bool {
        self.findings > 0 && self.max_severity.is_some_and(|s| s >= threshold)
    }

    /// Writes the counts into the summary event (`findings`,
    /// `findings_by_kind`, `findings_by_severity`, `test_data_findings`):
    /// the only place they are copied.
    pub fn fill(&self, s: &mut SummaryEvent) {
        s.findings = self.findings;
        s.findings_by_kind = self.by_kind.clone();
        s.findings_by_severity = self.by_severity.clone();
        s.test_data_findings = self.test_data;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::event::Location;
    use crate::rules::Confidence;

    fn finding(kind: &str, severity: Severity, test_data: bool) -> FindingEvent {
        FindingEvent {
            rule: kind.into(),
            kind: kind.into(),
            severity,
            confidence: Confidence::High,
            path: "a.txt".into(),
            member: None,
            offset: 0,
            length: 16,
            line: Some(1),
            column: Some(1),
            masked: "452601******3012".into(),
            fingerprint: "00".into(),
            test_data,
            data_location: None,
            location: Location::Content,
        }
    }

    #[test]
    fn add_and_add_named_count_the_same() {
        let mut typed = FindingCounts::default();
        let mut named = FindingCounts::default();
        for (kind, sev, test) in [
            ("payment_card", Severity::High, true),
            ("us_ssn", Severity::Medium, false),
            ("us_ssn", Severity::Low, false),
        ] {
            typed.add(&finding(kind, sev, test));
            named.add_named(kind, sev.as_str(), test);
        }
        assert_eq!(typed, named);
        assert_eq!(typed.findings, 3);
        assert_eq!(typed.by_kind["us_ssn"], 2);
        assert_eq!(typed.by_severity["high"], 1);
        assert_eq!(typed.test_data, 1);
        assert_eq!(typed.max_severity, Some(Severity::High));
    }

    #[test]
    fn an_unknown_severity_is_counted_by_name_but_fails_nothing() {
        let mut c = FindingCounts::default();
        c.add_named("x", "catastrophic", false);
        assert_eq!(c.findings, 1);
        assert_eq!(c.by_severity["catastrophic"], 1);
        assert_eq!(c.max_severity, None);
        assert!(!c.reaches(Severity::Low));
    }

    #[test]
    fn reaches_is_the_threshold_on_the_highest_severity() {
        let mut c = FindingCounts::default();
        assert!(!c.reaches(Severity::Low), "nothing counted fails nothing");
        c.add(&finding("us_ssn", Severity::Medium, false));
        assert!(c.reaches(Severity::Low));
        assert!(c.reaches(Severity::Medium));
        assert!(!c.reaches(Severity::High));
    }

    #[test]
    fn fill_writes_every_count_into_the_summary() {
        let mut c = FindingCounts::default();
        c.add(&finding("payment_card", Severity::High, true));
        c.add(&finding("us_ssn", Severity::Medium, false));
        let mut s = SummaryEvent::default();
        c.fill(&mut s);
        assert_eq!(s.findings, 2);
        assert_eq!(s.findings_by_kind, c.by_kind);
        assert_eq!(s.findings_by_severity, c.by_severity);
        assert_eq!(s.test_data_findings, 1);
    }
}
