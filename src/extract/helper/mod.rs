//! The confined helper process: hostile formats parsed outside the scanner.
//!
//! Some parsers are a classic source of crashes, endless loops and memory
//! blow-ups on hostile files (PDF's `pdf-extract` on `lopdf` panics and
//! recurses on malformed input; OCR, PST and Parquet are next). Their
//! parsing never happens in the scanner: each such file is handed to a
//! fresh copy of this program, `leakhound __extract KIND`, which first
//! confines itself ([`confine`]: no capability, bounded address space and
//! CPU time, no core dump, no file written, dies with its parent, empty
//! environment) and then runs one extractor ([`Kind`]) and writes the
//! file's parts to its standard output. The scanner ([`parent`]) feeds it
//! the file, reads the parts as they come, counts them against the file's
//! budget like decompressed bytes, kills the helper at the file's deadline,
//! and reaps it.
//!
//! Three programs, three files: the scanner's side ([`parent`]), the
//! helper's ([`child`], which confines itself with [`confine`]), and one
//! file per extractor ([`pdf`], [`pdf_notes`], [`pdf_files`],
//! [`pdf_images`] and [`ocr`] for images and image-only PDF pages,
//! [`parquet`], [`pst`] and [`pst_bare`] for Outlook mail stores). This
//! file is the protocol between them, over pipes only (nothing touches
//! disk):
//!
//! - command line: `__extract KIND --max-input BYTES --max-memory BYTES
//!   --max-cpu SECONDS --parent PID` (`__pdf-text` is kept as another name
//!   for `__extract pdf`);
//! - standard input: the file, at most `--max-input` bytes: a pipe the
//!   scanner writes the bytes into, or, for a kind that [`Kind::seeks`]
//!   (a PST) when the file is a regular file at the top level (not a
//!   member of an archive), the file itself, opened read-only by the
//!   scanner, which the extractor seeks in instead of holding it in
//!   memory (the helper tells the two apart by `fstat`);
//! - standard output: the text of each part in order (a page of a PDF),
//!   UTF-8, each part ended by a form feed ([`PART_END`]; a form feed in
//!   the text becomes a newline);
//! - exit [`EXIT_OK`]: every part was read; [`EXIT_PAGES`]: every part was
//!   tried, and standard error has a line `PART N: reason` for each one
//!   that failed (`page N: reason` for a PDF), at most [`MAX_PAGE_LINES`]
//!   of them and then `and N more PARTS`; [`EXIT_DOCUMENT`]: the input
//!   could not be opened, and standard error has one line, the reason
//!   (`encrypted` when the empty password does not open it). Anything else
//!   (a signal, another code) is a crash.
//!
//! Reasons never quote the file: they are fixed phrases, with any digit a
//! library put in them replaced by `#` ([`clean`]), on both sides of the
//! pipe.
//!
//! Whenever the parts could not be fully extracted (the helper failed,
//! crashed, ran out of memory or time, a part failed, or there is no text
//! at all, as a scanned image has none), the raw bytes of the file are
//! scanned as well, and the file is reported `partial` with what happened
//! and what to do (in the kind's own [`Words`]): a file is never reported
//! clean unless its parts were read. When extraction succeeds, the raw
//! bytes are not scanned (the same number would be found twice where a
//! PDF content stream is not compressed).
//!
//! A new format adds a [`Kind`] variant, its [`Words`] and its extractor
//! file; the process plumbing stays as it is.

mod child;
mod confine;
pub mod ocr;
mod parent;
pub mod parquet;
pub mod pdf;
pub mod pdf_files;
pub mod pdf_images;
pub mod pdf_notes;
pub mod pst;
pub mod pst_bare;
pub mod seccomp;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Write;
use std::str::FromStr;

pub use child::helper_main;
pub use confine::ConfineError;
pub use parent::{helper_memory, helpers_running, own_executable, set_helper};
pub(crate) use parent::{scan, scan_file};

/// The hidden subcommand that runs the helper; the extractor's
/// [`Kind::name`] follows it.
pub const HELPER_COMMAND: &str = "__extract";

