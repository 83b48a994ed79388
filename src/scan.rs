//! The scan pipeline: inputs -> engine -> events, on all cores.
//!
//! With `-j1` everything runs on the calling thread: the walk, the reads,
//! the scan and the report, with no thread hand-off at all (on a tree of
//! small files the hand-offs cost more than the scanning did).
//!
//! With more threads, one walker hands out *batches* of work items (not one
//! at a time) to a rayon pool of `threads` workers; a batch is split further
//! only when another worker is idle, so a batch of big files still spreads
//! over the pool. Each worker reads files through its own thread-local
//! buffers and collects the events of many files before it sends them over
//! a bounded channel to the calling thread, which is the only one that
//! reports. The channel is bounded, so a slow report sink slows the
//! workers down instead of buffering without limit.
//!
//! The per-file path (see docs/DESIGN.md, "Many small files"): one `open`,
//! one `fstat` (its result is passed along, never asked again), a file
//! that fits the chunk read whole into a reused buffer with one `read`
//! (plus the `read` that sees the end), the format sniffed from those bytes.
//!
//! With `--cache`, a file is first asked of the cache from a `stat` of
//! its name in its directory (kept open while the walk is in it): an
//! unchanged file is answered with no `open`, `fstat`, `read` or
//! `close` at all, and only files that changed are opened (and then judged
//! by their own `fstat`).

use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::iter::{
    IntoParallelIterator, IntoParallelRefIterator, ParallelBridge, ParallelIterator,
};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::engine::stream::{
    Encoding, LineFixup, Located, ScanBuffers, SegmentMatch, SegmentTotals, StreamScanner,
    detect_encoding,
};
use crate::engine::{Engine, Flow};
use crate::extract::{
    self, Budget, Format, LeafSink, LimitHit, Limits, Member, Place, Problem, Step, provenance,
};
use crate::fingerprint::Fingerprinter;
use crate::inputs::{self, Input, Item, STDIN_NAME, WalkOptions};
use crate::report::event::{
    Event, FileCounts, FileEvent, FileMeta, FileStatus, FindingEvent, Location,
};
use crate::report::names;
use crate::rules::Confidence;
use crate::state::cache::{Cached, ScanCache, Stamp};

/// Events sent to the reporter per message: a worker collects the events
/// of many small files before it sends them.
const BATCH: usize = 256;

/// Work items handed to the pool at once. Big enough that the hand-off
/// (a lock and a wake-up) is paid once per many small files; a batch is
/// split among idle workers, so a batch of big files does not leave cores
/// idle.
const ITEMS_PER_BATCH: usize = 256;

/// Bytes read ahead of sniffing a file too large to read whole.
const HEAD: usize = 64 * 1024;

/// Regular files at least this big are split into segments that several
/// threads scan at once, so one huge file does not leave cores idle.
const SEGMENTED_FROM: u64 = 64 << 20;

/// Bytes per segment: large enough that margins and `pread` calls cost
/// nothing, small enough that a thread's buffer stays in its core's L2
/// cache (with 2 MiB segments the data went through main memory twice and
/// two threads were slower than one).
const SEGMENT: u64 = 256 << 10;

/// Segments per thread handed to the pool at once: findings of a batch are
/// held until it is done, and each batch ends with a wait for its slowest
/// segment.
const SEGMENTS_PER_BATCH: usize = 16;

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub inputs: Vec<Input>,
    pub walk: WalkOptions,
    pub threads: usize,
    pub chunk_size: usize,
    /// Findings below this confidence are left out.
    pub min_confidence: Confidence,
    /// How far containers are opened.
    pub limits: Limits,
    /// `--cache FILE`: files unchanged since the last run, and copies of
    /// content already scanned, are reported from here without a scan.
    pub cache: Option<Arc<ScanCache>>,
}

/// Counters over a whole scan, of what the pipeline alone knows. Findings
/// are not counted here: which of them are reported is the policy stage's
/// decision, and it counts them, once (`report::counts::FindingCounts`).
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub files: FileCounts,
    pub excluded: u64,
    pub bytes: u64,
    /// Findings below `min_confidence`: counted, not reported.
    pub below_confidence: u64,
}

impl Totals {
    fn count(&mut self, ev: &Event) {
        match ev {
            // Records of members say what inside a file was not scanned;
            // the file's own record (member null) is what is counted.
            Event::File(f) if f.member.is_none() => {
                self.files.add(f.status);
                self.bytes += f.bytes;
            }
            Event::File(_) => {}
            _ => {}
        }
    }
}

/// What a worker sends to the reporting thread: the events of one or more
/// files, and what it counted without an event.
struct Msg {
    events: Vec<Event>,
    /// Files and directories left out by the globs.
    excluded: u64,
    /// Findings below the confidence threshold, counted and dropped.
    below_confidence: u64,
}

thread_local! {
    static BUFFERS: RefCell<ScanBuffers> = RefCell::new(ScanBuffers::default());
    /// The bytes of the file being read: kept from file to file, so a small
    /// file costs no allocation and no zeroing.
    static FILE_BYTES: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs a scan and hands every event to `on_event` on the calling thread.
/// `progress`, if given, counts bytes as they are read.
pub fn run(
    engine: &Engine,
    fingerprinter: &Fingerprinter,
    config: ScanConfig,
    progress: Option<Arc<AtomicU64>>,
    on_event: &mut dyn FnMut(Event),
) -> Totals {
    let mut totals = Totals::default();
    let mut take = |msg: Msg, totals: &mut Totals| {
        totals.excluded += msg.excluded;
        totals.below_confidence += msg.below_confidence;
        for ev in msg.events {
            totals.count(&ev);
            on_event(ev);
        }
    };
    let threads = config.threads.max(1);
    let chunk = config.chunk_size;
    let min_confidence = config.min_confidence;
    let limits = config.limits;
    let cache = config.cache.clone();
    if threads == 1 {
        // One thread: walk, scan and report here, handing nothing over.
        // The channel only carries a worker's batches to the loop below,
        // uncontended.
        let (tx, rx) = crossbeam_channel::unbounded::<Msg>();
        let worker = Worker::new(
            engine,
            fingerprinter,
            &tx,
            chunk,
            min_confidence,
            1,
            progress,
            limits,
        )
        .with_cache(cache.as_deref());
        for item in inputs::items(config.inputs, config.walk) {
            worker.process(item);
            for msg in rx.try_iter() {
                take(msg, &mut totals);
            }
        }
        worker.flush();
        drop(worker);
        drop(tx);
        for msg in rx.try_iter() {
            take(msg, &mut totals);
        }
        return totals;
    }
    let (tx, rx) = crossbeam_channel::bounded::<Msg>(64);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("leakhound-scan-{i}"))
        .build()
        .expect("cannot start scanning threads");
    std::thread::scope(|s| {
        s.spawn(move || {
            // The sender lives in this thread: the report loop below ends
            // when the walk is done and every worker has sent its events.
            let pieces = Pieces {
                engine,
                fingerprinter,
                tx: &tx,
                chunk,
                min_confidence,
                threads,
                progress: &progress,
                limits,
                cache: cache.as_deref(),
            };
            let batches = Batches {
                items: inputs::items(config.inputs, config.walk),
            };
            pool.install(|| {
                batches.par_bridge().for_each(|batch| {
                    // Split only when a worker is idle; each piece has one
                    // worker, which sends its events when BATCH are waiting
                    // and when the piece is done (on drop).
                    batch
                        .into_par_iter()
                        .for_each_init(|| pieces.worker(), |w, item| w.process(item));
                });
            });
        });
        for msg in rx {
            take(msg, &mut totals);
        }
    });
    totals
}

