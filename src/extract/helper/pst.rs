//! Outlook mail stores (`.pst`, `.ost`): every folder's messages, their
//! subject, bodies, sender and recipient display names and attachments,
//! as the helper's parts.
//!
//! Runs only inside the confined helper (`leakhound __extract pst`, see
//! [`super`]): a PST is a database of B-trees, heaps and tables whose
//! every offset, count and size comes from the file, and the reader
//! (Microsoft's `outlook-pst` crate: NDB, LTP and messaging layers, ANSI
//! and Unicode files, `NDB_CRYPT_PERMUTE` and `NDB_CRYPT_CYCLIC` blocks
//! decoded) trusts them. Under the helper's address space and CPU limits
//! a hostile store (a cyclic B-tree, a heap that claims gigabytes) kills
//! only the helper; a panic in the reader is caught per message, and that
//! message is reported as a failed part.
//!
//! Enters: the store's bytes, or (a store on disk at the top level) the
//! file itself as a seekable descriptor ([`extract_messages_file`]), so
//! that a mailbox of gigabytes is read block by block and never held in
//! memory. The folder tree is walked from the root
//! folder (so `Deleted Items`, the IPM subtree and folders outside it are
//! all read) through each folder's hierarchy table, depth first, each
//! folder once (a hierarchy that loops back is cut); in each folder, the
//! messages of its contents table in order.
//!
//! Leaves, per message, parts named (the components of the member, see
//! [`Payload::Mail`](super::Payload::Mail)) `FOLDER PATH`, `message N nid
//! 0xNID` (N counted from 1 in the folder, NID the message's node id: a
//! stable, subject-free identifier), then the part:
//!
//! - `subject`, `people` (the sender's and the To/Cc/Bcc display names:
//!   PidTagSenderName, PidTagDisplayTo/Cc/Bcc), `recipients` (every text
//!   column of the recipient table: display names, e-mail and SMTP
//!   addresses, one value a line), `body` (PidTagBody): text;
//! - `body html` (PidTagHtml) and `body rtf` (PidTagRtfCompressed,
//!   decompressed here by [`crate::extract::rtf::decompress`]): files,
//!   which the scanner opens by content like any member (the RTF reader
//!   then keeps the visible text and opens embedded objects);
//! - `attachment N NAME` (PidTagAttachDataBinary, named by its file
//!   name, else its display name): a file, opened by content by the
//!   scanner; an attached message (afEmbeddedMessage: forwarded as an
//!   attachment, or an exception of a recurring appointment) gives its own
//!   `subject`, `people` and bodies under `attachment N NAME`, and its own
//!   attachments, in turn, as `attachment N NAME!attachment K NAME2`.
//!
//! `outlook-pst` refuses every attached message ("Missing
//! PidTagAttachMethod": it has no `PtypObject` type, see [`pst_bare`]), so
//! an attachment it refuses is read from the raw layers instead: the
//! message's sub-node tree, the attachment's property context, the
//! attached message's (a sub-node of the attachment object, or of the
//! message) and its sub-node tree, whose attachment sub-nodes are its
//! attachments (in NID order; an attached message's recipient table is not
//! read: its display names are in `people`). An attached message inside
//! itself (its sub-node tree one of those it is inside) has its
//! attachments left out, and messages nested more than
//! [`MAX_ATTACHED_DEPTH`] deep are not opened: either is a failed part
//! naming the attachment, never a loop.
//!
//! A message that cannot be read (a damaged property context, a panic in
//! the reader) is a failed part `message N`, N counted over the whole
//! store in the order of the walk; a folder whose tables cannot be read
//! is failed part `message 0`, its reason saying so. A store that cannot
//! be opened at all (not a PST, a damaged header or root) is `Err`.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use outlook_pst::ltp::prop_context::PropertyValue;
use outlook_pst::ltp::prop_type::PropertyType;
use outlook_pst::ltp::table_context::TableContext;
use outlook_pst::messaging::attachment::{
    AnsiAttachment, Attachment, AttachmentData, UnicodeAttachment,
};
use outlook_pst::messaging::message::{AnsiMessage, Message, UnicodeMessage};
use outlook_pst::messaging::store::{AnsiStore, EntryId, Store, UnicodeStore};
use outlook_pst::ndb::node_id::{NodeId, NodeIdType};
use outlook_pst::ndb::page::NodeBTreeEntry;
use outlook_pst::{AnsiPstFile, PstFile, UnicodePstFile};

use super::pst_bare::{self, Blocks, Raw, SubNode};

use super::{FailedParts, PART_END, Unreadable};

/// The root folder's node id ([MS-PST] 2.4.1 `NID_ROOT_FOLDER`).
const ROOT_FOLDER: u32 = 0x122;

/// Folders nested deeper than this are not walked (a hierarchy that
/// loops is cut by the visited set first; this bounds the path).
const MAX_FOLDER_DEPTH: usize = 64;

/// Characters kept of one component of a part's name (a folder path, an
/// attachment's file name): with the fixed ones, a name line stays under
/// the scanner's 4096 bytes (at most 4 bytes a character).
const MAX_COMPONENT: usize = 200;

