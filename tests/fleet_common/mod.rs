//! A node whose probes come partly from Parameter Store, run as the real binary against the
//! emulator (which also serves GetParameter and PutParameter), hermetically like every
//! binary-level test: explicit demo credentials, region and instance ID, instance metadata
//! disabled.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Child;

use crate::common::{BIN, INSTANCE, REGION, hermetic_env};
// Each test binary uses a different subset.
#[allow(unused_imports)]
pub use crate::common::{stage, stop, wait_for};

/// The poll interval of every test node.
pub const POLL: Duration = Duration::from_secs(1);
/// Room for process start-up and a loaded machine; not a speed target.
pub const SLACK: Duration = Duration::from_secs(15);
/// The parameter every test uses.
pub const PARAM: &str = "/ssm-inventoryd/web";

pub struct Node {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
}

impl Node {
    pub fn new(endpoint: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/probes.d")).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        Node {
            dir,
            endpoint: endpoint.to_owned(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("etc/config.toml")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    /// The main file: fleet parameter [`PARAM`] polled every [`POLL`], programs under `/bin`
    /// allowed, and `local` probes (TOML) of its own.
    pub fn write_config(&self, local: &str) {
        let text = format!(
            "[agent]\ninstance_id = \"{INSTANCE}\"\nregion = \"{REGION}\"\nendpoint_url = \"{}\"\n\
             state_dir = \"{}\"\nsplay = \"0s\"\nmin_push_interval = \"1s\"\nretry_base = \"50ms\"\n\
             retry_cap = \"500ms\"\nfleet_config = [\"{PARAM}\"]\nfleet_poll_interval = \"{}s\"\n\
             fleet_exec_dirs = [\"/bin\"]\n\n{local}",
            self.endpoint,
            self.state_dir().display(),
            POLL.as_secs()
        );
        std::fs::write(self.config_path(), text).unwrap();
    }

    /// An exec probe that prints the JSON in `data/<name>.json` as `type_name`.
    pub fn probe(&self, name: &str, type_name: &str) -> String {
        format!(
            "[[probe]]\nname = \"{name}\"\nkind = \"exec\"\ntype_name = \"{type_name}\"\n\
             command = [\"/bin/cat\", \"{}\"]\ninterval = \"1s\"\ntimeout = \"1s\"\n\n",
            self.path(&format!("data/{name}.json")).display()
        )
    }

    pub fn set_output(&self, name: &str, stage: &str) {
        std::fs::write(
            self.path(&format!("data/{name}.json")),
            format!("{{\"Stage\":\"{stage}\"}}"),
        )
        .unwrap();
    }

    pub fn spawn(&self, extra_env: &[(&str, &str)]) -> Child {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("--config").arg(self.config_path()).arg("run");
        hermetic_env(&mut cmd, self.dir.path());
        cmd.envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd.spawn().expect("start the daemon")
    }

    /// `ssm-inventoryd ARGS` with this node's configuration; (exit code, stdout, stderr).
    pub async fn command(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("--config").arg(self.config_path()).args(args);
        hermetic_env(&mut cmd, self.dir.path());
        let out = cmd.output().await.expect("run the binary");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
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
