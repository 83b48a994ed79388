//! Office documents: the text a person sees in OOXML (docx, xlsx, pptx) and
//! OpenDocument (odt, ods, odp) parts.
//!
//! Both are zips of XML parts. Word splits one number over several runs
//! after edits (`<w:t>4111 1111</w:t></w:r><w:r><w:t> 1111 1111</w:t>`), so
//! the text of a paragraph is joined before matching: character data is
//! concatenated, a paragraph or row ends a line, a cell or tab adds a tab.
//! Spreadsheet numbers written in scientific notation
//! (`4.111111111111111E+15`) are written back as the integer they are.
//! Formulas and field codes are not text a person sees and are left out.
//! Metadata parts (`docProps/*.xml`, `meta.xml`) hold one value per
//! element, so each element ends a line there.

use std::io::{BufReader, Read};

use quick_xml::events::Event;

use super::{Budget, LeafSink, LimitHit, Place, Problem, Step, join};
use crate::report::event::FileStatus;

/// Which family a zip belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ooxml,
    OpenDocument,
}

/// The office family of a zip from its member names (and, for
/// OpenDocument, the `mimetype` member's first bytes, read by `head`).
pub fn kind_of(names: &[String], head: impl FnOnce(&str) -> Option<Vec<u8>>) -> Option<Kind> {
    if names.iter().any(|n| n == "[Content_Types].xml") {
        return Some(Kind::Ooxml);
    }
    if names.iter().any(|n| n == "mimetype")
        && head("mimetype").is_some_and(|h| h.starts_with(b"application/vnd.oasis.opendocument"))
    {
        return Some(Kind::OpenDocument);
    }
    None
}

/// Whether a member is an XML part whose text is extracted (the rest, such
/// as embedded objects, is opened like any other member).
pub fn is_text_part(kind: Kind, name: &str) -> bool {
    let xml = name.ends_with(".xml");
    match kind {
        Kind::Ooxml => xml && name != "[Content_Types].xml",
        Kind::OpenDocument => xml && !name.starts_with("META-INF/"),
    }
}

/// Extracts the text of one XML part and hands it to the sink.
pub fn part(
    reader: &mut dyn Read,
    kind: Kind,
    name: &str,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    let path = join(place.member, Step::Entry(name.to_string()));
    if !budget.admit(&path, sink) {
        return;
    }
    let (text, failure) = xml_text_in(
        reader,
        kind,
        is_metadata(kind, name),
        budget.limits.max_buffer,
    );
    if let Err(e) = sink.leaf(Some(&path), &mut &text[..]) {
        sink.problem(Problem {
            member: Some(path.clone()),
            status: FileStatus::Partial,
            reason: format!("read error: {e}"),
        });
    }
    if let Some(reason) = failure {
        sink.problem(Problem {
            member: Some(path),
            status: FileStatus::Partial,
            reason,
        });
    }
}

/// What an element does to the text around it.
enum Role {
    /// Ends a line: paragraphs, headings, rows, line breaks.
    Line,
    /// Separates cells: a tab.
    Cell,
    /// One space (`<text:s/>`).
    Space,
    /// Its content is not text a person sees: formulas, field codes.
    Hidden,
    /// A spreadsheet value: numbers may need rewriting.
    Value,
    Other,
}

fn role(kind: Kind, local: &str) -> Role {
    match (kind, local) {
        (_, "p" | "h" | "br" | "cr" | "row" | "tr" | "si" | "table-row") => Role::Line,
        (_, "line-break") => Role::Line,
        (_, "tab" | "tc" | "table-cell") => Role::Cell,
        (Kind::Ooxml, "c") => Role::Cell,
        (Kind::OpenDocument, "s") => Role::Space,
        (Kind::Ooxml, "f" | "instrText" | "rPh") => Role::Hidden,
        (Kind::Ooxml, "v") => Role::Value,
        _ => Role::Other,
    }
}

/// Whether a part holds the document's metadata (OOXML `docProps/*.xml`,
/// OpenDocument `meta.xml`): one value per element (title, subject,
/// keywords, company, custom properties), which must not run together.
fn is_metadata(kind: Kind, name: &str) -> bool {
    match kind {
        Kind::Ooxml => name.starts_with("docProps/"),
        Kind::OpenDocument => name == "meta.xml",
    }
}

/// The visible text of an XML part, capped at `cap` bytes; the second value
/// says why extraction stopped early, if it did.
#[cfg(test)]
fn xml_text(reader: &mut dyn Read, kind: Kind, cap: u64) -> (Vec<u8>, Option<String>) {
    xml_text_in(reader, kind, false, cap)
}

