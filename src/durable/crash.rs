//! A disk that loses power: [`Recording`] performs the durable-write calls on a real folder
//! (all but the fsyncs, which only the model needs) and records them; [`check`] replays the record, cuts the power after every call, and reads
//! every state the disk may come back in with the daemon's own loaders.
//!
//! The model of the disk (docs/ARCHITECTURE.md, "Durability"): each file's data and each
//! folder's entries have a synced version and the versions written since. `fsync_file` makes a
//! file's data durable, `fsync_dir` a folder's entries (names created, renamed, removed, and
//! the folders created in it). After a cut, each entry of each folder is, independently, its
//! synced version or any version written to it since (a pending rename is applied or not,
//! and its two names need not agree), and each file holds its synced data, any data written
//! since, or the first half of such a write. That covers what a journaling filesystem can
//! leave, and more.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt::Debug;
use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::{DurableFs, RealFs};

/// One call, with paths relative to the recorded folder.
#[derive(Clone, PartialEq, Eq)]
pub enum Op {
    CreateDir(PathBuf),
    Write(PathBuf, Vec<u8>),
    FsyncFile(PathBuf),
    Rename(PathBuf, PathBuf),
    FsyncDir(PathBuf),
    Remove(PathBuf),
}

impl Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::CreateDir(p) => write!(f, "create_dir {}", p.display()),
            Op::Write(p, bytes) => write!(f, "write_temp {} ({} bytes)", p.display(), bytes.len()),
            Op::FsyncFile(p) => write!(f, "fsync_file {}", p.display()),
            Op::Rename(a, b) => write!(f, "rename {} {}", a.display(), b.display()),
            Op::FsyncDir(p) => write!(f, "fsync_dir {}", p.display()),
            Op::Remove(p) => write!(f, "remove {}", p.display()),
        }
    }
}

/// A call the broken variants leave out (the negative controls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Omit {
    Nothing,
    FileSync,
    DirSync,
}

/// The real filesystem under `root`, every successful call recorded.
pub struct Recording {
    root: PathBuf,
    omit: Omit,
    ops: RefCell<Vec<Op>>,
}

impl Recording {
    /// Records calls under `root`, which exists and whose entries count as synced.
    pub fn new(root: &Path) -> Recording {
        Recording::omitting(root, Omit::Nothing)
    }

    /// A write path that leaves out `omit`.
    pub fn omitting(root: &Path, omit: Omit) -> Recording {
        Recording {
            root: root.to_path_buf(),
            omit,
            ops: RefCell::new(Vec::new()),
        }
    }

    /// How many calls were recorded so far.
    pub fn len(&self) -> usize {
        self.ops.borrow().len()
    }

    pub fn ops(&self) -> Vec<Op> {
        self.ops.borrow().clone()
    }

    fn relative(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.root)
            .unwrap_or_else(|_| panic!("{} is outside the disk", path.display()))
            .to_path_buf()
    }

    fn record<T>(&self, result: io::Result<T>, op: impl FnOnce() -> Op) -> io::Result<T> {
        if result.is_ok() {
            self.ops.borrow_mut().push(op());
        }
        result
    }
}

impl DurableFs for Recording {
    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        let result = RealFs.create_dir(dir);
        self.record(result, || Op::CreateDir(self.relative(dir)))
    }

    fn write_temp(&self, path: &Path, bytes: &[u8], mode: u32) -> io::Result<File> {
        let result = RealFs.write_temp(path, bytes, mode);
        self.record(result, || Op::Write(self.relative(path), bytes.to_vec()))
    }

    fn fsync_file(&self, path: &Path, file: &File) -> io::Result<()> {
        if self.omit == Omit::FileSync {
            return Ok(());
        }
        // The model keeps what is durable; the real folder need not be synced.
        let _ = (path, file);
        self.record(Ok(()), || Op::FsyncFile(self.relative(path)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let result = RealFs.rename(from, to);
        self.record(result, || {
            Op::Rename(self.relative(from), self.relative(to))
        })
    }

    fn fsync_dir(&self, dir: &Path) -> io::Result<()> {
        if self.omit == Omit::DirSync {
            return Ok(());
        }
        self.record(Ok(()), || Op::FsyncDir(self.relative(dir)))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let result = RealFs.remove(path);
        self.record(result, || Op::Remove(self.relative(path)))
    }
}

type Ino = usize;

#[derive(Debug)]
enum Node {
    File {
        synced: Vec<u8>,
        since: Vec<Vec<u8>>,
    },
    Dir {
        synced: BTreeMap<OsString, Ino>,
        since: BTreeMap<OsString, Vec<Option<Ino>>>,
    },
}

/// The model of the disk; inode 0 is the recorded folder, whose own entry is durable.
#[derive(Debug)]
pub struct Disk {
    nodes: Vec<Node>,
}

fn names(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            _ => None,
        })
        .collect()
}

