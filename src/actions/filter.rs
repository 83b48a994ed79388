//! The streaming redaction filter behind `leakhound redact`: bytes enter
//! from a reader, leave on a writer with every validated match replaced
//! (by [`super::redact::replacement`], the one function files at rest use
//! too) and everything else byte-identical, in the encoding they came in.
//!
//! Memory is bounded as the scanner's windows are: what is held is the
//! text not yet written plus [`MARGIN`] bytes already written, kept as the
//! engine's look-behind context. What is written when:
//!
//! - block mode (files): each window of `chunk` bytes is written once the
//!   next [`MARGIN`] bytes have been read, so a number across a window
//!   boundary is seen whole, exactly as the scanner sees it;
//! - line mode (pipes): each complete line is written and flushed as soon
//!   as its newline arrives, however the producer split its writes; a line
//!   longer than a window falls back to block mode;
//! - with a flush interval, text that waited that long without a newline
//!   is written up to the last 256 bytes that could still be the start of
//!   a number (digits, letters, spaces and the punctuation of numbers and
//!   track data), which are held until more comes.
//!
//! The encoding is decided on the first bytes (a line in line mode), as the
//! scanner decides it: UTF-8 and 8-bit text pass as bytes, UTF-16 is
//! decoded with a map back to its original bytes and replacements are
//! written in UTF-16. Gzip, a mail message and an mbox are read whole (up
//! to `policy.redact.max_bytes`) and rewritten as the file action does;
//! other containers and binary data are refused before anything is
//! written.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::time::Duration;

use crate::engine::stream::{Encoding, decode_utf16_mapped, detect_encoding};
use crate::engine::{Flow, MARGIN, Match};
use crate::extract::{Format, SNIFF_LEN, sniff};

use super::redact::{Decoded, RedactCtx, redact_content, splice};

/// Bytes that may still be part of a number a timed flush must not split.
const HOLD: usize = 256;

/// How the filter cuts its output.
#[derive(Debug, Clone, Copy)]
pub struct FilterOptions {
    /// Write and flush each line as soon as it is complete (pipes).
    pub line_mode: bool,
    /// Write what waited this long without a newline (line mode; needs a
    /// reader that can be polled: [`redact_stream`]'s `poll_fd`).
    pub flush_after: Option<Duration>,
    /// Bytes per window in block mode.
    pub chunk: usize,
}

/// Why the filter stopped.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("cannot read the input: {0}")]
    Read(io::Error),
    #[error("cannot write the output: {0}")]
    Write(io::Error),
    /// Nothing was written: binary data or a container that cannot be
    /// rewritten.
    #[error("{0}")]
    Refused(String),
}

/// What the filter did.
#[derive(Debug, Default)]
pub struct FilterStats {
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Matches replaced.
    pub redacted: u64,
    pub rules: BTreeSet<String>,
    /// `None` until the first bytes came.
    pub encoding: Option<Encoding>,
}

/// One replaced match, for the caller's report: the match and its byte
/// offset and 1-based line in the decoded text (`None` for a container
/// read whole).
pub type OnRedact<'c> = dyn FnMut(&Match<'_>, Option<(u64, u64)>) + 'c;

/// What the filter does to a match.
#[derive(Clone, Copy)]
enum Replace<'a> {
    /// Redact it in the context's style.
    Redact,
    /// Turn an FPE token back (matches that are not tokens stay).
    Reveal(&'a dyn Fn(&Match<'_>, &str) -> Option<String>),
}

/// The state of one stream.
struct Filter<'a, 'c> {
    ctx: &'a RedactCtx<'a>,
    replace: Replace<'a>,
    opts: FilterOptions,
    out: &'a mut dyn Write,
    on_redact: &'a mut OnRedact<'c>,
    /// Raw bytes: `buf[..emitted]` already written (look-behind context),
    /// the rest pending.
    buf: Vec<u8>,
    emitted: usize,
    encoding: Option<Encoding>,
    columns: Option<crate::engine::evidence::Columns>,
    /// Decoded bytes dropped from the front of `buf` so far, and the
    /// newlines among them.
    base: u64,
    lines: u64,
    stats: FilterStats,
}

/// Redacts `input` onto `out`. `poll_fd`: the input's descriptor, for
/// `flush_after`. Returns what was done; on an error part-way, what was
/// written is redacted (nothing raw is written before its turn).
pub fn redact_stream(
    ctx: &RedactCtx<'_>,
    opts: FilterOptions,
    input: &mut dyn Read,
    poll_fd: Option<std::os::fd::BorrowedFd<'_>>,
    out: &mut dyn Write,
    on_redact: &mut OnRedact<'_>,
) -> Result<FilterStats, FilterError> {
    run(ctx, Replace::Redact, opts, input, poll_fd, out, on_redact)
}

