//! A message's properties read straight from its heap, for the messages
//! the `outlook-pst` reader refuses: one without a sub-node tree (no
//! recipient table, no attachments, as a distribution list, a note or a
//! draft may be) is a valid message ([MS-PST] 2.4.4.1), but the reader
//! requires the tree before it reads any property.
//!
//! Enters: the node's data, already decoded and with its blocks joined
//! (the reader's `read_block`), and the size of a full data block. Leaves:
//! the property context's properties whose values are in the heap: fixed
//! values of four bytes or less, strings and binaries (a value in a
//! sub-node cannot be: there is none). Runs in the confined helper; every
//! offset is checked against the data, so damage is an error, never a
//! panic or a large allocation.
//!
//! The layers ([MS-PST] 2.3): a heap-on-node (HN) whose first block starts
//! with its header (`bSig` 0xEC, the client 0xBC for a property context,
//! `hidUserRoot`), every block ends in a page map of allocations; a heap
//! id (HID) names a block and an allocation in it. At the user root, a
//! B-tree-on-heap (BTH, `bType` 0xB5) of 2-byte keys (the property id) and
//! 6-byte entries (the type, then the value or the HID of the value).
//!
//! Also the layer below that the reader keeps to itself, for the attached
//! messages it cannot open ([`sub_nodes`]): a node's sub-node tree
//! ([MS-PST] 2.2.2.8.3.3, SLBLOCKs and SIBLOCKs), found through the block
//! B-tree ([`find_block`], 2.2.2.7.7). `outlook-pst` 1.2.0 has no
//! `PtypObject` (0x000D) property type, so its property B-tree reader
//! stops at an attachment's `PidTagAttachDataObject` and drops every
//! property after it ("Missing PidTagAttachMethod"), and it looks for
//! the attached message among the message's sub-nodes, where libpst
//! (readpst) looks in the attachment object's own: every attached message
//! of a real store is refused by it.

use std::collections::BTreeMap;

/// Why a heap could not be read: a fixed phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BareError {
    /// The header or a page map is not where or what it should be.
    #[error("a damaged property heap")]
    Heap,
    /// The B-tree at the heap's root is not a property B-tree.
    #[error("a damaged property B-tree")]
    Tree,
}

/// A property's value, as stored.
#[derive(Clone, PartialEq, Eq)]
pub enum Raw {
    /// A value of four bytes or less, kept in the entry.
    Inline(u32),
    /// Bytes in the heap (a string, a binary, an 8-byte value).
    Heap(Vec<u8>),
    /// A value too big for the heap, in the node's sub-node of this NID
    /// ([`SubNode`]s of the node's sub-node tree).
    Node(u32),
}

// Never print a value: it may be a card number.
impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Raw::Inline(_) => f.write_str("Inline(..)"),
            Raw::Heap(b) => write!(f, "Heap({} bytes)", b.len()),
            Raw::Node(nid) => write!(f, "Node({nid:#x})"),
        }
    }
}

/// The most B-tree levels followed: a real property B-tree has at most
/// two (a heap allocation holds at most 3580 bytes).
const MAX_LEVELS: u8 = 8;

/// The property context in `data` (a node's joined blocks, each
/// `block` bytes but the last): `(id, (type, value))` of each property.
pub fn properties(data: &[u8], block: usize) -> Result<BTreeMap<u16, (u16, Raw)>, BareError> {
    let heap = Heap { data, block };
    let first = heap.block(0).ok_or(BareError::Heap)?;
    if first.len() < 12 || first[2] != 0xEC || first[3] != 0xBC {
        return Err(BareError::Heap);
    }
    let root = heap.get(u32le(first, 4)).ok_or(BareError::Heap)?;
    if root.len() < 8 || root[0] != 0xB5 || root[1] != 2 || root[2] != 6 {
        return Err(BareError::Tree);
    }
    let levels = root[3];
    if levels > MAX_LEVELS {
        return Err(BareError::Tree);
    }
    let mut out = BTreeMap::new();
    let top = u32le(root, 4);
    if top != 0 {
        heap.records(top, levels, &mut out)?;
    }
    Ok(out)
}

struct Heap<'a> {
    data: &'a [u8],
    block: usize,
}

