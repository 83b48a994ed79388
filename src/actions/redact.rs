//! Redaction: rewrite a text file with every match masked, atomically.
//!
//! The open file enters (a [`Target`]); the file leaves rewritten, or
//! untouched with a reason. The whole file is read into memory (up to
//! `policy.redact.max_bytes`), decoded the way the scanner decodes it
//! (UTF-8 and 8-bit text as bytes, UTF-16 with a map from decoded to
//! original offsets), scanned again with the engine, and each match is
//! replaced *in the original encoding*: digits and letters hidden by the
//! mask character, separators kept, the same number of characters. Binary
//! files and containers cannot be rewritten safely and are refused with
//! [`Refused`], so the caller can fall back.
//!
//! The rewrite is a journaled sequence: journal entry, temporary file in
//! the same directory (owner, group, mode and extended attributes copied),
//! fsync, a rescan of what was written proving no match of the redacted
//! rules is left, a read lease on the original and a check that it did not
//! change meanwhile, an exchange of the two names (undone if a writer began
//! opening the original: [`super::in_use`]), removal of the original, fsync
//! of the directory, journal entry removed. A file another process holds
//! open for writing is never replaced. No step keeps a clear-text copy
//! beyond the original itself: the temporary file holds the redacted text,
//! and the original only between the exchange and its removal.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom, Write};

use crate::config::policy::{Redact, RedactStyle};
use crate::engine::stream::{Encoding, decode_utf16_mapped, detect_encoding};
use crate::engine::{Engine, Match};
use crate::extract::{Format, Limits, SNIFF_LEN, sniff};
use crate::fingerprint::Fingerprinter;
use crate::report::event::Event;
use crate::report::event::FileStatus;
use crate::rules::{Confidence, Severity};

use super::fault;
use super::in_use::{Busy, Lease, Taken};
use super::journal::Journal;
use super::safe_fs::{self, Target};

/// What becomes of a file that was not redacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The format cannot be rewritten (binary, container, too large): the
    /// policy's fallback applies.
    FallBack,
    /// Left as it is on purpose (it changed since the scan, nothing is left
    /// to redact): the action is `skipped`.
    Skip,
    /// Another process is writing it ([`Busy`]): `skipped` now, and due
    /// again (the daemon retries it).
    InUse,
    /// The rewrite was attempted and failed (no space, a read-only file
    /// system, an immutable file, an I/O error): the action is `failed`.
    Failed,
}

/// Why a file was not redacted.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct Refused {
    pub reason: String,
    pub kind: RefusalKind,
}

/// A refusal that skips the file.
pub(super) fn skip(reason: String) -> Refused {
    Refused {
        reason,
        kind: RefusalKind::Skip,
    }
}

/// A refusal for a format that cannot be rewritten: the fallback applies.
pub(super) fn unsupported(reason: String) -> Refused {
    Refused {
        reason,
        kind: RefusalKind::FallBack,
    }
}

/// A step of the rewrite failed.
pub(super) fn failed(reason: String) -> Refused {
    Refused {
        reason,
        kind: RefusalKind::Failed,
    }
}

/// Another process writes the file; or whether one does cannot be told,
/// which needs a person (grant `CAP_LEASE`): `failed`.
fn busy(b: Busy) -> Refused {
    let kind = match b {
        Busy::Unknown(_) => RefusalKind::Failed,
        Busy::Writer { .. } | Busy::Opening => RefusalKind::InUse,
    };
    Refused {
        reason: b.to_string(),
        kind,
    }
}

/// The outcome of a successful (or dry-run) redaction.
#[derive(Debug)]
pub struct Redacted {
    pub findings: u64,
    pub rules: BTreeSet<String>,
}

/// Decoded text and, for UTF-16, the original byte offset of every decoded
/// byte (plus one entry for the end).
pub(super) struct Decoded<'a> {
    /// Borrowed for UTF-8 and 8-bit text, which the engine reads as is.
    pub(super) text: std::borrow::Cow<'a, [u8]>,
    pub(super) map: Option<Vec<usize>>,
    pub(super) encoding: Encoding,
}

