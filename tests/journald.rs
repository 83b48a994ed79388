//! The journald sink against a real `systemd-journald`.
//!
//! Each test starts its own journald in a journal namespace named after the
//! test process (`systemd-journald lh<pid>`: sockets under
//! `/run/systemd/journal.lh<pid>/`, files under
//! `/var/log/journal/<machine-id>.lh<pid>/`, removed afterwards), so the
//! machine's own journal, running or not, is never touched. Entries are
//! read back with `journalctl --namespace`. Needs root and the `systemd` package
//! (`scripts/setup.sh` installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leakhound::report::event::{Event, FindingEvent, Stamper};
use leakhound::rules::{Confidence, Severity};
use leakhound::sinks::{self, SinkConfig};
use serde_json::Value;

const JOURNALD: &str = "/lib/systemd/systemd-journald";
const DEADLINE: Duration = Duration::from_secs(30);

/// A journald of our own, in its own namespace.
struct Journald {
    child: Child,
    namespace: String,
    run_dir: PathBuf,
    /// Where its files go: `/var/log/journal/...` when that directory
    /// exists, else the volatile `/run/log/journal/...`.
    log_dirs: [PathBuf; 2],
}

impl Journald {
    fn start(tag: &str) -> Journald {
        assert!(
            Path::new(JOURNALD).exists(),
            "{JOURNALD} not found: install the systemd package (scripts/setup.sh does)"
        );
        let namespace = format!("lh{}{tag}", std::process::id());
        let machine_id = std::fs::read_to_string("/etc/machine-id")
            .expect("/etc/machine-id (journald needs it)")
            .trim()
            .to_string();
        let j = Journald {
            child: Command::new(JOURNALD)
                .arg(&namespace)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start systemd-journald"),
            run_dir: PathBuf::from(format!("/run/systemd/journal.{namespace}")),
            log_dirs: [
                PathBuf::from(format!("/var/log/journal/{machine_id}.{namespace}")),
                PathBuf::from(format!("/run/log/journal/{machine_id}.{namespace}")),
            ],
            namespace,
        };
        let start = Instant::now();
        while !j.socket().exists() {
            assert!(start.elapsed() < DEADLINE, "journald made no socket");
            std::thread::sleep(Duration::from_millis(50));
        }
        j
    }

    fn socket(&self) -> PathBuf {
        self.run_dir.join("socket")
    }

    /// leakhound's journald sink to this journald, as `ident`, spooling in
    /// `state`.
    fn sink(&self, ident: &str, state: &Path) -> Box<dyn leakhound::report::Sink + Send> {
        let spec = format!("journald:{}?app_name={ident}", self.socket().display());
        sinks::build(&SinkConfig::from_spec(&spec).unwrap(), state).unwrap()
    }

