//! PowerPoint 97-2003 presentations ([MS-PPT]): the text atoms of the
//! `PowerPoint Document` stream.
//!
//! Enters: the stream's bytes. Leaves: the text of every `TextCharsAtom`
//! (UTF-16), `TextBytesAtom` (8-bit) and `CString` (comments, notes), one
//! per line, in the order they are stored. Records nest: a container
//! record (version 0xF) is entered, an atom is read or stepped over, so a
//! loop of records cannot happen (every step moves forward).

/// Record types ([MS-PPT] 2.13.24).
const TEXT_CHARS_ATOM: u16 = 0x0FA0;
const TEXT_BYTES_ATOM: u16 = 0x0FA8;
const CSTRING: u16 = 0x0FBA;

/// Why a presentation's text stops early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PptError {
    #[error("the presentation stream is truncated inside a record (the rest was not read)")]
    Truncated,
    #[error(
        "more than {0} bytes of text in the presentation: the rest was not read (raise limits.max_buffer or --max-buffer)"
    )]
    TooMuchText(u64),
}

/// The text of a `PowerPoint Document` stream, at most `cap` bytes.
pub fn text(data: &[u8], cap: u64) -> (String, Option<PptError>) {
    let mut out = String::new();
    let mut at = 0usize;
    while at + 8 <= data.len() {
        if out.len() as u64 > cap {
            return (out, Some(PptError::TooMuchText(cap)));
        }
        let ver = u16::from_le_bytes([data[at], data[at + 1]]);
        let kind = u16::from_le_bytes([data[at + 2], data[at + 3]]);
        let len =
            u32::from_le_bytes([data[at + 4], data[at + 5], data[at + 6], data[at + 7]]) as usize;
        let body_at = at + 8;
        if ver & 0xF == 0xF {
            // A container: its records follow.
            at = body_at;
            continue;
        }
        let Some(body) = data.get(body_at..body_at.saturating_add(len)) else {
            return (out, Some(PptError::Truncated));
        };
        match kind {
            TEXT_CHARS_ATOM | CSTRING => {
                let units: Vec<u16> = body
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                push_line(&mut out, &String::from_utf16_lossy(&units));
            }
            TEXT_BYTES_ATOM => {
                let (s, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(body);
                push_line(&mut out, &s);
            }
            _ => {}
        }
        at = body_at + len;
    }
    (out, None)
}

/// PowerPoint ends paragraphs with `\r` and lines with `\v`.
fn push_line(out: &mut String, s: &str) {
    out.extend(s.chars().map(|c| match c {
        '\r' | '\u{0B}' => '\n',
        c => c,
    }));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ver: u16, kind: u16, body: &[u8]) -> Vec<u8> {
        let mut v = ver.to_le_bytes().to_vec();
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(&(body.len() as u32).to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn text_atoms_inside_containers() {
        let wide: Vec<u8> = "PESEL 44051401359"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let inner = [
            rec(0, TEXT_BYTES_ATOM, b"card 4111111111111111"),
            rec(0, 0x0FA1, &[0; 6]),
            rec(0, TEXT_CHARS_ATOM, &wide),
        ]
        .concat();
        let data = rec(0xF, 0x03E8, &inner);
        let (t, e) = text(&data, 1 << 20);
        assert_eq!(e, None);
        assert_eq!(t, "card 4111111111111111\nPESEL 44051401359\n");
    }

    #[test]
    fn truncated_atom_says_so() {
        let mut data = rec(0, TEXT_BYTES_ATOM, b"abcdef");
        data.truncate(10);
        assert_eq!(text(&data, 1 << 20).1, Some(PptError::Truncated));
    }
}
