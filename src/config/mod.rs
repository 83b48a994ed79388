//! The configuration file, `leakhound.yaml`.
//!
//! One YAML document with a section per concern; every section has defaults,
//! so an empty file is a valid configuration. Each section's type lives in
//! its own file here and knows how to check its own values
//! ([`Section::problems`]); this module reads the file, reports any mistake
//! with its line and column, and never echoes the file's text (it may sit
//! next to paths or keys an operator would rather not see in a log).
//!
//! Where the file comes from: `--config PATH`, else `LEAKHOUND_CONFIG`, else
//! (for `watch` and `config check` only) `/etc/leakhound/leakhound.yaml`.
//! A one-off `scan` never picks up the system file by itself: a daemon's
//! redact or quarantine policy must not apply to somebody's ad-hoc scan.

pub mod limits;
pub mod ocr;
pub mod policy;
pub mod sinks;
pub mod watch;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The system-wide configuration file read by `watch` and `config check`.
pub const SYSTEM_CONFIG: &str = "/etc/leakhound/leakhound.yaml";

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where leakhound keeps its state (fingerprint key, databases, spool).
    pub state_dir: Option<PathBuf>,
    /// Limits for containers: depth, expansion, ratio, members, time.
    pub limits: limits::Limits,
    /// Which action applies to which finding.
    pub policy: policy::Policy,
    /// Where events go.
    pub sinks: sinks::Sinks,
    /// What the daemon watches and how.
    pub watch: watch::Watch,
    /// Whether and how images and image-only PDF pages are read by OCR.
    pub ocr: ocr::Ocr,
}

/// A section of the configuration that can check its own values beyond
/// what their types say.
pub trait Section {
    /// Every problem, each a sentence naming the key (`limits.max_depth
    /// must be at least 1`); empty when the section is usable.
    fn problems(&self) -> Vec<String>;
}

/// Why a configuration file cannot be used.
#[derive(Debug)]
pub enum ConfigError {
    /// The file cannot be read.
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The YAML does not fit the schema: an unknown key, a wrong type.
    Syntax {
        path: PathBuf,
        line: Option<u64>,
        column: Option<u64>,
        message: String,
    },
    /// The values parse but do not make sense.
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, error } => write!(
                f,
                "{}: cannot read the configuration file: {error}",
                path.display()
            ),
            ConfigError::Syntax {
                path,
                line,
                column,
                message,
            } => {
                write!(f, "{}", path.display())?;
                if let Some(l) = line {
                    write!(f, ":{l}")?;
                    if let Some(c) = column {
                        write!(f, ":{c}")?;
                    }
                }
                write!(
                    f,
                    ": {message} (see docs/config.md for the keys and their types)"
                )
            }
            ConfigError::Invalid { path, problems } => {
                write!(f, "{}: the configuration is not usable:", path.display())?;
                for p in problems {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and checks the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Config::parse(path, &text)
    }

    /// Parses and checks configuration text; `path` only names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        // An empty file (or one with only comments) is the default config.
        let config: Config = if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            Config::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| {
                let loc = e.location();
                ConfigError::Syntax {
                    path: path.to_path_buf(),
                    line: loc.as_ref().map(|l| l.line()),
                    column: loc.as_ref().map(|l| l.column()),
                    message: without_location(&e.without_snippet().to_string()),
                }
            })?
        };
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
        }
    }
}

impl Section for Config {
    fn problems(&self) -> Vec<String> {
        let mut all = Vec::new();
        all.extend(self.limits.problems());
        all.extend(self.policy.problems());
        all.extend(self.sinks.problems());
        all.extend(self.watch.problems());
        all.extend(self.ocr.problems());
        all
    }
}

/// A parser message without its trailing "at line L, column C", which the
/// error already gives in the `path:line:column` form.
fn without_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The configuration file to read: an explicit path, else
/// `LEAKHOUND_CONFIG` (handled by clap), else the system file when
/// `system_default` is set and it exists.
pub fn resolve_path(explicit: Option<&Path>, system_default: bool) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let system = Path::new(SYSTEM_CONFIG);
    (system_default && system.exists()).then(|| system.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("test.yaml"), text)
    }

    #[test]
    fn empty_file_is_the_default() {
        assert!(parse("").is_ok());
        assert!(parse("# nothing\n\n").is_ok());
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = parse("state_dir: /tmp/x\nlimitz: {}\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("test.yaml:2"), "{text}");
        assert!(text.contains("limitz"), "{text}");
    }
}
