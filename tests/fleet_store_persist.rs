//! A fleet store that refuses writes (the state folder full): a new parameter version that
//! passes validation runs from memory all the same, the node says once that the store cannot
//! be written (log, STATUS, `status`, metrics), writes it again with backoff, and stores it
//! once there is room, so that a restart without the network runs it.
//!
//! Mounts a 64 KiB tmpfs over the state folder, so it needs root: without it the test prints
//! `SKIP` and passes, unless `SSM_INVENTORYD_REQUIRE_ROOT=1`, when it fails. The spawned
//! daemon polls the in-process emulator on 127.0.0.1 every second.

mod common;

use std::time::Duration;

use common::fleet::PARAM;
use common::{INSTANCE, Node, Supervised, emulator, mount, skip, wait_for};

/// Hang-catcher; never a timing target.
const PATIENCE: Duration = Duration::from_secs(60);
/// How the log says it, once.
const CANNOT: &str = "cannot be written: no storage space";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_fleet_store_runs_the_new_version_from_memory_and_stores_it_later() {
    if !skip::as_root("needs root to mount file systems") {
        return;
    }
    let emu = emulator::start_default().await;
    let mut node = Node::fleet(&emu);
    node.with_metrics_file();
    node.set_stage("web", "one");
    node.set_stage("web2", "two");
    node.write_config();
    let state_dir = node.state_dir();
    std::fs::create_dir_all(&state_dir).expect("state folder");
    // Declared after the node: unmounted before its folder is removed.
    let mounted = mount::tmpfs(&state_dir, "64k");
    assert_eq!(
        emu.put_parameter(PARAM, "String", &node.probe_toml("web", "Custom:Web")),
        1
    );
    let mut daemon = Supervised::start(
        node.command_with_runtime(&["run"]).into_std(),
        &node.path("notify"),
    );
    let what = "version 1 stored and its item delivered";
    wait_for(PATIENCE, what, || {
        daemon.poll(what);
        node.stored_version() == Some(1) && emu.stored(INSTANCE, "Custom:Web").is_some()
    })
    .await;

    let filler = mount::fill(&state_dir);
    let v2 = node.probe_toml("web", "Custom:Web") + &node.probe_toml("web2", "Custom:Web2");
    assert_eq!(emu.put_parameter(PARAM, "String", &v2), 2);
    let what = "version 2 applied from memory and the store's refusal told";
    wait_for(PATIENCE, what, || {
        let d = daemon.poll(what);
        emu.stored(INSTANCE, "Custom:Web2").is_some()
            && !d.log_with(CANNOT).is_empty()
            && d.last_status().contains("fleet versions run from memory")
            && node.metric("ssm_inventoryd_state_persist_failing") == Some(1)
    })
    .await;
    assert_eq!(
        node.stored_version(),
        Some(1),
        "the store still holds version 1"
    );
    let told = daemon.log_with("the fleet store");
    println!("log while full: {}", told.join("\n  "));
    println!("STATUS while full: {}", daemon.last_status());
    // More attempts fail with backoff and are counted, but the fleet store's refusal is told
    // once.
    let what = "a few failed writes";
    wait_for(PATIENCE, what, || {
        daemon.poll(what);
        node.metric("ssm_inventoryd_state_write_failures_total")
            .is_some_and(|n| n >= 4)
    })
    .await;
    let told: Vec<String> = daemon
        .log_with(CANNOT)
        .into_iter()
        .filter(|l| l.contains("the fleet store"))
        .collect();
    assert_eq!(told.len(), 1, "{told:#?}");
    let status_now = node.status_text().await;
    println!("status while full:\n{status_now}");
    assert!(
        status_now.contains("FLEET VERSIONS NOT PERSISTED") && status_now.contains("no storage"),
        "{status_now}"
    );
    println!(
        "metrics while full: persist_failing {:?}, write_failures_total {:?}",
        node.metric("ssm_inventoryd_state_persist_failing"),
        node.metric("ssm_inventoryd_state_write_failures_total")
    );

    std::fs::remove_file(filler).expect("remove the filler");
    let what = "version 2 stored and the indicator cleared";
    wait_for(PATIENCE, what, || {
        let d = daemon.poll(what);
        node.stored_version() == Some(2)
            && !d.log_with("the fleet store is written again").is_empty()
            && node.metric("ssm_inventoryd_state_persist_failing") == Some(0)
            && !d.last_status().contains("from memory")
    })
    .await;
    println!(
        "after: {}",
        daemon
            .log_with("the fleet store is written again")
            .join("\n  ")
    );
    println!("STATUS after: {}", daemon.last_status());
    let status_now = node.status_text().await;
    assert!(
        !status_now.contains("FLEET VERSIONS NOT PERSISTED"),
        "{status_now}"
    );
    drop(daemon);
    drop(mounted);
    emu.shutdown().await;
}
