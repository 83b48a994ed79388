//! The command line: clap arguments, resolved into one immutable config per
//! command, then run. This is the binary's edge: errors become messages on
//! stderr and exit codes here, nowhere else.

mod baseline_cmd;
mod config_cmd;
mod fpe_key_cmd;
mod merge_cmd;
mod ocr_args;
pub mod output;
mod proof_cmd;
mod quarantine_cmd;
mod redact_cmd;
mod report_cmd;
mod rules_check;
mod rules_cmd;
mod scan_cmd;
mod scan_plan;
mod status_cmd;
mod watch_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::Format;
use crate::rules::{Confidence, RuleSet, Severity};

/// Exit codes, as a linter's (grep exits 0 when it finds something; a gate
/// exits 1): 0 clean, 1 findings, 2 error, 3 incomplete; 4 an action failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// No finding at or above `--fail-on`.
    Clean = 0,
    /// Findings at or above `--fail-on`.
    Findings = 1,
    /// Bad arguments, bad rules or config, a root path that does not exist.
    Error = 2,
    /// `--fail-on-incomplete` and some file could not be fully scanned.
    Incomplete = 3,
    /// An action (redact, quarantine) was attempted and failed: no space, a
    /// read-only file system, an immutable file, a store that cannot be
    /// opened. Findings were still reported. Takes precedence over 1 and 3.
    ActionFailed = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

const EXIT_HELP: &str = "\
Exit codes:
  0  no finding at or above --fail-on (default: no finding at all)
  1  findings at or above --fail-on
  2  error: bad arguments, bad rules, a path that does not exist
  3  with --fail-on-incomplete: no findings, but some file could not be fully scanned
  4  with --action or a policy: an action failed (no space, read-only file system,
     immutable file, quarantine store unusable); findings are still reported, and
     4 takes precedence over 1 and 3

Findings suppressed by .leakhound.yaml, `leakhound:allow` on their line or
--baseline do not count towards the exit code; the summary counts them.

Findings show masked values (cards: first 6 and last 4 digits at most) and a
keyed fingerprint; raw numbers are never printed, not even in file names
(`492973******6152.csv`), and names are shown escaped (`caf\\xE9.csv`).
A reader that goes away (`| head`) ends leakhound silently (SIGPIPE). The fingerprint key comes
from --fingerprint-key-file, LEAKHOUND_FINGERPRINT_KEY, or a key kept in the
state directory.";

/// leakhound: finds payment card and national ID numbers in files.
#[derive(Debug, Parser)]
#[command(name = "leakhound", version, about, long_about = None, after_help = EXIT_HELP)]
pub struct Cli {
    /// Log level for diagnostics on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "warn", env = "LEAKHOUND_LOG")]
    pub log_level: String,

    /// Configuration file (`watch` and `config check` default to
    /// /etc/leakhound/leakhound.yaml; `scan` reads one only when given).
    #[arg(long, global = true, value_name = "FILE", env = "LEAKHOUND_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of the biggest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan files, directories or standard input (`-`) for card and ID numbers.
    #[command(after_help = EXIT_HELP)]
    Scan(ScanArgs),
    /// Redact a stream or a file: every validated card and ID number
    /// replaced (mask, token or a format-preserving FF1 pseudonym),
    /// everything else byte for byte. A filter for pipes: `tail -F app.log
    /// | leakhound redact -`. See docs/actions.md.
    Redact(redact_cmd::RedactArgs),
    /// Turn `redact --style fpe` tokens back into the original numbers
    /// (needs the FPE key); every reveal is logged as an event.
    Reveal(redact_cmd::RevealArgs),
    /// Make the key of `redact --style fpe`, kept age-encrypted in the
    /// state directory.
    FpeKey {
        #[command(subcommand)]
        command: fpe_key_cmd::FpeKeyCommand,
    },
    /// List or check detection rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// List, show, restore or purge quarantined files.
    Quarantine(quarantine_cmd::QuarantineArgs),
    /// Check the configuration file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Record known findings, so that `scan --baseline` reports only new ones.
    Baseline {
        #[command(subcommand)]
        command: BaselineCommand,
    },
    /// Run the daemon: watch the configured roots and scan what changes.
    Watch,
    /// Show what the running daemon is doing.
    Status(StatusArgs),
    /// Write one self-contained HTML audit report from JSON-lines event
    /// files (`scan --format jsonl`); several runs show a trend. See
    /// docs/report.md.
    Report(report_cmd::ReportArgs),
    /// Merge the JSON-lines reports of the shards of one scan (`scan
    /// --shard K/N`) into one: every event once, one summary. See
    /// docs/scale.md.
    Merge(merge_cmd::MergeArgs),
    /// Make an Ed25519 key pair for signing proofs of scan (`scan --proof
    /// FILE --signing-key KEY`).
    Keygen(proof_cmd::KeygenArgs),
    /// Check a proof of scan: signature, Merkle root, and with --against
    /// the files on disk. Exit 0 valid and unchanged, 1 files changed, 2
    /// invalid proof or error. See docs/proof.md.
    Verify(proof_cmd::VerifyArgs),
    /// Compare two proofs of scan: new and resolved findings, files that
    /// appeared, changed or disappeared. Exit 0 no new finding, 1 new
    /// findings, 2 invalid proof or error.
    Diff(proof_cmd::DiffArgs),
    /// Internal: the confined helper process, which runs one extractor on
    /// the file on standard input, for the scanner that starts it (see
    /// `extract::helper`).
    #[command(name = crate::extract::helper::HELPER_COMMAND, hide = true)]
    Extract(ExtractArgs),
    /// Internal: the helper's first name, `__extract pdf`.
    #[command(name = crate::extract::helper::PDF_TEXT_COMMAND, hide = true)]
    PdfText(HelperArgs),
}

