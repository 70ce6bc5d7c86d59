//! Parameter Store reads in the emulator through the real `aws-sdk-ssm` client and, when it is
//! installed, the AWS CLI: GetParameters (up to 10 names, `InvalidParameters` for the unknown
//! ones, AccessDeniedException for the whole call) and the Parameter Store read limit
//! (`parameter_tps`), which answers `ThrottlingException` `Rate exceeded` as the service does
//! and is counted in `/stats`.
//!
//! The AWS CLI part needs `aws` on PATH; without it that test prints a skip line and passes,
//! unless `SSM_INVENTORYD_REQUIRE_AWSCLI=1`, in which case it fails.

use std::io::Write;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::config::retry::RetryConfig;
use aws_sdk_ssm::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ssm::error::ProvideErrorMetadata;
use ssm_inventoryd::emulator::{
    DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, Emulator, EmulatorConfig, ErrorCode,
};

const REGION: &str = "us-east-1";

async fn start(config: EmulatorConfig) -> Emulator {
    assert!(config.listen.ip().is_loopback());
    Emulator::start(config).await.expect("emulator starts")
}

/// A client with the demo keys, an explicit region and no retries: one call is one request.
fn client(emu: &Emulator) -> Client {
    let conf = aws_sdk_ssm::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(emu.endpoint_url())
        .credentials_provider(Credentials::new(
            DEMO_ACCESS_KEY_ID,
            DEMO_SECRET_ACCESS_KEY,
            None,
            None,
            "test",
        ))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

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
    let body = http_get(&emu, "/stats").await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json["parameter_reads"]["throttled"],
        serde_json::json!(throttled.len())
    );
}

/// `GET PATH` on the emulator, unsigned, over a plain socket; the body.
async fn http_get(emu: &Emulator, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(emu.local_addr())
        .await
        .unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: emulator\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

/// The `aws` on PATH; `None` (after a skip line) when there is none and it is not required.
fn find_aws_or_skip(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("aws"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("SSM_INVENTORYD_REQUIRE_AWSCLI").as_deref() != Ok("1"),
            "`aws` is not on PATH and SSM_INVENTORYD_REQUIRE_AWSCLI=1: install it with `pip install awscli`"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIP {test}: `aws` is not on PATH (pip install awscli to run this test)"
        );
    }
    found
}

/// `aws ssm ARGS` against the emulator with the demo keys and nothing else it could reach.
async fn aws_ssm(aws: &PathBuf, emu: &Emulator, args: &[&str]) -> Output {
    let empty = tempfile::NamedTempFile::new().unwrap();
    let endpoint = emu.endpoint_url();
    let mut cmd = tokio::process::Command::new(aws);
    cmd.args([
        "ssm",
        "--endpoint-url",
        &endpoint,
        "--region",
        REGION,
        "--output",
        "json",
    ])
    .args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", DEMO_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", DEMO_SECRET_ACCESS_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", empty.path())
        .env("AWS_SHARED_CREDENTIALS_FILE", empty.path())
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_PAGER", "")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("aws finishes within 2 minutes")
        .expect("aws runs")
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_get_parameters_and_its_throttling() {
    let Some(aws) = find_aws_or_skip("emulator_parameters") else {
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
        &emu,
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
    let out = aws_ssm(&aws, &emu, &["get-parameters", "--names", "/fleet/a"]).await;
    if out.status.success() {
        // The CLI took over a second to start: the bucket refilled. Drain it from here.
        let ssm = client(&emu);
        let _ = ssm.get_parameters().names("/fleet/a").send().await;
        let _ = ssm.get_parameters().names("/fleet/a").send().await;
        let again = aws_ssm(&aws, &emu, &["get-parameters", "--names", "/fleet/a"]).await;
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
