//! Debounce: a trailing-edge settle between the sources and the scanners.
//!
//! What enters: [`Raw`] events from `source` (a path changed under a root,
//! a watch error, an overflow), and the clock (the main loop's tick). What
//! leaves: [`Job`]s on the scanners' bounded queues, once a file has stopped
//! changing for `watch.settle` (size and mtime compared), or has waited
//! `watch.max_settle` while still changing (`forced`: scanned now, and again
//! once it settles); files whose failed action is due again (`retry.rs`);
//! and rescans handed to the walker (a new directory, a dropped event, a
//! pending map past `watch.max_pending`: memory stays bounded, nothing is
//! missed because a rescan walks the whole root).
//!
//! A cheap, synchronous filter comes first (the root's globs, our own
//! redaction temporary files), as watchexec filters before it debounces.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use notify::EventKind;
use notify::RecursiveMode;
use notify::event::{ModifyKind, RenameMode};

use super::roots::WatchedRoot;
use super::scanner::Job;
use super::source::{Raw, describe_notify_error};
use super::{Daemon, TICK};
use crate::config::watch::RootKind;
use crate::report::names;

/// A file noticed and not yet settled.
pub(super) struct Pending {
    root: usize,
    due: Instant,
    /// When it was first noticed: past `max_settle`, it is scanned even if
    /// it still changes.
    since: Instant,
    /// Size and mtime when last looked at.
    seen: Option<(u64, i64)>,
}

impl Daemon {
    pub(super) fn on_event(&mut self, (generation, idx, res): Raw) {
        if generation != self.generation {
            return;
        }
        let rt = self.shared.current.get();
        let Some(root) = rt.roots.get(idx) else {
            return;
        };
        let ev = match res {
            Ok(ev) => ev,
            Err(e) => {
                if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
                    self.shared.stats.error(format!(
                        "{}: {}; polling this root from now on",
                        names::log_path(&root.path),
                        describe_notify_error(&e)
                    ));
                    let target = root.path.clone();
                    let (w, mode) = self.poll_watcher(idx, &target, RecursiveMode::Recursive);
                    if let (Some(w), Some(slot)) = (w, self.watchers.get_mut(idx)) {
                        *slot = w;
                    }
                    self.modes[idx] = mode;
                    self.rescan(idx, root);
                } else {
                    self.shared.stats.error(format!(
                        "{}: watch error: {}",
                        names::log_path(&root.path),
                        describe_notify_error(&e)
                    ));
                }
                return;
            }
        };
        if ev.need_rescan() {
            tracing::warn!(
                "{}: the kernel dropped events (inotify queue overflow); rescanning the root",
                names::log_path(&root.path)
            );
            self.rescan(idx, root);
            return;
        }
        let dir_event = matches!(
            ev.kind,
            EventKind::Create(notify::event::CreateKind::Folder)
                | EventKind::Modify(ModifyKind::Name(RenameMode::To))
                | EventKind::Create(_)
        );
        for path in ev.paths {
            if dir_event && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                // A new or moved-in directory: its files may predate the
                // watch on it. Known files are skipped by the state DB.
                if root.enter(&path) {
                    self.walks.walk_dir(path, root);
                }
                continue;
            }
            if !root.wants(&path) || own_temp_file(&path) {
                continue;
            }
            let now = Instant::now();
            let due = now + rt.config.watch.settle;
            if let Some(p) = self.pending.get_mut(&path) {
                // Each event puts the scan off, but never past max_settle
                // after the first one.
                p.due = due.min(p.since + rt.config.watch.max_settle);
                continue;
            }
            if self.pending.len() >= rt.config.watch.max_pending {
                tracing::warn!(
                    "{} files waiting to settle (watch.max_pending): rescanning {} instead of remembering more",
                    self.pending.len(),
                    names::log_path(&root.path)
                );
                self.rescan(idx, root);
                continue;
            }
            self.pending.insert(
                path,
                Pending {
                    root: idx,
                    due,
                    since: now,
                    seen: None,
                },
            );
        }
    }

    /// Forgets what is pending under a root and walks it whole.
    pub(super) fn rescan(&mut self, idx: usize, root: &WatchedRoot) {
        self.rescan_with(idx, root, false);
    }

    /// As [`Daemon::rescan`]; with `verify`, files whose stamps match their
    /// row are read and their keyed MAC compared too.
    pub(super) fn rescan_with(&mut self, idx: usize, root: &WatchedRoot, verify: bool) {
        self.pending.retain(|_, p| p.root != idx);
        self.walks.rescan(root, verify);
    }

    /// Hands the files whose failed action is due again to the scanners.
    pub(super) fn dispatch_retries(&mut self) {
        let now = Instant::now();
        let due = self.shared.retries().take_due(now);
        for (path, kind) in due {
            if let Err(job) = self.scanners.dispatch.try_send(Job {
                path,
                kind,
                verify: false,
                forced: false,
            }) {
                // The scanners are busy: at the next tick.
                self.shared.retries().again(&job.path, now + TICK);
            }
        }
    }

    /// Queues the pending files that stopped changing.
    pub(super) fn dispatch_due(&mut self) {
        let now = Instant::now();
        let rt = self.shared.current.get();
        let settle = rt.config.watch.settle;
        let max_settle = rt.config.watch.max_settle;
        let due: Vec<PathBuf> = self
            .pending
            .iter()
            .filter(|(_, p)| p.due <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for path in due {
            let Some(p) = self.pending.get_mut(&path) else {
                continue;
            };
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => m,
                // Gone, or no longer a regular file: nothing to scan.
                _ => {
                    self.pending.remove(&path);
                    continue;
                }
            };
            use std::os::unix::fs::MetadataExt;
            let cur = (meta.len(), meta.mtime() * 1_000_000_000 + meta.mtime_nsec());
            let quiet = meta
                .modified()
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .is_some_and(|age| age >= settle);
            let waited = now.duration_since(p.since);
            let changing = p.seen != Some(cur) && !quiet;
            if changing && waited < max_settle {
                // Still being written: look again after another settle.
                p.seen = Some(cur);
                p.due = (now + settle).min(p.since + max_settle);
                continue;
            }
            // Settled, or waited max_settle (a file written all the time is
            // scanned now, and again once its next changes settle).
            let kind = rt.roots.get(p.root).map_or(RootKind::Files, |r| r.kind);
            match self.scanners.dispatch.try_send(Job {
                path: path.clone(),
                kind,
                verify: false,
                forced: changing,
            }) {
                Ok(()) => {
                    self.pending.remove(&path);
                }
                // The scanners are busy: the rest waits for the next tick.
                Err(_) => break,
            }
        }
        self.shared
            .stats
            .pending
            .store(self.pending.len() as u64, Ordering::Relaxed);
        if self.startup_walked.load(Ordering::Relaxed)
            && self.shared.stats.queued.load(Ordering::Relaxed) == 0
            && !self.shared.stats.startup_done.swap(true, Ordering::Relaxed)
        {
            tracing::info!("start-up scan done");
        }
    }
}

/// The temporary file a redaction writes beside the file it rewrites
/// (`.leakhound-redact-ID.tmp`, renamed over the original): never worth a
/// scan, and it only ever holds redacted text.
fn own_temp_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(".leakhound-redact-") && n.ends_with(".tmp"))
}
