//! How the daemon keeps glibc's malloc from holding on to memory it no longer uses.
//!
//! A large item (a 10,000-row file) costs tens of MB while it is read, parsed, hashed and
//! sent, all of it freed afterwards; glibc keeps freed memory for reuse, in one arena per
//! thread that allocated, so without this the daemon stays at its high-water mark (measured
//! by `benches/footprint.sh`: 118 MB resident after such a push, still 118 MB after the file
//! was removed; 14 MB with this, see BENCHMARKS.md). Fewer arenas spread less, and
//! `malloc_trim` hands free pages back after each probe run and each push. No-ops with other C
//! libraries.

/// Content bytes below which a probe run or a push is not followed by a trim: what small
/// runs free is reused by the next one, and `malloc_trim` walks every arena each time.
pub const WORTH_TRIMMING: usize = 256 * 1024;

/// One malloc arena for every thread: the probes run on tokio's blocking threads, and each
/// arena keeps freed pages of its own; with one, the idle daemon's resident memory is 0.2 to
/// 0.4 MB lower than with two (BENCHMARKS.md, "Idle CPU and threads"), and an idle agent's
/// threads hardly ever allocate at once. Must run before any other thread starts: glibc
/// settles its limit the first time a thread needs an arena of its own, and a later
/// `mallopt` no longer changes it. `MALLOC_ARENA_MAX`, when set, is left to decide.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes a malloc tuning parameter; any value is accepted.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// Returns the free pages of every arena to the system.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory malloc holds free; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