    /// The entries written with `SYSLOG_IDENTIFIER=ident`, once there are
    /// at least `want` of them.
    fn entries(&self, ident: &str, want: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let out = Command::new("journalctl")
                .args(["--namespace", &self.namespace, "--no-pager", "--all"])
                .args(["-o", "json", "-t", ident])
                .output()
                .expect("run journalctl");
            let got: Vec<Value> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            if got.len() >= want || start.elapsed() > DEADLINE {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Journald {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for d in &self.log_dirs {
            let _ = std::fs::remove_dir_all(d);
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// A field as text: journalctl writes values that are not printable UTF-8
/// (a newline, say) as arrays of bytes.
fn text(entry: &Value, field: &str) -> String {
    match &entry[field] {
        Value::String(s) => s.clone(),
        Value::Array(bytes) => String::from_utf8(
            bytes
                .iter()
                .map(|b| b.as_u64().expect("a byte") as u8)
                .collect(),
        )
        .expect("UTF-8"),
        other => panic!("field {field} is {other}"),
    }
}

fn finding(i: u64, path: &str, member: &str) -> Event {
    Event::Finding(FindingEvent {
        rule: "payment-card".into(),
        kind: "card_visa".into(),
        severity: Severity::High,
        confidence: Confidence::High,
        path: path.into(),
        member: Some(member.into()),
        offset: i,
        length: 16,
        line: Some(i + 1),
        column: Some(1),
        masked: "452601******3012".into(),
        fingerprint: format!("{i:032x}"),
        test_data: false,
        data_location: None,
        location: leakhound::report::event::Location::Content,
    })
}

#[test]
fn entries_reach_a_real_journald_with_their_fields() {
    let j = Journald::start("a");
    let state = tempfile::tempdir().unwrap();
    let ident = "leakhound-test-a";
    let mut sink = j.sink(ident, state.path());
    let mut st = Stamper::new("r");
    let mut ids = Vec::new();
    for i in 0..50u64 {
        let env = st.stamp();
        ids.push(env.id.clone());
        let path = if i == 7 {
            "/srv/share/two\nlines.csv".to_string()
        } else {
            format!("/srv/share/export-{i}.csv")
        };
        sink.event(&env, &finding(i, &path, "inner.zip!a.txt"))
            .unwrap();
    }
    sink.finish().unwrap();

    let got = j.entries(ident, 50);
    assert_eq!(got.len(), 50, "entries in the journal: {}", got.len());
    let got_ids: Vec<String> = got.iter().map(|e| text(e, "LEAKHOUND_ID")).collect();
    assert_eq!(got_ids, ids, "every entry, once, in order");
    let e = &got[7];
    assert_eq!(text(e, "PRIORITY"), "3");
    assert_eq!(text(e, "LEAKHOUND_TYPE"), "finding");
    assert_eq!(text(e, "LEAKHOUND_KIND"), "card_visa");
    assert_eq!(text(e, "LEAKHOUND_MASKED"), "452601******3012");
    assert_eq!(
        text(e, "LEAKHOUND_PATH"),
        "/srv/share/two\nlines.csv",
        "a newline survives (binary field form)"
    );
    assert!(text(e, "MESSAGE").contains("452601******3012"));
    let ev: Value = serde_json::from_str(&text(e, "LEAKHOUND_EVENT")).unwrap();
    assert_eq!(ev["member"], "inner.zip!a.txt");
    assert_eq!(ev["line"], 8);
}

#[test]
fn an_entry_too_big_for_a_datagram_goes_through_a_memfd() {
    let j = Journald::start("b");
    let state = tempfile::tempdir().unwrap();
    let ident = "leakhound-test-b";
    let mut sink = j.sink(ident, state.path());
    // A member path of nested archives with long names: 256 KiB, written
    // three times in the entry (MESSAGE, LEAKHOUND_MEMBER, the JSON), well
    // over what the kernel takes in one datagram (about 208 KiB) and under
    // what the spool takes per event (1 MiB).
    let long_name = "n".repeat(64 * 1024 - 1);
    let member = [long_name.as_str(); 4].join("!");
    let mut st = Stamper::new("r");
    let small = st.stamp();
    let big = st.stamp();
    let after = st.stamp();
    sink.event(&small, &finding(1, "/srv/a.csv", "x.txt"))
        .unwrap();
    sink.event(&big, &finding(2, "/srv/b.zip", &member))
        .unwrap();
    sink.event(&after, &finding(3, "/srv/c.csv", "y.txt"))
        .unwrap();
    sink.finish().unwrap();

    let got = j.entries(ident, 3);
    let ids: Vec<String> = got.iter().map(|e| text(e, "LEAKHOUND_ID")).collect();
    assert_eq!(ids, [small.id, big.id, after.id]);
    let e = &got[1];
    assert_eq!(
        text(e, "LEAKHOUND_MEMBER"),
        member,
        "the big entry arrived whole"
    );
    let ev: Value = serde_json::from_str(&text(e, "LEAKHOUND_EVENT")).unwrap();
    assert_eq!(ev["member"].as_str().map(str::len), Some(member.len()));
}
