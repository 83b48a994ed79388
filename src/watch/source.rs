//! Sources: where the daemon hears of changes, as watchexec splits its
//! sources. One notify watcher per root: inotify, or polling when the root
//! asks for it, is on a network file system, or inotify cannot take it (the
//! watch limit, too many instances): the operator is told why, and what to
//! raise.
//!
//! What enters: the roots of the running [`Runtime`](super::scanner::Runtime).
//! What leaves: [`Raw`] events (watcher generation, root index, notify's
//! event or error) on the daemon's bounded channel, already filtered by
//! [`interesting`] in notify's own thread (opens and reads, which our own
//! scans cause, never reach the main loop), and how each root is watched
//! (`modes`, for the status). The channel blocks when full, so inotify's
//! own queue takes the excess and its overflow makes a rescan
//! (`debounce`). Nothing here scans or decides: it only listens.

use std::path::Path;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};

use super::Daemon;
use super::roots::WatchedRoot;
use crate::report::names;

/// Events from notify waiting for the main loop.
pub(super) const EVENT_QUEUE: usize = 8192;

/// What the notify callbacks send: the watcher generation, the root index
/// and the event.
pub(super) type Raw = (u64, usize, notify::Result<notify::Event>);

impl Daemon {
    /// One watcher per root: inotify unless the root is to be polled or
    /// inotify cannot take it.
    pub(super) fn install_watchers(&mut self) {
        self.generation += 1;
        self.watchers.clear();
        self.modes.clear();
        self.pending.clear();
        let rt = self.shared.current.get();
        for (i, root) in rt.roots.iter().enumerate() {
            let (w, mode) = self.watcher_for(i, root);
            if let Some(w) = w {
                self.watchers.push(w);
            }
            self.modes.push(mode);
        }
    }

    fn handler(&self, idx: usize) -> impl notify::EventHandler {
        let tx = self.events.0.clone();
        let generation = self.generation;
        move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = &res
                && !interesting(ev)
            {
                return;
            }
            // Blocking: when the main loop is behind, inotify's own queue
            // takes the excess, and its overflow makes a rescan.
            let _ = tx.send((generation, idx, res));
        }
    }

    fn watcher_for(
        &self,
        idx: usize,
        root: &WatchedRoot,
    ) -> (Option<Box<dyn Watcher + Send>>, String) {
        // An mbox root that is a file is watched through its directory, so
        // a replaced file is seen too.
        let (target, mode) = if root.path.is_dir() {
            (root.path.clone(), RecursiveMode::Recursive)
        } else {
            (
                root.path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.path.clone()),
                RecursiveMode::NonRecursive,
            )
        };
        if root.poll.is_none() {
            let made = notify::INotifyWatcher::new(self.handler(idx), notify::Config::default())
                .and_then(|mut w| w.watch(&target, mode).map(|()| w));
            match made {
                Ok(w) => return (Some(Box::new(w)), root.mode_name()),
                Err(e) => {
                    self.shared.stats.error(format!(
                        "{}: cannot watch with inotify: {}; polling it every {} instead",
                        names::log_path(&root.path),
                        describe_notify_error(&e),
                        humantime::format_duration(self.poll_interval(idx))
                    ));
                }
            }
        }
        self.poll_watcher(idx, &target, mode)
    }

    fn poll_interval(&self, idx: usize) -> Duration {
        let rt = self.shared.current.get();
        rt.roots
            .get(idx)
            .and_then(|r| r.poll)
            .or_else(|| rt.config.watch.roots.get(idx).map(|r| r.poll_interval))
            .unwrap_or(Duration::from_secs(30))
    }

    pub(super) fn poll_watcher(
        &self,
        idx: usize,
        target: &Path,
        mode: RecursiveMode,
    ) -> (Option<Box<dyn Watcher + Send>>, String) {
        let interval = self.poll_interval(idx);
        let made = notify::PollWatcher::new(
            self.handler(idx),
            notify::Config::default().with_poll_interval(interval),
        )
        .and_then(|mut w| w.watch(target, mode).map(|()| w));
        let rt = self.shared.current.get();
        let name = rt.roots.get(idx).map(|r| r.mode_name()).unwrap_or_default();
        match made {
            Ok(w) => {
                let name = if name.starts_with("poll") {
                    name
                } else {
                    format!(
                        "poll every {} (inotify failed)",
                        humantime::format_duration(interval)
                    )
                };
                (Some(Box::new(w)), name)
            }
            Err(e) => {
                self.shared.stats.error(format!(
                    "{}: cannot watch: {e}; only the start-up scan and rescans cover it",
                    names::log_path(target)
                ));
                (None, "not watched".into())
            }
        }
    }
}

/// The notify events that can mean new content (the rest, such as opens
/// and reads, which our own scans cause, are dropped in the callback).
fn interesting(ev: &notify::Event) -> bool {
    if ev.need_rescan() {
        return true;
    }
    match ev.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Name(RenameMode::From | RenameMode::Both)) => false,
        EventKind::Create(_) | EventKind::Modify(_) => true,
        EventKind::Remove(_) => false,
        EventKind::Any | EventKind::Other => true,
    }
}

/// What the operator must know about a watch error.
pub(super) fn describe_notify_error(e: &notify::Error) -> String {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => "the inotify watch limit is reached: raise fs.inotify.max_user_watches (sysctl -w fs.inotify.max_user_watches=1048576, and in /etc/sysctl.d/)".to_string(),
        notify::ErrorKind::Io(io) if io.raw_os_error() == Some(24) => format!(
            "{io}: too many inotify instances or open files: raise fs.inotify.max_user_instances or LimitNOFILE"
        ),
        // notify's message names the paths raw.
        _ => names::log_text(&e.to_string()),
    }
}
