//! The helper's system call filter (seccomp-bpf): what a parser that has
//! been taken over by a hostile file still cannot do.
//!
//! Installed by the helper after it confined itself ([`super::confine`]:
//! limits set, descriptors closed, tied to its parent) and before it reads
//! a byte of its input. The filter is a deny list, written here as a
//! classic BPF program (no crate: it is about a hundred instructions, and
//! `libc` has the constants), and it depends on whether the extractor runs
//! other programs ([`Policy`]):
//!
//! - every extractor: a system call of another ABI (i386 through `int
//!   0x80`, x32) kills the helper, as do `ptrace`, `process_vm_*`, the
//!   mount family, `chroot`, `pivot_root`, `kexec_*`, `bpf`,
//!   `perf_event_open`, the module calls, `unshare`, `setns`, the key
//!   ring, `userfaultfd`, `io_uring_*` (its operations bypass the filter),
//!   `open_by_handle_at`, `reboot`, `swapon`/`swapoff`, `acct`, setting
//!   the clock, `iopl`/`ioperm`; networking (`socket`, `socketpair`,
//!   `connect`, `bind`, `listen`, `accept*`; `socketpair` but for the
//!   local pair the standard library starts a program with) and changing the file system
//!   (opening for writing or creating, `unlink*`, `rename*`, `mkdir*`,
//!   `rmdir`, `link*`, `symlink*`, `mknod*`, `chmod*`, `chown*`,
//!   `truncate`) fail with `EPERM`;
//! - the extractors that run no program (PDF text, notes and files,
//!   Parquet, PST): `execve` and `execveat` kill the helper; a new process
//!   (`fork`, `vfork`, `clone` without `CLONE_THREAD`) and every `open`
//!   fail with `EPERM` (their input is standard input, already open), and
//!   signals go only to the helper itself;
//! - the extractors that run Tesseract or poppler (OCR of an image, of an
//!   image-only PDF's pages, of the images in a PDF's pages): they may
//!   fork and exec, and open files for reading (the programs read their
//!   language data, fonts and libraries); the filter is inherited by the
//!   programs they run, so Tesseract and `pdftoppm` are under it too.
//!
//! A kernel (or container) that refuses seccomp is no reason to fail a
//! scan: the helper carries on with its other confinement, and the
//! scanner says so once ([`available`]). Only x86_64 and aarch64 have
//! system call tables here; on another architecture no filter is built
//! ([`SeccompError::Architecture`]) and the helper carries on likewise.

use super::Kind;

/// Why no filter is in place.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// This build is for an architecture without a table here.
    #[error("no system call filter for this architecture")]
    Architecture,
    /// `PR_SET_NO_NEW_PRIVS` or `seccomp(2)` failed.
    #[error("the kernel refused the system call filter ({0})")]
    Refused(std::io::Error),
}

/// What the extractor needs beyond parsing bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// No program is run, no file opened: the input is standard input.
    NoPrograms,
    /// Programs (Tesseract, `pdftoppm`, `pdfinfo`) are run, and they read
    /// files.
    Programs,
}

impl Policy {
    /// The policy of extractor `kind`.
    pub fn of(kind: Kind) -> Policy {
        match kind {
            Kind::Pdf | Kind::PdfNotes | Kind::PdfFiles | Kind::Parquet | Kind::Pst => {
                Policy::NoPrograms
            }
            Kind::Ocr | Kind::PdfOcr | Kind::PdfImages => Policy::Programs,
        }
    }
}

/// A filter program, built (allocated) before it is installed, so that
/// installing it needs no allocation (a test installs it in a forked
/// child).
pub struct Filter(Vec<libc::sock_filter>);

/// `AUDIT_ARCH_*` of `<linux/audit.h>`: the ABI a system call came in by.
#[cfg(target_arch = "x86_64")]
const ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const ARCH: u32 = 0xC000_00B7;
/// x32 system calls on x86_64 carry this bit in their number.
#[cfg(target_arch = "x86_64")]
const X32_BIT: u32 = 0x4000_0000;

