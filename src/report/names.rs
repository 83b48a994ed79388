//! Names: how paths and member names travel through leakhound and how they
//! are printed.
//!
//! A file name on Linux is any bytes but `/` and NUL: it may not be UTF-8
//! (`caf\xe9.csv` from a Latin-1 share), may hold terminal control
//! sequences (`zz\e[1A\e[2K`), and may hold the very numbers we must never
//! print (`4929731804276152.csv`). Paths enter here as bytes (from the
//! walker, an archive, a mail) and leave as one printable string:
//!
//! - [`escape_bytes`] is the one escaping function: printable UTF-8 is kept,
//!   everything else is written as an escape (`\xE9` for a byte that is not
//!   UTF-8, `\e` `\n` `\r` `\t` `\x07` for C0 controls and DEL, `\u{85}` for
//!   C1 controls, `\u{202E}` for bidirectional overrides and other invisible
//!   format characters that reorder or hide text on a terminal, and `\\` for
//!   a backslash). It is lossless: [`unescape`] gives the exact bytes back,
//!   which is how a path travels in events (a `String`) from the walker to
//!   the actions. [`escape_text`] applies the same rules to free text
//!   (messages, reasons) but leaves backslashes alone, so that a name
//!   already escaped is not escaped twice.
//! - [`Masker`] runs the engine on names and replaces every number it finds
//!   by its masked form (`492973******6152.csv`, the same form as a
//!   finding's `masked`), so no report, log or message carries a raw number
//!   through a name. It is applied to every event at the output edge
//!   ([`Masker::mask_event`]); the quarantine store calls [`mask_path`].
//!
//! Numbers in names are also *findings*: `scan` reports them with
//! `location: name` (see `docs/events.md`).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::engine::{Engine, Flow};

use super::event::Event;

/// Characters that are valid UTF-8 and printable but change how a terminal
/// shows the text around them: bidirectional embeddings, overrides and
/// isolates (U+202E makes `gpj.exe` read `exe.jpg`), the Arabic letter mark,
/// zero-width characters, line and paragraph separators, word joiners and
/// the byte order mark.
fn is_format_char(c: char) -> bool {
    matches!(c,
        '\u{061C}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}')
}

fn push_char(out: &mut String, c: char, lossless: bool) {
    match c {
        '\\' if lossless => out.push_str("\\\\"),
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\u{1b}' => out.push_str("\\e"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            out.push_str(&format!("\\x{:02X}", c as u32));
        }
        c if ('\u{80}'..='\u{9f}').contains(&c) || is_format_char(c) => {
            out.push_str(&format!("\\u{{{:X}}}", c as u32));
        }
        c => out.push(c),
    }
}

fn escape_into(raw: &[u8], lossless: bool) -> String {
    // Most names need no escape: copy them at once.
    if let Ok(s) = std::str::from_utf8(raw)
        && !s
            .chars()
            .any(|c| (c == '\\' && lossless) || c.is_control() || is_format_char(c))
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c, lossless);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// The printable, lossless form of a name given as bytes: see the module
/// documentation. `unescape(&escape_bytes(b)) == b` for all bytes.
pub fn escape_bytes(raw: &[u8]) -> String {
    escape_into(raw, true)
}

/// [`escape_bytes`] of a path.
pub fn escape_path(path: &Path) -> String {
    escape_bytes(path.as_os_str().as_bytes())
}

/// Free text for a terminal or a log line (a message, a reason, a rule file
/// name in an error): control and format characters escaped as in
/// [`escape_bytes`], backslashes kept as they are. Idempotent.
pub fn escape_text(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() || is_format_char(c)) {
        return text.to_string();
    }
    escape_into(text.as_bytes(), false)
}

/// True when `raw` is not written as itself by [`escape_bytes`] (not UTF-8,
/// a control or format character, a backslash): a consumer then needs the
/// exact bytes (`path_bytes` in events).
pub fn needs_escape(raw: &[u8]) -> bool {
    escape_bytes(raw).as_bytes() != raw
}

