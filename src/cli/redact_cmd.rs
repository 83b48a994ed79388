//! `leakhound redact` (the streaming filter) and `leakhound reveal` (its
//! way back for `--style fpe` tokens): resolve the arguments, then run
//! [`crate::actions::filter::redact_stream`] from a file or standard input
//! to standard output or `-o FILE`.
//!
//! `-o FILE` is written to a temporary file beside it and renamed over it
//! at the end, so a failed run never leaves a half-written FILE. Findings
//! leave as `finding` events (masked, fingerprinted) in `--report FILE`
//! and on the sinks; `reveal` sends one `action` event (`revealed`: who,
//! what file, how many values) to the configured sinks and to the log.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::{Exit, MinConfidence, RulesArg};
use crate::actions::filter::{FilterOptions, FilterStats, redact_stream};
use crate::actions::fpe::FpeKey;
use crate::actions::redact::RedactCtx;
use crate::config::{self, Config, policy::RedactStyle};
use crate::engine::Engine;
use crate::fingerprint::{self, Fingerprinter};
use crate::report::event::{ActionEvent, ActionTaken, Event, FindingEvent, Location, Stamper};
use crate::report::{JsonLines, Sink, names};
use crate::rules::Confidence;

/// How the output is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Buffering {
    /// Lines for a pipe, a terminal or a socket; windows for a file.
    Auto,
    /// Write and flush at each newline.
    Line,
    /// Write in windows of 256 KiB (fastest).
    Block,
}

/// The style of `leakhound redact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Style {
    /// `**** **** **** 1111`.
    Mask,
    /// `[CARD:ab12cd34]`, from the keyed fingerprint.
    Token,
    /// A format-preserving FF1 pseudonym, reversible with `leakhound
    /// reveal` and the same key (needs --fpe-key-file).
    Fpe,
}

/// Where the text comes from and goes, for both commands.
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// The file to read, or `-` for standard input.
    #[arg(value_name = "FILE|-", default_value = "-")]
    pub input: PathBuf,

    /// Write to FILE (through a temporary file renamed at the end) instead
    /// of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Line: flush at each newline (the default for pipes); block: windows
    /// of 256 KiB (the default for files).
    #[arg(long, value_enum, default_value_t = Buffering::Auto)]
    pub buffering: Buffering,

    /// In line mode, also write text that waited this many milliseconds
    /// without a newline (a trailing run that may still be a number is
    /// held).
    #[arg(long, value_name = "MS")]
    pub flush_ms: Option<u64>,

    /// Send events to this sink as well (as `scan --sink`: `syslog+udp://`,
    /// `journald`, ...; needs a state directory for the spool).
    #[arg(long = "sink", value_name = "SINK")]
    pub sinks: Vec<String>,

    /// The state directory (sinks' spool, the local fingerprint key).
    #[arg(long, value_name = "DIR", env = "LEAKHOUND_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    #[arg(long, hide = true, default_value_t = crate::engine::stream::DEFAULT_CHUNK)]
    pub chunk_size: usize,
}

/// `leakhound redact`.
#[derive(Debug, Args)]
pub struct RedactArgs {
    #[command(flatten)]
    pub stream: StreamArgs,

    /// How each match is replaced.
    #[arg(long, value_enum, default_value_t = Style::Mask)]
    pub style: Style,

    /// The FF1 key for `--style fpe`: 32 bytes or 64 hex characters, in a
    /// file only its owner can read. Never the fingerprint key. Without
    /// it, the age-encrypted key of the state directory (`leakhound
    /// fpe-key init`) is read with `--identity`.
    #[arg(long, value_name = "FILE")]
    pub fpe_key_file: Option<PathBuf>,

    /// The age identity file that decrypts `<state_dir>/fpe.key.age`.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    #[command(flatten)]
    pub rules: RulesArg,

    /// Redact matches of at least this confidence.
    #[arg(long, value_enum, default_value_t = MinConfidence::Medium)]
    pub min_confidence: MinConfidence,

    /// Write a `finding` event (masked, fingerprinted) per redacted match
    /// to FILE, as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Speak rsyslog's `mmexternal` protocol: each line read is one
    /// message, and each answer a JSON line `{"msg":"..."}` (line mode).
    #[arg(long)]
    pub mmexternal: bool,

    /// The fingerprint key (for `--style token` and the events).
    #[arg(long, value_name = "FILE")]
    pub fingerprint_key_file: Option<PathBuf>,

