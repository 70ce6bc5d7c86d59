//! Who this node is, and the client that speaks for it: looked up at start, retried with
//! backoff while unknown (a node registered after boot, the metadata service not up yet),
//! looked up at once when the SSM Agent's registration appears, and the credentials chosen
//! anew when the service refuses them.

use std::time::{Duration, SystemTime};

use aws_sdk_ssm::Client;
use tokio::time::Instant;

use crate::aws::{self, ClientOptions, CredentialsSource};
use crate::backoff::Backoff;
use crate::config::AgentSettings;
use crate::identity::{self, Identity};

/// Identity discovery is retried from this delay, doubling, up to five minutes.
const RETRY: Backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(300));

#[derive(Debug)]
pub struct IdentityResolver {
    sources: identity::Sources,
    identity: Option<Identity>,
    failures: u32,
    retry_at: Option<Instant>,
    /// Modification time of the SSM Agent's registration, as last seen while waiting for an
    /// identity.
    registration_stamp: Option<SystemTime>,
    client: Option<Client>,
    /// Why there is no client although the identity is known (no root certificates), as
    /// told to the operator; tried again at each push attempt.
    client_error: Option<String>,
    /// Where `client` takes its credentials from, for logs and `status`.
    credentials_source: CredentialsSource,
}

impl IdentityResolver {
    /// A resolver that looks the identity up at `now`.
    pub fn new(sources: identity::Sources, now: Instant) -> IdentityResolver {
        IdentityResolver {
            sources,
            identity: None,
            failures: 0,
            retry_at: Some(now),
            registration_stamp: None,
            client: None,
            client_error: None,
            credentials_source: CredentialsSource::DefaultChain,
        }
    }

    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// The instance ID, or "" while unknown (which gives the splay a fixed slot too).
    pub fn instance_id(&self) -> &str {
        self.identity
            .as_ref()
            .map_or("", |i| i.instance_id.as_str())
    }

    pub fn client(&self) -> Option<&Client> {
        self.client.as_ref()
    }

    pub fn credentials_source(&self) -> &CredentialsSource {
        &self.credentials_source
    }

    /// When to look the identity up next, while it is unknown.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Forgets the identity and client (a reload changed what they come from); they are looked
    /// up again at once.
    pub fn forget(&mut self, now: Instant) {
        self.identity = None;
        self.client = None;
        self.retry_at = Some(now);
    }

    /// Looks the identity up and, when found, builds the client for it. On failure the next
    /// attempt is scheduled with backoff and the error returned, for systemd's STATUS.
    pub async fn resolve(
        &mut self,
        agent: &AgentSettings,
        now: Instant,
    ) -> Result<&Identity, identity::IdentityError> {
        let resolved = identity::resolve(
            agent.instance_id.as_deref(),
            agent.region.as_deref(),
            &self.sources,
        )
        .await;
        match resolved {
            Ok(identity) => {
                tracing::info!(
                    instance_id = %identity.instance_id,
                    region = %identity.region,
                    source = %identity.source,
                    "identity resolved"
                );
                let options = self.client_options(agent, &identity);
                self.connect(&options).await;
                self.credentials_source = aws::credentials_source(&options);
                tracing::info!(credentials = %self.credentials_source, "credentials chosen");
                self.failures = 0;
                self.retry_at = None;
                Ok(self.identity.insert(identity))
            }
            Err(e) => {
                self.failures += 1;
                let wait = RETRY.ceiling(self.failures);
                tracing::error!("{e}; trying again in {}", humantime::format_duration(wait));
                self.retry_at = Some(now + wait);
                Err(e)
            }
        }
    }

    /// After refused or missing credentials: if where they should come from has changed
    /// (the SSM Agent wrote its identity runtime configuration after the client was built,
    /// say on an instance registered with Default Host Management after boot), a new client
    /// takes them from there.
    pub async fn choose_credentials_again(&mut self, agent: &AgentSettings) {
        let Some(identity) = &self.identity else {
            return;
        };
        let options = self.client_options(agent, identity);
        let source = aws::credentials_source(&options);
        if source != self.credentials_source {
            tracing::info!(credentials = %source, "credentials chosen anew");
            self.connect(&options).await;
            self.credentials_source = source;
        }
    }

    /// Looks the identity up at once when the SSM Agent's registration appears or changes,
    /// instead of at the next backoff step (up to five minutes away).
    pub async fn check_registration(&mut self, now: Instant) {
        let mut stamp = None;
        for path in [&self.sources.registration_file, &self.sources.vault_file] {
            if let Ok(modified) = tokio::fs::metadata(path).await.and_then(|m| m.modified()) {
                stamp = stamp.max(Some(modified));
            }
        }
        if stamp.is_some() && stamp != self.registration_stamp {
            tracing::info!("the SSM Agent's registration changed; looking up the identity again");
            self.retry_at = Some(now);
        }
        self.registration_stamp = stamp;
    }

    /// Why there is no client for a known identity, if that is the case.
    pub fn client_error(&self) -> Option<&str> {
        self.client_error.as_deref()
    }

    /// Tries to build the client again when the identity is known but the client could not
    /// be built (no root certificates): cheap while they are still missing, so it runs at
    /// every push attempt, and a CA bundle installed since is used without a restart.
    pub async fn connect_again(&mut self, agent: &AgentSettings) {
        if self.client.is_some() {
            return;
        }
        let Some(identity) = &self.identity else {
            return;
        };
        let options = self.client_options(agent, identity);
        self.connect(&options).await;
    }

    /// Builds the client; a failure is logged when it is new and kept for STATUS.
    async fn connect(&mut self, options: &ClientOptions) {
        match aws::connect(options).await {
            Ok(client) => {
                if self.client_error.take().is_some() {
                    tracing::info!("root certificates found; pushing again");
                }
                self.client = Some(client);
            }
            Err(e) => {
                let text = e.to_string();
                if self.client_error.as_deref() != Some(text.as_str()) {
                    tracing::error!("{text}");
                }
                self.client = None;
                self.client_error = Some(text);
            }
        }
    }

    fn client_options(&self, agent: &AgentSettings, identity: &Identity) -> ClientOptions {
        ClientOptions::for_node(agent, &identity.region, &self.sources)
    }
}
