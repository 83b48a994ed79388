//! Format-preserving pseudonyms: FF1 (NIST SP 800-38G) on AES, and the
//! per-kind scheme that decides which characters of a number are encrypted.
//!
//! A matched text enters ([`FpeKey::protect`]) with the validator name of
//! the rule that found it; the same text leaves with some digits replaced
//! by their FF1 encryption, every other character (separators, letters,
//! the digits a kind keeps readable) unchanged and each digit in the
//! script it was written in (Persian digits stay Persian). The same input
//! gives the same token under one key; [`FpeKey::reveal`] turns a token
//! back into the original text, byte for byte.
//!
//! Tokens are marked by their check digit, so that a scan never reports
//! leakhound's own tokens: for every kind with a check digit, one digit
//! (the *dependent* digit) is not encrypted but set to one more than the
//! value that would make the token valid. A token therefore always fails
//! its checksum, and `reveal` recognises a token by that off-by-one digit.
//! The schemes (docs/actions.md, "Format-preserving tokens"):
//!
//! - cards (`card`, `luhn`): the last 4 digits are kept, and as many of
//!   the leading digits (the BIN, at most 6) as leave 6 encrypted digits,
//!   NIST's minimum domain of one million values: 16-digit cards keep the
//!   first 5, 19-digit cards the first 6. The dependent digit is the one
//!   before the last 4; the kept digits are the FF1 tweak.
//! - PESEL, CNP, Iranian national code, Chinese RIC: every digit but the
//!   check digit (the last character) is encrypted; the check digit is the
//!   dependent one (for the RIC, `X` is its eleventh value).
//! - IBAN: the country code and the letters of the BBAN are kept (they are
//!   the tweak), the BBAN digits are encrypted, the two check digits are
//!   the dependent pair.
//! - US SSN: no check digit, so no mark is possible: the 9 digits are
//!   encrypted and cycle-walked until they form an issuable SSN again. SSN
//!   tokens look like SSNs and a scan reports them (documented).
//! - Every other rule written in the checksum language (the regional
//!   packs, user rules) takes the *generic* scheme, read from its program
//!   ([`crate::rules::Program::check_positions`]): FF1 over every digit
//!   that is not a check value (dates included), letters, separators and
//!   kept characters as the tweak, cycle-walked until the rule's regex
//!   still takes the token; the check value(s) are the first, after the
//!   one that would make the token valid, with which the token fails its
//!   rule and no loaded rule reports it ([`token_reported`]). `reveal`
//!   decrypts and tries every check value: the original's is the only
//!   one (of its rank, for an `any_of`) that passes.
//! - Track data, rules without a check value (`dk_cpr`, `us_itin`,
//!   `gb_nino`, `in_pan`) and rules outside the checksum language have no
//!   scheme: the caller masks them instead.
//!
//! A number with fewer than 6 digits to encrypt (below NIST's minimum
//! domain) has no token either and is masked.
//!
//! The check value alone cannot tell a token from a number that was never
//! one: `redact --token-list` records a keyed MAC of every token
//! ([`FpeKey::token_mac`], [`TokenList`]), and `reveal --tokens` reverses
//! only those. The key comes from a file ([`FpeKey::load`]) or from an
//! age-encrypted file in the state directory ([`FpeKey::init_age`],
//! [`FpeKey::load_age`], [`FpeKey::resolve`]).

use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use std::fmt;
use std::path::{Path, PathBuf};

/// What can go wrong with an FPE key or an FF1 call.
#[derive(Debug, thiserror::Error)]
pub enum FpeError {
    #[error("{path}: cannot read the FPE key: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: the FPE key file is readable or writable by others (mode {mode:o}): \
         run `chmod 600` on it"
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error(
        "{path}: not an FPE key: expected 32 bytes, or 64 hexadecimal characters \
         (make one with `head -c 32 /dev/urandom > KEY; chmod 600 KEY`)"
    )]
    Format { path: PathBuf },
    #[error("an FF1 key must be 16, 24 or 32 bytes")]
    KeyLength,
    #[error("FF1 input of {0} numerals is outside the supported domain")]
    Domain(usize),
    #[error("{path}: cannot write the token list: {source}")]
    TokenListWrite {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot read the token list: {source}")]
    TokenListRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: not a token list line (expected 32 hexadecimal characters, as \
         `leakhound redact --style fpe --token-list` writes)"
    )]
    TokenListFormat { path: PathBuf, line: usize },
    #[error("{path}: cannot read the age identity file: {source}")]
    IdentityRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: the age identity file is readable or writable by others (mode {mode:o}): \
         run `chmod 600` on it"
    )]
    IdentityPermissions { path: PathBuf, mode: u32 },
    #[error("{path}: no age X25519 identity (AGE-SECRET-KEY-1...) in the file")]
    NoIdentity { path: PathBuf },
    #[error(
        "{path}: cannot decrypt the FPE key: {message} (give the identity of one of the \
         recipients `leakhound fpe-key init` named)"
    )]
    Decrypt { path: PathBuf, message: String },
    #[error("{path}: cannot write the FPE key: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: an FPE key is already there: tokens made with it could not be revealed \
         with a new one; move it away first if you really mean to replace it"
    )]
    Exists { path: PathBuf },
    #[error("no recipient: `fpe-key init` needs at least one --recipient age1...")]
    NoRecipient,
    #[error("cannot encrypt the FPE key: {0}")]
    Encrypt(String),
    #[error(
        "{path} is age-encrypted: give the identity that decrypts it (--identity FILE), \
         or a plain key with --fpe-key-file"
    )]
    NeedsIdentity { path: PathBuf },
    /// `policy.redact.style: fpe` with neither a key file nor an
    /// age-encrypted key in the state directory.
    #[error(
        "policy.redact.style fpe needs policy.redact.fpe_key_file, or \
         policy.redact.fpe_identity_file and <state_dir>/fpe.key.age"
    )]
    NotConfigured,
}

/// The name of the age-encrypted FPE key in the state directory.
pub const AGE_KEY_FILE: &str = "fpe.key.age";

/// AES of any key size, for FF1 (the NIST samples use all three).
enum Aes {
    A128(aes::Aes128),
    A192(aes::Aes192),
    A256(aes::Aes256),
}

impl Aes {
    fn new(key: &[u8]) -> Result<Aes, FpeError> {
        Ok(match key.len() {
            16 => Aes::A128(aes::Aes128::new_from_slice(key).map_err(|_| FpeError::KeyLength)?),
            24 => Aes::A192(aes::Aes192::new_from_slice(key).map_err(|_| FpeError::KeyLength)?),
            32 => Aes::A256(aes::Aes256::new_from_slice(key).map_err(|_| FpeError::KeyLength)?),
            _ => return Err(FpeError::KeyLength),
        })
    }

    fn encrypt(&self, block: &mut [u8; 16]) {
        let b = GenericArray::from_mut_slice(block);
        match self {
            Aes::A128(c) => c.encrypt_block(b),
            Aes::A192(c) => c.encrypt_block(b),
            Aes::A256(c) => c.encrypt_block(b),
        }
    }
}

/// FF1 for one key and radix. Numerals are values below the radix.
pub struct Ff1 {
    aes: Aes,
    radix: u32,
}

impl fmt::Debug for Ff1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ff1 {{ radix: {}, key: <hidden> }}", self.radix)
    }
}