/// `leakhound reveal`: the same filter, with every match for which
/// `reveal` gives the original text replaced by it. `ctx.engine` finds the
/// token candidates. Text only: a container is refused.
pub fn reveal_stream(
    ctx: &RedactCtx<'_>,
    opts: FilterOptions,
    input: &mut dyn Read,
    poll_fd: Option<std::os::fd::BorrowedFd<'_>>,
    out: &mut dyn Write,
    reveal: &dyn Fn(&Match<'_>, &str) -> Option<String>,
    on_reveal: &mut OnRedact<'_>,
) -> Result<FilterStats, FilterError> {
    run(
        ctx,
        Replace::Reveal(reveal),
        opts,
        input,
        poll_fd,
        out,
        on_reveal,
    )
}

fn run<'a>(
    ctx: &'a RedactCtx<'a>,
    replace: Replace<'a>,
    opts: FilterOptions,
    input: &mut dyn Read,
    poll_fd: Option<std::os::fd::BorrowedFd<'_>>,
    out: &'a mut dyn Write,
    on_redact: &'a mut OnRedact<'_>,
) -> Result<FilterStats, FilterError> {
    let mut f = Filter {
        ctx,
        replace,
        opts: FilterOptions {
            chunk: opts.chunk.max(4096),
            ..opts
        },
        out,
        on_redact,
        buf: Vec::new(),
        emitted: 0,
        encoding: None,
        columns: None,
        base: 0,
        lines: 0,
        stats: FilterStats::default(),
    };
    let mut tmp = vec![0u8; 64 * 1024];
    loop {
        if f.opts.line_mode
            && let (Some(wait), Some(fd)) = (f.opts.flush_after, poll_fd)
            && f.buf.len() > f.emitted
            && f.encoding.is_some()
            && !readable(fd, wait)
        {
            f.timed_flush()?;
            continue;
        }
        let n = match input.read(&mut tmp) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FilterError::Read(e)),
        };
        f.stats.bytes_in += n as u64;
        let eof = n == 0;
        f.buf.extend_from_slice(&tmp[..n]);
        if f.encoding.is_none() {
            match f.decide(eof)? {
                Decision::Wait => continue,
                Decision::Whole if matches!(f.replace, Replace::Reveal(_)) => {
                    return Err(FilterError::Refused(
                        "the input is gzip or mail: reveal reads text only (decompress it first)"
                            .to_string(),
                    ));
                }
                Decision::Whole => return f.whole(input),
                Decision::Stream => {}
            }
        }
        f.advance(eof, n)?;
        if eof {
            f.out.flush().map_err(FilterError::Write)?;
            let mut stats = f.stats;
            stats.encoding = f.encoding;
            return Ok(stats);
        }
    }
}

/// Whether `fd` has data (or end of file) within `wait`.
fn readable(fd: std::os::fd::BorrowedFd<'_>, wait: Duration) -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd, borrowed for the duration of the call.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    r != 0
}

impl Filter<'_, '_> {
    /// Decides the encoding once enough has come. Binary input and
    /// containers that cannot be rewritten are refused here, before
    /// anything is written.
    fn decide(&mut self, eof: bool) -> Result<Decision, FilterError> {
        let head = &self.buf[..self.buf.len().min(SNIFF_LEN)];
        if head.starts_with(&[0x1f, 0x8b]) {
            return Ok(Decision::Whole);
        }
        let enough = eof
            || self.buf.len() >= SNIFF_LEN
            || (self.opts.line_mode
                && memchr::memchr(b'\n', head).is_some()
                && (self.buf.len() >= 64 || memchr::memchr(0, head).is_none()));
        if !enough {
            return Ok(Decision::Wait);
        }
        match sniff(head) {
            // HTML is rewritten as the text it is: numbers written plainly
            // are masked, not those split by tags (`leakhound redact`
            // on the file masks those).
            Format::Plain | Format::Html => {}
            // A mail message is read whole (its parts may be encoded);
            // in line mode only when a whole head of it came at once.
            Format::Mail | Format::Mbox if !self.opts.line_mode || head.len() >= SNIFF_LEN => {
                return Ok(Decision::Whole);
            }
            Format::Mail | Format::Mbox => {}
            other => {
                return Err(FilterError::Refused(format!(
                    "the input is {}: the filter rewrites text, UTF-16 text, gzip and mail; \
                     scan it with `leakhound scan` instead",
                    format_name(other)
                )));
            }
        }
        let encoding = detect_encoding(head);
        if encoding == Encoding::Binary {
            return Err(FilterError::Refused(
                "the input is binary data: only text (UTF-8, 8-bit, UTF-16), gzip and mail \
                 can be redacted as a stream; scan it with `leakhound scan` instead"
                    .to_string(),
            ));
        }
        // The BOM is written as it is and is not part of the text.
        let bom = match encoding {
            Encoding::Utf8 { bom: true } => 3,
            Encoding::Utf16 { bom: true, .. } => 2,
            _ => 0,
        };
        self.out
            .write_all(&self.buf[..bom.min(self.buf.len())])
            .map_err(FilterError::Write)?;
        self.stats.bytes_out += bom as u64;
        self.buf.drain(..bom.min(self.buf.len()));
        self.encoding = Some(encoding);
        Ok(Decision::Stream)
    }

