//! The scanner: finds validated matches of the rules in a buffer of text.
//!
//! Data enters as a byte buffer (decoded text, or raw bytes of a binary
//! file) and a *report range*; matches leave through a callback. The engine
//! knows nothing of files: `stream` feeds it overlapping windows of a stream
//! and turns buffer positions into offsets, lines and columns.
//!
//! How it stays fast: one pass over the buffer in 128-byte windows turns bytes
//! into class masks (`classify`) and combines them into *trigger* masks that
//! are derived from the rules: a run of at least N digits (N = the shortest
//! bare length any rule accepts), each digit-group shape the rules accept
//! (`4-4`, `3-2-4`, ...), two upper-case letters and two digits (IBAN), and
//! Persian/Arabic-Indic digits. Dates, IP addresses, ports and other short
//! digit runs that fill logs fire no trigger. Only at a trigger does the
//! scalar code run: it finds the maximal digit run or group chain around it
//! (`candidate`), looks up the rules that accept that shape and length, and
//! runs their validators. Context keywords are searched only around matches
//! that validated.
//!
//! Determinism across windows: a match belongs to the window whose report
//! range contains its first byte, and everything the engine decides about a
//! match depends only on the bytes from [`MARGIN`] before to [`MARGIN`]
//! after that first byte, so a stream cut into windows that overlap by
//! `MARGIN` on each side yields every match exactly once.

pub mod base64;
pub mod candidate;
pub mod classify;
pub mod context;
pub mod evidence;
pub mod stream;
pub mod text;
pub mod value;

use std::ops::Range;

use crate::rules::{Confidence, Matcher, Rule, RuleSet, Severity, Signal, Validator};
use crate::validate;
use candidate::{Candidate, Shape};
use classify::{Classifier, Masks, Runs, WIDTH, classify_at, shr};
use context::Keywords;
use evidence::Columns;
use value::SecretValue;

/// Bytes of context a window must carry before its report range and have
/// after it, so that every decision about a match is made on the same bytes
/// whichever window sees it. Covers the longest candidate (bounded walks of
/// [`candidate::MAX_TOKEN`] bytes), its boundaries and the largest context
/// keyword window.
pub const MARGIN: usize = 512;

/// One validated match in the scanned buffer.
#[derive(Clone)]
pub struct Match<'e> {
    /// Index of the rule in [`Engine::rules`].
    pub rule_index: usize,
    /// The rule.
    pub rule: &'e Rule,
    /// The kind reported: the rule's kind, or the card brand's.
    pub kind: &'e str,
    /// First byte of the match in the buffer.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
    /// The compact value, masked when formatted.
    pub value: SecretValue,
    pub severity: Severity,
    pub confidence: Confidence,
    /// A published test or documented example number.
    pub test_data: bool,
    /// The negative signal that lowered the confidence to low, if any.
    pub demoted_by: Option<Signal>,
}

impl std::fmt::Debug for Match<'_> {
    // By hand: the derived form would print the whole rule, example texts
    // included. The value prints masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Match")
            .field("rule", &self.rule.id)
            .field("kind", &self.kind)
            .field("start", &self.start)
            .field("end", &self.end)
            .field("value", &self.value)
            .field("severity", &self.severity)
            .field("confidence", &self.confidence)
            .field("test_data", &self.test_data)
            .field("demoted_by", &self.demoted_by)
            .finish()
    }
}

/// What the callback answers: go on, or stop scanning this buffer.
pub type Flow = std::ops::ControlFlow<()>;

/// Trigger patterns derived from the rules.
#[derive(Debug, Clone, Default)]
struct Triggers {
    /// Shortest bare run any digits rule accepts (0: none).
    bare_min: u32,
    /// Group-shape prefixes whose masks fire a trigger.
    shapes: Vec<Vec<u8>>,
    /// The distinct group lengths in `shapes`: the digit runs computed once
    /// per window and shared by all shapes.
    group_lengths: Vec<u8>,
    iban: bool,
    native_digits: bool,
    /// Bytes the scan advances per 128-byte window: a trigger pattern must
    /// fit in the window, so the last `WIDTH - step` bytes are looked at
    /// again by the next window.
    step: usize,
}

/// Rules accepting bare numbers that end in a check character.
#[derive(Debug, Clone)]
struct CheckCharRules {
    ch: u8,
    /// Digits before the check character.
    digits: usize,
    rules: Vec<usize>,
}

/// Rules accepting one group shape with one separator.
#[derive(Debug, Clone)]
struct GroupRules {
    shape: Vec<u8>,
    sep_bit: u8,
    rules: Vec<usize>,
}

/// Rules grouped by the shape of candidate they accept, so a candidate
/// reaches only the validators that can accept it.
#[derive(Debug, Clone, Default)]
struct Dispatch {
    /// `bare[n]`: rules accepting a bare run of `n` digits.
    bare: Vec<Vec<usize>>,
    check_char: Vec<CheckCharRules>,
    /// The distinct check characters.
    check_chars: Vec<u8>,
    grouped: Vec<GroupRules>,
    iban: Vec<usize>,
    track1: Vec<usize>,
    track2: Vec<usize>,
    regex: Vec<usize>,
}

