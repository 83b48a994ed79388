//! Setting up the gate for one scan: the root, the project file, and the
//! files `--since` selects. Called by `leakhound scan` before the pipeline
//! starts.

use std::path::{Path, PathBuf};

use super::config::{self, ProjectConfig, ProjectError};
use super::root::Root;
use super::since::{self, SinceError};
use crate::inputs::PathFilter;
use crate::rules::RuleSet;

/// The root paths are reported relative to: `--root`, else the one
/// directory scanned, else the current directory.
pub fn root_of(explicit: Option<&Path>, paths: &[PathBuf]) -> Root {
    if let Some(r) = explicit {
        return Root::new(r);
    }
    match paths {
        [only] if only.is_dir() => Root::new(only),
        _ => Root::new(Path::new(".")),
    }
}

/// The project file that applies from `dir` upward, read and checked;
/// `None` when there is none. Fails when the file is unreadable or invalid.
pub fn project_config(
    dir: &Path,
    rules: &RuleSet,
) -> Result<Option<(PathBuf, ProjectConfig)>, ProjectError> {
    let start = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Some(path) = config::find(start) else {
        return Ok(None);
    };
    let c = ProjectConfig::load(&path, rules)?;
    tracing::info!("project file {}", path.display());
    Ok(Some((path, c)))
}

/// The files under `paths` that changed since `reference`, as paths under
/// the roots the user gave, filtered by the globs; symbolic links only with
/// `--follow`. Fails when git cannot say what changed.
pub fn since_paths(
    reference: &str,
    paths: &[PathBuf],
    filter: &PathFilter,
    follow: bool,
) -> Result<Vec<PathBuf>, SinceError> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            continue;
        }
        let Ok(canon) = std::fs::canonicalize(p) else {
            continue;
        };
        let dir = if canon.is_dir() {
            canon.clone()
        } else {
            canon.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        for f in since::changed_files(&dir, reference)? {
            let rel = if canon.is_dir() {
                match f.strip_prefix(&canon) {
                    Ok(rel) => rel.to_path_buf(),
                    Err(_) => continue,
                }
            } else if f == canon {
                PathBuf::new()
            } else {
                continue;
            };
            let given = if rel.as_os_str().is_empty() {
                p.clone()
            } else {
                p.join(&rel)
            };
            let Ok(meta) = std::fs::symlink_metadata(&given) else {
                continue;
            };
            if meta.is_dir() || (meta.file_type().is_symlink() && !follow) {
                continue;
            }
            if !rel.as_os_str().is_empty() && !filter.wants_file(&rel) {
                continue;
            }
            out.push(given);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}
