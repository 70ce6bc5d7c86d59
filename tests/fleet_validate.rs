//! `validate` with fleet parameters: the stored last good copies are checked with the local
//! files, and `--fleet` fetches the newest versions from the endpoint (the emulator) and
//! checks them, with the parameter and version named in every error.

mod common;

use common::Node;
use common::fleet::*;
use ssm_inventoryd::emulator::EmulatorConfig;
use ssm_inventoryd::fleet::store::{self, Stored};

#[tokio::test]
async fn validate_fleet_fetches_and_checks_the_newest_versions() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let node = Node::fleet(&emu);
    node.write_config_with(&node.probe_toml("local", "Custom:Local"));

    // Nothing stored, nothing fetched: the local files alone.
    let (code, stdout, stderr) = node.output(&["validate"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("valid; 1 probes (1 exec, 0 files, 0 system)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("parameter {PARAM}: no version stored yet")),
        "{stdout}"
    );

    // --fleet without the parameter: one line naming it, exit 1 (it may exist later).
    let (code, _, stderr) = node.output(&["validate", "--fleet"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: parameter {PARAM}: not found (ParameterNotFound)"
        )),
        "{stderr}"
    );

    emu.put_parameter(PARAM, "SecureString", &node.probe_toml("web", "Custom:Web"));
    let (code, stdout, stderr) = node.output(&["validate", "--fleet"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!(
            "parameter {PARAM}: fetched version 1 (SecureString)"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "valid with the newest parameters ({PARAM} version 1); 2 probes (2 exec, 0 files, 0 system)"
        )),
        "{stdout}"
    );
    // validate stores nothing: that is the daemon's decision.
    assert_eq!(node.stored_version(), None);

    // A version claiming the local probe's TypeName: exit 2, both places named.
    emu.put_parameter(PARAM, "String", &node.probe_toml("web", "Custom:Local"));
    let (code, _, stderr) = node.output(&["validate", "--fleet"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: parameter {PARAM} version 2, line 4: key `type_name`: TypeName `Custom:Local` is already claimed by probe \"local\" at {}:",
            node.config_path().display()
        )),
        "{stderr}"
    );

    // A StringList is not probe definitions.
    emu.put_parameter(PARAM, "StringList", "a,b");
    let (code, _, stderr) = node.output(&["validate", "--fleet"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: parameter {PARAM}: is a StringList; probe definitions are a String or a SecureString"
        )),
        "{stderr}"
    );

    // Denied: exit 1 naming the permission.
    emu.deny_parameter(PARAM);
    let (code, _, stderr) = node.output(&["validate", "--fleet"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("the node's identity needs ssm:GetParameters on /ssm-inventoryd/web"),
        "{stderr}"
    );
}

#[tokio::test]
async fn validate_checks_the_stored_copies_with_the_local_files() {
    let node = Node::fleet("http://127.0.0.1:9");
    node.write_config_with(&node.probe_toml("local", "Custom:Local"));
    let stored = |text: String| Stored {
        name: PARAM.into(),
        version: 5,
        text,
        parameter_type: "String".into(),
        fetched_at: time::macros::datetime!(2026-12-02 21:00:00 UTC),
    };
    store::save(
        &node.state_dir(),
        &stored(node.probe_toml("web", "Custom:Web")),
    )
    .unwrap();
    let (code, stdout, stderr) = node.output(&["validate"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("valid; 2 probes"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "parameter {PARAM}: last good version 5 (fetched 2026-12-02T21:00:00Z) is valid"
        )),
        "{stdout}"
    );

    // The local files changed since: the stored copy no longer passes with them.
    store::save(
        &node.state_dir(),
        &stored(node.probe_toml("local", "Custom:Other")),
    )
    .unwrap();
    let (code, _, stderr) = node.output(&["validate"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: parameter {PARAM} version 5, line 2: key `name`: probe name \"local\" is already used"
        )),
        "{stderr}"
    );
}
