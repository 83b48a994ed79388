//! Builds a proof from a scan's events.
//!
//! `finding` events and top-level `file` events enter (after the project
//! policy, as the report shows them); each file record becomes an entry.
//! The content hash is computed by reading the file a second time here,
//! not from the bytes the scanner read: the scanner reads through
//! decompressors and decoders on worker threads and exposes no raw byte
//! stream, and a second read keeps the proof out of the hot path. The cost
//! (measured in docs/proof.md) is one more sequential read per file, mostly
//! from the page cache. Size and mtime come from the same open file, so
//! they describe the bytes that were hashed; if the file changes between
//! the scan and the hash, the proof describes the later content (the
//! `mtime` says when).

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use hmac::Mac;

use super::{CONTENT_DOMAIN, Counts, Entry, FORMAT, KEY_ID_DOMAIN, Proof, VERSION, hex};
use crate::fingerprint::Fingerprinter;
use crate::project::root::Root;
use crate::report::event::{Event, FileStatus};
use crate::report::names;

/// Collects entries during a scan.
pub struct ProofBuilder {
    root: Root,
    /// Event paths are relative to the root (else as walked).
    relative_paths: bool,
    /// Symbolic links were followed by the scan (`--follow`).
    follow: bool,
    mac: hmac::Hmac<sha2::Sha256>,
    key_id: String,
    fingerprint_key: String,
    pending: HashMap<String, BTreeSet<String>>,
    pending_counts: HashMap<String, u64>,
    entries: Vec<Entry>,
    buf: Vec<u8>,
}

impl ProofBuilder {
    /// A builder hashing with `fp`'s key; `relative_paths` as the scan's
    /// report paths are.
    pub fn new(fp: &Fingerprinter, root: Root, relative_paths: bool, follow: bool) -> ProofBuilder {
        let id = fp.keyed_hasher(KEY_ID_DOMAIN).finalize().into_bytes();
        ProofBuilder {
            root,
            relative_paths,
            follow,
            mac: fp.keyed_hasher(CONTENT_DOMAIN),
            key_id: hex(&id[..8]),
            fingerprint_key: fp.source().kind().to_string(),
            pending: HashMap::new(),
            pending_counts: HashMap::new(),
            entries: Vec::new(),
            buf: vec![0; 256 * 1024],
        }
    }

    /// Observes one event.
    ///
    /// `ev` has paths as walked (escaped, so the file can be found and
    /// hashed); `shown` is the same event as every output shows it (numbers
    /// in names masked): the entry keeps the shown path.
    pub fn observe(&mut self, ev: &Event, shown: &Event) {
        // Entries are keyed and named by the shown (masked) path; only the
        // file on disk is found by the path as walked.
        match (ev, shown) {
            (_, Event::Finding(f)) => {
                self.pending
                    .entry(f.path.clone())
                    .or_default()
                    .insert(format!("{}:{}", f.rule, f.fingerprint));
                *self.pending_counts.entry(f.path.clone()).or_default() += 1;
            }
            (Event::File(f), Event::File(shown_file)) if f.member.is_none() => {
                let ids = self.pending.remove(&shown_file.path).unwrap_or_default();
                let count = self.pending_counts.remove(&shown_file.path).unwrap_or(0);
                let on_disk = if self.relative_paths {
                    self.root.dir().join(names::to_path(&f.path))
                } else {
                    names::to_path(&f.path)
                };
                let mut entry = Entry {
                    path: self.root.relative(&shown_file.path),
                    size: None,
                    mtime: None,
                    content_hmac: None,
                    status: f.status,
                    reason: f.reason.clone(),
                    findings: count,
                    finding_ids: ids.into_iter().collect(),
                };
                if f.path == "<stdin>" {
                    entry
                        .reason
                        .get_or_insert_with(|| "standard input: not hashed".into());
                } else if matches!(f.status, FileStatus::Scanned | FileStatus::Partial) {
                    match self.hash(&on_disk) {
                        Ok((size, mtime, h)) => {
                            entry.size = Some(size);
                            entry.mtime = Some(mtime);
                            entry.content_hmac = Some(h);
                        }
                        Err(e) => {
                            let why = format!("not hashed: {e}");
                            entry.reason = Some(match entry.reason.take() {
                                Some(r) => format!("{r}; {why}"),
                                None => why,
                            });
                        }
                    }
                } else if let Ok(md) = std::fs::symlink_metadata(&on_disk) {
                    entry.size = Some(md.len());
                    entry.mtime = Some(mtime_of(&md));
                }
                self.entries.push(entry);
            }
            _ => {}
        }
    }

