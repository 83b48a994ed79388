//! Writes the man pages and shell completions of `leakhound`, made from its
//! clap definition, for packaging (`scripts/build-deb.sh`):
//!
//! ```text
//! cargo run --example gen-assets -- OUT_DIR
//! OUT_DIR/man/leakhound.1, leakhound-scan.1, leakhound-rules-check.1 ...
//! OUT_DIR/completions/leakhound.bash, _leakhound (zsh), leakhound.fish
//! ```
//!
//! An example rather than a subcommand: the binary stays free of the
//! generators, and nothing in the program depends on them.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

/// Writes one page for `cmd` (named `name`) and one per visible
/// subcommand, `name-sub`, recursively.
fn man_pages(cmd: &clap::Command, name: &str, dir: &Path) -> std::io::Result<()> {
    // clap takes a 'static name without its `string` feature; this is a
    // short-lived tool, so leaking a few names is fine.
    let cmd = cmd
        .clone()
        .name(&*Box::leak(name.to_string().into_boxed_str()));
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    std::fs::write(dir.join(format!("{name}.1")), page)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        man_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .expect("usage: gen-assets OUT_DIR"),
    );
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let mut cmd = leakhound::cli::Cli::command();
    cmd.build();
    man_pages(&cmd, "leakhound", &man)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd, "leakhound", &completions)?;
    }
    println!("wrote {} and {}", man.display(), completions.display());
    Ok(())
}
