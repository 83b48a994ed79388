//! Actions on files with findings: report, redact in place, quarantine.
//!
//! A file's findings enter [`Actor::act`] (from `leakhound scan` once the
//! file's record arrives, or from the daemon); one [`ActionEvent`] leaves,
//! saying what was done (`redacted`, `quarantined`) or why nothing was
//! (`skipped` or `failed`, with the reason; [`ActionOutcome`] tells the
//! daemon what to retry). The policy (`config::policy`) or the
//! command line decides the action; [`safe_fs`] opens the file from a scan
//! root without following links; [`redact`] and [`quarantine`] change it
//! as journaled, crash-safe sequences; [`journal`] and
//! [`quarantine::Store::recover`] finish or undo what a crash interrupted,
//! and run before any action. [`fault`] lets the tests kill the process at
//! each step. See `docs/actions.md`.
//!
//! Nothing here ever writes a raw number outside the quarantine store: the
//! events, the manifest and the tombstones carry masked values and
//! fingerprints only, and redaction keeps no clear-text backup.

pub mod fault;
pub mod filter;
pub mod fpe;
pub mod in_use;
pub mod journal;
pub mod mail;
pub mod quarantine;
pub mod redact;
pub mod redact_html;
pub mod safe_fs;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::config::policy::{ActionKind, Fallback, Policy};
use crate::engine::Engine;
use crate::fingerprint::Fingerprinter;
use crate::inputs::STDIN_NAME;
use crate::report::event::{ActionEvent, ActionTaken, FindingEvent};
use crate::rules::{Confidence, Severity};

use journal::Journal;
use quarantine::{Store, StoreError};
use redact::{RedactCtx, RefusalKind, Refused};
use safe_fs::Target;

/// Everything an [`Actor`] needs to know, resolved from the config file
/// and the command line.
#[derive(Debug, Clone)]
pub struct ActionSettings {
    pub policy: Policy,
    /// `--action`: this action for every finding, whatever the policy says.
    pub force: Option<ActionKind>,
    /// Decide and report, change nothing.
    pub dry_run: bool,
    /// Actions only touch files under these.
    pub roots: Vec<PathBuf>,
    /// The quarantine store.
    pub quarantine_dir: PathBuf,
    /// Where the redaction journal lives (`<state_dir>/journal`).
    pub journal_dir: PathBuf,
    /// Findings below this confidence are not acted on (as in the scan).
    pub min_confidence: Confidence,
}

/// What an action came to, for callers that must tell apart what is done,
/// what is left on purpose, and what should be tried again (the daemon
/// keeps `InUse` and `Failed` files due).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionOutcome {
    /// Redacted or quarantined (or would be, in a dry run).
    Done,
    /// Left as it is on purpose (a link, hard links, outside the roots,
    /// changed since the scan, `policy.fallback: report`): event `skipped`.
    Skipped,
    /// Another process has the file open for writing: event `skipped`
    /// with the reason; the file is still due.
    InUse,
    /// The action was attempted and failed (no space, a read-only file
    /// system, an immutable file, a store that cannot be opened, no way to
    /// tell whether another process writes the file): event `failed`;
    /// `leakhound scan` exits 4.
    Failed,
}

impl ActionOutcome {
    /// The event's `action` when an action failed.
    pub const FAILED: &'static str = ActionTaken::Failed.as_str();

    /// The event's `action` for an outcome other than `Done`.
    fn event_action(self) -> ActionTaken {
        match self {
            ActionOutcome::Failed => ActionTaken::Failed,
            _ => ActionTaken::Skipped,
        }
    }
}

/// Applies the policy to files.
pub struct Actor<'a> {
    engine: &'a Engine,
    fingerprinter: &'a Fingerprinter,
    settings: ActionSettings,
    journal: Journal,
    /// Opened on the first quarantine, so a redact-only run needs no store.
    store: RefCell<Option<Store>>,
    /// The key of `policy.redact.style: fpe`, or why it cannot be used
    /// (each fpe redaction then fails with that reason).
    fpe: Result<Option<fpe::FpeKey>, fpe::FpeError>,
}

