//! `leakhound scan`: resolve the arguments, run the pipeline, report, and
//! pick the exit code. Events pass through the project policy stage
//! ([`crate::project::filter`]) on their way to the sink; `baseline create`
//! runs the same scan with a baseline writer as its sink.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use std::collections::{BTreeMap, HashMap};

use super::baseline_cmd::BaselineSink;
use super::{Exit, ScanArgs, When};
use crate::actions::{ActionOutcome, ActionSettings, Actor};
use crate::config::policy::ActionKind;
use crate::config::{self, Config};
use crate::engine::Engine;
use crate::extract::Limits;
use crate::fingerprint::KeySource;
use crate::fingerprint::{self, Fingerprinter};
use crate::inputs::{self, Input, PathFilter, WalkOptions};
use crate::project::baseline::Baseline;
use crate::project::filter::{self, Policy, Stage};
use crate::project::gate;
use crate::report::event::{Event, FileStatus, FindingEvent, ScanEvent, Stamper, SummaryEvent};
use crate::report::human::{Human, human_bytes};
use crate::report::junit::Junit;
use crate::report::names::{self, Masker};
use crate::report::sarif::Sarif;
use crate::report::{EventFormat, Format, JsonDocument, JsonLines, Lines, Sink};
use crate::scan::{self, ScanConfig, Totals};

/// What the scan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `leakhound scan`: a report in `--format`.
    Report,
    /// `leakhound baseline create`: a baseline file.
    Baseline,
}

pub fn run(args: ScanArgs, config_path: Option<&Path>) -> Exit {
    run_mode(args, Mode::Report, config_path)
}

/// Runs a scan for `mode`.
pub fn run_mode(args: ScanArgs, mode: Mode, config_path: Option<&Path>) -> Exit {
    match run_inner(args, mode, config_path) {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("leakhound: error: {e:#}");
            Exit::Error
        }
    }
}

