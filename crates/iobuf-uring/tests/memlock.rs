//! Registration under a low `RLIMIT_MEMLOCK`, in child processes.
//!
//! The parent re-runs this test binary with the limit set before `exec` (and, when running as
//! root, as user `nobody` so `CAP_IPC_LOCK` does not lift the limit). The child tests are
//! `#[ignore]`d so they only run when a parent asks for them.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;

use common::{Arena, TempFile, TestBuf, features, pattern, require};
use iobuf_uring::ops::Read;
use iobuf_uring::{
    MemlockLimit, RegisterMemory, RegisterOptions, Ring, Span, UringError, exempt_from_memlock,
};

const KIB: usize = 1024;
const LOW: libc::rlim_t = 64 * KIB as libc::rlim_t;
const PAGE: usize = 4096;
const MIB: libc::rlim_t = 1 << 20;

/// Runs `child` (an ignored test of this binary) with the memlock limits given, as `nobody`
/// when we are root.
fn run_child(child: &str, soft: libc::rlim_t, hard: libc::rlim_t) {
    let exe = std::env::current_exe().unwrap();
    let mut command = Command::new(exe);
    command.args(["--ignored", "--exact", child, "--nocapture", "--test-threads=1"]);
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe system
    // calls, touching no locks or allocations.
    unsafe { command.pre_exec(move || limit_memlock(soft, hard)) };
    let output = command.output().expect("re-running the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child {child} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the child test did not run:\n{stdout}\n{stderr}");
    // The parent probed before spawning: a child that skips hit something else.
    assert!(!stderr.contains("skipped"), "child {child} skipped:\n{stderr}");
}

/// Sets `RLIMIT_MEMLOCK` and, as root, drops to user `nobody`.
fn limit_memlock(soft: libc::rlim_t, hard: libc::rlim_t) -> std::io::Result<()> {
    let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
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

/// Both children in one test, one after the other: the kernel sums pinned pages over all of a
/// user's rings, so two children running as `nobody` at once would see each other's charges.
#[test]
fn registration_under_low_limits_is_refused_with_numbers_falls_back_or_raises_the_soft_limit() {
    let name =
        "registration_under_low_limits_is_refused_with_numbers_falls_back_or_raises_the_soft_limit";
    if features(name).is_none() {
        return;
    }
    // First: it needs the user's pinned pages to be only its own.
    run_child("child_kernel_refuses_a_later_chunk", MIB, MIB);
    run_child("child_low_limit", LOW, LOW);
    run_child("child_raises_soft_limit", LOW, 4 << 20);
}

/// Probes and sets up a ring, retrying for a moment while set-up fails with `ENOMEM`: since 6.13
/// ring memory is charged to the user too, and an earlier child's rings (same user) may still
/// be being torn down.
fn ring_within_limit(test: &str) -> Option<Ring<TestBuf>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match iobuf_uring::probe().and_then(|_| Ring::new(8)) {
            Err(UringError::Os { source, .. })
                if source.raw_os_error() == Some(libc::ENOMEM)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(ring) => {
                let f = features(test)?;
                return require(test, f.sparse_buffers, "sparse buffer table", "5.13")
                    .then_some(ring);
            }
            Err(err) => panic!("{test}: setting up a ring: {err}"),
        }
    }
}

