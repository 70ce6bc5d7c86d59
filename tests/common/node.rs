//! One node as the daemon sees it: a temporary directory with the main configuration file
//! (`etc/config.toml`, drop-ins in `etc/probes.d`), a state directory, and the files the test
//! rewrites for its probes to read (`data/`).
//!
//! Probes are exec probes that `cat data/<name>.json` (what the binary-level tests use),
//! `files` probes over a folder (what the in-process harness uses, see
//! [`crate::common::daemon`]), or any TOML the test adds. The binary runs with a hermetic
//! environment ([`hermetic_env`]), so nothing can reach AWS.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use ssm_inventoryd::emulator::Emulator;
use ssm_inventoryd::state::State;
use tempfile::TempDir;
use tokio::process::Child;

use super::{BIN, INSTANCE, REGION, describe, hermetic_env};

/// What a [`Node`] may be pointed at: the emulator, or an address of its own.
pub trait Endpoint {
    fn url(&self) -> String;
}

impl Endpoint for Emulator {
    fn url(&self) -> String {
        self.endpoint_url()
    }
}

impl Endpoint for str {
    fn url(&self) -> String {
        self.to_owned()
    }
}

impl Endpoint for String {
    fn url(&self) -> String {
        self.clone()
    }
}

pub struct Node {
    pub dir: TempDir,
    pub endpoint: String,
    pub instance_id: String,
    /// `[agent] region`, [`REGION`] unless the test says otherwise.
    pub region: String,
    /// Further `[agent]` lines (e.g. `refresh_interval = "1s"`), written as they are.
    pub agent_extra: String,
    /// The interval and timeout of the probes [`Node::probe_toml`] writes (TOML durations).
    pub probe_interval: String,
    pub probe_timeout: String,
    /// `[agent]` keys other than the identity, the endpoint and `state_dir`, as TOML values.
    agent: BTreeMap<String, String>,
    /// The exec probes of the main file: name → TypeName.
    probes: BTreeMap<String, String>,
}

