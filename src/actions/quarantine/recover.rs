//! Recovery: finishing or undoing what a dead process left, and nothing
//! else.
//!
//! Runs whenever a store is opened for changes (before every action and
//! every changing `quarantine` command). For each row of an operation under
//! way, it takes the row's lock without waiting (`lock`): if a live process
//! holds it, the row is left alone (D1); otherwise the owner is dead, the
//! row is read again under the lock, and:
//!
//! - `pending` (the original was never touched): the partial object and the
//!   row are removed;
//! - `stored`: undone if the original is still in place (same device and
//!   inode), otherwise `done`;
//! - `restoring`: finished if the restored file landed (the destination is
//!   the temporary file the restore recorded, by device and inode),
//!   otherwise the temporary file is removed and the row is `done` again;
//! - `purging`: the object and the row are removed.
//!
//! Objects with no row at all (a manifest restored from an older backup, a
//! crash of an older version) are never deleted: they are moved to
//! `lost+found/` and reported (D5). The objects are listed before the rows
//! are read, and every operation inserts its row before creating its
//! object and deletes it after removing the object, so an object listed
//! without a row can only be an orphan, never a live operation's.
//!
//! Paths from the manifest are reached from `/` without following links
//! (`walk`); when one cannot be reached, recovery keeps the stored copy.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::Path;

use rusqlite::params;
use rustix::fs::{AtFlags, Mode};
use rustix::io::Errno;

use super::lock::{self, OpLock};
use super::manifest::{self, Migrated, OldRow, State};
use super::walk::{self, Trust};
use super::{Store, StoreError, tombstone};
use crate::actions::safe_fs;
use crate::report::names;

/// A restore's temporary files are always named so.
pub(super) const RESTORE_TEMP_PREFIX: &str = ".leakhound-restore-";

/// The id an object name belongs to (`<id>` or `<id>.part`).
fn id_of(name: &str) -> &str {
    name.strip_suffix(".part").unwrap_or(name)
}

/// The device and inode of `name` in `dir`, not following a link.
fn dev_ino_at(dir: &OwnedFd, name: &OsStr) -> Option<(u64, u64)> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .ok()
        .map(|st| (st.st_dev, st.st_ino))
}

impl Store {
    /// Finishes or undoes the operations of dead processes (see the module
    /// docs), and moves objects without a row to `lost+found/`. Returns how
    /// many rows needed it. Rows of live operations are left alone.
    pub fn recover(&mut self) -> Result<usize, StoreError> {
        // Objects first, rows after: see the module docs.
        let objects = self.object_names()?;
        let ids = manifest::ids_in(&self.db, &State::UNFINISHED).map_err(self.mdb())?;
        let mut n = 0;
        let mut busy = 0;
        for id in &ids {
            let Some(_lock) = OpLock::try_acquire(self.locks()?, id)
                .map_err(self.io("cannot create a lock file"))?
            else {
                busy += 1;
                continue;
            };
            // Read again under the lock: the owner may have finished
            // between the listing and the lock.
            let Some(state) = manifest::state_of(&self.db, id).map_err(self.mdb())? else {
                continue;
            };
            if self.recover_one(id, state)? {
                n += 1;
            }
        }
        if busy > 0 {
            tracing::debug!(
                "quarantine store {}: {busy} operation(s) in progress in other processes, left alone",
                names::escape_path(&self.dir)
            );
        }
        // All ids in one read, after the objects were listed.
        let ids = manifest::all_ids(&self.db).map_err(self.mdb())?;
        let mut orphans = Vec::new();
        for name in objects {
            if ids.contains(id_of(&name)) {
                continue;
            }
            if self.to_lost_and_found(&name)? {
                orphans.push(name);
            }
        }
        if !orphans.is_empty() {
            self.warn(format!(
                "{} object(s) without a manifest row moved to {}/lost+found/ (never deleted: \
                 they may be the only copy of a file; a manifest restored from an older \
                 backup leaves such objects): {}",
                orphans.len(),
                names::escape_path(&self.dir),
                orphans.join(", ")
            ));
        }
        Ok(n)
    }

