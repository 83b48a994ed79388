//! `leakhound watch`: the daemon that guards file shares and mail spools.
//!
//! ```text
//! notify (inotify / poll, one watcher per root) --bounded--> main loop
//!   main loop: filter -> pending map (debounce until size and mtime settle)
//!              -> scanners' bounded queues (one per thread, by path)
//! walker (start-up scan, rescans, new directories) --blocking--> scanners
//! scanners: state DB check -> scan_one -> actions seam -> sinks -> state DB
//! ```
//!
//! Memory is bounded at every step: notify's channel is bounded (when it is
//! full, the kernel's inotify queue fills and overflows, which we answer
//! with a rescan of the root); the pending map has a cap past which a root
//! is rescanned instead; the scanners' queues are bounded and the walker
//! waits for them. Nothing is missed because every rescan walks the whole
//! root, and nothing is scanned twice because the state database remembers
//! each file's size, mtime, ctime, inode generation, keyed content MAC and
//! rules version (see `state.rs` and `changes.rs`). A file that never
//! settles is scanned anyway after `max_settle`; a file whose action failed
//! stays due and is tried again with backoff (`retry.rs`).
//!
//! Signals: SIGHUP reloads the configuration and rules atomically (a broken
//! file is reported and the running configuration stays); SIGTERM and
//! SIGINT drain (the files in hand finish, events are flushed, the state
//! database is checkpointed). systemd hears READY=1, STATUS=, RELOADING=1,
//! STOPPING=1 and, from a thread that checks the pipeline moves,
//! WATCHDOG=1 (`sd_notify.rs`). Operators read `status.json` in the state
//! directory with `leakhound status` (`status.rs`).

pub mod changes;
pub mod metrics;
pub mod retry;
pub mod roots;
pub mod scanner;
pub mod sd_notify;
pub mod seams;
pub mod state;
pub mod status;
pub mod walker;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender};
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};

use crate::config::Config;
use crate::config::watch::{RescanMode, RootKind};
use crate::engine::Engine;
use crate::fingerprint::Fingerprinter;
use crate::rules::RuleSet;
use retry::Retries;
use roots::WatchedRoot;
use scanner::{Current, Job, Output, Runtime, Scanners, Shared};
use sd_notify::Notifier;
use state::{StateDb, StateKey};
use status::{RootStatus, Snapshot, Stats, now_ms};
use walker::Walks;

/// The state directory of the daemon when the configuration names none:
/// systemd's `$STATE_DIRECTORY` (from `StateDirectory=`), else this.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/leakhound";

/// How often the main loop looks at the pending map.
const TICK: Duration = Duration::from_millis(100);

/// How the error of a refused reload begins (a good reload clears it).
const RELOAD_FAILED: &str = "reload failed";

/// Events from notify waiting for the main loop.
const EVENT_QUEUE: usize = 8192;

/// The state directory from the configuration, else `$STATE_DIRECTORY`,
/// else [`DEFAULT_STATE_DIR`].
pub fn state_dir(config: &Config) -> PathBuf {
    if let Some(d) = &config.state_dir {
        return d.clone();
    }
    if let Some(d) = std::env::var_os("STATE_DIRECTORY") {
        // systemd may pass several, separated by ':'; ours is the first.
        let s = d.to_string_lossy();
        return PathBuf::from(s.split(':').next().unwrap_or(&s));
    }
    PathBuf::from(DEFAULT_STATE_DIR)
}

