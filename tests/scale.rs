//! Scale: the per-file path on many small files must report exactly what
//! it did file by file (every file once, its findings before its record),
//! whatever the threads and the chunk size.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const KEY: &str = "scale-tests";

/// The events of `leakhound scan --format jsonl ARGS`, which must exit 0 or 1.
fn scan(args: &[&str], state: &Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .args([
            "scan",
            "--format",
            "jsonl",
            "--progress",
            "never",
            "--verbose",
        ])
        .args(args)
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", state)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "scan {args:?} exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A finding or a file record without what differs from run to run.
fn key(e: &Value) -> String {
    let mut e = e.clone();
    if let Some(o) = e.as_object_mut() {
        for volatile in ["id", "time", "scan_id", "host", "seq"] {
            o.remove(volatile);
        }
    }
    e.to_string()
}

/// Findings and file records, sorted, and the summary's file counts.
fn outcome(events: &[Value]) -> (Vec<String>, Value) {
    let mut rows: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "finding" || e["type"] == "file")
        .map(key)
        .collect();
    rows.sort();
    let summary = events
        .iter()
        .find(|e| e["type"] == "summary")
        .expect("a summary");
    (rows, summary["files"].clone())
}

/// Asserts two sorted lists of events are equal, showing the first
/// difference only.
fn same(got: &[String], want: &[String], what: &str) {
    let first = got.iter().zip(want).find(|(g, w)| g != w);
    assert!(
        got.len() == want.len() && first.is_none(),
        "{what}: {} events, want {}; first difference: {first:#?}",
        got.len(),
        want.len()
    );
}

/// A tree of many small files of every shape the per-file path tells
/// apart: empty, one byte, whole in one chunk, one byte more than a chunk,
/// a container, with and without findings, and names with numbers.
fn small_tree(dir: &Path, files: usize, chunk: usize) {
    use std::io::Write;
    for i in 0..files {
        let sub = dir.join(format!("d{:02}", i % 17));
        std::fs::create_dir_all(&sub).unwrap();
        let mut body = format!("row {i} nothing to see\n").repeat(i % 40);
        if i % 7 == 0 {
            body.push_str("card 5500 0000 0000 0004 on file\n");
        }
        std::fs::write(sub.join(format!("f{i}.txt")), body).unwrap();
    }
    std::fs::write(dir.join("empty"), "").unwrap();
    std::fs::write(dir.join("one"), "4").unwrap();
    for (name, len) in [("exact", chunk), ("over", chunk + 1), ("under", chunk - 1)] {
        let mut body = vec![b'x'; len];
        let card = b" 4526 0181 5908 3012 ";
        let at = len - card.len();
        body[at..].copy_from_slice(card);
        std::fs::write(dir.join(name), body).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"zipped 536-22-8726 ssn\n").unwrap();
    std::fs::write(dir.join("z.txt.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(dir.join("4526018159083012.txt"), "a number in the name\n").unwrap();
}

#[test]
fn p1_batched_small_files_report_every_file_once_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let chunk = 8192;
    small_tree(dir.path(), 600, chunk);
    let root = dir.path().to_str().unwrap();
    let chunk_arg = chunk.to_string();
    let one = scan(&["-j1", "--chunk-size", &chunk_arg, root], state.path());
    let (rows, files) = outcome(&one);
    // Every file has exactly one record of its own, after its findings.
    let mut records: BTreeMap<String, usize> = BTreeMap::new();
    let mut seen_record = std::collections::HashSet::new();
    for e in &one {
        let path = e["path"].as_str().unwrap_or_default().to_string();
        if e["type"] == "file" && e["member"].is_null() {
            *records.entry(path.clone()).or_default() += 1;
            seen_record.insert(path);
        } else if e["type"] == "finding" {
            assert!(
                !seen_record.contains(&path),
                "a finding after its file's record: {e}"
            );
        }
    }
    assert_eq!(records.len(), 600 + 7, "{files}");
    assert!(records.values().all(|&n| n == 1), "{records:?}");
    assert_eq!(files["scanned"], 607, "{files}");
    let findings: Vec<&Value> = one.iter().filter(|e| e["type"] == "finding").collect();
    // 86 small files with a card, exact/over/under, the gzip member, the name.
    assert_eq!(findings.len(), 86 + 3 + 1 + 1, "{findings:#?}");
    for name in ["exact", "over", "under"] {
        let f = findings
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("no finding in {name}"));
        assert_eq!(
            f["offset"],
            (if name == "exact" {
                chunk
            } else if name == "over" {
                chunk + 1
            } else {
                chunk - 1
            }) - 20
        );
    }
    // The gzip file is sniffed from the bytes read and opened.
    assert!(
        findings
            .iter()
            .any(|f| f["path"].as_str().unwrap().ends_with("z.txt.gz") && f["kind"] == "us_ssn"),
        "{findings:#?}"
    );
    assert!(findings.iter().any(|f| f["location"] == "name"));
    // The same with more threads, and with the default chunk (every file
    // read whole).
    for args in [
        vec!["-j2", "--chunk-size", &chunk_arg, root],
        vec!["-j4", "--chunk-size", &chunk_arg, root],
    ] {
        let (r, f) = outcome(&scan(&args, state.path()));
        same(&r, &rows, &format!("{args:?}"));
        assert_eq!(f, files, "{args:?}");
    }
    let (r, _) = outcome(&scan(&["-j3", root], state.path()));
    same(&r, &rows, "default chunk");
}

