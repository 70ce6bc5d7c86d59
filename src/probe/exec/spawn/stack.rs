//! The stack the child of `clone(CLONE_VM | CLONE_VFORK)` runs on until its exec.

use std::io;
use std::sync::{Mutex, PoisonError};

use libc::c_void;

/// The child's stack. What runs on it is `spawn::child_main`, a few frames of raw system
/// calls; it is reserved, not committed (`MAP_NORESERVE`), and only the pages touched are
/// backed.
const CHILD_STACK_BYTES: usize = 256 * 1024;

/// A mapping for the child's stack, unmapped on drop.
pub(super) struct Stack {
    base: *mut c_void,
}

// SAFETY: the mapping belongs to this value alone; nothing else holds its address, and it is
// only used through the value, by whichever thread has it.
unsafe impl Send for Stack {}

/// One stack kept for the next run. Mapping and unmapping one per run cost two system calls
/// and, with the daemon's threads on other CPUs, a TLB shootdown of each at the unmapping
/// (with probes every second, visible in the idle daemon's profile: BENCHMARKS.md). Runs
/// that overlap map stacks of their own, which are unmapped when one is kept already. What
/// stays resident is the few pages a child touched before its exec.
static SPARE_STACK: Mutex<Option<Stack>> = Mutex::new(None);

impl Stack {
    /// The spare stack, or a new one.
    pub(super) fn take() -> io::Result<Stack> {
        let spare = SPARE_STACK
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        spare.map_or_else(Stack::new, Ok)
    }

    /// Keeps this stack for the next run unless one is kept already. Only for a stack no
    /// child runs on any more: with `CLONE_VFORK` that is once `clone` has returned.
    pub(super) fn give_back(self) {
        let mut spare = SPARE_STACK.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.is_none() {
            *spare = Some(self);
        }
    }

    fn new() -> io::Result<Stack> {
        // SAFETY: a new private anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                CHILD_STACK_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Stack { base })
    }

    /// The stack grows down: the child starts at the end of the mapping (page-aligned, so
    /// aligned as every ABI wants).
    pub(super) fn top(&self) -> *mut c_void {
        self.base.wrapping_byte_add(CHILD_STACK_BYTES)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours, of that size, and the child no longer runs on it (it
        // has exec'd or exited before clone returned).
        unsafe { libc::munmap(self.base, CHILD_STACK_BYTES) };
    }
}
