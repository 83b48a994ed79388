//! End-to-end tests of the `leakhound` binary: exit codes, report formats,
//! what is and is not scanned, and that no raw number ever reaches the
//! output.
//!
//! Every run gets a fixed fingerprint key (`LEAKHOUND_FINGERPRINT_KEY`) and a
//! temporary state directory (`LEAKHOUND_STATE_DIR`), so runs are repeatable
//! and nothing is written under `$HOME`. Every run has a timeout, so a scan
//! that hangs (on a FIFO, a symlink loop) fails instead of blocking.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::PredicateBooleanExt;
use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_leakhound");
const KEY: &str = "cli-test-fingerprint-key";
const TIMEOUT: Duration = Duration::from_secs(120);

// Valid sample numbers.
const VISA: &str = "4526018159083012";
const VISA_GROUPED: &str = "4526 0181 5908 3012";
const VISA_MASKED: &str = "452601******3012";
const MASTERCARD: &str = "5478778932879219";
const AMEX_DASHED: &str = "3731-948757-49111";
const TEST_CARD: &str = "4111111111111111";
const SSN: &str = "536-22-8726";
const PESEL: &str = "85120312343";
const CNP: &str = "1971204123457";
const CN_RIC: &str = "11010519491231002X";
const MELLI_PERSIAN: &str = "۴۴۷۲۸۱۹۶۳۵";
const IBAN_DE: &str = "DE89370400440532013000";
const IBAN_GB: &str = "GB29 NWBK 6016 1331 9268 19";

/// A command for the binary with a fixed key and a private state directory.
fn lh(state: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", state)
        .env_remove("LEAKHOUND_LOG")
        .env_remove("NO_COLOR")
        .timeout(TIMEOUT);
    c
}

/// A scratch directory for the files to scan and one for leakhound's state.
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

    fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `rel` (creating parent directories) and returns its path.
    fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// `leakhound` run in the scratch directory.
    fn cmd(&self) -> Command {
        let mut c = lh(self.state.path());
        c.current_dir(self.path());
        c
    }

    /// `leakhound scan --format jsonl ARGS...`.
    fn jsonl<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let out = self
            .cmd()
            .arg("scan")
            .args(["--format", "jsonl"])
            .args(args)
            .output()
            .unwrap();
        Run::parse(out)
    }
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// A finished run with its JSONL events parsed.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    events: Vec<Value>,
}

impl Run {
    fn parse(out: Output) -> Run {
        let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let events = stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
            })
            .collect();
        Run {
            code: out.status.code(),
            stdout,
            stderr,
            events,
        }
    }

    fn of_type(&self, t: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["type"] == t).collect()
    }

    fn findings(&self) -> Vec<&Value> {
        self.of_type("finding")
    }

    fn files(&self) -> Vec<&Value> {
        self.of_type("file")
    }

    /// The summary, checked to be the one and last event.
    fn summary(&self) -> &Value {
        assert_eq!(self.of_type("summary").len(), 1, "{}", self.stdout);
        let last = self.events.last().expect("no events");
        assert_eq!(last["type"], "summary", "the summary is not last");
        last
    }

    /// The file event for `path`.
    fn file(&self, path: &str) -> &Value {
        let found: Vec<&Value> = self
            .files()
            .into_iter()
            .filter(|f| f["path"] == path)
            .collect();
        assert_eq!(found.len(), 1, "file events for {path}: {}", self.stdout);
        found[0]
    }

    /// Paths with at least one finding.
    fn finding_paths(&self) -> BTreeSet<String> {
        self.findings()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect()
    }

    fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// 1-based line and column (in code points) and byte offset of `needle` in `text`.
fn locate(text: &str, needle: &str) -> (u64, u64, u64) {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in text"));
    let before = &text[..offset];
    let line = before.matches('\n').count() as u64 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() as u64 + 1;
    (line, column, offset as u64)
}

// ---------------------------------------------------------------------------
// 1. Finding every kind, with its place.
// ---------------------------------------------------------------------------

/// A known layout of files: the text of each and what must be found in it.
struct Expect {
    file: &'static str,
    needle: &'static str,
    rule: &'static str,
    kind: &'static str,
    severity: &'static str,
    masked: &'static str,
    test_data: bool,
}

const CARDS_TXT: &str = "\
Card: 4526018159083012
mc 5478778932879219 amex 3731-948757-49111
test 4111111111111111
grouped 4526 0181 5908 3012 end
not cards: 4526018159083013 INV4526018159083012
";

const IDS_TXT: &str = "\
SSN: 536-22-8726
not an SSN: 000-22-8726
PESEL: 85120312343
CNP: 1971204123457
身份证号码：11010519491231002X
کد ملی: ۴۴۷۲۸۱۹۶۳۵
";

const BANK_TXT: &str = "\
IBAN: DE89370400440532013000
Please transfer to GB29 NWBK 6016 1331 9268 19 by Friday.
";

const EXPECTED: &[Expect] = &[
    Expect {
        file: "cards.txt",
        needle: "4526018159083012\n",
        rule: "payment-card",
        kind: "card_visa",
        severity: "high",
        masked: VISA_MASKED,
        test_data: false,
    },
    Expect {
        file: "cards.txt",
        needle: MASTERCARD,
        rule: "payment-card",
        kind: "card_mastercard",
        severity: "high",
        masked: "547877******9219",
        test_data: false,
    },
    Expect {
        file: "cards.txt",
        needle: AMEX_DASHED,
        rule: "payment-card",
        kind: "card_amex",
        severity: "high",
        masked: "37319******9111",
        test_data: false,
    },
    Expect {
        file: "cards.txt",
        needle: TEST_CARD,
        rule: "payment-card",
        kind: "card_visa",
        severity: "low",
        masked: "411111******1111",
        test_data: true,
    },
    Expect {
        file: "cards.txt",
        needle: VISA_GROUPED,
        rule: "payment-card",
        kind: "card_visa",
        severity: "high",
        masked: VISA_MASKED,
        test_data: false,
    },
    Expect {
        file: "ids.txt",
        needle: SSN,
        rule: "us-ssn",
        kind: "us_ssn",
        severity: "high",
        masked: "*****8726",
        test_data: false,
    },
    Expect {
        file: "ids.txt",
        needle: PESEL,
        rule: "pl-pesel",
        kind: "pl_pesel",
        severity: "high",
        masked: "*******2343",
        test_data: false,
    },
    Expect {
        file: "ids.txt",
        needle: CNP,
        rule: "ro-cnp",
        kind: "ro_cnp",
        severity: "high",
        masked: "*********3457",
        test_data: false,
    },
    Expect {
        file: "ids.txt",
        needle: CN_RIC,
        rule: "cn-ric",
        kind: "cn_ric",
        severity: "high",
        masked: "**************002X",
        test_data: false,
    },
    Expect {
        file: "ids.txt",
        needle: MELLI_PERSIAN,
        rule: "ir-melli",
        kind: "ir_melli",
        severity: "high",
        masked: "******9635",
        test_data: false,
    },
    Expect {
        file: "bank.txt",
        needle: IBAN_DE,
        rule: "iban",
        kind: "iban",
        severity: "medium",
        masked: "******************3000",
        test_data: false,
    },
    Expect {
        file: "bank.txt",
        needle: IBAN_GB,
        rule: "iban",
        kind: "iban",
        severity: "medium",
        masked: "******************6819",
        test_data: false,
    },
];

fn layout() -> Scratch {
    let sc = Scratch::new();
    sc.write("cards.txt", CARDS_TXT);
    sc.write("ids.txt", IDS_TXT);
    sc.write("sub/bank.txt", BANK_TXT);
    sc
}

fn text_of(file: &str) -> &'static str {
    match file {
        "cards.txt" => CARDS_TXT,
        "ids.txt" => IDS_TXT,
        "bank.txt" => BANK_TXT,
        _ => unreachable!(),
    }
}

