//! Builds the aws-sdk-ssm client.
//!
//! Retries: the SDK's own retry layer is turned off here, deliberately. The sender retries
//! transient failures per request with its own backoff (see `retry`), because it must also
//! react to item-level errors between attempts; leaving the SDK's three attempts on as well
//! would multiply every backoff step by three and hide throttling from the sender.
//! Timeouts: each attempt is bounded so a hung connection becomes a transient failure the
//! sender can retry, instead of a push that never ends.

use std::path::PathBuf;
use std::time::Duration;

use aws_config::identity::IdentityCache;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_sdk_ssm::Client;
use aws_sdk_ssm::config::Region;

use super::agent_credentials::AgentCredentials;
use crate::config::AgentSettings;
use crate::identity::Sources;

/// Bound on one PutInventory attempt, connection included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and as whom to call SSM.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    pub region: String,
    /// Overrides the endpoint; `AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL` work without it.
    pub endpoint_url: Option<String>,
    /// A named profile of the shared config and credentials files.
    pub profile: Option<String>,
    /// A credentials file other than `~/.aws/credentials` (hybrid nodes keep theirs elsewhere).
    pub credentials_file: Option<PathBuf>,
    /// Fixed keys, for the demo and tests: when set, no credential chain runs at all.
    pub static_credentials: Option<(String, String)>,
    /// The SSM Agent's identity runtime configuration, used for credentials when nothing
    /// explicit names them and the file exists.
    pub agent_identity_config: Option<PathBuf>,
    /// The environment names credentials (`AWS_ACCESS_KEY_ID`, `AWS_PROFILE`,
    /// `AWS_SHARED_CREDENTIALS_FILE`).
    pub env_credentials: bool,
}

impl ClientOptions {
    /// The options of a managed node's client: its configuration, its region, and what the
    /// environment and the SSM Agent offer.
    pub fn for_node(agent: &AgentSettings, region: &str, sources: &Sources) -> ClientOptions {
        ClientOptions {
            region: region.to_string(),
            endpoint_url: agent.endpoint_url.clone(),
            profile: agent.profile.clone(),
            credentials_file: agent.credentials_file.clone(),
            static_credentials: None,
            agent_identity_config: Some(sources.identity_runtime_config.clone()),
            env_credentials: sources.env_credentials,
        }
    }
}

/// Where a client's credentials come from. In order of precedence: fixed keys (demo and
/// tests); what the operator named (`profile`, `credentials_file`, the environment); the SSM
/// Agent's shared credentials, when its identity runtime configuration exists; the SDK's
/// default chain (environment, shared profile, instance role last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsSource {
    Static,
    Profile(String),
    CredentialsFile(PathBuf),
    Environment,
    SsmAgent(PathBuf),
    DefaultChain,
}

impl std::fmt::Display for CredentialsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialsSource::Static => write!(f, "fixed keys"),
            CredentialsSource::Profile(p) => write!(f, "profile `{p}` ([agent] profile)"),
            CredentialsSource::CredentialsFile(p) => {
                write!(f, "{} ([agent] credentials_file)", p.display())
            }
            CredentialsSource::Environment => write!(
                f,
                "the environment (AWS_ACCESS_KEY_ID, AWS_PROFILE or AWS_SHARED_CREDENTIALS_FILE)"
            ),
            CredentialsSource::SsmAgent(p) => {
                write!(
                    f,
                    "the SSM Agent's shared credentials (per {})",
                    p.display()
                )
            }
            CredentialsSource::DefaultChain => write!(
                f,
                "the AWS SDK's default chain (environment, shared profile, instance role)"
            ),
        }
    }
}

/// Decides where the credentials come from; see [`CredentialsSource`].
pub fn credentials_source(options: &ClientOptions) -> CredentialsSource {
    if options.static_credentials.is_some() {
        CredentialsSource::Static
    } else if let Some(profile) = &options.profile {
        CredentialsSource::Profile(profile.clone())
    } else if let Some(path) = &options.credentials_file {
        CredentialsSource::CredentialsFile(path.clone())
    } else if options.env_credentials {
        CredentialsSource::Environment
    } else if let Some(path) = options
        .agent_identity_config
        .as_ref()
        .filter(|p| p.exists())
    {
        CredentialsSource::SsmAgent(path.clone())
    } else {
        CredentialsSource::DefaultChain
    }
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build()
}

/// Builds a client. With static credentials nothing is looked up (no environment, no
/// profile, no instance metadata); otherwise the SDK's default chain runs as for every AWS
/// tool, with the region given explicitly.
pub async fn build(options: &ClientOptions) -> Client {
    let region = Region::new(options.region.clone());
    if let Some((key, secret)) = &options.static_credentials {
        let mut builder = aws_sdk_ssm::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region)
            .credentials_provider(Credentials::new(key, secret, None, None, "static"))
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts());
        if let Some(url) = &options.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        return Client::from_conf(builder.build());
    }

    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts());
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(path) = &options.credentials_file {
        loader = loader.profile_files(
            EnvConfigFiles::builder()
                .include_default_config_file(true)
                .with_file(EnvConfigFileKind::Credentials, path)
                .build(),
        );
    }
    if let CredentialsSource::SsmAgent(path) = credentials_source(options) {
        // No SDK cache: the provider keeps the keys itself and notices a rotated file on the
        // next request, which the SDK's cache would hide until the keys' expiry.
        loader = loader
            .credentials_provider(AgentCredentials::new(path))
            .identity_cache(IdentityCache::no_cache());
    }
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    Client::new(&loader.load().await)
}
