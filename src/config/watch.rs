//! What `leakhound watch` follows and how (inotify or polling).

use serde::Deserialize;

use super::Section;

/// The `watch` section of `leakhound.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Watch {}

impl Section for Watch {
    fn problems(&self) -> Vec<String> {
        Vec::new()
    }
}