fn decode(bytes: &[u8]) -> Result<Decoded<'_>, Refused> {
    // One sniffer for scan and redact (`extract::sniff`): what the scanner
    // opens as a container is never rewritten as text here.
    refuse_container(bytes)?;
    let head = &bytes[..bytes.len().min(256 * 1024)];
    let encoding = detect_encoding(head);
    match encoding {
        Encoding::Binary => Err(unsupported(
            "a binary file: cannot be rewritten safely".to_string(),
        )),
        // UTF-8 and 8-bit text: the engine reads the bytes as they are, and
        // digits are the same bytes in every ASCII-compatible encoding.
        Encoding::Utf8 { .. } => Ok(Decoded {
            text: std::borrow::Cow::Borrowed(bytes),
            map: None,
            encoding,
        }),
        Encoding::Utf16 { big_endian, bom } => {
            let start = if bom { 2 } else { 0 };
            let (text, map) = decode_utf16_mapped(&bytes[start..], big_endian, start);
            Ok(Decoded {
                text: std::borrow::Cow::Owned(text),
                map: Some(map),
                encoding,
            })
        }
    }
}

/// Digits of every script the engine reads, and ASCII letters (IBAN
/// country codes, check characters, names in track data).
fn is_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || ('\u{0660}'..='\u{0669}').contains(&c)
        || ('\u{06F0}'..='\u{06F9}').contains(&c)
}

/// The masked form of one matched text: value characters hidden but the
/// last `keep`, separators and other punctuation kept.
pub fn mask_text(matched: &str, keep: usize, mask: char) -> String {
    let n = matched.chars().filter(|&c| is_value_char(c)).count();
    let hide = n.saturating_sub(keep);
    let mut seen = 0;
    matched
        .chars()
        .map(|c| {
            if is_value_char(c) {
                seen += 1;
                if seen <= hide {
                    return mask;
                }
            }
            c
        })
        .collect()
}

/// The token form: `[CARD:ab12cd34]`, from the keyed fingerprint.
pub fn token_text(kind: &str, fingerprint: &str) -> String {
    let label = if kind.starts_with("card_") {
        "CARD".to_string()
    } else {
        kind.to_ascii_uppercase()
    };
    format!("[{label}:{}]", &fingerprint[..fingerprint.len().min(8)])
}

/// What redaction needs from its caller.
pub struct RedactCtx<'a> {
    pub engine: &'a Engine,
    pub fingerprinter: &'a Fingerprinter,
    pub options: &'a Redact,
    pub min_confidence: Confidence,
    /// Whether a match of this rule id and severity is to be redacted.
    pub wants: &'a dyn Fn(&str, Severity) -> bool,
    /// The key of the `fpe` style (without one, `fpe` masks).
    pub fpe: Option<&'a super::fpe::FpeKey>,
}

/// Computes the redacted bytes of `original`. Returns the new content and
/// what was redacted; `Ok(None)` when nothing is left to redact.
pub fn redact_bytes(
    ctx: &RedactCtx<'_>,
    original: &[u8],
) -> Result<Option<(Vec<u8>, Redacted)>, Refused> {
    // HTML (a file, a mail part) is redacted through the text it shows,
    // as the scanner reads it.
    if crate::extract::html::is_html(&original[..original.len().min(SNIFF_LEN)]) {
        return super::redact_html::redact_html(ctx, original);
    }
    // Numbers inside base64 payloads first: each payload is decoded,
    // redacted as text and encoded again (docs/actions.md), when the scan
    // decodes them (the same switch: what was found is what is redacted).
    if !ctx.engine.base64() {
        return redact_text(ctx, original);
    }
    let mut inside = Redacted {
        findings: 0,
        rules: BTreeSet::new(),
    };
    let rewritten = redact_base64(ctx, original, &mut inside)?;
    let original = rewritten.as_deref().unwrap_or(original);
    let Some((out, mut what)) = redact_text(ctx, original)? else {
        return Ok(rewritten.map(|text| (text, inside)));
    };
    what.findings += inside.findings;
    what.rules.extend(inside.rules);
    Ok(Some((out, what)))
}

