//! Fleet configuration from Parameter Store, end to end: the daemon polls the emulator's
//! GetParameters, applies good versions like a reload, refuses bad ones while the last good one
//! keeps delivering, starts offline from its stored copy, and enforces the fleet policy.
//!
//! Polling, applying and refusing run in this process on a paused clock (`common::daemon`),
//! with `files` probes. Three tests run the binary on the real clock: STATUS notifications
//! are the process's; the emulator that comes up later on a fixed port is not one the harness
//! starts with; and a TypeName claimed twice needs exec probes, which declare theirs (a child
//! process runs on real time, which a paused clock would leap over).

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::INSTANCE;
use common::daemon::{Daemon, run_blocking};
use common::fleet::*;
use common::{Node, stage, stop, wait_for};
use ssm_inventoryd::emulator::EmulatorConfig;
use tokio::time::Instant;

/// On the paused clock, in this process (`common::daemon`): the poll interval and the pushes
/// take virtual time. The probes are `files` probes, which a parameter may describe.
#[tokio::test(start_paused = true)]
async fn a_new_version_is_applied_within_one_poll_and_its_probes_deliver() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let node = Node::fleet(&emu);
    node.set_document("local", "Custom:Local", "L");
    node.set_document("web", "Custom:Web", "W1");
    node.set_document("web2", "Custom:Web2", "W2");
    node.write_config_with(&node.files_probe_toml("local", "1s"));
    assert_eq!(
        emu.put_parameter(PARAM, "SecureString", &node.files_probe_toml("web", "1s")),
        1
    );
    let daemon = Daemon::start(emu, &node);
    let emu = &daemon.emu;

    wait_for(SLACK, "the local and the fleet probe's items", || {
        stage(emu, "Custom:Local").as_deref() == Some("L")
            && stage(emu, "Custom:Web").as_deref() == Some("W1")
    })
    .await;
    assert_eq!(node.stored_version(), Some(1));

    // Version 2 adds a probe: it runs and delivers within a poll interval, plus the time to
    // run it and push (min_push_interval 1s).
    let v2 = format!(
        "{}{}",
        node.files_probe_toml("web", "1s"),
        node.files_probe_toml("web2", "1s")
    );
    assert_eq!(emu.put_parameter(PARAM, "SecureString", &v2), 2);
    let applied = wait_for(SLACK, "version 2 stored", || {
        node.stored_version() == Some(2)
    })
    .await;
    // One poll interval (the splay is 0s here), plus room for the steps in between.
    assert!(applied < POLL + Duration::from_secs(4), "took {applied:?}");
    let took = wait_for(SLACK, "the new version's item", || {
        stage(emu, "Custom:Web2").as_deref() == Some("W2")
    })
    .await;
    assert!(
        applied + took < POLL + Duration::from_secs(8),
        "took {took:?}"
    );
    assert_eq!(node.stored_version(), Some(2));

    let out = run_blocking(node.command(&["status"])).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));
    assert!(
        stdout.contains(&format!("parameter {PARAM}: version 2 applied, fetched ")),
        "{stdout}"
    );

    let log = daemon.stop().await;
    assert_eq!(
        lines_with(
            &log,
            &[&format!("parameter {PARAM} version 2 passed validation")]
        )
        .len(),
        1,
        "{log}"
    );
    // The stored copy of a SecureString is for the daemon's user only.
    let stored = node.path("state/fleet/%2Fssm-inventoryd%2Fweb.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(stored).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn a_broken_version_is_refused_and_the_last_good_one_keeps_delivering() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let node = Node::fleet(&emu);
    node.set_stage("web", "A");
    node.write_config_with("");
    emu.put_parameter(PARAM, "String", &node.probe_toml("web", "Custom:Web"));
    let socket_path = node.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let daemon = node.spawn(&[("NOTIFY_SOCKET", socket_path.to_str().unwrap())]);
    wait_for(SLACK, "version 1's item", || {
        stage(&emu, "Custom:Web").as_deref() == Some("A")
    })
    .await;

    // Version 2 has a typo on its line 3.
    emu.put_parameter(
        PARAM,
        "String",
        "[[probe]]\nname = \"web\"\nintervall = \"1s\"\n",
    );
    wait_for(SLACK, "the refusal", || node.refused().is_some()).await;
    let (version, reason) = node.refused().unwrap();
    assert_eq!(version, 2);
    assert_eq!(
        reason,
        format!(
            "parameter {PARAM} version 2, line 3: key `intervall`: unknown key; did you mean `interval`?"
        )
    );
    assert_eq!(node.stored_version(), Some(1));

    // Version 1's probe still runs and delivers.
    node.set_stage("web", "B");
    wait_for(SLACK, "a change from the last good version's probe", || {
        stage(&emu, "Custom:Web").as_deref() == Some("B")
    })
    .await;

    // STATUS says so, and so does `status`.
    let want =
        format!("version 2 refused (version 1 keeps running): parameter {PARAM} version 2, line 3");
    let seen = tokio::task::spawn_blocking(move || {
        let until = Instant::now() + SLACK;
        let mut buf = [0u8; 4096];
        let mut seen = Vec::new();
        while Instant::now() < until {
            if let Ok(n) = socket.recv(&mut buf) {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = m.contains(&want);
                seen.push(m);
                if done {
                    break;
                }
            }
        }
        seen
    })
    .await
    .unwrap();
    assert!(
        seen.iter().any(|m| m.contains("STATUS=")
            && m.contains(&format!("fleet: parameter {PARAM} version 2 refused"))),
        "{seen:?}"
    );
    let (code, stdout, _) = node.output(&["status"]).await;
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains(&format!(
            "parameter {PARAM}: version 1 applied, fetched "
        )) && stdout.contains("REFUSED version 2: parameter /ssm-inventoryd/web version 2, line 3: key `intervall`"),
        "{stdout}"
    );
    let (code, json, _) = node.output(&["status", "--json"]).await;
    assert_eq!(code, Some(0));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["fleet"][0]["applied_version"], 1);
    assert_eq!(json["fleet"][0]["refused"]["version"], 2);

    // A fixed version is applied and clears the refusal.
    node.set_stage("web3", "C");
    emu.put_parameter(PARAM, "String", &node.probe_toml("web3", "Custom:Web3"));
    wait_for(SLACK, "version 3's item", || {
        stage(&emu, "Custom:Web3").as_deref() == Some("C")
    })
    .await;
    assert_eq!(node.stored_version(), Some(3));
    assert_eq!(node.refused(), None);

    let (code, stderr) = stop(daemon).await;
    assert_eq!(code, Some(0), "{stderr}");
    // Polled every second while refused, logged once.
    let refusals = lines_with(
        &stderr,
        &["ERROR", &format!("parameter {PARAM} version 2 refused")],
    );
    assert_eq!(refusals.len(), 1, "{stderr}");
}

