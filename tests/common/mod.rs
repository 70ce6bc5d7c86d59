//! What the integration tests share, one copy of each. Every test file declares
//! `mod common;` and uses what it needs:
//!
//! * here: the node's identity, the hermetic environment of the binary, waiting
//!   ([`wait_for`]), the daemon as a child process ([`stop`], [`Supervised`]), and the
//!   library-level push ([`client`], [`item`], [`Pusher`]) that runs `cycle::push` directly
//!   so a test can read the `PushReport` the binary only summarises;
//! * [`node`]: a node's directory, configuration and probes, and the binary run on it;
//! * [`daemon`]: the daemon in this process on a paused clock, against the emulator;
//! * [`emulator`]: the emulator, and a plain SDK client for testing it;
//! * [`fleet`]: a node whose probes come partly from Parameter Store;
//! * [`awscli`]: the AWS CLI as a second, independent client;
//! * [`mount`]: a tmpfs to fill up, or a read-only bind mount, over a node's folder;
//! * [`procs`]: the processes a probe left behind, found by a marker in their command line;
//! * [`skip`]: how a test that needs root or a tool skips, or fails where it is required.
//!
//! Everything talks to the emulator on 127.0.0.1, with explicit demo credentials, region and
//! instance ID, and instance metadata off, so nothing can reach AWS.
// Each test binary uses a different part of this shared module, its re-exports included.
#![allow(dead_code, unused_imports)]

pub mod awscli;
pub mod daemon;
pub mod emulator;
pub mod fleet;
pub mod mount;
pub mod node;
pub mod peak;
pub mod procs;
pub mod skip;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_ssm::Client;
use ssm_inventoryd::aws as sdk_client;
use ssm_inventoryd::batch::Budget;
use ssm_inventoryd::config::OnRemoved;
use ssm_inventoryd::cycle::{self, Collected, PushOptions, PushReport};
use ssm_inventoryd::emulator::{DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, Emulator};
use ssm_inventoryd::inventory::{Item, RawItem, Row};
use ssm_inventoryd::plan::Intervals;
use ssm_inventoryd::sender::RetryPolicy;
use ssm_inventoryd::state::State;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

pub use node::Node;

pub const INSTANCE: &str = "i-0123456789abcdef0";
pub const REGION: &str = "us-east-1";
pub const CAPTURE_TIME: &str = "2026-11-27T10:00:00Z";

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ssm-inventoryd");

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
        node::read_state(self.dir.path())
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

/// Polls `check` until it holds or `within` passes; returns how long it took. On tokio's
/// time: real time for a test on the real clock, virtual time for one on a paused clock
/// ([`daemon`]), where each poll also gives real threads a moment (see [`daemon::settle`]).
pub async fn wait_for(within: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = tokio::time::Instant::now();
    while !check() {
        assert!(
            start.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        daemon::settle().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
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

/// A loopback port nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    port
}

/// The daemon as a child process with a systemd notify socket: its stderr lines as they
/// come (echoed to the test's own), and the STATUS lines it sends. Stopped with SIGTERM and
/// reaped when dropped.
pub struct Supervised {
    pub child: std::process::Child,
    log: Arc<Mutex<Vec<String>>>,
    notify: UnixDatagram,
    statuses: Vec<String>,
    /// How many of `statuses` [`Supervised::status_with`] has looked at.
    seen: usize,
}

impl Supervised {
    /// Spawns `cmd` (e.g. [`Node::command`]`(&["run"])` as a `std` command) with
    /// `NOTIFY_SOCKET` at `socket`, stdout discarded and stderr collected.
    pub fn start(mut cmd: std::process::Command, socket: &Path) -> Supervised {
        let notify = UnixDatagram::bind(socket).expect("bind the notify socket");
        notify
            .set_nonblocking(true)
            .expect("non-blocking notify socket");
        let mut child = cmd
            .env("NOTIFY_SOCKET", socket)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the daemon");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                lines.lock().expect("log lock").push(line);
            }
        });
        Supervised {
            child,
            log,
            notify,
            statuses: Vec::new(),
            seen: 0,
        }
    }

    /// Reads the STATUS lines sent since the last read.
    pub fn drain_status(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.notify.recv(&mut buf) {
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            for line in message.lines() {
                if let Some(status) = line.strip_prefix("STATUS=") {
                    eprintln!("STATUS={status}");
                    self.statuses.push(status.to_owned());
                }
            }
        }
    }

    /// The last STATUS read, empty before the first.
    pub fn last_status(&self) -> &str {
        self.statuses.last().map_or("", String::as_str)
    }

    /// Reads the STATUS lines sent so far and checks the daemon still runs, for a
    /// [`wait_for`] on `what`.
    pub fn poll(&mut self, what: &str) -> &Supervised {
        self.drain_status();
        assert!(
            self.child.try_wait().expect("wait").is_none(),
            "the daemon exited while waiting for {what}"
        );
        self
    }

    /// Waits up to `within` for a STATUS line not looked at before that contains `text`,
    /// and returns it.
    pub fn status_with(&mut self, text: &str, within: Duration) -> String {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            self.drain_status();
            while self.seen < self.statuses.len() {
                let status = &self.statuses[self.seen];
                self.seen += 1;
                if status.contains(text) {
                    return status.clone();
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no STATUS with {text:?}; saw {:?}", self.statuses);
    }

    /// The log lines that contain `text`.
    pub fn log_with(&self, text: &str) -> Vec<String> {
        let log = self.log.lock().expect("log lock");
        log.iter().filter(|l| l.contains(text)).cloned().collect()
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap_or(0);
        if pid > 0 {
            // SAFETY: kill(2) on our own child's pid; no memory is involved.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let _ = self.child.wait();
    }
}
