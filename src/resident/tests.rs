use super::*;

#[test]
fn only_private_read_only_file_mappings_are_code() {
    let code = "5581f000-55a2e000 r-xp 00010000 fd:01 1234 /usr/bin/ssm-inventoryd";
    assert_eq!(code_mapping(code), Some(0x5581_f000..0x55a2_e000));
    let rodata = "7f00-8000 r--p 00000000 fd:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6";
    assert_eq!(code_mapping(rodata), Some(0x7f00..0x8000));
    for other in [
        // Writable data of the binary, the heap, anonymous memory, the vdso, a shared map.
        "55a2e000-55a30000 rw-p 0021e000 fd:01 1234 /usr/bin/ssm-inventoryd",
        "55a30000-55b00000 rw-p 00000000 00:00 0 [heap]",
        "7f10000-7f20000 rw-p 00000000 00:00 0",
        "7ffd000-7ffe000 r-xp 00000000 00:00 0 [vdso]",
        "7f30000-7f40000 r-xs 00000000 fd:01 77 /dev/shm/x",
        "garbage",
    ] {
        assert_eq!(code_mapping(other), None, "{other}");
    }
}

/// Held by the tests that advise this process's pages out: one of them running while the
/// other measures what is resident would leave it nothing to measure.
static ADVISING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Advising this test process's own code out leaves it running: the pages come back on use.
#[test]
fn paging_out_code_keeps_the_process_running() {
    let _alone = ADVISING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let advised = page_out_code();
    assert!(advised > 0, "the test binary's code is file-backed");
    // Code that runs after the advice is faulted back in.
    assert_eq!(
        code_mapping("1000-2000 r-xp 0 fd:01 5 /bin/x"),
        Some(0x1000..0x2000)
    );
}

const SMAPS: &str = "\
55d0c000-55d4f000 r--p 00000000 fd:01 1234                       /usr/bin/ssm inventoryd
Size:                268 kB
Rss:                 268 kB
Anonymous:             0 kB
VmFlags: rd mr mw me sd
55d4f000-55f2e000 r-xp 00043000 fd:01 1234                       /usr/bin/ssm inventoryd
Size:               7804 kB
Anonymous:             0 kB
55f2e000-55f60000 r--p 00222000 fd:01 1234                       /usr/bin/ssm inventoryd
Size:                200 kB
Anonymous:           200 kB
55f60000-55f62000 rw-p 00254000 fd:01 1234                       /usr/bin/ssm inventoryd
Anonymous:             8 kB
55f62000-55f63000 r--p 00000000 fd:01 1235                       /usr/bin/ssm inventoryd-other
Anonymous:             0 kB
7f00000-7f10000 r-xp 00000000 fd:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f20000-7f30000 rw-p 00000000 00:00 0                          [heap]
Anonymous:            64 kB
";

#[test]
fn only_the_binarys_unwritten_read_only_mappings_are_clean() {
    let clean: Vec<_> = clean_mappings_of(SMAPS, "/usr/bin/ssm inventoryd").collect();
    // Not the relocated read-only data (it holds private copies), not the writable data, not
    // another file whose name starts alike, not a library, not the heap.
    assert_eq!(
        clean,
        vec![0x55d0_c000..0x55d4_f000, 0x55d4_f000..0x55f2_e000]
    );
    assert_eq!(clean_mappings_of(SMAPS, "/nowhere").count(), 0);
    assert_eq!(
        clean_mappings_of("garbage\nAnonymous: 0 kB\n", "garbage").count(),
        0
    );
}

/// Resident kB of this process's clean binary mappings, from smaps.
fn clean_binary_resident_kb() -> u64 {
    let exe = std::fs::read_link("/proc/self/exe").unwrap();
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let clean: Vec<_> = clean_mappings_of(&smaps, exe.to_str().unwrap()).collect();
    let mut total = 0;
    let mut counted = false;
    for line in smaps.lines() {
        if let Some(mapping) = mapping_header(line) {
            counted = clean.contains(&mapping.range);
        } else if let Some(rss) = line.strip_prefix("Rss:").filter(|_| counted) {
            total += rss.trim().trim_end_matches(" kB").parse::<u64>().unwrap();
        }
    }
    total
}

/// Reads one byte of every page of this process's clean binary mappings, so that all of
/// them are resident: what comes back after the advice can then only be less.
fn touch_clean_binary_pages() {
    let exe = std::fs::read_link("/proc/self/exe").unwrap();
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    for range in clean_mappings_of(&smaps, exe.to_str().unwrap()) {
        for page in range.step_by(4096) {
            // SAFETY: a readable mapping of the executable, which stays mapped for the
            // process's life; reading it changes nothing.
            unsafe { std::ptr::read_volatile(page as *const u8) };
        }
    }
}

/// This test process's own binary, unmapped: its clean pages leave the resident set, and it
/// keeps running on the pages mapped again, its relocated data (vtables) intact.
#[test]
fn unmapping_the_binarys_clean_pages_keeps_the_process_running() {
    let _alone = ADVISING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    touch_clean_binary_pages();
    let before = clean_binary_resident_kb();
    let advised = unmap_clean_binary_pages();
    let after = clean_binary_resident_kb();
    assert!(advised > 0, "the test binary has clean code pages");
    assert!(
        after < before,
        "{after} kB resident after, {before} kB before"
    );
    let boxed: Box<dyn std::fmt::Display> = Box::new(advised);
    assert_eq!(boxed.to_string(), advised.to_string());
}
