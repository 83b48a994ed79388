//! HTML: the text a person sees, with a map back to the original bytes.
//!
//! Enters: the bytes of an HTML document (a file sniffed as HTML by
//! [`is_html`], a member of an archive, a `text/html` mail part), held in
//! memory up to `max_buffer`. Leaves: a [`View`], the text a browser would
//! show, and a [`ViewMap`] from every byte of it to the original bytes that
//! produced it, so that a finding reports the offset, line and column of
//! its first and last digit in the original, and redaction masks those
//! original bytes in place.
//!
//! How the view is made (documented in docs/DESIGN.md, "Written forms"):
//!
//! - Tags are removed. An inline element's tag (`b`, `span`, `a`, `font`,
//!   `sub`, `code` ... [`INLINE`]) is removed without a trace, so
//!   `4539 <b>1488</b> 0343 6467` reads as one number, as it is shown; any
//!   other tag (`p`, `div`, `br`, `td`, `tr`, `li`, `h1`..`h6`, `table`,
//!   `hr`, and elements not known) becomes a newline, so adjacent table
//!   cells are not glued.
//! - Character references are decoded: decimal and hexadecimal ones, and
//!   the named entities people and tools write: the HTML 4 Latin-1,
//!   special and punctuation sets and the HTML 5 spacing and dash entities
//!   ([`named`]). The full HTML 5 table (2,231 names, mostly mathematical
//!   symbols) is not carried: none of its other names is a digit or a
//!   separator, so a name not known is kept as written. Soft hyphens and
//!   zero-width characters written as references are dropped (they show
//!   nothing).
//! - Runs of white space in text collapse to one space, as a browser shows
//!   them (not inside `pre` and `textarea`).
//! - Comments and the contents of `script` and `style` are kept (a number
//!   in them still leaks), between newlines so they never glue to the text
//!   around them. The attributes of a tag holding a digit (`value="..."`,
//!   `href="...?card=..."`) are kept too, each tag's on its own line after
//!   the text, mapped to where they are written.
//!
//! Memory: the view is never longer than the document (every reference and
//! tag is at least as long as what it becomes); the map holds one 12-byte
//! segment per run of text, reference or block of markup.

use std::io::Read;
use std::ops::Range;

use super::{Budget, LeafSink, Place, Problem, whole_or_raw};
use crate::report::event::FileStatus;

/// Bytes looked at to tell HTML from other text.
const SNIFF_HTML: usize = 1024;

