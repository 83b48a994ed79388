//! Where the daemon meets the parts built beside it: actions (redact,
//! quarantine) and the configured sinks (syslog, journald, spooled files).
//!
//! - [`Actions`] is called by a scanning thread with the findings of one
//!   file, after its scan and before its events are sent: [`ReportOnly`]
//!   when the policy only reports, else [`PolicyActions`], which runs
//!   `actions::Actor` (redact, quarantine) under the policy. It says
//!   whether the action failed ([`Acted::failed`]), in which case the
//!   daemon keeps the file due and tries again later.
//! - [`build_sinks`] makes the event sinks: the JSON lines events file (or
//!   standard output) plus every output of the `sinks` section (syslog,
//!   journald, spooled and delivered at least once).

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::actions::{ActionOutcome, ActionSettings, Actor};
use crate::config::Config;
use crate::config::policy::ActionKind;
use crate::engine::Engine;
use crate::fingerprint::Fingerprinter;
use crate::report::event::{ActionEvent, ActionTaken, Event, FindingEvent};
use crate::report::{JsonLines, Sink};

/// What the actions seam did about one file.
#[derive(Debug, Default)]
pub struct Acted {
    /// Events that say what was done (none when nothing was asked).
    pub events: Vec<Event>,
    /// The policy asked for an action that could not be done, and why: the
    /// file stays due, and the action is tried again.
    pub failed: Option<String>,
}

/// What the daemon does about a file with findings, beyond reporting.
pub trait Actions: Send + Sync {
    /// Acts on `path` given its `findings`.
    fn act(
        &self,
        engine: &Engine,
        fingerprinter: &Fingerprinter,
        path: &Path,
        findings: &[FindingEvent],
    ) -> Acted;
}

/// Reports only: the policy of a daemon with no actions configured.
pub struct ReportOnly;

impl Actions for ReportOnly {
    fn act(&self, _: &Engine, _: &Fingerprinter, _: &Path, _: &[FindingEvent]) -> Acted {
        Acted::default()
    }
}

/// Redacts or quarantines as `policy` says.
pub struct PolicyActions {
    settings: ActionSettings,
    /// One action at a time: the quarantine manifest and the redaction
    /// journal are shared by every scanning thread, and actions are rare.
    one_at_a_time: Mutex<()>,
}

impl Actions for PolicyActions {
    fn act(
        &self,
        engine: &Engine,
        fingerprinter: &Fingerprinter,
        path: &Path,
        findings: &[FindingEvent],
    ) -> Acted {
        let name = crate::report::names::escape_path(path);
        // What the policy asks, decided before the actor is made: an actor
        // that cannot even start (its store on a full disk) must fail only
        // the files that needed it.
        let wanted = findings
            .iter()
            .filter(|f| f.confidence >= self.settings.min_confidence)
            .map(|f| self.settings.policy.action_for(&f.rule, f.severity, &name))
            .max()
            .unwrap_or(ActionKind::Report);
        if wanted == ActionKind::Report {
            return Acted::default();
        }
        let _turn = self
            .one_at_a_time
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match Actor::new(engine, fingerprinter, self.settings.clone()) {
            Ok(actor) => match actor.act_outcome(path, findings) {
                None => Acted::default(),
                Some((mut ev, outcome)) => {
                    let reason = ev.reason.clone().unwrap_or_default();
                    // The actor tells failures (and a file in use) apart;
                    // a `skipped` whose reason is not a final decision is
                    // retried too: giving up would leave a file unprotected.
                    let failed = match outcome {
                        _ if ev.dry_run => None,
                        ActionOutcome::Done => None,
                        ActionOutcome::Failed | ActionOutcome::InUse => Some(reason),
                        ActionOutcome::Skipped if !is_final(&reason) => Some(reason),
                        ActionOutcome::Skipped => None,
                    };
                    if failed.is_some() {
                        ev.action = ActionTaken::Failed;
                    }
                    Acted {
                        events: vec![Event::Action(ev)],
                        failed,
                    }
                }
            },
            Err(e) => {
                let reason = format!("the action could not start: {e}");
                let rules: BTreeSet<String> = findings.iter().map(|f| f.rule.clone()).collect();
                let ev = ActionEvent {
                    path: name.clone(),
                    member: None,
                    action: ActionTaken::Failed,
                    dry_run: false,
                    reason: Some(reason.clone()),
                    quarantine_id: None,
                    findings: findings.len() as u64,
                    rules: rules.into_iter().collect(),
                };
                Acted {
                    events: vec![Event::Action(ev)],
                    failed: Some(reason),
                }
            }
        }
    }
}

