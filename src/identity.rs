//! Which node this is (instance ID) and where its SSM lives (region).
//!
//! Explicit configuration wins. Otherwise a hybrid node is known by the SSM Agent's
//! registration (the agent writes it when the node is activated), any managed node by the
//! agent's identity runtime configuration, and an EC2 instance by its instance metadata over
//! IMDSv2. IMDS is asked last because off EC2 it costs timeouts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::ssm_agent::{AgentFileError, AgentPaths, IdentityRuntimeConfig, Registration};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub instance_id: String,
    pub region: String,
    /// Where the instance ID came from, for logs and `status`.
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "cannot tell this node's instance ID: set [agent] instance_id, or register the node with the SSM Agent ({tried})"
    )]
    NoInstanceId { tried: String },
    #[error(
        "cannot tell the region for instance {instance_id}: set [agent] region or AWS_REGION ({tried})"
    )]
    NoRegion { instance_id: String, tried: String },
    #[error("instance ID `{value}` from {source_name} is not a managed node ID (i-… or mi-…)")]
    BadInstanceId { value: String, source_name: String },
}

/// Where to look; tests point these at fixtures and at a fake metadata server.
#[derive(Debug, Clone)]
pub struct Sources {
    pub registration_file: PathBuf,
    pub vault_file: PathBuf,
    /// Ask EC2 instance metadata (IMDSv2). Off when `AWS_EC2_METADATA_DISABLED=true`.
    pub imds: bool,
    /// Overrides the metadata endpoint (`AWS_EC2_METADATA_SERVICE_ENDPOINT` works too).
    pub imds_endpoint: Option<String>,
    /// The SSM Agent's identity runtime configuration: an instance ID, and where the agent
    /// shares its credentials (see `aws::agent_credentials`).
    pub identity_runtime_config: PathBuf,
    /// Credentials are named by the environment (`AWS_ACCESS_KEY_ID`, `AWS_PROFILE` or
    /// `AWS_SHARED_CREDENTIALS_FILE`): they then win over the agent's. A field for the same
    /// reason as `env_region`.
    pub env_credentials: bool,
    /// The region of the AWS environment (`AWS_REGION`, else `AWS_DEFAULT_REGION`), used when
    /// neither the configuration nor the node's own registration or metadata names one. A
    /// field rather than read inside [`resolve`] so that tests do not depend on the
    /// environment they happen to run in.
    pub env_region: Option<String>,
    /// Fixed keys (ID and secret) instead of any credential chain: for a daemon run inside a
    /// test's own process, which must not depend on that process's environment. Never set on
    /// a node.
    pub static_credentials: Option<(String, String)>,
}

impl Default for Sources {
    fn default() -> Self {
        let agent = AgentPaths::from_env();
        Sources {
            registration_file: agent.registration_file,
            vault_file: agent.vault_file,
            imds: !env_flag("AWS_EC2_METADATA_DISABLED"),
            imds_endpoint: None,
            identity_runtime_config: agent.identity_runtime_config,
            env_credentials: [
                "AWS_ACCESS_KEY_ID",
                "AWS_PROFILE",
                "AWS_SHARED_CREDENTIALS_FILE",
            ]
            .iter()
            .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty())),
            env_region: ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty())),
            static_credentials: None,
        }
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// `(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)`
pub fn is_instance_id(value: &str) -> bool {
    let word = |s: &str, lens: &[usize]| {
        lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if let Some(rest) = value.strip_prefix("mi-") {
        word(rest, &[17])
    } else if let Some(rest) = value.strip_prefix("i-") {
        word(rest, &[8, 17])
    } else {
        false
    }
}

/// `us-east-1`, `us-gov-west-1`, `ap-southeast-2`, `cn-north-1`: two letters, one or more
/// lowercase words, then a number.
pub fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    let lower = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    words.len() >= 2
        && words[0].len() == 2
        && words.iter().all(lower)
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Resolves the identity: explicit values first, then registration, then IMDSv2.
///
/// The region, in order: configuration; the region the node's identity came with (a hybrid
/// node exists only in the region it was activated in, an EC2 instance only in its own, so
/// an unrelated `AWS_REGION` in the daemon's environment must not send its inventory
/// elsewhere); the AWS environment ([`Sources::env_region`]); last, instance metadata.
pub async fn resolve(
    instance_id: Option<&str>,
    region: Option<&str>,
    sources: &Sources,
) -> Result<Identity, IdentityError> {
    let explicit_region = region.filter(|r| !r.is_empty()).map(str::to_string);
    let mut tried = Vec::new();

    let discovered: Option<(String, Option<String>, String)> = match instance_id {
        Some(id) => Some((id.to_string(), None, "configuration".to_string())),
        None => discover(sources, explicit_region.is_none(), &mut tried).await,
    };
    let Some((id, found_region, source)) = discovered else {
        return Err(IdentityError::NoInstanceId {
            tried: tried.join("; "),
        });
    };
    if !is_instance_id(&id) {
        return Err(IdentityError::BadInstanceId {
            value: id,
            source_name: source,
        });
    }
    let asked_imds = source == IMDS_SOURCE;
    let found_region = found_region.filter(|r| !r.is_empty());
    let region = match explicit_region
        .or(found_region)
        .or_else(|| sources.env_region.clone())
    {
        Some(region) => region,
        None if asked_imds => {
            return Err(IdentityError::NoRegion {
                instance_id: id,
                tried: tried.join("; "),
            });
        }
        None => {
            // Nothing named the region: only IMDS can still say.
            match imds_region(sources, &mut tried).await {
                Some(region) => region,
                None => {
                    return Err(IdentityError::NoRegion {
                        instance_id: id,
                        tried: tried.join("; "),
                    });
                }
            }
        }
    };
    Ok(Identity {
        instance_id: id,
        region,
        source,
    })
}

/// How an identity found in instance metadata is labelled.
const IMDS_SOURCE: &str = "EC2 instance metadata";

async fn discover(
    sources: &Sources,
    want_region: bool,
    tried: &mut Vec<String>,
) -> Option<(String, Option<String>, String)> {
    if let Some(r) = read_off_thread(&sources.registration_file, Registration::read, tried).await {
        let source = sources.registration_file.display().to_string();
        return Some((r.instance_id, r.region, source));
    }
    if let Some(r) = read_off_thread(&sources.vault_file, Registration::read_vault, tried).await {
        return Some((
            r.instance_id,
            r.region,
            sources.vault_file.display().to_string(),
        ));
    }
    match tokio::task::spawn_blocking({
        let path = sources.identity_runtime_config.clone();
        move || IdentityRuntimeConfig::read(&path)
    })
    .await
    {
        Ok(Ok(config)) if !config.instance_id.is_empty() => {
            return Some((
                config.instance_id,
                None,
                sources.identity_runtime_config.display().to_string(),
            ));
        }
        Ok(Ok(_)) => tried.push(format!(
            "{} names no InstanceId",
            sources.identity_runtime_config.display()
        )),
        Ok(Err(e)) => tried.push(e.to_string()),
        Err(e) => tried.push(format!(
            "reading the identity runtime configuration failed: {e}"
        )),
    }
    let client = imds_client(sources, tried)?;
    match client.get("/latest/meta-data/instance-id").await {
        Ok(id) => {
            let region = if want_region {
                identity_document_region(&client, imds_endpoint(sources), tried).await
            } else {
                None
            };
            Some((String::from(id), region, IMDS_SOURCE.to_string()))
        }
        Err(e) => {
            tried.push(format!(
                "EC2 instance metadata: {}",
                imds_failure(imds_endpoint(sources), &e)
            ));
            None
        }
    }
}

/// Reads one of the agent's files on a blocking thread; a failure is noted in `tried`.
async fn read_off_thread<T: Send + 'static>(
    path: &Path,
    read: fn(&Path) -> Result<T, AgentFileError>,
    tried: &mut Vec<String>,
) -> Option<T> {
    let path = path.to_path_buf();
    let shown = path.display().to_string();
    match tokio::task::spawn_blocking(move || read(&path)).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            tried.push(e.to_string());
            None
        }
        Err(e) => {
            tried.push(format!("{shown}: {e}"));
            None
        }
    }
}

