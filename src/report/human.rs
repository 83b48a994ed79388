//! The human report: findings grouped by file, problems as they happen, and
//! a summary at the end.
//!
//! ```text
//! exports/customers.csv
//!     3:14  high    card_visa         452601******3012  payment-card
//!     9:1   low     card_visa         411111******1111  payment-card  test data
//! exports/locked.csv: error: permission denied
//!
//! 2 findings in 1 file: high 1, low 1 (1 test number)
//!   card_visa 2
//! Scanned 2 files, 1.2 MB in 0.01 s (120 MB/s); 1 not fully scanned (1 error)
//! Fingerprints: local key /root/.local/state/leakhound/fingerprint.key
//! ```

use std::io::{self, Write};

use anstyle::{AnsiColor, Effects, Style};

use super::Sink;
use super::event::{Envelope, Event, FileEvent, FileStatus, FindingEvent, SummaryEvent};
use crate::rules::Severity;

/// Writes the human report.
pub struct Human<W: Write> {
    out: W,
    color: bool,
    verbose: bool,
    /// The file whose findings were printed last (to print headers once).
    current: Option<String>,
    key_note: String,
}

const PATH: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Magenta)))
    .effects(Effects::BOLD);
const HIGH: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)))
    .effects(Effects::BOLD);
const MEDIUM: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
const LOW: Style = Style::new().effects(Effects::DIMMED);
const WARN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
const BOLD: Style = Style::new().effects(Effects::BOLD);

impl<W: Write> Human<W> {
    /// `color`: write ANSI colours. `verbose`: also list fully scanned files.
    /// `key_note`: how fingerprints were keyed, for the summary.
    pub fn new(out: W, color: bool, verbose: bool, key_note: String) -> Self {
        Human {
            out,
            color,
            verbose,
            current: None,
            key_note,
        }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }

    fn location(path: &str, member: &Option<String>) -> String {
        match member {
            Some(m) => format!("{path}!{m}"),
            None => path.to_string(),
        }
    }

    fn finding(&mut self, f: &FindingEvent) -> io::Result<()> {
        let loc = Self::location(&f.path, &f.member);
        if self.current.as_deref() != Some(loc.as_str()) {
            writeln!(self.out, "{}", self.paint(PATH, &loc))?;
            self.current = Some(loc);
        }
        let place = match (f.line, f.column) {
            (Some(l), Some(c)) => format!("{l}:{c}"),
            _ => format!("@{}", f.offset),
        };
        let sev_style = match f.severity {
            Severity::High => HIGH,
            Severity::Medium => MEDIUM,
            Severity::Low => LOW,
        };
        let sev = self.paint(sev_style, &format!("{:<6}", f.severity.as_str()));
        let note = if f.test_data { "  test data" } else { "" };
        writeln!(
            self.out,
            "  {place:>9}  {sev}  {:<16}  {:<34}  {}{note}",
            f.kind, f.masked, f.rule
        )
    }

    fn file(&mut self, f: &FileEvent) -> io::Result<()> {
        if f.status == FileStatus::Scanned && !self.verbose {
            return Ok(());
        }
        let loc = Self::location(&f.path, &f.member);
        let reason = f.reason.as_deref().unwrap_or("");
        let line = match f.status {
            FileStatus::Scanned => format!(
                "{loc}: scanned, {} bytes{}",
                f.bytes,
                f.encoding
                    .as_deref()
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default()
            ),
            s => format!("{loc}: {}: {reason}", s.as_str()),
        };
        let style = if f.status == FileStatus::Scanned {
            LOW
        } else {
            WARN
        };
        writeln!(self.out, "{}", self.paint(style, &line))?;
        self.current = None;
        Ok(())
    }

    fn summary(&mut self, s: &SummaryEvent) -> io::Result<()> {
        writeln!(self.out)?;
        if s.findings == 0 {
            writeln!(self.out, "{}", self.paint(BOLD, "No findings."))?;
        } else {
            let mut sev: Vec<String> = Vec::new();
            for name in ["high", "medium", "low"] {
                if let Some(n) = s.findings_by_severity.get(name) {
                    sev.push(format!("{name} {n}"));
                }
            }
            let test = if s.test_data_findings > 0 {
                format!(
                    " (including {} published test numbers)",
                    s.test_data_findings
                )
            } else {
                String::new()
            };
            let head = format!("{} findings: {}{test}", s.findings, sev.join(", "));
            writeln!(self.out, "{}", self.paint(BOLD, &head))?;
            let kinds: Vec<String> = s
                .findings_by_kind
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            writeln!(self.out, "  {}", kinds.join(", "))?;
        }
        let secs = s.duration_ms as f64 / 1000.0;
        let mut line = format!(
            "Scanned {} files, {} in {secs:.2} s ({}/s)",
            s.files.scanned + s.files.partial,
            human_bytes(s.bytes),
            human_bytes(s.bytes_per_second)
        );
        let incomplete = s.files.incomplete();
        if incomplete > 0 {
            line.push_str(&format!(
                "; {incomplete} not fully scanned ({} partial, {} error)",
                s.files.partial, s.files.error
            ));
        }
        if s.files.skipped > 0 {
            line.push_str(&format!("; {} skipped", s.files.skipped));
        }
        if s.excluded > 0 {
            line.push_str(&format!("; {} excluded", s.excluded));
        }
        writeln!(self.out, "{line}")?;
        if incomplete > 0 {
            let warn = "Some files were not fully scanned (listed above): this report does not cover them.";
            writeln!(self.out, "{}", self.paint(WARN, warn))?;
        }
        writeln!(self.out, "Fingerprints: {}", self.key_note)
    }
}

impl<W: Write> Sink for Human<W> {
    fn event(&mut self, _env: &Envelope, ev: &Event) -> io::Result<()> {
        match ev {
            Event::Finding(f) => self.finding(f),
            Event::File(f) => self.file(f),
            Event::Summary(s) => self.summary(s),
            // The start of a scan and the daemon's own events are for logs.
            _ => Ok(()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `1.2 MB`, `340 kB`, `12 B` (decimal units).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_well() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1_234_567), "1.2 MB");
        assert_eq!(human_bytes(3_400_000_000), "3.4 GB");
    }
}