/// The compiled rule set, shared read-only by all scanning threads.
#[derive(Debug, Clone)]
pub struct Engine {
    rules: RuleSet,
    triggers: Triggers,
    dispatch: Dispatch,
    keywords: Keywords,
    /// Negative keywords (`negative_context.keywords`).
    negative: Keywords,
    /// Each rule's kind as a header would write it (`us ssn`).
    kind_names: Vec<String>,
    #[cfg(target_arch = "x86_64")]
    avx2: Option<classify::Avx2>,
    #[cfg(target_arch = "x86_64")]
    avx512: Option<classify::Avx512>,
    /// The CPU has what the base64 pass's 512-bit finder needs
    /// ([`base64::has_avx512`]).
    base64_avx512: bool,
    /// Whether base64 payloads are decoded and scanned ([`base64`]); on
    /// unless turned off (`--no-base64`, `limits.base64: false`).
    base64: bool,
    /// Every rule needs three digits in a row or an IBAN's head
    /// ([`base64::Finder::digits`]).
    base64_digits: bool,
}

/// Per-window scan state.
struct WindowState<'c> {
    /// The named columns of the table being scanned, if it is one.
    columns: Option<&'c Columns>,
    report_start: usize,
    report_end: usize,
    /// Positions before this were consumed by an earlier trigger.
    skip_until: usize,
    /// Start of the last group chain evaluated (chains are evaluated once).
    last_chain_start: usize,
    /// Start of the last lower-case or non-ASCII-digit IBAN evaluated.
    last_wide_iban: usize,
}

impl Engine {
    /// Compiles the engine's tables from a checked rule set.
    pub fn new(rules: RuleSet) -> Engine {
        let mut dispatch = Dispatch {
            bare: vec![Vec::new(); 33],
            ..Dispatch::default()
        };
        let mut triggers = Triggers::default();
        let mut bare_min = u32::MAX;
        let mut shapes: Vec<Vec<u8>> = Vec::new();
        for (i, rule) in rules.rules.iter().enumerate() {
            match &rule.matcher {
                Matcher::Digits(d) => {
                    triggers.native_digits = true;
                    for n in 1..=31u32 {
                        if d.bare_lengths & (1 << n) == 0 {
                            continue;
                        }
                        dispatch.bare[n as usize].push(i);
                        bare_min = bare_min.min(n);
                        if let Some(ch) = d.check_char {
                            // `n` characters ending in the check character.
                            let digits = n as usize - 1;
                            match dispatch
                                .check_char
                                .iter_mut()
                                .find(|e| e.ch == ch && e.digits == digits)
                            {
                                Some(e) => e.rules.push(i),
                                None => dispatch.check_char.push(CheckCharRules {
                                    ch,
                                    digits,
                                    rules: vec![i],
                                }),
                            }
                            if !dispatch.check_chars.contains(&ch) {
                                dispatch.check_chars.push(ch);
                            }
                            bare_min = bare_min.min(digits.max(1) as u32);
                        }
                    }
                    for g in &d.groups {
                        for sep_bit in [
                            crate::rules::SEP_SPACE,
                            crate::rules::SEP_DASH,
                            crate::rules::SEP_DOT,
                        ] {
                            if d.separators & sep_bit == 0 {
                                continue;
                            }
                            match dispatch
                                .grouped
                                .iter_mut()
                                .find(|e| e.shape == *g && e.sep_bit == sep_bit)
                            {
                                Some(e) => e.rules.push(i),
                                None => dispatch.grouped.push(GroupRules {
                                    shape: g.clone(),
                                    sep_bit,
                                    rules: vec![i],
                                }),
                            }
                        }
                        shapes.push(trigger_prefix(g));
                    }
                }
                Matcher::Iban => {
                    dispatch.iban.push(i);
                    triggers.iban = true;
                }
                Matcher::Track1 => {
                    dispatch.track1.push(i);
                    bare_min = bare_min.min(12);
                }
                Matcher::Track2 => {
                    dispatch.track2.push(i);
                    bare_min = bare_min.min(12);
                }
                Matcher::Regex(_) => dispatch.regex.push(i),
            }
        }
        triggers.bare_min = if bare_min == u32::MAX { 0 } else { bare_min };
        triggers.shapes = minimal_cover(shapes);
        let mut lengths: Vec<u8> = triggers.shapes.iter().flatten().copied().collect();
        lengths.sort_unstable();
        lengths.dedup();
        triggers.group_lengths = lengths;
        // The longest pattern: a bare run, a shape prefix with its
        // separators, or `CCdd` of an IBAN. Rules keep all of these within
        // 64 bytes (bare runs <= 31 digits, shapes <= 48 bytes).
        let longest = triggers
            .shapes
            .iter()
            .map(|s| s.iter().map(|&g| g as usize).sum::<usize>() + s.len() - 1)
            .chain([triggers.bare_min as usize, 4])
            .max()
            .unwrap_or(4);
        triggers.step = WIDTH - longest.min(WIDTH / 2);
        let base64_digits = rules.rules.iter().all(|r| needs_three_digits(&r.matcher));
        let keywords = Keywords::new(&rules.rules);
        let negative = Keywords::negative(&rules.rules);
        let kind_names = rules
            .rules
            .iter()
            .map(|r| r.kind.replace('_', " "))
            .collect();
        Engine {
            rules,
            triggers,
            dispatch,
            keywords,
            negative,
            kind_names,
            #[cfg(target_arch = "x86_64")]
            avx2: classify::Avx2::detect(),
            #[cfg(target_arch = "x86_64")]
            avx512: classify::Avx512::detect(),
            base64_avx512: base64::has_avx512(),
            base64: base64::DEFAULT_ON,
            base64_digits,
        }
    }

