//! The HTML audit report (`leakhound report`, `scan --report`), opened in a
//! real browser: headless Chromium (Debian `chromium`, installed by
//! scripts/setup.sh) loads the file, and the test reads the DOM it built
//! (`--dump-dom`), its console log and a screenshot.
//!
//! Without Chromium the browser tests skip loudly, except in CI (`CI=true`),
//! where a missing browser is a failure: the report must be checked there.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Std;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_leakhound");
const KEY: &str = "report-test-fingerprint-key";
const VISA: &str = "4526018159083012";
/// A file name that is markup: it must show as text, never run.
const EVIL: &str = "<script>document.title='pwned'<.csv";

fn lh(state: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", state)
        .env_remove("LEAKHOUND_LOG")
        .timeout(Duration::from_secs(120));
    c
}

/// The sample, copied beside a file whose name is markup.
fn sample(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample");
    let dst = dir.join("sample");
    for e in walkdir::WalkDir::new(&src) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(&src).unwrap();
        let to = dst.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
    std::fs::create_dir_all(dst.join("odd")).unwrap();
    std::fs::write(dst.join("odd").join(EVIL), format!("card: {VISA}\n")).unwrap();
    dst
}

/// Chromium's binary, or `None` (with a loud message) outside CI. In CI a
/// missing browser fails the test.
fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Std::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            && out.status.success()
        {
            let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !p.is_empty() {
                return Some(PathBuf::from(p));
            }
        }
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("chromium is not installed, and CI=true: run scripts/setup.sh");
    }
    eprintln!(
        "\n\n*** SKIPPED: chromium is not installed; the HTML report was NOT checked in a \
         browser. Run scripts/setup.sh (apt-get install chromium). ***\n\n"
    );
    None
}

