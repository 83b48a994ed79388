//! Open Cybersecurity Schema Framework (OCSF 1.3.0) events, for Amazon
//! Security Lake, Splunk and the SIEMs that read OCSF.
//!
//! One leakhound event in, one OCSF event out, in the class that fits:
//!
//! - a finding: *Data Security Finding* (class 2006, activity Create);
//! - an action (redacted, quarantined, restored, skipped): *Data Security
//!   Finding*, activity Update, status Resolved when the data was dealt
//!   with;
//! - the start and end of a scan, and a file not fully scanned: *Scan
//!   Activity* (class 6007: Started, Completed, Error or Other);
//! - the daemon starting, reloading, stopping or failing: *Application
//!   Lifecycle* (class 6002).
//!
//! Every event carries the `host` profile (`device.hostname`) and, under
//! `unmapped.leakhound`, the leakhound event itself (`docs/events.md`).
//! The tests validate each class against the JSON Schema of the published
//! OCSF 1.3.0 class (`tests/fixtures/ocsf-1.3.0/`). Only masked values and
//! keyed fingerprints reach the event.

use serde_json::{Map, Value, json};

use super::ecs::{findings, split_path};
use super::event::{ActionTaken, Envelope, Event, FileStatus, ServiceState, to_json};
use crate::rules::{Confidence, Severity};

/// The OCSF version the events follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.3.0";

/// Data Security Finding.
pub const CLASS_DATA_SECURITY_FINDING: u64 = 2006;
/// Scan Activity.
pub const CLASS_SCAN_ACTIVITY: u64 = 6007;
/// Application Lifecycle.
pub const CLASS_APPLICATION_LIFECYCLE: u64 = 6002;

/// Milliseconds since the epoch for an RFC 3339 time (0 if unreadable,
/// which the stamper never writes).
fn epoch_ms(rfc3339: &str) -> u64 {
    humantime::parse_rfc3339(rfc3339)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

/// OCSF `severity_id`: 1 informational, 2 low, 3 medium, 4 high.
fn severity_id(s: Severity) -> u64 {
    match s {
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
    }
}

fn severity_name(id: u64) -> &'static str {
    match id {
        1 => "Informational",
        2 => "Low",
        3 => "Medium",
        4 => "High",
        _ => "Unknown",
    }
}

/// `data_security.category_id`: payment data (cards by brand, track
/// data, IBANs) is Financial (3), national ids Governmental (2), anything
/// else Personal (1).
fn data_category(kind: &str) -> (u64, &'static str) {
    match kind {
        k if k.starts_with("card") || k == "payment_card" || k == "iban" => (3, "Financial"),
        "us_ssn" | "pl_pesel" | "ro_cnp" | "cn_ric" | "ir_melli" => (2, "Governmental"),
        _ => (1, "Personal"),
    }
}

/// `file` object for a path (type Regular File).
fn file_object(path: &str) -> Value {
    let (name, dir) = split_path(path);
    let mut f = Map::new();
    f.insert("name".into(), name.into());
    f.insert("path".into(), path.into());
    if let Some(d) = dir {
        f.insert("parent_folder".into(), d.into());
    }
    f.insert("type_id".into(), 1.into());
    f.insert("type".into(), "Regular File".into());
    Value::Object(f)
}

