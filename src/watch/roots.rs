//! Watched roots, resolved from the configuration: which files under a root
//! count (globs, and for Maildir only `new/` and `cur/`), and whether the
//! root is watched with inotify or polled (network filesystems, detected
//! with statfs, are polled: inotify only sees this machine's writes there).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::watch::{Mode, Root, RootKind};
use crate::inputs::{GlobError, PathFilter};
use crate::report::names;

/// Why a configured root cannot be watched; each names the root.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    #[error("{}: {error}", names::log_path(path))]
    Globs { path: PathBuf, error: GlobError },
    #[error(
        "{}: cannot watch: {error} (create it, or remove it from watch.roots)",
        names::log_path(path)
    )]
    Unreachable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{}: not a directory (a root of kind {kind:?} must be one)",
        names::log_path(path)
    )]
    NotADirectory { path: PathBuf, kind: RootKind },
}

/// A root ready to be watched.
#[derive(Debug, Clone)]
pub struct WatchedRoot {
    pub path: PathBuf,
    pub kind: RootKind,
    pub filter: PathFilter,
    /// Poll instead of inotify.
    pub poll: Option<Duration>,
    /// Why the root is polled, when it was not asked for.
    pub mode_note: Option<String>,
}

impl WatchedRoot {
    /// Resolves a configured root: its globs, and how to watch it.
    pub fn new(root: &Root) -> Result<WatchedRoot, RootError> {
        let filter =
            PathFilter::new(&root.include, &root.exclude).map_err(|error| RootError::Globs {
                path: root.path.clone(),
                error,
            })?;
        let meta = std::fs::metadata(&root.path).map_err(|error| RootError::Unreachable {
            path: root.path.clone(),
            error,
        })?;
        if root.kind != RootKind::Mbox && !meta.is_dir() {
            return Err(RootError::NotADirectory {
                path: root.path.clone(),
                kind: root.kind,
            });
        }
        let (poll, mode_note) = match root.mode {
            Mode::Poll => (Some(root.poll_interval), None),
            Mode::Inotify => (None, None),
            Mode::Auto => match network_fs(&root.path) {
                Some(fs) => (
                    Some(root.poll_interval),
                    Some(format!("polled: {fs} filesystem")),
                ),
                None => (None, None),
            },
        };
        Ok(WatchedRoot {
            path: root.path.clone(),
            kind: root.kind,
            filter,
            poll,
            mode_note,
        })
    }

    /// True when `path`, somewhere under this root, is a file to scan.
    pub fn wants(&self, path: &Path) -> bool {
        let Ok(rel) = path.strip_prefix(&self.path) else {
            return false;
        };
        if rel.as_os_str().is_empty() {
            // The root itself: only an mbox root may be a file.
            return self.kind == RootKind::Mbox;
        }
        if !self.filter.wants_file(rel) {
            return false;
        }
        // An excluded directory excludes everything under it, for events
        // as for walks.
        let mut dir = rel.parent();
        while let Some(d) = dir {
            if self.filter.prune_dir(d) {
                return false;
            }
            dir = d.parent();
        }
        match self.kind {
            RootKind::Files | RootKind::Mbox => true,
            // Messages are complete once in new/ or cur/; tmp/ holds
            // deliveries in progress, and the rest are index files.
            RootKind::Maildir => matches!(
                rel.parent()
                    .and_then(Path::file_name)
                    .and_then(|n| n.to_str()),
                Some("new" | "cur")
            ),
        }
    }

    /// True when a directory under this root is to be walked.
    pub fn enter(&self, dir: &Path) -> bool {
        match dir.strip_prefix(&self.path) {
            Ok(rel) => !self.filter.prune_dir(rel),
            Err(_) => false,
        }
    }

    /// `inotify` or `poll every 30s`, with the reason when it was chosen
    /// for the operator.
    pub fn mode_name(&self) -> String {
        match (self.poll, &self.mode_note) {
            (None, _) => "inotify".to_string(),
            (Some(d), None) => format!("poll every {}", humantime::format_duration(d)),
            (Some(d), Some(n)) => format!("poll every {} ({n})", humantime::format_duration(d)),
        }
    }
}

/// The name of the network filesystem `path` is on, if it is on one.
pub fn network_fs(path: &Path) -> Option<&'static str> {
    let st = rustix::fs::statfs(path).ok()?;
    fs_name(st.f_type as i64)
}

/// Names filesystem magic numbers (from `statfs(2)`) that inotify cannot
/// follow fully.
fn fs_name(magic: i64) -> Option<&'static str> {
    match magic {
        0x6969 => Some("NFS"),
        0x517B => Some("SMB"),
        0xFF53_4D42 => Some("CIFS"),
        0xFE53_4D42 => Some("SMB2"),
        0x6573_5546 => Some("FUSE"),
        0x00C3_6400 => Some("Ceph"),
        0x0102_1997 => Some("9p"),
        0x5346_414F => Some("AFS"),
        0x0BD0_0BD0 => Some("Lustre"),
        0x4741_4653 => Some("GPFS"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(kind: RootKind, exclude: &[&str]) -> WatchedRoot {
        WatchedRoot {
            path: PathBuf::from("/r"),
            kind,
            filter: PathFilter::new(
                &[],
                &exclude.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
            .unwrap(),
            poll: None,
            mode_note: None,
        }
    }

    #[test]
    fn maildir_roots_take_only_new_and_cur() {
        let r = root(RootKind::Maildir, &[]);
        assert!(r.wants(Path::new("/r/INBOX/new/1.host")));
        assert!(r.wants(Path::new("/r/cur/1.host:2,S")));
        assert!(!r.wants(Path::new("/r/tmp/1.host")));
        assert!(!r.wants(Path::new("/r/dovecot.index")));
        assert!(!r.wants(Path::new("/elsewhere/new/1")));
    }

    #[test]
    fn excluded_directories_exclude_what_is_under_them() {
        let r = root(RootKind::Files, &["cache", "*.iso"]);
        assert!(r.wants(Path::new("/r/a/b.txt")));
        assert!(!r.wants(Path::new("/r/cache/b.txt")));
        assert!(!r.wants(Path::new("/r/x/disk.iso")));
        assert!(!r.enter(Path::new("/r/a/cache")));
    }

    #[test]
    fn network_filesystems_are_named() {
        assert_eq!(fs_name(0x6969), Some("NFS"));
        assert_eq!(fs_name(0xFF53_4D42), Some("CIFS"));
        assert_eq!(fs_name(0x6573_5546), Some("FUSE"));
        assert_eq!(fs_name(0xEF53), None); // ext4
    }
}
