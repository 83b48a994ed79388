//! Delivery to a real rsyslog (Debian's `rsyslog` and `rsyslog-gnutls`,
//! installed by scripts/setup.sh), started by each test on a free loopback
//! port with a private work directory, writing what it receives to a file.
//! Over TCP (octet counting) and TLS with certificates made here with the
//! `openssl` command. The system's rsyslog is never touched.
//!
//! Run one with `cargo test --test rsyslog NAME -- --nocapture`;
//! `throughput` prints events per second.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leakhound::report::Sink;
use leakhound::report::event::{Event, FindingEvent, Stamper};
use leakhound::rules::{Confidence, Severity};
use leakhound::sinks::{self, SinkConfig};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// A free loopback port (bound, then released for rsyslog to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Certificates made with openssl: a CA, a server certificate for
/// 127.0.0.1 and localhost, a client certificate.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn make(dir: &Path) -> Certs {
        let sh = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl is installed (scripts/setup.sh)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec![
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=leakhound test CA",
        ];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        sh(&ca);
        for (name, cn, usage) in [
            ("server", "localhost", "serverAuth"),
            ("client", "leakhound-client", "clientAuth"),
        ] {
            let mut req = vec!["req", "-subj"];
            let subj = format!("/CN={cn}");
            req.push(&subj);
            req.extend(ec);
            let key = format!("{name}.key");
            let csr = format!("{name}.csr");
            let pem = format!("{name}.pem");
            req.extend(["-keyout", &key, "-out", &csr]);
            sh(&req);
            let ext = format!("{name}.ext");
            std::fs::write(
                dir.join(&ext),
                format!(
                    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage={usage}\n"
                ),
            )
            .unwrap();
            sh(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &pem,
                "-extfile",
                &ext,
            ]);
        }
        Certs {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }
}