/// Fields every class shares.
fn base(
    env: &Envelope,
    ev: &Event,
    class_uid: u64,
    activity_id: u64,
    severity: u64,
) -> Map<String, Value> {
    let (class_name, category_uid, category_name) = match class_uid {
        CLASS_DATA_SECURITY_FINDING => ("Data Security Finding", 2, "Findings"),
        CLASS_SCAN_ACTIVITY => ("Scan Activity", 6, "Application Activity"),
        _ => ("Application Lifecycle", 6, "Application Activity"),
    };
    let mut m = Map::new();
    m.insert("class_uid".into(), class_uid.into());
    m.insert("class_name".into(), class_name.into());
    m.insert("category_uid".into(), category_uid.into());
    m.insert("category_name".into(), category_name.into());
    m.insert("activity_id".into(), activity_id.into());
    m.insert("type_uid".into(), (class_uid * 100 + activity_id).into());
    m.insert("severity_id".into(), severity.into());
    m.insert("severity".into(), severity_name(severity).into());
    m.insert("time".into(), epoch_ms(&env.time).into());
    m.insert(
        "metadata".into(),
        json!({
            "version": OCSF_VERSION,
            "uid": env.id,
            "correlation_uid": env.scan_id,
            "profiles": ["host"],
            "product": {
                "name": "leakhound",
                "vendor_name": "leakhound",
                "version": env!("CARGO_PKG_VERSION"),
            },
        }),
    );
    m.insert(
        "device".into(),
        json!({ "hostname": env.host, "type_id": 1, "type": "Server" }),
    );
    m.insert("unmapped".into(), json!({ "leakhound": to_json(env, ev) }));
    m
}