impl<'a> Heap<'a> {
    fn block(&self, i: usize) -> Option<&'a [u8]> {
        let start = i.checked_mul(self.block)?;
        if start >= self.data.len() {
            return None;
        }
        Some(&self.data[start..(start + self.block).min(self.data.len())])
    }

    /// The allocation a HID names; `None` for anything out of place.
    fn get(&self, hid: u32) -> Option<&'a [u8]> {
        if hid & 0x1f != 0 {
            return None;
        }
        let index = ((hid >> 5) & 0x7ff) as usize;
        let block = self.block((hid >> 16) as usize)?;
        if index == 0 || block.len() < 2 {
            return None;
        }
        let map = usize::from(u16::from_le_bytes([block[0], block[1]]));
        let count = usize::from(u16::from_le_bytes(
            block.get(map..map + 2)?.try_into().ok()?,
        ));
        if index > count {
            return None;
        }
        let at = |k: usize| -> Option<usize> {
            let o = map + 4 + 2 * k;
            Some(usize::from(u16::from_le_bytes(
                block.get(o..o + 2)?.try_into().ok()?,
            )))
        };
        let (start, end) = (at(index - 1)?, at(index)?);
        block.get(start..end)
    }

    /// Adds the leaf records under the B-tree node `hid`, `level` levels
    /// above the leaves.
    fn records(
        &self,
        hid: u32,
        level: u8,
        out: &mut BTreeMap<u16, (u16, Raw)>,
    ) -> Result<(), BareError> {
        let node = self.get(hid).ok_or(BareError::Tree)?;
        if level > 0 {
            // Key (2 bytes), HID of the next level (4): each level is one
            // lower, so the walk ends even on a tree that points back.
            for r in node.chunks_exact(6) {
                self.records(u32le(r, 2), level - 1, out)?;
            }
            return Ok(());
        }
        for r in node.chunks_exact(8) {
            let id = u16::from_le_bytes([r[0], r[1]]);
            let kind = u16::from_le_bytes([r[2], r[3]]);
            let value = u32le(r, 4);
            let raw = match kind {
                // Integers, floats, booleans, error codes: in the entry.
                0x0002 | 0x0003 | 0x0004 | 0x000A | 0x000B => Raw::Inline(value),
                // In the heap, or (a HNID that is a NID: its type bits
                // are not 0) in a sub-node; anything else is left out.
                _ => match self.get(value) {
                    Some(bytes) => Raw::Heap(bytes.to_vec()),
                    None if value & 0x1f != 0 => Raw::Node(value),
                    None => continue,
                },
            };
            out.insert(id, (kind, raw));
        }
        Ok(())
    }
}

/// What [`sub_nodes`] and [`find_block`] read a store through: the
/// store's width, raw bytes at an offset, and a data block's bytes
/// decoded and joined (the reader's `read_block`).
pub trait Blocks {
    /// A Unicode (64-bit) store; else ANSI (32-bit).
    fn unicode(&self) -> bool;
    /// `len` bytes at `offset`, or `None` past the end or on an error.
    fn read_at(&self, offset: u64, len: usize) -> Option<Vec<u8>>;
}

/// One entry of a sub-node tree: the sub-node's NID, its data block and
/// its own sub-node tree (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubNode {
    pub nid: u32,
    pub data: u64,
    pub sub: u64,
}

/// Why a sub-node tree could not be read: a fixed phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The block is not in the block B-tree, or a page of it is damaged.
    #[error("a block missing from the block B-tree")]
    Block,
    /// The block is no sub-node block, or is damaged.
    #[error("a damaged sub-node tree")]
    Tree,
}

/// B-tree pages followed from the root at most (a real one has 4 levels
/// or fewer); levels also go down strictly, so a page pointing back ends.
const MAX_PAGE_LEVELS: u8 = 8;

/// Entries of one sub-node tree kept at most: a message of 100,000
/// attachments is not one Outlook writes.
const MAX_SUB_NODES: usize = 1 << 16;