    /// This engine with the base64 payload pass on or off.
    pub fn with_base64(mut self, on: bool) -> Engine {
        self.base64 = on;
        self
    }

    /// Whether base64 payloads are decoded and scanned: when not, the run
    /// finder never runs.
    pub fn base64(&self) -> bool {
        self.base64
    }

    /// How the base64 pass finds its runs on this CPU and for these rules.
    pub fn base64_finder(&self) -> base64::Finder {
        base64::Finder {
            avx2: self.has_avx2(),
            avx512: self.base64_avx512,
            digits: self.base64_digits,
        }
    }

    /// The rules, in the order their indices refer to.
    pub fn rules(&self) -> &[Rule] {
        &self.rules.rules
    }

    /// Whether this CPU has AVX2 (the base64 pass uses it too).
    pub fn has_avx2(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return self.avx2.is_some();
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// The rule set.
    pub fn rule_set(&self) -> &RuleSet {
        &self.rules
    }

    /// Scans `buf` and calls `on_match` for every validated match whose first
    /// byte lies in `report`. Bytes outside `report` are read as context only.
    /// Returns `Break` if `on_match` asked to stop.
    pub fn scan<'e>(
        &'e self,
        buf: &[u8],
        report: Range<usize>,
        on_match: &mut dyn FnMut(Match<'e>) -> Flow,
    ) -> Flow {
        self.scan_table(buf, report, None, on_match)
    }

    /// [`Engine::scan`] for a buffer of a text whose first line named
    /// columns ([`Engine::columns`]): a value in a column named for a rule
    /// counts as having the rule's keyword.
    pub fn scan_table<'e>(
        &'e self,
        buf: &[u8],
        report: Range<usize>,
        columns: Option<&Columns>,
        on_match: &mut dyn FnMut(Match<'e>) -> Flow,
    ) -> Flow {
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(avx512) = self.avx512 {
                // SAFETY: an `Avx512` token exists only on CPUs with it.
                return unsafe { self.scan_avx512(avx512, buf, report, columns, on_match) };
            }
            if let Some(avx2) = self.avx2 {
                // SAFETY: an `Avx2` token exists only on CPUs with AVX2.
                return unsafe { self.scan_avx2(avx2, buf, report, columns, on_match) };
            }
            self.scan_with(classify::Sse2, buf, report, columns, on_match)
        }
        #[cfg(not(target_arch = "x86_64"))]
        self.scan_with(classify::Scalar, buf, report, columns, on_match)
    }

    /// The named columns of a text that starts with a table header naming a
    /// kind (`id,name,ssn`, `نام,کد_ملی`): a header field names a rule when
    /// it holds one of the rule's keywords or its kind (`_` and `-` read
    /// as spaces).
    pub fn columns(&self, text: &[u8]) -> Option<Columns> {
        let names = |field: &[u8]| -> u64 {
            let mut bits = self.keywords.rules_in(field);
            for (ri, kind) in self.kind_names.iter().enumerate().take(64) {
                if field.trim_ascii() == kind.as_bytes() {
                    bits |= 1 << ri;
                }
            }
            bits
        };
        Columns::from_header(text, &names)
    }

    /// The scan loop compiled for AVX2, so the classifier inlines.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn scan_avx2<'e>(
        &'e self,
        c: classify::Avx2,
        buf: &[u8],
        report: Range<usize>,
        columns: Option<&Columns>,
        on_match: &mut dyn FnMut(Match<'e>) -> Flow,
    ) -> Flow {
        self.scan_with(c, buf, report, columns, on_match)
    }

    /// The scan loop compiled for AVX-512, so the classifier inlines.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn scan_avx512<'e>(
        &'e self,
        c: classify::Avx512,
        buf: &[u8],
        report: Range<usize>,
        columns: Option<&Columns>,
        on_match: &mut dyn FnMut(Match<'e>) -> Flow,
    ) -> Flow {
        self.scan_with(c, buf, report, columns, on_match)
    }

    #[inline(always)]
    fn scan_with<'e, C: Classifier>(
        &'e self,
        c: C,
        buf: &[u8],
        report: Range<usize>,
        columns: Option<&Columns>,
        on_match: &mut dyn FnMut(Match<'e>) -> Flow,
    ) -> Flow {
        let report_end = report.end.min(buf.len());
        if report.start >= report_end {
            return Flow::Continue(());
        }
        // Triggers are looked at from one token before the range: a `%XX`
        // escape fires on its `%`, so the trigger of a token just inside
        // the range can lie before it (and the window before, which sees
        // that trigger, does not own the token). Tokens that start before
        // the range are not reported here, as everywhere.
        let from = report.start.saturating_sub(candidate::MAX_TOKEN);
        let mut st = WindowState {
            columns,
            report_start: report.start,
            report_end,
            skip_until: from,
            last_chain_start: usize::MAX,
            last_wide_iban: usize::MAX,
        };
        // A trigger can lie up to one token after the match's first byte.
        let limit = (report_end + candidate::MAX_TOKEN).min(buf.len());
        let step = self.triggers.step;
        let mut pos = from;
        while pos < limit {
            let masks = classify_at(c, buf, pos);
            let mut t = self.trigger_mask(buf, pos, &masks);
            let take = (limit - pos).min(step);
            t &= (1u128 << take) - 1;
            while t != 0 {
                let p = pos + t.trailing_zeros() as usize;
                t &= t - 1;
                if p < st.skip_until {
                    continue;
                }
                self.on_trigger(buf, p, &mut st, on_match)?;
            }
            // Jump over a long run that a trigger consumed.
            pos = (pos + step).max(st.skip_until);
        }
        self.scan_regex_rules(buf, &st, on_match)
    }

