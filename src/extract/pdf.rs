//! PDF: the text of every page, extracted in a child process.
//!
//! PDF parsers are a classic source of crashes, endless loops and memory
//! blow-ups on hostile files, and the one used here (`pdf-extract` on
//! `lopdf`) panics and recurses on malformed input. So the parsing never
//! happens in the scanner: each PDF is handed to a fresh copy of this
//! program, `leakhound __pdf-text` ([`helper_main`]), which first confines
//! itself (no capability, bounded address space and CPU time, no core
//! dump, no file written, dies with its parent) and then writes the text
//! of each page to its standard output. The scanner ([`text`]) feeds it the
//! PDF, reads the pages as they come, counts them against the file's budget
//! like decompressed bytes, kills the helper at the file's deadline, and
//! reaps it.
//!
//! The protocol between the two, over pipes only (nothing touches disk):
//!
//! - standard input: the PDF, at most `--max-input` bytes;
//! - standard output: the text of each page in order, UTF-8, each page
//!   ended by a form feed (a form feed in the text becomes a newline);
//! - exit [`EXIT_OK`]: every page was read; [`EXIT_PAGES`]: every page was
//!   tried, and standard error has a line `page N: reason` for each one
//!   that failed; [`EXIT_DOCUMENT`]: the document could not be opened, and
//!   standard error has one line, the reason (`encrypted` when the empty
//!   password does not open it). Anything else (a signal, another code) is
//!   a crash.
//!
//! Reasons never quote the PDF: they are fixed phrases, with any digit a
//! library put in them replaced by `#`, on both sides of the pipe.
//!
//! Whenever the text could not be fully extracted (the helper failed,
//! crashed, ran out of memory or time, a page failed, or the PDF has no
//! text at all, as a scanned image has not), the raw bytes of the PDF are
//! scanned as well, as they were before text extraction existed, and the
//! file is reported `partial` with what happened and what to do: a PDF is
//! never reported clean unless its text was read. When extraction
//! succeeds, the raw bytes are not scanned (the same number would be
//! found twice where a content stream is not compressed).

use std::cell::{Cell, RefCell};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitCode, ExitStatus, Stdio};
use std::rc::Rc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{Budget, LeafSink, LimitHit, Limited, Place, Problem, join, leaf};
use crate::report::event::FileStatus;

/// The hidden subcommand that runs the helper.
pub const HELPER_COMMAND: &str = "__pdf-text";

/// The helper read every page.
pub const EXIT_OK: u8 = 0;
/// The helper could not open the document; standard error says why.
pub const EXIT_DOCUMENT: u8 = 10;
/// The helper tried every page; standard error lists those that failed.
pub const EXIT_PAGES: u8 = 11;

/// Ends each page on the helper's standard output.
const PAGE_END: u8 = 0x0c;

/// Standard error kept from the helper: a reason, or a line per failed page.
const MAX_STDERR: u64 = 16 << 10;

/// Failed pages the helper names; beyond them it only counts.
const MAX_PAGE_LINES: usize = 50;

/// Longest reason passed on from the helper.
const MAX_REASON: usize = 200;

/// The helper's address space beyond what the PDF itself needs: the
/// program, its stack, the parser's working set on an ordinary page.
const MEMORY_BASE: u64 = 128 << 20;

/// Helpers running now, over the whole process.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// How many PDF helpers are running now. A scanning thread that waits for
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

/// Names the program that extracts PDF text (this very binary, see
/// [`own_executable`]). Until it is set, as in the library's unit tests,
/// PDFs are scanned as raw bytes and reported `partial`.
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

/// The address space the helper allows itself: four times the largest PDF
/// it may be given (the bytes, their parsed objects, decoded streams) plus
/// [`MEMORY_BASE`]; 384 MiB with the default 64 MiB `max_buffer`.
pub fn helper_memory(limits: &super::Limits) -> u64 {
    limits
        .max_buffer
        .saturating_mul(4)
        .saturating_add(MEMORY_BASE)
}

// ---------------------------------------------------------------------------
// The scanner's side.
// ---------------------------------------------------------------------------

