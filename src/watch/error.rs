//! The daemon's errors, split as watchexec splits its own: a
//! [`StartError`] is critical (the daemon cannot start: it is returned
//! before READY=1 and `leakhound watch` exits 2), a [`ReloadError`] is a
//! runtime error (a SIGHUP whose configuration cannot be used: counted in
//! `reload_failures`, shown as `last_error`, and the running configuration
//! stays). Other runtime errors (a file that cannot be read, an action that
//! fails) are counted and logged where they happen and never stop the
//! daemon. Every message names the file, root or address and says what to
//! do.

use std::path::PathBuf;

use super::metrics::MetricsError;
use super::reload::BuildError;
use super::seams::SinksError;
use crate::config::ConfigError;
use crate::report::names;
use crate::state::StateError;

/// Why the daemon cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration file cannot be read or is not valid.
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error(
        "{}: cannot create the state directory: {error} (set state_dir in the configuration, or create it for the daemon's user)",
        names::log_path(dir)
    )]
    StateDir { dir: PathBuf, error: std::io::Error },
    /// The configuration parses but cannot run (rules, roots, key).
    #[error("{}: {error}", names::log_path(config))]
    Build { config: PathBuf, error: BuildError },
    #[error("{0}")]
    StateDb(#[from] StateError),
    #[error("{0}")]
    Sinks(#[from] SinksError),
    #[error("{0}")]
    Metrics(#[from] MetricsError),
    /// `ocr.mode: on` without an OCR engine installed.
    #[error(
        "{}: ocr.mode is on, but no OCR engine was found: install tesseract-ocr, or set ocr.mode to auto",
        names::log_path(config)
    )]
    NoOcrEngine { config: PathBuf },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("cannot start the signal thread: {0}")]
    SignalThread(std::io::Error),
}

/// Why a reload (SIGHUP) was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{}: {error}", names::log_path(config))]
    Build { config: PathBuf, error: BuildError },
    #[error("{0}")]
    Sinks(#[from] SinksError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::roots::RootError;

    /// A start-up failure is a value the caller can match on (which part is
    /// wrong), and its message still names the file or root to fix.
    #[test]
    fn i19_start_errors_say_which_part_cannot_start() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let run = |yaml: &str| {
            let cfg = dir.path().join("leakhound.yaml");
            std::fs::write(&cfg, format!("state_dir: {}\n{yaml}", state.display())).unwrap();
            crate::watch::run(&cfg).unwrap_err()
        };

        let e = crate::watch::run(&dir.path().join("missing.yaml")).unwrap_err();
        assert!(
            matches!(e, StartError::Config(ConfigError::Read { .. })),
            "{e}"
        );

        let e = run("watch:\n  roots: []\n");
        assert!(
            matches!(
                e,
                StartError::Build {
                    error: BuildError::NoRoots,
                    ..
                }
            ),
            "{e}"
        );
        let text = e.to_string();
        assert!(
            text.contains("leakhound.yaml") && text.contains("watch.roots is empty"),
            "{text}"
        );

        let missing = dir.path().join("no-such-share");
        let e = run(&format!(
            "watch:\n  roots:\n    - path: {}\n",
            missing.display()
        ));
        assert!(
            matches!(
                &e,
                StartError::Build {
                    error: BuildError::Root(RootError::Unreachable { path, .. }),
                    ..
                } if *path == missing
            ),
            "{e}"
        );
        assert!(e.to_string().contains("remove it from watch.roots"), "{e}");
    }
}
