//! Event sinks: where findings, actions and file records are sent.

use serde::Deserialize;

use super::Section;

/// The `sinks` section of `leakhound.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sinks {}

impl Section for Sinks {
    fn problems(&self) -> Vec<String> {
        Vec::new()
    }
}
