//! `leakhound rules list` and `leakhound rules check`.

use super::output::OutputArgs;
use super::rules_check as check;
use super::{Exit, RulesArg, RulesCommand};
use crate::rules::{Matcher, Rule, RuleSet};

pub fn run(cmd: RulesCommand) -> Exit {
    match cmd {
        RulesCommand::List { rules, output } => list(&rules, &output),
        RulesCommand::Check { dir, rules } => check_cmd(RulesArg {
            rules: dir.or(rules),
            rules_pack: Vec::new(),
        }),
    }
}

fn describe_match(rule: &Rule) -> String {
    match &rule.matcher {
        Matcher::Digits(d) => {
            let lengths: Vec<String> = (1..=31)
                .filter(|n| d.bare_lengths & (1 << n) != 0)
                .map(|n| n.to_string())
                .collect();
            let mut s = format!("digits {}", compress(&lengths));
            if !d.groups.is_empty() {
                let groups: Vec<String> = d
                    .groups
                    .iter()
                    .map(|g| {
                        g.iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join("-")
                    })
                    .collect();
                s.push_str(&format!(" or {}", groups.join(", ")));
            }
            if let Some(c) = d.check_char {
                s.push_str(&format!(" (+{})", c as char));
            }
            s
        }
        Matcher::Iban => "iban".into(),
        Matcher::Track1 => "track1".into(),
        Matcher::Track2 => "track2".into(),
        Matcher::Regex(_) => "regex".into(),
    }
}

/// `12,13,14,...,19` -> `12-19`.
fn compress(lengths: &[String]) -> String {
    let nums: Vec<u32> = lengths.iter().filter_map(|s| s.parse().ok()).collect();
    if nums.len() > 2 && nums.windows(2).all(|w| w[1] == w[0] + 1) {
        format!("{}-{}", nums[0], nums[nums.len() - 1])
    } else {
        lengths.join(",")
    }
}

fn list(arg: &RulesArg, output: &OutputArgs) -> Exit {
    let set = match arg.load() {
        Ok(s) => s,
        Err(e) => return e,
    };
    let rules: Vec<serde_json::Value> = set
        .rules
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "name": r.name,
                "kinds": r.kinds(),
                "severity": r.severity,
                "match": describe_match(r),
                "validator": r.validator.name(),
                "country": r.country,
                "packs": r.packs,
                "source": r.source,
            })
        })
        .collect();
    let doc = serde_json::json!({"origin": set.origin, "version": set.version, "rules": rules});
    let written = output.emit(&doc, &rules, |w| {
        writeln!(
            w,
            "Rules: {} ({} rules, version {})",
            set.origin,
            set.rules.len(),
            set.version
        )?;
        writeln!(
            w,
            "{:<16} {:<8} {:<10} {:<44} KINDS",
            "ID", "SEVERITY", "VALIDATOR", "MATCH"
        )?;
        for r in &set.rules {
            writeln!(
                w,
                "{:<16} {:<8} {:<10} {:<44} {}",
                r.id,
                r.severity.as_str(),
                r.validator.name(),
                describe_match(r),
                r.kinds().join(",")
            )?;
        }
        Ok(())
    });
    match written {
        Ok(()) => Exit::Clean,
        Err(e) => {
            eprintln!("leakhound: error: {e}");
            Exit::Error
        }
    }
}

fn check_cmd(arg: RulesArg) -> Exit {
    // Every rule, whatever its packs: a broken rule fails before anyone
    // selects its pack.
    let set: RuleSet = match arg.load_all() {
        Ok(s) => s,
        Err(e) => return e,
    };
    let report = check::check(&set);
    for p in &report.problems {
        eprintln!("leakhound: error: {p}");
    }
    let summary = format!(
        "{}: {} rules, {} examples, {} negative examples ({} rejected by a validator)",
        set.origin,
        report.rules,
        report.examples,
        report.negative_examples,
        report.rejected_by_validator
    );
    if report.problems.is_empty() {
        println!("{summary}: OK");
        Exit::Clean
    } else {
        eprintln!("{summary}: {} problems", report.problems.len());
        Exit::Error
    }
}