/// The helper's first name, when it only read PDFs: `__pdf-text` is
/// `__extract pdf`. Kept so that scripts and strace filters written for
/// it still work.
pub const PDF_TEXT_COMMAND: &str = "__pdf-text";

/// The helper read every part.
pub const EXIT_OK: u8 = 0;
/// The helper could not open the input; standard error says why.
pub const EXIT_DOCUMENT: u8 = 10;
/// The helper tried every part; standard error lists those that failed.
pub const EXIT_PAGES: u8 = 11;

/// Ends each part on the helper's standard output.
pub const PART_END: u8 = 0x0c;

/// Standard error kept from the helper: a reason, or a line per failed part.
const MAX_STDERR: u64 = 16 << 10;

/// Failed parts the helper names; beyond them it only counts.
const MAX_PAGE_LINES: usize = 50;

/// Longest reason passed on from the helper.
const MAX_REASON: usize = 200;

/// Parts whose text could not be extracted: their number, and why (in
/// fixed words, see [`clean`]).
pub type FailedParts = Vec<(u32, String)>;

/// Why an extractor could not open its input at all: a reason in fixed
/// words (`encrypted`, `a syntax error: ...`), never a quote of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

impl Unreadable {
    /// An extractor's own error, as the text the helper sends.
    pub fn of(e: impl std::error::Error) -> Unreadable {
        Unreadable(e.to_string())
    }
}

/// Which extractor the helper runs: the word after `__extract`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The text of each page of a PDF ([`pdf`]).
    Pdf,
    /// A PDF's annotations and form field values ([`pdf_notes`]).
    PdfNotes,
    /// The files embedded in a PDF ([`pdf_files`]).
    PdfFiles,
    /// The images inside a PDF's pages that have text, by OCR
    /// ([`pdf_images`]).
    PdfImages,
    /// The text in an image's pixels, by OCR ([`ocr`]).
    Ocr,
    /// The pages of a PDF without a text layer, rendered and read by OCR
    /// ([`ocr`]).
    PdfOcr,
    /// The string and integer cells of a Parquet file ([`parquet`]).
    Parquet,
    /// The messages of an Outlook mail store, `.pst` or `.ost` ([`pst`]).
    Pst,
}