/// True when a `skipped` action was a decision no retry can change (the
/// file is a link, has other hard links, lies outside the roots, cannot be
/// redacted and the policy's fallback is to report). Any other reason (an
/// I/O error, a full or read-only store, a file in use or changing) is a
/// failure, and the action is tried again: `actions::Actor` reports both
/// as `skipped` with a reason, so the reason is all there is to go by, and
/// an unknown one is taken as a failure (retrying costs an attempt per
/// backoff period; giving up would leave a file unprotected).
pub fn is_final(reason: &str) -> bool {
    const FINAL: [&str; 7] = [
        "not a regular file",
        "hard links",
        "leaves its root",
        "symbolic link",
        "policy.fallback is report",
        "standard input",
        "outside the scan roots",
    ];
    FINAL.iter().any(|m| reason.contains(m))
}

/// The actions `config.policy` asks for, on files under the watched roots.
pub fn build_actions(config: &Config) -> Box<dyn Actions> {
    let policy = &config.policy;
    let acts = policy.default != ActionKind::Report
        || policy.rules.iter().any(|r| r.action != ActionKind::Report);
    if !acts {
        return Box::new(ReportOnly);
    }
    let settings = ActionSettings {
        policy: policy.clone(),
        force: None,
        dry_run: false,
        roots: config.watch.roots.iter().map(|r| r.path.clone()).collect(),
        quarantine_dir: policy.quarantine.dir.clone(),
        journal_dir: super::state_dir(config).join("journal"),
        min_confidence: config.watch.min_confidence.level(),
    };
    Box::new(PolicyActions {
        settings,
        one_at_a_time: Mutex::new(()),
    })
}

/// Why the daemon's sinks cannot be built; each says what to check.
#[derive(Debug, thiserror::Error)]
pub enum SinksError {
    #[error(
        "{}: cannot open the events file: {error} (check watch.events_file and that the daemon's user may write there)",
        crate::report::names::log_path(path)
    )]
    EventsFile {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("sinks: {0} (check the sinks section of the configuration file)")]
    Sinks(#[from] crate::sinks::SinkError),
}

/// The sinks events go to: the events file (or standard output), then the
/// configured outputs. Errors name the file and what to do.
pub fn build_sinks(
    config: &Config,
    state_dir: &Path,
) -> Result<Vec<Box<dyn Sink + Send>>, SinksError> {
    let out: Box<dyn Write + Send> = match &config.watch.events_file {
        Some(path) => {
            // Group-readable at most, whatever the umask (a log shipper
            // may read it through the daemon's group); an existing file
            // keeps the mode its owner gave it.
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .open(path)
                .map_err(|error| SinksError::EventsFile {
                    path: path.clone(),
                    error,
                })?;
            Box::new(BufWriter::new(file))
        }
        None => Box::new(std::io::stdout()),
    };
    let mut sinks: Vec<Box<dyn Sink + Send>> = vec![Box::new(JsonLines::new(out))];
    let outputs = crate::sinks::from_config(&config.sinks, state_dir)?;
    sinks.extend(outputs);
    Ok(sinks)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// D10: which refusals are retried. A full or read-only store, an I/O
    /// error or a file in use are failures; a link or a policy decision is
    /// final.
    #[test]
    fn d10_failures_are_told_from_final_refusals() {
        for failure in [
            "quarantine store /q: cannot create the store: No space left on device (os error 28) (check that it exists, is writable by this user, and has space)",
            "quarantine manifest /q/manifest.db: database or disk is full",
            "cannot write the redacted copy: Read-only file system (os error 30)",
            "the file changed while leakhound was acting on it (size or modification time); left as it is, scan it again",
            "in use by another process",
            "",
        ] {
            assert!(!is_final(failure), "{failure}");
        }
        for decision in [
            "a symbolic link: leakhound never acts through a link",
            "has 2 hard links: changing one name would change or leave the others (set policy.allow_hardlinks to act anyway)",
            "a FIFO: not a regular file; not touched",
            "cannot be redacted (a binary file); policy.fallback is report: left as it is",
            "outside the scan roots: leakhound acts only on files under the roots it scanned",
        ] {
            assert!(is_final(decision), "{decision}");
        }
    }
}