/// Redacts the base64 payloads of `original` (UTF-8 text): the rewritten
/// text, or `None` when no payload held a match to redact. A UTF-16 file
/// whose payload holds one is refused (its payloads are not rewritten).
fn redact_base64(
    ctx: &RedactCtx<'_>,
    original: &[u8],
    what: &mut Redacted,
) -> Result<Option<Vec<u8>>, Refused> {
    let decoded = decode(original)?;
    let utf16 = matches!(decoded.encoding, Encoding::Utf16 { .. });
    let mut refused = None;
    let result = crate::engine::base64::rewrite_payloads(
        ctx.engine.base64_finder(),
        &decoded.text,
        &mut |payload| {
            if refused.is_some() {
                return None;
            }
            // Depth 1: the payload's own payloads are not decoded.
            match redact_text(ctx, payload) {
                Ok(Some((text, inner))) => {
                    what.findings += inner.findings;
                    what.rules.extend(inner.rules);
                    Some(text)
                }
                Ok(None) => None,
                Err(e) => {
                    refused = Some(e);
                    None
                }
            }
        },
    );
    if let Some(e) = refused {
        return Err(e);
    }
    let rewritten = result.map_err(|e| unsupported(e.to_string()))?;
    if rewritten.is_some() && utf16 {
        return Err(unsupported(
            "a base64 payload in a UTF-16 file holds a number: it cannot be rewritten in place"
                .to_string(),
        ));
    }
    Ok(rewritten)
}

/// [`redact_bytes`] without the base64 payloads: the matches of the text
/// itself.
fn redact_text(
    ctx: &RedactCtx<'_>,
    original: &[u8],
) -> Result<Option<(Vec<u8>, Redacted)>, Refused> {
    let decoded = decode(original)?;
    let mut matches: Vec<Match<'_>> = ctx
        .engine
        .find_all(&decoded.text)
        .into_iter()
        .filter(|m| m.confidence >= ctx.min_confidence && (ctx.wants)(&m.rule.id, m.severity))
        .collect();
    // `splice` needs them by position; the engine gives them rule by rule.
    matches.sort_by_key(|m| m.start);
    if matches.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(original.len());
    let mut rules = BTreeSet::new();
    let end = splice(
        &|m, text| replacement(ctx, m, text),
        &decoded,
        original,
        0..original.len(),
        &matches,
        &mut out,
        &mut rules,
    );
    out.extend_from_slice(&original[end..]);
    let findings = matches.len() as u64;
    Ok(Some((out, Redacted { findings, rules })))
}

/// The replacement of one matched text in the configured style: the one
/// function every redaction (files at rest, mail parts, gzip, the
/// streaming filter) goes through.
pub fn replacement(ctx: &RedactCtx<'_>, m: &Match<'_>, matched: &str) -> String {
    let mask = || {
        let track = m.kind.contains("track");
        let keep = if track {
            0
        } else {
            ctx.options.keep_last.min(m.value.visible_tail())
        };
        mask_text(matched, keep, ctx.options.mask_char)
    };
    match ctx.options.style {
        RedactStyle::Mask => mask(),
        RedactStyle::Token => token_text(m.kind, &ctx.fingerprinter.fingerprint(&m.value)),
        // A kind without a token scheme, or a number too short for FF1's
        // minimum domain, is masked (docs/actions.md).
        RedactStyle::Fpe => ctx
            .fpe
            .and_then(|key| {
                // A token must not be reported by any loaded rule.
                let reported = |t: &str| super::fpe::token_reported(ctx.engine, t);
                m.value.expose(|compact| {
                    key.protect_match(m.rule, m.kind, matched, compact, &reported)
                })
            })
            .unwrap_or_else(mask),
    }
}

