//! The manifest: `manifest.db`, one SQLite row per quarantined file.
//!
//! The schema is `schema.sql`; [`State`] is the only place that spells the
//! states, mapped to and from SQL with `ToSql`/`FromSql`, so no state is a
//! string literal in a query or a `match` arm. What enters: a path to an
//! existing `manifest.db` (the store has already checked who owns it and
//! that no link leads to it); what leaves: an open [`Connection`] at schema
//! version [`SCHEMA_VERSION`], and typed rows ([`Item`]).
//!
//! Stores written before version 2 kept an unkeyed SHA-256 of the plaintext
//! in a `sha256` column; [`migrate`] replaces it with a keyed MAC of the
//! stored object and erases the old values (see `docs/actions.md`).
//!
//! Paths (`path`, `restore_temp`, `restore_to`, `restored_to`) are kept in
//! the lossless escaped form of `report::names::escape_path` since
//! version 3, so a name that is not UTF-8 (`caf\xE9.csv`) is restored
//! under its own bytes (D7). Versions 1 and 2 kept `to_string_lossy()`
//! text, which is the escaped form except for backslashes and control
//! characters: [`migrate_paths`] rewrites those rows (a row already made
//! lossy stays as it was: its lost bytes cannot be recovered), and a store
//! opened read-only before migration is read through [`legacy_path`].

use std::path::Path;
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;

/// The schema, created on a new store.
pub const SCHEMA: &str = include_str!("schema.sql");

/// `PRAGMA user_version` of a store at the current schema.
pub const SCHEMA_VERSION: i64 = 3;

/// Where a manifest row stands. A row is also the journal of the operation
/// in progress on it: `Pending`, `Stored`, `Restoring` and `Purging` are
/// operations under way (their owner holds the row's lock, see `lock`);
/// `Done` and `Restored` are at rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The copy into the store is under way; the original is untouched.
    Pending,
    /// The copy is durable and verified; the original is being removed.
    Stored,
    /// In the store: the original is gone (or a tombstone).
    Done,
    /// Being written back to a path.
    Restoring,
    /// Written back; the stored copy is gone (the row stays as history).
    Restored,
    /// The stored copy is being deleted; then the row goes.
    Purging,
}

impl State {
    /// Every state, for parsing.
    const ALL: [State; 6] = [
        State::Pending,
        State::Stored,
        State::Done,
        State::Restoring,
        State::Restored,
        State::Purging,
    ];

    /// The states of an operation under way, which recovery looks at.
    pub const UNFINISHED: [State; 4] = [
        State::Pending,
        State::Stored,
        State::Restoring,
        State::Purging,
    ];

    /// The name in the manifest and in `quarantine list`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Stored => "stored",
            State::Done => "done",
            State::Restoring => "restoring",
            State::Restored => "restored",
            State::Purging => "purging",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl ToSql for State {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for State {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| FromSqlError::Other(format!("unknown quarantine state {s:?}").into()))
    }
}

/// One masked finding as kept in the manifest.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct StoredFinding {
    pub rule: String,
    pub kind: String,
    pub severity: String,
    pub masked: String,
    pub fingerprint: String,
    pub line: Option<u64>,
}

/// One manifest row, as `quarantine list --json` and `show` print it.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: String,
    pub state: State,
    pub path: String,
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    /// Keyed MAC of the stored object (not printed: it says nothing to a
    /// reader and is only for restore to verify the object).
    #[serde(skip)]
    pub mac: Option<String>,
    pub findings: Vec<StoredFinding>,
    pub time: String,
    pub host: String,
    pub tombstone: bool,
    pub restored_to: Option<String>,
    /// Stored encrypted to age recipients: restore needs the private key.
    pub encrypted: bool,
    #[serde(skip)]
    pub mtime_nsec: i64,
}

/// The columns [`Item`] is read from, in order.
pub const ITEM_COLUMNS: &str = "id, state, path, size, mode, uid, gid, mtime, mac, findings, time, host, tombstone, restored_to, encrypted, mtime_nsec";

/// The columns to read an [`Item`] from in this manifest: a version-1
/// manifest not migrated yet (opened read-only) has no `mac`.
pub fn item_columns(db: &Connection) -> rusqlite::Result<String> {
    Ok(if has_column(db, "mac")? {
        ITEM_COLUMNS.to_string()
    } else {
        ITEM_COLUMNS.replace(" mac,", " NULL AS mac,")
    })
}

