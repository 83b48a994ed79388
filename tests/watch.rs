//! The daemon, for real: `leakhound watch` on temporary roots with a real
//! NOTIFY_SOCKET (a unix datagram socket the test reads), real inotify, a
//! real SQLite state database and real signals.
//!
//! Deadlines are generous ("within seconds" means within 60 s here): they
//! catch a daemon that never reacts, not a slow one.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

/// A card number (a Mastercard test number) and how it must appear.
const CARD: &str = "5500 0000 0000 0004";
const CARD_RAW: &str = "5500000000000004";
const CARD_MASKED: &str = "550000******0004";
/// The standard example IBAN.
const IBAN: &str = "DE89 3704 0044 0532 0130 00";

struct Daemon {
    child: Child,
    /// Every datagram on NOTIFY_SOCKET, read as it comes by a thread (as
    /// systemd does), so the daemon's socket buffer never fills.
    notify: std::sync::mpsc::Receiver<String>,
    dir: PathBuf,
    messages: Vec<String>,
}

/// A test's directories: roots, state, events, config.
struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(dir.join("state")).unwrap();
        Setup { _tmp: tmp, dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Writes the configuration: `roots` is the YAML list of roots, `extra`
    /// more keys of the watch section.
    fn config(&self, roots: &str, extra: &str) -> PathBuf {
        self.config_with(roots, extra, "")
    }

    /// As [`Setup::config`], with more top-level sections (`policy`,
    /// `sinks`) in `top`.
    fn config_with(&self, roots: &str, extra: &str, top: &str) -> PathBuf {
        let text = format!(
            "state_dir: {state}\nwatch:\n{settle}  status_interval: 200ms\n  report_scanned: true\n  events_file: {events}\n{extra}  roots:\n{roots}",
            state = self.path("state").display(),
            events = self.path("events.jsonl").display(),
            settle = if extra.contains("settle:") {
                ""
            } else {
                "  settle: 300ms\n"
            },
        ) + top;
        let path = self.path("leakhound.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn start(&self, config: &Path) -> Daemon {
        self.start_with(config, &[])
    }

    fn start_with(&self, config: &Path, env: &[(&str, &str)]) -> Daemon {
        let sock_path = self.path(&format!("notify-{}.sock", rand_suffix()));
        let sock = UnixDatagram::bind(&sock_path).unwrap();
        let (tx, notify) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf) {
                if tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
                {
                    return;
                }
            }
        });
        let child = Command::new(env!("CARGO_BIN_EXE_leakhound"))
            .args(["--log-level", "info", "--config"])
            .arg(config)
            .arg("watch")
            .env("NOTIFY_SOCKET", &sock_path)
            .env("LEAKHOUND_FINGERPRINT_KEY", "test-key")
            .env_remove("WATCHDOG_USEC")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path("stderr.txt")).unwrap())
            .spawn()
            .unwrap();
        let mut d = Daemon {
            child,
            notify,
            dir: self.dir.clone(),
            messages: Vec::new(),
        };
        d.wait_message("READY=1");
        d
    }
}

fn rand_suffix() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

