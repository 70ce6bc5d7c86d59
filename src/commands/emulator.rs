//! `emulator`: the local PutInventory endpoint as a foreground process, stopped by Ctrl-C or
//! SIGTERM.

use tokio_util::sync::CancellationToken;

use super::CommandError;
use crate::emulator::cli::{self, EmulatorArgs};

pub async fn run(args: EmulatorArgs) -> Result<(), CommandError> {
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_stop_signal().await;
        on_signal.cancel();
    });
    cli::run(args, shutdown).await.map_err(|e| {
        if e.exit_code() == 2 {
            CommandError::Usage(e.to_string())
        } else {
            CommandError::Runtime(e.to_string())
        }
    })
}

/// Resolves on SIGINT or SIGTERM; if a handler cannot be installed, only the other one counts.
pub async fn wait_for_stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        (Ok(mut only), Err(_)) | (Err(_), Ok(mut only)) => {
            only.recv().await;
        }
        (Err(e), Err(_)) => {
            tracing::warn!("cannot install signal handlers ({e}); stop with SIGKILL");
            std::future::pending::<()>().await
        }
    }
}
