//! The runtime-agnostic future returned by `acquire`.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::buf::Buf;
use crate::core::{PoolCore, PoolHandle, WaitState};

/// A future that resolves to a buffer once one is free. Works under any executor: it needs
/// only the `Waker` it is polled with.
///
/// Waiters are served in FIFO order, each woken with its buffer already handed over. Dropping
/// the future before it completes is safe at any point: if a buffer was handed to it in the
/// meantime, the buffer goes to the next waiter (or back to the pool).
///
/// # Examples
///
/// ```
/// use std::task::{Context, Poll, Waker};
/// use std::pin::pin;
///
/// let pool = iobuf_pool::BufferPool::builder(4096).capacity(1).build()?;
/// let held = pool.try_get()?;
/// let mut cx = Context::from_waker(Waker::noop());
/// let mut acquire = pin!(pool.acquire());
/// assert!(acquire.as_mut().poll(&mut cx).is_pending()); // queued
/// drop(held); // the put hands the buffer to the queued future
/// assert!(matches!(acquire.as_mut().poll(&mut cx), Poll::Ready(_)));
/// # Ok::<(), iobuf_pool::PoolError>(())
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Acquire {
    core: PoolHandle,
    class: usize,
    state: WaitState,
}

impl Acquire {
    pub(crate) fn new(core: PoolHandle, class: usize) -> Self {
        Self { core, class, state: WaitState::Idle }
    }
}

impl Future for Acquire {
    type Output = Buf;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Buf> {
        let this = self.get_mut();
        PoolCore::poll_take(&this.core, this.class, &mut this.state, cx)
            .map(|index| Buf::new(&this.core, this.class, index))
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        // Pass a wake-up that raced the drop on: the buffer goes to the next waiter.
        if let Some(index) = self.core.cancel_wait(self.class, &mut self.state) {
            self.core.give_uncounted(self.class, index);
        }
    }
}

impl fmt::Debug for Acquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire").field("pool", &self.core.id).field("state", &self.state).finish()
    }
}