/// The largest decompressed RTF body kept, in bytes.
const MAX_RTF: u64 = 64 << 20;

/// Message properties read ([MS-OXPROPS]).
const SUBJECT: u16 = 0x0037;
const SENDER_NAME: u16 = 0x0C1A;
const DISPLAY_BCC: u16 = 0x0E02;
const DISPLAY_CC: u16 = 0x0E03;
const DISPLAY_TO: u16 = 0x0E04;
const BODY: u16 = 0x1000;
const RTF_COMPRESSED: u16 = 0x1009;
const HTML: u16 = 0x1013;
/// Attachment properties.
const ATTACH_DATA: u16 = 0x3701;
const ATTACH_FILENAME: u16 = 0x3704;
const ATTACH_METHOD: u16 = 0x3705;
const ATTACH_LONG_FILENAME: u16 = 0x3707;
/// PidTagAttachMethod values ([MS-OXCMSG] 2.2.2.9).
const AF_BY_VALUE: u32 = 1;
const AF_EMBEDDED_MESSAGE: u32 = 5;
/// NID_TYPE_ATTACHMENT ([MS-PST] 2.2.2.1): the low 5 bits of a NID.
const NID_TYPE_ATTACHMENT: u32 = 0x05;

/// Attached messages nested deeper than this (a message attached to a
/// message attached to ...) are not opened: a failed part says so.
const MAX_ATTACHED_DEPTH: usize = 8;
/// Folder property: its name.
const DISPLAY_NAME: u16 = 0x3001;

/// Why an attachment read from the raw layers ([`pst_bare`]), or the
/// message attached there, could not be read: a fixed phrase, reported as
/// the message's failed part (`attachment N: ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum AttachmentError {
    /// The message has no sub-node tree to find its attachments in.
    #[error("no sub-node tree")]
    NoSubNodeTree,
    /// The message's (or the attachment's) sub-node tree is damaged.
    #[error(transparent)]
    Tree(#[from] pst_bare::TreeError),
    /// The raw reader panicked.
    #[error("the reader failed")]
    ReaderFailed,
    #[error("not in the message's sub-node tree")]
    NotInTree,
    #[error("its property context could not be read")]
    NoPropertyContext,
    /// The attachment's property heap is damaged.
    #[error(transparent)]
    Heap(#[from] pst_bare::BareError),
    #[error("no PidTagAttachMethod")]
    NoAttachMethod,
    #[error("its data could not be read")]
    NoData,
    #[error("a damaged PidTagAttachDataObject")]
    DamagedDataObject,
    #[error("its attached message is not in the sub-node tree")]
    MessageNotInTree,
    #[error("no PidTagAttachDataObject")]
    NoDataObject,
    #[error("no PidTagAttachDataBinary")]
    NoDataBinary,
    /// More than [`MAX_ATTACHED_DEPTH`] attached messages inside each other.
    #[error(
        "attached messages nested more than {} deep: not opened",
        MAX_ATTACHED_DEPTH
    )]
    NestedTooDeep,
    #[error("its attached message could not be read")]
    MessageUnreadable,
    /// The attached message's property heap is damaged.
    #[error("its attached message: {0}")]
    MessageHeap(pst_bare::BareError),
    /// The attached message's sub-node tree is damaged.
    #[error("its attached message: {0}")]
    MessageTree(pst_bare::TreeError),
    /// The attached message's sub-node tree is one of the messages it is
    /// inside.
    #[error("an attached message that contains itself: its attachments are not read")]
    ContainsItself,
}

/// Writes every message of the PST `data` as named parts (see the module
/// docs). `Ok` with the messages (and folders) that could not be read, or
/// `Err` with why the store could not be opened.
pub fn extract_messages(data: &[u8], out: &mut dyn Write) -> Result<FailedParts, Unreadable> {
    extract(Input::Bytes(data), out)
}

/// As [`extract_messages`], from the store's file: the reader seeks in it
/// and reads each block as it needs it, so memory does not grow with the
/// store's size.
pub fn extract_messages_file(file: File, out: &mut dyn Write) -> Result<FailedParts, Unreadable> {
    extract(Input::File(file), out)
}

/// Where the store is read from.
enum Input<'a> {
    Bytes(&'a [u8]),
    File(File),
}

fn extract(input: Input<'_>, out: &mut dyn Write) -> Result<FailedParts, Unreadable> {
    let opened = catch_unwind(AssertUnwindSafe(|| open(input)));
    let store = match opened {
        Ok(Ok(store)) => store,
        Ok(Err(why)) => return Err(why),
        Err(_) => return Err(Unreadable("the PST reader failed on its header".into())),
    };
    let mut walk = Walk {
        out,
        failed: Vec::new(),
        seen: HashSet::new(),
        ordinal: 0,
        stopped: false,
    };
    match &store {
        Opened::Unicode(s) => walk.folders(s, ROOT_FOLDER, String::new(), 0),
        Opened::Ansi(s) => walk.folders(s, ROOT_FOLDER, String::new(), 0),
    }
    if walk.stopped {
        return Err(Unreadable("the scanner stopped reading".into()));
    }
    Ok(walk.failed)
}

