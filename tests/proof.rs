//! Proof of scan end to end: `keygen`, `scan --proof --signing-key`,
//! `verify` (signature, Merkle root, files on disk) and `diff`, with the
//! real binary on real files. Every way of tampering with a proof must give
//! exit 2; a file changed on disk exit 1.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_leakhound");
const KEY: &str = "proof-test-fingerprint-key";
const VISA: &str = "4526018159083012";
const MASTERCARD: &str = "5478778932879219";
const SSN: &str = "536-22-8726";

fn lh(state: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", state)
        .env_remove("LEAKHOUND_LOG")
        .timeout(Duration::from_secs(120));
    c
}

struct Setup {
    tmp: tempfile::TempDir,
    state: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let s = Setup {
            tmp: tempfile::tempdir().unwrap(),
            state: tempfile::tempdir().unwrap(),
        };
        s.write("share/a.csv", &format!("name,card\nx,{VISA}\n"));
        s.write("share/b.txt", &format!("ssn {SSN}\n"));
        s.write("share/sub/c.txt", "nothing here\n");
        s.write("share/sub/d.log", &format!("paid with {MASTERCARD}\n"));
        s
    }
    fn share(&self) -> PathBuf {
        self.tmp.path().join("share")
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.p(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    fn cmd(&self) -> Command {
        lh(self.state.path())
    }
    fn keygen(&self) -> PathBuf {
        let key = self.p("signing.key");
        self.cmd()
            .arg("keygen")
            .arg("-o")
            .arg(&key)
            .assert()
            .success();
        key
    }
    /// Scans the share into `proof` (signed with `key` if given).
    fn scan(&self, proof: &str, key: Option<&Path>) -> PathBuf {
        let out = self.p(proof);
        let mut c = self.cmd();
        c.arg("scan").arg(self.share()).arg("--proof").arg(&out);
        if let Some(k) = key {
            c.arg("--signing-key").arg(k);
        }
        c.args(["--format", "jsonl", "-o"])
            .arg(self.p("scan.jsonl"));
        c.assert().code(1);
        out
    }
    fn verify(&self, proof: &Path, extra: &[&str]) -> (i32, String) {
        let out = self
            .cmd()
            .arg("verify")
            .arg(proof)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

fn load(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn save(p: &Path, v: &Value) {
    std::fs::write(p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

#[test]
fn keygen_makes_a_private_key_0600_and_never_overwrites_it() {
    use std::os::unix::fs::PermissionsExt;
    let s = Setup::new();
    let key = s.keygen();
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(s.p("signing.key.pub").exists());
    let before = std::fs::read(&key).unwrap();
    let out = s.cmd().arg("keygen").arg("-o").arg(&key).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&key).unwrap(), before);
}

#[test]
fn signed_proof_verifies_and_holds_no_raw_value() {
    let s = Setup::new();
    let key = s.keygen();
    let proof = s.scan("p.json", Some(&key));
    let pubkey = s.p("signing.key.pub");
    let (code, out) = s.verify(&proof, &["--public-key", pubkey.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("signed with the given public key"), "{out}");
    let (code, out) = s.verify(&proof, &["--against", s.share().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("4 unchanged, 0 new, 0 changed, 0 gone"),
        "{out}"
    );

    let text = without_long_tokens(&std::fs::read_to_string(&proof).unwrap());
    for raw in [VISA, MASTERCARD, SSN, "536228726", "452601", "8726"] {
        assert!(
            !text.contains(raw),
            "raw or masked value {raw} in the proof"
        );
    }
    let v = load(&proof);
    assert_eq!(v["counts"]["files"], 4);
    assert_eq!(v["counts"]["findings"], 3);
    let paths: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["a.csv", "b.txt", "sub/c.txt", "sub/d.log"]);
    // Keyed: not the plain SHA-256 of the content.
    let plain = {
        use sha2::Digest;
        let d = sha2::Sha256::digest(std::fs::read(s.p("share/sub/c.txt")).unwrap());
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    assert!(!text.contains(&plain));
}

#[test]
fn d_proof_verify_against_catches_a_changed_a_new_and_a_gone_file() {
    let s = Setup::new();
    let proof = s.scan("p.json", None);
    s.write("share/sub/c.txt", "nothing here either\n");
    s.write("share/new.txt", "hello\n");
    std::fs::remove_file(s.p("share/b.txt")).unwrap();
    let (code, out) = s.verify(&proof, &["--against", s.share().to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("changed  sub/c.txt"), "{out}");
    assert!(out.contains("new      new.txt"), "{out}");
    assert!(out.contains("gone     b.txt"), "{out}");
    let out = s
        .cmd()
        .arg("verify")
        .arg(&proof)
        .arg("--against")
        .arg(s.share())
        .args(["-f", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["signature"], "unsigned");
    assert_eq!(v["against"]["changed"], serde_json::json!(["sub/c.txt"]));
    assert_eq!(v["against"]["gone"], serde_json::json!(["b.txt"]));
    assert_eq!(v["exit_code"], 1);
    // Another fingerprint key cannot compare keyed hashes: an error, not "changed".
    let out = s
        .cmd()
        .env("LEAKHOUND_FINGERPRINT_KEY", "another key")
        .arg("verify")
        .arg(&proof)
        .arg("--against")
        .arg(s.share())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another fingerprint key"));
}

/// Tampering with an unsigned proof is caught by the Merkle root; with a
/// signed one even a recomputed root does not help.
#[test]
fn d_proof_verify_catches_a_changed_entry_a_reordered_or_dropped_one_and_a_bad_signature() {
    let s = Setup::new();
    let key = s.keygen();
    let pubkey = s.p("signing.key.pub");
    let pk = ["--public-key", pubkey.to_str().unwrap()];
    let unsigned = s.scan("u.json", None);
    let signed = s.scan("s.json", Some(&key));

    let tamper = |src: &Path, name: &str, f: &dyn Fn(&mut Value)| -> PathBuf {
        let mut v = load(src);
        f(&mut v);
        let p = s.p(name);
        save(&p, &v);
        p
    };
    // A changed entry: a finding hidden.
    let p = tamper(&unsigned, "t1.json", &|v| {
        v["entries"][0]["finding_ids"] = Value::Array(vec![]);
    });
    let (code, out) = s.verify(&p, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("Merkle root does not match"), "{out}");
    // A changed content hash.
    let p = tamper(&unsigned, "t2.json", &|v| {
        v["entries"][2]["content_hmac"] = Value::String("00".repeat(32));
    });
    assert_eq!(s.verify(&p, &[]).0, 2);
    // Reordered.
    let p = tamper(&unsigned, "t3.json", &|v| {
        v["entries"].as_array_mut().unwrap().swap(0, 1);
    });
    let (code, out) = s.verify(&p, &[]);
    assert_eq!(code, 2, "{out}");
    // Dropped.
    let p = tamper(&unsigned, "t4.json", &|v| {
        v["entries"].as_array_mut().unwrap().remove(1);
    });
    assert_eq!(s.verify(&p, &[]).0, 2);

    // Signed: dropping an entry and fixing the root and counts up.
    let mut v = load(&signed);
    v["entries"].as_array_mut().unwrap().remove(1);
    let mut proof: leakhound::proof::Proof = serde_json::from_value(v).unwrap();
    proof.counts.files -= 1;
    proof.counts.scanned -= 1;
    proof.counts.findings -= 1;
    proof.merkle_root = proof.compute_root();
    let p = s.p("t5.json");
    save(&p, &serde_json::to_value(&proof).unwrap());
    let (code, out) = s.verify(&p, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("bad signature"), "{out}");
    // A signature byte flipped.
    let p = tamper(&signed, "t6.json", &|v| {
        let sig = v["signature"]["value"].as_str().unwrap().to_string();
        let flipped = match sig.strip_prefix('0') {
            Some(rest) => format!("1{rest}"),
            None => format!("0{}", &sig[1..]),
        };
        v["signature"]["value"] = Value::String(flipped);
    });
    assert_eq!(s.verify(&p, &pk).0, 2);
    // Re-signed by somebody else's key: valid alone, rejected with ours.
    let other = s.p("other.key");
    s.cmd()
        .arg("keygen")
        .arg("-o")
        .arg(&other)
        .assert()
        .success();
    let resigned = s.scan("r.json", Some(&other));
    assert_eq!(s.verify(&resigned, &[]).0, 0);
    let (code, out) = s.verify(&resigned, &pk);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("another key"), "{out}");
    // Unsigned, but a key was required.
    assert_eq!(s.verify(&unsigned, &pk).0, 2);
    // The intact ones pass.
    assert_eq!(s.verify(&signed, &pk).0, 0);
    assert_eq!(s.verify(&unsigned, &[]).0, 0);
}

#[test]
fn d_proof_diff_shows_a_new_finding_a_resolved_one_and_file_changes() {
    let s = Setup::new();
    let old = s.scan("old.json", None);
    // The card in a.csv is removed; a new SSN appears in c.txt; d.log goes;
    // e.txt appears.
    s.write("share/a.csv", "name,card\nx,none\n");
    s.write("share/sub/c.txt", &format!("ssn {SSN} and card {VISA}\n"));
    std::fs::remove_file(s.p("share/sub/d.log")).unwrap();
    s.write("share/e.txt", "plain\n");
    let new = s.scan("new.json", None);
    let out = s.cmd().arg("diff").arg(&old).arg(&new).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("new finding      sub/c.txt  us-ssn:"),
        "{text}"
    );
    assert!(
        text.contains("new finding      sub/c.txt  payment-card:"),
        "{text}"
    );
    assert!(
        text.contains("resolved finding a.csv  payment-card:"),
        "{text}"
    );
    assert!(
        text.contains("resolved finding sub/d.log  payment-card:"),
        "{text}"
    );
    assert!(text.contains("appeared         e.txt"), "{text}");
    assert!(text.contains("disappeared      sub/d.log"), "{text}");
    assert!(text.contains("changed          a.csv"), "{text}");
    assert!(!text.contains("changed          b.txt"), "{text}");
    // No change: exit 0.
    let out = s.cmd().arg("diff").arg(&new).arg(&new).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // The same as JSON, for pipelines.
    let out = s
        .cmd()
        .arg("diff")
        .arg(&old)
        .arg(&new)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["new_findings"].as_array().unwrap().len(), 2);
    assert!(
        v["resolved_findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "a.csv")
    );
    assert_eq!(v["appeared"], serde_json::json!(["e.txt"]));
    assert_eq!(v["proofs"][0]["valid"], true);
}

#[test]
fn verify_against_does_not_call_files_the_scan_excluded_new() {
    let s = Setup::new();
    s.write("share/.leakhound.yaml", "exclude: [\"sub/**\"]\n");
    let proof = s.p("p.json");
    s.cmd()
        .arg("scan")
        .arg(s.share())
        .args(["--exclude", "*.csv", "--proof"])
        .arg(&proof)
        .args(["--format", "jsonl", "-o"])
        .arg(s.p("scan.jsonl"))
        .assert()
        .code(1);
    let v = load(&proof);
    let paths: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(!paths.contains(&"a.csv"), "{paths:?}");
    assert!(!paths.contains(&"sub/c.txt"), "{paths:?}");
    let (code, out) = s.verify(&proof, &["--against", s.share().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 new"), "{out}");
}

#[test]
fn every_file_visited_is_an_entry_even_when_not_read() {
    let s = Setup::new();
    std::os::unix::fs::symlink("a.csv", s.p("share/link.csv")).unwrap();
    let proof = s.scan("p.json", None);
    let v = load(&proof);
    let link = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "link.csv")
        .expect("the skipped link has an entry");
    assert_eq!(link["status"], "skipped");
    assert!(link["content_hmac"].is_null());
    assert!(link["reason"].as_str().unwrap().contains("symbolic link"));
    assert_eq!(v["counts"]["skipped"], 1);
    assert_eq!(v["counts"]["files"], 5);
    let (code, out) = s.verify(&proof, &["--against", s.share().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("unhashed link.csv"), "{out}");
}

/// SARIF reports paths relative to the root; two roots make the current
/// directory the root. The proof must still find and hash every file.
#[test]
fn files_are_hashed_whatever_the_report_paths_are_relative_to() {
    let s = Setup::new();
    let sarif = s.p("p-sarif.json");
    s.cmd()
        .arg("scan")
        .arg(s.share())
        .args(["--format", "sarif", "-o"])
        .arg(s.p("out.sarif"))
        .arg("--proof")
        .arg(&sarif)
        .assert()
        .code(1);
    let two = s.p("p-two.json");
    s.cmd()
        .current_dir(s.tmp.path())
        .args([
            "scan",
            "share/sub",
            "share/a.csv",
            "--format",
            "jsonl",
            "-o",
            "x.jsonl",
            "--proof",
        ])
        .arg(&two)
        .assert()
        .code(1);
    for (p, want) in [(&sarif, 4), (&two, 3)] {
        let v = load(p);
        let entries = v["entries"].as_array().unwrap();
        assert_eq!(entries.len(), want, "{v}");
        for e in entries {
            assert!(e["content_hmac"].is_string(), "not hashed: {e}");
        }
    }
    let v = load(&two);
    assert_eq!(v["root"], ".");
    assert_eq!(v["entries"][0]["path"], "share/a.csv");
    let (code, out) = s.verify(
        &two,
        &[
            "--against",
            s.tmp.path().join("share/sub").to_str().unwrap(),
        ],
    );
    // Entries are relative to `.`: against the sub directory they are all gone.
    assert_eq!(code, 1, "{out}");
}

/// D11 through the side outputs: a number in a file or directory name is
/// masked in the proof and in the HTML report as in every other output,
/// and the named file is still hashed (found on disk by its real name).
#[test]
fn d11_numbers_in_names_are_masked_in_the_proof_and_the_html_report() {
    let s = Setup::new();
    s.write(&format!("share/{VISA}/notes.txt"), "nothing\n");
    s.write(&format!("share/{MASTERCARD}.csv"), "nothing either\n");
    let proof = s.p("p.json");
    let html = s.p("r.html");
    s.cmd()
        .arg("scan")
        .arg(s.share())
        .args(["--progress", "never", "--format", "jsonl", "-o"])
        .arg(s.p("out.jsonl"))
        .arg("--proof")
        .arg(&proof)
        .arg("--report")
        .arg(&html)
        .assert()
        .code(1);
    for f in [&proof, &html, &s.p("out.jsonl")] {
        let text = std::fs::read_to_string(f).unwrap();
        for raw in [VISA, MASTERCARD] {
            assert!(!text.contains(raw), "{} holds a raw number", f.display());
        }
    }
    let p: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    let named = p["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"].as_str().unwrap().ends_with("9219.csv"))
        .expect("an entry for the file named by a number");
    assert!(
        named["content_hmac"].is_string(),
        "the named file was not hashed: {named}"
    );
    // verify --against finds the named files by their masked names (none
    // gone, none new), and a new one is listed masked.
    let verify = |s: &Setup| {
        s.cmd()
            .arg("verify")
            .arg(&proof)
            .arg("--against")
            .arg(s.share())
            .output()
            .unwrap()
    };
    let out = verify(&s);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    s.write("share/4929731804276152.txt", "new\n");
    let out = verify(&s);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains("4929731804276152"), "{text}");
    assert!(text.contains("492973******6152.txt"), "{text}");
}

/// The proof with its hashes, fingerprints and signature blanked out:
/// runs of 32 or more letters, digits, `+` and `=` (hex, base64). Four
/// digits such as `8726` turn up by chance in a page of hex (the test
/// failed that way once), while a raw or masked number is never such a run
/// (16 digits at most, or separated).
fn without_long_tokens(text: &str) -> String {
    let is_token = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '=';
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once('\n')) {
        if is_token(c) {
            run.push(c);
            continue;
        }
        if run.len() < 32 {
            out.push_str(&run);
        } else {
            out.push('_');
        }
        run.clear();
        out.push(c);
    }
    out
}
