//! The crate's one switch between std and loom.
//!
//! Every atomic, lock, `Arc`, thread-local, park and fence in this crate goes through here, so
//! `RUSTFLAGS="--cfg iobuf_loom"` puts the pool (together with iobuf-queue, which reads the same
//! cfg) under loom's scheduler.
//!
//! `--cfg iobuf_tsan` (set by `cargo xtask san tsan`) swaps std's `Mutex` for one that
//! ThreadSanitizer can see (see `tsan_mutex`).

#[cfg(not(iobuf_loom))]
pub(crate) use std::sync::atomic::{
    AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(not(iobuf_loom))]
pub(crate) use std::sync::{Arc, Weak};
#[cfg(all(not(iobuf_loom), not(iobuf_tsan)))]
pub(crate) use std::sync::{Mutex, MutexGuard};
#[cfg(not(iobuf_loom))]
pub(crate) use std::thread;
#[cfg(not(iobuf_loom))]
pub(crate) use std::thread_local;
#[cfg(all(not(iobuf_loom), iobuf_tsan))]
pub(crate) use tsan_mutex::{Mutex, MutexGuard};

#[cfg(iobuf_loom)]
pub(crate) use loom::sync::atomic::{
    AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(iobuf_loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};
#[cfg(iobuf_loom)]
pub(crate) use loom::thread;
#[cfg(iobuf_loom)]
pub(crate) use loom::thread_local;

/// loom's `Arc` has no `Weak`; under loom a "weak" reference is a strong one, which keeps pools
/// alive a little longer inside a model and changes nothing the models check.
#[cfg(iobuf_loom)]
pub(crate) type Weak<T> = Arc<T>;

/// Downgrades to the shim's `Weak`.
#[inline]
pub(crate) fn downgrade<T>(this: &Arc<T>) -> Weak<T> {
    #[cfg(not(iobuf_loom))]
    return Arc::downgrade(this);
    #[cfg(iobuf_loom)]
    return this.clone();
}

/// Upgrades the shim's `Weak`.
#[inline]
pub(crate) fn upgrade<T>(weak: &Weak<T>) -> Option<Arc<T>> {
    #[cfg(not(iobuf_loom))]
    return weak.upgrade();
    #[cfg(iobuf_loom)]
    return Some(weak.clone());
}

/// Locks, ignoring poisoning: the pool's critical sections leave their data consistent at every
/// step, so a panic elsewhere while a lock was held does not make the data unusable.
#[inline]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(all(not(iobuf_loom), not(iobuf_tsan)))]
    return mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    #[cfg(all(not(iobuf_loom), iobuf_tsan))]
    return mutex.lock();
    #[cfg(iobuf_loom)]
    return mutex.lock().unwrap();
}

/// A `Mutex` ThreadSanitizer can see, for `--cfg iobuf_tsan` builds only.
///
/// std is not instrumented (no `build-std` on stable), so TSan never sees std's `Mutex` order
/// two critical sections and reports every access it guards as a race. Here each unlock is
/// preceded by a release store, and each lock followed by an acquire load, of an atomic
/// compiled in this crate: TSan sees that pair, and with it the order the lock imposes. Normal
/// builds use std's `Mutex` unchanged.
#[cfg(all(not(iobuf_loom), iobuf_tsan))]
mod tsan_mutex {
    use core::ops::{Deref, DerefMut};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T> {
        inner: std::sync::Mutex<T>,
        handoff: AtomicUsize,
    }

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self { inner: std::sync::Mutex::new(value), handoff: AtomicUsize::new(0) }
        }

        /// Locks, ignoring poisoning (as `super::lock`).
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            let inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.handoff.load(Ordering::Acquire);
            MutexGuard { inner, handoff: &self.handoff }
        }
    }

    pub(crate) struct MutexGuard<'a, T> {
        inner: std::sync::MutexGuard<'a, T>,
        handoff: &'a AtomicUsize,
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;

        fn deref(&self) -> &T {
            &self.inner
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            &mut self.inner
        }
    }

    impl<T> Drop for MutexGuard<'_, T> {
        fn drop(&mut self) {
            // Runs before the `inner` field drops, which unlocks.
            self.handoff.store(0, Ordering::Release);
        }
    }
}

/// `UnsafeCell` with loom's `with`/`with_mut` access API on both builds.
#[cfg(not(iobuf_loom))]
#[derive(Debug, Default)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(iobuf_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(iobuf_loom)]
pub(crate) use loom::cell::UnsafeCell;

/// Exponential backoff for waiting on other threads: crossbeam-utils' `Backoff` normally, a
/// loom yield per step under loom (loom cannot see a spin loop).
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    #[cfg(not(iobuf_loom))]
    inner: crossbeam_utils::Backoff,
    #[cfg(iobuf_loom)]
    steps: std::cell::Cell<u32>,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Spins (then yields the thread, once spinning stops paying).
    #[inline]
    pub(crate) fn snooze(&self) {
        #[cfg(not(iobuf_loom))]
        self.inner.snooze();
        #[cfg(iobuf_loom)]
        {
            self.steps.set(self.steps.get() + 1);
            loom::thread::yield_now();
        }
    }

    /// Whether the spin-and-yield phase is over and the caller should park.
    #[inline]
    pub(crate) fn is_completed(&self) -> bool {
        #[cfg(not(iobuf_loom))]
        return self.inner.is_completed();
        // Two yields are enough for loom to interleave; more only grows the state space.
        #[cfg(iobuf_loom)]
        return self.steps.get() >= 2;
    }
}

/// Acquire fence, modelled by loom.
#[inline(always)]
pub(crate) fn fence_acquire() {
    #[cfg(not(iobuf_loom))]
    std::sync::atomic::fence(Ordering::Acquire);
    #[cfg(iobuf_loom)]
    loom::sync::atomic::fence(Ordering::Acquire);
}

/// Full fence (`fence(SeqCst)`) that loom models; the barrier module's stand-in under loom.
#[cfg(iobuf_loom)]
#[inline(always)]
pub(crate) fn fence_seq_cst() {
    loom::sync::atomic::fence(Ordering::SeqCst);
}