#[tokio::test]
async fn a_node_started_with_the_endpoint_unreachable_runs_its_last_good_version() {
    // A port nothing listens on yet; the emulator is started there later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let node = Node::fleet(&endpoint);
    node.set_stage("web", "stored");
    node.write_config_with("");
    ssm_inventoryd::fleet::store::save(
        &node.state_dir(),
        &ssm_inventoryd::fleet::store::Stored {
            name: PARAM.into(),
            version: 4,
            text: node.probe_toml("web", "Custom:Web"),
            parameter_type: "String".into(),
            fetched_at: time::OffsetDateTime::now_utc(),
        },
    )
    .unwrap();
    let daemon = node.spawn(&[]);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The endpoint comes up without the parameter (GetParameters: InvalidParameters): the
    // stored version is all the node has, and its probe's item is delivered.
    let emu = common::emulator::start(EmulatorConfig {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        ..EmulatorConfig::default()
    })
    .await;
    wait_for(SLACK, "the stored version's item", || {
        stage(&emu, "Custom:Web").as_deref() == Some("stored")
    })
    .await;
    assert_eq!(node.stored_version(), Some(4));
    wait_for(SLACK, "a poll that reached the endpoint", || {
        emu.parameter_gets() >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, stderr) = stop(daemon).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !lines_with(&stderr, &["WARN", &format!("parameter {PARAM}: ")]).is_empty(),
        "the unreachable endpoint is logged: {stderr}"
    );
    assert!(
        !lines_with(&stderr, &["ERROR", "not found (ParameterNotFound)"]).is_empty(),
        "{stderr}"
    );
    let _ = INSTANCE;
}