/// The walk's items, `ITEMS_PER_BATCH` at a time.
struct Batches<I> {
    items: I,
}

impl<I: Iterator<Item = Item>> Iterator for Batches<I> {
    type Item = Vec<Item>;
    fn next(&mut self) -> Option<Vec<Item>> {
        let batch: Vec<Item> = self.items.by_ref().take(ITEMS_PER_BATCH).collect();
        (!batch.is_empty()).then_some(batch)
    }
}

/// What a piece of a batch needs to make its worker; copied into each
/// piece rayon splits off.
#[derive(Clone, Copy)]
struct Pieces<'a> {
    engine: &'a Engine,
    fingerprinter: &'a Fingerprinter,
    tx: &'a crossbeam_channel::Sender<Msg>,
    chunk: usize,
    min_confidence: Confidence,
    threads: usize,
    progress: &'a Option<Arc<AtomicU64>>,
    limits: Limits,
    cache: Option<&'a ScanCache>,
}

impl<'a> Pieces<'a> {
    /// A worker for one piece of a batch.
    fn worker(&self) -> Worker<'a> {
        Worker::new(
            self.engine,
            self.fingerprinter,
            self.tx,
            self.chunk,
            self.min_confidence,
            self.threads,
            self.progress.clone(),
            self.limits,
        )
        .with_cache(self.cache)
    }
}

/// Scans one stream (an open file, a pipe, a buffer) on the calling thread
/// and returns its events: its findings in order, its `file` record last.
///
/// For callers that handle files one at a time, such as the daemon and
/// actions that rescan what they wrote. `name` is the path reported in the
/// events. Containers are opened as in [`run`], so both find the same
/// things (a zip read from a pipe is held in memory, up to
/// `limits.max_buffer`).
pub fn scan_one(
    engine: &Engine,
    fingerprinter: &Fingerprinter,
    name: &str,
    reader: &mut dyn Read,
    min_confidence: Confidence,
    limits: Limits,
) -> Vec<Event> {
    one_thread(engine, fingerprinter, min_confidence, limits, |w| {
        w.scan_input(name, reader)
    })
}

/// Runs `work` on a one-thread worker and returns the events it sent (what
/// the summary counts is dropped: a caller of one file keeps no totals).
fn one_thread(
    engine: &Engine,
    fingerprinter: &Fingerprinter,
    min_confidence: Confidence,
    limits: Limits,
    work: impl FnOnce(&Worker<'_>),
) -> Vec<Event> {
    let (tx, rx) = crossbeam_channel::unbounded::<Msg>();
    let worker = Worker::new(
        engine,
        fingerprinter,
        &tx,
        crate::engine::stream::DEFAULT_CHUNK,
        min_confidence,
        1,
        None,
        limits,
    );
    work(&worker);
    drop(worker);
    drop(tx);
    rx.try_iter().flat_map(|m| m.events).collect()
}

/// The findings (`location: name`) in the last name of `name`, a path as
/// events carry it (escaped: see `report::names`), for callers that scan
/// files one at a time (the daemon). [`run`] reports them by itself.
pub fn name_findings(
    engine: &Engine,
    fingerprinter: &Fingerprinter,
    name: &str,
    min_confidence: Confidence,
) -> Vec<Event> {
    one_thread(
        engine,
        fingerprinter,
        min_confidence,
        Limits::default(),
        |w| w.scan_name_of(name),
    )
}

struct Worker<'a> {
    engine: &'a Engine,
    fingerprinter: &'a Fingerprinter,
    tx: &'a crossbeam_channel::Sender<Msg>,
    chunk: usize,
    min_confidence: Confidence,
    threads: usize,
    progress: Option<Arc<AtomicU64>>,
    limits: Limits,
    /// Events not sent yet: the events of many small files travel in one
    /// message. A file's own events stay in order; at most `BATCH` wait.
    pending: RefCell<Msg>,
    /// Owner, group and mtime of the file being scanned, from its `fstat`,
    /// for its record (so the reporter need not stat it again).
    file_meta: RefCell<Option<Box<FileMeta>>>,
    cache: Option<&'a ScanCache>,
    /// With a cache: the events of the file being scanned, kept for the
    /// cache as well as sent (`None` once there are too many to keep).
    capture: RefCell<Option<Vec<Event>>>,
    /// Findings below the confidence threshold, all files together.
    below_total: std::cell::Cell<u64>,
    /// With a cache: the directory of the last file asked, open, so the
    /// next file of the same directory is `stat`ed by its name in it (see
    /// [`Worker::stat_in_dir`]).
    dir: RefCell<Option<(std::path::PathBuf, rustix::fd::OwnedFd)>>,
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

impl<'a> Worker<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        engine: &'a Engine,
        fingerprinter: &'a Fingerprinter,
        tx: &'a crossbeam_channel::Sender<Msg>,
        chunk: usize,
        min_confidence: Confidence,
        threads: usize,
        progress: Option<Arc<AtomicU64>>,
        limits: Limits,
    ) -> Worker<'a> {
        Worker {
            engine,
            fingerprinter,
            tx,
            chunk,
            min_confidence,
            threads,
            progress,
            limits,
            pending: RefCell::new(Msg {
                events: Vec::new(),
                excluded: 0,
                below_confidence: 0,
            }),
            file_meta: RefCell::new(None),
            cache: None,
            capture: RefCell::new(None),
            below_total: std::cell::Cell::new(0),
            dir: RefCell::new(None),
        }
    }
}

