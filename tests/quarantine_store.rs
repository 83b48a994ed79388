//! The quarantine store under concurrency and attack (issue 11: D1, D2,
//! D4, D5, D6, D13, purge, read-only commands): the real binary on real
//! files, a real SQLite manifest, real `flock`s, several processes at once.
//!
//! `LEAKHOUND_TEST_BIN=/path/to/leakhound` runs these tests against another
//! build (how each was checked to fail on the code before its fix).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use tempfile::TempDir;

const CARD: &str = "4526 0181 5908 3012";
const CARD_RAW: &str = "4526018159083012";

fn bin() -> String {
    std::env::var("LEAKHOUND_TEST_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_leakhound").to_string())
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in ["state", "trees"] {
            fs::create_dir_all(env.dir.path().join(d)).unwrap();
        }
        env
    }

    fn tree(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join("trees").join(name);
        fs::create_dir_all(&p).unwrap();
        p
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("q")
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.env("LEAKHOUND_FINGERPRINT_KEY", "store-test-key")
            .env("LEAKHOUND_STATE_DIR", self.dir.path().join("state"))
            .env_remove("LEAKHOUND_CONFIG")
            .env_remove("LEAKHOUND_FAULT")
            .stdin(Stdio::null());
        c
    }

    fn scan_cmd(&self, root: &Path, action: &str, extra: &[&str]) -> Command {
        self.scan_cmd_in(root, action, extra, &self.store())
    }

    fn scan_cmd_in(&self, root: &Path, action: &str, extra: &[&str], store: &Path) -> Command {
        let mut c = self.cmd();
        c.arg("scan")
            .arg(root)
            .args([
                "--format",
                "jsonl",
                "--progress",
                "never",
                "--action",
                action,
            ])
            .arg("--quarantine-dir")
            .arg(store)
            .args(extra);
        c
    }

    /// Runs a scan; returns the action events by path.
    fn scan(&self, root: &Path, action: &str, extra: &[&str]) -> BTreeMap<String, Value> {
        let out = self.scan_cmd(root, action, extra).output().unwrap();
        assert_no_raw("scan", &out);
        actions(&out)
    }

    fn q(&self, args: &[&str]) -> Output {
        let out = self
            .cmd()
            .arg("quarantine")
            .args(args)
            .arg("--quarantine-dir")
            .arg(self.store())
            .output()
            .unwrap();
        assert_no_raw("quarantine", &out);
        out
    }

    fn rows(&self) -> Vec<Value> {
        let out = self.q(&["list", "--json"]);
        assert!(out.status.success(), "list failed: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn object(&self, id: &str) -> Option<Vec<u8>> {
        fs::read(self.store().join("objects").join(id)).ok()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_no_raw(what: &str, out: &Output) {
    for bytes in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(CARD) && !text.contains(CARD_RAW),
            "{what}: a raw number in the output"
        );
    }
}

fn actions(out: &Output) -> BTreeMap<String, Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "action")
        .map(|e| (e["path"].as_str().unwrap().to_string(), e))
        .collect()
}

fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn body(tag: &str) -> String {
    format!("{tag}\ncard {CARD}\nend\n")
}

/// Every file is in exactly one place: intact at its path, or in the store
/// (a `done` row with an object holding its bytes), never both, never
/// neither; objects and rows agree; nothing in `lost+found/`.
fn assert_each_file_in_one_place(env: &Env, files: &BTreeMap<PathBuf, String>, when: &str) {
    let rows = env.rows();
    let mut stored: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    let mut done_ids = BTreeSet::new();
    for r in &rows {
        let state = r["state"].as_str().unwrap();
        assert!(
            state == "done" || state == "restored",
            "{when}: a row left {state} although every process has exited"
        );
        if state == "done" {
            let id = r["id"].as_str().unwrap();
            let obj = env.object(id).unwrap_or_else(|| {
                panic!(
                    "{when}: row {id} has no object (lost+found: {:?}; row: {r})",
                    names(&env.store().join("lost+found"))
                )
            });
            stored
                .entry(r["path"].as_str().unwrap().to_string())
                .or_default()
                .push(obj);
            done_ids.insert(id.to_string());
        }
    }
    assert_eq!(
        names(&env.store().join("objects")),
        done_ids,
        "{when}: objects and manifest disagree"
    );
    assert!(
        names(&env.store().join("lost+found")).is_empty(),
        "{when}: a live object was taken for an orphan"
    );
    for (path, want) in files {
        let at_path = fs::read(path).ok();
        if let Some(b) = &at_path {
            assert_eq!(b, want.as_bytes(), "{when}: {} changed", path.display());
        }
        let copies = stored
            .get(path.to_str().unwrap())
            .map(|v| v.iter().filter(|o| o.as_slice() == want.as_bytes()).count())
            .unwrap_or(0);
        let places = usize::from(at_path.is_some()) + copies;
        assert_eq!(
            places,
            1,
            "{when}: {} is in {places} places (at its path: {}, stored copies: {copies})",
            path.display(),
            at_path.is_some()
        );
    }
}

