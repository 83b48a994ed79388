//! The daemon's log lines and `last_error` never carry a raw number from a
//! file or directory name, nor a raw control character (issue 11: D11,
//! D12 in the daemon). Real conditions that log a path: a directory the
//! daemon's user cannot read (the daemon runs as `nobody` when the tests
//! run as root, since root reads everything), and a configured root that
//! does not exist.
//!
//! `LEAKHOUND_TEST_BIN=/path/to/leakhound` runs these tests against another
//! build (how each was checked to fail on the code before its fix).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "watch-names-key";
/// In the name of a directory, grouped as people write it.
const DIR_CARD: &str = "4929-7318-0427-6152";
/// In the name of a file.
const FILE_CARD: &str = "5478778932879219";
/// In the name of the watched root.
const ROOT_CARD: &str = "4526018159083012";
const RAW: [&str; 4] = [DIR_CARD, "4929731804276152", FILE_CARD, ROOT_CARD];

fn bin() -> String {
    std::env::var("LEAKHOUND_TEST_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_leakhound").to_string())
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn assert_no_raw(what: &str, text: &str) {
    for raw in RAW {
        assert!(
            !text.contains(raw),
            "{what}: the raw number {raw} is printed:\n{text}"
        );
    }
    assert!(!text.contains('\u{1b}'), "{what}: a raw ESC:\n{text}");
}

fn config(dir: &Path, root: &Path) -> std::path::PathBuf {
    let config = dir.join("leakhound.yaml");
    std::fs::write(
        &config,
        format!(
            "state_dir: {}\nwatch:\n  settle: 200ms\n  status_interval: 200ms\n  \
             events_file: {}\n  roots:\n    - path: {}\n",
            dir.join("state").display(),
            dir.join("events.jsonl").display(),
            root.display()
        ),
    )
    .unwrap();
    config
}

/// Runs the daemon until `done(stderr)` or 60 s; returns its stderr.
fn run_daemon(dir: &Path, config: &Path, done: impl Fn(&str) -> bool) -> String {
    let stderr_path = dir.join("stderr.txt");
    let mut cmd = Command::new(bin());
    cmd.args(["--log-level", "info", "--config"])
        .arg(config)
        .arg("watch")
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("NO_COLOR", "1")
        .env_remove("LEAKHOUND_CONFIG")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    if is_root() {
        // Root reads a mode-000 directory: run as `nobody` to meet the
        // permission error a real daemon user meets.
        cmd.uid(65534).gid(65534);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut text = String::new();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        if done(&text) || child.try_wait().unwrap().is_some() {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    std::fs::read_to_string(&stderr_path).unwrap_or(text)
}

/// A private temporary directory the daemon's user (`nobody` under root)
/// may use.
fn workdir() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = dir.join("state");
    std::fs::create_dir(&state).unwrap();
    if is_root() {
        std::os::unix::fs::chown(&state, Some(65534), Some(65534)).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    }
    (tmp, dir)
}

/// D11: `cannot walk <dir>: <walkdir's message>` named an unreadable
/// directory raw twice (the path, and walkdir's own message, which quotes
/// it); the line reaches stderr (journald) and `last_error`. The root's
/// own name holds a number too: `status.json` and `leakhound status` kept
/// it raw.
#[test]
fn d11_daemon_log_masks_a_number_in_an_unreadable_directory_name() {
    let (_tmp, dir) = workdir();
    let root = dir.join(format!("share-{ROOT_CARD}"));
    let secret = root.join(DIR_CARD);
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::write(secret.join("notes.txt"), "nothing\n").unwrap();
    std::fs::write(root.join(format!("{FILE_CARD}\u{1b}[2K.txt")), "nothing\n").unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    let config = config(&dir, &root);
    let status_path = dir.join("state").join("status.json");
    let stderr = run_daemon(&dir, &config, |t| {
        t.contains("cannot walk")
            && std::fs::read_to_string(&status_path)
                .is_ok_and(|s| s.contains("\"last_error\"") && s.contains("492973******6152"))
    });
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(
        stderr.contains("cannot walk") && stderr.contains("492973******6152"),
        "the daemon did not log the unreadable directory, masked:\n{stderr}"
    );
    assert_no_raw("daemon stderr", &stderr);
    let status = std::fs::read_to_string(&status_path).unwrap();
    assert!(
        status.contains("492973******6152"),
        "last_error does not name the directory, masked:\n{status}"
    );
    assert_no_raw("status.json (last_error, roots)", &status);
    assert!(status.contains("share-452601******3012"), "{status}");
    let out = Command::new(bin())
        .args(["status", "--state-dir"])
        .arg(dir.join("state"))
        .env("NO_COLOR", "1")
        .env_remove("LEAKHOUND_CONFIG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("share-452601******3012"), "{text}");
    assert_no_raw("leakhound status", &text);
}

/// D11: a configured root that does not exist is named in the error the
/// daemon exits with.
#[test]
fn d11_daemon_error_for_a_missing_root_masks_its_name() {
    let (_tmp, dir) = workdir();
    let root = dir.join(format!("share-{DIR_CARD}"));
    let config = config(&dir, &root);
    let stderr = run_daemon(&dir, &config, |t| t.contains("cannot watch"));
    assert!(
        stderr.contains("share-492973******6152"),
        "the daemon did not name the missing root, masked:\n{stderr}"
    );
    assert_no_raw("daemon stderr", &stderr);
}