fn rel_of(file: &str) -> &'static str {
    match file {
        "bank.txt" => "sub/bank.txt",
        "cards.txt" => "cards.txt",
        "ids.txt" => "ids.txt",
        _ => unreachable!(),
    }
}

#[test]
fn finds_every_kind_with_path_line_column_and_offset() {
    let sc = layout();
    let run = sc.jsonl([s(sc.path()), "--show-test-data".into()]);
    run.expect_code(1);
    assert!(run.stderr.is_empty(), "stderr: {}", run.stderr);

    let mut actual: Vec<(String, u64)> = run
        .findings()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["offset"].as_u64().unwrap(),
            )
        })
        .collect();
    actual.sort();
    let mut wanted = Vec::new();
    for e in EXPECTED {
        let path = s(&sc.join(rel_of(e.file)));
        let text = text_of(e.file);
        let (line, column, offset) = locate(text, e.needle);
        let f = run
            .findings()
            .into_iter()
            .find(|f| f["path"] == path.as_str() && f["offset"] == offset)
            .unwrap_or_else(|| panic!("no finding for {} at {path}:{offset}", e.kind));
        let length = e.needle.trim_end().len() as u64;
        assert_eq!(f["rule"], e.rule, "{f}");
        assert_eq!(f["kind"], e.kind, "{f}");
        assert_eq!(f["severity"], e.severity, "{f}");
        assert_eq!(f["line"], line, "{f}");
        assert_eq!(f["column"], column, "{f}");
        assert_eq!(f["length"], length, "{f}");
        assert_eq!(f["masked"], e.masked, "{f}");
        assert_eq!(f["test_data"], e.test_data, "{f}");
        assert!(f["member"].is_null(), "{f}");
        let fp = f["fingerprint"].as_str().unwrap();
        assert_eq!(fp.len(), 32, "{f}");
        assert!(fp.bytes().all(|b| b.is_ascii_hexdigit()), "{f}");
        // The envelope.
        assert_eq!(f["schema"], 1);
        for field in ["id", "time", "host", "scan_id", "rules_version"] {
            assert!(f[field].is_string(), "{field} in {f}");
        }
        wanted.push((path, offset));
    }
    wanted.sort();
    // Exactly these: the look-alikes (bad Luhn, area 000, glued to letters)
    // are not reported, and nothing is reported twice.
    assert_eq!(actual, wanted);

    // Spot checks written out by hand, in case `locate` were wrong.
    let cards = s(&sc.join("cards.txt"));
    let visa = run
        .findings()
        .into_iter()
        .find(|f| f["path"] == cards.as_str() && f["line"] == 1)
        .unwrap();
    assert_eq!(
        (&visa["offset"], &visa["column"]),
        (&Value::from(6), &Value::from(7))
    );
    let melli = run
        .findings()
        .into_iter()
        .find(|f| f["kind"] == "ir_melli")
        .unwrap();
    // Line 6, after `کد ملی: ` (8 code points); 10 Persian digits of 2 bytes.
    assert_eq!(
        (&melli["line"], &melli["column"], &melli["length"]),
        (&Value::from(6), &Value::from(9), &Value::from(20))
    );

    let sum = run.summary();
    assert_eq!(sum["findings"], EXPECTED.len());
    assert_eq!(sum["files"]["total"], 3);
    assert_eq!(sum["files"]["scanned"], 3);
    assert_eq!(sum["test_data_findings"], 1);
    assert_eq!(sum["findings_by_kind"]["card_visa"], 3);
    assert_eq!(sum["findings_by_kind"]["iban"], 2);
    assert_eq!(sum["findings_by_severity"]["low"], 1);
    assert_eq!(sum["findings_by_severity"]["medium"], 2);
    assert_eq!(sum["result"], "findings");
    assert_eq!(sum["exit_code"], 1);
    assert_eq!(sum["fingerprint_key"], "env");
    assert_eq!(sum["rules"], "built-in");
    // Fully scanned files are not listed without -v.
    assert!(run.files().is_empty(), "{}", run.stdout);
    // One scan id for all events, and unique event ids.
    let ids: BTreeSet<&str> = run
        .events
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), run.events.len());
    let scans: BTreeSet<&str> = run
        .events
        .iter()
        .map(|e| e["scan_id"].as_str().unwrap())
        .collect();
    assert_eq!(scans.len(), 1);
}

#[test]
fn verbose_lists_every_file_with_its_encoding() {
    let sc = layout();
    sc.write("empty.txt", "");
    let run = sc.jsonl(["-v", "--show-test-data", "."]);
    run.expect_code(1);
    let files = run.files();
    assert_eq!(files.len(), 4, "{}", run.stdout);
    for f in &files {
        assert_eq!(f["status"], "scanned", "{f}");
        assert!(f["reason"].is_null(), "{f}");
    }
    let cards = run.file("./cards.txt");
    assert_eq!(cards["bytes"], CARDS_TXT.len());
    assert_eq!(cards["findings"], 5);
    assert_eq!(cards["encoding"], "utf-8");
    assert_eq!(run.file("./empty.txt")["bytes"], 0);
    let total = CARDS_TXT.len() + IDS_TXT.len() + BANK_TXT.len();
    assert_eq!(run.summary()["bytes"], total);
}

// ---------------------------------------------------------------------------
// 2. No raw number leaks, in any format.
// ---------------------------------------------------------------------------

/// Every raw value planted by `leak_corpus`, in every form it is written.
const RAW_FORMS: &[&str] = &[
    "4526018159083012",
    "4526 0181 5908 3012",
    "4526-0181-5908-3012",
    "5478778932879219",
    "5478 7789 3287 9219",
    "373194875749111",
    "3731-948757-49111",
    "3731 948757 49111",
    "4111111111111111",
    "4111 1111 1111 1111",
    "536-22-8726",
    "536 22 8726",
    "536228726",
    "85120312343",
    "1971204123457",
    "11010519491231002X",
    "4472819635",
    "447-281963-5",
    "۴۴۷۲۸۱۹۶۳۵",
    "DE89370400440532013000",
    "DE89 3704 0044 0532 0130 00",
    "GB29NWBK60161331926819",
    "GB29 NWBK 6016 1331 9268 19",
    // Track data carries the whole PAN.
    "B4526018159083012^DOE/JOHN",
    ";5478778932879219=2709",
];

/// Masked forms that must appear in every report of `leak_corpus`.
const MASKED_FORMS: &[&str] = &[
    VISA_MASKED,
    "547877******9219",
    "37319******9111",
    "411111******1111",
    "*****8726",
    "*******2343",
    "*********3457",
    "**************002X",
    "******9635",
    "******************3000",
    "******************6819",
];

/// How many findings `leak_corpus` holds.
const LEAK_FINDINGS: usize = 25;

fn leak_corpus() -> Scratch {
    let sc = Scratch::new();
    // One form per line: a grouped number right after another number is
    // not reported (it could be part of a longer chain of groups), and
    // every form planted here must be found.
    sc.write(
        "cards.txt",
        "card 4526018159083012\nvisa 4526 0181 5908 3012\nvisa 4526-0181-5908-3012\n\
         mc 5478778932879219\nmc 5478 7789 3287 9219\n\
         amex 373194875749111\namex 3731-948757-49111\namex 3731 948757 49111\n\
         test 4111111111111111\ntest 4111 1111 1111 1111\n\
         %B4526018159083012^DOE/JOHN^2512101000000000000000000000000?\n\
         track2 ;5478778932879219=27091010000000000000?\n",
    );
    sc.write(
        "ids.csv",
        "ssn,536-22-8726\nssn,536 22 8726\nssn 536228726\npesel,85120312343\ncnp,1971204123457\n\
         身份证号码：11010519491231002X\nکد ملی: ۴۴۷۲۸۱۹۶۳۵\nmelli code: 447-281963-5\n\
         national code 4472819635\n",
    );
    sc.write(
        "bank/ibans.txt",
        "IBAN: DE89370400440532013000\nIBAN DE89 3704 0044 0532 0130 00\n\
         IBAN GB29NWBK60161331926819\nIBAN GB29 NWBK 6016 1331 9268 19\n",
    );
    sc
}

