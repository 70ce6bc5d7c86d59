//! A started program: waited for through SIGCHLD, killed, and never left a zombie.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::net::unix::pipe::Receiver;
use tokio::signal::unix::Signal;

/// How often a wait looks again when the runtime cannot tell it about SIGCHLD.
const WAIT_POLL: Duration = Duration::from_millis(20);

/// A started program: its pid until it is reaped, and the daemon's ends of its stdout and
/// stderr. Dropped before it has been reaped, it is killed (SIGKILL) and reaped aside.
#[derive(Debug)]
pub(in crate::probe::exec) struct Child {
    pid: libc::pid_t,
    status: Option<ExitStatus>,
    /// Wakes [`Child::wait`] when a child of this process changes state.
    sigchld: Option<Signal>,
    pub(in crate::probe::exec) stdout: Option<Receiver>,
    pub(in crate::probe::exec) stderr: Option<Receiver>,
}

impl Child {
    /// A program `spawn` has started and seen through its exec.
    pub(super) fn started(
        pid: libc::pid_t,
        sigchld: Option<Signal>,
        stdout: Receiver,
        stderr: Receiver,
    ) -> Child {
        Child {
            pid,
            status: None,
            sigchld,
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    /// The pid, until the program has been reaped (then it may be another process's).
    pub(in crate::probe::exec) fn id(&self) -> Option<u32> {
        match self.status {
            None => u32::try_from(self.pid).ok(),
            Some(_) => None,
        }
    }

    /// Reaps the program if it has ended.
    pub(in crate::probe::exec) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let mut raw = 0;
        loop {
            // SAFETY: waits, without blocking, for this one child of ours, not yet reaped.
            let got = unsafe { libc::waitpid(self.pid, &mut raw, libc::WNOHANG) };
            if got == self.pid {
                let status = ExitStatus::from_raw(raw);
                self.status = Some(status);
                return Ok(Some(status));
            }
            if got == 0 {
                return Ok(None);
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }

    /// Waits for the program to end, woken by SIGCHLD (any child's: each wait looks at its
    /// own pid only).
    pub(in crate::probe::exec) async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            match self.sigchld.as_mut() {
                Some(signal) => {
                    if signal.recv().await.is_none() {
                        self.sigchld = None;
                    }
                }
                None => tokio::time::sleep(WAIT_POLL).await,
            }
        }
    }

    /// Sends SIGKILL to the program unless it has been reaped.
    pub(in crate::probe::exec) fn start_kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        // SAFETY: kill only sends a signal; the pid is an unreaped child of ours, so it is
        // still the program.
        if unsafe { libc::kill(self.pid, libc::SIGKILL) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Child {
    /// A program that was never reaped (its run gave up waiting for it) is killed and, if it
    /// has not ended yet, reaped by a thread of its own once it does: no zombie is left.
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        let _ = self.start_kill();
        if matches!(self.try_wait(), Ok(None)) {
            let pid = self.pid;
            let reaper = std::thread::Builder::new()
                .name("probe-reaper".into())
                .spawn(move || {
                    let mut status = 0;
                    // SAFETY: waits for this one child of ours, whose `Child` is gone, so
                    // nothing else waits for it.
                    while unsafe { libc::waitpid(pid, &mut status, 0) } == -1
                        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
                    {
                    }
                });
            if let Err(error) = reaper {
                tracing::warn!(
                    pid,
                    "cannot start a thread to reap a killed probe program: {error}"
                );
            }
        }
    }
}
