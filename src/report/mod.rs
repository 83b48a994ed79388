//! Report sinks: where events go.
//!
//! Events enter one at a time from the scan pipeline (in the order the
//! workers finish them, each file's findings together and in offset order)
//! and leave in a format: a human report, JSON lines, or one JSON document,
//! or one event per line in a schema a SIEM already parses (ECS, OCSF, CEF:
//! [`EventFormat`]).
//! A sink knows nothing of files or the engine, only of events.

pub mod cef;
pub mod counts;
pub mod ecs;
pub mod event;
pub mod html;
pub mod human;
pub mod junit;
pub mod meta;
pub mod names;
pub mod ocsf;
pub mod sarif;

use std::io::{self, Write};

use event::{Envelope, Event, to_json};

/// Receives events.
pub trait Sink {
    /// One event, with its envelope.
    fn event(&mut self, env: &Envelope, ev: &Event) -> io::Result<()>;
    /// The scan is over: flush, close the document.
    fn finish(&mut self) -> io::Result<()>;
    /// Events accepted and not yet delivered (a spooled sink's backlog);
    /// `None` for sinks that write synchronously.
    fn backlog(&self) -> Option<u64> {
        None
    }
}

/// Output formats of `leakhound scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people: grouped by file, with a summary.
    Human,
    /// One JSON object per line (the event schema).
    Jsonl,
    /// One JSON document with all events.
    Json,
    /// SARIF 2.1.0 (GitHub code scanning, GitLab); paths relative to the root.
    Sarif,
    /// JUnit XML (CI test reports); paths relative to the root.
    Junit,
    /// Elastic Common Schema 8.x, one document per line.
    Ecs,
    /// OCSF 1.3.0 (Data Security Finding, Scan Activity), one event per line.
    Ocsf,
    /// ArcSight Common Event Format, one line per event.
    Cef,
}

/// How one event is written as one line: by log sinks (`format:` of an
/// output in `leakhound.yaml`, `?format=` on the command line) and by
/// `scan --format ecs|ocsf|cef|jsonl`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventFormat {
    /// leakhound's own event schema (`docs/events.md`).
    #[default]
    Json,
    /// Elastic Common Schema 8.x.
    Ecs,
    /// OCSF 1.3.0.
    Ocsf,
    /// ArcSight Common Event Format.
    Cef,
}

impl EventFormat {
    /// Parses `json`, `ecs`, `ocsf` or `cef`.
    pub fn parse(s: &str) -> Option<EventFormat> {
        match s {
            "json" => Some(EventFormat::Json),
            "ecs" => Some(EventFormat::Ecs),
            "ocsf" => Some(EventFormat::Ocsf),
            "cef" => Some(EventFormat::Cef),
            _ => None,
        }
    }

    /// The name [`EventFormat::parse`] reads.
    pub fn as_str(self) -> &'static str {
        match self {
            EventFormat::Json => "json",
            EventFormat::Ecs => "ecs",
            EventFormat::Ocsf => "ocsf",
            EventFormat::Cef => "cef",
        }
    }

    /// One event as one line, without the line break (JSON escapes line
    /// breaks, CEF writes them `\n`: a line is always one event).
    pub fn encode(self, env: &Envelope, ev: &Event) -> String {
        match self {
            EventFormat::Json => to_json(env, ev).to_string(),
            EventFormat::Ecs => ecs::to_ecs(env, ev).to_string(),
            EventFormat::Ocsf => ocsf::to_ocsf(env, ev).to_string(),
            EventFormat::Cef => cef::to_cef(env, ev),
        }
    }
}

/// Events as lines in an [`EventFormat`], flushed per event.
pub struct Lines<W: Write> {
    out: W,
    format: EventFormat,
}

impl<W: Write> Lines<W> {
    pub fn new(out: W, format: EventFormat) -> Self {
        Lines { out, format }
    }
}

impl<W: Write> Sink for Lines<W> {
    fn event(&mut self, env: &Envelope, ev: &Event) -> io::Result<()> {
        let mut line = self.format.encode(env, ev);
        line.push('\n');
        self.out.write_all(line.as_bytes())?;
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// JSON lines: one event per line, flushed per event.
pub struct JsonLines<W: Write> {
    out: W,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W) -> Self {
        JsonLines { out }
    }
}

impl<W: Write> Sink for JsonLines<W> {
    fn event(&mut self, env: &Envelope, ev: &Event) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &to_json(env, ev))?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// One JSON document: `{"schema", "findings": [...], "files": [...],
/// "summary": {...}}`. Holds the events until the end.
pub struct JsonDocument<W: Write> {
    out: W,
    findings: Vec<serde_json::Value>,
    files: Vec<serde_json::Value>,
    actions: Vec<serde_json::Value>,
    summary: Option<serde_json::Value>,
}

impl<W: Write> JsonDocument<W> {
    pub fn new(out: W) -> Self {
        JsonDocument {
            out,
            findings: Vec::new(),
            files: Vec::new(),
            actions: Vec::new(),
            summary: None,
        }
    }
}

impl<W: Write> Sink for JsonDocument<W> {
    fn event(&mut self, env: &Envelope, ev: &Event) -> io::Result<()> {
        let v = to_json(env, ev);
        match ev {
            Event::Finding(_) => self.findings.push(v),
            Event::File(_) => self.files.push(v),
            Event::Summary(_) => self.summary = Some(v),
            Event::Action(_) => self.actions.push(v),
            // The document holds one scan's results; the rest is for logs.
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let doc = serde_json::json!({
            "schema": event::SCHEMA_VERSION,
            "findings": std::mem::take(&mut self.findings),
            "files": std::mem::take(&mut self.files),
            "actions": std::mem::take(&mut self.actions),
            "summary": self.summary.take(),
        });
        serde_json::to_writer_pretty(&mut self.out, &doc)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

/// One line that says what a finding is, for the message fields of the SIEM
/// formats: `high card_visa 452601******3012 in PATH` (masked value, the
/// path as events carry it).
pub(crate) fn finding_line(f: &event::FindingEvent) -> String {
    format!(
        "{} {} {} in {}",
        f.severity.as_str(),
        f.kind,
        f.masked,
        f.path
    )
}

/// One line that says how a file was read: `error PATH: reason`.
pub(crate) fn file_line(f: &event::FileEvent) -> String {
    format!(
        "{} {}{}",
        f.status.as_str(),
        f.path,
        f.reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    )
}