impl Default for Disk {
    fn default() -> Self {
        Disk {
            nodes: vec![Node::Dir {
                synced: BTreeMap::new(),
                since: BTreeMap::new(),
            }],
        }
    }
}

impl Disk {
    /// The inode `path` names now (before any cut).
    fn lookup(&self, path: &Path) -> Option<Ino> {
        let mut ino = 0;
        for name in names(path) {
            let Node::Dir { synced, since } = &self.nodes[ino] else {
                return None;
            };
            ino = match since.get(&name) {
                Some(versions) => (*versions.last()?)?,
                None => *synced.get(&name)?,
            };
        }
        Some(ino)
    }

    /// The folder `path` is in, and its name there.
    fn split(&self, path: &Path) -> (Ino, OsString) {
        let mut all = names(path);
        let name = all.pop().expect("a path with a name");
        let parent: PathBuf = all.iter().collect();
        let dir = self
            .lookup(&parent)
            .unwrap_or_else(|| panic!("no folder {}", parent.display()));
        (dir, name)
    }

    fn set_entry(&mut self, path: &Path, to: Option<Ino>) {
        let (dir, name) = self.split(path);
        let Node::Dir { since, .. } = &mut self.nodes[dir] else {
            panic!("{} is not in a folder", path.display());
        };
        since.entry(name).or_default().push(to);
    }

    fn add(&mut self, node: Node) -> Ino {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::CreateDir(path) => {
                let ino = self.add(Node::Dir {
                    synced: BTreeMap::new(),
                    since: BTreeMap::new(),
                });
                self.set_entry(path, Some(ino));
            }
            Op::Write(path, bytes) => match self.lookup(path) {
                Some(ino) => match &mut self.nodes[ino] {
                    Node::File { since, .. } => since.push(bytes.clone()),
                    Node::Dir { .. } => panic!("write to the folder {}", path.display()),
                },
                None => {
                    let ino = self.add(Node::File {
                        synced: Vec::new(),
                        since: vec![bytes.clone()],
                    });
                    self.set_entry(path, Some(ino));
                }
            },
            Op::FsyncFile(path) => {
                let ino = self.lookup(path).expect("fsync of a file that exists");
                if let Node::File { synced, since } = &mut self.nodes[ino]
                    && let Some(last) = since.pop()
                {
                    *synced = last;
                    since.clear();
                }
            }
            Op::Rename(from, to) => {
                let ino = self.lookup(from).expect("rename of a file that exists");
                self.set_entry(from, None);
                self.set_entry(to, Some(ino));
            }
            Op::FsyncDir(path) => {
                let ino = self.lookup(path).expect("fsync of a folder that exists");
                if let Node::Dir { synced, since } = &mut self.nodes[ino] {
                    for (name, versions) in std::mem::take(since) {
                        match versions.last().copied().flatten() {
                            Some(to) => synced.insert(name, to),
                            None => synced.remove(&name),
                        };
                    }
                }
            }
            Op::Remove(path) => self.set_entry(path, None),
        }
    }

    /// Every content `path` may have after a power cut now: `None` where it may be absent.
    pub fn after_cut(&self, path: &Path) -> BTreeSet<Option<Vec<u8>>> {
        let mut at: BTreeSet<Option<Ino>> = BTreeSet::from([Some(0)]);
        for name in names(path) {
            let mut next = BTreeSet::new();
            for ino in at {
                match ino.map(|i| &self.nodes[i]) {
                    Some(Node::Dir { synced, since }) => {
                        next.insert(synced.get(&name).copied());
                        next.extend(since.get(&name).into_iter().flatten().copied());
                    }
                    _ => {
                        next.insert(None);
                    }
                }
            }
            at = next;
        }
        let mut contents = BTreeSet::new();
        for ino in at {
            match ino.map(|i| &self.nodes[i]) {
                Some(Node::File { synced, since }) => {
                    contents.insert(Some(synced.clone()));
                    for bytes in since {
                        contents.insert(Some(bytes.clone()));
                        contents.insert(Some(bytes[..bytes.len() / 2].to_vec()));
                    }
                }
                _ => {
                    contents.insert(None);
                }
            }
        }
        contents
    }
}

