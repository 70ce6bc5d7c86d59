//! The ApplyFleetConfig Command document run as Run Command would run it: its
//! `aws:runShellScript` lines, read from the shipped JSON with the binary's path substituted,
//! against a running daemon (the real binary) polling the emulator. A good new version is
//! applied before the command returns (exit 0), a refused one makes it exit 1, and a node
//! whose polls were throttled does not fetch again sooner than its lengthened interval.
//!
//! Hermetic like every binary-level test: explicit demo credentials, region and instance ID,
//! instance metadata off, the emulator on loopback.

mod common;

use std::path::Path;
use std::time::Duration;

use common::fleet::PARAM;
use common::{BIN, INSTANCE, Node, emulator, stop, wait_for};
use ssm_inventoryd::emulator::Emulator;

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

/// A fleet node whose poll interval is far beyond the test: only the document makes it
/// fetch. Its runtime directory is `run/`, where the document finds the daemon.
fn node(emu: &Emulator) -> Node {
    let mut node = Node::fleet(emu);
    node.set("fleet_poll_interval", "\"1h\"");
    // The probe version 2 adds runs with the default timeout.
    node.probe_timeout = "30s".into();
    std::fs::create_dir_all(node.path("run")).expect("runtime directory");
    node.set_output("web", "{\"Stage\":\"W\"}");
    node.write_config();
    node
}

fn runtime_dir(node: &Node) -> String {
    node.path("run").display().to_string()
}

/// Runs the document's script as Run Command would, with nothing to reach but the emulator
/// and the daemon's runtime directory: (exit code, stdout, stderr).
async fn run_document(node: &Node) -> (Option<i32>, String, String) {
    let mut cmd = node.program("/bin/sh");
    cmd.env("RUNTIME_DIRECTORY", runtime_dir(node))
        .env("SSM_INVENTORYD_CONFIG", node.config_path())
        .arg("-c")
        .arg(document_script());
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

/// Puts version 1 of the parameter, `text`, and starts the daemon on a new node; returns once
/// the daemon has stored version 1 and written its pid file, where the document finds it.
async fn start(emu: &Emulator, text: &str) -> (Node, tokio::process::Child) {
    let node = node(emu);
    emu.put_parameter(PARAM, "String", text);
    let daemon = node.spawn(&[("RUNTIME_DIRECTORY", &runtime_dir(&node))]);
    wait_for(SLACK, "the first poll's version", || {
        node.stored_version() == Some(1)
    })
    .await;
    wait_for(SLACK, "the daemon's pid file", || {
        node.path("run/ssm-inventoryd.pid").exists()
    })
    .await;
    (node, daemon)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_applies_a_new_version_now_and_fails_on_a_refused_one() {
    let emu = emulator::start_default().await;
    let (node, daemon) = start(&emu, "# version 1: no probes yet\n").await;

    // Version 2 adds a probe; the next poll is an hour away, the document applies it now.
    assert_eq!(
        emu.put_parameter(
            PARAM,
            "String",
            &node.probe_toml_every("web", "Custom:Web", "1h")
        ),
        2
    );
    let (code, stdout, stderr) = run_document(&node).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("applied {PARAM} version 2"),
        "{stderr}"
    );
    assert_eq!(node.stored_version(), Some(2));
    wait_for(SLACK, "version 2's probe delivering", || {
        emu.stored(INSTANCE, "Custom:Web").is_some()
    })
    .await;

    // Nothing new: still success, saying so.
    let (code, stdout, stderr) = run_document(&node).await;
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
    let (code, stdout, stderr) = run_document(&node).await;
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
    let emu = emulator::start_default().await;
    let (node, daemon) = start(&emu, "# version 1\n").await;

    // The fetch the document asks for is throttled: it fails, naming the throttling.
    emu.put_parameter(PARAM, "String", "# version 2\n");
    emu.throttle_next(1);
    let (code, stdout, stderr) = run_document(&node).await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "parameter {PARAM}: ThrottlingException: Rate exceeded"
        )),
        "{stderr}"
    );

    // Now the node's interval is lengthened: the document does not make it fetch.
    let before = emu.stats().parameter_reads;
    let (code, stdout, stderr) = run_document(&node).await;
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
