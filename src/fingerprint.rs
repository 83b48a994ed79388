//! Keyed fingerprints of found values, for correlation without disclosure.
//!
//! A fingerprint is HMAC-SHA256 over the compact value (digits and upper-case
//! letters), keyed with a secret, cut to 128 bits and written in hex. The same
//! number gives the same fingerprint wherever it is found with the same key,
//! so findings can be deduplicated, baselined and allowed by fingerprint; a
//! reader without the key cannot test guesses (a card number has only about
//! 10^9 candidates once its masked digits are known, so an unkeyed hash
//! would give it away).
//!
//! The key comes, in this order, from `--fingerprint-key-file`, from the
//! `LEAKHOUND_FINGERPRINT_KEY` environment variable, or from a key created
//! once in the user's state directory. If none can be had, a random key is
//! used for this run only and reports say so.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::engine::value::SecretValue;

/// Environment variable holding the fingerprint key.
pub const KEY_ENV: &str = "LEAKHOUND_FINGERPRINT_KEY";

/// Where the key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `--fingerprint-key-file`.
    File(PathBuf),
    /// `LEAKHOUND_FINGERPRINT_KEY`.
    Env,
    /// The key kept in the state directory (created on first use).
    Local(PathBuf),
    /// Random, for this run only: fingerprints do not match other runs.
    Ephemeral,
}

impl KeySource {
    /// `file`, `env`, `local` or `ephemeral`.
    pub fn kind(&self) -> &'static str {
        match self {
            KeySource::File(_) => "file",
            KeySource::Env => "env",
            KeySource::Local(_) => "local",
            KeySource::Ephemeral => "ephemeral",
        }
    }
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(p) => write!(f, "key file {}", p.display()),
            KeySource::Env => write!(f, "{KEY_ENV}"),
            KeySource::Local(p) => write!(
                f,
                "local key {} (fingerprints match only on this machine)",
                p.display()
            ),
            KeySource::Ephemeral => write!(
                f,
                "random key for this run (fingerprints match nothing else)"
            ),
        }
    }
}

/// Computes fingerprints with one key.
#[derive(Clone)]
pub struct Fingerprinter {
    mac: Hmac<Sha256>,
    source: KeySource,
}

impl fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fingerprinter")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// A problem getting the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read fingerprint key file {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("fingerprint key file {path} is empty: put at least 16 random bytes in it")]
    Empty { path: PathBuf },
    #[error("{KEY_ENV} is set but empty: unset it or give it a secret")]
    EmptyEnv,
}

impl Fingerprinter {
    /// A fingerprinter with the given key bytes.
    pub fn with_key(key: &[u8], source: KeySource) -> Fingerprinter {
        let mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
        Fingerprinter { mac, source }
    }

    /// Where the key came from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The fingerprint of a value: 32 hex characters.
    pub fn fingerprint(&self, value: &SecretValue) -> String {
        value.expose(|raw| self.fingerprint_bytes(raw))
    }

