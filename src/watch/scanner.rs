//! The scanning threads: each takes files from its own bounded queue, skips
//! those the state database knows unchanged (see `changes.rs`: a file whose
//! ctime alone moved is read and its keyed MAC compared), scans the rest
//! with [`scan::scan_one`] (mbox files and appended text logs only from
//! where the last scan stopped), hands the findings to the actions seam,
//! writes the events, and only then records the file in the state
//! database, so a crash between the two means a second report, never a
//! lost one. A thread writes its rows in batches (`Rows`: up to 256, or
//! whatever it scanned once its queue is empty), one transaction each. A failed action leaves the file due (`action_due`) and
//! schedules another try (`retry.rs`).
//!
//! A file always goes to the same thread (its path picks the queue), so two
//! events for one file can never be scanned at the same time, and the
//! second one finds the first one's row and is skipped: one scan per file.

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::changes::{Change, Stamp};
use super::retry::Retries;
use super::seams::Actions;
use super::status::Stats;
use crate::config::Config;
use crate::config::watch::RootKind;
use crate::engine::Engine;
use crate::fingerprint::Fingerprinter;
use crate::report::Sink;
use crate::report::event::{Envelope, Event, FileStatus, SCHEMA_VERSION, hostname, now_rfc3339};
use crate::report::names;
use crate::rules::Confidence;
use crate::scan;
use crate::state::{ContentMac, Mark, Record, StateDb, StateKey, Verdict};

use super::roots::WatchedRoot;

/// Everything a reload replaces at once: the configuration, the rules, the
/// key, the roots and the actions. Threads take the current one per file,
/// so a file is scanned wholly with the old or wholly with the new.
pub struct Runtime {
    pub config: Config,
    pub engine: Engine,
    pub fingerprinter: Fingerprinter,
    pub roots: Vec<WatchedRoot>,
    pub min_confidence: Confidence,
    pub actions: Box<dyn Actions>,
    /// The key of the content MACs in the state database.
    pub state_key: StateKey,
}

impl Runtime {
    pub fn rules_version(&self) -> &str {
        &self.engine.rule_set().version
    }

    /// Container limits from the `limits` section.
    pub fn limits(&self) -> crate::extract::Limits {
        self.config.limits.apply(crate::extract::Limits::default())
    }
}

/// The runtime in force, swapped whole on reload.
#[derive(Clone)]
pub struct Current(Arc<RwLock<Arc<Runtime>>>);

impl Current {
    pub fn new(rt: Runtime) -> Current {
        Current(Arc::new(RwLock::new(Arc::new(rt))))
    }
    pub fn get(&self) -> Arc<Runtime> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub fn set(&self, rt: Runtime) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(rt);
    }
}

/// A file to scan.
#[derive(Debug, Clone)]
pub struct Job {
    pub path: PathBuf,
    pub kind: RootKind,
    /// Compare the content's keyed MAC even when every stamp matches
    /// (`rescan: verify`).
    pub verify: bool,
    /// Queued before it settled (it waited `max_settle`): it is still
    /// being written, and its next writes bring another scan.
    pub forced: bool,
}

/// The event sinks and the envelope sequence, behind one lock so events
/// leave in one order with unique ids.
pub struct Output {
    sinks: Vec<Box<dyn Sink + Send>>,
    run_id: String,
    host: String,
    seq: u64,
}

impl Output {
    pub fn new(sinks: Vec<Box<dyn Sink + Send>>) -> Output {
        let mut id = [0u8; 8];
        let _ = getrandom::fill(&mut id);
        Output {
            sinks,
            run_id: id.iter().map(|b| format!("{b:02x}")).collect(),
            host: hostname(),
            seq: 0,
        }
    }

    /// Replaces the sinks (on reload), finishing the old ones.
    pub fn replace(&mut self, sinks: Vec<Box<dyn Sink + Send>>) {
        self.finish();
        self.sinks = sinks;
    }

