//! Locators for data exports: where in a table or a JSON document a finding
//! sits.
//!
//! The engine reports byte offsets and lines; a team that ships a CSV dump
//! wants "row 1532, column `card_number`", and one that ships JSON wants
//! `$.orders[3].payment.pan`. After a plain file is scanned and has
//! findings, the reporter streams it once more, from the start up to the
//! last finding, through a small state machine (CSV/TSV with quotes, or a
//! JSON tokenizer that tracks the path), and reads off the place of each
//! offset. Nothing is loaded whole: memory is the state machine plus one
//! read buffer, whatever the file's size.
//!
//! Offsets in and out are offsets in the decoded text, as the engine
//! reports them; the caller positions the reader at the start of the text
//! (after a byte-order mark).

mod csv;
mod json;

use std::io::{self, Read};

use crate::report::event::DataLocation;

/// Formats a locator understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// Comma, semicolon or pipe separated (sniffed from the header line).
    Csv,
    /// Tab separated.
    Tsv,
    /// One JSON document.
    Json,
    /// JSON lines: one document per line.
    JsonLines,
}

impl DataFormat {
    /// The format a file name says, if any (`.csv`, `.tsv`, `.tab`,
    /// `.json`, `.jsonl`, `.ndjson`; case does not matter).
    pub fn from_name(name: &str) -> Option<DataFormat> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(DataFormat::Csv),
            "tsv" | "tab" => Some(DataFormat::Tsv),
            "json" => Some(DataFormat::Json),
            "jsonl" | "ndjson" => Some(DataFormat::JsonLines),
            _ => None,
        }
    }
}

/// Reads from `reader` until every offset in `offsets` (ascending) has been
/// placed, and returns one location per offset (`None` where the format
/// gives none, such as a finding inside a CSV header).
pub fn locate(
    reader: &mut dyn Read,
    format: DataFormat,
    offsets: &[u64],
) -> io::Result<Vec<Option<DataLocation>>> {
    let mut marks: Vec<Option<Pending>> = vec![None; offsets.len()];
    let Some(&last) = offsets.last() else {
        return Ok(Vec::new());
    };
    let mut machine: Box<dyn Machine> = match format {
        DataFormat::Csv => Box::new(csv::Csv::new(None)),
        DataFormat::Tsv => Box::new(csv::Csv::new(Some(b'\t'))),
        DataFormat::Json => Box::new(json::Json::new(false)),
        DataFormat::JsonLines => Box::new(json::Json::new(true)),
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = 0u64;
    let mut next = 0usize;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut i = 0;
        while i < n {
            while next < offsets.len() && offsets[next] <= pos {
                marks[next] = Some(machine.mark());
                next += 1;
            }
            // Up to the next offset, skip what cannot change the state in
            // one call, then feed the byte that may.
            let until = match offsets.get(next) {
                Some(&o) => ((o - pos) as usize).min(n - i),
                None => n - i,
            };
            let skip = machine.skippable(&buf[i..i + until]);
            i += skip;
            pos += skip as u64;
            if skip < until {
                machine.byte(buf[i]);
                i += 1;
                pos += 1;
            }
        }
        if pos > last {
            break;
        }
    }
    while next < offsets.len() {
        marks[next] = Some(machine.mark());
        next += 1;
    }
    Ok(machine.resolve(marks))
}

/// A place noted at an offset, resolved into a location once the input up
/// to the last offset is seen (whether a CSV file has a header, for
/// example, is known only at the end of its first record).
#[derive(Debug, Clone)]
pub(crate) enum Pending {
    Table { record: u64, field: u64 },
    Json { row: Option<u64>, path: String },
}

trait Machine {
    /// One byte of text.
    fn byte(&mut self, b: u8);
    /// How many leading bytes of `bytes` would leave the state as it is
    /// (the inside of a quoted field or a string, say), so the caller need
    /// not feed them one by one. 0 is always a correct answer.
    fn skippable(&self, bytes: &[u8]) -> usize;
    /// The place at the current position.
    fn mark(&mut self) -> Pending;
    /// Turns the marks into locations.
    fn resolve(&self, marks: Vec<Option<Pending>>) -> Vec<Option<DataLocation>>;
}

