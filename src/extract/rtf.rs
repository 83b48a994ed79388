//! Rich Text Format: the text a person sees, and the objects embedded in
//! it; and compressed RTF ([MS-OXRTFCP], "LZFu"), the form Outlook keeps a
//! message body in.
//!
//! Enters: RTF bytes (a whole document, held in memory up to
//! `max_buffer`). Leaves: the visible text (`\par`, `\line`, `\row` end a
//! line, `\tab` and `\cell` add a tab; `\uN` Unicode escapes with their
//! `\ucN` fallback characters skipped; `\'hh` bytes decoded in the
//! document's code page, `\ansicpgN`, Windows-1252 by default, so that a
//! GBK or Windows-1250 document reads right; hidden destinations
//! (`{\*\...}`, font and colour tables, style sheets, pictures, field
//! instructions) skipped; `\binN` data stepped over), and the embedded
//! objects (`\objdata`, an OLE1 object: its native data, usually a
//! compound file, opened as a member).

use std::io::Read;

use super::{Budget, LeafSink, Place, Step, member, whole_or_raw};

/// Opens an RTF document from `stream`: its visible text is the leaf (at
/// the document's own place: RTF is a text view, like a decompressed
/// layer), its embedded objects members `object N`.
pub fn document(stream: &mut dyn Read, place: Place<'_>, budget: &Budget, sink: &mut dyn LeafSink) {
    let Some(data) = whole_or_raw(stream, "an RTF document", place, budget, sink) else {
        return;
    };
    let parsed = parse(&data, budget.limits.max_buffer);
    super::leaf(&mut parsed.text.as_bytes(), place, sink);
    for (n, object) in parsed.objects.iter().enumerate() {
        member(&mut &object[..], Step::Object(n + 1), place, budget, sink);
    }
}

/// Why RTF could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtfError {
    #[error("compressed RTF header is damaged or truncated")]
    BadHeader,
    #[error("compressed RTF of an unknown kind")]
    UnknownCompression,
    #[error("compressed RTF data is truncated (the rest was not read)")]
    Truncated,
    #[error(
        "compressed RTF expands past {0} bytes: the rest was not read (raise limits.max_buffer or --max-buffer)"
    )]
    TooBig(u64),
}

/// The dictionary compressed RTF starts with ([MS-OXRTFCP] 2.1.2.1).
const PREBUF: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// Decompresses compressed RTF, at most `cap` bytes of output.
pub fn decompress(data: &[u8], cap: u64) -> Result<(Vec<u8>, Option<RtfError>), RtfError> {
    if data.len() < 16 {
        return Err(RtfError::BadHeader);
    }
    let comp_size = u32::from_le_bytes(data[0..4].try_into().expect("four bytes")) as usize;
    let raw_size = u64::from(u32::from_le_bytes(
        data[4..8].try_into().expect("four bytes"),
    ));
    let magic = &data[8..12];
    let end = data.len().min(comp_size.saturating_add(4));
    let body = &data[16.min(end)..end];
    match magic {
        b"MELA" => {
            let n = body.len().min(cap as usize).min(raw_size as usize);
            return Ok((body[..n].to_vec(), None));
        }
        b"LZFu" => {}
        _ => return Err(RtfError::UnknownCompression),
    }
    let mut dict = [0u8; 4096];
    dict[..PREBUF.len()].copy_from_slice(PREBUF);
    let mut write = PREBUF.len();
    let mut out = Vec::with_capacity(raw_size.min(cap).min(1 << 24) as usize);
    let mut at = 0;
    loop {
        let Some(&control) = body.get(at) else {
            return Ok((out, Some(RtfError::Truncated)));
        };
        at += 1;
        for bit in 0..8 {
            if out.len() as u64 >= cap {
                return Ok((out, Some(RtfError::TooBig(cap))));
            }
            if control & (1 << bit) == 0 {
                let Some(&b) = body.get(at) else {
                    return Ok((out, Some(RtfError::Truncated)));
                };
                at += 1;
                out.push(b);
                dict[write] = b;
                write = (write + 1) % 4096;
            } else {
                let (Some(&hi), Some(&lo)) = (body.get(at), body.get(at + 1)) else {
                    return Ok((out, Some(RtfError::Truncated)));
                };
                at += 2;
                let word = u16::from_be_bytes([hi, lo]) as usize;
                let offset = word >> 4;
                let len = (word & 0xF) + 2;
                if offset == write {
                    return Ok((out, None));
                }
                for i in 0..len {
                    let b = dict[(offset + i) % 4096];
                    out.push(b);
                    dict[write] = b;
                    write = (write + 1) % 4096;
                }
            }
        }
    }
}

