//! The state survives a power cut at any point of its writes (docs/ARCHITECTURE.md,
//! "Durability").

use std::path::Path;

use crate::durable::crash::{Counts, Expect, Omit, Read, Recording, check};
use crate::state::{Ack, Loaded, Quarantine, STATE_FILE, State};

/// Saves in one run: about four calls each, so well over 1,000 cut points.
const SAVES: usize = 300;
/// Saves in a run of a broken variant: without the folder's fsync every name a file ever had
/// stays possible, so the views grow with the square of the saves.
const BROKEN_SAVES: usize = 40;

const INSTANCES: [&str; 2] = ["i-0123456789abcdef0", "mi-0123456789abcdef0"];

/// The `step`th change: acknowledgements with new hashes, quarantines and removals, over a
/// few types of two instance IDs.
fn change(state: &mut State, step: usize) {
    let instance = INSTANCES[step % 2];
    let type_name = format!("Custom:T{}", step % 7);
    let at =
        time::macros::datetime!(2026-12-06 10:00:00 UTC) + time::Duration::seconds(step as i64);
    match step % 5 {
        0..=2 => state.acknowledge(
            instance,
            &type_name,
            Ack {
                content_hash: format!("hash-{step:04}-of-24-chars"),
                schema_version: format!("1.{}", step % 3),
                acknowledged_at: at,
            },
        ),
        3 => state.quarantine(
            instance,
            &type_name,
            Quarantine {
                content_hash: format!("hash-{step:04}-quarantined"),
                reason: format!("ItemSizeLimitExceeded at step {step}"),
                since: at,
            },
        ),
        _ => state.forget(instance, &type_name),
    }
}

/// Runs the saves through a recording disk with `omit` left out of the write path, then reads
/// the state after every cut.
fn run(omit: Omit, saves: usize) -> Counts {
    let disk = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let fs = Recording::omitting(disk.path(), omit);
    // Not there yet: the first save creates it.
    let dir = disk.path().join("state");
    let file = Path::new("state").join(STATE_FILE);
    let mut state = State::default();
    let mut expects = Vec::new();
    for step in 0..saves {
        change(&mut state, step);
        let start = fs.len();
        state.save_with(&fs, &dir).unwrap();
        expects.push(Expect {
            path: file.clone(),
            start,
            end: fs.len(),
            value: Some(state.clone()),
        });
    }
    // The disk as written is the last state.
    assert_eq!(State::load(&dir).0, state);
    check(
        &fs.ops(),
        &expects,
        scratch.path(),
        |root, _| match State::load(&root.join("state")) {
            (_, Loaded::Fresh) => Read::Absent,
            (state, Loaded::Read) => Read::Parsed(state),
            (_, Loaded::Recovered { reason, .. }) => Read::Unparsable(reason),
        },
    )
}

#[test]
fn no_acknowledged_update_is_lost_at_any_power_cut() {
    let counts = run(Omit::Nothing, SAVES);
    eprintln!("state.json after a power cut: {counts:?}");
    assert!(counts.cuts >= 1000, "{counts:?}");
    assert_eq!((counts.lost, counts.unparsable), (0, 0), "{counts:?}");
    assert_eq!(counts.views, counts.parsed + counts.fresh);
}

/// The check can fail: without the folder's fsync a returned save can be lost, and without
/// the file's fsync the file can be left unreadable.
#[test]
fn a_write_path_missing_an_fsync_loses_updates() {
    let counts = run(Omit::DirSync, BROKEN_SAVES);
    eprintln!("state.json without the folder's fsync: {counts:?}");
    assert!(counts.lost > 0, "{counts:?}");
    let counts = run(Omit::FileSync, BROKEN_SAVES);
    eprintln!("state.json without the file's fsync: {counts:?}");
    assert!(counts.unparsable > 0, "{counts:?}");
}
