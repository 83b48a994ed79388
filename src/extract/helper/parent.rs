//! The scanner's side of the helper: spawn it, feed it, read its parts as
//! they stream in, count them against the file's budget, watch the
//! deadline, and kill and reap it however this side ends.
//!
//! One parent for every extractor ([`Kind`]): the file's bytes go in, its
//! parts come out as leaves (`page N` for a PDF), and how the helper ended
//! is judged into problems in the kind's own words ([`super::Words`]).
//! Whenever the parts could not be fully read the raw bytes are scanned
//! as well and the file is reported `partial`: never clean unread.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{
    EXIT_DOCUMENT, EXIT_OK, EXIT_PAGES, HELPER_COMMAND, Kind, MAX_REASON, MAX_STDERR, PART_END,
    Payload, clean,
};
use crate::extract::{
    Budget, LeafSink, LimitHit, Limited, Member, Place, Problem, Step, join, leaf,
};
use crate::report::event::FileStatus;

/// The helper's address space beyond what its input itself needs: the
/// program, its stack, the parser's working set on an ordinary page.
const MEMORY_BASE: u64 = 128 << 20;

/// The longest name line of a mail store's part: a folder path, a
/// message, an attachment's file name.
const MAX_MAIL_LABEL: usize = 4096;

/// Helpers running now, over the whole process.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// How many helpers (of every kind) are running now. A scanning thread that waits for
/// one reads nothing for a while, yet is not stuck: the helper is killed
/// at the file's deadline. The daemon's watchdog counts this as progress.
pub fn helpers_running() -> usize {
    RUNNING.load(Ordering::Relaxed)
}

/// Counts a running helper while it lives.
struct Running;

