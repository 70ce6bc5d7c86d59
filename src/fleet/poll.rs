//! The poller: fetches every parameter each `fleet_poll_interval` (plus the node's splay, and
//! longer while Parameter Store throttles: see [`super::interval`]), validates what is new
//! together with the local files, stores what passes and asks for it to be applied, and
//! records what does not.
//!
//! It decides and stores, but does not apply: applying is a reload, which only the daemon
//! does (it owns the probes). So a new version is written to the store first and the daemon
//! is then sent [`Event::Apply`]; its reload reads the store like a restart would, which keeps
//! "what a restart runs" and "what a reload runs" the same thing.
//!
//! Each new version is tried on its own on top of what already passed, in `fleet_config`
//! order, so one broken parameter never holds back another's good version. A refused version
//! is tried again at every poll (a local change may have resolved a clash) but reported only
//! when its reason changes.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::decide::{Node, Unstored, decide};
use super::fetch::{FetchError, Fetched, ParameterSource, fetch_all};
use super::interval::PollInterval;
use super::store;
use crate::clock::Clock;
use crate::config::ParameterVersion;

/// What the poller needs to know about the node.
#[derive(Debug, Clone)]
pub struct PollOptions {
    /// The main configuration file, read again for each validation.
    pub config_path: PathBuf,
    pub state_dir: PathBuf,
    /// `[agent] fleet_config`, in order.
    pub parameters: Vec<String>,
    pub interval: Duration,
    /// `[agent] splay`: the node's place in it delays every poll, so a fleet does not call
    /// GetParameters in the same second.
    pub splay: Duration,
    /// Dates the stored versions and refusals: the daemon's clock.
    pub clock: Clock,
}

impl PollOptions {
    /// What deciding on a poll's versions needs of these options.
    fn node(&self) -> Node {
        Node {
            config_path: self.config_path.clone(),
            state_dir: self.state_dir.clone(),
            parameters: self.parameters.clone(),
        }
    }
}

/// Where and as whom to fetch: available once the node's identity is known.
#[derive(Debug, Clone)]
pub struct Connection<S> {
    pub source: S,
    pub instance_id: String,
}

/// What the daemon hears from the poller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// These versions passed and are stored: reload to run them. Those in `unstored` passed
    /// but could not be written to the store: the daemon runs them from memory and writes
    /// them again until the store takes them.
    Apply {
        versions: Vec<ParameterVersion>,
        unstored: Vec<Unstored>,
    },
    /// The parameters that cannot be used right now, each with one line saying why (a refused
    /// version, a missing permission, …); sent whenever this changes, empty when all is well.
    Problems(BTreeMap<String, String>),
    /// The answer to a [`PollNow`], sent after the poll's own events.
    PolledNow { started_ns: u64, answer: PolledNow },
}

/// `reload --fleet`: poll now rather than at the next deadline. The daemon's monotonic time
/// when it was asked comes back with the answer, for the reload handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollNow {
    pub started_ns: u64,
}

/// The answer to a [`PollNow`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolledNow {
    /// Not polled, and why (the node's identity is not known yet, or Parameter Store's
    /// throttling has lengthened the interval and polling now would add to it).
    NotPolled(String),
    /// Polled: the versions it stored for the daemon to apply (sent as [`Event::Apply`]
    /// before this), and what keeps any parameter from being used, empty when nothing does.
    Polled {
        applied: Vec<ParameterVersion>,
        problems: BTreeMap<String, String>,
    },
}

