//! Access to AWS: the one SSM client that delivery, identity resolution, the fleet poller and
//! `validate --fleet` share, and where its credentials come from.
//!
//! [`options`] says what a client is built from, [`credentials`] chooses its credentials
//! (fixed keys, what the operator named, the SSM Agent's shared credentials, or the SDK's
//! default chain), [`agent_credentials`] reads the SSM Agent's shared credentials as an SDK
//! provider, [`error`] tells an SDK failure in one sentence, [`tls`] reads the root
//! certificates and makes the HTTP client on them, and [`client`] builds the client with the
//! sender's retry and timeout rules.

pub mod agent_credentials;
pub mod client;
pub mod credentials;
pub mod error;
pub mod options;
pub mod tls;

pub use client::{ATTEMPT_TIMEOUT, ClientError, build, connect};
pub use credentials::{CredentialsSource, credentials_source};
pub use options::ClientOptions;
