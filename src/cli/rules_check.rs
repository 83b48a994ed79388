//! `rules check`: runs every rule's examples through the real engine.
//!
//! It lives beside `rules_cmd.rs` and not in `rules`, because it runs the
//! engine and `rules` sits below `engine` (the engine reads the compiled
//! rules).
//!
//! Each `example` must produce a match of its rule that no negative signal
//! demoted, each `negative_example` must not produce a match, and each
//! `demoted_example` must produce a match that a negative signal (table,
//! code, structure, words) demoted to low: examples and demoted examples
//! are the two sides of every neighbourhood signal. A rule with a validator must also have at least one negative
//! example that has the rule's shape (so it reaches the validator) and is
//! rejected by it: that proves the validator is wired, not just the regex or
//! the shape. Problems name the file, the rule and the example by number;
//! the example texts themselves are not printed. For an example that is not
//! found, the problem says why: the first check of the rule's checksum
//! language that failed (`check digit (weighted sum): expected 7, got 4`),
//! with the candidate shown as its first two and last two characters.

use crate::engine::Engine;
use crate::rules::{Rule, RuleSet, Validator};

/// An example's value as `rules check` may show it: the first two and last
/// two characters. Examples are the rule file's own test numbers, but a
/// user may paste a real one there, so not even they are printed whole.
fn masked(value: &[u8]) -> String {
    if value.len() < 8 {
        return "…".to_string();
    }
    let n = value.len();
    format!(
        "{}…{}",
        value[..2].escape_ascii(),
        value[n - 2..].escape_ascii()
    )
}

/// Why rule `ri` finds nothing in `text`: the first check that failed for
/// each candidate of its shape, or that there is none.
fn why_not_found(engine: &Engine, rule: &Rule, ri: usize, text: &[u8]) -> String {
    let values = engine.candidate_values_for(text, ri);
    if values.is_empty() {
        return "no candidate of the rule's `match` shape in the text".to_string();
    }
    let mut reasons = Vec::new();
    for v in values.iter().take(3) {
        let why = match &rule.validator {
            Validator::Checks(p) => match p.run(v) {
                Err(f) => format!("\"{}\" failed {f}", masked(v)),
                Ok(()) => format!(
                    "\"{}\" passes the checks but is not reported (context.required, a test number, or another rule wins)",
                    masked(v)
                ),
            },
            other if !other.accepts(v) => {
                format!(
                    "\"{}\" is rejected by the {} validator",
                    masked(v),
                    other.name()
                )
            }
            _ => format!(
                "\"{}\" passes the validator but is not reported (context.required, a test number, or another rule wins)",
                masked(v)
            ),
        };
        reasons.push(why);
    }
    reasons.join("; ")
}

/// One thing wrong with a rule's examples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckProblem {
    pub file: String,
    pub rule: String,
    pub message: String,
}

impl std::fmt::Display for CheckProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: rule `{}`: {}", self.file, self.rule, self.message)
    }
}

/// What `rules check` found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub rules: usize,
    pub examples: usize,
    pub negative_examples: usize,
    pub demoted_examples: usize,
    /// Negative examples that reached a validator and were rejected by it.
    pub rejected_by_validator: usize,
    pub problems: Vec<CheckProblem>,
}

