//! The peak memory of a `collect` run, as the kernel counts it: `ru_maxrss` from `wait4` on
//! the child, after this test process's own peak was set back to its current size.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Sets this process's peak RSS back to its current RSS and returns it, in kB, if `/proc`
/// allows. A child started with vfork, as std starts them, takes the peak of this process's
/// memory at its exec into its own `ru_maxrss`, so without this every figure would be at
/// least this process's own peak (the largest output it generated); with it, the figures
/// include at most what this returns.
pub fn reset_own_peak() -> Option<u64> {
    // Free pages first, so that what is left is this test's live memory.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory malloc holds free; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
    fs::write("/proc/self/clear_refs", "5").ok()?;
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// One `collect` run: its peak, its exit status, and where its stdout went.
pub struct Collected {
    /// kB, as Linux gives `ru_maxrss`.
    pub peak_kb: u64,
    pub exit: Option<i32>,
    /// Left to the caller, who may read a large output line by line.
    pub stdout_path: PathBuf,
    pub stderr: String,
}

/// Runs `ssm-inventoryd --config CONFIG collect`, its output in files under `dir`, and
/// reaps it with `wait4` for its own peak memory.
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which std's wait does not offer, for its rusage"
)]
pub fn collect_peak(config: &Path, dir: &Path) -> Collected {
    let (stdout_path, stderr_path) = (dir.join("stdout"), dir.join("stderr"));
    let child = Command::new(env!("CARGO_BIN_EXE_ssm-inventoryd"))
        .arg("--config")
        .arg(config)
        .arg("collect")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("stdout file"))
        .stderr(File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("run ssm-inventoryd");
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet reaped (`child` is never waited on); the pointers
    // are to live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    Collected {
        peak_kb: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        exit: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout_path,
        stderr: fs::read_to_string(&stderr_path).expect("read stderr"),
    }
}
