//! The quarantine store: files moved out of reach, a manifest, restore.
//!
//! A store is a directory on this host (mode 0700) holding `manifest.db`
//! (SQLite in WAL mode, synchronous=FULL) and `objects/<id>` (mode 0600,
//! the file's bytes). The manifest row is also the journal of the move:
//!
//! 1. insert the row as `pending` (original path, size, mode, owner, group,
//!    mtime, device and inode);
//! 2. copy the bytes into `objects/<id>.part` while hashing (SHA-256) and
//!    scanning them, fsync, rename to `objects/<id>`, fsync the directory;
//! 3. commit the hash and the masked findings, state `stored`;
//! 4. remove the original (or rename a tombstone over it), fsync its
//!    directory;
//! 5. state `done`.
//!
//! [`Store::recover`], run whenever a store is opened, finishes or undoes
//! whatever a crash interrupted: a `pending` row is undone (the original
//! was never touched); a `stored` row whose original is still in place is
//! undone, otherwise completed; an interrupted restore or purge is
//! completed; objects with no row are removed. So after any crash every
//! file is either intact at its path or in the store with its hash, and
//! the manifest and the objects agree.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::fingerprint::Fingerprinter;
use crate::report::event::{Event, FileStatus, hostname, now_rfc3339};
use crate::rules::Confidence;

use super::fault;
use super::journal::create_private_dir;
use super::safe_fs::{self, Target};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "quarantine store {dir}: {what}: {source} (check that it exists, is writable by this user, and has space)"
    )]
    Io {
        dir: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("quarantine manifest {path}: {source}")]
    Manifest {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("quarantine id {0} is not in the manifest (see `leakhound quarantine list`)")]
    UnknownId(String),
    /// An operation refused for a reason the message gives.
    #[error("{0}")]
    Refused(String),
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

/// One manifest row.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: String,
    /// `pending`, `stored`, `done` (in the store), `restored`, `purging`.
    pub state: String,
    pub path: String,
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub sha256: Option<String>,
    pub findings: Vec<StoredFinding>,
    pub time: String,
    pub host: String,
    pub tombstone: bool,
    pub restored_to: Option<String>,
    /// Stored encrypted to age recipients: restore needs the private key.
    pub encrypted: bool,
}

/// A quarantined file.
#[derive(Debug)]
pub struct Quarantined {
    pub id: String,
    pub findings: Vec<StoredFinding>,
}

/// A manifest row that recovery must look at.
struct Unfinished {
    id: String,
    state: String,
    path: String,
    dev: i64,
    ino: i64,
    restore_temp: Option<String>,
    restore_to: Option<String>,
    sha: Option<String>,
}

/// An open quarantine store.
pub struct Store {
    dir: PathBuf,
    objects: OwnedFd,
    db: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    gid INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    mtime_nsec INTEGER NOT NULL,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    sha256 TEXT,
    findings TEXT NOT NULL DEFAULT '[]',
    time TEXT NOT NULL,
    time_unix INTEGER NOT NULL,
    host TEXT NOT NULL,
    tombstone INTEGER NOT NULL DEFAULT 0,
    restore_temp TEXT,
    restore_to TEXT,
    restored_to TEXT,
    encrypted INTEGER NOT NULL DEFAULT 0
);";

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads through to a writer and a hash: the copy into the store, the
/// hash and the findings come from one read of the original.
struct Tee<'a> {
    src: &'a File,
    dst: &'a mut dyn Write,
    hasher: Sha256,
    bytes: u64,
    error: Option<std::io::Error>,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.src.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        if let Err(e) = self.dst.write_all(&buf[..n]) {
            let kind = e.kind();
            self.error = Some(e);
            return Err(std::io::Error::new(kind, "cannot write into the store"));
        }
        Ok(n)
    }
}

