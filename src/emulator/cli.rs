//! The `emulator` subcommand: flags, and running until told to stop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CUSTOM_TYPES, DEFAULT_MAX_ITEM_BYTES,
    DEFAULT_MAX_NODE_BYTES, DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, Emulator, EmulatorConfig,
    EmulatorError,
};

/// The environment variable [`EmulatorArgs::secret_key`] is also read from.
pub const SECRET_KEY_ENV: &str = "SSM_INVENTORYD_EMULATOR_SECRET_KEY";

/// Run a local PutInventory endpoint that speaks the real AWS protocol.
#[derive(clap::Args, Debug, Clone)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4566")]
    pub listen: SocketAddr,

    /// Allow a non-loopback --listen address (the emulator accepts the demo keys by default).
    #[arg(long)]
    pub allow_remote: bool,

    /// Access key id to accept [default: AWS's documentation example key]. Needs a secret
    /// key (--secret-key-file, or the environment).
    #[arg(long, env = "SSM_INVENTORYD_EMULATOR_ACCESS_KEY")]
    pub access_key: Option<String>,

    /// Secret access key to accept together with --access-key. On the command line it is
    /// visible to every user in `ps`: prefer the environment variable or --secret-key-file.
    #[arg(long, env = SECRET_KEY_ENV, hide_env_values = true)]
    pub secret_key: Option<String>,

    /// File holding the secret access key to accept together with --access-key (one line; a
    /// trailing newline is ignored).
    #[arg(long, value_name = "PATH")]
    pub secret_key_file: Option<PathBuf>,

    /// Only accept PutInventory for this InstanceId (repeatable); others get InvalidInstanceId.
    #[arg(long = "known-instance", value_name = "ID")]
    pub known_instances: Vec<String>,

    /// Distinct Custom: types the emulated account may hold.
    #[arg(long, default_value_t = DEFAULT_MAX_CUSTOM_TYPES)]
    pub max_custom_types: usize,

    /// Largest item in bytes (its compact JSON) before ItemSizeLimitExceededException.
    #[arg(long, default_value_t = DEFAULT_MAX_ITEM_BYTES)]
    pub max_item_bytes: usize,

    /// Largest total of one node's items before TotalSizeLimitExceededException.
    #[arg(long, default_value_t = DEFAULT_MAX_NODE_BYTES)]
    pub max_node_bytes: usize,

    /// Throttle API calls with a token bucket of this rate (and burst) per second.
    #[arg(long, value_parser = parse_positive)]
    pub throttle_tps: Option<f64>,

    /// Probability (0 to 1) of answering InternalServerError.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub fail_rate: f64,

    /// Delay before every answer, e.g. "200ms".
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub latency: Duration,

    /// Probability (0 to 1) of closing the connection without an answer.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub drop_rate: f64,

    /// Throttle the first N API calls, then let calls through: an outage that ends.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub throttle_first: u64,

    /// For testing clients: answer ERROR for any PutInventory request holding TYPE
    /// (repeatable). Form: TYPE=ERROR[:named][:hash-only|:full], e.g.
    /// "Custom:Bad=InvalidTypeNameException"; `named` puts TypeName in the answer where the
    /// service model has it.
    #[arg(long = "refuse", value_name = "TYPE=ERROR")]
    pub refuse: Vec<super::Refusal>,

    /// Connections served at once; further clients wait in the accept backlog until one
    /// closes.
    #[arg(
        long,
        default_value_t = DEFAULT_MAX_CONNECTIONS,
        value_name = "N",
        value_parser = parse_at_least_one
    )]
    pub max_connections: usize,

    /// Close a connection whose request headers have not all arrived within this time (idle
    /// kept-alive connections included), e.g. "5s".
    // Spelled out for clap; the `defaults` test holds it to DEFAULT_HEADER_READ_TIMEOUT.
    #[arg(long, default_value = "30s", value_parser = parse_timeout)]
    pub header_read_timeout: Duration,

    /// Answer HTTP 408 and close the connection when a request body has not all arrived
    /// within this time after its headers, e.g. "10s".
    // Spelled out for clap; the `defaults` test holds it to DEFAULT_BODY_READ_TIMEOUT.
    #[arg(long, default_value = "10s", value_parser = parse_timeout)]
    pub body_read_timeout: Duration,

    /// Bytes of request bodies held in memory at once, across all connections; a request
    /// past it is answered HTTP 503 SlowDown.
    #[arg(
        long,
        default_value_t = super::DEFAULT_MAX_BUFFERED_BYTES,
        value_name = "BYTES",
        value_parser = parse_at_least_one
    )]
    pub max_buffered_bytes: usize,
}

