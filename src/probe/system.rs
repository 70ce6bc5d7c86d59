//! The `system` probe: built-in collectors for facts every node has.
//!
//! Each collector yields one item. They report only what stays the same while nothing on the
//! node changes (no free memory, no uptime, no CPU frequency, no temporary IPv6 addresses), so
//! that the ContentHash skips them until something real changes. Everything is read off the
//! runtime's thread (`lane`): host with `sysinfo`, `/etc/os-release` (`os_release`) and
//! `/proc/meminfo` (its CPU facts kept while the online CPUs stay the same: `cpus`), disks
//! from `/proc/self/mountinfo` (read again only when the mount table changed) and `statvfs`
//! (`mounts`), interfaces with `getifaddrs` (`interfaces`; read again only when the kernel
//! tells of a link or address change: `link_changes`), and the rest from `/proc`, `/sys` and
//! `/etc`.
//!
//! | collector | TypeName | one row per | attributes |
//! |---|---|---|---|
//! | `host` | `Custom:Host` | node | HostName, OSName, OSVersion, KernelVersion, Architecture, CPUModel, CPUCount, CPUCores, TotalMemoryBytes, MachineID |
//! | `disks` | `Custom:Disks` | mounted filesystem | MountPoint, Device, FileSystem, SizeBytes |
//! | `network` | `Custom:NetworkInterfaces` | interface but `lo` | Name, MACAddress, IPv4Addresses, IPv6Addresses |

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use link_changes::LinkChanges;
use sysinfo::System;

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

/// Filesystems that are not the node's disks although they may have a size: the root of an
/// initramfs, cgroup hierarchies, optical media, and network filesystems, whose `statvfs`
/// hangs for as long as a hard-mounted server does not answer (and whose size is the
/// server's).
const NOT_DISK_FILESYSTEMS: &[&str] = &[
    "rootfs", "cgroup", "cgroup2", "iso9660", "cifs", "nfs", "nfs4",
];

/// Mount points below these hold kernel interfaces and runtime state, not disks (removable
/// media under `/run/media` aside).
const NOT_DISK_FOLDERS: &[&str] = &["/sys", "/proc", "/run"];

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

    /// Runs every collector off the runtime's thread (`lane`). A collector that fails is
    /// reported in the collection's errors; the others' items are still there.
    pub async fn collect(&self) -> Result<Collection, ProbeError> {
        let this = self.clone();
        super::lane::run(move || this.collect_blocking())
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
    let os = os_release::os_release();
    if let Some(name) = os.name {
        insert(&mut row, "OSName", name);
    }
    if let Some(version) = os.version {
        insert(&mut row, "OSVersion", version);
    }
    if let Ok(kernel) = System::kernel_version() {
        insert(&mut row, "KernelVersion", kernel);
    }
    insert(&mut row, "Architecture", System::cpu_arch());
    let cpus = cpus::cpu_facts()?;
    if let Some(model) = cpus.model {
        insert(&mut row, "CPUModel", model);
    }
    if cpus.count > 0 {
        insert(&mut row, "CPUCount", cpus.count.to_string());
    }
    if let Some(cores) = cpus.cores {
        insert(&mut row, "CPUCores", cores.to_string());
    }
    if let Some(bytes) = total_memory_bytes().filter(|&bytes| bytes > 0) {
        insert(&mut row, "TotalMemoryBytes", bytes.to_string());
    }
    if let Some(id) = machine_id() {
        insert(&mut row, "MachineID", id);
    }
    Ok(vec![row])
}

/// `MemTotal` of `/proc/meminfo`, in bytes (the file says kB and means KiB). Read here
/// rather than through `sysinfo`, whose `System` also reads `/proc/stat` for the boot time
/// whenever one is made: a text the kernel builds for every CPU and interrupt.
fn total_memory_bytes() -> Option<u64> {
    let mut file = std::fs::File::open("/proc/meminfo").ok()?;
    let meminfo = super::proc_text::read_whole(&mut file).ok()?;
    mem_total_bytes(&meminfo)
}

fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().next()?.parse().ok()?;
    Some(kib.saturating_mul(1024))
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
    // The candidates are taken out of the kept table: `statvfs` below may be slow (a
    // filesystem whose device does not answer), and no other run should wait for it.
    let candidates = mounts::with_mounts(|visible| {
        visible
            .iter()
            .filter(|mount| may_be_disk(mount))
            .cloned()
            .collect::<Vec<_>>()
    })
    .map_err(|e| format!("cannot list mounted filesystems: {e}"))?;
    let mut rows = Vec::new();
    for mount in candidates {
        let mount_point = &mount.mount_point;
        if !mount_point.is_dir() {
            continue;
        }
        // A size of 0 is a filesystem with no storage of its own; a failing `statvfs` one
        // that cannot be asked.
        let Some(size) = mounts::size_bytes(mount_point).filter(|&size| size > 0) else {
            continue;
        };
        let mut row = Row::new();
        insert(
            &mut row,
            "MountPoint",
            mount_point.to_string_lossy().into_owned(),
        );
        insert(&mut row, "Device", mount.source);
        insert(&mut row, "FileSystem", mount.file_system);
        insert(&mut row, "SizeBytes", size.to_string());
        rows.push(row);
    }
    Ok(rows)
}

/// Whether a mount may be a disk, as far as the mount table tells: files bind-mounted into
/// containers (/etc/hosts, /etc/resolv.conf) are not disks (nor any mount point that is not a
/// directory, which the caller looks at), and neither are bind mounts: another view of a
/// filesystem mounted elsewhere, or one the service's own sandbox made (its state and
/// configuration folders, its private /tmp). The root stays, whatever backs it: in a
/// container it is a bind mount of a host folder, and it is still the node's root filesystem.
fn may_be_disk(mount: &mounts::Mount) -> bool {
    let mount_point = &mount.mount_point;
    !(PSEUDO_FILESYSTEMS.contains(&mount.file_system.as_str())
        || NOT_DISK_FILESYSTEMS.contains(&mount.file_system.as_str())
        || NOT_DISK_FOLDERS.iter().any(|folder| {
            mount_point.starts_with(folder) && !mount_point.starts_with("/run/media")
        })
        || (mount.bind && mount_point != Path::new("/")))
}

/// The `network` collector's last rows, with the subscription that tells whether they
/// still hold ([`LinkChanges`]).
struct KeptNetwork {
    changes: LinkChanges,
    rows: Vec<Row>,
}

static NETWORK: Mutex<Option<KeptNetwork>> = Mutex::new(None);

/// `Custom:NetworkInterfaces`: one row per interface except loopback. Read again only when
/// the kernel has told of a link or address change since the last read (or cannot tell).
fn network() -> Result<Vec<Row>, String> {
    let mut kept = NETWORK.lock().unwrap_or_else(PoisonError::into_inner);
    let changes = match kept.take() {
        Some(last) if !last.changes.changed() => {
            let rows = last.rows.clone();
            *kept = Some(last);
            return Ok(rows);
        }
        Some(last) => Some(last.changes),
        // Subscribed before the read, so that a change during it is told at the next run.
        None => LinkChanges::subscribe().ok(),
    };
    let rows = network_now()?;
    if let Some(changes) = changes {
        *kept = Some(KeptNetwork {
            changes,
            rows: rows.clone(),
        });
    }
    Ok(rows)
}

fn network_now() -> Result<Vec<Row>, String> {
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

mod cpus;
mod interfaces;
mod link_changes;
mod mounts;
mod os_release;

#[cfg(test)]
mod tests;