/// Runs headless Chromium on `page` with `extra` arguments; returns
/// (stdout, stderr).
fn browse(browser: &Path, page: &Path, profile: &Path, extra: &[&str]) -> (String, String) {
    let mut cmd = Std::new("timeout");
    cmd.arg("120").arg(browser).args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    cmd.args(extra);
    cmd.arg(format!("file://{}", page.display()));
    let out = cmd.output().expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The text of the element carrying `data-metric="name"`.
fn metric(dom: &str, name: &str) -> u64 {
    let re = regex::Regex::new(&format!(r#"data-metric="{name}"[^>]*>([0-9]+)<"#)).unwrap();
    let caps = re
        .captures(dom)
        .unwrap_or_else(|| panic!("no metric {name} in the page"));
    caps[1].parse().unwrap()
}

fn attr_values(dom: &str, attr: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(&format!(r#"{attr}="([^"]*)""#)).unwrap();
    re.captures_iter(dom).map(|c| unescape(&c[1])).collect()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn events(jsonl: &Path) -> Vec<Value> {
    std::fs::read_to_string(jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn sample_report_in_chromium_shows_the_jsonl_totals_and_a_treemap_node_per_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    sample(tmp.path());
    let jsonl = tmp.path().join("scan.jsonl");
    let html = tmp.path().join("report.html");
    lh(state.path())
        .current_dir(tmp.path())
        .args(["scan", "sample", "--verbose", "--format", "jsonl", "-o"])
        .arg(&jsonl)
        .assert()
        .code(1);
    lh(state.path())
        .args(["report"])
        .arg(&jsonl)
        .arg("-o")
        .arg(&html)
        .assert()
        .success();

    let evs = events(&jsonl);
    let summary = evs.iter().find(|e| e["type"] == "summary").unwrap();
    let finding_paths: Vec<String> = evs
        .iter()
        .filter(|e| e["type"] == "finding")
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    assert!(finding_paths.iter().any(|p| p.ends_with(EVIL)));
    let mut dirs = BTreeSet::new();
    for p in &finding_paths {
        let mut acc = String::new();
        let parts: Vec<&str> = p.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            acc = if acc.is_empty() {
                part.to_string()
            } else {
                format!("{acc}/{part}")
            };
            dirs.insert(acc.clone());
        }
    }

    // No browser needed for what the file holds: the name is escaped.
    let raw = std::fs::read_to_string(&html).unwrap();
    assert!(
        !raw.contains("<script>document.title"),
        "a file name was not escaped"
    );
    assert!(raw.contains("&lt;script&gt;document.title="));
    assert!(!raw.contains(VISA), "a raw card number in the report");
    assert!(
        !raw.contains("http://") && !raw.contains("https://"),
        "the page refers to the network"
    );

    let Some(browser) = chromium() else { return };
    let profile = tempfile::tempdir().unwrap();
    let (dom, log) = browse(&browser, &html, profile.path(), &["--dump-dom"]);
    assert!(
        dom.contains("data-js=\"ready\""),
        "the page's script did not run:\n{log}"
    );
    assert!(
        !log.contains("Uncaught") && !log.contains("CONSOLE"),
        "console errors:\n{log}"
    );
    assert!(
        regex::Regex::new(r#"<div id="js-errors"[^>]*hidden[^>]*></div>"#)
            .unwrap()
            .is_match(&dom),
        "the page reported script errors"
    );
    assert!(!dom.contains("<title>pwned"), "a file name ran as a script");

    assert_eq!(
        metric(&dom, "findings"),
        summary["findings"].as_u64().unwrap()
    );
    assert_eq!(metric(&dom, "findings"), finding_paths.len() as u64);
    for sev in ["high", "medium", "low"] {
        assert_eq!(
            metric(&dom, &format!("severity-{sev}")),
            summary["findings_by_severity"][sev].as_u64().unwrap_or(0),
            "{sev}"
        );
    }
    for k in ["total", "scanned", "partial", "skipped", "error"] {
        let name = if k == "total" {
            "files-total".to_string()
        } else {
            format!("files-{k}")
        };
        assert_eq!(
            metric(&dom, &name),
            summary["files"][k].as_u64().unwrap(),
            "{k}"
        );
    }
    for (kind, n) in summary["findings_by_kind"].as_object().unwrap() {
        let re = regex::Regex::new(&format!(r#"data-kind="{kind}">([0-9]+)<"#)).unwrap();
        assert_eq!(
            re.captures(&dom).unwrap()[1].parse::<u64>().unwrap(),
            n.as_u64().unwrap()
        );
    }
    // One treemap node per directory holding findings, and each opens a
    // view that exists.
    assert_eq!(attr_values(&dom, "data-dir"), dirs);
    let views = attr_values(&dom, r#"class="tm-view" id"#);
    for v in attr_values(&dom, "data-view") {
        assert!(views.contains(&v), "node opens a missing view {v}");
    }
    // Drilling down: the page opens the directory named in the address.
    let view_of = |dom: &str, dir: &str| -> String {
        let re = regex::Regex::new(&format!(
            r#"<div class="tm-view" id="(tm-[0-9]+)" data-path="{}""#,
            regex::escape(dir)
        ))
        .unwrap();
        re.captures(dom)
            .unwrap_or_else(|| panic!("no view for {dir}"))[1]
            .to_string()
    };
    let exports = view_of(&dom, "sample/exports");
    let start = view_of(&dom, "sample");
    let is_hidden = |dom: &str, id: &str| -> bool {
        regex::Regex::new(&format!(r#"id="{id}" data-path="[^"]*" hidden"#))
            .unwrap()
            .is_match(dom)
    };
    assert!(!is_hidden(&dom, &start) && is_hidden(&dom, &exports));
    let deep = PathBuf::from(format!("{}#{exports}", html.display()));
    let (dom2, log) = browse(&browser, &deep, profile.path(), &["--dump-dom"]);
    assert!(!log.contains("Uncaught"), "console errors:\n{log}");
    assert!(
        is_hidden(&dom2, &start) && !is_hidden(&dom2, &exports),
        "drill-down did not open"
    );
    // Owners are known (file events carry them) for every file with findings.
    assert!(!dom.contains("are unknown"), "owners missing");

    let png = tmp.path().join("report.png");
    let shot = format!("--screenshot={}", png.display());
    let (_, log) = browse(
        &browser,
        &html,
        profile.path(),
        &[&shot, "--hide-scrollbars", "--window-size=1100,2600"],
    );
    assert!(!log.contains("Uncaught"), "console errors:\n{log}");
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.len() > 10_000,
        "screenshot too small: {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    if let Ok(to) = std::env::var("LEAKHOUND_REPORT_SCREENSHOT") {
        std::fs::copy(&png, to).unwrap();
    }
}

#[test]
fn scan_report_writes_the_html_beside_the_main_report_with_owners() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    sample(tmp.path());
    let html = tmp.path().join("r.html");
    let out = lh(state.path())
        .current_dir(tmp.path())
        .args(["scan", "sample", "--show-test-data", "--report"])
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("data-metric=\"findings\">14<"),
        "sample + one file: 14 findings"
    );
    // Without --verbose the scan's own report leaves out fully scanned
    // files; the HTML report sees them anyway and knows every owner.
    assert!(!page.contains("are unknown"));
    assert!(
        page.contains("root") || page.contains("#"),
        "an owner column"
    );
}

#[test]
fn several_runs_make_a_trend_with_one_row_per_run() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = sample(tmp.path());
    let a = tmp.path().join("a.jsonl");
    let b = tmp.path().join("b.jsonl");
    lh(state.path())
        .arg("scan")
        .arg(&dir)
        .args(["--show-test-data", "--format", "jsonl", "-o"])
        .arg(&a)
        .assert()
        .code(1);
    std::fs::remove_file(dir.join("odd").join(EVIL)).unwrap();
    lh(state.path())
        .arg("scan")
        .arg(&dir)
        .args(["--show-test-data", "--format", "jsonl", "-o"])
        .arg(&b)
        .assert()
        .code(1);
    let html = tmp.path().join("t.html");
    lh(state.path())
        .arg("report")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&html)
        .assert()
        .success();
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<tr data-run=").count(), 2);
    // The latest run is the one shown in detail.
    assert!(page.contains("data-metric=\"findings\">13<"));
}

#[test]
fn report_on_a_file_that_is_not_events_names_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"type\":\"scan\",\"scan_id\":\"x\"}\nnot json\n").unwrap();
    let out = lh(tmp.path())
        .arg("report")
        .arg(&bad)
        .arg("-o")
        .arg(tmp.path().join("r.html"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.jsonl:2"), "{err}");
    assert!(!tmp.path().join("r.html").exists(), "no half report");
}

#[test]
fn d_scan_report_shows_the_actions_the_scan_took() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("share")).unwrap();
    std::fs::write(tmp.path().join("share/a.txt"), format!("card {VISA}\n")).unwrap();
    let html = tmp.path().join("r.html");
    lh(state.path())
        .current_dir(tmp.path())
        .args([
            "scan",
            "share",
            "--action",
            "redact",
            "--quarantine-dir",
            "q",
            "--report",
        ])
        .arg(&html)
        .assert()
        .code(1);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("data-action=\"redacted\">1<"),
        "the action is missing"
    );
    assert!(!page.contains("None: this scan only reported"));
}
