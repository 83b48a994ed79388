//! ArcSight Common Event Format (CEF 0), for ArcSight, QRadar, Sentinel
//! and the SIEMs that parse CEF from syslog.
//!
//! One leakhound event in, one line out:
//!
//! ```text
//! CEF:0|leakhound|leakhound|VERSION|SignatureID|Name|Severity|key=value key=value ...
//! ```
//!
//! Escaping follows the CEF specification (Micro Focus, "Implementing
//! ArcSight CEF", revision 25): in the header `\` and `|` get a
//! backslash; in extension values `\` and `=` get a backslash and a line
//! break is written `\n` (or `\r`); a header cannot hold a line break, so
//! one becomes a space. Keys are the CEF dictionary's (`rt`, `dvchost`,
//! `filePath`, `cs1` ...); the mapping is the table in `docs/events.md`.
//! Only masked values and keyed fingerprints reach the line.

use super::ecs::split_path;
use super::event::{ActionTaken, Envelope, Event, FileStatus, ServiceState};
use crate::rules::Severity;
use std::fmt::Write as _;

/// Escapes a header field: `\` and `|` get a backslash; line breaks,
/// which a header cannot hold, become spaces.
pub fn escape_header(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '|' => {
                o.push('\\');
                o.push(c);
            }
            '\r' | '\n' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// Escapes an extension value: `\` and `=` get a backslash, line breaks
/// are written `\n` and `\r`.
pub fn escape_value(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '=' => {
                o.push('\\');
                o.push(c);
            }
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            c => o.push(c),
        }
    }
    o
}

/// CEF severity (0-10) of an event.
fn severity(ev: &Event) -> u8 {
    match ev {
        Event::Finding(f) => match f.severity {
            Severity::High => 8,
            Severity::Medium => 5,
            Severity::Low => 3,
        },
        Event::File(f) if f.status == FileStatus::Scanned => 1,
        Event::File(f) if f.status == FileStatus::Skipped => 2,
        Event::File(_) => 5,
        Event::Action(a) if a.action == ActionTaken::Skipped => 5,
        Event::Action(_) => 3,
        Event::Summary(s) if s.result == "clean" => 0,
        Event::Summary(s) if s.result == "findings" => 3,
        Event::Summary(_) => 5,
        Event::Scan(_) => 0,
        Event::Service(s) if s.state == ServiceState::Error => 7,
        Event::Service(_) => 1,
    }
}

/// Signature id and name of an event.
fn signature(ev: &Event) -> (String, String) {
    match ev {
        Event::Finding(f) => (f.rule.clone(), format!("{} found", f.kind)),
        Event::File(f) => (
            format!("file:{}", f.status.as_str()),
            format!("file {}", f.status.as_str()),
        ),
        Event::Action(a) => (format!("action:{}", a.action), format!("file {}", a.action)),
        Event::Scan(_) => ("scan:start".into(), "scan started".into()),
        Event::Summary(s) => ("scan:end".into(), format!("scan finished: {}", s.result)),
        Event::Service(s) => {
            let st = match s.state {
                ServiceState::Started => "started",
                ServiceState::Reloaded => "reloaded",
                ServiceState::Stopped => "stopped",
                ServiceState::Error => "error",
            };
            (format!("service:{st}"), format!("service {st}"))
        }
    }
}

/// Milliseconds since the epoch (CEF `rt` takes them).
fn epoch_ms(rfc3339: &str) -> Option<u128> {
    humantime::parse_rfc3339(rfc3339)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
}