/// Fetches, decides and reports until `cancel` fires. Waits for a connection first (the node
/// may not know its identity yet); the first poll comes after the node's splay only. A
/// [`PollNow`] polls at once, unless throttling has lengthened the interval: it is a poll
/// like any other for the interval, so it may not be used to poll faster than the backoff.
pub async fn run<S: ParameterSource + Clone>(
    options: PollOptions,
    mut connection: watch::Receiver<Option<Connection<S>>>,
    events: mpsc::Sender<Event>,
    mut requests: mpsc::Receiver<PollNow>,
    cancel: CancellationToken,
) {
    let mut poller = Poller::new(options.clone());
    let mut interval = PollInterval::new(options.interval);
    // Before the first poll, only the splay.
    let mut next_wait = Duration::ZERO;
    loop {
        let current = loop {
            // The connection is cloned inside `select!`: its guard may not live across the
            // await of an answer.
            let request = tokio::select! {
                _ = cancel.cancelled() => return,
                ready = connection.wait_for(Option::is_some) => {
                    match ready.map(|current| current.clone()) {
                        Ok(current) => break current,
                        // The daemon is gone.
                        Err(_) => return,
                    }
                }
                Some(request) = requests.recv() => request,
            };
            let answer = PolledNow::NotPolled(
                "not fetched: the node's identity is not known yet".to_owned(),
            );
            if !answer_request(&events, request, answer).await {
                return;
            }
        };
        let Some(current) = current else {
            continue;
        };
        let wait = next_wait + crate::splay::fleet_splay(&current.instance_id, options.splay);
        let deadline = tokio::time::Instant::now() + wait;
        let asked = loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(deadline) => break None,
                Some(request) = requests.recv() => {
                    if !interval.backed_off() {
                        break Some(request);
                    }
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    let answer = PolledNow::NotPolled(format!(
                        "not fetched: Parameter Store throttled this node's recent polls, so its \
                         poll interval is lengthened to {} (configured {}); the next poll is in \
                         {}, and polling sooner would add to the throttling",
                        humantime::format_duration(round_to_seconds(interval.current())),
                        humantime::format_duration(options.interval),
                        humantime::format_duration(round_to_seconds(left)),
                    ));
                    if !answer_request(&events, request, answer).await {
                        return;
                    }
                }
            }
        };
        // The newest connection: a reload may have changed the identity while waiting.
        let source = match connection.borrow().as_ref() {
            Some(c) => c.source.clone(),
            None => continue,
        };
        // A GetParameters attempt may take up to the client's attempt timeout; a poller that
        // was replaced (a reload changed what it polls) must not report after it.
        let said = tokio::select! {
            _ = cancel.cancelled() => return,
            said = poller.poll(&source) => said,
        };
        let was_backed_off = interval.backed_off();
        next_wait = interval.after_poll(poller.was_busy(), rand::random::<f64>());
        if poller.was_busy() {
            tracing::warn!(
                "fleet: Parameter Store is throttling or failing; the next poll is in {} \
                 (the interval is lengthened up to {} until polls go through again)",
                humantime::format_duration(round_to_seconds(next_wait)),
                humantime::format_duration(interval.cap())
            );
        } else if was_backed_off && !interval.backed_off() {
            tracing::info!(
                "fleet: polls go through again; back to the configured interval of {}",
                humantime::format_duration(options.interval)
            );
        }
        let applied = said
            .iter()
            .find_map(|event| match event {
                Event::Apply { versions, .. } => Some(versions.clone()),
                Event::Problems(_) | Event::PolledNow { .. } => None,
            })
            .unwrap_or_default();
        for event in said {
            if events.send(event).await.is_err() {
                return;
            }
        }
        if let Some(request) = asked {
            let answer = PolledNow::Polled {
                applied,
                problems: poller.problems.clone().unwrap_or_default(),
            };
            if !answer_request(&events, request, answer).await {
                return;
            }
        }
    }
}

/// Sends the answer to `request`; `false` when the daemon is gone.
async fn answer_request(events: &mpsc::Sender<Event>, request: PollNow, answer: PolledNow) -> bool {
    events
        .send(Event::PolledNow {
            started_ns: request.started_ns,
            answer,
        })
        .await
        .is_ok()
}

/// A wait as an operator reads it: whole seconds, once it is longer than one.
fn round_to_seconds(wait: Duration) -> Duration {
    if wait < Duration::from_secs(1) {
        wait
    } else {
        Duration::from_secs(wait.as_secs())
    }
}

/// The memory of a poller between polls: what was last said, so nothing is said twice.
pub struct Poller {
    options: PollOptions,
    /// Per parameter, the last line logged about it.
    logged: HashMap<String, String>,
    /// The problems last sent, `None` before the first poll.
    problems: Option<BTreeMap<String, String>>,
    /// Whether Parameter Store said it was overloaded (throttling, 5xx) during the last poll.
    busy: bool,
    /// Versions that passed but could not be stored: they count as stored when deciding, so
    /// that a version the daemon runs from memory is not applied again at every poll.
    held: Vec<store::Stored>,
    /// The store's write errors (refusals, problems) already logged: each is told once.
    warned: std::collections::HashSet<String>,
}