/// What RTF holds: the visible text, and embedded objects' native data.
#[derive(Debug, Default)]
pub struct Parsed {
    pub text: String,
    pub objects: Vec<Vec<u8>>,
}

/// Destinations whose content is not text a person sees.
const HIDDEN: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "fldinst",
    "listtable",
    "listoverridetable",
    "revtbl",
    "rsidtbl",
    "generator",
    "xmlnstbl",
    "themedata",
    "colorschememapping",
    "latentstyles",
    "datastore",
    "filetbl",
    "header_hidden",
    "object",
    "objclass",
    "objname",
    "bkmkstart",
    "bkmkend",
    "field_hidden",
    "mmathPr",
    "pgdsctbl",
    "fchars",
    "lchars",
];

/// Starred destinations whose text a person sees: footnotes and
/// endnotes, comments.
const SHOWN_STARRED: &[&str] = &["footnote", "annotation"];

#[derive(Clone, Copy)]
struct Group {
    hidden: bool,
    uc: usize,
    objdata: bool,
}

/// The visible text and embedded objects of an RTF document; `cap` bounds
/// the text and each object's bytes.
pub fn parse(data: &[u8], cap: u64) -> Parsed {
    let cap = cap as usize;
    let mut out = Parsed::default();
    let mut stack: Vec<Group> = Vec::new();
    let mut g = Group {
        hidden: false,
        uc: 1,
        objdata: false,
    };
    let mut encoding = encoding_rs::WINDOWS_1252;
    // Bytes from `\'hh` waiting to be decoded together (a GBK character is
    // two of them).
    let mut pending: Vec<u8> = Vec::new();
    let mut skip_fallback = 0usize;
    let mut object_hex: Vec<u8> = Vec::new();
    let mut group_start = false;
    let mut star = false;
    let mut i = 0;
    let flush = |pending: &mut Vec<u8>, text: &mut String, enc: &'static encoding_rs::Encoding| {
        if !pending.is_empty() {
            let (s, _) = enc.decode_without_bom_handling(pending);
            text.push_str(&s);
            pending.clear();
        }
    };
    while i < data.len() {
        if out.text.len() > cap {
            break;
        }
        let c = data[i];
        match c {
            b'{' => {
                flush(&mut pending, &mut out.text, encoding);
                stack.push(g);
                g.objdata = false;
                group_start = true;
                i += 1;
                continue;
            }
            b'}' => {
                flush(&mut pending, &mut out.text, encoding);
                if g.objdata {
                    out.objects.push(ole1_native(&hex(&object_hex)));
                    object_hex.clear();
                }
                g = stack.pop().unwrap_or(g);
                i += 1;
            }
            b'\\' => {
                let Some(&n) = data.get(i + 1) else { break };
                if n.is_ascii_alphabetic() {
                    let start = i + 1;
                    let mut j = start;
                    while j < data.len() && data[j].is_ascii_alphabetic() && j - start < 32 {
                        j += 1;
                    }
                    let word = std::str::from_utf8(&data[start..j]).unwrap_or("");
                    let mut k = j;
                    if data.get(k) == Some(&b'-') {
                        k += 1;
                    }
                    while k < data.len() && data[k].is_ascii_digit() && k - j < 11 {
                        k += 1;
                    }
                    let param: Option<i64> = std::str::from_utf8(&data[j..k])
                        .ok()
                        .and_then(|s| s.parse().ok());
                    if data.get(k) == Some(&b' ') {
                        k += 1;
                    }
                    i = k;
                    if word != "u" && word != "bin" {
                        flush(&mut pending, &mut out.text, encoding);
                    }
                    if group_start && HIDDEN.contains(&word) {
                        g.hidden = true;
                    }
                    // `{\*\word`: a destination a reader that does not know
                    // it skips; footnotes and comments are written so too,
                    // and a person sees them.
                    if std::mem::take(&mut star) && !SHOWN_STARRED.contains(&word) {
                        g.hidden = true;
                    }
                    group_start = false;
                    match word {
                        "bin" => {
                            let n = param.unwrap_or(0).max(0) as usize;
                            i = i.saturating_add(n);
                        }
                        "objdata" => {
                            g.hidden = true;
                            g.objdata = true;
                        }
                        "ansicpg" => {
                            if let Some(e) = param.and_then(codepage) {
                                encoding = e;
                            }
                        }
                        "uc" => g.uc = param.unwrap_or(1).clamp(0, 16) as usize,
                        "u" if !g.hidden => {
                            flush(&mut pending, &mut out.text, encoding);
                            let v = param.unwrap_or(0);
                            let v = if v < 0 { v + 65536 } else { v } as u32;
                            out.text.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                            skip_fallback = g.uc;
                        }
                        "par" | "line" | "row" | "sect" | "page" if !g.hidden => {
                            out.text.push('\n')
                        }
                        "tab" | "cell" if !g.hidden => out.text.push('\t'),
                        _ => {}
                    }
                    continue;
                }
                group_start = false;
                match n {
                    b'\'' => {
                        let h = data.get(i + 2..i + 4).and_then(|h| {
                            u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
                        });
                        i += 4;
                        if skip_fallback > 0 {
                            skip_fallback -= 1;
                        } else if let Some(b) = h
                            && !g.hidden
                        {
                            pending.push(b);
                        }
                    }
                    b'*' => {
                        star = true;
                        i += 2;
                    }
                    b'~' if !g.hidden => {
                        out.text.push(' ');
                        i += 2;
                    }
                    b'-' | b'_' => i += 2,
                    b'\\' | b'{' | b'}' if !g.hidden => {
                        flush(&mut pending, &mut out.text, encoding);
                        out.text.push(n as char);
                        i += 2;
                    }
                    b'\n' | b'\r' if !g.hidden => {
                        out.text.push('\n');
                        i += 2;
                    }
                    _ => i += 2,
                }
                continue;
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                group_start = false;
                if g.objdata {
                    if object_hex.len() < cap.saturating_mul(2) {
                        object_hex.push(c);
                    }
                } else if skip_fallback > 0 {
                    skip_fallback -= 1;
                } else if !g.hidden {
                    flush(&mut pending, &mut out.text, encoding);
                    out.text.push(c as char);
                }
                i += 1;
                continue;
            }
        }
        group_start = false;
    }
    flush(&mut pending, &mut out.text, encoding);
    out
}

