//! `leakhound scan`: execute a [`ScanPlan`] (the arguments resolved by
//! [`super::scan_plan`]): run the pipeline, act, report, and pick the exit
//! code. Events pass through the project policy stage
//! ([`crate::project::filter`]) on their way to the sink; `baseline create`
//! runs the same scan with a baseline writer as its sink.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::scan_plan::{Resolved, ScanPlan};
use super::{Exit, ScanArgs};
use crate::actions::{ActionOutcome, Actor};
use crate::fingerprint::Fingerprinter;
use crate::inputs;
use crate::project::filter;
use crate::report::Sink;
use crate::report::event::{
    ActionEvent, Event, FileStatus, FindingEvent, ScanEvent, Stamper, SummaryEvent,
};
use crate::report::human::human_bytes;
use crate::report::names::{self, Masker};
use crate::scan::{self, Totals};

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
    match ScanPlan::resolve(args, mode, config_path)? {
        Resolved::Plan(plan) => execute(*plan),
        Resolved::Stop(exit) => Ok(exit),
    }
}

/// Runs a resolved scan: the pipeline, the project policy stage, the
/// actions, the report and the exit code.
fn execute(plan: ScanPlan) -> anyhow::Result<Exit> {
    let ScanPlan {
        args,
        mode,
        exclude,
        root,
        relative_output,
        list_test_data,
        fingerprinter,
        engine,
        mut stage,
        missing,
        sink,
        show_progress,
        scan: config,
        cache,
        actions: action_settings,
    } = plan;
    let mut acting = ActionStage {
        actor: action_settings
            .map(|settings| Actor::new(&engine, &fingerprinter, settings))
            .transpose()?,
        pending: HashMap::new(),
        counts: BTreeMap::new(),
    };

    let stamper = Stamper::new(&engine.rule_set().version);
    let scan_id = stamper.scan_id().to_string();
    let mut side = super::report_cmd::SideOutputs::new(
        &fingerprinter,
        root.clone(),
        relative_output,
        args.follow,
        args.report.clone(),
        args.proof.clone(),
        args.signing_key.clone(),
        &scan_id,
        &engine.rule_set().version,
    )?;
    let bytes_read = Arc::new(AtomicU64::new(0));
    let progress = show_progress.then(|| Progress::new(bytes_read.clone()));
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut reporter = Reporter {
        sink,
        progress,
        error: None,
        masker: Masker::new(&engine),
        stamper,
    };
    // The HTML report and the proof mask names the same way.
    let mut side_masker = Masker::new(&engine);

    let start = ScanEvent {
        phase: "start".into(),
        paths: args.paths.iter().map(|p| names::escape_path(p)).collect(),
        rules: engine.rule_set().origin.clone(),
    };
    let mut start = Event::Scan(start);
    side.observe(&mut start, &mut side_masker);
    reporter.emit(&start);
    for path in &missing {
        let rec = inputs::record(path, FileStatus::Error, "does not exist: check the path");
        let mut rec = Event::File(rec);
        side.observe(&mut rec, &mut side_masker);
        reporter.emit(&rec);
    }

    let mut totals = scan::run(
        &engine,
        &fingerprinter,
        config,
        Some(bytes_read.clone()),
        &mut |ev| {
            if let Some(p) = &reporter.progress {
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
                let action = acting.observe(&ev, walked.as_deref());
                let quiet = matches!(&ev, Event::File(f) if f.status == FileStatus::Scanned && !args.verbose);
                if !quiet && shown {
                    reporter.emit(&ev);
                }
                if let Some(a) = action {
                    let mut a = Event::Action(a);
                    side.observe(&mut a, &mut side_masker);
                    reporter.emit(&a);
                }
            });
        },
    );
    stage.finish(&mut |mut ev| {
        if matches!(&ev, Event::Finding(f) if !filter::listed(f, list_test_data)) {
            return;
        }
        side.observe(&mut ev, &mut side_masker);
        reporter.emit_unsuspended(&ev)
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
    if let Some(p) = &reporter.progress {
        p.bar.finish_and_clear();
    }
    for _ in &missing {
        totals.files.add(FileStatus::Error);
    }

    let actions = acting.counts;
    let action_failed = actions.contains_key(ActionOutcome::FAILED);
    let exit = decide_exit(
        &args,
        mode,
        &totals,
        &stage,
        !missing.is_empty(),
        action_failed,
    );
    let elapsed = clock.elapsed();
    let rules = &engine.rule_set().origin;
    let mut summary = summary_event(
        &totals,
        &stage,
        started,
        elapsed,
        &fingerprinter,
        rules,
        exit,
    );
    summary.actions = actions;
    let mut summary = Event::Summary(summary);
    side.observe(&mut summary, &mut side_masker);
    reporter.emit_unsuspended(&summary);
    reporter.finish(args.output.is_none())?;
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

/// The action stage, beside the project policy stage: it holds each file's
/// reported findings until the file's record says the file is done, then
/// acts on the file (redact, quarantine ...) and counts the outcomes.
struct ActionStage<'a> {
    /// `None` when this scan only reports.
    actor: Option<Actor<'a>>,
    /// Findings by reported path, waiting for their file's record.
    pending: HashMap<String, Vec<FindingEvent>>,
    /// Actions taken, by outcome (the summary's `actions`).
    counts: BTreeMap<String, u64>,
}

impl ActionStage<'_> {
    /// Sees one event the policy let through; returns the action event when
    /// `ev` is the record of a whole file that had findings. `walked` is the
    /// file's path as walked: the record may show it relative to the root,
    /// and escaped (`report::names`), and the action needs the exact bytes.
    fn observe(&mut self, ev: &Event, walked: Option<&Path>) -> Option<ActionEvent> {
        // A file's findings arrive before its record (those the project
        // policy let through); act once the record says the file is done.
        let action = match (&self.actor, ev) {
            (Some(_), Event::Finding(f)) => {
                self.pending
                    .entry(f.path.clone())
                    .or_default()
                    .push(f.clone());
                None
            }
            (Some(actor), Event::File(f)) if f.member.is_none() => {
                self.pending.remove(&f.path).and_then(|found| {
                    let on_disk = walked
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| names::to_path(&f.path));
                    actor.act(&on_disk, &found)
                })
            }
            _ => None,
        }?;
        *self.counts.entry(action.action.to_string()).or_default() += 1;
        Some(action)
    }
}

