//! Tombstones: the short text file left at a quarantined file's path
//! (`policy.quarantine.tombstone`), naming the id and whom to ask.
//!
//! Written beside the original as `.leakhound-tomb-<id>`, fsynced, and
//! renamed over the original in one step; restore recognises the tombstone
//! of its own id and replaces it (and nothing else).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use crate::actions::safe_fs::{self, Target};
use crate::report::event::hostname;

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

/// The name of the tombstone being written, beside the original.
pub fn temp_name(id: &str) -> String {
    format!(".leakhound-tomb-{id}")
}

/// Writes the tombstone and renames it over the original. On `Err` (what
/// failed, why) the original is untouched and no temporary file is left.
pub fn put(id: &str, target: &Target, contact: &str) -> Result<(), (&'static str, std::io::Error)> {
    let text = tombstone_text(id, target.stat.st_size as u64, contact);
    let tmp = temp_name(id);
    let unlink = || {
        let _ = rustix::fs::unlinkat(&target.dir, tmp.as_str(), rustix::fs::AtFlags::empty());
    };
    let mut f = safe_fs::create_new(&target.dir, OsStr::new(&tmp), 0o644)
        .map_err(|e| ("cannot write the tombstone", e))?;
    if let Err(e) = f.write_all(text.as_bytes()).and_then(|_| f.sync_all()) {
        unlink();
        return Err(("cannot write the tombstone", e));
    }
    rustix::fs::renameat(
        &target.dir,
        tmp.as_str(),
        &target.dir,
        target.name.as_os_str(),
    )
    .map_err(|e| {
        unlink();
        ("cannot put the tombstone in its place", e.into())
    })
}

/// Whether `name` in `dir` is the tombstone of `id` (and so may be
/// replaced by its restore).
pub fn is_tombstone_of(dir: &OwnedFd, name: &OsStr, id: &str) -> bool {
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
