//! JUnit XML, for CI systems that show test reports (GitLab, Jenkins,
//! Azure DevOps).
//!
//! One test suite, `leakhound`; one test case per file with findings (a
//! failure when any finding is at or above `--fail-on`, listing the masked
//! values and places), one per file not fully scanned (an error, with the
//! reason), and one passing `scan` case when there is nothing to say, so a
//! clean run still shows as a passing test. Written at the end.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::Sink;
use super::event::{Envelope, Event, FileEvent, FileStatus, FindingEvent, SummaryEvent};
use crate::rules::Severity;

/// Writes a JUnit report.
pub struct Junit<W: Write> {
    out: W,
    fail_on: Option<Severity>,
    /// Files with findings, in the order they came.
    files: Vec<(String, Vec<FindingEvent>)>,
    problems: Vec<FileEvent>,
    summary: Option<SummaryEvent>,
}

impl<W: Write> Junit<W> {
    /// `fail_on`: findings at or above it are failures (`None`: none are).
    pub fn new(out: W, fail_on: Option<Severity>) -> Self {
        Junit {
            out,
            fail_on,
            files: Vec::new(),
            problems: Vec::new(),
            summary: None,
        }
    }
}

/// Escapes text for XML attributes and content; drops characters XML 1.0
/// cannot hold.
pub fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if (c as u32) < 0x20 => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

fn place(f: &FindingEvent) -> String {
    let mut p = match (f.location, f.line, f.column) {
        (crate::report::event::Location::Name, _, _) => "name".to_string(),
        (_, Some(l), Some(c)) => format!("{l}:{c}"),
        _ => format!("byte {}", f.offset),
    };
    if let Some(d) = &f.data_location {
        if let Some(r) = d.row {
            p.push_str(&format!(" row {r}"));
        }
        if let Some(c) = &d.column_name {
            p.push_str(&format!(" column {c}"));
        }
        if let Some(j) = &d.json_path {
            p.push_str(&format!(" {j}"));
        }
    }
    p
}

impl<W: Write> Sink for Junit<W> {
    fn event(&mut self, _env: &Envelope, ev: &Event) -> io::Result<()> {
        match ev {
            Event::Finding(f) => {
                let loc = match &f.member {
                    Some(m) => format!("{}!{m}", f.path),
                    None => f.path.clone(),
                };
                match self.files.last_mut() {
                    Some((l, v)) if *l == loc => v.push(f.clone()),
                    _ => self.files.push((loc, vec![f.clone()])),
                }
            }
            Event::File(f) if matches!(f.status, FileStatus::Partial | FileStatus::Error) => {
                self.problems.push(f.clone())
            }
            Event::File(_) => {}
            Event::Summary(s) => self.summary = Some(s.clone()),
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let mut cases = String::new();
        let (mut failures, mut errors, mut tests) = (0, 0, 0);
        for (loc, findings) in &self.files {
            tests += 1;
            let failing = findings
                .iter()
                .filter(|f| self.fail_on.is_some_and(|t| f.severity >= t))
                .count();
            let mut body = String::new();
            for f in findings {
                let _ = writeln!(
                    body,
                    "{}  {:<6}  {}  {}  {}{}",
                    place(f),
                    f.severity.as_str(),
                    f.kind,
                    f.masked,
                    f.rule,
                    if f.test_data { "  test data" } else { "" }
                );
            }
            let _ = writeln!(
                cases,
                "    <testcase classname=\"leakhound.findings\" name=\"{}\" file=\"{}\">",
                xml_escape(loc),
                xml_escape(loc)
            );
            if failing > 0 {
                failures += 1;
                let _ = writeln!(
                    cases,
                    "      <failure type=\"findings\" message=\"{} findings at or above the failing severity ({} in all)\">{}</failure>",
                    failing,
                    findings.len(),
                    xml_escape(&body)
                );
            } else {
                let _ = writeln!(
                    cases,
                    "      <system-out>{}</system-out>",
                    xml_escape(&body)
                );
            }
            cases.push_str("    </testcase>\n");
        }
        for p in &self.problems {
            tests += 1;
            errors += 1;
            let loc = match &p.member {
                Some(m) => format!("{}!{m}", p.path),
                None => p.path.clone(),
            };
            let reason = p.reason.as_deref().unwrap_or("");
            let _ = write!(
                cases,
                "    <testcase classname=\"leakhound.coverage\" name=\"{}\" file=\"{}\">\n      <error type=\"{}\" message=\"{}\"/>\n    </testcase>\n",
                xml_escape(&loc),
                xml_escape(&p.path),
                p.status.as_str(),
                xml_escape(&format!("not fully scanned: {reason}"))
            );
        }
        if tests == 0 {
            tests = 1;
            let files = self.summary.as_ref().map_or(0, |s| s.files.scanned);
            let _ = write!(
                cases,
                "    <testcase classname=\"leakhound\" name=\"scan\">\n      <system-out>{files} files scanned, no findings</system-out>\n    </testcase>\n"
            );
        }
        let secs = self
            .summary
            .as_ref()
            .map_or(0.0, |s| s.duration_ms as f64 / 1000.0);
        write!(
            self.out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"leakhound\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{secs:.3}\">\n  <testsuite name=\"leakhound\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{secs:.3}\">\n{cases}  </testsuite>\n</testsuites>\n"
        )?;
        self.out.flush()
    }
}
