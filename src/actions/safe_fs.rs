//! File-descriptor based file access for actions, safe on shared
//! directories where any user can create files.
//!
//! A path enters as the scanner reported it, together with the scan roots;
//! what leaves is a [`Target`]: the open parent directory and the open file,
//! reached from a root by `openat` one component at a time with
//! `O_NOFOLLOW`, so a symbolic link planted anywhere below the root (even
//! one swapped in after the scan) is refused rather than followed. Every
//! later step works on those descriptors (`openat`, `renameat`, `unlinkat`
//! relative to the directory), never on a path resolved again.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::report::names::{escape_bytes, escape_path};

/// Why a file is not acted on, or why its rewrite cannot keep what the
/// original had. The message is the reason in the `skipped` or `failed`
/// action event: it names the component or attribute, never the file's
/// content.
#[derive(Debug, thiserror::Error)]
pub enum SafeFsError {
    #[error("cannot stat: {0}")]
    Stat(Errno),
    #[error(
        "the file changed while leakhound was acting on it (size, modification or change time); left as it is, scan it again"
    )]
    Changed,
    #[error(
        "the file was replaced by another while leakhound was acting on it; left as it is, scan it again"
    )]
    Replaced,
    #[error("the file vanished while leakhound was acting on it ({0})")]
    Vanished(Errno),
    #[error("outside the scan roots: leakhound acts only on files under the roots it scanned")]
    OutsideRoots,
    #[error("the path leaves its root (`..`): not acted on")]
    LeavesRoot,
    #[error("not a file name")]
    NotAFileName,
    #[error("cannot open the directory {}: {error}", escape_path(dir))]
    Root { dir: PathBuf, error: Errno },
    #[error(
        "a directory on the way ({}) is a symbolic link or not a directory: leakhound never acts through a link",
        escape_path(dir)
    )]
    LinkOnTheWay { dir: PathBuf },
    #[error("cannot open directory {}: {error}", escape_path(dir))]
    OpenDir { dir: PathBuf, error: Errno },
    #[error("a symbolic link: leakhound never acts through a link")]
    Symlink,
    #[error("vanished before the action")]
    VanishedBefore,
    #[error("permission denied (run as a user who may change it)")]
    PermissionDenied,
    #[error("cannot open: {0}")]
    Open(Errno),
    /// A FIFO, a socket, a device, a directory.
    #[error("{0}: not a regular file; not touched")]
    NotRegular(&'static str),
    #[error(
        "has {0} hard links: changing one name would change or leave the others (set policy.allow_hardlinks to act anyway)"
    )]
    HardLinks(u64),
    #[error("cannot stat the new file: {0}")]
    StatNew(Errno),
    #[error(
        "cannot give the rewritten file the original owner {uid}:{gid} ({error}); run as root or as the owner"
    )]
    Chown { uid: u32, gid: u32, error: Errno },
    #[error("cannot set the mode: {0}")]
    Chmod(Errno),
    #[error("cannot list extended attributes: {0}")]
    ListXattrs(Errno),
    #[error("too many extended attributes")]
    TooManyXattrs,
    #[error("cannot read extended attribute {}: {error}", escape_bytes(name))]
    ReadXattr { name: Vec<u8>, error: Errno },
    #[error(
        "cannot keep extended attribute {} on the rewritten file ({error})",
        escape_bytes(name)
    )]
    KeepXattr { name: Vec<u8>, error: Errno },
}

/// A file to act on, held open.
#[derive(Debug)]
pub struct Target {
    /// The directory holding the file.
    pub dir: OwnedFd,
    /// The file's name in `dir`.
    pub name: OsString,
    /// The file, open for reading.
    pub file: File,
    /// `fstat` of `file` when it was opened.
    pub stat: Stat,
}

impl Target {
    /// The absolute path of the file, as the kernel names the open
    /// directory (for the manifest and the journal).
    pub fn abs_path(&self) -> PathBuf {
        dir_path(&self.dir).join(&self.name)
    }

    /// Whether the name still refers to the opened file, unchanged in size,
    /// modification and change time (which `touch` cannot set back): nobody
    /// replaced or wrote it meanwhile.
    pub fn unchanged(&self) -> Result<(), SafeFsError> {
        let now = rustix::fs::fstat(&self.file).map_err(SafeFsError::Stat)?;
        if !same_content_stamp(&self.stat, &now) {
            return Err(SafeFsError::Changed);
        }
        match rustix::fs::statat(&self.dir, self.name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if st.st_dev == self.stat.st_dev && st.st_ino == self.stat.st_ino => Ok(()),
            Ok(_) => Err(SafeFsError::Replaced),
            Err(e) => Err(SafeFsError::Vanished(e)),
        }
    }
}

fn same_content_stamp(a: &Stat, b: &Stat) -> bool {
    a.st_size == b.st_size
        && a.st_mtime == b.st_mtime
        && a.st_mtime_nsec == b.st_mtime_nsec
        && a.st_ctime == b.st_ctime
        && a.st_ctime_nsec == b.st_ctime_nsec
        && a.st_ino == b.st_ino
}

/// The absolute path of an open directory.
pub fn dir_path(dir: &impl AsFd) -> PathBuf {
    std::fs::read_link(format!("/proc/self/fd/{}", dir.as_fd().as_raw_fd()))
        .unwrap_or_else(|_| PathBuf::from("?"))
}

