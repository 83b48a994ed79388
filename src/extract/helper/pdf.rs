//! The PDF extractor: the text of every page, as the helper's parts.
//!
//! Runs only inside the confined helper (`leakhound __extract pdf`, see
//! [`super`]): `pdf-extract` on `lopdf` panics and recurses on malformed
//! input, so it never parses a byte inside the scanner. The PDF comes in
//! as bytes; the text of each page goes out on the helper's output, one
//! part per page (numbered from 1 in order), and the pages that failed
//! come back with a reason in fixed words that quotes nothing of the file.

use std::cell::RefCell;
use std::io::{self, Write};

use super::PART_END as PAGE_END;

/// Pages whose text could not be extracted: their number, and why.
pub type FailedPages = super::FailedParts;

/// Why a PDF could not be read at all, in fixed words that quote nothing
/// of the file: the helper sends this text to the scanner as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// A password other than the empty one is needed, or the encryption
    /// is one the parser does not know.
    #[error("encrypted")]
    Encrypted,
    /// A syntax error, with the parser's own fixed message.
    #[error("a syntax error: {0}")]
    Syntax(String),
    /// A damaged cross-reference table, with the parser's own fixed
    /// message.
    #[error("a damaged cross-reference table: {0}")]
    Xref(String),
    #[error("a read error")]
    Read,
    #[error("a stream that cannot be decompressed")]
    Decompress,
    #[error("objects that refer to themselves")]
    Cycle,
    #[error("missing or misplaced objects")]
    MissingObjects,
    #[error("a feature the parser does not support")]
    Unsupported,
    #[error("a malformed stream")]
    MalformedStream,
    /// Any other parser error.
    #[error("a malformed structure")]
    Malformed,
    /// The parser panicked while loading the document.
    #[error("the parser failed on its structure")]
    StructurePanicked,
    /// The parser panicked while counting the pages.
    #[error("the parser failed on its page tree")]
    PageTreePanicked,
    /// Writing the output failed: the scanner went away.
    #[error("the scanner stopped reading")]
    Stopped,
}

/// Writes the text of every page of `data` to `out`, each page ended by a
/// form feed. `Ok` with the pages that failed (their number and why), or
/// `Err` with why the document could not be opened.
pub fn extract_pages(data: &[u8], out: &mut dyn Write) -> Result<FailedPages, PdfError> {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let mut doc = open(data)?;
    // Best effort: a stream it cannot rewrite is left as it was.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        blank_images(&mut doc);
        spell_out_quotes(&mut doc);
    }));
    let count = match catch_unwind(AssertUnwindSafe(|| doc.get_pages().len())) {
        Ok(n) => u32::try_from(n).unwrap_or(u32::MAX),
        Err(_) => return Err(PdfError::PageTreePanicked),
    };
    let sink = RefCell::new(PageOut {
        out,
        open: None,
        ended: 0,
        error: None,
    });
    let stopped = || Err(PdfError::Stopped);
    // One pass over the whole document, page after page (pages are
    // numbered from 1 in order). Should a page fail, the pass stops there;
    // the pages after it are then read one by one, each lookup walking the
    // page tree again: the slow way, only after a failure.
    let first = {
        let mut writer = TextWriter(&sink);
        let mut dev = Pager {
            text: pdf_extract::PlainTextOutput::new(&mut writer as &mut dyn Write),
            sink: &sink,
        };
        catch_unwind(AssertUnwindSafe(|| pdf_extract::output_doc(&doc, &mut dev)))
    };
    if sink.borrow().error.is_some() {
        return stopped();
    }
    let (page, why) = match first {
        Ok(Ok(())) => return Ok(Vec::new()),
        Ok(Err(e)) => page_failure(&sink, output_error(&e)),
        Err(_) => page_failure(&sink, "the parser failed".to_string()),
    };
    let mut failed = vec![(page, why)];
    for n in page.saturating_add(1)..=count {
        let result = {
            let mut writer = TextWriter(&sink);
            let mut dev = Pager {
                text: pdf_extract::PlainTextOutput::new(&mut writer as &mut dyn Write),
                sink: &sink,
            };
            catch_unwind(AssertUnwindSafe(|| {
                pdf_extract::output_doc_page(&doc, &mut dev, n)
            }))
        };
        if sink.borrow().error.is_some() {
            return stopped();
        }
        let why = match result {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => output_error(&e),
            Err(_) => "the parser failed".to_string(),
        };
        failed.push((n, why));
        // The page may not have been ended, or even begun.
        sink.borrow_mut().finish(n);
    }
    Ok(failed)
}

