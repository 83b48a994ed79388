//! In-place redaction against a busy and a hostile file system: a file
//! another process keeps appending to (D3), actions that fail for want of
//! space, a read-only file system or an immutable file (exit code 4, the
//! findings still reported), a number in a gzip header (D14). Real
//! processes, real mounts, the real binary.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_leakhound");
const VISA_GROUPED: &str = "4526 0181 5908 3012";
const VISA_MASKED: &str = "**** **** **** 3012";
const VISA: &str = "4526018159083012";

fn lh(state: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("LEAKHOUND_FINGERPRINT_KEY", "inplace-test-key")
        .env("LEAKHOUND_STATE_DIR", state)
        .env_remove("LEAKHOUND_CONFIG")
        .env_remove("LEAKHOUND_FAULT");
    c
}

/// `scan ROOT --format jsonl --action ACTION` and extra arguments: the exit
/// code and the events. Output and stderr must not hold the raw number.
fn scan(state: &Path, root: &Path, action: &str, extra: &[&str]) -> (Option<i32>, Vec<Value>) {
    let out = lh(state)
        .arg("scan")
        .arg(root)
        .args([
            "--format",
            "jsonl",
            "--progress",
            "never",
            "-j1",
            "--action",
            action,
        ])
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for (what, bytes) in [("stdout", text.as_bytes()), ("stderr", &out.stderr[..])] {
        let s = String::from_utf8_lossy(bytes);
        assert!(
            !s.contains(VISA) && !s.contains(VISA_GROUPED),
            "{what} holds the raw number"
        );
    }
    let events = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code(), events)
}

fn of_type<'a>(events: &'a [Value], ty: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == ty).collect()
}

/// The one action event of a scan.
fn the_action(events: &[Value]) -> &Value {
    let a = of_type(events, "action");
    assert_eq!(a.len(), 1, "{events:#?}");
    a[0]
}

// ---------------------------------------------------------------- D3

/// An appender that writes numbered lines until `stop` exists, in blocks:
/// twenty lines through a descriptor held open for the whole block, a
/// short pause after each (a logger), then twenty opening the file for
/// each line (`echo >>`), so the redaction meets both a writer that is
/// there and writers that come and go. Every third line holds a card.
/// When stopped it writes how many lines it wrote to `count`.
const APPENDER: &str = r#"
f=$1; stop=$2; count=$3; i=0; k=0
while [ ! -e "$stop" ]; do
  k=$((k+1))
  if [ $((k % 2)) -eq 0 ]; then
    exec 3>>"$f"
    j=0
    while [ $j -lt 20 ]; do
      if [ $((i % 3)) -eq 0 ]; then echo "line $i card 4526 0181 5908 3012 end" >&3
      else echo "line $i plain text end" >&3; fi
      i=$((i+1)); j=$((j+1))
      sleep 0.002
    done
    exec 3>&-
  else
    j=0
    while [ $j -lt 20 ]; do
      if [ $((i % 3)) -eq 0 ]; then echo "line $i card 4526 0181 5908 3012 end" >>"$f"
      else echo "line $i plain text end" >>"$f"; fi
      i=$((i+1)); j=$((j+1))
      sleep 0.002
    done
  fi
done
echo $i > "$count"
"#;

fn expected_line(i: usize, masked: bool) -> String {
    if i.is_multiple_of(3) {
        let card = if masked { VISA_MASKED } else { VISA_GROUPED };
        format!("line {i} card {card} end")
    } else {
        format!("line {i} plain text end")
    }
}

