//! Parameter Store reads in the emulator through the real `aws-sdk-ssm` client and, when it is
//! installed, the AWS CLI: GetParameters (up to 10 names, `InvalidParameters` for the unknown
//! ones, AccessDeniedException for the whole call) and the Parameter Store read limit
//! (`parameter_tps`), which answers `ThrottlingException` `Rate exceeded` as the service does
//! and is counted in `/stats`.
//!
//! The AWS CLI part needs `aws` on PATH; without it that test prints a skip line and passes,
//! unless `SSM_INVENTORYD_REQUIRE_AWSCLI=1`, in which case it fails.

mod common;

use std::time::Duration;

use aws_sdk_ssm::error::ProvideErrorMetadata;
use common::awscli::{aws_ssm, find_aws_or_skip, show};
use common::emulator::{client, start, stats_json};
use ssm_inventoryd::emulator::{EmulatorConfig, ErrorCode};

#[tokio::test]
async fn get_parameters_answers_known_names_and_lists_unknown_ones() {
    let emu = start(EmulatorConfig::default()).await;
    emu.put_parameter("/fleet/a", "SecureString", "secret a");
    emu.put_parameter("/fleet/b", "String", "b1");
    emu.put_parameter("/fleet/b", "String", "b2");
    let ssm = client(&emu);

    let out = ssm
        .get_parameters()
        .names("/fleet/a")
        .names("/fleet/missing")
        .names("/fleet/b")
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    let parameters = out.parameters();
    assert_eq!(parameters.len(), 2);
    assert_eq!(parameters[0].name(), Some("/fleet/a"));
    assert_eq!(parameters[0].value(), Some("secret a"));
    assert_eq!(
        parameters[0].r#type().map(|t| t.as_str()),
        Some("SecureString")
    );
    assert_eq!(parameters[1].value(), Some("b2"));
    assert_eq!(parameters[1].version(), 2);
    assert_eq!(
        parameters[1].arn(),
        Some("arn:aws:ssm:us-east-1:123456789012:parameter/fleet/b")
    );
    assert_eq!(out.invalid_parameters(), ["/fleet/missing"]);

    // Without decryption a SecureString stays opaque, as in GetParameter.
    let hidden = ssm.get_parameters().names("/fleet/a").send().await.unwrap();
    assert_ne!(hidden.parameters()[0].value(), Some("secret a"));

    // More than 10 names: the whole call is refused.
    let mut eleven = ssm.get_parameters();
    for i in 0..11 {
        eleven = eleven.names(format!("/fleet/n{i}"));
    }
    let e = eleven.send().await.unwrap_err();
    assert_eq!(e.code(), Some("ValidationException"), "{e:?}");
    assert!(
        e.message()
            .unwrap_or_default()
            .contains("Member must have length less than or equal to 10"),
        "{e:?}"
    );

    // One name the caller may not read refuses the whole call.
    emu.deny_parameter("/fleet/b");
    let e = ssm
        .get_parameters()
        .names("/fleet/a")
        .names("/fleet/b")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDeniedException"), "{e:?}");
    assert!(
        e.message()
            .unwrap_or_default()
            .contains("ssm:GetParameters"),
        "{e:?}"
    );
    let stats = emu.stats();
    assert_eq!(stats.parameter_reads.get_parameters, 4);
    assert_eq!(stats.parameter_reads.throttled, 0);
}

#[tokio::test]
async fn parameter_reads_share_a_rate_limit_that_answers_throttling() {
    let emu = start(EmulatorConfig {
        parameter_tps: Some(2.0),
        ..Default::default()
    })
    .await;
    emu.put_parameter("/fleet/a", "String", "a");
    let ssm = client(&emu);

    // A burst of 2 passes, then the limit holds, for both operations alike.
    let mut ok = 0;
    let mut throttled = Vec::new();
    for i in 0..6 {
        let result = if i % 2 == 0 {
            ssm.get_parameter()
                .name("/fleet/a")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| (e.code().map(str::to_owned), e.message().map(str::to_owned)))
        } else {
            ssm.get_parameters()
                .names("/fleet/a")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| (e.code().map(str::to_owned), e.message().map(str::to_owned)))
        };
        match result {
            Ok(()) => ok += 1,
            Err(e) => throttled.push(e),
        }
    }
    // Six calls within well under a second: two tokens, perhaps one more refilled.
    assert!((2..=3).contains(&ok), "{ok} passed, {throttled:?}");
    for e in &throttled {
        assert_eq!(
            e,
            &(
                Some(ErrorCode::Throttling.name().to_owned()),
                Some("Rate exceeded".to_owned())
            )
        );
    }
    // PutParameter and the inventory calls are not Parameter Store reads.
    let put = ssm
        .put_parameter()
        .name("/fleet/a")
        .value("a2")
        .overwrite(true)
        .send()
        .await;
    assert!(put.is_ok(), "{put:?}");

    // The bucket refills at 2 a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = ssm.get_parameters().names("/fleet/a").send().await.unwrap();
    assert_eq!(again.parameters()[0].value(), Some("a2"));

    let stats = emu.stats();
    let reads = &stats.parameter_reads;
    assert_eq!(reads.get_parameter + reads.get_parameters, 7);
    assert_eq!(reads.throttled, throttled.len() as u64);
    assert_eq!(
        stats
            .errors
            .get("ThrottlingException")
            .copied()
            .unwrap_or(0),
        throttled.len() as u64
    );

    // /stats serves the same counters.
    let json = stats_json(&emu).await;
    assert_eq!(
        json["parameter_reads"]["throttled"],
        serde_json::json!(throttled.len())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_get_parameters_and_its_throttling() {
    let Some(aws) = find_aws_or_skip() else {
        return;
    };
    let emu = start(EmulatorConfig {
        parameter_tps: Some(1.0),
        ..Default::default()
    })
    .await;
    emu.put_parameter("/fleet/a", "SecureString", "secret a");
    let out = aws_ssm(
        &aws,
        &emu.endpoint_url(),
        &[
            "get-parameters",
            "--names",
            "/fleet/a",
            "/fleet/missing",
            "--with-decryption",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", show(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["Parameters"][0]["Value"], "secret a", "{json}");
    assert_eq!(
        json["InvalidParameters"],
        serde_json::json!(["/fleet/missing"])
    );

    // The bucket (1 a second) is empty now: the next read is throttled, as the CLI shows it.
    let out = aws_ssm(
        &aws,
        &emu.endpoint_url(),
        &["get-parameters", "--names", "/fleet/a"],
    )
    .await;
    if out.status.success() {
        // The CLI took over a second to start: the bucket refilled. Drain it from here.
        let ssm = client(&emu);
        let _ = ssm.get_parameters().names("/fleet/a").send().await;
        let _ = ssm.get_parameters().names("/fleet/a").send().await;
        let again = aws_ssm(
            &aws,
            &emu.endpoint_url(),
            &["get-parameters", "--names", "/fleet/a"],
        )
        .await;
        assert!(
            emu.stats().parameter_reads.throttled >= 1,
            "{}",
            show(&again)
        );
        return;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ThrottlingException") && stderr.contains("Rate exceeded"),
        "{}",
        show(&out)
    );
}
