//! 7z archives (and RAR, which is recognised and reported, not read).
//!
//! A 7z archive is read with `sevenz-rust2` (pure Rust, on the same
//! `lzma-rust2` as our xz): LZMA, LZMA2, PPMd, bzip2, zstd, the BCJ and
//! delta filters, solid blocks. Like a zip it needs random access: a
//! top-level archive is read from its file, one inside anything else is held
//! in memory up to `max_buffer`. Each file is opened as a member (sniffed
//! again, so a zip or a mail inside is opened too), its decoded bytes
//! counted against the budget like any decompressed member.
//!
//! Bounded memory: the decoder's memory (LZMA dictionary, PPMd model) and
//! the archive's header may be at most `max_buffer` plus [`DECODER_SLACK`];
//! a block that declares more (a 1.5 GiB dictionary, a "dictionary bomb") is
//! refused before anything is allocated, and reported `partial`. The crate
//! checks declared header and stream sizes against the file's length before
//! it allocates. One thread decodes (LZMA2 could use more): a scanning
//! thread is one core.
//!
//! Encrypted archives (AES-256) are `partial`, reason `encrypted`: the
//! files of an encrypted block, each by name; the whole archive when its
//! file list is encrypted too (`7z -mhe=on`), since then not even the names
//! can be read.
//!
//! RAR: no maintained pure-Rust reader exists (the `unrar` crate binds the
//! C++ library; the pure-Rust ones read only old RAR 2/3 stored files), so a
//! RAR archive is reported `skipped` with the reason `rar not supported`,
//! never clean, and its raw bytes are scanned (a member stored without
//! compression is found that way).

use std::cell::Cell;
use std::io::{self, Read, Seek};
use std::rc::Rc;

use sevenz_rust2::{Archive, BlockDecoder, Error as SevenZError, Password};

use super::{
    Budget, CountIn, LeafSink, LimitHit, Limited, Place, Problem, Step, clean_name, join, leaf,
    member, read_bounded,
};
use crate::report::event::FileStatus;

/// The 7z signature.
pub const SEVENZ_MAGIC: &[u8] = b"7z\xbc\xaf\x27\x1c";

/// RAR 1.5 to 4.x, and RAR 5 (`Rar!\x1a\x07\x01\x00`) share this prefix.
pub const RAR_MAGIC: &[u8] = b"Rar!\x1a\x07";

/// Memory a decoder may use beyond `max_buffer`: the LZMA decoder's
/// probability tables and buffers, so that an archive made with the
/// largest dictionary `7z -mx=9` uses (64 MiB) opens with the default
/// `max_buffer` of 64 MiB.
pub const DECODER_SLACK: u64 = 4 << 20;

/// The reason a RAR archive is reported `skipped`.
pub const RAR_REASON: &str = "rar not supported (leakhound has no RAR reader): its members were \
     not opened, only its raw bytes were scanned; extract it (unrar x) and scan the files";

/// Whether `head` starts a RAR archive.
pub fn is_rar(head: &[u8]) -> bool {
    head.starts_with(RAR_MAGIC)
}

/// A RAR archive: its raw bytes are scanned (stored members and RAR 4 file
/// names are plain), and it is reported `skipped`, never clean.
pub fn rar(stream: &mut dyn Read, place: Place<'_>, sink: &mut dyn LeafSink) {
    leaf(stream, place, sink);
    sink.problem(Problem {
        member: place.member.cloned(),
        status: FileStatus::Skipped,
        reason: RAR_REASON.to_string(),
    });
}

/// A 7z archive inside another container: held in memory, then read.
pub fn sevenz_stream(
    stream: &mut dyn Read,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    match read_bounded(stream, "a 7z archive", place.member, budget) {
        Ok(data) => sevenz(io::Cursor::new(data), place, budget, sink),
        Err(problem) => sink.problem(problem),
    }
}

/// The decoder memory limit for this budget, in KiB (the crate's unit).
fn memory_limit_kb(budget: &Budget) -> usize {
    let bytes = budget.limits.max_buffer.saturating_add(DECODER_SLACK);
    usize::try_from(bytes / 1024).unwrap_or(usize::MAX)
}

/// Why a 7z archive or block could not be read, in words for the report
/// (never a quote of the archive: the crate's messages name methods and
/// sizes, and any digit is masked by the caller where it could be data).
fn reason(e: &SevenZError, budget: &Budget) -> (FileStatus, String) {
    match e {
        SevenZError::PasswordRequired | SevenZError::MaybeBadPassword(_) => (
            FileStatus::Partial,
            "encrypted: the 7z archive cannot be read without its password".to_string(),
        ),
        SevenZError::MaxMemLimited { actaul_kb, .. } => (
            FileStatus::Partial,
            format!(
                "the 7z archive needs {} MiB of decoder memory (its dictionary), more than \
                 the {} MiB allowed: not decoded, a likely decompression bomb \
                 (raise limits.max_buffer or --max-buffer if it is genuine)",
                actaul_kb.div_ceil(1024),
                memory_limit_kb(budget) / 1024
            ),
        ),
        SevenZError::UnsupportedCompressionMethod(m) => (
            FileStatus::Partial,
            format!(
                "the 7z archive uses a compression method leakhound cannot decode ({}): \
                 extract it with 7z and scan the files",
                super::helper::clean(m, 40)
            ),
        ),
        SevenZError::Io(io, _) if LimitHit::of(io).is_some() => (
            FileStatus::Partial,
            LimitHit::of(io).map(|h| h.0.clone()).unwrap_or_default(),
        ),
        other => (
            FileStatus::Error,
            format!(
                "not a readable 7z archive: {} (the file is corrupt or truncated)",
                super::helper::clean(&other.to_string(), 160)
            ),
        ),
    }
}

