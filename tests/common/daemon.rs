//! The daemon in this process, on tokio's paused clock, against the emulator: in the shape of
//! mini-redis's `start_server` (its tests start the server on `127.0.0.1:0` in their own
//! process and talk to it), for the tests of what the daemon does rather than of the process
//! it runs in.
//!
//! [`Daemon::start`] runs `daemon::run` with a clock that follows tokio's time
//! (`Clock::following_tokio`), the emulator's demo keys and no SSM Agent or instance
//! metadata to ask, so that nothing depends on the test process's environment. The handle
//! holds the emulator (its store is what the tests check), sends reloads, collects the
//! daemon's log, and shuts it down.
//!
//! A test that uses it runs on `#[tokio::test(start_paused = true)]`: its timers
//! (intervals, `min_push_interval`, backoff, debounce, fleet polls) take no real time, since
//! tokio moves the clock on whenever everything on the runtime waits. Work that happens outside the runtime
//! needs care with that clock:
//! * blocking work (`files` probes, saving the state) holds the paused clock still while it
//!   runs, so it is safe;
//! * the emulator runs on the same runtime over loopback, where a request arrives as it is
//!   sent;
//! * a child process is not: while one runs, the clock would leap ahead to the next timer,
//!   probe timeouts included. Exec probes therefore stay with the tests on the real clock
//!   (the binary's), and these tests use `files` probes ([`Node::files_probe_toml`]);
//! * the folder watcher is a thread of its own: [`wait_for`](super::wait_for) gives it a
//!   moment of real time at each poll ([`settle`]).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ssm_inventoryd::clock::Clock;
use ssm_inventoryd::daemon::{self, DaemonError, DaemonOptions};
use ssm_inventoryd::emulator::{DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, Emulator};
use ssm_inventoryd::identity::Sources;
use ssm_inventoryd::ssm_agent::AgentPaths;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::node::Node;

/// Where the daemon's UTC starts; it then moves with tokio's (paused) time.
pub const START: time::OffsetDateTime = time::macros::datetime!(2026-11-27 10:00 UTC);

/// A running daemon and the emulator it pushes to.
pub struct Daemon {
    pub emu: Emulator,
    reload: mpsc::Sender<()>,
    shutdown: CancellationToken,
    run: JoinHandle<Result<(), DaemonError>>,
    log: Log,
    _log_guard: tracing::subscriber::DefaultGuard,
}

impl Daemon {
    /// Runs `node`'s configuration with [`sources`]`(node)`.
    pub fn start(emu: Emulator, node: &Node) -> Daemon {
        Daemon::start_with(emu, node, sources(node))
    }

    /// Runs `node`'s configuration with the identity and credentials of `sources`.
    pub fn start_with(emu: Emulator, node: &Node, sources: Sources) -> Daemon {
        let log = Log::default();
        let writer = log.clone();
        // This thread's log only: the test's runtime, on which the whole daemon runs, is a
        // current-thread one.
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        let log_guard = tracing::subscriber::set_default(subscriber);
        let options = DaemonOptions {
            config_path: node.config_path(),
            identity_sources: sources,
            shutdown_deadline: daemon::DEFAULT_SHUTDOWN_DEADLINE,
            runtime_dir: None,
            clock: Clock::following_tokio(START),
        };
        let shutdown = CancellationToken::new();
        let (reload, reloads) = mpsc::channel(1);
        let run = tokio::spawn(daemon::run(options, shutdown.clone(), reloads));
        Daemon {
            emu,
            reload,
            shutdown,
            run,
            log,
            _log_guard: log_guard,
        }
    }

    /// What SIGHUP does: the configuration is read again.
    pub async fn reload(&self) {
        self.reload.send(()).await.expect("the daemon runs");
    }

    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        self.log.text()
    }

    /// What SIGTERM does; returns everything the daemon logged.
    pub async fn stop(self) -> String {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(60), self.run)
            .await
            .expect("the daemon stops")
            .expect("the daemon does not panic")
            .expect("the daemon ends without an error");
        self.log.text()
    }
}

/// Where the in-process daemon finds its identity and credentials: the configuration's
/// instance ID and region, the emulator's demo keys, no SSM Agent (an empty folder under the
/// node), no instance metadata, nothing from the environment.
pub fn sources(node: &Node) -> Sources {
    let agent = AgentPaths::under(&node.path("no-ssm-agent"));
    Sources {
        registration_file: agent.registration_file,
        vault_file: agent.vault_file,
        imds: false,
        imds_endpoint: None,
        identity_runtime_config: agent.identity_runtime_config,
        env_credentials: false,
        env_region: None,
        static_credentials: Some((DEMO_ACCESS_KEY_ID.into(), DEMO_SECRET_ACCESS_KEY.into())),
    }
}

/// Runs `command` to its end on the blocking pool, which holds a paused clock still
/// meanwhile: a child awaited on the runtime would let the clock leap ahead while it runs.
pub async fn run_blocking(command: tokio::process::Command) -> std::process::Output {
    let mut command = command.into_std();
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("running a command does not panic")
        .expect("the command runs")
}

/// Gives threads outside the runtime (a folder watcher, a child process) a moment of real
/// time. Blocking work holds a paused clock still while it runs, so time does not leap ahead
/// of what those threads are about to report.
pub async fn settle() {
    tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(5)))
        .await
        .expect("a sleep does not panic");
}

/// The daemon's log, shared with the subscriber that writes it.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
