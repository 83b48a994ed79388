//! `leakhound scan --cache FILE`: what a one-off scan remembers between
//! runs, in the daemon's state database format ([`super`]).
//!
//! A file enters as its `fstat` (and, when it must be read, its bytes); a
//! verdict leaves: "unchanged since the last run: here are its events",
//! "the same content as another file: here are its events", or "scan it",
//! after which its events are kept. Two tables of the same SQLite file:
//!
//! - `files` (the daemon's table): per (device, inode) the size, mtime,
//!   ctime, the keyed MAC of the content and the version it was scanned
//!   with. A file whose row matches its `fstat` is not read at all. Its
//!   `path` is the keyed MAC of the path, not the path: a number in a file
//!   name must not be kept raw.
//! - `contents`: per keyed content MAC, the events its scan gave (masked
//!   values and fingerprints only, as every report has them: never a raw
//!   value, and the key is the HMAC of [`StateKey`], not a plain hash, so
//!   a small file holding one number cannot be brute-forced from it). A
//!   file read for the first time whose MAC is there (a copy, a backup) is
//!   not scanned again.
//!
//! The version a row is valid for is the rules version plus every setting
//! that changes what a scan reports (minimum confidence, container
//! limits); a row of another version is ignored and rewritten. Its rows
//! carry that whole string, so a daemon on the same database, whose
//! version is the rules version alone, never takes a scan's row as its own
//! (its actions must run), and a scan never takes a daemon's. Only files
//! read whole are kept (a partial or failed scan is done again next time).
//! Rows are written in batches, in one transaction each; a crash loses at
//! most the last batch, which only means those files are scanned again.
//!
//! Reads: on open, this version's `files` rows and `contents` rows are
//! loaded in one query each (one read transaction each, so a writer in
//! another process is never held up for more than those two queries) into
//! maps keyed by (device, inode) and by MAC. A lookup per file is then a
//! hash lookup, not an SQLite query in a read transaction of its own (two
//! per file, with an `fcntl` lock and a WAL `stat` each, made a re-scan
//! slower than a full scan). Memory stays bounded: past [`PRELOAD_MAX_ROWS`]
//! rows or [`PRELOAD_MAX_BYTES`] of kept events the load stops, and what
//! the maps lack is asked of the database, as before. Rows written by
//! this run, or by another process after the load, are found through the
//! database too (a miss in a partial load, or any `contents` miss: those
//! are files that are read anyway).
//!
//! Most kept contents are one record, "scanned whole, no finding": those
//! are loaded as their two fields ([`Kept::Clean`]: read from the stored
//! JSON by [`clean_record`] without serde, no allocation per row), and an
//! unchanged file of that kind is replayed as one `file` event built
//! directly ([`ScanCache::replay`]). Anything else is kept as stored and
//! parsed on a hit, as before.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{ContentMac, Record, StateDb, StateError, StateKey, Verdict};
use crate::fingerprint::Fingerprinter;
use crate::report::event::{Event, FileEvent, FileStatus, FindingEvent, Location};
use crate::rules::{Confidence, Severity};

/// Rows written per transaction.
const WRITE_BATCH: usize = 512;

/// Rows of each table loaded into memory on open, at most (a `files` row
/// takes about 100 bytes in the map).
pub const PRELOAD_MAX_ROWS: usize = 2_000_000;

/// Bytes of kept events (JSON) loaded into memory on open, at most.
pub const PRELOAD_MAX_BYTES: usize = 256 << 20;

/// A file with more events than this is scanned every time rather than
/// kept (its events are held in memory until its scan ends).
pub const MAX_CACHED_EVENTS: usize = 10_000;

/// What the `contents` table holds, created on open (the daemon ignores it).
const CONTENTS: &str = "CREATE TABLE IF NOT EXISTS contents (
    mac BLOB NOT NULL,
    version TEXT NOT NULL,
    events TEXT NOT NULL,
    below_confidence INTEGER NOT NULL,
    PRIMARY KEY (mac, version)
);
CREATE TABLE IF NOT EXISTS cache_meta (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);";

/// The events of one file's content, without its path: what is replayed
/// for a file that did not change, or for another copy of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cached {
    pub events: Vec<CachedEvent>,
    /// Findings below the confidence threshold (counted in the summary).
    pub below_confidence: u64,
}

