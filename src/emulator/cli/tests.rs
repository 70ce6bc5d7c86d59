use super::*;
use clap::Parser;

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    args: EmulatorArgs,
}

fn parse(argv: &[&str]) -> Result<EmulatorArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("emulator").chain(argv.iter().copied())).map(|c| c.args)
}

#[test]
fn defaults() {
    let a = parse(&[]).unwrap();
    let c = a.to_config().unwrap();
    assert_eq!(c.listen, "127.0.0.1:4566".parse().unwrap());
    assert_eq!(c.credentials[0].0, DEMO_ACCESS_KEY_ID);
    assert_eq!(c.max_custom_types, 20);
    assert!(c.known_instances.is_none());
    assert!(c.throttle_tps.is_none());
    assert!(c.parameter_tps.is_none());
    assert_eq!(c.max_connections, DEFAULT_MAX_CONNECTIONS);
    assert_eq!(
        c.header_read_timeout,
        super::super::DEFAULT_HEADER_READ_TIMEOUT
    );
    assert_eq!(c.body_read_timeout, super::super::DEFAULT_BODY_READ_TIMEOUT);
}

#[test]
fn all_flags() {
    let a = parse(&[
        "--listen",
        "127.0.0.1:0",
        "--access-key",
        "AKIDTEST",
        "--secret-key",
        "s3cret",
        "--known-instance",
        "i-01234567",
        "--known-instance",
        "mi-0123456789abcdef0",
        "--max-custom-types",
        "5",
        "--max-item-bytes",
        "1000",
        "--max-node-bytes",
        "5000",
        "--throttle-tps",
        "2.5",
        "--parameter-tps",
        "40",
        "--fail-rate",
        "0.1",
        "--latency",
        "200ms",
        "--drop-rate",
        "0.2",
        "--throttle-first",
        "3",
        "--refuse",
        "Custom:Bad=InvalidTypeNameException",
        "--refuse",
        "Custom:Big=ItemSizeLimitExceededException:named",
        "--max-connections",
        "8",
        "--header-read-timeout",
        "750ms",
        "--body-read-timeout",
        "3s",
    ])
    .unwrap();
    let c = a.to_config().unwrap();
    assert_eq!(
        c.credentials,
        vec![("AKIDTEST".to_owned(), "s3cret".to_owned())]
    );
    assert_eq!(c.known_instances.as_ref().unwrap().len(), 2);
    assert_eq!(c.max_custom_types, 5);
    assert_eq!(c.max_item_bytes, 1000);
    assert_eq!(c.max_node_bytes, 5000);
    assert_eq!(c.throttle_tps, Some(2.5));
    assert_eq!(c.parameter_tps, Some(40.0));
    assert_eq!(c.fail_rate, 0.1);
    assert_eq!(c.latency, Duration::from_millis(200));
    assert_eq!(c.drop_rate, 0.2);
    assert_eq!(c.throttle_first, 3);
    assert_eq!(c.refuse.len(), 2);
    assert_eq!(
        c.refuse[1].error,
        super::super::ErrorCode::ItemSizeLimitExceeded
    );
    assert!(c.refuse[1].name_type);
    assert_eq!(c.max_connections, 8);
    assert_eq!(c.header_read_timeout, Duration::from_millis(750));
    assert_eq!(c.body_read_timeout, Duration::from_secs(3));
}

fn secret_file(contents: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), contents).unwrap();
    file
}

#[test]
fn secret_key_from_a_file() {
    for contents in [
        "s3cret/from/a/file",
        "s3cret/from/a/file\n",
        "s3cret/from/a/file\r\n",
    ] {
        let file = secret_file(contents);
        let path = file.path().to_str().unwrap();
        let c = parse(&["--access-key", "AKIDFILE", "--secret-key-file", path])
            .unwrap()
            .to_config()
            .unwrap();
        assert_eq!(
            c.credentials,
            vec![("AKIDFILE".to_owned(), "s3cret/from/a/file".to_owned())],
            "{contents:?}"
        );
    }
}

