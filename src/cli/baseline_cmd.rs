//! `leakhound baseline create`: the same scan as `leakhound scan` (every
//! option, the project file included), with a sink that writes a baseline
//! instead of a report.

use std::collections::BTreeSet;
use std::io::{self, Write};

use super::scan_cmd::{self, Mode};
use super::{Exit, ScanArgs};
use crate::fingerprint::Fingerprinter;
use crate::project::baseline::{BaselineFile, entry_of};
use crate::report::Sink;
use crate::report::event::{BaselineEntry, Envelope, Event};

pub fn run(args: ScanArgs, config_path: Option<&std::path::Path>) -> Exit {
    scan_cmd::run_mode(args, Mode::Baseline, config_path)
}

/// Collects findings (already relative to the root) and writes the
/// baseline file at the end.
pub struct BaselineSink<W: Write> {
    out: W,
    template: BaselineFile,
    entries: BTreeSet<BaselineEntry>,
}

impl<W: Write> BaselineSink<W> {
    pub fn new(out: W, fp: &Fingerprinter) -> Self {
        BaselineSink {
            out,
            template: BaselineFile::new(fp, BTreeSet::new()),
            entries: BTreeSet::new(),
        }
    }
}

impl<W: Write> Sink for BaselineSink<W> {
    fn event(&mut self, _env: &Envelope, ev: &Event) -> io::Result<()> {
        if let Event::Finding(f) = ev {
            self.entries.insert(entry_of(f));
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let mut file = self.template.clone();
        file.entries = std::mem::take(&mut self.entries).into_iter().collect();
        let n = file.entries.len();
        self.out.write_all(file.to_json().as_bytes())?;
        self.out.flush()?;
        eprintln!("leakhound: baseline written: {n} entries");
        Ok(())
    }
}