/// radix^e, if it fits.
fn pow(radix: u32, e: usize) -> Option<u128> {
    let mut acc: u128 = 1;
    for _ in 0..e {
        acc = acc.checked_mul(radix as u128)?;
    }
    Some(acc)
}

impl Ff1 {
    /// FF1 with an AES key of 16, 24 or 32 bytes, for numerals of `radix`
    /// (2 to 36 here).
    pub fn new(key: &[u8], radix: u32) -> Result<Ff1, FpeError> {
        Ok(Ff1 {
            aes: Aes::new(key)?,
            radix,
        })
    }

    fn num(&self, x: &[u8]) -> u128 {
        x.iter()
            .fold(0u128, |acc, &d| acc * self.radix as u128 + d as u128)
    }

    fn str_m(&self, mut v: u128, m: usize) -> Vec<u8> {
        let mut out = vec![0u8; m];
        for slot in out.iter_mut().rev() {
            *slot = (v % self.radix as u128) as u8;
            v /= self.radix as u128;
        }
        out
    }

    /// The round function's output: `y` reduced modulo radix^m, for round
    /// `i` over the half `x`.
    fn round(&self, p: &[u8; 16], tweak: &[u8], i: u8, x: &[u8], b: usize, d: usize) -> Vec<u8> {
        // Q = T || 0^((-t-b-1) mod 16) || [i] || [NUM(x)]^b
        let t = tweak.len();
        let pad = (16 - ((t + b + 1) % 16)) % 16;
        let mut q = Vec::with_capacity(t + pad + 1 + b);
        q.extend_from_slice(tweak);
        q.resize(t + pad, 0);
        q.push(i);
        let n = self.num(x).to_be_bytes();
        q.extend_from_slice(&n[16 - b..]);
        // R = PRF(P || Q): CBC-MAC with a zero IV.
        let mut r = *p;
        self.aes.encrypt(&mut r);
        for block in q.chunks(16) {
            for (a, &c) in r.iter_mut().zip(block) {
                *a ^= c;
            }
            self.aes.encrypt(&mut r);
        }
        // S = R || CIPH(R xor [1]) || CIPH(R xor [2]) ..., first d bytes.
        let mut s = r.to_vec();
        let mut j = 1u128;
        while s.len() < d {
            let mut blk = r;
            let jb = j.to_be_bytes();
            for (a, &c) in blk.iter_mut().zip(jb.iter()) {
                *a ^= c;
            }
            self.aes.encrypt(&mut blk);
            s.extend_from_slice(&blk);
            j += 1;
        }
        s.truncate(d);
        s
    }

    fn setup(&self, tweak: &[u8], n: usize) -> Result<([u8; 16], usize, usize, usize), FpeError> {
        let u = n / 2;
        let v = n - u;
        // The halves and y (d <= 16 bytes) are done in u128.
        let rv = pow(self.radix, v).ok_or(FpeError::Domain(n))?;
        if n < 2 || rv > (1u128 << 100) {
            return Err(FpeError::Domain(n));
        }
        // b = ceil(ceil(v * log2(radix)) / 8): the bits of radix^v - 1.
        let bits = if rv.is_power_of_two() {
            rv.trailing_zeros() as usize
        } else {
            128 - rv.leading_zeros() as usize
        };
        let b = bits.div_ceil(8);
        let d = 4 * b.div_ceil(4) + 4;
        if d > 16 {
            return Err(FpeError::Domain(n));
        }
        let mut p = [0u8; 16];
        p[0] = 1;
        p[1] = 2;
        p[2] = 1;
        p[3..6].copy_from_slice(&self.radix.to_be_bytes()[1..]);
        p[6] = 10;
        p[7] = (u % 256) as u8;
        p[8..12].copy_from_slice(&(n as u32).to_be_bytes());
        p[12..16].copy_from_slice(&(tweak.len() as u32).to_be_bytes());
        Ok((p, u, b, d))
    }

    fn y_mod(s: &[u8], modulus: u128) -> u128 {
        let mut y: u128 = 0;
        for &byte in s {
            y = ((y << 8) | byte as u128) % modulus;
        }
        y
    }

    /// FF1.Encrypt of the numerals `x` under `tweak`.
    pub fn encrypt(&self, tweak: &[u8], x: &[u8]) -> Result<Vec<u8>, FpeError> {
        let n = x.len();
        let (p, u, b, d) = self.setup(tweak, n)?;
        let (mut a, mut bb) = (x[..u].to_vec(), x[u..].to_vec());
        for i in 0..10u8 {
            let m = if i % 2 == 0 { u } else { n - u };
            let modulus = pow(self.radix, m).ok_or(FpeError::Domain(n))?;
            let s = self.round(&p, tweak, i, &bb, b, d);
            let y = Self::y_mod(&s, modulus);
            let c = (self.num(&a) % modulus + y) % modulus;
            a = std::mem::replace(&mut bb, self.str_m(c, m));
        }
        a.extend_from_slice(&bb);
        Ok(a)
    }

    /// FF1.Decrypt of the numerals `x` under `tweak`.
    pub fn decrypt(&self, tweak: &[u8], x: &[u8]) -> Result<Vec<u8>, FpeError> {
        let n = x.len();
        let (p, u, b, d) = self.setup(tweak, n)?;
        let (mut a, mut bb) = (x[..u].to_vec(), x[u..].to_vec());
        for i in (0..10u8).rev() {
            let m = if i % 2 == 0 { u } else { n - u };
            let modulus = pow(self.radix, m).ok_or(FpeError::Domain(n))?;
            let s = self.round(&p, tweak, i, &a, b, d);
            let y = Self::y_mod(&s, modulus);
            let c = (self.num(&bb) % modulus + modulus - y) % modulus;
            bb = std::mem::replace(&mut a, self.str_m(c, m));
        }
        a.extend_from_slice(&bb);
        Ok(a)
    }
}

/// The FPE key: an AES-256 key read from a file only its owner can read.
/// Never the fingerprint key, never printed.
pub struct FpeKey {
    ff1: Ff1,
    /// The key of the token list's MACs, derived from the FPE key.
    mac_key: [u8; 32],
    /// Where the MAC of every token made is written (`--token-list`).
    recorder: Option<std::sync::Mutex<Recorder>>,
}

impl Drop for FpeKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.mac_key);
    }
}

impl fmt::Debug for FpeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FpeKey(<hidden>)")
    }
}

/// Fewest digits FF1 encrypts: NIST SP 800-38G Rev. 1 asks for a domain
/// of at least one million values.
pub const MIN_FREE_DIGITS: usize = 6;

impl FpeKey {
    /// An FPE key from 32 raw bytes.
    pub fn from_bytes(key: &[u8; 32]) -> FpeKey {
        let ff1 = Ff1::new(key, 10).expect("a 32-byte key is an AES-256 key");
        // Two AES blocks of fixed text: a key for the token list's MACs
        // that tells nothing of the FPE key.
        let mut mac_key = [0u8; 32];
        for (i, half) in mac_key.chunks_mut(16).enumerate() {
            let mut block = *b"leakhound-tokmac";
            block[15] = b'0' + i as u8;
            ff1.aes.encrypt(&mut block);
            half.copy_from_slice(&block);
        }
        FpeKey {
            ff1,
            mac_key,
            recorder: None,
        }
    }