fn assert_no_raw(what: &str, text: &str) {
    for raw in RAW_FORMS {
        assert!(
            !text.contains(raw),
            "{what}: the raw value `{raw}` appears in the output:\n{text}"
        );
    }
}

#[test]
fn leak_corpus_is_fully_found() {
    // The no-leak test below means something only if every planted value is
    // found: otherwise a value could be absent from the report simply
    // because it was missed.
    let sc = leak_corpus();
    let run = sc.jsonl([".", "--show-test-data"]);
    run.expect_code(1);
    assert_eq!(run.findings().len(), LEAK_FINDINGS, "{}", run.stdout);
    // The text each finding covers, cut from the files by offset and length.
    let covered: Vec<String> = run
        .findings()
        .iter()
        .map(|f| {
            let text = std::fs::read(sc.join(f["path"].as_str().unwrap())).unwrap();
            let at = f["offset"].as_u64().unwrap() as usize;
            let len = f["length"].as_u64().unwrap() as usize;
            String::from_utf8(text[at..at + len].to_vec()).unwrap()
        })
        .collect();
    for raw in RAW_FORMS {
        // Each planted form is found as such (bare forms are also part of
        // the longer grouped or track forms, so look for an exact cover
        // first).
        assert!(
            covered.iter().any(|c| c == raw) || covered.iter().any(|c| c.contains(raw)),
            "`{raw}` is not found: {covered:?}"
        );
    }
    let kinds: BTreeSet<&str> = run
        .findings()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    for k in [
        "card_visa",
        "card_mastercard",
        "card_amex",
        "card_track1",
        "card_track2",
        "us_ssn",
        "pl_pesel",
        "ro_cnp",
        "cn_ric",
        "ir_melli",
        "iban",
    ] {
        assert!(kinds.contains(k), "{k} not found: {kinds:?}");
    }
}

#[test]
fn no_raw_number_in_any_output() {
    let sc = leak_corpus();
    let report = sc.state.path().join("report.out");
    let mut runs = 0;
    for format in ["human", "jsonl", "json"] {
        for verbose in [false, true] {
            for to_file in [false, true] {
                let mut c = sc.cmd();
                c.args(["--log-level", "trace", "scan", ".", "--format", format]);
                c.arg("--show-test-data");
                c.args(["--color", "always", "--progress", "always"]);
                if verbose {
                    c.arg("-v");
                }
                if to_file {
                    c.arg("-o").arg(&report);
                }
                let out = c.output().unwrap();
                let what = format!("--format {format} -v={verbose} -o={to_file}");
                assert_eq!(out.status.code(), Some(1), "{what}");
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                let report_text = if to_file {
                    let t = std::fs::read_to_string(&report).unwrap();
                    std::fs::remove_file(&report).unwrap();
                    assert!(stdout.is_empty(), "{what}: stdout with -o: {stdout}");
                    t
                } else {
                    stdout.clone()
                };
                assert_no_raw(&format!("{what} stdout"), &stdout);
                assert_no_raw(&format!("{what} stderr"), &stderr);
                assert_no_raw(&format!("{what} report"), &report_text);
                for m in MASKED_FORMS {
                    assert!(
                        report_text.contains(m),
                        "{what}: masked `{m}` missing:\n{report_text}"
                    );
                }
                runs += 1;
            }
        }
    }
    assert_eq!(runs, 12);
}

#[test]
fn no_raw_number_from_stdin() {
    let sc = leak_corpus();
    let input = std::fs::read(sc.join("cards.txt")).unwrap();
    for format in ["human", "jsonl", "json"] {
        let out = sc
            .cmd()
            .args(["scan", "-", "-v", "--format", format])
            .write_stdin(input.clone())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_no_raw(format, &String::from_utf8_lossy(&out.stdout));
        assert_no_raw(format, &String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains(VISA_MASKED));
    }
}

// ---------------------------------------------------------------------------
// 3. Exit codes.
// ---------------------------------------------------------------------------

#[test]
fn clean_directory_exits_0() {
    let sc = Scratch::new();
    sc.write("a.txt", "nothing to see: 4526018159083013 000-22-8726\n");
    sc.write("b/c.txt", "INV4526018159083012\n");
    let run = sc.jsonl(["."]);
    run.expect_code(0);
    assert!(run.findings().is_empty());
    assert_eq!(run.summary()["result"], "clean");
    assert_eq!(run.summary()["exit_code"], 0);
    assert_eq!(run.summary()["files"]["scanned"], 2);
    sc.cmd()
        .args(["scan", "."])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("No findings."));
}

#[test]
fn findings_exit_1_and_fail_on_sets_the_threshold() {
    let sc = Scratch::new();
    sc.write("test-card.txt", format!("test card {TEST_CARD}\n"));
    sc.write("iban.txt", format!("IBAN {IBAN_DE}\n"));
    sc.write("visa.txt", format!("card {VISA}\n"));
    let test_card = s(&sc.join("test-card.txt"));
    let iban = s(&sc.join("iban.txt"));
    let all = s(sc.path());
    let cases: &[(&str, &str, i32)] = &[
        // Default: any finding fails, test data included.
        (&test_card, "", 1),
        (&test_card, "low", 1),
        (&test_card, "medium", 0),
        (&test_card, "high", 0),
        (&iban, "medium", 1),
        (&iban, "high", 0),
        (&all, "high", 1),
        (&all, "none", 0),
    ];
    for (path, fail_on, code) in cases {
        let mut args = vec![path.to_string(), "--show-test-data".to_string()];
        if !fail_on.is_empty() {
            args.extend(["--fail-on".to_string(), fail_on.to_string()]);
        }
        let run = sc.jsonl(&args);
        assert_eq!(run.code, Some(*code), "{args:?}\n{}", run.stdout);
        // The findings are reported whatever the threshold.
        assert!(!run.findings().is_empty(), "{args:?}");
        assert_eq!(run.summary()["exit_code"], *code);
    }
}

#[test]
fn min_confidence_leaves_out_weak_findings() {
    let sc = Scratch::new();
    // Nine bare digits with no keyword near: an SSN of low confidence.
    sc.write("a.txt", "order 536228726 shipped\n");
    sc.write("b.txt", format!("SSN: {SSN}\n"));
    let run = sc.jsonl(["--min-confidence", "low", "."]);
    run.expect_code(1);
    let conf: BTreeSet<(String, String)> = run
        .findings()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["confidence"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        conf,
        BTreeSet::from([
            ("./a.txt".to_string(), "low".to_string()),
            ("./b.txt".to_string(), "high".to_string())
        ])
    );
    let run = sc.jsonl(["--min-confidence", "medium", "."]);
    run.expect_code(1);
    assert_eq!(run.finding_paths(), set(&["./b.txt"]));
    assert_eq!(run.summary()["findings"], 1);
    // Left out entirely: no finding, no failure.
    let run = sc.jsonl(["--min-confidence", "medium", "a.txt"]);
    run.expect_code(0);
    assert!(run.findings().is_empty());
}

#[test]
fn missing_root_exits_2_and_other_roots_are_still_scanned() {
    let sc = Scratch::new();
    sc.write("real.txt", format!("card {VISA}\n"));
    let missing = s(&sc.join("no-such-dir"));
    let run = sc.jsonl(["real.txt", &missing]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(&missing),
        "stderr does not name {missing}: {}",
        run.stderr
    );
    assert_eq!(run.findings().len(), 1);
    assert_eq!(run.findings()[0]["path"], "real.txt");
    let rec = run.file(&missing);
    assert_eq!(rec["status"], "error");
    let sum = run.summary();
    assert_eq!(sum["result"], "error");
    assert_eq!(sum["exit_code"], 2);
    assert_eq!(sum["files"]["error"], 1);

    // Even --fail-on none does not hide the error.
    let run = sc.jsonl(["--fail-on", "none", "real.txt", &missing]);
    run.expect_code(2);
    // The human report names it too.
    sc.cmd()
        .args(["scan", "real.txt", &missing])
        .assert()
        .code(2)
        .stdout(predicates::str::contains(VISA_MASKED))
        .stderr(predicates::str::contains(missing.as_str()));
}