/// Registers `arena`, retrying for a moment while the kernel refuses: a ring of an earlier
/// child (same user) may still be being torn down, its pages still charged to the user.
fn register_within_limit(ring: &mut Ring<TestBuf>, arena: Arena) -> iobuf_uring::Registration {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match ring.register(arena.clone(), RegisterOptions::new()) {
            Err(UringError::Memlock { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
}

/// The child side: a 64 KiB limit, no CAP_IPC_LOCK.
#[test]
#[ignore = "runs only as a child of registration_under_low_limits_is_refused_…"]
fn child_low_limit() {
    let Some(mut ring) = ring_within_limit("child_low_limit") else { return };
    assert!(!exempt_from_memlock(), "the child must not have CAP_IPC_LOCK");
    // 1 MiB under a 64 KiB limit: refused up front, naming both numbers.
    let big = Arena::new(PAGE, 256);
    let err = ring.register(big.clone(), RegisterOptions::new()).unwrap_err();
    match &err {
        UringError::Memlock { needed, limit, already_pinned } => {
            assert_eq!((*needed, *limit, *already_pinned), (1 << 20, LOW, 0));
        }
        other => panic!("expected a memlock error, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("1048576") && message.contains("65536"), "{message}");
    assert_eq!(iobuf_uring::pinned_by_this_process(), 0, "a refusal pins nothing");

    // Asked to, it falls back: no buf_index, and reads still work (plain Read).
    let options = RegisterOptions::new().fallback_to_unregistered(true);
    let fallback = ring.register(big.clone(), options).unwrap();
    assert!(!fallback.is_registered());
    assert!(matches!(fallback.fallback_reason(), Some(UringError::Memlock { .. })));
    let buf = big.buf(0, None);
    assert_eq!(fallback.buf_index(iobuf_uring::IoBuf::stable_ptr(&buf), PAGE), None);
    let file = TempFile::with_pattern("memlock-fallback", PAGE);
    ring.push(Read::at(&file.file, buf, 0)).unwrap();
    let (result, buf) = ring.wait().unwrap().into_buf().unwrap();
    assert_eq!(result.unwrap(), PAGE);
    assert_eq!(iobuf_uring::IoBuf::filled_bytes(&buf), &pattern(PAGE)[..]);

    // Within the limit registration works, and counts.
    let small = Arena::new(PAGE, 8);
    let registration = register_within_limit(&mut ring, small);
    assert!(registration.is_registered());
    assert_eq!(iobuf_uring::pinned_by_this_process(), 8 * PAGE);
    // What is pinned counts against the rest: 64 KiB - 32 KiB left, 40 KiB refused.
    let err = ring.register(Arena::new(PAGE, 10), RegisterOptions::new()).unwrap_err();
    assert!(
        matches!(err, UringError::Memlock { needed: 40960, already_pinned: 32768, .. }),
        "{err:?}"
    );
    drop(ring);
    assert_eq!(iobuf_uring::pinned_by_this_process(), 0, "released with the ring");
}

/// The child side: soft 64 KiB, hard 4 MiB.
#[test]
#[ignore = "runs only as a child of registration_under_low_limits_is_refused_…"]
fn child_raises_soft_limit() {
    let Some(mut ring) = ring_within_limit("child_raises_soft_limit") else { return };
    let registration = register_within_limit(&mut ring, Arena::new(PAGE, 256));
    assert!(registration.is_registered());
    let limit = MemlockLimit::current().unwrap();
    assert_eq!(limit.hard, Some(4 << 20));
    assert_eq!(limit.soft, Some(4 << 20), "soft limit not raised to the hard limit");
    // Beyond the hard limit: refused, naming the hard limit.
    let err = ring.register(Arena::new(PAGE, 1024), RegisterOptions::new()).unwrap_err();
    assert!(matches!(err, UringError::Memlock { limit: 4194304, .. }), "{err:?}");
}

/// Two arenas, registered as two spans (two chunks, two slots).
#[derive(Clone)]
struct TwoArenas(Arena, Arena);

// SAFETY: the spans of two arenas, each of which meets the contract.
unsafe impl RegisterMemory for TwoArenas {
    fn spans(&self) -> Vec<Span> {
        let mut spans = self.0.spans();
        spans.extend(self.1.spans());
        spans
    }
}

/// The child side: a 1 MiB limit, half of it pinned by a ring the crate does not know about,
/// so the crate's own check passes and the kernel takes the first chunk but refuses the second
/// with `ENOMEM`. That is a memlock refusal (falling back when asked), and the first chunk's
/// slot is emptied again.
#[test]
#[ignore = "runs only as a child of registration_under_low_limits_is_refused_…"]
fn child_kernel_refuses_a_later_chunk() {
    let name = "child_kernel_refuses_a_later_chunk";
    let outside = Arena::new(PAGE, 128);
    let elsewhere = io_uring::IoUring::new(8).unwrap();
    let iovec = [libc::iovec { iov_base: outside.base() as *mut _, iov_len: 128 * PAGE }];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        // SAFETY: the arena outlives the ring `elsewhere` (declared before it, dropped after).
        match unsafe { elsewhere.submitter().register_buffers(&iovec) } {
            Ok(()) => break,
            // An earlier child's rings (same user) may still be being torn down.
            Err(err) if std::time::Instant::now() < deadline => {
                eprintln!("{name}: pinning 512 KiB elsewhere: {err}; retrying");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(err) => panic!("{name}: pinning 512 KiB elsewhere: {err}"),
        }
    }
    let Some(mut ring) = ring_within_limit(name) else { return };
    let memory = TwoArenas(Arena::new(PAGE, 1), Arena::new(PAGE, 150));
    let err = ring.register(memory.clone(), RegisterOptions::new()).unwrap_err();
    assert!(matches!(err, UringError::Memlock { .. }), "{err:?}");
    assert_eq!(iobuf_uring::pinned_by_this_process(), 0, "a refusal pins nothing");
    let options = RegisterOptions::new().fallback_to_unregistered(true);
    let fallback = ring.register(memory.clone(), options).unwrap();
    assert!(!fallback.is_registered());
    assert!(matches!(fallback.fallback_reason(), Some(UringError::Memlock { .. })));
    // The first chunk's slot names nothing any more, and the next registration takes it.
    let file = TempFile::with_pattern("memlock-partial", PAGE);
    ring.push(Read::at(&file.file, memory.0.buf(0, Some(0)), 0)).unwrap();
    let (result, _) = ring.wait().unwrap().into_buf().unwrap();
    assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EFAULT), "slot 0 left behind");
    let small = Arena::new(PAGE, 1);
    let registration = ring.register(small.clone(), RegisterOptions::new()).unwrap();
    assert_eq!(registration.slots(), 0..1);
    ring.push(Read::at(&file.file, small.buf(0, Some(0)), 0)).unwrap();
    let (result, buf) = ring.wait().unwrap().into_buf().unwrap();
    assert_eq!(result.unwrap(), PAGE);
    assert_eq!(iobuf_uring::IoBuf::filled_bytes(&buf), &pattern(PAGE)[..]);
    drop(elsewhere);
}