    /// Writes events to every sink; returns the first error.
    pub fn write(&mut self, rules_version: &str, events: &[Event]) -> std::io::Result<()> {
        let mut result = Ok(());
        for ev in events {
            self.seq += 1;
            let env = Envelope {
                schema: SCHEMA_VERSION,
                id: format!("{}-{}", self.run_id, self.seq),
                time: now_rfc3339(),
                host: self.host.clone(),
                scan_id: self.run_id.clone(),
                rules_version: rules_version.to_string(),
            };
            for s in &mut self.sinks {
                if let Err(e) = s.event(&env, ev)
                    && result.is_ok()
                {
                    result = Err(e);
                }
            }
        }
        result
    }

    /// Events waiting in the spools of the delivering sinks; `None` when
    /// no sink spools.
    pub fn spool_depth(&self) -> Option<u64> {
        self.sinks
            .iter()
            .filter_map(|s| s.backlog())
            .reduce(|a, b| a + b)
    }

    /// Flushes every sink.
    pub fn finish(&mut self) {
        for s in &mut self.sinks {
            if let Err(e) = s.finish() {
                tracing::error!("cannot flush an event sink: {e}");
            }
        }
    }
}

/// Hands jobs to the scanning threads.
#[derive(Clone)]
pub struct Dispatch {
    queues: Vec<Sender<Job>>,
    stats: Arc<Stats>,
}

