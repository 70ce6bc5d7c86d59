//! Reading the program's stdout and stderr while waiting for it: stdout up to
//! `max_output_bytes` (over it the run ends at once), a few KiB of stderr for messages, and
//! the short drain period for children that still hold stdout after the program exits.

use std::future::Future;
use std::process::ExitStatus;
use std::time::Duration;

use bytes::BufMut;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use super::spawn::Child;

/// Stderr kept for the log line and the error message; the rest is read and dropped.
pub(super) const STDERR_KEEP_BYTES: usize = 4 * 1024;
/// How much of a failed run's stdout its error shows when stderr is empty.
const STDOUT_HEAD_BYTES: usize = 512;
/// How long children may keep stdout open after the program itself has exited.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);
/// The most room reserved for one read of a pipe (a pipe holds 64 KiB by default).
const READ_CHUNK: usize = 64 * 1024;
/// The room the first read gets: most probes print a few hundred bytes.
const FIRST_CHUNK: usize = 4 * 1024;
/// The buffer that bytes past the cap are read into and dropped from.
const SCRATCH_BYTES: usize = 16 * 1024;

/// How the program's run ended, short of the timeout.
pub(super) enum Ended {
    /// It exited and its stdout reached end of file.
    Exited(std::io::Result<ExitStatus>),
    /// It printed more than the cap.
    TooLarge,
    /// It exited, but something it started kept stdout open past the drain period.
    HeldOpen,
}

/// Waits for the program to exit and both pipes to close, whichever order they come in.
/// Stdout over the cap ends the run at once; after the exit, children get
/// [`DRAIN_AFTER_EXIT`] to finish writing.
pub(super) async fn drive(
    child: &mut Child,
    stdout_done: impl Future<Output = bool>,
    stderr_done: impl Future<Output = bool>,
) -> Ended {
    tokio::pin!(stdout_done, stderr_done);
    let mut status: Option<std::io::Result<ExitStatus>> = None;
    let mut out_closed = false;
    let mut err_closed = false;
    let mut drain_until: Option<Instant> = None;
    loop {
        if out_closed && err_closed && status.is_some() {
            break;
        }
        let drain_deadline = drain_until.unwrap_or_else(Instant::now);
        // Biased, the deadline last: when the runtime comes back late (its threads were busy)
        // to a closed stdout and a passed deadline at once, the end of file counts, not the
        // deadline; the drain period is for children that keep stdout open, not for a reader
        // that was slow to look.
        tokio::select! {
            biased;
            exited = child.wait(), if status.is_none() => {
                status = Some(exited);
                drain_until = Some(Instant::now() + DRAIN_AFTER_EXIT);
            }
            over = &mut stdout_done, if !out_closed => {
                if over {
                    return Ended::TooLarge;
                }
                out_closed = true;
            }
            _ = &mut stderr_done, if !err_closed => err_closed = true,
            () = tokio::time::sleep_until(drain_deadline), if drain_until.is_some() => {
                if !out_closed {
                    return Ended::HeldOpen;
                }
                // Only stderr is held open: what was read of it is enough for the log.
                break;
            }
        }
    }
    match status {
        Some(status) => Ended::Exited(status),
        // The loop only ends with a status, but say something sensible regardless.
        None => Ended::Exited(Err(std::io::Error::other(
            "the program's status is unknown",
        ))),
    }
}

/// Bytes read from one pipe, at most a cap of them.
#[derive(Debug, Default)]
pub(super) struct Capped {
    pub(super) bytes: Vec<u8>,
    /// Everything read, kept or not.
    total: usize,
}

impl Capped {
    /// Stderr for messages: lossy UTF-8, trimmed, with a note when it was cut.
    pub(super) fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes).trim().to_string();
        if self.total > self.bytes.len() {
            format!(
                "{text} … ({} more bytes not shown)",
                self.total - self.bytes.len()
            )
        } else {
            text
        }
    }
}

/// Reads `reader` to its end into `into`, keeping at most `cap` bytes. With `stop_at_cap`
/// it returns `true` as soon as more than `cap` bytes arrive (the run is then killed);
/// otherwise it drains the rest so the writer never blocks on a full pipe, and returns
/// whether anything was dropped.
///
/// Reads go straight into the spare room of `into`, not through a zeroed buffer of their own:
/// with probes every second, zeroing and freeing a 64 KiB buffer for each pipe of each run
/// showed in the daemon's idle profile (BENCHMARKS.md). Room is added only when none is left:
/// [`FIRST_CHUNK`] at first, then at least as much as is held (up to [`READ_CHUNK`] at a
/// time, never asked past the cap). Reserving a whole chunk before every read made even a few
/// bytes of output a 128 KiB buffer (the read that finds the end of file wanted room too),
/// and the copy, the fresh pages and the heap given back and taken again at each run showed
/// in the same profile. Only bytes past the cap, read to be counted and dropped, go through a
/// scratch buffer, made when first needed.
pub(super) async fn read_into(
    mut reader: impl AsyncRead + Unpin,
    cap: usize,
    stop_at_cap: bool,
    into: &mut Capped,
) -> bool {
    let mut scratch = Vec::new();
    loop {
        let room = cap.saturating_sub(into.bytes.len());
        let read = if room > 0 {
            if into.bytes.len() == into.bytes.capacity() {
                let more = into.bytes.len().clamp(FIRST_CHUNK, READ_CHUNK);
                into.bytes.reserve(more.min(room));
            }
            reader.read_buf(&mut (&mut into.bytes).limit(room)).await
        } else {
            if scratch.is_empty() {
                scratch = vec![0u8; SCRATCH_BYTES];
            }
            reader.read(&mut scratch).await
        };
        match read {
            Ok(0) | Err(_) => return into.total > cap,
            Ok(n) => {
                into.total = into.total.saturating_add(n);
                if stop_at_cap && into.total > cap {
                    return true;
                }
            }
        }
    }
}

/// The start of a failed run's stdout, for its error message: lossy UTF-8, trimmed, cut on a
/// character boundary, saying so when cut.
pub(super) fn head_of(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(&stdout[..stdout.len().min(STDOUT_HEAD_BYTES)]);
    let text = text.trim_end_matches('\u{fffd}').trim();
    if stdout.len() > STDOUT_HEAD_BYTES {
        format!(
            "{text} … ({} more bytes not shown)",
            stdout.len() - STDOUT_HEAD_BYTES
        )
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests;
