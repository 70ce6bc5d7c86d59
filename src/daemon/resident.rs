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

/// Advises the kernel to take the daemon's file-backed, read-only private pages out of its
/// resident set. Returns the bytes of the mappings advised, for the log.
pub fn page_out_code() -> usize {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let mut advised = 0;
    for line in maps.lines() {
        let Some(range) = code_mapping(line) else {
            continue;
        };
        let len = range.end - range.start;
        // SAFETY: the range is one whole mapping of this process as /proc/self/maps lists it,
        // page-aligned by construction; MADV_PAGEOUT only drops clean file-backed pages from
        // the page tables (they are read back on the next touch) and changes no content, so
        // it cannot invalidate any reference. On failure (an old kernel, a mapping gone in
        // between) nothing happened.
        let done =
            unsafe { libc::madvise(range.start as *mut libc::c_void, len, libc::MADV_PAGEOUT) };
        if done == 0 {
            advised += len;
        }
    }
    advised
}

/// The address range of one `/proc/self/maps` line when it maps a file privately and
/// read-only (`r-xp`, `r--p`): code, read-only data, unwinding tables.
fn code_mapping(line: &str) -> Option<std::ops::Range<usize>> {
    let mut fields = line.split_ascii_whitespace();
    let (range, perms) = (fields.next()?, fields.next()?);
    let inode = fields.nth(2)?;
    let path = fields.next()?;
    if inode == "0" || !path.starts_with('/') || !matches!(perms, "r-xp" | "r--p") {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (start < end).then_some(start..end)
}

#[cfg(test)]
mod tests;
