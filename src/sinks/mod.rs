//! Log sinks: the central log gets every event, at least once.
//!
//! Events enter through the [`Sink`] trait of `report` and leave as JSON
//! lines (leakhound's schema, or ECS, OCSF or CEF: `format`) in a file or
//! on stdout, RFC 5424 syslog messages (local socket,
//! UDP, TCP with octet counting, TLS), or journald entries. Network and
//! socket sinks deliver through [`delivery::Delivery`]: a write-ahead disk
//! spool, a bounded in-memory queue and a sending thread that reconnects
//! and replays in order. [`Fanout`] sends each event to several sinks.
//!
//! A sink is described by a [`SinkConfig`] (from `leakhound.yaml` or the
//! command line, `TARGET[?key=value&...]`; see [`config`]), checked and
//! typed by [`SinkConfig::resolve`], and built by [`build`] or
//! [`from_config`]. Encoders only ever see events, which hold masked values
//! and fingerprints, never a raw number.

pub mod config;
pub mod delivery;
pub mod journald;
pub mod spool;
pub mod syslog;
pub mod transport;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::report::event::{Envelope, Event};
use crate::report::{EventFormat, Lines, Sink};
pub use config::{
    Identity, Kind, Resolved, SinkConfig, SinkConfigError, Sinks, Spooling, Via, WhenFull,
};

use delivery::{Delivery, Options};
use transport::{Connector, Tcp, Tls, Udp, UnixDgram};

/// The local syslog socket.
pub const DEV_LOG: &str = "/dev/log";
/// journald's native socket.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Where a sink sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// JSON lines on standard output.
    Stdout,
    /// JSON lines appended to a file.
    Jsonl(PathBuf),
    /// journald's native protocol on this socket.
    Journald(PathBuf),
    /// RFC 5424 syslog.
    Syslog(Net),
}

/// How syslog messages travel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Net {
    /// A local datagram socket (`/dev/log`).
    Unix(PathBuf),
    Udp(String),
    Tcp(String),
    Tls(String),
}

/// Why a sink target does not parse; each names the target as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("sink {0}: the address must be HOST:PORT (e.g. 127.0.0.1:6514, [::1]:514)")]
    BadAddress(String),
    #[error("sink {0}: the path is empty")]
    EmptyPath(String),
    #[error(
        "sink `{0}` is not known: use stdout, jsonl:PATH, journald[:SOCKET], syslog[:SOCKET], syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT or syslog+tls://HOST:PORT"
    )]
    Unknown(String),
}

impl Target {
    /// Parses `stdout`, `jsonl:PATH`, `journald[:SOCKET]`,
    /// `syslog[:SOCKET]`, `syslog+udp://HOST:PORT`, `syslog+tcp://...`,
    /// `syslog+tls://...`.
    pub fn parse(s: &str) -> Result<Target, TargetError> {
        let addr = |rest: &str| -> Result<String, TargetError> {
            let ok = rest
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if ok {
                Ok(rest.to_string())
            } else {
                Err(TargetError::BadAddress(s.to_string()))
            }
        };
        let path = |rest: &str| -> Result<PathBuf, TargetError> {
            if rest.is_empty() {
                Err(TargetError::EmptyPath(s.to_string()))
            } else {
                Ok(PathBuf::from(rest))
            }
        };
        if s == "stdout" {
            Ok(Target::Stdout)
        } else if let Some(p) = s.strip_prefix("jsonl:") {
            Ok(Target::Jsonl(path(p)?))
        } else if s == "journald" {
            Ok(Target::Journald(JOURNAL_SOCKET.into()))
        } else if let Some(p) = s.strip_prefix("journald:") {
            Ok(Target::Journald(path(p)?))
        } else if s == "syslog" {
            Ok(Target::Syslog(Net::Unix(DEV_LOG.into())))
        } else if let Some(p) = s.strip_prefix("syslog:") {
            Ok(Target::Syslog(Net::Unix(path(p)?)))
        } else if let Some(a) = s.strip_prefix("syslog+udp://") {
            Ok(Target::Syslog(Net::Udp(addr(a)?)))
        } else if let Some(a) = s.strip_prefix("syslog+tcp://") {
            Ok(Target::Syslog(Net::Tcp(addr(a)?)))
        } else if let Some(a) = s.strip_prefix("syslog+tls://") {
            Ok(Target::Syslog(Net::Tls(addr(a)?)))
        } else {
            Err(TargetError::Unknown(s.to_string()))
        }
    }
}

