//! Evidence: how sure we are that a validated number is what its rule says.
//!
//! A match enters here only after its validator accepted it (so nothing
//! here runs on the text that fills real files), with its rule and the
//! bytes around it; a confidence leaves. The model (docs/DESIGN.md,
//! "Evidence") weighs:
//!
//! * the rule's keywords near the number, or a table column whose header
//!   names the kind ([`Columns`]): strong evidence, `with_context`;
//! * the written form: grouped as printed (`default`) or a bare run
//!   (`bare_without_context`), set per rule from the validator's pass rate;
//! * the script around a bare number ([`script_near`]): weak evidence that
//!   lifts a bare number one step, up to the rule's `default`;
//! * negative evidence from the neighbourhood ([`structure`], [`code`],
//!   and the table signal in `Engine::table_signal`): demotes to `low`;
//! * kin ([`Kin`]): a number of the same kind listed on its own evidence
//!   anywhere in the same file or container member, before or after it,
//!   or a confirmed number of any kind in the same record (line), lifts a
//!   bare one that only lacked context to `medium`.
//!
//! Keywords win over negative evidence: `SSN: 536228726,` in a JSON line is
//! an SSN even though it looks like a list element. Every function looks at
//! no more than [`LOOK`] bytes on either side of the match, so a match is
//! judged the same in whichever streaming window it is seen.

use crate::rules::{Confidence, Script};

use super::{Flow, Match};

/// Bytes looked at on each side of a match by the neighbourhood signals.
/// With the longest candidate (128 bytes) this stays inside the engine's
/// `MARGIN`.
pub const LOOK: usize = 160;

/// Bytes searched on each side of a match for the script of its text.
pub const SCRIPT_WINDOW: usize = 64;

/// How far apart (in bytes, on the same line) a confirmed number and a bare
/// number of another kind may be for [`Kin`] to read them as one record (a
/// CSV row, a JSON line, a log line). A line longer than this (minified
/// code, a one-line JSON document) is not one record.
pub const RECORD_REACH: u64 = 1024;

/// Most findings [`Kin`] holds back while it waits to see whether a number
/// of their kind is confirmed after them. When more are waiting, the oldest
/// leaves as it is (it can then only be lifted by what came before it):
/// this, not the distance, bounds the memory kin takes.
pub const KIN_HOLD: usize = 4096;

/// A finding as [`Kin`] holds it: the match inside can still be lifted.
pub trait Weighed<'e> {
    fn weighed(&mut self) -> &mut Match<'e>;
}

impl<'e> Weighed<'e> for Match<'e> {
    fn weighed(&mut self) -> &mut Match<'e> {
        self
    }
}

/// One finding held by [`Kin`].
#[derive(Debug)]
struct Held<T> {
    item: T,
    offset: u64,
    record: Option<u64>,
    /// Still low for want of context, and could be lifted by a number
    /// confirmed after it.
    waiting: bool,
}

/// Same-kind and same-record evidence along one stream (one file or
/// member). A number is confirmed on its own evidence when it is medium or
/// above and not test data. A valid number that is low only for want of
/// context (no negative signal demoted it; the rule would list it as a
/// grouped number) is raised to medium, capped at its rule's `default`,
/// when a number is confirmed
///
/// * of the same kind anywhere in the same stream, before or after it (a
///   file that holds confirmed Iranian national codes is an export of
///   them, wherever in it they sit, and makes every valid bare 10-digit
///   code in it far likelier to be one too: DLP products weigh instance
///   counts and supporting elements the same way), or
/// * of any kind in the same record: on the same line, within
///   [`RECORD_REACH`] bytes (a bare SSN in a CSV row beside a card number
///   with its keyword).
///
/// It never chains: only numbers confirmed by their own evidence lift
/// others. To look forward, findings that could still be lifted are held
/// back, with every finding after them (the order they leave in is the
/// order they came in), until a number of their kind is confirmed, the
/// stream ends ([`Kin::finish`]), or [`KIN_HOLD`] findings wait (then the
/// oldest leaves unlifted). The verdict does not depend on the streaming
/// window; a segmented large file starts afresh at each segment, which can
/// only list fewer.
#[derive(Debug)]
pub struct Kin<'e, T> {
    /// The kinds confirmed so far in this stream.
    confirmed: Vec<&'e str>,
    /// The last confirmed number of any kind: its record and offset.
    last_record: Option<(u64, u64)>,
    held: std::collections::VecDeque<Held<T>>,
    /// How many of `held` wait, by kind and by record: a confirmed number
    /// looks through `held` only when it will lift one, so the cost stays
    /// in proportion to what is lifted, however long the hold.
    waiting_kinds: Vec<(&'e str, usize)>,
    waiting_records: std::collections::HashMap<u64, usize>,
}

