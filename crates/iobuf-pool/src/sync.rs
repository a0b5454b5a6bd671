//! The crate's one switch between std and loom.
//!
//! Every atomic, lock, `Arc`, thread-local, park and fence in this crate goes through here, so
//! `RUSTFLAGS="--cfg iobuf_loom"` puts the pool (together with iobuf-queue, which reads the same
//! cfg) under loom's scheduler.

#[cfg(not(iobuf_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(iobuf_loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard, Weak};
#[cfg(not(iobuf_loom))]
pub(crate) use std::thread;
#[cfg(not(iobuf_loom))]
pub(crate) use std::thread_local;

#[cfg(iobuf_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
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
    #[cfg(not(iobuf_loom))]
    return mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    #[cfg(iobuf_loom)]
    return mutex.lock().unwrap();
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
        // Under loom the spin phase is skipped: loom treats a yield as "let the others run
        // first", so a spinning getter would always see the put land and never reach the park
        // that the models exist to check.
        #[cfg(iobuf_loom)]
        return true;
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