    /// Size, mtime and keyed hash of the file at `path`.
    fn hash(&mut self, path: &Path) -> std::io::Result<(u64, String, String)> {
        hash_file(&self.mac, path, self.follow, &mut self.buf)
    }

    /// The proof, unsigned. `header` supplies what the builder does not
    /// see (times, options).
    pub fn finish(mut self, header: Header) -> Proof {
        // Findings without a file record (should not happen): keep them.
        let mut rest: Vec<_> = self.pending.drain().collect();
        rest.sort();
        for (path, ids) in rest {
            let count = self.pending_counts.remove(&path).unwrap_or(0);
            self.entries.push(Entry {
                path: self.root.relative(&path),
                size: None,
                mtime: None,
                content_hmac: None,
                status: FileStatus::Scanned,
                reason: Some("no file record".into()),
                findings: count,
                finding_ids: ids.into_iter().collect(),
            });
        }
        self.entries.sort_by(|a, b| a.path.cmp(&b.path));
        let mut counts = Counts::default();
        for e in &self.entries {
            counts.files += 1;
            counts.findings += e.findings;
            match e.status {
                FileStatus::Scanned => counts.scanned += 1,
                FileStatus::Partial => counts.partial += 1,
                FileStatus::Skipped => counts.skipped += 1,
                FileStatus::Error => counts.error += 1,
            }
        }
        let mut proof = Proof {
            format: FORMAT.into(),
            version: VERSION,
            tool: format!("leakhound {}", env!("CARGO_PKG_VERSION")),
            scan_id: header.scan_id,
            host: header.host,
            started: header.started,
            ended: header.ended,
            rules_version: header.rules_version,
            rules: header.rules,
            root: match self.root.dir().display().to_string() {
                // `.` is normalised away; say it.
                r if r.is_empty() => ".".to_string(),
                r => r,
            },
            options: header.options,
            fingerprint_key: self.fingerprint_key,
            key_id: self.key_id,
            counts,
            entries: self.entries,
            merkle_root: String::new(),
            signature: None,
        };
        proof.merkle_root = proof.compute_root();
        proof
    }
}

/// What the scan knows and the builder does not.
#[derive(Debug, Clone)]
pub struct Header {
    pub scan_id: String,
    pub host: String,
    pub started: String,
    pub ended: String,
    pub rules_version: String,
    pub rules: String,
    pub options: serde_json::Value,
}

/// Size, mtime (of the open file) and the keyed hash of `path`'s content.
pub fn hash_file(
    mac: &hmac::Hmac<sha2::Sha256>,
    path: &Path,
    follow: bool,
    buf: &mut [u8],
) -> std::io::Result<(u64, String, String)> {
    let mut f = crate::scan::open_for_scan(path, follow)
        .map_err(|rec| std::io::Error::other(rec.reason.unwrap_or_else(|| "cannot open".into())))?;
    let md = f.metadata()?;
    if !md.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut mac = mac.clone();
    let mut size = 0u64;
    loop {
        let n = match f.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        mac.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, mtime_of(&md), hex(&mac.finalize().into_bytes())))
}

/// RFC 3339 UTC with nanoseconds, so that a change within a second shows.
pub fn mtime_of(md: &std::fs::Metadata) -> String {
    let t = if md.mtime() >= 0 {
        std::time::UNIX_EPOCH
            + std::time::Duration::new(
                md.mtime() as u64,
                md.mtime_nsec().clamp(0, 999_999_999) as u32,
            )
    } else {
        std::time::UNIX_EPOCH
    };
    humantime::format_rfc3339_nanos(t).to_string()
}
