//! The sinks against real sockets and files (the rsyslog tests are in
//! tests/rsyslog.rs), and every event against `schema/events.schema.json`.
//!
//! journald: here the datagrams are read from a socket bound by the test
//! and parsed (`sinks::journald::parse`); tests/journald.rs delivers to a
//! real systemd-journald. `/dev/log`: a datagram socket bound here stands
//! for it.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use leakhound::report::Sink;
use leakhound::report::event::{Event, FindingEvent, ServiceEvent, ServiceState, Stamper};
use leakhound::rules::{Confidence, Severity};
use leakhound::sinks::{self, SinkConfig};
use serde_json::{Value, json};

fn finding(i: u64, path: &str) -> Event {
    Event::Finding(FindingEvent {
        rule: "payment-card".into(),
        kind: "card_visa".into(),
        severity: Severity::Medium,
        confidence: Confidence::Low,
        path: path.into(),
        member: Some("inner.zip!a.txt".into()),
        offset: i,
        length: 16,
        line: Some(3),
        column: Some(7),
        masked: "452601******3012".into(),
        fingerprint: format!("{i:032x}"),
        test_data: false,
        data_location: None,
        location: leakhound::report::event::Location::Content,
    })
}

fn build(spec: &str, state: &Path) -> Box<dyn Sink + Send> {
    sinks::build(&SinkConfig::from_spec(spec).unwrap(), state).unwrap()
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/events.schema.json"
    ))
    .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, ev: &Value) {
    let errors: Vec<String> = v.iter_errors(ev).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{ev}\ndoes not fit the schema: {errors:?}"
    );
}

#[test]
fn every_event_of_a_real_scan_fits_the_schema() {
    let v = schema();
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.csv"),
        "card 4526 0181 5908 3012\nssn 536-22-8726\ntest 4111111111111111\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("clean.txt"), "nothing here\n").unwrap();
    std::os::unix::fs::symlink("a.csv", dir.path().join("link")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .env("LEAKHOUND_STATE_DIR", state.path())
        .env_remove("LEAKHOUND_CONFIG")
        .args(["scan", "--format", "jsonl", "-v", "--progress", "never"])
        .arg(dir.path())
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    types.sort();
    types.dedup();
    assert_eq!(types, ["file", "finding", "scan", "summary"]);
    assert_eq!(
        events[0]["type"], "scan",
        "a scan starts with its start event"
    );
    assert_eq!(events[0]["phase"], "start");
    assert!(events.iter().any(|e| e["status"] == "skipped"));
    assert!(events.iter().any(|e| e["status"] == "error"));
    for e in &events {
        assert_valid(&v, e);
    }
}

#[test]
fn service_and_action_events_fit_and_mistakes_do_not() {
    let v = schema();
    let mut st = Stamper::new("abc123");
    let env = st.stamp();
    for state in [
        ServiceState::Started,
        ServiceState::Reloaded,
        ServiceState::Stopped,
        ServiceState::Error,
    ] {
        let ev = Event::Service(ServiceEvent {
            state,
            message: "watching 3 roots".into(),
        });
        assert_valid(&v, &leakhound::report::event::to_json(&env, &ev));
    }
    let base = leakhound::report::event::to_json(&env, &finding(1, "a.txt"));
    assert_valid(&v, &base);
    // The action event as the actions engine writes it.
    let mut action = json!({"type": "action", "path": "/srv/a.csv", "member": null,
        "action": "quarantined", "dry_run": false, "reason": null,
        "quarantine_id": "q-0001", "findings": 2, "rules": ["payment-card"]});
    for k in ["schema", "id", "time", "host", "scan_id", "rules_version"] {
        action[k] = base[k].clone();
    }
    assert_valid(&v, &action);

    let mut bad = base.clone();
    bad["raw"] = json!("4526018159083012");
    assert!(!v.is_valid(&bad), "unknown fields are refused");
    let mut bad = base.clone();
    bad["masked"] = json!("4526018159083012");
    assert!(!v.is_valid(&bad), "a value without a mask is refused");
    let mut bad = base.clone();
    bad.as_object_mut().unwrap().remove("id");
    assert!(!v.is_valid(&bad), "the id is required");
    let mut bad = action.clone();
    bad["action"] = json!("deleted");
    assert!(!v.is_valid(&bad));
}

#[test]
fn jsonl_file_appends_and_reopens_after_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
    let mut sink = build(&format!("jsonl:{}", path.display()), state.path());
    let mut st = Stamper::new("r");
    let e1 = st.stamp();
    sink.event(&e1, &finding(1, "a")).unwrap();
    // Written and flushed per event: visible before finish.
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2, "appended: {text}");
    // logrotate: move the file away, then SIGHUP.
    let rotated = dir.path().join("events.jsonl.1");
    std::fs::rename(&path, &rotated).unwrap();
    rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::HUP).unwrap();
    // The signal may be handled on another thread, a moment later.
    std::thread::sleep(Duration::from_millis(300));
    let e2 = st.stamp();
    sink.event(&e2, &finding(2, "b")).unwrap();
    sink.finish().unwrap();
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&path).unwrap();
    assert!(old.contains(&e1.id) && !old.contains(&e2.id));
    let v: Value = serde_json::from_str(new.trim()).unwrap();
    assert_eq!(v["id"], e2.id.as_str());
}