impl<'a> Worker<'a> {
    fn with_cache(mut self, cache: Option<&'a ScanCache>) -> Worker<'a> {
        self.cache = cache;
        self
    }

    /// The `stat` of `path` (as [`stat_path`]), made relative to its
    /// directory, which is kept open (`O_PATH`) while the files of the
    /// walk are in it: the kernel looks up one name, not every component
    /// of the path from the root (the lookup of whole paths was 11 % of a
    /// re-scan of 100,000 unchanged files). The directory is opened again whenever the walk
    /// moves to another one (with more threads, a worker lives for one
    /// batch of the walk at most), so it is held only while the walk is
    /// in it: a directory renamed or replaced while its files are asked is
    /// asked as it was when it was opened (the walk listed those names in
    /// it), and the walk's next visit, or the next run, sees the new one.
    fn stat_in_dir(&self, path: &Path, follow: bool) -> Option<rustix::fs::Stat> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return stat_path(path, follow);
        };
        if parent.as_os_str().is_empty() {
            return stat_path(path, follow);
        }
        let mut dir = self.dir.borrow_mut();
        if dir
            .as_ref()
            .is_none_or(|(open, _)| open.as_os_str() != parent.as_os_str())
        {
            // Followed as a path walk follows it: a link in a directory
            // part of `path` is followed either way.
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            *dir = rustix::fs::open(parent, flags, Mode::empty())
                .ok()
                .map(|fd| (parent.to_path_buf(), fd));
        }
        let Some((_, fd)) = dir.as_ref() else {
            return stat_path(path, follow);
        };
        let flags = if follow {
            rustix::fs::AtFlags::empty()
        } else {
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW
        };
        rustix::fs::statat(fd, name, flags).ok()
    }

    /// [`Worker::scan_file`] through the cache: a file whose row matches
    /// its `fstat` is not read; one whose content (keyed MAC) was scanned
    /// before, at another path or in another run, is read for its MAC but
    /// not scanned; the rest is scanned and kept. A cache that cannot be
    /// read or written is reported once per file as a warning in the log
    /// and the file is scanned as without one. `asked`: `st`'s row was
    /// looked up already (by the stat-first path) and missed.
    fn scan_file_cached(
        &self,
        cache: &ScanCache,
        path: &Path,
        name: &str,
        mut file: File,
        st: &rustix::fs::Stat,
        asked: bool,
    ) {
        let stamp = Stamp::of(st);
        let hit = |mac: &crate::state::ContentMac| match cache.content(mac) {
            Ok(Some(c)) => c.replay(name).map(|events| (c, events)),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!("{e}");
                None
            }
        };
        match if asked {
            Ok(None)
        } else {
            cache.unchanged(&stamp)
        } {
            Ok(Some(mac)) => {
                if let Some((c, events)) = hit(&mac) {
                    cache.counts.unchanged.fetch_add(1, Ordering::Relaxed);
                    return self.replay(events, c.below_confidence, st);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("{e}"),
        }
        // Changed or new: its MAC says whether this content was seen.
        let mac = {
            use std::io::Seek;
            let mac = cache.mac_reader(&mut file);
            match (mac, file.rewind()) {
                (Ok(mac), Ok(())) => mac,
                _ => return self.scan_file(name, file, st),
            }
        };
        if let Some((c, events)) = hit(&mac) {
            if let Err(e) = cache.store(path, &stamp, mac, c.findings(), None) {
                tracing::warn!("{e}");
            }
            cache.counts.copies.fetch_add(1, Ordering::Relaxed);
            return self.replay(events, c.below_confidence, st);
        }
        cache.counts.scanned.fetch_add(1, Ordering::Relaxed);
        self.capture.replace(Some(Vec::new()));
        let below_before = self.below_total.get();
        let after = {
            let f = file.try_clone();
            self.scan_file(name, file, st);
            f.and_then(|f| rustix::fs::fstat(&f).map_err(Into::into))
                .ok()
        };
        let Some(events) = self.capture.take() else {
            return;
        };
        // Changed while it was read: what was kept may not be `mac`'s.
        if after.is_none_or(|a| Stamp::of(&a) != stamp) {
            return;
        }
        if let Some(c) = Cached::of(&events, self.below_total.get() - below_before)
            && let Err(e) = cache.store(path, &stamp, mac, 0, Some(c))
        {
            tracing::warn!("{e}");
        }
    }

    /// The stat-first path of `--cache`: a regular file whose `stat` by
    /// path (see [`stat_path`]: no `open`, no `close`) matches its row has
    /// its kept events replayed. True when the file was answered so; false
    /// when it must be opened (changed, new, not a regular file, its events
    /// not kept or not readable).
    fn replay_unchanged(&self, cache: &ScanCache, name: &str, st: &rustix::fs::Stat) -> bool {
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return false;
        }
        let mac = match cache.unchanged(&Stamp::of(st)) {
            Ok(Some(mac)) => mac,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!("{e}");
                return false;
            }
        };
        let kept = match cache.replay(&mac, name) {
            Ok(Some(kept)) => kept,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!("{e}");
                return false;
            }
        };
        cache.counts.unchanged.fetch_add(1, Ordering::Relaxed);
        self.replay(kept.events, kept.below_confidence, st);
        true
    }

    /// Opens a file the stat-first path could not answer and scans it
    /// through the cache. `before`: the `stat` by path that was taken
    /// first. What is looked up, read and kept is decided by the opened
    /// file's own `fstat`, never by `before`: a file that changed between
    /// the two (or was replaced by another inode) is handled as one seen
    /// for the first time, under what was read.
    fn open_cached(
        &self,
        cache: &ScanCache,
        path: &Path,
        name: &str,
        follow: bool,
        before: Option<&rustix::fs::Stat>,
    ) {
        match open_with_stat(path, follow) {
            Ok((file, st)) => {
                // The same file as the `stat` found (same inode, size and
                // times): its row was looked up already, a miss.
                let asked = before.is_some_and(|b| Stamp::of(b) == Stamp::of(&st));
                self.scan_file_cached(cache, path, name, file, &st, asked)
            }
            Err(record) => self.send(vec![Event::File(record)]),
        }
    }

    /// Sends a file's kept events, its record with its owner and mtime.
    fn replay(&self, mut events: Vec<Event>, below: u64, st: &rustix::fs::Stat) {
        for ev in &mut events {
            if let Event::File(r) = ev
                && r.member.is_none()
            {
                r.meta = Some(Box::new(crate::report::meta::unnamed(
                    st.st_uid,
                    st.st_gid,
                    st.st_mtime,
                    st.st_mtime_nsec as i64,
                )));
            }
        }
        if below > 0 {
            self.below(below);
        }
        self.send(events);
    }
}

