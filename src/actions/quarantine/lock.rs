//! Who owns an operation in progress: one lock file per operation.
//!
//! Every operation that changes a row (quarantine, restore, purge, and
//! recovery of a dead one) first takes an exclusive `flock` on
//! `locks/<id>` and holds it until the row is at rest again; then it
//! removes the file and closes it. The kernel drops the lock when the
//! process dies however it dies (SIGKILL, OOM, power cut), so "the lock can
//! be taken" means exactly "no live process is working on this row".
//! Recovery only ever touches a row whose lock it holds, which is what lets
//! any number of scans, `quarantine` commands and a daemon share a store
//! (defect D1: recovery used to undo another live process's quarantine).
//!
//! Why a file per operation rather than a pid in the row: pids are reused
//! and differ between namespaces; a lock is released by the kernel and
//! cannot be mistaken. Why not one lock on the whole store: a daemon holds
//! the store open for weeks, so a store-wide exclusive lock for recovery
//! would never be granted while it runs.
//!
//! The lock file is unlinked by its holder while still locked; a process
//! that opened the name just before that holds a lock on an unlinked file,
//! so [`OpLock::try_acquire`] checks after locking that the name still
//! refers to the file it locked, and retries otherwise.

use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

/// An exclusive lock on one operation (one manifest row), released (and its
/// file removed) when dropped.
#[derive(Debug)]
pub struct OpLock<'a> {
    dir: &'a OwnedFd,
    name: String,
    fd: Option<OwnedFd>,
}

impl<'a> OpLock<'a> {
    /// Takes the lock of `id` in the `locks` directory without waiting.
    /// `Ok(None)`: a live process holds it.
    pub fn try_acquire(dir: &'a OwnedFd, id: &str) -> std::io::Result<Option<OpLock<'a>>> {
        let name = id.to_string();
        loop {
            let fd = rustix::fs::openat(
                dir,
                name.as_str(),
                OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(Errno::WOULDBLOCK) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
            let held = rustix::fs::fstat(&fd)?;
            match rustix::fs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if st.st_dev == held.st_dev && st.st_ino == held.st_ino => {
                    return Ok(Some(OpLock {
                        dir,
                        name,
                        fd: Some(fd),
                    }));
                }
                // The previous holder removed the file after this process
                // opened it: the lock protects nothing; take the new one.
                Ok(_) | Err(Errno::NOENT) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for OpLock<'_> {
    fn drop(&mut self) {
        // Unlink while still holding the lock, so no one can lock this
        // file and believe it protects the row (see the module docs).
        let _ = rustix::fs::unlinkat(self.dir, self.name.as_str(), AtFlags::empty());
        drop(self.fd.take());
    }
}

/// Whether a live process holds the lock of `id`, without creating or
/// changing anything (for read-only commands). No lock file: no owner.
pub fn owner_alive(dir: &OwnedFd, id: &str) -> bool {
    let Ok(fd) = rustix::fs::openat(
        dir,
        id,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockShared) {
        Ok(()) => false,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(t: &tempfile::TempDir) -> OwnedFd {
        rustix::fs::open(
            t.path(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn a_held_lock_is_not_granted_twice_and_goes_with_its_file() {
        let t = tempfile::tempdir().unwrap();
        let d = dir(&t);
        assert!(!owner_alive(&d, "x"));
        let held = OpLock::try_acquire(&d, "x").unwrap().expect("free");
        // Another open file description, as another process would have.
        assert!(OpLock::try_acquire(&d, "x").unwrap().is_none());
        assert!(owner_alive(&d, "x"));
        drop(held);
        assert!(!t.path().join("x").exists());
        assert!(!owner_alive(&d, "x"));
        assert!(OpLock::try_acquire(&d, "x").unwrap().is_some());
    }
}
