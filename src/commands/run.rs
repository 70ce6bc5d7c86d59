//! `run`: the daemon in the foreground, as systemd starts it. SIGTERM and SIGINT stop it
//! gracefully; SIGHUP reloads the configuration.

use std::path::Path;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::CommandError;
use crate::daemon::{self, DaemonError, DaemonOptions};
use crate::identity;

pub async fn run(config_path: &Path) -> Result<(), CommandError> {
    super::adopt_probe_orphans();
    let shutdown = CancellationToken::new();
    let (reload_tx, reload_rx) = mpsc::channel::<()>(4);
    let mut hangup = signal(SignalKind::hangup())
        .map_err(|e| CommandError::Runtime(format!("cannot handle SIGHUP: {e}")))?;
    let mut terminate = signal(SignalKind::terminate())
        .map_err(|e| CommandError::Runtime(format!("cannot handle SIGTERM: {e}")))?;
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|e| CommandError::Runtime(format!("cannot handle SIGINT: {e}")))?;
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
                _ = hangup.recv() => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    let _ = reload_tx.try_send(());
                }
            }
        }
        tracing::info!("stopping");
        on_signal.cancel();
    });

    let options = DaemonOptions {
        config_path: config_path.to_path_buf(),
        identity_sources: identity::Sources::default(),
        shutdown_deadline: daemon::DEFAULT_SHUTDOWN_DEADLINE,
        // systemd lists every RuntimeDirectory= here, separated by colons; ours is the first.
        runtime_dir: std::env::var_os("RUNTIME_DIRECTORY")
            .and_then(|dirs| std::env::split_paths(&dirs).next())
            .filter(|dir| !dir.as_os_str().is_empty()),
        clock: crate::clock::Clock::system(),
    };
    daemon::run(options, shutdown, reload_rx)
        .await
        .map_err(|e| match e {
            DaemonError::Config(e) => CommandError::Config(e),
        })
}