impl Worker<'_> {
    /// Queues events; they are sent once `BATCH` are waiting.
    fn send(&self, events: Vec<Event>) {
        {
            let mut capture = self.capture.borrow_mut();
            if let Some(kept) = capture.as_mut() {
                if kept.len() + events.len() <= crate::state::cache::MAX_CACHED_EVENTS {
                    kept.extend(events.iter().cloned());
                } else {
                    *capture = None;
                }
            }
        }
        let full = {
            let mut p = self.pending.borrow_mut();
            if p.events.is_empty() {
                p.events = events;
            } else {
                p.events.extend(events);
            }
            p.events.len() >= BATCH
        };
        if full {
            self.flush();
        }
    }

    /// Counts findings below the confidence threshold.
    fn below(&self, n: u64) {
        self.below_total.set(self.below_total.get() + n);
        self.pending.borrow_mut().below_confidence += n;
    }

    /// Sends what is waiting.
    fn flush(&self) {
        let msg = {
            let mut p = self.pending.borrow_mut();
            if p.events.is_empty() && p.excluded == 0 && p.below_confidence == 0 {
                return;
            }
            std::mem::replace(
                &mut *p,
                Msg {
                    events: Vec::with_capacity(BATCH),
                    excluded: 0,
                    below_confidence: 0,
                },
            )
        };
        // The receiver only goes away when the process is ending.
        let _ = self.tx.send(msg);
    }

    fn process(&self, item: Item) {
        match item {
            Item::Excluded => self.pending.borrow_mut().excluded += 1,
            Item::Record(r) => {
                self.scan_name_of(&r.path);
                self.send(vec![Event::File(r)])
            }
            Item::Dir(path) => self.scan_name_of(&names::escape_path(&path)),
            Item::Stdin => {
                let stdin = std::io::stdin();
                let mut lock = stdin.lock();
                self.scan_input(STDIN_NAME, &mut lock);
            }
            Item::File { path, follow_link } => {
                // The name travels escaped and lossless (not UTF-8, control
                // characters): the actions get the exact bytes back.
                let name = names::escape_path(&path);
                let last = path.file_name().unwrap_or(path.as_os_str());
                self.scan_name(&name, None, last.as_encoded_bytes());
                match self.cache {
                    Some(cache) => {
                        let before = self.stat_in_dir(&path, follow_link);
                        if let Some(st) = &before
                            && self.replay_unchanged(cache, &name, st)
                        {
                            return;
                        }
                        self.open_cached(cache, &path, &name, follow_link, before.as_ref());
                    }
                    None => match open_with_stat(&path, follow_link) {
                        Ok((file, st)) => self.scan_file(&name, file, &st),
                        Err(record) => self.send(vec![Event::File(record)]),
                    },
                }
            }
        }
    }

    /// Scans an open regular file (`st`: its `fstat`): containers are
    /// opened, big plain files are split into segments, sparse ones scanned
    /// only where they hold data, the rest is streamed; all within
    /// `--max-time`.
    ///
    /// A file that fits in one chunk is read whole into the thread's
    /// reused buffer (one `read` for its bytes, one that sees the end),
    /// sniffed from those bytes and scanned from memory; a bigger one has
    /// its first `HEAD` bytes read that way and the rest streamed after
    /// them.
    fn scan_file(&self, name: &str, mut file: File, st: &rustix::fs::Stat) {
        let deadline = Deadline::start(self.limits.max_time);
        self.file_meta
            .replace(Some(Box::new(crate::report::meta::unnamed(
                st.st_uid,
                st.st_gid,
                st.st_mtime,
                st.st_mtime_nsec as i64,
            ))));
        let len = st.st_size as u64;
        let blocks = st.st_blocks as u64;
        // One more byte than the file holds: a file that grew since the
        // `fstat` is not mistaken for a whole one.
        let want = if len < self.chunk as u64 {
            len as usize + 1
        } else {
            HEAD
        };
        let mut head = FILE_BYTES.with(|b| b.take());
        head.clear();
        head.reserve(want);
        // `take(..).read_to_end` reads into spare capacity without zeroing.
        if let Err(e) = (&mut file).take(want as u64).read_to_end(&mut head) {
            FILE_BYTES.with(|b| b.replace(head));
            return self.unreadable(name, &e);
        }
        let whole = head.len() < want;
        match extract::sniff(&head) {
            Format::Plain => {
                // Fewer blocks than bytes: holes, which read as zeros and
                // hold nothing to find (a 1 TiB sparse file would otherwise
                // be read in full).
                let sparse = len >= SEGMENT && blocks.saturating_mul(512) < len;
                if !whole && (sparse || (self.threads > 1 && len >= SEGMENTED_FROM)) {
                    let binary = match detect_encoding(&head) {
                        Encoding::Utf8 { bom: false } => Some(false),
                        Encoding::Binary => Some(true),
                        _ => None,
                    };
                    if let Some(binary) = binary {
                        FILE_BYTES.with(|b| b.replace(head));
                        let extents = if sparse {
                            data_extents(&file, len)
                        } else {
                            std::iter::once(0..len).collect()
                        };
                        return self.scan_segmented(name, &file, len, binary, &extents, deadline);
                    }
                }
                if whole {
                    self.scan_stream(name, &mut &head[..]);
                } else {
                    let mut timed = deadline.reader(&mut file);
                    self.scan_stream(name, &mut (&head[..]).chain(&mut timed));
                }
                FILE_BYTES.with(|b| b.replace(head));
            }
            format => {
                FILE_BYTES.with(|b| b.replace(head));
                // Containers read the file from its start (some seek in
                // it): back to byte 0, nothing held.
                use std::io::Seek;
                if let Err(e) = file.rewind() {
                    return self.unreadable(name, &e);
                }
                let seekable = file.try_clone().ok();
                let mut timed = deadline.reader(&mut file);
                self.scan_container(name, format, Vec::new(), &mut timed, seekable.as_ref(), len)
            }
        }
    }

    /// Reports a file whose first bytes could not be read.
    fn unreadable(&self, name: &str, e: &std::io::Error) {
        // Its record is made from the path alone.
        self.file_meta.take();
        let record = inputs::record(
            &names::to_path(name),
            FileStatus::Error,
            format!("cannot read: {e}"),
        );
        self.send(vec![Event::File(record)]);
    }

    /// Scans a stream that cannot be read twice (standard input, a reader
    /// handed to [`scan_one`]): its first bytes are kept to sniff it.
    fn scan_input(&self, name: &str, reader: &mut dyn Read) {
        let head = match extract::peek(reader) {
            Ok((head, _)) => head,
            Err(e) => return self.unreadable(name, &e),
        };
        let deadline = Deadline::start(self.limits.max_time);
        let mut timed = deadline.reader(reader);
        match extract::sniff(&head) {
            Format::Plain => {
                let mut whole = std::io::Cursor::new(head).chain(&mut timed);
                self.scan_stream(name, &mut whole)
            }
            format => self.scan_container(name, format, head, &mut timed, None, 0),
        }
    }

    /// Opens a container and scans its leaves, then sends a record for
    /// each member that was not fully scanned and the file's own record.
    fn scan_container(
        &self,
        name: &str,
        format: Format,
        head: Vec<u8>,
        rest: &mut dyn Read,
        seekable: Option<&File>,
        len: u64,
    ) {
        let budget = Budget::new(self.limits);
        // The whole file's bytes, for its compression ratio: its length, or
        // (a stream) what is read of it.
        let mut counted;
        let rest: &mut dyn Read = if len > 0 {
            budget.add_input(len);
            rest
        } else {
            budget.add_input(head.len() as u64);
            counted = extract::CountInput {
                inner: rest,
                budget: &budget,
            };
            &mut counted
        };
        let mut leaves = Leaves {
            worker: self,
            path: name,
            findings: 0,
            leaves: 0,
            leaf_bytes: 0,
            problems: Vec::new(),
            named: Default::default(),
            last_named: Member::default(),
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            extract::walk(
                format,
                head,
                rest,
                seekable,
                Place::TOP,
                &budget,
                &mut leaves,
            )
        }));
        if outcome.is_err() {
            leaves.problems.push(Problem {
                member: None,
                status: FileStatus::Error,
                reason: format!(
                    "internal error while opening this {} file: not fully scanned \
                     (a bug in leakhound: please report it)",
                    format.name()
                ),
            });
        }
        if let Some(p) = &self.progress {
            p.fetch_add(len, std::sync::atomic::Ordering::Relaxed);
        }
        let mut records = Vec::new();
        for problem in leaves.problems.iter().filter(|p| p.member.is_some()) {
            records.push(Event::File(FileEvent {
                path: name.to_string(),
                member: provenance::to_report(problem.member.as_ref()),
                status: problem.status,
                reason: Some(problem.reason.clone()),
                bytes: 0,
                encoding: None,
                findings: 0,
                meta: None,
            }));
        }
        let (status, reason) = container_status(&leaves.problems, leaves.leaves);
        records.push(Event::File(FileEvent {
            path: name.to_string(),
            member: None,
            status,
            reason,
            bytes: if len > 0 { len } else { leaves.leaf_bytes },
            encoding: Some(format.name().to_string()),
            findings: leaves.findings,
            meta: self.file_meta.take(),
        }));
        self.send(records);
    }

    /// Scans one stream, sending its findings in batches and its file
    /// record last.
    fn scan_stream(&self, path: &str, reader: &mut dyn Read) {
        let (count, result) = self.scan_leaf(path, None, reader, None);
        let record = match result {
            Ok(stats) => FileEvent {
                path: path.to_string(),
                member: None,
                status: match stats.base64_cut {
                    Some(_) => FileStatus::Partial,
                    None => FileStatus::Scanned,
                },
                reason: stats.base64_cut.map(base64_cut_reason),
                bytes: stats.bytes,
                encoding: Some(stats.encoding.name().to_string()),
                findings: count,
                meta: self.file_meta.take(),
            },
            Err(e) => FileEvent {
                path: path.to_string(),
                member: None,
                status: if e.bytes > 0 || LimitHit::of(&e.error).is_some() {
                    FileStatus::Partial
                } else {
                    FileStatus::Error
                },
                reason: Some(match LimitHit::of(&e.error) {
                    Some(hit) => format!(
                        "{hit} after {} bytes: the rest of the file was not scanned",
                        e.bytes
                    ),
                    None => format!(
                        "read error after {} bytes: {} (the rest of the file was not scanned)",
                        e.bytes, e.error
                    ),
                }),
                bytes: e.bytes,
                encoding: None,
                findings: count,
                meta: self.file_meta.take(),
            },
        };
        self.send(vec![Event::File(record)]);
    }

    /// Scans one text leaf, sending its findings in batches; returns how
    /// many there were and how reading ended.
    fn scan_leaf(
        &self,
        path: &str,
        member: Option<&Member>,
        reader: &mut dyn Read,
        mut relocate: Option<&mut dyn FnMut(&mut Located<'_>)>,
    ) -> (
        u64,
        Result<crate::engine::stream::StreamStats, crate::engine::stream::StreamError>,
    ) {
        let bufs = BUFFERS.with(|b| b.take());
        let mut scanner = StreamScanner::with_buffers(self.engine, self.chunk, bufs);
        if let Some(p) = &self.progress {
            scanner.set_progress(p.clone());
        }
        let mut batch: Vec<Event> = Vec::new();
        let mut count = 0u64;
        let mut below = 0u64;
        let result = scanner.scan_reader(reader, &mut |mut l: Located<'_>| {
            if let Some(fix) = relocate.as_mut() {
                fix(&mut l);
            }
            if l.m.confidence < self.min_confidence {
                below += 1;
                return Flow::Continue(());
            }
            count += 1;
            batch.push(Event::Finding(self.finding_event(path, member, &l)));
            if batch.len() >= BATCH {
                self.send(std::mem::take(&mut batch));
            }
            Flow::Continue(())
        });
        BUFFERS.with(|b| b.replace(scanner.into_buffers()));
        if !batch.is_empty() {
            self.send(batch);
        }
        if below > 0 {
            self.below(below);
        }
        (count, result)
    }

    /// Scans a large regular file as segments on the rayon pool, a batch of
    /// segments at a time (so findings held in memory stay bounded), and
    /// reports them in file order with their lines fixed up.
    ///
    /// Only `extents` (ranges of the file holding data, in order) are read:
    /// what lies between them is a hole, zeros, which hold nothing to find
    /// and no newline, and counts as scanned. Each segment first checks the
    /// deadline.
    fn scan_segmented(
        &self,
        path: &str,
        file: &File,
        len: u64,
        binary: bool,
        extents: &[std::ops::Range<u64>],
        deadline: Deadline,
    ) {
        let segments: Vec<std::ops::Range<u64>> = extents
            .iter()
            .flat_map(|e| {
                (e.start..e.end)
                    .step_by(SEGMENT as usize)
                    .map(move |s| s..(s + SEGMENT).min(e.end))
            })
            .collect();
        let mut fixup = LineFixup::default();
        let mut count = 0u64;
        let mut scanned = 0u64;
        let mut failure: Option<String> = None;
        let mut timed_out = false;
        let mut base64_cut: Option<u64> = None;
        let mut batch: Vec<Event> = Vec::new();
        for group in segments.chunks(SEGMENTS_PER_BATCH * self.threads) {
            // The closure sees only what is shared between threads (the
            // worker's queue of events is its own).
            let (engine, chunk, progress, min_confidence) =
                (self.engine, self.chunk, &self.progress, self.min_confidence);
            let one = |range: &std::ops::Range<u64>| {
                if let Err(e) = deadline.check() {
                    return (Vec::new(), 0, Err(e));
                }
                let bufs = BUFFERS.with(|b| b.take());
                let mut scanner = StreamScanner::with_buffers(engine, chunk, bufs);
                if let Some(p) = progress {
                    scanner.set_progress(p.clone());
                }
                let mut found = Vec::new();
                let mut below = 0u64;
                let totals = scanner.scan_segment(file, len, range.clone(), binary, &mut |sm| {
                    if sm.located.m.confidence >= min_confidence {
                        found.push(sm);
                    } else {
                        below += 1;
                    }
                    Flow::Continue(())
                });
                BUFFERS.with(|b| b.replace(scanner.into_buffers()));
                (found, below, totals)
            };
            type Segment<'e> = (Vec<SegmentMatch<'e>>, u64, std::io::Result<SegmentTotals>);
            // With -j1 there is no pool: the segments are scanned here.
            let results: Vec<Segment<'_>> = if self.threads > 1 {
                group.par_iter().map(one).collect()
            } else {
                group.iter().map(one).collect()
            };
            let below: u64 = results.iter().map(|r| r.1).sum();
            if below > 0 {
                self.below(below);
            }
            let results = results
                .into_iter()
                .map(|(found, _, totals)| (found, totals));
            for ((found, totals), range) in results.zip(group) {
                let totals = match totals {
                    Ok(t) => t,
                    Err(e) => {
                        timed_out = LimitHit::of(&e).is_some();
                        failure = Some(match LimitHit::of(&e) {
                            Some(hit) => format!(
                                "{hit} at byte {}: the rest of the file was not scanned",
                                range.start
                            ),
                            None => format!(
                                "read error at byte {}: {e} (the rest of the file was not scanned)",
                                range.start
                            ),
                        });
                        break;
                    }
                };
                if range.start > scanned && !binary {
                    // A hole before this segment: zeros, one code point
                    // each, no newline.
                    fixup.advance(&SegmentTotals {
                        newlines: 0,
                        trailing_chars: range.start - scanned,
                        has_newline: false,
                        base64_cut: None,
                    });
                }
                for mut sm in found {
                    if !binary {
                        let (line, column) = fixup.place(&sm);
                        sm.located.line = Some(line);
                        sm.located.column = Some(column);
                    }
                    count += 1;
                    batch.push(Event::Finding(self.finding_event(path, None, &sm.located)));
                    if batch.len() >= BATCH {
                        self.send(std::mem::take(&mut batch));
                    }
                }
                fixup.advance(&totals);
                scanned = range.end;
                if failure.is_none()
                    && let Some(at) = totals.base64_cut
                {
                    base64_cut.get_or_insert(at);
                }
            }
            if failure.is_some() {
                break;
            }
        }
        if !batch.is_empty() {
            self.send(batch);
        }
        if failure.is_none() {
            // A hole at the end.
            scanned = len;
        }
        let encoding = if binary {
            Encoding::Binary
        } else {
            Encoding::Utf8 { bom: false }
        };
        if failure.is_none() {
            failure = base64_cut.map(base64_cut_reason);
        }
        let status = match (&failure, scanned) {
            (None, _) => FileStatus::Scanned,
            (Some(_), 0) if !timed_out => FileStatus::Error,
            (Some(_), _) => FileStatus::Partial,
        };
        self.send(vec![Event::File(FileEvent {
            path: path.to_string(),
            member: None,
            status,
            reason: failure,
            bytes: scanned,
            encoding: Some(encoding.name().to_string()),
            findings: count,
            meta: self.file_meta.take(),
        })]);
    }

    /// The event for a match in the leaf at `member`: the report edge,
    /// where the member becomes its text.
    fn finding_event(&self, path: &str, member: Option<&Member>, l: &Located<'_>) -> FindingEvent {
        // A match in a base64 payload is inside `base64@OFFSET` (docs/containers.md).
        let member = match l.base64 {
            Some(offset) => Some(extract::join(member, Step::Base64 { offset }).to_string()),
            None => provenance::to_report(member),
        };
        FindingEvent {
            rule: l.m.rule.id.clone(),
            kind: l.m.kind.to_string(),
            severity: l.m.severity,
            confidence: l.m.confidence,
            path: path.to_string(),
            member,
            offset: l.offset,
            length: l.length,
            line: l.line,
            column: l.column,
            masked: l.m.value.masked(),
            fingerprint: self.fingerprinter.fingerprint(&l.m.value),
            test_data: l.m.test_data,
            data_location: None,
            location: Location::Content,
        }
    }

    /// Findings in the last name of `path` (a file or a directory under a
    /// root), reported with `location: name` before the file's own events.
    fn scan_name_of(&self, path: &str) {
        let raw = names::unescape(path);
        let name = match raw.iter().rposition(|&b| b == b'/') {
            Some(i) => &raw[i + 1..],
            None => &raw[..],
        };
        self.scan_name(path, None, name);
    }

    /// Sends a finding with `location: name` for every number in `name`
    /// (raw bytes of a file, directory, member or attachment name): a number
    /// in a name leaks wherever the name is shown, so it is reported like
    /// one in the content (and masked in every path written).
    fn scan_name(&self, path: &str, member: Option<&Member>, name: &[u8]) -> u64 {
        if !names::could_hold_a_number(self.engine, name) {
            return 0;
        }
        let mut found = Vec::new();
        let mut below = 0u64;
        let member = provenance::to_report(member);
        let _ = self.engine.scan(name, 0..name.len(), &mut |m| {
            if m.confidence < self.min_confidence {
                below += 1;
            } else {
                found.push(Event::Finding(FindingEvent {
                    rule: m.rule.id.clone(),
                    kind: m.kind.to_string(),
                    severity: m.severity,
                    confidence: m.confidence,
                    path: path.to_string(),
                    member: member.clone(),
                    offset: m.start as u64,
                    length: (m.end - m.start) as u64,
                    line: None,
                    column: None,
                    masked: m.value.masked(),
                    fingerprint: self.fingerprinter.fingerprint(&m.value),
                    test_data: m.test_data,
                    data_location: None,
                    location: Location::Name,
                }));
            }
            Flow::Continue(())
        });
        if below > 0 {
            // Counted in the summary like weak findings in content.
            self.below(below);
        }
        let n = found.len() as u64;
        if n > 0 {
            self.send(found);
        }
        n
    }
}

