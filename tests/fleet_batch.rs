//! How a node reads its fleet parameters, through the daemon's own client against the
//! emulator: one GetParameters call per 10 parameters, never GetParameter, with the answers
//! sorted per parameter as an operator reads them.

use ssm_inventoryd::aws as sdk_client;
use ssm_inventoryd::emulator::{
    DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, Emulator, EmulatorConfig,
};
use ssm_inventoryd::fleet::fetch::{FetchError, SdkSource, fetch_all};

async fn start(config: EmulatorConfig) -> Emulator {
    assert!(config.listen.ip().is_loopback());
    Emulator::start(config).await.expect("emulator starts")
}

/// The daemon's client (SDK retries off) with the demo keys and an explicit region.
async fn source(emu: &Emulator) -> SdkSource {
    SdkSource::new(
        sdk_client::build(&sdk_client::ClientOptions {
            region: "us-east-1".into(),
            endpoint_url: Some(emu.endpoint_url()),
            static_credentials: Some((DEMO_ACCESS_KEY_ID.into(), DEMO_SECRET_ACCESS_KEY.into())),
            ..Default::default()
        })
        .await,
    )
}

#[tokio::test]
async fn twelve_parameters_are_two_calls_and_each_answer_names_its_parameter() {
    let emu = start(EmulatorConfig::default()).await;
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
    let emu = start(EmulatorConfig {
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
