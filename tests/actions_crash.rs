//! Never lose data: the binary is killed with SIGKILL at every named step
//! of redact, quarantine, restore and purge (`LEAKHOUND_FAULT`), and at
//! random instants over many runs. After each crash, and after the
//! recovery the next start runs, every file must be either intact at its
//! path (same SHA-256), fully redacted, or in the quarantine store with the
//! same hash; the manifest must agree with the objects in the store; and no
//! raw number may be left anywhere outside the store.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::Digest;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_leakhound");
const VISA_GROUPED: &str = "4526 0181 5908 3012";
const VISA_MASKED: &str = "**** **** **** 3012";
const FILES: usize = 6;

fn sha(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct Case {
    root: TempDir,
    state: TempDir,
    store_parent: TempDir,
    originals: BTreeMap<String, Vec<u8>>,
    /// The originals' inode numbers: a file with one of them is an
    /// original itself, wherever it is, not a copy.
    inodes: BTreeSet<u64>,
}

impl Case {
    fn new() -> Case {
        let case = Case {
            root: tempfile::tempdir().unwrap(),
            state: tempfile::tempdir().unwrap(),
            store_parent: tempfile::tempdir().unwrap(),
            originals: BTreeMap::new(),
            inodes: BTreeSet::new(),
        };
        let mut case = case;
        for i in 0..FILES {
            let name = format!("f{i}.txt");
            // Files of a few sizes, so some copies take longer than others.
            let filler = "lorem ipsum dolor sit amet\n".repeat(i * 400);
            let body = format!("file {i}\n{filler}card {VISA_GROUPED}\nend {i}\n").into_bytes();
            fs::write(case.root.path().join(&name), &body).unwrap();
            let ino = fs::metadata(case.root.path().join(&name)).unwrap().ino();
            case.inodes.insert(ino);
            case.originals.insert(name, body);
        }
        case
    }

    fn store(&self) -> PathBuf {
        self.store_parent.path().join("q")
    }

    fn cmd(&self, fault: Option<&str>) -> Command {
        let mut c = Command::new(BIN);
        c.env("LEAKHOUND_FINGERPRINT_KEY", "crash-test-key")
            .env("LEAKHOUND_STATE_DIR", self.state.path())
            .env_remove("LEAKHOUND_CONFIG")
            .env_remove("LEAKHOUND_FAULT")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(f) = fault {
            c.env("LEAKHOUND_FAULT", f);
        }
        c
    }

    fn scan(&self, action: &str, fault: Option<&str>) -> Command {
        let mut c = self.cmd(fault);
        c.arg("scan")
            .arg(self.root.path())
            .args([
                "--action",
                action,
                "-j1",
                "--progress",
                "never",
                "--quarantine-dir",
            ])
            .arg(self.store());
        c
    }

    fn quarantine(&self, args: &[&str], fault: Option<&str>) -> Command {
        let mut c = self.cmd(fault);
        c.arg("quarantine")
            .args(args)
            .arg("--quarantine-dir")
            .arg(self.store());
        c
    }

    fn redacted(&self, name: &str) -> Vec<u8> {
        String::from_utf8(self.originals[name].clone())
            .unwrap()
            .replace(VISA_GROUPED, VISA_MASKED)
            .into_bytes()
    }

    /// No file outside the store holds the raw number, except an original
    /// still at its own path, or an original itself (the same inode, so
    /// not a copy: same owner and mode) under the journaled temporary name
    /// it has between a redaction's exchange and its removal; the next
    /// start's recovery removes it, which `assert_redact_finished` checks.
    fn assert_no_raw_copies(&self) {
        for dir in [self.root.path(), self.state.path()] {
            for e in walk(dir) {
                let rel = e.strip_prefix(self.root.path()).ok();
                let is_original = rel
                    .and_then(|r| r.to_str())
                    .is_some_and(|r| self.originals.contains_key(r));
                if is_original {
                    continue;
                }
                let mid_swap = rel
                    .and_then(|r| r.to_str())
                    .is_some_and(|r| r.starts_with(".leakhound-redact-") && r.ends_with(".tmp"))
                    && fs::symlink_metadata(&e).is_ok_and(|m| self.inodes.contains(&m.ino()));
                if mid_swap {
                    continue;
                }
                let bytes = fs::read(&e).unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains(VISA_GROUPED),
                    "a raw copy outside the store: {}",
                    e.display()
                );
            }
        }
        for name in ["manifest.db", "manifest.db-wal"] {
            let bytes = fs::read(self.store().join(name)).unwrap_or_default();
            assert!(!String::from_utf8_lossy(&bytes).contains("4526018159083012"));
        }
    }

    /// Redaction: every file is the original or fully redacted, never
    /// anything else.
    fn assert_redact_atomic(&self) {
        self.assert_original_or_redacted();
        self.assert_no_raw_copies();
    }

    /// Each file at its path is the original or fully redacted.
    fn assert_original_or_redacted(&self) {
        for (name, body) in &self.originals {
            let now = fs::read(self.root.path().join(name))
                .unwrap_or_else(|e| panic!("{name} is gone after a crash: {e}"));
            assert!(
                &now == body || now == self.redacted(name),
                "{name} is neither the original nor the redacted file"
            );
        }
    }

    /// After redaction recovery and a clean rerun: all redacted, nothing left
    /// beside them, the journal empty.
    fn assert_redact_finished(&self) {
        let names: BTreeSet<String> = fs::read_dir(self.root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let want: BTreeSet<String> = self.originals.keys().cloned().collect();
        assert_eq!(names, want, "temporary files left beside the originals");
        for name in self.originals.keys() {
            assert_eq!(
                fs::read(self.root.path().join(name)).unwrap(),
                self.redacted(name)
            );
        }
        let journal = self.state.path().join("journal");
        let left = fs::read_dir(&journal).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "journal entries left");
    }

    /// Quarantine, after recovery: each file is intact at its path or in
    /// the store with the same hash, and manifest and objects agree.
    fn assert_quarantine_consistent(&self) {
        let rows = self.rows();
        let objects: BTreeSet<String> = fs::read_dir(self.store().join("objects"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let mut in_store: BTreeMap<String, String> = BTreeMap::new();
        let mut done_ids = BTreeSet::new();
        for r in &rows {
            let state = r["state"].as_str().unwrap();
            assert!(
                state == "done" || state == "restored",
                "a row left in state {state} after recovery"
            );
            let id = r["id"].as_str().unwrap().to_string();
            if state == "done" {
                let obj = fs::read(self.store().join("objects").join(&id))
                    .unwrap_or_else(|_| panic!("row {id} has no object"));
                let file = Path::new(r["path"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                // The manifest keeps no plaintext hash (D13): the object
                // is compared with the original itself.
                assert_eq!(
                    sha(&obj),
                    sha(&self.originals[&file]),
                    "object {id} damaged"
                );
                in_store.insert(file, sha(&obj));
                done_ids.insert(id);
            }
        }
        assert_eq!(objects, done_ids, "objects and manifest disagree");
        for (name, body) in &self.originals {
            let at_path = fs::read(self.root.path().join(name)).ok();
            let intact = at_path.as_deref() == Some(body.as_slice());
            let stored = in_store.get(name) == Some(&sha(body));
            assert!(
                intact || stored,
                "{name} is neither intact at its path nor in the store"
            );
            if !intact {
                assert!(at_path.is_none(), "{name}: something else is at its path");
            }
        }
        self.assert_no_raw_copies();
    }

    fn rows(&self) -> Vec<Value> {
        if !self.store().join("manifest.db").exists() {
            return Vec::new();
        }
        let out = self
            .quarantine(&["list", "--json"], None)
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        assert!(out.status.success(), "quarantine list failed");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn recover_quarantine(&self) {
        if self.store().join("manifest.db").exists() {
            let st = self.quarantine(&["recover"], None).status().unwrap();
            assert!(st.success(), "recover failed");
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_killed(st: std::process::ExitStatus, step: &str) {
    assert_eq!(st.signal(), Some(9), "not killed at {step}: {st:?}");
}

#[test]
fn redact_survives_sigkill_at_every_step() {
    for step in [
        "redact:after-journal",
        "redact:after-temp",
        "redact:after-rescan",
        "redact:before-exchange",
        "redact:after-exchange",
        "redact:after-rename",
        "redact:before-journal-end",
    ] {
        let case = Case::new();
        let st = case.scan("redact", Some(step)).status().unwrap();
        assert_killed(st, step);
        // After the exchange the original itself is under the journaled
        // temporary name (see `assert_no_raw_copies`).
        case.assert_redact_atomic();
        // The next start recovers and finishes the job.
        let st = case.scan("redact", None).status().unwrap();
        assert_eq!(st.code(), Some(1), "{step}: rerun");
        case.assert_redact_atomic();
        case.assert_redact_finished();
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .filename("app.log")
        .write(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, bytes).unwrap();
    enc.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(bytes), &mut out).ok()?;
    Some(out)
}

/// A message with the number in a 7bit body and, base64-encoded, in a
/// text attachment; its redacted form.
fn mail_pair(nl: &str) -> (String, String) {
    let b64 = "Y2FyZCA0NTI2IDAxODEgNTkwOCAzMDEyIGluIG1lc3NhZ2UgdHdvCg==";
    let b64_masked = "Y2FyZCAqKioqICoqKiogKioqKiAzMDEyIGluIG1lc3NhZ2UgdHdvCg==";
    let msg = [
        "From: a@example.com",
        "To: b@example.com",
        "Subject: crash",
        "Message-ID: <c@example.com>",
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed; boundary=\"b\"",
        "",
        "--b",
        "Content-Type: text/plain",
        "",
        &format!("card {VISA_GROUPED} in the body"),
        "--b",
        "Content-Type: text/plain; name=\"t.txt\"",
        "Content-Disposition: attachment; filename=\"t.txt\"",
        "Content-Transfer-Encoding: base64",
        "",
        b64,
        "--b--",
        "",
    ]
    .join(nl);
    let masked = msg
        .replace(VISA_GROUPED, VISA_MASKED)
        .replace(b64, b64_masked);
    (msg, masked)
}

/// gzip'd text, an .eml, a Maildir file and an mbox: a SIGKILL at each
/// step of the redaction leaves each file the original or fully redacted
/// (gzip compared decompressed), no raw copy beside it, and the next run
/// finishes the job.
#[test]
fn container_redaction_survives_sigkill_at_every_step() {
    let log = format!("{}paid {VISA_GROUPED}\n", "lorem ipsum\n".repeat(2000));
    let (eml, eml_masked) = mail_pair("\r\n");
    let (m1, m1_masked) = mail_pair("\n");
    let mbox = format!(
        "From a@example.com Mon Jan  1 00:00:00 2024\n{m1}\nFrom b@example.com Tue Jan  2 00:00:00 2024\n{m1}"
    );
    let mbox_masked = format!(
        "From a@example.com Mon Jan  1 00:00:00 2024\n{m1_masked}\nFrom b@example.com Tue Jan  2 00:00:00 2024\n{m1_masked}"
    );
    let files: [(&str, Vec<u8>, Vec<u8>); 4] = [
        (
            "app.log.gz",
            gzip(log.as_bytes()),
            log.replace(VISA_GROUPED, VISA_MASKED).into_bytes(),
        ),
        (
            "msg.eml",
            eml.clone().into_bytes(),
            eml_masked.clone().into_bytes(),
        ),
        (
            "1700000000.M1P1.host:2,S",
            eml.into_bytes(),
            eml_masked.into_bytes(),
        ),
        ("inbox.mbox", mbox.into_bytes(), mbox_masked.into_bytes()),
    ];
    let is_redacted = |name: &str, now: &[u8], want: &[u8]| {
        if name.ends_with(".gz") {
            now.starts_with(&[0x1f, 0x8b]) && gunzip(now).as_deref() == Some(want)
        } else {
            now == want
        }
    };
    for step in [
        "redact:after-journal",
        "redact:after-temp",
        "redact:after-rescan",
        "redact:after-rename",
        "redact:before-journal-end",
    ] {
        for (name, original, masked) in &files {
            let mut case = Case::new();
            for f in case.originals.keys() {
                fs::remove_file(case.root.path().join(f)).unwrap();
            }
            case.originals.clear();
            let path = case.root.path().join(name);
            fs::write(&path, original).unwrap();
            let st = case.scan("redact", Some(step)).status().unwrap();
            assert_killed(st, step);
            let now = fs::read(&path).unwrap_or_else(|e| panic!("{step} {name}: gone: {e}"));
            assert!(
                &now == original || is_redacted(name, &now, masked),
                "{step} {name}: neither the original nor the redacted file"
            );
            // Nothing but the original itself holds the raw number, even
            // decompressed.
            for dir in [case.root.path(), case.state.path()] {
                for p in walk(dir) {
                    let bytes = fs::read(&p).unwrap_or_default();
                    if p == path && &bytes == original {
                        continue;
                    }
                    let plain = gunzip(&bytes).unwrap_or_default();
                    for b in [&bytes, &plain] {
                        let text = String::from_utf8_lossy(b);
                        assert!(
                            !text.contains(VISA_GROUPED) && !text.contains("NTI2IDAxODEgNTkwOCAz"),
                            "{step} {name}: a raw copy at {}",
                            p.display()
                        );
                    }
                }
            }
            let st = case.scan("redact", None).status().unwrap();
            // 1: findings were left to redact; 0: the crash came after the rename.
            assert!(
                matches!(st.code(), Some(0 | 1)),
                "{step} {name}: rerun {st:?}"
            );
            let now = fs::read(&path).unwrap();
            assert!(
                is_redacted(name, &now, masked),
                "{step} {name}: not redacted after the rerun"
            );
            let left: Vec<_> = fs::read_dir(case.root.path()).unwrap().collect();
            assert_eq!(left.len(), 1, "{step} {name}: temporary files left");
            let journal = case.state.path().join("journal");
            assert_eq!(fs::read_dir(&journal).map(|d| d.count()).unwrap_or(0), 0);
        }
    }
}

#[test]
fn quarantine_survives_sigkill_at_every_step() {
    for step in [
        "quarantine:after-begin",
        "quarantine:after-copy",
        "quarantine:after-commit",
        "quarantine:after-remove",
    ] {
        let case = Case::new();
        let st = case.scan("quarantine", Some(step)).status().unwrap();
        assert_killed(st, step);
        case.recover_quarantine();
        case.assert_quarantine_consistent();
        // Finish the job: everything ends up in the store exactly once.
        case.scan("quarantine", None).status().unwrap();
        case.assert_quarantine_consistent();
        let done = case.rows().iter().filter(|r| r["state"] == "done").count();
        assert_eq!(done, FILES, "{step}: not every file is in the store once");
        for name in case.originals.keys() {
            assert!(!case.root.path().join(name).exists());
        }
    }
}

#[test]
fn restore_and_purge_survive_sigkill() {
    for step in [
        "restore:after-mark",
        "restore:after-temp",
        "restore:after-rename",
    ] {
        let case = Case::new();
        case.scan("quarantine", None).status().unwrap();
        let rows = case.rows();
        let id = rows[0]["id"].as_str().unwrap();
        let st = case
            .quarantine(&["restore", id], Some(step))
            .status()
            .unwrap();
        assert_killed(st, step);
        case.recover_quarantine();
        case.assert_quarantine_consistent();
        // Whatever the crash left, a restore can be finished.
        let rows = case.rows();
        let row = rows.iter().find(|r| r["id"] == id).unwrap();
        if row["state"] == "done" {
            let st = case.quarantine(&["restore", id], None).status().unwrap();
            assert!(st.success());
        }
        let file = Path::new(row["path"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(
            fs::read(case.root.path().join(&file)).unwrap(),
            case.originals[&file]
        );
        case.assert_quarantine_consistent();
    }
    let case = Case::new();
    case.scan("quarantine", None).status().unwrap();
    let st = case
        .quarantine(&["purge", "--older-than", "0s"], Some("purge:after-mark"))
        .status()
        .unwrap();
    assert_killed(st, "purge:after-mark");
    case.recover_quarantine();
    // The purged row and its object are both gone; the others agree.
    assert_eq!(case.rows().len(), FILES - 1);
    let objects = fs::read_dir(case.store().join("objects")).unwrap().count();
    assert_eq!(objects, FILES - 1);
}

/// xorshift64*: random instants without a dependency; the seed is printed
/// so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn random_sigkills_never_lose_a_file() {
    let seed = std::env::var("LEAKHOUND_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("LEAKHOUND_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    // Calibrate: how long one full run takes on this machine, so the
    // kills land across the whole run rather than all before or after.
    let calib = Case::new();
    let t = Instant::now();
    calib.scan("quarantine", None).status().unwrap();
    let full = t.elapsed().as_micros().max(1000) as u64;
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut runs = 0;
    let mut interrupted = 0;
    let mut mid_action = 0;
    while runs < 40 && Instant::now() < deadline {
        let case = Case::new();
        let quarantine = runs % 2 == 0;
        let action = if quarantine { "quarantine" } else { "redact" };
        let mut child = case.scan(action, None).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(rng.next() % (full * 3 / 2)));
        let _ = child.kill(); // SIGKILL
        let st = child.wait().unwrap();
        if st.signal() == Some(9) {
            interrupted += 1;
        }
        // Did the kill land between the first and the last file's action?
        let changed = case
            .originals
            .iter()
            .filter(|(n, b)| fs::read(case.root.path().join(n)).ok().as_ref() != Some(*b))
            .count();
        if changed > 0 && changed < FILES {
            mid_action += 1;
        }
        if quarantine {
            case.recover_quarantine();
            case.assert_quarantine_consistent();
        } else {
            case.assert_redact_atomic();
            case.scan("redact", None).status().unwrap();
            case.assert_redact_finished();
        }
        runs += 1;
    }
    eprintln!(
        "{runs} runs, {interrupted} killed before the end, {mid_action} between the first \
         and the last file's action (one full run: {full} us)"
    );
    assert!(runs >= 10, "too few runs in the time allowed");
}