#[test]
fn bad_arguments_exit_2() {
    let sc = Scratch::new();
    sc.write("a.txt", "x\n");
    for args in [
        vec!["scan", "--format", "xml", "a.txt"],
        vec!["scan", "--fail-on", "critical", "a.txt"],
        vec!["scan", "--no-such-flag", "a.txt"],
        vec!["frobnicate"],
    ] {
        sc.cmd().args(&args).assert().code(2);
    }
    // A glob that does not parse is named.
    sc.cmd()
        .args(["scan", "--include", "a[", "a.txt"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("a["));
    // A report that cannot be written.
    let bad_out = s(&sc.join("no-such-dir/report.json"));
    sc.cmd()
        .args(["scan", "a.txt", "-o", &bad_out])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(bad_out.as_str()));
    // An empty key in the environment.
    sc.cmd()
        .env("LEAKHOUND_FINGERPRINT_KEY", "")
        .args(["scan", "a.txt"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("LEAKHOUND_FINGERPRINT_KEY"));
}

/// A valid rule file for `id` (an SSN rule), with `extra` lines added to the
/// rule and `severity`.
fn rule_yaml(id: &str, severity: &str, extra: &str) -> String {
    format!(
        "rules:\n  - id: {id}\n    name: Test SSN\n    kind: us_ssn\n    severity: {severity}\n\
         {extra}    match:\n      digits:\n        lengths: [9]\n        groups: [\"3-2-4\"]\n\
         \x20   validate:\n      us_ssn: {{}}\n    examples: [\"SSN {SSN}\"]\n\
         \x20   negative_examples: [\"SSN 000-22-8726\"]\n"
    )
}

#[test]
fn custom_rules_are_used() {
    let sc = Scratch::new();
    sc.write("rules/ssn.yaml", rule_yaml("my-ssn", "medium", ""));
    sc.write("data/a.txt", format!("SSN {SSN} card {VISA}\n"));
    let run = sc.jsonl(["--rules", "rules", "data"]);
    run.expect_code(1);
    // Only the custom rule runs: the card is not found.
    assert_eq!(run.findings().len(), 1, "{}", run.stdout);
    assert_eq!(run.findings()[0]["rule"], "my-ssn");
    assert_eq!(run.findings()[0]["severity"], "medium");
    assert_eq!(run.summary()["rules"], "rules");
    sc.cmd()
        .args(["rules", "check", "rules"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("OK"));
}

/// A problem `rules check` must report: the file, the rule id and a word of
/// the message.
type RuleProblem = (&'static str, &'static str, &'static str);

#[test]
fn bad_rules_exit_2_naming_the_file_and_the_rule() {
    let sc = Scratch::new();
    sc.write("data/a.txt", format!("card {VISA}\n"));
    // An unknown field, placed after the examples.
    let unknown = rule_yaml("typo-rule", "high", "");
    let unknown = format!("{unknown}    colour: red\n");
    sc.write("rules-unknown/a.yaml", &unknown);
    sc.write(
        "rules-severity/b.yaml",
        rule_yaml("severe-rule", "critical", ""),
    );
    sc.write("rules-both/a.yaml", &unknown);
    sc.write(
        "rules-both/b.yaml",
        rule_yaml("severe-rule", "critical", ""),
    );

    let cases: &[(&str, &[RuleProblem])] = &[
        ("rules-unknown", &[("a.yaml", "typo-rule", "colour")]),
        ("rules-severity", &[("b.yaml", "severe-rule", "critical")]),
        (
            "rules-both",
            &[
                ("a.yaml", "typo-rule", "colour"),
                ("b.yaml", "severe-rule", "critical"),
            ],
        ),
    ];
    for (dir, problems) in cases {
        let runs = [
            sc.cmd()
                .args(["scan", "--rules", dir, "data"])
                .output()
                .unwrap(),
            sc.cmd()
                .args(["rules", "list", "--rules", dir])
                .output()
                .unwrap(),
            sc.cmd().args(["rules", "check", dir]).output().unwrap(),
        ];
        for out in runs {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(2), "{dir}: {stderr}");
            // Nothing was scanned or listed.
            assert!(!stdout.contains(VISA_MASKED), "{dir}: {stdout}");
            for (file, rule, word) in *problems {
                // Each problem on one line that names the file, the rule and
                // what is wrong.
                let line = stderr
                    .lines()
                    .find(|l| l.contains(file))
                    .unwrap_or_else(|| panic!("{dir}: stderr does not name {file}:\n{stderr}"));
                assert!(
                    line.contains(&format!("`{rule}`")),
                    "{dir}: the line for {file} does not name rule {rule}:\n{stderr}"
                );
                assert!(
                    line.contains(word),
                    "{dir}: the line for {file} does not say `{word}`:\n{stderr}"
                );
            }
            // Rule files hold example numbers: error messages must not
            // echo them.
            assert!(!stderr.contains(SSN), "{dir}: example echoed:\n{stderr}");
        }
    }
}

/// Makes `path` unreadable and says whether that worked for this user (root
/// reads it anyway).
fn make_unreadable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::read(path).is_err()
}

/// `setpriv` to run as `nobody` when the tests run as root, if it is there.
fn setpriv() -> Option<&'static str> {
    ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

#[test]
fn unreadable_file_with_fail_on_incomplete_exits_3() {
    use std::os::unix::fs::PermissionsExt;
    let sc = Scratch::new();
    sc.write("ok.txt", "nothing here\n");
    let locked = sc.write("locked.txt", format!("card {VISA}\n"));
    let as_nobody = if make_unreadable(&locked) {
        None
    } else {
        // Root reads anything: run the scanner as `nobody` instead, if the
        // files and the binary are reachable for it.
        let Some(setpriv) = setpriv() else {
            eprintln!("skipped: running as root and no setpriv to drop privileges");
            return;
        };
        let probe = std::process::Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .arg("--version")
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            eprintln!("skipped: running as root and `nobody` cannot run {BIN}");
            return;
        }
        std::fs::set_permissions(sc.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Some(setpriv)
    };
    let scan = |args: &[&str]| {
        let mut c = match as_nobody {
            None => sc.cmd(),
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
                    .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
                    .env("LEAKHOUND_STATE_DIR", sc.state.path())
                    .current_dir(sc.path())
                    .timeout(TIMEOUT);
                c
            }
        };
        Run::parse(
            c.args(["scan", "--format", "jsonl"])
                .args(args)
                .output()
                .unwrap(),
        )
    };

    let run = scan(&[".", "--fail-on-incomplete"]);
    run.expect_code(3);
    let rec = run.file("./locked.txt");
    assert_eq!(rec["status"], "error");
    assert!(
        rec["reason"]
            .as_str()
            .unwrap()
            .contains("permission denied"),
        "{rec}"
    );
    let sum = run.summary();
    assert_eq!(sum["result"], "incomplete");
    assert_eq!(sum["exit_code"], 3);
    assert_eq!(sum["files"]["scanned"], 1);
    assert_eq!(sum["files"]["error"], 1);

    // Without --fail-on-incomplete the run is clean, but says so.
    let run = scan(&["."]);
    run.expect_code(0);
    assert_eq!(run.file("./locked.txt")["status"], "error");
    assert_eq!(run.summary()["result"], "incomplete");

    // Findings win over incomplete.
    sc.write("found.txt", format!("mc {MASTERCARD}\n"));
    let run = scan(&[".", "--fail-on-incomplete"]);
    run.expect_code(1);
    assert_eq!(run.summary()["result"], "findings");
    // ... unless they are below --fail-on.
    let run = scan(&[".", "--fail-on-incomplete", "--fail-on", "none"]);
    run.expect_code(3);
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

#[test]
fn fifo_is_skipped_without_hanging() {
    let sc = Scratch::new();
    sc.write("a.txt", format!("card {VISA}\n"));
    mkfifo(&sc.join("pipe"));
    let mut c = sc.cmd();
    // Nobody ever writes to the FIFO: a scanner that opened it for reading
    // in blocking mode would wait forever.
    let out = c
        .timeout(Duration::from_secs(30))
        .args(["scan", ".", "--format", "jsonl", "--fail-on-incomplete"])
        .output()
        .unwrap();
    let run = Run::parse(out);
    run.expect_code(1);
    let rec = run.file("./pipe");
    assert_eq!(rec["status"], "skipped");
    assert!(rec["reason"].as_str().unwrap().contains("FIFO"), "{rec}");
    assert_eq!(run.findings().len(), 1);
    assert_eq!(run.summary()["files"]["skipped"], 1);

    // Skipped on purpose is not incomplete.
    std::fs::write(sc.join("a.txt"), "clean\n").unwrap();
    let run = sc.jsonl([".", "--fail-on-incomplete"]);
    run.expect_code(0);
    assert_eq!(run.file("./pipe")["status"], "skipped");

    // A FIFO named on the command line, too.
    let run = sc.jsonl(["pipe"]);
    run.expect_code(0);
    assert_eq!(run.file("pipe")["status"], "skipped");
}

// ---------------------------------------------------------------------------
// 4. Standard input.
// ---------------------------------------------------------------------------

#[test]
fn stdin_is_scanned_as_stdin() {
    let sc = Scratch::new();
    let file = sc.write("input.txt", format!("hello\ncard {VISA}\n"));
    let out = sc
        .cmd()
        .args(["scan", "-", "--format", "jsonl", "-v"])
        .pipe_stdin(&file)
        .unwrap()
        .output()
        .unwrap();
    let run = Run::parse(out);
    run.expect_code(1);
    let f = run.findings();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["path"], "<stdin>");
    assert_eq!(
        (&f[0]["offset"], &f[0]["line"], &f[0]["column"]),
        (&Value::from(11), &Value::from(2), &Value::from(6))
    );
    assert_eq!(f[0]["masked"], VISA_MASKED);
    assert_eq!(run.file("<stdin>")["encoding"], "utf-8");
    assert_eq!(run.file("<stdin>")["bytes"], 28);

    // Standard input beside a file.
    sc.write("other.txt", format!("mc {MASTERCARD}\n"));
    let out = sc
        .cmd()
        .args(["scan", "-", "other.txt", "--format", "jsonl"])
        .write_stdin(format!("card {VISA}\n"))
        .output()
        .unwrap();
    let run = Run::parse(out);
    run.expect_code(1);
    assert_eq!(
        run.finding_paths(),
        BTreeSet::from(["<stdin>".to_string(), "other.txt".to_string()])
    );
}