/// A store, of either width, and its file (for [`pst_bare`]).
enum Opened {
    Unicode(Both<UnicodeStore, UnicodePstFile>),
    Ansi(Both<AnsiStore, AnsiPstFile>),
}

struct Both<S, F> {
    store: Rc<S>,
    file: Rc<F>,
}

/// Opens the store: Unicode (64-bit) first, then ANSI (32-bit), by the
/// version in the header.
fn open(input: Input<'_>) -> Result<Opened, Unreadable> {
    let mut head = [0u8; 12];
    let got = match &input {
        Input::Bytes(data) => {
            let n = data.len().min(head.len());
            head[..n].copy_from_slice(&data[..n]);
            n
        }
        // The descriptor's offset is shared with the scanner: read from 0.
        Input::File(file) => read_head(file, &mut head)
            .map_err(|e| Unreadable(format!("cannot read the PST: {}", e.kind())))?,
    };
    let data = &head[..got];
    if !data.starts_with(b"!BDN") {
        return Err(Unreadable("not a PST file (no !BDN signature)".into()));
    }
    // wVer ([MS-PST] 2.2.2.6): 14 and 15 are ANSI, 23 and above Unicode
    // (36 is an OST with 4 KiB pages, which the reader does not support).
    let version = data
        .get(10..12)
        .map(|v| u16::from_le_bytes([v[0], v[1]]))
        .unwrap_or(0);
    let why = |e: io::Error| {
        Unreadable(format!(
            "a damaged header or root ({})",
            super::clean(&e.to_string(), 120)
        ))
    };
    match version {
        14 | 15 => {
            let file = Rc::new(AnsiPstFile::read_from(input.reader()).map_err(why)?);
            let store = AnsiStore::read(file.clone()).map_err(why)?;
            Ok(Opened::Ansi(Both { store, file }))
        }
        23..=35 => {
            let file = Rc::new(UnicodePstFile::read_from(input.reader()).map_err(why)?);
            let store = UnicodeStore::read(file.clone()).map_err(why)?;
            Ok(Opened::Unicode(Both { store, file }))
        }
        36.. => Err(Unreadable(
            "an OST of Outlook 2013 or later (4 KiB pages), which leakhound cannot read yet".into(),
        )),
        _ => Err(Unreadable("a PST version leakhound does not know".into())),
    }
}

