//! Candidates: the maximal tokens around a trigger that a rule may accept.
//!
//! The semantics follow the labelling policy of our test corpus, which is
//! what a person would call "a number written in the text":
//!
//! * a *bare* number is a maximal run of digits (ASCII, Persian or
//!   Arabic-Indic), optionally ending in a check character such as `X`, not
//!   touching an ASCII letter or digit on either side;
//! * a *grouped* number is a maximal chain of two or more digit runs joined
//!   by one separator character, the same one throughout (`4111 1111 ...`);
//!   a chain that mixes separators, or that continues past what a rule
//!   accepts, is not a number we report, and neither is any part of it;
//! * an *IBAN* is two upper-case letters, two digits and the BBAN, compact or
//!   in space-separated groups of four;
//! * *track data* wraps a PAN run: `%B<PAN>^NAME^YYMM...` or `;<PAN>=YYMM...`.
//!
//! Every walk is bounded by [`MAX_TOKEN`] bytes, so a window needs only a
//! fixed margin around a candidate to decide about it.

use super::text::{
    alnum_at, alnum_before, check_char_at, digit_at, digit_before, is_alnum, sep_at, sep_before,
    sep_class, wide_digit_at,
};
use super::value::{MAX_VALUE_LEN, MaskStyle, SecretValue};

/// Longest stretch of text any candidate decision looks at, in bytes.
pub const MAX_TOKEN: usize = 128;

/// Longest digit count kept for a bare or grouped number.
const MAX_DIGITS: usize = 31;

/// A maximal run of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub start: usize,
    pub end: usize,
    /// Number of digits (a Persian digit is one digit in two bytes).
    pub digits: usize,
}

/// The written form of a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Bare,
    Grouped {
        sep: u8,
        groups: [u8; 8],
        count: u8,
    },
    Iban,
    Track1,
    Track2,
    /// Matched by a user regex.
    Text,
}

/// A token that some rule may accept.
#[derive(Clone)]
pub struct Candidate {
    pub start: usize,
    pub end: usize,
    pub shape: Shape,
    /// Digit count of a bare or grouped number, without a check character.
    pub digits: usize,
    pub check_char: Option<u8>,
    /// Track data: the expiry month and other fixed fields are well formed.
    pub track_fields_ok: bool,
    /// A lower-case IBAN written without groups: reported only with a
    /// keyword of the rule nearby (docs/DESIGN.md, "Written forms").
    pub needs_context: bool,
    compact: [u8; MAX_VALUE_LEN],
    len: usize,
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the compact bytes: they are the raw number.
        f.debug_struct("Candidate")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("shape", &self.shape)
            .field("digits", &self.digits)
            .finish_non_exhaustive()
    }
}

impl Drop for Candidate {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.compact);
    }
}

impl Candidate {
    fn new(start: usize, end: usize, shape: Shape) -> Candidate {
        Candidate {
            start,
            end,
            shape,
            digits: 0,
            check_char: None,
            track_fields_ok: true,
            needs_context: false,
            compact: [0; MAX_VALUE_LEN],
            len: 0,
        }
    }

    fn push(&mut self, b: u8) -> bool {
        if self.len == MAX_VALUE_LEN {
            return false;
        }
        self.compact[self.len] = b;
        self.len += 1;
        true
    }

    /// The compact value: ASCII digits and upper-case letters.
    pub fn compact(&self) -> &[u8] {
        &self.compact[..self.len]
    }

    /// The card number inside the candidate (for track data, the PAN; for
    /// other shapes, the whole compact value).
    pub fn pan(&self) -> &[u8] {
        self.compact()
    }

    /// The value to report, masked in the given style.
    pub fn value(&self, style: MaskStyle) -> Option<SecretValue> {
        SecretValue::new(self.compact(), style)
    }

