//! Limits for containers (compressed files, archives, office documents, mail): filled in by the containers work.

use serde::Deserialize;

use super::Section;

/// The `limits` section of `leakhound.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {}

impl Section for Limits {
    fn problems(&self) -> Vec<String> {
        Vec::new()
    }
}