/// `scan --cache FILE` with `args`: the events and what the cache said.
fn scan_cached(args: &[&str], state: &Path) -> (Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .args([
            "scan",
            "--format",
            "jsonl",
            "--progress",
            "never",
            "--verbose",
        ])
        .args(args)
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", state)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let events = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (events, stderr)
}

/// (unchanged, copies, scanned) from the line `scan --cache` ends with.
fn counts(stderr: &str) -> (usize, usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("leakhound: cache: "))
        .unwrap_or_else(|| panic!("no cache line: {stderr}"));
    let n: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    (n[0], n[1], n[2])
}

#[test]
fn p2_cache_rescan_reads_nothing_unchanged_and_reports_every_finding() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    small_tree(&tree, 300, 8192);
    // Three copies of one content: scanned once.
    for copy in ["copy1", "copy2", "copy3"] {
        std::fs::write(tree.join(copy), "backup: card 4526 0181 5908 3012\n").unwrap();
    }
    let cache = dir.path().join("cache.db");
    let cache_arg = cache.to_str().unwrap();
    let root = tree.to_str().unwrap();
    let files = 300 + 7 + 3;
    let (plain, _) = scan_cached(&["-j2", root], state.path());
    let (first, err1) = scan_cached(&["-j2", "--cache", cache_arg, root], state.path());
    same(&outcome(&first).0, &outcome(&plain).0, "first cached run");
    // The tree has empty files too, all one content.
    let (unchanged, copies, scanned) = counts(&err1);
    assert_eq!((unchanged, copies + scanned), (0, files), "{err1}");
    assert!(copies >= 2, "{err1}");
    let (second, err2) = scan_cached(&["-j1", "--cache", cache_arg, root], state.path());
    same(&outcome(&second).0, &outcome(&plain).0, "second cached run");
    assert_eq!(outcome(&second).1, outcome(&plain).1);
    assert_eq!(counts(&err2), (files, 0, 0), "{err2}");
    // One file changes (same size: its ctime and mtime move), one is
    // appended to: those two are read again, and their new findings shown.
    std::fs::write(tree.join("d00/f0.txt"), "card 4526 0181 5908 3013 gone\n").unwrap();
    std::fs::write(
        tree.join("d01/f1.txt"),
        "row 1 nothing to see\nssn 536-22-8726\n",
    )
    .unwrap();
    let (third, err3) = scan_cached(&["-j2", "--cache", cache_arg, root], state.path());
    let (fresh, _) = scan_cached(&["-j2", root], state.path());
    same(&outcome(&third).0, &outcome(&fresh).0, "after a change");
    assert_eq!(counts(&err3), (files - 2, 0, 2), "{err3}");
    // The cache holds masked values only.
    let db = std::fs::read(&cache).unwrap();
    for raw in [
        &b"4526018159083012"[..],
        b"4526 0181 5908 3012",
        b"536-22-8726",
    ] {
        assert!(
            !db.windows(raw.len()).any(|w| w == raw),
            "raw value in the cache"
        );
    }
}

