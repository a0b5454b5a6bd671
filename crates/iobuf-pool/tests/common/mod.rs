//! Shared test helpers: a tiny executor, the stress scale, a seeded RNG, a maps probe.

#![allow(dead_code)] // reason: each test binary uses a subset.

pub(crate) mod executor;

/// Multiplier for stress iteration counts: `IOBUF_STRESS_SCALE` (default 1.0; sanitizer runs
/// set 0.05).
pub(crate) fn stress_scale() -> f64 {
    std::env::var("IOBUF_STRESS_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0)
}

/// Joins every scoped thread explicitly and returns their results: ThreadSanitizer sees
/// `pthread_join`, but not the end of `thread::scope`, which waits through atomics inside the
/// uninstrumented std (so memory freed after the scope would look raced).
pub(crate) fn join_all<'scope, T>(
    workers: impl IntoIterator<Item = std::thread::ScopedJoinHandle<'scope, T>>,
) -> Vec<T> {
    workers.into_iter().map(|worker| worker.join().expect("worker thread panicked")).collect()
}

/// `base` scaled, at least 1.
pub(crate) fn scaled(base: usize) -> usize {
    ((base as f64 * stress_scale()) as usize).max(1)
}

/// A xorshift64 generator: reproducible random sequences without a dependency.
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// Whether any mapping of this process covers `address` (from `/proc/self/maps`).
pub(crate) fn mapped(address: usize) -> bool {
    std::fs::read_to_string("/proc/self/maps").unwrap().lines().any(|line| {
        let range = line.split_whitespace().next().unwrap();
        let (lo, hi) = range.split_once('-').unwrap();
        let (lo, hi) =
            (usize::from_str_radix(lo, 16).unwrap(), usize::from_str_radix(hi, 16).unwrap());
        (lo..hi).contains(&address)
    })
}