/// D3: `scan --action redact` on a file another process keeps appending
/// to, 100 times. Whatever the first redaction does (redact between two
/// writers, or skip: in use, or changed), no line may be lost; once the
/// writer stops, a second run redacts, and the file then holds every line
/// the appender wrote, in order, each card masked.
#[test]
fn d3_redacting_a_file_being_appended_loses_no_line() {
    let mut outcomes = std::collections::BTreeMap::<String, u32>::new();
    for run in 0..100 {
        let root = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let ctl = tempfile::tempdir().unwrap();
        let log = root.path().join("app.log");
        fs::write(&log, format!("start card {VISA_GROUPED} here\n")).unwrap();
        let (stop, count) = (ctl.path().join("stop"), ctl.path().join("count"));
        let mut appender = Command::new("sh")
            .arg("-c")
            .arg(APPENDER)
            .arg("sh")
            .arg(&log)
            .arg(&stop)
            .arg(&count)
            .spawn()
            .unwrap();
        // Let it get going, so the redaction meets it at work.
        let t = Instant::now();
        while fs::metadata(&log).unwrap().len() < 2000 && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let (code, events) = scan(state.path(), root.path(), "redact", &[]);
        let a = the_action(&events);
        let action = a["action"].as_str().unwrap().to_string();
        assert!(
            (action == "redacted" || action == "skipped") && code == Some(1),
            "run {run}: {a} (exit {code:?})"
        );
        let reason = a["reason"].as_str().unwrap_or("");
        let label = if action == "redacted" {
            "redacted".to_string()
        } else if reason.contains("while leakhound was replacing it") {
            "skipped: a writer opened it during the swap (undone)".to_string()
        } else if reason.starts_with("in use by another process") {
            "skipped: in use".to_string()
        } else {
            format!("skipped: {}", reason.split(';').next().unwrap_or(""))
        };
        *outcomes.entry(label).or_default() += 1;
        fs::write(&stop, b"").unwrap();
        assert!(appender.wait().unwrap().success());
        let written: usize = fs::read_to_string(&count).unwrap().trim().parse().unwrap();
        // The writer is gone: the file is redacted now.
        let (code, events) = scan(state.path(), root.path(), "redact", &[]);
        let mut want = format!("start card {VISA_MASKED} here\n");
        for i in 0..written {
            want.push_str(&expected_line(i, true));
            want.push('\n');
        }
        let got = fs::read_to_string(&log).unwrap();
        if got != want {
            let lines: std::collections::BTreeSet<&str> = got.lines().collect();
            let lost = (0..written)
                .filter(|&i| {
                    !lines.contains(expected_line(i, true).as_str())
                        && !lines.contains(expected_line(i, false).as_str())
                })
                .count();
            panic!(
                "run {run}: {lost} of {written} lines lost or damaged (first action: {action}, {reason})"
            );
        }
        assert_eq!(code, Some(1), "run {run}: {events:#?}");
        assert_eq!(the_action(&events)["action"], "redacted", "run {run}");
        let names: Vec<_> = fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "run {run}: temporary files left");
    }
    eprintln!("first redaction of a file being appended, over 100 runs: {outcomes:?}");
}

/// D3: a writer that holds the file open and writes nothing while the
/// scan runs: the redaction is skipped with its pid named, the file is left
/// as it is, and `--dry-run` predicts the same.
#[test]
fn d3_a_file_held_open_for_writing_is_skipped_naming_the_pid() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let log = root.path().join("held.log");
    let body = format!("card {VISA_GROUPED}\n");
    fs::write(&log, &body).unwrap();
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg("exec 3>>\"$1\"; echo ready; read x")
        .arg("sh")
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    for extra in [&["--dry-run"][..], &[]] {
        let (code, events) = scan(state.path(), root.path(), "redact", extra);
        assert_eq!(code, Some(1));
        let a = the_action(&events);
        assert_eq!(a["action"], "skipped", "{a}");
        let want = format!("in use by another process (pid {})", holder.id());
        assert!(
            a["reason"].as_str().unwrap().starts_with(&want),
            "{a}: want {want}"
        );
    }
    assert_eq!(fs::read_to_string(&log).unwrap(), body);
    holder.stdin.as_mut().unwrap().write_all(b"\n").unwrap();
    holder.wait().unwrap();
    let (_, events) = scan(state.path(), root.path(), "redact", &[]);
    assert_eq!(the_action(&events)["action"], "redacted");
}