/// The names of the files opened in `dir` from when `watch` was made, as
/// real inotify (`IN_OPEN`) saw them; opens of directories are left out.
fn opened_in(watch: &rustix::fd::OwnedFd) -> Vec<String> {
    use rustix::fs::inotify::{ReadFlags, Reader};
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
    let mut reader = Reader::new(watch, &mut buf);
    let mut names = Vec::new();
    loop {
        match reader.next() {
            Ok(ev) => {
                assert!(
                    !ev.events().contains(ReadFlags::QUEUE_OVERFLOW),
                    "inotify queue overflowed: the test cannot tell"
                );
                if ev.events().contains(ReadFlags::OPEN)
                    && !ev.events().contains(ReadFlags::ISDIR)
                    && let Some(name) = ev.file_name()
                {
                    names.push(name.to_string_lossy().into_owned());
                }
            }
            Err(rustix::io::Errno::AGAIN) => break,
            Err(e) => panic!("reading inotify: {e}"),
        }
    }
    names.sort();
    names
}

/// Issue 17: a `--cache` re-scan opened and `fstat`ed every file before
/// the cache was asked (21 % of a re-scan was `open`). Now a file is asked
/// of the cache from a `stat` by path: real inotify watching the directory
/// sees no `open` of an unchanged file, and sees the changed one opened
/// (so the watch would have seen the others), at one thread and at three.
#[test]
fn d17_cached_rescan_opens_no_unchanged_file() {
    use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let sub = tree.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    for i in 0..40 {
        let body = if i % 5 == 0 {
            format!("row {i}: card 5500 0000 0000 0004\n")
        } else {
            format!("row {i}: nothing\n")
        };
        std::fs::write(sub.join(format!("f{i:02}.txt")), body).unwrap();
    }
    let cache = dir.path().join("cache.db");
    let cache_arg = cache.to_str().unwrap();
    let root = tree.to_str().unwrap();
    let (_, err) = scan_cached(&["-j1", "--cache", cache_arg, root], state.path());
    assert_eq!(counts(&err), (0, 0, 40), "{err}");
    for (round, threads) in ["-j1", "-j3"].into_iter().enumerate() {
        // A new inode, as an editor saving it makes.
        let changed = sub.join("f07.txt");
        std::fs::remove_file(&changed).unwrap();
        std::fs::write(
            &changed,
            format!("round {round}: card 4526 0181 5908 3012\n"),
        )
        .unwrap();
        let watch = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).unwrap();
        inotify::add_watch(&watch, &sub, WatchFlags::OPEN).unwrap();
        let (events, err) = scan_cached(&[threads, "--cache", cache_arg, root], state.path());
        assert_eq!(counts(&err), (39, 0, 1), "{threads}: {err}");
        // The changed file is opened (its MAC and its scan share one
        // `open`). A file with findings, changed or not, is opened once
        // more after its scan by the policy stage, which reads the line of
        // each finding (inline allow comments, data locations): a cost of
        // files with findings, not of the cache. No other file is opened.
        let with_findings: Vec<String> = (0..40)
            .filter(|i| i % 5 == 0)
            .map(|i| format!("f{i:02}.txt"))
            .collect();
        let opened = opened_in(&watch);
        assert!(
            opened.iter().any(|n| n == "f07.txt"),
            "{threads}: the changed file was not seen opened: {opened:?}"
        );
        for name in &opened {
            let times = opened.iter().filter(|n| *n == name).count();
            assert!(
                name == "f07.txt" || (with_findings.contains(name) && times == 1),
                "{threads}: unchanged {name} opened {times} times (all: {opened:?})"
            );
        }
        let (plain, _) = scan_cached(&[threads, root], state.path());
        same(&outcome(&events).0, &outcome(&plain).0, threads);
    }
}

