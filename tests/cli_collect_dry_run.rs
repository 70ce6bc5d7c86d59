//! `collect` and `once --dry-run` on the shipped example configuration: both print valid
//! JSON, and every dry-run body passes the emulator's independent PutInventory rules.

use std::path::PathBuf;
use std::process::{Command, Output};

fn example_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/ssm-inventoryd.toml")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ssm-inventoryd"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // Whatever SSM Agent this machine has, the binary sees none.
        .env(
            ssm_inventoryd::ssm_agent::SSM_AGENT_DIR_ENV,
            "/nonexistent/ssm-inventoryd-test/ssm-agent",
        )
        .output()
        .expect("run ssm-inventoryd")
}

fn lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(output.stdout.clone())
        .expect("stdout is UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

#[test]
fn collect_prints_one_valid_item_per_line() {
    let config = example_config();
    let output = run(&["--config", config.to_str().unwrap(), "collect"]);
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let items = lines(&output);
    assert!(items.len() >= 3, "{items:?}");
    for item in &items {
        let type_name = item["TypeName"].as_str().unwrap();
        assert!(type_name.starts_with("Custom:"), "{item}");
        assert_eq!(item["ContentHash"].as_str().unwrap().len(), 24, "{item}");
        assert!(item["Content"].is_array(), "{item}");
        assert!(item["CaptureTime"].as_str().unwrap().ends_with('Z'));
    }
    assert!(items.iter().any(|i| i["TypeName"] == "Custom:StageInfo"));
}

#[test]
fn collect_one_probe_and_an_unknown_one() {
    let config = example_config();
    let output = run(&[
        "--config",
        config.to_str().unwrap(),
        "collect",
        "--probe",
        "stage",
    ]);
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let items = lines(&output);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["Content"][0]["Stage"], "PreProd");

    let output = run(&[
        "--config",
        config.to_str().unwrap(),
        "collect",
        "--probe",
        "nope",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no probe named `nope`"), "{stderr}");
}

#[test]
fn dry_run_bodies_pass_the_emulator_rules() {
    let config = example_config();
    let state = tempfile::tempdir().unwrap();
    // The example's state_dir is /var/lib; point a copy of the config at a temp one.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("/var/lib/ssm-inventoryd", state.path().to_str().unwrap())
        .replace(
            "probes_dir = \"probes.d\"",
            &format!(
                "probes_dir = {:?}",
                config.parent().unwrap().join("probes.d")
            ),
        );
    let copy = state.path().join("config.toml");
    std::fs::write(&copy, text).unwrap();

    let output = run(&[
        "--config",
        copy.to_str().unwrap(),
        "once",
        "--dry-run",
        "--instance-id",
        "i-0123456789abcdef0",
    ]);
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bodies = lines(&output);
    assert_eq!(bodies.len(), 1, "the example fits one request");
    let body = &bodies[0];
    assert_eq!(body["InstanceId"], "i-0123456789abcdef0");
    assert!(body["Items"].as_array().unwrap().len() >= 3);
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        ssm_inventoryd::emulator::check_request_body(line.as_bytes()).unwrap_or_else(|e| {
            panic!("dry-run body refused by the emulator's rules: {e}\n{line}")
        });
    }
    // Touching no state: the directory holds only the copied config.
    let entries: Vec<_> = std::fs::read_dir(state.path()).unwrap().collect();
    assert_eq!(entries.len(), 1);
}

#[test]
fn dry_run_without_an_identity_is_a_configuration_error() {
    let config = example_config();
    let output = run(&["--config", config.to_str().unwrap(), "once", "--dry-run"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // No SSM Agent files (see `run`) and metadata disabled: exit 2, one clear line.
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot tell this node's instance ID"),
        "{stderr}"
    );
}

#[test]
fn log_level_comes_from_the_config_unless_rust_log_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let write = |level: &str| {
        std::fs::write(
            &config,
            format!(
                "[agent]\nlog_level = \"{level}\"\nstate_dir = \"{}\"\n\n[[probe]]\nname = \"p\"\nkind = \"exec\"\n\
                 type_name = \"Custom:P\"\nshell = true\ncommand = \"echo note >&2; echo '{{\\\"A\\\":1}}'\"\n",
                dir.path().join("state").display()
            ),
        )
        .unwrap();
    };
    let stderr_of = |extra_env: Option<(&str, &str)>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ssm-inventoryd"));
        command
            .args(["--config", config.to_str().unwrap(), "collect"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_EC2_METADATA_DISABLED", "true");
        if let Some((k, v)) = extra_env {
            command.env(k, v);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    write("info");
    assert!(stderr_of(None).contains("the probe wrote to stderr"));
    write("warn");
    assert!(!stderr_of(None).contains("the probe wrote to stderr"));
    assert!(stderr_of(Some(("RUST_LOG", "info"))).contains("the probe wrote to stderr"));
}