/// The end of one file's time (`--max-time`, `limits.max_time`), checked
/// per read (a few hundred KiB) or per segment, never per byte.
#[derive(Debug, Clone, Copy)]
struct Deadline {
    at: Option<Instant>,
    limit: Duration,
}

impl Deadline {
    fn start(limit: Duration) -> Deadline {
        Deadline {
            at: Instant::now().checked_add(limit),
            limit,
        }
    }

    /// A `LimitHit` error, naming the limit and how to raise it, once the
    /// time is up.
    fn check(&self) -> std::io::Result<()> {
        match self.at {
            Some(at) if Instant::now() > at => Err(std::io::Error::other(LimitHit(format!(
                "time limit of {} reached (raise limits.max_time or --max-time)",
                humantime::format_duration(self.limit)
            )))),
            _ => Ok(()),
        }
    }

    fn reader<'r>(self, inner: &'r mut dyn Read) -> TimedReader<'r> {
        TimedReader {
            inner,
            deadline: self,
        }
    }
}

/// A reader that fails with the time limit once the deadline is past.
struct TimedReader<'r> {
    inner: &'r mut dyn Read,
    deadline: Deadline,
}

impl Read for TimedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.deadline.check()?;
        self.inner.read(buf)
    }
}

/// At most this many data extents of a sparse file are told apart; the
/// rest of the file is read as one (holes there read as zeros), so memory
/// stays bounded whatever the layout.
const MAX_EXTENTS: usize = 1 << 16;

