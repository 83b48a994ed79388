//! The resolution step of `leakhound scan`: everything decided from the
//! arguments and the configuration files before any file of the scan is
//! read (roots, rules, project policy, engine settings, the report writer
//! and log sinks, the cache, actions, limits and thresholds), gathered into
//! one [`ScanPlan`] that [`super::scan_cmd`] then executes. ripgrep's
//! `hiargs.rs` and fd's `construct_config` are the models: the running code
//! never looks at raw arguments to decide what to do.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::baseline_cmd::BaselineSink;
use super::scan_cmd::Mode;
use super::{Exit, ScanArgs, When};
use crate::actions::ActionSettings;
use crate::config::policy::ActionKind;
use crate::config::{self, Config};
use crate::engine::Engine;
use crate::extract::Limits;
use crate::fingerprint::{self, Fingerprinter, KeySource};
use crate::inputs::{Input, PathFilter, WalkOptions};
use crate::project::baseline::Baseline;
use crate::project::filter::{Policy, Stage};
use crate::project::gate;
use crate::project::root::Root;
use crate::report::human::Human;
use crate::report::junit::Junit;
use crate::report::names;
use crate::report::sarif::Sarif;
use crate::report::{EventFormat, Format, JsonDocument, JsonLines, Lines, Sink};
use crate::scan::ScanConfig;
use crate::state::cache::ScanCache;

/// A scan, fully decided: what to read, with which engine and policy, and
/// where the results go.
pub struct ScanPlan {
    /// The arguments, for what the report itself echoes (paths, options).
    pub args: ScanArgs,
    pub mode: Mode,
    /// `--exclude` plus the project file's excludes, as the proof records.
    pub exclude: Vec<String>,
    /// The project root that reported paths are relative to.
    pub root: Root,
    /// Whether reports show paths relative to [`ScanPlan::root`].
    pub relative_output: bool,
    /// Whether published test numbers are listed (else only counted).
    pub list_test_data: bool,
    pub fingerprinter: Fingerprinter,
    pub engine: Engine,
    /// The project policy stage (allowlists, baseline, inline allows).
    pub stage: Stage,
    /// Roots that do not exist (already reported on stderr): exit 2.
    pub missing: Vec<PathBuf>,
    /// The report writer, behind the log sinks when there are any.
    pub sink: Box<dyn Sink>,
    pub show_progress: bool,
    pub scan: ScanConfig,
    pub cache: Option<Arc<ScanCache>>,
    /// The action settings, or `None` when this scan only reports.
    pub actions: Option<ActionSettings>,
}

/// What resolving the arguments came to.
pub enum Resolved {
    /// A plan to execute.
    Plan(Box<ScanPlan>),
    /// Nothing to run: the problem was already reported; exit with this.
    Stop(Exit),
}

impl ScanPlan {
    /// Resolves `args` (and the configuration file at `config_path`, the
    /// project file and the rules) into a plan. Errors name what is wrong
    /// with the invocation; no file of the scan has been read yet.
    pub fn resolve(
        args: ScanArgs,
        mode: Mode,
        config_path: Option<&Path>,
    ) -> anyhow::Result<Resolved> {
        // A one-off scan reads a config file only when one is named.
        let file_config = match config::resolve_path(config_path, false) {
            Some(path) => match Config::load(&path) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("leakhound: error: {e}");
                    return Ok(Resolved::Stop(Exit::Error));
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
            Err(exit) => return Ok(Resolved::Stop(exit)),
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
            Err(exit) => return Ok(Resolved::Stop(exit)),
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
        let relative_output = args.root.is_some()
            || mode == Mode::Baseline
            || matches!(args.format, Format::Sarif | Format::Junit);
        let mut policy = Policy::new(
            project.map(|(_, p)| p).unwrap_or_default(),
            baseline,
            Some(root.clone()),
        );
        policy.relative_output = relative_output;
        // Published test numbers are counted, not listed, at the default
        // (docs/DESIGN.md, "Evidence"); the actions still see them.
        let list_test_data =
            args.show_test_data || args.min_confidence.level() == crate::rules::Confidence::Low;
        policy.list_test_data = list_test_data;
        // `--base64` or `--no-base64` decide; else `limits.base64` (on
        // when the file does not say).
        let base64 = if args.limits.no_base64 {
            false
        } else {
            args.limits.base64 || file_config.limits.base64_on()
        };
        let engine = Engine::new(rules).with_base64(base64);
        if policy.baseline.is_some() {
            policy.names = Some(engine.clone());
        }
        let stage = Stage::new(policy);

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

        let sink = report_sink(&args, mode, &engine, &fingerprinter, log_sinks)?;
        let show_progress = match args.progress {
            When::Always => true,
            When::Never => false,
            When::Auto => std::io::stderr().is_terminal(),
        };

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
                let cache = ScanCache::open(path, &fingerprinter, version)
                    .map_err(|e| anyhow::anyhow!("--cache: {e}"))?;
                Some(Arc::new(cache))
            }
            None => None,
        };
        let scan = ScanConfig {
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
        let actions = action_settings(&args, &file_config, state_dir.as_deref(), roots);
        Ok(Resolved::Plan(Box::new(ScanPlan {
            args,
            mode,
            exclude,
            root,
            relative_output,
            list_test_data,
            fingerprinter,
            engine,
            stage,
            missing,
            sink,
            show_progress,
            scan,
            cache,
            actions,
        })))
    }
}

/// The report writer for `--format` (or the baseline writer), on `-o FILE`
/// or stdout, behind the log sinks when there are any.
fn report_sink(
    args: &ScanArgs,
    mode: Mode,
    engine: &Engine,
    fingerprinter: &Fingerprinter,
    log_sinks: Vec<(String, Box<dyn Sink>)>,
) -> anyhow::Result<Box<dyn Sink>> {
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
    let sink: Box<dyn Sink> = match (mode, args.format) {
        (Mode::Baseline, _) => Box::new(BaselineSink::new(out, fingerprinter)),
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
    if log_sinks.is_empty() {
        return Ok(sink);
    }
    let mut all = log_sinks;
    all.push(("report".to_string(), sink));
    Ok(Box::new(crate::sinks::Fanout::new(all)))
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