/// Scans a PDF: its pages' text, from the helper, as leaves `page N`; its
/// raw bytes, with a `partial` problem, when the text could not be read.
pub(super) fn text(
    stream: &mut dyn Read,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
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
            "PDF larger than {cap} bytes: its text was not extracted, only its raw bytes \
             were scanned (raise limits.max_buffer or --max-buffer)"
        );
        return raw(data, stream, place, sink, reason);
    }
    let Some(program) = HELPER.get() else {
        let reason = "PDF text extraction not available: only the raw bytes were scanned \
                      (convert it with pdftotext and scan the text)"
            .to_string();
        return raw(data, &mut io::empty(), place, sink, reason);
    };
    if let Err(e) = budget.check_time() {
        let reason =
            format!("{e}: the PDF's text was not extracted, only its raw bytes were scanned");
        return raw(data, &mut io::empty(), place, sink, reason);
    }
    let child = match spawn(program, data.len() as u64, budget) {
        Ok(child) => child,
        Err(e) => {
            let reason = format!(
                "PDF text extraction could not start ({e}): only the raw bytes were scanned \
                 (convert it with pdftotext and scan the text)"
            );
            return raw(data, &mut io::empty(), place, sink, reason);
        }
    };
    let running = Running::start();
    let run = run(child, &data, place, budget, sink);
    drop(running);
    let memory_mib = helper_memory(&budget.limits) >> 20;
    let problems = judge(&run, place.member, budget, memory_mib);
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
        member: place.member.map(str::to_string),
        status: FileStatus::Partial,
        reason,
    });
}

/// Starts the helper with its limits. Its environment is emptied (no key
/// or setting of ours reaches the parser), it runs in `/`, and it gets
/// three pipes and nothing else: every descriptor this program opens is
/// close-on-exec, and the helper closes any other it inherited.
fn spawn(program: &Path, len: u64, budget: &Budget) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let remaining = budget.deadline.saturating_duration_since(Instant::now());
    // The wall clock is enforced here; the CPU limit is a backstop for a
    // helper that would outlive a parent that can no longer kill it.
    let cpu = remaining.as_secs().saturating_add(1);
    Command::new(program)
        .arg0("leakhound")
        .arg(HELPER_COMMAND)
        .arg("--max-input")
        .arg(len.to_string())
        .arg("--max-memory")
        .arg(helper_memory(&budget.limits).to_string())
        .arg("--max-cpu")
        .arg(cpu.to_string())
        .arg("--parent")
        .arg(std::process::id().to_string())
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
}