/// One event of a file, as kept: a finding (masked, fingerprinted) or a
/// file record (the file's own, or a member's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum CachedEvent {
    #[serde(rename = "f")]
    Finding {
        rule: String,
        kind: String,
        severity: String,
        confidence: String,
        member: Option<String>,
        offset: u64,
        length: u64,
        line: Option<u64>,
        column: Option<u64>,
        masked: String,
        fingerprint: String,
        test_data: bool,
    },
    #[serde(rename = "r")]
    Record {
        member: Option<String>,
        status: FileStatus,
        reason: Option<String>,
        bytes: u64,
        encoding: Option<String>,
        findings: u64,
    },
}

impl Cached {
    /// Findings among the kept events.
    pub fn findings(&self) -> u64 {
        self.events
            .iter()
            .filter(|e| matches!(e, CachedEvent::Finding { .. }))
            .count() as u64
    }

    /// The events of a scan of one file, if they can be kept: content
    /// findings and file records only (findings in the file's name depend
    /// on its path and are made again), and the file's own record says it
    /// was read whole.
    pub fn of(events: &[Event], below_confidence: u64) -> Option<Cached> {
        let mut out = Vec::with_capacity(events.len());
        let mut whole = false;
        for ev in events {
            match ev {
                Event::Finding(f) if f.location == Location::Content => {
                    out.push(CachedEvent::Finding {
                        rule: f.rule.clone(),
                        kind: f.kind.clone(),
                        severity: f.severity.as_str().to_string(),
                        confidence: f.confidence.as_str().to_string(),
                        member: f.member.clone(),
                        offset: f.offset,
                        length: f.length,
                        line: f.line,
                        column: f.column,
                        masked: f.masked.clone(),
                        fingerprint: f.fingerprint.clone(),
                        test_data: f.test_data,
                    })
                }
                Event::File(r) => {
                    if r.member.is_none() {
                        whole = r.status == FileStatus::Scanned;
                    }
                    out.push(CachedEvent::Record {
                        member: r.member.clone(),
                        status: r.status,
                        reason: r.reason.clone(),
                        bytes: r.bytes,
                        encoding: r.encoding.clone(),
                        findings: r.findings,
                    })
                }
                _ => return None,
            }
        }
        whole.then_some(Cached {
            events: out,
            below_confidence,
        })
    }

    /// The events again, for the file at `path` (escaped, as events carry
    /// it). `None` if a row does not parse (then the file is scanned).
    pub fn replay(&self, path: &str) -> Option<Vec<Event>> {
        let mut out = Vec::with_capacity(self.events.len());
        for ev in &self.events {
            out.push(match ev {
                CachedEvent::Finding {
                    rule,
                    kind,
                    severity,
                    confidence,
                    member,
                    offset,
                    length,
                    line,
                    column,
                    masked,
                    fingerprint,
                    test_data,
                } => Event::Finding(FindingEvent {
                    rule: rule.clone(),
                    kind: kind.clone(),
                    severity: Severity::parse(severity)?,
                    confidence: Confidence::parse(confidence)?,
                    path: path.to_string(),
                    member: member.clone(),
                    offset: *offset,
                    length: *length,
                    line: *line,
                    column: *column,
                    masked: masked.clone(),
                    fingerprint: fingerprint.clone(),
                    test_data: *test_data,
                    data_location: None,
                    location: Location::Content,
                }),
                CachedEvent::Record {
                    member,
                    status,
                    reason,
                    bytes,
                    encoding,
                    findings,
                } => Event::File(FileEvent {
                    path: path.to_string(),
                    member: member.clone(),
                    status: *status,
                    reason: reason.clone(),
                    bytes: *bytes,
                    encoding: encoding.clone(),
                    findings: *findings,
                    meta: None,
                }),
            });
        }
        Some(out)
    }
}

/// The identity and times of a file, from its `fstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

impl Stamp {
    pub fn of(st: &rustix::fs::Stat) -> Stamp {
        Stamp {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size as u64,
            mtime_ns: st.st_mtime.saturating_mul(1_000_000_000) + st.st_mtime_nsec as i64,
            ctime_ns: st.st_ctime.saturating_mul(1_000_000_000) + st.st_ctime_nsec as i64,
        }
    }
}

