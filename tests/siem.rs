//! The SIEM formats (`--format ecs|ocsf|cef`, an output's `format:`)
//! against their schemas and grammar: OCSF against the published OCSF
//! 1.3.0 class schemas, ECS against the ECS 8.11 field definitions, CEF
//! through a parser written from the CEF specification that undoes the
//! escapes, so a value holding every special character round-trips.
//! Each format is checked on every kind of event and on a real scan.

use std::io::Write as _;
use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use leakhound::report::event::{
    ActionEvent, DataLocation, Envelope, Event, FileCounts, FileEvent, FileStatus, FindingEvent,
    ScanEvent, ServiceEvent, ServiceState, SummaryEvent,
};
use leakhound::report::{EventFormat, cef, ecs, ocsf};
use leakhound::rules::{Confidence, Severity};
use leakhound::sinks::{self, SinkConfig};
use serde_json::Value;

/// Every special character of CEF (header `|` `\`, extension `=` `\`,
/// line breaks), JSON and syslog (`]`, `"`), and a space.
const NASTY: &str = "we|ird\\ na=me]\"\nx\ry=z.txt";
/// A card number that the built-in rules find (Luhn-valid, not a test
/// number); it must never appear in any output.
const CARD: &str = "4526 0181 5908 3012";
const CARD_DIGITS: &str = "4526018159083012";

fn env() -> Envelope {
    Envelope {
        schema: 1,
        id: "00aa-7".into(),
        time: "2026-01-02T03:04:05.678Z".into(),
        host: "files01".into(),
        scan_id: "00aa".into(),
        rules_version: "abc".into(),
    }
}

/// One event of every kind (and every state), with awkward paths.
fn every_event() -> Vec<Event> {
    let path = format!("/srv/share/{NASTY}");
    let mut v = vec![
        Event::Scan(ScanEvent {
            phase: "start".into(),
            paths: vec!["/srv/share".into()],
            rules: "built-in".into(),
        }),
        Event::Summary(SummaryEvent {
            started: "2026-01-02T03:04:00.000Z".into(),
            duration_ms: 5678,
            files: FileCounts {
                total: 3,
                scanned: 1,
                partial: 1,
                skipped: 1,
                error: 0,
            },
            findings: 2,
            result: "incomplete".into(),
            exit_code: 2,
            fingerprint_key: "file".into(),
            rules: "built-in".into(),
            ..SummaryEvent::default()
        }),
    ];
    for (sev, conf, kind) in [
        (Severity::High, Confidence::High, "payment_card"),
        (Severity::Medium, Confidence::Medium, "us_ssn"),
        (Severity::Low, Confidence::Low, "something_else"),
    ] {
        v.push(Event::Finding(FindingEvent {
            rule: "payment-card".into(),
            kind: kind.into(),
            severity: sev,
            confidence: conf,
            path: path.clone(),
            member: Some(format!("inner.zip!{NASTY}")),
            offset: 12,
            length: 16,
            line: Some(3),
            column: Some(7),
            masked: "452601******3012".into(),
            fingerprint: "0123456789abcdef0123456789abcdef".into(),
            test_data: false,
            data_location: Some(DataLocation {
                row: Some(2),
                column_name: Some("pan".into()),
                ..DataLocation::default()
            }),
            location: leakhound::report::event::Location::Content,
        }));
    }
    for status in [
        FileStatus::Scanned,
        FileStatus::Partial,
        FileStatus::Skipped,
        FileStatus::Error,
    ] {
        v.push(Event::File(FileEvent {
            path: path.clone(),
            member: None,
            status,
            reason: Some(format!("reason with {NASTY}")),
            bytes: 10,
            encoding: None,
            findings: 1,
            meta: None,
        }));
    }
    for action in ["redacted", "quarantined", "restored", "skipped"] {
        v.push(Event::Action(ActionEvent {
            path: path.clone(),
            member: None,
            action: action.parse().unwrap(),
            dry_run: false,
            reason: (action == "skipped").then(|| "read-only file system".into()),
            quarantine_id: (action == "quarantined").then(|| "q-1".into()),
            findings: 2,
            rules: vec!["payment-card".into()],
        }));
    }
    for state in [
        ServiceState::Started,
        ServiceState::Reloaded,
        ServiceState::Stopped,
        ServiceState::Error,
    ] {
        v.push(Event::Service(ServiceEvent {
            state,
            message: format!("the daemon: {NASTY}"),
        }));
    }
    v
}