#[test]
fn secret_key_file_errors_name_the_file_not_the_secret() {
    let config = |argv: &[&str]| parse(argv).unwrap().to_config().unwrap_err();

    let missing = config(&[
        "--access-key",
        "AKIDFILE",
        "--secret-key-file",
        "/nonexistent/key",
    ]);
    assert!(
        matches!(missing, EmulatorError::SecretKeyFile { .. }),
        "{missing}"
    );
    assert_eq!(missing.exit_code(), 2);
    assert!(
        missing.to_string().contains("/nonexistent/key"),
        "{missing}"
    );

    for (contents, why) in [
        ("", "empty"),
        ("\n", "empty"),
        ("one\ntwo\n", "more than one line"),
    ] {
        let file = secret_file(contents);
        let path = file.path().to_str().unwrap();
        let err = config(&["--access-key", "AKIDFILE", "--secret-key-file", path]);
        assert_eq!(err.exit_code(), 2);
        let msg = err.to_string();
        assert!(msg.contains(why) && msg.contains(path), "{msg}");
        assert!(
            !msg.contains("two"),
            "the contents stay out of errors: {msg}"
        );
    }

    let file = secret_file("s3cret\n");
    let path = file.path().to_str().unwrap();
    let both = config(&[
        "--access-key",
        "AKIDFILE",
        "--secret-key",
        "s3cret",
        "--secret-key-file",
        path,
    ]);
    assert_eq!(both.exit_code(), 2);
    assert!(both.to_string().contains("give one"), "{both}");
    let no_key = config(&["--secret-key-file", path]);
    assert_eq!(no_key.exit_code(), 2);
    assert!(no_key.to_string().contains("together"), "{no_key}");
}

/// Set in the environment of [`secret_key_from_the_environment`]'s child process.
const ENV_CHILD_MARKER: &str = "SSM_INVENTORYD_TEST_EMULATOR_CLI_ENV_CHILD";

/// Runs [`secret_key_from_the_environment_child`] in a child process with the variables
/// set: setting them in this process would race every other test here that parses flags.
#[test]
fn secret_key_from_the_environment() {
    let module = module_path!().split_once("::").unwrap().1;
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &format!("{module}::secret_key_from_the_environment_child"),
            "--include-ignored",
            "--test-threads=1",
        ])
        .env(ENV_CHILD_MARKER, "1")
        .env("SSM_INVENTORYD_EMULATOR_ACCESS_KEY", "AKIDENV")
        .env(SECRET_KEY_ENV, "s3cret/from/the/environment")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test:\n{stdout}"
    );
}

#[test]
#[ignore = "run by secret_key_from_the_environment with the environment it needs"]
fn secret_key_from_the_environment_child() {
    if std::env::var_os(ENV_CHILD_MARKER).is_none() {
        return;
    }
    let c = parse(&[]).unwrap().to_config().unwrap();
    assert_eq!(
        c.credentials,
        vec![(
            "AKIDENV".to_owned(),
            "s3cret/from/the/environment".to_owned()
        )]
    );
    // The command line takes precedence over the environment (clap's order).
    let c = parse(&["--secret-key", "s3cret/from/argv"])
        .unwrap()
        .to_config()
        .unwrap();
    assert_eq!(c.credentials[0].1, "s3cret/from/argv");
    // A file and the environment both naming a secret is ambiguous, not an override.
    let file = secret_file("s3cret/from/a/file\n");
    let err = parse(&["--secret-key-file", file.path().to_str().unwrap()])
        .unwrap()
        .to_config()
        .unwrap_err();
    assert!(err.to_string().contains(SECRET_KEY_ENV), "{err}");
    // The value is never shown in help.
    let help = <Cli as clap::CommandFactory>::command()
        .render_help()
        .to_string();
    assert!(help.contains(SECRET_KEY_ENV), "{help}");
    assert!(!help.contains("s3cret/from/the/environment"), "{help}");
}

#[test]
fn refuses_remote_without_flag() {
    let err = parse(&["--listen", "0.0.0.0:4566"])
        .unwrap()
        .to_config()
        .unwrap_err();
    assert!(matches!(err, EmulatorError::NotLoopback { .. }));
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("--allow-remote"));
    let ok = parse(&["--listen", "0.0.0.0:4566", "--allow-remote"]).unwrap();
    assert!(ok.to_config().is_ok());
    assert!(
        parse(&["--listen", "[::1]:4566"])
            .unwrap()
            .to_config()
            .is_ok()
    );
}

#[test]
fn rejects_bad_values() {
    assert!(parse(&["--fail-rate", "1.5"]).is_err());
    assert!(parse(&["--drop-rate", "-0.1"]).is_err());
    assert!(parse(&["--throttle-tps", "0"]).is_err());
    assert!(parse(&["--parameter-tps", "-1"]).is_err());
    assert!(parse(&["--latency", "soon"]).is_err());
    assert!(parse(&["--refuse", "Custom:A=NotAnError"]).is_err());
    assert!(parse(&["--max-connections", "0"]).is_err());
    assert!(parse(&["--header-read-timeout", "0s"]).is_err());
    assert!(parse(&["--body-read-timeout", "soon"]).is_err());
    let half = parse(&["--access-key", "AKIDTEST"]).unwrap();
    assert_eq!(half.to_config().unwrap_err().exit_code(), 2);
}

#[tokio::test]
async fn run_serves_until_cancelled() {
    let args = parse(&["--listen", "127.0.0.1:0"]).unwrap();
    let token = CancellationToken::new();
    let task = tokio::spawn(run(args, token.clone()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    token.cancel();
    task.await.unwrap().unwrap();
}
