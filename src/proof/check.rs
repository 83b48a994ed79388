//! Checking proofs: `leakhound verify` (is this proof intact, who signed
//! it, and what changed on disk since) and `leakhound diff` (what changed
//! between two scans).
//!
//! Proofs enter as parsed [`Proof`]s; plain data leaves ([`Verification`],
//! [`Changes`], [`ProofDiff`]) for the command to print.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use hmac::Mac;

use super::sign::{self, SignatureCheck};
use super::{CONTENT_DOMAIN, KEY_ID_DOMAIN, Proof, hex};
use crate::fingerprint::Fingerprinter;
use crate::report::names;

/// What verifying a proof's integrity found.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The Merkle root recomputed from the entries matches the recorded one.
    pub root_ok: bool,
    /// Entries are in path order (a reordering is caught even when the root
    /// was recomputed by whoever reordered them).
    pub order_ok: bool,
    /// The counts agree with the entries.
    pub counts_ok: bool,
    pub signature: SignatureCheck,
}

impl Verification {
    /// The proof can be trusted as written (given the signature check).
    pub fn valid(&self) -> bool {
        self.root_ok
            && self.order_ok
            && self.counts_ok
            && !matches!(self.signature, SignatureCheck::Invalid(_))
    }

    /// Why it is invalid, one line per reason.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.root_ok {
            out.push(
                "the Merkle root does not match the entries: an entry was changed, added, dropped or reordered"
                    .to_string(),
            );
        }
        if !self.order_ok {
            out.push("the entries are not in path order: they were reordered".to_string());
        }
        if !self.counts_ok {
            out.push("the counts do not match the entries".to_string());
        }
        if let SignatureCheck::Invalid(why) = &self.signature {
            out.push(format!("bad signature: {why}"));
        }
        out
    }
}

/// Checks root, order, counts and signature.
pub fn verify(proof: &Proof, public_key: Option<&VerifyingKey>) -> Verification {
    let order_ok = proof.entries.windows(2).all(|w| w[0].path <= w[1].path);
    let mut c = super::Counts::default();
    for e in &proof.entries {
        c.files += 1;
        c.findings += e.findings;
        match e.status {
            crate::report::event::FileStatus::Scanned => c.scanned += 1,
            crate::report::event::FileStatus::Partial => c.partial += 1,
            crate::report::event::FileStatus::Skipped => c.skipped += 1,
            crate::report::event::FileStatus::Error => c.error += 1,
        }
    }
    Verification {
        root_ok: proof.compute_root() == proof.merkle_root,
        order_ok,
        counts_ok: c == proof.counts,
        signature: sign::check(proof, public_key),
    }
}

/// The key id of `fp`'s key, as proofs record it.
pub fn key_id(fp: &Fingerprinter) -> String {
    hex(&fp.keyed_hasher(KEY_ID_DOMAIN).finalize().into_bytes()[..8])
}

/// How the files on disk differ from a proof.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// On disk, not in the proof.
    pub new: Vec<String>,
    /// Content differs from the hash in the proof.
    pub changed: Vec<String>,
    /// In the proof, not on disk.
    pub gone: Vec<String>,
    /// Hashed again and equal.
    pub unchanged: u64,
    /// In the proof without a hash (not read at scan time), still there:
    /// cannot be compared.
    pub unhashed: Vec<String>,
}

impl Changes {
    pub fn any(&self) -> bool {
        !(self.new.is_empty() && self.changed.is_empty() && self.gone.is_empty())
    }
}

/// A problem comparing with the disk.
#[derive(Debug, thiserror::Error)]
pub enum AgainstError {
    #[error(
        "the proof's content hashes were made with another fingerprint key (key id {proof}, \
         this key {ours}): give the same key (--fingerprint-key-file or LEAKHOUND_FINGERPRINT_KEY)"
    )]
    OtherKey { proof: String, ours: String },
    #[error("cannot walk {path}: {message}")]
    Walk { path: String, message: String },
    #[error("the proof's include/exclude globs do not compile: {0}")]
    Globs(#[from] crate::inputs::GlobError),
}

