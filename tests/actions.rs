//! Redact and quarantine, end to end: the binary on real files, a real
//! SQLite manifest, and the attacks a shared directory invites (symbolic
//! links, one swapped in after the scan, hard links, FIFOs, paths outside
//! the roots). Every test also checks that no raw number reached the
//! output, the manifest or a tombstone.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

use leakhound::actions::{ActionSettings, Actor};
use leakhound::config::policy::{ActionKind, Policy};
use leakhound::engine::Engine;
use leakhound::fingerprint::{Fingerprinter, KeySource};
use leakhound::report::event::Event;
use leakhound::rules::{Confidence, RuleSet};

const BIN: &str = env!("CARGO_BIN_EXE_leakhound");

const VISA: &str = "4526018159083012";
const VISA_GROUPED: &str = "4526 0181 5908 3012";
const MC_DASHED: &str = "5478-7789-3287-9219";
const MC: &str = "5478778932879219";
const SSN: &str = "536-22-8726";
const RAW: &[&str] = &[VISA, VISA_GROUPED, MC, MC_DASHED, SSN, "536228726"];

struct Env {
    root: TempDir,
    state: TempDir,
    store: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            root: tempfile::tempdir().unwrap(),
            state: tempfile::tempdir().unwrap(),
            store: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, bytes).unwrap();
        p
    }

    fn store_dir(&self) -> PathBuf {
        self.store.path().join("q")
    }

    fn lh(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("LEAKHOUND_FINGERPRINT_KEY", "actions-test-key")
            .env("LEAKHOUND_STATE_DIR", self.state.path())
            .env_remove("LEAKHOUND_CONFIG")
            .env_remove("LEAKHOUND_FAULT")
            .timeout(Duration::from_secs(120));
        c
    }

    /// `scan ROOT --format jsonl` with extra arguments; returns the events.
    fn scan(&self, extra: &[&str]) -> Vec<Value> {
        let mut c = self.lh();
        c.arg("scan")
            .arg(self.root.path())
            .args([
                "--format",
                "jsonl",
                "--progress",
                "never",
                "--quarantine-dir",
            ])
            .arg(self.store_dir())
            .args(extra);
        let out = c.output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_no_raw("scan output", text.as_bytes());
        assert_no_raw("scan stderr", &out.stderr);
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn quarantine(&self, args: &[&str]) -> std::process::Output {
        let out = self
            .lh()
            .arg("quarantine")
            .args(args)
            .arg("--quarantine-dir")
            .arg(self.store_dir())
            .output()
            .unwrap();
        assert_no_raw("quarantine output", &out.stdout);
        assert_no_raw("quarantine stderr", &out.stderr);
        out
    }
}

fn actions(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["type"] == "action").collect()
}

fn action_for<'a>(events: &'a [Value], file: &str) -> &'a Value {
    actions(events)
        .into_iter()
        .find(|e| e["path"].as_str().unwrap().ends_with(file))
        .unwrap_or_else(|| panic!("no action for {file}: {events:#?}"))
}

fn assert_no_raw(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for raw in RAW {
        assert!(!text.contains(raw), "{what} holds a raw number {raw}");
    }
}

/// Every byte the store keeps outside the objects: the manifest and its
/// WAL, which must hold masked values only.
fn assert_manifest_clean(store: &Path) {
    for name in ["manifest.db", "manifest.db-wal"] {
        if let Ok(bytes) = fs::read(store.join(name)) {
            assert_no_raw(name, &bytes);
        }
    }
}

fn utf16(s: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut units: Vec<u16> = Vec::new();
    if bom {
        units.push(0xFEFF);
    }
    units.extend(s.encode_utf16());
    for u in units {
        out.extend_from_slice(&if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        });
    }
    out
}

