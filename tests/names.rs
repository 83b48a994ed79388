//! Names end to end: numbers in file, directory, member and attachment
//! names are findings and never printed raw (D11); names that are not UTF-8
//! are reported losslessly and acted on (D7); control sequences in names
//! never reach a terminal (D12). Every output format and a log sink are
//! searched whole for the raw number.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_leakhound");
const KEY: &str = "names-test-fingerprint-key";

/// In the name of a file.
const FILE_CARD: &str = "4929731804276152";
/// In the name of a directory, grouped as people write it.
const DIR_CARD: &str = "4526-0181-5908-3012";
const DIR_CARD_BARE: &str = "4526018159083012";
/// In the name of a zip member.
const MEMBER_CARD: &str = "5478778932879219";
/// In the file name of a mail attachment.
const ATTACHMENT_CARD: &str = "4929731804276152";
/// Inside files (the content findings).
const CONTENT_CARD: &str = "4526 0181 5908 3012";

const RAW: [&str; 4] = [FILE_CARD, DIR_CARD, DIR_CARD_BARE, MEMBER_CARD];
const MASKED: [&str; 3] = ["492973******6152", "452601******3012", "547877******9219"];

fn lh(state: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", state)
        .env_remove("LEAKHOUND_LOG")
        .env_remove("LEAKHOUND_CONFIG")
        .env_remove("NO_COLOR")
        .timeout(Duration::from_secs(120));
    c
}

fn zip_with_member(path: &Path, member: &str, body: &str) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    z.start_file(member, zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(body.as_bytes()).unwrap();
    z.finish().unwrap();
}

/// A tree with a number in a file name, a directory name, a zip member name
/// and a mail attachment name.
fn tree(dir: &Path) {
    std::fs::write(
        dir.join(format!("{FILE_CARD}.csv")),
        format!("card {CONTENT_CARD}\n"),
    )
    .unwrap();
    std::fs::create_dir(dir.join(DIR_CARD)).unwrap();
    std::fs::write(dir.join(DIR_CARD).join("notes.txt"), "nothing here\n").unwrap();
    zip_with_member(
        &dir.join("export.zip"),
        &format!("{MEMBER_CARD}.txt"),
        "nothing here\n",
    );
    let mail = format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: invoice\r\n\
         Message-ID: <m1@example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n\
         --XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
         --XX\r\nContent-Type: text/plain\r\n\
         Content-Disposition: attachment; filename=\"{ATTACHMENT_CARD}.txt\"\r\n\r\n\
         nothing here\r\n--XX--\r\n"
    );
    std::fs::write(dir.join("mail.eml"), mail).unwrap();
}

fn assert_no_raw(what: &str, text: &str) {
    for raw in RAW {
        assert!(
            !text.contains(raw),
            "{what}: the raw number `{raw}` appears:\n{text}"
        );
    }
}

fn jsonl(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/events.schema.json"
    ))
    .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[test]
fn d11_numbers_in_names_are_findings_in_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    tree(dir.path());
    let out = lh(state.path())
        .args(["scan", "-f", "jsonl", "-v"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let events = jsonl(&out.stdout);
    let v = schema();
    for e in &events {
        let errors: Vec<String> = v.iter_errors(e).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{e}: {errors:?}");
    }
    let named: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "finding" && e["location"] == "name")
        .collect();
    let has = |path_end: &str, member: Option<&str>, masked: &str| {
        named.iter().any(|f| {
            f["path"].as_str().unwrap().ends_with(path_end)
                && f["member"].as_str() == member
                && f["masked"] == masked
                && f["line"].is_null()
        })
    };
    assert!(
        has("/492973******6152.csv", None, "492973******6152"),
        "file name: {named:?}"
    );
    assert!(
        has("/452601******3012", None, "452601******3012"),
        "directory name: {named:?}"
    );
    assert!(
        has(
            "/export.zip",
            Some("547877******9219.txt"),
            "547877******9219"
        ),
        "member name: {named:?}"
    );
    assert!(
        named
            .iter()
            .any(|f| f["path"].as_str().unwrap().ends_with("/mail.eml")
                && f["member"]
                    .as_str()
                    .is_some_and(|m| m.contains("attachment 492973******6152.txt"))),
        "attachment name: {named:?}"
    );
    assert_eq!(named.len(), 4, "{named:?}");
    // The content finding is still there, and says so.
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "finding" && e["location"] == "content" && e["line"] == 1)
    );
    // The file record of the directory's file shows the masked directory.
    assert!(
        events.iter().any(|e| e["type"] == "file"
            && e["path"]
                .as_str()
                .unwrap()
                .ends_with("/452601******3012/notes.txt")),
        "{events:?}"
    );
}