/// A `files` row of this version, as loaded on open: what
/// [`ScanCache::unchanged`] compares.
#[derive(Debug, Clone, Copy)]
struct Known {
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    mac: ContentMac,
}

/// The hasher of the loaded maps. Their keys are inode numbers and keyed
/// MACs, neither of which whoever writes the files can choose, so
/// SipHash's defence against chosen keys buys nothing here; a multiply
/// and a rotate per word (as rustc's FxHash) is enough, and SipHash was
/// 1.4 % of a re-scan of 100,000 unchanged files.
#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for word in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..word.len()].copy_from_slice(word);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type KeyMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// What was loaded on open.
#[derive(Default)]
struct Preload {
    files: KeyMap<(u64, u64), Known>,
    /// Kept events by content MAC.
    contents: KeyMap<ContentMac, Kept>,
    /// Every row of this version's `files` is in `files`: a miss there
    /// needs no query.
    all_files: bool,
}

impl Preload {
    /// Loads this version's complete rows, up to the limits.
    fn load(conn: &rusqlite::Connection, version: &str) -> rusqlite::Result<Preload> {
        let mut out = Preload {
            all_files: true,
            ..Preload::default()
        };
        // Only rows a lookup could take: this version, scanned whole.
        let mut stmt = conn.prepare(
            "SELECT dev, ino, size, mtime_ns, ctime_ns, mac FROM files
             WHERE rules_version = ?1 AND mac IS NOT NULL AND verdict IN (?2, ?3)",
        )?;
        let mut rows = stmt.query(params![version, Verdict::Clean, Verdict::Findings])?;
        while let Some(r) = rows.next()? {
            if out.files.len() >= PRELOAD_MAX_ROWS {
                out.all_files = false;
                break;
            }
            // Borrowed, not copied into a Vec per row.
            let Ok(mac) = ContentMac::try_from(r.get_ref(5)?.as_blob()?) else {
                continue;
            };
            out.files.insert(
                (r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64),
                Known {
                    size: r.get::<_, i64>(2)? as u64,
                    mtime_ns: r.get(3)?,
                    ctime_ns: r.get(4)?,
                    mac,
                },
            );
        }
        let mut stmt =
            conn.prepare("SELECT mac, events, below_confidence FROM contents WHERE version = ?1")?;
        let mut rows = stmt.query(params![version])?;
        let mut bytes = 0usize;
        // The few encodings there are, shared by every row naming one.
        let mut encodings: Vec<Arc<str>> = Vec::new();
        while let Some(r) = rows.next()? {
            // Borrowed: a clean record is read from the row's own bytes.
            let events = r.get_ref(1)?.as_str()?;
            let below = r.get::<_, i64>(2)? as u64;
            let kept = match clean_record(events) {
                Some((bytes, encoding)) => Kept::Clean {
                    bytes,
                    encoding: encoding.map(|e| intern(&mut encodings, e)),
                    below,
                },
                None => {
                    bytes += events.len();
                    Kept::Json(events.into(), below)
                }
            };
            if out.contents.len() >= PRELOAD_MAX_ROWS || bytes > PRELOAD_MAX_BYTES {
                break;
            }
            if let Ok(mac) = ContentMac::try_from(r.get_ref(0)?.as_blob()?) {
                out.contents.insert(mac, kept);
            }
        }
        Ok(out)
    }
}

/// The kept events of one content, as loaded on open.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kept {
    /// One record, of the file itself: scanned whole, no finding, no
    /// member, no reason (most files of a share). Held as its fields.
    Clean {
        bytes: u64,
        encoding: Option<Arc<str>>,
        below: u64,
    },
    /// Anything else, as stored (JSON, parsed on a hit), and the findings
    /// below the confidence threshold.
    Json(Box<str>, u64),
}