    /// Recovers one row of a dead owner, the lock held. Returns whether
    /// anything was done.
    fn recover_one(&self, id: &str, state: State) -> Result<bool, StoreError> {
        let item = self.get(id)?;
        match state {
            State::Done | State::Restored => return Ok(false),
            State::Pending => self.undo(id, State::Pending),
            State::Stored => {
                let path = names::to_path(&item.path);
                let (in_place, reached) = match walk::open_parent(&path, Trust::Any) {
                    Ok((dir, _, name)) => {
                        let _ = rustix::fs::unlinkat(
                            &dir,
                            tombstone::temp_name(id).as_str(),
                            AtFlags::empty(),
                        );
                        let (dev, ino) = self.dev_ino(id)?;
                        (dev_ino_at(&dir, &name) == Some((dev, ino)), true)
                    }
                    Err(_) => (false, false),
                };
                if in_place {
                    self.undo(id, State::Stored);
                } else {
                    if !reached {
                        tracing::warn!(
                            "quarantine {id}: cannot reach {} to check the original; the stored copy is kept",
                            names::escape_path(&path)
                        );
                    }
                    let changed = self
                        .db
                        .execute(
                            "UPDATE items SET state = ?3 WHERE id = ?1 AND state = ?2",
                            params![id, State::Stored, State::Done],
                        )
                        .map_err(self.mdb())?;
                    self.one_row(changed, id, State::Stored)?;
                }
            }
            State::Restoring => self.recover_restore(id)?,
            State::Purging => self.finish_purge(id)?,
        }
        Ok(true)
    }

