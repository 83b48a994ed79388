//! The helper's program: `leakhound __extract KIND`.
//!
//! Confines itself ([`super::confine`]), reads one input from standard
//! input (at most `--max-input` bytes), hands it to the extractor named by
//! [`Kind`], and speaks the protocol of [`super`] on standard output,
//! standard error and its exit code. The same program for every
//! extractor: a new format adds an extractor, not a second copy of this.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use super::{
    EXIT_DOCUMENT, EXIT_OK, EXIT_PAGES, HelperLimits, Kind, MAX_PAGE_LINES, MAX_REASON, clean,
};

/// The helper: confines itself, reads one input from standard input and
/// writes its parts to standard output (see [`super`] for the protocol).
pub fn helper_main(kind: Kind, limits: HelperLimits) -> ExitCode {
    // Parsers panic on hostile files, and a panic's message may quote the
    // file: none is printed. Parts that panic are caught and reported.
    std::panic::set_hook(Box::new(|_| {}));
    if let Err(why) = super::confine::confine(&limits) {
        return fail(&why.to_string());
    }
    // Before the first byte of input: the system calls a parser never
    // needs. A kernel that refuses the filter is no reason to fail the
    // scan (the scanner says so once); the confinement above holds.
    if super::seccomp::Policy::of(kind) == super::seccomp::Policy::Programs {
        super::ocr::open_dev_null();
    }
    let _ = super::seccomp::apply(kind);
    let words = kind.words();
    // A store on disk given as the file itself (see the protocol in
    // `super`): read in place, never copied into memory.
    if let Some(file) = seekable_stdin(kind) {
        match file.metadata() {
            Ok(meta) if meta.len() > limits.max_input => {
                return fail(&format!(
                    "the {} is larger than it was announced",
                    words.noun
                ));
            }
            Ok(_) => {}
            Err(e) => return fail(&format!("cannot read the {}: {}", words.noun, e.kind())),
        }
        let stdout = io::stdout();
        let mut out = io::BufWriter::with_capacity(64 << 10, stdout.lock());
        let result = kind.extract_file(file, &mut out);
        if out.flush().is_err() {
            return fail("the scanner stopped reading");
        }
        return match result {
            Some(result) => finish(kind, result),
            None => fail("this extractor cannot read a file in place"),
        };
    }
    let mut data = Vec::new();
    let read = io::stdin()
        .lock()
        .take(limits.max_input.saturating_add(1))
        .read_to_end(&mut data);
    if let Err(e) = read {
        return fail(&format!("cannot read the {}: {}", words.noun, e.kind()));
    }
    if data.len() as u64 > limits.max_input {
        return fail(&format!(
            "the {} is larger than it was announced",
            words.noun
        ));
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 << 10, stdout.lock());
    let result = kind.extract(&data, &mut out);
    if out.flush().is_err() {
        return fail("the scanner stopped reading");
    }
    finish(kind, result)
}

/// Standard input as a file to seek in, when the kind reads files in place
/// and standard input is a regular file (not the scanner's pipe).
fn seekable_stdin(kind: Kind) -> Option<std::fs::File> {
    use std::os::fd::AsFd;
    if !kind.seeks() {
        return None;
    }
    let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
    let file = std::fs::File::from(fd);
    file.metadata().ok()?.is_file().then_some(file)
}

/// Reports the extractor's result on standard error and the exit code.
fn finish(kind: Kind, result: Result<super::FailedParts, super::Unreadable>) -> ExitCode {
    let words = kind.words();
    match result {
        Ok(failed) if failed.is_empty() => ExitCode::from(EXIT_OK),
        Ok(failed) => {
            let mut err = io::stderr().lock();
            for (part, why) in failed.iter().take(MAX_PAGE_LINES) {
                let _ = writeln!(err, "{} {part}: {}", words.part, clean(why, MAX_REASON));
            }
            if failed.len() > MAX_PAGE_LINES {
                let _ = writeln!(
                    err,
                    "and {} more {}",
                    failed.len() - MAX_PAGE_LINES,
                    words.parts
                );
            }
            ExitCode::from(EXIT_PAGES)
        }
        Err(why) => fail(&why.0),
    }
}

/// Reports why the input could not be read, and exits.
fn fail(why: &str) -> ExitCode {
    let line = clean(why, MAX_REASON).replace('\n', " ");
    let _ = writeln!(io::stderr().lock(), "{line}");
    ExitCode::from(EXIT_DOCUMENT)
}
