//! A node whose probes come partly from Parameter Store (the emulator serves GetParameter and
//! PutParameter too): the parameter, its poll interval, and what the node stored or refused.

use std::path::Path;
use std::time::Duration;

use super::node::{Endpoint, Node};

/// The poll interval of every test node.
pub const POLL: Duration = Duration::from_secs(1);
/// Room for process start-up and a loaded machine; not a speed target.
pub const SLACK: Duration = Duration::from_secs(15);
/// The parameter every test uses.
pub const PARAM: &str = "/ssm-inventoryd/web";

impl Node {
    /// A daemon node ([`Node::daemon`]) that polls [`PARAM`] every [`POLL`] and allows
    /// programs under `/bin` in it. Its main file is written by `write_config_with(local)`,
    /// `local` being its own probes.
    pub fn fleet<E: Endpoint + ?Sized>(endpoint: &E) -> Node {
        let mut node = Node::daemon(endpoint);
        node.set("fleet_config", &format!("[\"{PARAM}\"]"))
            .set("fleet_poll_interval", &format!("\"{}s\"", POLL.as_secs()))
            .set("fleet_exec_dirs", "[\"/bin\"]");
        node
    }

    /// The version of [`PARAM`] the node stored as last good.
    pub fn stored_version(&self) -> Option<i64> {
        ssm_inventoryd::fleet::store::load(&self.state_dir(), PARAM)
            .ok()
            .flatten()
            .map(|s| s.version)
    }

    /// The version of [`PARAM`] the node refused, with the reason.
    pub fn refused(&self) -> Option<(i64, String)> {
        ssm_inventoryd::fleet::store::load_refusal(&self.state_dir(), PARAM)
            .ok()
            .flatten()
            .map(|r| (r.version, r.reason))
    }
}

/// The lines of `log` that contain every one of `parts`.
pub fn lines_with<'a>(log: &'a str, parts: &[&str]) -> Vec<&'a str> {
    log.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .collect()
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}