    /// Gzip, mail, mbox: read to the end (at most `max_bytes`), rewrite as
    /// the file action does, write.
    fn whole(mut self, input: &mut dyn Read) -> Result<FilterStats, FilterError> {
        let max = self.ctx.options.max_bytes;
        let before = self.buf.len() as u64;
        input
            .take((max + 1).saturating_sub(before))
            .read_to_end(&mut self.buf)
            .map_err(FilterError::Read)?;
        self.stats.bytes_in = self.buf.len() as u64;
        if self.buf.len() as u64 > max {
            zeroize::Zeroize::zeroize(&mut self.buf);
            return Err(FilterError::Refused(format!(
                "the input is a container (gzip or mail) larger than policy.redact.max_bytes \
                 ({max} bytes), which is read whole: nothing was written"
            )));
        }
        let result = redact_content(self.ctx, &self.buf);
        let written = match result {
            Ok(Some((bytes, what))) => {
                self.stats.redacted = what.findings;
                self.stats.rules = what.rules;
                self.stats.bytes_out = bytes.len() as u64;
                self.out.write_all(&bytes)
            }
            Ok(None) => {
                self.stats.bytes_out = self.buf.len() as u64;
                self.out.write_all(&self.buf)
            }
            Err(refused) => {
                zeroize::Zeroize::zeroize(&mut self.buf);
                return Err(FilterError::Refused(format!(
                    "{}: nothing was written",
                    refused.reason
                )));
            }
        };
        zeroize::Zeroize::zeroize(&mut self.buf);
        written
            .and_then(|()| self.out.flush())
            .map_err(FilterError::Write)?;
        Ok(self.stats)
    }

    /// After a read of `n` new bytes: write what may be written now.
    fn advance(&mut self, eof: bool, n: usize) -> Result<(), FilterError> {
        if eof {
            return self.commit(Commit::End);
        }
        let pending = self.buf.len() - self.emitted;
        if pending >= self.opts.chunk + MARGIN * 2 {
            return self.commit(Commit::Window);
        }
        if self.opts.line_mode {
            let fresh = &self.buf[self.buf.len() - n.min(self.buf.len())..];
            if memchr::memchr(b'\n', fresh).is_some() {
                return self.commit(Commit::Lines);
            }
        }
        Ok(())
    }

    fn timed_flush(&mut self) -> Result<(), FilterError> {
        self.commit(Commit::Held)
    }

