//! Credentials the way the SSM Agent's own workers get them: from the agent's identity runtime
//! configuration.
//!
//! On a managed node the agent, not an instance profile, often holds the credentials: on EC2
//! with Default Host Management Configuration it writes the host role's keys to
//! `/var/lib/amazon/ssm/credentials`, on a hybrid node it rotates short-lived keys in root's
//! `~/.aws/credentials`. Either way it records where in
//! `/var/lib/amazon/ssm/runtimeconfig/identity_config.json` (`ShareFile`, `ShareProfile`) and
//! until when the keys are good (`CredentialsExpiresAt`). The SDK's own chain knows nothing of
//! that file, and its profile provider gives such keys no expiry, so rotated keys would only be
//! noticed by chance.
//!
//! This provider reads that file and the keys it names, keeps them until the agent's own
//! refresh point (ten minutes before `CredentialsExpiresAt`, plus up to a minute of jitter) or
//! until either file changes, whichever comes first, and reports `CredentialsExpiresAt` as
//! their expiry. The client that uses it runs without the SDK's identity cache: a change of
//! either file (a rotation, or keys the service just refused) is then seen on the very next
//! request, which is what lets the sender retry a refused request at once with new keys.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ssm_agent::{AgentFileError, IdentityRuntimeConfig, read_agent_file};

/// How long before `CredentialsExpiresAt` the keys are read again, as the agent's workers do.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(600);
/// Up to this much is added to [`REFRESH_BEFORE_EXPIRY`], so a fleet does not reread at once.
const REFRESH_JITTER_SECS: u64 = 60;
const PROVIDER_NAME: &str = "SsmAgentSharedCredentials";

#[derive(Debug, thiserror::Error)]
pub enum AgentCredentialsError {
    /// The identity runtime configuration itself: missing, unreadable or malformed.
    #[error(transparent)]
    RuntimeConfig(#[from] AgentFileError),
    #[error("the SSM Agent's identity runtime configuration {} names no ShareFile", path.display())]
    NoShareFile { path: PathBuf },
    #[error(
        "the SSM Agent's shared credentials in {} expired at {expired_at} (retrieved at {retrieved_at}, per {}); the agent has not renewed them",
        share_file.display(), config.display()
    )]
    Expired {
        config: PathBuf,
        share_file: PathBuf,
        expired_at: String,
        retrieved_at: String,
    },
    #[error("cannot read the SSM Agent's shared credentials {}: {source}", path.display())]
    ReadShareFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the SSM Agent's shared credentials {} have no profile [{profile}] with aws_access_key_id and aws_secret_access_key",
        path.display()
    )]
    NoKeys { path: PathBuf, profile: String },
}

/// What the provider last read, and what it was read from.
#[derive(Debug, Clone)]
struct Cached {
    credentials: Credentials,
    share_file: PathBuf,
    /// The identity config and the share file as they were when read.
    config_stamp: FileStamp,
    share_stamp: FileStamp,
    refresh_at: SystemTime,
}

/// Enough of a file's metadata to tell that it was replaced or rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    ino: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        ino: meta.ino(),
    })
}

/// The SSM Agent's shared credentials as an SDK credentials provider.
#[derive(Debug)]
pub struct AgentCredentials {
    config_path: PathBuf,
    cached: Mutex<Option<Cached>>,
}

impl AgentCredentials {
    pub fn new(config_path: impl Into<PathBuf>) -> AgentCredentials {
        AgentCredentials {
            config_path: config_path.into(),
            cached: Mutex::new(None),
        }
    }

    /// Returns the keys, reading the files again only when they changed or the refresh point
    /// has passed. Blocking file I/O of two small files; see [`ProvideCredentials`] below.
    fn load(&self, now: SystemTime) -> Result<Credentials, AgentCredentialsError> {
        let config_stamp = stamp(&self.config_path);
        if let Ok(guard) = self.cached.lock()
            && let Some(cached) = guard.as_ref()
            && Some(cached.config_stamp) == config_stamp
            && stamp(&cached.share_file) == Some(cached.share_stamp)
            && now < cached.refresh_at
        {
            return Ok(cached.credentials.clone());
        }
        let config = IdentityRuntimeConfig::read(&self.config_path)?;
        if config.share_file.is_empty() {
            return Err(AgentCredentialsError::NoShareFile {
                path: self.config_path.clone(),
            });
        }
        let share_file = PathBuf::from(&config.share_file);
        let expires_at = config
            .credentials_expires_at
            .as_deref()
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
        if let Some(expires_at) = expires_at
            && SystemTime::from(expires_at) <= now
        {
            return Err(AgentCredentialsError::Expired {
                config: self.config_path.clone(),
                share_file,
                expired_at: config.credentials_expires_at.clone().unwrap_or_default(),
                retrieved_at: config
                    .credentials_retrieved_at
                    .clone()
                    .unwrap_or_else(|| "an unknown time".into()),
            });
        }
        let share_stamp = stamp(&share_file);
        let text = read_agent_file(&share_file)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .map_err(|source| AgentCredentialsError::ReadShareFile {
                path: share_file.clone(),
                source,
            })?;
        let keys =
            profile_keys(&text, config.profile()).ok_or_else(|| AgentCredentialsError::NoKeys {
                path: share_file.clone(),
                profile: config.profile().to_string(),
            })?;
        let expiry = expires_at.map(SystemTime::from);
        let credentials = Credentials::new(
            keys.access_key_id,
            keys.secret_access_key,
            keys.session_token,
            expiry,
            PROVIDER_NAME,
        );
        let refresh_at = match expiry {
            Some(expiry) => {
                let jitter = Duration::from_secs(rand::random::<u64>() % REFRESH_JITTER_SECS);
                let early = expiry
                    .checked_sub(REFRESH_BEFORE_EXPIRY + jitter)
                    .unwrap_or(now);
                // Already inside the window: use them until they expire, as the agent does.
                if early <= now { expiry } else { early }
            }
            // No expiry given: only a change of either file makes them stale.
            None => now + Duration::from_secs(86_400 * 365),
        };
        if let (Some(config_stamp), Some(share_stamp), Ok(mut guard)) =
            (config_stamp, share_stamp, self.cached.lock())
        {
            *guard = Some(Cached {
                credentials: credentials.clone(),
                share_file,
                config_stamp,
                share_stamp,
                refresh_at,
            });
        }
        Ok(credentials)
    }
}

impl ProvideCredentials for AgentCredentials {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        // Two small local files, read only when they changed: cheaper than a hop to a
        // blocking thread.
        let result = self
            .load(SystemTime::now())
            .map_err(|e| CredentialsError::provider_error(e.to_string()));
        provider::future::ProvideCredentials::ready(result)
    }
}

struct Keys {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

/// The keys of `[profile]` in a shared credentials file (`key = value` lines; `#` and `;`
/// start comments).
fn profile_keys(text: &str, profile: &str) -> Option<Keys> {
    let mut in_profile = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = name.trim() == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let value = value.trim().to_string();
            match key.trim() {
                "aws_access_key_id" => id = Some(value),
                "aws_secret_access_key" => secret = Some(value),
                "aws_session_token" => token = Some(value).filter(|t| !t.is_empty()),
                _ => {}
            }
        }
    }
    Some(Keys {
        access_key_id: id.filter(|v| !v.is_empty())?,
        secret_access_key: secret.filter(|v| !v.is_empty())?,
        session_token: token,
    })
}

#[cfg(test)]
mod tests;
