//! Excel 97-2003 workbooks ([MS-XLS], BIFF8): the `Workbook` stream's
//! text as a person sees it in Excel.
//!
//! Enters: the bytes of the `Workbook` (or `Book`) stream. Leaves: one
//! text, sheet after sheet (a sheet's name on its own line first), cells in
//! the order they are stored (row by row), a tab after each cell and a line
//! at each new row; then cell comments, headers and footers. Strings come
//! from the shared string table, which is split over `CONTINUE` records
//! (a string's characters may change from 8-bit to 16-bit at the split).
//! Numbers are IEEE doubles (or packed `RK` values): a whole number is
//! written as the integer Excel shows (a 16-digit card number typed into a
//! cell is the double 4111111111111111.0 and is written back as
//! `4111111111111111`), any other as the shortest decimal that reads back
//! the same. A cached formula result is shown like a value; the formula is
//! not text a person sees.

/// Record types ([MS-XLS] 2.3).
mod rt {
    pub const FORMULA: u16 = 0x0006;
    pub const EOF: u16 = 0x000A;
    pub const HEADER: u16 = 0x0014;
    pub const FOOTER: u16 = 0x0015;
    pub const FILEPASS: u16 = 0x002F;
    pub const CONTINUE: u16 = 0x003C;
    pub const BOUNDSHEET: u16 = 0x0085;
    pub const MULRK: u16 = 0x00BD;
    pub const SST: u16 = 0x00FC;
    pub const LABELSST: u16 = 0x00FD;
    pub const TXO: u16 = 0x01B6;
    pub const NUMBER: u16 = 0x0203;
    pub const LABEL: u16 = 0x0204;
    pub const BOOLERR: u16 = 0x0205;
    pub const STRING: u16 = 0x0207;
    pub const RK: u16 = 0x027E;
    pub const BOF: u16 = 0x0809;
}

/// Why a workbook could not be read to its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XlsError {
    #[error("the workbook is encrypted (a password protects it): its cells were not read")]
    Encrypted,
    #[error("the workbook stream is truncated inside a record (the rest was not read)")]
    Truncated,
    #[error(
        "more than {0} bytes of text in the workbook: the rest was not read (raise limits.max_buffer or --max-buffer)"
    )]
    TooMuchText(u64),
}

/// One record: its type and the data of it and of the `CONTINUE` records
/// after it, with where each continuation starts.
struct Record<'a> {
    kind: u16,
    parts: Vec<&'a [u8]>,
}

/// The records of a BIFF stream, `CONTINUE` records joined to the one they
/// continue.
fn records(data: &[u8]) -> (Vec<Record<'_>>, bool) {
    let mut out: Vec<Record<'_>> = Vec::new();
    let mut at = 0;
    while at + 4 <= data.len() {
        let kind = u16::from_le_bytes([data[at], data[at + 1]]);
        let len = u16::from_le_bytes([data[at + 2], data[at + 3]]) as usize;
        let Some(body) = data.get(at + 4..at + 4 + len) else {
            return (out, true);
        };
        at += 4 + len;
        match out.last_mut() {
            Some(last) if kind == rt::CONTINUE => last.parts.push(body),
            _ => out.push(Record {
                kind,
                parts: vec![body],
            }),
        }
    }
    (out, at != data.len() && data.len() - at >= 4)
}

/// Reads a record's data across its `CONTINUE` parts; character data
/// crossing into a new part starts with a fresh flags byte there.
struct Cursor<'a> {
    parts: &'a [&'a [u8]],
    part: usize,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(parts: &'a [&'a [u8]]) -> Self {
        Cursor {
            parts,
            part: 0,
            at: 0,
        }
    }

    fn next_part(&mut self) -> bool {
        if self.part + 1 < self.parts.len() {
            self.part += 1;
            self.at = 0;
            true
        } else {
            false
        }
    }

    fn byte(&mut self) -> Option<u8> {
        while self.at >= self.parts.get(self.part)?.len() {
            if !self.next_part() {
                return None;
            }
        }
        let b = self.parts[self.part][self.at];
        self.at += 1;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.byte()?,
            self.byte()?,
            self.byte()?,
            self.byte()?,
        ]))
    }

    fn skip(&mut self, mut n: usize) -> Option<()> {
        while n > 0 {
            let part = self.parts.get(self.part)?;
            let left = part.len() - self.at.min(part.len());
            if left == 0 {
                if !self.next_part() {
                    return None;
                }
                continue;
            }
            let step = left.min(n);
            self.at += step;
            n -= step;
        }
        Some(())
    }

    /// `count` characters, 16-bit when `wide`; at a part boundary the new
    /// part's first byte says again whether they are wide.
    fn chars(&mut self, count: usize, mut wide: bool, out: &mut String) -> Option<()> {
        let mut units: Vec<u16> = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            if self.at >= self.parts.get(self.part)?.len() {
                if !self.next_part() {
                    return None;
                }
                wide = self.byte()? & 1 == 1;
            }
            units.push(if wide {
                self.u16()?
            } else {
                // 8-bit strings hold the low bytes of UTF-16: Latin-1.
                u16::from(self.byte()?)
            });
        }
        out.push_str(&String::from_utf16_lossy(&units));
        Some(())
    }

    /// An `XLUnicodeRichExtendedString` (the shared string table's form).
    fn rich_string(&mut self, out: &mut String) -> Option<()> {
        let count = self.u16()? as usize;
        let flags = self.byte()?;
        let runs = if flags & 0x08 != 0 { self.u16()? } else { 0 };
        let ext = if flags & 0x04 != 0 { self.u32()? } else { 0 };
        self.chars(count, flags & 1 == 1, out)?;
        self.skip(4 * runs as usize)?;
        self.skip(ext as usize)
    }
}

