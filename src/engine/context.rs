//! Context keywords: words near a match that raise its confidence.
//!
//! All keywords of all rules go into one Aho-Corasick automaton (ASCII case
//! folded), searched only in the small window around a match that already
//! validated, so keywords cost nothing on text without matches. A keyword
//! that starts with an ASCII letter must not follow another ASCII letter
//! (`pan` does not fire inside `company`); keywords in other scripts match
//! anywhere, since Chinese and Persian write them glued to the number.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::rules::Rule;

/// The keyword automaton and which rules each keyword belongs to.
#[derive(Debug, Clone)]
pub struct Keywords {
    automaton: Option<AhoCorasick>,
    /// For each pattern: the indices of the rules that list it.
    owners: Vec<Vec<usize>>,
    /// For each pattern: it starts with an ASCII letter.
    word_start: Vec<bool>,
    /// For each pattern: it must not be followed by an ASCII letter either
    /// (negative words: `tel` is not in `telling`).
    word_end: Vec<bool>,
}

impl Keywords {
    /// Builds the automaton from every rule's keywords.
    pub fn new(rules: &[Rule]) -> Keywords {
        Keywords::from_lists(rules.iter().map(|r| r.context.keywords.as_slice()), false)
    }

    /// Builds the automaton from every rule's negative keywords.
    pub fn negative(rules: &[Rule]) -> Keywords {
        Keywords::from_lists(
            rules.iter().map(|r| r.negative_context.keywords.as_slice()),
            true,
        )
    }

    /// Builds the automaton from one keyword list per rule, in rule order.
    /// With `whole_words`, a keyword ending in an ASCII letter must not be
    /// followed by one.
    fn from_lists<'r>(lists: impl Iterator<Item = &'r [String]>, whole_words: bool) -> Keywords {
        let mut patterns: Vec<String> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        for (ri, list) in lists.enumerate() {
            for kw in list {
                let kw = kw.to_ascii_lowercase();
                // `national code` is also written `national_code` (a key)
                // and `national-code`.
                let mut forms = vec![kw.clone()];
                if kw.contains(' ') {
                    forms.push(kw.replace(' ', "_"));
                    forms.push(kw.replace(' ', "-"));
                }
                for kw in forms {
                    match patterns.iter().position(|p| *p == kw) {
                        Some(i) if !owners[i].contains(&ri) => owners[i].push(ri),
                        Some(_) => {}
                        None => {
                            patterns.push(kw);
                            owners.push(vec![ri]);
                        }
                    }
                }
            }
        }
        let word_start = patterns
            .iter()
            .map(|p| p.as_bytes().first().is_some_and(u8::is_ascii_alphabetic))
            .collect();
        let word_end = patterns
            .iter()
            .map(|p| whole_words && p.as_bytes().last().is_some_and(u8::is_ascii_alphabetic))
            .collect();
        let automaton = if patterns.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .ok()
        };
        Keywords {
            automaton,
            owners,
            word_start,
            word_end,
        }
    }

    /// True when a keyword of rule `rule` occurs within `window` bytes
    /// before `start` or after `end` in `buf`.
    pub fn near(&self, buf: &[u8], start: usize, end: usize, rule: usize, window: usize) -> bool {
        let lo = start.saturating_sub(window);
        let hi = end.saturating_add(window).min(buf.len());
        self.within(buf, lo, hi, rule)
    }

    /// True when a keyword of rule `rule` lies in `buf[lo..hi]`.
    pub fn within(&self, buf: &[u8], lo: usize, hi: usize, rule: usize) -> bool {
        let Some(ac) = &self.automaton else {
            return false;
        };
        if lo >= hi {
            return false;
        }
        let hay = &buf[lo..hi];
        for m in ac.find_overlapping_iter(hay) {
            let pi = m.pattern().as_usize();
            if !self.owners[pi].contains(&rule) {
                continue;
            }
            let at = lo + m.start();
            if self.word_start[pi] && at > 0 && buf[at - 1].is_ascii_alphabetic() {
                continue;
            }
            let end = lo + m.end();
            if self.word_end[pi] && buf.get(end).is_some_and(u8::is_ascii_alphabetic) {
                continue;
            }
            return true;
        }
        false
    }

    /// The rules (bit `i` for rule `i`, the first 64 rules) that have a
    /// keyword in `text`, such as a table's column name.
    pub fn rules_in(&self, text: &[u8]) -> u64 {
        let Some(ac) = &self.automaton else {
            return 0;
        };
        let mut bits = 0u64;
        for m in ac.find_overlapping_iter(text) {
            let pi = m.pattern().as_usize();
            let at = m.start();
            if self.word_start[pi] && at > 0 && text[at - 1].is_ascii_alphabetic() {
                continue;
            }
            for &ri in &self.owners[pi] {
                if ri < 64 {
                    bits |= 1 << ri;
                }
            }
        }
        bits
    }
}
