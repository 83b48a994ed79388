//! The scanner: finds validated matches of the rules in a buffer of text.
//!
//! Data enters as a byte buffer (decoded text, or raw bytes of a binary
//! file) and a *report range*; matches leave through a callback. The engine
//! knows nothing of files: `stream` feeds it overlapping windows of a stream
//! and turns buffer positions into offsets, lines and columns.
//!
//! How it stays fast: one pass over the buffer in 64-byte blocks turns bytes
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

pub mod candidate;
pub mod classify;
pub mod context;
pub mod stream;
pub mod text;
pub mod value;

use std::ops::Range;

use crate::rules::{Confidence, Matcher, Rule, RuleSet, Severity, Validator};
use crate::validate;
use candidate::{Candidate, Shape};
use classify::{BlockMasks, classify_at, pair};
use context::Keywords;
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
    /// A published payment-processor test number.
    pub test_data: bool,
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
    /// Run lengths the shape masks need.
    run_lengths: Vec<u32>,
    iban: bool,
    native_digits: bool,
}

/// Rules grouped by the shape of candidate they accept.
#[derive(Debug, Clone, Default)]
struct Dispatch {
    /// `bare[n]`: rules accepting a bare run of `n` digits.
    bare: Vec<Vec<usize>>,
    /// Rules whose bare numbers may end in a check character:
    /// `(char, run length without it, rule)`.
    check_char: Vec<(u8, u32, usize)>,
    /// `(shape, separators, rule)`.
    grouped: Vec<(Vec<u8>, u8, usize)>,
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
}