    /// With `--style fpe`: append a keyed MAC of every token written to
    /// FILE (mode 0600), so that `reveal --tokens FILE` turns back only
    /// these and leaves every other number as it is.
    #[arg(long, value_name = "FILE")]
    pub token_list: Option<PathBuf>,
}

/// `leakhound reveal`.
#[derive(Debug, Args)]
pub struct RevealArgs {
    #[command(flatten)]
    pub stream: StreamArgs,

    /// The FF1 key the tokens were made with (or the age-encrypted key of
    /// the state directory, with `--identity`).
    #[arg(long, value_name = "FILE")]
    pub fpe_key_file: Option<PathBuf>,

    /// The age identity file that decrypts `<state_dir>/fpe.key.age`.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// The token list `redact --token-list` wrote: only the numbers listed
    /// there are turned back (exact). Without it, a token is recognised by
    /// its check value alone, and about one number in ten of a token's
    /// shape that never was one is changed too (a warning says how many
    /// values were changed unverified).
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,

    #[command(flatten)]
    pub rules: RulesArg,
}

/// `leakhound redact`: exit 0 when the output was written, 2 on an error
/// (nothing raw is ever written; what was written before is redacted).
pub fn run_redact(args: RedactArgs, config_path: Option<&Path>) -> Exit {
    match redact_inner(args, config_path) {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("leakhound: error: {e:#}");
            Exit::Error
        }
    }
}

/// `leakhound reveal`: exit 0 when written, 2 on an error.
pub fn run_reveal(args: RevealArgs, config_path: Option<&Path>) -> Exit {
    match reveal_inner(args, config_path) {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("leakhound: error: {e:#}");
            Exit::Error
        }
    }
}

/// Where an FPE key may come from, for error messages.
const NO_KEY: &str = "--fpe-key-file FILE (32 random bytes, mode 600; never the fingerprint \
     key), or an age-encrypted key in the state directory (`leakhound fpe-key init \
     --recipient age1...`) with --identity FILE";

fn load_config(config_path: Option<&Path>) -> anyhow::Result<Config> {
    Ok(match config::resolve_path(config_path, false) {
        Some(path) => Config::load(&path)?,
        None => Config::default(),
    })
}

fn state_dir(args: &StreamArgs, cfg: &Config) -> Option<PathBuf> {
    args.state_dir
        .clone()
        .or_else(|| cfg.state_dir.clone())
        .or_else(fingerprint::default_state_dir)
}