impl Running {
    fn start() -> Running {
        RUNNING.fetch_add(1, Ordering::Relaxed);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The program to run as the helper, set once at startup by `main`.
static HELPER: OnceLock<PathBuf> = OnceLock::new();

/// Names the program that runs the extractors (this very binary, see
/// [`own_executable`]). Until it is set, as in the library's unit tests,
/// files for a helper (PDFs) are scanned as raw bytes and reported `partial`.
pub fn set_helper(program: PathBuf) {
    let _ = HELPER.set(program);
}

/// This program, to run as the helper: `/proc/self/exe` where /proc is
/// mounted, which is the running binary even after an upgrade replaced or
/// removed the file it was started from; else the path it was started as.
pub fn own_executable() -> Option<PathBuf> {
    let proc = Path::new("/proc/self/exe");
    if proc.exists() {
        return Some(proc.to_path_buf());
    }
    std::env::current_exe().ok()
}

/// The address space the helper allows itself: four times the largest input
/// it may be given (the bytes, their parsed objects, decoded streams) plus
/// [`MEMORY_BASE`]; 384 MiB with the default 64 MiB `max_buffer`.
pub fn helper_memory(limits: &crate::extract::Limits) -> u64 {
    limits
        .max_buffer
        .saturating_mul(4)
        .saturating_add(MEMORY_BASE)
}

/// Scans a file with the helper's extractor `kind`: its parts, as leaves
/// (`page N` for a PDF); its raw bytes, with a `partial` problem, when the
/// parts could not all be read.
pub(crate) fn scan(
    kind: Kind,
    stream: &mut dyn Read,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    let words = kind.words();
    let noun = words.noun;
    let advice = words.advice;
    let cap = budget.limits.max_buffer;
    let mut data = Vec::new();
    if let Err(e) = stream.take(cap.saturating_add(1)).read_to_end(&mut data) {
        let reason = match LimitHit::of(&e) {
            Some(hit) => hit.0.clone(),
            None => format!("read error: {e} (the rest was not scanned)"),
        };
        return raw(data, &mut io::empty(), place, sink, reason);
    }
    if data.len() as u64 > cap {
        let reason = format!(
            "{noun} larger than {cap} bytes: its text was not extracted, only its raw bytes \
             were scanned (raise limits.max_buffer or --max-buffer)"
        );
        return raw(data, stream, place, sink, reason);
    }
    let Some(program) = HELPER.get() else {
        let reason = format!(
            "{noun} text extraction not available: only the raw bytes were scanned ({advice})"
        );
        return raw(data, &mut io::empty(), place, sink, reason);
    };
    // The kind, then the kinds that follow it (a PDF's notes after its
    // pages), each only once everything before it was read in full: a
    // file whose raw bytes are scanned anyway needs no more helpers.
    let mut next = Some(kind);
    let mut problems = Vec::new();
    // A PDF whose pages were rendered and read by OCR has had its images
    // read with them: they are not read again one by one.
    let mut rendered = false;
    while let Some(kind) = next {
        if kind == Kind::PdfImages && rendered {
            break;
        }
        problems = extract(kind, program, Input::Bytes(&data), place, budget, sink);
        // No text at all (a scanned PDF): read it another way (OCR).
        if let Some(other) = kind.when_no_text()
            && let [only] = problems.as_slice()
            && Some(only.reason.as_str()) == kind.words().no_text
        {
            problems = extract(other, program, Input::Bytes(&data), place, budget, sink);
            rendered = other == Kind::PdfOcr;
            if problems.is_empty() {
                next = other.then();
                continue;
            }
        }
        if !problems.is_empty() {
            break;
        }
        next = kind.then();
    }
    if problems.is_empty() {
        return;
    }
    // Something was not read as text: the raw bytes may still hold a
    // number in an uncompressed stream.
    let mut whole = io::Cursor::new(data);
    leaf(&mut whole, place, sink);
    for problem in problems {
        sink.problem(problem);
    }
}

/// Scans a file at the top level, open as `file` (the same file as
/// `stream`, which reads it from its start), with the helper's extractor
/// `kind`. A kind that [`Kind::seeks`] (a PST) is given the file itself
/// as its standard input and seeks in it: nothing is copied into memory,
/// so `limits.max_buffer` does not apply, and a mail store of gigabytes
/// is read within the helper's usual memory limit ([`helper_memory`])
/// and the file's deadline (`limits.max_time`). Any other kind, or a file
/// that is not a regular one, goes through [`scan`].
pub(crate) fn scan_file(
    kind: Kind,
    file: &std::fs::File,
    stream: &mut dyn Read,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    let len = match file.metadata() {
        Ok(meta) if meta.is_file() && kind.seeks() && kind.then().is_none() => meta.len(),
        _ => return scan(kind, stream, place, budget, sink),
    };
    let Some(program) = HELPER.get() else {
        let words = kind.words();
        let reason = format!(
            "{} text extraction not available: only the raw bytes were scanned ({})",
            words.noun, words.advice
        );
        return raw(Vec::new(), stream, place, sink, reason);
    };
    let problems = extract(kind, program, Input::File(file, len), place, budget, sink);
    if problems.is_empty() {
        return;
    }
    // The raw bytes, from the start: the helper moved the offset that its
    // descriptor shares with `stream`.
    use std::io::Seek;
    match (&*file).rewind() {
        Ok(()) => leaf(stream, place, sink),
        Err(e) => sink.problem(Problem {
            member: place.member.cloned(),
            status: FileStatus::Partial,
            reason: format!("read error: {e} (its raw bytes were not scanned)"),
        }),
    }
    for problem in problems {
        sink.problem(problem);
    }
}

/// What the helper reads: bytes written into its pipe, or a regular file
/// (with its length) given as its standard input.
#[derive(Clone, Copy)]
enum Input<'a> {
    Bytes(&'a [u8]),
    File(&'a std::fs::File, u64),
}

impl Input<'_> {
    fn len(&self) -> u64 {
        match self {
            Input::Bytes(data) => data.len() as u64,
            Input::File(_, len) => *len,
        }
    }
}

/// Runs one helper of kind `kind` on `data`, hands its parts to the sink,
/// and says what was not read: nothing when every part was.
fn extract(
    kind: Kind,
    program: &Path,
    data: Input<'_>,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) -> Vec<Problem> {
    let words = kind.words();
    let (noun, what, advice) = (words.noun, words.what, words.advice);
    let top = |reason: String| {
        vec![Problem {
            member: place.member.cloned(),
            status: FileStatus::Partial,
            reason,
        }]
    };
    if let Err(e) = budget.check_time() {
        return top(format!(
            "{e}: the {noun}'s {what} was not extracted, only its raw bytes were scanned"
        ));
    }
    let child = match spawn(kind, program, data, budget) {
        Ok(child) => child,
        Err(e) => {
            return top(format!(
                "{noun} {what} extraction could not start ({e}): only the raw bytes were \
                 scanned ({advice})"
            ));
        }
    };
    let running = Running::start();
    let run = run(kind, child, data, place, budget, sink);
    drop(running);
    let memory_mib = helper_memory(&budget.limits) >> 20;
    judge(kind, &run, place.member, budget, memory_mib)
}

/// Scans the raw bytes (`data`, then the rest of the stream) and reports
/// why the text was not extracted.
fn raw(
    data: Vec<u8>,
    rest: &mut dyn Read,
    place: Place<'_>,
    sink: &mut dyn LeafSink,
    reason: String,
) {
    let mut whole = io::Cursor::new(data).chain(rest);
    leaf(&mut whole, place, sink);
    sink.problem(Problem {
        member: place.member.cloned(),
        status: FileStatus::Partial,
        reason,
    });
}

/// Starts the helper with its limits. Its environment is emptied (no key
/// or setting of ours reaches the parser), it runs in `/`, and it gets
/// three pipes (or the file to read as its standard input, read-only, and
/// two pipes) and nothing else: every descriptor this program opens is
/// close-on-exec, and the helper closes any other it inherited.
fn spawn(kind: Kind, program: &Path, input: Input<'_>, budget: &Budget) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    warn_without_seccomp();
    let remaining = budget.deadline.saturating_duration_since(Instant::now());
    // The wall clock is enforced here; the CPU limit is a backstop for a
    // helper that would outlive a parent that can no longer kill it.
    let cpu = remaining.as_secs().saturating_add(1);
    let len = input.len();
    let stdin = match input {
        Input::Bytes(_) => Stdio::piped(),
        Input::File(file, _) => Stdio::from(file.try_clone()?),
    };
    Command::new(program)
        .arg0("leakhound")
        .arg(HELPER_COMMAND)
        .arg(kind.name())
        .arg("--max-input")
        .arg(len.to_string())
        .arg("--max-memory")
        .arg(helper_memory(&budget.limits).to_string())
        .arg("--max-cpu")
        .arg(cpu.to_string())
        .arg("--parent")
        .arg(std::process::id().to_string())
        .args(kind.extra_args())
        .env_clear()
        .current_dir("/")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
}

/// How the helper ended.
#[derive(Debug)]
pub(super) enum Ended {
    /// By itself.
    Exited(ExitStatus),
    /// Killed at the file's deadline.
    TimedOut,
    /// Killed because the scanner stopped reading (a limit, an error).
    Stopped,
    /// Could not be waited for (then it was killed).
    Lost(String),
}

/// What one run of the helper produced.
#[derive(Debug)]
pub(super) struct Run {
    pub(super) ended: Ended,
    /// Pages read to their end.
    pub(super) pages: u32,
    /// A page was begun and its text cut off (the helper died in it).
    pub(super) cut: bool,
    /// Bytes of text other than white space, over all pages.
    pub(super) text: u64,
    /// Why the scanner stopped reading, if it did.
    pub(super) stopped: Option<Problem>,
    /// The helper's standard error, as it came: [`judge`] cleans what it
    /// reports of it.
    pub(super) stderr: String,
}

/// Feeds the input to the helper, scans its parts as they come, and reaps
/// it. A watcher thread owns the child: it kills it at the deadline, or
/// when this thread stops reading or unwinds, and always waits for it, so
/// no zombie is left behind.
fn run(
    kind: Kind,
    mut child: Child,
    data: Input<'_>,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) -> Run {
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let deadline = budget.deadline;
    std::thread::scope(|s| {
        // Declared in here, so that a panic below drops the sender before
        // the scope joins the watcher: it then kills the child at once.
        let (stop, stopped_rx) = crossbeam_channel::bounded::<()>(1);
        let child = Reaped(child);
        let watcher = match std::thread::Builder::new()
            .name(format!("leakhound-{}", kind.name()))
            .spawn_scoped(s, move || watch(child, deadline, stopped_rx))
        {
            Ok(w) => w,
            // The child went with the closure, and was killed and reaped.
            Err(e) => {
                return Run {
                    ended: Ended::Lost(format!("cannot start a thread to watch it: {e}")),
                    pages: 0,
                    cut: false,
                    text: 0,
                    stopped: None,
                    stderr: String::new(),
                };
            }
        };
        // The helper reads all of its input before it writes anything, so
        // writing it all first cannot deadlock; if it dies or hangs, the
        // write fails (broken pipe) once it is gone.
        if let (Some(mut stdin), Input::Bytes(data)) = (stdin, data) {
            let _ = stdin.write_all(data);
        }
        let pages = match stdout {
            Some(out) => read_pages(kind, out, data.len(), place, budget, sink),
            None => Pages::default(),
        };
        if pages.stopped.is_some() {
            let _ = stop.send(());
        }
        let ended = watcher
            .join()
            .unwrap_or_else(|_| Ended::Lost("the watcher failed".to_string()));
        drop(stop);
        // The child is gone: its standard error is complete.
        let mut err = Vec::new();
        if let Some(e) = stderr {
            let _ = e.take(MAX_STDERR).read_to_end(&mut err);
        }
        Run {
            ended,
            pages: pages.complete,
            cut: pages.cut,
            text: pages.text,
            stopped: pages.stopped,
            stderr: String::from_utf8_lossy(&err).into_owned(),
        }
    })
}

/// Waits for the child, killing it at `deadline` or when told to (or when
/// the sender goes away). Polls, starting at a millisecond so that small
/// inputs cost little, backing off to a few tens of milliseconds.
fn watch(mut child: Reaped, deadline: Instant, stop: crossbeam_channel::Receiver<()>) -> Ended {
    let mut pause = Duration::from_millis(1);
    let child = &mut child.0;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ended::Exited(status),
            Ok(None) => {}
            Err(e) => {
                end(child);
                return Ended::Lost(e.to_string());
            }
        }
        let now = Instant::now();
        if now >= deadline {
            end(child);
            return Ended::TimedOut;
        }
        match stop.recv_timeout(pause.min(deadline - now)) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                pause = (pause * 2).min(Duration::from_millis(25));
            }
            _ => {
                end(child);
                return Ended::Stopped;
            }
        }
    }
}

