//! The buddy tree: the free blocks of every order from the minimum block to the maximum,
//! split on allocation and coalesced on free (Knowlton 1965; Knuth, TAOCP vol. 1, §2.5).
//!
//! A block of order `k` is `2^k` bytes at an offset that is a multiple of `2^k`; its *buddy* is
//! the other half of the block of order `k + 1` that contains it (block number `b ^ 1`). The
//! region is a whole number of maximum blocks, which never coalesce with each other.
//!
//! Offsets outside this module are counted in *units* of the minimum block (unit `u` starts at
//! byte `u × min_block`), so every block is named by one `u32`. Single-threaded: the allocator
//! keeps the tree behind a mutex and puts a lock-free cache of common orders in front of it.

use super::bitset::BlockSet;

/// The free blocks of a region, by order.
#[derive(Debug)]
pub(super) struct Tree {
    min_order: u32,
    /// `free[k]`: free blocks of order `min_order + k`, numbered by offset / block size.
    free: Box<[BlockSet]>,
    /// Bit `k` set while `free[k]` is non-empty: the smallest order able to serve a request
    /// is one `trailing_zeros` away.
    nonempty: u64,
    /// Bytes in blocks the tree has handed out (held by users or parked in caches).
    used: usize,
}

impl Tree {
    /// A tree over `region` bytes (a multiple of `2^max_order`), every maximum block free.
    pub(super) fn new(region: usize, min_order: u32, max_order: u32) -> Self {
        debug_assert!(min_order <= max_order && max_order - min_order < 64);
        debug_assert_eq!(region % (1 << max_order), 0);
        let orders = min_order..=max_order;
        let free = orders.map(|order| BlockSet::new(region >> order)).collect();
        let mut tree = Self { min_order, free, nonempty: 0, used: 0 };
        let top = tree.free.len() - 1;
        for block in 0..region >> max_order {
            tree.insert(top, block);
        }
        tree
    }

    fn insert(&mut self, k: usize, block: usize) {
        let fresh = self.free[k].insert(block);
        debug_assert!(fresh, "block {block} of order {} freed twice", self.min_order as usize + k);
        self.nonempty |= 1 << k;
    }

    /// Removes `block` from order `k`'s free set; false when it was not free.
    fn remove(&mut self, k: usize, block: usize) -> bool {
        if !self.free[k].remove(block) {
            return false;
        }
        if self.free[k].len() == 0 {
            self.nonempty &= !(1 << k);
        }
        true
    }

    /// Takes a free block of `order`, splitting the smallest larger one if need be. Returns its
    /// first unit, or `None` when no free block of `order` or larger exists.
    pub(super) fn alloc(&mut self, order: u32) -> Option<u32> {
        let want = (order - self.min_order) as usize;
        let candidates = self.nonempty >> want;
        if candidates == 0 {
            return None;
        }
        let mut k = want + candidates.trailing_zeros() as usize;
        let mut block = self.free[k].first().expect("a non-empty order has a first block");
        self.remove(k, block);
        // Keep the lower half, free the upper half, one order at a time.
        while k > want {
            k -= 1;
            block *= 2;
            self.insert(k, block + 1);
        }
        self.used += 1 << order;
        Some((block << want) as u32)
    }

    /// Gives back the block of `order` starting at `unit`, merging it with its buddy for as
    /// long as the buddy is free.
    pub(super) fn free(&mut self, order: u32, unit: u32) {
        let mut k = (order - self.min_order) as usize;
        let mut block = unit as usize >> k;
        debug_assert_eq!(block << k, unit as usize, "unit {unit} is not aligned to order {order}");
        self.used -= 1 << order;
        let top = self.free.len() - 1;
        while k < top && self.remove(k, block ^ 1) {
            block /= 2;
            k += 1;
        }
        self.insert(k, block);
    }

    /// Free blocks of `order`.
    pub(super) fn free_blocks(&self, order: u32) -> usize {
        self.free[(order - self.min_order) as usize].len()
    }

    /// The largest free block in bytes (0 when none).
    pub(super) fn largest_free(&self) -> usize {
        match self.nonempty {
            0 => 0,
            mask => 1 << (self.min_order + 63 - mask.leading_zeros()),
        }
    }

