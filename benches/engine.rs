//! Single-thread engine throughput over generated in-memory inputs.
//!
//! Run with `cargo bench --bench engine` (a few minutes on two cores); add a
//! filter to run part of it, e.g. `cargo bench --bench engine -- stream/`.
//!
//! Inputs (about 12 MiB each, generated deterministically by a xorshift PRNG;
//! nothing is read from or written to disk):
//!
//! - `realistic_log`: the mix of lines that `tests/corpus/gen_corpus.py
//!   --mode throughput` writes (nginx access lines, `key=value` app logs with
//!   request ids, latencies and order numbers, sshd lines with `SHA256:`
//!   keys, Java stack frames, JSON lines, batch lines with IP:port), with
//!   about two valid card / ID numbers planted per MiB.
//! - `prose`: English sentences with few digits.
//! - `binary_noise`: uniform random bytes (detected as binary by the stream
//!   layer, which then also scans the two "wide" views).
//! - `utf16_text`: the realistic log as UTF-16LE with a BOM (decoded to UTF-8
//!   by the stream layer before matching).
//!
//! Two groups:
//!
//! - `engine_scan/*`: `Engine::scan` over the whole buffer in one call, the
//!   hot path without the stream layer. Not run on `utf16_text` (the engine
//!   expects decoded text).
//! - `stream/*`: `StreamScanner::scan_bytes` with `DEFAULT_CHUNK` windows:
//!   encoding detection, window copies and overlaps, UTF-16 decoding, binary
//!   views and line/column bookkeeping for each match.
//!
//! Throughput is reported in bytes of the input as given (for `utf16_text`,
//! UTF-16 bytes, twice the UTF-8 size of its text).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use leakhound::engine::stream::{DEFAULT_CHUNK, Encoding, StreamScanner};
use leakhound::engine::{Engine, Flow};
use leakhound::rules::RuleSet;

/// Target size of each input.
const INPUT_BYTES: usize = 12 << 20;

/// Planted items per MiB of realistic log.
const PLANTED_PER_MIB: usize = 2;

/// xorshift64* : small, fast and deterministic; quality is irrelevant here.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.next_u64() as usize % items.len()]
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn hex(&mut self, out: &mut String, n: usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for _ in 0..n {
            out.push(HEX[(self.next_u64() & 15) as usize] as char);
        }
    }

    fn push_chars(&mut self, out: &mut String, alphabet: &[u8], n: usize) {
        for _ in 0..n {
            out.push(alphabet[self.next_u64() as usize % alphabet.len()] as char);
        }
    }
}

const SERVICES: &[&str] = &[
    "api",
    "auth",
    "billing",
    "payment-svc",
    "kyc",
    "worker-3",
    "gateway",
    "search",
];
const LEVELS: &[&str] = &["INFO ", "INFO ", "INFO ", "DEBUG", "WARN ", "ERROR"];
const MONTHS: &[&str] = &["Jan", "Feb", "Mar", "Apr", "May", "Jun"];

fn timestamp(r: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        r.range(1, 12),
        r.range(1, 28),
        r.range(0, 23),
        r.range(0, 59),
        r.range(0, 59),
        r.range(0, 999)
    );
}

fn ip(r: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "{}.{}.{}.{}",
        r.range(1, 254),
        r.range(1, 254),
        r.range(1, 254),
        r.range(1, 254)
    );
}

fn uuid(r: &mut Rng, out: &mut String) {
    r.hex(out, 8);
    out.push('-');
    r.hex(out, 4);
    out.push_str("-4");
    r.hex(out, 3);
    out.push('-');
    out.push(['8', '9', 'a', 'b'][(r.next_u64() & 3) as usize]);
    r.hex(out, 3);
    out.push('-');
    r.hex(out, 12);
}