/// Whether `head` (the first bytes of a stream) is an HTML document: after
/// an optional UTF-8 BOM, white space, an XML declaration and comments, it
/// opens with `<!DOCTYPE html`, `<html`, `<head` or `<body`, or its first
/// kilobyte holds at least four tags of the commonest HTML elements (a
/// fragment, such as an exported table or a mail body saved alone). The
/// first non-blank byte must be `<`, so text and logs cost one comparison.
pub fn is_html(head: &[u8]) -> bool {
    let mut s = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    s = trim_start(s);
    if s.first() != Some(&b'<') {
        return false;
    }
    let s = &s[..s.len().min(SNIFF_HTML)];
    let mut rest = s;
    let mut xml = false;
    // An XML declaration and comments may come first (XHTML, saved pages).
    for _ in 0..8 {
        let skip = if starts_ci(rest, b"<?xml") {
            xml = true;
            memchr::memmem::find(rest, b"?>").map(|e| e + 2)
        } else if rest.starts_with(b"<!--") {
            memchr::memmem::find(rest, b"-->").map(|e| e + 3)
        } else {
            break;
        };
        match skip {
            Some(e) => rest = trim_start(&rest[e..]),
            None => break,
        }
    }
    if [&b"<!doctype html"[..], b"<html", b"<head", b"<body"]
        .iter()
        .any(|p| starts_ci(rest, p) && tag_ends(&rest[p.len()..]))
    {
        return true;
    }
    // A fragment: it opens with a tag of a common element and holds four.
    // XML that declares itself is HTML only as XHTML (above): an RSS feed
    // has `<title>` and `<link>` too, and its other elements must not be
    // read as HTML.
    let opens_common = rest.first() == Some(&b'<') && {
        let name_len = rest[1..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        COMMON.contains(&lower(&rest[1..1 + name_len]).as_str())
    };
    if xml || !opens_common {
        return false;
    }
    let mut tags = 0;
    for at in memchr::memchr_iter(b'<', s) {
        let t = &s[at + 1..];
        let t = t.strip_prefix(b"/").unwrap_or(t);
        let name_len = t.iter().take_while(|b| b.is_ascii_alphanumeric()).count();
        if name_len > 0
            && tag_ends(&t[name_len..])
            && COMMON.contains(&lower(&t[..name_len]).as_str())
        {
            tags += 1;
            if tags >= 4 {
                return true;
            }
        }
    }
    false
}

/// Elements whose tags mark a fragment as HTML.
const COMMON: &[&str] = &[
    "p", "div", "span", "br", "table", "tr", "td", "th", "a", "b", "i", "ul", "ol", "li", "em",
    "strong", "h1", "h2", "h3", "h4", "font", "img", "meta", "title", "style", "script", "tbody",
    "thead",
];

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

fn starts_ci(s: &[u8], p: &[u8]) -> bool {
    s.len() >= p.len() && s[..p.len()].eq_ignore_ascii_case(p)
}

/// A tag name ends here: `>`, `/`, white space or the end of the sample.
fn tag_ends(s: &[u8]) -> bool {
    matches!(
        s.first(),
        None | Some(b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n')
    )
}

fn lower(name: &[u8]) -> String {
    String::from_utf8_lossy(name).to_ascii_lowercase()
}

/// What produced a run of view bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Text copied as written: view byte `k` of the run is original byte
    /// `orig + k`.
    Text,
    /// One character reference (`&#52;`, `&nbsp;`) or a run of white
    /// space collapsed to one space: every view byte of the run comes from
    /// the whole original span.
    Char,
    /// Markup (tags, comment and script delimiters) shown as a newline: it
    /// is never rewritten.
    Markup,
}

#[derive(Debug, Clone, Copy)]
struct Seg {
    view: u32,
    orig: u32,
    /// Original bytes of a `Char` or `Markup` run (a `Text` run is as long
    /// as its view bytes).
    orig_len: u32,
    source: Source,
}

/// From view bytes to the original bytes that produced them.
#[derive(Debug, Default)]
pub struct ViewMap {
    segs: Vec<Seg>,
    view_len: usize,
}

impl ViewMap {
    /// The original bytes behind view byte `v`, and what they are.
    pub fn byte(&self, v: usize) -> (Range<usize>, Source) {
        let i = self.segs.partition_point(|s| s.view as usize <= v);
        let Some(s) = self.segs.get(i.saturating_sub(1)) else {
            return (0..0, Source::Markup);
        };
        match s.source {
            Source::Text => {
                let o = s.orig as usize + (v - s.view as usize);
                (o..o + 1, Source::Text)
            }
            _ => (s.orig as usize..(s.orig + s.orig_len) as usize, s.source),
        }
    }

    /// The original bytes from the first byte of `view` to its last.
    pub fn span(&self, view: Range<usize>) -> Range<usize> {
        if view.is_empty() || view.end > self.view_len {
            let at = self
                .byte(view.start.min(self.view_len.saturating_sub(1)))
                .0
                .start;
            return at..at;
        }
        // Bytes of one character share its span, so a match's ends map to
        // the whole of the references it starts and ends with.
        let first = self.byte(view.start).0;
        let last = self.byte(view.end - 1).0;
        first.start..last.end.max(first.start)
    }
}

/// The text of an HTML document as a person sees it, and its map.
#[derive(Debug, Default)]
pub struct View {
    pub text: Vec<u8>,
    pub map: ViewMap,
}

impl View {
    fn push_text(&mut self, orig: usize, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let view = self.text.len();
        if let Some(last) = self.map.segs.last()
            && last.source == Source::Text
            && (last.orig + (view as u32 - last.view)) as usize == orig
        {
            // Contiguous with the run before: one segment.
        } else {
            self.map.segs.push(Seg {
                view: view as u32,
                orig: orig as u32,
                orig_len: 0,
                source: Source::Text,
            });
        }
        self.text.extend_from_slice(bytes);
    }

    fn push_char(&mut self, orig: Range<usize>, c: char) {
        let mut buf = [0u8; 4];
        self.map.segs.push(Seg {
            view: self.text.len() as u32,
            orig: orig.start as u32,
            orig_len: (orig.end - orig.start) as u32,
            source: Source::Char,
        });
        self.text
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }

    /// Markup at `orig` shown as a line break; runs of markup become one.
    fn push_break(&mut self, orig: Range<usize>) {
        if let Some(last) = self.map.segs.last_mut()
            && last.source == Source::Markup
            && (last.view as usize) + 1 == self.text.len()
            && (last.orig + last.orig_len) as usize <= orig.start
        {
            last.orig_len = (orig.end - last.orig as usize) as u32;
            return;
        }
        self.map.segs.push(Seg {
            view: self.text.len() as u32,
            orig: orig.start as u32,
            orig_len: (orig.end - orig.start) as u32,
            source: Source::Markup,
        });
        self.text.push(b'\n');
    }

    fn last_is_space(&self) -> bool {
        matches!(self.text.last(), None | Some(b' ' | b'\n'))
    }
}

/// Elements shown inline: their tags are removed without a trace, so a
/// number split by them reads as one. Any other element, unknown ones
/// included (XML read as HTML, custom elements), separates the text around
/// it: gluing two values is the worse mistake. Namespaced tags (`o:p`,
/// Word's smart tags `st1:...`) are inline, as Word's HTML writes them
/// inside paragraphs.
const INLINE: &[&str] = &[
    "a", "abbr", "acronym", "b", "bdi", "bdo", "big", "blink", "cite", "code", "data", "del",
    "dfn", "em", "font", "i", "ins", "kbd", "label", "mark", "nobr", "q", "rb", "rp", "rt", "ruby",
    "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var",
    "wbr",
];

/// Whether an element's tags separate the text around them.
fn separates(name: &str) -> bool {
    !(INLINE.contains(&name) || name.contains(':'))
}

/// Elements whose content is raw text up to their end tag.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Raw {
    /// `script`, `style`: no references decoded.
    Script,
    /// `textarea`, `title`: references decoded, no tags.
    Rcdata,
}

