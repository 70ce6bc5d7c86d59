use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use super::*;

/// A mount and an unmount are told by the kept file, each once, and the table read after
/// them shows them; with no change, the kept mounts are what a fresh read gives. The mounts are
/// made in a namespace of their own (`unshare --mount`, the test run again in a process of its
/// own), so that the machine's table is not touched.
#[test]
fn a_mount_and_an_unmount_are_told_and_read() {
    if !crate::test_alone::inside_namespaces(
        "probe::system::mounts::tests::a_mount_and_an_unmount_are_told_and_read",
        &[],
        &[],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let point = dir.path().canonicalize().unwrap();
    let shown = |visible: &[Mount]| {
        visible
            .iter()
            .any(|m| m.mount_point == point && m.file_system == "tmpfs")
    };
    let target = CString::new(point.as_os_str().as_bytes()).unwrap();
    let tmpfs = CString::new("tmpfs").unwrap();

    let table = MountTable::read().unwrap();
    let unchanged = (table.changed(), with_mounts(<[Mount]>::to_vec).unwrap());
    let fresh = MountTable::read().unwrap().visible;
    // SAFETY: NUL-terminated strings; no data argument.
    let mounted = unsafe {
        libc::mount(
            tmpfs.as_ptr(),
            target.as_ptr(),
            tmpfs.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    assert_eq!(mounted, 0, "{}", std::io::Error::last_os_error());
    let after_mount = (
        table.changed(),
        table.changed(),
        shown(&with_mounts(<[Mount]>::to_vec).unwrap()),
    );
    // SAFETY: a NUL-terminated path.
    let unmounted = unsafe { libc::umount(target.as_ptr()) };
    assert_eq!(unmounted, 0, "{}", std::io::Error::last_os_error());
    let after_unmount = (
        table.changed(),
        shown(&with_mounts(<[Mount]>::to_vec).unwrap()),
    );

    assert_eq!(unchanged, (false, fresh));
    assert!(!shown(&unchanged.1));
    assert_eq!(after_mount, (true, false, true));
    assert_eq!(after_unmount, (true, false));
}
