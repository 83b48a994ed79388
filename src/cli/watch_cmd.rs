//! `leakhound watch`: run the daemon (see `crate::watch`).

use std::path::Path;

use super::Exit;
use crate::config;

pub fn run(explicit: Option<&Path>) -> Exit {
    let Some(path) = config::resolve_path(explicit, true) else {
        eprintln!(
            "leakhound: error: no configuration file: give one with --config FILE \
             (or LEAKHOUND_CONFIG), or create {} (see docs/daemon.md)",
            config::SYSTEM_CONFIG
        );
        return Exit::Error;
    };
    match crate::watch::run(&path) {
        Ok(()) => Exit::Clean,
        Err(e) => {
            eprintln!("leakhound: error: {e}");
            Exit::Error
        }
    }
}
