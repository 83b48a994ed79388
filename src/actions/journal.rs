//! The redaction journal: which temporary files an unfinished redaction
//! may have left, so the next start can remove them.
//!
//! One small file per redaction in progress, in `<state_dir>/journal/`,
//! written and fsynced before the temporary file is created and removed
//! after the rename is durable. A crash at any step leaves either the
//! original or the redacted file at the path (the rename is atomic); the
//! only litter is the temporary file, which holds redacted text, except
//! for the instant between the exchange of the two names and the removal,
//! when it is the original itself under the hidden name (see
//! `docs/actions.md`). [`Journal::recover`] removes it. Quarantine keeps its own
//! journal in the manifest (see `quarantine`).
//!
//! Several processes may share a journal (two scans, a scan and the daemon
//! with the same state directory). Each entry is locked (`flock`) by the
//! process that wrote it, for as long as its redaction runs, and recovery
//! only touches entries whose lock it can take, that is entries whose
//! process is dead: it never removes a live redaction's temporary file.
//! The entry is written as an unnamed file (`O_TMPFILE`), locked, then
//! linked into place, so no entry is ever visible unlocked while its
//! writer lives.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;

use serde::{Deserialize, Serialize};

use super::safe_fs;

/// The journal directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

/// One entry: a temporary file named `temp` in directory `dir`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub dir: PathBuf,
    pub temp: String,
    /// The entry file, locked while this process works on it.
    #[serde(skip)]
    lock: Option<OwnedFd>,
}

impl Journal {
    /// The journal in `dir` (created on first use, mode 0700).
    pub fn new(dir: PathBuf) -> Journal {
        Journal { dir }
    }

    fn entry_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("redact-{id}.json"))
    }

    /// Records, durably, that `temp` in `dir` may be created.
    pub fn begin(&self, id: &str, dir: &Path, temp: &str) -> std::io::Result<Entry> {
        create_private_dir(&self.dir)?;
        let mut entry = Entry {
            id: id.to_string(),
            dir: dir.to_path_buf(),
            temp: temp.to_string(),
            lock: None,
        };
        let path = self.entry_path(id);
        let bytes = serde_json::to_vec(&entry)?;
        // An unnamed file, locked and written, then linked under its name:
        // no one ever sees the entry unlocked while this process lives.
        let dir_fd = safe_fs::open_dir(&self.dir)?;
        let f = match rustix::fs::openat(
            &dir_fd,
            ".",
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::TMPFILE | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => {
                let mut f = std::fs::File::from(fd);
                rustix::fs::flock(&f, FlockOperation::LockExclusive)?;
                f.write_all(&bytes)?;
                f.sync_all()?;
                let name = format!("redact-{id}.json");
                rustix::fs::linkat(
                    rustix::fs::CWD,
                    format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&f)),
                    &dir_fd,
                    name.as_str(),
                    rustix::fs::AtFlags::SYMLINK_FOLLOW,
                )?;
                f
            }
            // A file system without O_TMPFILE: a temporary name, locked
            // before anything is written (recovery leaves a locked one
            // alone), renamed into place.
            Err(_) => self.begin_named(id, &path, &bytes)?,
        };
        safe_fs::fsync_dir(&dir_fd)?;
        entry.lock = Some(OwnedFd::from(f));
        Ok(entry)
    }

    fn begin_named(&self, id: &str, path: &Path, bytes: &[u8]) -> std::io::Result<std::fs::File> {
        let tmp = self.dir.join(format!(".redact-{id}.json.tmp"));
        let mut f = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc_o_nofollow())
                .open(&tmp)?
        };
        rustix::fs::flock(&f, FlockOperation::LockExclusive)?;
        let written = f
            .write_all(bytes)
            .and_then(|_| f.sync_all())
            .and_then(|_| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(f)
    }

    /// The redaction is durable (or undone): forget it.
    pub fn end(&self, entry: &Entry) {
        let _ = std::fs::remove_file(self.entry_path(&entry.id));
    }

    /// Removes what unfinished redactions of dead processes left (entries
    /// a live process holds are left alone). Returns how many entries were
    /// recovered.
    pub fn recover(&self) -> std::io::Result<usize> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut n = 0;
        for de in rd {
            let de = de?;
            let path = de.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let is_entry = name.starts_with("redact-") && name.ends_with(".json");
            let is_temp = name.starts_with(".redact-") && name.ends_with(".json.tmp");
            if !is_entry && !is_temp {
                continue;
            }
            // The lock says whether the writer is alive.
            let Ok(f) = std::fs::File::open(&path) else {
                continue;
            };
            match rustix::fs::flock(&f, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(rustix::io::Errno::WOULDBLOCK) => continue,
                Err(e) => return Err(e.into()),
            }
            // Still the same file (not finished and removed meanwhile)?
            let same = std::fs::symlink_metadata(&path).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                f.metadata()
                    .is_ok_and(|h| h.ino() == m.ino() && h.dev() == m.dev())
            });
            if !same {
                continue;
            }
            if is_temp {
                // Its writer died before the entry was complete, so before
                // it created its temporary file.
                std::fs::remove_file(&path)?;
                continue;
            }
            if let Ok(bytes) = std::fs::read(&path)
                && let Ok(entry) = serde_json::from_slice::<Entry>(&bytes)
                // Only ever a name of our own making, in that directory.
                && entry.temp.starts_with(".leakhound-redact-")
                && !entry.temp.contains('/')
                && let Ok(dir) = safe_fs::open_dir(&entry.dir)
            {
                match rustix::fs::unlinkat(&dir, entry.temp.as_str(), rustix::fs::AtFlags::empty())
                {
                    Ok(()) => {
                        let _ = safe_fs::fsync_dir(&dir);
                    }
                    Err(rustix::io::Errno::NOENT) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            std::fs::remove_file(&path)?;
            n += 1;
        }
        Ok(n)
    }
}

fn libc_o_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

/// Creates a directory (and its parents) with mode 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
