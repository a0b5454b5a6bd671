//! A set of block numbers with summary levels: the free blocks of one buddy order.
//!
//! Level 0 is a plain bitmap (bit `i` set: block `i` is free). Each level above it has one bit
//! per word of the level below, set while that word is non-zero, up to a single top word. So
//! insert, remove and "lowest member" each touch one word per level — four levels cover 2^24
//! blocks — and the set lives outside the blocks it describes: free memory is never written,
//! so it is never faulted in nor dirtied by the allocator's bookkeeping.

/// Free block numbers `0..len` of one order.
#[derive(Debug)]
pub(super) struct BlockSet {
    /// `levels[0]` the bitmap, then the summaries; the last level is one word.
    levels: Vec<Box<[u64]>>,
    count: usize,
}

impl BlockSet {
    /// An empty set for block numbers `0..len`.
    pub(super) fn new(len: usize) -> Self {
        let mut levels = Vec::new();
        let mut words = len.div_ceil(64).max(1);
        loop {
            levels.push(vec![0u64; words].into_boxed_slice());
            if words == 1 {
                break;
            }
            words = words.div_ceil(64);
        }
        Self { levels, count: 0 }
    }

    /// Members.
    pub(super) fn len(&self) -> usize {
        self.count
    }

    pub(super) fn contains(&self, block: usize) -> bool {
        self.levels[0][block / 64] >> (block % 64) & 1 != 0
    }

    /// Adds `block`; returns whether it was absent.
    pub(super) fn insert(&mut self, block: usize) -> bool {
        if self.contains(block) {
            return false;
        }
        let mut at = block;
        for level in &mut self.levels {
            let word = &mut level[at / 64];
            let was_empty = *word == 0;
            *word |= 1 << (at % 64);
            // A word that already had members is already marked in the level above.
            if !was_empty {
                break;
            }
            at /= 64;
        }
        self.count += 1;
        true
    }

    /// Removes `block`; returns whether it was present.
    pub(super) fn remove(&mut self, block: usize) -> bool {
        if !self.contains(block) {
            return false;
        }
        let mut at = block;
        for level in &mut self.levels {
            let word = &mut level[at / 64];
            *word &= !(1 << (at % 64));
            // Only a word that became empty clears its bit in the level above.
            if *word != 0 {
                break;
            }
            at /= 64;
        }
        self.count -= 1;
        true
    }

    /// The lowest member (so allocations pack towards the start of the region).
    pub(super) fn first(&self) -> Option<usize> {
        let mut at = 0;
        for level in self.levels.iter().rev() {
            let word = level[at];
            if word == 0 {
                // Only the top word can be empty: a lower word is reached through a set bit.
                return None;
            }
            at = at * 64 + word.trailing_zeros() as usize;
        }
        Some(at)
    }
}

#[cfg(all(test, not(iobuf_loom)))]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_first_across_levels() {
        for len in [1, 63, 64, 65, 4096, 4097, 300_000] {
            let mut set = BlockSet::new(len);
            assert_eq!(set.first(), None, "len {len}");
            let last = len - 1;
            assert!(set.insert(last));
            assert!(!set.insert(last), "a second insert reports the member");
            assert_eq!(set.first(), Some(last));
            if len > 1 {
                assert!(set.insert(len / 2));
                assert_eq!(set.first(), Some(len / 2));
                assert!(set.remove(len / 2));
            }
            if last != 0 {
                assert!(!set.remove(0), "0 was never inserted");
            }
            assert_eq!(set.first(), Some(last));
            assert!(set.remove(last));
            assert_eq!((set.first(), set.len()), (None, 0));
        }
    }

    #[test]
    fn agrees_with_a_sorted_model() {
        // A little xorshift: deterministic, no dependency.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let len = 70_000;
        let mut set = BlockSet::new(len);
        let mut model = std::collections::BTreeSet::new();
        for _ in 0..50_000 {
            let block = (next() % len as u64) as usize;
            if next() % 2 == 0 {
                assert_eq!(set.insert(block), model.insert(block));
            } else {
                assert_eq!(set.remove(block), model.remove(&block));
            }
            assert_eq!(set.first(), model.first().copied());
            assert_eq!(set.len(), model.len());
        }
    }
}
