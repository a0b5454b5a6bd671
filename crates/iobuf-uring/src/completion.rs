//! What comes back from the kernel: the result, and the buffers the operation held.

use std::io;

use crate::{OpId, ProvidedBuf};

/// One finished operation (or, for a multishot one, one of its results).
///
/// Every buffer an operation took comes back here, exactly once, after the kernel is done with
/// it. A negative kernel result is an `io::Error` (`from_raw_os_error(-res)`); a read's
/// handles have their filled length set to the bytes read.
///
/// # Examples
///
/// ```
/// use iobuf_pool::BufferPool;
/// use iobuf_uring::{Completion, IoBuf, Ring, ops::Read};
///
/// # if iobuf_uring::probe().is_err() { return Ok(()) }
/// let mut ring = Ring::new(8)?;
/// let pool = BufferPool::builder(4096).capacity(1).build()?;
/// let file = std::fs::File::open("/proc/self/stat")?;
/// ring.push(Read::at(&file, pool.try_get()?, 0))?;
/// match ring.wait()? {
///     Completion::Buf { result, buf, .. } => {
///         let n = result?;
///         assert_eq!(buf.filled(), n);
///     }
///     other => panic!("a read returns its buffer: {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Completion<B> {
    /// A single-buffer operation (read, write, zero-copy send) and its handle.
    Buf {
        /// The operation.
        id: OpId,
        /// Bytes transferred, or the error.
        result: io::Result<usize>,
        /// The handle, back from the kernel.
        buf: B,
    },
    /// A vectored operation and its handles, in the order given.
    Bufs {
        /// The operation.
        id: OpId,
        /// Bytes transferred over all handles, or the error.
        result: io::Result<usize>,
        /// The handles, back from the kernel.
        bufs: Vec<B>,
    },
    /// A buffer-select operation (read or recv from a buffer ring): the bytes received in a
    /// buffer of the ring, which goes back to the ring when dropped. `Ok(None)` is a
    /// zero-length result (end of file, peer closed).
    Selected {
        /// The operation.
        id: OpId,
        /// The received bytes, or the error.
        result: io::Result<Option<ProvidedBuf>>,
        /// Whether the (multishot) operation stays armed and more completions follow.
        more: bool,
    },
}

impl<B> Completion<B> {
    /// The operation this completion belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_uring::{Ring, ops::Read};
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let pool = iobuf_pool::BufferPool::builder(4096).capacity(2).build()?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// let mut ring = Ring::new(8)?;
    /// let first = ring.push(Read::at(&file, pool.try_get()?, 0))?;
    /// let second = ring.push(Read::at(&file, pool.try_get()?, 0))?;
    /// let (a, b) = (ring.wait()?.id(), ring.wait()?.id());
    /// assert!((a, b) == (first, second) || (a, b) == (second, first));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn id(&self) -> OpId {
        match self {
            Self::Buf { id, .. } | Self::Bufs { id, .. } | Self::Selected { id, .. } => *id,
        }
    }

    /// The result and the handle of a single-buffer operation; `None` for the other kinds.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::{Ring, ops::Read};
    ///
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let mut ring = Ring::new(8)?;
    /// let pool = BufferPool::builder(4096).capacity(1).build()?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// ring.push(Read::at(&file, pool.try_get()?, 0))?;
    /// let (result, buf) = ring.wait()?.into_buf().expect("a read");
    /// assert!(result? > 0 && buf.filled_slice().starts_with(std::process::id().to_string().as_bytes()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_buf(self) -> Option<(io::Result<usize>, B)> {
        match self {
            Self::Buf { result, buf, .. } => Some((result, buf)),
            _ => None,
        }
    }

    /// The result and the handles of a vectored operation; `None` for the other kinds.
    ///
    /// # Examples
    ///
    /// ```
    /// use iobuf_pool::BufferPool;
    /// use iobuf_uring::{Ring, ops::Readv};
    ///
    /// # if iobuf_uring::probe().is_err() { return Ok(()) }
    /// let mut ring = Ring::new(8)?;
    /// let pool = BufferPool::builder(4096).capacity(2).build()?;
    /// let file = std::fs::File::open("/proc/self/stat")?;
    /// ring.push(Readv::at(&file, vec![pool.try_get()?, pool.try_get()?], 0))?;
    /// let (result, bufs) = ring.wait()?.into_bufs().expect("a readv");
    /// assert_eq!(bufs.iter().map(|b| b.filled()).sum::<usize>(), result?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_bufs(self) -> Option<(io::Result<usize>, Vec<B>)> {
        match self {
            Self::Bufs { result, bufs, .. } => Some((result, bufs)),
            _ => None,
        }
    }
}

/// A kernel result as `io::Result`: negative values are errnos.
pub(crate) fn to_result(res: i32) -> io::Result<usize> {
    usize::try_from(res).map_err(|_| io::Error::from_raw_os_error(-res))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_results_are_os_errors() {
        assert_eq!(to_result(5).unwrap(), 5);
        assert_eq!(to_result(0).unwrap(), 0);
        let err = to_result(-libc::ECANCELED).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECANCELED));
    }
}