/// One rsyslogd of our own.
struct Rsyslog {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Rsyslog {
    /// TCP, or TLS when `certs` is given (client certificates required).
    fn new(certs: Option<&Certs>) -> Rsyslog {
        assert!(
            Path::new(RSYSLOGD).exists(),
            "{RSYSLOGD} is missing: run scripts/setup.sh (installs rsyslog and rsyslog-gnutls)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        let out = dir.path().join("received.log");
        let (global_tls, module) = match certs {
            Some(c) => (
                format!(
                    " defaultNetstreamDriver=\"gtls\" defaultNetstreamDriverCAFile=\"{}\" defaultNetstreamDriverCertFile=\"{}\" defaultNetstreamDriverKeyFile=\"{}\"",
                    c.path("ca.pem"),
                    c.path("server.pem"),
                    c.path("server.key")
                ),
                "module(load=\"imtcp\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"x509/certvalid\")".to_string(),
            ),
            None => (String::new(), "module(load=\"imtcp\")".to_string()),
        };
        let conf = format!(
            "global(workDirectory=\"{work}\" maxMessageSize=\"64k\"{global_tls})\n\
             {module}\n\
             input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\")\n\
             template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
             action(type=\"omfile\" file=\"{out}\" template=\"raw\")\n",
            work = work.display(),
            out = out.display(),
        );
        std::fs::write(dir.path().join("rsyslog.conf"), conf).unwrap();
        Rsyslog {
            dir,
            port,
            child: None,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let conf = self.dir.path().join("rsyslog.conf");
        let pid = self.dir.path().join("rsyslogd.pid");
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(&pid)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("rsyslogd.err")).unwrap())
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(self.addr()).is_err() {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "rsyslogd exited ({st}): {}",
                    std::fs::read_to_string(self.dir.path().join("rsyslogd.err"))
                        .unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < end,
                "rsyslogd does not listen on {}",
                self.addr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM and wait: rsyslog writes out what it has read.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }

    fn received_path(&self) -> PathBuf {
        self.dir.path().join("received.log")
    }

    /// Every line received.
    fn lines(&self) -> Vec<String> {
        match std::fs::File::open(self.received_path()) {
            Ok(f) => BufReader::new(f).lines().map_while(Result::ok).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Waits until every id in `ids` was received; returns how many times
    /// each id arrived (panics naming the missing ones after `timeout`).
    fn wait_for_ids(&self, ids: &[String], timeout: Duration) -> HashMap<String, usize> {
        let end = Instant::now() + timeout;
        loop {
            let counts = id_counts(&self.lines());
            let missing: Vec<&String> = ids.iter().filter(|i| !counts.contains_key(*i)).collect();
            if missing.is_empty() {
                return counts;
            }
            if Instant::now() > end {
                panic!(
                    "{} of {} events never arrived, e.g. {:?}",
                    missing.len(),
                    ids.len(),
                    &missing[..missing.len().min(5)]
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Event id -> times received, from the structured data of each message.
fn id_counts(lines: &[String]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for l in lines {
        if let Some(i) = l.find(" id=\"") {
            let rest = &l[i + 5..];
            let id = &rest[..rest.find('"').unwrap()];
            *m.entry(id.to_string()).or_insert(0) += 1;
        }
    }
    m
}

/// A finding with a masked value only.
fn finding(i: u64) -> Event {
    Event::Finding(FindingEvent {
        rule: "payment-card".into(),
        kind: "card_visa".into(),
        severity: Severity::High,
        confidence: Confidence::High,
        path: format!("/srv/data/file-{i}.csv"),
        member: None,
        offset: i,
        length: 16,
        line: Some(1),
        column: Some(1),
        masked: "452601******3012".into(),
        fingerprint: format!("{i:032x}"),
        test_data: false,
        data_location: None,
        location: leakhound::report::event::Location::Content,
    })
}

/// Sends `n` findings; returns their ids.
fn send(sink: &mut dyn Sink, stamper: &mut Stamper, n: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let env = stamper.stamp();
            sink.event(&env, &finding(i)).unwrap();
            env.id
        })
        .collect()
}

fn tcp_sink(addr: &str, state: &Path, opts: &str) -> Box<dyn Sink + Send> {
    let c = SinkConfig::from_spec(&format!("syslog+tcp://{addr}{opts}")).unwrap();
    sinks::build(&c, state).unwrap()
}

fn tls_sink(addr: &str, state: &Path, certs: &Certs) -> Box<dyn Sink + Send> {
    let c = SinkConfig::from_spec(&format!(
        "syslog+tls://{addr}?ca={}&cert={}&key={}",
        certs.path("ca.pem"),
        certs.path("client.pem"),
        certs.path("client.key")
    ))
    .unwrap();
    sinks::build(&c, state).unwrap()
}

fn assert_exactly(ids: &[String], counts: &HashMap<String, usize>) {
    let dups: usize = counts.values().map(|c| c - 1).sum();
    let unknown = counts.keys().filter(|k| !ids.contains(k)).count();
    assert_eq!(unknown, 0, "ids received that were never sent");
    assert_eq!(counts.len(), ids.len());
    eprintln!(
        "{} events, each received; {dups} duplicates (dropped by id)",
        ids.len()
    );
}

#[test]
fn ten_thousand_events_over_tcp_arrive_once() {
    let mut rs = Rsyslog::new(None);
    rs.start();
    let state = tempfile::tempdir().unwrap();
    let mut sink = tcp_sink(&rs.addr(), state.path(), "");
    let mut st = Stamper::new("test");
    let ids = send(sink.as_mut(), &mut st, 10_000);
    sink.finish().unwrap();
    let counts = rs.wait_for_ids(&ids, Duration::from_secs(60));
    assert_exactly(&ids, &counts);
    // A clean run has no duplicates at all.
    assert!(counts.values().all(|&c| c == 1));
    // RFC 5424 with our structured data and the event as JSON.
    let line = &rs.lines()[0];
    assert!(line.starts_with("<131>1 "), "{line}");
    assert!(line.contains("[leakhound@32473 type=\"finding\""), "{line}");
    let json: serde_json::Value =
        serde_json::from_str(&line[line.find("] {").unwrap() + 2..]).unwrap();
    assert_eq!(json["masked"], "452601******3012");
    // Everything delivered: the spool holds no pending record.
    let committed = std::fs::read_to_string(
        state
            .path()
            .join("spool")
            .join(format!("syslog-tcp-127.0.0.1-{}", rs.port))
            .join("committed"),
    )
    .unwrap();
    assert_eq!(committed.trim(), "10000");
}

#[test]
fn ten_thousand_events_over_tls_with_client_certificate() {
    let certdir = tempfile::tempdir().unwrap();
    let certs = Certs::make(certdir.path());
    let mut rs = Rsyslog::new(Some(&certs));
    rs.start();
    let state = tempfile::tempdir().unwrap();
    let mut sink = tls_sink(&rs.addr(), state.path(), &certs);
    let mut st = Stamper::new("test");
    let ids = send(sink.as_mut(), &mut st, 10_000);
    sink.finish().unwrap();
    let counts = rs.wait_for_ids(&ids, Duration::from_secs(60));
    assert_exactly(&ids, &counts);
}

#[test]
fn tls_refuses_a_collector_signed_by_another_ca() {
    let certdir = tempfile::tempdir().unwrap();
    let certs = Certs::make(certdir.path());
    let otherdir = tempfile::tempdir().unwrap();
    let other = Certs::make(otherdir.path());
    let mut rs = Rsyslog::new(Some(&certs));
    rs.start();
    let state = tempfile::tempdir().unwrap();
    // We trust `other`'s CA only: the server's certificate must be refused.
    let c = SinkConfig::from_spec(&format!(
        "syslog+tls://{}?ca={}&cert={}&key={}&flush_timeout_s=1",
        rs.addr(),
        other.path("ca.pem"),
        certs.path("client.pem"),
        certs.path("client.key")
    ))
    .unwrap();
    let mut sink = sinks::build(&c, state.path()).unwrap();
    let mut st = Stamper::new("test");
    send(sink.as_mut(), &mut st, 10);
    sink.finish().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        rs.lines().is_empty(),
        "nothing may go to an untrusted collector"
    );
    // Not delivered, so still pending in the spool for a later run.
    let committed = std::fs::read_to_string(
        state
            .path()
            .join("spool")
            .join(format!("syslog-tls-127.0.0.1-{}", rs.port))
            .join("committed"),
    )
    .unwrap_or_default();
    assert!(
        committed.trim().is_empty() || committed.trim() == "0",
        "{committed}"
    );
}

#[test]
fn collector_stopped_and_started_again_loses_nothing() {
    let mut rs = Rsyslog::new(None);
    rs.start();
    let state = tempfile::tempdir().unwrap();
    let mut sink = tcp_sink(&rs.addr(), state.path(), "?flush_timeout_s=30");
    let mut st = Stamper::new("test");
    let mut ids = send(sink.as_mut(), &mut st, 200);
    rs.wait_for_ids(&ids, Duration::from_secs(30));
    rs.stop();
    // The collector is down: these go to the spool.
    ids.extend(send(sink.as_mut(), &mut st, 1000));
    std::thread::sleep(Duration::from_millis(500));
    let during = id_counts(&rs.lines()).len();
    assert_eq!(during, 200, "nothing can arrive while rsyslog is stopped");
    rs.start();
    ids.extend(send(sink.as_mut(), &mut st, 200));
    sink.finish().unwrap();
    let counts = rs.wait_for_ids(&ids, Duration::from_secs(60));
    assert_exactly(&ids, &counts);
}

/// Writes a planted corpus; returns the raw numbers in it (each in the
/// forms it is written in and compact).
fn planted_corpus(dir: &Path) -> Vec<String> {
    let mut raw = Vec::new();
    let mut seed: u64 = 0x5eed;
    let mut text = String::from("id,name,card,ssn\n");
    for i in 0..40 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut digits: Vec<u32> = "452601".chars().map(|c| c.to_digit(10).unwrap()).collect();
        for k in 0..9 {
            digits.push(((seed >> (k * 5)) % 10) as u32);
        }
        // Luhn check digit.
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(j, &d)| {
                if j % 2 == 0 {
                    let x = d * 2;
                    if x > 9 { x - 9 } else { x }
                } else {
                    d
                }
            })
            .sum();
        digits.push((10 - sum % 10) % 10);
        let compact: String = digits
            .iter()
            .map(|d| char::from_digit(*d, 10).unwrap())
            .collect();
        let grouped = format!(
            "{} {} {} {}",
            &compact[..4],
            &compact[4..8],
            &compact[8..12],
            &compact[12..]
        );
        text.push_str(&format!("{i},Person {i},{grouped},\n"));
        raw.push(compact);
        raw.push(grouped);
    }
    text.push_str("99,Sam,,SSN 536-22-8726\n");
    raw.push("536-22-8726".into());
    raw.push("536228726".into());
    std::fs::create_dir_all(dir.join("exports")).unwrap();
    std::fs::write(dir.join("exports/customers.csv"), text).unwrap();
    raw
}

/// Every file under `dir`, recursively, with its bytes.
fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push((p, b));
            }
        }
    }
    out
}

fn assert_no_raw(raw: &[String], name: &str, bytes: &[u8]) {
    for r in raw {
        assert!(
            !bytes.windows(r.len()).any(|w| w == r.as_bytes()),
            "a raw number appears in {name}"
        );
    }
}

fn leakhound(state: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_leakhound"));
    c.env("LEAKHOUND_STATE_DIR", state)
        .env("LEAKHOUND_FINGERPRINT_KEY", "test-key-for-rsyslog-tests")
        .env_remove("LEAKHOUND_CONFIG");
    c
}

/// Ids of the JSON lines on a scan's stdout.
fn stdout_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn sigkill_while_collector_is_down_then_the_next_run_delivers_the_spool() {
    let corpus = tempfile::tempdir().unwrap();
    let raw = planted_corpus(corpus.path());
    let state = tempfile::tempdir().unwrap();
    let mut rs = Rsyslog::new(None);
    // rsyslog is not started: the port refuses connections.
    let spec = format!("syslog+tcp://{}?flush_timeout_s=120", rs.addr());
    let mut child = leakhound(state.path())
        .args([
            "scan",
            "--format",
            "jsonl",
            "--progress",
            "never",
            "--sink",
            &spec,
        ])
        .arg(corpus.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the report up to the summary: every event is spooled by then and
    // leakhound is waiting for the collector.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut stdout = String::new();
    loop {
        let mut l = String::new();
        assert!(out.read_line(&mut l).unwrap() > 0, "scan ended early");
        stdout.push_str(&l);
        if l.contains("\"type\":\"summary\"") {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    let first = stdout_ids(&stdout);
    assert!(
        first.len() > 40,
        "findings, scan start and summary: {}",
        first.len()
    );
    // The spool holds them, masked.
    for (p, b) in all_files(state.path()) {
        assert_no_raw(&raw, &p.display().to_string(), &b);
    }

    rs.start();
    let empty = tempfile::tempdir().unwrap();
    let out = leakhound(state.path())
        .args(["scan", "--format", "jsonl", "--progress", "never", "--sink"])
        .arg(format!("syslog+tcp://{}", rs.addr()))
        .arg(empty.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ids = first;
    ids.extend(stdout_ids(&String::from_utf8(out.stdout).unwrap()));
    let counts = rs.wait_for_ids(&ids, Duration::from_secs(30));
    assert_exactly(&ids, &counts);
}

#[test]
fn planted_corpus_leaves_no_raw_number_anywhere() {
    let corpus = tempfile::tempdir().unwrap();
    let raw = planted_corpus(corpus.path());
    let state = tempfile::tempdir().unwrap();
    let certdir = tempfile::tempdir().unwrap();
    let certs = Certs::make(certdir.path());
    let mut tls = Rsyslog::new(Some(&certs));
    tls.start();
    let mut tcp = Rsyslog::new(None);
    tcp.start();
    let logs = tempfile::tempdir().unwrap();
    let jsonl = logs.path().join("events.jsonl");
    let out = leakhound(state.path())
        .args(["scan", "--format", "jsonl", "--progress", "never", "-v"])
        .arg("--sink")
        .arg(format!(
            "syslog+tls://{}?ca={}&cert={}&key={}",
            tls.addr(),
            certs.path("ca.pem"),
            certs.path("client.pem"),
            certs.path("client.key")
        ))
        .arg("--sink")
        .arg(format!(
            "syslog+tcp://{}?facility=auth&app_name=dlp",
            tcp.addr()
        ))
        .arg("--sink")
        .arg(format!("jsonl:{}", jsonl.display()))
        .arg(corpus.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let ids = stdout_ids(&stdout);
    let findings = stdout.matches("\"type\":\"finding\"").count();
    assert_eq!(findings, 41, "every planted number is found");
    tls.wait_for_ids(&ids, Duration::from_secs(30));
    tcp.wait_for_ids(&ids, Duration::from_secs(30));
    // The facility and app name were applied: auth (4) * 8 + err (3).
    assert!(
        tcp.lines()
            .iter()
            .any(|l| l.starts_with("<35>1 ") && l.contains(" dlp "))
    );
    // The JSON lines file has the same events.
    let file_ids = stdout_ids(&std::fs::read_to_string(&jsonl).unwrap());
    assert_eq!(file_ids, ids);

    assert_no_raw(&raw, "stdout", stdout.as_bytes());
    assert_no_raw(&raw, "stderr", &out.stderr);
    let mut checked = 0;
    for dir in [state.path(), logs.path(), tls.dir.path(), tcp.dir.path()] {
        for (p, b) in all_files(dir) {
            assert_no_raw(&raw, &p.display().to_string(), &b);
            checked += 1;
        }
    }
    assert!(
        checked >= 6,
        "received logs, spools and the JSONL file were read"
    );
}

/// Events per second to rsyslog over TCP and TLS (printed; no assertion on
/// time). `cargo test --test rsyslog throughput -- --nocapture`.
#[test]
fn throughput() {
    let certdir = tempfile::tempdir().unwrap();
    let certs = Certs::make(certdir.path());
    for tls in [false, true] {
        let mut rs = Rsyslog::new(tls.then_some(&certs));
        rs.start();
        let state = tempfile::tempdir().unwrap();
        let mut sink = if tls {
            tls_sink(&rs.addr(), state.path(), &certs)
        } else {
            tcp_sink(&rs.addr(), state.path(), "")
        };
        let mut st = Stamper::new("test");
        let n = 20_000;
        let t = Instant::now();
        let ids = send(sink.as_mut(), &mut st, n);
        sink.finish().unwrap();
        let delivered = t.elapsed();
        rs.wait_for_ids(&ids, Duration::from_secs(120));
        let written = t.elapsed();
        eprintln!(
            "{}: {n} events delivered (sent, flushed, close acknowledged) in {:.2} s = {:.0} events/s; all in rsyslog's file after {:.2} s",
            if tls { "TLS" } else { "TCP" },
            delivered.as_secs_f64(),
            n as f64 / delivered.as_secs_f64(),
            written.as_secs_f64()
        );
    }
}

/// Waits until `path` holds `n` lines (or `timeout`); returns its lines.
fn wait_lines(path: &Path, n: usize, timeout: Duration) -> Vec<String> {
    let end = Instant::now() + timeout;
    loop {
        let lines: Vec<String> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        if lines.len() >= n || Instant::now() > end {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// rsyslog hands each message to `leakhound redact --mmexternal`, which
/// answers with it redacted: the file rsyslog writes holds only the masked
/// form. The same messages through `omprog` (leakhound's output captured
/// by rsyslog into a file) come out masked too.
#[test]
fn rsyslog_mmexternal_and_omprog_write_only_the_masked_form() {
    let mut r = Rsyslog::new(None);
    let state = r.dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let bin = env!("CARGO_BIN_EXE_leakhound");
    let work = r.dir.path().join("work");
    let out = r.received_path();
    let omprog_out = r.dir.path().join("omprog.log");
    let conf = format!(
        "global(workDirectory=\"{work}\")\n\
         module(load=\"imtcp\")\n\
         module(load=\"mmexternal\")\n\
         module(load=\"omprog\")\n\
         template(name=\"m\" type=\"string\" string=\"%msg%\\n\")\n\
         template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
         ruleset(name=\"clean\") {{\n\
           action(type=\"omprog\" binary=\"{bin} redact --state-dir {state} -\" \
                  output=\"{omprog_out}\" template=\"raw\")\n\
           action(type=\"mmexternal\" binary=\"{bin} redact --mmexternal --state-dir {state} -\" \
                  interface.input=\"msg\" forceSingleInstance=\"on\")\n\
           action(type=\"omfile\" file=\"{out}\" template=\"m\")\n\
         }}\n\
         input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\" ruleset=\"clean\")\n",
        work = work.display(),
        state = state.display(),
        out = out.display(),
        omprog_out = omprog_out.display(),
        port = r.port,
    );
    std::fs::write(r.dir.path().join("rsyslog.conf"), conf).unwrap();
    r.start();
    let mut tcp = TcpStream::connect(r.addr()).unwrap();
    let messages = [
        "<13>Nov 29 23:00:00 web shop: paid with card 4111 1111 1111 1111 ok",
        "<13>Nov 29 23:00:01 web shop: nothing to hide here",
        "<13>Nov 29 23:00:02 web shop: pesel 44051401359 and 4012888888881881",
    ];
    for m in messages {
        std::io::Write::write_all(&mut tcp, format!("{m}\n").as_bytes()).unwrap();
    }
    std::io::Write::flush(&mut tcp).unwrap();
    let lines = wait_lines(&out, 3, Duration::from_secs(30));
    let err = std::fs::read_to_string(r.dir.path().join("rsyslogd.err")).unwrap_or_default();
    assert_eq!(lines.len(), 3, "{lines:?}\n{err}");
    let all = lines.join("\n");
    assert!(all.contains("card **** **** **** 1111 ok"), "{all}");
    assert!(all.contains("nothing to hide here"), "{all}");
    assert!(
        all.contains("pesel *******1359 and ************1881"),
        "{all}"
    );
    for raw in ["4111 1111 1111 1111", "44051401359", "4012888888881881"] {
        assert!(!all.contains(raw), "raw number in rsyslog's file: {all}");
    }
    let prog = wait_lines(&omprog_out, 3, Duration::from_secs(30)).join("\n");
    assert!(prog.contains("**** **** **** 1111"), "{prog}");
    for raw in ["4111 1111 1111 1111", "44051401359", "4012888888881881"] {
        assert!(!prog.contains(raw), "raw number in omprog's output: {prog}");
    }
    r.stop();
}
