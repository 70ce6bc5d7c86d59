//! Identity (docs/ARCHITECTURE.md, "Identity and credentials"): explicit configuration, the SSM Agent's hybrid registration, its
//! vault copy, then EC2 instance metadata over IMDSv2 — and a clear error when none says.
//!
//! Instance metadata is a fake IMDSv2 server on 127.0.0.1 written here: `PUT
//! /latest/api/token` hands out a token, and every `GET` without that token in
//! `x-aws-ec2-metadata-token` is answered 401, so a successful lookup proves the token
//! handshake was made.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use ssm_inventoryd::emulator::EmulatorConfig;
use ssm_inventoryd::identity::{self, IdentityError, Sources};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const TOKEN: &str = "AQAEAFakeTokenForTests==";
const EC2_ID: &str = "i-0fedcba9876543210";
const HYBRID_ID: &str = "mi-0123456789abcdef0";

/// One request the fake metadata server saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    token: Option<String>,
    status: u16,
}

struct FakeImds {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeImds {
    /// Serves `instance-id` and an identity document naming `region`.
    async fn start(region: &str) -> FakeImds {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let document = serde_json::json!({
            "accountId": "123456789012",
            "architecture": "x86_64",
            "availabilityZone": format!("{region}a"),
            "instanceId": EC2_ID,
            "instanceType": "t3.micro",
            "region": region,
        })
        .to_string();
        let log = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                let document = document.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, &log, &document).await;
                });
            }
        });
        FakeImds { addr, seen, task }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeImds {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers requests on one connection (keep-alive), one at a time.
async fn serve(
    stream: tokio::net::TcpStream,
    log: &Mutex<Vec<Seen>>,
    document: &str,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut token = None;
        let mut ttl = None;
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).await?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim().to_owned();
                match name.to_ascii_lowercase().as_str() {
                    "x-aws-ec2-metadata-token" => token = Some(value),
                    "x-aws-ec2-metadata-token-ttl-seconds" => ttl = Some(value),
                    "content-length" => length = value.parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;

        let (status, text) = match (method.as_str(), path.as_str()) {
            ("PUT", "/latest/api/token") if ttl.is_some() => (200, TOKEN.to_owned()),
            ("PUT", "/latest/api/token") => (400, String::new()),
            ("GET", _) if token.as_deref() != Some(TOKEN) => (401, String::new()),
            ("GET", "/latest/meta-data/instance-id") => (200, EC2_ID.to_owned()),
            ("GET", "/latest/dynamic/instance-identity/document") => (200, document.to_owned()),
            _ => (404, String::new()),
        };
        log.lock().unwrap().push(Seen {
            method,
            path,
            token,
            status,
        });
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            _ => "Not Found",
        };
        let mut response = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n",
            text.len()
        );
        if status == 200 && text == TOKEN {
            response.push_str("x-aws-ec2-metadata-token-ttl-seconds: 21600\r\n");
        }
        response.push_str("\r\n");
        response.push_str(&text);
        write.write_all(response.as_bytes()).await?;
    }
}

fn no_files(dir: &std::path::Path) -> Sources {
    Sources {
        registration_file: dir.join("registration"),
        vault_file: dir.join("Vault/Store/RegistrationKey"),
        imds: false,
        imds_endpoint: None,
        identity_runtime_config: dir.join("runtimeconfig/identity_config.json"),
        env_credentials: false,
        env_region: None,
        static_credentials: None,
    }
}

