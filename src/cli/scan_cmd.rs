//! `leakhound scan`: resolve the arguments, run the pipeline, report, and
//! pick the exit code.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::{Exit, ScanArgs, When};
use crate::engine::Engine;
use crate::fingerprint::{self, Fingerprinter};
use crate::inputs::{self, Input, PathFilter, WalkOptions};
use crate::report::event::{Event, FileStatus, ScanEvent, Stamper, SummaryEvent};
use crate::report::human::{Human, human_bytes};
use crate::report::{Format, JsonDocument, JsonLines, Sink};
use crate::scan::{self, ScanConfig, Totals};

pub fn run(args: ScanArgs, config: Option<&std::path::Path>) -> Exit {
    match run_inner(args, config) {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("leakhound: error: {e:#}");
            Exit::Error
        }
    }
}

fn run_inner(args: ScanArgs, config: Option<&std::path::Path>) -> anyhow::Result<Exit> {
    let rules = match args.rules.load() {
        Ok(r) => r,
        Err(exit) => return Ok(exit),
    };
    let filter = PathFilter::new(&args.include, &args.exclude)?;
    let config = match config {
        Some(path) => Some(crate::config::Config::load(path)?),
        None => None,
    };
    let state_dir = args
        .state_dir
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.state_dir.clone()))
        .or_else(fingerprint::default_state_dir);
    let log_sinks = open_log_sinks(&args, config.as_ref(), state_dir.as_deref())?;
    let fingerprinter =
        Fingerprinter::resolve(args.fingerprint_key_file.as_deref(), state_dir.as_deref())?;
    let engine = Engine::new(rules);

    // Roots that do not exist are an error of the invocation (exit 2); the
    // others are still scanned so the report is as complete as it can be.
    let mut inputs = Vec::new();
    let mut missing: Vec<PathBuf> = Vec::new();
    for p in &args.paths {
        if p.as_os_str() == "-" {
            inputs.push(Input::Stdin);
        } else if std::fs::symlink_metadata(p).is_err() {
            eprintln!(
                "leakhound: error: {}: does not exist (check the path)",
                p.display()
            );
            missing.push(p.clone());
        } else {
            inputs.push(Input::Path(p.clone()));
        }
    }

    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| {
                anyhow::anyhow!("cannot write the report to {}: {e}", path.display())
            })?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let color = match args.color {
        When::Always => true,
        When::Never => false,
        When::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut sink: Box<dyn Sink> = match args.format {
        Format::Human => Box::new(Human::new(
            out,
            color,
            args.verbose,
            fingerprinter.source().to_string(),
        )),
        Format::Jsonl => Box::new(JsonLines::new(out)),
        Format::Json => Box::new(JsonDocument::new(out)),
    };

    // Log sinks first: once the report shows an event, it is spooled.
    if !log_sinks.is_empty() {
        let mut all = log_sinks;
        all.push(("report".to_string(), sink));
        sink = Box::new(crate::sinks::Fanout::new(all));
    }

    let show_progress = match args.progress {
        When::Always => true,
        When::Never => false,
        When::Auto => std::io::stderr().is_terminal(),
    };
    let bytes_read = Arc::new(AtomicU64::new(0));
    let progress = show_progress.then(|| Progress::new(bytes_read.clone()));

    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let config = ScanConfig {
        inputs,
        walk: WalkOptions {
            follow_symlinks: args.follow,
            filter,
        },
        threads,
        chunk_size: args.chunk_size,
        min_confidence: args.min_confidence.level(),
    };

    let mut stamper = Stamper::new(&engine.rule_set().version);
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut sink_error: Option<std::io::Error> = None;
    let mut emit = |sink: &mut Box<dyn Sink>, ev: &Event, progress: &Option<Progress>| {
        if sink_error.is_some() {
            return;
        }
        let env = stamper.stamp();
        let r = match progress {
            Some(p) => p.bar.suspend(|| sink.event(&env, ev)),
            None => sink.event(&env, ev),
        };
        if let Err(e) = r {
            sink_error = Some(e);
        }
    };

    let start = ScanEvent {
        phase: "start".into(),
        paths: args.paths.iter().map(|p| p.display().to_string()).collect(),
        rules: engine.rule_set().origin.clone(),
    };
    emit(&mut sink, &Event::Scan(start), &progress);
    for path in &missing {
        let rec = inputs::record(path, FileStatus::Error, "does not exist: check the path");
        emit(&mut sink, &Event::File(rec), &progress);
    }

    let mut totals = scan::run(
        &engine,
        &fingerprinter,
        config,
        Some(bytes_read.clone()),
        &mut |ev| {
            if let Some(p) = &progress {
                p.on_event(&ev);
            }
            if let Event::File(f) = &ev
                && f.status == FileStatus::Scanned
                && !args.verbose
            {
                return;
            }
            emit(&mut sink, &ev, &progress);
        },
    );
    if let Some(p) = &progress {
        p.bar.finish_and_clear();
    }
    for _ in &missing {
        totals.files.add(FileStatus::Error);
    }

    let exit = decide_exit(&args, &totals, !missing.is_empty());
    let elapsed = clock.elapsed();
    let summary = summary_event(&totals, started, elapsed, &fingerprinter, &engine, exit);
    emit(&mut sink, &Event::Summary(summary), &None);
    if let Some(e) = sink_error {
        anyhow::bail!("cannot write the report: {e}");
    }
    sink.finish()
        .map_err(|e| anyhow::anyhow!("cannot write the report: {e}"))?;
    Ok(exit)
}

