//! Region: page kinds, fallback reported honestly, populate, lock, errors.
//!
//! Explicit huge pages are usually not reserved on test machines; each test reads the hugetlb
//! pool first and checks the outcome that pool allows, naming the path it took.

use iobuf_align::{AlignError, Lock, PageKind, Region, RegionOptions, StableMemory, page_size};

const MIB: usize = 1 << 20;

/// Free explicit huge pages of `size_kib` KiB, from sysfs (0 when the size is not supported).
fn free_huge_pages(size_kib: usize) -> usize {
    let path = format!("/sys/kernel/mm/hugepages/hugepages-{size_kib}kB/free_hugepages");
    std::fs::read_to_string(path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

fn thp_enabled() -> bool {
    std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .map(|s| !s.contains("[never]"))
        .unwrap_or(false)
}

#[test]
fn normal_region_is_rounded_to_pages_zeroed_and_writable() {
    let mut region = Region::new(page_size() + 1).unwrap();
    assert_eq!(region.len(), 2 * page_size());
    assert_eq!(region.base().as_ptr() as usize % page_size(), 0);
    assert_eq!((region.page_kind(), region.page_size()), (PageKind::Normal, page_size()));
    assert!(!region.is_locked());
    assert!(region.iter().all(|&b| b == 0));
    let last = region.len() - 1;
    region[last] = 42;
    assert_eq!(region[last], 42);
}

#[test]
fn populate_and_lock_are_reported() {
    let required = Region::map(64 * 1024, RegionOptions::new().populate(true).lock(Lock::Required));
    let lockable = match required {
        Ok(region) => {
            assert!(region.is_locked());
            true
        }
        // Without CAP_IPC_LOCK and with a small RLIMIT_MEMLOCK, mlock may be refused.
        Err(AlignError::Os { call: "mlock", errno }) => {
            eprintln!("mlock refused with errno {errno}: checking best effort reports it");
            false
        }
        Err(other) => panic!("unexpected error {other:?}"),
    };
    // Best effort never fails, and reports the same outcome Required had.
    let region = Region::map(64 * 1024, RegionOptions::new().lock(Lock::BestEffort)).unwrap();
    assert_eq!(region.is_locked(), lockable);
}

#[test]
fn explicit_2mib_pages_without_fallback_succeed_or_say_why() {
    let options = RegionOptions::new().page(PageKind::Huge2M);
    let outcome = Region::map(MIB, options);
    if free_huge_pages(2048) > 0 {
        let region = outcome.expect("2 MiB pages are free, so the mapping must succeed");
        assert_eq!((region.page_kind(), region.len()), (PageKind::Huge2M, 2 * MIB));
        assert_eq!(region.base().as_ptr() as usize % (2 * MIB), 0);
    } else {
        eprintln!("no 2 MiB pages reserved: checking the refusal path");
        match outcome.unwrap_err() {
            AlignError::HugePagesUnavailable { page_size, errno } => {
                assert_eq!(page_size, 2 * MIB);
                assert_ne!(errno, 0);
            }
            other => panic!("expected HugePagesUnavailable, got {other:?}"),
        }
    }
}

#[test]
fn explicit_1gib_pages_fall_back_and_report_what_they_got() {
    let options = RegionOptions::new().page(PageKind::Huge1G).allow_fallback(true).populate(true);
    let mut region = Region::map(3 * MIB, options).unwrap();
    let expected = if free_huge_pages(1_048_576) > 0 {
        PageKind::Huge1G
    } else if free_huge_pages(2048) >= 2 {
        PageKind::Huge2M
    } else if thp_enabled() {
        PageKind::TransparentHuge
    } else {
        PageKind::Normal
    };
    eprintln!("asked for 1 GiB pages, got {:?}", region.page_kind());
    assert_eq!(region.page_kind(), expected);
    assert_eq!(region.len() % region.page_size(), 0);
    assert!(region.len() >= 3 * MIB);
    assert_eq!(region.base().as_ptr() as usize % region.page_size(), 0);
    region[3 * MIB - 1] = 1;
    assert_eq!(region.iter().map(|&b| b as usize).sum::<usize>(), 1);
}

#[test]
fn transparent_huge_pages_without_fallback_follow_sysfs() {
    let outcome = Region::map(MIB, RegionOptions::new().page(PageKind::TransparentHuge));
    if thp_enabled() {
        let region = outcome.unwrap();
        assert_eq!(region.page_kind(), PageKind::TransparentHuge);
        assert_eq!(region.base().as_ptr() as usize % (2 * MIB), 0);
    } else {
        eprintln!("transparent huge pages are off: checking the refusal path");
        assert!(matches!(outcome, Err(AlignError::HugePagesUnavailable { .. })));
    }
}

#[test]
fn bad_sizes_return_their_errors() {
    assert_eq!(Region::new(0).unwrap_err(), AlignError::ZeroSize);
    assert_eq!(Region::new(usize::MAX).unwrap_err(), AlignError::SizeOverflow);
    // 64 TiB of normal pages: the kernel refuses under any overcommit policy on test machines.
    assert!(matches!(
        Region::map(1 << 46, RegionOptions::new().populate(true)),
        Err(AlignError::OutOfMemory { .. })
    ));
}
