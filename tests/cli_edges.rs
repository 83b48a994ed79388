//! The command line at its edges: a reader that goes away (`| head -1`),
//! diagnostics on a stderr that is not a terminal, and rule files that hold
//! no rules.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_leakhound");

fn base(state: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("LEAKHOUND_FINGERPRINT_KEY", "edges-key")
        .env("LEAKHOUND_STATE_DIR", state)
        .env_remove("LEAKHOUND_LOG")
        .env_remove("LEAKHOUND_CONFIG")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    c
}

/// A `status.json` as the daemon writes it, for a daemon that is this
/// test process (alive, fresh).
fn status_file(dir: &Path) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let snap = serde_json::json!({
        "pid": std::process::id(), "state": "running",
        "started": "2026-11-29T20:00:00Z", "updated": "2026-11-29T20:00:00Z",
        "updated_ms": now_ms, "rules_version": "abc", "config": "/etc/leakhound/leakhound.yaml",
        "startup_scan_done": true, "queue_depth": 0, "pending": 0, "walks": 0,
        "files_scanned": 3, "files_unchanged": 0, "files_incomplete": 0,
        "bytes_scanned": 10, "findings": 1, "events": 4, "rescans": 0, "reloads": 0,
        "reload_failures": 0, "spool_depth": null, "errors": 0, "last_error": null,
        "roots": [{"path": "/srv", "kind": "files", "mode": "inotify"}]
    });
    std::fs::write(dir.join("status.json"), snap.to_string()).unwrap();
}

#[test]
fn broken_pipe_ends_every_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    status_file(state.path());
    // Enough findings that the report does not fit in a pipe's buffer.
    let line = "card 4526 0181 5908 3012 ssn 536-22-8726\n".repeat(4000);
    std::fs::write(dir.path().join("many.txt"), line).unwrap();
    let d = dir.path().to_str().unwrap();
    let s = state.path().to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["status", "--state-dir", s],
        vec!["status", "--json", "--state-dir", s],
        vec!["rules", "list"],
        vec!["rules", "list", "--format", "json"],
        vec!["scan", "--progress", "never", d],
        vec!["scan", "-f", "jsonl", d],
        vec!["scan", "-f", "json", d],
        vec!["scan", "-f", "sarif", d],
        vec!["--help"],
    ];
    for args in commands {
        // The reading end is closed before the program writes anything:
        // every write to standard output fails with EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = base(state.path())
            .args(&args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.is_empty(), "{args:?}: says {stderr}");
        // Ended as `cat` would be: by SIGPIPE (or clap's help, which
        // ignores the error and exits 0).
        let sigpipe = out.status.signal() == Some(13) || out.status.code() == Some(141);
        assert!(
            sigpipe || (args == ["--help"] && out.status.success()),
            "{args:?}: {:?}",
            out.status
        );
    }
}

#[test]
fn stderr_has_no_colour_unless_a_terminal_or_forced() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    // A project file makes the scan log an INFO line.
    std::fs::write(dir.path().join(".leakhound.yaml"), "{}\n").unwrap();
    std::fs::write(dir.path().join("a.txt"), "nothing\n").unwrap();
    let run = |env: &[(&str, &str)]| {
        let mut c = base(state.path());
        c.args(["--log-level", "info", "scan", "--progress", "never"])
            .arg(dir.path());
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let plain = run(&[]);
    assert!(plain.contains("INFO"), "{plain}");
    assert!(!plain.contains('\x1b'), "colour on a pipe: {plain:?}");
    let no_color = run(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "0")]);
    assert!(!no_color.contains('\x1b'), "{no_color:?}");
    // The check can see colour: forced, it is there.
    let forced = run(&[("CLICOLOR_FORCE", "1")]);
    assert!(forced.contains('\x1b'), "{forced:?}");
}

#[test]
fn empty_rules_file_is_named_not_called_missing() {
    let rules = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("mine.yaml"), "rules: []\n").unwrap();
    for args in [
        vec!["scan", "--rules", rules.path().to_str().unwrap(), "."],
        vec!["rules", "check", rules.path().to_str().unwrap()],
        vec!["rules", "list", "--rules", rules.path().to_str().unwrap()],
    ] {
        let out = base(state.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("mine.yaml"), "{args:?}: {stderr}");
        assert!(stderr.contains("no rules in the rule file"), "{stderr}");
        assert!(!stderr.contains("no rule files"), "{stderr}");
    }
    // A rule file whose name holds an escape sequence is named escaped.
    let evil = tempfile::tempdir().unwrap();
    std::fs::write(evil.path().join("x\x1b[2K.yaml"), "rules: []\n").unwrap();
    let out = base(state.path())
        .args(["rules", "check"])
        .arg(evil.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    assert!(stderr.contains("x\\e[2K.yaml"), "{stderr}");
}
