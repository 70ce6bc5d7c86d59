//! Shared helpers of the `delivery_*` and `identity` integration tests.
//!
//! Two harnesses, both against the in-process emulator on loopback through the real
//! `aws-sdk-ssm` client:
//! * library level: [`client`], [`item`], [`push`] run `cycle::push` / `Deliverer` directly,
//!   so a test can read the `PushReport` / `Report` the binary only summarises;
//! * binary level: [`Node`] writes a configuration whose exec probes `cat` files the test
//!   rewrites, and runs the real `ssm-inventoryd` with a hermetic environment (explicit demo
//!   credentials, region and instance ID, instance metadata disabled, empty AWS config files,
//!   no other `AWS_*` variable), so nothing can reach AWS.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use aws_sdk_ssm::Client;
use ssm_inventoryd::aws as sdk_client;
use ssm_inventoryd::batch::Budget;
use ssm_inventoryd::config::OnRemoved;
use ssm_inventoryd::cycle::{self, Collected, PushOptions, PushReport};
use ssm_inventoryd::emulator::{
    DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, Emulator, EmulatorConfig,
};
use ssm_inventoryd::inventory::{Item, RawItem, Row};
use ssm_inventoryd::plan::Intervals;
use ssm_inventoryd::sender::RetryPolicy;
use ssm_inventoryd::state::State;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

pub mod skip;

pub const INSTANCE: &str = "i-0123456789abcdef0";
pub const REGION: &str = "us-east-1";
pub const CAPTURE_TIME: &str = "2026-11-27T10:00:00Z";

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ssm-inventoryd");

pub async fn emulator(config: EmulatorConfig) -> Emulator {
    assert!(
        config.listen.ip().is_loopback(),
        "tests only ever listen on loopback"
    );
    Emulator::start(config).await.expect("emulator starts")
}

/// The daemon's own client (SDK retries off, attempt timeouts on), with the demo keys and an
/// explicit region: no credential chain, no instance metadata.
pub async fn client(emu: &Emulator) -> Client {
    sdk_client::build(&sdk_client::ClientOptions {
        region: REGION.into(),
        endpoint_url: Some(emu.endpoint_url()),
        static_credentials: Some((DEMO_ACCESS_KEY_ID.into(), DEMO_SECRET_ACCESS_KEY.into())),
        ..Default::default()
    })
    .await
}

pub async fn client_with_keys(emu: &Emulator, key: &str, secret: &str) -> Client {
    sdk_client::build(&sdk_client::ClientOptions {
        region: REGION.into(),
        endpoint_url: Some(emu.endpoint_url()),
        static_credentials: Some((key.into(), secret.into())),
        ..Default::default()
    })
    .await
}

pub fn row(pairs: &[(&str, &str)]) -> Row {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A validated `Custom:` item.
pub fn item(type_name: &str, rows: Vec<Row>) -> Item {
    Item::new(RawItem {
        type_name: type_name.into(),
        schema_version: "1.0".into(),
        capture_time: CAPTURE_TIME.into(),
        rows,
        ..RawItem::default()
    })
    .expect("test items are valid")
}

/// An item of one row `{"Value": value}`.
pub fn small(type_name: &str, value: &str) -> Item {
    item(type_name, vec![row(&[("Value", value)])])
}

/// An item of `n` rows, roughly `n * 40` bytes.
pub fn sized(type_name: &str, n: usize) -> Item {
    item(
        type_name,
        (0..n)
            .map(|i| row(&[("Index", &format!("{i:06}")), ("Pad", "xxxxxxxxxx")]))
            .collect(),
    )
}

/// Fast settings for library-level pushes: tiny backoff, three attempts.
pub fn options() -> PushOptions {
    PushOptions {
        instance_id: INSTANCE.into(),
        intervals: Intervals {
            refresh: Duration::from_secs(12 * 3600),
            quarantine_retry: Duration::from_secs(6 * 3600),
        },
        on_removed: OnRemoved::Clear,
        force: false,
        budget: Budget::new(1024 * 1024),
        retry: RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(20),
            max_attempts: Some(3),
        },
    }
}

/// A state directory and the state held in memory between pushes, as the daemon holds it.
pub struct Pusher {
    pub dir: TempDir,
    pub state: State,
    pub options: PushOptions,
}

impl Default for Pusher {
    fn default() -> Self {
        Pusher::new()
    }
}

impl Pusher {
    pub fn new() -> Pusher {
        Pusher {
            dir: tempfile::tempdir().expect("temp dir"),
            state: State::default(),
            options: options(),
        }
    }

    pub async fn push(&mut self, client: &Client, items: &[Item]) -> PushReport {
        let collected = Collected {
            items: items.to_vec(),
            declared: items.iter().map(|i| i.type_name().to_owned()).collect(),
            ..Collected::default()
        };
        cycle::push(
            client,
            &collected,
            &mut self.state,
            self.dir.path(),
            &self.options,
            time::OffsetDateTime::now_utc(),
            &CancellationToken::new(),
        )
        .await
    }

    /// What `state.json` on disk says (it must always parse).
    pub fn saved(&self) -> State {
        let text =
            std::fs::read_to_string(self.dir.path().join("state.json")).expect("state.json exists");
        serde_json::from_str(&text).expect("state.json parses")
    }
}

