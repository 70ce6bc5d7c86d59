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

    /// Limit Parameter Store reads (GetParameter and GetParameters together) to this many
    /// calls a second (and a burst of as many), answering ThrottlingException beyond it, as
    /// the service meters them per account and region (its default: 40).
    #[arg(long, value_parser = parse_positive, value_name = "N")]
    pub parameter_tps: Option<f64>,

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
            parameter_tps: self.parameter_tps,
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
mod tests;
