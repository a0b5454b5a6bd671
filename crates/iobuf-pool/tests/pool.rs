//! BufferPool: the test ladder from smoke to misuse.

use std::collections::HashSet;

use iobuf_pool::{BufferPool, IndirectPool, Pool, PoolError, Tier};

#[test]
fn smoke_get_write_return() {
    let pool = BufferPool::builder(4096).capacity(4).build().unwrap();
    let mut buf = pool.try_get().unwrap();
    assert_eq!((buf.capacity(), buf.len(), buf.filled()), (4096, 4096, 0));
    buf[4095] = 0xEE;
    buf.set_filled(4096);
    assert_eq!(buf.filled_slice()[4095], 0xEE);
    drop(buf);
    assert_eq!(pool.available(), 4);
}

#[test]
fn capacity_available_and_exhaustion() {
    for cache in [0, 2, 32] {
        let pool = BufferPool::builder(64).capacity(5).cache_size(cache).build().unwrap();
        let held: Vec<_> = (0..5).map(|_| pool.try_get().unwrap()).collect();
        assert_eq!(pool.available(), 0, "cache {cache}");
        assert_eq!(pool.try_get().unwrap_err(), PoolError::Exhausted, "cache {cache}");
        let indices: HashSet<u32> = held.iter().map(|b| b.index()).collect();
        assert_eq!(indices, (0..5).collect(), "every index once, cache {cache}");
        drop(held);
        assert_eq!(pool.available(), 5, "cache {cache}");
        let stats = pool.stats();
        assert_eq!((stats.in_use, stats.high_water, stats.exhausted), (0, 5, 1));
    }
}

#[test]
fn buffers_are_aligned_disjoint_and_inside_the_region() {
    for tier in Tier::iter().take(9) {
        let pool = BufferPool::for_tier(tier, 3).unwrap();
        let region = pool.regions()[0];
        let bufs: Vec<_> = (0..3).map(|_| pool.try_get().unwrap()).collect();
        let align = if tier.size() >= iobuf_align::page_size() {
            iobuf_align::page_size()
        } else {
            iobuf_align::CACHE_LINE_SIZE
        };
        let mut starts: Vec<usize> = bufs.iter().map(|b| b.as_ptr() as usize).collect();
        starts.sort_unstable();
        for (i, &start) in starts.iter().enumerate() {
            assert_eq!(start % align, 0, "{tier}");
            assert!(region.contains(start as *const u8), "{tier}");
            assert!(region.contains((start + tier.size() - 1) as *const u8), "{tier}");
            if let Some(&next) = starts.get(i + 1) {
                assert!(start + tier.size() <= next, "{tier} buffers overlap");
            }
        }
    }
}

#[test]
fn every_tier_constructor_builds_its_tier() {
    let constructors: [fn(usize) -> Result<BufferPool, PoolError>; 12] = [
        BufferPool::pico,
        BufferPool::nano,
        BufferPool::micro,
        BufferPool::small,
        BufferPool::medium,
        BufferPool::big,
        BufferPool::large,
        BufferPool::great,
        BufferPool::huge,
        BufferPool::vast,
        BufferPool::giant,
        BufferPool::titan,
    ];
    for (tier, constructor) in Tier::iter().zip(constructors) {
        let pool = constructor(1).unwrap();
        assert_eq!((pool.tier(), pool.buffer_size()), (Some(tier), tier.size()));
        assert_eq!(pool.try_get().unwrap().tier(), Some(tier));
    }
}

#[test]
fn memory_is_zeroed_at_start_and_on_return_when_asked() {
    let pool = BufferPool::builder(256).capacity(1).zero_on_return(true).build().unwrap();
    let mut buf = pool.try_get().unwrap();
    assert!(buf.iter().all(|&b| b == 0));
    buf.fill(0xFF);
    drop(buf);
    assert!(pool.try_get().unwrap().iter().all(|&b| b == 0));

    let keep = BufferPool::builder(256).capacity(1).build().unwrap();
    keep.try_get().unwrap().fill(0xFF);
    assert!(keep.try_get().unwrap().iter().all(|&b| b == 0xFF), "no zeroing unless asked");
}

#[test]
#[should_panic(expected = "filled length 65 exceeds capacity 64")]
fn set_filled_beyond_capacity_panics() {
    let pool = BufferPool::builder(64).capacity(1).build().unwrap();
    pool.try_get().unwrap().set_filled(65);
}

