//! `leakhound keygen`, `leakhound verify` and `leakhound diff`: making keys
//! for, checking and comparing proofs of scan (`scan --proof`; see
//! docs/proof.md). Exit codes of verify: 0 valid and unchanged, 1 valid but
//! files changed, 2 invalid or an error; of diff: 0 no new findings, 1 new
//! findings, 2 invalid proofs or an error.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::Exit;
use crate::fingerprint::Fingerprinter;
use crate::proof::Proof;
use crate::proof::check;
use crate::proof::sign::{self, SignatureCheck};

/// How `verify` and `diff` print their findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Lines for people.
    Human,
    /// One JSON document (for pipelines; errors still go to stderr).
    Json,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The private key file to create (mode 0600); the public key goes to FILE.pub.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The proof (`leakhound scan --proof FILE`).
    #[arg(value_name = "PROOF")]
    pub proof: PathBuf,
    /// The public key the proof must be signed with (`keygen`'s FILE.pub).
    /// Without it a valid signature only shows the proof was not changed
    /// since whoever holds the key it names signed it.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Hash the files under DIR (the scan root) again and list what is
    /// new, changed or gone. Needs the fingerprint key the scan used.
    #[arg(long, value_name = "DIR")]
    pub against: Option<PathBuf>,
    /// Read the fingerprint key from FILE (else LEAKHOUND_FINGERPRINT_KEY,
    /// else the local key in the state directory).
    #[arg(long, value_name = "FILE")]
    pub fingerprint_key_file: Option<PathBuf>,
    /// Where the local fingerprint key is kept.
    #[arg(long, value_name = "DIR", env = "LEAKHOUND_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier proof.
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The later proof.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// The public key both proofs must be signed with.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
}

pub fn keygen(args: KeygenArgs) -> Exit {
    match sign::keygen(&args.output) {
        Ok(vk) => {
            println!(
                "private key: {} (mode 0600: keep it secret)\npublic key:  {} ({})",
                args.output.display(),
                sign::public_path(&args.output).display(),
                crate::proof::hex(vk.as_bytes())
            );
            Exit::Clean
        }
        Err(e) => {
            eprintln!("leakhound: error: {e}");
            Exit::Error
        }
    }
}

fn load_key(path: &Option<PathBuf>) -> Result<Option<ed25519_dalek::VerifyingKey>, Exit> {
    match path {
        None => Ok(None),
        Some(p) => sign::load_public_key(p).map(Some).map_err(|e| {
            eprintln!("leakhound: error: {e}");
            Exit::Error
        }),
    }
}

/// Checks a proof and prints what was found (in human form); returns
/// whether it is valid, and the same as JSON.
fn print_check(
    name: &str,
    proof: &Proof,
    public_key: Option<&ed25519_dalek::VerifyingKey>,
    format: CheckFormat,
) -> (bool, serde_json::Value) {
    let v = check::verify(proof, public_key);
    let (sig_state, signer) = match &v.signature {
        SignatureCheck::Trusted => (
            "trusted",
            proof.signature.as_ref().map(|s| s.public_key.clone()),
        ),
        SignatureCheck::ValidUntrusted { public_key } => ("untrusted", Some(public_key.clone())),
        SignatureCheck::Unsigned => ("unsigned", None),
        SignatureCheck::Invalid(_) => ("invalid", None),
    };
    let doc = json!({
        "proof": name,
        "valid": v.valid(),
        "problems": v.problems(),
        "signature": sig_state,
        "signed_by": signer,
        "scan_id": proof.scan_id,
        "host": proof.host,
        "started": proof.started,
        "ended": proof.ended,
        "counts": proof.counts,
        "merkle_root": proof.merkle_root,
    });
    if format == CheckFormat::Json {
        return (v.valid(), doc);
    }
    if !v.valid() {
        println!("{name}: INVALID");
        for p in v.problems() {
            println!("  {p}");
        }
        return (false, doc);
    }
    let sig = match &v.signature {
        SignatureCheck::Trusted => "signed with the given public key".to_string(),
        SignatureCheck::ValidUntrusted { public_key } => format!(
            "signed by key {public_key} (not checked against a key you trust: pass --public-key)"
        ),
        SignatureCheck::Unsigned => {
            "NOT SIGNED: the root only shows the entries agree with each other".to_string()
        }
        SignatureCheck::Invalid(_) => unreachable!("valid() is false for an invalid signature"),
    };
    println!(
        "{name}: valid; {} files ({} scanned, {} partial, {} skipped, {} error), {} findings; scan {} on {} from {} to {}; Merkle root {}; {sig}",
        proof.counts.files,
        proof.counts.scanned,
        proof.counts.partial,
        proof.counts.skipped,
        proof.counts.error,
        proof.counts.findings,
        proof.scan_id,
        proof.host,
        proof.started,
        proof.ended,
        proof.merkle_root
    );
    (true, doc)
}