/// An encoding for a Windows code page number.
pub(super) fn codepage(cp: i64) -> Option<&'static encoding_rs::Encoding> {
    let label = match cp {
        874 => "windows-874".to_string(),
        932 => "shift_jis".into(),
        936 => "gbk".into(),
        949 => "euc-kr".into(),
        950 => "big5".into(),
        1250..=1258 => format!("windows-{cp}"),
        65001 => "utf-8".into(),
        _ => return None,
    };
    encoding_rs::Encoding::for_label(label.as_bytes())
}

/// Hex digits to bytes (whitespace between them ignored).
fn hex(digits: &[u8]) -> Vec<u8> {
    let nibbles: Vec<u8> = digits
        .iter()
        .filter_map(|&d| (d as char).to_digit(16).map(|v| v as u8))
        .collect();
    nibbles.chunks_exact(2).map(|p| p[0] << 4 | p[1]).collect()
}

/// The native data of an OLE1 object ([MS-OLEDS] 2.2.4 `ObjectHeader` +
/// `NativeData`); the bytes as they are if they are not one.
fn ole1_native(b: &[u8]) -> Vec<u8> {
    let u32_at = |at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    let parse = || -> Option<Vec<u8>> {
        // OLEVersion, FormatID (2: embedded), then three length-prefixed
        // strings (class, topic, item), then the native data's size.
        if u32_at(4)? != 2 {
            return None;
        }
        let mut at: usize = 8;
        for _ in 0..3 {
            at = at.checked_add(4)?.checked_add(u32_at(at)?)?;
        }
        let size = u32_at(at)?;
        b.get(at + 4..(at + 4).checked_add(size)?)
            .map(<[u8]>::to_vec)
    };
    parse().unwrap_or_else(|| b.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rtf: &str) -> String {
        parse(rtf.as_bytes(), 1 << 20).text
    }

    #[test]
    fn visible_text_with_escapes_and_hidden_groups() {
        let rtf = r"{\rtf1\ansi\ansicpg1250{\fonttbl{\f0 Arial 4111111111111111;}}{\*\generator Foo 1234;}\pard card 4111 \b 1111\b0  1111 1111\par \u380?\'9f\'f3\'b3w {\field{\*\fldinst HYPERLINK 5555}{\fldrslt link}}\tab x\}\par{\super\chftn}{\*\footnote\pard note 5555}}";
        assert_eq!(
            text(rtf),
            "card 4111 1111 1111 1111\nżźółw link\tx}\nnote 5555"
        );
    }

    #[test]
    fn gbk_bytes_decode_together() {
        let rtf = r"{\rtf1\ansi\ansicpg936 \'d6\'d0\'ce\'c4 110101199003077777\par}";
        assert_eq!(text(rtf), "中文 110101199003077777\n");
    }

    #[test]
    fn embedded_object_native_data_is_returned() {
        let mut ole = Vec::new();
        ole.extend_from_slice(&0x0501u32.to_le_bytes());
        ole.extend_from_slice(&2u32.to_le_bytes());
        for s in [&b"Package\0"[..], b"\0", b"\0"] {
            ole.extend_from_slice(&(s.len() as u32).to_le_bytes());
            ole.extend_from_slice(s);
        }
        ole.extend_from_slice(&5u32.to_le_bytes());
        ole.extend_from_slice(b"hello");
        let hexed: String = ole.iter().map(|b| format!("{b:02x}")).collect();
        let rtf =
            format!(r"{{\rtf1 a{{\object\objemb{{\*\objclass Package}}{{\*\objdata {hexed}}}}}b}}");
        let p = parse(rtf.as_bytes(), 1 << 20);
        assert_eq!(p.text, "ab");
        assert_eq!(p.objects, vec![b"hello".to_vec()]);
    }

    #[test]
    fn compressed_rtf_from_the_specification() {
        // [MS-OXRTFCP] 3.1.1: "{\rtf1\ansi\ansicpg1252\pard hello world}\r\n".
        let data: [u8; 49] = [
            0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5,
            0xc7, 0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42,
            0x32, 0x0a, 0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0,
            0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f, 0xa0,
        ];
        let (out, err) = decompress(&data, 1 << 20).unwrap();
        assert_eq!(err, None);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n"
        );
    }

    #[test]
    fn compressed_rtf_bounded_and_truncated() {
        assert_eq!(decompress(b"short", 100).err(), Some(RtfError::BadHeader));
        let mut data = vec![0xFFu8; 64];
        data[0..4].copy_from_slice(&1000u32.to_le_bytes());
        data[8..12].copy_from_slice(b"LZFu");
        let (out, err) = decompress(&data, 1 << 20).unwrap();
        assert!(out.len() < 1000);
        assert_eq!(err, Some(RtfError::Truncated));
    }
}
