//! Criterion: the streaming redaction filter (`actions::filter`) against
//! the stream scanner on the same text, so their ratio can be read off one
//! run (issue 15 asks redaction for at least 80 % of scan throughput).
//! The binaries on the 1 GiB log: `benches/redact_throughput.sh`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use leakhound::actions::filter::{FilterOptions, redact_stream};
use leakhound::actions::redact::RedactCtx;
use leakhound::config::policy::Redact;
use leakhound::engine::stream::{DEFAULT_CHUNK, StreamScanner};
use leakhound::engine::{Engine, Flow};
use leakhound::fingerprint::{Fingerprinter, KeySource};
use leakhound::rules::{Confidence, RuleSet};

/// About `size` bytes of log lines: timestamps, IPs, ids, sizes, and a
/// card or an SSN in about one line in 500.
fn log(size: usize) -> Vec<u8> {
    let mut out = String::with_capacity(size + 256);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut i = 0u64;
    while out.len() < size {
        let r = next();
        i += 1;
        let extra = match r % 500 {
            0 => " card=4111 1111 1111 1111",
            1 => " ssn 536-22-8726",
            _ => "",
        };
        out.push_str(&format!(
            "2024-03-{:02}T{:02}:{:02}:{:02}.{:03}Z INFO [svc-{}] 10.{}.{}.{} GET /api/v1/orders/{} status=200 bytes={} took={}ms req={:016x}{extra}\n",
            1 + r % 28,
            r % 24,
            (r >> 8) % 60,
            (r >> 16) % 60,
            (r >> 24) % 1000,
            r % 7,
            (r >> 3) % 256,
            (r >> 11) % 256,
            (r >> 19) % 256,
            i,
            (r >> 5) % 100_000,
            (r >> 13) % 2000,
            r,
        ));
    }
    out.into_bytes()
}

fn benches(c: &mut Criterion) {
    let engine = Engine::new(RuleSet::builtin().expect("built-in rules"));
    let fp = Fingerprinter::with_key(&[7; 32], KeySource::Ephemeral);
    let options = Redact::default();
    let wants = |_: &str, _| true;
    let ctx = RedactCtx {
        engine: &engine,
        fingerprinter: &fp,
        options: &options,
        min_confidence: Confidence::Medium,
        wants: &wants,
        fpe: None,
    };
    let text = log(32 << 20);
    let mut g = c.benchmark_group("redact_vs_scan");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("scan_stream", |b| {
        b.iter(|| {
            let mut s = StreamScanner::new(&engine, DEFAULT_CHUNK);
            let mut n = 0usize;
            s.scan_bytes(black_box(&text), &mut |l| {
                black_box(&l);
                n += 1;
                Flow::Continue(())
            });
            n
        })
    });
    for (name, line_mode) in [("redact_block", false), ("redact_line", true)] {
        let opts = FilterOptions {
            line_mode,
            flush_after: None,
            chunk: DEFAULT_CHUNK,
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut sink = std::io::sink();
                redact_stream(
                    &ctx,
                    opts,
                    &mut black_box(&text[..]),
                    None,
                    &mut sink,
                    &mut |_, _| {},
                )
                .expect("redact")
                .redacted
            })
        });
    }
    g.finish();
}

criterion_group!(redact_benches, benches);
criterion_main!(redact_benches);
