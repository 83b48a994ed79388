//! SARIF 2.1.0, for GitHub code scanning, GitLab and any SARIF viewer.
//!
//! One run, one rule per detection rule (with its description and what to
//! do), one result per finding: rule id, level from severity (`high` ->
//! `error`, `medium` -> `warning`, `low` -> `note`), the path relative to
//! the scan root with `%SRCROOT%` as its base, the line and column (or the
//! byte offset in binary data), the masked value in the message, and the
//! keyed fingerprint as a partial fingerprint so a code-scanning service
//! tracks a finding across commits. Files that were not fully scanned
//! become tool notifications, so a viewer shows what was not covered. The
//! document is written at the end; results are held until then.
//!
//! The output is checked by the tests with Microsoft's SARIF multitool.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::Sink;
use super::event::{Envelope, Event, FileStatus, FindingEvent, Location};
use crate::rules::{RuleSet, Severity};

/// The schema URI written in the document.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Writes one SARIF document.
pub struct Sarif<W: Write> {
    out: W,
    rules: Vec<Value>,
    rule_ids: Vec<String>,
    results: Vec<Value>,
    notifications: Vec<Value>,
    summary: Option<Value>,
    exit_code: i32,
}

/// The SARIF level of a severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub's `security-severity` (0-10) of a severity.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::High => "8.5",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
    }
}

/// Percent-encodes a relative path for a URI reference (RFC 3986): keeps
/// unreserved characters and `/`. `path` is a path as events carry it
/// (escaped, see `names`): the URI encodes its exact bytes (`caf%E9.csv`).
pub fn uri_path(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for b in super::names::unescape(path) {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

impl<W: Write> Sarif<W> {
    /// A writer that describes the rules of `rules`.
    pub fn new(out: W, rules: &RuleSet) -> Self {
        let mut descs = Vec::new();
        let mut ids = Vec::new();
        for r in &rules.rules {
            let description = r
                .description
                .clone()
                .unwrap_or_else(|| format!("{} found in a file.", r.name));
            let kinds = r.kinds().join(", ");
            let help = format!(
                "{description}\n\nKinds: {kinds}.\n\nWhat to do: remove the number from the file \
                 (or replace it with a masked or synthetic value) and purge it from history if it \
                 was committed. If it is known and accepted, add its fingerprint to `allow.fingerprints` \
                 in .leakhound.yaml, mark the line with `leakhound:allow:{id}`, or record it in a \
                 baseline (`leakhound baseline create`).",
                id = r.id
            );
            let markdown = format!(
                "{description}\n\n**Kinds:** {kinds}.\n\n**What to do:** remove the number from the \
                 file (or replace it with a masked or synthetic value) and purge it from history if \
                 it was committed. If it is known and accepted, add its fingerprint to \
                 `allow.fingerprints` in `.leakhound.yaml`, mark the line with \
                 `leakhound:allow:{id}`, or record it in a baseline (`leakhound baseline create`).",
                id = r.id
            );
            let mut desc = json!({
                "id": r.id,
                "shortDescription": {"text": format!("{}.", r.name.trim_end_matches('.'))},
                "fullDescription": {"text": ensure_period(&description)},
                "help": {"text": help, "markdown": markdown},
                "defaultConfiguration": {"level": level(r.severity)},
                "properties": {
                    "tags": ["security", "privacy", "dlp"],
                    "precision": "high",
                    "security-severity": security_severity(r.severity),
                },
            });
            // SARIF wants `name` to differ from `id`, or be left out.
            let name = pascal(&r.name);
            if !name.eq_ignore_ascii_case(&r.id) {
                desc["name"] = json!(name);
            }
            descs.push(desc);
            ids.push(r.id.clone());
        }
        Sarif {
            out,
            rules: descs,
            rule_ids: ids,
            results: Vec::new(),
            notifications: Vec::new(),
            summary: None,
            exit_code: 0,
        }
    }

    fn result(&mut self, f: &FindingEvent) -> Value {
        let index = self.rule_ids.iter().position(|id| *id == f.rule);
        let mut where_ = String::new();
        if let Some(d) = &f.data_location {
            if let Some(c) = &d.column_name {
                where_.push_str(&format!(" in column {c}"));
            } else if let Some(n) = d.field {
                where_.push_str(&format!(" in field {n}"));
            }
            if let Some(p) = &d.json_path {
                where_.push_str(&format!(" at {p}"));
            }
            if let Some(r) = d.row {
                where_.push_str(&format!(", row {r}"));
            }
        }
        let test = if f.test_data {
            " It is a published payment-processor test number."
        } else {
            ""
        };
        if f.location == Location::Name {
            where_.push_str(" in its name");
        }
        let text = format!("{} {} found{where_}.{test}", kind_words(&f.kind), f.masked);
        let region = match (f.location, f.line, f.column) {
            // A number in the name is in no region of the content; code
            // scanning wants a region (SARIF2017), so the alert is put on
            // the file's first line, and the message says it is the name.
            (Location::Name, _, _) => json!({"startLine": 1}),
            (_, Some(line), Some(column)) => json!({"startLine": line, "startColumn": column}),
            _ => json!({"byteOffset": f.offset, "byteLength": f.length}),
        };
        let uri = match &f.member {
            Some(m) => format!("{}!{}", uri_path(&f.path), uri_path(m)),
            None => uri_path(&f.path),
        };
        let mut r = json!({
            "ruleId": f.rule,
            "level": level(f.severity),
            "message": {"text": text},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                    "region": region,
                }
            }],
            "partialFingerprints": {"leakhoundFingerprint/v1": f.fingerprint},
            "properties": {
                "kind": f.kind,
                "masked": f.masked,
                "fingerprint": f.fingerprint,
                "confidence": f.confidence.as_str(),
                "testData": f.test_data,
            },
        });
        if let Some(i) = index {
            r["ruleIndex"] = json!(i);
        }
        if f.location == Location::Name {
            r["properties"]["location"] = json!("name");
        }
        if let Some(d) = &f.data_location {
            r["properties"]["dataLocation"] = serde_json::to_value(d).unwrap_or(Value::Null);
        }
        r
    }
}