#[test]
fn udp_syslog_one_datagram_per_event() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut sink = build(
        &format!("syslog+udp://{}?facility=auth", rx.local_addr().unwrap()),
        state.path(),
    );
    let mut st = Stamper::new("r");
    let mut ids = Vec::new();
    for i in 0..50 {
        let env = st.stamp();
        sink.event(&env, &finding(i, "x")).unwrap();
        ids.push(env.id);
    }
    sink.finish().unwrap();
    let mut buf = vec![0u8; 65536];
    for id in &ids {
        let n = rx.recv(&mut buf).unwrap();
        let msg = std::str::from_utf8(&buf[..n]).unwrap();
        // auth (4) * 8 + warning (4) = 36.
        assert!(msg.starts_with("<36>1 "), "{msg}");
        assert!(msg.contains(&format!(" id=\"{id}\"")), "in order: {msg}");
    }
}

#[test]
fn local_syslog_socket_that_appears_late_gets_everything() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("log");
    let mut sink = build(
        &format!("syslog:{}?flush_timeout_s=20", sock_path.display()),
        state.path(),
    );
    let mut st = Stamper::new("r");
    let mut ids = Vec::new();
    // No socket yet: the events wait in the spool.
    for i in 0..20 {
        let env = st.stamp();
        sink.event(&env, &finding(i, "x")).unwrap();
        ids.push(env.id);
    }
    std::thread::sleep(Duration::from_millis(300));
    let rx = UnixDatagram::bind(&sock_path).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while got.len() < 20 {
            let n = rx.recv(&mut buf).unwrap();
            got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
        got
    });
    sink.finish().unwrap();
    let got = reader.join().unwrap();
    for (id, msg) in ids.iter().zip(&got) {
        assert!(msg.contains(&format!(" id=\"{id}\"")), "{msg}");
    }
}

