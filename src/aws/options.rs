//! What a client is built from: the region, the endpoint and where its credentials come from.

use std::path::PathBuf;

use crate::config::AgentSettings;
use crate::identity::Sources;

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
            static_credentials: sources.static_credentials.clone(),
            agent_identity_config: Some(sources.identity_runtime_config.clone()),
            env_credentials: sources.env_credentials,
        }
    }
}
