//! Images: told apart by content, their size read from their header, and
//! their pixels read by OCR in the confined helper (`__extract ocr`, see
//! [`super::helper::ocr`]).
//!
//! What happens here, in the scanner, is only what is cheap and safe: the
//! magic bytes and the width and height from the header (fixed offsets,
//! bounded loops), to refuse an image bomb (a PNG or TIFF declaring
//! 100k × 100k pixels) before any decoder sees it, and to pass over images
//! too small to hold a legible number. Decoding the pixels happens in the
//! helper and its Tesseract child only.
//!
//! An image is never reported clean unless its pixels were read: without
//! an OCR engine, with `--ocr off`, past a limit, when the engine fails,
//! it is `partial` with the reason (its raw bytes are scanned all the
//! same, which finds what a program wrote into its metadata).

use std::io::{self, Read};

use super::helper::ocr::{OcrMode, settings};
use super::{Budget, LeafSink, Place, Problem, leaf, png, read_bounded};
use crate::report::event::FileStatus;

/// The image formats OCR reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    Tiff,
    Bmp,
    Gif,
    WebP,
}

impl ImageKind {
    /// The name in `file` events (`encoding`).
    pub fn name(self) -> &'static str {
        match self {
            ImageKind::Png => "png",
            ImageKind::Jpeg => "jpeg",
            ImageKind::Tiff => "tiff",
            ImageKind::Bmp => "bmp",
            ImageKind::Gif => "gif",
            ImageKind::WebP => "webp",
        }
    }
}

/// The image format `head` starts, if any (PNG is told apart by
/// [`super::sniff`] before this is asked).
pub fn sniff_image(head: &[u8]) -> Option<ImageKind> {
    if head.starts_with(b"\xff\xd8\xff") {
        Some(ImageKind::Jpeg)
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        Some(ImageKind::Tiff)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(ImageKind::Gif)
    } else if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        Some(ImageKind::WebP)
    } else if head.len() >= 26
        && head.starts_with(b"BM")
        && matches!(
            u32::from_le_bytes([head[14], head[15], head[16], head[17]]),
            12 | 40 | 52 | 56 | 108 | 124
        )
    {
        Some(ImageKind::Bmp)
    } else {
        None
    }
}

/// Width and height the header of `data` declares (the first page of a
/// TIFF, the first frame of a GIF's screen), if it can be read.
pub fn dimensions(kind: ImageKind, data: &[u8]) -> Option<(u64, u64)> {
    let be16 = |o: usize| Some(u16::from_be_bytes(data.get(o..o + 2)?.try_into().ok()?) as u64);
    let le16 = |o: usize| Some(u16::from_le_bytes(data.get(o..o + 2)?.try_into().ok()?) as u64);
    let be32 = |o: usize| Some(u32::from_be_bytes(data.get(o..o + 4)?.try_into().ok()?) as u64);
    let le32 = |o: usize| Some(u32::from_le_bytes(data.get(o..o + 4)?.try_into().ok()?) as u64);
    match kind {
        ImageKind::Png => (data.get(12..16)? == b"IHDR").then_some((be32(16)?, be32(20)?)),
        ImageKind::Gif => Some((le16(6)?, le16(8)?)),
        ImageKind::Bmp => {
            if le32(14)? == 12 {
                Some((le16(18)?, le16(20)?))
            } else {
                let h = i32::from_le_bytes(data.get(22..26)?.try_into().ok()?);
                Some((le32(18)?, h.unsigned_abs() as u64))
            }
        }
        ImageKind::WebP => match data.get(12..16)? {
            b"VP8X" => Some(((le32(24)? & 0xff_ffff) + 1, (le32(27)? & 0xff_ffff) + 1)),
            b"VP8L" => {
                let b = le32(21)?;
                Some(((b & 0x3fff) + 1, ((b >> 14) & 0x3fff) + 1))
            }
            b"VP8 " => Some((le16(26)? & 0x3fff, le16(28)? & 0x3fff)),
            _ => None,
        },
        ImageKind::Jpeg => {
            // Markers until a start of frame (SOF0..SOF15 but DHT, JPG, DAC).
            let mut i = 2;
            for _ in 0..4096 {
                if *data.get(i)? != 0xff {
                    return None;
                }
                let marker = *data.get(i + 1)?;
                if marker == 0xff {
                    i += 1;
                    continue;
                }
                if (0xc0..=0xcf).contains(&marker) && ![0xc4, 0xc8, 0xcc].contains(&marker) {
                    return Some((be16(i + 7)?, be16(i + 5)?));
                }
                if marker == 0xd8 || (0xd0..=0xd7).contains(&marker) {
                    i += 2;
                    continue;
                }
                i += 2 + be16(i + 2)? as usize;
            }
            None
        }
        ImageKind::Tiff => {
            let little = data.starts_with(b"II");
            let u16_at = |o: usize| if little { le16(o) } else { be16(o) };
            let u32_at = |o: usize| if little { le32(o) } else { be32(o) };
            let ifd = u32_at(4)? as usize;
            let count = u16_at(ifd)? as usize;
            let (mut w, mut h) = (None, None);
            for n in 0..count.min(512) {
                let e = ifd + 2 + n * 12;
                let tag = u16_at(e)?;
                let typ = u16_at(e + 2)?;
                let value = if typ == 3 {
                    u16_at(e + 8)?
                } else {
                    u32_at(e + 8)?
                };
                match tag {
                    256 => w = Some(value),
                    257 => h = Some(value),
                    _ => {}
                }
            }
            Some((w?, h?))
        }
    }
}