impl Dispatch {
    fn queue_of(&self, path: &Path) -> &Sender<Job> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        path.hash(&mut h);
        &self.queues[(h.finish() % self.queues.len() as u64) as usize]
    }

    /// Queues a job if its thread has room; gives it back if not.
    pub fn try_send(&self, job: Job) -> Result<(), Job> {
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        match self.queue_of(&job.path).try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(j) | TrySendError::Disconnected(j)) => {
                self.stats.queued.fetch_sub(1, Ordering::Relaxed);
                Err(j)
            }
        }
    }

    /// Queues a job, waiting for room; false when `stop` was raised first.
    pub fn send(&self, mut job: Job, stop: &AtomicBool) -> bool {
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            match self.try_send(job) {
                Ok(()) => return true,
                Err(j) => {
                    job = j;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
}

/// The scanning threads.
pub struct Scanners {
    pub dispatch: Dispatch,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// What the scanning threads share.
pub struct Shared {
    pub current: Current,
    pub db: Arc<StateDb>,
    pub stats: Arc<Stats>,
    pub output: Arc<Mutex<Output>>,
    /// Raised on SIGTERM: finish the file in hand, leave the queue.
    pub stop: Arc<AtomicBool>,
    /// Files whose action failed, waiting for another try.
    pub retries: Mutex<Retries>,
}

impl Shared {
    /// The retry schedule.
    pub fn retries(&self) -> MutexGuard<'_, Retries> {
        self.retries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Scanners {
    /// Starts `threads` scanning threads with `queue` places each.
    pub fn start(shared: Arc<Shared>, threads: usize, queue: usize) -> Scanners {
        let mut queues = Vec::new();
        let mut handles = Vec::new();
        for i in 0..threads.max(1) {
            let (tx, rx) = crossbeam_channel::bounded::<Job>(queue.max(1));
            queues.push(tx);
            let shared = shared.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("leakhound-scan-{i}"))
                    .spawn(move || worker(&shared, rx))
                    .expect("cannot start a scanning thread"),
            );
        }
        Scanners {
            dispatch: Dispatch {
                queues,
                stats: shared.stats.clone(),
            },
            threads: handles,
        }
    }

    /// Closes the queues and waits for the files in hand (the walker,
    /// which holds a clone of the queues, must have stopped).
    pub fn join(&mut self) {
        self.dispatch.queues.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    /// Files waiting in the queues.
    pub fn depth(&self) -> u64 {
        self.dispatch.queues.iter().map(|q| q.len() as u64).sum()
    }
}

/// Rows a scanning thread keeps before it writes them in one transaction.
/// A row per file in a transaction of its own (an `fcntl` lock and unlock
/// and a WAL append each) was most of the daemon's system calls in a
/// burst of new files.
const ROW_BATCH: usize = 256;

/// The rows of files a thread scanned and reported, not yet written. They
/// are written when `ROW_BATCH` wait, when its queue is empty (before the
/// thread waits for more), when it stops, and before a file among them is
/// looked up again. Rows are written after the file's events, as before:
/// a crash loses at most the rows of one batch, and those files are
/// scanned and reported again at the next start (a second report, never
/// a lost one).
#[derive(Default)]
struct Rows(Vec<(PathBuf, Record)>);

impl Rows {
    /// Writes the waiting rows in one transaction; a failure is counted
    /// and logged, and those files are scanned again at the next start.
    fn write(&mut self, shared: &Shared) {
        if self.0.is_empty() {
            return;
        }
        if let Err(e) = shared.db.put_batch(&self.0, |_| Ok(())) {
            shared.stats.error(e.to_string());
        }
        self.0.clear();
    }

    /// True when the row of (dev, ino) is waiting.
    fn holds(&self, dev: u64, ino: u64) -> bool {
        self.0.iter().any(|(_, r)| r.dev == dev && r.ino == ino)
    }
}

fn worker(shared: &Shared, rx: Receiver<Job>) {
    let mut rows = Rows::default();
    loop {
        let job = match rx.try_recv() {
            Ok(job) => job,
            Err(crossbeam_channel::TryRecvError::Empty) => {
                // Nothing more in hand: what was scanned is recorded now,
                // not when the next file comes.
                rows.write(shared);
                match rx.recv() {
                    Ok(job) => job,
                    Err(_) => break,
                }
            }
            Err(crossbeam_channel::TryRecvError::Disconnected) => break,
        };
        if shared.stop.load(Ordering::Relaxed) {
            // Left for the next start: it is not in the state database,
            // so the start-up scan finds it.
            shared.stats.queued.fetch_sub(1, Ordering::Relaxed);
            continue;
        }
        let due = handle(shared, &job, &mut rows);
        if rows.0.len() >= ROW_BATCH {
            rows.write(shared);
        }
        if !due {
            shared.retries().done(&job.path);
        }
        shared.stats.queued.fetch_sub(1, Ordering::Relaxed);
        shared.stats.progress();
    }
    rows.write(shared);
}

/// Scans one file, if it changed since its last scan. True when the
/// policy's action failed and the file stays due (it was scheduled for
/// another try).
fn handle(shared: &Shared, job: &Job, rows: &mut Rows) -> bool {
    let rt = shared.current.get();
    let file = match scan::open_for_scan(&job.path, false) {
        Ok(f) => f,
        Err(rec) => {
            if rec.reason.as_deref() == Some("vanished before it could be read") {
                // Renamed or deleted since it was noticed: a rename brings
                // its own event under the new name; a deleted file cannot
                // leak.
                tracing::debug!(
                    "{}: vanished before its scan",
                    names::display_path(&rt.engine, &job.path)
                );
            } else {
                shared
                    .stats
                    .files_incomplete
                    .fetch_add(1, Ordering::Relaxed);
                emit(shared, &rt, &[Event::File(rec)]);
            }
            return false;
        }
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => {
            shared.stats.error(format!(
                "{}: cannot stat: {e}",
                names::display_path(&rt.engine, &job.path)
            ));
            return false;
        }
    };
    let stamp = Stamp::of(&file, &meta);
    if rows.holds(stamp.dev, stamp.ino) {
        // Scanned a moment ago by this thread (a file always comes to the
        // same one): its row is what decides whether it changed since.
        rows.write(shared);
    }
    let prev = match shared.db.get(stamp.dev, stamp.ino) {
        Ok(p) => p,
        Err(e) => {
            shared.stats.error(e.to_string());
            None
        }
    };
    if let Some(p) = &prev
        && p.complete()
        && p.rules_version == rt.rules_version()
        && unchanged(shared, &rt, job, &file, &stamp, p)
    {
        shared.stats.files_unchanged.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = shared
            .db
            .touch(stamp.dev, stamp.ino, &job.path, stamp.ctime_ns)
        {
            shared.stats.error(e.to_string());
        }
        return false;
    }
    let mut rec = Record {
        dev: stamp.dev,
        ino: stamp.ino,
        size: stamp.size,
        mtime_ns: stamp.mtime_ns,
        ctime_ns: stamp.ctime_ns,
        generation: stamp.generation,
        mac: None,
        rules_version: rt.rules_version().to_string(),
        verdict: Verdict::Incomplete,
        findings: 0,
        mark: None,
    };
    let name = names::escape_path(&job.path);
    let scanned = match job.kind {
        RootKind::Maildir => scan_from(shared, &rt, &name, &file, None, Tail::Whole),
        RootKind::Mbox => scan_from(shared, &rt, &name, &file, prev.as_ref(), Tail::Mbox),
        RootKind::Files => scan_from(shared, &rt, &name, &file, prev.as_ref(), Tail::Log),
    };
    let mut events = scanned.events;
    rec.mac = Some(scanned.mac);
    rec.mark = scanned.mark;
    // Numbers in the file's name are findings too (masked on output); a
    // resumed scan of an appended log has reported them already.
    if !scanned.resumed {
        let named = scan::name_findings(&rt.engine, &rt.fingerprinter, &name, rt.min_confidence);
        events.splice(0..0, named);
    }

    let findings: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Finding(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    let status = events.iter().rev().find_map(|e| match e {
        Event::File(f) if f.member.is_none() => Some(f.status),
        _ => None,
    });
    rec.findings = findings.len() as u64;
    rec.verdict = match status {
        Some(FileStatus::Scanned) if findings.is_empty() => Verdict::Clean,
        Some(FileStatus::Scanned) => Verdict::Findings,
        _ => Verdict::Incomplete,
    };
    if rec.verdict == Verdict::Incomplete {
        rec.mac = None;
        rec.mark = None;
    }
    // Another try of a failed action on the same content: its findings
    // were reported with the failure; only the action is news.
    let retry_of_same = prev.as_ref().is_some_and(|p| {
        p.verdict == Verdict::ActionDue && !scanned.resumed && p.mac.is_some() && p.mac == rec.mac
    });
    let stats = &shared.stats;
    stats.files_scanned.fetch_add(1, Ordering::Relaxed);
    if job.forced && rec.verdict == Verdict::Incomplete {
        // Read while still being written (a zip half copied): what could
        // not be read whole is read again once it settles, and reported
        // then if it still cannot; its findings count now.
        events.retain(|e| !matches!(e, Event::File(f) if f.status != FileStatus::Scanned));
    } else if rec.verdict == Verdict::Incomplete {
        stats.files_incomplete.fetch_add(1, Ordering::Relaxed);
    }
    if retry_of_same {
        events.retain(|e| !matches!(e, Event::Finding(_)));
    } else {
        stats
            .findings
            .fetch_add(findings.len() as u64, Ordering::Relaxed);
    }
    // SEAM(actions): what the policy does about these findings.
    let mut due = false;
    if !findings.is_empty() {
        let acted = rt
            .actions
            .act(&rt.engine, &rt.fingerprinter, &job.path, &findings);
        events.extend(acted.events);
        if let Some(reason) = acted.failed {
            due = true;
            rec.verdict = Verdict::ActionDue;
            stats.actions_failed.fetch_add(1, Ordering::Relaxed);
            let w = &rt.config.watch;
            let next = shared.retries().failed(
                &job.path,
                job.kind,
                w.action_retry,
                w.action_retry_max,
                Instant::now(),
            );
            let when = match next {
                Some(d) => format!("tried again in {}", humantime::format_duration(d)),
                None => "tried again at the next rescan or start (too many files wait for a retry)"
                    .to_string(),
            };
            stats.error(format!(
                "{}: the action failed, {when}: {reason}",
                names::display_path(&rt.engine, &job.path)
            ));
        }
    }
    if !rt.config.watch.report_scanned {
        events.retain(|e| !matches!(e, Event::File(f) if f.status == FileStatus::Scanned));
    }
    if emit(shared, &rt, &events) {
        rows.0.push((job.path.clone(), rec));
    }
    due
}

/// Writes events; false (and the error remembered) when a sink failed, in
/// which case the file is not recorded and will be scanned again.
fn emit(shared: &Shared, rt: &Runtime, events: &[Event]) -> bool {
    if events.is_empty() {
        return true;
    }
    // Numbers in names never leave unmasked (see `report::names`).
    let mut masker = crate::report::names::Masker::new(&rt.engine);
    let events: Vec<Event> = events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            masker.mask_event(&mut e);
            e
        })
        .collect();
    let events = &events[..];
    let mut out = shared.output.lock().unwrap_or_else(|p| p.into_inner());
    match out.write(rt.rules_version(), events) {
        Ok(()) => {
            shared
                .stats
                .events
                .fetch_add(events.len() as u64, Ordering::Relaxed);
            true
        }
        Err(e) => {
            shared.stats.error(format!("cannot write events: {e}"));
            false
        }
    }
}

/// Whether a file with a complete row of the same rules needs no scan: its
/// stamps match (and, with `verify`, its content MAC too), or only its
/// ctime moved and its content MAC still matches.
fn unchanged(
    shared: &Shared,
    rt: &Runtime,
    job: &Job,
    file: &File,
    stamp: &Stamp,
    prev: &Record,
) -> bool {
    match stamp.compare(prev) {
        Change::Changed => false,
        Change::Same if !job.verify => true,
        Change::Same | Change::CtimeOnly => {
            let Some(want) = prev.mac else {
                return false;
            };
            shared.stats.files_verified.fetch_add(1, Ordering::Relaxed);
            match mac_prefix(file, stamp.size, &rt.state_key, &shared.stats) {
                Ok(p) => <[u8; 32]>::from(p.mac.finalize().into_bytes()) == want,
                // The scan that follows reports what cannot be read.
                Err(_) => false,
            }
        }
    }
}

/// Where a scan of a file may start from its last mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// Always the whole file (Maildir messages are written once).
    Whole,
    /// mbox: from the mark when the prefix is unchanged and a message
    /// (`From ` line) starts there.
    Mbox,
    /// Plain files: from the mark when the prefix is unchanged, the file
    /// grew, and the last scan read it as UTF-8 text (an appended log).
    Log,
}

/// What [`scan_from`] read.
struct Scanned {
    events: Vec<Event>,
    /// MAC of the whole content (as far as it was read).
    mac: ContentMac,
    /// Where the next scan may start.
    mark: Option<Mark>,
    /// Only the part after the last mark was read.
    resumed: bool,
}

/// The longest unfinished last line kept aside to place a mark after it:
/// a "log" with no newline for this long is not one, and is read whole
/// next time.
const MAX_TAIL: usize = 1 << 20;

/// Scans a file, from its last mark when `tail` allows and the part
/// scanned before is unchanged (its keyed MAC and newline count match),
/// else whole. Offsets, lines and mbox message numbers in the findings are
/// those of the whole file. The new mark is placed after the last complete
/// line read, so a line still being written is read again next time, whole
/// (a number cut by the writer is never split between two scans; a finding
/// on that line may be reported twice, never missed).
fn scan_from(
    shared: &Shared,
    rt: &Runtime,
    name: &str,
    file: &File,
    prev: Option<&Record>,
    tail: Tail,
) -> Scanned {
    let key = &rt.state_key;
    let resume = prev
        .filter(|p| tail != Tail::Whole && p.complete() && p.rules_version == rt.rules_version())
        .and_then(|p| p.mark.clone().map(|m| (p, m)))
        .and_then(|(p, m)| {
            let size = file.metadata().ok()?.len();
            if tail == Tail::Log && size <= m.offset {
                return None;
            }
            if tail == Tail::Log && p.size > size {
                return None;
            }
            let pre = mac_prefix(file, m.offset, key, &shared.stats).ok()?;
            let same = <[u8; 32]>::from(pre.mac.clone().finalize().into_bytes()) == m.prefix_mac;
            let boundary = match tail {
                Tail::Mbox => at_message_start(file, m.offset),
                _ => at_line_start(file, m.offset),
            };
            (same && pre.lines == m.lines && boundary).then_some((m.offset, pre))
        });
    let resumed = resume.is_some();
    let (base, pre) = resume.unwrap_or_else(|| {
        (
            0,
            Prefix {
                mac: key.hasher(),
                lines: 0,
                messages: 0,
            },
        )
    });
    // A resumed log is read from a little before its mark, so that context
    // keywords just before what was appended still count; findings in that
    // overlap were reported by the earlier scan and are dropped. (An mbox
    // resumes at a message boundary: the message before is no context.)
    let start = match tail {
        Tail::Log if resumed => overlap_start(file, base),
        _ => base,
    };
    let overlap_lines = newlines_between(file, start, base);
    let mut reader = Hashing::new(file, start, base, pre.mac, &shared.stats, true);
    reader.track_lines = tail != Tail::Whole;
    let mut events = scan::scan_one(
        &rt.engine,
        &rt.fingerprinter,
        name,
        &mut reader,
        rt.min_confidence,
        rt.limits(),
    );
    let before = events.len();
    events.retain(|e| !matches!(e, Event::Finding(f) if f.offset + start < base));
    let dropped = (before - events.len()) as u64;
    for e in &mut events {
        match e {
            Event::Finding(f) => {
                f.offset += start;
                f.line = f.line.map(|l| l + pre.lines - overlap_lines);
                renumber_message(&mut f.member, pre.messages);
            }
            Event::File(f) => {
                if f.member.is_none() {
                    f.findings = f.findings.saturating_sub(dropped);
                }
                renumber_message(&mut f.member, pre.messages)
            }
            _ => {}
        }
    }
    // A log's mark only when what was read is plain UTF-8 text (no
    // container, no other encoding), whose offsets are the file's.
    let text = events.iter().rev().any(|e| {
        matches!(e, Event::File(f) if f.member.is_none() && f.encoding.as_deref() == Some("utf-8"))
    });
    let keep_mark = match tail {
        Tail::Whole => false,
        Tail::Mbox => true,
        Tail::Log => text,
    };
    let mark = reader
        .line_end
        .take()
        .filter(|(offset, ..)| keep_mark && *offset > 0)
        .map(|(offset, mac, lines)| Mark {
            offset,
            prefix_mac: mac.finalize().into_bytes().into(),
            lines: pre.lines + lines,
        });
    Scanned {
        events,
        mac: reader.mac.finalize().into_bytes().into(),
        mark,
        resumed,
    }
}

/// Bytes read again before a resumed log's mark: the engine's margin, the
/// most it looks at beside a match (context keywords, neighbourhood
/// signals), so a number is judged as it would be in a scan of the whole
/// file.
const CONTEXT_OVERLAP: u64 = crate::engine::MARGIN as u64;

/// Where to start reading a resumed log: [`CONTEXT_OVERLAP`] bytes before
/// its mark, moved forward to the start of a UTF-8 character (a text cut
/// inside one would not read as UTF-8, and its offsets would shift); the
/// mark itself when those bytes cannot be read.
fn overlap_start(file: &File, mark: u64) -> u64 {
    let from = mark.saturating_sub(CONTEXT_OVERLAP);
    let mut buf = vec![0u8; usize::try_from(mark - from).unwrap_or(0)];
    if file.read_exact_at(&mut buf, from).is_err() {
        return mark;
    }
    let continuation = buf.iter().take_while(|b| (0x80..0xc0).contains(*b)).count();
    from + continuation as u64
}

/// Newlines in the bytes `from..to` of a file (0 when they cannot be read:
/// line numbers are then off by what could not be counted).
fn newlines_between(file: &File, from: u64, to: u64) -> u64 {
    let mut buf = vec![0u8; usize::try_from(to.saturating_sub(from)).unwrap_or(0)];
    match file.read_exact_at(&mut buf, from) {
        Ok(()) => memchr::memchr_iter(b'\n', &buf).count() as u64,
        Err(_) => 0,
    }
}

/// The keyed MAC state after the first bytes of a file, with the newlines
/// and mbox messages (`From ` lines) in them.
struct Prefix {
    mac: Hmac<Sha256>,
    lines: u64,
    messages: u64,
}

/// MAC, newline count and message count (`From ` lines) of the first `len`
/// bytes.
fn mac_prefix(file: &File, len: u64, key: &StateKey, stats: &Stats) -> std::io::Result<Prefix> {
    let mut h = Hashing::new(file, 0, 0, key.hasher(), stats, false);
    let mut froms = FromLines::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match h.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        froms.feed(&buf[..n]);
        left -= n as u64;
    }
    if left != 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Prefix {
        mac: h.mac,
        lines: h.lines,
        messages: froms.count,
    })
}

