//! Owner, group and modification time of scanned files, for the `file`
//! event's `owner`, `group` and `mtime` fields.
//!
//! A path enters, a [`FileMeta`] leaves. User and group numbers are turned
//! into names with `/etc/passwd` and `/etc/group`, read once per run: the
//! names are those at scan time (a later rename does not rewrite old
//! reports). Accounts known only to NSS services (LDAP, SSSD) keep their
//! number with a null name rather than pulling in libc's NSS machinery.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use super::event::{FileMeta, Principal};

/// Turns numbers into names and stats files; one per run.
#[derive(Debug, Default)]
pub struct MetaReader {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

impl MetaReader {
    /// Reads the local account databases (missing ones leave numbers unnamed).
    pub fn new() -> MetaReader {
        MetaReader {
            users: read_db(Path::new("/etc/passwd")),
            groups: read_db(Path::new("/etc/group")),
        }
    }

    /// The owner, group and mtime of `path` (not following a symbolic
    /// link: the link itself is what was reported), or `None` when it
    /// cannot be stat'ed any more.
    pub fn read(&self, path: &Path) -> Option<FileMeta> {
        let md = std::fs::symlink_metadata(path).ok()?;
        Some(self.from_metadata(&md))
    }

    /// The same, from metadata already at hand.
    pub fn from_metadata(&self, md: &std::fs::Metadata) -> FileMeta {
        let mut meta = unnamed(md.uid(), md.gid(), md.mtime(), md.mtime_nsec());
        self.name(&mut meta);
        meta
    }

    /// Fills in the names of a [`FileMeta`] made by [`unnamed`] (the
    /// scanner has the file's `fstat` at hand, not the account databases).
    pub fn name(&self, meta: &mut FileMeta) {
        if meta.owner.name.is_none() {
            meta.owner.name = self.users.get(&meta.owner.id).cloned();
        }
        if meta.group.name.is_none() {
            meta.group.name = self.groups.get(&meta.group.id).cloned();
        }
    }
}

/// Owner, group and mtime from the numbers of a `stat`, without names (see
/// [`MetaReader::name`]).
pub fn unnamed(uid: u32, gid: u32, mtime: i64, mtime_nsec: i64) -> FileMeta {
    let mtime = if mtime >= 0 {
        UNIX_EPOCH + Duration::new(mtime as u64, mtime_nsec.clamp(0, 999_999_999) as u32)
    } else {
        UNIX_EPOCH
    };
    FileMeta {
        owner: Principal {
            id: uid,
            name: None,
        },
        group: Principal {
            id: gid,
            name: None,
        },
        mtime: humantime::format_rfc3339_seconds(mtime).to_string(),
    }
}

/// `name:x:id:...` lines -> id -> name (the first name wins, as getpwuid).
fn read_db(path: &Path) -> HashMap<u32, String> {
    let mut out = HashMap::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return out;
    };
    for line in text.lines() {
        let mut parts = line.split(':');
        let (Some(name), Some(_), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if let Ok(id) = id.parse::<u32>() {
            out.entry(id).or_insert_with(|| name.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_account_database() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, b"x").unwrap();
        let r = MetaReader::new();
        let m = r.read(&f).unwrap();
        let me = rustix::process::getuid().as_raw();
        assert_eq!(m.owner.id, me);
        if me == 0 {
            assert_eq!(m.owner.name.as_deref(), Some("root"));
        }
        assert!(m.mtime.ends_with('Z'), "{}", m.mtime);
        assert!(r.read(&dir.path().join("gone")).is_none());
    }
}
