//! The PDF notes extractor: what a PDF holds outside its pages' drawing.
//!
//! A number typed into a form field or a comment is not drawn by any
//! page's content stream, so the text extractor ([`super::pdf`]) never
//! sees it. This extractor (`leakhound __extract pdf-notes`) writes, as
//! one part each (a `note N` member, numbered from 1):
//!
//! 1. every annotation's `/Contents` (comments, sticky notes, free text,
//!    a link's alternate text), page after page;
//! 2. every AcroForm field's value `/V` (a string, or each string of a
//!    list), walking the field tree from `/AcroForm /Fields`.
//!
//! Text strings are decoded as PDF says: UTF-16BE after a byte order mark,
//! UTF-8 after its mark, else PDFDocEncoding (read as Latin-1, which
//! agrees with it on digits and letters). Loops in the field tree (a kid
//! that is its own ancestor) and absurd depths are cut short: a hostile
//! file ends the walk, never the helper.

use std::collections::HashSet;
use std::io::Write;

use pdf_extract::{Document, Object, ObjectId};

use super::pdf::PdfError;
use super::{FailedParts, PART_END};

/// Why the notes of a PDF could not be read, in fixed words (sent to the
/// scanner as they are).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotesError {
    /// The document could not be opened.
    #[error(transparent)]
    Open(#[from] PdfError),
    /// The parser panicked while walking the annotations or the form.
    #[error("the parser failed on its annotations or form")]
    WalkPanicked,
    /// Writing the output failed: the scanner went away.
    #[error("the scanner stopped reading")]
    Stopped,
}

/// Field tree depth beyond which the walk stops (real forms nest a few
/// levels: `person.address.street`).
const MAX_DEPTH: usize = 64;

/// Writes every note of the PDF `data` to `out`, each ended by a form
/// feed. `Ok` with no failed part (a note is read whole or not found), or
/// `Err` with why the document could not be opened.
pub fn extract_notes(data: &[u8], out: &mut dyn Write) -> Result<FailedParts, NotesError> {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let doc = super::pdf::open(data)?;
    let mut notes = Notes { out, failed: false };
    let walked = catch_unwind(AssertUnwindSafe(|| {
        annotations(&doc, &mut notes);
        fields(&doc, &mut notes);
    }));
    if notes.failed {
        return Err(NotesError::Stopped);
    }
    match walked {
        Ok(()) => Ok(Vec::new()),
        Err(_) => Err(NotesError::WalkPanicked),
    }
}

/// Where the notes go.
struct Notes<'w> {
    out: &'w mut dyn Write,
    /// Writing failed: the scanner went away; nothing more is written.
    failed: bool,
}

impl Notes<'_> {
    /// Writes one note (a PDF text string), if it is not empty.
    fn note(&mut self, raw: &[u8]) {
        if self.failed || raw.is_empty() {
            return;
        }
        let mut text = decode_text(raw);
        // A form feed would end the note early.
        text = text.replace('\x0c', "\n");
        let result = self
            .out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.write_all(&[PART_END]));
        if result.is_err() {
            self.failed = true;
        }
    }
}

/// A PDF text string as text (see the module's documentation).
fn decode_text(raw: &[u8]) -> String {
    if let Some(be) = raw.strip_prefix(&[0xfe, 0xff]) {
        let units = be.chunks_exact(2).map(|p| u16::from_be_bytes([p[0], p[1]]));
        return char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
    }
    if let Some(utf8) = raw.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        return String::from_utf8_lossy(utf8).into_owned();
    }
    raw.iter().map(|&b| char::from(b)).collect()
}

/// Follows a reference, once.
fn resolve<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    doc.dereference(object).ok().map(|(_, o)| o)
}

/// Every annotation's `/Contents`, page after page.
fn annotations(doc: &Document, notes: &mut Notes<'_>) {
    for (_, page) in doc.get_pages() {
        let Ok(page) = doc.get_dictionary(page) else {
            continue;
        };
        let Some(annots) = page
            .get(b"Annots")
            .ok()
            .and_then(|a| resolve(doc, a))
            .and_then(|a| a.as_array().ok())
        else {
            continue;
        };
        for annot in annots {
            let Some(annot) = resolve(doc, annot).and_then(|a| a.as_dict().ok()) else {
                continue;
            };
            if let Some(Ok(contents)) = annot
                .get(b"Contents")
                .ok()
                .and_then(|c| resolve(doc, c))
                .map(Object::as_str)
            {
                notes.note(contents);
            }
        }
    }
}

/// Every form field's value, walking `/AcroForm /Fields` and the kids.
fn fields(doc: &Document, notes: &mut Notes<'_>) {
    let Some(roots) = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"AcroForm").ok())
        .and_then(|f| resolve(doc, f))
        .and_then(|f| f.as_dict().ok())
        .and_then(|f| f.get(b"Fields").ok())
        .and_then(|f| resolve(doc, f))
        .and_then(|f| f.as_array().ok())
    else {
        return;
    };
    let mut seen: HashSet<ObjectId> = HashSet::new();
    // Depth first, without recursion: (field, depth).
    let mut stack: Vec<(&Object, usize)> = roots.iter().rev().map(|f| (f, 0)).collect();
    while let Some((field, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            continue;
        }
        if let Object::Reference(id) = field
            && !seen.insert(*id)
        {
            continue;
        }
        let Some(dict) = resolve(doc, field).and_then(|f| f.as_dict().ok()) else {
            continue;
        };
        match dict.get(b"V").ok().and_then(|v| resolve(doc, v)) {
            Some(Object::String(value, _)) => notes.note(value),
            Some(Object::Array(values)) => {
                for value in values {
                    if let Some(Object::String(value, _)) = resolve(doc, value) {
                        notes.note(value);
                    }
                }
            }
            _ => {}
        }
        if let Some(kids) = dict
            .get(b"Kids")
            .ok()
            .and_then(|k| resolve(doc, k))
            .and_then(|k| k.as_array().ok())
        {
            stack.extend(kids.iter().rev().map(|k| (k, depth + 1)));
        }
    }
}