#[test]
fn bad_builds_return_their_errors() {
    assert_eq!(BufferPool::builder(64).build().unwrap_err(), PoolError::ZeroSize);
    assert_eq!(BufferPool::builder(0).capacity(1).build().unwrap_err(), PoolError::ZeroSize);
    assert_eq!(
        BufferPool::builder(64).capacity((1 << 31) + 1).build().unwrap_err(),
        PoolError::CapacityTooLarge { requested: (1 << 31) + 1, max: 1 << 31 }
    );
    for size in [1, 65, 1000] {
        assert_eq!(
            BufferPool::builder(64).capacity(1).cache_size(size).build().unwrap_err(),
            PoolError::CacheSize { requested: size, max: 64 }
        );
    }
    assert!(matches!(
        BufferPool::builder(64).capacity(1).align(48).build().unwrap_err(),
        PoolError::Memory(iobuf_align::AlignError::AlignmentNotPowerOfTwo { align: 48 })
    ));
    assert!(matches!(
        BufferPool::builder(usize::MAX / 2).capacity(4).build().unwrap_err(),
        PoolError::Memory(iobuf_align::AlignError::SizeOverflow)
    ));
    assert!(matches!(Tier::for_size(usize::MAX), Err(PoolError::TooLarge { .. })));
}

#[test]
fn index_api_refuses_every_bad_put_without_touching_the_free_list() {
    let pool = BufferPool::builder(64).capacity(2).thread_cache(false).build().unwrap();
    let other = BufferPool::builder(64).capacity(2).build().unwrap();
    let index = pool.try_get_index().unwrap();
    assert_eq!(other.put_index(index), Err(PoolError::ForeignIndex));
    let handle = pool.try_get().unwrap();
    // An index a handle owns is not out through the index API.
    let handle_index = handle.into_index();
    pool.put_index(handle_index).unwrap();
    pool.put_index(index).unwrap();
    assert_eq!(pool.put_index(index), Err(PoolError::NotOut { index: index.index() }));
    assert_eq!(pool.buf_from_index(index).unwrap_err(), PoolError::NotOut { index: index.index() });
    // Nothing was duplicated: exactly two distinct buffers come out, then exhaustion.
    let a = pool.try_get().unwrap();
    let b = pool.try_get().unwrap();
    assert_ne!(a.index(), b.index());
    assert_eq!(pool.try_get().unwrap_err(), PoolError::Exhausted);
}

#[test]
fn indices_keep_the_memory_alive_after_every_pool_handle_is_gone() {
    let pool = BufferPool::builder(64).capacity(1).build().unwrap();
    let buf = pool.try_get().unwrap();
    let raw = buf.into_raw();
    let clone = pool.clone();
    drop(pool);
    // SAFETY: `raw` came from `into_raw` on this pool; nothing else uses it.
    let mut buf = unsafe { clone.buf_from_raw(raw) }.unwrap();
    buf[0] = 1;
    // SAFETY: a second take-back of the same pointer is refused, not trusted.
    let again = unsafe { clone.buf_from_raw(raw) };
    assert_eq!(again.unwrap_err(), PoolError::NotOut { index: 0 });
    let inside = std::ptr::NonNull::new(raw.as_ptr().wrapping_add(1)).unwrap();
    // SAFETY: a pointer into the middle of a buffer is refused, not trusted.
    assert_eq!(unsafe { clone.buf_from_raw(inside) }.unwrap_err(), PoolError::ForeignIndex);
}

#[test]
fn indirect_pool_reads_and_writes_values_by_index() {
    let pool = BufferPool::micro(3).unwrap();
    let indices: Vec<_> = (0..3).map(|_| IndirectPool::try_get_index(&pool).unwrap()).collect();
    for (n, &index) in indices.iter().enumerate() {
        // SAFETY: we own each index and hold one reference at a time.
        let value = unsafe { pool.value_mut(index) }.unwrap();
        value[..4].copy_from_slice(&(n as u32).to_le_bytes());
    }
    for (n, &index) in indices.iter().enumerate() {
        // SAFETY: as above.
        let value = unsafe { pool.value(index) }.unwrap();
        assert_eq!(value[..4], (n as u32).to_le_bytes());
        IndirectPool::put_index(&pool, index).unwrap();
    }
    assert_eq!(Pool::available(&pool), 3);
}

#[test]
fn pool_trait_put_reports_foreign_items() {
    let (a, b) = (BufferPool::pico(1).unwrap(), BufferPool::pico(1).unwrap());
    let item = Pool::try_get(&a).unwrap();
    assert_eq!(Pool::put(&b, item), Err(PoolError::ForeignIndex));
    assert_eq!(a.available(), 1, "a foreign put still returns the buffer to its own pool");
}

#[test]
fn a_stale_copy_of_an_index_cannot_put_back_a_later_time_out() {
    let pool = BufferPool::builder(64).capacity(1).build().unwrap();
    let stale = pool.try_get_index().unwrap();
    pool.put_index(stale).unwrap();
    let current = pool.try_get_index().unwrap();
    assert_eq!(current.index(), stale.index(), "the one buffer went out again");
    assert_ne!(current, stale, "a new time out, a new stamp");
    assert_eq!(pool.put_index(stale), Err(PoolError::NotOut { index: stale.index() }));
    assert_eq!(pool.buf_from_index(stale).unwrap_err(), PoolError::NotOut { index: 0 });
    pool.put_index(current).unwrap();
    assert_eq!(pool.available(), 1);
}
