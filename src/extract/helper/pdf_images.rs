//! The images inside PDF pages that have a text layer, read by OCR: a
//! scanned receipt pasted into a typed letter, a photo of a card in a
//! report. (A PDF with no text layer at all is rendered page by page
//! instead: [`super::ocr::extract_pdf_pages`].)
//!
//! Runs in the confined helper (`leakhound __extract pdf-images`), after
//! the page text, notes and attached files, when OCR runs. For each page,
//! each image XObject in its resources that is at least `min_side` pixels
//! on both sides and at most `max_pixels` in all is handed to Tesseract
//! (through [`super::ocr::run_engine`], with its time limit): a JPEG
//! (`DCTDecode`) as it is stored; 8-bit grey or RGB samples (uncompressed,
//! Flate, LZW ...) as a PGM or PPM image. Each image read is a part named
//! `page P image K` (K counted from 1 on the page; an image listed by
//! several pages is read once, on the first), its text followed by
//! the digit-fixed lines as for any OCR page. Not read: images in other
//! encodings or colour spaces (JPEG 2000, JBIG2, CCITT fax, CMYK, indexed
//! palettes, fewer than 8 bits), images inside form XObjects and patterns,
//! inline images; at most [`MAX_IMAGES`] images per document.

use std::io::Write;

use super::{FailedParts, PART_END, Unreadable};

/// Images read at most per document (each costs a Tesseract run).
pub const MAX_IMAGES: usize = 200;

/// Writes the OCR text of the images of every page of the PDF `data`.
/// `Ok` with the images that could not be read (numbered in the order
/// tried, with the page and why), or `Err` when the PDF cannot be opened.
pub fn extract_images(data: &[u8], out: &mut dyn Write) -> Result<FailedParts, Unreadable> {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let doc = super::pdf::open(data).map_err(Unreadable::of)?;
    let settings = super::ocr::settings();
    let stopped = |_| Unreadable("the scanner stopped reading".to_string());
    let pages = catch_unwind(AssertUnwindSafe(|| doc.get_pages()))
        .map_err(|_| Unreadable("the parser failed on its page tree".to_string()))?;
    let mut failed = Vec::new();
    let mut tried = 0u32;
    // Pages often share one resource dictionary (a logo on every page):
    // each image is read once, where it is first listed.
    let mut seen = std::collections::HashSet::new();
    for (page, id) in pages {
        let images = match catch_unwind(AssertUnwindSafe(|| doc.get_page_images(id))) {
            Ok(Ok(images)) => images,
            // A page without resources, or with a damaged image entry.
            _ => continue,
        };
        let mut k = 0u32;
        for image in images {
            if tried as usize >= MAX_IMAGES {
                return Ok(failed);
            }
            if !seen.insert(image.id) {
                continue;
            }
            let (w, h) = (image.width.max(0) as u64, image.height.max(0) as u64);
            if w < u64::from(settings.min_side) || h < u64::from(settings.min_side) {
                continue;
            }
            k += 1;
            tried += 1;
            if w.saturating_mul(h) > settings.max_pixels {
                failed.push((
                    tried,
                    format!(
                        "page {page} image {k} declares {w} x {h} pixels (a likely image bomb)"
                    ),
                ));
                continue;
            }
            let bytes = match catch_unwind(AssertUnwindSafe(|| image_file(&doc, &image, w, h))) {
                Ok(Some(bytes)) => bytes,
                // An encoding Tesseract is not given: see the module docs.
                Ok(None) => continue,
                Err(_) => {
                    failed.push((tried, format!("page {page} image {k}: the parser failed")));
                    continue;
                }
            };
            let text = match super::ocr::run_engine(&bytes) {
                Ok(text) => text,
                Err(why) => {
                    failed.push((tried, format!("page {page} image {k}: {}", why.0)));
                    continue;
                }
            };
            let text = text.replace('\u{c}', "\n");
            if text.trim().is_empty() {
                continue;
            }
            let fixed = super::ocr::fix_digit_runs(&text);
            out.write_all(format!("page {page} image {k}\n").as_bytes())
                .map_err(stopped)?;
            out.write_all(text.as_bytes()).map_err(stopped)?;
            if !fixed.is_empty() {
                out.write_all(b"\n").map_err(stopped)?;
                out.write_all(fixed.as_bytes()).map_err(stopped)?;
            }
            out.write_all(&[PART_END]).map_err(stopped)?;
        }
    }
    Ok(failed)
}

/// The image as a file Tesseract reads: a JPEG as stored, 8-bit grey or
/// RGB samples as PGM or PPM; `None` for anything else.
fn image_file(
    doc: &pdf_extract::Document,
    image: &pdf_extract::xobject::PdfImage<'_>,
    w: u64,
    h: u64,
) -> Option<Vec<u8>> {
    let filters = image.filters.clone().unwrap_or_default();
    if filters.last().map(String::as_str) == Some("DCTDecode") {
        if filters.len() == 1 {
            return Some(image.content.to_vec());
        }
        // A JPEG under another filter (Flate over DCT): undo the others.
        let mut stream =
            pdf_extract::Stream::new(image.origin_dict.clone(), image.content.to_vec());
        let _ = stream.decompress();
        return Some(stream.content);
    }
    if image.bits_per_component != Some(8) {
        return None;
    }
    let channels: u64 = match image.color_space.as_deref() {
        Some("DeviceGray" | "CalGray") => 1,
        Some("DeviceRGB" | "CalRGB") => 3,
        // ICC-based: as many channels as the profile says.
        Some("ICCBased") => icc_channels(doc, image)?,
        _ => return None,
    };
    let samples = if filters.is_empty() {
        image.content.to_vec()
    } else {
        let stream = pdf_extract::Stream::new(image.origin_dict.clone(), image.content.to_vec());
        stream.decompressed_content().ok()?
    };
    let need = w.checked_mul(h)?.checked_mul(channels)?;
    if (samples.len() as u64) < need {
        return None;
    }
    let magic = if channels == 1 { "P5" } else { "P6" };
    let mut file = format!("{magic}\n{w} {h}\n255\n").into_bytes();
    file.extend_from_slice(&samples[..need as usize]);
    Some(file)
}

/// `/N` of an `[/ICCBased stream]` colour space, if 1 or 3.
fn icc_channels(
    doc: &pdf_extract::Document,
    image: &pdf_extract::xobject::PdfImage<'_>,
) -> Option<u64> {
    let cs = image.origin_dict.get(b"ColorSpace").ok()?.as_array().ok()?;
    let stream = match doc.dereference(cs.get(1)?).ok()?.1 {
        pdf_extract::Object::Stream(s) => s,
        _ => return None,
    };
    match stream.dict.get(b"N").ok()?.as_i64().ok()? {
        1 => Some(1),
        3 => Some(3),
        _ => None,
    }
}
