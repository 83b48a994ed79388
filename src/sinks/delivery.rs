//! At-least-once delivery to a collector: the spool, the queue, and the
//! thread that sends.
//!
//! [`Delivery::event`] encodes the event, appends it to the disk spool
//! (write-ahead: once it returns, a crash of leakhound loses nothing), and
//! hands it to the sending thread through a bounded in-memory queue, so in
//! the steady state the thread never reads the disk. When the collector is
//! slow or down the queue fills and the thread falls back to reading the
//! spool, in order; the producer never waits for the network.
//!
//! The sending thread connects (with backoff, 100 ms doubling to 30 s),
//! sends batches and flushes them. Syslog has no acknowledgement, so sent
//! records are confirmed by closing the connection: at least once a second
//! (and at the end of a run) the thread shuts its side and waits for the
//! collector to close the other, which it only does after reading
//! everything; then the records count as delivered and the spool's
//! committed offset moves. When a connection fails (a send error, a check
//! between batches finds it closed or reset, the collector does not answer
//! the close), the thread rewinds to the first record not confirmed and
//! sends it all again on a new connection. This is at-least-once: after a
//! failure some events can arrive twice, and collectors drop duplicates by
//! the event `id`.
//!
//! The spool has a size cap. When it is reached, new events are dropped,
//! and the collector is told so: a `service` event with state `error`
//! marks where dropping started and another says how many were dropped
//! when space came back; [`Delivery::finish`] fails with the count.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::report::Sink;
use crate::report::event::{Envelope, Event, ServiceEvent, ServiceState};

use super::spool::{Spool, SpoolReader};
use super::transport::{Connector, Transport};

/// Turns an event into the bytes one message carries.
pub type Encoder = Box<dyn Fn(&Envelope, &Event) -> Vec<u8> + Send>;

/// Records sent per flush.
const BATCH: u64 = 512;
/// How often an idle thread checks the connection and commits.
const TICK: Duration = Duration::from_millis(100);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long sent records may wait before a close confirms them.
const CONFIRM_EVERY: Duration = Duration::from_secs(1);
/// How many sent records may wait before a close confirms them.
const CONFIRM_MAX: u64 = 50_000;
/// How long the collector has to answer our close.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of one delivering sink.
#[derive(Debug, Clone)]
pub struct Options {
    /// Names the sink in messages.
    pub name: String,
    /// The spool directory (one per sink).
    pub spool_dir: PathBuf,
    /// The spool's size cap in bytes.
    pub max_spool_bytes: u64,
    /// Events held in memory for the sending thread.
    pub queue: usize,
    /// How long [`Delivery::finish`] keeps trying before it leaves the rest
    /// in the spool for the next run.
    pub flush_timeout: Duration,
}

/// Counters, for tests and for the end-of-run message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records in the spool so far (its whole life).
    pub written: u64,
    /// Records counted as delivered.
    pub delivered: u64,
    /// Events dropped because the spool was full.
    pub dropped: u64,
    /// Records the transport could never take (too large for a datagram).
    pub undeliverable: u64,
    /// The last connection or send error, if the collector is not reachable.
    pub last_error: Option<String>,
}

struct State {
    spool: Spool,
    queue: VecDeque<(u64, Arc<[u8]>)>,
    queue_cap: usize,
    /// Set by `finish`: the time to give up.
    stop: Option<Instant>,
    full: bool,
    dropped_while_full: u64,
    stats: Stats,
}