    /// Reads the key file: 32 bytes, or 64 hexadecimal characters (with
    /// an optional newline). Refused when others may read or write it.
    pub fn load(path: &Path) -> Result<FpeKey, FpeError> {
        use std::os::unix::fs::MetadataExt;
        let read = |source| FpeError::Read {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read)?;
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(FpeError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        let mut raw = std::fs::read(path).map_err(read)?;
        let key = parse_key(&raw);
        zeroize::Zeroize::zeroize(&mut raw);
        match key {
            Some(mut k) => {
                let key = FpeKey::from_bytes(&k);
                zeroize::Zeroize::zeroize(&mut k);
                Ok(key)
            }
            None => Err(FpeError::Format {
                path: path.to_path_buf(),
            }),
        }
    }

    /// Makes a new random key, encrypts it with age to `recipients`, and
    /// writes it to `<state_dir>/fpe.key.age` (mode 0600; written to a
    /// temporary file, fsynced, then renamed, so a crash leaves no half
    /// key). Refuses to replace a key that is there. The key itself is
    /// never written in clear, printed or returned.
    pub fn init_age(
        state_dir: &Path,
        recipients: &[age::x25519::Recipient],
    ) -> Result<PathBuf, FpeError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        if recipients.is_empty() {
            return Err(FpeError::NoRecipient);
        }
        let path = state_dir.join(AGE_KEY_FILE);
        if path.exists() {
            return Err(FpeError::Exists { path });
        }
        let werr = |source| FpeError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(werr)?;
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut key[..]).map_err(|e| werr(std::io::Error::other(e.to_string())))?;
        let tmp = state_dir.join(format!(".{AGE_KEY_FILE}.{}.tmp", std::process::id()));
        let result = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(&tmp)
                .map_err(werr)?;
            let enc = age::Encryptor::with_recipients(
                recipients.iter().map(|r| r as &dyn age::Recipient),
            )
            .map_err(|e| FpeError::Encrypt(e.to_string()))?;
            let mut w = enc.wrap_output(&mut file).map_err(werr)?;
            w.write_all(&key[..]).map_err(werr)?;
            w.finish().map_err(werr)?;
            file.sync_all().map_err(werr)?;
            // No replace: a key that appeared meanwhile wins.
            std::fs::hard_link(&tmp, &path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    FpeError::Exists { path: path.clone() }
                } else {
                    werr(e)
                }
            })?;
            if let Ok(dir) = std::fs::File::open(state_dir) {
                let _ = dir.sync_all();
            }
            Ok(path.clone())
        })();
        let _ = std::fs::remove_file(&tmp);
        result
    }

    /// Reads an age-encrypted key (`fpe-key init`) with the identities of
    /// `identity` (an age identity file only its owner may read).
    pub fn load_age(path: &Path, identity: &Path) -> Result<FpeKey, FpeError> {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let ierr = |source| FpeError::IdentityRead {
            path: identity.to_path_buf(),
            source,
        };
        let mode = std::fs::metadata(identity).map_err(ierr)?.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(FpeError::IdentityPermissions {
                path: identity.to_path_buf(),
                mode,
            });
        }
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(identity).map_err(ierr)?);
        let ids: Vec<age::x25519::Identity> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.parse().ok())
            .collect();
        if ids.is_empty() {
            return Err(FpeError::NoIdentity {
                path: identity.to_path_buf(),
            });
        }
        let read = |source| FpeError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read)?;
        let dec_err = |e: &dyn std::fmt::Display| FpeError::Decrypt {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let d = age::Decryptor::new(std::io::BufReader::new(file)).map_err(|e| dec_err(&e))?;
        let mut r = d
            .decrypt(ids.iter().map(|i| i as &dyn age::Identity))
            .map_err(|e| dec_err(&e))?;
        let mut raw = zeroize::Zeroizing::new(Vec::with_capacity(64));
        r.by_ref()
            .take(128)
            .read_to_end(&mut raw)
            .map_err(|e| dec_err(&e))?;
        match parse_key(&raw) {
            Some(k) => {
                let k = zeroize::Zeroizing::new(k);
                Ok(FpeKey::from_bytes(&k))
            }
            None => Err(FpeError::Format {
                path: path.to_path_buf(),
            }),
        }
    }

    /// The key for a command: `key_file` when given; else the age-encrypted
    /// key of `state_dir` (which needs `identity`); else `None`.
    pub fn resolve(
        key_file: Option<&Path>,
        identity: Option<&Path>,
        state_dir: Option<&Path>,
    ) -> Result<Option<FpeKey>, FpeError> {
        if let Some(k) = key_file {
            return FpeKey::load(k).map(Some);
        }
        let Some(age_file) = state_dir.map(|d| d.join(AGE_KEY_FILE)) else {
            return Ok(None);
        };
        if !age_file.exists() {
            return Ok(None);
        }
        match identity {
            Some(id) => FpeKey::load_age(&age_file, id).map(Some),
            None => Err(FpeError::NeedsIdentity { path: age_file }),
        }
    }

    /// The token of `matched` (a match of a rule with validator
    /// `validator` and reported kind `kind`), or `None` when the kind has
    /// no scheme or too few digits: the caller masks it.
    pub fn protect(&self, validator: &str, kind: &str, matched: &str) -> Option<String> {
        let mut v = Parsed::new(matched)?;
        let scheme = Scheme::of(validator, kind, &v)?;
        // Only a number whose check digit is the one `reveal` will
        // recompute can come back byte for byte: an IBAN with check digits
        // 00, 01 or 99 (valid modulo 97, never issued: ISO 13616 uses
        // 02-98) has no token and is masked.
        if let Some(dep) = scheme.dependent(&v)
            && scheme.get_dependent(&v) != Some(dep)
        {
            return None;
        }
        let tweak = scheme.tweak(&v);
        let free: Vec<u8> = scheme.free.iter().map(|&i| v.values[i]).collect();
        let mut enc = self.ff1.encrypt(&tweak, &free).ok()?;
        if scheme.check == Check::Ssn {
            // Cycle-walk: a permutation of issuable SSNs onto themselves.
            while !ssn_ok(&enc) {
                enc = self.ff1.encrypt(&tweak, &enc).ok()?;
            }
        }
        for (&i, &d) in scheme.free.iter().zip(&enc) {
            v.values[i] = d;
        }
        if let Some(dep) = scheme.dependent(&v) {
            let next = scheme.token_dependent(&v, dep);
            scheme.set_dependent(&mut v, next);
        }
        Some(v.render())
    }

    /// The original text of a token made by [`FpeKey::protect`], or `None`
    /// when `matched` is not one.
    pub fn reveal(&self, validator: &str, kind: &str, matched: &str) -> Option<String> {
        let mut v = Parsed::new(matched)?;
        let scheme = Scheme::of(validator, kind, &v)?;
        if let Some(dep) = scheme.dependent(&v)
            && scheme.get_dependent(&v)? != scheme.token_dependent(&v, dep)
        {
            return None; // the check digit is not a token's
        }
        let tweak = scheme.tweak(&v);
        let free: Vec<u8> = scheme.free.iter().map(|&i| v.values[i]).collect();
        let mut dec = self.ff1.decrypt(&tweak, &free).ok()?;
        if scheme.check == Check::Ssn {
            while !ssn_ok(&dec) {
                dec = self.ff1.decrypt(&tweak, &dec).ok()?;
            }
        }
        for (&i, &d) in scheme.free.iter().zip(&dec) {
            v.values[i] = d;
        }
        if let Some(dep) = scheme.dependent(&v) {
            scheme.set_dependent(&mut v, dep);
        }
        Some(v.render())
    }
}

