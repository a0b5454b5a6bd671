//! The buddy allocator on one thread: random sequences checked against a model, coalescing
//! back to the maximum blocks, every bad input's error, index and raw hand-over, zeroing, and
//! the shared handle type.

mod common;

use std::collections::BTreeMap;

use iobuf_pool::{BuddyAllocator, BuddyConfigError, Buf, BufferPool, PoolError, Tier};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// A request size weighted toward small: 1 B to `max`, each doubling half as likely.
fn weighted_size(next: &mut impl FnMut() -> u64, max: usize) -> usize {
    let doublings = (next() | 1 << 20).trailing_zeros();
    let ceiling = ((2 * KIB) << doublings).min(max);
    (next() as usize % ceiling) + 1
}

/// Asserts every maximum block is free in the tree and nothing else is.
fn assert_fully_coalesced(buddy: &BuddyAllocator) {
    let stats = buddy.stats();
    let top = stats.orders.last().unwrap();
    assert_eq!(top.free_blocks, buddy.region_size() / buddy.max_block(), "{stats:#?}");
    for order in &stats.orders[..stats.orders.len() - 1] {
        assert_eq!((order.free_blocks, order.cached_blocks), (0, 0), "{stats:#?}");
    }
    assert_eq!((stats.allocated, stats.cached, stats.free), (0, 0, buddy.region_size()));
    assert_eq!(stats.largest_free, buddy.max_block());
}

#[test]
fn random_sequences_agree_with_a_model() {
    for cache_depth in [0, 32] {
        let buddy = BuddyAllocator::builder()
            .region_size(8 * MIB)
            .max_block(MIB)
            .cache_depth(cache_depth)
            .build()
            .unwrap();
        let region = buddy.regions()[0];
        let base = region.as_ptr() as usize;
        let mut next = common::xorshift(0x5EED_0000 + cache_depth as u64);
        // Live blocks by offset: (buffer, stamp written into it).
        let mut live: BTreeMap<usize, (Buf, u64)> = BTreeMap::new();
        let mut live_bytes = 0;
        for step in 0..20_000u64 {
            if next() % 100 < 55 {
                let size = weighted_size(&mut next, MIB);
                match buddy.try_alloc(size) {
                    Ok(mut buf) => {
                        let block = size.next_power_of_two().max(4096);
                        assert_eq!(buf.capacity(), block, "size {size}");
                        assert_eq!(buf.tier(), None);
                        let offset = buf.as_ptr() as usize - base;
                        assert_eq!(offset % block, 0, "block of {block} at offset {offset}");
                        assert!(offset + block <= buddy.region_size(), "inside the region");
                        assert_eq!(buf.index() as usize, offset / 4096, "index = offset / min");
                        buf[..8].copy_from_slice(&step.to_le_bytes());
                        buf[block - 8..].copy_from_slice(&step.to_le_bytes());
                        live_bytes += block;
                        assert!(live.insert(offset, (buf, step)).is_none());
                    }
                    Err(err) => {
                        assert_eq!(err, PoolError::Exhausted);
                        // After flushing the caches, nothing that large is free.
                        assert!(buddy.stats().largest_free < size, "step {step}: false exhaustion");
                    }
                }
            } else if !live.is_empty() {
                let nth = next() as usize % live.len();
                let offset = *live.keys().nth(nth).unwrap();
                let (buf, stamp) = live.remove(&offset).unwrap();
                let end = buf.capacity() - 8;
                assert_eq!(buf[..8], stamp.to_le_bytes(), "block overwritten by another");
                assert_eq!(buf[end..], stamp.to_le_bytes(), "block overwritten by another");
                live_bytes -= buf.capacity();
            }
            if step % 500 == 0 {
                // No two live blocks overlap.
                let mut end = 0;
                for (&offset, (buf, _)) in &live {
                    assert!(offset >= end, "blocks overlap at offset {offset}");
                    end = offset + buf.capacity();
                }
                assert_eq!(buddy.stats().allocated, live_bytes, "cache depth {cache_depth}");
            }
        }
        live.clear();
        // Without a trim, a maximum block is still to be had: exhaustion flushes the caches.
        let whole: Vec<Buf> = (0..8).map(|_| buddy.try_alloc(MIB).unwrap()).collect();
        assert_eq!(buddy.try_alloc(1).unwrap_err(), PoolError::Exhausted);
        drop(whole);
        buddy.trim();
        assert_fully_coalesced(&buddy);
    }
}

