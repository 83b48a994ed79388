//! The Prometheus endpoint: `GET /metrics` on `watch.metrics_listen`
//! (loopback only, checked with the configuration) answers with the status
//! counters in the Prometheus text exposition format (version 0.0.4).
//!
//! A tiny HTTP/1.0-style server on std::net: the accepting thread hands
//! each connection to a thread of its own (at most [`MAX_CLIENTS`] at
//! once; past that a connection is closed at once), which reads the
//! request with a size cap, answers once and closes. Each connection has
//! [`IO_TIMEOUT`] in all, an absolute deadline whatever the client sends:
//! a client that drips a byte a second is cut at the deadline, and never
//! holds up another. Nothing else is served; there is nothing
//! to authenticate because nothing but counters is ever said, and only to
//! this host.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::scanner::Shared;

/// How long a client has, in all, to send its request and read the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections served at once.
const MAX_CLIENTS: usize = 16;
/// The longest request head read.
const MAX_REQUEST: usize = 8 * 1024;

/// Why the metrics endpoint cannot start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(
        "watch.metrics_listen {addr}: cannot listen: {error} (another process has the port? choose another, or leave metrics_listen out)"
    )]
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("cannot start the metrics thread: {0}")]
    Thread(std::io::Error),
}

/// Binds `addr` and serves `/metrics` from a thread. The error names the
/// address and what to do.
pub fn start(
    addr: SocketAddr,
    shared: Arc<Shared>,
    started_ms: u64,
) -> Result<SocketAddr, MetricsError> {
    let listener = TcpListener::bind(addr).map_err(|error| MetricsError::Listen { addr, error })?;
    let bound = listener.local_addr().unwrap_or(addr);
    let clients = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("leakhound-metrics".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(stream) => {
                        if clients.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
                            clients.fetch_sub(1, Ordering::SeqCst);
                            tracing::debug!("metrics: {MAX_CLIENTS} clients already: closing");
                            continue;
                        }
                        let deadline = Instant::now() + IO_TIMEOUT;
                        let (shared, clients) = (shared.clone(), clients.clone());
                        let spawned = std::thread::Builder::new()
                            .name("leakhound-metrics-conn".into())
                            .spawn(move || {
                                if let Err(e) = serve(stream, &shared, started_ms, deadline) {
                                    tracing::debug!("metrics: {e}");
                                }
                                clients.fetch_sub(1, Ordering::SeqCst);
                            });
                        if let Err(e) = spawned {
                            tracing::warn!("metrics: cannot start a connection thread: {e}");
                        }
                    }
                    Err(e) => {
                        tracing::warn!("metrics: cannot accept a connection: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })
        .map_err(MetricsError::Thread)?;
    Ok(bound)
}

/// The time left before `deadline`, as a socket timeout; an error once it
/// has passed.
fn left(deadline: Instant) -> std::io::Result<Option<Duration>> {
    let now = Instant::now();
    if now >= deadline {
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client took too long",
        ));
    }
    Ok(Some(deadline - now))
}

/// A stream whose every read and write ends by `deadline`.
struct Deadlined {
    stream: TcpStream,
    deadline: Instant,
}

impl Read for Deadlined {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stream.set_read_timeout(left(self.deadline)?)?;
        self.stream.read(buf)
    }
}

impl Write for Deadlined {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.stream.set_write_timeout(left(self.deadline)?)?;
        self.stream.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

/// Answers one request, all of it by `deadline`.
fn serve(
    stream: TcpStream,
    shared: &Shared,
    started_ms: u64,
    deadline: Instant,
) -> std::io::Result<()> {
    let mut stream = Deadlined { stream, deadline };
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_REQUEST {
            return respond(&mut stream, "431 Request Header Fields Too Large", "");
        }
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let body = render(shared, started_ms);
            let body = if method == "HEAD" { "" } else { &body };
            respond(&mut stream, "200 OK", body)
        }
        ("GET" | "HEAD", _) => respond(&mut stream, "404 Not Found", "only /metrics is served\n"),
        _ => respond(&mut stream, "405 Method Not Allowed", "GET /metrics\n"),
    }
}