    /// Bit `i` set: position `pos + i` may start a candidate (or lie inside
    /// one: the first bit of a window is not checked against the byte before
    /// it, so a pattern there fires even where it continues a longer run).
    ///
    /// Every pattern is anchored on its left: a digit run must not follow a
    /// digit, and an IBAN's country code must not follow a letter or digit.
    /// Dates, IP addresses, status codes with sizes (`304 166153`) and hashes
    /// (`SHA256`) then fire nothing, and a long run fires once, at its start.
    #[inline(always)]
    fn trigger_mask(&self, buf: &[u8], pos: usize, m: &Masks) -> u128 {
        let tr = &self.triggers;
        let mut t = 0u128;
        if m.digit != 0 {
            // Bit i: byte i - 1 is not a digit (bit 0: not known, so yes).
            let after_non_digit = !(m.digit << 1);
            let runs = Runs::new(m.digit);
            if tr.bare_min > 0 {
                t |= runs.of(tr.bare_min) & after_non_digit;
            }
            // Every shape has a separator with a digit on each side (and
            // fits in the window, so both digits are in it): prose, where
            // digits stand alone, skips the shapes at the cost of one test.
            let links = m.sep & (m.digit << 1) & (m.digit >> 1);
            if links != 0 && !tr.shapes.is_empty() {
                // runs_of[k]: at least k digits from bit i on.
                let mut runs_of = [0u128; 32];
                for &k in &tr.group_lengths {
                    runs_of[k as usize & 31] = runs.of(k as u32);
                }
                // exactly[k]: exactly k digits from bit i, then a separator
                // (exact on the left only where the run follows a non-digit
                // or a separator, which every use below ensures).
                let exactly = |k: u8| runs_of[k as usize & 31] & shr(m.sep, k as u32);
                for shape in &tr.shapes {
                    let (first, rest) = shape.split_first().expect("shapes have two groups");
                    let (last, middle) = rest.split_last().expect("shapes have two groups");
                    let mut x = exactly(*first) & after_non_digit;
                    let mut off = *first as u32 + 1;
                    for &g in middle {
                        x &= shr(exactly(g), off);
                        off += g as u32 + 1;
                    }
                    x &= shr(runs_of[*last as usize & 31], off);
                    t |= x;
                }
            }
            if tr.iban && m.upper != 0 {
                let (u, d) = (m.upper, m.digit);
                let after_non_alnum = !((u | d) << 1);
                t |= u & (u >> 1) & (d >> 2) & (d >> 3) & after_non_alnum;
            }
        }
        if m.wide == 0 {
            return t;
        }
        if tr.native_digits {
            let mut lead = m.wide;
            while lead != 0 {
                let bit = lead.trailing_zeros() as usize;
                lead &= lead - 1;
                // `%` and `+` share the mask; digits start at 0xD9 or above.
                if buf[pos + bit] >= 0xD9 && text::native_digit_at(buf, pos + bit).is_some() {
                    t |= 1 << bit;
                }
            }
        }
        // A non-ASCII or URL separator right after an ASCII digit
        // (`4539\u{a0}1488`, `4539%201488`): the shapes above see only
        // one-byte separators. Fires at the separator; `on_trigger` takes
        // the run before it.
        // Also a `%XX` escape of punctuation right before a digit or an
        // IBAN (`%20447-281963-5`, `%3DDE89...`): the token then starts
        // after the escape, where the patterns above do not fire.
        let mut wide = m.wide & ((m.digit << 1) | shr(m.digit | m.upper, 3));
        while wide != 0 {
            let bit = wide.trailing_zeros() as usize;
            wide &= wide - 1;
            let at = pos + bit;
            if buf[at] == b'%' && text::escape_ends_at(buf, at + 3) {
                t |= 1 << bit;
            }
            if !tr.shapes.is_empty()
                && let Some((_, w)) = text::sep_at(buf, at)
                && text::digit_before(buf, at).is_some()
                && !text::escape_ends_at(buf, at)
                && text::digit_at(buf, at + w).is_some()
            {
                t |= 1 << bit;
            }
        }
        t
    }