fn run_inner(args: ScanArgs, mode: Mode, config_path: Option<&Path>) -> anyhow::Result<Exit> {
    // A one-off scan reads a config file only when one is named.
    let file_config = match config::resolve_path(config_path, false) {
        Some(path) => match Config::load(&path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("leakhound: error: {e}");
                return Ok(Exit::Error);
            }
        },
        None => Config::default(),
    };
    args.ocr.apply(&file_config.ocr)?;
    let limits = args
        .limits
        .as_section()
        .apply(file_config.limits.apply(Limits::default()));
    let rules = match args.rules.load_all() {
        Ok(r) => r,
        Err(exit) => return Ok(exit),
    };
    let root = gate::root_of(args.root.as_deref(), &args.paths);
    let project = if args.no_project_config {
        None
    } else {
        gate::project_config(root.dir(), &rules)?
    };
    // `--rules-pack`, else the project file's `rules.packs`, else `default`.
    let project_packs = project.as_ref().and_then(|(_, p)| p.rules.packs.as_deref());
    let rules = match args.rules.select(rules, project_packs) {
        Ok(r) => r,
        Err(exit) => return Ok(exit),
    };
    let mut exclude = args.exclude.clone();
    if let Some((_, p)) = &project {
        exclude.extend(p.exclude.iter().cloned());
    }
    let filter = PathFilter::new(&args.include, &exclude)?;
    let state_dir = args
        .state_dir
        .clone()
        .or_else(|| file_config.state_dir.clone())
        .or_else(fingerprint::default_state_dir);
    let log_sinks = open_log_sinks(&args, Some(&file_config), state_dir.as_deref())?;
    let fingerprinter =
        Fingerprinter::resolve(args.fingerprint_key_file.as_deref(), state_dir.as_deref())?;
    let baseline = match (&args.baseline, mode) {
        (Some(path), Mode::Report) => Some(Baseline::load(path, &fingerprinter)?),
        (Some(_), Mode::Baseline) => {
            anyhow::bail!("--baseline cannot be used with `baseline create`")
        }
        (None, _) => None,
    };
    if mode == Mode::Baseline
        && matches!(
            fingerprinter.source(),
            KeySource::Local(_) | KeySource::Ephemeral
        )
    {
        eprintln!(
            "leakhound: warning: fingerprints are keyed with {}: this baseline will match only \
             here; set LEAKHOUND_FINGERPRINT_KEY (a CI secret) to make it portable",
            fingerprinter.source()
        );
    }
    let rel_output = args.root.is_some()
        || mode == Mode::Baseline
        || matches!(args.format, Format::Sarif | Format::Junit);
    let mut policy = Policy::new(
        project.map(|(_, p)| p).unwrap_or_default(),
        baseline,
        Some(root.clone()),
    );
    policy.relative_output = rel_output;
    // Published test numbers are counted, not listed, at the default
    // (docs/DESIGN.md, "Evidence"); the actions still see them.
    let list_test_data =
        args.show_test_data || args.min_confidence.level() == crate::rules::Confidence::Low;
    policy.list_test_data = list_test_data;
    // `--base64` turns the payload pass on; else `limits.base64` decides.
    let base64 = args.limits.base64 || file_config.limits.base64_on();
    let engine = Engine::new(rules).with_base64(base64);
    if policy.baseline.is_some() {
        policy.names = Some(engine.clone());
    }
    let mut stage = Stage::new(policy);

    // Roots that do not exist are an error of the invocation (exit 2); the
    // others are still scanned so the report is as complete as it can be.
    let mut inputs = Vec::new();
    let mut missing: Vec<PathBuf> = Vec::new();
    let changed = match &args.since {
        Some(reference) => Some(gate::since_paths(
            reference,
            &args.paths,
            &filter,
            args.follow,
        )?),
        None => None,
    };
    if let Some(changed) = &changed {
        inputs.extend(changed.iter().cloned().map(Input::Path));
    }
    for p in &args.paths {
        if changed.is_some() && p.as_os_str() != "-" && std::fs::symlink_metadata(p).is_ok() {
            continue;
        }
        if p.as_os_str() == "-" {
            inputs.push(Input::Stdin);
        } else if std::fs::symlink_metadata(p).is_err() {
            eprintln!(
                "leakhound: error: {}: does not exist (check the path)",
                names::escape_path(p)
            );
            missing.push(p.clone());
        } else {
            inputs.push(Input::Path(p.clone()));
        }
    }

    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| {
                anyhow::anyhow!(
                    "cannot write the report to {}: {e}",
                    names::escape_path(path)
                )
            })?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let color = match args.color {
        When::Always => true,
        When::Never => false,
        When::Auto => super::auto_color(to_terminal),
    };
    let mut sink: Box<dyn Sink> = match (mode, args.format) {
        (Mode::Baseline, _) => Box::new(BaselineSink::new(out, &fingerprinter)),
        (_, Format::Sarif) => Box::new(Sarif::new(out, engine.rule_set())),
        (_, Format::Junit) => Box::new(Junit::new(out, args.fail_on.threshold())),
        (_, Format::Human) => Box::new(Human::new(
            out,
            color,
            args.verbose,
            fingerprinter.source().to_string(),
        )),
        (_, Format::Jsonl) => Box::new(JsonLines::new(out)),
        (_, Format::Json) => Box::new(JsonDocument::new(out)),
        (_, Format::Ecs) => Box::new(Lines::new(out, EventFormat::Ecs)),
        (_, Format::Ocsf) => Box::new(Lines::new(out, EventFormat::Ocsf)),
        (_, Format::Cef) => Box::new(Lines::new(out, EventFormat::Cef)),
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
    // The cache's rows are valid for these rules and every setting that
    // changes what is reported (docs/scale.md).
    let cache = match &args.cache {
        Some(path) => {
            let version = format!(
                "scan {} min_confidence={} {limits:?}",
                engine.rule_set().version,
                args.min_confidence.level().as_str(),
            );
            let cache = crate::state::cache::ScanCache::open(path, &fingerprinter, version)
                .map_err(|e| anyhow::anyhow!("--cache: {e}"))?;
            Some(Arc::new(cache))
        }
        None => None,
    };
    let config = ScanConfig {
        inputs,
        walk: WalkOptions {
            follow_symlinks: args.follow,
            filter,
            shard: args.shard,
        },
        threads,
        chunk_size: args.chunk_size,
        min_confidence: args.min_confidence.level(),
        limits,
        cache: cache.clone(),
    };

    let roots: Vec<PathBuf> = args
        .paths
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .cloned()
        .collect();
    let actor = action_settings(&args, &file_config, state_dir.as_deref(), roots)
        .map(|settings| Actor::new(&engine, &fingerprinter, settings))
        .transpose()?;
    let mut pending: HashMap<String, Vec<FindingEvent>> = HashMap::new();
    let mut actions: BTreeMap<String, u64> = BTreeMap::new();

    let mut stamper = Stamper::new(&engine.rule_set().version);
    let scan_id = stamper.scan_id().to_string();
    let mut side = super::report_cmd::SideOutputs::new(
        &fingerprinter,
        root.clone(),
        rel_output,
        args.follow,
        args.report.clone(),
        args.proof.clone(),
        args.signing_key.clone(),
        &scan_id,
        &engine.rule_set().version,
    )?;
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut sink_error: Option<std::io::Error> = None;
    // Every event leaves through here: numbers in names are masked once,
    // for every format and sink.
    let mut masker = Masker::new(&engine);
    // The HTML report and the proof mask names the same way.
    let mut side_masker = Masker::new(&engine);
    let mut emit = |sink: &mut Box<dyn Sink>, ev: &Event, progress: &Option<Progress>| {
        if sink_error.is_some() {
            return;
        }
        let mut masked = ev.clone();
        masker.mask_event(&mut masked);
        let ev = &masked;
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
        paths: args.paths.iter().map(|p| names::escape_path(p)).collect(),
        rules: engine.rule_set().origin.clone(),
    };
    let mut start = Event::Scan(start);
    side.observe(&mut start, &mut side_masker);
    emit(&mut sink, &start, &progress);
    for path in &missing {
        let rec = inputs::record(path, FileStatus::Error, "does not exist: check the path");
        let mut rec = Event::File(rec);
        side.observe(&mut rec, &mut side_masker);
        emit(&mut sink, &rec, &progress);
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
            // The file as walked, for the action its record may trigger:
            // reports may show the path relative to the root, and the
            // event carries it escaped (`report::names`); the action needs
            // the exact bytes.
            let walked = match &ev {
                Event::File(f) if f.member.is_none() => Some(names::to_path(&f.path)),
                _ => None,
            };
            stage.push(ev, &mut |mut ev| {
                let shown = match &ev {
                    Event::Finding(f) => filter::listed(f, list_test_data),
                    _ => true,
                };
                if shown {
                    side.observe(&mut ev, &mut side_masker);
                }
                // A file's findings arrive before its record (those the
                // project policy let through); act once the record says the
                // file is done.
                let action = match (&actor, &ev) {
                    (Some(_), Event::Finding(f)) => {
                        pending.entry(f.path.clone()).or_default().push(f.clone());
                        None
                    }
                    (Some(actor), Event::File(f)) if f.member.is_none() => {
                        pending.remove(&f.path).and_then(|found| {
                            let on_disk =
                                walked.clone().unwrap_or_else(|| names::to_path(&f.path));
                            actor.act(&on_disk, &found)
                        })
                    }
                    _ => None,
                };
                let quiet = matches!(&ev, Event::File(f) if f.status == FileStatus::Scanned && !args.verbose);
                if !quiet && shown {
                    emit(&mut sink, &ev, &progress);
                }
                if let Some(a) = action {
                    *actions.entry(a.action.to_string()).or_default() += 1;
                    let mut a = Event::Action(a);
                    side.observe(&mut a, &mut side_masker);
                    emit(&mut sink, &a, &progress);
                }
            });
        },
    );
    stage.finish(&mut |mut ev| {
        if matches!(&ev, Event::Finding(f) if !filter::listed(f, list_test_data)) {
            return;
        }
        side.observe(&mut ev, &mut side_masker);
        emit(&mut sink, &ev, &None)
    });
    if let Some(cache) = &cache
        && let Err(e) = cache.flush()
    {
        // The report is whole; only the next run is slower.
        eprintln!("leakhound: warning: --cache: {e} (the next run scans those files again)");
    }
    if let Some(cache) = &cache {
        eprintln!("leakhound: cache: {}", cache.counts);
    }
    // The exit code and the summary count what was reported, not what the
    // policy held back.
    let r = &stage.reported;
    totals.findings = r.findings;
    totals.by_kind = r.by_kind.clone();
    totals.by_severity = r.by_severity.clone();
    totals.test_data = r.test_data;
    totals.max_severity = r.max_severity;
    if let Some(p) = &progress {
        p.bar.finish_and_clear();
    }
    for _ in &missing {
        totals.files.add(FileStatus::Error);
    }

    let action_failed = actions.contains_key(ActionOutcome::FAILED);
    let mut exit = decide_exit(&args, &totals, !missing.is_empty(), action_failed);
    if mode == Mode::Baseline && exit == Exit::Findings {
        // Findings are what a baseline records, not a failure.
        exit = Exit::Clean;
    }
    let elapsed = clock.elapsed();
    let mut summary = summary_event(&totals, started, elapsed, &fingerprinter, &engine, exit);
    summary.suppressed = stage.suppressed.clone();
    summary.test_data_not_listed = stage.unlisted_test_data;
    summary.baseline = stage.baseline_summary();
    summary.actions = actions;
    let mut summary = Event::Summary(summary);
    side.observe(&mut summary, &mut side_masker);
    emit(&mut sink, &summary, &None);
    if let Some(e) = sink_error {
        if e.kind() == std::io::ErrorKind::BrokenPipe && args.output.is_none() {
            super::exit_broken_pipe();
        }
        anyhow::bail!("cannot write the report: {e}");
    }
    if let Err(e) = sink.finish() {
        if e.kind() == std::io::ErrorKind::BrokenPipe && args.output.is_none() {
            super::exit_broken_pipe();
        }
        anyhow::bail!("cannot write the report: {e}");
    }
    side.finish(|| crate::proof::build::Header {
        scan_id,
        host: crate::report::event::hostname(),
        started: humantime::format_rfc3339_millis(started).to_string(),
        ended: super::report_cmd::now(),
        rules_version: engine.rule_set().version.clone(),
        rules: engine.rule_set().origin.clone(),
        options: super::report_cmd::proof_options(&args, &exclude),
    })?;
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

