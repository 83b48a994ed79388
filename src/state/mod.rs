//! The state database: the daemon's memory across restarts, and what
//! `scan --cache` remembers between runs ([`cache`]), an SQLite database of
//! the files scanned. Both the daemon (`watch`) and the scan pipeline
//! (`scan`) use it; it uses neither (it sat under `watch/` and made `scan`
//! and `watch` name each other).
//!
//! One row per file, keyed by (device, inode) so a rename within a share is
//! not a new file: its size, modification and change times, inode
//! generation (where the filesystem has one), a keyed MAC of its content,
//! the rules version it was scanned with and the verdict. A file whose
//! size, mtime, ctime, generation and rules version match its row, and whose
//! last scan was complete, is not scanned again; one whose ctime alone
//! moved (a rename, a chmod, or a `touch -r` after a rewrite) is read and
//! its MAC compared (see `watch/scanner.rs`). For mbox files and appended
//! logs the row also keeps how far the file was scanned and the MAC of that
//! prefix, so only what was appended is read next time.
//!
//! Never a raw value here, and no plain hash of content either (a small
//! file holding one card number would give it away to a brute force): the
//! MACs are HMAC-SHA256 under the daemon's state key, which is derived from
//! the fingerprint key ([`StateKey`]). The database is in WAL mode with
//! `synchronous=NORMAL`: a crash loses at most the last few rows, which
//! only means those files are scanned once more. The file (and SQLite's
//! `-wal` and `-shm` files, which take its mode) is created 0600 whatever
//! the umask.

pub mod cache;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hmac::{Hmac, KeyInit, Mac};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::fingerprint::Fingerprinter;

/// The file name of the database in the state directory.
pub const DB_FILE: &str = "state.db";

/// The schema this code writes (`PRAGMA user_version`). Version 0 (before
/// it was numbered) kept plain SHA-256 digests of content: its rows are
/// dropped on open (see [`StateDb::open`]).
pub const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS files (
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    path BLOB NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    generation INTEGER,
    mac BLOB,
    rules_version TEXT NOT NULL,
    verdict TEXT NOT NULL,
    findings INTEGER NOT NULL,
    scanned_at INTEGER NOT NULL,
    mark_offset INTEGER,
    mark_mac BLOB,
    mark_lines INTEGER,
    PRIMARY KEY (dev, ino)
);";

/// A problem with the state database.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "state database {path}: {error} (check that the state directory is writable by the daemon's user, or move the file aside to start afresh)"
    )]
    Sql {
        path: PathBuf,
        #[source]
        error: rusqlite::Error,
    },
    #[error(
        "state database {path}: cannot make it private (mode 0600): {error} (check who owns the state directory)"
    )]
    Mode {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error(
        "state database {path}: schema version {found} is newer than this leakhound knows ({SCHEMA_VERSION}); run the newer version, or move the file aside to start afresh"
    )]
    Newer { path: PathBuf, found: i64 },
}

/// What the last scan of a file concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Read whole, nothing found.
    Clean,
    /// Read whole, findings reported, and the policy's action (if any) done.
    Findings,
    /// Not read whole: scanned again at its next event or start.
    Incomplete,
    /// Read whole and findings reported, but the policy's action failed:
    /// the file stays due and the action is tried again (with backoff, and
    /// at the next start).
    ActionDue,
}

impl Verdict {
    /// The word kept in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Findings => "findings",
            Verdict::Incomplete => "incomplete",
            Verdict::ActionDue => "action_due",
        }
    }
}

impl ToSql for Verdict {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Verdict {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value.as_str()? {
            "clean" => Ok(Verdict::Clean),
            "findings" => Ok(Verdict::Findings),
            "incomplete" => Ok(Verdict::Incomplete),
            "action_due" => Ok(Verdict::ActionDue),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

/// A keyed MAC of content (HMAC-SHA256 under the [`StateKey`]).
pub type ContentMac = [u8; 32];

/// What the database remembers of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    /// The inode change time: `touch` can set mtime back, not ctime.
    pub ctime_ns: i64,
    /// The inode generation (`FS_IOC_GETVERSION`), where the filesystem
    /// has one.
    pub generation: Option<u64>,
    /// MAC of the content read (none when the scan was incomplete).
    pub mac: Option<ContentMac>,
    pub rules_version: String,
    pub verdict: Verdict,
    pub findings: u64,
    /// mbox files and appended logs: how far the file was scanned, so only
    /// what is appended is read next time.
    pub mark: Option<Mark>,
}

/// How far an mbox or an appended log was scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Bytes scanned (the next scan starts here).
    pub offset: u64,
    /// MAC of those bytes.
    pub prefix_mac: ContentMac,
    /// Newlines in them (to number lines of what is appended).
    pub lines: u64,
}

impl Record {
    /// True when the last scan read the whole file and nothing is left to
    /// do about it.
    pub fn complete(&self) -> bool {
        matches!(self.verdict, Verdict::Clean | Verdict::Findings)
    }
}

/// The key of the MACs in the state database. It is derived from the
/// fingerprint key (so it is kept where that key is kept, never in the
/// database itself); a new fingerprint key means no MAC matches and files
/// are read again.
#[derive(Clone)]
pub struct StateKey(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey(..)")
    }
}

