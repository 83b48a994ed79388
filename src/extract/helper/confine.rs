//! What the helper does to itself before it reads a byte of its input.
//!
//! Every extractor runs under the same confinement, whatever it parses:
//! it dies with its parent; no capability, no privilege gained by exec;
//! bounded address space and CPU time; no core dump (it would hold the
//! input); no file written; the first to go when memory runs short; no
//! descriptor but the three pipes. The limits come from the helper's
//! command line ([`HelperLimits`]), set by the scanner that starts it.

use rustix::io::Errno;

use super::HelperLimits;

/// Why the helper could not confine itself: it then reads nothing, and
/// the scanner reports the file `partial` with this reason.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    /// `PR_SET_PDEATHSIG` failed.
    #[error("cannot tie the helper to its parent: {0}")]
    Parent(Errno),
    /// The parent died before the helper tied itself to it.
    #[error("the scanner is gone")]
    ParentGone,
    /// `PR_SET_NO_NEW_PRIVS` failed.
    #[error("cannot set no_new_privs: {0}")]
    NoNewPrivs(Errno),
    /// `capset` failed.
    #[error("cannot drop capabilities: {0}")]
    Capabilities(Errno),
    /// A resource limit could not be set.
    #[error("cannot set the {what} limit: {source}")]
    Limit {
        /// Which limit, in words.
        what: &'static str,
        /// Why.
        source: Errno,
    },
}

/// Limits the helper to what it needs (see the module's documentation).
pub(super) fn confine(limits: &HelperLimits) -> Result<(), ConfineError> {
    use rustix::process::{Resource, Rlimit, Signal, setrlimit};
    if let Some(parent) = limits.parent {
        // The signal comes when the thread that started us ends, which the
        // scanner only lets happen after reaping us, or when it dies.
        rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
            .map_err(ConfineError::Parent)?;
        // The parent may have died before the line above.
        if rustix::process::getppid().map(|p| p.as_raw_nonzero().get() as u32) != Some(parent) {
            return Err(ConfineError::ParentGone);
        }
    }
    // No privilege gained through exec; none kept: the daemon's ambient
    // capabilities (CAP_DAC_READ_SEARCH, to read every file) come with
    // exec, and are the scanner's business, not the parser's.
    rustix::thread::set_no_new_privs(true).map_err(ConfineError::NoNewPrivs)?;
    let none = rustix::thread::CapabilitySet::empty();
    rustix::thread::set_capabilities(
        None,
        rustix::thread::CapabilitySets {
            effective: none,
            permitted: none,
            inheritable: none,
        },
    )
    .map_err(ConfineError::Capabilities)?;
    // Best effort: a kernel without it, or a read-only /proc, is no reason
    // to fail. Where memory runs short (the service's MemoryMax), the
    // kernel then kills a helper rather than the scanner.
    let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
    let set = |resource: Resource, soft: u64, hard: u64, what: &'static str| {
        setrlimit(
            resource,
            Rlimit {
                current: Some(soft),
                maximum: Some(hard),
            },
        )
        .map_err(|source| ConfineError::Limit { what, source })
    };
    set(Resource::Core, 0, 0, "core dump")?;
    set(Resource::Fsize, 0, 0, "file size")?;
    // SIGXCPU at the soft limit, SIGKILL a second later.
    let cpu = limits.max_cpu.max(1);
    set(Resource::Cpu, cpu, cpu.saturating_add(1), "CPU time")?;
    set(Resource::As, limits.max_memory, limits.max_memory, "memory")?;
    close_inherited();
    Ok(())
}

/// Closes every descriptor above standard error: whatever a parent left
/// open without close-on-exec is none of the parser's business.
fn close_inherited() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: nothing in this process owns a descriptor above 2: the
        // helper has opened none but the directory listed above, which is
        // closed again (its number fails the check below). The borrow
        // lives only for the check.
        let open = rustix::io::fcntl_getfd(unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) });
        if open.is_ok() {
            // SAFETY: as above: an open descriptor that nothing owns.
            unsafe { rustix::io::close(fd) };
        }
    }
}
