//! Mail: single messages (`.eml`, Maildir files) and mbox files.
//!
//! An mbox is streamed message by message (a line starting with `From `
//! begins the next; `>From ` lines are unescaped), each message held in
//! memory up to `max_buffer`. A message is parsed with mail-parser, which
//! undoes base64 and quoted-printable, decodes charsets (windows-1250,
//! ISO-8859-2, GBK, GB18030 ...) and RFC 2047 headers. Then every part is a
//! leaf or, for attachments and forwarded messages, a member opened like any
//! other file (a zip attached to a mail in an mbox).
//!
//! Member names use the message's position and Message-ID, the part's
//! position and type, and an attachment's file name: never an address or a
//! subject, which are personal data too.

use std::io::{BufRead, BufReader, Read};

use mail_parser::{MessageParser, MimeHeaders, PartType};

use super::{Budget, LeafSink, Member, Place, Problem, Step, clean_name, join, member};
use crate::report::event::FileStatus;

/// Headers that mark the start of a message.
const MAIL_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "received",
    "return-path",
    "mime-version",
    "content-type",
    "delivered-to",
    "reply-to",
    "references",
    "in-reply-to",
    "x-mailer",
    "user-agent",
];

/// Whether `line` is a header field (`Name: value`) and its lower-case name.
pub(crate) fn header_name(line: &[u8]) -> Option<String> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|&b| b.is_ascii_graphic() && b != b':') {
        return None;
    }
    Some(String::from_utf8_lossy(name).to_ascii_lowercase())
}

/// Whether a stream starts with a message header: header fields up to a
/// blank line, at least two of them ones mail always has.
pub fn is_message(head: &[u8]) -> bool {
    let mut known = 0;
    let mut fields = 0;
    for (i, line) in head.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return fields > 0 && known >= 2;
        }
        if i > 0 && (line[0] == b' ' || line[0] == b'\t') {
            continue;
        }
        match header_name(line) {
            Some(name) => {
                fields += 1;
                if MAIL_HEADERS.contains(&name.as_str()) {
                    known += 1;
                }
            }
            None => return false,
        }
    }
    // The header block runs past what was sniffed.
    known >= 3
}

/// Whether a stream is an mbox: a `From ` line, then a message header.
pub fn is_mbox(head: &[u8]) -> bool {
    let Some(rest) = head.strip_prefix(b"From ") else {
        return false;
    };
    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
        return false;
    };
    is_message(&rest[nl + 1..])
}

/// One message read from a stream (a whole `.eml` or Maildir file).
pub fn message_stream(
    stream: &mut dyn Read,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    match super::read_bounded(stream, "a mail message", place.member, budget) {
        Ok(data) => message(&data, place, budget, sink),
        Err(problem) => sink.problem(problem),
    }
}

/// An mbox, message by message.
pub fn mbox(stream: &mut dyn Read, place: Place<'_>, budget: &Budget, sink: &mut dyn LeafSink) {
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let cap = budget.limits.max_buffer;
    let mut msg: Vec<u8> = Vec::new();
    let mut index = 0u64;
    let mut too_big = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = match (&mut reader).take(cap + 1).read_until(b'\n', &mut line) {
            Ok(n) => n,
            Err(e) => {
                let problem = super::failure_problem(super::Format::Mbox, place.member, &e, index);
                if index > 0 {
                    mbox_message(&msg, index, too_big, place, budget, sink);
                }
                sink.problem(problem);
                return;
            }
        };
        let at_end = n == 0;
        if at_end || line.starts_with(b"From ") {
            if index > 0 {
                mbox_message(&msg, index, too_big, place, budget, sink);
            }
            if at_end || budget.spent() {
                return;
            }
            index += 1;
            msg.clear();
            too_big = false;
            continue;
        }
        if index == 0 {
            // Text before the first `From ` line: not part of a message.
            continue;
        }
        if too_big {
            continue;
        }
        // mboxrd: `>From ` (any number of `>`) had one `>` added.
        let quotes = line.iter().take_while(|&&b| b == b'>').count();
        let unescaped = if quotes > 0 && line[quotes..].starts_with(b"From ") {
            &line[1..]
        } else {
            &line[..]
        };
        if (msg.len() + unescaped.len()) as u64 > cap {
            too_big = true;
            continue;
        }
        msg.extend_from_slice(unescaped);
    }
}