/// The extension's key=value pairs for an event, in order.
pub fn extension(env: &Envelope, ev: &Event) -> Vec<(&'static str, String)> {
    let mut x: Vec<(&'static str, String)> = Vec::new();
    if let Some(ms) = epoch_ms(&env.time) {
        x.push(("rt", ms.to_string()));
    }
    x.push(("dvchost", env.host.clone()));
    x.push(("externalId", env.id.clone()));
    x.push(("cat", ev.type_name().to_string()));
    x.push(("cs4Label", "scanId".into()));
    x.push(("cs4", env.scan_id.clone()));
    x.push(("cs5Label", "rulesVersion".into()));
    x.push(("cs5", env.rules_version.clone()));
    let file = |x: &mut Vec<(&'static str, String)>, path: &str, member: Option<&String>| {
        x.push(("filePath", path.to_string()));
        x.push(("fname", split_path(path).0.to_string()));
        if let Some(m) = member {
            x.push(("cs3Label", "member".into()));
            x.push(("cs3", m.clone()));
        }
    };
    match ev {
        Event::Finding(f) => {
            file(&mut x, &f.path, f.member.as_ref());
            x.push(("cs1Label", "masked".into()));
            x.push(("cs1", f.masked.clone()));
            x.push(("cs2Label", "fingerprint".into()));
            x.push(("cs2", f.fingerprint.clone()));
            x.push(("cs6Label", "confidence".into()));
            x.push(("cs6", f.confidence.as_str().to_string()));
            if let Some(l) = f.line {
                x.push(("cn1Label", "line".into()));
                x.push(("cn1", l.to_string()));
            }
            x.push(("cn2Label", "offset".into()));
            x.push(("cn2", f.offset.to_string()));
            x.push(("msg", super::finding_line(f)));
        }
        Event::File(f) => {
            file(&mut x, &f.path, f.member.as_ref());
            x.push(("outcome", f.status.as_str().to_string()));
            if let Some(r) = &f.reason {
                x.push(("reason", r.clone()));
            }
            x.push(("cn3Label", "findings".into()));
            x.push(("cn3", f.findings.to_string()));
        }
        Event::Action(a) => {
            file(&mut x, &a.path, a.member.as_ref());
            x.push(("act", a.action.to_string()));
            x.push((
                "outcome",
                if a.action == ActionTaken::Skipped {
                    "failure"
                } else {
                    "success"
                }
                .into(),
            ));
            if let Some(r) = &a.reason {
                x.push(("reason", r.clone()));
            }
            if let Some(q) = &a.quarantine_id {
                x.push(("cs1Label", "quarantineId".into()));
                x.push(("cs1", q.clone()));
            }
            x.push(("cn3Label", "findings".into()));
            x.push(("cn3", a.findings.to_string()));
        }
        Event::Scan(s) => {
            x.push(("msg", format!("scan started: {}", s.paths.join(" "))));
        }
        Event::Summary(s) => {
            x.push(("outcome", s.result.clone()));
            x.push(("cn3Label", "findings".into()));
            x.push(("cn3", s.findings.to_string()));
            x.push(("cn1Label", "files".into()));
            x.push(("cn1", s.files.total.to_string()));
            x.push(("cn2Label", "incompleteFiles".into()));
            x.push(("cn2", s.files.incomplete().to_string()));
            if let Some(start) = epoch_ms(&s.started) {
                x.push(("start", start.to_string()));
                x.push(("end", (start + u128::from(s.duration_ms)).to_string()));
            }
        }
        Event::Service(s) => {
            x.push(("msg", s.message.clone()));
        }
    }
    x
}

/// One CEF line (without a line break) for one event.
pub fn to_cef(env: &Envelope, ev: &Event) -> String {
    let (sig, name) = signature(ev);
    let mut out = format!(
        "CEF:0|leakhound|leakhound|{}|{}|{}|{}|",
        escape_header(env!("CARGO_PKG_VERSION")),
        escape_header(&sig),
        escape_header(&name),
        severity(ev),
    );
    for (i, (k, v)) in extension(env, ev).iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{k}={}", escape_value(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_value_escapes() {
        assert_eq!(escape_header(r"a|b\c"), r"a\|b\\c");
        assert_eq!(escape_header("a\nb"), "a b");
        assert_eq!(escape_value("a=b\\c\nd\re|f"), r"a\=b\\c\nd\re|f");
    }
}
