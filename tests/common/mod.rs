//! Helpers shared by the integration tests that include them with
//! `mod common;`. Cargo builds every file directly under `tests/` as its own
//! crate, and this directory has a `mod.rs` so that it is not one.

// Each test crate compiles its own copy and uses a different part of it.
#![allow(dead_code)]

pub mod cli;
pub mod daemon;
pub mod scan;