/// Counts lines that start with `From ` (mbox message separators, as the
/// extractor counts them) across buffer boundaries.
struct FromLines {
    /// Bytes of `From ` matched at the start of the current line, or
    /// `None` when the current line cannot be one.
    matched: Option<usize>,
    count: u64,
}

impl Default for FromLines {
    fn default() -> Self {
        FromLines {
            matched: Some(0),
            count: 0,
        }
    }
}

impl FromLines {
    const PAT: &'static [u8] = b"From ";

    fn feed(&mut self, buf: &[u8]) {
        let mut start = 0;
        loop {
            // Continue (or begin) a match at `start`, a line start or the
            // continuation of one cut by the previous buffer.
            if let Some(k) = self.matched {
                let want = &Self::PAT[k..];
                let have = &buf[start..buf.len().min(start + want.len())];
                if want.starts_with(have) {
                    if have.len() == want.len() {
                        self.count += 1;
                        self.matched = None;
                    } else {
                        // The buffer ends inside a possible match.
                        self.matched = Some(k + have.len());
                        return;
                    }
                } else {
                    self.matched = None;
                }
            }
            match memchr::memchr(b'\n', &buf[start..]) {
                Some(i) => {
                    start += i + 1;
                    self.matched = Some(0);
                }
                None => return,
            }
        }
    }
}

