//! The SSM Agent's own files: where it keeps them and how they are read.
//!
//! On a managed node the SSM Agent already knows what this daemon needs: a hybrid node's
//! registration (instance ID and region, written when the node was activated) and the
//! identity runtime configuration (instance ID, and where the agent shares its credentials).
//! Both identity resolution and the credentials chain read them, so they are read here, in
//! one place below both, with one size bound and one set of error messages.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where the SSM Agent keeps its state. `SSM_INVENTORYD_SSM_AGENT_DIR` points elsewhere, for an
/// agent installed with another data directory and for tests.
pub const SSM_AGENT_DIR: &str = "/var/lib/amazon/ssm";
pub const SSM_AGENT_DIR_ENV: &str = "SSM_INVENTORYD_SSM_AGENT_DIR";
/// Where the SSM Agent records a hybrid activation, under its directory.
const REGISTRATION_FILE: &str = "registration";
/// The agent's vault copy of the same registration, for agents that keep only that.
const VAULT_REGISTRATION_FILE: &str = "Vault/Store/RegistrationKey";
/// The agent's identity runtime configuration (see [`IdentityRuntimeConfig`]).
const IDENTITY_RUNTIME_CONFIG: &str = "runtimeconfig/identity_config.json";

/// The SSM Agent's small JSON files are a few hundred bytes; anything past this is not one
/// of them, and is not read into memory.
pub const MAX_AGENT_FILE_BYTES: u64 = 64 * 1024;

/// The paths of the agent's files, under its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPaths {
    pub registration_file: PathBuf,
    pub vault_file: PathBuf,
    pub identity_runtime_config: PathBuf,
}

impl AgentPaths {
    /// The files under `dir`.
    pub fn under(dir: &Path) -> AgentPaths {
        AgentPaths {
            registration_file: dir.join(REGISTRATION_FILE),
            vault_file: dir.join(VAULT_REGISTRATION_FILE),
            identity_runtime_config: dir.join(IDENTITY_RUNTIME_CONFIG),
        }
    }

    /// The files of the agent on this node: [`SSM_AGENT_DIR`], unless [`SSM_AGENT_DIR_ENV`]
    /// names another directory.
    pub fn from_env() -> AgentPaths {
        let dir = std::env::var_os(SSM_AGENT_DIR_ENV)
            .filter(|dir| !dir.is_empty())
            .map_or_else(|| PathBuf::from(SSM_AGENT_DIR), PathBuf::from);
        AgentPaths::under(&dir)
    }
}

/// Why one of the agent's files could not be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum AgentFileError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is malformed: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error("cannot read the SSM Agent's identity runtime configuration {}: {source}", path.display())]
    ReadRuntimeConfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the SSM Agent's identity runtime configuration {} is malformed: {reason}", path.display())]
    MalformedRuntimeConfig { path: PathBuf, reason: String },
}

/// Reads a file of at most [`MAX_AGENT_FILE_BYTES`]; a larger one is an error saying so.
pub fn read_agent_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_AGENT_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_AGENT_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} KiB, which no SSM Agent file is",
            MAX_AGENT_FILE_BYTES / 1024
        )));
    }
    Ok(bytes)
}

/// A hybrid node's activation: its instance ID and, when the agent recorded it, its region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub instance_id: String,
    pub region: Option<String>,
}

/// `registration`, as the agent writes it.
#[derive(Deserialize)]
struct RegistrationFile {
    #[serde(rename = "ManagedInstanceID")]
    instance_id: String,
    #[serde(rename = "Region", default)]
    region: Option<String>,
}

/// `Vault/Store/RegistrationKey`: the same facts, spelled differently.
#[derive(Deserialize)]
struct VaultRegistrationFile {
    #[serde(rename = "instanceID")]
    instance_id: String,
    #[serde(default)]
    region: Option<String>,
}

impl Registration {
    /// Reads the agent's `registration` file. Blocking: the caller chooses the thread.
    pub fn read(path: &Path) -> Result<Registration, AgentFileError> {
        let file: RegistrationFile = read_json(path)?;
        Ok(Registration {
            instance_id: file.instance_id,
            region: file.region,
        })
    }

    /// Reads the agent's vault copy of the registration. Blocking.
    pub fn read_vault(path: &Path) -> Result<Registration, AgentFileError> {
        let file: VaultRegistrationFile = read_json(path)?;
        Ok(Registration {
            instance_id: file.instance_id,
            region: file.region,
        })
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, AgentFileError> {
    let bytes = read_agent_file(path).map_err(|source| AgentFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| AgentFileError::Malformed {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The parts of `identity_config.json` this daemon uses: the instance ID, and where and until
/// when the agent shares its credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdentityRuntimeConfig {
    #[serde(default)]
    pub instance_id: String,
    #[serde(default)]
    pub identity_type: String,
    #[serde(default)]
    pub share_file: String,
    #[serde(default)]
    pub share_profile: String,
    #[serde(default)]
    pub credentials_expires_at: Option<String>,
    #[serde(default)]
    pub credentials_retrieved_at: Option<String>,
}

impl IdentityRuntimeConfig {
    /// Reads and parses the file; errors name it. Blocking.
    pub fn read(path: &Path) -> Result<IdentityRuntimeConfig, AgentFileError> {
        let bytes = read_agent_file(path).map_err(|source| AgentFileError::ReadRuntimeConfig {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| AgentFileError::MalformedRuntimeConfig {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// `ShareProfile`, or `default` when the agent left it empty.
    pub fn profile(&self) -> &str {
        if self.share_profile.is_empty() {
            "default"
        } else {
            &self.share_profile
        }
    }
}
