//! Mappings disappear from `/proc/self/maps` on drop.
//!
//! One test in its own binary, so no other test maps or unmaps memory while it reads the maps.

use iobuf_align::{MirroredRegion, PageKind, Region, RegionOptions, StableMemory, page_size};

/// The lines of `/proc/self/maps` whose range overlaps `start..start + len`.
fn mappings_overlapping(start: usize, len: usize) -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter(|line| {
            let range = line.split_whitespace().next().unwrap();
            let (lo, hi) = range.split_once('-').unwrap();
            let lo = usize::from_str_radix(lo, 16).unwrap();
            let hi = usize::from_str_radix(hi, 16).unwrap();
            lo < start + len && start < hi
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn regions_and_mirrors_are_unmapped_on_drop() {
    for options in [
        RegionOptions::new(),
        RegionOptions::new().populate(true),
        RegionOptions::new().page(PageKind::Huge2M).allow_fallback(true),
    ] {
        let region = Region::map(5 * page_size(), options).unwrap();
        let (start, len) = (region.base().as_ptr() as usize, region.len());
        assert!(!mappings_overlapping(start, len).is_empty(), "{options:?} not mapped");
        drop(region);
        assert_eq!(mappings_overlapping(start, len), Vec::<String>::new(), "{options:?}");
    }

    let mirror = MirroredRegion::new(2 * page_size()).unwrap();
    let (start, len) = (mirror.base().as_ptr() as usize, 2 * mirror.len());
    let lines = mappings_overlapping(start, len);
    // Two shared views of the same memfd.
    assert_eq!(lines.iter().filter(|l| l.contains("iobuf-mirror")).count(), 2, "{lines:?}");
    drop(mirror);
    assert_eq!(mappings_overlapping(start, len), Vec::<String>::new());
}
