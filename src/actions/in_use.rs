//! Is another process writing this file? Redaction replaces a file by a
//! new inode; a process that holds the old one open for writing (a logger
//! appending, an editor, `cat >> f`) would go on writing into the unlinked
//! old inode and every byte it writes after the snapshot would be lost.
//!
//! The open file of an action enters ([`std::fs::File`] and its `fstat`);
//! what leaves is a held [`Lease`], or a [`Busy`] saying who is writing or
//! why it cannot be told.
//!
//! Two mechanisms, in this order:
//!
//! 1. A read lease (`fcntl(F_SETLEASE, F_RDLCK)`) on our read-only
//!    descriptor. The kernel grants it only while no descriptor anywhere
//!    (any process, any namespace, shared writable mappings included) has
//!    the file open for writing, and while it is held, any `open` for
//!    writing or `truncate` of the file *blocks* and breaks the lease
//!    (`F_GETLEASE` turns to `F_UNLCK`). So the holder can replace the file
//!    and then ask whether a writer arrived meanwhile; that writer has not
//!    written yet and the replacement can still be undone. This is the only
//!    way a process can learn of a writer that is about to open the file.
//!    It needs the file's owner or `CAP_LEASE`, and a file system that
//!    supports leases (local ones do; NFS and FUSE mostly do not).
//! 2. Where no lease can be taken: every `/proc/PID/fd/N` whose inode is
//!    the file's, with the access mode from `/proc/PID/fdinfo/N`. This sees
//!    only this host's processes, only those whose `/proc` entries we may
//!    read, and not the instant between the check and the rename; when a
//!    process's descriptors cannot be read, the answer is "cannot tell", and
//!    the file is left alone.
//!
//! The `/proc` scan also names the writer's pid in the reason when a lease
//! is refused because of one. A break of a lease sends `SIGIO`, which would
//! terminate the process: [`Lease::take`] sets it to be ignored first
//! (unless the program installed a handler of its own).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::Once;

use rustix::fs::Stat;

/// Why a file must not be replaced now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// Another process has it open for writing (`pid` when `/proc` shows
    /// which).
    #[error("in use by another process ({}): it has the file open for writing; \
             left as it is, to be redacted once it is closed", holder(.pid))]
    Writer { pid: Option<u32> },
    /// A process began opening it for writing while it was being replaced;
    /// the replacement was undone before that process could write.
    #[error(
        "in use by another process: it opened the file for writing while leakhound \
             was replacing it; the replacement was undone and the file left as it is, \
             to be redacted once it is closed"
    )]
    Opening,
    /// Neither a lease nor `/proc` can tell whether a writer exists.
    #[error(
        "cannot tell whether another process is writing the file ({0}); left as it is \
             (give leakhound CAP_LEASE, or run it as root or as the file's owner)"
    )]
    Unknown(String),
}

fn holder(pid: &Option<u32>) -> String {
    match pid {
        Some(p) => format!("pid {p}"),
        None => "open for writing".to_string(),
    }
}

/// A read lease held on a file; released when dropped.
#[derive(Debug)]
pub struct Lease<'f> {
    file: &'f File,
}

/// What taking a lease came to.
#[derive(Debug)]
pub enum Taken<'f> {
    /// Held: no writer now, and any new one blocks until it is dropped.
    Held(Lease<'f>),
    /// The kernel would not grant one for a reason other than a writer
    /// (not the owner and no `CAP_LEASE`, leases disabled, a file system
    /// without leases): the `/proc` scan found no writer.
    Unavailable,
}

impl<'f> Lease<'f> {
    /// Takes a read lease on `file` (opened read-only), or, where leases
    /// cannot be had, checks `/proc` for writers. `st` is the file's
    /// `fstat`, to recognise it in `/proc`.
    pub fn take(file: &'f File, st: &Stat) -> Result<Taken<'f>, Busy> {
        ignore_sigio();
        // SAFETY: fcntl on a descriptor we own (borrowed from `file`, alive
        // for the call); F_SETLEASE takes an int argument.
        let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_RDLCK) };
        if r == 0 {
            return Ok(Taken::Held(Lease { file }));
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            // EAGAIN: someone has it open for writing. Name them if we can.
            Some(libc::EAGAIN) => Err(Busy::Writer {
                pid: writers(st).pids.first().copied(),
            }),
            _ => {
                let seen = writers(st);
                if let Some(&pid) = seen.pids.first() {
                    Err(Busy::Writer { pid: Some(pid) })
                } else if let Some(why) = seen.unreadable {
                    Err(Busy::Unknown(format!("no lease ({err}), and {why}")))
                } else {
                    Ok(Taken::Unavailable)
                }
            }
        }
    }

    /// Whether a process has started to open the file for writing (or
    /// truncate it) since the lease was taken: it is blocked in `open`
    /// until the lease is dropped.
    pub fn broken(&self) -> bool {
        // SAFETY: as in `take`; F_GETLEASE takes no argument.
        let r = unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_GETLEASE) };
        r != libc::F_RDLCK
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // SAFETY: as in `take`. Releasing lets a blocked opener go on.
        unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK) };
    }
}

