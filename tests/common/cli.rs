//! The harness of the command-line tests (`tests/cli_*.rs`, split from one
//! `tests/cli.rs` by what they test): a scratch directory per test, the
//! `leakhound` command with a fixed fingerprint key and a private state
//! directory, a finished run with its JSONL events parsed, and the sample
//! numbers and file layouts several of those files share.
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
use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_leakhound");
pub const KEY: &str = "cli-test-fingerprint-key";
pub const TIMEOUT: Duration = Duration::from_secs(120);

// Valid sample numbers.
pub const VISA: &str = "4526018159083012";
pub const VISA_GROUPED: &str = "4526 0181 5908 3012";
pub const VISA_MASKED: &str = "452601******3012";
pub const MASTERCARD: &str = "5478778932879219";
pub const AMEX_DASHED: &str = "3731-948757-49111";
pub const TEST_CARD: &str = "4111111111111111";
pub const SSN: &str = "536-22-8726";
pub const PESEL: &str = "85120312343";
pub const CNP: &str = "1971204123457";
pub const CN_RIC: &str = "11010519491231002X";
pub const MELLI_PERSIAN: &str = "۴۴۷۲۸۱۹۶۳۵";
pub const IBAN_DE: &str = "DE89370400440532013000";
pub const IBAN_GB: &str = "GB29 NWBK 6016 1331 9268 19";

/// A command for the binary with a fixed key and a private state directory.
pub fn lh(state: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", state)
        .env_remove("LEAKHOUND_LOG")
        .env_remove("NO_COLOR")
        .timeout(TIMEOUT);
    c
}

/// A scratch directory for the files to scan and one for leakhound's state.
pub struct Scratch {
    pub dir: TempDir,
    pub state: TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
            state: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `rel` (creating parent directories) and returns its path.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// `leakhound` run in the scratch directory.
    pub fn cmd(&self) -> Command {
        let mut c = lh(self.state.path());
        c.current_dir(self.path());
        c
    }

    /// `leakhound scan --format jsonl ARGS...`.
    pub fn jsonl<I, S>(&self, args: I) -> Run
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

pub fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// A finished run with its JSONL events parsed.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub events: Vec<Value>,
}

impl Run {
    pub fn parse(out: Output) -> Run {
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

    pub fn of_type(&self, t: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["type"] == t).collect()
    }

    pub fn findings(&self) -> Vec<&Value> {
        self.of_type("finding")
    }

    pub fn files(&self) -> Vec<&Value> {
        self.of_type("file")
    }

    /// The summary, checked to be the one and last event.
    pub fn summary(&self) -> &Value {
        assert_eq!(self.of_type("summary").len(), 1, "{}", self.stdout);
        let last = self.events.last().expect("no events");
        assert_eq!(last["type"], "summary", "the summary is not last");
        last
    }

    /// The file event for `path`.
    pub fn file(&self, path: &str) -> &Value {
        let found: Vec<&Value> = self
            .files()
            .into_iter()
            .filter(|f| f["path"] == path)
            .collect();
        assert_eq!(found.len(), 1, "file events for {path}: {}", self.stdout);
        found[0]
    }

    /// Paths with at least one finding.
    pub fn finding_paths(&self) -> BTreeSet<String> {
        self.findings()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn expect_code(&self, code: i32) -> &Run {
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
pub fn locate(text: &str, needle: &str) -> (u64, u64, u64) {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in text"));
    let before = &text[..offset];
    let line = before.matches('\n').count() as u64 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() as u64 + 1;
    (line, column, offset as u64)
}

/// A known layout of files: the text of each and what must be found in it.
pub struct Expect {
    pub file: &'static str,
    pub needle: &'static str,
    pub rule: &'static str,
    pub kind: &'static str,
    pub severity: &'static str,
    pub masked: &'static str,
    pub test_data: bool,
}

pub const CARDS_TXT: &str = "\
Card: 4526018159083012
mc 5478778932879219 amex 3731-948757-49111
test 4111111111111111
grouped 4526 0181 5908 3012 end
not cards: 4526018159083013 INV4526018159083012
";

pub const IDS_TXT: &str = "\
SSN: 536-22-8726
not an SSN: 000-22-8726
PESEL: 85120312343
CNP: 1971204123457
身份证号码：11010519491231002X
کد ملی: ۴۴۷۲۸۱۹۶۳۵
";

pub const BANK_TXT: &str = "\
IBAN: DE89370400440532013000
Please transfer to GB29 NWBK 6016 1331 9268 19 by Friday.
";

pub const EXPECTED: &[Expect] = &[
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

pub fn layout() -> Scratch {
    let sc = Scratch::new();
    sc.write("cards.txt", CARDS_TXT);
    sc.write("ids.txt", IDS_TXT);
    sc.write("sub/bank.txt", BANK_TXT);
    sc
}

pub fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

/// A valid rule file for `id` (an SSN rule), with `extra` lines added to the
/// rule and `severity`.
pub fn rule_yaml(id: &str, severity: &str, extra: &str) -> String {
    format!(
        "rules:\n  - id: {id}\n    name: Test SSN\n    kind: us_ssn\n    severity: {severity}\n\
         {extra}    match:\n      digits:\n        lengths: [9]\n        groups: [\"3-2-4\"]\n\
         \x20   validate:\n      us_ssn: {{}}\n    examples: [\"SSN {SSN}\"]\n\
         \x20   negative_examples: [\"SSN 000-22-8726\"]\n"
    )
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}
