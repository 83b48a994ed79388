//! `leakhound redact` as a filter and `leakhound reveal`, through the real
//! binary and real pipes: what comes out is the input byte for byte but for
//! the validated numbers; a number a producer writes byte by byte is still
//! found; a line leaves as soon as its newline arrives; UTF-16, gzip and
//! binary input; FPE tokens round-trip and their reveal is an event.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const CARD: &str = "4111 1111 1111 1111";
const CARD_MASKED: &str = "**** **** **** 1111";

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_leakhound"))
}

fn cmd(state: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env("LEAKHOUND_STATE_DIR", state)
        .env_remove("LEAKHOUND_CONFIG")
        .env_remove("LEAKHOUND_FINGERPRINT_KEY");
    c
}

/// Runs `redact ARGS` with `input` on stdin; returns (status, stdout, stderr).
fn run(state: &Path, args: &[&str], input: &[u8]) -> (i32, Vec<u8>, String) {
    let mut child = cmd(state)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn key_file(dir: &Path, byte: u8) -> PathBuf {
    let p = dir.join(format!("fpe-{byte}.key"));
    std::fs::write(&p, [byte; 32]).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

#[test]
fn filter_output_is_input_byte_for_byte_but_the_numbers() {
    let dir = tempfile::tempdir().unwrap();
    // CRLF, a Latin-1 byte, an invalid card (Luhn fails), tabs, no final
    // newline: all must pass unchanged.
    let mut input = Vec::new();
    input.extend_from_slice(b"first line\r\n");
    input.extend_from_slice(format!("card {CARD} paid\r\n").as_bytes());
    input.extend_from_slice(b"caf\xe9 4111 1111 1111 1112 not a card\n");
    input.extend_from_slice(b"\tpesel 44051401359 end");
    let (code, out, err) = run(dir.path(), &["redact", "-"], &input);
    assert_eq!(code, 0, "{err}");
    let mut want = Vec::new();
    want.extend_from_slice(b"first line\r\n");
    want.extend_from_slice(format!("card {CARD_MASKED} paid\r\n").as_bytes());
    want.extend_from_slice(b"caf\xe9 4111 1111 1111 1112 not a card\n");
    want.extend_from_slice(b"\tpesel *******1359 end");
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(out, want);
    assert!(!err.contains("4111 1111"), "{err}");
}

/// A producer that writes one byte at a time, through a real pipe: the
/// number split across many writes is found, and each line leaves as soon
/// as its newline was written (before the next line is).
#[test]
fn filter_finds_number_written_byte_by_byte_and_flushes_each_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = cmd(dir.path())
        .args(["redact", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let lines = [
        format!("login ok user=7 card={CARD} amount=12"),
        "no number here".to_string(),
        "pesel 44051401359 again".to_string(),
    ];
    for line in &lines {
        for b in line.bytes().chain(std::iter::once(b'\n')) {
            stdin.write_all(&[b]).unwrap();
            stdin.flush().unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
        // The line comes out while the producer still holds the pipe open.
        let got = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the line was not written before the next one began");
        assert!(!got.contains("1111 1111 1111"), "{got}");
        assert!(!got.contains("44051401359"), "{got}");
        assert_eq!(got.len(), line.len(), "{got}");
    }
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
}

#[test]
fn filter_block_mode_matches_across_window_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    // Numbers at every offset modulo a small window, so many straddle one.
    let mut text = String::new();
    let mut want = String::new();
    for i in 0..3000 {
        let pad = "x".repeat(i % 37);
        text.push_str(&format!("{pad} card {CARD};\n"));
        want.push_str(&format!("{pad} card {CARD_MASKED};\n"));
    }
    let file = dir.path().join("big.log");
    std::fs::write(&file, &text).unwrap();
    let out_file = dir.path().join("big.redacted.log");
    let status = cmd(dir.path())
        .args(["redact", "--chunk-size", "4096", "-o"])
        .arg(&out_file)
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let got = std::fs::read_to_string(&out_file).unwrap();
    assert!(got == want, "the block-mode output differs");
    // No temporary file is left beside the output.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn filter_utf16_in_utf16_out() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("Name: Ann\r\nCard: {CARD}\r\n");
    let enc = |s: &str| -> Vec<u8> {
        let mut v = vec![0xFF, 0xFE];
        v.extend(s.encode_utf16().flat_map(|u| u.to_le_bytes()));
        v
    };
    let (code, out, err) = run(dir.path(), &["redact", "-"], &enc(&text));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, enc(&text.replace(CARD, CARD_MASKED)));
}

#[test]
fn filter_gzip_on_stdin_is_redacted_and_recompressed() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("a log line with {CARD}\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let (code, out, err) = run(dir.path(), &["redact", "-"], &gz);
    assert_eq!(code, 0, "{err}");
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&out[..])
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, text.replace(CARD, CARD_MASKED));
}