    fn on_trigger<'e>(
        &'e self,
        buf: &[u8],
        mut p: usize,
        st: &mut WindowState,
        on_match: &mut dyn FnMut(Match<'e>) -> Flow,
    ) -> Flow {
        // A trigger on a `%XX` escape that is not a separator between two
        // digits stands for the token after it. (It fires on the `%`, not
        // after it, so that it lies in the window that sees the escape.)
        // Escapes in a row (`%3D%20`) are walked over together.
        let first = p;
        while p < buf.len()
            && p - first < candidate::MAX_TOKEN
            && buf[p] == b'%'
            && text::escape_ends_at(buf, p + 3)
            // The digit before must be a digit, not an escape's hex digit
            // (`%20%20447-281963-5`).
            && !(text::digit_before(buf, p).is_some()
                && !text::escape_ends_at(buf, p)
                && text::sep_at(buf, p).is_some_and(|(_, w)| text::digit_at(buf, p + w).is_some()))
        {
            p += 3;
        }
        if p >= buf.len() {
            return Flow::Continue(());
        }
        if buf[p].is_ascii_uppercase() {
            st.skip_until = p + 1;
            if p < st.report_start || p >= st.report_end {
                return Flow::Continue(());
            }
            for &end in candidate::iban_ends(buf, p).as_slice() {
                let c = candidate::iban_candidate(buf, p, end);
                if let Some(m) = self.best_match(buf, &c, &self.dispatch.iban, st.columns) {
                    st.skip_until = end;
                    return on_match(m);
                }
            }
            return Flow::Continue(());
        }
        // A trigger on a separator stands for the chain of the run just
        // before it: the run's own triggers judge it as a bare number.
        let (at, sep_trigger) = match text::digit_before(buf, p) {
            Some((_, w)) if text::digit_at(buf, p).is_none() => (p - w, true),
            _ => (p, false),
        };
        let Some(run) = candidate::run_around(buf, at) else {
            st.skip_until = p + 1;
            return Flow::Continue(());
        };
        st.skip_until = run.end;

        // Track data wraps the PAN run; when it validates, the run is not
        // reported again as a bare card number.
        let mut run_taken = sep_trigger;
        if !sep_trigger && (!self.dispatch.track1.is_empty() || !self.dispatch.track2.is_empty()) {
            for (rules, cand) in [
                (&self.dispatch.track1, candidate::track1_around(buf, &run)),
                (&self.dispatch.track2, candidate::track2_around(buf, &run)),
            ] {
                let Some(c) = cand else { continue };
                if let Some(m) = self.best_match(buf, &c, rules, st.columns) {
                    run_taken = true;
                    st.skip_until = st.skip_until.max(c.end);
                    if c.start >= st.report_start && c.start < st.report_end {
                        on_match(m)?;
                    }
                    break;
                }
            }
        }

        // An IBAN in lower or mixed case, or with digits of another script,
        // that this run belongs to: the upper-case trigger above does not
        // see those. Looked for only where the run is glued to a letter or
        // follows a four-character group.
        if !self.dispatch.iban.is_empty()
            && (alnum_before_letter(buf, run.start) || after_group(buf, run.start))
            && let Some(q) = candidate::iban_head_before(buf, run.start)
            && q != st.last_wide_iban
        {
            st.last_wide_iban = q;
            let (ends, compact) = candidate::wide_iban_ends(buf, q);
            for &end in ends.as_slice() {
                let c = candidate::wide_iban_candidate(buf, q, end, compact);
                if let Some(m) = self.best_match(buf, &c, &self.dispatch.iban, st.columns) {
                    st.skip_until = st.skip_until.max(end);
                    if q >= st.report_start && q < st.report_end {
                        on_match(m)?;
                    }
                    return Flow::Continue(());
                }
            }
        }

        // Cheap checks first: most runs have a length or a shape no rule
        // takes, and are dropped before a candidate is built.
        if !run_taken
            && run.start >= st.report_start
            && run.start < st.report_end
            && self.bare_possible(run.digits)
            && let Some(c) = candidate::bare(buf, &run, &self.dispatch.check_chars)
        {
            let rules = self.bare_rules(&c);
            if !rules.is_empty() {
                self.emit_first_valid(buf, &c, rules, st.columns, on_match)?;
            }
        }

        if !self.dispatch.grouped.is_empty()
            && candidate::is_linked(buf, &run)
            && let Some(cs) = candidate::chain_start(buf, &run)
            && cs != st.last_chain_start
            && cs >= st.report_start
            && cs < st.report_end
        {
            st.last_chain_start = cs;
            if let Some(shape) = candidate::chain_shape(buf, cs)
                && let Some(rules) = self.group_rules(shape.groups(), shape.sep)
                && let Some(c) = candidate::chain_candidate(buf, cs, &shape)
            {
                self.emit_first_valid(buf, &c, rules, st.columns, on_match)?;
            }
        }
        Flow::Continue(())
    }

    /// The check characters any rule accepts after a bare run.
    fn check_chars(&self) -> &[u8] {
        &self.dispatch.check_chars
    }

    /// True when some rule may take a bare run of `digits` digits (with or
    /// without a check character after it).
    fn bare_possible(&self, digits: usize) -> bool {
        self.dispatch
            .bare
            .get(digits)
            .is_some_and(|r| !r.is_empty())
            || self.dispatch.check_char.iter().any(|e| e.digits == digits)
    }

    fn bare_rules(&self, c: &Candidate) -> &[usize] {
        match c.check_char {
            Some(ch) => self
                .dispatch
                .check_char
                .iter()
                .find(|e| e.ch == ch && e.digits == c.digits)
                .map(|e| e.rules.as_slice())
                .unwrap_or(&[]),
            None => self
                .dispatch
                .bare
                .get(c.digits)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        }
    }

    /// The rules taking this group shape with this separator.
    fn group_rules(&self, shape: &[u8], sep: u8) -> Option<&[usize]> {
        let sep_bit = crate::rules::separator_bit(text::sep_class(sep));
        self.dispatch
            .grouped
            .iter()
            .find(|e| e.sep_bit == sep_bit && e.shape == shape)
            .map(|e| e.rules.as_slice())
    }