/// Reads an [`Item`] from a row selected with [`item_columns`].
pub fn item_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let findings: String = r.get(9)?;
    Ok(Item {
        id: r.get(0)?,
        state: r.get(1)?,
        path: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        mode: r.get(4)?,
        uid: r.get(5)?,
        gid: r.get(6)?,
        mtime: r.get(7)?,
        mac: r.get(8)?,
        findings: serde_json::from_str(&findings).unwrap_or_default(),
        time: r.get(10)?,
        host: r.get(11)?,
        tombstone: r.get(12)?,
        restored_to: r.get(13)?,
        encrypted: r.get(14)?,
        mtime_nsec: r.get(15)?,
    })
}

/// Opens `path` read-write (the caller has checked it is ours and no
/// link), with durable commits.
pub fn open_rw(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NOFOLLOW
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // Durable commits: a committed `stored` must survive a power cut, since
    // the original is removed right after.
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "FULL")?;
    db.busy_timeout(Duration::from_secs(30))?;
    Ok(db)
}

/// Opens `path` for reading only: nothing is written, so `list` and `show`
/// work on a full or read-only file system. When SQLite cannot even set up
/// its shared-memory index there (no space for `manifest.db-shm`), falls
/// back to `immutable=1`, which reads the main file as it is (commits still
/// only in the WAL are then not seen): `Ok((db, true))`.
pub fn open_ro(path: &Path) -> rusqlite::Result<(Connection, bool)> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NOFOLLOW
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let probe = |db: &Connection| -> rusqlite::Result<()> {
        db.busy_timeout(Duration::from_secs(30))?;
        db.pragma_update(None, "query_only", true)?;
        db.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })?;
        Ok(())
    };
    // Another process starting, checkpointing or closing the database can
    // make a read-only open fail for a moment (busy, or a WAL index that
    // only a writer may rebuild): try again before falling back.
    let mut last = None;
    for attempt in 0..20 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(25 * attempt.min(4)));
        }
        match Connection::open_with_flags(path, flags) {
            Ok(db) => match probe(&db) {
                Ok(()) => return Ok((db, false)),
                Err(e) => last = Some(e),
            },
            Err(e) => last = Some(e),
        }
        // A lack of space or of write access will not go away: fall back
        // at once. Anything else may be another process at work: retry,
        // then report it as it is.
        let lacks_space = last.as_ref().is_some_and(|e| {
            matches!(
                e.sqlite_error_code(),
                Some(
                    rusqlite::ErrorCode::DiskFull
                        | rusqlite::ErrorCode::ReadOnly
                        | rusqlite::ErrorCode::CannotOpen
                        | rusqlite::ErrorCode::SystemIoFailure
                )
            )
        });
        if lacks_space && attempt >= 1 {
            break;
        }
    }
    let lacks_space = last.as_ref().is_some_and(|e| {
        matches!(
            e.sqlite_error_code(),
            Some(
                rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::ReadOnly
                    | rusqlite::ErrorCode::CannotOpen
                    | rusqlite::ErrorCode::SystemIoFailure
            )
        )
    });
    if !lacks_space {
        return Err(last.unwrap_or(rusqlite::Error::InvalidQuery));
    }
    let mut uri = String::from("file:");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'%' | b'?' | b'#' => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(b as char),
        }
    }
    uri.push_str("?immutable=1");
    let db = Connection::open_with_flags(&uri, flags | OpenFlags::SQLITE_OPEN_URI)?;
    probe(&db)?;
    Ok((db, true))
}