#[test]
fn filter_refuses_binary_and_archives_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let mut bin_input = vec![0u8, 1, 2, 3, 0, 0, 7];
    bin_input.extend_from_slice(CARD.as_bytes());
    bin_input.extend_from_slice(&[0u8; 64]);
    let (code, out, err) = run(dir.path(), &["redact", "-"], &bin_input);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("binary"), "{err}");
    assert!(!err.contains("4111"), "{err}");
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend_from_slice(CARD.as_bytes());
    let (code, out, err) = run(dir.path(), &["redact", "-"], &zip);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("zip"), "{err}");
}

#[test]
fn fpe_round_trip_through_the_binary_and_reveal_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), 9);
    let other = key_file(dir.path(), 10);
    let input = format!(
        "card {CARD}\nIBAN DE89 3704 0044 0532 0130 00\nکد ملی ۰۰۱۳۵۴۲۴۱۹\nPESEL 44051401359\n"
    );
    let args = ["redact", "--style", "fpe", "--fpe-key-file"];
    let (code, token1, err) = run(
        dir.path(),
        &[&args[..], &[key.to_str().unwrap(), "-"]].concat(),
        input.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let token1 = String::from_utf8(token1).unwrap();
    assert_eq!(token1.chars().count(), input.chars().count());
    assert!(!token1.contains("1111 1111 1111"), "{token1}");
    assert!(!token1.contains("44051401359"), "{token1}");
    // Deterministic under one key, different under another.
    let (_, again, _) = run(
        dir.path(),
        &[&args[..], &[key.to_str().unwrap(), "-"]].concat(),
        input.as_bytes(),
    );
    assert_eq!(String::from_utf8(again).unwrap(), token1);
    let (_, other_tokens, _) = run(
        dir.path(),
        &[&args[..], &[other.to_str().unwrap(), "-"]].concat(),
        input.as_bytes(),
    );
    assert_ne!(String::from_utf8(other_tokens).unwrap(), token1);
    // A scan of the tokens finds nothing.
    let scan = cmd(dir.path())
        .args(["scan", "-f", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    scan.stdin
        .as_ref()
        .unwrap()
        .write_all(token1.as_bytes())
        .unwrap();
    let scanned = scan.wait_with_output().unwrap();
    assert_eq!(scanned.status.code(), Some(0), "a token was reported");
    // Reveal gives the input back, byte for byte, and says so on a sink.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let sink = format!("syslog+udp://{}", udp.local_addr().unwrap());
    let (code, back, err) = run(
        dir.path(),
        &[
            "reveal",
            "--fpe-key-file",
            key.to_str().unwrap(),
            "--sink",
            &sink,
            "-",
        ],
        token1.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8(back).unwrap(), input);
    assert!(err.contains("revealed 4 value(s)"), "{err}");
    let mut buf = [0u8; 8192];
    let n = udp
        .recv(&mut buf)
        .expect("the reveal event reached the sink");
    let event = String::from_utf8_lossy(&buf[..n]);
    assert!(event.contains("revealed"), "{event}");
    assert!(event.contains("uid "), "{event}");
    // The key never shows.
    assert!(!event.contains("090909"), "{event}");
}

#[test]
fn fpe_key_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), 3);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out, err) = run(
        dir.path(),
        &[
            "redact",
            "--style",
            "fpe",
            "--fpe-key-file",
            key.to_str().unwrap(),
            "-",
        ],
        format!("{CARD}\n").as_bytes(),
    );
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("chmod 600"), "{err}");
    let (code, _, err) = run(dir.path(), &["redact", "--style", "fpe", "-"], b"x\n");
    assert_eq!(code, 2);
    assert!(err.contains("--fpe-key-file"), "{err}");
}