    fn grouped_rules(&self, c: &Candidate) -> &[usize] {
        match c.shape {
            Shape::Grouped { sep, groups, count } => self
                .group_rules(&groups[..count as usize], sep)
                .unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Emits the best validated match among `rules` for candidate `c`.
    fn emit_first_valid<'e>(
        &'e self,
        buf: &[u8],
        c: &Candidate,
        rules: &[usize],
        columns: Option<&Columns>,
        on_match: &mut dyn FnMut(Match<'e>) -> Flow,
    ) -> Flow {
        match self.best_match(buf, c, rules, columns) {
            Some(m) => on_match(m),
            None => Flow::Continue(()),
        }
    }

    /// Validates `c` against each rule in order. When several validate, the
    /// first with a context keyword nearby wins, else the first.
    fn best_match<'e>(
        &'e self,
        buf: &[u8],
        c: &Candidate,
        rules: &[usize],
        columns: Option<&Columns>,
    ) -> Option<Match<'e>> {
        let mut first: Option<Match<'e>> = None;
        for &ri in rules {
            let rule = &self.rules.rules[ri];
            let Some((kind, test_data)) = self.validate(rule, c) else {
                continue;
            };
            let has_context = self
                .keywords
                .near(buf, c.start, c.end, ri, rule.context.window)
                || columns.is_some_and(|t| ri < 64 && t.rules_at(buf, c.start) & (1 << ri) != 0);
            if (rule.context.required || c.needs_context) && !has_context {
                continue;
            }
            let (confidence, demoted_by) = if has_context {
                (rule.confidence.with_context, None)
            } else {
                self.weigh(buf, c, ri, rule)
            };
            let test_data = test_data || rule.test_numbers.contains(c.compact());
            let value = c.value(rule.mask_style())?;
            let m = Match {
                rule_index: ri,
                rule,
                kind,
                start: c.start,
                end: c.end,
                value,
                severity: if test_data {
                    Severity::Low
                } else {
                    rule.severity
                },
                confidence,
                test_data,
                demoted_by,
            };
            if has_context {
                return Some(m);
            }
            if first.is_none() {
                first = Some(m);
            }
        }
        first
    }

    /// The confidence of a validated match with no keyword near it, and
    /// the negative signal that demoted it (docs/DESIGN.md, "Evidence"):
    /// the written form sets the level, a negative signal lowers it to
    /// low, and the script of the text around a bare number lifts it one
    /// step, up to the rule's `default`.
    fn weigh(
        &self,
        buf: &[u8],
        c: &Candidate,
        ri: usize,
        rule: &Rule,
    ) -> (Confidence, Option<Signal>) {
        let bare = matches!(c.shape, Shape::Bare);
        let policy = &rule.confidence;
        if let Some(signal) = self.negative_signal(buf, c, ri, rule) {
            return (Confidence::Low, Some(signal));
        }
        if !bare {
            return (policy.default, None);
        }
        let mut level = policy.bare_without_context;
        if level < policy.default
            && rule
                .context
                .scripts
                .iter()
                .any(|&s| evidence::script_near(buf, c.start, c.end, s))
        {
            level = match level {
                Confidence::Low => Confidence::Medium,
                _ => Confidence::High,
            }
            .min(policy.default);
        }
        (level, None)
    }

    /// The first negative signal of the rule that fires for `c`, cheapest
    /// first.
    fn negative_signal(&self, buf: &[u8], c: &Candidate, ri: usize, rule: &Rule) -> Option<Signal> {
        let neg = &rule.negative_context;
        if neg.signals.is_empty() {
            return None;
        }
        let bare = matches!(c.shape, Shape::Bare);
        if neg.uses(Signal::Structure)
            && (bare && evidence::structure(buf, c.start, c.end)
                || evidence::counting_run(c.compact())
                || matches!(c.shape, Shape::Grouped { groups, sep, .. }
                    if evidence::hex_groups(buf, c.start, c.end, groups[0] as usize, sep)))
        {
            return Some(Signal::Structure);
        }
        if neg.uses(Signal::Words)
            && self
                .negative
                .within(buf, c.start.saturating_sub(neg.window), c.start, ri)
        {
            return Some(Signal::Words);
        }
        if bare && neg.uses(Signal::Code) && evidence::code(buf, c.start, c.end) {
            return Some(Signal::Code);
        }
        if bare && neg.uses(Signal::Table) && self.table_signal(buf, c, rule) {
            return Some(Signal::Table);
        }
        None
    }

