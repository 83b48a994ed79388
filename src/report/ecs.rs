//! Elastic Common Schema (ECS 8.x) events, for Elasticsearch, Elastic
//! Security and any SIEM that reads ECS.
//!
//! One leakhound event in, one ECS document out: the standard fields
//! (`@timestamp`, `event.*`, `file.*`, `host.*`, `rule.*`, `observer.*`)
//! are filled from the event, and the whole leakhound event (its JSON form,
//! `docs/events.md`) is kept under the custom namespace `leakhound`, so
//! nothing is lost for a search that knows leakhound. The mapping is the
//! table in `docs/events.md`. Only masked values and keyed fingerprints
//! ever reach the document, because the events hold nothing else.

use serde_json::{Map, Value, json};

use super::event::{ActionTaken, Envelope, Event, FileStatus, ServiceState, to_json};
use crate::rules::Severity;

/// The ECS version the documents follow (`ecs.version`).
pub const ECS_VERSION: &str = "8.11.0";

/// `event.severity` for a finding: the numbers Elastic Security gives its
/// own low / medium / high rules, so leakhound alerts sort with theirs.
fn severity_number(s: Severity) -> u64 {
    match s {
        Severity::Low => 21,
        Severity::Medium => 47,
        Severity::High => 73,
    }
}

/// The last component of a path, and the part before it.
pub(crate) fn split_path(path: &str) -> (&str, Option<&str>) {
    match path.rsplit_once('/') {
        Some(("", name)) => (name, Some("/")),
        Some((dir, name)) => (name, Some(dir)),
        None => (path, None),
    }
}

/// `file.*` for a path.
fn file_fields(path: &str) -> Value {
    let (name, dir) = split_path(path);
    let mut f = Map::new();
    f.insert("path".into(), path.into());
    f.insert("name".into(), name.into());
    if let Some(d) = dir {
        f.insert("directory".into(), d.into());
    }
    if let Some((_, ext)) = name.rsplit_once('.')
        && !ext.is_empty()
        && !name.starts_with('.')
    {
        f.insert("extension".into(), ext.into());
    }
    f.insert("type".into(), "file".into());
    Value::Object(f)
}

/// `1 finding`, `2 findings`.
pub(crate) fn findings(n: u64) -> String {
    if n == 1 {
        "1 finding".into()
    } else {
        format!("{n} findings")
    }
}