/// `msg N...` becomes `msg N+base...`: an mbox scanned from where its last
/// scan stopped numbers its messages from there, and the member must name
/// the message's place in the whole file.
fn renumber_message(member: &mut Option<String>, base: u64) {
    if base == 0 {
        return;
    }
    let Some(m) = member.as_mut() else {
        return;
    };
    let Some(rest) = m.strip_prefix("msg ") else {
        return;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let Ok(n) = rest[..digits].parse::<u64>() else {
        return;
    };
    *m = format!("msg {}{}", n + base, &rest[digits..]);
}

/// True when `offset` is the start of the file or of a `From ` line.
fn at_message_start(file: &File, offset: u64) -> bool {
    if offset == 0 {
        return true;
    }
    let mut b = [0u8; 6];
    match file.read_at(&mut b, offset - 1) {
        // Nothing appended yet: the next message will start here.
        Ok(1) => b[0] == b'\n',
        Ok(6) => &b == b"\nFrom ",
        _ => false,
    }
}

/// Reads a file from a position with `pread`, leaving the descriptor's
/// offset alone.
struct FileAt<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for FileAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// True when `offset` is the start of the file or of a line.
fn at_line_start(file: &File, offset: u64) -> bool {
    if offset == 0 {
        return true;
    }
    let mut b = [0u8; 1];
    matches!(file.read_at(&mut b, offset - 1), Ok(1) if b[0] == b'\n')
}

/// A reader that MACs what it reads (under the state key), counts newlines
/// and bytes, keeps the MAC as of the last complete line (for the next
/// mark), and tells the watchdog that scanning moves.
struct Hashing<'s> {
    inner: FileAt<'s>,
    /// Bytes before this offset are read (for context) but not MACed,
    /// counted as lines or tracked.
    mac_from: u64,
    /// MAC of the file from its start to where this reader is.
    mac: Hmac<Sha256>,
    /// Newlines read by this reader.
    lines: u64,
    bytes: u64,
    stats: &'s Stats,
    /// Counts into `bytes_scanned` (not when only checking a prefix).
    count: bool,
    /// Keep [`Hashing::line_end`] up to date.
    track_lines: bool,
    /// After the last newline read: (file offset, MAC up to there, newlines
    /// read by this reader up to there). `None` before the first newline,
    /// or when the last line grew past [`MAX_TAIL`].
    line_end: Option<(u64, Hmac<Sha256>, u64)>,
    /// Bytes read after the last newline, not yet in `line_end`'s MAC.
    tail: Vec<u8>,
}