impl Kind {
    /// Every extractor, in the order `--help` and errors list them.
    pub const ALL: &'static [Kind] = &[
        Kind::Pdf,
        Kind::PdfNotes,
        Kind::PdfFiles,
        Kind::PdfImages,
        Kind::Ocr,
        Kind::PdfOcr,
        Kind::Parquet,
        Kind::Pst,
    ];

    /// The name on the helper's command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::PdfNotes => "pdf-notes",
            Kind::PdfFiles => "pdf-files",
            Kind::PdfImages => "pdf-images",
            Kind::Ocr => "ocr",
            Kind::PdfOcr => "pdf-ocr",
            Kind::Parquet => "parquet",
            Kind::Pst => "pst",
        }
    }

    /// How the scanner speaks of this kind's files and parts.
    pub fn words(self) -> &'static Words {
        match self {
            Kind::Pdf => &PDF_WORDS,
            Kind::PdfNotes => &PDF_NOTES_WORDS,
            Kind::PdfFiles => &PDF_FILES_WORDS,
            Kind::PdfImages => &PDF_IMAGES_WORDS,
            Kind::Ocr => &OCR_WORDS,
            Kind::PdfOcr => &PDF_OCR_WORDS,
            Kind::Parquet => &PARQUET_WORDS,
            Kind::Pst => &PST_WORDS,
        }
    }

    /// Runs the extractor on `data` (in the helper, confined): writes each
    /// part to `out`, ended by [`PART_END`]. `Ok` with the parts that
    /// failed, or `Err` with why the input could not be opened.
    pub fn extract(self, data: &[u8], out: &mut dyn Write) -> Result<FailedParts, Unreadable> {
        match self {
            Kind::Pdf => pdf::extract_pages(data, out).map_err(Unreadable::of),
            Kind::PdfNotes => pdf_notes::extract_notes(data, out).map_err(Unreadable::of),
            Kind::PdfFiles => pdf_files::extract_files(data, out).map_err(Unreadable::of),
            Kind::PdfImages => pdf_images::extract_images(data, out),
            Kind::Ocr => ocr::extract_image(data, out),
            Kind::PdfOcr => ocr::extract_pdf_pages(data, out),
            Kind::Parquet => parquet::extract_cells(data, out),
            Kind::Pst => pst::extract_messages(data, out),
        }
    }

    /// Whether this kind's extractor can read its input as a seekable file
    /// ([`Kind::extract_file`]) rather than as bytes in memory: a mail
    /// store, which may be gigabytes.
    pub fn seeks(self) -> bool {
        matches!(self, Kind::Pst)
    }

    /// As [`Kind::extract`], from a regular file the extractor seeks in
    /// (only for a kind that [`Kind::seeks`]; `None` for the others).
    pub fn extract_file(
        self,
        file: std::fs::File,
        out: &mut dyn Write,
    ) -> Option<Result<FailedParts, Unreadable>> {
        match self {
            Kind::Pst => Some(pst::extract_messages_file(file, out)),
            _ => None,
        }
    }

    /// The kind the scanner runs next on the same file once this one read
    /// it in full: a PDF's notes after its pages.
    pub fn then(self) -> Option<Kind> {
        match self {
            Kind::Pdf => Some(Kind::PdfNotes),
            Kind::PdfNotes => Some(Kind::PdfFiles),
            // The images in pages with text, when OCR runs.
            Kind::PdfFiles if ocr::settings().runs() => Some(Kind::PdfImages),
            Kind::PdfFiles => None,
            Kind::PdfImages => None,
            Kind::Ocr => None,
            // The image-only PDF's notes and files, once its pages were read.
            Kind::PdfOcr => Some(Kind::PdfNotes),
            Kind::Parquet => None,
            Kind::Pst => None,
        }
    }

    /// Arguments beyond the limits that this kind's helper needs: how OCR
    /// runs (engine, time limit, languages).
    pub fn extra_args(self) -> Vec<String> {
        match self {
            Kind::Ocr | Kind::PdfOcr | Kind::PdfImages => ocr::helper_args(),
            _ => Vec::new(),
        }
    }

    /// The kind to run instead when this one read every part and found no
    /// text at all: a PDF without a text layer is read by OCR, if OCR runs.
    pub fn when_no_text(self) -> Option<Kind> {
        match self {
            Kind::Pdf if ocr::settings().runs() => Some(Kind::PdfOcr),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An extractor name that is not one of [`Kind::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown extractor {0:?} (known: {known})", known = known())]
pub struct UnknownKind(String);

fn known() -> String {
    Kind::ALL
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Kind, UnknownKind> {
        Kind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownKind(s.to_string()))
    }
}

/// The words the scanner uses for one kind in what it reports, so that
/// every kind's reasons read alike: `{noun} could not be parsed (...)`,
/// member `{part} N`.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    /// The file, as a user calls it: `PDF`.
    pub noun: &'static str,
    /// What the extractor reads of it: `text`.
    pub what: &'static str,
    /// One part, as a member name: `page`.
    pub part: &'static str,
    /// Several parts: `pages`.
    pub parts: &'static str,
    /// What the user can do when the parts were not read.
    pub advice: &'static str,
    /// After "a likely text bomb": how such a bomb is made, with a leading
    /// space, or nothing.
    pub bomb_hint: &'static str,
    /// The reason when every part was read and none had any text, if
    /// that is worth reporting (a PDF without notes is the rule).
    pub no_text: Option<&'static str>,
    /// What a part is: text to scan, or a file to open.
    pub payload: Payload,
}

/// What the helper's parts hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// UTF-8 text, scanned as a leaf.
    Text,
    /// A file's bytes as lower-case hex (so that a form feed in them
    /// cannot end the part), opened as a member like a zip's.
    Hex,
    /// UTF-8 text whose first line is the part's own member name (a
    /// Parquet cell: `column NAME row N`), scanned as a leaf.
    Named,
    /// A part of a mail store ([`pst`]): a first line `text` or `file`,
    /// then the components of its member name, each after a tab (`Inbox`,
    /// `message 3 nid 0x200024`, `body`); then UTF-8 text scanned as a
    /// leaf, or a file's bytes as hex opened as a member.
    Mail,
}

const PDF_WORDS: Words = Words {
    noun: "PDF",
    what: "text",
    part: "page",
    parts: "pages",
    advice: "convert it with pdftotext and scan the text",
    bomb_hint: " (forms drawing forms)",
    payload: Payload::Text,
    no_text: Some(
        "no text layer (an image-only PDF, such as a scan?): its images were not read, \
         its raw bytes were scanned; run OCR on it (e.g. ocrmypdf) and scan the result",
    ),
};

const PDF_NOTES_WORDS: Words = Words {
    noun: "PDF",
    what: "annotation and form field",
    part: "note",
    parts: "notes",
    advice: "open it in a viewer and check its comments and form fields",
    bomb_hint: "",
    no_text: None,
    payload: Payload::Text,
};

const PDF_FILES_WORDS: Words = Words {
    noun: "PDF",
    what: "embedded file",
    part: "file",
    parts: "files",
    advice: "save its attachments (e.g. qpdf --show-attachment) and scan them",
    bomb_hint: "",
    no_text: None,
    payload: Payload::Hex,
};

const PDF_IMAGES_WORDS: Words = Words {
    noun: "PDF",
    what: "image OCR text",
    part: "image",
    parts: "images",
    advice: "run OCR on it (e.g. ocrmypdf --force-ocr) and scan the result",
    bomb_hint: "",
    no_text: None,
    payload: Payload::Named,
};

const OCR_WORDS: Words = Words {
    noun: "image",
    what: "OCR text",
    part: "ocr page",
    parts: "ocr pages",
    advice: "check that tesseract-ocr reads it (tesseract IMAGE stdout)",
    bomb_hint: "",
    no_text: None,
    payload: Payload::Text,
};

const PDF_OCR_WORDS: Words = Words {
    noun: "PDF",
    what: "OCR text",
    part: "ocr page",
    parts: "ocr pages",
    advice: "run OCR on it (e.g. ocrmypdf) and scan the result",
    bomb_hint: "",
    no_text: None,
    payload: Payload::Text,
};

const PARQUET_WORDS: Words = Words {
    noun: "Parquet file",
    what: "cells",
    part: "cell",
    parts: "cells",
    advice: "export it to CSV (e.g. with pyarrow or duckdb) and scan that",
    bomb_hint: " (pages that decompress to far more than the file)",
    no_text: None,
    payload: Payload::Named,
};

const PST_WORDS: Words = Words {
    noun: "PST",
    what: "messages",
    part: "message",
    parts: "messages",
    advice: "export its messages (e.g. readpst -D -S) and scan them",
    bomb_hint: " (attachments or bodies that decompress to far more than the store)",
    no_text: None,
    payload: Payload::Mail,
};

/// The helper's settings, from its command line.
#[derive(Debug, Clone, Copy)]
pub struct HelperLimits {
    /// Bytes of input it reads at most.
    pub max_input: u64,
    /// Its address space (`RLIMIT_AS`).
    pub max_memory: u64,
    /// Its CPU time in seconds (`RLIMIT_CPU`).
    pub max_cpu: u64,
    /// The scanner that started it: the helper dies with it.
    pub parent: Option<u32>,
}

/// Makes text from the helper or a library safe to report: no digit (a
/// number could be the start of a card), no control character but the
/// newline, at most `max` characters.
pub(crate) fn clean(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| match c {
            '0'..='9' => '#',
            '\n' => '\n',
            c if c.is_control() => ' ',
            c => c,
        })
        .take(max)
        .collect()
}