impl StateKey {
    /// The label the state key is derived under. It has lower-case letters
    /// and spaces, so it can never be the compact form of a found value
    /// (digits and upper-case letters), whose fingerprints are published.
    const LABEL: &'static [u8] = b"leakhound state.db content mac key v2";

    /// The state key of a fingerprint key.
    pub fn derive(fingerprinter: &Fingerprinter) -> StateKey {
        StateKey(Zeroizing::new(
            fingerprinter.fingerprint_bytes(Self::LABEL).into_bytes(),
        ))
    }

    /// A fresh MAC computation.
    pub fn hasher(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }

    /// The MAC of `bytes`.
    pub fn mac(&self, bytes: &[u8]) -> ContentMac {
        let mut h = self.hasher();
        h.update(bytes);
        h.finalize().into_bytes().into()
    }
}

/// The state database, shared by the scanning threads.
pub struct StateDb {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl StateDb {
    /// Opens (creating if needed, mode 0600) `dir/state.db`. A database of
    /// the old schema (plain SHA-256 digests) loses its rows, and the file
    /// is vacuumed so the digests do not linger in free pages: every file
    /// is scanned (and its findings reported) once more.
    pub fn open(dir: &Path) -> Result<StateDb, StateError> {
        Self::open_file(&dir.join(DB_FILE))
    }

    /// Opens (or creates, mode 0600) a state database at `path` itself
    /// (`scan --cache FILE`), with the daemon's schema.
    pub fn open_file(path: &Path) -> Result<StateDb, StateError> {
        let path = path.to_path_buf();
        make_private(&path)?;
        let err = |error| StateError::Sql {
            path: path.clone(),
            error,
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(StateError::Newer {
                path: path.clone(),
                found: version,
            });
        }
        if version < SCHEMA_VERSION {
            let old: bool = conn
                .query_row(
                    "SELECT COUNT(*) > 0 FROM sqlite_master WHERE name = 'files'",
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?;
            if old {
                tracing::warn!(
                    "{}: an older state database (plain content digests): forgetting its rows; every file is scanned once more",
                    crate::report::names::log_path(&path)
                );
            }
            // Out of WAL mode for the VACUUM, which rewrites the file
            // without the old pages.
            conn.pragma_update(None, "journal_mode", "DELETE")
                .map_err(err)?;
            conn.execute_batch("PRAGMA secure_delete = ON; DROP TABLE IF EXISTS files;")
                .map_err(err)?;
            conn.execute_batch("VACUUM;").map_err(err)?;
            conn.execute_batch(SCHEMA).map_err(err)?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(err)?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        // Deleted and replaced rows are overwritten, not left in free pages.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        // SQLite gives -wal and -shm the database file's mode; an older
        // daemon may have left them wider.
        for suffix in ["-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            tighten(Path::new(&p)).map_err(|error| StateError::Mode {
                path: path.clone(),
                error,
            })?;
        }
        Ok(StateDb {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// Where the database is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A thread that panicked while holding the lock left the
        // connection usable: SQLite rolls back an unfinished statement.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The row of a file, if any.
    pub fn get(&self, dev: u64, ino: u64) -> Result<Option<Record>, StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT size, mtime_ns, ctime_ns, generation, mac, rules_version, verdict,
                        findings, mark_offset, mark_mac, mark_lines
                 FROM files WHERE dev = ?1 AND ino = ?2",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_row(params![dev as i64, ino as i64], |r| {
            let mac: Option<Vec<u8>> = r.get(4)?;
            let offset: Option<i64> = r.get(8)?;
            let prefix: Option<Vec<u8>> = r.get(9)?;
            let lines: Option<i64> = r.get(10)?;
            Ok(Record {
                dev,
                ino,
                size: r.get::<_, i64>(0)? as u64,
                mtime_ns: r.get(1)?,
                ctime_ns: r.get(2)?,
                generation: r.get::<_, Option<i64>>(3)?.map(|g| g as u64),
                mac: mac.and_then(|v| v.try_into().ok()),
                rules_version: r.get(5)?,
                verdict: r.get(6)?,
                findings: r.get::<_, i64>(7)? as u64,
                mark: match (offset, prefix.and_then(|v| v.try_into().ok()), lines) {
                    (Some(o), Some(p), Some(l)) => Some(Mark {
                        offset: o as u64,
                        prefix_mac: p,
                        lines: l as u64,
                    }),
                    _ => None,
                },
            })
        })
        .optional()
        .map_err(|e| self.err(e))
    }

