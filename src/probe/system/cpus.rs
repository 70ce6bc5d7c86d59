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

/// The facts last read and the online set they were read for.
static KNOWN: Mutex<Option<(String, CpuFacts)>> = Mutex::new(None);

/// The CPU facts for the CPUs online now.
pub(super) fn cpu_facts() -> Result<CpuFacts, String> {
    let Ok(online) = std::fs::read_to_string(ONLINE) else {
        return read();
    };
    let mut known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((set, facts)) = known.as_ref()
        && *set == online
    {
        return Ok(facts.clone());
    }
    let facts = read()?;
    *known = Some((online, facts.clone()));
    Ok(facts)
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
        let kept = KNOWN.lock().unwrap().clone();
        assert_eq!(kept, Some((online.clone(), fresh.clone())));
        // Facts kept for another set are not given out: they are read again.
        let stale = CpuFacts {
            model: Some("a CPU this machine does not have".into()),
            count: fresh.count + 1,
            cores: None,
        };
        *KNOWN.lock().unwrap() = Some(("0-4095".into(), stale));
        assert_eq!(cpu_facts().unwrap(), fresh);
        assert_eq!(KNOWN.lock().unwrap().clone(), Some((online, fresh)));
    }
}