/// The state letter of process `pid` (`T` when stopped).
fn proc_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// D3, the undo: a writer that starts opening the file while the redaction
/// holds its lease, just before the names are exchanged. leakhound is
/// stopped there (`LEAKHOUND_FAULT=stop:redact:before-exchange`); an
/// appender started then blocks in `open` (the lease); leakhound goes on,
/// exchanges, sees the lease broken and exchanges back before the appender
/// could write; the appender's line lands in the original, at its path.
#[test]
fn d3_a_writer_opening_during_the_swap_gets_the_original_back() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let log = root.path().join("swap.log");
    let body = format!("card {VISA_GROUPED}\n");
    fs::write(&log, &body).unwrap();
    let scanner = lh(state.path())
        .arg("scan")
        .arg(root.path())
        .args([
            "--format",
            "jsonl",
            "--progress",
            "never",
            "--action",
            "redact",
        ])
        .env("LEAKHOUND_FAULT", "stop:redact:before-exchange")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = scanner.id();
    let t = Instant::now();
    while proc_state(pid) != Some('T') {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "leakhound never stopped"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut writer = Command::new("sh")
        .arg("-c")
        .arg("echo 'late line' >> \"$1\"")
        .arg("sh")
        .arg(&log)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        writer.try_wait().unwrap().is_none(),
        "the writer was not held back by the lease"
    );
    let st = Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = scanner.wait_with_output().unwrap();
    assert!(writer.wait().unwrap().success());
    let events: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let a = the_action(&events);
    assert_eq!(a["action"], "skipped", "{a}");
    assert!(
        a["reason"]
            .as_str()
            .unwrap()
            .contains("while leakhound was replacing it"),
        "{a}"
    );
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        format!("{body}late line\n")
    );
    assert_eq!(
        fs::read_dir(root.path()).unwrap().count(),
        1,
        "temporary files left"
    );
    let (_, events) = scan(state.path(), root.path(), "redact", &[]);
    assert_eq!(the_action(&events)["action"], "redacted");
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        format!("card {VISA_MASKED}\nlate line\n")
    );
}

/// D3 without a lease: root without CAP_LEASE, on a file it does not own,
/// cannot take one; the `/proc` scan then finds the writer (named by pid)
/// and the file is left alone; once the writer is gone it is redacted.
#[test]
fn d3_without_a_lease_proc_names_the_writer() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let log = root.path().join("nolease.log");
    let body = format!("card {VISA_GROUPED}\n");
    fs::write(&log, &body).unwrap();
    let chown = Command::new("chown").arg("nobody").arg(&log).status();
    let setpriv = Command::new("setpriv").arg("--help").output();
    if !rustix::process::geteuid().is_root()
        || !chown.is_ok_and(|s| s.success())
        || !setpriv.is_ok_and(|o| o.status.success())
    {
        eprintln!("SKIPPED: needs root, chown and setpriv (to drop CAP_LEASE)");
        return;
    }
    let run = || {
        let out = Command::new("setpriv")
            .args(["--bounding-set=-lease", "--inh-caps=-lease", BIN])
            .env("LEAKHOUND_FINGERPRINT_KEY", "inplace-test-key")
            .env("LEAKHOUND_STATE_DIR", state.path())
            .env_remove("LEAKHOUND_CONFIG")
            .env_remove("LEAKHOUND_FAULT")
            .arg("scan")
            .arg(root.path())
            .args([
                "--format",
                "jsonl",
                "--progress",
                "never",
                "--action",
                "redact",
            ])
            .output()
            .unwrap();
        let events: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        the_action(&events).clone()
    };
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg("exec 3>>\"$1\"; echo ready; read x")
        .arg("sh")
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let a = run();
    assert_eq!(a["action"], "skipped", "{a}");
    let want = format!("in use by another process (pid {})", holder.id());
    assert!(a["reason"].as_str().unwrap().starts_with(&want), "{a}");
    assert_eq!(fs::read_to_string(&log).unwrap(), body);
    holder.stdin.as_mut().unwrap().write_all(b"\n").unwrap();
    holder.wait().unwrap();
    let a = run();
    assert_eq!(a["action"], "redacted", "{a}");
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        format!("card {VISA_MASKED}\n")
    );
}

// ------------------------------------------------- action failures: exit 4

/// A small tmpfs mounted for one test, unmounted when dropped. `None` (the
/// test is skipped, saying so) when this user may not mount.
struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755")])
            .arg("tmpfs")
            .arg(dir.path())
            .stderr(Stdio::null())
            .status();
        if st.is_ok_and(|s| s.success()) {
            return Some(Tmpfs { dir });
        }
        assert!(
            !may_mount(),
            "this process has CAP_SYS_ADMIN, but `mount -t tmpfs` failed"
        );
        eprintln!(
            "SKIPPED: this test mounts a small tmpfs, which needs CAP_SYS_ADMIN (root outside \
             an unprivileged container); run it as root"
        );
        None
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system: writes a file until there is no space left.
    fn fill(&self) {
        let mut f = fs::File::create(self.path().join("filler")).unwrap();
        let chunk = vec![b'x'; 4096];
        while f.write_all(&chunk).is_ok() {}
        // Small writes into the last partial pages too.
        while f.write_all(b"x").is_ok() {}
    }

    fn remount_ro(&self) {
        let st = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(st.success(), "cannot remount the tmpfs read-only");
    }
}