/// A keyed fingerprint of one token: the first 16 bytes of HMAC-SHA256,
/// under a key derived from the FPE key, of the rule id and the token's
/// text.
pub type TokenMac = [u8; 16];

/// The token list being written by `redact --token-list`.
struct Recorder {
    path: PathBuf,
    file: std::fs::File,
    /// MACs written in this run (cleared when large: a repeat is harmless).
    seen: std::collections::HashSet<TokenMac>,
    written: u64,
    error: Option<std::io::Error>,
}

/// Most MACs a recorder remembers to skip repeats: 16 MiB or so.
const RECORDER_SEEN: usize = 1 << 20;

impl FpeKey {
    /// The keyed fingerprint of a token made for the rule `rule_id`.
    pub fn token_mac(&self, rule_id: &str, token: &str) -> TokenMac {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.mac_key)
            .expect("HMAC takes keys of any length");
        mac.update(b"leakhound fpe token v1\0");
        mac.update(rule_id.as_bytes());
        mac.update(b"\0");
        mac.update(token.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// From now on, appends the MAC of every token made to `path` (created
    /// with mode 0600 if missing), one per line in hexadecimal: what
    /// `reveal --tokens` needs to reverse only real tokens.
    pub fn record_tokens(&mut self, path: &Path) -> Result<(), FpeError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let err = |source| FpeError::TokenListWrite {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        if file.metadata().map_err(err)?.len() == 0 {
            file.write_all(b"# leakhound fpe token list v1: keyed MACs of FPE tokens\n")
                .map_err(err)?;
        }
        self.recorder = Some(std::sync::Mutex::new(Recorder {
            path: path.to_path_buf(),
            file,
            seen: std::collections::HashSet::new(),
            written: 0,
            error: None,
        }));
        Ok(())
    }

    /// Makes the token list durable: the number of MACs written, or the
    /// first error met while writing it (the caller must not put an output
    /// in place whose tokens are not all listed).
    pub fn finish_tokens(&self) -> Result<u64, FpeError> {
        let Some(rec) = &self.recorder else {
            return Ok(0);
        };
        let mut rec = rec.lock().unwrap_or_else(|p| p.into_inner());
        let path = rec.path.clone();
        if let Some(source) = rec.error.take() {
            return Err(FpeError::TokenListWrite { path, source });
        }
        rec.file
            .sync_all()
            .map_err(|source| FpeError::TokenListWrite { path, source })?;
        Ok(rec.written)
    }

    fn record(&self, rule_id: &str, token: &str) {
        use std::io::Write;
        let Some(rec) = &self.recorder else { return };
        let mac = self.token_mac(rule_id, token);
        let mut rec = rec.lock().unwrap_or_else(|p| p.into_inner());
        if rec.error.is_some() || rec.seen.contains(&mac) {
            return;
        }
        if rec.seen.len() >= RECORDER_SEEN {
            rec.seen.clear();
        }
        rec.seen.insert(mac);
        let mut line = hex_of(&mac);
        line.push('\n');
        // One write per line on an append-only file: a crash leaves every
        // line written whole.
        match rec.file.write_all(line.as_bytes()) {
            Ok(()) => rec.written += 1,
            Err(e) => rec.error = Some(e),
        }
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The tokens `redact --token-list` wrote, read back by `reveal --tokens`:
/// only a number whose MAC is listed is a token.
#[derive(Debug, Default)]
pub struct TokenList {
    macs: std::collections::HashSet<TokenMac>,
}

impl TokenList {
    pub fn load(path: &Path) -> Result<TokenList, FpeError> {
        let text = std::fs::read_to_string(path).map_err(|source| FpeError::TokenListRead {
            path: path.to_path_buf(),
            source,
        })?;
        let mut macs = std::collections::HashSet::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || FpeError::TokenListFormat {
                path: path.to_path_buf(),
                line: i + 1,
            };
            if line.len() != 32 {
                return Err(bad());
            }
            let mut mac = [0u8; 16];
            for (k, slot) in mac.iter_mut().enumerate() {
                *slot = line
                    .get(2 * k..2 * k + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(bad)?;
            }
            macs.insert(mac);
        }
        Ok(TokenList { macs })
    }

    /// True when `mac` is listed.
    pub fn contains(&self, mac: &TokenMac) -> bool {
        self.macs.contains(mac)
    }

    /// How many tokens are listed.
    pub fn len(&self) -> usize {
        self.macs.len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.macs.is_empty()
    }
}

/// True when `v` is a run of 12 to 19 digits whose Luhn check passes:
/// what a card rule could report.
fn passes_for_a_card(v: &Parsed) -> bool {
    let d = &v.values;
    if !(12..=19).contains(&d.len()) || (0..d.len()).any(|i| !v.is_digit(i)) {
        return false;
    }
    let ascii: Vec<u8> = d.iter().map(|&x| b'0' + x).collect();
    crate::validate::luhn(&ascii)
}

fn parse_key(raw: &[u8]) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    if raw.len() == 32 {
        key.copy_from_slice(raw);
        return Some(key);
    }
    let text = std::str::from_utf8(raw).ok()?.trim();
    if text.len() != 64 {
        return None;
    }
    for (i, slot) in key.iter_mut().enumerate() {
        *slot = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

fn ssn_ok(d: &[u8]) -> bool {
    let ascii: Vec<u8> = d.iter().map(|x| b'0' + x).collect();
    crate::validate::us_ssn(&ascii).is_ok()
}

/// How a value character is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glyph {
    /// A digit: the first code point of its script's zero (`0`, `٠`, `۰`).
    Digit(u32),
    /// An ASCII letter (kept, or the RIC's `X` check value).
    Letter,
}

/// A matched text split into value characters (with their numeric value
/// and script) and everything else, kept as it is.
#[derive(Clone)]
struct Parsed {
    chars: Vec<char>,
    /// Index in `chars` of each value character.
    at: Vec<usize>,
    glyph: Vec<Glyph>,
    /// Digit value, or the upper-case letter's ASCII byte.
    values: Vec<u8>,
}

impl Parsed {
    fn new(text: &str) -> Option<Parsed> {
        let chars: Vec<char> = text.chars().collect();
        let (mut at, mut glyph, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &c) in chars.iter().enumerate() {
            let zero = match c {
                '0'..='9' => Some('0' as u32),
                '\u{0660}'..='\u{0669}' => Some(0x0660),
                '\u{06F0}'..='\u{06F9}' => Some(0x06F0),
                _ => None,
            };
            if let Some(z) = zero {
                at.push(i);
                glyph.push(Glyph::Digit(z));
                values.push((c as u32 - z) as u8);
            } else if c.is_ascii_alphabetic() {
                at.push(i);
                glyph.push(Glyph::Letter);
                values.push(c as u8);
            }
        }
        (!at.is_empty()).then_some(Parsed {
            chars,
            at,
            glyph,
            values,
        })
    }

    fn is_digit(&self, i: usize) -> bool {
        matches!(self.glyph[i], Glyph::Digit(_))
    }

    fn render(&self) -> String {
        let mut chars = self.chars.clone();
        for (k, &i) in self.at.iter().enumerate() {
            chars[i] = match self.glyph[k] {
                Glyph::Digit(z) => char::from_u32(z + self.values[k] as u32).unwrap_or('?'),
                Glyph::Letter => {
                    let ch = self.values[k] as char;
                    // Keep the case the text used.
                    if self.chars[i].is_ascii_lowercase() {
                        ch.to_ascii_lowercase()
                    } else {
                        ch
                    }
                }
            };
        }
        chars.into_iter().collect()
    }
}

/// The check a kind's dependent digit carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Luhn, solved for the digit before the last 4.
    Luhn,
    Pesel,
    Cnp,
    Melli,
    /// ISO 7064 MOD 11-2, `X` for 10.
    Ric,
    /// ISO 13616 MOD 97-10 over two check digits.
    Iban,
    /// No check digit.
    Ssn,
}

impl Check {
    /// How many values the dependent digit(s) take.
    fn radix(self) -> u8 {
        match self {
            Check::Ric => 11,
            Check::Iban => 100,
            _ => 10,
        }
    }
}

/// Which value characters a kind encrypts, keeps and derives.
struct Scheme {
    check: Check,
    /// Value indices encrypted with FF1, in order.
    free: Vec<usize>,
    /// Value indices kept readable (they make the tweak).
    kept: Vec<usize>,
    /// Value indices of the dependent digit(s).
    dep: Vec<usize>,
}

/// The name of the token scheme for a rule's validator and kind: the
/// validator's name, except for the built-in national IDs, which are
/// written in the checksum language (validator `checks`) and whose kind
/// names the check a token keeps.
pub fn scheme_name<'a>(validator: &'a str, kind: &'a str) -> &'a str {
    match (validator, kind) {
        ("checks", "pl_pesel" | "ro_cnp" | "ir_melli" | "cn_ric" | "iban" | "us_ssn") => kind,
        _ => validator,
    }
}

impl Scheme {
    fn of(validator: &str, kind: &str, v: &Parsed) -> Option<Scheme> {
        let n = v.values.len();
        let all_digits = (0..n).all(|i| v.is_digit(i));
        if kind.contains("track") {
            return None;
        }
        let name = scheme_name(validator, kind);
        let scheme = match name {
            "card" | "luhn" if all_digits && n >= 12 => {
                let lead = 6.min(n - 11);
                Scheme {
                    check: Check::Luhn,
                    free: (lead..n - 5).collect(),
                    kept: (0..lead).chain(n - 4..n).collect(),
                    dep: vec![n - 5],
                }
            }
            "pl_pesel" | "ro_cnp" | "ir_melli" if all_digits => Scheme {
                check: match name {
                    "pl_pesel" => Check::Pesel,
                    "ro_cnp" => Check::Cnp,
                    _ => Check::Melli,
                },
                free: (0..n - 1).collect(),
                kept: Vec::new(),
                dep: vec![n - 1],
            },
            "cn_ric" if (0..n - 1).all(|i| v.is_digit(i)) => Scheme {
                check: Check::Ric,
                free: (0..n - 1).collect(),
                kept: Vec::new(),
                dep: vec![n - 1],
            },
            "iban" if n >= 5 && v.is_digit(2) && v.is_digit(3) => {
                let bban = 4..n;
                Scheme {
                    check: Check::Iban,
                    free: bban.clone().filter(|&i| v.is_digit(i)).collect(),
                    kept: (0..2).chain(bban.filter(|&i| !v.is_digit(i))).collect(),
                    dep: vec![2, 3],
                }
            }
            "us_ssn" if all_digits && n == 9 => Scheme {
                check: Check::Ssn,
                free: (0..n).collect(),
                kept: Vec::new(),
                dep: Vec::new(),
            },
            _ => return None,
        };
        (scheme.free.len() >= MIN_FREE_DIGITS).then_some(scheme)
    }

    /// The FF1 tweak: the scheme and the kept characters with their places.
    fn tweak(&self, v: &Parsed) -> Vec<u8> {
        let mut t = format!("{:?}:", self.check).into_bytes();
        for &i in &self.kept {
            t.push(i as u8);
            t.push(v.values[i]);
        }
        t
    }

    fn get_dependent(&self, v: &Parsed) -> Option<u8> {
        match self.check {
            Check::Iban => Some(v.values[2] * 10 + v.values[3]),
            Check::Ric => match v.glyph[self.dep[0]] {
                Glyph::Digit(_) => Some(v.values[self.dep[0]]),
                Glyph::Letter if v.values[self.dep[0]] == b'X' => Some(10),
                Glyph::Letter => None,
            },
            _ => self.dep.first().map(|&i| v.values[i]),
        }
    }

    /// The check value a token carries, given `dep`, the one that would
    /// make it valid: the first of `dep + 1`, `dep + 2`, ... (modulo the
    /// radix) with which the token, unless it is a card's, is not a
    /// Luhn-valid run of 12 to 19 digits. A token must never pass for a
    /// card: a 13-digit CNP token starting with 4, an 18-digit Chinese ID
    /// token starting with 2200. One value at most makes a run
    /// Luhn-valid, so the second try always succeeds. It depends only on
    /// the token's other characters, so `reveal` recomputes it.
    fn token_dependent(&self, v: &Parsed, dep: u8) -> u8 {
        let radix = self.check.radix();
        let first = (dep + 1) % radix;
        if self.check == Check::Luhn {
            return first;
        }
        let mut probe = v.clone();
        for k in 1..radix {
            let value = (dep + k) % radix;
            self.set_dependent(&mut probe, value);
            if !passes_for_a_card(&probe) {
                return value;
            }
        }
        first
    }

    fn set_dependent(&self, v: &mut Parsed, value: u8) {
        match self.check {
            Check::Iban => {
                v.values[2] = value / 10;
                v.values[3] = value % 10;
            }
            Check::Ric => {
                let i = self.dep[0];
                if value == 10 {
                    v.glyph[i] = Glyph::Letter;
                    v.values[i] = b'X';
                } else {
                    if !matches!(v.glyph[i], Glyph::Digit(_)) {
                        v.glyph[i] = Glyph::Digit('0' as u32);
                    }
                    v.values[i] = value;
                }
            }
            _ => v.values[self.dep[0]] = value,
        }
    }

    /// The value of the dependent digit(s) that makes `v` valid, given all
    /// its other characters; `None` for a kind without one.
    fn dependent(&self, v: &Parsed) -> Option<u8> {
        let d = &v.values;
        let n = d.len();
        let weighted = |w: &[u32]| -> u32 {
            w.iter()
                .zip(d.iter())
                .map(|(&w, &x)| w * x as u32)
                .sum::<u32>()
        };
        Some(match self.check {
            Check::Ssn => return None,
            Check::Luhn => {
                let p = self.dep[0];
                // Luhn sum with the dependent digit as 0, then solve for it.
                let sum_with = |x: u8| -> u32 {
                    (0..n)
                        .map(|i| {
                            let digit = if i == p { x } else { d[i] } as u32;
                            if (n - 1 - i) % 2 == 1 {
                                let dd = digit * 2;
                                if dd > 9 { dd - 9 } else { dd }
                            } else {
                                digit
                            }
                        })
                        .sum()
                };
                (0..10u8).find(|&x| sum_with(x) % 10 == 0)?
            }
            Check::Pesel => {
                let s = weighted(&[1, 3, 7, 9, 1, 3, 7, 9, 1, 3]);
                ((10 - s % 10) % 10) as u8
            }
            Check::Cnp => {
                let r = weighted(&[2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9]) % 11;
                if r == 10 { 1 } else { r as u8 }
            }
            Check::Melli => {
                let s: u32 = (0..n - 1).map(|i| d[i] as u32 * (n - i) as u32).sum();
                let r = (s % 11) as u8;
                if r < 2 { r } else { 11 - r }
            }
            Check::Ric => {
                let s: u32 = (0..n - 1)
                    .map(|i| d[i] as u32 * ((1u32 << (n - 1 - i)) % 11))
                    .sum();
                ((12 - s % 11) % 11) as u8
            }
            Check::Iban => {
                // Rearranged: BBAN, country, "00"; letters as two digits.
                let mut r: u32 = 0;
                let mut push = |x: u32| {
                    r = if x >= 10 {
                        (r * 100 + x) % 97
                    } else {
                        (r * 10 + x) % 97
                    };
                };
                let value = |k: usize| -> u32 {
                    match v.glyph[k] {
                        Glyph::Digit(_) => d[k] as u32,
                        Glyph::Letter => (d[k].to_ascii_uppercase() - b'A') as u32 + 10,
                    }
                };
                for k in (4..n).chain(0..2) {
                    push(value(k));
                }
                push(0);
                push(0);
                (98 - r) as u8
            }
        })
    }
}

/// Every character a check position may hold when `reveal` looks for the
/// original's check value(s).
const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Most check positions the generic scheme handles: the original's check
/// values are found by trying every combination (36^2 at most).
const MAX_CHECKS: usize = 2;

/// A rule as the generic scheme sees it.
#[derive(Clone, Copy)]
pub struct GenericRule<'r> {
    program: &'r Program,
    /// Characters its regex keeps in the compact value.
    keep: &'r [u8],
    /// Its regex and capture group: a token must still be taken by it, so
    /// that `reveal` finds it where `redact` wrote it.
    regex: Option<(&'r regex::bytes::Regex, usize)>,
}

impl GenericRule<'_> {
    /// True when the rule's matcher takes `text` whole.
    fn takes(&self, text: &str) -> bool {
        let Some((re, group)) = self.regex else {
            return true;
        };
        re.captures(text.as_bytes())
            .and_then(|c| c.get(group))
            .is_some_and(|m| m.start() == 0 && m.end() == text.len())
    }
}

/// Whether a rule's token is made by the generic scheme: a rule written in
/// the checksum language (`validate: checks:`) whose kind has no scheme of
/// its own (the regional packs, user rules).
pub fn generic_program(rule: &crate::rules::Rule) -> Option<GenericRule<'_>> {
    use crate::rules::{Matcher, Validator};
    let Validator::Checks(program) = &rule.validator else {
        return None;
    };
    if scheme_name("checks", &rule.kind) != "checks" || rule.kind.contains("track") {
        return None;
    }
    let (keep, regex): (&[u8], _) = match &rule.matcher {
        Matcher::Regex(r) => (&r.keep, Some((&r.regex, r.group))),
        _ => (&[], None),
    };
    Some(GenericRule {
        program,
        keep,
        regex,
    })
}