fn mbox_message(
    data: &[u8],
    index: u64,
    too_big: bool,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    if too_big {
        sink.problem(Problem {
            member: Some(join(place.member, Step::MboxMessage { index, id: None })),
            status: FileStatus::Partial,
            reason: format!(
                "message larger than {} bytes: not scanned (raise limits.max_buffer or --max-buffer)",
                budget.limits.max_buffer
            ),
        });
        return;
    }
    let here = Place {
        member: place.member,
        depth: place.depth,
    };
    named_message(data, index, here, budget, sink);
}

/// A message held in memory, named by its position (and Message-ID).
fn named_message(
    data: &[u8],
    index: u64,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    let parsed = MessageParser::default().parse(data);
    let id = parsed.as_ref().and_then(|m| m.message_id()).map(clean_name);
    let path = join(place.member, Step::MboxMessage { index, id });
    if !budget.admit(&path, sink) {
        return;
    }
    let here = Place {
        member: Some(&path),
        depth: place.depth,
    };
    match parsed {
        Some(m) => parts(&m, here, budget, sink),
        None => sink.problem(Problem {
            member: Some(path.clone()),
            status: FileStatus::Error,
            reason: "not a readable mail message".to_string(),
        }),
    }
}

/// A whole message (`.eml`, Maildir file), the top-level leaf's parts.
fn message(data: &[u8], place: Place<'_>, budget: &Budget, sink: &mut dyn LeafSink) {
    let Some(m) = MessageParser::default().parse(data) else {
        sink.problem(Problem {
            member: place.member.cloned(),
            status: FileStatus::Error,
            reason: "not a readable mail message".to_string(),
        });
        return;
    };
    let id = m.message_id().map(clean_name);
    let path = join(place.member, Step::Message { id });
    parts(
        &m,
        Place {
            member: Some(&path),
            depth: place.depth,
        },
        budget,
        sink,
    );
}

