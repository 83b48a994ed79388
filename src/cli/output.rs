//! `-f/--format human|json|jsonl` and `-o FILE`: the output options every
//! command that prints data shares (`rules list`, `quarantine list`,
//! `quarantine show`, `status`; `scan` has the same two options, with more
//! formats).
//!
//! A command hands its records and a human rendering to [`OutputArgs::emit`];
//! the records leave as one JSON document (`json`), one JSON object per line
//! (`jsonl`) or the human text, on standard output or in FILE. The
//! per-command `--json` switches of old are kept as a hidden, deprecated
//! alias of `--format json`.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::Value;

/// What a data command prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    /// For people.
    #[default]
    Human,
    /// One JSON document.
    Json,
    /// One JSON object per line, one per record.
    Jsonl,
}

/// The shared output options (`#[command(flatten)]`).
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format: human, json (one document), jsonl (one record per line).
    #[arg(short = 'f', long, value_enum, default_value_t = DataFormat::Human)]
    pub format: DataFormat,

    /// Write to FILE instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Deprecated: the same as --format json.
    #[arg(long, hide = true)]
    pub json: bool,
}

/// Output that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {path}: {source}")]
    File { path: PathBuf, source: io::Error },
    #[error("cannot write to standard output: {0}")]
    Stdout(io::Error),
    #[error("cannot encode the output as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl OutputArgs {
    /// The format asked for (`--json` is `json`).
    pub fn format(&self) -> DataFormat {
        if self.json {
            DataFormat::Json
        } else {
            self.format
        }
    }

    /// Writes `document` (json), each of `records` on its line (jsonl), or
    /// what `human` writes, to FILE (replaced) or standard output.
    pub fn emit(
        &self,
        document: &Value,
        records: &[Value],
        human: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), OutputError> {
        let mut text = Vec::new();
        match self.format() {
            DataFormat::Json => {
                serde_json::to_writer_pretty(&mut text, document)?;
                text.push(b'\n');
            }
            DataFormat::Jsonl => {
                for r in records {
                    serde_json::to_writer(&mut text, r)?;
                    text.push(b'\n');
                }
            }
            // Writing to a Vec cannot fail.
            DataFormat::Human => human(&mut text).map_err(OutputError::Stdout)?,
        }
        match &self.output {
            Some(path) => std::fs::write(path, &text).map_err(|source| OutputError::File {
                path: path.clone(),
                source,
            }),
            None => {
                let mut out = io::stdout().lock();
                match out.write_all(&text).and_then(|()| out.flush()) {
                    // A reader that closed the pipe (`| head -1`) has all it
                    // wanted: end quietly, as every command does.
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => super::exit_broken_pipe(),
                    r => r.map_err(OutputError::Stdout),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        out: OutputArgs,
    }

    #[test]
    fn json_is_a_hidden_alias_of_format_json() {
        let t = T::try_parse_from(["t", "--json"]).unwrap();
        assert_eq!(t.out.format(), DataFormat::Json);
        let t = T::try_parse_from(["t", "-f", "jsonl", "-o", "x"]).unwrap();
        assert_eq!(t.out.format(), DataFormat::Jsonl);
        assert_eq!(t.out.output, Some(PathBuf::from("x")));
        let t = T::try_parse_from(["t"]).unwrap();
        assert_eq!(t.out.format(), DataFormat::Human);
    }

    #[test]
    fn emit_writes_each_format_to_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o");
        let doc = serde_json::json!({"items": [{"a": 1}, {"a": 2}]});
        let recs = vec![serde_json::json!({"a": 1}), serde_json::json!({"a": 2})];
        for (f, want) in [
            (DataFormat::Jsonl, "{\"a\":1}\n{\"a\":2}\n".to_string()),
            (DataFormat::Human, "two items\n".to_string()),
            (
                DataFormat::Json,
                format!("{}\n", serde_json::to_string_pretty(&doc).unwrap()),
            ),
        ] {
            let o = OutputArgs {
                format: f,
                output: Some(path.clone()),
                json: false,
            };
            o.emit(&doc, &recs, |w| writeln!(w, "two items")).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), want);
        }
    }
}
