//! The policy stage: between the scan pipeline and the report sink, on the
//! reporting thread.
//!
//! Findings of a file are held until the file's `file` record arrives (the
//! pipeline sends a file's findings, in offset order, before its record;
//! files scanned in parallel interleave, so they are held per path). Then,
//! for a plain UTF-8 file:
//!
//! - each finding's line is read back with one bounded `pread` around its
//!   offset (4 KiB each side), for `leakhound:allow`; re-reading only the
//!   lines that have findings costs nothing for clean files and keeps the
//!   engine free of policy;
//! - a CSV, TSV, JSON or JSON-lines file is streamed once more up to its
//!   last finding to place each finding in a row and column or a JSON path.
//!
//! Published test numbers (`FindingEvent::test_data`) are listed only
//! when [`Policy::list_test_data`] says so (`--show-test-data`, or
//! `--min-confidence low`); otherwise they still pass (the actions act on
//! them: a test card in a log is masked too) but are counted apart, not in
//! [`Stage::reported`], so they neither show nor fail the run; [`listed`]
//! tells the sink which events to show.
//!
//! [`Stage::reported`] is the scan's one set of finding counts
//! ([`FindingCounts`]): the summary and the exit gate both read it.
//!
//! UTF-16 and binary files, standard input and container members get
//! neither (their offsets are not offsets in a file we can re-read).
//! Memory is the findings of the files in flight.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

use super::baseline::Baseline;
use super::config::ProjectConfig;
use super::inline;
use super::root::Root;
use crate::inputs::STDIN_NAME;
use crate::locate::{self, DataFormat};
use crate::report::counts::FindingCounts;
use crate::report::event::{BaselineSummary, Event, FileEvent, FileStatus, FindingEvent};

/// Bytes read on each side of a finding to find its line.
const LINE_WINDOW: u64 = 4096;

/// What the project has said, resolved for one scan.
#[derive(Debug, Default)]
pub struct Policy {
    pub project: ProjectConfig,
    /// Lower-case fingerprints from `allow.fingerprints`.
    pub allowed: HashSet<String>,
    pub baseline: Option<Baseline>,
    /// Paths are made relative to this root for the baseline, and in the
    /// output when `relative_output` is set.
    pub root: Option<Root>,
    pub relative_output: bool,
    /// The engine that masks numbers in names (`report::names`): a
    /// baseline holds paths as reports print them, masked, so findings are
    /// matched against it masked too. Set when a baseline is in use.
    pub names: Option<crate::engine::Engine>,
    /// List published test numbers (and count them as findings). When
    /// false they are counted in [`Stage::unlisted_test_data`] instead.
    pub list_test_data: bool,
}

/// Whether a finding that passed the stage is shown in the report (the
/// listing rule for published test numbers; see the module doc).
pub fn listed(f: &FindingEvent, list_test_data: bool) -> bool {
    list_test_data || !f.test_data
}

impl Policy {
    pub fn new(project: ProjectConfig, baseline: Option<Baseline>, root: Option<Root>) -> Policy {
        let allowed = project
            .allow
            .fingerprints
            .iter()
            .map(|f| f.to_ascii_lowercase())
            .collect();
        Policy {
            project,
            allowed,
            baseline,
            root,
            relative_output: false,
            names: None,
            list_test_data: true,
        }
    }
}

/// The stage.
#[derive(Debug, Default)]
pub struct Stage {
    policy: Policy,
    pending: HashMap<String, Vec<FindingEvent>>,
    /// What was reported, after the policy: the scan's one set of finding
    /// counts, which the summary states and the exit gate decides on.
    pub reported: FindingCounts,
    /// Suppressed findings by reason.
    pub suppressed: BTreeMap<String, u64>,
    /// Published test numbers passed on for the actions but not listed
    /// (when `Policy::list_test_data` is false).
    pub unlisted_test_data: u64,
    /// Fully scanned files, relative to the root (`path!member`).
    scanned: HashSet<String>,
}

