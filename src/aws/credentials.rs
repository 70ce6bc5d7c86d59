//! Which credentials a client uses. The choice is made here, from the options alone, so that
//! the daemon can tell (and `status` show) where its credentials come from without building a
//! client.

use std::path::PathBuf;

use super::options::ClientOptions;

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
