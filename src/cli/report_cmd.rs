//! `leakhound report`: the HTML audit report from JSON-lines files; and
//! the side outputs of `leakhound scan` (`--report`, `--proof`), which see
//! every event of the run, including the `file` records of fully scanned
//! files that the main report leaves out without `--verbose`.

use std::path::PathBuf;
use std::time::SystemTime;

use clap::Args;

use super::Exit;
use crate::fingerprint::Fingerprinter;
use crate::project::root::Root;
use crate::proof::build::{Header, ProofBuilder};
use crate::report::event::{Envelope, Event, SCHEMA_VERSION, hostname, now_rfc3339, to_json};
use crate::report::html::Report;
use crate::report::meta::MetaReader;
use crate::report::names::{self, Masker};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// JSON-lines event files (`leakhound scan --format jsonl -o FILE`);
    /// several runs make a trend, the latest is shown in detail.
    #[arg(value_name = "EVENTS.jsonl", required = true)]
    pub inputs: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(short = 'o', long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,
}

pub fn run(args: ReportArgs) -> Exit {
    let mut report = Report::new();
    for input in &args.inputs {
        if let Err(e) = report.read_jsonl(input) {
            eprintln!("leakhound: error: {e}");
            return Exit::Error;
        }
    }
    match report.write_to(&args.output, SystemTime::now()) {
        Ok(()) => {
            eprintln!("leakhound: wrote {}", args.output.display());
            Exit::Clean
        }
        Err(e) => {
            eprintln!("leakhound: error: {e}");
            Exit::Error
        }
    }
}

/// What `scan` does besides its report: owner/mtime on file records, the
/// HTML report and the proof.
pub struct SideOutputs {
    meta: MetaReader,
    root: Root,
    relative_paths: bool,
    html: Option<(PathBuf, Report)>,
    proof: Option<(PathBuf, ProofBuilder, Option<PathBuf>)>,
    scan_id: String,
    host: String,
    rules_version: String,
    seq: u64,
}

impl SideOutputs {
    /// Side outputs for a scan with this root and path style; `report`,
    /// `proof` and `signing_key` from the command line.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        fp: &Fingerprinter,
        root: Root,
        relative_paths: bool,
        follow: bool,
        report: Option<PathBuf>,
        proof: Option<PathBuf>,
        signing_key: Option<PathBuf>,
        scan_id: &str,
        rules_version: &str,
    ) -> anyhow::Result<SideOutputs> {
        if signing_key.is_some() && proof.is_none() {
            anyhow::bail!("--signing-key signs a proof: give --proof FILE too");
        }
        if let Some(k) = &signing_key {
            // Fail before the scan, not after an hour of it.
            crate::proof::sign::load_signing_key(k)?;
        }
        Ok(SideOutputs {
            meta: MetaReader::new(),
            html: report.map(|p| (p, Report::new())),
            proof: proof.map(|p| {
                (
                    p,
                    ProofBuilder::new(fp, root.clone(), relative_paths, follow),
                    signing_key,
                )
            }),
            root,
            relative_paths,
            scan_id: scan_id.to_string(),
            host: hostname(),
            rules_version: rules_version.to_string(),
            seq: 0,
        })
    }

    /// Adds owner, group and mtime to a file record of a file on disk,
    /// then shows the event to the report and the proof.
    ///
    /// `ev` carries paths as walked (escaped, not masked: the file must be
    /// found on disk); what the report and the proof keep is masked by
    /// `masker`, like every other output (a number in a name never reaches
    /// them raw).
    pub fn observe(&mut self, ev: &mut Event, masker: &mut Masker<'_>) {
        if let Event::File(f) = ev
            && let Some(meta) = &mut f.meta
        {
            // The scanner's own `fstat` of the file: only the names to add.
            self.meta.name(meta);
        } else if let Event::File(f) = ev
            && f.member.is_none()
            && f.meta.is_none()
            && f.path != "<stdin>"
        {
            let on_disk = if self.relative_paths {
                self.root.dir().join(names::to_path(&f.path))
            } else {
                names::to_path(&f.path)
            };
            f.meta = self.meta.read(&on_disk).map(Box::new);
        }
        if self.proof.is_none() && self.html.is_none() {
            // No side output: nothing to mask (a clone and a mask of every
            // file's record cost 6 % of a `--cache` re-scan).
            return;
        }
        let mut shown = ev.clone();
        masker.mask_event(&mut shown);
        if let Some((_, b, _)) = &mut self.proof {
            b.observe(ev, &shown);
        }
        let ev = &shown;
        if let Some((_, r)) = &mut self.html {
            self.seq += 1;
            // The report reads events as JSON lines have them; these
            // envelopes are its own (the main report's ids are not shared).
            let env = Envelope {
                schema: SCHEMA_VERSION,
                id: format!("{}-r{}", self.scan_id, self.seq),
                time: now_rfc3339(),
                host: self.host.clone(),
                scan_id: self.scan_id.clone(),
                rules_version: self.rules_version.clone(),
            };
            r.push(&to_json(&env, ev));
        }
    }

    /// Writes the report and the proof.
    pub fn finish(self, header: impl FnOnce() -> Header) -> anyhow::Result<()> {
        if let Some((path, r)) = &self.html {
            r.write_to(path, SystemTime::now())?;
        }
        if let Some((path, b, key)) = self.proof {
            let mut proof = b.finish(header());
            if let Some(k) = key {
                let key = crate::proof::sign::load_signing_key(&k)?;
                crate::proof::sign::sign(&mut proof, &key);
            }
            proof.save(&path)?;
        }
        Ok(())
    }
}

/// The proof header's `options`: what decides what was looked at.
/// `exclude` is the effective list: `--exclude` and the project file's.
pub fn proof_options(args: &super::ScanArgs, exclude: &[String]) -> serde_json::Value {
    serde_json::json!({
        "paths": args.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "include": args.include,
        "exclude": exclude,
        "follow": args.follow,
        "min_confidence": format!("{:?}", args.min_confidence).to_lowercase(),
        "since": args.since,
        "baseline": args.baseline.as_ref().map(|p| p.display().to_string()),
        "project_config": !args.no_project_config,
        "rules": args.rules.rules.as_ref().map(|p| p.display().to_string()),
        "action": args.action.map(|a| format!("{a:?}").to_lowercase()),
        "dry_run": args.dry_run,
    })
}

/// The time now, for the proof's `ended`.
pub fn now() -> String {
    now_rfc3339()
}