#[test]
fn redact_masks_in_place_keeping_separators_mode_and_last4() {
    let env = Env::new();
    let csv = format!("name,card,ssn\nbob,{VISA_GROUPED},\"SSN {SSN}\"\nann,{MC_DASHED},x\n");
    let p = env.write("exports/customers.csv", csv.as_bytes());
    fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
    let ino_dir = fs::metadata(p.parent().unwrap()).unwrap().ino();
    let events = env.scan(&["--action", "redact"]);
    let a = action_for(&events, "customers.csv");
    assert_eq!(a["action"], "redacted", "{a}");
    assert_eq!(a["dry_run"], false);
    assert_eq!(a["findings"], 3);
    assert_eq!(a["rules"], serde_json::json!(["payment-card", "us-ssn"]));
    let after = fs::read_to_string(&p).unwrap();
    assert_eq!(
        after,
        "name,card,ssn\nbob,**** **** **** 3012,\"SSN ***-**-8726\"\nann,****-****-****-9219,x\n"
    );
    assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o640);
    // No temporary file or backup is left beside it.
    let names: Vec<_> = fs::read_dir(p.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("customers.csv")]);
    assert_eq!(fs::metadata(p.parent().unwrap()).unwrap().ino(), ino_dir);
    let summary = events.last().unwrap();
    assert_eq!(summary["actions"]["redacted"], 1);
    // A second scan finds nothing left.
    let again = env.scan(&["--action", "redact"]);
    assert!(actions(&again).is_empty(), "{again:#?}");
    assert_eq!(again.last().unwrap()["findings"], 0);
}

#[test]
fn redact_keeps_utf16_byte_order_and_bom_and_8bit_bytes() {
    let env = Env::new();
    let text = format!("Zahlung für Kunde: {VISA_GROUPED} — danke\r\n");
    let le = env.write("le.txt", &utf16(&text, false, true));
    let be = env.write("be.txt", &utf16(&text, true, true));
    let le_nobom = env.write("le-nobom.txt", &utf16(&text, false, false));
    // Latin-1: `é` is the single byte 0xE9, invalid UTF-8, kept as it is.
    let mut latin1 = b"caf\xe9 card ".to_vec();
    latin1.extend_from_slice(MC.as_bytes());
    latin1.extend_from_slice(b" \xe9t\xe9\n");
    let l1 = env.write("latin1.txt", &latin1);

    let events = env.scan(&["--action", "redact"]);
    for f in ["le.txt", "be.txt", "le-nobom.txt", "latin1.txt"] {
        assert_eq!(action_for(&events, f)["action"], "redacted", "{f}");
    }
    let want = "Zahlung für Kunde: **** **** **** 3012 — danke\r\n";
    assert_eq!(fs::read(&le).unwrap(), utf16(want, false, true));
    assert_eq!(fs::read(&be).unwrap(), utf16(want, true, true));
    assert_eq!(fs::read(&le_nobom).unwrap(), utf16(want, false, false));
    assert_eq!(
        fs::read(&l1).unwrap(),
        b"caf\xe9 card ************9219 \xe9t\xe9\n".to_vec()
    );
}

#[test]
fn token_style_and_mask_char_come_from_the_config() {
    let env = Env::new();
    let p = env.write("a.log", format!("paid with {VISA} today\n").as_bytes());
    let cfg = env.store.path().join("leakhound.yaml");
    fs::write(
        &cfg,
        "policy:\n  default: redact\n  redact:\n    style: token\n",
    )
    .unwrap();
    let out = env
        .lh()
        .arg("--config")
        .arg(&cfg)
        .args(["scan", "--progress", "never"])
        .arg(env.root.path())
        .output()
        .unwrap();
    assert_no_raw("scan", &out.stdout);
    let after = fs::read_to_string(&p).unwrap();
    let re = regex::Regex::new(r"^paid with \[CARD:[0-9a-f]{8}\] today\n$").unwrap();
    assert!(re.is_match(&after), "{after}");

    // mask_char, and per-rule policy: SSNs redacted, cards only reported.
    let q = env.write("b.txt", format!("{SSN} and {VISA}\n").as_bytes());
    fs::write(
        &cfg,
        "policy:\n  rules:\n    - action: redact\n      rules: [us-ssn]\n  redact:\n    mask_char: '#'\n",
    )
    .unwrap();
    env.lh()
        .arg("--config")
        .arg(&cfg)
        .args(["scan", "--progress", "never"])
        .arg(&q)
        .assert()
        .code(1);
    assert_eq!(
        fs::read_to_string(&q).unwrap(),
        format!("###-##-8726 and {VISA}\n")
    );
}