/// Reads up to `head.len()` bytes from the start of `file`.
fn read_head(file: &File, head: &mut [u8]) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut got = 0;
    while got < head.len() {
        match file.read_at(&mut head[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl Input<'_> {
    /// The reader `outlook-pst` seeks in: a copy of the bytes (the reader
    /// owns it), or the file itself, unbuffered (it seeks before every
    /// block, which would throw a buffer away each time).
    fn reader(self) -> Box<dyn outlook_pst::PstReader> {
        match self {
            Input::Bytes(data) => Box::new(Cursor::new(data.to_vec())),
            Input::File(file) => Box::new(file),
        }
    }
}

/// What the two widths of store differ in, for the walk: the concrete
/// message type, which is needed to open its attachments.
trait Width {
    type Msg: Message + 'static;
    fn store(&self) -> Rc<dyn Store>;
    fn message(&self, entry: &EntryId) -> io::Result<Rc<Self::Msg>>;
    fn attachment(msg: &Rc<Self::Msg>, node: NodeId) -> io::Result<Rc<dyn Attachment>>;
    /// The data of node `nid` if it has no sub-node tree (the messages the
    /// reader refuses), decoded and joined, with its full block size.
    fn bare(&self, nid: u32) -> Option<(Vec<u8>, usize)>;
    /// The root block of node `nid`'s sub-node tree, if it has one.
    fn node_sub(&self, nid: u32) -> Option<u64>;
    /// Data block `bid` (a sub-node's), decoded and joined.
    fn data(&self, bid: u64) -> Option<Vec<u8>>;
    /// The size of a full data block, as [`pst_bare::properties`] needs.
    const BLOCK: usize;
    /// The store's blocks, for [`pst_bare::sub_nodes`].
    fn blocks(&self) -> &dyn Blocks;
}

/// Raw bytes of the store, through the reader's own handle (it seeks
/// before every read, so sharing it is safe).
fn read_at(
    reader: &std::sync::Mutex<Box<dyn outlook_pst::PstReader>>,
    offset: u64,
    len: usize,
) -> Option<Vec<u8>> {
    let mut reader = reader.lock().ok()?;
    reader.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = vec![0u8; len];
    reader.read_exact(&mut buf).ok()?;
    Some(buf)
}

impl Blocks for Both<UnicodeStore, UnicodePstFile> {
    fn unicode(&self) -> bool {
        true
    }
    fn read_at(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        read_at(self.file.reader(), offset, len)
    }
}

impl Blocks for Both<AnsiStore, AnsiPstFile> {
    fn unicode(&self) -> bool {
        false
    }
    fn read_at(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        read_at(self.file.reader(), offset, len)
    }
}

impl Width for Both<UnicodeStore, UnicodePstFile> {
    type Msg = UnicodeMessage;
    fn store(&self) -> Rc<dyn Store> {
        self.store.clone()
    }
    fn message(&self, entry: &EntryId) -> io::Result<Rc<UnicodeMessage>> {
        UnicodeMessage::read(self.store.clone(), entry, None)
    }
    fn attachment(msg: &Rc<UnicodeMessage>, node: NodeId) -> io::Result<Rc<dyn Attachment>> {
        Ok(UnicodeAttachment::read(msg.clone(), node, None)?)
    }
    fn bare(&self, nid: u32) -> Option<(Vec<u8>, usize)> {
        let node = self.file.read_node(NodeId::from(nid)).ok()?;
        if node.sub_node().is_some() {
            return None;
        }
        // A Unicode data block holds 8192 bytes less its 16-byte trailer.
        Some((self.file.read_block(node.data()).ok()?, Self::BLOCK))
    }
    fn node_sub(&self, nid: u32) -> Option<u64> {
        let node = self.file.read_node(NodeId::from(nid)).ok()?;
        node.sub_node().map(u64::from)
    }
    fn data(&self, bid: u64) -> Option<Vec<u8>> {
        self.file.read_block(bid.into()).ok()
    }
    const BLOCK: usize = 8176;
    fn blocks(&self) -> &dyn Blocks {
        self
    }
}

impl Width for Both<AnsiStore, AnsiPstFile> {
    type Msg = AnsiMessage;
    fn store(&self) -> Rc<dyn Store> {
        self.store.clone()
    }
    fn message(&self, entry: &EntryId) -> io::Result<Rc<AnsiMessage>> {
        AnsiMessage::read(self.store.clone(), entry, None)
    }
    fn attachment(msg: &Rc<AnsiMessage>, node: NodeId) -> io::Result<Rc<dyn Attachment>> {
        Ok(AnsiAttachment::read(msg.clone(), node, None)?)
    }
    fn bare(&self, nid: u32) -> Option<(Vec<u8>, usize)> {
        let node = self.file.read_node(NodeId::from(nid)).ok()?;
        if node.sub_node().is_some() {
            return None;
        }
        // An ANSI data block: 8192 bytes less its 12-byte trailer.
        Some((self.file.read_block(node.data()).ok()?, Self::BLOCK))
    }
    fn node_sub(&self, nid: u32) -> Option<u64> {
        let node = self.file.read_node(NodeId::from(nid)).ok()?;
        node.sub_node().map(|b| u64::from(u32::from(b)))
    }
    fn data(&self, bid: u64) -> Option<Vec<u8>> {
        self.file.read_block(u32::try_from(bid).ok()?.into()).ok()
    }
    const BLOCK: usize = 8180;
    fn blocks(&self) -> &dyn Blocks {
        self
    }
}

struct Walk<'a> {
    out: &'a mut dyn Write,
    failed: FailedParts,
    /// Folders already walked: a hierarchy table that points back up is
    /// not followed again.
    seen: HashSet<u32>,
    /// Messages tried so far, over the whole store.
    ordinal: u32,
    /// The scanner stopped reading: nothing more is written.
    stopped: bool,
}

/// A part being written: text or a file.
#[derive(Clone, Copy)]
enum Part {
    Text,
    File,
}

impl Walk<'_> {
    /// Walks folder `nid` (named by `path`, its parents' names) and every
    /// folder under it.
    fn folders<W: Width>(&mut self, store: &W, nid: u32, path: String, depth: usize) {
        if self.stopped || depth > MAX_FOLDER_DEPTH || !self.seen.insert(nid) {
            return;
        }
        let dyn_store = store.store();
        let opened = catch_unwind(AssertUnwindSafe(|| {
            let entry = dyn_store.properties().make_entry_id(NodeId::from(nid))?;
            dyn_store.open_folder(&entry)
        }));
        let folder = match opened {
            Ok(Ok(folder)) => folder,
            Ok(Err(e)) => return self.folder_failed(&path, &e.to_string()),
            Err(_) => return self.folder_failed(&path, "the reader failed"),
        };
        let name = match folder.properties().get(DISPLAY_NAME).and_then(value) {
            Some(Value::Text(t)) => t,
            _ => String::new(),
        };
        // The root folder has no name of its own; its children start the
        // path.
        let path = match (path.is_empty(), depth) {
            (_, 0) => String::new(),
            (true, _) => name,
            (false, _) => format!("{path}/{name}"),
        };
        let label = if path.is_empty() { "/" } else { path.as_str() };
        let rows: Result<Vec<u32>, _> = catch_unwind(AssertUnwindSafe(|| {
            folder
                .contents_table()
                .map(|t| t.rows_matrix().map(|r| u32::from(r.id())).collect())
                .unwrap_or_default()
        }));
        match rows {
            Ok(rows) => {
                for (i, id) in rows.into_iter().enumerate() {
                    if self.stopped {
                        return;
                    }
                    self.message(store, label, i + 1, id);
                }
            }
            Err(_) => self.folder_failed(label, "its contents table could not be read"),
        }
        let children: Result<Vec<u32>, _> = catch_unwind(AssertUnwindSafe(|| {
            folder
                .hierarchy_table()
                .map(|t| t.rows_matrix().map(|r| u32::from(r.id())).collect())
                .unwrap_or_default()
        }));
        match children {
            Ok(children) => {
                for child in children {
                    // Search folders hold links to messages walked in their
                    // own folders.
                    if matches!(NodeId::from(child).id_type(), Ok(NodeIdType::NormalFolder)) {
                        self.folders(store, child, path.clone(), depth + 1);
                    }
                }
            }
            Err(_) => self.folder_failed(label, "its hierarchy table could not be read"),
        }
    }

    fn folder_failed(&mut self, path: &str, why: &str) {
        let path = if path.is_empty() { "/" } else { path };
        self.failed.push((
            0,
            format!(
                "folder {}: {}",
                super::clean(path, 80),
                super::clean(why, 120)
            ),
        ));
    }

    /// Writes the parts of message `id`, the `index`th of folder `path`.
    fn message<W: Width>(&mut self, store: &W, path: &str, index: usize, id: u32) {
        self.ordinal = self.ordinal.saturating_add(1);
        let ordinal = self.ordinal;
        let name = format!("message {index} nid {id:#x}");
        let dyn_store = store.store();
        let read = catch_unwind(AssertUnwindSafe(|| {
            let entry = dyn_store.properties().make_entry_id(NodeId::from(id))?;
            store.message(&entry)
        }));
        let prefix = [path, name.as_str()];
        let msg = match read {
            Ok(Ok(msg)) => msg,
            Ok(Err(e)) => return self.bare(store, id, &prefix, ordinal, &e.to_string()),
            Err(_) => return self.bare(store, id, &prefix, ordinal, "the reader failed"),
        };
        let props = msg.properties();
        if !self.contents(&|tag| props.get(tag).and_then(value), &prefix) {
            return;
        }
        if !self.recipients(msg.recipient_table(), &prefix, ordinal) {
            return;
        }
        let rows: Result<Vec<u32>, _> = catch_unwind(AssertUnwindSafe(|| {
            msg.attachment_table()
                .map(|t| t.rows_matrix().map(|r| u32::from(r.id())).collect())
                .unwrap_or_default()
        }));
        let Ok(rows) = rows else {
            return self
                .failed
                .push((ordinal, "its attachment table could not be read".into()));
        };
        // The message's sub-node tree (its root block, its entries), read
        // on the first attachment the reader refuses.
        let mut tree: Option<Result<(u64, Vec<SubNode>), AttachmentError>> = None;
        for (n, row) in rows.into_iter().enumerate() {
            let att = catch_unwind(AssertUnwindSafe(|| W::attachment(&msg, NodeId::from(row))));
            let Ok(Ok(att)) = att else {
                // An attached message (which the reader cannot open, see
                // pst_bare), or a damaged attachment: read from the raw
                // layers, whose reason is the one given (the reader's is
                // "Missing PidTagAttachMethod" for every attached message).
                let tree = tree.get_or_insert_with(|| {
                    let bid = store.node_sub(id).ok_or(AttachmentError::NoSubNodeTree)?;
                    let entries = pst_bare::sub_nodes(store.blocks(), bid);
                    Ok((bid, entries?))
                });
                let prefix = [path, name.as_str()];
                let read = match tree {
                    Ok((bid, tree)) => catch_unwind(AssertUnwindSafe(|| {
                        let mut chain = vec![*bid];
                        self.raw_attachment(store, tree, row, n + 1, &prefix, ordinal, &mut chain)
                    }))
                    .unwrap_or(Err(AttachmentError::ReaderFailed)),
                    Err(why) => Err(*why),
                };
                match read {
                    Ok(true) => continue,
                    Ok(false) => return,
                    Err(why) => {
                        self.failed
                            .push((ordinal, format!("attachment {}: {why}", n + 1)));
                        continue;
                    }
                }
            };
            let props = att.properties();
            let file_name = [ATTACH_LONG_FILENAME, ATTACH_FILENAME]
                .iter()
                .find_map(|&tag| match props.get(tag).and_then(value) {
                    Some(Value::Text(t)) => Some(t),
                    _ => None,
                })
                .unwrap_or_default();
            let label = if file_name.is_empty() {
                format!("attachment {}", n + 1)
            } else {
                format!("attachment {} {file_name}", n + 1)
            };
            let here = [path, name.as_str(), label.as_str()];
            let written = match att.data() {
                Some(AttachmentData::Binary(bytes)) => {
                    self.write(Part::File, &here, bytes.buffer())
                }
                Some(AttachmentData::Message(inner)) => {
                    let props = inner.properties();
                    self.contents(&|tag| props.get(tag).and_then(value), &here)
                        && self.recipients(inner.recipient_table(), &here, ordinal)
                }
                // By reference (a path on a server) or empty: no data here.
                None => true,
            };
            if !written {
                return;
            }
        }
    }

    /// Reads message `id`, which the reader refused (`why`), from its
    /// heap ([`pst_bare`]) when it has no sub-node tree, the one valid
    /// shape the reader refuses; else it is a failed part.
    fn bare<W: Width>(&mut self, store: &W, id: u32, prefix: &[&str], ordinal: u32, why: &str) {
        let read = catch_unwind(AssertUnwindSafe(|| {
            let (data, block) = store.bare(id)?;
            pst_bare::properties(&data, block).ok()
        }));
        let Ok(Some(props)) = read else {
            return self.failed.push((ordinal, why.to_string()));
        };
        let get = |tag: u16| props.get(&tag).and_then(|(k, r)| raw_value(*k, r));
        self.contents(&get, prefix);
    }

    /// Attachment `nid` of a message whose sub-node tree is `tree`, the
    /// `n`th, read from the raw layers ([`pst_bare`]): by value, its
    /// bytes; an attached message, its parts and its own attachments in
    /// turn, under `prefix` + `attachment N NAME`. `chain` holds the
    /// sub-node trees of the messages it is inside (the top one first):
    /// one met again, or more than [`MAX_ATTACHED_DEPTH`] of them, is not
    /// opened. `Ok(false)` when the scanner stopped reading; `Err` with
    /// why the attachment could not be read.
    #[allow(clippy::too_many_arguments)]
    fn raw_attachment<W: Width>(
        &mut self,
        store: &W,
        tree: &[SubNode],
        nid: u32,
        n: usize,
        prefix: &[&str],
        ordinal: u32,
        chain: &mut Vec<u64>,
    ) -> Result<bool, AttachmentError> {
        let node = tree
            .iter()
            .find(|s| s.nid == nid)
            .ok_or(AttachmentError::NotInTree)?;
        let data = store
            .data(node.data)
            .ok_or(AttachmentError::NoPropertyContext)?;
        let props = pst_bare::properties(&data, W::BLOCK)?;
        let get = |tag: u16| props.get(&tag).and_then(|(k, r)| raw_value(*k, r));
        let file_name = [ATTACH_LONG_FILENAME, ATTACH_FILENAME, DISPLAY_NAME]
            .iter()
            .find_map(|&tag| match get(tag) {
                Some(Value::Text(t)) if !t.is_empty() => Some(t),
                _ => None,
            });
        let label = match file_name {
            Some(f) => format!("attachment {n} {f}"),
            None => format!("attachment {n}"),
        };
        let mut here = prefix.to_vec();
        here.push(label.as_str());
        // The attachment object's own sub-node tree: where a value too
        // big for its heap is, and where the attached message is.
        let own = match node.sub {
            0 => Vec::new(),
            bid => pst_bare::sub_nodes(store.blocks(), bid)?,
        };
        let method = match props.get(&ATTACH_METHOD) {
            Some((_, Raw::Inline(m))) => *m,
            _ => return Err(AttachmentError::NoAttachMethod),
        };
        let value = props.get(&ATTACH_DATA).map(|(_, r)| r);
        match (method, value) {
            (AF_BY_VALUE, Some(Raw::Heap(bytes))) => Ok(self.write(Part::File, &here, bytes)),
            (AF_BY_VALUE, Some(Raw::Node(at))) => {
                let bytes = own
                    .iter()
                    .find(|s| s.nid == *at)
                    .and_then(|s| store.data(s.data))
                    .ok_or(AttachmentError::NoData)?;
                Ok(self.write(Part::File, &here, &bytes))
            }
            (AF_EMBEDDED_MESSAGE, Some(Raw::Heap(object))) => {
                // PtypObject: the sub-node's NID, then its size. In the
                // attachment's own tree (as libpst reads it), else in the
                // message's (as outlook-pst looks for it).
                let at = object
                    .get(..4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .ok_or(AttachmentError::DamagedDataObject)?;
                let message = own
                    .iter()
                    .chain(tree)
                    .find(|s| s.nid == at)
                    .copied()
                    .ok_or(AttachmentError::MessageNotInTree)?;
                self.attached_message(store, message, &here, ordinal, chain)
            }
            (AF_EMBEDDED_MESSAGE, _) => Err(AttachmentError::NoDataObject),
            (AF_BY_VALUE, _) => Err(AttachmentError::NoDataBinary),
            // By reference (a path on a server), an OLE object, none: no
            // data here.
            _ => Ok(true),
        }
    }

    /// An attached message (sub-node `message`) under `here`: its parts,
    /// then each of its attachments (the sub-nodes of type attachment in
    /// its sub-node tree, in NID order) as `attachment K NAME`.
    fn attached_message<W: Width>(
        &mut self,
        store: &W,
        message: SubNode,
        here: &[&str],
        ordinal: u32,
        chain: &mut Vec<u64>,
    ) -> Result<bool, AttachmentError> {
        if chain.len() > MAX_ATTACHED_DEPTH {
            return Err(AttachmentError::NestedTooDeep);
        }
        let data = store
            .data(message.data)
            .ok_or(AttachmentError::MessageUnreadable)?;
        let props = pst_bare::properties(&data, W::BLOCK).map_err(AttachmentError::MessageHeap)?;
        let get = |tag: u16| props.get(&tag).and_then(|(k, r)| raw_value(*k, r));
        if !self.contents(&get, here) {
            return Ok(false);
        }
        if message.sub == 0 {
            return Ok(true);
        }
        // Its attachments, unless its sub-node tree is one of the
        // messages it is inside: they would hold it again, for ever.
        if chain.contains(&message.sub) {
            return Err(AttachmentError::ContainsItself);
        }
        let tree = pst_bare::sub_nodes(store.blocks(), message.sub)
            .map_err(AttachmentError::MessageTree)?;
        chain.push(message.sub);
        let attachments = tree.iter().filter(|s| s.nid & 0x1f == NID_TYPE_ATTACHMENT);
        for (k, att) in attachments.enumerate() {
            match self.raw_attachment(store, &tree, att.nid, k + 1, here, ordinal, chain) {
                Ok(true) => {}
                Ok(false) => {
                    chain.pop();
                    return Ok(false);
                }
                // The reason first: a reason line is cut to a length,
                // and the attachment's path may be long.
                Err(why) => self.failed.push((
                    ordinal,
                    format!("{why} (in {}!attachment {})", here[2..].join("!"), k + 1),
                )),
            }
        }
        chain.pop();
        Ok(true)
    }

    /// Writes a message's subject, people and bodies under `prefix`, its
    /// properties read by `get`; `false` when the scanner stopped reading.
    fn contents(&mut self, get: &dyn Fn(u16) -> Option<Value>, prefix: &[&str]) -> bool {
        let with = |last: &'static str| -> Vec<&str> {
            let mut v = prefix.to_vec();
            v.push(last);
            v
        };
        let text = |tag: u16| match get(tag) {
            Some(Value::Text(t)) => Some(t),
            _ => None,
        };
        if let Some(subject) = text(SUBJECT)
            && !self.write(
                Part::Text,
                &with("subject"),
                strip_prefix_marker(&subject).as_bytes(),
            )
        {
            return false;
        }
        let people: Vec<String> = [SENDER_NAME, DISPLAY_TO, DISPLAY_CC, DISPLAY_BCC]
            .iter()
            .filter_map(|&tag| text(tag))
            .filter(|s| !s.is_empty())
            .collect();
        if !people.is_empty()
            && !self.write(Part::Text, &with("people"), people.join("\n").as_bytes())
        {
            return false;
        }
        if let Some(body) = text(BODY)
            && !self.write(Part::Text, &with("body"), body.as_bytes())
        {
            return false;
        }
        let html = match get(HTML) {
            Some(Value::Bytes(b)) => Some(b),
            Some(Value::Text(t)) => Some(t.into_bytes()),
            None => None,
        };
        if let Some(bytes) = html
            && !self.write(Part::File, &with("body html"), &bytes)
        {
            return false;
        }
        // A damaged compressed RTF is left out: the plain body (above) is
        // the same text, as a rule.
        if let Some(Value::Bytes(rtf)) = get(RTF_COMPRESSED)
            && let Ok((rtf, _)) = crate::extract::rtf::decompress(&rtf, MAX_RTF)
            && !self.write(Part::File, &with("body rtf"), &rtf)
        {
            return false;
        }
        true
    }

    /// Writes the strings of a message's recipient table (display names,
    /// e-mail and SMTP addresses, any other text column: what the message
    /// itself keeps only as display names) as part `recipients` under
    /// `prefix`, one value a line, each once. A row or cell the reader
    /// refuses makes the message a failed part (`ordinal`); the rest is
    /// written. `false` when the scanner stopped reading.
    fn recipients(
        &mut self,
        table: Option<&Rc<dyn TableContext>>,
        prefix: &[&str],
        ordinal: u32,
    ) -> bool {
        let Some(table) = table else {
            return true;
        };
        let read = catch_unwind(AssertUnwindSafe(|| recipient_lines(table.as_ref())));
        let (lines, complete) = read.unwrap_or_default();
        if !complete {
            self.failed.push((
                ordinal,
                "its recipient table could not be read in full".into(),
            ));
        }
        if lines.is_empty() {
            return true;
        }
        let mut name = prefix.to_vec();
        name.push("recipients");
        self.write(Part::Text, &name, lines.join("\n").as_bytes())
    }

    /// Writes one part: its name line, then its text (form feeds made
    /// newlines) or its bytes as hex. `false` when the scanner stopped
    /// reading.
    fn write(&mut self, part: Part, name: &[&str], body: &[u8]) -> bool {
        if self.stopped {
            return false;
        }
        let result = (|| -> io::Result<()> {
            let kind = match part {
                Part::Text => "text",
                Part::File => "file",
            };
            let mut label = String::from(kind);
            for component in name {
                label.push('\t');
                // The name line ends at its newline; tabs separate the
                // components. Each is cut to MAX_COMPONENT characters, so
                // that the line stays within what the scanner reads of it
                // (a folder path or a file name is the file's to choose).
                label.extend(component.chars().take(MAX_COMPONENT).map(|c| match c {
                    '\n' | '\r' | '\t' | '\u{c}' => ' ',
                    c => c,
                }));
            }
            label.push('\n');
            self.out.write_all(label.as_bytes())?;
            match part {
                Part::Text => {
                    for chunk in body.split(|&b| b == PART_END) {
                        self.out.write_all(chunk)?;
                        self.out.write_all(b"\n")?;
                    }
                }
                Part::File => super::pdf_files::encode(body, self.out)?,
            }
            self.out.write_all(&[PART_END])
        })();
        if result.is_err() {
            self.stopped = true;
        }
        !self.stopped
    }
}

