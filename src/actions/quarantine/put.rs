//! The move into the store: a journaled, crash-safe sequence.
//!
//! A [`Target`] enters (an open file reached safely); a [`Quarantined`]
//! leaves, or an error with the original untouched. Under the row's lock
//! (`lock`), the manifest row is also the journal:
//!
//! 1. insert the row as `pending` (original path, size, mode, owner, group,
//!    mtime, device and inode);
//! 2. copy the bytes of the file, as they are, into `objects/<id>.part`
//!    (encrypting them if asked), computing the keyed MAC of what is
//!    written, and scanning the same bytes for the masked findings; the
//!    copy is checked to have the file's size, fsynced, read back and
//!    checked against the MAC, renamed to `objects/<id>`, and the
//!    directory fsynced;
//! 3. the original is checked to be unchanged; the row becomes `stored`
//!    with the MAC and the findings (a durable commit);
//! 4. the original is removed (or a tombstone renamed over it), its
//!    directory fsynced;
//! 5. the row becomes `done`.
//!
//! Each state change must change exactly one row in the expected state, or
//! the move stops there, the original untouched (D1). The copy does not
//! depend on what the scanner could parse (D6): a GNU tar, a zip with an
//! encrypted member or a broken PDF are copied byte for byte like any file.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::time::SystemTime;

use hmac::Mac;
use rusqlite::params;

use super::lock::OpLock;
use super::manifest::{State, StoredFinding};
use super::tombstone;
use super::{ObjectMac, Quarantined, Store, StoreError, hex, unix_now};
use crate::actions::fault;
use crate::actions::safe_fs::{self, Target};
use crate::engine::Engine;
use crate::fingerprint::Fingerprinter;
use crate::report::event::{Event, hostname, now_rfc3339};
use crate::report::names;
use crate::rules::Confidence;

/// Writes to the object file and computes its MAC over exactly what is
/// written (the ciphertext when encrypting).
struct MacWriter<'a> {
    out: &'a mut File,
    mac: ObjectMac,
}

