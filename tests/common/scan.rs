//! One harness for end-to-end scans through the binary: run
//! `leakhound scan --format jsonl -v` with a fixed fingerprint key and a
//! private state directory, optionally under `/usr/bin/time -v` for peak
//! memory, check stdout and stderr for the raw values that must never
//! appear, and parse the JSON lines into events to assert on.
//!
//! What differs between test files (fingerprint key, fixture directory,
//! time limit, the list of raw values that must never appear) is a
//! [`Suite`] each file declares once.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_leakhound");
/// Peak RSS allowed for any hostile input (the scanner and its helpers).
pub const MAX_RSS_KB: u64 = 256 * 1024;

/// What one test file scans and what it must never see.
pub struct Suite {
    /// `LEAKHOUND_FINGERPRINT_KEY` of every run.
    pub key: &'static str,
    /// The fixtures directory, relative to the crate root; runs start there.
    pub fixtures: &'static str,
    /// Wall-clock limit of one run.
    pub timeout: Duration,
    /// Raw values planted in the fixtures: never in stdout or stderr.
    pub never: &'static [&'static str],
}

impl Suite {
    pub fn fixtures(&self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(self.fixtures)
    }
}

/// A finished run with its JSONL events parsed.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub events: Vec<Value>,
    /// Peak RSS in kB, when measured.
    pub rss_kb: Option<u64>,
    pub elapsed: Duration,
}

impl Run {
    /// Checks the output for `suite.never` (a hit fails the test) and parses
    /// it; every stdout line must be JSON.
    pub fn parse(suite: &Suite, out: Output, elapsed: Duration) -> Run {
        let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        for never in suite.never {
            assert!(!stdout.contains(never), "`{never}` in stdout:\n{stdout}");
            assert!(!stderr.contains(never), "`{never}` in stderr:\n{stderr}");
        }
        let events = stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
            })
            .collect();
        let rss_kb = stderr.lines().find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes):")
                .map(|v| v.trim().parse().unwrap())
        });
        Run {
            code: out.status.code(),
            stdout,
            stderr,
            events,
            rss_kb,
            elapsed,
        }
    }

    pub fn of_type(&self, t: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["type"] == t).collect()
    }

    /// `(path, member, kind)` of every finding, in order.
    pub fn findings(&self) -> Vec<(String, Option<String>, String)> {
        self.of_type("finding")
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_string(),
                    f["member"].as_str().map(str::to_string),
                    f["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// `(member, kind)` of every finding, in order.
    pub fn members(&self) -> Vec<(Option<String>, String)> {
        self.findings()
            .into_iter()
            .map(|(_, m, k)| (m, k))
            .collect()
    }

    /// The top-level `file` record of `path` (member null), checked to be
    /// the only one.
    pub fn top(&self, path: &str) -> &Value {
        let found: Vec<&Value> = self
            .of_type("file")
            .into_iter()
            .filter(|f| f["path"] == path && f["member"].is_null())
            .collect();
        assert_eq!(
            found.len(),
            1,
            "top file records of {path}:\n{}",
            self.stdout
        );
        found[0]
    }

    /// `(member, status, reason)` of the member records of `path`.
    pub fn member_records(&self, path: &str) -> Vec<(String, String, String)> {
        self.of_type("file")
            .into_iter()
            .filter(|f| f["path"] == path && !f["member"].is_null())
            .map(|f| {
                (
                    f["member"].as_str().unwrap().to_string(),
                    f["status"].as_str().unwrap().to_string(),
                    f["reason"].as_str().unwrap_or("").to_string(),
                )
            })
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

    /// A hostile input: the process ended by itself, in bounded memory.
    pub fn expect_bounded(&self, what: &str) -> &Run {
        assert!(
            matches!(self.code, Some(0 | 1 | 3)),
            "{what}: exit {:?}\n{}",
            self.code,
            self.stderr
        );
        match self.rss_kb {
            Some(kb) => {
                eprintln!(
                    "{what}: peak RSS {kb} kB, {:.2} s",
                    self.elapsed.as_secs_f64()
                );
                assert!(kb < MAX_RSS_KB, "{what}: peak RSS {kb} kB");
            }
            None => eprintln!("{what}: /usr/bin/time is not there: memory not measured"),
        }
        self
    }
}

/// A scan of one suite with a private state directory, run in the suite's
/// fixtures directory unless [`Scan::in_dir`] says otherwise.
pub struct Scan {
    suite: &'static Suite,
    state: TempDir,
    cwd: PathBuf,
    env: Vec<(String, String)>,
}

impl Scan {
    pub fn new(suite: &'static Suite) -> Scan {
        Scan::in_dir(suite, suite.fixtures())
    }

    pub fn in_dir(suite: &'static Suite, cwd: PathBuf) -> Scan {
        Scan {
            suite,
            state: tempfile::tempdir().unwrap(),
            cwd,
            env: Vec::new(),
        }
    }

    /// Sets `key=value` in the scanner's environment, after the suite's own.
    pub fn env(mut self, key: &str, value: &str) -> Scan {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// `leakhound scan --format jsonl -v --show-test-data`, ready for more arguments;
    /// `measure` wraps it in `/usr/bin/time -v` where that exists.
    pub fn command(&self, measure: bool) -> Command {
        let time = Path::new("/usr/bin/time");
        let mut c = if measure && time.exists() {
            let mut c = Command::new(time);
            c.arg("-v").arg(BIN);
            c
        } else {
            Command::new(BIN)
        };
        c.env("LEAKHOUND_FINGERPRINT_KEY", self.suite.key)
            .env("LEAKHOUND_STATE_DIR", self.state.path())
            .env_remove("LEAKHOUND_LOG")
            .current_dir(&self.cwd)
            .timeout(self.suite.timeout);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        // The fixtures plant processor test cards: list them (they are
        // counted, not listed, by default).
        c.args(["scan", "--format", "jsonl", "-v", "--show-test-data"]);
        c
    }

    pub fn run_with(&self, measure: bool, args: &[&str], stdin: Option<Vec<u8>>) -> Run {
        let mut c = self.command(measure);
        c.args(args);
        if let Some(input) = stdin {
            c.write_stdin(input);
        }
        let start = Instant::now();
        let out = c.output().unwrap();
        Run::parse(self.suite, out, start.elapsed())
    }

    /// `leakhound scan --format jsonl -v ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(false, args, None)
    }

    /// The same under `/usr/bin/time -v`, for peak memory.
    pub fn measured(&self, args: &[&str]) -> Run {
        self.run_with(true, args, None)
    }
}

pub fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

/// `(member, kind)` pairs as [`Run::members`] returns them.
pub fn pairs(v: &[(Option<&str>, &str)]) -> Vec<(Option<String>, String)> {
    v.iter()
        .map(|(m, k)| (m.map(str::to_string), k.to_string()))
        .collect()
}