#[test]
fn dry_run_changes_nothing_and_says_what_would_happen() {
    let env = Env::new();
    let body = format!("card {VISA}\n");
    let p = env.write("a.txt", body.as_bytes());
    let events = env.scan(&["--action", "quarantine", "--dry-run"]);
    let a = action_for(&events, "a.txt");
    assert_eq!(
        (&a["action"], &a["dry_run"]),
        (&"quarantined".into(), &true.into())
    );
    assert_eq!(fs::read_to_string(&p).unwrap(), body);
    assert!(!env.store_dir().exists(), "a dry run created the store");
    let events = env.scan(&["--action", "redact", "--dry-run"]);
    assert_eq!(action_for(&events, "a.txt")["action"], "redacted");
    assert_eq!(fs::read_to_string(&p).unwrap(), body);
}

#[test]
fn unrewritable_formats_fall_back_as_the_policy_says() {
    let env = Env::new();
    let mut bin = vec![0u8, 1, 2, 3, 0];
    bin.extend_from_slice(format!(" {VISA} ").as_bytes());
    let b = env.write("blob.bin", &bin);
    // A real bzip2: its member is scanned, but the file cannot be rewritten
    // (gzip can: tests/actions_mail.rs).
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    std::io::Write::write_all(&mut enc, format!("{VISA}\n").as_bytes()).unwrap();
    let bz = enc.finish().unwrap();
    let g = env.write("x.bz2", &bz);
    let events = env.scan(&["--action", "redact"]);
    let a = action_for(&events, "blob.bin");
    assert_eq!(a["action"], "quarantined", "{a}");
    assert!(a["reason"].as_str().unwrap().contains("binary"), "{a}");
    assert!(!b.exists());
    assert!(!g.exists());
    let a = action_for(&events, "x.bz2");
    assert!(a["reason"].as_str().unwrap().contains("bzip2"), "{a}");

    // fallback: report leaves the file and says why.
    let b = env.write("blob2.bin", &bin);
    let cfg = env.store.path().join("c.yaml");
    fs::write(&cfg, "policy:\n  default: redact\n  fallback: report\n").unwrap();
    let mut c = env.lh();
    c.arg("--config").arg(&cfg);
    let out = c
        .args(["scan", "--format", "jsonl", "--progress", "never"])
        .arg(&b)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_no_raw("scan", text.as_bytes());
    assert!(text.contains(r#""action":"skipped""#), "{text}");
    assert!(text.contains("policy.fallback is report"), "{text}");
    assert_eq!(fs::read(&b).unwrap(), bin);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn quarantine_list_show_restore_purge() {
    let env = Env::new();
    let body = format!("id,card\n1,{VISA}\n2,{MC_DASHED}\n");
    let p = env.write("share/cards.csv", body.as_bytes());
    fs::set_permissions(&p, fs::Permissions::from_mode(0o604)).unwrap();
    let mtime = fs::metadata(&p).unwrap().mtime();
    let events = env.scan(&["--action", "quarantine"]);
    let a = action_for(&events, "cards.csv");
    assert_eq!(a["action"], "quarantined", "{a}");
    let id = a["quarantine_id"].as_str().unwrap().to_string();
    assert!(!p.exists());

    let store = env.store_dir();
    assert_eq!(fs::metadata(&store).unwrap().mode() & 0o777, 0o700);
    let obj = store.join("objects").join(&id);
    assert_eq!(fs::metadata(&obj).unwrap().mode() & 0o777, 0o600);
    assert_eq!(fs::read(&obj).unwrap(), body.as_bytes());
    assert_manifest_clean(&store);

    let out = env.quarantine(&["list", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let item = &list[0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["state"], "done");
    assert_eq!(item["size"], body.len());
    assert_eq!(item["mode"].as_u64().unwrap() & 0o7777, 0o604);
    // D13: no unkeyed hash of the plaintext in the manifest's output.
    assert!(item.get("sha256").is_none(), "{item}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&sha256_hex(body.as_bytes())));
    assert_eq!(item["findings"].as_array().unwrap().len(), 2);
    assert_eq!(item["findings"][0]["masked"], "452601******3012");
    assert!(item["path"].as_str().unwrap().ends_with("share/cards.csv"));
    let show = env.quarantine(&["show", &id]);
    assert!(show.status.success());
    let human = env.quarantine(&["list"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains(&id));

    // Restore refuses to overwrite a file that appeared meanwhile.
    fs::write(&p, "someone else's file").unwrap();
    let out = env.quarantine(&["restore", &id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("never overwrites"));
    assert_eq!(fs::read_to_string(&p).unwrap(), "someone else's file");
    fs::remove_file(&p).unwrap();

    let out = env.quarantine(&["restore", &id]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read(&p).unwrap(), body.as_bytes());
    let meta = fs::metadata(&p).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o604);
    assert_eq!(meta.mtime(), mtime);
    assert!(!obj.exists(), "the stored copy outlived the restore");
    let out = env.quarantine(&["restore", &id]);
    assert_eq!(out.status.code(), Some(2), "restored twice");

    // Purge: everything older than 0 s goes, rows and objects: the
    // restored row, and both files (cards.csv is back, so it goes again).
    let q2 = env.write("share/again.csv", body.as_bytes());
    env.scan(&["--action", "quarantine"]);
    assert!(!q2.exists());
    let out = env.quarantine(&["purge", "--older-than", "1h"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("purged 0"));
    // Two stored copies deleted, one row of a restored file forgotten
    // (counted apart: it had no copy left to delete).
    let out = env.quarantine(&["purge", "--older-than", "0s"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("purged 2 stored copies") && text.contains("removed 1 entries"),
        "{out:?}"
    );
    assert_eq!(fs::read_dir(store.join("objects")).unwrap().count(), 0);
    let out = env.quarantine(&["list", "--json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn tombstone_names_the_id_and_restore_replaces_it() {
    let env = Env::new();
    let body = format!("{VISA}\n");
    let p = env.write("t.txt", body.as_bytes());
    let cfg = env.store.path().join("c.yaml");
    fs::write(
        &cfg,
        format!(
            "policy:\n  default: quarantine\n  quarantine:\n    dir: {}\n    tombstone: true\n    contact: dpo@example.com\n",
            env.store_dir().display()
        ),
    )
    .unwrap();
    let out = env
        .lh()
        .arg("--config")
        .arg(&cfg)
        .args(["scan", "--format", "jsonl", "--progress", "never"])
        .arg(env.root.path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let ev: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["type"] == "action")
        .unwrap();
    let id = ev["quarantine_id"].as_str().unwrap();
    let tomb = fs::read_to_string(&p).unwrap();
    assert!(
        tomb.contains(id) && tomb.contains("dpo@example.com"),
        "{tomb}"
    );
    assert_no_raw("tombstone", tomb.as_bytes());
    let out = env.quarantine(&["restore", id]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read_to_string(&p).unwrap(), body);
}

#[test]
fn restore_to_another_path_and_refuses_a_damaged_copy() {
    let env = Env::new();
    env.write("a.txt", format!("{VISA}\n").as_bytes());
    env.write("b.txt", format!("{MC}\n").as_bytes());
    let events = env.scan(&["--action", "quarantine"]);
    let ida = action_for(&events, "a.txt")["quarantine_id"]
        .as_str()
        .unwrap()
        .to_string();
    let idb = action_for(&events, "b.txt")["quarantine_id"]
        .as_str()
        .unwrap()
        .to_string();
    let elsewhere = env.store.path().join("restored-a.txt");
    let out = env.quarantine(&["restore", &ida, "--to", elsewhere.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read_to_string(&elsewhere).unwrap(), format!("{VISA}\n"));
    // Damage b's stored copy: restore must refuse and write nothing.
    let obj = env.store_dir().join("objects").join(&idb);
    fs::write(&obj, "tampered\n").unwrap();
    let out = env.quarantine(&["restore", &idb]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SHA-256"),
        "{out:?}"
    );
    assert!(!env.path("b.txt").exists());
    assert_eq!(
        fs::read_dir(env.root.path()).unwrap().count(),
        0,
        "temp file left"
    );
}

#[test]
fn links_fifos_and_hard_links_are_never_acted_on() {
    let env = Env::new();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    let body = format!("{VISA}\n");
    fs::write(&secret, &body).unwrap();
    // A link to a file outside the root, and a linked directory.
    std::os::unix::fs::symlink(&secret, env.path("link.txt")).unwrap();
    std::os::unix::fs::symlink(outside.path(), env.path("linkdir")).unwrap();
    // A hard link (two names of one file).
    let h1 = env.write("h1.txt", body.as_bytes());
    fs::hard_link(&h1, env.path("h2.txt")).unwrap();
    // A FIFO: never opened for an action, never blocks.
    let fifo = env.path("pipe");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());

    // --follow makes the scan read through the links; actions still refuse.
    let events = env.scan(&["--action", "redact", "--follow"]);
    assert_eq!(
        fs::read_to_string(&secret).unwrap(),
        body,
        "acted through a link"
    );
    for f in ["link.txt", "linkdir/secret.txt"] {
        let a = action_for(&events, f);
        assert_eq!(a["action"], "skipped", "{a}");
        assert!(a["reason"].as_str().unwrap().contains("link"), "{a}");
    }
    for f in ["h1.txt", "h2.txt"] {
        let a = action_for(&events, f);
        assert_eq!(a["action"], "skipped", "{a}");
        assert!(a["reason"].as_str().unwrap().contains("hard links"), "{a}");
    }
    assert_eq!(fs::read_to_string(&h1).unwrap(), body);
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

/// The library path the daemon will use, and the race a CLI test cannot
/// time: the file is swapped for a link between the scan and the action.
#[test]
fn a_link_swapped_in_after_the_scan_is_refused() {
    let env = Env::new();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("passwd");
    let body = format!("root:{VISA}\n");
    fs::write(&victim, &body).unwrap();
    let p = env.write("dir/report.txt", body.as_bytes());

    let engine = Engine::new(RuleSet::builtin().unwrap());
    let fp = Fingerprinter::with_key(b"k", KeySource::Ephemeral);
    let name = p.to_str().unwrap();
    let events = leakhound::scan::scan_one(
        &engine,
        &fp,
        name,
        &mut fs::File::open(&p).unwrap(),
        Confidence::Low,
        leakhound::extract::Limits::default(),
    );
    let findings: Vec<_> = events
        .into_iter()
        .filter_map(|e| match e {
            Event::Finding(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(findings.len(), 1);
    let settings = |force| ActionSettings {
        policy: Policy::default(),
        force: Some(force),
        dry_run: false,
        roots: vec![env.root.path().to_path_buf()],
        quarantine_dir: env.store_dir(),
        journal_dir: env.state.path().join("journal"),
        min_confidence: Confidence::Low,
    };
    for force in [ActionKind::Redact, ActionKind::Quarantine] {
        let actor = Actor::new(&engine, &fp, settings(force)).unwrap();
        // The file becomes a link to a file outside the root.
        fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        let ev = actor.act(Path::new(name), &findings).unwrap();
        assert_eq!(ev.action, "skipped", "{ev:?}");
        assert!(
            ev.reason.as_deref().unwrap().contains("symbolic link"),
            "{ev:?}"
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), body);
        fs::remove_file(&p).unwrap();

        // A directory on the way becomes a link.
        let dir = env.path("dir");
        fs::rename(&dir, env.path("dir.old")).unwrap();
        std::os::unix::fs::symlink(outside.path(), &dir).unwrap();
        let in_link = env.path("dir/passwd");
        let ev = actor.act(&in_link, &findings).unwrap();
        assert_eq!(ev.action, "skipped", "{ev:?}");
        assert!(
            ev.reason.as_deref().unwrap().contains("symbolic link"),
            "{ev:?}"
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), body);
        fs::remove_file(&dir).unwrap();
        fs::rename(env.path("dir.old"), &dir).unwrap();
        fs::write(&p, &body).unwrap();

        // Outside the roots, and `..` out of them.
        let ev = actor.act(&victim, &findings).unwrap();
        assert!(
            ev.reason
                .as_deref()
                .unwrap()
                .contains("outside the scan roots"),
            "{ev:?}"
        );
        let dotdot = env.root.path().join("..").join("x");
        let ev = actor.act(&dotdot, &findings).unwrap();
        assert_eq!(ev.action, "skipped");
        assert_eq!(fs::read_to_string(&victim).unwrap(), body);
    }
}

#[test]
fn config_check_names_policy_mistakes() {
    let env = Env::new();
    let cfg = env.store.path().join("bad.yaml");
    fs::write(
        &cfg,
        "policy:\n  default: redact\n  redact:\n    mask_char: '9'\n",
    )
    .unwrap();
    let out = env
        .lh()
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("policy.redact.mask_char"));
    fs::write(&cfg, "policy:\n  default: shred\n").unwrap();
    let out = env
        .lh()
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.yaml:2"),
        "{out:?}"
    );
}

#[test]
fn encrypted_at_rest_only_the_private_key_restores() {
    use age::secrecy::ExposeSecret;
    let env = Env::new();
    let body = format!("card {VISA}\n");
    let p = env.write("enc.txt", body.as_bytes());
    let key = age::x25519::Identity::generate();
    let cfg = env.store.path().join("c.yaml");
    fs::write(
        &cfg,
        format!(
            "policy:\n  default: quarantine\n  quarantine:\n    dir: {}\n    recipients: [{}]\n",
            env.store_dir().display(),
            key.to_public()
        ),
    )
    .unwrap();
    let out = env
        .lh()
        .arg("--config")
        .arg(&cfg)
        .args(["scan", "--format", "jsonl", "--progress", "never"])
        .arg(env.root.path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let ev: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["type"] == "action")
        .unwrap();
    assert_eq!(ev["action"], "quarantined", "{ev}");
    let id = ev["quarantine_id"].as_str().unwrap();
    assert!(!p.exists());
    // The store holds ciphertext only.
    let obj = fs::read(env.store_dir().join("objects").join(id)).unwrap();
    assert!(obj.starts_with(b"age-encryption.org/v1"));
    assert_no_raw("encrypted object", &obj);
    // Without the key, or with another key: refused, nothing written.
    let out = env.quarantine(&["restore", id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--identity"));
    let wrong = env.store.path().join("wrong.key");
    fs::write(
        &wrong,
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret(),
    )
    .unwrap();
    let out = env.quarantine(&["restore", id, "--identity", wrong.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!p.exists());
    assert_eq!(fs::read_dir(env.root.path()).unwrap().count(), 0);
    // With the key: decrypted, hash verified, restored.
    let right = env.store.path().join("right.key");
    fs::write(
        &right,
        format!("# test key\n{}\n", key.to_string().expose_secret()),
    )
    .unwrap();
    let out = env.quarantine(&["restore", id, "--identity", right.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read_to_string(&p).unwrap(), body);

    // A recipient that is not one is named by config check.
    fs::write(&cfg, "policy:\n  quarantine:\n    recipients: [age1nope]\n").unwrap();
    let out = env
        .lh()
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("policy.quarantine.recipients[0]"));
}

/// Issue 19: redaction had its own magic table (`%PDF`, the first four
/// bytes of an OLE2 header) and refused a text file the scanner reads as
/// text (`extract::sniff` wants `%PDF-`). Both now ask the one sniffer: a
/// text file that starts with `%PDF` (no dash) is scanned as text and
/// redacted as text.
#[test]
fn d19_redact_and_scan_share_one_sniffer_for_pdf_lookalike_text() {
    let env = Env::new();
    let body = format!("%PDF notes: card {VISA}\n");
    let p = env.write("notes.txt", body.as_bytes());
    let events = env.scan(&[]);
    // Read as text: one finding in the file itself, not in a member.
    let found: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "finding" && e["path"].as_str().unwrap().ends_with("notes.txt"))
        .collect();
    assert_eq!(found.len(), 1, "{events:#?}");
    assert!(found[0]["member"].is_null(), "{:?}", found[0]);
    let events = env.scan(&["--action", "redact"]);
    let a = action_for(&events, "notes.txt");
    assert_eq!(a["action"], "redacted", "{a}");
    let now = fs::read_to_string(&p).unwrap();
    assert!(now.starts_with("%PDF notes: card "), "{now}");
    assert!(!now.contains(VISA), "the number is left");
}