/// Hashes the files under `dir` again and compares them with `proof`
/// (entry paths are relative to the scan root; `dir` stands for it).
pub fn against(proof: &Proof, dir: &Path, fp: &Fingerprinter) -> Result<Changes, AgainstError> {
    let ours = key_id(fp);
    if ours != proof.key_id {
        return Err(AgainstError::OtherKey {
            proof: proof.key_id.clone(),
            ours,
        });
    }
    let mac = fp.keyed_hasher(CONTENT_DOMAIN);
    // Files the scan left out on purpose are not "new".
    let globs = |k: &str| -> Vec<String> {
        proof.options[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|g| g.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let filter = crate::inputs::PathFilter::new(&globs("include"), &globs("exclude"))?;
    // Keyed by the path as a proof shows it (escaped, numbers in names
    // masked, as every output shows it), so a file whose name holds a
    // number is matched, and a new one is listed masked; the value is the
    // real relative path, to hash the file.
    let shown = |rel: &Path| names::mask_path(names::builtin_engine(), &names::escape_path(rel));
    let mut on_disk: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    let single_file = dir.is_file();
    if single_file {
        if let Some(n) = dir.file_name() {
            on_disk.insert(shown(Path::new(n)), PathBuf::from(n));
        }
    } else {
        let walk = walkdir::WalkDir::new(dir)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| {
                !e.file_type().is_dir()
                    || e.path()
                        .strip_prefix(dir)
                        .is_ok_and(|rel| !filter.prune_dir(rel))
            });
        for e in walk {
            let e = e.map_err(|e| AgainstError::Walk {
                path: dir.display().to_string(),
                message: e.to_string(),
            })?;
            if e.file_type().is_dir() {
                // A finding in a directory's name is an entry of its own
                // (no file record): the directory being there is enough.
                if let Ok(rel) = e.path().strip_prefix(dir) {
                    dirs.insert(shown(rel));
                }
                continue;
            }
            if let Ok(rel) = e.path().strip_prefix(dir)
                && filter.wants_file(rel)
            {
                on_disk.insert(shown(rel), rel.to_path_buf());
            }
        }
    }
    let resolve = |rel: &Path| {
        if single_file {
            dir.to_path_buf()
        } else {
            dir.join(rel)
        }
    };
    let mut ch = Changes::default();
    let mut buf = vec![0u8; 256 * 1024];
    let mut in_proof = BTreeSet::new();
    for e in &proof.entries {
        in_proof.insert(e.path.clone());
        let Some(real) = on_disk.get(&e.path) else {
            if !dirs.contains(&e.path) {
                ch.gone.push(e.path.clone());
            }
            continue;
        };
        match &e.content_hmac {
            None => ch.unhashed.push(e.path.clone()),
            Some(h) => match super::build::hash_file(&mac, &resolve(real), false, &mut buf) {
                Ok((_, _, now)) if &now == h => ch.unchanged += 1,
                _ => ch.changed.push(e.path.clone()),
            },
        }
    }
    ch.new = on_disk
        .keys()
        .filter(|k| !in_proof.contains(*k))
        .cloned()
        .collect();
    Ok(ch)
}

/// What changed between two proofs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProofDiff {
    /// `(path, rule:fingerprint)` in the new proof only.
    pub new_findings: Vec<(String, String)>,
    /// In the old proof only.
    pub resolved_findings: Vec<(String, String)>,
    pub appeared: Vec<String>,
    pub disappeared: Vec<String>,
    /// Content hash differs (same key), else size or mtime differs.
    pub changed: Vec<String>,
    /// The two proofs used different fingerprint keys: finding ids and
    /// hashes cannot be compared, only paths, sizes and times.
    pub keys_differ: bool,
}

/// Compares `old` with `new`.
pub fn diff(old: &Proof, new: &Proof) -> ProofDiff {
    let keys_differ = old.key_id != new.key_id;
    let o: BTreeMap<&str, &super::Entry> =
        old.entries.iter().map(|e| (e.path.as_str(), e)).collect();
    let n: BTreeMap<&str, &super::Entry> =
        new.entries.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut d = ProofDiff {
        keys_differ,
        ..ProofDiff::default()
    };
    for (p, ne) in &n {
        match o.get(p) {
            None => d.appeared.push(p.to_string()),
            Some(oe) => {
                let differs =
                    if keys_differ || oe.content_hmac.is_none() || ne.content_hmac.is_none() {
                        oe.size != ne.size || oe.mtime != ne.mtime
                    } else {
                        oe.content_hmac != ne.content_hmac
                    };
                if differs {
                    d.changed.push(p.to_string());
                }
            }
        }
    }
    for p in o.keys() {
        if !n.contains_key(p) {
            d.disappeared.push(p.to_string());
        }
    }
    let ids = |m: &BTreeMap<&str, &super::Entry>| -> BTreeSet<(String, String)> {
        m.iter()
            .flat_map(|(p, e)| {
                e.finding_ids
                    .iter()
                    .map(move |i| (p.to_string(), i.clone()))
            })
            .collect()
    };
    if !keys_differ {
        let (oi, ni) = (ids(&o), ids(&n));
        d.new_findings = ni.difference(&oi).cloned().collect();
        d.resolved_findings = oi.difference(&ni).cloned().collect();
    }
    d
}
