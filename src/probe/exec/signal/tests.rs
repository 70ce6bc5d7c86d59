use std::time::Duration;

use tokio::time::Instant;

use crate::probe::ProbeError;
use crate::probe::exec::run;
use crate::probe::exec::tests::shell;

/// Takes CAP_KILL away from the calling thread (and the threads it starts), as the unit
/// takes it from the daemon.
fn drop_cap_kill_on_this_thread() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const CAP_KILL: u32 = 5;
    let mut header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget and capset read and write the two structs given; pid 0 is this
    // thread, and the raw calls change this thread's capabilities only.
    unsafe {
        assert_eq!(
            libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()),
            0
        );
        data[0].effective &= !(1 << CAP_KILL);
        data[0].permitted &= !(1 << CAP_KILL);
        assert_eq!(
            libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()),
            0
        );
    }
}

/// Whether any process's command line contains `needle`.
fn process_with(needle: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
    })
}

/// Under the unit the daemon has no CAP_KILL; a `user` probe that runs past its timeout
/// is still stopped, with everything it started, because it is signalled as its own user.
#[tokio::test]
async fn a_user_probe_is_stopped_without_cap_kill() {
    if crate::probe::exec::tests::nobody_as_root("needs root to run a probe as another user")
        .is_none()
    {
        return;
    }
    drop_cap_kill_on_this_thread();
    let marker = format!("30.{}", std::process::id());
    let mut s = shell(&format!("sleep {marker}; true"));
    s.user = Some("nobody".into());
    s.timeout = Duration::from_millis(500);
    let started = Instant::now();
    let e = run(&s).await.unwrap_err();
    assert!(matches!(e, ProbeError::Timeout { .. }), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        !process_with(&marker),
        "the probe's sleep {marker} survived"
    );
}