#[test]
fn a_cached_size_skips_the_tree() {
    let buddy = BuddyAllocator::builder().region_size(4 * MIB).build().unwrap();
    let first = buddy.try_alloc(4096).unwrap();
    let at = first.as_ptr();
    drop(first);
    let stats = buddy.stats();
    assert_eq!((stats.cached, stats.allocated), (4096, 0), "parked, not merged");
    assert_eq!(stats.orders[0].free_blocks, 1, "its buddy is still free in the tree");
    let again = buddy.try_alloc(3000).unwrap();
    assert_eq!(again.as_ptr(), at, "the parked block serves the next request");
    assert_eq!(buddy.stats().cached, 0);
    // An uncached size goes straight back and merges.
    drop(again);
    let big = buddy.try_alloc(MIB).unwrap();
    assert!(!buddy.caches_size(MIB));
    drop(big);
    buddy.trim();
    assert_fully_coalesced(&buddy);
}

#[test]
fn bad_inputs_return_their_errors() {
    use BuddyConfigError as E;
    let build = |region: usize, min: usize, max: Option<usize>| {
        let builder = BuddyAllocator::builder().region_size(region).min_block(min);
        match max {
            Some(max) => builder.max_block(max).build(),
            None => builder.build(),
        }
        .map(|_| ())
    };
    let config = |err| Err(PoolError::BuddyConfig(err));
    assert_eq!(BuddyAllocator::builder().build().map(|_| ()), Err(PoolError::ZeroSize));
    assert_eq!(build(0, 4096, None), Err(PoolError::ZeroSize));
    assert_eq!(build(MIB, 3000, None), config(E::MinBlockNotPowerOfTwo { min_block: 3000 }));
    assert_eq!(build(MIB, 256, None), config(E::MinBlockTooSmall { min_block: 256, floor: 512 }));
    assert_eq!(build(MIB, 4096, Some(0)), config(E::MaxBlockNotPowerOfTwo { max_block: 0 }));
    assert_eq!(build(MIB, 4096, Some(5000)), config(E::MaxBlockNotPowerOfTwo { max_block: 5000 }));
    assert_eq!(
        build(MIB, 8192, Some(4096)),
        config(E::MinAboveMax { min_block: 8192, max_block: 4096 })
    );
    assert_eq!(
        build(3 * MIB, 4096, Some(2 * MIB)),
        config(E::RegionNotMultiple { region_size: 3 * MIB, max_block: 2 * MIB })
    );
    assert_eq!(
        build(MIB, 4096, Some(2 * MIB)),
        config(E::RegionNotMultiple { region_size: MIB, max_block: 2 * MIB })
    );
    // No maximum given and the region is not even a multiple of the minimum block.
    assert_eq!(
        build(6 * KIB, 4096, None),
        config(E::RegionNotMultiple { region_size: 6 * KIB, max_block: 4096 })
    );
    assert_eq!(
        build(1 << 42, 512, Some(1 << 30)),
        config(E::TooManyBlocks { blocks: 1 << 33, max: 1 << 31 })
    );
    assert_eq!(
        BuddyAllocator::builder().region_size(MIB).cache_depth(65).build().map(|_| ()),
        config(E::CacheDepth { requested: 65, max: 64 })
    );
    // Errors display their numbers.
    let text = PoolError::BuddyConfig(E::MinAboveMax { min_block: 8192, max_block: 4096 });
    assert!(text.to_string().contains("8192"), "{text}");

    let buddy = BuddyAllocator::builder().region_size(64 * KIB).build().unwrap();
    assert_eq!(buddy.try_alloc(0).unwrap_err(), PoolError::ZeroSize);
    assert_eq!(buddy.alloc(0).unwrap_err(), PoolError::ZeroSize);
    assert_eq!(buddy.alloc_timeout(0, std::time::Duration::ZERO).unwrap_err(), PoolError::ZeroSize);
    assert_eq!(buddy.acquire(0).unwrap_err(), PoolError::ZeroSize);
    let too_large = PoolError::TooLarge { size: 64 * KIB + 1, max: 64 * KIB };
    assert_eq!(buddy.try_alloc(64 * KIB + 1).unwrap_err(), too_large);
    assert_eq!(buddy.alloc(64 * KIB + 1).unwrap_err(), too_large, "never waits for the impossible");
    assert_eq!(buddy.acquire(64 * KIB + 1).unwrap_err(), too_large);
    assert_eq!(
        buddy.try_alloc(usize::MAX).unwrap_err(),
        PoolError::TooLarge { size: usize::MAX, max: 64 * KIB }
    );
    let all = buddy.try_alloc(64 * KIB).unwrap();
    assert_eq!(buddy.try_alloc(1).unwrap_err(), PoolError::Exhausted);
    assert_eq!(buddy.stats().exhausted, 1);
    drop(all);
}

