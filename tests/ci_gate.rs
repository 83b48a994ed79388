//! End-to-end tests of the CI gate: SARIF checked by Microsoft's SARIF
//! multitool, JUnit, baselines, `.leakhound.yaml`, inline allows, CSV
//! columns and JSON paths, `--since` on a real git repository, the
//! pre-commit hook run by the real `pre-commit`, and the CI examples'
//! scripts. Every output is checked for the raw numbers.
//!
//! The multitool (`npm install -g @microsoft/sarif-multitool`) and
//! pre-commit (in `.venv`) are installed by `scripts/setup.sh`; a test that
//! needs one fails, saying how to install it, when it is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_leakhound");
const KEY: &str = "ci-gate-test-key";

const VISA: &str = "4526018159083012";
const MASTERCARD: &str = "5478778932879219";
const SSN: &str = "536-22-8726";
const TEST_CARD: &str = "4111111111111111";
const PESEL: &str = "85120312343";

/// Every raw number these tests plant, in the forms they are written.
fn raw_numbers() -> Vec<String> {
    let mut v: Vec<String> = [VISA, MASTERCARD, SSN, "536228726", TEST_CARD, PESEL]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend((0..30).map(visa_number));
    v
}

/// The `i`-th of a family of valid (Luhn) Visa numbers.
fn visa_number(i: u64) -> String {
    let body = format!("452601{:09}", 100_000_000 + i * 7919);
    let digits: Vec<u32> = body.chars().map(|c| c.to_digit(10).unwrap()).collect();
    let mut sum = 0;
    for (k, d) in digits.iter().rev().enumerate() {
        let mut d = *d;
        if k % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn assert_no_raw(what: &str, text: &str) {
    for n in raw_numbers() {
        assert!(!text.contains(&n), "{what} leaks a raw number:\n{text}");
    }
}

struct Scratch {
    dir: TempDir,
    state: TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
            state: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn write(&self, rel: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel)).unwrap()
    }
    /// leakhound with a fixed key, run in the scratch directory.
    fn lh(&self, args: &[&str]) -> Output {
        self.lh_key(args, KEY)
    }
    fn lh_key(&self, args: &[&str], key: &str) -> Output {
        let out = Command::new(BIN)
            .args(args)
            .current_dir(self.path())
            .env("LEAKHOUND_FINGERPRINT_KEY", key)
            .env("LEAKHOUND_STATE_DIR", self.state.path())
            .env_remove("LEAKHOUND_LOG")
            .output()
            .unwrap();
        assert_no_raw("stdout", &String::from_utf8_lossy(&out.stdout));
        assert_no_raw("stderr", &String::from_utf8_lossy(&out.stderr));
        out
    }
    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .output()
            .expect("git is installed (scripts/setup.sh)");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
    fn git_init(&self) {
        self.git(&["init", "-q", "-b", "main"]);
        self.git(&["config", "commit.gpgsign", "false"]);
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn jsonl(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn findings(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["type"] == "finding").collect()
}

fn summary(events: &[Value]) -> &Value {
    events.iter().find(|e| e["type"] == "summary").unwrap()
}

/// A small data export: a CSV with a header, a JSON document, a text file.
fn exports(s: &Scratch) {
    s.write(
        "exports/customers.csv",
        format!(
            "id,name,card_number,ssn\n1,\"Doe, J\",{VISA},{SSN}\n2,Roe,{MASTERCARD},\n3,Test,{TEST_CARD},\n"
        ),
    );
    s.write(
        "exports/orders.json",
        format!(
            "{{\"orders\": [{{\"id\": 1}}, {{\"id\": 2, \"payment\": {{\"pan\": \"{MASTERCARD}\"}}}}]}}\n"
        ),
    );
    s.write("notes/readme.txt", "nothing to see\n");
}

/// The SARIF multitool, or a failure that says how to install it.
fn multitool() -> String {
    let name = std::env::var("SARIF_MULTITOOL").unwrap_or_else(|_| "sarif-multitool".into());
    let ok = Command::new(&name)
        .arg("--version")
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the SARIF multitool is not installed: run scripts/setup.sh or \
         `npm install -g @microsoft/sarif-multitool` (or set SARIF_MULTITOOL)"
    );
    name
}

/// Validates a SARIF file with the multitool (SARIF rules and GitHub's
/// ingestion rules) and returns the problems at error or warning level.
fn validate_sarif(file: &Path) -> Vec<String> {
    let tool = multitool();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("validation.sarif");
    // The npm wrapper runs the tool through a shell: the list is quoted.
    let out = Command::new(&tool)
        .arg("validate")
        .arg(file)
        .args(["--rule-kind", "\"Sarif;Gh\"", "-o"])
        .arg(&report)
        .current_dir(dir.path())
        // A fresh machine may lack ICU, which the .NET tool otherwise needs.
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success() && report.exists(),
        "sarif-multitool failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let mut problems = Vec::new();
    for run in v["runs"].as_array().unwrap() {
        for r in run["results"].as_array().into_iter().flatten() {
            let level = r["level"].as_str().unwrap_or("warning");
            if level == "error" || level == "warning" {
                problems.push(format!("{} {}: {}", level, r["ruleId"], r["message"]));
            }
        }
        for n in run["invocations"][0]["toolExecutionNotifications"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if n["level"] == "error" {
                problems.push(format!("tool error: {}", n["message"]));
            }
        }
    }
    problems
}

#[test]
fn sarif_passes_the_multitool_with_relative_paths_and_masked_values() {
    let s = Scratch::new();
    exports(&s);
    std::fs::create_dir(s.path().join("unreadable")).unwrap();
    let out = s.lh(&[
        "scan",
        ".",
        "--format",
        "sarif",
        "--show-test-data",
        "-o",
        "report.sarif",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = s.read("report.sarif");
    assert_no_raw("SARIF", &text);
    let problems = validate_sarif(&s.path().join("report.sarif"));
    assert!(problems.is_empty(), "multitool: {problems:#?}");

    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"payment-card") && rules.contains(&"us-ssn"));
    assert!(
        run["tool"]["driver"]["rules"][0]["help"]["text"]
            .as_str()
            .unwrap()
            .contains("What to do")
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 5, "{results:#?}");
    let visa = results
        .iter()
        .find(|r| {
            r["message"]["text"]
                .as_str()
                .unwrap()
                .contains("452601******3012")
        })
        .expect("the Visa finding, masked, in the message");
    assert_eq!(visa["ruleId"], "payment-card");
    assert_eq!(visa["level"], "error");
    let loc = &visa["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "exports/customers.csv");
    assert_eq!(loc["region"]["startLine"], 2);
    assert_eq!(loc["region"]["startColumn"], 12);
    assert!(
        visa["message"]["text"]
            .as_str()
            .unwrap()
            .contains("column card_number")
    );
    let fp = visa["partialFingerprints"]["leakhoundFingerprint/v1"]
        .as_str()
        .unwrap();
    assert_eq!(fp.len(), 32);
    let test = results
        .iter()
        .find(|r| r["properties"]["testData"] == true)
        .unwrap();
    assert_eq!(test["level"], "note");

    // The same report from another directory, scanning the same root.
    let elsewhere = Command::new(BIN)
        .args(["scan", "--format", "sarif", "--show-test-data"])
        .arg(s.path())
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", s.state.path())
        .output()
        .unwrap();
    let v2: Value = serde_json::from_slice(&elsewhere.stdout).unwrap();
    let uris = |v: &Value| -> Vec<String> {
        v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(uris(&v), uris(&v2));
}

#[test]
fn junit_fails_files_with_findings_and_passes_a_clean_tree() {
    let s = Scratch::new();
    exports(&s);
    let out = s.lh(&[
        "scan",
        "exports",
        "--format",
        "junit",
        "--fail-on",
        "medium",
    ]);
    assert_eq!(code(&out), 1);
    let xml = stdout(&out);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("name=\"customers.csv\""), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    assert!(xml.contains("452601******3012"), "{xml}");
    assert!(xml.contains("tests=\"2\" failures=\"2\""), "{xml}");

    let clean = s.lh(&["scan", "notes", "--format", "junit"]);
    assert_eq!(code(&clean), 0);
    let xml = stdout(&clean);
    assert!(
        xml.contains("failures=\"0\"") && xml.contains("name=\"scan\""),
        "{xml}"
    );
}

#[test]
fn baseline_reports_only_new_findings_survives_edits_and_lists_stale_entries() {
    let s = Scratch::new();
    exports(&s);
    let out = s.lh(&[
        "baseline",
        "create",
        ".",
        "--show-test-data",
        "-o",
        ".leakhound-baseline.json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let base = s.read(".leakhound-baseline.json");
    assert_no_raw("baseline", &base);
    let b: Value = serde_json::from_str(&base).unwrap();
    assert_eq!(b["fingerprint_key"], "env");
    let paths: Vec<&str> = b["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"exports/customers.csv"), "{paths:?}");
    assert!(b["entries"][0].get("line").is_none());

    // Nothing new: clean, and the summary says what the baseline held back.
    let out = s.lh(&[
        "scan",
        ".",
        "--baseline",
        ".leakhound-baseline.json",
        "--show-test-data",
        "-f",
        "jsonl",
    ]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let ev = jsonl(&out);
    assert_eq!(summary(&ev)["suppressed"]["baseline"], 5);
    assert_eq!(summary(&ev)["baseline"]["matched"], 5);

    // Lines inserted above: still baselined. A new number: reported alone.
    // A number removed: its entry is stale.
    s.write(
        "exports/customers.csv",
        format!("id,name,card_number,ssn\n0,New,{},\n\n\n1,\"Doe, J\",{VISA},{SSN}\n3,Test,{TEST_CARD},\n", visa_number(1)),
    );
    let out = s.lh(&[
        "scan",
        ".",
        "--baseline",
        ".leakhound-baseline.json",
        "--show-test-data",
        "-f",
        "jsonl",
    ]);
    assert_eq!(code(&out), 1);
    let ev = jsonl(&out);
    let f = findings(&ev);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["line"], 2);
    let stale = summary(&ev)["baseline"]["stale"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(stale.len(), 1, "{stale:#?}");
    assert_eq!(stale[0]["path"], "exports/customers.csv");
    let human = s.lh(&[
        "scan",
        ".",
        "--baseline",
        ".leakhound-baseline.json",
        "--show-test-data",
        "--color",
        "never",
    ]);
    assert!(stdout(&human).contains("1 stale"), "{}", stdout(&human));

    // Another key: the baseline cannot match and is refused.
    let out = s.lh_key(
        &["scan", ".", "--baseline", ".leakhound-baseline.json"],
        "other",
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("different fingerprint key"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn baseline_without_a_shared_key_says_it_is_local() {
    let s = Scratch::new();
    exports(&s);
    let out = Command::new(BIN)
        .args(["baseline", "create", "."])
        .current_dir(s.path())
        .env_remove("LEAKHOUND_FINGERPRINT_KEY")
        .env("LEAKHOUND_STATE_DIR", s.state.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0);
    assert!(stderr(&out).contains("will match only"), "{}", stderr(&out));
    let b: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(b["fingerprint_key"], "local");
}

#[test]
fn project_file_excludes_disables_sets_severity_and_allows() {
    let s = Scratch::new();
    exports(&s);
    s.write("fixtures/cards.txt", format!("{VISA}\n"));
    // The fingerprint of the Mastercard, as a report gives it.
    let out = s.lh(&["scan", "exports", "-f", "jsonl"]);
    let ev = jsonl(&out);
    let mc = findings(&ev)
        .into_iter()
        .find(|f| f["kind"] == "card_mastercard")
        .unwrap()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    s.write("sub/.keep", "");
    s.write(
        ".leakhound.yaml",
        format!(
            "exclude: [\"fixtures/**\"]\nrules:\n  disable: [us-ssn]\n  severity: {{card_visa: medium}}\nallow:\n  fingerprints: [{mc}]\n  test_cards: true\n"
        ),
    );
    let out = s.lh(&["scan", ".", "-f", "jsonl", "--fail-on", "high"]);
    let ev = jsonl(&out);
    let f = findings(&ev);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        (f[0]["kind"].as_str(), f[0]["severity"].as_str()),
        (Some("card_visa"), Some("medium"))
    );
    assert_eq!(code(&out), 0, "medium is below --fail-on high");
    let sum = summary(&ev);
    assert_eq!(sum["suppressed"]["rule_disabled"], 1);
    assert_eq!(sum["suppressed"]["allowlist"], 2);
    assert_eq!(sum["suppressed"]["test_data"], 1);
    assert_eq!(sum["excluded"], 1);

    // Found from a subdirectory too.
    let out = s.lh(&["scan", "sub", "-f", "jsonl"]);
    assert_eq!(code(&out), 0);

    // A raw number where a fingerprint belongs: refused, not repeated.
    s.write(
        ".leakhound.yaml",
        format!("allow:\n  fingerprints: [\"{VISA}\"]\n"),
    );
    let out = s.lh(&["scan", "."]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("never put a raw number here"),
        "{}",
        stderr(&out)
    );
    let out = s.lh(&["scan", ".", "--no-project-config", "-f", "jsonl"]);
    assert_eq!(code(&out), 1);
}

#[test]
fn inline_allow_suppresses_its_line_only_and_is_counted() {
    let s = Scratch::new();
    s.write(
        "fixtures.py",
        format!(
            "CARD = \"{VISA}\"  # leakhound:allow\nSSN = \"{SSN}\"  # leakhound:allow:payment-card\nOTHER = \"{MASTERCARD}\"\n"
        ),
    );
    let out = s.lh(&["scan", ".", "-f", "jsonl"]);
    assert_eq!(code(&out), 1);
    let ev = jsonl(&out);
    let kinds: Vec<&str> = findings(&ev)
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["us_ssn", "card_mastercard"]);
    assert_eq!(summary(&ev)["suppressed"]["inline"], 1);
    let human = s.lh(&["scan", ".", "--color", "never"]);
    assert!(stdout(&human).contains("inline 1"), "{}", stdout(&human));
}

#[test]
fn csv_columns_json_paths_and_a_full_column_summarised() {
    let s = Scratch::new();
    exports(&s);
    let mut big = String::from("id\tcard_number\tnote\n");
    for i in 0..30 {
        big.push_str(&format!("{i}\t{}\tok\n", visa_number(i)));
    }
    s.write("exports/big.tsv", big);
    s.write(
        "exports/lines.jsonl",
        format!("{{\"a\": 1}}\n{{\"user\": {{\"pesel\": \"{PESEL}\"}}}}\n"),
    );
    let out = s.lh(&["scan", "exports", "-f", "jsonl"]);
    let ev = jsonl(&out);
    let f = findings(&ev);
    let csv = f
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("customers.csv") && f["kind"] == "us_ssn")
        .unwrap();
    assert_eq!(csv["data_location"]["row"], 1);
    assert_eq!(csv["data_location"]["column_name"], "ssn");
    assert_eq!(csv["data_location"]["field"], 4);
    let json = f
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("orders.json"))
        .unwrap();
    assert_eq!(
        json["data_location"]["json_path"],
        "$.orders[1].payment.pan"
    );
    let jl = f
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("lines.jsonl"))
        .unwrap();
    assert_eq!(jl["data_location"]["json_path"], "$.user.pesel");
    assert_eq!(jl["data_location"]["row"], 2);
    let tsv: Vec<_> = f
        .iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with("big.tsv"))
        .collect();
    assert_eq!(tsv.len(), 30);
    assert_eq!(tsv[29]["data_location"]["row"], 30);

    let human = stdout(&s.lh(&["scan", "exports", "--color", "never"]));
    assert!(
        human.contains("column card_number: 30 findings (card_visa 30), rows 1-30"),
        "{human}"
    );
    assert_eq!(
        human.matches("452601").count(),
        1,
        "only customers.csv lists its Visa line:\n{human}"
    );
}

#[test]
fn since_scans_only_files_changed_since_the_ref() {
    let s = Scratch::new();
    s.git_init();
    s.write("old.csv", format!("card\n{VISA}\n"));
    s.write("touched.txt", "clean\n");
    s.git(&["add", "-A"]);
    s.git(&["commit", "-qm", "base"]);
    let base = s.git(&["rev-parse", "HEAD"]);
    s.write("touched.txt", format!("now {MASTERCARD}\n"));
    s.git(&["commit", "-qam", "change"]);
    s.write("untracked.txt", format!("ssn {SSN}\n"));
    s.write("ignored.log", format!("ssn {SSN}\n"));
    s.write(".gitignore", "*.log\n");
    let out = s.lh(&["scan", ".", "--since", &base, "-f", "jsonl"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let ev = jsonl(&out);
    let mut paths: Vec<String> = findings(&ev)
        .iter()
        .map(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .trim_start_matches("./")
                .to_string()
        })
        .collect();
    paths.sort();
    assert_eq!(paths, ["touched.txt", "untracked.txt"]);

    let out = s.lh(&["scan", ".", "--since", "no-such-ref"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no-such-ref"), "{}", stderr(&out));
}

/// pre-commit from `.venv` (scripts/setup.sh), `$PRE_COMMIT`, or PATH.
fn pre_commit() -> PathBuf {
    if let Ok(p) = std::env::var("PRE_COMMIT") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/pre-commit");
    if venv.exists() {
        return venv;
    }
    let found = Command::new("pre-commit").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "pre-commit is not installed: run scripts/setup.sh (it puts it in .venv) or set PRE_COMMIT"
    );
    PathBuf::from("pre-commit")
}

#[test]
fn pre_commit_hook_blocks_a_commit_with_a_card_number() {
    let pc = pre_commit();
    // A hooks repository holding this project's .pre-commit-hooks.yaml.
    let hooks = Scratch::new();
    hooks.git_init();
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    hooks.write(".pre-commit-hooks.yaml", manifest);
    hooks.git(&["add", "-A"]);
    hooks.git(&["commit", "-qm", "hooks"]);
    let rev = hooks.git(&["rev-parse", "HEAD"]);

    let s = Scratch::new();
    s.git_init();
    s.write(
        ".pre-commit-config.yaml",
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: leakhound-system\n",
            hooks.path().display()
        ),
    );
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cache = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| -> Output {
        let out = Command::new(&pc)
            .args(args)
            .current_dir(s.path())
            .env("PATH", &path)
            .env("PRE_COMMIT_HOME", cache.path())
            .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
            .env("LEAKHOUND_STATE_DIR", s.state.path())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .output()
            .unwrap();
        assert_no_raw("pre-commit output", &stdout(&out));
        out
    };
    let out = run(&["install"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    s.write("clean.csv", "id,name\n1,Ann\n");
    s.git(&["add", "-A"]);
    let ok = Command::new("git")
        .args(["commit", "-qm", "clean"])
        .current_dir(s.path())
        .env("PATH", &path)
        .env("PRE_COMMIT_HOME", cache.path())
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", s.state.path())
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "a clean commit passes: {}{}",
        stdout(&ok),
        stderr(&ok)
    );

    s.write("leak.csv", format!("id,card\n1,{VISA}\n"));
    s.git(&["add", "leak.csv"]);
    let blocked = Command::new("git")
        .args(["commit", "-qm", "leak"])
        .current_dir(s.path())
        .env("PATH", &path)
        .env("PRE_COMMIT_HOME", cache.path())
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", s.state.path())
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap();
    let all = format!("{}{}", stdout(&blocked), stderr(&blocked));
    assert_no_raw("git commit output", &all);
    assert!(
        !blocked.status.success(),
        "the commit must be refused: {all}"
    );
    assert!(
        all.contains("452601******3012") && all.contains("leak.csv"),
        "{all}"
    );
    assert_eq!(
        s.git(&["log", "--oneline"]).lines().count(),
        1,
        "only the clean commit"
    );
}

/// The shell script of the step or job in a CI example that runs
/// `leakhound scan`.
fn example_script(file: &str) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/ci")
            .join(file),
    )
    .unwrap();
    let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let mut found = Vec::new();
    fn walk(v: &Value, found: &mut Vec<String>) {
        match v {
            Value::String(s) if s.contains("leakhound scan") => found.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, found)),
            Value::Object(o) => o.values().for_each(|x| walk(x, found)),
            _ => {}
        }
    }
    walk(&v, &mut found);
    assert_eq!(found.len(), 1, "{file}: one script runs leakhound scan");
    found.remove(0)
}

/// Runs a CI example's scan script in a repository with a committed
/// baseline and a pull request that adds one number.
fn run_example(file: &str, base_var: &str) -> (Scratch, Output) {
    let s = Scratch::new();
    s.git_init();
    exports(&s);
    let out = s.lh(&["baseline", "create", ".", "-o", ".leakhound-baseline.json"]);
    assert_eq!(code(&out), 0);
    s.git(&["add", "-A"]);
    s.git(&["commit", "-qm", "base"]);
    let base = s.git(&["rev-parse", "HEAD"]);
    s.write(
        "exports/new.csv",
        format!("id,card_number\n1,{}\n", visa_number(3)),
    );
    s.git(&["add", "-A"]);
    s.git(&["commit", "-qm", "pr"]);
    let bin_dir = Path::new(BIN).parent().unwrap();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &example_script(file)])
        .current_dir(s.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", s.state.path())
        .env(base_var, &base)
        .output()
        .unwrap();
    assert_no_raw(
        "CI script output",
        &format!("{}{}", stdout(&out), stderr(&out)),
    );
    (s, out)
}

fn sarif_uris(s: &Scratch) -> Vec<String> {
    let v: Value = serde_json::from_str(&s.read("leakhound.sarif")).unwrap();
    v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn github_example_fails_the_pull_request_on_the_new_number_only() {
    let (s, out) = run_example("github-workflow.yml", "BASE_SHA");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(sarif_uris(&s), ["exports/new.csv"]);
    let problems = validate_sarif(&s.path().join("leakhound.sarif"));
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn gitlab_example_fails_the_merge_request_and_writes_junit() {
    let (s, out) = run_example("gitlab-ci.yml", "CI_MERGE_REQUEST_DIFF_BASE_SHA");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(sarif_uris(&s), ["exports/new.csv"]);
    let junit = s.read("leakhound-junit.xml");
    assert!(
        junit.contains("name=\"exports/new.csv\"") && junit.contains("<failure"),
        "{junit}"
    );
    assert_no_raw("JUnit", &junit);
}