/// The sinks of `--sink` and of the configuration file.
fn open_sinks(
    args: &StreamArgs,
    cfg: &Config,
    state: Option<&Path>,
) -> anyhow::Result<Vec<Box<dyn Sink + Send>>> {
    use crate::config::sinks::SinkConfig;
    let mut wanted: Vec<SinkConfig> = cfg.sinks.outputs.clone();
    for spec in &args.sinks {
        wanted.push(SinkConfig::from_spec(spec).map_err(anyhow::Error::msg)?);
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let dir = state.ok_or_else(|| {
        anyhow::anyhow!(
            "no state directory for the sinks' spool: set LEAKHOUND_STATE_DIR or --state-dir"
        )
    })?;
    wanted
        .iter()
        .map(|w| crate::sinks::build(w, dir).map_err(anyhow::Error::from))
        .collect()
}

/// The input: the file, or standard input for `-`.
enum Input {
    Stdin(std::io::Stdin),
    File(std::fs::File),
}

impl Input {
    fn open(path: &Path) -> anyhow::Result<Input> {
        if path.as_os_str() == "-" {
            return Ok(Input::Stdin(std::io::stdin()));
        }
        std::fs::File::open(path)
            .map(Input::File)
            .map_err(|e| anyhow::anyhow!("{}: cannot open: {e}", names::escape_path(path)))
    }

    fn is_regular_file(&self) -> bool {
        use std::os::fd::AsFd;
        let fd = match self {
            Input::Stdin(s) => s.as_fd(),
            Input::File(f) => f.as_fd(),
        };
        rustix::fs::fstat(fd)
            .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_file())
            .unwrap_or(false)
    }

    /// Runs `f` with the reader and its descriptor (for polling).
    fn with<T>(&mut self, f: impl FnOnce(&mut dyn Read, std::os::fd::BorrowedFd<'_>) -> T) -> T {
        use std::os::fd::AsFd;
        match self {
            Input::Stdin(s) => {
                let fd = s.as_fd();
                // Raw reads: the filter does its own buffering, and a
                // buffered stdin would hide pending bytes from poll.
                let mut raw = std::fs::File::from(fd.try_clone_to_owned().expect("dup stdin"));
                let fd2 = s.as_fd();
                f(&mut raw, fd2)
            }
            Input::File(file) => {
                let fd = file.try_clone().expect("dup file");
                f(file, fd.as_fd())
            }
        }
    }
}

/// The output: standard output, or a temporary file renamed over `-o`.
struct Output {
    target: Option<(PathBuf, PathBuf)>,
    writer: Box<dyn Write>,
}

impl Output {
    fn open(path: Option<&Path>) -> anyhow::Result<Output> {
        let Some(path) = path else {
            return Ok(Output {
                target: None,
                writer: Box::new(std::io::stdout().lock()),
            });
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = dir.join(format!(
            ".leakhound-redact-{}.tmp",
            crate::actions::safe_fs::random_id(8)
        ));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_600()
            .open(&tmp)
            .map_err(|e| {
                anyhow::anyhow!(
                    "{}: cannot create a temporary file beside it: {e}",
                    names::escape_path(path)
                )
            })?;
        Ok(Output {
            target: Some((tmp, path.to_path_buf())),
            writer: Box::new(std::io::BufWriter::with_capacity(256 * 1024, file)),
        })
    }

    /// Puts the output in place (fsync, rename); `ok == false` removes the
    /// temporary file instead.
    fn finish(self, ok: bool) -> anyhow::Result<()> {
        let Output { target, writer } = self;
        drop(writer);
        let Some((tmp, path)) = target else {
            return Ok(());
        };
        if !ok {
            let _ = std::fs::remove_file(&tmp);
            return Ok(());
        }
        let done = std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = done {
            let _ = std::fs::remove_file(&tmp);
            anyhow::bail!(
                "{}: cannot put the output in place: {e}",
                names::escape_path(&path)
            );
        }
        Ok(())
    }
}

/// rsyslog's `mmexternal` answer: each complete line written becomes
/// `{"msg":"<line>"}` and is flushed at once (rsyslog waits for it).
/// Bytes that are not UTF-8 become U+FFFD (JSON holds text only).
struct Mmexternal {
    out: Box<dyn Write>,
    line: Vec<u8>,
}

impl Write for Mmexternal {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for &b in buf {
            if b == b'\n' {
                let msg = String::from_utf8_lossy(&self.line);
                let reply = serde_json::json!({ "msg": msg });
                self.line.clear();
                writeln!(self.out, "{reply}")?;
                self.out.flush()?;
            } else {
                self.line.push(b);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl Drop for Mmexternal {
    fn drop(&mut self) {
        // The redacted text held is not kept around.
        zeroize::Zeroize::zeroize(&mut self.line);
    }
}

trait Mode600 {
    fn mode_600(&mut self) -> &mut Self;
}

impl Mode600 for std::fs::OpenOptions {
    fn mode_600(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}

fn filter_options(args: &StreamArgs, input: &Input) -> FilterOptions {
    let line_mode = match args.buffering {
        Buffering::Line => true,
        Buffering::Block => false,
        Buffering::Auto => !input.is_regular_file(),
    };
    FilterOptions {
        line_mode,
        flush_after: args.flush_ms.map(std::time::Duration::from_millis),
        chunk: args.chunk_size,
    }
}

/// The name events carry for the input: escaped, numbers masked.
fn input_name(path: &Path, engine: &Engine) -> String {
    if path.as_os_str() == "-" {
        return "-".to_string();
    }
    names::Masker::new(engine).path(&names::escape_path(path))
}

fn redact_inner(args: RedactArgs, config_path: Option<&Path>) -> anyhow::Result<Exit> {
    let cfg = load_config(config_path)?;
    let rules = match args.rules.load() {
        Ok(r) => r,
        Err(exit) => return Ok(exit),
    };
    let state = state_dir(&args.stream, &cfg);
    let fingerprinter =
        Fingerprinter::resolve(args.fingerprint_key_file.as_deref(), state.as_deref())?;
    let fpe = if matches!(args.style, Style::Fpe) || args.fpe_key_file.is_some() {
        FpeKey::resolve(
            args.fpe_key_file.as_deref(),
            args.identity.as_deref(),
            state.as_deref(),
        )?
    } else {
        None
    };
    if matches!(args.style, Style::Fpe) && fpe.is_none() {
        anyhow::bail!("--style fpe needs a key: {NO_KEY}");
    }
    let mut fpe = fpe;
    if let Some(list) = &args.token_list {
        match (&args.style, fpe.as_mut()) {
            (Style::Fpe, Some(key)) => key.record_tokens(list)?,
            _ => anyhow::bail!("--token-list lists FPE tokens: it needs --style fpe"),
        }
    }
    let mut sinks = open_sinks(&args.stream, &cfg, state.as_deref())?;
    let mut report = match &args.report {
        Some(p) => Some(JsonLines::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| {
                anyhow::anyhow!("cannot write the report to {}: {e}", names::escape_path(p))
            })?,
        ))),
        None => None,
    };
    let engine = Engine::new(rules);
    let mut options = cfg.policy.redact.clone();
    options.style = match args.style {
        Style::Mask => RedactStyle::Mask,
        Style::Token => RedactStyle::Token,
        Style::Fpe => RedactStyle::Fpe,
    };
    let wants = |_: &str, _| true;
    let ctx = RedactCtx {
        engine: &engine,
        fingerprinter: &fingerprinter,
        options: &options,
        min_confidence: args.min_confidence.level(),
        wants: &wants,
        fpe: fpe.as_ref(),
    };
    let path = input_name(&args.stream.input, &engine);
    let mut input = Input::open(&args.stream.input)?;
    let mut opts = filter_options(&args.stream, &input);
    let mut output = Output::open(args.stream.output.as_deref())?;
    if args.mmexternal {
        opts.line_mode = true;
        output.writer = Box::new(Mmexternal {
            out: output.writer,
            line: Vec::new(),
        });
    }
    let mut stamper = Stamper::new(&engine.rule_set().version);
    let mut event_error: Option<std::io::Error> = None;
    let mut on_redact = |m: &crate::engine::Match<'_>, at: Option<(u64, u64)>| {
        if report.is_none() && sinks.is_empty() {
            return;
        }
        let ev = Event::Finding(FindingEvent {
            rule: m.rule.id.clone(),
            kind: m.kind.to_string(),
            severity: m.severity,
            confidence: m.confidence,
            path: path.clone(),
            member: None,
            offset: at.map_or(0, |a| a.0),
            length: (m.end - m.start) as u64,
            line: at.map(|a| a.1),
            column: None,
            masked: m.value.masked(),
            fingerprint: fingerprinter.fingerprint(&m.value),
            test_data: m.test_data,
            data_location: None,
            location: Location::Content,
        });
        let env = stamper.stamp();
        for s in sinks.iter_mut() {
            if let Err(e) = s.event(&env, &ev) {
                event_error.get_or_insert(e);
            }
        }
        if let Some(r) = report.as_mut()
            && let Err(e) = r.event(&env, &ev)
        {
            event_error.get_or_insert(e);
        }
    };
    let result = input.with(|reader, fd| {
        redact_stream(
            &ctx,
            opts,
            reader,
            Some(fd),
            &mut output.writer,
            &mut on_redact,
        )
    });
    for s in sinks.iter_mut() {
        let _ = s.finish();
    }
    if let Some(r) = report.as_mut() {
        r.finish()?;
    }
    // An output whose tokens are not all listed is not put in place.
    if let Some(Err(e)) = fpe.as_ref().map(FpeKey::finish_tokens) {
        output.finish(false)?;
        return Err(e.into());
    }
    finish(result, output, event_error)
}

fn finish(
    result: Result<FilterStats, crate::actions::filter::FilterError>,
    output: Output,
    event_error: Option<std::io::Error>,
) -> anyhow::Result<Exit> {
    match result {
        Ok(stats) => {
            output.finish(true)?;
            if let Some(e) = event_error {
                anyhow::bail!("the output is written, but an event could not be: {e}");
            }
            tracing::info!(
                bytes_in = stats.bytes_in,
                redacted = stats.redacted,
                "redaction done"
            );
            Ok(Exit::Clean)
        }
        Err(crate::actions::filter::FilterError::Write(e))
            if e.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            output.finish(false)?;
            Ok(Exit::Clean)
        }
        Err(e) => {
            output.finish(false)?;
            anyhow::bail!("{e}")
        }
    }
}

/// Who runs this: `uid 1000 (alice)`.
fn who() -> String {
    let uid = rustix::process::getuid().as_raw();
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
        p.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?;
            (id.parse::<u32>().ok()? == uid).then(|| name.to_string())
        })
    });
    match name {
        Some(n) => format!("uid {uid} ({})", names::escape_text(&n)),
        None => format!("uid {uid}"),
    }
}