/// Builds everything a configuration implies; any error names the file
/// or root and says what to do.
fn build_runtime(config: Config) -> Result<Runtime, String> {
    let rules = match &config.watch.rules_dir {
        Some(dir) => RuleSet::load_dir(dir),
        None => RuleSet::builtin(),
    }
    .map_err(|e| format!("the rules cannot be used:\n{e}"))?;
    if config.watch.roots.is_empty() {
        return Err("watch.roots is empty: name at least one directory to guard".into());
    }
    let roots = config
        .watch
        .roots
        .iter()
        .map(WatchedRoot::new)
        .collect::<Result<Vec<_>, _>>()?;
    let fingerprinter = Fingerprinter::resolve(
        config.watch.fingerprint_key_file.as_deref(),
        Some(&state_dir(&config)),
    )
    .map_err(|e| e.to_string())?;
    let actions = seams::build_actions(&config);
    Ok(Runtime {
        state_key: StateKey::derive(&fingerprinter),
        min_confidence: config.watch.min_confidence.level(),
        engine: Engine::new(rules),
        fingerprinter,
        roots,
        actions,
        config,
    })
}

/// What the notify callbacks send: the watcher generation, the root index
/// and the event.
type Raw = (u64, usize, notify::Result<notify::Event>);

/// A file noticed and not yet settled.
struct Pending {
    root: usize,
    due: Instant,
    /// When it was first noticed: past `max_settle`, it is scanned even if
    /// it still changes.
    since: Instant,
    /// Size and mtime when last looked at.
    seen: Option<(u64, i64)>,
}

/// Runs the daemon until SIGTERM or SIGINT. Errors before READY=1 (a bad
/// configuration, a root that does not exist, an unusable state
/// directory) are returned; later ones are reported and survived.
pub fn run(config_path: &Path) -> Result<(), String> {
    let config = Config::load(config_path).map_err(|e| e.to_string())?;
    let dir = state_dir(&config);
    create_state_dir(&dir)?;
    let rt = build_runtime(config).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let db = Arc::new(StateDb::open(&dir).map_err(|e| e.to_string())?);
    let sinks = seams::build_sinks(&rt.config, &dir)?;
    let threads = match rt.config.watch.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    };
    let queue = rt.config.watch.queue;
    let max_retries = rt.config.watch.max_pending;
    let notifier = Arc::new(Notifier::from_env());
    let stats = Arc::new(Stats::default());
    let shared = Arc::new(Shared {
        current: Current::new(rt),
        db: db.clone(),
        stats: stats.clone(),
        output: Arc::new(Mutex::new(Output::new(sinks))),
        stop: Arc::new(AtomicBool::new(false)),
        retries: Mutex::new(Retries::new(max_retries)),
    });

    if let Some(addr) = shared.current.get().config.watch.metrics_listen {
        let bound = metrics::start(addr, shared.clone(), now_ms())?;
        tracing::info!("serving metrics on http://{bound}/metrics");
    }
    let signals = signal_channel()?;
    let scanners = Scanners::start(shared.clone(), threads, queue);
    let startup_walked = Arc::new(AtomicBool::new(false));
    let (walks, walker) = walker::start(
        shared.clone(),
        scanners.dispatch.clone(),
        startup_walked.clone(),
    );

    let mut d = Daemon {
        config_path: config_path.to_path_buf(),
        state_dir: dir,
        shared,
        scanners,
        walks,
        notifier: notifier.clone(),
        started: SystemTime::now(),
        pending: HashMap::new(),
        watchers: Vec::new(),
        modes: Vec::new(),
        generation: 0,
        events: crossbeam_channel::bounded(EVENT_QUEUE),
        heartbeat: Arc::new(AtomicU64::new(now_ms())),
        startup_walked,
    };
    // Watch first, then walk: a file written during the walk is either
    // walked or brings an event, never neither.
    d.install_watchers();
    let rt = d.shared.current.get();
    let verify = rt.config.watch.rescan == RescanMode::Verify;
    for root in &rt.roots {
        d.walks.rescan(root, verify);
    }
    d.walks.mark_startup();
    tracing::info!(
        "watching {} roots with {threads} scanning threads; state in {}",
        rt.roots.len(),
        d.state_dir.display()
    );
    drop(rt);
    d.start_watchdog();
    let snap = d.snapshot("running");
    d.write_status(&snap);
    notifier.send(&format!("READY=1\nSTATUS={}", snap.one_line()));

    d.main_loop(&signals);

    // Drain: no new work, the files in hand finish, events are flushed,
    // the state is saved.
    notifier.send("STOPPING=1\nSTATUS=draining");
    d.watchers.clear();
    d.shared.stop.store(true, Ordering::Relaxed);
    let _ = walker.join();
    d.scanners.join();
    d.shared
        .output
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .finish();
    if let Err(e) = db.checkpoint() {
        stats.error(e.to_string());
    }
    let snap = d.snapshot("stopped");
    d.write_status(&snap);
    tracing::info!("stopped: {}", snap.one_line());
    Ok(())
}