impl<'e, T> Default for Kin<'e, T> {
    fn default() -> Self {
        Kin {
            confirmed: Vec::new(),
            last_record: None,
            held: std::collections::VecDeque::new(),
            waiting_kinds: Vec::new(),
            waiting_records: std::collections::HashMap::new(),
        }
    }
}

/// Whether `m` is low only for want of context, and lifting would raise it.
fn liftable(m: &Match<'_>) -> bool {
    !m.test_data
        && m.demoted_by.is_none()
        && m.confidence < Confidence::Medium.min(m.rule.confidence.default)
}

fn lift(m: &mut Match<'_>) {
    m.confidence = Confidence::Medium
        .min(m.rule.confidence.default)
        .max(m.confidence);
}

fn same_record(a: Option<u64>, a_at: u64, b: Option<u64>, b_at: u64) -> bool {
    a.is_some() && a == b && a_at.abs_diff(b_at) <= RECORD_REACH
}

impl<'e, T: Weighed<'e>> Kin<'e, T> {
    /// Weighs `item`, found at `offset` on line `record` (`None` where
    /// lines mean nothing: binary data), and passes on to `out`, in the
    /// order they came, the findings whose verdict is final. Returns what
    /// `out` answered last (a `Break` stops the stream; what is held then
    /// is dropped).
    pub fn push(
        &mut self,
        mut item: T,
        offset: u64,
        record: Option<u64>,
        out: &mut dyn FnMut(T) -> Flow,
    ) -> Flow {
        let m = item.weighed();
        let mut waiting = false;
        if !m.test_data && m.confidence >= Confidence::Medium {
            let kind = m.kind;
            if !self.confirmed.contains(&kind) {
                self.confirmed.push(kind);
            }
            self.last_record = record.map(|r| (r, offset));
            let kin_waits = self.waiting_kinds.iter().any(|&(k, n)| k == kind && n > 0);
            let record_waits = record.is_some_and(|r| self.waiting_records.contains_key(&r));
            if kin_waits || record_waits {
                for i in 0..self.held.len() {
                    let h = &mut self.held[i];
                    if h.waiting
                        && (h.item.weighed().kind == kind
                            || same_record(h.record, h.offset, record, offset))
                    {
                        lift(h.item.weighed());
                        h.waiting = false;
                        let (k, r) = (h.item.weighed().kind, h.record);
                        self.unwait(k, r);
                    }
                }
            }
        } else if liftable(m) {
            let kin_before = self.confirmed.contains(&m.kind);
            let record_before = self
                .last_record
                .is_some_and(|(r, at)| same_record(Some(r), at, record, offset));
            if kin_before || record_before {
                lift(m);
            } else {
                waiting = true;
                let kind = m.kind;
                match self.waiting_kinds.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, n)) => *n += 1,
                    None => self.waiting_kinds.push((kind, 1)),
                }
                if let Some(r) = record {
                    *self.waiting_records.entry(r).or_insert(0) += 1;
                }
            }
        }
        if !waiting && self.held.is_empty() {
            return out(item);
        }
        self.held.push_back(Held {
            item,
            offset,
            record,
            waiting,
        });
        // Leave in order: the front leaves once nothing after it can
        // change it, or when too many wait (it then stays as it is).
        while let Some(front) = self.held.front() {
            if front.waiting && self.held.len() <= KIN_HOLD {
                break;
            }
            let mut h = self.held.pop_front().expect("front");
            if h.waiting {
                let kind = h.item.weighed().kind;
                self.unwait(kind, h.record);
            }
            if out(h.item).is_break() {
                self.clear();
                return Flow::Break(());
            }
        }
        Flow::Continue(())
    }

    /// The stream ended: passes on what is held, in order.
    pub fn finish(&mut self, out: &mut dyn FnMut(T) -> Flow) -> Flow {
        self.waiting_kinds.clear();
        self.waiting_records.clear();
        while let Some(h) = self.held.pop_front() {
            if out(h.item).is_break() {
                self.clear();
                return Flow::Break(());
            }
        }
        Flow::Continue(())
    }

    /// One held finding of `kind` on `record` no longer waits.
    fn unwait(&mut self, kind: &str, record: Option<u64>) {
        if let Some((_, n)) = self.waiting_kinds.iter_mut().find(|(k, _)| *k == kind) {
            *n -= 1;
        }
        if let Some(r) = record
            && let Some(n) = self.waiting_records.get_mut(&r)
        {
            *n -= 1;
            if *n == 0 {
                self.waiting_records.remove(&r);
            }
        }
    }

    /// Drops what is held (the stream was stopped).
    fn clear(&mut self) {
        self.held.clear();
        self.waiting_kinds.clear();
        self.waiting_records.clear();
    }
}

