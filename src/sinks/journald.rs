//! journald's native protocol: one event in, one datagram payload out.
//!
//! The payload is a list of fields, `NAME=value\n`, or for a value with a
//! newline `NAME\n<64-bit little-endian length><value>\n` (see
//! systemd's `sd_journal_sendv` and "Native Journal Protocol"). It is sent
//! as one datagram to `/run/systemd/journal/socket`.
//!
//! Fields: `MESSAGE` (one line for people, masked values only),
//! `PRIORITY` (the syslog severity), `SYSLOG_IDENTIFIER`,
//! `SYSLOG_FACILITY`, `LEAKHOUND_EVENT` (the whole event as JSON), and each
//! top-level field of the event as `LEAKHOUND_<NAME>` in upper case (nested
//! objects as `LEAKHOUND_<A>_<B>`, arrays and nulls left out), e.g.
//! `LEAKHOUND_ID`, `LEAKHOUND_TYPE`, `LEAKHOUND_MASKED`. An entry bigger
//! than a datagram may be (a member path of deeply nested archives with
//! long names) goes through a sealed memfd (`transport::JournalDgram`), so
//! entries are not cut; values are cut only at [`MAX_VALUE`] bytes, far
//! beyond any real event, to bound what one entry can cost.

use crate::report::event::{Envelope, Event, to_json};

use super::syslog::severity_of;

/// The longest value written, in bytes (journald itself takes up to 64 MiB
/// per field).
pub const MAX_VALUE: usize = 4 << 20;

/// How entries are stamped.
#[derive(Debug, Clone)]
pub struct JournalFormat {
    pub identifier: String,
    pub facility: u8,
}

impl JournalFormat {
    /// The datagram payload for one event.
    pub fn encode(&self, env: &Envelope, ev: &Event) -> Vec<u8> {
        let json = to_json(env, ev);
        let mut out = Vec::with_capacity(1024);
        field(&mut out, "MESSAGE", &message(ev));
        field(&mut out, "PRIORITY", &severity_of(ev).to_string());
        field(&mut out, "SYSLOG_IDENTIFIER", &self.identifier);
        field(&mut out, "SYSLOG_FACILITY", &self.facility.to_string());
        if let serde_json::Value::Object(map) = &json {
            for (k, v) in map {
                match v {
                    serde_json::Value::Object(inner) => {
                        for (k2, v2) in inner {
                            scalar(&mut out, &format!("{k}_{k2}"), v2);
                        }
                    }
                    _ => scalar(&mut out, k, v),
                }
            }
        }
        field(&mut out, "LEAKHOUND_EVENT", &json.to_string());
        out
    }
}

/// One line for people.
fn message(ev: &Event) -> String {
    match ev {
        Event::Finding(f) => format!(
            "{} {} {} in {}{}",
            f.severity.as_str(),
            f.kind,
            f.masked,
            f.path,
            f.member
                .as_deref()
                .map(|m| format!("!{m}"))
                .unwrap_or_default()
        ),
        Event::File(f) => format!(
            "{} {}: {}",
            f.status.as_str(),
            f.path,
            f.reason.as_deref().unwrap_or("")
        ),
        Event::Summary(s) => format!(
            "scan done: {}, {} findings, {} files",
            s.result, s.findings, s.files.total
        ),
        Event::Scan(s) => format!("scan started: {}", s.paths.join(" ")),
        Event::Action(a) => format!(
            "{}{} {}{}",
            if a.dry_run { "would be " } else { "" },
            a.action,
            a.path,
            a.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        Event::Service(s) => format!("{:?}: {}", s.state, s.message).to_lowercase(),
    }
}

fn scalar(out: &mut Vec<u8>, name: &str, v: &serde_json::Value) {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        _ => return,
    };
    field(out, &field_name(name), &text);
}

/// `LEAKHOUND_` and the name in upper case, anything but `A-Z0-9_` as `_`
/// (journald drops fields with other characters).
fn field_name(name: &str) -> String {
    let mut n = String::from("LEAKHOUND_");
    n.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    n.truncate(64);
    n
}

/// Writes one field, in the binary form when the value has a newline.
fn field(out: &mut Vec<u8>, name: &str, value: &str) {
    let mut v = value.as_bytes();
    if v.len() > MAX_VALUE {
        let mut end = MAX_VALUE;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        v = &v[..end];
    }
    out.extend_from_slice(name.as_bytes());
    if v.contains(&b'\n') {
        out.push(b'\n');
        out.extend_from_slice(&(v.len() as u64).to_le_bytes());
    } else {
        out.push(b'=');
    }
    out.extend_from_slice(v);
    out.push(b'\n');
}

/// Parses a native-protocol payload back into fields (for tests and for
/// the test journal socket).
pub fn parse(mut data: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut fields = Vec::new();
    while !data.is_empty() {
        let nl = data.iter().position(|&b| b == b'\n')?;
        let line = &data[..nl];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            let name = String::from_utf8(line[..eq].to_vec()).ok()?;
            fields.push((name, line[eq + 1..].to_vec()));
            data = &data[nl + 1..];
        } else {
            let name = String::from_utf8(line.to_vec()).ok()?;
            let rest = &data[nl + 1..];
            let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
            let value = rest.get(8..8 + len)?.to_vec();
            if rest.get(8 + len) != Some(&b'\n') {
                return None;
            }
            fields.push((name, value));
            data = &rest[8 + len + 1..];
        }
    }
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::event::{ServiceEvent, ServiceState};

    #[test]
    fn fields_round_trip_with_newlines() {
        let env = Envelope {
            schema: 1,
            id: "x-1".into(),
            time: "t".into(),
            host: "h".into(),
            scan_id: "x".into(),
            rules_version: "r".into(),
        };
        let ev = Event::Service(ServiceEvent {
            state: ServiceState::Error,
            message: "two\nlines".into(),
        });
        let f = JournalFormat {
            identifier: "leakhound".into(),
            facility: 16,
        };
        let fields = parse(&f.encode(&env, &ev)).unwrap();
        let get = |n: &str| {
            fields
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
        };
        assert_eq!(get("PRIORITY").as_deref(), Some("3"));
        assert_eq!(get("LEAKHOUND_ID").as_deref(), Some("x-1"));
        assert_eq!(get("LEAKHOUND_STATE").as_deref(), Some("error"));
        assert_eq!(get("LEAKHOUND_MESSAGE").as_deref(), Some("two\nlines"));
        assert_eq!(get("MESSAGE").as_deref(), Some("error: two\nlines"));
    }
}