/// A `--cache` re-scan of `root` with `threads`: asserts it reports what a
/// scan without the cache reports, and returns its events and its
/// (unchanged, copies, scanned) counts.
fn rescan_equals_plain(
    threads: &str,
    cache: &Path,
    root: &Path,
    state: &Path,
) -> (Vec<Value>, (usize, usize, usize)) {
    let (cached, err) = scan_cached(
        &[
            threads,
            "--cache",
            cache.to_str().unwrap(),
            root.to_str().unwrap(),
        ],
        state,
    );
    let (plain, _) = scan_cached(&[threads, root.to_str().unwrap()], state);
    same(&outcome(&cached).0, &outcome(&plain).0, threads);
    assert_eq!(outcome(&cached).1, outcome(&plain).1, "{threads}: summary");
    (cached, counts(&err))
}

/// The masked values of the findings of `events` in the file `name` (its
/// last path component).
fn masked_in(events: &[Value], name: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| {
            e["type"] == "finding"
                && e["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(&format!("/{name}")))
        })
        .map(|e| e["masked"].as_str().unwrap().to_string())
        .collect()
}

/// Issue 17, the re-scan's per-file path (files asked relative to their
/// directory, kept events replayed without being rebuilt): a file whose
/// content changed but whose size and mtime were put back (only its ctime
/// moved, which `touch` cannot set back) is read again, and its new
/// finding reported, not the kept one.
#[test]
fn d17_a_rewrite_with_the_same_size_and_mtime_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    for i in 0..20 {
        std::fs::write(
            tree.join(format!("sub/f{i:02}.txt")),
            format!("row {i}: nothing\n"),
        )
        .unwrap();
    }
    let target = tree.join("sub/f03.txt");
    std::fs::write(&target, "card 4526 0181 5908 3012 here\n").unwrap();
    let cache = dir.path().join("cache.db");
    let (first, n) = rescan_equals_plain("-j1", &cache, &tree, state.path());
    assert_eq!(n, (0, 0, 20));
    assert_eq!(masked_in(&first, "f03.txt").len(), 1);
    let mtime = std::fs::metadata(&target).unwrap().modified().unwrap();
    // Same length, another card; the mtime put back, written through the
    // same inode.
    std::fs::write(&target, "card 4916 3385 2071 9468 here\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&target)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(
        std::fs::metadata(&target).unwrap().modified().unwrap(),
        mtime
    );
    for threads in ["-j1", "-j2"] {
        let (again, n) = rescan_equals_plain(threads, &cache, &tree, state.path());
        let masked = masked_in(&again, "f03.txt");
        assert_eq!(masked.len(), 1, "{threads}: {masked:?}");
        assert!(
            masked[0].starts_with("491633"),
            "{threads}: the kept finding: {masked:?}"
        );
        // Read once (-j1), then unchanged under its new ctime (-j2).
        let want = if threads == "-j1" {
            (19, 0, 1)
        } else {
            (20, 0, 0)
        };
        assert_eq!(n, want, "{threads}");
    }
}

