//! `leakhound quarantine list | show ID | restore ID [--to PATH] | purge
//! --older-than DURATION | recover`: the quarantine store from the command
//! line. The commands that change the store first recover the operations
//! of processes that died; `list` and `show` only read (they work on a
//! full disk) and warn when recovery is due.
//!
//! The manifest keeps each original path as it is (escaped losslessly:
//! restore needs it); everything printed here shows it masked and escaped
//! (`names::mask_path` with the built-in rules: `492973******6152.csv`,
//! `caf\xE9.csv`, `\e[2K`), and input echoed back (ids) and error
//! messages go through the same escaping and masking (D11, D12).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};

use super::Exit;
use crate::actions::quarantine::{Item, RestoreOptions, Store};
use crate::config::{self, Config};
use crate::engine::Engine;
use crate::report::names;
use crate::rules::RuleSet;

#[derive(Debug, Args)]
pub struct QuarantineArgs {
    #[command(subcommand)]
    pub command: QuarantineCommand,

    /// The quarantine store (default: policy.quarantine.dir of the
    /// configuration file, else /var/lib/leakhound/quarantine).
    #[arg(long, global = true, value_name = "DIR")]
    pub quarantine_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// List quarantined files (paths and findings masked).
    List {
        #[command(flatten)]
        output: super::output::OutputArgs,
    },
    /// Show one entry (as JSON, also with the default format).
    Show {
        id: String,
        #[command(flatten)]
        output: super::output::OutputArgs,
    },
    /// Put a file back: verifies the stored copy against its keyed MAC,
    /// never overwrites a file, restores owner, permission bits and
    /// modification time.
    ///
    /// The destination's directories are reached from / without following
    /// any symbolic link: a link on the way is refused (restore elsewhere
    /// with --to DIR). Setuid, setgid and sticky bits are not restored
    /// unless --keep-special-bits is given.
    Restore {
        id: String,
        /// Restore here instead of the original path: into DIR (under the
        /// original name) if it is an existing directory, else as PATH.
        #[arg(long, value_name = "DIR|PATH")]
        to: Option<PathBuf>,
        /// age identity file (private key), for files encrypted at rest.
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
        /// Also restore the setuid, setgid and sticky bits of the original.
        #[arg(long)]
        keep_special_bits: bool,
    },
    /// Delete stored copies quarantined longer ago than DURATION (`90d`,
    /// `12h`; a unit is required, so a bare `0` is refused), and forget
    /// files restored that long ago.
    Purge {
        /// Minimum age, with a unit: `90d`, `12h`, `30min`; `0s` purges
        /// everything.
        #[arg(long, value_name = "DURATION", value_parser = parse_age)]
        older_than: Duration,
        /// Say what would be purged, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Finish or undo the operations of leakhound processes that died
    /// (also done before every action and every changing quarantine
    /// command), and move stored objects without a manifest row to
    /// lost+found/. Operations of live processes are left alone.
    Recover,
}

pub fn run(args: QuarantineArgs, config_path: Option<&Path>) -> Exit {
    // The engine masks numbers in what is printed: without it nothing
    // would be safe to print, so fail before reading the store.
    let engine = match RuleSet::builtin() {
        Ok(rules) => Engine::new(rules),
        Err(e) => {
            eprintln!("leakhound: error: the built-in rules do not compile: {e}");
            return Exit::Error;
        }
    };
    match run_inner(args, config_path, &engine) {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("leakhound: error: {}", shown(&engine, &format!("{e:#}")));
            Exit::Error
        }
    }
}

/// A message (which may quote paths escaped, and input as given) as it
/// is printed: control characters escaped, numbers masked. The message is
/// read as escaped text so that numbers are found in the bytes a path
/// stands for, not in its escapes.
fn shown(engine: &Engine, text: &str) -> String {
    names::mask_message(engine, text)
}

/// An item as printed: its paths masked.
fn masked(engine: &Engine, item: &Item) -> Item {
    let mut it = item.clone();
    it.path = names::mask_path(engine, &it.path);
    it.restored_to = it
        .restored_to
        .as_deref()
        .map(|p| names::mask_path(engine, p));
    it
}