impl Daemon {
    /// Waits for a datagram containing `needle` (after those already seen).
    fn wait_message(&mut self, needle: &str) -> String {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if let Ok(m) = self.notify.recv_timeout(Duration::from_millis(200)) {
                self.messages.push(m.clone());
                if m.contains(needle) {
                    return m;
                }
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "the daemon exited ({st}) before {needle}: {}",
                    self.stderr()
                );
            }
        }
        panic!(
            "no {needle} from the daemon in {DEADLINE:?}: {}",
            self.stderr()
        );
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.txt")).unwrap_or_default()
    }

    fn events(&self) -> Vec<Value> {
        read_events(&self.dir.join("events.jsonl"))
    }

    fn status(&self) -> Value {
        let text = std::fs::read(self.dir.join("state/status.json")).unwrap();
        serde_json::from_slice(&text).unwrap()
    }

    /// Waits until `pred` holds for the events, and returns them.
    fn wait_events(&self, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let evs = self.events();
            if pred(&evs) {
                return evs;
            }
            if start.elapsed() > DEADLINE {
                let brief: Vec<String> = evs
                    .iter()
                    .map(|e| format!("{} {} {} {}", e["type"], e["path"], e["kind"], e["bytes"]))
                    .collect();
                panic!(
                    "{what}: not seen in {DEADLINE:?}; events: {brief:#?}\nstatus: {:#}\nstderr: {}",
                    self.status(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `pred` holds for status.json, and returns it.
    fn wait_status(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let s = self.status();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > DEADLINE {
                panic!(
                    "{what}: not seen in {DEADLINE:?}; status: {s:#}\nstderr: {}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the start-up scan is done and nothing is queued or
    /// pending, in a status written after this call: `status.json` is
    /// rewritten every `status_interval`, so the file on disk may still
    /// describe the daemon as it was before the work the caller waits for.
    fn wait_idle(&self) -> Value {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        self.wait_status("idle", |s| {
            s["updated_ms"].as_u64().is_some_and(|t| t > since)
                && s["startup_scan_done"] == true
                && s["queue_depth"] == 0
                && s["pending"] == 0
                && s["walks"] == 0
        })
    }

    fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, sig).unwrap();
    }

    /// SIGTERM, and the exit status.
    fn stop(mut self) -> (std::process::ExitStatus, Vec<String>) {
        self.signal(rustix::process::Signal::TERM);
        self.wait_message("STOPPING=1");
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (st, std::mem::take(&mut self.messages));
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the daemon did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // Only whole lines: the daemon may be writing the last one.
    text.lines()
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn of_type<'a>(evs: &'a [Value], ty: &str, path: &Path) -> Vec<&'a Value> {
    let p = path.to_str().unwrap();
    evs.iter()
        .filter(|e| e["type"] == ty && e["path"] == p)
        .collect()
}

fn write(path: &Path, text: &str) {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// Neither the events nor the state directory hold the raw number.
fn assert_no_raw_values(dir: &Path) {
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        // The roots hold the test's data, and the quarantine store keeps
        // what it took as it was (encryption at rest is optional).
        if !entry.file_type().is_file()
            || entry.path().starts_with(dir.join("roots"))
            || entry.path().starts_with(dir.join("quarantine"))
        {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        for raw in [CARD_RAW, CARD, "DE89370400440532013000"] {
            assert!(
                !bytes.windows(raw.len()).any(|w| w == raw.as_bytes()),
                "{} holds a raw value",
                entry.path().display()
            );
        }
    }
}

#[test]
fn new_moved_renamed_maildir_and_mbox_files_are_scanned_within_seconds() {
    let s = Setup::new();
    let (files, maildir, mbox) = (
        s.path("roots/files"),
        s.path("roots/mail"),
        s.path("roots/mbox"),
    );
    for d in [
        &files,
        &maildir.join("new"),
        &maildir.join("cur"),
        &maildir.join("tmp"),
        &mbox,
    ] {
        std::fs::create_dir_all(d).unwrap();
    }
    let config = s.config(
        &format!(
            "    - path: {}\n    - path: {}\n      kind: maildir\n    - path: {}\n      kind: mbox\n",
            files.display(),
            maildir.display(),
            mbox.display()
        ),
        "",
    );
    let d = s.start(&config);

    // A file written in place.
    let a = files.join("a.txt");
    write(&a, &format!("order 1\ncard {CARD} paid\n"));
    let evs = d.wait_events("finding in a.txt", |e| {
        !of_type(e, "finding", &a).is_empty()
    });
    let f = of_type(&evs, "finding", &a)[0];
    assert_eq!(f["masked"], CARD_MASKED);
    assert_eq!(f["line"], 2);

    // A file moved in from outside the roots.
    let outside = s.path("outside.txt");
    write(&outside, &format!("{IBAN}\n"));
    let b = files.join("b.txt");
    std::fs::rename(&outside, &b).unwrap();
    d.wait_events("finding in moved-in b.txt", |e| {
        !of_type(e, "finding", &b).is_empty()
    });

    // A directory moved in from outside, with files that brought no event.
    let outdir = s.path("outdir");
    write(&outdir.join("deep/c.txt"), &format!("{CARD}\n"));
    let c = files.join("in/deep/c.txt");
    std::fs::rename(&outdir, files.join("in")).unwrap();
    d.wait_events("finding in a moved-in directory", |e| {
        !of_type(e, "finding", &c).is_empty()
    });

    // A directory renamed inside the root: its files are known, not new.
    d.wait_idle();
    let before = d.events().len();
    std::fs::rename(files.join("in"), files.join("renamed")).unwrap();
    // A new file in the renamed directory is seen: the watch followed it.
    let e2 = files.join("renamed/deep/e.txt");
    write(&e2, &format!("{CARD}\n"));
    let evs = d.wait_events("finding in a renamed directory", |e| {
        !of_type(e, "finding", &e2).is_empty()
    });
    d.wait_idle();
    let evs_after = d.events();
    let moved = files.join("renamed/deep/c.txt");
    assert!(
        of_type(&evs_after, "file", &moved).is_empty(),
        "a renamed file was scanned again: {:#?}",
        &evs[before..]
    );

    // Maildir: delivered through tmp/ into new/, then read (moved to cur/).
    let tmp_msg = maildir.join("tmp/1700000000.M1P1.host");
    write(
        &tmp_msg,
        &format!("From: a@example.com\nSubject: order\n\nmy card is {CARD}\n"),
    );
    let new_msg = maildir.join("new/1700000000.M1P1.host");
    std::fs::rename(&tmp_msg, &new_msg).unwrap();
    let evs = d.wait_events("finding in a Maildir message", |e| {
        !of_type(e, "finding", &new_msg).is_empty()
    });
    assert!(
        of_type(&evs, "file", &tmp_msg).is_empty(),
        "tmp/ must not be scanned"
    );
    d.wait_idle();
    let cur_msg = maildir.join("cur/1700000000.M1P1.host:2,S");
    std::fs::rename(&new_msg, &cur_msg).unwrap();
    // Another message afterwards: once it is found, the move was handled.
    let second = maildir.join("new/1700000001.M2P1.host");
    write(&second, &format!("Subject: x\n\n{IBAN}\n"));
    d.wait_events("the second message", |e| {
        !of_type(e, "finding", &second).is_empty()
    });
    d.wait_idle();
    assert!(
        of_type(&d.events(), "file", &cur_msg).is_empty(),
        "a message moved from new/ to cur/ was scanned again"
    );

    // mbox: only what is appended is scanned, with whole-file lines.
    let inbox = mbox.join("alice");
    let first = format!("From a@x Mon Jan  1 00:00:00 2024\nSubject: 1\n\ncard {CARD}\n\n");
    write(&inbox, &first);
    d.wait_events("finding in the mbox", |e| {
        of_type(e, "finding", &inbox).len() == 1
    });
    d.wait_idle();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&inbox)
        .unwrap();
    let second = format!("From b@x Mon Jan  1 00:00:01 2024\nSubject: 2\n\n{IBAN}\n\n");
    f.write_all(second.as_bytes()).unwrap();
    drop(f);
    let evs = d.wait_events("the appended message", |e| {
        of_type(e, "finding", &inbox).len() >= 2
    });
    d.wait_idle();
    let evs = if evs.len() < d.events().len() {
        d.events()
    } else {
        evs
    };
    let found = of_type(&evs, "finding", &inbox);
    assert_eq!(
        found.len(),
        2,
        "the first message was scanned again: {found:#?}"
    );
    assert_eq!(found[1]["kind"], "iban");
    assert_eq!(found[1]["line"], 9, "{:#}", found[1]);
    let records = of_type(&evs, "file", &inbox);
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[1]["bytes"].as_u64().unwrap(),
        (second.len() as u64),
        "the append was not read alone: {:#}",
        records[1]
    );

    let (st, msgs) = d.stop();
    assert!(st.success(), "{st}");
    assert!(msgs.iter().any(|m| m.contains("STOPPING=1")));
    assert_no_raw_values(&s.dir);
}

#[test]
fn a_burst_of_files_is_scanned_exactly_once() {
    let count: usize = std::env::var("LEAKHOUND_BURST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let s = Setup::new();
    let root = s.path("roots/burst");
    std::fs::create_dir_all(&root).unwrap();
    let config = s.config(&format!("    - path: {}\n", root.display()), "");
    let d = s.start(&config);
    for i in 0..count {
        let dir = root.join(format!("d{:03}", i % 100));
        if i < 100 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        std::fs::write(
            dir.join(format!("f{i}.txt")),
            format!("n {i}\ncard {CARD}\n"),
        )
        .unwrap();
    }
    let start = Instant::now();
    let evs = loop {
        let evs = d.events();
        let files = evs.iter().filter(|e| e["type"] == "file").count();
        if files >= count {
            break evs;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "only {files} of {count} files scanned; status {:#}",
            d.status()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    d.wait_idle();
    let evs = if d.events().len() > evs.len() {
        d.events()
    } else {
        evs
    };
    let mut per_path: HashMap<&str, (u32, u32)> = HashMap::new();
    for e in &evs {
        let p = e["path"].as_str().unwrap_or("");
        match e["type"].as_str() {
            Some("file") => per_path.entry(p).or_default().0 += 1,
            Some("finding") => per_path.entry(p).or_default().1 += 1,
            _ => {}
        }
    }
    assert_eq!(per_path.len(), count, "files missed or unknown paths");
    let twice: Vec<_> = per_path
        .iter()
        .filter(|(_, v)| **v != (1, 1))
        .take(5)
        .collect();
    assert!(
        twice.is_empty(),
        "not exactly one scan and one finding: {twice:?}"
    );
    let (st, _) = d.stop();
    assert!(st.success());
}

#[test]
fn a_full_pending_set_becomes_a_rescan_and_nothing_is_missed() {
    let s = Setup::new();
    let root = s.path("roots/small");
    std::fs::create_dir_all(&root).unwrap();
    let config = s.config(
        &format!("    - path: {}\n", root.display()),
        "  max_pending: 100\n  settle: 2s\n",
    );
    let d = s.start(&config);
    d.wait_idle();
    let count = 2_000;
    for i in 0..count {
        std::fs::write(root.join(format!("f{i}.txt")), format!("card {CARD}\n")).unwrap();
    }
    let evs = d.wait_events("every file scanned", |e| {
        e.iter().filter(|e| e["type"] == "file").count() >= count
    });
    let status = d.wait_idle();
    assert!(status["rescans"].as_u64().unwrap() >= 2, "{status:#}");
    let mut seen = HashMap::new();
    for e in evs.iter().filter(|e| e["type"] == "file") {
        *seen
            .entry(e["path"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(seen.len(), count);
    assert!(seen.values().all(|n| *n == 1), "a file was scanned twice");
}

#[test]
fn sighup_reloads_rules_and_keeps_running_on_a_broken_config() {
    let s = Setup::new();
    let root = s.path("roots/r");
    let rules = s.path("rules");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&rules).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    std::fs::copy(shipped.join("cards.yaml"), rules.join("cards.yaml")).unwrap();
    let extra = format!("  rules_dir: {}\n", rules.display());
    let config = s.config(&format!("    - path: {}\n", root.display()), &extra);
    let good_config = std::fs::read_to_string(&config).unwrap();
    let mut d = s.start(&config);

    let file = root.join("both.txt");
    write(&file, &format!("card {CARD}\niban {IBAN}\n"));
    let evs = d.wait_events("the card", |e| !of_type(e, "finding", &file).is_empty());
    d.wait_idle();
    assert!(
        of_type(&evs, "finding", &file)
            .iter()
            .all(|f| f["kind"] != "iban")
    );
    let v1 = d.status()["rules_version"].clone();

    // New rules: the IBAN rule is added (with the bank table its Belgian
    // check reads, beside it in `tables/`), and the file is scanned again.
    std::fs::create_dir_all(rules.join("tables")).unwrap();
    std::fs::copy(
        shipped.join("tables/be_banks.txt"),
        rules.join("tables/be_banks.txt"),
    )
    .unwrap();
    std::fs::copy(shipped.join("iban.yaml"), rules.join("iban.yaml")).unwrap();
    d.signal(rustix::process::Signal::HUP);
    d.wait_message("RELOADING=1");
    d.wait_message("READY=1");
    let evs = d.wait_events("the IBAN after the reload", |e| {
        of_type(e, "finding", &file)
            .iter()
            .any(|f| f["kind"] == "iban")
    });
    let iban = of_type(&evs, "finding", &file)
        .into_iter()
        .find(|f| f["kind"] == "iban")
        .unwrap()
        .clone();
    assert_ne!(iban["rules_version"], v1);
    let st = d.wait_idle();
    assert_eq!(st["reloads"], 1);
    assert_ne!(st["rules_version"], v1);

    // A broken config: reported, and the running one stays.
    std::fs::write(&config, format!("{good_config}  bogus_key: 1\n")).unwrap();
    d.signal(rustix::process::Signal::HUP);
    d.wait_message("RELOADING=1");
    d.wait_message("READY=1");
    let st = d.wait_status("the failed reload", |s| s["reload_failures"] == 1);
    let err = st["last_error"].as_str().unwrap();
    assert!(err.contains("leakhound.yaml:"), "{err}");
    assert!(err.contains("bogus_key"), "{err}");
    assert!(err.contains("previous configuration"), "{err}");
    let after = root.join("after.txt");
    write(&after, &format!("{IBAN}\n"));
    d.wait_events("a finding after the failed reload", |e| {
        !of_type(e, "finding", &after).is_empty()
    });
    let (st, _) = d.stop();
    assert!(st.success());
}

#[test]
fn sigterm_drains_and_a_restart_rescans_only_what_changed() {
    let s = Setup::new();
    let root = s.path("roots/r");
    std::fs::create_dir_all(&root).unwrap();
    for i in 0..50 {
        write(&root.join(format!("f{i}.txt")), &format!("n{i}: {CARD}\n"));
    }
    let config = s.config(&format!("    - path: {}\n", root.display()), "");
    let d = s.start(&config);
    let st = d.wait_idle();
    assert_eq!(st["files_scanned"], 50, "{st:#}");
    let (code, _) = d.stop();
    assert!(code.success(), "{code}");
    let events_before = d_events(&s);
    assert_eq!(
        events_before
            .iter()
            .filter(|e| e["type"] == "finding")
            .count(),
        50
    );
    assert!(s.path("state/state.db").exists());

    // While stopped: one file changes, one is added.
    std::thread::sleep(Duration::from_millis(20));
    write(&root.join("f7.txt"), &format!("changed {CARD}\n"));
    write(&root.join("new.txt"), &format!("{CARD}\n"));
    let d = s.start(&config);
    let st = d.wait_idle();
    assert_eq!(st["files_unchanged"], 49, "{st:#}");
    assert_eq!(st["files_scanned"], 2, "{st:#}");
    let evs = d.events();
    let new_files: Vec<_> = evs[events_before.len()..]
        .iter()
        .filter(|e| e["type"] == "file")
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(new_files.len(), 2, "{new_files:?}");
    let (code, _) = d.stop();
    assert!(code.success());
    assert_no_raw_values(&s.dir);
}

fn d_events(s: &Setup) -> Vec<Value> {
    read_events(&s.path("events.jsonl"))
}

#[test]
fn a_broken_config_stops_the_start_with_its_line() {
    let s = Setup::new();
    let path = s.path("leakhound.yaml");
    std::fs::write(
        &path,
        "watch:\n  roots:\n    - path: /srv\n      kind: pst\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .arg("--config")
        .arg(&path)
        .arg("watch")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("leakhound.yaml:4"), "{err}");

    // A root that does not exist is named.
    std::fs::write(
        &path,
        format!(
            "state_dir: {}\nwatch:\n  roots:\n    - path: {}\n",
            s.path("state").display(),
            s.path("missing").display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .arg("--config")
        .arg(&path)
        .arg("watch")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing: cannot watch"), "{err}");
}

#[test]
fn status_reports_a_running_daemon_and_then_a_stopped_one() {
    let s = Setup::new();
    let root = s.path("roots/r");
    std::fs::create_dir_all(&root).unwrap();
    let config = s.config(&format!("    - path: {}\n", root.display()), "");
    let d = s.start(&config);
    d.wait_idle();
    let status = |json: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_leakhound"));
        c.arg("--config").arg(&config).arg("status");
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };
    let out = status(false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("running"), "{text}");
    assert!(
        text.contains(&format!("root {} (files): inotify", root.display())),
        "{text}"
    );
    let (code, _) = d.stop();
    assert!(code.success());
    let out = status(true);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "stopped");
}

#[test]
fn a_polled_root_is_scanned_and_the_watchdog_is_fed() {
    let s = Setup::new();
    let root = s.path("roots/nfs");
    std::fs::create_dir_all(&root).unwrap();
    let config = s.config(
        &format!(
            "    - path: {}\n      mode: poll\n      poll_interval: 200ms\n",
            root.display()
        ),
        "",
    );
    let mut d = s.start_with(&config, &[("WATCHDOG_USEC", "400000")]);
    d.wait_message("WATCHDOG=1");
    let st = d.wait_idle();
    assert_eq!(st["roots"][0]["mode"], "poll every 200ms", "{st:#}");
    let f = root.join("x.txt");
    write(&f, &format!("{CARD}\n"));
    d.wait_events("a finding on a polled root", |e| {
        !of_type(e, "finding", &f).is_empty()
    });
    d.wait_message("WATCHDOG=1");
    let (code, _) = d.stop();
    assert!(code.success());
}

// ---------------------------------------------------------------------
// Containers, actions, sinks and metrics through the daemon.
// ---------------------------------------------------------------------

/// Standard base64 with line breaks every 76 characters, as MIME has it.
fn base64(data: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    let lines: Vec<String> = out
        .as_bytes()
        .chunks(76)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    lines.join("\n") + "\n"
}

/// A zip archive of `(name, text)` members, deflated.
fn zip_of(members: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(text.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A minimal .docx: the content types and one paragraph.
fn docx_with(text: &str) -> Vec<u8> {
    zip_of(&[
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#,
        ),
        (
            "word/document.xml",
            &format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"#
            ),
        ),
    ])
}

/// A message with a text body and a base64 attachment.
fn message_with_attachment(from_line: Option<&str>, name: &str, attached: &str) -> String {
    format!(
        "{}From: alice@example.com\nTo: bob@example.com\nDate: Mon, 1 Jan 2024 00:00:01 +0000\nSubject: statement\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"XYZ\"\n\n--XYZ\nContent-Type: text/plain\n\nsee the attachment\n--XYZ\nContent-Type: application/octet-stream; name=\"{name}\"\nContent-Disposition: attachment; filename=\"{name}\"\nContent-Transfer-Encoding: base64\n\n{}--XYZ--\n\n",
        from_line.map(|l| format!("{l}\n")).unwrap_or_default(),
        base64(attached.as_bytes())
    )
}

/// The findings for `path`, as (kind, member).
fn members(evs: &[Value], path: &Path) -> Vec<(String, Value)> {
    of_type(evs, "finding", path)
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or("").to_string(),
                f["member"].clone(),
            )
        })
        .collect()
}

#[test]
fn containers_dropped_into_roots_are_opened_and_findings_name_their_member() {
    let s = Setup::new();
    let (files, maildir, mbox) = (
        s.path("roots/files"),
        s.path("roots/mail"),
        s.path("roots/mbox"),
    );
    for d in [&files, &maildir.join("new"), &maildir.join("tmp"), &mbox] {
        std::fs::create_dir_all(d).unwrap();
    }
    let config = s.config(
        &format!(
            "    - path: {}\n    - path: {}\n      kind: maildir\n    - path: {}\n      kind: mbox\n",
            files.display(),
            maildir.display(),
            mbox.display()
        ),
        "",
    );
    let d = s.start(&config);
    d.wait_idle();

    // gzip: the decompressed text is the file itself (member null).
    let gz = files.join("report.txt.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(format!("header\ncard {CARD}\n").as_bytes())
        .unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    // zip with a CSV inside a folder.
    let zip = files.join("export.zip");
    std::fs::write(
        &zip,
        zip_of(&[
            ("readme.txt", "nothing here\n"),
            ("data/customers.csv", &format!("name,card\nbob,{CARD}\n")),
        ]),
    )
    .unwrap();
    // docx.
    let docx = files.join("letter.docx");
    std::fs::write(&docx, docx_with(&format!("Your IBAN {IBAN} is on file."))).unwrap();
    // Maildir: delivered through tmp/ into new/, the IBAN only in a base64
    // attachment.
    let tmp_msg = maildir.join("tmp/1700000100.M1P1.host");
    write(
        &tmp_msg,
        &message_with_attachment(None, "statement.txt", &format!("iban {IBAN}\n")),
    );
    let new_msg = maildir.join("new/1700000100.M1P1.host");
    std::fs::rename(&tmp_msg, &new_msg).unwrap();

    let evs = d.wait_events("findings in every container", |e| {
        [&gz, &zip, &docx, &new_msg]
            .iter()
            .all(|p| !of_type(e, "finding", p).is_empty())
    });
    assert_eq!(
        members(&evs, &gz),
        vec![("card_mastercard".to_string(), Value::Null)]
    );
    assert_eq!(
        members(&evs, &zip),
        vec![("card_mastercard".to_string(), "data/customers.csv".into())]
    );
    assert_eq!(
        members(&evs, &docx),
        vec![("iban".to_string(), "word/document.xml".into())]
    );
    assert_eq!(
        members(&evs, &new_msg),
        vec![(
            "iban".to_string(),
            "message!attachment statement.txt".into()
        )]
    );
    for p in [&gz, &zip, &docx, &new_msg] {
        let f = of_type(&evs, "file", p);
        assert_eq!(f.len(), 1, "{}: {f:#?}", p.display());
        assert_eq!(f[0]["status"], "scanned", "{:#}", f[0]);
    }

    // mbox: a first message with a number in its body, then a second one
    // appended, with a number only in a base64 part.
    d.wait_idle();
    let inbox = mbox.join("carol");
    let first = format!(
        "From alice@example.com Mon Jan  1 00:00:00 2024\nFrom: alice@example.com\nTo: carol@example.com\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nSubject: hello\n\nmy IBAN is {IBAN}\n\n"
    );
    write(&inbox, &first);
    d.wait_events("the first mbox message", |e| {
        of_type(e, "finding", &inbox).len() == 1
    });
    let before = d.wait_idle()["bytes_scanned"].as_u64().unwrap();
    let second = message_with_attachment(
        Some("From alice@example.com Mon Jan  1 00:00:01 2024"),
        "numbers.txt",
        &format!("card {CARD}\n"),
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&inbox)
        .unwrap();
    f.write_all(second.as_bytes()).unwrap();
    drop(f);
    d.wait_events("the appended mbox message", |e| {
        of_type(e, "finding", &inbox).len() >= 2
    });
    d.wait_idle();
    let evs = d.events();
    let found = members(&evs, &inbox);
    assert_eq!(
        found.len(),
        2,
        "the first message was reported again: {found:?}"
    );
    assert_eq!(found[0].0, "iban");
    assert!(
        found[0].1.as_str().unwrap().starts_with("msg 1"),
        "{found:?}"
    );
    assert_eq!(
        found[1],
        (
            "card_mastercard".to_string(),
            "msg 2!attachment numbers.txt".into()
        ),
        "the appended message must be named by its place in the whole mbox"
    );
    assert_eq!(of_type(&evs, "file", &inbox).len(), 2);
    let after = d.status()["bytes_scanned"].as_u64().unwrap();
    assert_eq!(
        after - before,
        second.len() as u64,
        "the append was not read alone"
    );
    let (st, _) = d.stop();
    assert!(st.success());
    assert_no_raw_values(&s.dir);
}

/// Runs `leakhound` with `args` and returns stdout, asserting success.
fn leakhound(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .args(args)
        .env("LEAKHOUND_FINGERPRINT_KEY", "test-key")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "leakhound {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_daemon_quarantines_under_the_policy() {
    let s = Setup::new();
    let root = s.path("roots/share");
    let store = s.path("quarantine");
    std::fs::create_dir_all(&root).unwrap();
    let config = s.config_with(
        &format!("    - path: {}\n", root.display()),
        "",
        &format!(
            "policy:\n  default: quarantine\n  quarantine:\n    dir: {}\n",
            store.display()
        ),
    );
    let d = s.start(&config);
    d.wait_idle();
    let file = root.join("customers.csv");
    write(&file, &format!("name,card\nbob,{CARD}\n"));
    let evs = d.wait_events("the quarantine action", |e| {
        !of_type(e, "action", &file).is_empty()
    });
    let action = of_type(&evs, "action", &file)[0].clone();
    assert_eq!(action["action"], "quarantined", "{action:#}");
    let id = action["quarantine_id"].as_str().unwrap().to_string();
    assert!(!id.is_empty());
    assert!(!file.exists(), "the file is still in its place");
    assert_eq!(of_type(&evs, "finding", &file).len(), 1);

    let list = leakhound(&[
        "quarantine",
        "list",
        "--quarantine-dir",
        store.to_str().unwrap(),
    ]);
    assert!(list.contains(&id), "{list}");
    assert!(list.contains("customers.csv"), "{list}");
    // Its leaving brings no second scan or report.
    d.wait_idle();
    std::thread::sleep(Duration::from_millis(700));
    d.wait_idle();
    let evs = d.events();
    assert_eq!(of_type(&evs, "finding", &file).len(), 1);
    assert_eq!(of_type(&evs, "action", &file).len(), 1);
    let (st, _) = d.stop();
    assert!(st.success());
    assert_no_raw_values(&s.dir);
}

#[test]
fn the_daemon_redacts_and_does_not_report_its_own_rewrite() {
    let s = Setup::new();
    let root = s.path("roots/share");
    std::fs::create_dir_all(&root).unwrap();
    let config = s.config_with(
        &format!("    - path: {}\n", root.display()),
        "",
        "policy:\n  default: redact\n",
    );
    let d = s.start(&config);
    d.wait_idle();
    let file = root.join("notes.txt");
    write(&file, &format!("call bob\ncard {CARD} ok\n"));
    let evs = d.wait_events("the redaction", |e| !of_type(e, "action", &file).is_empty());
    let action = of_type(&evs, "action", &file)[0].clone();
    assert_eq!(action["action"], "redacted", "{action:#}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(CARD), "not redacted: {text}");
    assert!(text.starts_with("call bob\ncard "), "{text}");

    // The rename over the original is an inotify event: the daemon scans
    // the rewritten file (a new inode) and finds nothing in it.
    let st = d.wait_status("the rewrite rescanned", |s| {
        s["files_scanned"].as_u64().unwrap_or(0) >= 2
    });
    assert_eq!(st["findings"], 1, "{st:#}");
    std::thread::sleep(Duration::from_millis(700));
    d.wait_idle();
    let evs = d.events();
    assert_eq!(
        of_type(&evs, "finding", &file).len(),
        1,
        "the redacted file was reported again"
    );
    assert_eq!(of_type(&evs, "action", &file).len(), 1, "acted twice");
    let files = of_type(&evs, "file", &file);
    assert_eq!(files.len(), 2, "{files:#?}");
    assert_eq!(files[1]["findings"], 0, "{:#}", files[1]);
    // The redaction's temporary file is never scanned.
    assert!(
        evs.iter().all(|e| !e["path"]
            .as_str()
            .unwrap_or("")
            .contains(".leakhound-redact-")),
        "a temporary file was scanned"
    );
    let (st, _) = d.stop();
    assert!(st.success());
}

/// A syslog collector over TCP with octet counting: every frame it reads,
/// in order; it closes a connection once the sender closed its side (which
/// is how the sender learns the frames were read).
struct Collector {
    port: u16,
    frames: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Collector {
    fn start() -> Collector {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let frames = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let f2 = frames.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let frames = f2.clone();
                std::thread::spawn(move || read_frames(conn, &frames));
            }
        });
        Collector { port, frames }
    }

    fn frames(&self) -> Vec<String> {
        self.frames.lock().unwrap().clone()
    }

    fn wait(&self, what: &str, pred: impl Fn(&[String]) -> bool) {
        let start = Instant::now();
        while !pred(&self.frames()) {
            assert!(
                start.elapsed() < DEADLINE,
                "{what}: not seen by the collector; frames: {:#?}",
                self.frames()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn read_frames(conn: std::net::TcpStream, frames: &std::sync::Mutex<Vec<String>>) {
    use std::io::{BufRead, Read};
    let mut r = std::io::BufReader::new(conn);
    loop {
        let mut len = Vec::new();
        match r.read_until(b' ', &mut len) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let Ok(n) = String::from_utf8_lossy(&len).trim().parse::<usize>() else {
            return;
        };
        let mut msg = vec![0u8; n];
        if r.read_exact(&mut msg).is_err() {
            return;
        }
        frames
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&msg).into_owned());
    }
}

#[test]
fn configured_sinks_get_the_events_and_survive_a_reload() {
    let s = Setup::new();
    let root = s.path("roots/share");
    std::fs::create_dir_all(&root).unwrap();
    let collector = Collector::start();
    let sink_file = s.path("sink.jsonl");
    let config = s.config_with(
        &format!("    - path: {}\n", root.display()),
        "",
        &format!(
            "sinks:\n  outputs:\n    - to: \"jsonl:{}\"\n    - to: \"syslog+tcp://127.0.0.1:{}\"\n",
            sink_file.display(),
            collector.port
        ),
    );
    let mut d = s.start(&config);
    d.wait_idle();
    let finding_for = |frames: &[String], p: &Path| {
        frames.iter().any(|f| {
            f.contains("\"type\":\"finding\"")
                && f.contains(&format!("\"path\":\"{}\"", p.display()))
        })
    };

    let one = root.join("one.txt");
    write(&one, &format!("{CARD}\n"));
    d.wait_events("the first finding", |e| {
        !of_type(e, "finding", &one).is_empty()
    });
    let start = Instant::now();
    while of_type(&read_events(&sink_file), "finding", &one).is_empty() {
        assert!(start.elapsed() < DEADLINE, "no finding in the jsonl sink");
        std::thread::sleep(Duration::from_millis(100));
    }
    collector.wait("the first finding", |f| finding_for(f, &one));
    let st = d.wait_status("the spool drained", |s| s["spool_depth"] == 0);
    assert!(st["spool_depth"].is_u64(), "{st:#}");

    // Reload with the spooled sink configured: its spool is let go and
    // taken again.
    d.signal(rustix::process::Signal::HUP);
    d.wait_message("RELOADING=1");
    d.wait_message("READY=1");
    let st = d.wait_status("the reload", |s| s["reloads"] == 1);
    assert_eq!(st["reload_failures"], 0, "{st:#}");
    assert!(st["last_error"].is_null(), "{st:#}");

    let two = root.join("two.txt");
    write(&two, &format!("{IBAN}\n"));
    d.wait_events("the finding after the reload", |e| {
        !of_type(e, "finding", &two).is_empty()
    });
    collector.wait("the finding after the reload", |f| {
        finding_for(f, &one) && finding_for(f, &two)
    });
    let start = Instant::now();
    while of_type(&read_events(&sink_file), "finding", &two).is_empty() {
        assert!(
            start.elapsed() < DEADLINE,
            "no second finding in the jsonl sink"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (st, _) = d.stop();
    assert!(st.success());
    assert!(
        !d_stderr(&s).contains("in use"),
        "the spool was still locked: {}",
        d_stderr(&s)
    );
    assert_no_raw_values(&s.dir);
}

fn d_stderr(s: &Setup) -> String {
    std::fs::read_to_string(s.path("stderr.txt")).unwrap_or_default()
}

/// `GET path` on the metrics endpoint: status line and body.
fn http_get(port: u16, path: &str) -> (String, String) {
    use std::io::Read;
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// The value of an unlabelled sample in the Prometheus text.
fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn metrics_are_served_on_loopback() {
    let s = Setup::new();
    let root = s.path("roots/share");
    std::fs::create_dir_all(&root).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = s.config(
        &format!("    - path: {}\n", root.display()),
        &format!("  metrics_listen: 127.0.0.1:{port}\n"),
    );
    let d = s.start(&config);
    d.wait_idle();
    let file = root.join("a.txt");
    let text = format!("card {CARD}\n");
    write(&file, &text);
    d.wait_events("the finding", |e| !of_type(e, "finding", &file).is_empty());
    d.wait_idle();

    let (status, body) = http_get(port, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert_eq!(
        sample(&body, "leakhound_files_scanned_total"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "leakhound_findings_total"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "leakhound_bytes_scanned_total"),
        Some(text.len() as f64),
        "{body}"
    );
    assert_eq!(sample(&body, "leakhound_queue_depth"), Some(0.0), "{body}");
    assert_eq!(sample(&body, "leakhound_errors_total"), Some(0.0), "{body}");
    assert_eq!(
        sample(&body, "leakhound_startup_scan_done"),
        Some(1.0),
        "{body}"
    );
    assert!(
        body.contains("# TYPE leakhound_findings_total counter"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE leakhound_queue_depth gauge"),
        "{body}"
    );
    // No spooled sink: no spool gauge.
    assert!(!body.contains("leakhound_spool_depth"), "{body}");
    let (status, _) = http_get(port, "/");
    assert!(status.contains("404"), "{status}");
    let (code, _) = d.stop();
    assert!(code.success());

    // Anything but loopback is refused by config check and by the daemon.
    let bad = s.config(
        &format!("    - path: {}\n", root.display()),
        "  metrics_listen: 0.0.0.0:9477\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .arg("--config")
        .arg(&bad)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loopback"), "{err}");
}

// ---------------------------------------------------------------------------
// Hardening (issue 11): D8, D9, D10, D13, D16, file modes, last_error.

/// Rewrites `path` in place (same inode) with `text`, of the same size,
/// and sets its mtime back as `touch -r` would.
fn rewrite_keeping_mtime(path: &Path, text: &str) {
    let before = std::fs::metadata(path).unwrap();
    assert_eq!(before.len(), text.len() as u64, "not the same size");
    // Past the filesystem's timestamp granularity: the ctime must move.
    std::thread::sleep(Duration::from_millis(30));
    std::fs::write(path, text).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(before.modified().unwrap())
        .unwrap();
    let after = std::fs::metadata(path).unwrap();
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());
    assert_eq!(after.len(), before.len());
}

/// A clean line exactly as long as `format!("{CARD}\n")`.
fn clean_line() -> String {
    format!("{}\n", "x".repeat(CARD.len()))
}

#[test]
fn d8_a_same_size_rewrite_hidden_by_touch_r_is_reported_live_and_after_a_restart() {
    let s = Setup::new();
    let root = s.path("roots/r");
    std::fs::create_dir_all(&root).unwrap();
    let live = root.join("live.txt");
    let offline = root.join("offline.txt");
    write(&live, &clean_line());
    write(&offline, &clean_line());
    let config = s.config(&format!("    - path: {}\n", root.display()), "");
    let d = s.start(&config);
    let st = d.wait_idle();
    assert_eq!(st["files_scanned"], 2, "{st:#}");

    rewrite_keeping_mtime(&live, &format!("{CARD}\n"));
    d.wait_events("the card written under the old mtime", |e| {
        !of_type(e, "finding", &live).is_empty()
    });
    let (code, _) = d.stop();
    assert!(code.success());

    // While the daemon is down.
    rewrite_keeping_mtime(&offline, &format!("{CARD}\n"));
    let d = s.start(&config);
    d.wait_events("the card written while the daemon was down", |e| {
        !of_type(e, "finding", &offline).is_empty()
    });
    let st = d.wait_idle();
    // Each card reported once: live.txt's row has the ctime of its
    // rewrite, so the restart does not report it again.
    let evs = d.events();
    assert_eq!(of_type(&evs, "finding", &live).len(), 1, "{st:#}");
    assert_eq!(of_type(&evs, "finding", &offline).len(), 1, "{st:#}");
    let (code, _) = d.stop();
    assert!(code.success());
    assert_no_raw_values(&s.dir);
}

/// Sets the ctime recorded in the state database to the file's: what an
/// attacker who could also forge the ctime (a clock set back) would get.
fn forge_row_ctime(state: &Path, file: &Path) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(file).unwrap();
    let conn = rusqlite::Connection::open(state.join("state.db")).unwrap();
    let n = conn
        .execute(
            "UPDATE files SET ctime_ns = ?1 WHERE dev = ?2 AND ino = ?3",
            rusqlite::params![
                m.ctime() * 1_000_000_000 + m.ctime_nsec(),
                m.dev() as i64,
                m.ino() as i64
            ],
        )
        .unwrap();
    assert_eq!(n, 1, "no row for {}", file.display());
}

#[test]
fn d8_rescan_verify_compares_the_content_when_every_stamp_matches() {
    let s = Setup::new();
    let root = s.path("roots/r");
    std::fs::create_dir_all(&root).unwrap();
    let file = root.join("a.txt");
    write(&file, &clean_line());
    let roots = format!("    - path: {}\n", root.display());
    let quick = s.config(&roots, "");
    let d = s.start(&quick);
    d.wait_idle();
    let (code, _) = d.stop();
    assert!(code.success());

    rewrite_keeping_mtime(&file, &format!("{CARD}\n"));
    forge_row_ctime(&s.path("state"), &file);
    // Every stamp matches: a quick start-up walk trusts the row.
    let d = s.start(&quick);
    let st = d.wait_idle();
    assert_eq!(st["files_unchanged"], 1, "{st:#}");
    assert!(of_type(&d.events(), "finding", &file).is_empty());
    let (code, _) = d.stop();
    assert!(code.success());

    // verify_interval: a periodic verifying walk finds it.
    let periodic = s.config(&roots, "  verify_interval: 1s\n");
    let d = s.start(&periodic);
    d.wait_events("the card found by the periodic verifying walk", |e| {
        !of_type(e, "finding", &file).is_empty()
    });
    let st = d.wait_idle();
    assert!(st["files_verified"].as_u64() >= Some(1), "{st:#}");
    let (code, _) = d.stop();
    assert!(code.success());

    // rescan: verify: the start-up walk reads it and compares its MAC.
    let other = "4526 0181 5908 3012\n";
    assert_eq!(other.len(), CARD.len() + 1);
    rewrite_keeping_mtime(&file, other);
    forge_row_ctime(&s.path("state"), &file);
    let verify = s.config(&roots, "  rescan: verify\n");
    let d = s.start(&verify);
    d.wait_events("the card found by the verifying start-up walk", |e| {
        of_type(e, "finding", &file).len() >= 2
    });
    let st = d.wait_idle();
    assert_eq!(st["files_verified"], 1, "{st:#}");
    let (code, _) = d.stop();
    assert!(code.success());
}

#[test]
fn d13_the_state_db_keeps_no_plain_digest_of_a_scanned_file() {
    use sha2::Digest;
    let s = Setup::new();
    let root = s.path("roots/r");
    std::fs::create_dir_all(&root).unwrap();
    let text = format!("{CARD}\n");
    let file = root.join("one-card.txt");
    write(&file, &text);
    let config = s.config(&format!("    - path: {}\n", root.display()), "");
    let d = s.start(&config);
    d.wait_events("the card", |e| !of_type(e, "finding", &file).is_empty());
    d.wait_idle();
    let (code, _) = d.stop();
    assert!(code.success());
    let digest = sha2::Sha256::digest(text.as_bytes());
    for entry in std::fs::read_dir(s.path("state")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(32).any(|w| w == digest.as_slice()),
            "{} holds the plain SHA-256 of the file",
            path.display()
        );
    }
    let conn = rusqlite::Connection::open(s.path("state/state.db")).unwrap();
    let mac: Vec<u8> = conn
        .query_row("SELECT mac FROM files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mac.len(), 32);
    assert_ne!(mac, digest.to_vec());
}

#[test]
fn d9_a_file_written_more_often_than_settle_is_scanned_while_it_is_written() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = Setup::new();
    let root = s.path("roots/logs");
    std::fs::create_dir_all(&root).unwrap();
    let log = root.join("app.log");
    write(&log, "start\n");
    let config = s.config(
        &format!("    - path: {}\n", root.display()),
        "  settle: 1s\n  max_settle: 3s\n",
    );
    let d = s.start(&config);
    d.wait_idle();

    let done = std::sync::Arc::new(AtomicBool::new(false));
    let writer = {
        let (log, done) = (log.clone(), done.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::File::options().append(true).open(&log).unwrap();
            for i in 0..50 {
                let line = match i {
                    3 => format!("line {i} card {CARD} paid\n"),
                    30 => format!("line {i} again {CARD}\n"),
                    _ => format!("line {i} nothing to see {}\n", "-".repeat(300)),
                };
                // One write per line, as loggers do.
                f.write_all(line.as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(300));
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    d.wait_events("a finding while the log is written", |e| {
        !of_type(e, "finding", &log).is_empty()
    });
    assert!(
        !done.load(Ordering::SeqCst),
        "the first finding came only after the writer stopped"
    );
    writer.join().unwrap();
    let evs = d.wait_events("both findings", |e| of_type(e, "finding", &log).len() >= 2);
    let st = d.wait_idle();
    let evs = if evs.len() < d.events().len() {
        d.events()
    } else {
        evs
    };
    let text = std::fs::read_to_string(&log).unwrap();
    let findings = of_type(&evs, "finding", &log);
    assert_eq!(findings.len(), 2, "{findings:#?}");
    // Offsets and lines are those of the whole file, though only the
    // appended part was read.
    let mut expected = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(col) = line.find(CARD) {
            let offset = text.lines().take(n).map(|l| l.len() + 1).sum::<usize>() + col;
            expected.push((n as u64 + 1, offset as u64));
        }
    }
    let got: Vec<(u64, u64)> = findings
        .iter()
        .map(|f| (f["line"].as_u64().unwrap(), f["offset"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, expected);
    // Scanned several times, each time from where the last scan stopped
    // (less 512 bytes read again for context): the bytes read are about
    // the file's, not a multiple of it.
    let scans = of_type(&evs, "file", &log).len() as u64;
    assert!(scans >= 3, "only {scans} scans");
    let bytes = st["bytes_scanned"].as_u64().unwrap();
    eprintln!(
        "{scans} scans read {bytes} bytes of a log of {} bytes",
        text.len()
    );
    assert!(
        bytes <= text.len() as u64 + scans * 512 + 64,
        "{bytes} bytes read for a file of {} in {scans} scans",
        text.len()
    );
    let (code, _) = d.stop();
    assert!(code.success());
}

/// A filesystem that is full: a 1 MiB tmpfs filled up (as root). Where
/// mount is refused (not root, or a container without CAP_SYS_ADMIN), a
/// store that cannot be created stands for it: `dir` is a regular file, so
/// the store under it fails with ENOTDIR. `free` makes room again.
struct FullDisk {
    dir: PathBuf,
    mounted: bool,
}

impl FullDisk {
    fn new(dir: PathBuf) -> FullDisk {
        std::fs::create_dir_all(&dir).unwrap();
        // LEAKHOUND_TEST_NO_MOUNT=1 tries the stand-in as root.
        let mounted = std::env::var_os("LEAKHOUND_TEST_NO_MOUNT").is_none()
            && Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs"])
                .arg(&dir)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if mounted {
            let mut f = std::fs::File::create(dir.join("filler")).unwrap();
            let block = vec![0x55u8; 4096];
            while f.write_all(&block).is_ok() {}
            assert!(
                std::fs::write(dir.join("probe"), "x").is_err(),
                "the tmpfs is not full"
            );
        } else {
            eprintln!("mount refused: a store under a regular file stands for the full disk");
            std::fs::remove_dir(&dir).unwrap();
            std::fs::write(&dir, "not a directory").unwrap();
        }
        FullDisk { dir, mounted }
    }

    fn free(&self) {
        if self.mounted {
            std::fs::remove_file(self.dir.join("filler")).unwrap();
        } else {
            std::fs::remove_file(&self.dir).unwrap();
            std::fs::create_dir(&self.dir).unwrap();
        }
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

#[test]
fn d10_a_failed_action_is_reported_counted_and_retried_until_it_succeeds() {
    let s = Setup::new();
    let root = s.path("roots/share");
    std::fs::create_dir_all(&root).unwrap();
    let disk = FullDisk::new(s.path("full"));
    let store = s.path("full/quarantine");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = s.config_with(
        &format!("    - path: {}\n", root.display()),
        &format!(
            "  action_retry: 500ms\n  action_retry_max: 1s\n  metrics_listen: 127.0.0.1:{port}\n"
        ),
        &format!(
            "policy:\n  default: quarantine\n  quarantine:\n    dir: {}\n",
            store.display()
        ),
    );
    let d = s.start(&config);
    d.wait_idle();
    let file = root.join("customers.csv");
    write(&file, &format!("name,card\nbob,{CARD}\n"));
    let evs = d.wait_events("the failed action", |e| {
        !of_type(e, "action", &file).is_empty()
    });
    let action = of_type(&evs, "action", &file)[0].clone();
    assert_eq!(action["action"], "failed", "{action:#}");
    assert!(
        action["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{action:#}"
    );
    assert!(file.exists(), "the file left its place");
    let st = d.wait_status("the failure counted", |s| {
        s["actions_failed"].as_u64() >= Some(1) && s["actions_due"] == 1
    });
    assert!(st["errors"].as_u64() >= Some(1), "{st:#}");
    let err = st["last_error"].as_str().unwrap();
    assert!(err.contains("customers.csv"), "{err}");
    assert!(err.contains("action failed"), "{err}");
    let (_, body) = http_get(port, "/metrics");
    assert!(
        sample(&body, "leakhound_actions_failed_total").is_some_and(|n| n >= 1.0),
        "{body}"
    );
    assert_eq!(sample(&body, "leakhound_actions_due"), Some(1.0), "{body}");
    // Tried again with backoff, and failing again.
    d.wait_status("another try", |s| s["actions_failed"].as_u64() >= Some(2));
    let (code, _) = d.stop();
    assert!(code.success());

    // Still due after a restart, though the file did not change.
    let d = s.start(&config);
    let seen = d.events().len();
    d.wait_events("a try after the restart", |e| {
        e[seen..]
            .iter()
            .any(|e| e["type"] == "action" && e["path"] == file.to_str().unwrap())
    });
    disk.free();
    let evs = d.wait_events("the quarantine once there is room", |e| {
        of_type(e, "action", &file)
            .iter()
            .any(|a| a["action"] == "quarantined")
    });
    assert!(!file.exists(), "the file is still in its place");
    // The finding was reported once, not at every try.
    assert_eq!(of_type(&evs, "finding", &file).len(), 1);
    let st = d.wait_status("nothing due", |s| s["actions_due"] == 0);
    assert!(st["last_error"].is_string(), "{st:#}");
    let list = leakhound(&[
        "quarantine",
        "list",
        "--quarantine-dir",
        store.to_str().unwrap(),
    ]);
    assert!(list.contains("customers.csv"), "{list}");
    let (code, _) = d.stop();
    assert!(code.success());
    // The store keeps the file as it was; the events, the state and the
    // log keep no raw value.
    drop(disk);
    for p in [s.path("events.jsonl"), s.path("stderr.txt")] {
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            !text.contains(CARD) && !text.contains(CARD_RAW),
            "{}",
            p.display()
        );
    }
    assert_no_raw_values(&s.path("state"));
}

#[test]
fn state_files_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let s = Setup::new();
    let root = s.path("roots/share");
    std::fs::create_dir_all(&root).unwrap();
    let collector = Collector::start();
    let config = s.config_with(
        &format!("    - path: {}\n", root.display()),
        "",
        &format!(
            "sinks:\n  outputs:\n    - to: \"syslog+tcp://127.0.0.1:{}\"\n",
            collector.port
        ),
    );
    // The umask a daemon started by hand or by an init script often has.
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    let d = s.start(&config);
    rustix::process::umask(old);
    let file = root.join("a.txt");
    write(&file, &format!("{CARD}\n"));
    d.wait_events("the finding", |e| !of_type(e, "finding", &file).is_empty());
    collector.wait("the finding", |f| !f.is_empty());
    d.wait_idle();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut checked = Vec::new();
    for entry in walkdir::WalkDir::new(s.path("state")) {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        // status.json is for `leakhound status`: counters, no values.
        // The directories' modes are the operator's (systemd's
        // StateDirectoryMode=); the daemon makes its files private.
        if name == "status.json" || name.ends_with(".sock") || !entry.file_type().is_file() {
            continue;
        }
        let m = mode(entry.path());
        assert_eq!(m & 0o077, 0, "{} is {m:o}", entry.path().display());
        checked.push(name);
    }
    for name in ["state.db", "state.db-wal", "state.db-shm"] {
        assert!(checked.iter().any(|c| c == name), "{name}: {checked:?}");
    }
    assert!(
        checked.iter().any(|c| c.ends_with(".seg")),
        "no spool segment: {checked:?}"
    );
    assert_eq!(mode(&s.path("events.jsonl")), 0o640);
    let (code, _) = d.stop();
    assert!(code.success());
}

#[test]
fn a_good_reload_clears_the_error_of_a_failed_one_and_later_errors_show() {
    let s = Setup::new();
    let root = s.path("roots/r");
    std::fs::create_dir_all(&root).unwrap();
    let config = s.config(&format!("    - path: {}\n", root.display()), "");
    let good = std::fs::read_to_string(&config).unwrap();
    let mut d = s.start(&config);
    d.wait_idle();
    let reload = |d: &mut Daemon| {
        d.signal(rustix::process::Signal::HUP);
        d.wait_message("RELOADING=1");
        d.wait_message("READY=1");
    };
    std::fs::write(&config, format!("{good}  bogus_key: 1\n")).unwrap();
    reload(&mut d);
    let st = d.wait_status("the failed reload", |s| s["reload_failures"] == 1);
    assert!(
        st["last_error"].as_str().unwrap().contains("bogus_key"),
        "{st:#}"
    );

    std::fs::write(&config, &good).unwrap();
    reload(&mut d);
    let st = d.wait_status("the good reload", |s| s["reloads"] == 1);
    assert!(st["last_error"].is_null(), "{st:#}");
    assert_eq!(st["errors"], 1, "the count stays: {st:#}");

    std::fs::write(&config, format!("{good}  other_bogus_key: 1\n")).unwrap();
    reload(&mut d);
    let st = d.wait_status("the second failed reload", |s| s["reload_failures"] == 2);
    assert!(
        st["last_error"]
            .as_str()
            .unwrap()
            .contains("other_bogus_key"),
        "{st:#}"
    );
    let (code, _) = d.stop();
    assert!(code.success());
}

#[test]
fn d16_a_dripping_client_is_cut_at_the_deadline_and_blocks_no_one() {
    use std::io::Read;
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = Setup::new();
    let root = s.path("roots/r");
    std::fs::create_dir_all(&root).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = s.config(
        &format!("    - path: {}\n", root.display()),
        &format!("  metrics_listen: 127.0.0.1:{port}\n"),
    );
    let d = s.start(&config);
    d.wait_idle();

    // One byte a second, for up to 20 s: under the old per-read timeout
    // of 2 s it was never cut, and the one thread served no one else.
    let cut = std::sync::Arc::new(AtomicBool::new(false));
    let dripper = {
        let cut = cut.clone();
        std::thread::spawn(move || {
            let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
            let start = Instant::now();
            let request = b"GET /metrics HTTP/1.1\r\nHost: a-very-slow-client\r\n\r\n";
            for b in request.iter().cycle() {
                if c.write_all(&[*b]).is_err() {
                    break;
                }
                // Waits a second; a connection the server closed reads as
                // EOF (or a reset) at once.
                let mut one = [0u8; 1];
                match c.read(&mut one) {
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    _ => break,
                }
                if start.elapsed() > Duration::from_secs(20) {
                    return start.elapsed();
                }
            }
            cut.store(true, Ordering::SeqCst);
            start.elapsed()
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let (status, body) = http_get(port, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("leakhound_files_scanned_total"));
    assert!(
        !cut.load(Ordering::SeqCst),
        "the dripping client was cut before the other was answered"
    );
    let held = dripper.join().unwrap();
    eprintln!("the dripping client was held {held:?}");
    assert!(
        held < Duration::from_secs(10),
        "the dripping client was held {held:?}"
    );
    let (code, _) = d.stop();
    assert!(code.success());
}

#[test]
fn d9_a_container_scanned_before_it_settles_is_not_reported_broken() {
    let s = Setup::new();
    let root = s.path("roots/r");
    std::fs::create_dir_all(&root).unwrap();
    let config = s.config(
        &format!("    - path: {}\n", root.display()),
        "  settle: 1s\n  max_settle: 1s\n",
    );
    let d = s.start(&config);
    d.wait_idle();
    // A zip copied slowly: scanned (max_settle) while half there.
    let zip = zip_of(&[("data.csv", &format!("name,card\nbob,{CARD}\n"))]);
    let file = root.join("export.zip");
    let mut f = std::fs::File::create(&file).unwrap();
    for piece in zip.chunks(zip.len().div_ceil(8)) {
        f.write_all(piece).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(400));
    }
    drop(f);
    let evs = d.wait_events("the finding in the whole zip", |e| {
        of_type(e, "file", &file)
            .iter()
            .any(|f| f["status"] == "scanned" && f["member"].is_null())
    });
    d.wait_idle();
    let evs = if d.events().len() > evs.len() {
        d.events()
    } else {
        evs
    };
    assert!(!of_type(&evs, "finding", &file).is_empty());
    let broken: Vec<_> = of_type(&evs, "file", &file)
        .into_iter()
        .filter(|f| f["status"] != "scanned")
        .collect();
    assert!(broken.is_empty(), "{broken:#?}");
    let (code, _) = d.stop();
    assert!(code.success());
}
