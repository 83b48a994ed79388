//! Files whose action failed (a quarantine store on a full disk, a file in
//! use ...) and when to try again.
//!
//! The scanning thread that saw the failure schedules the file here; the
//! main loop hands it back to the scanners when its time comes. The delay
//! starts at `watch.action_retry` and doubles at each failure up to
//! `watch.action_retry_max`. The map is bounded (`watch.max_pending`): past
//! it, a file is left to its state database row, whose verdict
//! (`action_due`) makes the next rescan or start try again. The row is what
//! survives a restart; the attempt count and delay here do not (after a
//! restart the start-up walk tries at once, then backs off afresh).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::watch::RootKind;

/// One file waiting for another try.
#[derive(Debug, Clone)]
struct Entry {
    kind: RootKind,
    /// Failures so far.
    failures: u32,
    /// When to try again; `None` while a try is in a scanner's hands.
    due: Option<Instant>,
}

/// The files whose action is due again.
#[derive(Debug)]
pub struct Retries {
    map: HashMap<PathBuf, Entry>,
    cap: usize,
}

impl Retries {
    /// At most `cap` files.
    pub fn new(cap: usize) -> Retries {
        Retries {
            map: HashMap::new(),
            cap,
        }
    }

    /// Another failure for `path`: returns the delay before the next try,
    /// or `None` when the map is full (the row's verdict keeps the file
    /// due for the next rescan).
    pub fn failed(
        &mut self,
        path: &Path,
        kind: RootKind,
        first: Duration,
        max: Duration,
        now: Instant,
    ) -> Option<Duration> {
        if !self.map.contains_key(path) && self.map.len() >= self.cap {
            return None;
        }
        let e = self.map.entry(path.to_path_buf()).or_insert(Entry {
            kind,
            failures: 0,
            due: None,
        });
        let delay = backoff(first, max, e.failures);
        e.failures = e.failures.saturating_add(1);
        e.kind = kind;
        e.due = Some(now + delay);
        Some(delay)
    }

    /// The action was done, or is no longer needed (the file is clean, gone,
    /// or its action is a final refusal).
    pub fn done(&mut self, path: &Path) {
        self.map.remove(path);
    }

    /// The files whose time has come, marked as in hand (a file whose try
    /// cannot be queued is given back with [`Retries::again`]).
    pub fn take_due(&mut self, now: Instant) -> Vec<(PathBuf, RootKind)> {
        let mut out = Vec::new();
        for (path, e) in &mut self.map {
            if e.due.is_some_and(|d| d <= now) {
                e.due = None;
                out.push((path.clone(), e.kind));
            }
        }
        out
    }

    /// A try that could not be queued: due again at `when`.
    pub fn again(&mut self, path: &Path, when: Instant) {
        if let Some(e) = self.map.get_mut(path) {
            e.due = Some(when);
        }
    }

    /// Files waiting for another try (or in a scanner's hands for one).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// `first`, doubled `failures` times, at most `max`.
pub fn backoff(first: Duration, max: Duration, failures: u32) -> Duration {
    let factor = 1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX);
    first.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_up_to_its_bound() {
        let (first, max) = (Duration::from_secs(30), Duration::from_secs(3600));
        let delays: Vec<u64> = (0..10).map(|n| backoff(first, max, n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(backoff(first, max, u32::MAX), max);
    }

    #[test]
    fn due_files_are_handed_out_once_and_forgotten_when_done() {
        let mut r = Retries::new(2);
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let m = Duration::from_secs(8);
        assert_eq!(
            r.failed(Path::new("/a"), RootKind::Files, s, m, t0),
            Some(s)
        );
        assert_eq!(r.failed(Path::new("/b"), RootKind::Mbox, s, m, t0), Some(s));
        // Full: a third file is left to its row.
        assert_eq!(r.failed(Path::new("/c"), RootKind::Files, s, m, t0), None);
        assert!(r.take_due(t0).is_empty());
        let due = r.take_due(t0 + s);
        assert_eq!(due.len(), 2);
        assert!(r.take_due(t0 + 2 * s).is_empty(), "in hand: not twice");
        // A second failure of /a waits twice as long.
        assert_eq!(
            r.failed(Path::new("/a"), RootKind::Files, s, m, t0),
            Some(2 * s)
        );
        r.done(Path::new("/b"));
        assert_eq!(r.len(), 1);
        r.again(Path::new("/a"), t0);
        assert_eq!(r.take_due(t0).len(), 1);
    }
}