#[test]
fn filter_report_holds_masked_findings_only() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("findings.jsonl");
    let (code, _, err) = run(
        dir.path(),
        &["redact", "--report", report.to_str().unwrap(), "-"],
        format!("one\ncard {CARD}\n").as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let r = std::fs::read_to_string(&report).unwrap();
    assert_eq!(r.lines().count(), 1, "{r}");
    assert!(r.contains("\"type\":\"finding\""), "{r}");
    assert!(r.contains("\"line\":2"), "{r}");
    assert!(!r.contains("4111111111111111") && !r.contains(CARD), "{r}");
}

/// The shipped logrotate example, run by the real logrotate on a log with
/// a card: the archived `.gz` holds only the masked form.
#[test]
fn logrotate_example_redacts_the_rotated_log_before_compression() {
    let logrotate = Path::new("/usr/sbin/logrotate");
    assert!(
        logrotate.exists(),
        "logrotate is missing: run scripts/setup.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join("app.log");
    std::fs::write(&log, format!("one\ncard {CARD} paid\nthree\n")).unwrap();
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/logrotate/leakhound-redact"),
    )
    .unwrap();
    let conf = example
        .replace("/var/log/app/app.log", log.to_str().unwrap())
        .replace("/usr/bin/leakhound", bin().to_str().unwrap())
        .replace("/var/lib/leakhound", dir.path().to_str().unwrap());
    let conf_path = dir.path().join("logrotate.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let out = Command::new(logrotate)
        .arg("-f")
        .arg("-s")
        .arg(dir.path().join("logrotate.state"))
        .arg(&conf_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "logrotate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gz = std::fs::read(logs.join("app.log.1.gz")).expect("the rotated log was compressed");
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, format!("one\ncard {CARD_MASKED} paid\nthree\n"));
    assert!(!logs.join("app.log.1").exists());
}

/// `policy.redact.style: fpe` on files at rest (text, UTF-16, gzip): each
/// file is rewritten with tokens that `reveal` turns back byte for byte.
#[test]
fn at_rest_fpe_style_rewrites_text_utf16_and_gzip_reversibly() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), 5);
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let text = format!("card {CARD}\nPESEL 44051401359\n");
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(|u| u.to_le_bytes()))
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(root.join("a.txt"), &text).unwrap();
    std::fs::write(root.join("b.txt"), &utf16).unwrap();
    std::fs::write(root.join("c.log.gz"), &gz).unwrap();
    let cfg = dir.path().join("leakhound.yaml");
    std::fs::write(
        &cfg,
        format!(
            "policy:\n  default: redact\n  fallback: report\n  redact:\n    style: fpe\n    fpe_key_file: {}\n",
            key.display()
        ),
    )
    .unwrap();
    let out = cmd(dir.path())
        .arg("--config")
        .arg(&cfg)
        .args(["scan", "--progress", "never", "-f", "jsonl"])
        .arg(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.matches("\"action\":\"redacted\"").count(),
        3,
        "{stdout}"
    );
    let reveal = |bytes: &[u8]| -> Vec<u8> {
        let (code, back, err) = run(
            dir.path(),
            &["reveal", "--fpe-key-file", key.to_str().unwrap(), "-"],
            bytes,
        );
        assert_eq!(code, 0, "{err}");
        back
    };
    let a = std::fs::read(root.join("a.txt")).unwrap();
    assert_ne!(a, text.as_bytes());
    assert_eq!(a.len(), text.len());
    assert_eq!(reveal(&a), text.as_bytes());
    let b = std::fs::read(root.join("b.txt")).unwrap();
    assert_ne!(b, utf16);
    assert_eq!(reveal(&b), utf16);
    let c = std::fs::read(root.join("c.log.gz")).unwrap();
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&c[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_ne!(plain, text.as_bytes());
    assert_eq!(reveal(&plain), text.as_bytes());
    // A second scan finds nothing: the tokens are not findings.
    let again = cmd(dir.path())
        .args(["scan", "--progress", "never"])
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0));
}