impl Stage {
    pub fn new(policy: Policy) -> Stage {
        Stage {
            policy,
            ..Stage::default()
        }
    }

    /// One event from the pipeline; what passes goes to `out`.
    pub fn push(&mut self, ev: Event, out: &mut dyn FnMut(Event)) {
        match ev {
            Event::Finding(f) => self.pending.entry(f.path.clone()).or_default().push(f),
            // A record of a container member (what inside a file was not
            // fully scanned) comes before the file's own record: it passes.
            Event::File(rec) if rec.member.is_some() => out(Event::File(rec)),
            Event::File(rec) => self.file_done(rec, out),
            other => out(other),
        }
    }

    /// Findings whose file record never came (should not happen): decided
    /// without line or location, so nothing is lost.
    pub fn finish(&mut self, out: &mut dyn FnMut(Event)) {
        let mut rest: Vec<(String, Vec<FindingEvent>)> = self.pending.drain().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, findings) in rest {
            for f in findings {
                if let Some(f) = self.decide(f, None) {
                    out(Event::Finding(f));
                }
            }
        }
    }

    /// The baseline summary, when a baseline is in use.
    pub fn baseline_summary(&self) -> Option<BaselineSummary> {
        let b = self.policy.baseline.as_ref()?;
        let root = self
            .policy
            .root
            .as_ref()
            .map(|r| r.dir().to_path_buf())
            .unwrap_or_default();
        Some(b.summary(&self.scanned, &root))
    }

    fn relative(&self, path: &str) -> String {
        match &self.policy.root {
            Some(r) => r.relative(path),
            None => path.to_string(),
        }
    }

    /// A path and member as a baseline holds them: masked.
    fn masked(&self, path: &str, member: Option<&str>) -> (String, Option<String>) {
        match &self.policy.names {
            Some(e) => (
                crate::report::names::mask_path(e, path),
                member.map(|m| crate::report::names::mask_path(e, m)),
            ),
            None => (path.to_string(), member.map(str::to_string)),
        }
    }

    fn file_done(&mut self, mut rec: FileEvent, out: &mut dyn FnMut(Event)) {
        let mut findings = self.pending.remove(&rec.path).unwrap_or_default();
        let lines = if findings.is_empty() {
            Vec::new()
        } else {
            enrich(&rec, &mut findings)
        };
        let mut kept = 0;
        for (i, f) in findings.into_iter().enumerate() {
            let line = lines.get(i).and_then(|l| l.as_deref());
            if let Some(f) = self.decide(f, line) {
                kept += u64::from(listed(&f, self.policy.list_test_data));
                out(Event::Finding(f));
            }
        }
        rec.findings = kept;
        // Only a baseline's summary asks which files were scanned, and
        // only then or for relative output is the relative path needed (a
        // path relative to the root, and a set of every file scanned, were
        // 9 % of a `--cache` re-scan of 100,000 unchanged files).
        let listed_scanned = rec.status == FileStatus::Scanned && self.policy.baseline.is_some();
        if listed_scanned || self.policy.relative_output {
            let rel = self.relative(&rec.path);
            if listed_scanned {
                let (path, member) = self.masked(&rel, rec.member.as_deref());
                self.scanned
                    .insert(super::baseline::location_of(&path, member.as_deref()));
            }
            if self.policy.relative_output {
                rec.path = rel;
            }
        }
        out(Event::File(rec));
    }

    /// The policy for one finding: `Some` to report it (with the project's
    /// severity and, if asked, a relative path), `None` when suppressed.
    fn decide(&mut self, mut f: FindingEvent, line: Option<&[u8]>) -> Option<FindingEvent> {
        let p = &self.policy;
        if let Some(sev) = p.project.severity_for(&f.rule, &f.kind)
            && !f.test_data
        {
            f.severity = sev;
        }
        let reason = if p.project.rules.disable.contains(&f.rule) {
            Some("rule_disabled")
        } else if p.allowed.contains(&f.fingerprint) {
            Some("allowlist")
        } else if f.test_data && p.project.allow.test_cards {
            Some("test_data")
        } else if line.is_some_and(|l| inline::allows(l, &f.rule, &f.kind)) {
            Some("inline")
        } else {
            None
        };
        let rel = self.relative(&f.path);
        let (probe_path, probe_member) = self.masked(&rel, f.member.as_deref());
        let reason = reason.or_else(|| {
            let b = self.policy.baseline.as_mut()?;
            let mut probe = f.clone();
            probe.path = probe_path;
            probe.member = probe_member;
            b.covers(&probe).then_some("baseline")
        });
        if let Some(r) = reason {
            *self.suppressed.entry(r.to_string()).or_default() += 1;
            return None;
        }
        if self.policy.relative_output {
            f.path = rel;
        }
        if !listed(&f, self.policy.list_test_data) {
            self.unlisted_test_data += 1;
            return Some(f);
        }
        self.reported.add(&f);
        Some(f)
    }
}