/// Makes the view of `html`. Documents longer than 4 GiB cannot be mapped
/// (the map counts in 32 bits); the caller keeps them under `max_buffer`.
pub fn view(html: &[u8]) -> View {
    assert!(html.len() < u32::MAX as usize, "caller bounds the document");
    let mut v = View {
        text: Vec::with_capacity(html.len()),
        map: ViewMap::default(),
    };
    // Attribute values holding a digit: (original range), kept for the end.
    let mut attrs: Vec<Range<usize>> = Vec::new();
    let mut pre = 0u32;
    let mut i = 0;
    let n = html.len();
    while i < n {
        let b = html[i];
        if b == b'<'
            && let Some((end, kind)) = markup(html, i, &mut attrs)
        {
            match kind {
                Markup::Comment(body) | Markup::Cdata(body) => {
                    v.push_break(i..body.start);
                    v.push_text(body.start, &html[body.clone()]);
                    v.push_break(body.end..end);
                }
                Markup::Tag { name, closing } => {
                    let block = separates(&name);
                    if name == "pre" || name == "textarea" {
                        pre = if closing {
                            pre.saturating_sub(1)
                        } else {
                            pre + 1
                        };
                    }
                    let raw = match name.as_str() {
                        "script" | "style" if !closing => Some(Raw::Script),
                        "textarea" | "title" if !closing => Some(Raw::Rcdata),
                        _ => None,
                    };
                    if let Some(raw) = raw {
                        let close = find_end_tag(html, end, &name);
                        v.push_break(i..end);
                        if raw == Raw::Script {
                            v.push_text(end, &html[end..close]);
                        } else {
                            text(&mut v, html, end..close, pre > 0);
                        }
                        i = close;
                        if name == "textarea" {
                            pre = pre.saturating_sub(1);
                        }
                        continue;
                    }
                    if block {
                        v.push_break(i..end);
                    }
                }
                Markup::Other => v.push_break(i..end),
            }
            i = end;
            continue;
        }
        // Text up to the next `<`.
        let end = memchr::memchr(b'<', &html[i + 1..]).map_or(n, |e| i + 1 + e);
        text(&mut v, html, i..end, pre > 0);
        i = end;
    }
    for a in attrs {
        v.push_break(a.start..a.start);
        text(&mut v, html, a, true);
    }
    v.map.view_len = v.text.len();
    v
}

