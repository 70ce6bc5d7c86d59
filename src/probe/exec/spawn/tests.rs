use std::os::unix::fs::PermissionsExt;

use crate::probe::ProbeError;
use crate::probe::exec::prepare::prepare;
use crate::probe::exec::tests::{shell, spec};
use crate::probe::exec::{run, run_prepared};

/// The lines of `/proc/self/status` a probe saw, by name.
fn status_field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .trim()
        .to_string()
}

#[tokio::test]
async fn runs_as_another_user_when_root() {
    let Some(nobody) =
        crate::probe::exec::tests::nobody_as_root("needs root to run a probe as another user")
    else {
        return;
    };
    let mut s = shell("id -u; id -g");
    s.user = Some("nobody".into());
    let out = run(&s).await.unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{}\n{}\n", nobody.uid, nobody.gid)
    );
    s.user = Some("no-such-user-ssm-inventoryd".into());
    let e = run(&s).await.unwrap_err().to_string();
    assert!(
        e.contains("no-such-user-ssm-inventoryd") && e.contains("no such user"),
        "{e}"
    );
}

/// From root to another user the program keeps no capability, and has exactly the user's
/// ids and groups: real, effective and saved.
#[tokio::test]
async fn another_user_keeps_no_capability_nor_root_group() {
    let Some(nobody) =
        crate::probe::exec::tests::nobody_as_root("needs root to run a probe as another user")
    else {
        return;
    };
    let mut s = spec(&["cat", "/proc/self/status"]);
    s.user = Some("nobody".into());
    let status = String::from_utf8(run(&s).await.unwrap().stdout).unwrap();
    for caps in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(status_field(&status, caps), "0000000000000000", "{status}");
    }
    let uid = nobody.uid.to_string();
    let gid = nobody.gid.to_string();
    let ids = |name| {
        status_field(&status, name)
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("Uid"), [uid.as_str(); 4], "{status}");
    assert_eq!(ids("Gid"), [gid.as_str(); 4], "{status}");
    let mut groups: Vec<String> = nobody.groups.iter().map(|g| g.to_string()).collect();
    groups.sort();
    groups.dedup();
    let mut seen = ids("Groups");
    seen.sort();
    assert_eq!(seen, groups, "{status}");
}

/// The daemon ignores SIGPIPE (as every Rust program does) and the thread that starts a run
/// may have signals blocked; the program sees neither.
#[tokio::test]
async fn the_program_starts_with_no_signal_blocked_or_ignored() {
    // SAFETY: sigaction with a null new action only reads the current one.
    let sigpipe_ignored = unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == libc::SIG_IGN
    };
    assert!(sigpipe_ignored, "the test expects SIGPIPE ignored here");
    // Blocked on this thread, which (a current-thread runtime) is the one that starts it.
    // SAFETY: plain signal set operations on a local set and this thread's mask.
    let saved = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut saved: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::sigaddset(&mut set, libc::SIGTERM);
        assert_eq!(libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut saved), 0);
        saved
    };
    let out = run(&spec(&["cat", "/proc/self/status"])).await;
    // SAFETY: restores this thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &saved, std::ptr::null_mut()) };
    let status = String::from_utf8(out.unwrap().stdout).unwrap();
    assert_eq!(
        status_field(&status, "SigBlk"),
        "0000000000000000",
        "{status}"
    );
    assert_eq!(
        status_field(&status, "SigIgn"),
        "0000000000000000",
        "{status}"
    );
    assert_eq!(
        status_field(&status, "SigCgt"),
        "0000000000000000",
        "{status}"
    );
}