/// The emulator's stored content of `type_name` as rows, `None` when nothing is stored.
pub fn stored_rows(emu: &Emulator, type_name: &str) -> Option<Vec<Row>> {
    emu.stored(INSTANCE, type_name).map(|s| s.content)
}

/// Sorted copy, to compare content whatever order it was stored in.
pub fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort();
    rows
}

/// One node as the binary sees it: a config directory, exec probes that `cat` files the test
/// writes, and a state directory.
pub struct Node {
    pub dir: TempDir,
    pub endpoint: String,
    pub instance_id: String,
    /// Extra `[agent]` lines (e.g. `refresh_interval = "1s"`).
    pub agent_extra: String,
    /// probe name → TypeName, in config order.
    probes: BTreeMap<String, String>,
}

impl Node {
    pub fn new(emu: &Emulator) -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        std::fs::write(dir.path().join("empty"), "").expect("empty AWS config file");
        Node {
            dir,
            endpoint: emu.endpoint_url(),
            instance_id: INSTANCE.into(),
            agent_extra: String::new(),
            probes: BTreeMap::new(),
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn state_path(&self) -> PathBuf {
        self.state_dir().join("state.json")
    }

    fn data(&self, probe: &str) -> PathBuf {
        self.dir.path().join("data").join(format!("{probe}.json"))
    }

    /// Adds (or keeps) an exec probe `name` producing `type_name` from `json`, and rewrites
    /// the configuration.
    pub fn probe(&mut self, name: &str, type_name: &str, json: &str) {
        self.probes.insert(name.into(), type_name.into());
        self.set_output(name, json);
        self.write_config();
    }

    /// What probe `name` prints next time.
    pub fn set_output(&self, name: &str, json: &str) {
        std::fs::write(self.data(name), json).expect("write probe output");
    }

    pub fn remove_probe(&mut self, name: &str) {
        self.probes.remove(name);
        self.write_config();
    }

    pub fn write_config(&self) {
        let mut text = format!(
            "[agent]\n\
             instance_id = \"{}\"\n\
             region = \"{REGION}\"\n\
             endpoint_url = \"{}\"\n\
             state_dir = \"{}\"\n\
             retry_base = \"5ms\"\n\
             retry_cap = \"40ms\"\n\
             {}\n",
            self.instance_id,
            self.endpoint,
            self.state_dir().display(),
            self.agent_extra,
        );
        for (name, type_name) in &self.probes {
            text.push_str(&format!(
                "\n[[probe]]\nname = \"{name}\"\nkind = \"exec\"\ntype_name = \"{type_name}\"\n\
                 command = [\"/bin/cat\", \"{}\"]\ninterval = \"1h\"\ntimeout = \"10s\"\n",
                self.data(name).display()
            ));
        }
        std::fs::write(self.config_path(), text).expect("write config");
    }

    /// `ssm-inventoryd --config … <args>` with a hermetic environment.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("--config").arg(self.config_path()).args(args);
        hermetic_env(&mut cmd, self.dir.path());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
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
        let text = std::fs::read_to_string(self.state_path()).expect("state.json exists");
        serde_json::from_str(&text).expect("state.json parses")
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

/// Clears the child's environment and sets only what it needs: the emulator's demo keys
/// (credentials come from the SDK's default chain, environment first), empty shared AWS
/// files, instance metadata off.
pub fn hermetic_env(cmd: &mut tokio::process::Command, home: &Path) {
    let empty = home.join("empty");
    if !empty.exists() {
        std::fs::write(&empty, "").expect("empty AWS config file");
    }
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        // Whatever SSM Agent this machine has, the binary sees none.
        .env(
            ssm_inventoryd::ssm_agent::SSM_AGENT_DIR_ENV,
            home.join("no-ssm-agent"),
        )
        .env("LANG", "C.UTF-8")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", DEMO_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", DEMO_SECRET_ACCESS_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty);
}

pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `[{"Key": v}, …]` as JSON text, the shape an exec probe prints.
pub fn rows_json(key: &str, values: &[&str]) -> String {
    let rows: Vec<serde_json::Value> = values
        .iter()
        .map(|v| serde_json::json!({ key: v }))
        .collect();
    serde_json::Value::Array(rows).to_string()
}

// ---- the daemon as a child process -------------------------------------------------------

/// Sends `signal` to a running child.
pub fn signal(child: &tokio::process::Child, signal: libc::c_int) {
    let pid = child.id().expect("running") as libc::pid_t;
    // SAFETY: sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

/// The `Stage` attribute of the first row the emulator stores for `type_name`.
pub fn stage(emu: &Emulator, type_name: &str) -> Option<String> {
    emu.stored(INSTANCE, type_name)
        .and_then(|s| s.content.first().and_then(|r| r.get("Stage").cloned()))
}

/// Polls `check` until it holds or `within` passes; returns how long it took.
pub async fn wait_for(within: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = tokio::time::Instant::now();
    while !check() {
        assert!(
            start.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

/// SIGTERM, then the exit code and everything the daemon logged.
pub async fn stop(mut child: tokio::process::Child) -> (Option<i32>, String) {
    signal(&child, libc::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the daemon stops")
        .unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    (status.code(), stderr)
}
