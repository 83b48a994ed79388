//! Extraction: opens containers (compressed streams, archives, 7z, office
//! documents, mail, PNG text chunks, PDF, Parquet, the text in images by
//! OCR) and hands their text leaves to the engine, in bounded memory and
//! time.
//!
//! The scan pipeline sniffs the first bytes of every input ([`sniff`]). A
//! plain file goes straight to the engine; anything else goes to [`walk`],
//! which decodes it layer by layer, recursing into members by content (never
//! by name), and calls a [`LeafSink`] once per text leaf with the leaf's
//! location: a [`Member`], the [`Step`]s from the outside in, written as
//! today's `!`-joined text only where events are made ([`provenance`]).
//!
//! Everything happens in memory and streams where the format allows:
//! compressed streams, tar and mbox are read as they come; zip needs random
//! access, so a zip inside something else is held in memory up to
//! `max_buffer` bytes; a mail message is parsed whole, up to the same cap,
//! and so is a PDF, whose text is extracted by a confined child process.
//! Nothing is written to disk.
//!
//! Every limit ([`Limits`]) is checked on bytes actually produced, never on
//! sizes an archive declares. When one is hit, what was read so far has been
//! scanned, the sink hears of a [`Problem`] (status `partial` and why), and
//! the rest of the scan goes on.

mod archive;
mod cfb;
pub mod helper;
pub mod html;
mod image;
mod mail;
mod office;
mod png;
pub mod provenance;
mod rtf;
mod sevenz;

/// For redaction (`actions::mail`), which must skip the same header fields.
pub(crate) use mail::{MACHINE_HEADERS, header_name};
pub use provenance::{GzipField, Member, Step};

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::time::{Duration, Instant};

use crate::report::event::FileStatus;

/// How far extraction may go for one top-level file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Containers inside containers, counting each layer (a `.tar.gz` is 2).
    pub max_depth: u32,
    /// Bytes produced by decompression, over the whole top-level file.
    pub max_expanded: u64,
    /// Output bytes per input byte of one compressed stream or member, and
    /// of everything expanded over the top-level file's bytes (layers
    /// multiply); checked once the output passes [`RATIO_GRACE`].
    pub max_ratio: u64,
    /// Archive members and mail parts, over the whole top-level file.
    pub max_members: u64,
    /// Wall-clock time for one top-level file.
    pub max_time: Duration,
    /// The largest object held in memory at once: a zip inside another
    /// container, one mail message.
    pub max_buffer: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 16,
            max_expanded: 16 << 30,
            max_ratio: 1000,
            max_members: 1_000_000,
            max_time: Duration::from_secs(600),
            max_buffer: 64 << 20,
        }
    }
}

/// Output a stream may produce before its compression ratio is checked:
/// small files of zeros compress far better than any bomb threshold.
pub const RATIO_GRACE: u64 = 8 << 20;

/// The formats told apart by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Not a container: scanned as it is (text in any encoding, or binary).
    Plain,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
    Zip,
    Tar,
    /// Several messages, each after a `From ` line.
    Mbox,
    /// One RFC 5322 message (`.eml`, a Maildir file).
    Mail,
    Png,
    /// The text of each page, extracted in a child process ([`helper`]).
    Pdf,
    /// A 7z archive ([`sevenz`]).
    SevenZ,
    /// A RAR archive: recognised, reported `skipped`, raw bytes scanned.
    Rar,
    /// An image other than PNG, read by OCR ([`image`]).
    Image(image::ImageKind),
    /// Parquet: its cells, read in a child process ([`helper::parquet`]).
    Parquet,
    /// A compound file (OLE2): legacy Office documents, Outlook `.msg`.
    Cfb,
    /// Rich Text Format.
    Rtf,
    /// An Outlook mail store (`.pst`, `.ost`): its messages, read in a
    /// child process ([`helper::pst`]).
    Pst,
    /// An HTML document: the text a person sees ([`html`]).
    Html,
}

impl Format {
    /// The name used in `file` events.
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::Gzip => "gzip",
            Format::Bzip2 => "bzip2",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::Mbox => "mbox",
            Format::Mail => "mail",
            Format::Png => "png",
            Format::Pdf => "pdf",
            Format::SevenZ => "7z",
            Format::Rar => "rar",
            Format::Image(kind) => kind.name(),
            Format::Parquet => "parquet",
            Format::Cfb => "ole2",
            Format::Rtf => "rtf",
            Format::Pst => "pst",
            Format::Html => "html",
        }
    }
}

