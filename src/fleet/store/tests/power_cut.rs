//! The fleet store survives a power cut at any point of its writes (docs/ARCHITECTURE.md,
//! "Durability").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::durable::crash::{Counts, Expect, Omit, Read, Recording, check};
use crate::fleet::store::*;

/// Calls in one run: about four filesystem calls each, so well over 1,000 cut points.
const CALLS: usize = 260;
/// Calls in a run of a broken variant (see the state's power-cut test).
const BROKEN_CALLS: usize = 40;

const NAMES: [&str; 2] = ["/ssm-inventoryd/web", "/ssm-inventoryd/db"];

/// What one file of the store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kept {
    Stored(Stored),
    Refused(Refusal),
    Problems(BTreeMap<String, String>),
}

fn at(step: usize) -> time::OffsetDateTime {
    time::macros::datetime!(2026-12-06 10:00:00 UTC) + time::Duration::seconds(step as i64)
}

fn relative(path: PathBuf, root: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap().to_path_buf()
}

/// Saves versions, refusals (each cleared by the next good version) and problems of two
/// parameters through a recording disk with `omit` left out, then reads every file of the
/// store after every cut with the store's own loaders.
fn run(omit: Omit, calls: usize) -> Counts {
    let disk = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let fs = Recording::omitting(disk.path(), omit);
    // Neither the state directory nor its fleet folder is there yet.
    let state_dir = disk.path().join("state");
    let stored_file = |name: &str| relative(stored_path(&state_dir, name), disk.path());
    let refused_file = |name: &str| relative(refused_path(&state_dir, name), disk.path());
    let problems_file = relative(dir(&state_dir).join(PROBLEMS_FILE), disk.path());
    let mut files: BTreeMap<PathBuf, (&str, &str)> = BTreeMap::new();
    for name in NAMES {
        files.insert(stored_file(name), ("stored", name));
        files.insert(refused_file(name), ("refused", name));
    }
    files.insert(problems_file.clone(), ("problems", ""));

    let mut versions: BTreeMap<&str, i64> = BTreeMap::new();
    let mut refused: BTreeMap<&str, i64> = BTreeMap::new();
    let mut expects = Vec::new();
    for step in 0..calls {
        let name = NAMES[(step / 3) % 2];
        let version = versions.entry(name).or_insert(0);
        let start = fs.len();
        let mut written = Vec::new();
        match step % 3 {
            0 => {
                *version += 1;
                let stored = Stored {
                    name: name.into(),
                    version: *version,
                    text: format!("# step {step}\n"),
                    parameter_type: "SecureString".into(),
                    fetched_at: at(step),
                };
                save_with(&fs, &state_dir, &stored).unwrap();
                written.push((stored_file(name), Some(Kept::Stored(stored))));
                if refused.remove(name).is_some() {
                    written.push((refused_file(name), None));
                }
            }
            1 => {
                let refusal = Refusal {
                    name: name.into(),
                    version: *version + 1,
                    reason: format!("line 1: unknown key at step {step}"),
                    at: at(step),
                    running: None,
                };
                save_refusal_with(&fs, &state_dir, &refusal).unwrap();
                refused.insert(name, refusal.version);
                written.push((refused_file(name), Some(Kept::Refused(refusal))));
            }
            _ => {
                let problems = BTreeMap::from([(name.to_owned(), format!("step {step}"))]);
                save_problems_with(&fs, &state_dir, &problems).unwrap();
                written.push((problems_file.clone(), Some(Kept::Problems(problems))));
            }
        }
        for (path, value) in written {
            expects.push(Expect {
                path,
                start,
                end: fs.len(),
                value,
            });
        }
    }
    check(&fs.ops(), &expects, scratch.path(), |root, path| {
        let state_dir = root.join("state");
        let read = match files[path] {
            ("stored", name) => load(&state_dir, name).map(|s| s.map(Kept::Stored)),
            ("refused", name) => load_refusal(&state_dir, name).map(|r| r.map(Kept::Refused)),
            _ if !root.join(path).exists() => Ok(None),
            _ => load_problems(&state_dir).map(|p| Some(Kept::Problems(p))),
        };
        match read {
            Ok(None) => Read::Absent,
            Ok(Some(kept)) => Read::Parsed(kept),
            Err(e) => Read::Unparsable(e.to_string()),
        }
    })
}

#[test]
fn no_saved_version_or_cleared_refusal_is_lost_at_any_power_cut() {
    let counts = run(Omit::Nothing, CALLS);
    eprintln!("fleet store after a power cut: {counts:?}");
    assert!(counts.cuts >= 1000, "{counts:?}");
    assert_eq!((counts.lost, counts.unparsable), (0, 0), "{counts:?}");
    assert_eq!(counts.views, counts.parsed + counts.fresh);
}

/// The check can fail: without the folder's fsync a returned save can be lost.
#[test]
fn a_store_missing_the_folder_fsync_loses_versions() {
    let counts = run(Omit::DirSync, BROKEN_CALLS);
    eprintln!("fleet store without the folder's fsync: {counts:?}");
    assert!(counts.lost > 0, "{counts:?}");
    let counts = run(Omit::FileSync, BROKEN_CALLS);
    eprintln!("fleet store without the file's fsync: {counts:?}");
    assert!(counts.unparsable > 0, "{counts:?}");
}
