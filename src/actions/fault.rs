//! Fault injection for the crash-safety tests.
//!
//! `LEAKHOUND_FAULT=<step>` (e.g. `quarantine:after-copy`) makes the
//! process kill itself with SIGKILL when it reaches that named step of an
//! action, exactly as a power cut or the OOM killer would stop it there.
//! `LEAKHOUND_FAULT=stop:<step>` makes it stop itself there (SIGSTOP) until
//! the test sends SIGCONT, so that a test can act in between (start a
//! writer while a redaction holds its lease).
//! Compiled in on purpose: the tests exercise the real binary, and the hook
//! can do nothing but stop the process, which anyone able to set our
//! environment can do anyway.

use std::sync::OnceLock;

/// The environment variable naming the step to die at.
pub const FAULT_ENV: &str = "LEAKHOUND_FAULT";

/// Every named step, in the order an action passes them (for the tests).
pub const STEPS: &[&str] = &[
    "redact:after-journal",
    "redact:after-temp",
    "redact:after-rescan",
    "redact:before-exchange",
    "redact:after-exchange",
    "redact:after-rename",
    "redact:before-journal-end",
    "quarantine:after-begin",
    "quarantine:after-copy",
    "quarantine:after-commit",
    "quarantine:after-remove",
    "restore:after-mark",
    "restore:after-temp",
    "restore:after-rename",
    "purge:after-mark",
];

fn wanted() -> Option<&'static str> {
    static STEP: OnceLock<Option<String>> = OnceLock::new();
    STEP.get_or_init(|| std::env::var(FAULT_ENV).ok())
        .as_deref()
}

/// Dies here (SIGKILL) if `LEAKHOUND_FAULT` names this step; stops here
/// (SIGSTOP) if it names `stop:` and this step.
pub fn point(step: &str) {
    if wanted().and_then(|w| w.strip_prefix("stop:")) == Some(step) {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::STOP);
        return;
    }
    if wanted() == Some(step) {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
        // SIGKILL cannot be caught; never go on past the step.
        std::process::abort();
    }
}