/// One ECS document for one event.
pub fn to_ecs(env: &Envelope, ev: &Event) -> Value {
    // (kind, category, type, action, outcome)
    let (kind, category, types, action, outcome): (&str, &str, &str, String, &str) = match ev {
        Event::Finding(_) => (
            "alert",
            "file",
            "info",
            "sensitive-data-found".into(),
            "success",
        ),
        Event::File(f) => (
            "event",
            "file",
            "info",
            format!("file-{}", f.status.as_str()),
            match f.status {
                FileStatus::Scanned => "success",
                FileStatus::Partial | FileStatus::Error => "failure",
                FileStatus::Skipped => "unknown",
            },
        ),
        Event::Action(a) => (
            "event",
            "file",
            match a.action {
                ActionTaken::Redacted => "change",
                ActionTaken::Quarantined => "deletion",
                ActionTaken::Restored => "creation",
                _ => "info",
            },
            a.action.to_string(),
            if a.action == ActionTaken::Skipped {
                "failure"
            } else {
                "success"
            },
        ),
        Event::Scan(_) => (
            "event",
            "process",
            "start",
            "scan-started".into(),
            "success",
        ),
        Event::Summary(s) => (
            "event",
            "process",
            "end",
            "scan-finished".into(),
            match s.result.as_str() {
                "clean" | "findings" => "success",
                _ => "failure",
            },
        ),
        Event::Service(s) => (
            "event",
            "process",
            match s.state {
                ServiceState::Started => "start",
                ServiceState::Stopped => "end",
                ServiceState::Reloaded => "change",
                // ECS expects `error` with no category; the failure is in
                // event.outcome.
                ServiceState::Error => "info",
            },
            format!(
                "service-{}",
                match s.state {
                    ServiceState::Started => "started",
                    ServiceState::Stopped => "stopped",
                    ServiceState::Reloaded => "reloaded",
                    ServiceState::Error => "error",
                }
            ),
            if s.state == ServiceState::Error {
                "failure"
            } else {
                "success"
            },
        ),
    };
    let mut event = Map::new();
    event.insert("id".into(), env.id.clone().into());
    event.insert("kind".into(), kind.into());
    event.insert("category".into(), json!([category]));
    event.insert("type".into(), json!([types]));
    event.insert("action".into(), action.into());
    event.insert("outcome".into(), outcome.into());
    event.insert("module".into(), "leakhound".into());
    event.insert(
        "dataset".into(),
        format!("leakhound.{}", ev.type_name()).into(),
    );
    event.insert("created".into(), env.time.clone().into());

    let mut doc = Map::new();
    doc.insert("@timestamp".into(), env.time.clone().into());
    doc.insert("ecs".into(), json!({ "version": ECS_VERSION }));
    doc.insert(
        "host".into(),
        json!({ "name": env.host, "hostname": env.host }),
    );
    doc.insert(
        "observer".into(),
        json!({
            "vendor": "leakhound",
            "product": "leakhound",
            "type": "dlp",
            "version": env!("CARGO_PKG_VERSION"),
            "hostname": env.host,
        }),
    );
    doc.insert("labels".into(), json!({ "scan_id": env.scan_id }));
    match ev {
        Event::Finding(f) => {
            event.insert("severity".into(), severity_number(f.severity).into());
            doc.insert("file".into(), file_fields(&f.path));
            doc.insert(
                "rule".into(),
                json!({
                    "id": f.rule,
                    "name": f.rule,
                    "category": f.kind,
                    "ruleset": "leakhound",
                    "version": env.rules_version,
                }),
            );
            doc.insert("message".into(), super::finding_line(f).into());
        }
        Event::File(f) => {
            doc.insert("file".into(), file_fields(&f.path));
            if let Some(r) = &f.reason {
                event.insert("reason".into(), r.clone().into());
            }
            doc.insert("message".into(), super::file_line(f).into());
        }
        Event::Action(a) => {
            doc.insert("file".into(), file_fields(&a.path));
            if let Some(r) = &a.reason {
                event.insert("reason".into(), r.clone().into());
            }
            doc.insert(
                "message".into(),
                format!("{} {} ({})", a.action, a.path, findings(a.findings)).into(),
            );
        }
        Event::Summary(s) => {
            event.insert("start".into(), s.started.clone().into());
            // ECS wants nanoseconds.
            event.insert(
                "duration".into(),
                s.duration_ms.saturating_mul(1_000_000).into(),
            );
            doc.insert(
                "message".into(),
                format!("scan {}: {}", s.result, findings(s.findings)).into(),
            );
        }
        Event::Scan(s) => {
            doc.insert(
                "message".into(),
                format!("scan started: {}", s.paths.join(" ")).into(),
            );
        }
        Event::Service(s) => {
            doc.insert("message".into(), s.message.clone().into());
        }
    }
    doc.insert("event".into(), Value::Object(event));
    doc.insert("leakhound".into(), to_json(env, ev));
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_name_and_directory() {
        assert_eq!(split_path("/srv/a/b.txt"), ("b.txt", Some("/srv/a")));
        assert_eq!(split_path("/b.txt"), ("b.txt", Some("/")));
        assert_eq!(split_path("b.txt"), ("b.txt", None));
        let f = file_fields("/srv/.bashrc");
        assert!(f.get("extension").is_none());
        assert_eq!(file_fields("/srv/x.tar.gz")["extension"], "gz");
    }
}