/// The confined helper: which extractor, and its limits.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The extractor to run (`pdf`).
    pub kind: crate::extract::helper::Kind,
    #[command(flatten)]
    pub limits: HelperArgs,
}

/// The helper's limits, set by the scanner that starts it.
#[derive(Debug, Args)]
pub struct HelperArgs {
    /// Bytes of input to read at most.
    #[arg(long, value_name = "BYTES")]
    pub max_input: u64,
    /// Address space, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub max_memory: u64,
    /// CPU time, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub max_cpu: u64,
    /// The scanner's process id: the helper dies with it.
    #[arg(long, value_name = "PID")]
    pub parent: Option<u32>,
    /// How OCR runs (the `ocr` extractor).
    #[command(flatten)]
    pub ocr: crate::extract::helper::ocr::HelperOcrArgs,
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Scan (with every `scan` option) and write a baseline of the findings
    /// (rule, keyed fingerprint, path relative to the root) to -o FILE
    /// (default standard output). Set LEAKHOUND_FINGERPRINT_KEY so the
    /// baseline matches on every runner. Exit 0 when written, 2 on error,
    /// 3 with --fail-on-incomplete when some file was not fully scanned.
    Create(ScanArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The daemon's state directory (default: from the configuration file,
    /// else /var/lib/leakhound).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(flatten)]
    pub output: output::OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Read and check the configuration file; name the line of any mistake.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List the rules in use.
    List {
        #[command(flatten)]
        rules: RulesArg,
        #[command(flatten)]
        output: output::OutputArgs,
    },
    /// Check rule files: syntax, values, and every example and negative example.
    Check {
        /// Directory of rule files, or one rule file (default: the built-in rules).
        dir: Option<PathBuf>,
        /// The same as DIR: a directory of rule files, or one rule file.
        #[arg(long = "rules", value_name = "DIR|FILE", conflicts_with = "dir")]
        rules: Option<PathBuf>,
    },
}

/// Where rules come from.
#[derive(Debug, Args, Clone)]
pub struct RulesArg {
    /// Use the rule files in DIR (or the one rule file FILE) instead of the built-in rules.
    #[arg(long, value_name = "DIR|FILE")]
    pub rules: Option<PathBuf>,

    /// Use the rules of these packs (`eu,us`, `all`; default: the `default`
    /// pack, or `rules.packs` of .leakhound.yaml). See docs/rules.md, "Rule packs".
    #[arg(long = "rules-pack", value_name = "PACK,...", value_delimiter = ',')]
    pub rules_pack: Vec<String>,
}

impl RulesArg {
    /// Loads the rule set and keeps the packs of `--rules-pack` (else the
    /// `default` pack), or says on stderr what is wrong.
    pub fn load(&self) -> Result<RuleSet, Exit> {
        let all = self.load_all()?;
        self.select(all, None)
    }

    /// Keeps the packs of `--rules-pack`, else `project` (the project
    /// file's `rules.packs`), else the `default` pack.
    pub fn select(&self, all: RuleSet, project: Option<&[String]>) -> Result<RuleSet, Exit> {
        let packs: &[String] = match (self.rules_pack.is_empty(), project) {
            (false, _) => &self.rules_pack,
            (true, Some(p)) => p,
            (true, None) => &[],
        };
        all.select_packs(packs).map_err(rules_error)
    }

