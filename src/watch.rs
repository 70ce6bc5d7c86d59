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
//! inotify does the watching (`inotify`: asked for changes only, never for a file being opened
//! or read, and read by this module's thread); where it cannot (no inotify, the watch limit
//! reached, a filesystem without events) `notify`'s poller polls the folder instead. The folder
//! does not have to exist: its appearance is noticed by a cheap `stat` once a second, the same
//! check that notices it being removed or replaced by another directory. All of this runs on
//! one plain thread, so no async thread ever blocks on it.
//!
//! Every watch of the process shares that thread and one inotify instance: a daemon watches
//! three folders or more, and a thread of its own for each cost resident memory (stacks,
//! allocator arenas), a wake-up a second each, and a `/proc` read each at every look a probe
//! run takes at this process's children (BENCHMARKS.md, "Idle CPU and threads"). The thread
//! waits in `poll` on the inotify descriptor and on an eventfd that says its mailbox has mail.
//! It ends soon after the last receiver is dropped, and the next watch starts it again.

mod inotify;

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::inotify::{Inotify, Seen};

/// Which file names matter to the watcher's owner (`*.json` documents, `*.toml` drop-ins);
/// events about other files (a writer's temporary file, an editor's backup) are ignored.
pub type NameFilter = fn(&std::ffi::OsStr) -> bool;

/// How often the folders' existence and identity are checked, and how soon a dropped
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

/// What the shared thread receives: an event from a poller, or a folder to watch.
enum Message {
    Event(notify::Result<Event>),
    /// With where to say that its watch is armed.
    Watch(Box<Folder>, std_mpsc::SyncSender<()>),
}

/// The way messages reach the shared thread: the channel, and an eventfd written after each
/// message, which wakes the thread's `poll`.
#[derive(Clone)]
struct Mailbox {
    messages: std_mpsc::Sender<Message>,
    bell: Arc<OwnedFd>,
}

impl Mailbox {
    /// Fails only once the thread has ended.
    fn send(&self, message: Message) -> Result<(), ()> {
        self.messages.send(message).map_err(|_| ())?;
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from `one` to our eventfd. It cannot block (non-blocking) and
        // fails only when the counter is near overflow, when the thread is woken anyway.
        unsafe {
            libc::write(
                self.bell.as_raw_fd(),
                (&one as *const u64).cast::<libc::c_void>(),
                8,
            )
        };
        Ok(())
    }
}