/// Prints a JSON document on stdout.
fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub fn verify(args: VerifyArgs) -> Exit {
    let proof = match Proof::load(&args.proof) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("leakhound: error: {e}");
            return Exit::Error;
        }
    };
    let key = match load_key(&args.public_key) {
        Ok(k) => k,
        Err(e) => return e,
    };
    let json = args.format == CheckFormat::Json;
    let (valid, mut doc) = print_check(
        &args.proof.display().to_string(),
        &proof,
        key.as_ref(),
        args.format,
    );
    if !valid {
        if json {
            doc["exit_code"] = (Exit::Error as i32).into();
            print_json(&doc);
        }
        return Exit::Error;
    }
    let Some(dir) = &args.against else {
        if json {
            doc["exit_code"] = (Exit::Clean as i32).into();
            print_json(&doc);
        }
        return Exit::Clean;
    };
    let fp = match Fingerprinter::resolve(
        args.fingerprint_key_file.as_deref(),
        args.state_dir
            .clone()
            .or_else(crate::fingerprint::default_state_dir)
            .as_deref(),
    ) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("leakhound: error: {e}");
            return Exit::Error;
        }
    };
    match check::against(&proof, dir, &fp) {
        Ok(ch) => {
            let exit = if ch.any() {
                Exit::Findings
            } else {
                Exit::Clean
            };
            if json {
                doc["against"] = json!({
                    "dir": dir.display().to_string(),
                    "unchanged": ch.unchanged,
                    "new": ch.new,
                    "changed": ch.changed,
                    "gone": ch.gone,
                    "unhashed": ch.unhashed,
                });
                doc["exit_code"] = (exit as i32).into();
                print_json(&doc);
                return exit;
            }
            for (label, list) in [
                ("new", &ch.new),
                ("changed", &ch.changed),
                ("gone", &ch.gone),
            ] {
                for p in list {
                    println!("{label:8} {p}");
                }
            }
            for p in &ch.unhashed {
                println!("unhashed {p} (not read at scan time: cannot be compared)");
            }
            println!(
                "{}: {} unchanged, {} new, {} changed, {} gone",
                dir.display(),
                ch.unchanged,
                ch.new.len(),
                ch.changed.len(),
                ch.gone.len()
            );
            exit
        }
        Err(e) => {
            eprintln!("leakhound: error: {e}");
            Exit::Error
        }
    }
}

pub fn diff(args: DiffArgs) -> Exit {
    let key = match load_key(&args.public_key) {
        Ok(k) => k,
        Err(e) => return e,
    };
    let json = args.format == CheckFormat::Json;
    let mut proofs = Vec::new();
    let mut checks = Vec::new();
    for p in [&args.old, &args.new] {
        let proof = match Proof::load(p) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("leakhound: error: {e}");
                return Exit::Error;
            }
        };
        let (valid, doc) = print_check(&p.display().to_string(), &proof, key.as_ref(), args.format);
        checks.push(doc);
        if !valid {
            if json {
                print_json(&json!({"proofs": checks, "exit_code": Exit::Error as i32}));
            }
            return Exit::Error;
        }
        proofs.push(proof);
    }
    let d = check::diff(&proofs[0], &proofs[1]);
    let exit = if d.keys_differ {
        Exit::Error
    } else if d.new_findings.is_empty() {
        Exit::Clean
    } else {
        Exit::Findings
    };
    if json {
        let pairs = |v: &[(String, String)]| -> Vec<serde_json::Value> {
            v.iter()
                .map(|(p, f)| json!({"path": p, "finding": f}))
                .collect()
        };
        print_json(&json!({
            "proofs": checks,
            "new_findings": pairs(&d.new_findings),
            "resolved_findings": pairs(&d.resolved_findings),
            "appeared": d.appeared,
            "changed": d.changed,
            "disappeared": d.disappeared,
            "keys_differ": d.keys_differ,
            "exit_code": exit as i32,
        }));
    }
    if !json {
        print_diff(&d);
    }
    if d.keys_differ {
        eprintln!(
            "leakhound: error: the proofs were made with different fingerprint keys: findings \
             cannot be compared (files were compared by size and time); scan with the same key"
        );
    }
    exit
}

fn print_diff(d: &check::ProofDiff) {
    for (path, id) in &d.new_findings {
        println!("new finding      {path}  {id}");
    }
    for (path, id) in &d.resolved_findings {
        println!("resolved finding {path}  {id}");
    }
    for (label, list) in [
        ("appeared", &d.appeared),
        ("changed", &d.changed),
        ("disappeared", &d.disappeared),
    ] {
        for p in list {
            println!("{label:16} {p}");
        }
    }
    println!(
        "{} new findings, {} resolved; {} files appeared, {} changed, {} disappeared",
        d.new_findings.len(),
        d.resolved_findings.len(),
        d.appeared.len(),
        d.changed.len(),
        d.disappeared.len()
    );
}