    /// The `table` signal: the bare number `c` stands among other bare
    /// numbers of the same length within [`evidence::LOOK`] bytes, at least
    /// three of them, and most of those fail the rule's check. A column of
    /// constants or ids passes a check only by chance (one in ten for
    /// Luhn), so one that passes is chance too; a list of real numbers of
    /// one kind passes as a whole.
    fn table_signal(&self, buf: &[u8], c: &Candidate, rule: &Rule) -> bool {
        let lo = c.start.saturating_sub(evidence::LOOK);
        let hi = (c.end + evidence::LOOK).min(buf.len());
        let (mut seen, mut pass) = (0usize, 0usize);
        let mut pos = lo;
        while pos < hi {
            if text::digit_at(buf, pos).is_none() {
                pos += 1;
                continue;
            }
            // A run cut by the edge of the neighbourhood is not judged, so
            // the answer does not depend on where a window starts (a
            // window's buffer reaches `MARGIN` past any match it reports,
            // so its edge is the neighbourhood's only at the text's ends).
            let Some(run) = candidate::run_around(buf, pos) else {
                pos += 1;
                continue;
            };
            pos = run.end.max(pos + 1);
            let cut = run.start <= lo && lo > 0 || run.end >= hi && hi < buf.len();
            if cut || (run.start >= c.start && run.end <= c.end) {
                continue;
            }
            if run.digits != c.digits {
                continue;
            }
            let Some(n) = candidate::bare(buf, &run, &[]) else {
                continue;
            };
            seen += 1;
            if self.validate(rule, &n).is_some() {
                pass += 1;
            }
        }
        seen >= 3 && pass * 2 < seen
    }

    /// Runs the rule's validator: the kind to report and whether the value
    /// is published test data, or `None` when the value is not valid.
    fn validate<'e>(&'e self, rule: &'e Rule, c: &Candidate) -> Option<(&'e str, bool)> {
        let v = c.compact();
        let ok = |r: validate::Verdict| r.is_ok();
        match &rule.validator {
            Validator::None => Some((rule.kind.as_str(), false)),
            Validator::Luhn => validate::luhn(v).then_some((rule.kind.as_str(), false)),
            Validator::Card(table) => {
                let pan = c.pan();
                if !validate::luhn(pan) {
                    return None;
                }
                let brand = table.brand(pan)?;
                if let Shape::Track1 | Shape::Track2 = c.shape
                    && !c.track_fields_ok
                {
                    return None;
                }
                let kind = if table.brand_kinds {
                    brand.kind.as_str()
                } else {
                    rule.kind.as_str()
                };
                Some((kind, table.test_numbers.contains(pan)))
            }
            Validator::UsSsn => ok(validate::us_ssn(v)).then_some((rule.kind.as_str(), false)),
            Validator::PlPesel => ok(validate::pl_pesel(v)).then_some((rule.kind.as_str(), false)),
            Validator::RoCnp => ok(validate::ro_cnp(v)).then_some((rule.kind.as_str(), false)),
            Validator::CnRic => ok(validate::cn_ric(v)).then_some((rule.kind.as_str(), false)),
            Validator::IrMelli => ok(validate::ir_melli(v)).then_some((rule.kind.as_str(), false)),
            Validator::Iban => ok(validate::iban(v)).then_some((rule.kind.as_str(), false)),
            Validator::Checks(p) => p.accepts(v).then_some((rule.kind.as_str(), false)),
        }
    }

    /// Regex rules: a separate pass with the regex crate over the window.
    fn scan_regex_rules<'e>(
        &'e self,
        buf: &[u8],
        st: &WindowState,
        on_match: &mut dyn FnMut(Match<'e>) -> Flow,
    ) -> Flow {
        for &ri in &self.dispatch.regex {
            let rule = &self.rules.rules[ri];
            let Matcher::Regex(rm) = &rule.matcher else {
                continue;
            };
            let end = (st.report_end + rm.max_length).min(buf.len());
            let hay = &buf[st.report_start..end];
            for caps in rm.regex.captures_iter(hay) {
                let Some(g) = caps.get(rm.group) else {
                    continue;
                };
                let start = st.report_start + g.start();
                let stop = st.report_start + g.end();
                if start >= st.report_end || stop - start > rm.max_length {
                    continue;
                }
                let Some(c) = Candidate::from_text_keeping(&buf[start..stop], start, &rm.keep)
                else {
                    continue;
                };
                if let Some(m) = self.best_match(buf, &c, &[ri], st.columns) {
                    on_match(m)?;
                }
            }
        }
        Flow::Continue(())
    }

    /// All matches in `text`, a whole text (its first line may name the
    /// columns of a table): for tests, `rules check` and redaction.
    pub fn find_all<'e>(&'e self, text: &[u8]) -> Vec<Match<'e>> {
        let mut out = Vec::new();
        let columns = self.columns(text);
        let mut kin: evidence::Kin<'e, Match<'e>> = evidence::Kin::default();
        let mut push = |m: Match<'e>| {
            out.push(m);
            Flow::Continue(())
        };
        // The record of a match is its line, counted as matches come.
        let (mut cursor, mut line) = (0usize, 0u64);
        let _ = self.scan_table(text, 0..text.len(), columns.as_ref(), &mut |m| {
            if m.start < cursor {
                (cursor, line) = (0, 0);
            }
            line += memchr::memchr_iter(b'\n', &text[cursor..m.start]).count() as u64;
            cursor = m.start;
            let at = m.start as u64;
            kin.push(m, at, Some(line), &mut push)
        });
        let _ = kin.finish(&mut push);
        out
    }

    /// For `rules check`: whether `text` holds a candidate that rule `ri`
    /// would look at (right shape and length), valid or not.
    pub fn has_candidate_for(&self, text: &[u8], ri: usize) -> bool {
        let rule = &self.rules.rules[ri];
        let mut found = false;
        let mut probe = |c: &Candidate| {
            let accepted = match (&rule.matcher, &c.shape) {
                (Matcher::Digits(_), Shape::Bare) => self.bare_rules(c).contains(&ri),
                (Matcher::Digits(_), Shape::Grouped { .. }) => self.grouped_rules(c).contains(&ri),
                (Matcher::Iban, Shape::Iban) => true,
                (Matcher::Track1, Shape::Track1) => true,
                (Matcher::Track2, Shape::Track2) => true,
                (Matcher::Regex(_), _) => true,
                _ => false,
            };
            found |= accepted;
        };
        candidate::for_each_candidate(text, self.check_chars(), &mut probe);
        if let Matcher::Regex(rm) = &rule.matcher {
            return rm.regex.is_match(text);
        }
        found
    }

    /// For `rules check`: the compact values of the candidates in `text`
    /// that rule `ri` would look at, valid or not (to say why one failed).
    pub fn candidate_values_for(&self, text: &[u8], ri: usize) -> Vec<Vec<u8>> {
        let rule = &self.rules.rules[ri];
        if let Matcher::Regex(rm) = &rule.matcher {
            return rm
                .regex
                .captures_iter(text)
                .filter_map(|caps| {
                    let g = caps.get(rm.group)?;
                    Candidate::from_text_keeping(g.as_bytes(), g.start(), &rm.keep)
                })
                .map(|c| c.compact().to_vec())
                .collect();
        }
        let mut out = Vec::new();
        let mut probe = |c: &Candidate| {
            let accepted = match (&rule.matcher, &c.shape) {
                (Matcher::Digits(_), Shape::Bare) => self.bare_rules(c).contains(&ri),
                (Matcher::Digits(_), Shape::Grouped { .. }) => self.grouped_rules(c).contains(&ri),
                (Matcher::Iban, Shape::Iban) => true,
                (Matcher::Track1, Shape::Track1) => true,
                (Matcher::Track2, Shape::Track2) => true,
                _ => false,
            };
            if accepted {
                out.push(c.compact().to_vec());
            }
        };
        candidate::for_each_candidate(text, self.check_chars(), &mut probe);
        out
    }
}

