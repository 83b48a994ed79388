//! The quarantine store: files moved out of reach, a manifest, restore.
//!
//! A store is a private directory on this host (mode 0700, owned by the
//! user running leakhound) holding `manifest.db` (SQLite in WAL mode,
//! synchronous=FULL, schema in `schema.sql`), `objects/<id>` (mode 0600,
//! the file's bytes, or age ciphertext), `key` (0600: the store's MAC
//! key), `locks/` (one lock file per operation in progress) and, when
//! recovery found objects without a row, `lost+found/`.
//!
//! What enters: a [`Target`] (an open file reached safely by `safe_fs`)
//! with the engine to record masked findings; a quarantine id to restore
//! or purge. What leaves: manifest rows ([`Item`]), restored files, and
//! warnings (`tracing`, and [`Store::warnings`] for the commands).
//!
//! The pieces: [`manifest`] (schema, [`State`], rows), [`lock`] (who owns
//! an operation), [`walk`] (reaching a directory from `/` without following
//! links, and whether it can be trusted), [`put`] (the move into the
//! store), [`recover`] (finishing or undoing what a dead process left),
//! [`restore`], [`purge`] and [`tombstone`]. The guarantees, and their
//! limits, are in `docs/actions.md` ("Quarantine").

pub mod lock;
pub mod manifest;
pub mod purge;
pub mod put;
pub mod recover;
pub mod restore;
pub mod tombstone;
pub mod walk;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hmac::{Hmac, KeyInit, Mac};
use rusqlite::Connection;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::safe_fs;

pub use manifest::{Item, State, StoredFinding};
pub use purge::PurgeReport;
pub use restore::{RestoreOptions, Restored};
pub use tombstone::{TOMBSTONE_HEAD, tombstone_text};
pub use walk::WalkError;

/// A path as error messages show it: escaped losslessly (D7, D12); the
/// commands mask numbers in the whole message at their edge (D11).
fn esc(path: &Path) -> String {
    crate::report::names::escape_path(path)
}

/// Why a store operation failed. Paths in messages are escaped ([`esc`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "quarantine store {}: {what}: {source} (check that it exists, is writable by this user, and has space)",
        esc(.dir)
    )]
    Io {
        dir: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("quarantine manifest {}: {source}", esc(.path))]
    Manifest {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("quarantine id {0} is not in the manifest (see `leakhound quarantine list`)")]
    UnknownId(String),
    /// The store's directory (or a file in it) is not safe to use (D4).
    #[error("quarantine store {}: refused: {why}", esc(.dir))]
    Untrusted { dir: PathBuf, why: String },
    #[error("quarantine store {}: {source}", esc(.dir))]
    Walk {
        dir: PathBuf,
        #[source]
        source: WalkError,
    },
    /// The manifest is missing, empty or unreadable while the store holds
    /// objects: never start a fresh manifest over them (D5).
    #[error(
        "quarantine store {}: {why}, but the store holds {objects} stored object(s): \
         refusing to start a new, empty manifest over them (they may be the only copies). \
         Put manifest.db back from a backup, or move the store aside and keep it",
        esc(.dir)
    )]
    ManifestLost {
        dir: PathBuf,
        why: String,
        objects: usize,
    },
    /// A row was not in the state the operation expected: another process
    /// changed it (nothing was removed).
    #[error(
        "quarantine id {id}: the manifest row is no longer {expected} (changed by another \
         process, or the manifest was replaced); stopped, nothing was removed"
    )]
    Conflict { id: String, expected: State },
    /// Another live process is working on this row.
    #[error("quarantine id {0} is being changed by another leakhound process; try again")]
    Busy(String),
    /// This store was opened read-only.
    #[error("quarantine store {}: opened read-only", esc(.0))]
    ReadOnly(PathBuf),
    /// An operation refused for a reason the message gives.
    #[error("{0}")]
    Refused(String),
}

/// A quarantined file.
#[derive(Debug)]
pub struct Quarantined {
    pub id: String,
    pub findings: Vec<StoredFinding>,
}

/// The HMAC-SHA256 the manifest keeps of each object.
type ObjectMac = Hmac<Sha256>;