/// The program leads a session and a process group of its own.
#[tokio::test]
async fn the_program_leads_its_own_session() {
    let out = run(&spec(&["cat", "/proc/self/stat"])).await.unwrap();
    let stat = String::from_utf8(out.stdout).unwrap();
    let pid = stat.split_whitespace().next().unwrap().to_string();
    let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    // After the name: state, ppid, pgrp, session.
    assert_eq!((rest[2], rest[3]), (pid.as_str(), pid.as_str()), "{stat}");
    // SAFETY: getpid cannot fail.
    assert_eq!(rest[1], unsafe { libc::getpid() }.to_string(), "{stat}");
}

/// stdin, stdout and stderr, and (when the program was checked) its descriptor: nothing else
/// of the daemon's.
#[tokio::test]
async fn the_program_gets_no_other_descriptor() {
    // `ls` lists the shell's descriptors, which are the program's.
    let mut s = spec(&["sh", "-c", "ls /proc/$$/fd"]);
    s.strict_permissions = false;
    let out = run(&s).await.unwrap();
    assert_eq!(out.stdout, b"0\n1\n2\n");
    let out = run(&shell("readlink /proc/$$/fd/0")).await.unwrap();
    assert_eq!(out.stdout, b"/dev/null\n");
}

/// A program that cannot be executed is named with the system's reason, as before; the
/// child that tried leaves no zombie behind.
#[tokio::test]
async fn an_exec_failure_names_the_program_and_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let prog = tmp.path().join("prog");
    std::fs::write(&prog, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut s = spec(&[prog.to_str().unwrap()]);
    s.strict_permissions = false;
    // Gone between the checks and the start.
    let prepared = prepare(&s).unwrap();
    std::fs::remove_file(&prog).unwrap();
    let e = run_prepared(&s, prepared).await.unwrap_err();
    assert!(matches!(e, ProbeError::Spawn { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "probe `t`: cannot start `{}`: No such file or directory (os error 2)",
            prog.display()
        )
    );
    // Not executable by anyone: even root may not execute it.
    std::fs::write(&prog, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = run(&s).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "probe `t`: cannot start `{}`: Permission denied (os error 13)",
            prog.display()
        )
    );
}

/// A failure before the exec (here: the working directory is gone by then) says which step.
#[tokio::test]
async fn a_failed_step_before_the_exec_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dir");
    std::fs::create_dir(&dir).unwrap();
    let mut s = spec(&["true"]);
    s.working_dir = Some(dir.clone());
    let prepared = prepare(&s).unwrap();
    std::fs::remove_dir(&dir).unwrap();
    let e = run_prepared(&s, prepared).await.unwrap_err().to_string();
    assert!(
        e.starts_with("probe `t`: cannot start `")
            && e.ends_with(
                "`: entering the working directory: No such file or directory (os error 2)"
            ),
        "{e}"
    );
}

/// A script without `#!` runs with /bin/sh, as glibc's execvp has always run it.
#[tokio::test]
async fn a_script_without_an_interpreter_line_runs_with_bin_sh() {
    let tmp = tempfile::tempdir().unwrap();
    let prog = tmp.path().join("prog");
    std::fs::write(&prog, "echo \"plain $1\"\n").unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    for strict in [false, true] {
        let mut s = spec(&[prog.to_str().unwrap(), "script"]);
        s.strict_permissions = strict;
        let out = run(&s).await.unwrap();
        assert_eq!(
            out.stdout, b"plain script\n",
            "strict_permissions = {strict}"
        );
    }
}

/// Many runs at once from a multi-threaded runtime: each gets its own output and status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_keep_their_own_output_and_status() {
    let runs = (0..24).map(|i| {
        tokio::spawn(async move {
            let s = shell(&format!("echo {i}; exit $(( {i} % 3 ))"));
            (i, run(&s).await)
        })
    });
    for handle in runs {
        let (i, result) = handle.await.unwrap();
        match i % 3 {
            0 => assert_eq!(result.unwrap().stdout, format!("{i}\n").as_bytes()),
            code => {
                let e = result.unwrap_err().to_string();
                assert!(e.contains(&format!("exit status {code}")), "{e}");
            }
        }
    }
}
