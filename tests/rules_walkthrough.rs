//! Runs the user walkthrough of docs/rules.md ("Walkthrough: your own
//! national ID") exactly as written, and the rule packs of "Rule packs",
//! through the real binary.
//!
//! The walkthrough's blocks are read from the document itself (each follows
//! a `<!-- walkthrough: NAME -->` marker), so changing the docs without the
//! program, or the program without the docs, fails here.

use std::path::Path;

use assert_cmd::Command;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_leakhound");
const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn lh(dir: &Path, state: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", state)
        .env_remove("LEAKHOUND_LOG")
        .timeout(std::time::Duration::from_secs(60));
    c
}

/// The fenced block after `<!-- walkthrough: NAME -->` in docs/rules.md.
fn block(name: &str) -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md"))
        .expect("docs/rules.md");
    let marker = format!("<!-- walkthrough: {name} -->\n");
    let at = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("no walkthrough block {name}"))
        + marker.len();
    let rest = &doc[at..];
    let body = rest.find('\n').expect("fence") + 1;
    let end = rest[body..].find("```").expect("closing fence") + body;
    rest[body..end].to_string()
}

/// The kinds of the findings in a JSON-lines scan report.
fn kinds(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "finding")
        .map(|v| v["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

struct Walk {
    dir: TempDir,
    state: TempDir,
}

impl Walk {
    /// A directory with the walkthrough's rule file in it.
    fn new() -> Walk {
        let w = Walk {
            dir: tempfile::tempdir().unwrap(),
            state: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(w.dir.path().join("my-rules")).unwrap();
        std::fs::create_dir_all(w.dir.path().join("exports")).unwrap();
        w.write("my-rules/ruritania.yaml", &block("my-rules/ruritania.yaml"));
        w
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    /// Runs a documented `sh` block (one `leakhound ...` line) plus `extra`.
    fn run_doc(&self, name: &str, extra: &[&str]) -> std::process::Output {
        let line = block(name);
        let mut words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.remove(0), "leakhound", "{line}");
        words.extend_from_slice(extra);
        lh(self.dir.path(), self.state.path())
            .args(&words)
            .output()
            .unwrap()
    }
}

#[test]
fn walkthrough_rule_checks_as_documented() {
    let w = Walk::new();
    let out = w.run_doc("command", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), block("output"));
}

#[test]
fn walkthrough_failure_message_is_the_documented_one() {
    let w = Walk::new();
    let rule = block("my-rules/ruritania.yaml").replace("850115-0010", "850115-0017");
    w.write("my-rules/ruritania.yaml", &rule);
    let out = w.run_doc("command", &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md"))
        .unwrap();
    let first = stderr.lines().next().unwrap_or_default();
    assert!(doc.contains(first), "not in docs/rules.md: {first}");
    assert!(
        first.contains("`check digit` (weighted mod 11): expected 0, got 7"),
        "{first}"
    );
    assert!(
        !stderr.contains("8501150017") && !stderr.contains("850115-0017"),
        "{stderr}"
    );
}

#[test]
fn walkthrough_scan_finds_the_rule_and_only_valid_numbers() {
    let w = Walk::new();
    w.write(
        "exports/people.txt",
        "Ruritanian ID: 850115-0010\nID-karta 020315-5122\nRuritanian ID: 850115-0011\nRuritanian ID: 020229-5125\n",
    );
    let out = w.run_doc("scan", &["--format", "jsonl"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(kinds(&out.stdout), ["rr_id", "rr_id"]);
}

#[test]
fn rules_pack_selects_by_pack_and_by_country() {
    let w = Walk::new();
    w.write(
        "exports/mixed.txt",
        "PESEL: 85120312343\nSSN: 536-22-8726\n",
    );
    let scan = |packs: Option<&str>| {
        let mut c = lh(w.dir.path(), w.state.path());
        c.args([
            "scan",
            "exports/",
            "--format",
            "jsonl",
            "--no-project-config",
        ]);
        if let Some(p) = packs {
            c.args(["--rules-pack", p]);
        }
        let out = c.output().unwrap();
        let mut k = kinds(&out.stdout);
        k.sort();
        k
    };
    assert_eq!(scan(None), ["pl_pesel", "us_ssn"]);
    assert_eq!(scan(Some("pl")), ["pl_pesel"]);
    assert_eq!(scan(Some("americas")), ["us_ssn"]);
    assert_eq!(scan(Some("eu,us")), ["pl_pesel", "us_ssn"]);
    assert_eq!(scan(Some("global")), Vec::<String>::new());
}

#[test]
fn unknown_rules_pack_is_an_error_not_a_clean_scan() {
    let w = Walk::new();
    w.write("exports/a.txt", "SSN: 536-22-8726\n");
    let out = lh(w.dir.path(), w.state.path())
        .args(["scan", "exports/", "--rules-pack", "europe"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no rule is in pack `europe`"), "{stderr}");
    assert!(stderr.contains("eu"), "{stderr}");
}

#[test]
fn project_file_packs_apply_when_no_flag_is_given() {
    let w = Walk::new();
    w.write(
        "exports/mixed.txt",
        "PESEL: 85120312343\nSSN: 536-22-8726\n",
    );
    w.write("exports/.leakhound.yaml", "rules:\n  packs: [pl]\n");
    let run = |extra: &[&str]| {
        let out = lh(w.dir.path(), w.state.path())
            .args(["scan", "exports/", "--format", "jsonl"])
            .args(extra)
            .output()
            .unwrap();
        kinds(&out.stdout)
    };
    assert_eq!(run(&[]), ["pl_pesel"]);
    // The flag wins over the file.
    assert_eq!(run(&["--rules-pack", "us"]), ["us_ssn"]);
    w.write("exports/.leakhound.yaml", "rules:\n  packs: [europe]\n");
    let out = lh(w.dir.path(), w.state.path())
        .args(["scan", "exports/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rules.packs: no rule is in pack `europe`")
    );
}

#[test]
fn a_rule_outside_the_default_pack_runs_only_when_asked_for() {
    let w = Walk::new();
    let rule = block("my-rules/ruritania.yaml").replace("packs: [default]", "packs: [ruritania]");
    w.write("my-rules/ruritania.yaml", &rule);
    w.write("exports/a.txt", "Ruritanian ID: 850115-0010\n");
    let run = |extra: &[&str]| {
        lh(w.dir.path(), w.state.path())
            .args([
                "scan",
                "--rules",
                "my-rules/",
                "exports/",
                "--format",
                "jsonl",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    // No rule in `default`: an error, not a scan that looks at nothing.
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no rule is in pack `default`"));
    assert_eq!(
        kinds(&run(&["--rules-pack", "ruritania"]).stdout),
        ["rr_id"]
    );
    assert_eq!(kinds(&run(&["--rules-pack", "xr"]).stdout), ["rr_id"]);
}
