//! systemd's notification protocol (`sd_notify`): READY, STATUS and WATCHDOG messages as
//! datagrams to `$NOTIFY_SOCKET`.
//!
//! Written out rather than pulled in: it is one datagram per message, and a daemon that is
//! not started by systemd (no `NOTIFY_SOCKET`) simply sends nothing.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where to send notifications, if anywhere.
#[derive(Debug)]
pub struct Notifier {
    target: Option<SocketAddr>,
    socket: Option<UnixDatagram>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`; a path, or `@name` for the abstract namespace.
    pub fn from_env() -> Notifier {
        let target = std::env::var("NOTIFY_SOCKET").ok().and_then(|path| {
            let address = match path.strip_prefix('@') {
                Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
                None => SocketAddr::from_pathname(&path),
            };
            address
                .map_err(|e| tracing::warn!("NOTIFY_SOCKET {path:?} is unusable: {e}"))
                .ok()
        });
        let socket = target.as_ref().and_then(|_| {
            UnixDatagram::unbound()
                .map_err(|e| tracing::warn!("cannot create the notification socket: {e}"))
                .ok()
        });
        Notifier { target, socket }
    }

    /// Sends one message; failures are logged, never fatal: systemd notifications are a
    /// courtesy to the supervisor, not part of the job.
    pub fn send(&self, message: &str) {
        if let (Some(socket), Some(target)) = (&self.socket, &self.target)
            && let Err(e) = socket.send_to_addr(message.as_bytes(), target)
        {
            tracing::debug!("sd_notify {message:?} failed: {e}");
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={status}"));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    /// `MONOTONIC_USEC` tells systemd 253 and later which reload this is.
    pub fn reloading(&self, monotonic_usec: u64) {
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={monotonic_usec}"));
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// Half of `WATCHDOG_USEC`, as systemd recommends, when the watchdog is on for us.
    pub fn watchdog_interval() -> Option<Duration> {
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
        if let Ok(pid) = std::env::var("WATCHDOG_PID")
            && pid.parse::<u32>().ok() != Some(std::process::id())
        {
            return None;
        }
        (usec > 0).then(|| Duration::from_micros(usec / 2))
    }
}