impl Write for MacWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.mac.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Reads the original through to the store: the copy and the findings come
/// from one read of the file.
struct Tee<'a> {
    src: &'a File,
    dst: &'a mut dyn Write,
    bytes: u64,
    error: Option<std::io::Error>,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.src.read(buf)?;
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
        // Taken before the row exists, so no recovery can ever see this
        // row without a live owner.
        let _lock = OpLock::try_acquire(self.locks()?, &id)
            .map_err(self.io("cannot create a lock file"))?
            .ok_or_else(|| StoreError::Busy(id.clone()))?;
        let st = &target.stat;
        let path = target.abs_path();
        let inserted = self
            .db
            .execute(
                "INSERT INTO items (id, state, path, size, mode, uid, gid, mtime, mtime_nsec, dev, ino, time, time_unix, host, tombstone, encrypted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    id,
                    State::Pending,
                    // Lossless (D7): restore gives back these exact bytes.
                    names::escape_path(&path),
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
        self.one_row(inserted, &id, State::Pending)?;
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
                self.undo(&id, State::Pending);
                return Err(e);
            }
        };
        if let Err(e) = self.remove_original(&id, target, tombstone) {
            self.undo(&id, State::Stored);
            return Err(e);
        }
        fault::point("quarantine:after-remove");
        let changed = self
            .db
            .execute(
                "UPDATE items SET state = ?3 WHERE id = ?1 AND state = ?2",
                params![id, State::Stored, State::Done],
            )
            .map_err(self.mdb())?;
        self.one_row(changed, &id, State::Stored)?;
        Ok(Quarantined { id, findings })
    }

    /// Undoes a move of this process that failed while the original was
    /// still in place: the object goes, then the row (in that order, so a
    /// concurrent check never sees an object without a row).
    pub(super) fn undo(&self, id: &str, state: State) {
        let _ = self.unlink_object(&format!("{id}.part"));
        let _ = self.unlink_object(id);
        let _ = safe_fs::fsync_dir(&self.objects);
        let _ = self.db.execute(
            "DELETE FROM items WHERE id = ?1 AND state = ?2",
            params![id, state],
        );
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
        let mut out = MacWriter {
            out: &mut dst,
            mac: self.new_mac()?,
        };
        let copy = |w: &mut dyn Write| -> Result<(Vec<Event>, u64), StoreError> {
            let mut tee = Tee {
                src: &target.file,
                dst: w,
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
            // The scanner may stop early (the end blocks of a tar, a member
            // it cannot open, a limit): the copy goes on to the last byte
            // whatever it made of them.
            let drained = std::io::copy(&mut tee, &mut std::io::sink());
            if let Some(e) = tee.error.take() {
                return Err(self.io("cannot write into the store")(e));
            }
            drained.map_err(|e| StoreError::Refused(format!("cannot read the file: {e}")))?;
            Ok((events, tee.bytes))
        };
        let (events, bytes) = if recipients.is_empty() {
            copy(&mut out)?
        } else {
            let enc = age::Encryptor::with_recipients(
                recipients.iter().map(|r| r as &dyn age::Recipient),
            )
            .map_err(|e| StoreError::Refused(format!("cannot encrypt: {e}")))?;
            let mut w = enc
                .wrap_output(&mut out)
                .map_err(self.io("cannot write into the store"))?;
            let r = copy(&mut w)?;
            w.finish().map_err(self.io("cannot write into the store"))?;
            r
        };
        let mac = hex(&out.mac.finalize().into_bytes());
        let findings: Vec<StoredFinding> = events
            .iter()
            .filter_map(|ev| match ev {
                Event::Finding(f) => Some(StoredFinding {
                    rule: f.rule.clone(),
                    kind: f.kind.clone(),
                    severity: f.severity.as_str().to_string(),
                    masked: f.masked.clone(),
                    fingerprint: f.fingerprint.clone(),
                    line: f.line,
                }),
                _ => None,
            })
            .collect();
        if bytes != target.stat.st_size as u64 {
            return Err(StoreError::Refused(
                "the file changed size while it was copied; left as it is, scan it again"
                    .to_string(),
            ));
        }
        dst.sync_all().map_err(self.io("cannot fsync an object"))?;
        drop(dst);
        // Read back what the disk holds: the object must be what was
        // written before the original may go.
        let written = self.mac_of_part(&part)?;
        if written != mac {
            return Err(StoreError::Refused(
                "the copy in the store does not read back as written; the original is left in place"
                    .to_string(),
            ));
        }
        rustix::fs::renameat(&self.objects, part.as_str(), &self.objects, id)
            .map_err(|e| self.io("cannot rename an object")(e.into()))?;
        safe_fs::fsync_dir(&self.objects).map_err(self.io("cannot fsync"))?;
        fault::point("quarantine:after-copy");
        target
            .unchanged()
            .map_err(|e| StoreError::Refused(e.to_string()))?;
        let json = serde_json::to_string(&findings).unwrap_or_else(|_| "[]".into());
        let changed = self
            .db
            .execute(
                "UPDATE items SET state = ?3, mac = ?4, findings = ?5 WHERE id = ?1 AND state = ?2",
                params![id, State::Pending, State::Stored, mac, json],
            )
            .map_err(self.mdb())?;
        self.one_row(changed, id, State::Pending)?;
        fault::point("quarantine:after-commit");
        Ok(findings)
    }

    fn mac_of_part(&self, part: &str) -> Result<String, StoreError> {
        self.mac_of_object(part)
    }

    /// Removes the original, or atomically replaces it with a tombstone.
    /// On `Err` the original is untouched.
    fn remove_original(
        &self,
        id: &str,
        target: &Target,
        tombstone: Option<&str>,
    ) -> Result<(), StoreError> {
        target
            .unchanged()
            .map_err(|e| StoreError::Refused(e.to_string()))?;
        let refuse = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Refused(format!(
                "copied into the store, but {what}: {e}; the original is left in place"
            ))
        };
        match tombstone {
            Some(contact) => {
                tombstone::put(id, target, contact).map_err(|(what, e)| refuse(what, &e))?
            }
            None => rustix::fs::unlinkat(
                &target.dir,
                target.name.as_os_str(),
                rustix::fs::AtFlags::empty(),
            )
            .map_err(|e| refuse("cannot remove the original", &e))?,
        }
        // The original is gone from here on, and its copy is durably
        // stored: a failed fsync must not undo the move (that would
        // delete the only copy). At worst a power cut brings the original
        // back beside its copy.
        if let Err(e) = safe_fs::fsync_dir(&target.dir) {
            tracing::warn!(
                "quarantine {id}: the original was removed, but its directory cannot be fsynced: {e}"
            );
        }
        Ok(())
    }
}
