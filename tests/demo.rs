//! The README's first command: `ssm-inventoryd demo` pushes the embedded example to an
//! in-process emulator twice and reports that the second push sent nothing.

use std::os::unix::process::CommandExt;
use std::process::Command;

#[test]
fn demo_reports_two_cycles_and_exits_zero() {
    let workdir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ssm-inventoryd"));
    // A permissive umask must not make the demo's own files untrusted.
    // SAFETY: umask is async-signal-safe and touches only the child.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0o002);
            Ok(())
        });
    }
    let output = command
        .arg("demo")
        // The demo must not depend on the working directory or the caller's AWS setup.
        .current_dir(workdir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let cycle = |n: u32| -> String {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("cycle {n}:")))
            .unwrap_or_else(|| panic!("no cycle {n} line in:\n{stdout}"))
            .to_string()
    };
    let first = cycle(1);
    assert!(first.contains("the emulator received 1 request"), "{first}");
    assert!(!first.contains(" 0 sent in full"), "{first}");
    let second = cycle(2);
    assert!(second.contains("0 sent in full"), "{second}");
    assert!(second.contains("received 0 requests (0 bytes)"), "{second}");
    assert!(stdout.contains("Custom:StageInfo"), "{stdout}");
    assert!(stdout.contains("The second cycle sent nothing"), "{stdout}");
}
