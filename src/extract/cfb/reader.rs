//! A reader of the Compound File Binary format ([MS-CFB]), the OLE2
//! container of legacy Office files and Outlook `.msg`, written for hostile
//! input: the whole file is in memory, every sector chain is followed with
//! a visited set (a FAT loop ends the chain, it never spins), every stream
//! is cut to what its chain holds (a declared size of 4 GiB on a 10 KiB file
//! reads 10 KiB at most), the directory tree is walked with a visited set
//! and a depth limit, and nothing panics on short or lying data.
//!
//! Why not the `cfb` crate: it wants `Read + Seek`, checks chains by
//! failing the whole open on the first inconsistency, and would add a
//! dependency; a reader of our own says precisely which stream was damaged
//! and keeps reading the others (`partial`, never a silent skip).

/// Sector ids with a meaning ([MS-CFB] 2.1).
const MAXREGSECT: u32 = 0xFFFF_FFFA;
const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
const NOSTREAM: u32 = 0xFFFF_FFFF;

/// The first bytes of every compound file.
pub const MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Why a compound file cannot be opened at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CfbError {
    #[error("not a compound file (bad signature)")]
    NotCfb,
    #[error("the compound file header is truncated")]
    ShortHeader,
    #[error("unsupported sector size (shift {0})")]
    SectorSize(u16),
    #[error("the directory cannot be read: {0}")]
    Directory(ChainError),
}

/// Why one sector chain could not be read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("its sector chain loops back on itself (a damaged or hostile file)")]
    Cycle,
    #[error("its sector chain points outside the file (the file is truncated or damaged)")]
    OutOfFile,
    #[error("its sector chain ends before its declared size (the file is truncated or damaged)")]
    Short,
}

/// Whether a directory entry is a storage (a folder) or a stream (a file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Root,
    Storage,
    Stream,
}

/// One directory entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
    left: u32,
    right: u32,
    child: u32,
    start: u32,
    size: u64,
}

/// An open compound file, borrowing its bytes.
pub struct Cfb<'a> {
    data: &'a [u8],
    sector_size: usize,
    fat: Vec<u32>,
    minifat: Vec<u32>,
    mini_stream: Vec<u8>,
    cutoff: u64,
    entries: Vec<Entry>,
    /// What went wrong while opening that still left a readable file (a
    /// damaged FAT sector list, a mini stream cut short).
    pub damage: Vec<String>,
    /// Directory entries visited by [`Cfb::children`] so far, over all
    /// calls: a hostile tree whose storages share their entries would
    /// otherwise cost the square of the entries.
    steps: std::cell::Cell<u64>,
    /// The step budget ran out: some storages' children were not listed.
    pub tangled: std::cell::Cell<bool>,
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