impl Poller {
    pub fn new(options: PollOptions) -> Poller {
        Poller {
            options,
            logged: HashMap::new(),
            problems: None,
            busy: false,
            held: Vec::new(),
            warned: std::collections::HashSet::new(),
        }
    }

    /// Whether Parameter Store throttled (or failed with a 5xx) any call of the last poll:
    /// what lengthens the interval before the next one.
    pub fn was_busy(&self) -> bool {
        self.busy
    }

    /// One round: fetch every parameter, decide, log, and return what to tell the daemon.
    pub async fn poll<S: ParameterSource>(&mut self, source: &S) -> Vec<Event> {
        let mut fetched: Vec<Fetched> = Vec::new();
        let mut problems: BTreeMap<String, String> = BTreeMap::new();
        self.busy = false;
        for (name, answer) in fetch_all(source, &self.options.parameters).await {
            match answer {
                Ok(f) => fetched.push(f),
                Err(e) => {
                    self.busy |= e.is_busy();
                    self.log_fetch_error(&name, &e);
                    problems.insert(name, e.to_string());
                }
            }
        }
        let node = self.options.node();
        let now = self.options.clock.now_utc();
        // Reading and writing the store and the configuration files: off the async threads.
        let held = self.held.clone();
        let decision =
            tokio::task::spawn_blocking(move || decide(&node, fetched, &held, now)).await;
        let decision = match decision {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(
                    "fleet: deciding on the fetched parameters stopped unexpectedly: {e}"
                );
                return Vec::new();
            }
        };
        for refusal in &decision.refused {
            let (name, line) = (&refusal.name, refusal.line());
            if self.logged.get(name) != Some(&line) {
                tracing::error!(parameter = %name, version = refusal.version, "{line}");
                self.logged.insert(name.clone(), line.clone());
            }
            problems.insert(name.clone(), line);
        }
        for left_out in &decision.left_out {
            // Logged by the load that left it out; here it only stays visible.
            problems
                .entry(left_out.name.clone())
                .or_insert_with(|| left_out.line());
        }
        for applied in &decision.applied {
            tracing::info!(
                parameter = %applied.name,
                version = applied.version,
                "parameter {} version {} passed validation; applying it",
                applied.name,
                applied.version
            );
            self.logged.remove(&applied.name);
            self.held.retain(|h| h.name != applied.name);
        }
        // The daemon tells the operator, once, that the store cannot be written.
        for unstored in &decision.unstored {
            tracing::debug!(parameter = %unstored.version.name, "{}", unstored.error);
            self.held.push(unstored.version.clone());
        }
        let mut write_errors = decision.write_errors;
        for name in &self.options.parameters {
            if !problems.contains_key(name) {
                self.logged.remove(name);
            }
        }
        let mut events = Vec::new();
        if !decision.applied.is_empty() {
            events.push(Event::Apply {
                versions: decision.applied,
                unstored: decision.unstored,
            });
        }
        if self.problems.as_ref() != Some(&problems) {
            self.problems = Some(problems.clone());
            let dir = self.options.state_dir.clone();
            let saved = problems.clone();
            match tokio::task::spawn_blocking(move || store::save_problems(&dir, &saved)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => write_errors.push(e.to_string()),
                Err(e) => tracing::warn!("saving the fleet problems stopped unexpectedly: {e}"),
            }
            events.push(Event::Problems(problems));
        }
        self.warn_once(write_errors);
        events
    }

    /// Logs each of `errors` (the store refusing a refusal or the problems) the first time;
    /// one told before and not seen at this poll may be told again later.
    fn warn_once(&mut self, errors: Vec<String>) {
        if errors.is_empty() {
            self.warned.clear();
            return;
        }
        for error in errors {
            if self.warned.insert(error.clone()) {
                tracing::warn!(
                    "{error}; `status` may show an older picture of the fleet parameters until it can be written"
                );
            } else {
                tracing::debug!("{error}");
            }
        }
    }

    fn log_fetch_error(&mut self, name: &str, error: &FetchError) {
        let line = error.to_string();
        if self.logged.get(name) == Some(&line) {
            tracing::debug!("{line}");
            return;
        }
        if error.is_transient() {
            tracing::warn!(parameter = %name, "{line}; trying again at the next poll");
        } else {
            tracing::error!(
                parameter = %name,
                "{line}; the local configuration (and the last good version, if any) keeps running"
            );
        }
        self.logged.insert(name.to_owned(), line);
    }
}

#[cfg(test)]
mod tests;