/// How the helper ended.
#[derive(Debug)]
enum Ended {
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
struct Run {
    ended: Ended,
    /// Pages read to their end.
    pages: u32,
    /// A page was begun and its text cut off (the helper died in it).
    cut: bool,
    /// Bytes of text other than white space, over all pages.
    text: u64,
    /// Why the scanner stopped reading, if it did.
    stopped: Option<Problem>,
    /// The helper's standard error, as it came: [`judge`] cleans what it
    /// reports of it.
    stderr: String,
}

/// Feeds the PDF to the helper, scans its pages as they come, and reaps
/// it. A watcher thread owns the child: it kills it at the deadline, or
/// when this thread stops reading or unwinds, and always waits for it, so
/// no zombie is left behind.
fn run(
    mut child: Child,
    data: &[u8],
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
            .name("leakhound-pdf".to_string())
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
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(data);
        }
        let pages = match stdout {
            Some(out) => read_pages(out, data.len() as u64, place, budget, sink),
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
/// PDFs cost little, backing off to a few tens of milliseconds.
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
    out: ChildStdout,
    pdf_len: u64,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) -> Pages {
    let limited = Limited {
        inner: TextRatio {
            inner: out,
            pdf_len: pdf_len.max(1),
            output: 0,
            max_ratio: budget.limits.max_ratio,
        },
        budget,
        input: Rc::new(Cell::new(pdf_len)),
        output: 0,
    };
    let mut src = BufReader::with_capacity(64 << 10, limited);
    let mut pages = Pages::default();
    let text = Cell::new(0u64);
    loop {
        let n = pages.complete + 1;
        let name = join(place.member, &format!("page {n}"));
        let more = loop {
            match src.fill_buf() {
                Ok(b) => break Ok(!b.is_empty()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        let result = match more {
            Ok(false) => break,
            Ok(true) => {
                let mut page = PageReader {
                    src: &mut src,
                    ended: false,
                    text: &text,
                };
                let scanned = sink.leaf(Some(&name), &mut page);
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
                    None => format!("read error from the PDF text extraction: {e}"),
                };
                pages.stopped = Some(Problem {
                    member: Some(name),
                    status: FileStatus::Partial,
                    reason: format!(
                        "{reason}: the rest of the PDF's text was not extracted, \
                         its raw bytes were scanned instead"
                    ),
                });
                break;
            }
        }
    }
    pages.text = text.get();
    pages
}

/// Stops text far bigger than its PDF: forms that draw forms that draw
/// text (a "billion laughs") make gigabytes of it from a few kilobytes.
/// [`Limited`] would stop it too, at the same point, but would call it a
/// nest of containers.
struct TextRatio<R> {
    inner: R,
    pdf_len: u64,
    output: u64,
    max_ratio: u64,
}

impl<R: Read> Read for TextRatio<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.output += n as u64;
        if self.output > super::RATIO_GRACE && self.output / self.pdf_len > self.max_ratio {
            return Err(LimitHit::error(format!(
                "the PDF's text is more than {} times its size, a likely text bomb \
                 (forms drawing forms) (raise limits.max_ratio or --max-ratio if it is genuine)",
                self.max_ratio
            )));
        }
        Ok(n)
    }
}

/// One page of the helper's output: up to its form feed.
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
        let (len, at_end) = match memchr::memchr(PAGE_END, avail) {
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
fn judge(run: &Run, member: Option<&str>, budget: &Budget, memory_mib: u64) -> Vec<Problem> {
    let top = |reason: String| Problem {
        member: member.map(str::to_string),
        status: FileStatus::Partial,
        reason,
    };
    let fallback = "only the raw bytes were scanned; convert it with pdftotext and scan the text";
    // Where the helper died, if it died after some pages.
    let after = match (run.pages, run.cut) {
        (0, false) => String::new(),
        (0, true) => ", in page 1".to_string(),
        (n, false) => format!(", after page {n}"),
        (n, true) => format!(", in page {}", n + 1),
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
                    .and_then(|l| l.strip_suffix(" more pages"))
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    problems.push(top(format!(
                        "the text of {more} more pages could not be extracted: {fallback}"
                    )));
                    continue;
                }
                let Some((page, why)) = line.strip_prefix("page ").and_then(|l| l.split_once(": "))
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
                    member: Some(join(member, &format!("page {page}"))),
                    status: FileStatus::Partial,
                    reason: format!(
                        "the text of this page could not be extracted ({why}): \
                         the raw bytes of the PDF were scanned instead"
                    ),
                });
            }
            if named == 0 {
                problems.push(top(format!(
                    "the text of some pages could not be extracted: {fallback}"
                )));
            }
        }
        Ended::Exited(status) if status.code() == Some(EXIT_DOCUMENT.into()) => {
            let why = clean(
                run.stderr.lines().next().unwrap_or("no reason given"),
                MAX_REASON,
            );
            problems.push(top(if why == "encrypted" {
                "encrypted: the PDF cannot be opened without its password; \
                 only its raw bytes were scanned"
                    .to_string()
            } else {
                format!("PDF could not be parsed ({why}): {fallback}")
            }));
        }
        Ended::Exited(status) => {
            let what = crash(status, &run.stderr, memory_mib, budget);
            problems.push(top(format!(
                "PDF could not be parsed ({what}{after}): {fallback}"
            )));
        }
        Ended::TimedOut => {
            let limit = match budget.check_time() {
                Err(e) => e.to_string(),
                Ok(()) => "time limit reached".to_string(),
            };
            problems.push(top(format!(
                "{limit}: PDF text extraction was stopped{after}; {fallback}"
            )));
        }
        // The reason is the one the reader stopped for, pushed above.
        Ended::Stopped if run.stopped.is_some() => {}
        Ended::Stopped => problems.push(top(format!(
            "PDF text extraction was stopped{after}: {fallback}"
        ))),
        Ended::Lost(e) => problems.push(top(format!(
            "PDF text extraction failed ({}){after}: {fallback}",
            clean(e, MAX_REASON)
        ))),
    }
    if problems.is_empty() && run.text == 0 {
        problems.push(top(
            "no text layer (an image-only PDF, such as a scan?): its images were not read, \
             its raw bytes were scanned; run OCR on it (e.g. ocrmypdf) and scan the result"
                .to_string(),
        ));
    }
    problems
}