#[test]
fn binary_stdin_is_scanned() {
    let sc = Scratch::new();
    let mut input: Vec<u8> = vec![0x7f, b'E', b'L', b'F', 0, 1, 2, 0xff, 0xfe, 0];
    input.extend_from_slice(b" card ");
    let at = input.len() as u64;
    input.extend_from_slice(VISA.as_bytes());
    input.extend_from_slice(&[0, 0x80, 0x81, 0]);
    // And once more as UTF-16 inside the binary (what `strings -e l` shows).
    input.extend_from_slice(&[0u8; 6]);
    let wide_at = input.len() as u64;
    for b in MASTERCARD.bytes() {
        input.extend_from_slice(&[b, 0]);
    }
    input.extend_from_slice(&[0, 0, 0xde, 0xad]);
    let out = sc
        .cmd()
        .args(["scan", "-", "--format", "jsonl", "-v"])
        .write_stdin(input.clone())
        .output()
        .unwrap();
    let run = Run::parse(out);
    run.expect_code(1);
    assert_eq!(run.file("<stdin>")["encoding"], "binary");
    assert_eq!(run.file("<stdin>")["bytes"], input.len());
    let f = run.findings();
    assert_eq!(f.len(), 2, "{}", run.stdout);
    let visa = f.iter().find(|f| f["kind"] == "card_visa").unwrap();
    assert_eq!(visa["offset"], at);
    assert!(visa["line"].is_null() && visa["column"].is_null());
    let mc = f.iter().find(|f| f["kind"] == "card_mastercard").unwrap();
    assert_eq!(mc["offset"], wide_at);
    // The human report places binary findings by offset.
    sc.cmd()
        .args(["scan", "-"])
        .write_stdin(input)
        .assert()
        .code(1)
        .stdout(predicates::str::contains(format!("@{at}")));
}

#[test]
fn utf16le_stdin_with_and_without_bom() {
    let sc = Scratch::new();
    let text = format!("hello\nкарта {VISA}\n");
    let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    for bom in [false, true] {
        let mut input = Vec::new();
        if bom {
            input.extend_from_slice(&[0xff, 0xfe]);
        }
        input.extend_from_slice(&utf16);
        let out = sc
            .cmd()
            .args(["scan", "-", "--format", "jsonl", "-v"])
            .write_stdin(input.clone())
            .output()
            .unwrap();
        let run = Run::parse(out);
        run.expect_code(1);
        let f = run.findings();
        assert_eq!(f.len(), 1, "bom={bom}: {}", run.stdout);
        // Places are in the decoded text.
        let (line, column, offset) = locate(&text, VISA);
        assert_eq!(
            (&f[0]["offset"], &f[0]["line"], &f[0]["column"]),
            (
                &Value::from(offset),
                &Value::from(line),
                &Value::from(column)
            ),
            "bom={bom}"
        );
        assert_eq!(f[0]["masked"], VISA_MASKED);
        let rec = run.file("<stdin>");
        assert_eq!(rec["encoding"], "utf-16le", "bom={bom}");
        assert_eq!(rec["bytes"], input.len());
    }
}

// ---------------------------------------------------------------------------
// 5. Symbolic links.
// ---------------------------------------------------------------------------

#[test]
fn symlinks_are_skipped_by_default_and_followed_with_l() {
    use std::os::unix::fs::symlink;
    let sc = Scratch::new();
    sc.write("real.txt", format!("card {VISA}\n"));
    sc.write("elsewhere/inner.txt", format!("mc {MASTERCARD}\n"));
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("far.txt"), format!("ssn {SSN}\n")).unwrap();
    std::fs::create_dir(sc.join("scan")).unwrap();
    symlink(sc.join("real.txt"), sc.join("scan/link.txt")).unwrap();
    symlink(outside.path(), sc.join("scan/linkdir")).unwrap();
    std::fs::write(sc.join("scan/own.txt"), "clean\n").unwrap();

    let run = sc.jsonl(["scan"]);
    run.expect_code(0);
    assert!(run.findings().is_empty(), "{}", run.stdout);
    for p in ["scan/link.txt", "scan/linkdir"] {
        let rec = run.file(p);
        assert_eq!(rec["status"], "skipped", "{rec}");
        assert!(
            rec["reason"].as_str().unwrap().contains("symbolic link"),
            "{rec}"
        );
    }

    let run = sc.jsonl(["-L", "scan"]);
    run.expect_code(1);
    assert_eq!(
        run.finding_paths(),
        BTreeSet::from([
            "scan/link.txt".to_string(),
            "scan/linkdir/far.txt".to_string()
        ])
    );
    assert!(run.files().is_empty(), "{}", run.stdout);
    assert_eq!(run.summary()["files"]["scanned"], 3);
}

