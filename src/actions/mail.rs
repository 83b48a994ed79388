//! Redaction inside mail: one message (`.eml`, a Maildir file) or every
//! message of an mbox.
//!
//! A message is parsed with mail-parser only to find byte ranges (each
//! part's `offset_body..offset_end`, the header block); the rewrite works
//! on the raw bytes, so everything outside a changed range (other headers,
//! boundaries, other parts, the `From ` lines of an mbox) stays byte for
//! byte as it was. Per leaf part: the transfer encoding is undone
//! (7bit/8bit/binary: none; quoted-printable; base64), the bytes are masked
//! as text in the part's own charset (any ASCII-compatible charset: digits
//! are the same bytes), and encoded again the same way:
//!
//! - quoted-printable: each changed byte's own encoding is replaced where
//!   it stood, so soft line breaks stay where they were; when the length
//!   changes (token style) the part is encoded again with soft breaks at
//!   76 columns;
//! - base64: encoded again with the original line length and line ending;
//! - none: the masked bytes themselves.
//!
//! Header fields people write (not Message-ID, Received, ...: the fields
//! the scanner skips too) are masked as text, and their RFC 2047 encoded
//! words are decoded, masked and encoded again with the same charset and
//! `B` or `Q`. Parts that cannot be rewritten (binary attachments, zip,
//! forwarded messages, charsets that are not ASCII-compatible) are left;
//! the caller's proof scan then refuses the file if one of them holds a
//! match, so the fallback applies.

use std::collections::BTreeSet;

use mail_parser::{Encoding as Cte, MessageParser, MimeHeaders, PartType};

use super::redact::{RedactCtx, Redacted, Refused, redact_bytes, unsupported};
use crate::extract::{MACHINE_HEADERS, header_name};

type Outcome = Result<Option<(Vec<u8>, Redacted)>, Refused>;

/// Byte ranges of the input and what replaces them, in order.
#[derive(Default)]
struct Edits {
    edits: Vec<(usize, usize, Vec<u8>)>,
    findings: u64,
    rules: BTreeSet<String>,
}

impl Edits {
    fn add(&mut self, start: usize, end: usize, bytes: Vec<u8>, what: Redacted) {
        self.edits.push((start, end, bytes));
        self.findings += what.findings;
        self.rules.extend(what.rules);
    }

    fn merge(&mut self, what: Redacted) {
        self.findings += what.findings;
        self.rules.extend(what.rules);
    }

    /// The input with every edit applied; `None` when there is none.
    fn apply(mut self, input: &[u8]) -> Option<(Vec<u8>, Redacted)> {
        if self.edits.is_empty() {
            return None;
        }
        self.edits.sort_by_key(|e| e.0);
        let mut out = Vec::with_capacity(input.len());
        let mut at = 0;
        for (start, end, bytes) in &self.edits {
            if *start < at {
                continue; // overlapping ranges cannot come from one parse
            }
            out.extend_from_slice(&input[at..*start]);
            out.extend_from_slice(bytes);
            at = *end;
        }
        out.extend_from_slice(&input[at..]);
        Some((
            out,
            Redacted {
                findings: self.findings,
                rules: self.rules,
            },
        ))
    }
}