/// Whether the database has the `items` table (a leakhound manifest).
pub fn has_items(db: &Connection) -> rusqlite::Result<bool> {
    db.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'items'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// The schema version (`PRAGMA user_version`).
pub fn version(db: &Connection) -> rusqlite::Result<i64> {
    db.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Creates the schema in a new, empty manifest.
pub fn create(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(&format!(
        "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ))
}

/// Whether the table has a column of this name.
pub fn has_column(db: &Connection, name: &str) -> rusqlite::Result<bool> {
    let n: i64 = db.query_row(
        "SELECT count(*) FROM pragma_table_info('items') WHERE name = ?1",
        [name],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// A version-1 row being migrated: what [`migrate`] needs to compute its
/// new columns.
pub struct OldRow {
    pub id: String,
    pub state: State,
    pub sha256: Option<String>,
    pub restore_temp: Option<String>,
    pub restore_to: Option<String>,
}

/// What the caller computed for one old row.
pub struct Migrated {
    /// The keyed MAC of the object, or `None` (no object, or the object
    /// does not match the old hash: restore will call it damaged).
    pub mac: Option<String>,
    /// An interrupted old restore that had landed: the file now there.
    pub landed: Option<(u64, u64)>,
}

/// Migrates a version-1 manifest (with `sha256`) to the current schema, in
/// one transaction, calling `each` for every row to compute its MAC. The
/// old plaintext hashes are erased from the file (`secure_delete`, then a
/// `VACUUM`), not just unlinked from the table. Returns how many rows.
pub fn migrate(
    db: &Connection,
    mut each: impl FnMut(&OldRow) -> Migrated,
) -> rusqlite::Result<usize> {
    db.pragma_update(None, "secure_delete", true)?;
    db.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        // Another process may have migrated while this one waited.
        if !has_column(db, "sha256")? {
            return Ok(0);
        }
        for col in ["mac TEXT", "restore_dev INTEGER", "restore_ino INTEGER"] {
            let name = col.split(' ').next().unwrap_or(col);
            if !has_column(db, name)? {
                db.execute_batch(&format!("ALTER TABLE items ADD COLUMN {col}"))?;
            }
        }
        // Version 1 marked an interrupted restore by `restore_temp` on a
        // `done` row; version 2 has a state for it.
        db.execute(
            "UPDATE items SET state = ?1 WHERE state = ?2 AND restore_temp IS NOT NULL",
            params![State::Restoring, State::Done],
        )?;
        let rows: Vec<OldRow> = {
            let mut stmt =
                db.prepare("SELECT id, state, sha256, restore_temp, restore_to FROM items")?;
            stmt.query_map([], |r| {
                Ok(OldRow {
                    id: r.get(0)?,
                    state: r.get(1)?,
                    sha256: r.get(2)?,
                    restore_temp: r.get(3)?,
                    restore_to: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?
        };
        for row in &rows {
            let m = each(row);
            db.execute(
                "UPDATE items SET mac = ?2, restore_dev = ?3, restore_ino = ?4 WHERE id = ?1",
                params![
                    row.id,
                    m.mac,
                    m.landed.map(|l| l.0 as i64),
                    m.landed.map(|l| l.1 as i64)
                ],
            )?;
        }
        escape_old_paths(db)?;
        db.execute_batch(&format!(
            "ALTER TABLE items DROP COLUMN sha256; PRAGMA user_version = {SCHEMA_VERSION};"
        ))?;
        Ok(rows.len())
    })();
    match result {
        Ok(n) => {
            db.execute_batch("COMMIT")?;
            // Rewrites the file without the free pages that held the old
            // hashes; best effort (a full disk only leaves them there).
            let _ = db.execute_batch("VACUUM");
            let _ = db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            Ok(n)
        }
        Err(e) => {
            let _ = db.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The path columns, escaped by [`escape_old_paths`].
const PATH_COLUMNS: [&str; 4] = ["path", "restore_temp", "restore_to", "restored_to"];

/// A path as versions 1 and 2 kept it (`to_string_lossy()`) in the escaped
/// form of version 3: the same text, with backslashes and control
/// characters escaped, so that `names::to_path` gives back its bytes.
pub fn legacy_path(old: &str) -> String {
    crate::report::names::escape_bytes(old.as_bytes())
}

/// Rewrites every path column of every row with [`legacy_path`], inside
/// the caller's transaction. Returns how many rows changed.
fn escape_old_paths(db: &Connection) -> rusqlite::Result<usize> {
    let mut changed = 0;
    for col in PATH_COLUMNS {
        let rows: Vec<(String, String)> = {
            let mut stmt = db.prepare(&format!(
                "SELECT id, {col} FROM items WHERE {col} IS NOT NULL"
            ))?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        for (id, old) in rows {
            let new = legacy_path(&old);
            if new != old {
                changed += db.execute(
                    &format!("UPDATE items SET {col} = ?2 WHERE id = ?1"),
                    params![id, new],
                )?;
            }
        }
    }
    Ok(changed)
}

/// Migrates a version-2 manifest to version 3 (paths escaped losslessly),
/// in one transaction; a no-op when another process did it first.
/// Returns how many path values were rewritten.
pub fn migrate_paths(db: &Connection) -> rusqlite::Result<usize> {
    db.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        if version(db)? >= SCHEMA_VERSION || has_column(db, "sha256")? {
            return Ok(0);
        }
        let n = escape_old_paths(db)?;
        db.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};"))?;
        Ok(n)
    })();
    match result {
        Ok(n) => {
            db.execute_batch("COMMIT")?;
            Ok(n)
        }
        Err(e) => {
            let _ = db.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Rows read from a manifest older than version 3 (opened read-only, not
/// migrated) get their paths in the escaped form.
fn fix_legacy(db: &Connection, items: &mut [Item]) -> rusqlite::Result<()> {
    if version(db)? < SCHEMA_VERSION {
        for it in items {
            it.path = legacy_path(&it.path);
            it.restored_to = it.restored_to.as_deref().map(legacy_path);
        }
    }
    Ok(())
}

/// The row of `id`, if any.
pub fn get(db: &Connection, id: &str) -> rusqlite::Result<Option<Item>> {
    let mut item = db
        .query_row(
            &format!("SELECT {} FROM items WHERE id = ?1", item_columns(db)?),
            [id],
            item_from_row,
        )
        .optional()?;
    if let Some(it) = &mut item {
        fix_legacy(db, std::slice::from_mut(it))?;
    }
    Ok(item)
}

/// The state of `id`, if it has a row.
pub fn state_of(db: &Connection, id: &str) -> rusqlite::Result<Option<State>> {
    db.query_row("SELECT state FROM items WHERE id = ?1", [id], |r| r.get(0))
        .optional()
}

/// Every id in the manifest.
pub fn all_ids(db: &Connection) -> rusqlite::Result<std::collections::HashSet<String>> {
    let mut stmt = db.prepare("SELECT id FROM items")?;
    stmt.query_map([], |r| r.get::<_, String>(0))?.collect()
}

/// Every row, oldest first.
pub fn list(db: &Connection) -> rusqlite::Result<Vec<Item>> {
    let mut stmt = db.prepare(&format!(
        "SELECT {} FROM items ORDER BY time_unix, id",
        item_columns(db)?
    ))?;
    let mut items: Vec<Item> = stmt
        .query_map([], item_from_row)?
        .collect::<Result<_, _>>()?;
    fix_legacy(db, &mut items)?;
    Ok(items)
}

/// Ids of rows in one of `states`.
pub fn ids_in(db: &Connection, states: &[State]) -> rusqlite::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stmt = db.prepare("SELECT id FROM items WHERE state = ?1 ORDER BY time_unix, id")?;
    for st in states {
        for id in stmt.query_map([st], |r| r.get::<_, String>(0))? {
            out.push(id?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_sqlite_and_unknown_ones_are_errors() {
        let db = Connection::open_in_memory().unwrap();
        create(&db).unwrap();
        assert_eq!(version(&db).unwrap(), SCHEMA_VERSION);
        for st in State::ALL {
            let back: State = db.query_row("SELECT ?1", [st], |r| r.get(0)).unwrap();
            assert_eq!(back, st);
            assert_eq!(
                serde_json::to_value(st).unwrap(),
                serde_json::Value::from(st.as_str())
            );
        }
        let bad: rusqlite::Result<State> = db.query_row("SELECT 'quarantined'", [], |r| r.get(0));
        assert!(bad.is_err());
    }

    #[test]
    fn a_version_1_manifest_reads_without_a_mac() {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE TABLE items (id TEXT PRIMARY KEY, state TEXT NOT NULL, path TEXT NOT NULL,
             size INTEGER NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,
             mtime INTEGER NOT NULL, mtime_nsec INTEGER NOT NULL, dev INTEGER NOT NULL,
             ino INTEGER NOT NULL, sha256 TEXT, findings TEXT NOT NULL DEFAULT '[]',
             time TEXT NOT NULL, time_unix INTEGER NOT NULL, host TEXT NOT NULL,
             tombstone INTEGER NOT NULL DEFAULT 0, restore_temp TEXT, restore_to TEXT,
             restored_to TEXT, encrypted INTEGER NOT NULL DEFAULT 0);
             INSERT INTO items (id, state, path, size, mode, uid, gid, mtime, mtime_nsec, dev, ino,
             sha256, time, time_unix, host) VALUES ('a', 'done', '/x', 1, 420, 0, 0, 0, 0, 0, 0,
             'ff', 't', 0, 'h');",
        )
        .unwrap();
        let item = get(&db, "a").unwrap().unwrap();
        assert_eq!(item.state, State::Done);
        assert_eq!(item.mac, None);
        let n = migrate(&db, |row| {
            assert_eq!(row.sha256.as_deref(), Some("ff"));
            Migrated {
                mac: Some("00".into()),
                landed: None,
            }
        })
        .unwrap();
        assert_eq!(n, 1);
        assert!(!has_column(&db, "sha256").unwrap());
        assert_eq!(get(&db, "a").unwrap().unwrap().mac.as_deref(), Some("00"));
        assert_eq!(version(&db).unwrap(), SCHEMA_VERSION);
    }
}