const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
/// `clone3` takes its flags in memory, which a filter cannot read: it
/// "does not exist", and the C library falls back to `clone`.
const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

/// Offsets in `struct seccomp_data`.
const NR: u32 = 0;
const ARCH_AT: u32 = 4;
/// The low 32 bits of argument `i` (little-endian on both architectures).
const fn arg(i: u32) -> u32 {
    16 + 8 * i
}

/// Flags that make an `open` write or create.
const WRITING: u32 = (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC) as u32;

/// What a rule does with its system call.
#[derive(Clone, Copy)]
enum Rule {
    /// Always this action.
    Always(u32),
    /// Allowed when argument `arg` has none of `mask`'s bits, else `EPERM`.
    NoBits { arg: u32, mask: u32 },
    /// Allowed when argument `arg` has a bit of `mask`, else `EPERM`.
    AnyBit { arg: u32, mask: u32 },
    /// Allowed when argument `arg` is `value`, else `EPERM`.
    Equals { arg: u32, value: u32 },
}

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

fn load(at: u32) -> libc::sock_filter {
    stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, at)
}

fn ret(action: u32) -> libc::sock_filter {
    stmt(libc::BPF_RET | libc::BPF_K, action)
}

const JEQ: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
const JSET: u32 = libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K;

impl Filter {
    /// The filter for `policy`, for the process whose id is `pid` (the
    /// only one a [`Policy::NoPrograms`] helper may signal).
    pub fn new(policy: Policy, pid: u32) -> Result<Filter, SeccompError> {
        let rules = rules(policy, pid)?;
        let mut p = Vec::with_capacity(8 + rules.len() * 6);
        p.push(load(ARCH_AT));
        p.push(jump(JEQ, ARCH, 1, 0));
        p.push(ret(KILL));
        p.push(load(NR));
        #[cfg(target_arch = "x86_64")]
        {
            p.push(jump(
                libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K,
                X32_BIT,
                0,
                1,
            ));
            p.push(ret(KILL));
        }
        // Each rule is a test of the number that skips its block, and a
        // block that always returns: the accumulator still holds the
        // number after a skipped block.
        for (nr, rule) in rules {
            let block = match rule {
                Rule::Always(action) => vec![ret(action)],
                Rule::NoBits { arg: i, mask } => {
                    vec![load(arg(i)), jump(JSET, mask, 1, 0), ret(ALLOW), ret(EPERM)]
                }
                Rule::AnyBit { arg: i, mask } => {
                    vec![load(arg(i)), jump(JSET, mask, 0, 1), ret(ALLOW), ret(EPERM)]
                }
                Rule::Equals { arg: i, value } => {
                    vec![load(arg(i)), jump(JEQ, value, 0, 1), ret(ALLOW), ret(EPERM)]
                }
            };
            p.push(jump(JEQ, nr, 0, block.len() as u8));
            p.extend(block);
        }
        p.push(ret(ALLOW));
        Ok(Filter(p))
    }

    /// Installs the filter on the calling thread (the helper has one when
    /// it does this), after `no_new_privs`, which seccomp requires of a
    /// process without `CAP_SYS_ADMIN`. Makes no allocation.
    pub fn install(&self) -> Result<(), SeccompError> {
        let prog = libc::sock_fprog {
            len: self.0.len() as u16,
            filter: self.0.as_ptr().cast_mut(),
        };
        // SAFETY: prctl with integer arguments; `prog` points at a live
        // program of `len` instructions for the duration of the call.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(SeccompError::Refused(std::io::Error::last_os_error()));
            }
            if libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            ) != 0
            {
                return Err(SeccompError::Refused(std::io::Error::last_os_error()));
            }
        }
        Ok(())
    }

    /// The number of instructions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the program is empty (never: it checks the architecture).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Installs the filter of extractor `kind` on the helper.
