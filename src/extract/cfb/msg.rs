//! Outlook messages ([MS-OXMSG]): a compound file whose streams are MAPI
//! properties (`__substg1.0_TTTTYYYY`: property tag, then type).
//!
//! Enters: a storage of such streams (a `.msg` file's root, or an
//! attached message inside one). Leaves, as members of the message: its
//! `subject` (PidTagSubject), `body` (PidTagBody), `body html`
//! (PidTagHtml) and `body rtf` (PidTagRtfCompressed, decompressed per
//! [MS-OXRTFCP], its visible text read as RTF, the objects embedded in it
//! opened as `body rtf!object N`); then each attachment in order, as
//! `attachment N NAME` (the attachment's file name, as mail attachments
//! are named): a file is opened by its content like any member, an
//! attached message (`PidTagAttachDataObject` as a storage) is read as a
//! message in turn. Recipients, transport headers and named-property maps
//! are not scanned (addresses and routing, not content); the member never
//! holds the subject or an address. 8-bit strings are decoded in the
//! message's code page (PidTagMessageCodepage), Windows-1252 by default.

use super::{Walk, problem};
use crate::extract::{LeafSink, Place, Step, clean_name, join, member, rtf};

const SUBJECT: u16 = 0x0037;
const BODY: u16 = 0x1000;
const RTF_COMPRESSED: u16 = 0x1009;
const HTML: u16 = 0x1013;
/// The member an Outlook message's compressed RTF body is scanned as.
const RTF_BODY: &str = "body rtf";
const ATTACH_DATA: u16 = 0x3701;
const ATTACH_FILENAME: u16 = 0x3704;
const ATTACH_LONG_FILENAME: u16 = 0x3707;

/// Property types ([MS-OXCDATA] 2.11.1).
const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_BINARY: u16 = 0x0102;
const PT_OBJECT: u16 = 0x000D;

/// The property streams and storages of storage `id`: (tag, type, child).
fn properties(w: &Walk<'_, '_, '_>, id: usize) -> Vec<(u16, u16, usize)> {
    w.cfb
        .children(id)
        .into_iter()
        .filter_map(|c| {
            let name = &w.cfb.entry(c).name;
            let hex = name.strip_prefix("__substg1.0_")?;
            if hex.len() != 8 {
                return None;
            }
            let tag = u16::from_str_radix(&hex[..4], 16).ok()?;
            let kind = u16::from_str_radix(&hex[4..], 16).ok()?;
            Some((tag, kind, c))
        })
        .collect()
}

/// The code page of a message's 8-bit strings: PidTagMessageCodepage
/// (0x3FFD), else PidTagInternetCodepage (0x3FDE), in the fixed-size
/// property stream (`__properties_version1.0`: a 32-byte header for a
/// message, 24 for an attached one, then 16-byte entries: tag, flags,
/// value); Windows-1252 when neither names one we know.
fn codepage(w: &Walk<'_, '_, '_>, id: usize, embedded: bool) -> &'static encoding_rs::Encoding {
    let Some(props) = w.cfb.find(id, "__properties_version1.0") else {
        return encoding_rs::WINDOWS_1252;
    };
    let (bytes, _) = w.cfb.read(props, 1 << 20);
    let header = if embedded { 24 } else { 32 };
    let entries = bytes.get(header..).unwrap_or(&[]);
    let find = |tag: u32| {
        entries.chunks_exact(16).find_map(|e| {
            (u32::from_le_bytes(e[0..4].try_into().expect("four bytes")) == tag)
                .then(|| i32::from_le_bytes(e[8..12].try_into().expect("four bytes")))
        })
    };
    [0x3FFD_0003, 0x3FDE_0003]
        .into_iter()
        .filter_map(find)
        .find_map(|cp| rtf::codepage(i64::from(cp)))
        .unwrap_or(encoding_rs::WINDOWS_1252)
}

/// A string property's value as UTF-8 (or the bytes of a binary one);
/// 8-bit strings in `encoding`.
fn value(kind: u16, bytes: &[u8], encoding: &'static encoding_rs::Encoding) -> Vec<u8> {
    match kind {
        PT_UNICODE => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
                .trim_end_matches('\0')
                .as_bytes()
                .to_vec()
        }
        PT_STRING8 => {
            let (s, _) = encoding.decode_without_bom_handling(bytes);
            s.trim_end_matches('\0').as_bytes().to_vec()
        }
        _ => bytes.to_vec(),
    }
}

