use super::*;

#[test]
fn an_outcome_from_before_the_signal_is_not_taken() {
    let dir = tempfile::tempdir().unwrap();
    // Ignore SIGHUP in this test process so the request's signal is harmless.
    // SAFETY: setting a signal disposition to SIG_IGN is always safe.
    unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
    let pid = std::process::id();
    record(
        dir.path(),
        &Outcome {
            pid,
            started_ns: monotonic_ns(),
            applied: true,
            message: "old".into(),
            fleet: false,
        },
    )
    .unwrap();
    let answer = {
        let dir = dir.path().to_path_buf();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            record(
                &dir,
                &Outcome {
                    pid,
                    started_ns: monotonic_ns(),
                    applied: false,
                    message: "bad key".into(),
                    fleet: false,
                },
            )
            .unwrap();
        })
    };
    let result = request(pid, dir.path(), Duration::from_secs(10));
    answer.join().unwrap();
    match result {
        Err(ReloadError::Refused(message)) => assert_eq!(message, "bad key"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_pid_file_names_the_daemon_and_a_fleet_request_is_taken_once() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_pid(dir.path()).unwrap_err();
    assert!(e.to_string().contains("is the daemon running?"), "{e}");
    write_pid(dir.path()).unwrap();
    assert_eq!(read_pid(dir.path()).unwrap(), std::process::id());
    std::fs::write(dir.path().join(PID_FILE), "x\n").unwrap();
    assert!(matches!(
        read_pid(dir.path()),
        Err(ReloadError::BadPid { .. })
    ));
    assert!(!take_fleet_request(dir.path()));
    std::fs::write(dir.path().join(FLEET_REQUEST_FILE), "").unwrap();
    assert!(take_fleet_request(dir.path()));
    assert!(!take_fleet_request(dir.path()));
}

#[test]
fn a_silent_daemon_times_out() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: as above.
    unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
    let e = request(std::process::id(), dir.path(), Duration::from_millis(100)).unwrap_err();
    assert!(matches!(e, ReloadError::Timeout { .. }), "{e}");
    let e = request(u32::MAX, dir.path(), Duration::from_millis(100)).unwrap_err();
    assert!(matches!(e, ReloadError::Gone { .. }), "{e}");
}