/// Redacts one whole message.
pub fn redact_message(ctx: &RedactCtx<'_>, data: &[u8]) -> Outcome {
    let Some(m) = MessageParser::default().parse(data) else {
        return Err(unsupported(
            "not a readable mail message: cannot be rewritten safely".to_string(),
        ));
    };
    let mut edits = Edits::default();
    let root = m.root_part();
    let (hs, he) = (root.offset_header as usize, root.offset_body as usize);
    if hs < he
        && he <= data.len()
        && let Some((bytes, what)) = redact_headers(ctx, &data[hs..he])
    {
        edits.add(hs, he, bytes, what);
    }
    for part in &m.parts {
        if !matches!(
            part.body,
            PartType::Text(_) | PartType::Html(_) | PartType::Binary(_) | PartType::InlineBinary(_)
        ) || part.is_encoding_problem
        {
            continue;
        }
        let (s, e) = (part.offset_body as usize, part.offset_end as usize);
        if s >= e || e > data.len() {
            continue;
        }
        let charset = part
            .content_type()
            .and_then(|c| c.attribute("charset"))
            .map(str::to_string);
        let decoded_text = match &part.body {
            PartType::Text(t) | PartType::Html(t) => Some(t.as_ref()),
            _ => None,
        };
        if let Some((bytes, what)) = redact_body(
            ctx,
            &data[s..e],
            part.encoding,
            charset.as_deref(),
            decoded_text,
        )? {
            edits.add(s, e, bytes, what);
        }
    }
    Ok(edits.apply(data))
}

/// Redacts every message of an mbox; the `From ` lines and anything before
/// the first one are kept as they are.
pub fn redact_mbox(ctx: &RedactCtx<'_>, data: &[u8]) -> Outcome {
    // Start of each `From ` line.
    let mut starts = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        if data[pos..].starts_with(b"From ") {
            starts.push(pos);
        }
        match memchr::memchr(b'\n', &data[pos..]) {
            Some(nl) => pos += nl + 1,
            None => break,
        }
    }
    let mut edits = Edits::default();
    for (i, &from) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(data.len());
        let body_start = memchr::memchr(b'\n', &data[from..end]).map_or(end, |nl| from + nl + 1);
        if body_start >= end {
            continue;
        }
        if let Some((bytes, what)) = redact_message(ctx, &data[body_start..end])? {
            edits.add(body_start, end, bytes, what);
        }
    }
    Ok(edits.apply(data))
}

/// Why a part's charset cannot take the redaction (the part is then
/// refused if it holds something to redact).
#[derive(Debug, thiserror::Error)]
enum CharsetError {
    #[error("the mask character {0:?} cannot be written in a part without a charset")]
    MaskWithoutCharset(char),
    #[error("unknown charset {0}")]
    Unknown(String),
    #[error("charset {0} is not ASCII-compatible")]
    NotAsciiCompatible(String),
    #[error("the mask character {mask:?} cannot be written in charset {label}")]
    MaskNotInCharset { mask: char, label: String },
}

/// The charsets a part may be masked in: ASCII-compatible ones (digits are
/// the same bytes), and only UTF-8 ones when the mask character is not
/// ASCII. `Err` names the charset when it cannot.
fn charset_ok(ctx: &RedactCtx<'_>, charset: Option<&str>) -> Result<(), CharsetError> {
    let ascii_out = ctx.options.style != crate::config::policy::RedactStyle::Mask
        || ctx.options.mask_char.is_ascii();
    let Some(label) = charset else {
        // No charset: US-ASCII, where only an ASCII mask can be written.
        return match ascii_out {
            true => Ok(()),
            false => Err(CharsetError::MaskWithoutCharset(ctx.options.mask_char)),
        };
    };
    let Some(enc) = encoding_rs::Encoding::for_label(label.trim().as_bytes()) else {
        return Err(CharsetError::Unknown(label.to_string()));
    };
    if !enc.is_ascii_compatible() {
        return Err(CharsetError::NotAsciiCompatible(label.to_string()));
    }
    if enc != encoding_rs::UTF_8 && !ascii_out {
        return Err(CharsetError::MaskNotInCharset {
            mask: ctx.options.mask_char,
            label: label.to_string(),
        });
    }
    Ok(())
}

/// Whether the engine finds a match to redact in `text`.
fn has_match(ctx: &RedactCtx<'_>, text: &[u8]) -> bool {
    ctx.engine
        .find_all(text)
        .iter()
        .any(|m| m.confidence >= ctx.min_confidence && (ctx.wants)(&m.rule.id, m.severity))
}