#[test]
fn journald_native_protocol_fields() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("journal.socket");
    let rx = UnixDatagram::bind(&sock_path).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut sink = build(
        &format!("journald:{}?app_name=leakhound-test", sock_path.display()),
        state.path(),
    );
    let mut st = Stamper::new("r");
    let env = st.stamp();
    let path = "dir/two\nlines.csv";
    sink.event(&env, &finding(7, path)).unwrap();
    sink.finish().unwrap();
    let mut buf = vec![0u8; 65536];
    let n = rx.recv(&mut buf).unwrap();
    let fields = sinks::journald::parse(&buf[..n]).expect("a valid native-protocol datagram");
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
            .unwrap_or_else(|| panic!("no field {k}"))
    };
    assert_eq!(get("PRIORITY"), "4");
    assert_eq!(get("SYSLOG_IDENTIFIER"), "leakhound-test");
    assert_eq!(get("LEAKHOUND_ID"), env.id);
    assert_eq!(get("LEAKHOUND_TYPE"), "finding");
    assert_eq!(get("LEAKHOUND_MASKED"), "452601******3012");
    assert_eq!(
        get("LEAKHOUND_PATH"),
        path,
        "a newline survives (binary field form)"
    );
    assert!(get("MESSAGE").contains("452601******3012"));
    let ev: Value = serde_json::from_str(&get("LEAKHOUND_EVENT")).unwrap();
    assert_eq!(ev["member"], "inner.zip!a.txt");
}

