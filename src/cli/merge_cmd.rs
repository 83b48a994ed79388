//! `leakhound merge a.jsonl b.jsonl ... -o all.jsonl`: one report from the
//! JSON-lines reports of the shards of a scan (`scan --shard K/N`).
//!
//! Reports enter line by line; one report leaves: the first input's `scan`
//! start event (its `paths` the union of all), every finding, file and
//! action event once (an event seen twice, by its `id`, as when a shard's
//! report is given twice or a shard was re-run into the same file, is
//! dropped), and one summary whose counts are the sums of the shards'
//! (files by status, bytes, findings by kind and severity, suppressed, and
//! those counted but not listed: below the confidence, test data) and
//! whose time span covers them all. Events are copied as they are, so
//! nothing is re-masked or lost. Reports of different rules versions or
//! fingerprint keys are refused: their findings cannot be compared.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use super::Exit;

/// `leakhound merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The shards' reports (`scan --format jsonl -o FILE`).
    #[arg(value_name = "REPORT", required = true)]
    pub reports: Vec<PathBuf>,

    /// Write the merged report to FILE instead of standard output
    /// (written to a temporary file and renamed into place).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Exit 0 when the merged summary has no finding, 1 when it has (as the
/// scans themselves would), 2 on an error.
pub fn run(args: MergeArgs) -> Exit {
    match merge(&args) {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("leakhound: error: {e:#}");
            Exit::Error
        }
    }
}

fn merge(args: &MergeArgs) -> anyhow::Result<Exit> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut start: Option<Value> = None;
    let mut paths: Vec<Value> = Vec::new();
    let mut body: Vec<u8> = Vec::new();
    let mut summary: Option<Value> = None;
    let mut summaries = 0usize;
    for path in &args.reports {
        let file = std::fs::File::open(path)
            .with_context(|| format!("{}: cannot open the report", path.display()))?;
        let mut had_summary = false;
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.with_context(|| format!("{}: cannot read", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            let ev: Value = serde_json::from_str(&line).with_context(|| {
                format!(
                    "{} line {}: not a JSON event (merge reads `scan --format jsonl` reports)",
                    path.display(),
                    n + 1
                )
            })?;
            let kind = ev["type"].as_str().unwrap_or_default().to_string();
            match kind.as_str() {
                "scan" => {
                    for p in ev["paths"].as_array().into_iter().flatten() {
                        if !paths.contains(p) {
                            paths.push(p.clone());
                        }
                    }
                    if start.is_none() {
                        start = Some(ev);
                    }
                }
                "summary" => {
                    had_summary = true;
                    summaries += 1;
                    summary = Some(match summary.take() {
                        None => ev,
                        Some(acc) => add_summary(acc, &ev).with_context(|| {
                            format!(
                                "{}: cannot be merged with the reports before it",
                                path.display()
                            )
                        })?,
                    });
                }
                _ => {
                    let id = ev["id"].as_str().map(str::to_string);
                    if let Some(id) = id
                        && !seen.insert(id)
                    {
                        continue;
                    }
                    body.extend_from_slice(line.as_bytes());
                    body.push(b'\n');
                }
            }
        }
        if !had_summary {
            bail!(
                "{}: no summary event: the scan did not finish (run that shard again)",
                path.display()
            );
        }
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len() + 4096);
    if let Some(mut s) = start {
        s["paths"] = Value::Array(paths);
        serde_json::to_writer(&mut out, &s)?;
        out.push(b'\n');
    }
    out.extend_from_slice(&body);
    let summary = summary.expect("every report has a summary");
    serde_json::to_writer(&mut out, &summary)?;
    out.push(b'\n');
    write_out(args.output.as_ref(), &out)?;
    eprintln!(
        "leakhound: merged {} reports ({summaries} summaries), {} events",
        args.reports.len(),
        seen.len()
    );
    Ok(if summary["findings"].as_u64().unwrap_or(0) > 0 {
        Exit::Findings
    } else {
        Exit::Clean
    })
}

/// Standard output, or `path` through a temporary file renamed into place.
fn write_out(path: Option<&PathBuf>, bytes: &[u8]) -> anyhow::Result<()> {
    let Some(path) = path else {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(bytes)?;
        return Ok(stdout.flush()?);
    };
    crate::report::html::write_atomic(path, bytes)
        .with_context(|| format!("{}: cannot write", path.display()))
}

/// Fields that must be equal in every shard's summary.
const SAME: [&str; 3] = ["rules_version", "fingerprint_key", "rules"];

/// Counts added field by field.
const SUMMED: [&str; 10] = [
    "files",
    "excluded",
    "bytes",
    "findings",
    "findings_by_kind",
    "findings_by_severity",
    "test_data_findings",
    "suppressed",
    "below_confidence",
    "test_data_not_listed",
];

