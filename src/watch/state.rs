//! The daemon's memory across restarts: an SQLite database of the files it
//! has scanned.
//!
//! One row per file, keyed by (device, inode) so a rename within a share is
//! not a new file: its size, modification time, the SHA-256 of its
//! content, the rules version it was scanned with and the verdict. A file
//! whose size, mtime and rules version match its row, and whose last scan
//! was complete, is not scanned again. For mbox files the row also keeps
//! how far the file was scanned and the SHA-256 of that prefix, so only
//! what was appended is read next time.
//!
//! Never a raw value here: only counts and the verdict. The database is in
//! WAL mode with `synchronous=NORMAL`: a crash loses at most the last few
//! rows, which only means those files are scanned once more.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

/// The file name of the database in the state directory.
pub const DB_FILE: &str = "state.db";

/// A problem with the state database.
#[derive(Debug, thiserror::Error)]
#[error(
    "state database {path}: {error} (check that the state directory is writable by the daemon's user, or move the file aside to start afresh)"
)]
pub struct StateError {
    pub path: PathBuf,
    #[source]
    pub error: rusqlite::Error,
}

/// What the database remembers of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: Option<[u8; 32]>,
    pub rules_version: String,
    /// `clean`, `findings` or `incomplete`.
    pub verdict: String,
    pub findings: u64,
    /// mbox only: bytes scanned so far, SHA-256 of those bytes, and the
    /// newlines in them (to number lines of what is appended).
    pub mbox: Option<MboxMark>,
}

/// How far an mbox file was scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MboxMark {
    pub offset: u64,
    pub prefix_sha256: [u8; 32],
    pub lines: u64,
}

impl Record {
    /// True when the last scan read the whole file.
    pub fn complete(&self) -> bool {
        self.verdict == "clean" || self.verdict == "findings"
    }
}

/// The state database, shared by the scanning threads.
pub struct StateDb {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl StateDb {
    /// Opens (creating if needed) `dir/state.db`.
    pub fn open(dir: &Path) -> Result<StateDb, StateError> {
        let path = dir.join(DB_FILE);
        let err = |error| StateError {
            path: path.clone(),
            error,
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS files (
                dev INTEGER NOT NULL,
                ino INTEGER NOT NULL,
                path BLOB NOT NULL,
                size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL,
                sha256 BLOB,
                rules_version TEXT NOT NULL,
                verdict TEXT NOT NULL,
                findings INTEGER NOT NULL,
                scanned_at INTEGER NOT NULL,
                mbox_offset INTEGER,
                mbox_prefix_sha256 BLOB,
                mbox_lines INTEGER,
                PRIMARY KEY (dev, ino)
            );",
        )
        .map_err(err)?;
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
                "SELECT size, mtime_ns, sha256, rules_version, verdict, findings,
                        mbox_offset, mbox_prefix_sha256, mbox_lines
                 FROM files WHERE dev = ?1 AND ino = ?2",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_row(params![dev as i64, ino as i64], |r| {
            let sha: Option<Vec<u8>> = r.get(2)?;
            let offset: Option<i64> = r.get(6)?;
            let prefix: Option<Vec<u8>> = r.get(7)?;
            let lines: Option<i64> = r.get(8)?;
            Ok(Record {
                dev,
                ino,
                size: r.get::<_, i64>(0)? as u64,
                mtime_ns: r.get(1)?,
                sha256: sha.and_then(|v| v.try_into().ok()),
                rules_version: r.get(3)?,
                verdict: r.get(4)?,
                findings: r.get::<_, i64>(5)? as u64,
                mbox: match (offset, prefix.and_then(|v| v.try_into().ok()), lines) {
                    (Some(o), Some(p), Some(l)) => Some(MboxMark {
                        offset: o as u64,
                        prefix_sha256: p,
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
        let mut stmt = conn
            .prepare_cached(
                "INSERT OR REPLACE INTO files (dev, ino, path, size, mtime_ns, sha256,
                    rules_version, verdict, findings, scanned_at,
                    mbox_offset, mbox_prefix_sha256, mbox_lines)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .map_err(|e| self.err(e))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        stmt.execute(params![
            rec.dev as i64,
            rec.ino as i64,
            path.as_os_str().as_bytes(),
            rec.size as i64,
            rec.mtime_ns,
            rec.sha256.as_ref().map(|h| &h[..]),
            rec.rules_version,
            rec.verdict,
            rec.findings as i64,
            now,
            rec.mbox.as_ref().map(|m| m.offset as i64),
            rec.mbox.as_ref().map(|m| &m.prefix_sha256[..]),
            rec.mbox.as_ref().map(|m| m.lines as i64),
        ])
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records that a known file now lives at `path` (a rename).
    pub fn set_path(&self, dev: u64, ino: u64, path: &Path) -> Result<(), StateError> {
        let conn = self.lock();
        conn.prepare_cached("UPDATE files SET path = ?3 WHERE dev = ?1 AND ino = ?2")
            .and_then(|mut s| {
                s.execute(params![dev as i64, ino as i64, path.as_os_str().as_bytes()])
            })
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Number of files remembered.
    pub fn count(&self) -> Result<u64, StateError> {
        let conn = self.lock();
        conn.query_row("SELECT COUNT(*) FROM files", [], |r| r.get::<_, i64>(0))
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
        StateError {
            path: self.path.clone(),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(verdict: &str) -> Record {
        Record {
            dev: 1,
            ino: 42,
            size: 10,
            mtime_ns: 1_000,
            sha256: Some([7; 32]),
            rules_version: "abc".into(),
            verdict: verdict.into(),
            findings: 1,
            mbox: Some(MboxMark {
                offset: 10,
                prefix_sha256: [9; 32],
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
            db.put(Path::new("/a"), &record("findings")).unwrap();
            db.set_path(1, 42, Path::new("/b")).unwrap();
            db.checkpoint().unwrap();
        }
        let db = StateDb::open(dir.path()).unwrap();
        let r = db.get(1, 42).unwrap().unwrap();
        assert_eq!(r, record("findings"));
        assert!(r.complete());
        assert!(!record("incomplete").complete());
        assert_eq!(db.count().unwrap(), 1);
    }
}