/// An `XLUnicodeString` (u16 count, flags, characters) in one slice.
fn short_string(d: &[u8], count16: bool) -> Option<String> {
    let (count, rest) = if count16 {
        (
            u16::from_le_bytes([*d.first()?, *d.get(1)?]) as usize,
            &d[2..],
        )
    } else {
        (*d.first()? as usize, &d[1..])
    };
    let flags = *rest.first()?;
    let mut s = String::new();
    let parts = [&rest[1..]];
    Cursor::new(&parts).chars(count, flags & 1 == 1, &mut s)?;
    Some(s)
}

/// A number as Excel's General format shows it, but never rounded to 15
/// digits: a whole number is the integer (exact below 2^53, where every
/// card number falls), anything else the shortest round-trip decimal.
pub fn show_number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// An `RK` number: a packed double or integer, maybe divided by 100.
fn rk(v: u32) -> f64 {
    let n = if v & 2 != 0 {
        f64::from((v as i32) >> 2)
    } else {
        f64::from_bits(u64::from(v & 0xFFFF_FFFC) << 32)
    };
    if v & 1 != 0 { n / 100.0 } else { n }
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// The text of a workbook stream, at most `cap` bytes, and why it stops
/// early, if it does.
pub fn text(data: &[u8], cap: u64) -> (String, Option<XlsError>) {
    let (recs, truncated) = records(data);
    let mut sst: Vec<String> = Vec::new();
    let mut out = String::new();
    let mut notes = String::new();
    let mut sheets: Vec<String> = Vec::new();
    let mut sheet = 0usize;
    let mut row: Option<u16> = None;
    for rec in &recs {
        if out.len() as u64 + notes.len() as u64 > cap {
            return (out + &notes, Some(XlsError::TooMuchText(cap)));
        }
        let d = rec.parts[0];
        let mut cell_row = |r: Option<u16>, out: &mut String| {
            if let Some(r) = r {
                if row.is_some_and(|prev| prev != r) {
                    out.push('\n');
                }
                row = Some(r);
            }
        };
        let cell = |out: &mut String, s: &str| {
            out.push_str(s);
            out.push('\t');
        };
        match rec.kind {
            rt::FILEPASS => return (out, Some(XlsError::Encrypted)),
            rt::BOUNDSHEET => {
                if let Some(name) = d.get(6..).and_then(|n| short_string(n, false)) {
                    sheets.push(name);
                }
            }
            rt::BOF => {
                let kind = u16_at(d, 2).unwrap_or(0);
                // 0x0010 a worksheet, 0x0020 a chart, 0x0005 the globals.
                if kind == 0x0010 || kind == 0x0020 {
                    if let Some(name) = sheets.get(sheet) {
                        if !out.is_empty() && !out.ends_with('\n') {
                            out.push('\n');
                        }
                        out.push_str(name);
                        out.push('\n');
                    }
                    sheet += 1;
                    row = None;
                }
            }
            rt::EOF if !out.is_empty() && !out.ends_with('\n') => out.push('\n'),
            rt::SST => {
                let mut c = Cursor::new(&rec.parts);
                let _total = c.u32();
                let unique = c.u32().unwrap_or(0);
                for _ in 0..unique {
                    let mut s = String::new();
                    if c.rich_string(&mut s).is_none() {
                        break;
                    }
                    sst.push(s);
                }
            }
            rt::LABELSST => {
                cell_row(u16_at(d, 0), &mut out);
                if let Some(s) = u32_at(d, 6).and_then(|i| sst.get(i as usize)) {
                    cell(&mut out, s);
                }
            }
            rt::LABEL => {
                cell_row(u16_at(d, 0), &mut out);
                if let Some(s) = d.get(6..).and_then(|n| short_string(n, true)) {
                    cell(&mut out, &s);
                }
            }
            rt::NUMBER => {
                cell_row(u16_at(d, 0), &mut out);
                if let Some(b) = d.get(6..14) {
                    let f = f64::from_le_bytes(b.try_into().expect("eight bytes"));
                    cell(&mut out, &show_number(f));
                }
            }
            rt::RK => {
                cell_row(u16_at(d, 0), &mut out);
                if let Some(v) = u32_at(d, 6) {
                    cell(&mut out, &show_number(rk(v)));
                }
            }
            rt::MULRK => {
                cell_row(u16_at(d, 0), &mut out);
                // row, first col, then (xf, rk) pairs, then the last col.
                let pairs = d.len().saturating_sub(6) / 6;
                for i in 0..pairs {
                    if let Some(v) = u32_at(d, 4 + 6 * i + 2) {
                        cell(&mut out, &show_number(rk(v)));
                    }
                }
            }
            rt::BOOLERR => cell_row(u16_at(d, 0), &mut out),
            rt::FORMULA => {
                cell_row(u16_at(d, 0), &mut out);
                // A cached number, unless the last two bytes of the result
                // are 0xFFFF (a string, in the STRING record next, a
                // boolean or an error).
                if let Some(b) = d.get(6..14)
                    && b[6..8] != [0xFF, 0xFF]
                {
                    let f = f64::from_le_bytes(b.try_into().expect("eight bytes"));
                    cell(&mut out, &show_number(f));
                }
            }
            rt::STRING => {
                if let Some(s) = short_string(d, true) {
                    cell(&mut out, &s);
                }
            }
            rt::HEADER | rt::FOOTER if !d.is_empty() => {
                if let Some(s) = short_string(d, true) {
                    notes.push_str(&s);
                    notes.push('\n');
                }
            }
            rt::TXO => {
                // A comment's (or a text box's) text is in the CONTINUE
                // records after it: the first starts with a flags byte.
                let count = u16_at(d, 10).unwrap_or(0) as usize;
                if rec.parts.len() > 1 {
                    let mut c = Cursor::new(&rec.parts[1..]);
                    let wide = c.byte().unwrap_or(0) & 1 == 1;
                    let mut s = String::new();
                    let _ = c.chars(count, wide, &mut s);
                    notes.push_str(&s);
                    notes.push('\n');
                }
            }
            _ => {}
        }
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&notes);
    (out, truncated.then_some(XlsError::Truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut v = kind.to_le_bytes().to_vec();
        v.extend_from_slice(&(body.len() as u16).to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    fn cell_hdr(row: u16, col: u16) -> Vec<u8> {
        let mut v = row.to_le_bytes().to_vec();
        v.extend_from_slice(&col.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v
    }

    #[test]
    fn a_card_number_in_a_numeric_cell_is_written_as_an_integer() {
        let mut body = cell_hdr(0, 0);
        body.extend_from_slice(&4111111111111111f64.to_le_bytes());
        let mut rk_body = cell_hdr(0, 1);
        rk_body.extend_from_slice(&((1234 << 2) | 2u32).to_le_bytes());
        let data = [rec(rt::NUMBER, &body), rec(rt::RK, &rk_body)].concat();
        let (t, e) = text(&data, 1 << 20);
        assert_eq!(e, None);
        assert_eq!(t, "4111111111111111\t1234\t\n");
        assert_eq!(show_number(0.5), "0.5");
        assert_eq!(show_number(rk(0x3FF0_0001)), "0.01");
    }

    #[test]
    fn shared_strings_split_over_continue_records_change_width() {
        // One string of 10 characters: "card 4111" in 8-bit in the SST
        // record, then a CONTINUE whose flags byte says 16-bit for the
        // rest.
        let mut sst = 1u32.to_le_bytes().to_vec();
        sst.extend_from_slice(&1u32.to_le_bytes());
        sst.extend_from_slice(&10u16.to_le_bytes());
        sst.push(0);
        sst.extend_from_slice(b"card 4111");
        let mut cont = vec![1u8];
        cont.extend_from_slice(&[b'1', 0]);
        let mut label = cell_hdr(3, 0);
        label.extend_from_slice(&0u32.to_le_bytes());
        let data = [
            rec(rt::SST, &sst),
            rec(rt::CONTINUE, &cont),
            rec(rt::LABELSST, &label),
        ]
        .concat();
        assert_eq!(text(&data, 1 << 20).0, "card 41111\t\n");
    }

    #[test]
    fn encrypted_workbook_says_so() {
        let data = rec(rt::FILEPASS, &[1, 0]);
        assert_eq!(text(&data, 1 << 20).1, Some(XlsError::Encrypted));
    }

    #[test]
    fn truncated_record_says_so() {
        let mut data = rec(rt::NUMBER, &[0; 14]);
        data.extend_from_slice(&rec(rt::NUMBER, &[0; 14])[..9]);
        assert_eq!(text(&data, 1 << 20).1, Some(XlsError::Truncated));
    }
}
