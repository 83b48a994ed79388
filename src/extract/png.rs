//! PNG: the text a person or a program wrote into an image's `tEXt`,
//! `zTXt` and `iTXt` chunks (comments, descriptions, EXIF-like notes).
//!
//! The pixels are compressed image data, not text, and are not scanned:
//! scanning them raw would only find noise, and the chunk checksums around
//! a comment can glue letters to a number.

use std::io::Read;

use super::{Budget, LeafSink, Place, Problem, Step, join};
use crate::report::event::FileStatus;

/// Text chunks bigger than this are not real comments.
const MAX_CHUNK: u32 = 16 << 20;

pub fn text_chunks(
    stream: &mut dyn Read,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    let mut sig = [0u8; 8];
    if stream.read_exact(&mut sig).is_err() {
        return;
    }
    let mut index = 0u32;
    loop {
        let mut head = [0u8; 8];
        match stream.read_exact(&mut head) {
            Ok(()) => {}
            // The end of the file, with or without IEND.
            Err(_) => return,
        }
        index += 1;
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        let text_chunk = matches!(&kind, b"tEXt" | b"zTXt" | b"iTXt");
        if len > MAX_CHUNK && text_chunk || len > i32::MAX as u32 {
            sink.problem(Problem {
                member: place.member.cloned(),
                status: FileStatus::Partial,
                reason: format!(
                    "PNG chunk {index} claims {len} bytes: the rest of the image was not read"
                ),
            });
            return;
        }
        if !text_chunk {
            // Skip the data and its CRC.
            let skipped = std::io::copy(&mut stream.take(len as u64 + 4), &mut std::io::sink());
            if skipped.map(|n| n < len as u64 + 4).unwrap_or(true) || &kind == b"IEND" {
                return;
            }
            continue;
        }
        let mut data = vec![0u8; len as usize];
        let mut crc = [0u8; 4];
        if stream.read_exact(&mut data).is_err() || stream.read_exact(&mut crc).is_err() {
            sink.problem(Problem {
                member: place.member.cloned(),
                status: FileStatus::Partial,
                reason: "the PNG file is truncated inside a text chunk".to_string(),
            });
            return;
        }
        let name = join(
            place.member,
            Step::PngText {
                chunk: String::from_utf8_lossy(&kind).into_owned(),
                index: index.into(),
            },
        );
        match chunk_text(&kind, &data, budget) {
            Some(text) => {
                if let Err(e) = sink.leaf(Some(&name), &mut &text[..]) {
                    sink.problem(Problem {
                        member: Some(name),
                        status: FileStatus::Partial,
                        reason: format!("read error: {e}"),
                    });
                }
            }
            None => sink.problem(Problem {
                member: Some(name),
                status: FileStatus::Partial,
                reason: "a malformed or over-compressed PNG text chunk: not scanned".to_string(),
            }),
        }
    }
}

/// The text of one chunk: the keyword, a newline, then the text (Latin-1
/// for tEXt and zTXt, UTF-8 for iTXt), decompressed where it is.
fn chunk_text(kind: &[u8; 4], data: &[u8], budget: &Budget) -> Option<Vec<u8>> {
    let nul = data.iter().position(|&b| b == 0)?;
    let keyword = &data[..nul];
    let rest = &data[nul + 1..];
    let (latin1, body): (bool, Vec<u8>) = match kind {
        b"tEXt" => (true, rest.to_vec()),
        b"zTXt" => (true, inflate(rest.get(1..)?, budget)?),
        _ => {
            // iTXt: flag, method, language\0, translated keyword\0, text.
            let (&flag, rest) = rest.split_first()?;
            let rest = rest.get(1..)?;
            let lang_end = rest.iter().position(|&b| b == 0)?;
            let rest = &rest[lang_end + 1..];
            let kw_end = rest.iter().position(|&b| b == 0)?;
            let text = &rest[kw_end + 1..];
            let body = if flag == 1 {
                inflate(text, budget)?
            } else {
                text.to_vec()
            };
            (false, body)
        }
    };
    let mut out: Vec<u8> = keyword.to_vec();
    out.push(b'\n');
    if latin1 {
        out.extend(body.iter().map(|&b| b as char).collect::<String>().bytes());
    } else {
        out.extend_from_slice(&body);
    }
    Some(out)
}

/// zlib data, bounded by the buffer limit and the ratio limit.
fn inflate(data: &[u8], budget: &Budget) -> Option<Vec<u8>> {
    let cap = budget
        .limits
        .max_buffer
        .min((data.len() as u64).saturating_mul(budget.limits.max_ratio));
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(cap + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() as u64 <= cap).then_some(out)
}