/// Bytes [`sniff`] wants to see (a tar header's magic is at 257).
pub const SNIFF_LEN: usize = 4096;

/// Tells the format from the first bytes of a stream.
pub fn sniff(head: &[u8]) -> Format {
    if head.starts_with(&[0x1f, 0x8b]) {
        Format::Gzip
    } else if head.starts_with(b"BZh") && head.get(3).is_some_and(|d| (b'1'..=b'9').contains(d)) {
        Format::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Format::Xz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Format::Zstd
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Format::Zip
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Format::Png
    } else if head.starts_with(b"%PDF-") {
        Format::Pdf
    } else if head.starts_with(sevenz::SEVENZ_MAGIC) {
        Format::SevenZ
    } else if sevenz::is_rar(head) {
        Format::Rar
    } else if head.starts_with(b"PAR1") {
        Format::Parquet
    } else if let Some(kind) = image::sniff_image(head) {
        Format::Image(kind)
    } else if cfb::is_cfb(head) {
        Format::Cfb
    } else if head.starts_with(b"{\\rtf") {
        Format::Rtf
    } else if head.starts_with(b"!BDN") {
        Format::Pst
    } else if archive::is_tar(head) {
        Format::Tar
    } else if mail::is_mbox(head) {
        Format::Mbox
    } else if mail::is_message(head) {
        Format::Mail
    } else if html::is_html(head) {
        Format::Html
    } else {
        Format::Plain
    }
}

/// Something that was not fully scanned inside a top-level file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `None` for the top-level file itself.
    pub member: Option<Member>,
    /// `partial` (a limit, an encrypted member, a truncated stream after
    /// some data), `error` (corrupt, nothing read) or `skipped`.
    pub status: FileStatus,
    /// What happened and what the user can do.
    pub reason: String,
}

/// Receives what extraction finds.
pub trait LeafSink {
    /// Scans one text leaf to its end. `member` is `None` when the leaf is
    /// the top-level input itself, only decompressed. An error means the
    /// leaf could not be read to its end (the reader's error, possibly a
    /// [`LimitHit`]); what was read before it has been scanned.
    fn leaf(&mut self, member: Option<&Member>, reader: &mut dyn Read) -> io::Result<()>;

    /// Scans a text view of a leaf (the text an HTML document shows):
    /// `view` is what is matched, and `map` leads each of its bytes back to
    /// `original`, the leaf's own bytes, where findings are reported. By
    /// default the view is scanned as a plain leaf.
    fn mapped_leaf(
        &mut self,
        member: Option<&Member>,
        view: &[u8],
        original: &[u8],
        map: &html::ViewMap,
    ) -> io::Result<()> {
        let _ = (original, map);
        self.leaf(member, &mut &view[..])
    }

    /// Something could not be fully scanned.
    fn problem(&mut self, problem: Problem);
}

/// A limit stopped reading. Travels inside an `io::Error` so that every
/// reader in a chain stops at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitHit(pub String);

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LimitHit {}

impl LimitHit {
    fn error(reason: String) -> io::Error {
        io::Error::other(LimitHit(reason))
    }

    /// The limit behind `e`, if that is why it failed.
    pub fn of(e: &io::Error) -> Option<&LimitHit> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<LimitHit>())
    }
}

/// A limit over the whole top-level file was reached ([`Budget`]): what is
/// reported, with the setting that raises it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// More members and parts than `limits.max_members`.
    #[error("more than {max} members and parts (raise limits.max_members or --max-members)")]
    TooManyMembers { max: u64 },
    /// More bytes expanded than `limits.max_expanded`.
    #[error("expanded more than {max} bytes (raise limits.max_expanded or --max-expanded)")]
    Expanded { max: u64 },
    /// The file took longer than `limits.max_time`.
    #[error(
        "time limit of {} reached (raise limits.max_time or --max-time)",
        humantime::format_duration(*max)
    )]
    Time { max: Duration },
}

/// What one top-level file may still use; shared by every layer.
pub struct Budget {
    pub limits: Limits,
    deadline: Instant,
    expanded: Cell<u64>,
    members: Cell<u64>,
    /// Bytes of the top-level file: its length, or what has been read of a
    /// stream so far ([`Budget::add_input`]).
    input: Cell<u64>,
    /// A limit over the whole file (expanded bytes, the whole file's ratio,
    /// time) was hit and reported: nothing more is opened.
    spent: Cell<bool>,
}

