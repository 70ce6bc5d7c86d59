use super::*;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Taken from a service with `ProtectSystem=strict`, `PrivateTmp=yes`, a state directory
/// and `ProtectHome=tmpfs`, in a container whose root is a host folder.
#[test]
fn bind_mounts_are_found_in_mountinfo() {
    let text = "\
102 81 254:0 /srv/ct / ro,relatime shared:1 - ext4 /dev/vda rw
130 102 254:0 /srv/ct/var/lib/ssm-inventoryd /var/lib/ssm-inventoryd rw master:1 - ext4 /dev/vda rw
131 102 254:0 /srv/ct/tmp/systemd-private-x/tmp /tmp rw - ext4 /dev/vda rw
132 102 254:0 /srv/ct/var/tmp/systemd-private-x/tmp /var/tmp rw - ext4 /dev/vda rw
133 102 0:60 / /home ro - tmpfs tmpfs ro
134 102 259:1 / /data rw master:5 - xfs /dev/nvme1n1 rw
135 102 259:1 /with\\040space /mnt/a\\040b rw - xfs /dev/nvme1n1 rw
136 102 259:2 /sub /data2 rw - xfs /dev/nvme2n1 rw
137 102 259:3 / /data2 rw - xfs /dev/nvme3n1 rw
";
    let mounts = mounts::visible_mounts(text);
    let binds: BTreeSet<PathBuf> = mounts
        .iter()
        .filter(|m| m.bind)
        .map(|m| m.mount_point.clone())
        .collect();
    let expected: BTreeSet<PathBuf> = [
        "/",
        "/var/lib/ssm-inventoryd",
        "/tmp",
        "/var/tmp",
        "/mnt/a b",
    ]
    .into_iter()
    .map(PathBuf::from)
    .collect();
    // /data2 is a bind mount covered by a real mount: the visible one counts.
    assert_eq!(binds, expected);
    let data2 = mounts
        .iter()
        .find(|m| m.mount_point == Path::new("/data2"))
        .unwrap();
    assert_eq!(
        (data2.source.as_str(), data2.file_system.as_str()),
        ("/dev/nvme3n1", "xfs")
    );
    assert_eq!(mounts.len(), 8, "one per mount point: {mounts:?}");
    assert_eq!(mounts::unescape("a\\134b\\011"), "a\\b\t");
    assert_eq!(mounts::unescape("x\\9"), "x\\9");
}

/// Optional fields before the `-` (none, one, several), a FUSE subtype, and lines cut short.
#[test]
fn mountinfo_fields_after_the_separator() {
    let text = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 27 0:50 / /mnt/ssh rw shared:7 master:2 propagate_from:1 - fuse.sshfs me@host:/srv rw
41 27 0:51 / /mnt/none rw
42 27 0:52 / /mnt/short rw - ext4
";
    let mounts = mounts::visible_mounts(text);
    let found: Vec<(&str, &str, &str)> = mounts
        .iter()
        .map(|m| {
            (
                m.mount_point.to_str().unwrap(),
                m.file_system.as_str(),
                m.source.as_str(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("/", "ext4", "/dev/vda"),
            ("/mnt/ssh", "fuse.sshfs", "me@host:/srv")
        ]
    );
}

#[test]
fn the_root_filesystem_has_a_size() {
    assert!(mounts::size_bytes(Path::new("/")).is_some_and(|size| size > 0));
    assert_eq!(mounts::size_bytes(Path::new("/no/such/mount")), None);
}

#[test]
fn if_inet6_keeps_stable_addresses_only() {
    let text = "\
fe80000000000000020c29fffe0a0b0c 02 40 20 80     eth0
20010db8000000000000000000000001 02 40 00 80     eth0
20010db8000000001111222233334444 02 40 00 01     eth0
20010db8000000000000000000000002 02 40 00 40     eth0
00000000000000000000000000000001 01 80 10 80       lo
garbage line
";
    let parsed = parse_if_inet6(text);
    assert_eq!(
        parsed["eth0"],
        ["fe80::20c:29ff:fe0a:b0c/64", "2001:db8::1/64"]
    );
    assert_eq!(parsed["lo"], ["::1/128"]);
}

#[test]
fn joined_addresses_stay_within_the_attribute_limit() {
    let mut many: Vec<String> = (0..1000)
        .map(|i| format!("10.0.{}.{}/32", i / 250, i % 250))
        .collect();
    let joined = join_within_limit("eth9", &mut many);
    assert!(joined.len() <= MAX_ATTRIBUTE_VALUE_CHARS);
    assert!(joined.starts_with("10.0.0.0/32,10.0.0.1/32"));
}

#[tokio::test]
async fn every_collector_yields_a_valid_item_and_is_stable() {
    let probe = SystemProbe::new(
        "sys",
        &[Collector::Host, Collector::Disks, Collector::Network],
    );
    let first = probe.collect().await.unwrap();
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    let types: Vec<&str> = first.items.iter().map(Item::type_name).collect();
    assert_eq!(
        types,
        ["Custom:Host", "Custom:Disks", "Custom:NetworkInterfaces"]
    );
    let host = &first.items[0].content()[0];
    for key in [
        "HostName",
        "KernelVersion",
        "Architecture",
        "CPUCount",
        "TotalMemoryBytes",
    ] {
        assert!(host.contains_key(key), "{key} missing from {host:?}");
    }
    let second = probe.collect().await.unwrap();
    for (a, b) in first.items.iter().zip(&second.items) {
        assert_eq!(
            a.content_hash(),
            b.content_hash(),
            "{:?} vs {:?}",
            a.content(),
            b.content()
        );
    }
}

#[test]
fn total_memory_is_memtotal_in_bytes() {
    let meminfo = "MemTotal:       24683772 kB\nMemFree:        22289000 kB\n";
    assert_eq!(mem_total_bytes(meminfo), Some(24_683_772 * 1024));
    assert_eq!(mem_total_bytes("MemFree: 1 kB\n"), None);
    assert_eq!(mem_total_bytes("MemTotal: lots\n"), None);
    assert!(total_memory_bytes().is_some_and(|bytes| bytes > 0));
}