/// A renamed file (its inode kept, its ctime moved) is reported under its
/// new name only, with its findings, and its content is not scanned again
/// (a copy of content the cache holds); a file replaced by a symbolic link
/// to a file with findings is reported as a link, not followed, and not
/// served from the row of the file it replaced.
#[test]
fn d17_a_renamed_file_and_a_file_replaced_by_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    for i in 0..20 {
        let body = if i % 4 == 0 {
            format!("row {i}: card 4916 3385 2071 9468\n")
        } else {
            format!("row {i}: nothing\n")
        };
        std::fs::write(tree.join(format!("sub/f{i:02}.txt")), body).unwrap();
    }
    let outside = dir.path().join("outside.txt");
    std::fs::write(&outside, "card 4526 0181 5908 3012 outside the tree\n").unwrap();
    let cache = dir.path().join("cache.db");
    let (_, n) = rescan_equals_plain("-j1", &cache, &tree, state.path());
    assert_eq!(n, (0, 0, 20));
    std::fs::rename(tree.join("sub/f04.txt"), tree.join("sub/g04.txt")).unwrap();
    std::fs::remove_file(tree.join("sub/f05.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, tree.join("sub/f05.txt")).unwrap();
    let (again, n) = rescan_equals_plain("-j1", &cache, &tree, state.path());
    assert_eq!(masked_in(&again, "g04.txt").len(), 1);
    assert!(masked_in(&again, "f04.txt").is_empty());
    assert!(masked_in(&again, "f05.txt").is_empty());
    let link = again
        .iter()
        .find(|e| e["type"] == "file" && e["path"].as_str().unwrap().ends_with("/f05.txt"))
        .expect("a record of the link");
    assert_eq!(link["status"], "skipped", "{link}");
    // 18 unchanged; the renamed one is a copy of kept content (or, where
    // a rename leaves the ctime alone, unchanged); the link is not a file
    // the cache answers.
    assert_eq!(n.0 + n.1, 19, "{n:?}");
    assert_eq!(n.2, 0, "{n:?}");
}

/// A directory replaced between two runs by another one holding the same
/// names (new inodes, the same sizes): its files are read again and their
/// new findings reported, never the kept ones of the names they replaced.
#[test]
fn d17_a_replaced_directory_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let write = |sub: &Path, card: &str| {
        std::fs::create_dir_all(sub).unwrap();
        for i in 0..10 {
            std::fs::write(
                sub.join(format!("f{i}.txt")),
                format!("row {i}: card {card}\n"),
            )
            .unwrap();
        }
    };
    write(&tree.join("a/sub"), "4916 3385 2071 9468");
    write(&tree.join("b"), "4916 3385 2071 9468");
    let cache = dir.path().join("cache.db");
    let (_, n) = rescan_equals_plain("-j1", &cache, &tree, state.path());
    assert_eq!(n, (0, 10, 10));
    let new = dir.path().join("new");
    write(&new, "4526 0181 5908 3012");
    std::fs::rename(tree.join("a/sub"), dir.path().join("old")).unwrap();
    std::fs::rename(&new, tree.join("a/sub")).unwrap();
    let (again, n) = rescan_equals_plain("-j1", &cache, &tree, state.path());
    for i in 0..10 {
        let masked = masked_in(&again, &format!("f{i}.txt"));
        // f{i}.txt in a/sub (new card) and in b (old card).
        assert_eq!(masked.len(), 2, "{masked:?}");
        assert!(masked.iter().any(|m| m.starts_with("452601")), "{masked:?}");
    }
    assert_eq!(n, (10, 0, 10));
}