    /// Loads every rule, whatever its packs.
    pub fn load_all(&self) -> Result<RuleSet, Exit> {
        let result = match &self.rules {
            Some(dir) => RuleSet::load_dir(dir),
            None => RuleSet::builtin_all(),
        };
        result.map_err(rules_error)
    }
}

/// Says on stderr why the rules cannot be used.
fn rules_error(e: crate::rules::RuleErrors) -> Exit {
    // Rule file names come from the user's directory: escaped, one problem
    // per line.
    let lines: Vec<String> =
        e.0.iter()
            .map(|p| crate::report::names::escape_text(&p.to_string()))
            .collect();
    eprintln!(
        "leakhound: error: the rules cannot be used:\n{}",
        lines.join("\n")
    );
    Exit::Error
}

/// `--fail-on`: the lowest severity that fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Low,
    Medium,
    High,
    /// Never fail because of findings.
    None,
}

impl FailOn {
    /// The threshold, or `None` for never.
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Low => Some(Severity::Low),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::High => Some(Severity::High),
            FailOn::None => None,
        }
    }
}

/// `--min-confidence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MinConfidence {
    Low,
    Medium,
    High,
}

impl MinConfidence {
    pub fn level(self) -> Confidence {
        match self {
            MinConfidence::Low => Confidence::Low,
            MinConfidence::Medium => Confidence::Medium,
            MinConfidence::High => Confidence::High,
        }
    }
}

/// When to use colour or a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum When {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan; `-` reads standard input.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,

    /// Report format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub rules: RulesArg,

    /// Exit 1 when a finding of this severity or higher is found.
    #[arg(long, value_enum, default_value_t = FailOn::Low)]
    pub fail_on: FailOn,

    /// Exit 3 when some file could not be fully scanned (and nothing failed the run).
    #[arg(long)]
    pub fail_on_incomplete: bool,

    /// List only findings of this confidence or higher. Weaker findings (a
    /// bare 9-digit number with no "SSN" near it, a number among a table of
    /// constants) are counted in the summary but neither listed nor fail
    /// the run; `low` lists them too.
    #[arg(long, value_enum, default_value_t = MinConfidence::Medium)]
    pub min_confidence: MinConfidence,

    /// List published test numbers too (processor test cards such as
    /// 4111 1111 1111 1111, textbook SSNs such as 123-45-6789). By default
    /// they are counted in the summary but neither listed nor fail the run
    /// (`--min-confidence low` lists them as well); `--action` still acts
    /// on them.
    #[arg(long)]
    pub show_test_data: bool,

    /// Scanning threads (default: one per CPU).
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// Scan only files matching GLOB (repeatable). A glob without `/`
    /// matches file names anywhere; with `/`, paths under the root.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Leave out files and directories matching GLOB (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Follow symbolic links (not followed by default: each is reported as skipped).
    #[arg(short = 'L', long)]
    pub follow: bool,

    /// Report every file, not only those that were not fully scanned.
    #[arg(short, long)]
    pub verbose: bool,

    /// Colours in the human report (auto: on a terminal, unless NO_COLOR
    /// is set; CLICOLOR_FORCE=1 forces them).
    #[arg(long, value_enum, default_value_t = When::Auto)]
    pub color: When,

    /// Progress bar on stderr.
    #[arg(long, value_enum, default_value_t = When::Auto)]
    pub progress: When,

    /// Read the fingerprint key from FILE.
    #[arg(long, value_name = "FILE")]
    pub fingerprint_key_file: Option<PathBuf>,

    /// Where to keep the local fingerprint key (default: $XDG_STATE_HOME/leakhound).
    #[arg(long, value_name = "DIR", env = "LEAKHOUND_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// Report paths relative to DIR (default: the directory scanned, when
    /// one directory is scanned; else the current directory). SARIF, JUnit
    /// and baselines always use relative paths; other formats only when
    /// --root is given.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Report only findings not recorded in FILE (`leakhound baseline
    /// create`); the summary lists entries that no longer match.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Scan only files changed since the git ref REF (committed or not,
    /// plus untracked files), for pull requests.
    #[arg(long, value_name = "REF")]
    pub since: Option<String>,

    /// Do not read the project file `.leakhound.yaml`.
    #[arg(long)]
    pub no_project_config: bool,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub ocr: ocr_args::OcrArgs,

    /// Act on files with findings (overrides the policy of the config file).
    #[arg(long, value_enum, value_name = "ACTION")]
    pub action: Option<crate::config::policy::ActionKind>,

    /// Show which actions would be taken, change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// The quarantine store (default: policy.quarantine.dir, else /var/lib/leakhound/quarantine).
    #[arg(long, value_name = "DIR")]
    pub quarantine_dir: Option<PathBuf>,
    /// Also send every event to SINK (repeatable): stdout, jsonl:PATH,
    /// journald, syslog (/dev/log), syslog+udp://HOST:PORT,
    /// syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT?ca=FILE; options as
    /// `?key=value&...` (see docs/config.md), e.g. `?format=cef` (or ecs,
    /// ocsf) for a SIEM. Added to the `sinks` of --config.
    #[arg(long = "sink", value_name = "SINK")]
    pub sinks: Vec<String>,

    /// Also write the HTML audit report to FILE (docs/report.md).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Also write a proof of scan to FILE: every file with a keyed content
    /// hash, status and findings, under a Merkle root (docs/proof.md).
    #[arg(long, value_name = "FILE")]
    pub proof: Option<PathBuf>,

    /// Sign the proof with this Ed25519 key (`leakhound keygen`).
    #[arg(long, value_name = "FILE", requires = "proof")]
    pub signing_key: Option<PathBuf>,

    /// Remember what this scan found in FILE (SQLite, created 0600) and
    /// use it next time: a file whose size, mtime and ctime did not change
    /// is reported from it without being read, and content already scanned
    /// at another path (a copy, a backup) is not scanned again. It keeps
    /// masked values and fingerprints only (docs/scale.md).
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,

    /// Scan only shard K of N (K from 0 to N-1): a fixed partition of the
    /// files by a hash of their path relative to the root, so N runs (on N
    /// machines, a Slurm job array, a Kubernetes Indexed Job) scan every
    /// file exactly once between them; `leakhound merge` joins their
    /// reports (docs/scale.md).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::inputs::Shard>,

    /// Bytes read per window (for tests of chunk boundaries).
    #[arg(long, hide = true, default_value_t = crate::engine::stream::DEFAULT_CHUNK)]
    pub chunk_size: usize,
}

