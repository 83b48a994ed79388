//! The scanning threads: each takes files from its own bounded queue, skips
//! those the state database knows unchanged, scans the rest with
//! [`scan::scan_one`] (mbox files only from where the last scan stopped),
//! hands the findings to the actions seam, writes the events, and only then
//! records the file in the state database, so a crash between the two means
//! a second report, never a lost one.
//!
//! A file always goes to the same thread (its path picks the queue), so two
//! events for one file can never be scanned at the same time, and the
//! second one finds the first one's row and is skipped: one scan per file.

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use sha2::{Digest, Sha256};

use super::seams::Actions;
use super::state::{MboxMark, Record, StateDb};
use super::status::Stats;
use crate::config::Config;
use crate::config::watch::RootKind;
use crate::engine::Engine;
use crate::fingerprint::Fingerprinter;
use crate::report::Sink;
use crate::report::event::{Envelope, Event, FileStatus, SCHEMA_VERSION, hostname, now_rfc3339};
use crate::rules::Confidence;
use crate::scan;

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

fn worker(shared: &Shared, rx: Receiver<Job>) {
    for job in rx {
        if shared.stop.load(Ordering::Relaxed) {
            // Left for the next start: it is not in the state database,
            // so the start-up scan finds it.
            shared.stats.queued.fetch_sub(1, Ordering::Relaxed);
            continue;
        }
        handle(shared, &job);
        shared.stats.queued.fetch_sub(1, Ordering::Relaxed);
        shared.stats.progress();
    }
}