impl Budget {
    pub fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            deadline: Instant::now() + limits.max_time,
            expanded: Cell::new(0),
            members: Cell::new(0),
            input: Cell::new(0),
            spent: Cell::new(false),
        }
    }

    /// Counts bytes of the top-level file: its whole length when it is
    /// known, else each read of the stream ([`CountInput`]).
    pub fn add_input(&self, n: u64) {
        self.input.set(self.input.get().saturating_add(n));
    }

    /// Whether a limit over the whole file stopped extraction: containers
    /// stop opening members (the limit was reported where it was hit).
    pub fn spent(&self) -> bool {
        self.spent.get()
    }

    /// Bytes produced by decompression so far.
    pub fn expanded(&self) -> u64 {
        self.expanded.get()
    }

    fn check_time(&self) -> io::Result<()> {
        if Instant::now() > self.deadline {
            self.spent.set(true);
            return Err(LimitHit::error(
                BudgetError::Time {
                    max: self.limits.max_time,
                }
                .to_string(),
            ));
        }
        Ok(())
    }

    /// Counts `path` as one more member; `false`, with the problem sent to
    /// `sink`, once there are too many.
    fn admit(&self, path: &Member, sink: &mut dyn LeafSink) -> bool {
        match self.count_member() {
            Ok(()) => true,
            Err(reason) => {
                sink.problem(Problem {
                    member: Some(path.clone()),
                    status: FileStatus::Partial,
                    reason: reason.to_string(),
                });
                false
            }
        }
    }

    /// Counts one more member; an error once there are too many.
    fn count_member(&self) -> Result<(), BudgetError> {
        let n = self.members.get() + 1;
        self.members.set(n);
        if n > self.limits.max_members {
            return Err(BudgetError::TooManyMembers {
                max: self.limits.max_members,
            });
        }
        Ok(())
    }
}

/// Counts the bytes a decoder pulls from below, so its output can be
/// compared with its input.
struct CountIn<R> {
    inner: R,
    count: std::rc::Rc<Cell<u64>>,
}

impl<R: Read> Read for CountIn<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// The top-level stream of a file whose length is not known (standard
/// input): counts its bytes into the budget, for the whole file's ratio.
pub struct CountInput<'a> {
    pub inner: &'a mut dyn Read,
    pub budget: &'a Budget,
}

impl Read for CountInput<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.budget.add_input(n as u64);
        Ok(n)
    }
}

/// The output side of a decompressor: counts what it produces against the
/// budget, its ratio and the deadline.
struct Limited<'b, R> {
    inner: R,
    budget: &'b Budget,
    input: std::rc::Rc<Cell<u64>>,
    output: u64,
}

impl<R: Read> Read for Limited<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.budget.check_time()?;
        let n = self.inner.read(buf)?;
        self.output += n as u64;
        let total = self.budget.expanded.get() + n as u64;
        self.budget.expanded.set(total);
        let limits = &self.budget.limits;
        if total > limits.max_expanded {
            self.budget.spent.set(true);
            return Err(LimitHit::error(
                BudgetError::Expanded {
                    max: limits.max_expanded,
                }
                .to_string(),
            ));
        }
        // Layers multiply: a zip of zips of zips (42.zip) stays under the
        // ratio in every one of them, so the whole file's ratio is checked
        // too: everything expanded so far over the top-level file's bytes.
        let whole = self.budget.input.get().max(1);
        if total > RATIO_GRACE && total / whole > limits.max_ratio {
            self.budget.spent.set(true);
            return Err(LimitHit::error(format!(
                "containers inside containers expand the file more than {}:1 in all, \
                 a likely decompression bomb: the rest was not opened \
                 (raise limits.max_ratio or --max-ratio if it is genuine)",
                limits.max_ratio
            )));
        }
        let input = self.input.get().max(1);
        if self.output > RATIO_GRACE && self.output / input > limits.max_ratio {
            return Err(LimitHit::error(format!(
                "compression ratio above {}:1, a likely decompression bomb \
                 (raise limits.max_ratio or --max-ratio if it is genuine)",
                limits.max_ratio
            )));
        }
        Ok(n)
    }
}