/// Kills and reaps.
fn end(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A child that is killed and reaped however it is dropped, should a
/// path forget to (a thread that cannot start, a panic).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        // Harmless once it was waited for: `kill` does nothing then, and
        // `wait` returns the status it kept.
        end(&mut self.0);
    }
}

/// The pages read from the helper.
#[derive(Debug, Default)]
struct Pages {
    complete: u32,
    cut: bool,
    text: u64,
    stopped: Option<Problem>,
}

/// Hands each page on the helper's output to the sink as it comes, through
/// [`Limited`]: its bytes count as expanded, against the file's ratio and
/// its deadline; and through [`TextRatio`].
fn read_pages(
    kind: Kind,
    out: ChildStdout,
    input_len: u64,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) -> Pages {
    let words = kind.words();
    let limited = Limited {
        inner: TextRatio {
            kind,
            inner: out,
            input_len: input_len.max(1),
            output: 0,
            max_ratio: budget.limits.max_ratio,
        },
        budget,
        input: Rc::new(Cell::new(input_len)),
        output: 0,
    };
    let mut src = BufReader::with_capacity(64 << 10, limited);
    let mut pages = Pages::default();
    let text = Cell::new(0u64);
    loop {
        let n = pages.complete + 1;
        let part = Step::Page {
            unit: words.part,
            index: n.into(),
        };
        let name = join(place.member, part.clone());
        let more = loop {
            match src.fill_buf() {
                Ok(b) => break Ok(!b.is_empty()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        let result = match more {
            Ok(false) => break,
            Ok(true) if words.payload == Payload::Hex => {
                let mut page = PageReader {
                    src: &mut src,
                    ended: false,
                    text: &text,
                };
                // A file, opened as a member like a zip's, as it streams
                // in: nothing of it is held here but what its format
                // needs.
                let mut file = HexReader {
                    inner: &mut page,
                    odd: None,
                };
                crate::extract::member(&mut file, part, place, budget, sink);
                // The member may stop early; the part ends at its form feed.
                io::copy(&mut file, &mut io::sink()).map(|_| page.ended)
            }
            Ok(true) if words.payload == Payload::Mail => {
                let mut page = PageReader {
                    src: &mut src,
                    ended: false,
                    text: &text,
                };
                // `text` or `file`, then the member's components (a
                // folder, a message, its body): each cleaned, one step
                // each, kept as the helper wrote them (docs/DESIGN.md,
                // provenance).
                let label = read_label(&mut page, MAX_MAIL_LABEL);
                let mut fields = label.split('\t');
                let is_file = fields.next() == Some("file");
                let steps: Vec<Step> = fields
                    .map(|field| Step::Named(crate::extract::clean_name(field)))
                    .collect();
                let member = if steps.is_empty() {
                    name.clone()
                } else {
                    place.member.cloned().unwrap_or_default().then(steps)
                };
                if is_file {
                    // Opened by content like a zip's member, at the
                    // member the components name.
                    let mut file = HexReader {
                        inner: &mut page,
                        odd: None,
                    };
                    crate::extract::member_at(&mut file, member, place.depth, budget, sink);
                    io::copy(&mut file, &mut io::sink()).map(|_| page.ended)
                } else {
                    let scanned = sink.leaf(Some(&member), &mut page);
                    scanned
                        .and_then(|()| io::copy(&mut page, &mut io::sink()).map(|_| ()))
                        .map(|()| page.ended)
                }
            }
            Ok(true) => {
                let mut page = PageReader {
                    src: &mut src,
                    ended: false,
                    text: &text,
                };
                // A part that names itself (a Parquet cell: `column NAME
                // row N`) on its first line: a cell step, or the label
                // kept as it came (docs/DESIGN.md, provenance).
                let named = (words.payload == Payload::Named).then(|| {
                    let label = read_label(&mut page, 256);
                    let step = Step::from_helper_label(crate::extract::clean_name(&label));
                    join(place.member, step)
                });
                let scanned = sink.leaf(Some(named.as_ref().unwrap_or(&name)), &mut page);
                // The sink reads to the end; make sure of it.
                scanned
                    .and_then(|()| io::copy(&mut page, &mut io::sink()).map(|_| ()))
                    .map(|()| page.ended)
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(true) => pages.complete = n,
            Ok(false) => {
                pages.cut = true;
                break;
            }
            Err(e) => {
                let reason = match LimitHit::of(&e) {
                    Some(hit) => hit.0.clone(),
                    None => format!(
                        "read error from the {} {} extraction: {e}",
                        words.noun, words.what
                    ),
                };
                pages.stopped = Some(Problem {
                    member: Some(name),
                    status: FileStatus::Partial,
                    reason: format!(
                        "{reason}: the rest of the {}'s {} was not extracted, \
                         its raw bytes were scanned instead",
                        words.noun, words.what
                    ),
                });
                break;
            }
        }
    }
    pages.text = text.get();
    pages
}

/// Decodes a hex part (a file, see [`super::pdf_files`]) as it is read.
pub(super) struct HexReader<R> {
    pub(super) inner: R,
    /// A first digit read without its second.
    pub(super) odd: Option<u8>,
}

impl<R: Read> Read for HexReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut hex = [0u8; 8 << 10];
        let want = buf.len().saturating_mul(2).min(hex.len());
        loop {
            let n = self.inner.read(&mut hex[..want])?;
            if n == 0 {
                return match self.odd {
                    None => Ok(0),
                    Some(_) => Err(io::Error::other("the helper wrote a part that is not hex")),
                };
            }
            let mut out = 0;
            for &c in &hex[..n] {
                let Some(d) = super::pdf_files::digit(c) else {
                    return Err(io::Error::other("the helper wrote a part that is not hex"));
                };
                match self.odd.take() {
                    None => self.odd = Some(d),
                    Some(high) => {
                        buf[out] = high << 4 | d;
                        out += 1;
                    }
                }
            }
            if out > 0 {
                return Ok(out);
            }
        }
    }
}

/// Stops text far bigger than its input: in a PDF, forms that draw forms
/// that draw text (a "billion laughs") make gigabytes of it from a few
/// kilobytes.
/// [`Limited`] would stop it too, at the same point, but would call it a
/// nest of containers.
struct TextRatio<R> {
    kind: Kind,
    inner: R,
    input_len: u64,
    output: u64,
    max_ratio: u64,
}

impl<R: Read> Read for TextRatio<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.output += n as u64;
        if self.output > crate::extract::RATIO_GRACE
            && self.output / self.input_len > self.max_ratio
        {
            let words = self.kind.words();
            return Err(LimitHit::error(format!(
                "the {}'s text is more than {} times its size, a likely text bomb{} \
                 (raise limits.max_ratio or --max-ratio if it is genuine)",
                words.noun, self.max_ratio, words.bomb_hint
            )));
        }
        Ok(n)
    }
}

