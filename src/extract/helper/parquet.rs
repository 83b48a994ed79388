//! Parquet: the string and integer cells of every column, as the helper's
//! parts, each named `column NAME row N`.
//!
//! Runs only inside the confined helper (`leakhound __extract parquet`, see
//! [`super`]): a Parquet file is a Thrift footer, page headers and
//! compressed pages (snappy, zstd, gzip, lz4), all from the file, and the
//! reader (the `parquet` crate's row API, without arrow) allocates what
//! they declare; under the helper's address space limit a hostile file
//! kills only the helper.
//!
//! Rows are read in order over every row group; for each cell that is a
//! string, a byte array, an integer (any width, signed or not, and a
//! decimal's unscaled digits), or a float or double (written as Excel
//! shows a number: a whole value as its integer, so that a card number a
//! warehouse stored as a double is its digits; any other as its shortest
//! decimal), nested columns (structs, lists, maps)
//! included with a dotted name, a part is written whose first line is its
//! member name (`column card_number row 17`, rows counted from 1) and whose
//! second is the value. Only cells with at least [`MIN_DIGITS`] digits are
//! written: a value with fewer digits holds none of the numbers the rules
//! look for, and writing every small integer of a large table would cost a
//! part each. Booleans, dates and times are not written.

use std::io::Write;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};

use super::{FailedParts, PART_END, Unreadable};

/// Cells with fewer digits than this are not written: the shortest number
/// any shipped rule looks for (a UK National Insurance number's six
/// digits) has this many.
pub const MIN_DIGITS: usize = 6;

/// Longest value written, in bytes: a cell bigger than this (a document in
/// a column) is written in part.
const MAX_CELL: usize = 1 << 20;

/// Writes every string and integer cell of the Parquet file `data` as a
/// named part. `Ok` with no failed parts, or `Err` with why the file could
/// not be opened; a row that cannot be decoded ends the reading (the rows
/// after it are in pages that could not be read either).
pub fn extract_cells(data: &[u8], out: &mut dyn Write) -> Result<FailedParts, Unreadable> {
    let bytes = bytes::Bytes::copy_from_slice(data);
    let reader = SerializedFileReader::new(bytes).map_err(|e| {
        Unreadable(format!(
            "not a readable Parquet file ({})",
            super::clean(&e.to_string(), 120)
        ))
    })?;
    let rows = reader.get_row_iter(None).map_err(|e| {
        Unreadable(format!(
            "its schema could not be read ({})",
            super::clean(&e.to_string(), 120)
        ))
    })?;
    let mut cells = Cells { out, row: 0 };
    for row in rows {
        cells.row += 1;
        let row = row.map_err(|e| {
            Unreadable(format!(
                "a row could not be decoded ({}); the rows before it were read",
                super::clean(&e.to_string(), 120)
            ))
        })?;
        cells.row_fields("", &row)?;
    }
    Ok(Vec::new())
}

struct Cells<'a> {
    out: &'a mut dyn Write,
    row: u64,
}

impl Cells<'_> {
    fn row_fields(&mut self, prefix: &str, row: &Row) -> Result<(), Unreadable> {
        for (name, field) in row.get_column_iter() {
            let name = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            self.field(&name, field)?;
        }
        Ok(())
    }

    fn field(&mut self, name: &str, field: &Field) -> Result<(), Unreadable> {
        let text = match field {
            Field::Str(s) => s.clone(),
            Field::Bytes(b) => String::from_utf8_lossy(b.data()).into_owned(),
            Field::Byte(v) => v.to_string(),
            Field::Short(v) => v.to_string(),
            Field::Int(v) => v.to_string(),
            Field::Long(v) => v.to_string(),
            Field::UByte(v) => v.to_string(),
            Field::UShort(v) => v.to_string(),
            Field::UInt(v) => v.to_string(),
            Field::ULong(v) => v.to_string(),
            Field::Decimal(d) => decimal_digits(d.data()),
            Field::Float(v) => crate::extract::cfb::xls::show_number(f64::from(*v)),
            Field::Double(v) => crate::extract::cfb::xls::show_number(*v),
            Field::Group(row) => return self.row_fields(name, row),
            Field::ListInternal(list) => {
                for element in list.elements() {
                    self.field(name, element)?;
                }
                return Ok(());
            }
            Field::MapInternal(map) => {
                for (key, value) in map.entries() {
                    self.field(name, key)?;
                    self.field(name, value)?;
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        if text.bytes().filter(u8::is_ascii_digit).count() < MIN_DIGITS {
            return Ok(());
        }
        let mut end = text.len().min(MAX_CELL);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        // The name line ends at the first newline: none in the name.
        let label = format!(
            "column {} row {}\n",
            name.replace(['\n', '\u{c}'], " "),
            self.row
        );
        let value = text[..end].replace('\u{c}', "\n");
        let stopped = |_| Unreadable("the scanner stopped reading".to_string());
        self.out.write_all(label.as_bytes()).map_err(stopped)?;
        self.out.write_all(value.as_bytes()).map_err(stopped)?;
        self.out.write_all(&[PART_END]).map_err(stopped)
    }
}

/// A decimal's unscaled value (big-endian two's complement) as decimal
/// digits: a card number stored as DECIMAL(16,0) is its digits.
fn decimal_digits(be: &[u8]) -> String {
    if be.len() <= 16 {
        let negative = be.first().is_some_and(|b| b & 0x80 != 0);
        let mut v: i128 = if negative { -1 } else { 0 };
        for &b in be {
            v = (v << 8) | b as i128;
        }
        v.to_string()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::decimal_digits;

    #[test]
    fn decimals_are_their_unscaled_digits() {
        assert_eq!(decimal_digits(&[0x01, 0x00]), "256");
        assert_eq!(decimal_digits(&[0xff]), "-1");
        assert_eq!(
            decimal_digits(&4111111111111111i64.to_be_bytes()),
            "4111111111111111"
        );
    }
}