/// `leakhound watch` quarantining under its policy in `root`, on the
/// store; stopped (SIGTERM) when dropped.
struct Daemon(std::process::Child);

impl Daemon {
    fn start(env: &Env, root: &Path) -> Daemon {
        fs::create_dir_all(env.dir.path().join("dstate")).unwrap();
        let dir = env.dir.path();
        let cfg = dir.join("watch.yaml");
        fs::write(
            &cfg,
            format!(
                "state_dir: {}\nwatch:\n  settle: 100ms\n  events_file: {}\n  roots:\n    - path: {}\npolicy:\n  default: quarantine\n  quarantine:\n    dir: {}\n",
                dir.join("dstate").display(),
                dir.join("events.jsonl").display(),
                root.display(),
                env.store().display()
            ),
        )
        .unwrap();
        let child = Command::new(bin())
            .arg("--config")
            .arg(&cfg)
            .arg("watch")
            .env("LEAKHOUND_FINGERPRINT_KEY", "store-test-key")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Daemon(child)
    }

    /// Waits until the daemon is idle: no operation under way in the store
    /// and nothing changing in `root` or the manifest for 400 ms (longer
    /// than its `settle`). A file it already quarantined once and that a
    /// restore put back with its old mtime is not quarantined again, so
    /// `root` need not end up empty.
    fn wait_settled(&mut self, env: &Env, root: &Path) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut last = None;
        loop {
            assert!(self.0.try_wait().unwrap().is_none(), "the daemon exited");
            let rows: Vec<(String, String)> = env
                .rows()
                .iter()
                .map(|r| (r["id"].to_string(), r["state"].to_string()))
                .collect();
            let objects = names(&env.store().join("objects"));
            let busy = rows
                .iter()
                .any(|(_, st)| st != "\"done\"" && st != "\"restored\"")
                || objects.iter().any(|n| n.ends_with(".part"));
            let now = (names(root), rows, objects);
            if !busy && last.as_ref() == Some(&now) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the daemon did not settle in 60 s"
            );
            last = Some(now);
            std::thread::sleep(std::time::Duration::from_millis(400));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_child(&self.0),
            rustix::process::Signal::TERM,
        );
        let _ = self.0.wait();
    }
}

