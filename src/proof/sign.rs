//! Ed25519 keys for signing proofs: `leakhound keygen` makes a pair, `scan
//! --signing-key` signs, `verify --public-key` checks.
//!
//! Key files are text: the private key file holds the 32-byte seed in hex
//! (mode 0600, never overwritten), the public key file `<FILE>.pub` the
//! 32-byte public key in hex. Lines starting with `#` are comments.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use zeroize::Zeroizing;

use super::{Proof, ProofError, Signature, hex, unhex};

/// The public key file that goes with a private key file.
pub fn public_path(private: &Path) -> PathBuf {
    let mut s = private.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Makes a key pair: `private` (0600) and `private.pub`. Refuses to
/// overwrite either.
pub fn keygen(private: &Path) -> Result<VerifyingKey, ProofError> {
    let public = public_path(private);
    for p in [private, public.as_path()] {
        if std::fs::symlink_metadata(p).is_ok() {
            return Err(ProofError::KeyExists {
                path: p.to_path_buf(),
            });
        }
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| ProofError::Key {
        path: private.to_path_buf(),
        message: format!("no randomness from the system: {e}"),
    })?;
    let key = SigningKey::from_bytes(&seed);
    let text = Zeroizing::new(format!(
        "# leakhound proof signing key (Ed25519 seed, hex): keep it secret\n{}\n",
        hex(seed.as_ref())
    ));
    write_new(private, text.as_bytes(), 0o600)?;
    let vk = key.verifying_key();
    let pub_text = format!(
        "# leakhound proof public key (Ed25519, hex): give it to whoever verifies\n{}\n",
        hex(vk.as_bytes())
    );
    write_new(&public, pub_text.as_bytes(), 0o644)?;
    Ok(vk)
}

/// Creates `path` with `mode`, failing if it exists; synced before return.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ProofError> {
    let werr = |source| ProofError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                ProofError::KeyExists {
                    path: path.to_path_buf(),
                }
            } else {
                werr(e)
            }
        })?;
    f.write_all(bytes).map_err(werr)?;
    f.sync_all().map_err(werr)
}

/// The one non-comment line of a key file.
fn key_line(path: &Path) -> Result<Zeroizing<String>, ProofError> {
    let text =
        Zeroizing::new(
            std::fs::read_to_string(path).map_err(|source| ProofError::Read {
                path: path.to_path_buf(),
                source,
            })?,
        );
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    Ok(Zeroizing::new(line.to_string()))
}

/// Reads a private key file made by `leakhound keygen`.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, ProofError> {
    use std::os::unix::fs::MetadataExt;
    if let Ok(md) = std::fs::metadata(path)
        && md.mode() & 0o077 != 0
    {
        tracing::warn!(
            "signing key {} can be read by others (mode {:o}): chmod 600 it",
            path.display(),
            md.mode() & 0o777
        );
    }
    let line = key_line(path)?;
    let seed = Zeroizing::new(unhex::<32>(&line).ok_or_else(|| ProofError::Key {
        path: path.to_path_buf(),
        message: "not a signing key (64 hex digits, as `leakhound keygen` writes)".into(),
    })?);
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads a public key file (`<FILE>.pub` from `leakhound keygen`).
pub fn load_public_key(path: &Path) -> Result<VerifyingKey, ProofError> {
    let line = key_line(path)?;
    let bad = |message: &str| ProofError::Key {
        path: path.to_path_buf(),
        message: message.into(),
    };
    let bytes = unhex::<32>(&line).ok_or_else(|| bad("not a public key (64 hex digits)"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not a valid Ed25519 public key"))
}

/// Signs `proof` (replacing any signature).
pub fn sign(proof: &mut Proof, key: &SigningKey) {
    proof.signature = None;
    let sig = key.sign(&proof.signed_bytes());
    proof.signature = Some(Signature {
        algorithm: "ed25519".into(),
        public_key: hex(key.verifying_key().as_bytes()),
        value: hex(&sig.to_bytes()),
    });
}

/// What checking a signature found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Valid, made by the expected key.
    Trusted,
    /// Valid for the key the proof names; no key was given to compare with.
    ValidUntrusted { public_key: String },
    /// No signature.
    Unsigned,
    /// Invalid: why.
    Invalid(String),
}

/// Checks `proof`'s signature; with `expected`, also that it was made by
/// that key.
pub fn check(proof: &Proof, expected: Option<&VerifyingKey>) -> SignatureCheck {
    let Some(sig) = &proof.signature else {
        return match expected {
            Some(_) => SignatureCheck::Invalid(
                "the proof is not signed, but a public key was given".into(),
            ),
            None => SignatureCheck::Unsigned,
        };
    };
    if sig.algorithm != "ed25519" {
        return SignatureCheck::Invalid(format!("unknown algorithm {:?}", sig.algorithm));
    }
    let Some(named) = unhex::<32>(&sig.public_key).and_then(|b| VerifyingKey::from_bytes(&b).ok())
    else {
        return SignatureCheck::Invalid("the public key in the proof is malformed".into());
    };
    if let Some(exp) = expected
        && exp.as_bytes() != named.as_bytes()
    {
        return SignatureCheck::Invalid(
            "signed with another key than the one given (--public-key)".into(),
        );
    }
    let Some(value) = unhex::<64>(&sig.value) else {
        return SignatureCheck::Invalid("the signature is malformed".into());
    };
    let s = ed25519_dalek::Signature::from_bytes(&value);
    let mut unsigned = proof.clone();
    unsigned.signature = None;
    match named.verify(&unsigned.signed_bytes(), &s) {
        Ok(()) if expected.is_some() => SignatureCheck::Trusted,
        Ok(()) => SignatureCheck::ValidUntrusted {
            public_key: sig.public_key.clone(),
        },
        Err(_) => SignatureCheck::Invalid(
            "the signature does not match the content: the proof was changed after signing".into(),
        ),
    }
}
