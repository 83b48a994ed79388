//! Where the daemon meets the parts built beside it: actions (redact,
//! quarantine) and the configured sinks (syslog, journald, spooled files).
//!
//! - [`Actions`] is called by a scanning thread with the findings of one
//!   file, after its scan and before its events are sent: [`ReportOnly`]
//!   when the policy only reports, else [`PolicyActions`], which runs
//!   `actions::Actor` (redact, quarantine) under the policy.
//! - [`build_sinks`] makes the event sinks: the JSON lines events file (or
//!   standard output) plus every output of the `sinks` section (syslog,
//!   journald, spooled and delivered at least once).

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use crate::actions::{ActionSettings, Actor};
use crate::config::Config;
use crate::config::policy::ActionKind;
use crate::engine::Engine;
use crate::fingerprint::Fingerprinter;
use crate::report::event::{Event, FindingEvent};
use crate::report::{JsonLines, Sink};

/// What the daemon does about a file with findings, beyond reporting.
pub trait Actions: Send + Sync {
    /// Acts on `path` given its `findings`; returns events that say what
    /// was done (none when nothing was).
    fn act(
        &self,
        engine: &Engine,
        fingerprinter: &Fingerprinter,
        path: &Path,
        findings: &[FindingEvent],
    ) -> Vec<Event>;
}

/// Reports only: the policy of a daemon with no actions configured.
pub struct ReportOnly;

impl Actions for ReportOnly {
    fn act(&self, _: &Engine, _: &Fingerprinter, _: &Path, _: &[FindingEvent]) -> Vec<Event> {
        Vec::new()
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
    ) -> Vec<Event> {
        let _turn = self
            .one_at_a_time
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match Actor::new(engine, fingerprinter, self.settings.clone()) {
            Ok(actor) => actor
                .act(path, findings)
                .map(Event::Action)
                .into_iter()
                .collect(),
            Err(e) => {
                tracing::error!("{}: no action taken: {e}", path.display());
                Vec::new()
            }
        }
    }
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

/// The sinks events go to: the events file (or standard output), then the
/// configured outputs. Errors name the file and what to do.
pub fn build_sinks(config: &Config, state_dir: &Path) -> Result<Vec<Box<dyn Sink + Send>>, String> {
    let out: Box<dyn Write + Send> = match &config.watch.events_file {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    format!(
                        "{}: cannot open the events file: {e} (check watch.events_file and that the daemon's user may write there)",
                        path.display()
                    )
                })?;
            Box::new(BufWriter::new(file))
        }
        None => Box::new(std::io::stdout()),
    };
    let mut sinks: Vec<Box<dyn Sink + Send>> = vec![Box::new(JsonLines::new(out))];
    let outputs = crate::sinks::from_config(&config.sinks, state_dir)
        .map_err(|e| format!("sinks: {e} (check the sinks section of the configuration file)"))?;
    sinks.extend(outputs);
    Ok(sinks)
}
