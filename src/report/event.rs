//! The event schema: what leakhound tells the world.
//!
//! Every output format and every log sink writes these records. The JSON
//! form is documented in `docs/events.md` and validated against
//! `schema/events.schema.json` by the tests; it is a contract, so fields are
//! only ever added. Records carry only masked values and keyed
//! fingerprints, never a raw number.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::rules::{Confidence, Severity};

/// Version of the event schema, written in every event.
pub const SCHEMA_VERSION: u32 = 1;

/// One finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingEvent {
    pub rule: String,
    pub kind: String,
    pub severity: Severity,
    pub confidence: Confidence,
    pub path: String,
    /// Location inside a container (archive member, mail part); null for a
    /// plain file.
    pub member: Option<String>,
    /// Byte offset in the decoded text of the innermost part (raw bytes for
    /// binary data).
    pub offset: u64,
    /// Length in the same units.
    pub length: u64,
    /// 1-based line, null for binary data.
    pub line: Option<u64>,
    /// 1-based column in Unicode code points, null for binary data.
    pub column: Option<u64>,
    /// The value with hidden characters as `*`.
    pub masked: String,
    /// HMAC-SHA256 of the value, 128 bits in hex.
    pub fingerprint: String,
    /// A published payment-processor test number.
    pub test_data: bool,
    /// Where in a data export (CSV/TSV row and column, JSON path) the
    /// finding sits; null when unknown or not a data export.
    pub data_location: Option<DataLocation>,
    /// In the content, or in the name of the file, directory or member.
    pub location: Location,
}

/// Where a finding was: in what a file holds, or in a name (a file or
/// directory name, an archive member or attachment name). A finding in a
/// name has no line or column; `offset` and `length` are bytes of the last
/// name of `member` (or of `path` when `member` is null).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// In the text or bytes of the file or member.
    #[default]
    Content,
    /// In its name.
    Name,
}

/// Where a finding sits in a data export: a CSV/TSV row and column, or a
/// JSON path. Filled in after the scan for plain files with findings.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DataLocation {
    /// CSV/TSV: the 1-based data row (the header row not counted).
    /// JSON lines: the 1-based line of the document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// CSV/TSV: the 1-based field number in the row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<u64>,
    /// CSV/TSV: the name of the column, from the header row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column_name: Option<String>,
    /// JSON, JSON lines: the path of the value (`$.orders[3].payment.pan`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
}

/// How much of a file was looked at.
#[derive(
    Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash,
)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Read to the end.
    Scanned,
    /// Read in part: `reason` says what was not.
    Partial,
    /// Not read, on purpose: `reason` says why.
    Skipped,
    /// Could not be read: `reason` says why.
    Error,
}

impl FileStatus {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Scanned => "scanned",
            FileStatus::Partial => "partial",
            FileStatus::Skipped => "skipped",
            FileStatus::Error => "error",
        }
    }
}

/// What happened to one file (or container member).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileEvent {
    pub path: String,
    pub member: Option<String>,
    pub status: FileStatus,
    /// Why the file was not fully scanned, and what to do about it.
    pub reason: Option<String>,
    /// Bytes read.
    pub bytes: u64,
    /// `utf-8`, `utf-16le`, `binary` ... when the file was read.
    pub encoding: Option<String>,
    /// Findings in this file.
    pub findings: u64,
    /// Owner, group and modification time of a file on disk, read when the
    /// file was scanned (absent for standard input and container members).
    /// Boxed: most records have none, and `FileEvent` travels in `Result`s.
    #[serde(flatten)]
    pub meta: Option<Box<FileMeta>>,
}

/// Who owns a file and when it last changed, as seen at scan time: the
/// audit report groups findings by owner and by age from these.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FileMeta {
    pub owner: Principal,
    pub group: Principal,
    /// Modification time, RFC 3339 UTC.
    pub mtime: String,
}

/// A user or group: its number and, when the system knows it, its name at
/// scan time (names change; the number is what the file holds).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Principal {
    pub id: u32,
    pub name: Option<String>,
}

/// Files by status.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FileCounts {
    pub total: u64,
    pub scanned: u64,
    pub partial: u64,
    pub skipped: u64,
    pub error: u64,
}

impl FileCounts {
    /// Counts one file.
    pub fn add(&mut self, status: FileStatus) {
        self.total += 1;
        match status {
            FileStatus::Scanned => self.scanned += 1,
            FileStatus::Partial => self.partial += 1,
            FileStatus::Skipped => self.skipped += 1,
            FileStatus::Error => self.error += 1,
        }
    }

    /// Files that were not read to the end because of a problem.
    pub fn incomplete(&self) -> u64 {
        self.partial + self.error
    }
}