/// Most FF1 steps of a cycle-walk back into the numbers a rule's regex
/// takes (a Swedish personnummer of 12 digits starts with 18, 19 or 20:
/// 33 steps on average).
const MAX_WALK: usize = 10_000;

use crate::rules::program::Program;

/// Whether a loaded rule would report the text `t` (a token candidate, in
/// isolation): found at medium confidence or above, or found at all by a
/// rule with a check value (which a token can always fail). A rule without
/// a check value (an SSN, an ITIN) matches every number of its shape: it
/// may find a token bare at low confidence, as it finds any such number.
pub fn token_reported(engine: &crate::engine::Engine, t: &str) -> bool {
    use crate::rules::{Confidence, Validator};
    engine.find_all(t.as_bytes()).iter().any(|m| {
        let checkless = match &m.rule.validator {
            Validator::UsSsn => true,
            Validator::Checks(p) => p.check_positions(m.value.len()).is_empty(),
            _ => false,
        };
        m.confidence >= Confidence::Medium || !checkless
    })
}

/// A match seen both as text ([`Parsed`]) and as the compact value the
/// rule's program reads.
struct Aligned {
    v: Parsed,
    comp: Vec<u8>,
    /// Each compact position's index in `v.values`; `None` for a character
    /// the regex keeps (`+`, `-`), which stays as it is.
    to_value: Vec<Option<usize>>,
}