/// An open quarantine store.
pub struct Store {
    dir: PathBuf,
    objects: OwnedFd,
    /// `None` when opened read-only.
    locks: Option<OwnedFd>,
    /// The MAC key; `None` when opened read-only.
    key: Option<Zeroizing<Vec<u8>>>,
    db: Connection,
    warnings: Vec<String>,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What [`inspect`] found in a store directory.
struct Contents {
    objects: Option<OwnedFd>,
    /// Names in `objects/` and `lost+found/`.
    stored: usize,
    /// `manifest.db` exists with at least one byte.
    manifest: bool,
}

fn open_private_child(
    dir: &OwnedFd,
    dir_path: &Path,
    name: &str,
    want: FileType,
) -> Result<Option<OwnedFd>, StoreError> {
    let mut flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    if want == FileType::Directory {
        flags |= OFlags::DIRECTORY;
    }
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(Errno::LOOP | Errno::NOTDIR) => {
            return Err(StoreError::Untrusted {
                dir: dir_path.to_path_buf(),
                why: format!("{name} is a symbolic link or of the wrong type"),
            });
        }
        Err(e) => {
            return Err(StoreError::Io {
                dir: dir_path.to_path_buf(),
                what: "cannot open a file in the store",
                source: e.into(),
            });
        }
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| StoreError::Io {
        dir: dir_path.to_path_buf(),
        what: "cannot stat a file in the store",
        source: e.into(),
    })?;
    check_private(&st, dir_path, name)?;
    if FileType::from_raw_mode(st.st_mode) != want {
        return Err(StoreError::Untrusted {
            dir: dir_path.to_path_buf(),
            why: format!(
                "{name} is not a {}",
                if want == FileType::Directory {
                    "directory"
                } else {
                    "regular file"
                }
            ),
        });
    }
    Ok(Some(fd))
}

/// A file or directory of the store must be this user's and writable by no
/// one else.
fn check_private(st: &rustix::fs::Stat, dir: &Path, name: &str) -> Result<(), StoreError> {
    let me = rustix::process::geteuid().as_raw();
    if st.st_uid != me {
        return Err(StoreError::Untrusted {
            dir: dir.to_path_buf(),
            why: format!(
                "{name} is owned by uid {}, not by this user (uid {me}); a store must belong \
                 to the user who runs leakhound",
                st.st_uid
            ),
        });
    }
    if st.st_mode & 0o022 != 0 {
        return Err(StoreError::Untrusted {
            dir: dir.to_path_buf(),
            why: format!(
                "{name} is writable by group or others (mode {:04o}); make it private \
                 (chmod go-w) after checking nobody changed it",
                st.st_mode & 0o7777
            ),
        });
    }
    Ok(())
}

/// Names in an open directory (not `.` and `..`).
fn names_in(dir: &OwnedFd) -> std::io::Result<Vec<String>> {
    let fd = rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut out = Vec::new();
    for e in rustix::fs::Dir::read_from(&fd)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            out.push(name);
        }
    }
    Ok(out)
}

/// Opens the store directory (D4: from `/` without links, every directory
/// on the way owned by root or this user and not writable by others, the
/// store itself this user's and private) and looks at what it holds.
fn open_store_dir(dir: &Path, create: bool) -> Result<(OwnedFd, PathBuf, Contents), StoreError> {
    let walk_err = |source| StoreError::Walk {
        dir: dir.to_path_buf(),
        source,
    };
    let abs = walk::absolute(dir).map_err(walk_err)?;
    let parent = abs.parent().unwrap_or(Path::new("/"));
    let (pfd, _) = walk::open_dir(parent, walk::Trust::Owned, create).map_err(walk_err)?;
    let name = abs.file_name().unwrap_or(OsStr::new("."));
    if create {
        match rustix::fs::mkdirat(&pfd, name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => {
                return Err(StoreError::Io {
                    dir: abs,
                    what: "cannot create",
                    source: e.into(),
                });
            }
        }
    }
    let fd = match rustix::fs::openat(
        &pfd,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::LOOP | Errno::NOTDIR) => {
            return Err(StoreError::Untrusted {
                dir: abs,
                why: "it is a symbolic link or not a directory (give the real path)".into(),
            });
        }
        Err(e) => {
            return Err(StoreError::Io {
                dir: abs,
                what: "cannot open",
                source: e.into(),
            });
        }
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| StoreError::Io {
        dir: abs.clone(),
        what: "cannot stat",
        source: e.into(),
    })?;
    check_private(&st, &abs, "the store directory")?;
    if create && st.st_mode & 0o077 != 0 {
        // Only authorised people may look inside, whoever made the
        // directory; on the descriptor, never on a path.
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o700)).map_err(|e| StoreError::Io {
            dir: abs.clone(),
            what: "cannot set mode 0700 on",
            source: e.into(),
        })?;
    }
    let objects = open_private_child(&fd, &abs, "objects", FileType::Directory)?;
    let lost = open_private_child(&fd, &abs, "lost+found", FileType::Directory)?;
    // An unreadable objects/ must not look empty (a fresh store).
    let mut stored = 0;
    for d in [&objects, &lost].into_iter().flatten() {
        stored += names_in(d)
            .map_err(|source| StoreError::Io {
                dir: abs.clone(),
                what: "cannot list the stored objects in",
                source,
            })?
            .len();
    }
    // A manifest just created holds its first commits in the WAL.
    let mut manifest = false;
    for name in ["manifest.db", "manifest.db-wal"] {
        if let Some(m) = open_private_child(&fd, &abs, name, FileType::RegularFile)? {
            manifest |= rustix::fs::fstat(&m).is_ok_and(|s| s.st_size > 0);
        }
    }
    Ok((
        fd,
        abs,
        Contents {
            objects,
            stored,
            manifest,
        },
    ))
}

