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

use rayon::iter::{IntoParallelRefIterator, ParallelBridge, ParallelIterator};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::engine::stream::{
    Encoding, LineFixup, Located, ScanBuffers, SegmentMatch, StreamScanner, detect_encoding,
};
use crate::engine::{Engine, Flow};
use crate::extract::{self, Budget, Format, LeafSink, Limits, Place, Problem};
use crate::fingerprint::Fingerprinter;
use crate::inputs::{self, Input, Item, STDIN_NAME, WalkOptions};
use crate::report::event::{Event, FileCounts, FileEvent, FileStatus, FindingEvent};
use crate::rules::{Confidence, Severity};

/// Findings sent to the reporter per message.
const BATCH: usize = 256;

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
    let threads = config.threads.max(1);
    let limits = config.limits;
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
                        threads,
                        progress: progress.clone(),
                        limits,
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
    let (tx, rx) = crossbeam_channel::unbounded::<Msg>();
    let worker = Worker {
        engine,
        fingerprinter,
        tx: &tx,
        chunk: crate::engine::stream::DEFAULT_CHUNK,
        min_confidence,
        threads: 1,
        progress: None,
        limits,
    };
    worker.scan_input(name, reader);
    drop(tx);
    rx.try_iter()
        .flat_map(|m| match m {
            Msg::Events(events) => events,
            Msg::Excluded => Vec::new(),
        })
        .collect()
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
                self.scan_input(STDIN_NAME, &mut lock);
            }
            Item::File { path, follow_link } => match open_for_scan(&path, follow_link) {
                Ok(file) => self.scan_file(&path.to_string_lossy(), file),
                Err(record) => self.send(vec![Event::File(record)]),
            },
        }
    }

    /// Scans an open regular file: containers are opened, big plain files
    /// are split into segments, the rest is streamed.
    fn scan_file(&self, name: &str, mut file: File) {
        use std::os::unix::fs::FileExt;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut head = vec![0u8; 64 * 1024];
        let n = match file.read_at(&mut head, 0) {
            Ok(n) => n,
            Err(e) => return self.unreadable(name, &e),
        };
        head.truncate(n);
        match extract::sniff(&head) {
            Format::Plain => {
                if self.threads > 1 && len >= SEGMENTED_FROM {
                    match detect_encoding(&head) {
                        Encoding::Utf8 { bom: false } => {
                            return self.scan_segmented(name, &file, len, false);
                        }
                        Encoding::Binary => return self.scan_segmented(name, &file, len, true),
                        _ => {}
                    }
                }
                self.scan_stream(name, &mut file);
            }
            format => {
                let seekable = file.try_clone().ok();
                self.scan_container(name, format, Vec::new(), &mut file, seekable.as_ref(), len)
            }
        }
    }

    /// Reports a file whose first bytes could not be read.
    fn unreadable(&self, name: &str, e: &std::io::Error) {
        let record = inputs::record(
            Path::new(name),
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
        match extract::sniff(&head) {
            Format::Plain => {
                let mut whole = std::io::Cursor::new(head).chain(reader);
                self.scan_stream(name, &mut whole)
            }
            format => self.scan_container(name, format, head, reader, None, 0),
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
                member: problem.member.clone(),
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
            meta: None,
        }));
        self.send(records);
    }

    /// Scans one stream, sending its findings in batches and its file
    /// record last.
    fn scan_stream(&self, path: &str, reader: &mut dyn Read) {
        let (count, result) = self.scan_leaf(path, None, reader);
        let record = match result {
            Ok(stats) => FileEvent {
                path: path.to_string(),
                member: None,
                status: FileStatus::Scanned,
                reason: None,
                bytes: stats.bytes,
                encoding: Some(stats.encoding.name().to_string()),
                findings: count,
                meta: None,
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
                meta: None,
            },
        };
        self.send(vec![Event::File(record)]);
    }

    /// Scans one text leaf, sending its findings in batches; returns how
    /// many there were and how reading ended.
    fn scan_leaf(
        &self,
        path: &str,
        member: Option<&str>,
        reader: &mut dyn Read,
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
        let result = scanner.scan_reader(reader, &mut |l: Located<'_>| {
            if l.m.confidence < self.min_confidence {
                return Flow::Continue(());
            }
            count += 1;
            batch.push(Event::Finding(self.finding_event(
                path,
                member.map(str::to_string),
                &l,
            )));
            if batch.len() >= BATCH {
                self.send(std::mem::take(&mut batch));
            }
            Flow::Continue(())
        });
        BUFFERS.with(|b| b.replace(scanner.into_buffers()));
        if !batch.is_empty() {
            self.send(batch);
        }
        (count, result)
    }

    /// Scans a large regular file as segments on the rayon pool, a batch of
    /// segments at a time (so findings held in memory stay bounded), and
    /// reports them in file order with their lines fixed up.
    fn scan_segmented(&self, path: &str, file: &File, len: u64, binary: bool) {
        let segments: Vec<std::ops::Range<u64>> = (0..len.div_ceil(SEGMENT))
            .map(|i| i * SEGMENT..((i + 1) * SEGMENT).min(len))
            .collect();
        let mut fixup = LineFixup::default();
        let mut count = 0u64;
        let mut scanned = 0u64;
        let mut failure: Option<String> = None;
        let mut batch: Vec<Event> = Vec::new();
        for group in segments.chunks(SEGMENTS_PER_BATCH * self.threads) {
            let results: Vec<(Vec<SegmentMatch<'_>>, std::io::Result<_>)> = group
                .par_iter()
                .map(|range| {
                    let bufs = BUFFERS.with(|b| b.take());
                    let mut scanner = StreamScanner::with_buffers(self.engine, self.chunk, bufs);
                    if let Some(p) = &self.progress {
                        scanner.set_progress(p.clone());
                    }
                    let mut found = Vec::new();
                    let totals =
                        scanner.scan_segment(file, len, range.clone(), binary, &mut |sm| {
                            if sm.located.m.confidence >= self.min_confidence {
                                found.push(sm);
                            }
                            Flow::Continue(())
                        });
                    BUFFERS.with(|b| b.replace(scanner.into_buffers()));
                    (found, totals)
                })
                .collect();
            for ((found, totals), range) in results.into_iter().zip(group) {
                let totals = match totals {
                    Ok(t) => t,
                    Err(e) => {
                        failure = Some(format!(
                            "read error at byte {}: {e} (the rest of the file was not scanned)",
                            range.start
                        ));
                        break;
                    }
                };
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
            }
            if failure.is_some() {
                break;
            }
        }
        if !batch.is_empty() {
            self.send(batch);
        }
        let encoding = if binary {
            Encoding::Binary
        } else {
            Encoding::Utf8 { bom: false }
        };
        let status = match (&failure, scanned) {
            (None, _) => FileStatus::Scanned,
            (Some(_), 0) => FileStatus::Error,
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
            meta: None,
        })]);
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
            data_location: None,
        }
    }
}

