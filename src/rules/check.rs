//! `rules check`: runs every rule's examples through the real engine.
//!
//! Each `example` must produce a match of its rule that no negative signal
//! demoted, each `negative_example` must not produce a match, and each
//! `demoted_example` must produce a match that a negative signal (table,
//! code, structure, words) demoted to low: examples and demoted examples
//! are the two sides of every neighbourhood signal. A rule with a validator must also have at least one negative
//! example that has the rule's shape (so it reaches the validator) and is
//! rejected by it: that proves the validator is wired, not just the regex or
//! the shape. Problems name the file, the rule and the example by number;
//! the example texts themselves are not printed.

use super::{RuleSet, Validator};
use crate::engine::Engine;

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
                    "examples[{n}] is not found: fix the example or the rule"
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
                report.problems.push(problem(format!(
                    "demoted_examples[{n}] is not found demoted by a negative signal: fix the example or the rule's negative_context"
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