impl Aligned {
    fn new(matched: &str, keep: &[u8]) -> Option<Aligned> {
        let v = Parsed::new(matched)?;
        let (mut comp, mut to_value) = (Vec::new(), Vec::new());
        let mut k = 0;
        for (i, &c) in v.chars.iter().enumerate() {
            if v.at.get(k) == Some(&i) {
                comp.push(match v.glyph[k] {
                    Glyph::Digit(_) => b'0' + v.values[k],
                    Glyph::Letter => v.values[k].to_ascii_uppercase(),
                });
                to_value.push(Some(k));
                k += 1;
            } else if c.is_ascii() && keep.contains(&(c as u8)) {
                comp.push(c as u8);
                to_value.push(None);
            }
        }
        Some(Aligned { v, comp, to_value })
    }

    /// Writes compact character `c` at compact position `p` (a value
    /// character): a digit keeps the script it was written in.
    fn put(&mut self, p: usize, c: u8) {
        self.comp[p] = c;
        let Some(k) = self.to_value[p] else { return };
        if c.is_ascii_digit() {
            if !matches!(self.v.glyph[k], Glyph::Digit(_)) {
                self.v.glyph[k] = Glyph::Digit('0' as u32);
            }
            self.v.values[k] = c - b'0';
        } else {
            self.v.glyph[k] = Glyph::Letter;
            self.v.values[k] = c;
        }
    }
}

/// The generic scheme of one match: FF1 over every digit that is not a
/// check value (dates included), letters and separators kept, check
/// value(s) recomputed.
struct Generic<'a> {
    program: &'a Program,
    rule: GenericRule<'a>,
    kind: &'a str,
    /// Compact positions of the check values.
    checks: Vec<usize>,
    /// Compact positions encrypted, in order.
    free: Vec<usize>,
}