/// As `xml_text`; in a `metadata` part every element ends a line (the
/// title `Report` and the subject `card 4539...` are two values, not
/// `Reportcard 4539...`, and a number glued to a word is not one).
fn xml_text_in(
    reader: &mut dyn Read,
    kind: Kind,
    metadata: bool,
    cap: u64,
) -> (Vec<u8>, Option<String>) {
    let mut xml = quick_xml::Reader::from_reader(BufReader::new(reader));
    xml.config_mut().check_end_names = false;
    let mut out: Vec<u8> = Vec::new();
    let mut buf = Vec::new();
    let mut hidden = 0u32;
    let mut in_value = false;
    let mut value = String::new();
    loop {
        if out.len() as u64 > cap {
            return (
                out,
                Some(format!(
                    "more than {cap} bytes of text in one part: the rest was not scanned \
                     (raise limits.max_buffer or --max-buffer)"
                )),
            );
        }
        let event = match xml.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => {
                let reason = match &e {
                    quick_xml::Error::Io(io) => match LimitHit::of(io) {
                        Some(hit) => hit.0.clone(),
                        None => format!("cannot read the XML: {io}"),
                    },
                    other => {
                        format!("malformed XML: {other} (the rest of this part was not scanned)")
                    }
                };
                return (out, Some(reason));
            }
        };
        match event {
            Event::Eof => break,
            Event::Start(e) => match role(kind, e.local_name().as_ref()) {
                Role::Hidden => hidden += 1,
                Role::Value => {
                    in_value = true;
                    value.clear();
                }
                _ => {}
            },
            Event::Empty(e) => match role(kind, e.local_name().as_ref()) {
                Role::Line => out.push(b'\n'),
                Role::Cell => out.push(b'\t'),
                Role::Space => out.push(b' '),
                _ => {}
            },
            Event::End(e) => match role(kind, e.local_name().as_ref()) {
                Role::Line => out.push(b'\n'),
                Role::Cell => out.push(b'\t'),
                Role::Hidden => hidden = hidden.saturating_sub(1),
                Role::Value => {
                    in_value = false;
                    out.extend_from_slice(plain_number(&value).as_bytes());
                }
                _ if metadata => out.push(b'\n'),
                _ => {}
            },
            Event::Text(t) if hidden == 0 => {
                let text = t.xml10_content();
                if in_value {
                    value.push_str(&text);
                } else {
                    out.extend_from_slice(text.as_bytes());
                }
            }
            Event::CData(t) if hidden == 0 => out.extend_from_slice(t.xml10_content().as_bytes()),
            Event::GeneralRef(r) if hidden == 0 => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    _ => match r.as_ref() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => None,
                    },
                };
                if let Some(c) = c {
                    let mut tmp = [0u8; 4];
                    let s = c.encode_utf8(&mut tmp);
                    if in_value {
                        value.push_str(s);
                    } else {
                        out.extend_from_slice(s.as_bytes());
                    }
                }
            }
            _ => {}
        }
        buf.clear();
    }
    (out, None)
}

/// A spreadsheet value as a person sees it: `4.111111111111111E+15` is the
/// integer 4111111111111111 when it is one exactly.
fn plain_number(v: &str) -> String {
    let t = v.trim();
    if t.contains(['E', 'e'])
        && let Ok(f) = t.parse::<f64>()
        && f.is_finite()
        && f.fract() == 0.0
        && f.abs() < 9.0e15
    {
        return format!("{}", f as i64);
    }
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(kind: Kind, xml: &str) -> String {
        let (out, failure) = xml_text(&mut xml.as_bytes(), kind, 1 << 20);
        assert_eq!(failure, None);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn word_runs_of_a_paragraph_are_joined() {
        let xml = r#"<w:document xmlns:w="x"><w:body><w:p><w:r><w:t>card 4111 1111</w:t></w:r><w:r><w:t xml:space="preserve"> 1111 1111</w:t></w:r></w:p><w:p><w:r><w:instrText>PAGE 1234</w:instrText><w:t>next</w:t></w:r></w:p></w:body></w:document>"#;
        assert_eq!(text(Kind::Ooxml, xml), "card 4111 1111 1111 1111\nnext\n");
    }

    #[test]
    fn spreadsheet_cells_and_numbers() {
        let xml = r#"<worksheet><sheetData><row><c t="s"><v>0</v></c><c><v>4.111111111111111E+15</v></c><c><f>SUM(A1)</f><v>12</v></c></row></sheetData></worksheet>"#;
        assert_eq!(text(Kind::Ooxml, xml), "0\t4111111111111111\t12\t\n");
    }

    #[test]
    fn opendocument_spaces_tabs_and_entities() {
        let xml = r#"<office:document-content><text:p>PESEL<text:s/>8512<text:span>0312343</text:span> &amp; more&#x21;</text:p></office:document-content>"#;
        assert_eq!(text(Kind::OpenDocument, xml), "PESEL 85120312343 & more!\n");
    }

    #[test]
    fn malformed_xml_keeps_the_text_before_the_error() {
        let (out, failure) = xml_text(&mut &b"<a><p>ok 1</p><b"[..], Kind::Ooxml, 1 << 20);
        assert!(String::from_utf8_lossy(&out).starts_with("ok 1\n"));
        assert!(failure.is_some());
    }
}
