use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// These tests only mean something as root, which is how the suite runs here; as another
/// user every file is "not root-owned" and the checks are not enforced anyway.
fn root() -> bool {
    root_or_skip()
}

#[test]
fn group_or_other_writable_files_and_dirs_are_refused() {
    if !root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("probe.toml");
    fs::write(&file, "").unwrap();
    chmod(&file, 0o644);
    check_path(&file).unwrap();

    chmod(&file, 0o664);
    let e = check_path(&file).unwrap_err().to_string();
    assert!(e.contains("is writable by its group (mode 0664)"), "{e}");
    assert!(e.contains("strict_permissions = false"), "{e}");
    chmod(&file, 0o646);
    assert!(matches!(
        check_path(&file),
        Err(TrustError::Writable { who: "others", .. })
    ));

    // A writable directory above the file is as bad as a writable file.
    chmod(&file, 0o644);
    chmod(tmp.path(), 0o777);
    let e = check_path(&file).unwrap_err();
    assert!(
        matches!(&e, TrustError::Writable { path, .. } if path == tmp.path()),
        "{e}"
    );
    // …unless it is sticky, like /tmp (which is above every temporary directory here).
    chmod(tmp.path(), 0o1777);
    check_path(&file).unwrap();
    // The path itself gets no sticky exception.
    assert!(check_path(tmp.path()).is_err());
}

#[test]
fn owner_must_be_root() {
    if !root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("x");
    fs::write(&file, "").unwrap();
    std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
    let e = check_path(&file).unwrap_err().to_string();
    assert!(e.contains("is owned by uid 65534, not root"), "{e}");
}

#[test]
fn links_are_checked_on_both_sides() {
    if !root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let open = tmp.path().join("open");
    fs::create_dir(&open).unwrap();
    chmod(&open, 0o777);
    let target = open.join("prog");
    fs::write(&target, "").unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let e = check_path(&link).unwrap_err();
    assert!(
        matches!(&e, TrustError::Writable { path, .. } if path.ends_with("open")),
        "{e}"
    );
}

/// Makes `link` → `target` owned by `uid` (a link's owner is set with lchown).
fn symlink_owned_by(target: &Path, link: &Path, uid: u32) {
    std::os::unix::fs::symlink(target, link).unwrap();
    std::os::unix::fs::lchown(link, Some(uid), Some(uid)).unwrap();
}

/// In a sticky directory such as /run/lock the owner of a link can replace it with one to
/// anywhere after the check, so the link's owner counts, not only its target's.
#[test]
fn a_link_not_owned_by_root_in_a_sticky_dir_is_refused() {
    if !root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o1777);
    let link = tmp.path().join("echo");
    symlink_owned_by(Path::new("/bin/echo"), &link, 65534);
    let e = check_path(&link).unwrap_err();
    assert!(
        matches!(&e, TrustError::LinkNotRootOwned { path, uid: 65534, .. } if path == &link),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{} is a symbolic link owned by uid 65534, not root; {HINT}",
            link.display()
        )
    );

    // A link to a directory on the way counts as much as the last one.
    let dir_link = tmp.path().join("bin");
    symlink_owned_by(Path::new("/bin"), &dir_link, 65534);
    let e = check_path(&dir_link.join("echo")).unwrap_err();
    assert!(
        matches!(&e, TrustError::LinkNotRootOwned { path, .. } if path == &dir_link),
        "{e}"
    );

    // Owned by root, the same link is fine: only root can replace it.
    std::os::unix::fs::lchown(&link, Some(0), Some(0)).unwrap();
    check_path(&link).unwrap();
}

/// Like /usr/bin/python3 → python3.11: a root-owned link in a root-owned directory.
#[test]
fn root_owned_links_are_followed_and_name_their_target() {
    if !root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("python3.11");
    fs::write(&target, "").unwrap();
    chmod(&target, 0o755);
    let link = tmp.path().join("python3");
    std::os::unix::fs::symlink("python3.11", &link).unwrap();
    let id = check_path(&link).unwrap();
    assert_eq!(id, FileId::of(&fs::metadata(&target).unwrap()));
}

#[test]
fn an_opened_file_must_be_the_checked_one() {
    if !root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let checked = tmp.path().join("checked");
    let other = tmp.path().join("other");
    fs::write(&checked, "").unwrap();
    fs::write(&other, "").unwrap();
    chmod(&checked, 0o644);
    chmod(&other, 0o644);
    check_opened(&checked, &File::open(&checked).unwrap()).unwrap();
    // What was opened by the path is no longer what the path leads to.
    let e = check_opened(&checked, &File::open(&other).unwrap()).unwrap_err();
    assert!(
        matches!(&e, TrustError::Replaced { path } if path == &checked),
        "{e}"
    );
    // The open file itself is checked too, not only the path.
    let opened = File::open(&checked).unwrap();
    chmod(&checked, 0o666);
    assert!(matches!(
        check_opened(&checked, &opened),
        Err(TrustError::Writable { .. })
    ));
}

#[test]
fn a_program_is_an_executable_regular_file_above_stdio() {
    if !root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let prog = tmp.path().join("prog");
    fs::write(&prog, "#!/bin/sh\n").unwrap();
    chmod(&prog, 0o644);
    let e = open_program(&prog).unwrap_err();
    assert!(matches!(e, TrustError::NotAProgram { .. }), "{e}");
    chmod(&prog, 0o700);
    let fd = open_program(&prog).unwrap();
    assert!(fd.as_raw_fd() > 2);
    assert!(matches!(
        open_program(tmp.path()),
        Err(TrustError::NotAProgram { .. })
    ));
}

#[test]
fn the_main_file_is_not_told_to_switch_the_checks_off() {
    let e = TrustError::Writable {
        path: "/etc/x.toml".into(),
        who: "others",
        mode: 0o646,
        hint: Hint::OptOut,
    };
    assert!(e.to_string().contains("strict_permissions = false"), "{e}");
    let e = e.for_main_file().to_string();
    assert!(!e.contains("strict_permissions = false"), "{e}");
    assert!(
        e.ends_with("the main config file is checked whatever its `strict_permissions` says)"),
        "{e}"
    );
}

#[test]
fn a_missing_path_is_an_io_error_naming_it() {
    let e = check_path(Path::new("/nonexistent/x")).unwrap_err();
    assert!(matches!(e, TrustError::Io { .. }));
    assert!(e.to_string().contains("/nonexistent/x"), "{e}");
}