/// Limits for containers; each wins over the config file's `limits`.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Container limits (per top-level file)")]
pub struct LimitArgs {
    /// Containers inside containers, each layer counted [default: 16].
    #[arg(long, value_name = "N")]
    pub max_depth: Option<u32>,
    /// Bytes produced by decompression, e.g. 16G [default: 16GiB].
    #[arg(long, value_name = "SIZE")]
    pub max_expanded: Option<crate::config::limits::ByteSize>,
    /// Output bytes per input byte of a compressed stream, and of all the
    /// layers of a file together [default: 1000].
    #[arg(long, value_name = "N")]
    pub max_ratio: Option<u64>,
    /// Archive members and mail parts [default: 1000000].
    #[arg(long, value_name = "N")]
    pub max_members: Option<u64>,
    /// Time per file, any file (past it the file is partial), e.g. 90s or 10m [default: 10m].
    #[arg(long, value_name = "DURATION")]
    pub max_time: Option<crate::config::limits::HumanDuration>,
    /// Largest object held in memory (a nested zip, a message, a PDF) [default: 64MiB].
    #[arg(long, value_name = "SIZE")]
    pub max_buffer: Option<crate::config::limits::ByteSize>,
    /// Decode base64 payloads (runs of 24+ characters that decode to text)
    /// and scan what they hold, reported in member `base64@OFFSET`; with
    /// `--action redact` they are redacted too. On by default; this flag
    /// overrides `limits.base64: false` in the config file.
    #[arg(long, conflicts_with = "no_base64")]
    pub base64: bool,
    /// Do not decode base64 payloads: saves the pass's CPU (about 10 % on
    /// large logs with AVX-512, 20 % with AVX2 only), and numbers inside
    /// payloads go unreported (config: `limits.base64: false`).
    #[arg(long)]
    pub no_base64: bool,
}

