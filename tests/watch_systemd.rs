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
