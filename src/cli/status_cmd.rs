//! `leakhound status`: what the daemon is doing, from the `status.json` it
//! rewrites every few seconds in its state directory.
//!
//! Exit codes: 0 the daemon is running, 1 the status is stale (the daemon
//! stopped or hangs), 2 no status could be read.

use std::path::{Path, PathBuf};

use super::{Exit, StatusArgs};
use crate::config::{self, Config, ConfigError};
use crate::report::human::human_bytes;
use crate::report::names::escape_text;
use crate::watch::status::{Snapshot, now_ms};

pub fn run(args: StatusArgs, explicit: Option<&Path>) -> Exit {
    let dir = match state_dir(&args, explicit) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("leakhound: error: {e}");
            return Exit::Error;
        }
    };
    let snap = match Snapshot::read(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("leakhound: error: {e}");
            return Exit::Error;
        }
    };
    let alive = rustix::process::Pid::from_raw(snap.pid as i32)
        .is_some_and(|p| rustix::process::test_kill_process(p).is_ok());
    // The daemon rewrites the file every status_interval (2 s by default).
    let fresh = now_ms().saturating_sub(snap.updated_ms) < 60_000;
    let running = alive && fresh && snap.state == "running";
    let doc = match serde_json::to_value(&snap) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("leakhound: error: {e}");
            return Exit::Error;
        }
    };
    let records = [doc.clone()];
    if let Err(e) = args
        .output
        .emit(&doc, &records, |w| print_human(w, &snap, running))
    {
        eprintln!("leakhound: error: {e}");
        return Exit::Error;
    }
    if running { Exit::Clean } else { Exit::Findings }
}

fn state_dir(args: &StatusArgs, explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(d) = &args.state_dir {
        return Ok(d.clone());
    }
    match config::resolve_path(explicit, true) {
        Some(path) => Config::load(&path).map(|c| crate::watch::state_dir(&c)),
        None => Ok(PathBuf::from(crate::watch::DEFAULT_STATE_DIR)),
    }
}

fn print_human(w: &mut dyn std::io::Write, s: &Snapshot, running: bool) -> std::io::Result<()> {
    let state = if running {
        "running".to_string()
    } else {
        format!("NOT RUNNING (last state {}, pid {})", s.state, s.pid)
    };
    writeln!(w, "leakhound watch: {state}")?;
    writeln!(
        w,
        "  pid {}, started {}, updated {}",
        s.pid, s.started, s.updated
    )?;
    writeln!(
        w,
        "  config {}, rules {}",
        escape_text(&s.config),
        s.rules_version
    )?;
    writeln!(
        w,
        "  start-up scan: {}",
        if s.startup_scan_done {
            "done"
        } else {
            "in progress"
        }
    )?;
    writeln!(w, "  queue {}, pending {}", s.queue_depth, s.pending)?;
    writeln!(
        w,
        "  scanned {} files ({}), {} unchanged, {} incomplete",
        s.files_scanned,
        human_bytes(s.bytes_scanned),
        s.files_unchanged,
        s.files_incomplete
    )?;
    writeln!(w, "  findings {}, events {}", s.findings, s.events)?;
    if s.files_verified > 0 {
        writeln!(w, "  verified {} files by content", s.files_verified)?;
    }
    writeln!(
        w,
        "  actions failed {}, due for another try {}",
        s.actions_failed, s.actions_due
    )?;
    writeln!(w, "  errors {}", s.errors)?;
    writeln!(
        w,
        "  rescans {}, reloads {} ({} failed)",
        s.rescans, s.reloads, s.reload_failures
    )?;
    match s.spool_depth {
        Some(n) => writeln!(w, "  spool {n}")?,
        None => writeln!(w, "  spool: none")?,
    }
    for r in &s.roots {
        writeln!(
            w,
            "  root {} ({}): {}",
            escape_text(&r.path),
            r.kind,
            r.mode
        )?;
    }
    if let Some(e) = &s.last_error {
        writeln!(w, "  last error: {}", escape_text(e))?;
    }
    Ok(())
}
