use super::*;
use crate::probe::exec::tests::spec;
use crate::probe::exec::{run, run_prepared};

#[tokio::test]
async fn working_dir_is_used_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(&["pwd"]);
    s.working_dir = Some(tmp.path().to_owned());
    let out = run(&s).await.unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        tmp.path().to_str().unwrap()
    );
    s.working_dir = Some(tmp.path().join("missing"));
    let e = run(&s).await.unwrap_err().to_string();
    assert!(e.contains("working_dir") && e.contains("missing"), "{e}");
}

#[tokio::test]
async fn a_missing_program_is_named() {
    let e = run(&spec(&["no-such-program-x"])).await.unwrap_err();
    assert!(matches!(e, ProbeError::ProgramNotFound { .. }), "{e}");
    assert!(e.to_string().contains("no-such-program-x"), "{e}");
    let e = run(&spec(&["/nonexistent/prog"])).await.unwrap_err();
    assert!(e.to_string().contains("/nonexistent/prog"), "{e}");
}

fn write_program(path: &Path, text: &str) {
    // Write a new file and rename it into place, as a swap by an attacker would.
    let new = path.with_extension("new");
    std::fs::write(&new, text).unwrap();
    std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&new, path).unwrap();
}

/// What runs is the file that was checked: a program replaced between the check and the
/// start (here by a rename, as a swapped link would do) is not the one that runs.
#[tokio::test]
async fn the_checked_file_runs_even_when_replaced_before_the_start() {
    if !trust::root_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let prog = tmp.path().join("prog");
    let s = spec(&[prog.to_str().unwrap(), "checked"]);
    let swapped = "#!/bin/sh\necho swapped\n";

    // A binary.
    std::fs::copy("/bin/echo", &prog).unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let prepared = prepare(&s).unwrap();
    write_program(&prog, swapped);
    assert_eq!(
        run_prepared(&s, prepared).await.unwrap().stdout,
        b"checked\n"
    );

    // A script, whose interpreter opens it by the descriptor's path after the exec.
    write_program(&prog, "#!/bin/sh\necho \"$1\" script\n");
    let prepared = prepare(&s).unwrap();
    write_program(&prog, swapped);
    assert_eq!(
        run_prepared(&s, prepared).await.unwrap().stdout,
        b"checked script\n"
    );
}

/// The program's own name is as configured; a script, run through its descriptor, sees
/// that descriptor's path as `$0`.
#[tokio::test]
async fn names_seen_by_a_checked_program() {
    if !trust::root_or_skip() {
        return;
    }
    let out = run(&spec(&["sh", "-c", "echo \"$0\""])).await.unwrap();
    assert_eq!(out.stdout, b"sh\n");
    let tmp = tempfile::tempdir().unwrap();
    let prog = tmp.path().join("probe.sh");
    write_program(&prog, "#!/bin/sh\necho \"$0\"\n");
    let out = run(&spec(&[prog.to_str().unwrap()])).await.unwrap();
    let zero = String::from_utf8(out.stdout).unwrap();
    assert!(zero.starts_with("/proc/self/fd/"), "{zero}");
}

/// As another user, through the descriptor, both a binary (`/bin/sh` of `shell = true`,
/// in `runs_as_another_user_when_root`) and a script run.
#[tokio::test]
async fn a_checked_script_runs_as_another_user() {
    let Some(nobody) = crate::probe::exec::tests::nobody_as_root(
        "needs root: the trust checks apply only to root",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let prog = tmp.path().join("probe.sh");
    write_program(&prog, "#!/bin/sh\nid -u\n");
    let mut s = spec(&[prog.to_str().unwrap()]);
    s.user = Some("nobody".into());
    let out = run(&s).await.unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{}\n", nobody.uid)
    );
}

/// A link in a sticky directory (like /run/lock) that its non-root owner could point
/// elsewhere after the check is refused, even though it leads to a trusted program.
#[tokio::test]
async fn a_link_not_owned_by_root_is_refused() {
    if !trust::root_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let link = tmp.path().join("echo");
    std::os::unix::fs::symlink("/bin/echo", &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
    let e = run(&spec(&[link.to_str().unwrap(), "{}"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("refusing to run its program")
            && e.contains(&format!(
                "{} is a symbolic link owned by uid 65534, not root",
                link.display()
            )),
        "{e}"
    );
}

#[tokio::test]
async fn untrusted_programs_are_refused_when_root() {
    if !trust::root_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let prog = tmp.path().join("probe.sh");
    std::fs::write(&prog, "#!/bin/sh\necho '{}'\n").unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o775)).unwrap();
    let mut s = spec(&[prog.to_str().unwrap()]);
    let e = run(&s).await.unwrap_err().to_string();
    assert!(
        e.contains("refusing to run its program") && e.contains("writable by its group"),
        "{e}"
    );
    s.strict_permissions = false;
    assert_eq!(run(&s).await.unwrap().stdout, b"{}\n");
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.strict_permissions = true;
    assert_eq!(run(&s).await.unwrap().stdout, b"{}\n");
}
