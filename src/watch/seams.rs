//! Where the daemon meets the parts built beside it: actions (redact,
//! quarantine) and the configured sinks (syslog, journald, spooled files).
//!
//! Both are plain seams so they can be wired without touching the rest of
//! the daemon:
//!
//! - SEAM(actions): [`Actions`] is called by a scanning thread with the
//!   findings of one file, after its scan and before its events are sent.
//!   Today only [`ReportOnly`] exists; the `actions` branch's
//!   `actions::Actor::act(path, findings)` goes behind this trait, built
//!   from `config.policy` in [`build_actions`].
//! - SEAM(sinks): [`build_sinks`] makes the event sinks. Today: one JSON
//!   lines sink, to `watch.events_file` or standard output. The `sinks`
//!   branch's `sinks::from_config(&config.sinks, state_dir)` replaces its
//!   body; everything else talks to `report::Sink` only.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::config::Config;
use crate::report::event::{Event, FindingEvent};
use crate::report::{JsonLines, Sink};

/// What the daemon does about a file with findings, beyond reporting.
pub trait Actions: Send + Sync {
    /// Acts on `path` given its `findings`; returns events that say what
    /// was done (none when nothing was).
    fn act(&self, path: &Path, findings: &[FindingEvent]) -> Vec<Event>;
}

/// Reports only: the policy until actions are wired in.
pub struct ReportOnly;

impl Actions for ReportOnly {
    fn act(&self, _path: &Path, _findings: &[FindingEvent]) -> Vec<Event> {
        Vec::new()
    }
}

/// SEAM(actions): the actions `config.policy` asks for.
pub fn build_actions(_config: &Config) -> Box<dyn Actions> {
    Box::new(ReportOnly)
}

/// SEAM(sinks): the sinks events go to. Errors name the file and what to do.
pub fn build_sinks(
    config: &Config,
    _state_dir: &Path,
) -> Result<Vec<Box<dyn Sink + Send>>, String> {
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
    Ok(vec![Box::new(JsonLines::new(out))])
}
