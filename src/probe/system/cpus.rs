//! The `host` collector's CPU facts (model, count, physical cores), read again only when the
//! set of online CPUs changes.
//!
//! Reading them costs `/proc/stat` and `/proc/cpuinfo` twice, and the kernel builds both
//! texts for every CPU (and `/proc/stat` for every interrupt) at each read: with a `system`
//! probe every second it was among the largest parts of an idle daemon's CPU
//! (BENCHMARKS.md). Within one boot, which a process never outlives, all three depend only
//! on which CPUs are online: the count is theirs, the model is the first one's, and the
//! cores are the distinct (core, package) pairs among them. So the facts are kept with the
//! online set they were read for (`/sys/devices/system/cpu/online`, a few bytes), and read
//! again when that set differs, as after a CPU is hot-added or taken offline. Where that
//! file cannot be read, they are read every time.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Mutex, PoisonError};

use sysinfo::{CpuRefreshKind, RefreshKind, System};

/// The kernel's list of online CPUs (`0-3,6`).
const ONLINE: &str = "/sys/devices/system/cpu/online";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CpuFacts {
    /// The first CPU's model, as `sysinfo` names it (for ARM cores, from their part number).
    pub(super) model: Option<String>,
    pub(super) count: usize,
    pub(super) cores: Option<usize>,
}

/// What is kept between runs.
struct Kept {
    /// The online list, opened once. sysfs renders an attribute afresh for every read from its
    /// start, so reading it again at offset 0 tells the set as it is now: one `pread` a run
    /// instead of an open, a `statx`, two reads and a close (BENCHMARKS.md, "Idle CPU: one
    /// thread for the runs' blocking work").
    online: Option<File>,
    /// The facts last read and the online set they were read for.
    facts: Option<(String, CpuFacts)>,
}

static KNOWN: Mutex<Kept> = Mutex::new(Kept {
    online: None,
    facts: None,
});

/// The CPU facts for the CPUs online now.
pub(super) fn cpu_facts() -> Result<CpuFacts, String> {
    let mut known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(online) = online_now(&mut known.online) else {
        return read();
    };
    if let Some((set, facts)) = known.facts.as_ref()
        && *set == online
    {
        return Ok(facts.clone());
    }
    let facts = read()?;
    known.facts = Some((online, facts.clone()));
    Ok(facts)
}

/// The online list as the kernel tells it now, through `file` (opened at the first call and
/// kept; one that fails to read is dropped and opened again next time).
fn online_now(file: &mut Option<File>) -> Option<String> {
    if file.is_none() {
        *file = File::open(ONLINE).ok();
    }
    let text = read_from_start(file.as_ref()?);
    if text.is_none() {
        *file = None;
    }
    text
}

/// The whole of `file` from its start, by position, so that the file's own offset is not used.
fn read_from_start(file: &File) -> Option<String> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        let offset = u64::try_from(bytes.len()).ok()?;
        match file.read_at(&mut chunk, offset) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    String::from_utf8(bytes).ok()
}

/// Reads the facts from `/proc/stat` and `/proc/cpuinfo` (through `sysinfo`).
pub(super) fn read() -> Result<CpuFacts, String> {
    let system =
        System::new_with_specifics(RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing()))
            .map_err(|e| format!("cannot read the CPUs: {e}"))?;
    let cpus = system.cpus();
    Ok(CpuFacts {
        model: cpus.first().map(|cpu| cpu.brand().to_owned()),
        count: cpus.len(),
        cores: System::physical_core_count().ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, not two: both would set the one `KNOWN`. (Other tests may read the facts
    /// meanwhile; they only ever store the facts of the online set.)
    #[test]
    fn facts_are_kept_for_their_online_set_only() {
        let fresh = read().unwrap();
        assert!(fresh.count > 0, "{fresh:?}");
        // The first call may read them or find them kept; the second finds them kept.
        assert_eq!(cpu_facts().unwrap(), fresh);
        assert_eq!(cpu_facts().unwrap(), fresh);
        let online = std::fs::read_to_string(ONLINE).unwrap();
        let kept = KNOWN.lock().unwrap().facts.clone();
        assert_eq!(kept, Some((online.clone(), fresh.clone())));
        // Facts kept for another set are not given out: they are read again.
        let stale = CpuFacts {
            model: Some("a CPU this machine does not have".into()),
            count: fresh.count + 1,
            cores: None,
        };
        KNOWN.lock().unwrap().facts = Some(("0-4095".into(), stale));
        assert_eq!(cpu_facts().unwrap(), fresh);
        assert_eq!(KNOWN.lock().unwrap().facts.clone(), Some((online, fresh)));
    }

    /// The kept descriptor tells what a fresh open does, each time it is read, and it does not
    /// depend on the descriptor's own offset.
    #[test]
    fn a_kept_file_is_read_again_from_its_start() {
        use std::io::Read;
        let expected = std::fs::read_to_string(ONLINE).unwrap();
        let mut kept = None;
        assert_eq!(online_now(&mut kept).as_deref(), Some(expected.as_str()));
        assert!(kept.is_some());
        kept.as_ref().unwrap().read_to_end(&mut Vec::new()).unwrap();
        assert_eq!(online_now(&mut kept).as_deref(), Some(expected.as_str()));
        assert_eq!(online_now(&mut kept).as_deref(), Some(expected.as_str()));
        // Longer than one chunk: any file is read whole.
        let dir = tempfile::tempdir().unwrap();
        let long = dir.path().join("long");
        let text = "0-3,".repeat(300);
        std::fs::write(&long, &text).unwrap();
        let file = File::open(&long).unwrap();
        assert_eq!(read_from_start(&file).as_deref(), Some(text.as_str()));
        assert_eq!(read_from_start(&file).as_deref(), Some(text.as_str()));
    }
}