impl<'a> Generic<'a> {
    fn of(rule: GenericRule<'a>, kind: &'a str, a: &Aligned) -> Option<Generic<'a>> {
        let program = rule.program;
        let n = a.comp.len();
        let checks = program.check_positions(n);
        if checks.is_empty()
            || checks.len() > MAX_CHECKS
            || checks.iter().any(|&p| a.to_value[p].is_none())
        {
            return None;
        }
        let free: Vec<usize> = (0..n)
            .filter(|&p| a.comp[p].is_ascii_digit() && !checks.contains(&p))
            .collect();
        (free.len() >= MIN_FREE_DIGITS).then_some(Generic {
            program,
            rule,
            kind,
            checks,
            free,
        })
    }

    /// The FF1 tweak: the kind and every kept character with its place.
    fn tweak(&self, a: &Aligned) -> Vec<u8> {
        let mut t = format!("checks:{}:", self.kind).into_bytes();
        for (p, &c) in a.comp.iter().enumerate() {
            if !self.free.contains(&p) && !self.checks.contains(&p) {
                t.push(p as u8);
                t.push(c);
            }
        }
        t
    }

    fn combo(&self, a: &Aligned) -> Vec<u8> {
        self.checks.iter().map(|&p| a.comp[p]).collect()
    }

    fn set(&self, a: &mut Aligned, combo: &[u8]) {
        for (&p, &c) in self.checks.iter().zip(combo) {
            a.put(p, c);
        }
    }

    fn set_free(&self, a: &mut Aligned, digits: &[u8]) {
        for (&p, &d) in self.free.iter().zip(digits) {
            a.put(p, b'0' + d);
        }
    }

    fn free_digits(&self, a: &Aligned) -> Vec<u8> {
        self.free.iter().map(|&p| a.comp[p] - b'0').collect()
    }

    /// Every combination over `alphabets`, in order.
    fn combos(alphabets: &[&'static [u8]]) -> impl Iterator<Item = Vec<u8>> + use<> {
        let alphabets = alphabets.to_vec();
        let total: usize = alphabets.iter().map(|a| a.len()).product();
        (0..total).map(move |mut i| {
            let mut c = vec![0u8; alphabets.len()];
            for (slot, alpha) in c.iter_mut().zip(&alphabets).rev() {
                *slot = alpha[i % alpha.len()];
                i /= alpha.len();
            }
            c
        })
    }

    /// The check values with which the other characters of `a` pass the
    /// rule, in order: for an original, one (or one per alternative of an
    /// `any_of`), and `reveal` takes the one whose rank the token carries.
    fn completions(&self, a: &Aligned) -> Vec<Vec<u8>> {
        let mut probe = a.comp.clone();
        Self::combos(&vec![ALNUM; self.checks.len()])
            .filter(|c| {
                for (&p, &x) in self.checks.iter().zip(c) {
                    probe[p] = x;
                }
                self.program.accepts(&probe)
            })
            .collect()
    }

    /// Whether the encrypted digits of `a` are in the cycle-walk's domain:
    /// the rule's regex takes the text with each check value set to the
    /// first of its class (so the domain does not depend on the check
    /// values, which `reveal` does not know yet).
    fn in_domain(&self, a: &Aligned, classes: &[&'static [u8]]) -> bool {
        if self.rule.regex.is_none() {
            return true;
        }
        let mut probe = Aligned {
            v: a.v.clone(),
            comp: a.comp.clone(),
            to_value: a.to_value.clone(),
        };
        let first: Vec<u8> = classes.iter().map(|c| c[0]).collect();
        self.set(&mut probe, &first);
        self.rule.takes(&probe.v.render())
    }

    /// The alphabet of each check position: the class of the character
    /// there (a digit stays a digit, a letter a letter), so a token keeps
    /// the format and `reveal` sees the classes `protect` used.
    fn classes(&self, a: &Aligned) -> Vec<&'static [u8]> {
        self.checks
            .iter()
            .map(|&p| {
                if a.comp[p].is_ascii_digit() {
                    DIGITS
                } else {
                    LETTERS
                }
            })
            .collect()
    }

    /// The check values a token may carry, in order: combinations of the
    /// classes starting just after the first one that would make the token
    /// valid (so token check values are spread as real ones are), keeping
    /// those with which the token fails its rule and with which no loaded
    /// rule reports it (`reported`, given the token's text). A token takes
    /// the one whose rank is the original's among its completions. It
    /// depends only on the token's other characters.
    fn token_values<'x>(
        &'x self,
        a: &'x Aligned,
        classes: &[&'static [u8]],
        reported: &'x dyn Fn(&str) -> bool,
    ) -> impl Iterator<Item = Vec<u8>> + 'x {
        let all: Vec<Vec<u8>> = Self::combos(classes).collect();
        let mut probe = a.comp.clone();
        let valid = all.iter().position(|c| {
            for (&p, &x) in self.checks.iter().zip(c) {
                probe[p] = x;
            }
            self.program.accepts(&probe)
        });
        let start = valid.map_or(0, |i| i + 1);
        let n = all.len();
        let mut probe = Aligned {
            v: a.v.clone(),
            comp: a.comp.clone(),
            to_value: a.to_value.clone(),
        };
        (0..n).filter_map(move |k| {
            let c = &all[(start + k) % n];
            self.set(&mut probe, c);
            let text = probe.v.render();
            (!self.program.accepts(&probe.comp) && self.rule.takes(&text) && !reported(&text))
                .then(|| c.clone())
        })
    }
}

impl FpeKey {
    /// The token of `matched`, a match of `rule` (reported as `kind`, with
    /// compact value `compact`), or `None` when it has no token: the
    /// caller masks it. Rules of the checksum language without a scheme
    /// of their own take the generic scheme; `reported` says whether a
    /// loaded rule would report a text (a token must not be reported).
    pub fn protect_match(
        &self,
        rule: &crate::rules::Rule,
        kind: &str,
        matched: &str,
        compact: &[u8],
        reported: &dyn Fn(&str) -> bool,
    ) -> Option<String> {
        let token = match generic_program(rule) {
            Some(g) => self.protect_generic(g, kind, matched, compact, reported),
            None => self.protect(rule.validator.name(), kind, matched),
        }?;
        self.record(&rule.id, &token);
        Some(token)
    }

    /// The original text of a token of the generic scheme made by
    /// [`FpeKey::protect_match`] for `rule` (give the same `reported`), or
    /// `None` when `matched` is not one.
    pub fn reveal_match(
        &self,
        rule: &crate::rules::Rule,
        kind: &str,
        matched: &str,
        reported: &dyn Fn(&str) -> bool,
    ) -> Option<String> {
        match generic_program(rule) {
            Some(g) => self.reveal_generic(g, kind, matched, reported),
            None => self.reveal(rule.validator.name(), kind, matched),
        }
    }

    fn protect_generic(
        &self,
        rule: GenericRule<'_>,
        kind: &str,
        matched: &str,
        compact: &[u8],
        reported: &dyn Fn(&str) -> bool,
    ) -> Option<String> {
        let mut a = Aligned::new(matched, rule.keep)?;
        if a.comp != compact {
            return None; // read differently from the engine: mask
        }
        let g = Generic::of(rule, kind, &a)?;
        // The original must be one of the completions of its other
        // characters, and its rank is what the token carries.
        let original = g.combo(&a);
        let rank = g.completions(&a).iter().position(|c| *c == original)?;
        let classes = g.classes(&a);
        if !g.in_domain(&a, &classes) {
            return None;
        }
        let tweak = g.tweak(&a);
        let mut enc = g.free_digits(&a);
        for _ in 0..MAX_WALK {
            enc = self.ff1.encrypt(&tweak, &enc).ok()?;
            g.set_free(&mut a, &enc);
            if g.in_domain(&a, &classes) {
                let token = g.token_values(&a, &classes, reported).nth(rank)?;
                g.set(&mut a, &token);
                return Some(a.v.render());
            }
        }
        None
    }

