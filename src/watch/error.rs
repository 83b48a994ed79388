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
use super::state::StateError;
use crate::config::ConfigError;
use crate::report::names;

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
