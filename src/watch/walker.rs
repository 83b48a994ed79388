//! The walker: full scans of a root (at start-up, after an inotify queue
//! overflow, when the pending set is full, when the rules change) and walks
//! of directories that appear (created, or moved in from outside, whose
//! files brought no event of their own).
//!
//! It runs on its own thread and waits for room in the scanners' queues,
//! so a walk of millions of files holds only the walk's directory stack in
//! memory. A file modified in the last `settle` is not scanned yet: it is
//! kept aside and looked at again until it stops changing, so a file still
//! being copied is not scanned half-written.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::roots::WatchedRoot;
use super::scanner::{Dispatch, Job, Shared};
use super::status::Stats;
use crate::report::names;

/// What the walker is asked to do.
pub enum WalkMsg {
    /// Walk `dir` (a root, or a directory under it).
    Walk {
        dir: PathBuf,
        root: Box<WatchedRoot>,
        /// Compare the content MAC of files whose stamps match their row.
        verify: bool,
    },
    /// Everything asked before this is done: the start-up scan is walked.
    StartupWalked,
}

/// The walker's queue, with whole-root rescans asked at most once at a time.
#[derive(Clone)]
pub struct Walks {
    tx: Sender<WalkMsg>,
    /// Roots with a rescan waiting, and whether it verifies.
    roots_asked: Arc<Mutex<HashSet<(PathBuf, bool)>>>,
    stats: Arc<Stats>,
}

impl Walks {
    /// Asks for a full walk of a root (verifying content MACs with
    /// `verify`), unless one is already waiting.
    pub fn rescan(&self, root: &WatchedRoot, verify: bool) {
        let mut asked = self.roots_asked.lock().unwrap_or_else(|p| p.into_inner());
        if asked.insert((root.path.clone(), verify)) {
            self.stats.walks.fetch_add(1, Ordering::Relaxed);
            // Blocking is fine: requests for roots are few.
            let _ = self.tx.send(WalkMsg::Walk {
                dir: root.path.clone(),
                root: Box::new(root.clone()),
                verify,
            });
        }
    }

    /// Asks for a walk of a directory under a root; when the queue is full,
    /// a rescan of the root covers it.
    pub fn walk_dir(&self, dir: PathBuf, root: &WatchedRoot) {
        self.stats.walks.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(WalkMsg::Walk {
            dir,
            root: Box::new(root.clone()),
            verify: false,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.stats.walks.fetch_sub(1, Ordering::Relaxed);
                self.rescan(root, false)
            }
            Err(TrySendError::Disconnected(_)) => {
                self.stats.walks.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    pub fn mark_startup(&self) {
        let _ = self.tx.send(WalkMsg::StartupWalked);
    }
}

/// Starts the walker thread.
pub fn start(
    shared: Arc<Shared>,
    dispatch: Dispatch,
    startup_walked: Arc<std::sync::atomic::AtomicBool>,
) -> (Walks, std::thread::JoinHandle<()>) {
    let (tx, rx) = crossbeam_channel::bounded::<WalkMsg>(4096);
    let walks = Walks {
        tx,
        roots_asked: Arc::new(Mutex::new(HashSet::new())),
        stats: shared.stats.clone(),
    };
    let asked = walks.roots_asked.clone();
    let handle = std::thread::Builder::new()
        .name("leakhound-walk".into())
        .spawn(move || run(&shared, &dispatch, &rx, &asked, &startup_walked))
        .expect("cannot start the walker thread");
    (walks, handle)
}

fn run(
    shared: &Shared,
    dispatch: &Dispatch,
    rx: &Receiver<WalkMsg>,
    asked: &Mutex<HashSet<(PathBuf, bool)>>,
    startup_walked: &std::sync::atomic::AtomicBool,
) {
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        // Wakes up now and then to see the stop flag.
        let msg = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(m) => m,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        };
        match msg {
            WalkMsg::StartupWalked => startup_walked.store(true, Ordering::Relaxed),
            WalkMsg::Walk { dir, root, verify } => {
                if dir == root.path {
                    asked
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&(root.path.clone(), verify));
                    shared.stats.rescans.fetch_add(1, Ordering::Relaxed);
                }
                walk(shared, dispatch, &dir, &root, verify);
                shared.stats.walks.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// Walks `dir` and queues every file the root wants.
fn walk(shared: &Shared, dispatch: &Dispatch, dir: &Path, root: &WatchedRoot, verify: bool) {
    let (settle, max_settle) = {
        let rt = shared.current.get();
        (rt.config.watch.settle, rt.config.watch.max_settle)
    };
    let started = Instant::now();
    let mut fresh: Vec<PathBuf> = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| !e.file_type().is_dir() || root.enter(e.path()));
    for entry in walker {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                // An unreadable directory is a hole in what we guard: say so.
                if e.io_error().map(|io| io.kind()) != Some(std::io::ErrorKind::NotFound) {
                    shared.stats.error(format!(
                        "cannot walk {}: {} (give the daemon's user read access, or exclude it)",
                        names::log_path(e.path().unwrap_or(dir)),
                        // walkdir's own message names the path raw.
                        e.io_error()
                            .map_or_else(|| names::log_text(&e.to_string()), |io| io.to_string())
                    ));
                }
                continue;
            }
        };
        // Symbolic links are not followed: a link in a share must not make
        // the daemon read what lies outside it.
        if !entry.file_type().is_file() || !root.wants(entry.path()) {
            continue;
        }
        if is_fresh(entry.path(), settle) {
            fresh.push(entry.into_path());
            continue;
        }
        queue(shared, dispatch, entry.into_path(), root, verify, false);
    }
    // Files still being written: look again until they stop changing, or
    // until they have waited max_settle (a file written all the time is
    // scanned anyway; its next changes bring events).
    while !fresh.is_empty() {
        std::thread::sleep(settle.max(Duration::from_millis(50)));
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let mut still = Vec::new();
        let overdue = started.elapsed() >= max_settle;
        for path in fresh {
            match (is_fresh(&path, settle), overdue) {
                (true, false) => still.push(path),
                (fresh, _) => queue(shared, dispatch, path, root, verify, fresh),
            }
        }
        fresh = still;
    }
}

fn queue(
    shared: &Shared,
    dispatch: &Dispatch,
    path: PathBuf,
    root: &WatchedRoot,
    verify: bool,
    forced: bool,
) {
    dispatch.send(
        Job {
            path,
            kind: root.kind,
            verify,
            forced,
        },
        &shared.stop,
    );
}

/// True when the file was modified less than `settle` ago.
fn is_fresh(path: &Path, settle: Duration) -> bool {
    match std::fs::symlink_metadata(path).and_then(|m| m.modified()) {
        Ok(mtime) => SystemTime::now()
            .duration_since(mtime)
            .is_ok_and(|age| age < settle),
        Err(_) => false,
    }
}