/// `payment-card` -> `PaymentCard` (SARIF rule names are identifiers).
fn pascal(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn ensure_period(s: &str) -> String {
    let t = s.trim();
    if t.ends_with('.') {
        t.to_string()
    } else {
        format!("{t}.")
    }
}

/// A phrase for a kind, starting with a capital: `card_visa` -> `Card visa`.
fn kind_words(kind: &str) -> String {
    let words = kind.replace('_', " ");
    let mut c = words.chars();
    c.next()
        .map(|f| f.to_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

impl<W: Write> Sink for Sarif<W> {
    fn event(&mut self, _env: &Envelope, ev: &Event) -> io::Result<()> {
        match ev {
            Event::Finding(f) => {
                let r = self.result(f);
                self.results.push(r);
            }
            Event::File(f) if f.status != FileStatus::Scanned => {
                let level = if f.status == FileStatus::Skipped {
                    "note"
                } else {
                    "warning"
                };
                let reason = f.reason.as_deref().unwrap_or("no reason given");
                let loc = match &f.member {
                    Some(m) => format!("{}!{m}", f.path),
                    None => f.path.clone(),
                };
                self.notifications.push(json!({
                    "level": level,
                    "message": {"text": format!("{loc}: {}: {}", f.status.as_str(), ensure_period(reason))},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri_path(&f.path), "uriBaseId": "%SRCROOT%"}}}],
                }));
            }
            Event::File(_) => {}
            Event::Summary(s) => {
                self.exit_code = s.exit_code;
                self.summary = serde_json::to_value(s).ok();
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        // Workers finish files in any order: sort, so the same tree gives
        // the same report on every run and runner.
        self.results.sort_by_cached_key(|r| {
            let loc = &r["locations"][0]["physicalLocation"];
            (
                loc["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                loc["region"]["startLine"].as_u64().unwrap_or(0),
                loc["region"]["startColumn"].as_u64().unwrap_or(0),
            )
        });
        let mut invocation = json!({
            "executionSuccessful": self.exit_code != 2,
            "exitCode": self.exit_code,
        });
        if !self.notifications.is_empty() {
            invocation["toolExecutionNotifications"] =
                Value::Array(std::mem::take(&mut self.notifications));
        }
        if let Some(s) = self.summary.take() {
            invocation["properties"] = json!({"summary": s});
        }
        let version = env!("CARGO_PKG_VERSION");
        let doc = json!({
            "$schema": SCHEMA_URI,
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "leakhound",
                    "fullName": format!("leakhound {version}"),
                    "version": version,
                    "semanticVersion": version,
                    "informationUri": env!("CARGO_PKG_REPOSITORY"),
                    "rules": std::mem::take(&mut self.rules),
                }},
                "automationDetails": {"id": "leakhound/"},
                "invocations": [invocation],
                "columnKind": "unicodeCodePoints",
                "results": std::mem::take(&mut self.results),
            }],
        });
        serde_json::to_writer_pretty(&mut self.out, &doc)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uris() {
        assert_eq!(pascal("Payment card number"), "PaymentCardNumber");
        assert_eq!(uri_path("a dir/ü.csv"), "a%20dir/%C3%BC.csv");
        assert_eq!(kind_words("card_visa"), "Card visa");
    }
}