/// `policy.redact.style: fpe` with an identity but no `fpe.key.age` in
/// the state directory (the configuration itself is valid, so the scan
/// runs): every redaction fails with the reason that says what to
/// configure, the file is left as it was, the finding is still reported,
/// and the exit code says an action failed.
#[test]
fn at_rest_fpe_style_without_a_key_fails_each_redaction_naming_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let text = format!("card {CARD}\n");
    std::fs::write(root.join("a.txt"), &text).unwrap();
    use age::secrecy::ExposeSecret;
    let id_file = dir.path().join("id.age");
    let identity = age::x25519::Identity::generate();
    std::fs::write(
        &id_file,
        format!("{}\n", identity.to_string().expose_secret()),
    )
    .unwrap();
    std::fs::set_permissions(&id_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = dir.path().join("leakhound.yaml");
    std::fs::write(
        &cfg,
        format!(
            "policy:\n  default: redact\n  fallback: report\n  redact:\n    style: fpe\n    fpe_identity_file: {}\n",
            id_file.display()
        ),
    )
    .unwrap();
    let out = cmd(dir.path())
        .arg("--config")
        .arg(&cfg)
        .args([
            "scan",
            "--progress",
            "never",
            "-f",
            "jsonl",
            "--show-test-data",
        ])
        .arg(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stdout}{stderr}");
    assert_eq!(
        stdout.matches("\"type\":\"finding\"").count(),
        1,
        "{stdout}"
    );
    assert!(stdout.contains("\"action\":\"failed\""), "{stdout}");
    assert!(
        stdout.contains(
            "policy.redact.style fpe needs policy.redact.fpe_key_file, or \
             policy.redact.fpe_identity_file and <state_dir>/fpe.key.age"
        ),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(root.join("a.txt")).unwrap(), text);
    assert!(!stdout.contains(CARD) && !stderr.contains(CARD));
}

