//! The `system` probe: built-in collectors for facts every node has.
//!
//! Each collector yields one item. They report only what stays the same while nothing on the
//! node changes (no free memory, no uptime, no CPU frequency, no temporary IPv6 addresses), so
//! that the ContentHash skips them until something real changes. Everything is read on the
//! blocking pool: host and disks with `sysinfo`, interfaces with `getifaddrs` (`interfaces`),
//! and the rest from `/proc`, `/sys` and `/etc`.
//!
//! | collector | TypeName | one row per | attributes |
//! |---|---|---|---|
//! | `host` | `Custom:Host` | node | HostName, OSName, OSVersion, KernelVersion, Architecture, CPUModel, CPUCount, CPUCores, TotalMemoryBytes, MachineID |
//! | `disks` | `Custom:Disks` | mounted filesystem | MountPoint, Device, FileSystem, SizeBytes |
//! | `network` | `Custom:NetworkInterfaces` | interface but `lo` | Name, MACAddress, IPv4Addresses, IPv6Addresses |

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use sysinfo::{CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, RefreshKind, System};

use super::{Collection, ProbeError};
use crate::config::Collector;
use crate::inventory::limits::MAX_ATTRIBUTE_VALUE_CHARS;
use crate::inventory::{Item, RawItem, Row, capture_time_now};

/// Filesystems that hold no data of their own (kernel interfaces, memory-backed, images),
/// beyond those `sysinfo` already leaves out. Their sizes mean nothing as inventory, and
/// some come and go with containers.
const PSEUDO_FILESYSTEMS: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "fuse.lxcfs",
    "fuse.portal",
    "fuse.gvfsd-fuse",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "proc",
    "pstore",
    "ramfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
    "tmpfs",
    "tracefs",
];

/// IPv6 address flags (`/proc/net/if_inet6`) of addresses that do not last: privacy
/// (temporary), failed or still-tentative duplicate detection, deprecated.
const IFA_F_TEMPORARY: u32 = 0x01;
const IFA_F_DADFAILED: u32 = 0x08;
const IFA_F_DEPRECATED: u32 = 0x20;
const IFA_F_TENTATIVE: u32 = 0x40;
const UNSTABLE_IPV6: u32 = IFA_F_TEMPORARY | IFA_F_DADFAILED | IFA_F_DEPRECATED | IFA_F_TENTATIVE;

/// A configured `system` probe.
#[derive(Debug, Clone)]
pub struct SystemProbe {
    probe: String,
    collectors: Vec<Collector>,
}

impl SystemProbe {
    pub fn new(probe: &str, collectors: &[Collector]) -> SystemProbe {
        SystemProbe {
            probe: probe.to_owned(),
            collectors: collectors.to_vec(),
        }
    }

    pub fn declared_types(&self) -> Vec<&'static str> {
        self.collectors.iter().map(|c| c.type_name()).collect()
    }

    /// Runs every collector on the blocking pool. A collector that fails is reported in the
    /// collection's errors; the others' items are still there.
    pub async fn collect(&self) -> Result<Collection, ProbeError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.collect_blocking())
            .await
            .map_err(|_| ProbeError::Crashed {
                probe: self.probe.clone(),
            })
    }

    fn collect_blocking(&self) -> Collection {
        let mut collection = Collection::default();
        let capture_time = capture_time_now();
        for &collector in &self.collectors {
            let rows = match collector {
                Collector::Host => host(),
                Collector::Disks => disks(),
                Collector::Network => network(),
            };
            let outcome = rows.and_then(|rows| {
                Item::new(RawItem {
                    type_name: collector.type_name().to_owned(),
                    schema_version: "1.0".to_owned(),
                    capture_time: capture_time.clone(),
                    rows,
                    context: None,
                    keep_order: false,
                })
                .map_err(|e| e.to_string())
            });
            match outcome {
                Ok(item) => collection.items.push(item),
                Err(message) => collection.errors.push(ProbeError::Collector {
                    probe: self.probe.clone(),
                    collector: collector.as_str(),
                    message,
                }),
            }
        }
        collection
    }
}

fn insert(row: &mut Row, key: &str, value: impl Into<String>) {
    let value = value.into();
    let value = value.trim();
    if !value.is_empty() {
        row.insert(key.to_owned(), value.to_owned());
    }
}

/// `Custom:Host`: one row.
fn host() -> Result<Vec<Row>, String> {
    let mut row = Row::new();
    if let Ok(name) = System::host_name() {
        insert(&mut row, "HostName", name);
    }
    if let Ok(name) = System::name() {
        insert(&mut row, "OSName", name);
    }
    if let Ok(version) = System::os_version() {
        insert(&mut row, "OSVersion", version);
    }
    if let Ok(kernel) = System::kernel_version() {
        insert(&mut row, "KernelVersion", kernel);
    }
    insert(&mut row, "Architecture", System::cpu_arch());
    let refresh = RefreshKind::nothing()
        .with_cpu(CpuRefreshKind::nothing())
        .with_memory(MemoryRefreshKind::nothing().with_ram());
    let system = System::new_with_specifics(refresh)
        .map_err(|e| format!("cannot read CPU and memory: {e}"))?;
    let cpus = system.cpus();
    if let Some(cpu) = cpus.first() {
        insert(&mut row, "CPUModel", cpu.brand());
    }
    if !cpus.is_empty() {
        insert(&mut row, "CPUCount", cpus.len().to_string());
    }
    if let Ok(cores) = System::physical_core_count() {
        insert(&mut row, "CPUCores", cores.to_string());
    }
    if system.total_memory() > 0 {
        insert(
            &mut row,
            "TotalMemoryBytes",
            system.total_memory().to_string(),
        );
    }
    if let Some(id) = machine_id() {
        insert(&mut row, "MachineID", id);
    }
    Ok(vec![row])
}