fn decide_exit(args: &ScanArgs, t: &Totals, had_error: bool, action_failed: bool) -> Exit {
    if had_error {
        return Exit::Error;
    }
    // A failed action needs a person whatever was found: it comes first.
    if action_failed {
        return Exit::ActionFailed;
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
        Exit::ActionFailed => "action_failed",
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
        suppressed: Default::default(),
        baseline: None,
        actions: BTreeMap::new(),
        below_confidence: t.below_confidence,
        test_data_not_listed: 0,
    }
}

/// The action settings, or `None` when this scan only reports.
fn action_settings(
    args: &ScanArgs,
    config: &crate::config::Config,
    state_dir: Option<&std::path::Path>,
    roots: Vec<PathBuf>,
) -> Option<ActionSettings> {
    let policy = &config.policy;
    let acts = match args.action {
        Some(a) => a != ActionKind::Report,
        None => {
            policy.default != ActionKind::Report
                || policy.rules.iter().any(|r| r.action != ActionKind::Report)
        }
    };
    if !acts {
        return None;
    }
    let quarantine_dir = args
        .quarantine_dir
        .clone()
        .unwrap_or_else(|| policy.quarantine.dir.clone());
    let journal_dir = config
        .state_dir
        .as_deref()
        .or(state_dir)
        .map(|d| d.join("journal"))
        .unwrap_or_else(|| quarantine_dir.join("journal"));
    Some(ActionSettings {
        policy: policy.clone(),
        force: args.action,
        dry_run: args.dry_run,
        roots,
        quarantine_dir,
        journal_dir,
        min_confidence: args.min_confidence.level(),
    })
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
