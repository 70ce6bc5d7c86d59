//! The metrics file of `ssm-inventoryd run`, read with Prometheus's own text-format parser
//! (the Python `prometheus_client` package, as node_exporter's users would check it) after a
//! scripted run of pushes, throttling, a quarantined type and a failing probe, and compared
//! with what the emulator saw.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use common::{BIN, INSTANCE, REGION, hermetic_env};
use ssm_inventoryd::emulator::{EmulatorConfig, ErrorCode, Refusal};
use tokio::time::Instant;

/// Room for a loaded machine; not a speed target.
const SLACK: Duration = Duration::from_secs(20);

/// Parses the file with `prometheus_client` and returns `name{labels}` → value.
fn parse(path: &std::path::Path) -> BTreeMap<String, f64> {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
with open(sys.argv[1]) as f:
    for family in text_string_to_metric_families(f.read()):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[s.name + ("{" + labels + "}" if labels else "")] = s.value
print(json.dumps(out))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the Prometheus parser refused the file (pip install prometheus_client): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("parser output")
}

/// Whether Python's `prometheus_client` is there. Without it the test skips, unless
/// `SSM_INVENTORYD_REQUIRE_PROMETHEUS_PARSER=1` (CI sets it).
fn parser_available() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    common::skip::can_run(
        found,
        common::skip::PROMETHEUS_PARSER,
        "no Python prometheus_client to parse the metrics file with \
         (python3 -m pip install prometheus_client)",
    )
}

#[tokio::test]
async fn the_metrics_file_parses_and_matches_what_the_emulator_saw() {
    if !parser_available() {
        return;
    }
    let emu = common::emulator::start(EmulatorConfig {
        refuse: vec![Refusal::named("Custom:Bad", ErrorCode::InvalidTypeName)],
        ..EmulatorConfig::default()
    })
    .await;
    // The first two calls are throttled: retried, and counted by code.
    emu.throttle_next(2);
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("ssm_inventoryd.prom");
    let data = dir.path().join("good.json");
    std::fs::write(&data, r#"{"Stage":"A"}"#).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\ninstance_id = \"{INSTANCE}\"\nregion = \"{REGION}\"\nendpoint_url = \"{}\"\n\
             state_dir = \"{}\"\nsplay = \"0s\"\nmin_push_interval = \"0s\"\nretry_base = \"20ms\"\n\
             retry_cap = \"100ms\"\nmetrics_file = \"{}\"\n\
             \n[[probe]]\nname = \"good\"\nkind = \"exec\"\ntype_name = \"Custom:Good\"\n\
             command = [\"/bin/cat\", \"{}\"]\ninterval = \"1s\"\ntimeout = \"1s\"\n\
             \n[[probe]]\nname = \"bad\"\nkind = \"exec\"\ntype_name = \"Custom:Bad\"\n\
             command = [\"/bin/echo\", '{{\"X\":\"1\"}}']\ninterval = \"1h\"\n\
             \n[[probe]]\nname = \"failing\"\nkind = \"exec\"\ntype_name = \"Custom:Failing\"\n\
             command = [\"/bin/false\"]\ninterval = \"1s\"\ntimeout = \"1s\"\n",
            emu.endpoint_url(),
            dir.path().join("state").display(),
            metrics.display(),
            data.display()
        ),
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("--config").arg(&config).arg("run");
    hermetic_env(&mut cmd, dir.path());
    let mut daemon = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // A second push with a change, so the counters add up over more than one push.
    let start = Instant::now();
    while emu.stored(INSTANCE, "Custom:Good").is_none() {
        assert!(start.elapsed() < SLACK, "the first push");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::fs::write(&data, r#"{"Stage":"B"}"#).unwrap();
    let changed = |emu: &ssm_inventoryd::emulator::Emulator| {
        emu.stored(INSTANCE, "Custom:Good")
            .and_then(|s| s.content.first().and_then(|r| r.get("Stage").cloned()))
            .as_deref()
            == Some("B")
    };
    while !changed(&emu) {
        assert!(start.elapsed() < SLACK, "the second push");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The file is written after the push that the emulator has just answered.
    let stats = emu.stats();
    let mut parsed = BTreeMap::new();
    while start.elapsed() < SLACK {
        if metrics.exists() {
            parsed = parse(&metrics);
            if parsed.get("ssm_inventoryd_put_inventory_requests_total")
                == Some(&(stats.requests as f64))
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(daemon.id().unwrap() as libc::pid_t, libc::SIGTERM) };
    let _ = tokio::time::timeout(SLACK, daemon.wait()).await;

    let get = |key: &str| parsed.get(key).copied().unwrap_or(-1.0);
    println!("emulator: {stats:?}");
    println!("metrics: {parsed:?}");
    assert_eq!(
        get("ssm_inventoryd_put_inventory_requests_total"),
        stats.requests as f64
    );
    assert_eq!(
        get("ssm_inventoryd_put_inventory_request_bytes_total"),
        stats.request_body_bytes as f64
    );
    for (code, n) in &stats.errors {
        assert_eq!(
            get(&format!(
                "ssm_inventoryd_put_inventory_errors_total{{code=\"{code}\"}}"
            )),
            *n as f64,
            "{code}"
        );
    }
    assert_eq!(stats.errors.get("ThrottlingException"), Some(&2));
    assert!(stats.errors.contains_key("InvalidTypeNameException"));
    assert_eq!(
        get("ssm_inventoryd_items_total{outcome=\"full\"}"),
        stats.items as f64,
        "every item the emulator accepted was sent in full"
    );
    assert_eq!(get("ssm_inventoryd_quarantined_types"), 1.0);
    assert_eq!(get("ssm_inventoryd_pending_items"), 0.0);
    assert!(get("ssm_inventoryd_pushes_total") >= 2.0);
    assert!(get("ssm_inventoryd_probe_failures_total{probe=\"failing\"}") >= 1.0);
    assert_eq!(
        get("ssm_inventoryd_probe_failures_total{probe=\"good\"}"),
        0.0
    );
    assert!(get("ssm_inventoryd_probe_runs_total{probe=\"good\"}") >= 2.0);
    assert!(get("ssm_inventoryd_last_acknowledged_push_timestamp_seconds") > 1.7e9);
}
