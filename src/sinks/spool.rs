//! The disk spool of a network sink: what has been accepted but not yet
//! delivered, kept across crashes and restarts.
//!
//! A spool is a directory (one per sink) of append-only segment files,
//! `<first record number, 20 digits>.seg`, each a run of records
//! `<u32 little-endian length><bytes>`, and a file `committed` holding the
//! number of the first record not yet delivered. Records are numbered from
//! 0 for the life of the spool. The writer appends a record with one
//! `write` call, so once [`Spool::append`] returns the record survives a
//! crash (even SIGKILL) of leakhound; `sync` (called about once a second by
//! the delivery thread) makes it survive a power cut too. A record cut short
//! by a power cut is found on open and dropped. Segments are removed once
//! every record in them is delivered. A `lock` file (flock) keeps two
//! processes from sharing a spool. The directory is created 0700 and its
//! files 0600 whatever the umask: events name the files where numbers were
//! found.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A segment is closed and a new one started past this size.
pub const SEGMENT_BYTES: u64 = 4 << 20;

/// The longest record accepted.
pub const MAX_RECORD: usize = 1 << 20;

/// The writing side of a spool, and the bookkeeping both sides share.
pub struct Spool {
    dir: PathBuf,
    _lock: File,
    /// First record number of each segment, oldest first; never empty.
    segments: Vec<u64>,
    current: File,
    current_bytes: u64,
    /// Bytes in all segment files.
    bytes: u64,
    /// Records written so far (the next record's number).
    written: u64,
}

impl Spool {
    /// Opens (creating) the spool in `dir`. Returns it and the number of
    /// the first record not delivered.
    pub fn open(dir: &Path) -> io::Result<(Spool, u64)> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join("lock"))?;
        rustix::fs::flock(lock.as_fd(), rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|_| {
                io::Error::other(format!(
                    "the spool {} is in use by another leakhound process (give this sink its own name, or stop the other process)",
                    dir.display()
                ))
            })?;
        // A spool left by an older leakhound has 0755/0644 modes: narrow
        // them (the lock is held: the files are ours).
        narrow(dir, 0o700)?;
        let mut segments: Vec<u64> = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                narrow(&entry.path(), 0o600)?;
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name.strip_suffix(".seg").and_then(|n| n.parse().ok()) {
                segments.push(n);
            }
        }
        segments.sort_unstable();
        let mut bytes = 0;
        for &s in &segments {
            bytes += fs::metadata(segment_path(dir, s))?.len();
        }
        let (written, current_bytes) = match segments.last() {
            Some(&last) => {
                let path = segment_path(dir, last);
                let (count, good) = count_records(&path)?;
                let len = fs::metadata(&path)?.len();
                if good < len {
                    // A record cut short (power cut while writing): drop it.
                    tracing::warn!(
                        "spool {}: dropping an incomplete record at the end of {}",
                        dir.display(),
                        path.display()
                    );
                    OpenOptions::new().write(true).open(&path)?.set_len(good)?;
                    bytes -= len - good;
                }
                (last + count, good)
            }
            None => (0, 0),
        };
        if segments.is_empty() {
            segments.push(0);
        }
        let last = *segments.last().unwrap_or(&0);
        let current = private_append(&segment_path(dir, last))?;
        let committed = fs::read_to_string(dir.join("committed"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
            .clamp(segments[0], written);
        let spool = Spool {
            dir: dir.to_path_buf(),
            _lock: lock,
            segments,
            current,
            current_bytes,
            bytes,
            written,
        };
        Ok((spool, committed))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends one record; returns its number.
    pub fn append(&mut self, rec: &[u8]) -> io::Result<u64> {
        if rec.len() > MAX_RECORD {
            return Err(io::Error::other(format!(
                "an event of {} bytes is larger than the spool accepts ({MAX_RECORD})",
                rec.len()
            )));
        }
        if self.current_bytes >= SEGMENT_BYTES {
            self.current.sync_data()?;
            let path = segment_path(&self.dir, self.written);
            self.current = private_append(&path)?;
            self.segments.push(self.written);
            self.current_bytes = 0;
        }
        let mut buf = Vec::with_capacity(rec.len() + 4);
        buf.extend_from_slice(&(rec.len() as u32).to_le_bytes());
        buf.extend_from_slice(rec);
        self.current.write_all(&buf)?;
        self.current_bytes += buf.len() as u64;
        self.bytes += buf.len() as u64;
        let n = self.written;
        self.written += 1;
        Ok(n)
    }

    /// Makes what was written survive a power cut.
    pub fn sync(&self) -> io::Result<()> {
        self.current.sync_data()
    }

    /// Records that everything before `committed` is delivered: writes the
    /// `committed` file and removes segments holding only delivered records.
    pub fn commit(&mut self, committed: u64) -> io::Result<()> {
        let tmp = self.dir.join("committed.tmp");
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?
            .write_all(format!("{committed}\n").as_bytes())?;
        fs::rename(&tmp, self.dir.join("committed"))?;
        while self.segments.len() > 1 && self.segments[1] <= committed {
            let path = segment_path(&self.dir, self.segments[0]);
            let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            fs::remove_file(&path)?;
            self.bytes = self.bytes.saturating_sub(len);
            self.segments.remove(0);
        }
        Ok(())
    }

    /// The segment holding record `n`: its first record number and path.
    pub fn locate(&self, n: u64) -> (u64, PathBuf) {
        let i = self.segments.partition_point(|&s| s <= n).max(1) - 1;
        (self.segments[i], segment_path(&self.dir, self.segments[i]))
    }
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.seg"))
}

/// Complete records in a segment and the byte length they take.
fn count_records(path: &Path) -> io::Result<(u64, u64)> {
    let mut r = BufReader::new(File::open(path)?);
    let (mut count, mut good) = (0, 0);
    loop {
        match read_record(&mut r)? {
            Some(rec) => {
                count += 1;
                good += 4 + rec.len() as u64;
            }
            None => return Ok((count, good)),
        }
    }
}

/// The next whole record, or `None` at the end (or at a record cut short).
fn read_record(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    if !read_full(r, &mut len)? {
        return Ok(None);
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_RECORD {
        return Err(io::Error::other(
            "the spool is damaged: a record is too long",
        ));
    }
    let mut rec = vec![0u8; len];
    if !read_full(r, &mut rec)? {
        return Ok(None);
    }
    Ok(Some(rec))
}

/// Fills `buf`; false when the file ends first.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return Ok(false),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads records back in order (the delivery thread's side).
#[derive(Default)]
pub struct SpoolReader {
    /// The open segment's first record number, the reader, and the number
    /// of the record it will read next.
    open: Option<(u64, BufReader<File>, u64)>,
}

impl SpoolReader {
    /// Reads record `n`, which must be written already. `locate` is
    /// [`Spool::locate`] for `n`.
    pub fn read(&mut self, n: u64, locate: impl Fn(u64) -> (u64, PathBuf)) -> io::Result<Vec<u8>> {
        let (first, path) = locate(n);
        let reposition = match &self.open {
            Some((f, _, pos)) => *f != first || *pos != n,
            None => true,
        };
        if reposition {
            let mut r = BufReader::new(File::open(&path)?);
            for _ in first..n {
                read_record(&mut r)?;
            }
            self.open = Some((first, r, n));
        }
        let Some((_, r, pos)) = &mut self.open else {
            return Err(io::Error::other("spool reader not open"));
        };
        match read_record(r)? {
            Some(rec) => {
                *pos += 1;
                Ok(rec)
            }
            None => {
                self.open = None;
                Err(io::Error::other(format!(
                    "the spool is damaged: record {n} is missing from {}",
                    path.display()
                )))
            }
        }
    }
}

/// Takes away the mode bits of `path` that `max` does not have.
fn narrow(path: &Path, max: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::symlink_metadata(path)?.permissions().mode() & 0o7777;
    if mode & !max != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & max))?;
    }
    Ok(())
}