impl Store {
    /// Opens (creating it if needed) the store in `dir`, and recovers any
    /// operation a crash interrupted.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let io = |what: &'static str| {
            move |source: std::io::Error| StoreError::Io {
                dir: dir.to_path_buf(),
                what,
                source,
            }
        };
        create_private_dir(&dir.join("objects")).map_err(io("cannot create"))?;
        {
            // Only authorised people may look inside, whoever made the directory.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io("cannot set mode 0700 on"))?;
        }
        let objects =
            safe_fs::open_dir(&dir.join("objects")).map_err(|e| io("cannot open")(e.into()))?;
        let db_path = dir.join("manifest.db");
        let mdb = |source| StoreError::Manifest {
            path: db_path.clone(),
            source,
        };
        let db = Connection::open(&db_path).map_err(mdb)?;
        // Durable commits: a committed row must survive a power cut, since
        // the original is removed right after.
        db.pragma_update(None, "journal_mode", "WAL").map_err(mdb)?;
        db.pragma_update(None, "synchronous", "FULL").map_err(mdb)?;
        db.busy_timeout(Duration::from_secs(10)).map_err(mdb)?;
        db.execute_batch(SCHEMA).map_err(mdb)?;
        for name in ["manifest.db", "manifest.db-wal", "manifest.db-shm"] {
            use std::os::unix::fs::PermissionsExt;
            let _ =
                std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o600));
        }
        let store = Store {
            dir: dir.to_path_buf(),
            objects,
            db,
        };
        store.recover()?;
        Ok(store)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn mdb(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Manifest {
            path: self.dir.join("manifest.db"),
            source,
        }
    }

    fn io(&self, what: &'static str) -> impl Fn(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            dir: self.dir.clone(),
            what,
            source,
        }
    }

    fn unlink_object(&self, name: &str) -> Result<(), StoreError> {
        match rustix::fs::unlinkat(&self.objects, name, rustix::fs::AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(self.io("cannot remove an object")(e.into())),
        }
    }

    /// Moves the target into the store. On `Err`, the original is where
    /// it was.
    pub fn quarantine(
        &self,
        target: &Target,
        engine: &Engine,
        fingerprinter: &Fingerprinter,
        min_confidence: Confidence,
        // `Some(contact)`: leave a tombstone naming whom to ask.
        tombstone: Option<&str>,
        // Encrypt the stored copy to these keys (none: store it as it is).
        recipients: &[age::x25519::Recipient],
    ) -> Result<Quarantined, StoreError> {
        let id = format!(
            "{}-{}",
            humantime::format_rfc3339_seconds(SystemTime::now())
                .to_string()
                .replace([':', '-'], "")
                .trim_end_matches('Z'),
            safe_fs::random_id(4)
        );
        let st = &target.stat;
        let path = target.abs_path();
        self.db
            .execute(
                "INSERT INTO items (id, state, path, size, mode, uid, gid, mtime, mtime_nsec, dev, ino, time, time_unix, host, tombstone, encrypted)
                 VALUES (?1, 'pending', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    id,
                    path.to_string_lossy(),
                    st.st_size,
                    st.st_mode,
                    st.st_uid,
                    st.st_gid,
                    st.st_mtime,
                    st.st_mtime_nsec as i64,
                    st.st_dev as i64,
                    st.st_ino as i64,
                    now_rfc3339(),
                    unix_now(),
                    hostname(),
                    tombstone.is_some(),
                    !recipients.is_empty(),
                ],
            )
            .map_err(self.mdb())?;
        fault::point("quarantine:after-begin");
        let findings = match self.copy_in(
            &id,
            target,
            engine,
            fingerprinter,
            min_confidence,
            recipients,
        ) {
            Ok(f) => f,
            Err(e) => {
                self.undo(&id);
                return Err(e);
            }
        };
        if let Err(e) = self.remove_original(&id, target, tombstone) {
            self.undo(&id);
            return Err(e);
        }
        fault::point("quarantine:after-remove");
        self.db
            .execute("UPDATE items SET state = 'done' WHERE id = ?1", params![id])
            .map_err(self.mdb())?;
        Ok(Quarantined { id, findings })
    }

    /// Undoes a move that failed before the original was removed.
    fn undo(&self, id: &str) {
        let _ = self.unlink_object(&format!("{id}.part"));
        let _ = self.unlink_object(id);
        let _ = safe_fs::fsync_dir(&self.objects);
        let _ = self
            .db
            .execute("DELETE FROM items WHERE id = ?1", params![id]);
    }

    fn copy_in(
        &self,
        id: &str,
        target: &Target,
        engine: &Engine,
        fingerprinter: &Fingerprinter,
        min_confidence: Confidence,
        recipients: &[age::x25519::Recipient],
    ) -> Result<Vec<StoredFinding>, StoreError> {
        let part = format!("{id}.part");
        let mut dst = safe_fs::create_new(&self.objects, OsStr::new(&part), 0o600)
            .map_err(self.io("cannot create an object"))?;
        let mut src = &target.file;
        std::io::Seek::seek(&mut src, std::io::SeekFrom::Start(0))
            .map_err(|e| StoreError::Refused(format!("cannot read the file: {e}")))?;
        let copy = |out: &mut dyn Write| {
            let mut tee = Tee {
                src: &target.file,
                dst: out,
                hasher: Sha256::new(),
                bytes: 0,
                error: None,
            };
            let events = crate::scan::scan_one(
                engine,
                fingerprinter,
                "-",
                &mut tee,
                min_confidence,
                crate::extract::Limits::default(),
            );
            match tee.error.take() {
                Some(e) => Err(self.io("cannot write into the store")(e)),
                None => Ok((events, tee.bytes, hex(&tee.hasher.finalize()))),
            }
        };
        let (events, bytes, sha) = if recipients.is_empty() {
            copy(&mut dst)?
        } else {
            // The hash is of the plaintext, so restore can verify what it
            // decrypted; the store only ever holds ciphertext.
            let enc = age::Encryptor::with_recipients(
                recipients.iter().map(|r| r as &dyn age::Recipient),
            )
            .map_err(|e| StoreError::Refused(format!("cannot encrypt: {e}")))?;
            let mut w = enc
                .wrap_output(&mut dst)
                .map_err(self.io("cannot write into the store"))?;
            let r = copy(&mut w)?;
            w.finish().map_err(self.io("cannot write into the store"))?;
            r
        };
        let mut findings = Vec::new();
        for ev in &events {
            match ev {
                Event::Finding(f) => findings.push(StoredFinding {
                    rule: f.rule.clone(),
                    kind: f.kind.clone(),
                    severity: f.severity.as_str().to_string(),
                    masked: f.masked.clone(),
                    fingerprint: f.fingerprint.clone(),
                    line: f.line,
                }),
                Event::File(r) if r.status != FileStatus::Scanned => {
                    return Err(StoreError::Refused(format!(
                        "cannot read the whole file: {}",
                        r.reason.as_deref().unwrap_or("read error")
                    )));
                }
                _ => {}
            }
        }
        if bytes != target.stat.st_size as u64 {
            return Err(StoreError::Refused(
                "the file changed size while it was copied; left as it is, scan it again"
                    .to_string(),
            ));
        }
        dst.sync_all().map_err(self.io("cannot fsync an object"))?;
        drop(dst);
        rustix::fs::renameat(&self.objects, part.as_str(), &self.objects, id)
            .map_err(|e| self.io("cannot rename an object")(e.into()))?;
        safe_fs::fsync_dir(&self.objects).map_err(self.io("cannot fsync"))?;
        fault::point("quarantine:after-copy");
        target.unchanged().map_err(StoreError::Refused)?;
        let json = serde_json::to_string(&findings).unwrap_or_else(|_| "[]".into());
        self.db
            .execute(
                "UPDATE items SET state = 'stored', sha256 = ?2, findings = ?3 WHERE id = ?1",
                params![id, sha, json],
            )
            .map_err(self.mdb())?;
        fault::point("quarantine:after-commit");
        Ok(findings)
    }

    /// Removes the original, or atomically replaces it with a tombstone.
    fn remove_original(
        &self,
        id: &str,
        target: &Target,
        tombstone: Option<&str>,
    ) -> Result<(), StoreError> {
        target.unchanged().map_err(StoreError::Refused)?;
        let refuse = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Refused(format!(
                "copied into the store, but {what}: {e}; the original is left in place"
            ))
        };
        match tombstone {
            Some(contact) => {
                let text = tombstone_text(id, target.stat.st_size as u64, contact);
                let tmp = format!(".leakhound-tomb-{id}");
                let mut f = safe_fs::create_new(&target.dir, OsStr::new(&tmp), 0o644)
                    .map_err(|e| refuse("cannot write the tombstone", &e))?;
                let written = f.write_all(text.as_bytes()).and_then(|_| f.sync_all());
                if let Err(e) = written {
                    let _ = rustix::fs::unlinkat(
                        &target.dir,
                        tmp.as_str(),
                        rustix::fs::AtFlags::empty(),
                    );
                    return Err(refuse("cannot write the tombstone", &e));
                }
                rustix::fs::renameat(
                    &target.dir,
                    tmp.as_str(),
                    &target.dir,
                    target.name.as_os_str(),
                )
                .map_err(|e| {
                    let _ = rustix::fs::unlinkat(
                        &target.dir,
                        tmp.as_str(),
                        rustix::fs::AtFlags::empty(),
                    );
                    refuse("cannot put the tombstone in its place", &e)
                })?;
            }
            None => {
                rustix::fs::unlinkat(
                    &target.dir,
                    target.name.as_os_str(),
                    rustix::fs::AtFlags::empty(),
                )
                .map_err(|e| refuse("cannot remove the original", &e))?;
            }
        }
        safe_fs::fsync_dir(&target.dir).map_err(self.io("cannot fsync the file's directory"))?;
        Ok(())
    }

    /// Finishes or undoes whatever a crash interrupted (see the module
    /// docs). Returns how many rows needed it.
    pub fn recover(&self) -> Result<usize, StoreError> {
        let rows: Vec<Unfinished> = {
            let mut stmt = self
                .db
                .prepare(
                    "SELECT id, state, path, dev, ino, restore_temp, restore_to, sha256 FROM items
                     WHERE state IN ('pending', 'stored', 'purging') OR restore_temp IS NOT NULL",
                )
                .map_err(self.mdb())?;
            stmt.query_map([], |r| {
                Ok(Unfinished {
                    id: r.get(0)?,
                    state: r.get(1)?,
                    path: r.get(2)?,
                    dev: r.get(3)?,
                    ino: r.get(4)?,
                    restore_temp: r.get(5)?,
                    restore_to: r.get(6)?,
                    sha: r.get(7)?,
                })
            })
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(self.mdb())?
        };
        let n = rows.len();
        for Unfinished {
            id,
            state,
            path,
            dev,
            ino,
            restore_temp,
            restore_to,
            sha,
        } in rows
        {
            match state.as_str() {
                "pending" => self.undo(&id),
                "stored" => {
                    let path = PathBuf::from(path);
                    if let Some(parent) = path.parent() {
                        let _ = std::fs::remove_file(parent.join(format!(".leakhound-tomb-{id}")));
                    }
                    let in_place = rustix::fs::lstat(&path)
                        .is_ok_and(|st| st.st_dev as i64 == dev && st.st_ino as i64 == ino);
                    if in_place {
                        self.undo(&id);
                    } else {
                        self.set_state(&id, "done")?;
                    }
                }
                "purging" => {
                    self.unlink_object(&id)?;
                    self.db
                        .execute("DELETE FROM items WHERE id = ?1", params![id])
                        .map_err(self.mdb())?;
                }
                _ => {
                    // An interrupted restore.
                    let temp = restore_temp.map(PathBuf::from);
                    let temp_left = temp.as_ref().is_some_and(|t| rustix::fs::lstat(t).is_ok());
                    let landed = !temp_left
                        && restore_to.as_ref().is_some_and(|to| {
                            sha.as_deref()
                                .is_some_and(|s| hash_file(Path::new(to)).as_deref() == Some(s))
                        });
                    if let Some(t) = temp.filter(|_| temp_left) {
                        let _ = std::fs::remove_file(t);
                    }
                    if landed {
                        self.db
                            .execute(
                                "UPDATE items SET state = 'restored', restored_to = restore_to, restore_temp = NULL WHERE id = ?1",
                                params![id],
                            )
                            .map_err(self.mdb())?;
                        self.unlink_object(&id)?;
                    } else {
                        self.db
                            .execute(
                                "UPDATE items SET restore_temp = NULL, restore_to = NULL WHERE id = ?1",
                                params![id],
                            )
                            .map_err(self.mdb())?;
                    }
                }
            }
        }
        // Objects with no row in the store (a crash between creating the
        // object and a cleanup) are removed.
        let kept: std::collections::HashSet<String> = {
            let mut stmt = self
                .db
                .prepare("SELECT id FROM items WHERE state IN ('stored', 'done')")
                .map_err(self.mdb())?;
            stmt.query_map([], |r| r.get::<_, String>(0))
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(self.mdb())?
        };
        for name in self.object_names()? {
            if !kept.contains(&name) {
                self.unlink_object(&name)?;
            }
        }
        safe_fs::fsync_dir(&self.objects).map_err(self.io("cannot fsync"))?;
        Ok(n)
    }

    /// Names in `objects/` (ids, and `<id>.part` for unfinished copies).
    pub fn object_names(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for de in
            std::fs::read_dir(self.dir.join("objects")).map_err(self.io("cannot list objects"))?
        {
            let de = de.map_err(self.io("cannot list objects"))?;
            out.push(de.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    }

    fn set_state(&self, id: &str, state: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE items SET state = ?2 WHERE id = ?1",
                params![id, state],
            )
            .map_err(self.mdb())?;
        Ok(())
    }

    /// Every row, oldest first.
    pub fn list(&self) -> Result<Vec<Item>, StoreError> {
        self.select("SELECT id, state, path, size, mode, uid, gid, mtime, sha256, findings, time, host, tombstone, restored_to, encrypted FROM items ORDER BY time_unix, id", [])
    }

    /// One row.
    pub fn get(&self, id: &str) -> Result<Item, StoreError> {
        self.select("SELECT id, state, path, size, mode, uid, gid, mtime, sha256, findings, time, host, tombstone, restored_to, encrypted FROM items WHERE id = ?1", [id])?
            .pop()
            .ok_or_else(|| StoreError::UnknownId(id.to_string()))
    }

    fn select<P: rusqlite::Params>(&self, sql: &str, p: P) -> Result<Vec<Item>, StoreError> {
        let mut stmt = self.db.prepare(sql).map_err(self.mdb())?;
        stmt.query_map(p, |r| {
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
                sha256: r.get(8)?,
                findings: serde_json::from_str(&findings).unwrap_or_default(),
                time: r.get(10)?,
                host: r.get(11)?,
                tombstone: r.get(12)?,
                restored_to: r.get(13)?,
                encrypted: r.get(14)?,
            })
        })
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(self.mdb())
    }

    /// Restores a quarantined file to its original path or to `to`:
    /// verifies the hash, refuses to overwrite anything but this file's own
    /// tombstone, restores mode, owner and modification time. Returns the
    /// path written and warnings (an owner that could not be restored).
    /// `identity`: an age identity file, for copies encrypted at rest.
    pub fn restore(
        &self,
        id: &str,
        to: Option<&Path>,
        identity: Option<&Path>,
    ) -> Result<(PathBuf, Vec<String>), StoreError> {
        let item = self.get(id)?;
        let identities = match (item.encrypted, identity) {
            (false, _) => Vec::new(),
            (true, None) => {
                return Err(StoreError::Refused(format!(
                    "{id} is encrypted at rest: give the private key with --identity FILE"
                )));
            }
            (true, Some(path)) => read_identities(path)?,
        };
        if item.state != "done" {
            return Err(StoreError::Refused(format!(
                "{id} is {}, not in the store: nothing to restore",
                item.state
            )));
        }
        let mtime_nsec: i64 = self
            .db
            .query_row("SELECT mtime_nsec FROM items WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .map_err(self.mdb())?;
        let dest = to
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(&item.path));
        let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
            return Err(StoreError::Refused(format!(
                "{}: not a file path",
                dest.display()
            )));
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let dir = safe_fs::open_dir(parent).map_err(|e| {
            StoreError::Refused(format!(
                "cannot open the directory {}: {e}",
                parent.display()
            ))
        })?;
        let replace_tombstone = match rustix::fs::statat(
            &dir,
            name,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        ) {
            Err(_) => false,
            Ok(_) if is_tombstone_of(&dir, name, id) => true,
            Ok(_) => {
                return Err(StoreError::Refused(format!(
                    "{} exists: restore never overwrites a file (move it away, or restore with --to PATH)",
                    dest.display()
                )));
            }
        };
        let tmp = format!(".leakhound-restore-{}.tmp", safe_fs::random_id(6));
        let abs_dir = safe_fs::dir_path(&dir);
        self.db
            .execute(
                "UPDATE items SET restore_temp = ?2, restore_to = ?3 WHERE id = ?1",
                params![
                    id,
                    abs_dir.join(&tmp).to_string_lossy(),
                    abs_dir.join(name).to_string_lossy()
                ],
            )
            .map_err(self.mdb())?;
        let result = self.write_restored(
            &item,
            &identities,
            mtime_nsec,
            &dir,
            &tmp,
            name,
            replace_tombstone,
        );
        if result.is_err() {
            let _ = rustix::fs::unlinkat(&dir, tmp.as_str(), rustix::fs::AtFlags::empty());
            let _ = self.db.execute(
                "UPDATE items SET restore_temp = NULL, restore_to = NULL WHERE id = ?1",
                params![id],
            );
        }
        let warnings = result?;
        self.db
            .execute(
                "UPDATE items SET state = 'restored', restored_to = restore_to, restore_temp = NULL WHERE id = ?1",
                params![id],
            )
            .map_err(self.mdb())?;
        self.unlink_object(id)?;
        safe_fs::fsync_dir(&self.objects).map_err(self.io("cannot fsync"))?;
        Ok((abs_dir.join(name), warnings))
    }

    #[allow(clippy::too_many_arguments)]
    fn write_restored(
        &self,
        item: &Item,
        identities: &[age::x25519::Identity],
        mtime_nsec: i64,
        dir: &OwnedFd,
        tmp: &str,
        name: &OsStr,
        replace_tombstone: bool,
    ) -> Result<Vec<String>, StoreError> {
        let mut warnings = Vec::new();
        let obj = rustix::fs::openat(
            &self.objects,
            item.id.as_str(),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| {
            StoreError::Refused(format!("the stored copy of {} is missing: {e}", item.id))
        })?;
        let obj = File::from(obj);
        let mut obj: Box<dyn Read> = if item.encrypted {
            let d = age::Decryptor::new(obj).map_err(|e| {
                StoreError::Refused(format!(
                    "the stored copy of {} cannot be read: {e}",
                    item.id
                ))
            })?;
            let r = d
                .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
                .map_err(|e| {
                    StoreError::Refused(format!(
                        "cannot decrypt {} with the given identity: {e}",
                        item.id
                    ))
                })?;
            Box::new(r)
        } else {
            Box::new(obj)
        };
        let mut out = safe_fs::create_new(dir, OsStr::new(tmp), 0o600).map_err(|e| {
            StoreError::Refused(format!("cannot create a file to restore into: {e}"))
        })?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = obj
                .read(&mut buf)
                .map_err(self.io("cannot read the stored copy"))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| StoreError::Refused(format!("cannot write the restored file: {e}")))?;
        }
        let sha = hex(&hasher.finalize());
        if item.sha256.as_deref() != Some(sha.as_str()) {
            return Err(StoreError::Refused(format!(
                "the stored copy of {} does not match its SHA-256 in the manifest: it is damaged; not restored",
                item.id
            )));
        }
        if let Err(e) = rustix::fs::fchown(
            &out,
            Some(rustix::fs::Uid::from_raw(item.uid)),
            Some(rustix::fs::Gid::from_raw(item.gid)),
        ) {
            warnings.push(format!(
                "owner {}:{} not restored ({e}); run restore as root to keep it",
                item.uid, item.gid
            ));
        }
        rustix::fs::fchmod(&out, rustix::fs::Mode::from_raw_mode(item.mode & 0o7777))
            .map_err(|e| StoreError::Refused(format!("cannot set the mode: {e}")))?;
        let ts = rustix::fs::Timespec {
            tv_sec: item.mtime,
            tv_nsec: mtime_nsec as _,
        };
        let _ = rustix::fs::futimens(
            &out,
            &rustix::fs::Timestamps {
                last_access: ts,
                last_modification: ts,
            },
        );
        out.sync_all()
            .map_err(|e| StoreError::Refused(format!("cannot fsync the restored file: {e}")))?;
        fault::point("restore:after-temp");
        let renamed = if replace_tombstone {
            rustix::fs::renameat(dir, tmp, dir, name)
        } else {
            rustix::fs::renameat_with(dir, tmp, dir, name, rustix::fs::RenameFlags::NOREPLACE)
        };
        renamed.map_err(|e| match e {
            rustix::io::Errno::EXIST => StoreError::Refused(
                "a file appeared at the destination: restore never overwrites a file".to_string(),
            ),
            e => StoreError::Refused(format!("cannot move the restored file into place: {e}")),
        })?;
        fault::point("restore:after-rename");
        safe_fs::fsync_dir(dir).map_err(self.io("cannot fsync the destination"))?;
        Ok(warnings)
    }

    /// Deletes stored copies (and their rows) quarantined more than
    /// `older_than` ago, and rows of files restored that long ago. Returns
    /// how many rows went.
    pub fn purge(&self, older_than: Duration) -> Result<usize, StoreError> {
        let cutoff = unix_now() - older_than.as_secs() as i64;
        let rows: Vec<(String, String)> = {
            let mut stmt = self
                .db
                .prepare("SELECT id, state FROM items WHERE time_unix <= ?1 AND state IN ('done', 'restored')")
                .map_err(self.mdb())?;
            stmt.query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(self.mdb())?
        };
        for (id, state) in &rows {
            if state == "done" {
                // Mark first, so a crash between the two steps is finished
                // by recovery instead of leaving a row without its object.
                self.set_state(id, "purging")?;
                fault::point("purge:after-mark");
                self.unlink_object(id)?;
            }
            self.db
                .execute("DELETE FROM items WHERE id = ?1", params![id])
                .map_err(self.mdb())?;
        }
        safe_fs::fsync_dir(&self.objects).map_err(self.io("cannot fsync"))?;
        Ok(rows.len())
    }
}

