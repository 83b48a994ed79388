//! `--since REF`: the files that changed since a git ref, for pull requests.
//!
//! Asks git for files that differ between REF and the working tree
//! (committed or not; deleted files left out) plus untracked files that are
//! not ignored, and keeps those under the scan roots. Git is run as a
//! program, so whatever git the runner has decides, exactly as a developer
//! would see it with `git diff --name-only REF`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why the changed files cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum SinceError {
    #[error("--since needs git: {0}")]
    NoGit(std::io::Error),
    #[error("--since: {dir} is not in a git work tree (git says: {message})")]
    NotARepo { dir: PathBuf, message: String },
    #[error(
        "--since: `{reference}` is not a commit in this repository (git says: {message}); \
         in CI fetch enough history (actions/checkout fetch-depth: 0, GIT_DEPTH: 0)"
    )]
    BadRef { reference: String, message: String },
    #[error("--since: git failed: {0}")]
    Git(String),
}

/// Runs git in `dir`: its output, or [`SinceError::Git`] with what git
/// wrote on stderr when it fails (callers that know what the failure means
/// turn that into a more precise variant with [`on_failure`]).
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, SinceError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(SinceError::NoGit)?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(SinceError::Git(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// Replaces a failure of git itself (not a failure to run it) with the
/// error `precise` makes of git's message.
fn on_failure(e: SinceError, precise: impl FnOnce(String) -> SinceError) -> SinceError {
    match e {
        SinceError::Git(message) => precise(message),
        other => other,
    }
}

/// Files changed since `reference` in the work tree holding `dir`, as
/// absolute paths, sorted.
pub fn changed_files(dir: &Path, reference: &str) -> Result<Vec<PathBuf>, SinceError> {
    let top = git(dir, &["rev-parse", "--show-toplevel"]).map_err(|e| {
        on_failure(e, |message| SinceError::NotARepo {
            dir: dir.to_path_buf(),
            message,
        })
    })?;
    let top = PathBuf::from(String::from_utf8_lossy(&top).trim());
    let commit = format!("{reference}^{{commit}}");
    git(&top, &["rev-parse", "--verify", "--quiet", &commit]).map_err(|e| {
        on_failure(e, |message| SinceError::BadRef {
            reference: reference.to_string(),
            message: if message.is_empty() {
                "unknown revision".to_string()
            } else {
                message
            },
        })
    })?;
    let diff = git(
        &top,
        &[
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            "--diff-filter=d",
            reference,
            "--",
        ],
    )?;
    let untracked = git(&top, &["ls-files", "-z", "--others", "--exclude-standard"])?;
    let mut files: Vec<PathBuf> = diff
        .split(|&b| b == 0)
        .chain(untracked.split(|&b| b == 0))
        .filter(|n| !n.is_empty())
        .map(|n| {
            use std::os::unix::ffi::OsStrExt;
            top.join(std::ffi::OsStr::from_bytes(n))
        })
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}