/// Reads octet-counted frames from one TCP connection after another until
/// `stop` says so.
fn tcp_collector(l: TcpListener, want: impl Fn(&[String]) -> bool) -> Vec<String> {
    // Polled, so a sink that never comes back fails the test instead of
    // hanging it.
    l.set_nonblocking(true).unwrap();
    let mut got: Vec<String> = Vec::new();
    let end = Instant::now() + Duration::from_secs(30);
    while !want(&got) && Instant::now() < end {
        let s = match l.accept() {
            Ok((s, _)) => s,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut r = BufReader::new(s);
        loop {
            let mut len = Vec::new();
            if r.read_until(b' ', &mut len).unwrap_or(0) == 0 {
                break;
            }
            let n: usize = std::str::from_utf8(&len[..len.len() - 1])
                .unwrap()
                .parse()
                .unwrap();
            let mut msg = vec![0u8; n];
            r.read_exact(&mut msg).unwrap();
            got.push(String::from_utf8(msg).unwrap());
        }
    }
    got
}

#[test]
fn full_spool_drops_with_a_clear_event_and_an_error() {
    let state = tempfile::tempdir().unwrap();
    // A port nobody listens on (yet).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = format!("syslog+tcp://127.0.0.1:{port}?spool_max_mb=1&flush_timeout_s=0");
    let mut sink = build(&spec, state.path());
    let mut st = Stamper::new("r");
    let long = "p".repeat(1000);
    let mut sent = 0;
    for i in 0..2000 {
        sink.event(&st.stamp(), &finding(i, &long)).unwrap();
        sent += 1;
    }
    let err = sink.finish().unwrap_err().to_string();
    assert!(
        err.contains("events were dropped because the spool"),
        "{err}"
    );
    let dropped: u64 = err.split_whitespace().find_map(|w| w.parse().ok()).unwrap();
    assert!(dropped > 0 && dropped < sent, "{err}");
    drop(sink);

    // The collector comes back; the next run delivers the spool, the marker
    // included, in order.
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let want = sent - dropped + 1;
    let collector = std::thread::spawn(move || tcp_collector(l, |g| g.len() as u64 >= want));
    let sink = build(
        &format!("syslog+tcp://127.0.0.1:{port}?spool_max_mb=1&flush_timeout_s=20"),
        state.path(),
    );
    let mut sink = sink;
    sink.finish().unwrap();
    let got = collector.join().unwrap();
    assert_eq!(got.len() as u64, want);
    let marker = got.last().unwrap();
    assert!(
        marker.contains("type=\"service\"")
            && marker.contains("state=\"error\"")
            && marker.contains("spool full"),
        "{marker}"
    );
    assert!(
        got[..got.len() - 1]
            .iter()
            .all(|m| m.contains("type=\"finding\""))
    );
}

#[test]
fn sinks_from_the_config_file_and_config_check() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let jsonl = dir.path().join("events.jsonl");
    let conf = dir.path().join("leakhound.yaml");
    std::fs::write(
        &conf,
        format!(
            "state_dir: {}\nsinks:\n  outputs:\n    - to: jsonl:{}\n",
            state.display(),
            jsonl.display()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("a.txt"), "card 4526 0181 5908 3012\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .env_remove("LEAKHOUND_STATE_DIR")
        .env("LEAKHOUND_FINGERPRINT_KEY", "k")
        .arg("--config")
        .arg(&conf)
        .args(["scan", "--format", "jsonl", "--progress", "never"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8(out.stdout).unwrap();
    let logged = std::fs::read_to_string(&jsonl).unwrap();
    assert_eq!(report, logged, "the file gets exactly the report's events");
    assert!(logged.contains("452601******3012") && !logged.contains("4526018159083012"));

    std::fs::write(
        &conf,
        "sinks:\n  outputs:\n    - to: syslog+tls://logs.example:6514\n",
    )
    .unwrap();
    let out = config_check(&conf);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("sinks.outputs[0]") && err.contains("needs `ca`"),
        "{err}"
    );
}

/// A collector that reads a few messages and then goes away with more
/// unread (as a crashing collector does): what it did not read is sent
/// again on the next connection, nothing is lost.
#[test]
fn what_a_dying_collector_did_not_read_is_sent_again() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let state = tempfile::tempdir().unwrap();
    let n = 300;
    let collector = std::thread::spawn(move || {
        // First connection: read 10 messages, then close with the rest unread.
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s);
        let mut first = Vec::new();
        for _ in 0..10 {
            let mut len = Vec::new();
            r.read_until(b' ', &mut len).unwrap();
            let k: usize = std::str::from_utf8(&len[..len.len() - 1])
                .unwrap()
                .parse()
                .unwrap();
            let mut msg = vec![0u8; k];
            r.read_exact(&mut msg).unwrap();
            first.push(String::from_utf8(msg).unwrap());
        }
        drop(r);
        let mut rest = tcp_collector(l, |g| {
            g.iter().filter(|m| m.contains("type=\"finding\"")).count() >= n
        });
        first.append(&mut rest);
        first
    });
    let mut sink = build(
        &format!("syslog+tcp://{addr}?flush_timeout_s=20"),
        state.path(),
    );
    let mut st = Stamper::new("r");
    let mut ids = Vec::new();
    for i in 0..n as u64 {
        let env = st.stamp();
        sink.event(&env, &finding(i, "x")).unwrap();
        ids.push(env.id);
    }
    sink.finish().unwrap();
    let got = collector.join().unwrap();
    for id in &ids {
        assert!(
            got.iter().any(|m| m.contains(&format!(" id=\"{id}\""))),
            "{id} was lost"
        );
    }
}

/// `when_full: block` (Vector's default) is not offered: a sink that waits
/// for the network would hang the scan. `config check` refuses it, and any
/// other value, naming the file, its line and the key, and saying which
/// value there is.
#[test]
fn when_full_block_is_refused_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("leakhound.yaml");
    for value in ["block", "drop_oldest", "Drop_Newest"] {
        std::fs::write(
            &conf,
            format!("sinks:\n  outputs:\n    - to: syslog\n      when_full: {value}\n"),
        )
        .unwrap();
        let out = config_check(&conf);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{value}: {err}");
        assert!(
            err.contains(&format!("{}:4", conf.display())),
            "{value}: the file and the line: {err}"
        );
        assert!(
            err.contains("when_full") && err.contains("drop_newest"),
            "{value}: the key and the value there is: {err}"
        );
    }
    std::fs::write(
        &conf,
        "sinks:\n  outputs:\n    - to: syslog\n      when_full: drop_newest\n",
    )
    .unwrap();
    let out = config_check(&conf);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `leakhound --config CONF config check`.
fn config_check(conf: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .arg("--config")
        .arg(conf)
        .args(["config", "check"])
        .output()
        .unwrap()
}
