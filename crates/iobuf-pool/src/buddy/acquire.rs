//! The runtime-agnostic future returned by `BuddyAllocator::acquire`.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::core::BuddyCore;
use crate::buf::Buf;
use crate::core::WaitState;
use crate::sync::Arc;

/// A future that resolves to a buffer of the requested size once a block is free. Works under
/// any executor: it needs only the `Waker` it is polled with.
///
/// Waiters are served in FIFO order among those whose size can be had (see
/// [`BuddyAllocator`](crate::BuddyAllocator)), each woken with its block already handed over.
/// Dropping
/// the future before it completes is safe at any point: a block handed to it in the meantime
/// goes back to the allocator, which serves the next waiter with it.
///
/// # Examples
///
/// ```
/// use std::pin::pin;
/// use std::task::{Context, Poll, Waker};
///
/// let buddy = iobuf_pool::BuddyAllocator::builder().region_size(64 << 10).build()?;
/// let held = buddy.try_alloc(64 << 10)?; // the whole region
/// let mut cx = Context::from_waker(Waker::noop());
/// let mut acquire = pin!(buddy.acquire(4096)?);
/// assert!(acquire.as_mut().poll(&mut cx).is_pending()); // queued
/// drop(held); // the free hands a block to the queued future
/// assert!(matches!(acquire.as_mut().poll(&mut cx), Poll::Ready(buf) if buf.capacity() == 4096));
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct BuddyAcquire {
    core: Arc<BuddyCore>,
    order: u32,
    state: WaitState,
}

impl BuddyAcquire {
    pub(super) fn new(core: Arc<BuddyCore>, order: u32) -> Self {
        Self { core, order, state: WaitState::Idle }
    }
}

impl Future for BuddyAcquire {
    type Output = Buf;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Buf> {
        let this = self.get_mut();
        this.core
            .poll_take(this.order, &mut this.state, cx)
            .map(|unit| Buf::buddy(this.core.clone(), this.order, unit))
    }
}

impl Drop for BuddyAcquire {
    fn drop(&mut self) {
        // Pass a wake-up that raced the drop on: the block goes to the next waiter.
        if let Some(unit) = self.core.cancel_wait(&mut self.state) {
            self.core.give(self.order, unit);
        }
    }
}

impl fmt::Debug for BuddyAcquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuddyAcquire")
            .field("allocator", &self.core.shape.id)
            .field("block_size", &(1usize << self.order))
            .field("state", &self.state)
            .finish()
    }
}