/// The end of a scan.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SummaryEvent {
    /// When the scan started (RFC 3339).
    pub started: String,
    pub duration_ms: u64,
    pub files: FileCounts,
    /// Files left out by `--include`/`--exclude`.
    pub excluded: u64,
    pub bytes: u64,
    /// Bytes per second over the whole run.
    pub bytes_per_second: u64,
    pub findings: u64,
    pub findings_by_kind: BTreeMap<String, u64>,
    pub findings_by_severity: BTreeMap<String, u64>,
    pub test_data_findings: u64,
    /// `file`, `env`, `local` or `ephemeral`.
    pub fingerprint_key: String,
    pub rules: String,
    /// `clean`, `findings`, `incomplete` or `error`.
    pub result: String,
    pub exit_code: i32,
    /// Findings not reported because of the project policy, by reason:
    /// `rule_disabled`, `allowlist`, `test_data`, `inline`, `baseline`.
    pub suppressed: BTreeMap<String, u64>,
    /// With `--baseline`: how the baseline matched this scan.
    pub baseline: Option<BaselineSummary>,
    /// Actions taken (`redacted`, `quarantined`, `skipped`) -> count;
    /// absent when the scan acted on nothing.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub actions: BTreeMap<String, u64>,
    /// Findings below `--min-confidence`: counted, not listed, and not
    /// failing the run; absent when there were none.
    #[serde(skip_serializing_if = "is_zero")]
    pub below_confidence: u64,
    /// Published test numbers (test cards, textbook SSNs) found but not
    /// listed, at the default (`--show-test-data` or `--min-confidence
    /// low` lists them); they do not fail the run; absent when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub test_data_not_listed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One finding recorded in a baseline: rule, keyed fingerprint and the
/// path relative to the scan root (no line: editing a file does not
/// resurrect what is baselined).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BaselineEntry {
    pub rule: String,
    pub fingerprint: String,
    pub path: String,
}

/// How a baseline matched a scan.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct BaselineSummary {
    /// The baseline file.
    pub file: String,
    /// Entries in the baseline.
    pub entries: u64,
    /// Findings the baseline suppressed.
    pub matched: u64,
    /// Entries for files scanned in this run that matched nothing: prune
    /// them (`leakhound baseline create` again).
    pub stale: Vec<BaselineEntry>,
}

/// What was done to a file because of its findings (`docs/actions.md`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ActionEvent {
    pub path: String,
    /// Always null: actions apply to whole files.
    pub member: Option<String>,
    /// What was done (serialised as `redacted`, `quarantined` ...).
    pub action: ActionTaken,
    /// Nothing was changed: this is what would have happened.
    pub dry_run: bool,
    /// Why the action was skipped, or what it fell back from.
    pub reason: Option<String>,
    /// The quarantine id, for `quarantined` and `restored`.
    pub quarantine_id: Option<String>,
    /// Findings the action dealt with.
    pub findings: u64,
    /// Ids of the rules involved, sorted.
    pub rules: Vec<String>,
}

/// The `action` of an [`ActionEvent`]: serialised as the lowercase word
/// (`schema/events.schema.json` lists the same values).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ActionTaken {
    Redacted,
    Quarantined,
    Restored,
    /// FPE tokens turned back into numbers (`leakhound reveal`).
    Revealed,
    Skipped,
    Failed,
}

impl ActionTaken {
    /// The word written in events (the same as serde's).
    pub const fn as_str(self) -> &'static str {
        match self {
            ActionTaken::Redacted => "redacted",
            ActionTaken::Quarantined => "quarantined",
            ActionTaken::Restored => "restored",
            ActionTaken::Revealed => "revealed",
            ActionTaken::Skipped => "skipped",
            ActionTaken::Failed => "failed",
        }
    }
}

impl std::fmt::Display for ActionTaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with the word written in events, so code and tests that read
/// events as words (`ev.action == "skipped"`) keep reading the same.
impl PartialEq<&str> for ActionTaken {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An unknown action word.
#[derive(Debug, thiserror::Error)]
#[error("unknown action {0:?}")]
pub struct UnknownAction(String);

impl std::str::FromStr for ActionTaken {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ActionTaken::Redacted,
            ActionTaken::Quarantined,
            ActionTaken::Restored,
            ActionTaken::Revealed,
            ActionTaken::Skipped,
            ActionTaken::Failed,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
        .ok_or_else(|| UnknownAction(s.to_string()))
    }
}

/// The start of a scan (its end is the `summary` event).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ScanEvent {
    /// Always `start`: the end of a scan is reported as `summary`, which
    /// predates this event and keeps its name for compatibility.
    pub phase: String,
    /// The roots as given (`-` for standard input).
    pub paths: Vec<String>,
    /// `built-in` or the rules directory.
    pub rules: String,
}