/// An image: its PNG text chunks (for a PNG), then its pixels by OCR in
/// the helper; `partial` with the reason whenever the pixels were not read.
pub fn image(
    kind: ImageKind,
    stream: &mut dyn Read,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    let data = match read_bounded(stream, "an image", place.member, budget) {
        Ok(data) => data,
        Err(problem) => return sink.problem(problem),
    };
    if kind == ImageKind::Png {
        png::text_chunks(&mut &data[..], place, budget, sink);
    }
    let not_read = |sink: &mut dyn LeafSink, reason: String| {
        // The raw bytes: what a program wrote into the image's metadata
        // (EXIF, comments) in plain text.
        if kind != ImageKind::Png {
            leaf(&mut &data[..], place, sink);
        }
        sink.problem(Problem {
            member: place.member.cloned(),
            status: FileStatus::Partial,
            reason,
        });
    };
    let s = settings();
    let name = kind.name();
    if s.mode == OcrMode::Off {
        return not_read(
            sink,
            format!("OCR is off (--ocr off): the text in this {name} image's pixels was not read"),
        );
    }
    if s.engine.is_none() {
        return not_read(
            sink,
            format!(
                "no OCR engine: the text in this {name} image's pixels was not read \
                 (install tesseract-ocr, or set LEAKHOUND_TESSERACT)"
            ),
        );
    }
    let Some((w, h)) = dimensions(kind, &data) else {
        return not_read(
            sink,
            format!(
                "the {name} image's header could not be read (damaged or truncated): not OCR'd"
            ),
        );
    };
    if w.saturating_mul(h) > s.max_pixels {
        return not_read(
            sink,
            format!(
                "the {name} image declares {w} x {h} pixels, more than the {} megapixels OCR \
                 reads (a likely image bomb): its pixels were not read",
                s.max_pixels / 1_000_000
            ),
        );
    }
    if w < s.min_side as u64 || h < s.min_side as u64 {
        // Too small to hold a legible number: looked at, nothing to read.
        if kind != ImageKind::Png {
            leaf(&mut &data[..], place, sink);
        }
        return;
    }
    // The helper reads the pixels; on failure it scans the raw bytes and
    // reports partial itself.
    let mut cursor = io::Cursor::new(data);
    super::helper::scan(super::helper::Kind::Ocr, &mut cursor, place, budget, sink);
}
