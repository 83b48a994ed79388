//! Paths relative to the scan root, so that a report or a baseline made on
//! one runner reads the same on another (`/home/runner/work/x/x/a.csv` and
//! `/builds/x/a.csv` both become `a.csv`).

use std::path::{Component, Path, PathBuf};

/// The directory reported paths are relative to.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
    canonical: Option<PathBuf>,
}

impl Root {
    /// A root at `dir` (as given; it is also resolved, so paths reached
    /// through another spelling still match).
    pub fn new(dir: &Path) -> Root {
        Root {
            dir: normal(dir),
            canonical: std::fs::canonicalize(dir).ok(),
        }
    }

    /// The root as given.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `path` relative to the root, with `/` separators; a path outside the
    /// root (or `<stdin>`) is returned as it is. Paths are as events carry
    /// them, escaped (`report::names`): compared as the bytes they stand for.
    pub fn relative(&self, path: &str) -> String {
        let p = normal(&crate::report::names::to_path(path));
        // An absolute path never strips a relative root (`.` normalises to
        // the empty path, a prefix of everything).
        if p.is_absolute() == self.dir.is_absolute()
            && let Ok(rel) = p.strip_prefix(&self.dir)
        {
            return slashes(rel, &p);
        }
        if let Some(canon_root) = &self.canonical {
            // Resolve the directory, not the file: a symbolic link named
            // as a file keeps its own name.
            let resolved = match (p.parent(), p.file_name()) {
                (Some(parent), Some(name)) => {
                    let parent = if parent.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        parent
                    };
                    std::fs::canonicalize(parent).ok().map(|d| d.join(name))
                }
                _ => None,
            };
            if let Some(r) = resolved
                && let Ok(rel) = r.strip_prefix(canon_root)
            {
                return slashes(rel, &r);
            }
        }
        path.to_string()
    }
}

/// `a/./b` -> `a/b`, `./a` -> `a`; `..` is kept (resolving it lexically
/// would be wrong across symbolic links).
fn normal(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        if c != Component::CurDir {
            out.push(c.as_os_str());
        }
    }
    out
}

fn slashes(rel: &Path, full: &Path) -> String {
    use crate::report::names::escape_path;
    if rel.as_os_str().is_empty() {
        // The root is the file itself: report its name.
        return full
            .file_name()
            .map(|n| escape_path(Path::new(n)))
            .unwrap_or_default();
    }
    escape_path(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_and_resolved() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.csv"), "x").unwrap();
        let root = Root::new(dir.path());
        let abs = dir.path().join("sub/a.csv");
        assert_eq!(root.relative(&abs.to_string_lossy()), "sub/a.csv");
        let dotted = format!("{}/./sub/a.csv", dir.path().display());
        assert_eq!(root.relative(&dotted), "sub/a.csv");
        let r = Root::new(Path::new("./exports"));
        assert_eq!(r.relative("exports/x.csv"), "x.csv");
        assert_eq!(r.relative("<stdin>"), "<stdin>");
    }
}