/// Notes whether a limit stopped the member being read, so the block is
/// abandoned (not drained: a bomb's declared size is not decoded to the end).
struct NoteLimit<'a, R> {
    inner: R,
    hit: &'a Cell<bool>,
}

impl<R: Read> Read for NoteLimit<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        if let Err(e) = &r
            && LimitHit::of(e).is_some()
        {
            self.hit.set(true);
        }
        r
    }
}

/// A 7z archive read from a seekable source (a top-level file, or a nested
/// archive held in memory): every file of every block, in order.
pub fn sevenz<R: Read + Seek>(
    mut source: R,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    let limit_kb = memory_limit_kb(budget);
    let password = Password::empty();
    let archive = match Archive::read_with_memory_limit(&mut source, &password, limit_kb) {
        Ok(a) => a,
        Err(e) => {
            let (status, mut reason) = reason(&e, budget);
            if matches!(e, SevenZError::PasswordRequired) {
                reason = "encrypted: the 7z archive's file list is encrypted too (7z -mhe=on), \
                          so not even its names can be read without its password"
                    .to_string();
            }
            sink.problem(Problem {
                member: place.member.cloned(),
                status,
                reason,
            });
            return;
        }
    };
    let names: Vec<String> = archive.files.iter().map(|f| clean_name(f.name())).collect();
    // The bytes the whole archive holds compressed: the per-member ratio is
    // checked against them (a member's own compressed size is not known in
    // a solid block); the whole file's ratio is checked as everywhere.
    let packed = Rc::new(Cell::new(
        archive.pack_sizes().iter().copied().sum::<u64>().max(1),
    ));
    let mut read_any = false;
    for block in 0..archive.blocks.len() {
        let files: Vec<usize> = (0..archive.files.len())
            .filter(|&i| {
                archive
                    .stream_map
                    .file_block_index
                    .get(i)
                    .copied()
                    .flatten()
                    == Some(block)
            })
            .collect();
        if files.iter().any(|&i| archive.is_file_encrypted(i)) {
            for &i in &files {
                sink.problem(Problem {
                    member: Some(join(place.member, Step::Entry(names[i].clone()))),
                    status: FileStatus::Partial,
                    reason: "encrypted: this member cannot be read without its password"
                        .to_string(),
                });
            }
            continue;
        }
        let hit = Cell::new(false);
        let mut stop = false;
        let mut visited = 0usize;
        let decoder = BlockDecoder::new_with_memory_limit(
            1,
            limit_kb,
            block,
            &archive,
            &password,
            &mut source,
        );
        let mut each = |entry: &sevenz_rust2::ArchiveEntry,
                        reader: &mut dyn Read|
         -> Result<bool, SevenZError> {
            visited += 1;
            if entry.is_directory() || entry.is_anti_item() || !entry.has_stream() {
                return Ok(true);
            }
            read_any = true;
            let name = clean_name(entry.name());
            let mut limited = NoteLimit {
                inner: Limited {
                    inner: CountIn {
                        inner: reader,
                        count: Rc::new(Cell::new(0)),
                    },
                    budget,
                    input: packed.clone(),
                    output: 0,
                },
                hit: &hit,
            };
            member(&mut limited, Step::Entry(name), place, budget, sink);
            if budget.spent() {
                stop = true;
            }
            // A limit stopped this member: the rest of the block is not
            // decoded (its declared sizes are not to be trusted).
            Ok(!hit.get() && !stop && budget.check_time().is_ok())
        };
        let result = decoder.for_each_entries(&mut each);
        let left = files.len().saturating_sub(visited);
        if hit.get() && left > 0 {
            sink.problem(Problem {
                member: place.member.cloned(),
                status: FileStatus::Partial,
                reason: format!(
                    "a limit stopped a member of a solid 7z block: the {left} files after it \
                     in that block were not opened"
                ),
            });
        }
        if let Err(e) = result {
            let (status, reason) = reason(&e, budget);
            let member = match files.as_slice() {
                [one] => Some(join(place.member, Step::Entry(names[*one].clone()))),
                _ => place.member.cloned(),
            };
            sink.problem(Problem {
                member,
                status: if read_any {
                    FileStatus::Partial
                } else {
                    status
                },
                reason,
            });
        }
        if stop || budget.spent() {
            return;
        }
        if let Err(e) = budget.check_time() {
            sink.problem(Problem {
                member: place.member.cloned(),
                status: FileStatus::Partial,
                reason: LimitHit::of(&e).map(|h| h.0.clone()).unwrap_or_default(),
            });
            return;
        }
    }
}
