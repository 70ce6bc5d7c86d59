//! For unit tests that need a process of their own: one that has no child but those it
//! starts, or that changes its mount or network namespace. The test binary is run again
//! with that one test selected, under a wrapper such as `unshare --net`, and the outer run
//! passes when the inner one does.

/// Set, in the inner run, to the name of the test it runs.
const ALONE: &str = "SSM_INVENTORYD_TEST_ALONE";

/// Whether this is the inner run of test `name`, which then goes on with the test's body.
/// Otherwise runs it (`wrapper` first, when given: the program and its arguments, with the
/// test binary after them) and fails when the inner run fails or does not run the test.
#[track_caller]
pub fn inside(name: &str, wrapper: &[&str]) -> bool {
    if std::env::var(ALONE).as_deref() == Ok(name) {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let (program, before) = match wrapper.split_first() {
        Some((program, rest)) => (std::path::PathBuf::from(program), rest),
        None => (exe.clone(), &[][..]),
    };
    let mut command = std::process::Command::new(program);
    command.args(before);
    if !wrapper.is_empty() {
        command.arg(&exe);
    }
    let out = command
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(ALONE, name)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name} alone: {text}{errors}");
    assert!(
        text.contains("1 passed"),
        "{name} alone did not run: {text}{errors}"
    );
    false
}

/// [`inside`] in namespaces of the test's own: the test run again under `unshare(1)` with
/// `namespaces` (`--net`, …) and a mount namespace with private propagation, so that what it
/// mounts or adds stays there. The outer run skips (see `crate::skip`, which fails instead
/// where root is required) without root, without `unshare`, or without what `needs` names
/// (whether it is there, and its name).
#[track_caller]
pub fn inside_namespaces(name: &str, namespaces: &[&str], needs: &[(bool, &str)]) -> bool {
    let unshare = ["/usr/bin/unshare", "/bin/unshare"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists());
    let missing: Vec<&str> = std::iter::once((unshare.is_some(), "unshare(1)"))
        .chain(needs.iter().copied())
        .filter(|&(present, _)| !present)
        .map(|(_, what)| what)
        .collect();
    if std::env::var(ALONE).as_deref() != Ok(name)
        && (!crate::skip::as_root("needs root for namespaces of its own")
            || !crate::skip::can_run(
                missing.is_empty(),
                crate::skip::ROOT,
                &format!("needs {}", missing.join(" and ")),
            ))
    {
        return false;
    }
    let mut wrapper = vec![unshare.unwrap_or("unshare")];
    wrapper.extend_from_slice(namespaces);
    wrapper.extend_from_slice(&["--mount", "--propagation", "private"]);
    inside(name, &wrapper)
}
