//! The node's network interfaces, their MAC addresses and their addresses, read with one
//! `getifaddrs` (a netlink dump) and one listing of `/sys/class/net`.
//!
//! `sysinfo`'s interface list also reads eight counters per interface from
//! `/sys/class/net/*/statistics` and friends, which this collector never reports: with the
//! probe every second that was a third of its system calls (BENCHMARKS.md, "Idle CPU by probe
//! kind").

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One interface as the `network` collector reports it.
#[derive(Debug, Default)]
pub(super) struct Interface {
    /// `aa:bb:cc:dd:ee:ff`, lower case; `None` for an interface without a hardware address.
    pub mac: Option<String>,
    /// `address/prefix`, in the order the kernel lists them (the collector sorts them).
    pub v4: Vec<String>,
    pub v6: Vec<String>,
}

/// Every interface `/sys/class/net` lists, by name, with what `getifaddrs` says of it.
pub(super) fn interfaces() -> std::io::Result<BTreeMap<String, Interface>> {
    let mut found: BTreeMap<String, Interface> = std::fs::read_dir("/sys/class/net")?
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .map(|name| (name, Interface::default()))
        .collect();
    let list = IfAddrs::read()?;
    for entry in list.entries() {
        let Some(interface) = found.get_mut(base_name(&entry.name)) else {
            continue;
        };
        match entry.address {
            Sock::Link(mac) => interface.mac = (mac != [0; 6]).then(|| format_mac(mac)),
            Sock::Ip(ip) => {
                let text = format!("{ip}/{}", entry.prefix);
                match ip {
                    IpAddr::V4(_) => interface.v4.push(text),
                    IpAddr::V6(_) => interface.v6.push(text),
                }
            }
        }
    }
    Ok(found)
}

/// An address label (`eth0:1`) belongs to its interface (`eth0`).
fn base_name(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(base, _)| base)
}

fn format_mac(mac: [u8; 6]) -> String {
    let [a, b, c, d, e, f] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

/// The prefix length a netmask stands for; 0 for a mask with a hole in it, which no kernel
/// reports for an address it accepted.
fn prefix_of(mask: IpAddr) -> u8 {
    let (bits, width) = match mask {
        IpAddr::V4(mask) => (u128::from(u32::from(mask)) << 96, 32),
        IpAddr::V6(mask) => (u128::from(mask), 128),
    };
    let ones = bits.leading_ones();
    if ones < width && bits << ones != 0 {
        return 0;
    }
    // At most 128, which fits.
    u8::try_from(ones).unwrap_or(0)
}

struct Entry {
    name: String,
    address: Sock,
    /// The netmask's prefix length for an IP address, 0 for a hardware one.
    prefix: u8,
}

/// The list `getifaddrs` made, freed when dropped.
struct IfAddrs(*mut libc::ifaddrs);

impl IfAddrs {
    fn read() -> std::io::Result<IfAddrs> {
        let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
        // SAFETY: getifaddrs writes a list it allocated into `head`, which we own from then
        // on and free in `drop`.
        if unsafe { libc::getifaddrs(&mut head) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(IfAddrs(head))
    }

    /// The entries that carry a hardware or an IP address, copied out of the list.
    fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut next = self.0;
        while !next.is_null() {
            // SAFETY: `next` is a node of the list getifaddrs returned, alive until `drop`.
            let node = unsafe { &*next };
            next = node.ifa_next;
            if node.ifa_name.is_null() {
                continue;
            }
            // SAFETY: ifa_name is a NUL-terminated string inside the list.
            let name = unsafe { CStr::from_ptr(node.ifa_name) }
                .to_string_lossy()
                .into_owned();
            // SAFETY: ifa_addr and ifa_netmask are null or point at socket addresses of the
            // family they say, inside the list.
            let Some(address) = (unsafe { address_of(node.ifa_addr) }) else {
                continue;
            };
            // SAFETY: as above.
            let prefix = match unsafe { address_of(node.ifa_netmask) } {
                Some(Sock::Ip(mask)) if matches!(address, Sock::Ip(_)) => prefix_of(mask),
                _ => 0,
            };
            out.push(Entry {
                name,
                address,
                prefix,
            });
        }
        out
    }
}

impl Drop for IfAddrs {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the list came from getifaddrs and is freed once.
            unsafe { libc::freeifaddrs(self.0) };
        }
    }
}

enum Sock {
    Link([u8; 6]),
    Ip(IpAddr),
}

/// # Safety
/// `addr` is null or points at a socket address whose size matches its `sa_family`.
unsafe fn address_of(addr: *const libc::sockaddr) -> Option<Sock> {
    if addr.is_null() {
        return None;
    }
    // SAFETY: the caller's promise: non-null and of the family it names.
    unsafe {
        match libc::c_int::from((*addr).sa_family) {
            libc::AF_INET => {
                let v4 = &*addr.cast::<libc::sockaddr_in>();
                Some(Sock::Ip(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                    v4.sin_addr.s_addr,
                )))))
            }
            libc::AF_INET6 => {
                let v6 = &*addr.cast::<libc::sockaddr_in6>();
                Some(Sock::Ip(IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr))))
            }
            libc::AF_PACKET => {
                let link = &*addr.cast::<libc::sockaddr_ll>();
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&link.sll_addr[..6]);
                Some(Sock::Link(mac))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmasks_become_prefix_lengths() {
        let v4 = |s: &str| IpAddr::V4(s.parse().unwrap());
        let v6 = |s: &str| IpAddr::V6(s.parse().unwrap());
        assert_eq!(prefix_of(v4("255.255.255.0")), 24);
        assert_eq!(prefix_of(v4("255.255.255.255")), 32);
        assert_eq!(prefix_of(v4("0.0.0.0")), 0);
        assert_eq!(prefix_of(v4("255.255.240.0")), 20);
        assert_eq!(prefix_of(v4("255.0.255.0")), 0);
        assert_eq!(prefix_of(v6("ffff:ffff:ffff:ffff::")), 64);
        assert_eq!(
            prefix_of(v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
            128
        );
        assert_eq!(prefix_of(v6("ffff::ffff")), 0);
    }

    #[test]
    fn labels_belong_to_their_interface_and_macs_are_lower_case() {
        assert_eq!(base_name("eth0:1"), "eth0");
        assert_eq!(base_name("eth0"), "eth0");
        assert_eq!(
            format_mac([0x02, 0xAB, 0, 0x0c, 0xff, 1]),
            "02:ab:00:0c:ff:01"
        );
    }

    /// The loopback interface every Linux node has, as the kernel itself lists it.
    #[test]
    fn the_loopback_interface_is_read_with_its_addresses() {
        let found = interfaces().unwrap();
        let lo = &found["lo"];
        assert!(lo.v4.iter().any(|a| a.starts_with("127.")), "{lo:?}");
        assert_eq!(lo.mac, None, "{lo:?}");
    }
}
