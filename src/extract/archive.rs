//! Archives: zip (with OOXML and OpenDocument inside), and tar.
//!
//! A zip is read through its central directory, which needs random access:
//! a top-level zip is read from its file, a zip inside anything else is held
//! in memory up to `max_buffer`. Members whose compressed data overlap
//! another's (the "overlapping files" zip bomb) are not opened. Encrypted
//! members are reported as `partial`, reason `encrypted`. Tar is streamed
//! entry by entry.

use std::cell::Cell;
use std::io::{self, Read, Seek};
use std::rc::Rc;

use super::{
    Budget, CountIn, LeafSink, LimitHit, Limited, Place, Problem, Step, clean_name,
    clean_name_bytes, join, member, office, read_bounded,
};
use crate::report::event::FileStatus;

/// Whether a header looks like tar: the `ustar` magic at 257 and a valid
/// header checksum.
pub fn is_tar(head: &[u8]) -> bool {
    if head.len() < 512 || &head[257..262] != b"ustar" {
        return false;
    }
    let stored = std::str::from_utf8(&head[148..156])
        .ok()
        .map(|s| s.trim_matches(|c: char| c == '\0' || c == ' '))
        .and_then(|s| u32::from_str_radix(s, 8).ok());
    let sum: u32 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u32
            }
        })
        .sum();
    stored == Some(sum)
}

/// A zip inside another container: held in memory, then read.
pub fn zip_stream(
    stream: &mut dyn Read,
    place: Place<'_>,
    budget: &Budget,
    sink: &mut dyn LeafSink,
) {
    match read_bounded(stream, "a zip archive", place.member, budget) {
        Ok(data) => zip(io::Cursor::new(data), place, budget, sink),
        Err(problem) => sink.problem(problem),
    }
}

/// A zip read through its central directory (a top-level file, or a
/// nested zip held in memory).
pub fn zip<R: Read + Seek>(reader: R, place: Place<'_>, budget: &Budget, sink: &mut dyn LeafSink) {
    let mut archive = match zip::ZipArchive::new(reader) {
        Ok(a) => a,
        Err(e) => {
            sink.problem(Problem {
                member: place.member.cloned(),
                status: FileStatus::Error,
                reason: format!(
                    "not a readable zip archive: {e} (the file is corrupt or truncated)"
                ),
            });
            return;
        }
    };
    let names: Vec<String> = (0..archive.len())
        .map(|i| match archive.name_for_index(i) {
            Some(Ok(n)) => n.into_owned(),
            _ => format!("#{i}"),
        })
        .collect();
    let office = office::kind_of(&names, |name| {
        let i = archive.index_for_name(name)?;
        let mut f = archive.by_index(i).ok()?;
        let mut head = [0u8; 128];
        let n = f.read(&mut head).ok()?;
        Some(head[..n].to_vec())
    });
    let overlapping = overlapping_members(&mut archive);
    if !overlapping.is_empty() {
        sink.problem(Problem {
            member: place.member.cloned(),
            status: FileStatus::Partial,
            reason: format!(
                "{} members overlap others (a zip bomb technique): they were not opened",
                overlapping.len()
            ),
        });
    }
    for (i, raw_name) in names.iter().enumerate() {
        if overlapping.contains(&i) {
            continue;
        }
        let name = clean_name(raw_name);
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(zip::result::ZipError::UnsupportedArchive(msg))
                if msg == zip::result::ZipError::PASSWORD_REQUIRED =>
            {
                sink.problem(encrypted(place, &name));
                continue;
            }
            Err(e) => {
                sink.problem(Problem {
                    member: Some(join(place.member, Step::Entry(name.clone()))),
                    status: FileStatus::Error,
                    reason: format!("cannot open this member: {e}"),
                });
                continue;
            }
        };
        // A directory entry has nothing to read. Anything else with data
        // (a symbolic link's target, an entry whose attributes were
        // damaged) is read like a file: never skipped in silence.
        if entry.is_dir() && entry.size() == 0 {
            continue;
        }
        if entry.encrypted() {
            sink.problem(encrypted(place, &name));
            continue;
        }
        let compressed = Rc::new(Cell::new(entry.compressed_size().max(1)));
        let mut limited = Limited {
            inner: CountIn {
                inner: &mut entry,
                count: Rc::new(Cell::new(0)),
            },
            budget,
            input: compressed,
            output: 0,
        };
        match office {
            Some(kind) if office::is_text_part(kind, raw_name) => {
                office::part(&mut limited, kind, &name, place, budget, sink)
            }
            _ => member(&mut limited, Step::Entry(name), place, budget, sink),
        }
        if budget.spent() {
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

fn encrypted(place: Place<'_>, name: &str) -> Problem {
    Problem {
        member: Some(join(place.member, Step::Entry(name.to_string()))),
        status: FileStatus::Partial,
        reason: "encrypted: this member cannot be read without its password".to_string(),
    }
}

/// Indices of members whose data starts inside another member's data.
fn overlapping_members<R: Read + Seek>(archive: &mut zip::ZipArchive<R>) -> Vec<usize> {
    let mut spans: Vec<(u64, u64, usize)> = (0..archive.len())
        .filter_map(|i| {
            let f = archive.by_index_raw(i).ok()?;
            // A local header is at least 30 bytes, then the data: the
            // member occupies at least this much from its header.
            Some((f.header_start(), 30 + f.compressed_size(), i))
        })
        .collect();
    spans.sort();
    let mut out = Vec::new();
    let mut end = 0u64;
    for (start, len, i) in spans {
        if start < end {
            out.push(i);
        } else {
            end = start.saturating_add(len);
        }
    }
    out
}

/// A tar stream, entry by entry.
pub fn tar(stream: &mut dyn Read, place: Place<'_>, budget: &Budget, sink: &mut dyn LeafSink) {
    let mut archive = tar::Archive::new(stream);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            sink.problem(Problem {
                member: place.member.cloned(),
                status: FileStatus::Error,
                reason: format!("not a readable tar archive: {e}"),
            });
            return;
        }
    };
    for (seen, entry) in entries.enumerate() {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let reason = match LimitHit::of(&e) {
                    Some(hit) => hit.0.clone(),
                    None => format!(
                        "the tar archive is corrupt or truncated after {seen} members: {e} \
                         (the rest was not scanned)"
                    ),
                };
                sink.problem(Problem {
                    member: place.member.cloned(),
                    status: if seen > 0 {
                        FileStatus::Partial
                    } else {
                        FileStatus::Error
                    },
                    reason,
                });
                return;
            }
        };
        if entry.header().entry_type() != tar::EntryType::Regular
            && entry.header().entry_type() != tar::EntryType::GNUSparse
        {
            continue;
        }
        let name = clean_name_bytes(&entry.path_bytes());
        // The archive skips what a member leaves unread before the next.
        member(&mut entry, Step::Entry(name), place, budget, sink);
        if budget.spent() {
            return;
        }
    }
}