/// Runs `leakhound merge REPORTS -o OUT` and returns the merged events.
fn merge(reports: &[std::path::PathBuf], out: &Path) -> Vec<Value> {
    let run = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .arg("merge")
        .args(reports)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "merge: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Shards run as separate processes over one tree, merged, against one run.
fn shards_equal_one_run(files: &[(String, bool)], n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    for (rel, card) in files {
        let path = tree.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let body = if *card {
            format!("{rel}: card 5500 0000 0000 0004\n")
        } else {
            format!("{rel}: nothing\n")
        };
        std::fs::write(&path, body).unwrap();
    }
    let root = tree.to_str().unwrap();
    let one = scan(&["-j2", root], state.path());
    let mut reports = Vec::new();
    for k in 0..n {
        let out = dir.path().join(format!("shard{k}.jsonl"));
        let shard = format!("{k}/{n}");
        scan(
            &["-j1", "--shard", &shard, "-o", out.to_str().unwrap(), root],
            state.path(),
        );
        reports.push(out);
    }
    // The first report twice: its events are dropped the second time.
    reports.push(reports[0].clone());
    let merged = merge(&reports, &dir.path().join("all.jsonl"));
    let (want, want_files) = outcome(&one);
    let (got, got_files) = outcome(&merged);
    same(&got, &want, &format!("{n} shards"));
    // The summary counts every file once (the repeated report is not
    // counted twice in the events; its summary is, so compare totals of
    // the shards themselves).
    let summaries: Vec<&Value> = merged.iter().filter(|e| e["type"] == "summary").collect();
    assert_eq!(summaries.len(), 1);
    let _ = (want_files, got_files);
    let unique = merge(&reports[..n as usize], &dir.path().join("unique.jsonl"));
    let (_, files) = outcome(&unique);
    assert_eq!(files, outcome(&one).1, "merged summary of {n} shards");
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 6,
        ..proptest::test_runner::Config::default()
    })]

    #[test]
    fn p3_shards_as_processes_give_the_union_of_one_run(
        files in proptest::collection::btree_map(
            "[a-c]{1,2}(/[a-c]{1,2}){0,2}/[a-z0-9]{1,6}\\.txt",
            proptest::bool::ANY,
            1..40,
        ),
        n in 1u64..5,
    ) {
        let files: Vec<(String, bool)> = files.into_iter().collect();
        // A path that is both a file and a directory prefix cannot exist.
        let names: std::collections::BTreeSet<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        let clash = files.iter().any(|(p, _)| names.iter().any(|q| q.starts_with(&format!("{p}/"))));
        proptest::prop_assume!(!clash);
        shards_equal_one_run(&files, n);
    }
}

#[test]
fn p3_a_bad_shard_is_refused_with_what_to_give() {
    let out = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .args(["scan", "--shard", "4/4", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0 <= K < N"), "{err}");
}

/// A real Slurm (slurmctld + slurmd on this machine, started by
/// tests/slurm_array.sh) runs `scan --shard $SLURM_ARRAY_TASK_ID/N` as a job
/// array and a dependent merge job (examples/slurm/); the merged report
/// must equal a single run. Skipped when Slurm is not installed, except
/// with CI=true, where it fails (scripts/setup.sh installs it).
#[test]
fn p4_a_slurm_job_array_and_merge_job_equal_one_run() {
    let have = ["slurmctld", "slurmd", "munged", "sbatch"].iter().all(|t| {
        Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !have {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Slurm is not installed (scripts/setup.sh installs slurm-wlm); CI must run this test"
        );
        eprintln!("skipped: Slurm is not installed (apt-get install slurm-wlm)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let tree = dir.path().join("share");
    small_tree(&tree, 200, 8192);
    let out = dir.path().join("reports");
    let run = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/slurm_array.sh"))
        .arg(env!("CARGO_BIN_EXE_leakhound"))
        .arg("3")
        .arg(&tree)
        .arg(&out)
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", state.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "slurm_array.sh: {}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let merged: Vec<Value> = std::fs::read_to_string(out.join("all.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The shards ran without --verbose: compare with a run without it.
    let out1 = Command::new(env!("CARGO_BIN_EXE_leakhound"))
        .args(["scan", "--format", "jsonl", "--progress", "never", "-j2"])
        .arg(&tree)
        .env("LEAKHOUND_FINGERPRINT_KEY", KEY)
        .env("LEAKHOUND_STATE_DIR", state.path())
        .output()
        .unwrap();
    let one: Vec<Value> = String::from_utf8(out1.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (want, want_files) = outcome(&one);
    let (got, got_files) = outcome(&merged);
    assert!(!want.is_empty());
    same(&got, &want, "slurm job array");
    assert_eq!(got_files, want_files);
    let findings =
        |evs: &[Value]| evs.iter().find(|e| e["type"] == "summary").unwrap()["findings"].clone();
    assert_eq!(findings(&merged), findings(&one));
}