/// Reads the message in storage `id` at `place`.
pub(super) fn message(
    w: &mut Walk<'_, '_, '_>,
    id: usize,
    place: Place<'_>,
    sink: &mut dyn LeafSink,
) {
    let props = properties(w, id);
    let find = |tag: u16| props.iter().find(|p| p.0 == tag).copied();
    let encoding = codepage(w, id, id != w.cfb.root());
    for (tag, name) in [(SUBJECT, "subject"), (BODY, "body"), (HTML, "body html")] {
        if let Some((_, kind, c)) = find(tag)
            && let Some(bytes) = w.read(c, Step::Named(name.to_string()), place, sink)
        {
            let text = value(kind, &bytes, encoding);
            if tag == HTML {
                w.html(&text, Step::Named(name.to_string()), place, sink);
            } else {
                w.text(&text, Step::Named(name.to_string()), place, sink);
            }
        }
    }
    if let Some((_, PT_BINARY, c)) = find(RTF_COMPRESSED)
        && let Some(bytes) = w.read(c, Step::Named(RTF_BODY.to_string()), place, sink)
    {
        rtf_body(w, &bytes, place, sink);
    }
    let attachments: Vec<usize> = w
        .cfb
        .children(id)
        .into_iter()
        .filter(|&c| w.cfb.entry(c).name.starts_with("__attach_version1.0_#"))
        .collect();
    for (i, a) in attachments.into_iter().enumerate() {
        if w.budget.spent() {
            return;
        }
        attachment(w, a, i + 1, place, sink);
    }
}

/// The compressed RTF body: its visible text, and its embedded objects.
fn rtf_body(w: &mut Walk<'_, '_, '_>, bytes: &[u8], place: Place<'_>, sink: &mut dyn LeafSink) {
    let at = join(place.member, Step::Named(RTF_BODY.to_string()));
    let cap = w.budget.limits.max_buffer;
    let raw = match rtf::decompress(bytes, cap) {
        Ok((raw, failure)) => {
            if let Some(e) = failure {
                problem(Some(&at), &e.to_string(), sink);
            }
            raw
        }
        Err(e) => return problem(Some(&at), &e.to_string(), sink),
    };
    if let Err(reason) = w.charge(raw.len() as u64) {
        return problem(Some(&at), &reason.to_string(), sink);
    }
    let parsed = rtf::parse(&raw, cap);
    w.text(
        parsed.text.as_bytes(),
        Step::Named(RTF_BODY.to_string()),
        place,
        sink,
    );
    let here = Place {
        member: Some(&at),
        ..place
    };
    for (n, object) in parsed.objects.iter().enumerate() {
        member(&mut &object[..], Step::Object(n + 1), here, w.budget, sink);
    }
}

/// Attachment number `n` (storage `id`): a file or a message.
fn attachment(
    w: &mut Walk<'_, '_, '_>,
    id: usize,
    n: usize,
    place: Place<'_>,
    sink: &mut dyn LeafSink,
) {
    let props = properties(w, id);
    let find = |tag: u16| props.iter().find(|p| p.0 == tag).copied();
    let file_name = find(ATTACH_LONG_FILENAME)
        .or_else(|| find(ATTACH_FILENAME))
        .and_then(|(_, kind, c)| {
            let (bytes, _) = w.cfb.read(c, 4096);
            String::from_utf8(value(kind, &bytes, encoding_rs::WINDOWS_1252)).ok()
        })
        .filter(|s| !s.is_empty());
    let name = Step::MsgAttachment {
        index: n,
        name: file_name.map(|f| clean_name(&f)),
    };
    match find(ATTACH_DATA) {
        Some((_, PT_BINARY, c)) => {
            if let Some(bytes) = w.read(c, name.clone(), place, sink) {
                member(&mut &bytes[..], name, place, w.budget, sink);
            }
        }
        Some((_, PT_OBJECT, c)) => {
            let path = join(place.member, name);
            if place.depth + 1 >= w.budget.limits.max_depth {
                return problem(
                    Some(&path),
                    &format!(
                        "attached message nested more than {} levels deep: not opened \
                         (raise limits.max_depth or --max-depth)",
                        w.budget.limits.max_depth
                    ),
                    sink,
                );
            }
            if !w.budget.admit(&path, sink) {
                return;
            }
            let inner = Place {
                member: Some(&path),
                depth: place.depth + 1,
            };
            // An attached message, or another OLE object (a document):
            // either way a storage, walked like the file's root.
            w.storage(c, "", inner, sink);
        }
        _ => {}
    }
}