fn validator(rel: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{what}: {doc}\ndoes not fit the schema: {errors:?}"
    );
}

/// The OCSF class schemas by class_uid.
struct Ocsf {
    finding: jsonschema::Validator,
    scan: jsonschema::Validator,
    lifecycle: jsonschema::Validator,
}

impl Ocsf {
    fn load() -> Ocsf {
        Ocsf {
            finding: validator("tests/fixtures/ocsf-1.3.0/data_security_finding.json"),
            scan: validator("tests/fixtures/ocsf-1.3.0/scan_activity.json"),
            lifecycle: validator("tests/fixtures/ocsf-1.3.0/application_lifecycle.json"),
        }
    }

    fn check(&self, doc: &Value) {
        let v = match doc["class_uid"].as_u64() {
            Some(2006) => &self.finding,
            Some(6007) => &self.scan,
            Some(6002) => &self.lifecycle,
            other => panic!("unexpected class_uid {other:?}: {doc}"),
        };
        assert_valid(v, doc, "OCSF");
        assert_eq!(
            doc["type_uid"].as_u64().unwrap(),
            doc["class_uid"].as_u64().unwrap() * 100 + doc["activity_id"].as_u64().unwrap(),
            "type_uid = class_uid * 100 + activity_id: {doc}"
        );
    }
}

/// The `event.type` values ECS 8.11 expects with each `event.category`
/// we use ("ECS Categorization Fields").
fn ecs_expected_types(category: &str) -> &'static [&'static str] {
    match category {
        "file" => &["access", "change", "creation", "deletion", "info"],
        "process" | "host" => &["access", "change", "end", "info", "start"],
        _ => &[],
    }
}

fn check_ecs(v: &jsonschema::Validator, doc: &Value) {
    assert_valid(v, doc, "ECS");
    for c in doc["event"]["category"].as_array().unwrap() {
        let allowed = ecs_expected_types(c.as_str().unwrap());
        for t in doc["event"]["type"].as_array().unwrap() {
            assert!(
                allowed.contains(&t.as_str().unwrap()),
                "ECS does not expect event.type {t} with event.category {c}: {doc}"
            );
        }
    }
}

/// A parsed CEF line: the seven header fields and the extension's pairs,
/// with the escapes undone.
#[derive(Debug)]
struct CefLine {
    header: Vec<String>,
    ext: Vec<(String, String)>,
}