impl Node {
    /// A node with fast retries, for `once` and the library-level tests; exec probes every
    /// hour, so that only what the test does makes them run again.
    pub fn new<E: Endpoint + ?Sized>(endpoint: &E) -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["etc/probes.d", "data"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("node directories");
        }
        std::fs::write(dir.path().join("empty"), "").expect("empty AWS config file");
        let mut node = Node {
            dir,
            endpoint: endpoint.url(),
            instance_id: INSTANCE.into(),
            region: REGION.into(),
            agent_extra: String::new(),
            probe_interval: "1h".into(),
            probe_timeout: "10s".into(),
            agent: BTreeMap::new(),
            probes: BTreeMap::new(),
        };
        node.set("retry_base", "\"5ms\"")
            .set("retry_cap", "\"40ms\"");
        node
    }

    /// A node for the long-running daemon: no splay, a push at most every second, probes
    /// every second.
    pub fn daemon<E: Endpoint + ?Sized>(endpoint: &E) -> Node {
        let mut node = Node::new(endpoint);
        node.set("splay", "\"0s\"")
            .set("min_push_interval", "\"1s\"")
            .set("retry_base", "\"50ms\"")
            .set("retry_cap", "\"500ms\"");
        node.probe_interval = "1s".into();
        node.probe_timeout = "1s".into();
        node
    }

    /// Sets `[agent]` key `key` to the TOML value `value` (quotes included).
    pub fn set(&mut self, key: &str, value: &str) -> &mut Node {
        self.agent.insert(key.into(), value.into());
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("etc/config.toml")
    }

    /// Where drop-ins go unless `probes_dir` says otherwise.
    pub fn probes_dir(&self) -> PathBuf {
        self.path("etc/probes.d")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    pub fn state_path(&self) -> PathBuf {
        self.state_dir().join("state.json")
    }

    /// What exec probe `name` prints: `data/<name>.json`.
    pub fn data(&self, name: &str) -> PathBuf {
        self.path(&format!("data/{name}.json"))
    }

    /// Adds (or keeps) an exec probe `name` producing `type_name` from `json`, and rewrites
    /// the configuration.
    pub fn probe(&mut self, name: &str, type_name: &str, json: &str) {
        self.probes.insert(name.into(), type_name.into());
        self.set_output(name, json);
        self.write_config();
    }

    /// Makes `probes` the main file's exec probes, and rewrites the configuration.
    pub fn set_probes(&mut self, probes: &[(&str, &str)]) {
        self.probes = probes
            .iter()
            .map(|(name, type_name)| ((*name).into(), (*type_name).into()))
            .collect();
        self.write_config();
    }

    pub fn remove_probe(&mut self, name: &str) {
        self.probes.remove(name);
        self.write_config();
    }

    /// What exec probe `name` prints next time. Replaced atomically, as a well-behaved
    /// writer does: `cat` sees the old or the new file, never half of one.
    pub fn set_output(&self, name: &str, json: &str) {
        let temp = self.path(&format!("data/.{name}.tmp"));
        std::fs::write(&temp, json).expect("write probe output");
        std::fs::rename(&temp, self.data(name)).expect("rename probe output");
    }

    /// Probe `name` prints `{"Stage": stage}` next time.
    pub fn set_stage(&self, name: &str, stage: &str) {
        self.set_output(name, &format!("{{\"Stage\":\"{stage}\"}}"));
    }

    /// An exec probe `[[probe]]` table: `cat data/<name>.json` as `type_name`, every
    /// [`Node::probe_interval`]. Its `type_name` is on its line 4 (the fleet tests' error
    /// messages name the line).
    pub fn probe_toml(&self, name: &str, type_name: &str) -> String {
        self.probe_toml_every(name, type_name, &self.probe_interval)
    }

    pub fn probe_toml_every(&self, name: &str, type_name: &str, interval: &str) -> String {
        format!(
            "[[probe]]\nname = \"{name}\"\nkind = \"exec\"\ntype_name = \"{type_name}\"\n\
             command = [\"/bin/cat\", \"{}\"]\ninterval = \"{interval}\"\ntimeout = \"{}\"\n\n",
            self.data(name).display(),
            self.probe_timeout,
        )
    }

    /// The folder of `files` probe `name`: `data/<name>.d`.
    pub fn folder(&self, name: &str) -> PathBuf {
        self.path(&format!("data/{name}.d"))
    }

    /// A `files` probe `[[probe]]` table over [`Node::folder`]`(name)`, every `interval`.
    pub fn files_probe_toml(&self, name: &str, interval: &str) -> String {
        format!(
            "[[probe]]\nname = \"{name}\"\nkind = \"files\"\npath = \"{}\"\n\
             interval = \"{interval}\"\n\n",
            self.folder(name).display()
        )
    }

    /// Writes the SSM Agent document of `type_name` into `files` probe `name`'s folder, one
    /// row `{"Stage": stage}`; replaced atomically, as the agent's writers do.
    pub fn set_document(&self, name: &str, type_name: &str, stage: &str) {
        let folder = self.folder(name);
        std::fs::create_dir_all(&folder).expect("files probe folder");
        let file = type_name.trim_start_matches("Custom:");
        let temp = folder.join(format!(".{file}.tmp"));
        std::fs::write(
            &temp,
            format!(
                "{{\"SchemaVersion\":\"1.0\",\"TypeName\":\"{type_name}\",\
                 \"Content\":{{\"Stage\":\"{stage}\"}}}}"
            ),
        )
        .expect("write document");
        std::fs::rename(&temp, folder.join(format!("{file}.json"))).expect("rename document");
    }

    /// The main file: `[agent]`, then the exec probes.
    pub fn write_config(&self) {
        self.write_config_with("");
    }

    /// The main file, with `more` TOML after the exec probes.
    pub fn write_config_with(&self, more: &str) {
        let mut text = format!(
            "[agent]\n\
             instance_id = \"{}\"\n\
             region = \"{}\"\n\
             endpoint_url = \"{}\"\n\
             state_dir = \"{}\"\n",
            self.instance_id,
            self.region,
            self.endpoint,
            self.state_dir().display(),
        );
        for (key, value) in &self.agent {
            text.push_str(&format!("{key} = {value}\n"));
        }
        text.push_str(&self.agent_extra);
        text.push('\n');
        for (name, type_name) in &self.probes {
            text.push_str(&self.probe_toml(name, type_name));
        }
        text.push_str(more);
        std::fs::write(self.config_path(), text).expect("write config");
    }

    /// `ssm-inventoryd --config … <args>` with a hermetic environment.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = self.program(BIN);
        cmd.arg("--config").arg(self.config_path()).args(args);
        cmd
    }

    /// [`Node::command`] with `run/` (created here) as its runtime folder
    /// (`RUNTIME_DIRECTORY`), where the status file goes while the state folder refuses it.
    pub fn command_with_runtime(&self, args: &[&str]) -> tokio::process::Command {
        std::fs::create_dir_all(self.path("run")).expect("runtime folder");
        let mut cmd = self.command(args);
        cmd.env("RUNTIME_DIRECTORY", self.path("run"));
        cmd
    }

    /// Sets `metrics_file` to `metrics.prom` in the node's folder, read by [`Node::metric`].
    pub fn with_metrics_file(&mut self) -> &mut Node {
        let path = format!("\"{}\"", self.path("metrics.prom").display());
        self.set("metrics_file", &path)
    }

    /// The value of the unlabelled metric `name` in the metrics file, if it is there.
    pub fn metric(&self, name: &str) -> Option<u64> {
        let text = std::fs::read_to_string(self.path("metrics.prom")).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
    }

    /// What `ssm-inventoryd status` prints, with the runtime folder of
    /// [`Node::command_with_runtime`].
    pub async fn status_text(&self) -> String {
        let out = self
            .command_with_runtime(&["status"])
            .output()
            .await
            .expect("run status");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `program` (a shell, a script that calls the binary) with the same hermetic
    /// environment as [`Node::command`], in this node's home; stdout and stderr piped.
    pub fn program(&self, program: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        hermetic_env(&mut cmd, self.dir.path());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// `ssm-inventoryd run` with `extra_env`; its stderr is piped (see [`super::stop`]).
    pub fn spawn(&self, extra_env: &[(&str, &str)]) -> Child {
        let mut cmd = self.command(&["run"]);
        cmd.envs(extra_env.iter().copied()).stdout(Stdio::null());
        cmd.spawn().expect("start the daemon")
    }

    /// `ssm-inventoryd ARGS` run to the end: exit code, stdout, stderr.
    pub async fn output(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = self.command(args).output().await.expect("run the binary");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `once` run to completion (with a generous bound so a hang fails instead of blocking).
    pub async fn once(&self, args: &[&str]) -> Output {
        let mut all = vec!["once"];
        all.extend_from_slice(args);
        let child = self.command(&all).spawn().expect("spawn ssm-inventoryd");
        tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("once finishes within a minute")
            .expect("wait for ssm-inventoryd")
    }

    /// `once` that must succeed; returns its stdout.
    pub async fn once_ok(&self) -> String {
        let out = self.once(&[]).await;
        assert!(out.status.success(), "once failed: {}", describe(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The state file, parsed (panics if it does not parse: it never may).
    pub fn state(&self) -> State {
        read_state(&self.state_dir())
    }

    /// Moves every acknowledgement in the state file `back` into the past, as if that much
    /// time had passed since the service acknowledged them.
    pub fn age_state(&self, back: Duration) {
        let text = std::fs::read_to_string(self.state_path()).expect("state.json exists");
        let mut value: serde_json::Value = serde_json::from_str(&text).expect("state parses");
        let back = time::Duration::try_from(back).expect("duration fits");
        for instance in value["instances"]
            .as_object_mut()
            .expect("instances")
            .values_mut()
        {
            for ack in instance["types"]
                .as_object_mut()
                .expect("types")
                .values_mut()
            {
                let at = time::OffsetDateTime::parse(
                    ack["acknowledged_at"].as_str().expect("acknowledged_at"),
                    &time::format_description::well_known::Rfc3339,
                )
                .expect("RFC 3339");
                let earlier = (at - back)
                    .format(&time::format_description::well_known::Rfc3339)
                    .expect("format");
                ack["acknowledged_at"] = serde_json::Value::String(earlier);
            }
        }
        std::fs::write(
            self.state_path(),
            serde_json::to_vec_pretty(&value).expect("serialise"),
        )
        .expect("write state");
    }
}

/// `state.json` in `dir`, parsed (it must always parse).
pub fn read_state(dir: &Path) -> State {
    let text = std::fs::read_to_string(dir.join("state.json")).expect("state.json exists");
    serde_json::from_str(&text).expect("state.json parses")
}