/// A stream whose first bytes were read to sniff it, put back in front.
pub fn peek(reader: &mut dyn Read) -> io::Result<(Vec<u8>, usize)> {
    let mut head = vec![0u8; SNIFF_LEN];
    let mut filled = 0;
    while filled < head.len() {
        match reader.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(filled);
    Ok((head, filled))
}

/// The member `step` inside `parent` (`None`: the top-level file);
/// reported as `outer!inner`.
pub fn join(parent: Option<&Member>, step: Step) -> Member {
    Member::join(parent, step)
}

/// Where one layer of extraction stands.
#[derive(Clone, Copy)]
pub struct Place<'a> {
    /// The member path so far (`None` at the top).
    pub member: Option<&'a Member>,
    /// Container layers above this one.
    pub depth: u32,
}

impl Place<'_> {
    pub const TOP: Place<'static> = Place {
        member: None,
        depth: 0,
    };
}

/// Extracts a stream of a known `format` (sniffed from `head`, which has
/// already been read from `rest`), sending leaves and problems to `sink`.
/// `seekable`, when given, is the same stream as a file that zip may seek in.
pub fn walk(
    format: Format,
    head: Vec<u8>,
    rest: &mut dyn Read,
    seekable: Option<&std::fs::File>,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    let mut stream = io::Cursor::new(head).chain(rest);
    if format == Format::Plain {
        leaf(&mut stream, place, sink);
        return;
    }
    if place.depth >= budget.limits.max_depth {
        sink.problem(Problem {
            member: place.member.cloned(),
            status: FileStatus::Partial,
            reason: format!(
                "{} nested more than {} levels deep: not opened (raise limits.max_depth or --max-depth)",
                format.name(),
                budget.limits.max_depth
            ),
        });
        return;
    }
    let inner = Place {
        member: place.member,
        depth: place.depth + 1,
    };
    match format {
        Format::Plain => unreachable!("handled above"),
        Format::Gzip => {
            let fields = std::rc::Rc::new(std::cell::RefCell::new(GzFields::default()));
            let tap = fields.clone();
            decompress(
                format,
                move |r| {
                    Box::new(GzTap {
                        inner: flate2::read::MultiGzDecoder::new(r),
                        fields: tap,
                    })
                },
                &mut stream,
                inner,
                budget,
                sink,
                Some(&fields),
            )
        }
        Format::Bzip2 => decompress(
            format,
            |r| Box::new(bzip2::read::MultiBzDecoder::new(r)),
            &mut stream,
            inner,
            budget,
            sink,
            None,
        ),
        Format::Xz => decompress(
            format,
            |r| Box::new(lzma_rust2::XzReader::new(r, true)),
            &mut stream,
            inner,
            budget,
            sink,
            None,
        ),
        Format::Zstd => decompress(
            format,
            |r| match zstd::stream::read::Decoder::new(r) {
                Ok(d) => Box::new(d),
                Err(e) => Box::new(FailingReader(Some(e))),
            },
            &mut stream,
            inner,
            budget,
            sink,
            None,
        ),
        Format::Zip => match seekable {
            Some(file) if place.depth == 0 => archive::zip(file, inner, budget, sink),
            _ => archive::zip_stream(&mut stream, inner, budget, sink),
        },
        Format::Tar => archive::tar(&mut stream, inner, budget, sink),
        Format::Mbox => mail::mbox(&mut stream, inner, budget, sink),
        Format::Mail => mail::message_stream(&mut stream, inner, budget, sink),
        Format::Png => image::image(image::ImageKind::Png, &mut stream, inner, budget, sink),
        Format::Image(kind) => image::image(kind, &mut stream, inner, budget, sink),
        Format::Parquet => helper::scan(helper::Kind::Parquet, &mut stream, inner, budget, sink),
        Format::Pdf => helper::scan(helper::Kind::Pdf, &mut stream, inner, budget, sink),
        Format::SevenZ => match seekable {
            Some(file) if place.depth == 0 => sevenz::sevenz(file, inner, budget, sink),
            _ => sevenz::sevenz_stream(&mut stream, inner, budget, sink),
        },
        Format::Rar => sevenz::rar(&mut stream, place, sink),
        Format::Cfb => cfb::compound(&mut stream, inner, budget, sink),
        Format::Rtf => rtf::document(&mut stream, inner, budget, sink),
        Format::Html => html::document(&mut stream, inner, budget, sink),
        // A store on disk is read in place (it may be gigabytes).
        Format::Pst => match seekable {
            Some(file) if place.depth == 0 => {
                helper::scan_file(helper::Kind::Pst, file, &mut stream, inner, budget, sink)
            }
            _ => helper::scan(helper::Kind::Pst, &mut stream, inner, budget, sink),
        },
    }
}

