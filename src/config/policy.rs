//! The action policy: which action (report, redact, quarantine) applies to which finding.

use serde::Deserialize;

use super::Section;

/// The `policy` section of `leakhound.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {}

impl Section for Policy {
    fn problems(&self) -> Vec<String> {
        Vec::new()
    }
}
