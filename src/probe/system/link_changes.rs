//! Whether the node's network interfaces or their addresses may have changed since the
//! `network` collector last read them: a netlink socket subscribed to the kernel's link and
//! address notifications, kept open between runs.
//!
//! The kernel tells every such socket of an interface added, removed, renamed, brought up or
//! down or given another hardware address (`RTM_NEWLINK`, `RTM_DELLINK`), and of an address
//! added, removed or changing state (`RTM_NEWADDR`, `RTM_DELADDR`: a duplicate address check
//! that ends, an IPv6 address that becomes deprecated). Everything the collector reports is
//! made of those, so a run with nothing queued on the socket may reuse the last run's rows
//! instead of a netlink dump, a `/sys/class/net` listing and a `/proc/net/if_inet6` read.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The notification groups: links, IPv4 and IPv6 addresses (`linux/rtnetlink.h`).
const RTMGRP_LINK: u32 = 0x1;
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;
/// The socket's receive buffer (the kernel doubles it, and keeps a floor of its own).
const RECEIVE_BUFFER_BYTES: libc::c_int = 4096;

/// A subscription to link and address notifications.
pub(super) struct LinkChanges(OwnedFd);

impl LinkChanges {
    /// Subscribes. Fails where netlink sockets are not allowed (a sandbox that forbids the
    /// family); the collector then reads everything every run, as it would without this.
    pub(super) fn subscribe() -> io::Result<LinkChanges> {
        // SAFETY: socket has no memory arguments; the descriptor it returns is ours.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor just returned to us, owned by nothing else.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: an all-zero sockaddr_nl is valid (port 0: the kernel picks one).
        let mut address: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        address.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        address.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
        // SAFETY: `address` is a sockaddr_nl of the size given.
        let bound = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                (&raw const address).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if bound != 0 {
            return Err(io::Error::last_os_error());
        }
        // Only whether something arrived matters, and a full buffer says so too (ENOBUFS):
        // a small one keeps a busy node's notifications (containers' interfaces coming and
        // going between two runs an hour apart) from holding kernel memory.
        let size: libc::c_int = RECEIVE_BUFFER_BYTES;
        // SAFETY: SO_RCVBUF reads one c_int of the size given. A failure leaves the default.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&raw const size).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        Ok(LinkChanges(socket))
    }

    /// Whether any notification arrived since the subscription or since the last call; takes
    /// them all off the socket. Notifications lost to a full socket buffer (ENOBUFS), and any
    /// error, count as a change.
    pub(super) fn changed(&self) -> bool {
        let mut any = false;
        let mut buffer = [0u8; 4096];
        loop {
            // SAFETY: `buffer` is valid for writes of its length. MSG_TRUNC: a longer
            // message is dropped whole; only its arrival matters.
            let got = unsafe {
                libc::recv(
                    self.0.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                )
            };
            if got > 0 {
                any = true;
                continue;
            }
            if got == 0 {
                return true;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EAGAIN) => return any,
                Some(libc::EINTR) => {}
                Some(libc::ENOBUFS) => any = true,
                _ => return true,
            }
        }
    }
}

#[cfg(test)]
mod tests;