/// Longest header line read for column names, and most columns kept.
const MAX_HEADER: usize = 4096;
const MAX_COLUMNS: usize = 256;

/// The columns of a table whose header names a kind: a CSV/TSV header such
/// as `id,name,ssn` or `کد_ملی`, or a fixed-width header such as
/// `NAME        SSN         CITY`, makes every value under that column
/// carry the rule's keyword, however far the header is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    layout: Layout,
    /// For each column: the rules (bit `i` = rule `i`, first 64 rules) whose
    /// keywords or kind the header names.
    rules: Vec<u64>,
}

/// How a row is cut into columns.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    /// Fields separated by this byte (quotes respected).
    Delimited(u8),
    /// Fixed-width columns: the character position where each header field
    /// starts (a report printed with spaces, `column -t`, a mainframe
    /// export). Values are read as left-aligned under their header.
    Fixed(Vec<usize>),
}

/// Fewest spaces between two fields of a fixed-width header: one space
/// separates words of a title, two or more separate columns.
const FIXED_GAP: usize = 2;

impl Columns {
    /// Reads the header of a table from the first line of a text, if it
    /// has a delimiter (`,` `;` `|` or tab, the most frequent outside
    /// quotes) and at least one column named by `names`. `names` gives the
    /// rules a header field names.
    pub fn from_header(text: &[u8], names: &dyn Fn(&[u8]) -> u64) -> Option<Columns> {
        let text = text.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(text);
        let end = memchr::memchr(b'\n', &text[..text.len().min(MAX_HEADER)])?;
        let line = text[..end].strip_suffix(b"\r").unwrap_or(&text[..end]);
        let cands = [b',', b';', b'|', b'\t'];
        let mut counts = [0usize; 4];
        let mut quoted = false;
        for &b in line {
            if b == b'"' {
                quoted = !quoted;
            } else if !quoted && let Some(i) = cands.iter().position(|&c| c == b) {
                counts[i] += 1;
            }
        }
        let best = (0..4).max_by_key(|&i| (counts[i], 4 - i))?;
        if counts[best] == 0 {
            return Self::fixed_width(line, names);
        }
        let delimiter = cands[best];
        let rules: Vec<u64> = split_fields(line, delimiter)
            .take(MAX_COLUMNS)
            .map(|f| field_rules(f, names))
            .collect();
        rules.iter().any(|&r| r != 0).then_some(Columns {
            layout: Layout::Delimited(delimiter),
            rules,
        })
    }

