//! Word 97-2003 documents ([MS-DOC]): the text of the `WordDocument`
//! stream through the piece table.
//!
//! Enters: the `WordDocument` stream and the table stream it names
//! (`0Table` or `1Table`). Leaves: the document's text in character
//! position order: the main text, then footnotes, headers and footers,
//! comments, endnotes and text boxes, which Word stores after it in the
//! same character stream. The piece table (the `Clx` in the table stream)
//! says where each run of characters lives: 8-bit (Windows-1252) or
//! UTF-16 pieces, in any order (a fast-saved document appends edits at the
//! end of the file and points pieces at them). Field instructions
//! (`PAGE`, `HYPERLINK "..."`) are left out, their results kept; paragraph
//! and cell marks become line ends and tabs.

/// Why a document's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    #[error("not a Word 97-2003 document (unknown WordDocument header)")]
    NotWord,
    #[error("the document is encrypted (a password protects it): its text was not read")]
    Encrypted,
    #[error("the document's piece table is missing or damaged: its text was not read")]
    NoPieceTable,
    #[error(
        "a piece of the document's text lies outside the WordDocument stream (the file is truncated or damaged)"
    )]
    PieceOutside,
    #[error(
        "more than {0} bytes of text in the document: the rest was not read (raise limits.max_buffer or --max-buffer)"
    )]
    TooMuchText(u64),
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// Which table stream the document's header names.
pub fn table_name(word: &[u8]) -> Result<&'static str, DocError> {
    if u16_at(word, 0) != Some(0xA5EC) {
        return Err(DocError::NotWord);
    }
    // nFib: Word 97 and later write 0x00C1 or more (later versions keep
    // it and say more in the FIB's tail); Word 6 and 95 (0x0065-0x0069)
    // have another header, without this piece table.
    if u16_at(word, 2).is_none_or(|n| n < 0x00C0) {
        return Err(DocError::NotWord);
    }
    let flags = u16_at(word, 0x0A).ok_or(DocError::NotWord)?;
    if flags & 0x0100 != 0 {
        return Err(DocError::Encrypted);
    }
    Ok(if flags & 0x0200 != 0 {
        "1Table"
    } else {
        "0Table"
    })
}

/// The document's text from its `WordDocument` stream and table stream,
/// at most `cap` bytes, and why it stops early, if it does.
pub fn text(word: &[u8], table: &[u8], cap: u64) -> (String, Option<DocError>) {
    // FibRgFcLcb97: fcClx at 0x1A2, lcbClx at 0x1A6 (after the 32-byte
    // base, the shorts and the longs).
    let (Some(fc), Some(lcb)) = (u32_at(word, 0x1A2), u32_at(word, 0x1A6)) else {
        return (String::new(), Some(DocError::NoPieceTable));
    };
    let Some(clx) = table.get(fc as usize..(fc as usize).saturating_add(lcb as usize)) else {
        return (String::new(), Some(DocError::NoPieceTable));
    };
    // Skip the Prc entries (formatting), find the Pcdt (0x02).
    let mut at = 0;
    let plc = loop {
        match clx.get(at) {
            Some(1) => {
                let n = u16_at(clx, at + 1).unwrap_or(u16::MAX) as usize;
                at += 3 + n;
            }
            Some(2) => {
                let n = u32_at(clx, at + 1).unwrap_or(0) as usize;
                match clx.get(at + 5..(at + 5).saturating_add(n)) {
                    Some(p) => break p,
                    None => return (String::new(), Some(DocError::NoPieceTable)),
                }
            }
            _ => return (String::new(), Some(DocError::NoPieceTable)),
        }
    };
    if plc.len() < 16 || (plc.len() - 4) % 12 != 0 {
        return (String::new(), Some(DocError::NoPieceTable));
    }
    let n = (plc.len() - 4) / 12;
    let mut units: Vec<u16> = Vec::new();
    let mut failure = None;
    for i in 0..n {
        let cp0 = u32_at(plc, 4 * i).unwrap_or(0);
        let cp1 = u32_at(plc, 4 * (i + 1)).unwrap_or(0);
        let count = cp1.saturating_sub(cp0) as usize;
        let pcd = 4 * (n + 1) + 8 * i;
        let fc = u32_at(plc, pcd + 2).unwrap_or(0);
        if (units.len() + count) as u64 * 2 > cap {
            failure = Some(DocError::TooMuchText(cap));
            break;
        }
        if fc & 0x4000_0000 != 0 {
            let start = ((fc & !0x4000_0000) / 2) as usize;
            match word.get(start..start.saturating_add(count)) {
                Some(bytes) => units.extend(bytes.iter().map(|&b| cp1252(b))),
                None => {
                    failure = Some(DocError::PieceOutside);
                    continue;
                }
            }
        } else {
            let start = fc as usize;
            match word.get(start..start.saturating_add(2 * count)) {
                Some(bytes) => units.extend(
                    bytes
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]])),
                ),
                None => {
                    failure = Some(DocError::PieceOutside);
                    continue;
                }
            }
        }
    }
    (visible(&String::from_utf16_lossy(&units)), failure)
}