/// Where the end tag `</name` begins after `from`, or the end.
fn find_end_tag(html: &[u8], from: usize, name: &str) -> usize {
    let mut at = from;
    while let Some(p) = memchr::memmem::find(&html[at..], b"</") {
        let s = at + p + 2;
        if starts_ci(&html[s..], name.as_bytes()) && tag_ends(&html[s + name.len()..]) {
            return at + p;
        }
        at = s;
    }
    html.len()
}

enum Markup {
    Tag {
        name: String,
        closing: bool,
    },
    /// A comment; its body.
    Comment(Range<usize>),
    /// `<![CDATA[...]]>`; its body.
    Cdata(Range<usize>),
    /// A doctype, a processing instruction.
    Other,
}

/// The markup starting at `html[i] == '<'`: where it ends and what it is;
/// `None` when `<` is text (`a < b`). The attributes of a tag holding a
/// digit are noted in `attrs`.
fn markup(html: &[u8], i: usize, attrs: &mut Vec<Range<usize>>) -> Option<(usize, Markup)> {
    let rest = &html[i..];
    if rest.starts_with(b"<!--") {
        let body = i + 4;
        return Some(match memchr::memmem::find(&html[body..], b"-->") {
            Some(e) => (body + e + 3, Markup::Comment(body..body + e)),
            None => (html.len(), Markup::Comment(body..html.len())),
        });
    }
    if rest.starts_with(b"<![CDATA[") {
        let body = i + 9;
        return Some(match memchr::memmem::find(&html[body..], b"]]>") {
            Some(e) => (body + e + 3, Markup::Cdata(body..body + e)),
            None => (html.len(), Markup::Cdata(body..html.len())),
        });
    }
    if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
        let end = memchr::memchr(b'>', rest).map_or(html.len(), |e| i + e + 1);
        return Some((end, Markup::Other));
    }
    let closing = rest.get(1) == Some(&b'/');
    let name_at = i + 1 + usize::from(closing);
    if !html.get(name_at).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let name_len = html[name_at..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b':')
        .count();
    let name = lower(&html[name_at..name_at + name_len]);
    // Attributes up to `>`, quoted values skipped whole. A tag holding a
    // digit keeps its attributes as text to scan: values (`value="..."`,
    // `href="...?card=..."`), and words that only look like attributes
    // (`x<y then card 4539 1488 ...>` in careless text reads as a tag).
    let body = name_at + name_len;
    let mut j = body;
    let end = loop {
        match html.get(j) {
            None => break html.len(),
            Some(b'>') => break j,
            Some(&q) if q == b'"' || q == b'\'' => {
                j = memchr::memchr(q, &html[j + 1..]).map_or(html.len(), |e| j + 1 + e + 1);
            }
            Some(_) => j += 1,
        }
    };
    if html[body..end].iter().any(u8::is_ascii_digit) {
        attrs.push(body..end);
    }
    Some(((end + 1).min(html.len()), Markup::Tag { name, closing }))
}

/// Text: references decoded, white space collapsed unless `keep_space`.
fn text(v: &mut View, html: &[u8], range: Range<usize>, keep_space: bool) {
    let mut i = range.start;
    let mut run = i; // start of text not yet pushed
    while i < range.end {
        let b = html[i];
        if b == b'&' {
            if let Some((len, c)) = reference(&html[i..range.end]) {
                v.push_text(run, &html[run..i]);
                if !matches!(c, Some('\u{AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}')) {
                    v.push_char(i..i + len, c.unwrap_or('\u{FFFD}'));
                }
                i += len;
                run = i;
                continue;
            }
        } else if !keep_space && b.is_ascii_whitespace() {
            let len = html[i..range.end]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            if len > 1 || b != b' ' {
                v.push_text(run, &html[run..i]);
                if !v.last_is_space() {
                    v.push_char(i..i + len, ' ');
                }
                i += len;
                run = i;
                continue;
            }
        }
        i += 1;
    }
    v.push_text(run, &html[run..range.end]);
}