    /// A header line without delimiters read as fixed-width columns: at
    /// least two fields, each separated by [`FIXED_GAP`] or more spaces
    /// (a tab or a quote means it is not one), one of them named by `names`.
    fn fixed_width(line: &[u8], names: &dyn Fn(&[u8]) -> u64) -> Option<Columns> {
        if line.contains(&b'\t') || line.contains(&b'"') {
            return None;
        }
        let mut starts = Vec::new();
        let mut rules = Vec::new();
        let (mut chars, mut spaces) = (0usize, FIXED_GAP);
        let mut field_start = None;
        for (i, &b) in line.iter().enumerate() {
            if is_continuation(b) {
                continue;
            }
            if b == b' ' {
                spaces += 1;
                if spaces == FIXED_GAP
                    && let Some(fs) = field_start.take()
                {
                    rules.push(field_rules(line[fs..i].trim_ascii(), names));
                }
            } else {
                if spaces >= FIXED_GAP {
                    if starts.len() == MAX_COLUMNS {
                        break;
                    }
                    starts.push(chars);
                    field_start = Some(i);
                }
                spaces = 0;
            }
            chars += 1;
        }
        if let Some(fs) = field_start {
            rules.push(field_rules(line[fs..].trim_ascii(), names));
        }
        rules.truncate(starts.len());
        (starts.len() >= 2 && rules.iter().any(|&r| r != 0)).then_some(Columns {
            layout: Layout::Fixed(starts),
            rules,
        })
    }

    /// The rules the column of the value starting at `start` is named for:
    /// the fields before it on its line are counted (or, in a fixed-width
    /// table, its character position is read), if the line starts within
    /// [`LOOK`] bytes (else nothing is known).
    pub fn rules_at(&self, buf: &[u8], start: usize) -> u64 {
        let lo = start.saturating_sub(LOOK);
        let line_start = match memchr::memrchr(b'\n', &buf[lo..start]) {
            Some(i) => lo + i + 1,
            None if lo == 0 => 0,
            None => return 0,
        };
        let before = &buf[line_start..start];
        let field = match &self.layout {
            Layout::Delimited(delimiter) => {
                let mut field = 0usize;
                let mut quoted = false;
                for &b in before {
                    if b == b'"' {
                        quoted = !quoted;
                    } else if b == *delimiter && !quoted {
                        field += 1;
                    }
                }
                field
            }
            Layout::Fixed(starts) => {
                let pos = before.iter().filter(|&&b| !is_continuation(b)).count();
                // The last column starting at or before the value; a value
                // left of the first column belongs to none.
                match starts.iter().rposition(|&s| s <= pos) {
                    Some(i) => i,
                    None => return 0,
                }
            }
        };
        self.rules.get(field).copied().unwrap_or(0)
    }
}

/// A UTF-8 continuation byte: not the start of a character.
fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// The rules a header field names, read as words (`card_number`,
/// `national-id`; quotes blanked; at most 128 bytes).
fn field_rules(field: &[u8], names: &dyn Fn(&[u8]) -> u64) -> u64 {
    let mut name = [0u8; 128];
    let n = field.len().min(name.len());
    for (d, &s) in name.iter_mut().zip(&field[..n]) {
        *d = match s {
            b'_' | b'-' | b'.' | b'"' => b' ',
            _ => s.to_ascii_lowercase(),
        };
    }
    names(&name[..n])
}

/// The fields of a header line (quotes are kept; they are blanked later).
fn split_fields(line: &[u8], delimiter: u8) -> impl Iterator<Item = &[u8]> {
    let mut quoted = false;
    let mut start = 0;
    let mut i = 0;
    std::iter::from_fn(move || {
        if start > line.len() {
            return None;
        }
        while i < line.len() {
            let b = line[i];
            if b == b'"' {
                quoted = !quoted;
            } else if b == delimiter && !quoted {
                let f = &line[start..i];
                i += 1;
                start = i;
                return Some(f);
            }
            i += 1;
        }
        let f = &line[start..];
        start = line.len() + 1;
        Some(f)
    })
}

