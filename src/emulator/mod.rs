//! A local PutInventory endpoint that speaks the real AWS protocol (docs/ARCHITECTURE.md,
//! "The emulator").
//!
//! It exists so the daemon's whole AWS path — the real `aws-sdk-ssm` client, SigV4 signing,
//! error classification, retries — can be exercised by tests, the demo and the benchmarks
//! without an AWS account. It is an independent oracle: its rules are written from the API
//! reference ([`rules`], [`store`]), never by calling the daemon's own validation.
//!
//! It stays a module of this crate, behind the default `emulator` feature, rather than a crate
//! of its own in a workspace: it imports nothing from the daemon, so moving it out later is
//! mechanical, but today this crate is its only user, the feature already keeps it out of the
//! packaged binary, and a second crate would change the path every test imports it by and the
//! layout the packaging and CI build from, for no one who needs it yet.
//!
//! Protocol: awsJson1.1 on `POST /` with `X-Amz-Target: AmazonSSM.PutInventory`,
//! `AmazonSSM.ListInventoryEntries`, `AmazonSSM.GetParameter`, `AmazonSSM.GetParameters` or
//! `AmazonSSM.PutParameter` (Parameter Store, for fleet configuration: see `parameters.rs` for
//! what is modelled),
//! SigV4-signed for service `ssm` in any region with one of the configured key pairs.
//! `GET /stats` returns [`Stats`] as JSON (unsigned: it is a local debugging aid, not an AWS
//! API).
//!
//! Errors are `{"__type": NAME, "Message": ...}` with HTTP 400, or 500 for
//! `InternalServerError`; `ItemContentMismatchException`, `InvalidItemContentException`,
//! `ItemSizeLimitExceededException` and `UnsupportedInventoryItemContextException` also carry
//! `TypeName`, exactly the shapes that model it. `SubTypeCountLimitExceededException` is never
//! produced by the rules (the emulator has no sub-types), only by a test [`Refusal`].
//!
//! Parameter Store's own throughput: [`EmulatorConfig::parameter_tps`] meters GetParameter and
//! GetParameters together with a token bucket of their own (the service's default is 40 a
//! second per account and region, shared by every reader), answering `ThrottlingException`
//! `Rate exceeded` like the service; [`Stats::parameter_reads`] counts the calls and the
//! throttled ones.
//!
//! Test-only fault injection besides the random faults: [`EmulatorConfig::throttle_first`] /
//! [`Emulator::throttle_next`] for an outage that ends after a known number of calls,
//! [`EmulatorConfig::refuse`] / [`Emulator::set_refusals`] for item errors a validating client
//! never provokes, [`Emulator::clear_store`] for a service that lost its inventory, and
//! [`Emulator::recent_puts`] to see which types went in which request.
//!
//! Byte limits: the service's real per-item and per-node limits are not published, so they are
//! configuration. The defaults are the SSM Agent's own historical per-type budget (200 KiB) and
//! room for 20 such types per node (4 MiB), so a client that fits them is conservative.
//!
//! Load bounds: a request body is buffered whole (up to [`MAX_REQUEST_BODY_BYTES`], as large
//! as the daemon's own request budget may be set), so a slow or hostile client must not be
//! able to hold the emulator or its memory for ever. [`EmulatorConfig::max_connections`]
//! bounds the connections served at once, [`EmulatorConfig::header_read_timeout`] the wait for
//! a request's headers (idle connections included) and [`EmulatorConfig::body_read_timeout`]
//! the wait for its body; each timeout is counted in [`Stats::timeouts`].
//! [`EmulatorConfig::max_buffered_bytes`] bounds the bodies held at once across all
//! connections: past it a request is answered HTTP 503 `SlowDown` (counted in
//! [`Stats::slowed_down`]; the most ever held is [`Stats::buffered_bytes_peak`]).

mod budget;
mod error;
mod faults;
mod parameters;
mod refuse;
mod rules;
mod server;
mod service;
mod sigv4;
mod stats;
mod store;

