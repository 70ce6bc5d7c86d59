//! How a node reads its fleet parameters, through the daemon's own client against the
//! emulator: one GetParameters call per 10 parameters, never GetParameter, with the answers
//! sorted per parameter as an operator reads them.

mod common;

use common::{Node, emulator};
use ssm_inventoryd::emulator::{Emulator, EmulatorConfig};
use ssm_inventoryd::fleet::fetch::{FetchError, SdkSource, fetch_all};

/// The daemon's client (SDK retries off) with the demo keys and an explicit region.
async fn source(emu: &Emulator) -> SdkSource {
    SdkSource::new(common::client(emu).await)
}

#[tokio::test]
async fn twelve_parameters_are_two_calls_and_each_answer_names_its_parameter() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let names: Vec<String> = (0..12).map(|i| format!("/fleet/p{i:02}")).collect();
    for name in &names[..10] {
        emu.put_parameter(name, "SecureString", &format!("# {name}\n"));
    }
    emu.put_parameter(&names[10], "StringList", "a,b");
    // names[11] does not exist.
    let source = source(&emu).await;

    let answers = fetch_all(&source, &names).await;
    let reads = emu.stats().parameter_reads;
    assert_eq!((reads.get_parameters, reads.get_parameter), (2, 0));
    assert_eq!(answers.len(), 12);
    for (i, (name, answer)) in answers.iter().enumerate() {
        assert_eq!(name, &names[i]);
        match (i, answer) {
            (0..=9, Ok(f)) => {
                assert_eq!(f.text, format!("# {name}\n"));
                assert_eq!(f.version, 1);
                assert_eq!(f.parameter_type, "SecureString");
            }
            (10, Err(e @ FetchError::WrongType { .. })) => assert_eq!(
                e.to_string(),
                "parameter /fleet/p10: is a StringList; probe definitions are a String or a SecureString"
            ),
            (11, Err(e @ FetchError::NotFound { .. })) => assert_eq!(
                e.to_string(),
                "parameter /fleet/p11: not found (ParameterNotFound); create it, or remove it from `[agent] fleet_config`"
            ),
            other => panic!("{other:?}"),
        }
    }

    // A refusal of the whole call is reported for every parameter it asked for, by name.
    emu.deny_parameter(&names[3]);
    let answers = fetch_all(&source, &names[..10]).await;
    for (name, answer) in &answers {
        let Err(e @ FetchError::AccessDenied { .. }) = answer else {
            panic!("{name}: {answer:?}");
        };
        assert!(
            e.to_string().starts_with(&format!(
                "parameter {name}: access denied (AccessDeniedException): the node's identity needs ssm:GetParameters on {name}: "
            )),
            "{e}"
        );
    }
}

#[tokio::test]
async fn a_throttled_call_is_one_request_and_says_the_service_is_busy() {
    let emu = emulator::start(EmulatorConfig {
        parameter_tps: Some(1.0),
        ..Default::default()
    })
    .await;
    emu.put_parameter("/fleet/a", "String", "# a\n");
    let source = source(&emu).await;
    let names = vec!["/fleet/a".to_owned()];
    let first = fetch_all(&source, &names).await;
    assert!(first[0].1.is_ok(), "{first:?}");
    let second = fetch_all(&source, &names).await;
    let Err(e) = &second[0].1 else {
        panic!("{second:?}");
    };
    assert!(e.is_busy(), "{e:?}");
    assert_eq!(
        e.to_string(),
        "parameter /fleet/a: ThrottlingException: Rate exceeded"
    );
    // No retry behind the poller's back: two polls, two calls.
    let reads = emu.stats().parameter_reads;
    assert_eq!((reads.get_parameters, reads.throttled), (2, 1));
}

/// A node whose `[agent]` names the fleet parameters `/fleet/a` and `/fleet/b`.
fn node(endpoint: &str) -> Node {
    let mut node = Node::new(endpoint);
    node.set("fleet_config", "[\"/fleet/a\", \"/fleet/b\"]");
    node
}

/// `ssm-inventoryd ARGS` on `node`'s configuration with `extra` lines in `[agent]`,
/// warnings and errors only.
async fn run_with(node: &mut Node, extra: &str, args: &[&str]) -> std::process::Output {
    node.agent_extra = extra.into();
    node.write_config();
    node.command(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run the binary")
}

#[tokio::test]
async fn validate_fleet_tries_once_and_says_so_in_one_line_when_throttled() {
    let emu = emulator::start(EmulatorConfig {
        throttle_first: 1,
        ..Default::default()
    })
    .await;
    emu.put_parameter("/fleet/a", "String", "# a\n");
    emu.put_parameter("/fleet/b", "String", "# b\n");
    let mut node = node(&emu.endpoint_url());
    let out = run_with(&mut node, "", &["validate", "--fleet"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        errors,
        [
            "error: Parameter Store did not answer the read of /fleet/a, /fleet/b (ThrottlingException: Rate exceeded); not tried again, since its read throughput is shared with every application of the account: try again in a minute"
        ],
        "{stderr}"
    );
    assert_eq!(emu.stats().parameter_reads.get_parameters, 1);

    // The throttling is over: the same command fetches both in one call.
    let out = run_with(&mut node, "", &["validate", "--fleet"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("parameter /fleet/b: fetched version 1 (String)"),
        "{stdout}"
    );
    assert_eq!(emu.stats().parameter_reads.get_parameters, 2);
}

#[tokio::test]
async fn validate_tells_the_fleets_read_rate_and_warns_over_a_quarter_of_the_budget() {
    // Nothing is fetched without --fleet: any endpoint will do, none is called.
    let mut node = node("http://127.0.0.1:9");
    let out = run_with(&mut node, "fleet_size_hint = 10000", &["validate"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains(
            "fleet: 10000 nodes × 1 GetParameters call every 20m make 8.3 calls a second"
        ),
        "{stdout}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");

    let out = run_with(&mut node, "fleet_size_hint = 50000", &["validate"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(
        warnings,
        [
            "warning: fleet: 50000 nodes × 1 GetParameters call every 20m make 41.7 Parameter Store reads a second, over the fleet's budget of 10 (a quarter of the account's 40 a second, shared with every application that reads parameters); make fleet_poll_interval at least 1h 23m 20s"
        ],
        "{stderr}"
    );

    // Unknown size: nothing said.
    let out = run_with(&mut node, "", &["validate"]).await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains("calls a second"));
}