fn run_inner(
    args: QuarantineArgs,
    config_path: Option<&Path>,
    engine: &Engine,
) -> anyhow::Result<Exit> {
    let dir = match args.quarantine_dir {
        Some(d) => d,
        None => match config::resolve_path(config_path, true) {
            Some(p) => Config::load(&p)?.policy.quarantine.dir,
            None => PathBuf::from(config::policy::DEFAULT_QUARANTINE_DIR),
        },
    };
    if !dir.join("manifest.db").exists() && !dir.join("objects").exists() {
        anyhow::bail!(
            "{}: no quarantine store here (nothing was quarantined yet, or give --quarantine-dir)",
            names::escape_path(&dir)
        );
    }
    let read_only = matches!(
        args.command,
        QuarantineCommand::List { .. } | QuarantineCommand::Show { .. }
    );
    // Warnings (lost+found, recovery due) go to stderr through `tracing`.
    let store = if read_only {
        Store::open_read_only(&dir)?
    } else {
        Store::open(&dir)?
    };
    match args.command {
        QuarantineCommand::List { output } => {
            let items: Vec<Item> = store.list()?.iter().map(|it| masked(engine, it)).collect();
            let doc = serde_json::to_value(&items)?;
            let records = items
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<Vec<_>, _>>()?;
            output.emit(&doc, &records, |w| {
                if items.is_empty() {
                    writeln!(
                        w,
                        "The quarantine store {} is empty.",
                        names::display_path(engine, &dir)
                    )?;
                }
                for it in &items {
                    writeln!(w, "{}", list_line(it))?;
                }
                Ok(())
            })?;
        }
        QuarantineCommand::Show { id, output } => {
            let item = serde_json::to_value(masked(engine, &store.get(&id)?))?;
            // One entry has no table: the human form is the JSON too.
            output.emit(&item, std::slice::from_ref(&item), |w| {
                writeln!(w, "{}", serde_json::to_string_pretty(&item)?)
            })?;
        }
        QuarantineCommand::Restore {
            id,
            to,
            identity,
            keep_special_bits,
        } => {
            let done = store.restore(
                &id,
                RestoreOptions {
                    to: to.as_deref(),
                    identity: identity.as_deref(),
                    keep_special_bits,
                },
            )?;
            for w in done.warnings {
                eprintln!("leakhound: warning: {}", shown(engine, &w));
            }
            println!(
                "{}: restored to {}",
                shown(engine, &id),
                names::display_path(engine, &done.path)
            );
        }
        QuarantineCommand::Purge {
            older_than,
            dry_run,
        } => {
            let r = store.purge(older_than, dry_run)?;
            let (would, verb) = if dry_run {
                ("would have ", "(dry run) ")
            } else {
                ("", "")
            };
            for id in &r.deleted {
                println!("{verb}{id}: stored copy deleted");
            }
            for id in &r.forgotten {
                println!("{verb}{id}: entry of a file restored earlier removed");
            }
            for id in &r.busy {
                eprintln!(
                    "leakhound: warning: {id}: being changed by another leakhound process; not purged"
                );
            }
            println!(
                "{would}purged {} stored copies; {would}removed {} entries of files restored earlier",
                r.deleted.len(),
                r.forgotten.len()
            );
        }
        QuarantineCommand::Recover => {
            // Store::open has recovered already.
            println!("{}: recovered", names::display_path(engine, &dir));
        }
    }
    Ok(Exit::Clean)
}

/// Why an `--older-than` value is refused.
#[derive(Debug, thiserror::Error)]
enum AgeError {
    #[error("{0:?} has no unit: give one, e.g. 90d, 12h or 30min (`0s` purges everything)")]
    NoUnit(String),
    #[error("{0}")]
    NotADuration(#[from] humantime::DurationError),
}

/// `--older-than`: a humantime duration with a unit. A bare number (above
/// all `0`, which would purge everything) is refused.
fn parse_age(s: &str) -> Result<Duration, AgeError> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AgeError::NoUnit(t.to_string()));
    }
    Ok(humantime::parse_duration(t)?)
}

fn list_line(it: &Item) -> String {
    let mut kinds: Vec<&str> = it.findings.iter().map(|f| f.kind.as_str()).collect();
    kinds.sort();
    kinds.dedup();
    format!(
        "{}  {}  {:<8}  {:>10} B  {} findings ({})  {}",
        names::escape_text(&it.id),
        it.time,
        it.state,
        it.size,
        it.findings.len(),
        kinds.join(", "),
        it.path
    )
}