#[test]
fn a_one_gib_region_splits_and_coalesces() {
    let buddy = BuddyAllocator::builder().region_size(1 << 30).build().unwrap();
    assert_eq!((buddy.max_block(), buddy.region_size()), (1 << 30, 1 << 30));
    let whole = buddy.try_alloc(1 << 30).unwrap();
    assert_eq!(whole.capacity(), 1 << 30);
    assert_eq!(buddy.try_alloc(4096).unwrap_err(), PoolError::Exhausted);
    drop(whole);
    let page = buddy.try_alloc(4096).unwrap();
    let stats = buddy.stats();
    assert_eq!(stats.orders.len(), 19, "4 KiB … 1 GiB");
    assert!(stats.orders.iter().take(18).all(|o| o.free_blocks == 1), "one split per order");
    assert_eq!(stats.largest_free, 512 << 20);
    let last = buddy.try_alloc(1 << 29).unwrap();
    assert_eq!(last.as_ptr() as usize - page.as_ptr() as usize, 1 << 29, "the upper half");
    drop((page, last));
    buddy.trim();
    assert_fully_coalesced(&buddy);
    // A region of several maximum blocks, with a smaller minimum.
    let buddy = BuddyAllocator::builder()
        .region_size(3 << 30)
        .min_block(512)
        .max_block(1 << 30)
        .build()
        .unwrap();
    assert_eq!(buddy.try_alloc(1).unwrap().capacity(), 512);
    buddy.trim();
    assert_fully_coalesced(&buddy);
}

/// io_uring registers at most 1 GiB per buffer and cuts regions every 1 GiB: by default no
/// block is larger, so every block of a larger region is registered; asked for, one may be.
#[test]
fn the_default_largest_block_is_one_gib() {
    let buddy = BuddyAllocator::builder().region_size(2 << 30).build().unwrap();
    assert_eq!(buddy.max_block(), 1 << 30, "two maximum blocks, not one of 2 GiB");
    let too_large = (1 << 30) + 1;
    assert_eq!(
        buddy.try_alloc(too_large).unwrap_err(),
        PoolError::TooLarge { size: too_large, max: 1 << 30 }
    );
    let explicit = BuddyAllocator::builder().region_size(2 << 30).max_block(2 << 30).build();
    assert_eq!(explicit.unwrap().try_alloc(too_large).unwrap().capacity(), 2 << 30);
}

#[test]
fn indices_and_raw_pointers_round_trip_and_refuse_misuse() {
    let buddy = BuddyAllocator::builder().region_size(MIB).build().unwrap();
    let other = BuddyAllocator::builder().region_size(MIB).build().unwrap();
    let pool = BufferPool::builder(4096).capacity(2).build().unwrap();

    let mut buf = buddy.try_alloc(10_000).unwrap();
    buf[0] = 42;
    let index = buf.into_index();
    assert_eq!(buddy.stats().allocated, 16 * KIB, "still out");
    assert_eq!(other.put_index(index), Err(PoolError::ForeignIndex));
    assert_eq!(pool.put_index(index), Err(PoolError::ForeignIndex));
    let buf = buddy.buf_from_index(index).unwrap();
    assert_eq!((buf[0], buf.capacity()), (42, 16 * KIB));
    assert_eq!(buddy.put_index(index), Err(PoolError::NotOut { index: index.index() }));
    let index = buf.into_index();
    buddy.put_index(index).unwrap();
    assert_eq!(buddy.put_index(index), Err(PoolError::NotOut { index: index.index() }));
    assert_eq!(buddy.stats().allocated, 0);

    // A pool's index is foreign to the allocator.
    let pool_index = pool.try_get_index().unwrap();
    assert_eq!(buddy.put_index(pool_index), Err(PoolError::ForeignIndex));
    pool.put_index(pool_index).unwrap();

    // A stale index whose block now holds a block of another size is refused.
    buddy.trim();
    let stale = buddy.try_alloc(8 * KIB).unwrap().into_index();
    buddy.put_index(stale).unwrap();
    buddy.trim();
    let reuse = buddy.try_alloc(4 * KIB).unwrap();
    assert_eq!(reuse.index(), stale.index(), "same start, smaller block");
    let reuse_index = reuse.into_index();
    assert_eq!(buddy.put_index(stale), Err(PoolError::NotOut { index: stale.index() }));
    buddy.put_index(reuse_index).unwrap();

    let raw = buddy.try_alloc(4096).unwrap().into_raw();
    let inside = raw.map_addr(|addr| addr.saturating_add(1));
    let from_raw = |buddy: &BuddyAllocator, ptr| {
        // SAFETY: every pointer passed below came from this allocator's `into_raw`, or points
        // into its region and is refused; nothing else uses the block.
        unsafe { buddy.buf_from_raw(ptr) }
    };
    assert_eq!(from_raw(&buddy, inside).unwrap_err(), PoolError::ForeignIndex);
    assert_eq!(from_raw(&other, raw).unwrap_err(), PoolError::ForeignIndex);
    let buf = from_raw(&buddy, raw).unwrap();
    assert_eq!((buf.as_ptr(), buf.capacity()), (raw.as_ptr().cast_const(), 4096));
    drop(buf);
    assert!(matches!(from_raw(&buddy, raw), Err(PoolError::NotOut { .. })));
    buddy.trim();
    assert_fully_coalesced(&buddy);
}

