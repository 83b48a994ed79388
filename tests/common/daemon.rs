//! One harness for the daemon end to end: `leakhound watch` on a fresh
//! root with a config written here, started with a `NOTIFY_SOCKET` so the
//! test knows when it is ready, files moved into the root as a real
//! program would write them, and the events file read until they are
//! reported (and checked for the suite's raw values that must never appear).

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use super::scan::{BIN, Suite};

/// A running `leakhound watch`, killed and reaped when dropped.
pub struct Daemon {
    suite: &'static Suite,
    child: Child,
    /// Kept open: the daemon keeps sending status to it.
    sock: UnixDatagram,
    _tmp: TempDir,
    /// The private directory (canonical) holding the root, state and logs.
    pub dir: PathBuf,
    /// The watched root.
    pub root: PathBuf,
    events: PathBuf,
    /// When the daemon was started: `suite.timeout` runs from here.
    start: Instant,
}

impl Daemon {
    /// Starts the daemon on an empty root and waits for `READY=1`.
    pub fn start(suite: &'static Suite) -> Daemon {
        let tmp = TempDir::new().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let root = dir.join("roots");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(dir.join("state")).unwrap();
        let events = dir.join("events.jsonl");
        let config = dir.join("leakhound.yaml");
        std::fs::write(
            &config,
            format!(
                "state_dir: {}\nwatch:\n  settle: 300ms\n  status_interval: 200ms\n  \
                 report_scanned: true\n  events_file: {}\n  roots:\n    - path: {}\n",
                dir.join("state").display(),
                events.display(),
                root.display()
            ),
        )
        .unwrap();
        let sock_path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&sock_path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let child = std::process::Command::new(BIN)
            .args(["--config"])
            .arg(&config)
            .arg("watch")
            .env("NOTIFY_SOCKET", &sock_path)
            .env("LEAKHOUND_FINGERPRINT_KEY", suite.key)
            .env_remove("WATCHDOG_USEC")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap())
            .spawn()
            .unwrap();
        let mut daemon = Daemon {
            suite,
            child,
            sock,
            _tmp: tmp,
            dir,
            root,
            events,
            start: Instant::now(),
        };
        let mut buf = [0u8; 4096];
        loop {
            assert!(
                daemon.start.elapsed() < suite.timeout,
                "no READY=1 from the daemon"
            );
            if let Ok(n) = daemon.sock.recv(&mut buf)
                && String::from_utf8_lossy(&buf[..n]).contains("READY=1")
            {
                break;
            }
            assert!(
                daemon.child.try_wait().unwrap().is_none(),
                "the daemon exited"
            );
        }
        daemon
    }

    /// Copies `src` next to the root and renames it into the root as
    /// `name` (as a program that writes elsewhere and moves in would);
    /// returns its path in the root as the events name it.
    pub fn move_in(&self, src: &Path, name: &str) -> String {
        let staging = self.dir.join(format!("staging-{name}"));
        std::fs::copy(src, &staging).unwrap();
        let dst = self.root.join(name);
        std::fs::rename(&staging, &dst).unwrap();
        dst.to_str().unwrap().to_string()
    }

    /// Waits (up to the suite's time limit from the start) until every one
    /// of `paths` has its top-level `file` event, checks the events file
    /// for the suite's raw values, and returns all events.
    pub fn wait_scanned(&self, paths: &[&str], what: &str) -> Vec<Value> {
        loop {
            let text = std::fs::read_to_string(&self.events).unwrap_or_default();
            let evs: Vec<Value> = text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            let done = paths.iter().all(|w| {
                evs.iter()
                    .any(|e| e["type"] == "file" && e["path"] == *w && e["member"].is_null())
            });
            if done {
                for never in self.suite.never {
                    assert!(!text.contains(never), "`{never}` in the events");
                }
                return evs;
            }
            assert!(
                self.start.elapsed() < self.suite.timeout,
                "{what}: {}",
                std::fs::read_to_string(self.dir.join("stderr.txt")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(member or "", kind)` of every finding event of `path`, in order.
pub fn findings_of(events: &[Value], path: &str) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e["type"] == "finding" && e["path"] == path)
        .map(|e| {
            (
                e["member"].as_str().unwrap_or("").to_string(),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
