//! Reaching a directory by an absolute path without following any link,
//! and deciding whether a directory may be trusted with the store.
//!
//! A path enters (the store's directory, a restore destination); an open
//! directory descriptor leaves, reached from `/` by `openat(O_NOFOLLOW |
//! O_DIRECTORY)` one component at a time, so no symbolic link anywhere on
//! the way is followed (defect D2: restore followed a link a user planted
//! in place of a directory on the original path; D4: a linked store). The
//! error names the component that is a link. `safe_fs::open_target` does
//! the same below a scan root; this walks from `/`, for paths that come
//! from the manifest or the operator rather than from a scan.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

fn esc(path: &Path) -> String {
    crate::report::names::escape_path(path)
}

/// Why a directory could not be reached or is not trusted. Paths in
/// messages are escaped losslessly (`report::names::escape_path`).
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error(
        "{} is a symbolic link: leakhound never follows a link on this path \
         (give the real path, e.g. from `realpath`)",
        esc(.0)
    )]
    Link(PathBuf),
    #[error("{} is not a directory", esc(.0))]
    NotDir(PathBuf),
    #[error("{} does not exist", esc(.0))]
    Missing(PathBuf),
    #[error("{}: `..` is not allowed in this path", esc(.path))]
    DotDot { path: PathBuf },
    #[error(
        "{} is owned by uid {uid}, not by root or this user (uid {me}): \
         another user could replace what is inside",
        esc(.path)
    )]
    Owner { path: PathBuf, uid: u32, me: u32 },
    #[error(
        "{} is writable by group or others (mode {mode:04o}): another user \
         could replace what is inside; make it private (chmod go-w)",
        esc(.path)
    )]
    Writable { path: PathBuf, mode: u32 },
    #[error("{}: {source}", esc(.path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What to require of every directory on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Only that none is a link.
    Any,
    /// Also that each is owned by root or by this user and writable by no
    /// one else (a sticky directory such as `/tmp` is accepted: others can
    /// create names in it but cannot rename or remove ours).
    Owned,
}

/// `path` made absolute against the current directory, without resolving
/// links (they are refused later, one component at a time).
pub fn absolute(path: &Path) -> Result<PathBuf, WalkError> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    std::env::current_dir()
        .map(|d| d.join(path))
        .map_err(|source| WalkError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Checks a directory met on the way against `trust`.
pub fn check_trusted(st: &Stat, path: &Path, trust: Trust) -> Result<(), WalkError> {
    if trust == Trust::Any {
        return Ok(());
    }
    let me = rustix::process::geteuid().as_raw();
    if st.st_uid != 0 && st.st_uid != me {
        return Err(WalkError::Owner {
            path: path.to_path_buf(),
            uid: st.st_uid,
            me,
        });
    }
    let sticky = st.st_mode & 0o1000 != 0;
    if st.st_mode & 0o022 != 0 && !sticky {
        return Err(WalkError::Writable {
            path: path.to_path_buf(),
            mode: st.st_mode & 0o7777,
        });
    }
    Ok(())
}

fn open_child(dir: &OwnedFd, name: &OsStr, shown: &Path) -> Result<OwnedFd, WalkError> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::LOOP | Errno::NOTDIR => {
            match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                    WalkError::Link(shown.to_path_buf())
                }
                _ => WalkError::NotDir(shown.to_path_buf()),
            }
        }
        Errno::NOENT => WalkError::Missing(shown.to_path_buf()),
        e => WalkError::Io {
            path: shown.to_path_buf(),
            source: e.into(),
        },
    })
}

/// Opens the directory `path` (absolute, or made so) from `/`, refusing a
/// link in any component; with `create`, missing directories are made
/// (mode 0700). Every directory on the way, the last included, is checked
/// against `trust`. Returns the descriptor and the absolute path.
pub fn open_dir(path: &Path, trust: Trust, create: bool) -> Result<(OwnedFd, PathBuf), WalkError> {
    let abs = absolute(path)?;
    let mut shown = PathBuf::from("/");
    let mut dir = rustix::fs::open(
        "/",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| WalkError::Io {
        path: shown.clone(),
        source: e.into(),
    })?;
    let stat = |fd: &OwnedFd, shown: &Path| {
        rustix::fs::fstat(fd).map_err(|e| WalkError::Io {
            path: shown.to_path_buf(),
            source: e.into(),
        })
    };
    check_trusted(&stat(&dir, &shown)?, &shown, trust)?;
    for c in abs.components() {
        let name = match c {
            Component::RootDir | Component::CurDir => continue,
            Component::Normal(n) => n,
            Component::ParentDir | Component::Prefix(_) => {
                return Err(WalkError::DotDot { path: abs.clone() });
            }
        };
        shown.push(name);
        let next = match open_child(&dir, name, &shown) {
            Err(WalkError::Missing(_)) if create => {
                match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => {
                        return Err(WalkError::Io {
                            path: shown,
                            source: e.into(),
                        });
                    }
                }
                open_child(&dir, name, &shown)?
            }
            other => other?,
        };
        check_trusted(&stat(&next, &shown)?, &shown, trust)?;
        dir = next;
    }
    Ok((dir, abs))
}

/// Opens the parent directory of the file path `path` as [`open_dir`]
/// does, and returns it with the file's name.
pub fn open_parent(
    path: &Path,
    trust: Trust,
) -> Result<(OwnedFd, PathBuf, std::ffi::OsString), WalkError> {
    let abs = absolute(path)?;
    let (Some(parent), Some(name)) = (abs.parent(), abs.file_name()) else {
        return Err(WalkError::NotDir(abs));
    };
    let (dir, parent) = open_dir(parent, trust, false)?;
    Ok((dir, parent, name.to_os_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_on_the_way_is_refused_and_named() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir_all(real.join("sub")).unwrap();
        std::os::unix::fs::symlink(&real, t.path().join("link")).unwrap();
        assert!(open_dir(&real.join("sub"), Trust::Any, false).is_ok());
        match open_dir(&t.path().join("link/sub"), Trust::Any, false) {
            Err(WalkError::Link(p)) => assert_eq!(p, t.path().join("link")),
            other => panic!("{other:?}"),
        }
        match open_parent(&t.path().join("link/f.txt"), Trust::Any) {
            Err(WalkError::Link(p)) => assert_eq!(p, t.path().join("link")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            open_dir(&t.path().join("real/../real"), Trust::Any, false),
            Err(WalkError::DotDot { .. })
        ));
        assert!(matches!(
            open_dir(&t.path().join("none"), Trust::Any, false),
            Err(WalkError::Missing(_))
        ));
        let (_, made) = open_dir(&t.path().join("new/deep"), Trust::Owned, true).unwrap();
        assert!(made.is_dir());
    }

    #[test]
    fn a_directory_others_may_write_is_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("open");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            open_dir(&d, Trust::Owned, false),
            Err(WalkError::Writable { .. })
        ));
        assert!(open_dir(&d, Trust::Any, false).is_ok());
        // Sticky, like /tmp: accepted.
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(open_dir(&d, Trust::Owned, false).is_ok());
    }
}
