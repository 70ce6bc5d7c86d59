//! Processes a probe leaves behind, as `/proc` shows them: those whose command line carries a
//! marker (a number unique to a test and case), killing them when a test fails, and the
//! zombie children of a process.

use std::fs;

/// Live processes whose command line contains `marker`, as "pid: command line" (zombies have
/// none and are skipped).
pub fn marked(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(marker) {
            found.push(format!("{pid}: {}", cmdline.trim_end()));
        }
    }
    found
}

/// SIGKILL to every process whose command line carries one of `markers`: what a failed test
/// left running (the markers' `sleep`s would otherwise run for years).
pub fn kill_marked(markers: &[&str]) {
    for marker in markers {
        for line in marked(marker) {
            if let Some(pid) = line.split(':').next().and_then(|p| p.parse::<i32>().ok()) {
                // SAFETY: only sends a signal, to a process carrying this test's marker.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// Zombie children of `parent`, as "pid: name".
pub fn zombies_of(parent: u32) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let mut rest = stat[close + 1..].split_ascii_whitespace();
        let (state, ppid) = (rest.next(), rest.next().and_then(|p| p.parse::<u32>().ok()));
        if state == Some("Z") && ppid == Some(parent) {
            found.push(format!(
                "{}: {}",
                stat[..open].trim(),
                &stat[open + 1..close]
            ));
        }
    }
    found
}