/// What happened to the daemon.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    Started,
    Reloaded,
    Stopped,
    Error,
}

/// The daemon (or a sink) reports on itself: started, reloaded, stopped,
/// or an error an operator must see in the central log.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServiceEvent {
    pub state: ServiceState,
    /// What happened, for people; never holds a found value.
    pub message: String,
}

/// Any event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Finding(FindingEvent),
    File(FileEvent),
    Summary(SummaryEvent),
    Action(ActionEvent),
    Scan(ScanEvent),
    Service(ServiceEvent),
}

impl Event {
    /// The `type` field.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::Finding(_) => "finding",
            Event::File(_) => "file",
            Event::Summary(_) => "summary",
            Event::Action(_) => "action",
            Event::Scan(_) => "scan",
            Event::Service(_) => "service",
        }
    }
}

/// Fields every serialized event carries.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    pub schema: u32,
    /// Unique per event: the scan id and a sequence number.
    pub id: String,
    pub time: String,
    pub host: String,
    pub scan_id: String,
    pub rules_version: String,
}

/// Stamps events with envelopes.
#[derive(Debug, Clone)]
pub struct Stamper {
    scan_id: String,
    host: String,
    rules_version: String,
    seq: u64,
}

impl Stamper {
    /// A stamper for one scan.
    pub fn new(rules_version: &str) -> Stamper {
        let mut id = [0u8; 8];
        let _ = getrandom::fill(&mut id);
        Stamper {
            scan_id: id.iter().map(|b| format!("{b:02x}")).collect(),
            host: hostname(),
            rules_version: rules_version.to_string(),
            seq: 0,
        }
    }

    /// The id of this scan.
    pub fn scan_id(&self) -> &str {
        &self.scan_id
    }

    /// The next envelope.
    pub fn stamp(&mut self) -> Envelope {
        self.seq += 1;
        Envelope {
            schema: SCHEMA_VERSION,
            id: format!("{}-{}", self.scan_id, self.seq),
            time: now_rfc3339(),
            host: self.host.clone(),
            scan_id: self.scan_id.clone(),
            rules_version: self.rules_version.clone(),
        }
    }
}

/// The current time as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// This machine's host name.
pub fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// Serializes an event with its envelope as one JSON object.
pub fn to_json(env: &Envelope, ev: &Event) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    obj.insert("type".into(), ev.type_name().into());
    if let serde_json::Value::Object(m) = serde_json::to_value(env).unwrap_or_default() {
        obj.extend(m);
    }
    let body = match ev {
        Event::Finding(f) => serde_json::to_value(f),
        Event::File(f) => serde_json::to_value(f),
        Event::Summary(s) => serde_json::to_value(s),
        Event::Action(a) => serde_json::to_value(a),
        Event::Scan(s) => serde_json::to_value(s),
        Event::Service(s) => serde_json::to_value(s),
    };
    if let Ok(serde_json::Value::Object(m)) = body {
        obj.extend(m);
    }
    // A name that is not printable UTF-8 is carried escaped (`caf\xE9`,
    // see `names`); the exact bytes go beside it for consumers that must
    // find the file.
    if let Some(serde_json::Value::String(p)) = obj.get("path")
        && p.contains('\\')
    {
        let raw = super::names::unescape(p);
        if super::names::needs_escape(&raw) {
            let b64 = super::names::base64(&raw);
            obj.insert("path_bytes".into(), b64.into());
        }
    }
    serde_json::Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::ActionTaken;

    const ALL: [ActionTaken; 6] = [
        ActionTaken::Redacted,
        ActionTaken::Quarantined,
        ActionTaken::Restored,
        ActionTaken::Revealed,
        ActionTaken::Skipped,
        ActionTaken::Failed,
    ];

    /// Issue 19: `ActionEvent.action` was a `String` built from literals in
    /// four modules. As an enum it must still write today's words, and
    /// those the event schema lists, no more and no fewer.
    #[test]
    fn d19_action_enum_serialises_to_the_schema_words() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../schema/events.schema.json")).unwrap();
        let listed: Vec<&str> = schema["$defs"]["action"]["properties"]["action"]["enum"]
            .as_array()
            .expect("the schema lists the actions")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let ours: Vec<&str> = ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(ours, listed);
        for a in ALL {
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::Value::from(a.as_str())
            );
            assert_eq!(a.to_string(), a.as_str());
            assert!(a == a.as_str());
            assert_eq!(a.as_str().parse::<ActionTaken>().unwrap(), a);
        }
        assert!("done".parse::<ActionTaken>().is_err());
    }
}
