//! A lock-free bounded MPMC FIFO of any `T`: the SCQ paper's general construction.
//!
//! Two [`IndexRing`]s share `capacity` slot numbers: `free` holds the numbers of empty slots
//! and `ready` the numbers of filled ones, in FIFO order. A push takes a number from `free`,
//! writes the value into that slot and puts the number on `ready`; a pop does the reverse.
//!
//! # Safety
//!
//! This module owns one obligation: every slot is accessed by one thread at a time, and a
//! slot is read only after it was written. Both follow from index ownership: a slot number is
//! in at most one of the two rings or held by exactly one thread between its `pop` from one
//! ring and its `push` to the other (the rings never hand out an index twice), and each ring's
//! push releases / pop acquires, so the write of a slot happens before the read that follows
//! its number through `ready`, and that read happens before the next write after its number
//! comes back through `free`. A number is on `ready` exactly when its slot holds a value.
#![allow(unsafe_code)] // reason: the slot array is `MaybeUninit`; see the Safety section above.

use alloc::boxed::Box;
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;

use crate::capacity::CapacityError;
use crate::index_ring::IndexRing;
use crate::sync::UnsafeCell;

/// A lock-free bounded multi-producer multi-consumer FIFO queue of `T`.
///
/// Built from two [`IndexRing`]s (free and filled slot numbers) and an array of slots, as in the
/// SCQ paper (Nikolaev, DISC 2019): every operation is two index-ring operations plus one move
/// of `T`. Lock-free; nothing allocates after [`new`](Self::new).
///
/// `Send` and `Sync` when `T: Send`: the queue moves values between threads but never shares
/// a `&T`.
///
/// # Examples
///
/// ```
/// use iobuf_queue::BoundedQueue;
/// use std::sync::Arc;
/// use std::thread;
///
/// let queue = Arc::new(BoundedQueue::new(16)?);
/// let producer = {
///     let queue = Arc::clone(&queue);
///     thread::spawn(move || {
///         for value in 0..100u32 {
///             let mut value = value;
///             while let Err(back) = queue.try_push(value) {
///                 value = back;
///                 thread::yield_now();
///             }
///         }
///     })
/// };
/// let mut received = Vec::new();
/// while received.len() < 100 {
///     match queue.try_pop() {
///         Some(value) => received.push(value),
///         None => thread::yield_now(),
///     }
/// }
/// producer.join().unwrap();
/// assert_eq!(received, (0..100).collect::<Vec<_>>());
/// # Ok::<(), iobuf_queue::CapacityError>(())
/// ```
pub struct BoundedQueue<T> {
    /// Numbers of empty slots.
    free: IndexRing,
    /// Numbers of filled slots, oldest first.
    ready: IndexRing,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// The queue owns the `T`s in its slots (for drop check).
    _owns: PhantomData<T>,
}

// SAFETY: the queue only moves `T`s between threads (never shares `&T`), so `T: Send` is
// enough, as for `Mutex<T>`; slot access is exclusive per the module's Safety section.
unsafe impl<T: Send> Sync for BoundedQueue<T> {}
// SAFETY: dropping or moving the queue to another thread moves its `T`s with it.
unsafe impl<T: Send> Send for BoundedQueue<T> {}

impl<T> BoundedQueue<T> {
    /// An empty queue that holds up to `capacity` values.
    ///
    /// Allocates the slot array and two index rings once.
    ///
    /// # Errors
    ///
    /// [`CapacityError::Zero`] for `capacity == 0`; [`CapacityError::TooLarge`] above
    /// [`MAX_CAPACITY`](crate::MAX_CAPACITY).
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_queue::{BoundedQueue, CapacityError};
    ///
    /// let queue = BoundedQueue::<u64>::new(100)?;
    /// assert_eq!(queue.capacity(), 100);
    /// assert_eq!(BoundedQueue::<u64>::new(0).unwrap_err(), CapacityError::Zero);
    /// # Ok::<(), CapacityError>(())
    /// ```
    pub fn new(capacity: usize) -> Result<Self, CapacityError> {
        let free = IndexRing::new_full(capacity)?;
        let ready = IndexRing::new_empty(capacity)?;
        let slots = (0..capacity).map(|_| UnsafeCell::new(MaybeUninit::uninit())).collect();
        Ok(Self { free, ready, slots, _owns: PhantomData })
    }

    /// Appends `value`, or gives it back if the queue is full.
    ///
    /// # Errors
    ///
    /// `Err(value)` when all `capacity` slots hold values.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = iobuf_queue::BoundedQueue::new(1)?;
    /// assert_eq!(queue.try_push('a'), Ok(()));
    /// assert_eq!(queue.try_push('b'), Err('b'));
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    pub fn try_push(&self, value: T) -> Result<(), T> {
        let Some(index) = self.free.pop() else {
            return Err(value);
        };
        self.slots[index as usize].with_mut(|slot| {
            // SAFETY: `index` came from `free`, so this thread is the slot's only user and the
            // slot is empty (module Safety section); writing a `MaybeUninit` never drops.
            unsafe { slot.write(MaybeUninit::new(value)) }
        });
        self.ready.push(index);
        Ok(())
    }