/// A reader that only fails: a decoder that could not even start.
struct FailingReader(Option<io::Error>);

impl Read for FailingReader {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| io::Error::other("decoder failed")))
    }
}

type Decoder<'r> = Box<dyn Read + 'r>;

/// The member name under which a gzip header field is scanned.
pub const GZIP_FNAME: &str = "gzip header FNAME";
/// As [`GZIP_FNAME`], for the comment.
pub const GZIP_FCOMMENT: &str = "gzip header FCOMMENT";
/// As [`GZIP_FNAME`], for the extra field.
pub const GZIP_FEXTRA: &str = "gzip header FEXTRA";

/// At most this many bytes of one header field are scanned (the name of a
/// file is far shorter; `gzip -N` keeps what the file was called).
const GZIP_FIELD_MAX: usize = 64 << 10;

/// At most this many member headers of one gzip stream are scanned.
const GZIP_HEADERS_MAX: usize = 64;

/// The text fields of gzip member headers (RFC 1952: FNAME, FCOMMENT,
/// FEXTRA), noted as the decoder parses them, so that they are scanned
/// like the data: `gzip -N` stores the original file name, which can hold
/// a number as well as any line inside.
#[derive(Default)]
struct GzFields {
    /// (member name, bytes) of each non-empty field not yet scanned.
    pending: Vec<(GzipField, Vec<u8>)>,
    /// The last header noted, to note each member's header once.
    last: Option<[Option<Vec<u8>>; 3]>,
    headers: usize,
}

impl GzFields {
    fn note(&mut self, h: &flate2::GzHeader) {
        let now = [h.filename(), h.comment(), h.extra()];
        let same = self.last.as_ref().is_some_and(|last| {
            last.iter()
                .zip(now)
                .all(|(a, b)| a.as_deref() == b.map(|b| &b[..b.len().min(GZIP_FIELD_MAX)]))
        });
        if same || self.headers >= GZIP_HEADERS_MAX {
            return;
        }
        self.headers += 1;
        let capped = now.map(|f| f.map(|b| b[..b.len().min(GZIP_FIELD_MAX)].to_vec()));
        for (name, field) in [GzipField::Fname, GzipField::Fcomment, GzipField::Fextra]
            .into_iter()
            .zip(&capped)
        {
            if let Some(bytes) = field.as_ref().filter(|b| !b.is_empty()) {
                self.pending.push((name, bytes.clone()));
            }
        }
        self.last = Some(capped);
    }
}

/// A gzip decoder that notes each member's header fields.
struct GzTap<R: Read> {
    inner: flate2::read::MultiGzDecoder<R>,
    fields: std::rc::Rc<std::cell::RefCell<GzFields>>,
}

impl<R: Read> Read for GzTap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf);
        if let Some(h) = self.inner.header() {
            self.fields.borrow_mut().note(h);
        }
        n
    }
}

/// Scans the header fields noted so far, each as a leaf named after its
/// field.
fn header_leaves(
    fields: Option<&std::rc::Rc<std::cell::RefCell<GzFields>>>,
    place: Place<'_>,
    sink: &mut dyn LeafSink,
) {
    let Some(fields) = fields else { return };
    let pending = std::mem::take(&mut fields.borrow_mut().pending);
    for (name, bytes) in pending {
        let member = join(place.member, Step::GzipHeader(name));
        let here = Place {
            member: Some(&member),
            depth: place.depth,
        };
        leaf(&mut &bytes[..], here, sink);
    }
}

