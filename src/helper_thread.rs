//! The daemon's own helper threads (the folder watch, the probes' lane), started with the
//! process's asynchronous signals blocked.
//!
//! A signal sent to the process goes to any thread that does not block it. The main thread
//! blocks every signal for the moment it starts a probe's program (see
//! `probe::exec::spawn`), and a probe's end (SIGCHLD) that came then went to a helper thread
//! asleep in `poll` or on a condition variable: woken to run the handler, which only hands
//! the signal to the main thread, and asleep again (BENCHMARKS.md, "Idle CPU: one thread for
//! the runs' blocking work"). With the signals blocked here they wait, pending, for the main
//! thread, which takes them as soon as its mask is back. Signals a thread raises by its own
//! fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS) are left as they are.

use std::io;
use std::thread::JoinHandle;

/// Starts `f` on a thread named `name` that leaves the process's signals to the main thread.
pub fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<JoinHandle<T>> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            block_process_signals();
            f()
        })
}

/// Blocks, on the calling thread, every signal but those of its own faults. A failure
/// leaves the mask as it was: the signals then come here as before, which costs wake-ups,
/// not correctness.
fn block_process_signals() {
    // SAFETY: an all-zero sigset_t is valid storage; sigfillset and sigdelset only write it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above; pthread_sigmask changes the calling thread's mask only.
    unsafe {
        libc::sigfillset(&mut set);
        for fault in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGILL,
            libc::SIGFPE,
            libc::SIGTRAP,
            libc::SIGSYS,
        ] {
            libc::sigdelset(&mut set, fault);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    /// The thread's mask has the process's signals, and not the faults.
    #[test]
    fn a_helper_thread_blocks_process_signals_and_not_faults() {
        let mask = super::spawn("test-helper", || {
            // SAFETY: an all-zero sigset_t is valid storage; with a null new set,
            // pthread_sigmask only reads the current mask into it.
            let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set) };
            // SAFETY: sigismember only reads the set.
            let has = |signal| unsafe { libc::sigismember(&set, signal) } == 1;
            (
                [
                    libc::SIGCHLD,
                    libc::SIGTERM,
                    libc::SIGHUP,
                    libc::SIGINT,
                    libc::SIGUSR1,
                ]
                .map(has),
                [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE].map(has),
            )
        })
        .unwrap()
        .join()
        .unwrap();
        assert_eq!(mask, ([true; 5], [false; 4]));
    }
}