/// Opens a PDF (with the empty password, as every viewer does), or says
/// why not in fixed words: `encrypted` when a password is needed.
pub(super) fn open(data: &[u8]) -> Result<pdf_extract::Document, PdfError> {
    use pdf_extract::Document;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let mut doc = match catch_unwind(|| Document::load_mem(data)) {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => return Err(describe(&e)),
        Err(_) => return Err(PdfError::StructurePanicked),
    };
    // Loading already tried the empty password; a document it did not open
    // still has its encryption dictionary.
    if doc.is_encrypted() {
        match catch_unwind(AssertUnwindSafe(|| doc.decrypt(""))) {
            Ok(Ok(())) => {}
            _ => return Err(PdfError::Encrypted),
        }
    }
    Ok(doc)
}

/// Empties every image XObject. `pdf-extract` runs an image drawn with
/// `Do` as if it were a content stream: the pixels are decompressed for
/// nothing, and their bytes are parsed as drawing operators, which fails
/// the page (or worse, shows the bytes as text).
fn blank_images(doc: &mut pdf_extract::Document) {
    use pdf_extract::Object;
    for object in doc.objects.values_mut() {
        if let Object::Stream(s) = object
            && s.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image")
        {
            s.set_plain_content(Vec::new());
        }
    }
}

/// Rewrites the text operators `'` and `"` (next line, then show text),
/// which `pdf-extract` does not know and silently skips, as the operators
/// they stand for: `T*` and `Tj` (after `Tw` and `Tc` for `"`). Ghostscript
/// writes every line after the first of a text block with `'`: without
/// this, most of the text of such a PDF is lost. Only page contents and
/// form XObjects that hold such an operator are rewritten, uncompressed.
fn spell_out_quotes(doc: &mut pdf_extract::Document) {
    use pdf_extract::Object;
    use pdf_extract::content::{Content, Operation};
    let mut ids: Vec<pdf_extract::ObjectId> = doc
        .get_pages()
        .values()
        .flat_map(|&page| doc.get_page_contents(page))
        .collect();
    ids.extend(doc.objects.iter().filter_map(|(&id, object)| match object {
        Object::Stream(s)
            if s.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Form") =>
        {
            Some(id)
        }
        _ => None,
    }));
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        let Ok(stream) = doc.get_object_mut(id).and_then(Object::as_stream_mut) else {
            continue;
        };
        let plain = if stream.filters().is_ok() {
            match stream.decompressed_content() {
                Ok(plain) => plain,
                Err(_) => continue,
            }
        } else {
            stream.content.clone()
        };
        if !plain.iter().any(|&b| b == b'\'' || b == b'"') {
            continue;
        }
        let Ok(content) = Content::decode(&plain) else {
            continue;
        };
        if !content
            .operations
            .iter()
            .any(|op| op.operator == "'" || op.operator == "\"")
        {
            continue;
        }
        let mut operations = Vec::with_capacity(content.operations.len());
        for op in content.operations {
            match (op.operator.as_str(), op.operands.as_slice()) {
                ("'", [text]) => {
                    operations.push(Operation::new("T*", vec![]));
                    operations.push(Operation::new("Tj", vec![text.clone()]));
                }
                ("\"", [word, char, text]) => {
                    operations.push(Operation::new("Tw", vec![word.clone()]));
                    operations.push(Operation::new("Tc", vec![char.clone()]));
                    operations.push(Operation::new("T*", vec![]));
                    operations.push(Operation::new("Tj", vec![text.clone()]));
                }
                _ => operations.push(op),
            }
        }
        if let Ok(encoded) = (Content { operations }).encode() {
            stream.set_plain_content(encoded);
        }
    }
}

/// The page a whole-document pass stopped at (the one begun and not
/// ended, else the next), ended on the output so that pages stay counted.
fn page_failure(sink: &RefCell<PageOut<'_>>, why: String) -> (u32, String) {
    let mut s = sink.borrow_mut();
    let page = s.open.unwrap_or(s.ended + 1);
    s.finish(page);
    (page, why)
}

