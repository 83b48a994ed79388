//! leakhound: a data-loss-prevention scanner for Linux.
//!
//! Data flows one way:
//! inputs -> extract -> engine -> policy -> actions -> report.
//! Each module below owns one step and talks to its neighbours through a small
//! trait or a plain enum.

pub mod engine;
pub mod rules;
pub mod validate;