impl<'s> Hashing<'s> {
    /// Reads `file` from `pos`; MACs, counts lines and tracks line ends
    /// only from `mac_from` (at or after `pos`), `mac` being the MAC of the
    /// bytes before `mac_from` (which end a line, or are none).
    fn new(
        file: &'s File,
        pos: u64,
        mac_from: u64,
        mac: Hmac<Sha256>,
        stats: &'s Stats,
        count: bool,
    ) -> Self {
        Hashing {
            inner: FileAt { file, pos },
            mac_from,
            line_end: Some((mac_from, mac.clone(), 0)),
            mac,
            lines: 0,
            bytes: 0,
            stats,
            count,
            track_lines: false,
            tail: Vec::new(),
        }
    }

    /// Moves the line end past the last newline of `buf` (just read).
    fn track(&mut self, buf: &[u8]) {
        let Some((offset, mut mac, lines)) = self.line_end.take() else {
            // The last line outgrew MAX_TAIL: no mark this time.
            return;
        };
        match memchr::memrchr(b'\n', buf) {
            Some(i) => {
                mac.update(&self.tail);
                mac.update(&buf[..=i]);
                self.tail.clear();
                self.tail.extend_from_slice(&buf[i + 1..]);
                let offset = self.inner.pos - (buf.len() - i - 1) as u64;
                self.line_end = Some((offset, mac, self.lines));
            }
            None => {
                self.tail.extend_from_slice(buf);
                if self.tail.len() > MAX_TAIL {
                    self.tail = Vec::new();
                } else {
                    self.line_end = Some((offset, mac, lines));
                }
            }
        }
    }
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let at = self.inner.pos;
        let n = self.inner.read(buf)?;
        let skip = usize::try_from(self.mac_from.saturating_sub(at))
            .unwrap_or(usize::MAX)
            .min(n);
        let data = &buf[skip..n];
        self.mac.update(data);
        self.lines += memchr::memchr_iter(b'\n', data).count() as u64;
        self.bytes += n as u64;
        if self.track_lines {
            self.track(data);
        }
        if self.count {
            self.stats
                .bytes_scanned
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        self.stats.progress();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_in_pieces(text: &[u8], piece: usize) -> u64 {
        let mut f = FromLines::default();
        for chunk in text.chunks(piece) {
            f.feed(chunk);
        }
        f.count
    }

    #[test]
    fn a_resumed_log_reads_its_context_from_a_character_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        // 'é' is two bytes: 300 of them, a newline, then the mark.
        let text = format!("{}\nappended\n", "é".repeat(300));
        std::fs::write(&path, &text).unwrap();
        let f = File::open(&path).unwrap();
        let mark = (text.find('\n').unwrap() + 1) as u64;
        for m in [mark, mark - 1] {
            let start = overlap_start(&f, m);
            assert!(m - start <= CONTEXT_OVERLAP);
            assert!(text.is_char_boundary(start as usize), "{start} for {m}");
        }
        assert_eq!(overlap_start(&f, 10), 0);
        assert_eq!(newlines_between(&f, 0, mark), 1);
        assert_eq!(newlines_between(&f, 0, text.len() as u64), 2);
    }

    #[test]
    fn from_lines_are_counted_across_buffers() {
        let text =
            b"From a@x 1\nSubject: 1\n\nFrom here on\n>From quoted\n\nFrom b@x 2\nx From y\nFrom";
        for piece in 1..=text.len() {
            assert_eq!(count_in_pieces(text, piece), 3, "pieces of {piece}");
        }
        assert_eq!(count_in_pieces(b"", 4), 0);
        assert_eq!(count_in_pieces(b"From \n", 4), 1);
    }

    #[test]
    fn appended_messages_keep_their_place() {
        let mut m = Some("msg 1 <id@x>!attachment n.txt".to_string());
        renumber_message(&mut m, 4);
        assert_eq!(m.as_deref(), Some("msg 5 <id@x>!attachment n.txt"));
        let mut m = Some("msg 12".to_string());
        renumber_message(&mut m, 1);
        assert_eq!(m.as_deref(), Some("msg 13"));
        let mut m = Some("report.csv".to_string());
        renumber_message(&mut m, 1);
        assert_eq!(m.as_deref(), Some("report.csv"));
        let mut none = None;
        renumber_message(&mut none, 1);
        assert_eq!(none, None);
    }
}
