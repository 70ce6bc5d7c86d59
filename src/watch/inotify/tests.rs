use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use super::*;

fn events(inotify: &mut Inotify) -> Vec<Seen> {
    let mut seen = Vec::new();
    inotify.read(&mut seen).unwrap();
    seen
}

fn name(folder: &Path, name: &str) -> Seen {
    Seen::Name {
        folder: folder.to_owned(),
        name: name.into(),
    }
}

/// A probe's own scan opens the folder and reads each document: none of it may wake anyone.
#[test]
fn reading_a_folder_and_its_files_is_no_event_and_writing_one_is() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("f");
    fs::create_dir(&folder).unwrap();
    fs::write(folder.join("a.json"), "{}").unwrap();
    let mut inotify = Inotify::new().unwrap();
    inotify.add(&folder).unwrap();

    for _ in 0..3 {
        let names: Vec<_> = fs::read_dir(&folder).unwrap().collect();
        assert_eq!(names.len(), 1);
        let mut text = String::new();
        fs::File::open(folder.join("a.json"))
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{}");
    }
    assert_eq!(events(&mut inotify), vec![]);

    fs::write(folder.join("a.json"), "[]").unwrap();
    let seen = events(&mut inotify);
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|s| *s == name(&folder, "a.json")),
        "{seen:?}"
    );

    fs::rename(folder.join("a.json"), folder.join("b.json")).unwrap();
    assert_eq!(
        events(&mut inotify),
        vec![name(&folder, "a.json"), name(&folder, "b.json")]
    );
    fs::set_permissions(folder.join("b.json"), fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(events(&mut inotify), vec![name(&folder, "b.json")]);
}

/// A removed folder is told as the folder, and its descriptor is forgotten: the next watch of
/// the path, on the new directory, is heard and the old one is not.
#[test]
fn a_removed_folder_is_told_and_its_successor_can_be_watched() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("f");
    fs::create_dir(&folder).unwrap();
    let mut inotify = Inotify::new().unwrap();
    inotify.add(&folder).unwrap();

    fs::remove_dir(&folder).unwrap();
    let seen = events(&mut inotify);
    assert!(seen.contains(&Seen::Folder(folder.clone())), "{seen:?}");
    assert!(inotify.paths.is_empty(), "{:?}", inotify.paths);

    fs::create_dir(&folder).unwrap();
    inotify.add(&folder).unwrap();
    fs::write(folder.join("x.json"), "{}").unwrap();
    let seen = events(&mut inotify);
    assert!(seen.contains(&name(&folder, "x.json")), "{seen:?}");

    // Moved away: told as the folder; once its path is let go, the moved one is not heard.
    let moved = tmp.path().join("moved");
    fs::rename(&folder, &moved).unwrap();
    assert_eq!(events(&mut inotify), vec![Seen::Folder(folder.clone())]);
    inotify.remove(&folder);
    fs::write(moved.join("y.json"), "{}").unwrap();
    assert_eq!(events(&mut inotify), vec![]);
}

/// Two paths to one directory share the kernel's watch: each hears the changes under its own
/// name, and letting one go leaves the other armed.
#[test]
fn two_paths_to_one_directory_share_a_watch_until_the_last_goes() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("f");
    let link = tmp.path().join("link");
    fs::create_dir(&folder).unwrap();
    std::os::unix::fs::symlink(&folder, &link).unwrap();
    let mut inotify = Inotify::new().unwrap();
    inotify.add(&folder).unwrap();
    inotify.add(&link).unwrap();
    assert_eq!(inotify.paths.len(), 1);

    fs::write(folder.join("x.json"), "{}").unwrap();
    let seen = events(&mut inotify);
    assert!(seen.contains(&name(&folder, "x.json")), "{seen:?}");
    assert!(seen.contains(&name(&link, "x.json")), "{seen:?}");

    inotify.remove(&folder);
    fs::write(folder.join("y.json"), "{}").unwrap();
    let seen = events(&mut inotify);
    assert!(seen.contains(&name(&link, "y.json")), "{seen:?}");
    assert!(!seen.contains(&name(&folder, "y.json")), "{seen:?}");

    inotify.remove(&link);
    assert!(inotify.paths.is_empty());
    fs::write(folder.join("z.json"), "{}").unwrap();
    assert_eq!(events(&mut inotify), vec![]);
}

/// Events are parsed from the kernel's layout, names NUL-padded, several to a read.
#[test]
fn events_are_parsed_from_the_kernel_layout() {
    let mut inotify = Inotify::new().unwrap();
    inotify.paths.insert(7, vec![PathBuf::from("/f")]);
    let mut bytes = Vec::new();
    let mut push = |wd: i32, mask: u32, name: &[u8]| {
        let len = if name.is_empty() {
            0
        } else {
            name.len().div_ceil(16) * 16
        };
        bytes.extend_from_slice(&wd.to_ne_bytes());
        bytes.extend_from_slice(&mask.to_ne_bytes());
        bytes.extend_from_slice(&0u32.to_ne_bytes());
        bytes.extend_from_slice(&(len as u32).to_ne_bytes());
        let mut padded = name.to_vec();
        padded.resize(len, 0);
        bytes.extend_from_slice(&padded);
    };
    push(7, libc::IN_CREATE, b"a.json");
    push(8, libc::IN_CREATE, b"other.json"); // a watch no longer on record
    push(7, libc::IN_ATTRIB, b""); // the folder itself
    push(-1, libc::IN_Q_OVERFLOW, b"");
    push(7, libc::IN_IGNORED, b"");
    let mut seen = Vec::new();
    inotify.parse(&bytes, &mut seen);
    assert_eq!(
        seen,
        vec![
            name(Path::new("/f"), "a.json"),
            Seen::Folder(PathBuf::from("/f")),
            Seen::Overflow,
            Seen::Folder(PathBuf::from("/f")),
        ]
    );
    assert!(inotify.paths.is_empty());
}