#[test]
fn d11_no_raw_number_from_a_name_in_any_format_or_sink() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    tree(dir.path());
    let sink_file = state.path().join("events.jsonl");
    let socket_path = state.path().join("syslog.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    // Read while the scans run: a full socket buffer would hold the sink.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                match socket.recv(&mut buf) {
                    Ok(n) => got.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                    Err(_) if stop.load(std::sync::atomic::Ordering::SeqCst) => break,
                    Err(_) => {}
                }
            }
            got
        })
    };
    for format in ["human", "json", "jsonl", "sarif", "junit"] {
        for verbose in [false, true] {
            let mut c = lh(state.path());
            c.args(["scan", "-f", format, "--progress", "never"])
                .arg(format!("--sink=jsonl:{}", sink_file.display()))
                .arg(format!("--sink=syslog:{}", socket_path.display()))
                .arg(dir.path());
            if verbose {
                c.arg("-v");
            }
            let out = c.output().unwrap();
            let what = format!("--format {format} -v={verbose}");
            assert_eq!(out.status.code(), Some(1), "{what}");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_no_raw(&format!("{what} stdout"), &stdout);
            assert_no_raw(
                &format!("{what} stderr"),
                &String::from_utf8_lossy(&out.stderr),
            );
            for m in MASKED {
                assert!(stdout.contains(m), "{what}: `{m}` missing:\n{stdout}");
            }
        }
    }
    let logged = std::fs::read_to_string(&sink_file).unwrap();
    assert!(logged.contains("\"location\":\"name\""));
    assert_no_raw("jsonl sink", &logged);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let datagrams = reader.join().unwrap();
    for d in &datagrams {
        assert_no_raw("syslog sink", d);
    }
    assert!(
        datagrams.iter().any(|d| d.contains("location=\"name\"")),
        "the syslog sink got {} messages",
        datagrams.len()
    );
}

#[test]
fn d11_actions_report_masked_paths() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{FILE_CARD}.log"));
    std::fs::write(&file, format!("card {CONTENT_CARD}\n")).unwrap();
    let out = lh(state.path())
        .args(["scan", "-f", "jsonl", "--action", "redact"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_no_raw("redact", &stdout);
    let events = jsonl(&out.stdout);
    let action = events.iter().find(|e| e["type"] == "action").unwrap();
    assert_eq!(action["action"], "redacted", "{action}");
    assert!(
        action["path"]
            .as_str()
            .unwrap()
            .ends_with("492973******6152.log")
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(CONTENT_CARD), "{text}");
}

/// `caf\xe9.csv`: Latin-1, not UTF-8.
fn latin1_name(dir: &Path) -> PathBuf {
    dir.join(OsStr::from_bytes(b"caf\xe9.csv"))
}

fn decode_base64(s: &str) -> Vec<u8> {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        bits = bits << 6 | ABC.iter().position(|&a| a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[test]
fn d7_non_utf8_name_is_reported_losslessly() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let file = latin1_name(dir.path());
    std::fs::write(&file, format!("card {CONTENT_CARD}\n")).unwrap();
    let out = lh(state.path())
        .args(["scan", "-f", "jsonl"])
        .arg(dir.path())
        .output()
        .unwrap();
    let events = jsonl(&out.stdout);
    let v = schema();
    for e in &events {
        let errors: Vec<String> = v.iter_errors(e).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{e}: {errors:?}");
    }
    let f = events.iter().find(|e| e["type"] == "finding").unwrap();
    let path = f["path"].as_str().unwrap();
    assert!(path.ends_with("/caf\\xE9.csv"), "{path}");
    assert!(!path.contains('\u{FFFD}'), "{path}");
    let bytes = decode_base64(f["path_bytes"].as_str().unwrap());
    assert_eq!(bytes, file.as_os_str().as_bytes());
    let human = lh(state.path())
        .args(["scan", "--color", "never"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("caf\\xE9.csv"), "{text}");
    assert!(!text.contains('\u{FFFD}'), "{text}");
}

#[test]
fn d7_non_utf8_name_is_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let file = latin1_name(dir.path());
    std::fs::write(&file, format!("card {CONTENT_CARD}\n")).unwrap();
    let out = lh(state.path())
        .args(["scan", "-f", "jsonl", "--action", "redact"])
        .arg(dir.path())
        .output()
        .unwrap();
    let events = jsonl(&out.stdout);
    let action = events.iter().find(|e| e["type"] == "action").unwrap();
    assert_eq!(action["action"], "redacted", "{action}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(CONTENT_CARD), "{text}");
    assert!(text.contains("3012"), "{text}");
}

#[test]
fn d7_non_utf8_name_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let q = store.path().join("q");
    let file = latin1_name(dir.path());
    std::fs::write(&file, format!("card {CONTENT_CARD}\n")).unwrap();
    let out = lh(state.path())
        .args([
            "scan",
            "-f",
            "jsonl",
            "--action",
            "quarantine",
            "--quarantine-dir",
        ])
        .arg(&q)
        .arg(dir.path())
        .output()
        .unwrap();
    let events = jsonl(&out.stdout);
    let action = events.iter().find(|e| e["type"] == "action").unwrap();
    assert_eq!(action["action"], "quarantined", "{action}");
    assert!(!file.exists(), "the original is still there");
}

#[test]
fn d12_control_sequences_in_names_do_not_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let evil = dir
        .path()
        .join(OsStr::from_bytes(b"zz\x1b[1A\x1b[2K\x07\rgone\n.csv"));
    std::fs::write(&evil, format!("card {CONTENT_CARD}\n")).unwrap();
    let bidi = dir.path().join("invoice\u{202E}txt.exe");
    std::fs::write(&bidi, format!("card {CONTENT_CARD}\n")).unwrap();
    let zip = dir.path().join("a.zip");
    zip_with_member(&zip, "m\x1b[2K.txt", &format!("card {CONTENT_CARD}\n"));
    for args in [
        &["-v"][..],
        &[][..],
        &["--action", "redact", "--dry-run"][..],
    ] {
        let out = lh(state.path())
            .args(["scan", "--color", "never", "--progress", "never"])
            .args(args)
            .arg(dir.path())
            .output()
            .unwrap();
        for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            for bad in [0x1b_u8, 0x07, b'\r'] {
                assert!(
                    !stream.contains(&bad),
                    "{args:?} {name}: raw byte {bad:#x} in:\n{}",
                    String::from_utf8_lossy(stream)
                );
            }
            let text = String::from_utf8_lossy(stream);
            assert!(!text.contains('\u{202E}'), "{args:?} {name}: {text}");
        }
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("zz\\e[1A\\e[2K\\x07\\rgone\\n.csv"),
            "{args:?}: {text}"
        );
        assert!(text.contains("invoice\\u{202E}txt.exe"), "{text}");
        assert!(text.contains("a.zip!m\\e[2K.txt"), "{text}");
    }
    // An error that echoes a path given on the command line.
    let out = lh(state.path())
        .args(["scan", "--color", "never"])
        .arg(OsStr::from_bytes(b"missing\x1b[2K"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.contains(&0x1b), "{:?}", out.stderr);
    assert!(!out.stdout.contains(&0x1b), "{:?}", out.stdout);
}