    /// A candidate from text a regex matched: ASCII letters and digits,
    /// upper-cased; Persian and Arabic-Indic digits mapped to ASCII.
    pub fn from_text(text: &[u8], start: usize) -> Option<Candidate> {
        Candidate::from_text_keeping(text, start, &[])
    }

    /// As [`Candidate::from_text`], keeping the bytes of `keep` too (a
    /// regex rule's `keep`, such as a century sign its checks read).
    pub fn from_text_keeping(text: &[u8], start: usize, keep: &[u8]) -> Option<Candidate> {
        let mut c = Candidate::new(start, start + text.len(), Shape::Text);
        let mut i = 0;
        while i < text.len() {
            if let Some((d, w)) = digit_at(text, i) {
                if !c.push(b'0' + d) {
                    return None;
                }
                c.digits += 1;
                i += w;
                continue;
            }
            if (text[i].is_ascii_alphabetic() || keep.contains(&text[i]))
                && !c.push(text[i].to_ascii_uppercase())
            {
                return None;
            }
            i += 1;
        }
        (c.len > 0).then_some(c)
    }
}

/// The maximal digit run containing the digit that starts at `p`. The hex
/// digits of a percent escape (`%20`, `%3D`) belong to the escape, not to
/// a run: `card%3D4539...` and `%204539...` start the run after them.
pub fn run_around(buf: &[u8], p: usize) -> Option<Run> {
    digit_at(buf, p)?;
    let mut p = p;
    if in_escape(buf, p) {
        p += if buf[p - 1] == b'%' { 2 } else { 1 };
    }
    digit_at(buf, p)?;
    let mut start = p;
    let mut digits = 0;
    while let Some((_, w)) = digit_before(buf, start) {
        if w == 1 && in_escape(buf, start - 1) {
            break;
        }
        start -= w;
        digits += 1;
    }
    let mut end = p;
    while let Some((_, w)) = digit_at(buf, end) {
        end += w;
        digits += 1;
    }
    Some(Run { start, end, digits })
}

/// True when the ASCII digit at `i` is one of the two hex digits of a
/// percent escape of ASCII punctuation (`%20`..`%3F`, `%5B`.., `%7B`..:
/// the first hex digit is a decimal digit). Escapes that start with a
/// letter are left alone: `%B4526...` is track 1 data, not an escape.
fn in_escape(buf: &[u8], i: usize) -> bool {
    let hex = |k: usize| buf.get(k).is_some_and(u8::is_ascii_hexdigit);
    let digit = |k: usize| buf.get(k).is_some_and(u8::is_ascii_digit);
    (i >= 1 && buf[i - 1] == b'%' && digit(i) && hex(i + 1))
        || (i >= 2 && buf[i - 2] == b'%' && digit(i - 1) && hex(i))
}

/// Appends the digits of `start..end` to `c` as ASCII.
fn push_digits(c: &mut Candidate, buf: &[u8], start: usize, end: usize) -> bool {
    let mut i = start;
    while i < end {
        let Some((d, w)) = digit_at(buf, i) else {
            return false;
        };
        if !c.push(b'0' + d) {
            return false;
        }
        i += w;
    }
    true
}

/// The bare-number candidate of a run, if the run stands alone. A run that
/// ends in one of the `check_chars` (then a non-alphanumeric byte) takes it
/// as its last character.
pub fn bare(buf: &[u8], run: &Run, check_chars: &[u8]) -> Option<Candidate> {
    if alnum_before(buf, run.start) || run.digits > MAX_DIGITS {
        return None;
    }
    let mut end = run.end;
    let mut check_char = None;
    if let Some(&b) = buf.get(run.end) {
        // `X`, or a full-width `Ｘ` in CJK text.
        match check_char_at(buf, run.end) {
            Some((upper, w)) if check_chars.contains(&upper) && !alnum_at(buf, run.end + w) => {
                check_char = Some(upper);
                end += w;
            }
            _ if is_alnum(b) => return None,
            _ => {}
        }
    }
    let mut c = Candidate::new(run.start, end, Shape::Bare);
    if !push_digits(&mut c, buf, run.start, run.end) {
        return None;
    }
    c.digits = run.digits;
    if let Some(ch) = check_char {
        c.push(ch);
        c.check_char = Some(ch);
    }
    Some(c)
}

