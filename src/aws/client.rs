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
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use super::agent_credentials::AgentCredentials;
use super::credentials::{CredentialsSource, credentials_source};
use super::options::ClientOptions;
use super::tls::{self, NoRootCertificates, TlsSetupError, Trust};

/// Bound on one PutInventory attempt, connection included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build()
}

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    NoRoots(#[from] NoRootCertificates),
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
}

/// Whether requests go over HTTPS: the service's own endpoints always do; an `endpoint_url`
/// of `http://` (the emulator on loopback) does not.
pub fn needs_roots(options: &ClientOptions) -> bool {
    options
        .endpoint_url
        .as_deref()
        .is_none_or(|url| !url.trim().to_ascii_lowercase().starts_with("http://"))
}

/// Builds the client the node uses, refusing to when its endpoint needs TLS and the system
/// has no root certificates: every request would fail with a handshake error, so the
/// operator is told that instead, in one sentence. Reads the roots anew at each call, so a
/// bundle installed since the last call is found.
pub async fn connect(options: &ClientOptions) -> Result<Client, ClientError> {
    let trust = if needs_roots(options) {
        Trust::Roots(tls::load()?)
    } else {
        Trust::WhenNeeded
    };
    let http = tls::http_client(trust)?;
    Ok(assemble(options, Some(http)).await)
}

/// Builds a client whatever the roots: they are read at its first request that needs TLS,
/// and without them HTTPS fails at each request (`demo`, and tests against the emulator over
/// HTTP, which read none).
pub async fn build(options: &ClientOptions) -> Client {
    match tls::http_client(Trust::WhenNeeded) {
        Ok(http) => assemble(options, Some(http)).await,
        Err(e) => {
            tracing::warn!("{e}; using the SDK's default HTTPS client");
            assemble(options, None).await
        }
    }
}

/// A client on `http` (see [`tls::http_client`]). With static credentials nothing is looked
/// up (no environment, no profile, no instance metadata); otherwise the SDK's default chain
/// runs as for every AWS tool, with the region given explicitly, and its own calls (STS,
/// instance metadata) go through `http` too.
async fn assemble(options: &ClientOptions, http: Option<SharedHttpClient>) -> Client {
    let region = Region::new(options.region.clone());
    if let Some((key, secret)) = &options.static_credentials {
        let mut builder = aws_sdk_ssm::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region)
            .credentials_provider(Credentials::new(key, secret, None, None, "static"))
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts());
        if let Some(http) = http {
            builder = builder.http_client(http);
        }
        if let Some(url) = &options.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        return Client::from_conf(builder.build());
    }

    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts());
    if let Some(http) = http {
        loader = loader.http_client(http);
    }
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