#[test]
fn symlink_named_on_the_command_line_is_followed_to_a_file() {
    use std::os::unix::fs::symlink;
    let sc = Scratch::new();
    sc.write("real.txt", format!("card {VISA}\n"));
    symlink("real.txt", sc.join("link.txt")).unwrap();
    std::fs::create_dir(sc.join("dir")).unwrap();
    symlink("dir", sc.join("linkdir")).unwrap();
    // The user named the link: the file it points to is scanned, under the
    // name given.
    let run = sc.jsonl(["link.txt"]);
    run.expect_code(1);
    assert_eq!(run.findings().len(), 1, "{}", run.stdout);
    assert_eq!(run.findings()[0]["path"], "link.txt");
    // A link to a directory is not walked without -L.
    let run = sc.jsonl(["linkdir"]);
    run.expect_code(0);
    let rec = run.file("linkdir");
    assert_eq!(rec["status"], "skipped");
    assert!(
        rec["reason"].as_str().unwrap().contains("directory"),
        "{rec}"
    );
    // Links that lead nowhere, or to a FIFO, are skipped and say so.
    symlink("no-such-file", sc.join("dangling")).unwrap();
    symlink("self", sc.join("self")).unwrap();
    mkfifo(&sc.join("pipe"));
    symlink("pipe", sc.join("linkpipe")).unwrap();
    let run = sc.jsonl(["dangling", "self", "linkpipe"]);
    run.expect_code(0);
    for (p, says) in [
        ("dangling", "leads nowhere"),
        ("self", "leads nowhere"),
        ("linkpipe", "FIFO"),
    ] {
        let rec = run.file(p);
        assert_eq!(rec["status"], "skipped", "{rec}");
        let reason = rec["reason"].as_str().unwrap();
        assert!(reason.contains(says), "{rec}");
        assert!(!reason.contains("link to a directory"), "{rec}");
    }
}

#[test]
fn symlink_loops_with_l_do_not_hang() {
    use std::os::unix::fs::symlink;
    let sc = Scratch::new();
    sc.write("top/a.txt", format!("card {VISA}\n"));
    sc.write("top/sub/b.txt", format!("mc {MASTERCARD}\n"));
    symlink("..", sc.join("top/sub/up")).unwrap();
    symlink(".", sc.join("top/sub/here")).unwrap();
    symlink("loop2", sc.join("top/loop1")).unwrap();
    symlink("loop1", sc.join("top/loop2")).unwrap();
    let out = sc
        .cmd()
        .timeout(Duration::from_secs(30))
        .args(["scan", "-L", "top", "--format", "jsonl"])
        .output()
        .unwrap();
    let run = Run::parse(out);
    run.expect_code(1);
    // Each file found once, however many ways lead to it.
    let mut paths: Vec<&str> = run
        .findings()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(paths, ["top/a.txt", "top/sub/b.txt"], "{}", run.stdout);
    for p in ["top/sub/up", "top/sub/here"] {
        let rec = run.file(p);
        assert_eq!(rec["status"], "skipped", "{rec}");
        assert!(rec["reason"].as_str().unwrap().contains("loop"), "{rec}");
    }
    // The two links that point at each other lead nowhere; each is reported.
    for p in ["top/loop1", "top/loop2"] {
        let rec = run.file(p);
        assert_ne!(rec["status"], "scanned", "{rec}");
    }
}

// ---------------------------------------------------------------------------
// 6. What is walked: globs, hidden files, .git.
// ---------------------------------------------------------------------------

fn glob_tree() -> Scratch {
    let sc = Scratch::new();
    for f in [
        "a.csv",
        "b.txt",
        ".secret",
        ".git/config",
        ".git/objects/ab/cdef",
        "logs/x.log",
        "build/z.txt",
        "sub/build/y.txt",
        "sub/deep/c.csv",
    ] {
        sc.write(f, format!("card {VISA}\n"));
    }
    sc
}

fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

#[test]
fn hidden_files_and_git_directories_are_scanned() {
    let sc = glob_tree();
    let run = sc.jsonl(["."]);
    run.expect_code(1);
    assert_eq!(
        run.finding_paths(),
        set(&[
            "./.git/config",
            "./.git/objects/ab/cdef",
            "./.secret",
            "./a.csv",
            "./b.txt",
            "./build/z.txt",
            "./logs/x.log",
            "./sub/build/y.txt",
            "./sub/deep/c.csv",
        ])
    );
    assert_eq!(run.summary()["excluded"], 0);
}

#[test]
fn include_and_exclude_globs() {
    let sc = glob_tree();
    let cases: &[(&[&str], &[&str], u64)] = &[
        (&["--include", "*.csv"], &["./a.csv", "./sub/deep/c.csv"], 7),
        (
            &["--exclude", "*.log", "--exclude", "build/**"],
            &[
                "./.git/config",
                "./.git/objects/ab/cdef",
                "./.secret",
                "./a.csv",
                "./b.txt",
                "./sub/build/y.txt",
                "./sub/deep/c.csv",
            ],
            2,
        ),
        (
            &["--include", "sub/**", "--exclude", "*.csv"],
            &["./sub/build/y.txt"],
            8,
        ),
        (
            &["--include", "*.txt", "--include", ".secret"],
            &["./.secret", "./b.txt", "./build/z.txt", "./sub/build/y.txt"],
            5,
        ),
    ];
    for (args, wanted, excluded) in cases {
        let mut a: Vec<&str> = args.to_vec();
        a.push(".");
        let run = sc.jsonl(&a);
        run.expect_code(1);
        assert_eq!(run.finding_paths(), set(wanted), "{args:?}");
        assert_eq!(run.summary()["excluded"], *excluded, "{args:?}");
        assert_eq!(run.summary()["files"]["scanned"], wanted.len(), "{args:?}");
    }
    // Excluding a directory by name leaves out everything under it.
    let run = sc.jsonl(["--exclude", ".git", "--exclude", "build", "."]);
    assert_eq!(
        run.finding_paths(),
        set(&[
            "./.secret",
            "./a.csv",
            "./b.txt",
            "./logs/x.log",
            "./sub/deep/c.csv"
        ])
    );
    // A file named on the command line is scanned whatever the globs say.
    let run = sc.jsonl(["--exclude", "*.log", "logs/x.log"]);
    run.expect_code(1);
    assert_eq!(run.finding_paths(), set(&["logs/x.log"]));
}

// ---------------------------------------------------------------------------
// 7. Chunk boundaries.
// ---------------------------------------------------------------------------

/// Text with `number` starting at byte `at`: lines of 100 bytes (98 code
/// points, one of them two bytes long), then spaces.
fn text_with_number_at(at: usize, number: &str) -> String {
    let line = format!("é{}\n", "x".repeat(97));
    assert_eq!(line.len(), 100);
    let mut t = line.repeat(at / 100);
    t.push_str(&" ".repeat(at % 100));
    t.push_str(number);
    t.push_str(" end\n");
    t.push_str(&"z".repeat(9000));
    t.push('\n');
    t
}

/// A finding's file name, offset, line and column (none for binary data),
/// and length.
type Placed = (String, u64, Option<(u64, u64)>, usize);