/// Every part of a parsed message: the header block, then bodies,
/// attachments and forwarded messages in order.
fn parts(m: &mail_parser::Message<'_>, place: Place<'_>, budget: &Budget, sink: &mut dyn LeafSink) {
    let raw = m.raw_message.as_ref();
    let root = m.root_part();
    let header = raw
        .get(root.offset_header as usize..root.offset_body as usize)
        .unwrap_or(&[]);
    // A Subject in RFC 2047 encoded words is scanned decoded, as its own
    // leaf, and left out of the header block: a number written plainly
    // beside the encoded words would otherwise be reported twice.
    let encoded_subject = m
        .subject()
        .filter(|_| m.header_raw("Subject").is_some_and(|v| v.contains("=?")));
    let skip: &[&str] = if encoded_subject.is_some() {
        &["subject"]
    } else {
        &[]
    };
    text_leaf(&readable_headers(header, skip), Step::Headers, place, sink);
    if let Some(subject) = encoded_subject {
        text_leaf(subject.as_bytes(), Step::Subject, place, sink);
    }
    for (i, part) in m.parts.iter().enumerate() {
        let ctype = part
            .content_type()
            .map(|c| match c.subtype() {
                Some(sub) => format!("{}/{}", c.ctype(), sub),
                None => c.ctype().to_string(),
            })
            .unwrap_or_else(|| "text/plain".to_string())
            .to_ascii_lowercase();
        let name = match part.attachment_name() {
            Some(file) => Step::Attachment(clean_name(file)),
            None => Step::Part {
                index: i,
                ctype: clean_name(&ctype),
            },
        };
        if part.is_encoding_problem {
            sink.problem(Problem {
                member: Some(join(place.member, name.clone())),
                status: FileStatus::Partial,
                reason: "the part's transfer encoding is broken: it was scanned as far as it could be decoded".to_string(),
            });
        }
        match &part.body {
            PartType::Multipart(_) => {}
            PartType::Text(text) => {
                if !budget.admit(&join(place.member, name.clone()), sink) {
                    return;
                }
                text_leaf(text.as_bytes(), name, place, sink)
            }
            // The text the reader sees, found where it is written in the
            // decoded part (offsets, lines and columns of the part's HTML).
            PartType::Html(text) => {
                let path = join(place.member, name);
                if !budget.admit(&path, sink) {
                    return;
                }
                let here = Place {
                    member: Some(&path),
                    depth: place.depth,
                };
                super::html::leaf(text.as_bytes(), here, sink)
            }
            PartType::Binary(data) | PartType::InlineBinary(data) => {
                member(&mut &data[..], name, place, budget, sink)
            }
            PartType::Message(inner) => {
                let path = join(place.member, name);
                if place.depth + 1 >= budget.limits.max_depth {
                    sink.problem(Problem {
                        member: Some(path),
                        status: FileStatus::Partial,
                        reason: format!(
                            "messages nested more than {} levels deep: not opened (raise limits.max_depth or --max-depth)",
                            budget.limits.max_depth
                        ),
                    });
                    continue;
                }
                parts(
                    inner,
                    Place {
                        member: Some(&path),
                        depth: place.depth + 1,
                    },
                    budget,
                    sink,
                )
            }
        }
    }
}

/// Header fields that only carry machine identifiers, dates and routing:
/// their digits (Message-IDs, queue ids, timestamps) are not written by
/// people, and would only be noise.
pub(crate) const MACHINE_HEADERS: &[&str] = &[
    "message-id",
    "references",
    "in-reply-to",
    "resent-message-id",
    "received",
    "date",
    "resent-date",
    "return-path",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-id",
    "dkim-signature",
    "arc-seal",
    "arc-message-signature",
    "arc-authentication-results",
    "authentication-results",
    "received-spf",
    "x-received",
    "x-google-dkim-signature",
    "x-gm-message-state",
    "x-google-smtp-source",
];

/// The header block without the fields in [`MACHINE_HEADERS`] and in
/// `skip` (lower-case names), folded lines kept with their field.
fn readable_headers(header: &[u8], skip: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len());
    let mut keep = true;
    for line in header.split_inclusive(|&b| b == b'\n') {
        let continued = matches!(line.first(), Some(b' ' | b'\t'));
        if !continued {
            keep = header_name(line).is_none_or(|n| {
                !MACHINE_HEADERS.contains(&n.as_str()) && !skip.contains(&n.as_str())
            });
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out
}

fn text_leaf(text: &[u8], step: Step, place: Place<'_>, sink: &mut dyn LeafSink) {
    let path: Member = join(place.member, step);
    let mut reader: &[u8] = text;
    if let Err(e) = sink.leaf(Some(&path), &mut reader as &mut dyn Read) {
        sink.problem(Problem {
            member: Some(path),
            status: FileStatus::Partial,
            reason: format!("read error: {e}"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_messages_and_mboxes_from_text() {
        let msg = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
        assert!(is_message(msg));
        assert!(!is_message(b"Subject: my notes\n\nNot a mail.\n"));
        assert!(!is_message(b"hello world\nFrom: x\n"));
        let mbox = b"From alice@example.com Mon Jan  1 00:00:00 2024\nFrom: a@example.com\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nhi\n";
        assert!(is_mbox(mbox));
        assert!(!is_mbox(b"From here on, prose.\nMore prose.\n"));
    }
}