/// The offset and size of block `bid`, from the block B-tree whose root
/// page is named in the header.
pub fn find_block(src: &dyn Blocks, bid: u64) -> Result<(u64, usize), TreeError> {
    let unicode = src.unicode();
    let head = src.read_at(0, 248).ok_or(TreeError::Block)?;
    // ROOT.BREFBBT.ib ([MS-PST] 2.2.2.5, in the header 2.2.2.6).
    let mut page_at = if unicode {
        u64le(&head, 240)
    } else {
        u64::from(u32le(&head, 196))
    };
    // The block B-tree's keys have bit 0 (reserved) clear.
    let key = bid & !1;
    let mut above = MAX_PAGE_LEVELS + 1;
    for _ in 0..=MAX_PAGE_LEVELS {
        let page = src.read_at(page_at, 512).ok_or(TreeError::Block)?;
        let (room, meta) = if unicode { (488, 488) } else { (496, 496) };
        let (count, size, level) = (
            usize::from(page[meta]),
            usize::from(page[meta + 2]),
            page[meta + 3],
        );
        // pType 0x80: a block B-tree page ([MS-PST] 2.2.2.7.1).
        let kind = page[if unicode { 496 } else { 500 }];
        // Both entry kinds are 24 bytes (Unicode) or 12 (ANSI) at least.
        let least = if unicode { 24 } else { 12 };
        if kind != 0x80 || level >= above || size < least || count * size > room {
            return Err(TreeError::Block);
        }
        above = level;
        let mut entries = page[..count * size].chunks_exact(size);
        let word = |e: &[u8], at: usize| {
            if unicode {
                u64le(e, at * 8)
            } else {
                u64::from(u32le(e, at * 4))
            }
        };
        if level > 0 {
            // BTENTRY: key, then BREF (bid, ib): the last entry whose
            // key is not above ours.
            let next = entries
                .take_while(|e| word(e, 0) <= key)
                .last()
                .ok_or(TreeError::Block)?;
            page_at = word(next, 2);
            continue;
        }
        // BBTENTRY: BREF (bid, ib), cb.
        let cb_at = if unicode { 16 } else { 8 };
        return entries
            .find(|e| word(e, 0) & !1 == key)
            .map(|e| {
                (
                    word(e, 1),
                    usize::from(u16::from_le_bytes([e[cb_at], e[cb_at + 1]])),
                )
            })
            .ok_or(TreeError::Block);
    }
    Err(TreeError::Block)
}

/// The entries of the sub-node tree whose root block is `bid`, in order.
pub fn sub_nodes(src: &dyn Blocks, bid: u64) -> Result<Vec<SubNode>, TreeError> {
    let mut out = Vec::new();
    sub_block(src, bid, 2, &mut out)?;
    Ok(out)
}

/// Adds the entries under block `bid`, at most `levels` SIBLOCK levels
/// above the SLBLOCKs (a tree that points back up ends there).
fn sub_block(
    src: &dyn Blocks,
    bid: u64,
    levels: u8,
    out: &mut Vec<SubNode>,
) -> Result<(), TreeError> {
    let unicode = src.unicode();
    let (at, cb) = find_block(src, bid)?;
    // Sub-node blocks are internal blocks: never encoded.
    let block = src.read_at(at, cb).ok_or(TreeError::Block)?;
    let head = if unicode { 8 } else { 4 };
    if block.len() < head || block[0] != 0x02 {
        return Err(TreeError::Tree);
    }
    let (level, count) = (
        block[1],
        usize::from(u16::from_le_bytes([block[2], block[3]])),
    );
    let word = |e: &[u8], at: usize| {
        if unicode {
            u64le(e, at * 8)
        } else {
            u64::from(u32le(e, at * 4))
        }
    };
    let width = if unicode { 8 } else { 4 };
    match level {
        0 => {
            // SLENTRY: nid, bidData, bidSub.
            let entries = block[head..].chunks_exact(3 * width).take(count);
            if entries.len() < count || out.len() + count > MAX_SUB_NODES {
                return Err(TreeError::Tree);
            }
            out.extend(entries.map(|e| SubNode {
                nid: word(e, 0) as u32,
                data: word(e, 1),
                sub: word(e, 2),
            }));
            Ok(())
        }
        1 if levels > 0 => {
            // SIENTRY: nid, bid of an SLBLOCK.
            let entries: Vec<u64> = block[head..]
                .chunks_exact(2 * width)
                .take(count)
                .map(|e| word(e, 1))
                .collect();
            if entries.len() < count {
                return Err(TreeError::Tree);
            }
            for next in entries {
                sub_block(src, next, levels - 1, out)?;
            }
            Ok(())
        }
        _ => Err(TreeError::Tree),
    }
}

fn u64le(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
        .unwrap_or(0)
}