/// What a helper that did not end normally ran into.
fn crash(status: &ExitStatus, stderr: &str, memory_mib: u64, budget: &Budget) -> String {
    use std::os::unix::process::ExitStatusExt;
    const SIGKILL: i32 = 9;
    const SIGXCPU: i32 = 24;
    // The Rust runtime's last words before it aborts: they name the
    // cause, and nothing of the PDF.
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

/// Makes text from the helper or a library safe to report: no digit (a
/// number could be the start of a card), no control character but the
/// newline, at most `max` characters.
pub(crate) fn clean(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| match c {
            '0'..='9' => '#',
            '\n' => '\n',
            c if c.is_control() => ' ',
            c => c,
        })
        .take(max)
        .collect()
}

// ---------------------------------------------------------------------------
// The helper's side: `leakhound __pdf-text`.
// ---------------------------------------------------------------------------

/// The helper's settings, from its command line.
#[derive(Debug, Clone, Copy)]
pub struct HelperLimits {
    /// Bytes of PDF it reads at most.
    pub max_input: u64,
    /// Its address space (`RLIMIT_AS`).
    pub max_memory: u64,
    /// Its CPU time in seconds (`RLIMIT_CPU`).
    pub max_cpu: u64,
    /// The scanner that started it: the helper dies with it.
    pub parent: Option<u32>,
}

/// The helper: confines itself, reads one PDF from standard input and
/// writes the text of its pages to standard output (see the module's
/// documentation for the protocol).
pub fn helper_main(limits: HelperLimits) -> ExitCode {
    // Parsers panic on hostile files, and a panic's message may quote the
    // file: none is printed. Pages that panic are caught and reported.
    std::panic::set_hook(Box::new(|_| {}));
    if let Err(why) = confine(&limits) {
        return fail(&why);
    }
    let mut data = Vec::new();
    let read = io::stdin()
        .lock()
        .take(limits.max_input.saturating_add(1))
        .read_to_end(&mut data);
    if let Err(e) = read {
        return fail(&format!("cannot read the PDF: {}", e.kind()));
    }
    if data.len() as u64 > limits.max_input {
        return fail("the PDF is larger than it was announced");
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 << 10, stdout.lock());
    let result = extract_pages(&data, &mut out);
    if out.flush().is_err() {
        return fail("the scanner stopped reading");
    }
    match result {
        Ok(failed) if failed.is_empty() => ExitCode::from(EXIT_OK),
        Ok(failed) => {
            let mut err = io::stderr().lock();
            for (page, why) in failed.iter().take(MAX_PAGE_LINES) {
                let _ = writeln!(err, "page {page}: {}", clean(why, MAX_REASON));
            }
            if failed.len() > MAX_PAGE_LINES {
                let _ = writeln!(err, "and {} more pages", failed.len() - MAX_PAGE_LINES);
            }
            ExitCode::from(EXIT_PAGES)
        }
        Err(why) => fail(&why),
    }
}

/// Reports why the document could not be read, and exits.
fn fail(why: &str) -> ExitCode {
    let line = clean(why, MAX_REASON).replace('\n', " ");
    let _ = writeln!(io::stderr().lock(), "{line}");
    ExitCode::from(EXIT_DOCUMENT)
}