/// True when the byte before `i` is an ASCII letter.
fn alnum_before_letter(buf: &[u8], i: usize) -> bool {
    i > 0 && buf[i - 1].is_ascii_alphabetic()
}

/// True when a space-like separator ends just before `i` and a character
/// of an IBAN group stands before it (`pl61 1090`, `nwbk 6016`).
fn after_group(buf: &[u8], i: usize) -> bool {
    text::sep_before(buf, i).is_some_and(|(c, w)| {
        text::sep_class(c) == b' '
            && i > w
            && (buf[i - w - 1].is_ascii_alphanumeric() || text::digit_before(buf, i - w).is_some())
    })
}

/// Longest trigger pattern, in bytes. Patterns must fit in a window, and
/// the longer the longest one, the more each window overlaps the next.
const MAX_PATTERN: usize = 16;

/// Whether every number `m` accepts has three digits (of one script) in a
/// row or an IBAN's head (two letters, two digits): what the base64 pass's
/// pair test ([`base64::Finder::digits`]) assumes. A user regex may match
/// anything, so it does not.
fn needs_three_digits(m: &Matcher) -> bool {
    match m {
        Matcher::Digits(d) => {
            let shortest_bare = (1..32u32)
                .filter(|n| d.bare_lengths & (1 << n) != 0)
                .map(|n| if d.check_char.is_some() { n - 1 } else { n })
                .min()
                .unwrap_or(u32::MAX);
            let shortest_group = d
                .groups
                .iter()
                .map(|g| g.iter().copied().max().unwrap_or(0) as u32)
                .min()
                .unwrap_or(u32::MAX);
            shortest_bare.min(shortest_group) >= 3
        }
        Matcher::Iban | Matcher::Track1 | Matcher::Track2 => true,
        Matcher::Regex(_) => false,
    }
}

/// The longest prefix of a group shape, separators included, that fits in
/// [`MAX_PATTERN`] bytes (and has at least two groups). The more groups a
/// pattern has, the fewer log lines fire it: `3-6` fires on every
/// `304 166153` of a web server log, `3-6-1` on none; `4-4-4` keeps a card
/// trigger to 14 bytes.
fn trigger_prefix(shape: &[u8]) -> Vec<u8> {
    let mut bytes = 0usize;
    let mut take = 0;
    for (i, &g) in shape.iter().enumerate() {
        bytes += g as usize + usize::from(i > 0);
        if bytes > MAX_PATTERN && i >= 2 {
            break;
        }
        take = i + 1;
    }
    shape[..take].to_vec()
}

/// Drops trigger patterns that fire whenever another pattern fires.
/// Pattern `p` fires wherever `q` fires when `p` has no more groups than
/// `q`, the same first group (it is exact: anchored on the left and ended by
/// a separator), the same inner groups, and a last group no longer than
/// `q`'s group at that place (a last group is only bounded on the left).
fn minimal_cover(mut shapes: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    shapes.sort();
    shapes.dedup();
    let covers = |p: &[u8], q: &[u8]| {
        let n = p.len();
        n <= q.len() && p[..n - 1] == q[..n - 1] && p[n - 1] <= q[n - 1]
    };
    let all = shapes.clone();
    shapes.retain(|q| !all.iter().any(|p| p != q && covers(p, q)));
    shapes
}

#[cfg(test)]
mod tests;
