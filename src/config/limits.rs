//! The `limits` section: how far containers (compressed files, archives,
//! office documents, mail) are opened. Each key has a command-line twin
//! (`--max-depth` ...) that wins over the file.

use std::time::Duration;

use serde::Deserialize;

use super::Section;
use crate::extract::Limits as ExtractLimits;

/// The `limits` section of `leakhound.yaml`; unset keys keep the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Containers inside containers, each layer counted (`.tar.gz` is 2).
    pub max_depth: Option<u32>,
    /// Bytes produced by decompression per top-level file (`16GiB`).
    pub max_expanded: Option<ByteSize>,
    /// Output bytes per input byte of one compressed stream, and of all the
    /// layers of one file together.
    pub max_ratio: Option<u64>,
    /// Members and mail parts per top-level file.
    pub max_members: Option<u64>,
    /// Time per top-level file (`10m`, `90s`).
    pub max_time: Option<HumanDuration>,
    /// Largest object held in memory (a nested zip, one message) (`64MiB`).
    pub max_buffer: Option<ByteSize>,
    /// Decode base64 payloads in text and scan what they hold (member
    /// `base64@OFFSET`); on by default ([`Limits::base64_on`]).
    pub base64: Option<bool>,
}

impl Limits {
    /// Whether base64 payloads are decoded: the key, else the default.
    pub fn base64_on(&self) -> bool {
        self.base64.unwrap_or(crate::engine::base64::DEFAULT_ON)
    }

    /// These settings over `base`.
    pub fn apply(&self, mut base: ExtractLimits) -> ExtractLimits {
        if let Some(v) = self.max_depth {
            base.max_depth = v;
        }
        if let Some(v) = self.max_expanded {
            base.max_expanded = v.0;
        }
        if let Some(v) = self.max_ratio {
            base.max_ratio = v;
        }
        if let Some(v) = self.max_members {
            base.max_members = v;
        }
        if let Some(v) = self.max_time {
            base.max_time = v.0;
        }
        if let Some(v) = self.max_buffer {
            base.max_buffer = v.0;
        }
        base
    }
}

impl Section for Limits {
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.max_depth == Some(0) {
            out.push("limits.max_depth must be at least 1".to_string());
        }
        if self.max_ratio == Some(0) {
            out.push("limits.max_ratio must be at least 1".to_string());
        }
        if self.max_buffer.is_some_and(|b| b.0 < 4096) {
            out.push("limits.max_buffer must be at least 4KiB".to_string());
        }
        out
    }
}

/// Why a size or a duration (in the file or on the command line) does not
/// parse; each quotes what was written and gives an example.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("`{0}` is not a size (use e.g. 4096, 512K, 64MiB, 4G)")]
    NotASize(String),
    #[error("`{text}`: unknown unit `{unit}` (use K, M, G or T)")]
    UnknownUnit { text: String, unit: String },
    #[error("`{0}` is too large")]
    TooLarge(String),
    #[error("`{text}` is not a duration (use e.g. 90s, 10m, 1h): {error}")]
    NotADuration {
        text: String,
        error: humantime::DurationError,
    },
}

/// A size in bytes: a number, or a number with a unit (`512K`, `64MiB`,
/// `4G`; K, M, G, T are powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| ValueError::NotASize(s.to_string()))?;
        let shift = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            _ => {
                return Err(ValueError::UnknownUnit {
                    text: s.to_string(),
                    unit: unit.to_string(),
                });
            }
        };
        n.checked_mul(1u64 << shift)
            .map(ByteSize)
            .ok_or_else(|| ValueError::TooLarge(s.to_string()))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A duration written for people: `90s`, `10m`, `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl std::str::FromStr for HumanDuration {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        humantime::parse_duration(s)
            .map(HumanDuration)
            .map_err(|error| ValueError::NotADuration {
                text: s.to_string(),
                error,
            })
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("4096".parse::<ByteSize>().unwrap().0, 4096);
        assert_eq!("64MiB".parse::<ByteSize>().unwrap().0, 64 << 20);
        assert_eq!("2g".parse::<ByteSize>().unwrap().0, 2 << 30);
        assert!("12 parsecs".parse::<ByteSize>().is_err());
    }

    #[test]
    fn config_overrides_defaults() {
        let l: Limits =
            serde_saphyr::from_str("max_depth: 3\nmax_buffer: 1MiB\nmax_time: 5s\n").unwrap();
        let applied = l.apply(ExtractLimits::default());
        assert_eq!(applied.max_depth, 3);
        assert_eq!(applied.max_buffer, 1 << 20);
        assert_eq!(applied.max_time, Duration::from_secs(5));
        assert_eq!(applied.max_ratio, ExtractLimits::default().max_ratio);
    }
}