/// Opens `path` for an action: it must lie under one of `roots`, be reached
/// without following any symbolic link below the root, be a regular file,
/// and (unless `allow_hardlinks`) have a single link. The error is the
/// reason, for the `skipped` action event.
pub fn open_target(
    roots: &[PathBuf],
    path: &Path,
    allow_hardlinks: bool,
) -> Result<Target, SafeFsError> {
    let root = roots
        .iter()
        .filter(|r| path.starts_with(r))
        .max_by_key(|r| r.components().count())
        .ok_or(SafeFsError::OutsideRoots)?;
    let rel = path.strip_prefix(root).unwrap_or(Path::new(""));
    let mut parts: Vec<&OsStr> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => parts.push(n),
            Component::CurDir => {}
            _ => return Err(SafeFsError::LeavesRoot),
        }
    }
    // The root itself is the operator's choice and may be a link; only
    // what lies below it is held to O_NOFOLLOW.
    let (mut dir, name) = match parts.pop() {
        Some(name) => (open_dir(root).map_err(|e| root_error(root, e))?, name),
        None => {
            // The root is the file itself.
            let name = root.file_name().ok_or(SafeFsError::NotAFileName)?;
            let parent = match root.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            (open_dir(parent).map_err(|e| root_error(parent, e))?, name)
        }
    };
    for part in parts {
        dir = rustix::fs::openat(
            &dir,
            part,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            Errno::LOOP | Errno::NOTDIR => SafeFsError::LinkOnTheWay { dir: part.into() },
            error => SafeFsError::OpenDir {
                dir: part.into(),
                error,
            },
        })?;
    }
    let fd = rustix::fs::openat(
        &dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::LOOP => SafeFsError::Symlink,
        Errno::NOENT => SafeFsError::VanishedBefore,
        Errno::NXIO => SafeFsError::NotRegular("a socket"),
        Errno::ACCESS | Errno::PERM => SafeFsError::PermissionDenied,
        e => SafeFsError::Open(e),
    })?;
    let stat = rustix::fs::fstat(&fd).map_err(SafeFsError::Stat)?;
    let ft = FileType::from_raw_mode(stat.st_mode);
    if ft != FileType::RegularFile {
        let what = match ft {
            FileType::Fifo => "a FIFO",
            FileType::Socket => "a socket",
            FileType::CharacterDevice | FileType::BlockDevice => "a device",
            FileType::Directory => "a directory",
            _ => "not a regular file",
        };
        return Err(SafeFsError::NotRegular(what));
    }
    if stat.st_nlink > 1 && !allow_hardlinks {
        // nlink_t is u32 on some targets.
        #[allow(clippy::unnecessary_cast)]
        return Err(SafeFsError::HardLinks(stat.st_nlink as u64));
    }
    Ok(Target {
        dir,
        name: name.to_os_string(),
        file: File::from(fd),
        stat,
    })
}

fn root_error(root: &Path, error: Errno) -> SafeFsError {
    SafeFsError::Root {
        dir: root.to_path_buf(),
        error,
    }
}

/// Opens a directory (following links: for roots and the store only).
pub fn open_dir(path: &Path) -> Result<OwnedFd, Errno> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Creates a new file in `dir`, failing if the name exists; never follows
/// a link.
pub fn create_new(dir: &impl AsFd, name: &OsStr, mode: u32) -> std::io::Result<File> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )?;
    Ok(File::from(fd))
}

/// Makes the directory's entries durable (after a create, rename, unlink).
pub fn fsync_dir(dir: &impl AsFd) -> std::io::Result<()> {
    rustix::fs::fsync(dir)?;
    Ok(())
}

/// Gives `to` the owner, group, permission bits and extended attributes of
/// the file described by `from`/`st`. Fails (and the caller leaves the
/// original alone) when one cannot be kept: a rewritten file must not
/// quietly change hands or lose an ACL.
pub fn copy_metadata(from: &File, st: &Stat, to: &File) -> Result<(), SafeFsError> {
    let now = rustix::fs::fstat(to).map_err(SafeFsError::StatNew)?;
    if now.st_uid != st.st_uid || now.st_gid != st.st_gid {
        rustix::fs::fchown(
            to,
            Some(rustix::fs::Uid::from_raw(st.st_uid)),
            Some(rustix::fs::Gid::from_raw(st.st_gid)),
        )
        .map_err(|error| SafeFsError::Chown {
            uid: st.st_uid,
            gid: st.st_gid,
            error,
        })?;
    }
    // After chown, which clears set-id bits.
    rustix::fs::fchmod(to, Mode::from_raw_mode(st.st_mode & 0o7777)).map_err(SafeFsError::Chmod)?;
    copy_xattrs(from, to)
}

fn copy_xattrs(from: &File, to: &File) -> Result<(), SafeFsError> {
    let mut names = vec![0u8; 4096];
    let n = loop {
        match rustix::fs::flistxattr(from, &mut names[..]) {
            Ok(n) => break n,
            Err(Errno::RANGE) => names.resize(names.len() * 4, 0),
            Err(Errno::NOTSUP) => return Ok(()),
            Err(e) => return Err(SafeFsError::ListXattrs(e)),
        }
        if names.len() > 1 << 20 {
            return Err(SafeFsError::TooManyXattrs);
        }
    };
    for name in names[..n].split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let name = OsStr::from_bytes(name);
        let mut value = vec![0u8; 4096];
        let len = loop {
            match rustix::fs::fgetxattr(from, name, &mut value[..]) {
                Ok(len) => break len,
                Err(Errno::RANGE) if value.len() < 1 << 20 => value.resize(value.len() * 4, 0),
                Err(error) => {
                    return Err(SafeFsError::ReadXattr {
                        name: name.as_bytes().to_vec(),
                        error,
                    });
                }
            }
        };
        rustix::fs::fsetxattr(to, name, &value[..len], rustix::fs::XattrFlags::empty()).map_err(
            |error| SafeFsError::KeepXattr {
                name: name.as_bytes().to_vec(),
                error,
            },
        )?;
    }
    Ok(())
}

/// Random hex id of `bytes` random bytes.
pub fn random_id(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}