impl LimitArgs {
    /// The command line's limits as a config section, to lay over the file's.
    pub fn as_section(&self) -> crate::config::limits::Limits {
        crate::config::limits::Limits {
            max_depth: self.max_depth,
            max_expanded: self.max_expanded,
            max_ratio: self.max_ratio,
            max_members: self.max_members,
            max_time: self.max_time,
            max_buffer: self.max_buffer,
            base64: if self.no_base64 {
                Some(false)
            } else {
                self.base64.then_some(true)
            },
        }
    }
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Error
            } else {
                Exit::Clean
            };
            let _ = e.print();
            return code.into();
        }
    };
    let helper = match &cli.command {
        Command::Extract(args) => Some((args.kind, &args.limits)),
        Command::PdfText(args) => Some((crate::extract::helper::Kind::Pdf, args)),
        _ => None,
    };
    if let Some((kind, args)) = helper {
        // Before anything else (no logging): the helper confines itself
        // first, and must print nothing but its protocol.
        args.ocr.install();
        return crate::extract::helper::helper_main(
            kind,
            crate::extract::helper::HelperLimits {
                max_input: args.max_input,
                max_memory: args.max_memory,
                max_cpu: args.max_cpu,
                parent: args.parent,
            },
        );
    }
    init_logging(&cli.log_level);
    let exit = match cli.command {
        Command::Scan(args) => scan_cmd::run(args, cli.config.as_deref()),
        Command::Quarantine(args) => quarantine_cmd::run(args, cli.config.as_deref()),
        Command::Redact(args) => redact_cmd::run_redact(args, cli.config.as_deref()),
        Command::Reveal(args) => redact_cmd::run_reveal(args, cli.config.as_deref()),
        Command::FpeKey { command } => fpe_key_cmd::run(command, cli.config.as_deref()),
        Command::Rules { command } => rules_cmd::run(command),
        Command::Config { command } => config_cmd::run(command, cli.config.as_deref()),
        Command::Baseline {
            command: BaselineCommand::Create(args),
        } => baseline_cmd::run(args, cli.config.as_deref()),
        Command::Watch => watch_cmd::run(cli.config.as_deref()),
        Command::Status(args) => status_cmd::run(args, cli.config.as_deref()),
        Command::Report(args) => report_cmd::run(args),
        Command::Merge(args) => merge_cmd::run(args),
        Command::Keygen(args) => proof_cmd::keygen(args),
        Command::Verify(args) => proof_cmd::verify(args),
        Command::Diff(args) => proof_cmd::diff(args),
        Command::Extract(_) | Command::PdfText(_) => unreachable!("handled above"),
    };
    exit.into()
}

fn init_logging(level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colour only for a person at a terminal: journald and log files show
    // escape codes as `[32m INFO`.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::report::names::MaskedStderr)
        .with_ansi(auto_color(std::io::stderr().is_terminal()))
        .with_target(false)
        .without_time()
        .try_init();
}

/// Whether to colour a stream in `auto` mode: `CLICOLOR_FORCE` (set and
/// not `0`) forces colour, `NO_COLOR` (set and not empty) turns it off,
/// else colour only when the stream is a terminal (<https://no-color.org>,
/// <https://bixense.com/clicolors/>).
pub fn auto_color(is_terminal: bool) -> bool {
    color_from(
        std::env::var_os("CLICOLOR_FORCE").as_deref(),
        std::env::var_os("NO_COLOR").as_deref(),
        is_terminal,
    )
}

fn color_from(
    force: Option<&std::ffi::OsStr>,
    no_color: Option<&std::ffi::OsStr>,
    is_terminal: bool,
) -> bool {
    if force.is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    if no_color.is_some_and(|v| !v.is_empty()) {
        return false;
    }
    is_terminal
}

/// A reader that went away (`leakhound status | head -1`) ends the program
/// quietly, as it ends `cat` or `grep`: the process dies of SIGPIPE (status
/// 141 in a shell), with no message.
///
/// Why not restore SIGPIPE's default action at start, as C programs run:
/// leakhound also writes to sockets (syslog, journald) and to the pipe of
/// its PDF helper, and a collector or a helper that dies must be an error
/// we handle, not the death of the scanner or the daemon. So SIGPIPE stays
/// ignored (Rust's default) and only a broken *standard output* ends the
/// program: `println!` panics on it (caught here, whatever command printed)
/// and the report writers return `BrokenPipe` (see [`exit_broken_pipe`]).
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            exit_broken_pipe();
        }
        default(info);
    }));
}

/// Ends the program as a write to a closed pipe ends `cat`: killed by
/// SIGPIPE, silently.
pub fn exit_broken_pipe() -> ! {
    let _ = signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGPIPE);
    // Not reached: the default action of SIGPIPE ends the process.
    std::process::exit(141)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn color_env_rules() {
        let s = |v: &'static str| Some(OsStr::new(v));
        assert!(color_from(None, None, true));
        assert!(!color_from(None, None, false));
        assert!(!color_from(None, s("1"), true));
        assert!(color_from(None, s(""), true), "an empty NO_COLOR is unset");
        assert!(color_from(s("1"), s("1"), false));
        assert!(!color_from(s("0"), None, false));
    }
}