/// The ranges of `file` that hold data (`SEEK_DATA`/`SEEK_HOLE`), in
/// order. A file system without them reports the whole file as data.
fn data_extents(file: &File, len: u64) -> Vec<std::ops::Range<u64>> {
    use rustix::fs::{SeekFrom, seek};
    let mut out = Vec::new();
    let mut pos = 0u64;
    while pos < len {
        if out.len() >= MAX_EXTENTS {
            out.push(pos..len);
            break;
        }
        let start = match seek(file, SeekFrom::Data(pos)) {
            Ok(p) => p,
            // No data after `pos`: the rest is a hole.
            Err(Errno::NXIO) => break,
            Err(_) => {
                out.push(pos..len);
                break;
            }
        };
        if start >= len {
            break;
        }
        let end = seek(file, SeekFrom::Hole(start)).map_or(len, |e| e.min(len));
        if end <= start {
            out.push(start..len);
            break;
        }
        out.push(start..end);
        pos = end;
    }
    out
}

/// The leaves of one container, scanned by a worker.
struct Leaves<'w, 'a> {
    worker: &'w Worker<'a>,
    path: &'w str,
    findings: u64,
    leaves: u64,
    leaf_bytes: u64,
    problems: Vec<Problem>,
    /// Members whose names were scanned: the containers on the way (a
    /// nested zip is named by every leaf inside it) and the last leaf.
    named: std::collections::HashSet<Member>,
    last_named: Member,
}

