//! Aligned memory with stable addresses, the bottom layer of iobuf.
//!
//! Everything a buffer pool stands on:
//!
//! - [`page_size`] (read from the OS once) and [`CACHE_LINE_SIZE`] for the target architecture,
//!   plus a re-export of crossbeam-utils' [`CachePadded`] for padding hot atomics;
//! - [`AlignedBlock`]: an owned, zeroed heap block of any size and any power-of-two alignment
//!   (`no_std + alloc`);
//! - [`Region`] (Linux): an anonymous mmap region on normal pages, transparent huge pages or
//!   explicit 2 MiB / 1 GiB huge pages, optionally populated and locked, that reports what it
//!   actually obtained;
//! - [`Carved`]: any of the above split into `n` equal blocks, index → pointer in O(1);
//! - [`MirroredRegion`] (Linux): the same pages mapped twice back to back, so a byte ring never
//!   has to split a read or write at the seam.
//!
//! Every constructor validates its input and returns an [`AlignError`]; none panics on bad input.
//! This crate is the only one in the workspace that calls the allocator or `mmap` directly
//! (architecture invariant: one memory gate).
//!
//! # Examples
//!
//! ```
//! use iobuf_align::{AlignedBlock, BlockLayout, Carved, page_size};
//!
//! // One page-aligned, zeroed block.
//! let block = AlignedBlock::page_aligned(10_000)?;
//! assert_eq!(block.as_ptr() as usize % page_size(), 0);
//! assert!(block.iter().all(|&b| b == 0));
//!
//! // Eight 4 KiB blocks carved from one allocation.
//! let blocks = Carved::heap(BlockLayout::new(4096, 4096, 8)?)?;
//! assert_eq!(blocks.block_ptr(7).unwrap().as_ptr() as usize - blocks.base().as_ptr() as usize, 7 * 4096);
//! # Ok::<(), iobuf_align::AlignError>(())
//! ```
#![no_std]
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(target_pointer_width = "64"))]
compile_error!("iobuf needs a 64-bit target: its rings pack cycle and index into 64-bit atomics");

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod arch;
mod carve;
mod error;
mod heap;
mod memory;
#[cfg(target_os = "linux")]
mod mirror;
#[cfg(target_os = "linux")]
mod region;
#[cfg(target_os = "linux")]
mod sys;

pub use arch::{CACHE_LINE_SIZE, page_size};
pub use carve::{BlockLayout, Carved};
pub use crossbeam_utils::CachePadded;
pub use error::AlignError;
pub use heap::AlignedBlock;
pub use memory::StableMemory;
#[cfg(target_os = "linux")]
pub use mirror::MirroredRegion;
#[cfg(target_os = "linux")]
pub use region::{Lock, PageKind, Region, RegionOptions};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
