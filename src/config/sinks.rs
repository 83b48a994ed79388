//! Event sinks: where findings, actions and file records are sent.
//!
//! The `sinks` section lists outputs; each names its target in the same
//! syntax as `leakhound scan --sink` (`syslog+tcp://host:port`,
//! `jsonl:/path`, `journald`, `stdout` ...) and may set the options of its
//! kind. The types live in [`crate::sinks::config`], next to the sinks they
//! configure, so that `config` depends on `sinks` and not the other way
//! round; this file keeps the old path and hooks the section's checks into
//! [`Section`].

pub use crate::sinks::config::{
    Identity, Kind, Resolved, SinkConfig, SinkConfigError, Sinks, Spooling, Via, WhenFull,
};

use super::Section;

impl Section for Sinks {
    fn problems(&self) -> Vec<String> {
        Sinks::problems(self)
    }
}
