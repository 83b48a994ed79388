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
use super::event::{Envelope, Event, FileEvent, FileStatus, FindingEvent, Location, SummaryEvent};
use super::names::escape_text;
use crate::rules::Severity;

/// Writes the human report.
pub struct Human<W: Write> {
    out: W,
    color: bool,
    verbose: bool,
    /// The file whose findings were printed last (to print headers once).
    current: Option<String>,
    key_note: String,
    /// The current file's findings, held so that a column full of
    /// findings can be summarised in one line.
    pending: Vec<FindingEvent>,
}

/// A CSV column or JSON path with more findings than this in one file is
/// summarised instead of listed.
pub const COLLAPSE_OVER: usize = 20;

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
            pending: Vec::new(),
        }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }

    /// `path!member`, safe for a terminal: names travel escaped already
    /// (`report::names`), and this escapes again whatever a caller did not,
    /// so no control sequence from a file name reaches the terminal.
    fn location(path: &str, member: &Option<String>) -> String {
        match member {
            Some(m) => escape_text(&format!("{path}!{m}")),
            None => escape_text(path),
        }
    }

    fn finding(&mut self, f: &FindingEvent) -> io::Result<()> {
        let loc = Self::location(&f.path, &f.member);
        if self.current.as_deref() != Some(loc.as_str()) {
            self.flush()?;
            writeln!(self.out, "{}", self.paint(PATH, &loc))?;
            self.current = Some(loc);
        }
        self.pending.push(f.clone());
        Ok(())
    }

    /// Prints the held findings of the current file: one line each, except
    /// columns (or JSON paths, indexes aside) with more than
    /// [`COLLAPSE_OVER`] findings, which get one line each.
    fn flush(&mut self) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let mut per_column: std::collections::BTreeMap<String, Vec<&FindingEvent>> =
            Default::default();
        for f in &pending {
            if let Some(key) = column_key(f) {
                per_column.entry(key).or_default().push(f);
            }
        }
        per_column.retain(|_, v| v.len() > COLLAPSE_OVER);
        for f in &pending {
            if column_key(f).is_some_and(|k| per_column.contains_key(&k)) {
                continue;
            }
            self.finding_line(f)?;
        }
        for (column, fs) in per_column {
            let mut kinds: std::collections::BTreeMap<&str, u64> = Default::default();
            let mut worst = Severity::Low;
            for f in &fs {
                *kinds.entry(f.kind.as_str()).or_default() += 1;
                worst = worst.max(f.severity);
            }
            let kinds: Vec<String> = kinds
                .iter()
                .map(|(k, n)| format!("{k} {}", thousands(*n)))
                .collect();
            let rows: Vec<u64> = fs
                .iter()
                .filter_map(|f| f.data_location.as_ref()?.row)
                .collect();
            let span = match (rows.iter().min(), rows.iter().max()) {
                (Some(a), Some(b)) => format!(", rows {}-{}", thousands(*a), thousands(*b)),
                _ => String::new(),
            };
            let sev_style = match worst {
                Severity::High => HIGH,
                Severity::Medium => MEDIUM,
                Severity::Low => LOW,
            };
            let sev = self.paint(sev_style, &format!("{:<6}", worst.as_str()));
            writeln!(
                self.out,
                "  {:>9}  {sev}  {column}: {} findings ({}){span}",
                "",
                thousands(fs.len() as u64),
                kinds.join(", ")
            )?;
        }
        Ok(())
    }

    fn finding_line(&mut self, f: &FindingEvent) -> io::Result<()> {
        let place = match (f.location, f.line, f.column) {
            (Location::Name, _, _) => "name".to_string(),
            (_, Some(l), Some(c)) => format!("{l}:{c}"),
            _ => format!("@{}", f.offset),
        };
        let sev_style = match f.severity {
            Severity::High => HIGH,
            Severity::Medium => MEDIUM,
            Severity::Low => LOW,
        };
        let sev = self.paint(sev_style, &format!("{:<6}", f.severity.as_str()));
        let mut note = String::new();
        if let Some(d) = &f.data_location {
            if let Some(c) = &d.column_name {
                note.push_str(&format!("  column {}", escape_text(c)));
            }
            if let Some(j) = &d.json_path {
                note.push_str(&format!("  {}", escape_text(j)));
            }
        }
        if f.test_data {
            note.push_str("  test data");
        }
        writeln!(
            self.out,
            "  {place:>9}  {sev}  {:<16}  {:<34}  {}{note}",
            f.kind, f.masked, f.rule
        )
    }

    fn file(&mut self, f: &FileEvent) -> io::Result<()> {
        self.flush()?;
        if f.status == FileStatus::Scanned && !self.verbose {
            return Ok(());
        }
        let loc = Self::location(&f.path, &f.member);
        let reason = escape_text(f.reason.as_deref().unwrap_or(""));
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
        self.flush()?;
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
                    " (including {})",
                    counted(
                        s.test_data_findings,
                        "published test number",
                        "published test numbers"
                    )
                )
            } else {
                String::new()
            };
            let head = format!(
                "{}: {}{test}",
                counted(s.findings, "finding", "findings"),
                sev.join(", ")
            );
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
            "Scanned {}, {} in {secs:.2} s ({}/s)",
            counted(s.files.scanned + s.files.partial, "file", "files"),
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
        if s.below_confidence > 0 {
            writeln!(
                self.out,
                "Not listed, below --min-confidence: {} (--min-confidence low lists them)",
                s.below_confidence
            )?;
        }
        if s.test_data_not_listed > 0 {
            writeln!(
                self.out,
                "{} found, not listed: --min-confidence low or --show-test-data lists them",
                counted(
                    s.test_data_not_listed,
                    "published test number",
                    "published test numbers"
                )
            )?;
        }
        let held: u64 = s.suppressed.values().sum();
        if held > 0 {
            let reasons: Vec<String> = s
                .suppressed
                .iter()
                .map(|(r, n)| format!("{r} {n}"))
                .collect();
            writeln!(
                self.out,
                "Not reported, by project policy: {held} ({})",
                reasons.join(", ")
            )?;
        }
        if let Some(b) = &s.baseline {
            writeln!(
                self.out,
                "Baseline {}: {} entries, {} findings matched, {} stale",
                escape_text(&b.file),
                b.entries,
                b.matched,
                b.stale.len()
            )?;
            for e in &b.stale {
                writeln!(
                    self.out,
                    "  stale: {} {} {} (no longer found; run `leakhound baseline create` to prune)",
                    escape_text(&e.path),
                    e.rule,
                    e.fingerprint
                )?;
            }
        }
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
            Event::Action(a) => {
                // The file's findings first: its record, which would print
                // them, is not shown for a fully scanned file.
                self.flush()?;
                let loc = Self::location(&a.path, &a.member);
                let what = if a.dry_run {
                    format!("would be {}", a.action)
                } else {
                    a.action.to_string()
                };
                let mut line = format!("{loc}: {what}");
                if let Some(id) = &a.quarantine_id {
                    line.push_str(&format!(" (quarantine id {id})"));
                }
                if let Some(r) = &a.reason {
                    line.push_str(&format!(": {}", escape_text(r)));
                }
                writeln!(self.out, "{}", self.paint(WARN, &line))?;
                self.current = None;
                Ok(())
            }
            // The start of a scan and the daemon's own events are for logs.
            _ => Ok(()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.flush()?;
        self.out.flush()
    }
}

/// What findings are summarised by: `column NAME` (CSV/TSV) or the JSON
/// path with array indexes as `[*]`.
fn column_key(f: &FindingEvent) -> Option<String> {
    let d = f.data_location.as_ref()?;
    if let Some(c) = &d.column_name {
        return Some(format!("column {c}"));
    }
    if let Some(n) = d.field {
        return Some(format!("field {n}"));
    }
    let path = d.json_path.as_ref()?;
    let mut out = String::with_capacity(path.len());
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '[' && chars.peek().is_some_and(|c| c.is_ascii_digit()) {
            while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
                chars.next();
            }
            out.push('*');
        }
    }
    Some(out)
}

/// `12034` -> `12,034`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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

/// `1 file`, `2 files`: a count with the noun in the right number.
fn counted(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
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
        assert_eq!(thousands(12_034), "12,034");
        assert_eq!(thousands(999), "999");
    }
}
