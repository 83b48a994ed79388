//! The systemd unit and the sample configuration that ship in `systemd/`.

use std::path::Path;
use std::process::Command;

fn repo(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `systemd-analyze verify` accepts the unit without a single warning (an
/// unknown or misspelt key is only a warning to systemd, so the test
/// rejects any output). The unit names /usr/bin/leakhound, which verify
/// requires to exist: the test points it at the binary under test.
#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(repo("systemd/leakhound.service")).unwrap();
    assert!(unit.contains("Type=notify"));
    assert!(unit.contains("WatchdogSec="));
    let unit = unit.replace("/usr/bin/leakhound", env!("CARGO_BIN_EXE_leakhound"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leakhound.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is needed: run scripts/setup.sh (it installs systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "verify failed: {stderr}");
    assert!(
        stderr.trim().is_empty() && out.stdout.is_empty(),
        "verify warned: {stderr}"
    );
}

/// The system calls the scanner makes to start, confine and reap a PDF
/// helper (`leakhound __extract pdf`), and the helper makes to confine
/// itself, as `strace -f` shows them.
const PDF_HELPER_CALLS: &[&str] = &[
    "clone",
    "clone3",
    "vfork",
    "execve",
    "pipe2",
    "dup2",
    "wait4",
    "kill",
    "prctl",
    "capset",
    "prlimit64",
    "setrlimit",
    "getppid",
    "close",
    "fcntl",
    // The helper's own filter (src/extract/helper/seccomp.rs); in no
    // group of systemd 252 but @known.
    "seccomp",
];

/// Every `SystemCallFilter=` of the unit allows them (a filter that left
/// out `execve` or `clone3` would turn every PDF into a raw-bytes scan).
#[test]
fn the_unit_lets_the_pdf_helper_run() {
    let unit = std::fs::read_to_string(repo("systemd/leakhound.service")).unwrap();
    assert!(unit.contains("\nOOMPolicy=continue\n"));
    let filters: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("SystemCallFilter="))
        .collect();
    assert!(!filters.is_empty(), "the unit has no system call filter");
    for filter in filters {
        assert!(
            !filter.starts_with('~'),
            "a deny list: check it by hand: {filter}"
        );
        let mut allowed = Vec::new();
        for item in filter.split_whitespace() {
            if item.starts_with('@') {
                allowed.extend(expand(item));
            } else {
                allowed.push(item.to_string());
            }
        }
        for call in PDF_HELPER_CALLS {
            assert!(
                allowed.iter().any(|a| a == call),
                "SystemCallFilter={filter} forbids {call}"
            );
        }
    }
}

/// The system calls of a systemd syscall group, nested groups expanded.
fn expand(group: &str) -> Vec<String> {
    let out = Command::new("systemd-analyze")
        .args(["syscall-filter", group])
        .output()
        .expect("systemd-analyze is needed: run scripts/setup.sh (it installs systemd)");
    assert!(out.status.success(), "{group}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut calls = Vec::new();
    for word in text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace)
        .skip(1)
    {
        if word.starts_with('@') {
            calls.extend(expand(word));
        } else {
            calls.push(word.to_string());
        }
    }
    calls
}

#[test]
fn the_sample_configuration_is_valid() {
    let out = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .arg("--config")
        .arg(repo("systemd/leakhound.yaml"))
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
