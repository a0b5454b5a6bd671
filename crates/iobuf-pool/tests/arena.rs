//! Arena: several tiers in one region, the empty-tier policies, stats per tier.

use std::thread;
use std::time::Duration;

use iobuf_pool::{Arena, MemoryRegions, OnEmpty, PoolError, Tier};

fn arena(policy: OnEmpty) -> Arena {
    Arena::builder()
        .tier(Tier::Nano, 4)
        .tier(Tier::Small, 2)
        .tier(Tier::Big, 1)
        .on_empty(policy)
        .build()
        .unwrap()
}

#[test]
fn every_tier_lives_in_the_one_region() {
    let arena = arena(OnEmpty::Error);
    let region = arena.regions()[0];
    assert_eq!(MemoryRegions::regions(&arena).len(), 1);
    let bufs: Vec<_> =
        [1, 128, 129, 2048, 32768].into_iter().map(|size| arena.alloc(size).unwrap()).collect();
    let tiers: Vec<_> = bufs.iter().map(|b| b.tier().unwrap()).collect();
    let expected = [Tier::Nano, Tier::Nano, Tier::Small, Tier::Small, Tier::Big];
    assert_eq!(tiers, expected);
    for buf in &bufs {
        assert!(region.contains(buf.as_ptr()));
        assert!(region.contains(buf.as_ptr().wrapping_add(buf.capacity() - 1)));
        let align =
            if buf.capacity() >= iobuf_align::page_size() { iobuf_align::page_size() } else { 64 };
        assert_eq!(buf.as_ptr() as usize % align, 0);
    }
}

#[test]
fn sizes_pick_the_smallest_configured_tier() {
    let arena = arena(OnEmpty::Error);
    assert_eq!(arena.tier_for(0).unwrap(), Tier::Nano);
    assert_eq!(arena.tier_for(129).unwrap(), Tier::Small); // Micro is not configured
    assert_eq!(arena.tier_for(32 << 10).unwrap(), Tier::Big);
    assert_eq!(
        arena.tier_for((32 << 10) + 1).unwrap_err(),
        PoolError::TooLarge { size: (32 << 10) + 1, max: 32 << 10 }
    );
    assert!(matches!(arena.alloc(usize::MAX), Err(PoolError::TooLarge { .. })));
}

#[test]
fn error_policy_fails_when_the_tier_is_empty() {
    let arena = arena(OnEmpty::Error);
    let _a = arena.alloc(2000).unwrap();
    let _b = arena.alloc(2000).unwrap();
    assert_eq!(arena.alloc(2000).unwrap_err(), PoolError::Exhausted);
    let stats = arena.tier_stats(Tier::Small).unwrap();
    assert_eq!((stats.in_use, stats.exhausted), (2, 1));
    assert_eq!(arena.tier_stats(Tier::Big).unwrap().in_use, 0, "no spill into Big");
}

#[test]
fn next_tier_policy_spills_upward_only() {
    let arena = arena(OnEmpty::NextTier);
    let small: Vec<_> = (0..2).map(|_| arena.alloc(2000).unwrap()).collect();
    let spilled = arena.alloc(2000).unwrap();
    assert_eq!(spilled.tier(), Some(Tier::Big));
    assert_eq!(arena.alloc(2000).unwrap_err(), PoolError::Exhausted);
    // Nano is smaller: never used for a 2000-byte request, and still all free.
    assert_eq!(arena.tier_stats(Tier::Nano).unwrap().available, 4);
    drop(small);
    assert_eq!(arena.alloc(2000).unwrap().tier(), Some(Tier::Small));
}

#[test]
fn wait_policy_waits_for_a_return() {
    let arena = arena(OnEmpty::Wait);
    let held = arena.alloc(32 << 10).unwrap();
    let waiter = {
        let arena = arena.clone();
        thread::spawn(move || arena.alloc(20_000).unwrap().tier())
    };
    while arena.tier_stats(Tier::Big).unwrap().waiting == 0 {
        thread::yield_now();
    }
    drop(held);
    assert_eq!(waiter.join().unwrap(), Some(Tier::Big));
    let _held = arena.alloc(1).unwrap();
    assert_eq!(
        arena.alloc_timeout(20_000, Duration::from_millis(1)).map(|b| b.tier()),
        Ok(Some(Tier::Big))
    );
}

#[test]
fn indices_of_one_tier_are_refused_by_another_arena() {
    let (a, b) = (arena(OnEmpty::Error), arena(OnEmpty::Error));
    let index = a.try_alloc_index(2000).unwrap();
    assert_eq!(b.put_index(index), Err(PoolError::ForeignIndex));
    a.put_index(index).unwrap();
    assert_eq!(a.put_index(index), Err(PoolError::NotOut { index: index.index() }));
}

#[test]
fn an_empty_arena_is_an_error() {
    assert_eq!(Arena::builder().tier(Tier::Big, 0).build().unwrap_err(), PoolError::ZeroSize);
}

#[test]
fn a_waiting_alloc_counts_one_exhaustion_as_a_pool_does() {
    let pool = iobuf_pool::BufferPool::builder(Tier::Small.size()).capacity(1).build().unwrap();
    let _held = pool.try_get().unwrap();
    assert_eq!(pool.get_timeout(Duration::from_millis(5)).unwrap_err(), PoolError::Timeout);
    let arena = arena(OnEmpty::Wait);
    let _held = (arena.try_alloc(2000).unwrap(), arena.try_alloc(2000).unwrap());
    assert_eq!(
        arena.alloc_timeout(2000, Duration::from_millis(5)).unwrap_err(),
        PoolError::Timeout
    );
    let (tier, pool) = (arena.tier_stats(Tier::Small).unwrap(), pool.stats());
    assert_eq!((tier.exhausted, tier.waits), (1, 1));
    assert_eq!((tier.exhausted, tier.waits), (pool.exhausted, pool.waits));
}

#[test]
fn too_large_names_the_arena_limit_even_above_every_tier() {
    let arena = arena(OnEmpty::Error);
    let max = Tier::Big.size();
    for size in [max + 1, Tier::Titan.size(), Tier::Titan.size() + 1, usize::MAX] {
        assert_eq!(arena.try_alloc(size).unwrap_err(), PoolError::TooLarge { size, max });
    }
}