pub mod cli;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use self::error::ErrorCode;
pub use self::faults::TokenBucket;
pub use self::parameters::MAX_NAMES_PER_GET;
pub use self::refuse::{Refusal, RefuseWhen};
pub use self::server::MAX_REQUEST_BODY_BYTES;
pub use self::stats::{
    FaultStats, InstanceStats, ParameterReadStats, PutRecord, RECENT_BODY_SIZES, Stats,
    TimeoutStats,
};
pub use self::store::StoredItem;

/// AWS's documentation example access key id: obviously fake, never valid on AWS.
pub const DEMO_ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
/// The secret paired with [`DEMO_ACCESS_KEY_ID`] in AWS's documentation.
pub const DEMO_SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// The documented limit of custom inventory types per AWS account.
pub const DEFAULT_MAX_CUSTOM_TYPES: usize = 20;
/// 200 KiB: the SSM Agent's per-type size budget (the service's own limit is unpublished).
pub const DEFAULT_MAX_ITEM_BYTES: usize = 200 * 1024;
/// 4 MiB: room for [`DEFAULT_MAX_CUSTOM_TYPES`] items of [`DEFAULT_MAX_ITEM_BYTES`] per node.
pub const DEFAULT_MAX_NODE_BYTES: usize = 4 * 1024 * 1024;
/// The clock skew AWS tolerates between a request's X-Amz-Date and its own clock.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);
/// Connections served at once. Far above what a test, the demo or a benchmark opens (one SDK
/// client's pool); it also caps the bodies buffered at once, at this many times
/// [`MAX_REQUEST_BODY_BYTES`] in the worst case.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default for [`EmulatorConfig::max_buffered_bytes`].
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 256 * 1024 * 1024;
/// Time a client has to send a request's header block, from the moment the emulator starts
/// waiting for it (a new connection, or a kept-alive one after its previous answer). Long
/// enough that a client's pooled connection is seldom closed just as it is reused (a daemon
/// under test may be quiet for several seconds between pushes), short enough that a stalled
/// client frees its slot soon.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a client has to send a whole request body once its headers are in. The largest
/// body the emulator accepts crosses loopback in well under a second.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Where to listen; port 0 picks a free port ([`Emulator::local_addr`] tells which).
    pub listen: SocketAddr,
    /// Accepted (access key id, secret access key) pairs.
    pub credentials: Vec<(String, String)>,
    /// When set, PutInventory for any other InstanceId answers `InvalidInstanceId`.
    pub known_instances: Option<Vec<String>>,
    /// Distinct `Custom:` types the account may hold (across all nodes).
    pub max_custom_types: usize,
    /// Largest item, measured as its compact JSON.
    pub max_item_bytes: usize,
    /// Largest total of one node's stored items.
    pub max_node_bytes: usize,
    pub max_clock_skew: Duration,
    /// Token bucket (capacity = rate) in front of every API call; `None` for no throttling.
    pub throttle_tps: Option<f64>,
    /// Token bucket (capacity = rate) in front of Parameter Store reads (GetParameter and
    /// GetParameters together), besides `throttle_tps`; `None` for no limit of their own.
    pub parameter_tps: Option<f64>,
    /// Probability (0..=1) of answering `InternalServerError` (HTTP 500).
    pub fail_rate: f64,
    /// Delay before every API answer.
    pub latency: Duration,
    /// Probability (0..=1) of closing the connection without an answer.
    pub drop_rate: f64,
    /// Throttle the first this many API calls whatever `throttle_tps` says: a deterministic
    /// outage a test can count attempts against (see also [`Emulator::throttle_next`]).
    pub throttle_first: u64,
    /// Test-only: answer these errors for requests holding these types (see [`Refusal`]);
    /// the only way to provoke the item errors a validating client never causes.
    pub refuse: Vec<Refusal>,
    /// Connections served at once (at least 1). Further ones are not accepted until one
    /// closes: they wait in the kernel's accept backlog, so a client sees a slow answer rather
    /// than a refused or reset connection. Each served connection may buffer one request body
    /// of up to [`MAX_REQUEST_BODY_BYTES`], so this also bounds that memory.
    pub max_connections: usize,
    /// A connection that has not sent a complete header block this long after the emulator
    /// started waiting for one is closed without an answer. This is also what frees the slot
    /// of a client that opens a connection and sends nothing, or keeps one idle.
    pub header_read_timeout: Duration,
    /// A request whose body has not fully arrived this long after its headers is answered
    /// HTTP 408 and its connection closed.
    pub body_read_timeout: Duration,
    /// Bytes of request bodies held in memory at once, across all connections. A request
    /// whose body does not fit is read to its end without being kept and answered HTTP 503
    /// `SlowDown`; what a request holds is given back once it is answered.
    pub max_buffered_bytes: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            credentials: vec![(
                DEMO_ACCESS_KEY_ID.to_owned(),
                DEMO_SECRET_ACCESS_KEY.to_owned(),
            )],
            known_instances: None,
            max_custom_types: DEFAULT_MAX_CUSTOM_TYPES,
            max_item_bytes: DEFAULT_MAX_ITEM_BYTES,
            max_node_bytes: DEFAULT_MAX_NODE_BYTES,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
            throttle_tps: None,
            parameter_tps: None,
            fail_rate: 0.0,
            latency: Duration::ZERO,
            drop_rate: 0.0,
            throttle_first: 0,
            refuse: Vec::new(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
        }
    }
}