/// Copies `original[range]` onto `out` with every match (offsets in the
/// decoded text) replaced in the original encoding, and returns where the
/// copy stopped: `range.end`, or the end of a match that runs past it.
/// Overlapping matches: the first one covers the rest.
pub(super) fn splice(
    replace: &dyn Fn(&Match<'_>, &str) -> String,
    decoded: &Decoded<'_>,
    original: &[u8],
    range: std::ops::Range<usize>,
    matches: &[Match<'_>],
    out: &mut Vec<u8>,
    rules: &mut BTreeSet<String>,
) -> usize {
    let mut at = range.start; // next original byte to copy
    let mut last_end = 0usize;
    for m in matches {
        if m.start < last_end {
            continue;
        }
        last_end = m.end;
        let matched = String::from_utf8_lossy(&decoded.text[m.start..m.end]);
        let replacement = replace(m, &matched);
        let (ostart, oend) = match &decoded.map {
            None => (m.start, m.end),
            Some(map) => (map[m.start], map[m.end]),
        };
        out.extend_from_slice(&original[at..ostart]);
        match decoded.encoding {
            Encoding::Utf16 { big_endian, .. } => {
                for u in replacement.encode_utf16() {
                    let b = if big_endian {
                        u.to_be_bytes()
                    } else {
                        u.to_le_bytes()
                    };
                    out.extend_from_slice(&b);
                }
            }
            _ => out.extend_from_slice(replacement.as_bytes()),
        }
        at = oend;
        rules.insert(m.rule.id.clone());
    }
    let end = at.max(range.end);
    out.extend_from_slice(&original[at..end]);
    end
}

/// Computes the redacted content of a whole file, by its format (sniffed
/// from the content as the scanner does): text as [`redact_bytes`], gzip
/// ([`redact_gzip`]), one mail message or an mbox (`super::mail`).
/// Containers are then scanned again in memory: a match left inside a part
/// that cannot be rewritten (a zip attached to a mail) refuses the file, so
/// the fallback applies, naming the part. Other containers are refused.
pub fn redact_content(
    ctx: &RedactCtx<'_>,
    original: &[u8],
) -> Result<Option<(Vec<u8>, Redacted)>, Refused> {
    let head = &original[..original.len().min(SNIFF_LEN)];
    let format = sniff(head);
    let result = match format {
        Format::Plain => return redact_bytes(ctx, original),
        Format::Gzip => redact_gzip(ctx, original)?,
        Format::Mail => super::mail::redact_message(ctx, original)?,
        Format::Mbox => super::mail::redact_mbox(ctx, original)?,
        // RTF is text: numbers written plainly are masked in place; one the
        // RTF reader still finds (split by formatting, in an embedded
        // object) refuses the file through the proof scan below.
        Format::Rtf => redact_bytes(ctx, original)?,
        // HTML: masked where the digits are written (`redact_html`).
        Format::Html => redact_bytes(ctx, original)?,
        other => return Err(unsupported(container_refusal(other))),
    };
    let candidate = result
        .as_ref()
        .map_or(original, |(bytes, _)| bytes.as_slice());
    prove_clean(ctx, candidate)?;
    Ok(result)
}

/// Refuses `bytes` when the extract sniffer (the scanner's) calls them a
/// container: only what the scanner reads as text is rewritten as text.
/// Mail and mbox are text the mail redactor handles part by part; a
/// message met here (a part inside a part) is masked in place.
fn refuse_container(bytes: &[u8]) -> Result<(), Refused> {
    match sniff(&bytes[..bytes.len().min(SNIFF_LEN)]) {
        Format::Plain | Format::Html | Format::Rtf | Format::Mail | Format::Mbox => Ok(()),
        other => Err(unsupported(format!(
            "{}: cannot be rewritten safely",
            container_name(other)
        ))),
    }
}

/// How refusals name a container format (the one table for both
/// refusal messages).
fn container_name(format: Format) -> &'static str {
    match format {
        Format::Zip => "a zip archive (or an Office document)",
        Format::Gzip => "gzip-compressed data",
        Format::Pdf => "a PDF document",
        Format::Cfb => "an Office document",
        Format::Tar => "a tar archive",
        Format::Png => "a PNG image",
        Format::Bzip2 => "bzip2-compressed data",
        Format::Xz => "xz-compressed data",
        Format::Zstd => "zstd-compressed data",
        _ => "a container",
    }
}

/// Why a container format is not rewritten.
fn container_refusal(format: Format) -> String {
    format!(
        "{}: findings inside it cannot be rewritten safely",
        container_name(format)
    )
}

/// The limits a proof scan runs under: whatever redaction may hold.
fn proof_limits(ctx: &RedactCtx<'_>) -> Limits {
    let d = Limits::default();
    Limits {
        max_buffer: d.max_buffer.max(ctx.options.max_bytes),
        max_expanded: d.max_expanded.max(ctx.options.max_bytes),
        ..d
    }
}

/// Scans `bytes` (a redacted container, in memory) as the scanner would:
/// any match of a redacted rule left, or a part that could not be read in
/// full, refuses the rewrite and names where.
fn prove_clean(ctx: &RedactCtx<'_>, bytes: &[u8]) -> Result<(), Refused> {
    let mut reader = bytes;
    let events = crate::scan::scan_one(
        ctx.engine,
        ctx.fingerprinter,
        "redacted copy",
        &mut reader,
        ctx.min_confidence,
        proof_limits(ctx),
    );
    check_events(ctx, &events)
}

/// The verdict of a proof scan: no match of a redacted rule, and every
/// part read to its end.
fn check_events(ctx: &RedactCtx<'_>, events: &[Event]) -> Result<(), Refused> {
    for e in events {
        match e {
            Event::Finding(f) if (ctx.wants)(&f.rule, f.severity) => {
                return Err(unsupported(match &f.member {
                    Some(m) => format!(
                        "a match inside {m} cannot be rewritten (only text parts, text \
                         attachments and headers can)"
                    ),
                    None => "a match is left after rewriting".to_string(),
                }));
            }
            Event::File(fe) if matches!(fe.status, FileStatus::Partial | FileStatus::Error) => {
                let at = fe.member.as_deref().unwrap_or("the redacted copy");
                let why = fe.reason.as_deref().unwrap_or("unreadable");
                return Err(unsupported(format!(
                    "{at} cannot be read in full, so the redaction cannot be proved: {why}"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Gzip: decompress (at most `max_bytes`), redact what is inside (text,
/// a mail message or an mbox), compress again as one gzip member with the
/// first member's file name, mtime, comment, extra field and OS, and a
/// compression level from its XFL byte.
pub fn redact_gzip(
    ctx: &RedactCtx<'_>,
    data: &[u8],
) -> Result<Option<(Vec<u8>, Redacted)>, Refused> {
    let max = ctx.options.max_bytes;
    let mut plain = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .take(max + 1)
        .read_to_end(&mut plain)
        .map_err(|e| unsupported(format!("a damaged gzip stream ({e}): cannot be rewritten")))?;
    if plain.len() as u64 > max {
        zeroize::Zeroize::zeroize(&mut plain);
        return Err(unsupported(format!(
            "gzip-compressed, expanding to more than policy.redact.max_bytes ({max} bytes): not redacted"
        )));
    }
    let inner = match sniff(&plain[..plain.len().min(SNIFF_LEN)]) {
        Format::Plain | Format::Html => redact_bytes(ctx, &plain),
        Format::Mail => super::mail::redact_message(ctx, &plain),
        Format::Mbox => super::mail::redact_mbox(ctx, &plain),
        other => Err(unsupported(format!(
            "inside gzip, {}",
            container_refusal(other)
        ))),
    };
    let inner = match inner {
        Ok(inner) => inner,
        Err(e) => {
            zeroize::Zeroize::zeroize(&mut plain);
            return Err(e);
        }
    };
    // The header is written back from the first member's, its name and
    // comment masked like text, its extra field dropped if it holds a
    // match (binary subfields cannot be masked safely); later members'
    // headers are not kept (one member is written).
    let mut first = flate2::read::GzDecoder::new(data);
    let _ = first.read(&mut [0u8; 1]);
    let mut header_what = Redacted {
        findings: 0,
        rules: BTreeSet::new(),
    };
    let mut builder = flate2::GzBuilder::new();
    if let Some(h) = first.header() {
        let wanted = |bytes: &[u8]| -> Vec<String> {
            ctx.engine
                .find_all(bytes)
                .iter()
                .filter(|m| {
                    m.confidence >= ctx.min_confidence && (ctx.wants)(&m.rule.id, m.severity)
                })
                .map(|m| m.rule.id.clone())
                .collect()
        };
        // Masked as text where it reads as text; dropped if it holds a
        // match and cannot be masked (binary bytes, the extra field).
        let mut field = |bytes: &[u8], text: bool| -> Option<Vec<u8>> {
            if text && let Ok(Some((masked, what))) = redact_bytes(ctx, bytes) {
                header_what.findings += what.findings;
                header_what.rules.extend(what.rules);
                return Some(masked);
            }
            let rules = wanted(bytes);
            if rules.is_empty() {
                return Some(bytes.to_vec());
            }
            header_what.findings += rules.len() as u64;
            header_what.rules.extend(rules);
            None
        };
        if let Some(name) = h.filename().and_then(|b| field(b, true)) {
            builder = builder.filename(name);
        }
        if let Some(comment) = h.comment().and_then(|b| field(b, true)) {
            builder = builder.comment(comment);
        }
        if let Some(extra) = h.extra().and_then(|b| field(b, false)) {
            builder = builder.extra(extra);
        }
        builder = builder
            .mtime(h.mtime())
            .operating_system(h.operating_system());
    }
    let (text, mut what) = match inner {
        Some((text, what)) => (text, what),
        None if header_what.findings > 0 => (
            std::mem::take(&mut plain),
            Redacted {
                findings: 0,
                rules: BTreeSet::new(),
            },
        ),
        None => {
            zeroize::Zeroize::zeroize(&mut plain);
            return Ok(None);
        }
    };
    zeroize::Zeroize::zeroize(&mut plain);
    what.findings += header_what.findings;
    what.rules.extend(header_what.rules);
    let level = match data.get(8) {
        Some(2) => flate2::Compression::best(),
        Some(4) => flate2::Compression::fast(),
        _ => flate2::Compression::default(),
    };
    let mut text = text;
    let mut enc = builder.write(Vec::new(), level);
    let out = enc
        .write_all(&text)
        .and_then(|()| enc.finish())
        .map_err(|e| failed(format!("cannot compress the redacted copy: {e}")));
    // When only the header held a match, `text` is the raw content.
    zeroize::Zeroize::zeroize(&mut text);
    Ok(Some((out?, what)))
}

/// Redacts the target in place. `dry_run`: decide, change nothing.
/// `Err(Refused)`: the file was not redacted, and its kind says whether
/// the fallback applies, it was skipped, another process writes it, or the
/// rewrite failed. A file another process holds open for writing is never
/// replaced (see [`super::in_use`]).
pub fn redact_file(
    ctx: &RedactCtx<'_>,
    target: &mut Target,
    journal: &Journal,
    dry_run: bool,
) -> Result<Redacted, Refused> {
    let size = target.stat.st_size as u64;
    if size > ctx.options.max_bytes {
        return Err(unsupported(format!(
            "larger than policy.redact.max_bytes ({} bytes): not redacted",
            ctx.options.max_bytes
        )));
    }
    // A writer now would make the snapshot stale at once: do not start
    // (checked again, under a lease, right before the swap).
    drop(Lease::take(&target.file, &target.stat).map_err(busy)?);
    let mut original = Vec::with_capacity(size as usize);
    target
        .file
        .seek(SeekFrom::Start(0))
        .and_then(|_| {
            (&target.file)
                .take(ctx.options.max_bytes + 1)
                .read_to_end(&mut original)
        })
        .map_err(|e| failed(format!("cannot read: {e}")))?;
    let Some((redacted, what)) = redact_content(ctx, &original)? else {
        return Err(skip(
            "no match to redact is left in the file (it changed since the scan)".to_string(),
        ));
    };
    // Overwrite our only copy of the raw text as soon as it is not needed.
    zeroize::Zeroize::zeroize(&mut original);
    if dry_run {
        return Ok(what);
    }
    target.unchanged().map_err(|e| skip(e.to_string()))?;

    let id = safe_fs::random_id(8);
    let tmp_name = format!(".leakhound-redact-{id}.tmp");
    let dir_path = safe_fs::dir_path(&target.dir);
    let entry = journal
        .begin(&id, &dir_path, &tmp_name)
        .map_err(|e| failed(format!("cannot write the action journal: {e}")))?;
    fault::point("redact:after-journal");
    let result = write_and_swap(ctx, target, &tmp_name, &redacted);
    // What is left under the temporary name (the redacted copy, after a
    // failure or an undone swap) goes; the journal entry goes only once
    // it is gone, so that recovery can try again if it cannot be removed.
    let left = match result {
        Ok(()) => Ok(()),
        Err(_) => remove_temp(target, &tmp_name),
    };
    fault::point("redact:before-journal-end");
    if left.is_ok() {
        journal.end(&entry);
    }
    result.map(|()| what)
}

fn write_and_swap(
    ctx: &RedactCtx<'_>,
    target: &Target,
    tmp_name: &str,
    redacted: &[u8],
) -> Result<(), Refused> {
    let mut tmp = safe_fs::create_new(&target.dir, tmp_name.as_ref(), 0o600)
        .map_err(|e| failed(format!("cannot create a temporary file beside it: {e}")))?;
    tmp.write_all(redacted)
        .map_err(|e| failed(format!("cannot write the redacted copy: {e}")))?;
    safe_fs::copy_metadata(&target.file, &target.stat, &tmp).map_err(|e| failed(e.to_string()))?;
    tmp.sync_all()
        .map_err(|e| failed(format!("cannot fsync the redacted copy: {e}")))?;
    fault::point("redact:after-temp");
    // Prove it on what is on disk: read the temporary file back through the
    // scanner's own read path.
    let mut check = std::fs::File::from(
        rustix::fs::openat(
            &target.dir,
            tmp_name,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| failed(format!("cannot reopen the redacted copy: {e}")))?,
    );
    let events = crate::scan::scan_one(
        ctx.engine,
        ctx.fingerprinter,
        tmp_name,
        &mut check,
        ctx.min_confidence,
        proof_limits(ctx),
    );
    if let Err(Refused { reason, .. }) = check_events(ctx, &events) {
        return Err(failed(format!(
            "the redacted copy on disk failed its proof ({reason}; a bug: please report it); \
             the original is left as it was"
        )));
    }
    fault::point("redact:after-rescan");
    // Under the lease no writer can open the file until it is dropped; a
    // writer that opened and closed it since it was read changed its size,
    // mtime or ctime.
    let lease = Lease::take(&target.file, &target.stat).map_err(busy)?;
    target.unchanged().map_err(|e| skip(e.to_string()))?;
    match &lease {
        Taken::Held(lease) => swap_under_lease(target, tmp_name, lease)?,
        Taken::Unavailable => rename_over(target, tmp_name)?,
    }
    drop(lease);
    fault::point("redact:after-rename");
    safe_fs::fsync_dir(&target.dir)
        .map_err(|e| failed(format!("renamed, but cannot fsync the directory: {e}")))?;
    Ok(())
}

/// Puts the redacted copy in place while the lease keeps writers out:
/// exchange the two names, then ask the lease whether a writer began to
/// open the original meanwhile (its `open` is blocked by the lease, so it
/// has written nothing); if one did, exchange them back, and the writer
/// goes on with the original at its path. Otherwise remove the original,
/// which the exchange left under the temporary name.
fn swap_under_lease(target: &Target, tmp_name: &str, lease: &Lease<'_>) -> Result<(), Refused> {
    use rustix::fs::{AtFlags, RenameFlags, renameat_with, unlinkat};
    if lease.broken() {
        return Err(busy(Busy::Opening));
    }
    let name = target.name.as_os_str();
    fault::point("redact:before-exchange");
    match renameat_with(
        &target.dir,
        tmp_name,
        &target.dir,
        name,
        RenameFlags::EXCHANGE,
    ) {
        Ok(()) => {}
        // A file system that cannot exchange (some network and FUSE ones):
        // a plain rename, still with no writer open.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            return rename_over(target, tmp_name);
        }
        Err(e) => {
            return Err(failed(format!(
                "cannot rename the redacted copy over it: {e}"
            )));
        }
    }
    fault::point("redact:after-exchange");
    let undo = |why: Refused| -> Result<(), Refused> {
        match renameat_with(
            &target.dir,
            tmp_name,
            &target.dir,
            name,
            RenameFlags::EXCHANGE,
        ) {
            Ok(()) => Err(why),
            // Cannot happen short of a broken file system (the same two
            // names were just exchanged): keep the redacted file.
            Err(e) => Err(failed(format!(
                "{} (and the original could not be put back: {e}; it is kept as {tmp_name} until the next run's recovery removes it)",
                why.reason
            ))),
        }
    };
    if lease.broken() {
        return undo(busy(Busy::Opening));
    }
    match unlinkat(&target.dir, tmp_name, AtFlags::empty()) {
        Ok(()) => Ok(()),
        Err(e) => undo(failed(format!(
            "cannot remove the original after the swap: {e}"
        ))),
    }
}

/// Removes the redacted copy after a failure; never the original, which
/// only a failed undo of an exchange could leave under the temporary name
/// (it is then left for the journal's recovery).
fn remove_temp(target: &Target, tmp_name: &str) -> Result<(), rustix::io::Errno> {
    use rustix::fs::{AtFlags, statat, unlinkat};
    match statat(&target.dir, tmp_name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_dev == target.stat.st_dev && st.st_ino == target.stat.st_ino => {
            return Err(rustix::io::Errno::BUSY);
        }
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        _ => {}
    }
    match unlinkat(&target.dir, tmp_name, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A plain `rename` of the redacted copy over the original.
fn rename_over(target: &Target, tmp_name: &str) -> Result<(), Refused> {
    rustix::fs::renameat(&target.dir, tmp_name, &target.dir, target.name.as_os_str())
        .map_err(|e| failed(format!("cannot rename the redacted copy over it: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_separators_and_last4() {
        assert_eq!(
            mask_text("4111 1111 1111 1111", 4, '*'),
            "**** **** **** 1111"
        );
        assert_eq!(
            mask_text("4111-1111-1111-1111", 0, '#'),
            "####-####-####-####"
        );
        assert_eq!(
            mask_text("DE89 3704 0044 0532 0130 00", 4, '*'),
            "**** **** **** **** **30 00"
        );
        // Persian digits: one mask character per digit.
        assert_eq!(mask_text("۰۰۱۲۳۴۵۶۷۸", 4, '*'), "******۵۶۷۸");
    }

    #[test]
    fn utf16_map_points_at_original_units() {
        let s = "a€b";
        let bytes: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let (text, map) = decode_utf16_mapped(&bytes, false, 2);
        assert_eq!(text, s.as_bytes());
        assert_eq!(map, vec![2, 4, 4, 4, 6, 8]);
    }

    /// Issue 19: redaction had its own UTF-16 decoder, which dropped an odd
    /// trailing byte where the scanner's decoder reads U+FFFD. One decoder
    /// now (the engine's): lone surrogates and an odd byte each become
    /// U+FFFD, mapped to where they stood.
    #[test]
    fn d19_utf16_lone_surrogates_and_odd_byte_decode_as_the_engine_does() {
        // BOM, 'a', a high surrogate before 'b', a lone low one, an odd byte.
        let bytes = [0xFF, 0xFE, b'a', 0, 0x00, 0xD8, b'b', 0, 0x00, 0xDC, 0x31];
        let d = decode(&bytes).unwrap();
        assert_eq!(&*d.text, "a\u{FFFD}b\u{FFFD}\u{FFFD}".as_bytes());
        assert_eq!(d.map.unwrap(), vec![2, 4, 4, 4, 6, 8, 8, 8, 10, 10, 10, 11]);
    }

    #[test]
    fn token_uses_fingerprint_prefix() {
        assert_eq!(token_text("card_visa", "ab12cd34ef"), "[CARD:ab12cd34]");
        assert_eq!(token_text("us_ssn", "0011223344"), "[US_SSN:00112233]");
    }
}