/// Checks every rule of `set`.
pub fn check(set: &RuleSet) -> CheckReport {
    let engine = Engine::new(set.clone());
    let mut report = CheckReport {
        rules: set.rules.len(),
        ..CheckReport::default()
    };
    for (ri, rule) in set.rules.iter().enumerate() {
        let problem = |message: String| CheckProblem {
            file: rule.source.clone(),
            rule: rule.id.clone(),
            message,
        };
        for (n, ex) in rule.examples.iter().enumerate() {
            report.examples += 1;
            let found = engine.find_all(ex.as_bytes());
            let mine: Vec<_> = found.iter().filter(|m| m.rule_index == ri).collect();
            if mine.is_empty() {
                report.problems.push(problem(format!(
                    "examples[{n}] is not found: {}; fix the example or the rule",
                    why_not_found(&engine, rule, ri, ex.as_bytes())
                )));
            } else if let Some(s) = mine.iter().find_map(|m| m.demoted_by) {
                report.problems.push(problem(format!(
                    "examples[{n}] is demoted to low by the `{}` signal: fix the example or the rule's negative_context",
                    s.as_str()
                )));
            }
        }
        for (n, ex) in rule.demoted_examples.iter().enumerate() {
            report.demoted_examples += 1;
            let found = engine.find_all(ex.as_bytes());
            let demoted = found
                .iter()
                .any(|m| m.rule_index == ri && m.demoted_by.is_some());
            if !demoted {
                let found = found.iter().any(|m| m.rule_index == ri);
                let why = if found {
                    "it is found, but no negative signal demotes it".to_string()
                } else {
                    why_not_found(&engine, rule, ri, ex.as_bytes())
                };
                report.problems.push(problem(format!(
                    "demoted_examples[{n}] is not found demoted by a negative signal ({why}): fix the example or the rule's negative_context"
                )));
            }
        }
        let mut validator_rejections = 0;
        for (n, ex) in rule.negative_examples.iter().enumerate() {
            report.negative_examples += 1;
            let found = engine
                .find_all(ex.as_bytes())
                .iter()
                .any(|m| m.rule_index == ri);
            if found {
                report.problems.push(problem(format!(
                    "negative_examples[{n}] is found: fix the example or the rule"
                )));
            } else if engine.has_candidate_for(ex.as_bytes(), ri) {
                validator_rejections += 1;
            }
        }
        report.rejected_by_validator += validator_rejections;
        if !matches!(rule.validator, Validator::None) && validator_rejections == 0 {
            report.problems.push(problem(format!(
                "no negative example reaches the {} validator and is rejected by it: add one with the rule's shape and a wrong check digit",
                rule.validator.name()
            )));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::compile_sources;

    const RULE: &str = r#"
rules:
  - id: rr-id
    name: Ruritanian ID
    kind: rr_id
    severity: high
    match:
      digits:
        lengths: [10]
    validate:
      shape: "[0-9]{10}"
      checks:
        - date: {name: date of birth, at: 0, format: YYMMDD, century: 1900}
        - weighted: {name: check digit, weights: [10, 9, 8, 7, 6, 5, 4, 3, 2], modulus: 11, value: "11 - r", map: {11: 0, 10: reject}, check: 9}
    examples:
      - "Ruritanian ID 8501150010"
      - "Ruritanian ID 8501150017"
      - "Ruritanian ID 8513150017"
      - "Ruritanian ID 850115001"
    negative_examples:
      - "Ruritanian ID 8501150018"
"#;

    #[test]
    fn rules_check_names_the_failed_check_without_printing_the_example() {
        let set = compile_sources(&[("rr.yaml".into(), RULE.into())], "test").unwrap();
        let report = check(&set);
        let text: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:#?}");
        assert!(
            text[0].contains(
                "examples[1] is not found: \"85…17\" failed `check digit` (weighted mod 11): expected 0, got 7"
            ),
            "{text:#?}"
        );
        assert!(
            text[1].contains("examples[2] is not found: \"85…17\" failed `date of birth` (date)"),
            "{text:#?}"
        );
        assert!(
            text[2].contains("no candidate of the rule's `match` shape"),
            "{text:#?}"
        );
        for t in &text {
            assert!(
                !t.contains("8501150017") && !t.contains("8513150017"),
                "{t}"
            );
        }
    }

    /// A Finnish-style HETU: the century sign between date and serial
    /// reaches the checks only through `match.regex.keep`, and the check
    /// character covers the digits on both sides of it (`over` as a list).
    const HETU: &str = r#"
rules:
  - id: fi-hetu-test
    name: HETU
    kind: fi_hetu
    severity: high
    match:
      regex:
        pattern: '\b(\d{6}[-+A]\d{3}[0-9A-Y])\b'
        group: 1
        max_length: 11
        keep: "+-"
    validate:
      shape: "[0-9]{6}[-+A][0-9]{3}[0-9A-Y]"
      checks:
        - date: {name: date of birth, at: 0, format: DDMMYY, century_from: {at: 6, map: {"+": 1800, "-": 1900, "A": 2000}}}
        - number: {name: check character, over: ["0-5", "7-9"], modulus: 31, alphabet: "0123456789ABCDEFHJKLMNPRSTUVWXY", check: 10}
    examples:
      - "HETU 131052-308T"
      - "HETU 290200A1239"
    negative_examples:
      - "HETU 131052-308U"
      - "HETU 290200-1239"
"#;

    #[test]
    fn regex_keep_gives_the_checks_a_century_sign() {
        let set = compile_sources(&[("fi.yaml".into(), HETU.into())], "test").unwrap();
        let report = check(&set);
        assert!(report.problems.is_empty(), "{:#?}", report.problems);
        assert_eq!(report.rejected_by_validator, 2);
        // 29 February 1900 did not exist: the sign decided the century.
        let Validator::Checks(p) = &set.rules[0].validator else {
            panic!("checks")
        };
        let f = p.run(b"290200-1239").unwrap_err();
        assert_eq!(f.check, "date of birth");
    }
}
