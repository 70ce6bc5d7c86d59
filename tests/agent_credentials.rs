//! Credentials and identity from the SSM Agent's identity runtime configuration, against the
//! emulator: an EC2 node under Default Host Management (no instance profile, no metadata
//! asked), a hybrid node whose keys are rotated under the running daemon, expired keys, and
//! the one immediate retry after a refusal. The daemon runs in this process on a paused clock
//! (`common::daemon`), with the agent's files as its identity sources.

mod common;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials};
use common::daemon::Daemon;
use common::{INSTANCE, Node, Pusher, REGION, wait_for};
use ssm_inventoryd::aws::{self as client, ClientOptions};
use ssm_inventoryd::emulator::{
    DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, Emulator, EmulatorConfig,
};
use ssm_inventoryd::identity::Sources;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;

const SECOND_KEY_ID: &str = "AKIAROTATEDKEY000002";
const SECOND_SECRET: &str = "rotated/secret/key/for/the/second/pair00";
/// Room for a loaded machine; not a speed target.
const SLACK: Duration = Duration::from_secs(10);

fn two_keys() -> EmulatorConfig {
    EmulatorConfig {
        credentials: vec![
            (DEMO_ACCESS_KEY_ID.into(), DEMO_SECRET_ACCESS_KEY.into()),
            (SECOND_KEY_ID.into(), SECOND_SECRET.into()),
        ],
        ..EmulatorConfig::default()
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

/// A node's SSM Agent files under a temporary root, as the agent lays them out.
struct AgentFiles {
    root: tempfile::TempDir,
}

impl AgentFiles {
    fn new() -> AgentFiles {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("runtimeconfig")).unwrap();
        AgentFiles { root }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }
    fn identity_config(&self) -> PathBuf {
        self.path("runtimeconfig/identity_config.json")
    }
    fn share_file(&self) -> PathBuf {
        self.path("credentials")
    }
    /// Writes the keys, then the runtime configuration, each atomically, as the agent does.
    fn share(&self, key: &str, secret: &str, expires_at: OffsetDateTime) {
        let keys = format!(
            "[default]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\naws_session_token = \n"
        );
        replace(&self.share_file(), &keys);
        let config = format!(
            r#"{{"SchemaVersion":"1.1","InstanceId":"{INSTANCE}","IdentityType":"EC2","ShareFile":"{}","ShareProfile":"","CredentialsExpiresAt":"{}","CredentialsRetrievedAt":"{}","CredentialSource":"SSM"}}"#,
            self.share_file().display(),
            rfc3339(expires_at),
            rfc3339(OffsetDateTime::now_utc()),
        );
        replace(&self.identity_config(), &config);
    }
    fn sources(&self) -> Sources {
        Sources {
            registration_file: self.path("registration"),
            vault_file: self.path("Vault/Store/RegistrationKey"),
            imds: false,
            imds_endpoint: None,
            identity_runtime_config: self.identity_config(),
            env_credentials: false,
            env_region: None,
            static_credentials: None,
        }
    }
}

fn replace(path: &Path, text: &str) {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

/// A daemon node whose identity and credentials come from the agent's files alone: no
/// instance ID in its configuration, a `files` probe with `{"Stage": stage}`. Immediate
/// pushes and short backoff, so that a refused request is retried within a second.
fn node(emu: &Emulator, stage: &str) -> Node {
    let mut node = Node::daemon(emu);
    node.instance_id = "auto".into();
    node.set("min_push_interval", "\"0s\"")
        .set("retry_cap", "\"200ms\"");
    node.set_document("stage", "Custom:Stage", stage);
    node.write_config_with(&node.files_probe_toml("stage", "1s"));
    node
}

fn status(node: &Node) -> String {
    std::fs::read_to_string(node.state_dir().join("status.json")).unwrap_or_default()
}

fn stage(emu: &Emulator) -> Option<String> {
    emu.stored(INSTANCE, "Custom:Stage")
        .and_then(|s| s.content.first().and_then(|r| r.get("Stage").cloned()))
}

/// EC2 with Default Host Management: no instance profile, instance metadata not asked, only
/// the agent's identity runtime configuration and the keys it shares. The node pushes.
#[tokio::test(start_paused = true)]
async fn an_ec2_node_with_only_the_agents_identity_config_pushes() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let agent = AgentFiles::new();
    agent.share(
        DEMO_ACCESS_KEY_ID,
        DEMO_SECRET_ACCESS_KEY,
        OffsetDateTime::now_utc() + time::Duration::hours(1),
    );
    let node = node(&emu, "A");
    let daemon = Daemon::start_with(emu, &node, agent.sources());
    let emu = &daemon.emu;
    wait_for(SLACK, "the first delivery", || {
        stage(emu).as_deref() == Some("A")
    })
    .await;
    wait_for(SLACK, "the status file", || !status(&node).is_empty()).await;
    let status = status(&node);
    assert!(
        status.contains("the SSM Agent's shared credentials")
            && status.contains(&agent.identity_config().display().to_string()),
        "{status}"
    );
    daemon.stop().await;
}

/// A hybrid node's keys are rotated under the running daemon and the old key stops working:
/// the change made meanwhile is delivered with the new keys, without a restart, seconds after
/// the first refused request, and nothing is lost.
#[tokio::test(start_paused = true)]
async fn rotated_keys_are_used_without_a_restart() {
    let emu = common::emulator::start(two_keys()).await;
    let agent = AgentFiles::new();
    let in_an_hour = OffsetDateTime::now_utc() + time::Duration::hours(1);
    agent.share(DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, in_an_hour);
    let node = node(&emu, "A");
    let daemon = Daemon::start_with(emu, &node, agent.sources());
    let emu = &daemon.emu;
    wait_for(SLACK, "the first delivery", || {
        stage(emu).as_deref() == Some("A")
    })
    .await;

    emu.revoke_access_key(DEMO_ACCESS_KEY_ID);
    node.set_document("stage", "Custom:Stage", "B");
    let refused = || {
        emu.stats()
            .errors
            .get("ExpiredTokenException")
            .copied()
            .unwrap_or(0)
    };
    wait_for(SLACK, "a refused request", || refused() > 0).await;
    let first_refusal = Instant::now();
    agent.share(
        SECOND_KEY_ID,
        SECOND_SECRET,
        in_an_hour + time::Duration::hours(1),
    );
    wait_for(SLACK, "the change, with the new keys", || {
        stage(emu).as_deref() == Some("B")
    })
    .await;
    let took = first_refusal.elapsed();
    println!(
        "delivered {took:?} after the first refused request ({} refusals)",
        refused()
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    daemon.stop().await;
}

/// Keys the agent let expire and did not renew: the push fails with one line that names the
/// file and the time, and the items stay pending.
#[tokio::test]
async fn expired_shared_credentials_give_one_clear_line() {
    let emu = common::emulator::start(EmulatorConfig::default()).await;
    let agent = AgentFiles::new();
    let expired = OffsetDateTime::parse("2026-01-01T00:00:00Z", &Rfc3339).unwrap();
    agent.share(DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, expired);
    let client = client::build(&ClientOptions {
        region: REGION.into(),
        endpoint_url: Some(emu.endpoint_url()),
        agent_identity_config: Some(agent.identity_config()),
        ..ClientOptions::default()
    })
    .await;
    let mut pusher = Pusher::new();
    let report = pusher
        .push(&client, &[common::small("Custom:Stage", "A")])
        .await;
    let (type_name, reason) = &report.pending[0];
    assert_eq!(type_name, "Custom:Stage");
    println!("{reason}");
    assert!(!reason.contains('\n'), "one line: {reason}");
    assert!(
        !reason.contains("DispatchFailure"),
        "no debug dump: {reason}"
    );
    assert!(
        reason.contains(&format!(
            "the SSM Agent's shared credentials in {} expired at 2026-01-01T00:00:00Z",
            agent.share_file().display()
        )),
        "{reason}"
    );
    assert_eq!(emu.stats().put_inventory_requests, 0, "nothing was sent");
}

/// Gives out the keys in `queue` one call at a time, then the last one forever: a credentials
/// file rotated between two calls.
#[derive(Debug)]
struct Rotating(Mutex<VecDeque<Credentials>>);

impl ProvideCredentials for Rotating {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let mut queue = self.0.lock().unwrap();
        let next = if queue.len() > 1 {
            queue.pop_front()
        } else {
            queue.front().cloned()
        };
        provider::future::ProvideCredentials::ready(Ok(next.unwrap()))
    }
}

/// A refused request is sent again at once with freshly read keys, before it counts as a
/// failure: with one attempt allowed (as the daemon pushes), the item still goes through.
#[tokio::test]
async fn a_refused_request_is_retried_once_with_fresh_keys() {
    let emu = common::emulator::start(two_keys()).await;
    emu.revoke_access_key(DEMO_ACCESS_KEY_ID);
    let keys = |id: &str, secret: &str| Credentials::new(id, secret, None, None, "test");
    let provider = Rotating(Mutex::new(VecDeque::from([
        keys(DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY),
        keys(SECOND_KEY_ID, SECOND_SECRET),
    ])));
    let config = aws_sdk_ssm::Config::builder()
        .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
        .region(aws_sdk_ssm::config::Region::new(REGION))
        .endpoint_url(emu.endpoint_url())
        .credentials_provider(provider)
        .identity_cache(aws_sdk_ssm::config::IdentityCache::no_cache())
        .retry_config(aws_sdk_ssm::config::retry::RetryConfig::disabled())
        .build();
    let client = aws_sdk_ssm::Client::from_conf(config);
    let mut pusher = Pusher::new();
    pusher.options.retry.max_attempts = Some(1);
    let report = pusher
        .push(&client, &[common::small("Custom:Stage", "A")])
        .await;
    assert_eq!(report.sent_full, ["Custom:Stage"], "{report:?}");
    assert_eq!(report.requests, 2);
    assert_eq!(emu.stats().errors.get("ExpiredTokenException"), Some(&1));
    assert!(!report.credentials_refused);
}
