//! `leakhound fpe-key init`: makes the key of `--style fpe` and keeps it in
//! the state directory encrypted with age, so that no clear key file has to
//! lie on disk. `redact`, `reveal` (and `--identity`) read it back through
//! `actions::fpe::FpeKey::resolve`. The key itself is never printed.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::Exit;
use crate::actions::fpe::FpeKey;
use crate::config::Config;

/// `leakhound fpe-key`.
#[derive(Debug, Subcommand)]
pub enum FpeKeyCommand {
    /// Make a new random FPE key, encrypted with age to the recipients, in
    /// `<state_dir>/fpe.key.age` (refused if one is there). `redact` and
    /// `reveal` read it with `--identity FILE`.
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// An age X25519 recipient (`age1...`) who may decrypt the key; give
    /// several to let several people (or a backup identity) reveal.
    #[arg(long = "recipient", value_name = "AGE1...", required = true)]
    pub recipients: Vec<String>,

    /// The state directory to write the key to.
    #[arg(long, value_name = "DIR", env = "LEAKHOUND_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

pub fn run(command: FpeKeyCommand, config_path: Option<&Path>) -> Exit {
    let FpeKeyCommand::Init(args) = command;
    match init(args, config_path) {
        Ok(()) => Exit::Clean,
        Err(e) => {
            eprintln!("leakhound: error: {e:#}");
            Exit::Error
        }
    }
}

fn init(args: InitArgs, config_path: Option<&Path>) -> anyhow::Result<()> {
    let cfg = match crate::config::resolve_path(config_path, false) {
        Some(path) => Config::load(&path)?,
        None => Config::default(),
    };
    let Some(state) = args
        .state_dir
        .or(cfg.state_dir)
        .or_else(crate::fingerprint::default_state_dir)
    else {
        anyhow::bail!("no state directory: give --state-dir DIR");
    };
    let mut recipients = Vec::new();
    for r in &args.recipients {
        match r.parse::<age::x25519::Recipient>() {
            Ok(r) => recipients.push(r),
            Err(e) => anyhow::bail!("--recipient {r}: not an age X25519 recipient: {e}"),
        }
    }
    let path = FpeKey::init_age(&state, &recipients)?;
    eprintln!(
        "leakhound: wrote a new FPE key, encrypted to {} recipient(s), to {}",
        recipients.len(),
        crate::report::names::escape_path(&path)
    );
    Ok(())
}