/// D1: scans quarantining (two of them on the same tree), a daemon
/// quarantining in that tree too, `list` and `recover` loops and restores,
/// all at once on one store, 20 rounds.
#[test]
fn d1_concurrent_quarantine_list_recover_restore_never_lose_a_file() {
    const ROUNDS: usize = 20;
    const FILES: usize = 6;
    let env = Arc::new(Env::new());
    let trees = [env.tree("a"), env.tree("b")];
    let mut files: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut daemon = Daemon::start(&env, &trees[0]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    for round in 0..ROUNDS {
        for (t, tree) in trees.iter().enumerate() {
            for i in 0..FILES {
                let p = tree.join(format!("r{round}-f{i}.txt"));
                let b = body(&format!("round {round} tree {t} file {i}"));
                fs::write(&p, &b).unwrap();
                files.insert(p, b);
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut helpers = Vec::new();
        // A reader and a recoverer in a loop.
        for args in [&["list", "--json"][..], &["recover"][..]] {
            let (env, stop) = (env.clone(), stop.clone());
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            helpers.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = env
                        .cmd()
                        .arg("quarantine")
                        .args(&args)
                        .arg("--quarantine-dir")
                        .arg(env.store())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                }
            }));
        }
        // A restorer: puts back a few files stored in earlier rounds
        // while the scans run (they may quarantine them again).
        {
            let (env, stop) = (env.clone(), stop.clone());
            helpers.push(std::thread::spawn(move || {
                let mut restored = 0;
                while !stop.load(Ordering::Relaxed) && restored < 2 {
                    let Ok(out) = env
                        .cmd()
                        .arg("quarantine")
                        .args(["list", "--json", "--quarantine-dir"])
                        .arg(env.store())
                        .stderr(Stdio::null())
                        .output()
                    else {
                        continue;
                    };
                    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
                    if let Some(r) = rows.iter().find(|r| r["state"] == "done") {
                        let out = env
                            .cmd()
                            .arg("quarantine")
                            .args(["restore", r["id"].as_str().unwrap(), "--quarantine-dir"])
                            .arg(env.store())
                            .output()
                            .unwrap();
                        if !out.status.success() {
                            eprintln!("restore: {}", stderr(&out));
                        }
                        restored += 1;
                    }
                }
            }));
        }
        let scans: Vec<_> = [&trees[0], &trees[0], &trees[1]]
            .into_iter()
            .map(|t| {
                env.scan_cmd(t, "quarantine", &[])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut s in scans {
            s.wait().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        for h in helpers {
            h.join().unwrap();
        }
        daemon.wait_settled(&env, &trees[0]);
        assert_each_file_in_one_place(&env, &files, &format!("round {round}"));
    }
    drop(daemon);
    let by_daemon = fs::read_to_string(env.dir.path().join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"action\":\"quarantined\""))
        .count();
    eprintln!("the daemon quarantined {by_daemon} files");
    assert!(by_daemon > 0, "the daemon took no part");
    // And a last pass: everything still at a path goes into the store,
    // each exactly once.
    for t in &trees {
        env.scan(t, "quarantine", &[]);
    }
    assert_each_file_in_one_place(&env, &files, "final pass");
    for p in files.keys() {
        assert!(!p.exists(), "{} not quarantined", p.display());
    }
}

/// A row of an operation in progress, as another process writes it: the
/// columns every schema version has.
fn insert_pending_row(store: &Path, id: &str, path: &Path) {
    let db = rusqlite::Connection::open(store.join("manifest.db")).unwrap();
    db.execute(
        "INSERT INTO items (id, state, path, size, mode, uid, gid, mtime, mtime_nsec, dev, ino, time, time_unix, host)
         VALUES (?1, 'pending', ?2, 5, 420, 0, 0, 0, 0, 0, 0, '2026-01-01T00:00:00Z', 0, 'h')",
        rusqlite::params![id, path.to_string_lossy()],
    )
    .unwrap();
}

/// D1, deterministic: recovery leaves an operation alone while its owner
/// holds the operation's lock, and undoes it once the owner is gone.
#[test]
fn d1_recovery_leaves_an_operation_whose_owner_lives_alone() {
    let env = Env::new();
    let t = env.tree("t");
    fs::write(t.join("a.txt"), body("a")).unwrap();
    env.scan(&t, "quarantine", &[]);
    let id = "20260101T000000-0badcafe";
    let locks = env.store().join("locks");
    fs::create_dir_all(&locks).unwrap();
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(locks.join(id))
        .unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    insert_pending_row(&env.store(), id, &t.join("b.txt"));
    let part = env.store().join("objects").join(format!("{id}.part"));
    fs::write(&part, "half a copy").unwrap();
    fs::set_permissions(&part, fs::Permissions::from_mode(0o600)).unwrap();

    for args in [&["recover"][..], &["list"][..]] {
        let out = env.q(args);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = env.scan(&t, "quarantine", &[]);
    assert!(out.is_empty());
    assert!(part.exists(), "recovery removed a live operation's object");
    assert!(
        env.rows()
            .iter()
            .any(|r| r["id"] == id && r["state"] == "pending"),
        "recovery removed a live operation's row"
    );

    // The owner dies: its lock goes with it; now recovery undoes it.
    drop(lock);
    let out = env.q(&["recover"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!part.exists());
    assert!(env.rows().iter().all(|r| r["id"] != id));
    assert!(!locks.join(id).exists(), "lock file left behind");
}

/// The redaction journal: two redact runs sharing a state directory
/// deleted each other's temporary files through journal recovery.
#[test]
fn d1_redact_journal_recovery_leaves_a_live_redaction_alone() {
    use leakhound::actions::journal::Journal;
    let env = Env::new();
    let t = env.tree("t");
    let mine = env.tree("mine");
    let temp = ".leakhound-redact-livetest.tmp";
    fs::write(mine.join(temp), "redacted text being written").unwrap();
    let journal = Journal::new(env.dir.path().join("state").join("journal"));
    let entry = journal.begin("livetest", &mine, temp).unwrap();

    fs::write(t.join("c.txt"), body("c")).unwrap();
    let acts = env.scan(&t, "redact", &[]);
    assert_eq!(acts.len(), 1);
    assert!(acts.values().all(|a| a["action"] == "redacted"), "{acts:?}");
    assert!(
        mine.join(temp).exists(),
        "another run's recovery removed a live redaction's temporary file"
    );

    // This "process" dies without ending its entry: the next run cleans up.
    drop(entry);
    fs::write(t.join("d.txt"), body("d")).unwrap();
    env.scan(&t, "redact", &[]);
    assert!(
        !mine.join(temp).exists(),
        "a dead redaction's litter was left"
    );
}

/// The same, end to end: a long redact run, and short ones started one
/// after the other while it works (each starts with journal recovery), all
/// sharing one state directory: every file is redacted, none skipped.
#[test]
fn d1_concurrent_redact_runs_sharing_a_state_dir_all_succeed() {
    let env = Env::new();
    let big = env.tree("big");
    for i in 0..80 {
        fs::write(big.join(format!("{i}.txt")), body(&format!("big {i}"))).unwrap();
    }
    let long = env
        .scan_cmd(&big, "redact", &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut short = Vec::new();
    for i in 0..15 {
        let t = env.tree(&format!("small{i}"));
        fs::write(t.join("s.txt"), body(&format!("small {i}"))).unwrap();
        short.push(env.scan_cmd(&t, "redact", &[]).output().unwrap());
    }
    let long = long.wait_with_output().unwrap();
    let mut skipped = Vec::new();
    for out in short.iter().chain([&long]) {
        for (path, a) in actions(out) {
            if a["action"] != "redacted" {
                skipped.push(format!("{path}: {a}"));
            }
        }
    }
    assert!(
        skipped.is_empty(),
        "{} not redacted: {skipped:#?}",
        skipped.len()
    );
    assert_eq!(actions(&long).len(), 80);
    for e in fs::read_dir(&big).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".leakhound"), "litter: {name}");
        let text = fs::read_to_string(e.path()).unwrap();
        assert!(!text.contains(CARD), "{name} not redacted");
    }
}

/// D5: an emptied manifest is an error, not a fresh store; the objects
/// (the only copies) stay.
#[test]
fn d5_an_empty_manifest_is_an_error_and_the_objects_stay() {
    let env = Env::new();
    let t = env.tree("t");
    for i in 0..3 {
        fs::write(t.join(format!("{i}.txt")), body(&i.to_string())).unwrap();
    }
    env.scan(&t, "quarantine", &[]);
    let objects = names(&env.store().join("objects"));
    assert_eq!(objects.len(), 3);
    for f in ["manifest.db-wal", "manifest.db-shm"] {
        let _ = fs::remove_file(env.store().join(f));
    }
    fs::write(env.store().join("manifest.db"), "").unwrap();
    for args in [
        &["list"][..],
        &["recover"][..],
        &["purge", "--older-than", "0s"][..],
    ] {
        let out = env.q(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(
            stderr(&out).contains("refusing to start a new"),
            "{}",
            stderr(&out)
        );
    }
    // A scan with that store cannot quarantine, and says why.
    fs::write(t.join("new.txt"), body("new")).unwrap();
    let acts = env.scan(&t, "quarantine", &[]);
    let a = acts.values().next().unwrap();
    assert_eq!(a["action"], "failed", "{a}");
    assert!(t.join("new.txt").exists());
    assert_eq!(names(&env.store().join("objects")), objects);
    // The same with the manifest removed.
    fs::remove_file(env.store().join("manifest.db")).unwrap();
    let out = env.q(&["list"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(names(&env.store().join("objects")), objects);
}

/// D5: a manifest restored from an older backup: the newer objects have no
/// row. A read-only command warns and moves nothing; recovery moves them
/// to lost+found/ and says so; nothing deletes them.
#[test]
fn d5_objects_without_a_row_go_to_lost_and_found_never_deleted() {
    let env = Env::new();
    let t = env.tree("t");
    fs::write(t.join("old.txt"), body("old")).unwrap();
    env.scan(&t, "quarantine", &[]);
    // Every connection is closed: manifest.db holds everything.
    let backup = env.dir.path().join("manifest.backup");
    fs::copy(env.store().join("manifest.db"), &backup).unwrap();
    fs::write(t.join("new.txt"), body("new")).unwrap();
    env.scan(&t, "quarantine", &[]);
    let before = names(&env.store().join("objects"));
    assert_eq!(before.len(), 2);
    for f in ["manifest.db-wal", "manifest.db-shm"] {
        let _ = fs::remove_file(env.store().join(f));
    }
    fs::copy(&backup, env.store().join("manifest.db")).unwrap();

    let out = env.q(&["list"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stderr(&out).contains("no manifest row"), "{}", stderr(&out));
    assert_eq!(
        names(&env.store().join("objects")),
        before,
        "list changed the store"
    );

    let out = env.q(&["recover"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stderr(&out).contains("lost+found"), "{}", stderr(&out));
    let lost = names(&env.store().join("lost+found"));
    assert_eq!(lost.len(), 1);
    let moved =
        fs::read_to_string(env.store().join("lost+found").join(lost.first().unwrap())).unwrap();
    assert_eq!(moved, body("new"), "the orphan is the newer file, intact");
    assert_eq!(env.rows().len(), 1);
}

/// D4: a store another user controls, or reached through a link, is
/// refused; nothing is chmod'ed through a link.
#[test]
fn d4_a_store_not_ours_or_through_a_link_is_refused() {
    if !is_root() {
        eprintln!("skipped: needs root to give a directory to another user");
        return;
    }
    let env = Env::new();
    let t = env.tree("t");
    fs::write(t.join("a.txt"), body("a")).unwrap();
    env.scan(&t, "quarantine", &[]);
    let store = env.store();
    let refused = |what: &str, env: &Env| {
        let out = env.q(&["list"]);
        assert_eq!(out.status.code(), Some(2), "{what}: {out:?}");
        assert!(
            stderr(&out).contains("refused") || stderr(&out).contains("owned by"),
            "{what}: {}",
            stderr(&out)
        );
        fs::write(t.join("b.txt"), body("b")).unwrap();
        let acts = env.scan(&t, "quarantine", &[]);
        // A store that cannot be used fails the action (exit 4), never
        // silently: see docs/actions.md, "When an action fails".
        assert_eq!(acts.values().next().unwrap()["action"], "failed", "{what}");
        assert!(t.join("b.txt").exists(), "{what}");
    };

    // The store owned by another user (uid 65534, nobody).
    std::os::unix::fs::chown(&store, Some(65534), Some(65534)).unwrap();
    refused("store owned by nobody", &env);
    std::os::unix::fs::chown(&store, Some(0), Some(0)).unwrap();

    // Group- or world-writable.
    fs::set_permissions(&store, fs::Permissions::from_mode(0o770)).unwrap();
    refused("group-writable store", &env);
    fs::set_permissions(&store, fs::Permissions::from_mode(0o700)).unwrap();

    // objects/ a link to elsewhere.
    let elsewhere = env.dir.path().join("elsewhere");
    fs::rename(store.join("objects"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, store.join("objects")).unwrap();
    refused("objects/ a link", &env);
    fs::remove_file(store.join("objects")).unwrap();
    fs::rename(&elsewhere, store.join("objects")).unwrap();

    // manifest.db a link.
    fs::rename(store.join("manifest.db"), env.dir.path().join("m.db")).unwrap();
    std::os::unix::fs::symlink(env.dir.path().join("m.db"), store.join("manifest.db")).unwrap();
    refused("manifest.db a link", &env);
    fs::remove_file(store.join("manifest.db")).unwrap();
    fs::rename(env.dir.path().join("m.db"), store.join("manifest.db")).unwrap();
    assert!(env.q(&["list"]).status.success());

    // The store path a link (its target must not get chmod 0700).
    let target = env.dir.path().join("victim");
    fs::create_dir(&target).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).unwrap();
    let link = env.dir.path().join("qlink");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = env
        .scan_cmd_in(&t, "quarantine", &[], &link)
        .output()
        .unwrap();
    assert_no_raw("scan", &out);
    assert_eq!(actions(&out).values().next().unwrap()["action"], "failed");
    assert_eq!(fs::metadata(&target).unwrap().mode() & 0o777, 0o755);
    assert!(names(&target).is_empty());

    // A store inside a directory another user owns.
    let theirs = env.dir.path().join("theirs");
    fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let out = env
        .scan_cmd_in(&t, "quarantine", &[], &theirs.join("q"))
        .output()
        .unwrap();
    let a = actions(&out);
    let a = a.values().next().unwrap();
    assert_eq!(a["action"], "failed", "{a}");
    assert!(
        a["reason"].as_str().unwrap().contains("owned by uid 65534"),
        "{a}"
    );
    assert!(!theirs.join("q").exists());
}

/// D4: restore does not set setuid/setgid/sticky bits unless asked.
#[test]
fn d4_restore_drops_set_id_bits_unless_asked() {
    let env = Env::new();
    let t = env.tree("t");
    let p = t.join("tool.sh");
    fs::write(&p, body("tool")).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o4755)).unwrap();
    let acts = env.scan(&t, "quarantine", &[]);
    let id = acts.values().next().unwrap()["quarantine_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env.q(&["restore", &id]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stderr(&out).contains("--keep-special-bits"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o755);

    fs::set_permissions(&p, fs::Permissions::from_mode(0o4755)).unwrap();
    let acts = env.scan(&t, "quarantine", &[]);
    let id = acts.values().next().unwrap()["quarantine_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env.q(&["restore", &id, "--keep-special-bits"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o4755);
}

/// D2: restore never follows a link that replaced a directory on the
/// original path; it names it and points at `--to DIR`, which works.
#[test]
fn d2_restore_refuses_a_link_on_the_way_and_to_dir_works() {
    let env = Env::new();
    let t = env.tree("t");
    fs::create_dir(t.join("docs")).unwrap();
    let p = t.join("docs").join("secret.txt");
    fs::write(&p, body("secret")).unwrap();
    let acts = env.scan(&t, "quarantine", &[]);
    let id = acts.values().next().unwrap()["quarantine_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The owner of t swaps docs for a link to a directory root writes in.
    let victim = env.dir.path().join("profile.d");
    fs::create_dir(&victim).unwrap();
    fs::remove_dir(t.join("docs")).unwrap();
    std::os::unix::fs::symlink(&victim, t.join("docs")).unwrap();
    let out = env.q(&["restore", &id]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = stderr(&out);
    assert!(err.contains("docs is a symbolic link"), "{err}");
    assert!(err.contains("--to DIR"), "{err}");
    assert!(names(&victim).is_empty(), "restore wrote through the link");
    assert_eq!(env.rows()[0]["state"], "done");

    // --to through a link is refused too; --to a real directory works.
    let out = env.q(&["restore", &id, "--to", t.join("docs").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(names(&victim).is_empty());
    let safe = env.dir.path().join("safe");
    fs::create_dir(&safe).unwrap();
    let out = env.q(&["restore", &id, "--to", safe.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        fs::read_to_string(safe.join("secret.txt")).unwrap(),
        body("secret")
    );
}

/// D6: a GNU tar made by `tar`, a zip with an encrypted member and PDFs
/// the parser cannot read are quarantined byte for byte, and `--dry-run`
/// predicts exactly what the real run does.
#[test]
fn d6_unparsable_files_are_quarantined_and_dry_run_predicts_the_real_run() {
    let env = Env::new();
    let t = env.tree("t");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/containers");
    for f in ["encrypted.zip", "truncated.pdf", "badpage.pdf", "liar.tar"] {
        fs::copy(fixtures.join(f), t.join(f)).unwrap();
    }
    fs::create_dir(t.join("sub")).unwrap();
    fs::write(t.join("sub").join("c.txt"), body("in the tar")).unwrap();
    let st = Command::new("tar")
        .current_dir(&t)
        .args(["cf", "gnu.tar", "--format=gnu", "sub"])
        .status()
        .unwrap();
    assert!(st.success());
    fs::remove_dir_all(t.join("sub")).unwrap();
    fs::write(t.join("plain.txt"), body("plain")).unwrap();
    let originals: BTreeMap<String, Vec<u8>> = fs::read_dir(&t)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.to_string_lossy().into_owned(), fs::read(&p).unwrap())
        })
        .collect();

    let dry = env.scan(&t, "quarantine", &["--dry-run"]);
    let real = env.scan(&t, "quarantine", &[]);
    let summary = |m: &BTreeMap<String, Value>| -> BTreeMap<String, String> {
        m.iter()
            .map(|(p, a)| (p.clone(), a["action"].as_str().unwrap().to_string()))
            .collect()
    };
    assert_eq!(summary(&dry), summary(&real), "the dry run mispredicted");
    for name in ["gnu.tar", "encrypted.zip", "badpage.pdf", "plain.txt"] {
        let path = t.join(name).to_string_lossy().into_owned();
        assert_eq!(
            real.get(&path).map(|a| a["action"].clone()),
            Some(Value::from("quarantined")),
            "{name}: {real:?}"
        );
    }
    for (path, a) in &real {
        if a["action"] == "quarantined" {
            let id = a["quarantine_id"].as_str().unwrap();
            assert_eq!(
                env.object(id).as_deref(),
                Some(originals[path].as_slice()),
                "{path}: not a byte copy"
            );
            assert!(!Path::new(path).exists());
        }
    }
}

/// D13: the manifest keeps no unkeyed hash of the plaintext, and a store
/// written before (a `sha256` column) still opens, shows and restores; the
/// migration erases the old hashes from the file.
#[test]
fn d13_a_version_1_manifest_is_migrated_and_its_plaintext_hashes_erased() {
    use sha2::Digest;
    let env = Env::new();
    let t = env.tree("t");
    let store = env.store();
    fs::create_dir_all(store.join("objects")).unwrap();
    fs::set_permissions(&store, fs::Permissions::from_mode(0o700)).unwrap();
    let id = "20250101T000000-01020304";
    let content = body("old store");
    let sha: String = sha2::Sha256::digest(content.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    fs::write(store.join("objects").join(id), &content).unwrap();
    fs::set_permissions(
        store.join("objects").join(id),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    {
        let db = rusqlite::Connection::open(store.join("manifest.db")).unwrap();
        db.execute_batch(
            "CREATE TABLE items (
                id TEXT PRIMARY KEY, state TEXT NOT NULL, path TEXT NOT NULL,
                size INTEGER NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL,
                gid INTEGER NOT NULL, mtime INTEGER NOT NULL, mtime_nsec INTEGER NOT NULL,
                dev INTEGER NOT NULL, ino INTEGER NOT NULL, sha256 TEXT,
                findings TEXT NOT NULL DEFAULT '[]', time TEXT NOT NULL,
                time_unix INTEGER NOT NULL, host TEXT NOT NULL,
                tombstone INTEGER NOT NULL DEFAULT 0, restore_temp TEXT,
                restore_to TEXT, restored_to TEXT, encrypted INTEGER NOT NULL DEFAULT 0);",
        )
        .unwrap();
        db.execute(
            "INSERT INTO items (id, state, path, size, mode, uid, gid, mtime, mtime_nsec, dev, ino, sha256, time, time_unix, host)
             VALUES (?1, 'done', ?2, ?3, 416, 0, 0, 1700000000, 0, 0, 0, ?4, '2025-01-01T00:00:00Z', 1735689600, 'h')",
            rusqlite::params![id, t.join("old.txt").to_string_lossy(), content.len() as i64, sha],
        )
        .unwrap();
    }
    fs::set_permissions(store.join("manifest.db"), fs::Permissions::from_mode(0o600)).unwrap();

    // Read-only commands show it as it is, without the hash.
    let out = env.q(&["show", id]);
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&sha));
    // A changing command migrates, then restores (verified by the MAC).
    let out = env.q(&["restore", id]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read_to_string(t.join("old.txt")).unwrap(), content);
    for f in ["manifest.db", "manifest.db-wal"] {
        let bytes = fs::read(store.join(f)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&sha),
            "{f} still holds the plaintext SHA-256"
        );
    }
    let db = rusqlite::Connection::open(store.join("manifest.db")).unwrap();
    let cols: i64 = db
        .query_row(
            "SELECT count(*) FROM pragma_table_info('items') WHERE name = 'sha256'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(cols, 0);
    assert_eq!(
        fs::metadata(store.join("key")).unwrap().mode() & 0o777,
        0o600
    );

    // A new quarantine records a keyed MAC, not the plain hash.
    fs::write(t.join("new.txt"), &content).unwrap();
    env.scan(&t, "quarantine", &[]);
    for f in ["manifest.db", "manifest.db-wal"] {
        let bytes = fs::read(store.join(f)).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(&sha), "{f}");
    }
}

/// Purge: a bare number is refused (`--older-than 0` deleted everything),
/// `--dry-run` changes nothing and says what would go.
#[test]
fn purge_refuses_a_bare_number_and_dry_run_changes_nothing() {
    let env = Env::new();
    let t = env.tree("t");
    fs::write(t.join("a.txt"), body("a")).unwrap();
    env.scan(&t, "quarantine", &[]);
    for bare in ["0", "30"] {
        let out = env.q(&["purge", "--older-than", bare]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(stderr(&out).contains("unit"), "{}", stderr(&out));
    }
    let out = env.q(&["purge", "--older-than", "0s", "--dry-run"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("would have purged 1"));
    assert_eq!(env.rows().len(), 1);
    assert_eq!(names(&env.store().join("objects")).len(), 1);
}

/// Read-only commands work on a full file system (they used to run a
/// recovery that writes, and failed).
#[test]
fn list_and_show_work_on_a_full_disk() {
    if !is_root() {
        eprintln!("skipped: needs root to mount a small tmpfs");
        return;
    }
    let env = Env::new();
    let mnt = env.dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let t = env.tree("t");
    fs::write(t.join("a.txt"), body("a")).unwrap();
    let out = env
        .scan_cmd_in(&t, "quarantine", &[], &mnt.join("q"))
        .output()
        .unwrap();
    let id = actions(&out).values().next().unwrap()["quarantine_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Fill the file system.
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", mnt.join("fill").display()))
        .stderr(Stdio::null())
        .status();
    for args in [
        vec!["list"],
        vec!["list", "--json"],
        vec!["show", id.as_str()],
    ] {
        let out = env
            .cmd()
            .arg("quarantine")
            .args(&args)
            .arg("--quarantine-dir")
            .arg(mnt.join("q"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?} on a full disk: {}",
            stderr(&out)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(&id));
    }
    // A scan still reports the finding; the quarantine fails cleanly and
    // leaves the file where it is.
    fs::write(t.join("b.txt"), body("b")).unwrap();
    let out = env
        .scan_cmd_in(&t, "quarantine", &[], &mnt.join("q"))
        .output()
        .unwrap();
    assert_no_raw("scan", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"type\":\"finding\""), "{text}");
    let acts = actions(&out);
    let a = acts.values().next().unwrap();
    assert_eq!(a["action"], "failed", "{a}");
    assert_eq!(out.status.code(), Some(4), "an action failed: {out:?}");
    assert_eq!(fs::read_to_string(t.join("b.txt")).unwrap(), body("b"));
    assert!(
        names(&mnt.join("q").join("objects"))
            .iter()
            .all(|n| !n.ends_with(".part")),
        "a partial copy left in the store"
    );
}

/// A store whose making was interrupted (the directory, `objects/` and a
/// WAL-mode `manifest.db` without its table, no object yet) is made again,
/// not refused: there is nothing in it to lose.
#[test]
fn a_store_whose_making_was_interrupted_is_made_again() {
    let env = Env::new();
    let store = env.store();
    fs::create_dir_all(store.join("objects")).unwrap();
    fs::set_permissions(&store, fs::Permissions::from_mode(0o700)).unwrap();
    {
        let db = rusqlite::Connection::open(store.join("manifest.db")).unwrap();
        db.pragma_update(None, "journal_mode", "WAL").unwrap();
    }
    fs::set_permissions(store.join("manifest.db"), fs::Permissions::from_mode(0o600)).unwrap();
    let out = env.q(&["recover"]);
    assert!(out.status.success(), "{out:?}");
    let t = env.tree("t");
    fs::write(t.join("a.txt"), body("a")).unwrap();
    let acts = env.scan(&t, "quarantine", &[]);
    assert_eq!(acts.values().next().unwrap()["action"], "quarantined");
}
