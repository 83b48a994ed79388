//! Proof of scan: a signed manifest of what one run of `leakhound scan`
//! looked at and found, that anybody holding the public key can check and
//! that can be compared with a later run.
//!
//! Events enter from the scan ([`build::ProofBuilder`] observes every
//! `finding` and top-level `file` event and hashes each file it names); a
//! [`Proof`] leaves as one JSON document (`scan --proof FILE`). [`check`]
//! verifies one (signature, Merkle root, and optionally the files on disk
//! again) and compares two. The exact construction is in docs/proof.md:
//!
//! - each entry is one file: path (relative to the scan root, as reported),
//!   size, mtime, a **keyed** content hash (HMAC-SHA256 under the
//!   fingerprint key: a plain hash of a small file can be brute-forced back
//!   to its content, see docs/actions.md), status and reason, and the
//!   findings as `rule:fingerprint` ids (keyed too; no value, not even
//!   masked);
//! - leaf = SHA-256(0x00 || canonical JSON of the entry), node =
//!   SHA-256(0x01 || left || right), as RFC 6962 ([`merkle`]);
//! - the signature is Ed25519 over `leakhound-proof-v1\n` followed by the
//!   canonical JSON of the whole document without its `signature` ([`sign`]).

pub mod build;
pub mod check;
pub mod merkle;
pub mod sign;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::report::event::FileStatus;

/// The `format` of a proof document.
pub const FORMAT: &str = "leakhound-proof";
/// The version of the construction; raised if any hashed byte changes meaning.
pub const VERSION: u32 = 1;
/// What the signature covers starts with this, so that a signature over a
/// proof can never be replayed as one over something else.
pub const SIGNING_CONTEXT: &[u8] = b"leakhound-proof-v1\n";
/// Fed to the keyed content hash before the file's bytes.
pub const CONTENT_DOMAIN: &[u8] = b"leakhound-proof-content-v1\0";
/// Fed to the fingerprint key to name it (`key_id`) without revealing it.
pub const KEY_ID_DOMAIN: &[u8] = b"leakhound-proof-key-id-v1\0";

/// A problem with a proof or its keys.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a leakhound proof ({message})")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error(
        "{path} exists: leakhound never overwrites a key (remove it first if you mean to replace it)"
    )]
    KeyExists { path: PathBuf },
}

/// One file the scan visited.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// As reported, relative to the scan root (`<stdin>` for standard input).
    pub path: String,
    /// Bytes, from the file's metadata when it was hashed; null when it
    /// could not be opened.
    pub size: Option<u64>,
    /// Modification time when it was hashed (RFC 3339, nanoseconds).
    pub mtime: Option<String>,
    /// HMAC-SHA256 of `CONTENT_DOMAIN || content` under the fingerprint
    /// key, hex; null when the file could not be read again (or is stdin).
    pub content_hmac: Option<String>,
    /// How much of it the scan read.
    pub status: FileStatus,
    /// Why not all of it (the scan's reason), or why it has no hash.
    pub reason: Option<String>,
    /// Findings reported in it (after `.leakhound.yaml` and `--baseline`).
    pub findings: u64,
    /// The distinct findings, `rule:fingerprint`, sorted.
    pub finding_ids: Vec<String>,
}

/// Files by status, as in the summary event.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub files: u64,
    pub scanned: u64,
    pub partial: u64,
    pub skipped: u64,
    pub error: u64,
    pub findings: u64,
}

/// The Ed25519 signature over the rest of the document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Always `ed25519`.
    pub algorithm: String,
    /// The public key that verifies it, hex (trust it only if it is the
    /// key you expect: `verify --public-key`).
    pub public_key: String,
    /// The signature, hex.
    pub value: String,
}

/// A proof of scan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// `leakhound X.Y.Z`.
    pub tool: String,
    pub scan_id: String,
    pub host: String,
    /// RFC 3339 UTC.
    pub started: String,
    pub ended: String,
    pub rules_version: String,
    /// `built-in` or the rules directory.
    pub rules: String,
    /// The directory entry paths are relative to.
    pub root: String,
    /// The options that decide what was looked at and what counts.
    pub options: Value,
    /// Where the fingerprint key came from (`file`, `env`, `local`, `ephemeral`).
    pub fingerprint_key: String,
    /// Names the key the content hashes and finding ids were made with:
    /// HMAC(key, KEY_ID_DOMAIN), first 8 bytes, hex.
    pub key_id: String,
    pub counts: Counts,
    /// Sorted by path.
    pub entries: Vec<Entry>,
    /// RFC 6962 tree hash of the entries, hex.
    pub merkle_root: String,
    pub signature: Option<Signature>,
}

impl Proof {
    /// Reads a proof document.
    pub fn load(path: &Path) -> Result<Proof, ProofError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProofError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let proof: Proof = serde_json::from_str(&text).map_err(|e| ProofError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if proof.format != FORMAT || proof.version != VERSION {
            return Err(ProofError::Parse {
                path: path.to_path_buf(),
                message: format!(
                    "format {} version {}; this leakhound reads {FORMAT} version {VERSION}",
                    proof.format, proof.version
                ),
            });
        }
        Ok(proof)
    }

    /// Writes the document atomically.
    pub fn save(&self, path: &Path) -> Result<(), ProofError> {
        let mut text = serde_json::to_vec_pretty(self).map_err(|e| ProofError::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        text.push(b'\n');
        crate::report::html::write_atomic(path, &text).map_err(|source| ProofError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The leaf hashes of the entries, in order.
    pub fn leaves(&self) -> Vec<[u8; 32]> {
        self.entries
            .iter()
            .map(|e| merkle::leaf_hash(&canonical(&serde_json::to_value(e).unwrap_or_default())))
            .collect()
    }

    /// The tree hash of the entries, hex.
    pub fn compute_root(&self) -> String {
        hex(&merkle::root(&self.leaves()))
    }

    /// The bytes the signature covers: [`SIGNING_CONTEXT`] then the
    /// canonical JSON of the document without `signature`.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Value::Object(m) = &mut v {
            m.remove("signature");
        }
        let mut out = SIGNING_CONTEXT.to_vec();
        out.extend(canonical(&v));
        out
    }
}

/// JSON with object keys sorted (by bytes), no whitespace, strings escaped
/// as serde_json does; the documents hold integers only, no floats.
pub fn canonical(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(serde_json::to_string(k).unwrap_or_default().as_bytes());
                out.push(b':');
                write_canonical(&m[k.as_str()], out);
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(x, out);
            }
            out.push(b']');
        }
        other => out.extend(serde_json::to_string(other).unwrap_or_default().as_bytes()),
    }
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Parses hex into exactly `N` bytes.
pub fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.trim();
    if s.len() != 2 * N || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_keys_and_drops_whitespace() {
        let v: Value =
            serde_json::from_str(r#"{"b": [1, {"z": null, "a": "x\"y"}], "a": true}"#).unwrap();
        assert_eq!(
            String::from_utf8(canonical(&v)).unwrap(),
            r#"{"a":true,"b":[1,{"a":"x\"y","z":null}]}"#
        );
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(unhex::<2>("0aff"), Some([0x0a, 0xff]));
        assert_eq!(unhex::<2>("0af"), None);
        assert_eq!(unhex::<2>("zzzz"), None);
        assert_eq!(hex(&[0x0a, 0xff]), "0aff");
    }
}
