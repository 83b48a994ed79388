//! leakhound: a data-loss-prevention scanner for Linux.
//!
//! Data flows one way:
//!
//! ```text
//! inputs (walk, stdin; watch: inotify, polling)
//!   -> extract (gzip, zip, tar, office, mail, PNG, PDF: text leaves with a member path)
//!   -> engine (prefilter, candidates, validators)       [scan: the pipeline on all cores]
//!   -> project (.leakhound.yaml, baselines, inline allows; locate: CSV column, JSON path)
//!   -> actions (redact, quarantine, per the policy in config)
//!   -> report (human, JSON lines, JSON, SARIF, JUnit) and sinks (syslog, journald, files)
//! ```
//!
//! Each module owns one step and talks to its neighbours through a small
//! trait or a plain enum: the engine knows nothing of files, the extractors
//! nothing of rules (a `LeafSink` receives their text), the report sinks
//! nothing of the pipeline (a `Sink` receives events).

pub mod actions;
pub mod cli;
pub mod config;
pub mod engine;
pub mod extract;
pub mod fingerprint;
pub mod inputs;
pub mod locate;
pub mod project;
pub mod proof;
pub mod report;
pub mod rules;
pub mod scan;
pub mod sinks;
pub mod state;
pub mod validate;
pub mod watch;