/// True when the run is joined to another run by a separator.
pub fn is_linked(buf: &[u8], run: &Run) -> bool {
    let right = sep_at(buf, run.end).is_some_and(|(_, w)| digit_at(buf, run.end + w).is_some());
    let left =
        sep_before(buf, run.start).is_some_and(|(_, w)| digit_before(buf, run.start - w).is_some());
    right || left
}

/// The first byte of the chain of runs that `run` belongs to, or `None` when
/// the chain reaches back more than [`MAX_TOKEN`] bytes (too long to be a
/// number).
pub fn chain_start(buf: &[u8], run: &Run) -> Option<usize> {
    let mut cs = run.start;
    while let Some((_, sw)) = sep_before(buf, cs)
        && digit_before(buf, cs - sw).is_some()
    {
        let mut s = cs - sw;
        while let Some((_, w)) = digit_before(buf, s) {
            if w == 1 && in_escape(buf, s - 1) {
                break;
            }
            s -= w;
            if run.start - s > MAX_TOKEN {
                return None;
            }
        }
        if s == cs - sw {
            break;
        }
        cs = s;
    }
    Some(cs)
}

/// The written shape of a chain of digit groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainShape {
    /// The separator's code ([`super::text::sep_at`]).
    pub sep: u8,
    pub groups: [u8; 8],
    pub count: u8,
    pub end: usize,
}

impl ChainShape {
    /// Digits per group.
    pub fn groups(&self) -> &[u8] {
        &self.groups[..self.count as usize]
    }
}

/// The shape of the chain starting at `cs`, if the chain uses one
/// separator, has at most 8 groups and 31 digits, stays within
/// [`MAX_TOKEN`] bytes and stands alone. Cheap: nothing is copied, so a
/// shape no rule accepts is rejected before a candidate is built.
pub fn chain_shape(buf: &[u8], cs: usize) -> Option<ChainShape> {
    if alnum_before(buf, cs) {
        return None;
    }
    let mut groups = [0u8; 8];
    let mut count = 0usize;
    let mut digits = 0usize;
    let mut sep: Option<u8> = None;
    let mut pos = cs;
    loop {
        let mut len = 0usize;
        while let Some((_, w)) = digit_at(buf, pos) {
            len += 1;
            pos += w;
        }
        digits += len;
        if len == 0 || count == groups.len() || digits > MAX_DIGITS || pos - cs > MAX_TOKEN {
            return None;
        }
        groups[count] = len as u8;
        count += 1;
        match sep_at(buf, pos) {
            Some((code, w)) if digit_at(buf, pos + w).is_some() => {
                if sep.is_some_and(|s| s != code) {
                    return None;
                }
                sep = Some(code);
                pos += w;
            }
            _ => break,
        }
    }
    let sep = sep?;
    if alnum_at(buf, pos) {
        return None;
    }
    Some(ChainShape {
        sep,
        groups,
        count: count as u8,
        end: pos,
    })
}

/// The grouped-number candidate of a chain whose shape was found by
/// [`chain_shape`].
pub fn chain_candidate(buf: &[u8], cs: usize, shape: &ChainShape) -> Option<Candidate> {
    let mut c = Candidate::new(
        cs,
        shape.end,
        Shape::Grouped {
            sep: shape.sep,
            groups: shape.groups,
            count: shape.count,
        },
    );
    let mut pos = cs;
    while pos < shape.end {
        match digit_at(buf, pos) {
            Some((d, w)) => {
                if !c.push(b'0' + d) {
                    return None;
                }
                c.digits += 1;
                pos += w;
            }
            // A separator, whatever its width (`%20` holds digits).
            None => pos += sep_at(buf, pos).map_or(1, |(_, w)| w),
        }
    }
    Some(c)
}

