//! Watching a folder, so that a change is acted on within seconds: a `files` probe's folder
//! (the probe runs again) and the configuration's folders (the daemon reloads).
//!
//! [`watch`] hands back a channel that receives `()` whenever the folder's relevant files may
//! have changed: a file created, written, renamed in or out, removed, or the folder itself
//! created, removed or replaced. Whoever holds the receiver works out what changed.
//!
//! A change is signalled as soon as its event arrives: nothing waits for a burst to end, so
//! that a single change is acted on within milliseconds. Bursts are coalesced instead: the
//! channel holds at most one pending message, and events that arrive while it is pending
//! fold into it. That is safe because the owner reads the folder only after taking the
//! message, so it sees every change made before. A burst during the owner's work thus costs
//! one more round of it, not one per event; holding rounds back for longer (while a push is
//! in flight, or for a moment after a run) is the owner's choice (src/daemon/held_wakes.rs).
//!
//! inotify (through `notify`) does the watching; where it cannot (no inotify, the watch limit
//! reached, a filesystem without events) the folder is polled instead. The folder does not
//! have to exist: its appearance is noticed by a cheap `stat` once a second, the same check
//! that notices it being removed or replaced by another directory. All of this runs on one
//! plain thread, so no async thread ever blocks on it; the thread ends soon after the
//! receiver is dropped.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self as std_mpsc, RecvTimeoutError};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Which file names matter to the watcher's owner (`*.json` documents, `*.toml` drop-ins);
/// events about other files (a writer's temporary file, an editor's backup) are ignored.
pub type NameFilter = fn(&std::ffi::OsStr) -> bool;

/// How often the folder's existence and identity are checked, and how soon a dropped
/// receiver is noticed.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Poll interval where inotify is not available.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Why a watch could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot start the thread watching {}: {source}", folder.display())]
    Thread {
        folder: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Watches `folder` and returns a receiver that gets `()` as soon as files `relevant_name`
/// accepts change in it; at most one message is pending at a time. Needs no async runtime.
/// Setting up inotify or polling cannot fail the call: problems are logged and the watch
/// degrades to the existence check.
pub fn watch(folder: &Path, relevant_name: NameFilter) -> Result<mpsc::Receiver<()>, WatchError> {
    let (tx, rx) = mpsc::channel(1);
    let (events_tx, events) = std_mpsc::channel();
    let mut state = State {
        folder: folder.to_owned(),
        relevant_name,
        tx,
        events_tx,
        events,
        seen: None,
        watcher: None,
    };
    // Armed before returning, so that every change after this call is seen.
    state.check_folder();
    std::thread::Builder::new()
        .name("ssm-inventoryd-watch".into())
        .spawn(move || state.run())
        .map_err(|source| WatchError::Thread {
            folder: folder.to_owned(),
            source,
        })?;
    Ok(rx)
}

struct State {
    folder: PathBuf,
    relevant_name: NameFilter,
    tx: mpsc::Sender<()>,
    events_tx: std_mpsc::Sender<notify::Result<Event>>,
    events: std_mpsc::Receiver<notify::Result<Event>>,
    /// The folder's (device, inode) when last looked at; `None` while it does not exist.
    seen: Option<(u64, u64)>,
    /// Kept alive while it watches the folder `seen` names.
    watcher: Option<Box<dyn Watcher + Send>>,
}

impl State {
    fn run(mut self) {
        loop {
            if self.tx.is_closed() {
                return;
            }
            match self.events.recv_timeout(CHECK_EVERY) {
                Ok(event) => {
                    if !relevant(&self.folder, &event, self.relevant_name) {
                        continue;
                    }
                    self.drain_queued();
                    self.check_folder();
                    self.signal();
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.check_folder() {
                        self.signal();
                    }
                }
                // Cannot happen while `events_tx` is held, but there is nothing left to do.
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Takes the events already queued behind the one being handled, without waiting for
    /// more: they happened before the signal about to be sent, which covers them, so a burst
    /// that arrives in one read of the kernel's queue costs one message. Only events queued
    /// *before* signalling may be dropped this way; one arriving after it may be newer than
    /// the owner's next read, and gets a message of its own.
    fn drain_queued(&mut self) {
        while self.events.try_recv().is_ok() {}
    }

    fn signal(&self) {
        // Full means a message is already waiting, which says the same thing.
        let _ = self.tx.try_send(());
    }

    /// Notices the folder appearing, disappearing or being replaced, and (re)arms the
    /// watcher on the directory now there. Returns whether anything changed.
    fn check_folder(&mut self) -> bool {
        let now = std::fs::metadata(&self.folder)
            .ok()
            .filter(std::fs::Metadata::is_dir)
            .map(|m| (m.dev(), m.ino()));
        if now == self.seen {
            return false;
        }
        self.seen = now;
        self.watcher = None;
        if now.is_some() {
            self.watcher = self.arm();
        }
        true
    }

    fn arm(&self) -> Option<Box<dyn Watcher + Send>> {
        let inotify =
            notify::RecommendedWatcher::new(self.events_tx.clone(), notify::Config::default())
                .and_then(|mut w| {
                    w.watch(&self.folder, RecursiveMode::NonRecursive)?;
                    Ok(w)
                });
        let inotify_error = match inotify {
            Ok(w) => return Some(Box::new(w)),
            Err(e) => e,
        };
        let config = notify::Config::default().with_poll_interval(POLL_INTERVAL);
        let polled = notify::PollWatcher::new(self.events_tx.clone(), config).and_then(|mut w| {
            w.watch(&self.folder, RecursiveMode::NonRecursive)?;
            Ok(w)
        });
        match polled {
            Ok(w) => {
                tracing::warn!(
                    "cannot watch {} with inotify ({inotify_error}); polling it every {}s instead",
                    self.folder.display(),
                    POLL_INTERVAL.as_secs()
                );
                Some(Box::new(w))
            }
            Err(e) => {
                tracing::warn!(
                    "cannot watch {} ({inotify_error}; polling: {e}); changes are seen at the probe's interval",
                    self.folder.display()
                );
                None
            }
        }
    }
}

/// Whether an event may change what the owner reads. Opening and reading (a probe's own scans
/// among them) do not; neither do files the owner ignores, such as a writer's temporary file
/// before its rename.
fn relevant(folder: &Path, event: &notify::Result<Event>, relevant_name: NameFilter) -> bool {
    let event = match event {
        Ok(event) => event,
        // Lost events (a queue overflow) mean anything may have changed.
        Err(_) => return true,
    };
    if event.need_rescan() {
        return true;
    }
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
        EventKind::Access(_) => return false,
        _ => {}
    }
    event.paths.is_empty()
        || event
            .paths
            .iter()
            .any(|p| p == folder || p.file_name().is_none_or(relevant_name))
}

/// Passes a watch's signals on to `to`, each as `message`, until `cancel` fires or the watch
/// ends: several watches (the probes' folders, the configuration's folders) feed one receiver
/// this way, `message` telling them apart where that matters. A signal waits for room in `to`
/// rather than being dropped: in a channel several watches share, a full channel may hold
/// only other watches' messages. Meanwhile the watch's own channel folds further signals.
pub fn forward<T>(
    mut changes: mpsc::Receiver<()>,
    to: mpsc::Sender<T>,
    message: T,
    cancel: CancellationToken,
) where
    T: Clone + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                change = changes.recv() => match change {
                    Some(()) => tokio::select! {
                        _ = cancel.cancelled() => return,
                        sent = to.send(message.clone()) => if sent.is_err() { return },
                    },
                    None => return,
                },
            }
        }
    });
}

#[cfg(test)]
mod tests;