/// One filler line, in the proportions of the corpus generator's log pool.
fn log_line(r: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    let svc = r.pick(SERVICES);
    let lvl = r.pick(LEVELS);
    let c = r.range(0, 99);
    if c < 22 {
        // nginx access line
        ip(r, out);
        let path = match r.range(0, 4) {
            0 => "/".to_string(),
            1 => "/index.html".to_string(),
            2 => format!("/api/v1/users/{}", r.range(1, 99_999)),
            3 => {
                let mut s = "/static/app.".to_string();
                r.hex(&mut s, 8);
                s.push_str(".js");
                s
            }
            _ => format!(
                "/search?q={}&page={}",
                r.pick(&["shoes", "faktura", "发票", "credit+card"]),
                r.range(1, 40)
            ),
        };
        let _ = write!(
            out,
            " - - [{:02}/{}/2024:{:02}:{:02}:{:02} +0000] \"GET {} HTTP/1.1\" {} {} \"-\" \
             \"Mozilla/5.0 (X11; Linux x86_64) Chrome/{}.0.{}.{}\"",
            r.range(1, 28),
            r.pick(MONTHS),
            r.range(0, 23),
            r.range(0, 59),
            r.range(0, 59),
            path,
            r.pick(&["200", "200", "200", "304", "404", "500"]),
            r.range(0, 999_999),
            r.range(100, 125),
            r.range(1000, 6999),
            r.range(10, 200)
        );
    } else if c < 40 {
        timestamp(r, out);
        let _ = write!(out, " {lvl} [{svc}] request_id=");
        uuid(r, out);
        let _ = write!(
            out,
            " latency_ms={} status={}",
            r.range(1, 3000),
            r.pick(&["200", "201", "400", "502"])
        );
    } else if c < 50 {
        timestamp(r, out);
        let _ = write!(
            out,
            " {lvl} [{svc}] retry {}/5 for order ORD-{}",
            r.range(1, 5),
            r.range(10_000_000, 99_999_999)
        );
    } else if c < 60 {
        timestamp(r, out);
        let _ = write!(
            out,
            " {lvl} [{svc}] cache hit key=user:{} ttl={} bytes={}",
            r.range(1, 9_999_999),
            r.range(1, 86_400),
            r.range(10, 99_999)
        );
    } else if c < 68 {
        let _ = write!(
            out,
            "{} {:2} {:02}:{:02}:{:02} host{} sshd[{}]: Accepted publickey for deploy from ",
            r.pick(MONTHS),
            r.range(1, 28),
            r.range(0, 23),
            r.range(0, 59),
            r.range(0, 59),
            r.range(1, 40),
            r.range(100, 65_000)
        );
        ip(r, out);
        let _ = write!(out, " port {} ssh2: ED25519 SHA256:", r.range(1024, 65_535));
        r.push_chars(
            out,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            43,
        );
    } else if c < 78 {
        let cls = r.pick(&[
            "PaymentService",
            "CardValidator",
            "UserRepository",
            "HttpClient",
        ]);
        let _ = write!(
            out,
            "\tat com.example.{}.{cls}.handle({cls}.java:{})",
            svc.replace('-', ""),
            r.range(10, 2000)
        );
    } else if c < 90 {
        out.push_str("{\"ts\": \"");
        timestamp(r, out);
        let _ = write!(
            out,
            "\", \"level\": \"{}\", \"svc\": \"{svc}\", \"msg\": \"{}\", \"trace_id\": \"",
            lvl.trim().to_ascii_lowercase(),
            r.pick(&[
                "payment authorized",
                "token refreshed",
                "user login",
                "export finished"
            ])
        );
        r.hex(out, 32);
        let _ = write!(
            out,
            "\", \"dur_ms\": {}.{:02}, \"amount\": {}.{:02}, \"last4\": \"{:04}\"}}",
            r.range(0, 899),
            r.range(0, 99),
            r.range(0, 1999),
            r.range(0, 99),
            r.range(0, 9999)
        );
    } else {
        timestamp(r, out);
        let digits = r.range(3, 8) as u32;
        let _ = write!(
            out,
            " {lvl} [{svc}] processed batch {} of {} records in {} ms from ",
            r.range(1, 10u64.pow(digits)),
            r.range(1, 999),
            r.range(1, 99_999)
        );
        ip(r, out);
        let _ = write!(out, ":{}", r.range(1024, 65_535));
    }
    out.push('\n');
}

