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

/// Advising this test process's own code out leaves it running: the pages come back on use.
#[test]
fn paging_out_code_keeps_the_process_running() {
    let advised = page_out_code();
    assert!(advised > 0, "the test binary's code is file-backed");
    // Code that runs after the advice is faulted back in.
    assert_eq!(
        code_mapping("1000-2000 r-xp 0 fd:01 5 /bin/x"),
        Some(0x1000..0x2000)
    );
}
