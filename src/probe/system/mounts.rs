//! The node's mounted filesystems as the `disks` collector sees them: one read of
//! `/proc/self/mountinfo`, then `statvfs` of the mount points that may be disks.
//!
//! `mountinfo` has, for each mount, everything the collector needs (mount point, filesystem
//! type, source device) and what it needs to leave bind mounts out (the root of the mount
//! within its filesystem), so nothing else is listed or resolved. It is read and parsed again
//! only when the mount table has changed ([`with_mounts`]): a `system` probe that runs every
//! second would otherwise have the kernel print every mount, and itself parse every line,
//! every second.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::File;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// `/proc/self/mountinfo` as last read, parsed, with the file it was read from, kept open.
struct MountTable {
    file: File,
    visible: Vec<Mount>,
}

/// The table the last run read; see [`with_mounts`].
static KEPT: Mutex<Option<MountTable>> = Mutex::new(None);

impl MountTable {
    fn read() -> std::io::Result<MountTable> {
        let mut file = File::open(MOUNTINFO)?;
        let text = crate::probe::proc_text::read_whole(&mut file)?;
        Ok(MountTable {
            file,
            visible: visible_mounts(&text),
        })
    }

    /// Whether a filesystem was mounted, moved or unmounted in this process's mount
    /// namespace since the file was opened or since the last call that said so. The kernel
    /// marks an open `mountinfo` with POLLPRI (and POLLERR) at every change of the table
    /// (proc(5)); a poll that cannot be made counts as a change.
    fn changed(&self) -> bool {
        let mut poll = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLPRI,
            revents: 0,
        };
        // SAFETY: one valid pollfd; a timeout of 0 never blocks.
        unsafe { libc::poll(&mut poll, 1, 0) != 0 }
    }
}

/// Calls `f` with the visible mounts of `/proc/self/mountinfo` ([`visible_mounts`]), read
/// and parsed again only when the mount table has changed since it was last read. Printing
/// the table is the kernel's work (every mount's paths resolved and options formatted) and
/// was most of what the `disks` collector cost a run, and parsing it (every line split, its
/// fields unescaped into strings of their own) the largest part of what was left; a poll of
/// the kept file costs one system call. Sizes are not in the table: the collector asks each
/// filesystem for its own every run.
pub(super) fn with_mounts<T>(f: impl FnOnce(&[Mount]) -> T) -> std::io::Result<T> {
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    let table = match kept.take() {
        Some(table) if !table.changed() => table,
        // Opened anew, so that the next change is told against this reading.
        _ => MountTable::read()?,
    };
    Ok(f(&kept.insert(table).visible))
}

/// One mount point's visible (last) mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mount {
    pub(super) mount_point: PathBuf,
    /// The filesystem type, with its subtype (`fuse.sshfs`).
    pub(super) file_system: String,
    /// The mount source: the device for a block filesystem.
    pub(super) source: String,
    /// A bind mount: the root of the mount within its filesystem is not `/`, so it shows
    /// a folder (or file) of a filesystem that is mounted, or could be, elsewhere.
    pub(super) bind: bool,
}

/// The visible mount of each mount point, by mount point. When two mounts stack on one
/// point, the later one (later in the table) hides the earlier, and is the one kept.
///
/// Each line: `id parent major:minor root mount-point options [optional fields…] - type
/// source super-options`; a line that does not have that shape is skipped.
pub(super) fn visible_mounts(mountinfo: &str) -> Vec<Mount> {
    let mut visible: BTreeMap<PathBuf, Mount> = BTreeMap::new();
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(&root), Some(&mount_point)) = (fields.get(3), fields.get(4)) else {
            continue;
        };
        // The optional fields end with a lone `-`.
        let Some(dash) = fields.iter().skip(6).position(|&f| f == "-") else {
            continue;
        };
        let (Some(&file_system), Some(&source)) =
            (fields.get(6 + dash + 1), fields.get(6 + dash + 2))
        else {
            continue;
        };
        let mount_point = PathBuf::from(unescape(mount_point));
        visible.insert(
            mount_point.clone(),
            Mount {
                mount_point,
                file_system: unescape(file_system),
                source: unescape(source),
                bind: unescape(root) != "/",
            },
        );
    }
    visible.into_values().collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo` octal escapes.
pub(super) fn unescape(field: &str) -> String {
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

/// The size of the filesystem mounted at `path` in bytes (fragment size × blocks), or
/// `None` when `statvfs` fails.
pub(super) fn size_bytes(path: &Path) -> Option<u64> {
    let path = CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat = MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stat` has room for one `statvfs`, which
    // the call fills when it returns 0.
    if unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: filled by the successful call above.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::useless_conversion)] // the field widths differ between targets
    let (fragment, blocks) = (u64::from(stat.f_frsize), u64::from(stat.f_blocks));
    Some(fragment.saturating_mul(blocks))
}

#[cfg(test)]
mod tests;