/// Limits the helper to what it needs, before it reads a byte of the PDF:
/// dies with its parent; no capability, no privilege gained by exec;
/// bounded address space and CPU time; no core dump (it would hold the
/// PDF); no file written; the first to go when memory runs short; no
/// descriptor but the three pipes.
fn confine(limits: &HelperLimits) -> Result<(), String> {
    use rustix::process::{Resource, Rlimit, Signal, setrlimit};
    if let Some(parent) = limits.parent {
        // The signal comes when the thread that started us ends, which the
        // scanner only lets happen after reaping us, or when it dies.
        rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
            .map_err(|e| format!("cannot tie the helper to its parent: {e}"))?;
        // The parent may have died before the line above.
        if rustix::process::getppid().map(|p| p.as_raw_nonzero().get() as u32) != Some(parent) {
            return Err("the scanner is gone".to_string());
        }
    }
    // No privilege gained through exec; none kept: the daemon's ambient
    // capabilities (CAP_DAC_READ_SEARCH, to read every file) come with
    // exec, and are the scanner's business, not the parser's.
    rustix::thread::set_no_new_privs(true).map_err(|e| format!("cannot set no_new_privs: {e}"))?;
    let none = rustix::thread::CapabilitySet::empty();
    rustix::thread::set_capabilities(
        None,
        rustix::thread::CapabilitySets {
            effective: none,
            permitted: none,
            inheritable: none,
        },
    )
    .map_err(|e| format!("cannot drop capabilities: {e}"))?;
    // Best effort: a kernel without it, or a read-only /proc, is no reason
    // to fail. Where memory runs short (the service's MemoryMax), the
    // kernel then kills a helper rather than the scanner.
    let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
    let set = |resource: Resource, soft: u64, hard: u64, what: &str| {
        setrlimit(
            resource,
            Rlimit {
                current: Some(soft),
                maximum: Some(hard),
            },
        )
        .map_err(|e| format!("cannot set the {what} limit: {e}"))
    };
    set(Resource::Core, 0, 0, "core dump")?;
    set(Resource::Fsize, 0, 0, "file size")?;
    // SIGXCPU at the soft limit, SIGKILL a second later.
    let cpu = limits.max_cpu.max(1);
    set(Resource::Cpu, cpu, cpu.saturating_add(1), "CPU time")?;
    set(Resource::As, limits.max_memory, limits.max_memory, "memory")?;
    close_inherited();
    Ok(())
}

/// Closes every descriptor above standard error: whatever a parent left
/// open without close-on-exec is none of the parser's business.
fn close_inherited() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: nothing in this process owns a descriptor above 2: the
        // helper has opened none but the directory listed above, which is
        // closed again (its number fails the check below). The borrow
        // lives only for the check.
        let open = rustix::io::fcntl_getfd(unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) });
        if open.is_ok() {
            // SAFETY: as above: an open descriptor that nothing owns.
            unsafe { rustix::io::close(fd) };
        }
    }
}

/// Pages whose text could not be extracted: their number, and why.
pub type FailedPages = Vec<(u32, String)>;

/// Writes the text of every page of `data` to `out`, each page ended by a
/// form feed. `Ok` with the pages that failed (their number and why), or
/// `Err` with why the document could not be opened.
pub fn extract_pages(data: &[u8], out: &mut dyn Write) -> Result<FailedPages, String> {
    use pdf_extract::Document;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let mut doc = match catch_unwind(|| Document::load_mem(data)) {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => return Err(describe(&e).to_string()),
        Err(_) => return Err("the parser failed on its structure".to_string()),
    };
    // Loading already tried the empty password; a document it did not open
    // still has its encryption dictionary.
    if doc.is_encrypted() {
        match catch_unwind(AssertUnwindSafe(|| doc.decrypt(""))) {
            Ok(Ok(())) => {}
            _ => return Err("encrypted".to_string()),
        }
    }
    // Best effort: a stream it cannot rewrite is left as it was.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        blank_images(&mut doc);
        spell_out_quotes(&mut doc);
    }));
    let count = match catch_unwind(AssertUnwindSafe(|| doc.get_pages().len())) {
        Ok(n) => u32::try_from(n).unwrap_or(u32::MAX),
        Err(_) => return Err("the parser failed on its page tree".to_string()),
    };
    let sink = RefCell::new(PageOut {
        out,
        open: None,
        ended: 0,
        error: None,
    });
    let stopped = || Err("the scanner stopped reading".to_string());
    // One pass over the whole document, page after page (pages are
    // numbered from 1 in order). Should a page fail, the pass stops there;
    // the pages after it are then read one by one, each lookup walking the
    // page tree again: the slow way, only after a failure.
    let first = {
        let mut writer = TextWriter(&sink);
        let mut dev = Pager {
            text: pdf_extract::PlainTextOutput::new(&mut writer as &mut dyn Write),
            sink: &sink,
        };
        catch_unwind(AssertUnwindSafe(|| pdf_extract::output_doc(&doc, &mut dev)))
    };
    if sink.borrow().error.is_some() {
        return stopped();
    }
    let (page, why) = match first {
        Ok(Ok(())) => return Ok(Vec::new()),
        Ok(Err(e)) => page_failure(&sink, output_error(&e)),
        Err(_) => page_failure(&sink, "the parser failed".to_string()),
    };
    let mut failed = vec![(page, why)];
    for n in page.saturating_add(1)..=count {
        let result = {
            let mut writer = TextWriter(&sink);
            let mut dev = Pager {
                text: pdf_extract::PlainTextOutput::new(&mut writer as &mut dyn Write),
                sink: &sink,
            };
            catch_unwind(AssertUnwindSafe(|| {
                pdf_extract::output_doc_page(&doc, &mut dev, n)
            }))
        };
        if sink.borrow().error.is_some() {
            return stopped();
        }
        let why = match result {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => output_error(&e),
            Err(_) => "the parser failed".to_string(),
        };
        failed.push((n, why));
        // The page may not have been ended, or even begun.
        sink.borrow_mut().finish(n);
    }
    Ok(failed)
}