impl EmulatorConfig {
    fn check(&self) -> Result<(), EmulatorError> {
        let bad = |why: String| Err(EmulatorError::InvalidConfig(why));
        if self.credentials.is_empty() {
            return bad("at least one access key pair is needed".into());
        }
        if let Some((key, _)) = self
            .credentials
            .iter()
            .find(|(k, s)| k.is_empty() || s.is_empty())
        {
            return bad(format!("access key '{key}' has an empty id or secret"));
        }
        for (name, p) in [("fail_rate", self.fail_rate), ("drop_rate", self.drop_rate)] {
            if !(0.0..=1.0).contains(&p) {
                return bad(format!("{name} must be between 0 and 1, not {p}"));
            }
        }
        if let Some(tps) = self.throttle_tps
            && !(tps.is_finite() && tps > 0.0)
        {
            return bad(format!("throttle_tps must be a positive number, not {tps}"));
        }
        if let Some(tps) = self.parameter_tps
            && !(tps.is_finite() && tps > 0.0)
        {
            return bad(format!(
                "parameter_tps must be a positive number, not {tps}"
            ));
        }
        if self.max_connections == 0 {
            return bad("max_connections must be at least 1".into());
        }
        if self.max_buffered_bytes == 0 {
            return bad("max_buffered_bytes must be at least 1".into());
        }
        for (name, d) in [
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
        ] {
            if d.is_zero() {
                return bad(format!("{name} must be longer than zero"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("emulator: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("emulator: cannot read the local address of the listener bound for {addr}: {source}")]
    LocalAddr {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "emulator: refusing to listen on {addr}: it is not a loopback address \
         (pass --allow-remote to listen there anyway)"
    )]
    NotLoopback { addr: SocketAddr },
    #[error("emulator: invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("emulator: cannot read --secret-key-file {}: {source}", path.display())]
    SecretKeyFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl EmulatorError {
    /// 2 for a usage or configuration error, 1 for a runtime failure, as for every command
    /// (docs/ARCHITECTURE.md, "Module map").
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::NotLoopback { .. } | Self::InvalidConfig(_) | Self::SecretKeyFile { .. } => 2,
            Self::Bind { .. } | Self::LocalAddr { .. } => 1,
        }
    }
}

/// A running emulator. Dropping it stops accepting connections; [`Emulator::shutdown`] also
/// waits for in-flight requests.
pub struct Emulator {
    addr: SocketAddr,
    service: Arc<service::Service>,
    token: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Binds and spawns the accept loop on the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        config.check()?;
        let listen = config.listen;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::LocalAddr {
                addr: listen,
                source,
            })?;
        let service = Arc::new(service::Service::new(config));
        let token = CancellationToken::new();
        let task = tokio::spawn(server::accept_loop(
            listener,
            service.clone(),
            token.clone(),
        ));
        tracing::info!(%addr, "emulator listening");
        Ok(Emulator {
            addr,
            service,
            token,
            task: Some(task),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to give the SDK (`endpoint_url`) or the AWS CLI (`--endpoint-url`).
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> Stats {
        self.service.stats()
    }

    /// What is stored for one node and type, as ListInventoryEntries would show it.
    pub fn stored(&self, instance_id: &str, type_name: &str) -> Option<StoredItem> {
        self.service.stored(instance_id, type_name)
    }

    /// Every signed PutInventory request still remembered (the last [`RECENT_BODY_SIZES`]),
    /// oldest first, with the types it held and how it was answered.
    pub fn recent_puts(&self) -> Vec<PutRecord> {
        self.service.put_records()
    }

    /// Forgets everything stored, for every node, and the account's custom types: what a
    /// client sees when the service has lost or expired its inventory. Counters are kept.
    pub fn clear_store(&self) {
        self.service.clear_store();
    }

    /// Throttles the next `n` API calls, then lets calls through again: an outage that ends.
    pub fn throttle_next(&self, n: u64) {
        self.service.faults.throttle_next(n);
    }

    /// Refuses `access_key_id` from now on, as the service refuses an expired key
    /// (`ExpiredTokenException`): rotated credentials whose old key stops working.
    pub fn revoke_access_key(&self, access_key_id: &str) {
        self.service.revoke_access_key(access_key_id);
    }

    /// Stores a new version of a parameter, as PutParameter with `Overwrite` would; returns
    /// its version.
    ///
    /// # Panics
    ///
    /// When the emulator refuses the value (a bad name, an empty or oversized value): this is
    /// a test's own setup, so a refusal is a mistake in the test, not an outcome to handle.
    pub fn put_parameter(&self, name: &str, parameter_type: &str, value: &str) -> i64 {
        let body = serde_json::json!({
            "Name": name, "Type": parameter_type, "Value": value, "Overwrite": true,
        });
        match self.service.put_parameter(body.to_string().as_bytes()) {
            Ok(answer) => answer["Version"].as_i64().unwrap_or(0),
            Err(e) => panic!("the emulator refused a test's parameter {name}: {e:?}"),
        }
    }

    /// From now on GetParameter of `name`, and GetParameters naming it, answer
    /// AccessDeniedException, as for a node whose identity lacks `ssm:GetParameter` on it.
    pub fn deny_parameter(&self, name: &str) {
        self.service.deny_parameter(name);
    }

    /// GetParameter and GetParameters calls answered so far (throttled ones are not: they are
    /// in [`Stats::parameter_reads`]).
    pub fn parameter_gets(&self) -> u64 {
        self.service.parameter_gets()
    }

    /// Replaces the refusals in force (see [`EmulatorConfig::refuse`]).
    pub fn set_refusals(&self, refusals: Vec<Refusal>) {
        self.service.set_refusals(refusals);
    }

    /// Stops accepting connections and waits until in-flight requests have been answered.
    pub async fn shutdown(mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::warn!(error = %e, "emulator: accept loop ended abnormally");
        }
    }
}

/// Checks a PutInventory request body against the emulator's stateless rules (everything
/// but hashes, type counts and node totals), as the service would before storing anything.
/// Lets `once --dry-run` output be checked by an oracle that shares no code with the daemon.
pub fn check_request_body(body: &[u8]) -> Result<(), String> {
    rules::check_put_inventory(
        body,
        rules::RuleConfig {
            max_item_bytes: usize::MAX,
            known_instances: None,
        },
    )
    .map(|_| ())
    .map_err(|e| format!("{}: {}", e.code.name(), e.message))
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

#[cfg(test)]
mod tests;