    /// Stores the row of a file scanned at `path`.
    pub fn put(&self, path: &Path, rec: &Record) -> Result<(), StateError> {
        let conn = self.lock();
        insert_file(&conn, path, rec, unix_now()).map_err(|e| self.err(e))
    }

    /// Records that a known file now lives at `path` (a rename) and has
    /// this ctime (a rename or chmod moves it; the content was checked).
    pub fn touch(&self, dev: u64, ino: u64, path: &Path, ctime_ns: i64) -> Result<(), StateError> {
        let conn = self.lock();
        conn.prepare_cached(
            "UPDATE files SET path = ?3, ctime_ns = ?4 WHERE dev = ?1 AND ino = ?2",
        )
        .and_then(|mut s| {
            s.execute(params![
                dev as i64,
                ino as i64,
                path.as_os_str().as_bytes(),
                ctime_ns
            ])
        })
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Runs `f` on the connection (for the tables of `scan --cache`,
    /// which share this file).
    pub fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StateError> {
        let conn = self.lock();
        f(&conn).map_err(|e| self.err(e))
    }

    /// Writes many rows, and whatever `more` writes, in one transaction.
    pub fn put_batch(
        &self,
        rows: &[(PathBuf, Record)],
        more: impl FnOnce(&Connection) -> rusqlite::Result<()>,
    ) -> Result<(), StateError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let now = unix_now();
        for (path, rec) in rows {
            insert_file(&tx, path, rec, now).map_err(|e| self.err(e))?;
        }
        more(&tx).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    pub fn count(&self) -> Result<u64, StateError> {
        let conn = self.lock();
        conn.query_row("SELECT COUNT(*) FROM files", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Files whose action is still due (after a restart, the start-up walk
    /// finds them as incomplete and tries again).
    pub fn actions_due(&self) -> Result<u64, StateError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT COUNT(*) FROM files WHERE verdict = ?1",
            [Verdict::ActionDue],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
        .map_err(|e| self.err(e))
    }

    /// Writes the WAL back into the database file (on shutdown).
    pub fn checkpoint(&self) -> Result<(), StateError> {
        let conn = self.lock();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.err(e))
    }

    fn err(&self, error: rusqlite::Error) -> StateError {
        StateError::Sql {
            path: self.path.clone(),
            error,
        }
    }
}

/// Creates `path` 0600 if it is missing (SQLite would create it with
/// 0644 & ~umask), and takes group and other access away if it exists.
fn make_private(path: &Path) -> Result<(), StateError> {
    use std::os::unix::fs::OpenOptionsExt;
    let merr = |error| StateError::Mode {
        path: path.to_path_buf(),
        error,
    };
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
    {
        Ok(f) => f
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(merr),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => tighten(path).map_err(merr),
        Err(e) => Err(merr(e)),
    }
}

/// Takes group and other access away from an existing file (no error when
/// it does not exist).
fn tighten(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o077 != 0 => std::fs::set_permissions(
            path,
            std::fs::Permissions::from_mode(m.permissions().mode() & 0o700),
        ),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes (or replaces) the `files` row of `rec`, found at `path`.
fn insert_file(conn: &Connection, path: &Path, rec: &Record, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO files (dev, ino, path, size, mtime_ns, ctime_ns,
            generation, mac, rules_version, verdict, findings, scanned_at,
            mark_offset, mark_mac, mark_lines)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        rec.dev as i64,
        rec.ino as i64,
        path.as_os_str().as_bytes(),
        rec.size as i64,
        rec.mtime_ns,
        rec.ctime_ns,
        rec.generation.map(|g| g as i64),
        rec.mac.as_ref().map(|h| &h[..]),
        rec.rules_version,
        rec.verdict,
        rec.findings as i64,
        now,
        rec.mark.as_ref().map(|m| m.offset as i64),
        rec.mark.as_ref().map(|m| &m.prefix_mac[..]),
        rec.mark.as_ref().map(|m| m.lines as i64),
    ])?;
    Ok(())
}

/// Seconds since the epoch, for `scanned_at` (0 if the clock is before it).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(verdict: Verdict) -> Record {
        Record {
            dev: 1,
            ino: 42,
            size: 10,
            mtime_ns: 1_000,
            ctime_ns: 2_000,
            generation: Some(7),
            mac: Some([7; 32]),
            rules_version: "abc".into(),
            verdict,
            findings: 1,
            mark: Some(Mark {
                offset: 10,
                prefix_mac: [9; 32],
                lines: 3,
            }),
        }
    }