fn reveal_inner(args: RevealArgs, config_path: Option<&Path>) -> anyhow::Result<Exit> {
    let cfg = load_config(config_path)?;
    let rules = match args.rules.load() {
        Ok(r) => r,
        Err(exit) => return Ok(exit),
    };
    let state = state_dir(&args.stream, &cfg);
    let Some(key) = FpeKey::resolve(
        args.fpe_key_file.as_deref(),
        args.identity.as_deref(),
        state.as_deref(),
    )?
    else {
        anyhow::bail!("reveal needs the key the tokens were made with: {NO_KEY}");
    };
    let mut sinks = open_sinks(&args.stream, &cfg, state.as_deref())?;
    let mut finder = crate::actions::filter::TokenFinder::new(rules);
    if let Some(list) = &args.tokens {
        finder = finder.with_list(crate::actions::fpe::TokenList::load(list)?);
    }
    let engine = &finder.engine;
    let path = input_name(&args.stream.input, engine);
    let mut input = Input::open(&args.stream.input)?;
    let opts = filter_options(&args.stream, &input);
    let mut output = Output::open(args.stream.output.as_deref())?;
    // Reveal is the filter with a replacement that decrypts: the same
    // windows, lines and encodings.
    let fingerprinter = Fingerprinter::with_key(&[0u8; 32], fingerprint::KeySource::Ephemeral);
    let options = cfg.policy.redact.clone();
    let wants = |_: &str, _| true;
    let ctx = RedactCtx {
        engine,
        fingerprinter: &fingerprinter,
        options: &options,
        min_confidence: Confidence::Low,
        wants: &wants,
        fpe: Some(&key),
    };
    let mut revealed = 0u64;
    let mut rules_seen = std::collections::BTreeSet::new();
    let reveal = |m: &crate::engine::Match<'_>, matched: &str| -> Option<String> {
        finder.reveal_one(&key, m, matched)
    };
    let result = input.with(|reader, fd| {
        crate::actions::filter::reveal_stream(
            &ctx,
            opts,
            reader,
            Some(fd),
            &mut output.writer,
            &reveal,
            &mut |m, _| {
                revealed += 1;
                rules_seen.insert(m.rule.id.clone());
            },
        )
    });
    let ok = result.is_ok();
    // Every reveal is an event, even one that failed part-way: what was
    // written may hold original numbers.
    let ev = Event::Action(ActionEvent {
        path: path.clone(),
        member: None,
        action: ActionTaken::Revealed,
        dry_run: false,
        reason: Some(format!(
            "FPE tokens turned back into the original numbers by {}{}{}",
            who(),
            if finder.verified() {
                ", verified against a token list"
            } else {
                ", unverified (no token list)"
            },
            if ok { "" } else { " (stopped by an error)" }
        )),
        quarantine_id: None,
        findings: revealed,
        rules: rules_seen.into_iter().collect(),
    });
    let mut stamper = Stamper::new(&engine.rule_set().version);
    let env = stamper.stamp();
    for s in sinks.iter_mut() {
        s.event(&env, &ev)?;
        s.finish()?;
    }
    if let Event::Action(a) = &ev {
        eprintln!(
            "leakhound: {}: revealed {} value(s) ({})",
            a.path,
            a.findings,
            a.reason.as_deref().unwrap_or("")
        );
        if !finder.verified() && a.findings > 0 {
            eprintln!(
                "leakhound: warning: {} value(s) changed without verification: a number of a \
                 token's shape that never was a token is changed too when its check value \
                 looks like a token's (about one in ten); give the list `redact --token-list` \
                 wrote with --tokens FILE to change only real tokens",
                a.findings
            );
        }
    }
    finish(result, output, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_names_the_uid() {
        assert!(who().starts_with("uid "));
    }

    #[test]
    fn stdin_is_the_default_input() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            s: StreamArgs,
        }
        let t = T::parse_from(["t"]);
        assert_eq!(t.s.input, PathBuf::from("-"));
    }
}