/// Where every event of the report leaves: numbers in names are masked
/// once, for every format and sink; the progress bar steps aside while the
/// sink writes; the first sink error is kept and the later events dropped
/// (the report is broken from there on), then reported by
/// [`Reporter::finish`].
struct Reporter<'e> {
    sink: Box<dyn Sink>,
    progress: Option<Progress>,
    error: Option<std::io::Error>,
    masker: Masker<'e>,
    stamper: Stamper,
}

impl Reporter<'_> {
    /// Sends `ev` to the sink, with the progress bar suspended meanwhile.
    fn emit(&mut self, ev: &Event) {
        self.send(ev, true);
    }

    /// Sends `ev` to the sink without touching the progress bar (after the
    /// walk: the bar is done or about to be cleared).
    fn emit_unsuspended(&mut self, ev: &Event) {
        self.send(ev, false);
    }

    fn send(&mut self, ev: &Event, suspend: bool) {
        if self.error.is_some() {
            return;
        }
        let mut masked = ev.clone();
        self.masker.mask_event(&mut masked);
        let ev = &masked;
        let env = self.stamper.stamp();
        let sink = &mut self.sink;
        let r = match (&self.progress, suspend) {
            (Some(p), true) => p.bar.suspend(|| sink.event(&env, ev)),
            _ => sink.event(&env, ev),
        };
        if let Err(e) = r {
            self.error = Some(e);
        }
    }

    /// Reports the first sink error, else finishes the sink (a document
    /// format writes its closing part here). A broken pipe on stdout ends
    /// the process quietly, as `head` expects.
    fn finish(mut self, to_stdout: bool) -> anyhow::Result<()> {
        let r = match self.error.take() {
            Some(e) => Err(e),
            None => self.sink.finish(),
        };
        if let Err(e) = r {
            if e.kind() == std::io::ErrorKind::BrokenPipe && to_stdout {
                super::exit_broken_pipe();
            }
            anyhow::bail!("cannot write the report: {e}");
        }
        Ok(())
    }
}

/// The exit code. The gate reads the policy stage's counts
/// ([`filter::Stage::reported`]), the same the summary states: what was
/// reported, not what the policy held back.
fn decide_exit(
    args: &ScanArgs,
    mode: Mode,
    t: &Totals,
    stage: &filter::Stage,
    had_error: bool,
    action_failed: bool,
) -> Exit {
    if had_error {
        return Exit::Error;
    }
    // A failed action needs a person whatever was found: it comes first.
    if action_failed {
        return Exit::ActionFailed;
    }
    let failing = match args.fail_on.threshold() {
        Some(th) => stage.reported.reaches(th),
        None => false,
    };
    if failing {
        // Findings are what a baseline records, not a failure.
        match mode {
            Mode::Report => Exit::Findings,
            Mode::Baseline => Exit::Clean,
        }
    } else if args.fail_on_incomplete && t.files.incomplete() > 0 {
        Exit::Incomplete
    } else {
        Exit::Clean
    }
}

