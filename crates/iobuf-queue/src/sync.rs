//! The crate's one switch between real atomics and loom's models.
//!
//! Every atomic, cell, spin and yield in this crate goes through here, so building with
//! `RUSTFLAGS="--cfg iobuf_loom"` puts the whole crate (and, with the same cfg, every iobuf
//! crate above it) under loom's scheduler. Under loom a spin must yield to the scheduler, or a
//! model that waits for another thread would spin forever.

#[cfg(not(iobuf_loom))]
#[allow(unused_imports)] // reason: each ring uses the subset of the shim it needs.
pub(crate) use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(iobuf_loom)]
#[allow(unused_imports)] // reason: each ring uses the subset of the shim it needs.
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
// Signed: the index ring's threshold goes negative when the ring is empty.
#[cfg(not(iobuf_loom))]
pub(crate) use core::sync::atomic::AtomicI64;
#[cfg(iobuf_loom)]
pub(crate) use loom::sync::atomic::AtomicI64;

#[cfg(not(iobuf_loom))]
pub(crate) use alloc::sync::Arc;
#[cfg(iobuf_loom)]
pub(crate) use loom::sync::Arc;

// Blocking waits (std only): loom's versions let a model catch lost wake-ups as deadlocks.
#[cfg(all(feature = "std", iobuf_loom))]
pub(crate) use loom::sync::{Condvar, Mutex};
#[cfg(all(feature = "std", not(iobuf_loom)))]
pub(crate) use std::sync::{Condvar, Mutex};

/// `UnsafeCell` with loom's `with`/`with_mut` access API on both builds.
#[cfg(not(iobuf_loom))]
#[derive(Debug, Default)]
pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(iobuf_loom))]
#[allow(dead_code)] // reason: each ring uses the subset of the shim it needs.
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(iobuf_loom)]
pub(crate) use loom::cell::UnsafeCell;

/// One step of a busy wait: a CPU spin hint, or a scheduler yield under loom.
#[inline(always)]
#[allow(dead_code)] // reason: each ring uses the subset of the shim it needs.
pub(crate) fn spin() {
    #[cfg(not(iobuf_loom))]
    core::hint::spin_loop();
    #[cfg(iobuf_loom)]
    loom::thread::yield_now();
}

/// Gives the thread's time slice away: `std::thread::yield_now`, or a loom scheduling point.
#[cfg(feature = "std")]
#[inline]
pub(crate) fn yield_now() {
    #[cfg(not(iobuf_loom))]
    std::thread::yield_now();
    #[cfg(iobuf_loom)]
    loom::thread::yield_now();
}

/// Exponential backoff for CAS retries: crossbeam-utils' `Backoff` normally, a loom yield per
/// step under loom (loom cannot see crossbeam's spin loop).
#[derive(Debug, Default)]
#[allow(dead_code)] // reason: each ring uses the subset of the shim it needs.
pub(crate) struct Backoff {
    #[cfg(not(iobuf_loom))]
    inner: crossbeam_utils::Backoff,
}

#[allow(dead_code)] // reason: each ring uses the subset of the shim it needs.
impl Backoff {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Back off after a failed CAS (spins only; never yields the thread).
    #[inline]
    pub(crate) fn spin(&self) {
        #[cfg(not(iobuf_loom))]
        self.inner.spin();
        #[cfg(iobuf_loom)]
        loom::thread::yield_now();
    }

    /// Back off while waiting on another thread (spins, then yields the thread).
    #[inline]
    pub(crate) fn snooze(&self) {
        #[cfg(not(iobuf_loom))]
        self.inner.snooze();
        #[cfg(iobuf_loom)]
        loom::thread::yield_now();
    }

    /// Whether spinning has stopped paying and the caller should block instead.
    #[inline]
    pub(crate) fn is_completed(&self) -> bool {
        #[cfg(not(iobuf_loom))]
        return self.inner.is_completed();
        #[cfg(iobuf_loom)]
        return true;
    }
}