/// The bytes a string made by [`escape_bytes`] stands for. Text that is not
/// a valid escape is taken as it is.
pub fn unescape(s: &str) -> Vec<u8> {
    if !s.contains('\\') {
        return s.as_bytes().to_vec();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let simple = match b[i + 1] {
            b'\\' => Some(b'\\'),
            b't' => Some(b'\t'),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b'e' => Some(0x1b),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            i += 2;
            continue;
        }
        if b[i + 1] == b'x'
            && let Some(hex) = s.get(i + 2..i + 4)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 4;
            continue;
        }
        if b[i + 1] == b'u'
            && s.get(i + 2..i + 3) == Some("{")
            && let Some(close) = s[i + 3..].find('}')
            && let Ok(code) = u32::from_str_radix(&s[i + 3..i + 3 + close], 16)
            && let Some(c) = char::from_u32(code)
        {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            i += 3 + close + 1;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The path a string made by [`escape_path`] stands for.
pub fn to_path(s: &str) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(&unescape(s)))
}

/// Standard base64 (RFC 4648, with padding), for `path_bytes`.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One number found in a name: where (bytes of the name) and its masked form.
#[derive(Debug, Clone)]
pub struct NameMatch {
    pub start: usize,
    pub end: usize,
    pub masked: String,
}

/// Fewest digits a value of a built-in kind has (an SSN has 9, a Maestro
/// card 12), with room for rules to come: a name with fewer digits holds
/// no number, and most names are skipped without running the engine.
const MIN_DIGITS: usize = 6;

/// False when `raw` cannot hold a number the engine would find: fewer than
/// [`MIN_DIGITS`] ASCII digits and non-ASCII bytes (which may be digits of
/// another script), and no custom regular-expression rule (which may match
/// anything).
pub fn could_hold_a_number(engine: &Engine, raw: &[u8]) -> bool {
    raw.iter()
        .filter(|b| b.is_ascii_digit() || **b >= 0x80)
        .count()
        >= MIN_DIGITS
        || engine
            .rules()
            .iter()
            .any(|r| matches!(r.matcher, crate::rules::Matcher::Regex(_)))
}

/// The numbers the engine finds in `raw`, whatever their confidence, in
/// order and without overlaps.
fn numbers_in(engine: &Engine, raw: &[u8]) -> Vec<NameMatch> {
    let mut out: Vec<NameMatch> = Vec::new();
    if !could_hold_a_number(engine, raw) {
        return out;
    }
    let _ = engine.scan(raw, 0..raw.len(), &mut |m| {
        if out.last().is_none_or(|last| m.start >= last.end) {
            out.push(NameMatch {
                start: m.start,
                end: m.end,
                masked: m.value.masked(),
            });
        }
        Flow::Continue(())
    });
    out
}

/// `raw` with every number the engine finds replaced by its masked form.
fn mask_raw(engine: &Engine, raw: &[u8]) -> Option<Vec<u8>> {
    let found = numbers_in(engine, raw);
    if found.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut at = 0;
    for m in &found {
        out.extend_from_slice(&raw[at..m.start]);
        out.extend_from_slice(m.masked.as_bytes());
        at = m.end;
    }
    out.extend_from_slice(&raw[at..]);
    Some(out)
}

/// A path as printed (made by [`escape_path`]) with every number in it
/// masked: `cards/4929731804276152.csv` -> `cards/492973******6152.csv`.
/// The one function every writer of a path calls (reports, sinks, the
/// quarantine list and manifest).
pub fn mask_path(engine: &Engine, escaped: &str) -> String {
    match mask_raw(engine, &unescape(escaped)) {
        Some(masked) => escape_bytes(&masked),
        None => escaped.to_string(),
    }
}

/// A path from the file system as every writer shows it: escaped and
/// masked (`caf\xE9/492973******6152.csv`). For the quarantine list and
/// manifest, the daemon's log lines, error messages that echo a path.
pub fn display_path(engine: &Engine, path: &Path) -> String {
    mask_path(engine, &escape_path(path))
}

/// Free text (a reason, a message) with every number in it masked.
pub fn mask_text(engine: &Engine, text: &str) -> String {
    match mask_raw(engine, text.as_bytes()) {
        Some(masked) => String::from_utf8_lossy(&masked).into_owned(),
        None => text.to_string(),
    }
}