/// Opens a segment for appending, creating it 0600.
fn private_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// File modes: the spool's directory and files are private whatever
    /// the umask (they were 0755/0644 under umask 022).
    #[test]
    fn spool_files_are_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("spool");
        let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
        let opened = Spool::open(&dir);
        rustix::process::umask(old);
        let (mut spool, _) = opened.unwrap();
        spool.append(b"one").unwrap();
        spool.commit(1).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        // A spool an older version left wide is narrowed on open.
        drop(spool);
        let seg = segment_path(&dir, 0);
        fs::set_permissions(&seg, fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let _again = Spool::open(&dir).unwrap();
        assert_eq!(mode(&seg), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn survives_reopen_and_drops_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut s, committed) = Spool::open(dir.path()).unwrap();
            assert_eq!(committed, 0);
            for i in 0..10 {
                assert_eq!(s.append(format!("rec{i}").as_bytes()).unwrap(), i);
            }
            s.commit(4).unwrap();
        }
        // A record cut short at the end.
        let seg = dir.path().join(format!("{:020}.seg", 0));
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[9, 0, 0, 0, b'x']).unwrap();
        drop(f);
        let (s, committed) = Spool::open(dir.path()).unwrap();
        assert_eq!(committed, 4);
        assert_eq!(s.written(), 10);
        let mut r = SpoolReader::default();
        for i in 4..10 {
            assert_eq!(
                r.read(i, |n| s.locate(n)).unwrap(),
                format!("rec{i}").as_bytes()
            );
        }
        // Random access rewinds.
        assert_eq!(r.read(5, |n| s.locate(n)).unwrap(), b"rec5");
    }

    #[test]
    fn a_spool_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _a = Spool::open(dir.path()).unwrap();
        let err = Spool::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("in use"), "{err}");
    }

    #[test]
    fn delivered_segments_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Spool::open(dir.path()).unwrap();
        let big = vec![b'a'; 1 << 20];
        for _ in 0..10 {
            s.append(&big).unwrap();
        }
        assert!(s.segments.len() >= 2);
        let before = s.bytes();
        s.commit(10).unwrap();
        assert_eq!(s.segments.len(), 1);
        assert!(s.bytes() < before);
        let mut r = SpoolReader::default();
        s.append(b"z").unwrap();
        assert_eq!(r.read(10, |n| s.locate(n)).unwrap(), b"z");
    }
}
