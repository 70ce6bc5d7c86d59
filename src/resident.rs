//! Code and read-only data that ran once, given back: the daemon's own pages are most of its
//! resident memory.
//!
//! Starting up runs a lot of code once — the configuration's parser and validation, the TLS
//! stack's setup and root certificates, the SDK client's construction, the first push's
//! whole path — and the kernel keeps every page of it mapped until memory gets short, so an
//! idle daemon showed 6.9 MB of its 8.9 MB binary resident (BENCHMARKS.md, "Resident
//! memory"). Once a cycle is done, the file-backed private mappings (the binary and its
//! shared libraries: code, read-only data, unwinding tables) are advised out with
//! `MADV_PAGEOUT`; what the daemon still runs (its loop, a probe run, a push) is faulted back
//! from the page cache the next time it runs, what it never runs again stays out. Writable
//! mappings and the heap are never touched. Kernels before 5.4 do not know the advice and
//! refuse it; nothing changes there.
//!
//! `once` lives for one cycle, so what matters there is its peak, not what it keeps: after
//! the collection and after the push it drops its binary's clean pages from its page tables
//! (`unmap_clean_binary_pages`), which puts the peak at the larger of the phases rather than
//! their sum.

/// Advises the kernel to take the daemon's file-backed, read-only private pages out of its
/// resident set. Returns the bytes of the mappings advised, for the log.
pub fn page_out_code() -> usize {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let ranges = maps.lines().filter_map(code_mapping);
    // SAFETY: each range is one whole mapping of this process as /proc/self/maps lists it,
    // page-aligned by construction; MADV_PAGEOUT only drops clean file-backed pages from the
    // page tables (they are read back on the next touch) and changes no content, so it cannot
    // invalidate any reference. On failure (an old kernel, a mapping gone in between) nothing
    // happened.
    unsafe { advise_each(ranges, libc::MADV_PAGEOUT) }
}

/// Takes the pages of this process's own binary that still equal the file (its code, read-only
/// data and unwinding tables) out of its page tables with `MADV_DONTNEED`, leaving them in the
/// page cache. For a short-lived command at a point where most of the code that ran so far
/// will not run again: its peak resident memory is then what runs after, not the sum of
/// both. Unlike `MADV_PAGEOUT` the pages are not reclaimed, so what runs again costs a minor
/// fault, not a read from disk. Mappings holding private copies (the data the loader
/// relocated, anything a debugger patched) are left alone. Returns the bytes advised.
pub fn unmap_clean_binary_pages() -> usize {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return 0;
    };
    let Some(exe) = exe.to_str() else {
        return 0;
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    // SAFETY: each range is one whole read-only private mapping of the executable file
    // itself, page-aligned, with no private copies (`Anonymous: 0 kB`) when smaps was read:
    // every page equals the file's page in the page cache, and the executable's mappings do
    // not change after the loader has relocated it (only a library loaded later is relocated,
    // and it is not the executable). MADV_DONTNEED on such pages only unmaps them; the next
    // touch maps the same bytes again, so no reference is invalidated. On failure nothing
    // happened.
    unsafe { advise_each(clean_mappings_of(&smaps, exe), libc::MADV_DONTNEED) }
}

/// Gives `advice` for each range; returns the bytes of those the kernel took it for.
///
/// # Safety
///
/// Each range must be page-aligned and `advice` must change no memory that any reference
/// may see there; the callers say why theirs does not.
unsafe fn advise_each(
    ranges: impl Iterator<Item = std::ops::Range<usize>>,
    advice: libc::c_int,
) -> usize {
    ranges
        .filter(|range| {
            // SAFETY: as the caller guarantees for every range.
            let done = unsafe {
                libc::madvise(
                    range.start as *mut libc::c_void,
                    range.end - range.start,
                    advice,
                )
            };
            done == 0
        })
        .map(|range| range.end - range.start)
        .sum()
}

/// The ranges of `/proc/self/smaps` entries that map `path` privately and read-only and hold
/// no anonymous (copied-on-write) pages.
fn clean_mappings_of<'a>(
    smaps: &'a str,
    path: &'a str,
) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
    let mut current: Option<std::ops::Range<usize>> = None;
    smaps.lines().filter_map(move |line| {
        if let Some(anonymous) = line.strip_prefix("Anonymous:") {
            let range = current.take()?;
            return (anonymous.trim() == "0 kB").then_some(range);
        }
        if let Some(mapping) = mapping_header(line) {
            current =
                (mapping.path == path && is_read_only_file(&mapping)).then_some(mapping.range);
        }
        None
    })
}

/// One mapping as a maps or smaps header line gives it.
struct Mapping<'a> {
    range: std::ops::Range<usize>,
    perms: &'a str,
    /// 0 for memory that no file backs.
    inode: u64,
    /// The rest of the line, which may hold spaces: a path, `[heap]`, or nothing.
    path: &'a str,
}

/// A smaps or maps header line as a [`Mapping`], or `None` for any other line.
fn mapping_header(line: &str) -> Option<Mapping<'_>> {
    let mut rest = line;
    let mut field = || {
        let trimmed = rest.trim_start();
        let end = trimmed.find(' ').unwrap_or(trimmed.len());
        let (token, tail) = trimmed.split_at(end);
        rest = tail;
        token
    };
    let (range, perms, _offset, _device, inode) = (field(), field(), field(), field(), field());
    let inode = inode.parse::<u64>().ok()?;
    if perms.len() != 4 {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (start < end).then_some(Mapping {
        range: start..end,
        perms,
        inode,
        path: rest.trim(),
    })
}

/// Whether a mapping maps a file privately and read-only (`r-xp`, `r--p`): code, read-only
/// data, unwinding tables.
fn is_read_only_file(mapping: &Mapping<'_>) -> bool {
    mapping.inode != 0 && mapping.path.starts_with('/') && matches!(mapping.perms, "r-xp" | "r--p")
}

/// The address range of one `/proc/self/maps` line when it maps a file privately and
/// read-only.
fn code_mapping(line: &str) -> Option<std::ops::Range<usize>> {
    mapping_header(line)
        .filter(is_read_only_file)
        .map(|mapping| mapping.range)
}

#[cfg(test)]
mod tests;