impl<'a> Actor<'a> {
    /// An actor; recovers any action a crash interrupted (unless this is a
    /// dry run, which changes nothing). Does not fail any more: a journal
    /// or store that cannot be used makes each action that needs it
    /// `failed` (the `Result` is kept for the callers).
    pub fn new(
        engine: &'a Engine,
        fingerprinter: &'a Fingerprinter,
        settings: ActionSettings,
    ) -> Result<Actor<'a>, StoreError> {
        let journal = Journal::new(settings.journal_dir.clone());
        let mut store = None;
        // Neither failure stops the scan: findings are reported whatever
        // happens to actions. A store that cannot be opened now is tried
        // again at each quarantine, whose event then says `failed` and why.
        if !settings.dry_run {
            if let Err(e) = journal.recover() {
                tracing::warn!(
                    "cannot recover the redaction journal in {}: {e} (left for the next run)",
                    settings.journal_dir.display()
                );
            }
            if settings.quarantine_dir.join("manifest.db").exists() {
                store = Store::open(&settings.quarantine_dir).ok();
            }
        }
        let redact = &settings.policy.redact;
        let fpe = match redact.style {
            // The journal lives in the state directory, beside fpe.key.age.
            crate::config::policy::RedactStyle::Fpe => fpe::FpeKey::resolve(
                redact.fpe_key_file.as_deref(),
                redact.fpe_identity_file.as_deref(),
                settings.journal_dir.parent(),
            )
            .and_then(|k| k.map(Some).ok_or(fpe::FpeError::NotConfigured)),
            _ => Ok(None),
        };
        Ok(Actor {
            engine,
            fingerprinter,
            settings,
            journal,
            store: RefCell::new(store),
            fpe,
        })
    }

    /// The action one finding asks for.
    pub fn action_for(&self, rule: &str, severity: Severity, path: &str) -> ActionKind {
        self.settings
            .force
            .unwrap_or_else(|| self.settings.policy.action_for(rule, severity, path))
    }

    /// The action a file gets: the strongest its findings ask for.
    pub fn decide(&self, findings: &[FindingEvent]) -> ActionKind {
        findings
            .iter()
            .filter(|f| f.confidence >= self.settings.min_confidence)
            .map(|f| self.action_for(&f.rule, f.severity, &f.path))
            .max()
            .unwrap_or(ActionKind::Report)
    }

    /// Acts on one file given the findings the scan reported for it.
    /// `None` when the policy says to report only. `file` is the path as
    /// bytes (a name need not be UTF-8).
    pub fn act(&self, file: &Path, findings: &[FindingEvent]) -> Option<ActionEvent> {
        self.act_outcome(file, findings).map(|(ev, _)| ev)
    }

    /// As [`Actor::act`], with what the action came to.
    pub fn act_outcome(
        &self,
        file: &Path,
        findings: &[FindingEvent],
    ) -> Option<(ActionEvent, ActionOutcome)> {
        let kind = self.decide(findings);
        if kind == ActionKind::Report {
            return None;
        }
        let shown = crate::report::names::escape_path(file);
        let path = shown.as_str();
        let rules: BTreeSet<String> = findings
            .iter()
            .filter(|f| self.action_for(&f.rule, f.severity, path) >= ActionKind::Redact)
            .map(|f| f.rule.clone())
            .collect();
        let mut ev = ActionEvent {
            path: path.to_string(),
            member: None,
            action: ActionTaken::Skipped,
            dry_run: self.settings.dry_run,
            reason: None,
            quarantine_id: None,
            findings: findings.len() as u64,
            rules: rules.into_iter().collect(),
        };
        if kind == ActionKind::Redact
            && findings
                .iter()
                .all(|f| f.location == crate::report::event::Location::Name)
        {
            ev.reason = Some(
                "the number is in the file's name: redaction changes what a file holds, \
                 not its name (rename the file, or quarantine it)"
                    .to_string(),
            );
            return Some((ev, ActionOutcome::Skipped));
        }
        if path == STDIN_NAME {
            ev.reason = Some("standard input cannot be redacted or quarantined".to_string());
            return Some((ev, ActionOutcome::Skipped));
        }
        let mut target = match safe_fs::open_target(
            &self.settings.roots,
            file,
            self.settings.policy.allow_hardlinks,
        ) {
            Ok(t) => t,
            Err(reason) => {
                ev.reason = Some(reason.to_string());
                return Some((ev, ActionOutcome::Skipped));
            }
        };
        match kind {
            ActionKind::Report => None,
            ActionKind::Quarantine => Some(self.quarantine(&target, ev, None)),
            ActionKind::Redact => {
                let wants = |rule: &str, sev: Severity| {
                    self.action_for(rule, sev, path) >= ActionKind::Redact
                };
                let fpe = match &self.fpe {
                    Ok(key) => key.as_ref(),
                    Err(reason) => {
                        ev.action = ActionOutcome::Failed.event_action();
                        ev.reason = Some(reason.to_string());
                        return Some((ev, ActionOutcome::Failed));
                    }
                };
                let ctx = RedactCtx {
                    engine: self.engine,
                    fingerprinter: self.fingerprinter,
                    options: &self.settings.policy.redact,
                    min_confidence: self.settings.min_confidence,
                    wants: &wants,
                    fpe,
                };
                match redact::redact_file(&ctx, &mut target, &self.journal, self.settings.dry_run) {
                    Ok(r) => {
                        ev.action = ActionTaken::Redacted;
                        ev.findings = r.findings;
                        ev.rules = r.rules.into_iter().collect();
                        Some((ev, ActionOutcome::Done))
                    }
                    Err(Refused {
                        reason,
                        kind: RefusalKind::FallBack,
                    }) => Some(self.fall_back(&target, ev, reason)),
                    Err(Refused { reason, kind }) => {
                        let outcome = match kind {
                            RefusalKind::InUse => ActionOutcome::InUse,
                            RefusalKind::Failed => ActionOutcome::Failed,
                            RefusalKind::Skip | RefusalKind::FallBack => ActionOutcome::Skipped,
                        };
                        ev.action = outcome.event_action();
                        ev.reason = Some(reason);
                        Some((ev, outcome))
                    }
                }
            }
        }
    }

    /// A file that should be redacted but cannot be: quarantine or report,
    /// as the policy says, and say so.
    fn fall_back(
        &self,
        target: &Target,
        mut ev: ActionEvent,
        why: String,
    ) -> (ActionEvent, ActionOutcome) {
        match self.settings.policy.fallback {
            Fallback::Quarantine => self.quarantine(
                target,
                ev,
                Some(format!("cannot be redacted ({why}): quarantined instead")),
            ),
            Fallback::Report => {
                ev.reason = Some(format!(
                    "cannot be redacted ({why}); policy.fallback is report: left as it is"
                ));
                (ev, ActionOutcome::Skipped)
            }
        }
    }

    fn quarantine(
        &self,
        target: &Target,
        mut ev: ActionEvent,
        note: Option<String>,
    ) -> (ActionEvent, ActionOutcome) {
        if self.settings.dry_run {
            // Predict the real run: a store it would refuse is refused here.
            if let Err(e) = Store::check(&self.settings.quarantine_dir) {
                ev.action = ActionOutcome::Failed.event_action();
                ev.reason = Some(e.to_string());
                return (ev, ActionOutcome::Failed);
            }
            ev.action = ActionTaken::Quarantined;
            ev.reason = note;
            return (ev, ActionOutcome::Done);
        }
        let failed = |mut ev: ActionEvent, reason: String| {
            ev.action = ActionOutcome::Failed.event_action();
            ev.reason = Some(reason);
            (ev, ActionOutcome::Failed)
        };
        let mut slot = self.store.borrow_mut();
        if slot.is_none() {
            match Store::open(&self.settings.quarantine_dir) {
                Ok(s) => *slot = Some(s),
                Err(e) => return failed(ev, e.to_string()),
            }
        }
        let Some(store) = slot.as_ref() else {
            return failed(ev, "the quarantine store is not open".to_string());
        };
        let q = &self.settings.policy.quarantine;
        let tombstone = q.tombstone.then(|| {
            // The id is only known inside; the text is completed there.
            q.contact.clone()
        });
        match store.quarantine(
            target,
            self.engine,
            self.fingerprinter,
            self.settings.min_confidence,
            tombstone.as_deref(),
            &q.age_recipients(),
        ) {
            Ok(done) => {
                ev.action = ActionTaken::Quarantined;
                ev.quarantine_id = Some(done.id);
                ev.findings = done.findings.len() as u64;
                ev.reason = note;
                (ev, ActionOutcome::Done)
            }
            // The store's errors do not tell a refusal for safety from an
            // I/O failure (`StoreError::Refused` carries both): every one is
            // `failed`, so that a person looks rather than a file staying
            // unquarantined unnoticed.
            Err(e) => failed(ev, e.to_string()),
        }
    }
}