/// A call of the code under test that returned `Ok`: from then on `path` must read as
/// `value` (`None`: absent) until a later call returns. While it runs (calls `start..end`),
/// the previous value and this one are both correct.
#[derive(Debug, Clone)]
pub struct Expect<T> {
    pub path: PathBuf,
    pub start: usize,
    pub end: usize,
    pub value: Option<T>,
}

/// What a loader made of a file.
#[derive(Debug)]
pub enum Read<T> {
    Absent,
    Parsed(T),
    Unparsable(String),
}

/// What [`check`] found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Points at which the power was cut: before the first call, after each call.
    pub cuts: usize,
    /// Contents a file may have after a cut, summed over cuts and files.
    pub views: usize,
    /// Views that parsed into a value written by a call that returned, or was running.
    pub parsed: usize,
    /// Views where the file is absent, before any call writing it returned.
    pub fresh: usize,
    /// Views missing what a returned call wrote: an older value, or absent.
    pub lost: usize,
    /// Views the loader could not use.
    pub unparsable: usize,
}

/// Replays `ops`, cuts the power before the first and after every call, and reads each file
/// of `expects` in every state the disk may come back in: the file is written into `scratch`
/// (otherwise empty) at its path and read with `load(scratch, path)`. The first few failures
/// go to stderr.
pub fn check<T: PartialEq + Debug>(
    ops: &[Op],
    expects: &[Expect<T>],
    scratch: &Path,
    load: impl Fn(&Path, &Path) -> Read<T>,
) -> Counts {
    let paths: BTreeSet<&Path> = expects.iter().map(|e| e.path.as_path()).collect();
    let mut disk = Disk::default();
    let mut counts = Counts::default();
    for cut in 0..=ops.len() {
        if cut > 0 {
            disk.apply(&ops[cut - 1]);
        }
        counts.cuts += 1;
        for path in &paths {
            let mine = expects.iter().filter(|e| e.path == *path);
            let returned = mine.clone().filter(|e| e.end <= cut).last();
            let mut correct: Vec<Option<&T>> = vec![returned.and_then(|e| e.value.as_ref())];
            correct.extend(
                mine.filter(|e| e.start <= cut && cut < e.end)
                    .map(|e| e.value.as_ref()),
            );
            for content in disk.after_cut(path) {
                counts.views += 1;
                let read = materialize(scratch, path, content.as_deref(), &load);
                let ok = match &read {
                    Read::Absent => correct.contains(&None),
                    Read::Parsed(v) => correct.contains(&Some(v)),
                    Read::Unparsable(_) => false,
                };
                match (&read, ok) {
                    (Read::Absent, true) => counts.fresh += 1,
                    (Read::Parsed(_), true) => counts.parsed += 1,
                    (Read::Unparsable(_), _) => counts.unparsable += 1,
                    _ => counts.lost += 1,
                }
                if !ok && counts.lost + counts.unparsable <= 3 {
                    let found = match &read {
                        Read::Absent => "absent".to_owned(),
                        Read::Parsed(v) => format!("{v:?}"),
                        Read::Unparsable(why) => format!("unparsable: {why}"),
                    };
                    eprintln!(
                        "cut after call {cut} ({:?}): {} read as {found}; expected one of {correct:?}",
                        cut.checked_sub(1).map(|i| &ops[i]),
                        path.display()
                    );
                }
            }
        }
    }
    counts
}

fn materialize<T>(
    scratch: &Path,
    path: &Path,
    content: Option<&[u8]>,
    load: &impl Fn(&Path, &Path) -> Read<T>,
) -> Read<T> {
    for entry in std::fs::read_dir(scratch).expect("the scratch folder") {
        let entry = entry.expect("a scratch entry").path();
        if entry.is_dir() {
            std::fs::remove_dir_all(&entry).expect("clearing the scratch folder");
        } else {
            std::fs::remove_file(&entry).expect("clearing the scratch folder");
        }
    }
    if let Some(bytes) = content {
        let file = scratch.join(path);
        std::fs::create_dir_all(file.parent().expect("a folder")).expect("a scratch folder");
        std::fs::write(&file, bytes).expect("a scratch file");
    }
    load(scratch, path)
}