/// A non-blocking eventfd, for [`Mailbox`].
fn bell() -> std::io::Result<OwnedFd> {
    // SAFETY: eventfd takes an initial count and flags; a non-negative result is a new
    // descriptor.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: just opened, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Hands a poller's events to the shared thread.
struct Forward(Mailbox);

impl notify::EventHandler for Forward {
    fn handle_event(&mut self, event: notify::Result<Event>) {
        // Fails only once the thread has ended, when nobody is left to tell.
        let _ = self.0.send(Message::Event(event));
    }
}

/// The way into the shared thread while it runs. The thread clears it, under this lock, when
/// it finds nothing left to watch and nothing queued, so a folder sent under the lock is
/// never lost to a thread on its way out.
/// Each start of the thread has its own number, so that a watch that found one thread dead
/// does not clear the way into the next.
static SHARED: Mutex<Option<(u64, Mailbox)>> = Mutex::new(None);
static STARTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Watches `folder` and returns a receiver that gets `()` as soon as files `relevant_name`
/// accepts change in it; at most one message is pending at a time. Needs no async runtime.
/// Setting up inotify or polling cannot fail the call: problems are logged and the watch
/// degrades to the existence check.
pub fn watch(folder: &Path, relevant_name: NameFilter) -> Result<mpsc::Receiver<()>, WatchError> {
    let (tx, rx) = mpsc::channel(1);
    let entry = Box::new(Folder {
        folder: folder.to_owned(),
        relevant_name,
        tx,
        seen: None,
        poller: None,
    });
    // A poisoned lock only means a panic elsewhere while it was held; the sender in it (or
    // its absence) is still what it was.
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    let (start, sender) = match shared.as_ref() {
        Some((start, sender)) => (*start, sender.clone()),
        None => {
            let (sender, messages) = std_mpsc::channel();
            let bell = bell().map_err(|source| WatchError::Thread {
                folder: folder.to_owned(),
                source,
            })?;
            let sender = Mailbox {
                messages: sender,
                bell: Arc::new(bell),
            };
            let mut state = State {
                messages,
                mailbox: sender.clone(),
                folders: Vec::new(),
                inotify: None,
                armed: HashMap::new(),
                last_check: Instant::now(),
            };
            // Armed before returning, so that every change after this call is seen.
            state.add(*entry);
            crate::helper_thread::spawn("ssm-inventoryd-watch", move || state.run()).map_err(
                |source| WatchError::Thread {
                    folder: folder.to_owned(),
                    source,
                },
            )?;
            let start = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            *shared = Some((start, sender));
            return Ok(rx);
        }
    };
    // Armed before returning, so that every change after this call is seen: the thread says
    // when it has. The lock is let go first, since a thread on its way out takes it.
    let (armed_tx, armed) = std_mpsc::sync_channel(1);
    let sent = sender.send(Message::Watch(entry, armed_tx));
    drop(shared);
    if sent.is_err() || armed.recv().is_err() {
        // The thread ended without clearing the way in (it panicked): start it anew.
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if shared.as_ref().is_some_and(|&(s, _)| s == start) {
            *shared = None;
        }
        drop(shared);
        return watch(folder, relevant_name);
    }
    Ok(rx)
}

/// One watched folder.
struct Folder {
    folder: PathBuf,
    relevant_name: NameFilter,
    tx: mpsc::Sender<()>,
    /// The folder's (device, inode) when last looked at; `None` while it does not exist.
    seen: Option<(u64, u64)>,
    /// Where inotify cannot watch it: a poller of its own, kept alive while it polls.
    poller: Option<notify::PollWatcher>,
}

impl Folder {
    fn signal(&self) {
        // Full means a message is already waiting, which says the same thing.
        let _ = self.tx.try_send(());
    }

    /// Whether `event` may be about this folder or a file in it.
    fn concerns(&self, event: &notify::Result<Event>) -> bool {
        match event {
            Ok(event) if !event.need_rescan() && !event.paths.is_empty() => event
                .paths
                .iter()
                .any(|p| p == &self.folder || p.parent() == Some(self.folder.as_path())),
            // Lost events, or an event about no path: anything may have changed.
            _ => true,
        }
    }
}

fn identity(folder: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(folder)
        .ok()
        .filter(std::fs::Metadata::is_dir)
        .map(|m| (m.dev(), m.ino()))
}

/// The shared thread's state.
struct State {
    messages: std_mpsc::Receiver<Message>,
    /// For the pollers' event handlers; its bell is what the thread waits on.
    mailbox: Mailbox,
    folders: Vec<Folder>,
    /// The one inotify instance, made at the first folder that exists. One that could not be
    /// made (no inotify, the instance limit reached) is not kept: the folders that wanted it
    /// are polled, and the next folder to watch tries anew.
    inotify: Option<Result<Inotify, String>>,
    /// The folders inotify watches, with the (device, inode) each was armed for.
    armed: HashMap<PathBuf, (u64, u64)>,
    last_check: Instant,
}

impl State {
    fn run(mut self) {
        loop {
            self.wait(CHECK_EVERY.saturating_sub(self.last_check.elapsed()));
            self.handle(None);
            if self.last_check.elapsed() >= CHECK_EVERY {
                self.last_check = Instant::now();
                self.folders.retain(|f| !f.tx.is_closed());
                let changed: Vec<usize> =
                    (0..self.folders.len()).filter(|&i| self.check(i)).collect();
                // Most seconds nothing changed and every watch is as it should be: then there
                // is nothing to rebuild.
                if !self.settled() {
                    self.rearm();
                }
                for i in changed {
                    self.folders[i].signal();
                }
                if self.folders.is_empty() && self.leave() {
                    return;
                }
            }
        }
    }

    /// Sleeps until a message or an inotify event arrives, or `timeout` passes.
    fn wait(&self, timeout: Duration) {
        let inotify = match &self.inotify {
            Some(Ok(inotify)) => inotify.raw_fd(),
            // poll skips a negative descriptor.
            _ => -1,
        };
        let mut fds = [
            libc::pollfd {
                fd: self.mailbox.bell.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: inotify,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // Rounded up, so that a wait of less than a millisecond does not spin.
        let ms = libc::c_int::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        // SAFETY: `fds` is valid for its two entries for the call. An error (EINTR) is only a
        // shorter wait: the loop looks at everything and waits again.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
    }

    /// Ends the thread if nothing is left to watch and nothing is on its way: says whether it
    /// may end.
    fn leave(&mut self) -> bool {
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        match self.messages.try_recv() {
            Ok(message) => {
                drop(shared);
                self.handle(Some(message));
                false
            }
            Err(_) => {
                *shared = None;
                true
            }
        }
    }

    /// Handles `first`, every message queued and every inotify event queued. The events
    /// taken together happened before the signals about to be sent, which cover them, so a
    /// burst that arrives in one look costs each folder one message. Only events queued
    /// *before* signalling are folded this way; one arriving after it may be newer than the
    /// owner's next read, and gets a message of its own.
    fn handle(&mut self, first: Option<Message>) {
        let mut rung = 0u64;
        // SAFETY: reads the eventfd's 8-byte counter into `rung`, resetting it; non-blocking,
        // so with nothing rung it fails with EAGAIN, which is fine.
        unsafe {
            libc::read(
                self.mailbox.bell.as_raw_fd(),
                (&mut rung as *mut u64).cast::<libc::c_void>(),
                8,
            )
        };
        let mut touched = HashSet::new();
        let mut next = first.or_else(|| self.messages.try_recv().ok());
        while let Some(message) = next {
            match message {
                Message::Event(event) => {
                    for (i, folder) in self.folders.iter().enumerate() {
                        if folder.concerns(&event)
                            && relevant(&folder.folder, &event, folder.relevant_name)
                        {
                            touched.insert(i);
                        }
                    }
                }
                Message::Watch(folder, armed) => {
                    self.add(*folder);
                    let _ = armed.send(());
                }
            }
            next = self.messages.try_recv().ok();
        }
        let mut seen = Vec::new();
        if let Some(Ok(inotify)) = self.inotify.as_mut()
            && let Err(error) = inotify.read(&mut seen)
        {
            tracing::warn!("cannot read the folders' change events: {error}");
            seen.push(Seen::Overflow);
        }
        for seen in seen {
            for (i, folder) in self.folders.iter().enumerate() {
                let concerned = match &seen {
                    Seen::Overflow => true,
                    Seen::Folder(path) => *path == folder.folder,
                    Seen::Name { folder: path, name } => {
                        *path == folder.folder && (folder.relevant_name)(name)
                    }
                };
                if concerned {
                    touched.insert(i);
                }
            }
        }
        if touched.is_empty() {
            return;
        }
        for &i in &touched {
            self.check(i);
        }
        self.rearm();
        for &i in &touched {
            self.folders[i].signal();
        }
    }

    /// Takes a folder over and arms its watch.
    fn add(&mut self, mut folder: Folder) {
        folder.seen = None;
        self.folders.push(folder);
        let last = self.folders.len() - 1;
        self.check(last);
        self.rearm();
    }

    /// Notices folder `i` appearing, disappearing or being replaced. Returns whether anything
    /// changed; [`State::rearm`] then points the watches at what is there now.
    fn check(&mut self, i: usize) -> bool {
        let folder = &mut self.folders[i];
        let now = identity(&folder.folder);
        if now == folder.seen {
            return false;
        }
        folder.seen = now;
        folder.poller = None;
        true
    }

    /// Whether inotify watches exactly what [`State::rearm`] would make it watch: each folder
    /// that exists and is not polled, as the directory last seen at its path, and nothing else.
    fn settled(&self) -> bool {
        let inotify = match &self.inotify {
            Some(Ok(inotify)) => Some(inotify),
            _ => None,
        };
        let wanted = |path: &Path| {
            self.folders
                .iter()
                .any(|f| f.folder == path && f.seen.is_some() && f.poller.is_none())
        };
        self.folders.iter().all(|f| match (f.seen, &f.poller) {
            (Some(id), None) => {
                self.armed.get(&f.folder) == Some(&id)
                    && inotify.is_some_and(|i| i.watches(&f.folder))
            }
            _ => true,
        }) && self.armed.keys().all(|path| wanted(path))
    }

    /// Makes inotify watch exactly the folders that exist and are not polled, each as the
    /// directory now at its path; a folder inotify cannot watch gets a poller.
    ///
    /// A watch no longer wanted as it is (its folder no longer watched, gone or replaced) is
    /// removed before its path is watched again: inotify watches a directory, not a path, and
    /// `notify` names a moved directory's events by the path it was watched at, so a
    /// directory moved away would otherwise go on being heard under its old name. Removing
    /// the watch by that path reaches the directory wherever it went.
    fn rearm(&mut self) {
        let mut wanted: HashMap<PathBuf, (u64, u64)> = HashMap::new();
        for folder in &self.folders {
            if let (Some(id), None) = (folder.seen, &folder.poller) {
                wanted.insert(folder.folder.clone(), id);
            }
        }
        // A watch the kernel ended (its directory deleted, its filesystem unmounted) is no
        // longer on record with inotify: it is stale too, and armed again if still wanted.
        let on_record = |path: &Path| matches!(&self.inotify, Some(Ok(i)) if i.watches(path));
        let stale: Vec<PathBuf> = self
            .armed
            .iter()
            .filter(|&(path, id)| wanted.get(path) != Some(id) || !on_record(path))
            .map(|(path, _)| path.clone())
            .collect();
        for path in stale {
            self.armed.remove(&path);
            if let Some(Ok(inotify)) = self.inotify.as_mut() {
                inotify.remove(&path);
            }
        }
        for (path, id) in wanted {
            if self.armed.contains_key(&path) {
                continue;
            }
            let inotify = self
                .inotify
                .get_or_insert_with(|| Inotify::new().map_err(|e| e.to_string()));
            let failed = match inotify {
                Ok(inotify) => match inotify.add(&path) {
                    Ok(()) => {
                        self.armed.insert(path, id);
                        continue;
                    }
                    Err(e) => e.to_string(),
                },
                Err(e) => std::mem::take(e),
            };
            if matches!(self.inotify, Some(Err(_))) {
                self.inotify = None;
            }
            for folder in self.folders.iter_mut().filter(|f| f.folder == path) {
                folder.poller = poll(&path, &self.mailbox, &failed);
            }
        }
    }
}

/// A poller for `folder`, where inotify cannot watch it (`inotify_error`): no inotify, the
/// watch limit reached, a filesystem without events.
fn poll(folder: &Path, mailbox: &Mailbox, inotify_error: &str) -> Option<notify::PollWatcher> {
    let config = notify::Config::default().with_poll_interval(POLL_INTERVAL);
    let polled = notify::PollWatcher::new(Forward(mailbox.clone()), config).and_then(|mut w| {
        w.watch(folder, RecursiveMode::NonRecursive)?;
        Ok(w)
    });
    match polled {
        Ok(w) => {
            tracing::warn!(
                "cannot watch {} with inotify ({inotify_error}); polling it every {}s instead",
                folder.display(),
                POLL_INTERVAL.as_secs()
            );
            Some(w)
        }
        Err(e) => {
            tracing::warn!(
                "cannot watch {} ({inotify_error}; polling: {e}); changes are seen at the probe's interval",
                folder.display()
            );
            None
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