/// One page of the helper's output: up to its form feed.
/// The first line of a part, up to its newline (at most `max` bytes).
fn read_label(page: &mut dyn Read, max: usize) -> String {
    let mut label = Vec::new();
    let mut byte = [0u8; 1];
    while label.len() < max {
        match page.read(&mut byte) {
            Ok(1) if byte[0] != b'\n' => label.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&label).into_owned()
}

struct PageReader<'a, R> {
    src: &'a mut R,
    /// The form feed was read.
    ended: bool,
    /// Bytes of text other than white space, over all pages.
    text: &'a Cell<u64>,
}

impl<R: BufRead> Read for PageReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ended || buf.is_empty() {
            return Ok(0);
        }
        let avail = self.src.fill_buf()?;
        // The end of the output inside a page: `ended` stays false.
        let (len, at_end) = match memchr::memchr(PART_END, avail) {
            Some(i) => (i, true),
            None => (avail.len(), false),
        };
        let n = len.min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        let visible = avail[..n]
            .iter()
            .filter(|b| !b.is_ascii_whitespace())
            .count();
        self.text.set(self.text.get() + visible as u64);
        if at_end && n == len {
            self.ended = true;
            self.src.consume(n + 1);
        } else {
            self.src.consume(n);
        }
        Ok(n)
    }
}

