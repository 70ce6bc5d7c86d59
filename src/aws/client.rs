//! Builds the aws-sdk-ssm client.
//!
//! Retries: the SDK's own retry layer is turned off here, deliberately. The sender retries
//! transient failures per request with its own backoff (see `sender::retry`), because it must also
//! react to item-level errors between attempts; leaving the SDK's three attempts on as well
//! would multiply every backoff step by three and hide throttling from the sender.
//! Timeouts: each attempt is bounded so a hung connection becomes a transient failure the
//! sender can retry, instead of a push that never ends.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_sdk_ssm::Client;
use aws_sdk_ssm::config::Region;

use super::agent_credentials::AgentCredentials;
use super::credentials::{CredentialsSource, credentials_source};
use super::options::ClientOptions;

/// Bound on one PutInventory attempt, connection included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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