/// True when text of `script` is within [`SCRIPT_WINDOW`] bytes of
/// `start..end` (the number itself included: Persian digits are Persian).
pub fn script_near(buf: &[u8], start: usize, end: usize, script: Script) -> bool {
    let lo = start.saturating_sub(SCRIPT_WINDOW);
    let hi = (end + SCRIPT_WINDOW).min(buf.len());
    let hay = &buf[lo..hi];
    let pair = |i: usize| (hay[i], hay.get(i + 1).copied().unwrap_or(0));
    for i in 0..hay.len() {
        let (a, b) = pair(i);
        if a < 0xC3 {
            continue;
        }
        let hit = match script {
            // U+0600-U+06FF: Arabic and Persian letters and digits.
            Script::Arabic => (0xD8..=0xDB).contains(&a) && (0x80..=0xBF).contains(&b),
            // U+4E00-U+9FFF (CJK ideographs), U+3000-U+30FF (CJK
            // punctuation, kana) and the full-width forms U+FF00-U+FFEF.
            Script::Cjk => {
                ((0xE4..=0xE9).contains(&a) || a == 0xE3 || a == 0xEF)
                    && (0x80..=0xBF).contains(&b)
                    && (a != 0xEF || (0xBC..=0xBF).contains(&b))
            }
            // ą ć ę ł ń ś ź ż and capitals (ó is Spanish too).
            Script::Polish => matches!(
                (a, b),
                (0xC4, 0x84..=0x87)
                    | (0xC4, 0x98 | 0x99)
                    | (0xC5, 0x81..=0x84)
                    | (0xC5, 0x9A | 0x9B)
                    | (0xC5, 0xB9..=0xBC)
            ),
            // ă ș ț, and ş ţ as older fonts wrote them (â î are French too).
            Script::Romanian => matches!(
                (a, b),
                (0xC4, 0x82 | 0x83) | (0xC8, 0x98..=0x9B) | (0xC5, 0x9E | 0x9F | 0xA2 | 0xA3)
            ),
        };
        if hit {
            return true;
        }
    }
    false
}

/// The `structure` signal for a bare number at `start..end`: it is part of
/// a bigger structure, not a number of its own. Joined by `:` to more
/// digits (a time `12:00:1234567890`, an IPv6 address), by `.` to more
/// digits (a float `1.2345678901234567`, an IP address, a version
/// `2.0.123456789`), by a `.` after a letter or digit before it (a symbol
/// `fmt.llvm.4522574776455172346`), by `-` or `_` to a letter or digit (a
/// UUID's last group, a date or phone prefix `+48-123456789`, an
/// identifier `FOO_1234567890`), or written after `#`
/// (`#2238000000000000`).
pub fn structure(buf: &[u8], start: usize, end: usize) -> bool {
    let before = |k: usize| start.checked_sub(k).and_then(|i| buf.get(i)).copied();
    let after = |k: usize| buf.get(end + k - 1).copied();
    let digit = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit());
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    let (b1, b2) = (before(1), before(2));
    let (a1, a2) = (after(1), after(2));
    // After the number, `.` counts only before a digit: `4111...1111.txt`
    // is a file named by a card number, which is a leak like any other.
    b1 == Some(b':') && digit(b2)
        || matches!(a1, Some(b':' | b'.')) && digit(a2)
        || matches!(b1, Some(b'.' | b'-' | b'_')) && alnum(b2)
        || matches!(a1, Some(b'-' | b'_')) && alnum(a2)
        // `#2238000000000000`: a hex or reference notation.
        || b1 == Some(b'#')
}

