//! Talking to systemd: `READY=1`, `STATUS=...`, `WATCHDOG=1`, `RELOADING=1`,
//! `STOPPING=1` as datagrams to `$NOTIFY_SOCKET`.
//!
//! A few lines instead of a crate: the protocol is one datagram per message
//! to a unix socket whose path is in the environment; a leading `@` names
//! a socket in the abstract namespace. Without `NOTIFY_SOCKET` (not run by
//! systemd) every call does nothing.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connection to systemd's notification socket, if there is one.
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`; a missing or unusable socket gives a notifier
    /// that does nothing (and says so in the log once).
    pub fn from_env() -> Notifier {
        let Some(raw) = std::env::var_os("NOTIFY_SOCKET") else {
            return Notifier { target: None };
        };
        let raw = raw.to_string_lossy().into_owned();
        let addr = if let Some(name) = raw.strip_prefix('@') {
            SocketAddr::from_abstract_name(name.as_bytes())
        } else {
            SocketAddr::from_pathname(&raw)
        };
        // Non-blocking: a reader that does not keep up (a full socket
        // buffer) must cost us a STATUS= line, never stall the main loop.
        let sock = UnixDatagram::unbound().and_then(|s| s.set_nonblocking(true).map(|()| s));
        match (addr, sock) {
            (Ok(addr), Ok(sock)) => Notifier {
                target: Some((sock, addr)),
            },
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("NOTIFY_SOCKET={raw} cannot be used: {e}");
                Notifier { target: None }
            }
        }
    }

    /// Sends one message (lines of `KEY=value`). Failures are logged, never
    /// fatal: a daemon must not stop because systemd went away.
    pub fn send(&self, message: &str) {
        if let Some((sock, addr)) = &self.target
            && let Err(e) = sock.send_to_addr(message.as_bytes(), addr)
        {
            tracing::debug!("cannot notify systemd: {e}");
        }
    }

    /// True when there is a socket to talk to.
    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }
}

/// The watchdog interval systemd asks for (`WATCHDOG_USEC`, only when
/// `WATCHDOG_PID` is unset or ours).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}
