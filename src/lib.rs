//! leakhound: a data-loss-prevention scanner for Linux.
//!
//! Data flows one way:
//!
//! ```text
//! inputs (walk, stdin) -> engine (prefilter, candidates, validators)
//!   -> scan (the pipeline on all cores) -> report (human, JSON lines, JSON)
//! ```
//!
//! Each module owns one step and talks to its neighbours through a small
//! trait or a plain enum: the engine knows nothing of files, the inputs
//! nothing of rules, the report sinks nothing of the pipeline.

pub mod actions;
pub mod cli;
pub mod config;
pub mod engine;
pub mod extract;
pub mod fingerprint;
pub mod inputs;
pub mod locate;
pub mod project;
pub mod report;
pub mod rules;
pub mod scan;
pub mod sinks;
pub mod validate;
pub mod watch;