/// The name of a sink's spool directory: its `name`, else its target with
/// every other character than letters, digits, `.` and `-` as `-`.
pub fn spool_name(c: &SinkConfig) -> String {
    if let Some(n) = &c.name {
        return n.clone();
    }
    c.to.chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '.' {
                ch
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// A sink that cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("sink {sink}: {message}")]
pub struct SinkError {
    pub sink: String,
    pub message: String,
}

/// Builds one sink; `state_dir` holds the spools (`spool/<name>`).
pub fn build(c: &SinkConfig, state_dir: &Path) -> Result<Box<dyn Sink + Send>, SinkError> {
    let err = |message: String| SinkError {
        sink: c.to.clone(),
        message,
    };
    let r = c.resolve().map_err(|e| err(e.to_string()))?;
    let format = r.format;
    let options = |spool: Spooling| Options {
        name: r.to.clone(),
        spool_dir: state_dir.join("spool").join(&r.spool_name),
        max_spool_bytes: spool.max_bytes,
        queue: spool.queue,
        flush_timeout: spool.flush_timeout,
    };
    let deliver = |opts: Options, encode: delivery::Encoder, connect: Connector| {
        Delivery::start(opts, encode, connect)
            .map(|d| Box::new(d) as Box<dyn Sink + Send>)
            .map_err(|e| err(format!("cannot start: {e}")))
    };
    match r.kind {
        Kind::Stdout => Ok(Box::new(Lines::new(io::stdout(), format))),
        Kind::Jsonl { path } => Ok(Box::new(
            JsonlFile::open_as(&path, format)
                .map_err(|e| err(format!("cannot open {} for appending: {e}", path.display())))?,
        )),
        Kind::Journald {
            socket,
            identity,
            spool,
        } => {
            let jf = journald::JournalFormat {
                identifier: identity.app_name,
                facility: identity.facility,
            };
            deliver(
                options(spool),
                Box::new(move |e, v| jf.encode(e, v)),
                transport::JournalDgram::connector(socket),
            )
        }
        Kind::Syslog {
            via,
            identity,
            spool,
        } => {
            let fmt = syslog::SyslogFormat {
                facility: identity.facility,
                app_name: identity.app_name,
                body: format,
            };
            let encode: delivery::Encoder = Box::new(move |e, v| fmt.encode(e, v));
            let connect = match via {
                Via::Unix(path) => UnixDgram::connector(path),
                Via::Udp(a) => Udp::connector(a),
                Via::Tcp(a) => Tcp::connector(a),
                Via::Tls { addr, files } => {
                    let config = transport::tls_config(&files).map_err(|e| err(e.to_string()))?;
                    let name = files.server_name.clone().unwrap_or_else(|| host_of(&addr));
                    Tls::connector(addr, config, name)
                }
            };
            deliver(options(spool), encode, connect)
        }
    }
}

/// The host part of `HOST:PORT` (without the brackets of `[::1]:514`).
fn host_of(addr: &str) -> String {
    let h = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    h.trim_start_matches('[').trim_end_matches(']').to_string()
}

/// Builds every sink of the `sinks` section (for the daemon and `scan`).
pub fn from_config(c: &Sinks, state_dir: &Path) -> Result<Vec<Box<dyn Sink + Send>>, SinkError> {
    c.outputs.iter().map(|o| build(o, state_dir)).collect()
}

/// Sends every event to several sinks. A sink that fails is left out from
/// then on, so the others still get everything; `finish` reports every
/// failure.
pub struct Fanout<S: ?Sized + Sink = dyn Sink> {
    sinks: Vec<(String, Box<S>, Option<io::Error>)>,
}

impl<S: ?Sized + Sink> Fanout<S> {
    /// Named sinks (the names appear in errors).
    pub fn new(sinks: Vec<(String, Box<S>)>) -> Self {
        Fanout {
            sinks: sinks.into_iter().map(|(n, s)| (n, s, None)).collect(),
        }
    }
}

impl<S: ?Sized + Sink> Sink for Fanout<S> {
    fn event(&mut self, env: &Envelope, ev: &Event) -> io::Result<()> {
        for (_, sink, failed) in &mut self.sinks {
            if failed.is_none()
                && let Err(e) = sink.event(env, ev)
            {
                *failed = Some(e);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let mut errors = Vec::new();
        for (name, sink, failed) in &mut self.sinks {
            let r = match failed.take() {
                Some(e) => {
                    let _ = sink.finish();
                    Err(e)
                }
                None => sink.finish(),
            };
            if let Err(e) = r {
                errors.push(format!("{name}: {e}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(io::Error::other(errors.join("; ")))
        }
    }
}

/// Bumped by SIGHUP (or [`request_reopen`]): JSON lines files reopen their
/// path before the next write, so logrotate can move them away.
static REOPEN: AtomicU64 = AtomicU64::new(0);

/// Asks every [`JsonlFile`] to reopen its file before its next write (the
/// daemon calls this from its own SIGHUP handling).
pub fn request_reopen() {
    REOPEN.fetch_add(1, Ordering::SeqCst);
}

/// Makes SIGHUP call [`request_reopen`]; done once, when the first JSON
/// lines file is opened. Other SIGHUP handlers (the daemon's reload) still
/// run: signal-hook chains them.
fn install_sighup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: the handler only does an atomic add, which is
        // async-signal-safe.
        let r = unsafe {
            signal_hook::low_level::register(signal_hook::consts::SIGHUP, || {
                REOPEN.fetch_add(1, Ordering::SeqCst);
            })
        };
        if let Err(e) = r {
            tracing::warn!("cannot handle SIGHUP (JSON lines files will not be reopened): {e}");
        }
    });
}

/// JSON lines appended to a file: one event per line, written and flushed
/// per event (an event is delivered when its line is written), reopened
/// after SIGHUP. The lines are leakhound's events, or ECS, OCSF or CEF
/// ([`EventFormat`]).
pub struct JsonlFile {
    path: PathBuf,
    file: File,
    generation: u64,
    format: EventFormat,
}

impl JsonlFile {
    /// Opens (creating, mode 0640) `path` for appending.
    pub fn open(path: &Path) -> io::Result<JsonlFile> {
        JsonlFile::open_as(path, EventFormat::Json)
    }

    /// Opens `path` for appending lines in `format`.
    pub fn open_as(path: &Path, format: EventFormat) -> io::Result<JsonlFile> {
        install_sighup();
        Ok(JsonlFile {
            path: path.to_path_buf(),
            file: open_append(path)?,
            generation: REOPEN.load(Ordering::SeqCst),
            format,
        })
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

impl Sink for JsonlFile {
    fn event(&mut self, env: &Envelope, ev: &Event) -> io::Result<()> {
        let g = REOPEN.load(Ordering::SeqCst);
        if g != self.generation {
            self.file = open_append(&self.path).map_err(|e| {
                io::Error::other(format!("cannot reopen {}: {e}", self.path.display()))
            })?;
            self.generation = g;
        }
        let mut line = self.format.encode(env, ev).into_bytes();
        line.push(b'\n');
        // One write per line: with O_APPEND, lines from several writers do
        // not interleave.
        self.file.write_all(&line)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(Target::parse("stdout"), Ok(Target::Stdout));
        assert_eq!(
            Target::parse("syslog"),
            Ok(Target::Syslog(Net::Unix("/dev/log".into())))
        );
        assert_eq!(
            Target::parse("syslog+tcp://[::1]:514"),
            Ok(Target::Syslog(Net::Tcp("[::1]:514".into())))
        );
        assert!(Target::parse("syslog+tcp://host:0").is_err());
        assert_eq!(
            Target::parse("journald"),
            Ok(Target::Journald(JOURNAL_SOCKET.into()))
        );
        assert_eq!(host_of("[::1]:514"), "::1");
        assert_eq!(host_of("logs.example:6514"), "logs.example");
    }

    #[test]
    fn spool_names() {
        let c = SinkConfig::from_spec("syslog+tcp://127.0.0.1:6514").unwrap();
        assert_eq!(spool_name(&c), "syslog-tcp-127.0.0.1-6514");
    }
}
