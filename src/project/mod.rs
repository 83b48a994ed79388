//! The project policy for a CI gate: what a repository says about its own
//! findings, applied between the engine and the report.
//!
//! Events enter from the scan pipeline; the [`filter::Stage`] holds each
//! file's findings until its `file` record arrives, adds where they sit in a
//! data export ([`crate::locate`]), reads the lines they are on (for inline
//! allows), and then lets through only what the project has not accepted:
//!
//! - `.leakhound.yaml` ([`config`]), found from the scan root upward:
//!   excluded paths, disabled rules, severities, allowed fingerprints,
//!   processor test cards;
//! - `leakhound:allow` on the line of a finding ([`inline`]);
//! - a baseline of known findings ([`baseline`]).
//!
//! What is held back is counted by reason in the summary, so a gate that
//! passes says how much it let pass. Paths leave relative to the scan root
//! ([`root`]) so reports and baselines are the same on every runner.
//! [`since`] asks git which files changed since a ref.

pub mod baseline;
pub mod config;
pub mod filter;
pub mod gate;
pub mod inline;
pub mod root;
pub mod since;
