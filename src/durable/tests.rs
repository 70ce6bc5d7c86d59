use std::collections::BTreeSet;
use std::path::Path;

use super::crash::{Disk, Omit, Op, Recording};
use super::*;

fn cut(ops: &[Op], path: &str) -> BTreeSet<Option<Vec<u8>>> {
    let mut disk = Disk::default();
    for op in ops {
        disk.apply(op);
    }
    disk.after_cut(Path::new(path))
}

fn some(bytes: &[u8]) -> Option<Vec<u8>> {
    Some(bytes.to_vec())
}

#[test]
fn a_replaced_file_is_the_new_one_after_a_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let fs = Recording::new(tmp.path());
    replace(&fs, &tmp.path().join("f"), b"one", 0o600).unwrap();
    replace(&fs, &tmp.path().join("f"), b"two", 0o600).unwrap();
    assert_eq!(fs::read(tmp.path().join("f")).unwrap(), b"two");
    assert_eq!(cut(&fs.ops(), "f"), BTreeSet::from([some(b"two")]));
    assert_eq!(cut(&fs.ops(), ".f.tmp"), BTreeSet::from([None]));
}

#[test]
fn what_was_not_synced_may_be_lost() {
    // Data written but not synced: the old data, the new, or half of it.
    let ops = [
        Op::Write("f".into(), b"abcd".to_vec()),
        Op::FsyncFile("f".into()),
        Op::FsyncDir("".into()),
        Op::Write("f".into(), b"wxyz".to_vec()),
    ];
    assert_eq!(
        cut(&ops, "f"),
        BTreeSet::from([some(b"abcd"), some(b"wxyz"), some(b"wx")])
    );
    // A rename not followed by a sync of the folder: either name may hold either file.
    let ops = [
        Op::Write("a".into(), b"old".to_vec()),
        Op::FsyncFile("a".into()),
        Op::FsyncDir("".into()),
        Op::Write("t".into(), b"new".to_vec()),
        Op::FsyncFile("t".into()),
        Op::Rename("t".into(), "a".into()),
    ];
    assert_eq!(cut(&ops, "a"), BTreeSet::from([some(b"old"), some(b"new")]));
    assert_eq!(cut(&ops, "t"), BTreeSet::from([None, some(b"new")]));
    // A folder whose creation was not synced in its parent may vanish with its files.
    let ops = [
        Op::CreateDir("d".into()),
        Op::Write("d/f".into(), b"x".to_vec()),
        Op::FsyncFile("d/f".into()),
        Op::FsyncDir("d".into()),
    ];
    assert_eq!(cut(&ops, "d/f"), BTreeSet::from([None, some(b"x")]));
}

#[test]
fn a_broken_variant_leaves_its_call_out() {
    let tmp = tempfile::tempdir().unwrap();
    let fs = Recording::omitting(tmp.path(), Omit::DirSync);
    replace(&fs, &tmp.path().join("f"), b"one", 0o600).unwrap();
    assert!(!fs.ops().iter().any(|op| matches!(op, Op::FsyncDir(_))));
    assert_eq!(cut(&fs.ops(), "f"), BTreeSet::from([None, some(b"one")]));
}