fn imds_client(sources: &Sources, tried: &mut Vec<String>) -> Option<aws_config::imds::Client> {
    if !sources.imds {
        tried.push("EC2 instance metadata: disabled (AWS_EC2_METADATA_DISABLED)".into());
        return None;
    }
    let mut builder = aws_config::imds::Client::builder();
    // Plain HTTP, but through the daemon's own client: the SDK's default one reads the
    // system's root certificates as it is built, and panics in a debug build without any.
    // This one reads none for plain HTTP.
    match crate::aws::tls::http_client(crate::aws::tls::Trust::WhenNeeded) {
        Ok(http) => {
            builder = builder.configure(
                &aws_config::provider_config::ProviderConfig::without_region()
                    .with_http_client(http),
            );
        }
        Err(e) => tracing::debug!("{e}; instance metadata uses the SDK's default client"),
    }
    let mut builder = builder
        .max_attempts(2)
        .connect_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(2));
    if let Some(endpoint) = &sources.imds_endpoint {
        builder = match builder.endpoint(endpoint) {
            Ok(b) => b,
            Err(e) => {
                tried.push(format!(
                    "EC2 instance metadata endpoint `{endpoint}` is invalid: {e}"
                ));
                return None;
            }
        };
    }
    Some(builder.build())
}

/// Where instance metadata is asked, for messages.
fn imds_endpoint(sources: &Sources) -> &str {
    sources
        .imds_endpoint
        .as_deref()
        .unwrap_or("http://169.254.169.254")
}

async fn imds_region(sources: &Sources, tried: &mut Vec<String>) -> Option<String> {
    let client = imds_client(sources, tried)?;
    identity_document_region(&client, imds_endpoint(sources), tried).await
}

async fn identity_document_region(
    client: &aws_config::imds::Client,
    endpoint: &str,
    tried: &mut Vec<String>,
) -> Option<String> {
    #[derive(Deserialize)]
    struct Document {
        region: String,
    }
    match client
        .get("/latest/dynamic/instance-identity/document")
        .await
    {
        Ok(doc) => match serde_json::from_str::<Document>(doc.as_ref()) {
            Ok(d) => Some(d.region),
            Err(e) => {
                tried.push(format!("instance identity document is malformed: {e}"));
                None
            }
        },
        Err(e) => {
            tried.push(format!(
                "instance identity document: {}",
                imds_failure(endpoint, &e)
            ));
            None
        }
    }
}

/// An instance metadata failure in one sentence: an answer from the service as it said it,
/// anything on the way there in the words of every other SDK failure (see `aws::error`).
fn imds_failure(endpoint: &str, error: &aws_config::imds::client::error::ImdsError) -> String {
    use aws_config::imds::client::error::ImdsError;
    tracing::debug!(error = ?error, "instance metadata failed");
    match error {
        ImdsError::ErrorResponse(_) => error.to_string(),
        _ => crate::aws::error::explain_chain(error, endpoint),
    }
}

#[cfg(test)]
mod tests;