#[test]
fn numbers_across_chunk_boundaries_are_found_once() {
    const CHUNK: usize = 4096;
    let sc = Scratch::new();
    let mut offsets: Vec<usize> = Vec::new();
    // Every start from fully before to fully after each of the first
    // boundaries (windows overlap by 512 bytes).
    for boundary in [CHUNK, CHUNK + 512, 2 * CHUNK] {
        offsets.extend(boundary - 20..=boundary + 1);
    }
    offsets.extend([CHUNK - 512 - 1, CHUNK - 512, 3 * CHUNK - 8]);
    let mut wanted = Vec::new();
    for &at in &offsets {
        for (number, name) in [(VISA, "bare"), (VISA_GROUPED, "grouped")] {
            let text = text_with_number_at(at, number);
            let (line, column, offset) = locate(&text, number);
            assert_eq!(offset, at as u64);
            let utf8 = format!("{at:05}-{name}.txt");
            sc.write(&format!("t/{utf8}"), &text);
            wanted.push((utf8, offset, Some((line, column)), number.len()));
            // The same text in UTF-16: places are in the decoded text.
            let utf16 = format!("{at:05}-{name}.utf16");
            let mut bytes = vec![0xff, 0xfe];
            bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            sc.write(&format!("t/{utf16}"), bytes);
            wanted.push((utf16, offset, Some((line, column)), number.len()));
            // And behind a NUL byte, so it is read as binary: raw offsets.
            let bin = format!("{at:05}-{name}.bin");
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(text.as_bytes());
            sc.write(&format!("t/{bin}"), bytes);
            wanted.push((bin, offset + 1, None, number.len()));
        }
    }
    wanted.sort();
    // An odd chunk size also splits UTF-16 code units between reads.
    for chunk in ["4096", "4097"] {
        let run = sc.jsonl(["--chunk-size", chunk, "-j", "2", "t"]);
        run.expect_code(1);
        let mut got: Vec<Placed> = run
            .findings()
            .iter()
            .map(|f| {
                assert_eq!(f["masked"], VISA_MASKED, "{f}");
                let place = f["line"]
                    .as_u64()
                    .map(|l| (l, f["column"].as_u64().unwrap()));
                (
                    f["path"].as_str().unwrap()["t/".len()..].to_string(),
                    f["offset"].as_u64().unwrap(),
                    place,
                    f["length"].as_u64().unwrap() as usize,
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, wanted, "--chunk-size {chunk}");
    }
}

// ---------------------------------------------------------------------------
// 8. A big file without newlines.
// ---------------------------------------------------------------------------

#[test]
fn big_file_without_newlines_in_bounded_memory() {
    const SIZE: usize = 30_000_000;
    let sc = Scratch::new();
    let mut data = vec![b'a'; SIZE];
    let at = SIZE - 1000;
    data[at - 1] = b' ';
    data[at..at + 16].copy_from_slice(VISA.as_bytes());
    data[at + 16] = b' ';
    sc.write("big.txt", &data);
    drop(data);

    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-v").arg(BIN);
        c.env("LEAKHOUND_FINGERPRINT_KEY", KEY)
            .env("LEAKHOUND_STATE_DIR", sc.state.path())
            .current_dir(sc.path())
            .timeout(TIMEOUT);
        c
    } else {
        eprintln!("/usr/bin/time is not there: memory not measured");
        sc.cmd()
    };
    let out = cmd
        .args(["scan", "big.txt", "--format", "jsonl", "-j", "2"])
        .output()
        .unwrap();
    let run = Run::parse(out);
    run.expect_code(1);
    let f = run.findings();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["offset"], at);
    assert_eq!(f[0]["line"], 1);
    assert_eq!(f[0]["column"], at + 1);
    assert_eq!(run.summary()["bytes"], SIZE);

    if time.exists() {
        let rss_kb: u64 = run
            .stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .unwrap_or_else(|| panic!("no peak RSS from /usr/bin/time: {}", run.stderr))
            .trim()
            .parse()
            .unwrap();
        // Reading the whole file would take 30 MB on its own; streaming
        // takes a few 256 kB windows besides the program.
        assert!(
            rss_kb < 28_000,
            "peak RSS {rss_kb} kB for a {SIZE}-byte file"
        );
    }
}

// ---------------------------------------------------------------------------
// 9. Rules commands.
// ---------------------------------------------------------------------------

/// The ids of the shipped rules, read from `rules/*.yaml`.
fn shipped_rule_ids() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut ids = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for f in files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            if let Some(id) = line.strip_prefix("  - id: ") {
                ids.push(id.trim().to_string());
            }
        }
    }
    assert!(ids.len() >= 9, "{ids:?}");
    ids
}