/// The `bytes` and `encoding` of `json` when it is exactly what
/// [`ScanCache::flush`] stores for [`Kept::Clean`] events (serde's output
/// for one such [`CachedEvent::Record`]); `None` for anything else, which
/// is then parsed by serde. An encoding with an escape in it is left to
/// serde too. A unit test holds this to serde's output.
fn clean_record(json: &str) -> Option<(u64, Option<&str>)> {
    let rest =
        json.strip_prefix(r#"[{"t":"r","member":null,"status":"scanned","reason":null,"bytes":"#)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let bytes: u64 = rest[..digits].parse().ok()?;
    let rest = rest[digits..].strip_prefix(r#","encoding":"#)?;
    let (encoding, rest) = match rest.strip_prefix("null") {
        Some(rest) => (None, rest),
        None => {
            let rest = rest.strip_prefix('"')?;
            let end = rest.find(['"', '\\'])?;
            if rest.as_bytes()[end] != b'"' {
                return None;
            }
            (Some(&rest[..end]), &rest[end + 1..])
        }
    };
    (rest == r#","findings":0}]"#).then_some((bytes, encoding))
}

/// What the rows carry for `version` (the rules version and the settings
/// of [`ScanCache::open`]): `scan ` and 16 hex digits of its SHA-256. The
/// whole string (168 bytes with the container limits) was in every
/// `files` row, every `contents` row and the `contents` key: about half of
/// the 95 MB of a 100,000-file cache, all of it read by the load on open.
/// Like the whole string, it never equals a daemon's version (the rules
/// version alone), so neither takes the other's rows.
fn version_tag(version: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(version.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("scan {hex}")
}

/// `name` from `table`, added the first time.
fn intern(table: &mut Vec<Arc<str>>, name: &str) -> Arc<str> {
    if let Some(known) = table.iter().find(|k| &***k == name) {
        return known.clone();
    }
    let new: Arc<str> = name.into();
    table.push(new.clone());
    new
}

impl Kept {
    fn cached(&self) -> Option<Cached> {
        match self {
            Kept::Clean {
                bytes,
                encoding,
                below,
            } => Some(Cached {
                events: vec![CachedEvent::Record {
                    member: None,
                    status: FileStatus::Scanned,
                    reason: None,
                    bytes: *bytes,
                    encoding: encoding.as_deref().map(str::to_string),
                    findings: 0,
                }],
                below_confidence: *below,
            }),
            Kept::Json(json, below) => parse(json, *below),
        }
    }
}

/// A file's kept events, ready to report under its path.
#[derive(Debug, PartialEq)]
pub struct Replay {
    pub events: Vec<Event>,
    /// Findings below the confidence threshold.
    pub below_confidence: u64,
}

/// Rows waiting to be written.
#[derive(Default)]
struct Writes {
    files: Vec<(PathBuf, Record)>,
    contents: HashMap<ContentMac, Cached>,
}

/// The cache of one scan: its database, its MAC key and its version.
pub struct ScanCache {
    db: StateDb,
    key: StateKey,
    version: String,
    writes: Mutex<Writes>,
    preload: Preload,
    /// What this run took from the cache, for the line at the end.
    pub counts: CacheCounts,
}

/// Files of this run by what the cache did for them.
#[derive(Debug, Default)]
pub struct CacheCounts {
    /// Unchanged since they were scanned: not read.
    pub unchanged: AtomicU64,
    /// Read for their MAC only: their content was scanned before.
    pub copies: AtomicU64,
    /// Scanned.
    pub scanned: AtomicU64,
}

impl std::fmt::Display for CacheCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        write!(
            f,
            "{} files unchanged (not read), {} copies of content scanned before (not scanned), {} scanned",
            get(&self.unchanged),
            get(&self.copies),
            get(&self.scanned)
        )
    }
}

impl std::fmt::Debug for ScanCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanCache")
            .field("path", &self.db.path())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl ScanCache {
    /// Opens (or creates, mode 0600) the cache at `path`. `version`: the
    /// rules version and the settings that change what a scan reports.
    /// Rows made under another fingerprint key are dropped (their
    /// fingerprints would not be this run's).
    pub fn open(
        path: &Path,
        fingerprinter: &Fingerprinter,
        version: String,
    ) -> Result<ScanCache, StateError> {
        let version = version_tag(&version);
        let db = StateDb::open_file(path)?;
        let key = StateKey::derive(fingerprinter);
        let key_id = key.mac(b"leakhound scan cache key id");
        db.with(|conn| {
            // A re-scan looks up every file: keep the pages in memory
            // (mapped, and a 64 MiB page cache) rather than a `pread` per
            // lookup (the default 2 MiB cache made SQLite's reads half the
            // time of a re-scan of 100,000 files).
            conn.execute_batch("PRAGMA cache_size = -65536; PRAGMA mmap_size = 1073741824;")?;
            conn.execute_batch(CONTENTS)?;
            let stored: Option<Vec<u8>> = conn
                .query_row(
                    "SELECT value FROM cache_meta WHERE name = 'key_id'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            if stored.as_deref() != Some(&key_id[..]) {
                conn.execute_batch("DELETE FROM contents;")?;
                conn.execute(
                    "INSERT OR REPLACE INTO cache_meta (name, value) VALUES ('key_id', ?1)",
                    params![&key_id[..]],
                )?;
            }
            Ok(())
        })?;
        let preload = db.with(|conn| Preload::load(conn, &version))?;
        Ok(ScanCache {
            db,
            key,
            version,
            writes: Mutex::new(Writes::default()),
            preload,
            counts: CacheCounts::default(),
        })
    }

    fn writes(&self) -> std::sync::MutexGuard<'_, Writes> {
        self.writes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The MAC of a file's content when its row says it has not changed
    /// since it was scanned whole with this version.
    pub fn unchanged(&self, stamp: &Stamp) -> Result<Option<ContentMac>, StateError> {
        if let Some(k) = self.preload.files.get(&(stamp.dev, stamp.ino)) {
            let same = k.size == stamp.size
                && k.mtime_ns == stamp.mtime_ns
                && k.ctime_ns == stamp.ctime_ns;
            if same {
                return Ok(Some(k.mac));
            }
        }
        // Not loaded (past the limits), or written since: ask the database.
        if self.preload.all_files {
            return Ok(None);
        }
        let Some(rec) = self.db.get(stamp.dev, stamp.ino)? else {
            return Ok(None);
        };
        let same = rec.size == stamp.size
            && rec.mtime_ns == stamp.mtime_ns
            && rec.ctime_ns == stamp.ctime_ns
            && rec.rules_version == self.version
            && rec.complete();
        Ok(if same { rec.mac } else { None })
    }

    /// The events kept for content with this MAC.
    pub fn content(&self, mac: &ContentMac) -> Result<Option<Cached>, StateError> {
        // Loaded first, without the lock: content with one MAC is the same
        // content whoever kept it (the version is part of the row).
        if let Some(kept) = self.preload.contents.get(mac) {
            return Ok(kept.cached());
        }
        if let Some(c) = self.writes().contents.get(mac) {
            return Ok(Some(c.clone()));
        }
        let row: Option<(String, i64)> = self.db.with(|conn| {
            conn.prepare_cached(
                "SELECT events, below_confidence FROM contents WHERE mac = ?1 AND version = ?2",
            )?
            .query_row(params![&mac[..], self.version], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })?;
        Ok(row.and_then(|(json, below)| parse(&json, below as u64)))
    }

    /// The kept events of content `mac`, for the file at `name` (escaped,
    /// as events carry it): what [`ScanCache::content`] and
    /// [`Cached::replay`] give, without the copies in between for a clean
    /// file (its one record is made straight from the loaded row).
    pub fn replay(&self, mac: &ContentMac, name: &str) -> Result<Option<Replay>, StateError> {
        if let Some(Kept::Clean {
            bytes,
            encoding,
            below,
        }) = self.preload.contents.get(mac)
        {
            return Ok(Some(Replay {
                events: vec![Event::File(FileEvent {
                    path: name.to_string(),
                    member: None,
                    status: FileStatus::Scanned,
                    reason: None,
                    bytes: *bytes,
                    encoding: encoding.as_deref().map(str::to_string),
                    findings: 0,
                    meta: None,
                })],
                below_confidence: *below,
            }));
        }
        Ok(self.content(mac)?.and_then(|c| {
            Some(Replay {
                events: c.replay(name)?,
                below_confidence: c.below_confidence,
            })
        }))
    }

    /// The keyed MAC of `bytes`.
    pub fn mac(&self, bytes: &[u8]) -> ContentMac {
        self.key.mac(bytes)
    }

    /// The keyed MAC of everything `reader` yields.
    pub fn mac_reader(&self, reader: &mut dyn std::io::Read) -> std::io::Result<ContentMac> {
        use hmac::Mac;
        let mut h = self.key.hasher();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => h.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(h.finalize().into_bytes().into())
    }

    /// Remembers that the file at `path` (`stamp`) holds content `mac`,
    /// and, when given, what that content's scan reported (else `findings`
    /// says how many it had: a copy of content kept before).
    pub fn store(
        &self,
        path: &Path,
        stamp: &Stamp,
        mac: ContentMac,
        findings: u64,
        content: Option<Cached>,
    ) -> Result<(), StateError> {
        let findings = content.as_ref().map_or(findings, Cached::findings);
        let record = Record {
            dev: stamp.dev,
            ino: stamp.ino,
            size: stamp.size,
            mtime_ns: stamp.mtime_ns,
            ctime_ns: stamp.ctime_ns,
            generation: None,
            mac: Some(mac),
            rules_version: self.version.clone(),
            verdict: if findings > 0 {
                Verdict::Findings
            } else {
                Verdict::Clean
            },
            findings,
            mark: None,
        };
        // Not the path itself: a number in a file name would be kept raw.
        // Its keyed MAC, which says nothing but tells rows apart.
        let named = self.key.mac(path.as_os_str().as_encoded_bytes());
        let named: String = named.iter().map(|b| format!("{b:02x}")).collect();
        let full = {
            let mut w = self.writes();
            w.files.push((PathBuf::from(named), record));
            if let Some(c) = content {
                w.contents.insert(mac, c);
            }
            w.files.len() >= WRITE_BATCH
        };
        if full { self.flush() } else { Ok(()) }
    }

    /// Writes what is waiting, in one transaction.
    pub fn flush(&self) -> Result<(), StateError> {
        let w = std::mem::take(&mut *self.writes());
        if w.files.is_empty() && w.contents.is_empty() {
            return Ok(());
        }
        let mut contents = Vec::with_capacity(w.contents.len());
        for (mac, c) in &w.contents {
            let json = serde_json::to_string(&c.events).expect("cached events serialize");
            contents.push((mac, json, c.below_confidence));
        }
        self.db.put_batch(&w.files, |conn| {
            let mut stmt = conn.prepare_cached(
                "INSERT OR REPLACE INTO contents (mac, version, events, below_confidence)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (mac, json, below) in &contents {
                stmt.execute(params![&mac[..], self.version, json, *below as i64])?;
            }
            Ok(())
        })
    }
}

/// Kept events as stored; `None` if they do not parse (then the file is
/// scanned).
fn parse(json: &str, below: u64) -> Option<Cached> {
    let events: Vec<CachedEvent> = serde_json::from_str(json).ok()?;
    Some(Cached {
        events,
        below_confidence: below,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::KeySource;

    fn finding(path: &str) -> Event {
        Event::Finding(FindingEvent {
            rule: "payment-card".into(),
            kind: "card_visa".into(),
            severity: Severity::High,
            confidence: Confidence::Medium,
            path: path.into(),
            member: Some("a.zip!x.txt".into()),
            offset: 3,
            length: 19,
            line: Some(1),
            column: Some(4),
            masked: "452601******3012".into(),
            fingerprint: "0011".into(),
            test_data: false,
            data_location: None,
            location: Location::Content,
        })
    }

    fn record(path: &str, status: FileStatus) -> Event {
        Event::File(FileEvent {
            path: path.into(),
            member: None,
            status,
            reason: None,
            bytes: 40,
            encoding: Some("zip".into()),
            findings: 1,
            meta: None,
        })
    }

    #[test]
    fn kept_events_replay_under_another_path_and_partial_scans_are_not_kept() {
        let events = [finding("/a/x"), record("/a/x", FileStatus::Scanned)];
        let c = Cached::of(&events, 2).unwrap();
        let again = c.replay("/b/copy").unwrap();
        let want = [finding("/b/copy"), record("/b/copy", FileStatus::Scanned)];
        assert_eq!(again, want);
        assert!(Cached::of(&[record("/a/x", FileStatus::Partial)], 0).is_none());
    }

    #[test]
    fn a_stored_file_is_unchanged_until_its_stamp_or_the_version_moves() {
        let dir = tempfile::tempdir().unwrap();
        let fp = Fingerprinter::with_key(b"k", KeySource::Ephemeral);
        let path = dir.path().join("cache.db");
        let stamp = Stamp {
            dev: 1,
            ino: 2,
            size: 40,
            mtime_ns: 5,
            ctime_ns: 6,
        };
        let mac;
        {
            let cache = ScanCache::open(&path, &fp, "v1".into()).unwrap();
            mac = cache.mac(b"content");
            let c = Cached::of(&[finding("/a"), record("/a", FileStatus::Scanned)], 0);
            cache.store(Path::new("/a"), &stamp, mac, 0, c).unwrap();
            cache.flush().unwrap();
        }
        let cache = ScanCache::open(&path, &fp, "v1".into()).unwrap();
        assert_eq!(cache.unchanged(&stamp).unwrap(), Some(mac));
        assert!(cache.content(&mac).unwrap().is_some());
        let touched = Stamp {
            ctime_ns: 7,
            ..stamp
        };
        assert_eq!(cache.unchanged(&touched).unwrap(), None);
        let other = ScanCache::open(&path, &fp, "v2".into()).unwrap();
        assert_eq!(other.unchanged(&stamp).unwrap(), None);
        assert!(other.content(&mac).unwrap().is_none());
        // Another fingerprint key: the kept fingerprints are not this
        // run's, so the contents are dropped.
        let fp2 = Fingerprinter::with_key(b"other", KeySource::Ephemeral);
        let rekeyed = ScanCache::open(&path, &fp2, "v1".into()).unwrap();
        assert!(rekeyed.content(&mac).unwrap().is_none());
        // Never a raw value in the file.
        drop((cache, other, rekeyed));
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(16).any(|w| w == b"4526018159083012"));
    }
    /// Issue 17: a clean file's kept record is read from its row without
    /// serde. The fast reading must agree with serde on what `flush`
    /// stores, and leave anything else (a finding, a member, another
    /// status, an escaped encoding) to serde.
    #[test]
    fn d17_clean_records_are_read_without_serde_exactly_as_serde_reads_them() {
        let rec = |bytes, encoding: Option<&str>, status, findings| CachedEvent::Record {
            member: None,
            status,
            reason: None,
            bytes,
            encoding: encoding.map(str::to_string),
            findings,
        };
        for (bytes, encoding) in [
            (0, None),
            (2048, Some("utf-8")),
            (u64::MAX, Some("utf-16le")),
            (7, Some("")),
        ] {
            let json =
                serde_json::to_string(&vec![rec(bytes, encoding, FileStatus::Scanned, 0)]).unwrap();
            assert_eq!(clean_record(&json), Some((bytes, encoding)), "{json}");
            let kept = Kept::Clean {
                bytes,
                encoding: encoding.map(Arc::from),
                below: 3,
            };
            assert_eq!(kept.cached(), parse(&json, 3), "{json}");
        }
        let not_clean = [
            vec![rec(1, None, FileStatus::Partial, 0)],
            vec![rec(1, None, FileStatus::Scanned, 1)],
            vec![rec(1, Some("a\"b"), FileStatus::Scanned, 0)],
            vec![
                rec(1, None, FileStatus::Scanned, 0),
                rec(1, None, FileStatus::Scanned, 0),
            ],
            vec![CachedEvent::Record {
                member: Some("m".into()),
                status: FileStatus::Scanned,
                reason: None,
                bytes: 1,
                encoding: None,
                findings: 0,
            }],
            vec![CachedEvent::Record {
                member: None,
                status: FileStatus::Scanned,
                reason: Some("why".into()),
                bytes: 1,
                encoding: None,
                findings: 0,
            }],
        ];
        for events in not_clean {
            let json = serde_json::to_string(&events).unwrap();
            assert_eq!(clean_record(&json), None, "{json}");
        }
        // And an unchanged clean file replays as the general path would.
        let dir = tempfile::tempdir().unwrap();
        let fp = Fingerprinter::with_key(b"k", KeySource::Ephemeral);
        let path = dir.path().join("cache.db");
        let mac;
        let events = [Event::File(FileEvent {
            encoding: Some("utf-8".into()),
            findings: 0,
            ..match record("/a", FileStatus::Scanned) {
                Event::File(f) => f,
                _ => unreachable!(),
            }
        })];
        {
            let cache = ScanCache::open(&path, &fp, "v1".into()).unwrap();
            mac = cache.mac(b"clean");
            let c = Cached::of(&events, 2);
            cache.store(Path::new("/a"), &stamp(1), mac, 0, c).unwrap();
            cache.flush().unwrap();
        }
        let cache = ScanCache::open(&path, &fp, "v1".into()).unwrap();
        assert!(matches!(
            cache.preload.contents.get(&mac),
            Some(Kept::Clean { .. })
        ));
        let want = Cached::of(&events, 2).unwrap().replay("/b").unwrap();
        let got = cache.replay(&mac, "/b").unwrap().unwrap();
        assert_eq!((got.events, got.below_confidence), (want, 2));
    }

    fn stamp(ino: u64) -> Stamp {
        Stamp {
            dev: 1,
            ino,
            size: 40,
            mtime_ns: 5,
            ctime_ns: 6,
        }
    }

    /// Issue 17: a re-scan of an unchanged tree was slower than a full
    /// scan, two SQLite queries (each its own read transaction) per file.
    /// The rows are loaded once on open: with the table emptied behind the
    /// cache's back, an unchanged file is still answered (from memory).
    #[test]
    fn d17_rescan_answers_unchanged_files_from_rows_loaded_once() {
        let dir = tempfile::tempdir().unwrap();
        let fp = Fingerprinter::with_key(b"k", KeySource::Ephemeral);
        let path = dir.path().join("cache.db");
        let mut macs = Vec::new();
        {
            let cache = ScanCache::open(&path, &fp, "v1".into()).unwrap();
            for ino in 0..1000 {
                let mac = cache.mac(format!("content {ino}").as_bytes());
                let name = format!("/a/{ino}");
                let c = Cached::of(&[record(&name, FileStatus::Scanned)], 0);
                cache
                    .store(Path::new(&name), &stamp(ino), mac, 0, c)
                    .unwrap();
                macs.push(mac);
            }
            cache.flush().unwrap();
        }
        let cache = ScanCache::open(&path, &fp, "v1".into()).unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute_batch("DELETE FROM files; DELETE FROM contents;")
            .unwrap();
        for (ino, mac) in macs.iter().enumerate() {
            assert_eq!(cache.unchanged(&stamp(ino as u64)).unwrap(), Some(*mac));
            assert!(cache.content(mac).unwrap().is_some());
        }
        // A stamp that moved is still a miss.
        let touched = Stamp {
            ctime_ns: 7,
            ..stamp(3)
        };
        assert_eq!(cache.unchanged(&touched).unwrap(), None);
    }

    /// Two runs on one cache (two scans, or a scan beside the daemon):
    /// neither waits on the other's open cache, and content one of them
    /// writes after the other loaded is still found by the other.
    #[test]
    fn d17_two_caches_on_one_file_write_and_read_side_by_side() {
        let dir = tempfile::tempdir().unwrap();
        let fp = Fingerprinter::with_key(b"k", KeySource::Ephemeral);
        let path = dir.path().join("cache.db");
        let a = ScanCache::open(&path, &fp, "v1".into()).unwrap();
        let b = ScanCache::open(&path, &fp, "v1".into()).unwrap();
        let mac = a.mac(b"shared content");
        let c = Cached::of(&[finding("/x"), record("/x", FileStatus::Scanned)], 0);
        a.store(Path::new("/x"), &stamp(9), mac, 0, c.clone())
            .unwrap();
        a.flush().unwrap();
        // `b` loaded before `a` wrote: a copy of the content is found in
        // the database.
        assert_eq!(b.content(&mac).unwrap(), c);
        b.store(Path::new("/y"), &stamp(10), mac, 1, None).unwrap();
        b.flush().unwrap();
        let again = ScanCache::open(&path, &fp, "v1".into()).unwrap();
        assert_eq!(again.unchanged(&stamp(9)).unwrap(), Some(mac));
        assert_eq!(again.unchanged(&stamp(10)).unwrap(), Some(mac));
    }
}