/// One OCSF event for one leakhound event.
pub fn to_ocsf(env: &Envelope, ev: &Event) -> Value {
    let m = match ev {
        Event::Finding(f) => {
            let mut m = base(
                env,
                ev,
                CLASS_DATA_SECURITY_FINDING,
                1,
                severity_id(f.severity),
            );
            m.insert("activity_name".into(), "Create".into());
            m.insert("status_id".into(), 1.into());
            m.insert("status".into(), "New".into());
            let (conf_id, conf) = match f.confidence {
                Confidence::Low => (1, "Low"),
                Confidence::Medium => (2, "Medium"),
                Confidence::High => (3, "High"),
            };
            m.insert("confidence_id".into(), conf_id.into());
            m.insert("confidence".into(), conf.into());
            m.insert(
                "finding_info".into(),
                json!({
                    // The same value in the same file is the same finding
                    // across scans: the fingerprint is keyed, so this id
                    // reveals nothing.
                    "uid": format!("{}:{}", f.rule, f.fingerprint),
                    "title": format!("{} found", f.kind),
                    "desc": format!("{} {} in {}", f.severity.as_str(), f.masked, f.path),
                    "types": [f.kind],
                    "analytic": {
                        "uid": f.rule,
                        "name": f.rule,
                        "type_id": 1,
                        "type": "Rule",
                        "version": env.rules_version,
                    },
                }),
            );
            let (cat_id, cat) = data_category(&f.kind);
            m.insert(
                "data_security".into(),
                json!({
                    "category_id": cat_id,
                    "category": cat,
                    "data_lifecycle_state_id": 1,
                    "data_lifecycle_state": "Data at-Rest",
                    "detection_system_id": 4,
                    "detection_system": "Data Discovery & Classification",
                    "detection_pattern": f.rule,
                    "pattern_match": f.masked,
                }),
            );
            m.insert("file".into(), file_object(&f.path));
            m.insert("message".into(), super::finding_line(f).into());
            m
        }
        Event::Action(a) => {
            let sev = if a.action == ActionTaken::Skipped {
                3
            } else {
                1
            };
            let mut m = base(env, ev, CLASS_DATA_SECURITY_FINDING, 2, sev);
            m.insert("activity_name".into(), "Update".into());
            let (status_id, status) = if a.action == ActionTaken::Skipped || a.dry_run {
                (1, "New")
            } else {
                (4, "Resolved")
            };
            m.insert("status_id".into(), status_id.into());
            m.insert("status".into(), status.into());
            if let Some(r) = &a.reason {
                m.insert("status_detail".into(), r.clone().into());
            }
            m.insert(
                "finding_info".into(),
                json!({
                    "uid": a.quarantine_id.clone().unwrap_or_else(|| env.id.clone()),
                    "title": format!("{} {}", a.action, a.path),
                    "types": a.rules,
                }),
            );
            m.insert("file".into(), file_object(&a.path));
            m.insert(
                "message".into(),
                format!("{} {} ({})", a.action, a.path, findings(a.findings)).into(),
            );
            m
        }
        Event::File(f) => {
            let (activity, name, sev) = match f.status {
                FileStatus::Error | FileStatus::Partial => (6, "Error", 3),
                FileStatus::Scanned | FileStatus::Skipped => (99, "Other", 1),
            };
            let mut m = base(env, ev, CLASS_SCAN_ACTIVITY, activity, sev);
            m.insert("activity_name".into(), name.into());
            m.insert("scan".into(), scan_object(env));
            let ok = f.status == FileStatus::Scanned;
            m.insert("status_id".into(), if ok { 1 } else { 2 }.into());
            m.insert(
                "status".into(),
                if ok { "Success" } else { "Failure" }.into(),
            );
            if let Some(r) = &f.reason {
                m.insert("status_detail".into(), r.clone().into());
            }
            m.insert("message".into(), super::file_line(f).into());
            m
        }
        Event::Scan(s) => {
            let mut m = base(env, ev, CLASS_SCAN_ACTIVITY, 1, 1);
            m.insert("activity_name".into(), "Started".into());
            m.insert("scan".into(), scan_object(env));
            m.insert("start_time".into(), epoch_ms(&env.time).into());
            m.insert(
                "message".into(),
                format!("scan started: {}", s.paths.join(" ")).into(),
            );
            m
        }
        Event::Summary(s) => {
            let failed = !matches!(s.result.as_str(), "clean" | "findings");
            let mut m = base(env, ev, CLASS_SCAN_ACTIVITY, 2, if failed { 3 } else { 1 });
            m.insert("activity_name".into(), "Completed".into());
            m.insert("scan".into(), scan_object(env));
            m.insert("status_id".into(), if failed { 2 } else { 1 }.into());
            m.insert(
                "status".into(),
                if failed { "Failure" } else { "Success" }.into(),
            );
            m.insert("status_detail".into(), s.result.clone().into());
            m.insert("status_code".into(), s.exit_code.to_string().into());
            let start = epoch_ms(&s.started);
            m.insert("start_time".into(), start.into());
            m.insert("end_time".into(), (start + s.duration_ms).into());
            m.insert("duration".into(), s.duration_ms.into());
            m.insert("num_files".into(), s.files.total.into());
            m.insert("num_detections".into(), s.findings.into());
            m.insert("num_skipped_items".into(), s.files.skipped.into());
            m.insert(
                "message".into(),
                format!("scan {}: {}", s.result, findings(s.findings)).into(),
            );
            m
        }
        Event::Service(s) => {
            let (activity, name) = match s.state {
                ServiceState::Started => (3, "Start"),
                ServiceState::Stopped => (4, "Stop"),
                ServiceState::Reloaded => (8, "Update"),
                ServiceState::Error => (99, "Other"),
            };
            let err = s.state == ServiceState::Error;
            let mut m = base(
                env,
                ev,
                CLASS_APPLICATION_LIFECYCLE,
                activity,
                if err { 4 } else { 1 },
            );
            m.insert("activity_name".into(), name.into());
            m.insert(
                "app".into(),
                json!({
                    "name": "leakhound",
                    "vendor_name": "leakhound",
                    "version": env!("CARGO_PKG_VERSION"),
                }),
            );
            m.insert("status_id".into(), if err { 2 } else { 1 }.into());
            m.insert(
                "status".into(),
                if err { "Failure" } else { "Success" }.into(),
            );
            m.insert("message".into(), s.message.clone().into());
            m
        }
    };
    Value::Object(m)
}

/// The `scan` object: one leakhound run (type Manual: a scan started by a
/// command; the daemon's scans share its scan id).
fn scan_object(env: &Envelope) -> Value {
    json!({ "uid": env.scan_id, "name": "leakhound scan", "type_id": 1, "type": "Manual" })
}