/// A character reference at the start of `s` (`&...`): its length and the
/// character (`None`: a numeric reference to no valid character).
fn reference(s: &[u8]) -> Option<(usize, Option<char>)> {
    if s.get(1) == Some(&b'#') {
        let hex = matches!(s.get(2), Some(b'x' | b'X'));
        let digits_at = if hex { 3 } else { 2 };
        let digits = s[digits_at..]
            .iter()
            .take(8)
            .take_while(|b| {
                if hex {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            })
            .count();
        if digits == 0 {
            return None;
        }
        let text = std::str::from_utf8(&s[digits_at..digits_at + digits]).ok()?;
        let value = u32::from_str_radix(text, if hex { 16 } else { 10 }).ok()?;
        let semi = usize::from(s.get(digits_at + digits) == Some(&b';'));
        let c = char::from_u32(value).filter(|&c| c != '\0');
        return Some((digits_at + digits + semi, c));
    }
    let name_len = s[1..]
        .iter()
        .take(32)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if name_len == 0 {
        return None;
    }
    let name = std::str::from_utf8(&s[1..1 + name_len]).ok()?;
    let c = named(name)?;
    if s.get(1 + name_len) == Some(&b';') {
        Some((name_len + 2, Some(c)))
    } else if LEGACY.contains(&name) {
        // Browsers accept these few without the semicolon.
        Some((name_len + 1, Some(c)))
    } else {
        None
    }
}

/// Named references accepted without a semicolon.
const LEGACY: &[&str] = &["nbsp", "amp", "lt", "gt", "quot", "copy", "reg"];

/// The named character references decoded: HTML 4's Latin-1 set, its
/// special and punctuation characters, and the HTML 5 names for spaces,
/// dashes and ASCII punctuation (those that can sit inside a number).
pub fn named(name: &str) -> Option<char> {
    // HTML 4 Latin-1: `nbsp` (U+00A0) to `yuml` (U+00FF), in order.
    const LATIN1: [&str; 96] = [
        "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf",
        "laquo", "not", "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro",
        "para", "middot", "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
        "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil", "Egrave",
        "Eacute", "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve",
        "Oacute", "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc",
        "Uuml", "Yacute", "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring",
        "aelig", "ccedil", "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc",
        "iuml", "eth", "ntilde", "ograve", "oacute", "ocirc", "otilde", "ouml", "divide", "oslash",
        "ugrave", "uacute", "ucirc", "uuml", "yacute", "thorn", "yuml",
    ];
    if let Some(k) = LATIN1.iter().position(|&n| n == name) {
        return char::from_u32(0xA0 + k as u32);
    }
    let c = match name {
        "quot" | "QUOT" => '"',
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "apos" => '\'',
        "OElig" => '\u{152}',
        "oelig" => '\u{153}',
        "Scaron" => '\u{160}',
        "scaron" => '\u{161}',
        "Yuml" => '\u{178}',
        "fnof" => '\u{192}',
        "circ" => '\u{2C6}',
        "tilde" => '\u{2DC}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        "emsp13" => '\u{2004}',
        "emsp14" => '\u{2005}',
        "numsp" => '\u{2007}',
        "puncsp" => '\u{2008}',
        "thinsp" | "ThinSpace" => '\u{2009}',
        "hairsp" | "VeryThinSpace" => '\u{200A}',
        "ZeroWidthSpace" => '\u{200B}',
        "zwnj" => '\u{200C}',
        "zwj" => '\u{200D}',
        "lrm" => '\u{200E}',
        "rlm" => '\u{200F}',
        "hyphen" | "dash" => '\u{2010}',
        "ndash" => '\u{2013}',
        "mdash" => '\u{2014}',
        "lsquo" => '\u{2018}',
        "rsquo" => '\u{2019}',
        "sbquo" => '\u{201A}',
        "ldquo" => '\u{201C}',
        "rdquo" => '\u{201D}',
        "bdquo" => '\u{201E}',
        "dagger" => '\u{2020}',
        "Dagger" => '\u{2021}',
        "bull" => '\u{2022}',
        "hellip" => '\u{2026}',
        "permil" => '\u{2030}',
        "lsaquo" => '\u{2039}',
        "rsaquo" => '\u{203A}',
        "MediumSpace" => '\u{205F}',
        "NoBreak" => '\u{2060}',
        "euro" => '\u{20AC}',
        "trade" => '\u{2122}',
        "minus" => '\u{2212}',
        "Tab" => '\t',
        "NewLine" => '\n',
        "excl" => '!',
        "num" => '#',
        "dollar" => '$',
        "percnt" => '%',
        "lpar" => '(',
        "rpar" => ')',
        "ast" | "midast" => '*',
        "plus" => '+',
        "comma" => ',',
        "period" => '.',
        "sol" => '/',
        "colon" => ':',
        "semi" => ';',
        "equals" => '=',
        "quest" => '?',
        "commat" => '@',
        "lsqb" | "lbrack" => '[',
        "bsol" => '\\',
        "rsqb" | "rbrack" => ']',
        "lowbar" | "UnderBar" => '_',
        "grave" => '`',
        "lcub" | "lbrace" => '{',
        "verbar" | "vert" => '|',
        "rcub" | "rbrace" => '}',
        _ => return None,
    };
    Some(c)
}

/// Turns a match's place in the view into its place in the original:
/// offset and length (first to last byte of the original that produced
/// it), and 1-based line and column (in code points) of its first byte.
/// Keeps a cursor, so matches that come in order cost what lies between
/// them.
#[derive(Debug, Default)]
pub struct Relocate {
    at: usize,
    newlines: u64,
}

impl Relocate {
    /// `(offset, length, line, column)` in `original` of view bytes
    /// `view`.
    pub fn place(
        &mut self,
        original: &[u8],
        map: &ViewMap,
        view: Range<usize>,
    ) -> (u64, u64, u64, u64) {
        let span = map.span(view);
        let at = span.start.min(original.len());
        if at < self.at {
            *self = Relocate::default();
        }
        self.newlines += memchr::memchr_iter(b'\n', &original[self.at..at]).count() as u64;
        self.at = at;
        let line_start = memchr::memrchr(b'\n', &original[..at]).map_or(0, |p| p + 1);
        let column = original[line_start..at]
            .iter()
            .filter(|&&b| (b as i8) >= -0x40)
            .count() as u64;
        (
            at as u64,
            (span.end - span.start) as u64,
            self.newlines + 1,
            column + 1,
        )
    }
}

/// Hands an HTML document's view to the sink (the document read whole, up
/// to `max_buffer`; a bigger one has its raw bytes scanned and is reported
/// `partial`).
pub fn document(stream: &mut dyn Read, place: Place<'_>, budget: &Budget, sink: &mut dyn LeafSink) {
    let Some(data) = whole_or_raw(stream, "an HTML document", place, budget, sink) else {
        return;
    };
    leaf(&data, place, sink);
}

/// Scans `html` (a whole document or mail part) through its view.
pub fn leaf(html: &[u8], place: Place<'_>, sink: &mut dyn LeafSink) {
    if html.len() >= u32::MAX as usize {
        // Not reachable under any `max_buffer` a machine can hold; the raw
        // bytes are still scanned.
        super::leaf(&mut &html[..], place, sink);
        sink.problem(Problem {
            member: place.member.cloned(),
            status: FileStatus::Partial,
            reason: "an HTML document of 4 GiB or more: only its raw bytes were scanned"
                .to_string(),
        });
        return;
    }
    let v = view(html);
    if let Err(e) = sink.mapped_leaf(place.member, &v.text, html, &v.map) {
        sink.problem(Problem {
            member: place.member.cloned(),
            status: FileStatus::Partial,
            reason: format!("read error: {e} (the rest was not scanned)"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(html: &str) -> String {
        String::from_utf8(view(html.as_bytes()).text).unwrap()
    }

    #[test]
    fn sniffs_documents_and_fragments_not_text() {
        assert!(is_html(b"<!DOCTYPE html>\n<html>"));
        assert!(is_html(b"\xEF\xBB\xBF  <HTML lang=en>"));
        assert!(is_html(
            b"<?xml version=\"1.0\"?>\n<!-- saved -->\n<html xmlns=\"x\">"
        ));
        assert!(is_html(b"<table><tr><td>1</td><td>2</td></tr></table>"));
        assert!(!is_html(b"<13>Nov 30 host app: card 4539"));
        assert!(!is_html(
            b"<?xml version=\"1.0\"?><invoice><id>1</id></invoice>"
        ));
        assert!(!is_html(b"plain text <b>bold</b> <p>x</p> <br> <i>"));
        assert!(!is_html(b"<htmlish>"));
        let rss = b"<rss><channel><title>a</title><link>b</link><item><title>c</title></item>";
        assert!(!is_html(rss));
        assert!(!is_html(b"<?xml version=\"1.0\"?><p><b>x</b><i>y</i></p>"));
    }

    /// A head that is only a comment left nothing after it, and the
    /// fragment test read past the end of the sample (a panic on user
    /// data); text after a comment is not a fragment either.
    #[test]
    fn sniffing_a_lone_comment_does_not_read_past_the_sample() {
        assert!(!is_html(b"<!-- a comment alone -->"));
        assert!(!is_html(b"<!-- c --> text <p>a</p><p>b</p>"));
    }

    #[test]
    fn inline_tags_vanish_block_tags_separate() {
        assert_eq!(
            shown("<p>4539 <b>1488</b> 0343 6467</p>"),
            "\n4539 1488 0343 6467\n"
        );
        assert_eq!(
            shown("<tr><td>4539</td><td>1488</td></tr>"),
            "\n4539\n1488\n"
        );
        assert_eq!(shown("a<br/>b<span>c</span>"), "a\nbc");
        assert_eq!(shown("<id>4539</id><n>1488</n>"), "\n4539\n1488\n");
        assert_eq!(shown("45<o:p>39</o:p>"), "4539");
    }

    #[test]
    fn references_are_decoded() {
        assert_eq!(
            shown("&#52;5&#x33;9&nbsp;x &amp; &lt;&eacute;&nbsp &bogus; &#0;"),
            "4539\u{A0}x & <é\u{A0} &bogus; \u{FFFD}"
        );
        assert_eq!(shown("45&shy;39"), "4539");
    }

    #[test]
    fn white_space_collapses_outside_pre() {
        assert_eq!(shown("a\n   b"), "a b");
        assert_eq!(shown("<pre>a\n  b</pre>"), "\na\n  b\n");
    }

    #[test]
    fn comments_scripts_and_attributes_are_kept_apart() {
        assert_eq!(shown("x<!--1234-->y"), "x\n1234\ny");
        assert_eq!(
            shown("a<script>if (a<b) x=\"</p>\"</script>b"),
            "a\nif (a<b) x=\"</p>\"\nb"
        );
        assert_eq!(
            shown("<input value=\"4539 1488\" name=x>t"),
            "\nt\n value=\"4539 1488\" name=x"
        );
        assert_eq!(
            shown("if a<b then card 4539 1488 0343 6467 > 0"),
            "if a 0\n then card 4539 1488 0343 6467 "
        );
    }

    proptest::proptest! {
        /// Any bytes (mostly markup characters): no panic, and every view
        /// byte maps inside the document.
        #[test]
        fn any_bytes_make_a_view_that_maps_inside_the_document(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"<>/!-?[]&#x;abpt \n\"'=0123456789\xC2\xA0".to_vec()),
                0..300,
            )
        ) {
            let _ = is_html(&bytes);
            let v = view(&bytes);
            for i in 0..v.text.len() {
                let (r, _) = v.map.byte(i);
                proptest::prop_assert!(r.start <= r.end && r.end <= bytes.len());
            }
            let span = v.map.span(0..v.text.len());
            proptest::prop_assert!(span.end <= bytes.len());
        }
    }

    #[test]
    fn the_map_leads_back_to_the_original_bytes() {
        let html = "<p>card &#52;539 <b>1488</b>&nbsp;0343 6467</p>";
        let v = view(html.as_bytes());
        let text = String::from_utf8(v.text.clone()).unwrap();
        let start = text.find('4').unwrap();
        let end = text.rfind('7').unwrap() + 1;
        let span = v.map.span(start..end);
        assert_eq!(&html[span], "&#52;539 <b>1488</b>&nbsp;0343 6467");
        let (one, source) = v.map.byte(start);
        assert_eq!((&html[one], source), ("&#52;", Source::Char));
    }
}
