//! Report sinks: where events go.
//!
//! Events enter one at a time from the scan pipeline (in the order the
//! workers finish them, each file's findings together and in offset order)
//! and leave in a format: a human report, JSON lines, or one JSON document.
//! A sink knows nothing of files or the engine, only of events.

pub mod event;
pub mod html;
pub mod human;
pub mod junit;
pub mod meta;
pub mod names;
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