impl Store {
    /// Opens (creating it if the directory is new or empty) the store in
    /// `dir` for changes, and recovers the operations of processes that
    /// died (only those: see `lock`).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let (fd, abs, contents) = open_store_dir(dir, true)?;
        let io = |what: &'static str| {
            let abs = abs.clone();
            move |source: std::io::Error| StoreError::Io {
                dir: abs.clone(),
                what,
                source,
            }
        };
        let fresh = !contents.manifest;
        if fresh && contents.stored > 0 {
            return Err(StoreError::ManifestLost {
                dir: abs,
                why: "manifest.db is missing or empty".into(),
                objects: contents.stored,
            });
        }
        let objects = match contents.objects {
            Some(o) => o,
            None => {
                mkdir_private(&fd, "objects").map_err(io("cannot create objects/ in"))?;
                open_private_child(&fd, &abs, "objects", FileType::Directory)?
                    .ok_or_else(|| io("cannot open objects/ in")(Errno::NOENT.into()))?
            }
        };
        mkdir_private(&fd, "locks").map_err(io("cannot create locks/ in"))?;
        let locks = open_private_child(&fd, &abs, "locks", FileType::Directory)?
            .ok_or_else(|| io("cannot open locks/ in")(Errno::NOENT.into()))?;
        let db_path = abs.join("manifest.db");
        let mdb = |source| StoreError::Manifest {
            path: db_path.clone(),
            source,
        };
        // The database files are ours and private whatever the umask, set
        // on descriptors opened without following links (SQLite gives the
        // WAL and its index the mode of the database). All before SQLite
        // opens them: closing any other descriptor of a file this process
        // has open in SQLite drops SQLite's POSIX locks on it, and another
        // process could then write under this one.
        match rustix::fs::openat(
            &fd,
            "manifest.db",
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(_) | Err(Errno::EXIST) => {}
            Err(e) => return Err(io("cannot create the manifest in")(e.into())),
        }
        for name in ["manifest.db", "manifest.db-wal", "manifest.db-shm"] {
            if let Some(f) = open_private_child(&fd, &abs, name, FileType::RegularFile)? {
                rustix::fs::fchmod(&f, Mode::from_raw_mode(0o600))
                    .map_err(|e| io("cannot set mode 0600 on the manifest in")(e.into()))?;
            }
        }
        let db = manifest::open_rw(&db_path).map_err(mdb)?;
        let has_items = manifest::has_items(&db).map_err(|e| StoreError::ManifestLost {
            dir: abs.clone(),
            why: format!("manifest.db cannot be read ({e})"),
            objects: contents.stored,
        })?;
        if !has_items {
            if contents.stored > 0 {
                return Err(StoreError::ManifestLost {
                    dir: abs,
                    why: "manifest.db has no items table".into(),
                    objects: contents.stored,
                });
            }
            // No object to lose: a new store, or one whose making was
            // interrupted (a database with no table yet). Anything else is
            // not ours to write into.
            let tables: i64 = db
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(mdb)?;
            if tables > 0 {
                return Err(StoreError::Untrusted {
                    dir: abs,
                    why: "manifest.db is an SQLite database but not a leakhound manifest".into(),
                });
            }
            manifest::create(&db).map_err(mdb)?;
        }
        let key_present = open_private_child(&fd, &abs, "key", FileType::RegularFile)?.is_some();
        if !key_present && has_items && !manifest::has_column(&db, "sha256").map_err(mdb)? {
            let macs: i64 = db
                .query_row(
                    "SELECT count(*) FROM items WHERE mac IS NOT NULL",
                    [],
                    |r| r.get(0),
                )
                .map_err(mdb)?;
            if macs > 0 {
                return Err(StoreError::Untrusted {
                    dir: abs,
                    why: "the store key (key) is missing, so no stored copy can be verified; \
                          put it back from a backup"
                        .into(),
                });
            }
        }
        let key = load_key(&fd, &abs, true)?;
        let mut store = Store {
            dir: abs,
            objects,
            locks: Some(locks),
            key,
            db,
            warnings: Vec::new(),
        };
        if manifest::has_column(&store.db, "sha256").map_err(store.mdb())? {
            store.migrate()?;
        }
        if manifest::version(&store.db).map_err(store.mdb())? < manifest::SCHEMA_VERSION {
            manifest::migrate_paths(&store.db).map_err(store.mdb())?;
        }
        store.recover()?;
        Ok(store)
    }

    /// Opens an existing store for reading only (`quarantine list`,
    /// `show`): writes nothing, so it works on a full or read-only file
    /// system, and runs no recovery; what recovery would have to do is
    /// reported as warnings.
    pub fn open_read_only(dir: &Path) -> Result<Store, StoreError> {
        let (fd, abs, contents) = open_store_dir(dir, false)?;
        if !contents.manifest {
            return Err(StoreError::ManifestLost {
                dir: abs,
                why: "manifest.db is missing or empty".into(),
                objects: contents.stored,
            });
        }
        let Some(objects) = contents.objects else {
            return Err(StoreError::Untrusted {
                dir: abs,
                why: "objects/ is missing".into(),
            });
        };
        let db_path = abs.join("manifest.db");
        let (db, immutable) =
            manifest::open_ro(&db_path).map_err(|e| StoreError::ManifestLost {
                dir: abs.clone(),
                why: format!("manifest.db cannot be read ({e})"),
                objects: contents.stored,
            })?;
        match manifest::has_items(&db) {
            Ok(true) => {}
            _ => {
                return Err(StoreError::ManifestLost {
                    dir: abs,
                    why: "manifest.db is not a leakhound manifest (no items table)".into(),
                    objects: contents.stored,
                });
            }
        }
        let locks = open_private_child(&fd, &abs, "locks", FileType::Directory)?;
        let mut store = Store {
            dir: abs,
            objects,
            locks: None,
            key: None,
            db,
            warnings: Vec::new(),
        };
        if immutable {
            store.warn(
                "the manifest was read without its write-ahead log (no space to open it \
                 normally): the newest changes may not be shown"
                    .to_string(),
            );
        }
        store.diagnose(locks.as_ref())?;
        Ok(store)
    }

    /// Whether an action could use the store in `dir` (for `--dry-run`,
    /// which must predict the real run): the checks of [`Store::open`]
    /// without creating, recovering or changing anything.
    pub fn check(dir: &Path) -> Result<(), StoreError> {
        let abs = walk::absolute(dir).map_err(|source| StoreError::Walk {
            dir: dir.to_path_buf(),
            source,
        })?;
        // A store not made yet: its parent must be trusted.
        let mut existing = abs.as_path();
        while !existing.exists() {
            match existing.parent() {
                Some(p) => existing = p,
                None => break,
            }
        }
        if existing != abs {
            return walk::open_dir(existing, walk::Trust::Owned, false)
                .map(|_| ())
                .map_err(|source| StoreError::Walk { dir: abs, source });
        }
        let (_, abs, contents) = open_store_dir(&abs, false)?;
        if !contents.manifest && contents.stored > 0 {
            return Err(StoreError::ManifestLost {
                dir: abs,
                why: "manifest.db is missing or empty".into(),
                objects: contents.stored,
            });
        }
        Ok(())
    }

    /// The store's directory (absolute).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What opening the store found and did that the user should know
    /// (objects moved to `lost+found/`, operations left for recovery).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn warn(&mut self, w: String) {
        tracing::warn!(
            "quarantine store {}: {w}",
            crate::report::names::escape_path(&self.dir)
        );
        self.warnings.push(w);
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

    fn locks(&self) -> Result<&OwnedFd, StoreError> {
        self.locks
            .as_ref()
            .ok_or_else(|| StoreError::ReadOnly(self.dir.clone()))
    }

    fn new_mac(&self) -> Result<ObjectMac, StoreError> {
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| StoreError::ReadOnly(self.dir.clone()))?;
        Ok(<ObjectMac as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length"))
    }

    /// Requires exactly one row changed by a state transition; anything
    /// else means another process (or a replaced manifest) changed it.
    fn one_row(&self, changed: usize, id: &str, expected: State) -> Result<(), StoreError> {
        if changed == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict {
                id: id.to_string(),
                expected,
            })
        }
    }

    fn unlink_object(&self, name: &str) -> Result<(), StoreError> {
        match rustix::fs::unlinkat(&self.objects, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(self.io("cannot remove an object")(e.into())),
        }
    }

    fn open_object(&self, id: &str) -> Result<std::fs::File, StoreError> {
        rustix::fs::openat(
            &self.objects,
            id,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map(std::fs::File::from)
        .map_err(|e| StoreError::Refused(format!("the stored copy of {id} is missing: {e}")))
    }

    /// The keyed MAC of an object as it is on disk.
    fn mac_of_object(&self, id: &str) -> Result<String, StoreError> {
        let mut f = self.open_object(id)?;
        let mut mac = self.new_mac()?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(self.io("cannot read the stored copy"))?;
            if n == 0 {
                break;
            }
            mac.update(&buf[..n]);
        }
        Ok(hex(&mac.finalize().into_bytes()))
    }

    /// Names in `objects/` (ids, and `<id>.part` for unfinished copies).
    pub fn object_names(&self) -> Result<Vec<String>, StoreError> {
        names_in(&self.objects).map_err(self.io("cannot list objects"))
    }

    /// Every row, oldest first.
    pub fn list(&self) -> Result<Vec<Item>, StoreError> {
        manifest::list(&self.db).map_err(self.mdb())
    }

    /// One row.
    pub fn get(&self, id: &str) -> Result<Item, StoreError> {
        manifest::get(&self.db, id)
            .map_err(self.mdb())?
            .ok_or_else(|| StoreError::UnknownId(id.to_string()))
    }
}