/// Empties every image XObject. `pdf-extract` runs an image drawn with
/// `Do` as if it were a content stream: the pixels are decompressed for
/// nothing, and their bytes are parsed as drawing operators, which fails
/// the page (or worse, shows the bytes as text).
fn blank_images(doc: &mut pdf_extract::Document) {
    use pdf_extract::Object;
    for object in doc.objects.values_mut() {
        if let Object::Stream(s) = object
            && s.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image")
        {
            s.set_plain_content(Vec::new());
        }
    }
}

/// Rewrites the text operators `'` and `"` (next line, then show text),
/// which `pdf-extract` does not know and silently skips, as the operators
/// they stand for: `T*` and `Tj` (after `Tw` and `Tc` for `"`). Ghostscript
/// writes every line after the first of a text block with `'`: without
/// this, most of the text of such a PDF is lost. Only page contents and
/// form XObjects that hold such an operator are rewritten, uncompressed.
fn spell_out_quotes(doc: &mut pdf_extract::Document) {
    use pdf_extract::Object;
    use pdf_extract::content::{Content, Operation};
    let mut ids: Vec<pdf_extract::ObjectId> = doc
        .get_pages()
        .values()
        .flat_map(|&page| doc.get_page_contents(page))
        .collect();
    ids.extend(doc.objects.iter().filter_map(|(&id, object)| match object {
        Object::Stream(s)
            if s.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Form") =>
        {
            Some(id)
        }
        _ => None,
    }));
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        let Ok(stream) = doc.get_object_mut(id).and_then(Object::as_stream_mut) else {
            continue;
        };
        let plain = if stream.filters().is_ok() {
            match stream.decompressed_content() {
                Ok(plain) => plain,
                Err(_) => continue,
            }
        } else {
            stream.content.clone()
        };
        if !plain.iter().any(|&b| b == b'\'' || b == b'"') {
            continue;
        }
        let Ok(content) = Content::decode(&plain) else {
            continue;
        };
        if !content
            .operations
            .iter()
            .any(|op| op.operator == "'" || op.operator == "\"")
        {
            continue;
        }
        let mut operations = Vec::with_capacity(content.operations.len());
        for op in content.operations {
            match (op.operator.as_str(), op.operands.as_slice()) {
                ("'", [text]) => {
                    operations.push(Operation::new("T*", vec![]));
                    operations.push(Operation::new("Tj", vec![text.clone()]));
                }
                ("\"", [word, char, text]) => {
                    operations.push(Operation::new("Tw", vec![word.clone()]));
                    operations.push(Operation::new("Tc", vec![char.clone()]));
                    operations.push(Operation::new("T*", vec![]));
                    operations.push(Operation::new("Tj", vec![text.clone()]));
                }
                _ => operations.push(op),
            }
        }
        if let Ok(encoded) = (Content { operations }).encode() {
            stream.set_plain_content(encoded);
        }
    }
}

/// The page a whole-document pass stopped at (the one begun and not
/// ended, else the next), ended on the output so that pages stay counted.
fn page_failure(sink: &RefCell<PageOut<'_>>, why: String) -> (u32, String) {
    let mut s = sink.borrow_mut();
    let page = s.open.unwrap_or(s.ended + 1);
    s.finish(page);
    (page, why)
}

