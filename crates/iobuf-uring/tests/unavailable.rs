//! io_uring switched off: a typed error at set-up, in child processes where a seccomp filter
//! makes `io_uring_setup` fail the way sandboxes and old kernels do.

use std::os::unix::process::CommandExt;
use std::process::Command;

use iobuf_uring::{Ring, Unavailable, UringError};

/// Runs `child` with `io_uring_setup` failing with `errno`.
fn run_child(child: &str, errno: i32) {
    let exe = std::env::current_exe().unwrap();
    let mut command = Command::new(exe);
    command.args(["--ignored", "--exact", child, "--nocapture"]);
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe system
    // calls (prctl), reading a filter built on its stack.
    unsafe { command.pre_exec(move || deny_io_uring_setup(errno)) };
    let output = command.output().expect("re-running the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child {child} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 passed"), "the child test did not run:\n{stdout}");
}

/// Installs a seccomp filter failing `io_uring_setup` with `errno` (x86_64 and aarch64 system
/// call numbers agree: 425).
fn deny_io_uring_setup(errno: i32) -> std::io::Result<()> {
    const LOAD_NR: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JUMP_EQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RETURN: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let filter = [
        // seccomp_data.nr is at offset 0.
        libc::sock_filter { code: LOAD_NR, jt: 0, jf: 0, k: 0 },
        libc::sock_filter { code: JUMP_EQ, jt: 0, jf: 1, k: libc::SYS_io_uring_setup as u32 },
        libc::sock_filter { code: RETURN, jt: 0, jf: 0, k: libc::SECCOMP_RET_ERRNO | errno as u32 },
        libc::sock_filter { code: RETURN, jt: 0, jf: 0, k: libc::SECCOMP_RET_ALLOW },
    ];
    let program = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr().cast_mut() };
    // SAFETY: prctl with integer arguments; no_new_privs is required for an unprivileged filter.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `program` points at the live filter array for the duration of the call; the
    // kernel copies it.
    if unsafe { libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &program) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[test]
fn a_seccomp_denial_is_reported_as_not_permitted() {
    run_child("child_eperm", libc::EPERM);
}

#[test]
fn a_kernel_without_io_uring_is_reported_as_not_supported() {
    run_child("child_enosys", libc::ENOSYS);
}

fn assert_unavailable(expected: Unavailable) {
    let err = iobuf_uring::probe().unwrap_err();
    assert!(matches!(err, UringError::Unavailable(reason) if reason == expected), "{err:?}");
    assert!(err.is_unavailable());
    let err = Ring::<never::Nothing>::new(8).unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::Unsupported);
}

#[test]
#[ignore = "runs only as the child of a_seccomp_denial_is_reported_as_not_permitted"]
fn child_eperm() {
    // io_uring_disabled = 2 would also give EPERM; this machine's setting decides which
    // reason is right.
    let expected = match std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled") {
        Ok(value) if value.trim() == "2" => Unavailable::Disabled,
        _ => Unavailable::NotPermitted,
    };
    assert_unavailable(expected);
}

#[test]
#[ignore = "runs only as the child of a_kernel_without_io_uring_is_reported_as_not_supported"]
fn child_enosys() {
    assert_unavailable(Unavailable::NotSupported);
}

/// A handle type for the ring in these tests; never instantiated.
mod never {
    /// Uninhabited: the ring is never built.
    pub(crate) enum Nothing {}

    // SAFETY: no value of this type can exist, so no method is ever called.
    unsafe impl iobuf_uring::IoBuf for Nothing {
        fn stable_ptr(&self) -> *const u8 {
            match *self {}
        }
        fn stable_mut_ptr(&mut self) -> *mut u8 {
            match *self {}
        }
        fn capacity(&self) -> usize {
            match *self {}
        }
        fn filled(&self) -> usize {
            match *self {}
        }
        fn set_filled(&mut self, _: usize) {
            match *self {}
        }
    }
}