impl CefLine {
    fn get(&self, key: &str) -> Option<&str> {
        self.ext
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses one CEF line per the specification: the header is split on
/// unescaped `|` (`\|` and `\\` are its only escapes), the extension is
/// `key=value` pairs separated by spaces, where a key is the word before
/// an unescaped `=`, and a value's escapes are `\=`, `\\`, `\n`, `\r`.
fn parse_cef(line: &str) -> Result<CefLine, String> {
    let rest = line
        .strip_prefix("CEF:")
        .ok_or_else(|| format!("no CEF: prefix: {line}"))?;
    let mut header = Vec::new();
    let mut cur = String::new();
    let mut chars = rest.chars();
    while header.len() < 7 {
        match chars.next() {
            None => return Err(format!("header has {} fields: {line}", header.len())),
            Some('\\') => match chars.next() {
                Some(c @ ('\\' | '|')) => cur.push(c),
                other => return Err(format!("bad header escape \\{other:?}: {line}")),
            },
            Some('|') => header.push(std::mem::take(&mut cur)),
            Some('\n' | '\r') => return Err(format!("line break in header: {line:?}")),
            Some(c) => cur.push(c),
        }
    }
    let ext: Vec<char> = chars.collect();
    // Unescaped `=` positions.
    let mut eqs = Vec::new();
    let mut i = 0;
    while i < ext.len() {
        match ext[i] {
            '\\' => i += 2,
            '=' => {
                eqs.push(i);
                i += 1;
            }
            '\n' | '\r' => return Err(format!("raw line break in extension: {line:?}")),
            _ => i += 1,
        }
    }
    let mut pairs = Vec::new();
    let mut key_starts = Vec::new();
    for &e in &eqs {
        let start = ext[..e]
            .iter()
            .rposition(|c| *c == ' ')
            .map_or(0, |p| p + 1);
        let key: String = ext[start..e].iter().collect();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(format!("bad key `{key}`: {line:?}"));
        }
        key_starts.push((start, e, key));
    }
    for (n, (_, e, key)) in key_starts.iter().enumerate() {
        let end = key_starts
            .get(n + 1)
            .map_or(ext.len(), |(s, _, _)| s.saturating_sub(1));
        let raw = &ext[e + 1..end];
        let mut v = String::new();
        let mut j = 0;
        while j < raw.len() {
            if raw[j] == '\\' {
                match raw.get(j + 1) {
                    Some('\\') => v.push('\\'),
                    Some('=') => v.push('='),
                    Some('n') => v.push('\n'),
                    Some('r') => v.push('\r'),
                    other => return Err(format!("bad value escape \\{other:?}: {line:?}")),
                }
                j += 2;
            } else {
                v.push(raw[j]);
                j += 1;
            }
        }
        pairs.push((key.clone(), v));
    }
    Ok(CefLine { header, ext: pairs })
}

#[test]
fn ocsf_every_event_kind_fits_the_published_class_schema() {
    let schemas = Ocsf::load();
    for ev in every_event() {
        let doc = ocsf::to_ocsf(&env(), &ev);
        schemas.check(&doc);
        assert_eq!(doc["unmapped"]["leakhound"]["type"], ev.type_name());
        assert_eq!(doc["time"], 1_767_323_045_678u64, "{doc}");
        if let Event::Finding(f) = &ev {
            assert_eq!(doc["class_uid"], 2006);
            assert_eq!(doc["file"]["path"], f.path);
            assert_eq!(doc["file"]["name"], NASTY);
            assert_eq!(doc["data_security"]["pattern_match"], f.masked);
        }
    }
}

#[test]
fn ocsf_schema_check_rejects_a_field_ocsf_does_not_define() {
    // The check can fail: a stray field, or a wrong type, is caught.
    let schemas = Ocsf::load();
    let mut doc = ocsf::to_ocsf(&env(), &every_event()[2]);
    doc["masked"] = "452601******3012".into();
    assert!(schemas.finding.iter_errors(&doc).next().is_some());
    let mut doc = ocsf::to_ocsf(&env(), &every_event()[2]);
    doc["file"]["type_id"] = 42.into();
    assert!(schemas.finding.iter_errors(&doc).next().is_some());
}

#[test]
fn ecs_every_event_kind_fits_the_ecs_field_definitions() {
    let v = validator("tests/fixtures/ecs-8.11/ecs-subset.schema.json");
    for ev in every_event() {
        let doc = ecs::to_ecs(&env(), &ev);
        check_ecs(&v, &doc);
        assert_eq!(doc["@timestamp"], "2026-01-02T03:04:05.678Z");
        assert_eq!(doc["host"]["name"], "files01");
        assert_eq!(doc["leakhound"]["type"], ev.type_name());
        assert_eq!(
            doc["event"]["dataset"],
            format!("leakhound.{}", ev.type_name())
        );
        if let Event::Finding(f) = &ev {
            assert_eq!(doc["event"]["kind"], "alert");
            assert_eq!(doc["rule"]["id"], "payment-card");
            assert_eq!(doc["file"]["path"], f.path);
            assert_eq!(doc["file"]["name"], NASTY);
            assert_eq!(doc["file"]["directory"], "/srv/share");
            assert_eq!(doc["leakhound"]["masked"], f.masked);
            assert_eq!(doc["leakhound"]["fingerprint"], f.fingerprint);
        }
    }
    let mut doc = ecs::to_ecs(&env(), &every_event()[2]);
    doc["event"]["outcome"] = "maybe".into();
    assert!(v.iter_errors(&doc).next().is_some(), "the check can fail");
}

#[test]
fn cef_every_event_kind_parses_and_round_trips_special_characters() {
    for ev in every_event() {
        let line = cef::to_cef(&env(), &ev);
        assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
        let p = parse_cef(&line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.header[0], "0");
        assert_eq!(p.header[1], "leakhound");
        assert_eq!(p.header[2], "leakhound");
        assert_eq!(p.header[3], env!("CARGO_PKG_VERSION"));
        let sev: u8 = p.header[6].parse().unwrap();
        assert!(sev <= 10, "{line}");
        assert_eq!(p.get("externalId"), Some("00aa-7"));
        assert_eq!(p.get("rt"), Some("1767323045678"));
        assert_eq!(p.get("cat"), Some(ev.type_name()));
        match &ev {
            Event::Finding(f) => {
                assert_eq!(p.header[4], "payment-card");
                assert_eq!(p.get("filePath"), Some(f.path.as_str()));
                assert_eq!(p.get("fname"), Some(NASTY));
                assert_eq!(p.get("cs3"), f.member.as_deref());
                assert_eq!(p.get("cs1Label"), Some("masked"));
                assert_eq!(p.get("cs1"), Some("452601******3012"));
                assert_eq!(p.get("cs2"), Some(f.fingerprint.as_str()));
            }
            Event::File(f) => {
                assert_eq!(p.get("filePath"), Some(f.path.as_str()));
                assert_eq!(p.get("reason"), f.reason.as_deref());
            }
            Event::Service(s) => assert_eq!(p.get("msg"), Some(s.message.as_str())),
            _ => {}
        }
    }
}

#[test]
fn cef_header_escapes_pipes_and_backslashes() {
    // A rule id is the signature id: one with `|` and `\` must not shift
    // the header's fields.
    let mut ev = every_event()[2].clone();
    if let Event::Finding(f) = &mut ev {
        f.rule = "we|ird\\rule\nx".into();
    }
    let line = cef::to_cef(&env(), &ev);
    let p = parse_cef(&line).unwrap();
    assert_eq!(p.header[4], "we|ird\\rule x");
    assert_eq!(p.header.len(), 7);
    assert!(parse_cef("CEF:0|a|b").is_err(), "the parser can fail");
    assert!(parse_cef("CEF:0|a|b|1|s|n|3|k=v\\x").is_err());
}

fn scan(dir: &Path, format: &str) -> String {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .env("LEAKHOUND_STATE_DIR", state.path())
        .env_remove("LEAKHOUND_CONFIG")
        .args(["scan", "--format", format, "-v", "--progress", "never"])
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    // Findings (1); the cut gzip is an error, counted in the summary.
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A directory with a card in a file with an awkward name, a clean file
/// and a truncated gzip (an error: it cannot be read to the end).
fn sample() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(NASTY), format!("card {CARD}\n")).unwrap();
    std::fs::write(dir.path().join("clean.txt"), "nothing here\n").unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&b"some text that is long enough to matter\n".repeat(200))
        .unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(dir.path().join("cut.gz"), &gz[..gz.len() / 2]).unwrap();
    dir
}