/// The summary event (all but the actions): the pipeline's totals and the
/// policy stage's counts, suppressions and baseline match.
fn summary_event(
    t: &Totals,
    stage: &filter::Stage,
    started: SystemTime,
    elapsed: Duration,
    fp: &Fingerprinter,
    rules: &str,
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
    let mut summary = SummaryEvent {
        started: humantime::format_rfc3339_millis(started).to_string(),
        duration_ms: elapsed.as_millis() as u64,
        files: t.files.clone(),
        excluded: t.excluded,
        bytes: t.bytes,
        bytes_per_second: (t.bytes as f64 / secs) as u64,
        fingerprint_key: fp.source().kind().to_string(),
        rules: rules.to_string(),
        result: result.to_string(),
        exit_code: exit as i32,
        suppressed: stage.suppressed.clone(),
        baseline: stage.baseline_summary(),
        actions: BTreeMap::new(),
        below_confidence: t.below_confidence,
        test_data_not_listed: stage.unlisted_test_data,
        ..SummaryEvent::default()
    };
    stage.reported.fill(&mut summary);
    summary
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clap::Parser;

    use super::*;
    use crate::fingerprint::KeySource;
    use crate::project::baseline::{self, Baseline, BaselineFile};
    use crate::project::config::ProjectConfig;
    use crate::report::event::{FileEvent, Location};
    use crate::rules::{Confidence, Severity};

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        scan: ScanArgs,
    }

    fn finding(rule: &str, severity: Severity, fingerprint: &str, test_data: bool) -> FindingEvent {
        FindingEvent {
            rule: rule.into(),
            kind: rule.into(),
            severity,
            confidence: Confidence::High,
            path: "data/a.txt".into(),
            member: None,
            offset: 0,
            length: 11,
            line: Some(1),
            column: Some(1),
            masked: "***-**-****".into(),
            fingerprint: fingerprint.into(),
            test_data,
            data_location: None,
            location: Location::Content,
        }
    }

    /// The gate's decision as the summary states it: a finding at or above
    /// `th` among the summary's severities.
    fn summary_fails(s: &SummaryEvent, th: Severity) -> bool {
        s.findings_by_severity
            .iter()
            .any(|(name, &n)| n > 0 && Severity::parse(name).is_some_and(|sev| sev >= th))
    }

    /// The pipeline finds four: a high one the baseline holds back, a
    /// published test card (high) that is not listed, and a medium and a
    /// low one that are reported. Counted before the policy, the run would
    /// fail `--fail-on high`; the summary and the gate must both count the
    /// two reported, and agree on every threshold.
    #[test]
    fn summary_counts_are_the_counts_the_gate_decides_on_when_the_policy_holds_findings_back() {
        let dir = tempfile::tempdir().unwrap();
        let fp = Fingerprinter::with_key(b"a test key, not a secret", KeySource::Ephemeral);
        let known = finding("payment_card", Severity::High, "aa11", false);
        let file = dir.path().join("baseline.json");
        let entries = BTreeSet::from([baseline::entry_of(&known)]);
        std::fs::write(&file, BaselineFile::new(&fp, entries).to_json()).unwrap();
        let mut policy = filter::Policy::new(
            ProjectConfig::default(),
            Some(Baseline::load(&file, &fp).unwrap()),
            None,
        );
        policy.list_test_data = false;
        let mut stage = filter::Stage::new(policy);

        let mut listed = 0u64;
        let mut out = |ev: Event| {
            if let Event::Finding(f) = &ev
                && filter::listed(f, false)
            {
                listed += 1;
            }
        };
        for ev in [
            known,
            finding("payment_card", Severity::High, "bb22", true),
            finding("us_ssn", Severity::Medium, "cc33", false),
            finding("us_ssn", Severity::Low, "dd44", false),
        ] {
            stage.push(Event::Finding(ev), &mut out);
        }
        let rec = FileEvent {
            path: "data/a.txt".into(),
            member: None,
            status: FileStatus::Scanned,
            reason: None,
            bytes: 100,
            encoding: None,
            findings: 4,
            meta: None,
        };
        stage.push(Event::File(rec), &mut out);
        stage.finish(&mut out);
        let mut totals = Totals::default();
        totals.files.add(FileStatus::Scanned);

        for (flag, th) in [
            ("low", Severity::Low),
            ("medium", Severity::Medium),
            ("high", Severity::High),
        ] {
            let args = T::parse_from(["t", "--fail-on", flag]).scan;
            let exit = decide_exit(&args, Mode::Report, &totals, &stage, false, false);
            let s = summary_event(
                &totals,
                &stage,
                SystemTime::now(),
                Duration::from_millis(1),
                &fp,
                "built-in",
                exit,
            );
            assert_eq!(s.findings, 2, "--fail-on {flag}");
            assert_eq!(s.findings, listed, "the summary counts what was listed");
            assert_eq!(s.findings_by_kind, BTreeMap::from([("us_ssn".into(), 2)]));
            assert_eq!(
                s.findings_by_severity,
                BTreeMap::from([("low".into(), 1), ("medium".into(), 1)])
            );
            assert_eq!(s.test_data_findings, 0);
            assert_eq!(s.test_data_not_listed, 1);
            assert_eq!(s.suppressed, BTreeMap::from([("baseline".into(), 1)]));
            assert_eq!(s.baseline.as_ref().map(|b| b.matched), Some(1));
            assert_eq!(
                exit == Exit::Findings,
                summary_fails(&s, th),
                "--fail-on {flag}: the gate and the summary disagree"
            );
            assert_eq!(s.exit_code, exit as i32);
            let expected = if th == Severity::High {
                Exit::Clean
            } else {
                Exit::Findings
            };
            assert_eq!(exit, expected, "--fail-on {flag}");
            // A baseline run records findings; it does not fail on them.
            let exit = decide_exit(&args, Mode::Baseline, &totals, &stage, false, false);
            assert_eq!(exit, Exit::Clean, "baseline create, --fail-on {flag}");
        }
    }
}