#[test]
fn zero_on_return_clears_the_whole_block() {
    let buddy =
        BuddyAllocator::builder().region_size(64 * KIB).zero_on_return(true).build().unwrap();
    let mut buf = buddy.try_alloc(5000).unwrap();
    buf.fill(0xAB);
    drop(buf);
    buddy.trim();
    let whole = buddy.try_alloc(64 * KIB).unwrap();
    assert!(whole.iter().all(|&b| b == 0), "no byte of the old block survives");
    let index = whole.into_index();
    let mut whole = buddy.buf_from_index(index).unwrap();
    whole[100] = 1;
    buddy.put_index(whole.into_index()).unwrap();
    assert_eq!(buddy.try_alloc(64 * KIB).unwrap()[100], 0, "put_index zeroes too");
}

#[test]
fn pools_arenas_and_buddies_share_one_handle_type() {
    let pool = BufferPool::for_tier(Tier::Small, 4).unwrap();
    let buddy = BuddyAllocator::builder().region_size(MIB).build().unwrap();
    let mut bufs: Vec<Buf> = vec![pool.try_get().unwrap(), buddy.try_alloc(3000).unwrap()];
    for buf in &mut bufs {
        buf[..2].copy_from_slice(b"ok");
        buf.set_filled(2);
    }
    assert!(pool.owns(&bufs[0]) && !pool.owns(&bufs[1]));
    assert!(buddy.owns(&bufs[1]) && !buddy.owns(&bufs[0]));
    assert_eq!((bufs[0].tier(), bufs[1].tier()), (Some(Tier::Small), None));
    assert!(format!("{:?}", bufs[1]).contains("capacity: 4096"));
    // Returned from another thread, both kinds.
    std::thread::spawn(move || drop(bufs)).join().unwrap();
    assert_eq!(pool.available(), 4);
    assert_eq!(buddy.stats().allocated, 0);
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<BuddyAllocator>();
    assert_send_sync::<Buf>();
}

#[test]
fn regions_cover_every_block_and_report_the_pages() {
    let buddy = BuddyAllocator::builder().region_size(4 * MIB).build().unwrap();
    let regions = buddy.regions();
    assert_eq!(regions.len(), 1);
    assert!(regions[0].len() >= 4 * MIB);
    assert_eq!(regions[0].as_ptr() as usize % iobuf_align::page_size(), 0);
    let blocks: Vec<_> = (0..4).map(|_| buddy.try_alloc(MIB).unwrap()).collect();
    for buf in &blocks {
        assert!(regions[0].contains(buf.as_ptr()));
        assert!(regions[0].contains(buf.as_ptr().wrapping_add(buf.capacity() - 1)));
    }
    assert!(buddy.page_size() >= iobuf_align::page_size());
}

#[test]
fn a_stale_copy_of_a_block_index_cannot_put_back_a_later_time_out() {
    let buddy = BuddyAllocator::builder().region_size(64 << 10).build().unwrap();
    let stale = buddy.try_alloc(64 << 10).unwrap().into_index();
    buddy.put_index(stale).unwrap();
    let current = buddy.try_alloc(64 << 10).unwrap().into_index();
    assert_eq!(current.index(), stale.index(), "the one block went out again");
    assert_eq!(buddy.put_index(stale), Err(PoolError::NotOut { index: stale.index() }));
    assert!(buddy.try_alloc(4096).is_err(), "the stale put freed nothing");
    buddy.put_index(current).unwrap();
    assert!(buddy.try_alloc(64 << 10).is_ok());
}
