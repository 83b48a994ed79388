//! The output options every data command shares (`src/cli/output.rs`):
//! `-f/--format human|json|jsonl` and `-o FILE` on `rules list`,
//! `quarantine list`, `quarantine show` and `status`, with `--json` kept
//! as a hidden alias of `--format json`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const CARD_DIGITS: &str = "4526018159083012";

fn leakhound(args: &[&str], state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .env("LEAKHOUND_STATE_DIR", state)
        .env_remove("LEAKHOUND_CONFIG")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn i16_rules_list_takes_format_jsonl_and_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let lines = stdout(&leakhound(&["rules", "list", "-f", "jsonl"], dir.path()));
    let rules: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rules.len() > 3, "{lines}");
    assert!(rules.iter().any(|r| r["id"] == "payment-card"));

    let doc: Value = serde_json::from_str(&stdout(&leakhound(
        &["rules", "list", "--format", "json"],
        dir.path(),
    )))
    .unwrap();
    assert_eq!(doc["rules"].as_array().unwrap().len(), rules.len());

    let file = dir.path().join("rules.txt");
    let out = stdout(&leakhound(
        &["rules", "list", "-o", file.to_str().unwrap()],
        dir.path(),
    ));
    assert!(out.is_empty(), "-o writes nothing to stdout: {out}");
    let human = std::fs::read_to_string(&file).unwrap();
    assert!(human.starts_with("Rules: built-in"), "{human}");
}

#[test]
fn i16_quarantine_list_and_show_share_format_with_json_as_hidden_alias() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let q = dir.path().join("q");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("pans.txt"), "card 4526 0181 5908 3012\n").unwrap();
    let o = leakhound(
        &[
            "scan",
            "--progress",
            "never",
            "--action",
            "quarantine",
            "--quarantine-dir",
            q.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
        &state,
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let qd = q.to_str().unwrap();

    let jsonl = stdout(&leakhound(
        &["quarantine", "--quarantine-dir", qd, "list", "-f", "jsonl"],
        &state,
    ));
    assert_eq!(jsonl.lines().count(), 1, "{jsonl}");
    let item: Value = serde_json::from_str(jsonl.trim()).unwrap();
    let id = item["id"].as_str().unwrap().to_string();

    // --json (deprecated) and --format json give the same document.
    let a = stdout(&leakhound(
        &["quarantine", "--quarantine-dir", qd, "list", "--json"],
        &state,
    ));
    let b = stdout(&leakhound(
        &["quarantine", "--quarantine-dir", qd, "list", "-f", "json"],
        &state,
    ));
    assert_eq!(a, b);
    let doc: Value = serde_json::from_str(&a).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 1);
    assert_eq!(doc[0]["id"], id.as_str());

    let human = stdout(&leakhound(
        &["quarantine", "--quarantine-dir", qd, "list"],
        &state,
    ));
    assert!(human.contains(&id), "{human}");

    let file = dir.path().join("show.jsonl");
    stdout(&leakhound(
        &[
            "quarantine",
            "--quarantine-dir",
            qd,
            "show",
            &id,
            "-f",
            "jsonl",
            "-o",
            file.to_str().unwrap(),
        ],
        &state,
    ));
    let shown = std::fs::read_to_string(&file).unwrap();
    assert_eq!(shown.lines().count(), 1);
    let v: Value = serde_json::from_str(shown.trim()).unwrap();
    assert_eq!(v["id"], id.as_str());
    for text in [&jsonl, &a, &human, &shown] {
        assert!(!text.contains(CARD_DIGITS), "raw number in output: {text}");
    }

    // `--help` does not advertise the deprecated switch.
    let help = stdout(&leakhound(&["quarantine", "list", "--help"], &state));
    assert!(
        help.contains("--format") && !help.contains("--json"),
        "{help}"
    );
}

#[test]
fn i16_status_takes_the_shared_output_options() {
    let dir = tempfile::tempdir().unwrap();
    let help = stdout(&leakhound(&["status", "--help"], dir.path()));
    assert!(
        help.contains("-f, --format") && help.contains("-o, --output"),
        "{help}"
    );
    // No daemon state here: an error naming the directory, whatever the format.
    let o = leakhound(
        &[
            "status",
            "--state-dir",
            dir.path().to_str().unwrap(),
            "-f",
            "jsonl",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains(dir.path().to_str().unwrap()));
}
