//! `leakhound config check`.

use std::path::Path;

use super::{ConfigCommand, Exit};
use crate::config::{self, Config};

pub fn run(command: ConfigCommand, explicit: Option<&Path>) -> Exit {
    match command {
        ConfigCommand::Check => check(explicit),
    }
}

fn check(explicit: Option<&Path>) -> Exit {
    let Some(path) = config::resolve_path(explicit, true) else {
        eprintln!(
            "leakhound: error: no configuration file: give one with --config FILE \
             (or LEAKHOUND_CONFIG), or create {}",
            config::SYSTEM_CONFIG
        );
        return Exit::Error;
    };
    match Config::load(&path) {
        Ok(_) => {
            println!(
                "{}: configuration is valid",
                crate::report::names::escape_path(&path)
            );
            Exit::Clean
        }
        Err(e) => {
            eprintln!("leakhound: error: {e}");
            Exit::Error
        }
    }
}
