//! `leakhound quarantine list | show ID | restore ID [--to PATH] | purge
//! --older-than DURATION | recover`: the quarantine store from the command
//! line. Every command first recovers operations a crash interrupted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};

use super::Exit;
use crate::actions::quarantine::{Item, Store};
use crate::config::{self, Config};

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
    /// List quarantined files (masked findings only).
    List {
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one entry as JSON.
    Show { id: String },
    /// Put a file back: verifies its SHA-256, never overwrites a file,
    /// restores mode, owner and modification time.
    Restore {
        id: String,
        /// Restore here instead of the original path.
        #[arg(long, value_name = "PATH")]
        to: Option<PathBuf>,
        /// age identity file (private key), for files encrypted at rest.
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
    },
    /// Delete stored copies quarantined longer ago than DURATION (`30d`, `12h`).
    Purge {
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        older_than: Duration,
    },
    /// Finish or undo operations a crash interrupted (also done before
    /// every action and every other quarantine command).
    Recover,
}

pub fn run(args: QuarantineArgs, config_path: Option<&Path>) -> Exit {
    match run_inner(args, config_path) {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("leakhound: error: {e:#}");
            Exit::Error
        }
    }
}

fn run_inner(args: QuarantineArgs, config_path: Option<&Path>) -> anyhow::Result<Exit> {
    let dir = match args.quarantine_dir {
        Some(d) => d,
        None => match config::resolve_path(config_path, true) {
            Some(p) => Config::load(&p)?.policy.quarantine.dir,
            None => PathBuf::from(config::policy::DEFAULT_QUARANTINE_DIR),
        },
    };
    if !dir.join("manifest.db").exists() {
        anyhow::bail!(
            "{}: no quarantine store here (nothing was quarantined yet, or give --quarantine-dir)",
            dir.display()
        );
    }
    let store = Store::open(&dir)?;
    match args.command {
        QuarantineCommand::List { json } => {
            let items = store.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else if items.is_empty() {
                println!("The quarantine store {} is empty.", dir.display());
            } else {
                for it in &items {
                    println!("{}", list_line(it));
                }
            }
        }
        QuarantineCommand::Show { id } => {
            let item = store.get(&id)?;
            println!("{}", serde_json::to_string_pretty(&item)?);
        }
        QuarantineCommand::Restore { id, to, identity } => {
            let (path, warnings) = store.restore(&id, to.as_deref(), identity.as_deref())?;
            for w in warnings {
                eprintln!("leakhound: warning: {w}");
            }
            println!("{id}: restored to {}", path.display());
        }
        QuarantineCommand::Purge { older_than } => {
            let n = store.purge(older_than)?;
            println!("purged {n} entries");
        }
        QuarantineCommand::Recover => {
            // Store::open has recovered already.
            println!("{}: recovered", dir.display());
        }
    }
    Ok(Exit::Clean)
}

fn list_line(it: &Item) -> String {
    let mut kinds: Vec<&str> = it.findings.iter().map(|f| f.kind.as_str()).collect();
    kinds.sort();
    kinds.dedup();
    format!(
        "{}  {}  {:<8}  {:>10} B  {} findings ({})  {}",
        it.id,
        it.time,
        it.state,
        it.size,
        it.findings.len(),
        kinds.join(", "),
        it.path
    )
}