struct Shared {
    state: Mutex<State>,
    cond: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in the other thread must not take the events with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A sink that delivers through a spool and a sending thread.
pub struct Delivery {
    opts: Options,
    shared: Arc<Shared>,
    encode: Encoder,
    thread: Option<JoinHandle<()>>,
}

impl Delivery {
    /// Opens the spool (resuming what an earlier run left) and starts the
    /// sending thread.
    pub fn start(opts: Options, encode: Encoder, connect: Connector) -> io::Result<Delivery> {
        let (spool, committed) = Spool::open(&opts.spool_dir)?;
        let pending = spool.written() - committed;
        if pending > 0 {
            tracing::info!(
                "sink {}: resuming {pending} events from the spool {}",
                opts.name,
                opts.spool_dir.display()
            );
        }
        let stats = Stats {
            written: spool.written(),
            delivered: committed,
            ..Stats::default()
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                spool,
                queue: VecDeque::new(),
                queue_cap: opts.queue.max(1),
                stop: None,
                full: false,
                dropped_while_full: 0,
                stats,
            }),
            cond: Condvar::new(),
        });
        let s2 = shared.clone();
        let name = opts.name.clone();
        let thread = std::thread::Builder::new()
            .name(format!("leakhound-sink-{}", short(&name)))
            .spawn(move || Sender::new(s2, connect, name, committed).run())?;
        Ok(Delivery {
            opts,
            shared,
            encode,
            thread: Some(thread),
        })
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    /// The spool directory.
    pub fn spool_dir(&self) -> &Path {
        &self.opts.spool_dir
    }

    fn append(&self, st: &mut State, rec: Vec<u8>) -> io::Result<()> {
        let n = st.spool.append(&rec)?;
        st.stats.written = st.spool.written();
        if st.queue.len() < st.queue_cap {
            st.queue.push_back((n, rec.into()));
        }
        Ok(())
    }

    fn service_note(&self, env: &Envelope, suffix: &str, message: String) -> Vec<u8> {
        let mut env = env.clone();
        env.id = format!("{}-{suffix}", env.id);
        let ev = Event::Service(ServiceEvent {
            state: ServiceState::Error,
            message,
        });
        (self.encode)(&env, &ev)
    }

    fn stop_thread(&mut self, deadline: Instant) {
        self.shared.lock().stop = Some(deadline);
        self.shared.cond.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Sink for Delivery {
    fn event(&mut self, env: &Envelope, ev: &Event) -> io::Result<()> {
        let rec = (self.encode)(env, ev);
        let mut st = self.shared.lock();
        let fits = st.spool.bytes() + rec.len() as u64 + 4 <= self.opts.max_spool_bytes;
        if !fits {
            if !st.full {
                st.full = true;
                tracing::error!(
                    "sink {}: the spool {} is full ({} bytes): events are dropped until the collector catches up",
                    self.opts.name,
                    self.opts.spool_dir.display(),
                    self.opts.max_spool_bytes
                );
                // The marker goes in past the cap: the collector must learn
                // where the gap starts.
                let note = self.service_note(
                    env,
                    "spool-full",
                    format!(
                        "sink {}: spool full ({} bytes), events are being dropped",
                        self.opts.name, self.opts.max_spool_bytes
                    ),
                );
                self.append(&mut st, note)?;
            }
            st.dropped_while_full += 1;
            st.stats.dropped += 1;
            drop(st);
            self.shared.cond.notify_one();
            return Ok(());
        }
        if st.full {
            st.full = false;
            let n = std::mem::take(&mut st.dropped_while_full);
            let note = self.service_note(
                env,
                "spool-dropped",
                format!(
                    "sink {}: {n} events were dropped while the spool was full",
                    self.opts.name
                ),
            );
            self.append(&mut st, note)?;
        }
        self.append(&mut st, rec)?;
        drop(st);
        self.shared.cond.notify_one();
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.stop_thread(Instant::now() + self.opts.flush_timeout);
        let stats = self.stats();
        let pending = stats.written - stats.delivered;
        if pending > 0 {
            tracing::warn!(
                "sink {}: {pending} events not delivered yet ({}); they are kept in the spool {} and will be sent by the next run with this sink",
                self.opts.name,
                stats.last_error.as_deref().unwrap_or("collector slow"),
                self.opts.spool_dir.display()
            );
        }
        if stats.dropped > 0 {
            return Err(io::Error::other(format!(
                "sink {}: {} events were dropped because the spool {} was full (raise spool_max_mb, or bring the collector back)",
                self.opts.name,
                stats.dropped,
                self.opts.spool_dir.display()
            )));
        }
        Ok(())
    }

    fn backlog(&self) -> Option<u64> {
        let st = self.shared.lock();
        Some(st.stats.written.saturating_sub(st.stats.delivered))
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        // Not finished (an error path): stop now, the spool keeps the rest.
        self.stop_thread(Instant::now());
    }
}

/// The first characters of a sink name, for the thread name.
fn short(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect()
}

/// The sending thread.
struct Sender {
    shared: Arc<Shared>,
    connect: Connector,
    name: String,
    conn: Option<Box<dyn Transport>>,
    reader: SpoolReader,
    /// The next record to send.
    next: u64,
    /// Records before this one are delivered.
    acked: u64,
    committed: u64,
    backoff: Duration,
    retry_at: Option<Instant>,
    last_sync: Instant,
    /// An outage is being reported (so it is logged once, not per retry).
    down: bool,
    /// When the first record not yet confirmed was sent.
    unconfirmed_since: Instant,
}

impl Sender {
    fn new(shared: Arc<Shared>, connect: Connector, name: String, start: u64) -> Sender {
        Sender {
            shared,
            connect,
            name,
            conn: None,
            reader: SpoolReader::default(),
            next: start,
            acked: start,
            committed: start,
            backoff: MIN_BACKOFF,
            retry_at: None,
            last_sync: Instant::now(),
            down: false,
            unconfirmed_since: Instant::now(),
        }
    }

    fn run(mut self) {
        loop {
            let (written, stop) = self.wait();
            let now = Instant::now();
            if let Some(deadline) = stop {
                if self.next == written && self.acked == self.next {
                    if let Some(mut c) = self.conn.take() {
                        c.close(Duration::from_secs(2));
                    }
                    break;
                }
                if self.next == written && self.conn.is_some() {
                    // Everything is sent: a clean close confirms it.
                    let wait = deadline.saturating_duration_since(now).max(TICK);
                    if let Some(mut c) = self.conn.take()
                        && c.close(wait)
                    {
                        self.acked = self.next;
                        continue;
                    }
                    self.next = self.acked;
                }
                if now >= deadline {
                    break;
                }
            }
            if self.conn.is_none() {
                if self.retry_at.is_some_and(|t| now < t) {
                    continue;
                }
                match (self.connect)() {
                    Ok(c) => {
                        if self.down {
                            tracing::info!("sink {}: connected again", self.name);
                        }
                        self.conn = Some(c);
                        self.down = false;
                        self.backoff = MIN_BACKOFF;
                        self.retry_at = None;
                        self.shared.lock().stats.last_error = None;
                    }
                    Err(e) => {
                        self.failed(format!("cannot connect: {e}"));
                        continue;
                    }
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            if !conn.alive() {
                // What went out since the last confirmation may be lost:
                // send it again on a new connection.
                self.conn = None;
                self.next = self.acked;
                self.retry_at = None;
                continue;
            }
            let due = self.unconfirmed_since.elapsed() >= CONFIRM_EVERY
                || self.next - self.acked >= CONFIRM_MAX;
            if self.acked < self.next && due {
                // Syslog has no acknowledgement; a close does: once the
                // collector closes its side after our FIN, it has read
                // everything we sent.
                if let Some(mut c) = self.conn.take() {
                    if c.close(CONFIRM_TIMEOUT) {
                        self.acked = self.next;
                    } else {
                        self.next = self.acked;
                        self.failed("the collector did not confirm what was sent".into());
                    }
                }
                continue;
            }
            if self.next < written {
                let end = written.min(self.next + BATCH);
                if self.acked == self.next {
                    self.unconfirmed_since = Instant::now();
                }
                match self.send_batch(end) {
                    Ok(()) => self.next = end,
                    Err(e) => {
                        self.conn = None;
                        self.next = self.acked;
                        self.failed(format!("send failed: {e}"));
                    }
                }
            }
        }
        let shared = self.shared.clone();
        let mut st = shared.lock();
        self.commit(&mut st, true);
    }

    /// Waits until there is something to do; returns the records written
    /// and the stop deadline. Commits and syncs on the way.
    fn wait(&mut self) -> (u64, Option<Instant>) {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        let idle = st.spool.written() == self.next;
        let waiting_retry = self.conn.is_none() && self.retry_at.is_some();
        if waiting_retry || (st.stop.is_none() && idle) {
            let now = Instant::now();
            let mut timeout = TICK;
            if let Some(t) = self.retry_at {
                timeout = timeout.min(t.saturating_duration_since(now));
            }
            if let Some(d) = st.stop {
                timeout = timeout.min(d.saturating_duration_since(now));
            }
            st = shared
                .cond
                .wait_timeout(st, timeout)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        self.commit(&mut st, false);
        (st.spool.written(), st.stop)
    }

    /// Writes the committed offset when it moved (at most every TICK unless
    /// `now`), and syncs the spool about once a second.
    fn commit(&mut self, st: &mut State, now: bool) {
        st.stats.delivered = self.acked;
        let due = now || self.last_sync.elapsed() >= TICK;
        if self.acked != self.committed && due {
            match st.spool.commit(self.acked) {
                Ok(()) => self.committed = self.acked,
                Err(e) => tracing::warn!("sink {}: cannot record progress: {e}", self.name),
            }
        }
        if now || self.last_sync.elapsed() >= Duration::from_secs(1) {
            let _ = st.spool.sync();
            self.last_sync = Instant::now();
        }
        // Records before `acked` are no longer needed in memory.
        while st.queue.front().is_some_and(|(n, _)| *n < self.acked) {
            st.queue.pop_front();
        }
    }

    fn failed(&mut self, msg: String) {
        if !self.down {
            tracing::warn!("sink {}: {msg}; events are spooled and retried", self.name);
            self.down = true;
        }
        self.shared.lock().stats.last_error = Some(msg);
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// Sends records `next..end` and flushes them.
    fn send_batch(&mut self, end: u64) -> io::Result<()> {
        // From memory as far as the queue holds them in order.
        let mut recs: Vec<Arc<[u8]>> = Vec::new();
        {
            let st = self.shared.lock();
            let mut want = self.next;
            for (n, r) in st.queue.iter() {
                if *n < want {
                    continue;
                }
                if *n != want || want >= end {
                    break;
                }
                recs.push(r.clone());
                want += 1;
            }
        }
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| io::Error::other("not connected"))?;
        let mut n = self.next;
        for r in &recs {
            send_one(conn, r, n, &self.shared, &self.name)?;
            n += 1;
        }
        // The rest from the disk.
        while n < end {
            let shared = &self.shared;
            let rec = self.reader.read(n, |k| shared.lock().spool.locate(k))?;
            send_one(conn, &rec, n, &self.shared, &self.name)?;
            n += 1;
        }
        conn.flush()
    }
}

fn send_one(
    conn: &mut Box<dyn Transport>,
    rec: &[u8],
    n: u64,
    shared: &Shared,
    name: &str,
) -> io::Result<()> {
    match conn.send(rec) {
        // A datagram too large for the socket will never go: count it and
        // go on, so one record cannot block the rest.
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::MSGSIZE.raw_os_error()) => {
            tracing::error!("sink {name}: record {n} is too large for the transport; skipped");
            shared.lock().stats.undeliverable += 1;
            Ok(())
        }
        r => r,
    }
}