fn parse_probability(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .parse()
        .map_err(|e| format!("'{s}' is not a number: {e}"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("'{s}' is not between 0 and 1"))
    }
}

fn parse_positive(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|e| format!("'{s}' is not a number: {e}"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("'{s}' must be a positive number"))
    }
}

fn parse_at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("'{s}' is not a whole number: {e}")),
    }
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("'{s}' is not a duration: {e}"))?;
    if d.is_zero() {
        Err(format!("'{s}' must be longer than zero"))
    } else {
        Ok(d)
    }
}

/// The secret key in `path`: its one line, without the line ending an editor or `echo` adds.
fn read_secret_key_file(path: &Path) -> Result<String, EmulatorError> {
    let bad = |why: &str| {
        Err(EmulatorError::InvalidConfig(format!(
            "--secret-key-file {}: {why}",
            path.display()
        )))
    };
    let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::SecretKeyFile {
        path: path.to_owned(),
        source,
    })?;
    // Never quote the contents in an error: they are a secret.
    let secret = text.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        return bad("the file is empty");
    }
    if secret.contains(['\r', '\n']) {
        return bad("the file holds more than one line");
    }
    Ok(secret.to_owned())
}

impl EmulatorArgs {
    /// The configuration these flags describe, refusing a remote address without
    /// `--allow-remote` (an exit-code-2 error).
    pub fn to_config(&self) -> Result<EmulatorConfig, EmulatorError> {
        if !self.listen.ip().is_loopback() && !self.allow_remote {
            return Err(EmulatorError::NotLoopback { addr: self.listen });
        }
        let secret = match (&self.secret_key, &self.secret_key_file) {
            (Some(_), Some(_)) => {
                return Err(EmulatorError::InvalidConfig(format!(
                    "--secret-key-file and --secret-key (or {SECRET_KEY_ENV}) both give the \
                     secret key: give one"
                )));
            }
            (Some(secret), None) => Some(secret.clone()),
            (None, Some(path)) => Some(read_secret_key_file(path)?),
            (None, None) => None,
        };
        let credentials = match (&self.access_key, secret) {
            (None, None) => vec![(
                DEMO_ACCESS_KEY_ID.to_owned(),
                DEMO_SECRET_ACCESS_KEY.to_owned(),
            )],
            (Some(key), Some(secret)) => vec![(key.clone(), secret)],
            _ => {
                return Err(EmulatorError::InvalidConfig(format!(
                    "--access-key and a secret key (--secret-key-file, {SECRET_KEY_ENV} or \
                     --secret-key) must be given together"
                )));
            }
        };
        Ok(EmulatorConfig {
            listen: self.listen,
            credentials,
            known_instances: (!self.known_instances.is_empty())
                .then(|| self.known_instances.clone()),
            max_custom_types: self.max_custom_types,
            max_item_bytes: self.max_item_bytes,
            max_node_bytes: self.max_node_bytes,
            max_clock_skew: super::DEFAULT_MAX_CLOCK_SKEW,
            throttle_tps: self.throttle_tps,
            fail_rate: self.fail_rate,
            latency: self.latency,
            drop_rate: self.drop_rate,
            throttle_first: self.throttle_first,
            refuse: self.refuse.clone(),
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout,
            body_read_timeout: self.body_read_timeout,
            max_buffered_bytes: self.max_buffered_bytes,
        })
    }
}

/// Starts the emulator, prints `emulator listening on http://…` and serves until `shutdown`
/// is cancelled, then waits for in-flight requests.
pub async fn run(args: EmulatorArgs, shutdown: CancellationToken) -> Result<(), EmulatorError> {
    let emulator = Emulator::start(args.to_config()?).await?;
    println!("emulator listening on {}", emulator.endpoint_url());
    shutdown.cancelled().await;
    emulator.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
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
}
