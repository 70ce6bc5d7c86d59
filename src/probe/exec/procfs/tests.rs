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