impl<'a> Cfb<'a> {
    /// Opens `data`: header, FAT, mini FAT, directory.
    pub fn open(data: &'a [u8]) -> Result<Cfb<'a>, CfbError> {
        if !data.starts_with(&MAGIC) {
            return Err(CfbError::NotCfb);
        }
        if data.len() < 512 {
            return Err(CfbError::ShortHeader);
        }
        let major = u16_at(data, 0x1A).unwrap_or(3);
        let shift = u16_at(data, 0x1E).unwrap_or(0);
        let sector_size = match shift {
            9 => 512,
            12 => 4096,
            other => return Err(CfbError::SectorSize(other)),
        };
        let mini_shift = u16_at(data, 0x20).unwrap_or(6);
        if mini_shift != 6 {
            return Err(CfbError::SectorSize(mini_shift));
        }
        let mut damage = Vec::new();
        let sectors = data.len().saturating_sub(sector_size) / sector_size;
        let mut cfb = Cfb {
            data,
            sector_size,
            fat: Vec::new(),
            minifat: Vec::new(),
            mini_stream: Vec::new(),
            cutoff: u64::from(u32_at(data, 0x38).unwrap_or(4096)),
            entries: Vec::new(),
            damage: Vec::new(),
            steps: std::cell::Cell::new(0),
            tangled: std::cell::Cell::new(false),
        };
        // The FAT's own sectors: 109 ids in the header, then the DIFAT
        // chain (each sector: ids, and the next DIFAT sector last).
        let mut fat_sectors: Vec<u32> = (0..109)
            .filter_map(|i| u32_at(data, 0x4C + 4 * i))
            .filter(|&s| s < MAXREGSECT)
            .collect();
        let mut difat = u32_at(data, 0x44).unwrap_or(ENDOFCHAIN);
        let mut seen = vec![false; sectors];
        let per = sector_size / 4;
        while difat < MAXREGSECT {
            let Some(sector) = cfb.sector(difat) else {
                damage.push(format!("the FAT list {}", ChainError::OutOfFile));
                break;
            };
            if std::mem::replace(&mut seen[difat as usize], true) {
                damage.push(format!("the FAT list {}", ChainError::Cycle));
                break;
            }
            for i in 0..per - 1 {
                let s = u32_at(sector, 4 * i).unwrap_or(NOSTREAM);
                if s < MAXREGSECT {
                    fat_sectors.push(s);
                }
            }
            difat = u32_at(sector, 4 * (per - 1)).unwrap_or(ENDOFCHAIN);
        }
        // A FAT bigger than the file has sectors is a lie: cut it there.
        fat_sectors.truncate(sectors.div_ceil(per).max(1));
        let mut fat = Vec::with_capacity(fat_sectors.len() * per);
        for s in fat_sectors {
            match cfb.sector(s) {
                Some(sector) => fat.extend(
                    sector
                        .chunks_exact(4)
                        .map(|c| u32::from_le_bytes(c.try_into().expect("chunks of four bytes"))),
                ),
                None => {
                    damage.push(format!("a FAT sector {}", ChainError::OutOfFile));
                    fat.extend(std::iter::repeat_n(NOSTREAM, per));
                }
            }
        }
        cfb.fat = fat;
        // The directory: 128-byte entries along its chain.
        let dir_start = u32_at(data, 0x30).unwrap_or(ENDOFCHAIN);
        let (dir, err) = cfb.chain(dir_start, u64::MAX);
        if dir.is_empty() {
            return Err(CfbError::Directory(err.unwrap_or(ChainError::Short)));
        }
        if let Some(e) = err.filter(|e| *e != ChainError::Short) {
            damage.push(format!("the directory {e}"));
        }
        cfb.entries = dir
            .chunks_exact(128)
            .map(|e| parse_entry(e, major))
            .collect();
        if cfb.entries.first().map(|e| e.kind) != Some(EntryKind::Root) {
            return Err(CfbError::Directory(ChainError::Short));
        }
        // The mini FAT and the mini stream (the root entry's data), where
        // streams under the cutoff live in 64-byte sectors.
        let minifat_start = u32_at(data, 0x3C).unwrap_or(ENDOFCHAIN);
        let (minifat, err) = cfb.chain(minifat_start, u64::MAX);
        if let Some(e) = err.filter(|e| *e != ChainError::Short) {
            damage.push(format!("the mini FAT {e}"));
        }
        cfb.minifat = minifat
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("chunks of four bytes")))
            .collect();
        let root = cfb.entries[0].clone();
        let (mini, err) = cfb.chain(root.start, root.size);
        if let Some(e) = err {
            damage.push(format!("the mini stream {e}"));
        }
        cfb.mini_stream = mini;
        cfb.damage = damage;
        Ok(cfb)
    }

    /// The bytes of regular sector `id`, if the file has it.
    fn sector(&self, id: u32) -> Option<&'a [u8]> {
        let start = (id as usize)
            .checked_add(1)?
            .checked_mul(self.sector_size)?;
        self.data.get(start..start.checked_add(self.sector_size)?)
    }

    /// Follows a FAT chain from `start`, up to `size` bytes. The bytes read
    /// and why the chain stopped early, if it did. A chain visits each
    /// sector once at most, so it never holds more than the file.
    fn chain(&self, start: u32, size: u64) -> (Vec<u8>, Option<ChainError>) {
        let mut out = Vec::new();
        let mut seen = vec![false; self.fat.len().max(1)];
        let mut s = start;
        while (out.len() as u64) < size {
            if s == ENDOFCHAIN || s >= MAXREGSECT {
                let err = (size != u64::MAX).then_some(ChainError::Short);
                return (out, err);
            }
            let Some(sector) = self.sector(s) else {
                return (out, Some(ChainError::OutOfFile));
            };
            match seen.get_mut(s as usize) {
                Some(v) if *v => return (out, Some(ChainError::Cycle)),
                Some(v) => *v = true,
                None => return (out, Some(ChainError::OutOfFile)),
            }
            let want = (size - out.len() as u64).min(self.sector_size as u64) as usize;
            out.extend_from_slice(&sector[..want]);
            s = self.fat.get(s as usize).copied().unwrap_or(NOSTREAM);
        }
        (out, None)
    }

    /// Follows a mini FAT chain in the mini stream.
    fn mini_chain(&self, start: u32, size: u64) -> (Vec<u8>, Option<ChainError>) {
        let mut out = Vec::new();
        let mut seen = vec![false; self.minifat.len().max(1)];
        let mut s = start;
        while (out.len() as u64) < size {
            if s >= MAXREGSECT {
                return (out, Some(ChainError::Short));
            }
            let at = s as usize * 64;
            let Some(sector) = self.mini_stream.get(at..at + 64) else {
                return (out, Some(ChainError::OutOfFile));
            };
            match seen.get_mut(s as usize) {
                Some(v) if *v => return (out, Some(ChainError::Cycle)),
                Some(v) => *v = true,
                None => return (out, Some(ChainError::OutOfFile)),
            }
            let want = (size - out.len() as u64).min(64) as usize;
            out.extend_from_slice(&sector[..want]);
            s = self.minifat.get(s as usize).copied().unwrap_or(NOSTREAM);
        }
        (out, None)
    }

    /// The root storage's id.
    pub fn root(&self) -> usize {
        0
    }

    /// The entry with id `id`.
    pub fn entry(&self, id: usize) -> &Entry {
        &self.entries[id]
    }

    /// The children of storage `id`, in directory order (the red-black
    /// tree walked in order), each once; a loop or a dangling id in the
    /// tree ends that branch.
    pub fn children(&self, id: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        seen.insert(id);
        // A real file lists each entry under one storage, and the walkers
        // ask for a storage's children a dozen times at most.
        let budget = 64 * self.entries.len() as u64 + 4096;
        // In-order walk with an explicit stack: a hostile tree may be a
        // list thousands long, which recursion would follow off the stack.
        let mut stack: Vec<usize> = Vec::new();
        let mut at = self.entries[id].child;
        loop {
            while let Some(i) = self.fresh(at, &mut seen) {
                stack.push(i);
                at = self.entries[i].left;
            }
            let Some(i) = stack.pop() else { break };
            self.steps.set(self.steps.get() + 1);
            if self.steps.get() > budget {
                self.tangled.set(true);
                break;
            }
            if self.entries[i].kind != EntryKind::Root {
                out.push(i);
            }
            at = self.entries[i].right;
        }
        out
    }

    /// `id` as an index, if it names an entry not yet visited.
    fn fresh(&self, id: u32, seen: &mut std::collections::HashSet<usize>) -> Option<usize> {
        let i = id as usize;
        if id == NOSTREAM || i >= self.entries.len() || !seen.insert(i) {
            return None;
        }
        Some(i)
    }

    /// The child of storage `id` called `name` (case-insensitive, as in
    /// [MS-CFB]).
    pub fn find(&self, id: usize, name: &str) -> Option<usize> {
        self.children(id)
            .into_iter()
            .find(|&c| self.entries[c].name.eq_ignore_ascii_case(name))
    }

    /// The bytes of stream `id`, up to `cap` of them, and why they stop
    /// short of the declared size, if they do.
    pub fn read(&self, id: usize, cap: u64) -> (Vec<u8>, Option<ChainError>) {
        let e = &self.entries[id];
        let size = e.size.min(cap);
        if e.size < self.cutoff {
            self.mini_chain(e.start, size)
        } else {
            self.chain(e.start, size)
        }
    }

    /// The declared size of stream `id`.
    pub fn size(&self, id: usize) -> u64 {
        self.entries[id].size
    }
}

