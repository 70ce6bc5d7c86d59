//! Watches the configuration's folders so that an edited drop-in is applied within a second,
//! without a `systemctl reload`.
//!
//! Each change is signalled at once (src/watch.rs); the debounce that makes an editor writing
//! a file in several steps cause one reload is the daemon's `RELOAD_DEBOUNCE`
//! (src/daemon/mod.rs), which waits for the changes to stop. A reload restarts every probe,
//! so there it is worth waiting; a second one here would only add to the delay.

use std::path::Path;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
pub struct ConfigWatch {
    to: mpsc::Sender<()>,
    cancel: CancellationToken,
}

impl ConfigWatch {
    /// Changes will be signalled on `to`, once [`ConfigWatch::arm`] is called.
    pub fn new(to: mpsc::Sender<()>) -> ConfigWatch {
        ConfigWatch {
            to,
            cancel: CancellationToken::new(),
        }
    }

    /// Watches the main file's folder and the drop-in folder (which may not exist yet: it is
    /// watched from when it appears) for `*.toml` changes, replacing any earlier watches (a
    /// reload may have moved `probes_dir`).
    pub fn arm(&mut self, config_path: &Path, probes_dir: &Path) {
        self.stop();
        self.cancel = CancellationToken::new();
        let config_dir = config_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let mut dirs = vec![config_dir];
        if !dirs.iter().any(|d| d == probes_dir) {
            dirs.push(probes_dir.to_path_buf());
        }
        for dir in dirs {
            match crate::watch::watch(&dir, is_config_name) {
                Ok(changes) => {
                    crate::watch::forward(changes, self.to.clone(), (), self.cancel.clone());
                }
                Err(e) => tracing::warn!("{e}; configuration changes there need a reload"),
            }
        }
    }

    pub fn stop(&self) {
        self.cancel.cancel();
    }
}

/// Configuration files: `*.toml`, not hidden (editors' and package managers' leftovers such
/// as `x.toml.dpkg-new` or `.x.toml.swp` are not read, so they need no reload).
fn is_config_name(name: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    name.ends_with(b".toml") && !name.starts_with(b".")
}

#[cfg(test)]
mod tests;
