//! Parameter Store in the emulator against the AWS CLI, and the CLI driving a running daemon:
//! `aws ssm put-parameter --value file://probes.toml --overwrite` is how an operator changes a
//! fleet's probes, so that exact command must work against the emulator and reach the node.
//!
//! Needs `aws` on PATH. Without it the test prints a skip line and passes, unless
//! `SSM_INVENTORYD_REQUIRE_AWSCLI=1`, in which case it fails.

mod common;

use std::process::Output;

use common::awscli::{aws_ssm, find_aws_or_skip, show};
use common::fleet::*;
use common::{Node, stage, stop, wait_for};
use ssm_inventoryd::emulator::EmulatorConfig;

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", show(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(out)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_put_parameter_drives_a_running_daemon() {
    let Some(aws) = find_aws_or_skip() else {
        return;
    };
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let endpoint = emu.endpoint_url();
    let node = Node::fleet(&endpoint);
    node.set_stage("web", "from-cli");
    node.set_stage("web2", "second");
    node.write_config_with("");
    let daemon = node.spawn(&[]);

    // The parameter does not exist yet: the CLI sees ParameterNotFound as the daemon does.
    let missing = aws_ssm(&aws, &endpoint, &["get-parameter", "--name", PARAM]).await;
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("ParameterNotFound"),
        "{}",
        show(&missing)
    );

    // Version 1, from a file, as an operator would put it.
    let probes = node.path("probes.toml");
    std::fs::write(&probes, node.probe_toml("web", "Custom:Web")).unwrap();
    let value = format!("file://{}", probes.display());
    let put = json(
        &aws_ssm(
            &aws,
            &endpoint,
            &[
                "put-parameter",
                "--name",
                PARAM,
                "--type",
                "SecureString",
                "--value",
                &value,
            ],
        )
        .await,
    );
    assert_eq!(put["Version"], 1);
    assert_eq!(put["Tier"], "Standard");
    wait_for(SLACK, "the item of the probe the CLI put", || {
        stage(&emu, "Custom:Web").as_deref() == Some("from-cli")
    })
    .await;

    // The CLI reads it back decrypted, with the answer's metadata.
    let got = json(
        &aws_ssm(
            &aws,
            &endpoint,
            &["get-parameter", "--name", PARAM, "--with-decryption"],
        )
        .await,
    );
    let p = &got["Parameter"];
    assert_eq!(p["Name"], PARAM);
    assert_eq!(p["Type"], "SecureString");
    assert_eq!(p["Version"], 1);
    assert_eq!(p["Value"], node.probe_toml("web", "Custom:Web").as_str());
    assert_eq!(
        p["ARN"],
        format!("arn:aws:ssm:us-east-1:123456789012:parameter{PARAM}")
    );
    assert!(p["LastModifiedDate"].is_string() || p["LastModifiedDate"].is_number());
    let hidden = json(&aws_ssm(&aws, &endpoint, &["get-parameter", "--name", PARAM]).await);
    assert_ne!(hidden["Parameter"]["Value"], p["Value"]);

    // Without --overwrite an existing name is refused; with it, version 2 reaches the node.
    std::fs::write(
        &probes,
        format!(
            "{}{}",
            node.probe_toml("web", "Custom:Web"),
            node.probe_toml("web2", "Custom:Web2")
        ),
    )
    .unwrap();
    let refused = aws_ssm(
        &aws,
        &endpoint,
        &[
            "put-parameter",
            "--name",
            PARAM,
            "--type",
            "SecureString",
            "--value",
            &value,
        ],
    )
    .await;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("ParameterAlreadyExists"),
        "{}",
        show(&refused)
    );
    let put = json(
        &aws_ssm(
            &aws,
            &endpoint,
            &[
                "put-parameter",
                "--name",
                PARAM,
                "--type",
                "SecureString",
                "--value",
                &value,
                "--overwrite",
            ],
        )
        .await,
    );
    assert_eq!(put["Version"], 2);
    wait_for(SLACK, "version 2's new probe", || {
        stage(&emu, "Custom:Web2").as_deref() == Some("second")
    })
    .await;
    assert_eq!(node.stored_version(), Some(2));

    // A value over the Standard tier's 4 KB is refused as the service refuses it.
    let big = "#".repeat(4097);
    let too_big = aws_ssm(
        &aws,
        &endpoint,
        &[
            "put-parameter",
            "--name",
            "/big",
            "--type",
            "String",
            "--value",
            &big,
        ],
    )
    .await;
    assert!(!too_big.status.success());
    assert!(
        String::from_utf8_lossy(&too_big.stderr).contains("ValidationException"),
        "{}",
        show(&too_big)
    );

    let (code, stderr) = stop(daemon).await;
    assert_eq!(code, Some(0), "{stderr}");
}