impl Leaves<'_, '_> {
    /// Scans the name in each step along `member` (`a.zip!4929...csv`)
    /// once ([`Step::given_name`]).
    fn scan_member_names(&mut self, member: &Member) {
        let steps = member.steps();
        for (i, step) in steps.iter().enumerate() {
            let is_leaf = i + 1 == steps.len();
            let new = if is_leaf {
                self.last_named != *member
            } else {
                !self.named.contains(&steps[..=i]) && self.named.insert(member.prefix(i + 1))
            };
            if new && let Some(name) = step.given_name() {
                let prefix = member.prefix(i + 1);
                self.findings +=
                    self.worker
                        .scan_name(self.path, Some(&prefix), &names::unescape(&name));
            }
        }
        self.last_named = member.clone();
    }
}

impl LeafSink for Leaves<'_, '_> {
    fn leaf(&mut self, member: Option<&Member>, reader: &mut dyn Read) -> std::io::Result<()> {
        self.leaves += 1;
        if let Some(m) = member {
            self.scan_member_names(m);
        }
        let (count, result) = self.worker.scan_leaf(self.path, member, reader, None);
        self.findings += count;
        match result {
            Ok(stats) => {
                self.leaf_bytes += stats.bytes;
                Ok(())
            }
            Err(e) => {
                self.leaf_bytes += e.bytes;
                Err(e.error)
            }
        }
    }

    /// A view (HTML's visible text): scanned like a leaf, each finding
    /// placed where its first and last byte are in the original.
    fn mapped_leaf(
        &mut self,
        member: Option<&Member>,
        view: &[u8],
        original: &[u8],
        map: &extract::html::ViewMap,
    ) -> std::io::Result<()> {
        self.leaves += 1;
        if let Some(m) = member {
            self.scan_member_names(m);
        }
        let mut cursor = extract::html::Relocate::default();
        let mut fix = |l: &mut Located<'_>| {
            let start = l.offset as usize;
            let (offset, length, line, column) =
                cursor.place(original, map, start..start + l.length as usize);
            l.offset = offset;
            l.length = length;
            if l.line.is_some() {
                l.line = Some(line);
                l.column = Some(column);
            }
        };
        let (count, result) =
            self.worker
                .scan_leaf(self.path, member, &mut &view[..], Some(&mut fix));
        self.findings += count;
        match result {
            Ok(stats) => {
                self.leaf_bytes += stats.bytes;
                if let Some(at) = stats.base64_cut {
                    self.problems.push(Problem {
                        member: member.cloned(),
                        status: FileStatus::Partial,
                        reason: base64_cut_reason(at),
                    });
                }
                Ok(())
            }
            Err(e) => {
                self.leaf_bytes += e.bytes;
                Err(e.error)
            }
        }
    }

    fn problem(&mut self, problem: Problem) {
        if let Some(m) = &problem.member {
            self.scan_member_names(m);
        }
        self.problems.push(problem);
    }
}

/// Why a file whose base64 payload was cut at its bound is `partial`.
fn base64_cut_reason(at: u64) -> String {
    format!(
        "the base64 payload at byte {at} decodes to more than {} MiB: only its first {} MiB \
         was decoded and scanned (its characters were scanned as text in full)",
        crate::engine::base64::MAX_DECODED >> 20,
        crate::engine::base64::MAX_DECODED >> 20
    )
}

/// A container's own status and reason, from what went wrong inside it.
fn container_status(problems: &[Problem], leaves: u64) -> (FileStatus, Option<String>) {
    let Some(first) = problems.first() else {
        return (FileStatus::Scanned, None);
    };
    // A container that failed before any leaf was read is an error; one
    // that was read in part is partial. A format recognised but not read
    // on purpose (RAR) is skipped, whatever of its raw bytes was scanned.
    let status = if let [only] = problems
        && only.member.is_none()
        && only.status == FileStatus::Skipped
    {
        FileStatus::Skipped
    } else if leaves == 0 && problems.iter().all(|p| p.status == FileStatus::Error) {
        FileStatus::Error
    } else {
        FileStatus::Partial
    };
    let first_reason = match &first.member {
        Some(m) => format!("{m}: {}", first.reason),
        None => first.reason.clone(),
    };
    let reason = if problems.len() == 1 {
        first_reason
    } else {
        format!(
            "{} parts not fully scanned; the first: {first_reason}",
            problems.len()
        )
    };
    (status, Some(reason))
}

/// The `stat` of `path` without opening it (`fstatat`, not following a
/// symbolic link unless `follow`): what `--cache` asks its rows from, so
/// an unchanged file costs no `open`, no `fstat` and no `close`. The
/// kernel walks the path from the root; [`Worker::stat_in_dir`] uses this
/// only for a path without a directory part or a directory it cannot
/// open. `None` when it fails: the `open` that follows reports why.
fn stat_path(path: &Path, follow: bool) -> Option<rustix::fs::Stat> {
    let flags = if follow {
        rustix::fs::AtFlags::empty()
    } else {
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW
    };
    rustix::fs::statat(rustix::fs::CWD, path, flags).ok()
}

/// Opens a file for reading without following a symbolic link (unless
/// asked), without blocking on a FIFO swapped in after the walk, and without
/// touching its access time where we may. Anything that is not a regular
/// file once opened is reported as skipped.
// The error is the file's record, made once per file that cannot be opened.
#[allow(clippy::result_large_err)]
pub fn open_for_scan(path: &Path, follow: bool) -> Result<File, FileEvent> {
    open_with_stat(path, follow).map(|(file, _)| file)
}