fn respond(stream: &mut impl Write, status: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

/// The counters in the Prometheus text format.
pub fn render(shared: &Shared, started_ms: u64) -> String {
    let s = &shared.stats;
    let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut out = String::with_capacity(2048);
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    };
    let counters: [(&str, &str, &AtomicU64); 12] = [
        (
            "leakhound_files_scanned_total",
            "Files read (whole, or the appended part of an mbox).",
            &s.files_scanned,
        ),
        (
            "leakhound_files_unchanged_total",
            "Files looked at and found unchanged since their last scan.",
            &s.files_unchanged,
        ),
        (
            "leakhound_files_incomplete_total",
            "Files that could not be fully scanned.",
            &s.files_incomplete,
        ),
        (
            "leakhound_bytes_scanned_total",
            "Bytes read by the scanners.",
            &s.bytes_scanned,
        ),
        (
            "leakhound_findings_total",
            "Findings reported.",
            &s.findings,
        ),
        (
            "leakhound_events_total",
            "Events written to the sinks.",
            &s.events,
        ),
        (
            "leakhound_rescans_total",
            "Full walks of a root (start-up, inotify overflow, new rules).",
            &s.rescans,
        ),
        (
            "leakhound_reloads_total",
            "Successful configuration reloads.",
            &s.reloads,
        ),
        (
            "leakhound_reload_failures_total",
            "Reloads refused (the previous configuration stayed).",
            &s.reload_failures,
        ),
        (
            "leakhound_files_verified_total",
            "Files read to compare their keyed content MAC (ctime moved, or rescan: verify).",
            &s.files_verified,
        ),
        (
            "leakhound_actions_failed_total",
            "Actions (quarantine, redact) that failed; each try counts.",
            &s.actions_failed,
        ),
        (
            "leakhound_errors_total",
            "Errors reported (see leakhound status for the last one).",
            &s.errors,
        ),
    ];
    for (name, help, v) in counters {
        metric(name, "counter", help, ld(v));
    }
    metric(
        "leakhound_queue_depth",
        "gauge",
        "Files handed to the scanning threads and not finished.",
        ld(&s.queued),
    );
    metric(
        "leakhound_pending_files",
        "gauge",
        "Files noticed and waiting for their size and mtime to settle.",
        ld(&s.pending),
    );
    metric(
        "leakhound_actions_due",
        "gauge",
        "Files whose action failed and waits for another try.",
        shared.retries().len() as u64,
    );
    metric(
        "leakhound_walks",
        "gauge",
        "Walks (rescans, new directories) waiting or running.",
        ld(&s.walks),
    );
    metric(
        "leakhound_startup_scan_done",
        "gauge",
        "1 once the start-up walk of every root has been scanned.",
        u64::from(s.startup_done.load(Ordering::Relaxed)),
    );
    let spool = shared
        .output
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .spool_depth();
    if let Some(depth) = spool {
        metric(
            "leakhound_spool_depth",
            "gauge",
            "Events in the spools of the delivering sinks, not yet delivered.",
            depth,
        );
    }
    let _ = writeln!(
        out,
        "# HELP leakhound_start_time_seconds Start of the daemon, seconds since the epoch.\n# TYPE leakhound_start_time_seconds gauge\nleakhound_start_time_seconds {}.{:03}",
        started_ms / 1000,
        started_ms % 1000
    );
    let rules = shared.current.get();
    let _ = writeln!(
        out,
        "# HELP leakhound_rules_info The rules in force.\n# TYPE leakhound_rules_info gauge\nleakhound_rules_info{{version=\"{}\"}} 1",
        rules.rules_version().replace(['\\', '"', '\n'], "_")
    );
    out
}