/// Scans one file, if it changed since its last scan.
fn handle(shared: &Shared, job: &Job) {
    let rt = shared.current.get();
    let file = match scan::open_for_scan(&job.path, false) {
        Ok(f) => f,
        Err(rec) => {
            if rec.reason.as_deref() == Some("vanished before it could be read") {
                // Renamed or deleted since it was noticed: a rename brings
                // its own event under the new name; a deleted file cannot
                // leak.
                tracing::debug!("{}: vanished before its scan", job.path.display());
            } else {
                shared
                    .stats
                    .files_incomplete
                    .fetch_add(1, Ordering::Relaxed);
                emit(shared, &rt, &[Event::File(rec)]);
            }
            return;
        }
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => {
            shared
                .stats
                .error(format!("{}: cannot stat: {e}", job.path.display()));
            return;
        }
    };
    let (dev, ino, size) = (meta.dev(), meta.ino(), meta.len());
    let mtime_ns = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
    let prev = match shared.db.get(dev, ino) {
        Ok(p) => p,
        Err(e) => {
            shared.stats.error(e.to_string());
            None
        }
    };
    if let Some(p) = &prev
        && p.complete()
        && p.size == size
        && p.mtime_ns == mtime_ns
        && p.rules_version == rt.rules_version()
    {
        shared.stats.files_unchanged.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = shared.db.set_path(dev, ino, &job.path) {
            shared.stats.error(e.to_string());
        }
        return;
    }
    let mut rec = Record {
        dev,
        ino,
        size,
        mtime_ns,
        sha256: None,
        rules_version: rt.rules_version().to_string(),
        verdict: String::new(),
        findings: 0,
        mbox: None,
    };
    let name = crate::report::names::escape_path(&job.path);
    let (mut events, mark) = match job.kind {
        RootKind::Mbox => scan_mbox(shared, &rt, &name, &file, prev.as_ref()),
        RootKind::Files | RootKind::Maildir => {
            let mut reader = Hashing::new(&file, &shared.stats);
            let events = scan::scan_one(
                &rt.engine,
                &rt.fingerprinter,
                &name,
                &mut reader,
                rt.min_confidence,
                rt.limits(),
            );
            rec.sha256 = Some(reader.hasher.finalize().into());
            (events, None)
        }
    };
    rec.mbox = mark;
    // Numbers in the file's name are findings too (masked on output).
    let named = scan::name_findings(&rt.engine, &rt.fingerprinter, &name, rt.min_confidence);
    events.splice(0..0, named);

    let findings: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Finding(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    let status = events.iter().rev().find_map(|e| match e {
        Event::File(f) => Some(f.status),
        _ => None,
    });
    rec.findings = findings.len() as u64;
    rec.verdict = match status {
        Some(FileStatus::Scanned) if findings.is_empty() => "clean",
        Some(FileStatus::Scanned) => "findings",
        _ => "incomplete",
    }
    .to_string();
    if rec.verdict == "incomplete" {
        rec.sha256 = None;
        rec.mbox = None;
    }
    let stats = &shared.stats;
    stats.files_scanned.fetch_add(1, Ordering::Relaxed);
    stats
        .findings
        .fetch_add(findings.len() as u64, Ordering::Relaxed);
    if rec.verdict == "incomplete" {
        stats.files_incomplete.fetch_add(1, Ordering::Relaxed);
    }
    // SEAM(actions): what the policy does about these findings.
    if !findings.is_empty() {
        events.extend(
            rt.actions
                .act(&rt.engine, &rt.fingerprinter, &job.path, &findings),
        );
    }
    if !rt.config.watch.report_scanned {
        events.retain(|e| !matches!(e, Event::File(f) if f.status == FileStatus::Scanned));
    }
    if emit(shared, &rt, &events)
        && let Err(e) = shared.db.put(&job.path, &rec)
    {
        stats.error(e.to_string());
    }
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

/// Scans what was appended to an mbox since `prev`, or all of it when the
/// part scanned before changed (or does not end at a message boundary, or
/// the rules changed). Offsets and lines in the findings are those of the
/// whole file.
fn scan_mbox(
    shared: &Shared,
    rt: &Runtime,
    name: &str,
    file: &File,
    prev: Option<&Record>,
) -> (Vec<Event>, Option<MboxMark>) {
    let resume = prev
        .filter(|p| p.complete() && p.rules_version == rt.rules_version())
        .and_then(|p| p.mbox.clone())
        .and_then(|m| {
            let (hasher, lines, messages) = hash_prefix(file, m.offset, &shared.stats).ok()?;
            let same = <[u8; 32]>::from(hasher.clone().finalize()) == m.prefix_sha256;
            (same && lines == m.lines && at_message_start(file, m.offset))
                .then_some((m.offset, hasher, lines, messages))
        });
    let (base, hasher, base_lines, base_messages) = resume.unwrap_or((0, Sha256::new(), 0, 0));
    let mut reader = Hashing {
        inner: FileAt { file, pos: base },
        hasher,
        lines: 0,
        bytes: 0,
        stats: &shared.stats,
        count: true,
    };
    let mut events = scan::scan_one(
        &rt.engine,
        &rt.fingerprinter,
        name,
        &mut reader,
        rt.min_confidence,
        rt.limits(),
    );
    for e in &mut events {
        match e {
            Event::Finding(f) => {
                f.offset += base;
                f.line = f.line.map(|l| l + base_lines);
                renumber_message(&mut f.member, base_messages);
            }
            Event::File(f) => renumber_message(&mut f.member, base_messages),
            _ => {}
        }
    }
    let mark = MboxMark {
        offset: base + reader.bytes,
        prefix_sha256: reader.hasher.finalize().into(),
        lines: base_lines + reader.lines,
    };
    (events, Some(mark))
}

/// SHA-256, newline count and message count (`From ` lines) of the first
/// `len` bytes.
fn hash_prefix(file: &File, len: u64, stats: &Stats) -> std::io::Result<(Sha256, u64, u64)> {
    let mut h = Hashing {
        inner: FileAt { file, pos: 0 }.take(len),
        hasher: Sha256::new(),
        lines: 0,
        bytes: 0,
        stats,
        count: false,
    };
    let mut froms = FromLines::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match h.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        froms.feed(&buf[..n]);
    }
    if h.bytes != len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok((h.hasher, h.lines, froms.count))
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

/// A reader that hashes, counts newlines and bytes, and tells the
/// watchdog that scanning moves.
struct Hashing<'s, R> {
    inner: R,
    hasher: Sha256,
    lines: u64,
    bytes: u64,
    stats: &'s Stats,
    /// Counts into `bytes_scanned` (not when only checking a prefix).
    count: bool,
}

impl<'s> Hashing<'s, FileAt<'s>> {
    fn new(file: &'s File, stats: &'s Stats) -> Self {
        Hashing {
            inner: FileAt { file, pos: 0 },
            hasher: Sha256::new(),
            lines: 0,
            bytes: 0,
            stats,
            count: true,
        }
    }
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        self.bytes += n as u64;
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