/// True when a name from a header or a JSON key could itself hold a number
/// we look for (six digits or more, in any script): such a name is never
/// reported, so a location cannot leak what the masked value hides.
pub(crate) fn risky_name(name: &str) -> bool {
    name.chars().filter(|c| c.is_numeric()).count() >= 6
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `locate` without skipping: every byte through `Machine::byte`.
    fn locate_bytewise(
        text: &[u8],
        format: DataFormat,
        offsets: &[u64],
    ) -> Vec<Option<DataLocation>> {
        let mut machine: Box<dyn Machine> = match format {
            DataFormat::Csv => Box::new(csv::Csv::new(None)),
            DataFormat::Tsv => Box::new(csv::Csv::new(Some(b'\t'))),
            DataFormat::Json => Box::new(json::Json::new(false)),
            DataFormat::JsonLines => Box::new(json::Json::new(true)),
        };
        let mut marks = vec![None; offsets.len()];
        let mut next = 0;
        for (pos, &b) in text.iter().enumerate() {
            while next < offsets.len() && offsets[next] <= pos as u64 {
                marks[next] = Some(machine.mark());
                next += 1;
            }
            machine.byte(b);
        }
        while next < offsets.len() {
            marks[next] = Some(machine.mark());
            next += 1;
        }
        machine.resolve(marks)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn skipping_gives_the_same_places(
            text in "[a1,;|\t\"\\\n\r{}\\[\\]: ]{0,200}",
            picks in proptest::collection::vec(0u64..220, 0..8),
            format in prop_oneof![
                Just(DataFormat::Csv),
                Just(DataFormat::Tsv),
                Just(DataFormat::Json),
                Just(DataFormat::JsonLines),
            ],
        ) {
            let mut offsets = picks;
            offsets.sort_unstable();
            let got = locate(&mut text.as_bytes(), format, &offsets).unwrap();
            prop_assert_eq!(got, locate_bytewise(text.as_bytes(), format, &offsets));
        }
    }

    fn run(format: DataFormat, text: &str, needles: &[&str]) -> Vec<Option<DataLocation>> {
        let offsets: Vec<u64> = needles
            .iter()
            .map(|n| text.find(n).expect("needle in text") as u64)
            .collect();
        locate(&mut text.as_bytes(), format, &offsets).unwrap()
    }

    fn table(row: u64, field: u64, name: Option<&str>) -> Option<DataLocation> {
        Some(DataLocation {
            row: Some(row),
            field: Some(field),
            column_name: name.map(str::to_string),
            json_path: None,
        })
    }

    #[test]
    fn csv_rows_and_columns_with_quotes() {
        let text = "id,name,card_number\n1,\"Doe, \"\"J\"\"\nline\",AAA\n2,x,BBB\n";
        let got = run(DataFormat::Csv, text, &["AAA", "x,", "BBB"]);
        assert_eq!(got[0], table(1, 3, Some("card_number")));
        assert_eq!(got[1], table(2, 2, Some("name")));
        assert_eq!(got[2], table(2, 3, Some("card_number")));
    }

    #[test]
    fn csv_delimiter_is_sniffed_and_tsv_is_tabs() {
        let text = "a;b;pan\r\n1;2;CCC\r\n";
        assert_eq!(
            run(DataFormat::Csv, text, &["CCC"])[0],
            table(1, 3, Some("pan"))
        );
        let text = "a\tb,c\tpan\n1\t2,3\tDDD\n";
        assert_eq!(
            run(DataFormat::Tsv, text, &["DDD"])[0],
            table(1, 3, Some("pan"))
        );
    }

    #[test]
    fn csv_without_header_numbers_rows_from_one() {
        let text = "1,4111111111111111\n2,5500000000000004\n";
        let got = run(DataFormat::Csv, text, &["4111", "5500"]);
        assert_eq!(got[0], table(1, 2, None));
        assert_eq!(got[1], table(2, 2, None));
    }

    #[test]
    fn json_paths() {
        let text = r#"{"orders":[{"id":1},{"id":2,"payment":{"pan":"AAA","note":"x\"y"}}],"weird key":["BBB"],"c":CCC}"#;
        let got = run(DataFormat::Json, text, &["AAA", "BBB", "CCC"]);
        let paths: Vec<String> = got
            .into_iter()
            .map(|l| l.unwrap().json_path.unwrap())
            .collect();
        assert_eq!(
            paths,
            ["$.orders[1].payment.pan", "$['weird key'][0]", "$.c"]
        );
    }

    #[test]
    fn json_lines_paths_and_rows() {
        let text = "{\"a\":\"AAA\"}\n{\"b\":[1,{\"c\":\"BBB\"}]}\n";
        let got = run(DataFormat::JsonLines, text, &["AAA", "BBB"]);
        assert_eq!(got[0].as_ref().unwrap().json_path.as_deref(), Some("$.a"));
        assert_eq!(got[0].as_ref().unwrap().row, Some(1));
        assert_eq!(
            got[1].as_ref().unwrap().json_path.as_deref(),
            Some("$.b[1].c")
        );
        assert_eq!(got[1].as_ref().unwrap().row, Some(2));
    }

    #[test]
    fn names_with_numbers_are_never_reported() {
        let text = "{\"4111111111111111\":\"AAA\"}";
        let got = run(DataFormat::Json, text, &["AAA"]);
        let path = got[0].as_ref().unwrap().json_path.clone().unwrap();
        assert!(!path.contains("4111"), "{path}");
    }
}