/// Whether this process holds CAP_SYS_ADMIN (bit 21 of its effective
/// capabilities), which mounting needs.
fn may_mount() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|c| u64::from_str_radix(c.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 21) != 0)
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A file with a card and enough filler that its redacted copy needs
/// several pages.
fn card_file(path: &Path) -> Vec<u8> {
    let body = format!(
        "{}card {VISA_GROUPED}\n",
        "filler text for the redacted copy\n".repeat(1000)
    )
    .into_bytes();
    fs::write(path, &body).unwrap();
    body
}

/// The finding, the `failed` action naming `why`, exit code 4, the file
/// unchanged and nothing left beside it.
fn assert_failed(code: Option<i32>, events: &[Value], why: &str, file: &Path, body: &[u8]) {
    assert_eq!(of_type(events, "finding").len(), 1, "{events:#?}");
    let a = the_action(events);
    assert_eq!(a["action"], "failed", "{a}");
    let reason = a["reason"].as_str().unwrap();
    assert!(reason.contains(why), "{reason} does not say {why}");
    assert_eq!(code, Some(4), "{events:#?}");
    let summary = of_type(events, "summary")[0];
    assert_eq!(summary["exit_code"], 4);
    assert_eq!(summary["result"], "action_failed");
    assert_eq!(summary["actions"]["failed"], 1);
    assert_eq!(fs::read(file).unwrap(), body);
    let left: Vec<_> = fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".leakhound"))
        .collect();
    assert!(left.is_empty(), "left beside the file: {left:?}");
}

#[test]
fn action_failed_no_space_left_exits_4_and_reports_the_finding() {
    let Some(fs_) = Tmpfs::mount("256k") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let file = fs_.path().join("cards.txt");
    let body = card_file(&file);
    fs_.fill();
    let (code, events) = scan(state.path(), fs_.path(), "redact", &["--exclude", "filler"]);
    assert_failed(code, &events, "No space left on device", &file, &body);
}

#[test]
fn action_failed_read_only_file_system_exits_4_and_reports_the_finding() {
    let Some(fs_) = Tmpfs::mount("1m") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let file = fs_.path().join("cards.txt");
    let body = card_file(&file);
    fs_.remount_ro();
    let (code, events) = scan(state.path(), fs_.path(), "redact", &[]);
    assert_failed(code, &events, "Read-only file system", &file, &body);
    // Quarantine fails the same way (the original cannot be removed).
    let store = tempfile::tempdir().unwrap();
    let q = store.path().join("q");
    let (code, events) = scan(
        state.path(),
        fs_.path(),
        "quarantine",
        &["--quarantine-dir", q.to_str().unwrap()],
    );
    assert_eq!(of_type(&events, "finding").len(), 1);
    assert_eq!(code, Some(4), "{events:#?}");
    assert_eq!(fs::read(&file).unwrap(), body);
}

#[test]
fn action_failed_immutable_file_exits_4_and_reports_the_finding() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let file = root.path().join("cards.txt");
    let body = card_file(&file);
    let chattr = Command::new("chattr").arg("+i").arg(&file).status();
    if !chattr.is_ok_and(|s| s.success()) {
        eprintln!(
            "SKIPPED: chattr +i is not available here (needs root and a file system with \
             the immutable flag)"
        );
        return;
    }
    let (code, events) = scan(state.path(), root.path(), "redact", &[]);
    let _ = Command::new("chattr").arg("-i").arg(&file).status();
    assert_failed(code, &events, "Operation not permitted", &file, &body);
}

