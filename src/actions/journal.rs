//! The redaction journal: which temporary files an unfinished redaction
//! may have left, so the next start can remove them.
//!
//! One small file per redaction in progress, in `<state_dir>/journal/`,
//! written and fsynced before the temporary file is created and removed
//! after the rename is durable. A crash at any step leaves either the
//! original or the redacted file at the path (the rename is atomic); the
//! only litter is the temporary file, which holds redacted text, never the
//! raw numbers. [`Journal::recover`] removes it. Quarantine keeps its own
//! journal in the manifest (see `quarantine`).

use std::io::Write;
use std::path::{Path, PathBuf};

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
        let entry = Entry {
            id: id.to_string(),
            dir: dir.to_path_buf(),
            temp: temp.to_string(),
        };
        let path = self.entry_path(id);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        f.write_all(&serde_json::to_vec(&entry)?)?;
        f.sync_all()?;
        safe_fs::fsync_dir(&std::fs::File::open(&self.dir)?)?;
        Ok(entry)
    }

    /// The redaction is durable (or undone): forget it.
    pub fn end(&self, entry: &Entry) {
        let _ = std::fs::remove_file(self.entry_path(&entry.id));
    }

    /// Removes what unfinished redactions left. Returns how many entries
    /// were recovered.
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
            let is_entry = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("redact-") && n.ends_with(".json"));
            if !is_entry {
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

/// Creates a directory (and its parents) with mode 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