/// An EC2 instance under Default Host Management Configuration: no registration, metadata
/// not asked; the SSM Agent's identity runtime configuration names the instance.
#[tokio::test]
async fn the_agents_identity_runtime_config_gives_the_instance_id() {
    let dir = tempfile::tempdir().unwrap();
    let sources = Sources {
        env_region: Some("sa-east-1".into()),
        ..no_files(dir.path())
    };
    std::fs::create_dir_all(sources.identity_runtime_config.parent().unwrap()).unwrap();
    std::fs::write(
        &sources.identity_runtime_config,
        format!(
            r#"{{"SchemaVersion":"1.1","InstanceId":"{EC2_ID}","IdentityType":"EC2","ShareFile":"/var/lib/amazon/ssm/credentials","ShareProfile":"","CredentialsExpiresAt":"2099-01-01T00:00:00Z"}}"#
        ),
    )
    .unwrap();
    let id = identity::resolve(None, None, &sources).await.unwrap();
    assert_eq!(
        (id.instance_id.as_str(), id.region.as_str()),
        (EC2_ID, "sa-east-1")
    );
    assert_eq!(
        id.source,
        sources.identity_runtime_config.display().to_string()
    );
    // The registration, when there is one, comes first.
    std::fs::write(
        &sources.registration_file,
        format!(r#"{{"ManagedInstanceID":"{HYBRID_ID}","Region":"eu-west-3"}}"#),
    )
    .unwrap();
    let id = identity::resolve(None, None, &sources).await.unwrap();
    assert_eq!(id.instance_id, HYBRID_ID);
}

#[tokio::test]
async fn hybrid_registration_gives_mi_id_and_its_region() {
    let dir = tempfile::tempdir().unwrap();
    let sources = no_files(dir.path());
    std::fs::write(
        &sources.registration_file,
        format!(r#"{{"ManagedInstanceID":"{HYBRID_ID}","Region":"eu-west-3"}}"#),
    )
    .unwrap();

    let id = identity::resolve(None, None, &sources).await.unwrap();
    assert_eq!(id.instance_id, HYBRID_ID);
    assert_eq!(id.region, "eu-west-3");
    assert_eq!(id.source, sources.registration_file.display().to_string());

    // The node's own region beats an unrelated AWS_REGION in the environment…
    let with_env = Sources {
        env_region: Some("us-east-1".into()),
        ..sources.clone()
    };
    let id = identity::resolve(None, None, &with_env).await.unwrap();
    assert_eq!(id.region, "eu-west-3");
    // …and explicit configuration beats both.
    let id = identity::resolve(Some("i-0123abcd"), Some("ap-south-1"), &with_env)
        .await
        .unwrap();
    assert_eq!(
        (id.instance_id.as_str(), id.region.as_str()),
        ("i-0123abcd", "ap-south-1")
    );
    assert_eq!(id.source, "configuration");
    println!("registration → {HYBRID_ID} in eu-west-3");
}

#[tokio::test]
async fn vault_copy_is_read_when_the_registration_file_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let sources = no_files(dir.path());
    std::fs::create_dir_all(sources.vault_file.parent().unwrap()).unwrap();
    std::fs::write(
        &sources.vault_file,
        format!(
            r#"{{"instanceID":"{HYBRID_ID}","privateKey":"x","privateKeyType":"Rsa","region":"ca-central-1"}}"#
        ),
    )
    .unwrap();
    let id = identity::resolve(None, None, &sources).await.unwrap();
    assert_eq!(id.instance_id, HYBRID_ID);
    assert_eq!(id.region, "ca-central-1");
}

#[tokio::test]
async fn imdsv2_gives_i_id_and_region_from_the_identity_document() {
    let imds = FakeImds::start("eu-central-1").await;
    let dir = tempfile::tempdir().unwrap();
    let sources = Sources {
        imds: true,
        imds_endpoint: Some(imds.endpoint()),
        ..no_files(dir.path())
    };
    let id = identity::resolve(None, None, &sources).await.unwrap();
    assert_eq!(id.instance_id, EC2_ID);
    assert_eq!(id.region, "eu-central-1");
    assert_eq!(id.source, "EC2 instance metadata");

    let seen = imds.seen();
    assert!(
        seen.iter().any(|s| s.method == "PUT" && s.status == 200),
        "a session token was requested: {seen:?}"
    );
    let gets: Vec<&Seen> = seen.iter().filter(|s| s.method == "GET").collect();
    for path in [
        "/latest/meta-data/instance-id",
        "/latest/dynamic/instance-identity/document",
    ] {
        assert!(gets.iter().any(|s| s.path == path), "{path}: {seen:?}");
    }
    assert!(
        gets.iter()
            .all(|s| s.token.as_deref() == Some(TOKEN) && s.status == 200),
        "every GET carried the token: {seen:?}"
    );
    // The fake really insists on the token (so the lookup above proves IMDSv2 was used).
    let (status, _) = raw_get(imds.addr, "/latest/meta-data/instance-id").await;
    assert_eq!(status, 401);
    println!(
        "IMDSv2 → {EC2_ID} in eu-central-1 ({} requests)",
        seen.len()
    );
}

/// A GET without a token, straight over TCP.
async fn raw_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut buf = vec![0; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn nothing_to_go_on_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let sources = no_files(dir.path());
    let err = identity::resolve(None, None, &sources).await.unwrap_err();
    assert!(matches!(err, IdentityError::NoInstanceId { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("set [agent] instance_id"), "{text}");
    assert!(
        text.contains(&sources.registration_file.display().to_string()),
        "{text}"
    );
    assert!(
        text.contains(&sources.vault_file.display().to_string()),
        "{text}"
    );
    assert!(text.contains("instance metadata: disabled"), "{text}");
    assert!(!text.contains('\n'), "one line: {text}");
    println!("{text}");

    // Metadata enabled but nobody answering: still an error that says so.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let unreachable = Sources {
        imds: true,
        imds_endpoint: Some(format!("http://{addr}")),
        ..sources.clone()
    };
    let err = identity::resolve(None, None, &unreachable)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("EC2 instance metadata:"), "{err}");
}

#[tokio::test]
async fn malformed_or_foreign_registration_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let sources = no_files(dir.path());
    std::fs::write(&sources.registration_file, "{not json").unwrap();
    let err = identity::resolve(None, None, &sources).await.unwrap_err();
    assert!(err.to_string().contains("is malformed"), "{err}");

    std::fs::write(
        &sources.registration_file,
        r#"{"ManagedInstanceID":"mi-123","Region":"us-east-1"}"#,
    )
    .unwrap();
    let err = identity::resolve(None, None, &sources).await.unwrap_err();
    assert!(
        matches!(err, IdentityError::BadInstanceId { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("mi-123"), "{err}");

    // An ID without any region anywhere names the region as the problem.
    std::fs::write(
        &sources.registration_file,
        format!(r#"{{"ManagedInstanceID":"{HYBRID_ID}"}}"#),
    )
    .unwrap();
    let err = identity::resolve(None, None, &sources).await.unwrap_err();
    assert!(matches!(err, IdentityError::NoRegion { .. }), "{err:?}");
}

/// A registration that is not one of the agent's small files (a huge or endless file put
/// there) is refused after 64 KiB, not read whole into memory.
#[tokio::test]
async fn an_oversized_registration_is_not_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let sources = no_files(dir.path());
    let padding = " ".repeat(100 * 1024);
    std::fs::write(
        &sources.registration_file,
        format!(r#"{{"ManagedInstanceID":"{HYBRID_ID}","Region":"us-east-1"}}{padding}"#),
    )
    .unwrap();
    let err = identity::resolve(None, None, &sources).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("larger than 64 KiB, which no SSM Agent file is"),
        "{err}"
    );
}

#[tokio::test]
async fn once_without_identity_exits_2_with_one_line() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::new(&emu);
    node.instance_id = "auto".into();
    node.probe("stage", "Custom:StageInfo", r#"{"Stage":"PreProd"}"#);
    // `region = "us-east-1"` stays explicit; only the instance ID is unknown.
    let out = node.once(&[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with("error: cannot tell this node's instance ID"),
        "{stderr}"
    );
    assert!(errors[0].contains("AWS_EC2_METADATA_DISABLED"), "{stderr}");
    assert_eq!(emu.stats().requests, 0, "nothing was sent");
    println!("{}", errors[0]);
}

#[tokio::test]
async fn once_finds_an_ec2_identity_through_the_metadata_endpoint_variable() {
    let imds = FakeImds::start("eu-central-1").await;
    let emu = emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::new(&emu);
    node.instance_id = "auto".into();
    node.probe("stage", "Custom:StageInfo", r#"{"Stage":"PreProd"}"#);
    // Region "auto" too: both come from the metadata server.
    let text = std::fs::read_to_string(node.config_path())
        .unwrap()
        .replace("region = \"us-east-1\"", "region = \"auto\"");
    std::fs::write(node.config_path(), text).unwrap();

    let mut cmd = node.command(&["once"]);
    cmd.env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint());
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{EC2_ID} (eu-central-1, EC2 instance metadata)")),
        "{stdout}"
    );
    assert!(emu.stored(EC2_ID, "Custom:StageInfo").is_some());
    assert!(imds.seen().iter().any(|s| s.method == "PUT"));
    print!("{stdout}");
}

/// `SSM_INVENTORYD_SSM_AGENT_DIR` points the binary at another SSM Agent directory (an agent
/// installed elsewhere; these tests): its registration gives the node's identity.
#[tokio::test]
async fn once_reads_the_agent_directory_the_environment_names() {
    let emu = emulator::start(EmulatorConfig::default()).await;
    let mut node = Node::new(&emu);
    node.instance_id = "auto".into();
    node.probe("stage", "Custom:StageInfo", r#"{"Stage":"PreProd"}"#);
    let agent_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        agent_dir.path().join("registration"),
        format!(r#"{{"ManagedInstanceID":"{HYBRID_ID}","Region":"us-east-1"}}"#),
    )
    .unwrap();
    let mut cmd = node.command(&["once"]);
    cmd.env(
        ssm_inventoryd::ssm_agent::SSM_AGENT_DIR_ENV,
        agent_dir.path(),
    );
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(emu.stored(HYBRID_ID, "Custom:StageInfo").is_some());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&agent_dir.path().join("registration").display().to_string()),
        "{stdout}"
    );
}