fn parse_entry(e: &[u8], major: u16) -> Entry {
    let name_len = (u16_at(e, 64).unwrap_or(0) as usize).min(64);
    let units: Vec<u16> = e[..name_len.saturating_sub(2)]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let name = String::from_utf16_lossy(&units);
    let kind = match e[66] {
        5 => EntryKind::Root,
        1 => EntryKind::Storage,
        2 => EntryKind::Stream,
        // Unused and unknown entries: a stream of nothing.
        _ => EntryKind::Storage,
    };
    let low = u64::from(u32_at(e, 120).unwrap_or(0));
    let high = u64::from(u32_at(e, 124).unwrap_or(0));
    // Version 3 files may leave garbage in the high half ([MS-CFB] 2.6.3).
    let size = if major >= 4 { low | high << 32 } else { low };
    let valid = matches!(e[66], 1 | 2 | 5);
    Entry {
        name,
        kind,
        left: u32_at(e, 68).unwrap_or(NOSTREAM),
        right: u32_at(e, 72).unwrap_or(NOSTREAM),
        child: if valid {
            u32_at(e, 76).unwrap_or(NOSTREAM)
        } else {
            NOSTREAM
        },
        start: u32_at(e, 116).unwrap_or(ENDOFCHAIN),
        size: if valid { size } else { 0 },
    }
}