fn create_state_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            format!(
                "{}: cannot create the state directory: {e} (set state_dir in the configuration, or create it for the daemon's user)",
                dir.display()
            )
        })
}

/// What the signal thread tells the main loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Reload,
    Stop,
}

fn signal_channel() -> Result<Receiver<Signal>, String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGTERM, SIGINT])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new()
        .name("leakhound-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let s = if sig == SIGHUP {
                    Signal::Reload
                } else {
                    Signal::Stop
                };
                if tx.send(s).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(rx)
}

struct Daemon {
    config_path: PathBuf,
    state_dir: PathBuf,
    shared: Arc<Shared>,
    scanners: Scanners,
    walks: Walks,
    notifier: Arc<Notifier>,
    started: SystemTime,
    pending: HashMap<PathBuf, Pending>,
    /// One per root, in the order of `Runtime::roots`.
    watchers: Vec<Box<dyn Watcher + Send>>,
    /// How each root is watched, for the status.
    modes: Vec<String>,
    /// Raised when the watchers are rebuilt, so late events of the old
    /// ones are told apart.
    generation: u64,
    events: (Sender<Raw>, Receiver<Raw>),
    /// Unix ms of the main loop's last turn, for the watchdog.
    heartbeat: Arc<AtomicU64>,
    startup_walked: Arc<AtomicBool>,
}

impl Daemon {
    fn main_loop(&mut self, signals: &Receiver<Signal>) {
        let status_every = self.shared.current.get().config.watch.status_interval;
        let mut last_status = Instant::now();
        let mut last_verify = Instant::now();
        let events = self.events.1.clone();
        loop {
            crossbeam_channel::select! {
                recv(signals) -> s => match s {
                    Ok(Signal::Reload) => self.reload(),
                    Ok(Signal::Stop) | Err(_) => return,
                },
                recv(events) -> ev => {
                    if let Ok(ev) = ev {
                        self.on_event(ev);
                        // Take what else is waiting before looking at the
                        // clock: bursts come in thousands.
                        for ev in events.try_iter().take(EVENT_QUEUE) {
                            self.on_event(ev);
                        }
                    }
                },
                default(TICK) => {},
            }
            self.heartbeat.store(now_ms(), Ordering::Relaxed);
            self.dispatch_due();
            self.dispatch_retries();
            let rt = self.shared.current.get();
            if let Some(every) = rt.config.watch.verify_interval
                && last_verify.elapsed() >= every
            {
                last_verify = Instant::now();
                tracing::info!("verifying every root (watch.verify_interval)");
                for (i, root) in rt.roots.iter().enumerate() {
                    self.rescan_with(i, root, true);
                }
            }
            drop(rt);
            if last_status.elapsed() >= status_every {
                last_status = Instant::now();
                let snap = self.snapshot("running");
                self.write_status(&snap);
                self.notifier.send(&format!("STATUS={}", snap.one_line()));
            }
        }
    }