/// One leaf part's body, in its transfer encoding. `Ok(None)`: nothing to
/// change, or a part that is not text (the proof scan decides).
fn redact_body(
    ctx: &RedactCtx<'_>,
    raw: &[u8],
    cte: Cte,
    charset: Option<&str>,
    decoded_text: Option<&str>,
) -> Outcome {
    if let Err(why) = charset_ok(ctx, charset) {
        // Refuse only a part that holds something to redact.
        if decoded_text.is_some_and(|t| has_match(ctx, t.as_bytes())) {
            return Err(unsupported(format!(
                "a text part cannot be rewritten ({why})"
            )));
        }
        return Ok(None);
    }
    // A part that is not text (binary, a container) is not rewritten.
    let text_only = |bytes: &[u8]| redact_bytes(ctx, bytes).unwrap_or_default();
    match cte {
        Cte::None => Ok(text_only(raw)),
        Cte::QuotedPrintable => {
            let (decoded, spans) = qp_decode(raw);
            let Some((new, what)) = text_only(&decoded) else {
                return Ok(None);
            };
            let out = if new.len() == decoded.len() {
                // Replace each changed byte's own encoding where it stood.
                let mut out = Vec::with_capacity(raw.len());
                let mut at = 0;
                for (i, (&old, &b)) in decoded.iter().zip(&new).enumerate() {
                    if old == b {
                        continue;
                    }
                    let (s, e) = spans[i];
                    out.extend_from_slice(&raw[at..s]);
                    qp_byte(b, &mut out);
                    at = e;
                }
                out.extend_from_slice(&raw[at..]);
                out
            } else {
                qp_encode(&new, line_ending(raw))
            };
            Ok(Some((out, what)))
        }
        Cte::Base64 => {
            let trimmed = raw.trim_ascii_end();
            let tail = &raw[trimmed.len()..];
            let Some(mut decoded) = b64_decode(trimmed) else {
                return Ok(None);
            };
            let result = text_only(&decoded);
            zeroize::Zeroize::zeroize(&mut decoded);
            let Some((mut new, what)) = result else {
                return Ok(None);
            };
            let first_line = trimmed
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
                .unwrap_or(trimmed.len());
            // One line stays one line; otherwise the original's length.
            let width = if first_line == trimmed.len() {
                usize::MAX
            } else {
                first_line.max(4)
            };
            let mut out = b64_encode(&new, width, line_ending(raw));
            zeroize::Zeroize::zeroize(&mut new);
            out.extend_from_slice(tail);
            Ok(Some((out, what)))
        }
    }
}

/// `\r\n` when the text uses it, else `\n`.
fn line_ending(raw: &[u8]) -> &'static [u8] {
    if memchr::memmem::find(raw, b"\r\n").is_some() || !raw.contains(&b'\n') {
        b"\r\n"
    } else {
        b"\n"
    }
}

/// The header block with its people-written fields redacted.
fn redact_headers(ctx: &RedactCtx<'_>, header: &[u8]) -> Option<(Vec<u8>, Redacted)> {
    // Fields: a line not starting with white space, and its folded lines.
    let mut fields: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    for line in header.split_inclusive(|&b| b == b'\n') {
        let continued = matches!(line.first(), Some(b' ' | b'\t'));
        match fields.last_mut() {
            Some(last) if continued => last.1 = pos + line.len(),
            _ => fields.push((pos, pos + line.len())),
        }
        pos += line.len();
    }
    let mut edits = Edits::default();
    for (s, e) in fields {
        let field = &header[s..e];
        let machine = header_name(field).is_none_or(|n| MACHINE_HEADERS.contains(&n.as_str()));
        if machine {
            continue;
        }
        let mut changed = false;
        let mut text = field.to_vec();
        if let Some((new, what)) = redact_encoded_words(ctx, &text) {
            text = new;
            changed = true;
            edits.merge(what);
        }
        if let Ok(Some((new, what))) = redact_bytes(ctx, &text) {
            text = new;
            changed = true;
            edits.merge(what);
        }
        if changed {
            edits.edits.push((s, e, text));
        }
    }
    edits.apply(header)
}