#[test]
fn siem_formats_of_a_real_scan_fit_their_schemas_and_hold_no_raw_value() {
    let dir = sample();
    // Paths travel in the lossless escaped form every output uses (control
    // characters such as the newline in NASTY shown as `\n`: D12).
    let nasty_path = leakhound::report::names::escape_path(&dir.path().join(NASTY));

    let schemas = Ocsf::load();
    let out = scan(dir.path(), "ocsf");
    assert!(!out.contains(CARD_DIGITS) && !out.contains(CARD));
    let docs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for d in &docs {
        schemas.check(d);
    }
    let classes: Vec<u64> = docs
        .iter()
        .map(|d| d["class_uid"].as_u64().unwrap())
        .collect();
    assert!(classes.contains(&2006), "a Data Security Finding: {out}");
    assert!(
        docs.iter()
            .any(|d| d["class_uid"] == 6007 && d["activity_id"] == 6),
        "the cut gzip as a Scan Activity Error: {out}"
    );
    assert!(
        docs.iter().any(|d| d["class_uid"] == 2006
            && d["file"]["path"] == nasty_path.as_str()
            && d["data_security"]["category"] == "Financial"),
        "{out}"
    );

    let v = validator("tests/fixtures/ecs-8.11/ecs-subset.schema.json");
    let out = scan(dir.path(), "ecs");
    assert!(!out.contains(CARD_DIGITS) && !out.contains(CARD));
    let mut alerts = 0;
    for l in out.lines() {
        let d: Value = serde_json::from_str(l).unwrap();
        check_ecs(&v, &d);
        if d["event"]["kind"] == "alert" {
            alerts += 1;
            assert_eq!(d["file"]["path"], nasty_path.as_str());
        }
    }
    assert_eq!(alerts, 1, "{out}");

    let out = scan(dir.path(), "cef");
    assert!(!out.contains(CARD_DIGITS) && !out.contains(CARD));
    let lines: Vec<CefLine> = out
        .lines()
        .map(|l| parse_cef(l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let finding = lines
        .iter()
        .find(|l| l.get("cat") == Some("finding"))
        .expect("a finding line");
    assert_eq!(finding.get("filePath"), Some(nasty_path.as_str()));
    assert_eq!(
        finding.get("fname"),
        Some(leakhound::report::names::escape_path(std::path::Path::new(NASTY)).as_str())
    );
    assert!(
        lines
            .iter()
            .any(|l| l.get("cat") == Some("file") && l.get("outcome") == Some("error")),
        "the cut gzip: {out}"
    );
}

#[test]
fn sink_format_cef_over_syslog_carries_the_cef_line_as_the_message() {
    let state = tempfile::tempdir().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let spec = format!("syslog+udp://{}?format=cef", sock.local_addr().unwrap());
    let mut sink = sinks::build(&SinkConfig::from_spec(&spec).unwrap(), state.path()).unwrap();
    let ev = every_event()[2].clone();
    sink.event(&env(), &ev).unwrap();
    sink.finish().unwrap();
    let mut buf = vec![0u8; 65536];
    let n = sock.recv(&mut buf).unwrap();
    let msg = String::from_utf8(buf[..n].to_vec()).unwrap();
    // RFC 5424 header, nil structured data, then the CEF line.
    let (head, body) = msg.split_once(" - CEF:").expect(&msg);
    assert!(head.starts_with("<"), "{msg}");
    assert!(head.ends_with(" finding"), "MSGID is the event type: {msg}");
    let p = parse_cef(&format!("CEF:{body}")).unwrap();
    assert_eq!(p.header[4], "payment-card");
    assert_eq!(p.get("cs1"), Some("452601******3012"));
}

#[test]
fn sink_format_ecs_and_ocsf_in_a_jsonl_file() {
    let state = tempfile::tempdir().unwrap();
    let ecs_path = state.path().join("ecs.jsonl");
    let ocsf_path = state.path().join("ocsf.jsonl");
    for (path, f) in [(&ecs_path, "ecs"), (&ocsf_path, "ocsf")] {
        let spec = format!("jsonl:{}?format={f}", path.display());
        let mut sink = sinks::build(&SinkConfig::from_spec(&spec).unwrap(), state.path()).unwrap();
        for ev in every_event() {
            sink.event(&env(), &ev).unwrap();
        }
        sink.finish().unwrap();
    }
    let v = validator("tests/fixtures/ecs-8.11/ecs-subset.schema.json");
    let text = std::fs::read_to_string(&ecs_path).unwrap();
    assert_eq!(text.lines().count(), every_event().len());
    for l in text.lines() {
        check_ecs(&v, &serde_json::from_str(l).unwrap());
    }
    let schemas = Ocsf::load();
    for l in std::fs::read_to_string(&ocsf_path).unwrap().lines() {
        schemas.check(&serde_json::from_str(l).unwrap());
    }
}

#[test]
fn sink_format_is_checked_when_the_config_is_read() {
    let e = SinkConfig::from_spec("stdout?format=leef")
        .unwrap_err()
        .to_string();
    assert!(e.contains("json, ecs, ocsf or cef"), "{e}");
    let e = SinkConfig::from_spec("journald?format=cef")
        .unwrap_err()
        .to_string();
    assert!(e.contains("journald"), "{e}");
    let c = SinkConfig::from_spec("stdout?format=ocsf").unwrap();
    assert_eq!(c.format, Some(EventFormat::Ocsf));
}

#[test]
fn sink_format_in_leakhound_yaml_is_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let check = |format: &str| {
        let path = dir.path().join(format!("{format}.yaml"));
        std::fs::write(
            &path,
            format!(
                "state_dir: {}\nsinks:\n  outputs:\n    - to: jsonl:{}/e.jsonl\n      format: {format}\n",
                dir.path().display(),
                dir.path().display()
            ),
        )
        .unwrap();
        Command::new(env!("CARGO_BIN_EXE_leakhound"))
            .arg("--config")
            .arg(&path)
            .args(["config", "check"])
            .output()
            .unwrap()
    };
    for ok in ["json", "ecs", "ocsf", "cef"] {
        let o = check(ok);
        assert!(
            o.status.success(),
            "{ok}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = check("leef");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("leef") && err.contains("leef.yaml"), "{err}");
}