    /// One watcher per root: inotify unless the root is to be polled or
    /// inotify cannot take it.
    fn install_watchers(&mut self) {
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
                        root.path.display(),
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

    fn poll_watcher(
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
                    target.display()
                ));
                (None, "not watched".into())
            }
        }
    }

    fn on_event(&mut self, (generation, idx, res): Raw) {
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
                        root.path.display(),
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
                        root.path.display(),
                        describe_notify_error(&e)
                    ));
                }
                return;
            }
        };
        if ev.need_rescan() {
            tracing::warn!(
                "{}: the kernel dropped events (inotify queue overflow); rescanning the root",
                root.path.display()
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
                    root.path.display()
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
    fn rescan(&mut self, idx: usize, root: &WatchedRoot) {
        self.rescan_with(idx, root, false);
    }

    /// As [`Daemon::rescan`]; with `verify`, files whose stamps match their
    /// row are read and their keyed MAC compared too.
    fn rescan_with(&mut self, idx: usize, root: &WatchedRoot, verify: bool) {
        self.pending.retain(|_, p| p.root != idx);
        self.walks.rescan(root, verify);
    }

    /// Hands the files whose failed action is due again to the scanners.
    fn dispatch_retries(&mut self) {
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
    fn dispatch_due(&mut self) {
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

    /// SIGHUP: read the configuration and rules again; use them only if
    /// all of it is good.
    fn reload(&mut self) {
        self.notifier.send("RELOADING=1\nSTATUS=reloading");
        let stats = &self.shared.stats;
        let result = Config::load(&self.config_path)
            .map_err(|e| e.to_string())
            .and_then(|c| {
                build_runtime(c).map_err(|e| format!("{}: {e}", self.config_path.display()))
            })
            .and_then(|rt| {
                // The old sinks let go of their spools before the new ones
                // take them; if the new ones cannot be made, the old ones
                // come back.
                let old = self.shared.current.get();
                let mut output = self.shared.output.lock().unwrap_or_else(|p| p.into_inner());
                output.replace(Vec::new());
                match seams::build_sinks(&rt.config, &self.state_dir) {
                    Ok(sinks) => {
                        output.replace(sinks);
                        Ok(rt)
                    }
                    Err(e) => {
                        match seams::build_sinks(&old.config, &self.state_dir) {
                            Ok(previous) => output.replace(previous),
                            Err(again) => tracing::error!("cannot restore the sinks: {again}"),
                        }
                        Err(e)
                    }
                }
            });
        match result {
            Err(e) => {
                stats.reload_failures.fetch_add(1, Ordering::Relaxed);
                stats.error(format!(
                    "{RELOAD_FAILED}, still running with the previous configuration: {e}"
                ));
            }
            Ok(rt) => {
                let old = self.shared.current.get();
                if state_dir(&rt.config) != self.state_dir {
                    tracing::warn!(
                        "state_dir changed; it takes effect at the next restart (still using {})",
                        self.state_dir.display()
                    );
                }
                if rt.config.watch.metrics_listen != old.config.watch.metrics_listen {
                    tracing::warn!(
                        "watch.metrics_listen changed; it takes effect at the next restart"
                    );
                }
                let roots_changed = root_key(&old.config) != root_key(&rt.config);
                let rules_changed = old.rules_version() != rt.rules_version();
                self.shared.current.set(rt);
                stats.reloads.fetch_add(1, Ordering::Relaxed);
                // The failed reload it may show is over; errors after this
                // one show again.
                stats.clear_error(RELOAD_FAILED);
                if roots_changed {
                    self.install_watchers();
                }
                if roots_changed || rules_changed {
                    // New rules: every file is stale in the state database,
                    // so a walk rescans them all.
                    let rt = self.shared.current.get();
                    for (i, root) in rt.roots.iter().enumerate() {
                        self.rescan(i, root);
                    }
                }
                tracing::info!(
                    "configuration reloaded (rules {}{})",
                    self.shared.current.get().rules_version(),
                    if rules_changed {
                        ", changed: rescanning"
                    } else {
                        ""
                    }
                );
            }
        }
        let snap = self.snapshot("running");
        self.write_status(&snap);
        self.notifier
            .send(&format!("READY=1\nSTATUS={}", snap.one_line()));
    }

    fn snapshot(&self, state: &str) -> Snapshot {
        let s = &self.shared.stats;
        let rt = self.shared.current.get();
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            pid: std::process::id(),
            state: state.to_string(),
            started: humantime::format_rfc3339_millis(self.started).to_string(),
            updated: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            updated_ms: now_ms(),
            rules_version: rt.rules_version().to_string(),
            config: self.config_path.clone(),
            startup_scan_done: s.startup_done.load(Ordering::Relaxed),
            queue_depth: self.scanners.depth(),
            pending: self.pending.len() as u64,
            walks: ld(&s.walks),
            files_scanned: ld(&s.files_scanned),
            files_unchanged: ld(&s.files_unchanged),
            files_incomplete: ld(&s.files_incomplete),
            files_verified: ld(&s.files_verified),
            bytes_scanned: ld(&s.bytes_scanned),
            findings: ld(&s.findings),
            events: ld(&s.events),
            rescans: ld(&s.rescans),
            reloads: ld(&s.reloads),
            reload_failures: ld(&s.reload_failures),
            spool_depth: self
                .shared
                .output
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .spool_depth(),
            actions_failed: ld(&s.actions_failed),
            actions_due: self.shared.retries().len() as u64,
            errors: ld(&s.errors),
            last_error: s
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            roots: rt
                .roots
                .iter()
                .zip(&self.modes)
                .map(|(r, m)| RootStatus {
                    path: r.path.clone(),
                    kind: format!("{:?}", r.kind).to_lowercase(),
                    mode: m.clone(),
                })
                .collect(),
        }
    }

    fn write_status(&self, snap: &Snapshot) {
        if let Err(e) = snap.write(&self.state_dir) {
            tracing::warn!(
                "cannot write {}: {e}",
                self.state_dir.join(status::STATUS_FILE).display()
            );
        }
    }

    /// WATCHDOG=1 every half interval, only while the main loop turns and
    /// the scanners either have nothing to do or keep reading: a hung
    /// pipeline stops the pings and systemd restarts the service.
    fn start_watchdog(&self) {
        let Some(interval) = sd_notify::watchdog_interval() else {
            return;
        };
        let heartbeat = self.heartbeat.clone();
        let stats = self.shared.stats.clone();
        let notifier = self.notifier.clone();
        let stop = self.shared.stop.clone();
        let limit = interval.as_millis() as u64;
        let _ = std::thread::Builder::new()
            .name("leakhound-watchdog".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(interval / 2);
                    let now = now_ms();
                    let looping = now.saturating_sub(heartbeat.load(Ordering::Relaxed)) < limit;
                    // A scanner waiting for a PDF helper reads nothing, but
                    // the helper is killed at the file's deadline.
                    let scanning = stats.queued.load(Ordering::Relaxed) == 0
                        || now.saturating_sub(stats.last_progress_ms.load(Ordering::Relaxed))
                            < limit
                        || crate::extract::helper::helpers_running() > 0;
                    if looping && scanning {
                        notifier.send("WATCHDOG=1");
                    } else {
                        tracing::error!(
                            "pipeline stalled (main loop turning: {looping}, scanners reading: {scanning}); not pinging the watchdog"
                        );
                    }
                }
            });
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

/// The temporary file a redaction writes beside the file it rewrites
/// (`.leakhound-redact-ID.tmp`, renamed over the original): never worth a
/// scan, and it only ever holds redacted text.
fn own_temp_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(".leakhound-redact-") && n.ends_with(".tmp"))
}

/// What the operator must know about a watch error.
fn describe_notify_error(e: &notify::Error) -> String {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => "the inotify watch limit is reached: raise fs.inotify.max_user_watches (sysctl -w fs.inotify.max_user_watches=1048576, and in /etc/sysctl.d/)".to_string(),
        notify::ErrorKind::Io(io) if io.raw_os_error() == Some(24) => format!(
            "{io}: too many inotify instances or open files: raise fs.inotify.max_user_instances or LimitNOFILE"
        ),
        _ => e.to_string(),
    }
}

/// The roots as configured, to tell whether a reload changed them.
fn root_key(c: &Config) -> String {
    format!("{:?}", c.watch.roots)
}