/// The sinks of `--sink` and of the configuration file, each with its name.
fn open_log_sinks(
    args: &ScanArgs,
    config: Option<&crate::config::Config>,
    state_dir: Option<&std::path::Path>,
) -> anyhow::Result<Vec<(String, Box<dyn Sink>)>> {
    use crate::sinks::SinkConfig;
    let mut wanted: Vec<SinkConfig> = config.map(|c| c.sinks.outputs.clone()).unwrap_or_default();
    for spec in &args.sinks {
        wanted.push(SinkConfig::from_spec(spec).map_err(anyhow::Error::msg)?);
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let dir = state_dir.ok_or_else(|| {
        anyhow::anyhow!(
            "no state directory for the sinks' spool: set LEAKHOUND_STATE_DIR or --state-dir"
        )
    })?;
    let mut out = Vec::new();
    for w in &wanted {
        let s = crate::sinks::build(w, dir)?;
        out.push((w.to.clone(), s as Box<dyn Sink>));
    }
    Ok(out)
}

fn decide_exit(args: &ScanArgs, t: &Totals, had_error: bool) -> Exit {
    if had_error {
        return Exit::Error;
    }
    let failing = match args.fail_on.threshold() {
        Some(th) => t.findings > 0 && t.max_severity.is_some_and(|s| s >= th),
        None => false,
    };
    if failing {
        Exit::Findings
    } else if args.fail_on_incomplete && t.files.incomplete() > 0 {
        Exit::Incomplete
    } else {
        Exit::Clean
    }
}

fn summary_event(
    t: &Totals,
    started: SystemTime,
    elapsed: Duration,
    fp: &Fingerprinter,
    engine: &Engine,
    exit: Exit,
) -> SummaryEvent {
    let secs = elapsed.as_secs_f64().max(1e-6);
    let result = match exit {
        Exit::Clean if t.files.incomplete() > 0 => "incomplete",
        Exit::Clean => "clean",
        Exit::Findings => "findings",
        Exit::Error => "error",
        Exit::Incomplete => "incomplete",
    };
    SummaryEvent {
        started: humantime::format_rfc3339_millis(started).to_string(),
        duration_ms: elapsed.as_millis() as u64,
        files: t.files.clone(),
        excluded: t.excluded,
        bytes: t.bytes,
        bytes_per_second: (t.bytes as f64 / secs) as u64,
        findings: t.findings,
        findings_by_kind: t.by_kind.clone(),
        findings_by_severity: t.by_severity.clone(),
        test_data_findings: t.test_data,
        fingerprint_key: fp.source().kind().to_string(),
        rules: engine.rule_set().origin.clone(),
        result: result.to_string(),
        exit_code: exit as i32,
    }
}

/// The progress bar on stderr.
struct Progress {
    bar: indicatif::ProgressBar,
    bytes: Arc<AtomicU64>,
    files: AtomicU64,
    findings: AtomicU64,
    started: Instant,
}

impl Progress {
    fn new(bytes: Arc<AtomicU64>) -> Progress {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress {
            bar,
            bytes,
            files: AtomicU64::new(0),
            findings: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    fn on_event(&self, ev: &Event) {
        match ev {
            Event::File(_) => {
                self.files.fetch_add(1, Ordering::Relaxed);
            }
            Event::Finding(_) => {
                self.findings.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        let bytes = self.bytes.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!(
            "{} files, {} ({}/s), {} findings",
            self.files.load(Ordering::Relaxed),
            human_bytes(bytes),
            human_bytes((bytes as f64 / secs) as u64),
            self.findings.load(Ordering::Relaxed)
        ));
    }
}