pub fn apply(kind: Kind) -> Result<(), SeccompError> {
    Filter::new(Policy::of(kind), std::process::id())?.install()
}

/// Whether this kernel takes the helper's filter: asked without installing
/// anything (`SECCOMP_GET_ACTION_AVAIL` for the action the filter uses).
/// `Err` with why not.
pub fn available() -> Result<(), SeccompError> {
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        return Err(SeccompError::Architecture);
    }
    let action: u32 = KILL;
    // SAFETY: the kernel reads one u32 at the pointer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    };
    if r != 0 {
        return Err(SeccompError::Refused(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// The rules of `policy`, as (system call number, rule).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn rules(policy: Policy, pid: u32) -> Result<Vec<(u32, Rule)>, SeccompError> {
    use Rule::*;
    let mut r: Vec<(libc::c_long, Rule)> = Vec::new();
    for nr in [
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_fsopen,
        libc::SYS_fsmount,
        libc::SYS_fsconfig,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_mount_setattr,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_userfaultfd,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_acct,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_adjtimex,
        libc::SYS_clock_adjtime,
        libc::SYS_quotactl,
        libc::SYS_fanotify_init,
        libc::SYS_personality,
    ] {
        r.push((nr, Always(KILL)));
    }
    #[cfg(target_arch = "x86_64")]
    for nr in [libc::SYS_iopl, libc::SYS_ioperm, libc::SYS_uselib] {
        r.push((nr, Always(KILL)));
    }
    for nr in [
        libc::SYS_socket,
        libc::SYS_connect,
        libc::SYS_bind,
        libc::SYS_listen,
        libc::SYS_accept,
        libc::SYS_accept4,
        libc::SYS_unlinkat,
        libc::SYS_renameat,
        libc::SYS_renameat2,
        libc::SYS_mkdirat,
        libc::SYS_linkat,
        libc::SYS_symlinkat,
        libc::SYS_mknodat,
        libc::SYS_fchmod,
        libc::SYS_fchmodat,
        libc::SYS_fchown,
        libc::SYS_fchownat,
        libc::SYS_truncate,
        libc::SYS_rt_sigqueueinfo,
        libc::SYS_rt_tgsigqueueinfo,
        // Its flags are in memory, out of a filter's reach.
        libc::SYS_openat2,
    ] {
        r.push((nr, Always(EPERM)));
    }
    #[cfg(target_arch = "x86_64")]
    for nr in [
        libc::SYS_creat,
        libc::SYS_unlink,
        libc::SYS_rename,
        libc::SYS_mkdir,
        libc::SYS_rmdir,
        libc::SYS_link,
        libc::SYS_symlink,
        libc::SYS_mknod,
        libc::SYS_chmod,
        libc::SYS_chown,
        libc::SYS_lchown,
    ] {
        r.push((nr, Always(EPERM)));
    }
    match policy {
        Policy::NoPrograms => {
            r.push((libc::SYS_execve, Always(KILL)));
            r.push((libc::SYS_execveat, Always(KILL)));
            r.push((libc::SYS_openat, Always(EPERM)));
            r.push((libc::SYS_socketpair, Always(EPERM)));
            r.push((libc::SYS_pidfd_send_signal, Always(EPERM)));
            r.push((libc::SYS_clone3, Always(ENOSYS)));
            // A thread, not a process.
            let thread = libc::CLONE_THREAD as u32;
            r.push((
                libc::SYS_clone,
                AnyBit {
                    arg: 0,
                    mask: thread,
                },
            ));
            r.push((libc::SYS_kill, Equals { arg: 0, value: pid }));
            r.push((libc::SYS_tgkill, Equals { arg: 0, value: pid }));
            #[cfg(target_arch = "x86_64")]
            for nr in [libc::SYS_open, libc::SYS_fork, libc::SYS_vfork] {
                r.push((nr, Always(EPERM)));
            }
        }
        Policy::Programs => {
            // The standard library starts a program with a pair of local
            // sockets between parent and child: nothing leaves the host.
            let local = libc::AF_UNIX as u32;
            r.push((
                libc::SYS_socketpair,
                Equals {
                    arg: 0,
                    value: local,
                },
            ));
            r.push((
                libc::SYS_openat,
                NoBits {
                    arg: 2,
                    mask: WRITING,
                },
            ));
            #[cfg(target_arch = "x86_64")]
            r.push((
                libc::SYS_open,
                NoBits {
                    arg: 1,
                    mask: WRITING,
                },
            ));
        }
    }
    Ok(r.into_iter().map(|(nr, rule)| (nr as u32, rule)).collect())
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn rules(_policy: Policy, _pid: u32) -> Result<Vec<(u32, Rule)>, SeccompError> {
    Err(SeccompError::Architecture)
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;

    /// Runs `body` in a forked child with `policy`'s filter on, and
    /// returns how the child ended: `Ok(exit code)` or `Err(signal)`.
    /// The filter is built before the fork; the child allocates nothing.
    fn in_child(policy: Policy, body: fn() -> i32) -> Result<i32, i32> {
        in_child_with(Filter::new(policy, 0).unwrap(), body)
    }

    /// As [`in_child`], with `filter`.
    fn in_child_with(filter: Filter, body: fn() -> i32) -> Result<i32, i32> {
        // SAFETY: the child calls only async-signal-safe functions (raw
        // system calls) and leaves by _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // The filter is built for pid 0, not the child's: its own
            // signals are not tested here (rebuilding would allocate).
            let code = match filter.install() {
                Ok(()) => body(),
                Err(_) => 99,
            };
            // SAFETY: leaves the child without running the parent's
            // atexit handlers or destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(waited, pid);
        if libc::WIFEXITED(status) {
            Ok(libc::WEXITSTATUS(status))
        } else {
            Err(libc::WTERMSIG(status))
        }
    }

    fn errno() -> i32 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }

    fn try_socket() -> i32 {
        // SAFETY: a plain system call.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
        if fd < 0 {
            return errno();
        }
        // SAFETY: our own descriptor.
        unsafe { libc::close(fd) };
        0
    }

    fn try_exec() -> i32 {
        let path = c"/bin/true";
        let argv = [path.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null()];
        // SAFETY: NUL-terminated path and arrays.
        unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        errno()
    }

    fn try_open_read() -> i32 {
        // SAFETY: a NUL-terminated path.
        let fd = unsafe { libc::open(c"/proc/self/status".as_ptr(), libc::O_RDONLY) };
        if fd < 0 {
            return errno();
        }
        // SAFETY: our own descriptor.
        unsafe { libc::close(fd) };
        0
    }

    fn try_open_write() -> i32 {
        // SAFETY: a NUL-terminated path.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY) };
        if fd >= 0 { 0 } else { errno() }
    }

    fn try_ptrace() -> i32 {
        // SAFETY: a plain system call.
        unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) };
        errno()
    }

    fn try_unlink() -> i32 {
        // SAFETY: a NUL-terminated path that does not exist.
        unsafe { libc::unlink(c"/nonexistent-leakhound-seccomp-test".as_ptr()) };
        errno()
    }

    fn try_signal_parent() -> i32 {
        // SAFETY: signal 0 only checks that the process may be signalled.
        if unsafe { libc::kill(libc::getppid(), 0) } == 0 {
            0
        } else {
            errno()
        }
    }

    fn try_fork() -> i32 {
        // SAFETY: a plain system call; a child that did start leaves at once.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe { libc::_exit(0) };
        }
        if pid > 0 { 0 } else { errno() }
    }

    /// A test must not pass because seccomp is missing where it runs.
    fn require_seccomp() {
        available().expect("this kernel refuses seccomp; the filter cannot be tested here");
    }

    #[test]
    fn a_parser_helper_cannot_open_a_socket() {
        require_seccomp();
        assert_eq!(in_child(Policy::NoPrograms, try_socket), Ok(libc::EPERM));
        assert_eq!(in_child(Policy::Programs, try_socket), Ok(libc::EPERM));
    }

    #[test]
    fn a_parser_helper_is_killed_when_it_execs() {
        require_seccomp();
        assert_eq!(in_child(Policy::NoPrograms, try_exec), Err(libc::SIGSYS));
    }

    #[test]
    fn an_ocr_helper_may_exec_its_programs() {
        require_seccomp();
        // /bin/true runs under the filter (inherited) and exits 0.
        assert_eq!(in_child(Policy::Programs, try_exec), Ok(0));
    }

    #[test]
    fn a_parser_helper_opens_nothing_an_ocr_helper_reads_only() {
        require_seccomp();
        assert_eq!(in_child(Policy::NoPrograms, try_open_read), Ok(libc::EPERM));
        assert_eq!(in_child(Policy::Programs, try_open_read), Ok(0));
        assert_eq!(in_child(Policy::Programs, try_open_write), Ok(libc::EPERM));
    }

    #[test]
    fn every_helper_is_killed_by_ptrace_and_cannot_unlink() {
        require_seccomp();
        for policy in [Policy::NoPrograms, Policy::Programs] {
            assert_eq!(in_child(policy, try_ptrace), Err(libc::SIGSYS));
            assert_eq!(in_child(policy, try_unlink), Ok(libc::EPERM));
        }
    }

    #[test]
    fn a_parser_helper_cannot_fork() {
        require_seccomp();
        assert_eq!(in_child(Policy::NoPrograms, try_fork), Ok(libc::EPERM));
        assert_eq!(in_child(Policy::Programs, try_fork), Ok(0));
    }

    #[test]
    fn a_parser_helper_cannot_signal_another_process() {
        require_seccomp();
        assert_eq!(
            in_child(Policy::NoPrograms, try_signal_parent),
            Ok(libc::EPERM)
        );
        assert_eq!(in_child(Policy::Programs, try_signal_parent), Ok(0));
    }

    /// In a child whose `seccomp(2)` "does not exist" (a filter of our own
    /// says so, as an old kernel or a container would): the helper's
    /// filter is refused, and the process carries on.
    fn refused_then_carries_on() -> i32 {
        if available().is_ok() {
            return 1;
        }
        // Built before the fork (no allocation here).
        match PARSER_FILTER.get().map(Filter::install) {
            Some(Err(SeccompError::Refused(_))) => {}
            _ => return 2,
        }
        // Still alive and still able to do what the filter would refuse.
        if try_socket() != 0 {
            return 3;
        }
        0
    }

    static PARSER_FILTER: std::sync::OnceLock<Filter> = std::sync::OnceLock::new();

    #[test]
    fn a_kernel_that_refuses_seccomp_leaves_the_helper_running() {
        require_seccomp();
        PARSER_FILTER.get_or_init(|| Filter::new(Policy::NoPrograms, 0).unwrap());
        // A filter that answers ENOSYS to seccomp(2) and allows the rest.
        let nosys = Filter(vec![
            load(NR),
            jump(JEQ, libc::SYS_seccomp as u32, 0, 1),
            ret(ENOSYS),
            ret(ALLOW),
        ]);
        assert_eq!(in_child_with(nosys, refused_then_carries_on), Ok(0));
    }

    #[test]
    fn without_the_filter_the_same_calls_succeed() {
        // The checks above are not vacuous: unfiltered, they work here.
        assert_eq!(try_socket(), 0);
        assert_eq!(try_open_read(), 0);
        assert_eq!(try_signal_parent(), 0);
    }
}
