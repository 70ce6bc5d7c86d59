//! The daemon-wide probe budget under load: 16 exec probes, each printing a valid 10,000-row
//! × 50-attribute output of 7.5 MB (under the default 8 MiB `max_output_bytes`), all due at
//! once, through `collect` (the real binary). With the default `[agent]` limits (4 runs,
//! `probe_output_budget` 32 MiB) each run reserves its 8 MiB and four run at a time; every
//! item must still be produced, and the process's peak must stay within the worst case the
//! configuration documents without a push, 40 MiB + 32 MiB × 3 (the measured peak per byte of
//! the budget) = 136 MiB (config/README.md, "Memory"). `collect` prints each probe's items as
//! soon as it and those before it are done and lets them go. The daemon's side, items held
//! until the service has them, is `benches/probe-budget.sh` and the system test.
//! For comparison the same probes run again with a budget large enough for all of them at
//! once, as before the budget existed; that peak is printed, not asserted.
//!
//! The peak is the `ru_maxrss` that `wait4` returns for the child, as in `output_memory.rs`,
//! after this process's own peak was reset to its current size (printed as "test kB"): the
//! figure can only overstate the binary's peak.

mod common;

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::Path;

use common::peak::{self, reset_own_peak};

const PROBES: usize = 16;
const MIB: u64 = 1024;

/// The documented worst case of the default configuration without a push, in kB:
/// 40 MiB + 32 MiB × 3.
const DEFAULT_WORST_CASE_KB: u64 = (40 + 32 * 3) * MIB;

/// 10,000 rows of 50 attributes, `"A00":"vvvvvv"`: 7,520,001 bytes.
fn output() -> String {
    let mut row = String::from("{");
    for a in 0..50 {
        if a > 0 {
            row.push(',');
        }
        let _ = write!(row, r#""A{a:02}":"vvvvvv""#);
    }
    row.push('}');
    let mut text = String::with_capacity(10_000 * (row.len() + 1) + 2);
    text.push('[');
    for i in 0..10_000 {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&row);
    }
    text.push(']');
    text
}

struct Run {
    peak_kb: u64,
    exit: Option<i32>,
    /// The TypeName of each line of stdout, in order.
    types: Vec<String>,
    stderr: String,
}

/// Runs `collect` on `PROBES` exec probes that each `cat` `data`, with `agent` as the
/// `[agent]` table's extra keys.
fn collect(dir: &Path, data: &Path, agent: &str) -> Run {
    let mut text = format!("[agent]\nprobes_dir = \"none\"\n{agent}\n");
    for i in 0..PROBES {
        let _ = write!(
            text,
            "\n[[probe]]\nname = \"p{i:02}\"\nkind = \"exec\"\ntype_name = \"Custom:Wide{i:02}\"\n\
             command = [\"/bin/cat\", \"{}\"]\ntimeout = \"120s\"\n",
            data.display()
        );
    }
    let config = dir.join("config.toml");
    fs::write(&config, text).expect("write config");
    let run = peak::collect_peak(&config, dir);
    // Each line is a whole item of about 7.5 MB; only its TypeName is kept.
    let types = BufReader::new(File::open(&run.stdout_path).expect("open stdout"))
        .lines()
        .map(|line| {
            let line = line.expect("read stdout");
            let at = line.find(r#""TypeName":""#).map_or(0, |at| at + 12);
            line[at..].split('"').next().unwrap_or_default().to_owned()
        })
        .collect();
    // The 120 MB of stdout goes as soon as it is read.
    fs::remove_file(&run.stdout_path).ok();
    Run {
        peak_kb: run.peak_kb,
        exit: run.exit,
        types,
        stderr: run.stderr,
    }
}

#[test]
fn sixteen_large_probes_due_at_once_stay_within_the_documented_worst_case() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("output.json");
    fs::write(&data, output()).expect("write output");
    let bytes = fs::metadata(&data).expect("output written").len();
    assert!(bytes <= 8 * 1024 * 1024, "{bytes} bytes");
    let expected: Vec<String> = (0..PROBES).map(|i| format!("Custom:Wide{i:02}")).collect();

    let own = reset_own_peak();
    let bounded = collect(dir.path(), &data, "");
    println!(
        "{PROBES} probes × {bytes} bytes, default budget (32 MiB, 4 runs): peak {} kB \
         (documented worst case {DEFAULT_WORST_CASE_KB} kB), test {} kB, exit {:?}",
        bounded.peak_kb,
        own.map_or_else(|| "?".to_owned(), |kb| kb.to_string()),
        bounded.exit
    );
    assert_eq!(bounded.exit, Some(0), "stderr: {}", bounded.stderr);
    assert_eq!(bounded.types, expected, "stderr: {}", bounded.stderr);
    assert!(
        bounded.peak_kb <= DEFAULT_WORST_CASE_KB,
        "peak {} kB, over the documented worst case of {DEFAULT_WORST_CASE_KB} kB",
        bounded.peak_kb
    );

    // All sixteen at once, as before the budget: for comparison only.
    let own = reset_own_peak();
    let unbounded = collect(
        dir.path(),
        &data,
        "max_concurrent_probes = 16\nprobe_output_budget = 134217728\n",
    );
    println!(
        "{PROBES} probes × {bytes} bytes, all at once (128 MiB budget, 16 runs): peak {} kB, \
         test {} kB, exit {:?}",
        unbounded.peak_kb,
        own.map_or_else(|| "?".to_owned(), |kb| kb.to_string()),
        unbounded.exit
    );
    assert_eq!(unbounded.types, expected, "stderr: {}", unbounded.stderr);
}