fn mkdir_private(dir: &OwnedFd, name: &str) -> std::io::Result<()> {
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Length of the store key, in bytes.
const KEY_LEN: usize = 32;

/// Reads the store key (`key`, 32 random bytes, mode 0600), creating it if
/// missing and `create`. Concurrent first opens agree: the key is written
/// to a temporary file and linked into place without replacing; the loser
/// reads the winner's.
fn load_key(
    dir: &OwnedFd,
    abs: &Path,
    create: bool,
) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
    let io = |what: &'static str| {
        move |e: std::io::Error| StoreError::Io {
            dir: abs.to_path_buf(),
            what,
            source: e,
        }
    };
    let read = |fd: OwnedFd| -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let mut key = Zeroizing::new(Vec::new());
        std::fs::File::from(fd)
            .take(KEY_LEN as u64 + 1)
            .read_to_end(&mut key)
            .map_err(io("cannot read the store key in"))?;
        if key.len() != KEY_LEN {
            return Err(StoreError::Untrusted {
                dir: abs.to_path_buf(),
                why: format!(
                    "the store key (key) is damaged: {} bytes, not {KEY_LEN}",
                    key.len()
                ),
            });
        }
        Ok(key)
    };
    if let Some(fd) = open_private_child(dir, abs, "key", FileType::RegularFile)? {
        return read(fd).map(Some);
    }
    if !create {
        return Ok(None);
    }
    let mut raw = Zeroizing::new(vec![0u8; KEY_LEN]);
    getrandom::fill(&mut raw[..])
        .map_err(|e| io("cannot make a store key in")(std::io::Error::other(e)))?;
    let tmp = format!(".key.{}", safe_fs::random_id(6));
    {
        let mut f = safe_fs::create_new(dir, OsStr::new(&tmp), 0o600)
            .map_err(io("cannot write the store key in"))?;
        let written = f.write_all(&raw).and_then(|_| f.sync_all());
        if let Err(e) = written {
            let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
            return Err(io("cannot write the store key in")(e));
        }
    }
    let linked = rustix::fs::linkat(dir, tmp.as_str(), dir, "key", AtFlags::empty());
    let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
    match linked {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(io("cannot write the store key in")(e.into())),
    }
    safe_fs::fsync_dir(dir).map_err(io("cannot fsync"))?;
    let fd = open_private_child(dir, abs, "key", FileType::RegularFile)?
        .ok_or_else(|| io("cannot read the store key in")(Errno::NOENT.into()))?;
    read(fd).map(Some)
}