#[test]
fn rules_list_shows_every_shipped_rule() {
    let sc = Scratch::new();
    let ids = shipped_rule_ids();
    // Every pack: the regional ones are shipped but not in `default`.
    let out = sc
        .cmd()
        .args(["rules", "list", "--rules-pack", "all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let listed: Vec<&str> = stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let shipped: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(listed.len(), ids.len(), "{stdout}");
    assert_eq!(
        BTreeSet::from_iter(listed.iter().copied()),
        shipped,
        "{stdout}"
    );
    assert!(stdout.contains(&format!("{} rules", ids.len())), "{stdout}");

    let out = sc
        .cmd()
        .args(["rules", "list", "--rules-pack", "all", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let json_ids: Vec<&str> = doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(json_ids, listed);
    assert_eq!(doc["origin"], "built-in");
    let card = &doc["rules"][0];
    assert_eq!(card["id"], "payment-card");
    assert!(
        card["kinds"]
            .as_array()
            .unwrap()
            .contains(&Value::from("card_visa"))
    );

    // The shipped pack loaded from its directory is the same set.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let out = sc
        .cmd()
        .args([
            "rules",
            "list",
            "--rules-pack",
            "all",
            "--format",
            "json",
            "--rules",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let from_dir: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir_ids: BTreeSet<&str> = from_dir["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(dir_ids, shipped);
    assert_eq!(from_dir["origin"], s(&dir));
}

#[test]
fn rules_check_passes_on_the_shipped_pack() {
    let sc = Scratch::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    sc.cmd()
        .args(["rules", "check"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("built-in").and(predicates::str::contains(": OK")));
    sc.cmd()
        .args(["rules", "check"])
        .arg(&dir)
        .assert()
        .code(0)
        .stdout(predicates::str::contains(": OK"));
}

#[test]
fn rules_check_names_a_rule_whose_example_is_not_found() {
    let sc = Scratch::new();
    sc.write("rules/good.yaml", rule_yaml("good-ssn", "high", ""));
    let bad = rule_yaml("bad-example", "high", "").replace(
        &format!("examples: [\"SSN {SSN}\"]"),
        // Area 000 is never issued: the validator rejects this example.
        "examples: [\"SSN 000-22-8726\"]",
    );
    sc.write("rules/zz-bad.yml", bad);
    let out = sc.cmd().args(["rules", "check", "rules"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("`bad-example`"))
        .unwrap_or_else(|| panic!("rule not named:\n{stderr}"));
    assert!(line.contains("zz-bad.yml"), "{stderr}");
    assert!(line.contains("examples[0]"), "{stderr}");
    assert!(!stderr.contains("good-ssn"), "{stderr}");
    assert!(stderr.contains("1 problems"), "{stderr}");
}

#[test]
fn rules_dir_without_yaml_exits_2() {
    let sc = Scratch::new();
    sc.write("rules/README.md", "# no rules here\n");
    sc.write("rules/sub/nested.yaml", rule_yaml("nested", "high", ""));
    for args in [
        vec!["rules", "check", "rules"],
        vec!["rules", "list", "--rules", "rules"],
        vec!["scan", "--rules", "rules", "."],
    ] {
        sc.cmd()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains("no rule files"));
    }
    // A rules directory that does not exist.
    sc.cmd()
        .args(["rules", "check", "no-such-dir"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no-such-dir"));
}

// ---------------------------------------------------------------------------
// 10. Fingerprints.
// ---------------------------------------------------------------------------

fn fingerprints(run: &Run) -> Vec<String> {
    let mut v: Vec<(String, String)> = run
        .findings()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["fingerprint"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, fp)| fp).collect()
}

#[test]
fn fingerprints_follow_the_number_and_the_key() {
    let sc = Scratch::new();
    // The same number, written two ways, in two files; and another number.
    sc.write("a.txt", format!("card {VISA}\n"));
    sc.write("b.txt", format!("card no. {VISA_GROUPED}\n"));
    sc.write("c.txt", format!("card {MASTERCARD}\n"));
    let run = sc.jsonl(["."]);
    run.expect_code(1);
    let fp = fingerprints(&run);
    assert_eq!(fp.len(), 3);
    assert_eq!(fp[0], fp[1], "same number, same key");
    assert_ne!(fp[0], fp[2], "different numbers");

    // Repeatable across runs with the same key.
    assert_eq!(fingerprints(&sc.jsonl(["."])), fp);

    // Another key, other fingerprints.
    let other = Run::parse(
        sc.cmd()
            .env("LEAKHOUND_FINGERPRINT_KEY", "another key")
            .args(["scan", ".", "--format", "jsonl"])
            .output()
            .unwrap(),
    );
    let fp2 = fingerprints(&other);
    assert_eq!(fp2[0], fp2[1]);
    assert_ne!(fp2[0], fp[0]);

    // A key file wins over the environment; its trailing newline is not
    // part of the key.
    let key_file = sc.state.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let from_file = Run::parse(
        sc.cmd()
            .env("LEAKHOUND_FINGERPRINT_KEY", "another key")
            .args(["scan", ".", "--format", "jsonl", "--fingerprint-key-file"])
            .arg(&key_file)
            .output()
            .unwrap(),
    );
    assert_eq!(fingerprints(&from_file), fp);
    assert_eq!(from_file.summary()["fingerprint_key"], "file");

    std::fs::write(&key_file, "a different key").unwrap();
    let from_file2 = Run::parse(
        sc.cmd()
            .args(["scan", ".", "--format", "jsonl", "--fingerprint-key-file"])
            .arg(&key_file)
            .output()
            .unwrap(),
    );
    let fp3 = fingerprints(&from_file2);
    assert_eq!(fp3[0], fp3[1]);
    assert_ne!(fp3[0], fp[0]);
    assert_ne!(fp3[0], fp2[0]);

    // A key file that is missing or empty is an error.
    for (contents, needle) in [(None, "cannot read"), (Some(""), "empty")] {
        let k = sc.state.path().join("bad-key");
        let _ = std::fs::remove_file(&k);
        if let Some(c) = contents {
            std::fs::write(&k, c).unwrap();
        }
        sc.cmd()
            .args(["scan", ".", "--fingerprint-key-file"])
            .arg(&k)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(needle));
    }
}

#[test]
fn local_key_is_kept_in_the_state_dir() {
    let sc = Scratch::new();
    sc.write("a.txt", format!("card {VISA}\n"));
    let run_local = || {
        Run::parse(
            sc.cmd()
                .env_remove("LEAKHOUND_FINGERPRINT_KEY")
                .args(["scan", "a.txt", "--format", "jsonl"])
                .output()
                .unwrap(),
        )
    };
    let first = run_local();
    first.expect_code(1);
    assert_eq!(first.summary()["fingerprint_key"], "local");
    // The key was created under the state dir and is used again.
    assert!(
        std::fs::read_dir(sc.state.path()).unwrap().next().is_some(),
        "no key written to the state dir"
    );
    let second = run_local();
    assert_eq!(fingerprints(&first), fingerprints(&second));
    // And it is not the env key.
    assert_ne!(fingerprints(&first), fingerprints(&sc.jsonl(["a.txt"])));
}

// ---------------------------------------------------------------------------
// 11. One JSON document.
// ---------------------------------------------------------------------------

#[test]
fn json_format_is_one_document() {
    let sc = layout();
    mkfifo(&sc.join("pipe"));
    let out = sc
        .cmd()
        .args(["scan", ".", "--format", "json", "--show-test-data"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["schema"], 1);
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), EXPECTED.len());
    assert!(findings.iter().all(|f| f["type"] == "finding"));
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{doc}");
    assert_eq!(files[0]["path"], "./pipe");
    assert_eq!(files[0]["status"], "skipped");
    let sum = &doc["summary"];
    assert_eq!(sum["type"], "summary");
    assert_eq!(sum["findings"], EXPECTED.len());
    assert_eq!(sum["files"]["total"], 4);
    assert_eq!(sum["exit_code"], 1);

    // With -v every file is listed; clean runs still give a document.
    let out = sc
        .cmd()
        .args(["scan", "ids.txt", "-v", "--format", "json", "-o", "r.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let doc: Value = serde_json::from_slice(&std::fs::read(sc.join("r.json")).unwrap()).unwrap();
    assert_eq!(doc["files"].as_array().unwrap().len(), 1);
    assert_eq!(doc["files"][0]["status"], "scanned");

    sc.write("clean/x.txt", "nothing\n");
    let out = sc
        .cmd()
        .args(["scan", "clean", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["findings"], Value::Array(vec![]));
    assert_eq!(doc["summary"]["result"], "clean");
}

#[test]
fn human_report_groups_findings_by_file() {
    let sc = layout();
    let out = sc
        .cmd()
        .args(["scan", "cards.txt", "--color", "never", "--show-test-data"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "cards.txt");
    assert!(
        lines[1].contains("1:7")
            && lines[1].contains("high")
            && lines[1].contains("card_visa")
            && lines[1].contains(VISA_MASKED),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.contains("411111******1111")
            && l.contains("low")
            && l.contains("test data")),
        "{stdout}"
    );
    assert!(stdout.contains("5 findings: high 4, low 1"), "{stdout}");
    assert!(stdout.contains("Fingerprints: LEAKHOUND_FINGERPRINT_KEY"));
    assert!(!stdout.contains('\x1b'), "colour with --color never");

    let out = sc
        .cmd()
        .args(["scan", "cards.txt", "--color", "always"])
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains('\x1b'));
}

// ---------------------------------------------------------------------------
// 12. Help.
// ---------------------------------------------------------------------------

#[test]
fn help_documents_the_exit_codes() {
    let sc = Scratch::new();
    for args in [vec!["--help"], vec!["scan", "--help"], vec!["help", "scan"]] {
        let out = sc.cmd().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Exit codes:"), "{args:?}: {text}");
        for line in [
            "0  no finding at or above --fail-on",
            "1  findings at or above --fail-on",
            "2  error",
            "3  with --fail-on-incomplete",
        ] {
            assert!(text.contains(line), "{args:?}: `{line}` missing:\n{text}");
        }
    }
    // The hidden test flag stays hidden.
    sc.cmd()
        .args(["scan", "--help"])
        .assert()
        .stdout(predicates::str::contains("chunk-size").not());
    sc.cmd()
        .arg("--version")
        .assert()
        .code(0)
        .stdout(predicates::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn built_in_rules_and_the_same_files_from_disk_share_a_version() {
    let s = Scratch::new();
    s.write("a.txt", "nothing here\n");
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
    let builtin = s.jsonl(["a.txt"]);
    let from_disk = s.jsonl(["--rules", rules, "a.txt"]);
    let v1 = builtin.summary()["rules_version"].clone();
    let v2 = from_disk.summary()["rules_version"].clone();
    assert!(v1.is_string(), "{}", builtin.stdout);
    assert_eq!(v1, v2);
}

/// Issue 18: by default a finding of low confidence (a bare 9-digit number
/// with no keyword, a Luhn-valid constant among failing ones) is counted in
/// the summary but neither listed nor failing the run; `--min-confidence
/// low` lists it and fails.
#[test]
fn i18_low_confidence_findings_are_counted_not_listed_by_default() {
    let sc = Scratch::new();
    sc.write("a.txt", "order 536228726 shipped\n");
    sc.write(
        "table.rs",
        "const T: [u64; 4] = [\n    4503599627370496,\n    4526018159083012,\n    9007199254740992,\n    1125899906842624,\n];\n",
    );
    let run = sc.jsonl(["."]);
    run.expect_code(0);
    assert!(run.findings().is_empty(), "{}", run.stdout);
    assert_eq!(run.summary()["below_confidence"], 2);
    assert_eq!(run.summary()["findings"], 0);
    let out = sc
        .cmd()
        .args(["scan", ".", "--color", "never"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("Not listed, below --min-confidence: 2"),
        "{stdout}"
    );
    let run = sc.jsonl(["--min-confidence", "low", "."]);
    run.expect_code(1);
    assert_eq!(run.findings().len(), 2);
    assert!(run.summary().get("below_confidence").is_none());
}