/// What the scanner reports about a run of the helper: nothing when every
/// page's text was read; else the problems, and the raw bytes are scanned.
pub(super) fn judge(
    kind: Kind,
    run: &Run,
    member: Option<&Member>,
    budget: &Budget,
    memory_mib: u64,
) -> Vec<Problem> {
    let super::Words {
        noun,
        what,
        part,
        parts,
        advice,
        no_text,
        ..
    } = *kind.words();
    let top = |reason: String| Problem {
        member: member.cloned(),
        status: FileStatus::Partial,
        reason,
    };
    let fallback = format!("only the raw bytes were scanned; {advice}");
    // Where the helper died, if it died after some pages.
    let after = match (run.pages, run.cut) {
        (0, false) => String::new(),
        (0, true) => format!(", in {part} 1"),
        (n, false) => format!(", after {part} {n}"),
        (n, true) => format!(", in {part} {}", n + 1),
    };
    let mut problems = Vec::new();
    if let Some(p) = &run.stopped {
        problems.push(p.clone());
    }
    match &run.ended {
        Ended::Exited(status) if status.code() == Some(EXIT_OK.into()) && !run.cut => {}
        Ended::Exited(status) if status.code() == Some(EXIT_PAGES.into()) && !run.cut => {
            let mut named = 0;
            for line in run.stderr.lines() {
                // `and N more pages`, after the last one named.
                if let Some(more) = line
                    .strip_prefix("and ")
                    .and_then(|l| l.strip_suffix(parts).and_then(|l| l.strip_suffix(" more ")))
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    problems.push(top(format!(
                        "the text of {more} more {parts} could not be extracted: {fallback}"
                    )));
                    continue;
                }
                let Some((page, why)) = line
                    .strip_prefix(part)
                    .and_then(|l| l.strip_prefix(' '))
                    .and_then(|l| l.split_once(": "))
                else {
                    continue;
                };
                // The page number is the helper's own; the reason is cleaned.
                let Ok(page) = page.parse::<u32>() else {
                    continue;
                };
                let why = clean(why, MAX_REASON);
                named += 1;
                problems.push(Problem {
                    member: Some(join(
                        member,
                        Step::Page {
                            unit: part,
                            index: page.into(),
                        },
                    )),
                    status: FileStatus::Partial,
                    reason: format!(
                        "the text of this {part} could not be extracted ({why}): \
                         the raw bytes of the {noun} were scanned instead"
                    ),
                });
            }
            if named == 0 {
                problems.push(top(format!(
                    "the text of some {parts} could not be extracted: {fallback}"
                )));
            }
        }
        Ended::Exited(status) if status.code() == Some(EXIT_DOCUMENT.into()) => {
            let why = clean(
                run.stderr.lines().next().unwrap_or("no reason given"),
                MAX_REASON,
            );
            problems.push(top(if why == "encrypted" {
                format!(
                    "encrypted: the {noun} cannot be opened without its password; \
                     only its raw bytes were scanned"
                )
            } else {
                format!("{noun} could not be parsed ({why}): {fallback}")
            }));
        }
        Ended::Exited(status) => {
            let what = crash(status, &run.stderr, memory_mib, budget);
            problems.push(top(format!(
                "{noun} could not be parsed ({what}{after}): {fallback}"
            )));
        }
        Ended::TimedOut => {
            let limit = match budget.check_time() {
                Err(e) => e.to_string(),
                Ok(()) => "time limit reached".to_string(),
            };
            problems.push(top(format!(
                "{limit}: {noun} {what} extraction was stopped{after}; {fallback}"
            )));
        }
        // The reason is the one the reader stopped for, pushed above.
        Ended::Stopped if run.stopped.is_some() => {}
        Ended::Stopped => problems.push(top(format!(
            "{noun} {what} extraction was stopped{after}: {fallback}"
        ))),
        Ended::Lost(e) => problems.push(top(format!(
            "{noun} {what} extraction failed ({}){after}: {fallback}",
            clean(e, MAX_REASON)
        ))),
    }
    if let Some(no_text) = no_text
        && problems.is_empty()
        && run.text == 0
    {
        problems.push(top(no_text.to_string()));
    }
    problems
}

