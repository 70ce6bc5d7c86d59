use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::*;

/// Whether this is the run of `test` in a network and mount namespace of its own (with
/// `/dev/net/tun` for an interface to add there), which goes on with the test.
fn can_run(test: &str) -> bool {
    if !crate::test_alone::inside_namespaces(
        test,
        &["--net"],
        &[(Path::new("/dev/net/tun").exists(), "/dev/net/tun")],
    ) {
        return false;
    }
    // `/sys/class/net` shows the interfaces of the namespace its sysfs was mounted in: a
    // sysfs of the new one, in the new mount namespace, shows its own.
    // SAFETY: NUL-terminated strings; no data argument.
    let mounted = unsafe {
        libc::mount(
            c"sysfs".as_ptr(),
            c"/sys".as_ptr(),
            c"sysfs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    assert_eq!(mounted, 0, "{}", std::io::Error::last_os_error());
    true
}

/// Adds a TAP interface named `name`, there for as long as the descriptor is open.
fn tap(name: &CStr) -> OwnedFd {
    // SAFETY: a NUL-terminated path; the descriptor returned is ours.
    let fd = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    assert!(fd >= 0, "{}", std::io::Error::last_os_error());
    // SAFETY: just opened, owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: an all-zero ifreq is valid.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (to, &from) in request.ifr_name.iter_mut().zip(name.to_bytes()) {
        *to = from as libc::c_char;
    }
    request.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one ifreq.
    let made = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut request) };
    assert_eq!(made, 0, "{}", std::io::Error::last_os_error());
    fd
}

/// Brings the loopback interface up, which also gives it its addresses.
fn loopback_up() {
    // SAFETY: socket has no memory arguments; the descriptor is closed below.
    let socket = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(socket >= 0);
    // SAFETY: as above.
    let socket = unsafe { OwnedFd::from_raw_fd(socket) };
    // SAFETY: an all-zero ifreq is valid.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    request.ifr_name[..2].copy_from_slice(&[b'l' as libc::c_char, b'o' as libc::c_char]);
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write one ifreq.
    unsafe {
        assert_eq!(
            libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request),
            0
        );
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        assert_eq!(
            libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &mut request),
            0
        );
    }
}

/// In a new network namespace nothing happens until the test makes it happen: the
/// subscription is quiet, then tells of the loopback interface coming up and of an interface
/// added, each once.
#[test]
fn link_and_address_changes_are_told_once() {
    if !can_run("probe::system::link_changes::tests::link_and_address_changes_are_told_once") {
        return;
    }
    let changes = LinkChanges::subscribe().unwrap();
    let quiet = changes.changed();
    loopback_up();
    let up = (changes.changed(), changes.changed());
    let added = tap(c"ssmtest0");
    let tap_added = (changes.changed(), changes.changed());
    drop(added);
    let tap_removed = (changes.changed(), changes.changed());
    assert!(!quiet);
    assert_eq!(up, (true, false));
    assert_eq!(tap_added, (true, false));
    assert_eq!(tap_removed, (true, false));
}

/// The `network` collector's kept rows follow interfaces coming and going, and are what a
/// fresh read gives when nothing changed.
#[test]
fn the_network_rows_follow_interfaces_coming_and_going() {
    if !can_run(
        "probe::system::link_changes::tests::the_network_rows_follow_interfaces_coming_and_going",
    ) {
        return;
    }
    let names = |rows: &[crate::inventory::Row]| -> Vec<String> {
        rows.iter().map(|row| row["Name"].clone()).collect()
    };
    let alone = super::super::network().unwrap();
    let added = tap(c"ssmtest0");
    let with_tap = super::super::network().unwrap();
    let again = super::super::network().unwrap();
    let fresh = super::super::network_now().unwrap();
    drop(added);
    let without = super::super::network().unwrap();
    assert_eq!(names(&alone), Vec::<String>::new());
    assert_eq!(names(&with_tap), ["ssmtest0"]);
    assert!(with_tap[0].contains_key("MACAddress"), "{with_tap:?}");
    assert_eq!((&again, &fresh), (&with_tap, &with_tap));
    assert_eq!(names(&without), Vec::<String>::new());
}