/// The grouped-number candidate of the chain starting at `cs`.
pub fn chain_at(buf: &[u8], cs: usize) -> Option<Candidate> {
    chain_shape(buf, cs).and_then(|shape| chain_candidate(buf, cs, &shape))
}

/// True for the characters of an IBAN: `A`-`Z` and `0`-`9`.
fn is_iban_char(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

/// Where an IBAN starting at `p` may end, most likely first; at most 24.
#[derive(Debug, Clone, Copy, Default)]
pub struct IbanEnds {
    ends: [usize; 24],
    len: usize,
}

impl IbanEnds {
    fn push(&mut self, end: usize) {
        if self.len < self.ends.len() {
            self.ends[self.len] = end;
            self.len += 1;
        }
    }

    /// The possible ends, in the order to try them.
    pub fn as_slice(&self) -> &[usize] {
        &self.ends[..self.len]
    }
}

/// The possible IBANs starting at `p` (two upper-case letters, two digits):
/// compact (`DE89370400440532013000`) or in groups of four separated by
/// single spaces (`DE89 3704 0044 0532 0130 00`). A grouped IBAN may be
/// followed by a short upper-case word (`... 2874 EUR`) that looks like its
/// last group, so every well-formed end is offered, longest first, and the
/// first that validates wins.
pub fn iban_ends(buf: &[u8], p: usize) -> IbanEnds {
    let mut out = IbanEnds::default();
    if alnum_before(buf, p) || buf.len() < p + 4 {
        return out;
    }
    let head = &buf[p..p + 4];
    if !(head[0].is_ascii_uppercase()
        && head[1].is_ascii_uppercase()
        && head[2].is_ascii_digit()
        && head[3].is_ascii_digit())
    {
        return out;
    }
    let body = p + 4;
    let mut run = 0;
    while run <= 30 && buf.get(body + run).is_some_and(|&b| is_iban_char(b)) {
        run += 1;
    }
    if run > 0 {
        if (11..=30).contains(&run) && !alnum_at(buf, body + run) {
            out.push(body + run);
        }
        return out;
    }
    let group_ok = |at: usize, n: usize| {
        buf.get(at) == Some(&b' ')
            && (1..=n).all(|k| buf.get(at + k).is_some_and(|&b| is_iban_char(b)))
    };
    let mut full = 0;
    while full < 7 && group_ok(body + 5 * full, 4) {
        full += 1;
    }
    for k in (2..=full).rev() {
        let at = body + 5 * k;
        for tail in (1..=3).rev() {
            if group_ok(at, tail) && !alnum_at(buf, at + 1 + tail) {
                out.push(at + 1 + tail);
            }
        }
        if !alnum_at(buf, at) {
            out.push(at);
        }
    }
    out
}

/// The IBAN candidate `p..end` (an end from [`iban_ends`]).
pub fn iban_candidate(buf: &[u8], p: usize, end: usize) -> Candidate {
    let mut c = Candidate::new(p, end, Shape::Iban);
    for &b in &buf[p..end] {
        if b != b' ' {
            c.push(b);
        }
    }
    c
}

/// A character of an IBAN as people write it: an ASCII letter of either
/// case or a digit of any script. Its upper-case ASCII value, its width,
/// and whether it is one [`iban_ends`] does not take (lower case, or a
/// digit of another script).
fn any_iban_char(buf: &[u8], i: usize) -> Option<(u8, usize, bool)> {
    let b = *buf.get(i)?;
    if is_iban_char(b) {
        return Some((b, 1, false));
    }
    if b.is_ascii_lowercase() {
        return Some((b.to_ascii_uppercase(), 1, true));
    }
    wide_digit_at(buf, i).map(|(d, w)| (b'0' + d, w, true))
}

/// An IBAN-like token written in a form [`iban_ends`] leaves out: lower- or
/// mixed-case letters (`pl61 1090 ...`, `de8937...`), or digits of another
/// script (`IR۰۶۲۹...`), compact or in groups of four joined by one kind
/// of space. The possible ends, most likely first, each with whether it is
/// the compact form. Empty when the token is plain upper-case ASCII (the
/// upper-case path finds those) or not IBAN-shaped.
pub fn wide_iban_ends(buf: &[u8], p: usize) -> (IbanEnds, bool) {
    let mut out = IbanEnds::default();
    if alnum_before(buf, p) || !wide_head(buf, p) {
        return (out, false);
    }
    // Only what the upper-case path leaves out: a byte other than `A-Z`,
    // `0-9` and the ASCII space.
    let unusual = |e: usize| buf[p..e].iter().any(|&b| !(is_iban_char(b) || b == b' '));
    let mut pos = p;
    for _ in 0..4 {
        pos += any_iban_char(buf, pos).map_or(1, |(_, w, _)| w);
    }
    // Compact: the body follows the check digits directly.
    let mut run = 0;
    let mut end = pos;
    while run <= 30
        && let Some((_, w, _)) = any_iban_char(buf, end)
    {
        end += w;
        run += 1;
    }
    if run > 0 {
        if (11..=30).contains(&run) && !alnum_at(buf, end) && unusual(end) {
            out.push(end);
        }
        return (out, true);
    }
    // Grouped: one space character, the same throughout.
    let Some((code, _)) = sep_at(buf, pos).filter(|&(c, _)| sep_class(c) == b' ') else {
        return (out, false);
    };
    // The end of a group of exactly `n` characters after a separator at `at`.
    let group = |at: usize, n: usize| -> Option<usize> {
        let (c, sw) = sep_at(buf, at)?;
        if c != code {
            return None;
        }
        let mut e = at + sw;
        for _ in 0..n {
            e += any_iban_char(buf, e)?.1;
        }
        Some(e)
    };
    let mut full_ends = [pos; 8];
    let mut full = 0;
    while full < 7
        && let Some(e) = group(full_ends[full], 4)
    {
        full += 1;
        full_ends[full] = e;
    }
    for k in (2..=full).rev() {
        let at = full_ends[k];
        for tail in (1..=3).rev() {
            if let Some(e) = group(at, tail)
                && !alnum_at(buf, e)
                && unusual(e)
            {
                out.push(e);
            }
        }
        if !alnum_at(buf, at) && unusual(at) {
            out.push(at);
        }
    }
    (out, false)
}

/// Where the IBAN-like token that the digit run at `run_start` belongs to
/// starts, looking back over its groups: the first byte of a token that
/// reads as two letters and two digits, or `None`. Bounded: at most
/// eight groups and [`MAX_TOKEN`] bytes.
pub fn iban_head_before(buf: &[u8], run_start: usize) -> Option<usize> {
    let mut t = run_start;
    for group in 0..9 {
        // The start of the token holding `t`, and its length in characters.
        let end = t;
        let mut chars = 0;
        // The nearest head in the token holding the run (it may start
        // inside the token when a digit of another script stands before
        // it, `٩pl61...`: ASCII alone glues).
        let mut head = None;
        while t > 0 && end - t < MAX_TOKEN {
            let back = if buf[t - 1].is_ascii_alphanumeric() {
                1
            } else if let Some((_, w)) = digit_before(buf, t) {
                w
            } else {
                break;
            };
            t -= back;
            chars += 1;
            // Groups before the one holding the run have four characters.
            if (group == 0 || chars == 4) && wide_head(buf, t) && !alnum_before(buf, t) {
                head = Some(t);
                break;
            }
        }
        if head.is_some() {
            return head;
        }
        if group > 0 && chars != 4 {
            return None;
        }
        let (_, sw) = sep_before(buf, t).filter(|&(c, _)| sep_class(c) == b' ')?;
        if run_start - t > MAX_TOKEN {
            return None;
        }
        t -= sw;
    }
    None
}

/// Two letters (any case) and two digits (any script) at `t`.
fn wide_head(buf: &[u8], t: usize) -> bool {
    let mut pos = t;
    for k in 0..4 {
        match any_iban_char(buf, pos) {
            Some((v, w, _)) if (k < 2) == v.is_ascii_uppercase() => pos += w,
            _ => return false,
        }
    }
    true
}

/// The IBAN candidate `p..end` of an end from [`wide_iban_ends`]: letters
/// upper-cased, digits made ASCII, separators dropped.
pub fn wide_iban_candidate(buf: &[u8], p: usize, end: usize, compact: bool) -> Candidate {
    let mut c = Candidate::new(p, end, Shape::Iban);
    let mut pos = p;
    let mut lower = false;
    while pos < end {
        match any_iban_char(buf, pos) {
            Some((v, w, _)) => {
                lower |= buf[pos].is_ascii_lowercase();
                c.push(v);
                pos += w;
            }
            None => pos += sep_at(buf, pos).map_or(1, |(_, w)| w),
        }
    }
    c.needs_context = compact && lower;
    c
}

/// True when every byte of the run is an ASCII digit (track data is ASCII).
fn ascii_run(run: &Run) -> bool {
    run.end - run.start == run.digits
}

/// `YYMM` with a real month.
fn expiry_ok(b: &[u8]) -> bool {
    b.len() == 4 && b.iter().all(u8::is_ascii_digit) && {
        let month = (b[2] - b'0') * 10 + (b[3] - b'0');
        (1..=12).contains(&month)
    }
}

/// Track 1 (format B) around a PAN run: `[%]B<PAN>^<name>^<YYMM><svc>...[?]`.
pub fn track1_around(buf: &[u8], run: &Run) -> Option<Candidate> {
    if !(12..=19).contains(&run.digits) || !ascii_run(run) || run.start == 0 {
        return None;
    }
    if buf[run.start - 1] != b'B' || buf.get(run.end) != Some(&b'^') {
        return None;
    }
    let b_at = run.start - 1;
    let start = if b_at >= 1 && buf[b_at - 1] == b'%' {
        b_at - 1
    } else {
        if alnum_before(buf, b_at) {
            return None;
        }
        b_at
    };
    let name_start = run.end + 1;
    let mut pos = name_start;
    while pos < buf.len() && pos - name_start <= 26 {
        let b = buf[pos];
        if b == b'^' || !(0x20..=0x7E).contains(&b) || b == b'%' || b == b'?' {
            break;
        }
        pos += 1;
    }
    let name_len = pos - name_start;
    if buf.get(pos) != Some(&b'^') || !(2..=26).contains(&name_len) {
        return None;
    }
    pos += 1;
    let fixed = buf.get(pos..pos + 7)?;
    if !fixed.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let fields_ok = expiry_ok(&fixed[..4]);
    pos += 7;
    // Discretionary data up to the end sentinel; a track holds 79 characters.
    while pos < buf.len() && pos - start < 79 {
        let b = buf[pos];
        if !(0x20..=0x7E).contains(&b) || b == b'?' || b == b'%' || b == b'^' || b == b';' {
            break;
        }
        pos += 1;
    }
    if buf.get(pos) == Some(&b'?') {
        pos += 1;
    }
    let mut c = Candidate::new(start, pos, Shape::Track1);
    if !push_digits(&mut c, buf, run.start, run.end) {
        return None;
    }
    c.digits = run.digits;
    c.track_fields_ok = fields_ok;
    Some(c)
}

/// Track 2 around a PAN run: `[;]<PAN>=<YYMM><svc><discretionary>[?]`.
pub fn track2_around(buf: &[u8], run: &Run) -> Option<Candidate> {
    if !(12..=19).contains(&run.digits) || !ascii_run(run) || buf.get(run.end) != Some(&b'=') {
        return None;
    }
    let start = if run.start >= 1 && buf[run.start - 1] == b';' {
        run.start - 1
    } else {
        if alnum_before(buf, run.start) {
            return None;
        }
        run.start
    };
    let mut pos = run.end + 1;
    let fixed = buf.get(pos..pos + 7)?;
    if !fixed.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let fields_ok = expiry_ok(&fixed[..4]);
    pos += 7;
    // A track 2 record holds 40 characters with its sentinels.
    while pos < buf.len() && pos - start < 39 && buf[pos].is_ascii_digit() {
        pos += 1;
    }
    if buf.get(pos) == Some(&b'?') {
        pos += 1;
    }
    let mut c = Candidate::new(start, pos, Shape::Track2);
    if !push_digits(&mut c, buf, run.start, run.end) {
        return None;
    }
    c.digits = run.digits;
    c.track_fields_ok = fields_ok;
    Some(c)
}

/// Every candidate of every shape in `text`, by a plain byte walk (no
/// prefilter): used by `rules check` to tell "not a candidate" from
/// "rejected by the validator" on short example texts.
pub fn for_each_candidate(text: &[u8], check_chars: &[u8], f: &mut dyn FnMut(&Candidate)) {
    let mut i = 0;
    let mut last_chain = usize::MAX;
    while i < text.len() {
        for &end in iban_ends(text, i).as_slice() {
            f(&iban_candidate(text, i, end));
        }
        let (ends, compact) = wide_iban_ends(text, i);
        for &end in ends.as_slice() {
            f(&wide_iban_candidate(text, i, end, compact));
        }
        if digit_at(text, i).is_some()
            && digit_before(text, i).is_none()
            && let Some(run) = run_around(text, i)
        {
            for c in [track1_around(text, &run), track2_around(text, &run)]
                .into_iter()
                .flatten()
            {
                f(&c);
            }
            if let Some(c) = bare(text, &run, check_chars) {
                f(&c);
            }
            if is_linked(text, &run)
                && let Some(cs) = chain_start(text, &run)
                && cs != last_chain
            {
                last_chain = cs;
                if let Some(c) = chain_at(text, cs) {
                    f(&c);
                }
            }
            i = run.end;
            continue;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(c: &Candidate) -> String {
        String::from_utf8(c.compact().to_vec()).unwrap()
    }

    fn shape_of(c: &Candidate) -> Vec<u8> {
        match c.shape {
            Shape::Grouped { groups, count, .. } => groups[..count as usize].to_vec(),
            _ => vec![],
        }
    }

    #[test]
    fn runs_are_maximal_across_scripts() {
        let s = "ab 12۳۴5 x".as_bytes();
        let r = run_around(s, 4).unwrap();
        assert_eq!((r.start, r.digits), (3, 5));
        assert_eq!(&s[r.start..r.end], "12۳۴5".as_bytes());
    }

    #[test]
    fn bare_requires_ascii_boundaries() {
        let s = b"INV4111111111111111";
        let r = run_around(s, 5).unwrap();
        assert!(bare(s, &r, &[]).is_none());
        let s = "号码4111111111111111。".as_bytes();
        let r = run_around(s, 7).unwrap();
        let c = bare(s, &r, &[]).unwrap();
        assert_eq!(compact(&c), "4111111111111111");
    }

    #[test]
    fn check_char_joins_the_run() {
        let cc = [b'X'];
        let s = b"id 11010519491231002x.";
        let r = run_around(s, 3).unwrap();
        let c = bare(s, &r, &cc).unwrap();
        assert_eq!(c.check_char, Some(b'X'));
        assert_eq!(compact(&c), "11010519491231002X");
        assert_eq!(&s[c.start..c.end], b"11010519491231002x");
        // Without a rule that takes X, the X glues the run.
        assert!(bare(s, &r, &[]).is_none());
        // X followed by a letter: glued.
        let s = b"id 11010519491231002XA";
        let r = run_around(s, 3).unwrap();
        assert!(bare(s, &r, &cc).is_none());
    }

    #[test]
    fn chains_need_one_separator() {
        let s = b"pay 4111 1111 1111 1111 now";
        let r = run_around(s, 4).unwrap();
        assert!(is_linked(s, &r));
        let cs = chain_start(s, &run_around(s, 15).unwrap()).unwrap();
        assert_eq!(cs, 4);
        let c = chain_at(s, cs).unwrap();
        assert_eq!(shape_of(&c), vec![4, 4, 4, 4]);
        assert_eq!(&s[c.start..c.end], b"4111 1111 1111 1111");

        let mixed = b"pay 4111 1111-1111 1111 now";
        assert!(chain_at(mixed, 4).is_none());
        let glued = b"pay 4111 1111 1111 1111x";
        assert!(chain_at(glued, 4).is_none());
    }

    #[test]
    fn chains_are_maximal() {
        // A date before the number joins the chain: no card is written here.
        let s = b"12 4111 1111 1111 1111";
        let run = run_around(s, 3).unwrap();
        assert_eq!(chain_start(s, &run), Some(0));
        let c = chain_at(s, 0).unwrap();
        assert_eq!(shape_of(&c), vec![2, 4, 4, 4, 4]);
    }

    #[test]
    fn long_chains_are_refused() {
        let s = "1 ".repeat(200);
        let run = run_around(s.as_bytes(), 300).unwrap();
        assert_eq!(chain_start(s.as_bytes(), &run), None);
        assert!(chain_at(s.as_bytes(), 0).is_none());
    }

    fn first_iban(buf: &[u8], p: usize) -> Option<Candidate> {
        iban_ends(buf, p)
            .as_slice()
            .first()
            .map(|&e| iban_candidate(buf, p, e))
    }

    #[test]
    fn iban_forms() {
        let s = b"IBAN: DE89370400440532013000.";
        let c = first_iban(s, 6).unwrap();
        assert_eq!(compact(&c), "DE89370400440532013000");
        let s = b"to GB29 NWBK 6016 1331 9268 19 by";
        let c = first_iban(s, 3).unwrap();
        assert_eq!(compact(&c), "GB29NWBK60161331926819");
        assert_eq!(&s[c.start..c.end], b"GB29 NWBK 6016 1331 9268 19");
        // Lower-case glued: not an IBAN.
        assert!(first_iban(b"DE89370400440532013000abc", 0).is_none());
        assert!(first_iban(b"XDE89370400440532013000", 1).is_none());
        // A short word after the groups is offered as a last group first,
        // then the groups alone.
        let s = b"PL61 1090 1014 0000 0712 1981 2874 EUR";
        let ends = iban_ends(s, 0);
        let all: Vec<String> = ends
            .as_slice()
            .iter()
            .map(|&e| compact(&iban_candidate(s, 0, e)))
            .collect();
        assert_eq!(all[0], "PL61109010140000071219812874EUR");
        assert_eq!(all[1], "PL61109010140000071219812874");
    }

    #[test]
    fn track_data() {
        let s = b"x %B4526018159083012^DOE/JOHN^2512101000000000000000000000000? y";
        let run = run_around(s, 4).unwrap();
        let c = track1_around(s, &run).unwrap();
        assert!(c.track_fields_ok);
        assert_eq!(s[c.start], b'%');
        assert_eq!(s[c.end - 1], b'?');
        assert_eq!(compact(&c), "4526018159083012");

        let s = b";4526018159083012=25131010000000000000?";
        let run = run_around(s, 1).unwrap();
        let c = track2_around(s, &run).unwrap();
        assert!(!c.track_fields_ok, "month 13");
        assert_eq!((c.start, c.end), (0, s.len()));
    }

    #[test]
    fn candidate_debug_hides_the_value() {
        let s = b"4111111111111111";
        let c = bare(s, &run_around(s, 0).unwrap(), &[]).unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("4111111111111111"), "{d}");
    }
}
