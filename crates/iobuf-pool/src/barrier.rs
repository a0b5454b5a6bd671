//! Asymmetric memory barriers: nearly free on the hot path, expensive on the slow path.
//!
//! Two places in the pool are Dekker-shaped: one side stores a flag then reads the other side's
//! flag, and the other side does the same in mirror image. That needs a store→load barrier on
//! both sides. The hot side (a `put`, or a thread-cache operation) runs millions of times a
//! second; the cold side (a getter about to park, a thief draining other threads' caches) runs
//! only when the pool is exhausted. So the hot side takes a [`light`] barrier — a compiler fence
//! when the process is registered for `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` — and the
//! cold side a [`heavy`] one: the `membarrier` system call, which runs a full barrier on every
//! CPU currently running one of our threads. Together they order the pair as two full fences
//! would (the pattern of liburcu and folly's `asymmetricHeavyBarrier`).
//!
//! Where `membarrier` is unavailable (kernels before 4.14, seccomp), both sides use a real
//! `fence(SeqCst)`: slower on the hot path, equally correct. Under loom both sides are
//! `fence(SeqCst)`, which loom models.
//!
//! # Safety
//!
//! This module owns one obligation: the light barrier is reduced to a compiler fence only after
//! registration succeeded, and registration is never undone, so every heavy barrier issued while
//! a light one is a compiler fence is a real `membarrier`.
#![allow(unsafe_code)] // reason: the membarrier system call (see module docs).

#[cfg(not(iobuf_loom))]
use std::sync::atomic::{AtomicU8, Ordering};

#[cfg(not(iobuf_loom))]
const UNKNOWN: u8 = 0;
#[cfg(not(iobuf_loom))]
const MEMBARRIER: u8 = 1;
#[cfg(not(iobuf_loom))]
const FENCE: u8 = 2;

/// Which barrier pair this process uses; set once by [`init`].
#[cfg(not(iobuf_loom))]
static MODE: AtomicU8 = AtomicU8::new(UNKNOWN);

// From linux/membarrier.h (stable ABI since 4.14).
#[cfg(not(iobuf_loom))]
const MEMBARRIER_CMD_QUERY: libc::c_int = 0;
#[cfg(not(iobuf_loom))]
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
#[cfg(not(iobuf_loom))]
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

#[cfg(not(iobuf_loom))]
fn membarrier(cmd: libc::c_int) -> libc::c_long {
    // SAFETY: membarrier takes two integers (and a CPU id ignored without the CPU flag) and
    // touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) }
}

/// Chooses the barrier pair for the process. Called by every pool constructor before the pool
/// exists, so the mode is final before any barrier is issued on a pool.
pub(crate) fn init() {
    #[cfg(not(iobuf_loom))]
    if MODE.load(Ordering::Acquire) == UNKNOWN {
        let supported = membarrier(MEMBARRIER_CMD_QUERY);
        let wanted = libc::c_long::from(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
        let mode = if supported >= 0
            && supported & wanted != 0
            && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0
        {
            MEMBARRIER
        } else {
            FENCE
        };
        // Racing initialisers compute the same answer; registration is idempotent.
        MODE.store(mode, Ordering::Release);
    }
}

/// Whether the cheap pair (compiler fence + membarrier) is in use; for tests and stats.
pub(crate) fn uses_membarrier() -> bool {
    #[cfg(not(iobuf_loom))]
    return MODE.load(Ordering::Relaxed) == MEMBARRIER;
    #[cfg(iobuf_loom)]
    return false;
}

/// The hot side's store→load barrier.
#[inline(always)]
pub(crate) fn light() {
    #[cfg(not(iobuf_loom))]
    if MODE.load(Ordering::Relaxed) == MEMBARRIER {
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
    } else {
        std::sync::atomic::fence(Ordering::SeqCst);
    }
    #[cfg(iobuf_loom)]
    crate::sync::fence_seq_cst();
}

/// The cold side's store→load barrier, which also stands in for the hot side's.
pub(crate) fn heavy() {
    #[cfg(not(iobuf_loom))]
    {
        if MODE.load(Ordering::Relaxed) == MEMBARRIER {
            let rc = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
            // It cannot fail once registered; a full fence keeps our side ordered regardless.
            debug_assert_eq!(rc, 0, "membarrier failed after registration");
        }
        std::sync::atomic::fence(Ordering::SeqCst);
    }
    #[cfg(iobuf_loom)]
    crate::sync::fence_seq_cst();
}

#[cfg(all(test, not(iobuf_loom)))]
mod tests {
    use super::*;

    #[test]
    fn init_settles_on_one_mode() {
        init();
        let mode = MODE.load(Ordering::Relaxed);
        assert!(mode == MEMBARRIER || mode == FENCE, "mode {mode}");
        init();
        assert_eq!(MODE.load(Ordering::Relaxed), mode);
        // Both barriers run in either mode.
        light();
        heavy();
        eprintln!("barrier mode: {}", if uses_membarrier() { "membarrier" } else { "fence" });
    }
}