    #[test]
    fn rows_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = StateDb::open(dir.path()).unwrap();
            assert_eq!(db.get(1, 42).unwrap(), None);
            db.put(Path::new("/a"), &record(Verdict::Findings)).unwrap();
            db.touch(1, 42, Path::new("/b"), 2_000).unwrap();
            db.checkpoint().unwrap();
        }
        let db = StateDb::open(dir.path()).unwrap();
        let r = db.get(1, 42).unwrap().unwrap();
        assert_eq!(r, record(Verdict::Findings));
        assert!(r.complete());
        assert!(!record(Verdict::Incomplete).complete());
        assert!(!record(Verdict::ActionDue).complete());
        assert_eq!(db.count().unwrap(), 1);
        assert_eq!(db.actions_due().unwrap(), 0);
        db.put(Path::new("/b"), &record(Verdict::ActionDue))
            .unwrap();
        assert_eq!(db.actions_due().unwrap(), 1);
    }

    /// D13: an old database kept plain SHA-256 digests of content; opening
    /// it drops those rows and leaves no digest anywhere in the file.
    #[test]
    fn d13_an_old_state_db_with_plain_digests_is_dropped_and_vacuumed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let digest = [0xabu8; 32];
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE files (dev INTEGER NOT NULL, ino INTEGER NOT NULL,
                    path BLOB NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                    sha256 BLOB, rules_version TEXT NOT NULL, verdict TEXT NOT NULL,
                    findings INTEGER NOT NULL, scanned_at INTEGER NOT NULL,
                    mbox_offset INTEGER, mbox_prefix_sha256 BLOB, mbox_lines INTEGER,
                    PRIMARY KEY (dev, ino));",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO files VALUES (1, 42, '/a', 10, 1000, ?1, 'abc', 'clean', 0, 0, 10, ?1, 1)",
                [&digest[..]],
            )
            .unwrap();
        }
        let db = StateDb::open(dir.path()).unwrap();
        assert_eq!(db.get(1, 42).unwrap(), None);
        assert_eq!(db.count().unwrap(), 0);
        db.checkpoint().unwrap();
        drop(db);
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(32).any(|w| w == digest),
            "the old digest is still in the file"
        );
        // And the new schema works.
        let db = StateDb::open(dir.path()).unwrap();
        db.put(Path::new("/a"), &record(Verdict::Clean)).unwrap();
        assert_eq!(db.get(1, 42).unwrap().unwrap().verdict, Verdict::Clean);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let e = StateDb::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("newer"), "{e}");
    }

    #[test]
    fn the_state_key_depends_on_the_fingerprint_key() {
        use crate::fingerprint::KeySource;
        let a = StateKey::derive(&Fingerprinter::with_key(b"one", KeySource::Env));
        let b = StateKey::derive(&Fingerprinter::with_key(b"two", KeySource::Env));
        assert_ne!(a.mac(b"card"), b.mac(b"card"));
        assert_eq!(a.mac(b"card"), a.clone().mac(b"card"));
        use sha2::Digest;
        let plain: [u8; 32] = Sha256::digest(b"card").into();
        assert_ne!(a.mac(b"card"), plain);
    }

    /// File modes: the database and its WAL files are private whatever the
    /// umask (an old daemon created them 0644).
    #[test]
    fn state_db_files_are_private_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
        let db = StateDb::open(dir.path());
        rustix::process::umask(old);
        let db = db.unwrap();
        db.put(Path::new("/a"), &record(Verdict::Clean)).unwrap();
        for name in ["state.db", "state.db-wal", "state.db-shm"] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
        }
        drop(db);
        // A wide file left by an older version is tightened.
        std::fs::set_permissions(
            dir.path().join("state.db"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let _db = StateDb::open(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join("state.db"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
