//! CSV and TSV: which record and field each offset falls in, respecting
//! quoted fields (with doubled quotes and line breaks inside them).
//!
//! The delimiter of a `.csv` file is sniffed from its first line: the most
//! frequent of `,` `;` `|` `\t` outside quotes (comma when none). The first
//! record is taken as a header when no finding falls in it and none of its
//! fields is a bare number; its fields name the columns.

use super::{Machine, Pending, risky_name};
use crate::report::event::DataLocation;

/// Longest header name kept, in bytes.
const MAX_NAME: usize = 256;
/// Most header fields kept.
const MAX_FIELDS: usize = 4096;
/// Bytes of the first line looked at to sniff the delimiter.
const SNIFF: usize = 64 * 1024;

pub(super) struct Csv {
    delimiter: Option<u8>,
    /// Bytes held until the delimiter is known.
    held: Vec<u8>,
    in_quotes: bool,
    quote_pending: bool,
    at_field_start: bool,
    record: u64,
    field: u64,
    header: Vec<Vec<u8>>,
    marks_in_first_record: bool,
}

impl Csv {
    pub(super) fn new(delimiter: Option<u8>) -> Csv {
        Csv {
            delimiter,
            held: Vec::new(),
            in_quotes: false,
            quote_pending: false,
            at_field_start: true,
            record: 0,
            field: 0,
            header: vec![Vec::new()],
            marks_in_first_record: false,
        }
    }

    fn sniff(&mut self) {
        let mut counts = [0usize; 4];
        let cands = [b',', b';', b'|', b'\t'];
        let mut quoted = false;
        for &b in &self.held {
            if b == b'"' {
                quoted = !quoted;
            } else if !quoted {
                if b == b'\n' {
                    break;
                }
                if let Some(i) = cands.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
            }
        }
        let best = (0..4).max_by_key(|&i| (counts[i], 4 - i)).unwrap_or(0);
        self.delimiter = Some(if counts[best] == 0 { b',' } else { cands[best] });
        let held = std::mem::take(&mut self.held);
        for b in held {
            self.feed(b);
        }
    }

    fn feed(&mut self, b: u8) {
        let delim = self.delimiter.unwrap_or(b',');
        if self.in_quotes {
            if self.quote_pending {
                self.quote_pending = false;
                if b == b'"' {
                    self.keep(b);
                    return;
                }
                self.in_quotes = false;
            } else {
                if b == b'"' {
                    self.quote_pending = true;
                } else {
                    self.keep(b);
                }
                return;
            }
        }
        if b == delim {
            self.field += 1;
            self.at_field_start = true;
            if self.record == 0 && self.header.len() < MAX_FIELDS {
                self.header.push(Vec::new());
            }
            return;
        }
        match b {
            b'\n' => {
                self.record += 1;
                self.field = 0;
                self.at_field_start = true;
            }
            b'\r' => {}
            b'"' if self.at_field_start => {
                self.in_quotes = true;
                self.at_field_start = false;
            }
            _ => {
                self.at_field_start = false;
                self.keep(b);
            }
        }
    }

    /// Keeps a byte of the first record, for the header.
    fn keep(&mut self, b: u8) {
        if self.record == 0
            && let Some(name) = self.header.get_mut(self.field as usize)
            && name.len() < MAX_NAME
        {
            name.push(b);
        }
    }

    fn has_header(&self) -> bool {
        !self.marks_in_first_record
            && self.record > 0
            && self.header.iter().all(|f| {
                let t = String::from_utf8_lossy(f);
                let t = t.trim();
                !t.is_empty() && !t.chars().all(|c| c.is_numeric() || " -.+/".contains(c))
            })
    }
}

impl Machine for Csv {
    fn skippable(&self, bytes: &[u8]) -> usize {
        // The first record is kept byte by byte for the header.
        let Some(delim) = self.delimiter else {
            return 0;
        };
        if self.record == 0 {
            return 0;
        }
        if self.in_quotes {
            if self.quote_pending {
                return 0;
            }
            return memchr::memchr(b'"', bytes).unwrap_or(bytes.len());
        }
        if self.at_field_start {
            return 0;
        }
        // Inside an unquoted field only the delimiter and the end of the
        // line count (a quote there is data).
        memchr::memchr2(delim, b'\n', bytes).unwrap_or(bytes.len())
    }

    fn byte(&mut self, b: u8) {
        if self.delimiter.is_some() {
            return self.feed(b);
        }
        self.held.push(b);
        if b == b'\n' || self.held.len() >= SNIFF {
            self.sniff();
        }
    }

    fn mark(&mut self) -> Pending {
        if self.delimiter.is_none() {
            // Still in the first line: the finding is in the first record.
            self.marks_in_first_record = true;
            // The field is counted once the delimiter is known; until then
            // count the likeliest candidates seen so far.
            let field = self
                .held
                .iter()
                .filter(|&&b| b == b',' || b == b';' || b == b'|' || b == b'\t')
                .count() as u64;
            return Pending::Table { record: 0, field };
        }
        if self.record == 0 {
            self.marks_in_first_record = true;
        }
        Pending::Table {
            record: self.record,
            field: self.field,
        }
    }

    fn resolve(&self, marks: Vec<Option<Pending>>) -> Vec<Option<DataLocation>> {
        let header = self.has_header();
        marks
            .into_iter()
            .map(|m| match m? {
                Pending::Table { record, field } => {
                    let row = if header { record } else { record + 1 };
                    let column_name = if header {
                        self.header
                            .get(field as usize)
                            .map(|n| String::from_utf8_lossy(n).trim().to_string())
                            .filter(|n| !n.is_empty() && !risky_name(n))
                    } else {
                        None
                    };
                    Some(DataLocation {
                        row: Some(row),
                        field: Some(field + 1),
                        column_name,
                        json_path: None,
                    })
                }
                Pending::Json { .. } => None,
            })
            .collect()
    }
}