/// The summary of two sets of shards.
fn add_summary(mut acc: Value, ev: &Value) -> anyhow::Result<Value> {
    for f in SAME {
        if acc[f] != ev[f] {
            bail!(
                "its `{f}` is {} where the others have {}: merge only the shards of one scan",
                ev[f],
                acc[f]
            );
        }
    }
    for f in SUMMED {
        let sum = add(&acc[f], &ev[f]);
        acc[f] = sum;
    }
    // The span from the first start to the last end.
    let start = |v: &Value| {
        v["started"]
            .as_str()
            .and_then(|s| humantime::parse_rfc3339(s).ok())
    };
    let end = |v: &Value| {
        start(v)
            .map(|s| s + std::time::Duration::from_millis(v["duration_ms"].as_u64().unwrap_or(0)))
    };
    if let (Some(s1), Some(s2), Some(e1), Some(e2)) = (start(&acc), start(ev), end(&acc), end(ev)) {
        let s = s1.min(s2);
        let e = e1.max(e2);
        let ms = e.duration_since(s).unwrap_or_default().as_millis() as u64;
        if s2 < s1 {
            acc["started"] = ev["started"].clone();
        }
        acc["duration_ms"] = Value::from(ms);
        let bytes = acc["bytes"].as_u64().unwrap_or(0);
        acc["bytes_per_second"] = Value::from(bytes * 1000 / ms.max(1));
    }
    let code = acc["exit_code"]
        .as_u64()
        .unwrap_or(0)
        .max(ev["exit_code"].as_u64().unwrap_or(0));
    acc["exit_code"] = Value::from(code);
    if acc["result"] != ev["result"] && ev["exit_code"].as_u64() == Some(code) {
        acc["result"] = ev["result"].clone();
    }
    Ok(acc)
}

/// Numbers added, objects added key by key; anything else kept from `a`.
fn add(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            Value::from(x.as_u64().unwrap_or(0) + y.as_u64().unwrap_or(0))
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut out: Map<String, Value> = x.clone();
            for (k, v) in y {
                let sum = match x.get(k) {
                    Some(old) => add(old, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), sum);
            }
            Value::Object(out)
        }
        (Value::Null, other) => other.clone(),
        (keep, _) => keep.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_add_up_and_other_scans_are_refused() {
        let a = serde_json::json!({"rules_version": "r", "fingerprint_key": "local", "rules": "built-in",
            "files": {"total": 2, "scanned": 2}, "findings": 1, "findings_by_kind": {"card_visa": 1},
            "bytes": 10, "exit_code": 1, "result": "findings",
            "started": "2026-01-01T00:00:00.000Z", "duration_ms": 1000});
        let b = serde_json::json!({"rules_version": "r", "fingerprint_key": "local", "rules": "built-in",
            "files": {"total": 3, "scanned": 2, "error": 1}, "findings": 2, "findings_by_kind": {"card_visa": 1, "us_ssn": 1},
            "bytes": 20, "exit_code": 0, "result": "clean",
            "started": "2026-01-01T00:00:00.500Z", "duration_ms": 1000});
        let s = add_summary(a.clone(), &b).unwrap();
        assert_eq!(
            s["files"],
            serde_json::json!({"total": 5, "scanned": 4, "error": 1})
        );
        assert_eq!(s["findings"], 3);
        assert_eq!(
            s["findings_by_kind"],
            serde_json::json!({"card_visa": 2, "us_ssn": 1})
        );
        assert_eq!(
            (s["exit_code"].clone(), s["result"].clone()),
            (1.into(), "findings".into())
        );
        assert_eq!(s["duration_ms"], 1500);
        let mut other = b.clone();
        other["rules_version"] = "q".into();
        assert!(add_summary(a.clone(), &other).is_err());
    }

    #[test]
    fn d18_merge_adds_up_the_counted_but_unlisted_findings() {
        let shard = |below: u64, test_data: u64| {
            serde_json::json!({"rules_version": "r", "fingerprint_key": "local", "rules": "built-in",
                "files": {"total": 1}, "findings": 0, "bytes": 1, "exit_code": 0, "result": "clean",
                "below_confidence": below, "test_data_not_listed": test_data,
                "started": "2026-01-01T00:00:00.000Z", "duration_ms": 1})
        };
        let s = add_summary(shard(3, 1), &shard(4, 2)).unwrap();
        assert_eq!(
            (
                s["below_confidence"].clone(),
                s["test_data_not_listed"].clone()
            ),
            (7.into(), 3.into())
        );
        // A shard written before the field existed counts as zero.
        let mut old = shard(0, 0);
        old.as_object_mut().unwrap().remove("test_data_not_listed");
        let s = add_summary(old, &shard(0, 5)).unwrap();
        assert_eq!(s["test_data_not_listed"], 5);
    }
}