/// A message that may quote escaped paths and raw input, as printed for a
/// human or a log: control characters escaped ([`escape_text`]), then read
/// as escaped text so that numbers are masked in the bytes a quoted path
/// stands for, not in its escapes.
pub fn mask_message(engine: &Engine, text: &str) -> String {
    mask_path(engine, &escape_text(text))
}

/// The engine of the built-in rules, made once, for the log lines written
/// where no engine is at hand (the daemon's roots, walker and state, the
/// quarantine commands). A number of a custom rule is not masked there;
/// every event is masked with the running rules ([`Masker`]).
pub fn builtin_engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::new(crate::rules::RuleSet::builtin().expect("the built-in rules compile"))
    })
}

/// [`display_path`] with the built-in rules: a path in a log line or an
/// error message.
pub fn log_path(path: &Path) -> String {
    display_path(builtin_engine(), path)
}

/// [`mask_message`] with the built-in rules: a message (an OS error that
/// names a file, a watch error) in a log line.
pub fn log_text(text: &str) -> String {
    mask_message(builtin_engine(), text)
}

/// The diagnostics writer (`tracing` to stderr, so journald): each log
/// line is written once complete, with every number the built-in rules
/// find masked. The last line of defence for names quoted by code we do
/// not own (notify logs a walk error with the path in it); our own lines
/// already name paths through [`log_path`]. Colour codes are kept.
pub struct MaskedStderr;

/// One log line being formatted (bounded by the line; see [`MaskedStderr`]).
pub struct MaskedLine(Vec<u8>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MaskedStderr {
    type Writer = MaskedLine;

    fn make_writer(&'a self) -> MaskedLine {
        MaskedLine(Vec::new())
    }
}

impl std::io::Write for MaskedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for MaskedLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let line = String::from_utf8_lossy(&self.0);
        let masked = mask_text(builtin_engine(), &line);
        // Nothing sensible to do when stderr is gone.
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), masked.as_bytes());
    }
}

/// The numbers in one name, for findings with `location: name`.
pub fn name_matches(engine: &Engine, raw: &[u8]) -> Vec<NameMatch> {
    numbers_in(engine, raw)
}

/// Masks the paths, member names and messages of events on their way out.
/// Remembers the last path (a file's findings share it) and the last
/// directory (files of a directory come together), so a scan of many files
/// runs the engine on each file name only.
pub struct Masker<'e> {
    engine: &'e Engine,
    last: Option<(String, String)>,
    last_dir: Option<(String, String)>,
}

