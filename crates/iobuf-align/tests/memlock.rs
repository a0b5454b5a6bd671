//! Locking under a low `RLIMIT_MEMLOCK`, in a child process.
//!
//! The parent re-runs this test binary with a 64 KiB memlock limit set before `exec` (and, when
//! running as root, as user `nobody` so `CAP_IPC_LOCK` does not lift the limit). The child test
//! is `#[ignore]`d so it only runs when the parent asks for it.

use std::os::unix::process::CommandExt;
use std::process::Command;

use iobuf_align::{AlignError, Lock, Region, RegionOptions};

const LIMIT: libc::rlim_t = 64 * 1024;

#[test]
fn lock_is_refused_or_reported_under_a_low_limit() {
    if let Ok(sanitizer) = std::env::var("IOBUF_SANITIZER") {
        // Both sanitizers intercept mlock as a no-op that always succeeds.
        eprintln!("skipped under {sanitizer}: the sanitizer makes mlock a no-op that succeeds");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe);
    child.args(["--ignored", "--exact", "child_maps_under_low_memlock_limit", "--nocapture"]);
    // SAFETY: `limit_memlock` runs between fork and exec and calls only async-signal-safe
    // syscalls, touching no locks or allocations.
    unsafe { child.pre_exec(limit_memlock) };
    let output = child.output().expect("re-running the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 passed"), "the child test did not run:\n{stdout}");
}

/// Lowers `RLIMIT_MEMLOCK` to [`LIMIT`] and, as root, drops to user `nobody`.
fn limit_memlock() -> std::io::Result<()> {
    let limit = libc::rlimit { rlim_cur: LIMIT, rlim_max: LIMIT };
    // SAFETY: setrlimit reads the struct passed by reference and nothing else.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } == 0 {
        // SAFETY: setgid takes a plain integer; dropping privileges is the point.
        let group_dropped = unsafe { libc::setgid(65534) } == 0;
        // SAFETY: as above, for the user.
        if !group_dropped || unsafe { libc::setuid(65534) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[test]
#[ignore = "runs only as the child of lock_is_refused_or_reported_under_a_low_limit"]
fn child_maps_under_low_memlock_limit() {
    let big = 16 * LIMIT as usize;
    match Region::map(big, RegionOptions::new().lock(Lock::Required)) {
        Err(AlignError::Os { call: "mlock", errno }) => {
            assert!(errno == libc::ENOMEM || errno == libc::EPERM, "errno {errno}");
        }
        other => panic!("1 MiB locked under a 64 KiB limit: {other:?}"),
    }
    let region = Region::map(big, RegionOptions::new().lock(Lock::BestEffort)).unwrap();
    assert!(!region.is_locked());
    // Within the limit locking still works.
    let small = Region::map(4096, RegionOptions::new().lock(Lock::Required)).unwrap();
    assert!(small.is_locked());
}