/// Per-window scan state.
struct WindowState {
    report_start: usize,
    report_end: usize,
    /// Positions before this were consumed by an earlier trigger.
    skip_until: usize,
    /// Start of the last group chain evaluated (chains are evaluated once).
    last_chain_start: usize,
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
                        match d.check_char {
                            Some(c) => {
                                // `n` characters with the check char, or `n`
                                // digits: both end up at this rule.
                                dispatch.check_char.push((c, n - 1, i));
                                dispatch.bare[n as usize].push(i);
                                bare_min = bare_min.min(n.saturating_sub(1).max(1));
                            }
                            None => {
                                dispatch.bare[n as usize].push(i);
                                bare_min = bare_min.min(n);
                            }
                        }
                    }
                    for g in &d.groups {
                        dispatch.grouped.push((g.clone(), d.separators, i));
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
        let mut run_lengths: Vec<u32> = triggers
            .shapes
            .iter()
            .flat_map(|s| s.iter().map(|&g| g as u32))
            .collect();
        run_lengths.sort_unstable();
        run_lengths.dedup();
        triggers.run_lengths = run_lengths;
        let keywords = Keywords::new(&rules.rules);
        Engine {
            rules,
            triggers,
            dispatch,
            keywords,
        }
    }

    /// The rules, in the order their indices refer to.
    pub fn rules(&self) -> &[Rule] {
        &self.rules.rules
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
        let report_end = report.end.min(buf.len());
        if report.start >= report_end {
            return Flow::Continue(());
        }
        let mut st = WindowState {
            report_start: report.start,
            report_end,
            skip_until: report.start,
            last_chain_start: usize::MAX,
        };
        // A trigger can lie up to one token after the match's first byte.
        let limit = (report_end + candidate::MAX_TOKEN).min(buf.len());
        let mut pos = report.start;
        let mut cur = classify_at(buf, pos);
        while pos < limit {
            let next = classify_at(buf, pos + classify::BLOCK);
            let mut t = self.trigger_mask(buf, pos, &cur, &next);
            let avail = limit - pos;
            if avail < 64 {
                t &= (1u64 << avail) - 1;
            }
            while t != 0 {
                let p = pos + t.trailing_zeros() as usize;
                t &= t - 1;
                if p < st.skip_until {
                    continue;
                }
                self.on_trigger(buf, p, &mut st, on_match)?;
            }
            pos += classify::BLOCK;
            if st.skip_until > pos + classify::BLOCK {
                // A long run: jump over it instead of walking its blocks.
                pos = st.skip_until;
                cur = classify_at(buf, pos);
            } else {
                cur = next;
            }
        }
        self.scan_regex_rules(buf, &st, on_match)
    }

    /// Bit `i` set: position `pos + i` may start or lie inside a candidate.
    #[inline]
    fn trigger_mask(&self, buf: &[u8], pos: usize, cur: &BlockMasks, next: &BlockMasks) -> u64 {
        let tr = &self.triggers;
        let d = pair(cur.digit, next.digit);
        let mut t = 0u64;
        if cur.digit != 0 {
            if tr.bare_min > 0 {
                t |= classify::runs_of(d, tr.bare_min);
            }
            if !tr.shapes.is_empty() && cur.sep | next.sep != 0 {
                let s = pair(cur.sep, next.sep);
                let mut runs = [0u128; 20];
                for &k in &tr.run_lengths {
                    runs[k as usize] = runs_of_128(d, k);
                }
                for shape in &tr.shapes {
                    let mut m = runs[shape[0] as usize];
                    let mut off = shape[0] as u32;
                    for &g in &shape[1..] {
                        m &= s >> off;
                        off += 1;
                        m &= runs[g as usize] >> off;
                        off += g as u32;
                    }
                    t |= m as u64;
                }
            }
        }
        // The letters of an IBAN may end this block and its digits begin
        // the next one, so this test does not wait for a digit in `cur`.
        if tr.iban && cur.upper != 0 && d >> 2 != 0 {
            let u = pair(cur.upper, next.upper);
            t |= (u & (u >> 1) & (d >> 2) & (d >> 3)) as u64;
        }
        if tr.native_digits && cur.native_lead != 0 {
            let mut lead = cur.native_lead;
            while lead != 0 {
                let bit = lead.trailing_zeros() as usize;
                lead &= lead - 1;
                if text::native_digit_at(buf, pos + bit).is_some() {
                    t |= 1 << bit;
                }
            }
        }
        t
    }

    fn on_trigger<'e>(
        &'e self,
        buf: &[u8],
        p: usize,
        st: &mut WindowState,
        on_match: &mut dyn FnMut(Match<'e>) -> Flow,
    ) -> Flow {
        if buf[p].is_ascii_uppercase() {
            st.skip_until = p + 1;
            if p < st.report_start || p >= st.report_end {
                return Flow::Continue(());
            }
            for &end in candidate::iban_ends(buf, p).as_slice() {
                let c = candidate::iban_candidate(buf, p, end);
                if let Some(m) = self.best_match(buf, &c, &self.dispatch.iban) {
                    st.skip_until = end;
                    return on_match(m);
                }
            }
            return Flow::Continue(());
        }
        let Some(run) = candidate::run_around(buf, p) else {
            st.skip_until = p + 1;
            return Flow::Continue(());
        };
        st.skip_until = run.end;

        // Track data wraps the PAN run; when it validates, the run is not
        // reported again as a bare card number.
        let mut run_taken = false;
        if !self.dispatch.track1.is_empty() || !self.dispatch.track2.is_empty() {
            for (rules, cand) in [
                (&self.dispatch.track1, candidate::track1_around(buf, &run)),
                (&self.dispatch.track2, candidate::track2_around(buf, &run)),
            ] {
                let Some(c) = cand else { continue };
                if let Some(m) = self.best_match(buf, &c, rules) {
                    run_taken = true;
                    st.skip_until = st.skip_until.max(c.end);
                    if c.start >= st.report_start && c.start < st.report_end {
                        on_match(m)?;
                    }
                    break;
                }
            }
        }

        if !run_taken
            && run.start >= st.report_start
            && run.start < st.report_end
            && let Some(c) = candidate::bare(buf, &run, self.check_chars())
        {
            let rules = self.bare_rules(&c);
            if !rules.is_empty() {
                self.emit_first_valid(buf, &c, &rules, on_match)?;
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
            if let Some(c) = candidate::chain_at(buf, cs) {
                let rules = self.grouped_rules(&c);
                if !rules.is_empty() {
                    self.emit_first_valid(buf, &c, &rules, on_match)?;
                }
            }
        }
        Flow::Continue(())
    }

    /// The check characters any rule accepts after a bare run.
    fn check_chars(&self) -> &[(u8, u32, usize)] {
        &self.dispatch.check_char
    }

    fn bare_rules(&self, c: &Candidate) -> Vec<usize> {
        match c.check_char {
            Some(ch) => self
                .dispatch
                .check_char
                .iter()
                .filter(|(x, n, _)| *x == ch && *n as usize == c.digits)
                .map(|(_, _, r)| *r)
                .collect(),
            None => self
                .dispatch
                .bare
                .get(c.digits)
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn grouped_rules(&self, c: &Candidate) -> Vec<usize> {
        let Shape::Grouped { sep, groups, count } = c.shape else {
            return Vec::new();
        };
        let shape = &groups[..count as usize];
        let sep_bit = crate::rules::separator_bit(sep);
        self.dispatch
            .grouped
            .iter()
            .filter(|(g, seps, _)| g.as_slice() == shape && seps & sep_bit != 0)
            .map(|(_, _, r)| *r)
            .collect()
    }

    /// Emits the best validated match among `rules` for candidate `c`.
    fn emit_first_valid<'e>(
        &'e self,
        buf: &[u8],
        c: &Candidate,
        rules: &[usize],
        on_match: &mut dyn FnMut(Match<'e>) -> Flow,
    ) -> Flow {
        match self.best_match(buf, c, rules) {
            Some(m) => on_match(m),
            None => Flow::Continue(()),
        }
    }

    /// Validates `c` against each rule in order. When several validate, the
    /// first with a context keyword nearby wins, else the first.
    fn best_match<'e>(&'e self, buf: &[u8], c: &Candidate, rules: &[usize]) -> Option<Match<'e>> {
        let mut first: Option<Match<'e>> = None;
        for &ri in rules {
            let rule = &self.rules.rules[ri];
            let Some((kind, test_data)) = self.validate(rule, c) else {
                continue;
            };
            let has_context = self
                .keywords
                .near(buf, c.start, c.end, ri, rule.context.window);
            if rule.context.required && !has_context {
                continue;
            }
            let confidence = if has_context {
                rule.confidence.with_context
            } else if matches!(c.shape, Shape::Bare) {
                rule.confidence.bare_without_context
            } else {
                rule.confidence.default
            };
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
                let Some(c) = Candidate::from_text(&buf[start..stop], start) else {
                    continue;
                };
                if let Some(m) = self.best_match(buf, &c, &[ri]) {
                    on_match(m)?;
                }
            }
        }
        Flow::Continue(())
    }

    /// Convenience for tests and `rules check`: all matches in `text`.
    pub fn find_all<'e>(&'e self, text: &[u8]) -> Vec<Match<'e>> {
        let mut out = Vec::new();
        let _ = self.scan(text, 0..text.len(), &mut |m| {
            out.push(m);
            Flow::Continue(())
        });
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
}