impl<'e> Masker<'e> {
    pub fn new(engine: &'e Engine) -> Masker<'e> {
        Masker {
            engine,
            last: None,
            last_dir: None,
        }
    }

    /// [`mask_path`], name by name: a number never spans a `/` (it is a
    /// boundary for every rule), so the directory and the file name are
    /// masked apart, the directory from a cache.
    pub fn path(&mut self, escaped: &str) -> String {
        if let Some((from, to)) = &self.last
            && from == escaped
        {
            return to.clone();
        }
        let (dir, name) = match escaped.rfind('/') {
            Some(i) => escaped.split_at(i + 1),
            None => ("", escaped),
        };
        let masked_dir = match &self.last_dir {
            Some((from, to)) if from == dir => to.clone(),
            _ => {
                let to = mask_path(self.engine, dir);
                self.last_dir = Some((dir.to_string(), to.clone()));
                to
            }
        };
        let masked = masked_dir + &mask_path(self.engine, name);
        self.last = Some((escaped.to_string(), masked.clone()));
        masked
    }

    fn in_place(&mut self, s: &mut String) {
        let masked = self.path(s);
        *s = masked;
    }

    fn text(&self, s: &mut String) {
        *s = mask_text(self.engine, s);
    }

    /// Masks every name and message of `ev` in place.
    pub fn mask_event(&mut self, ev: &mut Event) {
        match ev {
            Event::Finding(f) => {
                self.in_place(&mut f.path);
                if let Some(m) = &mut f.member {
                    self.in_place(m);
                }
            }
            Event::File(f) => {
                self.in_place(&mut f.path);
                if let Some(m) = &mut f.member {
                    self.in_place(m);
                }
                if let Some(r) = &mut f.reason {
                    self.text(r);
                }
            }
            Event::Action(a) => {
                self.in_place(&mut a.path);
                if let Some(m) = &mut a.member {
                    self.in_place(m);
                }
                if let Some(r) = &mut a.reason {
                    self.text(r);
                }
            }
            Event::Scan(s) => {
                for p in &mut s.paths {
                    self.in_place(p);
                }
                self.in_place(&mut s.rules);
            }
            Event::Summary(s) => {
                self.in_place(&mut s.rules);
                if let Some(b) = &mut s.baseline {
                    self.in_place(&mut b.file);
                    for e in &mut b.stale {
                        self.in_place(&mut e.path);
                    }
                }
            }
            Event::Service(s) => self.text(&mut s.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    #[test]
    fn d7_escape_is_lossless_and_printable() {
        for raw in [
            &b"caf\xe9.csv"[..],
            b"zz\x1b[1A\x1b[2Kok\x07\r\n\t",
            b"back\\slash \\xE9 literal",
            "bidi \u{202E}gpj.exe c1 \u{85}".as_bytes(),
            b"\xff\xfe\x00\x7f",
            "plain ü ☃.txt".as_bytes(),
        ] {
            let e = escape_bytes(raw);
            assert!(
                !e.chars().any(|c| c.is_control() || is_format_char(c)),
                "{e}"
            );
            assert_eq!(unescape(&e), raw, "{e}");
        }
        assert_eq!(escape_bytes(b"caf\xe9.csv"), "caf\\xE9.csv");
        assert_eq!(escape_bytes(b"zz\x1b[1A\x07"), "zz\\e[1A\\x07");
        assert_eq!(escape_bytes("a\u{202E}b".as_bytes()), "a\\u{202E}b");
        assert_eq!(escape_bytes("plain ü.txt".as_bytes()), "plain ü.txt");
        assert!(needs_escape(b"caf\xe9.csv"));
        assert!(!needs_escape(b"plain.csv"));
        assert_eq!(escape_text("a\\b \x1b[2K"), "a\\b \\e[2K");
        assert_eq!(escape_text(&escape_text("x\x1by")), "x\\ey");
    }

    proptest::proptest! {
        #[test]
        fn d7_unescape_inverts_escape(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            proptest::prop_assert_eq!(unescape(&escape_bytes(&raw)), raw);
        }
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"caf\xe9"), "Y2Fm6Q==");
    }

    #[test]
    fn d11_masker_by_name_agrees_with_the_whole_path() {
        let engine = Engine::new(RuleSet::builtin().unwrap());
        let mut m = Masker::new(&engine);
        for p in [
            "a/4929731804276152.csv",
            "a/b.csv",
            "4526-0181-5908-3012/x/4929731804276152",
            "4526-0181-5908-3012/x/y",
            "/abs/caf\\xE9/536-22-8726.txt",
            "no-slash-4929731804276152",
            "",
        ] {
            assert_eq!(m.path(p), mask_path(&engine, p), "{p}");
        }
    }

    #[test]
    fn d11_mask_path_masks_numbers_in_names() {
        let engine = Engine::new(RuleSet::builtin().unwrap());
        assert_eq!(
            mask_path(&engine, "cards/4929731804276152.csv"),
            "cards/492973******6152.csv"
        );
        assert_eq!(
            mask_path(&engine, "4929-7318-0427-6152/caf\\xE9.csv"),
            "492973******6152/caf\\xE9.csv"
        );
        assert_eq!(
            mask_path(&engine, "plain/2024-01-02.log"),
            "plain/2024-01-02.log"
        );
        // Persian digits are digits too: the quick check lets them through.
        assert!(could_hold_a_number(&engine, "۴۴۷۲۸۱۹۶۳۵".as_bytes()));
        assert!(!could_hold_a_number(&engine, b"report-2024.csv"));
        // A number after a control character is still found: masking
        // works on the bytes, not on the escaped form.
        assert_eq!(
            mask_path(&engine, "\\x074929731804276152"),
            "\\x07492973******6152"
        );
    }
}
