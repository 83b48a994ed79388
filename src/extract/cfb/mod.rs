//! Compound files (OLE2, [MS-CFB]): legacy Office documents (`.doc`,
//! `.xls`, `.ppt`), Outlook messages (`.msg`) and the objects embedded in
//! them.
//!
//! Enters: a stream that starts with the compound file signature
//! (`D0 CF 11 E0 A1 B1 1A E1`), whatever its name; it is held in memory up
//! to `max_buffer` ([`reader`] needs random access; a bigger one is
//! scanned as raw bytes and reported partial). Leaves: for each
//! storage (the root, and every storage inside it), what its streams say
//! it is: a Word document's text ([`doc`], member `WordDocument`), a
//! workbook's cells ([`xls`], member `Workbook`), a presentation's text
//! ([`ppt`], member `PowerPoint Document`), a message's subject, bodies and
//! attachments ([`msg`]). Every other storage is walked the same way
//! (embedded objects: a workbook inside a Word document, `ObjectPool/_1234`)
//! and every other stream is opened as a member by its content (an OOXML
//! package embedded as `Package`, a file in an `Ole10Native` stream).
//! Members name the storage path inside the file, joined with `/`.
//!
//! Everything read counts against `max_expanded` (streams may share
//! sectors, so a small file could otherwise be read many times over); a
//! stream that could not be read to its end (a FAT loop, a chain out of
//! the file, a declared size the chain does not hold) is reported
//! `partial` with the reason, and what was read of it is scanned.

mod doc;
mod msg;
mod ppt;
pub(crate) mod reader;
pub(crate) mod xls;

use std::io::Read;

use super::{
    Budget, BudgetError, LeafSink, Member, Place, Problem, Step, clean_name, join, member,
    whole_or_raw,
};
use crate::report::event::FileStatus;
use reader::{Cfb, EntryKind};

/// Whether `head` starts a compound file.
pub fn is_cfb(head: &[u8]) -> bool {
    head.starts_with(&reader::MAGIC)
}

/// Opens a compound file from `stream` and scans what it holds.
pub fn compound(stream: &mut dyn Read, place: Place<'_>, budget: &Budget, sink: &mut dyn LeafSink) {
    if let Some(data) = whole_or_raw(stream, "a compound (OLE2) file", place, budget, sink) {
        compound_bytes(&data, place, budget, sink);
    }
}

/// As [`compound`], for bytes already in memory.
fn compound_bytes(data: &[u8], place: Place<'_>, budget: &Budget, sink: &mut dyn LeafSink) {
    let cfb = match Cfb::open(data) {
        Ok(cfb) => cfb,
        Err(e) => {
            return sink.problem(Problem {
                member: place.member.cloned(),
                status: FileStatus::Error,
                reason: format!(
                    "not a readable compound (OLE2) file: {e} (the file is corrupt or truncated)"
                ),
            });
        }
    };
    for d in &cfb.damage {
        problem(place.member, &format!("compound file damaged: {d}"), sink);
    }
    let mut walk = Walk {
        cfb: &cfb,
        budget,
        visited: vec![false; 1],
    };
    walk.storage(cfb.root(), "", place, sink);
    if cfb.tangled.get() {
        problem(
            place.member,
            "compound file directory is tangled (storages share their entries, \
             a damaged or hostile file): the rest was not read",
            sink,
        );
    }
}

/// A `partial` problem at `member`.
fn problem(member: Option<&Member>, reason: &str, sink: &mut dyn LeafSink) {
    sink.problem(Problem {
        member: member.cloned(),
        status: FileStatus::Partial,
        reason: reason.to_string(),
    });
}

/// What a storage is, from the names of its streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StorageKind {
    Word,
    Excel,
    PowerPoint,
    Message,
    Other,
}

/// Storages nested deeper than this are not walked (real files nest a
/// few levels: an object in an object in a document).
const MAX_STORAGE_DEPTH: usize = 32;

struct Walk<'c, 'a, 'b> {
    cfb: &'c Cfb<'a>,
    budget: &'b Budget,
    /// Storages walked: a directory whose child points back to an
    /// ancestor is walked once.
    visited: Vec<bool>,
}