/// Adds data locations to the findings of a plain UTF-8 file and returns
/// the line each finding is on (`None` where it cannot be read). Errors
/// reading the file again only leave the extras out: the findings stand.
fn enrich(rec: &FileEvent, findings: &mut [FindingEvent]) -> Vec<Option<Vec<u8>>> {
    let text_start = match rec.encoding.as_deref() {
        Some("utf-8") => 0,
        Some("utf-8-bom") => 3,
        _ => return Vec::new(),
    };
    if rec.member.is_some() || rec.path == STDIN_NAME {
        return Vec::new();
    }
    let Ok(file) = crate::scan::open_for_scan(&crate::report::names::to_path(&rec.path), true)
    else {
        return Vec::new();
    };
    let mut lines: Vec<Option<Vec<u8>>> = Vec::with_capacity(findings.len());
    let mut last: Option<(u64, Vec<u8>)> = None;
    for f in findings.iter() {
        // A number in the file's name is on no line of the file.
        if f.location == crate::report::event::Location::Name {
            lines.push(None);
            continue;
        }
        let line = match (&last, f.line) {
            (Some((n, text)), Some(l)) if *n == l => Some(text.clone()),
            _ => read_line(&file, text_start + f.offset, f.length),
        };
        if let (Some(text), Some(l)) = (&line, f.line) {
            last = Some((l, text.clone()));
        }
        lines.push(line);
    }
    if let Some(format) = DataFormat::from_name(&rec.path) {
        let mut order: Vec<usize> = (0..findings.len())
            .filter(|&i| findings[i].location == crate::report::event::Location::Content)
            .collect();
        order.sort_by_key(|&i| findings[i].offset);
        let offsets: Vec<u64> = order.iter().map(|&i| findings[i].offset).collect();
        let mut reader = BufReader::new(&file);
        if reader.seek(SeekFrom::Start(text_start)).is_ok()
            && let Ok(places) = locate::locate(&mut reader as &mut dyn Read, format, &offsets)
        {
            for (k, place) in places.into_iter().enumerate() {
                findings[order[k]].data_location = place;
            }
        }
    }
    lines
}

/// The line holding bytes `at..at+len` of `file`, cut to `LINE_WINDOW`
/// bytes on either side.
fn read_line(file: &std::fs::File, at: u64, len: u64) -> Option<Vec<u8>> {
    let start = at.saturating_sub(LINE_WINDOW);
    let mut buf = vec![0u8; (at - start + len + LINE_WINDOW) as usize];
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], start + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    buf.truncate(got);
    let at_rel = (at - start) as usize;
    if at_rel > buf.len() {
        return None;
    }
    let begin = memchr::memrchr(b'\n', &buf[..at_rel]).map_or(0, |i| i + 1);
    let end = memchr::memchr(b'\n', &buf[at_rel..]).map_or(buf.len(), |i| at_rel + i);
    Some(buf[begin..end].to_vec())
}