/// A lease break signals the holder with SIGIO, whose default action
/// terminates the process. Ignore it, unless a handler is installed.
fn ignore_sigio() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: sigaction with a zeroed (valid) struct to read the current
        // disposition, then SIG_IGN, which runs no code in the handler.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGIO, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_DFL
            {
                let mut ign: libc::sigaction = std::mem::zeroed();
                ign.sa_sigaction = libc::SIG_IGN;
                libc::sigaction(libc::SIGIO, &ign, std::ptr::null_mut());
            }
        }
    });
}

/// Processes with the file open for writing, as `/proc` shows them.
#[derive(Debug, Default)]
pub struct Writers {
    pub pids: Vec<u32>,
    /// Why the answer may be incomplete (a process whose descriptors we
    /// may not read), if it may be.
    pub unreadable: Option<String>,
}

/// Scans `/proc/*/fd` for descriptors of the inode `st` open for writing,
/// other than this process's.
pub fn writers(st: &Stat) -> Writers {
    let mut out = Writers::default();
    // With hidepid (systemd's ProtectProc=invisible) other users' processes
    // are not even listed: the view is incomplete, and nothing else shows it.
    if let Some(hidden) = proc_hides_processes() {
        out.unreadable = Some(hidden);
    }
    let me = std::process::id();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        out.unreadable = Some("/proc cannot be read".to_string());
        return out;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let fds = match std::fs::read_dir(p.path().join("fd")) {
            Ok(fds) => fds,
            // Exited meanwhile: it holds nothing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                out.unreadable.get_or_insert_with(|| {
                    format!("the descriptors of pid {pid} cannot be read: {e}")
                });
                continue;
            }
        };
        for fd in fds.flatten() {
            // stat follows the magic link to the open file itself.
            let Ok(meta) = std::fs::metadata(fd.path()) else {
                continue;
            };
            use std::os::unix::fs::MetadataExt;
            if meta.dev() != st.st_dev || meta.ino() != st.st_ino {
                continue;
            }
            let info = p.path().join("fdinfo").join(fd.file_name());
            let writable = std::fs::read_to_string(info)
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("flags:"))
                        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                })
                // Unknown access mode: assume the worst.
                .is_none_or(|flags| flags & 0o3 != 0);
            if writable && !out.pids.contains(&pid) {
                out.pids.push(pid);
            }
        }
    }
    out
}

/// Why `/proc` may not list every process: mounted with `hidepid` other
/// than `0`/`off` (the processes of other users are invisible).
fn proc_hides_processes() -> Option<String> {
    hidepid_in(&std::fs::read_to_string("/proc/self/mountinfo").ok()?)
}

/// [`proc_hides_processes`] on the text of `/proc/self/mountinfo`.
fn hidepid_in(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let mut halves = line.splitn(2, " - ");
        let mount_point = halves.next()?.split(' ').nth(4)?;
        let mut rest = halves.next()?.split(' ');
        let (fstype, options) = (rest.next()?, rest.nth(1)?);
        if mount_point != "/proc" || fstype != "proc" {
            return None;
        }
        let hidepid = options
            .split(',')
            .find_map(|o| o.strip_prefix("hidepid="))?;
        (hidepid != "0" && hidepid != "off").then(|| {
            format!("/proc is mounted with hidepid={hidepid}, which hides other users' processes")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn hidepid_on_proc_is_noticed() {
        let hidden = "22 27 0:21 / /proc rw,nosuid shared:12 - proc proc rw,hidepid=invisible\n";
        assert!(hidepid_in(hidden).unwrap().contains("hidepid=invisible"));
        assert_eq!(
            hidepid_in("22 27 0:21 / /proc rw - proc proc rw,hidepid=0\n"),
            None
        );
        assert_eq!(
            hidepid_in("22 27 0:21 / /proc rw,relatime - proc proc rw\n"),
            None
        );
        let elsewhere = "30 27 0:40 / /run/x rw - proc proc rw,hidepid=2\n";
        assert_eq!(hidepid_in(elsewhere), None);
    }

    #[test]
    fn a_lease_is_refused_while_another_process_writes_and_breaks_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, b"x\n").unwrap();
        let file = File::open(&path).unwrap();
        let st = rustix::fs::fstat(&file).unwrap();
        // A child holding it open for writing: refused, and named.
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("exec 3>>\"$1\"; echo ready; read x")
            .arg("sh")
            .arg(&path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        match Lease::take(&file, &st) {
            Err(Busy::Writer { pid }) => assert_eq!(pid, Some(child.id())),
            other => panic!("a writer was not seen: {other:?}"),
        }
        child.stdin.as_mut().unwrap().write_all(b"\n").unwrap();
        child.wait().unwrap();
        // No writer: held; an opener for writing breaks it and waits.
        let Ok(Taken::Held(lease)) = Lease::take(&file, &st) else {
            panic!("no lease without a writer (run the tests as root or the owner)")
        };
        assert!(!lease.broken());
        // Another process appends: its open blocks until the lease goes.
        let mut opener = std::process::Command::new("sh")
            .arg("-c")
            .arg("echo more >> \"$1\"")
            .arg("sh")
            .arg(&path)
            .spawn()
            .unwrap();
        let t = std::time::Instant::now();
        while !lease.broken() {
            assert!(t.elapsed().as_secs() < 10, "the lease never broke");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            opener.try_wait().unwrap().is_none(),
            "the opener did not wait"
        );
        drop(lease);
        assert!(opener.wait().unwrap().success());
        assert_eq!(std::fs::read(&path).unwrap(), b"x\nmore\n");
    }
}