    /// Writes the pending text up to the point `how` allows.
    fn commit(&mut self, how: Commit) -> Result<(), FilterError> {
        let encoding = self.encoding.unwrap_or(Encoding::Utf8 { bom: false });
        let utf16 = match encoding {
            Encoding::Utf16 { big_endian, .. } => Some(big_endian),
            _ => None,
        };
        // The decoded view of the raw buffer, and where it stands.
        let decoded = match utf16 {
            None => Decoded {
                text: std::borrow::Cow::Borrowed(&self.buf[..]),
                map: None,
                encoding,
            },
            Some(be) => {
                // Whole units only: a split unit waits for its other byte.
                let usable = self.buf.len() & !1;
                let (text, map) = decode_utf16_mapped(&self.buf[..usable], be, 0);
                Decoded {
                    text: std::borrow::Cow::Owned(text),
                    map: Some(map),
                    encoding,
                }
            }
        };
        let to_dec = |raw: usize| -> usize {
            match &decoded.map {
                None => raw,
                Some(map) => map.partition_point(|&r| r < raw),
            }
        };
        let to_raw = |dec: usize| -> usize {
            match &decoded.map {
                None => dec,
                Some(map) => map[dec],
            }
        };
        let text = &decoded.text;
        let start = to_dec(self.emitted);
        let cut = match how {
            Commit::End => text.len(),
            Commit::Window => text.len().saturating_sub(MARGIN),
            Commit::Lines => match memchr::memrchr(b'\n', &text[start..]) {
                Some(nl) => start + nl + 1,
                None => return Ok(()),
            },
            Commit::Held => held_point(text, start),
        };
        // A high surrogate at the very end of a UTF-16 buffer decodes as
        // U+FFFD until its pair comes: never cut after it before the end.
        let cut = cut.max(start);
        if self.columns.is_none() && self.base == 0 && start == 0 {
            self.columns = self.ctx.engine.columns(text);
        }
        let mut matches: Vec<Match<'_>> = Vec::new();
        let _ = self
            .ctx
            .engine
            .scan_table(text, start..cut, self.columns.as_ref(), &mut |m| {
                if m.confidence >= self.ctx.min_confidence
                    && (self.ctx.wants)(&m.rule.id, m.severity)
                {
                    matches.push(m);
                }
                Flow::Continue(())
            });
        // The engine reports a window's matches rule by rule (a regex
        // rule's after a digit rule's later in the text): splice, the line
        // count and "the first one covers the rest" need them by position.
        matches.sort_by_key(|m| m.start);
        // Reveal: only the candidates that are tokens.
        let mut revealed: Vec<String> = Vec::new();
        if let Replace::Reveal(reveal) = self.replace {
            let mut last_end = 0;
            matches.retain(|m| {
                if m.start < last_end {
                    return false;
                }
                let matched = String::from_utf8_lossy(&text[m.start..m.end]);
                match reveal(m, &matched) {
                    Some(original) => {
                        last_end = m.end;
                        revealed.push(original);
                        true
                    }
                    None => false,
                }
            });
        }
        // A match running past the cut is written whole now.
        let cut = matches.iter().map(|m| m.end).fold(cut, usize::max);
        let mut line = self.lines + crate::engine::stream::count_byte(&text[..start], b'\n') as u64;
        let mut counted = start;
        for m in &matches {
            line += crate::engine::stream::count_byte(&text[counted..m.start], b'\n') as u64;
            counted = m.start;
            (self.on_redact)(m, Some((self.base + m.start as u64, line + 1)));
            self.stats.redacted += 1;
        }
        let mut out = Vec::with_capacity(to_raw(cut) - self.emitted + 64);
        let raw_cut = to_raw(cut);
        let ctx = self.ctx;
        let next = std::cell::Cell::new(0usize);
        let redact_one = |m: &Match<'_>, t: &str| super::redact::replacement(ctx, m, t);
        let reveal_one = |_: &Match<'_>, _: &str| {
            let i = next.get();
            next.set(i + 1);
            revealed[i].clone()
        };
        let replace: &dyn Fn(&Match<'_>, &str) -> String = match self.replace {
            Replace::Redact => &redact_one,
            Replace::Reveal(_) => &reveal_one,
        };
        let end = splice(
            replace,
            &decoded,
            &self.buf,
            self.emitted..raw_cut,
            &matches,
            &mut out,
            &mut self.stats.rules,
        );
        drop(matches);
        self.out.write_all(&out).map_err(FilterError::Write)?;
        self.stats.bytes_out += out.len() as u64;
        if self.opts.line_mode || matches!(how, Commit::End | Commit::Held) {
            self.out.flush().map_err(FilterError::Write)?;
        }
        // Keep MARGIN decoded bytes of what was written as context.
        let keep_dec = to_dec(end).saturating_sub(MARGIN);
        let keep_raw = to_raw(keep_dec);
        self.lines += crate::engine::stream::count_byte(&text[..keep_dec], b'\n') as u64;
        self.base += keep_dec as u64;
        drop(decoded);
        self.buf.drain(..keep_raw);
        self.emitted = end - keep_raw;
        Ok(())
    }
}

/// What to do with a stream once its first bytes came.
enum Decision {
    /// Too little to tell yet.
    Wait,
    /// Text: redact as it comes.
    Stream,
    /// Gzip or mail: read it whole.
    Whole,
}