/// A byte of a compressed (8-bit) piece: Windows-1252.
fn cp1252(b: u8) -> u16 {
    let mut out = [0u16; 2];
    let (_, _, written, _) = encoding_rs::WINDOWS_1252
        .new_decoder_without_bom_handling()
        .decode_to_utf16(&[b], &mut out, true);
    if written == 0 { u16::from(b) } else { out[0] }
}

/// The characters a person sees: field instructions dropped, Word's
/// marks turned into line ends and tabs.
fn visible(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    // One entry per open field: whether we are still in its instructions.
    let mut fields: Vec<bool> = Vec::new();
    for c in raw.chars() {
        match c {
            '\u{13}' => fields.push(true),
            '\u{14}' => {
                if let Some(f) = fields.last_mut() {
                    *f = false;
                }
            }
            '\u{15}' => {
                fields.pop();
            }
            _ if fields.iter().any(|&in_code| in_code) => {}
            '\r' | '\u{0B}' | '\u{0C}' | '\u{0E}' => out.push('\n'),
            '\u{07}' => out.push('\t'),
            // Object anchors, footnote marks, pictures: no text.
            '\u{01}' | '\u{02}' | '\u{03}' | '\u{04}' | '\u{05}' | '\u{08}' => {}
            '\u{1E}' => out.push('-'),
            '\u{1F}' => {}
            '\u{A0}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WordDocument stream with the given pieces: (8-bit?, text).
    fn doc(pieces: &[(bool, &str)]) -> (Vec<u8>, Vec<u8>) {
        let mut word = vec![0u8; 0x400];
        word[0..2].copy_from_slice(&0xA5ECu16.to_le_bytes());
        word[2..4].copy_from_slice(&0x00C1u16.to_le_bytes());
        word[0x0A..0x0C].copy_from_slice(&0x0200u16.to_le_bytes());
        let mut cps = vec![0u32];
        let mut pcds = Vec::new();
        for (narrow, t) in pieces {
            let at = word.len() as u32;
            let count: u32;
            if *narrow {
                word.extend_from_slice(t.as_bytes());
                count = t.len() as u32;
                pcds.push((at * 2) | 0x4000_0000);
            } else {
                let u: Vec<u16> = t.encode_utf16().collect();
                for x in &u {
                    word.extend_from_slice(&x.to_le_bytes());
                }
                count = u.len() as u32;
                pcds.push(at);
            }
            cps.push(cps.last().unwrap() + count);
        }
        let mut plc = Vec::new();
        for cp in &cps {
            plc.extend_from_slice(&cp.to_le_bytes());
        }
        for fc in &pcds {
            plc.extend_from_slice(&0u16.to_le_bytes());
            plc.extend_from_slice(&fc.to_le_bytes());
            plc.extend_from_slice(&0u16.to_le_bytes());
        }
        let mut table = vec![1u8, 2, 0, 9, 9];
        table.push(2);
        table.extend_from_slice(&(plc.len() as u32).to_le_bytes());
        table.extend_from_slice(&plc);
        word[0x1A2..0x1A6].copy_from_slice(&0u32.to_le_bytes());
        word[0x1A6..0x1AA].copy_from_slice(&(table.len() as u32).to_le_bytes());
        (word, table)
    }

    #[test]
    fn pieces_in_both_widths_join_in_character_order() {
        // A fast-saved edit: the number split over an 8-bit piece and a
        // UTF-16 piece stored later in the stream.
        let (word, table) = doc(&[(true, "card 4111 1111"), (false, " 1111 1111\r")]);
        assert_eq!(table_name(&word), Ok("1Table"));
        let (t, e) = text(&word, &table, 1 << 20);
        assert_eq!(e, None);
        assert_eq!(t, "card 4111 1111 1111 1111\n");
    }

    #[test]
    fn field_instructions_are_left_out_and_results_kept() {
        let raw = "a\u{13} HYPERLINK \"x 99\" \u{14}link\u{15}\u{7}b\r";
        assert_eq!(visible(raw), "alink\tb\n");
    }

    #[test]
    fn a_piece_outside_the_stream_says_so() {
        let (mut word, table) = doc(&[(true, "hello")]);
        word.truncate(0x402);
        assert_eq!(text(&word, &table, 1 << 20).1, Some(DocError::PieceOutside));
    }

    #[test]
    fn encrypted_and_foreign_headers_say_so() {
        let (mut word, _) = doc(&[(true, "x")]);
        word[0x0A] = 0x00;
        word[0x0B] = 0x01;
        assert_eq!(table_name(&word), Err(DocError::Encrypted));
        assert_eq!(table_name(b"nope"), Err(DocError::NotWord));
        // Word 95 (nFib 0x0068): another header, not misread.
        word[2..4].copy_from_slice(&0x0068u16.to_le_bytes());
        assert_eq!(table_name(&word), Err(DocError::NotWord));
    }
}