/// The `structure` signal for a grouped number at `start..end` whose first
/// group has `group` digits: a token of that many hex digits, with a
/// letter and a digit (`005B`, `4a4b`), written next to the number's own
/// separator `sep` and not inside a dashed token (a UUID's `4cae`), stands
/// within [`LOOK`] bytes. The number is then a run of hex groups that
/// happen to be all digits: a hex dump, a list of code points
/// (`2680 0028 2681 0029`).
pub fn hex_groups(buf: &[u8], start: usize, end: usize, group: usize, sep: u8) -> bool {
    let lo = start.saturating_sub(LOOK);
    let hi = (end + LOOK).min(buf.len());
    let mut i = lo;
    while i < hi {
        if !buf[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let t0 = i;
        while i < hi && buf[i].is_ascii_alphanumeric() {
            i += 1;
        }
        // Tokens cut by the edges are not judged (see `LOOK`).
        let cut = t0 == lo && lo > 0 || i == hi && hi < buf.len();
        let tok = &buf[t0..i];
        let (prev, next) = (t0.checked_sub(1).map(|k| buf[k]), buf.get(i).copied());
        let spaced =
            (prev == Some(sep) || next == Some(sep)) && prev != Some(b'-') && next != Some(b'-');
        if !cut
            && spaced
            && tok.len() == group
            && tok.iter().all(u8::is_ascii_hexdigit)
            && tok.iter().any(u8::is_ascii_digit)
            && tok.iter().any(u8::is_ascii_alphabetic)
        {
            return true;
        }
    }
    false
}

/// The `structure` signal, from the value itself: seven or more digits in
/// counting order (`0123456789`, `6543210123456788`, a row of a digit
/// table). An issued number has such a run about once in 50,000; a
/// number a person typed as an example, or a table of the digits of a
/// script, has it by construction.
pub fn counting_run(digits: &[u8]) -> bool {
    let (mut up, mut down) = (1usize, 1usize);
    for w in digits.windows(2) {
        let (a, b) = (w[0], w[1]);
        if !(a.is_ascii_digit() && b.is_ascii_digit()) {
            up = 1;
            down = 1;
            continue;
        }
        up = if b == a + 1 { up + 1 } else { 1 };
        down = if b + 1 == a { down + 1 } else { 1 };
        if up >= 7 || down >= 7 {
            return true;
        }
    }
    false
}

/// The `code` signal: the number at `start..end` is a literal in source
/// code. Either its line is a preprocessor line (`#define`, `#if` ...) or
/// an `ioctl` request, or it is an element of a bracketed list written
/// with `, ` (`{1, 2, 3}`, `[1, 2]`: a CSV row has no space after its
/// commas), or the value of an assignment that ends with `;`, or an
/// operand of `*` or `^` (`141482932855*uk_46`, `2 ^ 1234567890`).
pub fn code(buf: &[u8], start: usize, end: usize) -> bool {
    let lo = start.saturating_sub(LOOK);
    let hi = (end + LOOK).min(buf.len());
    let line_start = memchr::memrchr(b'\n', &buf[lo..start]).map_or(lo, |i| lo + i + 1);
    let line_end = memchr::memchr(b'\n', &buf[end..hi]).map_or(hi, |i| end + i);
    let line = &buf[line_start..line_end];
    let head = trim_start(&buf[line_start..start]);
    if head.starts_with(b"#define")
        || head.starts_with(b"#if")
        || head.starts_with(b"#elif")
        || head.starts_with(b"# define")
    {
        return true;
    }
    if memchr::memmem::find(line, b"ioctl").is_some()
        || memchr::memmem::find(line, b"_IO").is_some()
    {
        return true;
    }
    // The bytes just before and after, spaces skipped.
    let mut i = start;
    while i > line_start && matches!(buf[i - 1], b' ' | b'\t') {
        i -= 1;
    }
    let spaced_before = i < start;
    let prev = (i > line_start).then(|| buf[i - 1]);
    let mut j = end;
    while j < line_end && matches!(buf[j], b' ' | b'\t') {
        j += 1;
    }
    let next = (j < line_end).then(|| buf[j]);
    // A list written by a person or a formatter puts a space or a line
    // break after its commas; a CSV row does not.
    let comma_spaced =
        next == Some(b',') && matches!(buf.get(j + 1), Some(b' ' | b'\n' | b'\r' | b'\t'));
    let open = |b: Option<u8>| matches!(b, Some(b',' | b'[' | b'{' | b'('));
    let close = |b: Option<u8>| matches!(b, Some(b',' | b']' | b'}' | b')'));
    // An operand of `*`, `/` or `^`: a coefficient in a formula.
    // (Glued on the left: `* 4111...` is a bullet, `2*4111...` a product.)
    if matches!(next, Some(b'*' | b'^')) || !spaced_before && matches!(prev, Some(b'*' | b'^')) {
        return true;
    }
    match (prev, next) {
        (Some(b'='), Some(b';')) => true,
        // A lone value in brackets (`[4111...]`, `(1971...)`) is how logs
        // and prose quote a number, not a list.
        (p, n) if open(p) && close(n) => p == Some(b',') && spaced_before || comma_spaced,
        // The last element of a list, or one per line (indented).
        (Some(b','), None) => spaced_before,
        (None, Some(b',')) => comma_spaced && start > line_start,
        _ => false,
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(text: &'a str, needle: &str) -> (&'a [u8], usize, usize) {
        let s = text.find(needle).expect("needle");
        (text.as_bytes(), s, s + needle.len())
    }

    #[test]
    fn structure_sees_floats_addresses_and_dashed_tokens() {
        for (text, n) in [
            ("x = 1.2345678901234567;", "2345678901234567"),
            ("pi 3.141592653 rad", "141592653"),
            ("v 123456789.5", "123456789"),
            ("at 12:1234567890 z", "1234567890"),
            ("id 550e8400-e29b-41d4-a716-446655440000", "446655440000"),
            ("tel +48-123456789", "123456789"),
            ("FOO_1234567890 bar", "1234567890"),
            ("fmt.llvm.4522574776455172346\0", "4522574776455172346"),
            ("-> #2238000000000000 x", "2238000000000000"),
        ] {
            let (b, s, e) = at(text, n);
            assert!(structure(b, s, e), "{text}");
        }
        for (text, n) in [
            ("SSN 536228726.", "536228726"),
            ("ssn: 536228726, ok", "536228726"),
            ("pan=4111111111111111&x", "4111111111111111"),
            ("/items/4111111111111111/", "4111111111111111"),
            ("1. 536228726", "536228726"),
            ("range 536228726 - 5", "536228726"),
            ("4929731804276152.csv", "4929731804276152"),
        ] {
            let (b, s, e) = at(text, n);
            assert!(!structure(b, s, e), "{text}");
        }
    }

    #[test]
    fn code_sees_literals_and_preprocessor_lines() {
        for (text, n) in [
            ("#define FOO_MAGIC 1234567890", "1234567890"),
            ("  #if X > 1234567890", "1234567890"),
            ("r = ioctl(fd, 3221775637, &arg);", "3221775637"),
            ("static T t[] = {1234567890, 2345678901, 3};", "2345678901"),
            (
                "vals = [4503599627370496, 2251799813685228]",
                "2251799813685228",
            ),
            (
                "    2251799813685228,\n    4503599627370496,",
                "2251799813685228",
            ),
            ("x = 1234567890;", "1234567890"),
            ("+ 141482932855*uk_46", "141482932855"),
            ("2**4526018159083012", "4526018159083012"),
        ] {
            let (b, s, e) = at(text, n);
            assert!(code(b, s, e), "{text}");
        }
        for (text, n) in [
            ("1,Jan Kowalski,85120312343,Warszawa", "85120312343"),
            ("{\"ssn\":536228726,\"x\":1}", "536228726"),
            ("employee 536228726 verified", "536228726"),
            ("ssn = 536228726", "536228726"),
            ("id,536228726\n", "536228726"),
            ("* 536228726 is the one", "536228726"),
        ] {
            let (b, s, e) = at(text, n);
            assert!(!code(b, s, e), "{text}");
        }
    }

    #[test]
    fn hex_groups_nearby_make_a_hex_listing() {
        let t = "2680 0028 005B 005D 2681 0061 0029 0062;0;0;\n2680 0028 2681 0029;1;1";
        let n = "2680 0028 2681 0029";
        let s = t.find(n).unwrap();
        assert!(hex_groups(t.as_bytes(), s, s + n.len(), 4, b' '));
        let t = "card 4526 0181 5908 3012 DEAD BEEF 12345 A1B2C";
        assert!(!hex_groups(t.as_bytes(), 5, 24, 4, b' '));
        // A UUID's groups are not a hex listing.
        let t = "0c936f4f-8186-4cae-a8af-6f5f65ce7a39,\"[4722 2201 4500 6527]\"";
        let s = t.find("4722").unwrap();
        assert!(!hex_groups(t.as_bytes(), s, s + 19, 4, b' '));
    }

    #[test]
    fn counting_runs_are_typed_not_issued() {
        assert!(counting_run(b"0123456789"));
        assert!(counting_run(b"6543210123456788"));
        assert!(counting_run(b"4111234567812"));
        assert!(!counting_run(b"4526018159083012"));
        assert!(!counting_run(b"123456"));
        assert!(!counting_run(b"4472819635"));
    }

    #[test]
    fn scripts() {
        let t = "کد ملی ۴۴۷۲۸۱۹۶۳۵";
        assert!(script_near(t.as_bytes(), 0, t.len(), Script::Arabic));
        let t = "身份证 110105194912310029";
        assert!(script_near(t.as_bytes(), 10, t.len(), Script::Cjk));
        let t = "Pacjent zgłosił się: 85120312343";
        assert!(script_near(t.as_bytes(), 22, t.len(), Script::Polish));
        let t = "Domnul Ionuț: 1971204123457";
        assert!(script_near(t.as_bytes(), 15, t.len(), Script::Romanian));
        let t = "plain English text 536228726 é ñ ó â";
        for s in [
            Script::Arabic,
            Script::Cjk,
            Script::Polish,
            Script::Romanian,
        ] {
            assert!(!script_near(t.as_bytes(), 19, 28, s), "{s:?}");
        }
    }

    #[test]
    fn columns_from_a_header() {
        let names = |f: &[u8]| -> u64 {
            let f = std::str::from_utf8(f).unwrap();
            if f.contains("ssn") {
                1
            } else if f.contains("کد ملی") {
                2
            } else {
                0
            }
        };
        let text = "id,name,\"ssn\",kod\n1,\"Doe, J\",536228726,x\n";
        let c = Columns::from_header(text.as_bytes(), &names).unwrap();
        let (b, s, _) = at(text, "536228726");
        assert_eq!(c.rules_at(b, s), 1);
        let (b, s, _) = at(text, "x\n");
        assert_eq!(c.rules_at(b, s), 0);
        let text = "نام\tکد_ملی\nعلی\t۴۴۷۲۸۱۹۶۳۵\n";
        let c = Columns::from_header(text.as_bytes(), &names).unwrap();
        let (b, s, _) = at(text, "۴۴۷");
        assert_eq!(c.rules_at(b, s), 2);
        // No delimiter, or no named column: no table.
        assert!(Columns::from_header(b"ssn list\n1\n", &names).is_none());
        assert!(Columns::from_header(b"a,b,c\n1,2,3\n", &names).is_none());
    }

    #[test]
    fn i18_fixed_width_header_names_the_column_under_it() {
        let names = |f: &[u8]| -> u64 { u64::from(f.trim_ascii() == b"ssn") };
        let text = "NAME        SSN         CITY\nJane Roe    536228726   Springfield\nJohn Doe    Springfield 536228726\n";
        let c = Columns::from_header(text.as_bytes(), &names).unwrap();
        let (b, s, _) = at(text, "536228726   Spring");
        assert_eq!(c.rules_at(b, s), 1);
        // The same number under CITY, or under NAME: not named.
        let (b, s, _) = at(text, "536228726\n");
        assert_eq!(c.rules_at(b, s), 0);
        let text = "NAME        SSN\n536228726   x\n";
        let c = Columns::from_header(text.as_bytes(), &names).unwrap();
        let (b, s, _) = at(text, "536228726");
        assert_eq!(c.rules_at(b, s), 0);
        // Characters, not bytes: a Persian name before the column (20
        // bytes, 10 characters, then two spaces).
        let text = "NAME        SSN     CITY\nابپتثجچحخد  536228726\n";
        let c = Columns::from_header(text.as_bytes(), &names).unwrap();
        let (b, s, _) = at(text, "536228726");
        assert_eq!(c.rules_at(b, s), 1);
    }

    #[test]
    fn i18_prose_first_line_is_not_a_fixed_width_header() {
        let names = |f: &[u8]| -> u64 { u64::from(f.trim_ascii() == b"ssn") };
        // Words separated by single spaces are one field: a title, not a
        // table; one field alone is no table either.
        assert!(Columns::from_header(b"Your SSN is below\n536228726\n", &names).is_none());
        assert!(Columns::from_header(b"  SSN\n536228726\n", &names).is_none());
        // Fixed-width, but no column named for a rule.
        assert!(Columns::from_header(b"NAME    CITY\nx       536228726\n", &names).is_none());
    }
}