/// A compressed stream: decode it, sniff what comes out, go on. `fields`:
/// the header fields a gzip decoder notes, scanned once the data is.
fn decompress<'r>(
    format: Format,
    make: impl FnOnce(CountIn<&'r mut dyn Read>) -> Decoder<'r>,
    stream: &'r mut dyn Read,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
    fields: Option<&std::rc::Rc<std::cell::RefCell<GzFields>>>,
) {
    let count = std::rc::Rc::new(Cell::new(0u64));
    let decoder = make(CountIn {
        inner: stream,
        count: count.clone(),
    });
    let mut limited = Limited {
        inner: decoder,
        budget,
        input: count,
        output: 0,
    };
    let mut reporting = ReportErrors {
        inner: &mut limited,
        failure: None,
    };
    // The decoded stream is read once: sniffed, then handed on. A failure
    // (corrupt data, a limit) is remembered by `ReportErrors` and reported
    // once, with what the layer was.
    let head = match peek(&mut reporting) {
        Ok((head, _)) => head,
        Err(e) => {
            header_leaves(fields, place, sink);
            sink.problem(failure_problem(format, place.member, &e, 0));
            return;
        }
    };
    let format_inside = sniff(&head);
    let mut inner_sink = Watch {
        inner: sink,
        seen_error: false,
    };
    walk(
        format_inside,
        head,
        &mut reporting,
        None,
        place,
        budget,
        &mut inner_sink,
    );
    let seen = inner_sink.seen_error;
    header_leaves(fields, place, sink);
    if let Some(e) = reporting.failure.take()
        && !seen
    {
        sink.problem(failure_problem(format, place.member, &e, limited.output));
    }
}

/// Remembers the first error of a reader (the layers above only see that
/// reading stopped), so the layer that owns the reader reports it.
struct ReportErrors<'a> {
    inner: &'a mut dyn Read,
    failure: Option<io::Error>,
}

impl Read for ReportErrors<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => Ok(n),
            Err(e) => {
                let copy = match LimitHit::of(&e) {
                    Some(hit) => LimitHit::error(hit.0.clone()),
                    None => io::Error::new(e.kind(), e.to_string()),
                };
                self.failure.get_or_insert(copy);
                Err(e)
            }
        }
    }
}

/// Passes everything on, and notes whether a problem was already reported
/// below (so one failure is not reported twice).
struct Watch<'a> {
    inner: &'a mut dyn LeafSink,
    seen_error: bool,
}

impl LeafSink for Watch<'_> {
    fn leaf(&mut self, member: Option<&Member>, reader: &mut dyn Read) -> io::Result<()> {
        self.inner.leaf(member, reader)
    }
    fn mapped_leaf(
        &mut self,
        member: Option<&Member>,
        view: &[u8],
        original: &[u8],
        map: &html::ViewMap,
    ) -> io::Result<()> {
        self.inner.mapped_leaf(member, view, original, map)
    }
    fn problem(&mut self, problem: Problem) {
        self.seen_error = true;
        self.inner.problem(problem);
    }
}

/// The problem for a layer that failed after producing `produced` bytes.
fn failure_problem(
    format: Format,
    member: Option<&Member>,
    e: &io::Error,
    produced: u64,
) -> Problem {
    let (status, reason) = match LimitHit::of(e) {
        Some(hit) => (FileStatus::Partial, hit.0.clone()),
        None if produced > 0 => (
            FileStatus::Partial,
            format!(
                "{} data is corrupt or truncated after {produced} bytes: {e} (the rest was not scanned)",
                format.name()
            ),
        ),
        None => (
            FileStatus::Error,
            format!(
                "not a valid {} stream: {e} (the file is corrupt or truncated)",
                format.name()
            ),
        ),
    };
    Problem {
        member: member.cloned(),
        status,
        reason,
    }
}

/// A leaf: hand it to the sink, report if it could not be read to the end.
fn leaf(reader: &mut dyn Read, place: Place<'_>, sink: &mut dyn LeafSink) {
    if let Err(e) = sink.leaf(place.member, reader) {
        let status = FileStatus::Partial;
        let reason = match LimitHit::of(&e) {
            Some(hit) => hit.0.clone(),
            None => format!("read error: {e} (the rest was not scanned)"),
        };
        sink.problem(Problem {
            member: place.member.cloned(),
            status,
            reason,
        });
    }
}

