//! Redaction of HTML in place: every match the scanner finds in the text a
//! person sees ([`crate::extract::html`]) is masked where it is written.
//!
//! The document enters whole (a file, a decoded mail part); the rewritten
//! bytes leave. Each character of a match is traced back through the view's
//! map to the bytes that wrote it: a digit written plainly is replaced by
//! the mask character, one written as a reference (`&#52;`) is replaced
//! whole by it, separators (`&nbsp;`, spaces) are kept as written, and the
//! tags between the digits (`4539 <b>1488</b>`) are never touched, so the
//! file stays the same HTML with the same structure. A replacement of
//! another length (the `token` style) is written where the first character
//! of the match was, and the match's other characters are removed, tags
//! still kept. A mask character that means something in HTML (`<`, `&`,
//! quotes) is written as a numeric reference.

use std::collections::BTreeSet;
use std::ops::Range;

use super::redact::{RedactCtx, Redacted, Refused, replacement, unsupported};
use crate::engine::Match;
use crate::engine::stream::{Encoding, detect_encoding};
use crate::extract::html::{self, Source};

/// Computes the redacted bytes of the HTML document `original`; `Ok(None)`
/// when nothing is to be redacted.
pub fn redact_html(
    ctx: &RedactCtx<'_>,
    original: &[u8],
) -> Result<Option<(Vec<u8>, Redacted)>, Refused> {
    if original.len() >= u32::MAX as usize {
        return Err(unsupported(
            "an HTML document of 4 GiB or more: cannot be rewritten".to_string(),
        ));
    }
    if detect_encoding(&original[..original.len().min(256 * 1024)]) == Encoding::Binary {
        return Err(unsupported(
            "HTML holding binary data: cannot be rewritten safely".to_string(),
        ));
    }
    let view = html::view(original);
    let matches: Vec<Match<'_>> = ctx
        .engine
        .find_all(&view.text)
        .into_iter()
        .filter(|m| m.confidence >= ctx.min_confidence && (ctx.wants)(&m.rule.id, m.severity))
        .collect();
    if matches.is_empty() {
        return Ok(None);
    }
    let mut edits: Vec<(Range<usize>, Vec<u8>)> = Vec::new();
    let mut rules = BTreeSet::new();
    for m in &matches {
        let Ok(matched) = std::str::from_utf8(&view.text[m.start..m.end]) else {
            return Err(unsupported(
                "a match in HTML that is not UTF-8 text: cannot be rewritten safely".to_string(),
            ));
        };
        let new = replacement(ctx, m, matched);
        // Each character of the match: where it is written, and how.
        let chars: Vec<(Range<usize>, Source, char)> = matched
            .char_indices()
            .map(|(k, c)| {
                let at = m.start + k;
                let span = view.map.span(at..at + c.len_utf8());
                (span, view.map.byte(at).1, c)
            })
            .collect();
        if new.chars().count() == chars.len() {
            for ((span, source, old), c) in chars.into_iter().zip(new.chars()) {
                if old != c && source != Source::Markup {
                    edits.push((span, escaped(&c.to_string())));
                }
            }
        } else {
            let mut first = true;
            for (span, source, _) in chars {
                if source == Source::Markup {
                    continue;
                }
                let with = if first { escaped(&new) } else { Vec::new() };
                first = false;
                edits.push((span, with));
            }
        }
        rules.insert(m.rule.id.clone());
    }
    // Matches of the text and of attribute values come in view order:
    // apply in the original's order, the first of two overlapping edits.
    edits.sort_by_key(|(span, _)| span.start);
    let mut out = Vec::with_capacity(original.len());
    let mut at = 0;
    for (span, with) in edits {
        if span.start < at {
            continue;
        }
        out.extend_from_slice(&original[at..span.start]);
        out.extend_from_slice(&with);
        at = span.end;
    }
    out.extend_from_slice(&original[at..]);
    let findings = matches.len() as u64;
    Ok(Some((out, Redacted { findings, rules })))
}

/// Text written into HTML: characters with a meaning there as references.
fn escaped(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' | '>' | '&' | '"' | '\'' => out.extend(format!("&#{};", c as u32).bytes()),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out
}
