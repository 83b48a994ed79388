//! Restore: a stored copy written back to its path (or elsewhere).
//!
//! An id and [`RestoreOptions`] enter; the path written leaves, with
//! warnings (an owner or a set-id bit not restored). Under the row's lock:
//!
//! 1. the destination's directory is reached from `/` one component at a
//!    time without following a link (D2: a user who owns a directory on
//!    the original path could replace it by a link to `/etc`); a link on
//!    the way is refused, naming it, and `--to DIR` puts the file
//!    elsewhere;
//! 2. the row becomes `restoring` with the temporary file's name;
//! 3. the object is read and its keyed MAC checked (age checks the
//!    plaintext of an encrypted copy), the temporary file is written with
//!    the original owner, permission bits (never setuid, setgid or sticky
//!    unless asked: D4) and mtime, fsynced, and its device and inode are
//!    recorded;
//! 4. it is renamed into place with `RENAME_NOREPLACE` (only this id's own
//!    tombstone is ever replaced), the directory fsynced;
//! 5. the object is removed; the row becomes `restored`.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use hmac::Mac;
use rusqlite::params;

use super::lock::OpLock;
use super::manifest::{Item, State};
use super::walk::{self, Trust};
use super::{ObjectMac, Store, StoreError, hex, tombstone};
use crate::actions::{fault, safe_fs};
use crate::report::names;

/// How to restore.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreOptions<'a> {
    /// A directory to restore into (under the original name), or a file
    /// path; `None`: the original path.
    pub to: Option<&'a Path>,
    /// An age identity file, for copies encrypted at rest.
    pub identity: Option<&'a Path>,
    /// Restore setuid, setgid and sticky bits too (off by default: a
    /// forged or old manifest must not make a set-id file appear).
    pub keep_special_bits: bool,
}

/// A restored file.
#[derive(Debug)]
pub struct Restored {
    /// Where it was written.
    pub path: PathBuf,
    /// What was not restored as it was (owner, set-id bits).
    pub warnings: Vec<String>,
}

/// Reads the object and computes its MAC over exactly what is read.
struct MacReader {
    file: File,
    mac: ObjectMac,
}

impl Read for MacReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.mac.update(&buf[..n]);
        Ok(n)
    }
}

fn refused_walk(dest: &Path, e: walk::WalkError) -> StoreError {
    StoreError::Refused(format!(
        "cannot restore to {}: {e}; restore never writes through a link or into a \
         directory it cannot reach safely: restore it elsewhere with --to DIR",
        names::escape_path(dest)
    ))
}

impl Store {
    /// The end of a restore whose file is in place (the live restore and
    /// recovery both finish it this way): the object goes, then the row
    /// says `restored`.
    pub(super) fn finish_restore(&self, id: &str) -> Result<(), StoreError> {
        self.unlink_object(id)?;
        safe_fs::fsync_dir(&self.objects).map_err(self.io("cannot fsync"))?;
        let changed = self
            .db
            .execute(
                "UPDATE items SET state = ?3, restored_to = restore_to, restore_temp = NULL WHERE id = ?1 AND state = ?2",
                params![id, State::Restoring, State::Restored],
            )
            .map_err(self.mdb())?;
        self.one_row(changed, id, State::Restoring)
    }

    /// Restores a quarantined file (see the module docs). Never overwrites
    /// a file, except this id's own tombstone.
    pub fn restore(&self, id: &str, opts: RestoreOptions<'_>) -> Result<Restored, StoreError> {
        let _lock = OpLock::try_acquire(self.locks()?, id)
            .map_err(self.io("cannot create a lock file"))?
            .ok_or_else(|| StoreError::Busy(id.to_string()))?;
        let item = self.get(id)?;
        if item.state != State::Done {
            return Err(StoreError::Refused(format!(
                "{id} is {}, not in the store: nothing to restore",
                item.state
            )));
        }
        let identities = match (item.encrypted, opts.identity) {
            (false, _) => Vec::new(),
            (true, None) => {
                return Err(StoreError::Refused(format!(
                    "{id} is encrypted at rest: give the private key with --identity FILE"
                )));
            }
            (true, Some(path)) => read_identities(path)?,
        };
        let (dir, dir_path, name) = self.destination(&item, opts.to)?;
        let dest = dir_path.join(&name);
        let replace_tombstone = match rustix::fs::statat(
            &dir,
            name.as_os_str(),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        ) {
            Err(_) => false,
            Ok(_) if tombstone::is_tombstone_of(&dir, &name, id) => true,
            Ok(_) => {
                return Err(StoreError::Refused(format!(
                    "{} exists: restore never overwrites a file (move it away, or restore with --to DIR)",
                    names::escape_path(&dest)
                )));
            }
        };
        let tmp = format!(
            "{}{}.tmp",
            super::recover::RESTORE_TEMP_PREFIX,
            safe_fs::random_id(6)
        );
        let changed = self
            .db
            .execute(
                "UPDATE items SET state = ?3, restore_temp = ?4, restore_to = ?5 WHERE id = ?1 AND state = ?2",
                params![
                    id,
                    State::Done,
                    State::Restoring,
                    names::escape_path(&dir_path.join(&tmp)),
                    names::escape_path(&dest)
                ],
            )
            .map_err(self.mdb())?;
        self.one_row(changed, id, State::Done)?;
        fault::point("restore:after-mark");
        let result = self.write_restored(
            &item,
            &identities,
            opts.keep_special_bits,
            &dir,
            &tmp,
            &name,
            replace_tombstone,
        );
        let warnings = match result {
            Ok(w) => w,
            Err(e) => {
                let _ = rustix::fs::unlinkat(&dir, tmp.as_str(), rustix::fs::AtFlags::empty());
                let _ = self.db.execute(
                    "UPDATE items SET state = ?3, restore_temp = NULL, restore_to = NULL, restore_dev = NULL, restore_ino = NULL WHERE id = ?1 AND state = ?2",
                    params![id, State::Restoring, State::Done],
                );
                return Err(e);
            }
        };
        self.finish_restore(id)?;
        Ok(Restored {
            path: dest,
            warnings,
        })
    }