/// [`open_for_scan`], with the `fstat` it made, so that a caller needs no
/// second one.
#[allow(clippy::result_large_err)]
pub fn open_with_stat(path: &Path, follow: bool) -> Result<(File, rustix::fs::Stat), FileEvent> {
    let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = match rustix::fs::open(path, flags | OFlags::NOATIME, Mode::empty()) {
        // O_NOATIME needs ownership or CAP_FOWNER; fall back without it.
        Err(Errno::PERM) => rustix::fs::open(path, flags, Mode::empty()),
        other => other,
    };
    let fd = fd.map_err(|e| {
        let (status, reason) = match e {
            Errno::NOENT => (
                FileStatus::Error,
                "vanished before it could be read".to_string(),
            ),
            Errno::ACCESS | Errno::PERM => (
                FileStatus::Error,
                "permission denied (run as a user who can read it, or --exclude it)".to_string(),
            ),
            Errno::LOOP => (
                FileStatus::Skipped,
                "a symbolic link: not followed (use --follow to scan what it points to)"
                    .to_string(),
            ),
            Errno::NXIO => (
                FileStatus::Skipped,
                "a socket: not a file; not scanned".to_string(),
            ),
            other => (FileStatus::Error, format!("cannot open: {other}")),
        };
        inputs::record(path, status, reason)
    })?;
    match rustix::fs::fstat(&fd) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {
            Ok((File::from(fd), st))
        }
        Ok(_) => {
            let meta = File::from(fd).metadata().map_err(|e| {
                inputs::record(path, FileStatus::Error, format!("cannot stat: {e}"))
            })?;
            Err(inputs::record(
                path,
                FileStatus::Skipped,
                inputs::special_file_reason(meta.file_type()),
            ))
        }
        Err(e) => Err(inputs::record(
            path,
            FileStatus::Error,
            format!("cannot stat: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::KeySource;
    use crate::rules::RuleSet;

    /// Runs `work` on a one-thread worker with `cache` and returns the
    /// masked values of the findings it sent.
    fn with_cache_worker(
        engine: &Engine,
        fp: &Fingerprinter,
        cache: &ScanCache,
        work: impl FnOnce(&Worker<'_>),
    ) -> Vec<String> {
        let (tx, rx) = crossbeam_channel::unbounded::<Msg>();
        let worker = Worker::new(
            engine,
            fp,
            &tx,
            crate::engine::stream::DEFAULT_CHUNK,
            Confidence::Low,
            1,
            None,
            Limits::default(),
        )
        .with_cache(Some(cache));
        work(&worker);
        drop(worker);
        drop(tx);
        rx.try_iter()
            .flat_map(|m| m.events)
            .filter_map(|e| match e {
                Event::Finding(f) => Some(f.masked),
                _ => None,
            })
            .collect()
    }

    /// Issue 17: `--cache` asks its rows from a `stat` by path and opens
    /// only the files that missed. A file replaced between that `stat` and
    /// the `open` must be judged by what was opened: its new content
    /// scanned (not the kept events of the file the `stat` saw), and kept
    /// under the opened file's stamp, not the stale one.
    #[test]
    fn d17_a_file_changed_between_its_stat_and_its_open_is_not_served_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(RuleSet::builtin().unwrap());
        let fp = Fingerprinter::with_key(b"k", KeySource::Ephemeral);
        let db = dir.path().join("cache.db");
        let cache = ScanCache::open(&db, &fp, "v".into()).unwrap();
        let path = dir.path().join("f.txt");
        let name = names::escape_path(&path);
        std::fs::write(&path, "card 5500 0000 0000 0004\n").unwrap();
        let item = || Item::File {
            path: path.clone(),
            follow_link: false,
        };
        let first = with_cache_worker(&engine, &fp, &cache, |w| w.process(item()));
        assert_eq!(first, ["550000******0004"]);
        cache.flush().unwrap();
        // The next run.
        let cache = ScanCache::open(&db, &fp, "v".into()).unwrap();
        let stale = stat_path(&path, false).unwrap();
        assert!(cache.unchanged(&Stamp::of(&stale)).unwrap().is_some());
        // Unchanged: answered from the row, as the stat-first path does.
        let again = with_cache_worker(&engine, &fp, &cache, |w| w.process(item()));
        assert_eq!(again, first);
        assert_eq!(cache.counts.unchanged.load(Ordering::Relaxed), 1);
        // Replaced (a new inode) after the `stat` was taken.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "a new card 4526 0181 5908 3012\n").unwrap();
        let opened = with_cache_worker(&engine, &fp, &cache, |w| {
            w.open_cached(&cache, &path, &name, false, Some(&stale))
        });
        assert_eq!(opened, ["452601******3012"]);
        assert_eq!(cache.counts.scanned.load(Ordering::Relaxed), 1);
        cache.flush().unwrap();
        let cache = ScanCache::open(&db, &fp, "v".into()).unwrap();
        let now = stat_path(&path, false).unwrap();
        assert_eq!(
            cache.unchanged(&Stamp::of(&now)).unwrap(),
            Some(cache.mac(b"a new card 4526 0181 5908 3012\n"))
        );
    }

    /// Issue 17: `--cache` `stat`s a file by its name in its directory,
    /// kept open while the walk is in it. A directory replaced under the
    /// walker (renamed away, another put at its path) is asked as it was
    /// opened while the walk stays in it: those names were listed there
    /// and each answer is a file that was at that path, unchanged; once
    /// the walk has moved on (another directory, or the next run) the
    /// directory at the path is opened again and its new file read.
    #[test]
    fn d17_a_directory_replaced_under_the_walker_is_read_again_once_the_walk_moves_on() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(RuleSet::builtin().unwrap());
        let fp = Fingerprinter::with_key(b"k", KeySource::Ephemeral);
        let db = dir.path().join("cache.db");
        let sub = dir.path().join("sub");
        let other = dir.path().join("other");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(sub.join("a.txt"), "nothing here\n").unwrap();
        std::fs::write(sub.join("b.txt"), "card 4916 3385 2071 9468\n").unwrap();
        std::fs::write(other.join("x.txt"), "nothing there\n").unwrap();
        let item = |p: &Path| Item::File {
            path: p.to_path_buf(),
            follow_link: false,
        };
        let cache = ScanCache::open(&db, &fp, "v".into()).unwrap();
        let first = with_cache_worker(&engine, &fp, &cache, |w| {
            for p in [sub.join("a.txt"), sub.join("b.txt"), other.join("x.txt")] {
                w.process(item(&p));
            }
        });
        assert_eq!(first, ["491633******9468"]);
        cache.flush().unwrap();
        let cache = ScanCache::open(&db, &fp, "v".into()).unwrap();
        let replace = || {
            let new = dir.path().join("new");
            std::fs::create_dir_all(&new).unwrap();
            std::fs::write(new.join("a.txt"), "nothing here\n").unwrap();
            // The same length as the kept file's content.
            std::fs::write(new.join("b.txt"), "card 4526 0181 5908 3012\n").unwrap();
            std::fs::rename(&sub, dir.path().join("old")).unwrap();
            std::fs::rename(&new, &sub).unwrap();
        };
        let got = with_cache_worker(&engine, &fp, &cache, |w| {
            w.process(item(&sub.join("a.txt")));
            replace();
            // Still in the directory it listed: its own b.txt, unchanged.
            w.process(item(&sub.join("b.txt")));
            // The walk moves on, and comes back: the new directory.
            w.process(item(&other.join("x.txt")));
            w.process(item(&sub.join("b.txt")));
        });
        assert_eq!(got, ["491633******9468", "452601******3012"]);
        assert_eq!(cache.counts.unchanged.load(Ordering::Relaxed), 3);
        assert_eq!(cache.counts.scanned.load(Ordering::Relaxed), 1);
        // A worker of the next batch or run opens the directory again.
        let next = with_cache_worker(&engine, &fp, &cache, |w| {
            w.process(item(&sub.join("b.txt")))
        });
        assert_eq!(next, ["452601******3012"]);
    }

    #[test]
    fn scan_one_returns_findings_then_the_file_record() {
        let engine = Engine::new(RuleSet::builtin().unwrap());
        let fp = Fingerprinter::with_key(b"k", KeySource::Ephemeral);
        let text = b"order 1\ncard 5500 0000 0000 0004 paid\nnothing\n";
        let events = scan_one(
            &engine,
            &fp,
            "mem.txt",
            &mut &text[..],
            Confidence::Low,
            Limits::default(),
        );
        assert_eq!(events.len(), 2, "{events:?}");
        let Event::Finding(f) = &events[0] else {
            panic!("first event is not a finding: {events:?}")
        };
        assert_eq!(
            (f.path.as_str(), f.line, f.kind.as_str()),
            ("mem.txt", Some(2), "card_mastercard")
        );
        assert_eq!(f.masked, "550000******0004");
        let Event::File(r) = &events[1] else {
            panic!("last event is not the file record")
        };
        assert_eq!(
            (r.status, r.bytes, r.findings),
            (FileStatus::Scanned, text.len() as u64, 1)
        );
    }
}