impl Walk<'_, '_, '_> {
    fn kind(&self, id: usize) -> StorageKind {
        let has = |n: &str| self.cfb.find(id, n).is_some();
        if has("WordDocument") {
            StorageKind::Word
        } else if has("Workbook") || has("Book") {
            StorageKind::Excel
        } else if has("PowerPoint Document") {
            StorageKind::PowerPoint
        } else if self
            .cfb
            .children(id)
            .iter()
            .any(|&c| self.cfb.entry(c).name.starts_with("__substg1.0_"))
        {
            StorageKind::Message
        } else {
            StorageKind::Other
        }
    }

    /// Walks storage `id`, whose streams are named `prefix` + their name.
    fn storage(&mut self, id: usize, prefix: &str, place: Place<'_>, sink: &mut dyn LeafSink) {
        if self.visited.len() <= id {
            self.visited.resize(id + 1, false);
        }
        if std::mem::replace(&mut self.visited[id], true)
            || prefix.matches('/').count() > MAX_STORAGE_DEPTH
        {
            return;
        }
        let claimed = match self.kind(id) {
            StorageKind::Word => self.word(id, prefix, place, sink),
            StorageKind::Excel => self.excel(id, prefix, place, sink),
            StorageKind::PowerPoint => self.powerpoint(id, prefix, place, sink),
            StorageKind::Message => {
                let member = (!prefix.is_empty()).then(|| {
                    join(
                        place.member,
                        Step::Entry(prefix.trim_end_matches('/').to_string()),
                    )
                });
                let here = Place {
                    member: member.as_ref().or(place.member),
                    depth: place.depth,
                };
                msg::message(self, id, here, sink);
                return;
            }
            StorageKind::Other => Vec::new(),
        };
        for child in self.cfb.children(id) {
            if claimed.contains(&child) || self.budget.spent() {
                continue;
            }
            let entry = self.cfb.entry(child);
            let name = entry.name.clone();
            let path = format!("{prefix}{}", clean_name(&name));
            match entry.kind {
                EntryKind::Storage | EntryKind::Root => {
                    let inner = Place {
                        member: place.member,
                        depth: place.depth + 1,
                    };
                    if inner.depth >= self.budget.limits.max_depth {
                        problem(
                            Some(&join(place.member, Step::Entry(path.clone()))),
                            &format!(
                                "embedded object nested more than {} levels deep: not opened \
                                 (raise limits.max_depth or --max-depth)",
                                self.budget.limits.max_depth
                            ),
                            sink,
                        );
                        continue;
                    }
                    self.storage(child, &format!("{path}/"), inner, sink);
                }
                EntryKind::Stream => self.other_stream(child, &name, &path, place, sink),
            }
        }
    }

    /// A stream no format claimed: metadata is skipped, an embedded
    /// object's data is opened by its content.
    fn other_stream(
        &mut self,
        id: usize,
        name: &str,
        path: &str,
        place: Place<'_>,
        sink: &mut dyn LeafSink,
    ) {
        // \x01 CompObj / Ole (class ids, link flags), \x02 OlePres
        // (cached pictures), \x03 ObjInfo: no text. \x05 property sets
        // (title, author, comments) are scanned as they are.
        if name.starts_with(['\u{1}', '\u{2}', '\u{3}']) && name != "\u{1}Ole10Native" {
            return;
        }
        let Some(bytes) = self.read(id, Step::Entry(path.to_string()), place, sink) else {
            return;
        };
        let data = if name == "\u{1}Ole10Native" {
            ole10_native(&bytes)
        } else {
            &bytes[..]
        };
        member(
            &mut &data[..],
            Step::Entry(path.to_string()),
            place,
            self.budget,
            sink,
        );
    }

    /// Reads stream `id` (named `path`), up to `max_buffer` bytes, counting
    /// them against the budget; damage is reported, what was read returned.
    fn read(
        &self,
        id: usize,
        step: Step,
        place: Place<'_>,
        sink: &mut dyn LeafSink,
    ) -> Option<Vec<u8>> {
        let at = join(place.member, step);
        let cap = self.budget.limits.max_buffer;
        let (bytes, err) = self.cfb.read(id, cap);
        if let Err(reason) = self.charge(bytes.len() as u64) {
            problem(Some(&at), &reason.to_string(), sink);
            return None;
        }
        if let Some(e) = err {
            problem(
                Some(&at),
                &format!("compound file stream {e}; what was read of it was scanned"),
                sink,
            );
        } else if self.cfb.size(id) > cap {
            problem(
                Some(&at),
                &format!(
                    "stream larger than {cap} bytes: only its first {cap} bytes were scanned \
                     (raise limits.max_buffer or --max-buffer)"
                ),
                sink,
            );
        }
        Some(bytes)
    }

    /// Counts `n` bytes read against `max_expanded` and the deadline.
    fn charge(&self, n: u64) -> Result<(), BudgetError> {
        // The deadline is the one error `check_time` has.
        self.budget.check_time().map_err(|_| BudgetError::Time {
            max: self.budget.limits.max_time,
        })?;
        let total = self.budget.expanded.get() + n;
        self.budget.expanded.set(total);
        if total > self.budget.limits.max_expanded {
            self.budget.spent.set(true);
            return Err(BudgetError::Expanded {
                max: self.budget.limits.max_expanded,
            });
        }
        Ok(())
    }

    /// Scans `text` as the leaf `step`.
    fn text(&self, text: &[u8], step: Step, place: Place<'_>, sink: &mut dyn LeafSink) {
        let at = join(place.member, step);
        if !self.budget.admit(&at, sink) {
            return;
        }
        super::leaf(
            &mut &text[..],
            Place {
                member: Some(&at),
                depth: place.depth,
            },
            sink,
        );
    }

    /// An HTML body: the text it shows, found where it is written
    /// ([`super::html`]).
    fn html(&self, html: &[u8], step: Step, place: Place<'_>, sink: &mut dyn LeafSink) {
        let at = join(place.member, step);
        if !self.budget.admit(&at, sink) {
            return;
        }
        let here = Place {
            member: Some(&at),
            depth: place.depth,
        };
        super::html::leaf(html, here, sink);
    }

    fn word(
        &mut self,
        id: usize,
        prefix: &str,
        place: Place<'_>,
        sink: &mut dyn LeafSink,
    ) -> Vec<usize> {
        let find = |n: &str| self.cfb.find(id, n);
        let mut claimed: Vec<usize> = ["WordDocument", "0Table", "1Table", "Data"]
            .iter()
            .filter_map(|n| find(n))
            .collect();
        claimed.sort_unstable();
        let Some(wd) = find("WordDocument") else {
            return claimed;
        };
        let path = format!("{prefix}WordDocument");
        let at = join(place.member, Step::Entry(path.clone()));
        let Some(word) = self.read(wd, Step::Entry(path.clone()), place, sink) else {
            return claimed;
        };
        let table_name = match doc::table_name(&word) {
            Ok(t) => t,
            Err(e) => {
                problem(Some(&at), &e.to_string(), sink);
                return claimed;
            }
        };
        let Some(table_id) = find(table_name) else {
            problem(Some(&at), &doc::DocError::NoPieceTable.to_string(), sink);
            return claimed;
        };
        let table_path = Step::Entry(format!("{prefix}{table_name}"));
        let Some(table) = self.read(table_id, table_path, place, sink) else {
            return claimed;
        };
        let (text, failure) = doc::text(&word, &table, self.budget.limits.max_buffer);
        self.text(text.as_bytes(), Step::Entry(path), place, sink);
        if let Some(e) = failure {
            problem(Some(&at), &e.to_string(), sink);
        }
        claimed
    }

    fn excel(
        &mut self,
        id: usize,
        prefix: &str,
        place: Place<'_>,
        sink: &mut dyn LeafSink,
    ) -> Vec<usize> {
        let Some(wb) = self
            .cfb
            .find(id, "Workbook")
            .or_else(|| self.cfb.find(id, "Book"))
        else {
            return Vec::new();
        };
        let path = format!("{prefix}Workbook");
        if let Some(data) = self.read(wb, Step::Entry(path.clone()), place, sink) {
            let (text, failure) = xls::text(&data, self.budget.limits.max_buffer);
            self.text(text.as_bytes(), Step::Entry(path.clone()), place, sink);
            if let Some(e) = failure {
                problem(
                    Some(&join(place.member, Step::Entry(path))),
                    &e.to_string(),
                    sink,
                );
            }
        }
        vec![wb]
    }

    fn powerpoint(
        &mut self,
        id: usize,
        prefix: &str,
        place: Place<'_>,
        sink: &mut dyn LeafSink,
    ) -> Vec<usize> {
        let find = |n: &str| self.cfb.find(id, n);
        let claimed: Vec<usize> = ["PowerPoint Document", "Current User", "Pictures"]
            .iter()
            .filter_map(|n| find(n))
            .collect();
        let Some(pd) = find("PowerPoint Document") else {
            return claimed;
        };
        let path = format!("{prefix}PowerPoint Document");
        if let Some(data) = self.read(pd, Step::Entry(path.clone()), place, sink) {
            let (text, failure) = ppt::text(&data, self.budget.limits.max_buffer);
            self.text(text.as_bytes(), Step::Entry(path.clone()), place, sink);
            if let Some(e) = failure {
                problem(
                    Some(&join(place.member, Step::Entry(path))),
                    &e.to_string(),
                    sink,
                );
            }
        }
        claimed
    }
}

/// The embedded file in an `\x01Ole10Native` stream: a size, then for a
/// "Package" object a label, a file name, a temporary path and the data's
/// own size ([MS-OLEDS] 2.3.6 and the Packager's layout); for any other
/// class the native data right after the size.
fn ole10_native(b: &[u8]) -> &[u8] {
    let body = b.get(4..).unwrap_or(&[]);
    let package = || -> Option<&[u8]> {
        let mut at = 2;
        for _ in 0..2 {
            at += body.get(at..)?.iter().position(|&c| c == 0)? + 1;
        }
        at += 4;
        let len = u32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?) as usize;
        at += 4 + len;
        let size = u32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?) as usize;
        body.get(at + 4..(at + 4).checked_add(size)?)
    };
    if body.starts_with(&[2, 0]) {
        package().unwrap_or(body)
    } else {
        body
    }
}

#[cfg(test)]
mod tests;