#[cfg(test)]
pub(crate) mod build {
    //! A minimal compound file writer for tests (version 3, 512-byte
    //! sectors, every stream in regular sectors: the cutoff is set to 0).

    /// Streams as (path with `/`, bytes); storages are made from paths.
    pub fn cfb(streams: &[(&str, &[u8])]) -> Vec<u8> {
        // Directory entries: root, then storages and streams.
        struct E {
            name: String,
            kind: u8,
            children: Vec<usize>,
            data: Vec<u8>,
            start: u32,
        }
        let mut es = vec![E {
            name: "Root Entry".into(),
            kind: 5,
            children: vec![],
            data: vec![],
            start: super::ENDOFCHAIN,
        }];
        for (path, data) in streams {
            let mut parent = 0;
            let parts: Vec<&str> = path.split('/').collect();
            for (i, part) in parts.iter().enumerate() {
                let last = i + 1 == parts.len();
                let found = es[parent]
                    .children
                    .iter()
                    .copied()
                    .find(|&c| es[c].name == *part);
                parent = match found {
                    Some(c) => c,
                    None => {
                        es.push(E {
                            name: part.to_string(),
                            kind: if last { 2 } else { 1 },
                            children: vec![],
                            data: if last { data.to_vec() } else { vec![] },
                            start: super::ENDOFCHAIN,
                        });
                        let id = es.len() - 1;
                        es[parent].children.push(id);
                        id
                    }
                };
            }
        }
        // Sectors: FAT sector 0, directory, then stream data.
        let dir_sectors = (es.len() * 128).div_ceil(512);
        let mut body: Vec<u8> = Vec::new();
        let mut fat: Vec<u32> = vec![0xFFFF_FFFD];
        let dir_start = fat.len() as u32;
        for i in 0..dir_sectors {
            fat.push(if i + 1 == dir_sectors {
                super::ENDOFCHAIN
            } else {
                dir_start + i as u32 + 1
            });
        }
        let mut next = fat.len() as u32;
        for e in es.iter_mut() {
            if e.data.is_empty() {
                continue;
            }
            let n = e.data.len().div_ceil(512) as u32;
            e.start = next;
            for i in 0..n {
                fat.push(if i + 1 == n {
                    super::ENDOFCHAIN
                } else {
                    next + i + 1
                });
            }
            next += n;
        }
        assert!(fat.len() <= 128, "test writer: one FAT sector only");
        fat.resize(128, super::NOSTREAM);
        for f in &fat {
            body.extend_from_slice(&f.to_le_bytes());
        }
        let mut dir = Vec::new();
        for e in &es {
            let mut raw = [0u8; 128];
            let units: Vec<u16> = e.name.encode_utf16().collect();
            for (i, u) in units.iter().enumerate() {
                raw[2 * i..2 * i + 2].copy_from_slice(&u.to_le_bytes());
            }
            raw[64..66].copy_from_slice(&((units.len() as u16 + 1) * 2).to_le_bytes());
            raw[66] = e.kind;
            raw[67] = 1;
            // Children as a right-leaning list: each child's right sibling
            // is the next child.
            raw[68..72].copy_from_slice(&super::NOSTREAM.to_le_bytes());
            raw[72..76].copy_from_slice(&super::NOSTREAM.to_le_bytes());
            let child = e.children.first().map_or(super::NOSTREAM, |&c| c as u32);
            raw[76..80].copy_from_slice(&child.to_le_bytes());
            raw[116..120].copy_from_slice(&e.start.to_le_bytes());
            raw[120..124].copy_from_slice(&(e.data.len() as u32).to_le_bytes());
            dir.push(raw);
        }
        for e in &es {
            for w in e.children.windows(2) {
                dir[w[0]][72..76].copy_from_slice(&(w[1] as u32).to_le_bytes());
            }
        }
        let mut dir_bytes: Vec<u8> = dir.concat();
        dir_bytes.resize(dir_sectors * 512, 0);
        // Unused directory slots are empty entries.
        body.extend_from_slice(&dir_bytes);
        for e in &es {
            if !e.data.is_empty() {
                let mut d = e.data.clone();
                d.resize(d.len().div_ceil(512) * 512, 0);
                body.extend_from_slice(&d);
            }
        }
        let mut header = vec![0u8; 512];
        header[..8].copy_from_slice(&super::MAGIC);
        header[0x18..0x1A].copy_from_slice(&0x3Eu16.to_le_bytes());
        header[0x1A..0x1C].copy_from_slice(&3u16.to_le_bytes());
        header[0x1C..0x1E].copy_from_slice(&0xFFFEu16.to_le_bytes());
        header[0x1E..0x20].copy_from_slice(&9u16.to_le_bytes());
        header[0x20..0x22].copy_from_slice(&6u16.to_le_bytes());
        header[0x2C..0x30].copy_from_slice(&1u32.to_le_bytes());
        header[0x30..0x34].copy_from_slice(&dir_start.to_le_bytes());
        // Cutoff 0: every stream in regular sectors.
        header[0x38..0x3C].copy_from_slice(&0u32.to_le_bytes());
        header[0x3C..0x40].copy_from_slice(&super::ENDOFCHAIN.to_le_bytes());
        header[0x44..0x48].copy_from_slice(&super::ENDOFCHAIN.to_le_bytes());
        for i in 0..109 {
            let v: u32 = if i == 0 { 0 } else { super::NOSTREAM };
            header[0x4C + 4 * i..0x50 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        header.extend_from_slice(&body);
        header
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_and_storages_round_trip() {
        let data = build::cfb(&[("a", b"hello"), ("dir/b", &[7u8; 1500])]);
        let cfb = Cfb::open(&data).unwrap();
        let kids = cfb.children(cfb.root());
        let names: Vec<&str> = kids.iter().map(|&k| cfb.entry(k).name.as_str()).collect();
        assert_eq!(names, ["a", "dir"]);
        let a = cfb.find(0, "A").unwrap();
        assert_eq!(cfb.read(a, u64::MAX), (b"hello".to_vec(), None));
        let dir = cfb.find(0, "dir").unwrap();
        let b = cfb.find(dir, "b").unwrap();
        assert_eq!(cfb.read(b, u64::MAX).0, vec![7u8; 1500]);
        assert_eq!(cfb.read(b, 10).0.len(), 10);
    }

    #[test]
    fn cyclic_fat_chain_stops_with_a_reason() {
        let mut data = build::cfb(&[("big", &[1u8; 1500])]);
        // Stream "big" starts at sector 2 (FAT 0, directory 1): point its
        // second sector back to its first.
        let fat = 512;
        data[fat + 3 * 4..fat + 3 * 4 + 4].copy_from_slice(&2u32.to_le_bytes());
        let cfb = Cfb::open(&data).unwrap();
        let big = cfb.find(0, "big").unwrap();
        let (bytes, err) = cfb.read(big, u64::MAX);
        assert_eq!(err, Some(ChainError::Cycle));
        assert_eq!(bytes.len(), 1024);
    }

    #[test]
    fn huge_declared_size_reads_only_what_the_chain_holds() {
        let mut data = build::cfb(&[("s", &[3u8; 600])]);
        // The directory is sector 1; entry 1's size field.
        let at = 512 + 512 + 128 + 120;
        data[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let cfb = Cfb::open(&data).unwrap();
        let s = cfb.find(0, "s").unwrap();
        let (bytes, err) = cfb.read(s, u64::MAX);
        assert_eq!(bytes.len(), 1024);
        assert_eq!(err, Some(ChainError::Short));
    }

    #[test]
    fn truncated_file_is_an_error_or_a_short_stream_never_a_panic() {
        let data = build::cfb(&[("a", &[5u8; 3000]), ("b", b"x")]);
        for cut in [0, 7, 100, 511, 512, 700, 1024, 1100, 2000, data.len() - 1] {
            if let Ok(cfb) = Cfb::open(&data[..cut]) {
                for k in cfb.children(0) {
                    let _ = cfb.read(k, u64::MAX);
                }
            }
        }
        assert_eq!(Cfb::open(&data[..100]).err(), Some(CfbError::ShortHeader));
    }

    #[test]
    fn directory_tree_loop_lists_each_entry_once() {
        let mut data = build::cfb(&[("a", b"1"), ("b", b"2")]);
        // Entry 2's right sibling points back to entry 1.
        let at = 1024 + 2 * 128 + 72;
        data[at..at + 4].copy_from_slice(&1u32.to_le_bytes());
        let cfb = Cfb::open(&data).unwrap();
        assert_eq!(cfb.children(0).len(), 2);
    }
}