/// The first line of every tombstone.
pub const TOMBSTONE_HEAD: &str = "This file was quarantined by leakhound";

/// The tombstone left at the original path.
pub fn tombstone_text(id: &str, size: u64, contact: &str) -> String {
    format!(
        "{TOMBSTONE_HEAD} because it held payment card or national ID numbers.\n\
         \n\
         leakhound-quarantine-id: {id}\n\
         host: {}\n\
         original size: {size} bytes\n\
         \n\
         To get it back, ask {contact} (leakhound quarantine restore {id}).\n",
        hostname()
    )
}

fn is_tombstone_of(dir: &OwnedFd, name: &OsStr, id: &str) -> bool {
    let Ok(fd) = rustix::fs::openat(
        dir,
        name,
        rustix::fs::OFlags::RDONLY
            | rustix::fs::OFlags::NOFOLLOW
            | rustix::fs::OFlags::NONBLOCK
            | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) else {
        return false;
    };
    let mut head = Vec::new();
    if File::from(fd).take(4096).read_to_end(&mut head).is_err() {
        return false;
    }
    let text = String::from_utf8_lossy(&head);
    text.starts_with(TOMBSTONE_HEAD) && text.contains(&format!("leakhound-quarantine-id: {id}\n"))
}

/// Reads age X25519 identities (`AGE-SECRET-KEY-1...` lines; `#` comments).
fn read_identities(path: &Path) -> Result<Vec<age::x25519::Identity>, StoreError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        StoreError::Refused(format!(
            "{}: cannot read the identity file: {e}",
            path.display()
        ))
    })?;
    let ids: Vec<age::x25519::Identity> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.parse().ok())
        .collect();
    if ids.is_empty() {
        return Err(StoreError::Refused(format!(
            "{}: no age X25519 identity (AGE-SECRET-KEY-1...) in the file",
            path.display()
        )));
    }
    Ok(ids)
}

fn hash_file(path: &Path) -> Option<String> {
    let mut f = File::open(path).ok()?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(hex(&h.finalize()))
}