/// Lines holding one valid number each (published test numbers and
/// checksum-valid IDs), in the formats the rules accept.
const PLANTED: &[&str] = &[
    " INFO  [billing] charge ok card=4111111111111111 amount=19.99 currency=EUR",
    " WARN  [payment-svc] retry charge pan=4111 1111 1111 1111 attempt=2",
    " INFO  [billing] card=5555-5555-5555-4444 authorized amount=250.00",
    " DEBUG [payment-svc] amex 3782 822463 10005 accepted",
    " INFO  [kyc] verified ssn=536-22-8726 for applicant",
    " INFO  [kyc] customer social 536 22 8726 on file",
    " INFO  [payout] iban=GB82 WEST 1234 5698 7654 32 status=queued",
    " INFO  [payout] account DE89370400440532013000 verified",
    " INFO  [kyc] pesel=44051401359 document checked",
];

/// About `size` bytes of log lines with a planted item every
/// `1 MiB / PLANTED_PER_MIB` bytes (jittered). Returns the text and the
/// number of planted lines.
fn realistic_log(seed: u64, size: usize) -> (String, usize) {
    let mut r = Rng::new(seed);
    let mut out = String::with_capacity(size + 1024);
    let every = (1 << 20) / PLANTED_PER_MIB;
    let mut next_plant = r.range(every as u64 / 2, every as u64) as usize;
    let mut planted = 0;
    while out.len() < size {
        if out.len() >= next_plant {
            timestamp(&mut r, &mut out);
            out.push_str(r.pick(PLANTED));
            out.push('\n');
            planted += 1;
            next_plant += r.range(every as u64 / 2, every as u64 * 3 / 2) as usize;
        }
        log_line(&mut r, &mut out);
    }
    (out, planted)
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "river",
    "morning",
    "committee",
    "report",
    "village",
    "letter",
    "winter",
    "garden",
    "market",
    "question",
    "history",
    "account",
    "customer",
    "payment",
    "window",
    "evening",
    "journey",
    "mountain",
    "problem",
    "decision",
    "government",
    "language",
    "children",
    "business",
    "company",
    "meeting",
    "quietly",
    "suddenly",
    "carefully",
    "although",
    "because",
    "however",
    "between",
    "through",
    "without",
    "against",
    "during",
    "remembered",
    "explained",
    "considered",
    "walked",
    "believed",
    "finished",
    "returned",
    "discovered",
    "understood",
    "old",
    "small",
    "bright",
    "heavy",
    "familiar",
    "difficult",
    "important",
    "ordinary",
    "careful",
    "distant",
];

/// English-looking prose: sentences in paragraphs, an occasional number.
fn prose(seed: u64, size: usize) -> String {
    use std::fmt::Write;
    let mut r = Rng::new(seed);
    let mut out = String::with_capacity(size + 1024);
    let mut line_len = 0;
    while out.len() < size {
        let words = r.range(6, 20);
        for i in 0..words {
            let w = r.pick(WORDS);
            let start = out.len();
            if i == 0 {
                let mut cs = w.chars();
                if let Some(f) = cs.next() {
                    out.extend(f.to_uppercase());
                    out.push_str(cs.as_str());
                }
            } else if r.chance(0.02) {
                let _ = match r.range(0, 2) {
                    0 => write!(out, "{}", r.range(1890, 2024)),
                    1 => write!(out, "{}", r.range(2, 99)),
                    _ => write!(out, "{}.{}", r.range(1, 20), r.range(1, 9)),
                };
            } else {
                out.push_str(w);
            }
            if i + 1 < words && r.chance(0.08) {
                out.push(',');
            }
            if i + 1 == words {
                out.push_str(r.pick(&[".", ".", ".", "?", "!", ";"]));
            }
            line_len += out.len() - start;
            // Wrap at about 72 columns; a blank line between paragraphs.
            if i + 1 == words && r.chance(0.15) {
                out.push_str("\n\n");
                line_len = 0;
            } else if line_len > 72 {
                out.push('\n');
                line_len = 0;
            } else {
                out.push(' ');
                line_len += 1;
            }
        }
    }
    out
}