/// A quarantine store on a full file system used to abort the scan before
/// any finding was reported (exit 2). Now every finding is reported, each
/// file's action says `failed` with the reason, and the exit code is 4.
#[test]
fn action_failed_store_on_a_full_file_system_still_reports_every_finding() {
    let Some(fs_) = Tmpfs::mount("512k") else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let q = fs_.path().join("q");
    let root = tempfile::tempdir().unwrap();
    // A store that exists and holds one file.
    card_file(&root.path().join("first.txt"));
    let (code, events) = scan(
        state.path(),
        root.path(),
        "quarantine",
        &["--quarantine-dir", q.to_str().unwrap()],
    );
    assert_eq!(code, Some(1), "{events:#?}");
    assert_eq!(the_action(&events)["action"], "quarantined");
    fs_.fill();
    let a = card_file(&root.path().join("a.txt"));
    let b = card_file(&root.path().join("b.txt"));
    let (code, events) = scan(
        state.path(),
        root.path(),
        "quarantine",
        &["--quarantine-dir", q.to_str().unwrap()],
    );
    assert_eq!(of_type(&events, "finding").len(), 2, "{events:#?}");
    let acts = of_type(&events, "action");
    assert_eq!(acts.len(), 2, "{events:#?}");
    for act in acts {
        assert_eq!(act["action"], "failed", "{act}");
        assert!(
            act["reason"].as_str().unwrap().contains("quarantine"),
            "{act}"
        );
    }
    assert_eq!(code, Some(4));
    assert_eq!(fs::read(root.path().join("a.txt")).unwrap(), a);
    assert_eq!(fs::read(root.path().join("b.txt")).unwrap(), b);
}

// ---------------------------------------------------------------- D14

fn gunzip(bytes: &[u8]) -> (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>) {
    let mut d = flate2::read::GzDecoder::new(bytes);
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut d, &mut out).unwrap();
    let h = d.header().unwrap();
    (
        out,
        h.filename().map(<[u8]>::to_vec),
        h.comment().map(<[u8]>::to_vec),
    )
}

/// D14: a number in a gzip header was neither found nor removed. A file
/// compressed by `gzip -N` keeps its original name, here a card number;
/// another (flate2) carries one in its comment. The scan finds both, named
/// by their header field; redaction masks them in the header it writes,
/// and afterwards neither the raw bytes nor the decompressed content nor
/// the header holds the number.
#[test]
fn d14_a_number_in_a_gzip_header_is_found_and_redacted() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let named = work.path().join(format!("{VISA}.csv"));
    fs::write(&named, "id,total\n1,20.00\n").unwrap();
    let gz = Command::new("gzip")
        .args(["-N", "-c"])
        .arg(&named)
        .output()
        .unwrap();
    assert!(gz.status.success(), "gzip failed");
    let by_gzip = root.path().join("export.csv.gz");
    fs::write(&by_gzip, &gz.stdout).unwrap();
    assert_eq!(
        gunzip(&gz.stdout).1.unwrap(),
        format!("{VISA}.csv").as_bytes()
    );
    let mut enc = flate2::GzBuilder::new()
        .filename("report.txt")
        .comment(format!("card {VISA_GROUPED} copied from the ticket"))
        .write(Vec::new(), flate2::Compression::default());
    enc.write_all(format!("card {VISA_GROUPED} in the text\n").as_bytes())
        .unwrap();
    let commented = root.path().join("report.txt.gz");
    fs::write(&commented, enc.finish().unwrap()).unwrap();

    let out = lh(state.path())
        .arg("scan")
        .arg(root.path())
        .args(["--format", "jsonl", "--progress", "never"])
        .output()
        .unwrap();
    let events: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let members: Vec<(String, String)> = of_type(&events, "finding")
        .iter()
        .map(|f| {
            (
                f["member"].as_str().unwrap_or("").to_string(),
                f["masked"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in ["gzip header FNAME", "gzip header FCOMMENT", ""] {
        assert!(
            members
                .iter()
                .any(|(m, masked)| m == want && masked == "452601******3012"),
            "no finding in {want:?}: {members:?}"
        );
    }

    let (code, events) = scan(state.path(), root.path(), "redact", &[]);
    assert_eq!(code, Some(1));
    for a in of_type(&events, "action") {
        assert_eq!(a["action"], "redacted", "{a}");
    }
    for (file, name, comment) in [
        (&by_gzip, "************3012.csv", None),
        (
            &commented,
            "report.txt",
            Some(format!("card {VISA_MASKED} copied from the ticket")),
        ),
    ] {
        let raw = fs::read(file).unwrap();
        let (text, got_name, got_comment) = gunzip(&raw);
        for bytes in [&raw, &text] {
            let s = String::from_utf8_lossy(bytes);
            assert!(
                !s.contains(VISA) && !s.contains(VISA_GROUPED),
                "{}",
                file.display()
            );
        }
        assert_eq!(got_name.as_deref(), Some(name.as_bytes()));
        assert_eq!(got_comment, comment.map(String::into_bytes));
    }
    // Nothing is found any more.
    let out = lh(state.path())
        .arg("scan")
        .arg(root.path())
        .args(["--format", "jsonl", "--progress", "never"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
