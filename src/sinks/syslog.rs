//! RFC 5424 syslog messages: one event in, one message (bytes) out.
//!
//! ```text
//! <PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID [leakhound@32473 k="v" ...] {"type":...}
//! ```
//!
//! MSGID is the event type (`finding`, `file`, ...), so a collector can
//! route on it; the structured data element `leakhound@32473` carries the
//! event's top-level fields (nested objects one level deep as `a.b`,
//! arrays left out), among them `id`, the key for dropping duplicates; the
//! MSG part is the whole event as one JSON object, without a BOM. 32473 is
//! the private enterprise number RFC 5612 reserves for documentation: an
//! operator with their own number can keep it, collectors match on the
//! name. Framing (octet counting for TCP and TLS) is the transport's job.
//!
//! With an output's `format: ecs|ocsf|cef` the MSG part is the event in
//! that schema instead (a CEF line, an ECS or OCSF JSON object) and the
//! structured data is the nil value `-`: SIEM parsers for those formats
//! read the message alone.

use crate::report::event::{ActionTaken, Envelope, Event, to_json};
use crate::rules::Severity;

/// The structured-data id of every message.
pub const SD_ID: &str = "leakhound@32473";

/// Syslog facilities by name (RFC 5424 section 6.2.1).
const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// The facility code for a name (`local0`, `auth` ...), or `None`.
pub fn facility_code(name: &str) -> Option<u8> {
    FACILITIES.iter().position(|f| *f == name).map(|i| i as u8)
}

/// The names [`facility_code`] accepts, for error messages.
pub fn facility_names() -> String {
    FACILITIES.join(", ")
}

/// Syslog severity (0 emergency .. 7 debug) for an event: what an operator
/// should look at first is highest.
pub fn severity_of(ev: &Event) -> u8 {
    match ev {
        Event::Finding(f) => match f.severity {
            Severity::High => 3,   // err
            Severity::Medium => 4, // warning
            Severity::Low => 5,    // notice
        },
        Event::File(_) => 4, // not fully scanned: warning
        Event::Summary(s) if s.result == "clean" => 6,
        Event::Summary(_) => 5,
        Event::Scan(_) => 6,
        // A file was changed or moved away: an operator wants to know.
        Event::Action(a) if a.action == ActionTaken::Skipped => 4,
        Event::Action(_) => 5,
        Event::Service(s) if s.state == crate::report::event::ServiceState::Error => 3,
        Event::Service(_) => 6,
    }
}

/// How messages are stamped.
#[derive(Debug, Clone)]
pub struct SyslogFormat {
    pub facility: u8,
    pub app_name: String,
    /// What the MSG part holds.
    pub body: crate::report::EventFormat,
}

impl SyslogFormat {
    /// One RFC 5424 message for one event.
    pub fn encode(&self, env: &Envelope, ev: &Event) -> Vec<u8> {
        let pri = u32::from(self.facility) * 8 + u32::from(severity_of(ev));
        let mut out = format!(
            "<{pri}>1 {} {} {} {} {} ",
            header_field(&env.time, 64),
            header_field(&env.host, 255),
            header_field(&self.app_name, 48),
            std::process::id(),
            header_field(ev.type_name(), 32),
        );
        if self.body != crate::report::EventFormat::Json {
            out.push_str("- ");
            out.push_str(&self.body.encode(env, ev));
            return out.into_bytes();
        }
        let json = to_json(env, ev);
        out.push('[');
        out.push_str(SD_ID);
        if let serde_json::Value::Object(map) = &json {
            for (k, v) in map {
                match v {
                    serde_json::Value::Object(inner) => {
                        for (k2, v2) in inner {
                            push_param(&mut out, &format!("{k}.{k2}"), v2);
                        }
                    }
                    _ => push_param(&mut out, k, v),
                }
            }
        }
        out.push_str("] ");
        out.push_str(&json.to_string());
        out.into_bytes()
    }
}

/// One `name="value"` parameter; nulls, arrays and deeper objects are left
/// to the JSON in MSG.
fn push_param(out: &mut String, name: &str, v: &serde_json::Value) {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        _ => return,
    };
    out.push(' ');
    out.push_str(&param_name(name));
    out.push_str("=\"");
    out.push_str(&escape_param_value(&text));
    out.push('"');
}

/// PARAM-VALUE escaping (RFC 5424 section 6.3.3): `"`, `\` and `]` get a
/// backslash.
pub fn escape_param_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// SD-NAME: 1-32 printable ASCII characters except `=`, space, `]`, `"`.
fn param_name(s: &str) -> String {
    let n: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"'))
        .take(32)
        .collect();
    if n.is_empty() { "_".into() } else { n }
}

/// A header field: printable ASCII, no spaces, at most `max` characters;
/// `-` (the nil value) when nothing is left.
fn header_field(s: &str, max: usize) -> String {
    let f: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if f.is_empty() { "-".into() } else { f }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::event::{FileEvent, FileStatus};

    fn env() -> Envelope {
        Envelope {
            schema: 1,
            id: "00aa-7".into(),
            time: "2026-01-02T03:04:05.678Z".into(),
            host: "files 01".into(),
            scan_id: "00aa".into(),
            rules_version: "abc".into(),
        }
    }

    #[test]
    fn header_sd_and_json_body() {
        let ev = Event::File(FileEvent {
            path: "dir/we\"ird]\\name".into(),
            member: None,
            status: FileStatus::Error,
            reason: Some("permission denied".into()),
            bytes: 0,
            encoding: None,
            findings: 0,
            meta: None,
        });
        let f = SyslogFormat {
            facility: facility_code("local0").unwrap(),
            app_name: "leakhound".into(),
            body: crate::report::EventFormat::Json,
        };
        let msg = String::from_utf8(f.encode(&env(), &ev)).unwrap();
        let pid = std::process::id();
        // local0 (16) * 8 + warning (4) = 132; the space in the host is dropped.
        assert!(
            msg.starts_with(&format!(
                "<132>1 2026-01-02T03:04:05.678Z files01 leakhound {pid} file [leakhound@32473 type=\"file\""
            )),
            "{msg}"
        );
        assert!(msg.contains(r#" id="00aa-7""#), "{msg}");
        assert!(msg.contains(r#" path="dir/we\"ird\]\\name""#), "{msg}");
        assert!(!msg.contains("member="), "nulls are left out: {msg}");
        let body = &msg[msg.find("] {").unwrap() + 2..];
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["path"], "dir/we\"ird]\\name");
        assert_eq!(v["id"], "00aa-7");
    }

    #[test]
    fn facilities() {
        assert_eq!(facility_code("kern"), Some(0));
        assert_eq!(facility_code("auth"), Some(4));
        assert_eq!(facility_code("local7"), Some(23));
        assert_eq!(facility_code("nope"), None);
    }
}