/// RFC 2047 encoded words (`=?charset?B|Q?text?=`) in one header field,
/// each decoded, masked and encoded again the same way.
fn redact_encoded_words(ctx: &RedactCtx<'_>, field: &[u8]) -> Option<(Vec<u8>, Redacted)> {
    let mut edits = Edits::default();
    let mut pos = 0;
    while let Some(off) = memchr::memmem::find(&field[pos..], b"=?") {
        let start = pos + off;
        pos = start + 2;
        let Some(word) = parse_encoded_word(&field[start..]) else {
            continue;
        };
        let end = start + word.len;
        pos = end;
        if charset_ok(ctx, Some(&word.charset)).is_err() {
            continue;
        }
        let decoded = if word.b {
            match b64_decode(word.text) {
                Some(d) => d,
                None => continue,
            }
        } else {
            q_decode(word.text)
        };
        let Ok(Some((new, what))) = redact_bytes(ctx, &decoded) else {
            continue;
        };
        let mut out =
            format!("=?{}?{}?", word.charset, if word.b { 'B' } else { 'Q' }).into_bytes();
        if word.b {
            out.extend(b64_encode(&new, usize::MAX, b"\r\n"));
        } else {
            q_encode(&new, &mut out);
        }
        out.extend_from_slice(b"?=");
        edits.add(start, end, out, what);
    }
    edits.apply(field)
}

struct EncodedWord<'a> {
    charset: String,
    b: bool,
    text: &'a [u8],
    len: usize,
}

/// `=?charset?X?text?=` at the start of `s`.
fn parse_encoded_word(s: &[u8]) -> Option<EncodedWord<'_>> {
    let rest = s.strip_prefix(b"=?")?;
    let q1 = rest.iter().position(|&b| b == b'?')?;
    let charset = std::str::from_utf8(&rest[..q1]).ok()?;
    // RFC 2231 language suffix: `utf-8*en`.
    let charset = charset.split('*').next()?.to_string();
    if charset.is_empty() || charset.bytes().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let enc = *rest.get(q1 + 1)?;
    if rest.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let b = match enc {
        b'B' | b'b' => true,
        b'Q' | b'q' => false,
        _ => return None,
    };
    let body = &rest[q1 + 3..];
    let close = memchr::memmem::find(body, b"?=")?;
    let text = &body[..close];
    if text.iter().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    Some(EncodedWord {
        charset,
        b,
        text,
        len: 2 + q1 + 3 + close + 2,
    })
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Quoted-printable: the decoded bytes and, for each, the range of the
/// input it came from (soft line breaks belong to no byte).
fn qp_decode(raw: &[u8]) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut out = Vec::with_capacity(raw.len());
    let mut spans = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'=' {
            // Soft line break: `=`, optional trailing white space, newline.
            let mut j = i + 1;
            while j < raw.len() && (raw[j] == b' ' || raw[j] == b'\t') {
                j += 1;
            }
            if raw[j..].starts_with(b"\r\n") {
                i = j + 2;
                continue;
            }
            if raw[j..].starts_with(b"\n") {
                i = j + 1;
                continue;
            }
            if i + 2 < raw.len()
                && let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2]))
            {
                out.push(h << 4 | l);
                spans.push((i, i + 3));
                i += 3;
                continue;
            }
        }
        out.push(b);
        spans.push((i, i + 1));
        i += 1;
    }
    (out, spans)
}