/// Reads a whole member into memory, up to `max_buffer` bytes; `Err` with
/// the problem if it is bigger or unreadable.
fn read_bounded(
    reader: &mut dyn Read,
    what: &str,
    member: Option<&Member>,
    budget: &Budget,
) -> Result<Vec<u8>, Problem> {
    let cap = budget.limits.max_buffer;
    let mut data = Vec::new();
    match reader.take(cap + 1).read_to_end(&mut data) {
        Ok(_) if data.len() as u64 > cap => Err(Problem {
            member: member.cloned(),
            status: FileStatus::Partial,
            reason: format!(
                "{what} larger than {cap} bytes cannot be opened in memory: not scanned \
                 (raise limits.max_buffer or --max-buffer)"
            ),
        }),
        Ok(_) => Ok(data),
        Err(e) => Err(match LimitHit::of(&e) {
            Some(hit) => Problem {
                member: member.cloned(),
                status: FileStatus::Partial,
                reason: hit.0.clone(),
            },
            None => Problem {
                member: member.cloned(),
                status: if data.is_empty() {
                    FileStatus::Error
                } else {
                    FileStatus::Partial
                },
                reason: format!("cannot read {what}: {e}"),
            },
        }),
    }
}

/// Reads a whole document into memory, up to `max_buffer` bytes, for a
/// reader that needs it whole (a compound file, RTF). A bigger or
/// unreadable one is not lost: its raw bytes (what was read, then the rest
/// of the stream) are scanned as a leaf and it is reported `partial`,
/// naming `what`; `None` then.
fn whole_or_raw(
    stream: &mut dyn Read,
    what: &str,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) -> Option<Vec<u8>> {
    let cap = budget.limits.max_buffer;
    let mut data = Vec::new();
    let reason = match stream.take(cap.saturating_add(1)).read_to_end(&mut data) {
        Ok(_) if data.len() as u64 <= cap => return Some(data),
        Ok(_) => format!(
            "{what} larger than {cap} bytes: it was not opened, only its raw bytes were \
             scanned (raise limits.max_buffer or --max-buffer)"
        ),
        Err(e) => match LimitHit::of(&e) {
            Some(hit) => hit.0.clone(),
            None => format!("read error: {e} (the rest was not scanned)"),
        },
    };
    let mut whole = io::Cursor::new(data).chain(stream);
    leaf(&mut whole, place, sink);
    sink.problem(Problem {
        member: place.member.cloned(),
        status: FileStatus::Partial,
        reason,
    });
    None
}

/// A member found inside a container: sniff it and walk it.
fn member(
    reader: &mut dyn Read,
    step: Step,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    if budget.spent() {
        return;
    }
    member_at(reader, join(place.member, step), place.depth, budget, sink);
}

/// As [`member`], for a member whose whole path is known (`path`, at
/// `depth` layers).
fn member_at(
    reader: &mut dyn Read,
    path: Member,
    depth: u32,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    if budget.spent() {
        return;
    }
    if !budget.admit(&path, sink) {
        return;
    }
    let here = Place {
        member: Some(&path),
        depth,
    };
    let mut reporting = ReportErrors {
        inner: reader,
        failure: None,
    };
    let head = match peek(&mut reporting) {
        Ok((head, _)) => head,
        Err(e) => {
            let status = if LimitHit::of(&e).is_some() {
                FileStatus::Partial
            } else {
                FileStatus::Error
            };
            let reason = match LimitHit::of(&e) {
                Some(hit) => hit.0.clone(),
                None => format!("cannot read: {e}"),
            };
            sink.problem(Problem {
                member: Some(path.clone()),
                status,
                reason,
            });
            return;
        }
    };
    let format = sniff(&head);
    let mut watch = Watch {
        inner: sink,
        seen_error: false,
    };
    walk(format, head, &mut reporting, None, here, budget, &mut watch);
    if let Some(e) = reporting.failure.take()
        && !watch.seen_error
    {
        sink.problem(failure_problem(format, Some(&path), &e, 1));
    }
}

/// Member names come from the data: keep them printable and short.
pub fn clean_name(raw: &str) -> String {
    clean_name_bytes(raw.as_bytes())
}

/// Member names come from the data, as bytes: escaped by the one function
/// that escapes every name (`report::names::escape_bytes`: control and
/// format characters, bytes that are not UTF-8), `!` (the member separator)
/// as `_`, and cut to 200 characters. A cut never ends inside a run of
/// digits: half a number could not be recognised, so not masked.
pub fn clean_name_bytes(raw: &[u8]) -> String {
    let no_bang: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'!' { b'_' } else { b })
        .collect();
    let escaped = crate::report::names::escape_bytes(&no_bang);
    let mut out: String = escaped.chars().take(200).collect();
    if out.len() < escaped.len() {
        let keep = out
            .trim_end_matches(|c: char| c.is_ascii_digit() || " -.".contains(c))
            .len();
        out.truncate(keep);
        out.push('…');
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests;