    fn dev_ino(&self, id: &str) -> Result<(u64, u64), StoreError> {
        self.db
            .query_row("SELECT dev, ino FROM items WHERE id = ?1", [id], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
            })
            .map_err(self.mdb())
    }

    /// An interrupted restore: finished if the file landed, else undone.
    fn recover_restore(&self, id: &str) -> Result<(), StoreError> {
        type Row = (Option<String>, Option<String>, Option<i64>, Option<i64>);
        let (temp, to, dev, ino): Row = self
            .db
            .query_row(
                "SELECT restore_temp, restore_to, restore_dev, restore_ino FROM items WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(self.mdb())?;
        let landed = match (&to, dev, ino) {
            (Some(to), Some(dev), Some(ino)) => {
                walk::open_parent(&names::to_path(to), Trust::Any)
                    .ok()
                    .and_then(|(dir, _, name)| dev_ino_at(&dir, &name))
                    == Some((dev as u64, ino as u64))
            }
            _ => false,
        };
        if landed {
            return self.finish_restore(id);
        }
        if let Some(temp) = &temp
            && let Ok((dir, _, name)) = walk::open_parent(&names::to_path(temp), Trust::Any)
            && name.to_string_lossy().starts_with(RESTORE_TEMP_PREFIX)
        {
            match rustix::fs::unlinkat(&dir, &name, AtFlags::empty()) {
                Ok(()) => {
                    let _ = safe_fs::fsync_dir(&dir);
                }
                Err(Errno::NOENT) => {}
                Err(e) => tracing::warn!(
                    "quarantine {id}: cannot remove the unfinished restore {temp}: {e}"
                ),
            }
        }
        let changed = self
            .db
            .execute(
                "UPDATE items SET state = ?3, restore_temp = NULL, restore_to = NULL, restore_dev = NULL, restore_ino = NULL WHERE id = ?1 AND state = ?2",
                params![id, State::Restoring, State::Done],
            )
            .map_err(self.mdb())?;
        self.one_row(changed, id, State::Restoring)
    }

    /// Moves an object without a row to `lost+found/`. `Ok(false)`: it went
    /// away meanwhile (its owner removed it).
    fn to_lost_and_found(&self, name: &str) -> Result<bool, StoreError> {
        let dir_fd = super::walk::open_dir(&self.dir, Trust::Any, false).map_err(|source| {
            StoreError::Walk {
                dir: self.dir.clone(),
                source,
            }
        })?;
        match rustix::fs::mkdirat(&dir_fd.0, "lost+found", Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(self.io("cannot create lost+found/ in")(e.into())),
        }
        let lost = rustix::fs::openat(
            &dir_fd.0,
            "lost+found",
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::NOFOLLOW
                | rustix::fs::OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.io("cannot open lost+found/ in")(e.into()))?;
        match rustix::fs::renameat_with(
            &self.objects,
            name,
            &lost,
            name,
            rustix::fs::RenameFlags::NOREPLACE,
        ) {
            Ok(()) => {
                safe_fs::fsync_dir(&lost).map_err(self.io("cannot fsync"))?;
                safe_fs::fsync_dir(&self.objects).map_err(self.io("cannot fsync"))?;
                Ok(true)
            }
            Err(Errno::NOENT) => Ok(false),
            Err(Errno::EXIST) => {
                // Same name there already: keep both, never replace.
                let other = format!("{name}.{}", safe_fs::random_id(4));
                rustix::fs::renameat_with(
                    &self.objects,
                    name,
                    &lost,
                    other.as_str(),
                    rustix::fs::RenameFlags::NOREPLACE,
                )
                .map(|_| true)
                .or_else(|e| match e {
                    Errno::NOENT => Ok(false),
                    e => Err(self.io("cannot move an object to lost+found/ in")(e.into())),
                })
            }
            Err(e) => Err(self.io("cannot move an object to lost+found/ in")(e.into())),
        }
    }

    /// For a read-only open: says what recovery would do, changing nothing.
    pub(super) fn diagnose(&mut self, locks: Option<&OwnedFd>) -> Result<(), StoreError> {
        let objects = self.object_names()?;
        let ids = manifest::ids_in(&self.db, &State::UNFINISHED).map_err(self.mdb())?;
        let dead = ids
            .iter()
            .filter(|id| !locks.is_some_and(|l| lock::owner_alive(l, id)))
            .count();
        if dead > 0 {
            self.warn(format!(
                "{dead} operation(s) were interrupted (their process died) and are not \
                 recovered by this read-only command; run `leakhound quarantine recover`"
            ));
        }
        let all = manifest::all_ids(&self.db).map_err(self.mdb())?;
        let orphans = objects
            .iter()
            .filter(|name| !all.contains(id_of(name)))
            .count();
        if orphans > 0 {
            self.warn(format!(
                "{orphans} object(s) in objects/ have no manifest row; `leakhound quarantine \
                 recover` moves them to lost+found/ (it never deletes them)"
            ));
        }
        Ok(())
    }

    /// Migrates a version-1 manifest (see `manifest::migrate`): each
    /// object's keyed MAC replaces the plaintext SHA-256, after checking the
    /// object against it.
    pub(super) fn migrate(&mut self) -> Result<(), StoreError> {
        let mut damaged = Vec::new();
        let each = |row: &OldRow| -> Migrated {
            let has_object = matches!(
                row.state,
                State::Stored | State::Done | State::Restoring | State::Purging
            );
            let mac = if has_object {
                self.old_object_mac(&row.id, row.sha256.as_deref(), &mut damaged)
            } else {
                None
            };
            // A version-1 restore interrupted after its rename: the file at
            // the destination has the old hash of the plaintext.
            let landed = match (&row.restore_temp, &row.restore_to, &row.sha256) {
                (Some(temp), Some(to), Some(sha))
                    if row.state == State::Restoring
                        && std::fs::symlink_metadata(temp).is_err() =>
                {
                    walk::open_parent(Path::new(to), Trust::Any)
                        .ok()
                        .and_then(|(dir, _, name)| {
                            let fd = rustix::fs::openat(
                                &dir,
                                &name,
                                rustix::fs::OFlags::RDONLY
                                    | rustix::fs::OFlags::NOFOLLOW
                                    | rustix::fs::OFlags::NONBLOCK
                                    | rustix::fs::OFlags::CLOEXEC,
                                Mode::empty(),
                            )
                            .ok()?;
                            let st = rustix::fs::fstat(&fd).ok()?;
                            (sha256_of(std::fs::File::from(fd))? == *sha)
                                .then_some((st.st_dev, st.st_ino))
                        })
                }
                _ => None,
            };
            Migrated { mac, landed }
        };
        let n = manifest::migrate(&self.db, each).map_err(self.mdb())?;
        if n > 0 {
            tracing::info!(
                "quarantine store {}: manifest migrated to schema {} ({n} rows): plaintext hashes replaced by keyed MACs",
                names::escape_path(&self.dir),
                manifest::SCHEMA_VERSION
            );
        }
        if !damaged.is_empty() {
            self.warn(format!(
                "while migrating the manifest, these stored copies did not match their \
                 recorded SHA-256 (damaged; restore will refuse them): {}",
                damaged.join(", ")
            ));
        }
        Ok(())
    }

    /// The MAC of a version-1 object, checked against its old plaintext
    /// hash when the object is not encrypted.
    fn old_object_mac(
        &self,
        id: &str,
        sha256: Option<&str>,
        damaged: &mut Vec<String>,
    ) -> Option<String> {
        let encrypted: bool = self
            .db
            .query_row("SELECT encrypted FROM items WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap_or(false);
        let mac = self.mac_of_object(id).ok()?;
        if !encrypted {
            let f = self.open_object(id).ok()?;
            if sha256_of(f).as_deref() != sha256 {
                damaged.push(id.to_string());
                return None;
            }
        }
        Some(mac)
    }
}

/// The plain SHA-256 of a file, only to check a version-1 store against
/// the hashes it recorded, during its migration.
fn sha256_of(mut f: std::fs::File) -> Option<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(super::hex(&h.finalize()))
}