/// How far a commit may write.
#[derive(Debug, Clone, Copy)]
enum Commit {
    /// Everything: the input ended.
    End,
    /// All but the margin the next window needs as context.
    Window,
    /// Up to the last newline.
    Lines,
    /// Up to the start of a trailing run that may be a number still coming.
    Held,
}

/// Where a timed flush may cut `text[start..]`: before the trailing run of
/// bytes that could belong to a number (at most [`HOLD`] bytes back).
fn held_point(text: &[u8], start: usize) -> usize {
    let numberish = |b: u8| b.is_ascii_alphanumeric() || b >= 0x80 || b" -./^=%;?".contains(&b);
    let floor = text.len().saturating_sub(HOLD).max(start);
    let mut p = text.len();
    while p > floor && numberish(text[p - 1]) {
        p -= 1;
    }
    if p == floor && p > start && numberish(text[p - 1]) {
        // The run goes on before the floor: hold HOLD bytes.
        return floor;
    }
    p
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Zip => "a zip archive (or an Office document)",
        Format::Tar => "a tar archive",
        Format::Png => "a PNG image",
        Format::Pdf => "a PDF document",
        Format::Bzip2 => "bzip2-compressed",
        Format::Xz => "xz-compressed",
        Format::Zstd => "zstd-compressed",
        _ => "a container",
    }
}

/// What `reveal` finds and checks tokens with: the rules that have a token
/// scheme (`super::fpe`), their checksum dropped since a token fails it on
/// purpose (SSNs keep theirs: their tokens are valid SSNs), the rules as
/// loaded, and every loaded rule with its checks (a generic token's check
/// value is the one no loaded rule reports, so `reveal` must load the same
/// rules as `redact` did).
pub struct TokenFinder {
    /// Finds the token candidates.
    pub engine: crate::engine::Engine,
    /// The rules as loaded, by rule index of `engine`.
    rules: Vec<crate::rules::Rule>,
    /// Every loaded rule, validated.
    full: crate::engine::Engine,
    /// The tokens `redact --token-list` wrote: when given, only these are
    /// revealed.
    listed: Option<super::fpe::TokenList>,
}

impl TokenFinder {
    pub fn new(all: crate::rules::RuleSet) -> TokenFinder {
        use super::fpe::{generic_program, scheme_name};
        let mut rules = all.clone();
        rules.rules.retain(|r| {
            generic_program(r).is_some()
                || (!r.kind.contains("track")
                    && matches!(
                        scheme_name(r.validator.name(), &r.kind),
                        "card"
                            | "luhn"
                            | "pl_pesel"
                            | "ro_cnp"
                            | "ir_melli"
                            | "cn_ric"
                            | "iban"
                            | "us_ssn"
                    ))
        });
        let originals = rules.rules.clone();
        for r in &mut rules.rules {
            if scheme_name(r.validator.name(), &r.kind) != "us_ssn" {
                r.validator = crate::rules::Validator::None;
            }
        }
        TokenFinder {
            engine: crate::engine::Engine::new(rules),
            rules: originals,
            full: crate::engine::Engine::new(all),
            listed: None,
        }
    }

    /// Reveals only the tokens in `list` (exact: every other number stays
    /// byte-identical).
    pub fn with_list(mut self, list: super::fpe::TokenList) -> TokenFinder {
        self.listed = Some(list);
        self
    }

    /// True when tokens are checked against a token list.
    pub fn verified(&self) -> bool {
        self.listed.is_some()
    }

    /// `reveal`'s replacement for one candidate of `engine`: the original
    /// text when it is a token of `key`, else `None`. With a token list,
    /// only a listed token (MAC of its rule and text) is one. Without, a
    /// token is recognised by its check value, which about one number in
    /// ten that was never a token also has; and an SSN token is a valid
    /// SSN, so only SSNs found with at least medium confidence (as `redact`
    /// redacts them by default) are taken for tokens.
    pub fn reveal_one(
        &self,
        key: &super::fpe::FpeKey,
        m: &Match<'_>,
        matched: &str,
    ) -> Option<String> {
        let rule = self.rules.get(m.rule_index)?;
        match &self.listed {
            Some(list) => {
                if !list.contains(&key.token_mac(&rule.id, matched)) {
                    return None;
                }
            }
            None => {
                let name = super::fpe::scheme_name(rule.validator.name(), &rule.kind);
                if name == "us_ssn" && m.confidence < crate::rules::Confidence::Medium {
                    return None;
                }
            }
        }
        let reported = |t: &str| super::fpe::token_reported(&self.full, t);
        key.reveal_match(rule, m.kind, matched, &reported)
    }
}