    fn reveal_generic(
        &self,
        rule: GenericRule<'_>,
        kind: &str,
        matched: &str,
        reported: &dyn Fn(&str) -> bool,
    ) -> Option<String> {
        let mut a = Aligned::new(matched, rule.keep)?;
        let g = Generic::of(rule, kind, &a)?;
        let token = g.combo(&a);
        let classes = g.classes(&a);
        let rank = g
            .token_values(&a, &classes, reported)
            .position(|c| c == token)?;
        let tweak = g.tweak(&a);
        let mut dec = g.free_digits(&a);
        for _ in 0..MAX_WALK {
            dec = self.ff1.decrypt(&tweak, &dec).ok()?;
            g.set_free(&mut a, &dec);
            if g.in_domain(&a, &classes) {
                let original = g.completions(&a).into_iter().nth(rank)?;
                g.set(&mut a, &original);
                return Some(a.v.render());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn numerals(s: &str) -> Vec<u8> {
        s.chars().map(|c| c.to_digit(36).unwrap() as u8).collect()
    }

    fn text(x: &[u8]) -> String {
        x.iter()
            .map(|&d| char::from_digit(d as u32, 36).unwrap())
            .collect()
    }

    /// NIST SP 800-38G FF1 samples 1 to 9 (AES-128, -192, -256).
    #[test]
    fn ff1_matches_nist_samples() {
        let k128 = "2B7E151628AED2A6ABF7158809CF4F3C";
        let k192 = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F";
        let k256 = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94";
        let t10 = "39383736353433323130";
        let t36 = "3737373770717273373737";
        let p10 = "0123456789";
        let p36 = "0123456789abcdefghi";
        let samples = [
            (k128, 10, "", p10, "2433477484"),
            (k128, 10, t10, p10, "6124200773"),
            (k128, 36, t36, p36, "a9tv40mll9kdu509eum"),
            (k192, 10, "", p10, "2830668132"),
            (k192, 10, t10, p10, "2496655549"),
            (k192, 36, t36, p36, "xbj3kv35jrawxv32ysr"),
            (k256, 10, "", p10, "6657667009"),
            (k256, 10, t10, p10, "1001623463"),
            (k256, 36, t36, p36, "xs8a0azh2avyalyzuwd"),
        ];
        for (i, (key, radix, tweak, pt, ct)) in samples.iter().enumerate() {
            let ff1 = Ff1::new(&hex(key), *radix).unwrap();
            let tw = hex(tweak);
            let enc = ff1.encrypt(&tw, &numerals(pt)).unwrap();
            assert_eq!(text(&enc), *ct, "FF1 sample {}", i + 1);
            let dec = ff1.decrypt(&tw, &enc).unwrap();
            assert_eq!(text(&dec), *pt, "FF1 sample {} decrypt", i + 1);
        }
    }

    fn key(b: u8) -> FpeKey {
        FpeKey::from_bytes(&[b; 32])
    }

    #[test]
    fn card_token_keeps_format_and_fails_luhn() {
        let k = key(7);
        let card = "4111 1111 1111 1111";
        let t = k.protect("card", "card_visa", card).unwrap();
        assert_eq!(t.len(), card.len());
        // 16 digits: the first 5 and the last 4 stay.
        assert!(t.starts_with("4111 1"), "{t}");
        assert!(t.ends_with(" 1111"), "{t}");
        assert_eq!(t.as_bytes()[4], b' ');
        let compact: Vec<u8> = t.bytes().filter(u8::is_ascii_digit).collect();
        assert!(!crate::validate::luhn(&compact), "token passes Luhn");
        assert_eq!(k.protect("card", "card_visa", card).unwrap(), t);
        assert_ne!(key(8).protect("card", "card_visa", card).unwrap(), t);
        assert_eq!(k.reveal("card", "card_visa", &t).unwrap(), card);
        // A real card is not a token.
        assert_eq!(k.reveal("card", "card_visa", card), None);
    }

    #[test]
    fn persian_digits_stay_persian() {
        let k = key(1);
        let melli = "۰۰۱۳۵۴۲۴۱۹"; // 0013542419
        let t = k.protect("ir_melli", "ir_melli", melli).unwrap();
        assert!(
            t.chars().all(|c| ('\u{06F0}'..='\u{06F9}').contains(&c)),
            "{t}"
        );
        assert_eq!(k.reveal("ir_melli", "ir_melli", &t).unwrap(), melli);
    }

    /// Check digits 01 are valid modulo 97 but not the 98 that reveal
    /// recomputes: such an IBAN is masked rather than tokenised wrongly.
    #[test]
    fn iban_with_noncanonical_check_digits_has_no_token() {
        let k = key(1);
        assert!(
            k.protect("iban", "iban", "DE98235927816993671261")
                .is_some()
        );
        assert_eq!(k.protect("iban", "iban", "DE01235927816993671261"), None);
    }

    #[test]
    fn short_values_and_track_data_have_no_token() {
        let k = key(1);
        assert_eq!(k.protect("luhn", "x", "12345674"), None);
        assert_eq!(k.protect("card", "card_track2", "4111111111111111"), None);
        assert_eq!(k.protect("none", "custom", "123456789012"), None);
    }

    #[test]
    fn key_file_must_be_private_and_well_formed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, [3u8; 32]).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = FpeKey::load(&p).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(FpeKey::load(&p).is_ok());
        std::fs::write(&p, "not a key\n").unwrap();
        assert!(matches!(FpeKey::load(&p), Err(FpeError::Format { .. })));
        std::fs::write(&p, format!("{}\n", "ab".repeat(32))).unwrap();
        assert!(FpeKey::load(&p).is_ok());
    }

    #[test]
    fn token_macs_are_keyed_and_bound_to_the_rule() {
        let k = key(1);
        let a = k.token_mac("fi-hetu", "280650-925A");
        assert_eq!(a, k.token_mac("fi-hetu", "280650-925A"));
        assert_ne!(a, k.token_mac("se-personnummer", "280650-925A"));
        assert_ne!(a, k.token_mac("fi-hetu", "280650-925B"));
        assert_ne!(a, key(2).token_mac("fi-hetu", "280650-925A"));
    }

    #[test]
    fn token_list_names_the_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("list");
        let good = "ab".repeat(16);
        std::fs::write(&p, format!("# header\n{good}\n\nnot hex\n")).unwrap();
        let e = TokenList::load(&p).unwrap_err();
        assert!(
            matches!(e, FpeError::TokenListFormat { line: 4, .. }),
            "{e}"
        );
        std::fs::write(&p, format!("# header\n{good}\n")).unwrap();
        let l = TokenList::load(&p).unwrap();
        assert_eq!(l.len(), 1);
        assert!(l.contains(&[0xab; 16]));
    }

    /// `check_positions` of shipped programs: one check digit at the end,
    /// two for a Brazilian CPF, the middle one of an Austrian VNR, none
    /// for a Danish CPR.
    #[test]
    fn check_positions_come_from_the_program() {
        let rules = crate::rules::RuleSet::builtin_all().unwrap();
        let positions = |kind: &str, len: usize| -> Vec<usize> {
            let r = rules.rules.iter().find(|r| r.kind == kind).unwrap();
            match &r.validator {
                crate::rules::Validator::Checks(p) => p.check_positions(len),
                _ => panic!("{kind} is not in the checksum language"),
            }
        };
        assert_eq!(positions("nl_bsn", 9), vec![8]);
        assert_eq!(positions("br_cpf", 11), vec![9, 10]);
        assert_eq!(positions("at_vnr", 10), vec![3]);
        assert_eq!(positions("fr_nir", 15), vec![13, 14]);
        assert!(positions("dk_cpr", 10).is_empty());
        assert!(positions("cz_rc", 9).is_empty());
        assert_eq!(positions("cz_rc", 10), vec![9]);
    }
}