    /// The fingerprint of compact bytes (used by tools that map fingerprints
    /// back to known test values).
    pub fn fingerprint_bytes(&self, compact: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(compact);
        let out = mac.finalize().into_bytes();
        out[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// An HMAC-SHA256 under the fingerprint key with `domain` fed in
    /// first, for keyed hashes of other things than values (a proof of
    /// scan's content hashes): the domain keeps them from ever equalling
    /// a value's fingerprint.
    pub fn keyed_hasher(&self, domain: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(domain);
        mac
    }

    /// Resolves the key: `key_file`, then the environment, then the state
    /// directory `state_dir` (creating the key there), then a random key.
    pub fn resolve(
        key_file: Option<&Path>,
        state_dir: Option<&Path>,
    ) -> Result<Fingerprinter, KeyError> {
        if let Some(path) = key_file {
            let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| KeyError::Read {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?);
            let key = trim_newline(&bytes);
            if key.is_empty() {
                return Err(KeyError::Empty {
                    path: path.to_path_buf(),
                });
            }
            return Ok(Self::with_key(key, KeySource::File(path.to_path_buf())));
        }
        if let Some(v) = std::env::var_os(KEY_ENV) {
            let v = Zeroizing::new(v.into_encoded_bytes());
            if v.is_empty() {
                return Err(KeyError::EmptyEnv);
            }
            return Ok(Self::with_key(&v, KeySource::Env));
        }
        if let Some(dir) = state_dir {
            match local_key(dir) {
                Ok((key, path)) => return Ok(Self::with_key(&key, KeySource::Local(path))),
                Err(e) => tracing::warn!(
                    "cannot keep a fingerprint key in {}: {e}; using a random key for this run",
                    dir.display()
                ),
            }
        }
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut key[..]).map_err(|e| KeyError::Read {
            path: PathBuf::from("getrandom"),
            message: e.to_string(),
        })?;
        Ok(Self::with_key(&key[..], KeySource::Ephemeral))
    }
}

fn trim_newline(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && (b[end - 1] == b'\n' || b[end - 1] == b'\r') {
        end -= 1;
    }
    &b[..end]
}

/// The default state directory: `$LEAKHOUND_STATE_DIR`, else
/// `$XDG_STATE_HOME/leakhound`, else `~/.local/state/leakhound`.
pub fn default_state_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("LEAKHOUND_STATE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        return Some(PathBuf::from(d).join("leakhound"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/leakhound"))
}

/// Reads `dir/fingerprint.key`, creating it (0600, 32 random bytes in hex)
/// if it does not exist. Concurrent first runs agree: the key is written to
/// a temporary file and linked into place, and a run that loses the race
/// reads the winner's key.
fn local_key(dir: &Path) -> std::io::Result<(Zeroizing<Vec<u8>>, PathBuf)> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let path = dir.join("fingerprint.key");
    if let Ok(bytes) = std::fs::read(&path) {
        let key = trim_newline(&bytes).to_vec();
        if !key.is_empty() {
            return Ok((Zeroizing::new(key), path));
        }
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut raw[..]).map_err(std::io::Error::other)?;
    let hex: Zeroizing<String> = Zeroizing::new(raw.iter().map(|b| format!("{b:02x}")).collect());
    let tmp = dir.join(format!(".fingerprint.key.{}", std::process::id()));
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(hex.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok((Zeroizing::new(hex.as_bytes().to_vec()), path)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = std::fs::read(&path)?;
            Ok((Zeroizing::new(trim_newline(&bytes).to_vec()), path))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::value::MaskStyle;

    #[test]
    fn same_key_same_fingerprint() {
        let a = Fingerprinter::with_key(b"k1", KeySource::Ephemeral);
        let b = Fingerprinter::with_key(b"k1", KeySource::Ephemeral);
        let c = Fingerprinter::with_key(b"k2", KeySource::Ephemeral);
        let v = SecretValue::new(b"4111111111111111", MaskStyle::Card).unwrap();
        assert_eq!(a.fingerprint(&v), b.fingerprint(&v));
        assert_ne!(a.fingerprint(&v), c.fingerprint(&v));
        assert_eq!(a.fingerprint(&v).len(), 32);
        // RFC 4231-style sanity: HMAC-SHA256("key", "The quick brown fox ...").
        let k = Fingerprinter::with_key(b"key", KeySource::Ephemeral);
        assert_eq!(
            k.fingerprint_bytes(b"The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143"
        );
    }

    #[test]
    fn local_key_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let (k1, p1) = local_key(dir.path()).unwrap();
        let (k2, p2) = local_key(dir.path()).unwrap();
        assert_eq!(*k1, *k2);
        assert_eq!(p1, p2);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p1).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn key_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let kf = dir.path().join("k");
        std::fs::write(&kf, "secret\n").unwrap();
        let f = Fingerprinter::resolve(Some(&kf), None).unwrap();
        assert_eq!(f.source().kind(), "file");
        let g = Fingerprinter::with_key(b"secret", KeySource::Ephemeral);
        assert_eq!(f.fingerprint_bytes(b"1"), g.fingerprint_bytes(b"1"));
        std::fs::write(&kf, "\n").unwrap();
        assert!(Fingerprinter::resolve(Some(&kf), None).is_err());
    }
}
