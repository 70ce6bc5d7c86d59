//! The ApplyFleetConfig Command document run as Run Command would run it: its
//! `aws:runShellScript` lines, read from the shipped JSON with the binary's path substituted,
//! against a running daemon (the real binary) polling the emulator. A good new version is
//! applied before the command returns (exit 0), a refused one makes it exit 1, and a node
//! whose polls were throttled does not fetch again sooner than its lengthened interval.
//!
//! Hermetic like every binary-level test: explicit demo credentials, region and instance ID,
//! instance metadata off, the emulator on loopback.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ssm_inventoryd::emulator::{
    DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, Emulator, EmulatorConfig,
};

const BIN: &str = env!("CARGO_BIN_EXE_ssm-inventoryd");
const INSTANCE: &str = "i-0123456789abcdef0";
const PARAM: &str = "/ssm-inventoryd/web";
/// Where the packages install the binary, as the document names it.
const INSTALLED_BIN: &str = "/usr/bin/ssm-inventoryd";
/// Room for process start-up on a loaded machine; not a speed target.
const SLACK: Duration = Duration::from_secs(20);

/// The document's shell script, with the binary under test in place of the installed one.
fn document_script() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging/ssm-inventoryd-ApplyFleetConfig.json");
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(document["schemaVersion"], "2.2");
    let steps = document["mainSteps"].as_array().unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0]["action"], "aws:runShellScript");
    let lines: Vec<&str> = steps[0]["inputs"]["runCommand"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let script = lines.join("\n");
    assert!(script.contains(INSTALLED_BIN), "{script}");
    script.replace(INSTALLED_BIN, BIN)
}

struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new(endpoint: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["etc", "run", "data"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("empty"), "").unwrap();
        std::fs::write(dir.path().join("data/web.json"), "{\"Stage\":\"W\"}").unwrap();
        // A poll interval far beyond the test: only the document makes the node fetch.
        let config = format!(
            "[agent]\ninstance_id = \"{INSTANCE}\"\nregion = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\n\
             state_dir = \"{}\"\nsplay = \"0s\"\nmin_push_interval = \"1s\"\n\
             fleet_config = [\"{PARAM}\"]\nfleet_poll_interval = \"1h\"\nfleet_exec_dirs = [\"/bin\"]\n",
            dir.path().join("state").display()
        );
        std::fs::write(dir.path().join("etc/config.toml"), config).unwrap();
        Node { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn probe(&self, name: &str) -> String {
        format!(
            "[[probe]]\nname = \"{name}\"\nkind = \"exec\"\ntype_name = \"Custom:Web\"\n\
             command = [\"/bin/cat\", \"{}\"]\ninterval = \"1h\"\n",
            self.path("data/web.json").display()
        )
    }

    /// A command with nothing to reach but the emulator, and the daemon's runtime directory.
    fn command(&self, program: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        let empty = self.path("empty");
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.dir.path())
            .env(
                ssm_inventoryd::ssm_agent::SSM_AGENT_DIR_ENV,
                self.path("no-ssm-agent"),
            )
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", DEMO_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", DEMO_SECRET_ACCESS_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", &empty)
            .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
            .env("RUNTIME_DIRECTORY", self.path("run"))
            .env("SSM_INVENTORYD_CONFIG", self.path("etc/config.toml"))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    fn spawn(&self) -> tokio::process::Child {
        let mut cmd = self.command(BIN);
        cmd.arg("run").stdout(Stdio::null()).stderr(Stdio::piped());
        cmd.spawn().expect("start the daemon")
    }

    /// Runs the document's script as Run Command would: (exit code, stdout, stderr).
    async fn run_document(&self) -> (Option<i32>, String, String) {
        let mut cmd = self.command("/bin/sh");
        cmd.arg("-c").arg(document_script());
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .expect("the document finishes within its timeout")
            .expect("run the document");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn stored_version(&self) -> Option<i64> {
        ssm_inventoryd::fleet::store::load(&self.path("state"), PARAM)
            .ok()
            .flatten()
            .map(|s| s.version)
    }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < SLACK, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGTERM, then the exit code and the log.
async fn stop(mut child: tokio::process::Child) -> (Option<i32>, String) {
    if let Some(pid) = child.id() {
        // SAFETY: kill only sends a signal to the child this test started.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    }
    let mut stderr = child.stderr.take().unwrap();
    let status = tokio::time::timeout(SLACK, child.wait())
        .await
        .expect("the daemon stops")
        .unwrap();
    let mut log = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut log)
        .await
        .unwrap();
    (status.code(), log)
}

async fn start(config: EmulatorConfig) -> Emulator {
    assert!(config.listen.ip().is_loopback());
    Emulator::start(config).await.expect("emulator starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_applies_a_new_version_now_and_fails_on_a_refused_one() {
    let emu = start(EmulatorConfig::default()).await;
    let node = Node::new(&emu.endpoint_url());
    emu.put_parameter(PARAM, "String", "# version 1: no probes yet\n");
    let daemon = node.spawn();
    wait_for("the first poll's version", || {
        node.stored_version() == Some(1)
    })
    .await;
    wait_for("the daemon's pid file", || {
        node.path("run/ssm-inventoryd.pid").exists()
    })
    .await;

    // Version 2 adds a probe; the next poll is an hour away, the document applies it now.
    assert_eq!(emu.put_parameter(PARAM, "String", &node.probe("web")), 2);
    let (code, stdout, stderr) = node.run_document().await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("applied {PARAM} version 2"),
        "{stderr}"
    );
    assert_eq!(node.stored_version(), Some(2));
    wait_for("version 2's probe delivering", || {
        emu.stored(INSTANCE, "Custom:Web").is_some()
    })
    .await;

    // Nothing new: still success, saying so.
    let (code, stdout, stderr) = node.run_document().await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("fleet parameters fetched; nothing new: {PARAM} version 2")
    );

    // Version 3 has a typo: refused, exit 1 with the reason; version 2 keeps running.
    emu.put_parameter(
        PARAM,
        "String",
        "[[probe]]\nname = \"web\"\nintervall = \"1s\"\n",
    );
    let (code, stdout, stderr) = node.run_document().await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect::<Vec<_>>(),
        [format!(
            "error: reload refused, ssm-inventoryd keeps the running configuration: parameter {PARAM} version 3 refused (version 2 keeps running): parameter {PARAM} version 3, line 3: key `intervall`: unknown key; did you mean `interval`?"
        )],
        "{stderr}"
    );
    assert_eq!(node.stored_version(), Some(2));

    // Four fetches in all: the first poll and one per document run, one call each.
    let reads = emu.stats().parameter_reads;
    assert_eq!((reads.get_parameters, reads.get_parameter), (4, 0));
    let (code, log) = stop(daemon).await;
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_polls_were_throttled_does_not_fetch_sooner() {
    let emu = start(EmulatorConfig::default()).await;
    let node = Node::new(&emu.endpoint_url());
    emu.put_parameter(PARAM, "String", "# version 1\n");
    let daemon = node.spawn();
    wait_for("the first poll's version", || {
        node.stored_version() == Some(1)
    })
    .await;
    wait_for("the daemon's pid file", || {
        node.path("run/ssm-inventoryd.pid").exists()
    })
    .await;

    // The fetch the document asks for is throttled: it fails, naming the throttling.
    emu.put_parameter(PARAM, "String", "# version 2\n");
    emu.throttle_next(1);
    let (code, stdout, stderr) = node.run_document().await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "parameter {PARAM}: ThrottlingException: Rate exceeded"
        )),
        "{stderr}"
    );

    // Now the node's interval is lengthened: the document does not make it fetch.
    let before = emu.stats().parameter_reads;
    let (code, stdout, stderr) = node.run_document().await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "not fetched: Parameter Store throttled this node's recent polls, so its poll interval is lengthened to 2h (configured 1h); the next poll is in "
        ),
        "{stderr}"
    );
    let after = emu.stats().parameter_reads;
    assert_eq!(after, before);
    assert_eq!(node.stored_version(), Some(1));
    let (code, log) = stop(daemon).await;
    assert_eq!(code, Some(0), "{log}");
}

/// Both packages install the document, and the Distributor output carries it beside the
/// manifest, where the README's `create-document` finds it.
#[test]
fn the_packages_ship_the_document() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let shipped = "packaging/ssm-inventoryd-ApplyFleetConfig.json";
    assert_eq!(
        cargo.lines().filter(|l| l.contains(shipped)).count(),
        2,
        "Cargo.toml: {shipped} must be in both assets lists, the .deb's and the .rpm's"
    );
    assert!(
        cargo.contains("dest = \"/usr/share/ssm-inventoryd/ssm-inventoryd-ApplyFleetConfig.json\"")
    );
    let distributor = std::fs::read_to_string(root.join("packaging/distributor")).unwrap();
    assert!(
        distributor.contains(&format!("shutil.copy(\"{shipped}\", tmp)")),
        "packaging/distributor copies the document beside the manifest"
    );
}