/// systemd's machine ID, or D-Bus's older copy of it.
fn machine_id() -> Option<String> {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.trim().to_owned())
        .find(|id| !id.is_empty())
}

/// `Custom:Disks`: one row per mount point of a real filesystem.
fn disks() -> Result<Vec<Row>, String> {
    let disks = Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing().with_storage())
        .map_err(|e| format!("cannot list mounted filesystems: {e}"))?;
    let binds = std::fs::read_to_string("/proc/self/mountinfo")
        .map(|text| bind_mount_points(&text))
        .unwrap_or_default();
    // By mount point: when two mounts stack on one point the later, visible one wins.
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for disk in disks.iter() {
        let file_system = disk.file_system().to_string_lossy().into_owned();
        let mount_point = disk.mount_point();
        // Files bind-mounted into containers (/etc/hosts, /etc/resolv.conf) are not disks,
        // and neither are bind mounts: another view of a filesystem mounted elsewhere, or
        // one the service's own sandbox made (its state and configuration folders, its
        // private /tmp). The root stays, whatever backs it: in a container it is a bind
        // mount of a host folder, and it is still the node's root filesystem.
        if PSEUDO_FILESYSTEMS.contains(&file_system.as_str())
            || disk.total_space() == 0
            || !mount_point.is_dir()
            || (binds.contains(mount_point) && mount_point != Path::new("/"))
        {
            continue;
        }
        let mount_point = mount_point.to_string_lossy().into_owned();
        let mut row = Row::new();
        insert(&mut row, "MountPoint", mount_point.clone());
        insert(&mut row, "Device", disk.name().to_string_lossy());
        insert(&mut row, "FileSystem", file_system);
        insert(&mut row, "SizeBytes", disk.total_space().to_string());
        rows.insert(mount_point, row);
    }
    Ok(rows.into_values().collect())
}

/// Mount points whose visible (last) mount is a bind mount, from `/proc/self/mountinfo`: its
/// fourth field, the root of the mount within its filesystem, is not `/`.
fn bind_mount_points(mountinfo: &str) -> BTreeSet<PathBuf> {
    let mut visible: BTreeMap<PathBuf, bool> = BTreeMap::new();
    for line in mountinfo.lines() {
        let mut fields = line.split(' ');
        let (Some(root), Some(mount_point)) = (fields.nth(3), fields.next()) else {
            continue;
        };
        visible.insert(
            PathBuf::from(unescape_mountinfo(mount_point)),
            unescape_mountinfo(root) != "/",
        );
    }
    visible
        .into_iter()
        .filter_map(|(point, bind)| bind.then_some(point))
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo` octal escapes.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                let value = d.iter().fold(0u32, |v, b| v * 8 + u32::from(b - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `Custom:NetworkInterfaces`: one row per interface except loopback.
fn network() -> Result<Vec<Row>, String> {
    let found =
        interfaces::interfaces().map_err(|e| format!("cannot list network interfaces: {e}"))?;
    let stable_v6 = std::fs::read_to_string("/proc/net/if_inet6")
        .ok()
        .map(|text| parse_if_inet6(&text));
    let mut rows = Vec::new();
    for (name, interface) in found {
        if name == "lo" {
            continue;
        }
        let mut row = Row::new();
        insert(&mut row, "Name", name.clone());
        if let Some(mac) = interface.mac {
            insert(&mut row, "MACAddress", mac);
        }
        let mut v4 = interface.v4;
        let mut v6 = match &stable_v6 {
            Some(by_interface) => by_interface.get(&name).cloned().unwrap_or_default(),
            None => interface.v6,
        };
        insert(&mut row, "IPv4Addresses", join_within_limit(&name, &mut v4));
        insert(&mut row, "IPv6Addresses", join_within_limit(&name, &mut v6));
        rows.push(row);
    }
    Ok(rows)
}

/// Sorted and comma-joined; an interface with so many addresses that they exceed the
/// attribute limit keeps as many as fit (and says so in the log).
fn join_within_limit(interface: &str, addresses: &mut Vec<String>) -> String {
    addresses.sort();
    addresses.dedup();
    let mut joined = String::new();
    for (i, address) in addresses.iter().enumerate() {
        if joined.len() + 1 + address.len() > MAX_ATTRIBUTE_VALUE_CHARS {
            tracing::warn!(
                "interface {interface}: {} of its addresses do not fit in one attribute and are left out",
                addresses.len() - i
            );
            break;
        }
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(address);
    }
    joined
}

/// `/proc/net/if_inet6`: `address ifindex prefix scope flags name`, all hex; returns the
/// stable addresses (`addr/prefix`) of each interface.
fn parse_if_inet6(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut by_interface: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [address, _index, prefix, _scope, flags, name] = fields[..] else {
            continue;
        };
        let (Ok(bits), Ok(prefix), Ok(flags)) = (
            u128::from_str_radix(address, 16),
            u8::from_str_radix(prefix, 16),
            u32::from_str_radix(flags, 16),
        ) else {
            continue;
        };
        if address.len() != 32 || flags & UNSTABLE_IPV6 != 0 {
            continue;
        }
        by_interface
            .entry(name.to_owned())
            .or_default()
            .push(format!("{}/{prefix}", Ipv6Addr::from(bits)));
    }
    by_interface
}

mod interfaces;

#[cfg(test)]
mod tests;