fn u32le(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-block heap: header, then the allocations, then the page map.
    fn heap(allocs: &[Vec<u8>]) -> Vec<u8> {
        let mut data = vec![0u8; 12];
        data[2] = 0xEC;
        data[3] = 0xBC;
        // hidUserRoot: the first allocation.
        data[4..8].copy_from_slice(&(1u32 << 5).to_le_bytes());
        let mut offsets = vec![data.len() as u16];
        for a in allocs {
            data.extend_from_slice(a);
            offsets.push(data.len() as u16);
        }
        let map = data.len() as u16;
        data[0..2].copy_from_slice(&map.to_le_bytes());
        data.extend_from_slice(&(allocs.len() as u16).to_le_bytes());
        data.extend_from_slice(&0u16.to_le_bytes());
        for o in offsets {
            data.extend_from_slice(&o.to_le_bytes());
        }
        data
    }

    #[test]
    fn a_subject_string_and_an_inline_integer_are_read() {
        let subject: Vec<u8> = "hello".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut bth = vec![0xB5, 2, 6, 0];
        bth.extend_from_slice(&(2u32 << 5).to_le_bytes());
        let mut leaf = Vec::new();
        leaf.extend_from_slice(&0x0037u16.to_le_bytes());
        leaf.extend_from_slice(&0x001Fu16.to_le_bytes());
        leaf.extend_from_slice(&(3u32 << 5).to_le_bytes());
        leaf.extend_from_slice(&0x0E07u16.to_le_bytes());
        leaf.extend_from_slice(&0x0003u16.to_le_bytes());
        leaf.extend_from_slice(&42u32.to_le_bytes());
        let data = heap(&[bth, leaf, subject.clone()]);
        let props = properties(&data, 8176).unwrap();
        assert_eq!(props[&0x0037], (0x001F, Raw::Heap(subject)));
        assert_eq!(props[&0x0E07], (0x0003, Raw::Inline(42)));
    }

    /// A store's bytes, as [`Blocks`].
    struct Bytes(Vec<u8>, bool);

    impl Blocks for Bytes {
        fn unicode(&self) -> bool {
            self.1
        }
        fn read_at(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
            let at = usize::try_from(offset).ok()?;
            self.0.get(at..at.checked_add(len)?).map(<[u8]>::to_vec)
        }
    }

    #[test]
    fn a_damaged_block_btree_or_sub_node_block_is_an_error_not_a_panic() {
        // A header whose block B-tree root is at 512, then a page of
        // bytes that vary: every width, every cbEnt and level, every
        // entry pointing anywhere (here, back at the page itself).
        for unicode in [true, false] {
            for fill in [0u8, 1, 0x02, 0xff] {
                for (size, level) in [1u8, 8, 12, 16, 24]
                    .iter()
                    .flat_map(|&s| [0u8, 1, 2].map(|l| (s, l)))
                {
                    let mut data = vec![fill; 2048];
                    let root = if unicode { 240 } else { 196 };
                    data[root..root + 4].copy_from_slice(&512u32.to_le_bytes());
                    data[root + 4..root + 8].fill(0);
                    let (meta, kind) = if unicode { (488, 496) } else { (496, 500) };
                    data[512 + meta] = 4;
                    data[512 + meta + 2] = size;
                    data[512 + meta + 3] = level;
                    data[512 + kind] = 0x80;
                    let src = Bytes(data, unicode);
                    for bid in [0u64, 1, 2, 4, 512, u64::MAX] {
                        let _ = find_block(&src, bid);
                        let _ = sub_nodes(&src, bid);
                    }
                }
            }
        }
        assert_eq!(
            sub_nodes(&Bytes(Vec::new(), true), 4).unwrap_err(),
            TreeError::Block
        );
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        assert_eq!(properties(b"", 8176).unwrap_err(), BareError::Heap);
        let mut data = heap(&[vec![0xB5, 2, 6, 0, 0xff, 0xff, 0xff, 0xff]]);
        assert_eq!(properties(&data, 8176).unwrap_err(), BareError::Tree);
        // A page map pointing past the block.
        data[0] = 0xff;
        data[1] = 0x7f;
        assert_eq!(properties(&data, 8176).unwrap_err(), BareError::Heap);
        // Every truncation of a valid heap.
        let good = heap(&[vec![0xB5, 2, 6, 0, 0, 0, 0, 0]]);
        for n in 0..good.len() {
            let _ = properties(&good[..n], 8176);
        }
    }
}