fn binary_noise(seed: u64, size: usize) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(size + 8);
    while out.len() < size {
        out.extend_from_slice(&r.next_u64().to_le_bytes());
    }
    out.truncate(size);
    out
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + text.len() * 2);
    out.extend_from_slice(&[0xFF, 0xFE]);
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

struct Input {
    name: &'static str,
    bytes: Vec<u8>,
    /// Whether `Engine::scan` on the raw bytes is meaningful.
    raw_engine: bool,
    encoding: Encoding,
}

fn inputs() -> Vec<Input> {
    let (log, planted_log) = realistic_log(1, INPUT_BYTES);
    // Half the text, so the UTF-16 input is about INPUT_BYTES too.
    let (log16, planted_16) = realistic_log(2, INPUT_BYTES / 2);
    eprintln!("planted lines: realistic_log {planted_log}, utf16_text {planted_16}");
    vec![
        Input {
            name: "realistic_log",
            bytes: log.into_bytes(),
            raw_engine: true,
            encoding: Encoding::Utf8 { bom: false },
        },
        Input {
            name: "prose",
            bytes: prose(3, INPUT_BYTES).into_bytes(),
            raw_engine: true,
            encoding: Encoding::Utf8 { bom: false },
        },
        Input {
            name: "binary_noise",
            bytes: binary_noise(4, INPUT_BYTES),
            raw_engine: true,
            encoding: Encoding::Binary,
        },
        Input {
            name: "utf16_text",
            bytes: utf16le_with_bom(&log16),
            raw_engine: false,
            encoding: Encoding::Utf16 {
                big_endian: false,
                bom: true,
            },
        },
    ]
}

fn engine() -> Engine {
    Engine::new(RuleSet::builtin().expect("built-in rules compile"))
}

/// Every planted line must be found, or the log benchmark measures the
/// wrong thing.
fn check_planted(engine: &Engine) {
    for line in PLANTED {
        assert!(
            !engine.find_all(line.as_bytes()).is_empty(),
            "planted line finds nothing: {line}"
        );
    }
}

fn count_engine(engine: &Engine, buf: &[u8]) -> usize {
    let mut n = 0usize;
    let _ = engine.scan(buf, 0..buf.len(), &mut |m| {
        black_box(&m);
        n += 1;
        Flow::Continue(())
    });
    n
}

fn count_stream(engine: &Engine, buf: &[u8]) -> (usize, Encoding) {
    let mut scanner = StreamScanner::new(engine, DEFAULT_CHUNK);
    let mut n = 0usize;
    let stats = scanner.scan_bytes(buf, &mut |located| {
        black_box(&located);
        n += 1;
        Flow::Continue(())
    });
    assert_eq!(stats.bytes, buf.len() as u64);
    (n, stats.encoding)
}

fn configure<M: criterion::measurement::Measurement>(g: &mut criterion::BenchmarkGroup<'_, M>) {
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

fn benches(c: &mut Criterion) {
    let engine = engine();
    check_planted(&engine);
    let inputs = inputs();
    for input in &inputs {
        let (n, encoding) = count_stream(&engine, &input.bytes);
        assert_eq!(
            encoding, input.encoding,
            "{}: detected encoding",
            input.name
        );
        eprintln!(
            "{}: {} bytes, {} matches through the stream ({})",
            input.name,
            input.bytes.len(),
            n,
            encoding.name()
        );
    }

    let mut g = c.benchmark_group("engine_scan");
    configure(&mut g);
    for input in inputs.iter().filter(|i| i.raw_engine) {
        g.throughput(Throughput::Bytes(input.bytes.len() as u64));
        g.bench_function(input.name, |b| {
            b.iter(|| count_engine(&engine, black_box(&input.bytes)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("stream");
    configure(&mut g);
    for input in &inputs {
        g.throughput(Throughput::Bytes(input.bytes.len() as u64));
        g.bench_function(input.name, |b| {
            b.iter(|| count_stream(&engine, black_box(&input.bytes)).0)
        });
    }
    g.finish();
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