#[tokio::test(start_paused = true)]
async fn an_exec_probe_outside_the_allowed_directories_is_refused_with_one_clear_line() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let node = Node::fleet(&emu);
    node.set_document("local", "Custom:Local", "L");
    node.write_config_with(&node.files_probe_toml("local", "1s"));
    emu.put_parameter(
        PARAM,
        "String",
        "[[probe]]\nname = \"env\"\nkind = \"exec\"\ntype_name = \"Custom:Env\"\ncommand = [\"/usr/bin/env\"]\n",
    );
    let daemon = Daemon::start(emu, &node);
    let emu = &daemon.emu;
    // A node that never fetched a good version runs its local files alone.
    wait_for(SLACK, "the local probe's item", || {
        stage(emu, "Custom:Local").as_deref() == Some("L")
    })
    .await;
    wait_for(SLACK, "the refusal", || node.refused().is_some()).await;
    tokio::time::sleep(POLL * 2).await;
    assert!(emu.stored(INSTANCE, "Custom:Env").is_none());
    let stderr = daemon.stop().await;
    let lines = lines_with(&stderr, &["ERROR", "outside `[agent] fleet_exec_dirs`"]);
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains(&format!(
            "parameter {PARAM} version 1 refused (no version of it has passed, so none of its probes run): parameter {PARAM} version 1, line 5: key `command`: probe \"env\": the program /usr/bin/env is outside `[agent] fleet_exec_dirs` (/bin)"
        )),
        "{}",
        lines[0]
    );
    assert_eq!(node.stored_version(), None);
}

#[tokio::test(start_paused = true)]
async fn without_get_parameter_permission_one_line_names_it_and_local_probes_keep_running() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    emu.deny_parameter(PARAM);
    let node = Node::fleet(&emu);
    node.set_document("local", "Custom:Local", "L");
    node.write_config_with(&node.files_probe_toml("local", "1s"));
    let daemon = Daemon::start(emu, &node);
    let emu = &daemon.emu;
    wait_for(SLACK, "the local probe's item", || {
        stage(emu, "Custom:Local").as_deref() == Some("L")
    })
    .await;
    wait_for(SLACK, "several polls", || emu.parameter_gets() >= 3).await;
    node.set_document("local", "Custom:Local", "L2");
    wait_for(SLACK, "the local probe's change", || {
        stage(emu, "Custom:Local").as_deref() == Some("L2")
    })
    .await;
    let out = run_blocking(node.command(&["status"])).await;
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("PROBLEM: parameter /ssm-inventoryd/web: access denied"),
        "{stdout}"
    );
    let stderr = daemon.stop().await;
    let lines = lines_with(&stderr, &["ERROR", "access denied (AccessDeniedException)"]);
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains(&format!(
            "parameter {PARAM}: access denied (AccessDeniedException): the node's identity needs ssm:GetParameters on {PARAM}"
        )),
        "{}",
        lines[0]
    );
}

#[tokio::test]
async fn a_stored_version_that_no_longer_fits_the_local_files_is_left_out_and_reported() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let node = Node::fleet(&emu);
    node.set_stage("local", "L");
    node.set_stage("web", "W");
    // While the daemon was stopped, a local probe took the TypeName of the stored version.
    node.write_config_with(&node.probe_toml("local", "Custom:Web"));
    let clashing = node.probe_toml("web", "Custom:Web");
    assert_eq!(emu.put_parameter(PARAM, "String", &clashing), 1);
    ssm_inventoryd::fleet::store::save(
        &node.state_dir(),
        &ssm_inventoryd::fleet::store::Stored {
            name: PARAM.into(),
            version: 1,
            text: clashing,
            parameter_type: "String".into(),
            fetched_at: time::OffsetDateTime::now_utc(),
        },
    )
    .unwrap();
    let daemon = node.spawn(&[]);
    // The local files run.
    wait_for(SLACK, "the local probe's item", || {
        stage(&emu, "Custom:Web").as_deref() == Some("L")
    })
    .await;
    wait_for(SLACK, "a poll", || emu.parameter_gets() >= 1).await;
    let mut stdout = String::new();
    wait_for(SLACK, "status to show the left-out version", || {
        stdout = std::process::Command::new(common::BIN)
            .arg("--config")
            .arg(node.config_path())
            .arg("status")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        stdout.contains("is left out until a version that passes is fetched")
    })
    .await;
    assert!(
        stdout.contains(&format!(
            "PROBLEM: parameter {PARAM} version 1 (the last good version) is left out"
        )),
        "{stdout}"
    );

    // A version that fits is applied and the problem goes away.
    node.set_stage("web2", "W2");
    emu.put_parameter(PARAM, "String", &node.probe_toml("web2", "Custom:Web2"));
    wait_for(SLACK, "version 2's item", || {
        stage(&emu, "Custom:Web2").as_deref() == Some("W2")
    })
    .await;
    let (code, stderr) = stop(daemon).await;
    assert_eq!(code, Some(0), "{stderr}");
    let lines = lines_with(&stderr, &["ERROR", "is left out"]);
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains(&format!(
            "parameter {PARAM} version 1, line 4: key `type_name`: TypeName `Custom:Web` is already claimed by probe \"local\" at {}:",
            node.config_path().display()
        )),
        "{}",
        lines[0]
    );
}
