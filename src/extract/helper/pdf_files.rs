//! The PDF attachments extractor: files embedded in a PDF, as bytes.
//!
//! A PDF can carry whole files (`/Names /EmbeddedFiles`: a spreadsheet
//! attached to an invoice, a PDF/A-3 e-invoice's XML). This extractor
//! (`leakhound __extract pdf-files`) writes each embedded file's bytes,
//! decoded from its stream's filters, as one part (a `file N` member,
//! numbered from 1 in the name tree's order); the scanner opens each as a
//! member of the PDF, like a zip's, so a zip or a PDF inside is opened
//! too. Parts are text on the helper's pipe: a file's bytes go as
//! lower-case hex ([`encode`]), which the scanner decodes as it reads
//! ([`digit`]), so a form feed in a file cannot end its part early.
//!
//! File names are not used: they come from the file and may hold a
//! number. Loops in the name tree and absurd depths are cut short.

use std::collections::HashSet;
use std::io::Write;

use pdf_extract::{Document, Object, ObjectId};

use super::pdf::PdfError;
use super::{FailedParts, PART_END};

/// Why the embedded files of a PDF could not be read, in fixed words (sent
/// to the scanner as they are).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilesError {
    /// The document could not be opened.
    #[error(transparent)]
    Open(#[from] PdfError),
    /// The parser panicked while walking the embedded files.
    #[error("the parser failed on its embedded files")]
    WalkPanicked,
    /// Writing the output failed: the scanner went away.
    #[error("the scanner stopped reading")]
    Stopped,
}

/// Name tree depth beyond which the walk stops.
const MAX_DEPTH: usize = 64;

/// Writes every embedded file of the PDF `data` to `out`, hex-encoded,
/// each ended by a form feed. `Ok` with the files whose stream could not
/// be decoded (their number and why), or `Err` with why the document
/// could not be opened.
pub fn extract_files(data: &[u8], out: &mut dyn Write) -> Result<FailedParts, FilesError> {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let doc = super::pdf::open(data)?;
    let mut failed = Vec::new();
    let mut error = false;
    let walked = catch_unwind(AssertUnwindSafe(|| {
        let mut n = 0u32;
        for spec in file_specs(&doc) {
            n += 1;
            let bytes = match contents(&doc, spec) {
                Ok(bytes) => bytes,
                Err(why) => {
                    failed.push((n, why.to_string()));
                    Vec::new()
                }
            };
            // Every file gets a part, even an empty one: numbers stay
            // those of the name tree.
            if encode(&bytes, out).is_err() || out.write_all(&[PART_END]).is_err() {
                error = true;
                return;
            }
        }
    }));
    if error {
        return Err(FilesError::Stopped);
    }
    match walked {
        Ok(()) => Ok(failed),
        Err(_) => Err(FilesError::WalkPanicked),
    }
}

/// Follows a reference, once.
fn resolve<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    doc.dereference(object).ok().map(|(_, o)| o)
}

/// The file specifications of the `/EmbeddedFiles` name tree, in order.
fn file_specs(doc: &Document) -> Vec<&Object> {
    let mut specs = Vec::new();
    let Some(root) = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"Names").ok())
        .and_then(|n| resolve(doc, n))
        .and_then(|n| n.as_dict().ok())
        .and_then(|n| n.get(b"EmbeddedFiles").ok())
    else {
        return specs;
    };
    let mut seen: HashSet<ObjectId> = HashSet::new();
    let mut stack: Vec<(&Object, usize)> = vec![(root, 0)];
    while let Some((node, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            continue;
        }
        if let Object::Reference(id) = node
            && !seen.insert(*id)
        {
            continue;
        }
        let Some(dict) = resolve(doc, node).and_then(|n| n.as_dict().ok()) else {
            continue;
        };
        // A leaf: [name1 spec1 name2 spec2 ...].
        if let Some(names) = dict
            .get(b"Names")
            .ok()
            .and_then(|n| resolve(doc, n))
            .and_then(|n| n.as_array().ok())
        {
            specs.extend(names.iter().skip(1).step_by(2));
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
    specs
}

/// The decoded bytes of one file specification's embedded file.
fn contents(doc: &Document, spec: &Object) -> Result<Vec<u8>, &'static str> {
    let ef = resolve(doc, spec)
        .and_then(|s| s.as_dict().ok())
        .and_then(|s| s.get(b"EF").ok())
        .and_then(|e| resolve(doc, e))
        .and_then(|e| e.as_dict().ok())
        .ok_or("a file specification without an embedded file")?;
    let stream = ef
        .get(b"UF")
        .or_else(|_| ef.get(b"F"))
        .ok()
        .and_then(|f| resolve(doc, f))
        .and_then(|f| f.as_stream().ok())
        .ok_or("an embedded file that is not a stream")?;
    stream
        .get_plain_content()
        .map_err(|_| "an embedded file that cannot be decompressed")
}

/// Writes `bytes` as lower-case hex.
pub(super) fn encode(bytes: &[u8], out: &mut dyn Write) -> std::io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = Vec::with_capacity(bytes.len().min(32 << 10) * 2);
    for chunk in bytes.chunks(32 << 10) {
        buf.clear();
        for &b in chunk {
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 15)]);
        }
        out.write_all(&buf)?;
    }
    Ok(())
}

/// The value of one digit [`encode`] writes.
pub(super) fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes what [`encode`] wrote; `None` if it is not such hex.
#[cfg(test)]
pub(super) fn decode(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks_exact(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}