/// The leaves of one container, scanned by a worker.
struct Leaves<'w, 'a> {
    worker: &'w Worker<'a>,
    path: &'w str,
    findings: u64,
    leaves: u64,
    leaf_bytes: u64,
    problems: Vec<Problem>,
}

impl LeafSink for Leaves<'_, '_> {
    fn leaf(&mut self, member: Option<&str>, reader: &mut dyn Read) -> std::io::Result<()> {
        self.leaves += 1;
        let (count, result) = self.worker.scan_leaf(self.path, member, reader);
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

    fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }
}

/// A container's own status and reason, from what went wrong inside it.
fn container_status(problems: &[Problem], leaves: u64) -> (FileStatus, Option<String>) {
    let Some(first) = problems.first() else {
        return (FileStatus::Scanned, None);
    };
    // A container that failed before any leaf was read is an error; one
    // that was read in part is partial.
    let status = if leaves == 0 && problems.iter().all(|p| p.status == FileStatus::Error) {
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

/// Opens a file for reading without following a symbolic link (unless
/// asked), without blocking on a FIFO swapped in after the walk, and without
/// touching its access time where we may. Anything that is not a regular
/// file once opened is reported as skipped.
// The error is the file's record, made once per file that cannot be opened.
#[allow(clippy::result_large_err)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::KeySource;
    use crate::rules::RuleSet;

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
