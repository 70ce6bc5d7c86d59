//! The daemon's handle on the poller: starts it when the configuration names parameters,
//! restarts it when a reload changes what or how often it polls, hands it the SSM client once
//! the node's identity is known, and remembers the problems it reported for STATUS.

use std::collections::BTreeMap;

use aws_sdk_ssm::Client;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::fetch::SdkSource;
use super::poll::{self, Connection, Event, PollNow, PollOptions};
use crate::clock::Clock;
use crate::config::Settings;

pub struct Runner {
    connection: watch::Sender<Option<Connection<SdkSource>>>,
    events_tx: mpsc::Sender<Event>,
    events: mpsc::Receiver<Event>,
    /// The running poller's options, its stop switch and where to ask it to poll now; `None`
    /// without fleet parameters.
    running: Option<(PollOptions, CancellationToken, mpsc::Sender<PollNow>)>,
    problems: BTreeMap<String, String>,
    clock: Clock,
}

impl Runner {
    /// Starts polling if `settings` names parameters.
    pub fn start(settings: &Settings, clock: Clock) -> Runner {
        let (connection, _) = watch::channel(None);
        let (events_tx, events) = mpsc::channel(8);
        let mut runner = Runner {
            connection,
            events_tx,
            events,
            running: None,
            problems: BTreeMap::new(),
            clock,
        };
        runner.restart_if_changed(settings);
        runner
    }

    /// After a reload: (re)starts or stops the poller when what it polls, or how, changed.
    /// Returns the STATUS suffix that holds from now on (a restarted poller has said nothing
    /// yet; a stopped one has no problems left).
    pub fn update(&mut self, settings: &Settings) -> Option<String> {
        self.restart_if_changed(settings);
        self.status_suffix()
    }

    fn restart_if_changed(&mut self, settings: &Settings) {
        let wanted = (!settings.agent.fleet.parameters.is_empty()).then(|| PollOptions {
            config_path: settings.config_path.clone(),
            state_dir: settings.agent.state_dir.clone(),
            parameters: settings.agent.fleet.parameters.clone(),
            interval: settings.agent.fleet.poll_interval,
            splay: settings.agent.splay,
            clock: self.clock,
        });
        let same = match (&self.running, &wanted) {
            (Some((running, _, _)), Some(wanted)) => {
                running.config_path == wanted.config_path
                    && running.state_dir == wanted.state_dir
                    && running.parameters == wanted.parameters
                    && running.interval == wanted.interval
                    && running.splay == wanted.splay
            }
            (None, None) => true,
            _ => false,
        };
        if same {
            return;
        }
        self.stop();
        self.problems.clear();
        if let Some(options) = wanted {
            let cancel = CancellationToken::new();
            // One request at a time: a second `reload --fleet` while one is answered is told so.
            let (ask, requests) = mpsc::channel(1);
            tokio::spawn(poll::run(
                options.clone(),
                self.connection.subscribe(),
                self.events_tx.clone(),
                requests,
                cancel.clone(),
            ));
            tracing::info!(
                parameters = ?options.parameters,
                interval = %humantime::format_duration(options.interval),
                "polling fleet parameters"
            );
            self.running = Some((options, cancel, ask));
        }
    }

    /// The client and identity to poll with, from now on.
    pub fn connect(&self, client: &Client, instance_id: &str) {
        self.connection.send_replace(Some(Connection {
            source: SdkSource::new(client.clone()),
            instance_id: instance_id.to_owned(),
        }));
    }

    /// Asks the poller to poll now (`reload --fleet`); its answer comes as
    /// [`Event::PolledNow`]. An error says in one line why it cannot be asked.
    pub fn poll_now(&self, started_ns: u64) -> Result<(), String> {
        let Some((_, _, ask)) = &self.running else {
            return Err(
                "not fetched: the configuration names no fleet parameters (`[agent] fleet_config`)"
                    .to_owned(),
            );
        };
        ask.try_send(PollNow { started_ns }).map_err(|_| {
            "not fetched: a fetch asked for by an earlier `reload --fleet` is still under way"
                .to_owned()
        })
    }

    /// The poller's next report; never ready while no poller runs.
    pub async fn next(&mut self) -> Event {
        match self.events.recv().await {
            Some(event) => event,
            // Unreachable while `events_tx` is held; wait like a poller that has nothing to say.
            None => std::future::pending().await,
        }
    }

    /// Takes in a report of the poller: `true` when it asks for the configuration to be
    /// reloaded (new versions are stored), `false` when it only changed the problems.
    pub fn take(&mut self, event: Event) -> bool {
        match event {
            Event::Apply { .. } => true,
            Event::Problems(problems) => {
                self.problems = problems;
                false
            }
            Event::PolledNow { .. } => false,
        }
    }

    /// For the STATUS line: what keeps fleet parameters from being used, if anything.
    pub fn status_suffix(&self) -> Option<String> {
        if self.problems.is_empty() {
            return None;
        }
        let lines: Vec<&str> = self.problems.values().map(String::as_str).collect();
        Some(format!("fleet: {}", lines.join("; ")))
    }

    pub fn stop(&mut self) {
        if let Some((_, cancel, _)) = self.running.take() {
            cancel.cancel();
        }
    }
}
