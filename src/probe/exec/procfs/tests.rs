use std::time::Duration;

use super::*;

/// What a stopping run goes by: this process's children, the parent in their `stat`, the
/// run token in their environment.
#[test]
fn a_child_is_found_with_its_parent_and_its_run_token() {
    let mut marked = std::process::Command::new("sleep")
        .arg("30")
        .env(RUN_VARIABLE, "42.7")
        .spawn()
        .unwrap();
    let mut unmarked = std::process::Command::new("sleep")
        .arg("30")
        .env_remove(RUN_VARIABLE)
        .spawn()
        .unwrap();
    let pid = |child: &std::process::Child| libc::pid_t::try_from(child.id()).unwrap();
    // The parent goes on before the new program's environment is in place.
    let token = |child: &std::process::Child| {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match run_token(pid(child)) {
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                read => break read.ok().flatten(),
            }
        }
    };
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() };
    let found = (
        children().contains(&pid(&marked)),
        parent_of(pid(&marked)),
        token(&marked),
        token(&unmarked),
    );
    for child in [&mut marked, &mut unmarked] {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(found, (true, Some(me), Some("42.7".to_string()), None));
}

/// A process with no child is told so, without a `/proc` read; one with a running child or a
/// zombie is not. Run in a process of its own, since the other tests of this one start
/// children at any time.
#[test]
fn no_child_is_told_apart_from_a_running_one_and_a_zombie() {
    if !crate::test_alone::inside(
        "probe::exec::procfs::tests::no_child_is_told_apart_from_a_running_one_and_a_zombie",
        &[],
    ) {
        return;
    }
    let before = (has_children(), children());
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let running = (has_children(), children());
    child.kill().unwrap();
    // A zombie until reaped: wait for it to be one without reaping it.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !is_zombie(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let zombie = (is_zombie(pid), has_children(), children());
    child.wait().unwrap();
    let after = (has_children(), children());
    assert_eq!(before, (false, vec![]));
    assert_eq!(running, (true, vec![pid]));
    assert_eq!(zombie, (true, true, vec![pid]));
    assert_eq!(after, (false, vec![]));
}