/// Where the text goes: the output, with the page ends.
struct PageOut<'w> {
    out: &'w mut dyn Write,
    /// The page begun and not yet ended.
    open: Option<u32>,
    /// The last page ended.
    ended: u32,
    /// Writing failed: the scanner went away.
    error: Option<io::ErrorKind>,
}

impl PageOut<'_> {
    /// Writes page text; a form feed in it would end the page early, so it
    /// becomes a newline.
    fn text(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some(kind) = self.error {
            return Err(kind.into());
        }
        let result = if memchr::memchr(PAGE_END, buf).is_none() {
            self.out.write_all(buf)
        } else {
            let swapped: Vec<u8> = buf
                .iter()
                .map(|&b| if b == PAGE_END { b'\n' } else { b })
                .collect();
            self.out.write_all(&swapped)
        };
        if let Err(e) = &result {
            self.error = Some(e.kind());
        }
        result
    }

    /// Ends page `n` (and any before it that were never begun), once.
    fn finish(&mut self, n: u32) {
        while self.ended < n {
            if self.error.is_none()
                && let Err(e) = self.out.write_all(&[PAGE_END])
            {
                self.error = Some(e.kind());
            }
            self.ended += 1;
        }
        self.open = None;
    }
}

/// The text writer handed to `pdf-extract`'s plain text output.
struct TextWriter<'s, 'w>(&'s RefCell<PageOut<'w>>);

impl Write for TextWriter<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().text(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `pdf-extract`'s plain text output (which places spaces and line breaks
/// from the glyphs' positions), with the page ends marked.
struct Pager<'a, 'w> {
    text: pdf_extract::PlainTextOutput<&'a mut dyn Write>,
    sink: &'a RefCell<PageOut<'w>>,
}

impl pdf_extract::OutputDev for Pager<'_, '_> {
    fn begin_page(
        &mut self,
        page_num: u32,
        media_box: &pdf_extract::MediaBox,
        art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), pdf_extract::OutputError> {
        self.sink.borrow_mut().open = Some(page_num);
        self.text.begin_page(page_num, media_box, art_box)
    }

    fn end_page(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.text.end_page()?;
        let mut s = self.sink.borrow_mut();
        let page = s.open.unwrap_or(s.ended + 1);
        s.finish(page);
        match s.error {
            Some(kind) => Err(pdf_extract::OutputError::IoError(kind.into())),
            None => Ok(()),
        }
    }

    fn output_character(
        &mut self,
        trm: &pdf_extract::Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), pdf_extract::OutputError> {
        self.text
            .output_character(trm, width, spacing, font_size, char)
    }

    fn begin_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.text.begin_word()
    }

    fn end_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.text.end_word()
    }

    fn end_line(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.text.end_line()
    }
}

/// Why a page failed, in fixed words.
fn output_error(e: &pdf_extract::OutputError) -> String {
    match e {
        pdf_extract::OutputError::PdfError(e) => describe(e),
        _ => "its text could not be written".to_string(),
    }
}

/// A parser error in fixed words: many of `lopdf`'s errors carry names,
/// keys or text from the file, which must not be reported.
fn describe(e: &pdf_extract::Error) -> String {
    use pdf_extract::Error as E;
    match e {
        E::Decryption(_)
        | E::InvalidPassword
        | E::UnsupportedSecurityHandler(_)
        | E::AlreadyEncrypted => "encrypted".to_string(),
        // These two hold fixed messages of the parser's own.
        E::Parse(p) => format!("a syntax error: {p}"),
        E::Xref(x) => format!("a damaged cross-reference table: {x}"),
        E::IO(_) => "a read error".to_string(),
        E::Decompress(_) => "a stream that cannot be decompressed".to_string(),
        E::ReferenceCycle(_) | E::ReferenceLimit => "objects that refer to themselves".to_string(),
        E::ObjectNotFound(_)
        | E::MissingXrefEntry
        | E::InvalidOffset(_)
        | E::IndirectObject { .. }
        | E::ObjectIdMismatch => "missing or misplaced objects".to_string(),
        E::Unimplemented(_) => "a feature the parser does not support".to_string(),
        E::Syntax(_) | E::InvalidStream(_) | E::InvalidObjectStream(_) => {
            "a malformed stream".to_string()
        }
        _ => "a malformed structure".to_string(),
    }
}

#[cfg(test)]
mod tests;