/// One byte in quoted-printable: printable ASCII but `=` as itself.
fn qp_byte(b: u8, out: &mut Vec<u8>) {
    if ((33..=126).contains(&b) && b != b'=') || b == b' ' {
        out.push(b);
    } else {
        out.extend_from_slice(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
    }
}

/// Quoted-printable for a whole body: hard line breaks kept as `nl`, soft
/// line breaks so that no line is longer than 76 characters, white space
/// before a line break encoded.
fn qp_encode(data: &[u8], nl: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 11 / 10);
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    for (n, line) in lines.iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut col = 0;
        for (k, &b) in line.iter().enumerate() {
            let mut enc = Vec::with_capacity(3);
            let last = k + 1 == line.len();
            if last && (b == b' ' || b == b'\t') {
                enc.extend_from_slice(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            } else {
                qp_byte(b, &mut enc);
            }
            // Room for the soft break's `=` unless this ends the line.
            let limit = if last { 76 } else { 75 };
            if col + enc.len() > limit {
                out.push(b'=');
                out.extend_from_slice(nl);
                col = 0;
            }
            out.extend_from_slice(&enc);
            col += enc.len();
        }
        if n + 1 < lines.len() {
            out.extend_from_slice(nl);
        }
    }
    out
}

/// The `Q` encoding of RFC 2047.
fn q_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < text.len() => match (hex(text[i + 1]), hex(text[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'='),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn q_encode(data: &[u8], out: &mut Vec<u8>) {
    for &b in data {
        if b == b' ' {
            out.push(b'_');
        } else if b.is_ascii_alphanumeric() || b"!*+-/".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64, ignoring white space; `None` on anything else.
fn b64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            c if c.is_ascii_whitespace() => continue,
            _ => return None,
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Base64 with `=` padding, in lines of `width` characters joined by `nl`
/// (no line break after the last).
fn b64_encode(data: &[u8], width: usize, nl: &[u8]) -> Vec<u8> {
    let mut flat = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, &b| (a << 8) | b as u32) << (8 * (3 - chunk.len()));
        for k in 0..4 {
            if k <= chunk.len() {
                flat.push(B64[((n >> (18 - 6 * k)) & 63) as usize]);
            } else {
                flat.push(b'=');
            }
        }
    }
    if width >= flat.len() {
        return flat;
    }
    let mut out = Vec::with_capacity(flat.len() + flat.len() / width * nl.len());
    for (i, line) in flat.chunks(width).enumerate() {
        if i > 0 {
            out.extend_from_slice(nl);
        }
        out.extend_from_slice(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_with_line_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        let enc = b64_encode(&data, 76, b"\r\n");
        assert!(enc.split(|&b| b == b'\n').all(|l| l.len() <= 77));
        assert_eq!(b64_decode(&enc).unwrap(), data);
        assert_eq!(b64_encode(b"ab", usize::MAX, b"\n"), b"YWI=");
        assert_eq!(b64_encode(b"abc", usize::MAX, b"\n"), b"YWJj");
        assert_eq!(b64_encode(b"a", usize::MAX, b"\n"), b"YQ==");
    }

    #[test]
    fn qp_spans_skip_soft_breaks() {
        let (d, spans) = qp_decode(b"ab=\r\nc=3D\n");
        assert_eq!(d, b"abc=\n");
        assert_eq!(spans, vec![(0, 1), (1, 2), (5, 6), (6, 9), (9, 10)]);
        let long = "x".repeat(100) + " \n";
        let enc = qp_encode(long.as_bytes(), b"\n");
        assert!(enc.split(|&b| b == b'\n').all(|l| l.len() <= 77));
        assert_eq!(qp_decode(&enc).0, long.as_bytes());
    }

    #[test]
    fn encoded_words_parse() {
        let w = parse_encoded_word(b"=?UTF-8?Q?a_b?= rest").unwrap();
        assert_eq!(
            (w.charset.as_str(), w.b, w.text, w.len),
            ("UTF-8", false, &b"a_b"[..], 15)
        );
        assert_eq!(q_decode(b"a_b=3D"), b"a b=");
    }
}