/// The README's "pseudonymise an export" example on examples/sample.
#[test]
fn readme_pseudonymise_an_export_example() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), 42);
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample/exports/customers.csv");
    let original = std::fs::read_to_string(&sample).unwrap();
    let pseudo = dir.path().join("customers.pseudo.csv");
    let back = dir.path().join("customers.back.csv");
    let tokens = dir.path().join("customers.tokens");
    let ok = |args: &[&std::ffi::OsStr]| {
        let out = cmd(dir.path()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let os = |s: &str| std::ffi::OsString::from(s);
    ok(&[
        &os("redact"),
        &os("--style"),
        &os("fpe"),
        &os("--fpe-key-file"),
        key.as_os_str(),
        &os("--token-list"),
        tokens.as_os_str(),
        sample.as_os_str(),
        &os("-o"),
        pseudo.as_os_str(),
    ]);
    let p = std::fs::read_to_string(&pseudo).unwrap();
    let row = |text: &str, id: &str| -> String {
        text.lines()
            .find(|l| l.starts_with(id))
            .unwrap()
            .to_string()
    };
    let orig_row = row(&original, "1001");
    let pseudo_row = row(&p, "1001");
    assert_ne!(pseudo_row, orig_row);
    assert_eq!(pseudo_row.len(), orig_row.len());
    assert!(
        pseudo_row.starts_with("1001,John Smith,john@example.com,4526 0"),
        "{pseudo_row}"
    );
    assert!(pseudo_row.contains(" 3012,"), "{pseudo_row}");
    // The scan finds only the SSN pseudonym.
    let scan = cmd(dir.path())
        .args(["scan", "-f", "jsonl", "--progress", "never"])
        .arg(&pseudo)
        .output()
        .unwrap();
    let findings: Vec<String> = String::from_utf8_lossy(&scan.stdout)
        .lines()
        .filter(|l| l.contains("\"type\":\"finding\""))
        .map(str::to_string)
        .collect();
    assert!(
        findings.iter().all(|f| f.contains("\"kind\":\"us_ssn\"")),
        "{findings:?}"
    );
    ok(&[
        &os("reveal"),
        &os("--fpe-key-file"),
        key.as_os_str(),
        &os("--tokens"),
        tokens.as_os_str(),
        pseudo.as_os_str(),
        &os("-o"),
        back.as_os_str(),
    ]);
    let b = std::fs::read_to_string(&back).unwrap();
    assert_eq!(row(&b, "1001"), orig_row);
    // With the token list, the whole file comes back, decoys included.
    assert_eq!(b, original);
}

/// `--flush-ms`: text that waits without a newline is written, but never
/// the start of a number that may still be coming.
#[test]
fn filter_flush_ms_writes_a_partial_line_but_holds_a_partial_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = cmd(dir.path())
        .args(["redact", "--flush-ms", "50", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    stdin.write_all(b"first line\n").unwrap();
    stdin.flush().unwrap();
    let mut got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(got, b"first line\n");
    stdin.write_all(b"status=ready, next: 4111 1111").unwrap();
    stdin.flush().unwrap();
    got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), "status=ready, next:");
    // Nothing more while the number may go on.
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    stdin.write_all(b" 1111 1111 done\n").unwrap();
    stdin.flush().unwrap();
    got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), " **** **** **** 1111 done\n");
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// The engine reports a window's matches rule by rule, so a regex rule's
/// match (a Finnish HETU) came after a digit rule's later in the text (a
/// PESEL on the next line): the filter panicked on a slice ("starts at 36
/// but ends at 15"), and a file at rest could skip the earlier number.
/// Both are now redacted, in a pipe and in a file.
#[test]
fn d5_matches_out_of_text_order_neither_panic_nor_leak() {
    let dir = tempfile::tempdir().unwrap();
    let input = "henkilötunnus 131052-308T ok\nPESEL 44051401359 ok\n";
    let (code, out, err) = run(
        dir.path(),
        &["redact", "--rules-pack", "all", "-"],
        input.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains("131052-308"), "{out}");
    assert!(!out.contains("4405140135"), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
    let file = dir.path().join("in.txt");
    std::fs::write(&file, input).unwrap();
    let (code, out, err) = run(
        dir.path(),
        &[
            "redact",
            "--rules-pack",
            "all",
            "--buffering",
            "block",
            file.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let out = String::from_utf8(out).unwrap();
    assert!(
        !out.contains("131052-308") && !out.contains("4405140135"),
        "{out}"
    );
}

/// `redact --style fpe --token-list L` then `reveal --tokens L`: only the
/// tokens change; a number of a token's shape that never was one (every
/// check digit of it) stays byte-identical. Without `--tokens`, reveal
/// says on stderr how many values it changed unverified. The list holds
/// MACs, not numbers, and is private.
#[test]
fn d2_reveal_tokens_list_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), 9);
    let list = dir.path().join("tokens.list");
    let input = format!("card {CARD}\nPESEL 44051401359\nnip 111222333\n");
    let (code, tokens, err) = run(
        dir.path(),
        &[
            "redact",
            "--style",
            "fpe",
            "--fpe-key-file",
            key.to_str().unwrap(),
            "--token-list",
            list.to_str().unwrap(),
            "-",
        ],
        input.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let tokens = String::from_utf8(tokens).unwrap();
    let listed = std::fs::read_to_string(&list).unwrap();
    assert!(
        !listed.contains("4405140135") && !listed.contains("1111"),
        "{listed}"
    );
    let mode = std::fs::metadata(&list).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut decoys = String::new();
    for d in 0..10 {
        decoys.push_str(&format!(
            "PESEL 8203150123{d}\ncard 4000 1234 5678 901{d}\n"
        ));
    }
    let mixed = format!("{tokens}{decoys}");
    let (code, back, err) = run(
        dir.path(),
        &[
            "reveal",
            "--fpe-key-file",
            key.to_str().unwrap(),
            "--tokens",
            list.to_str().unwrap(),
            "-",
        ],
        mixed.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8(back).unwrap(), format!("{input}{decoys}"));
    assert!(!err.contains("without verification"), "{err}");
    let (code, back, err) = run(
        dir.path(),
        &["reveal", "--fpe-key-file", key.to_str().unwrap(), "-"],
        mixed.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    assert_ne!(String::from_utf8(back).unwrap(), format!("{input}{decoys}"));
    assert!(err.contains("changed without verification"), "{err}");
    // A list for another style is refused before anything is written.
    let (code, out, err) = run(
        dir.path(),
        &["redact", "--token-list", list.to_str().unwrap(), "-"],
        input.as_bytes(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty() && err.contains("--style fpe"), "{err}");
}

/// Item 3 of issue 15's leftovers: `fpe-key init --recipient age1...`
/// writes `<state_dir>/fpe.key.age` (mode 0600, no clear key, not twice);
/// `redact` and `reveal` read it with `--identity` (an identity file others
/// may read is refused), a wrong identity is a clear error, and without
/// one `--style fpe` says what to give. The key never shows in any output.
#[test]
fn d3_age_encrypted_key_in_the_state_dir() {
    use age::secrecy::ExposeSecret;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let id = age::x25519::Identity::generate();
    let id_file = dir.path().join("me.age");
    std::fs::write(&id_file, format!("{}\n", id.to_string().expose_secret())).unwrap();
    std::fs::set_permissions(&id_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let recipient = id.to_public().to_string();
    let init = |state: &Path| {
        cmd(state)
            .args(["fpe-key", "init", "--recipient", &recipient])
            .output()
            .unwrap()
    };
    let out = init(&state);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key_path = state.join("fpe.key.age");
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let stored = std::fs::read(&key_path).unwrap();
    assert!(stored.starts_with(b"age-encryption.org/v1"), "not age");
    // Not replaced: tokens made with it must stay revealable.
    let again = init(&state);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already there"));
    assert_eq!(std::fs::read(&key_path).unwrap(), stored);

    let input = format!("card {CARD}\nPESEL 44051401359\n");
    let id_arg = id_file.to_str().unwrap();
    let (code, tokens, err) = run(
        &state,
        &["redact", "--style", "fpe", "--identity", id_arg, "-"],
        input.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let tokens = String::from_utf8(tokens).unwrap();
    assert_ne!(tokens, input);
    assert!(!tokens.contains('*'), "tokenised, not masked: {tokens}");
    let (code, back, err) = run(
        &state,
        &["reveal", "--identity", id_arg, "-"],
        tokens.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8(back).unwrap(), input);
    // Without an identity: told what to give.
    let (code, out, err) = run(&state, &["redact", "--style", "fpe", "-"], input.as_bytes());
    assert_eq!(code, 2);
    assert!(out.is_empty() && err.contains("--identity"), "{err}");
    // A wrong identity cannot decrypt it.
    let other = age::x25519::Identity::generate();
    let other_file = dir.path().join("other.age");
    std::fs::write(
        &other_file,
        format!("{}\n", other.to_string().expose_secret()),
    )
    .unwrap();
    std::fs::set_permissions(&other_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, out, err) = run(
        &state,
        &["reveal", "--identity", other_file.to_str().unwrap(), "-"],
        tokens.as_bytes(),
    );
    assert_eq!(code, 2);
    assert!(
        out.is_empty() && err.contains("cannot decrypt the FPE key"),
        "{err}"
    );
    // An identity others may read is refused.
    std::fs::set_permissions(&id_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = run(
        &state,
        &["reveal", "--identity", id_arg, "-"],
        tokens.as_bytes(),
    );
    assert_eq!(code, 2);
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!err.contains("AGE-SECRET-KEY"), "{err}");
}

/// Item 3, at rest: `policy.redact.fpe_identity_file` makes `--action
/// redact` (and the daemon, through the same actor) read the age-encrypted
/// key of the state directory; `reveal --identity` turns the file back.
#[test]
fn d3_at_rest_fpe_with_the_age_key_of_the_state_dir() {
    use age::secrecy::ExposeSecret;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let id = age::x25519::Identity::generate();
    let id_file = dir.path().join("me.age");
    std::fs::write(&id_file, format!("{}\n", id.to_string().expose_secret())).unwrap();
    std::fs::set_permissions(&id_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = cmd(&state)
        .args([
            "fpe-key",
            "init",
            "--recipient",
            &id.to_public().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let text = format!("card {CARD}\nPESEL 44051401359\n");
    std::fs::write(root.join("a.txt"), &text).unwrap();
    let cfg = dir.path().join("leakhound.yaml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir: {}\npolicy:\n  default: redact\n  fallback: report\n  redact:\n    style: fpe\n    fpe_identity_file: {}\n",
            state.display(),
            id_file.display()
        ),
    )
    .unwrap();
    let out = cmd(&state)
        .arg("--config")
        .arg(&cfg)
        .args(["scan", "--progress", "never", "-f", "jsonl"])
        .arg(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.matches("\"action\":\"redacted\"").count(),
        1,
        "{stdout}"
    );
    let a = std::fs::read_to_string(root.join("a.txt")).unwrap();
    assert_ne!(a, text);
    assert!(!a.contains('*'), "tokenised, not masked: {a}");
    let (code, back, err) = run(
        &state,
        &["reveal", "--identity", id_file.to_str().unwrap(), "-"],
        a.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8(back).unwrap(), text);
}
