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
//!
//! The rooms, in the order data goes through them: `source` (notify
//! watchers -> raw events), `debounce` (raw events -> settled jobs, retries
//! and rescans), `walker` (rescans -> jobs), `scanner` (jobs -> events and
//! state), `seams` (actions and sinks); `reload` swaps the configuration in
//! at run time. This file starts them, owns the main loop that turns them
//! (signals, events, the tick), and reports (status, systemd, watchdog).

pub mod changes;
mod debounce;
pub mod error;
pub mod metrics;
mod reload;
pub mod retry;
pub mod roots;
pub mod scanner;
pub mod sd_notify;
pub mod seams;
mod source;
pub mod status;
pub mod walker;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender};
use notify::Watcher;

use crate::config::Config;
use crate::config::watch::RescanMode;
use crate::report::names;
use crate::state::StateDb;
use debounce::Pending;
pub use error::{ReloadError, StartError};
use reload::build_runtime;
use retry::Retries;
use scanner::{Current, Output, Scanners, Shared};
use sd_notify::Notifier;
use source::{EVENT_QUEUE, Raw};
use status::{RootStatus, Snapshot, Stats, now_ms};
use walker::Walks;

/// The state directory of the daemon when the configuration names none:
/// systemd's `$STATE_DIRECTORY` (from `StateDirectory=`), else this.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/leakhound";

/// How often the main loop looks at the pending map.
const TICK: Duration = Duration::from_millis(100);

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

/// Runs the daemon until SIGTERM or SIGINT. Errors before READY=1 (a bad
/// configuration, a root that does not exist, an unusable state
/// directory) are returned; later ones are reported and survived.
pub fn run(config_path: &Path) -> Result<(), StartError> {
    let config = Config::load(config_path)?;
    // OCR settings are the process's, set once: a reload keeps them.
    let ocr = config
        .ocr
        .apply(crate::extract::helper::ocr::OcrSettings::default());
    if ocr.mode == crate::extract::helper::ocr::OcrMode::On && ocr.engine.is_none() {
        return Err(StartError::NoOcrEngine {
            config: config_path.to_path_buf(),
        });
    }
    crate::extract::helper::ocr::set_settings(ocr);
    let dir = state_dir(&config);
    create_state_dir(&dir)?;
    let rt = build_runtime(config).map_err(|error| StartError::Build {
        config: config_path.to_path_buf(),
        error,
    })?;
    let db = Arc::new(StateDb::open(&dir)?);
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
        names::log_path(&d.state_dir)
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

fn create_state_dir(dir: &Path) -> Result<(), StartError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|error| StartError::StateDir {
            dir: dir.to_path_buf(),
            error,
        })
}

/// What the signal thread tells the main loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Reload,
    Stop,
}

fn signal_channel() -> Result<Receiver<Signal>, StartError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGTERM, SIGINT])
        .map_err(StartError::Signals)?;
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
        .map_err(StartError::SignalThread)?;
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
            config: names::log_path(&self.config_path),
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
                    path: names::log_path(&r.path),
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
                names::log_path(&self.state_dir.join(status::STATUS_FILE))
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