    /// Removes the oldest value, or returns `None` if the queue is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = iobuf_queue::BoundedQueue::new(4)?;
    /// queue.try_push(1).unwrap();
    /// queue.try_push(2).unwrap();
    /// assert_eq!(queue.try_pop(), Some(1));
    /// assert_eq!(queue.try_pop(), Some(2));
    /// assert_eq!(queue.try_pop(), None);
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    pub fn try_pop(&self) -> Option<T> {
        let index = self.ready.pop()?;
        let value = self.slots[index as usize].with(|slot| {
            // SAFETY: `index` came from `ready`, so the slot holds an initialised `T`, written
            // before its number was pushed there, and this thread is now its only user. The
            // value is moved out: the slot counts as empty from here on.
            unsafe { slot.cast::<T>().read() }
        });
        self.free.push(index);
        Some(value)
    }

    /// The most values the queue holds at once, as given to [`new`](Self::new).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(iobuf_queue::BoundedQueue::<u8>::new(3)?.capacity(), 3);
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.free.capacity()
    }

    /// How many values the queue holds, approximately while other threads use it (see
    /// [`IndexRing::len`]); exact otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = iobuf_queue::BoundedQueue::new(3)?;
    /// queue.try_push("x").unwrap();
    /// assert_eq!(queue.len(), 1);
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.ready.len()
    }

    /// Whether [`len`](Self::len) is 0, as approximate as `len`.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = iobuf_queue::BoundedQueue::<u8>::new(3)?;
    /// assert!(queue.is_empty());
    /// # Ok::<(), iobuf_queue::CapacityError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }
}

impl<T> Drop for BoundedQueue<T> {
    fn drop(&mut self) {
        // `&mut self`: no other thread is inside the queue, so `ready` yields exactly the
        // filled slots.
        while let Some(index) = self.ready.pop() {
            self.slots[index as usize].with_mut(|slot| {
                // SAFETY: `index` came from `ready`, so the slot holds a value, and it will
                // not be read again (its number is not pushed back anywhere).
                unsafe { core::ptr::drop_in_place(slot.cast::<T>()) }
            });
        }
    }
}

impl<T> fmt::Debug for BoundedQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedQueue")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(iobuf_loom)))]
mod tests {
    use super::*;
    use alloc::rc::Rc;
    use alloc::string::String;
    use alloc::sync::Arc;
    use core::cell::Cell;
    use core::sync::atomic::{AtomicUsize, Ordering};
    use static_assertions::{assert_impl_all, assert_not_impl_any};

    assert_impl_all!(BoundedQueue<u32>: Send, Sync);
    // `Cell` is `Send` but not `Sync`: the queue never shares a `&T`, so it may be shared.
    assert_impl_all!(BoundedQueue<Cell<u8>>: Send, Sync);
    assert_not_impl_any!(BoundedQueue<Rc<u8>>: Send, Sync);

    /// Counts its drops in a shared counter.
    #[derive(Debug)]
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn smoke_fifo() {
        let queue = BoundedQueue::new(3).unwrap();
        for round in 0..10 {
            queue.try_push(round).unwrap();
            queue.try_push(round + 100).unwrap();
            assert_eq!(queue.try_pop(), Some(round));
            assert_eq!(queue.try_pop(), Some(round + 100));
        }
        assert_eq!(queue.try_pop(), None);
    }

    #[test]
    fn full_gives_the_value_back_and_len_tracks() {
        let queue = BoundedQueue::new(2).unwrap();
        assert!(queue.is_empty());
        queue.try_push(String::from("a")).unwrap();
        queue.try_push(String::from("b")).unwrap();
        assert_eq!(queue.len(), 2);
        assert!(!queue.is_empty());
        assert_eq!(queue.try_push(String::from("c")), Err(String::from("c")));
        assert_eq!(queue.try_pop().as_deref(), Some("a"));
        queue.try_push(String::from("c")).unwrap();
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.try_pop().as_deref(), Some("b"));
        assert_eq!(queue.try_pop().as_deref(), Some("c"));
        assert_eq!(queue.try_pop(), None);
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn capacity_errors_are_typed() {
        assert_eq!(BoundedQueue::<u8>::new(0).unwrap_err(), CapacityError::Zero);
        assert!(matches!(
            BoundedQueue::<u8>::new(crate::MAX_CAPACITY + 1),
            Err(CapacityError::TooLarge { .. })
        ));
        let queue = BoundedQueue::<u8>::new(5).unwrap();
        assert_eq!(queue.capacity(), 5);
        for value in 0..5 {
            queue.try_push(value).unwrap();
        }
        assert_eq!(queue.try_push(5), Err(5));
    }

    #[test]
    fn drop_drops_each_remaining_value_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let queue = BoundedQueue::new(4).unwrap();
        for _ in 0..4 {
            queue.try_push(Counted(Arc::clone(&drops))).unwrap();
        }
        assert!(queue.try_push(Counted(Arc::clone(&drops))).is_err()); // dropped on return
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        drop(queue.try_pop()); // popped and dropped here
        assert_eq!(drops.load(Ordering::Relaxed), 2);
        drop(queue); // three left inside
        assert_eq!(drops.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn values_move_not_copy() {
        let value = Rc::new(7);
        let queue = BoundedQueue::new(1).unwrap();
        queue.try_push(Rc::clone(&value)).unwrap();
        assert_eq!(Rc::strong_count(&value), 2);
        let back = queue.try_pop().unwrap();
        assert_eq!(Rc::strong_count(&value), 2);
        drop(back);
        assert_eq!(Rc::strong_count(&value), 1);
    }

    #[test]
    fn debug_shows_capacity_and_len() {
        let queue = BoundedQueue::new(3).unwrap();
        queue.try_push(1u8).unwrap();
        assert_eq!(alloc::format!("{queue:?}"), "BoundedQueue { capacity: 3, len: 1, .. }");
    }
}