/// Runs of `k` set bits over both halves (valid where `i + k <= 128`).
#[inline]
fn runs_of_128(bits: u128, k: u32) -> u128 {
    let mut acc = bits;
    let mut have = 1u32;
    while have * 2 <= k {
        acc &= acc >> have;
        have *= 2;
    }
    if have < k {
        acc &= acc >> (k - have);
    }
    acc
}

/// The shortest prefix of a group shape that is selective enough to fire a
/// trigger: eight digits or more, or the whole shape. `4-4` is enough for
/// cards; `3-2` would fire on every date, so SSNs keep all of `3-2-4`.
fn trigger_prefix(shape: &[u8]) -> Vec<u8> {
    let mut digits = 0u32;
    for (i, &g) in shape.iter().enumerate() {
        digits += g as u32;
        if digits >= 8 && i >= 1 {
            return shape[..=i].to_vec();
        }
    }
    shape.to_vec()
}

/// Drops trigger patterns that fire whenever another pattern fires.
/// Pattern `p` fires on every text where `q` fires when they have the same
/// number of groups, the inner groups are equal and `p`'s first and last
/// groups are no longer than `q`'s (those are only bounded on one side).
fn minimal_cover(mut shapes: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    shapes.sort();
    shapes.dedup();
    let covers = |p: &[u8], q: &[u8]| {
        p.len() == q.len()
            && p[0] <= q[0]
            && p[p.len() - 1] <= q[q.len() - 1]
            && p[1..p.len() - 1] == q[1..q.len() - 1]
    };
    let all = shapes.clone();
    shapes.retain(|q| !all.iter().any(|p| p != q && covers(p, q)));
    shapes
}

#[cfg(test)]
mod tests;
