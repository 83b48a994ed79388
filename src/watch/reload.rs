//! Reload: a configuration swapped in at run time without a restart
//! (SIGHUP), as watchexec swaps its config.
//!
//! What enters: the configuration file's path, read again, with its rules,
//! key, roots and sinks. What leaves: either a new
//! [`Runtime`](super::scanner::Runtime) swapped in at once (each file is
//! scanned wholly with the old or wholly with the new one), the watchers
//! installed anew if the roots changed and a rescan if the roots or the
//! rules changed; or, if any part is bad, an error reported (log,
//! `last_error`, `reload_failures`) while the running configuration and its
//! sinks stay. [`build_runtime`] is also how `run` starts: any error names
//! the file or root and says what to do.

use std::sync::atomic::Ordering;

use super::error::ReloadError;
use super::roots::{RootError, WatchedRoot};
use super::scanner::Runtime;
use super::{Daemon, seams, state_dir};
use crate::config::Config;
use crate::engine::Engine;
use crate::fingerprint::{Fingerprinter, KeyError};
use crate::report::names;
use crate::rules::{RuleErrors, RuleSet};
use crate::state::StateKey;

/// How the error of a refused reload begins (a good reload clears it).
const RELOAD_FAILED: &str = "reload failed";

/// Why a configuration that parses cannot run (at start-up, or on a
/// reload); the caller names the configuration file.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the rules cannot be used:\n{0}")]
    Rules(RuleErrors),
    #[error("watch.roots is empty: name at least one directory to guard")]
    NoRoots,
    #[error("{0}")]
    Root(#[from] RootError),
    #[error("{0}")]
    Key(#[from] KeyError),
}

/// Builds everything a configuration implies; any error names the file
/// or root and says what to do.
pub(super) fn build_runtime(config: Config) -> Result<Runtime, BuildError> {
    let rules = match &config.watch.rules_dir {
        Some(dir) => RuleSet::load_dir(dir),
        None => RuleSet::builtin_all(),
    }
    .and_then(|all| all.select_packs(&config.watch.rules_packs))
    .map_err(BuildError::Rules)?;
    if config.watch.roots.is_empty() {
        return Err(BuildError::NoRoots);
    }
    let roots = config
        .watch
        .roots
        .iter()
        .map(WatchedRoot::new)
        .collect::<Result<Vec<_>, _>>()?;
    let fingerprinter = Fingerprinter::resolve(
        config.watch.fingerprint_key_file.as_deref(),
        Some(&state_dir(&config)),
    )?;
    let actions = seams::build_actions(&config);
    Ok(Runtime {
        state_key: StateKey::derive(&fingerprinter),
        min_confidence: config.watch.min_confidence.level(),
        engine: Engine::new(rules).with_base64(config.limits.base64_on()),
        fingerprinter,
        roots,
        actions,
        config,
    })
}

impl Daemon {
    /// SIGHUP: read the configuration and rules again; use them only if
    /// all of it is good.
    pub(super) fn reload(&mut self) {
        self.notifier.send("RELOADING=1\nSTATUS=reloading");
        let stats = &self.shared.stats;
        let result = Config::load(&self.config_path)
            .map_err(ReloadError::from)
            .and_then(|c| {
                build_runtime(c).map_err(|error| ReloadError::Build {
                    config: self.config_path.clone(),
                    error,
                })
            })
            .and_then(|rt| {
                // The old sinks let go of their spools before the new ones
                // take them; if the new ones cannot be made, the old ones
                // come back.
                let old = self.shared.current.get();
                let mut output = self.shared.output.lock().unwrap_or_else(|p| p.into_inner());
                output.replace(Vec::new());
                match seams::build_sinks(&rt.config, &self.state_dir) {
                    Ok(sinks) => {
                        output.replace(sinks);
                        Ok(rt)
                    }
                    Err(e) => {
                        match seams::build_sinks(&old.config, &self.state_dir) {
                            Ok(previous) => output.replace(previous),
                            Err(again) => tracing::error!("cannot restore the sinks: {again}"),
                        }
                        Err(ReloadError::from(e))
                    }
                }
            });
        match result {
            Err(e) => {
                stats.reload_failures.fetch_add(1, Ordering::Relaxed);
                stats.error(format!(
                    "{RELOAD_FAILED}, still running with the previous configuration: {e}"
                ));
            }
            Ok(rt) => {
                let old = self.shared.current.get();
                if state_dir(&rt.config) != self.state_dir {
                    tracing::warn!(
                        "state_dir changed; it takes effect at the next restart (still using {})",
                        names::log_path(&self.state_dir)
                    );
                }
                if rt.config.watch.metrics_listen != old.config.watch.metrics_listen {
                    tracing::warn!(
                        "watch.metrics_listen changed; it takes effect at the next restart"
                    );
                }
                let roots_changed = root_key(&old.config) != root_key(&rt.config);
                let rules_changed = old.rules_version() != rt.rules_version();
                self.shared.current.set(rt);
                stats.reloads.fetch_add(1, Ordering::Relaxed);
                // The failed reload it may show is over; errors after this
                // one show again.
                stats.clear_error(RELOAD_FAILED);
                if roots_changed {
                    self.install_watchers();
                }
                if roots_changed || rules_changed {
                    // New rules: every file is stale in the state database,
                    // so a walk rescans them all.
                    let rt = self.shared.current.get();
                    for (i, root) in rt.roots.iter().enumerate() {
                        self.rescan(i, root);
                    }
                }
                tracing::info!(
                    "configuration reloaded (rules {}{})",
                    self.shared.current.get().rules_version(),
                    if rules_changed {
                        ", changed: rescanning"
                    } else {
                        ""
                    }
                );
            }
        }
        let snap = self.snapshot("running");
        self.write_status(&snap);
        self.notifier
            .send(&format!("READY=1\nSTATUS={}", snap.one_line()));
    }
}

/// The roots as configured, to tell whether a reload changed them.
fn root_key(c: &Config) -> String {
    format!("{:?}", c.watch.roots)
}

#[cfg(test)]
mod base64_tests {
    use super::*;

    /// The daemon's engine decodes base64 payloads unless the config file
    /// says `limits.base64: false` (on by default, as for `scan`).
    #[test]
    fn b64_daemon_honours_limits_base64() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("guarded");
        std::fs::create_dir(&root).unwrap();
        let yaml = |extra: &str| {
            format!(
                "state_dir: {}\nwatch:\n  roots:\n    - path: {}\n{extra}",
                dir.path().join("state").display(),
                root.display()
            )
        };
        let built = |text: String| {
            let config = Config::parse(std::path::Path::new("leakhound.yaml"), &text).unwrap();
            build_runtime(config).unwrap().engine.base64()
        };
        assert!(built(yaml("")));
        assert!(built(yaml("limits:\n  base64: true\n")));
        assert!(!built(yaml("limits:\n  base64: false\n")));
    }
}
