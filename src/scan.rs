//! The scan pipeline: inputs -> engine -> events, on all cores.
//!
//! One walker feeds work items to a rayon pool of `threads` workers
//! (`par_bridge`); each worker reads files through its own thread-local
//! buffers and sends batches of events over a bounded channel to the
//! calling thread, which is the only one that reports. The channel is
//! bounded, so a slow report sink slows the workers down instead of
//! buffering without limit.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use rayon::iter::{ParallelBridge, ParallelIterator};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::engine::stream::{Located, ScanBuffers, StreamScanner};
use crate::engine::{Engine, Flow};
use crate::fingerprint::Fingerprinter;
use crate::inputs::{self, Input, Item, STDIN_NAME, WalkOptions};
use crate::report::event::{Event, FileCounts, FileEvent, FileStatus, FindingEvent};
use crate::rules::{Confidence, Severity};

/// Findings sent to the reporter per message.
const BATCH: usize = 256;

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub inputs: Vec<Input>,
    pub walk: WalkOptions,
    pub threads: usize,
    pub chunk_size: usize,
    /// Findings below this confidence are left out.
    pub min_confidence: Confidence,
}

/// Counters over a whole scan.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub files: FileCounts,
    pub excluded: u64,
    pub bytes: u64,
    pub findings: u64,
    pub by_kind: BTreeMap<String, u64>,
    pub by_severity: BTreeMap<String, u64>,
    pub test_data: u64,
    /// Highest severity of any finding.
    pub max_severity: Option<Severity>,
}

impl Totals {
    fn count(&mut self, ev: &Event) {
        match ev {
            Event::Finding(f) => {
                self.findings += 1;
                *self.by_kind.entry(f.kind.clone()).or_default() += 1;
                *self
                    .by_severity
                    .entry(f.severity.as_str().to_string())
                    .or_default() += 1;
                if f.test_data {
                    self.test_data += 1;
                }
                self.max_severity = self.max_severity.max(Some(f.severity));
            }
            Event::File(f) => {
                self.files.add(f.status);
                self.bytes += f.bytes;
            }
            Event::Summary(_) => {}
        }
    }
}

enum Msg {
    Events(Vec<Event>),
    Excluded,
}

thread_local! {
    static BUFFERS: RefCell<ScanBuffers> = RefCell::new(ScanBuffers::default());
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
    let (tx, rx) = crossbeam_channel::bounded::<Msg>(64);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads.max(1))
        .thread_name(|i| format!("leakhound-scan-{i}"))
        .build()
        .expect("cannot start scanning threads");
    let chunk = config.chunk_size;
    let min_confidence = config.min_confidence;
    std::thread::scope(|s| {
        s.spawn(move || {
            let items = inputs::items(config.inputs, config.walk);
            pool.install(|| {
                items.par_bridge().for_each_with(tx, |tx, item| {
                    let w = Worker {
                        engine,
                        fingerprinter,
                        tx,
                        chunk,
                        min_confidence,
                        progress: progress.clone(),
                    };
                    w.process(item);
                });
            });
        });
        for msg in rx {
            match msg {
                Msg::Excluded => totals.excluded += 1,
                Msg::Events(events) => {
                    for ev in events {
                        totals.count(&ev);
                        on_event(ev);
                    }
                }
            }
        }
    });
    totals
}

struct Worker<'a> {
    engine: &'a Engine,
    fingerprinter: &'a Fingerprinter,
    tx: &'a crossbeam_channel::Sender<Msg>,
    chunk: usize,
    min_confidence: Confidence,
    progress: Option<Arc<AtomicU64>>,
}

impl Worker<'_> {
    fn send(&self, events: Vec<Event>) {
        // The receiver only goes away when the process is ending.
        let _ = self.tx.send(Msg::Events(events));
    }

    fn process(&self, item: Item) {
        match item {
            Item::Excluded => {
                let _ = self.tx.send(Msg::Excluded);
            }
            Item::Record(r) => self.send(vec![Event::File(r)]),
            Item::Stdin => {
                let stdin = std::io::stdin();
                let mut lock = stdin.lock();
                self.scan_stream(STDIN_NAME, &mut lock);
            }
            Item::File { path, follow_link } => match open_for_scan(&path, follow_link) {
                Ok(mut file) => self.scan_stream(&path.to_string_lossy(), &mut file),
                Err(record) => self.send(vec![Event::File(record)]),
            },
        }
    }

    /// Scans one stream, sending its findings in batches and its file
    /// record last.
    fn scan_stream(&self, path: &str, reader: &mut dyn Read) {
        let bufs = BUFFERS.with(|b| b.take());
        let mut scanner = StreamScanner::with_buffers(self.engine, self.chunk, bufs);
        if let Some(p) = &self.progress {
            scanner.set_progress(p.clone());
        }
        let mut batch: Vec<Event> = Vec::new();
        let mut count = 0u64;
        let result = scanner.scan_reader(reader, &mut |l: Located<'_>| {
            if l.m.confidence < self.min_confidence {
                return Flow::Continue(());
            }
            count += 1;
            batch.push(Event::Finding(self.finding_event(path, None, &l)));
            if batch.len() >= BATCH {
                self.send(std::mem::take(&mut batch));
            }
            Flow::Continue(())
        });
        BUFFERS.with(|b| b.replace(scanner.into_buffers()));
        if !batch.is_empty() {
            self.send(batch);
        }
        let record = match result {
            Ok(stats) => FileEvent {
                path: path.to_string(),
                member: None,
                status: FileStatus::Scanned,
                reason: None,
                bytes: stats.bytes,
                encoding: Some(stats.encoding.name().to_string()),
                findings: count,
            },
            Err(e) => FileEvent {
                path: path.to_string(),
                member: None,
                status: if e.bytes > 0 {
                    FileStatus::Partial
                } else {
                    FileStatus::Error
                },
                reason: Some(format!(
                    "read error after {} bytes: {} (the rest of the file was not scanned)",
                    e.bytes, e.error
                )),
                bytes: e.bytes,
                encoding: None,
                findings: count,
            },
        };
        self.send(vec![Event::File(record)]);
    }

    fn finding_event(&self, path: &str, member: Option<String>, l: &Located<'_>) -> FindingEvent {
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
        }
    }
}

/// Opens a file for reading without following a symbolic link (unless
/// asked), without blocking on a FIFO swapped in after the walk, and without
/// touching its access time where we may. Anything that is not a regular
/// file once opened is reported as skipped.
pub fn open_for_scan(path: &Path, follow: bool) -> Result<File, FileEvent> {
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
            Ok(File::from(fd))
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
