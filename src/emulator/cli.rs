//! The `emulator` subcommand: flags, and running until told to stop.

use std::net::SocketAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{
    DEFAULT_MAX_CUSTOM_TYPES, DEFAULT_MAX_ITEM_BYTES, DEFAULT_MAX_NODE_BYTES, DEMO_ACCESS_KEY_ID,
    DEMO_SECRET_ACCESS_KEY, Emulator, EmulatorConfig, EmulatorError,
};

/// Run a local PutInventory endpoint that speaks the real AWS protocol.
#[derive(clap::Args, Debug, Clone)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4566")]
    pub listen: SocketAddr,

    /// Allow a non-loopback --listen address (the emulator accepts the demo keys by default).
    #[arg(long)]
    pub allow_remote: bool,

    /// Access key id to accept [default: AWS's documentation example key]. Needs --secret-key.
    #[arg(long, env = "SSM_INVENTORYD_EMULATOR_ACCESS_KEY")]
    pub access_key: Option<String>,

    /// Secret access key to accept together with --access-key.
    #[arg(
        long,
        env = "SSM_INVENTORYD_EMULATOR_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,

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

impl EmulatorArgs {
    /// The configuration these flags describe, refusing a remote address without
    /// `--allow-remote` (an exit-code-2 error).
    pub fn to_config(&self) -> Result<EmulatorConfig, EmulatorError> {
        if !self.listen.ip().is_loopback() && !self.allow_remote {
            return Err(EmulatorError::NotLoopback { addr: self.listen });
        }
        let credentials = match (&self.access_key, &self.secret_key) {
            (None, None) => vec![(
                DEMO_ACCESS_KEY_ID.to_owned(),
                DEMO_SECRET_ACCESS_KEY.to_owned(),
            )],
            (Some(key), Some(secret)) => vec![(key.clone(), secret.clone())],
            _ => {
                return Err(EmulatorError::InvalidConfig(
                    "--access-key and --secret-key must be given together".into(),
                ));
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
