//! What the daemon is doing, for operators: counters kept by every part of
//! the pipeline, written to `status.json` in the state directory every few
//! seconds (by rename, so a reader never sees half a file) and read back by
//! `leakhound status`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The file name in the state directory.
pub const STATUS_FILE: &str = "status.json";

/// Counters shared by the watcher, the scanners and the reporter.
#[derive(Debug, Default)]
pub struct Stats {
    /// Files handed to the scanners and not yet done.
    pub queued: AtomicU64,
    /// Files noticed, waiting to settle.
    pub pending: AtomicU64,
    /// Files read (in whole, or the appended part of an mbox).
    pub files_scanned: AtomicU64,
    /// Files looked at and found unchanged since their last scan.
    pub files_unchanged: AtomicU64,
    /// Files that could not be fully scanned.
    pub files_incomplete: AtomicU64,
    pub bytes_scanned: AtomicU64,
    pub findings: AtomicU64,
    /// Events written to the sink.
    pub events: AtomicU64,
    /// Full walks of a root (start-up, overflow, new rules).
    pub rescans: AtomicU64,
    pub reloads: AtomicU64,
    pub reload_failures: AtomicU64,
    /// Walks asked for and not finished.
    pub walks: AtomicU64,
    /// True once the start-up walk of every root has been scanned.
    pub startup_done: AtomicBool,
    /// Unix milliseconds of the last file a scanner finished.
    pub last_progress_ms: AtomicU64,
    /// Files read to compare their keyed MAC (their ctime moved, or
    /// `rescan: verify`).
    pub files_verified: AtomicU64,
    /// Actions that failed (each try counts; each is also an error).
    pub actions_failed: AtomicU64,
    /// Errors reported (each also logged; the last one kept).
    pub errors: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

impl Stats {
    /// Remembers the latest error for `leakhound status` (and logs it).
    pub fn error(&self, message: String) {
        // Whatever the caller quoted (a path, an OS error naming a file),
        // no number from a name and no control character reaches the log
        // or `last_error` (D11, D12).
        let message = crate::report::names::log_text(&message);
        tracing::error!("{message}");
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
    }

    /// Forgets the last error if it starts with `prefix` (a successful
    /// reload clears the failed reload it reported, and nothing else; later
    /// errors show again).
    pub fn clear_error(&self, prefix: &str) {
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        if last.as_deref().is_some_and(|e| e.starts_with(prefix)) {
            *last = None;
        }
    }

    /// Notes that a scanner got something done.
    pub fn progress(&self) {
        self.last_progress_ms.store(now_ms(), Ordering::Relaxed);
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One watched root as `status.json` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootStatus {
    /// Escaped and masked (`report::names::log_path`): a state file holds
    /// no raw number from a name, and a name that is not UTF-8 does not
    /// stop the status from being written (D7, D11).
    pub path: String,
    pub kind: String,
    /// `inotify` or `poll`, and why when it is not what was asked.
    pub mode: String,
}

/// The content of `status.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub pid: u32,
    /// `starting`, `running`, `stopping` or `stopped`.
    pub state: String,
    pub started: String,
    pub updated: String,
    pub updated_ms: u64,
    pub rules_version: String,
    /// The configuration file, escaped and masked as [`RootStatus::path`].
    pub config: String,
    pub startup_scan_done: bool,
    pub queue_depth: u64,
    pub pending: u64,
    /// Walks (rescans, new directories) waiting or running.
    pub walks: u64,
    pub files_scanned: u64,
    pub files_unchanged: u64,
    pub files_incomplete: u64,
    /// Files read to compare their keyed MAC with their row.
    #[serde(default)]
    pub files_verified: u64,
    pub bytes_scanned: u64,
    pub findings: u64,
    pub events: u64,
    pub rescans: u64,
    pub reloads: u64,
    pub reload_failures: u64,
    /// Events waiting in the spools of the configured delivering sinks
    /// (syslog, journald); null when none is configured.
    pub spool_depth: Option<u64>,
    /// Actions that failed since the start (each try counts).
    #[serde(default)]
    pub actions_failed: u64,
    /// Files whose action failed and waits for another try.
    #[serde(default)]
    pub actions_due: u64,
    /// Errors reported since the start.
    #[serde(default)]
    pub errors: u64,
    pub last_error: Option<String>,
    pub roots: Vec<RootStatus>,
}

/// Why `status.json` cannot be read (`leakhound status`).
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(
        "{}: {error} (is the daemon running with this state directory? give it with --state-dir)",
        crate::report::names::log_path(path)
    )]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: not a status file: {error}", crate::report::names::log_path(path))]
    NotAStatus {
        path: PathBuf,
        error: serde_json::Error,
    },
}

impl Snapshot {
    /// The one-line form for systemd's STATUS=.
    pub fn one_line(&self) -> String {
        format!(
            "{}; queue {}, pending {}; scanned {} files, {} bytes; {} findings{}{}",
            if self.startup_scan_done {
                "watching"
            } else {
                "start-up scan"
            },
            self.queue_depth,
            self.pending,
            self.files_scanned,
            self.bytes_scanned,
            self.findings,
            match self.actions_due {
                0 => String::new(),
                n => format!("; {n} actions due again"),
            },
            match &self.last_error {
                Some(_) => "; last error: see leakhound status",
                None => "",
            }
        )
    }

    /// Writes `dir/status.json` atomically.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(".status.json.tmp");
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, dir.join(STATUS_FILE))
    }

    /// Reads `dir/status.json`.
    pub fn read(dir: &Path) -> Result<Snapshot, StatusError> {
        let path = dir.join(STATUS_FILE);
        let text = std::fs::read(&path).map_err(|error| StatusError::Read {
            path: path.clone(),
            error,
        })?;
        serde_json::from_slice(&text).map_err(|error| StatusError::NotAStatus { path, error })
    }
}
