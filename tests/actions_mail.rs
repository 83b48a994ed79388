//! Redaction inside gzip and mail, end to end through the binary: exact
//! bytes out (everything outside the changed parts identical), the result
//! still parses and shows the masked numbers, and no raw number is left in
//! the files, the journal or the output.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_leakhound");

const RAW: &[&str] = &[
    "4526 0181 5908 3012",
    "4526-0181-5908-3012",
    "4526018159083012",
    "4526_0181_5908_3012",
    "5478778932879219",
    "536-22-8726",
    // The base64 of the raw CSV lines and of the raw body in the mbox.
    "NTI2LTAxODEtNTkwOC0zMDEy",
    "Y2FyZCA0NTI2IDAxODEgNTkwOCAzMDEy",
];

struct Env {
    root: TempDir,
    state: TempDir,
    store: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            root: tempfile::tempdir().unwrap(),
            state: tempfile::tempdir().unwrap(),
            store: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.root.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, bytes).unwrap();
        p
    }

    fn scan(&self, extra: &[&str]) -> Vec<Value> {
        let out = Command::new(BIN)
            .env("LEAKHOUND_FINGERPRINT_KEY", "actions-test-key")
            .env("LEAKHOUND_STATE_DIR", self.state.path())
            .env_remove("LEAKHOUND_CONFIG")
            .env_remove("LEAKHOUND_FAULT")
            .timeout(Duration::from_secs(120))
            .arg("scan")
            .arg(self.root.path())
            .args(["--format", "jsonl", "--progress", "never", "-j1"])
            .arg("--quarantine-dir")
            .arg(self.store.path().join("q"))
            .args(extra)
            .output()
            .unwrap();
        assert_no_raw("scan output", &out.stdout);
        assert_no_raw("scan stderr", &out.stderr);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// No raw number in any file under the root or the state directory
    /// (the journal), whatever the file is (gzip files are searched
    /// decompressed).
    fn assert_clean(&self) {
        for dir in [self.root.path(), self.state.path()] {
            for p in walk(dir) {
                let bytes = fs::read(&p).unwrap();
                assert_no_raw(&p.display().to_string(), &bytes);
                if bytes.starts_with(&[0x1f, 0x8b]) {
                    assert_no_raw(&p.display().to_string(), &gunzip(&bytes));
                }
            }
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_no_raw(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for raw in RAW {
        assert!(!text.contains(raw), "{what} holds a raw number {raw}");
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn action_for<'a>(events: &'a [Value], file: &str) -> &'a Value {
    events
        .iter()
        .filter(|e| e["type"] == "action")
        .find(|e| e["path"].as_str().unwrap().ends_with(file))
        .unwrap_or_else(|| panic!("no action for {file}: {events:#?}"))
}

/// A message with a Subject in a Q-encoded word, a quoted-printable body
/// (one number split by a soft line break, one digit written `=38`) and a
/// base64 CSV attachment.
const EML: &str = "From: Alice <alice@example.com>\r\n\
To: Bob <bob@example.com>\r\n\
Subject: =?UTF-8?Q?Karte_4526_0181_5908_3012?=\r\n\
Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\
Message-ID: <m1@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
preamble\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Gr=C3=BC=C3=9Fe, the card is 4526 0181 =\r\n\
5908 3012 and the SSN 536-22-=38726.\r\n\
--b1\r\n\
Content-Type: text/csv; name=\"data.csv\"\r\n\
Content-Disposition: attachment; filename=\"data.csv\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
bmFtZSxjYXJkLG5vdGUNCmJvYiw1NDc4Nzc4OTMyODc5MjE5LGdvbGQgY3VzdG9tZXINCmFubiw0\r\n\
NTI2LTAxODEtNTkwOC0zMDEyLHJlbmV3YWwgZHVlDQo=\r\n\
--b1--\r\n\
epilogue\r\n";

const EML_REDACTED: &str = "From: Alice <alice@example.com>\r\n\
To: Bob <bob@example.com>\r\n\
Subject: =?UTF-8?Q?Karte_****_****_****_3012?=\r\n\
Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\
Message-ID: <m1@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
preamble\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Gr=C3=BC=C3=9Fe, the card is **** **** =\r\n\
**** 3012 and the SSN ***-**-=38726.\r\n\
--b1\r\n\
Content-Type: text/csv; name=\"data.csv\"\r\n\
Content-Disposition: attachment; filename=\"data.csv\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
bmFtZSxjYXJkLG5vdGUNCmJvYiwqKioqKioqKioqKio5MjE5LGdvbGQgY3VzdG9tZXINCmFubiwq\r\n\
KioqLSoqKiotKioqKi0zMDEyLHJlbmV3YWwgZHVlDQo=\r\n\
--b1--\r\n\
epilogue\r\n";

#[test]
fn eml_qp_body_base64_csv_and_encoded_subject_are_masked_in_place() {
    let env = Env::new();
    let p = env.write("mail/invoice.eml", EML.as_bytes());
    let events = env.scan(&["--action", "redact"]);
    let a = action_for(&events, "invoice.eml");
    assert_eq!(a["action"], "redacted", "{a}");
    assert_eq!(a["findings"], 5, "{a}");
    let after = fs::read(&p).unwrap();
    assert_eq!(String::from_utf8_lossy(&after), EML_REDACTED);
    // It still parses, and its decoded parts show the masked numbers.
    let m = mail_parser::MessageParser::default().parse(&after).unwrap();
    assert_eq!(m.subject(), Some("Karte **** **** **** 3012"));
    let body = m.body_text(0).unwrap();
    assert_eq!(
        body.trim_end(),
        "Grüße, the card is **** **** **** 3012 and the SSN ***-**-8726."
    );
    let csv = m.attachment(0).unwrap().contents();
    assert_eq!(
        csv,
        b"name,card,note\r\nbob,************9219,gold customer\r\nann,****-****-****-3012,renewal due\r\n"
    );
    env.assert_clean();
    // Nothing left beside it, and a second scan finds nothing.
    assert_eq!(fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    let again = env.scan(&["--action", "redact"]);
    assert_eq!(again.last().unwrap()["findings"], 0, "{again:#?}");
}

const MBOX: &str = "From alice@example.com Mon Jan  1 00:00:00 2024\n\
From: alice@example.com\n\
To: bob@example.com\n\
Subject: first\n\
Date: Mon, 1 Jan 2024 00:00:00 +0000\n\
Message-ID: <one@example.com>\n\
\n\
Please charge 4526 0181 5908 3012 today.\n\
>From the desk of Alice.\n\
\n\
From carol@example.com Tue Jan  2 00:00:00 2024\n\
From: carol@example.com\n\
To: bob@example.com\n\
Subject: second, SSN 536-22-8726\n\
Date: Tue, 2 Jan 2024 00:00:00 +0000\n\
Message-ID: <two@example.com>\n\
MIME-Version: 1.0\n\
Content-Type: text/plain; charset=us-ascii\n\
Content-Transfer-Encoding: base64\n\
\n\
Y2FyZCA0NTI2IDAxODEgNTkwOCAzMDEyIGluIG1lc3NhZ2UgdHdvCg==\n\
\n";

#[test]
fn mbox_every_message_is_masked_and_from_lines_kept() {
    let env = Env::new();
    let p = env.write("mail/archive.mbox", MBOX.as_bytes());
    let events = env.scan(&["--action", "redact"]);
    let a = action_for(&events, "archive.mbox");
    assert_eq!(a["action"], "redacted", "{a}");
    assert_eq!(a["findings"], 3, "{a}");
    let want = MBOX
        .replace("4526 0181 5908 3012", "**** **** **** 3012")
        .replace("536-22-8726", "***-**-8726")
        .replace(
            "Y2FyZCA0NTI2IDAxODEgNTkwOCAzMDEyIGluIG1lc3NhZ2UgdHdvCg==",
            "Y2FyZCAqKioqICoqKiogKioqKiAzMDEyIGluIG1lc3NhZ2UgdHdvCg==",
        );
    assert_eq!(String::from_utf8(fs::read(&p).unwrap()).unwrap(), want);
    env.assert_clean();
}

#[test]
fn maildir_message_with_8bit_latin1_body() {
    let env = Env::new();
    let mut msg = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\
Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        .to_vec();
    let mut body = b"Kundenkarte f\xfcr M\xfcller: 5478778932879219\r\n".to_vec();
    msg.extend_from_slice(&body);
    let p = env.write("Maildir/cur/1700000000.M1P1.host:2,S", &msg);
    let events = env.scan(&["--action", "redact"]);
    assert_eq!(action_for(&events, ":2,S")["action"], "redacted");
    let head_len = msg.len() - body.len();
    body = b"Kundenkarte f\xfcr M\xfcller: ************9219\r\n".to_vec();
    let after = fs::read(&p).unwrap();
    assert_eq!(&after[..head_len], &msg[..head_len]);
    assert_eq!(&after[head_len..], &body[..]);
    env.assert_clean();
}

#[test]
fn gzip_log_is_recompressed_with_its_header() {
    let env = Env::new();
    let log =
        "2024-01-01 paid with 4526 0181 5908 3012\n".repeat(3) + "2024-01-02 ssn=536-22-8726 ok\n";
    let mut enc = flate2::GzBuilder::new()
        .filename("app.log")
        .mtime(1_700_000_000)
        .write(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut enc, log.as_bytes()).unwrap();
    let p = env.write("logs/app.log.gz", &enc.finish().unwrap());
    let events = env.scan(&["--action", "redact"]);
    let a = action_for(&events, "app.log.gz");
    assert_eq!(a["action"], "redacted", "{a}");
    assert_eq!(a["findings"], 4, "{a}");
    let after = fs::read(&p).unwrap();
    let want = log
        .replace("4526 0181 5908 3012", "**** **** **** 3012")
        .replace("536-22-8726", "***-**-8726");
    assert_eq!(String::from_utf8(gunzip(&after)).unwrap(), want);
    let mut d = flate2::read::GzDecoder::new(&after[..]);
    d.read_to_end(&mut Vec::new()).unwrap();
    let h = d.header().unwrap();
    assert_eq!(h.filename(), Some(&b"app.log"[..]));
    assert_eq!(h.mtime(), 1_700_000_000);
    env.assert_clean();
}

#[test]
fn a_zip_attached_to_a_mail_falls_back_naming_the_attachment() {
    let env = Env::new();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("cards.csv", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, b"card,5478778932879219\n").unwrap();
    let zip = zip.finish().unwrap().into_inner();
    let b64 = {
        // The message carries the zip in base64, 76 per line.
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in zip.chunks(3) {
            let n = c.iter().fold(0u32, |a, &b| (a << 8) | b as u32) << (8 * (3 - c.len()));
            for k in 0..4 {
                s.push(if k <= c.len() {
                    A[((n >> (18 - 6 * k)) & 63) as usize] as char
                } else {
                    '='
                });
            }
        }
        s.as_bytes()
            .chunks(76)
            .map(|l| String::from_utf8(l.to_vec()).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let eml = format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: export\r\n\
Message-ID: <z@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\n\
Content-Type: application/zip\r\nContent-Disposition: attachment; filename=\"x.zip\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
    );
    let p = env.write("z.eml", eml.as_bytes());
    let events = env.scan(&["--action", "redact"]);
    let a = action_for(&events, "z.eml");
    assert_eq!(a["action"], "quarantined", "{a}");
    let reason = a["reason"].as_str().unwrap();
    assert!(reason.contains("attachment x.zip"), "{reason}");
    assert!(!p.exists());
}