#[test]
fn d11_baseline_holds_masked_names_and_still_matches() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    tree(dir.path());
    let baseline = state.path().join("baseline.json");
    let out = lh(state.path())
        .args(["baseline", "create", "-o"])
        .arg(&baseline)
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = std::fs::read_to_string(&baseline).unwrap();
    assert_no_raw("baseline", &text);
    assert!(text.contains("492973******6152.csv"), "{text}");
    let out = lh(state.path())
        .args(["scan", "-f", "jsonl", "--baseline"])
        .arg(&baseline)
        .arg(dir.path())
        .output()
        .unwrap();
    let events = jsonl(&out.stdout);
    let summary = events.iter().find(|e| e["type"] == "summary").unwrap();
    assert_eq!(summary["findings"], 0, "{summary}");
    assert_eq!(
        summary["baseline"]["stale"],
        serde_json::json!([]),
        "{summary}"
    );
    assert_eq!(out.status.code(), Some(0), "{summary}");
}

#[test]
fn d11_d7_the_daemon_masks_names_and_keeps_them_lossless() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let root = dir.join("root");
    let state = dir.join("state");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        root.join(format!("{FILE_CARD}.csv")),
        format!("card {CONTENT_CARD}\n"),
    )
    .unwrap();
    std::fs::write(latin1_name(&root), format!("card {CONTENT_CARD}\n")).unwrap();
    let events = dir.join("events.jsonl");
    let config = dir.join("leakhound.yaml");
    std::fs::write(
        &config,
        format!(
            "state_dir: {}\nwatch:\n  settle: 300ms\n  status_interval: 200ms\n  \
             events_file: {}\n  roots:\n    - path: {}\n",
            state.display(),
            events.display(),
            root.display()
        ),
    )
    .unwrap();
    let stderr_path = dir.join("stderr.txt");
    let mut child = std::process::Command::new(BIN)
        .args(["--log-level", "info", "--config"])
        .arg(&config)
        .arg("watch")
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen: Vec<Value> = Vec::new();
    let done = |seen: &[Value]| {
        let name = seen
            .iter()
            .any(|e| e["location"] == "name" && e["masked"] == "492973******6152");
        let latin1 = seen.iter().any(|e| {
            e["type"] == "finding"
                && e["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with("caf\\xE9.csv"))
                && e["path_bytes"].is_string()
        });
        name && latin1
    };
    while std::time::Instant::now() < deadline && !done(&seen) {
        std::thread::sleep(Duration::from_millis(200));
        seen = std::fs::read_to_string(&events)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(done(&seen), "{seen:?}");
    assert_no_raw("daemon events", &std::fs::read_to_string(&events).unwrap());
    assert_no_raw(
        "daemon stderr",
        &std::fs::read_to_string(&stderr_path).unwrap(),
    );
}

#[test]
fn d11_a_number_only_in_the_name_is_not_redacted_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{FILE_CARD}.log"));
    std::fs::write(&file, "nothing here\n").unwrap();
    let out = lh(state.path())
        .args(["scan", "--color", "never", "--action", "redact"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_no_raw("redact", &text);
    assert!(
        text.contains("skipped: the number is in the file's name"),
        "{text}"
    );
    // The finding is listed under its file, before what was done to it.
    let finding = text.find("name  high").expect("the finding line");
    let action = text.find("skipped:").unwrap();
    assert!(finding < action, "{text}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "nothing here\n");
}

#[test]
fn d11_a_message_id_is_masked_but_not_a_name_finding() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    // Nine digits that pass as an SSN, in a machine-made Message-ID: not a
    // name anyone gave (the corpus' mails are full of such ids).
    let mail = "From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\
                Message-ID: <536228726@example.com>\r\n\r\ncard 4526 0181 5908 3012\r\n";
    std::fs::write(dir.path().join("m.eml"), mail).unwrap();
    let out = lh(state.path())
        .args(["scan", "-f", "jsonl"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("536228726"), "{text}");
    let events = jsonl(&out.stdout);
    assert!(
        !events.iter().any(|e| e["location"] == "name"),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e["type"] == "finding"
            && e["member"]
                .as_str()
                .is_some_and(|m| m.contains("*****8726"))),
        "the id is masked where it is written: {events:?}"
    );
}

#[test]
fn d11_sarif_with_findings_in_names_passes_the_multitool() {
    let tool = std::env::var("SARIF_MULTITOOL").unwrap_or_else(|_| "sarif-multitool".into());
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    tree(dir.path());
    let sarif = state.path().join("out.sarif");
    lh(state.path())
        .args(["scan", "-f", "sarif", "-o"])
        .arg(&sarif)
        .arg(dir.path())
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&sarif).unwrap();
    assert_no_raw("sarif", &text);
    assert!(text.contains("\"location\": \"name\""), "{text}");
    let report = state.path().join("validation.sarif");
    // The npm wrapper runs the tool through a shell: the list is quoted.
    let out = std::process::Command::new(&tool)
        .arg("validate")
        .arg(&sarif)
        .args(["--rule-kind", "\"Sarif;Gh\"", "-o"])
        .arg(&report)
        .current_dir(state.path())
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e} (run scripts/setup.sh, or set SARIF_MULTITOOL)"));
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let problems: Vec<&Value> = v["runs"][0]["results"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let bad: Vec<&&Value> = problems
        .iter()
        .filter(|r| {
            matches!(
                r["level"].as_str().unwrap_or("warning"),
                "error" | "warning"
            )
        })
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
}

#[test]
fn d7_action_on_an_odd_name_under_a_relative_root_finds_the_file() {
    // Paths relative to the root (--root, SARIF, JUnit) and a root whose
    // own name needs escaping: the action still gets the exact bytes.
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let root = dir.path().join("back\\slash");
    std::fs::create_dir(&root).unwrap();
    let file = latin1_name(&root);
    std::fs::write(&file, format!("card {CONTENT_CARD}\n")).unwrap();
    let out = lh(state.path())
        .current_dir(dir.path())
        .args([
            "scan",
            "-f",
            "jsonl",
            "--action",
            "redact",
            "--root",
            "back\\slash",
        ])
        .arg("back\\slash")
        .output()
        .unwrap();
    let events = jsonl(&out.stdout);
    let action = events.iter().find(|e| e["type"] == "action").unwrap();
    assert_eq!(action["action"], "redacted", "{action}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(CONTENT_CARD), "{text}");
}

#[test]
fn d7_paths_relative_to_a_root_whose_name_needs_escaping() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let root = dir.path().join("back\\slash");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(latin1_name(&root), format!("card {CONTENT_CARD}\n")).unwrap();
    let out = lh(state.path())
        .args(["scan", "-f", "jsonl", "--root"])
        .arg(&root)
        .arg(&root)
        .output()
        .unwrap();
    let events = jsonl(&out.stdout);
    let f = events.iter().find(|e| e["type"] == "finding").unwrap();
    assert_eq!(f["path"], "caf\\xE9.csv", "{f}");
    assert_eq!(
        decode_base64(f["path_bytes"].as_str().unwrap()),
        b"caf\xe9.csv"
    );
}