/// What a helper that did not end normally ran into.
fn crash(status: &ExitStatus, stderr: &str, memory_mib: u64, budget: &Budget) -> String {
    use std::os::unix::process::ExitStatusExt;
    const SIGKILL: i32 = 9;
    const SIGXCPU: i32 = 24;
    // The Rust runtime's last words before it aborts: they name the
    // cause, and nothing of the input.
    if stderr.contains("memory allocation of") {
        return format!(
            "the parser ran out of its {memory_mib} MiB memory limit, a likely decompression \
             bomb; the limit grows with limits.max_buffer"
        );
    }
    if stderr.contains("overflowed its stack") {
        return "the parser overflowed its stack: objects nested or referring to themselves \
                too deep"
            .to_string();
    }
    match (status.code(), status.signal()) {
        (_, Some(SIGXCPU)) => format!(
            "the parser used up its CPU time, {} (raise limits.max_time or --max-time)",
            humantime::format_duration(budget.limits.max_time)
        ),
        (_, Some(SIGKILL)) => "the parser was killed (signal 9: the system or the service \
                               ran out of memory, or its CPU time ran out)"
            .to_string(),
        (_, Some(sig)) => format!("the parser crashed, signal {sig}"),
        (Some(code), _) => format!("the parser failed, exit status {code}"),
        (None, None) => "the parser crashed".to_string(),
    }
}

/// Says once per process, when the kernel refuses seccomp, that helpers
/// run without their system call filter (they carry on without it).
fn warn_without_seccomp() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(e) = super::seccomp::available() {
            tracing::warn!(
                "extraction helpers run without their system call filter: {e} \
                 (the other limits still hold; see docs/containers.md)"
            );
        }
    });
}