    /// The directory to restore into (reached safely) and the file name.
    fn destination(
        &self,
        item: &Item,
        to: Option<&Path>,
    ) -> Result<(OwnedFd, PathBuf, OsString), StoreError> {
        // The manifest keeps the path escaped losslessly (D7).
        let original = names::to_path(&item.path);
        let original = original.as_path();
        if let Some(to) = to {
            // `--to DIR`: an existing directory gets the original name.
            if let Ok((dir, path)) = walk::open_dir(to, Trust::Any, false) {
                let name = original.file_name().ok_or_else(|| {
                    StoreError::Refused(format!(
                        "{}: not a file path",
                        names::escape_path(original)
                    ))
                })?;
                return Ok((dir, path, name.to_os_string()));
            }
        }
        let dest = to.unwrap_or(original);
        walk::open_parent(dest, Trust::Any).map_err(|e| refused_walk(dest, e))
    }

    #[allow(clippy::too_many_arguments)]
    fn write_restored(
        &self,
        item: &Item,
        identities: &[age::x25519::Identity],
        keep_special_bits: bool,
        dir: &OwnedFd,
        tmp: &str,
        name: &OsStr,
        replace_tombstone: bool,
    ) -> Result<Vec<String>, StoreError> {
        let mut warnings = Vec::new();
        let damaged = || {
            StoreError::Refused(format!(
                "the stored copy of {} does not match the keyed MAC (HMAC-SHA-256) in the \
                 manifest: it is damaged; not restored",
                item.id
            ))
        };
        let Some(want) = item.mac.as_deref() else {
            return Err(damaged());
        };
        let mut src = MacReader {
            file: self.open_object(&item.id)?,
            mac: self.new_mac()?,
        };
        let mut out = safe_fs::create_new(dir, OsStr::new(tmp), 0o600).map_err(|e| {
            StoreError::Refused(format!("cannot create a file to restore into: {e}"))
        })?;
        {
            let mut plain: Box<dyn Read + '_> = if item.encrypted {
                let d = age::Decryptor::new(&mut src).map_err(|e| {
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
                Box::new(&mut src)
            };
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = plain.read(&mut buf).map_err(|e| {
                    StoreError::Refused(format!(
                        "the stored copy of {} cannot be read ({e}); not restored",
                        item.id
                    ))
                })?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n]).map_err(|e| {
                    StoreError::Refused(format!("cannot write the restored file: {e}"))
                })?;
            }
        }
        // Whatever the decryptor left unread counts too.
        std::io::copy(&mut src, &mut std::io::sink())
            .map_err(self.io("cannot read the stored copy"))?;
        if hex(&src.mac.finalize().into_bytes()) != want {
            return Err(damaged());
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
        let special = item.mode & 0o7000;
        let mask = if keep_special_bits { 0o7777 } else { 0o0777 };
        if special != 0 && !keep_special_bits {
            warnings.push(format!(
                "the setuid/setgid/sticky bits of the original (mode {:04o}) were not restored; \
                 restore again with --keep-special-bits to keep them",
                item.mode & 0o7777
            ));
        }
        // After chown, which clears set-id bits.
        rustix::fs::fchmod(&out, rustix::fs::Mode::from_raw_mode(item.mode & mask))
            .map_err(|e| StoreError::Refused(format!("cannot set the mode: {e}")))?;
        let ts = rustix::fs::Timespec {
            tv_sec: item.mtime,
            tv_nsec: item.mtime_nsec as _,
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
        let st = rustix::fs::fstat(&out)
            .map_err(|e| StoreError::Refused(format!("cannot stat the restored file: {e}")))?;
        let changed = self
            .db
            .execute(
                "UPDATE items SET restore_dev = ?3, restore_ino = ?4 WHERE id = ?1 AND state = ?2",
                params![
                    item.id,
                    State::Restoring,
                    st.st_dev as i64,
                    st.st_ino as i64
                ],
            )
            .map_err(self.mdb())?;
        self.one_row(changed, &item.id, State::Restoring)?;
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
        // The file is in place: from here on an error must not undo.
        if let Err(e) = safe_fs::fsync_dir(dir) {
            warnings.push(format!("cannot fsync the destination directory: {e}"));
        }
        Ok(warnings)
    }
}

/// Reads age X25519 identities (`AGE-SECRET-KEY-1...` lines; `#` comments).
fn read_identities(path: &Path) -> Result<Vec<age::x25519::Identity>, StoreError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        StoreError::Refused(format!(
            "{}: cannot read the identity file: {e}",
            names::escape_path(path)
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
            names::escape_path(path)
        )));
    }
    Ok(ids)
}