    /// Bytes handed out.
    pub(super) fn used(&self) -> usize {
        self.used
    }
}

#[cfg(all(test, not(iobuf_loom)))]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const MIN: u32 = 12;

    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// Live blocks by start unit, with their order; checks no two overlap.
    fn check_disjoint(live: &BTreeMap<u32, u32>, region_units: u64) {
        let mut end = 0u64;
        for (&unit, &order) in live {
            let unit = u64::from(unit);
            assert!(unit >= end, "block at unit {unit} overlaps the one before");
            end = unit + (1 << (order - MIN));
            assert!(end <= region_units, "block at unit {unit} runs past the region");
        }
    }

    #[test]
    fn split_then_coalesce_to_one_block() {
        let mut tree = Tree::new(1 << 20, MIN, 20);
        let a = tree.alloc(MIN).unwrap();
        assert_eq!(a, 0, "the lowest block first");
        // One split per order below 1 MiB left one free block on each.
        for order in MIN..20 {
            assert_eq!(tree.free_blocks(order), 1, "order {order}");
        }
        assert_eq!(tree.largest_free(), 1 << 19);
        let b = tree.alloc(MIN).unwrap();
        assert_eq!(b, 1, "the buddy of the first block");
        tree.free(MIN, a);
        tree.free(MIN, b);
        assert_eq!((tree.free_blocks(20), tree.used(), tree.largest_free()), (1, 0, 1 << 20));
        for order in MIN..20 {
            assert_eq!(tree.free_blocks(order), 0, "order {order} coalesced");
        }
    }

    #[test]
    fn exhausts_exactly_and_max_blocks_stay_apart() {
        // Three maximum blocks of 64 KiB: they never merge with each other.
        let mut tree = Tree::new(3 << 16, MIN, 16);
        let blocks: Vec<_> = (0..3).map(|_| tree.alloc(16).unwrap()).collect();
        assert_eq!(blocks, [0, 16, 32]);
        assert_eq!(tree.alloc(MIN), None);
        for block in blocks {
            tree.free(16, block);
        }
        assert_eq!(tree.free_blocks(16), 3);
        let small: Vec<_> = (0..48).map(|_| tree.alloc(MIN).unwrap()).collect();
        assert_eq!(tree.alloc(MIN), None, "48 × 4 KiB fill 192 KiB");
        for unit in small {
            tree.free(MIN, unit);
        }
        assert_eq!((tree.free_blocks(16), tree.used()), (3, 0));
    }

    #[test]
    fn random_sequences_agree_with_a_model() {
        let region = 4usize << 20;
        let max = 20;
        let region_units = (region >> MIN) as u64;
        let mut next = xorshift(0xDEAD_BEEF_CAFE_F00D);
        let mut tree = Tree::new(region, MIN, max);
        let mut live: BTreeMap<u32, u32> = BTreeMap::new();
        let mut live_bytes = 0usize;
        for step in 0..40_000 {
            if next() % 100 < 55 {
                // Sizes weighted toward small: order MIN + (0..=8), each step half as likely.
                let order = MIN + (next() | 1 << 8).trailing_zeros().min(max - MIN);
                match tree.alloc(order) {
                    Some(unit) => {
                        assert_eq!(u64::from(unit) % (1 << (order - MIN)), 0, "aligned to size");
                        assert!(live.insert(unit, order).is_none(), "unit {unit} handed out twice");
                        live_bytes += 1 << order;
                    }
                    None => assert!(
                        tree.largest_free() < 1 << order,
                        "step {step}: refused order {order} with a large enough block free"
                    ),
                }
            } else if let Some((&unit, &order)) =
                live.iter().nth(next() as usize % live.len().max(1))
            {
                live.remove(&unit);
                tree.free(order, unit);
                live_bytes -= 1 << order;
            }
            assert_eq!(tree.used(), live_bytes);
            if step % 1000 == 0 {
                check_disjoint(&live, region_units);
            }
        }
        for (unit, order) in std::mem::take(&mut live) {
            tree.free(order, unit);
        }
        assert_eq!(tree.free_blocks(max), region >> max, "everything coalesced");
        assert_eq!(tree.largest_free(), 1 << max);
        for order in MIN..max {
            assert_eq!(tree.free_blocks(order), 0);
        }
    }
}
