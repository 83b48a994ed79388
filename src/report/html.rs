//! The audit report: one self-contained HTML file for the people who answer
//! for the data (a DPO, a PCI assessor), made from JSON-lines events.
//!
//! Events enter one at a time as JSON objects ([`Report::push`]), from one
//! or more `scan --format jsonl` files (`leakhound report`) or straight from
//! a running scan (`scan --report`). They are folded into per-run
//! aggregates (counts per file, kind, severity, owner; the files that were
//! not fully scanned; actions), so memory grows with the number of files
//! with findings or problems, not with the number of findings. One HTML
//! document leaves ([`Report::render`]).
//!
//! The page needs nothing from the network: CSS, the treemap (SVG laid out
//! here, in Rust) and about 20 lines of JavaScript for drilling down are
//! inline. Every string from the events is HTML-escaped by [`esc`]; the
//! events hold only masked values, and the report shows no values at all,
//! only counts. Why SVG from Rust rather than a vendored chart library:
//! see docs/report.md.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

use super::counts::FindingCounts;
use super::event::FileMeta;

/// A problem making the report.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: not a leakhound event ({message}); give the output of \
         `leakhound scan --format jsonl`"
    )]
    Parse {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error(
        "{path}: no leakhound events in it; give the output of `leakhound scan --format jsonl`"
    )]
    Empty { path: PathBuf },
    #[error("cannot write the report to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Okabe-Ito colours (safe for the common colour-vision deficiencies); text
/// labels carry the same information.
const SEV_COLORS: [(&str, &str); 3] = [
    ("high", "#D55E00"),
    ("medium", "#E69F00"),
    ("low", "#56B4E9"),
];
const SEVERITIES: [&str; 3] = ["high", "medium", "low"];
const STATUSES: [&str; 4] = ["scanned", "partial", "skipped", "error"];
/// Top files listed.
const TOP_FILES: usize = 25;
/// Problem files listed one by one; the count above them is always complete.
const MAX_PROBLEMS: usize = 5000;

/// Counts for one file with findings or a problem.
#[derive(Debug, Clone, Default)]
struct FileAgg {
    findings: u64,
    by_sev: [u64; 3],
    kinds: BTreeMap<String, u64>,
    meta: Option<FileMeta>,
}

/// A file that was not fully scanned.
#[derive(Debug, Clone)]
struct Problem {
    path: String,
    member: Option<String>,
    status: String,
    reason: String,
}

/// One action taken.
#[derive(Debug, Clone)]
struct ActionRow {
    path: String,
    action: String,
    dry_run: bool,
    reason: Option<String>,
}

/// One scan run's aggregates.
#[derive(Debug, Clone, Default)]
struct Run {
    scan_id: String,
    host: String,
    rules_version: String,
    first_time: String,
    paths: Vec<String>,
    summary: Option<Value>,
    /// The finding events' counts, for a run whose summary is missing
    /// (the summary's are preferred: they are what the gate decided on).
    counts: FindingCounts,
    files: HashMap<String, FileAgg>,
    /// Status counts of top-level `file` events (the summary is preferred).
    file_status: BTreeMap<String, u64>,
    problems: Vec<Problem>,
    problem_count: u64,
    actions: Vec<ActionRow>,
}

/// The report being built.
#[derive(Debug, Default)]
pub struct Report {
    runs: Vec<Run>,
    index: HashMap<String, usize>,
}

impl Report {
    pub fn new() -> Report {
        Report::default()
    }