/// Where the text goes: the output, with the page ends.
struct PageOut<'w> {
    out: &'w mut dyn Write,
    /// The page begun and not yet ended.
    open: Option<u32>,
    /// The last page ended.
    ended: u32,
    /// Writing failed: the scanner went away.
    error: Option<io::ErrorKind>,
}

impl PageOut<'_> {
    /// Writes page text; a form feed in it would end the page early, so it
    /// becomes a newline.
    fn text(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some(kind) = self.error {
            return Err(kind.into());
        }
        let result = if memchr::memchr(PAGE_END, buf).is_none() {
            self.out.write_all(buf)
        } else {
            let swapped: Vec<u8> = buf
                .iter()
                .map(|&b| if b == PAGE_END { b'\n' } else { b })
                .collect();
            self.out.write_all(&swapped)
        };
        if let Err(e) = &result {
            self.error = Some(e.kind());
        }
        result
    }

    /// Ends page `n` (and any before it that were never begun), once.
    fn finish(&mut self, n: u32) {
        while self.ended < n {
            if self.error.is_none()
                && let Err(e) = self.out.write_all(&[PAGE_END])
            {
                self.error = Some(e.kind());
            }
            self.ended += 1;
        }
        self.open = None;
    }
}

/// The text writer handed to `pdf-extract`'s plain text output.
struct TextWriter<'s, 'w>(&'s RefCell<PageOut<'w>>);

impl Write for TextWriter<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().text(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `pdf-extract`'s plain text output (which places spaces and line breaks
/// from the glyphs' positions), with the page ends marked.
struct Pager<'a, 'w> {
    text: pdf_extract::PlainTextOutput<&'a mut dyn Write>,
    sink: &'a RefCell<PageOut<'w>>,
}

impl pdf_extract::OutputDev for Pager<'_, '_> {
    fn begin_page(
        &mut self,
        page_num: u32,
        media_box: &pdf_extract::MediaBox,
        art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), pdf_extract::OutputError> {
        self.sink.borrow_mut().open = Some(page_num);
        self.text.begin_page(page_num, media_box, art_box)
    }

    fn end_page(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.text.end_page()?;
        let mut s = self.sink.borrow_mut();
        let page = s.open.unwrap_or(s.ended + 1);
        s.finish(page);
        match s.error {
            Some(kind) => Err(pdf_extract::OutputError::IoError(kind.into())),
            None => Ok(()),
        }
    }

    fn output_character(
        &mut self,
        trm: &pdf_extract::Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), pdf_extract::OutputError> {
        self.text
            .output_character(trm, width, spacing, font_size, char)
    }

    fn begin_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.text.begin_word()
    }

    fn end_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.text.end_word()
    }

    fn end_line(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.text.end_line()
    }
}

/// Why a page failed, in fixed words.
fn output_error(e: &pdf_extract::OutputError) -> String {
    match e {
        pdf_extract::OutputError::PdfError(e) => describe(e).to_string(),
        _ => "its text could not be written".to_string(),
    }
}

/// A parser error in fixed words: many of `lopdf`'s errors carry names,
/// keys or text from the file, which must not be reported.
fn describe(e: &pdf_extract::Error) -> PdfError {
    use pdf_extract::Error as E;
    match e {
        E::Decryption(_)
        | E::InvalidPassword
        | E::UnsupportedSecurityHandler(_)
        | E::AlreadyEncrypted => PdfError::Encrypted,
        // These two hold fixed messages of the parser's own.
        E::Parse(p) => PdfError::Syntax(p.to_string()),
        E::Xref(x) => PdfError::Xref(x.to_string()),
        E::IO(_) => PdfError::Read,
        E::Decompress(_) => PdfError::Decompress,
        E::ReferenceCycle(_) | E::ReferenceLimit => PdfError::Cycle,
        E::ObjectNotFound(_)
        | E::MissingXrefEntry
        | E::InvalidOffset(_)
        | E::IndirectObject { .. }
        | E::ObjectIdMismatch => PdfError::MissingObjects,
        E::Unimplemented(_) => PdfError::Unsupported,
        E::Syntax(_) | E::InvalidStream(_) | E::InvalidObjectStream(_) => PdfError::MalformedStream,
        _ => PdfError::Malformed,
    }
}