/// The text values of a recipient table, each once in the order met, and
/// whether every row and cell could be read.
fn recipient_lines(table: &dyn TableContext) -> (Vec<String>, bool) {
    let context = table.context();
    let mut lines: Vec<String> = Vec::new();
    // A message may have thousands of recipients: seen values in a set.
    let mut seen: HashSet<String> = HashSet::new();
    let mut complete = true;
    for row in table.rows_matrix() {
        let Ok(cells) = row.columns(context) else {
            complete = false;
            continue;
        };
        for (column, cell) in context.columns().iter().zip(cells) {
            let kind = column.prop_type();
            let Some(cell) = cell else { continue };
            if !matches!(kind, PropertyType::Unicode | PropertyType::String8) {
                continue;
            }
            match table.read_column(&cell, kind).as_ref().map(value) {
                Ok(Some(Value::Text(t))) => {
                    if !t.is_empty() && seen.insert(t.clone()) {
                        lines.push(t);
                    }
                }
                Ok(_) => {}
                Err(_) => complete = false,
            }
        }
    }
    (lines, complete)
}

/// A property's value, as the walk uses it.
enum Value {
    Text(String),
    Bytes(Vec<u8>),
}

/// A string or binary property's value: Unicode as it is, 8-bit strings
/// byte by byte (Latin-1: digits are the same in every code page 8-bit
/// stores use).
fn value(value: &PropertyValue) -> Option<Value> {
    match value {
        PropertyValue::String8(s) => Some(Value::Text(trim(s.to_string()))),
        PropertyValue::Unicode(s) => Some(Value::Text(trim(s.to_string()))),
        PropertyValue::Binary(b) => Some(Value::Bytes(b.buffer().to_vec())),
        _ => None,
    }
}