    /// Reads a JSON-lines file of events.
    pub fn read_jsonl(&mut self, path: &Path) -> Result<(), HtmlError> {
        let file = std::fs::File::open(path).map_err(|source| HtmlError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut seen = 0u64;
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|source| HtmlError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            // The parser's message may quote the line; it holds only
            // masked values, but say no more than where it went wrong.
            let v: Value = serde_json::from_str(&line).map_err(|e| HtmlError::Parse {
                path: path.to_path_buf(),
                line: i as u64 + 1,
                message: format!("invalid JSON at column {}", e.column()),
            })?;
            if v.get("type").and_then(Value::as_str).is_none() || v.get("scan_id").is_none() {
                return Err(HtmlError::Parse {
                    path: path.to_path_buf(),
                    line: i as u64 + 1,
                    message: "no `type` or `scan_id`".into(),
                });
            }
            self.push(&v);
            seen += 1;
        }
        if seen == 0 {
            return Err(HtmlError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(())
    }

    /// Folds one event (a JSON object as `--format jsonl` writes it) in.
    pub fn push(&mut self, v: &Value) {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        let scan_id = s("scan_id");
        let idx = *self.index.entry(scan_id.clone()).or_insert_with(|| {
            self.runs.push(Run {
                scan_id: scan_id.clone(),
                host: s("host"),
                rules_version: s("rules_version"),
                first_time: s("time"),
                ..Run::default()
            });
            self.runs.len() - 1
        });
        let run = &mut self.runs[idx];
        match v.get("type").and_then(Value::as_str).unwrap_or("") {
            "scan" => {
                run.paths = v
                    .get("paths")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| p.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
            }
            "finding" => {
                let sev = s("severity");
                let kind = s("kind");
                let test_data = v.get("test_data").and_then(Value::as_bool) == Some(true);
                run.counts.add_named(&kind, &sev, test_data);
                let f = run.files.entry(s("path")).or_default();
                f.findings += 1;
                if let Some(i) = SEVERITIES.iter().position(|x| *x == sev) {
                    f.by_sev[i] += 1;
                }
                *f.kinds.entry(kind).or_default() += 1;
            }
            "file" => {
                let status = s("status");
                let top = v.get("member").is_none_or(Value::is_null);
                if top {
                    *run.file_status.entry(status.clone()).or_default() += 1;
                    if let Ok(meta) = serde_json::from_value::<FileMeta>(v.clone()) {
                        // Only files with findings are shown by owner and
                        // age; keep the map bounded by those.
                        if let Some(f) = run.files.get_mut(&s("path")) {
                            f.meta = Some(meta);
                        } else if n("findings") > 0 {
                            run.files.entry(s("path")).or_default().meta = Some(meta);
                        }
                    }
                }
                if status != "scanned" {
                    run.problem_count += 1;
                    if run.problems.len() < MAX_PROBLEMS {
                        run.problems.push(Problem {
                            path: s("path"),
                            member: v.get("member").and_then(Value::as_str).map(String::from),
                            status,
                            reason: s("reason"),
                        });
                    }
                }
            }
            "action" => run.actions.push(ActionRow {
                path: s("path"),
                action: s("action"),
                dry_run: v.get("dry_run").and_then(Value::as_bool).unwrap_or(false),
                reason: v.get("reason").and_then(Value::as_str).map(String::from),
            }),
            "summary" => run.summary = Some(v.clone()),
            _ => {}
        }
    }

    /// Renders the whole page. `now` dates the report and anchors the
    /// age buckets when a run has no summary.
    pub fn render(&self, now: SystemTime) -> String {
        let mut runs: Vec<&Run> = self.runs.iter().collect();
        runs.sort_by_key(|r| started(r));
        let mut h = String::with_capacity(64 * 1024);
        let generated = humantime::format_rfc3339_seconds(now).to_string();
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
        h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        // Nothing may be loaded from anywhere: the policy says so to the browser.
        h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n");
        h.push_str("<title>leakhound report</title>\n<style>");
        h.push_str(CSS);
        h.push_str("</style></head>\n<body>\n");
        h.push_str("<div id=\"js-errors\" role=\"alert\" hidden></div>\n");
        let Some(run) = runs.last() else {
            h.push_str("<h1>leakhound report</h1><p>No scan in the input.</p></body></html>\n");
            return h;
        };
        let summary = run.summary.as_ref();
        let scanned_at = started(run);
        let _ = write!(
            h,
            "<header><h1>Personal data found: audit report</h1>\n<p class=\"meta\">Host <b>{}</b> · scan <code>{}</code> · started {} · roots {} · rules {} · report made {}</p>\n",
            esc(&run.host),
            esc(&run.scan_id),
            esc(&scanned_at),
            esc(&run.paths.join(", ")),
            esc(&run.rules_version),
            esc(&generated)
        );
        if summary.is_none() {
            h.push_str("<p class=\"warn\"><b>This scan has no summary: it did not finish, or its output was cut.</b> The counts below are those of the events present; the scan may have missed files.</p>\n");
        }
        let result = summary
            .and_then(|s| s.get("result"))
            .and_then(Value::as_str)
            .unwrap_or("unfinished");
        let _ = writeln!(
            h,
            "<p class=\"result\">Result: <b data-metric=\"result\">{}</b></p></header>",
            esc(result)
        );

        self.totals(&mut h, run);
        self.treemap(&mut h, run);
        self.top_files(&mut h, run);
        self.owners(&mut h, run, parse_time(&scanned_at).unwrap_or(now));
        self.coverage(&mut h, run);
        self.actions(&mut h, run);
        self.trend(&mut h, &runs);
        h.push_str("<footer>Made by leakhound. Values are never shown: counts only; the events behind this report hold masked values and keyed fingerprints.</footer>\n<script>");
        h.push_str(JS);
        h.push_str("</script>\n</body></html>\n");
        h
    }

    fn totals(&self, h: &mut String, run: &Run) {
        let summary = run.summary.as_ref();
        let findings = summary
            .and_then(|s| s.get("findings"))
            .and_then(Value::as_u64)
            .unwrap_or(run.counts.findings);
        let obj = |key: &str, fallback: &BTreeMap<String, u64>| -> BTreeMap<String, u64> {
            summary
                .and_then(|s| s.get(key))
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                        .collect()
                })
                .unwrap_or_else(|| fallback.clone())
        };
        let by_sev = obj("findings_by_severity", &run.counts.by_severity);
        let by_kind = obj("findings_by_kind", &run.counts.by_kind);
        h.push_str("<section id=\"totals\"><h2>Totals</h2><div class=\"cards\">\n");
        let _ = writeln!(
            h,
            "<div class=\"card\"><span class=\"num\" data-metric=\"findings\">{findings}</span><span>findings</span></div>"
        );
        for (sev, color) in SEV_COLORS {
            let c = by_sev.get(sev).copied().unwrap_or(0);
            let _ = writeln!(
                h,
                "<div class=\"card\"><span class=\"num\" data-metric=\"severity-{sev}\" style=\"border-color:{color}\">{c}</span><span>{sev}</span></div>"
            );
        }
        let files = |k: &str| {
            summary
                .and_then(|s| s.pointer(&format!("/files/{k}")))
                .and_then(Value::as_u64)
                .unwrap_or_else(|| {
                    if k == "total" {
                        run.file_status.values().sum()
                    } else {
                        run.file_status.get(k).copied().unwrap_or(0)
                    }
                })
        };
        let _ = writeln!(
            h,
            "<div class=\"card\"><span class=\"num\" data-metric=\"files-total\">{}</span><span>files</span></div>",
            files("total")
        );
        h.push_str("</div>\n<h3>By kind</h3>\n");
        let max = by_kind.values().copied().max().unwrap_or(1).max(1);
        h.push_str("<table class=\"bars\"><caption>Findings by kind of data</caption><thead><tr><th scope=\"col\">kind</th><th scope=\"col\">findings</th><th scope=\"col\" aria-hidden=\"true\"></th></tr></thead><tbody>\n");
        let mut kinds: Vec<_> = by_kind.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (k, c) in kinds {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"n\" data-kind=\"{}\">{c}</td><td aria-hidden=\"true\"><span class=\"bar\" style=\"width:{}%\"></span></td></tr>",
                esc(k),
                esc(k),
                c * 100 / max
            );
        }
        h.push_str("</tbody></table></section>\n");
    }

    fn treemap(&self, h: &mut String, run: &Run) {
        h.push_str("<section id=\"treemap\"><h2>Where the data sits</h2>\n<p class=\"hint\">Directories sized by findings; colour is the highest severity inside (also written in each box). Click a directory, or focus it and press Enter, to open it.</p>\n<p class=\"legend\" aria-hidden=\"true\">Highest severity inside:<span style=\"background:#D55E00\"></span>high<span style=\"background:#E69F00\"></span>medium<span style=\"background:#56B4E9\"></span>low</p>\n");
        let tree = Tree::build(
            run.files
                .iter()
                .filter(|(_, f)| f.findings > 0)
                .map(|(p, f)| (p.as_str(), f)),
        );
        if tree.nodes.is_empty() || tree.nodes[0].findings == 0 {
            h.push_str("<p>No findings.</p></section>\n");
            return;
        }
        // Open on the deepest directory that holds everything.
        let mut start = 0;
        while tree.nodes[start].files.is_empty() && tree.nodes[start].dirs.len() == 1 {
            start = tree.nodes[start].dirs[0];
        }
        for (i, node) in tree.nodes.iter().enumerate() {
            if node.findings == 0 {
                continue;
            }
            let _ = write!(
                h,
                "<div class=\"tm-view\" id=\"tm-{i}\" data-path=\"{}\"{}>",
                esc(&node.path),
                if i == start { "" } else { " hidden" }
            );
            // Breadcrumbs: every ancestor is a way back up.
            h.push_str("<nav class=\"crumbs\" aria-label=\"directory\">");
            let mut chain = vec![i];
            let mut p = node.parent;
            while let Some(x) = p {
                chain.push(x);
                p = tree.nodes[x].parent;
            }
            chain.reverse();
            for (j, &x) in chain.iter().enumerate() {
                let label = if tree.nodes[x].path.is_empty() {
                    "(all)"
                } else {
                    tree.nodes[x].name.as_str()
                };
                if j + 1 == chain.len() {
                    let _ = write!(h, "<b>{}</b>", esc(label));
                } else {
                    let _ = write!(
                        h,
                        "<a href=\"#treemap\" data-view=\"tm-{x}\">{}</a> / ",
                        esc(label)
                    );
                }
            }
            h.push_str("</nav>\n");
            let title = if node.path.is_empty() {
                "all scanned paths".to_string()
            } else {
                node.path.clone()
            };
            let _ = writeln!(
                h,
                "<svg class=\"tm\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"tm-{i}-t\"><title id=\"tm-{i}-t\">Treemap of {}: {} findings</title>",
                esc(&title),
                node.findings
            );
            let items = tree.items(i, MAX_BOXES);
            let sizes: Vec<f64> = items.iter().map(|(n, _)| *n as f64).collect();
            let rects = squarify(
                &sizes,
                Rect {
                    x: 0.0,
                    y: 0.0,
                    w: W as f64,
                    h: H as f64,
                },
            );
            for ((count, item), r) in items.iter().zip(rects) {
                let (name, full, sev, is_dir, target) = match item {
                    Item::Dir(d) => {
                        let n = &tree.nodes[*d];
                        (n.name.clone(), n.path.clone(), n.by_sev, true, Some(*d))
                    }
                    Item::File(name, f) => {
                        (name.clone(), join(&node.path, name), f.by_sev, false, None)
                    }
                    Item::Others(k, a) => (
                        format!("{k} more"),
                        format!("{k} more in {}", join(&node.path, "")),
                        a.by_sev,
                        false,
                        None,
                    ),
                };
                let more = matches!(item, Item::Others(..));
                let color = sev
                    .iter()
                    .position(|c| *c > 0)
                    .map(|i| SEV_COLORS[i].1)
                    .unwrap_or("#999999");
                let top = sev
                    .iter()
                    .position(|c| *c > 0)
                    .map(|i| SEVERITIES[i])
                    .unwrap_or("none");
                let label = format!(
                    "{} {}: {count} findings (high {}, medium {}, low {})",
                    if is_dir {
                        "directory"
                    } else if more {
                        "smaller items:"
                    } else {
                        "file"
                    },
                    full,
                    sev[0],
                    sev[1],
                    sev[2]
                );
                if is_dir {
                    let _ = write!(
                        h,
                        "<g class=\"node dir\" data-dir=\"{}\" data-findings=\"{count}\" data-view=\"tm-{}\" tabindex=\"0\" role=\"button\" aria-label=\"{}\">",
                        esc(&full),
                        target.unwrap_or(0),
                        esc(&label)
                    );
                } else if more {
                    let _ = write!(
                        h,
                        "<g class=\"node more\" data-findings=\"{count}\" role=\"img\" aria-label=\"{}\">",
                        esc(&label)
                    );
                } else {
                    let _ = write!(
                        h,
                        "<g class=\"node file\" data-file=\"{}\" data-findings=\"{count}\" role=\"img\" aria-label=\"{}\">",
                        esc(&full),
                        esc(&label)
                    );
                }
                // A directory big enough shows its contents one level
                // down, inside a pale box of its colour.
                let nested = is_dir && r.w > 80.0 && r.h > 80.0;
                let _ = write!(
                    h,
                    "<title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"{} data-severity=\"{top}\"/>",
                    esc(&label),
                    r.x + 1.0,
                    r.y + 1.0,
                    (r.w - 2.0).max(0.5),
                    (r.h - 2.0).max(0.5),
                    if nested {
                        format!(" fill-opacity=\"0.25\" style=\"stroke:{color};stroke-width:2\"")
                    } else {
                        String::new()
                    }
                );
                if let (true, Some(d)) = (nested, target) {
                    let inner = tree.items(d, MAX_NESTED);
                    let sizes: Vec<f64> = inner.iter().map(|(n, _)| *n as f64).collect();
                    let area = Rect {
                        x: r.x + 5.0,
                        y: r.y + 40.0,
                        w: r.w - 10.0,
                        h: r.h - 45.0,
                    };
                    for ((n, it), q) in inner.iter().zip(squarify(&sizes, area)) {
                        let (iname, isev, idir) = match it {
                            Item::Dir(x) => {
                                (tree.nodes[*x].name.clone(), tree.nodes[*x].by_sev, true)
                            }
                            Item::File(name, f) => (name.clone(), f.by_sev, false),
                            Item::Others(k, a) => (format!("{k} more"), a.by_sev, false),
                        };
                        let icolor = isev
                            .iter()
                            .position(|c| *c > 0)
                            .map(|i| SEV_COLORS[i].1)
                            .unwrap_or("#999999");
                        let _ = write!(
                            h,
                            "<rect class=\"inner\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{icolor}\"><title>{}{}: {n} findings</title></rect>",
                            q.x + 1.0,
                            q.y + 1.0,
                            (q.w - 2.0).max(0.5),
                            (q.h - 2.0).max(0.5),
                            esc(&iname),
                            if idir { "/" } else { "" }
                        );
                        if q.w > 60.0 && q.h > 20.0 {
                            let chars = ((q.w - 8.0) / 6.5) as usize;
                            let shown = shorten(&iname, chars);
                            let _ = write!(
                                h,
                                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"small\">{}{} ({n})</text>",
                                q.x + 5.0,
                                q.y + 15.0,
                                esc(&shown),
                                if idir { "/" } else { "" }
                            );
                        }
                    }
                }
                if r.w > 48.0 && r.h > 34.0 {
                    let shown = shorten(&name, ((r.w - 10.0) / 7.5) as usize);
                    let _ = write!(
                        h,
                        "<text x=\"{:.1}\" y=\"{:.1}\">{}{}</text><text x=\"{:.1}\" y=\"{:.1}\" class=\"count\">{count} · {top}</text>",
                        r.x + 6.0,
                        r.y + 17.0,
                        esc(&shown),
                        if is_dir { "/" } else { "" },
                        r.x + 6.0,
                        r.y + 32.0
                    );
                }
                h.push_str("</g>\n");
            }
            h.push_str("</svg></div>\n");
        }
        // The text alternative: every directory with its counts.
        h.push_str("<details class=\"alt\"><summary>The treemap as a table</summary><table><thead><tr><th scope=\"col\">directory</th><th scope=\"col\">findings</th><th scope=\"col\">high</th><th scope=\"col\">medium</th><th scope=\"col\">low</th></tr></thead><tbody>\n");
        for node in tree
            .nodes
            .iter()
            .filter(|n| n.findings > 0 && !n.path.is_empty())
        {
            let _ = writeln!(
                h,
                "<tr><td>{}/</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&node.path),
                node.findings,
                node.by_sev[0],
                node.by_sev[1],
                node.by_sev[2]
            );
        }
        h.push_str("</tbody></table></details></section>\n");
    }

    fn top_files(&self, h: &mut String, run: &Run) {
        let mut files: Vec<(&String, &FileAgg)> =
            run.files.iter().filter(|(_, f)| f.findings > 0).collect();
        files.sort_by(|a, b| {
            b.1.by_sev
                .cmp(&a.1.by_sev)
                .then(b.1.findings.cmp(&a.1.findings))
                .then(a.0.cmp(b.0))
        });
        let _ = writeln!(
            h,
            "<section id=\"top-files\"><h2>Top files</h2><p>{} files hold findings{}.</p>",
            files.len(),
            if files.len() > TOP_FILES {
                format!("; the {TOP_FILES} with the most severe are listed")
            } else {
                String::new()
            }
        );
        if files.is_empty() {
            h.push_str("</section>\n");
            return;
        }
        h.push_str("<table><thead><tr><th scope=\"col\">file</th><th scope=\"col\">findings</th><th scope=\"col\">high</th><th scope=\"col\">medium</th><th scope=\"col\">low</th><th scope=\"col\">kinds</th><th scope=\"col\">owner</th><th scope=\"col\">modified</th></tr></thead><tbody>\n");
        for (path, f) in files.iter().take(TOP_FILES) {
            let kinds: Vec<String> = f.kinds.iter().map(|(k, c)| format!("{k} {c}")).collect();
            let (owner, mtime) = match &f.meta {
                // The day is what matters for age; the tooltip has the rest.
                Some(m) => (principal(&m.owner), m.mtime.clone()),
                None => ("unknown".into(), "unknown".into()),
            };
            let _ = writeln!(
                h,
                "<tr><td class=\"path\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"date\" title=\"{}\">{}</td></tr>",
                esc(path),
                f.findings,
                f.by_sev[0],
                f.by_sev[1],
                f.by_sev[2],
                esc(&kinds.join(", ")),
                esc(&owner),
                esc(&mtime),
                esc(mtime.get(..10).unwrap_or(&mtime))
            );
        }
        h.push_str("</tbody></table></section>\n");
    }

    fn owners(&self, h: &mut String, run: &Run, now: SystemTime) {
        let mut by_owner: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut by_age: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
        const AGES: [&str; 5] = [
            "under 30 days",
            "30 days to 1 year",
            "1 to 3 years",
            "over 3 years",
            "unknown",
        ];
        let mut unknown = 0u64;
        for f in run.files.values().filter(|f| f.findings > 0) {
            let (owner, age) = match &f.meta {
                Some(m) => {
                    let days = parse_time(&m.mtime)
                        .and_then(|t| now.duration_since(t).ok())
                        .map(|d| d.as_secs() / 86_400);
                    let bucket = match days {
                        Some(d) if d < 30 => 0,
                        Some(d) if d < 365 => 1,
                        Some(d) if d < 3 * 365 => 2,
                        Some(_) => 3,
                        // In the future (clock skew) counts as new.
                        None => 0,
                    };
                    (
                        format!("{} / {}", principal(&m.owner), principal(&m.group)),
                        bucket,
                    )
                }
                None => {
                    unknown += 1;
                    ("unknown".to_string(), 4)
                }
            };
            let e = by_owner.entry(owner).or_default();
            e.0 += 1;
            e.1 += f.findings;
            let e = by_age.entry(age).or_default();
            e.0 += 1;
            e.1 += f.findings;
        }
        h.push_str("<section id=\"owners\"><h2>By owner and by age</h2>\n");
        if unknown > 0 {
            let _ = writeln!(
                h,
                "<p class=\"warn\">The owner and age of {unknown} files with findings are unknown: their <code>file</code> events are missing (scan with <code>--verbose</code>, or with <code>--report</code>, to record every file).</p>"
            );
        }
        h.push_str("<div class=\"two\"><table><caption>Files with findings by owner (user / group at scan time)</caption><thead><tr><th scope=\"col\">owner / group</th><th scope=\"col\">files</th><th scope=\"col\">findings</th></tr></thead><tbody>\n");
        let mut owners: Vec<_> = by_owner.into_iter().collect();
        owners.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.0.cmp(&b.0)));
        for (o, (files, n)) in owners {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"n\">{files}</td><td class=\"n\">{n}</td></tr>",
                esc(&o)
            );
        }
        h.push_str("</tbody></table>\n<table><caption>Files with findings by time since last change</caption><thead><tr><th scope=\"col\">age</th><th scope=\"col\">files</th><th scope=\"col\">findings</th></tr></thead><tbody>\n");
        for (b, (files, n)) in by_age {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"n\">{files}</td><td class=\"n\">{n}</td></tr>",
                AGES[b]
            );
        }
        h.push_str("</tbody></table></div></section>\n");
    }

    fn coverage(&self, h: &mut String, run: &Run) {
        let summary = run.summary.as_ref();
        h.push_str("<section id=\"coverage\"><h2>Coverage</h2>\n<table><caption>Files by how much of them was read</caption><thead><tr>");
        for s in STATUSES {
            let _ = write!(h, "<th scope=\"col\">{s}</th>");
        }
        h.push_str(
            "<th scope=\"col\">left out by --include/--exclude</th></tr></thead><tbody><tr>",
        );
        for s in STATUSES {
            let c = summary
                .and_then(|x| x.pointer(&format!("/files/{s}")))
                .and_then(Value::as_u64)
                .unwrap_or_else(|| run.file_status.get(s).copied().unwrap_or(0));
            let _ = write!(h, "<td class=\"n\" data-metric=\"files-{s}\">{c}</td>");
        }
        let excluded = summary
            .and_then(|x| x.get("excluded"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let _ = writeln!(
            h,
            "<td class=\"n\" data-metric=\"excluded\">{excluded}</td></tr></tbody></table>"
        );
        if run.problem_count == 0 {
            h.push_str("<p>Every file was read to the end.</p></section>\n");
            return;
        }
        let _ = writeln!(
            h,
            "<p>{} files or container members were not fully read; each is listed with the reason{}.</p>",
            run.problem_count,
            if run.problem_count as usize > run.problems.len() {
                format!(
                    " (the first {} here; all are in the events)",
                    run.problems.len()
                )
            } else {
                String::new()
            }
        );
        h.push_str("<table class=\"problems\"><thead><tr><th scope=\"col\">file</th><th scope=\"col\">member</th><th scope=\"col\">status</th><th scope=\"col\">reason</th></tr></thead><tbody>\n");
        for p in &run.problems {
            let _ = writeln!(
                h,
                "<tr data-status=\"{}\"><td class=\"path\">{}</td><td class=\"path\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.status),
                esc(&p.path),
                esc(p.member.as_deref().unwrap_or("")),
                esc(&p.status),
                esc(&p.reason)
            );
        }
        h.push_str("</tbody></table></section>\n");
    }

    fn actions(&self, h: &mut String, run: &Run) {
        h.push_str("<section id=\"actions\"><h2>Actions taken</h2>\n");
        if run.actions.is_empty() {
            h.push_str("<p>None: this scan only reported.</p></section>\n");
            return;
        }
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for a in &run.actions {
            let key = if a.dry_run {
                format!("{} (dry run)", a.action)
            } else {
                a.action.clone()
            };
            *counts.entry(key).or_default() += 1;
        }
        h.push_str("<ul class=\"cards\">");
        for (k, c) in &counts {
            let _ = write!(
                h,
                "<li class=\"card\"><span class=\"num\" data-action=\"{}\">{c}</span><span>{}</span></li>",
                esc(k),
                esc(k)
            );
        }
        h.push_str("</ul>\n<table><thead><tr><th scope=\"col\">file</th><th scope=\"col\">action</th><th scope=\"col\">why</th></tr></thead><tbody>\n");
        for a in &run.actions {
            let _ = writeln!(
                h,
                "<tr><td class=\"path\">{}</td><td>{}{}</td><td>{}</td></tr>",
                esc(&a.path),
                esc(&a.action),
                if a.dry_run { " (dry run)" } else { "" },
                esc(a.reason.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</tbody></table></section>\n");
    }

    fn trend(&self, h: &mut String, runs: &[&Run]) {
        if runs.len() < 2 {
            return;
        }
        h.push_str("<section id=\"trend\"><h2>Trend</h2>\n<p class=\"hint\">Findings per run, oldest first, stacked by severity: high at the bottom, then medium, then low; the total under each bar.</p>\n");
        let counts: Vec<[u64; 3]> = runs
            .iter()
            .map(|r| {
                let from_summary = r
                    .summary
                    .as_ref()
                    .and_then(|s| s.get("findings_by_severity"))
                    .and_then(Value::as_object);
                let mut c = [0u64; 3];
                for (i, sev) in SEVERITIES.iter().enumerate() {
                    c[i] = match from_summary {
                        Some(m) => m.get(*sev).and_then(Value::as_u64).unwrap_or(0),
                        None => r.counts.by_severity.get(*sev).copied().unwrap_or(0),
                    };
                }
                c
            })
            .collect();
        let max = counts
            .iter()
            .map(|c| c.iter().sum::<u64>())
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let (w, hh) = (960.0, 200.0);
        let bw = (w / runs.len() as f64).min(120.0);
        let _ = write!(
            h,
            "<svg class=\"trend\" viewBox=\"0 0 {w} {}\" role=\"img\" aria-labelledby=\"trend-t\"><title id=\"trend-t\">Findings per run, stacked by severity (the table below has the numbers)</title>",
            hh + 20.0
        );
        for (i, c) in counts.iter().enumerate() {
            let mut y = hh;
            for (j, n) in c.iter().enumerate() {
                let bh = *n as f64 / max * (hh - 10.0);
                y -= bh;
                let _ = write!(
                    h,
                    "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{} {}: {n}</title></rect>",
                    i as f64 * bw + 4.0,
                    bw - 8.0,
                    SEV_COLORS[j].1,
                    esc(&started(runs[i])),
                    SEVERITIES[j]
                );
            }
            let _ = write!(
                h,
                "<text x=\"{:.1}\" y=\"{}\">{}</text>",
                i as f64 * bw + 4.0,
                hh + 15.0,
                c.iter().sum::<u64>()
            );
        }
        h.push_str("</svg>\n<table><thead><tr><th scope=\"col\">started</th><th scope=\"col\">host</th><th scope=\"col\">files</th><th scope=\"col\">findings</th><th scope=\"col\">high</th><th scope=\"col\">medium</th><th scope=\"col\">low</th><th scope=\"col\">not fully read</th></tr></thead><tbody>\n");
        for (r, c) in runs.iter().zip(&counts) {
            let files = r
                .summary
                .as_ref()
                .and_then(|s| s.pointer("/files/total"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let incomplete = r
                .summary
                .as_ref()
                .map(|s| {
                    ["partial", "error"]
                        .iter()
                        .filter_map(|k| s.pointer(&format!("/files/{k}")).and_then(Value::as_u64))
                        .sum::<u64>()
                })
                .unwrap_or(r.problem_count);
            let _ = writeln!(
                h,
                "<tr data-run=\"{}\"><td>{}</td><td>{}</td><td class=\"n\">{files}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{incomplete}</td></tr>",
                esc(&r.scan_id),
                esc(&started(r)),
                esc(&r.host),
                c.iter().sum::<u64>(),
                c[0],
                c[1],
                c[2]
            );
        }
        h.push_str("</tbody></table></section>\n");
    }

    /// Renders and writes the page to `path` atomically (a temporary file
    /// beside it, then a rename), so a reader never sees half a report.
    pub fn write_to(&self, path: &Path, now: SystemTime) -> Result<(), HtmlError> {
        write_atomic(path, self.render(now).as_bytes()).map_err(|source| HtmlError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut rnd = [0u8; 6];
    let _ = getrandom::fill(&mut rnd);
    let tmp = dir.join(format!(
        ".{name}.{}.tmp",
        rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// When a run started: the summary's `started`, else its first event's time.
fn started(r: &Run) -> String {
    r.summary
        .as_ref()
        .and_then(|s| s.get("started"))
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| r.first_time.clone())
}

fn parse_time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).ok()
}

fn principal(p: &super::event::Principal) -> String {
    match &p.name {
        Some(n) => n.clone(),
        None => format!("#{}", p.id),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// `s` cut to `chars` characters, with an ellipsis when cut.
fn shorten(s: &str, chars: usize) -> String {
    if s.chars().count() > chars {
        s.chars()
            .take(chars.saturating_sub(1))
            .chain(std::iter::once('…'))
            .collect()
    } else {
        s.to_string()
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters in file names would make the document
            // invalid; show them as the replacement character.
            c if c.is_control() && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

const W: u32 = 960;
const H: u32 = 380;

/// A directory tree of the files with findings.
struct Tree {
    nodes: Vec<Node>,
}

struct Node {
    name: String,
    path: String,
    parent: Option<usize>,
    dirs: Vec<usize>,
    files: Vec<(String, FileAgg)>,
    findings: u64,
    by_sev: [u64; 3],
}

enum Item {
    Dir(usize),
    File(String, FileAgg),
    /// The smallest items past the cap, as one box: how many, their sums.
    Others(usize, FileAgg),
}

/// Boxes per treemap view, and per directory shown nested: past these the
/// smallest are summed into one "N more" box, so that the page stays a
/// reasonable size however many files hold findings.
const MAX_BOXES: usize = 150;
const MAX_NESTED: usize = 40;

impl Tree {
    /// The children of node `i` with findings, largest first; at most
    /// `max`, the rest summed into one [`Item::Others`].
    fn items(&self, i: usize, max: usize) -> Vec<(u64, Item)> {
        let node = &self.nodes[i];
        let mut items: Vec<(u64, Item)> = node
            .dirs
            .iter()
            .map(|&d| (self.nodes[d].findings, Item::Dir(d)))
            .chain(
                node.files
                    .iter()
                    .map(|(name, f)| (f.findings, Item::File(name.clone(), f.clone()))),
            )
            .filter(|(n, _)| *n > 0)
            .collect();
        items.sort_by_key(|b| std::cmp::Reverse(b.0));
        if items.len() > max {
            let rest = items.split_off(max.saturating_sub(1));
            let mut agg = FileAgg::default();
            for (n, it) in &rest {
                agg.findings += n;
                let sev = match it {
                    Item::Dir(d) => self.nodes[*d].by_sev,
                    Item::File(_, f) | Item::Others(_, f) => f.by_sev,
                };
                for (a, b) in agg.by_sev.iter_mut().zip(sev) {
                    *a += b;
                }
            }
            items.push((agg.findings, Item::Others(rest.len(), agg)));
        }
        items
    }

    fn build<'a>(files: impl Iterator<Item = (&'a str, &'a FileAgg)>) -> Tree {
        let mut t = Tree {
            nodes: vec![Node {
                name: String::new(),
                path: String::new(),
                parent: None,
                dirs: Vec::new(),
                files: Vec::new(),
                findings: 0,
                by_sev: [0; 3],
            }],
        };
        let mut by_path: HashMap<String, usize> = HashMap::new();
        let mut sorted: Vec<_> = files.collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (path, agg) in sorted {
            let mut parts: Vec<&str> = path.split('/').collect();
            let file = parts.pop().unwrap_or("").to_string();
            let mut cur = 0;
            let mut so_far = String::new();
            for (i, part) in parts.iter().enumerate() {
                // An absolute path's first component is the root itself.
                let seg = if i == 0 && part.is_empty() { "/" } else { part };
                if seg.is_empty() {
                    continue;
                }
                so_far = if so_far.is_empty() || so_far == "/" {
                    format!("{so_far}{seg}")
                } else {
                    format!("{so_far}/{seg}")
                };
                cur = match by_path.get(&so_far) {
                    Some(&n) => n,
                    None => {
                        t.nodes.push(Node {
                            name: seg.to_string(),
                            path: so_far.clone(),
                            parent: Some(cur),
                            dirs: Vec::new(),
                            files: Vec::new(),
                            findings: 0,
                            by_sev: [0; 3],
                        });
                        let n = t.nodes.len() - 1;
                        t.nodes[cur].dirs.push(n);
                        by_path.insert(so_far.clone(), n);
                        n
                    }
                };
            }
            t.nodes[cur].files.push((file, agg.clone()));
            let mut up = Some(cur);
            while let Some(n) = up {
                t.nodes[n].findings += agg.findings;
                for i in 0..3 {
                    t.nodes[n].by_sev[i] += agg.by_sev[i];
                }
                up = t.nodes[n].parent;
            }
        }
        t
    }
}

#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

/// Squarified treemap layout (Bruls, Huizing, van Wijk 2000) of `sizes`,
/// sorted largest first, into `r`; one rectangle per size, in order.
fn squarify(sizes: &[f64], r: Rect) -> Vec<Rect> {
    let total: f64 = sizes.iter().sum();
    if sizes.is_empty() || total <= 0.0 {
        return vec![
            Rect {
                x: r.x,
                y: r.y,
                w: 0.0,
                h: 0.0
            };
            sizes.len()
        ];
    }
    let scale = r.w * r.h / total;
    let areas: Vec<f64> = sizes.iter().map(|s| s * scale).collect();
    let mut out = Vec::with_capacity(sizes.len());
    let mut rest = r;
    let mut i = 0;
    while i < areas.len() {
        let side = rest.w.min(rest.h);
        let mut j = i + 1;
        while j < areas.len() && worst(&areas[i..=j], side) <= worst(&areas[i..j], side) {
            j += 1;
        }
        let row = &areas[i..j];
        let sum: f64 = row.iter().sum();
        if rest.w >= rest.h {
            // A column on the left.
            let cw = if rest.h > 0.0 { sum / rest.h } else { 0.0 };
            let mut y = rest.y;
            for a in row {
                let hh = if cw > 0.0 { a / cw } else { 0.0 };
                out.push(Rect {
                    x: rest.x,
                    y,
                    w: cw,
                    h: hh,
                });
                y += hh;
            }
            rest = Rect {
                x: rest.x + cw,
                y: rest.y,
                w: (rest.w - cw).max(0.0),
                h: rest.h,
            };
        } else {
            let rh = if rest.w > 0.0 { sum / rest.w } else { 0.0 };
            let mut x = rest.x;
            for a in row {
                let ww = if rh > 0.0 { a / rh } else { 0.0 };
                out.push(Rect {
                    x,
                    y: rest.y,
                    w: ww,
                    h: rh,
                });
                x += ww;
            }
            rest = Rect {
                x: rest.x,
                y: rest.y + rh,
                w: rest.w,
                h: (rest.h - rh).max(0.0),
            };
        }
        i = j;
    }
    out
}

/// The worst aspect ratio of a row of `areas` laid along `side`.
fn worst(areas: &[f64], side: f64) -> f64 {
    let sum: f64 = areas.iter().sum();
    let max = areas.iter().cloned().fold(f64::MIN, f64::max);
    let min = areas.iter().cloned().fold(f64::MAX, f64::min);
    if sum <= 0.0 || min <= 0.0 {
        return f64::MAX;
    }
    let s2 = side * side;
    let sum2 = sum * sum;
    (s2 * max / sum2).max(sum2 / (s2 * min))
}

const CSS: &str = r#"
:root{--fg:#1b1b1b;--muted:#555;--line:#d0d0d0;--bg:#fff;--accent:#0072B2}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg);max-width:1000px;margin:0 auto;padding:20px}
h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.25em;border-bottom:2px solid var(--accent);padding-bottom:.2em;margin-top:1.6em}
.meta,.hint,footer{color:var(--muted);font-size:.9em}
.warn{background:#fff4e0;border-left:4px solid #E69F00;padding:.5em .8em}
#js-errors{background:#fde;border:2px solid #D55E00;padding:.5em;white-space:pre-wrap}
.cards{display:flex;flex-wrap:wrap;gap:12px;padding:0;list-style:none}
.card{border:1px solid var(--line);border-radius:6px;padding:10px 16px;min-width:120px;display:flex;flex-direction:column}
.card .num{font-size:1.8em;font-weight:700;border-left:6px solid var(--accent);padding-left:8px}
table{border-collapse:collapse;width:100%;margin:.6em 0;font-size:.92em}
caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
td.date{white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.path{word-break:break-all;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.95em}
.bars td:last-child{width:45%}.bar{display:inline-block;height:12px;background:var(--accent)}
.two{display:grid;grid-template-columns:1fr 1fr;gap:20px}
svg.tm,svg.trend{width:100%;height:auto;display:block;font-size:13px}
.tm .node rect{stroke:#fff;stroke-width:1}
.tm .dir{cursor:pointer}.tm .dir:hover rect,.tm .dir:focus rect{stroke:#000;stroke-width:3}
.tm text{fill:#000;pointer-events:none}.tm text.count{font-size:12px}.tm text.small{font-size:11px}
.tm rect.inner{stroke:#fff;stroke-width:1}
.crumbs{margin:.4em 0;font-size:.95em}.crumbs a{color:var(--accent)}
.alt summary{cursor:pointer;color:var(--accent)}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
@media print{
 body{max-width:none;padding:0;font-size:11pt}
 .hint,.crumbs a{display:none}
 section{break-inside:avoid-page}
 table{break-inside:auto}tr{break-inside:avoid}
 details.alt{display:block}details.alt>*{display:block}
 a{color:inherit;text-decoration:none}
}
"#;

const JS: &str = r#"
(function(){
  var errs=document.getElementById('js-errors');
  function report(m){errs.hidden=false;errs.textContent+=m+'\n';}
  window.addEventListener('error',function(e){report('error: '+e.message);});
  function show(id){
    var views=document.querySelectorAll('.tm-view');
    for(var i=0;i<views.length;i++){views[i].hidden=(views[i].id!==id);}
  }
  // The open directory is in the address (#tm-N), so Back goes up and a
  // link can point at a directory.
  function open(id){if(location.hash!=='#'+id){location.hash=id;}else{show(id);}}
  function fromHash(){
    var id=location.hash.slice(1);
    if(/^tm-[0-9]+$/.test(id)&&document.getElementById(id)){show(id);}
  }
  window.addEventListener('hashchange',fromHash);
  var nodes=document.querySelectorAll('[data-view]');
  for(var i=0;i<nodes.length;i++){(function(n){
    n.addEventListener('click',function(e){e.preventDefault();open(n.getAttribute('data-view'));});
    n.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();open(n.getAttribute('data-view'));}});
  })(nodes[i]);}
  fromHash();
  document.body.setAttribute('data-js','ready');
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squarify_fills_the_rectangle() {
        let r = Rect {
            x: 0.0,
            y: 0.0,
            w: 600.0,
            h: 400.0,
        };
        let rects = squarify(&[6.0, 6.0, 4.0, 3.0, 2.0, 2.0, 1.0], r);
        let area: f64 = rects.iter().map(|r| r.w * r.h).sum();
        assert!((area - 240_000.0).abs() < 1.0, "{area}");
        for q in &rects {
            assert!(
                q.x >= -0.01 && q.y >= -0.01 && q.x + q.w <= 600.01 && q.y + q.h <= 400.01,
                "{q:?}"
            );
        }
    }

    fn ev(v: serde_json::Value) -> Value {
        let mut v = v;
        v["scan_id"] = "s1".into();
        v["host"] = "h<1>".into();
        v["time"] = "2026-11-29T10:00:00.000Z".into();
        v
    }

    #[test]
    fn unfinished_scan_says_so_and_lists_every_problem_and_action() {
        let mut r = Report::new();
        r.push(&ev(serde_json::json!({"type": "scan", "paths": ["/srv"]})));
        r.push(&ev(serde_json::json!({"type": "finding", "path": "/srv/a/x.csv", "kind": "card_visa", "severity": "high"})));
        r.push(&ev(serde_json::json!({"type": "file", "path": "/srv/a/x.csv", "member": null, "status": "scanned", "reason": null, "findings": 1,
            "owner": {"id": 1000, "name": null}, "group": {"id": 1000, "name": "staff"}, "mtime": "2020-01-01T00:00:00Z"})));
        r.push(&ev(serde_json::json!({"type": "file", "path": "/srv/b.zip", "member": "in.zip!s.csv", "status": "partial", "reason": "encrypted: <no key>", "findings": 0})));
        r.push(&ev(serde_json::json!({"type": "action", "path": "/srv/a/x.csv", "action": "quarantined", "dry_run": false, "reason": null})));
        let page = r.render(parse_time("2026-11-29T10:00:00Z").unwrap());
        assert!(page.contains("This scan has no summary"));
        assert!(page.contains("data-metric=\"findings\">1<"));
        assert!(page.contains("h&lt;1&gt;"), "host escaped");
        assert!(page.contains("encrypted: &lt;no key&gt;"));
        assert!(page.contains("data-action=\"quarantined\">1<"));
        assert!(
            page.contains("#1000 / staff"),
            "unnamed owner shown by number"
        );
        assert!(page.contains("over 3 years"));
        for d in ["/", "/srv", "/srv/a"] {
            assert!(page.contains(&format!("data-dir=\"{d}\"")), "{d}");
        }
    }

    #[test]
    fn a_crowded_directory_is_capped_with_one_box_for_the_rest() {
        let mut r = Report::new();
        for i in 0..(MAX_BOXES + 50) {
            r.push(&ev(serde_json::json!({"type": "finding", "path": format!("d/f{i}.txt"), "kind": "iban", "severity": "medium"})));
        }
        let page = r.render(SystemTime::now());
        assert_eq!(page.matches("class=\"node file\"").count(), MAX_BOXES - 1);
        assert!(page.contains("51 more"), "the rest in one box");
        assert!(page.contains("data-metric=\"findings\">200<"));
    }

    #[test]
    fn escapes_markup_in_names() {
        assert_eq!(
            esc("<script>a&'\"</script>"),
            "&lt;script&gt;a&amp;&#39;&quot;&lt;/script&gt;"
        );
    }
}