/// A property read by [`pst_bare`], as the walk uses it: strings and
/// binaries in the heap.
fn raw_value(kind: u16, raw: &Raw) -> Option<Value> {
    match (kind, raw) {
        (0x001F, Raw::Heap(b)) => {
            let units: Vec<u16> = b
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            Some(Value::Text(trim(String::from_utf16_lossy(&units))))
        }
        (0x001E, Raw::Heap(b)) => Some(Value::Text(trim(latin1(b)))),
        (0x0102, Raw::Heap(b)) => Some(Value::Bytes(b.clone())),
        _ => None,
    }
}

/// Strings are stored with their terminating NUL at times.
fn trim(s: String) -> String {
    match s.trim_end_matches('\0').len() {
        n if n == s.len() => s,
        n => s[..n].to_string(),
    }
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// A subject without its prefix marker: a subject that starts with U+0001
/// has its prefix's length in the next character ([MS-PST] 2.5.3.1.1.1),
/// neither of which is text.
fn strip_prefix_marker(subject: &str) -> &str {
    let mut chars = subject.chars();
    if chars.next() == Some('\u{1}') {
        chars.next();
        return chars.as_str();
    }
    subject
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_loses_its_prefix_marker_only() {
        assert_eq!(strip_prefix_marker("\u{1}\u{4}RE: card"), "RE: card");
        assert_eq!(strip_prefix_marker("\u{1}"), "");
        assert_eq!(strip_prefix_marker("plain"), "plain");
    }

    #[test]
    fn a_long_folder_path_or_file_name_keeps_the_name_line_short() {
        let mut out = Vec::new();
        let mut walk = Walk {
            out: &mut out,
            failed: Vec::new(),
            seen: HashSet::new(),
            ordinal: 0,
            stopped: false,
        };
        let long = "\u{10348}\n".repeat(5000);
        assert!(walk.write(
            Part::Text,
            &[&long, "message 1 nid 0x24", &long, "body"],
            b"x"
        ));
        let line = out.split(|&b| b == b'\n').next().unwrap();
        assert!(line.len() < 4096, "{}", line.len());
        assert!(line.starts_with(b"text\t"));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 2);
    }

    #[test]
    fn a_file_that_is_not_a_store_is_unreadable_not_a_panic() {
        let mut out = Vec::new();
        assert!(extract_messages(b"not a pst", &mut out).is_err());
        let mut head = b"!BDN\0\0\0\0SM\x17\0".to_vec();
        head.resize(600, 0);
        let why = extract_messages(&head, &mut out).unwrap_err();
        assert!(why.0.contains("damaged header"), "{why}");
        assert!(out.is_empty());
    }
}
